//! The OpenAI-compatible backend against a real llama.cpp `llama-server`.
//!
//! The tests start llama-server on free loopback ports (binary from
//! `LLAMA_SERVER_BIN` or `~/.cache/llama-reference/bin/llama-server`, model from
//! `LITMUS_TEST_MODEL` or the default gemma-3-270m Q4_K_M): one shared by the
//! tests that leave it alone, and one of its own for the test that kills it.
//! The tests take turns (two cores).
//! Without the binary these tests fail, unless `LITMUS_SKIP_SERVER_TESTS=1`.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{dead_port, openai_spec, server_lock, shared_server_url, LlamaServer};
use litmus_core::base::backend::{
    Backend, BackendError, FinishReason, GenerationRequest, Prompt, SamplingParams,
};
use litmus_core::base::model::ModelSpec;
use litmus_http::{NSupport, OpenAiBackend};

fn server_spec(url: &str) -> ModelSpec {
    let mut spec = openai_spec(&[format!("{url}/v1")]);
    // Two shared cores can be slow; a timeout here would be a flaky failure.
    spec.timeout_secs = Some(600);
    spec
}

fn backend(url: &str, options: &[(&str, &str)]) -> OpenAiBackend {
    let mut spec = server_spec(url);
    for (k, v) in options {
        spec.options.insert(k.to_string(), v.to_string());
    }
    OpenAiBackend::open(&spec).unwrap()
}

fn chat(text: &str, params: SamplingParams, samples: Vec<u32>) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::user(text),
        params,
        samples,
    }
}

fn sampled(max_tokens: u32) -> SamplingParams {
    SamplingParams {
        temperature: 0.8,
        max_tokens,
        seed: 7,
        ..SamplingParams::default()
    }
}

#[test]
fn chat_and_completion() {
    let _turn = server_lock();
    let Some(url) = shared_server_url() else {
        return;
    };
    let b = backend(&url, &[]);
    let info = b.model();
    assert_eq!(info.backend, "openai");
    assert_eq!(info.quantization.as_deref(), Some("Q4_K_M"), "{info:?}");
    assert!(info.parameters.unwrap() > 200_000_000, "{info:?}");
    assert!(info.size_bytes.unwrap() > 100_000_000, "{info:?}");
    assert_eq!(info.context_length, Some(1024), "-c 4096 over 4 slots");
    assert_eq!(b.parallelism(), 4, "from /props total_slots");
    assert_eq!(b.n_support(), NSupport::No);

    let greedy = SamplingParams {
        max_tokens: 12,
        ..SamplingParams::default()
    };
    let g = b
        .generate(&chat("Name three colors.", greedy.clone(), vec![0]))
        .unwrap();
    assert_eq!(g.len(), 1);
    let g = &g[0];
    assert!(!g.text.trim().is_empty());
    assert!(g.usage.prompt_tokens.unwrap() > 3, "{g:?}");
    assert!(
        (1..=12).contains(&g.usage.completion_tokens.unwrap()),
        "{g:?}"
    );
    let t = g.timings;
    assert!(
        t.prompt_ms.unwrap() > 0.0 && t.generation_ms.unwrap() > 0.0,
        "{t:?}"
    );
    assert!(
        t.ttft_ms.unwrap() <= t.total_ms && t.generation_ms.unwrap() <= t.total_ms,
        "{t:?}"
    );
    assert!(t.generation_tps(&g.usage).unwrap() > 0.0);

    let req = GenerationRequest {
        prompt: Prompt::Completion("The capital of France is".into()),
        params: SamplingParams {
            max_tokens: 6,
            ..SamplingParams::default()
        },
        samples: vec![0],
    };
    let g = &b.generate(&req).unwrap()[0];
    assert_eq!(g.finish, FinishReason::Length);
    assert_eq!(g.usage.completion_tokens.unwrap(), 6);
    assert!(g.usage.prompt_tokens.unwrap() >= 5);
    // Greedy twice: the same text.
    let again = &b.generate(&req).unwrap()[0];
    assert_eq!(g.text, again.text);
    // A stop string is honoured and removed.
    let mut req = req;
    req.params.max_tokens = 24;
    req.params.stop = vec![".".into(), "\n".into()];
    let g = &b.generate(&req).unwrap()[0];
    assert!(
        !g.text.contains('.') && !g.text.contains('\n'),
        "{:?}",
        g.text
    );
}

