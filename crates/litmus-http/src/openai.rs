//! OpenAI-compatible servers: llama.cpp's llama-server, vLLM, LM Studio, ...

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use litmus_core::base::backend::{
    sample_seed, Backend, BackendError, FinishReason, Generation, GenerationRequest, ModelInfo,
    SamplingParams, Timings, Usage,
};
use litmus_core::base::model::ModelSpec;
use serde_json::{json, Map, Value};

use crate::common::{
    apply_stop_rule, as_f64, as_u32, check_same_weights, cut_each, messages_json,
    quantization_from_ftype, quantization_from_name, run_samples, stop_strings, wire_prompt,
    within, Wire,
};
use crate::config::{auth_hint, display_url, wire_seed, HttpConfig, NSupport, DEFAULT_PARALLEL};
use crate::pool::{EndpointStats, Pool};
use crate::transport::{CallError, Transport};

/// The most stop strings sent with `extra_sampling = false` (the official
/// OpenAI API's limit): the request's own first, then its stop rule's.
const MAX_STOP_STRINGS: usize = 4;

const N_UNKNOWN: u8 = 0;
const N_YES: u8 = 1;
const N_NO: u8 = 2;

/// A backend for an OpenAI-compatible server, or a pool of them.
///
/// Chat prompts go to `/v1/chat/completions`, completion prompts to
/// `/v1/completions`. See the crate documentation for the options.
pub struct OpenAiBackend {
    info: ModelInfo,
    model: String,
    transport: Transport,
    n_state: AtomicU8,
    n_config: NSupport,
    raw_completion: bool,
    salt: String,
}

impl std::fmt::Debug for OpenAiBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiBackend")
            .field("info", &self.info)
            .field("model", &self.model)
            .field("transport", &self.transport)
            .field("n_support", &self.n_support())
            .finish()
    }
}

/// `http://h:8080/v1` → (`http://h:8080/v1`, `http://h:8080`); `http://h:8080` → (`…/v1`, `http://h:8080`).
fn roots(base: &str) -> (String, String) {
    match base.strip_suffix("/v1") {
        Some(server) => (base.to_string(), server.to_string()),
        None => (format!("{base}/v1"), base.to_string()),
    }
}

/// What one endpoint said about itself at open.
struct Probe {
    ids: Vec<String>,
    models: Value,
    props: Option<Value>,
}

impl Probe {
    /// llama.cpp's llama-server: it has `/props` with `total_slots`, or says so in `/v1/models`.
    fn is_llama_server(&self) -> bool {
        self.props
            .as_ref()
            .is_some_and(|p| p.get("total_slots").is_some())
            || self
                .models
                .get("data")
                .and_then(Value::as_array)
                .is_some_and(|d| {
                    d.iter()
                        .any(|m| m.get("owned_by").and_then(Value::as_str) == Some("llamacpp"))
                })
    }
}

