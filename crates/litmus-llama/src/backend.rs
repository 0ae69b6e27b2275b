//! [`LlamaBackend`]: the in-process llama.cpp backend.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CStr};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use litmus_core::backend::{
    Backend, BackendError, Generation, GenerationRequest, Message, ModelInfo, Prompt, Role,
};
use litmus_core::model::ModelSpec;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend as LlamaCppBackend;
use llama_cpp_2::model::params::{LlamaModelParams, LlamaSplitMode};
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use crate::engine::{Engine, EngineRequest, EngineSettings, EngineStats, Msg};
use crate::gguf::{GgufFile, GgufInfo};
use crate::models::{self, resolve_model_path};
use crate::sys;

/// Settings of one opened model, after defaults are applied.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaSettings {
    /// The GGUF file.
    pub model_path: PathBuf,
    /// CPU threads for generation and for prompt processing.
    pub threads: u32,
    /// Most sequences decoded together (`ModelSpec.parallel`).
    pub parallel: u32,
    /// Most tokens (prompt + generated) of one sequence (`ModelSpec.context`).
    pub seq_context: u32,
    /// Total KV cache in tokens shared by all sequences (option `kv_size`).
    pub kv_size: u32,
    /// Most tokens per `llama_decode` (option `n_batch`).
    pub n_batch: u32,
    /// Physical batch size (option `n_ubatch`).
    pub n_ubatch: u32,
    /// Layers offloaded to the GPU (`ModelSpec.gpu_layers`; feature `cuda`).
    pub gpu_layers: Option<u32>,
    /// The one GPU to use (`ModelSpec.device`; feature `cuda`).
    pub device: Option<u32>,
    /// Keep generating through end-of-generation tokens (option `ignore_eos`, for benchmarks).
    pub ignore_eos: bool,
    /// One KV cache shared by all sequences (option `kv_unified`). By default
    /// each sequence gets its own KV stream when `parallel` full-length
    /// sequences fit the memory budget: a token then attends only to its own
    /// sequence's cells, where in a unified cache it is computed against every
    /// sequence's (masked) cells, about 14% of the throughput of a 32-sequence
    /// run of short cases on this machine. Otherwise (or with an explicit
    /// `kv_size`, or on a GPU) one cache is shared.
    pub kv_unified: bool,
    /// Flash attention: `None` lets llama.cpp decide (option `flash_attn` = on/off/auto).
    pub flash_attn: Option<bool>,
    /// Decode greedy requests once for all their samples (option `dedupe_greedy`, default on).
    pub dedupe_greedy: bool,
    /// Decode each sequence in its own `llama_decode` (option `batch_invariant`,
    /// default off), so that a sample's text does not depend on what else is in
    /// flight, at the cost of batching throughput. Implies separate KV streams.
    pub batch_invariant: bool,
    /// Chat rendering (option `chat_template`): `auto` (the model's template, else
    /// a plain transcript), `transcript`, or a llama.cpp built-in template name.
    pub chat_template: String,
}

/// Options understood in `ModelSpec.options`.
pub const OPTION_KEYS: &[&str] = &[
    "ignore_eos",
    "kv_size",
    "n_batch",
    "n_ubatch",
    "kv_unified",
    "flash_attn",
    "dedupe_greedy",
    "chat_template",
    "batch_invariant",
];

fn parse_bool(key: &str, v: &str) -> Result<bool, BackendError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(BackendError::Load(format!(
            "option {key}={v}: expected true or false"
        ))),
    }
}

fn parse_u32(key: &str, v: &str) -> Result<u32, BackendError> {
    v.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| BackendError::Load(format!("option {key}={v}: expected a positive integer")))
}

