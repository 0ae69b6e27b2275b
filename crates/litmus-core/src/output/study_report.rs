//! The study report: every configuration of a run (model × quantization ×
//! template × temperature) side by side — score with its confidence interval,
//! per-tag scores, speed, size, bits per weight, memory — ranked, with a
//! paired comparison of each configuration against a baseline quantization
//! under the same template and temperature, and the template × quantization
//! and temperature × quantization tables; when the run has a `fidelity.json`
//! (`cargo eval fidelity`), each quantization's KL divergence, top-token
//! agreement and Δp against the reference next to its score change, with the
//! correlation across evals between the two ([`FidelitySection`]).
//!
//! Built from a run's records and summary; rendered as text, Markdown or JSON.
//!
//! ```
//! use litmus_core::output::study_report::{Study, StudyOptions};
//! # let summary = litmus_core::run::summary::RunSummary::build("r", "d", &[], &Default::default(), &Default::default(), &Default::default());
//! let study = Study::build(&summary, &[], &StudyOptions::default());
//! assert!(study.rows.is_empty());
//! println!("{}", study.markdown());
//! ```

use std::collections::{BTreeMap, BTreeSet};

use litmus_metrics::stats::{
    paired_comparison_by_cluster, summarize_clustered, PairedComparison, Summary,
};
use serde::{Deserialize, Serialize};

use crate::output::ci::sections_markdown;
use crate::output::console::sections_text;
use crate::run::fidelity::{FidelityReport, FidelityStats};
use crate::run::store::{ConfigKey, SampleRecord};
use crate::run::summary::{RunSummary, Speed};

/// Choices of a study report.
#[derive(Clone, Debug, Default)]
pub struct StudyOptions {
    /// The baseline variant: a quantization label or `model quant` label,
    /// matched case-insensitively. Default: the variant with the most bits
    /// per weight (the highest-fidelity quantization).
    pub baseline: Option<String>,
    /// Seed of the paired bootstrap (default: the summaries' seed).
    pub seed: Option<u64>,
    /// The tags to break scores down by (default: every tag).
    pub tags: Vec<String>,
}

/// One configuration of the study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyRow {
    /// Rank by mean score (1 = best).
    pub rank: usize,
    /// The configuration.
    pub config: ConfigKey,
    /// Model and quantization, e.g. `gemma3-270m Q4_K_M`.
    pub variant: String,
    /// Score over evals (0–100) with its 95% confidence interval.
    pub score: Summary,
    /// Unbiased pass@1 averaged over evals; `None` when no sample was
    /// scored.
    pub pass_at_1: Option<f64>,
    /// Samples scored.
    pub scored: usize,
    /// Samples failed.
    pub errors: usize,
    /// Score per tag: statistics over the per-eval means of the evals
    /// carrying it, with a 95% bootstrap confidence interval.
    pub tags: BTreeMap<String, Summary>,
    /// Speed; `throughput_tps` is the model's over all its configurations
    /// (they run interleaved on one engine).
    pub speed: Speed,
    /// Model file size, bytes.
    pub size_bytes: Option<u64>,
    /// Bits per weight (file size × 8 / parameters).
    pub bits_per_weight: Option<f64>,
    /// Resident memory with the model loaded, bytes.
    pub resident_bytes: Option<u64>,
    /// Paired comparison against the baseline variant under the same
    /// template and temperature (`diff` = this − baseline, in points).
    pub vs_baseline: Option<PairedComparison>,
}

/// Mean scores over two dimensions of the matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// What the rows are (`template`, `temperature`).
    pub rows_are: String,
    /// Row labels.
    pub rows: Vec<String>,
    /// Column labels (variants).
    pub cols: Vec<String>,
    /// `cells[row][col]`: mean score, averaged over the other dimensions.
    pub cells: Vec<Vec<Option<f64>>>,
}

/// The report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Study {
    /// The run.
    pub run_id: String,
    /// The baseline variant, when there are several variants.
    pub baseline: Option<String>,
    /// Configurations, best first.
    pub rows: Vec<StudyRow>,
    /// Tags seen.
    pub tags: Vec<String>,
    /// Template × variant, when the run swept templates.
    pub template_by_variant: Option<Grid>,
    /// Temperature × variant, when the run swept temperatures.
    pub temperature_by_variant: Option<Grid>,
    /// Where the run's time went, when its summary says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<crate::run::summary::TimeSplit>,
    /// The fidelity of the quantizations against a reference, when the run
    /// has a `fidelity.json` ([`Study::with_fidelity`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<FidelitySection>,
    /// Per configuration with errored samples: how many, and the most
    /// frequent error (its first line), so a report says why, not only how
    /// many.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorSummary>,
}

/// The errors of one configuration of a study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// The configuration's label.
    pub config: String,
    /// Samples that errored.
    pub samples: usize,
    /// The most frequent error's first line (at most 200 characters).
    pub error: String,
    /// Samples with that error.
    pub count: usize,
}

