//! Ollama's native API (`/api/chat`, `/api/generate`, `/api/show`).
//!
//! Tested against recorded response shapes only (`tests/fixtures/ollama/`),
//! since no Ollama server can be installed where the tests run.

use std::time::Duration;

use litmus_core::base::backend::{
    sample_seed, Backend, BackendError, FinishReason, Generation, GenerationRequest, ModelInfo,
    Timings, Usage,
};
use litmus_core::base::model::ModelSpec;
use serde_json::{json, Map, Value};

use crate::common::{
    apply_stop_rule, as_f64, as_u32, check_same_weights, messages_json, parse_parameter_size,
    run_samples, stop_strings, wire_prompt, within, Wire,
};
use crate::config::{auth_hint, display_url, wire_seed, HttpConfig, DEFAULT_PARALLEL};
use crate::pool::{EndpointStats, Pool};
use crate::transport::Transport;

/// A backend for an Ollama server, or a pool of them.
///
/// Chat prompts go to `/api/chat`, completion prompts to `/api/generate` with
/// `raw: true`; every sample is its own request with its own seed.
pub struct OllamaBackend {
    info: ModelInfo,
    model: String,
    transport: Transport,
    num_ctx: Option<u32>,
    raw_completion: bool,
    salt: String,
}

impl std::fmt::Debug for OllamaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OllamaBackend")
            .field("info", &self.info)
            .field("model", &self.model)
            .field("transport", &self.transport)
            .finish()
    }
}

impl OllamaBackend {
    /// Connects to the endpoints of `spec` and reads the model's details with
    /// `/api/show` (quantization, family, parameter count). Endpoints that
    /// cannot be reached start cooled down; at least one must answer.
    pub fn open(spec: &ModelSpec) -> Result<Self, BackendError> {
        let cfg = HttpConfig::from_spec(spec)?;
        // A name there is: `from_spec` checks it (`ModelSpec::check_values`).
        let model = spec.model.clone().unwrap_or_default();
        let meta_timeout = cfg.timeout.min(Duration::from_secs(30));
        let limit = cfg.parallel.unwrap_or(DEFAULT_PARALLEL);
        let pool = Pool::new(
            cfg.endpoints.iter().map(|e| (e.clone(), limit)).collect(),
            cfg.cooldown,
        );
        let endpoints = cfg.endpoints.clone();
        let num_ctx = spec.context;
        let raw_completion = spec.raw_completion.unwrap_or(false);
        let keep_alive = cfg.keep_alive.clone();
        let transport = Transport::new(cfg, pool)?;

        let mut shows: Vec<(usize, Value)> = Vec::new();
        let mut unreachable = Vec::new();
        for (i, base) in endpoints.iter().enumerate() {
            match transport.post_once(base, "/api/show", &json!({ "model": model }), meta_timeout) {
                Ok(v) => shows.push((i, v)),
                Err(e) if matches!(e.status, Some(401 | 403)) => {
                    return Err(BackendError::Load(format!(
                        "ollama: {}/api/show: {}: {}",
                        display_url(base),
                        auth_hint(spec),
                        e.error
                    )))
                }
                Err(e) if e.status.is_some() => {
                    return Err(BackendError::Load(format!(
                        "ollama: model `{model}` at {}/api/show: {}",
                        display_url(base),
                        e.error
                    )))
                }
                Err(e) => {
                    transport.pool.mark_down(i, &e.error.to_string());
                    unreachable.push(format!("{}/api/show: {}", display_url(base), e.error));
                }
            }
        }
        if shows.is_empty() {
            return Err(BackendError::Connection(format!(
                "ollama: model `{model}`: no endpoint reachable: {}",
                unreachable.join("; ")
            )));
        }
        // Size and digest come from each server's model list; best effort.
        let reported: Vec<(String, ModelInfo)> = shows
            .iter()
            .map(|(i, show)| {
                let tags = transport
                    .get_once(&endpoints[*i], "/api/tags", meta_timeout)
                    .ok();
                (
                    display_url(&endpoints[*i]),
                    model_info(spec, &model, show, tags.as_ref()),
                )
            })
            .collect();
        check_same_weights("ollama", &reported)?;
        let info = reported
            .into_iter()
            .next()
            .map(|(_, info)| info)
            .expect("one endpoint");
        let salt = format!(
            "ollama;num_ctx={};raw_completion={raw_completion};keep_alive={}",
            num_ctx.map_or("default".to_string(), |n| n.to_string()),
            keep_alive.map_or("default".to_string(), |k| k.to_string())
        );
        Ok(OllamaBackend {
            info,
            model,
            transport,
            num_ctx,
            raw_completion,
            salt,
        })
    }

    /// The Ollama model tag sent with each request.
    pub fn model_id(&self) -> &str {
        &self.model
    }

