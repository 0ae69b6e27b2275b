//! The exit codes of an eval target and of `cargo eval`, and their
//! precedence when several apply: the one table (the harness, the CI outputs
//! and `cargo eval` all use it).

/// Every selected eval ran (whatever its score).
pub const OK: i32 = 0;
/// Some eval failed to run (model load, backend or eval errors).
pub const ERRORED: i32 = 1;
/// Bad arguments or configuration.
pub const USAGE: i32 = 2;
/// Some eval scored below its `min_score`.
pub const BELOW_THRESHOLD: i32 = 3;
/// A score snapshot failed on a significant regression.
pub const REGRESSED: i32 = 4;
/// A score improved significantly: its new snapshot must be accepted
/// (`cargo insta review`).
pub const SNAPSHOT_CHANGED: i32 = 5;

/// How severe an exit code is when several are combined into one (the
/// eval targets of one `cargo eval`, the results of one run): usage
/// errors, then errors (and any code outside 0–5, such as that of a
/// process killed by a signal), regressions, scores below a threshold,
/// changed snapshots, success.
pub fn severity(code: i32) -> u8 {
    match code {
        OK => 0,
        SNAPSHOT_CHANGED => 1,
        BELOW_THRESHOLD => 2,
        REGRESSED => 3,
        USAGE => 5,
        _ => 4,
    }
}

/// The more severe of two exit codes ([`severity`]); `a` on a tie.
///
/// ```
/// use litmus_core::base::exit::{worst, BELOW_THRESHOLD, ERRORED, REGRESSED, SNAPSHOT_CHANGED};
/// assert_eq!(worst(SNAPSHOT_CHANGED, BELOW_THRESHOLD), BELOW_THRESHOLD);
/// assert_eq!(worst(ERRORED, REGRESSED), ERRORED);
/// ```
pub fn worst(a: i32, b: i32) -> i32 {
    if severity(b) > severity(a) {
        b
    } else {
        a
    }
}