impl LlamaSettings {
    /// Apply defaults to a spec for the model described by `gguf`.
    pub fn resolve(
        spec: &ModelSpec,
        model_path: PathBuf,
        gguf: &GgufInfo,
    ) -> Result<Self, BackendError> {
        let gpu = cfg!(feature = "cuda") && spec.gpu_layers != Some(0);
        let threads = spec
            .threads
            .filter(|t| *t > 0)
            .unwrap_or(sys::physical_cores() as u32);
        let parallel = spec
            .parallel
            .filter(|p| *p > 0)
            .unwrap_or(if gpu { 64 } else { 32 })
            .min(256);
        let train = gguf
            .context_length
            .map(|c| c.min(u64::from(u32::MAX)) as u32);
        let seq_context = spec
            .context
            .filter(|c| *c > 0)
            .unwrap_or_else(|| train.unwrap_or(4096).clamp(256, 4096));
        let mut s = LlamaSettings {
            model_path,
            threads,
            parallel,
            seq_context,
            kv_size: 0,
            n_batch: 512,
            n_ubatch: 512,
            gpu_layers: spec.gpu_layers,
            device: spec.device,
            ignore_eos: false,
            kv_unified: false,
            flash_attn: None,
            dedupe_greedy: true,
            chat_template: "auto".to_string(),
            batch_invariant: false,
        };
        let mut kv_size = None;
        let mut kv_unified = None;
        for (key, value) in &spec.options {
            match key.as_str() {
                "ignore_eos" => s.ignore_eos = parse_bool(key, value)?,
                "kv_size" => kv_size = Some(parse_u32(key, value)?),
                "n_batch" => s.n_batch = parse_u32(key, value)?,
                "n_ubatch" => s.n_ubatch = parse_u32(key, value)?,
                "kv_unified" => kv_unified = Some(parse_bool(key, value)?),
                "dedupe_greedy" => s.dedupe_greedy = parse_bool(key, value)?,
                "chat_template" => s.chat_template = value.clone(),
                "batch_invariant" => s.batch_invariant = parse_bool(key, value)?,
                "flash_attn" => {
                    s.flash_attn = match value.to_ascii_lowercase().as_str() {
                        "auto" => None,
                        v => Some(parse_bool(key, v)?),
                    }
                }
                other => {
                    return Err(BackendError::Load(format!(
                        "unknown llama option `{other}` (known: {})",
                        OPTION_KEYS.join(", ")
                    )))
                }
            }
        }
        s.n_ubatch = s.n_ubatch.min(s.n_batch);
        s.n_batch = s.n_batch.max(s.parallel);
        // By default every sequence can use its full budget at once, unless that
        // KV cache would take more than a quarter of the memory (at least 1 GiB).
        let full = u64::from(parallel) * u64::from(seq_context);
        let fitting = match (gguf.kv_bytes_per_token, sys::total_memory_bytes()) {
            (Some(per_token), Some(mem)) if per_token > 0 && !gpu => {
                let budget = (mem / 4).max(1 << 30);
                Some(budget / per_token)
            }
            _ => None,
        };
        let default_kv = fitting.map_or(full, |f| full.min(f));
        s.kv_unified = kv_unified.unwrap_or(kv_size.is_some() || fitting.is_none_or(|f| full > f));
        let kv = u64::from(kv_size.unwrap_or(default_kv.min(u64::from(u32::MAX / 2)) as u32));
        s.kv_size = kv
            .max(u64::from(seq_context))
            .next_multiple_of(256)
            .min(u64::from(u32::MAX / 2)) as u32;
        if s.batch_invariant {
            s.kv_unified = false;
        }
        if !s.kv_unified {
            // Separate streams: each sequence owns kv_size / parallel cells.
            s.kv_size = (s.seq_context.next_multiple_of(256)) * s.parallel;
        }
        Ok(s)
    }

    /// The part of the settings that can change responses (beyond the weights).
    pub fn cache_salt(&self) -> String {
        format!(
            "llama;seq_context={};ignore_eos={};chat_template={};batch_invariant={};transcript=qa",
            self.seq_context, self.ignore_eos, self.chat_template, self.batch_invariant
        )
    }
}

// ---------------------------------------------------------------------------
// llama.cpp process-wide state: backend initialisation and logging.

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
    if text.starts_with('[') {
        crate::quantize::observe_log(&text);
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
            let mode = match std::env::var("LITMUS_LLAMA_LOG")
                .unwrap_or_default()
                .to_ascii_lowercase()
                .as_str()
            {
                "" | "0" | "off" | "false" => LogMode::Quiet,
                "tracing" => LogMode::Tracing,
                _ => LogMode::Stderr,
            };
            let _ = LOG_MODE.set(mode);
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

fn warn_once_about_simd() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Some(w) = simd_warning() {
            tracing::warn!("{w}");
            eprintln!("litmus: warning: {w}");
        }
    });
}

