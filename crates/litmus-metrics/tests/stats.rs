//! Statistics: pass@k, summaries, bootstrap determinism, paired comparisons.

use litmus_metrics::stats::{
    bootstrap_ci, is_flaky, paired_comparison, paired_comparison_with, pass_at_k, pass_hat_k,
    pass_rate, percentile, summarize, PairedComparison, PairedOptions, SplitMix64, Summary,
    Verdict,
};
use rstest::rstest;

fn binom(n: u64, k: u64) -> u128 {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    let mut r: u128 = 1;
    for i in 0..k {
        r = r * u128::from(n - i) / u128::from(i + 1);
    }
    r
}

// The closed-form checks below sweep every (n, c, k) up to a bound: they
// are sweeps, not tables (over 10,000 combinations), so they stay loops and
// a failure names n, c and k.

#[test]
fn pass_at_k_matches_closed_form() {
    let mut checked = 0;
    for n in 1..=40u64 {
        for c in 0..=n {
            for k in 1..=n {
                let want = 1.0 - binom(n - c, k) as f64 / binom(n, k) as f64;
                let got = pass_at_k(n, c, k);
                assert!(
                    (got - want).abs() < 1e-12,
                    "n={n} c={c} k={k}: {got} vs {want}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000);
}

#[rstest]
#[case::no_samples(0, 0, 1, 0.0)]
#[case::no_correct(5, 0, 3, 0.0)]
#[case::all_correct(5, 5, 1, 1.0)]
#[case::zero_draws(5, 2, 0, 0.0)]
// Clamping: c > n counts as n, k > n as n.
#[case::more_correct_than_samples(5, 9, 1, 1.0)]
#[case::more_draws_than_samples(5, 1, 50, 1.0)]
fn pass_at_k_edges(#[case] n: u64, #[case] c: u64, #[case] k: u64, #[case] want: f64) {
    assert_eq!(pass_at_k(n, c, k), want, "n={n} c={c} k={k}");
}

#[test]
fn pass_at_k_large_and_plain() {
    // pass@1 is the plain pass rate.
    assert!((pass_at_k(200, 37, 1) - 37.0 / 200.0).abs() < 1e-12);
    // Large n stays finite and in range (the product form does not overflow).
    let p = pass_at_k(1_000_000, 10, 1000);
    assert!(p.is_finite() && p > 0.0 && p < 1.0);
}

#[test]
fn pass_hat_k_matches_closed_form() {
    for n in 1..=30u64 {
        for c in 0..=n {
            for k in 0..=n {
                let want = binom(c, k) as f64 / binom(n, k) as f64;
                let got = pass_hat_k(n, c, k);
                assert!((got - want).abs() < 1e-12, "n={n} c={c} k={k}");
            }
        }
    }
}

#[test]
fn pass_rate_and_flakiness() {
    let r = pass_rate(&[true, false, true, true]);
    assert_eq!((r.passed, r.total), (3, 4));
    assert_eq!(r.rate(), 0.75);
    assert!(r.is_flaky());
    assert_eq!(r.to_string(), "3/4");
    assert_eq!(pass_rate(&[]).rate(), 0.0);
    assert!((r.pass_at_k(2) - (1.0 - 0.0)).abs() < 1e-12); // only 1 failure: 2 draws cannot both fail
}

#[rstest]
#[case::mixed(&[true, false, true, true], true)]
#[case::all_pass(&[true, true], false)]
#[case::all_fail(&[false, false], false)]
#[case::no_runs(&[], false)]
fn flakiness(#[case] runs: &[bool], #[case] flaky: bool) {
    assert_eq!(is_flaky(runs), flaky, "{runs:?}");
    assert_eq!(pass_rate(runs).is_flaky(), flaky, "{runs:?}");
}

#[test]
fn splitmix64_reference_stream() {
    // Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
    let mut r = SplitMix64::new(0);
    assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    let mut r = SplitMix64::new(1);
    for _ in 0..10_000 {
        assert!(r.below(7) < 7);
        let x = r.next_f64();
        assert!((0.0..1.0).contains(&x));
    }
    assert_eq!(r.below(0), 0);
}

#[test]
fn summarize_empty_and_single() {
    let s = summarize(&[], 1);
    assert_eq!(s, Summary::default());
    assert_eq!(s.n, 0);
    for v in [s.mean, s.std_dev, s.std_err, s.ci_low, s.ci_high] {
        assert_eq!(v, 0.0);
    }
    let s = summarize(&[0.3], 1);
    assert_eq!((s.n, s.mean, s.std_dev, s.std_err), (1, 0.3, 0.0, 0.0));
    assert_eq!((s.ci_low, s.ci_high), (0.3, 0.3));
    // Non-finite values are skipped, never propagated.
    let s = summarize(&[f64::NAN, 1.0, f64::INFINITY, 0.0], 1);
    assert_eq!(s.n, 2);
    assert_eq!(s.mean, 0.5);
    assert!(s.ci_low.is_finite() && s.ci_high.is_finite());
}

#[rstest]
#[case::empty(&[], 100, (0.0, 0.0))]
#[case::constant(&[2.0, 2.0, 2.0], 100, (2.0, 2.0))]
#[case::no_resamples(&[1.0, 3.0], 0, (2.0, 2.0))]
fn bootstrap_ci_degenerate(
    #[case] values: &[f64],
    #[case] resamples: usize,
    #[case] want: (f64, f64),
) {
    assert_eq!(bootstrap_ci(values, 1, resamples, 0.95), want);
}

#[test]
fn summarize_statistics() {
    let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
    let s = summarize(&v, 3);
    assert_eq!(s.mean, 5.0);
    assert!((s.std_dev - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    assert!((s.std_err - s.std_dev / 8f64.sqrt()).abs() < 1e-12);
    assert!(s.ci_low < 5.0 && 5.0 < s.ci_high);
    assert!(s.ci_low >= 2.0 && s.ci_high <= 9.0);
    assert!(s.to_string().starts_with("5.000 ± "));
}

#[test]
fn bootstrap_is_deterministic_and_seed_dependent() {
    let mut r = SplitMix64::new(99);
    let v: Vec<f64> = (0..200).map(|_| r.next_f64()).collect();
    let a = bootstrap_ci(&v, 7, 2000, 0.95);
    assert_eq!(a, bootstrap_ci(&v, 7, 2000, 0.95));
    assert_ne!(a, bootstrap_ci(&v, 8, 2000, 0.95));
    assert_eq!(summarize(&v, 7), summarize(&v, 7));
    // A wider level gives a wider interval.
    let wide = bootstrap_ci(&v, 7, 2000, 0.99);
    assert!(wide.0 <= a.0 && a.1 <= wide.1);
}

#[test]
fn bootstrap_ci_agrees_with_normal_approximation() {
    // 400 coin flips with mean 0.5: the CI should be close to 0.5 ± 1.96·SE.
    let v: Vec<f64> = (0..400).map(|i| (i % 2) as f64).collect();
    let s = summarize(&v, 11);
    let half = 1.96 * s.std_err;
    assert!((s.ci_low - (0.5 - half)).abs() < 0.01, "{s}");
    assert!((s.ci_high - (0.5 + half)).abs() < 0.01, "{s}");
}

#[rstest]
#[case::minimum(0.0, 1.0)]
#[case::maximum(1.0, 4.0)]
#[case::median(0.5, 2.5)]
#[case::quartile(0.25, 1.75)]
fn percentile_linear_interpolation(#[case] q: f64, #[case] want: f64) {
    assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], q), want, "at {q}");
}

#[test]
fn percentile_of_nothing_is_zero() {
    assert_eq!(percentile(&[], 0.5), 0.0);
}

fn pairs_from(diffs: &[(usize, f64, f64)]) -> Vec<(String, f64, f64)> {
    diffs
        .iter()
        .map(|&(case, a, b)| (format!("case{case}"), a, b))
        .collect()
}

#[test]
fn clear_improvement_is_better() {
    // 60 cases: A passes 30, B passes 50 (fixes 20, breaks none).
    let pairs = pairs_from(
        &(0..60)
            .map(|i| (i, (i < 30) as u8 as f64, (i < 50) as u8 as f64))
            .collect::<Vec<_>>(),
    );
    let c = paired_comparison(&pairs, 5);
    assert_eq!(c.verdict, Verdict::Better, "{c}");
    assert!((c.diff - 20.0 / 60.0).abs() < 1e-12);
    assert!((c.mean_a - 0.5).abs() < 1e-12 && (c.mean_b - 50.0 / 60.0).abs() < 1e-12);
    assert!(c.ci_low > 0.0 && c.ci_low < c.diff && c.diff < c.ci_high);
    assert!(c.p_value < 0.001);
}

#[test]
fn clear_regression_is_worse() {
    let mut r = SplitMix64::new(3);
    // Continuous scores: B loses about 0.1 on every case, with noise.
    let pairs: Vec<(String, f64, f64)> = (0..40)
        .map(|i| {
            let a = 0.5 + 0.3 * r.next_f64();
            let b = a - 0.1 + 0.05 * (r.next_f64() - 0.5);
            (format!("c{i}"), a, b)
        })
        .collect();
    let c = paired_comparison(&pairs, 9);
    assert_eq!(c.verdict, Verdict::Worse, "{c}");
    assert!(c.ci_high < 0.0);
    assert!(c.to_string().starts_with('\u{2212}'));
}

#[test]
fn noise_is_no_significant_difference() {
    // Same mean, random per-case noise: across many seeds of the data, the
    // verdict is almost always "no significant difference" (5% false
    // positives are expected of any level-0.95 test; these seeds are fixed).
    let mut false_positives = 0;
    for data_seed in 0..40u64 {
        let mut r = SplitMix64::new(data_seed);
        let pairs: Vec<(String, f64, f64)> = (0..50)
            .map(|i| {
                let a = r.next_f64();
                let b = r.next_f64();
                (format!("c{i}"), a, b)
            })
            .collect();
        let c = paired_comparison(&pairs, data_seed);
        if c.verdict != Verdict::NoSignificantDifference {
            false_positives += 1;
        }
    }
    assert!(
        false_positives <= 5,
        "{false_positives} false positives of 40"
    );

    // Pass/fail flips that cancel out exactly.
    let pairs = pairs_from(
        &(0..40)
            .map(|i| (i, (i % 2) as f64, ((i + 1) % 2) as f64))
            .collect::<Vec<_>>(),
    );
    let c = paired_comparison(&pairs, 1);
    assert_eq!(c.diff, 0.0);
    assert_eq!(c.verdict, Verdict::NoSignificantDifference);
    assert!(c.p_value > 0.5);
}

#[test]
fn clustering_by_case_widens_the_evidence_bar() {
    // 8 cases x 5 samples; samples of a case always agree (perfect correlation).
    // B wins 7 cases and loses 1.
    let mut pairs = Vec::new();
    for case in 0..8 {
        for sample in 0..5 {
            let (a, b) = if case < 7 { (0.0, 1.0) } else { (1.0, 0.0) };
            pairs.push((format!("case{case}"), a, b, sample));
        }
    }
    let by_case: Vec<(String, f64, f64)> = pairs
        .iter()
        .map(|(c, a, b, _)| (c.clone(), *a, *b))
        .collect();
    let by_sample: Vec<(String, f64, f64)> = pairs
        .iter()
        .map(|(c, a, b, s)| (format!("{c}/{s}"), *a, *b))
        .collect();
    let clustered = paired_comparison(&by_case, 4);
    let naive = paired_comparison(&by_sample, 4);
    assert_eq!(clustered.n_clusters, 8);
    assert_eq!(naive.n_clusters, 40);
    assert_eq!(clustered.diff, naive.diff);
    // Exact: |S| >= 30 with eight clusters of magnitude 5 -> 18 / 256.
    assert!(
        (clustered.p_value - 18.0 / 256.0).abs() < 1e-12,
        "{clustered}"
    );
    assert_eq!(clustered.verdict, Verdict::NoSignificantDifference);
    assert_eq!(naive.verdict, Verdict::Better, "{naive}");
    assert!(clustered.ci_high - clustered.ci_low > naive.ci_high - naive.ci_low);
}

/// The trials draw from one random stream in turn, so they stay a loop (a
/// failure names the trial).
#[test]
fn exact_sign_flip_matches_brute_force() {
    let mut r = SplitMix64::new(17);
    for trial in 0..20 {
        let g = 2 + (trial % 9);
        let pairs: Vec<(String, f64, f64)> = (0..g)
            .map(|i| (format!("c{i}"), 0.0, (r.below(5) as f64) - 1.5))
            .collect();
        let d: Vec<f64> = pairs.iter().map(|p| p.2 - p.1).collect();
        let obs: f64 = d.iter().sum::<f64>().abs();
        let mut hits = 0;
        for mask in 0..(1u32 << g) {
            let s: f64 = d
                .iter()
                .enumerate()
                .map(|(i, x)| if mask >> i & 1 == 1 { -x } else { *x })
                .sum();
            if s.abs() >= obs - 1e-9 {
                hits += 1;
            }
        }
        let want = hits as f64 / (1u64 << g) as f64;
        let got = paired_comparison(&pairs, 0).p_value;
        assert!((got - want).abs() < 1e-12, "trial {trial}: {got} vs {want}");
    }
}

#[test]
fn monte_carlo_p_value_is_seeded() {
    // More than 16 clusters: random sign flips, deterministic per seed.
    let pairs: Vec<(String, f64, f64)> = (0..30)
        .map(|i| {
            (
                format!("c{i}"),
                0.5,
                0.5 + if i % 3 == 0 { -0.2 } else { 0.15 },
            )
        })
        .collect();
    let a = paired_comparison(&pairs, 1);
    assert_eq!(a, paired_comparison(&pairs, 1));
    assert!(a.p_value > 0.0 && a.p_value <= 1.0);
    let opts = PairedOptions {
        seed: 1,
        permutations: 500,
        resamples: 300,
        level: 0.9,
    };
    let b = paired_comparison_with(&pairs, &opts);
    assert_eq!(b.level, 0.9);
    assert!(b.p_value >= 1.0 / 501.0);
    assert!(b.to_string().contains("90% CI"));
}

/// Five cases that all got worse cannot be significant (the smallest exact
/// p is 2/32): the verdict says so instead of "no significant difference";
/// a sixth makes the same drop significant.
#[test]
fn five_cases_are_too_few_to_tell_and_six_are_not() {
    let worse = |cases: usize| {
        let pairs: Vec<(String, f64, f64)> = (0..cases)
            .flat_map(|c| {
                (0..3).map(move |s| (format!("c{c}"), 100.0, if s == 0 { 0.0 } else { 50.0 }))
            })
            .collect();
        paired_comparison(&pairs, 7)
    };
    let five = worse(5);
    assert_eq!((five.n_clusters, five.p_value), (5, 0.0625));
    assert_eq!(five.verdict, Verdict::TooFewCases);
    assert!(
        five.to_string()
            .ends_with("p = 0.062, too few cases to tell"),
        "{five}"
    );
    let six = worse(6);
    assert_eq!((six.n_clusters, six.p_value), (6, 0.03125));
    assert_eq!(six.verdict, Verdict::Worse);
    // Six cases where nothing changed: a real "no significant difference".
    let same: Vec<(String, f64, f64)> = (0..6).map(|c| (format!("c{c}"), 50.0, 50.0)).collect();
    assert_eq!(
        paired_comparison(&same, 7).verdict,
        Verdict::NoSignificantDifference
    );
}

#[test]
fn degenerate_comparisons_do_not_panic() {
    let c = paired_comparison(&[], 0);
    assert_eq!((c.n_pairs, c.n_clusters), (0, 0));
    assert_eq!(
        (c.diff, c.ci_low, c.ci_high, c.p_value),
        (0.0, 0.0, 0.0, 1.0)
    );
    assert_eq!(c.verdict, Verdict::TooFewCases);

    // One case, however many samples, is never a finding.
    let one: Vec<(String, f64, f64)> = (0..10).map(|_| ("only".to_string(), 0.0, 1.0)).collect();
    let c = paired_comparison(&one, 0);
    assert_eq!(c.verdict, Verdict::TooFewCases);
    assert_eq!(c.diff, 1.0);

    // Non-finite pairs are skipped.
    let pairs = vec![
        ("a".to_string(), f64::NAN, 1.0),
        ("b".to_string(), 0.0, 1.0),
        ("c".to_string(), 1.0, f64::INFINITY),
    ];
    let c = paired_comparison(&pairs, 0);
    assert_eq!(c.n_pairs, 1);
    for v in [c.mean_a, c.mean_b, c.diff, c.ci_low, c.ci_high, c.p_value] {
        assert!(v.is_finite());
    }
}

#[test]
fn display_format() {
    let c = PairedComparison {
        n_pairs: 100,
        n_clusters: 50,
        mean_a: 50.0,
        mean_b: 48.8,
        diff: -1.2,
        ci_low: -3.0,
        ci_high: 0.5,
        level: 0.95,
        p_value: 0.21,
        verdict: Verdict::NoSignificantDifference,
    };
    assert_eq!(
        c.to_string(),
        "\u{2212}1.2 points, 95% CI [\u{2212}3.0, 0.5], p = 0.210, no significant difference"
    );
    let better = PairedComparison {
        diff: 25.0,
        ci_low: 10.0,
        ci_high: 40.0,
        p_value: 0.0004,
        verdict: Verdict::Better,
        ..c.clone()
    };
    assert_eq!(
        better.to_string(),
        "+25.0 points, 95% CI [10.0, 40.0], p < 0.001, better"
    );
    let p3 = PairedComparison {
        p_value: 0.0042,
        ..c
    };
    assert!(p3.to_string().contains("p = 0.004,"));
    // Next to a significant verdict, p never reads as 0.05.
    let p = PairedComparison {
        p_value: 0.046875,
        diff: 69.25,
        ci_low: 27.35,
        ci_high: 0.25,
        verdict: Verdict::Better,
        ..c
    };
    // One decimal as every summary rounds it ({:.1}: 69.25 → 69.2, 0.25 → 0.2).
    assert_eq!(
        p.to_string(),
        "+69.2 points, 95% CI [27.4, 0.2], p = 0.047, better"
    );
}

#[test]
fn comparison_serializes() {
    let pairs = pairs_from(&[(0, 0.0, 1.0), (1, 1.0, 1.0)]);
    let c = paired_comparison(&pairs, 0);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["verdict"], "too_few_cases");
    let back: PairedComparison = serde_json::from_value(json).unwrap();
    assert_eq!(back, c);
    let s: Summary =
        serde_json::from_str(&serde_json::to_string(&summarize(&[1.0, 0.0], 0)).unwrap()).unwrap();
    assert_eq!(s.n, 2);
}

#[test]
fn worked_example_from_module_docs() {
    let a = [
        [1, 1],
        [1, 1],
        [1, 0],
        [1, 1],
        [0, 1],
        [1, 1],
        [1, 1],
        [0, 0],
        [1, 1],
        [1, 1],
    ];
    let b = [
        [1, 0],
        [0, 0],
        [1, 0],
        [0, 1],
        [0, 0],
        [1, 1],
        [0, 1],
        [0, 0],
        [1, 0],
        [0, 0],
    ];
    let mut pairs = Vec::new();
    for case in 0..10 {
        for sample in 0..2 {
            pairs.push((
                format!("c{case}"),
                a[case][sample] as f64,
                b[case][sample] as f64,
            ));
        }
    }
    let c = paired_comparison(&pairs, 42);
    println!("{c}");
    assert_eq!(c.verdict, Verdict::Worse);
    assert!((c.p_value - 2.0 / 128.0).abs() < 1e-12);
    assert!(
        (c.ci_low - -0.65).abs() < 0.051 && (c.ci_high - -0.25).abs() < 0.051,
        "{c}"
    );
}
