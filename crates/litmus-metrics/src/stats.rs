//! Statistics for eval results: summaries with bootstrap confidence intervals,
//! pass@k, flakiness, and paired comparisons of two configurations.
//!
//! Everything random here is driven by [`SplitMix64`], a tiny PRNG defined in
//! this module, so a given seed gives the same interval on every platform and
//! with every version of this crate's dependencies.
//!
//! # Summaries
//!
//! [`summarize`] reports the mean, the sample standard deviation (n − 1), the
//! standard error and a 95% percentile-bootstrap confidence interval of the
//! mean (2,000 resamples). Non-finite values are skipped.
//!
//! # Paired comparison
//!
//! [`paired_comparison`] answers "is configuration B better than A on the same
//! eval?" when both were run on the same cases (and, optionally, the same
//! sample indices). Its input is one `(cluster, score_a, score_b)` triple per
//! pair; the cluster is normally the case id.
//!
//! 1. **Effect**: `diff = mean(b − a)` over all pairs (= `mean_b − mean_a`).
//! 2. **Confidence interval: cluster bootstrap.** The pairs are grouped by
//!    cluster; each bootstrap replicate draws as many clusters as there are,
//!    with replacement, keeping each cluster's pairs together, and computes
//!    `Σ(b − a) / #pairs` over the drawn pairs. The 2.5% and 97.5% percentiles
//!    of 2,000 replicates form the 95% CI. Resampling *cases* rather than
//!    individual samples matters when each case has several samples: samples
//!    of one case are correlated, and treating them as independent would make
//!    the interval too narrow. With one pair per cluster (unique ids) this is
//!    the ordinary paired bootstrap.
//! 3. **p-value: sign-flip permutation test.** Under the null hypothesis
//!    "A and B are exchangeable", each cluster's total difference `D_g` is as
//!    likely to be `+D_g` as `−D_g`. The two-sided p-value is the fraction of
//!    sign assignments whose `|Σ ±D_g|` is at least the observed `|Σ D_g|`.
//!    With up to 16 clusters all `2^G` assignments are enumerated (an exact
//!    p-value); beyond that 10,000 random assignments are drawn and
//!    `p = (1 + #hits) / (1 + 10,000)`.
//! 4. **Verdict**: [`Verdict::Better`] or [`Verdict::Worse`] only when the CI
//!    excludes 0 **and** `p < 0.05`; otherwise
//!    [`Verdict::NoSignificantDifference`]. Requiring both guards against the
//!    percentile bootstrap's over-confidence with few cases. With five or
//!    fewer clusters no difference can be significant (the smallest exact
//!    p-value is `2 / 2^5 = 0.0625`): the verdict is then
//!    [`Verdict::TooFewCases`], whatever the scores, so that a comparison of
//!    three cases does not read as evidence that nothing changed.
//!
//! Scores are "higher is better", in any unit: the statistics do not depend
//! on it (the p-value does not change with the scale, the effect and its
//! interval scale with it). The [`Display`](std::fmt::Display) form reports
//! the difference and its interval in the scores' own unit, called points:
//! litmus scores samples 0–100, so `−1.2 points` is 1.2 points out of 100.
//! (Scores in `[0, 1]` would have to be multiplied by 100 first.)
//!
//! ## Worked example
//!
//! Ten cases, two samples each, scored pass (100) or fail (0), as litmus
//! scores a pass/fail sample, under a baseline A and a quantized model B. In
//! units of 100 points, the per-case summed differences `D_g = Σ(b − a)` are
//!
//! | case | c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 |
//! | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
//! | A   | 1,1 | 1,1 | 1,0 | 1,1 | 0,1 | 1,1 | 1,1 | 0,0 | 1,1 | 1,1 |
//! | B   | 1,0 | 0,0 | 1,0 | 0,1 | 0,0 | 1,1 | 0,1 | 0,0 | 1,0 | 0,0 |
//! | D_g | −1 | −2 | 0 | −1 | −1 | 0 | −1 | 0 | −1 | −2 |
//!
//! `diff = −9 × 100 / 20 = −45`: B loses 45 points. For the exact sign-flip
//! test only the seven non-zero clusters matter (the three zeros only double
//! every count): magnitudes `{1, 1, 1, 1, 1, 2, 2}`, observed `|S| = 9`, the
//! maximum. `|S| ≥ 9` needs all signs equal, so 2 of the 2^7 = 128
//! assignments qualify: `p = 2/128 = 0.015625`. The cluster bootstrap puts
//! the 95% CI at about [−65, −25] points, which excludes 0, so the verdict is
//! `Worse`:
//!
//! ```
//! use litmus_metrics::stats::{paired_comparison, Verdict};
//!
//! let a = [[1, 1], [1, 1], [1, 0], [1, 1], [0, 1], [1, 1], [1, 1], [0, 0], [1, 1], [1, 1]];
//! let b = [[1, 0], [0, 0], [1, 0], [0, 1], [0, 0], [1, 1], [0, 1], [0, 0], [1, 0], [0, 0]];
//! let mut pairs = Vec::new();
//! for case in 0..10 {
//!     for sample in 0..2 {
//!         let (sa, sb) = (a[case][sample] as f64 * 100.0, b[case][sample] as f64 * 100.0);
//!         pairs.push((format!("c{case}"), sa, sb));
//!     }
//! }
//! let cmp = paired_comparison(&pairs, 42);
//! assert_eq!((cmp.n_pairs, cmp.n_clusters), (20, 10));
//! assert!((cmp.diff + 45.0).abs() < 1e-9);
//! assert!((cmp.p_value - 0.015625).abs() < 1e-12);
//! assert!(cmp.ci_high < 0.0);
//! assert_eq!(cmp.verdict, Verdict::Worse);
//! assert!(cmp.to_string().starts_with("\u{2212}45.0 points, 95% CI [\u{2212}"));
//! println!("{cmp}"); // −45.0 points, 95% CI [−65.0, −25.0], p = 0.016, worse
//! ```

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Bootstrap resamples used by [`summarize`] and [`paired_comparison`].
pub const DEFAULT_RESAMPLES: usize = 2000;
/// Random sign assignments used by the permutation test when there are more
/// than [`EXACT_SIGN_FLIP_MAX_CLUSTERS`] clusters.
pub const DEFAULT_PERMUTATIONS: usize = 10_000;
/// Up to this many clusters the sign-flip test enumerates all assignments.
pub const EXACT_SIGN_FLIP_MAX_CLUSTERS: usize = 16;
/// Confidence level of the default intervals.
pub const DEFAULT_LEVEL: f64 = 0.95;

/// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit PRNG small enough to be
/// defined here, so seeded results never change with a dependency update.
///
/// ```
/// use litmus_metrics::stats::SplitMix64;
/// let mut a = SplitMix64::new(7);
/// let mut b = SplitMix64::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (Lemire's unbiased multiply-and-reject);
    /// 0 when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// A uniform float in `[0, 1)` (53 random bits).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Mean, spread and bootstrap confidence interval of a set of scores.
///
/// In JSON, the statistics of an empty summary (`n == 0`: every sample
/// failed) are `null`, not a score of 0 that a script could take for one;
/// `null` reads back as 0.
///
/// ```
/// use litmus_metrics::stats::{summarize, Summary};
/// let empty = serde_json::to_value(Summary::default()).unwrap();
/// assert_eq!(empty["mean"], serde_json::Value::Null);
/// assert_eq!(serde_json::to_value(summarize(&[40.0], 1)).unwrap()["mean"], 40.0);
/// let back: Summary = serde_json::from_value(empty).unwrap();
/// assert_eq!(back, Summary::default());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "SummaryJson", into = "SummaryJson")]
pub struct Summary {
    /// Number of (finite) values.
    pub n: usize,
    /// Arithmetic mean (0 when `n == 0`).
    pub mean: f64,
    /// Sample standard deviation, with n − 1 (0 when `n < 2`).
    pub std_dev: f64,
    /// Standard error of the mean, `std_dev / √n` (0 when `n < 2`).
    pub std_err: f64,
    /// Lower end of the 95% percentile-bootstrap CI of the mean.
    pub ci_low: f64,
    /// Upper end of the 95% percentile-bootstrap CI of the mean.
    pub ci_high: f64,
}

/// [`Summary`] as JSON: the statistics `null` when `n == 0`.
#[derive(Serialize, Deserialize)]
struct SummaryJson {
    n: usize,
    mean: Option<f64>,
    std_dev: Option<f64>,
    std_err: Option<f64>,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
}

