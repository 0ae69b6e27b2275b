//! One blocking `reqwest` client per backend, the endpoint pool, retries with
//! backoff, and the mapping of HTTP failures to [`BackendError`].

use std::io::Read;
use std::time::{Duration, Instant};

use litmus_core::base::backend::BackendError;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;

use crate::config::{display_url, HttpConfig};
use crate::pool::Pool;

/// Longest piece of an error body quoted in a message.
const SNIPPET_CHARS: usize = 300;

/// The most an answer's body may hold: far beyond any completion a request
/// asks for, and little enough memory.
const MAX_BODY_BYTES: u64 = 64 << 20;

/// A failed call: the error to report, and the HTTP status when the server answered.
#[derive(Debug, Clone)]
pub(crate) struct CallError {
    pub error: BackendError,
    pub status: Option<u16>,
}

impl From<CallError> for BackendError {
    fn from(e: CallError) -> Self {
        e.error
    }
}

/// A successful call.
#[derive(Debug)]
pub(crate) struct Reply {
    pub json: Value,
    /// Time from sending the request to the whole answer (not counting the
    /// wait for a free endpoint slot or earlier attempts).
    pub elapsed: Duration,
    /// The URL that answered.
    pub url: String,
    /// The base URL of the endpoint that answered (as configured).
    pub endpoint: String,
}

/// What went wrong with one attempt.
enum Attempt {
    /// No connection: refused, no answer to the attempt, DNS.
    Connection(String),
    /// Connected and sent, then the connection closed before the whole
    /// answer came: a server that crashed on the request, a proxy that
    /// restarted, a reset mid-body.
    Dropped(String),
    Timeout(String),
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        message: String,
        /// The whole body, unredacted: read, never shown.
        body: String,
    },
    Decode(String),
}

pub(crate) struct Transport {
    pub client: Client,
    pub cfg: HttpConfig,
    pub pool: Pool,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("cfg", &self.cfg)
            .field("pool", &self.pool)
            .finish()
    }
}

/// Builds the one client of a backend (connections are reused across threads).
pub(crate) fn build_client(cfg: &HttpConfig) -> Result<Client, BackendError> {
    Client::builder()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        // A redirect is reported, not followed: reqwest turns a 301/302/303
        // after a POST into a GET without the body, whose answer would be
        // recorded as the model's.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("litmus-http/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| BackendError::Load(format!("cannot build the HTTP client: {e}")))
}

/// Cuts `text` to at most `max` characters, on a character boundary.
pub(crate) fn snippet(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The human part of an error body: OpenAI `{"error":{"message":…}}`,
/// Ollama `{"error":"…"}`, or the raw text.
fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let e = v.get("error").unwrap_or(&v);
        if let Some(s) = e.as_str() {
            return snippet(s, SNIPPET_CHARS);
        }
        if let Some(s) = e.get("message").and_then(Value::as_str) {
            return snippet(s, SNIPPET_CHARS);
        }
        if let Some(s) = v.get("detail").and_then(Value::as_str) {
            return snippet(s, SNIPPET_CHARS);
        }
    }
    snippet(body, SNIPPET_CHARS)
}

/// The error in a 200 answer that holds no result (gateways such as
/// OpenRouter or LiteLLM answer `200 {"error": {...}}`): the status its
/// `error.code` names (200 when it names none) and its message.
fn embedded_error(json: &Value) -> Option<(StatusCode, String)> {
    let e = json.get("error").filter(|e| !e.is_null())?;
    if ["choices", "message", "response"]
        .iter()
        .any(|k| json.get(k).is_some())
    {
        return None;
    }
    let status = e
        .get("code")
        .and_then(|c| c.as_u64().or_else(|| c.as_str()?.trim().parse().ok()))
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|c| c.is_client_error() || c.is_server_error())
        .unwrap_or(StatusCode::OK);
    Some((status, error_message(&json.to_string())))
}

/// `Retry-After` in seconds (fractions allowed). HTTP dates are not parsed.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()?;
    // A wait too long for a Duration is the longest one (the caller caps
    // it at `max_retry_after_secs`).
    (v >= 0.0).then(|| Duration::try_from_secs_f64(v).unwrap_or(Duration::MAX))
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