impl OpenAiBackend {
    /// Connects to the endpoints of `spec`: lists `/v1/models` (and reads
    /// llama-server's `/props` when there is one) on each. Endpoints that cannot
    /// be reached start cooled down; at least one must answer.
    pub fn open(spec: &ModelSpec) -> Result<Self, BackendError> {
        let cfg = HttpConfig::from_spec(spec)?;
        let meta_timeout = cfg.timeout.min(Duration::from_secs(30));
        let endpoints: Vec<(String, String)> = cfg.endpoints.iter().map(|e| roots(e)).collect();
        // A provisional transport for the metadata calls (limits are known only afterwards).
        let probe_transport = Transport::new(
            cfg.clone(),
            Pool::new(vec![(endpoints[0].0.clone(), 1)], cfg.cooldown),
        )?;
        let mut probes: Vec<Result<Probe, CallError>> = Vec::new();
        for (api, server) in &endpoints {
            let probe = probe_transport
                .get_once(api, "/models", meta_timeout)
                .map(|models| {
                    let ids = models
                        .get("data")
                        .and_then(Value::as_array)
                        .map(|d| {
                            d.iter()
                                .filter_map(|m| m.get("id")?.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    let props = probe_transport
                        .get_once(server, "/props", meta_timeout)
                        .ok();
                    Probe { ids, models, props }
                });
            probes.push(probe);
        }
        let mut failures = Vec::new();
        let mut first: Option<usize> = None;
        for (i, p) in probes.iter().enumerate() {
            match p {
                Ok(_) => {
                    first.get_or_insert(i);
                }
                Err(e) if matches!(e.status, Some(401 | 403)) => {
                    // A wrong key fails the model once here, not every sample later.
                    return Err(BackendError::Load(format!(
                        "openai: {}/models: {}: {}",
                        display_url(&endpoints[i].0),
                        auth_hint(spec),
                        e.error
                    )));
                }
                Err(e) if matches!(e.status, Some(404 | 405)) && spec.model.is_some() => {
                    // The server answers but has no model list: go on with the configured name.
                    first.get_or_insert(i);
                }
                Err(e)
                    if spec.model.is_some()
                        && e.status.is_some_and(|s| s >= 500 || s == 429 || s == 408) =>
                {
                    // Busy or still loading: it answers, and requests will be retried.
                    first.get_or_insert(i);
                }
                Err(e) if e.status.is_some() => {
                    let hint = if matches!(e.status, Some(404 | 405)) {
                        " (is the URL the server's OpenAI-compatible base, `http://HOST:PORT` or `http://HOST:PORT/v1`? litmus adds `/v1` when it is not there; a server that lists no models needs the model's name: `openai:URL#NAME`, or `model = \"NAME\"` in litmus.toml)"
                    } else {
                        ""
                    };
                    return Err(BackendError::Load(format!(
                        "openai: cannot list the models at {}/models{hint}: {}",
                        display_url(&endpoints[i].0),
                        e.error
                    )));
                }
                Err(e) => failures.push(format!("{}: {}", display_url(&endpoints[i].0), e.error)),
            }
        }
        let Some(first) = first else {
            let what = spec
                .model
                .as_deref()
                .map(|m| format!(" for model `{m}`"))
                .unwrap_or_default();
            return Err(BackendError::Connection(format!(
                "openai: no endpoint reachable{what}: {}",
                failures.join("; ")
            )));
        };
        let model = match &spec.model {
            Some(m) => m.clone(),
            None => match probes[first].as_ref().ok().and_then(|p| p.ids.first()) {
                Some(id) => id.clone(),
                None => {
                    return Err(BackendError::Load(format!(
                        "openai: {}/models lists no model; set the model name",
                        display_url(&endpoints[first].0)
                    )))
                }
            },
        };
        // Every endpoint that answered must serve the model (a single-model
        // server such as llama-server serves whatever name it is sent).
        for (i, p) in probes.iter().enumerate() {
            if let Ok(p) = p {
                if p.ids.len() > 1 && !p.ids.contains(&model) {
                    return Err(BackendError::Load(format!(
                        "openai: model `{model}` is not served at {} (it serves: {})",
                        display_url(&endpoints[i].0),
                        p.ids.join(", ")
                    )));
                }
            }
        }
        let reported: Vec<(String, ModelInfo)> = probes
            .iter()
            .zip(&endpoints)
            .filter_map(|(p, (api, _))| {
                Some((
                    display_url(api),
                    model_info(spec, &model, Some(p.as_ref().ok()?)),
                ))
            })
            .collect();
        check_same_weights("openai", &reported)?;
        let limit_of = |p: &Result<Probe, CallError>| {
            cfg.parallel
                .or_else(|| {
                    let slots = p
                        .as_ref()
                        .ok()?
                        .props
                        .as_ref()?
                        .get("total_slots")?
                        .as_u64()?;
                    (slots > 0).then_some(slots as usize)
                })
                .unwrap_or(DEFAULT_PARALLEL)
        };
        let pool = Pool::new(
            endpoints
                .iter()
                .zip(&probes)
                .map(|((api, _), p)| (api.clone(), limit_of(p)))
                .collect(),
            cfg.cooldown,
        );
        for (i, p) in probes.iter().enumerate() {
            if let Err(e) = p {
                if e.status.is_none() {
                    pool.mark_down(i, &e.error.to_string());
                }
            }
        }
        let mut info = model_info(spec, &model, probes[first].as_ref().ok());
        if info.size_bytes.is_none() && info.parameters.is_none() {
            // Nothing but a name tells the weights apart: two servers that
            // both call their model `default` must not share cached answers.
            let mut servers: Vec<String> =
                endpoints.iter().map(|(api, _)| display_url(api)).collect();
            servers.sort();
            servers.dedup();
            info.digest.push_str(&format!(";at={}", servers.join(",")));
        }
        // llama-server honours `n` (recent builds), but its `usage` and `timings`
        // then describe the first choice only, and one seed covers all choices:
        // with its parallel slots, one request per sample costs nothing and
        // keeps per-sample seeds. So `auto` means "no" there.
        let llama_server = probes
            .iter()
            .any(|p| p.as_ref().is_ok_and(Probe::is_llama_server));
        let n_config = match cfg.n_support {
            NSupport::Auto if llama_server => NSupport::No,
            other => other,
        };
        let raw_completion = spec.raw_completion.unwrap_or(false);
        let salt = format!(
            "openai;raw_completion={raw_completion};n={};extra_sampling={};extra_body={}",
            match cfg.n_support {
                NSupport::Auto => "auto",
                NSupport::Yes => "yes",
                NSupport::No => "no",
            },
            cfg.extra_sampling,
            Value::Object(cfg.extra_body.clone()),
        );
        let n_state = AtomicU8::new(match n_config {
            NSupport::Auto => N_UNKNOWN,
            NSupport::Yes => N_YES,
            NSupport::No => N_NO,
        });
        let transport = Transport::new(cfg, pool)?;
        Ok(OpenAiBackend {
            info,
            model,
            transport,
            n_state,
            n_config,
            raw_completion,
            salt,
        })
    }

    /// The server-side model name sent with each request.
    pub fn model_id(&self) -> &str {
        &self.model
    }

    /// Whether `n > 1` is used: as configured, or as learned from the server.
    pub fn n_support(&self) -> NSupport {
        match self.n_state.load(Ordering::Relaxed) {
            N_YES => NSupport::Yes,
            N_NO => NSupport::No,
            _ => NSupport::Auto,
        }
    }

    /// The state of every endpoint.
    pub fn endpoint_stats(&self) -> Vec<EndpointStats> {
        self.transport.pool.stats()
    }

    fn body(&self, request: &GenerationRequest, n: usize, seed: u64) -> (&'static str, Value) {
        let p: &SamplingParams = &request.params;
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        let path = match wire_prompt(&request.prompt, self.raw_completion) {
            Wire::Chat(messages) => {
                body.insert("messages".into(), messages_json(messages));
                "/chat/completions"
            }
            Wire::Text(text) => {
                body.insert("prompt".into(), json!(text));
                "/completions"
            }
        };
        body.insert("max_tokens".into(), json!(p.max_tokens));
        body.insert("temperature".into(), json!(p.temperature));
        body.insert("top_p".into(), json!(p.top_p));
        body.insert("seed".into(), json!(wire_seed(seed)));
        let mut stop = stop_strings(p);
        if !self.transport.cfg.extra_sampling {
            // The official API refuses more (HTTP 400); the rest are cut here.
            stop.truncate(MAX_STOP_STRINGS);
        }
        if !stop.is_empty() {
            body.insert("stop".into(), json!(stop));
        }
        if n > 1 {
            body.insert("n".into(), json!(n));
        }
        body.insert("stream".into(), json!(false));
        if self.transport.cfg.extra_sampling {
            // llama.cpp's defaults (top_k 40, min_p 0.05) would apply otherwise.
            body.insert("top_k".into(), json!(p.top_k));
            body.insert("min_p".into(), json!(p.min_p));
            body.insert("repeat_penalty".into(), json!(p.repeat_penalty));
            if p.repeat_penalty != 1.0 {
                body.insert("repetition_penalty".into(), json!(p.repeat_penalty));
            }
        }
        for (k, v) in &self.transport.cfg.extra_body {
            body.insert(k.clone(), v.clone());
        }
        (path, Value::Object(body))
    }

    /// One request for `samples.len()` choices; returns each choice it got,
    /// in order, with its sample (a choice without text is that sample's error).
    #[allow(clippy::type_complexity)]
    fn call(
        &self,
        request: &GenerationRequest,
        samples: &[u32],
    ) -> Result<Vec<(u32, Result<Generation, BackendError>)>, CallError> {
        let seed = sample_seed(request.params.seed, samples[0]);
        let (path, body) = self.body(request, samples.len(), seed);
        let reply = self.transport.post(path, &body)?;
        let url = display_url(&reply.url);
        let choices = parse_reply(
            &reply.json,
            reply.elapsed,
            samples,
            request.params.max_tokens,
        )
        .map_err(|m| CallError {
            error: BackendError::Backend(self.transport.redact(&format!("{url}: {m}"))),
            status: None,
        })?;
        let served_by = display_url(&reply.endpoint);
        Ok(choices
            .into_iter()
            .map(|(sample, r)| {
                let r = match r {
                    Ok(mut g) => {
                        g.served_by = Some(served_by.clone());
                        Ok(g)
                    }
                    Err(m) => Err(BackendError::Backend(
                        self.transport.redact(&format!("{url}: {m}")),
                    )),
                };
                (sample, r)
            })
            .collect())
    }

    fn separately(
        &self,
        request: &GenerationRequest,
        samples: &[u32],
    ) -> Result<Vec<Generation>, BackendError> {
        run_samples(samples, self.transport.pool.capacity(), |s| {
            match self.call(request, &[s])?.pop() {
                Some((_, r)) => r,
                None => Err(BackendError::Backend(
                    "the server answered with no choice".into(),
                )),
            }
        })
    }
}

/// Parses the choices of a (chat) completion into generations for `samples`
/// (choice `index` answers `samples[index]`; extra choices are dropped),
/// each with its sample: a choice without text fails its own sample only.
///
/// With several choices, `usage.completion_tokens` covers all of them
/// (OpenAI, vLLM): a choice that stopped for length has `max_tokens`, the
/// others share the rest evenly. Counts the answer does not give are
/// `None`, not 0.
#[allow(clippy::type_complexity)]
fn parse_reply(
    json: &Value,
    elapsed: Duration,
    samples: &[u32],
    max_tokens: u32,
) -> Result<Vec<(u32, Result<Generation, String>)>, String> {
    let choices = json
        .get("choices")
        .and_then(Value::as_array)
        .ok_or("no `choices` in the answer")?;
    let usage = json.get("usage");
    let timings = json.get("timings");
    let total_ms = elapsed.as_secs_f64() * 1000.0;
    let prompt_tokens = as_u32(usage.and_then(|u| u.get("prompt_tokens"))).or_else(|| {
        let t = timings?;
        Some(as_u32(t.get("prompt_n"))? + as_u32(t.get("cache_n")).unwrap_or(0))
    });
    let completion_total = as_u32(usage.and_then(|u| u.get("completion_tokens")))
        .or_else(|| as_u32(timings.and_then(|t| t.get("predicted_n"))));
    let generation_ms = within(
        as_f64(timings.and_then(|t| t.get("predicted_ms"))),
        total_ms,
    );
    let prompt_ms = within(as_f64(timings.and_then(|t| t.get("prompt_ms"))), total_ms);
    let mut ordered: Vec<(usize, &Value)> = choices
        .iter()
        .enumerate()
        .map(|(pos, c)| {
            (
                c.get("index")
                    .and_then(Value::as_u64)
                    .map_or(pos, |i| i as usize),
                c,
            )
        })
        .filter(|(i, _)| *i < samples.len())
        .collect();
    ordered.sort_by_key(|(i, _)| *i);
    ordered.dedup_by_key(|(i, _)| *i);
    let is_length = |c: &Value| c.get("finish_reason").and_then(Value::as_str) == Some("length");
    // The usage covers every choice the server sent, extra and repeated
    // ones included: shared over all of them, not over the ones kept.
    let n_sent = choices.len() as u32;
    let n_length = choices.iter().filter(|c| is_length(c)).count() as u32;
    let n_other = n_sent - n_length;
    let completion_of = |c: &Value, k_other: u32| -> Option<u32> {
        let total = completion_total?;
        if n_sent == 1 {
            return Some(total);
        }
        Some(
            match total.checked_sub(n_length.saturating_mul(max_tokens)) {
                Some(_) if is_length(c) => max_tokens,
                Some(rest) if n_other > 0 => rest / n_other + u32::from(k_other < rest % n_other),
                // Counts that do not add up: an even split.
                _ => total / n_sent,
            },
        )
    };
    let mut k_other = 0;
    let mut out = Vec::with_capacity(ordered.len());
    for (i, c) in ordered.iter() {
        let text = match choice_text(c) {
            Ok(text) => text,
            Err(e) => {
                out.push((samples[*i], Err(format!("choice {i}: {e}"))));
                continue;
            }
        };
        let finish = match c.get("finish_reason").and_then(Value::as_str) {
            Some("length") => FinishReason::Length,
            _ => FinishReason::Stop,
        };
        let completion_tokens = completion_of(c, k_other);
        if !is_length(c) {
            k_other += 1;
        }
        out.push((
            samples[*i],
            Ok(Generation {
                sample: samples[*i],
                text,
                finish,
                usage: Usage {
                    prompt_tokens,
                    completion_tokens,
                },
                timings: Timings {
                    prompt_ms,
                    generation_ms,
                    ttft_ms: generation_ms
                        .map(|g| (total_ms - g).max(prompt_ms.unwrap_or(0.0).min(total_ms))),
                    total_ms,
                },
                served_by: None,
            }),
        ));
    }
    Ok(out)
}

/// The text of one choice: a completion's `text`, or a chat message's
/// `content` (a string, or the parts form's text parts joined). A message
/// without text (a refusal, tool calls, `null`) is an error, not an empty
/// answer: an empty answer would be scored and cached as the model's.
fn choice_text(c: &Value) -> Result<String, String> {
    let Some(message) = c.get("message") else {
        return match c.get("text") {
            Some(Value::String(t)) => Ok(t.clone()),
            _ => Err("no `message` or `text`".into()),
        };
    };
    match message.get("content") {
        Some(Value::String(t)) => Ok(t.clone()),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(
                |p| match (p.get("type").and_then(Value::as_str), p.get("text")) {
                    (Some("text") | None, Some(Value::String(t))) => Ok(t.as_str()),
                    (kind, _) => Err(format!(
                        "a content part of type `{}` is not text",
                        kind.unwrap_or("?")
                    )),
                },
            )
            .collect(),
        _ => Err(match (message.get("refusal"), message.get("tool_calls")) {
            (Some(Value::String(r)), _) => format!("the model refused: {r}"),
            (_, Some(Value::Array(calls))) if !calls.is_empty() => {
                "the message holds tool calls, not text".into()
            }
            _ => "the message has no text `content`".into(),
        }),
    }
}

fn model_info(spec: &ModelSpec, model: &str, probe: Option<&Probe>) -> ModelInfo {
    let meta = probe.and_then(|p| {
        let data = p.models.get("data")?.as_array()?;
        data.iter()
            .find(|m| m.get("id").and_then(Value::as_str) == Some(model))
            .or(data.first())?
            .get("meta")
    });
    let props = probe.and_then(|p| p.props.as_ref());
    let model_path = props
        .and_then(|p| p.get("model_path"))
        .and_then(Value::as_str);
    let ftype = props
        .and_then(|p| p.get("model_ftype"))
        .or_else(|| meta.and_then(|m| m.get("ftype")))
        .and_then(Value::as_str);
    let quantization = spec
        .quantization
        .clone()
        .or_else(|| ftype.and_then(quantization_from_ftype))
        .or_else(|| model_path.and_then(quantization_from_name))
        .or_else(|| quantization_from_name(model));
    let parameters = meta.and_then(|m| m.get("n_params")).and_then(Value::as_u64);
    let size_bytes = meta.and_then(|m| m.get("size")).and_then(Value::as_u64);
    let context_length = spec.context.or_else(|| {
        as_u32(
            props
                .and_then(|p| p.get("default_generation_settings"))
                .and_then(|s| s.get("n_ctx")),
        )
    });
    let file = model_path.map(|p| p.rsplit(['/', '\\']).next().unwrap_or(p));
    let mut digest = format!("openai:{}", file.unwrap_or(model));
    if let Some(s) = size_bytes {
        digest.push_str(&format!(";size={s}"));
    }
    if let Some(n) = parameters {
        digest.push_str(&format!(";params={n}"));
    }
    ModelInfo {
        name: if spec.name.is_empty() {
            model.to_string()
        } else {
            spec.name.clone()
        },
        backend: "openai".into(),
        quantization,
        architecture: None,
        parameters,
        size_bytes,
        digest,
        load_ms: None,
        context_length,
        ..ModelInfo::default()
    }
}

impl Backend for OpenAiBackend {
    fn model(&self) -> &ModelInfo {
        &self.info
    }

    fn generate(&self, request: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        let generated = apply_stop_rule(&request.params, self.generate_all(request));
        // Stop strings of the request's own that were not sent: cut here.
        let unsent: &[String] = if self.transport.cfg.extra_sampling {
            &[]
        } else {
            request.params.stop.get(MAX_STOP_STRINGS..).unwrap_or(&[])
        };
        if unsent.is_empty() {
            return generated;
        }
        cut_each(generated, |text| {
            unsent.iter().filter_map(|s| text.find(s.as_str())).min()
        })
    }

    fn parallelism(&self) -> usize {
        self.parallelism_impl()
    }

    fn cache_salt(&self) -> String {
        self.cache_salt_impl()
    }
}

impl OpenAiBackend {
    fn generate_all(&self, request: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        let samples = &request.samples;
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let state = self.n_state.load(Ordering::Relaxed);
        if samples.len() == 1 || state == N_NO {
            return self.separately(request, samples);
        }
        let got = match self.call(request, samples) {
            Ok(got) => got,
            Err(e) if state == N_UNKNOWN && matches!(e.status, Some(400 | 404 | 422)) => {
                // The server refuses `n` (llama-server: "Only one completion choice is allowed").
                let got = self.separately(request, samples)?;
                self.n_state.store(N_NO, Ordering::Relaxed);
                return Ok(got);
            }
            Err(e) => return Err(e.error),
        };
        if got.len() == samples.len() {
            if state == N_UNKNOWN {
                self.n_state.store(N_YES, Ordering::Relaxed);
            }
            return BackendError::collect(got);
        }
        // Fewer choices than asked for (the server ignores `n`): generate the rest one by one.
        if state == N_UNKNOWN && self.n_config == NSupport::Auto {
            self.n_state.store(N_NO, Ordering::Relaxed);
        }
        let missing: Vec<u32> = samples
            .iter()
            .copied()
            .filter(|s| !got.iter().any(|(g, _)| g == s))
            .collect();
        // The choices received are kept whatever becomes of the others: one
        // outcome per sample, a `Partial` where some failed.
        let rest = match self.separately(request, &missing) {
            Ok(generated) => generated.into_iter().map(|g| (g.sample, Ok(g))).collect(),
            Err(BackendError::Partial(p)) => {
                let p = *p;
                p.generated
                    .into_iter()
                    .map(|g| (g.sample, Ok(g)))
                    .chain(p.failed.into_iter().map(|(s, e)| (s, Err(e))))
                    .collect()
            }
            Err(e) => missing.iter().map(|&s| (s, Err(e.clone()))).collect(),
        };
        let mut all: Vec<(u32, Result<Generation, BackendError>)> = got;
        all.extend::<Vec<_>>(rest);
        BackendError::collect(all)
    }

    fn parallelism_impl(&self) -> usize {
        self.transport.pool.capacity()
    }

    fn cache_salt_impl(&self) -> String {
        self.salt.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generations of a reply whose choices all have text.
    fn gens(reply: &Value, ms: u64, samples: &[u32], max_tokens: u32) -> Vec<Generation> {
        parse_reply(reply, Duration::from_millis(ms), samples, max_tokens)
            .unwrap()
            .into_iter()
            .map(|(s, g)| {
                let g = g.unwrap();
                assert_eq!(g.sample, s);
                g
            })
            .collect()
    }

    #[test]
    fn roots_handle_v1() {
        assert_eq!(
            roots("http://h:1/v1"),
            ("http://h:1/v1".into(), "http://h:1".into())
        );
        assert_eq!(
            roots("http://h:1"),
            ("http://h:1/v1".into(), "http://h:1".into())
        );
    }

    #[test]
    fn llama_server_reply_is_parsed() {
        let reply = json!({
            "choices": [{"finish_reason": "length", "index": 0,
                         "message": {"role": "assistant", "content": "Hello there"}}],
            "created": 1, "model": "m", "object": "chat.completion",
            "usage": {"completion_tokens": 8, "prompt_tokens": 12, "total_tokens": 20},
            "timings": {"cache_n": 0, "prompt_n": 12, "prompt_ms": 30.5, "predicted_n": 8, "predicted_ms": 80.0}
        });
        let g = gens(&reply, 120, &[7], 8);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].sample, 7);
        assert_eq!(g[0].text, "Hello there");
        assert_eq!(g[0].finish, FinishReason::Length);
        assert_eq!(g[0].usage, Usage::counted(12, 8));
        assert_eq!(g[0].timings.prompt_ms, Some(30.5));
        assert_eq!(g[0].timings.generation_ms, Some(80.0));
        assert!((g[0].timings.ttft_ms.unwrap() - 40.0).abs() < 1e-6);
        assert!((g[0].timings.total_ms - 120.0).abs() < 1e-6);
    }

    /// A server's impossible timings are dropped, not stored (a negative
    /// `prompt_ms` became a negative time to first token; a `predicted_ms`
    /// of 10⁹ in a 4 ms request a speed a million times too low; found by
    /// review).
    #[test]
    fn impossible_timings_are_dropped() {
        let reply = json!({
            "choices": [{"index": 0, "text": "a", "finish_reason": "stop"}],
            "timings": {"prompt_ms": -50.0, "predicted_ms": 1e9}
        });
        let g = gens(&reply, 4, &[0], 8);
        assert_eq!(
            (g[0].timings.prompt_ms, g[0].timings.generation_ms),
            (None, None)
        );
        assert_eq!(g[0].timings.ttft_ms, None);
        assert!((g[0].timings.total_ms - 4.0).abs() < 1e-6);
    }

    #[test]
    fn n_choices_map_to_samples() {
        let reply = json!({
            "choices": [{"index": 1, "text": "b", "finish_reason": "stop"},
                        {"index": 0, "text": "a", "finish_reason": "length"}],
            "usage": {"completion_tokens": 7, "prompt_tokens": 3}
        });
        let g = gens(&reply, 10, &[4, 9], 5);
        assert_eq!((g[0].sample, g[0].text.as_str()), (4, "a"));
        assert_eq!((g[1].sample, g[1].text.as_str()), (9, "b"));
        assert_eq!(
            (g[0].usage.completion_tokens, g[1].usage.completion_tokens),
            (Some(5), Some(2))
        );
        // Three stopped choices share 10 tokens.
        let reply = json!({
            "choices": [{"index": 0, "text": "a", "finish_reason": "stop"},
                        {"index": 1, "text": "b", "finish_reason": "stop"},
                        {"index": 2, "text": "c", "finish_reason": "stop"}],
            "usage": {"completion_tokens": 10, "prompt_tokens": 3}
        });
        let g = gens(&reply, 10, &[0, 1, 2], 5);
        assert_eq!(
            g.iter()
                .map(|g| g.usage.completion_tokens)
                .collect::<Vec<_>>(),
            vec![Some(4), Some(3), Some(3)]
        );
        assert_eq!(g[0].timings.ttft_ms, None);
    }

    /// The usage covers every choice sent: extra and repeated choices take
    /// their share (review H: 4 choices x 3 tokens gave 6 to each of the 2
    /// kept), and counts the answer leaves out are unknown, not 0.
    #[test]
    fn usage_is_shared_over_the_choices_sent_and_missing_counts_are_unknown() {
        let choice = |i: u32| json!({"index": i, "text": "x", "finish_reason": "stop"});
        let reply = json!({
            "choices": [choice(0), choice(1), choice(2), choice(3)],
            "usage": {"completion_tokens": 12, "prompt_tokens": 3}
        });
        let g = gens(&reply, 10, &[0, 1], 50);
        assert_eq!(g.len(), 2);
        assert!(
            g.iter().all(|g| g.usage.completion_tokens == Some(3)),
            "{g:?}"
        );
        let reply = json!({
            "choices": [choice(0), choice(0)],
            "usage": {"completion_tokens": 6, "prompt_tokens": 3}
        });
        let g = gens(&reply, 10, &[0], 50);
        assert_eq!(g[0].usage.completion_tokens, Some(3));
        let g = gens(&json!({"choices": [choice(0)]}), 10, &[0], 50);
        assert_eq!(g[0].usage, Usage::default());
        assert_eq!(
            (g[0].usage.prompt_tokens, g[0].usage.completion_tokens),
            (None, None)
        );
    }

    #[test]
    fn a_choice_without_text_is_an_error_not_an_empty_answer() {
        let text = |message: Value| {
            let reply = json!({"choices": [{"index": 0, "message": message}]});
            let mut g = parse_reply(&reply, Duration::from_millis(1), &[0], 8).unwrap();
            g.pop().unwrap().1.map(|g| g.text)
        };
        assert_eq!(text(json!({"content": "hi"})).unwrap(), "hi");
        assert_eq!(text(json!({"content": ""})).unwrap(), "");
        assert_eq!(
            text(
                json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
            )
            .unwrap(),
            "ab"
        );
        for (message, says) in [
            (json!({"content": null}), "no text `content`"),
            (json!({"role": "assistant"}), "no text `content`"),
            (json!({"content": null, "refusal": "no"}), "refused: no"),
            (
                json!({"content": null, "tool_calls": [{"id": "1"}]}),
                "tool calls",
            ),
            (
                json!({"content": [{"type": "image_url", "image_url": {}}]}),
                "`image_url` is not text",
            ),
            (json!({"content": 7}), "no text `content`"),
        ] {
            let e = text(message.clone()).unwrap_err();
            assert!(e.contains("choice 0") && e.contains(says), "{message}: {e}");
        }
        let reply = json!({"choices": [{"index": 0, "text": null}]});
        let got = parse_reply(&reply, Duration::from_millis(1), &[0], 8).unwrap();
        assert!(got[0].1.is_err());
        assert!(parse_reply(&json!({}), Duration::from_millis(1), &[0], 8).is_err());
    }

    #[test]
    fn a_choice_without_text_fails_its_own_sample_only() {
        let reply = json!({"choices": [
            {"index": 0, "finish_reason": "stop", "message": {"content": "good"}},
            {"index": 1, "finish_reason": "stop", "message": {"content": null}}]});
        let got = parse_reply(&reply, Duration::from_millis(1), &[3, 4], 8).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].0, got[0].1.as_ref().unwrap().text.as_str()),
            (3, "good")
        );
        assert_eq!(got[1].0, 4);
        assert!(got[1].1.as_ref().unwrap_err().contains("choice 1"));
    }
}
