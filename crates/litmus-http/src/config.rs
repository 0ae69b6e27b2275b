//! Settings of an HTTP backend, read from a [`ModelSpec`].

use std::fmt;
use std::time::Duration;

use litmus_core::base::backend::BackendError;
use litmus_core::base::model::{BackendKind, ModelSpec, MAX_TIMEOUT_SECS};
use rand::Rng;
use serde_json::{Map, Value};

/// Requests in flight per endpoint when neither `ModelSpec.parallel` nor the
/// server (llama-server's `/props` `total_slots`) says otherwise.
pub const DEFAULT_PARALLEL: usize = 4;
/// Per-request timeout when `ModelSpec.timeout_secs` is unset.
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;
/// Retries after the first attempt, on connection errors, 429 and 5xx.
pub const DEFAULT_RETRIES: u32 = 3;

/// The options this crate understands in `ModelSpec.options`.
pub const KNOWN_OPTIONS: &[&str] = &[
    "retries",
    "backoff_ms",
    "max_backoff_ms",
    "max_retry_after_secs",
    "cooldown_ms",
    "connect_timeout_secs",
    "n_supported",
    "extra_sampling",
    "extra_body",
    "keep_alive",
];

// Known to `litmus.toml`'s check, so that a misspelled key is a config
// error naming the file and line.
inventory::submit! {
    litmus_core::base::model::OptionKeys {
        backends: &[BackendKind::Openai, BackendKind::Ollama],
        keys: KNOWN_OPTIONS,
    }
}

/// Whether an OpenAI-compatible server honours `n` (several choices per request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NSupport {
    /// Try `n > 1` once; fall back to one request per sample if the server
    /// rejects it or answers with fewer choices.
    Auto,
    /// Always send `n`; choices missing from an answer are generated separately.
    Yes,
    /// One request per sample (every sample gets its own seed).
    No,
}

/// An API key read from the environment. Its value is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(value: impl Into<String>) -> Self {
        ApiKey(value.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
    /// Replaces every occurrence of the key in `text` with `***`, and every
    /// run of at least 8 characters of it (all of a shorter key): a message
    /// that quotes a body cut in the middle of the key shows no piece of it.
    pub(crate) fn redact(&self, text: &str) -> String {
        let key = self.0.as_str();
        let min = key.len().min(8);
        if key.is_empty() || text.len() < min {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while let Some(c) = text[i..].chars().next() {
            // The longest piece of the key, `min` bytes or more, starting at `i`.
            let mut end = None;
            for j in i + min..=text.len().min(i + key.len()) {
                let Some(piece) = text.get(i..j) else {
                    continue;
                };
                if !key.contains(piece) {
                    break;
                }
                end = Some(j);
            }
            match end {
                Some(j) => {
                    out.push_str("***");
                    i = j;
                }
                None => {
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
        out
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Settings shared by the OpenAI-compatible and the Ollama backend.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Normalised base URLs: `ModelSpec.source` then `ModelSpec.endpoints`.
    pub endpoints: Vec<String>,
    /// Requests in flight per endpoint, when set explicitly (`ModelSpec.parallel`).
    pub parallel: Option<usize>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Retries after the first attempt (connection errors, 429, 5xx).
    pub retries: u32,
    /// First backoff; doubles with each retry, with jitter.
    pub backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
    /// Largest `Retry-After` honoured.
    pub max_retry_after: Duration,
    /// How long an endpoint that refused a connection stays out of the pool
    /// before one probe request is let through (grows ×2 per consecutive failure, up to ×8).
    pub cooldown: Duration,
    /// OpenAI: whether `n` is honoured.
    pub n_support: NSupport,
    /// OpenAI: send llama.cpp/vLLM sampling fields (`top_k`, `min_p`,
    /// `repeat_penalty`) that the official OpenAI API does not know.
    pub extra_sampling: bool,
    /// Fields merged into every generation request body.
    pub extra_body: Map<String, Value>,
    /// Ollama: `keep_alive` passed with each request.
    pub keep_alive: Option<Value>,
    /// The API key, from the environment variable `ModelSpec.api_key_env`.
    pub api_key: Option<ApiKey>,
}

fn bad(key: &str, value: &str, expected: &str) -> BackendError {
    BackendError::Load(format!("option `{key}` = `{value}`: expected {expected}"))
}

/// The request fields litmus sets itself, which `extra_body` may not.
const OWN_FIELDS: &[&str] = &[
    "model",
    "messages",
    "prompt",
    "n",
    "seed",
    "stream",
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "options",
    "keep_alive",
];

/// Ollama's `keep_alive`: seconds as a number (`300`, `1.5`, `-1`), or a Go
/// duration (`5m`, `1h30m`, `500ms`); anything else would be refused by the
/// server on every request.
fn parse_keep_alive(key: &str, value: &str) -> Result<Value, BackendError> {
    let v = value.trim();
    if let Ok(n) = v.parse::<i64>() {
        return Ok(Value::from(n));
    }
    if let Some(x) = v.parse::<f64>().ok().filter(|x| x.is_finite()) {
        return Ok(Value::from(x));
    }
    if is_go_duration(v) {
        Ok(Value::from(v))
    } else {
        Err(bad(
            key,
            value,
            "seconds (300, -1) or a duration such as 5m or 1h30m",
        ))
    }
}

/// Whether `v` is a duration Go's `time.ParseDuration` reads: an optional
/// sign, then numbers each with a unit (`1h30m`, `1.5s`, `500ms`).
fn is_go_duration(v: &str) -> bool {
    let mut rest = v.strip_prefix(['-', '+']).unwrap_or(v);
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[digits..];
        // Longer units first: `ms` before `m` and `s`.
        match ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .find(|u| rest.starts_with(**u))
        {
            Some(unit) => rest = &rest[unit.len()..],
            None => return false,
        }
    }
    true
}

fn parse_u64(key: &str, value: &str) -> Result<u64, BackendError> {
    value
        .trim()
        .parse()
        .map_err(|_| bad(key, value, "a non-negative integer"))
}

/// A duration option in seconds (fractions allowed): from 0 to a week
/// ([`MAX_TIMEOUT_SECS`]), so that no deadline computed from it overflows.
fn parse_secs(key: &str, value: &str) -> Result<Duration, BackendError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=MAX_TIMEOUT_SECS as f64).contains(v))
        .and_then(|v| Duration::try_from_secs_f64(v).ok())
        .ok_or_else(|| {
            bad(
                key,
                value,
                &format!("a number of seconds from 0 to {MAX_TIMEOUT_SECS} (a week)"),
            )
        })
}

/// A duration option in milliseconds: at most a week.
fn parse_ms(key: &str, value: &str) -> Result<Duration, BackendError> {
    let max = MAX_TIMEOUT_SECS * 1000;
    parse_u64(key, value)
        .ok()
        .filter(|ms| *ms <= max)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            bad(
                key,
                value,
                &format!("a number of milliseconds from 0 to {max} (a week)"),
            )
        })
}

