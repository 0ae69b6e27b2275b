//! [`Local`]: a model loaded in this process and the engine thread that
//! serves it; chat rendering.

use std::num::NonZeroU32;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use litmus_core::base::backend::{
    BackendError, GenerationRequest, Message, Prompt, Role, SamplingParams,
};
use litmus_core::base::model::KnownRequests;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::model::params::{LlamaModelParams, LlamaSplitMode};
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, EngineRequest, EngineSettings, EngineStats, Msg, Replier, Reply};
use crate::models;
use crate::runtime::{
    llama, take_llama_errors, warn_once_about_simd, BufferSize, CONTEXT_BUFFERS, CONTEXT_LOCK,
    LOAD_BUFFERS, LOAD_LOCK,
};
use crate::settings::LlamaSettings;

/// A model loaded in this process, served by an engine thread.
pub(crate) struct Local {
    pub settings: LlamaSettings,
    model: Arc<LlamaModel>,
    template: Option<LlamaChatTemplate>,
    pub chat_format: ChatFormat,
    /// The engine, with KV streams of `settings.stream_limit()` cells.
    main: EngineThread,
    /// An engine with full-length streams (`seq_context`) for the requests
    /// that do not fit the main one's, started on the first such request
    /// (only where the main engine's streams were sized to the workload); a
    /// failed start is kept, and fails the later long requests alike.
    overflow: Mutex<Option<Result<EngineThread, String>>>,
    stats: EngineStatsHandle,
    bos: Option<LlamaToken>,
    /// Where llama.cpp put the weights (buffer type, MiB).
    pub weight_buffers: Vec<(String, f64)>,
    /// The KV, compute and output buffers of the main engine's context.
    pub context_buffers: Vec<BufferSize>,
    /// Time to load the model and start the engine, ms.
    pub load_ms: f64,
}

/// The fewest rows of a generation step (see the engine's `step`): two,
/// from where llama.cpp's CPU matrix kernels take every row count the same
/// way (llamafile's GEMM for Q8_0 weights from two rows; K-quants through the
/// tiled kernel at every row count, or one dot product per row with the
/// kernel off); eight when the tiled kernel is on but llama.cpp takes it
/// only from 8 rows (see [`LlamaSettings::tiled_every_row`]); never more than
/// the slots; one (no padding) for a single slot, a shared KV cache or a GPU,
/// where answers are not batch-invariant anyway.
fn pad_rows(s: &LlamaSettings) -> usize {
    if !s.pads_steps() {
        return 1;
    }
    (if !s.tiled_mm || s.tiled_every_row {
        2
    } else {
        8
    })
    .min(s.parallel as usize)
}

/// Sequences of the engine for requests longer than the main engine's
/// streams (see [`Local`]): two, so that its steps are padded as any batch's.
const OVERFLOW_PARALLEL: u32 = 2;

/// Makes this process's llama.cpp take the tiled K-quant kernel or not (and
/// at every row count or not), as the settings say, before its first matrix
/// product (llama.cpp reads the variables once). A worker gets them from its
/// parent's `spawn` (see [`tiled_mm_env`]); the engine on a thread of the
/// harness sets them here, where nothing has set them yet.
fn apply_tiled_mm(s: &LlamaSettings) {
    for (key, value) in tiled_mm_env(s) {
        if std::env::var_os(key).is_none() {
            // Before the first model of this process is loaded, while no
            // thread of ours reads the environment.
            std::env::set_var(key, value);
        }
    }
}

/// The environment that gives llama.cpp the settings' tiled-kernel choice.
pub(crate) fn tiled_mm_env(s: &LlamaSettings) -> [(&'static str, &'static str); 2] {
    [
        ("GGML_CPU_TILED_MM", if s.tiled_mm { "1" } else { "0" }),
        (
            "GGML_CPU_TILED_MM_FORCE",
            if s.tiled_every_row { "1" } else { "0" },
        ),
    ]
}

