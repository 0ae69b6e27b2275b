//! Engine worker processes: a model served in a child process of its own, so
//! that a crash inside llama.cpp (a signal, an abort, the kernel's
//! out-of-memory killer) ends that process, not the run.
//!
//! The child is the running program itself, started with
//! `LITMUS_LLAMA_WORKER=1`. Its `main` calls [`main_hook`] first (the eval
//! targets that `litmus::main!` defines do), which turns the process into the
//! worker before anything else runs; a program that never calls the hook
//! serves models on a thread instead. Requests and answers travel as JSON
//! lines over the child's stdin and stdout; its stderr carries llama.cpp's log,
//! of which the parent keeps the last lines for crash reports.
//!
//! When a worker dies, every request in flight fails with an error that names
//! the signal (or exit code) and ends with the last lines of its log; the next
//! request starts a new worker, at most [`MAX_RESTARTS`] times per model.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use litmus_core::base::backend::{
    BackendError, Generation, GenerationRequest, Prompt, SamplingParams,
};
use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};

use crate::engine::EngineStats;
use crate::local::{ChatFormat, Local};
use crate::settings::LlamaSettings;

/// Set in a worker's environment; [`main_hook`] serves a model when it sees it.
pub const WORKER_ENV: &str = "LITMUS_LLAMA_WORKER";

/// Test hook: `segv-after-steps:N` makes a worker raise SIGSEGV after its
/// N-th decode step. Only the first worker of a model gets it (restarted
/// workers run clean), and it is ignored outside worker processes.
pub const FAULT_ENV: &str = "LITMUS_LLAMA_FAULT";

/// New workers started after crashes, per model, before its requests fail
/// without one.
pub const MAX_RESTARTS: u32 = 3;

/// Lines of a worker's log kept for crash reports.
const LOG_TAIL: usize = 40;

static HOOKED: AtomicBool = AtomicBool::new(false);

/// Decode steps after which the engine of this (worker) process raises
/// SIGSEGV ([`FAULT_ENV`]); `u64::MAX` when none.
pub(crate) static FAULT_AFTER_STEPS: AtomicU64 = AtomicU64::new(u64::MAX);

/// Call first thing in `main` of a program that opens llama models: in a
/// worker process (started by this program) it serves the model and exits;
/// otherwise it records that this program can start workers, so that models
/// opened later run in worker processes (option `isolation`).
///
/// ```no_run
/// // First thing in `main`:
/// litmus_llama::worker::main_hook();
/// // ... then open models and generate.
/// ```
pub fn main_hook() {
    if std::env::var_os(WORKER_ENV).is_some() {
        let code = serve();
        // Leave without running llama.cpp's static destructors (its thread
        // pools may still be winding down); everything is flushed by now.
        // SAFETY: `_exit` ends the process; nothing runs after it.
        unsafe { libc::_exit(code) }
    }
    HOOKED.store(true, Ordering::Relaxed);
}

