//! Quantization fidelity: how far a quantization's token distributions are
//! from a reference's on the same tokens (teacher forcing), measured the way
//! `llama-perplexity --kl-divergence` measures it (see
//! [`litmus_core::run::fidelity`] for the statistics and `fidelity.json`).
//!
//! [`Scorer::score`] runs every model over the same token sequences in
//! lockstep: each window of tokens (several short sequences packed together,
//! or a slice of a long one) is decoded by the reference and then by every
//! quantization, with logits for the scored positions, and the per-token
//! statistics are computed from the rows still in each context's logits
//! buffer before the next window is decoded. Nothing larger than one window
//! of logits per model is ever held: llama-perplexity instead writes the
//! reference's log-probabilities for the whole corpus to a file (as `u16`, 512
//! KiB per token for a 262,144-token vocabulary, so 2 GiB for 4,000 tokens),
//! which is exact only up to that rounding and grows with the corpus. The
//! price of lockstep is that the reference and the quantizations are loaded
//! at the same time (memory-mapped weights, one context each).
//!
//! KL(reference ‖ quant) is computed over the whole vocabulary with
//! llama-perplexity's log-softmax, in one vectorized pass over each pair of
//! rows ([`kernel`]), on the job's threads while llama.cpp waits.
//!
//! The measurement runs in the process that asks for it (an eval target that
//! `cargo eval fidelity` starts for the job), not in an engine worker process:
//! it needs the logits of two models side by side for every token, which the
//! worker protocol would have to copy across a pipe (1 MiB per token and
//! model for Gemma 3), and the job's process is already a child that a
//! llama.cpp abort would end without taking `cargo eval` with it.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Instant;

use litmus_core::base::backend::{BackendError, Prompt};
use litmus_core::base::exit;
use litmus_core::base::util::sha256_hex;
use litmus_core::run::fidelity::{
    ConfigFidelity, FidelityInputs, FidelityJob, FidelityReport, FidelitySums, TokenFidelity,
    FIDELITY_FILE,
};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use crate::runtime::{llama, take_llama_errors, warn_once_about_simd, LOAD_LOCK};

pub mod kernel;

pub use kernel::token_fidelity;

/// Tokens per decode unless a job says otherwise. Each model's context
/// holds the logits of a whole window (1 MiB per token for a 262,144-token
/// vocabulary), so this bounds the memory beyond the weights; prompt
/// processing on a CPU is as fast at 256 tokens per decode as at 512.
pub const DEFAULT_WINDOW: usize = 256;

/// Tokens per llama.cpp micro-batch unless options say otherwise: on the
/// default model (2 cores) decoding runs at the same speed at 128 as at 256
/// or 512, with or without logits, within the ±5% spread between runs, and
/// slower below (64: −15%), while the micro-batch's logits buffer shrinks to
/// 128 MiB (BENCHMARKS.md, fidelity).
pub const DEFAULT_UBATCH: usize = 128;

/// Sequences packed into one decode at most.
const MAX_PACKED: usize = 16;

/// A token sequence to teacher-force, and which of its tokens are scored:
/// tokens `first..` (each predicted from the ones before it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    /// The tokens.
    pub tokens: Vec<i32>,
    /// Index of the first scored token (at least 1).
    pub first: usize,
    /// Which group (e.g. eval) its tokens count towards.
    pub group: usize,
}

/// How to run the models.
#[derive(Clone, Debug)]
pub struct ScoreOptions {
    /// Threads for llama.cpp and for the statistics (default: physical cores).
    pub threads: usize,
    /// Tokens per decode.
    pub window: usize,
    /// Tokens per llama.cpp micro-batch (`n_ubatch`; default
    /// [`DEFAULT_UBATCH`], at most the window). The logits of a micro-batch
    /// are one buffer of vocabulary × ubatch floats (128 MiB for Gemma 3 at
    /// 128) besides the context's own copy for the window.
    pub ubatch: Option<usize>,
    /// Layers offloaded to a GPU (builds with the `cuda` feature).
    pub gpu_layers: Option<u32>,
    /// Let llama.cpp repack weights for its CPU GEMM kernels (model option
    /// `repack`, default off as in generation).
    pub repack: bool,
    /// Let llama.cpp use its AMX layout (model option `amx`, default off:
    /// see [`crate::cpu`]).
    pub amx: bool,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            threads: crate::sys::physical_cores(),
            window: DEFAULT_WINDOW,
            ubatch: None,
            gpu_layers: None,
            repack: false,
            amx: false,
        }
    }
}

