//! Test helpers: a tiny hand-rolled HTTP/1.1 server on loopback, and a
//! fixture that runs llama.cpp's llama-server.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use litmus_core::base::model::{BackendKind, ModelSpec};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Fake HTTP server
// ---------------------------------------------------------------------------

/// A request as the fake server saw it.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Req {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// What the fake server answers.
#[derive(Clone, Debug)]
pub enum Resp {
    /// Status, extra headers, body.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        delay: Duration,
    },
    /// Close the connection without answering.
    Close,
    /// Raw bytes written piece by piece with `gap` before each piece (a
    /// slow-loris server: `head` is the status line and headers, sent at
    /// once), then the connection closed.
    Dribble {
        head: String,
        pieces: Vec<String>,
        gap: Duration,
    },
}

impl Resp {
    pub fn json(status: u16, body: &Value) -> Resp {
        Resp::Http {
            status,
            headers: vec![],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
    pub fn text(status: u16, body: &str) -> Resp {
        Resp::Http {
            status,
            headers: vec![],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Resp {
        if let Resp::Http { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }
    pub fn delayed(mut self, d: Duration) -> Resp {
        if let Resp::Http { delay, .. } = &mut self {
            *delay = d;
        }
        self
    }
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

struct Shared {
    handler: Handler,
    requests: Mutex<Vec<Req>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    stop: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
}

/// A loopback HTTP/1.1 server answering with a closure; keeps connections alive.
pub struct FakeServer {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> FakeServer {
        Self::start_on(0, Arc::new(handler))
    }

    /// Starts on `port` (0: any free port).
    pub fn start_on(port: u16, handler: Handler) -> FakeServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            handler,
            requests: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if let Ok(clone) = stream.try_clone() {
                    s.conns.lock().unwrap().push(clone);
                }
                let s = Arc::clone(&s);
                std::thread::spawn(move || serve(stream, &s));
            }
        });
        FakeServer {
            port,
            shared,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Req> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Requests to `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Req> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Stops listening and closes every connection: the port then refuses connections.
    pub fn stop(&mut self) {
        if self.shared.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for c in self.shared.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

fn serve(stream: TcpStream, s: &Shared) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let req = Req {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        s.requests.lock().unwrap().push(req.clone());
        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let resp = (s.handler)(&req);
        let done = || s.in_flight.fetch_sub(1, Ordering::SeqCst);
        match resp {
            Resp::Dribble { head, pieces, gap } => {
                done();
                if writer.write_all(head.as_bytes()).is_err() {
                    return;
                }
                for p in pieces {
                    std::thread::sleep(gap);
                    if s.stop.load(Ordering::SeqCst) || writer.write_all(p.as_bytes()).is_err() {
                        return;
                    }
                }
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Resp::Close => {
                done();
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Resp::Http {
                status,
                headers,
                body,
                delay,
            } => {
                std::thread::sleep(delay);
                done();
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                let mut out = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                    reason(status),
                    body.len()
                );
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&body);
                if writer.write_all(out.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

/// A port nothing listens on (bound, then released).
pub fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A spec for an OpenAI-compatible server with quick retries.
pub fn openai_spec(urls: &[String]) -> ModelSpec {
    let mut spec = ModelSpec {
        name: "test-model".into(),
        backend: BackendKind::Openai,
        source: urls[0].clone(),
        endpoints: urls[1..].to_vec(),
        timeout_secs: Some(30),
        ..ModelSpec::default()
    };
    spec.options.insert("backoff_ms".into(), "10".into());
    spec.options.insert("max_backoff_ms".into(), "50".into());
    spec
}

// ---------------------------------------------------------------------------
// llama-server fixture
// ---------------------------------------------------------------------------

/// Server tests take turns: each starts its own llama-server, and two at once
/// would fight over two cores.
pub static SERVER_LOCK: Mutex<()> = Mutex::new(());

pub fn server_lock() -> std::sync::MutexGuard<'static, ()> {
    SERVER_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
}

fn skip_requested() -> bool {
    std::env::var("LITMUS_SKIP_SERVER_TESTS").is_ok_and(|v| v == "1")
}

pub fn server_binary() -> PathBuf {
    std::env::var_os("LLAMA_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/llama-reference/bin/llama-server"))
}

pub fn model_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LITMUS_TEST_MODEL") {
        return Some(PathBuf::from(p));
    }
    [
        home().join(".cache/litmus/models/gemma-3-270m-q4_k_m.gguf"),
        PathBuf::from("/tmp/model/gemma-3-270m-q4_k_m.gguf"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// What a server test needs, or `None` (the test then returns early) when
/// `LITMUS_SKIP_SERVER_TESTS=1`. Panics with instructions when missing.
pub fn server_prereqs() -> Option<(PathBuf, PathBuf)> {
    if skip_requested() {
        eprintln!("LITMUS_SKIP_SERVER_TESTS=1: skipping a llama-server test");
        return None;
    }
    let bin = server_binary();
    assert!(
        bin.is_file(),
        "llama-server not found at {} — build it with `scripts/llama-tools.sh`, \
         set LLAMA_SERVER_BIN, \
         or set LITMUS_SKIP_SERVER_TESTS=1 to skip the server tests",
        bin.display()
    );
    let model = model_path().unwrap_or_else(|| {
        panic!(
            "test model not found: set LITMUS_TEST_MODEL or put gemma-3-270m-q4_k_m.gguf in \
             ~/.cache/litmus/models/ (or set LITMUS_SKIP_SERVER_TESTS=1)"
        )
    });
    Some((bin, model))
}

/// A llama-server child process on a loopback port, killed on drop.
pub struct LlamaServer {
    pub port: u16,
    bin: PathBuf,
    model: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

/// `--no-repack` on CPUs with Intel AMX: llama.cpp's AMX matrix kernel
/// crashes llama-server at its first decode of a Q4_K_M model there
/// (ggml-org/llama.cpp#20824); without repacking the AMX layout is not used.
pub fn amx_workaround() -> &'static [&'static str] {
    let amx = std::fs::read_to_string("/proc/cpuinfo")
        .is_ok_and(|info| info.split_whitespace().any(|flag| flag == "amx_int8"));
    if amx {
        &["--no-repack"]
    } else {
        &[]
    }
}

pub fn free_port() -> u16 {
    dead_port()
}

impl LlamaServer {
    /// Starts llama-server on a free port (`-t 2 -c 4096 -np 4`) and waits for `/health`.
    pub fn start() -> Option<LlamaServer> {
        let (bin, model) = server_prereqs()?;
        Some(Self::try_start(bin, model).unwrap_or_else(|e| panic!("{e}")))
    }

    fn try_start(bin: PathBuf, model: PathBuf) -> Result<LlamaServer, String> {
        let mut s = LlamaServer {
            port: free_port(),
            bin,
            model,
            child: None,
            log: PathBuf::new(),
        };
        s.spawn()?;
        Ok(s)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> Result<(), String> {
        self.log = std::env::temp_dir().join(format!("litmus-http-llama-server-{}.log", self.port));
        let log =
            std::fs::File::create(&self.log).map_err(|e| format!("create the server log: {e}"))?;
        let mut cmd = Command::new(&self.bin);
        cmd.args(["-m"])
            .arg(&self.model)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["-t", "2", "-c", "4096", "-np", "4"])
            .args(amx_workaround())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // When the thread that started it ends (or the test process dies
            // without running Drop), the server is killed too.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        self.wait_healthy(Duration::from_secs(300))
    }

    fn wait_healthy(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "llama-server exited with {status}; log:\n{}",
                        self.log_tail()
                    ));
                }
            }
            if http_get_status(self.port, "/health") == Some(200) {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "llama-server not healthy after {limit:?}; log:\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn().unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn model_file(&self) -> &Path {
        &self.model
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        self.kill();
        // Keep the log of a failed test for the post-mortem.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// One llama-server shared by the tests of a test binary that do not disturb
/// it. It is started by a thread that never ends, so that the server's
/// parent-death signal fires only when the test process exits.
pub fn shared_server_url() -> Option<String> {
    static SHARED: std::sync::OnceLock<Result<u16, String>> = std::sync::OnceLock::new();
    let (bin, model) = server_prereqs()?;
    let port = SHARED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || match LlamaServer::try_start(bin, model) {
            Ok(server) => {
                let _ = tx.send(Ok(server.port));
                let _keep = server;
                loop {
                    std::thread::park();
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        });
        rx.recv()
            .unwrap_or_else(|_| Err("the llama-server thread died".into()))
    });
    match port {
        Ok(port) => Some(format!("http://127.0.0.1:{port}")),
        Err(e) => panic!("{e}"),
    }
}

/// Status of a plain GET on loopback, or `None` when nothing answers.
pub fn http_get_status(port: u16, path: &str) -> Option<u16> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------
// An OpenAI-compatible fake: its model list, answers, and callers

/// `/v1/models` of a llama-server serving `tiny.gguf`.
pub fn models() -> Value {
    json!({"object": "list", "data": [{"id": "tiny.gguf", "object": "model", "owned_by": "vllm",
        "meta": {"n_params": 268098176u64, "size": 253_000_000u64, "n_ctx_train": 32768}}]})
}

/// A chat completion with one choice per text.
pub fn chat_reply(texts: &[&str]) -> Value {
    let choices: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": t}}))
        .collect();
    json!({"object": "chat.completion", "model": "tiny.gguf", "choices": choices,
           "usage": {"prompt_tokens": 5, "completion_tokens": 3 * texts.len(), "total_tokens": 5 + 3 * texts.len()}})
}

/// A server listing one model and answering every generation with `gen`.
pub fn server(gen: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> FakeServer {
    FakeServer::start(move |r: &Req| match r.path.as_str() {
        "/v1/models" => Resp::json(200, &models()),
        "/props" => Resp::text(
            404,
            "{\"error\":{\"code\":404,\"message\":\"File Not Found\"}}",
        ),
        _ => gen(r),
    })
}

/// `threads` threads each making `each` calls of `call` at once; every
/// result, thread by thread.
pub fn from_threads<T: Send + 'static>(
    threads: usize,
    each: usize,
    call: impl Fn() -> T + Send + Sync + 'static,
) -> Vec<T> {
    let call = Arc::new(call);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let call = Arc::clone(&call);
            std::thread::spawn(move || (0..each).map(|_| call()).collect::<Vec<_>>())
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}
