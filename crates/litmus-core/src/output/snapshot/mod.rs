//! Score snapshots: each eval under each configuration recorded with insta,
//! judged statistically.
//!
//! After a run, [`record`] asserts one [insta](https://insta.rs) snapshot per
//! eval and configuration (model, quantization, template, temperature) through
//! insta's own API, so insta's conventions hold: `INSTA_UPDATE`
//! (`auto`/`always`/`new`/`unseen`/`no`/`force`), `CI=true` (nothing is
//! written and a change is a failure), `INSTA_FORCE_PASS`, `INSTA_OUTPUT`,
//! `.config/insta.yaml`, and `cargo insta review` / `accept` / `reject` /
//! `pending-snapshots` / `test --test evals`.
//!
//! The snapshot body is a small YAML document rendered by [`SnapshotBody`]:
//! the score rounded to one decimal, its 95% confidence interval, the pass
//! rate, the sample count and the mean of each score part. What changes from
//! run to run without meaning anything (timings, tokens/s, weights digest,
//! date, run id, unrounded statistics) goes in the snapshot's metadata
//! (`info` and `description`), which insta does not compare.
//!
//! A [`ScoreComparator`] (insta's `Comparator` trait, insta ≥ 1.47) parses
//! both bodies and counts a score that moved less than its tolerance as
//! unchanged: nothing is rewritten and nothing fails. By default the
//! tolerance is derived from both confidence intervals:
//! `max(min_tolerance, sqrt(hw_base² + hw_current²))`, where `hw` is a CI's
//! half-width (see [`tolerance_for`]); [`SnapshotOptions::tolerance`] sets
//! it in absolute points instead. A significant move is a mismatch for insta:
//! locally it writes `<name>.snap.new`, which `cargo insta review` shows and
//! `cargo insta accept` takes; with `CI=true` nothing is written and the
//! outcome is marked failed.
//!
//! Run-to-run noise: a confidence interval only covers the samples of one
//! run. Where a backend does not answer identically in identical runs (HTTP
//! servers, GPUs, options that give up batch invariance), `--repeat N` runs
//! every sample N times and measures how far the score moves between the
//! repeats ([`RepeatStats::spread`]). That measurement is kept in the
//! snapshot's metadata (`info.repeats`, carried over when a snapshot is
//! rewritten by a run without `--repeat`) and the larger of the baseline's
//! and this run's is the eval's *noise*: a move beyond the statistical
//! tolerance but within the noise is [`Drift::Flaky`] — reported, never a
//! mismatch, never a failure. A move beyond both is a regression (or an
//! improvement) as before.
//!
//! Snapshot files are named explicitly, never auto-numbered:
//! `<dir>/<eval with :: → __>@<model>-<quant>-<template>-t<temperature>.snap`
//! (see [`snapshot_name`]), in `<eval target dir>/snapshots/` by default (see
//! [`SnapshotOptions::for_target`]).
//!
//! An eval that errored under a configuration is not recorded
//! ([`Drift::Skipped`]), so a partial run never moves a baseline.
//! [`crate::output::ci`] turns the outcomes into JUnit XML, a Markdown summary and
//! the exit code.
//!
//! insta reads its environment once per process and workspace root; run
//! [`record`] once per run (the harness does).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use insta::{Comparator, Settings, Snapshot};
use serde::{Deserialize, Serialize};

use crate::run::store::ConfigKey;
use crate::run::summary::{RepeatStats, RunSummary, Speed, UnitSummary};

/// The version of the snapshot body format written by [`SnapshotBody::render`].
pub const FORMAT: u32 = 1;

/// The smallest tolerance derived from confidence intervals, in score points.
pub const DEFAULT_MIN_TOLERANCE: f64 = 0.5;

/// Where and how score snapshots are recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotOptions {
    /// The directory holding the `.snap` files; absolute (a relative one is
    /// taken relative to `workspace_root`).
    pub dir: PathBuf,
    /// The cargo workspace root of the crate holding the evals (insta's
    /// `INSTA_WORKSPACE_ROOT`: where it looks for `.config/insta.yaml` and
    /// what paths in the metadata are relative to).
    pub workspace_root: PathBuf,
    /// A fixed tolerance in score points (0–100 scale): a score that moved by
    /// at most this much counts as unchanged. `None` derives it from the
    /// confidence intervals (see [`tolerance_for`]).
    pub tolerance: Option<f64>,
    /// The floor of a tolerance derived from confidence intervals, in points.
    pub min_tolerance: f64,
    /// The eval target's source file, recorded as the snapshots' `input_file`
    /// (shown by `cargo insta review`).
    pub input_file: Option<PathBuf>,
}

impl SnapshotOptions {
    /// Snapshots in `dir`, for a crate in the workspace at `workspace_root`,
    /// with the default tolerance.
    pub fn new(dir: impl Into<PathBuf>, workspace_root: impl Into<PathBuf>) -> SnapshotOptions {
        SnapshotOptions {
            dir: dir.into(),
            workspace_root: workspace_root.into(),
            tolerance: None,
            min_tolerance: DEFAULT_MIN_TOLERANCE,
            input_file: None,
        }
    }

