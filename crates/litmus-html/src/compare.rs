//! Run against run: each configuration of run B paired with the same
//! configuration of run A, compared over the same evals, repeats and sample indices
//! with the paired statistics of the study (cluster bootstrap CI by eval,
//! sign-flip permutation p-value, [`litmus_metrics::stats::paired_comparison`]),
//! overall and per eval; the evals that flipped; the speed changes.

use std::collections::BTreeMap;

use litmus_core::output::ci::sections_markdown;
use litmus_core::output::console::sections_text;
use litmus_core::run::store::{ConfigKey, SampleRecord};
use litmus_core::run::summary::{Speed, BOOTSTRAP_SEED};
use litmus_metrics::stats::{
    paired_comparison, paired_comparison_by_cluster, PairedComparison, Verdict,
};
use serde::{Deserialize, Serialize};

use crate::Run;

/// One eval under a pair of configurations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalComparison {
    /// The eval.
    pub eval: String,
    /// Mean score in run A (absent: not run or nothing scored).
    pub mean_a: Option<f64>,
    /// Mean score in run B.
    pub mean_b: Option<f64>,
    /// Pass rate in run A.
    pub pass_a: Option<f64>,
    /// Pass rate in run B.
    pub pass_b: Option<f64>,
    /// Paired over the sample indices scored in both runs.
    pub paired: Option<PairedComparison>,
    /// `Some(true)`: passed in most samples in B and not in A; `Some(false)`:
    /// the other way round; `None`: no flip.
    pub flipped: Option<bool>,
    /// Samples of the eval that errored (no score) in run A.
    #[serde(default)]
    pub errors_a: usize,
    /// Samples of the eval that errored in run B.
    #[serde(default)]
    pub errors_b: usize,
}

/// A configuration of run B against its counterpart in run A.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigComparison {
    /// The configuration in run A.
    pub a: ConfigKey,
    /// The configuration in run B.
    pub b: ConfigKey,
    /// Over every (eval, sample) scored in both, clustered by eval; `diff`
    /// is B − A in points.
    pub overall: Option<PairedComparison>,
    /// Per eval, by name.
    pub evals: Vec<EvalComparison>,
    /// Speed in run A.
    pub speed_a: Speed,
    /// Speed in run B.
    pub speed_b: Speed,
}

impl ConfigComparison {
    /// `A label → B label`, or the label alone when they are the same.
    pub fn label(&self) -> String {
        if self.a == self.b {
            self.a.label()
        } else {
            format!("{} → {}", self.a.label(), self.b.label())
        }
    }

    /// The evals that flipped.
    pub fn flips(&self) -> impl Iterator<Item = &EvalComparison> {
        self.evals.iter().filter(|e| e.flipped.is_some())
    }

    /// Samples that errored in run A and in run B.
    pub fn errors(&self) -> (usize, usize) {
        self.evals
            .iter()
            .fold((0, 0), |(a, b), e| (a + e.errors_a, b + e.errors_b))
    }

    /// The evals scored in one run only (every sample of the other errored
    /// or is missing), which the paired statistics cannot include: those
    /// scored in A only, then those scored in B only.
    pub fn one_sided(&self) -> (Vec<&str>, Vec<&str>) {
        let only = |a: fn(&EvalComparison) -> bool| {
            self.evals
                .iter()
                .filter(|e| a(e))
                .map(|e| e.eval.as_str())
                .collect()
        };
        (
            only(|e| e.mean_a.is_some() && e.mean_b.is_none()),
            only(|e| e.mean_a.is_none() && e.mean_b.is_some()),
        )
    }
}

/// Run B against run A.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Run A's id.
    pub a: String,
    /// Run B's id.
    pub b: String,
    /// The configuration pairs.
    pub configs: Vec<ConfigComparison>,
    /// Configurations of A without a counterpart in B.
    pub only_a: Vec<ConfigKey>,
    /// Configurations of B without a counterpart in A.
    pub only_b: Vec<ConfigKey>,
}

