//! The engine thread: one llama.cpp context decoding many sequences together
//! (continuous batching).
//!
//! Requests arrive on a channel. Each request is split into *groups* of
//! samples that share one evaluation of the prompt: the prompt is decoded into
//! the group's first sequence, then copied (`llama_memory_seq_cp`) to the
//! others, and every sample then draws its own tokens with its own seeded
//! sampler. Every step is one `llama_decode` holding one token per generating
//! sequence plus as many pending prompt tokens as fit in `n_batch`. Sequences
//! join as slots and KV space become free and leave as soon as they finish.
//!
//! When a request has more samples than free slots, its prompt is still
//! decoded once: the logits after the prompt are kept while samples wait, a
//! finished sample's slot is cut back to the prompt and handed to the next
//! sample, and a slot freed by another request copies the prompt from a
//! sibling still running.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use litmus_core::base::backend::{
    BackendError, FinishReason, Generation, SamplingParams, Timings, Usage,
};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;
use llama_cpp_2::token::LlamaToken;

use crate::text::TextAccumulator;

/// Tokens of context the penalties sampler looks back over.
const REPEAT_LAST_N: i32 = 64;

/// The answer to one request.
pub(crate) type Reply = Result<Vec<Generation>, BackendError>;

/// Where the answer to one request goes (called once, on the engine thread).
pub(crate) type Replier = Box<dyn FnOnce(Reply) + Send>;

/// A tokenized request, as the engine receives it.
pub(crate) struct EngineRequest {
    pub tokens: Vec<LlamaToken>,
    pub params: SamplingParams,
    pub samples: Vec<u32>,
    pub enqueued: Instant,
    pub reply: Replier,
}

/// Counters of the engine's work since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EngineStats {
    /// `llama_decode` calls.
    pub steps: u64,
    /// Tokens decoded (prompt and generated).
    pub tokens_decoded: u64,
    /// Tokens sampled.
    pub tokens_sampled: u64,
    /// Samples that started from their prompt as decoded for a sibling (kept
    /// in a finished sibling's slot or copied), instead of decoding it again.
    pub prompt_reuses: u64,
    /// Of those, samples that copied the prompt from a sibling still running.
    pub prompt_copies: u64,
    /// Most sequences generating in one step.
    pub max_active: u64,
    /// Throwaway tokens decoded beside generating sequences (see the
    /// engine's `fill_generation_step`).
    pub padding_tokens: u64,
    /// Steps decoded with fewer threads while the run was scoring.
    pub yielded_steps: u64,
    /// Steps that waited for scoring to end before decoding (see the
    /// engine's `yield_cores`).
    pub scoring_waits: u64,
    /// Generating sequences moved to a lower slot to close a gap (see the
    /// engine's `compact`).
    pub slot_moves: u64,
    /// KV positions still held by sequences when the engine last ran out of
    /// work (0 unless a finished sequence leaked its cells).
    pub kv_positions_held: u64,
    /// Seconds inside `llama_decode`.
    pub decode_secs: f64,
    /// Seconds drawing tokens (logits to token).
    pub sample_secs: f64,
    /// Seconds of the whole engine loop while busy.
    pub busy_secs: f64,
    /// Of `busy_secs`, the steps that decoded prompt chunks (the rest
    /// generated tokens).
    pub prompt_secs: f64,
}

impl EngineStats {
    /// The work of two engines together (a worker and the one that replaced it).
    pub fn plus(self, o: EngineStats) -> EngineStats {
        EngineStats {
            steps: self.steps + o.steps,
            tokens_decoded: self.tokens_decoded + o.tokens_decoded,
            tokens_sampled: self.tokens_sampled + o.tokens_sampled,
            prompt_reuses: self.prompt_reuses + o.prompt_reuses,
            prompt_copies: self.prompt_copies + o.prompt_copies,
            max_active: self.max_active.max(o.max_active),
            padding_tokens: self.padding_tokens + o.padding_tokens,
            slot_moves: self.slot_moves + o.slot_moves,
            yielded_steps: self.yielded_steps + o.yielded_steps,
            scoring_waits: self.scoring_waits + o.scoring_waits,
            kv_positions_held: o.kv_positions_held,
            decode_secs: self.decode_secs + o.decode_secs,
            sample_secs: self.sample_secs + o.sample_secs,
            busy_secs: self.busy_secs + o.busy_secs,
            prompt_secs: self.prompt_secs + o.prompt_secs,
        }
    }
}

pub(crate) enum Msg {
    Request(EngineRequest),
    Shutdown,
}

/// Fixed settings of one engine.
#[derive(Clone, Debug)]
pub(crate) struct EngineSettings {
    /// Sequences decoded together at most.
    pub n_seq: usize,
    /// Most tokens (prompt + generated) of one sequence.
    pub seq_limit: u32,
    /// KV cells the admission control may hand out (the context size).
    pub kv_capacity: u32,
    /// Most tokens in one `llama_decode`.
    pub n_batch: usize,
    /// Keep generating through end-of-generation tokens (benchmarks).
    pub ignore_eos: bool,
    /// Decode greedy requests once and copy the text to every sample.
    pub dedupe_greedy: bool,
    /// One KV cache for all sequences (else one stream per sequence).
    pub kv_unified: bool,
    /// The fewest rows of a generation step: fewer generating sequences are
    /// padded with throwaway tokens in free slots (see [`Engine::step`]).
    pub pad_rows: usize,
    /// llama.cpp threads of a step when no scoring runs.
    pub threads: i32,
    /// Decode with a thread fewer per thread of the run that is scoring
    /// (see [`litmus_core::base::busy`]), at least one.
    pub yield_cores: bool,
}

struct Job {
    req: EngineRequest,
    /// Sample indices still to be started (front first).
    to_start: VecDeque<u32>,
    /// Generations finished so far (deduplicated greedy jobs: one).
    results: Vec<Generation>,
    /// Number of sequences this job runs in total.
    n_sequences: usize,
    /// Whether one greedy sequence stands for all samples.
    deduped: bool,
    /// The logits after the last prompt token, kept while samples are still to
    /// start, so that later groups copy the prompt's KV from a running sibling
    /// instead of decoding the prompt again.
    prompt_logits: Option<Vec<f32>>,
}