    /// Snapshots next to an eval target's main source file, in `snapshots/`:
    /// `manifest_dir` is the crate's `CARGO_MANIFEST_DIR` and `source_file`
    /// the target's `file!()` (relative to the workspace root, as cargo
    /// passes it, or absolute), both captured by `litmus::main!()`.
    ///
    /// ```
    /// use litmus_core::output::snapshot::SnapshotOptions;
    /// let dir = tempfile::tempdir().unwrap();
    /// let ws = dir.path();
    /// std::fs::write(ws.join("Cargo.toml"), "[workspace]\nmembers = [\"app\"]\n").unwrap();
    /// std::fs::create_dir_all(ws.join("app/evals")).unwrap();
    /// std::fs::write(ws.join("app/Cargo.toml"), "[package]\nname = \"app\"\n").unwrap();
    /// std::fs::write(ws.join("app/evals/main.rs"), "").unwrap();
    /// let o = SnapshotOptions::for_target(&ws.join("app"), "app/evals/main.rs");
    /// assert_eq!(o.dir, ws.join("app/evals/snapshots"));
    /// assert_eq!(o.workspace_root, ws);
    /// ```
    pub fn for_target(manifest_dir: &Path, source_file: &str) -> SnapshotOptions {
        let workspace_root = crate::base::paths::workspace_root(manifest_dir);
        let file = Path::new(source_file);
        let located = if file.is_absolute() {
            Some(file.to_path_buf())
        } else {
            std::iter::once(workspace_root.as_path())
                .chain(manifest_dir.ancestors())
                .map(|d| d.join(file))
                .find(|p| p.is_file())
        };
        let located = located.unwrap_or_else(|| manifest_dir.join(file));
        let dir = located.parent().unwrap_or(manifest_dir).join("snapshots");
        SnapshotOptions {
            input_file: Some(located),
            ..SnapshotOptions::new(dir, workspace_root)
        }
    }

    /// The same options with a fixed tolerance in points.
    pub fn with_tolerance(mut self, points: f64) -> SnapshotOptions {
        self.tolerance = Some(points);
        self
    }

    fn abs_dir(&self) -> PathBuf {
        self.workspace_root.join(&self.dir)
    }
}

/// How a score compares with its snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// Within tolerance of the snapshot (or identical).
    Unchanged,
    /// No usable snapshot yet.
    New,
    /// Significantly better than the snapshot.
    Improved {
        /// The snapshot's score.
        from: f64,
        /// This run's score.
        to: f64,
    },
    /// Significantly worse than the snapshot.
    Regressed {
        /// The snapshot's score.
        from: f64,
        /// This run's score.
        to: f64,
    },
    /// Moved beyond the statistical tolerance, but no further than repeated
    /// runs of the same configuration move (`--repeat`): noise, not a
    /// change. Not a failure.
    Flaky {
        /// The snapshot's score.
        from: f64,
        /// This run's score.
        to: f64,
    },
    /// Not recorded: the eval errored under this configuration, or nothing
    /// was scored.
    Skipped {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Unchanged => write!(f, "unchanged"),
            Drift::New => write!(f, "new"),
            Drift::Improved { from, to } => write!(f, "improved {from:.1} → {to:.1}"),
            Drift::Regressed { from, to } => write!(f, "regressed {from:.1} → {to:.1}"),
            Drift::Flaky { from, to } => write!(f, "flaky {from:.1} → {to:.1}"),
            Drift::Skipped { reason } => write!(f, "not recorded ({reason})"),
        }
    }
}

/// What [`record`] did for one eval and configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotOutcome {
    /// The eval's full name.
    pub eval: String,
    /// The configuration.
    pub config: ConfigKey,
    /// The snapshot name (the file name without `.snap`).
    pub name: String,
    /// The `.snap` file.
    pub path: PathBuf,
    /// How the score compares with the snapshot.
    pub drift: Drift,
    /// The snapshot's score, when there was a usable one.
    pub baseline: Option<f64>,
    /// This run's score, rounded as in the snapshot.
    pub score: f64,
    /// The tolerance applied, in points, when there was a baseline.
    pub tolerance: Option<f64>,
    /// The run-to-run noise allowed for, in points, when repeated runs
    /// measured any (see [`RepeatStats::spread`]): from the baseline's
    /// metadata or this run's `--repeat`, whichever is larger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// A `.snap.new` was written for review.
    pub pending_written: bool,
    /// The `.snap` file itself was written (`INSTA_UPDATE=always`/`force`,
    /// or `unseen` for a new snapshot).
    pub updated: bool,
    /// insta failed the assertion: the snapshot differs significantly (or is
    /// missing) and was not updated in place, and `INSTA_FORCE_PASS` is not
    /// set. With `CI=true` this is how a change shows.
    pub failed: bool,
    /// Something other than a mismatch went wrong (an I/O error writing the
    /// snapshot, an unreadable insta configuration).
    pub error: Option<String>,
}

impl SnapshotOutcome {
    /// A failed assertion on a significant regression.
    pub fn regression_failed(&self) -> bool {
        self.failed && matches!(self.drift, Drift::Regressed { .. })
    }

    /// One line describing the outcome, e.g.
    /// `regressed 80.0 → 60.0 (Δ -20.0, tolerance ±5.0); .snap.new written`.
    pub fn message(&self) -> String {
        let mut s = match (&self.drift, self.baseline, self.tolerance) {
            (Drift::Unchanged, Some(b), Some(t)) => {
                format!("unchanged: {b:.1} → {:.1} (within ±{t:.1})", self.score)
            }
            (Drift::Improved { from, to } | Drift::Regressed { from, to }, _, Some(t)) => {
                let noise = match self.noise {
                    Some(n) => format!(", run-to-run noise ±{n:.1}"),
                    None => String::new(),
                };
                format!(
                    "{} (Δ {:+.1}, tolerance ±{t:.1}{noise})",
                    self.drift,
                    to - from
                )
            }
            (Drift::Flaky { from, to }, _, _) => format!(
                "{} (Δ {:+.1}, within run-to-run noise ±{:.1}: not a regression)",
                self.drift,
                to - from,
                self.noise.unwrap_or_default()
            ),
            (Drift::New, _, _) => format!("new snapshot: {:.1}", self.score),
            (d, _, _) => d.to_string(),
        };
        if let Some(e) = &self.error {
            s.push_str(&format!("; error: {e}"));
        }
        if self.pending_written {
            s.push_str(&format!(
                "; {}.snap.new written, review with `cargo insta review`",
                self.name
            ));
        } else if self.updated {
            s.push_str("; snapshot updated");
        } else if self.failed && self.drift == Drift::New {
            s.push_str("; not written");
        } else if self.failed {
            s.push_str("; snapshot not updated");
        }
        s
    }
}

