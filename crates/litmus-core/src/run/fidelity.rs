//! Quantization fidelity over a stored run, without llama.cpp: the
//! [`FidelityJob`] that `cargo eval fidelity` hands to an eval target (which
//! links llama.cpp and runs it with `litmus_llama::fidelity::run_job`), the
//! answers it teacher-forces ([`FidelityInputs`], from the run's records),
//! the per-token statistics and their aggregates per eval, tag and setting,
//! and the `fidelity.json` a run directory keeps ([`FidelityReport`]), which
//! the study report (`output::study_report`) shows next to the scores.
//!
//! The statistics are the ones `llama-perplexity --kl-divergence` prints, with
//! its definitions: per scored token, the KL divergence KL(reference ‖ quant)
//! over the whole vocabulary, whether both models' most likely tokens agree
//! ("same top"), and Δp = p_quant(t) − p_reference(t) of the token `t` that
//! follows; the mean KLD's uncertainty is its standard error
//! `sqrt((E[x²] − E[x]²)/(n − 1))`, percentiles interpolate linearly between
//! sorted values, and RMS Δp is `sqrt(E[Δp²])`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::backend::Prompt;
use crate::run::store::SampleRecord;

/// The hidden first argument that makes an eval target run a
/// [`FidelityJob`], given as a path to its JSON in the second argument.
pub const FIDELITY_FLAG: &str = "--litmus-fidelity";

/// The file a run directory keeps the fidelity of its configurations in.
pub const FIDELITY_FILE: &str = "fidelity.json";

/// One model file of the job: a configuration's label and its GGUF.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FidelityModel {
    /// The quantization label (`Q4_K_M`), as the run names it.
    pub label: String,
    /// A GGUF path (absolute) or `builtin:NAME`.
    pub source: String,
}

/// What `cargo eval fidelity` asks for: every quantization of `model` in the
/// run at `run_dir` against `reference`, over the reference's own answers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FidelityJob {
    /// The run directory (its `samples.jsonl` gives the prompts and the
    /// reference's answers; `fidelity.json` is written there).
    pub run_dir: PathBuf,
    /// The model's name in the run.
    pub model: String,
    /// The reference (highest precision).
    pub reference: FidelityModel,
    /// The configurations measured against it.
    pub quants: Vec<FidelityModel>,
    /// Samples per eval and configuration (0: all of them).
    pub samples: u32,
    /// Answers the reference has not stored in the run are generated
    /// greedily with at most this many tokens.
    pub max_tokens: u32,
    /// Threads (default: physical cores).
    pub threads: Option<usize>,
    /// Tokens per decode (default 256).
    pub window: Option<usize>,
    /// Where measurements are cached (`None`: not cached).
    pub cache_dir: Option<PathBuf>,
    /// Model options (`chat_template`, ...) as `litmus.toml` gives them.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl FidelityJob {
    /// The arguments that run the job written to `path` in an eval target.
    pub fn to_args(path: &Path) -> [String; 2] {
        [FIDELITY_FLAG.to_string(), path.display().to_string()]
    }

    /// The job named in a process's arguments (without the program name), if
    /// they ask for one: `Some(Err(..))` when it cannot be read.
    pub fn from_args(args: &[String]) -> Option<Result<FidelityJob, String>> {
        match args {
            [flag, path, ..] if flag == FIDELITY_FLAG => Some(
                std::fs::read(path)
                    .map_err(|e| format!("{FIDELITY_FLAG} {path}: {e}"))
                    .and_then(|b| {
                        serde_json::from_slice(&b).map_err(|e| format!("{FIDELITY_FLAG}: {e}"))
                    }),
            ),
            [flag] if flag == FIDELITY_FLAG => Some(Err(format!("{FIDELITY_FLAG} needs a job"))),
            _ => None,
        }
    }
}

