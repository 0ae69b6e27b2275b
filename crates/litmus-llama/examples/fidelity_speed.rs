//! Teacher-forced scoring speed on a model against itself, on the shipped
//! text in 512-token windows: tokens per second per model pass, for
//! BENCHMARKS.md (compare with `llama-bench -p 512 -n 0` at the same threads).
//!
//! ```sh
//! cargo run --release -p litmus-llama --example fidelity_speed -- [MODEL] [THREADS]
//! ```
//!
//! Three passes over the same tokens: no logits at all (prompt processing,
//! what pp512 measures), logits and statistics for the second half of each
//! window (llama-perplexity's chunks), and for every position.

use std::path::PathBuf;

use litmus_llama::fidelity::{ScoreOptions, Scorer, Sequence, TeacherModel};

const TEXT: &str = include_str!("../tests/data/coriolanus.txt");

fn main() {
    let mut args = std::env::args().skip(1);
    let model = args.next().map(PathBuf::from).unwrap_or_else(|| {
        litmus_llama::cache_dir().join(litmus_llama::models::DEFAULT_MODEL.file_name)
    });
    let threads = args
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(litmus_llama::physical_cores);
    let options = ScoreOptions {
        threads,
        window: 512,
        gpu_layers: None,
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
    let scorer = Scorer::new(&a, vec![&b], options);
    // Warm-up (page in the weights, size the buffers).
    let _ = scorer.score(&with_first(512)[..1], chunks.len()).unwrap();
    println!(
        "{} · {threads} threads · {} windows of 512 tokens, 2 models",
        model.display(),
        chunks.len()
    );
    for (name, first) in [
        ("no logits (prompt processing)", 512),
        ("second half scored (llama-perplexity)", 257),
        ("every position scored", 1),
    ] {
        let (_, t) = scorer.score(&with_first(first), chunks.len()).unwrap();
        let passes = 2.0 * t.tokens as f64;
        println!(
            "{name:<40} {:>7.1} tokens/s per model pass · {:>6.1} scored tokens/s per model · decode {:.1} s, statistics {:.1} s, wall {:.1} s",
            passes / t.wall_secs,
            2.0 * t.scored as f64 / t.wall_secs,
            t.decode_secs,
            t.stats_secs,
            t.wall_secs
        );
    }
}