/// The stable body of a score snapshot: what is compared and diffed.
///
/// Rendered as a small YAML document (see [`SnapshotBody::render`]):
///
/// ```text
/// format: 1
/// eval: "capital::france"
/// model: "gemma3-270m"
/// quantization: "Q4_K_M"
/// template: "plain"
/// temperature: 0.7
/// score: 72.5
/// ci95: [65.0, 80.0]
/// pass_rate: 0.8
/// samples: 5
/// parts:
///   "parsed": 25.0
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotBody {
    /// Body format version ([`FORMAT`]).
    pub format: u32,
    /// Eval name.
    pub eval: String,
    /// Model name.
    pub model: String,
    /// Quantization label.
    pub quantization: Option<String>,
    /// Template name.
    pub template: String,
    /// Sampling temperature.
    pub temperature: f32,
    /// Mean score, 0–100, one decimal.
    pub score: f64,
    /// 95% confidence interval of the mean score, one decimal each.
    pub ci95: (f64, f64),
    /// Fraction of samples that passed, three decimals.
    pub pass_rate: f64,
    /// Samples scored.
    pub samples: usize,
    /// Mean of each score part, one decimal.
    pub parts: BTreeMap<String, f64>,
}

fn round_to(v: f64, decimals: i32) -> f64 {
    if !v.is_finite() {
        return 0.0;
    }
    let m = 10f64.powi(decimals);
    let r = (v * m).round() / m;
    if r == 0.0 {
        0.0 // no "-0.0"
    } else {
        r
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// Splits a leading JSON string literal off `s`.
fn take_quoted(s: &str) -> Option<(String, &str)> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => {
                let lit = &s[..=i];
                return serde_json::from_str(lit).ok().map(|v| (v, &s[i + 1..]));
            }
            _ => i += 1,
        }
    }
    None
}

fn parse_string(v: &str) -> Option<String> {
    match take_quoted(v.trim()) {
        Some((s, rest)) if rest.trim().is_empty() => Some(s),
        _ => None,
    }
}

impl SnapshotBody {
    /// The body for one eval under one configuration, rounded.
    pub fn from_unit(unit: &UnitSummary) -> SnapshotBody {
        SnapshotBody {
            format: FORMAT,
            eval: unit.eval.clone(),
            model: unit.config.model.clone(),
            quantization: unit.config.quantization.clone(),
            template: unit.config.template.clone(),
            temperature: unit.config.temperature(),
            score: round_to(unit.score.mean, 1),
            ci95: (
                round_to(unit.score.ci_low, 1),
                round_to(unit.score.ci_high, 1),
            ),
            pass_rate: round_to(unit.pass_rate, 3),
            samples: unit.scored,
            parts: unit
                .parts
                .iter()
                .map(|(k, v)| (k.clone(), round_to(*v, 1)))
                .collect(),
        }
    }

    /// Half the width of the confidence interval, in points.
    pub fn half_width(&self) -> f64 {
        ((self.ci95.1 - self.ci95.0) / 2.0).abs()
    }

    /// Whether `other` is about the same eval and configuration.
    pub fn same_subject(&self, other: &SnapshotBody) -> bool {
        self.eval == other.eval
            && self.model == other.model
            && self.quantization == other.quantization
            && self.template == other.template
            && self.temperature.to_bits() == other.temperature.to_bits()
    }

    /// The YAML text stored as the snapshot's contents. Stable: the same
    /// body always renders to the same text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!("format: {}\n", self.format));
        s.push_str(&format!("eval: {}\n", quote(&self.eval)));
        s.push_str(&format!("model: {}\n", quote(&self.model)));
        match &self.quantization {
            Some(q) => s.push_str(&format!("quantization: {}\n", quote(q))),
            None => s.push_str("quantization: null\n"),
        }
        s.push_str(&format!("template: {}\n", quote(&self.template)));
        s.push_str(&format!("temperature: {}\n", self.temperature));
        s.push_str(&format!("score: {:.1}\n", self.score));
        s.push_str(&format!("ci95: [{:.1}, {:.1}]\n", self.ci95.0, self.ci95.1));
        s.push_str(&format!("pass_rate: {}\n", round_to(self.pass_rate, 3)));
        s.push_str(&format!("samples: {}\n", self.samples));
        if self.parts.is_empty() {
            s.push_str("parts: {}\n");
        } else {
            s.push_str("parts:\n");
            for (k, v) in &self.parts {
                s.push_str(&format!("  {}: {v:.1}\n", quote(k)));
            }
        }
        s
    }

    /// Parses a body written by [`render`](Self::render); `None` when `text`
    /// is not one (another format, a hand edit gone wrong).
    pub fn parse(text: &str) -> Option<SnapshotBody> {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        let mut parts = BTreeMap::new();
        let mut in_parts = false;
        for line in text.lines() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("  ") {
                if !in_parts {
                    return None;
                }
                let (k, rest) = take_quoted(rest.trim_start())?;
                let v = rest.trim_start().strip_prefix(':')?.trim();
                parts.insert(k, v.parse::<f64>().ok()?);
                continue;
            }
            let (k, v) = line.split_once(':')?;
            let v = v.trim();
            in_parts = k == "parts" && v.is_empty();
            if k == "parts" {
                if !(v.is_empty() || v == "{}") {
                    return None;
                }
                continue;
            }
            fields.insert(k.trim(), v);
        }
        let num = |k: &str| -> Option<f64> {
            fields.get(k)?.parse::<f64>().ok().filter(|v| v.is_finite())
        };
        let ci = fields.get("ci95")?.trim();
        let ci = ci.strip_prefix('[')?.strip_suffix(']')?;
        let (lo, hi) = ci.split_once(',')?;
        let format: u32 = fields.get("format")?.parse().ok()?;
        if format != FORMAT {
            return None;
        }
        Some(SnapshotBody {
            format,
            eval: parse_string(fields.get("eval")?)?,
            model: parse_string(fields.get("model")?)?,
            quantization: match *fields.get("quantization")? {
                "null" | "~" => None,
                v => Some(parse_string(v)?),
            },
            template: parse_string(fields.get("template")?)?,
            temperature: fields.get("temperature")?.parse().ok()?,
            score: num("score")?,
            ci95: (lo.trim().parse().ok()?, hi.trim().parse().ok()?),
            pass_rate: num("pass_rate")?,
            samples: fields.get("samples")?.parse().ok()?,
            parts,
        })
    }
}

