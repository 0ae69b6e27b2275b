//! HTTP model backends for litmus: OpenAI-compatible servers (llama.cpp's
//! `llama-server`, vLLM, LM Studio, ...) and Ollama, each over one endpoint or
//! a pool of endpoints serving the same model.
//!
//! ```no_run
//! use litmus_core::base::model::ModelSpec;
//! let spec = ModelSpec::parse("openai:http://127.0.0.1:8080/v1").unwrap();
//! let backend = litmus_http::open(&spec).unwrap();
//! println!("{:?} runs {} requests at once", backend.model(), backend.parallelism());
//! ```
//!
//! # What is sent
//!
//! - **OpenAI-compatible** ([`OpenAiBackend`]): chat prompts go to
//!   `/v1/chat/completions`, completion prompts (and chat prompts when
//!   `raw_completion` is set, flattened with `Prompt::to_text`) to
//!   `/v1/completions`, with `max_tokens`, `temperature`, `top_p`, `seed`, `stop`,
//!   and — unless `extra_sampling = false` — llama.cpp's `top_k`, `min_p` and
//!   `repeat_penalty` (sent always, so that llama-server's own defaults,
//!   `top_k 40` and `min_p 0.05`, do not apply silently). Several samples of one
//!   prompt use `n` when the server honours it (`n_supported`, below); the seed
//!   of such a request is the first sample's, so for per-sample seeds set
//!   `n_supported = false`. On llama-server `auto` means no `n`: older builds
//!   reject it, and newer ones report `usage`/`timings` of the first choice only,
//!   so every sample is its own request with its own seed (its parallel slots
//!   keep the throughput). Usage comes from `usage` (with several choices: a
//!   choice cut at `max_tokens` counts `max_tokens`, the others share the rest),
//!   timings from llama-server's `timings` when present (`prompt_ms`,
//!   `predicted_ms`; the time to first token is the measured latency minus
//!   `predicted_ms`; `total_ms` is the measured latency of the HTTP exchange,
//!   without the wait for a free slot). Model details come from `/v1/models`
//!   (`meta.n_params`, `meta.size`, `meta.ftype`) and llama-server's `/props`
//!   (`model_ftype`/`model_path` → quantization label, `n_ctx`, `total_slots`).
//! - **Ollama** ([`OllamaBackend`]): chat prompts go to `/api/chat`, completion
//!   prompts to `/api/generate` with `raw: true`, always `stream: false`, with
//!   options `temperature`, `seed`, `num_predict`, `top_p`, `top_k`, `min_p`,
//!   `repeat_penalty`, `stop` and `num_ctx` (from `ModelSpec.context`; set it —
//!   Ollama's default context depends on the machine). Timings come from the
//!   nanosecond fields (`prompt_eval_duration`, `eval_duration`, `load_duration`,
//!   `total_duration`; time to first token = load + prompt evaluation). Model
//!   details come from `/api/show` at open (and size and digest from `/api/tags`).
//!   **The Ollama backend is tested against recorded response shapes only**
//!   (`tests/fixtures/ollama/`), not against a running Ollama.
//!
//! Seeds: sample `i` of a request with base seed `s` uses
//! [`sample_seed`](litmus_core::base::backend::sample_seed)`(s, i)`, folded to 31 bits
//! by [`wire_seed`] because servers disagree on the seed's range.
//!
//! # Endpoints, limits, retries
//!
//! `ModelSpec.source` and `ModelSpec.endpoints` are the base URLs of servers
//! that all serve the model (e.g. one llama-server per GPU). Each endpoint takes
//! at most `ModelSpec.parallel` requests at once (default: llama-server's
//! `total_slots` from `/props`, else 4); [`Backend::parallelism`] is the sum.
//! A request goes to the healthy endpoint with the fewest requests in flight.
//! An endpoint that cannot be connected to (refused, or no answer within
//! `connect_timeout_secs`), or that answers 5xx/429/408, drops a request
//! mid-answer or (in a pool) times out [`STATUS_STRIKES`] times in a row, is
//! taken out for a cool-down (`cooldown_ms`, default 5000,
//! doubling per consecutive failure up to ×8; a `Retry-After` takes it out at
//! once for that long), then one probe request is let through (half-open; a
//! probe that fails in any way, a timeout included, keeps it out); requests
//! fail over to the other endpoints meanwhile, and a retry prefers another
//! endpoint than the one it failed on. Connection errors, 429 (honouring
//! `Retry-After` in seconds), 408 and 5xx (also a 200 answer holding an `error`
//! whose `code` is such a status) are retried `retries` times (default 3) with
//! exponential backoff and jitter (`backoff_ms` 250, `max_backoff_ms` 10000).
//! A request that a server took and then dropped (the connection reset or
//! closed before the whole answer) is sent once more, to another endpoint
//! where there is one, and not failed over further: a prompt that crashes
//! llama-server would otherwise take down every server of the pool in turn.
//! Every failure ends as a [`BackendError`] — `Connection`, `Timeout`
//! (`ModelSpec.timeout_secs`, default 300, bounding the whole answer, body
//! included), `PromptTooLong`, or `Backend` with the HTTP status and a snippet
//! of the body — never a panic. Redirects are not followed: a 3xx is a
//! `Backend` error naming its `Location`. With `n`, each choice received is
//! kept: a choice without text, or missing choices whose separate requests
//! fail, fail their own samples only (a `Partial` result).
//!
//! At open, an invalid URL, an API key that cannot be an HTTP header, and a
//! 401/403 from the server are `Load` errors naming the endpoint or the key's
//! variable; only 404/405 from `/v1/models` mean "no model list" (then the
//! model must be named).
//!
//! The endpoints of one model must serve the same weights: at open, what each
//! reachable server reports (llama-server's file size and parameter count in
//! `/v1/models`, Ollama's digest and size in `/api/tags`, the quantization) is
//! compared, and a pool that differs is a `Load` error naming both servers.
//! Each [`Generation`](litmus_core::base::backend::Generation) names the
//! endpoint that answered (`served_by`), which the runner stores per sample.
//!
//! # Options (`ModelSpec.options`)
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `retries` | 3 | retries after the first attempt |
//! | `backoff_ms`, `max_backoff_ms` | 250, 10000 | backoff before retry `k`: `backoff × 2^k`, capped, times a random factor in [0.5, 1] |
//! | `max_retry_after_secs` | 120 | cap on a server's `Retry-After` |
//! | `cooldown_ms` | 5000 | how long an unreachable endpoint stays out |
//! | `connect_timeout_secs` | 10 | TCP connect timeout |
//! | `n_supported` | `auto` | OpenAI: `true`, `false`, or `auto` (try `n` once; fall back to one request per sample if the server rejects it or returns fewer choices) |
//! | `extra_sampling` | `true` | OpenAI: send `top_k`, `min_p`, `repeat_penalty` (set `false` for servers that reject unknown fields, such as the official API; then at most 4 stop strings are sent, and the others cut the answer here) |
//! | `extra_body` | — | a JSON object merged into every generation request (not the fields litmus sets: `model`, `messages`, `prompt`, `n`, `seed`, `stream`, `max_tokens`, `temperature`, `top_p`, `stop`, `options`, `keep_alive`) |
//! | `keep_alive` | — | Ollama: `keep_alive` sent with each request: seconds (`300`, `-1`) or a duration (`5m`, `1h30m`) |
//!
//! Unknown options are an error. The API key is read from the environment
//! variable named by `ModelSpec.api_key_env` and sent as a bearer token; it is
//! never part of `Debug` output, [`ModelInfo`](litmus_core::base::backend::ModelInfo),
//! or error messages (an error body that echoes it, JSON-escaped or cut short,
//! is redacted: the key and any run of 8 or more of its characters).

mod common;
mod config;
mod ollama;
mod openai;
mod pool;
mod transport;

use std::sync::Arc;

use litmus_core::base::backend::{Backend, BackendError};
use litmus_core::base::model::{BackendKind, ModelSpec};

pub use common::{quantization_from_ftype, quantization_from_name};
pub use config::{
    wire_seed, ApiKey, HttpConfig, NSupport, DEFAULT_PARALLEL, DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_SECS,
};
pub use ollama::OllamaBackend;
pub use openai::OpenAiBackend;
pub use pool::{EndpointStats, Lease, Pool, Unavailable, STATUS_STRIKES};

/// Opens the HTTP backend of `spec` (`backend = "openai"` or `"ollama"`).
pub fn open(spec: &ModelSpec) -> Result<Arc<dyn Backend>, BackendError> {
    match spec.backend {
        BackendKind::Openai => Ok(Arc::new(OpenAiBackend::open(spec)?)),
        BackendKind::Ollama => Ok(Arc::new(OllamaBackend::open(spec)?)),
        other => Err(BackendError::Load(format!(
            "litmus-http serves the openai and ollama backends, not `{other}`"
        ))),
    }
}