    /// The state of every endpoint.
    pub fn endpoint_stats(&self) -> Vec<EndpointStats> {
        self.transport.pool.stats()
    }

    /// The request body for one sample, and the path it goes to.
    pub fn request_body(&self, request: &GenerationRequest, sample: u32) -> (&'static str, Value) {
        let p = &request.params;
        let mut options = Map::new();
        options.insert("temperature".into(), json!(p.temperature));
        options.insert("seed".into(), json!(wire_seed(sample_seed(p.seed, sample))));
        options.insert("num_predict".into(), json!(p.max_tokens));
        options.insert("top_p".into(), json!(p.top_p));
        options.insert("top_k".into(), json!(p.top_k));
        options.insert("min_p".into(), json!(p.min_p));
        options.insert("repeat_penalty".into(), json!(p.repeat_penalty));
        let stop = stop_strings(p);
        if !stop.is_empty() {
            options.insert("stop".into(), json!(stop));
        }
        if let Some(n) = self.num_ctx {
            options.insert("num_ctx".into(), json!(n));
        }
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        let path = match wire_prompt(&request.prompt, self.raw_completion) {
            Wire::Chat(messages) => {
                body.insert("messages".into(), messages_json(messages));
                "/api/chat"
            }
            Wire::Text(text) => {
                body.insert("prompt".into(), json!(text));
                body.insert("raw".into(), json!(true));
                "/api/generate"
            }
        };
        body.insert("stream".into(), json!(false));
        body.insert("options".into(), Value::Object(options));
        if let Some(k) = &self.transport.cfg.keep_alive {
            body.insert("keep_alive".into(), k.clone());
        }
        for (k, v) in &self.transport.cfg.extra_body {
            body.insert(k.clone(), v.clone());
        }
        (path, Value::Object(body))
    }

    fn one(&self, request: &GenerationRequest, sample: u32) -> Result<Generation, BackendError> {
        let (path, body) = self.request_body(request, sample);
        let reply = self.transport.post(path, &body)?;
        let mut generation = parse_reply(&reply.json, reply.elapsed, sample).map_err(|m| {
            BackendError::Backend(
                self.transport
                    .redact(&format!("{}: {m}", display_url(&reply.url))),
            )
        })?;
        generation.served_by = Some(display_url(&reply.endpoint));
        Ok(generation)
    }
}

fn ns_to_ms(v: Option<&Value>) -> Option<f64> {
    as_f64(v).map(|ns| ns / 1e6)
}

/// Parses a non-streamed `/api/chat` or `/api/generate` answer.
pub(crate) fn parse_reply(
    json: &Value,
    elapsed: Duration,
    sample: u32,
) -> Result<Generation, String> {
    let text = json
        .get("message")
        .and_then(|m| m.get("content"))
        .or_else(|| json.get("response"))
        .and_then(Value::as_str)
        .ok_or("no `message.content` or `response` in the answer")?
        .to_string();
    let finish = match json.get("done_reason").and_then(Value::as_str) {
        Some("length") => FinishReason::Length,
        _ => FinishReason::Stop,
    };
    let total_ms = ns_to_ms(json.get("total_duration")).unwrap_or(elapsed.as_secs_f64() * 1000.0);
    let prompt_ms = within(ns_to_ms(json.get("prompt_eval_duration")), total_ms);
    let generation_ms = within(ns_to_ms(json.get("eval_duration")), total_ms);
    let load_ms = within(ns_to_ms(json.get("load_duration")), total_ms);
    let ttft_ms = match (load_ms, prompt_ms) {
        (None, None) => None,
        (l, p) => within(Some(l.unwrap_or(0.0) + p.unwrap_or(0.0)), total_ms),
    };
    Ok(Generation {
        sample,
        text,
        finish,
        usage: Usage {
            // Ollama counts only the prompt tokens it evaluated (cache hits
            // are left out; some versions leave the field out for a prompt
            // found whole in the cache: unknown, not 0).
            prompt_tokens: as_u32(json.get("prompt_eval_count")),
            completion_tokens: as_u32(json.get("eval_count")),
        },
        timings: Timings {
            prompt_ms,
            generation_ms,
            ttft_ms,
            total_ms,
        },
        served_by: None,
    })
}

/// `num_ctx` set in the Modelfile (`/api/show` `parameters`), e.g. `num_ctx 8192`.
fn modelfile_num_ctx(parameters: &str) -> Option<u32> {
    parameters.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        (parts.next()? == "num_ctx")
            .then(|| parts.next()?.parse().ok())
            .flatten()
    })
}