struct Group {
    job: u64,
    /// Slot indices; the first one receives the prompt.
    slots: Vec<usize>,
    /// Prompt tokens submitted so far.
    n_past: usize,
    prompt_started: Option<Instant>,
    /// Batch index of the last prompt token, in the step that submits it.
    last_idx: Option<i32>,
    /// KV cells reserved for the shared prompt.
    reserved_prompt: u32,
    /// Samples of this group still running.
    alive: usize,
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum SlotState {
    Free,
    /// Waiting for its group's prompt.
    Prompt,
    /// Generating; `pending` is the token to decode next.
    Generating,
    /// Finished, its cache cut back to the prompt, which the job's next
    /// sample takes over in the same step (else it is freed).
    Parked,
}

struct Slot {
    state: SlotState,
    job: u64,
    group: u64,
    sample: u32,
    /// How this sample draws its tokens.
    sampling: Sampling,
    /// Position of the next token to decode.
    pos: i32,
    pending: Option<LlamaToken>,
    batch_idx: Option<i32>,
    n_gen: u32,
    max_gen: u32,
    /// Whether `max_gen` was cut by the context limit.
    ctx_limited: bool,
    reserved_gen: u32,
    acc: TextAccumulator,
    /// Where the answer ends by its shape (a completed definition), if the
    /// request has a stop rule.
    end: Option<litmus_core::base::backend::StopScanner>,
    t_prompt_start: Instant,
    t_prompt_end: Instant,
    t_first: Option<Instant>,
}

impl Slot {
    fn free() -> Self {
        let now = Instant::now();
        Slot {
            state: SlotState::Free,
            job: 0,
            group: 0,
            sample: 0,
            sampling: Sampling::Argmax,
            pos: 0,
            pending: None,
            batch_idx: None,
            n_gen: 0,
            max_gen: 0,
            ctx_limited: false,
            reserved_gen: 0,
            acc: TextAccumulator::new(),
            end: None,
            t_prompt_start: now,
            t_prompt_end: now,
            t_first: None,
        }
    }
}

/// Fold a 64-bit sample seed into the 32-bit seed llama.cpp takes (avoiding
/// `LLAMA_DEFAULT_SEED`, which means "random").
pub(crate) fn seed32(seed: u64) -> u32 {
    let s = (seed ^ (seed >> 32)) as u32;
    if s == u32::MAX {
        0x9E37_79B9
    } else {
        s
    }
}

/// How long an engine that delivered answers waits for them to be scored
/// before its next step (see `Engine::yield_cores`).
const SCORING_GRACE: Duration = Duration::from_micros(1500);

/// The longest an engine waits for scoring to end before it decodes a step
/// with a thread fewer instead (see `Engine::yield_cores`).
const MAX_SCORING_WAIT: Duration = Duration::from_millis(250);

pub(crate) struct Engine<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    /// The context as llama.cpp's C API knows it, for what the binding does
    /// not expose (the thread count); `None` when it could not be found.
    raw_ctx: Option<std::ptr::NonNull<llama_cpp_sys_2::llama_context>>,
    /// Threads llama.cpp decodes with now.
    threads_now: i32,
    /// The last step delivered answers.
    answered: bool,
    /// Steps after which answers were delivered.
    answering_steps: u64,
    /// Waits for scoring in a row that saw none start.
    missed_waits: u32,
    /// How long the last step with every thread took to decode.
    full_step: Duration,
    /// A wait for scoring to end ran out, and no step has started without
    /// scoring since: long scoring (a compiler), so steps yield at once.
    long_scoring: bool,
    /// The machine's physical cores (the scorers' cores are shared among
    /// the engines computing on them).
    cores: usize,
    batch: LlamaBatch<'static>,
    settings: EngineSettings,
    n_vocab: i32,
    /// `is_eog[token]`.
    is_eog: Vec<bool>,
    eog_bias: Vec<LlamaLogitBias>,
    /// The throwaway token that pads a lone generating sequence (see `step`).
    pad_token: LlamaToken,
    slots: Vec<Slot>,
    jobs: HashMap<u64, Job>,
    groups: HashMap<u64, Group>,
    /// Jobs with samples not yet started, first come first served.
    queue: VecDeque<u64>,
    /// Groups still submitting their prompt, in order.
    prompting: VecDeque<u64>,
    reserved: u32,
    next_id: u64,
    piece: Vec<u8>,
    /// Reused candidate buffer of the top-k path.
    candidates: LlamaTokenDataArray,
    stats: EngineStats,
    shared_stats: Arc<Mutex<EngineStats>>,
    /// Answers of this step, sent once the step's statistics are published.
    outbox: Vec<(Replier, Reply)>,
}

impl<'m> Engine<'m> {
    pub fn new(
        model: &'m LlamaModel,
        ctx: LlamaContext<'m>,
        settings: EngineSettings,
        shared_stats: Arc<Mutex<EngineStats>>,
    ) -> Self {
        let vocab = model.vocab();
        let n_vocab = vocab.n_tokens();
        let is_eog: Vec<bool> = (0..n_vocab).map(|t| vocab.is_eog(LlamaToken(t))).collect();
        let eog_bias = is_eog
            .iter()
            .enumerate()
            .filter(|(_, e)| **e)
            .map(|(t, _)| LlamaLogitBias::new(LlamaToken(t as i32), f32::NEG_INFINITY))
            .collect();
        let batch = LlamaBatch::new(settings.n_batch.max(settings.n_seq + 1), 1);
        let pad_token = match vocab.bos() {
            t if (0..n_vocab).contains(&t.0) => t,
            _ => LlamaToken(0),
        };
        let raw_ctx = raw_context(&ctx);
        Engine {
            pad_token,
            model,
            raw_ctx,
            threads_now: settings.threads,
            answered: false,
            answering_steps: 0,
            missed_waits: 0,
            full_step: Duration::ZERO,
            long_scoring: false,
            cores: crate::sys::physical_cores(),
            ctx,
            batch,
            n_vocab,
            is_eog,
            eog_bias,
            slots: (0..settings.n_seq).map(|_| Slot::free()).collect(),
            settings,
            jobs: HashMap::new(),
            groups: HashMap::new(),
            queue: VecDeque::new(),
            prompting: VecDeque::new(),
            reserved: 0,
            next_id: 1,
            piece: Vec::with_capacity(64),
            candidates: LlamaTokenDataArray::new(Vec::with_capacity(1024), true),
            stats: EngineStats::default(),
            shared_stats,
            outbox: Vec::new(),
        }
    }