fn configs(records: &[SampleRecord]) -> Vec<ConfigKey> {
    let mut keys: Vec<ConfigKey> = records.iter().map(SampleRecord::config).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Per eval: (repeat, sample) → (score, passed).
type Scores<'a> = BTreeMap<&'a str, BTreeMap<(u32, u32), (f64, bool)>>;

/// The scores of configuration `key` per eval, and its errored samples per
/// eval.
fn scores<'a>(
    records: &'a [SampleRecord],
    key: &ConfigKey,
) -> (Scores<'a>, BTreeMap<&'a str, usize>) {
    let mut out: Scores = BTreeMap::new();
    let mut errors: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records.iter().filter(|r| &r.config() == key) {
        let entry = out.entry(r.eval.as_str()).or_default();
        match &r.score {
            Some(s) => {
                entry.insert((r.repeat, r.sample), (s.value, s.passed));
            }
            None => *errors.entry(r.eval.as_str()).or_default() += 1,
        }
    }
    (out, errors)
}

fn mean_pass(samples: &BTreeMap<(u32, u32), (f64, bool)>) -> Option<(f64, f64)> {
    (!samples.is_empty()).then(|| {
        let n = samples.len() as f64;
        (
            samples.values().map(|s| s.0).sum::<f64>() / n,
            samples.values().filter(|s| s.1).count() as f64 / n,
        )
    })
}

impl Comparison {
    /// Pairs configurations by identity (model, quantization, template,
    /// temperature); when what is left is one configuration on each side
    /// (say, two models), those two.
    pub fn build(a: &Run, b: &Run) -> Comparison {
        let ka = configs(&a.records);
        let kb = configs(&b.records);
        let mut pairs: Vec<(ConfigKey, ConfigKey)> = ka
            .iter()
            .filter(|k| kb.contains(k))
            .map(|k| (k.clone(), k.clone()))
            .collect();
        let mut only_a: Vec<ConfigKey> = ka.iter().filter(|k| !kb.contains(k)).cloned().collect();
        let mut only_b: Vec<ConfigKey> = kb.iter().filter(|k| !ka.contains(k)).cloned().collect();
        if only_a.len() == 1 && only_b.len() == 1 {
            pairs.push((only_a.remove(0), only_b.remove(0)));
        }
        let configs = pairs
            .into_iter()
            .map(|(ca, cb)| compare_config(a, b, ca, cb))
            .collect();
        Comparison {
            a: a.id().to_string(),
            b: b.id().to_string(),
            configs,
            only_a,
            only_b,
        }
    }

