//! The study report: every configuration of a run (model × quantization ×
//! template × temperature) side by side — score with its confidence interval,
//! per-tag scores, speed, size, bits per weight, memory — ranked, with a
//! paired comparison of each configuration against a baseline quantization
//! under the same template and temperature, and the template × quantization
//! and temperature × quantization tables.
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

use litmus_metrics::stats::{paired_comparison, summarize, PairedComparison, Summary};
use serde::{Deserialize, Serialize};

use crate::output::console::table;
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
    /// Unbiased pass@1 averaged over evals.
    pub pass_at_1: f64,
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
                let mut by_tag: BTreeMap<String, Vec<f64>> = BTreeMap::new();
                for u in &units {
                    for t in &u.tags {
                        if options.tags.is_empty() || options.tags.contains(t) {
                            tags.insert(t.clone());
                            by_tag.entry(t.clone()).or_default().push(u.score.mean);
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
                    pass_at_1: c.pass_at_1,
                    scored: c.scored,
                    errors: c.errors,
                    tags: by_tag
                        .into_iter()
                        .map(|(t, means)| (t, summarize(&means, seed)))
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
        rows.sort_by(|a, b| {
            b.score
                .mean
                .total_cmp(&a.score.mean)
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
            rows.iter()
                .filter(|r| r.bits_per_weight.is_some())
                .max_by(|a, b| {
                    a.bits_per_weight
                        .unwrap()
                        .total_cmp(&b.bits_per_weight.unwrap())
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
                    row.vs_baseline = Some(paired_comparison(&pairs, seed));
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
                                .filter(|r| &r.variant == v && &dim(&r.config) == rl)
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
        }
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
                format!(
                    "{:.1} [{:.1}, {:.1}]",
                    r.score.mean, r.score.ci_low, r.score.ci_high
                ),
                format!("{:.2}", r.pass_at_1),
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
            line.extend(self.rows.iter().map(|r| {
                r.tags
                    .get(t)
                    .map(|v| format!("{:.1} [{:.1}, {:.1}]", v.mean, v.ci_low, v.ci_high))
                    .unwrap_or_else(|| "-".into())
            }));
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
        s
    }

    /// The report for a terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (title, rows) in self.sections() {
            out.push_str(&title);
            out.push('\n');
            for line in table(&rows) {
                out.push_str("  ");
                out.push_str(&line);
                out.push('\n');
            }
            out.push('\n');
        }
        if let Some(t) = &self.time {
            out.push_str(&crate::output::console::time_line(t));
            out.push('\n');
        }
        out
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for (title, rows) in self.sections() {
            out.push_str(&format!("### {title}\n\n"));
            for (i, row) in rows.iter().enumerate() {
                let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
                if i == 0 {
                    let sep: Vec<&str> = row
                        .iter()
                        .enumerate()
                        .map(|(j, _)| if j == 0 { "---" } else { "---:" })
                        .collect();
                    out.push_str(&format!("| {} |\n", sep.join(" | ")));
                }
            }
            out.push('\n');
        }
        if let Some(t) = &self.time {
            out.push_str(&crate::output::console::time_line(t));
            out.push_str("\n\n");
        }
        out
    }

    /// The report as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a study serializes")
    }
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
            digest: String::new(),
            template: template.into(),
            temperature: t,
            seed: 1,
            sample,
            repeat: 0,
            prompt: None,
            response: None,
            exchanges: vec![],
            score: Some(Score::new(v)),
            usage: Default::default(),
            timings: Default::default(),
            cached: false,
            error: None,
            at_ms: 0,
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
    fn baseline_by_name() {
        let s = study(Some("q2_k"));
        assert_eq!(s.baseline.as_deref(), Some("m Q2_K"));
        let q8 = s.rows.iter().find(|r| r.variant == "m Q8_0").unwrap();
        assert!((q8.vs_baseline.as_ref().unwrap().diff - 20.0).abs() < 1e-9);
    }
}
