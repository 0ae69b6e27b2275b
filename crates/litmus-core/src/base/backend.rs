//! The one interface every model backend implements.
//!
//! A backend turns a [`GenerationRequest`] (one prompt, sampling parameters and
//! the indices of the samples wanted) into [`Generation`]s. The runner calls
//! [`Backend::generate`] from many threads at once — up to
//! [`Backend::parallelism`] requests are kept in flight — so that a backend can
//! batch across cases: llama.cpp's continuous batching and an HTTP server's
//! parallel slots both need a steady stream of concurrent requests.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use litmus_sandbox::stop::{Scanner as StopScanner, StopRule};

/// Who speaks a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The user's turn.
    User,
    /// The model's turn.
    Assistant,
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A prompt as the model should see it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Chat messages; the backend renders them with the model's chat template.
    Chat(Vec<Message>),
    /// Raw text continued by the model, for base models.
    Completion(String),
}

impl Prompt {
    /// A chat prompt with a single user message.
    pub fn user(content: impl Into<String>) -> Self {
        Prompt::Chat(vec![Message::user(content)])
    }

    /// The prompt as plain text, for display and hashing.
    pub fn to_text(&self) -> String {
        match self {
            Prompt::Completion(text) => text.clone(),
            Prompt::Chat(messages) => {
                let mut out = String::new();
                for m in messages {
                    let role = match m.role {
                        Role::System => "system",
                        Role::User => "user",
                        Role::Assistant => "assistant",
                    };
                    out.push_str(&format!("[{role}]\n{}\n", m.content));
                }
                out
            }
        }
    }
}

/// Sampling parameters. `temperature == 0` means greedy decoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Softmax temperature; 0 is greedy.
    pub temperature: f32,
    /// Nucleus sampling threshold (1.0 disables).
    pub top_p: f32,
    /// Top-k cutoff (0 disables).
    pub top_k: u32,
    /// Min-p cutoff (0 disables).
    pub min_p: f32,
    /// Repetition penalty (1.0 disables).
    pub repeat_penalty: f32,
    /// Most tokens generated per sample.
    pub max_tokens: u32,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
    /// Generation stops where a completion of a code prompt has finished the
    /// definition the prompt opened (see [`StopRule`]); a backend that cannot
    /// stop there cuts its answers there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_rule: Option<StopRule>,
    /// Base seed; sample `i` uses [`sample_seed`]`(seed, i)`.
    pub seed: u64,
}

/// llama.cpp's own defaults (`llama-cli`, `llama-server`): top-k 40, top-p
/// 0.95, min-p 0.05, greedy (temperature 0), so that a run gives the same
/// distribution in-process and through llama-server. `top_k = 0` samples from
/// the whole vocabulary, which on a 262k-token vocabulary (Gemma 3) costs
/// about as much CPU per token as the model's forward pass.
impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 0.95,
            top_k: 40,
            min_p: 0.05,
            repeat_penalty: 1.0,
            max_tokens: 256,
            stop: Vec::new(),
            stop_rule: None,
            seed: 42,
        }
    }
}

/// The seed of sample `index` for a run with base seed `seed`.
///
/// Every backend derives per-sample seeds this way, so that sample `i` is the
/// same whether it is generated alone or together with others.
pub fn sample_seed(seed: u64, index: u32) -> u64 {
    // SplitMix64 finaliser over the pair.
    let mut z = seed ^ (u64::from(index).wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the runner asks of a backend: some samples of one prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// The prompt.
    pub prompt: Prompt,
    /// Sampling parameters shared by all samples.
    pub params: SamplingParams,
    /// Indices of the samples wanted (their seeds derive from these).
    pub samples: Vec<u32>,
}

/// Why generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End-of-sequence token or stop string.
    #[default]
    Stop,
    /// `max_tokens` reached.
    Length,
    /// The context window was full.
    ContextFull,
}

/// Token counts of one sample; `None` where the backend did not report the
/// count (a server answering without `usage`, Ollama leaving out
/// `prompt_eval_count` for a cached prompt): such samples are left out of
/// token totals and rates, not counted as zeros.
///
/// ```
/// use litmus_core::base::backend::Usage;
///
/// let u = Usage::counted(12, 30);
/// assert_eq!((u.prompt_tokens, u.completion_tokens), (Some(12), Some(30)));
/// assert_eq!(Usage::default().completion_tokens, None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Usage {
    /// Tokens in the rendered prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u32>,
    /// Tokens generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u32>,
}

