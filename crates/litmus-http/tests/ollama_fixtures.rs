//! The Ollama backend against recorded response shapes (`tests/fixtures/ollama/`)
//! served from a loopback server: what it sends, and how it reads the answers.
//! No Ollama binary is available here, so this is the only Ollama coverage.

mod common;

use std::sync::Arc;

use common::{dead_port, FakeServer, Req, Resp};
use litmus_core::base::backend::{
    sample_seed, Backend, BackendError, FinishReason, GenerationRequest, Message, Prompt,
    SamplingParams,
};
use litmus_core::base::model::{BackendKind, ModelSpec};
use litmus_http::{wire_seed, OllamaBackend};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/ollama/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn ollama_server() -> FakeServer {
    let (chat, generate, show, tags, missing) = (
        fixture("chat.json"),
        fixture("generate.json"),
        fixture("show.json"),
        fixture("tags.json"),
        fixture("show_not_found.json"),
    );
    FakeServer::start(move |r: &Req| match r.path.as_str() {
        "/api/show" if r.json()["model"] == "gemma3:270m" => Resp::json(200, &show),
        "/api/show" => Resp::json(404, &missing),
        "/api/tags" => Resp::json(200, &tags),
        "/api/chat" => Resp::json(200, &chat),
        "/api/generate" => Resp::json(200, &generate),
        _ => Resp::text(404, "404 page not found"),
    })
}

fn spec(url: &str, model: &str) -> ModelSpec {
    let mut spec = ModelSpec::parse(&format!("ollama:{url}#{model}")).unwrap();
    spec.context = Some(2048);
    spec.options.insert("backoff_ms".into(), "10".into());
    spec
}

fn params() -> SamplingParams {
    SamplingParams {
        temperature: 0.7,
        top_p: 0.9,
        top_k: 40,
        min_p: 0.05,
        repeat_penalty: 1.1,
        max_tokens: 64,
        stop: vec!["\n\n".into()],
        stop_rule: None,
        seed: 1234,
    }
}

#[test]
fn open_reads_show_and_tags() {
    let s = ollama_server();
    let b = litmus_http::open(&spec(&s.url(), "gemma3:270m")).unwrap();
    let info = b.model();
    assert_eq!(info.name, "gemma3:270m");
    assert_eq!(info.backend, "ollama");
    assert_eq!(info.quantization.as_deref(), Some("Q8_0"));
    assert_eq!(info.architecture.as_deref(), Some("gemma3"));
    assert_eq!(info.parameters, Some(268098176));
    assert_eq!(info.size_bytes, Some(291554930));
    assert_eq!(
        info.digest,
        "sha256:e7d36fb2c3b3293cfe56d55889867a064b3a2b22e98335f2e6e8a387e081d6be"
    );
    assert_eq!(info.context_length, Some(2048));
    assert_eq!(b.parallelism(), 4);
    assert!(b.cache_salt().contains("num_ctx=2048"));
    assert_eq!(
        s.requests_to("/api/show")[0].json(),
        json!({"model": "gemma3:270m"})
    );
}

#[test]
fn chat_request_maps_every_option() {
    let s = ollama_server();
    let b = OllamaBackend::open(&spec(&s.url(), "gemma3:270m")).unwrap();
    let req = GenerationRequest {
        prompt: Prompt::Chat(vec![
            Message::system("Answer briefly."),
            Message::user("Hi!"),
        ]),
        params: params(),
        samples: vec![0, 1, 5],
    };
    let g = b.generate(&req).unwrap();
    assert_eq!(
        g.iter().map(|g| g.sample).collect::<Vec<_>>(),
        vec![0, 1, 5]
    );
    let g0 = &g[0];
    assert_eq!(g0.text, "Hello! How can I help you today?");
    assert_eq!(g0.finish, FinishReason::Stop);
    assert_eq!(
        (g0.usage.prompt_tokens, g0.usage.completion_tokens),
        (Some(14), Some(10))
    );
    assert!((g0.timings.prompt_ms.unwrap() - 23.570125).abs() < 1e-9);
    assert!((g0.timings.generation_ms.unwrap() - 329.842).abs() < 1e-9);
    assert!((g0.timings.ttft_ms.unwrap() - (58.239417 + 23.570125)).abs() < 1e-9);
    assert!((g0.timings.total_ms - 412.875334).abs() < 1e-9);
    assert!((g0.timings.generation_tps(&g0.usage).unwrap() - 10.0 / 0.329842).abs() < 1e-6);

    let reqs = s.requests_to("/api/chat");
    assert_eq!(reqs.len(), 3, "one request per sample");
    let mut seeds: Vec<u64> = reqs
        .iter()
        .map(|r| r.json()["options"]["seed"].as_u64().unwrap())
        .collect();
    seeds.sort();
    let mut want: Vec<u64> = [0, 1, 5]
        .iter()
        .map(|&i| wire_seed(sample_seed(1234, i)))
        .collect();
    want.sort();
    assert_eq!(seeds, want);
    let body = reqs[0].json();
    assert_eq!(body["model"], "gemma3:270m");
    assert_eq!(body["stream"], false);
    assert!(body.get("raw").is_none(), "no raw on /api/chat");
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Hi!"}])
    );
    let o = &body["options"];
    let close = |v: &Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-6;
    assert!(close(&o["temperature"], 0.7));
    assert!(close(&o["top_p"], 0.9));
    assert!(close(&o["min_p"], 0.05));
    assert!(close(&o["repeat_penalty"], 1.1));
    assert_eq!(o["top_k"], 40);
    assert_eq!(o["num_predict"], 64);
    assert_eq!(o["num_ctx"], 2048);
    assert_eq!(o["stop"], json!(["\n\n"]));
    assert_eq!(o.as_object().unwrap().len(), 9, "{o}");
}

