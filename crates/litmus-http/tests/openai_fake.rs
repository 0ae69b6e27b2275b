//! The OpenAI-compatible backend against a hand-rolled loopback server:
//! request bodies, retries, error mapping, `n`, API keys, endpoint pools.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{
    chat_reply, dead_port, from_threads, models, openai_spec, server, FakeServer, Req, Resp,
};
use litmus_core::base::backend::{
    sample_seed, Backend, BackendError, FinishReason, GenerationRequest, Message, Prompt,
    SamplingParams,
};
use litmus_http::{wire_seed, NSupport, OpenAiBackend};
use serde_json::json;

fn ok_server() -> FakeServer {
    server(|r| {
        let n = r.json()["n"].as_u64().unwrap_or(1) as usize;
        Resp::json(200, &chat_reply(&vec!["hi"; n]))
    })
}

fn request(samples: Vec<u32>) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Chat(vec![Message::system("Be brief."), Message::user("Hello")]),
        params: SamplingParams {
            temperature: 0.7,
            max_tokens: 16,
            ..SamplingParams::default()
        },
        samples,
    }
}

#[test]
fn chat_and_completion_bodies() {
    let s = server(|r| {
        if r.path == "/v1/completions" {
            Resp::json(
                200,
                &json!({"choices": [{"index": 0, "text": " Paris", "finish_reason": "length"}],
                                    "usage": {"prompt_tokens": 4, "completion_tokens": 2}}),
            )
        } else {
            Resp::json(200, &chat_reply(&["hi"]))
        }
    });
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    assert_eq!(
        b.model_id(),
        "tiny.gguf",
        "the first listed model is the default"
    );
    let info = b.model();
    assert_eq!(info.backend, "openai");
    assert_eq!(info.name, "test-model");
    assert_eq!(info.parameters, Some(268098176));
    assert_eq!(info.size_bytes, Some(253_000_000));
    assert_eq!(b.parallelism(), 4, "default limit without /props");

    let mut req = request(vec![3]);
    req.params.stop = vec!["\n".into()];
    req.params.top_k = 20;
    let g = b.generate(&req).unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(
        (g[0].sample, g[0].text.as_str(), g[0].finish),
        (3, "hi", FinishReason::Stop)
    );
    assert_eq!(
        (g[0].usage.prompt_tokens, g[0].usage.completion_tokens),
        (Some(5), Some(3))
    );
    assert!(g[0].timings.total_ms > 0.0);
    assert_eq!(
        g[0].timings.generation_ms, None,
        "no llama-server timings in this answer"
    );

    let body = s.requests_to("/v1/chat/completions")[0].json();
    assert_eq!(body["model"], "tiny.gguf");
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}])
    );
    assert_eq!(body["max_tokens"], 16);
    assert!((body["temperature"].as_f64().unwrap() - 0.7).abs() < 1e-6);
    assert_eq!(body["seed"], wire_seed(sample_seed(42, 3)));
    assert_eq!(body["stop"], json!(["\n"]));
    assert_eq!(body["top_k"], 20);
    assert!(
        (body["min_p"].as_f64().unwrap() - 0.05).abs() < 1e-6,
        "llama.cpp's default"
    );
    assert_eq!(body["repeat_penalty"], 1.0);
    assert_eq!(body["stream"], false);
    assert!(body.get("n").is_none());

    let req = GenerationRequest {
        prompt: Prompt::Completion("The capital of France is".into()),
        params: SamplingParams {
            max_tokens: 2,
            ..SamplingParams::default()
        },
        samples: vec![0],
    };
    let g = b.generate(&req).unwrap();
    assert_eq!(
        (g[0].text.as_str(), g[0].finish),
        (" Paris", FinishReason::Length)
    );
    let body = s.requests_to("/v1/completions")[0].json();
    assert_eq!(body["prompt"], "The capital of France is");
    assert!(body.get("messages").is_none());
}