    /// Tables: overall, speed, then the evals that changed, per pair.
    fn sections(&self) -> Vec<(String, Vec<Vec<String>>)> {
        let mut out = Vec::new();
        let mut overall = vec![[
            "configuration",
            "A score",
            "B score",
            "B − A [95% CI]",
            "p",
            "verdict",
            "evals",
            "errors A → B",
            "flips (A→B)",
            "gen tok/s A → B",
            "prompt tok/s A → B",
            "TTFT ms A → B",
        ]
        .map(String::from)
        .to_vec()];
        for c in &self.configs {
            let (up, down) = c.flips().fold((0, 0), |(u, d), e| {
                if e.flipped == Some(true) {
                    (u + 1, d)
                } else {
                    (u, d + 1)
                }
            });
            let mut row = vec![c.label()];
            match &c.overall {
                Some(p) => row.extend([
                    format!("{:.1}", p.mean_a),
                    format!("{:.1}", p.mean_b),
                    format!("{:+.1} [{:+.1}, {:+.1}]", p.diff, p.ci_low, p.ci_high),
                    format!("{:.3}", p.p_value),
                    p.verdict.to_string(),
                    p.n_clusters.to_string(),
                ]),
                None => row.extend(["-", "-", "-", "", "no paired samples", "0"].map(String::from)),
            }
            let (ea, eb) = c.errors();
            row.push(format!("{ea} → {eb}"));
            row.push(format!("+{up} / -{down}"));
            row.push(speed_change(
                c.speed_a.generation_tps,
                c.speed_b.generation_tps,
                1,
            ));
            row.push(speed_change(c.speed_a.prompt_tps, c.speed_b.prompt_tps, 0));
            row.push(speed_change(c.speed_a.ttft_ms, c.speed_b.ttft_ms, 0));
            overall.push(row);
        }
        out.push((
            format!(
                "Run {} (B) against run {} (A): paired over the same evals and samples; scores 0-100",
                self.b, self.a
            ),
            overall,
        ));
        let mut one_sided = vec![vec![
            "configuration".to_string(),
            "scored in".into(),
            "evals".into(),
            "names (the other run has no score: every sample errored or is missing)".into(),
        ]];
        for c in &self.configs {
            let (only_a, only_b) = c.one_sided();
            for (run, evals) in [("A only", only_a), ("B only", only_b)] {
                if !evals.is_empty() {
                    one_sided.push(vec![
                        c.label(),
                        run.into(),
                        evals.len().to_string(),
                        evals.join(", "),
                    ]);
                }
            }
        }
        if one_sided.len() > 1 {
            out.push((
                "Not in the paired statistics: evals scored in one run only".into(),
                one_sided,
            ));
        }
        for c in &self.configs {
            let mut rows = vec![[
                "eval",
                "A",
                "B",
                "B − A [95% CI]",
                "p",
                "verdict",
                "flip",
                "errors A → B",
            ]
            .map(String::from)
            .to_vec()];
            let mut changed: Vec<&EvalComparison> = c
                .evals
                .iter()
                .filter(|e| {
                    e.flipped.is_some()
                        || e.paired.as_ref().is_some_and(|p| p.diff.abs() >= 0.05)
                        || e.mean_a.is_none() != e.mean_b.is_none()
                        || e.errors_a != e.errors_b
                })
                .collect();
            changed.sort_by(|x, y| {
                let d = |e: &EvalComparison| e.paired.as_ref().map_or(0.0, |p| p.diff);
                d(x).total_cmp(&d(y)).then_with(|| x.eval.cmp(&y.eval))
            });
            for e in &changed {
                let opt =
                    |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
                let mut row = vec![e.eval.clone(), opt(e.mean_a), opt(e.mean_b)];
                match &e.paired {
                    Some(p) => row.extend([
                        format!("{:+.1} [{:+.1}, {:+.1}]", p.diff, p.ci_low, p.ci_high),
                        format!("{:.3}", p.p_value),
                        p.verdict.to_string(),
                    ]),
                    None => row.extend(["-", "", ""].map(String::from)),
                }
                row.push(match e.flipped {
                    Some(true) => "fail → pass".into(),
                    Some(false) => "pass → fail".into(),
                    None => String::new(),
                });
                row.push(match (e.errors_a, e.errors_b) {
                    (0, 0) => String::new(),
                    (a, b) => format!("{a} → {b}"),
                });
                rows.push(row);
            }
            if rows.len() > 1 {
                out.push((
                    format!(
                        "{}: {} of {} evals changed (worst first)",
                        c.label(),
                        rows.len() - 1,
                        c.evals.len()
                    ),
                    rows,
                ));
            }
        }
        if !self.only_a.is_empty() || !self.only_b.is_empty() {
            let mut rows = vec![vec![
                "run".to_string(),
                "configuration without a counterpart".into(),
            ]];
            rows.extend(self.only_a.iter().map(|k| vec!["A".into(), k.label()]));
            rows.extend(self.only_b.iter().map(|k| vec!["B".into(), k.label()]));
            out.push(("Unpaired configurations".into(), rows));
        }
        out
    }

    /// The comparison for a terminal.
    pub fn text(&self) -> String {
        sections_text(&self.sections())
    }

    /// The comparison as Markdown.
    pub fn markdown(&self) -> String {
        sections_markdown(&self.sections())
    }

    /// The comparison as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a comparison serializes")
    }

    /// Whether any configuration got significantly worse.
    pub fn regressed(&self) -> bool {
        self.configs.iter().any(|c| {
            c.overall
                .as_ref()
                .is_some_and(|p| p.verdict == Verdict::Worse)
        })
    }
}

/// `a → b (+x%)`.
pub(crate) fn speed_change(a: Option<f64>, b: Option<f64>, digits: usize) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a > 0.0 => {
            // Rounded first, so that a tiny drop reads +0%, not -0%.
            let change = ((b / a - 1.0) * 100.0).round() + 0.0;
            format!("{a:.digits$} → {b:.digits$} ({change:+.0}%)")
        }
        (a, b) => {
            let f = |v: Option<f64>| {
                v.map(|v| format!("{v:.digits$}"))
                    .unwrap_or_else(|| "-".into())
            };
            format!("{} → {}", f(a), f(b))
        }
    }
}