/// The llama.cpp devices (registry indices) a split over GPUs by share
/// uses: the GPUs with a share above zero. llama.cpp then divides the layers
/// among them by their free memory, which is what the planner's shares are;
/// other proportions are not passed on (the binding has no `tensor_split`).
fn split_devices(shares: &[f64], gpus: &[usize]) -> Result<Vec<usize>, String> {
    if let Some(bad) = shares.iter().find(|s| !s.is_finite() || **s < 0.0) {
        return Err(format!(
            "split {shares:?}: share {bad} is not a number >= 0"
        ));
    }
    if shares.len() > gpus.len() {
        return Err(format!(
            "split {shares:?} names {} GPUs; llama.cpp sees {}",
            shares.len(),
            gpus.len()
        ));
    }
    let chosen: Vec<usize> = shares
        .iter()
        .zip(gpus)
        .filter(|(s, _)| **s > 0.0)
        .map(|(_, &g)| g)
        .collect();
    if chosen.is_empty() {
        return Err(format!("split {shares:?} gives no GPU a share"));
    }
    Ok(chosen)
}

impl Local {
    /// Loads the model (under the load lock, with the CPU layouts the
    /// settings allow) and starts the engine thread.
    pub fn start(mut settings: LlamaSettings) -> Result<Self, BackendError> {
        apply_tiled_mm(&settings);
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
        } else if !settings.split.is_empty() {
            let gpus = crate::devices::gpu_registry_indices();
            let chosen = split_devices(&settings.split, &gpus).map_err(BackendError::Load)?;
            params = params
                .with_split_mode(LlamaSplitMode::Layer)
                .with_devices(&chosen)
                .map_err(|e| BackendError::Load(format!("split {:?}: {e}", settings.split)))?;
        }
        take_llama_errors();
        let load_guard = LOAD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let layouts = crate::cpu::select(crate::cpu::Layouts {
            amx: settings.amx,
            repack: settings.repack,
        });
        LOAD_BUFFERS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let loaded = LlamaModel::load_from_file(backend, &settings.model_path, &params);
        let weight_buffers =
            std::mem::take(&mut *LOAD_BUFFERS.lock().unwrap_or_else(|e| e.into_inner()));
        drop(load_guard);
        let model = loaded.map_err(|e| {
            let detail = take_llama_errors();
            BackendError::Load(format!(
                "{}: {e}{}{detail}",
                settings.model_path.display(),
                if detail.is_empty() { "" } else { ": " }
            ))
        })?;
        tracing::debug!("CPU layouts offered: {layouts:?}; weight buffers: {weight_buffers:?}");
        let model = Arc::new(model);
        let (template, chat_format) = chat_template(&model, &settings.chat_template)?;
        let bos = {
            let vocab = model.vocab();
            vocab.should_add_bos().then(|| vocab.bos())
        };