/// A prompt of the run and the reference's answer to it, if the run stored
/// one (otherwise the job generates it greedily).
#[derive(Clone, Debug, PartialEq)]
pub struct FidelityAnswer {
    /// The eval.
    pub eval: String,
    /// Template × temperature, `base t=0`.
    pub setting: String,
    /// The prompt as the run rendered it.
    pub prompt: Prompt,
    /// The reference's answer.
    pub text: Option<String>,
}

/// What a [`FidelityJob`] teacher-forces, read from the run's records: one
/// answer per eval, setting and sample index (the first `job.samples` of
/// them), grouped by (eval, setting).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FidelityInputs {
    /// The answers, ordered by eval, setting and sample.
    pub answers: Vec<FidelityAnswer>,
    /// The groups tokens are summed in: (eval, setting), in order.
    pub keys: Vec<(String, String)>,
    /// Each eval's tags.
    pub tags: BTreeMap<String, Vec<String>>,
}

impl FidelityInputs {
    /// The inputs of `job` among `records` (a run's samples): the prompts of
    /// `job.model` (first repeat), with the reference's stored answers.
    pub fn from_records(records: &[SampleRecord], job: &FidelityJob) -> FidelityInputs {
        let mut answers: BTreeMap<(String, String, u32), FidelityAnswer> = BTreeMap::new();
        let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let is_ref = |q: &Option<String>| q.as_deref() == Some(job.reference.label.as_str());
        for r in records {
            if r.model != job.model || r.repeat != 0 {
                continue;
            }
            let Some(prompt) = &r.prompt else { continue };
            if job.samples > 0 && r.sample >= job.samples {
                continue;
            }
            tags.entry(r.eval.clone()).or_insert_with(|| r.tags.clone());
            let setting = format!("{} t={}", r.template, r.temperature);
            let key = (r.eval.clone(), setting.clone(), r.sample);
            let entry = answers.entry(key).or_insert_with(|| FidelityAnswer {
                eval: r.eval.clone(),
                setting,
                prompt: prompt.clone(),
                text: None,
            });
            if is_ref(&r.quantization) && r.error.is_none() {
                if let Some(text) = &r.response {
                    entry.text = Some(text.clone());
                }
            }
        }
        let answers: Vec<FidelityAnswer> = answers.into_values().collect();
        let mut keys: Vec<(String, String)> = answers
            .iter()
            .map(|a| (a.eval.clone(), a.setting.clone()))
            .collect();
        keys.dedup();
        FidelityInputs {
            answers,
            keys,
            tags,
        }
    }
}

/// One scored token: what the reference and the quantization said about the
/// token that follows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TokenFidelity {
    /// KL(reference ‖ quant) over the vocabulary, nats.
    pub kld: f64,
    /// p_quant(t) − p_reference(t) of the next token t.
    pub p_diff: f64,
    /// Whether both models' most likely tokens are the same.
    pub same_top: bool,
    /// −ln p_quant(t).
    pub nll: f64,
    /// −ln p_reference(t).
    pub nll_ref: f64,
}

/// Running sums over scored tokens (as llama-perplexity keeps them) and the
/// per-token KLD and Δp values, for percentiles. Mergeable, so that groups
/// (evals) add up to tags and configurations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FidelitySums {
    /// Scored tokens.
    pub count: u64,
    /// Σ KLD.
    pub sum_kld: f64,
    /// Σ KLD².
    pub sum_kld2: f64,
    /// Σ Δp.
    pub sum_p_diff: f64,
    /// Σ Δp².
    pub sum_p_diff2: f64,
    /// Σ Δp⁴.
    pub sum_p_diff4: f64,
    /// Tokens whose top tokens agree.
    pub same_top: u64,
    /// Σ −ln p_quant.
    pub sum_nll: f64,
    /// Σ −ln p_reference.
    pub sum_nll_ref: f64,
    /// Every token's KLD, in order.
    pub kld: Vec<f32>,
    /// Every token's Δp, in order.
    pub p_diff: Vec<f32>,
    /// Tokens left out of everything above because a model's numbers for
    /// them were not finite (NaN or infinite logits, as a broken low-bit
    /// quantization gives; or the token impossible under one model).
    #[serde(default, skip_serializing_if = "crate::base::util::is_default")]
    pub nonfinite: u64,
}