#[test]
fn completion_uses_raw_generate() {
    let s = ollama_server();
    let mut sp = spec(&s.url(), "gemma3:270m");
    sp.context = None;
    sp.options.insert("keep_alive".into(), "-1".into());
    let b = OllamaBackend::open(&sp).unwrap();
    let req = GenerationRequest {
        prompt: Prompt::Completion("The capital of France is".into()),
        params: SamplingParams {
            max_tokens: 16,
            ..SamplingParams::default()
        },
        samples: vec![0],
    };
    let g = b.generate(&req).unwrap();
    assert!(g[0].text.starts_with(" Paris"));
    assert_eq!(g[0].finish, FinishReason::Length);
    assert_eq!(
        (g[0].usage.prompt_tokens, g[0].usage.completion_tokens),
        (Some(6), Some(16))
    );
    assert!((g[0].timings.ttft_ms.unwrap() - (3.102875 + 12.807)).abs() < 1e-9);
    let body = s.requests_to("/api/generate")[0].json();
    assert_eq!(body["prompt"], "The capital of France is");
    assert_eq!(body["raw"], true);
    assert_eq!(body["stream"], false);
    assert_eq!(body["keep_alive"], -1);
    assert!(
        body["options"].get("num_ctx").is_none(),
        "no context set: server default"
    );
    assert!(body["options"].get("stop").is_none());
    assert_eq!(body["options"]["temperature"], 0.0);
    assert_eq!(b.model().context_length, None);
}

#[test]
fn show_failure_names_url_and_model() {
    let s = ollama_server();
    match OllamaBackend::open(&spec(&s.url(), "gemma3:999m")) {
        Err(BackendError::Load(m)) => {
            assert!(
                m.contains("gemma3:999m") && m.contains(&s.url()) && m.contains("404"),
                "{m}"
            );
            assert!(m.contains("not found"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let url = format!("http://127.0.0.1:{}", dead_port());
    match OllamaBackend::open(&spec(&url, "gemma3:270m")) {
        Err(BackendError::Connection(m)) => {
            assert!(m.contains("gemma3:270m") && m.contains(&url), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let no_model = ModelSpec {
        backend: BackendKind::Ollama,
        source: s.url(),
        ..ModelSpec::default()
    };
    assert!(
        matches!(OllamaBackend::open(&no_model), Err(BackendError::Load(m)) if m.contains("the ollama backend needs the model's name"))
    );
}

#[test]
fn ollama_errors_and_retries() {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = Arc::clone(&count);
    let (show, chat) = (fixture("show.json"), fixture("chat.json"));
    let s = FakeServer::start(move |r: &Req| match r.path.as_str() {
        "/api/show" => Resp::json(200, &show),
        "/api/tags" => Resp::text(500, "oops"),
        _ => {
            // Ollama answers 503 when its queue is full.
            if c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                Resp::json(
                    503,
                    &json!({"error": "server busy, please try again.  maximum pending requests exceeded"}),
                )
            } else {
                Resp::json(200, &chat)
            }
        }
    });
    let b = OllamaBackend::open(&spec(&s.url(), "gemma3:270m")).unwrap();
    assert!(
        b.model().digest.starts_with("ollama:"),
        "no /api/tags: a name-based digest"
    );
    let req = GenerationRequest {
        prompt: Prompt::user("x"),
        params: params(),
        samples: vec![0],
    };
    assert_eq!(
        b.generate(&req).unwrap()[0].text,
        "Hello! How can I help you today?"
    );
    assert_eq!(s.requests_to("/api/chat").len(), 3);
}