impl ErrorSummary {
    /// Per configuration of `records` with errors, in the configurations'
    /// order.
    fn of(records: &[SampleRecord]) -> Vec<ErrorSummary> {
        let mut by_config: BTreeMap<ConfigKey, BTreeMap<String, usize>> = BTreeMap::new();
        for r in records {
            if let (None, Some(e)) = (&r.score, &r.error) {
                let first: String = e.lines().next().unwrap_or("").chars().take(200).collect();
                *by_config
                    .entry(r.config())
                    .or_default()
                    .entry(first)
                    .or_default() += 1;
            }
        }
        by_config
            .into_iter()
            .map(|(config, errors)| {
                let samples = errors.values().sum();
                // The most frequent; the first by text among equals.
                let (error, count) = errors.into_iter().fold((String::new(), 0), |best, (e, n)| {
                    if n > best.1 {
                        (e, n)
                    } else {
                        best
                    }
                });
                ErrorSummary {
                    config: config.label(),
                    samples,
                    error,
                    count,
                }
            })
            .collect()
    }
}

/// The study's fidelity section: a run's `fidelity.json` next to its scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FidelitySection {
    /// The model.
    pub model: String,
    /// The reference quantization.
    pub reference: String,
    /// Answers of the reference teacher-forced.
    pub sequences: usize,
    /// Answer tokens scored per quantization.
    pub tokens_scored: u64,
    /// One row per quantization, in `fidelity.json`'s order.
    pub rows: Vec<FidelityRow>,
    /// Tags seen, for [`FidelityRow::by_tag`].
    pub tags: Vec<String>,
    /// Pearson's r between per-eval mean KLD and per-eval score change
    /// against the reference, pooled over the quantizations.
    pub pooled_r: Option<f64>,
    /// The (eval, quantization) pairs behind `pooled_r`.
    pub pooled_pairs: usize,
}

/// One quantization's fidelity and its score change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FidelityRow {
    /// The quantization.
    pub quantization: String,
    /// Over every scored token.
    pub overall: FidelityStats,
    /// Per tag: mean KLD and same-top fraction.
    pub by_tag: BTreeMap<String, (f64, f64)>,
    /// Mean over evals of (its score − the reference's score), in points,
    /// over the evals both were scored on in this run.
    pub score_delta: Option<f64>,
    /// Pearson's r between per-eval mean KLD and per-eval score change.
    pub r: Option<f64>,
    /// Evals behind `score_delta` and `r`.
    pub evals: usize,
}