/// Whether this program can start engine workers (its `main` called
/// [`main_hook`]).
pub fn available() -> bool {
    cfg!(unix) && HOOKED.load(Ordering::Relaxed)
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum ToWorker {
    Open {
        settings: Box<LlamaSettings>,
    },
    Generate {
        id: u64,
        request: GenerationRequest,
    },
    Tokens {
        id: u64,
        tokens: Vec<i32>,
        params: SamplingParams,
        samples: Vec<u32>,
    },
    Render {
        id: u64,
        prompt: Prompt,
    },
    Tokenize {
        id: u64,
        prompt: Prompt,
    },
    Shutdown,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum FromWorker {
    Ready(Ready),
    Failed {
        error: BackendError,
    },
    Done {
        id: u64,
        result: Result<Vec<Generation>, BackendError>,
        stats: EngineStats,
    },
    Text {
        id: u64,
        text: String,
    },
    Tokens {
        id: u64,
        tokens: Vec<i32>,
    },
}

/// What a worker reports once its model is loaded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Ready {
    pub chat_format: ChatFormat,
    pub has_template: bool,
    pub weight_buffers: Vec<(String, f64)>,
    #[serde(default)]
    pub context_buffers: Vec<crate::runtime::BufferSize>,
    pub load_ms: f64,
    /// The cells of the engine's KV streams (`LlamaSettings::seq_cells`),
    /// as sized to the known requests' tokens.
    #[serde(default)]
    pub seq_cells: u32,
}

/// `segv-after-steps:N` -> N.
fn parse_fault(spec: &str) -> Option<u64> {
    spec.strip_prefix("segv-after-steps:")?.trim().parse().ok()
}

// ---------------------------------------------------------------------------
// The worker side.

/// Serves one model over stdin/stdout until told to stop; the exit code.
fn serve() -> i32 {
    // The protocol gets the original stdout; anything else printed to stdout
    // (by llama.cpp or a dependency) goes to stderr with the log.
    // SAFETY: plain descriptor operations on this process's own stdio.
    let proto = unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return 70;
        }
        // End with the parent, even if it is killed without closing our stdin.
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd)
    };
    // A panic on any thread (the engine's included) ends the process, so that
    // the parent sees it and starts a new worker.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("litmus-llama worker: {info}");
        std::process::abort();
    }));
    crate::runtime::log_everything_to_stderr();
    if let Some(n) = std::env::var(FAULT_ENV)
        .ok()
        .as_deref()
        .and_then(parse_fault)
    {
        FAULT_AFTER_STEPS.store(n, Ordering::Relaxed);
    }

    let (out_tx, out_rx) = mpsc::channel::<FromWorker>();
    let writer = std::thread::spawn(move || {
        let mut w = BufWriter::new(proto);
        for msg in out_rx {
            let ok = serde_json::to_writer(&mut w, &msg).is_ok()
                && w.write_all(b"\n").is_ok()
                && w.flush().is_ok();
            if !ok {
                // The parent is gone.
                break;
            }
        }
    });

    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let local = match lines.next() {
        Some(Ok(line)) => match serde_json::from_str::<ToWorker>(&line) {
            Ok(ToWorker::Open { settings }) => match Local::start(*settings) {
                Ok(local) => local,
                Err(error) => {
                    let _ = out_tx.send(FromWorker::Failed { error });
                    drop(out_tx);
                    let _ = writer.join();
                    return 1;
                }
            },
            _ => return 64,
        },
        _ => return 64,
    };
    let _ = out_tx.send(FromWorker::Ready(Ready {
        chat_format: local.chat_format.clone(),
        has_template: local.has_chat_template(),
        weight_buffers: local.weight_buffers.clone(),
        context_buffers: local.context_buffers.clone(),
        load_ms: local.load_ms,
        seq_cells: local.settings.seq_cells,
    }));
    let stats = local.stats_handle();
    let replier = |id: u64| {
        let tx = out_tx.clone();
        let stats = stats.clone();
        Box::new(move |result| {
            let stats = stats.get();
            let _ = tx.send(FromWorker::Done { id, result, stats });
        })
    };
    for line in lines {
        let Ok(line) = line else { break };
        let msg = match serde_json::from_str::<ToWorker>(&line) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("litmus-llama worker: bad request ({e}): {line}");
                return 65;
            }
        };
        match msg {
            ToWorker::Generate { id, request } => {
                local.generate(&request, Instant::now(), replier(id));
            }
            ToWorker::Tokens {
                id,
                tokens,
                params,
                samples,
            } => local.submit(
                tokens.into_iter().map(LlamaToken).collect(),
                params,
                samples,
                Instant::now(),
                replier(id),
            ),
            ToWorker::Render { id, prompt } => {
                let _ = out_tx.send(FromWorker::Text {
                    id,
                    text: local.render(&prompt),
                });
            }
            ToWorker::Tokenize { id, prompt } => {
                let _ = out_tx.send(FromWorker::Tokens {
                    id,
                    tokens: local.tokenize_prompt(&prompt),
                });
            }
            ToWorker::Open { .. } => {}
            ToWorker::Shutdown => break,
        }
    }
    // Finishes what is in flight, then stops the engine.
    drop(local);
    drop(out_tx);
    let _ = writer.join();
    0
}