impl From<Summary> for SummaryJson {
    fn from(s: Summary) -> Self {
        let v = |x: f64| (s.n > 0).then_some(x);
        SummaryJson {
            n: s.n,
            mean: v(s.mean),
            std_dev: v(s.std_dev),
            std_err: v(s.std_err),
            ci_low: v(s.ci_low),
            ci_high: v(s.ci_high),
        }
    }
}

impl From<SummaryJson> for Summary {
    fn from(s: SummaryJson) -> Self {
        let v = |x: Option<f64>| x.unwrap_or(0.0);
        Summary {
            n: s.n,
            mean: v(s.mean),
            std_dev: v(s.std_dev),
            std_err: v(s.std_err),
            ci_low: v(s.ci_low),
            ci_high: v(s.ci_high),
        }
    }
}

impl Summary {
    /// `mean [low, high]` with one decimal; `-` when nothing was summarized
    /// (`n == 0`: every sample failed), never a score of 0; `mean (n = 1)`
    /// for one value, which has no interval.
    ///
    /// ```
    /// use litmus_metrics::stats::{summarize, Summary};
    /// assert_eq!(summarize(&[50.0, 50.0], 1).mean_ci(), "50.0 [50.0, 50.0]");
    /// assert_eq!(summarize(&[79.2], 1).mean_ci(), "79.2 (n = 1)");
    /// assert_eq!(Summary::default().mean_ci(), "-");
    /// ```
    pub fn mean_ci(&self) -> String {
        match self.n {
            0 => "-".into(),
            1 => format!("{:.1} (n = 1)", self.mean),
            _ => format!("{:.1} {}", self.mean, self.ci()),
        }
    }

    /// The 95% CI as `[low, high]` with one decimal; `-` for fewer than two
    /// values (one value's bootstrap interval is that value: no interval).
    ///
    /// ```
    /// use litmus_metrics::stats::summarize;
    /// assert_eq!(summarize(&[40.0, 60.0], 1).ci().starts_with('['), true);
    /// assert_eq!(summarize(&[79.2], 1).ci(), "-");
    /// ```
    pub fn ci(&self) -> String {
        if self.n < 2 {
            "-".into()
        } else {
            format!("[{:.1}, {:.1}]", self.ci_low, self.ci_high)
        }
    }
}

impl fmt::Display for Summary {
    /// `0.734 ± 0.021 (95% CI [0.690, 0.770], n = 50)`, the ± being the standard error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.3} ± {:.3} (95% CI [{:.3}, {:.3}], n = {})",
            self.mean, self.std_err, self.ci_low, self.ci_high, self.n
        )
    }
}

fn finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

/// Arithmetic mean; 0 for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Sample standard deviation (n − 1 denominator, two-pass); 0 when fewer than
/// two values.
pub fn std_dev(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (n - 1) as f64).sqrt()
}

/// Standard error of the mean, `std_dev / √n`; 0 when fewer than two values.
pub fn std_err(values: &[f64]) -> f64 {
    if values.len() < 2 {
        0.0
    } else {
        std_dev(values) / (values.len() as f64).sqrt()
    }
}

/// Summarizes `values` (non-finite ones skipped) with a 95% bootstrap CI of
/// [`DEFAULT_RESAMPLES`] resamples drawn from `seed`.
///
/// `n = 0` gives all zeros; `n = 1` gives `std_dev = std_err = 0` and the
/// interval `[x, x]`.
///
/// ```
/// use litmus_metrics::stats::summarize;
/// let s = summarize(&[1.0, 0.0, 1.0, 1.0], 7);
/// assert_eq!(s.n, 4);
/// assert_eq!(s.mean, 0.75);
/// assert!((s.std_dev - 0.5).abs() < 1e-12);
/// assert!(s.ci_low <= 0.75 && 0.75 <= s.ci_high);
/// assert_eq!(s, summarize(&[1.0, 0.0, 1.0, 1.0], 7)); // deterministic
/// ```
pub fn summarize(values: &[f64], seed: u64) -> Summary {
    let v = finite(values);
    if v.is_empty() {
        return Summary::default();
    }
    let (ci_low, ci_high) = bootstrap_ci(&v, seed, DEFAULT_RESAMPLES, DEFAULT_LEVEL);
    Summary {
        n: v.len(),
        mean: mean(&v),
        std_dev: std_dev(&v),
        std_err: std_err(&v),
        ci_low,
        ci_high,
    }
}

