//! Text metrics and statistics for litmus.
//!
//! Two halves, both pure Rust:
//!
//! * **Metrics** that agree with what everybody else computes: exact match and
//!   substring match with SQuAD-style normalization ([`text`]), regex and JSON
//!   checks ([`json`]), ROUGE identical to Google's `rouge-score` ([`rouge`]),
//!   BLEU and chrF identical to `sacrebleu` ([`bleu`], [`chrf`]). The test
//!   suite compares them with fixtures produced by those Python packages
//!   (`scripts/gen_metric_fixtures.py`). The [`Metric`] enum is the
//!   serializable, per-case choice among them.
//! * **Statistics** ([`stats`]) that keep noise from being reported as a
//!   finding: bootstrap confidence intervals, unbiased pass@k, flakiness, and
//!   a paired comparison of two configurations with a clustered bootstrap CI,
//!   a sign-flip p-value and a verdict.
//!
//! ```
//! use litmus_metrics::stats::{paired_comparison, summarize, Verdict};
//! use litmus_metrics::Metric;
//!
//! let refs = vec!["The cat sat on the mat.".to_string()];
//! let s = Metric::rouge_l().score("A cat sat on a mat", &refs).unwrap();
//! assert!(s.value > 0.5 && s.value < 1.0);
//!
//! let summary = summarize(&[1.0, 1.0, 0.0, 1.0], 0);
//! assert_eq!(summary.mean, 0.75);
//!
//! // Scores of two configurations on the same cases, 0–100 as litmus scores them.
//! let pairs = vec![("case1".to_string(), 100.0, 100.0), ("case2".to_string(), 0.0, 100.0)];
//! let cmp = paired_comparison(&pairs, 0);
//! assert_eq!(cmp.verdict, Verdict::TooFewCases); // two cases prove nothing
//! assert!(cmp.to_string().starts_with("+50.0 points, 95% CI ["));
//! ```

#![warn(missing_docs)]

pub mod bleu;
pub mod chrf;
mod error;
pub mod json;
mod metric;
pub mod rouge;
pub mod stats;
pub mod text;
mod util;

pub use error::MetricError;
pub use metric::{Metric, MetricScore, Normalize};
pub use rouge::RougeVariant;
