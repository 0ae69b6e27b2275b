//! [`LlamaSettings`]: the settings of one opened model, from its spec, the
//! GGUF's facts and the machine.

use std::path::PathBuf;

use litmus_core::base::backend::BackendError;
use litmus_core::base::backend::Prompt;
use litmus_core::base::model::{KnownRequests, ModelSpec};
use serde::{Deserialize, Serialize};

use crate::gguf::GgufInfo;
use crate::sys;

/// Settings of one opened model, after defaults are applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlamaSettings {
    /// The GGUF file.
    pub model_path: PathBuf,
    /// CPU threads for generation and for prompt processing.
    pub threads: u32,
    /// Most sequences decoded together (`ModelSpec.parallel`).
    pub parallel: u32,
    /// Most tokens (prompt + generated) of one sequence (`ModelSpec.context`).
    pub seq_context: u32,
    /// Cells of each sequence's KV stream (without `kv_unified`): enough for
    /// `seq_context`, or for the largest request of the run's workload when
    /// that is less (see [`ModelSpec::workload`]); a request that needs more
    /// is served by a second engine with full-length streams.
    #[serde(default)]
    pub seq_cells: u32,
    /// The run's requests, when known ahead: `seq_cells` is first bounded
    /// by their bytes, then (once the model is loaded) set by their tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<KnownRequests>,
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
    /// The GPUs to split the layers over, by share (`ModelSpec.split`, one
    /// number per GPU; feature `cuda`). llama.cpp gets the GPUs with a share
    /// and divides the layers by their free memory.
    #[serde(default)]
    pub split: Vec<f64>,
    /// The logical CPUs the engine's threads are pinned to (`ModelSpec.cpus`);
    /// empty: not pinned.
    #[serde(default)]
    pub cpus: Vec<u32>,
    /// Keep generating through end-of-generation tokens (option `ignore_eos`, for benchmarks).
    pub ignore_eos: bool,
    /// One KV cache shared by all sequences (option `kv_unified`, or an
    /// explicit `kv_size`; the default on a GPU). By default each sequence has
    /// its own KV stream: a token attends only to its own sequence's cells
    /// (in a unified cache it is computed against every sequence's masked
    /// cells: about 14% of the throughput of a 32-sequence run of short cases
    /// on a 2-core machine), and where a sequence's cells lie does not depend
    /// on the others, which keeps answers batch-invariant (see the crate
    /// docs). When `parallel` streams (see `seq_cells`) would take more than a
    /// quarter of the memory, the default `parallel` is lowered to fit.
    pub kv_unified: bool,
    /// Flash attention: `None` lets llama.cpp decide (option `flash_attn` = on/off/auto).
    pub flash_attn: Option<bool>,
    /// Decode greedy requests once for all their samples (option `dedupe_greedy`, default on).
    pub dedupe_greedy: bool,
    /// Chat rendering (option `chat_template`): `auto` (the model's template, else
    /// a plain transcript), `transcript`, or a llama.cpp built-in template name.
    pub chat_template: String,
    /// Let llama.cpp put weights in its AMX layout on CPUs with AMX (option
    /// `amx`, default off: its kernel crashes on K-quants, see [`crate::cpu`]).
    pub amx: bool,
    /// Let llama.cpp repack weights for its CPU GEMM kernels (option `repack`,
    /// default off). Off, the default model processes prompts faster here
    /// (llama-bench pp512 742 vs 626 t/s, tg128 equal); on, Q4_0/IQ4_NL models
    /// on AVX2 may gain, but a repacked kernel takes four rows at a time and
    /// the rest one by one, so a sample's numbers depend on how many
    /// sequences share its step: answers are no longer batch-invariant.
    pub repack: bool,
    /// llama.cpp's tiled K-quant matrix kernel (option `tiled_mm`, default
    /// on; the environment variable `GGML_CPU_TILED_MM`, when set, wins).
    /// Each of its outputs is one row's sum over K in a fixed order, whatever
    /// the other rows of the step; what made answers batch-variant was
    /// llama.cpp taking it only from 8 rows and a dot product per row below
    /// (see `tiled_every_row`). Off, every K-quant row goes through that dot
    /// product. One setting per process: llama.cpp reads it once (each
    /// engine worker has its own).
    pub tiled_mm: bool,
    /// With `tiled_mm`: the tiled kernel takes every row count
    /// (`GGML_CPU_TILED_MM_FORCE=1`, set for the engine unless the
    /// environment sets it), so a sample's numbers do not depend on how many
    /// sequences share its step, and steps are padded to two rows (for the
    /// Q8_0 GEMM). Not with one sequence, a shared KV cache or GPU offload
    /// (answers are not batch-invariant there anyway), nor when the
    /// environment sets the variable to another value: llama.cpp then takes
    /// the kernel from 8 rows only, and steps are padded to 8 rows (to
    /// `parallel` when fewer: answers then depend on `parallel`).
    #[serde(default)]
    pub tiled_every_row: bool,
    /// Decode with fewer threads while the run scores generated code (option
    /// `yield_cores`, default on for CPU models, off with GPU offload; see
    /// [`litmus_core::base::busy`] and the engine's `yield_cores`): on a
    /// machine whose cores the sandbox shares with llama.cpp, a step whose
    /// thread loses its core stalls.
    #[serde(default = "yes")]
    pub yield_cores: bool,
    /// Where the engine runs (option `isolation`): in a worker process of its
    /// own, so that a crash inside llama.cpp becomes error records instead of
    /// ending the run, or on a thread of this process. See [`Isolation`].
    pub isolation: Isolation,
}

