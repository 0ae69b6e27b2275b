//! Aggregates of a run: per eval and configuration, and per configuration.

use std::collections::BTreeMap;
use std::path::Path;

use litmus_metrics::stats::{pass_at_k, std_dev, summarize, summarize_clustered, Summary};
use serde::{Deserialize, Serialize};

use crate::base::backend::ModelInfo;
use crate::run::store::{ConfigKey, SampleRecord};

/// The seed used for bootstrap confidence intervals in summaries.
pub const BOOTSTRAP_SEED: u64 = 0x6c69_746d_7573;

/// Where a run's wall time went. Model time (from a model loaded to its
/// last answer) is the model's prompt processing, generation and idle time
/// (waiting for work: the harness, the scorers, or nothing); scoring runs on
/// its own threads next to it, so its seconds are summed over them, and the
/// part after a model's last answer (`scoring_tail_secs`) is what it added
/// to the wall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSplit {
    /// Loading models (worker start-up included).
    pub load_secs: f64,
    /// From each model loaded to its last answer, summed over models.
    pub model_secs: f64,
    /// Of `model_secs`, the model evaluating prompts (`None`: the backend
    /// cannot tell, e.g. a remote server).
    pub prompt_secs: Option<f64>,
    /// Of `model_secs`, the model generating tokens.
    pub generation_secs: Option<f64>,
    /// Scoring (sandbox runs, metrics, judge calls), summed over scoring threads.
    pub scoring_secs: f64,
    /// Scoring threads, per model.
    pub scoring_threads: usize,
    /// Wall time after a model's last answer until its last sample was scored.
    pub scoring_tail_secs: f64,
    /// Of `scoring_secs`, judges grading answers (waiting on a judge model
    /// more than using a core), summed over judging threads.
    #[serde(default, skip_serializing_if = "crate::base::util::is_default")]
    pub judging_secs: f64,
    /// Judging threads, per model (0: nothing was judged).
    #[serde(default, skip_serializing_if = "crate::base::util::is_default")]
    pub judging_threads: usize,
}

impl TimeSplit {
    /// Model time in which the model did neither prompts nor generation.
    pub fn idle_secs(&self) -> Option<f64> {
        Some((self.model_secs - self.prompt_secs? - self.generation_secs?).max(0.0))
    }

    /// Adds the figures of another model's part of the run.
    pub fn add(&mut self, o: &TimeSplit) {
        // A part without model time (a failed load) knows nothing of the split.
        let sum = |a: Option<f64>, a_model: f64, b: Option<f64>, b_model: f64| match (a, b) {
            (Some(a), Some(b)) => Some(a + b),
            (None, b) if a_model == 0.0 => b,
            (a, None) if b_model == 0.0 => a,
            _ => None,
        };
        self.prompt_secs = sum(
            self.prompt_secs,
            self.model_secs,
            o.prompt_secs,
            o.model_secs,
        );
        self.generation_secs = sum(
            self.generation_secs,
            self.model_secs,
            o.generation_secs,
            o.model_secs,
        );
        self.load_secs += o.load_secs;
        self.model_secs += o.model_secs;
        self.scoring_secs += o.scoring_secs;
        self.scoring_threads = self.scoring_threads.max(o.scoring_threads);
        self.scoring_tail_secs += o.scoring_tail_secs;
        self.judging_secs += o.judging_secs;
        self.judging_threads = self.judging_threads.max(o.judging_threads);
    }
}

/// Speed figures over a set of samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    /// Prompt tokens in all.
    pub prompt_tokens: u64,
    /// Generated tokens in all.
    pub completion_tokens: u64,
    /// Samples whose backend left out a token count (either): each unknown
    /// count is left out of its total above and of the rates.
    #[serde(default, skip_serializing_if = "crate::base::util::is_default")]
    pub uncounted: u64,
    /// Prompt processing, tokens/s (per sequence, summed time).
    pub prompt_tps: Option<f64>,
    /// Generation, tokens/s (per sequence, summed time).
    pub generation_tps: Option<f64>,
    /// Mean time to first token, ms.
    pub ttft_ms: Option<f64>,
    /// Generated tokens per second of wall time, all sequences together: from
    /// the first request to the last sample scored (scoring included). With
    /// continuous batching this is the throughput; `generation_tps` is the
    /// speed one sequence sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_tps: Option<f64>,
}