        fit_streams_to(&mut settings, &model, template.as_ref(), bos);
        let stats = EngineStatsHandle::default();
        let main = EngineThread::spawn(&model, &settings, Arc::clone(&stats.main))?;
        Ok(Local {
            load_ms: t0.elapsed().as_secs_f64() * 1000.0,
            settings,
            model,
            template,
            chat_format,
            context_buffers: main.buffers.clone(),
            main,
            overflow: Mutex::new(None),
            stats,
            bos,
            weight_buffers,
        })
    }

    /// What the engines have done so far.
    pub fn engine_stats(&self) -> EngineStats {
        self.stats.get()
    }

    /// The engines' statistics as they publish them after each step (before
    /// they answer the requests that finished in it).
    pub fn stats_handle(&self) -> EngineStatsHandle {
        self.stats.clone()
    }

    /// Whether chat prompts are rendered with a chat template.
    pub fn has_chat_template(&self) -> bool {
        self.template.is_some()
    }

    /// The text the model sees for a prompt.
    pub fn render(&self, prompt: &Prompt) -> String {
        render(&self.model, self.template.as_ref(), prompt)
    }

    /// The prompt's tokens, as generation sees them.
    pub fn tokenize_prompt(&self, prompt: &Prompt) -> Vec<i32> {
        self.tokens_for(prompt).into_iter().map(|t| t.0).collect()
    }

    fn tokens_for(&self, prompt: &Prompt) -> Vec<LlamaToken> {
        prompt_tokens(&self.model, self.template.as_ref(), self.bos, prompt)
    }

    /// Starts generating `request`; `reply` gets the answer (on the engine
    /// thread, or at once when the request is refused).
    pub fn generate(&self, request: &GenerationRequest, enqueued: Instant, reply: Replier) {
        let tokens = self.tokens_for(&request.prompt);
        let mut params = request.params.clone();
        if matches!(request.prompt, Prompt::Chat(_)) && self.chat_format == ChatFormat::Transcript {
            // The transcript has no end-of-turn token: stop where the model
            // starts the next turn.
            params.stop.extend(TRANSCRIPT_STOPS.map(String::from));
        }
        self.submit(tokens, params, request.samples.clone(), enqueued, reply)
    }

    /// Starts generating from an already tokenized prompt.
    pub fn submit(
        &self,
        tokens: Vec<LlamaToken>,
        params: SamplingParams,
        samples: Vec<u32>,
        enqueued: Instant,
        reply: Replier,
    ) {
        if tokens.is_empty() {
            return reply(Err(BackendError::Backend("the prompt is empty".into())));
        }
        let n_vocab = self.model.n_vocab();
        if let Some(bad) = tokens.iter().find(|t| t.0 < 0 || t.0 >= n_vocab) {
            return reply(Err(BackendError::Backend(format!(
                "token {} outside the vocabulary",
                bad.0
            ))));
        }
        if tokens.len() as u64 >= u64::from(self.settings.seq_context) {
            return reply(Err(BackendError::PromptTooLong(format!(
                "{} prompt tokens do not fit the context of {} tokens per sequence",
                tokens.len(),
                self.settings.seq_context
            ))));
        }
        let need = tokens.len() as u64 + u64::from(params.max_tokens);
        let request = EngineRequest {
            tokens,
            params,
            samples,
            enqueued,
            reply,
        };
        let limit = self.settings.stream_limit();
        if need <= u64::from(limit) || limit >= self.settings.seq_context {
            return self.main.send(request);
        }
        // Longer than the main engine's streams: the full-length engine, with
        // the same answers (a sample's numbers do not depend on the batch).
        let mut overflow = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        let engine = overflow.get_or_insert_with(|| {
            let mut s = self.settings.clone();
            s.set_streams(
                s.parallel.min(OVERFLOW_PARALLEL),
                s.seq_context.next_multiple_of(256),
            );
            tracing::debug!(
                "a request of {need} tokens is longer than the engine's {limit}: \
                 starting an engine with {} streams of {} cells",
                s.parallel,
                s.seq_cells
            );
            EngineThread::spawn(&self.model, &s, Arc::clone(&self.stats.overflow))
                .map_err(|e| e.to_string())
        });
        match engine {
            Ok(e) => e.send(request),
            Err(e) => (request.reply)(Err(BackendError::Backend(format!(
                "starting the engine for long requests: {e}"
            )))),
        }
    }
}

/// Waits for the answer a [`Replier`] would get.
pub(crate) fn blocking(start: impl FnOnce(Replier)) -> Reply {
    let (tx, rx) = mpsc::channel();
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.recv().unwrap_or_else(|_| {
        Err(BackendError::Backend(
            "the llama engine stopped during generation".into(),
        ))
    })
}

/// The text a model sees for a prompt, rendered with `template` (or as a
/// plain transcript without one).
pub(crate) fn render(
    model: &LlamaModel,
    template: Option<&LlamaChatTemplate>,
    prompt: &Prompt,
) -> String {
    match prompt {
        Prompt::Completion(text) => text.clone(),
        Prompt::Chat(messages) => template
            .and_then(|t| apply_template(model, t, messages).ok())
            .unwrap_or_else(|| fallback_chat(messages)),
    }
}