/// Summarizes scores that come in clusters (an eval's samples), each cluster
/// weighing the same: `n`, the mean, the standard deviation and the standard
/// error are those of the cluster means (as [`summarize`] of the means), and
/// the 95% CI is a two-stage bootstrap: each of [`DEFAULT_RESAMPLES`]
/// replicates draws as many clusters as there are, with replacement, and
/// within each drawn cluster as many of its values, with replacement. So the
/// interval counts the spread between an eval's samples as well as between
/// evals: one eval whose samples scored 100 and 0 is not "50 [50, 50]".
/// Where no cluster's values differ (greedy samples, one sample per eval)
/// it is exactly [`summarize`] of the means. Non-finite values and empty
/// clusters are skipped.
///
/// The interval errs on the wide side: with many clusters, the spread of
/// their means already holds their samples' spread, which the second stage
/// adds again (a review's simulation, 30 clusters of 3 pass/fail samples:
/// 98.7% coverage for the nominal 95%, 18% wider than resampling clusters
/// alone). It is the price of an honest interval for few evals, where
/// resampling the evals alone says nothing.
///
/// ```
/// use litmus_metrics::stats::{summarize, summarize_clustered};
/// let one_eval = summarize_clustered(&[vec![100.0, 0.0, 100.0, 0.0]], 7);
/// assert_eq!((one_eval.n, one_eval.mean), (1, 50.0));
/// assert!(one_eval.ci_low < 50.0 && one_eval.ci_high > 50.0);
/// let constant = summarize_clustered(&[vec![100.0, 100.0], vec![0.0, 0.0]], 7);
/// assert_eq!(constant, summarize(&[100.0, 0.0], 7));
/// ```
pub fn summarize_clustered(clusters: &[Vec<f64>], seed: u64) -> Summary {
    let clusters: Vec<Vec<f64>> = clusters
        .iter()
        .map(|c| finite(c))
        .filter(|c| !c.is_empty())
        .collect();
    let means: Vec<f64> = clusters.iter().map(|c| mean(c)).collect();
    let mut summary = summarize(&means, seed);
    let varies = |c: &Vec<f64>| c.iter().any(|&x| x != c[0]);
    if !clusters.iter().any(varies) {
        return summary;
    }
    let g = clusters.len() as u64;
    let mut rng = SplitMix64::new(seed);
    let mut replicates: Vec<f64> = (0..DEFAULT_RESAMPLES)
        .map(|_| {
            let total: f64 = (0..g)
                .map(|_| {
                    let c = &clusters[rng.below(g) as usize];
                    let n = c.len() as u64;
                    let s: f64 = (0..n).map(|_| c[rng.below(n) as usize]).sum();
                    s / n as f64
                })
                .sum();
            total / g as f64
        })
        .collect();
    (summary.ci_low, summary.ci_high) = percentile_interval(&mut replicates, DEFAULT_LEVEL);
    summary
}

/// The central `level` interval of bootstrap `replicates` (sorted here):
/// their `(1 − level)/2` and `(1 + level)/2` [`percentile`]s.
fn percentile_interval(replicates: &mut [f64], level: f64) -> (f64, f64) {
    replicates.sort_by(f64::total_cmp);
    let alpha = 1.0 - clamp_level(level);
    (
        percentile(replicates, alpha / 2.0),
        percentile(replicates, 1.0 - alpha / 2.0),
    )
}

/// The `q`-quantile (`q` in `[0, 1]`) of an ascending slice with linear
/// interpolation between order statistics (NumPy's default `"linear"` method).
/// 0 for an empty slice.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let q = if q.is_nan() { 0.5 } else { q.clamp(0.0, 1.0) };
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn clamp_level(level: f64) -> f64 {
    if level.is_nan() {
        DEFAULT_LEVEL
    } else {
        level.clamp(0.0, 1.0)
    }
}