/// Throughput of a [`Scorer::score`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ScoreTimings {
    /// Tokens decoded by each model.
    pub tokens: u64,
    /// Of those, tokens scored.
    pub scored: u64,
    /// Seconds in `llama_decode`, all models.
    pub decode_secs: f64,
    /// Seconds computing the statistics from the logits.
    pub stats_secs: f64,
    /// Wall seconds of the whole call.
    pub wall_secs: f64,
}

/// A loaded model: its weights, chat template and BOS.
pub struct TeacherModel {
    model: LlamaModel,
    template: Option<LlamaChatTemplate>,
    bos: Option<LlamaToken>,
    /// The file.
    pub path: PathBuf,
}

impl TeacherModel {
    /// Loads a GGUF (validated first: a corrupt file would abort llama.cpp).
    pub fn load(
        path: &Path,
        chat_template: &str,
        options: &ScoreOptions,
    ) -> Result<Self, BackendError> {
        crate::gguf::GgufFile::open(path).map_err(|e| BackendError::Load(e.to_string()))?;
        let backend = llama()?;
        warn_once_about_simd();
        let mut params = LlamaModelParams::default();
        if let Some(layers) = options.gpu_layers {
            params = params.with_n_gpu_layers(layers);
        }
        take_llama_errors();
        let loaded = {
            let _guard = LOAD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            crate::cpu::select(crate::cpu::Layouts {
                amx: options.amx,
                repack: options.repack,
            });
            LlamaModel::load_from_file(backend, path, &params)
        };
        let model = loaded.map_err(|e| {
            BackendError::Load(format!("{}: {e} {}", path.display(), take_llama_errors()))
        })?;
        let (template, _) = crate::local::chat_template(&model, chat_template)?;
        let bos = {
            let vocab = model.vocab();
            vocab.should_add_bos().then(|| vocab.bos())
        };
        Ok(TeacherModel {
            model,
            template,
            bos,
            path: path.to_path_buf(),
        })
    }

    /// A prompt's tokens as generation sees them.
    pub fn prompt_tokens(&self, prompt: &Prompt) -> Vec<i32> {
        crate::local::prompt_tokens(&self.model, self.template.as_ref(), self.bos, prompt)
            .into_iter()
            .map(|t| t.0)
            .collect()
    }

