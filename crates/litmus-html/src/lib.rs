//! The HTML report of a litmus run: one self-contained file (inline CSS, JS
//! and SVG; nothing fetched from the network) that opens from disk or from a
//! CI artifact.
//!
//! - **Overview**: the configurations ranked with score, 95% CI, pass@1,
//!   speed, size, bits per weight and memory, and the paired verdicts against
//!   the baseline quantization — the figures of [`Study`], not recomputed.
//! - **Plots**: score per quantization, template and temperature with CI
//!   error bars; score against generation speed with the Pareto front; score
//!   per tag as a heat map; the distribution of sample scores.
//! - **Grid**: evals × configurations coloured by score, with filters
//!   (failures, errors, evals whose configurations differ, tag, text).
//! - **Drill-down**: a cell opens its samples — prompt, response, extracted
//!   code, sandbox or judge output, score parts, timings, error.
//! - **Fidelity**, when the run has a `fidelity.json` (`cargo eval
//!   fidelity`): each quantization's KL divergence, top-token agreement and
//!   Δp against the reference, next to its score change, and per tag.
//! - **Run against run** ([`render_comparison`], [`Comparison`]): paired
//!   differences per eval and overall, flipped evals, speed changes.
//!
//! ```no_run
//! use litmus_core::output::study_report::StudyOptions;
//! let run = litmus_html::Run::load("target/litmus/runs/20261127-152852-e75ce9".as_ref())?;
//! std::fs::write("report.html", litmus_html::render(&run, &StudyOptions::default()))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compare;
mod data;
mod page;
mod svg;

use std::path::{Path, PathBuf};

use litmus_core::output::study_report::{Study, StudyOptions};
use litmus_core::run::fidelity::FidelityReport;
use litmus_core::run::store::{read_run, RunMeta, SampleRecord};
use litmus_core::run::summary::RunSummary;

pub use compare::{Comparison, ConfigComparison, EvalComparison};

/// The file name of the report written next to a run's results.
pub const REPORT_FILE: &str = "report.html";

/// A stored run: its metadata, samples and summary.
#[derive(Clone, Debug)]
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// `run.json`, when readable.
    pub meta: Option<RunMeta>,
    /// The samples (the last record of each sample key).
    pub records: Vec<SampleRecord>,
    /// `summary.json`, or a summary rebuilt from the samples (without model
    /// facts) when the run was interrupted before writing it.
    pub summary: RunSummary,
    /// `fidelity.json`, when `cargo eval fidelity` measured the run's
    /// quantizations.
    pub fidelity: Option<FidelityReport>,
}

impl Run {
    /// Reads the run in `dir`.
    pub fn load(dir: &Path) -> Result<Run, String> {
        let records = read_run(dir).map_err(|e| e.to_string())?;
        let summary = RunSummary::of_stored_run(dir, &records)?;
        let meta = std::fs::read(dir.join("run.json"))
            .ok()
            .and_then(|d| serde_json::from_slice::<RunMeta>(&d).ok());
        let fidelity = match FidelityReport::load(dir) {
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => {
                eprintln!("warning: {e}: the report leaves fidelity out");
                None
            }
            None => None,
        };
        Ok(Run {
            dir: dir.to_path_buf(),
            meta,
            records,
            summary,
            fidelity,
        })
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.summary.run_id
    }

    /// The study report of the run (with its fidelity section when the run
    /// has a `fidelity.json`).
    pub fn study(&self, options: &StudyOptions) -> Study {
        let study = Study::build(&self.summary, &self.records, options);
        match &self.fidelity {
            Some(f) => study.with_fidelity(f, &self.records),
            None => study,
        }
    }
}

/// The report of one run, as a self-contained HTML document.
pub fn render(run: &Run, options: &StudyOptions) -> String {
    page::run_page(run, &run.study(options))
}

/// Run `b` against run `a`, side by side, as a self-contained HTML document.
pub fn render_comparison(a: &Run, b: &Run, options: &StudyOptions) -> String {
    let cmp = Comparison::build(a, b);
    page::comparison_page(a, b, &a.study(options), &b.study(options), &cmp)
}