/// Percentile-bootstrap confidence interval of the mean.
///
/// Algorithm (fixed, so results are reproducible): a [`SplitMix64`] seeded
/// with `seed` draws, for each of `resamples` replicates, `n` indices with
/// [`SplitMix64::below`]; the replicate means are sorted and the
/// `(1 − level)/2` and `(1 + level)/2` [`percentile`]s returned. Non-finite
/// values are skipped; no values gives `(0, 0)`; constant values (including a
/// single value) give `(x, x)`; `resamples == 0` gives `(mean, mean)`.
pub fn bootstrap_ci(values: &[f64], seed: u64, resamples: usize, level: f64) -> (f64, f64) {
    let v = finite(values);
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let (min, max) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    if min == max {
        return (min, min);
    }
    if resamples == 0 {
        let m = mean(&v);
        return (m, m);
    }
    let n = v.len();
    let mut rng = SplitMix64::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let s: f64 = (0..n).map(|_| v[rng.below(n as u64) as usize]).sum();
            s / n as f64
        })
        .collect();
    percentile_interval(&mut means, level)
}

/// Unbiased pass@k estimator of Chen et al. (2021, the Codex paper): the
/// probability that at least one of `k` samples drawn without replacement
/// from `n` samples, `c` of them correct, is correct:
/// `1 − C(n−c, k) / C(n, k)`, computed in the numerically stable product form
/// `1 − Π_{i=n−c+1}^{n} (1 − k/i)`.
///
/// Out-of-range arguments are clamped instead of panicking: `c > n` counts as
/// `c = n`, `k > n` as `k = n`; `n = 0`, `c = 0` or `k = 0` give 0.
///
/// ```
/// use litmus_metrics::stats::pass_at_k;
/// assert!((pass_at_k(10, 3, 1) - 0.3).abs() < 1e-12);
/// // 1 - C(7,5)/C(10,5) = 1 - 21/252
/// assert!((pass_at_k(10, 3, 5) - (1.0 - 21.0 / 252.0)).abs() < 1e-12);
/// assert_eq!(pass_at_k(10, 3, 8), 1.0); // 8 draws cannot all miss
/// assert_eq!(pass_at_k(10, 0, 5), 0.0);
/// ```
pub fn pass_at_k(n: u64, c: u64, k: u64) -> f64 {
    let c = c.min(n);
    let k = k.min(n);
    if n == 0 || c == 0 || k == 0 {
        return 0.0;
    }
    if n - c < k {
        return 1.0;
    }
    let kf = k as f64;
    let prod: f64 = (n - c + 1..=n).map(|i| 1.0 - kf / i as f64).product();
    1.0 - prod
}

/// pass^k ("pass hat k"): the probability that `k` samples drawn without
/// replacement from `n`, `c` of them correct, are *all* correct:
/// `C(c, k) / C(n, k) = Π_{i=0}^{k−1} (c − i)/(n − i)`. Measures reliability
/// rather than capability. Clamped like [`pass_at_k`]; `k = 0` gives 1.
///
/// ```
/// use litmus_metrics::stats::pass_hat_k;
/// assert!((pass_hat_k(10, 8, 2) - 8.0 * 7.0 / (10.0 * 9.0)).abs() < 1e-12);
/// ```
pub fn pass_hat_k(n: u64, c: u64, k: u64) -> f64 {
    let c = c.min(n);
    let k = k.min(n);
    if k == 0 {
        return 1.0;
    }
    if c < k {
        return 0.0;
    }
    (0..k).map(|i| (c - i) as f64 / (n - i) as f64).product()
}

/// How often one case passed over repeated samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassRate {
    /// Samples that passed.
    pub passed: usize,
    /// Samples run.
    pub total: usize,
}

impl PassRate {
    /// Counts the `true`s of `outcomes`.
    pub fn from_outcomes(outcomes: &[bool]) -> Self {
        PassRate {
            passed: outcomes.iter().filter(|&&o| o).count(),
            total: outcomes.len(),
        }
    }

    /// `passed / total`, or 0 without samples.
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.passed as f64 / self.total as f64
        }
    }

    /// Flaky: passed sometimes but not always (`0 < rate < 1`).
    pub fn is_flaky(&self) -> bool {
        self.passed > 0 && self.passed < self.total
    }

    /// [`pass_at_k`] for this case.
    pub fn pass_at_k(&self, k: u64) -> f64 {
        pass_at_k(self.total as u64, self.passed as u64, k)
    }
}

impl fmt::Display for PassRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.passed, self.total)
    }
}