    fn busy(&self) -> bool {
        !self.jobs.is_empty()
    }

    /// Run until `Shutdown` or until every sender is gone.
    pub fn run(mut self, rx: Receiver<Msg>) {
        loop {
            // Intake: block when idle, otherwise take whatever is waiting.
            if !self.busy() {
                match rx.recv() {
                    Ok(Msg::Request(r)) => self.accept(r),
                    Ok(Msg::Shutdown) | Err(_) => return,
                }
            }
            loop {
                match rx.recv_timeout(Duration::ZERO) {
                    Ok(Msg::Request(r)) => self.accept(r),
                    Ok(Msg::Shutdown) => return,
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        if !self.busy() {
                            return;
                        }
                        break;
                    }
                }
            }
            self.admit();
            self.compact();
            self.step();
        }
    }

    fn accept(&mut self, req: EngineRequest) {
        if req.samples.is_empty() {
            (req.reply)(Ok(Vec::new()));
            return;
        }
        if req.params.max_tokens == 0 {
            let now = Instant::now();
            let total_ms = ms(req.enqueued, now);
            let gens = req
                .samples
                .iter()
                .map(|&sample| Generation {
                    sample,
                    text: String::new(),
                    finish: FinishReason::Length,
                    usage: Usage::counted(req.tokens.len() as u32, 0),
                    timings: Timings {
                        prompt_ms: None,
                        generation_ms: None,
                        ttft_ms: None,
                        total_ms,
                    },
                    served_by: None,
                })
                .collect();
            (req.reply)(Ok(gens));
            return;
        }
        let deduped =
            self.settings.dedupe_greedy && is_greedy(&req.params) && req.samples.len() > 1;
        let to_start: VecDeque<u32> = if deduped {
            VecDeque::from([req.samples[0]])
        } else {
            req.samples.iter().copied().collect()
        };
        let id = self.next_id;
        self.next_id += 1;
        let n_sequences = to_start.len();
        self.jobs.insert(
            id,
            Job {
                req,
                to_start,
                results: Vec::new(),
                n_sequences,
                deduped,
                prompt_logits: None,
            },
        );
        self.queue.push_back(id);
    }

    /// Start groups for waiting jobs while slots and KV space allow.
    fn admit(&mut self) {
        self.admit_jobs();
        for si in 0..self.slots.len() {
            if self.slots[si].state == SlotState::Parked {
                let _ = self.ctx.clear_kv_cache_seq(Some(si as u32), None, None);
                self.slots[si] = Slot::free();
            }
        }
    }

    fn admit_jobs(&mut self) {
        while let Some(&jid) = self.queue.front() {
            // The job's parked slots first: they hold its prompt already.
            let parked = |s: &Slot| s.state == SlotState::Parked && s.job == jid;
            let free: Vec<usize> = (0..self.slots.len())
                .filter(|&i| parked(&self.slots[i]))
                .chain((0..self.slots.len()).filter(|&i| self.slots[i].state == SlotState::Free))
                .collect();
            if free.is_empty() {
                return;
            }
            let job = self.jobs.get_mut(&jid).expect("queued job exists");
            let n_prompt = job.req.tokens.len() as u32;
            let room = self.settings.seq_limit.saturating_sub(n_prompt);
            let gen_budget = job.req.params.max_tokens.min(room).max(1);
            let avail = self.settings.kv_capacity.saturating_sub(self.reserved);
            if avail < n_prompt + gen_budget {
                if self.reserved == 0 {
                    // Cannot fit even alone: the request is larger than the cache.
                    let job = self.jobs.remove(&jid).expect("job");
                    self.queue.pop_front();
                    (job.req.reply)(Err(BackendError::PromptTooLong(format!(
                        "{n_prompt} prompt tokens + {gen_budget} to generate exceed the KV cache of {} tokens",
                        self.settings.kv_capacity
                    ))));
                    continue;
                }
                return;
            }
            let by_kv = ((avail - n_prompt) / gen_budget) as usize;
            let k = job.to_start.len().min(free.len()).min(by_kv).max(1);
            // A parked or running sibling whose cache still holds the whole
            // prompt (a sliding-window cache may have dropped its start) lends it.
            let lender = job.prompt_logits.as_ref().and_then(|_| {
                free.first()
                    .copied()
                    .filter(|&si| parked(&self.slots[si]))
                    .or_else(|| {
                        (0..self.slots.len()).find(|&si| {
                            let s = &self.slots[si];
                            s.state == SlotState::Generating
                                && s.job == jid
                                && self.ctx.kv_cache_seq_pos_min(si as i32) == 0
                        })
                    })
            });
            let gid = self.next_id;
            self.next_id += 1;
            let slots = free[..k].to_vec();
            let now = Instant::now();
            // Parked slots (the lender among them, if parked) hold the prompt.
            let holding: Vec<usize> = slots
                .iter()
                .copied()
                .filter(|&si| parked(&self.slots[si]))
                .collect();
            for &si in &slots {
                let sample = job.to_start.pop_front().expect("sample to start");
                let sampling = build_sampling(
                    &job.req.params,
                    sample,
                    self.n_vocab,
                    self.settings.ignore_eos.then_some(&self.eog_bias[..]),
                    &job.req.tokens,
                );
                let slot = &mut self.slots[si];
                *slot = Slot::free();
                slot.end = job.req.params.stop_rule.as_ref().map(|r| r.scanner());
                slot.state = SlotState::Prompt;
                slot.job = jid;
                slot.group = gid;
                slot.sample = sample;
                slot.sampling = sampling;
                slot.max_gen = gen_budget;
                slot.ctx_limited = room < job.req.params.max_tokens;
                slot.reserved_gen = gen_budget;
                slot.t_prompt_start = now;
            }
            self.reserved += n_prompt + gen_budget * k as u32;
            // Taken out while this group draws from them; put back below if
            // samples are still waiting.
            let logits = if lender.is_some() {
                job.prompt_logits.take()
            } else {
                None
            };
            let all_started = job.to_start.is_empty();
            if all_started {
                job.prompt_logits = None;
                self.queue.pop_front();
            }
            self.groups.insert(
                gid,
                Group {
                    job: jid,
                    alive: slots.len(),
                    slots: slots.clone(),
                    n_past: lender.map_or(0, |_| n_prompt as usize),
                    prompt_started: None,
                    last_idx: None,
                    reserved_prompt: n_prompt,
                },
            );
            let (Some(lender), Some(logits)) = (lender, logits) else {
                self.prompting.push_back(gid);
                continue;
            };
            for &si in &slots {
                if !holding.contains(&si) {
                    self.copy_prompt(lender, si, n_prompt);
                    self.stats.prompt_copies += 1;
                }
                self.stats.prompt_reuses += 1;
            }
            for &si in &slots {
                let slot = &mut self.slots[si];
                slot.state = SlotState::Generating;
                slot.pos = n_prompt as i32;
                slot.t_prompt_end = now;
            }
            for &si in &slots {
                self.sample_and_advance(si, Draw::Prompt(&logits));
            }
            if !all_started {
                if let Some(job) = self.jobs.get_mut(&jid) {
                    job.prompt_logits = Some(logits);
                }
            }
        }
    }

    /// Decodes the next step with fewer threads while the run scores
    /// generated code (a sandboxed program takes a core, and llama.cpp's
    /// threads, which wait for each other at every operation, would stall
    /// behind the one that lost its core), and with every thread again once
    /// it does not. This engine gives up its share of the scorers: `threads`
    /// × scorers ÷ the machine's cores, rounded up, keeping one.
    ///
    /// Only steps of two rows or more yield, whose numbers do not depend on
    /// the thread count (checked on the default model: 232 samples the same
    /// at 1 and 2 threads): llama.cpp's CPU flash attention splits the KV
    /// cache by thread (from 512 cells) only for a single query row in a
    /// single stream, where the thread count changes the rounding. Padded
    /// generation steps hold two sequences or more; a one-row step is a
    /// prompt's last chunk of one token or a step of an engine that does not
    /// pad (one slot).
    ///
    /// Answers delivered by the last step are usually scored at once, but
    /// the scorer starts a moment after this engine would start its next
    /// step; so after delivering answers the engine waits up to
    /// [`SCORING_GRACE`] for scoring to start. Where answers are not scored
    /// by running code, three such waits in a row that see no scoring stop
    /// the waiting, except on every 16th step that delivers answers.
    ///
    /// A step with a thread fewer takes twice as long or more, while scoring
    /// an answer (a sandboxed interpreter) is usually over in a fraction of
    /// that: so before yielding, the engine waits for scoring to end, up to
    /// as long as its last step with every thread took (at most
    /// [`MAX_SCORING_WAIT`]). When scoring outlasts that (a compiler), the
    /// following steps yield without waiting until one starts with no
    /// scoring running.
    fn yield_cores(&mut self, rows: i32) {
        let Some(raw) = self.raw_ctx.filter(|_| self.settings.yield_cores) else {
            return;
        };
        let may_yield = rows >= 2;
        let answered = std::mem::take(&mut self.answered);
        let mut busy = litmus_core::base::busy::scoring_now();
        if answered && busy == 0 && may_yield {
            self.answering_steps += 1;
            if self.missed_waits < 3 || self.answering_steps % 16 == 0 {
                let until = Instant::now() + SCORING_GRACE;
                while busy == 0 && Instant::now() < until {
                    std::thread::sleep(Duration::from_micros(100));
                    busy = litmus_core::base::busy::scoring_now();
                }
                self.missed_waits = if busy == 0 { self.missed_waits + 1 } else { 0 };
            }
        }
        let threads = self.settings.threads;
        let want = |busy: u32| {
            if may_yield && busy > 0 {
                let threads = threads.max(1) as u64;
                let share = (u64::from(busy) * threads).div_ceil(self.cores.max(1) as u64);
                threads.saturating_sub(share).max(1) as i32
            } else {
                threads
            }
        };
        if busy == 0 {
            self.long_scoring = false;
        } else if want(busy) < threads && !self.long_scoring {
            let until = Instant::now() + self.full_step.min(MAX_SCORING_WAIT);
            while busy > 0 && Instant::now() < until {
                std::thread::sleep(Duration::from_micros(200));
                busy = litmus_core::base::busy::scoring_now();
            }
            self.long_scoring = busy > 0;
            self.stats.scoring_waits += 1;
        }
        let want = want(busy);
        if want != self.threads_now {
            // SAFETY: `raw` is this engine's live context (see `raw_context`).
            unsafe { llama_cpp_sys_2::llama_set_n_threads(raw.as_ptr(), want, want) };
            self.threads_now = want;
        }
        if want < threads {
            self.stats.yielded_steps += 1;
        }
    }

    /// Moves generating sequences from the top of the slot range into free
    /// slots between generating ones, so that the generating slots stay
    /// together and a step pads no gap (see `fill_generation_step`): once no
    /// work is waiting, sequences finish at random places, and without this a
    /// step of 10 sequences could decode 30 rows.
    ///
    /// A move copies the sequence's KV stream whole (llama.cpp does it before
    /// the next decode) and frees the old one; the sequence's numbers do not
    /// change, as a step computes each row alike wherever it sits.
    fn compact(&mut self) {
        if self.settings.kv_unified {
            return;
        }
        let generating = |s: &Slot| s.state == SlotState::Generating;
        loop {
            let (Some(first), Some(last)) = (
                self.slots.iter().position(generating),
                self.slots.iter().rposition(generating),
            ) else {
                return;
            };
            let Some(hole) = (first + 1..last).find(|&i| self.slots[i].state == SlotState::Free)
            else {
                return;
            };
            // A cross-stream copy resets the destination first.
            self.ctx
                .copy_kv_cache_seq(last as i32, hole as i32, None, None)
                .expect("sequence ids fit in i32");
            let _ = self.ctx.clear_kv_cache_seq(Some(last as u32), None, None);
            self.slots.swap(hole, last);
            if let Some(group) = self.groups.get_mut(&self.slots[hole].group) {
                for si in &mut group.slots {
                    if *si == last {
                        *si = hole;
                    }
                }
            }
            self.stats.slot_moves += 1;
        }
    }

    /// Give slot `dst` the first `n_prompt` positions of slot `src`'s sequence.
    fn copy_prompt(&mut self, src: usize, dst: usize, n_prompt: u32) {
        if self.settings.kv_unified {
            self.ctx
                .copy_kv_cache_seq(src as i32, dst as i32, Some(0), Some(n_prompt))
                .expect("sequence ids fit in i32");
        } else {
            // Across KV streams llama.cpp copies whole streams only.
            self.ctx
                .copy_kv_cache_seq(src as i32, dst as i32, None, None)
                .expect("sequence ids fit in i32");
            let _ = self
                .ctx
                .clear_kv_cache_seq(Some(dst as u32), Some(n_prompt), None);
        }
    }

    /// One `llama_decode` and everything that follows from it.
    ///
    /// A step decodes either the next chunk of one prompt, alone, or one token
    /// of every generating sequence: never both, and never two prompts
    /// together. llama.cpp splits a batch that mixes sequences of different
    /// lengths into micro-batches whose shapes depend on the mix, and its CPU
    /// kernels pick their arithmetic by shape (llamafile's GEMM needs two rows
    /// or more, flash attention has per-shape paths), so a mixed batch would
    /// make a sample's numbers depend on what else is in flight. With these
    /// two shapes (and separate KV streams) they do not: a sample's text is
    /// the same alone and in any batch, whatever the timing.
    fn step(&mut self) {
        let t_step = Instant::now();
        let prompt_step = !self.prompting.is_empty();
        self.step_inner();
        if self.jobs.is_empty() {
            // Idle: every sequence's cells must have been released.
            self.stats.kv_positions_held = (0..self.slots.len() as i32)
                .map(|s| {
                    let max = self.ctx.kv_cache_seq_pos_max(s);
                    if max < 0 {
                        0
                    } else {
                        (max - self.ctx.kv_cache_seq_pos_min(s).max(0) + 1) as u64
                    }
                })
                .sum();
        }
        let secs = t_step.elapsed().as_secs_f64();
        self.stats.busy_secs += secs;
        if prompt_step {
            self.stats.prompt_secs += secs;
        }
        if let Ok(mut shared) = self.shared_stats.lock() {
            *shared = self.stats;
        }
        self.answered = !self.outbox.is_empty();
        for (reply, result) in self.outbox.drain(..) {
            reply(result);
        }
    }

    /// Build and decode one batch: the next chunk of the first prompt in
    /// line, else every generating sequence's next token.
    fn step_inner(&mut self) {
        self.batch.clear();
        let mut n: i32 = 0;
        let now = Instant::now();
        let mut completing: Vec<u64> = Vec::new();
        // Padded slots, each with the position its throwaway token took.
        let mut padding: Vec<(usize, i32)> = Vec::new();
        if let Some(&gid) = self.prompting.front() {
            let group = self.groups.get_mut(&gid).expect("prompting group");
            let tokens = &self.jobs[&group.job].req.tokens;
            let leader = group.slots[0] as i32;
            // Chunks at fixed offsets, so that a prompt is always cut the same way.
            let take = (tokens.len() - group.n_past).min(self.settings.n_batch);
            if group.prompt_started.is_none() {
                group.prompt_started = Some(now);
            }
            for (i, &tok) in tokens.iter().enumerate().skip(group.n_past).take(take) {
                let last = i + 1 == tokens.len();
                self.batch
                    .add(tok, i as i32, &[leader], last)
                    .expect("batch has room");
                if last {
                    group.last_idx = Some(n);
                }
                n += 1;
            }
            group.n_past += take;
            if group.n_past == tokens.len() {
                completing.push(gid);
                self.prompting.pop_front();
            }
        } else {
            self.fill_generation_step(&mut n, &mut padding);
        }
        self.yield_cores(n);
        let t_decode = Instant::now();
        let decoded = self.ctx.decode(&mut self.batch);
        for &(si, pos) in &padding {
            let _ = self
                .ctx
                .clear_kv_cache_seq(Some(si as u32), Some(pos as u32), None);
        }
        if let Err(e) = decoded {
            self.fail_all(format!("llama_decode failed: {e}"));
            return;
        }
        let after = Instant::now();
        self.stats.steps += 1;
        if self.stats.steps
            >= crate::worker::FAULT_AFTER_STEPS.load(std::sync::atomic::Ordering::Relaxed)
        {
            // The fault a test asked for (see `worker::FAULT_ENV`).
            // SAFETY: raising a signal in this (worker) process.
            unsafe { libc::raise(libc::SIGSEGV) };
        }
        self.stats.tokens_decoded += n as u64 - padding.len() as u64;
        self.stats.padding_tokens += padding.len() as u64;
        self.stats.decode_secs += (after - t_decode).as_secs_f64();
        if self.threads_now == self.settings.threads {
            self.full_step = after - t_decode;
        }
        let active = self
            .slots
            .iter()
            .filter(|s| s.state == SlotState::Generating)
            .count() as u64;
        self.stats.max_active = self.stats.max_active.max(active);

        // Groups whose prompt is now complete: copy it to every sibling and draw
        // each sample's first token.
        for gid in completing {
            let group = &self.groups[&gid];
            let idx = group.last_idx.expect("last prompt token index");
            let leader = group.slots[0] as i32;
            let slots = group.slots.clone();
            let started = group.prompt_started.unwrap_or(now);
            let jid = group.job;
            let n_prompt = self.jobs[&jid].req.tokens.len() as i32;
            for &si in &slots[1..] {
                self.ctx
                    .copy_kv_cache_seq(leader, si as i32, None, None)
                    .expect("sequence ids fit in i32");
            }
            // Keep the prompt's logits for samples still to start, before any
            // sample of this group can finish (and free the group or the job).
            if let Some(job) = self.jobs.get_mut(&jid) {
                if !job.to_start.is_empty() && job.prompt_logits.is_none() {
                    job.prompt_logits = Some(self.ctx.get_logits_ith(idx).to_vec());
                }
            }
            for &si in &slots {
                let slot = &mut self.slots[si];
                slot.state = SlotState::Generating;
                slot.pos = n_prompt;
                slot.t_prompt_start = started;
                slot.t_prompt_end = after;
                self.sample_and_advance(si, Draw::Batch(idx));
            }
        }
        // Generating sequences that had a token in this batch.
        for si in 0..self.slots.len() {
            if let Some(idx) = self.slots[si].batch_idx.take() {
                if self.slots[si].state == SlotState::Generating {
                    self.slots[si].pos += 1;
                    self.sample_and_advance(si, Draw::Batch(idx));
                }
            }
        }
    }

    /// One token of every generating sequence, in slot order, padded so that
    /// llama.cpp decodes the step as one micro-batch of the same kind
    /// whatever else is in flight.
    ///
    /// With one KV stream per sequence, llama.cpp splits a batch into
    /// micro-batches of *consecutive* sequence ids (`split_equal`), so
    /// generating slots 0, 1 and 5 would run as two graphs, the one holding
    /// slot 5 alone: one row, where its CPU kernels take other paths (one dot
    /// product per row instead of llamafile's GEMM; for an attention over 512
    /// cells or more, flash attention split across threads), and a weight read
    /// per micro-batch. So every slot between the first and the last
    /// generating one gets a throwaway token at its next position (removed
    /// after the step), and a step has at least `pad_rows` rows: each
    /// sequence's numbers are then the same in any mix, and a step reads the
    /// weights once. Gaps left by finished sequences are closed before the
    /// step (`compact`), so what gets padded is a slot waiting for its
    /// group's prompt, or the second row beside a lone sequence.
    fn fill_generation_step(&mut self, n: &mut i32, padding: &mut Vec<(usize, i32)>) {
        let generating = |s: &Slot| s.state == SlotState::Generating && s.pending.is_some();
        let (Some(mut lo), Some(mut hi)) = (
            self.slots.iter().position(generating),
            self.slots.iter().rposition(generating),
        ) else {
            return;
        };
        let pad = !self.settings.kv_unified;
        if pad {
            while hi - lo + 1 < self.settings.pad_rows {
                if hi + 1 < self.slots.len() {
                    hi += 1;
                } else if lo > 0 {
                    lo -= 1;
                } else {
                    break;
                }
            }
        }
        // The output layer sees two rows or more: a lone sequence's first pad
        // asks for logits too.
        let mut pad_outputs =
            2usize.saturating_sub((lo..=hi).filter(|&si| generating(&self.slots[si])).count());
        for si in lo..=hi {
            let slot = &mut self.slots[si];
            if generating(slot) {
                let tok = slot.pending.expect("generating slot has a token");
                self.batch
                    .add(tok, slot.pos, &[si as i32], true)
                    .expect("batch has room");
                slot.batch_idx = Some(*n);
            } else if pad {
                // The slot's next position: a parked prompt or a prompt
                // being decoded keeps its cells; the pad's is removed.
                let pos = self.ctx.kv_cache_seq_pos_max(si as i32) + 1;
                let logits = pad_outputs > 0;
                pad_outputs = pad_outputs.saturating_sub(1);
                self.batch
                    .add(self.pad_token, pos, &[si as i32], logits)
                    .expect("batch has room");
                padding.push((si, pos));
            } else {
                continue;
            }
            *n += 1;
        }
    }

    fn sample_and_advance(&mut self, si: usize, from: Draw<'_>) {
        let t_sample = Instant::now();
        let token = {
            let logits = match from {
                Draw::Batch(idx) => self.ctx.get_logits_ith(idx),
                Draw::Prompt(logits) => logits,
            };
            let skip = self.settings.ignore_eos.then_some(&self.is_eog[..]);
            draw(
                &mut self.slots[si].sampling,
                logits,
                skip,
                &mut self.candidates,
            )
        };
        let now = Instant::now();
        self.stats.sample_secs += (now - t_sample).as_secs_f64();
        self.stats.tokens_sampled += 1;
        let slot = &mut self.slots[si];
        if slot.t_first.is_none() {
            slot.t_first = Some(now);
        }
        let eog = self.is_eog.get(token.0 as usize).copied().unwrap_or(false);
        if eog && !self.settings.ignore_eos {
            self.finish(si, FinishReason::Stop, now);
            return;
        }
        slot.n_gen += 1;
        self.piece.clear();
        self.model
            .vocab()
            .token_to_piece_into(token, &mut self.piece, false, None);
        let stops = &self.jobs[&slot.job].req.params.stop;
        if slot.acc.push(&self.piece, stops) {
            self.finish(si, FinishReason::Stop, now);
        } else if let Some(cut) = slot.end.as_mut().and_then(|e| e.end(slot.acc.text())) {
            slot.acc.truncate(cut);
            self.finish(si, FinishReason::Stop, now);
        } else if slot.n_gen >= slot.max_gen {
            let reason = if slot.ctx_limited {
                FinishReason::ContextFull
            } else {
                FinishReason::Length
            };
            self.finish(si, reason, now);
        } else {
            slot.pending = Some(token);
        }
    }

    fn finish(&mut self, si: usize, finish: FinishReason, now: Instant) {
        let slot = std::mem::replace(&mut self.slots[si], Slot::free());
        let job = &self.jobs[&slot.job];
        let n_prompt = job.req.tokens.len() as u32;
        if !job.to_start.is_empty()
            && job.prompt_logits.is_some()
            && self.ctx.kv_cache_seq_pos_min(si as i32) == 0
            && self
                .ctx
                .clear_kv_cache_seq(Some(si as u32), Some(n_prompt), None)
                .unwrap_or(false)
        {
            // The job's next sample starts from this prompt (see `admit`).
            self.slots[si].state = SlotState::Parked;
            self.slots[si].job = slot.job;
        } else {
            let _ = self.ctx.clear_kv_cache_seq(Some(si as u32), None, None);
        }
        self.reserved -= slot.reserved_gen;
        let group = self.groups.get_mut(&slot.group).expect("group of slot");
        group.alive -= 1;
        if group.alive == 0 {
            self.reserved -= group.reserved_prompt;
            self.groups.remove(&slot.group);
        }
        let job = self.jobs.get_mut(&slot.job).expect("job of slot");
        let stops = &job.req.params.stop;
        let text = slot.acc.finish(stops);
        let enq = job.req.enqueued;
        let gen = Generation {
            sample: slot.sample,
            text,
            finish,
            usage: Usage::counted(job.req.tokens.len() as u32, slot.n_gen),
            timings: Timings {
                prompt_ms: Some(ms(slot.t_prompt_start, slot.t_prompt_end)),
                generation_ms: Some(ms(slot.t_prompt_end, now)),
                ttft_ms: slot.t_first.map(|t| ms(enq, t)),
                total_ms: ms(enq, now),
            },
            served_by: None,
        };
        job.results.push(gen);
        if job.results.len() == job.n_sequences {
            let job = self.jobs.remove(&slot.job).expect("job");
            let mut results = job.results;
            if job.deduped {
                let first = results.pop().expect("one result");
                results = job
                    .req
                    .samples
                    .iter()
                    .map(|&s| Generation {
                        sample: s,
                        ..first.clone()
                    })
                    .collect();
            }
            self.outbox.push((job.req.reply, Ok(results)));
        }
    }

    /// After a failed decode: fail every running job and start afresh.
    fn fail_all(&mut self, msg: String) {
        tracing::error!("{msg}");
        let running: Vec<u64> = self.groups.values().map(|g| g.job).collect();
        for jid in running {
            if let Some(job) = self.jobs.remove(&jid) {
                (job.req.reply)(Err(BackendError::Backend(msg.clone())));
            }
        }
        self.queue.retain(|j| self.jobs.contains_key(j));
        self.groups.clear();
        self.prompting.clear();
        for s in &mut self.slots {
            *s = Slot::free();
        }
        self.reserved = 0;
        self.ctx.clear_kv_cache();
    }
}