/// The stable snapshot body of one eval under one configuration.
pub fn render(unit: &UnitSummary) -> String {
    SnapshotBody::from_unit(unit).render()
}

/// The tolerance for comparing `current` with `baseline`, in points: `fixed`
/// when given, else `max(min_tolerance, sqrt(hw_base² + hw_current²))` with
/// `hw` the half-width of each 95% confidence interval.
///
/// ```
/// use litmus_core::output::snapshot::tolerance_for;
/// assert_eq!(tolerance_for(3.0, 4.0, None, 0.5), 5.0);
/// assert_eq!(tolerance_for(0.0, 0.0, None, 0.5), 0.5);
/// assert_eq!(tolerance_for(3.0, 4.0, Some(2.0), 0.5), 2.0);
/// ```
pub fn tolerance_for(
    baseline_half_width: f64,
    current_half_width: f64,
    fixed: Option<f64>,
    min_tolerance: f64,
) -> f64 {
    match fixed {
        Some(t) => t.max(0.0),
        None => (baseline_half_width.powi(2) + current_half_width.powi(2))
            .sqrt()
            .max(min_tolerance),
    }
}

/// Compares `current` with `baseline`: returns the drift and the tolerance.
/// `noise` is the run-to-run noise in points (0 when none was measured): a
/// move beyond the tolerance but within it is [`Drift::Flaky`].
///
/// ```
/// use litmus_core::output::snapshot::{measure_drift, Drift, SnapshotBody};
/// let body = |score: f64| SnapshotBody {
///     format: 1, eval: "e".into(), model: "m".into(), quantization: None,
///     template: "plain".into(), temperature: 0.0, score, ci95: (score, score),
///     pass_rate: score / 100.0, samples: 3, parts: Default::default(),
/// };
/// let (from, to) = (body(95.0), body(60.0));
/// assert!(matches!(measure_drift(&from, &to, None, 0.5, 0.0).0, Drift::Regressed { .. }));
/// assert_eq!(measure_drift(&from, &to, None, 0.5, 40.0).0, Drift::Flaky { from: 95.0, to: 60.0 });
/// assert!(matches!(measure_drift(&from, &body(0.0), None, 0.5, 40.0).0, Drift::Regressed { .. }));
/// ```
pub fn measure_drift(
    baseline: &SnapshotBody,
    current: &SnapshotBody,
    fixed: Option<f64>,
    min_tolerance: f64,
    noise: f64,
) -> (Drift, f64) {
    let tol = tolerance_for(
        baseline.half_width(),
        current.half_width(),
        fixed,
        min_tolerance,
    );
    let delta = current.score - baseline.score;
    // Scores are rounded to 0.1: keep float noise from making 0.1 > 0.1.
    let drift = if delta.abs() <= tol + 1e-9 {
        Drift::Unchanged
    } else if delta.abs() <= noise + 1e-9 {
        Drift::Flaky {
            from: baseline.score,
            to: current.score,
        }
    } else if delta > 0.0 {
        Drift::Improved {
            from: baseline.score,
            to: current.score,
        }
    } else {
        Drift::Regressed {
            from: baseline.score,
            to: current.score,
        }
    };
    (drift, tol)
}

/// insta `Comparator` for score snapshots: two bodies match when they are
/// about the same eval and configuration and the score moved by no more than
/// the tolerance or the run-to-run noise (see [`measure_drift`]). Bodies it cannot
/// parse are compared as text. Metadata never counts, even under
/// `INSTA_REQUIRE_FULL_MATCH`: it holds the volatile data by design.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreComparator {
    /// A fixed tolerance in points, or `None` to derive it from the CIs.
    pub tolerance: Option<f64>,
    /// The floor of a derived tolerance, in points.
    pub min_tolerance: f64,
    /// The run-to-run noise in points (0: none measured).
    pub noise: f64,
}

impl Default for ScoreComparator {
    fn default() -> Self {
        ScoreComparator {
            tolerance: None,
            min_tolerance: DEFAULT_MIN_TOLERANCE,
            noise: 0.0,
        }
    }
}