/// Where a model's engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// In an engine worker process (the default in eval targets, whose `main`
    /// starts workers: see [`crate::worker::main_hook`]).
    Process,
    /// On a thread of the calling process (the default elsewhere).
    Thread,
}

impl Isolation {
    fn parse(v: &str) -> Result<Self, BackendError> {
        match v.to_ascii_lowercase().as_str() {
            "process" => Ok(Isolation::Process),
            "thread" => Ok(Isolation::Thread),
            _ => Err(BackendError::Load(format!(
                "option isolation={v}: expected process or thread"
            ))),
        }
    }

    /// The default: `LITMUS_LLAMA_ISOLATION` if set, else a worker process
    /// where this program can start one.
    fn default_here() -> Result<Self, BackendError> {
        match std::env::var("LITMUS_LLAMA_ISOLATION") {
            Ok(v) if !v.is_empty() => Isolation::parse(&v)
                .map_err(|e| BackendError::Load(format!("LITMUS_LLAMA_ISOLATION: {e}"))),
            _ if crate::worker::available() => Ok(Isolation::Process),
            _ => Ok(Isolation::Thread),
        }
    }
}

/// The most sequences in flight by default on the CPU, when the run's
/// workload is known (on a 2-core machine, the default run took 103.6 s at
/// 32 sequences of 4096 cells, 89.4 s at 128 of 1024 cells and 92.0 s at 256
/// of 1024 cells, where the load grew to 6.7 s).
pub const MAX_DEFAULT_PARALLEL: u32 = 128;

/// KV cells for the largest of `r`'s requests, from its bytes: a token
/// covers at least one byte of the rendered prompt, which a chat template
/// lengthens by its markup (taken as 32 bytes a message and 256 more, for a
/// system prompt of its own), plus BOS and the new tokens. An upper bound
/// for the memory fit before the model is loaded; see
/// [`LlamaSettings::fit_streams`].
fn byte_cells(r: &KnownRequests) -> u64 {
    let bytes = |p: &Prompt| match p {
        Prompt::Completion(text) => text.len() as u64,
        Prompt::Chat(m) => m.iter().map(|m| m.content.len() as u64 + 32).sum(),
    };
    let longest = r.prompts.iter().map(bytes).max().unwrap_or(0);
    stream_cells(longest + 256 + 2, r.max_tokens)
}

