//! llama.cpp's process-wide state: backend initialisation, logging, and the
//! facts a model load reports.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use litmus_core::base::backend::BackendError;
use llama_cpp_2::llama_backend::LlamaBackend as LlamaCppBackend;

static LLAMA: OnceLock<Result<LlamaCppBackend, String>> = OnceLock::new();

#[derive(Clone, Copy, PartialEq, Eq)]
enum LogMode {
    /// Dropped (errors are kept for error messages and sent to `tracing` at debug).
    Quiet,
    /// Everything to `tracing` (`LITMUS_LLAMA_LOG=tracing`).
    Tracing,
    /// Everything to stderr (`LITMUS_LLAMA_LOG=1`).
    Stderr,
}

static LOG_MODE: OnceLock<LogMode> = OnceLock::new();
static LAST_ERRORS: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
static LAST_LEVEL: AtomicI32 = AtomicI32::new(0);
/// Serialises model loads: the CPU layout selection ([`crate::cpu::select`])
/// and the buffer lines captured from the load log belong to one load.
pub(crate) static LOAD_LOCK: Mutex<()> = Mutex::new(());
/// `(buffer, MiB)` from the `... model buffer size = N MiB` lines of the load
/// in progress.
pub(crate) static LOAD_BUFFERS: Mutex<Vec<(String, f64)>> = Mutex::new(Vec::new());
/// Serialises context creations: the KV, compute and output buffer lines
/// captured from the log belong to one context.
pub(crate) static CONTEXT_LOCK: Mutex<()> = Mutex::new(());
/// The `... KV|compute|output buffer size = N MiB` lines of the context
/// being created.
pub(crate) static CONTEXT_BUFFERS: Mutex<Vec<BufferSize>> = Mutex::new(Vec::new());

/// One buffer llama.cpp reported allocating, from its load log
/// (`CPU KV buffer size = 12.00 MiB`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BufferSize {
    /// `model`, `KV`, `compute` or `output`.
    pub kind: String,
    /// The buffer type, e.g. `CPU`, `CPU_Mapped`, `CUDA0`, `CUDA_Host`.
    pub buffer: String,
    /// Size in MiB.
    pub mib: f64,
}

/// `sched_reserve:        CPU compute buffer size =   514.50 MiB` ->
/// `("compute", "CPU", 514.5)`; likewise `KV` and `output` lines (not
/// `model` lines: see [`parse_buffer_line`]).
fn parse_context_buffer_line(text: &str) -> Option<BufferSize> {
    let (head, size) = text.split_once(" buffer size =")?;
    let mut words = head
        .rsplit(|c: char| c.is_whitespace() || c == ':')
        .filter(|w| !w.is_empty());
    let kind = words.next()?;
    if !matches!(kind, "KV" | "compute" | "output") {
        return None;
    }
    let buffer = words.next()?;
    let mib = size
        .trim()
        .trim_end_matches("MiB")
        .trim()
        .parse::<f64>()
        .ok()?;
    Some(BufferSize {
        kind: kind.to_string(),
        buffer: buffer.to_string(),
        mib,
    })
}

/// Sees each llama.cpp log line (see [`set_log_observer`]).
pub(crate) type LogObserver = Box<dyn FnMut(&str) + Send>;

/// The observer of llama.cpp's log lines, if any: a caller that reads
/// progress from the log (quantization) installs one for the duration.
static LOG_OBSERVER: Mutex<Option<LogObserver>> = Mutex::new(None);

/// Installs (or, with `None`, removes) the log observer; returns the one
/// there was.
pub(crate) fn set_log_observer(observer: Option<LogObserver>) -> Option<LogObserver> {
    std::mem::replace(
        &mut *LOG_OBSERVER.lock().unwrap_or_else(|e| e.into_inner()),
        observer,
    )
}

/// Shows `text` to the log observer, if one is installed and not busy.
pub(crate) fn notify_log_observer(text: &str) {
    if let Ok(mut o) = LOG_OBSERVER.try_lock() {
        if let Some(f) = o.as_mut() {
            f(text);
        }
    }
}