/// Where a sample's next-token logits are.
enum Draw<'a> {
    /// Row `i` of the last batch's logits.
    Batch(i32),
    /// Kept logits of the job's last prompt token.
    Prompt(&'a [f32]),
}

/// Draw one token from `logits` and let the sampler's state see it.
fn draw(
    sampling: &mut Sampling,
    logits: &[f32],
    skip: Option<&[bool]>,
    candidates: &mut LlamaTokenDataArray,
) -> LlamaToken {
    let chain = match sampling {
        Sampling::Argmax => return argmax(logits, skip),
        Sampling::TopK { k, chain } => {
            top_k_into(logits, *k, skip, &mut candidates.data);
            candidates.sorted = true;
            chain
        }
        Sampling::Chain(chain) => {
            candidates.data.clear();
            candidates.data.extend(
                logits
                    .iter()
                    .enumerate()
                    .map(|(t, &l)| LlamaTokenData::new(LlamaToken(t as i32), l, 0.0)),
            );
            candidates.sorted = false;
            chain
        }
    };
    candidates.selected = None;
    candidates.apply_sampler(chain);
    let token = candidates.selected_token().unwrap_or(LlamaToken(0));
    chain.accept(token);
    token
}

fn ms(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64() * 1000.0
}

pub(crate) fn is_greedy(p: &SamplingParams) -> bool {
    p.temperature <= 0.0
}