#[test]
fn seeds_are_reproducible() {
    let _turn = server_lock();
    let Some(url) = shared_server_url() else {
        return;
    };
    // llama-server is reproducible only when the batch composition is the same
    // every time: one request in flight, and no reuse of a cached prompt (its
    // README says as much). With 4 concurrent slots, samples at T=0.8 differ
    // between runs now and then (measured: see BENCH_NOTES.md).
    let mut spec = server_spec(&url);
    spec.parallel = Some(1);
    spec.options
        .insert("extra_body".into(), r#"{"cache_prompt": false}"#.into());
    let b = OpenAiBackend::open(&spec).unwrap();
    let req = chat(
        "Write a short poem about the sea.",
        sampled(12),
        vec![0, 1, 2],
    );
    let texts = |g: Vec<litmus_core::base::backend::Generation>| -> BTreeMap<u32, String> {
        g.into_iter().map(|g| (g.sample, g.text)).collect()
    };
    let first = texts(b.generate(&req).unwrap());
    let second = texts(b.generate(&req).unwrap());
    assert_eq!(first.len(), 3);
    assert_eq!(first, second, "same seed, same text at temperature 0.8");
    let distinct: std::collections::BTreeSet<&String> = first.values().collect();
    assert!(
        distinct.len() >= 2,
        "different samples get different seeds: {first:?}"
    );
    // A sample is the same alone as in company.
    let alone = texts(
        b.generate(&chat(
            "Write a short poem about the sea.",
            sampled(12),
            vec![2],
        ))
        .unwrap(),
    );
    assert_eq!(alone[&2], first[&2]);
    // Another base seed gives other texts.
    let mut other = req.clone();
    other.params.seed = 8;
    assert_ne!(texts(b.generate(&other).unwrap()), first);
}

#[test]
fn n_greater_than_one() {
    let _turn = server_lock();
    let Some(url) = shared_server_url() else {
        return;
    };
    // Forced on: this llama-server honours `n` (older builds reject it; then
    // `n_supported = auto` falls back, see the fake-server tests).
    let b = backend(&url, &[("n_supported", "true")]);
    let req = chat("Tell me a fact about cats.", sampled(10), vec![0, 1, 2]);
    let g = b.generate(&req).unwrap();
    assert_eq!(
        g.iter().map(|g| g.sample).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(
        g.iter()
            .all(|g| !g.text.is_empty() && g.usage.completion_tokens.unwrap() > 0),
        "{g:?}"
    );
    // Auto: one request per sample, each with its own seed.
    let b = backend(&url, &[]);
    assert_eq!(b.n_support(), NSupport::No);
    let g = b.generate(&req).unwrap();
    assert_eq!(g.len(), 3);
}

#[test]
fn concurrent_requests() {
    let _turn = server_lock();
    let Some(url) = shared_server_url() else {
        return;
    };
    let b = Arc::new(backend(&url, &[]));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                let req = chat(&format!("Count to {}.", i + 2), sampled(8), vec![i]);
                b.generate(&req)
            })
        })
        .collect();
    for t in threads {
        let g = t.join().expect("no panic").expect("generation");
        assert_eq!(g.len(), 1);
    }
    let stats = b.endpoint_stats();
    assert_eq!(stats[0].completed, 8);
    assert_eq!(stats[0].in_flight, 0);
}

#[test]
fn killed_server_gives_connection_errors_then_recovers() {
    let _turn = server_lock();
    let Some(mut server) = LlamaServer::start() else {
        return;
    };
    let b = Arc::new(backend(
        &server.url(),
        &[("retries", "1"), ("cooldown_ms", "200")],
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (b, stop) = (Arc::clone(&b), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut results = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let req = chat("Tell me a story.", sampled(12), vec![i]);
                    let result = b.generate(&req);
                    // When it ended: a request in flight at the kill fails after it.
                    results.push((Instant::now(), result));
                }
                results
            })
        })
        .collect();
    // Let some requests finish, then kill the server under them.
    let t0 = Instant::now();
    while b.endpoint_stats()[0].completed < 4 && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed_at = Instant::now();
    server.kill();
    std::thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::SeqCst);
    let mut ok = 0;
    let mut connection_errors = 0;
    for w in workers {
        for (at, r) in w.join().expect("no panic in a worker") {
            match r {
                Ok(g) => {
                    assert_eq!(g.len(), 1);
                    ok += 1;
                }
                Err(BackendError::Connection(m)) => {
                    assert!(at >= killed_at, "an error before the kill: {m}");
                    connection_errors += 1;
                }
                Err(other) => panic!("expected a connection error, got {other:?}"),
            }
        }
    }
    assert!(ok >= 4, "{ok}");
    assert!(
        connection_errors >= 4,
        "every worker saw the dead server: {connection_errors}"
    );
    assert!(!b.endpoint_stats()[0].healthy || b.endpoint_stats()[0].failures > 0);

    // Same port, new process: after the cool-down the endpoint is probed and works.
    server.restart();
    std::thread::sleep(Duration::from_millis(250));
    let g = b
        .generate(&chat("Say hi.", sampled(8), vec![0]))
        .expect("works again after a restart");
    assert_eq!(g.len(), 1);
    assert!(b.endpoint_stats()[0].healthy);
}

#[test]
fn pool_fails_over_to_the_live_server() {
    let _turn = server_lock();
    let Some(url) = shared_server_url() else {
        return;
    };
    let dead = format!("http://127.0.0.1:{}/v1", dead_port());
    let mut spec = openai_spec(&[dead, format!("{url}/v1")]);
    spec.timeout_secs = Some(600);
    spec.parallel = Some(2);
    let b = Arc::new(OpenAiBackend::open(&spec).unwrap());
    assert_eq!(b.parallelism(), 4);
    assert!(
        !b.endpoint_stats()[0].healthy,
        "unreachable at open: cooled down"
    );
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || b.generate(&chat("Hello!", sampled(8), vec![i])))
        })
        .collect();
    for t in threads {
        t.join().unwrap().expect("served by the live endpoint");
    }
    let stats = b.endpoint_stats();
    assert_eq!(stats[1].completed, 6);
    assert_eq!(stats[0].completed, 0);
}