// ---------------------------------------------------------------------------
// The parent side.

/// A model served by worker processes, one at a time, restarted after crashes.
pub(crate) struct Worker {
    settings: LlamaSettings,
    pub ready: Ready,
    state: Mutex<State>,
    next_id: AtomicU64,
}

struct State {
    proc: Arc<Proc>,
    /// Workers started so far (the first one included).
    started: u32,
    /// Statistics of the workers that died.
    carried: EngineStats,
}

/// One worker process.
struct Proc {
    pid: u32,
    stdin: Mutex<Option<BufWriter<ChildStdin>>>,
    /// Senders of the requests in flight; `None` once the process is gone.
    pending: Mutex<Option<HashMap<u64, mpsc::Sender<FromWorker>>>>,
    /// Why the process ended, once it has.
    dead: OnceLock<String>,
    stats: Mutex<EngineStats>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

impl Proc {
    fn crash_error(&self) -> BackendError {
        BackendError::Backend(
            self.dead.get().cloned().unwrap_or_else(|| {
                format!("the llama.cpp engine worker (pid {}) stopped", self.pid)
            }),
        )
    }
}

impl Worker {
    /// Starts the first worker and loads the model in it.
    pub fn start(settings: LlamaSettings) -> Result<Worker, BackendError> {
        let (proc, ready) = spawn(&settings, 0)?;
        Ok(Worker {
            settings,
            ready,
            state: Mutex::new(State {
                proc,
                started: 1,
                carried: EngineStats::default(),
            }),
            next_id: AtomicU64::new(1),
        })
    }

    /// The live worker, started anew when the last one died (while restarts
    /// are left).
    fn live(&self) -> Result<Arc<Proc>, BackendError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(why) = state.proc.dead.get().cloned() else {
            return Ok(Arc::clone(&state.proc));
        };
        if state.started > MAX_RESTARTS {
            return Err(BackendError::Backend(format!(
                "the llama.cpp engine worker crashed {} times, giving up on this model; the last crash: {why}",
                state.started
            )));
        }
        let restart = state.started;
        let (proc, _) = spawn(&self.settings, restart).map_err(|e| {
            BackendError::Load(format!(
                "restarting the llama.cpp engine worker after a crash ({why}): {e}"
            ))
        })?;
        tracing::warn!(
            "restarted the llama.cpp engine worker (restart {restart} of {MAX_RESTARTS}) after: {why}"
        );
        let dead_stats = *state.proc.stats.lock().unwrap_or_else(|e| e.into_inner());
        state.carried = state.carried.plus(dead_stats);
        state.proc = proc;
        state.started += 1;
        Ok(Arc::clone(&state.proc))
    }