impl FidelitySums {
    /// Adds one token; one whose numbers are not all finite is counted in
    /// [`FidelitySums::nonfinite`] only (a NaN would make every aggregate
    /// NaN, and JSON has no NaN).
    pub fn push(&mut self, t: &TokenFidelity) {
        if ![t.kld, t.p_diff, t.nll, t.nll_ref]
            .iter()
            .all(|v| v.is_finite())
        {
            self.nonfinite += 1;
            return;
        }
        self.count += 1;
        self.sum_kld += t.kld;
        self.sum_kld2 += t.kld * t.kld;
        self.sum_p_diff += t.p_diff;
        let p2 = t.p_diff * t.p_diff;
        self.sum_p_diff2 += p2;
        self.sum_p_diff4 += p2 * p2;
        self.same_top += u64::from(t.same_top);
        self.sum_nll += t.nll;
        self.sum_nll_ref += t.nll_ref;
        self.kld.push(t.kld as f32);
        self.p_diff.push(t.p_diff as f32);
    }

    /// Adds another set of tokens.
    pub fn merge(&mut self, o: &FidelitySums) {
        self.count += o.count;
        self.sum_kld += o.sum_kld;
        self.sum_kld2 += o.sum_kld2;
        self.sum_p_diff += o.sum_p_diff;
        self.sum_p_diff2 += o.sum_p_diff2;
        self.sum_p_diff4 += o.sum_p_diff4;
        self.same_top += o.same_top;
        self.sum_nll += o.sum_nll;
        self.sum_nll_ref += o.sum_nll_ref;
        self.kld.extend_from_slice(&o.kld);
        self.p_diff.extend_from_slice(&o.p_diff);
        self.nonfinite += o.nonfinite;
    }

    /// The aggregates.
    pub fn stats(&self) -> FidelityStats {
        let n = self.count;
        let (mean_kld, kld_err) = mean_and_uncertainty(self.sum_kld, self.sum_kld2, n);
        let (p_mse, p_mse_err) = mean_and_uncertainty(self.sum_p_diff2, self.sum_p_diff4, n);
        let rms = p_mse.sqrt();
        let same = if n > 0 {
            self.same_top as f64 / n as f64
        } else {
            0.0
        };
        let mut kld = self.kld.clone();
        kld.sort_by(f32::total_cmp);
        let mut pd = self.p_diff.clone();
        pd.sort_by(f32::total_cmp);
        let pct = |v: &[f32], f: f64| percentile(v, f);
        FidelityStats {
            tokens: n,
            nonfinite_tokens: self.nonfinite,
            mean_kld,
            mean_kld_err: kld_err,
            kld_ci95: [mean_kld - 1.96 * kld_err, mean_kld + 1.96 * kld_err],
            median_kld: median(&kld),
            p90_kld: pct(&kld, 0.90),
            p99_kld: pct(&kld, 0.99),
            p999_kld: pct(&kld, 0.999),
            max_kld: kld.last().map_or(0.0, |&v| f64::from(v)),
            same_top: same,
            same_top_err: if n > 1 {
                (same * (1.0 - same) / (n - 1) as f64).sqrt()
            } else {
                0.0
            },
            mean_p_diff: if n > 0 {
                self.sum_p_diff / n as f64
            } else {
                0.0
            },
            rms_p_diff: rms,
            rms_p_diff_err: if rms > 0.0 {
                0.5 / rms * p_mse_err
            } else {
                0.0
            },
            median_p_diff: median(&pd),
            ppl: if n > 0 {
                (self.sum_nll / n as f64).exp()
            } else {
                0.0
            },
            ppl_ref: if n > 0 {
                (self.sum_nll_ref / n as f64).exp()
            } else {
                0.0
            },
        }
    }
}