/// Largest `top_k` handled by the Rust pre-selection (beyond it, llama.cpp's
/// own top-k over the full vocabulary is used).
const FAST_TOP_K_MAX: u32 = 1024;

/// How one sample draws its tokens.
enum Sampling {
    /// Plain greedy: a direct argmax over the logits.
    Argmax,
    /// `top_k` candidates picked in Rust straight from the logits (no
    /// vocabulary-sized candidate array), then llama.cpp's chain (top-p, min-p,
    /// temperature, seeded dist) over them.
    TopK { k: usize, chain: LlamaSampler },
    /// llama.cpp's sampler chain over the full vocabulary (penalties, or no top-k).
    Chain(LlamaSampler),
}

/// The sampling of one sample.
fn build_sampling(
    p: &SamplingParams,
    sample: u32,
    n_vocab: i32,
    eog_bias: Option<&[LlamaLogitBias]>,
    prompt: &[LlamaToken],
) -> Sampling {
    let penalties = (p.repeat_penalty - 1.0).abs() > f32::EPSILON && p.repeat_penalty > 0.0;
    if is_greedy(p) && !penalties {
        return Sampling::Argmax;
    }
    let fast_k = !penalties
        && !is_greedy(p)
        && p.top_k > 0
        && p.top_k <= FAST_TOP_K_MAX
        && (p.top_k as i32) < n_vocab;
    let mut chain = Vec::with_capacity(7);
    if !fast_k {
        if let Some(bias) = eog_bias {
            chain.push(LlamaSampler::logit_bias(n_vocab, bias));
        }
    }
    if penalties {
        chain.push(LlamaSampler::penalties(
            n_vocab,
            REPEAT_LAST_N,
            p.repeat_penalty,
            0.0,
            0.0,
        ));
    }
    if is_greedy(p) {
        chain.push(LlamaSampler::greedy());
    } else {
        if p.top_k > 0 && !fast_k {
            chain.push(LlamaSampler::top_k(p.top_k.min(i32::MAX as u32) as i32));
        }
        if p.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(p.top_p, 1));
        }
        if p.min_p > 0.0 {
            chain.push(LlamaSampler::min_p(p.min_p, 1));
        }
        chain.push(LlamaSampler::temp(p.temperature));
        chain.push(LlamaSampler::dist(seed32(
            litmus_core::base::backend::sample_seed(p.seed, sample),
        )));
    }
    let mut sampler = LlamaSampler::chain_simple(chain);
    if penalties {
        // Penalise repeats of the prompt's last tokens too, as llama.cpp's tools do.
        let from = prompt.len().saturating_sub(REPEAT_LAST_N as usize);
        sampler.accept_many(&prompt[from..]);
    }
    if fast_k {
        Sampling::TopK {
            k: p.top_k as usize,
            chain: sampler,
        }
    } else {
        Sampling::Chain(sampler)
    }
}

