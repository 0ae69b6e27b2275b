//! The [`Metric`] enum: one serializable description of how a text case is scored.

use serde::{Deserialize, Serialize};

use crate::error::MetricError;
use crate::rouge::RougeVariant;
pub use crate::text::Normalize;
use crate::util::cached_regex;
use crate::{bleu, chrf, json, rouge, text};

/// A metric chosen per text case.
///
/// Serialized with a `kind` tag in snake_case, e.g.
/// `{"kind": "exact_match", "normalize": {"case_fold": true}}`,
/// `{"kind": "rouge", "variant": "rougeL", "use_stemmer": true}` or
/// `{"kind": "bleu"}`. Missing `normalize` fields default to
/// [`Normalize::default`] (trim only) and a missing `use_stemmer` to `false`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Metric {
    /// 1 if the normalized prediction equals a normalized reference.
    ExactMatch {
        /// Normalization applied to both sides.
        #[serde(default)]
        normalize: Normalize,
    },
    /// 1 if a normalized reference occurs in the normalized prediction.
    Contains {
        /// Normalization applied to both sides.
        #[serde(default)]
        normalize: Normalize,
    },
    /// 1 if the regex finds a match anywhere in the prediction, its
    /// surrounding whitespace trimmed (Rust `regex` syntax; anchor with `^…$`
    /// to match the whole answer: a model's leading space or final newline
    /// does not count). References are ignored.
    Regex {
        /// The pattern.
        pattern: String,
    },
    /// 1 if the whole prediction (surrounding whitespace allowed) is one JSON
    /// document. References are ignored.
    JsonValid,
    /// 1 if the prediction is JSON and satisfies the schema (see [`json::Schema`]
    /// for the supported keywords). References are ignored.
    JsonSchema {
        /// The JSON schema.
        schema: serde_json::Value,
    },
    /// ROUGE F-measure, exactly as Google's `rouge-score`.
    Rouge {
        /// Which ROUGE.
        variant: RougeVariant,
        /// Porter-stem tokens longer than three characters.
        #[serde(default)]
        use_stemmer: bool,
    },
    /// Sentence BLEU as `sacrebleu.sentence_bleu`, divided by 100 (and clamped
    /// to `[0, 1]`; the raw 0–100 score is the `bleu` part).
    Bleu,
    /// Sentence chrF as `sacrebleu.sentence_chrf`, divided by 100 (and clamped
    /// to `[0, 1]`; the raw 0–100 score is the `chrf` part).
    Chrf,
}

/// The score of one prediction: a value in `[0, 1]` plus named components.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricScore {
    /// The score, in `[0, 1]` (1 is best).
    pub value: f64,
    /// Components, e.g. `("precision", …)`, `("recall", …)`, `("fmeasure", …)`.
    pub parts: Vec<(String, f64)>,
}

impl MetricScore {
    /// 1 or 0 with no parts.
    pub fn binary(pass: bool) -> Self {
        MetricScore {
            value: if pass { 1.0 } else { 0.0 },
            parts: Vec::new(),
        }
    }

    /// The component called `name`, if any.
    pub fn part(&self, name: &str) -> Option<f64> {
        self.parts.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }

    /// True when `value >= threshold`.
    pub fn passes(&self, threshold: f64) -> bool {
        self.value >= threshold
    }
}

fn parts<const N: usize>(items: [(&str, f64); N]) -> Vec<(String, f64)> {
    items.iter().map(|&(n, v)| (n.to_owned(), v)).collect()
}

impl Metric {
    /// Exact match after [`Normalize::default`] (trim only).
    pub fn exact() -> Self {
        Metric::ExactMatch {
            normalize: Normalize::default(),
        }
    }

    /// Exact match with the given normalization, e.g. [`Normalize::squad`].
    pub fn exact_normalized(normalize: Normalize) -> Self {
        Metric::ExactMatch { normalize }
    }

    /// Substring match after [`Normalize::default`] (trim only).
    pub fn contains() -> Self {
        Metric::Contains {
            normalize: Normalize::default(),
        }
    }