// ---------------------------------------------------------------------------

/// A model served in-process by llama.cpp with continuous batching.
///
/// Cheap to share ([`open`] returns it in an `Arc`); every
/// [`Backend::generate`] call tokenizes its prompt on the calling thread,
/// hands it to the engine thread and blocks until its samples are done.
pub struct LlamaBackend {
    info: ModelInfo,
    settings: LlamaSettings,
    model: Arc<LlamaModel>,
    template: Option<LlamaChatTemplate>,
    chat_format: ChatFormat,
    tx: Sender<Msg>,
    engine: Mutex<Option<JoinHandle<()>>>,
    bos: Option<LlamaToken>,
    stats: Arc<Mutex<EngineStats>>,
}

impl std::fmt::Debug for LlamaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaBackend")
            .field("info", &self.info)
            .field("settings", &self.settings)
            .finish()
    }
}

/// Open a model for the in-process llama.cpp backend.
pub fn open(spec: &ModelSpec) -> Result<Arc<dyn Backend>, BackendError> {
    Ok(Arc::new(LlamaBackend::open(spec)?))
}

impl LlamaBackend {
    /// Resolve the spec's source (fetching the built-in model if needed),
    /// validate the file, load it and start the engine thread.
    pub fn open(spec: &ModelSpec) -> Result<Self, BackendError> {
        let source = if spec.source.is_empty() {
            models::DEFAULT_SOURCE
        } else {
            spec.source.as_str()
        };
        let path = resolve_model_path(source)?;
        let gguf = GgufFile::open(&path).map_err(|e| BackendError::Load(e.to_string()))?;
        let info = gguf.info();
        let settings = LlamaSettings::resolve(spec, path.clone(), &info)?;
        let digest = match source
            .strip_prefix("builtin:")
            .and_then(models::builtin_model)
        {
            Some(m) => m.sha256.to_string(),
            None => models::file_digest(&path)
                .map_err(|e| BackendError::Load(format!("reading {}: {e}", path.display())))?,
        };
        let name = if spec.name.is_empty() {
            source
                .strip_prefix("builtin:")
                .map(str::to_string)
                .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_default()
        } else {
            spec.name.clone()
        };
        let model_info = ModelInfo {
            name,
            backend: "llama".to_string(),
            quantization: spec
                .quantization
                .clone()
                .or_else(|| info.quantization.clone()),
            architecture: info.architecture.clone(),
            parameters: info.parameters,
            size_bytes: Some(info.size_bytes),
            digest,
            load_ms: None,
            context_length: Some(settings.seq_context),
            ..ModelInfo::default()
        };
        Self::start(model_info, settings)
    }