/// The `k` largest logits (skipping tokens marked in `skip`) into `out`, sorted
/// by logit descending, then token id ascending.
fn top_k_into(logits: &[f32], k: usize, skip: Option<&[bool]>, out: &mut Vec<LlamaTokenData>) {
    out.clear();
    let k = k.max(1);
    let skipped = |i: usize| skip.is_some_and(|s| s.get(i).copied().unwrap_or(false));
    // Keep the best k seen so far; `min_at` is the position of the smallest.
    let mut min_at = 0usize;
    let mut min_v = f32::INFINITY;
    let offer =
        |i: usize, v: f32, out: &mut Vec<LlamaTokenData>, min_at: &mut usize, min_v: &mut f32| {
            if out.len() < k {
                if skipped(i) {
                    return;
                }
                out.push(LlamaTokenData::new(LlamaToken(i as i32), v, 0.0));
                if out.len() == k {
                    (*min_at, *min_v) = smallest(out);
                }
            } else if v > *min_v && !skipped(i) {
                out[*min_at] = LlamaTokenData::new(LlamaToken(i as i32), v, 0.0);
                (*min_at, *min_v) = smallest(out);
            }
        };
    // Blocks whose maximum cannot enter the current top k are skipped with one
    // (vectorisable) comparison; once k candidates are held that is nearly all.
    const BLOCK: usize = 32;
    let mut base = 0usize;
    for block in logits.chunks(BLOCK) {
        let full = out.len() == k;
        let block_max = block
            .iter()
            .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        if !full || block_max > min_v || block_max.is_nan() {
            for (j, &v) in block.iter().enumerate() {
                offer(base + j, v, out, &mut min_at, &mut min_v);
            }
        }
        base += block.len();
    }
    out.sort_unstable_by(|a, b| {
        b.logit()
            .total_cmp(&a.logit())
            .then(a.id().0.cmp(&b.id().0))
    });
}