fn parse_bool(key: &str, value: &str) -> Result<bool, BackendError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(bad(key, value, "true or false")),
    }
}

/// Normalises a base URL: adds `http://` when no scheme is given and drops trailing slashes.
pub(crate) fn normalize_url(url: &str) -> String {
    let url = url.trim();
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    url.trim_end_matches('/').to_string()
}

/// What a 401/403 at open means for `spec`: its key is refused, or it has none.
pub(crate) fn auth_hint(spec: &ModelSpec) -> String {
    match spec.api_key_env.as_deref().filter(|v| !v.is_empty()) {
        Some(var) => {
            format!("the server refuses the API key in `{var}` (check the variable's value)")
        }
        None => "the server wants an API key (name the variable that holds it in \
                 `api_key_env`)"
            .to_string(),
    }
}

/// A URL fit for messages: user and password removed.
pub(crate) fn display_url(url: &str) -> String {
    litmus_core::base::util::without_credentials(url)
}

impl HttpConfig {
    /// Reads the settings of `spec`. Fails on unknown options, bad values, a
    /// missing URL or a missing API key variable.
    pub fn from_spec(spec: &ModelSpec) -> Result<Self, BackendError> {
        let mut endpoints = Vec::new();
        let source = spec.source.trim();
        if !source.is_empty() {
            endpoints.push(normalize_url(source));
        } else if spec.backend == BackendKind::Ollama && spec.endpoints.is_empty() {
            endpoints.push("http://127.0.0.1:11434".to_string());
        }
        for e in &spec.endpoints {
            let e = normalize_url(e);
            if !endpoints.contains(&e) {
                endpoints.push(e);
            }
        }
        if endpoints.is_empty() {
            return Err(BackendError::Load(format!(
                "model `{}`: no server URL (set `source` or `endpoints`)",
                spec.name
            )));
        }
        // Every endpoint must be a URL: a bad one is no connection failure,
        // and in a pool it must not be skipped silently for the whole run.
        for e in &endpoints {
            let invalid = |why: String| {
                BackendError::Load(format!(
                    "model `{}`: endpoint `{}`: invalid URL: {why}",
                    spec.name,
                    display_url(e)
                ))
            };
            let url = reqwest::Url::parse(e).map_err(|err| invalid(err.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(format!(
                    "the scheme is `{}`, not http or https",
                    url.scheme()
                )));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid("no host".into()));
            }
        }
        let parallel = match spec.parallel {
            Some(0) => return Err(BackendError::Load("`parallel` must be at least 1".into())),
            Some(p) => Some(p as usize),
            None => None,
        };
        if let Err((_, message)) = spec.check_values() {
            return Err(BackendError::Load(format!(
                "model `{}`: {message}",
                spec.name
            )));
        }
        let timeout = Duration::from_secs(
            spec.timeout_secs
                .unwrap_or(DEFAULT_TIMEOUT_SECS)
                .clamp(1, MAX_TIMEOUT_SECS),
        );
        let mut cfg = HttpConfig {
            endpoints,
            parallel,
            timeout,
            connect_timeout: Duration::from_secs(10).min(timeout),
            retries: DEFAULT_RETRIES,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
            cooldown: Duration::from_secs(5),
            n_support: NSupport::Auto,
            extra_sampling: true,
            extra_body: Map::new(),
            keep_alive: None,
            api_key: None,
        };
        for (key, value) in &spec.options {
            match key.as_str() {
                "retries" => cfg.retries = parse_u64(key, value)?.min(100) as u32,
                "backoff_ms" => cfg.backoff = parse_ms(key, value)?,
                "max_backoff_ms" => cfg.max_backoff = parse_ms(key, value)?,
                "max_retry_after_secs" => cfg.max_retry_after = parse_secs(key, value)?,
                "cooldown_ms" => cfg.cooldown = parse_ms(key, value)?,
                "connect_timeout_secs" => {
                    cfg.connect_timeout = parse_secs(key, value)?.max(Duration::from_millis(1))
                }
                "n_supported" => {
                    cfg.n_support = match value.trim().to_ascii_lowercase().as_str() {
                        "auto" => NSupport::Auto,
                        _ => {
                            if parse_bool(key, value)
                                .map_err(|_| bad(key, value, "true, false or auto"))?
                            {
                                NSupport::Yes
                            } else {
                                NSupport::No
                            }
                        }
                    }
                }
                "extra_sampling" => cfg.extra_sampling = parse_bool(key, value)?,
                "extra_body" => match serde_json::from_str::<Value>(value) {
                    Ok(Value::Object(map)) => {
                        // What litmus sends itself: overridden, a sample's
                        // record would say one thing and the server do another.
                        if let Some(k) = map.keys().find(|k| OWN_FIELDS.contains(&k.as_str())) {
                            return Err(BackendError::Load(format!(
                                "option `extra_body` sets `{k}`, which litmus sends itself (from the run's sampling settings, the prompt and the model); the fields it owns: {}",
                                OWN_FIELDS.join(", ")
                            )));
                        }
                        cfg.extra_body = map
                    }
                    _ => return Err(bad(key, "…", "a JSON object")),
                },
                "keep_alive" => cfg.keep_alive = Some(parse_keep_alive(key, value)?),
                other => {
                    return Err(BackendError::Load(format!(
                        "unknown option `{other}` for the {} backend (known: {})",
                        spec.backend,
                        KNOWN_OPTIONS.join(", ")
                    )))
                }
            }
        }
        if let Some(var) = spec.api_key_env.as_deref().filter(|v| !v.is_empty()) {
            match std::env::var(var) {
                Ok(key) if !key.is_empty() => {
                    // A key that cannot be a header would fail every request
                    // inside the client, reported as a connection failure.
                    if reqwest::header::HeaderValue::from_str(&format!("Bearer {key}")).is_err() {
                        return Err(BackendError::Load(format!(
                            "model `{}`: the API key in `{var}` holds a character not allowed \
                             in an HTTP header (a trailing newline or carriage return?)",
                            spec.name
                        )));
                    }
                    cfg.api_key = Some(ApiKey::new(key))
                }
                _ => {
                    return Err(BackendError::Load(format!(
                        "model `{}`: the API key variable `{var}` is not set",
                        spec.name
                    )))
                }
            }
        }
        Ok(cfg)
    }

    /// The backoff before retry number `attempt` (0-based), with jitter:
    /// uniformly between half and all of `backoff × 2^attempt`, capped at `max_backoff`.
    pub fn backoff_for(&self, attempt: u32) -> Duration {
        let base = self
            .backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_backoff);
        base.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }
}