    /// Substring match with the given normalization.
    pub fn contains_normalized(normalize: Normalize) -> Self {
        Metric::Contains { normalize }
    }

    /// Regex search in the prediction.
    pub fn regex(pattern: impl Into<String>) -> Self {
        Metric::Regex {
            pattern: pattern.into(),
        }
    }

    /// JSON validity.
    pub fn json_valid() -> Self {
        Metric::JsonValid
    }

    /// JSON validity plus schema conformance.
    pub fn json_schema(schema: serde_json::Value) -> Self {
        Metric::JsonSchema { schema }
    }

    /// Any ROUGE variant.
    pub fn rouge(variant: RougeVariant, use_stemmer: bool) -> Self {
        Metric::Rouge {
            variant,
            use_stemmer,
        }
    }

    /// ROUGE-1 without stemming (Hugging Face `evaluate`'s default).
    pub fn rouge1() -> Self {
        Metric::rouge(RougeVariant::Rouge1, false)
    }

    /// ROUGE-2 without stemming.
    pub fn rouge2() -> Self {
        Metric::rouge(RougeVariant::Rouge2, false)
    }

    /// ROUGE-L without stemming.
    pub fn rouge_l() -> Self {
        Metric::rouge(RougeVariant::RougeL, false)
    }

    /// ROUGE-Lsum without stemming (sentences separated by newlines).
    pub fn rouge_lsum() -> Self {
        Metric::rouge(RougeVariant::RougeLsum, false)
    }

    /// Sentence BLEU (sacrebleu defaults).
    pub fn bleu() -> Self {
        Metric::Bleu
    }

    /// Sentence chrF (sacrebleu defaults).
    pub fn chrf() -> Self {
        Metric::Chrf
    }

    /// Short name: `exact_match`, `contains`, `regex`, `json_valid`,
    /// `json_schema`, `rouge1`, `rouge2`, `rougeL`, `rougeLsum`, `bleu`, `chrf`.
    pub fn name(&self) -> String {
        match self {
            Metric::ExactMatch { .. } => "exact_match".into(),
            Metric::Contains { .. } => "contains".into(),
            Metric::Regex { .. } => "regex".into(),
            Metric::JsonValid => "json_valid".into(),
            Metric::JsonSchema { .. } => "json_schema".into(),
            Metric::Rouge { variant, .. } => variant.name().into(),
            Metric::Bleu => "bleu".into(),
            Metric::Chrf => "chrf".into(),
        }
    }

    /// Whether [`score`](Metric::score) needs at least one reference.
    pub fn needs_references(&self) -> bool {
        !matches!(
            self,
            Metric::Regex { .. } | Metric::JsonValid | Metric::JsonSchema { .. }
        )
    }