    fn call(&self, make: impl FnOnce(u64) -> ToWorker) -> Result<FromWorker, BackendError> {
        let proc = self.live()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        match proc
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(pending) => {
                pending.insert(id, tx);
            }
            None => return Err(proc.crash_error()),
        }
        let sent = {
            let mut stdin = proc.stdin.lock().unwrap_or_else(|e| e.into_inner());
            match stdin.as_mut() {
                Some(w) => {
                    serde_json::to_writer(&mut *w, &make(id)).is_ok()
                        && w.write_all(b"\n").is_ok()
                        && w.flush().is_ok()
                }
                None => false,
            }
        };
        if !sent {
            if let Some(p) = proc
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
            {
                p.remove(&id);
            }
            // The reader notices the end of the process and says why.
            let deadline = Instant::now() + Duration::from_secs(10);
            while proc.dead.get().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            return Err(proc.crash_error());
        }
        rx.recv().map_err(|_| proc.crash_error())
    }

    pub fn generate(&self, request: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        match self.call(|id| ToWorker::Generate {
            id,
            request: request.clone(),
        })? {
            FromWorker::Done { result, .. } => result,
            _ => Err(unexpected()),
        }
    }

    pub fn generate_tokens(
        &self,
        tokens: &[i32],
        params: &SamplingParams,
        samples: &[u32],
    ) -> Result<Vec<Generation>, BackendError> {
        match self.call(|id| ToWorker::Tokens {
            id,
            tokens: tokens.to_vec(),
            params: params.clone(),
            samples: samples.to_vec(),
        })? {
            FromWorker::Done { result, .. } => result,
            _ => Err(unexpected()),
        }
    }

    pub fn render(&self, prompt: &Prompt) -> Result<String, BackendError> {
        match self.call(|id| ToWorker::Render {
            id,
            prompt: prompt.clone(),
        })? {
            FromWorker::Text { text, .. } => Ok(text),
            _ => Err(unexpected()),
        }
    }

    pub fn tokenize(&self, prompt: &Prompt) -> Result<Vec<i32>, BackendError> {
        match self.call(|id| ToWorker::Tokenize {
            id,
            prompt: prompt.clone(),
        })? {
            FromWorker::Tokens { tokens, .. } => Ok(tokens),
            _ => Err(unexpected()),
        }
    }

    /// The work of every worker of this model so far.
    pub fn engine_stats(&self) -> EngineStats {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let current = *state.proc.stats.lock().unwrap_or_else(|e| e.into_inner());
        state.carried.plus(current)
    }

    /// The live worker's process id.
    pub fn pid(&self) -> u32 {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .proc
            .pid
    }

    /// Workers started so far, the first one included.
    pub fn started(&self) -> u32 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).started
    }
}

fn unexpected() -> BackendError {
    BackendError::Backend("the llama.cpp engine worker answered out of turn".into())
}

impl Drop for Worker {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let proc = &state.proc;
        if let Some(mut w) = proc.stdin.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = serde_json::to_writer(&mut w, &ToWorker::Shutdown);
            let _ = w.write_all(b"\n");
            let _ = w.flush();
            // Dropping stdin closes it: the worker ends after its last answer.
        }
        let reader = proc.reader.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(reader) = reader {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !reader.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if !reader.is_finished() {
                // SAFETY: signalling our own child process.
                unsafe { libc::kill(proc.pid as libc::pid_t, libc::SIGKILL) };
            }
            let _ = reader.join();
        }
    }
}

/// Starts `cmd` from a thread that lasts as long as this process. A worker
/// asks the kernel to kill it when its parent ends (`PR_SET_PDEATHSIG`, see
/// `serve`), and to the kernel that parent is the *thread* that started it:
/// a worker started by a thread that ends before the run does (a generation
/// thread loading a model on a cache miss, a request restarting a crashed
/// worker) would be killed with it, failing the requests in flight.
fn spawn_lasting(cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<std::io::Result<mpsc::Sender<Job>>> = OnceLock::new();
    let gone = || std::io::Error::other("the thread that starts workers has ended");
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("litmus-llama-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map(|_| tx)
    });
    let spawner = match spawner {
        Ok(tx) => tx,
        Err(e) => return Err(std::io::Error::new(e.kind(), e.to_string())),
    };
    let (reply, answer) = mpsc::channel();
    spawner.send((cmd, reply)).map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())?
}