/// `CPU_REPACK model buffer size =    12.66 MiB` -> `("CPU_REPACK", 12.66)`.
fn parse_buffer_line(text: &str) -> Option<(String, f64)> {
    let (head, size) = text.split_once(" model buffer size =")?;
    let name = head
        .rsplit(|c: char| c.is_whitespace() || c == ':')
        .find(|w| !w.is_empty())?;
    let mib = size
        .trim()
        .trim_end_matches("MiB")
        .trim()
        .parse::<f64>()
        .ok()?;
    Some((name.to_string(), mib))
}

unsafe extern "C" fn log_callback(
    level: llama_cpp_sys_2::ggml_log_level,
    text: *const c_char,
    _: *mut c_void,
) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string valid for this call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    notify_log_observer(&text);
    if let Some(buffer) = parse_buffer_line(&text) {
        if let Ok(mut b) = LOAD_BUFFERS.lock() {
            b.push(buffer);
        }
    } else if let Some(buffer) = parse_context_buffer_line(&text) {
        if let Ok(mut b) = CONTEXT_BUFFERS.lock() {
            b.push(buffer);
        }
    }
    let level = level as i32;
    let effective = if level == llama_cpp_sys_2::GGML_LOG_LEVEL_CONT as i32 {
        LAST_LEVEL.load(Ordering::Relaxed)
    } else {
        LAST_LEVEL.store(level, Ordering::Relaxed);
        level
    };
    if effective == llama_cpp_sys_2::GGML_LOG_LEVEL_ERROR as i32 {
        if let Ok(mut errors) = LAST_ERRORS.lock() {
            if level == llama_cpp_sys_2::GGML_LOG_LEVEL_CONT as i32 {
                if let Some(last) = errors.back_mut() {
                    last.push_str(&text);
                }
            } else {
                if errors.len() >= 8 {
                    errors.pop_front();
                }
                errors.push_back(text.to_string());
            }
        }
    }
    match LOG_MODE.get().copied().unwrap_or(LogMode::Quiet) {
        LogMode::Stderr => eprint!("{text}"),
        LogMode::Tracing => match effective {
            e if e == llama_cpp_sys_2::GGML_LOG_LEVEL_ERROR as i32 => {
                tracing::warn!(target: "llama.cpp", "{}", text.trim_end())
            }
            e if e == llama_cpp_sys_2::GGML_LOG_LEVEL_WARN as i32 => {
                tracing::info!(target: "llama.cpp", "{}", text.trim_end())
            }
            _ => tracing::debug!(target: "llama.cpp", "{}", text.trim_end()),
        },
        LogMode::Quiet => {
            if effective == llama_cpp_sys_2::GGML_LOG_LEVEL_ERROR as i32 {
                tracing::debug!(target: "llama.cpp", "{}", text.trim_end());
            }
        }
    }
}

/// Sends all of llama.cpp's log to stderr, whatever `LITMUS_LLAMA_LOG` says:
/// an engine worker's stderr goes to the process that started it, which
/// keeps the last lines for crash reports and shows them as that variable
/// asks. Call before [`llama`].
pub(crate) fn log_everything_to_stderr() {
    let _ = LOG_MODE.set(LogMode::Stderr);
}

/// `LITMUS_LLAMA_LOG`: unset or `0` quiet, `1` stderr, `tracing`.
fn log_mode_from_env() -> LogMode {
    match std::env::var("LITMUS_LLAMA_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "0" | "off" | "false" => LogMode::Quiet,
        "tracing" => LogMode::Tracing,
        _ => LogMode::Stderr,
    }
}

/// Shows a line of an engine worker's log as `LITMUS_LLAMA_LOG` asks.
pub(crate) fn forward_worker_log(line: &str) {
    static MODE: OnceLock<LogMode> = OnceLock::new();
    let mode = *MODE.get_or_init(log_mode_from_env);
    match mode {
        LogMode::Stderr => eprintln!("{line}"),
        LogMode::Tracing => tracing::debug!(target: "llama.cpp", "{line}"),
        LogMode::Quiet => {}
    }
}