fn smallest(v: &[LlamaTokenData]) -> (usize, f32) {
    let mut at = 0;
    let mut m = f32::INFINITY;
    for (i, d) in v.iter().enumerate() {
        // Ties: evict the larger token id, so the smaller ids stay (as a stable sort would).
        if d.logit() < m || (d.logit() == m && d.id().0 > v[at].id().0) {
            m = d.logit();
            at = i;
        }
    }
    (at, m)
}

/// Index of the largest logit (first on ties, as llama.cpp's greedy sampler),
/// skipping tokens marked in `skip`.
fn argmax(logits: &[f32], skip: Option<&[bool]>) -> LlamaToken {
    // The largest value, in lanes the compiler can vectorise...
    const LANES: usize = 16;
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = logits.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            *m = if v > *m { v } else { *m };
        }
    }
    let max = lanes
        .iter()
        .chain(rest)
        .copied()
        .fold(f32::NEG_INFINITY, |a, b| if b > a { b } else { a });
    // ...then the first position holding it.
    let skipped = |i: usize| skip.is_some_and(|s| s.get(i).copied().unwrap_or(false));
    if let Some(i) = logits.iter().position(|&v| v == max) {
        if !skipped(i) {
            return LlamaToken(i as i32);
        }
    }
    // NaNs only, or the maximum is a skipped token: a plain scan.
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v && !skipped(i) {
            best_v = v;
            best = i;
        }
    }
    LlamaToken(best as i32)
}