/// Starts worker number `n` (0: the first) and loads the model in it.
fn spawn(settings: &LlamaSettings, n: u32) -> Result<(Arc<Proc>, Ready), BackendError> {
    let exe = if cfg!(target_os = "linux") {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().map_err(|e| {
            BackendError::Load(format!("finding this program to start a worker: {e}"))
        })?
    };
    let mut cmd = Command::new(exe);
    cmd.arg("--litmus-llama-worker")
        .env(WORKER_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if n > 0 {
        cmd.env_remove(FAULT_ENV);
    }
    // llama.cpp's tiled K-quant kernel, as the settings say (they took an
    // explicit `GGML_CPU_TILED_MM` and `GGML_CPU_TILED_MM_FORCE` into account).
    cmd.envs(crate::local::tiled_mm_env(settings));
    // ggml's abort handler would attach gdb to print a backtrace; the log
    // tail names the failure already.
    if std::env::var_os("GGML_NO_BACKTRACE").is_none() {
        cmd.env("GGML_NO_BACKTRACE", "1");
    }
    // The run's scoring count, which the engine yields cores to.
    litmus_core::base::busy::share_with(&mut cmd);
    let mut child = spawn_lasting(cmd)
        .map_err(|e| BackendError::Load(format!("starting a llama.cpp engine worker: {e}")))?;
    let pid = child.id();
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");

    let tail: Arc<Mutex<VecDeque<String>>> = Arc::new(Mutex::new(VecDeque::new()));
    let log_thread = {
        let tail = Arc::clone(&tail);
        std::thread::Builder::new()
            .name("litmus-llama-worker-log".into())
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    crate::runtime::forward_worker_log(&line);
                    let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                    if t.len() == LOG_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            })
            .map_err(|e| BackendError::Load(format!("starting a log reader: {e}")))?
    };

    let mut stdin = BufWriter::new(stdin);
    let open = ToWorker::Open {
        settings: Box::new(settings.clone()),
    };
    let wrote = serde_json::to_writer(&mut stdin, &open).is_ok()
        && stdin.write_all(b"\n").is_ok()
        && stdin.flush().is_ok();
    let mut lines = BufReader::new(stdout).lines();
    let first = if wrote { lines.next() } else { None };
    let ready = match first.map(|l| l.map(|l| serde_json::from_str::<FromWorker>(&l))) {
        Some(Ok(Ok(FromWorker::Ready(ready)))) => ready,
        Some(Ok(Ok(FromWorker::Failed { error }))) => {
            let _ = child.wait();
            let _ = log_thread.join();
            return Err(error);
        }
        _ => {
            drop(stdin);
            return Err(BackendError::Load(format!(
                "loading the model in a llama.cpp engine worker: {}",
                ended(pid, &mut child, log_thread, &tail, None)
            )));
        }
    };

    let proc = Arc::new(Proc {
        pid,
        stdin: Mutex::new(Some(stdin)),
        pending: Mutex::new(Some(HashMap::new())),
        dead: OnceLock::new(),
        stats: Mutex::new(EngineStats::default()),
        reader: Mutex::new(None),
    });
    let reader = {
        let proc = Arc::clone(&proc);
        std::thread::Builder::new()
            .name("litmus-llama-worker".into())
            .spawn(move || {
                // Why this side stopped reading, when the worker broke the protocol.
                let mut broke: Option<String> = None;
                for line in lines {
                    let line = match line {
                        Ok(line) => line,
                        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                            broke = Some("an answer that is not UTF-8".into());
                            break;
                        }
                        Err(_) => break,
                    };
                    let msg = match serde_json::from_str::<FromWorker>(&line) {
                        Ok(m) => m,
                        Err(e) => {
                            broke = Some(format!("an answer it could not read ({e})"));
                            break;
                        }
                    };
                    let id = match &msg {
                        FromWorker::Done { id, stats, .. } => {
                            *proc.stats.lock().unwrap_or_else(|e| e.into_inner()) = *stats;
                            *id
                        }
                        FromWorker::Text { id, .. } | FromWorker::Tokens { id, .. } => *id,
                        FromWorker::Ready(_) | FromWorker::Failed { .. } => continue,
                    };
                    let tx = proc
                        .pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_mut()
                        .and_then(|p| p.remove(&id));
                    if let Some(tx) = tx {
                        let _ = tx.send(msg);
                    }
                }
                // The process ended (or broke the protocol): say why, then fail
                // whatever is still waiting.
                if !matches!(child.try_wait(), Ok(Some(_))) {
                    let _ = child.kill();
                }
                let why = ended(pid, &mut child, log_thread, &tail, broke);
                let in_flight = proc
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .map_or(0, HashMap::len);
                let why = if in_flight > 0 {
                    format!("{why} ({in_flight} request(s) in flight failed)")
                } else {
                    why
                };
                let _ = proc.dead.set(why);
                proc.pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                proc.stdin.lock().unwrap_or_else(|e| e.into_inner()).take();
            })
            .map_err(|e| BackendError::Load(format!("starting a worker reader: {e}")))?
    };
    *proc.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(reader);
    Ok((proc, ready))
}

