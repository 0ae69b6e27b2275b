//! Agreement with llama.cpp: litmus's mean KLD and same-top agreement of two
//! quantizations against a reference, on the shipped text, equal what
//! `llama-perplexity --kl-divergence-base/--kl-divergence` reports, within 1%
//! relative, with the same context size and chunks (only the second half of
//! each 512-token chunk is scored, as llama-perplexity does).
//!
//! The models: the built-in default (Q4_K_M) requantized by litmus's own
//! quantizer (`cargo eval quantize`'s code) to Q8_0, the reference (a
//! higher-precision container of the same weights), and to Q2_K and Q4_0.
//! llama.cpp's tools come from `scripts/llama-tools.sh`
//! (`~/.cache/llama-reference/bin`, or `LLAMA_REFERENCE_BIN`); without them,
//! or without the default model in the cache, the test says it was skipped.
//!
//! Both sides use the same CPU kernels, litmus's defaults: weights not
//! repacked (`--no-repack`; `ScoreOptions::repack` off) and llama.cpp's tiled
//! K-quant kernel off (`GGML_CPU_TILED_MM=0`, set for this process and its
//! children). Kernels change logits in their last bits, which is enough to
//! flip near-ties of the top token: with llama-perplexity's default layouts
//! against litmus's, same-top agreement of Q4_0 differed by 14 tokens in
//! 2,040.

use std::path::{Path, PathBuf};
use std::process::Command;

use litmus_core::run::fidelity::FidelitySums;
use litmus_llama::fidelity::{ScoreOptions, Scorer, TeacherModel};
use litmus_llama::models::{cache_dir, DEFAULT_MODEL};
use litmus_llama::quantize::{quantize, QuantizeOptions};

const TEXT: &str = include_str!("data/coriolanus.txt");
const N_CTX: usize = 512;

fn tools() -> Option<PathBuf> {
    let dir = std::env::var_os("LLAMA_REFERENCE_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/llama-reference/bin"))
        })?;
    dir.join("llama-perplexity").is_file().then_some(dir)
}

fn threads() -> usize {
    litmus_llama::physical_cores().clamp(1, 4)
}

/// A rung of the default model, built once into the temporary directory.
fn rung(src: &Path, ty: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("litmus-fidelity-test");
    std::fs::create_dir_all(&dir).unwrap();
    let dst = dir.join(format!("gemma-3-270m-{}.gguf", ty.to_ascii_lowercase()));
    if !dst.is_file() {
        quantize(src, &dst, ty, &QuantizeOptions::default(), |_, _| {}).unwrap();
    }
    dst
}

/// `(mean KLD, same top %, scored tokens)` from llama-perplexity's output.
fn parse(out: &str) -> (f64, f64) {
    let value = |prefix: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in llama-perplexity's output:\n{out}"));
        line[prefix.len()..]
            .trim_start_matches(':')
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (value("Mean    KLD"), value("Same top p"))
}

fn perplexity(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin.join("llama-perplexity"))
        .args(args)
        .args(["-c", &N_CTX.to_string(), "-t", &threads().to_string()])
        .arg("--no-repack")
        .env("GGML_CPU_TILED_MM", "0")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "llama-perplexity {args:?} failed:\n{text}"
    );
    text
}

#[test]
fn kld_and_same_top_agree_with_llama_perplexity() {
    // Before this process's first matrix product; no other thread reads the
    // environment yet.
    std::env::set_var("GGML_CPU_TILED_MM", "0");
    let Some(bin) = tools() else {
        println!("skipped: llama.cpp's llama-perplexity not found (run scripts/llama-tools.sh or set LLAMA_REFERENCE_BIN)");
        return;
    };
    let src = cache_dir().join(DEFAULT_MODEL.file_name);
    if !src.is_file() {
        println!(
            "skipped: the default model is not in {}",
            cache_dir().display()
        );
        return;
    }
    let reference = rung(&src, "Q8_0");
    let quants = [rung(&src, "Q2_K"), rung(&src, "Q4_0")];
    let work = tempfile::tempdir().unwrap();
    let text = work.path().join("text.txt");
    std::fs::write(&text, TEXT).unwrap();
    let base = work.path().join("base.kld");
    let p = |p: &Path| p.display().to_string();
    perplexity(
        &bin,
        &[
            "-m",
            &p(&reference),
            "-f",
            &p(&text),
            "--kl-divergence-base",
            &p(&base),
        ],
    );
    let theirs: Vec<(f64, f64)> = quants
        .iter()
        .map(|q| {
            parse(&perplexity(
                &bin,
                &[
                    "-m",
                    &p(q),
                    "--kl-divergence-base",
                    &p(&base),
                    "--kl-divergence",
                ],
            ))
        })
        .collect();

    let options = ScoreOptions {
        threads: threads(),
        window: N_CTX,
        ..ScoreOptions::default()
    };
    let r = TeacherModel::load(&reference, "auto", &options).unwrap();
    let qs: Vec<TeacherModel> = quants
        .iter()
        .map(|q| TeacherModel::load(q, "auto", &options).unwrap())
        .collect();
    let chunks = r.perplexity_chunks(TEXT, N_CTX);
    assert!(chunks.len() >= 4, "the text makes {} chunks", chunks.len());
    let scorer = Scorer::new(&r, qs.iter().collect(), options);
    let (sums, timings) = scorer.score(&chunks, chunks.len()).unwrap();
    assert_eq!(
        timings.scored as usize,
        chunks.len() * (N_CTX - 1 - N_CTX / 2),
        "llama-perplexity's scored tokens"
    );
    for ((q, groups), (kld, same)) in quants.iter().zip(&sums).zip(&theirs) {
        let mut all = FidelitySums::default();
        groups.iter().for_each(|g| all.merge(g));
        let ours = all.stats();
        let same_ours = 100.0 * ours.same_top;
        println!(
            "{}: mean KLD litmus {:.6} llama.cpp {kld:.6}; same top litmus {same_ours:.3}% llama.cpp {same:.3}%; {} tokens",
            q.display(),
            ours.mean_kld,
            ours.tokens
        );
        assert!(
            (ours.mean_kld - kld).abs() <= 0.01 * kld,
            "{}: mean KLD {} vs llama.cpp {kld}",
            q.display(),
            ours.mean_kld
        );
        assert!(
            (same_ours - same).abs() <= 0.01 * same,
            "{}: same top {same_ours}% vs llama.cpp {same}%",
            q.display()
        );
    }
}