/// The `llama_context` behind `ctx`. llama-cpp-2 (pinned at 0.1.160) keeps
/// the pointer private but prints it in its `Debug` output
/// (`LlamaContext { context: 0x… }`); it is taken from there. This relies
/// on that version's `Debug` format (the crate is pinned with `=`); the size
/// comparison through the C API only catches a format that still parses to
/// some other live context. `None` (yielding off) when it does not parse.
/// Remove once the binding exposes `llama_set_n_threads`.
fn raw_context(
    ctx: &LlamaContext<'_>,
) -> Option<std::ptr::NonNull<llama_cpp_sys_2::llama_context>> {
    let shown = format!("{ctx:?}");
    let hex = shown.split("context: 0x").nth(1)?;
    let hex: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
    let addr = usize::from_str_radix(&hex, 16).ok()?;
    let raw = std::ptr::NonNull::new(addr as *mut llama_cpp_sys_2::llama_context)?;
    // SAFETY: `raw` is the address the binding printed for this live
    // context; these calls only read its parameters.
    let same = unsafe {
        llama_cpp_sys_2::llama_n_ctx(raw.as_ptr()) == ctx.n_ctx()
            && llama_cpp_sys_2::llama_n_batch(raw.as_ptr()) == ctx.n_batch()
            && llama_cpp_sys_2::llama_n_ubatch(raw.as_ptr()) == ctx.n_ubatch()
    };
    same.then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_first_max_and_skip() {
        assert_eq!(argmax(&[0.0, 3.0, 3.0, 1.0], None), LlamaToken(1));
        assert_eq!(
            argmax(&[0.0, 3.0, 2.0], Some(&[false, true, false])),
            LlamaToken(2)
        );
    }

    #[test]
    fn top_k_selection() {
        let logits = [0.5, 3.0, -1.0, 3.0, 2.0, 7.0, 0.0];
        let mut out = Vec::new();
        top_k_into(&logits, 3, None, &mut out);
        let ids: Vec<i32> = out.iter().map(|d| d.id().0).collect();
        assert_eq!(ids, vec![5, 1, 3]);
        top_k_into(
            &logits,
            2,
            Some(&[false, false, false, false, false, true, false]),
            &mut out,
        );
        let ids: Vec<i32> = out.iter().map(|d| d.id().0).collect();
        assert_eq!(ids, vec![1, 3]);
        top_k_into(&logits, 100, None, &mut out);
        assert_eq!(out.len(), logits.len());
        // Agrees with a full sort on pseudo-random data.
        let mut x = 1u64;
        let big: Vec<f32> = (0..5000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) % 1000) as f32 / 10.0
            })
            .collect();
        top_k_into(&big, 40, None, &mut out);
        let mut idx: Vec<usize> = (0..big.len()).collect();
        idx.sort_by(|&a, &b| big[b].total_cmp(&big[a]).then(a.cmp(&b)));
        let want: Vec<i32> = idx[..40].iter().map(|&i| i as i32).collect();
        assert_eq!(out.iter().map(|d| d.id().0).collect::<Vec<_>>(), want);
    }

    #[test]
    fn seeds_fold() {
        assert_ne!(seed32(u64::from(u32::MAX)), u32::MAX);
        assert_eq!(seed32(0x0000_0001_0000_0000), 1);
        assert_ne!(seed32(1), seed32(2));
    }
}