/// The seed sent to a server for a per-sample seed.
///
/// Servers disagree on the seed's range (llama-server: `u32`, where
/// `0xFFFF_FFFF` means "random"; Ollama: a Go `int`), so the 64-bit seed is
/// folded to 31 bits, which every server accepts and none reads as "random".
pub fn wire_seed(seed: u64) -> u64 {
    (seed ^ (seed >> 32)) & 0x7FFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_are_normalized() {
        assert_eq!(normalize_url("127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(normalize_url("https://h/v1//"), "https://h/v1");
        assert_eq!(display_url("http://u:p@h:1/v1/x"), "http://h:1/v1/x");
        assert_eq!(display_url("http://h:1"), "http://h:1");
    }

    #[test]
    fn keys_and_pieces_of_keys_are_redacted() {
        let k = ApiKey::new("sk-live-0123456789abcdef");
        assert_eq!(k.redact("a sk-live-0123456789abcdef b"), "a *** b");
        // A key cut by a snippet, and a key's tail.
        assert_eq!(k.redact("xxsk-live-012…"), "xx***…");
        assert_eq!(k.redact("[89abcdef]"), "[***]");
        // Seven characters are no key; two copies are two.
        assert_eq!(k.redact("sk-live"), "sk-live");
        assert_eq!(
            k.redact("sk-live-0123456789abcdefsk-live-0123456789abcdef é"),
            "****** é"
        );
        let short = ApiKey::new("abc");
        assert_eq!(short.redact("ab abc"), "ab ***");
        assert_eq!(ApiKey::new("").redact("text"), "text");
    }

    #[test]
    fn invalid_urls_and_keys_are_load_errors_naming_them() {
        let spec_of = |source: &str, endpoints: &[&str]| ModelSpec {
            name: "m".into(),
            backend: BackendKind::Openai,
            source: source.into(),
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            ..Default::default()
        };
        for (source, endpoints, bad) in [
            ("http://127.0.0.1:99999", &[][..], "127.0.0.1:99999"),
            ("ftp://h/v1", &[], "ftp://h/v1"),
            ("http://[::1", &[], "[::1"),
            ("http://", &[], "http:"),
            // In a pool, too: not skipped.
            (
                "http://127.0.0.1:8080",
                &["http://127.0.0.1:99999"],
                "99999",
            ),
        ] {
            match HttpConfig::from_spec(&spec_of(source, endpoints)) {
                Err(BackendError::Load(m)) => assert!(
                    m.contains("model `m`") && m.contains("invalid URL") && m.contains(bad),
                    "{source}: {m}"
                ),
                other => panic!("{source}: {other:?}"),
            }
        }
        assert!(HttpConfig::from_spec(&spec_of("127.0.0.1:8080/v1", &["https://h"])).is_ok());
        let var = "LITMUS_HTTP_TEST_KEY_CRLF_5b0e";
        // SAFETY (edition 2021: safe): a variable only this test reads.
        std::env::set_var(var, "sk-abc-SECRET\r");
        let mut spec = spec_of("http://127.0.0.1:8080", &[]);
        spec.api_key_env = Some(var.into());
        match HttpConfig::from_spec(&spec) {
            Err(BackendError::Load(m)) => {
                assert!(m.contains(var) && !m.contains("SECRET"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_are_checked() {
        let mut spec = ModelSpec {
            backend: BackendKind::Openai,
            source: "http://127.0.0.1:1".into(),
            ..Default::default()
        };
        spec.options.insert("retries".into(), "5".into());
        spec.options.insert("n_supported".into(), "false".into());
        let cfg = HttpConfig::from_spec(&spec).unwrap();
        assert_eq!(cfg.retries, 5);
        assert_eq!(cfg.n_support, NSupport::No);
        spec.options.insert("retires".into(), "5".into());
        let err = HttpConfig::from_spec(&spec).unwrap_err().to_string();
        assert!(err.contains("unknown option `retires`"), "{err}");
    }

    /// `extra_body` cannot override what litmus sends (`{"stream": true}`
    /// broke every reply, `{"seed": 1}` gave every sample one seed), and a
    /// `keep_alive` Ollama would refuse is refused at open (review H).
    #[test]
    fn extra_body_and_keep_alive_are_checked() {
        let cfg = |key: &str, value: &str| {
            let mut spec = ModelSpec {
                backend: BackendKind::Ollama,
                source: "http://127.0.0.1:1".into(),
                model: Some("qwen2.5:0.5b".into()),
                ..Default::default()
            };
            spec.options.insert(key.into(), value.into());
            HttpConfig::from_spec(&spec).map_err(|e| e.to_string())
        };
        for body in [r#"{"stream": true}"#, r#"{"top_k": 5, "seed": 1}"#] {
            let err = cfg("extra_body", body).unwrap_err();
            assert!(err.contains("which litmus sends itself"), "{err}");
        }
        let ok = cfg("extra_body", r#"{"top_k": 5, "repetition_penalty": 1.1}"#).unwrap();
        assert_eq!(ok.extra_body.len(), 2);
        for (value, want) in [
            ("300", json!(300)),
            (" -1 ", json!(-1)),
            ("1.5", json!(1.5)),
            ("5m", json!("5m")),
            ("1h30m", json!("1h30m")),
            ("500ms", json!("500ms")),
            ("2.5s", json!("2.5s")),
        ] {
            assert_eq!(
                cfg("keep_alive", value).unwrap().keep_alive,
                Some(want),
                "{value}"
            );
        }
        for value in ["forever", "5 minutes", "m", "1.2.3s", ""] {
            assert!(cfg("keep_alive", value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn litmus_toml_knows_the_option_keys() {
        let path = std::path::Path::new("litmus.toml");
        let parse = |t: &str| litmus_core::plan::config::Config::parse(t, path);
        let err = parse("[models.s]\nbackend = \"openai\"\nsource = \"http://h/v1\"\noptions = { retires = 5 }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 4")
                && err.contains("unknown option `retires` for the openai backend"),
            "{err}"
        );
        let c = parse("[models.s]\nbackend = \"ollama\"\nsource = \"http://h\"\nmodel = \"q\"\noptions = { retries = 5, extra_sampling = false }\n")
            .unwrap();
        let cfg = HttpConfig::from_spec(&c.models["s"]).unwrap();
        assert_eq!((cfg.retries, cfg.extra_sampling), (5, false));
    }

    #[test]
    fn absurd_durations_are_errors_not_panics() {
        let with = |key: &str, value: &str| {
            let mut spec = ModelSpec {
                name: "m".into(),
                backend: BackendKind::Openai,
                source: "http://127.0.0.1:1".into(),
                ..Default::default()
            };
            spec.options.insert(key.into(), value.into());
            HttpConfig::from_spec(&spec).map_err(|e| e.to_string())
        };
        for (key, value) in [
            ("max_retry_after_secs", "1e300"),
            ("connect_timeout_secs", "1e20"),
            ("max_retry_after_secs", "-1"),
            ("max_retry_after_secs", "nan"),
            ("cooldown_ms", "18446744073709551615"),
            ("backoff_ms", "18446744073709551615"),
        ] {
            let err = with(key, value).unwrap_err();
            assert!(err.contains(key) && err.contains("a week"), "{err}");
        }
        let cfg = with("max_retry_after_secs", "0.5").unwrap();
        assert_eq!(cfg.max_retry_after, Duration::from_millis(500));
        let spec = ModelSpec {
            name: "m".into(),
            backend: BackendKind::Openai,
            source: "http://127.0.0.1:1".into(),
            timeout_secs: Some(9223372036854775807),
            ..Default::default()
        };
        let err = HttpConfig::from_spec(&spec).unwrap_err().to_string();
        assert!(
            err.contains("model `m`") && err.contains("timeout_secs"),
            "{err}"
        );
    }

    #[test]
    fn backoff_grows_with_jitter() {
        let spec = ModelSpec {
            source: "x".into(),
            ..Default::default()
        };
        let cfg = HttpConfig::from_spec(&spec).unwrap();
        // 250 ms doubled per retry reaches the 10 s cap at retry 6.
        for attempt in 0..10 {
            let base = (cfg.backoff * (1 << attempt)).min(cfg.max_backoff);
            let delays: Vec<Duration> = (0..200).map(|_| cfg.backoff_for(attempt)).collect();
            for d in &delays {
                assert!(
                    *d >= base / 2 && *d <= base,
                    "retry {attempt}: {d:?} vs {base:?}"
                );
            }
            // Jittered: 200 draws from [base/2, base] are not all equal.
            assert!(
                delays.iter().any(|d| *d != delays[0]),
                "retry {attempt}: no jitter in {delays:?}"
            );
        }
        // Late retries stay at the cap, without overflowing the doubling.
        for attempt in [16, 17, 31, u32::MAX] {
            let d = cfg.backoff_for(attempt);
            assert!(
                d >= cfg.max_backoff / 2 && d <= cfg.max_backoff,
                "retry {attempt}: {d:?}"
            );
        }
    }

    #[test]
    fn wire_seed_is_31_bits() {
        for s in [0u64, 1, u64::MAX, 0xFFFF_FFFF, 1 << 40] {
            assert!(wire_seed(s) < 1 << 31);
        }
        assert_ne!(wire_seed(1), wire_seed(2));
    }
}