/// Whether a 4xx body says the prompt does not fit the context.
fn is_context_overflow(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    b.contains("exceed_context_size")
        || b.contains("maximum context length")
        || (b.contains("context") && (b.contains("exceed") || b.contains("too long")))
}

impl Transport {
    pub fn new(cfg: HttpConfig, pool: Pool) -> Result<Self, BackendError> {
        Ok(Transport {
            client: build_client(&cfg)?,
            cfg,
            pool,
        })
    }

    /// `text` without the API key or any long piece of it: every message
    /// that may quote a server's words goes through this last.
    pub(crate) fn redact(&self, text: &str) -> String {
        match &self.cfg.api_key {
            Some(key) => key.redact(text),
            None => text.to_string(),
        }
    }

    fn authorize(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.cfg.api_key {
            Some(key) => req.bearer_auth(key.expose()),
            None => req,
        }
    }

    fn classify(&self, url: &str, e: reqwest::Error) -> Attempt {
        let timeout = e.is_timeout();
        let connect = e.is_connect();
        let decode = e.is_decode();
        let builder = e.is_builder();
        let e = e.without_url();
        let mut msg = format!("{}: {e}", display_url(url));
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let text = s.to_string();
            if !msg.contains(&text) {
                msg.push_str(": ");
                msg.push_str(&text);
            }
            source = s.source();
        }
        let msg = self.redact(&msg);
        if connect {
            // Refused, or no answer to the connection attempt within
            // `connect_timeout` (a host that is off, a firewall dropping
            // packets): the endpoint is not serving, whichever way it failed.
            Attempt::Connection(msg)
        } else if timeout {
            // Connected, but the answer did not come in time.
            Attempt::Timeout(msg)
        } else if decode || builder {
            // A request that cannot be built (a bad URL or header) is no
            // endpoint's fault, and sending it again changes nothing.
            Attempt::Decode(msg)
        } else {
            // Connected (refusals and DNS failures are connect errors), then
            // reset or closed before the answer was complete.
            Attempt::Dropped(format!("{msg} (connected, but no complete answer came)"))
        }
    }

    /// An answer's body, up to [`MAX_BODY_BYTES`]: a server that sends more
    /// (streaming without end, ignoring `max_tokens`) is an error, not a
    /// process out of memory. The whole read must end by `deadline` (the
    /// request's start plus its `limit`): reqwest's blocking reads time out
    /// per read, so a server that dribbles a byte now and then (a slow-loris
    /// proxy, keep-alive whitespace) would otherwise hold the request forever.
    fn body(
        &self,
        url: &str,
        mut resp: Response,
        deadline: Instant,
        limit: Duration,
    ) -> Result<String, Attempt> {
        let late = || {
            Attempt::Timeout(format!(
                "{}: the answer did not finish within {} s",
                display_url(url),
                limit.as_secs_f64()
            ))
        };
        let mut body = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            if Instant::now() >= deadline {
                return Err(late());
            }
            match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    body.extend_from_slice(&buf[..n]);
                    if body.len() as u64 > MAX_BODY_BYTES {
                        return Err(Attempt::Decode(format!(
                            "{}: the answer is larger than {} MiB",
                            display_url(url),
                            MAX_BODY_BYTES >> 20
                        )));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let timeout = e.kind() == std::io::ErrorKind::TimedOut
                        || e.get_ref()
                            .and_then(|r| r.downcast_ref::<reqwest::Error>())
                            .is_some_and(reqwest::Error::is_timeout);
                    if timeout {
                        return Err(late());
                    }
                    let msg = self.redact(&format!(
                        "{}: the connection closed while the server was answering: {e}",
                        display_url(url)
                    ));
                    return Err(Attempt::Dropped(msg));
                }
            }
        }
        Ok(match String::from_utf8(body) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The answer to a request sent at `started` with the time limit `limit`.
    fn read(
        &self,
        url: &str,
        resp: Result<Response, reqwest::Error>,
        started: Instant,
        limit: Duration,
    ) -> Result<Value, Attempt> {
        let resp = resp.map_err(|e| self.classify(url, e))?;
        let status = resp.status();
        let after = retry_after(resp.headers());
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| match reqwest::Url::parse(url).and_then(|u| u.join(l)) {
                Ok(to) => display_url(to.as_str()),
                Err(_) => display_url(l),
            });
        let text = self.body(url, resp, started + limit, limit)?;
        if status.is_redirection() {
            let to = location.unwrap_or_else(|| "no `Location`".into());
            return Err(Attempt::Status {
                status,
                retry_after: None,
                message: self.redact(&format!(
                    "HTTP {status} from {}: the server redirects to {to}; set the model's \
                     source to that URL (redirects are not followed)",
                    display_url(url)
                )),
                body: text,
            });
        }
        if !status.is_success() {
            // Redacted after decoding and cutting: a key the body escapes
            // (`\/`, `\u002b`) or the snippet cuts is caught too.
            let message = self.redact(&format!(
                "HTTP {status} from {}: {}",
                display_url(url),
                error_message(&text)
            ));
            return Err(Attempt::Status {
                status,
                retry_after: after,
                message,
                body: text,
            });
        }
        serde_json::from_str(&text)
            .or_else(|e| match lone_surrogates_replaced(&text) {
                // Python's `json.dumps` writes the surrogates of undecodable
                // bytes (`\udcff`), which are not Unicode: U+FFFD instead,
                // as a lossy UTF-8 read does.
                Some(fixed) => serde_json::from_str(&fixed).map_err(|_| e),
                None => Err(e),
            })
            .map_err(|e| {
                Attempt::Decode(self.redact(&format!(
                    "{}: invalid JSON ({e}): {}",
                    display_url(url),
                    snippet(&text, SNIPPET_CHARS)
                )))
            })
    }

    /// GET `base + path` on one endpoint, once, with `timeout` (metadata at open).
    pub fn get_once(&self, base: &str, path: &str, timeout: Duration) -> Result<Value, CallError> {
        let url = format!("{base}{path}");
        let started = Instant::now();
        let resp = self
            .authorize(self.client.get(&url).timeout(timeout))
            .send();
        self.read(&url, resp, started, timeout)
            .map_err(to_call_error)
    }

    /// POST `body` to `base + path` on one endpoint, once (metadata at open).
    pub fn post_once(
        &self,
        base: &str,
        path: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        let url = format!("{base}{path}");
        let started = Instant::now();
        let resp = self
            .authorize(self.client.post(&url).timeout(timeout).json(body))
            .send();
        self.read(&url, resp, started, timeout)
            .map_err(to_call_error)
    }

    /// POST `body` to `path` on the pool: the least busy healthy endpoint,
    /// failing over to another one on connection errors, retrying with backoff
    /// on connection errors, 429 (honouring `Retry-After`), 408 and 5xx.
    pub fn post(&self, path: &str, body: &Value) -> Result<Reply, CallError> {
        let mut retries_left = self.cfg.retries;
        let mut failovers_left = self.pool.len().saturating_sub(1);
        let mut probes_left = 4 * self.pool.len();
        let mut attempt = 0u32;
        // The endpoint the last attempt failed on (a retry prefers another),
        // and that attempt's error when the server answered.
        let mut avoid: Option<usize> = None;
        let mut last_answer: Option<CallError> = None;
        // An earlier attempt was dropped mid-answer (see `Attempt::Dropped`).
        let mut dropped = false;
        loop {
            let lease = match self.pool.acquire_avoiding(avoid) {
                Ok(lease) => lease,
                Err(unavailable) => {
                    let msg = format!("no endpoint reachable: {}", unavailable.last_error);
                    if retries_left == 0 {
                        // Out because it kept failing: say how it failed.
                        if let Some(e) = last_answer {
                            return Err(e);
                        }
                        return Err(CallError {
                            error: BackendError::Connection(msg),
                            status: None,
                        });
                    }
                    retries_left -= 1;
                    let wait = self
                        .cfg
                        .backoff_for(attempt)
                        .max(unavailable.retry_in.min(self.cfg.max_backoff));
                    attempt += 1;
                    std::thread::sleep(wait);
                    continue;
                }
            };
            let url = format!("{}{path}", lease.url());
            let started = Instant::now();
            let limit = self.cfg.timeout;
            // The request's own timeout also bounds its body (reqwest's
            // async side), besides the deadline checked between reads.
            let resp = self
                .authorize(self.client.post(&url).timeout(limit).json(body))
                .send();
            let answer =
                self.read(&url, resp, started, limit).and_then(|json| {
                    match embedded_error(&json) {
                        None => Ok(json),
                        Some((status, message)) => Err(Attempt::Status {
                            status,
                            retry_after: None,
                            message: self.redact(&format!(
                                "HTTP 200 from {} with an error in the answer{}: {message}",
                                display_url(&url),
                                if status == StatusCode::OK {
                                    String::new()
                                } else {
                                    format!(" (code {})", status.as_u16())
                                }
                            )),
                            body: json.to_string(),
                        }),
                    }
                });
            match answer {
                Ok(json) => {
                    return Ok(Reply {
                        json,
                        elapsed: started.elapsed(),
                        url,
                        endpoint: lease.url().to_string(),
                    })
                }
                Err(Attempt::Connection(msg)) => {
                    let probe = lease.is_probe();
                    avoid = Some(lease.index());
                    lease.failed(&msg);
                    // A failed probe of a cooled-down endpoint is the pool's
                    // health check, not this request's failure: the pool
                    // picks again (a live endpoint, or `Unavailable` and the
                    // retries below) at no cost, `probes_left` times at most.
                    // While another endpoint is up, the request can wait
                    // for it however many probes fail meanwhile (a request
                    // that waited for a busy live host through eight probes
                    // of a dead one failed); the count bounds the probes
                    // only when no endpoint is up (with `cooldown_ms = 0`
                    // a dead endpoint could be probed without end).
                    if probe && (probes_left > 0 || self.pool.has_up()) {
                        probes_left = probes_left.saturating_sub(1);
                        continue;
                    }
                    if failovers_left > 0 && self.pool.has_available() {
                        failovers_left -= 1;
                        continue;
                    }
                    if retries_left == 0 {
                        return Err(CallError {
                            error: BackendError::Connection(msg),
                            status: None,
                        });
                    }
                    retries_left -= 1;
                    std::thread::sleep(self.cfg.backoff_for(attempt));
                    attempt += 1;
                }
                Err(Attempt::Dropped(msg)) => {
                    // The server took the request and let it fall: maybe it
                    // crashed on this very prompt, so the request is not
                    // failed over from endpoint to endpoint (each would crash
                    // in turn) but sent once more, to another endpoint where
                    // there is one; the endpoint takes a strike (three in a
                    // row cool it down) rather than a cool-down at once: it
                    // was serving.
                    avoid = Some(lease.index());
                    if lease.is_probe() {
                        lease.failed(&msg);
                    } else {
                        lease.overloaded(&msg, None);
                    }
                    if dropped || retries_left == 0 {
                        let msg = if dropped {
                            format!("{msg}; dropped twice, so it is not sent again (a prompt that crashes the server?)")
                        } else {
                            msg
                        };
                        return Err(CallError {
                            error: BackendError::Connection(msg),
                            status: None,
                        });
                    }
                    dropped = true;
                    retries_left -= 1;
                    std::thread::sleep(self.cfg.backoff_for(attempt));
                    attempt += 1;
                }
                Err(Attempt::Status {
                    status,
                    retry_after,
                    message,
                    body,
                }) => {
                    let retry_after = retry_after.map(|d| d.min(self.cfg.max_retry_after));
                    if retryable(status) {
                        avoid = Some(lease.index());
                        lease.overloaded(&message, retry_after);
                    } else {
                        // It answered: it serves, whatever it thought of the request.
                        drop(lease);
                    }
                    if retryable(status) && retries_left > 0 {
                        retries_left -= 1;
                        last_answer = Some(CallError {
                            error: BackendError::Backend(message.clone()),
                            status: Some(status.as_u16()),
                        });
                        // The server's `Retry-After` keeps its endpoint out
                        // that long (above); the request itself waits for it
                        // only when no other endpoint can take it.
                        let wait = match retry_after {
                            Some(d) if !self.pool.has_available() => d,
                            _ => self.cfg.backoff_for(attempt),
                        };
                        attempt += 1;
                        std::thread::sleep(wait);
                        continue;
                    }
                    let error = if status.is_client_error() && is_context_overflow(&body) {
                        BackendError::PromptTooLong(message)
                    } else {
                        BackendError::Backend(message)
                    };
                    return Err(CallError {
                        error,
                        status: Some(status.as_u16()),
                    });
                }
                Err(other) => {
                    let timeout = matches!(other, Attempt::Timeout(_));
                    let e = to_call_error(other);
                    // A probe ends the endpoint's cool-down only when it
                    // succeeded: one that timed out or got garbage leaves
                    // the endpoint cooling down. In a pool, a timeout is a
                    // strike too: an endpoint that hangs would otherwise
                    // keep drawing requests that each cost `timeout_secs`.
                    if lease.is_probe() {
                        lease.failed(&e.error.to_string());
                    } else if timeout && self.pool.len() > 1 {
                        lease.overloaded(&e.error.to_string(), None);
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// `json` with each `\uXXXX` escape of a lone UTF-16 surrogate (one not in
/// a high-low pair) replaced by `\ufffd`; `None` when it has none.
fn lone_surrogates_replaced(json: &str) -> Option<String> {
    let b = json.as_bytes();
    let hex = |at: usize| -> Option<u32> {
        let digits = json.get(at..at + 4)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_hexdigit())
            .then(|| u32::from_str_radix(digits, 16).ok())
            .flatten()
    };
    // An escape `\u` at `at` (its backslash), and the code unit it writes.
    let unit = |at: usize| -> Option<u32> {
        (b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u'))
            .then(|| hex(at + 2))
            .flatten()
    };
    let mut out: Option<String> = None;
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        match unit(i) {
            Some(0xD800..=0xDBFF) if matches!(unit(i + 6), Some(0xDC00..=0xDFFF)) => i += 12,
            Some(0xD800..=0xDFFF) => {
                let o = out.get_or_insert_with(|| String::with_capacity(json.len()));
                o.push_str(&json[copied..i]);
                o.push_str("\\ufffd");
                i += 6;
                copied = i;
            }
            // Any other escape: skip the backslash and the character after it.
            _ => i += 2,
        }
    }
    out.map(|mut o| {
        o.push_str(&json[copied..]);
        o
    })
}

fn to_call_error(a: Attempt) -> CallError {
    match a {
        Attempt::Connection(m) | Attempt::Dropped(m) => CallError {
            error: BackendError::Connection(m),
            status: None,
        },
        Attempt::Timeout(m) => CallError {
            error: BackendError::Timeout(m),
            status: None,
        },
        Attempt::Decode(m) => CallError {
            error: BackendError::Backend(m),
            status: None,
        },
        Attempt::Status {
            status, message, ..
        } => CallError {
            error: BackendError::Backend(message),
            status: Some(status.as_u16()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogate_escapes_become_replacement_characters() {
        let fixed = lone_surrogates_replaced(r#"{"a": "x \udcff y \ud800", "b": "\\udcff"}"#);
        assert_eq!(
            fixed.as_deref(),
            Some(r#"{"a": "x \ufffd y \ufffd", "b": "\\udcff"}"#)
        );
        let v: serde_json::Value = serde_json::from_str(&fixed.unwrap()).unwrap();
        assert_eq!(v["a"], "x \u{fffd} y \u{fffd}");
        // A pair is one character, left as it is; so is everything else.
        assert_eq!(
            lone_surrogates_replaced(r#"["\ud83d\ude00", "\u00e9\n"]"#),
            None
        );
        assert_eq!(
            lone_surrogates_replaced(r#"["\ude00\ud83d"]"#).as_deref(),
            Some(r#"["\ufffd\ufffd"]"#)
        );
    }

    #[test]
    fn error_bodies_are_summarised() {
        assert_eq!(
            error_message(r#"{"error":"model 'x' not found"}"#),
            "model 'x' not found"
        );
        assert_eq!(
            error_message(
                r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#
            ),
            "Loading model"
        );
        assert_eq!(error_message("plain"), "plain");
        let long = "é".repeat(1000);
        assert_eq!(error_message(&long).chars().count(), SNIPPET_CHARS + 1);
    }

    #[test]
    fn context_overflow_is_recognised() {
        assert!(is_context_overflow(
            r#"{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}}"#
        ));
        assert!(is_context_overflow(
            "This model's maximum context length is 2048 tokens."
        ));
        assert!(!is_context_overflow(
            "Only one completion choice is allowed"
        ));
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
        // A server's absurd wait is the longest, not a panic.
        h.insert(RETRY_AFTER, "1e300".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::MAX));
        h.insert(RETRY_AFTER, "NaN".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