/// llama-perplexity's `mean_and_uncertainty`: the mean and its standard
/// error. llama-perplexity gives 0 for 10 values or fewer (and prints no
/// summary under 100): here the error is computed from 2 values on, so that
/// a small group's interval is wide rather than a point.
fn mean_and_uncertainty(sum: f64, sum2: f64, count: u64) -> (f64, f64) {
    if count < 1 {
        return (0.0, 0.0);
    }
    let f = sum / count as f64;
    let df = sum2 / count as f64 - f * f;
    let df = if df > 0.0 && count > 1 {
        (df / (count - 1) as f64).sqrt()
    } else {
        0.0
    };
    (f, df)
}

/// llama-perplexity's median of sorted values.
fn median(v: &[f32]) -> f64 {
    match v.len() {
        0 => 0.0,
        n if n % 2 == 0 => 0.5 * (f64::from(v[n / 2]) + f64::from(v[n / 2 - 1])),
        n => f64::from(v[n / 2]),
    }
}

/// llama-perplexity's percentile of sorted values: linear interpolation.
fn percentile(v: &[f32], fraction: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    if fraction <= 0.0 {
        return f64::from(v[0]);
    }
    if fraction >= 1.0 {
        return f64::from(v[v.len() - 1]);
    }
    let p = fraction * (v.len() - 1) as f64;
    let ip = p as usize;
    let p = p - ip as f64;
    (1.0 - p) * f64::from(v[ip]) + p * f64::from(v[(ip + 1).min(v.len() - 1)])
}

/// Aggregates over scored tokens.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FidelityStats {
    /// Scored tokens.
    pub tokens: u64,
    /// Tokens left out because a model's numbers for them were not finite
    /// ([`FidelitySums::nonfinite`]).
    #[serde(default, skip_serializing_if = "crate::base::util::is_default")]
    pub nonfinite_tokens: u64,
    /// Mean KL(reference ‖ quant), nats.
    pub mean_kld: f64,
    /// Its standard error.
    pub mean_kld_err: f64,
    /// Its 95% confidence interval (± 1.96 standard errors).
    pub kld_ci95: [f64; 2],
    /// Median KLD.
    pub median_kld: f64,
    /// 90th percentile of KLD.
    pub p90_kld: f64,
    /// 99th percentile of KLD.
    pub p99_kld: f64,
    /// 99.9th percentile of KLD.
    pub p999_kld: f64,
    /// Largest KLD.
    pub max_kld: f64,
    /// Fraction of tokens whose top tokens agree.
    pub same_top: f64,
    /// Its standard error.
    pub same_top_err: f64,
    /// Mean Δp.
    pub mean_p_diff: f64,
    /// RMS Δp.
    pub rms_p_diff: f64,
    /// Its uncertainty.
    pub rms_p_diff_err: f64,
    /// Median Δp.
    pub median_p_diff: f64,
    /// Perplexity of the quantization on the scored tokens.
    pub ppl: f64,
    /// Perplexity of the reference on the scored tokens.
    pub ppl_ref: f64,
}

/// The fidelity of one configuration against the reference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigFidelity {
    /// Quantization label.
    pub quantization: String,
    /// Its GGUF.
    pub source: String,
    /// Over every scored token.
    pub overall: FidelityStats,
    /// Per tag.
    pub by_tag: BTreeMap<String, FidelityStats>,
    /// Per template × temperature (`base t=0`): the reference's answers
    /// under that setting.
    #[serde(default)]
    pub by_setting: BTreeMap<String, FidelityStats>,
    /// Per eval: mean KLD, same-top fraction and tokens.
    pub by_eval: BTreeMap<String, EvalFidelity>,
    /// Whether it came from the cache.
    pub cached: bool,
}

