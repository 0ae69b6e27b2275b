//! The backends against hostile or broken servers: slow-loris bodies,
//! black-holed hosts, endpoints that keep failing, redirects, keys echoed in
//! error bodies, error objects in 200 answers, lying timings.

mod common;

use std::time::{Duration, Instant};

use common::{openai_spec, FakeServer, Req, Resp};
use litmus_core::base::backend::{
    Backend, BackendError, GenerationRequest, Message, Prompt, SamplingParams,
};
use litmus_http::OpenAiBackend;
use serde_json::{json, Value};

fn models() -> Value {
    json!({"object": "list", "data": [{"id": "tiny.gguf", "object": "model", "owned_by": "vllm"}]})
}

/// A server listing one model and answering every generation with `gen`.
fn server(gen: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> FakeServer {
    FakeServer::start(move |r: &Req| match r.path.as_str() {
        "/v1/models" => Resp::json(200, &models()),
        "/props" => Resp::text(404, "not found"),
        _ => gen(r),
    })
}

fn request(samples: Vec<u32>) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Chat(vec![Message::user("Hello")]),
        params: SamplingParams {
            max_tokens: 16,
            ..SamplingParams::default()
        },
        samples,
    }
}

/// Headers at once, then one body piece every 150 ms for 6 s.
fn dribble(chunked: bool) -> Resp {
    let (head, piece) = if chunked {
        (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            "1\r\n \r\n",
        )
    } else {
        (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n",
            " ",
        )
    };
    Resp::Dribble {
        head: head.into(),
        pieces: vec![piece.to_string(); 40],
        gap: Duration::from_millis(150),
    }
}

// F1: `timeout_secs` bounds the whole answer, body included.
#[test]
fn a_dribbled_body_times_out_at_the_deadline() {
    for chunked in [false, true] {
        let s = server(move |_| dribble(chunked));
        let mut spec = openai_spec(&[s.url()]);
        spec.timeout_secs = Some(1);
        let b = OpenAiBackend::open(&spec).unwrap();
        let t = Instant::now();
        match b.generate(&request(vec![0])) {
            Err(BackendError::Timeout(m)) => {
                assert!(m.contains("did not finish within 1 s"), "{m}")
            }
            other => panic!("chunked {chunked}: {other:?} after {:?}", t.elapsed()),
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "chunked {chunked}: {:?}",
            t.elapsed()
        );
        assert_eq!(s.requests_to("/v1/chat/completions").len(), 1);
    }
    // The model list at open, too.
    let s = FakeServer::start(|_| dribble(true));
    let mut spec = openai_spec(&[s.url()]);
    spec.timeout_secs = Some(1);
    let t = Instant::now();
    let err = OpenAiBackend::open(&spec).unwrap_err().to_string();
    assert!(err.contains("did not finish within 1 s"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}
