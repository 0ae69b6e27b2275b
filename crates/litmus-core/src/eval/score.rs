//! Scores: 0–100, with named parts and a pass/fail verdict per sample.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The score of one sample, 0–100, with its parts.
///
/// ```
/// use litmus_core::eval::score::Score;
/// let s = Score::new(75.0).part("parsed", 25.0).part("executed", 25.0).part("tests", 25.0);
/// assert!(!s.passed);
/// assert!(Score::pass().passed);
/// assert_eq!(Score::from_fraction(0.5).value, 50.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Total, 0–100.
    pub value: f64,
    /// Whether the sample counts as passed (for pass@k and pass rates).
    pub passed: bool,
    /// Named parts of the total (e.g. `parsed`, `tests`) or metric details.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parts: BTreeMap<String, f64>,
    /// Human-readable details: captured errors, the judge's reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl Score {
    /// A score of `value`, 0–100; passed when it is 100.
    ///
    /// A value outside 0–100 (beyond floating-point rounding), infinite or
    /// NaN is kept as it is, not clamped: the runner records such a sample
    /// as an error of the eval or scorer that made it (a 150 or a 1.7 is a
    /// mistake of units, an infinity a division by zero), never as a score.
    ///
    /// ```
    /// use litmus_core::eval::score::Score;
    /// assert_eq!(Score::new(100.0 + 1e-12).value, 100.0);
    /// assert_eq!(Score::new(140.0).value, 140.0);
    /// assert!(Score::new(f64::NAN).value.is_nan());
    /// ```
    pub fn new(value: f64) -> Self {
        // Rounding (a sum of thirds) is no mistake.
        const EPS: f64 = 1e-9;
        let value = if (-EPS..=100.0 + EPS).contains(&value) {
            value.clamp(0.0, 100.0)
        } else {
            value
        };
        Score {
            value,
            passed: value >= 100.0,
            parts: BTreeMap::new(),
            details: None,
        }
    }
    /// A score from a fraction in 0–1 (outside it, see [`Score::new`]).
    pub fn from_fraction(fraction: f64) -> Self {
        Self::new(fraction * 100.0)
    }
    /// Why `self` cannot be recorded as a score, if it cannot: a value that
    /// is not a number in 0–100, or a part that is not a finite number (JSON,
    /// the store's format, has neither NaN nor infinities).
    ///
    /// ```
    /// use litmus_core::eval::score::Score;
    /// assert_eq!(Score::new(40.0).part("bleu", 0.3).problem(), None);
    /// assert!(Score::new(150.0).problem().unwrap().contains("150"));
    /// assert!(Score::pass().part("ratio", f64::INFINITY).problem().unwrap().contains("`ratio`"));
    /// ```
    pub fn problem(&self) -> Option<String> {
        let v = self.value;
        if v.is_nan() {
            return Some("a NaN score".into());
        }
        if v.is_infinite() {
            return Some(format!("an infinite score ({v})"));
        }
        if !(0.0..=100.0).contains(&v) {
            return Some(format!(
                "a score of {v}, outside 0–100 (scores are points out of 100; `Score::from_fraction` takes 0–1)"
            ));
        }
        self.parts
            .iter()
            .find(|(_, p)| !p.is_finite())
            .map(|(name, p)| format!("a score whose part `{name}` is {p}, not a finite number"))
    }
    /// Full marks.
    pub fn pass() -> Self {
        Self::new(100.0)
    }
    /// Zero.
    pub fn fail() -> Self {
        Self::new(0.0)
    }
    /// 100 when `ok`, else 0.
    pub fn pass_if(ok: bool) -> Self {
        if ok {
            Self::pass()
        } else {
            Self::fail()
        }
    }
    /// Adds a named part.
    pub fn part(mut self, name: impl Into<String>, value: f64) -> Self {
        self.parts.insert(name.into(), value);
        self
    }
    /// Sets whether the sample passed.
    pub fn passed(mut self, passed: bool) -> Self {
        self.passed = passed;
        self
    }
    /// Attaches details.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

/// The error an imperative eval returns.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

impl From<crate::base::backend::BackendError> for EvalError {
    fn from(e: crate::base::backend::BackendError) -> Self {
        EvalError(e.to_string())
    }
}

impl From<String> for EvalError {
    fn from(s: String) -> Self {
        EvalError(s)
    }
}

impl From<&str> for EvalError {
    fn from(s: &str) -> Self {
        EvalError(s.to_string())
    }
}

/// What an imperative eval produces.
pub type ScoreResult = Result<Score, EvalError>;

/// What an imperative eval function may return: a [`Score`], a number (0–100),
/// a `bool` (pass/fail), or a `Result` of these.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a score",
    label = "an imperative `#[eval]` returns a score",
    note = "return `Score`, `f64` (0–100), `bool`, or a `Result` of one of these"
)]
pub trait IntoScore {
    /// Converts to a score result.
    fn into_score(self) -> ScoreResult;
}

impl IntoScore for Score {
    fn into_score(self) -> ScoreResult {
        Ok(self)
    }
}

impl IntoScore for f64 {
    fn into_score(self) -> ScoreResult {
        Ok(Score::new(self))
    }
}

impl IntoScore for bool {
    fn into_score(self) -> ScoreResult {
        Ok(Score::pass_if(self))
    }
}

impl<T: IntoScore, E: std::fmt::Display> IntoScore for Result<T, E> {
    fn into_score(self) -> ScoreResult {
        match self {
            Ok(v) => v.into_score(),
            Err(e) => Err(EvalError(e.to_string())),
        }
    }
}