impl ScoreComparator {
    /// Whether two snapshot bodies match.
    pub fn matches_text(&self, reference: &str, test: &str) -> bool {
        match (SnapshotBody::parse(reference), SnapshotBody::parse(test)) {
            (Some(a), Some(b)) => {
                a.same_subject(&b)
                    && matches!(
                        measure_drift(&a, &b, self.tolerance, self.min_tolerance, self.noise).0,
                        Drift::Unchanged | Drift::Flaky { .. }
                    )
            }
            _ => reference.trim_end() == test.trim_end(),
        }
    }
}

fn snapshot_text(s: &Snapshot) -> Option<String> {
    s.contents().as_text().map(|t| t.to_string())
}

impl Comparator for ScoreComparator {
    fn matches(&self, reference: &Snapshot, test: &Snapshot) -> bool {
        match (snapshot_text(reference), snapshot_text(test)) {
            (Some(a), Some(b)) => self.matches_text(&a, &b),
            _ => insta::DefaultComparator.matches(reference, test),
        }
    }

    fn matches_fully(&self, reference: &Snapshot, test: &Snapshot) -> bool {
        self.matches(reference, test)
    }

    fn dyn_clone(&self) -> Box<dyn Comparator> {
        Box::new(self.clone())
    }
}

fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('.') {
        // cargo-insta skips hidden files.
        out.replace_range(..1, "_");
    }
    out
}

/// The explicit, stable snapshot name of `eval` under `config`:
/// `<eval with :: → __>@<model>-<quantization>-<template>-t<temperature>`,
/// with characters other than ASCII letters, digits, `.`, `_` and `-`
/// replaced by `_` (the quantization is left out when the model name already
/// contains it, and overlong names are shortened with a hash).
///
/// ```
/// use litmus_core::output::snapshot::snapshot_name;
/// use litmus_core::run::store::ConfigKey;
/// let c = ConfigKey { model: "gemma".into(), quantization: Some("Q4_K_M".into()),
///                     template: "plain".into(), temperature_bits: 0.7f32.to_bits() };
/// assert_eq!(snapshot_name("geo::capital::france", &c), "geo__capital__france@gemma-Q4_K_M-plain-t0.7");
/// ```
pub fn snapshot_name(eval: &str, config: &ConfigKey) -> String {
    let mut cfg = vec![config.model.clone()];
    if let Some(q) = &config.quantization {
        if !config
            .model
            .to_ascii_lowercase()
            .contains(&q.to_ascii_lowercase())
        {
            cfg.push(q.clone());
        }
    }
    cfg.push(config.template.clone());
    cfg.push(format!("t{}", config.temperature()));
    let name = format!(
        "{}@{}",
        sanitize(&eval.replace("::", "__")),
        sanitize(&cfg.join("-"))
    );
    if name.len() <= 180 {
        return name;
    }
    let hash = crate::base::util::sha256_hex(name.as_bytes());
    let cut = (0..=160)
        .rev()
        .find(|&i| name.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}-{}", &name[..cut], &hash[..12])
}

/// The volatile data of a snapshot, stored as its `info` metadata.
#[derive(Serialize)]
struct Info<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'a str>,
    recorded_at: String,
    litmus_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<&'a str>,
    mean: f64,
    std_dev: f64,
    std_err: f64,
    ci_low: f64,
    ci_high: f64,
    errors: usize,
    wall_ms: f64,
    speed: &'a Speed,
    /// Run-to-run agreement measured with `--repeat` (this run's, else the
    /// baseline's, so that rewriting a snapshot keeps the measurement).
    #[serde(skip_serializing_if = "Option::is_none")]
    repeats: Option<&'a RepeatStats>,
}

/// The run-to-run agreement recorded in a snapshot's metadata
/// (`info.repeats`), if any.
fn recorded_repeats(snapshot: &Snapshot) -> Option<RepeatStats> {
    // insta's accessor for `info` is public but hidden from its docs; the
    // value is plain data, read through serde.
    let info = serde_json::to_value(snapshot.metadata().private_info()?).ok()?;
    serde_json::from_value(info.get("repeats")?.clone()).ok()
}

/// Size and contents of a file, to tell whether insta wrote it.
fn file_state(p: &Path) -> Option<(Vec<u8>, Option<std::time::SystemTime>)> {
    let bytes = std::fs::read(p).ok()?;
    let modified = std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((bytes, modified))
}

thread_local! {
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once) a panic hook that stays silent for the panics insta raises
/// inside [`record`] (they are caught and reported), and defers to the
/// previous hook otherwise.
fn install_quiet_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(|q| q.get()) {
                previous(info);
            }
        }));
    });
}

/// Sets `INSTA_WORKSPACE_ROOT` for the duration of [`record`] when the user
/// has not, so that insta does not run `cargo metadata` in litmus-core's own
/// directory.
struct WorkspaceRootGuard {
    set: bool,
}

impl WorkspaceRootGuard {
    fn new(root: &Path) -> WorkspaceRootGuard {
        if std::env::var_os("INSTA_WORKSPACE_ROOT").is_some() {
            return WorkspaceRootGuard { set: false };
        }
        std::env::set_var("INSTA_WORKSPACE_ROOT", root);
        WorkspaceRootGuard { set: true }
    }
}

impl Drop for WorkspaceRootGuard {
    fn drop(&mut self) {
        if self.set {
            std::env::remove_var("INSTA_WORKSPACE_ROOT");
        }
    }
}