/// Sizes the KV streams of `settings` to the tokens of the longest request
/// it knows of (see [`LlamaSettings::fit_streams`]), as `model` tokenizes it.
fn fit_streams_to(
    settings: &mut LlamaSettings,
    model: &LlamaModel,
    template: Option<&LlamaChatTemplate>,
    bos: Option<LlamaToken>,
) {
    if let Some(r) = &settings.requests {
        let longest = longest_prompt(r, model, template, bos);
        settings.fit_streams(longest);
    }
}

/// The tokens of the longest of `r`'s prompts.
fn longest_prompt(
    r: &KnownRequests,
    model: &LlamaModel,
    template: Option<&LlamaChatTemplate>,
    bos: Option<LlamaToken>,
) -> usize {
    r.prompts
        .iter()
        .map(|p| prompt_tokens(model, template, bos, p).len())
        .max()
        .unwrap_or(0)
}

/// Sizes the KV streams of `settings` as [`Local::start`] will, from the
/// model's vocabulary alone (llama.cpp's vocab-only load: no weights), so
/// that a memory estimate made before the model is loaded matches it. The
/// longest prompt's tokens are remembered in the cache directory (kind
/// `token-fit`, by the model file as it is, llama.cpp's release, the chat
/// template and the prompts), so that a run with the same prompts skips the
/// load (0.3 s for the default model; the engine fits its streams again from
/// the loaded model's tokens, so a stale record could only skew the
/// estimate). Leaves
/// `settings` as they are where the vocabulary does not load.
pub(crate) fn fit_streams_before_load(settings: &mut LlamaSettings) {
    if let Some(longest) = longest_before_load(settings) {
        settings.fit_streams(longest);
    }
}

/// The tokens of the longest of the requests `settings` know of, remembered
/// or from a vocabulary-only load (see [`fit_streams_before_load`]).
fn longest_before_load(settings: &LlamaSettings) -> Option<usize> {
    let r = settings.requests.as_ref()?;
    let path = &settings.model_path;
    let key = serde_json::to_vec(&(
        env!("CARGO_PKG_VERSION"),
        crate::LLAMA_CPP,
        &settings.chat_template,
        &r.prompts,
    ))
    .ok()?;
    if let Some(longest) = models::recall("token-fit", path, &key).and_then(|v| v.parse().ok()) {
        return Some(longest);
    }
    let backend = llama().ok()?;
    let params = LlamaModelParams::default()
        .with_vocab_only(true)
        .with_n_gpu_layers(0);
    let _load_guard = LOAD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Ok(model) = LlamaModel::load_from_file(backend, path, &params) else {
        take_llama_errors();
        return None;
    };
    let (template, _) = chat_template(&model, &settings.chat_template).ok()?;
    let bos = {
        let vocab = model.vocab();
        vocab.should_add_bos().then(|| vocab.bos())
    };
    let longest = longest_prompt(r, &model, template.as_ref(), bos);
    models::remember("token-fit", path, &key, &longest.to_string());
    Some(longest)
}

/// A prompt's tokens as generation sees them: rendered, tokenized with the
/// model's BOS (special tokens parsed for chat prompts), one BOS kept when
/// the template writes its own.
pub(crate) fn prompt_tokens(
    model: &LlamaModel,
    template: Option<&LlamaChatTemplate>,
    bos: Option<LlamaToken>,
    prompt: &Prompt,
) -> Vec<LlamaToken> {
    let text = render(model, template, prompt);
    let parse_special = matches!(prompt, Prompt::Chat(_));
    let mut tokens = model.vocab().tokenize(text.as_bytes(), true, parse_special);
    if let Some(bos) = bos {
        if tokens.len() >= 2 && tokens[0] == bos && tokens[1] == bos {
            tokens.remove(0);
        }
    }
    tokens
}

/// The statistics of a [`Local`]'s engines, as each publishes them.
#[derive(Clone, Default)]
pub(crate) struct EngineStatsHandle {
    main: Arc<Mutex<EngineStats>>,
    overflow: Arc<Mutex<EngineStats>>,
}