impl ConfigFidelity {
    /// A configuration's fidelity from its sums per group (`keys[i]` is
    /// group `i`'s (eval, setting)), merged per tag, setting and eval.
    pub fn from_groups(
        quant: &FidelityModel,
        groups: &[FidelitySums],
        keys: &[(String, String)],
        tags: &BTreeMap<String, Vec<String>>,
        cached: bool,
    ) -> ConfigFidelity {
        let mut all = FidelitySums::default();
        let mut by_tag: BTreeMap<String, FidelitySums> = BTreeMap::new();
        let mut by_setting: BTreeMap<String, FidelitySums> = BTreeMap::new();
        let mut by_eval: BTreeMap<String, FidelitySums> = BTreeMap::new();
        for ((eval, setting), g) in keys.iter().zip(groups) {
            if g.count == 0 && g.nonfinite == 0 {
                continue;
            }
            all.merge(g);
            for t in tags.get(eval).into_iter().flatten() {
                by_tag.entry(t.clone()).or_default().merge(g);
            }
            by_setting.entry(setting.clone()).or_default().merge(g);
            by_eval.entry(eval.clone()).or_default().merge(g);
        }
        let stats = |m: BTreeMap<String, FidelitySums>| -> BTreeMap<_, _> {
            m.into_iter().map(|(k, v)| (k, v.stats())).collect()
        };
        ConfigFidelity {
            quantization: quant.label.clone(),
            source: quant.source.clone(),
            overall: all.stats(),
            by_tag: stats(by_tag),
            by_setting: stats(by_setting),
            by_eval: by_eval
                .into_iter()
                .map(|(eval, g)| {
                    let e = EvalFidelity {
                        tokens: g.count,
                        mean_kld: g.sum_kld / g.count as f64,
                        same_top: g.same_top as f64 / g.count as f64,
                    };
                    (eval, e)
                })
                .collect(),
            cached,
        }
    }
}

/// One eval's fidelity (over its samples' answers).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalFidelity {
    /// Scored tokens.
    pub tokens: u64,
    /// Mean KLD.
    pub mean_kld: f64,
    /// Fraction of tokens whose top tokens agree.
    pub same_top: f64,
}

/// `fidelity.json`: every configuration of one model against its reference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FidelityReport {
    /// The model.
    pub model: String,
    /// The reference's quantization label.
    pub reference: String,
    /// Its GGUF.
    pub reference_source: String,
    /// Answers scored (sequences) and how many the reference generated here
    /// because the run had none stored.
    pub sequences: usize,
    /// Answers generated greedily by this job.
    pub generated: usize,
    /// Tokens per scored sequence, prompt included, summed.
    pub tokens_evaluated: u64,
    /// Scored (answer) tokens per configuration.
    pub tokens_scored: u64,
    /// Seconds the measurement took (cached configurations excluded).
    pub seconds: f64,
    /// Per configuration, in the job's order.
    pub configs: Vec<ConfigFidelity>,
}

