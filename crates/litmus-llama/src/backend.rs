//! [`LlamaBackend`]: the in-process llama.cpp backend.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use litmus_core::base::backend::{
    Backend, BackendError, BusyTime, Generation, GenerationRequest, ModelIdentity, ModelInfo,
    Prompt, SamplingParams,
};
use litmus_core::base::model::ModelSpec;
use llama_cpp_2::token::LlamaToken;

use crate::engine::EngineStats;
use crate::gguf::{GgufFile, GgufInfo};
use crate::local::{blocking, ChatFormat, Local};
use crate::models::{self, resolve_model_path};
use crate::runtime::BufferSize;
use crate::settings::{Isolation, LlamaSettings};
use crate::worker::Worker;

/// A GGUF model served by llama.cpp with continuous batching, in an engine
/// worker process (see [`crate::worker`]) or on a thread of this process
/// (option `isolation`).
///
/// Cheap to share ([`open`] returns it in an `Arc`); every
/// [`Backend::generate`] call hands its prompt to the engine and blocks until
/// its samples are done.
pub struct LlamaBackend {
    info: ModelInfo,
    settings: LlamaSettings,
    chat_format: ChatFormat,
    has_template: bool,
    weight_buffers: Vec<(String, f64)>,
    context_buffers: Vec<BufferSize>,
    served: Served,
}

enum Served {
    Thread(Local),
    Process(Worker),
}

impl std::fmt::Debug for LlamaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaBackend")
            .field("info", &self.info)
            .field("settings", &self.settings)
            .finish()
    }
}

/// Open a model for the llama.cpp backend.
pub fn open(spec: &ModelSpec) -> Result<Arc<dyn Backend>, BackendError> {
    Ok(Arc::new(LlamaBackend::open(spec)?))
}

impl LlamaBackend {
    /// Resolve the spec's source (fetching the built-in model if needed),
    /// validate the file, load it and start the engine (in a worker process or
    /// on a thread, as `isolation` says).
    pub fn open(spec: &ModelSpec) -> Result<Self, BackendError> {
        let (info, settings) = Self::prepare(spec)?;
        Self::start(info, settings)
    }

    /// What [`Backend::model`] and [`Backend::cache_salt`] will say of the
    /// model `spec` opens, found from its GGUF's header without loading it:
    /// the key to its answers in the response cache.
    pub fn identity(spec: &ModelSpec) -> Result<ModelIdentity, BackendError> {
        let (info, settings) = Self::prepare(spec)?;
        Ok(ModelIdentity {
            info,
            salt: settings.cache_salt(),
        })
    }