impl Speed {
    /// Speed over `records` (errors and cached samples excluded from rates).
    pub fn of<'a>(records: impl IntoIterator<Item = &'a SampleRecord>) -> Speed {
        let mut s = Speed::default();
        let (mut pms, mut pt, mut gms, mut gt) = (0.0, 0u64, 0.0, 0u64);
        let (mut ttft, mut nttft) = (0.0, 0u32);
        let (mut spans, mut generated) = (Vec::new(), 0u64);
        // Greedy samples of one prompt are decoded once and copied: count once.
        let mut decoded = std::collections::HashSet::new();
        for r in records {
            // A failed request has no counts to miss; an unknown count is
            // left out of its total and rates, not added as 0.
            let (prompt, completion) = (r.usage.prompt_tokens, r.usage.completion_tokens);
            if (prompt.is_none() || completion.is_none()) && r.error.is_none() {
                s.uncounted += 1;
            }
            s.prompt_tokens += prompt.map_or(0, u64::from);
            s.completion_tokens += completion.map_or(0, u64::from);
            if r.cached {
                continue;
            }
            if r.at_ms > 0 && r.error.is_none() {
                if let Some(completion) = completion {
                    let end = r.at_ms as f64;
                    spans.push((end - r.timings.total_ms, end));
                    let copy = r.temperature == 0.0
                        && !decoded.insert((&r.eval, &r.response, r.timings.total_ms.to_bits()));
                    if !copy {
                        generated += u64::from(completion);
                    }
                }
            }
            if let (Some(ms), Some(n)) = (r.timings.prompt_ms, prompt) {
                pms += ms;
                pt += u64::from(n);
            }
            if let (Some(ms), Some(n)) = (r.timings.generation_ms, completion) {
                gms += ms;
                gt += u64::from(n);
            }
            if let Some(t) = r.timings.ttft_ms {
                ttft += t;
                nttft += 1;
            }
        }
        s.prompt_tps = (pms > 0.0).then(|| pt as f64 * 1000.0 / pms);
        s.generation_tps = (gms > 0.0).then(|| gt as f64 * 1000.0 / gms);
        s.ttft_ms = (nttft > 0).then(|| ttft / f64::from(nttft));
        // Over the time some sample was being generated: a resumed run's
        // pause between its sessions is not generation time.
        let busy = busy_ms(spans);
        s.throughput_tps = (busy > 0.0 && generated > 0).then(|| generated as f64 * 1000.0 / busy);
        s
    }
}