impl FidelityReport {
    /// The `fidelity.json` of the run in `dir`: `None` when there is none,
    /// `Some(Err(..))` when it cannot be read.
    pub fn load(dir: &Path) -> Option<Result<FidelityReport, String>> {
        let path = dir.join(FIDELITY_FILE);
        let data = std::fs::read(&path).ok()?;
        Some(serde_json::from_slice(&data).map_err(|e| format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_merge_and_match_llama_perplexity_definitions() {
        let toks: Vec<TokenFidelity> = (0..21)
            .map(|i| TokenFidelity {
                kld: i as f64 * 0.01,
                p_diff: if i % 2 == 0 { 0.1 } else { -0.1 },
                same_top: i % 3 != 0,
                nll: 1.0,
                nll_ref: 0.5,
            })
            .collect();
        let mut all = FidelitySums::default();
        let (mut a, mut b) = (FidelitySums::default(), FidelitySums::default());
        for (i, t) in toks.iter().enumerate() {
            all.push(t);
            if i < 10 { &mut a } else { &mut b }.push(t);
        }
        a.merge(&b);
        let (s, m) = (all.stats(), a.stats());
        // Merged groups: the same statistics, up to the order of the sums.
        assert!((s.mean_kld - m.mean_kld).abs() < 1e-12);
        assert!((s.mean_kld_err - m.mean_kld_err).abs() < 1e-12);
        assert!((s.rms_p_diff - m.rms_p_diff).abs() < 1e-12);
        assert_eq!(
            (s.median_kld, s.p99_kld, s.max_kld, s.same_top, s.tokens),
            (m.median_kld, m.p99_kld, m.max_kld, m.same_top, m.tokens)
        );
        assert_eq!(s.tokens, 21);
        assert!((s.mean_kld - 0.1).abs() < 1e-12);
        assert!((s.median_kld - 0.1).abs() < 1e-6);
        // 0.99 × 20 = 19.8: between the two largest.
        assert!((s.p99_kld - (0.2 * 0.19 + 0.8 * 0.2)).abs() < 1e-6);
        assert!((s.rms_p_diff - 0.1).abs() < 1e-6);
        assert!((s.same_top - 14.0 / 21.0).abs() < 1e-12);
        assert!((s.ppl - 1f64.exp()).abs() < 1e-9);
        // Standard error of 0, 0.01, ..., 0.2.
        let var: f64 = toks.iter().map(|t| (t.kld - 0.1).powi(2)).sum::<f64>() / 21.0;
        assert!((s.mean_kld_err - (var / 20.0).sqrt()).abs() < 1e-9);
    }

    /// A token with NaN or infinite numbers is counted apart, so the
    /// aggregates stay finite and the report readable (one NaN made every
    /// aggregate NaN, written `null`, which `FidelityReport::load` refused:
    /// found by review); a small group's interval has a width.
    #[test]
    fn tokens_that_are_not_finite_are_counted_apart() {
        let tok = |kld: f64| TokenFidelity {
            kld,
            same_top: kld < 0.5,
            nll: 1.0,
            nll_ref: 1.0,
            ..Default::default()
        };
        let mut sums = FidelitySums::default();
        for kld in [0.0, 0.5, f64::NAN, 2.0, f64::INFINITY, 0.1, 0.0, 3.0] {
            sums.push(&tok(kld));
        }
        let mut other = FidelitySums::default();
        other.push(&tok(f64::NAN));
        sums.merge(&other);
        let s = sums.stats();
        assert_eq!((s.tokens, s.nonfinite_tokens), (6, 3));
        assert!((s.mean_kld - 5.6 / 6.0).abs() < 1e-12);
        assert!(
            s.kld_ci95[0] < s.mean_kld && s.mean_kld < s.kld_ci95[1],
            "{s:?}"
        );
        let q = FidelityModel {
            label: "IQ1_S".into(),
            source: "q.gguf".into(),
        };
        let keys = [("e".to_string(), "base t=0".to_string())];
        let c = ConfigFidelity::from_groups(&q, &[sums], &keys, &BTreeMap::new(), false);
        assert_eq!(c.overall.nonfinite_tokens, 3);
        let dir = std::env::temp_dir().join(format!("litmus-fid-nan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let report = FidelityReport {
            configs: vec![c],
            ..Default::default()
        };
        std::fs::write(
            dir.join(FIDELITY_FILE),
            serde_json::to_vec(&report).unwrap(),
        )
        .unwrap();
        let back = FidelityReport::load(&dir).unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(back, report);
        // Only tokens that are not finite: the group still shows.
        let mut bad = FidelitySums::default();
        bad.push(&tok(f64::NAN));
        let c = ConfigFidelity::from_groups(&q, &[bad], &keys, &BTreeMap::new(), false);
        assert_eq!((c.overall.tokens, c.overall.nonfinite_tokens), (0, 1));
    }

    #[test]
    fn jobs_travel_as_files() {
        let dir = std::env::temp_dir().join(format!("litmus-fid-job-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let job = FidelityJob {
            run_dir: "/r".into(),
            model: "m".into(),
            reference: FidelityModel {
                label: "Q8_0".into(),
                source: "/m/q8.gguf".into(),
            },
            quants: vec![FidelityModel {
                label: "Q2_K".into(),
                source: "/m/q2.gguf".into(),
            }],
            samples: 1,
            max_tokens: 64,
            ..FidelityJob::default()
        };
        let path = dir.join("job.json");
        std::fs::write(&path, serde_json::to_vec(&job).unwrap()).unwrap();
        let args = FidelityJob::to_args(&path).to_vec();
        assert_eq!(FidelityJob::from_args(&args), Some(Ok(job)));
        assert_eq!(FidelityJob::from_args(&["--list".to_string()]), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn record(eval: &str, quant: &str, sample: u32, response: &str) -> SampleRecord {
        SampleRecord {
            eval: eval.into(),
            tags: vec![format!("tag-{eval}")],
            model: "m".into(),
            backend: "llama".into(),
            quantization: Some(quant.into()),
            template: "base".into(),
            temperature: 0.0,
            seed: 1,
            sample,
            prompt: Some(Prompt::Completion(format!("{eval}?"))),
            response: Some(response.into()),
            ..SampleRecord::default()
        }
    }

    #[test]
    fn inputs_are_the_references_answers_grouped_by_eval_and_setting() {
        let records = vec![
            record("b", "Q2_K", 0, "bad"),
            record("b", "Q8_0", 0, "good"),
            record("a", "Q2_K", 0, "x"),
            record("a", "Q8_0", 1, "second"),
            record("a", "Q2_K", 2, "third, not asked for"),
        ];
        let job = FidelityJob {
            model: "m".into(),
            reference: FidelityModel {
                label: "Q8_0".into(),
                source: String::new(),
            },
            samples: 2,
            ..FidelityJob::default()
        };
        let inputs = FidelityInputs::from_records(&records, &job);
        let got: Vec<(&str, &str, Option<&str>)> = inputs
            .answers
            .iter()
            .map(|a| (a.eval.as_str(), a.setting.as_str(), a.text.as_deref()))
            .collect();
        // Eval a: sample 0 only the quantization answered (generated
        // greedily by the job), sample 1 the reference's; eval b: the
        // reference's, not the quantization's.
        assert_eq!(
            got,
            vec![
                ("a", "base t=0", None),
                ("a", "base t=0", Some("second")),
                ("b", "base t=0", Some("good")),
            ]
        );
        assert_eq!(
            inputs.keys,
            vec![
                ("a".to_string(), "base t=0".to_string()),
                ("b".into(), "base t=0".into())
            ]
        );
        assert_eq!(inputs.tags["b"], vec!["tag-b".to_string()]);

        // Each group's sums go to its eval, tag and setting.
        let tok = |kld: f64| TokenFidelity {
            kld,
            same_top: kld < 0.5,
            ..TokenFidelity::default()
        };
        let mut groups = vec![FidelitySums::default(), FidelitySums::default()];
        groups[0].push(&tok(0.2));
        groups[0].push(&tok(0.4));
        groups[1].push(&tok(0.9));
        let c =
            ConfigFidelity::from_groups(&job.reference, &groups, &inputs.keys, &inputs.tags, false);
        assert_eq!(c.overall.tokens, 3);
        assert!((c.by_eval["a"].mean_kld - 0.3).abs() < 1e-9);
        assert_eq!(c.by_eval["b"].same_top, 0.0);
        assert_eq!(c.by_tag["tag-a"].tokens, 2);
        assert_eq!(c.by_setting["base t=0"].tokens, 3);
    }
}