/// Pearson's correlation of paired values (`None` under 3 pairs or without
/// spread).
fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Mean score per eval of one quantization of `model` (over its templates,
/// temperatures and samples).
fn eval_scores(records: &[SampleRecord], model: &str, quant: &str) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for r in records {
        if r.model != model || r.quantization.as_deref() != Some(quant) {
            continue;
        }
        if let Some(s) = &r.score {
            let e = sums.entry(r.eval.clone()).or_default();
            e.0 += s.value;
            e.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect()
}

impl FidelitySection {
    /// The section of `report` (a run's `fidelity.json`), with the score
    /// changes taken from the run's `records`.
    pub fn build(report: &FidelityReport, records: &[SampleRecord]) -> FidelitySection {
        let reference = eval_scores(records, &report.model, &report.reference);
        let mut pooled = Vec::new();
        let mut tags = BTreeSet::new();
        let rows = report
            .configs
            .iter()
            .map(|c| {
                let scores = eval_scores(records, &report.model, &c.quantization);
                let pairs: Vec<(f64, f64)> = c
                    .by_eval
                    .iter()
                    .filter_map(|(eval, fe)| {
                        Some((fe.mean_kld, scores.get(eval)? - reference.get(eval)?))
                    })
                    .collect();
                pooled.extend_from_slice(&pairs);
                tags.extend(c.by_tag.keys().cloned());
                FidelityRow {
                    quantization: c.quantization.clone(),
                    overall: c.overall.clone(),
                    by_tag: c
                        .by_tag
                        .iter()
                        .map(|(t, s)| (t.clone(), (s.mean_kld, s.same_top)))
                        .collect(),
                    score_delta: (!pairs.is_empty())
                        .then(|| pairs.iter().map(|p| p.1).sum::<f64>() / pairs.len() as f64),
                    r: pearson(&pairs),
                    evals: pairs.len(),
                }
            })
            .collect();
        FidelitySection {
            model: report.model.clone(),
            reference: report.reference.clone(),
            sequences: report.sequences,
            tokens_scored: report.tokens_scored,
            rows,
            tags: tags.into_iter().collect(),
            pooled_r: pearson(&pooled),
            pooled_pairs: pooled.len(),
        }
    }

    /// The per-quantization table (header first).
    fn table(&self) -> Vec<Vec<String>> {
        let mut rows = vec![[
            "quant",
            "mean KLD [95% CI]",
            "median KLD",
            "p99 KLD",
            "same top %",
            "RMS Δp %",
            "score Δ vs ref",
            "r(KLD, Δscore)",
            "evals",
        ]
        .map(String::from)
        .to_vec()];
        for f in &self.rows {
            let s = &f.overall;
            rows.push(vec![
                f.quantization.clone(),
                format!(
                    "{:.4} [{:.4}, {:.4}]",
                    s.mean_kld, s.kld_ci95[0], s.kld_ci95[1]
                ),
                format!("{:.4}", s.median_kld),
                format!("{:.3}", s.p99_kld),
                format!("{:.1} ± {:.1}", 100.0 * s.same_top, 100.0 * s.same_top_err),
                format!("{:.2}", 100.0 * s.rms_p_diff),
                f.score_delta.map_or("-".into(), |d| format!("{d:+.1}")),
                f.r.map_or("-".into(), |r| format!("{r:+.2}")),
                f.evals.to_string(),
            ]);
        }
        rows
    }

    /// Mean KLD (same top %) per tag and quantization (header first).
    fn tag_table(&self) -> Vec<Vec<String>> {
        let mut rows = vec![std::iter::once("tag".to_string())
            .chain(self.rows.iter().map(|r| r.quantization.clone()))
            .collect::<Vec<_>>()];
        for t in &self.tags {
            rows.push(
                std::iter::once(t.clone())
                    .chain(self.rows.iter().map(|r| {
                        r.by_tag.get(t).map_or("-".into(), |(kld, same)| {
                            format!("{kld:.4} ({:.0}%)", 100.0 * same)
                        })
                    }))
                    .collect(),
            );
        }
        rows
    }

    /// The sentence on the pooled correlation.
    pub fn correlation_line(&self) -> String {
        match self.pooled_r {
            Some(r) => format!(
                "Per-eval KLD vs per-eval score change, pooled over quantizations: r = {r:+.2} ({} eval × quantization pairs).",
                self.pooled_pairs
            ),
            None => "Per-eval KLD vs score change: the run has no scores of both the reference and a quantization for the same evals.".to_string(),
        }
    }
}

fn variant(c: &ConfigKey) -> String {
    let mut label = c.model.clone();
    if let Some(q) = &c.quantization {
        if !label.to_ascii_lowercase().contains(&q.to_ascii_lowercase()) {
            label.push(' ');
            label.push_str(q);
        }
    }
    label
}

impl Study {
    /// Builds the report of a run from its summary and records.
    pub fn build(summary: &RunSummary, records: &[SampleRecord], options: &StudyOptions) -> Study {
        let seed = options.seed.unwrap_or(crate::run::summary::BOOTSTRAP_SEED);
        let mut tags: BTreeSet<String> = BTreeSet::new();
        let mut rows: Vec<StudyRow> = summary
            .configs
            .iter()
            .map(|c| {
                let units: Vec<_> = summary
                    .units
                    .iter()
                    .filter(|u| u.config == c.config && u.scored > 0)
                    .collect();
                let mut by_tag: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
                for u in &units {
                    for t in &u.tags {
                        if options.tags.is_empty() || options.tags.contains(t) {
                            tags.insert(t.clone());
                            by_tag.entry(t.clone()).or_default().push(u.cluster());
                        }
                    }
                }
                let model = c.model.as_ref();
                let size_bytes = model.and_then(|m| m.size_bytes);
                let bits_per_weight = model.and_then(|m| {
                    Some(m.size_bytes? as f64 * 8.0 / m.parameters.filter(|&p| p > 0)? as f64)
                });
                StudyRow {
                    rank: 0,
                    config: c.config.clone(),
                    variant: variant(&c.config),
                    score: c.score.clone(),
                    pass_at_1: (c.score.n > 0).then_some(c.pass_at_1),
                    scored: c.scored,
                    errors: c.errors,
                    tags: by_tag
                        .into_iter()
                        .map(|(t, clusters)| (t, summarize_clustered(&clusters, seed)))
                        .collect(),
                    speed: c.speed.clone(),
                    size_bytes,
                    bits_per_weight,
                    resident_bytes: model.and_then(|m| m.resident_bytes),
                    vs_baseline: None,
                }
            })
            .collect();
        // A model's configurations share its engine and run interleaved: the
        // throughput over all sequences is the model's, over all of them.
        let keys: Vec<ConfigKey> = records.iter().map(SampleRecord::config).collect();
        let mut by_variant: BTreeMap<String, Vec<&SampleRecord>> = BTreeMap::new();
        for (r, k) in records.iter().zip(&keys) {
            by_variant.entry(variant(k)).or_default().push(r);
        }
        for row in rows.iter_mut() {
            if let Some(recs) = by_variant.get(&row.variant) {
                row.speed.throughput_tps = Speed::of(recs.iter().copied()).throughput_tps;
            }
        }
        // Configurations with no scored sample last, not as scores of 0.
        rows.sort_by(|a, b| {
            (b.score.n > 0)
                .cmp(&(a.score.n > 0))
                .then_with(|| b.score.mean.total_cmp(&a.score.mean))
                .then_with(|| a.config.cmp(&b.config))
        });
        for (i, r) in rows.iter_mut().enumerate() {
            r.rank = i + 1;
        }

        let variants: Vec<String> = {
            let mut v: Vec<&StudyRow> = rows.iter().collect();
            // Columns from the smallest to the largest file.
            v.sort_by(|a, b| {
                a.bits_per_weight
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.bits_per_weight.unwrap_or(f64::MAX))
                    .then_with(|| a.variant.cmp(&b.variant))
            });
            let mut out: Vec<String> = Vec::new();
            for r in v {
                if !out.contains(&r.variant) {
                    out.push(r.variant.clone());
                }
            }
            out
        };
        let baseline = if variants.len() < 2 {
            None
        } else if let Some(want) = &options.baseline {
            let want = want.to_ascii_lowercase();
            rows.iter()
                .find(|r| {
                    r.variant.to_ascii_lowercase() == want
                        || r.config
                            .quantization
                            .as_ref()
                            .is_some_and(|q| q.to_ascii_lowercase() == want)
                })
                .or_else(|| {
                    rows.iter()
                        .find(|r| r.variant.to_ascii_lowercase().contains(&want))
                })
                .map(|r| r.variant.clone())
        } else {
            // The most bits per weight; without the files' facts (a run
            // summarized without its models), the most bits its
            // quantization's name says; else the best-ranked row.
            let named = |r: &&StudyRow| r.config.quantization.as_deref().and_then(nominal_bits);
            rows.iter()
                .filter(|r| r.bits_per_weight.is_some())
                .max_by(|a, b| {
                    a.bits_per_weight
                        .unwrap()
                        .total_cmp(&b.bits_per_weight.unwrap())
                })
                .or_else(|| {
                    rows.iter()
                        .filter(|r| named(r).is_some())
                        .max_by(|a, b| named(a).unwrap().total_cmp(&named(b).unwrap()))
                })
                .or_else(|| rows.first())
                .map(|r| r.variant.clone())
        };

        if let Some(base) = &baseline {
            // Scores by configuration, then by (eval, sample).
            let mut scores: BTreeMap<&ConfigKey, BTreeMap<(&str, u32, u32), f64>> = BTreeMap::new();
            for (r, k) in records.iter().zip(&keys) {
                if let Some(s) = &r.score {
                    scores
                        .entry(k)
                        .or_default()
                        .insert((r.eval.as_str(), r.repeat, r.sample), s.value);
                }
            }
            let base_configs: Vec<ConfigKey> = rows
                .iter()
                .filter(|r| &r.variant == base)
                .map(|r| r.config.clone())
                .collect();
            let empty = BTreeMap::new();
            for row in rows.iter_mut().filter(|r| &r.variant != base) {
                let Some(base_key) = base_configs.iter().find(|k| {
                    k.template == row.config.template
                        && k.temperature_bits == row.config.temperature_bits
                }) else {
                    continue;
                };
                let a = scores.get(base_key).unwrap_or(&empty);
                let b = scores.get(&row.config).unwrap_or(&empty);
                let pairs: Vec<(String, f64, f64)> = a
                    .iter()
                    .filter_map(|(k, &va)| b.get(k).map(|&vb| (k.0.to_string(), va, vb)))
                    .collect();
                if !pairs.is_empty() {
                    // Each eval weighs the same, as in the score column.
                    row.vs_baseline = Some(paired_comparison_by_cluster(&pairs, seed));
                }
            }
        }

        let grid = |rows_are: &str, dim: &dyn Fn(&ConfigKey) -> String| -> Option<Grid> {
            let mut labels: Vec<(ConfigKey, String)> = rows
                .iter()
                .map(|r| (r.config.clone(), dim(&r.config)))
                .collect();
            labels.sort_by(|a, b| a.0.cmp(&b.0));
            let mut row_labels: Vec<String> = Vec::new();
            for (_, l) in &labels {
                if !row_labels.contains(l) {
                    row_labels.push(l.clone());
                }
            }
            if row_labels.len() < 2 {
                return None;
            }
            let cells = row_labels
                .iter()
                .map(|rl| {
                    variants
                        .iter()
                        .map(|v| {
                            let means: Vec<f64> = rows
                                .iter()
                                // A configuration that scored nothing has no
                                // mean to add (not a mean of 0).
                                .filter(|r| {
                                    &r.variant == v && &dim(&r.config) == rl && r.score.n > 0
                                })
                                .map(|r| r.score.mean)
                                .collect();
                            (!means.is_empty())
                                .then(|| means.iter().sum::<f64>() / means.len() as f64)
                        })
                        .collect()
                })
                .collect();
            Some(Grid {
                rows_are: rows_are.to_string(),
                rows: row_labels,
                cols: variants.clone(),
                cells,
            })
        };
        let template_by_variant = grid("template", &|c| c.template.clone());
        let temperature_by_variant = grid("temperature", &|c| format!("t={}", c.temperature()));

        Study {
            run_id: summary.run_id.clone(),
            baseline,
            rows,
            tags: tags.into_iter().collect(),
            template_by_variant,
            temperature_by_variant,
            time: summary.time,
            fidelity: None,
            errors: ErrorSummary::of(records),
        }
    }

    /// The study with the fidelity section of `report` (the run's
    /// `fidelity.json`; `records` are the run's samples, for score changes).
    pub fn with_fidelity(mut self, report: &FidelityReport, records: &[SampleRecord]) -> Study {
        self.fidelity = Some(FidelitySection::build(report, records));
        self
    }

    /// The ranking table (header first).
    fn ranking(&self) -> Vec<Vec<String>> {
        let mut out = vec![[
            "#",
            "model",
            "template",
            "temp",
            "score [95% CI]",
            "pass@1",
            "vs baseline [95% CI]",
            "p",
            "verdict",
            "gen tok/s",
            "model tok/s",
            "prompt tok/s",
            "TTFT ms",
            "size MiB",
            "bits/w",
            "RSS MiB",
            "errors",
        ]
        .map(String::from)
        .to_vec()];
        let opt = |v: Option<f64>, digits: usize| {
            v.map(|v| format!("{v:.digits$}"))
                .unwrap_or_else(|| "-".into())
        };
        let mib = |b: Option<u64>| opt(b.map(|b| b as f64 / 1048576.0), 0);
        for r in &self.rows {
            let (diff, p, verdict) = match (&r.vs_baseline, &self.baseline) {
                (Some(c), _) => (
                    format!("{:+.1} [{:+.1}, {:+.1}]", c.diff, c.ci_low, c.ci_high),
                    format!("{:.3}", c.p_value),
                    c.verdict.to_string(),
                ),
                (None, Some(b)) if &r.variant == b => {
                    ("baseline".into(), String::new(), String::new())
                }
                _ => ("-".into(), String::new(), String::new()),
            };
            out.push(vec![
                r.rank.to_string(),
                r.variant.clone(),
                r.config.template.clone(),
                r.config.temperature().to_string(),
                r.score.mean_ci(),
                r.pass_at_1
                    .map_or_else(|| "-".into(), |p| format!("{p:.2}")),
                diff,
                p,
                verdict,
                opt(r.speed.generation_tps, 1),
                opt(r.speed.throughput_tps, 1),
                opt(r.speed.prompt_tps, 0),
                opt(r.speed.ttft_ms, 0),
                mib(r.size_bytes),
                opt(r.bits_per_weight, 2),
                mib(r.resident_bytes),
                r.errors.to_string(),
            ]);
        }
        out
    }

    /// Rows: tags; columns: configurations; cells: mean [95% CI].
    fn tag_table(&self) -> Vec<Vec<String>> {
        let mut head = vec!["tag".to_string()];
        head.extend(self.rows.iter().map(|r| {
            format!(
                "{} {} t={}",
                r.variant,
                r.config.template,
                r.config.temperature()
            )
        }));
        let mut out = vec![head];
        for t in &self.tags {
            let mut line = vec![t.clone()];
            line.extend(
                self.rows
                    .iter()
                    .map(|r| r.tags.get(t).map_or_else(|| "-".into(), Summary::mean_ci)),
            );
            out.push(line);
        }
        out
    }

    fn grid_table(g: &Grid) -> Vec<Vec<String>> {
        let mut head = vec![g.rows_are.clone()];
        head.extend(g.cols.iter().cloned());
        let mut out = vec![head];
        for (label, cells) in g.rows.iter().zip(&g.cells) {
            let mut line = vec![label.clone()];
            line.extend(
                cells
                    .iter()
                    .map(|c| c.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())),
            );
            out.push(line);
        }
        out
    }

    fn sections(&self) -> Vec<(String, Vec<Vec<String>>)> {
        let mut s = vec![(
            format!(
                "Ranking (run {}; scores 0-100, mean over evals{})",
                self.run_id,
                match &self.baseline {
                    Some(b) => format!("; differences vs {b} at the same template and temperature"),
                    None => String::new(),
                }
            ),
            self.ranking(),
        )];
        if !self.tags.is_empty() {
            s.push((
                "Score per tag (mean over the tag's evals [95% CI])".into(),
                self.tag_table(),
            ));
        }
        if let Some(g) = &self.template_by_variant {
            s.push((
                "Template × quantization (mean score over temperatures)".into(),
                Self::grid_table(g),
            ));
        }
        if let Some(g) = &self.temperature_by_variant {
            s.push((
                "Temperature × quantization (mean score over templates)".into(),
                Self::grid_table(g),
            ));
        }
        if let Some(f) = &self.fidelity {
            s.push((
                format!(
                    "Fidelity against {} {} ({} answers of the reference teacher-forced, {} tokens scored per quantization)",
                    f.model, f.reference, f.sequences, f.tokens_scored
                ),
                f.table(),
            ));
            if !f.tags.is_empty() {
                s.push((
                    "Fidelity per tag: mean KLD (same top %)".into(),
                    f.tag_table(),
                ));
            }
        }
        if !self.errors.is_empty() {
            let mut rows = vec![
                ["configuration", "errored", "most frequent error", "samples"]
                    .map(String::from)
                    .to_vec(),
            ];
            rows.extend(self.errors.iter().map(|e| {
                vec![
                    e.config.clone(),
                    e.samples.to_string(),
                    e.error.clone(),
                    e.count.to_string(),
                ]
            }));
            s.push(("Errors".into(), rows));
        }
        s
    }

    /// The report for a terminal.
    pub fn text(&self) -> String {
        let mut out = sections_text(&self.sections());
        if let Some(t) = &self.time {
            out.push_str(&crate::output::console::time_line(t));
            out.push('\n');
        }
        if let Some(f) = &self.fidelity {
            out.push_str(&f.correlation_line());
            out.push('\n');
        }
        out
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = sections_markdown(&self.sections());
        if let Some(t) = &self.time {
            out.push_str(&crate::output::console::time_line(t));
            out.push_str("\n\n");
        }
        if let Some(f) = &self.fidelity {
            out.push_str(&f.correlation_line());
            out.push_str("\n\n");
        }
        out
    }

    /// The report as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a study serializes")
    }
}