/// Cells for a prompt of `prompt` tokens and `max_tokens` new ones, in whole
/// 256-cell blocks (as llama.cpp pads the cells it attends to).
fn stream_cells(prompt: u64, max_tokens: u32) -> u64 {
    (prompt + u64::from(max_tokens) + 1).next_multiple_of(256)
}

/// An integer llama.cpp reads from the environment, as it reads it
/// (`atoi`: the leading digits, 0 without any); `None` when unset.
pub(crate) fn llama_env_int(name: &str) -> Option<i64> {
    std::env::var(name).ok().map(|v| atoi(&v))
}

/// C's `atoi`: the leading whitespace skipped, an optional sign, the digits
/// that follow; 0 without any.
fn atoi(v: &str) -> i64 {
    let v = v.trim_start();
    let (sign, digits) = match v.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, v.strip_prefix('+').unwrap_or(v)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    sign * digits[..end].parse::<i64>().unwrap_or(0)
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
    "amx",
    "repack",
    "tiled_mm",
    "yield_cores",
    "isolation",
];

// Known to `litmus.toml`'s check, so that a misspelled key is a config
// error naming the file and line (`batch_invariant` too: opening the model
// says that it is gone, and why).
inventory::submit! {
    litmus_core::base::model::OptionKeys {
        backends: &[litmus_core::base::model::BackendKind::Llama],
        keys: OPTION_KEYS,
    }
}
inventory::submit! {
    litmus_core::base::model::OptionKeys {
        backends: &[litmus_core::base::model::BackendKind::Llama],
        keys: &["batch_invariant"],
    }
}

