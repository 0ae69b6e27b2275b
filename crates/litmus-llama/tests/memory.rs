//! The memory model (`litmus_gguf::memory`, through
//! `litmus_llama::devices::estimate_spec`) against what llama.cpp reports
//! allocating in its load log, on the CPU: the default model at 1, 8 and
//! 32 parallel sequences and sized to a known workload, and a small
//! quantization ladder built from it (requantized: only the sizes matter
//! here).

use std::path::{Path, PathBuf};

use litmus_core::base::backend::Prompt;
use litmus_core::base::model::{KnownRequests, ModelSpec, Workload};
use litmus_core::plan::placement::{ModelMemory, MIB};
use litmus_gguf::synth::{write_synthetic_model, SynthSpec};
use litmus_llama::quantize::{quantize, QuantizeOptions};
use litmus_llama::{resolve_model_path, BufferSize, LlamaBackend, DEFAULT_SOURCE};

fn spec(source: &str, parallel: u32) -> ModelSpec {
    let mut spec = ModelSpec::parse(source).unwrap();
    spec.parallel = Some(parallel);
    spec.threads = Some(1);
    spec.options
        .insert("isolation".to_string(), "thread".to_string());
    spec
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn measured(buffers: &[BufferSize], kind: &str) -> f64 {
    buffers
        .iter()
        .filter(|b| b.kind == kind)
        .map(|b| b.mib)
        .sum()
}

struct Row {
    label: String,
    estimate: [f64; 4],
    measured: [f64; 4],
}

/// Opens `source` at `parallel` and compares; returns the row for the table.
fn compare(source: &str, label: &str, parallel: u32) -> Row {
    compare_spec(&spec(source, parallel), label, parallel)
}

/// Opens `s`, which should run `parallel` sequences, and compares.
fn compare_spec(s: &ModelSpec, label: &str, parallel: u32) -> Row {
    let est: ModelMemory = litmus_llama::devices::estimate_spec(s).unwrap();
    let b = LlamaBackend::open(s).unwrap();
    let buffers = b.buffers();
    assert_eq!(b.settings().parallel, parallel);
    drop(b);
    let estimate = [
        mib(est.weights() - est.tied_output),
        mib(est.kv()),
        mib(est.compute_main),
        mib(est.output_buffer),
    ];
    let measured = [
        measured(&buffers, "model"),
        measured(&buffers, "KV"),
        measured(&buffers, "compute"),
        measured(&buffers, "output"),
    ];
    assert!(
        measured.iter().all(|m| *m > 0.0),
        "{label}: the load log reports every buffer: {buffers:?}"
    );
    Row {
        label: format!("{label} np={parallel}"),
        estimate,
        measured,
    }
}

/// A requantized rung of the default model, built once per target dir.
fn rung(src: &Path, ty: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("memory-ladder");
    std::fs::create_dir_all(&dir).unwrap();
    let dst = dir.join(format!("gemma-3-270m-{}.gguf", ty.to_ascii_lowercase()));
    if !dst.exists() {
        quantize(src, &dst, ty, &QuantizeOptions::default(), |_, _| {}).unwrap();
    }
    dst
}

#[test]
fn estimates_are_within_ten_percent_of_what_llama_cpp_allocates() {
    let default = resolve_model_path(DEFAULT_SOURCE).unwrap();
    let mut rows = Vec::new();
    for parallel in [1, 8, 32] {
        rows.push(compare(DEFAULT_SOURCE, "Q4_K_M", parallel));
    }
    // Sized to a known workload (as the runner tells it): 40 samples in
    // streams fitted to the longest prompt's tokens, which the estimate
    // counts from the vocabulary before the weights load.
    let mut sized = spec(DEFAULT_SOURCE, 0);
    sized.parallel = None;
    sized.workload = Some(Workload {
        samples: 40,
        requests: Some(KnownRequests {
            prompts: vec![
                Prompt::Completion("def add(a, b):\n    \"\"\"Sum.\"\"\"\n".repeat(60)),
                Prompt::user("Name the capital of France."),
            ],
            max_tokens: 300,
        }),
    });
    rows.push(compare_spec(&sized, "workload", 40));
    // The longest request a chat: rendered with the model's chat template,
    // which the vocabulary-only load must see too.
    sized.workload = Some(Workload {
        samples: 12,
        requests: Some(KnownRequests {
            prompts: vec![Prompt::user("Name the capitals of Europe. ".repeat(40))],
            max_tokens: 100,
        }),
    });
    rows.push(compare_spec(&sized, "chat workload", 12));
    for ty in ["Q2_K", "Q8_0"] {
        let path = rung(&default, ty);
        rows.push(compare(path.to_str().unwrap(), ty, 8));
    }
    // A model whose compute buffer is activations, not logits: a synthetic
    // llama (small vocabulary) of ~100 MiB.
    let synth = Path::new(env!("CARGO_TARGET_TMPDIR")).join("memory-ladder/synth-100m.gguf");
    if !synth.exists() {
        write_synthetic_model(&synth, &SynthSpec::of_size_mib(100)).unwrap();
    }
    rows.push(compare(synth.to_str().unwrap(), "synth F16", 4));
    let mut table = String::from(
        "configuration      weights MiB      KV MiB         compute MiB     output MiB     total MiB (error)\n",
    );
    let mut worst: f64 = 0.0;
    for r in &rows {
        let (e, m): (f64, f64) = (r.estimate.iter().sum(), r.measured.iter().sum());
        let err = (e - m) / m;
        worst = worst.max(err.abs());
        table.push_str(&format!("{:<16}", r.label));
        for i in 0..4 {
            table.push_str(&format!(" {:>7.1}/{:<7.1}", r.estimate[i], r.measured[i]));
        }
        table.push_str(&format!(" {e:>7.1}/{m:<7.1} ({:+.1}%)\n", err * 100.0));
    }
    eprintln!("estimate/measured\n{table}");
    for r in &rows {
        let (e, m): (f64, f64) = (r.estimate.iter().sum(), r.measured.iter().sum());
        assert!(
            ((e - m) / m).abs() <= 0.10,
            "{}: estimate {e:.1} MiB vs llama.cpp {m:.1} MiB\n{table}",
            r.label
        );
        // The weights and the KV cache are computed, not estimated: within 1%.
        for (i, what) in [(0, "weights"), (1, "KV")] {
            let (e, m) = (r.estimate[i], r.measured[i]);
            assert!(
                ((e - m) / m).abs() <= 0.01,
                "{}: {what} {e:.2} vs {m:.2} MiB\n{table}",
                r.label
            );
        }
    }
    assert!(worst <= 0.10);
}