/// Per-case pass rate of repeated samples.
pub fn pass_rate(outcomes: &[bool]) -> PassRate {
    PassRate::from_outcomes(outcomes)
}

/// True when the samples of one case disagree (some pass, some fail).
pub fn is_flaky(outcomes: &[bool]) -> bool {
    PassRate::from_outcomes(outcomes).is_flaky()
}

/// Outcome of a [`paired_comparison`]: is B better than A?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// B scores significantly higher than A.
    Better,
    /// B scores significantly lower than A.
    Worse,
    /// The difference is within noise.
    NoSignificantDifference,
    /// Too few cases for any difference to be significant: with `G` cases
    /// the smallest p-value the sign-flip test can give is `2 / 2^G`, so at
    /// the 95% level five or fewer cases (or a single one) can never tell.
    TooFewCases,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoSignificantDifference => "no significant difference",
            Verdict::TooFewCases => "too few cases to tell",
        })
    }
}

/// Result of comparing configuration B against A on paired scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// Pairs used (pairs with a non-finite score are skipped).
    pub n_pairs: usize,
    /// Distinct clusters (cases) among them.
    pub n_clusters: usize,
    /// Mean score under A.
    pub mean_a: f64,
    /// Mean score under B.
    pub mean_b: f64,
    /// `mean(b − a)`.
    pub diff: f64,
    /// Lower end of the cluster-bootstrap CI of `diff`.
    pub ci_low: f64,
    /// Upper end of the cluster-bootstrap CI of `diff`.
    pub ci_high: f64,
    /// Confidence level of the interval (0.95).
    pub level: f64,
    /// Two-sided sign-flip permutation p-value.
    pub p_value: f64,
    /// Significance verdict (see the [module docs](self)).
    pub verdict: Verdict,
}

/// Knobs of [`paired_comparison_with`]; [`Default`] is what
/// [`paired_comparison`] uses (apart from the seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PairedOptions {
    /// Seed of both the bootstrap and the random sign flips.
    pub seed: u64,
    /// Bootstrap replicates.
    pub resamples: usize,
    /// Random sign assignments when the test is not exact.
    pub permutations: usize,
    /// Confidence level; the significance threshold is `1 − level`.
    pub level: f64,
}

impl Default for PairedOptions {
    fn default() -> Self {
        PairedOptions {
            seed: 0,
            resamples: DEFAULT_RESAMPLES,
            permutations: DEFAULT_PERMUTATIONS,
            level: DEFAULT_LEVEL,
        }
    }
}

/// Compares B against A over paired scores `(cluster id, score under A,
/// score under B)`, clustering by id (normally the case name). See the
/// [module docs](self) for the method and a worked example.
///
/// ```
/// use litmus_metrics::stats::{paired_comparison, Verdict};
///
/// // 30 cases scored 0–100; B fixes 12 of the 15 cases A fails and breaks none.
/// let pairs: Vec<(String, f64, f64)> = (0..30)
///     .map(|i| {
///         let a = if i % 2 == 0 { 100.0 } else { 0.0 };
///         let b = if a == 100.0 || i % 10 != 1 { 100.0 } else { 0.0 };
///         (format!("case{i}"), a, b)
///     })
///     .collect();
/// let cmp = paired_comparison(&pairs, 1);
/// assert!((cmp.diff - 40.0).abs() < 1e-9);
/// assert_eq!(cmp.verdict, Verdict::Better);
/// assert!(cmp.p_value < 0.001);
/// assert!(cmp.to_string().starts_with("+40.0 points, 95% CI ["));
/// ```
pub fn paired_comparison(pairs: &[(String, f64, f64)], seed: u64) -> PairedComparison {
    paired_comparison_with(
        pairs,
        &PairedOptions {
            seed,
            ..PairedOptions::default()
        },
    )
}