/// Where insta writes the `.snap.new` of `snap`: next to it, or mirrored
/// under `INSTA_PENDING_DIR` (relative to the workspace root).
fn pending_path(snap: &Path) -> PathBuf {
    let new = snap.with_extension("snap.new");
    let dir = std::env::var_os("INSTA_PENDING_DIR").filter(|d| !d.is_empty());
    let root = std::env::var_os("INSTA_WORKSPACE_ROOT").map(PathBuf::from);
    match (dir, root) {
        (Some(dir), Some(root)) => match new.strip_prefix(&root) {
            Ok(rel) => PathBuf::from(dir).join(rel),
            Err(_) => new,
        },
        _ => new,
    }
}

static RECORDING: Mutex<()> = Mutex::new(());

/// Records every eval and configuration of a run as a score snapshot, with
/// the run's volatile data (run id, digests, timings) as metadata. See the
/// [module docs](self).
pub fn record(summary: &RunSummary, opts: &SnapshotOptions) -> Vec<SnapshotOutcome> {
    record_inner(&summary.units, Some(summary), opts)
}

/// The lines worth showing about recorded `snapshots`: one for each change,
/// failure or error; new snapshots (no baseline yet: every eval on a first
/// run) counted on one line for each thing that happened to them, naming
/// them when they are few. With `count_new` false (quiet or JSON output)
/// only the new snapshots that were not written (`CI=true`,
/// `INSTA_UPDATE=no`) are counted.
///
/// ```
/// use litmus_core::output::snapshot::report_lines;
///
/// assert!(report_lines(&[], true).is_empty());
/// ```
pub fn report_lines(snapshots: &[SnapshotOutcome], count_new: bool) -> Vec<String> {
    let mut lines = Vec::new();
    // New snapshots written as `.snap.new`, written in place, not written.
    let (mut pending, mut written, mut unwritten) = (Vec::new(), Vec::new(), Vec::new());
    for s in snapshots {
        if matches!(s.drift, Drift::New) && s.error.is_none() {
            match (s.pending_written, s.updated) {
                (true, _) => pending.push(s),
                (false, true) => written.push(s),
                (false, false) => unwritten.push(s),
            }
            continue;
        }
        let notable = s.failed
            || s.pending_written
            || s.updated
            || s.error.is_some()
            || matches!(
                s.drift,
                Drift::Regressed { .. } | Drift::Improved { .. } | Drift::Flaky { .. }
            );
        if notable {
            lines.push(format!(
                "{:>12} {} [{}]: {}",
                "snapshot",
                s.eval,
                s.config.label(),
                s.message()
            ));
        }
    }
    let groups = [
        (
            count_new,
            pending,
            "written as .snap.new, review with `cargo insta review` (or accept them all with `cargo insta accept`)",
        ),
        (count_new, written, "written"),
        (
            true,
            unwritten,
            "not written (CI=true or INSTA_UPDATE=no): record them with a run that writes snapshots, and commit them",
        ),
    ];
    for (show, group, what) in groups {
        if show && !group.is_empty() {
            lines.push(new_snapshots_line(&group, what));
        }
    }
    lines
}

/// One line about `group`, new snapshots that had the same fate: how many,
/// where, and which when they are few.
fn new_snapshots_line(group: &[&SnapshotOutcome], what: &str) -> String {
    const NAMED: usize = 3;
    let n = group.len();
    let dirs: BTreeSet<_> = group.iter().filter_map(|s| s.path.parent()).collect();
    let place = match dirs.iter().next() {
        Some(dir) if dirs.len() == 1 => format!(" in {}", dir.display()),
        _ => String::new(),
    };
    let names = if n <= NAMED {
        let names: Vec<String> = group
            .iter()
            .map(|s| format!("{} [{}]", s.eval, s.config.label()))
            .collect();
        format!(" ({})", names.join(", "))
    } else {
        String::new()
    };
    format!(
        "{:>12} {n} new score snapshot{}{names}{place}: {what}",
        "snapshot",
        if n == 1 { "" } else { "s" },
    )
}

/// [`record`] for bare units, without run metadata.
pub fn record_units(units: &[UnitSummary], opts: &SnapshotOptions) -> Vec<SnapshotOutcome> {
    record_inner(units, None, opts)
}

fn record_inner(
    units: &[UnitSummary],
    run: Option<&RunSummary>,
    opts: &SnapshotOptions,
) -> Vec<SnapshotOutcome> {
    let _lock = RECORDING.lock().unwrap_or_else(|e| e.into_inner());
    if std::env::var_os("INSTA_OUTPUT").is_none() {
        // litmus reports each snapshot change on one line (`report_lines`);
        // insta's full diffs (on stdout, which may hold JSON lines) are for
        // `cargo insta review`.
        std::env::set_var("INSTA_OUTPUT", "none");
    }
    let _root = WorkspaceRootGuard::new(&opts.workspace_root);
    install_quiet_hook();
    let dir = opts.abs_dir();
    let mut taken: BTreeMap<String, (String, ConfigKey)> = BTreeMap::new();
    let mut out = Vec::with_capacity(units.len());
    for unit in units {
        let mut name = snapshot_name(&unit.eval, &unit.config);
        // Two configurations that sanitize to the same name keep apart.
        if let Some(other) = taken.get(&name) {
            if other != &(unit.eval.clone(), unit.config.clone()) {
                let key = format!("{}\0{:?}", unit.eval, unit.config);
                let hash = crate::base::util::sha256_hex(key.as_bytes());
                name = format!("{name}-{}", &hash[..8]);
            }
        }
        taken.insert(name.clone(), (unit.eval.clone(), unit.config.clone()));
        out.push(record_one(unit, run, opts, &dir, name));
    }
    out
}