    /// An answer's tokens (no BOS, special-token text kept as text).
    pub fn answer_tokens(&self, text: &str) -> Vec<i32> {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), false, false)
            .into_iter()
            .map(|t| t.0)
            .collect()
    }

    /// The vocabulary size.
    pub fn n_vocab(&self) -> usize {
        self.model.n_vocab() as usize
    }

    /// `text` cut into the chunks llama-perplexity scores: tokenized with the
    /// BOS, `n_ctx` tokens per chunk (the rest dropped), each chunk's first
    /// token replaced by the BOS when the model adds one, and only the
    /// second half of each chunk scored (tokens `n_ctx/2 + 1 .. n_ctx`, each
    /// predicted with at least half a context before it).
    pub fn perplexity_chunks(&self, text: &str, n_ctx: usize) -> Vec<Sequence> {
        let tokens: Vec<i32> = self
            .model
            .vocab()
            .tokenize(text.as_bytes(), true, false)
            .into_iter()
            .map(|t| t.0)
            .collect();
        tokens
            .chunks_exact(n_ctx)
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.to_vec();
                if let Some(bos) = self.bos {
                    c[0] = bos.0;
                }
                Sequence {
                    tokens: c,
                    first: n_ctx / 2 + 1,
                    group: i,
                }
            })
            .collect()
    }

    fn context(&self, n_ctx: u32, options: &ScoreOptions) -> Result<LlamaContext<'_>, String> {
        let window = options.window as u32;
        let ubatch = (options.ubatch.unwrap_or(DEFAULT_UBATCH) as u32).clamp(1, window);
        let cp = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(window)
            .with_n_ubatch(ubatch)
            .with_n_seq_max(MAX_PACKED as u32)
            .with_kv_unified(true)
            .with_n_threads(options.threads as i32)
            .with_n_threads_batch(options.threads as i32);
        self.model
            .new_context(llama().map_err(|e| e.to_string())?, cp)
            .map_err(|e| format!("{}: {e} {}", self.path.display(), take_llama_errors()))
    }

    /// Greedy continuation of `prompt` (tokens), at most `max_tokens`,
    /// stopping at an end-of-generation token (not included).
    pub fn greedy(
        &self,
        prompt: &[i32],
        max_tokens: usize,
        options: &ScoreOptions,
    ) -> Result<Vec<i32>, String> {
        let n_ctx = (prompt.len() + max_tokens + 1).max(options.window) as u32;
        let mut ctx = self.context(n_ctx, options)?;
        let mut batch = LlamaBatch::new(options.window.max(1), 1);
        let mut out = Vec::new();
        let mut pos = 0usize;
        for (k, piece) in prompt.chunks(options.window).enumerate() {
            batch.clear();
            for (i, &t) in piece.iter().enumerate() {
                let last = pos + i + 1 == prompt.len();
                batch
                    .add(LlamaToken(t), (pos + i) as i32, &[0], last)
                    .map_err(|e| e.to_string())?;
            }
            ctx.decode(&mut batch)
                .map_err(|e| format!("decoding chunk {k}: {e}"))?;
            pos += piece.len();
        }
        let vocab = self.model.vocab();
        while out.len() < max_tokens {
            let logits = ctx.get_logits_ith(batch.n_tokens() - 1);
            let next = kernel::argmax(logits).0 as i32;
            if vocab.is_eog(LlamaToken(next)) {
                break;
            }
            out.push(next);
            batch.clear();
            batch
                .add(LlamaToken(next), pos as i32, &[0], true)
                .map_err(|e| e.to_string())?;
            ctx.decode(&mut batch).map_err(|e| e.to_string())?;
            pos += 1;
        }
        Ok(out)
    }
}

/// Teacher-forced fidelity of several models against a reference.
pub struct Scorer<'m> {
    reference: &'m TeacherModel,
    quants: Vec<&'m TeacherModel>,
    options: ScoreOptions,
}

/// One decode: tokens `(seq slot, sequence index, position)` from `start`.
struct Step {
    /// (sequence index, token range) per packed sequence.
    parts: Vec<(usize, std::ops::Range<usize>)>,
    /// Clear the KV cache first.
    fresh: bool,
}

fn plan(seqs: &[Sequence], window: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < seqs.len() {
        let len = seqs[i].tokens.len();
        if len > window {
            for (k, start) in (0..len).step_by(window).enumerate() {
                steps.push(Step {
                    parts: vec![(i, start..(start + window).min(len))],
                    fresh: k == 0,
                });
            }
            i += 1;
            continue;
        }
        let mut parts = Vec::new();
        let mut used = 0;
        while i < seqs.len() && parts.len() < MAX_PACKED && used + seqs[i].tokens.len() <= window {
            used += seqs[i].tokens.len();
            parts.push((i, 0..seqs[i].tokens.len()));
            i += 1;
        }
        steps.push(Step { parts, fresh: true });
    }
    steps
}

impl<'m> Scorer<'m> {
    /// A scorer of `quants` against `reference`.
    pub fn new(
        reference: &'m TeacherModel,
        quants: Vec<&'m TeacherModel>,
        options: ScoreOptions,
    ) -> Self {
        Scorer {
            reference,
            quants,
            options,
        }
    }