pub(crate) fn parse_bool(key: &str, v: &str) -> Result<bool, BackendError> {
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

fn yes() -> bool {
    true
}

impl LlamaSettings {
    /// Apply defaults to a spec for the model described by `gguf`.
    pub fn resolve(
        spec: &ModelSpec,
        model_path: PathBuf,
        gguf: &GgufInfo,
    ) -> Result<Self, BackendError> {
        if let Err((_, message)) = spec.check_values() {
            return Err(BackendError::Load(format!(
                "model `{}`: {message}",
                spec.name
            )));
        }
        let gpu = cfg!(feature = "cuda") && spec.gpu_layers != Some(0);
        let threads = spec.threads.filter(|t| *t > 0).unwrap_or_else(|| {
            if spec.cpus.is_empty() {
                sys::physical_cores() as u32
            } else {
                // One thread per physical core among the pinned CPUs.
                let cores = sys::core_cpus();
                let on = |c: &Vec<u32>| c.iter().any(|cpu| spec.cpus.contains(cpu));
                (cores.iter().filter(|c| on(c)).count() as u32).max(1)
            }
        });
        let parallel = spec
            .parallel
            .filter(|p| *p > 0)
            .unwrap_or(match &spec.workload {
                _ if gpu => 64,
                // Every sample of the run in flight at once, up to a limit
                // (more streams lengthen the load); two at least, so that
                // steps are padded as in any larger batch.
                Some(w) => (w.samples.min(MAX_DEFAULT_PARALLEL as usize) as u32).max(2),
                None => 32,
            })
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
            seq_cells: 0,
            requests: None,
            kv_size: 0,
            n_batch: 512,
            n_ubatch: 512,
            gpu_layers: spec.gpu_layers,
            device: spec.device,
            split: spec.split.clone(),
            cpus: spec.cpus.clone(),
            ignore_eos: false,
            kv_unified: false,
            flash_attn: None,
            dedupe_greedy: true,
            chat_template: "auto".to_string(),
            amx: false,
            repack: false,
            tiled_mm: true,
            tiled_every_row: true,
            yield_cores: !gpu,
            isolation: Isolation::Thread,
        };
        let mut isolation = None;
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
                "batch_invariant" => {
                    return Err(BackendError::Load(
                        "option batch_invariant is gone: answers are batch-invariant by default \
                         (unless kv_unified or repack is set)"
                            .into(),
                    ))
                }
                "amx" => s.amx = parse_bool(key, value)?,
                "repack" => s.repack = parse_bool(key, value)?,
                "tiled_mm" => s.tiled_mm = parse_bool(key, value)?,
                "yield_cores" => s.yield_cores = parse_bool(key, value)?,
                "isolation" => isolation = Some(Isolation::parse(value)?),
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
        if let Some(v) = llama_env_int("GGML_CPU_TILED_MM") {
            s.tiled_mm = v != 0;
        }
        // By default each sequence has its own KV stream of `seq_context` cells
        // (of fewer, when the run's requests are known and need fewer), unless
        // that takes more than a quarter of the memory (at least 1 GiB): then
        // fewer sequences run at once (or as many as asked for).
        let full_seq = u64::from(seq_context).next_multiple_of(256);
        let known = spec.workload.as_ref().and_then(|w| w.requests.as_ref());
        let per_seq = match known {
            Some(r) => full_seq.min(byte_cells(r)),
            None => full_seq,
        };
        let fitting_seqs = match (gguf.kv_bytes_per_token, sys::total_memory_bytes()) {
            (Some(per_token), Some(mem)) if per_token > 0 && !gpu => {
                let budget = (mem / 4).max(1 << 30);
                Some(budget / (per_token * per_seq))
            }
            _ => None,
        };
        s.kv_unified = kv_unified.unwrap_or(kv_size.is_some() || gpu);
        if s.kv_unified {
            let full = u64::from(s.parallel) * u64::from(seq_context);
            let default_kv = match (gguf.kv_bytes_per_token, sys::total_memory_bytes()) {
                (Some(per_token), Some(mem)) if per_token > 0 && !gpu => {
                    full.min((mem / 4).max(1 << 30) / per_token)
                }
                _ => full,
            };
            let kv = u64::from(kv_size.unwrap_or(default_kv.min(u64::from(u32::MAX / 2)) as u32));
            s.kv_size = kv
                .max(u64::from(seq_context))
                .next_multiple_of(256)
                .min(u64::from(u32::MAX / 2)) as u32;
        } else {
            if spec.parallel.is_none() {
                if let Some(fit) = fitting_seqs {
                    s.parallel = s.parallel.min(fit.clamp(1, 256) as u32);
                }
            }
            s.seq_cells = per_seq as u32;
            s.requests = known.cloned();
            s.kv_size = (per_seq * u64::from(s.parallel)).min(u64::from(u32::MAX / 2)) as u32;
        }
        s.n_batch = s.n_batch.max(s.parallel + 1);
        // The tiled kernel at every row count where answers are otherwise
        // batch-invariant (a step of one row takes it at 18% less speed than
        // a dot product per row here: not worth it for one sequence).
        s.tiled_every_row = s.tiled_mm
            && match llama_env_int("GGML_CPU_TILED_MM_FORCE") {
                Some(v) => v == 1,
                None => s.pads_steps(),
            };
        s.isolation = match isolation {
            Some(i) => i,
            None => Isolation::default_here()?,
        };
        Ok(s)
    }

    /// Whether generation steps are padded so that a sample's numbers do not
    /// depend on what else is decoded: with more than one sequence, each in
    /// its own KV stream, on the CPU (with a shared cache or GPU offload
    /// answers are not batch-invariant anyway).
    pub(crate) fn pads_steps(&self) -> bool {
        let gpu = cfg!(feature = "cuda") && self.gpu_layers != Some(0);
        self.parallel > 1 && !gpu && !self.kv_unified
    }

    /// Once the model is loaded: streams of the cells the longest of the
    /// known requests needs, `longest_prompt` tokens (never more than
    /// before). A request that needs more than any known one (which the
    /// runner does not send) goes to the engine with full-length streams.
    pub(crate) fn fit_streams(&mut self, longest_prompt: usize) {
        let Some(r) = self.requests.take() else {
            return;
        };
        let cells = stream_cells(longest_prompt as u64, r.max_tokens);
        if cells < u64::from(self.seq_cells) {
            self.set_streams(self.parallel, cells as u32);
        }
    }

    /// `parallel` KV streams of `cells` cells each (without `kv_unified`),
    /// and what follows from them: the total KV size and a batch that holds
    /// a token of every sequence.
    pub(crate) fn set_streams(&mut self, parallel: u32, cells: u32) {
        self.parallel = parallel;
        self.seq_cells = cells;
        self.kv_size = cells * parallel;
        self.n_batch = self.n_batch.max(parallel + 1);
    }

    /// The most tokens (prompt + generated) a sequence of the main engine
    /// holds: `seq_context`, or fewer when its KV streams are sized to the
    /// workload (see `seq_cells`).
    pub fn stream_limit(&self) -> u32 {
        if self.kv_unified || self.seq_cells == 0 {
            self.seq_context
        } else {
            self.seq_context.min(self.seq_cells)
        }
    }

    /// The part of the settings that can change responses (beyond the weights).
    pub fn cache_salt(&self) -> String {
        // `llama2`: the engine that decodes prompts alone and pads lone
        // sequences (its answers differ in the last bits from the first one's).
        format!(
            "llama2;{};seq_context={};ignore_eos={};chat_template={};kv_unified={};repack={};amx={};tiled_mm={};flash_attn={:?};transcript=qa",
            crate::LLAMA_CPP,
            self.seq_context,
            self.ignore_eos,
            self.chat_template,
            self.kv_unified,
            self.repack,
            self.amx,
            match (self.tiled_mm, self.tiled_every_row) {
                (false, _) => "false",
                (true, true) => "every_row",
                (true, false) => "from_8_rows",
            },
            self.flash_attn
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use litmus_core::base::backend::Message;
    use litmus_core::base::model::Workload;

    fn info(kv_bytes_per_token: Option<u64>) -> GgufInfo {
        GgufInfo {
            path: PathBuf::from("m.gguf"),
            size_bytes: 1,
            version: 3,
            context_length: Some(2048),
            kv_bytes_per_token,
            ..Default::default()
        }
    }

    fn resolve(
        options: &[(&str, &str)],
        per_token: Option<u64>,
        parallel: Option<u32>,
    ) -> LlamaSettings {
        let spec = ModelSpec {
            parallel,
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        LlamaSettings::resolve(&spec, PathBuf::from("m.gguf"), &info(per_token)).unwrap()
    }

    #[test]
    fn litmus_toml_knows_the_option_keys() {
        use litmus_core::base::model::{known_option_keys, BackendKind};
        let known = known_option_keys(BackendKind::Llama).unwrap();
        assert!(OPTION_KEYS.iter().all(|k| known.contains(k)));
        let path = std::path::Path::new("litmus.toml");
        let parse = |t: &str| litmus_core::plan::config::Config::parse(t, path);
        let err =
            parse("[models.gemma]\nsource = \"m.gguf\"\noptions = { isolaton = \"thread\" }\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("line 3")
                && err.contains("models.gemma.options: unknown option `isolaton`"),
            "{err}"
        );
        // The README's forms: booleans as booleans.
        let c = parse("[models.gemma]\nsource = \"m.gguf\"\noptions = { tiled_mm = false, amx = true, n_batch = 1024 }\n")
            .unwrap();
        let s = LlamaSettings::resolve(&c.models["gemma"], PathBuf::from("m.gguf"), &info(None))
            .unwrap();
        assert!(!s.tiled_mm || std::env::var_os("GGML_CPU_TILED_MM").is_some());
        assert!(s.amx);
        assert_eq!(s.n_batch, 1024);
    }

    #[test]
    fn absurd_contexts_and_threads_are_errors_not_panics() {
        let spec = |context, threads| ModelSpec {
            name: "m".into(),
            context,
            threads,
            ..Default::default()
        };
        let resolve = |spec: &ModelSpec| {
            LlamaSettings::resolve(spec, PathBuf::from("m.gguf"), &info(Some(1024)))
                .map(|s| s.kv_size)
                .map_err(|e| e.to_string())
        };
        let err = resolve(&spec(Some(u32::MAX), None)).unwrap_err();
        assert!(
            err.contains("model `m`") && err.contains("context"),
            "{err}"
        );
        let err = resolve(&spec(None, Some(100_000))).unwrap_err();
        assert!(err.contains("threads"), "{err}");
        // The largest context accepted resolves (its rounding does not wrap).
        let max = litmus_core::base::model::MAX_CONTEXT;
        assert!(resolve(&spec(Some(max - 1), None)).unwrap() >= max);
    }

    #[test]
    fn kv_streams_per_sequence_when_they_fit() {
        if cfg!(feature = "cuda") || sys::total_memory_bytes().is_none() {
            return;
        }
        // 8 x 2048 tokens of 1 KiB: separate streams, each a full sequence.
        let s = resolve(&[], Some(1024), Some(8));
        assert!(!s.kv_unified);
        assert_eq!((s.parallel, s.kv_size), (8, 8 * 2048));
        // Far beyond a quarter of any memory: still streams; a default
        // `parallel` is lowered to fit, an explicit one is kept.
        let s = resolve(&[], Some(1 << 30), None);
        assert!(!s.kv_unified);
        assert_eq!(s.parallel, 1);
        assert_eq!(s.kv_size, 2048);
        let s = resolve(&[], Some(1 << 30), Some(8));
        assert_eq!((s.parallel, s.kv_size), (8, 8 * 2048));
        // An explicit total size or an explicit choice: one shared cache.
        assert!(resolve(&[("kv_size", "4096")], Some(1024), Some(8)).kv_unified);
        assert!(resolve(&[("kv_unified", "true")], Some(1024), Some(8)).kv_unified);
        assert!(!resolve(&[("kv_unified", "false")], None, Some(8)).kv_unified);
        assert!(!resolve(&[], None, Some(8)).kv_unified);
    }

    #[test]
    fn a_known_workload_sizes_the_batch_and_the_streams() {
        if cfg!(feature = "cuda") || sys::total_memory_bytes().is_none() {
            return;
        }
        let with = |samples: usize, requests: Option<KnownRequests>, parallel: Option<u32>| {
            let spec = ModelSpec {
                parallel,
                workload: Some(Workload { samples, requests }),
                ..Default::default()
            };
            LlamaSettings::resolve(&spec, PathBuf::from("m.gguf"), &info(Some(1024))).unwrap()
        };
        let short = |bytes: usize, messages: usize, max_tokens| {
            let text = "x".repeat(bytes);
            let prompt = if messages == 0 {
                Prompt::Completion(text)
            } else {
                let mut m = vec![Message::user(text)];
                m.resize(messages, Message::user(""));
                Prompt::Chat(m)
            };
            Some(KnownRequests {
                prompts: vec![Prompt::Completion("short".into()), prompt],
                max_tokens,
            })
        };
        // 120 completions of 200 bytes and 128 new tokens: all in flight,
        // each stream 200 + 256 + 2 (markup, BOS) + 128 + 1 cells, in blocks of 256.
        let s = with(120, short(200, 0, 128), None);
        assert!(!s.kv_unified);
        assert_eq!((s.parallel, s.seq_cells, s.kv_size), (120, 768, 120 * 768));
        assert_eq!(s.stream_limit(), 768);
        // Their tokens, once the model is loaded, make the streams shorter
        // (never longer).
        let mut t = s.clone();
        t.fit_streams(60);
        assert_eq!(
            (t.seq_cells, t.kv_size, t.stream_limit()),
            (256, 120 * 256, 256)
        );
        assert!(t.requests.is_none());
        let mut t = s.clone();
        t.fit_streams(5000);
        assert_eq!((t.seq_cells, t.kv_size), (768, 120 * 768));
        // The context a sample may use is still the model's: same cache key.
        assert_eq!(s.seq_context, 2048);
        assert_eq!(
            s.cache_salt(),
            resolve(&[], Some(1024), Some(120)).cache_salt()
        );
        // Chat markup counts; a request beyond the context keeps full streams.
        assert_eq!(with(8, short(1000, 3, 384), None).seq_cells, 1792);
        assert_eq!(with(8, short(4000, 1, 512), None).stream_limit(), 2048);
        // Unknown requests: full streams; the batch still follows the samples.
        let s = with(10, None, None);
        assert_eq!(
            (s.parallel, s.seq_cells, s.stream_limit()),
            (10, 2048, 2048)
        );
        // Up to MAX_DEFAULT_PARALLEL sequences, two at least (steps padded as
        // in any batch); an explicit `parallel` is kept.
        assert_eq!(
            with(1000, short(10, 0, 16), None).parallel,
            MAX_DEFAULT_PARALLEL
        );
        assert_eq!(with(1, short(10, 0, 16), None).parallel, 2);
        assert_eq!(with(1000, short(10, 0, 16), Some(7)).parallel, 7);
        // No workload: the fixed default.
        assert_eq!(resolve(&[], Some(1024), None).parallel, 32);
    }

    #[test]
    fn the_tiled_kernel_takes_every_row_count_unless_turned_off() {
        if std::env::var_os("GGML_CPU_TILED_MM").is_some()
            || std::env::var_os("GGML_CPU_TILED_MM_FORCE").is_some()
        {
            return; // the environment decides (checked by the cache salt below)
        }
        let on = resolve(&[], Some(1024), Some(8));
        let off = resolve(&[("tiled_mm", "false")], Some(1024), Some(8));
        assert!(on.tiled_mm && on.tiled_every_row);
        assert!(!off.tiled_mm && !off.tiled_every_row);
        assert_ne!(off.cache_salt(), on.cache_salt());
        assert!(on.cache_salt().contains("tiled_mm=every_row"));
        assert!(off.cache_salt().contains("tiled_mm=false"));
        // Where answers are not batch-invariant anyway, llama.cpp's own rule.
        let one = resolve(&[], Some(1024), Some(1));
        let shared = resolve(&[("kv_unified", "true")], Some(1024), Some(8));
        for s in [one, shared] {
            assert!(s.tiled_mm && !s.tiled_every_row);
            assert!(s.cache_salt().contains("tiled_mm=from_8_rows"));
        }
    }

    #[test]
    fn environment_integers_are_read_as_llama_cpp_reads_them() {
        for (v, n) in [
            ("1", 1),
            (" 1", 1),
            ("0", 0),
            ("", 0),
            ("off", 0),
            ("2x", 2),
            ("-1", -1),
        ] {
            assert_eq!(atoi(v), n, "{v:?}");
        }
    }

    #[test]
    fn defaults_keep_amx_and_repack_out() {
        let s = resolve(&[], Some(1024), Some(8));
        assert!(!s.amx && !s.repack);
        let s = resolve(&[("amx", "true"), ("repack", "on")], Some(1024), Some(8));
        assert!(s.amx && s.repack);
        assert_ne!(
            s.cache_salt(),
            resolve(&[], Some(1024), Some(8)).cache_salt(),
            "layouts change the arithmetic, so they are part of the cache key"
        );
        assert!(LlamaSettings::resolve(
            &ModelSpec {
                options: [("batch_invariant".to_string(), "true".to_string())].into(),
                ..Default::default()
            },
            PathBuf::from("m.gguf"),
            &info(None)
        )
        .is_err());
    }
}
