//! The fidelity statistics alone: CPU time per pair of 262,144-entry rows
//! (Gemma 3's vocabulary), 64 pairs beyond the caches as in a window, with
//! each compilation of the pass this CPU can run, and reading both rows once
//! (the memory floor). For BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -p litmus-llama --example fidelity_kernel
//! ```

use litmus_llama::fidelity::kernel::{token_fidelity_with, Isa};

/// This thread's CPU time, ns (so that other processes do not count).
fn cpu_ns() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as f64
        })
}

fn main() {
    const N: usize = 262_144;
    const ROWS: usize = 64;
    let mut seed = 1u64;
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as f64 / (1u64 << 31) as f64) as f32
    };
    let x: Vec<f32> = (0..N * ROWS).map(|_| rnd() * 20.0 - 10.0).collect();
    let y: Vec<f32> = x.iter().map(|&v| v + (rnd() - 0.5) * 0.5).collect();
    let best_of = |f: &dyn Fn(&[f32], &[f32]) -> f64| -> (f64, f64) {
        // 8 passes per timing: the CPU clock may tick at 4 ms.
        let (mut best, mut check) = (f64::MAX, 0.0);
        for _ in 0..3 {
            let t0 = cpu_ns();
            for _ in 0..8 {
                check = (0..ROWS)
                    .map(|r| f(&x[r * N..(r + 1) * N], &y[r * N..(r + 1) * N]))
                    .sum::<f64>();
            }
            best = best.min((cpu_ns() - t0) * 1e-6 / (8 * ROWS) as f64);
        }
        (best, check / ROWS as f64)
    };
    println!("this CPU: {:?}", Isa::detect());
    for isa in [Isa::Avx512, Isa::Avx2, Isa::Baseline] {
        let (ms, kld) = best_of(&|a, b| token_fidelity_with(a, b, 5, isa).kld);
        let name = format!("{isa:?}");
        println!("{name:<10} {ms:.3} ms CPU per row pair (mean KLD {kld:.6})");
    }
    let (ms, _) = best_of(&|a, b| {
        let mut s = [0f32; 32];
        for (ca, cb) in a.chunks_exact(32).zip(b.chunks_exact(32)) {
            for k in 0..32 {
                s[k] += ca[k] + cb[k];
            }
        }
        s.iter().map(|&v| f64::from(v)).sum()
    });
    println!("reading both rows once: {ms:.3} ms CPU per row pair");
}