/// Waits for a worker's end and its log, and says how it ended: `stopped`
/// says why, when this side killed it.
fn ended(
    pid: u32,
    child: &mut Child,
    log_thread: JoinHandle<()>,
    tail: &Mutex<VecDeque<String>>,
    stopped: Option<String>,
) -> String {
    let status = child.wait().ok();
    let _ = log_thread.join();
    let end = match stopped {
        Some(why) => Some(End::Stopped(why)),
        None => status.map(End::Status),
    };
    describe_end(pid, end, &tail.lock().unwrap_or_else(|e| e.into_inner()))
}

/// How a worker ended.
enum End {
    /// By itself (or a signal from elsewhere).
    Status(ExitStatus),
    /// Stopped by this side, for the reason given.
    Stopped(String),
}

/// How a worker ended, with the last lines of its log.
fn describe_end(pid: u32, end: Option<End>, tail: &VecDeque<String>) -> String {
    let how = match end {
        None => "ended".to_string(),
        Some(End::Stopped(why)) => format!("was stopped by litmus after {why}"),
        Some(End::Status(s)) => match exit_signal(&s) {
            Some(sig) => format!("was killed by {}", signal_name(sig)),
            None => match s.code() {
                Some(0) => "exited".to_string(),
                Some(c) => format!("exited with code {c}"),
                None => "ended".to_string(),
            },
        },
    };
    let mut msg = format!("the llama.cpp engine worker (pid {pid}) {how}");
    let lines: Vec<String> = tail
        .iter()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(8)
        .map(|l| {
            let l = l.trim();
            match l.char_indices().nth(240) {
                Some((i, _)) => format!("{}…", &l[..i]),
                None => l.to_string(),
            }
        })
        .collect();
    if !lines.is_empty() {
        msg.push_str("; last lines of its log: ");
        msg.push_str(&lines.into_iter().rev().collect::<Vec<_>>().join(" | "));
    }
    msg
}

#[cfg(unix)]
fn exit_signal(s: &ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(s)
}

#[cfg(not(unix))]
fn exit_signal(_: &ExitStatus) -> Option<i32> {
    None
}

/// `SIGSEGV (segmentation fault)` and the like.
pub use litmus_core::base::util::signal_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_how_a_worker_ended() {
        let tail: VecDeque<String> = ["load_tensors: CPU model buffer size = 1 MiB", "", "boom"]
            .map(String::from)
            .into();
        let m = describe_end(7, None, &tail);
        assert!(
            m.starts_with("the llama.cpp engine worker (pid 7) ended"),
            "{m}"
        );
        assert!(
            m.ends_with("load_tensors: CPU model buffer size = 1 MiB | boom"),
            "{m}"
        );
        let m = describe_end(
            7,
            Some(End::Stopped("an answer it could not read".into())),
            &tail,
        );
        assert!(
            m.starts_with(
                "the llama.cpp engine worker (pid 7) was stopped by litmus after an answer it could not read; last lines"
            ),
            "{m}"
        );
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV (segmentation fault)");
        assert_eq!(signal_name(1234), "signal 1234");
    }

    #[test]
    fn fault_spec() {
        assert_eq!(parse_fault("segv-after-steps:12"), Some(12));
        assert_eq!(parse_fault("segv-after-steps:x"), None);
        assert_eq!(parse_fault("abort"), None);
    }
}