/// Writes [`REPORT_FILE`] into the run directory `dir` (default study
/// options); returns its path.
pub fn write_report(dir: &Path) -> Result<PathBuf, String> {
    let run = Run::load(dir)?;
    let path = dir.join(REPORT_FILE);
    std::fs::write(&path, render(&run, &StudyOptions::default()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// `s` with `&`, `<`, `>` and quotes escaped for HTML text and attributes,
/// and the bidirectional controls shown as escapes (`\u{202e}`): a name
/// set inline cannot reverse the page's own text after it.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if litmus_core::base::util::is_bidi_control(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod testing {
    //! Synthetic runs for the tests.
    use std::collections::BTreeMap;

    use litmus_core::base::backend::{ModelInfo, Prompt, Timings, Usage};
    use litmus_core::eval::score::Score;
    use litmus_core::run::store::SampleRecord;
    use litmus_core::run::summary::RunSummary;

    use crate::Run;

    /// A record of eval `eval` under quantization `quant`.
    pub fn record(
        quant: &str,
        template: &str,
        t: f32,
        eval: &str,
        sample: u32,
        v: f64,
    ) -> SampleRecord {
        let code = eval.starts_with("python");
        SampleRecord {
            eval: eval.into(),
            tags: if code {
                vec!["python".into(), "code".into()]
            } else {
                vec!["qa".into()]
            },
            model: "m".into(),
            backend: "llama".into(),
            quantization: Some(quant.into()),
            template: template.into(),
            temperature: t,
            seed: 1,
            sample,
            prompt: Some(if code {
                Prompt::Completion(format!(
                    "def {}(x):\n    \"\"\"Return x.\"\"\"\n",
                    eval.replace("::", "_")
                ))
            } else {
                Prompt::user(format!("What is {eval}? <b>bold</b>"))
            }),
            response: Some(if code {
                "    return x\n".to_string()
            } else {
                format!("It is {v}. </script><script>alert(1)</script>")
            }),
            score: Some(
                Score::new(v)
                    .part("parsed", v / 4.0)
                    .details(format!("test 0 failed: {eval}")),
            ),
            usage: Usage::counted(50, 20),
            timings: Timings {
                prompt_ms: Some(100.0),
                generation_ms: Some(match quant {
                    "Q8_0" => 2000.0,
                    "Q4_0" => 1000.0,
                    _ => 900.0,
                }),
                ttft_ms: Some(120.0),
                total_ms: 2100.0,
            },
            at_ms: 1_000_000 + u64::from(sample) * 1000,
            ..SampleRecord::default()
        }
    }

    /// Three quantizations × two templates × two temperatures; Q2_K 20
    /// points below Q8_0; one errored sample.
    pub fn run() -> Run {
        let mut records = Vec::new();
        for (q, shift) in [("Q8_0", 0.0), ("Q2_K", -20.0), ("Q4_0", 0.0)] {
            for template in ["plain", "base"] {
                for t in [0.0, 0.7] {
                    for e in 0..8 {
                        for s in 0..2 {
                            let eval = if e % 2 == 0 {
                                format!("python::f{e}")
                            } else {
                                format!("qa::q{e}")
                            };
                            let v = (30.0 + 10.0 * e as f64 + shift).clamp(0.0, 100.0);
                            records.push(record(
                                q,
                                template,
                                t,
                                &eval,
                                s,
                                if e == 7 { 100.0 } else { v },
                            ));
                        }
                    }
                }
            }
        }
        let last = records.last_mut().unwrap();
        last.score = None;
        last.error = Some("connection failed: refused".into());
        let mut models = BTreeMap::new();
        for (q, size) in [("Q8_0", 272u64), ("Q2_K", 220), ("Q4_0", 224)] {
            models.insert(
                ("m".to_string(), Some(q.to_string())),
                ModelInfo {
                    size_bytes: Some(size << 20),
                    parameters: Some(268_000_000),
                    resident_bytes: Some(size << 21),
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
        Run {
            dir: "d".into(),
            meta: None,
            records,
            summary,
            fidelity: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaped_text_cannot_reorder_or_open_markup() {
        assert_eq!(
            super::esc("m\u{202e}<b a='x'>&\u{2066}"),
            "m\\u{202e}&lt;b a=&#39;x&#39;&gt;&amp;\\u{2066}"
        );
    }
}
