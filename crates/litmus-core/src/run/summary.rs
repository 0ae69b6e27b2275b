//! Aggregates of a run: per eval and configuration, and per configuration.

use std::collections::BTreeMap;

use litmus_metrics::stats::{pass_at_k, summarize, Summary};
use serde::{Deserialize, Serialize};

use crate::base::backend::ModelInfo;
use crate::run::store::{ConfigKey, SampleRecord};

/// The seed used for bootstrap confidence intervals in summaries.
pub const BOOTSTRAP_SEED: u64 = 0x6c69_746d_7573;

/// Speed figures over a set of samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    /// Prompt tokens in all.
    pub prompt_tokens: u64,
    /// Generated tokens in all.
    pub completion_tokens: u64,
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
        let (mut first, mut last, mut generated) = (f64::INFINITY, 0.0f64, 0u64);
        // Greedy samples of one prompt are decoded once and copied: count once.
        let mut decoded = std::collections::HashSet::new();
        for r in records {
            s.prompt_tokens += u64::from(r.usage.prompt_tokens);
            s.completion_tokens += u64::from(r.usage.completion_tokens);
            if r.cached {
                continue;
            }
            if r.at_ms > 0 && r.error.is_none() {
                let end = r.at_ms as f64;
                first = first.min(end - r.timings.total_ms);
                last = last.max(end);
                let copy = r.temperature == 0.0
                    && !decoded.insert((&r.eval, &r.response, r.timings.total_ms.to_bits()));
                if !copy {
                    generated += u64::from(r.usage.completion_tokens);
                }
            }
            if let Some(ms) = r.timings.prompt_ms {
                pms += ms;
                pt += u64::from(r.usage.prompt_tokens);
            }
            if let Some(ms) = r.timings.generation_ms {
                gms += ms;
                gt += u64::from(r.usage.completion_tokens);
            }
            if let Some(t) = r.timings.ttft_ms {
                ttft += t;
                nttft += 1;
            }
        }
        s.prompt_tps = (pms > 0.0).then(|| pt as f64 * 1000.0 / pms);
        s.generation_tps = (gms > 0.0).then(|| gt as f64 * 1000.0 / gms);
        s.ttft_ms = (nttft > 0).then(|| ttft / f64::from(nttft));
        s.throughput_tps =
            (last > first && generated > 0).then(|| generated as f64 * 1000.0 / (last - first));
        s
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
    /// Samples scored.
    pub scored: usize,
    /// Samples that failed (backend or eval error).
    pub errors: usize,
    /// Score statistics over the scored samples (0–100).
    pub score: Summary,
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
}

impl UnitSummary {
    /// Summarizes the samples of one eval under one configuration.
    pub fn of(records: &[&SampleRecord], min_score: Option<f64>, wall_ms: f64) -> UnitSummary {
        let first = records[0];
        let scored: Vec<f64> = records
            .iter()
            .filter_map(|r| r.score.as_ref().map(|s| s.value))
            .collect();
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
            score: summarize(&scored, BOOTSTRAP_SEED),
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
    /// Statistics over the per-eval mean scores (each eval weighs the same).
    pub score: Summary,
    /// Unbiased pass@1 averaged over evals.
    pub pass_at_1: f64,
    /// pass@k for k = the most samples any eval had, averaged over evals.
    pub pass_at_k: Option<(u64, f64)>,
    /// Evals whose samples disagree (0 < pass rate < 1).
    pub flaky: usize,
    /// Speed.
    pub speed: Speed,
}

impl ConfigSummary {
    /// Summarizes units of one configuration and their records.
    pub fn of(
        config: &ConfigKey,
        units: &[&UnitSummary],
        records: &[&SampleRecord],
        model: Option<ModelInfo>,
    ) -> ConfigSummary {
        let means: Vec<f64> = units
            .iter()
            .filter(|u| u.scored > 0)
            .map(|u| u.score.mean)
            .collect();
        let kmax = units.iter().map(|u| u.scored as u64).max().unwrap_or(0);
        let mut p1 = Vec::new();
        let mut pk = Vec::new();
        for u in units.iter().filter(|u| u.scored > 0) {
            let n = u.scored as u64;
            let c = (u.pass_rate * n as f64).round() as u64;
            p1.push(pass_at_k(n, c, 1));
            if n >= kmax && kmax > 1 {
                pk.push(pass_at_k(n, c, kmax));
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
            score: summarize(&means, BOOTSTRAP_SEED),
            pass_at_1: mean(&p1),
            pass_at_k: (!pk.is_empty()).then(|| (kmax, mean(&pk))),
            flaky: units
                .iter()
                .filter(|u| u.pass_rate > 0.0 && u.pass_rate < 1.0)
                .count(),
            speed: Speed::of(records.iter().copied()),
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
        }
    }

    /// Evals that errored under some configuration.
    pub fn errored(&self) -> impl Iterator<Item = &UnitSummary> {
        self.units.iter().filter(|u| u.errors > 0)
    }
}
