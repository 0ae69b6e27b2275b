//! Writes a synthetic llama-architecture GGUF (random F16 weights) of about
//! the given size, for speed and memory checks on machines without a model
//! at hand (`scripts/gpu-check.sh`).
//!
//! ```text
//! cargo run --release -p litmus-gguf --example synth-gguf -- OUT.gguf [MiB (default 400)]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use litmus_gguf::synth::{write_synthetic_model, SynthSpec};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: synth-gguf OUT.gguf [MiB]");
        return ExitCode::from(2);
    };
    let mib: u64 = match args.next().map(|s| s.parse()) {
        None => 400,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("synth-gguf: the size is a positive number of MiB");
            return ExitCode::from(2);
        }
    };
    let spec = SynthSpec::of_size_mib(mib);
    if let Err(e) = write_synthetic_model(&out, &spec) {
        eprintln!("synth-gguf: {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}: {} layers, width {}, F16, {:.0} MiB",
        out.display(),
        spec.n_layer,
        spec.n_embd,
        size as f64 / (1u64 << 20) as f64
    );
    ExitCode::SUCCESS
}