fn record_one(
    unit: &UnitSummary,
    run: Option<&RunSummary>,
    opts: &SnapshotOptions,
    dir: &Path,
    name: String,
) -> SnapshotOutcome {
    let path = dir.join(format!("{name}.snap"));
    let pending = pending_path(&path);
    let body = SnapshotBody::from_unit(unit);
    let mut outcome = SnapshotOutcome {
        eval: unit.eval.clone(),
        config: unit.config.clone(),
        name: name.clone(),
        path: path.clone(),
        drift: Drift::New,
        baseline: None,
        score: body.score,
        tolerance: None,
        noise: None,
        pending_written: false,
        updated: false,
        failed: false,
        error: None,
    };
    if unit.errors > 0 || unit.scored == 0 {
        outcome.drift = Drift::Skipped {
            reason: if unit.errors > 0 {
                format!(
                    "{} sample{} errored",
                    unit.errors,
                    if unit.errors == 1 { "" } else { "s" }
                )
            } else {
                "nothing scored".to_string()
            },
        };
        return outcome;
    }

    let existing = Snapshot::from_file(&path).ok();
    let baseline = existing
        .as_ref()
        .and_then(snapshot_text)
        .and_then(|t| SnapshotBody::parse(&t))
        .filter(|b| b.same_subject(&body));
    let recorded = baseline
        .as_ref()
        .and(existing.as_ref())
        .and_then(recorded_repeats);
    let noise = unit
        .repeats
        .iter()
        .chain(&recorded)
        .map(|r| r.spread)
        .reduce(f64::max);
    outcome.noise = noise;
    if let Some(b) = &baseline {
        let (drift, tol) = measure_drift(
            b,
            &body,
            opts.tolerance,
            opts.min_tolerance,
            noise.unwrap_or(0.0),
        );
        outcome.drift = drift;
        outcome.baseline = Some(b.score);
        outcome.tolerance = Some(tol);
    }

    let model = run
        .and_then(|r| r.configs.iter().find(|c| c.config == unit.config))
        .and_then(|c| c.model.as_ref());
    let info = Info {
        run_id: run.map(|r| r.run_id.as_str()),
        recorded_at: crate::base::util::rfc3339(crate::base::util::now_ms()),
        litmus_version: env!("CARGO_PKG_VERSION"),
        backend: model.map(|m| m.backend.as_str()),
        digest: model.map(|m| m.digest.as_str()).filter(|d| !d.is_empty()),
        mean: unit.score.mean,
        std_dev: unit.score.std_dev,
        std_err: unit.score.std_err,
        ci_low: unit.score.ci_low,
        ci_high: unit.score.ci_high,
        errors: unit.errors,
        wall_ms: unit.wall_ms,
        speed: &unit.speed,
        repeats: unit.repeats.as_ref().or(recorded.as_ref()),
    };

    let mut settings = Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.remove_snapshot_suffix();
    settings.set_omit_expression(true);
    settings.set_description(format!(
        "litmus score of `{}` under {}",
        unit.eval,
        unit.config.label()
    ));
    settings.set_info(&info);
    if let Some(f) = &opts.input_file {
        settings.set_input_file(f);
    }
    settings.set_comparator(Box::new(ScoreComparator {
        tolerance: opts.tolerance,
        min_tolerance: opts.min_tolerance,
        noise: noise.unwrap_or(0.0),
    }));

    let before_snap = file_state(&path);
    let before_new = file_state(&pending);
    let text = body.render();
    let result = settings.bind(|| {
        QUIET_PANICS.with(|q| q.set(true));
        let r = catch_unwind(AssertUnwindSafe(|| {
            insta::assert_snapshot!(name.as_str(), text.as_str());
        }));
        QUIET_PANICS.with(|q| q.set(false));
        r
    });
    if let Err(p) = result {
        let msg = crate::base::util::panic_message(p.as_ref());
        if msg.starts_with("snapshot assertion for") {
            outcome.failed = true;
        } else {
            outcome.error = Some(msg);
        }
    }
    let after_snap = file_state(&path);
    let after_new = file_state(&pending);
    outcome.updated = after_snap.is_some() && after_snap != before_snap;
    outcome.pending_written = after_new.is_some() && after_new != before_new;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(score: f64, lo: f64, hi: f64) -> SnapshotBody {
        SnapshotBody {
            format: FORMAT,
            eval: "a::b".into(),
            model: "m: \"x\"".into(),
            quantization: None,
            template: "plain".into(),
            temperature: 0.7,
            score,
            ci95: (lo, hi),
            pass_rate: 0.5,
            samples: 4,
            parts: [
                ("tests".to_string(), 12.5),
                ("we:ird \"k\"".to_string(), 1.0),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn outcome(
        eval: &str,
        drift: Drift,
        pending: bool,
        updated: bool,
        failed: bool,
    ) -> SnapshotOutcome {
        SnapshotOutcome {
            eval: eval.into(),
            config: ConfigKey {
                model: "m".into(),
                quantization: None,
                template: "plain".into(),
                temperature_bits: 0,
            },
            name: eval.replace("::", "__"),
            path: PathBuf::from(format!("/p/snapshots/{}.snap", eval.replace("::", "__"))),
            drift,
            baseline: None,
            score: 50.0,
            tolerance: None,
            noise: None,
            pending_written: pending,
            updated,
            failed,
            error: None,
        }
    }

    #[test]
    fn new_snapshots_are_counted_on_one_line_and_named_when_few() {
        let new = |i: usize| outcome(&format!("s::e{i}"), Drift::New, true, false, true);
        // A first run: every eval's snapshot is new, one line says so.
        let many: Vec<_> = (0..149).map(new).collect();
        let lines = report_lines(&many, true);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("149 new score snapshots in /p/snapshots: written as .snap.new"));
        assert!(!lines[0].contains("s::e0"), "{}", lines[0]);
        // Quiet: not shown at all.
        assert!(report_lines(&many, false).is_empty());
        // Few: named.
        let lines = report_lines(&many[..2], true);
        assert!(
            lines[0].contains("2 new score snapshots (s::e0 [m plain t=0], s::e1 [m plain t=0])"),
            "{}",
            lines[0]
        );
        // A change still gets its own line, beside the count of new ones;
        // new ones that could not be written (CI) are counted even when quiet.
        let changed = outcome(
            "s::moved",
            Drift::Regressed {
                from: 80.0,
                to: 40.0,
            },
            true,
            false,
            true,
        );
        let unwritten = outcome("s::ci", Drift::New, false, false, true);
        let mix = [changed, new(7), unwritten];
        let lines = report_lines(&mix, false);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("s::moved") && lines[0].contains("regressed"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("1 new score snapshot (s::ci [m plain t=0])")
                && lines[1].contains("not written (CI=true or INSTA_UPDATE=no)"),
            "{}",
            lines[1]
        );
        assert_eq!(report_lines(&mix, true).len(), 3);
    }

    #[test]
    fn render_parse_roundtrip() {
        let b = body(70.0, 60.0, 80.0);
        let text = b.render();
        assert_eq!(SnapshotBody::parse(&text), Some(b.clone()));
        let mut empty = b;
        empty.parts.clear();
        empty.quantization = Some("Q8_0".into());
        assert_eq!(SnapshotBody::parse(&empty.render()), Some(empty));
        assert_eq!(SnapshotBody::parse("hello"), None);
        assert_eq!(
            SnapshotBody::parse(&text.replace("format: 1", "format: 9")),
            None
        );
    }

    #[test]
    fn judge_uses_both_intervals() {
        let base = body(70.0, 66.0, 74.0); // hw 4
        let noise = body(73.0, 70.0, 76.0); // hw 3 → tol 5
        assert_eq!(
            measure_drift(&base, &noise, None, 0.5, 0.0),
            (Drift::Unchanged, 5.0)
        );
        let worse = body(60.0, 57.0, 63.0);
        assert!(matches!(
            measure_drift(&base, &worse, None, 0.5, 0.0).0,
            Drift::Regressed { .. }
        ));
        let better = body(80.0, 77.0, 83.0);
        assert!(matches!(
            measure_drift(&base, &better, None, 0.5, 0.0).0,
            Drift::Improved { .. }
        ));
        assert!(matches!(
            measure_drift(&base, &noise, Some(1.0), 0.5, 0.0).0,
            Drift::Improved { .. }
        ));
        let exact = body(70.0, 70.0, 70.0);
        let tiny = body(70.4, 70.4, 70.4);
        assert_eq!(
            measure_drift(&exact, &tiny, None, 0.5, 0.0).0,
            Drift::Unchanged
        );
        let c = ScoreComparator::default();
        assert!(c.matches_text(&base.render(), &noise.render()));
        assert!(!c.matches_text(&base.render(), &worse.render()));
        assert!(c.matches_text("not a body\n", "not a body"));
    }

    #[test]
    fn measured_noise_turns_a_move_within_it_into_flaky_not_beyond_it() {
        // Temperature 0: every sample agrees within a run, so the intervals
        // are empty and the tolerance is its floor.
        let base = body(95.0, 95.0, 95.0);
        let moved = body(60.0, 60.0, 60.0);
        let (d, tol) = measure_drift(&base, &moved, None, 0.5, 40.0);
        assert_eq!(
            (d, tol),
            (
                Drift::Flaky {
                    from: 95.0,
                    to: 60.0
                },
                0.5
            )
        );
        let up = body(99.0, 99.0, 99.0);
        assert_eq!(
            measure_drift(&base, &up, None, 0.5, 40.0).0,
            Drift::Flaky {
                from: 95.0,
                to: 99.0
            }
        );
        // Beyond the noise: a regression, as without it.
        let gone = body(40.0, 40.0, 40.0);
        assert_eq!(
            measure_drift(&base, &gone, None, 0.5, 40.0).0,
            Drift::Regressed {
                from: 95.0,
                to: 40.0
            }
        );
        // Within the tolerance stays unchanged; a fixed tolerance is widened
        // by the noise too.
        assert_eq!(
            measure_drift(&base, &base, None, 0.5, 40.0).0,
            Drift::Unchanged
        );
        assert!(matches!(
            measure_drift(&base, &moved, Some(0.0), 0.5, 40.0).0,
            Drift::Flaky { .. }
        ));
        let noisy = ScoreComparator {
            noise: 40.0,
            ..ScoreComparator::default()
        };
        assert!(noisy.matches_text(&base.render(), &moved.render()));
        assert!(!noisy.matches_text(&base.render(), &gone.render()));
        assert!(!ScoreComparator::default().matches_text(&base.render(), &moved.render()));
    }

    #[test]
    fn names_are_file_safe() {
        let c = ConfigKey {
            model: "openai:http://h/v1#m".into(),
            quantization: None,
            template: "t".into(),
            temperature_bits: 0f32.to_bits(),
        };
        assert_eq!(
            snapshot_name(".x::y", &c),
            "_x__y@openai_http___h_v1_m-t-t0"
        );
        let long = "e".repeat(400);
        let n = snapshot_name(&long, &c);
        assert!(n.len() <= 180 && n != snapshot_name(&"e".repeat(401), &c));
    }
}
