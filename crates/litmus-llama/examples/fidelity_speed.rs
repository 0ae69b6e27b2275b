//! Teacher-forced scoring speed on a model against itself, on the shipped
//! text in 512-token windows: tokens per second per model pass, for
//! BENCHMARKS.md (compare with `llama-bench -p 512 -n 0` at the same threads).
//!
//! ```sh
//! cargo run --release -p litmus-llama --example fidelity_speed -- [MODEL] [THREADS] [UBATCHES] [MODES]
//! ```
//!
//! Passes over the same tokens: no logits at all (prompt processing, what
//! pp512 measures), logits and statistics for the second half of each window
//! (llama-perplexity's chunks), and for every position, each at every
//! micro-batch size in UBATCHES (comma-separated, default 512); MODES picks
//! some of them (`none,half,all`, the default; `all` alone for a profile of
//! the logits path). Each line
//! gives the wall-clock rate and, separately, the rate of `llama_decode`
//! alone (llama.cpp's own floor for that many logits) and the seconds spent
//! in litmus's statistics. `GGML_CPU_TILED_MM` is 0 unless set, as in
//! litmus's generation.

use std::path::PathBuf;

use litmus_llama::fidelity::{kernel::Isa, ScoreOptions, Scorer, Sequence, TeacherModel};

const TEXT: &str = include_str!("../tests/data/coriolanus.txt");

fn main() {
    if std::env::var_os("GGML_CPU_TILED_MM").is_none() {
        std::env::set_var("GGML_CPU_TILED_MM", "0");
    }
    let mut args = std::env::args().skip(1);
    let model = args.next().map(PathBuf::from).unwrap_or_else(|| {
        litmus_llama::cache_dir().join(litmus_llama::models::DEFAULT_MODEL.file_name)
    });
    let threads = args
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(litmus_llama::physical_cores);
    let ubatches: Vec<usize> = args
        .next()
        .map(|u| u.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![512]);
    let modes = args.next().unwrap_or_else(|| "none,half,all".into());
    let wanted = |m: &str| modes.split(',').any(|w| w == m);
    let options = ScoreOptions {
        threads,
        window: 512,
        ..ScoreOptions::default()
    };
    let a = TeacherModel::load(&model, "auto", &options).expect("loading the model");
    let b = TeacherModel::load(&model, "auto", &options).expect("loading the model");
    let chunks = a.perplexity_chunks(TEXT, 512);
    let with_first = |first: usize| -> Vec<Sequence> {
        chunks
            .iter()
            .map(|c| Sequence { first, ..c.clone() })
            .collect()
    };
    println!(
        "{} · {threads} threads · {} windows of 512 tokens, 2 models · statistics kernel {:?} · GGML_CPU_TILED_MM={}",
        model.display(),
        chunks.len(),
        Isa::detect(),
        std::env::var("GGML_CPU_TILED_MM").unwrap_or_default()
    );
    let mut runs = Vec::new();
    for &u in &ubatches {
        if wanted("none") {
            runs.push(("no logits (prompt processing)", 512, u));
        }
        if wanted("half") {
            runs.push(("second half scored (llama-perplexity)", 257, u));
        }
        if wanted("all") {
            runs.push(("every position scored", 1, u));
        }
    }
    for (i, (name, first, ubatch)) in runs.into_iter().enumerate() {
        let scorer = Scorer::new(
            &a,
            vec![&b],
            ScoreOptions {
                ubatch: Some(ubatch),
                ..options.clone()
            },
        );
        if i == 0 {
            // Warm-up (page in the weights, size the buffers).
            let _ = scorer.score(&with_first(512)[..1], chunks.len()).unwrap();
        }
        let (_, t) = scorer.score(&with_first(first), chunks.len()).unwrap();
        let passes = 2.0 * t.tokens as f64;
        println!(
            "{name:<38} ubatch {ubatch:>3}: {:>6.1} tokens/s per model pass · llama_decode alone {:>6.1} tokens/s · decode {:>5.1} s, statistics {:>4.2} s, wall {:>5.1} s",
            passes / t.wall_secs,
            passes / t.decode_secs,
            t.decode_secs,
            t.stats_secs,
            t.wall_secs
        );
    }
}