/// [`paired_comparison`] with every cluster weighing the same, as a score
/// averaged over evals does: over one pair per cluster, the means of its
/// pairs' scores (over `pairs` themselves a cluster weighs as many pairs as
/// it has; the two agree when every cluster has as many). `n_pairs` still
/// counts the pairs.
///
/// ```
/// use litmus_metrics::stats::{paired_comparison, paired_comparison_by_cluster};
///
/// // `small`: one sample, fails under A, passes under B; `big`: nine that pass under both.
/// let mut pairs = vec![("small".to_string(), 0.0, 100.0)];
/// pairs.extend((0..9).map(|_| ("big".to_string(), 100.0, 100.0)));
/// assert_eq!(paired_comparison(&pairs, 1).diff, 10.0);
/// let per_eval = paired_comparison_by_cluster(&pairs, 1);
/// assert_eq!((per_eval.diff, per_eval.mean_a, per_eval.mean_b), (50.0, 50.0, 100.0));
/// assert_eq!((per_eval.n_pairs, per_eval.n_clusters), (10, 2));
/// ```
pub fn paired_comparison_by_cluster(pairs: &[(String, f64, f64)], seed: u64) -> PairedComparison {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut sums: Vec<(&str, f64, f64, usize)> = Vec::new();
    for (id, a, b) in pairs {
        if !(a.is_finite() && b.is_finite()) {
            continue;
        }
        let g = *index.entry(id.as_str()).or_insert_with(|| {
            sums.push((id.as_str(), 0.0, 0.0, 0));
            sums.len() - 1
        });
        sums[g].1 += a;
        sums[g].2 += b;
        sums[g].3 += 1;
    }
    let n_pairs = sums.iter().map(|s| s.3).sum();
    let means: Vec<(String, f64, f64)> = sums
        .into_iter()
        .map(|(id, a, b, n)| (id.to_string(), a / n as f64, b / n as f64))
        .collect();
    PairedComparison {
        n_pairs,
        ..paired_comparison(&means, seed)
    }
}

#[derive(Default)]
struct Cluster {
    n: usize,
    sum_d: f64,
}

/// [`paired_comparison`] with explicit resample counts and level.
pub fn paired_comparison_with(
    pairs: &[(String, f64, f64)],
    opts: &PairedOptions,
) -> PairedComparison {
    let level = clamp_level(opts.level);
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut clusters: Vec<Cluster> = Vec::new();
    let (mut sum_a, mut sum_b, mut sum_d, mut n) = (0.0, 0.0, 0.0, 0usize);
    for (id, a, b) in pairs {
        if !(a.is_finite() && b.is_finite()) {
            continue;
        }
        let g = *index.entry(id.as_str()).or_insert_with(|| {
            clusters.push(Cluster::default());
            clusters.len() - 1
        });
        let d = b - a;
        clusters[g].n += 1;
        clusters[g].sum_d += d;
        sum_a += a;
        sum_b += b;
        sum_d += d;
        n += 1;
    }
    let mut result = PairedComparison {
        n_pairs: n,
        n_clusters: clusters.len(),
        mean_a: 0.0,
        mean_b: 0.0,
        diff: 0.0,
        ci_low: 0.0,
        ci_high: 0.0,
        level,
        p_value: 1.0,
        verdict: Verdict::NoSignificantDifference,
    };
    if n == 0 {
        result.verdict = Verdict::TooFewCases;
        return result;
    }
    let nf = n as f64;
    result.mean_a = sum_a / nf;
    result.mean_b = sum_b / nf;
    result.diff = sum_d / nf;
    let (lo, hi) = cluster_bootstrap(&clusters, opts.seed, opts.resamples, level, result.diff);
    result.ci_low = lo;
    result.ci_high = hi;
    result.p_value = sign_flip_p_value(&clusters, opts.seed, opts.permutations);
    let excludes_zero = lo > 0.0 || hi < 0.0;
    if clusters.len() < 2 || smallest_p_value(clusters.len(), opts.permutations) >= 1.0 - level {
        result.verdict = Verdict::TooFewCases;
    } else if excludes_zero && result.p_value < 1.0 - level {
        result.verdict = if result.diff > 0.0 {
            Verdict::Better
        } else {
            Verdict::Worse
        };
    }
    result
}

/// The smallest p-value [`sign_flip_p_value`] can give with `clusters`
/// clusters, whatever their differences: `2 / 2^G` when every assignment is
/// enumerated, `1 / (1 + permutations)` when they are drawn.
fn smallest_p_value(clusters: usize, permutations: usize) -> f64 {
    if clusters <= EXACT_SIGN_FLIP_MAX_CLUSTERS {
        2.0 / (1u64 << clusters) as f64
    } else {
        1.0 / (1 + permutations.max(1)) as f64
    }
}