impl Usage {
    /// Both counts known.
    pub fn counted(prompt_tokens: u32, completion_tokens: u32) -> Usage {
        Usage {
            prompt_tokens: Some(prompt_tokens),
            completion_tokens: Some(completion_tokens),
        }
    }

    /// The counts of two parts of one sample added (an imperative eval's
    /// generations): unknown when either part's is.
    pub fn plus(self, other: Usage) -> Usage {
        let add = |a: Option<u32>, b: Option<u32>| Some(a?.saturating_add(b?));
        Usage {
            prompt_tokens: add(self.prompt_tokens, other.prompt_tokens),
            completion_tokens: add(self.completion_tokens, other.completion_tokens),
        }
    }
}

/// Timings of one sample, in milliseconds. Fields a backend cannot measure are `None`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Timings {
    /// Time spent evaluating the prompt (shared prompts count once per sample).
    pub prompt_ms: Option<f64>,
    /// Time spent generating tokens.
    pub generation_ms: Option<f64>,
    /// From the request entering the backend to the first generated token.
    pub ttft_ms: Option<f64>,
    /// From the request entering the backend to the last token.
    pub total_ms: f64,
}

impl Timings {
    /// Prompt-processing speed in tokens/s, when known.
    pub fn prompt_tps(&self, usage: &Usage) -> Option<f64> {
        let tokens = usage.prompt_tokens?;
        self.prompt_ms
            .filter(|ms| *ms > 0.0)
            .map(|ms| f64::from(tokens) * 1000.0 / ms)
    }
    /// Generation speed in tokens/s, when known.
    pub fn generation_tps(&self, usage: &Usage) -> Option<f64> {
        let tokens = usage.completion_tokens?;
        self.generation_ms
            .filter(|ms| *ms > 0.0)
            .map(|ms| f64::from(tokens) * 1000.0 / ms)
    }
}

/// One generated sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Generation {
    /// The sample index it answers.
    pub sample: u32,
    /// The generated text (stop strings removed).
    pub text: String,
    /// Why it stopped.
    pub finish: FinishReason,
    /// Token counts.
    pub usage: Usage,
    /// Timings.
    pub timings: Timings,
    /// Which server answered, for the HTTP backends: its base URL, without
    /// credentials. A cached answer keeps the server that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
}

/// What a backend knows about the model it serves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelInfo {
    /// Display name, e.g. `gemma3-270m`.
    pub name: String,
    /// Backend kind, e.g. `llama`, `openai`, `ollama`, `replay`.
    pub backend: String,
    /// Quantization label, e.g. `Q4_K_M`.
    pub quantization: Option<String>,
    /// Model architecture, e.g. `gemma3`.
    pub architecture: Option<String>,
    /// Parameter count.
    pub parameters: Option<u64>,
    /// Size of the weights in bytes.
    pub size_bytes: Option<u64>,
    /// A digest identifying the weights (sha256 of the file, or a server-side digest).
    pub digest: String,
    /// Time spent loading the model, in milliseconds.
    pub load_ms: Option<f64>,
    /// Context length used.
    pub context_length: Option<u32>,
    /// Sequences decoded together (the in-process backend's batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequences: Option<u32>,
    /// Resident memory of the process with this model loaded, measured by the
    /// runner when the model's evaluation ends (weights touched, caches full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_bytes: Option<u64>,
}

/// What identifies a model's answers in the response cache, known before
/// the model is loaded (see `DeviceSource::identity`): the [`ModelInfo`]
/// its backend will report (its `digest` and `backend` are part of every
/// cache key) and its [`Backend::cache_salt`].
#[derive(Clone, Debug, PartialEq)]
pub struct ModelIdentity {
    /// The model as its backend will describe it.
    pub info: ModelInfo,
    /// The backend's cache salt.
    pub salt: String,
}

/// A backend failure. Recorded with the sample; never aborts a run.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum BackendError {
    /// The backend could not be reached (connection refused, reset, DNS).
    #[error("connection failed: {0}")]
    Connection(String),
    /// The request took too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The backend rejected the request or answered with an error.
    #[error("backend error: {0}")]
    Backend(String),
    /// The prompt does not fit the context window.
    #[error("prompt too long: {0}")]
    PromptTooLong(String),
    /// The backend has no answer for this request (e.g. a replay without a recording).
    #[error("no response: {0}")]
    Missing(String),
    /// The model could not be loaded.
    #[error("model failed to load: {0}")]
    Load(String),
    /// Some samples of the request were generated and others failed (an
    /// HTTP backend sends one request per sample): the runner keeps the
    /// generated ones and records each failure with its own sample.
    #[error("{}", .0)]
    Partial(Box<PartialGeneration>),
}

