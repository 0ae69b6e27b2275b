//! A synthetic run on disk, as large as the budget names: 125 evals ×
//! 12 configurations × 2 samples = 3,000 samples, each with its own prompt
//! text (per eval and template), response, score parts and sandbox output.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use litmus_core::base::backend::{ModelInfo, Prompt, Timings, Usage};
use litmus_core::eval::score::Score;
use litmus_core::run::store::{RunMeta, SampleRecord};
use litmus_core::run::summary::RunSummary;

/// Evals in the synthetic run.
pub const EVALS: usize = 125;

/// A deterministic word salad of about `chars` characters.
fn words(seed: u64, chars: usize) -> String {
    const W: [&str; 16] = [
        "the", "value", "returns", "list", "number", "string", "because", "first", "model",
        "answer", "result", "python", "function", "each", "sum", "count",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::with_capacity(chars + 16);
    while out.len() < chars {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(W[(x % 16) as usize]);
        out.push(if x % 11 == 0 { '\n' } else { ' ' });
    }
    out
}

/// Writes the run into `<root>/runs/synthetic/`; returns the run directory.
pub fn synthetic_run(root: &Path) -> PathBuf {
    let dir = root.join("runs").join("synthetic");
    std::fs::create_dir_all(&dir).unwrap();
    let mut records = Vec::new();
    let mut n = 0u64;
    for (q, shift, gen_ms) in [
        ("Q8_0", 0.0, 4000.0),
        ("Q4_0", -4.0, 3000.0),
        ("Q2_K", -12.0, 2500.0),
    ] {
        for template in ["base", "plain"] {
            for t in [0.0f32, 0.7] {
                for e in 0..EVALS {
                    for s in 0..2u32 {
                        n += 1;
                        let code = e % 3 == 0;
                        let eval = if code {
                            format!("python::task_{e:03}")
                        } else {
                            format!("qa::question_{e:03}")
                        };
                        let base = ((e * 37) % 101) as f64;
                        let v = (base + shift + if t > 0.0 { (s as f64) * 7.0 - 3.0 } else { 0.0 })
                            .clamp(0.0, 100.0);
                        let v = if base > 90.0 {
                            100.0
                        } else if base < 12.0 {
                            0.0
                        } else {
                            v
                        };
                        let errored = e == 7 && q == "Q2_K" && s == 1;
                        let prompt = if code {
                            Prompt::Completion(format!(
                                "def task_{e:03}(xs: list[int]) -> int:\n    \"\"\"{}\"\"\"\n",
                                words(e as u64, 300)
                            ))
                        } else {
                            Prompt::user(format!("[{template}] {}?", words(e as u64, 250)))
                        };
                        let response = if n == 2 {
                            // Text that must stay text.
                            "</script><script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">".to_string()
                        } else if code {
                            format!("    # {}\n    return sum(xs)\n", words(n, 600))
                        } else {
                            words(n, 700)
                        };
                        let mut score = Score::new(v);
                        if code {
                            score = score
                                .part("parsed", 25.0)
                                .part("executed", 25.0)
                                .part("examples", v / 4.0)
                                .part("tests", (v - 75.0).max(0.0));
                            if v < 100.0 {
                                score = score.details(format!(
                                    "test 0 failed: Traceback (most recent call last):\n  File \"<test 0>\", line 1\nAssertionError: {}",
                                    words(n + 7, 120)
                                ));
                            }
                        }
                        records.push(SampleRecord {
                            eval: eval.clone(),
                            tags: if code {
                                vec![
                                    "python".into(),
                                    "code".into(),
                                    ["easy", "medium", "hard"][e % 3].into(),
                                ]
                            } else {
                                vec!["qa".into(), ["easy", "medium", "hard"][e % 3].into()]
                            },
                            model: "gemma3-270m".into(),
                            backend: "llama".into(),
                            quantization: Some(q.into()),
                            digest: format!("d-{q}"),
                            template: template.into(),
                            temperature: t,
                            seed: 42,
                            sample: s,
                            prompt: Some(prompt),
                            response: (!errored).then_some(response),
                            score: (!errored).then_some(score),
                            usage: Usage::counted(80, 160),
                            timings: Timings {
                                prompt_ms: Some(900.0),
                                generation_ms: Some(gen_ms + (e as f64) * 3.0),
                                ttft_ms: Some(950.0),
                                total_ms: gen_ms + 950.0,
                            },
                            error: errored
                                .then(|| "connection failed: the engine stopped".to_string()),
                            at_ms: 1_800_000_000_000 + n * 500,
                            ..SampleRecord::default()
                        });
                    }
                }
            }
        }
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("samples.jsonl")).unwrap());
    for r in &records {
        serde_json::to_writer(&mut f, r).unwrap();
        f.write_all(b"\n").unwrap();
    }
    f.flush().unwrap();
    let mut models = BTreeMap::new();
    for (q, mib) in [("Q8_0", 278u64), ("Q4_0", 230), ("Q2_K", 226)] {
        models.insert(
            ("gemma3-270m".to_string(), Some(q.to_string())),
            ModelInfo {
                size_bytes: Some(mib << 20),
                parameters: Some(268_098_176),
                resident_bytes: Some((mib + 800) << 20),
                ..ModelInfo::default()
            },
        );
    }
    let summary = RunSummary::build(
        "synthetic",
        &dir.display().to_string(),
        &records,
        &BTreeMap::new(),
        &models,
        &BTreeMap::new(),
    );
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_vec(&summary).unwrap(),
    )
    .unwrap();
    let meta = RunMeta {
        id: "synthetic".into(),
        started: "2026-12-05T10:00:00Z".into(),
        args: vec!["evals".into(), "--config".into(), "litmus.toml".into()],
        litmus_version: "0.1.0".into(),
        ..Default::default()
    };
    std::fs::write(dir.join("run.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
    dir
}