fn cluster_bootstrap(
    clusters: &[Cluster],
    seed: u64,
    resamples: usize,
    level: f64,
    diff: f64,
) -> (f64, f64) {
    let g = clusters.len();
    let all_same = clusters
        .iter()
        .all(|c| c.sum_d / c.n as f64 == clusters[0].sum_d / clusters[0].n as f64);
    if g < 2 || resamples == 0 || all_same {
        return (diff, diff);
    }
    let mut rng = SplitMix64::new(seed);
    let mut stats: Vec<f64> = (0..resamples)
        .map(|_| {
            let (mut d, mut m) = (0.0, 0usize);
            for _ in 0..g {
                let c = &clusters[rng.below(g as u64) as usize];
                d += c.sum_d;
                m += c.n;
            }
            d / m as f64
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    let alpha = 1.0 - level;
    (
        percentile(&stats, alpha / 2.0),
        percentile(&stats, 1.0 - alpha / 2.0),
    )
}

/// Two-sided sign-flip test on the cluster sums (exact up to
/// [`EXACT_SIGN_FLIP_MAX_CLUSTERS`] clusters).
fn sign_flip_p_value(clusters: &[Cluster], seed: u64, permutations: usize) -> f64 {
    // Zero clusters never change |S|; they only double every count.
    let d: Vec<f64> = clusters
        .iter()
        .map(|c| c.sum_d)
        .filter(|&x| x != 0.0)
        .collect();
    let observed: f64 = d.iter().sum::<f64>().abs();
    if d.is_empty() || observed == 0.0 {
        return 1.0;
    }
    let scale: f64 = d.iter().map(|x| x.abs()).sum();
    let threshold = observed - 1e-9 * scale;
    let g = d.len();
    if g <= EXACT_SIGN_FLIP_MAX_CLUSTERS {
        let total = 1u64 << g;
        let hits = (0..total)
            .filter(|mask| {
                let s: f64 = d
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| if mask >> i & 1 == 1 { -x } else { x })
                    .sum();
                s.abs() >= threshold
            })
            .count();
        return hits as f64 / total as f64;
    }
    let mut rng = SplitMix64::new(seed ^ PERMUTATION_SEED_MIX);
    let permutations = permutations.max(1);
    let mut hits = 0usize;
    for _ in 0..permutations {
        let mut s = 0.0;
        let mut bits = 0u64;
        for (i, &x) in d.iter().enumerate() {
            if i % 64 == 0 {
                bits = rng.next_u64();
            }
            s += if bits >> (i % 64) & 1 == 1 { -x } else { x };
        }
        if s.abs() >= threshold {
            hits += 1;
        }
    }
    (1 + hits) as f64 / (1 + permutations) as f64
}

/// Constant mixed into the seed of the permutation test so that its random
/// stream differs from the bootstrap's.
const PERMUTATION_SEED_MIX: u64 = 0xD1B5_4A32_D192_ED03;

/// Formats a difference in points (the scores' own unit, 0–100 in litmus),
/// to one decimal as `{:.1}` rounds it (as every other figure litmus prints:
/// 0.25 and 0.35 show as `0.2` and `0.3` here and in a summary alike), with
/// a typographic minus.
fn points(x: f64, plus: bool) -> String {
    let s = format!("{:.1}", x.abs());
    if s == "0.0" {
        s
    } else if x < 0.0 {
        format!("\u{2212}{s}")
    } else if plus {
        format!("+{s}")
    } else {
        s
    }
}

impl fmt::Display for PairedComparison {
    /// `−1.2 points, 95% CI [−3.0, 0.5], p = 0.210, no significant difference`:
    /// the difference and its interval in the scores' own unit (litmus
    /// scores are 0–100 points), not rescaled.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Three decimals, as the reports print it: p = 0.047 must not read
        // as 0.05 beside a significant verdict.
        let p = if self.p_value < 0.001 {
            "p < 0.001".to_owned()
        } else {
            format!("p = {:.3}", self.p_value)
        };
        write!(
            f,
            "{} points, {}% CI [{}, {}], {}, {}",
            points(self.diff, true),
            (self.level * 100.0 * 10.0).round() / 10.0,
            points(self.ci_low, false),
            points(self.ci_high, false),
            p,
            self.verdict
        )
    }
}