/// The outcome of a request whose samples did not all fail: see
/// [`BackendError::Partial`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialGeneration {
    /// The samples generated.
    pub generated: Vec<Generation>,
    /// Each failed sample with its error (never empty).
    pub failed: Vec<(u32, BackendError)>,
}

impl std::fmt::Display for PartialGeneration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.generated.len() + self.failed.len();
        write!(f, "{} of {total} samples failed", self.failed.len())?;
        match self.failed.first() {
            Some((sample, e)) => write!(f, "; sample {sample}: {e}"),
            None => Ok(()),
        }
    }
}

impl BackendError {
    /// Why a model failed to load, for a message that says "model … failed
    /// to load" itself: a [`BackendError::Load`]'s reason without its
    /// prefix, any other error as it displays.
    ///
    /// ```
    /// use litmus_core::base::backend::BackendError;
    /// assert_eq!(BackendError::Load("no such file".into()).load_reason(), "no such file");
    /// assert_eq!(BackendError::Missing("x".into()).load_reason(), "no response: x");
    /// ```
    pub fn load_reason(&self) -> String {
        match self {
            BackendError::Load(why) => why.clone(),
            other => other.to_string(),
        }
    }

    /// The outcome of generating several samples one by one: all of them,
    /// or a [`BackendError::Partial`] keeping those generated (the failure
    /// itself when every sample failed with one and the same error).
    pub fn collect(
        results: impl IntoIterator<Item = (u32, Result<Generation, BackendError>)>,
    ) -> Result<Vec<Generation>, BackendError> {
        let (mut generated, mut failed) = (Vec::new(), Vec::new());
        for (sample, r) in results {
            match r {
                Ok(g) => generated.push(g),
                Err(e) => failed.push((sample, e)),
            }
        }
        match failed.first() {
            None => Ok(generated),
            Some((_, first)) if generated.is_empty() && failed.iter().all(|(_, e)| e == first) => {
                Err(first.clone())
            }
            Some(_) => Err(BackendError::Partial(Box::new(PartialGeneration {
                generated,
                failed,
            }))),
        }
    }
}

/// A model backend: in-process llama.cpp, an HTTP server, a pool, or a replay.
///
/// Implementations must be safe to call from many threads at once.
pub trait Backend: Send + Sync {
    /// The model served.
    fn model(&self) -> &ModelInfo;

    /// Generate the samples `request.samples` of one prompt.
    ///
    /// Blocks until all are done. Returns one [`Generation`] per requested
    /// sample index, in any order.
    fn generate(&self, request: &GenerationRequest) -> Result<Vec<Generation>, BackendError>;

    /// Repeat `repeat` of `request` (`--repeat N` runs every sample N times
    /// over, with the same prompt, parameters and seeds, to measure how far
    /// a backend's answers vary between identical runs).
    ///
    /// A live backend generates afresh for every repeat: the default calls
    /// [`generate`](Backend::generate). A replay answers with that repeat's
    /// recorded answer.
    fn generate_repeat(
        &self,
        request: &GenerationRequest,
        repeat: u32,
    ) -> Result<Vec<Generation>, BackendError> {
        let _ = repeat;
        self.generate(request)
    }

    /// How many requests the runner should keep in flight at once.
    fn parallelism(&self) -> usize {
        1
    }

    /// A stable description of the backend's configuration that affects
    /// responses beyond the weights (e.g. context size). Part of the cache key.
    fn cache_salt(&self) -> String {
        String::new()
    }

    /// Resident memory, in bytes, of the process that holds the model when it
    /// is on this machine (a worker process, or this one); `None` for remote
    /// servers or when unknown.
    fn resident_bytes(&self) -> Option<u64> {
        None
    }

    /// The model's busy time so far, split into prompt processing and
    /// generation, for the run's time breakdown; `None` when the backend
    /// cannot tell (remote servers).
    fn busy_time(&self) -> Option<BusyTime> {
        None
    }
}

/// Seconds a backend spent working, by kind of work (see [`Backend::busy_time`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BusyTime {
    /// Evaluating prompts.
    pub prompt_secs: f64,
    /// Generating tokens (decoding, sampling, bookkeeping).
    pub generation_secs: f64,
}

impl fmt::Debug for dyn Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("model", self.model())
            .finish()
    }
}

/// A shared backend.
pub type SharedBackend = Arc<dyn Backend>;
