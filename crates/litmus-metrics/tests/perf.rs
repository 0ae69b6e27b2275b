//! Timing checks. Ignored by default (debug builds are not representative);
//! run with `cargo test -p litmus-metrics --release --test perf -- --ignored --nocapture`.

use std::time::Instant;

use litmus_metrics::rouge::{self, RougeVariant};
use litmus_metrics::stats::{paired_comparison, summarize, SplitMix64};
use litmus_metrics::{bleu, chrf};

const WORDS: [&str; 24] = [
    "the",
    "model",
    "quantized",
    "weights",
    "accuracy",
    "drops",
    "slightly",
    "when",
    "we",
    "use",
    "four",
    "bit",
    "precision",
    "on",
    "summarization",
    "tasks",
    "and",
    "evaluation",
    "shows",
    "that",
    "rouge",
    "scores",
    "remain",
    "stable",
];

fn text(seed: u64, n: usize) -> String {
    let mut r = SplitMix64::new(seed);
    (0..n)
        .map(|_| WORDS[r.below(WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn time<T>(label: &str, iters: u32, mut f: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        std::hint::black_box(f());
    }
    let per = start.elapsed().as_secs_f64() / iters as f64;
    println!("{label}: {:.1} µs", per * 1e6);
    per
}

#[test]
#[ignore]
fn rouge_l_500_tokens_under_a_millisecond() {
    let (a, b) = (text(1, 500), text(2, 500));
    let per = time("rougeL 500x500 (incl. tokenization)", 200, || {
        rouge::score(RougeVariant::RougeL, &a, &b, false)
    });
    assert!(per < 1e-3, "{per}");
    time("rougeL 500x500 stemmed", 200, || {
        rouge::score(RougeVariant::RougeL, &a, &b, true)
    });
    time("rougeLsum 500x500 one line", 50, || {
        rouge::score(RougeVariant::RougeLsum, &a, &b, false)
    });
    time("rouge1 500x500", 200, || {
        rouge::score(RougeVariant::Rouge1, &a, &b, false)
    });
    time("bleu 500x500", 200, || bleu::sentence_bleu(&a, &[&b]));
    time("chrf 500x500", 50, || chrf::sentence_chrf(&a, &[&b]));
    let v: Vec<f64> = (0..1000).map(|i| (i % 3) as f64).collect();
    time("summarize n=1000", 5, || summarize(&v, 1));
    let pairs: Vec<(String, f64, f64)> = (0..1000)
        .map(|i| {
            (
                format!("c{}", i / 5),
                (i % 2) as f64,
                (i % 3 == 0) as u8 as f64,
            )
        })
        .collect();
    time("paired_comparison 1000 pairs / 200 cases", 5, || {
        paired_comparison(&pairs, 1)
    });
}
