//! Throughput of the in-process engine, in the terms llama.cpp's own tools use.
//!
//! ```text
//! cargo run --release -p litmus-llama --example bench -- [--model SRC] [--threads N] [--reps N] [TEST...]
//! ```
//!
//! Tests (all by default):
//! - `pp512`: one sequence, a 512-token prompt (as `llama-bench -p 512`);
//! - `tg128`: one sequence, 128 generated tokens (as `llama-bench -n 128`);
//! - `same8`: 8 samples of one 128-token prompt, 128 tokens each, decoded together
//!   vs one after another (as `llama-batched-bench -npp 128 -ntg 128 -npl 8 -pps`);
//! - `short`: 40 prompts x 5 samples, ~30 prompt and 80 generated tokens each,
//!   submitted from many threads (compare `llama-batched-bench -npp 30 -ntg 80 -npl 32`);
//! - `ragged`: 48 prompts of 20–120 tokens x 5 samples, budgets of 16–128 new
//!   tokens, prompts arriving over the first seconds while others decode, more
//!   sequences than slots; generated tokens per second of generation (wall clock
//!   less the engine's prompt time), to hold against `llama-batched-bench`'s S_TG
//!   at the same number of sequences (`-npp 70 -ntg 128 -npl N`).

use std::sync::Arc;
use std::time::Instant;

use litmus_core::base::backend::{Backend, Prompt, SamplingParams};
use litmus_core::base::model::ModelSpec;
use litmus_llama::{EngineStats, LlamaBackend};

struct Args {
    model: String,
    threads: u32,
    reps: usize,
    parallel: u32,
    parallel_set: bool,
    /// Prompts in the `short` and `ragged` workloads (`--quick`: a few, for CI).
    prompts: usize,
    options: Vec<(String, String)>,
    tests: Vec<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        model: litmus_llama::DEFAULT_SOURCE.to_string(),
        threads: litmus_llama::physical_cores() as u32,
        reps: 5,
        parallel: 32,
        parallel_set: false,
        prompts: 0,
        options: Vec::new(),
        tests: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--model" | "-m" => a.model = it.next().expect("--model SRC"),
            "--threads" | "-t" => {
                a.threads = it.next().expect("--threads N").parse().expect("number")
            }
            "--reps" | "-r" => a.reps = it.next().expect("--reps N").parse().expect("number"),
            "--parallel" | "-np" => {
                a.parallel = it.next().expect("--parallel N").parse().expect("number");
                a.parallel_set = true;
            }
            "--opt" | "-o" => {
                let kv = it.next().expect("--opt KEY=VALUE");
                let (k, v) = kv.split_once('=').expect("--opt KEY=VALUE");
                a.options.push((k.to_string(), v.to_string()));
            }
            "--quick" => {
                a.prompts = 6;
                a.reps = 1;
            }
            "-h" | "--help" => {
                println!("bench [--model SRC] [--threads N] [--reps N] [--parallel N] [--opt KEY=VALUE]... [--quick] [pp512] [tg128] [same8] [short] [ragged] [determinism]");
                std::process::exit(0);
            }
            t => a.tests.push(t.to_string()),
        }
    }
    if a.tests.is_empty() {
        a.tests = ["pp512", "tg128", "same8", "short", "ragged"]
            .map(String::from)
            .to_vec();
    }
    a
}