/// The length of the union of the time spans `(start, end)`, in their unit.
fn busy_ms(mut spans: Vec<(f64, f64)>) -> f64 {
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (start, end) in spans {
        current = match current {
            Some((a, b)) if start <= b => Some((a, b.max(end))),
            Some((a, b)) => {
                total += b - a;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    total + current.map_or(0.0, |(a, b)| b - a)
}

/// How far the answers of one eval under one configuration varied between
/// identical runs, measured by running every sample several times over
/// (`--repeat N`, N ≥ 2).
///
/// Rates are over the sample indices scored in at least two repeats.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RepeatStats {
    /// Repeats with at least one scored sample.
    pub count: u32,
    /// Sample indices compared across repeats.
    pub samples: usize,
    /// Share of sample indices whose score differed between repeats.
    pub flip_rate: f64,
    /// Share of sample indices that passed in some repeats and failed in
    /// others.
    pub pass_flip_rate: f64,
    /// The eval's mean score (0–100) in each repeat, in repeat order.
    pub means: Vec<f64>,
    /// Sample standard deviation of `means`, in points.
    pub mean_sd: f64,
    /// Highest minus lowest of `means`, in points.
    pub mean_range: f64,
    /// How far the eval's score can move between identical runs, in points:
    /// the mean over the compared samples of each one's score range across
    /// the repeats (a sample that scored 100 in one repeat and 0 in another
    /// adds 100 / samples). Any run whose samples score within the ranges the
    /// repeats showed lies within `spread` of any other such run, and of
    /// the mean over the repeats. Score snapshots allow for it (see
    /// [`crate::output::snapshot`]).
    #[serde(default)]
    pub spread: f64,
    /// pass^N: share of sample indices that passed in every repeat.
    pub pass_all: f64,
    /// Share of sample indices that passed in a strict majority of their
    /// repeats (majority vote; a tie fails).
    pub majority_pass: f64,
}

/// One sample's (score, passed) in each repeat that scored it.
type SampleRepeats = [(f64, bool)];

impl RepeatStats {
    /// The statistics of `records` (one eval under one configuration); `None`
    /// when fewer than two repeats were scored.
    ///
    /// ```
    /// use litmus_core::run::summary::RepeatStats;
    /// # use litmus_core::run::store::SampleRecord;
    /// # fn rec(sample: u32, repeat: u32, value: f64) -> SampleRecord {
    /// #     let mut r: SampleRecord = serde_json::from_value(serde_json::json!({
    /// #         "eval": "e", "model": "m", "backend": "replay", "quantization": null,
    /// #         "digest": "", "template": "plain", "temperature": 0.0, "seed": 0,
    /// #         "sample": sample, "repeat": repeat, "prompt": null, "response": null,
    /// #         "score": {"value": value, "passed": value >= 50.0}, "error": null})).unwrap();
    /// #     r
    /// # }
    /// // Sample 0 passes in both repeats, sample 1 only in the first.
    /// let recs = [rec(0, 0, 100.0), rec(1, 0, 100.0), rec(0, 1, 100.0), rec(1, 1, 0.0)];
    /// let s = RepeatStats::of(&recs.iter().collect::<Vec<_>>()).unwrap();
    /// assert_eq!((s.count, s.samples), (2, 2));
    /// assert_eq!((s.flip_rate, s.pass_all, s.majority_pass), (0.5, 0.5, 0.5));
    /// assert_eq!((s.means.clone(), s.mean_range), (vec![100.0, 50.0], 50.0));
    /// assert_eq!(s.spread, 50.0);
    /// ```
    pub fn of(records: &[&SampleRecord]) -> Option<RepeatStats> {
        let mut by_repeat: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
        let mut by_sample: BTreeMap<u32, Vec<(f64, bool)>> = BTreeMap::new();
        for r in records {
            if let Some(s) = r.score.as_ref().filter(|s| s.value.is_finite()) {
                by_repeat.entry(r.repeat).or_default().push(s.value);
                by_sample
                    .entry(r.sample)
                    .or_default()
                    .push((s.value, s.passed));
            }
        }
        if by_repeat.len() < 2 {
            return None;
        }
        let means: Vec<f64> = by_repeat
            .values()
            .map(|v| v.iter().sum::<f64>() / v.len() as f64)
            .collect();
        let lo = means.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let compared: Vec<&Vec<(f64, bool)>> =
            by_sample.values().filter(|v| v.len() >= 2).collect();
        let range = |v: &SampleRepeats| {
            let lo = v.iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
            let hi = v.iter().map(|x| x.0).fold(f64::NEG_INFINITY, f64::max);
            hi - lo
        };
        let share = |pred: &dyn Fn(&SampleRepeats) -> bool| {
            if compared.is_empty() {
                0.0
            } else {
                compared.iter().filter(|v| pred(v)).count() as f64 / compared.len() as f64
            }
        };
        Some(RepeatStats {
            count: by_repeat.len() as u32,
            samples: compared.len(),
            flip_rate: share(&|v| range(v) > 1e-9),
            pass_flip_rate: share(&|v| v.iter().any(|x| x.1) && !v.iter().all(|x| x.1)),
            mean_sd: std_dev(&means),
            mean_range: hi - lo,
            spread: if compared.is_empty() {
                0.0
            } else {
                compared.iter().map(|v| range(v)).sum::<f64>() / compared.len() as f64
            },
            means,
            pass_all: share(&|v| v.iter().all(|x| x.1)),
            majority_pass: share(&|v| 2 * v.iter().filter(|x| x.1).count() > v.len()),
        })
    }

    /// Whether the repeats disagreed: some sample's score differed between
    /// repeats.
    pub fn flaky(&self) -> bool {
        self.flip_rate > 0.0
    }
}

/// One eval under one configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitSummary {
    /// Eval name.
    pub eval: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The configuration.
    pub config: ConfigKey,
    /// Samples scored (with `--repeat`, over all repeats).
    pub scored: usize,
    /// Samples that failed (backend or eval error).
    pub errors: usize,
    /// Score statistics over the scored samples (0–100). With `--repeat`,
    /// each sample's score is first averaged over its repeats, so `n` counts
    /// distinct samples and the interval is not narrowed by repeats (which
    /// are not independent draws).
    pub score: Summary,
    /// Each scored sample's score (averaged over its repeats), in sample
    /// order: what the configuration's and tags' intervals resample within
    /// the eval. Empty in summaries written before litmus recorded them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<f64>,
    /// Fraction of scored samples that passed.
    pub pass_rate: f64,
    /// Mean of each score part.
    pub parts: BTreeMap<String, f64>,
    /// Speed.
    pub speed: Speed,
    /// The first error, if any.
    pub first_error: Option<String>,
    /// The eval's minimum acceptable score.
    pub min_score: Option<f64>,
    /// Wall time the eval took under this configuration, ms.
    pub wall_ms: f64,
    /// Run-to-run agreement, when the samples were run several times over
    /// (`--repeat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<RepeatStats>,
}

impl UnitSummary {
    /// Summarizes the samples of one eval under one configuration.
    pub fn of(records: &[&SampleRecord], min_score: Option<f64>, wall_ms: f64) -> UnitSummary {
        let first = records[0];
        let scored: Vec<f64> = records
            .iter()
            .filter_map(|r| r.score.as_ref().map(|s| s.value))
            .collect();
        // One value per sample index: its mean over the repeats.
        let mut per_sample: BTreeMap<u32, (f64, usize)> = BTreeMap::new();
        for r in records {
            if let Some(s) = &r.score {
                let e = per_sample.entry(r.sample).or_default();
                e.0 += s.value;
                e.1 += 1;
            }
        }
        let per_sample: Vec<f64> = per_sample.values().map(|(v, n)| v / *n as f64).collect();
        let passed = records
            .iter()
            .filter(|r| r.score.as_ref().is_some_and(|s| s.passed))
            .count();
        let mut parts: BTreeMap<String, f64> = BTreeMap::new();
        let mut n_parts: BTreeMap<String, usize> = BTreeMap::new();
        for s in records.iter().filter_map(|r| r.score.as_ref()) {
            for (k, v) in &s.parts {
                *parts.entry(k.clone()).or_default() += v;
                *n_parts.entry(k.clone()).or_default() += 1;
            }
        }
        for (k, v) in parts.iter_mut() {
            *v /= n_parts[k] as f64;
        }
        UnitSummary {
            eval: first.eval.clone(),
            tags: first.tags.clone(),
            config: first.config(),
            scored: scored.len(),
            errors: records.iter().filter(|r| r.error.is_some()).count(),
            score: summarize(&per_sample, BOOTSTRAP_SEED),
            samples: per_sample,
            pass_rate: if scored.is_empty() {
                0.0
            } else {
                passed as f64 / scored.len() as f64
            },
            parts,
            speed: Speed::of(records.iter().copied()),
            first_error: records.iter().find_map(|r| r.error.clone()),
            min_score,
            wall_ms,
            repeats: RepeatStats::of(records),
        }
    }

    /// The eval's scored samples as a cluster for
    /// [`summarize_clustered`]: its sample scores, or its mean where they
    /// were not recorded.
    pub fn cluster(&self) -> Vec<f64> {
        if self.samples.is_empty() {
            vec![self.score.mean]
        } else {
            self.samples.clone()
        }
    }

    /// Whether the eval scored below its minimum.
    pub fn below_min(&self) -> bool {
        self.min_score
            .is_some_and(|m| self.scored > 0 && self.score.mean < m)
    }
}

/// One configuration over all evals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigSummary {
    /// The configuration.
    pub config: ConfigKey,
    /// What the backend reported about the model.
    pub model: Option<ModelInfo>,
    /// Evals run.
    pub evals: usize,
    /// Samples scored.
    pub scored: usize,
    /// Samples failed.
    pub errors: usize,
    /// Statistics over the per-eval mean scores (each eval weighs the same;
    /// the interval resamples evals and, within each, its samples:
    /// [`summarize_clustered`]).
    pub score: Summary,
    /// Unbiased pass@1 averaged over evals (with `--repeat`, each repeat's,
    /// averaged over the repeats).
    pub pass_at_1: f64,
    /// pass@k for k = the most samples any eval had, averaged over the evals
    /// that had that many (pass@k needs k samples; how many in
    /// `pass_at_k_evals`). With `--repeat`, k counts samples, not repeats:
    /// each repeat's pass@k, averaged over the repeats.
    pub pass_at_k: Option<(u64, f64)>,
    /// The evals `pass_at_k` averages over.
    #[serde(default)]
    pub pass_at_k_evals: usize,
    /// Evals whose samples disagree (0 < pass rate < 1).
    pub flaky: usize,
    /// Speed.
    pub speed: Speed,
    /// Run-to-run agreement over the evals run several times over
    /// (`--repeat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<ConfigRepeats>,
}