    /// Runs every model over `seqs` once; returns, per quantization, the
    /// sums of each group (`groups` of them) and the timings.
    pub fn score(
        &self,
        seqs: &[Sequence],
        groups: usize,
    ) -> Result<(Vec<Vec<FidelitySums>>, ScoreTimings), String> {
        let t0 = Instant::now();
        let window = self.options.window.max(1);
        let n_vocab = self.reference.n_vocab();
        for q in &self.quants {
            if q.n_vocab() != n_vocab {
                return Err(format!(
                    "{} has a vocabulary of {} tokens, the reference {} has {n_vocab}",
                    q.path.display(),
                    q.n_vocab(),
                    self.reference.path.display()
                ));
            }
        }
        for (i, s) in seqs.iter().enumerate() {
            if s.first == 0 || s.group >= groups {
                return Err(format!(
                    "sequence {i}: first scored token 0 or group out of range"
                ));
            }
            if let Some(t) = s.tokens.iter().find(|&&t| t < 0 || t as usize >= n_vocab) {
                return Err(format!("sequence {i}: token {t} outside the vocabulary"));
            }
        }
        let longest = seqs.iter().map(|s| s.tokens.len()).max().unwrap_or(0);
        let n_ctx = longest.max(window).next_multiple_of(256) as u32;
        let models: Vec<&TeacherModel> = std::iter::once(self.reference)
            .chain(self.quants.iter().copied())
            .collect();
        let mut ctxs = models
            .iter()
            .map(|m| m.context(n_ctx, &self.options))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = vec![vec![FidelitySums::default(); groups]; self.quants.len()];
        let mut batch = LlamaBatch::new(window, MAX_PACKED as i32);
        let mut timings = ScoreTimings::default();
        let threads = self.options.threads.max(1);
        for step in plan(seqs, window) {
            // Rows with logits: (batch index, sequence, position).
            let mut rows = Vec::new();
            batch.clear();
            for (slot, (si, range)) in step.parts.iter().enumerate() {
                let s = &seqs[*si];
                for pos in range.clone() {
                    let wanted = pos + 1 >= s.first && pos + 1 < s.tokens.len();
                    if wanted {
                        rows.push((batch.n_tokens(), *si, pos));
                    }
                    batch
                        .add(
                            LlamaToken(s.tokens[pos]),
                            pos as i32,
                            &[slot as i32],
                            wanted,
                        )
                        .map_err(|e| e.to_string())?;
                }
            }
            timings.tokens += u64::from(batch.n_tokens() as u32);
            timings.scored += rows.len() as u64;
            let td = Instant::now();
            for (m, ctx) in models.iter().zip(ctxs.iter_mut()) {
                if step.fresh {
                    ctx.clear_kv_cache();
                }
                ctx.decode(&mut batch)
                    .map_err(|e| format!("{}: decoding: {e}", m.path.display()))?;
            }
            timings.decode_secs += td.elapsed().as_secs_f64();
            if rows.is_empty() {
                continue;
            }
            let ts = Instant::now();
            let reference: Vec<&[f32]> = rows
                .iter()
                .map(|&(b, _, _)| ctxs[0].get_logits_ith(b))
                .collect();
            let targets: Vec<usize> = rows
                .iter()
                .map(|&(_, si, pos)| seqs[si].tokens[pos + 1] as usize)
                .collect();
            let quants: Vec<Vec<&[f32]>> = ctxs[1..]
                .iter()
                .map(|ctx| {
                    rows.iter()
                        .map(|&(b, _, _)| ctx.get_logits_ith(b))
                        .collect()
                })
                .collect();
            let per_token = parallel_rows(&reference, &quants, &targets, threads);
            for (qi, tokens) in per_token.iter().enumerate() {
                for (t, &(_, si, _)) in tokens.iter().zip(&rows) {
                    out[qi][seqs[si].group].push(t);
                }
            }
            timings.stats_secs += ts.elapsed().as_secs_f64();
        }
        timings.wall_secs = t0.elapsed().as_secs_f64();
        Ok((out, timings))
    }
}