    fn start(mut info: ModelInfo, settings: LlamaSettings) -> Result<Self, BackendError> {
        let backend = llama()?;
        warn_once_about_simd();
        let t0 = Instant::now();
        let mut params = LlamaModelParams::default();
        if let Some(layers) = settings.gpu_layers {
            params = params.with_n_gpu_layers(layers);
        }
        if let Some(device) = settings.device {
            params = params
                .with_split_mode(LlamaSplitMode::None)
                .with_main_gpu(device as i32);
        }
        take_llama_errors();
        let model =
            LlamaModel::load_from_file(backend, &settings.model_path, &params).map_err(|e| {
                let detail = take_llama_errors();
                BackendError::Load(format!(
                    "{}: {e}{}{detail}",
                    settings.model_path.display(),
                    if detail.is_empty() { "" } else { ": " }
                ))
            })?;
        let model = Arc::new(model);
        let (template, chat_format) = chat_template(&model, &settings.chat_template)?;
        let bos = {
            let vocab = model.vocab();
            vocab.should_add_bos().then(|| vocab.bos())
        };

        let (tx, rx) = mpsc::channel::<Msg>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let engine_model = Arc::clone(&model);
        let stats = Arc::new(Mutex::new(EngineStats::default()));
        let engine_stats = Arc::clone(&stats);
        let s = settings.clone();
        let handle = std::thread::Builder::new()
            .name("litmus-llama-engine".into())
            .spawn(move || {
                let model: &LlamaModel = &engine_model;
                let mut cp = LlamaContextParams::default()
                    .with_n_ctx(NonZeroU32::new(s.kv_size))
                    .with_n_batch(s.n_batch)
                    .with_n_ubatch(s.n_ubatch)
                    .with_n_seq_max(s.parallel)
                    .with_n_threads(s.threads as i32)
                    .with_n_threads_batch(s.threads as i32)
                    .with_kv_unified(s.kv_unified)
                    .with_swa_full(false);
                if let Some(fa) = s.flash_attn {
                    cp = cp.with_flash_attention_policy(if fa {
                        llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED
                    } else {
                        llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
                    });
                }
                let backend = match llama() {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let ctx = match model.new_context(backend, cp) {
                    Ok(ctx) => ctx,
                    Err(e) => {
                        let detail = take_llama_errors();
                        let _ = ready_tx.send(Err(format!("creating the context: {e} {detail}")));
                        return;
                    }
                };
                let engine = Engine::new(
                    model,
                    ctx,
                    EngineSettings {
                        n_seq: s.parallel as usize,
                        seq_limit: s.seq_context,
                        kv_capacity: s.kv_size,
                        n_batch: s.n_batch as usize,
                        ignore_eos: s.ignore_eos,
                        dedupe_greedy: s.dedupe_greedy,
                        kv_unified: s.kv_unified,
                        batch_invariant: s.batch_invariant,
                    },
                    engine_stats,
                );
                let _ = ready_tx.send(Ok(()));
                engine.run(rx);
            })
            .map_err(|e| BackendError::Load(format!("starting the engine thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = handle.join();
                return Err(BackendError::Load(format!(
                    "{}: {e}",
                    settings.model_path.display()
                )));
            }
            Err(_) => {
                let _ = handle.join();
                return Err(BackendError::Load(format!(
                    "{}: engine thread died",
                    settings.model_path.display()
                )));
            }
        }
        info.load_ms = Some(t0.elapsed().as_secs_f64() * 1000.0);
        Ok(LlamaBackend {
            info,
            settings,
            model,
            template,
            chat_format,
            tx,
            engine: Mutex::new(Some(handle)),
            bos,
            stats,
        })
    }

    /// What the engine has done so far (steps, tokens, time in `llama_decode`
    /// and in sampling), for benchmarks and diagnostics.
    pub fn engine_stats(&self) -> EngineStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The settings in force.
    pub fn settings(&self) -> &LlamaSettings {
        &self.settings
    }

    /// Whether chat prompts are rendered with a chat template (the model's
    /// own or a built-in one matching its vocabulary).
    pub fn has_chat_template(&self) -> bool {
        self.template.is_some()
    }

    /// How chat prompts are rendered.
    pub fn chat_format(&self) -> &ChatFormat {
        &self.chat_format
    }

    /// The text the model sees for a prompt.
    pub fn render(&self, prompt: &Prompt) -> String {
        match prompt {
            Prompt::Completion(text) => text.clone(),
            Prompt::Chat(messages) => self
                .template
                .as_ref()
                .and_then(|t| apply_template(&self.model, t, messages).ok())
                .unwrap_or_else(|| fallback_chat(messages)),
        }
    }

    /// Tokenize a prompt as [`Backend::generate`] does.
    pub fn tokenize_prompt(&self, prompt: &Prompt) -> Vec<i32> {
        self.tokens_for(prompt).into_iter().map(|t| t.0).collect()
    }

    fn tokens_for(&self, prompt: &Prompt) -> Vec<LlamaToken> {
        let text = self.render(prompt);
        let parse_special = matches!(prompt, Prompt::Chat(_));
        let mut tokens = self
            .model
            .vocab()
            .tokenize(text.as_bytes(), true, parse_special);
        // A template that writes the BOS text itself, plus the added BOS: keep one.
        if let Some(bos) = self.bos {
            if tokens.len() >= 2 && tokens[0] == bos && tokens[1] == bos {
                tokens.remove(0);
            }
        }
        tokens
    }

    /// Generate from an already tokenized prompt (benchmarks use this to get
    /// prompts of an exact length).
    pub fn generate_tokens(
        &self,
        tokens: &[i32],
        params: &litmus_core::backend::SamplingParams,
        samples: &[u32],
    ) -> Result<Vec<Generation>, BackendError> {
        self.submit(
            tokens.iter().map(|&t| LlamaToken(t)).collect(),
            params.clone(),
            samples.to_vec(),
            Instant::now(),
        )
    }

    fn submit(
        &self,
        tokens: Vec<LlamaToken>,
        params: litmus_core::backend::SamplingParams,
        samples: Vec<u32>,
        enqueued: Instant,
    ) -> Result<Vec<Generation>, BackendError> {
        if tokens.is_empty() {
            return Err(BackendError::Backend("the prompt is empty".into()));
        }
        let n_vocab = self.model.n_vocab();
        if let Some(bad) = tokens.iter().find(|t| t.0 < 0 || t.0 >= n_vocab) {
            return Err(BackendError::Backend(format!(
                "token {} outside the vocabulary",
                bad.0
            )));
        }
        if tokens.len() as u64 >= u64::from(self.settings.seq_context) {
            return Err(BackendError::PromptTooLong(format!(
                "{} prompt tokens do not fit the context of {} tokens per sequence",
                tokens.len(),
                self.settings.seq_context
            )));
        }
        let (reply, rx) = mpsc::channel();
        self.tx
            .send(Msg::Request(EngineRequest {
                tokens,
                params,
                samples,
                enqueued,
                reply,
            }))
            .map_err(|_| BackendError::Backend("the llama engine has stopped".into()))?;
        rx.recv().map_err(|_| {
            BackendError::Backend("the llama engine stopped during generation".into())
        })?
    }
}

/// How chat prompts are rendered for a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatFormat {
    /// The model's own template (`tokenizer.chat_template`), applied by llama.cpp.
    Model,
    /// A llama.cpp built-in template chosen with the `chat_template` option.
    Builtin(String),
    /// A plain `Question: ...` / `Answer:` transcript (models without a
    /// template, typically base models); generation also stops where the
    /// model starts a new turn.
    Transcript,
}

impl std::fmt::Display for ChatFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatFormat::Model => f.write_str("model template"),
            ChatFormat::Builtin(name) => write!(f, "built-in template {name}"),
            ChatFormat::Transcript => f.write_str("plain transcript"),
        }
    }
}