pub(crate) fn take_llama_errors() -> String {
    let mut errors = LAST_ERRORS.lock().unwrap_or_else(|e| e.into_inner());
    let joined: Vec<String> = errors
        .drain(..)
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    joined.join("; ")
}

/// The process-wide llama.cpp backend (initialised once, with logging routed
/// as `LITMUS_LLAMA_LOG` says: unset or `0` quiet, `1` stderr, `tracing`).
pub fn llama() -> Result<&'static LlamaCppBackend, BackendError> {
    LLAMA
        .get_or_init(|| {
            // A worker process has set it already.
            let _ = LOG_MODE.set(log_mode_from_env());
            // SAFETY: the callback is a plain function valid for the life of the process.
            unsafe { llama_cpp_sys_2::llama_log_set(Some(log_callback), std::ptr::null_mut()) };
            LlamaCppBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| BackendError::Load(format!("llama.cpp backend: {e}")))
}

/// llama.cpp's description of the compute backends it was built with, e.g.
/// `CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | ...`.
pub fn system_info() -> String {
    if llama().is_err() {
        return String::new();
    }
    // SAFETY: returns a pointer to a static string owned by llama.cpp.
    let p = unsafe { llama_cpp_sys_2::llama_print_system_info() };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: NUL-terminated, valid until the next call (we copy it at once).
    unsafe { CStr::from_ptr(p) }
        .to_string_lossy()
        .trim()
        .to_string()
}

/// A warning when llama.cpp was compiled without SIMD the CPU has (the
/// `llama-cpp-sys-2` build only enables what `-C target-cpu` allows).
pub fn simd_warning() -> Option<String> {
    #[cfg(target_arch = "x86_64")]
    {
        let info = system_info();
        let has = |f: &str| info.contains(&format!("{f} = 1"));
        let cpu_avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        if cpu_avx2 && !has("AVX2") {
            return Some(
                "llama.cpp was compiled without AVX2/FMA although this CPU has them, so it runs several \
                 times slower than it could; build with RUSTFLAGS=\"-C target-cpu=native\" (see litmus-llama docs)"
                    .to_string(),
            );
        }
    }
    None
}

pub(crate) fn warn_once_about_simd() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Some(w) = simd_warning() {
            tracing::warn!("{w}");
            eprintln!("litmus: warning: {w}");
        }
    });
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_lines_of_the_load_log() {
        assert_eq!(
            parse_buffer_line("load_tensors:   CPU_REPACK model buffer size =    12.66 MiB\n"),
            Some(("CPU_REPACK".to_string(), 12.66))
        );
        assert_eq!(
            parse_buffer_line("load_tensors:          AMX model buffer size = 15622.13 MiB"),
            Some(("AMX".to_string(), 15622.13))
        );
        assert_eq!(parse_buffer_line("llama_context: n_ctx = 4096"), None);
        let b = |kind: &str, buffer: &str, mib| {
            Some(BufferSize {
                kind: kind.into(),
                buffer: buffer.into(),
                mib,
            })
        };
        assert_eq!(
            parse_context_buffer_line(
                "sched_reserve:        CPU compute buffer size =   514.50 MiB\n"
            ),
            b("compute", "CPU", 514.5)
        );
        assert_eq!(
            parse_context_buffer_line("llama_kv_cache:      CUDA0 KV buffer size =    12.00 MiB"),
            b("KV", "CUDA0", 12.0)
        );
        assert_eq!(
            parse_context_buffer_line(
                "llama_context:        CPU  output buffer size =     1.00 MiB"
            ),
            b("output", "CPU", 1.0)
        );
        assert_eq!(
            parse_context_buffer_line(
                "load_tensors:   CPU_Mapped model buffer size =   235.16 MiB"
            ),
            None
        );
        assert_eq!(
            parse_context_buffer_line(
                "~llama_context:        CPU compute buffer size is 514.5020 MiB"
            ),
            None
        );
    }
}