/// [`token_fidelity`] of every row of every quantization against the
/// reference's row, on `threads` threads (an even share of the rows each);
/// per quantization, in row order.
fn parallel_rows(
    reference: &[&[f32]],
    quants: &[Vec<&[f32]>],
    targets: &[usize],
    threads: usize,
) -> Vec<Vec<TokenFidelity>> {
    let rows = reference.len();
    let items = rows * quants.len();
    let per = items.div_ceil(threads.max(1)).max(1);
    let one = |k: usize| {
        let (q, r) = (k / rows, k % rows);
        token_fidelity(reference[r], quants[q][r], targets[r])
    };
    let flat: Vec<TokenFidelity> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..items)
            .step_by(per)
            .map(|start| {
                s.spawn(move || {
                    (start..(start + per).min(items))
                        .map(one)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a statistics thread panicked"))
            .collect()
    });
    flat.chunks(rows.max(1)).map(<[_]>::to_vec).collect()
}

/// Runs a [`FidelityJob`] as `cargo eval fidelity` shows it: a table on
/// stderr, `fidelity.json` in the run directory. Returns the exit code.
pub fn run_job(job: &FidelityJob) -> i32 {
    match run_job_inner(job) {
        Ok(report) => {
            eprint!("{}", render_table(&report));
            exit::OK
        }
        Err((code, e)) => {
            eprintln!("error: {e}");
            code
        }
    }
}

fn run_job_inner(job: &FidelityJob) -> Result<FidelityReport, (i32, String)> {
    let usage = |e: String| (exit::USAGE, e);
    let failed = |e: String| (exit::ERRORED, e);
    let records =
        litmus_core::run::store::read_run(&job.run_dir).map_err(|e| usage(e.to_string()))?;
    let FidelityInputs {
        answers,
        keys,
        tags,
    } = FidelityInputs::from_records(&records, job);
    if answers.is_empty() {
        return Err(usage(format!(
            "the run in {} has no samples of model `{}` with their prompts",
            job.run_dir.display(),
            job.model
        )));
    }
    let group_of: HashMap<(&str, &str), usize> = keys
        .iter()
        .enumerate()
        .map(|(i, (e, s))| ((e.as_str(), s.as_str()), i))
        .collect();
    // The model's CPU options, as generation applies them.
    let flag = |key: &str| -> Result<bool, (i32, String)> {
        job.options.get(key).map_or(Ok(false), |v| {
            crate::settings::parse_bool(key, v).map_err(|e| usage(e.to_string()))
        })
    };
    let options = ScoreOptions {
        threads: job.threads.unwrap_or_else(crate::sys::physical_cores),
        window: job.window.unwrap_or(DEFAULT_WINDOW),
        ubatch: None,
        gpu_layers: None,
        repack: flag("repack")?,
        amx: flag("amx")?,
    };
    if std::env::var_os("GGML_CPU_TILED_MM").is_none() {
        // Before this process's first matrix product (llama.cpp reads it
        // once), while no other thread of ours reads the environment.
        std::env::set_var(
            "GGML_CPU_TILED_MM",
            if flag("tiled_mm")? { "1" } else { "0" },
        );
    }
    let chat_template = job
        .options
        .get("chat_template")
        .cloned()
        .unwrap_or_else(|| "auto".into());
    let resolve = |source: &str| {
        crate::resolve_model_path(source).map_err(|e| usage(format!("{source}: {e}")))
    };
    let ref_path = resolve(&job.reference.source)?;
    let quant_paths = job
        .quants
        .iter()
        .map(|q| resolve(&q.source))
        .collect::<Result<Vec<_>, _>>()?;
    let digest = |p: &Path| {
        crate::models::file_digest(p).map_err(|e| failed(format!("{}: {e}", p.display())))
    };
    // The cache key of a quantization: both files, llama.cpp's release, the
    // answers (text, or "generate greedily" with the budget), the window, the
    // template and the CPU kernels (which change logits in their last bits). v2: the one-pass
    // statistics.
    let answers_key = {
        let mut h = String::new();
        h.push_str(&format!(
            "v2\0{}\0{}\0{}\0{}\0ubatch={} repack={} amx={} tiled_mm={:?} tiled_force={:?}\0",
            crate::LLAMA_CPP,
            options.window,
            chat_template,
            job.max_tokens,
            options.ubatch.unwrap_or(DEFAULT_UBATCH),
            options.repack,
            options.amx,
            // As llama.cpp reads them (`atoi`), so that `1` and ` 1` are one entry.
            crate::settings::llama_env_int("GGML_CPU_TILED_MM"),
            crate::settings::llama_env_int("GGML_CPU_TILED_MM_FORCE"),
        ));
        for a in &answers {
            h.push_str(&serde_json::to_string(&a.prompt).unwrap_or_default());
            h.push('\0');
            h.push_str(a.text.as_deref().unwrap_or("\u{1}greedy"));
            h.push('\0');
            h.push_str(&a.eval);
            h.push('\0');
            h.push_str(&a.setting);
            h.push('\0');
        }
        sha256_hex(h.as_bytes())
    };
    // The files' digests name the cache entries; without a cache they are not read.
    let ref_digest = match job.cache_dir {
        Some(_) => digest(&ref_path)?,
        None => String::new(),
    };
    let cache_file = |quant_digest: &str| {
        job.cache_dir.as_ref().map(|d| {
            d.join("fidelity").join(format!(
                "{}.json",
                sha256_hex(format!("{ref_digest}\0{quant_digest}\0{answers_key}").as_bytes())
            ))
        })
    };
    let mut n_seqs = answers.len();
    let mut generated = 0;
    let mut cached: Vec<Option<Vec<FidelitySums>>> = Vec::new();
    let mut cache_paths = Vec::new();
    let mut tokens_evaluated = 0;
    let mut tokens_scored = 0;
    for p in &quant_paths {
        let file = match job.cache_dir {
            Some(_) => cache_file(&digest(p)?),
            None => None,
        };
        let hit = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice::<CachedSums>(&b).ok())
            .filter(|c| c.keys == keys)
            .map(|c| {
                n_seqs = c.sequences;
                generated = c.generated;
                tokens_evaluated = c.tokens_evaluated;
                tokens_scored = c.tokens_scored;
                c.groups
            });
        cached.push(hit);
        cache_paths.push(file);
    }
    let t0 = Instant::now();
    let todo: Vec<usize> = (0..quant_paths.len())
        .filter(|&i| cached[i].is_none())
        .collect();
    if !todo.is_empty() {
        generated = 0;
        let reference = TeacherModel::load(&ref_path, &chat_template, &options)
            .map_err(|e| failed(e.to_string()))?;
        let mut seqs = Vec::new();
        let mut seen = HashSet::new();
        for a in &answers {
            let prompt = reference.prompt_tokens(&a.prompt);
            let answer = match &a.text {
                Some(t) => reference.answer_tokens(t),
                None => {
                    generated += 1;
                    reference
                        .greedy(&prompt, job.max_tokens as usize, &options)
                        .map_err(|e| failed(format!("{}: generating: {e}", a.eval)))?
                }
            };
            if answer.is_empty() {
                continue;
            }
            let mut tokens = prompt.clone();
            tokens.extend(&answer);
            // Greedy samples repeat: score each distinct answer once per
            // eval and setting.
            if !seen.insert((a.eval.clone(), a.setting.clone(), tokens.clone())) {
                continue;
            }
            seqs.push(Sequence {
                first: prompt.len(),
                tokens,
                group: group_of[&(a.eval.as_str(), a.setting.as_str())],
            });
        }
        n_seqs = seqs.len();
        if seqs.is_empty() {
            return Err(failed(format!(
                "no answer tokens to score: every answer of the run's {} sample(s) is empty",
                answers.len()
            )));
        }
        eprintln!(
            "fidelity: {} answers ({} generated greedily by {}), {} tokens, {} scored, {} model(s) against {}",
            seqs.len(),
            generated,
            job.reference.label,
            seqs.iter().map(|s| s.tokens.len()).sum::<usize>(),
            seqs.iter().map(|s| s.tokens.len() - s.first).sum::<usize>(),
            todo.len(),
            job.reference.label
        );
        let quants = todo
            .iter()
            .map(|&i| TeacherModel::load(&quant_paths[i], &chat_template, &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed(e.to_string()))?;
        let scorer = Scorer::new(&reference, quants.iter().collect(), options.clone());
        let (sums, timings) = scorer.score(&seqs, keys.len()).map_err(failed)?;
        eprintln!(
            "fidelity: {:.1} s, {:.0} tokens/s over all models ({:.1} s decoding, {:.1} s statistics)",
            timings.wall_secs,
            timings.tokens as f64 * (1 + todo.len()) as f64 / timings.wall_secs,
            timings.decode_secs,
            timings.stats_secs
        );
        tokens_evaluated = timings.tokens;
        tokens_scored = timings.scored;
        for (&i, groups) in todo.iter().zip(sums) {
            if let Some(f) = &cache_paths[i] {
                let c = CachedSums {
                    keys: keys.clone(),
                    sequences: n_seqs,
                    generated,
                    tokens_evaluated,
                    tokens_scored,
                    groups: groups.clone(),
                };
                if let Some(dir) = f.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = std::fs::write(f, serde_json::to_vec(&c).unwrap_or_default());
            }
            cached[i] = Some(groups);
        }
    }
    let configs = job
        .quants
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let groups = cached[i].as_ref().expect("measured or cached");
            ConfigFidelity::from_groups(q, groups, &keys, &tags, !todo.contains(&i))
        })
        .collect();
    if tokens_scored == 0 {
        tokens_scored = cached
            .iter()
            .flatten()
            .next()
            .map_or(0, |g| g.iter().map(|s| s.count).sum());
    }
    let report = FidelityReport {
        model: job.model.clone(),
        reference: job.reference.label.clone(),
        reference_source: job.reference.source.clone(),
        sequences: n_seqs,
        generated,
        tokens_evaluated,
        tokens_scored,
        seconds: t0.elapsed().as_secs_f64(),
        configs,
    };
    let path = job.run_dir.join(FIDELITY_FILE);
    let json = serde_json::to_vec_pretty(&report).expect("a report serializes");
    std::fs::write(&path, json).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    eprintln!("{:>12} {}", "Fidelity", path.display());
    Ok(report)
}