/// Pick the chat template. `choice` is the `chat_template` option: `auto`
/// (default: the model's own template if llama.cpp can apply it, else a plain
/// transcript, which suits base models that have no template), `transcript`,
/// or the name of a llama.cpp built-in template (`gemma`, `chatml`, `llama3`, ...).
fn chat_template(
    model: &LlamaModel,
    choice: &str,
) -> Result<(Option<LlamaChatTemplate>, ChatFormat), BackendError> {
    let probe = [Message::system("s"), Message::user("u")];
    match choice {
        "auto" | "" => {
            if let Ok(template) = model.chat_template(None) {
                match apply_template(model, &template, &probe) {
                    Ok(_) => return Ok((Some(template), ChatFormat::Model)),
                    Err(e) => tracing::warn!(
                        "the model's chat template is not supported by llama.cpp ({e}); using a plain transcript"
                    ),
                }
            }
            Ok((None, ChatFormat::Transcript))
        }
        "transcript" => Ok((None, ChatFormat::Transcript)),
        name => {
            let template = LlamaChatTemplate::new(name)
                .map_err(|e| BackendError::Load(format!("option chat_template={name}: {e}")))?;
            apply_template(model, &template, &probe).map_err(|e| {
                BackendError::Load(format!(
                    "option chat_template={name}: llama.cpp cannot apply it ({e})"
                ))
            })?;
            Ok((Some(template), ChatFormat::Builtin(name.to_string())))
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

fn apply_template(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    messages: &[Message],
) -> Result<String, String> {
    let chat = messages
        .iter()
        .map(|m| LlamaChatMessage::new(role_name(m.role).to_string(), m.content.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    model
        .apply_chat_template(template, &chat, true)
        .map_err(|e| e.to_string())
}

/// Where generation stops for chat prompts rendered as a transcript.
pub const TRANSCRIPT_STOPS: [&str; 2] = ["\nQuestion:", "\nAnswer:"];

/// A plain transcript for models without a (usable) chat template: system
/// text first, then `Question: ...` / `Answer: ...` turns, ending with
/// `Answer:`. Base models continue this reliably (measured on Gemma 3 270M
/// base: a `User:`/`Assistant:` transcript made it echo the question back on
/// coding and short-answer tasks, `Question:`/`Answer:` made it answer).
pub fn fallback_chat(messages: &[Message]) -> String {
    let mut out = String::new();
    for m in messages {
        match m.role {
            Role::System => {
                out.push_str(&m.content);
                out.push_str("\n\n");
            }
            Role::User => {
                out.push_str("Question: ");
                out.push_str(&m.content);
                out.push_str("\nAnswer:");
            }
            Role::Assistant => {
                out.push(' ');
                out.push_str(&m.content);
                out.push_str("\n\n");
            }
        }
    }
    if !matches!(messages.last().map(|m| m.role), Some(Role::User)) {
        out.push_str("Answer:");
    }
    out
}

impl Backend for LlamaBackend {
    fn model(&self) -> &ModelInfo {
        &self.info
    }

    fn generate(&self, request: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        let enqueued = Instant::now();
        let tokens = self.tokens_for(&request.prompt);
        let mut params = request.params.clone();
        if matches!(request.prompt, Prompt::Chat(_)) && self.chat_format == ChatFormat::Transcript {
            // The transcript has no end-of-turn token: stop where the model
            // starts the next turn.
            params.stop.extend(TRANSCRIPT_STOPS.map(String::from));
        }
        self.submit(tokens, params, request.samples.clone(), enqueued)
    }

    fn parallelism(&self) -> usize {
        self.settings.parallel as usize
    }

    fn cache_salt(&self) -> String {
        self.settings.cache_salt()
    }
}

impl Drop for LlamaBackend {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(handle) = self.engine.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

/// Where a model given by path would be described: a convenience for listings.
pub fn describe_source(source: &str) -> Result<GgufInfo, BackendError> {
    let path: PathBuf = match source.strip_prefix("builtin:") {
        Some(name) => {
            let m = models::builtin_model(name)
                .ok_or_else(|| BackendError::Load(format!("unknown built-in model `{source}`")))?;
            models::cache_dir().join(m.file_name)
        }
        None => Path::new(source).to_path_buf(),
    };
    crate::gguf::describe_gguf(&path).map_err(|e| BackendError::Load(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kv_bytes_per_token: Option<u64>) -> GgufInfo {
        GgufInfo {
            path: PathBuf::from("m.gguf"),
            size_bytes: 1,
            version: 3,
            architecture: None,
            name: None,
            parameters: None,
            file_type: None,
            quantization: None,
            tensor_count: 0,
            metadata_count: 0,
            context_length: Some(2048),
            block_count: None,
            embedding_length: None,
            vocab_size: None,
            has_chat_template: false,
            kv_bytes_per_token,
        }
    }

    fn resolve(options: &[(&str, &str)], per_token: Option<u64>) -> LlamaSettings {
        let spec = ModelSpec {
            parallel: Some(8),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        LlamaSettings::resolve(&spec, PathBuf::from("m.gguf"), &info(per_token)).unwrap()
    }

    #[test]
    fn kv_streams_per_sequence_when_they_fit() {
        if cfg!(feature = "cuda") || sys::total_memory_bytes().is_none() {
            return;
        }
        // 8 x 2048 tokens of 1 KiB: separate streams, each a full sequence.
        let s = resolve(&[], Some(1024));
        assert!(!s.kv_unified);
        assert_eq!(s.kv_size, 8 * 2048);
        // Far beyond a quarter of any memory: one shared, budgeted cache.
        let s = resolve(&[], Some(1 << 40));
        assert!(s.kv_unified);
        assert!(s.kv_size < 8 * 2048);
        // No size estimate, an explicit total size, or an explicit choice.
        assert!(resolve(&[], None).kv_unified);
        assert!(resolve(&[("kv_size", "4096")], Some(1024)).kv_unified);
        assert!(resolve(&[("kv_unified", "true")], Some(1024)).kv_unified);
        assert!(!resolve(&[("kv_unified", "false")], None).kv_unified);
    }
}