#[test]
fn raw_completion_flattens_chat_and_extra_sampling_can_be_off() {
    let s = server(|_| {
        Resp::json(
            200,
            &json!({"choices": [{"index": 0, "text": "x", "finish_reason": "stop"}]}),
        )
    });
    let mut spec = openai_spec(&[s.url()]);
    spec.raw_completion = Some(true);
    spec.options.insert("extra_sampling".into(), "false".into());
    spec.options
        .insert("extra_body".into(), r#"{"cache_prompt": false}"#.into());
    let b = OpenAiBackend::open(&spec).unwrap();
    b.generate(&request(vec![0])).unwrap();
    let body = s.requests_to("/v1/completions")[0].json();
    assert_eq!(body["prompt"], "[system]\nBe brief.\n[user]\nHello\n");
    assert!(body.get("top_k").is_none() && body.get("min_p").is_none());
    assert_eq!(body["cache_prompt"], false);
    assert!(b.cache_salt().contains("raw_completion=true"));
}

#[test]
fn retries_503_then_succeeds() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let s = server(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) < 2 {
            Resp::text(
                503,
                r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#,
            )
        } else {
            Resp::json(200, &chat_reply(&["finally"]))
        }
    });
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    let g = b.generate(&request(vec![0])).unwrap();
    assert_eq!(g[0].text, "finally");
    assert_eq!(s.requests_to("/v1/chat/completions").len(), 3);
}

