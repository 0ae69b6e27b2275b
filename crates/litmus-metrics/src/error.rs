//! The error type shared by every metric.

/// Why a metric could not produce a score.
///
/// A metric that *runs* but finds a mismatch is not an error: it returns a
/// [`MetricScore`](crate::MetricScore) with a value of 0. Errors are reserved
/// for a metric that is mis-specified (a bad regex or schema) or mis-used
/// (no reference where one is needed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricError {
    /// The pattern of a [`Metric::Regex`](crate::Metric::Regex) does not compile.
    #[error("invalid regex pattern `{pattern}`: {message}")]
    InvalidRegex {
        /// The pattern as given.
        pattern: String,
        /// The compiler's explanation.
        message: String,
    },
    /// A JSON schema is malformed or uses a feature this crate does not support
    /// (for example a remote `$ref`).
    #[error("invalid JSON schema: {message}")]
    InvalidSchema {
        /// What is wrong, with the JSON pointer of the offending schema part.
        message: String,
    },
    /// A reference-based metric was called with an empty reference list.
    #[error("metric `{metric}` needs at least one reference, got none")]
    NoReferences {
        /// The metric's [`name`](crate::Metric::name).
        metric: String,
    },
}