/// Run-to-run agreement of one configuration: [`RepeatStats`] averaged over
/// its evals (each eval weighs the same).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigRepeats {
    /// Most repeats of any eval.
    pub count: u32,
    /// Evals with repeat statistics.
    pub evals: usize,
    /// Evals whose repeats disagreed (some sample's score differed).
    pub flaky: usize,
    /// Mean of the evals' flip rates.
    pub flip_rate: f64,
    /// Mean of the evals' pass/fail flip rates.
    pub pass_flip_rate: f64,
    /// Mean of the evals' pass^N.
    pub pass_all: f64,
    /// Mean of the evals' majority-vote pass rates.
    pub majority_pass: f64,
}

impl ConfigRepeats {
    /// Averages the repeat statistics of `units`; `None` when none has any.
    pub fn of(units: &[&UnitSummary]) -> Option<ConfigRepeats> {
        let stats: Vec<&RepeatStats> = units.iter().filter_map(|u| u.repeats.as_ref()).collect();
        if stats.is_empty() {
            return None;
        }
        let n = stats.len() as f64;
        let avg = |f: fn(&RepeatStats) -> f64| stats.iter().map(|s| f(s)).sum::<f64>() / n;
        Some(ConfigRepeats {
            count: stats.iter().map(|s| s.count).max().unwrap_or(0),
            evals: stats.len(),
            flaky: stats.iter().filter(|s| s.flaky()).count(),
            flip_rate: avg(|s| s.flip_rate),
            pass_flip_rate: avg(|s| s.pass_flip_rate),
            pass_all: avg(|s| s.pass_all),
            majority_pass: avg(|s| s.majority_pass),
        })
    }
}