fn open(args: &Args, parallel: u32, context: u32) -> Arc<LlamaBackend> {
    let mut spec = ModelSpec::parse(&args.model).unwrap_or_else(|| ModelSpec {
        source: args.model.clone(),
        ..Default::default()
    });
    spec.threads = Some(args.threads);
    spec.parallel = Some(parallel);
    spec.context = Some(context);
    spec.options.insert("ignore_eos".into(), "true".into());
    for (k, v) in &args.options {
        spec.options.insert(k.clone(), v.clone());
    }
    let t = Instant::now();
    let b = LlamaBackend::open(&spec).expect("open model");
    eprintln!(
        "# opened {} ({:?}, {:?}) parallel={parallel} context={context} kv={} threads={} weights {:?} in {:.0} ms",
        b.model().name,
        b.model().quantization,
        b.model().parameters,
        b.settings().kv_size,
        b.settings().threads,
        b.weight_buffers(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    Arc::new(b)
}

/// Where the engine's time went since `before`: inside llama_decode, sampling, the rest.
fn engine_line(test: &str, b: &LlamaBackend, before: EngineStats) {
    let a = b.engine_stats();
    let busy = a.busy_secs - before.busy_secs;
    let decode = a.decode_secs - before.decode_secs;
    let sample = a.sample_secs - before.sample_secs;
    println!(
        "| {test} engine | {:.1}% in llama_decode | {} steps, {} tokens decoded, {} sampled (max {} sequences at once; {} pad rows, {} moves); sampling {:.1}%, other {:.1}% of {:.2} s busy |",
        100.0 * decode / busy,
        a.steps - before.steps,
        a.tokens_decoded - before.tokens_decoded,
        a.tokens_sampled - before.tokens_sampled,
        a.max_active,
        a.padding_tokens - before.padding_tokens,
        a.slot_moves - before.slot_moves,
        100.0 * sample / busy,
        100.0 * (busy - decode - sample) / busy,
        busy
    );
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

fn n_prompts(args: &Args, default: usize) -> usize {
    if args.prompts > 0 {
        args.prompts
    } else {
        default
    }
}

fn greedy(max_tokens: u32) -> SamplingParams {
    SamplingParams {
        temperature: 0.0,
        max_tokens,
        ..Default::default()
    }
}

fn sampling(max_tokens: u32, seed: u64) -> SamplingParams {
    SamplingParams {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        max_tokens,
        seed,
        ..Default::default()
    }
}

/// Token ids spread over the vocabulary (llama-bench uses random tokens too).
fn synthetic_tokens(b: &LlamaBackend, n: usize, salt: u64) -> Vec<i32> {
    let base = b
        .tokenize_prompt(&Prompt::Completion(String::new()))
        .unwrap();
    let mut toks = base; // BOS if the model adds one
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ salt;
    while toks.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        toks.push(1000 + (x % 20_000) as i32);
    }
    toks
}

fn main() {
    // Models run in engine worker processes, as in eval targets
    // (`--opt isolation=thread` runs them on a thread of this process).
    litmus_llama::worker::main_hook();
    let args = parse_args();
    println!("| test | result | detail |");
    println!("| --- | ---: | --- |");
    if args.tests.iter().any(|t| t == "pp512" || t == "tg128") {
        // One sequence, as llama-bench; `--parallel N` opens N slots (the
        // lone sequence's steps are then padded, as in a run).
        let b = open(
            &args,
            if args.parallel_set { args.parallel } else { 1 },
            1024,
        );
        // Warm-up with the shapes measured (as llama-bench does).
        let _ = b.generate_tokens(&synthetic_tokens(&b, 512, 0), &greedy(4), &[0]);
        if args.tests.iter().any(|t| t == "pp512") {
            let mut tps = Vec::new();
            for r in 0..args.reps {
                let toks = synthetic_tokens(&b, 512, r as u64 + 1);
                let g = b.generate_tokens(&toks, &greedy(1), &[0]).expect("pp");
                tps.push(512.0 * 1000.0 / g[0].timings.prompt_ms.expect("prompt ms"));
            }
            let (m, sd) = mean_sd(&tps);
            println!(
                "| pp512 | {m:.1} ± {sd:.1} t/s | 1 sequence, {} reps |",
                args.reps
            );
        }
        if args.tests.iter().any(|t| t == "tg128") {
            let before = b.engine_stats();
            let mut tps = Vec::new();
            let bos = synthetic_tokens(&b, 1, 0);
            for _ in 0..args.reps {
                let one = b.generate_tokens(&bos, &greedy(1), &[0]).expect("tg");
                let long = b.generate_tokens(&bos, &greedy(129), &[0]).expect("tg");
                assert_eq!(long[0].usage.completion_tokens.unwrap(), 129);
                tps.push(128.0 * 1000.0 / (long[0].timings.total_ms - one[0].timings.total_ms));
            }
            let (m, sd) = mean_sd(&tps);
            println!(
                "| tg128 | {m:.1} ± {sd:.1} t/s | 1 sequence, {} reps |",
                args.reps
            );
            engine_line("tg128", &b, before);
        }
    }
    if args.tests.iter().any(|t| t == "same8") {
        let b = open(&args, 8, 512);
        let toks = synthetic_tokens(&b, 128, 77);
        let _ = b.generate_tokens(&toks, &sampling(8, 1), &[0]);
        let before = b.engine_stats();
        let mut ratios = Vec::new();
        let mut together_tps = Vec::new();
        let mut seq_tps = Vec::new();
        for r in 0..args.reps.min(3) {
            let params = sampling(128, 1000 + r as u64);
            // One after another.
            let mut seq_ms = 0.0;
            for s in 0..8u32 {
                let g = b.generate_tokens(&toks, &params, &[s]).expect("seq");
                assert_eq!(g[0].usage.completion_tokens.unwrap(), 128);
                seq_ms += g[0].timings.generation_ms.expect("gen ms");
            }
            // Together.
            let g = b
                .generate_tokens(&toks, &params, &(0..8).collect::<Vec<_>>())
                .expect("together");
            let wall = g
                .iter()
                .map(|g| g.timings.generation_ms.expect("gen ms"))
                .fold(0.0, f64::max);
            let t_tps = 8.0 * 128.0 * 1000.0 / wall;
            let s_tps = 8.0 * 128.0 * 1000.0 / seq_ms;
            together_tps.push(t_tps);
            seq_tps.push(s_tps);
            ratios.push(t_tps / s_tps);
        }
        let (tm, _) = mean_sd(&together_tps);
        let (sm, _) = mean_sd(&seq_tps);
        let (rm, rsd) = mean_sd(&ratios);
        println!(
            "| same8 | {rm:.2}x ± {rsd:.2} | 8 samples of a 128-token prompt, 128 tokens each: together {tm:.1} t/s, one after another {sm:.1} t/s |"
        );
        engine_line("same8", &b, before);
    }
    if args.tests.iter().any(|t| t == "short") {
        let b = open(&args, args.parallel, 512);
        let prompts: Vec<Vec<i32>> = (0..n_prompts(&args, 40) as u64)
            .map(|i| synthetic_tokens(&b, 30, 500 + i))
            .collect();
        let _ = b.generate_tokens(&prompts[0], &sampling(8, 1), &[0]);
        let before = b.engine_stats();
        let mut tps = Vec::new();
        for r in 0..args.reps.min(2) {
            let start = Instant::now();
            let handles: Vec<_> = prompts
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, toks)| {
                    let b = Arc::clone(&b);
                    std::thread::spawn(move || {
                        let g = b
                            .generate_tokens(
                                &toks,
                                &sampling(80, (r * 100 + i) as u64),
                                &[0, 1, 2, 3, 4],
                            )
                            .expect("short");
                        g.iter()
                            .map(|g| g.usage.completion_tokens.unwrap() as usize)
                            .sum::<usize>()
                    })
                })
                .collect();
            let tokens: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(tokens, prompts.len() * 5 * 80);
            tps.push(tokens as f64 / secs);
        }
        let (m, sd) = mean_sd(&tps);
        println!(
            "| short | {m:.1} ± {sd:.1} t/s | {} prompts x 5 samples, 30 prompt + 80 generated tokens, {} sequences at once, wall clock incl. prompts |",
            prompts.len(),
            args.parallel
        );
        engine_line("short", &b, before);
    }
    if args.tests.iter().any(|t| t == "ragged") {
        let b = open(&args, args.parallel, 512);
        // Prompt lengths and budgets from a fixed draw, so runs compare.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut draw = |lo: u64, hi: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            lo + x % (hi - lo + 1)
        };
        let work: Vec<(Vec<i32>, u32)> = (0..n_prompts(&args, 48) as u64)
            .map(|i| {
                let len = draw(20, 120) as usize;
                (synthetic_tokens(&b, len, 900 + i), draw(16, 128) as u32)
            })
            .collect();
        let _ = b.generate_tokens(&work[0].0, &sampling(8, 1), &[0]);
        let mut tg = Vec::new();
        let mut all = Vec::new();
        for r in 0..args.reps.min(2) {
            let before = b.engine_stats();
            let start = Instant::now();
            let handles: Vec<_> = work
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, (toks, budget))| {
                    let b = Arc::clone(&b);
                    std::thread::spawn(move || {
                        // Arrivals spread over the first ~2.4 s.
                        std::thread::sleep(std::time::Duration::from_millis(50 * i as u64));
                        let g = b
                            .generate_tokens(
                                &toks,
                                &sampling(budget, (r * 100 + i) as u64),
                                &[0, 1, 2, 3, 4],
                            )
                            .expect("ragged");
                        g.iter()
                            .map(|g| g.usage.completion_tokens.unwrap() as usize)
                            .sum::<usize>()
                    })
                })
                .collect();
            let tokens: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
            let secs = start.elapsed().as_secs_f64();
            let prompt = b.engine_stats().prompt_secs - before.prompt_secs;
            tg.push(tokens as f64 / (secs - prompt));
            all.push(tokens as f64 / secs);
            if r == 0 {
                engine_line("ragged", &b, before);
            }
        }
        let (m, sd) = mean_sd(&tg);
        let (ma, sda) = mean_sd(&all);
        println!(
            "| ragged | {m:.1} ± {sd:.1} t/s | {} prompts (20-120 tokens) x 5 samples, 16-128 generated tokens, arriving over 2.4 s, {} sequences at once; generated tokens / (wall - prompt time); over the whole wall {ma:.1} ± {sda:.1} t/s |",
            work.len(),
            args.parallel
        );
    }
    if args.tests.iter().any(|t| t == "determinism") {
        // Greedy (no deduplication) and seeded sampling: each prompt alone, twice,
        // and all prompts at once in one batch.
        let parallel = args.parallel;
        let mut b_spec_opts = args.options.clone();
        b_spec_opts.push(("dedupe_greedy".into(), "false".into()));
        let b = open(
            &Args {
                options: b_spec_opts,
                model: args.model.clone(),
                tests: vec![],
                ..args
            },
            parallel,
            512,
        );
        let topics = [
            "the sea",
            "a red bicycle",
            "winter in Norway",
            "baking bread",
            "the moon landing",
            "a lost cat",
            "jazz music",
            "an old library",
        ];
        let prompts: Vec<Vec<i32>> = topics
            .iter()
            .map(|t| {
                b.tokenize_prompt(&Prompt::Completion(format!(
                    "Here is a short story about {t}. Once upon a time"
                )))
                .unwrap()
            })
            .collect();
        for (label, params) in [("greedy", greedy(64)), ("seeded", sampling(64, 5))] {
            let alone: Vec<String> = prompts
                .iter()
                .map(|p| {
                    b.generate_tokens(p, &params, &[0]).expect("alone")[0]
                        .text
                        .clone()
                })
                .collect();
            let again: Vec<String> = prompts
                .iter()
                .map(|p| {
                    b.generate_tokens(p, &params, &[0]).expect("again")[0]
                        .text
                        .clone()
                })
                .collect();
            let handles: Vec<_> = prompts
                .iter()
                .cloned()
                .map(|p| {
                    let b = Arc::clone(&b);
                    let params = params.clone();
                    std::thread::spawn(move || {
                        b.generate_tokens(&p, &params, &[0]).expect("batched")[0]
                            .text
                            .clone()
                    })
                })
                .collect();
            let batched: Vec<String> = handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect();
            if let Ok(path) = std::env::var("BENCH_DUMP") {
                let _ = std::fs::write(format!("{path}.{label}"), alone.join("\n=====\n"));
            }
            let same_twice = alone.iter().zip(&again).filter(|(a, b)| a == b).count();
            let same_batched = alone.iter().zip(&batched).filter(|(a, b)| a == b).count();
            let common_prefix: Vec<usize> = alone
                .iter()
                .zip(&batched)
                .map(|(a, b)| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count())
                .collect();
            println!(
                "| determinism {label} | alone twice {same_twice}/8 equal, alone vs batched {same_batched}/8 equal | common prefix (chars) alone vs batched: {common_prefix:?} |"
            );
        }
    }
}