pub(crate) fn model_info(
    spec: &ModelSpec,
    model: &str,
    show: &Value,
    tags: Option<&Value>,
) -> ModelInfo {
    let details = show.get("details");
    let model_info = show.get("model_info");
    let detail = |k: &str| {
        details
            .and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let architecture = model_info
        .and_then(|m| m.get("general.architecture"))
        .and_then(Value::as_str)
        .or_else(|| detail("family"))
        .map(str::to_string);
    let parameters = model_info
        .and_then(|m| m.get("general.parameter_count"))
        .and_then(Value::as_u64)
        .or_else(|| detail("parameter_size").and_then(parse_parameter_size));
    let quantization = spec
        .quantization
        .clone()
        .or_else(|| detail("quantization_level").map(str::to_string));
    let entry = tags
        .and_then(|t| t.get("models"))
        .and_then(Value::as_array)
        .and_then(|models| {
            let want_latest = format!("{model}:latest");
            models.iter().find(|m| {
                let name = m
                    .get("name")
                    .or_else(|| m.get("model"))
                    .and_then(Value::as_str);
                name == Some(model) || name == Some(want_latest.as_str())
            })
        });
    let size_bytes = entry.and_then(|e| e.get("size")).and_then(Value::as_u64);
    let digest = entry
        .and_then(|e| e.get("digest"))
        .and_then(Value::as_str)
        .map(|d| {
            if d.contains(':') {
                d.to_string()
            } else {
                format!("sha256:{d}")
            }
        })
        .unwrap_or_else(|| format!("ollama:{model}"));
    let context_length = spec.context.or_else(|| {
        show.get("parameters")
            .and_then(Value::as_str)
            .and_then(modelfile_num_ctx)
    });
    ModelInfo {
        name: if spec.name.is_empty() {
            model.to_string()
        } else {
            spec.name.clone()
        },
        backend: "ollama".into(),
        quantization,
        architecture,
        parameters,
        size_bytes,
        digest,
        load_ms: None,
        context_length,
        ..ModelInfo::default()
    }
}

impl Backend for OllamaBackend {
    fn model(&self) -> &ModelInfo {
        &self.info
    }

    fn generate(&self, request: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        let generated = run_samples(&request.samples, self.transport.pool.capacity(), |s| {
            self.one(request, s)
        });
        apply_stop_rule(&request.params, generated)
    }

    fn parallelism(&self) -> usize {
        self.transport.pool.capacity()
    }

    fn cache_salt(&self) -> String {
        self.salt.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modelfile_parameters() {
        assert_eq!(
            modelfile_num_ctx("stop \"<end>\"\nnum_ctx 8192\ntemperature 1"),
            Some(8192)
        );
        assert_eq!(modelfile_num_ctx("temperature 1"), None);
    }

    #[test]
    fn durations_are_nanoseconds() {
        let v = json!({"message": {"role": "assistant", "content": "hi"}, "done": true, "done_reason": "length",
            "total_duration": 500_000_000u64, "load_duration": 100_000_000u64,
            "prompt_eval_count": 10, "prompt_eval_duration": 50_000_000u64,
            "eval_count": 20, "eval_duration": 300_000_000u64});
        let g = parse_reply(&v, Duration::from_secs(1), 3).unwrap();
        assert_eq!(g.finish, FinishReason::Length);
        assert_eq!(g.timings.prompt_ms, Some(50.0));
        assert_eq!(g.timings.generation_ms, Some(300.0));
        assert_eq!(g.timings.ttft_ms, Some(150.0));
        assert_eq!(g.timings.total_ms, 500.0);
        assert_eq!(g.usage, Usage::counted(10, 20));
        // A prompt found whole in the cache: some versions leave its count
        // out, which is unknown, not 0 tokens.
        let mut cached = v.clone();
        cached.as_object_mut().unwrap().remove("prompt_eval_count");
        let g = parse_reply(&cached, Duration::from_secs(1), 3).unwrap();
        assert_eq!(
            (g.usage.prompt_tokens, g.usage.completion_tokens),
            (None, Some(20))
        );
    }

    /// A server's impossible durations are dropped, not stored (a negative
    /// `total_duration` gave a total of about 0 and a ttft of −100 ms; found
    /// by review): the request's measured time stands in for the total.
    #[test]
    fn impossible_durations_are_dropped() {
        let v = json!({"message": {"content": "hi"}, "done": true,
            "total_duration": -5, "load_duration": -100_000_000i64,
            "prompt_eval_duration": 50_000_000u64, "eval_duration": 5_000_000_000u64});
        let g = parse_reply(&v, Duration::from_millis(400), 0).unwrap();
        assert_eq!(g.timings.total_ms, 400.0);
        assert_eq!(g.timings.prompt_ms, Some(50.0));
        assert_eq!(g.timings.generation_ms, None, "5 s in a 400 ms request");
        assert_eq!(g.timings.ttft_ms, Some(50.0), "no negative load time");
    }
}