impl ConfigSummary {
    /// Summarizes units of one configuration and their records.
    pub fn of(
        config: &ConfigKey,
        units: &[&UnitSummary],
        records: &[&SampleRecord],
        model: Option<ModelInfo>,
    ) -> ConfigSummary {
        let clusters: Vec<Vec<f64>> = units
            .iter()
            .filter(|u| u.scored > 0)
            .map(|u| u.cluster())
            .collect();
        // Each eval's runs of its samples, (scored, passed) per repeat:
        // repeats of a sample are not further samples, so pass@k is each
        // repeat's, averaged over the repeats.
        let mut runs: BTreeMap<(&str, u32), (u64, u64)> = BTreeMap::new();
        for r in records {
            if let Some(s) = &r.score {
                let e = runs.entry((r.eval.as_str(), r.repeat)).or_default();
                e.0 += 1;
                e.1 += u64::from(s.passed);
            }
        }
        let runs_of = |u: &UnitSummary| -> Vec<(u64, u64)> {
            let of_eval: Vec<(u64, u64)> = runs
                .range((u.eval.as_str(), 0)..=(u.eval.as_str(), u32::MAX))
                .map(|(_, &nc)| nc)
                .collect();
            if of_eval.is_empty() {
                // Summaries without their records: the unit's own counts.
                let n = u.scored as u64;
                vec![(n, (u.pass_rate * n as f64).round() as u64)]
            } else {
                of_eval
            }
        };
        let scored_units: Vec<(&&UnitSummary, Vec<(u64, u64)>)> = units
            .iter()
            .filter(|u| u.scored > 0)
            .map(|u| (u, runs_of(u)))
            .collect();
        let kmax = scored_units
            .iter()
            .flat_map(|(_, runs)| runs.iter().map(|&(n, _)| n))
            .max()
            .unwrap_or(0);
        // Each repeat's pass@k (over the repeats with at least k samples).
        let repeat_mean = |runs: &[(u64, u64)], k: u64| -> Option<f64> {
            let v: Vec<f64> = runs
                .iter()
                .filter(|&&(n, _)| n >= k)
                .map(|&(n, c)| pass_at_k(n, c, k))
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let mut p1 = Vec::new();
        let mut pk = Vec::new();
        for (_, runs) in &scored_units {
            p1.extend(repeat_mean(runs, 1));
            if kmax > 1 {
                pk.extend(repeat_mean(runs, kmax));
            }
        }
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        ConfigSummary {
            config: config.clone(),
            model,
            evals: units.len(),
            scored: units.iter().map(|u| u.scored).sum(),
            errors: units.iter().map(|u| u.errors).sum(),
            score: summarize_clustered(&clusters, BOOTSTRAP_SEED),
            pass_at_1: mean(&p1),
            pass_at_k: (!pk.is_empty()).then(|| (kmax, mean(&pk))),
            pass_at_k_evals: pk.len(),
            flaky: units
                .iter()
                .filter(|u| u.pass_rate > 0.0 && u.pass_rate < 1.0)
                .count(),
            speed: Speed::of(records.iter().copied()),
            repeats: ConfigRepeats::of(units),
        }
    }
}

/// Everything a run produced, as written to `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Where the samples are.
    pub run_dir: String,
    /// Per eval and configuration.
    pub units: Vec<UnitSummary>,
    /// Per configuration.
    pub configs: Vec<ConfigSummary>,
    /// Models that failed to load, with the reason.
    pub load_errors: Vec<(String, String)>,
    /// Wall time, ms.
    pub wall_ms: f64,
    /// Samples generated by a backend in this process.
    pub generated: usize,
    /// Samples answered from the cache.
    pub cached: usize,
    /// Requests sent to backends in this process.
    pub backend_requests: usize,
    /// Peak resident memory of the process, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Where the wall time went (`None` in summaries of old runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeSplit>,
}

impl RunSummary {
    /// Builds the summary of `records` (the last record per sample key).
    pub fn build(
        run_id: &str,
        run_dir: &str,
        records: &[SampleRecord],
        min_scores: &BTreeMap<String, f64>,
        models: &BTreeMap<(String, Option<String>), ModelInfo>,
        walls: &BTreeMap<(String, ConfigKey), f64>,
    ) -> RunSummary {
        let mut by_unit: BTreeMap<(ConfigKey, String), Vec<&SampleRecord>> = BTreeMap::new();
        for r in records {
            by_unit
                .entry((r.config(), r.eval.clone()))
                .or_default()
                .push(r);
        }
        let units: Vec<UnitSummary> = by_unit
            .iter()
            .map(|((cfg, eval), recs)| {
                let wall = walls
                    .get(&(eval.clone(), cfg.clone()))
                    .copied()
                    .unwrap_or(0.0);
                UnitSummary::of(recs, min_scores.get(eval).copied(), wall)
            })
            .collect();
        let mut configs = Vec::new();
        let mut cfg_keys: Vec<&ConfigKey> = units.iter().map(|u| &u.config).collect();
        cfg_keys.sort();
        cfg_keys.dedup();
        for cfg in cfg_keys {
            let us: Vec<&UnitSummary> = units.iter().filter(|u| &u.config == cfg).collect();
            let rs: Vec<&SampleRecord> = records.iter().filter(|r| &r.config() == cfg).collect();
            let model = models
                .get(&(cfg.model.clone(), cfg.quantization.clone()))
                .cloned();
            configs.push(ConfigSummary::of(cfg, &us, &rs, model));
        }
        RunSummary {
            run_id: run_id.to_string(),
            run_dir: run_dir.to_string(),
            units,
            configs,
            load_errors: Vec::new(),
            wall_ms: 0.0,
            generated: 0,
            cached: records.iter().filter(|r| r.cached).count(),
            backend_requests: 0,
            peak_rss_bytes: crate::base::util::peak_rss_bytes(),
            time: None,
        }
    }

    /// Evals that errored under some configuration.
    pub fn errored(&self) -> impl Iterator<Item = &UnitSummary> {
        self.units.iter().filter(|u| u.errors > 0)
    }