/// The bits per weight a quantization's name promises, for ranking
/// quantizations when their files are not at hand: `F32` 32, `F16`/`BF16`
/// 16, `Q8_0` 8, `Q6_K` 6, `IQ4_XS` 4, ...; a K-quant's size suffix breaks
/// ties (`_L` > `_M` > `_S` > `_XS` > `_XXS`). `None` for other names.
///
/// ```
/// use litmus_core::output::study_report::nominal_bits;
/// assert!(nominal_bits("Q8_0") > nominal_bits("Q6_K"));
/// assert!(nominal_bits("q4_k_m") > nominal_bits("Q4_K_S"));
/// assert!(nominal_bits("BF16") > nominal_bits("Q8_0"));
/// assert_eq!(nominal_bits("my-finetune"), None);
/// ```
pub fn nominal_bits(quantization: &str) -> Option<f64> {
    let q = quantization.to_ascii_uppercase();
    match q.as_str() {
        "F32" => return Some(32.0),
        "F16" | "BF16" => return Some(16.0),
        _ => {}
    }
    let rest = q.strip_prefix("IQ").or_else(|| q.strip_prefix('Q'))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let bits: f64 = digits.parse().ok()?;
    let size = [
        ("_XXS", 0.1),
        ("_XS", 0.2),
        ("_S", 0.3),
        ("_M", 0.4),
        ("_L", 0.5),
    ]
    .iter()
    .find(|(suffix, _)| rest.ends_with(suffix))
    .map_or(0.0, |(_, s)| *s);
    Some(bits + size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::backend::ModelInfo;
    use crate::eval::score::Score;

    fn record(
        quant: &str,
        template: &str,
        t: f32,
        eval: &str,
        sample: u32,
        v: f64,
    ) -> SampleRecord {
        SampleRecord {
            eval: eval.into(),
            tags: vec![if eval.starts_with('p') {
                "python"
            } else {
                "qa"
            }
            .into()],
            model: "m".into(),
            backend: "llama".into(),
            quantization: Some(quant.into()),
            template: template.into(),
            temperature: t,
            seed: 1,
            sample,
            score: Some(Score::new(v)),
            ..SampleRecord::default()
        }
    }

    /// Q8_0 scores 60 everywhere; Q2_K 20 points less on every sample; Q4_0
    /// the same as Q8_0 up to ±1 noise.
    fn study(baseline: Option<&str>) -> Study {
        let mut records = Vec::new();
        for (q, shift) in [("Q8_0", 0.0), ("Q2_K", -20.0), ("Q4_0", 0.0)] {
            for template in ["plain", "expert"] {
                for t in [0.0, 0.7] {
                    for e in 0..12 {
                        for s in 0..3 {
                            let noise = if q == "Q4_0" {
                                [1.0, -1.0, 0.0][s as usize]
                            } else {
                                0.0
                            };
                            let eval = format!("{}{e}", if e % 2 == 0 { "p" } else { "q" });
                            let tshift = if template == "expert" { 5.0 } else { 0.0 };
                            records.push(record(
                                q,
                                template,
                                t,
                                &eval,
                                s,
                                60.0 + shift + noise + tshift,
                            ));
                        }
                    }
                }
            }
        }
        let mut models = BTreeMap::new();
        for (q, size) in [("Q8_0", 272u64), ("Q2_K", 220), ("Q4_0", 224)] {
            models.insert(
                ("m".to_string(), Some(q.to_string())),
                ModelInfo {
                    size_bytes: Some(size << 20),
                    parameters: Some(268_000_000),
                    ..ModelInfo::default()
                },
            );
        }
        let summary = RunSummary::build(
            "r1",
            "d",
            &records,
            &BTreeMap::new(),
            &models,
            &BTreeMap::new(),
        );
        Study::build(
            &summary,
            &records,
            &StudyOptions {
                baseline: baseline.map(str::to_string),
                seed: Some(7),
                tags: Vec::new(),
            },
        )
    }

    /// The study of `records` alone (run `r1`, no models, walls or minimums).
    fn study_of(records: &[SampleRecord], options: &StudyOptions) -> Study {
        let summary = RunSummary::build(
            "r1",
            "d",
            records,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        Study::build(&summary, records, options)
    }

    #[test]
    fn a_configuration_whose_samples_all_failed_has_no_score_and_ranks_last() {
        let mut records = Vec::new();
        for (q, failed) in [("Q8_0", true), ("Q2_K", false)] {
            for s in 0..2 {
                let mut r = record(q, "plain", 0.0, "p0", s, 10.0);
                if failed {
                    r.score = None;
                    r.error = Some("connection failed".into());
                }
                records.push(r);
            }
        }
        let study = study_of(&records, &StudyOptions::default());
        let ranking = study.ranking();
        let rows: Vec<(&str, &str, &str)> = ranking[1..]
            .iter()
            .map(|r| (r[1].as_str(), r[4].as_str(), r[5].as_str()))
            .collect();
        assert_eq!(
            rows,
            [("m Q2_K", "10.0 (n = 1)", "0.00"), ("m Q8_0", "-", "-")]
        );
        assert_eq!(study.tag_table()[1][2], "-", "{:?}", study.tag_table());
        // Why, not only how many.
        assert_eq!(study.errors.len(), 1, "{:?}", study.errors);
        assert_eq!(
            (study.errors[0].samples, study.errors[0].count),
            (2, 2),
            "{:?}",
            study.errors
        );
        assert_eq!(study.errors[0].error, "connection failed");
        let text = study.text();
        assert!(
            text.contains("Errors") && text.contains("connection failed"),
            "{text}"
        );
        // In JSON too: no score, not a score of 0 a script could read.
        let json: serde_json::Value = serde_json::from_str(&study.json()).unwrap();
        let q8 = &json["rows"][1];
        assert_eq!(q8["variant"], "m Q8_0");
        assert_eq!(
            (q8["score"]["n"].as_u64(), q8["score"]["mean"].is_null()),
            (Some(0), true)
        );
        assert!(
            q8["pass_at_1"].is_null() && q8["score"]["ci_low"].is_null(),
            "{q8}"
        );
        assert_eq!(json["rows"][0]["score"]["mean"], 10.0);
        let back: Study = serde_json::from_str(&study.json()).unwrap();
        assert_eq!(back, study);
    }

    #[test]
    fn grids_leave_out_configurations_that_scored_nothing() {
        // Q8_0 failed everything under `plain`; under `expert` it scored 30.
        let mut records = Vec::new();
        for q in ["Q8_0", "Q2_K"] {
            for template in ["plain", "expert"] {
                for t in [0.0, 0.7] {
                    let mut r = record(q, template, t, "p0", 0, 30.0);
                    if q == "Q8_0" && (template == "plain" || t == 0.7) {
                        r.score = None;
                        r.error = Some("connection failed".into());
                    }
                    records.push(r);
                }
            }
        }
        let study = study_of(&records, &StudyOptions::default());
        let by_template = Study::grid_table(study.template_by_variant.as_ref().unwrap());
        let cell = |rows: &[Vec<String>], row: &str, col: &str| {
            let c = rows[0].iter().position(|h| h == col).unwrap();
            rows.iter().find(|r| r[0] == row).unwrap()[c].clone()
        };
        assert_eq!(cell(&by_template, "plain", "m Q8_0"), "-");
        // Its one scored configuration (t=0), not averaged with a false 0.
        assert_eq!(cell(&by_template, "expert", "m Q8_0"), "30.0");
        assert_eq!(cell(&by_template, "plain", "m Q2_K"), "30.0");
        let by_t = Study::grid_table(study.temperature_by_variant.as_ref().unwrap());
        assert_eq!(cell(&by_t, "t=0.7", "m Q8_0"), "-");
        assert_eq!(cell(&by_t, "t=0", "m Q8_0"), "30.0");
    }

    #[test]
    fn ranks_compares_and_tabulates() {
        let s = study(None);
        // The default baseline is the variant with the most bits per weight.
        assert_eq!(s.baseline.as_deref(), Some("m Q8_0"));
        assert_eq!(s.rows.len(), 12);
        assert!(s
            .rows
            .windows(2)
            .all(|w| w[0].score.mean >= w[1].score.mean));
        assert_eq!(s.rows.last().unwrap().variant, "m Q2_K");
        for r in &s.rows {
            let bpw = r.bits_per_weight.unwrap();
            match r.config.quantization.as_deref() {
                Some("Q8_0") => {
                    assert!(r.vs_baseline.is_none());
                    assert!((bpw - 272.0 * 1048576.0 * 8.0 / 268e6).abs() < 1e-9);
                }
                Some("Q2_K") => {
                    let c = r.vs_baseline.as_ref().unwrap();
                    assert!((c.diff + 20.0).abs() < 1e-9, "{c:?}");
                    assert_eq!(c.n_pairs, 36);
                    assert_eq!(c.verdict.to_string(), "worse");
                }
                Some("Q4_0") => {
                    let c = r.vs_baseline.as_ref().unwrap();
                    assert!(c.diff.abs() < 1e-9, "{c:?}");
                    assert_eq!(c.verdict.to_string(), "no significant difference");
                }
                q => panic!("{q:?}"),
            }
        }
        assert_eq!(s.tags, vec!["python".to_string(), "qa".into()]);
        let q8 = s
            .rows
            .iter()
            .find(|r| r.variant == "m Q8_0" && r.config.template == "plain")
            .unwrap();
        let python = &q8.tags["python"];
        assert_eq!((python.n, python.mean, python.ci_low), (6, 60.0, 60.0));
        let g = s.template_by_variant.as_ref().unwrap();
        // Columns from the smallest file to the largest.
        assert_eq!(g.cols, vec!["m Q2_K", "m Q4_0", "m Q8_0"]);
        assert_eq!(g.rows, vec!["expert", "plain"]);
        assert_eq!(g.cells[0][2], Some(65.0));
        assert_eq!(g.cells[1][0], Some(40.0));
        let g = s.temperature_by_variant.as_ref().unwrap();
        assert_eq!(g.rows, vec!["t=0", "t=0.7"]);
        assert_eq!(g.cells[0][2], Some(62.5));

        let md = s.markdown();
        assert!(md.contains("| 1 | m Q"), "{md}");
        assert!(md.contains("-20.0 [-20.0, -20.0]"), "{md}");
        assert!(md.contains("Template × quantization"));
        let text = s.text();
        assert!(text.contains("baseline"));
        let back: Study = serde_json::from_str(&s.json()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn the_difference_to_the_baseline_weighs_evals_as_the_scores_do() {
        // `small`: one sample, failed under Q8_0 and passed under Q2_K;
        // `big`: nine samples that pass under both.
        let mut records = Vec::new();
        for (q, small) in [("Q8_0", 0.0), ("Q2_K", 100.0)] {
            records.push(record(q, "plain", 0.0, "small", 0, small));
            records.extend((0..9).map(|s| record(q, "plain", 0.0, "big", s, 100.0)));
        }
        let options = StudyOptions {
            baseline: Some("Q8_0".into()),
            ..StudyOptions::default()
        };
        let study = study_of(&records, &options);
        let row = |v: &str| study.rows.iter().find(|r| r.variant == v).unwrap();
        let (a, b) = (row("m Q8_0"), row("m Q2_K"));
        assert_eq!((a.score.mean, b.score.mean), (50.0, 100.0));
        let vs = b.vs_baseline.as_ref().unwrap();
        assert_eq!(vs.diff, b.score.mean - a.score.mean);
        assert_eq!((vs.n_pairs, vs.n_clusters), (10, 2));
    }

    /// Without the models' facts (a run summarized without its files), the
    /// baseline is the quantization with the most bits by name, not the
    /// best-ranked row.
    #[test]
    fn without_file_facts_the_baseline_is_the_most_bits_by_name() {
        let mut records = Vec::new();
        for (q, score) in [("Q2_K", 70.0), ("Q8_0", 60.0), ("Q4_K_M", 65.0)] {
            for e in 0..8 {
                records.push(record(q, "plain", 0.0, &format!("e{e}"), 0, score));
            }
        }
        let s = study_of(&records, &StudyOptions::default());
        assert_eq!(s.rows[0].variant, "m Q2_K");
        assert_eq!(s.baseline.as_deref(), Some("m Q8_0"));
    }

    #[test]
    fn baseline_by_name() {
        let s = study(Some("q2_k"));
        assert_eq!(s.baseline.as_deref(), Some("m Q2_K"));
        let q8 = s.rows.iter().find(|r| r.variant == "m Q8_0").unwrap();
        assert!((q8.vs_baseline.as_ref().unwrap().diff - 20.0).abs() < 1e-9);
    }

    #[test]
    fn fidelity_sits_next_to_score_changes() {
        use crate::run::fidelity::{ConfigFidelity, EvalFidelity, FidelityReport, FidelityStats};
        // Q2_K loses 5 points more on each eval whose KLD is 0.1 higher.
        let mut records = Vec::new();
        for e in 0..4 {
            records.push(record("Q8_0", "plain", 0.0, &format!("p{e}"), 0, 60.0));
            let v = 60.0 - 5.0 * e as f64;
            records.push(record("Q2_K", "plain", 0.0, &format!("p{e}"), 0, v));
        }
        let report = FidelityReport {
            model: "m".into(),
            reference: "Q8_0".into(),
            sequences: 4,
            tokens_scored: 40,
            configs: vec![ConfigFidelity {
                quantization: "Q2_K".into(),
                overall: FidelityStats {
                    tokens: 40,
                    mean_kld: 0.15,
                    same_top: 0.8,
                    ..FidelityStats::default()
                },
                by_tag: [(
                    "python".to_string(),
                    FidelityStats {
                        mean_kld: 0.15,
                        same_top: 0.8,
                        ..FidelityStats::default()
                    },
                )]
                .into(),
                by_eval: (0..4)
                    .map(|e| {
                        let f = EvalFidelity {
                            tokens: 10,
                            mean_kld: 0.1 * e as f64,
                            same_top: 0.8,
                        };
                        (format!("p{e}"), f)
                    })
                    .collect(),
                ..ConfigFidelity::default()
            }],
            ..FidelityReport::default()
        };
        let summary = RunSummary::build(
            "r",
            "d",
            &records,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        let s = Study::build(&summary, &records, &StudyOptions::default())
            .with_fidelity(&report, &records);
        let f = s.fidelity.as_ref().unwrap();
        assert_eq!(f.rows.len(), 1);
        assert_eq!(f.rows[0].evals, 4);
        assert!((f.rows[0].score_delta.unwrap() + 7.5).abs() < 1e-9);
        assert!((f.rows[0].r.unwrap() + 1.0).abs() < 1e-9);
        assert!((f.pooled_r.unwrap() + 1.0).abs() < 1e-9);
        let md = s.markdown();
        assert!(md.contains("### Fidelity against m Q8_0"), "{md}");
        assert!(md.contains("| Q2_K | 0.1500 [0.0000, 0.0000]"), "{md}");
        assert!(md.contains("| python | 0.1500 (80%) |"), "{md}");
        assert!(
            md.contains("r = -1.00 (4 eval × quantization pairs)"),
            "{md}"
        );
        assert!(s.text().contains("Fidelity per tag"));
        let back: Study = serde_json::from_str(&s.json()).unwrap();
        assert_eq!(back, s);
        // Without scores of the quantizations, no correlation.
        let only_ref: Vec<_> = records
            .iter()
            .filter(|r| r.quantization.as_deref() == Some("Q8_0"))
            .cloned()
            .collect();
        let f = FidelitySection::build(&report, &only_ref);
        assert_eq!((f.rows[0].score_delta, f.pooled_r), (None, None));
        assert!(f.correlation_line().contains("no scores"));
    }

    #[test]
    fn pearson_of_lines_and_noise() {
        let line: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        assert!((pearson(&line).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[(1.0, 1.0), (2.0, 2.0)]), None);
        assert_eq!(pearson(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]), None);
    }
}