    /// Checks the metric's own configuration (the regex compiles, the schema
    /// is well formed) without scoring anything, so a bad eval definition can
    /// be reported before any model runs.
    pub fn validate(&self) -> Result<(), MetricError> {
        match self {
            Metric::Regex { pattern } => compile(pattern).map(|_| ()),
            Metric::JsonSchema { schema } => json::Schema::new(schema.clone()).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Scores one prediction against one or more references; the value is in
    /// `[0, 1]`.
    ///
    /// With several references, the match and ROUGE metrics take the best
    /// reference (any match counts; for ROUGE the reference with the highest
    /// F-measure, whose precision and recall are reported, like
    /// `rouge_score.score_multi`), while BLEU and chrF use sacrebleu's
    /// multi-reference semantics (n-gram counts clipped by the maximum over
    /// references and closest reference length for BLEU; best reference
    /// statistics for chrF). `Regex`, `JsonValid` and `JsonSchema` ignore
    /// references.
    ///
    /// Errors: [`MetricError::NoReferences`] for a reference-based metric
    /// given none, [`MetricError::InvalidRegex`] and
    /// [`MetricError::InvalidSchema`] for a bad configuration. A prediction
    /// that does not match scores 0; that is not an error.
    ///
    /// ```
    /// use litmus_metrics::{Metric, Normalize};
    ///
    /// let refs = vec!["Paris".to_string(), "Paris, France".to_string()];
    /// let em = Metric::exact_normalized(Normalize::squad());
    /// assert_eq!(em.score("  paris. ", &refs).unwrap().value, 1.0);
    ///
    /// let rouge = Metric::rouge_l().score("The capital is Paris", &refs).unwrap();
    /// // best reference "Paris": P = 1/4, R = 1, F = 0.4
    /// assert!((rouge.value - 0.4).abs() < 1e-12);
    /// assert_eq!(rouge.parts[0].0, "precision");
    ///
    /// let err = Metric::regex("(unclosed").score("x", &[]).unwrap_err();
    /// assert!(err.to_string().contains("(unclosed"));
    /// ```
    pub fn score(
        &self,
        prediction: &str,
        references: &[String],
    ) -> Result<MetricScore, MetricError> {
        if self.needs_references() && references.is_empty() {
            return Err(MetricError::NoReferences {
                metric: self.name(),
            });
        }
        Ok(match self {
            Metric::ExactMatch { normalize } => MetricScore::binary(
                references
                    .iter()
                    .any(|r| text::exact_match(prediction, r, normalize)),
            ),
            Metric::Contains { normalize } => MetricScore::binary(
                references
                    .iter()
                    .any(|r| text::contains(prediction, r, normalize)),
            ),
            Metric::Regex { pattern } => {
                MetricScore::binary(compile(pattern)?.is_match(prediction.trim()))
            }
            Metric::JsonValid => MetricScore::binary(json::is_valid_json(prediction)),
            Metric::JsonSchema { schema } => {
                let schema = json::Schema::new(schema.clone())?;
                match json::parse(prediction) {
                    Err(_) => MetricScore {
                        value: 0.0,
                        parts: parts([("json_valid", 0.0), ("schema_valid", 0.0)]),
                    },
                    Ok(v) => {
                        let errors = schema.validate(&v);
                        let ok = if errors.is_empty() { 1.0 } else { 0.0 };
                        MetricScore {
                            value: ok,
                            parts: parts([
                                ("json_valid", 1.0),
                                ("schema_valid", ok),
                                ("violations", errors.len() as f64),
                            ]),
                        }
                    }
                }
            }
            Metric::Rouge {
                variant,
                use_stemmer,
            } => {
                let s = rouge::score_multi(*variant, prediction, references, *use_stemmer);
                MetricScore {
                    value: s.fmeasure,
                    parts: parts([
                        ("precision", s.precision),
                        ("recall", s.recall),
                        ("fmeasure", s.fmeasure),
                    ]),
                }
            }
            Metric::Bleu => {
                let s = bleu::sentence_bleu(prediction, references);
                let mut p = parts([("bleu", s.score)]);
                for (i, prec) in s.precisions.iter().enumerate() {
                    p.push((format!("precision_{}", i + 1), prec / 100.0));
                }
                p.extend(parts([
                    ("brevity_penalty", s.bp),
                    ("sys_len", s.sys_len as f64),
                    ("ref_len", s.ref_len as f64),
                ]));
                MetricScore {
                    value: unit(s.score / 100.0),
                    parts: p,
                }
            }
            Metric::Chrf => {
                let s = chrf::sentence_chrf(prediction, references);
                MetricScore {
                    value: unit(s.score / 100.0),
                    parts: parts([
                        ("chrf", s.score),
                        ("precision", s.precision),
                        ("recall", s.recall),
                    ]),
                }
            }
        })
    }
}

/// Clamps to `[0, 1]`: sacrebleu's 0–100 scores can exceed 100 by an ulp
/// (`exp(ln 100)`); the unclamped score stays available in the parts.
fn unit(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

fn compile(pattern: &str) -> Result<regex::Regex, MetricError> {
    cached_regex(pattern).map_err(|e| MetricError::InvalidRegex {
        pattern: pattern.to_owned(),
        message: e.to_string(),
    })
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}