    /// The spec's model file resolved and read (header and digest), its
    /// settings resolved: everything before the load.
    fn prepare(spec: &ModelSpec) -> Result<(ModelInfo, LlamaSettings), BackendError> {
        let source = model_source(spec);
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
            sequences: Some(settings.parallel),
            ..ModelInfo::default()
        };
        Ok((model_info, settings))
    }

    fn start(mut info: ModelInfo, mut settings: LlamaSettings) -> Result<Self, BackendError> {
        let t0 = Instant::now();
        let (served, chat_format, has_template, weight_buffers, context_buffers) =
            match settings.isolation {
                Isolation::Thread => {
                    let local = Local::start(settings.clone())?;
                    settings = local.settings.clone();
                    let facts = (
                        local.chat_format.clone(),
                        local.has_chat_template(),
                        local.weight_buffers.clone(),
                        local.context_buffers.clone(),
                    );
                    (Served::Thread(local), facts.0, facts.1, facts.2, facts.3)
                }
                Isolation::Process => {
                    let worker = Worker::start(settings.clone())?;
                    let r = worker.ready.clone();
                    settings.requests = None;
                    if r.seq_cells > 0 && r.seq_cells < settings.seq_cells {
                        settings.set_streams(settings.parallel, r.seq_cells);
                    }
                    (
                        Served::Process(worker),
                        r.chat_format,
                        r.has_template,
                        r.weight_buffers,
                        r.context_buffers,
                    )
                }
            };
        info.load_ms = Some(t0.elapsed().as_secs_f64() * 1000.0);
        Ok(LlamaBackend {
            info,
            settings,
            chat_format,
            has_template,
            weight_buffers,
            context_buffers,
            served,
        })
    }

    /// What the engine has done so far (steps, tokens, time in `llama_decode`
    /// and in sampling), for benchmarks and diagnostics; with worker
    /// processes, the sum over every worker of this model.
    pub fn engine_stats(&self) -> EngineStats {
        match &self.served {
            Served::Thread(l) => l.engine_stats(),
            Served::Process(w) => w.engine_stats(),
        }
    }

    /// Where llama.cpp put the weights: `(buffer type, MiB)` as its load log
    /// reports them, e.g. `[("CPU_Mapped", 235.2)]`; an `AMX` entry only
    /// with option `amx`.
    pub fn weight_buffers(&self) -> &[(String, f64)] {
        &self.weight_buffers
    }

    /// Every buffer llama.cpp reported allocating for this model: the
    /// weights (`model`, from [`LlamaBackend::weight_buffers`]) and the
    /// context's `KV`, `compute` and `output` buffers, as its load log
    /// states them. What [`crate::devices::memory_params`] estimates is checked
    /// against these (`tests/memory.rs`).
    pub fn buffers(&self) -> Vec<BufferSize> {
        self.weight_buffers
            .iter()
            .map(|(buffer, mib)| BufferSize {
                kind: "model".into(),
                buffer: buffer.clone(),
                mib: *mib,
            })
            .chain(self.context_buffers.iter().cloned())
            .collect()
    }

    /// The settings in force.
    pub fn settings(&self) -> &LlamaSettings {
        &self.settings
    }

    /// Whether chat prompts are rendered with a chat template (the model's
    /// own or a built-in one matching its vocabulary).
    pub fn has_chat_template(&self) -> bool {
        self.has_template
    }

    /// How chat prompts are rendered.
    pub fn chat_format(&self) -> &ChatFormat {
        &self.chat_format
    }

    /// The text the model sees for a prompt.
    pub fn render(&self, prompt: &Prompt) -> Result<String, BackendError> {
        match &self.served {
            Served::Thread(l) => Ok(l.render(prompt)),
            Served::Process(w) => w.render(prompt),
        }
    }

    /// The prompt's tokens, as [`Backend::generate`] sees them.
    pub fn tokenize_prompt(&self, prompt: &Prompt) -> Result<Vec<i32>, BackendError> {
        match &self.served {
            Served::Thread(l) => Ok(l.tokenize_prompt(prompt)),
            Served::Process(w) => w.tokenize(prompt),
        }
    }

    /// Generate from an already tokenized prompt (benchmarks use this to get
    /// prompts of an exact length).
    pub fn generate_tokens(
        &self,
        tokens: &[i32],
        params: &SamplingParams,
        samples: &[u32],
    ) -> Result<Vec<Generation>, BackendError> {
        match &self.served {
            Served::Thread(l) => blocking(|reply| {
                l.submit(
                    tokens.iter().map(|&t| LlamaToken(t)).collect(),
                    params.clone(),
                    samples.to_vec(),
                    Instant::now(),
                    reply,
                )
            }),
            Served::Process(w) => w.generate_tokens(tokens, params, samples),
        }
    }

    /// The engine worker's process id (`None` when the engine runs on a
    /// thread of this process).
    pub fn worker_pid(&self) -> Option<u32> {
        match &self.served {
            Served::Thread(_) => None,
            Served::Process(w) => Some(w.pid()),
        }
    }

    /// Engine workers started for this model so far, the first one included
    /// (more than one after crashes); 0 when the engine runs on a thread.
    pub fn workers_started(&self) -> u32 {
        match &self.served {
            Served::Thread(_) => 0,
            Served::Process(w) => w.started(),
        }
    }

    /// Peak resident memory of the process that holds the model (the
    /// worker's, or this process's), in bytes.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        match self.worker_pid() {
            Some(pid) => litmus_core::base::util::proc_status_kib(pid, "VmHWM:"),
            None => litmus_core::base::util::peak_rss_bytes(),
        }
    }
}

impl Backend for LlamaBackend {
    fn model(&self) -> &ModelInfo {
        &self.info
    }

    fn generate(&self, request: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        match &self.served {
            Served::Thread(l) => blocking(|reply| l.generate(request, Instant::now(), reply)),
            Served::Process(w) => w.generate(request),
        }
    }

    fn parallelism(&self) -> usize {
        self.settings.parallel as usize
    }

    fn cache_salt(&self) -> String {
        self.settings.cache_salt()
    }

    fn resident_bytes(&self) -> Option<u64> {
        match self.worker_pid() {
            Some(pid) => litmus_core::base::util::proc_status_kib(pid, "VmRSS:"),
            None => litmus_core::base::util::current_rss_bytes(),
        }
    }

    fn busy_time(&self) -> Option<BusyTime> {
        let s = self.engine_stats();
        Some(BusyTime {
            prompt_secs: s.prompt_secs,
            generation_secs: (s.busy_secs - s.prompt_secs).max(0.0),
        })
    }
}

/// The model source a llama spec names: its own, else the default model's.
pub(crate) fn model_source(spec: &ModelSpec) -> &str {
    if spec.source.is_empty() {
        models::DEFAULT_SOURCE
    } else {
        &spec.source
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