#[test]
fn retry_after_is_honoured_on_429() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let s = server(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            Resp::text(429, r#"{"error":{"message":"slow down"}}"#).header("Retry-After", "1")
        } else {
            Resp::json(200, &chat_reply(&["ok"]))
        }
    });
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    let t = Instant::now();
    b.generate(&request(vec![0])).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        t.elapsed()
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[test]
fn persistent_5xx_is_a_backend_error_with_status_and_body() {
    let s = server(|_| Resp::text(500, "kaboom: out of memory"));
    let mut spec = openai_spec(&[s.url()]);
    spec.options.insert("retries".into(), "2".into());
    let b = OpenAiBackend::open(&spec).unwrap();
    match b.generate(&request(vec![0])) {
        Err(BackendError::Backend(m)) => {
            assert!(
                m.contains("500") && m.contains("kaboom: out of memory"),
                "{m}"
            );
            assert!(m.contains(&s.url()), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.requests_to("/v1/chat/completions").len(),
        3,
        "first try + 2 retries"
    );
}

#[test]
fn client_errors_are_not_retried() {
    let s = server(|r| {
        if r.json()["max_tokens"] == 1 {
            Resp::text(
                400,
                r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#,
            )
        } else {
            Resp::text(
                400,
                r#"{"error":{"code":400,"message":"bad sampling field","type":"invalid_request_error"}}"#,
            )
        }
    });
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    match b.generate(&request(vec![0])) {
        Err(BackendError::Backend(m)) => {
            assert!(m.contains("400") && m.contains("bad sampling field"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.requests_to("/v1/chat/completions").len(), 1);
    let mut req = request(vec![0]);
    req.params.max_tokens = 1;
    assert!(matches!(
        b.generate(&req),
        Err(BackendError::PromptTooLong(_))
    ));
}

#[test]
fn timeouts_are_reported_not_retried() {
    let s =
        server(|_| Resp::json(200, &chat_reply(&["late"])).delayed(Duration::from_millis(5000)));
    let mut spec = openai_spec(&[s.url()]);
    spec.timeout_secs = Some(1);
    let b = OpenAiBackend::open(&spec).unwrap();
    let t = Instant::now();
    assert!(matches!(
        b.generate(&request(vec![0])),
        Err(BackendError::Timeout(_))
    ));
    assert!(t.elapsed() < Duration::from_millis(4000));
    assert_eq!(s.requests_to("/v1/chat/completions").len(), 1);
}

#[test]
fn an_answer_larger_than_any_completion_is_an_error_not_a_memory_hog() {
    let big = format!(
        "{{\"choices\": [{{\"text\": \"{}\"}}]}}",
        "a".repeat(65 << 20)
    );
    let s = server(move |_| Resp::text(200, &big));
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    match b.generate(&request(vec![0])) {
        Err(BackendError::Backend(m)) => assert!(m.contains("larger than 64 MiB"), "{m}"),
        other => panic!("{:?}", other.map(|g| g.len())),
    }
}

#[test]
fn dropped_connections_and_dead_servers_are_connection_errors() {
    let s = server(|_| Resp::Close);
    let mut spec = openai_spec(&[s.url()]);
    spec.options.insert("retries".into(), "1".into());
    let b = OpenAiBackend::open(&spec).unwrap();
    assert!(matches!(
        b.generate(&request(vec![0])),
        Err(BackendError::Connection(_))
    ));

    let mut s = ok_server();
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    b.generate(&request(vec![0])).unwrap();
    s.stop();
    let t = Instant::now();
    match b.generate(&request(vec![0, 1])) {
        Err(BackendError::Connection(m)) => assert!(m.contains("127.0.0.1"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "gave up quickly: {:?}",
        t.elapsed()
    );
    assert!(!b.endpoint_stats()[0].healthy);
}

#[test]
fn open_errors_are_clear() {
    let port = dead_port();
    let url = format!("http://127.0.0.1:{port}/v1");
    match OpenAiBackend::open(&openai_spec(&[url])) {
        Err(BackendError::Connection(m)) => {
            assert!(m.contains(&format!("127.0.0.1:{port}")), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let s = FakeServer::start(|_| Resp::json(200, &json!({"data": [{"id": "a"}, {"id": "b"}]})));
    let mut spec = openai_spec(&[s.url()]);
    spec.model = Some("c".into());
    match OpenAiBackend::open(&spec) {
        Err(BackendError::Load(m)) => assert!(m.contains("`c`") && m.contains("a, b"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut spec = openai_spec(&[s.url()]);
    spec.options.insert("retry".into(), "1".into());
    assert!(
        matches!(OpenAiBackend::open(&spec), Err(BackendError::Load(m)) if m.contains("unknown option `retry`"))
    );
}

#[test]
fn servers_that_report_only_a_model_name_do_not_share_cached_answers() {
    let bare = || {
        FakeServer::start(|r: &Req| match r.path.as_str() {
            "/v1/models" => Resp::json(200, &json!({"data": [{"id": "default"}]})),
            "/props" => Resp::text(404, "not found"),
            _ => Resp::json(200, &chat_reply(&["hi"])),
        })
    };
    let (a, b) = (bare(), bare());
    let open = |s: &FakeServer| OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    let (da, db) = (
        open(&a).model().digest.clone(),
        open(&b).model().digest.clone(),
    );
    assert_ne!(da, db);
    assert!(
        da.starts_with("openai:default;at=http://127.0.0.1:"),
        "{da}"
    );
    // The same server, opened again: the same key.
    assert_eq!(open(&a).model().digest, da);
    // Where the server reports the weights' size, that identifies them.
    let s = ok_server();
    assert!(!open(&s).model().digest.contains(";at="));
}

#[test]
fn props_give_quantization_context_and_slots() {
    let s = FakeServer::start(|r| match r.path.as_str() {
        "/v1/models" => Resp::json(200, &models()),
        "/props" => Resp::json(
            200,
            &json!({"default_generation_settings": {"n_ctx": 1024}, "total_slots": 3,
                    "model_path": "/models/gemma-3-270m-it-Q5_K_M.gguf", "build_info": "b1-abc"}),
        ),
        _ => Resp::json(200, &chat_reply(&["x"])),
    });
    // A base URL without /v1 works too.
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    assert_eq!(b.model().quantization.as_deref(), Some("Q5_K_M"));
    assert_eq!(b.model().context_length, Some(1024));
    assert_eq!(b.parallelism(), 3);
    assert!(b.model().digest.contains("gemma-3-270m-it-Q5_K_M.gguf"));
    let mut spec = openai_spec(&[format!("{}/v1", s.url())]);
    spec.parallel = Some(2);
    spec.quantization = Some("Q4_0".into());
    let b = OpenAiBackend::open(&spec).unwrap();
    assert_eq!(b.parallelism(), 2);
    assert_eq!(b.model().quantization.as_deref(), Some("Q4_0"));
    // llama-server: `n` is not used under `auto` (its usage would cover the first choice only).
    assert_eq!(b.n_support(), NSupport::No);
    b.generate(&request(vec![0, 1])).unwrap();
    assert!(s
        .requests_to("/v1/chat/completions")
        .iter()
        .all(|r| r.json().get("n").is_none()));
    // The file type beats the file name.
    let s = FakeServer::start(|r| match r.path.as_str() {
        "/v1/models" => Resp::json(
            200,
            &json!({"data": [{"id": "x-q8_0.gguf", "owned_by": "llamacpp",
            "meta": {"ftype": "Q4_K - Medium"}}]}),
        ),
        _ => Resp::text(404, "File Not Found"),
    });
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    assert_eq!(b.model().quantization.as_deref(), Some("Q4_K_M"));
    assert_eq!(b.n_support(), NSupport::No);
}

#[test]
fn api_key_is_sent_but_never_shown() {
    let var = "LITMUS_HTTP_TEST_KEY_7f3a";
    let key = "sk-test-0123456789abcdef";
    // SAFETY (edition 2021: safe): a variable only this test reads.
    std::env::set_var(var, key);
    let s = server(move |r| {
        // A server that echoes what it got in its error, like some proxies do.
        Resp::text(
            401,
            &format!(
                "{{\"error\":{{\"message\":\"bad key {}\"}}}}",
                r.headers["authorization"]
            ),
        )
    });
    let mut spec = openai_spec(&[s.url()]);
    spec.api_key_env = Some(var.into());
    let b = OpenAiBackend::open(&spec).unwrap();
    let err = b.generate(&request(vec![0])).unwrap_err().to_string();
    assert_eq!(
        s.requests_to("/v1/chat/completions")[0].headers["authorization"],
        format!("Bearer {key}")
    );
    assert_eq!(
        s.requests_to("/v1/models")[0].headers["authorization"],
        format!("Bearer {key}")
    );
    assert!(!err.contains(key), "{err}");
    assert!(err.contains("***"), "{err}");
    assert!(!format!("{b:?}").contains(key));
    assert!(!format!("{:?}", b.model()).contains(key));
    assert!(!serde_json::to_string(b.model()).unwrap().contains(key));
    assert!(!b.cache_salt().contains(key));

    let mut spec = openai_spec(&[s.url()]);
    spec.api_key_env = Some("LITMUS_HTTP_TEST_KEY_UNSET_91c2".into());
    match OpenAiBackend::open(&spec) {
        Err(BackendError::Load(m)) => assert!(m.contains("LITMUS_HTTP_TEST_KEY_UNSET_91c2"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn n_is_used_when_the_server_honours_it() {
    let s = ok_server();
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    let g = b.generate(&request(vec![2, 5, 6])).unwrap();
    assert_eq!(
        g.iter().map(|g| g.sample).collect::<Vec<_>>(),
        vec![2, 5, 6]
    );
    let reqs = s.requests_to("/v1/chat/completions");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].json()["n"], 3);
    assert_eq!(
        reqs[0].json()["seed"],
        wire_seed(sample_seed(42, 2)),
        "the first sample's seed"
    );
    assert_eq!(b.n_support(), NSupport::Yes);
}

#[test]
fn n_falls_back_when_ignored() {
    // Answers one choice whatever `n` says.
    let s = server(|r| Resp::json(200, &chat_reply(&[&r.json()["seed"].to_string()])));
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    let g = b.generate(&request(vec![0, 1, 2])).unwrap();
    let mut g: Vec<_> = g.into_iter().map(|g| (g.sample, g.text)).collect();
    g.sort();
    let want: Vec<_> = (0..3)
        .map(|i| (i, wire_seed(sample_seed(42, i)).to_string()))
        .collect();
    assert_eq!(g, want, "every sample generated with its own seed");
    assert_eq!(s.requests_to("/v1/chat/completions").len(), 3);
    assert_eq!(b.n_support(), NSupport::No);
    b.generate(&request(vec![0, 1])).unwrap();
    let reqs = s.requests_to("/v1/chat/completions");
    assert_eq!(reqs.len(), 5);
    assert!(
        reqs[3..].iter().all(|r| r.json().get("n").is_none()),
        "n is not tried again"
    );
}

#[test]
fn n_falls_back_when_rejected() {
    let s = server(|r| {
        if r.json().get("n").is_some() {
            Resp::text(
                400,
                r#"{"error":{"code":400,"message":"Only one completion choice is allowed","type":"invalid_request_error"}}"#,
            )
        } else {
            Resp::json(200, &chat_reply(&["one"]))
        }
    });
    let b = OpenAiBackend::open(&openai_spec(&[s.url()])).unwrap();
    let g = b.generate(&request(vec![0, 1, 2, 3])).unwrap();
    assert_eq!(g.len(), 4);
    assert_eq!(b.n_support(), NSupport::No);
    assert_eq!(s.requests_to("/v1/chat/completions").len(), 5);

    // Configured off: never sent.
    let s = ok_server();
    let mut spec = openai_spec(&[s.url()]);
    spec.options.insert("n_supported".into(), "false".into());
    let b = OpenAiBackend::open(&spec).unwrap();
    b.generate(&request(vec![0, 1])).unwrap();
    assert!(s
        .requests_to("/v1/chat/completions")
        .iter()
        .all(|r| r.json().get("n").is_none()));
}

#[test]
fn concurrency_is_limited_per_endpoint() {
    let s = server(|_| Resp::json(200, &chat_reply(&["x"])).delayed(Duration::from_millis(60)));
    let mut spec = openai_spec(&[s.url()]);
    spec.parallel = Some(3);
    let b = Arc::new(OpenAiBackend::open(&spec).unwrap());
    assert_eq!(b.parallelism(), 3);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || b.generate(&request(vec![0, 1])).unwrap().len())
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 16);
    assert_eq!(
        s.max_in_flight(),
        3,
        "never more than the limit, and the limit is used"
    );
}

#[test]
fn pool_prefers_the_least_busy_endpoint() {
    let slow =
        server(|_| Resp::json(200, &chat_reply(&["slow"])).delayed(Duration::from_millis(400)));
    // While the four requests below start, the fast endpoint is slow too: on
    // a loaded machine its 5 ms answer could finish before the fourth
    // request is sent, and it would never hold two at once.
    let warming = Arc::new(AtomicBool::new(true));
    let fast = {
        let warming = Arc::clone(&warming);
        server(move |_| {
            let ms = if warming.load(Ordering::SeqCst) {
                400
            } else {
                5
            };
            Resp::json(200, &chat_reply(&["fast"])).delayed(Duration::from_millis(ms))
        })
    };
    let mut spec = openai_spec(&[slow.url(), fast.url()]);
    spec.parallel = Some(2);
    let b = Arc::new(OpenAiBackend::open(&spec).unwrap());
    assert_eq!(b.parallelism(), 4);
    // Four requests at once: two land on each endpoint.
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (b, barrier) = (Arc::clone(&b), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                b.generate(&request(vec![0])).unwrap()
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(slow.max_in_flight(), 2);
    assert_eq!(fast.max_in_flight(), 2);
    warming.store(false, Ordering::SeqCst);
    // A stream of requests from 3 threads: the fast endpoint frees up sooner
    // and gets most of the work.
    let before = (
        slow.requests_to("/v1/chat/completions").len(),
        fast.requests_to("/v1/chat/completions").len(),
    );
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                for _ in 0..10 {
                    b.generate(&request(vec![0])).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let slow_n = slow.requests_to("/v1/chat/completions").len() - before.0;
    let fast_n = fast.requests_to("/v1/chat/completions").len() - before.1;
    assert_eq!(slow_n + fast_n, 30);
    assert!(fast_n >= 3 * slow_n, "fast {fast_n}, slow {slow_n}");
    let stats = b.endpoint_stats();
    assert!(stats
        .iter()
        .all(|s| s.in_flight == 0 && s.healthy && s.failures == 0));
}

#[test]
fn pool_fails_over_and_probes_the_failed_endpoint_later() {
    let mut a = ok_server();
    let b_srv = ok_server();
    let a_port = a.port();
    let mut spec = openai_spec(&[a.url(), b_srv.url()]);
    spec.options.insert("cooldown_ms".into(), "1000".into());
    let b = OpenAiBackend::open(&spec).unwrap();
    for _ in 0..4 {
        b.generate(&request(vec![0])).unwrap();
    }
    assert_eq!(a.requests_to("/v1/chat/completions").len(), 2);
    a.stop();
    // Every request still succeeds: the dead endpoint is tried once, then
    // skipped; each answer names the endpoint that gave it.
    for _ in 0..6 {
        let g = b.generate(&request(vec![0])).unwrap();
        assert_eq!(g[0].served_by, Some(format!("{}/v1", b_srv.url())));
    }
    let stats = b.endpoint_stats();
    assert_eq!(stats[0].failures, 1, "{stats:?}");
    assert!(!stats[0].healthy);
    assert_eq!(b_srv.requests_to("/v1/chat/completions").len(), 2 + 6);
    // The endpoint comes back on the same port; after the cool-down a probe finds it.
    let a2 = FakeServer::start_on(
        a_port,
        Arc::new(|r: &Req| match r.path.as_str() {
            "/v1/models" => Resp::json(200, &models()),
            _ => Resp::json(200, &chat_reply(&["back"])),
        }),
    );
    std::thread::sleep(Duration::from_millis(1100));
    let texts: Vec<String> = (0..4)
        .map(|_| b.generate(&request(vec![0])).unwrap()[0].text.clone())
        .collect();
    assert!(texts.iter().any(|t| t == "back"), "{texts:?}");
    assert!(b.endpoint_stats()[0].healthy);
    drop(a2);
}

/// Endpoints of one pool must serve the same weights: servers reporting
/// different sizes or parameter counts are refused at open, naming both;
/// identical ones share the work and each answer names its server.
#[test]
fn a_pool_serves_one_model_and_names_the_server_of_each_answer() {
    let other_weights = |size: u64, params: u64| {
        FakeServer::start(move |r: &Req| match r.path.as_str() {
            "/v1/models" => Resp::json(
                200,
                &json!({"object": "list", "data": [{"id": "tiny.gguf", "object": "model",
                    "meta": {"n_params": params, "size": size}}]}),
            ),
            _ => Resp::json(200, &chat_reply(&["other"])),
        })
    };
    let a = ok_server();
    let bigger = other_weights(300_000_000, 268098176);
    let err = OpenAiBackend::open(&openai_spec(&[a.url(), bigger.url()])).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, BackendError::Load(_)), "{msg}");
    assert!(msg.contains("file size"), "{msg}");
    assert!(
        msg.contains(&a.url()) && msg.contains(&bigger.url()),
        "{msg}"
    );
    let more_params = other_weights(253_000_000, 1_000_000_000);
    let msg = OpenAiBackend::open(&openai_spec(&[a.url(), more_params.url()]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("parameter count"), "{msg}");

    let c = ok_server();
    let mut spec = openai_spec(&[a.url(), c.url()]);
    spec.parallel = Some(1);
    let b = Arc::new(OpenAiBackend::open(&spec).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || b.generate(&request(vec![0])).unwrap())
        })
        .collect();
    let mut served: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().unwrap()[0].served_by.clone().expect("served_by"))
        .collect();
    served.sort();
    served.dedup();
    assert_eq!(served, {
        let mut v = vec![format!("{}/v1", a.url()), format!("{}/v1", c.url())];
        v.sort();
        v
    });
}

/// A host that disappears while the others are busy: requests wait for the
/// live host's slots instead of failing on the dead one. Probing the dead
/// host after each cool-down costs no request its retries (here none).
#[test]
fn a_dead_host_beside_a_busy_one_fails_no_request() {
    let live =
        server(|_| Resp::json(200, &chat_reply(&["live"])).delayed(Duration::from_millis(60)));
    let mut dead = ok_server();
    let mut spec = openai_spec(&[live.url(), dead.url()]);
    spec.parallel = Some(1);
    spec.options.insert("retries".into(), "0".into());
    spec.options.insert("cooldown_ms".into(), "20".into());
    let b = Arc::new(OpenAiBackend::open(&spec).unwrap());
    dead.stop();
    let b2 = Arc::clone(&b);
    for g in from_threads(4, 4, move || b2.generate(&request(vec![0]))) {
        let g = g.expect("served by the live host");
        assert_eq!(g[0].served_by, Some(format!("{}/v1", live.url())));
    }
    let stats = b.endpoint_stats();
    assert!(
        stats[1].failures >= 2,
        "the dead host was probed again: {stats:?}"
    );
}

#[test]
fn all_endpoints_down_is_a_connection_error_per_request() {
    let mut a = ok_server();
    let mut c = ok_server();
    let mut spec = openai_spec(&[a.url(), c.url()]);
    spec.options.insert("retries".into(), "1".into());
    let b = Arc::new(OpenAiBackend::open(&spec).unwrap());
    a.stop();
    c.stop();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || b.generate(&request(vec![0])))
        })
        .collect();
    for t in threads {
        assert!(matches!(
            t.join().unwrap(),
            Err(BackendError::Connection(_))
        ));
    }
}