    /// The summary of the stored run in `dir`, whose samples are `records`
    /// (the last record per sample key, [`crate::run::store::read_run`]):
    /// its `summary.json`, or, when the run ended before writing one, a
    /// summary rebuilt from the samples (without model facts, wall times or
    /// minimum scores; an empty `summary.json`, left by a write that failed,
    /// counts as none). An unreadable `summary.json` is an error.
    pub fn of_stored_run(dir: &Path, records: &[SampleRecord]) -> Result<RunSummary, String> {
        let path = dir.join("summary.json");
        match std::fs::read(&path) {
            Ok(data) if !data.is_empty() => serde_json::from_slice::<RunSummary>(&data)
                .map_err(|e| format!("{}: {e}", path.display())),
            _ => Ok(RunSummary::build(
                &dir.file_name().unwrap_or_default().to_string_lossy(),
                &dir.display().to_string(),
                records,
                &Default::default(),
                &Default::default(),
                &Default::default(),
            )),
        }
    }
}

/// Samples stored in the run directory `dir`, as `(scored, errored)`: what
/// is known of a run that ended before writing its summary. Every whole line
/// of `samples.jsonl` counts (a superseded record too); a torn last line (the
/// process died while writing it) does not.
pub fn stored_counts(dir: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(dir.join("samples.jsonl")).unwrap_or_default();
    let records = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
    let (mut scored, mut errored) = (0, 0);
    for r in records {
        if r["score"].is_null() {
            errored += 1;
        } else {
            scored += 1;
        }
    }
    (scored, errored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::backend::{Timings, Usage};
    use crate::eval::score::Score;

    /// A scored record of sample `sample` in repeat `repeat` (`None`: errored).
    fn rec(sample: u32, repeat: u32, value: Option<f64>) -> SampleRecord {
        SampleRecord {
            eval: "e".into(),
            model: "m".into(),
            backend: "test".into(),
            template: "plain".into(),
            temperature: 0.0,
            seed: 1,
            sample,
            repeat,
            response: Some("x".into()),
            score: value.map(|v| Score {
                value: v,
                passed: v >= 50.0,
                parts: [("p".to_string(), v / 2.0)].into_iter().collect(),
                details: None,
            }),
            error: value.is_none().then(|| "boom".to_string()),
            ..SampleRecord::default()
        }
    }

    /// Records of `scores[repeat][sample]`.
    fn grid(scores: &[&[f64]]) -> Vec<SampleRecord> {
        scores
            .iter()
            .enumerate()
            .flat_map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .map(move |(i, &v)| rec(i as u32, r as u32, Some(v)))
            })
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn repeat_stats_measure_flips_spread_pass_all_and_majority() {
        // 4 samples × 3 repeats. Sample 0 always passes, sample 1 always
        // fails, sample 2 passes twice of three, sample 3 varies in score
        // but always passes.
        let recs = grid(&[
            &[100.0, 0.0, 100.0, 60.0],
            &[100.0, 0.0, 0.0, 80.0],
            &[100.0, 0.0, 100.0, 60.0],
        ]);
        let refs: Vec<&SampleRecord> = recs.iter().collect();
        let s = RepeatStats::of(&refs).unwrap();
        assert_eq!((s.count, s.samples), (3, 4));
        assert!(close(s.flip_rate, 0.5), "samples 2 and 3 flip: {s:?}");
        assert!(
            close(s.pass_flip_rate, 0.25),
            "only sample 2 flips pass/fail"
        );
        assert!(close(s.pass_all, 0.5), "samples 0 and 3 pass every repeat");
        assert!(close(s.majority_pass, 0.75), "0, 2 (2 of 3) and 3");
        assert_eq!(s.means, [65.0, 45.0, 65.0]);
        assert!(close(s.mean_range, 20.0));
        // Ranges 0, 0, 100 and 20 over 4 samples.
        assert!(close(s.spread, 30.0), "{}", s.spread);
        // sd of (65, 45, 65): mean 58.33, ss = 2·44.44 + 177.78 = 266.67, /2 → 11.547
        assert!((s.mean_sd - 11.547).abs() < 1e-3, "{}", s.mean_sd);
        assert!(s.flaky());

        // The unit's score averages each sample over its repeats first: n
        // counts samples, not samples × repeats.
        let u = UnitSummary::of(&refs, None, 0.0);
        assert_eq!(u.scored, 12);
        assert_eq!(u.score.n, 4);
        assert!(close(u.score.mean, 175.0 / 3.0));
        assert!(close(u.pass_rate, 8.0 / 12.0));
        assert_eq!(u.repeats, Some(s));
    }

    #[test]
    fn throughput_counts_the_time_samples_were_generated_not_pauses() {
        // Two samples of 10 tokens, 1 s each, an hour apart (a resumed run).
        let at = |sample: u32, end_ms: u64| SampleRecord {
            at_ms: end_ms,
            temperature: 0.7,
            usage: Usage::counted(1, 10),
            timings: Timings {
                total_ms: 1000.0,
                ..Timings::default()
            },
            ..rec(sample, 0, Some(1.0))
        };
        let recs = [at(0, 10_000), at(1, 3_610_000)];
        let s = Speed::of(recs.iter());
        assert_eq!(s.throughput_tps, Some(10.0));
        assert_eq!(busy_ms(vec![(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)]), 4.0);
    }

    #[test]
    fn unknown_token_counts_are_left_out_not_counted_as_zero() {
        let at = |sample: u32, usage: Usage| SampleRecord {
            at_ms: 1000 * u64::from(sample + 1),
            temperature: 0.7,
            usage,
            timings: Timings {
                prompt_ms: Some(100.0),
                generation_ms: Some(1000.0),
                total_ms: 1000.0,
                ..Timings::default()
            },
            ..rec(sample, 0, Some(1.0))
        };
        let known = Usage::counted(50, 20);
        // A server without `usage`, and Ollama leaving out a cached prompt's count.
        let none = Usage::default();
        let no_prompt = Usage {
            prompt_tokens: None,
            ..known
        };
        let recs = [at(0, known), at(1, none), at(2, no_prompt)];
        let s = Speed::of(recs.iter());
        assert_eq!(s.uncounted, 2);
        assert_eq!((s.prompt_tokens, s.completion_tokens), (50, 40));
        // 20 tokens a second, not (20 + 0 + 20) / 3 s.
        assert_eq!(s.generation_tps, Some(20.0));
        assert_eq!(s.prompt_tps, Some(500.0));
        // A failed sample has no counts to miss.
        let failed = SampleRecord {
            error: Some("timed out".into()),
            ..rec(3, 0, None)
        };
        assert_eq!(Speed::of([&failed]).uncounted, 0);
        // Records written before counts could be unknown read as counted.
        let old: Usage =
            serde_json::from_str(r#"{"prompt_tokens":3,"completion_tokens":0}"#).unwrap();
        assert_eq!(old, Usage::counted(3, 0));
        assert_eq!(serde_json::to_string(&none).unwrap(), "{}");
    }

    #[test]
    fn a_configuration_of_one_eval_has_the_spread_of_its_samples() {
        let recs = grid(&[&[100.0, 0.0]]);
        let refs: Vec<&SampleRecord> = recs.iter().collect();
        let u = UnitSummary::of(&refs, None, 0.0);
        assert_eq!(u.samples, [100.0, 0.0]);
        let c = ConfigSummary::of(&refs[0].config(), &[&u], &refs, None);
        assert_eq!((c.score.n, c.score.mean), (1, 50.0));
        assert!(
            c.score.ci_low == 0.0 && c.score.ci_high == 100.0,
            "not a point: {:?}",
            c.score
        );
        // A summary written before the samples were recorded: the means.
        let old = UnitSummary {
            samples: Vec::new(),
            ..u.clone()
        };
        let c = ConfigSummary::of(&refs[0].config(), &[&old], &refs, None);
        assert_eq!((c.score.ci_low, c.score.ci_high), (50.0, 50.0));
    }

    #[test]
    fn agreeing_repeats_change_nothing_but_the_repeat_stats() {
        let once = grid(&[&[100.0, 0.0, 100.0]]);
        let thrice = grid(&[
            &[100.0, 0.0, 100.0],
            &[100.0, 0.0, 100.0],
            &[100.0, 0.0, 100.0],
        ]);
        let a = UnitSummary::of(&once.iter().collect::<Vec<_>>(), None, 0.0);
        let b = UnitSummary::of(&thrice.iter().collect::<Vec<_>>(), None, 0.0);
        assert_eq!(a.repeats, None, "one repeat has no repeat statistics");
        assert_eq!(a.score, b.score, "same mean and interval");
        assert_eq!(a.pass_rate, b.pass_rate);
        assert_eq!(a.parts, b.parts);
        let r = b.repeats.unwrap();
        assert_eq!(
            (r.count, r.flip_rate, r.mean_sd, r.mean_range, r.spread),
            (3, 0.0, 0.0, 0.0, 0.0)
        );
        assert!(close(r.pass_all, 2.0 / 3.0) && close(r.majority_pass, 2.0 / 3.0));
        assert!(!r.flaky());
    }

    #[test]
    fn errored_repeats_are_left_out_of_the_comparison() {
        // Sample 1 scored only in repeat 0: not compared.
        let recs = [
            rec(0, 0, Some(100.0)),
            rec(1, 0, Some(0.0)),
            rec(0, 1, Some(0.0)),
            rec(1, 1, None),
        ];
        let s = RepeatStats::of(&recs.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!((s.count, s.samples), (2, 1));
        assert_eq!((s.flip_rate, s.pass_all), (1.0, 0.0));
        assert_eq!(s.means, [50.0, 0.0]);
        // A repeat with nothing scored does not count as a repeat.
        let recs = [rec(0, 0, Some(100.0)), rec(0, 1, None)];
        assert_eq!(RepeatStats::of(&recs.iter().collect::<Vec<_>>()), None);
    }

    #[test]
    fn config_repeats_average_over_evals_and_count_flaky_ones() {
        let steady = grid(&[&[100.0, 100.0], &[100.0, 100.0]]);
        let mut flaky = grid(&[&[100.0, 0.0], &[0.0, 0.0]]);
        for r in &mut flaky {
            r.eval = "f".into();
        }
        let a = UnitSummary::of(&steady.iter().collect::<Vec<_>>(), None, 0.0);
        let b = UnitSummary::of(&flaky.iter().collect::<Vec<_>>(), None, 0.0);
        let all: Vec<&SampleRecord> = steady.iter().chain(&flaky).collect();
        let c = ConfigSummary::of(&a.config, &[&a, &b], &all, None);
        let r = c.repeats.unwrap();
        assert_eq!((r.count, r.evals, r.flaky), (2, 2, 1));
        assert!(close(r.flip_rate, 0.25) && close(r.pass_all, 0.5));
        assert_eq!(
            c.pass_at_k.map(|p| p.0),
            Some(2),
            "k counts samples, not repeats"
        );
        let plain = ConfigSummary::of(&a.config, &[], &[], None);
        assert_eq!(plain.repeats, None);
        // Without repeats, summary.json has no `repeats` key at all.
        let json = serde_json::to_value(&plain).unwrap();
        assert!(json.get("repeats").is_none());
    }

    /// pass@k of one configuration over units built from `evals`: each
    /// eval's records of `scores[repeat][sample]`.
    fn pass_at(evals: &[(&str, &[&[f64]])]) -> (f64, Option<(u64, f64)>, usize) {
        let records: Vec<Vec<SampleRecord>> = evals
            .iter()
            .map(|(name, scores)| {
                let mut rs = grid(scores);
                for r in &mut rs {
                    r.eval = name.to_string();
                }
                rs
            })
            .collect();
        let units: Vec<UnitSummary> = records
            .iter()
            .map(|rs| UnitSummary::of(&rs.iter().collect::<Vec<_>>(), None, 0.0))
            .collect();
        let all: Vec<&SampleRecord> = records.iter().flatten().collect();
        let refs: Vec<&UnitSummary> = units.iter().collect();
        let c = ConfigSummary::of(&units[0].config, &refs, &all, None);
        (c.pass_at_1, c.pass_at_k, c.pass_at_k_evals)
    }

    #[test]
    fn pass_at_k_with_repeats_is_each_repeats_averaged() {
        // One sample, run twice: passed once. pass@1 is 0.5, not a rounded
        // count of 1 of 1.
        assert_eq!(pass_at(&[("e", &[&[100.0], &[0.0]])]).0, 0.5);
        // Three samples × two repeats (passes per sample 2, 1, 0).
        let (p1, pk, _) = pass_at(&[("e", &[&[100.0, 100.0, 0.0], &[100.0, 0.0, 0.0]])]);
        assert!(close(p1, 0.5), "{p1}");
        // pass@3 of 3 samples: 1 in either repeat (one passed in each).
        assert_eq!(pk, Some((3, 1.0)));
        // Without repeats, the plain estimator.
        let (p1, pk, n) = pass_at(&[("e", &[&[100.0, 0.0, 0.0, 0.0]])]);
        assert_eq!((p1, pk, n), (0.25, Some((4, 1.0)), 1));
        let (_, pk, _) = pass_at(&[("e", &[&[100.0, 0.0, 0.0, 0.0, 0.0]])]);
        assert!(close(pk.unwrap().1, 1.0));
        let (_, pk, _) = pass_at(&[("e", &[&[0.0, 100.0, 0.0, 0.0, 0.0, 0.0]])]);
        assert!(close(pk.unwrap().1, 1.0));
    }

    #[test]
    fn pass_at_k_says_which_evals_it_averages() {
        // e: 1 of 1 sample passed; f: 0 of 4. pass@4 needs four samples:
        // only f has them, and the summary says so.
        let (p1, pk, n) = pass_at(&[("e", &[&[100.0]]), ("f", &[&[0.0, 0.0, 0.0, 0.0]])]);
        assert_eq!((p1, pk, n), (0.5, Some((4, 0.0)), 1));
        let (p1, pk, n) = pass_at(&[
            ("e", &[&[100.0, 0.0]]),
            ("f", &[&[0.0, 0.0]]),
            ("g", &[&[100.0, 100.0]]),
        ]);
        assert!(close(p1, 0.5));
        assert_eq!(n, 3);
        assert!(close(pk.unwrap().1, 2.0 / 3.0));
    }

    #[test]
    fn stored_counts_counts_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.jsonl");
        assert_eq!(stored_counts(dir.path()), (0, 0));
        std::fs::write(
            &path,
            "{\"score\": {\"value\": 1}}\n{\"score\": null, \"error\": \"boom\"}\n{\"score\": {\"va",
        )
        .unwrap();
        assert_eq!(stored_counts(dir.path()), (1, 1));
    }

    #[test]
    fn a_stored_run_without_a_summary_is_summarized_from_its_samples() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r7");
        std::fs::create_dir_all(&run).unwrap();
        let records = vec![rec(0, 0, Some(100.0)), rec(1, 0, None)];
        let s = RunSummary::of_stored_run(&run, &records).unwrap();
        assert_eq!((s.run_id.as_str(), s.units.len()), ("r7", 1));
        assert_eq!(s.units[0].errors, 1);
        // Empty: what a failed write leaves; the samples still summarize.
        std::fs::write(run.join("summary.json"), "").unwrap();
        assert_eq!(
            RunSummary::of_stored_run(&run, &records).unwrap().units,
            s.units
        );
        std::fs::write(run.join("summary.json"), "{").unwrap();
        assert!(RunSummary::of_stored_run(&run, &records)
            .unwrap_err()
            .contains("summary.json"));
    }
}