impl EngineStatsHandle {
    /// Both engines' work together.
    pub fn get(&self) -> EngineStats {
        let main = *self.main.lock().unwrap_or_else(|e| e.into_inner());
        let overflow = *self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        EngineStats {
            kv_positions_held: main.kv_positions_held + overflow.kv_positions_held,
            ..main.plus(overflow)
        }
    }
}

/// An engine on its own thread, with its own llama.cpp context.
struct EngineThread {
    tx: Sender<Msg>,
    handle: Mutex<Option<JoinHandle<()>>>,
    /// The KV, compute and output buffers of its context.
    buffers: Vec<BufferSize>,
}

impl EngineThread {
    /// Creates a context for `model` as `settings` say and starts an engine
    /// thread on it.
    fn spawn(
        model: &Arc<LlamaModel>,
        settings: &LlamaSettings,
        stats: Arc<Mutex<EngineStats>>,
    ) -> Result<Self, BackendError> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Vec<BufferSize>, String>>();
        let engine_model = Arc::clone(model);
        let s = settings.clone();
        let pad_rows = pad_rows(settings);
        let handle = std::thread::Builder::new()
            .name("litmus-llama-engine".into())
            .spawn(move || {
                let model: &LlamaModel = &engine_model;
                // Before llama.cpp starts this engine's threads, which inherit it.
                if !s.cpus.is_empty() {
                    if let Err(e) = crate::sys::pin_this_thread(&s.cpus) {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                }
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
                let context_guard = CONTEXT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
                CONTEXT_BUFFERS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                let created = model.new_context(backend, cp);
                let buffers =
                    std::mem::take(&mut *CONTEXT_BUFFERS.lock().unwrap_or_else(|e| e.into_inner()));
                drop(context_guard);
                let ctx = match created {
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
                        seq_limit: s.stream_limit(),
                        kv_capacity: s.kv_size,
                        n_batch: s.n_batch as usize,
                        ignore_eos: s.ignore_eos,
                        dedupe_greedy: s.dedupe_greedy,
                        kv_unified: s.kv_unified,
                        pad_rows,
                        threads: s.threads as i32,
                        yield_cores: s.yield_cores,
                    },
                    stats,
                );
                let _ = ready_tx.send(Ok(buffers));
                engine.run(rx);
            })
            .map_err(|e| BackendError::Load(format!("starting the engine thread: {e}")))?;
        let buffers = match ready_rx.recv() {
            Ok(Ok(buffers)) => buffers,
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
        };
        Ok(EngineThread {
            tx,
            handle: Mutex::new(Some(handle)),
            buffers,
        })
    }

    /// Hands `request` to the engine.
    fn send(&self, request: EngineRequest) {
        if let Err(mpsc::SendError(Msg::Request(r))) = self.tx.send(Msg::Request(request)) {
            (r.reply)(Err(BackendError::Backend(
                "the llama engine has stopped".into(),
            )));
        }
    }
}

impl Drop for EngineThread {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(handle) = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

/// How chat prompts are rendered for a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
pub(crate) fn chat_template(
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

#[cfg(test)]
mod tests {
    use super::split_devices;

    #[test]
    fn a_split_uses_the_gpus_with_a_share() {
        // Registry indices of the GPUs (the CPU is elsewhere in the registry).
        let gpus = [0, 1, 3];
        assert_eq!(split_devices(&[0.5, 0.5], &gpus), Ok(vec![0, 1]));
        assert_eq!(split_devices(&[0.0, 0.6, 0.4], &gpus), Ok(vec![1, 3]));
        assert_eq!(split_devices(&[1.0], &gpus), Ok(vec![0]));
        assert!(split_devices(&[0.0, 0.0], &gpus)
            .unwrap_err()
            .contains("no GPU"));
        assert!(split_devices(&[1.0, 1.0, 1.0, 1.0], &gpus)
            .unwrap_err()
            .contains("names 4 GPUs; llama.cpp sees 3"));
        assert!(split_devices(&[1.0, f64::NAN], &gpus).is_err());
        assert!(split_devices(&[1.0], &[]).is_err());
    }
}