fn compare_config(a: &Run, b: &Run, ca: ConfigKey, cb: ConfigKey) -> ConfigComparison {
    let (sa, errors_a) = scores(&a.records, &ca);
    let (sb, errors_b) = scores(&b.records, &cb);
    let mut evals: Vec<&str> = sa.keys().chain(sb.keys()).copied().collect();
    evals.sort_unstable();
    evals.dedup();
    let empty = BTreeMap::new();
    let mut all_pairs: Vec<(String, f64, f64)> = Vec::new();
    let per_eval = evals
        .into_iter()
        .map(|eval| {
            let xa = sa.get(eval).unwrap_or(&empty);
            let xb = sb.get(eval).unwrap_or(&empty);
            let pairs: Vec<(String, f64, f64)> = xa
                .iter()
                .filter_map(|(k, va)| xb.get(k).map(|vb| (format!("{}/{}", k.0, k.1), va.0, vb.0)))
                .collect();
            all_pairs.extend(pairs.iter().map(|(_, va, vb)| (eval.to_string(), *va, *vb)));
            let ma = mean_pass(xa);
            let mb = mean_pass(xb);
            let flipped = match (ma, mb) {
                (Some((_, pa)), Some((_, pb))) if (pa > 0.5) != (pb > 0.5) => Some(pb > 0.5),
                _ => None,
            };
            EvalComparison {
                eval: eval.to_string(),
                mean_a: ma.map(|m| m.0),
                mean_b: mb.map(|m| m.0),
                pass_a: ma.map(|m| m.1),
                pass_b: mb.map(|m| m.1),
                paired: (!pairs.is_empty()).then(|| paired_comparison(&pairs, BOOTSTRAP_SEED)),
                flipped,
                errors_a: errors_a.get(eval).copied().unwrap_or(0),
                errors_b: errors_b.get(eval).copied().unwrap_or(0),
            }
        })
        .collect();
    let speed =
        |run: &Run, key: &ConfigKey| Speed::of(run.records.iter().filter(|r| &r.config() == key));
    ConfigComparison {
        // Each eval weighs the same, as in a configuration's score.
        overall: (!all_pairs.is_empty())
            .then(|| paired_comparison_by_cluster(&all_pairs, BOOTSTRAP_SEED)),
        evals: per_eval,
        speed_a: speed(a, &ca),
        speed_b: speed(b, &cb),
        a: ca,
        b: cb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    /// An eval whose every sample errored in B is not in the paired
    /// statistics: the comparison says so, with the errors, instead of
    /// reading as "no eval changed".
    #[test]
    fn evals_lost_to_errors_are_shown_not_dropped() {
        let a = testing::run();
        let mut b = testing::run();
        for r in b.records.iter_mut().filter(|r| r.eval == "qa::q1") {
            r.score = None;
            r.error = Some("boom".into());
        }
        b.summary.run_id = "r2".into();
        let c = Comparison::build(&a, &b);
        let per_config = c.configs[0]
            .evals
            .iter()
            .find(|e| e.eval == "qa::q1")
            .unwrap();
        let samples = per_config.errors_b;
        assert!(samples > 0 && per_config.errors_a == 0, "{per_config:?}");
        assert_eq!(c.configs[0].errors(), (0, samples));
        assert_eq!(c.configs[0].one_sided(), (vec!["qa::q1"], vec![]));
        let text = c.text();
        assert!(text.contains("Not in the paired statistics"), "{text}");
        assert!(text.contains("A only         1  qa::q1"), "{text}");
        assert!(text.contains(&format!("0 → {samples}")), "{text}");
        let html = crate::render_comparison(&a, &b, &Default::default());
        assert!(
            html.contains(
                "Scored in run A only (1 eval: every sample errored or is missing in run B"
            ),
            "no note"
        );
        assert!(!html.contains("No eval changed."));
    }

    #[test]
    fn paired_per_eval_and_overall_with_flips_and_speed() {
        let a = testing::run();
        let mut b = testing::run();
        // B: qa::q1 passes everywhere, python::f0 is 10 points worse, and
        // generation is twice as fast.
        for r in &mut b.records {
            if r.eval == "qa::q1" {
                if let Some(s) = &mut r.score {
                    s.value = 100.0;
                    s.passed = true;
                }
            }
            if r.eval == "python::f0" {
                if let Some(s) = &mut r.score {
                    s.value -= 10.0;
                }
            }
            r.timings.generation_ms = r.timings.generation_ms.map(|t| t / 2.0);
        }
        b.summary.run_id = "r2".into();
        let c = Comparison::build(&a, &b);
        assert_eq!((c.a.as_str(), c.b.as_str()), ("r1", "r2"));
        assert_eq!(c.configs.len(), 12);
        assert!(c.only_a.is_empty() && c.only_b.is_empty());
        let q8 = c
            .configs
            .iter()
            .find(|x| {
                x.a.quantization.as_deref() == Some("Q8_0")
                    && x.a.template == "plain"
                    && x.a.temperature() == 0.0
            })
            .unwrap();
        let f0 = q8.evals.iter().find(|e| e.eval == "python::f0").unwrap();
        assert!((f0.paired.as_ref().unwrap().diff + 10.0).abs() < 1e-9);
        let q1 = q8.evals.iter().find(|e| e.eval == "qa::q1").unwrap();
        assert_eq!(q1.flipped, Some(true));
        assert_eq!(q8.flips().count(), 1);
        // Overall: +60 on one eval, −10 on another, of 8 (16 sample pairs).
        let overall = q8.overall.as_ref().unwrap();
        assert_eq!(overall.n_clusters, 8);
        assert!(
            (overall.diff - (60.0 - 10.0) / 8.0).abs() < 1e-9,
            "{overall:?}"
        );
        let ga = q8.speed_a.generation_tps.unwrap();
        let gb = q8.speed_b.generation_tps.unwrap();
        assert!((gb / ga - 2.0).abs() < 1e-9);
        let text = c.text();
        assert!(text.contains("fail → pass"), "{text}");
        assert!(text.contains("(+100%)"), "{text}");
        let md = c.markdown();
        assert!(md.contains("| qa::q1 |"), "{md}");
        let back: Comparison = serde_json::from_str(&c.json()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn repeats_are_paired_repeat_by_repeat() {
        let mut a = testing::run();
        let again: Vec<_> = a
            .records
            .iter()
            .map(|r| SampleRecord {
                repeat: 1,
                ..r.clone()
            })
            .collect();
        a.records.extend(again);
        let c = Comparison::build(&a, &a);
        let first = c.configs[0].overall.as_ref().unwrap();
        // 8 evals × 2 samples × 2 repeats, nothing overwritten.
        assert_eq!((first.n_pairs, first.n_clusters), (32, 8));
        assert_eq!(first.diff, 0.0);
    }

    #[test]
    fn lone_configurations_pair_up_and_the_rest_are_listed() {
        let a = testing::run();
        let mut b = testing::run();
        b.records.retain(|r| {
            r.quantization.as_deref() == Some("Q8_0")
                && r.template == "plain"
                && r.temperature == 0.0
        });
        for r in &mut b.records {
            r.model = "other".into();
        }
        let c = Comparison::build(&a, &b);
        assert_eq!(
            c.configs.len(),
            0,
            "eleven configurations against one: nothing to pair"
        );
        assert_eq!((c.only_a.len(), c.only_b.len()), (12, 1));
        let mut a1 = testing::run();
        a1.records.retain(|r| {
            r.quantization.as_deref() == Some("Q4_0")
                && r.template == "base"
                && r.temperature == 0.7
        });
        let c = Comparison::build(&a1, &b);
        assert_eq!(c.configs.len(), 1);
        assert!(
            c.configs[0].label().contains(" → other"),
            "{}",
            c.configs[0].label()
        );
        assert_eq!(speed_change(Some(2.0), Some(3.0), 1), "2.0 → 3.0 (+50%)");
        assert_eq!(speed_change(None, Some(3.0), 1), "- → 3.0");
    }
}