/// A quantization's measurement as the cache keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedSums {
    keys: Vec<(String, String)>,
    sequences: usize,
    generated: usize,
    /// The job's token counts (absent in entries written before they were kept).
    #[serde(default)]
    tokens_evaluated: u64,
    #[serde(default)]
    tokens_scored: u64,
    groups: Vec<FidelitySums>,
}

/// The job's table: one row per configuration.
pub fn render_table(r: &FidelityReport) -> String {
    let mut rows = vec![vec![
        "quant".to_string(),
        "tokens".into(),
        "mean KLD [95% CI]".into(),
        "median".into(),
        "p99".into(),
        "same top %".into(),
        "RMS Δp %".into(),
        "PPL ratio".into(),
    ]];
    for c in &r.configs {
        let s = &c.overall;
        let mut tokens = s.tokens.to_string();
        if s.nonfinite_tokens > 0 {
            tokens.push_str(&format!(" (+{} not finite)", s.nonfinite_tokens));
        }
        rows.push(vec![
            c.quantization.clone(),
            tokens,
            format!(
                "{:.5} [{:.5}, {:.5}]",
                s.mean_kld, s.kld_ci95[0], s.kld_ci95[1]
            ),
            format!("{:.5}", s.median_kld),
            format!("{:.4}", s.p99_kld),
            format!("{:.2} ± {:.2}", 100.0 * s.same_top, 100.0 * s.same_top_err),
            format!("{:.2}", 100.0 * s.rms_p_diff),
            format!(
                "{:.4}",
                if s.ppl_ref > 0.0 {
                    s.ppl / s.ppl_ref
                } else {
                    0.0
                }
            ),
        ]);
    }
    let mut out = format!(
        "Fidelity of {} against {} ({} answers, {} scored tokens each)\n",
        r.model, r.reference, r.sequences, r.tokens_scored
    );
    for line in litmus_core::output::console::table(&rows) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_pack_short_sequences_and_slice_long_ones() {
        let seq = |n: usize| Sequence {
            tokens: vec![1; n],
            first: 1,
            group: 0,
        };
        let seqs = [seq(100), seq(300), seq(200), seq(1100), seq(10)];
        let steps = plan(&seqs, 512);
        let shape: Vec<Vec<(usize, usize, usize)>> = steps
            .iter()
            .map(|s| s.parts.iter().map(|(i, r)| (*i, r.start, r.end)).collect())
            .collect();
        assert_eq!(
            shape,
            vec![
                vec![(0, 0, 100), (1, 0, 300)],
                vec![(2, 0, 200)],
                vec![(3, 0, 512)],
                vec![(3, 512, 1024)],
                vec![(3, 1024, 1100)],
                vec![(4, 0, 10)],
            ]
        );
        let fresh: Vec<bool> = steps.iter().map(|s| s.fresh).collect();
        assert_eq!(fresh, vec![true, true, true, false, false, true]);
    }
}
