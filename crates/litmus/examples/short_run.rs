//! A whole eval run of many short cases, for comparing the in-process engine
//! with `llama-batched-bench` (see BENCHMARKS.md): 40 prompts of about 30
//! tokens, 5 samples each at temperature 0.8, 80 generated tokens per sample
//! (`ignore_eos`), 32 sequences in flight, scored as they finish.
//!
//! ```text
//! cargo run --release -p litmus --example short_run -- \
//!     --config crates/litmus/examples/short_run.toml --no-cache --quiet --no-snapshots
//! ```
//!
//! The summary's `all seqs tok/s` is the run's generated tokens over its wall
//! time, from the first request to the last sample scored.

use litmus::prelude::*;

#[eval]
#[case("the sea")]
#[case("a city at night")]
#[case("fresh bread")]
#[case("winter mornings")]
#[case("a lost key")]
#[case("high mountains")]
#[case("an old library")]
#[case("summer rain")]
#[case("a train journey")]
#[case("black coffee")]
#[case("the full moon")]
#[case("a vegetable garden")]
#[case("an old clock")]
#[case("true friendship")]
#[case("a summer storm")]
#[case("the desert")]
#[case("a busy market")]
#[case("falling snow")]
#[case("a stone bridge")]
#[case("jazz music")]
#[case("a lighthouse")]
#[case("autumn leaves")]
#[case("a quiet river")]
#[case("the first snow")]
#[case("a red bicycle")]
#[case("a chess game")]
#[case("a paper map")]
#[case("an empty beach")]
#[case("a wooden boat")]
#[case("city pigeons")]
#[case("a thunderstorm")]
#[case("a night train")]
#[case("green tea")]
#[case("a mountain lake")]
#[case("a street musician")]
#[case("an old photograph")]
#[case("a lemon tree")]
#[case("a foggy harbour")]
#[case("a school bell")]
#[case("a kite")]
fn paragraph(topic: &str) -> TextCase {
    TextCase::new(format!(
        "Write a short paragraph about {topic}. Mention its colour, its sound and one surprising fact about it."
    ))
    .reference(topic.split_whitespace().last().unwrap_or(topic).to_string())
    .metric(Metric::contains())
}

litmus::main!();
