//! The work on one model's instances, done on the runner's threads:
//! generating the answers of declarative evals (batched per prompt and
//! repeat, through the response cache), running imperative evals, and
//! scoring answers (through the score cache; judged cases through the judge).
//! Each produces [`SampleRecord`]s for the collector (`run::collect`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::base::backend::{Generation, SamplingParams};
use crate::base::util::panic_message;
use crate::eval::case::{Case, TextCase};
use crate::eval::context::EvalContext;
use crate::eval::registry::EntryKind;
use crate::eval::score::Score;
use crate::plan::matrix::{Instance, Plan};
use crate::run::collect::{Collected, ModelRecords};
use crate::run::generate::{Answer, CachedBackend, CachingCaller};
use crate::run::judge::{JudgeCaller, RepeatJudge};
use crate::run::store::{score_key, Cache, SampleRecord};

/// Work for a generation thread.
pub enum Job {
    /// Generate the needed samples of repeat `repeat` of a declarative
    /// instance, in one request.
    Generate {
        /// The instance's index.
        unit: usize,
        /// The repeat.
        repeat: u32,
    },
    /// Run one sample of an imperative instance.
    Imperative {
        /// The instance's index.
        unit: usize,
        /// The repeat.
        repeat: u32,
        /// The sample.
        sample: u32,
    },
}

/// An answer waiting to be scored.
pub struct ScoreJob {
    /// The instance's index.
    pub unit: usize,
    /// The repeat.
    pub repeat: u32,
    /// The answer.
    pub generation: Generation,
    /// Whether it came from the response cache.
    pub cached: bool,
}

/// Where answers to declarative instances go to be scored: sandbox and
/// metric scoring (`scored`, on `plan.jobs` threads: it takes a core), and a
/// judge's grading (`judged`, on as many threads as the judge takes requests
/// at once: it waits on a model, which batches what it is asked together).
pub struct ScoreQueues {
    /// Scored by running code or computing a metric.
    pub scored: Sender<ScoreJob>,
    /// Graded by the judge.
    pub judged: Sender<ScoreJob>,
}

/// What the threads working on one model share.
pub struct Worker<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The model's instances.
    pub instances: &'a [Instance],
    /// The model under test, through the response cache.
    pub model: &'a CachedBackend<'a>,
    /// The judge for this model's evals.
    pub judge: &'a JudgeCaller<'a>,
    /// The response and score cache.
    pub cache: &'a Cache,
    /// Makes this model's records.
    pub records: &'a ModelRecords,
    /// Called when the model has answered (for the run's time split).
    pub answered: &'a (dyn Fn() + Sync),
    /// Nanoseconds spent scoring.
    pub scoring_nanos: &'a AtomicU64,
    /// Of those, nanoseconds judges spent grading.
    pub judging_nanos: &'a AtomicU64,
}

/// Sends the jobs of every instance, repeat after repeat (as N runs one
/// after the other would go: a repeat meets other requests in the backend's
/// batches than the one before). The needed samples of an instance that
/// cannot be asked ([`Instance::error`]) are recorded as errors at once.
pub fn dispatch(
    plan: &Plan,
    instances: &[Instance],
    records: &ModelRecords,
    jobs: &Sender<Job>,
    collected: &Sender<Collected>,
) {
    for repeat in 0..plan.repeats() {
        for (ui, u) in instances.iter().enumerate() {
            let samples: Vec<u32> = u.needed_in(repeat).collect();
            if samples.is_empty() {
                continue;
            }
            if let Some(err) = &u.error {
                for i in samples {
                    let _ = collected.send((ui, records.error(u, repeat, i, err.clone()), false));
                }
                continue;
            }
            match u.entry.kind {
                EntryKind::Declarative(_) => {
                    let _ = jobs.send(Job::Generate { unit: ui, repeat });
                }
                EntryKind::Imperative(_) => {
                    for sample in samples {
                        let _ = jobs.send(Job::Imperative {
                            unit: ui,
                            repeat,
                            sample,
                        });
                    }
                }
            }
        }
    }
}

/// The sampling parameters of declarative instance `u`'s requests.
pub fn request_params(plan: &Plan, u: &Instance) -> SamplingParams {
    SamplingParams {
        temperature: u.temperature,
        stop_rule: u.stop_rule.clone(),
        ..plan.params.clone()
    }
}

/// The sampling parameters of instance `u`'s calls when it is imperative
/// (the eval asks for its own stops).
pub fn imperative_params(plan: &Plan, u: &Instance) -> SamplingParams {
    SamplingParams {
        temperature: u.temperature,
        ..plan.params.clone()
    }
}

impl Worker<'_> {
    /// Does `job`: answers go to `to_score`, finished records to `collected`.
    pub fn run(&self, job: Job, to_score: &ScoreQueues, collected: &Sender<Collected>) {
        match job {
            Job::Generate { unit, repeat } => {
                let u = &self.instances[unit];
                let queue = if u.judged() {
                    &to_score.judged
                } else {
                    &to_score.scored
                };
                self.generate(unit, repeat, queue, collected)
            }
            Job::Imperative {
                unit,
                repeat,
                sample,
            } => {
                if let Some(record) = self.imperative(unit, repeat, sample) {
                    let generated = !record.cached;
                    let _ = collected.send((unit, record, generated));
                }
            }
        }
    }

    /// Generates the needed samples of repeat `repeat` of declarative
    /// instance `unit`: cached answers first, the rest in one request.
    fn generate(
        &self,
        unit: usize,
        repeat: u32,
        to_score: &Sender<ScoreJob>,
        collected: &Sender<Collected>,
    ) {
        let u = &self.instances[unit];
        let prompt = u.prompt.as_ref().expect("rendered prompt");
        let params = request_params(self.plan, u);
        let samples: Vec<u32> = u.needed_in(repeat).collect();
        let asked = self
            .model
            .answer(prompt, &params, &samples, 0, repeat, |sample, answer| {
                let (generation, cached) = match answer {
                    Answer::Cached(g) => (g, true),
                    Answer::Generated(g) => (g, false),
                    Answer::Missing => {
                        let error = format!("the backend returned no answer for sample {sample}");
                        let _ = collected.send((
                            unit,
                            self.records.error(u, repeat, sample, error),
                            false,
                        ));
                        return;
                    }
                    Answer::Failed(e) => {
                        let record = self.records.error(u, repeat, sample, e.to_string());
                        let _ = collected.send((unit, record, false));
                        return;
                    }
                };
                let _ = to_score.send(ScoreJob {
                    unit,
                    repeat,
                    generation,
                    cached,
                });
            });
        if asked {
            (self.answered)();
        }
    }

    /// Runs sample `sample` (repeat `repeat`) of imperative instance `unit`:
    /// the eval function with an [`EvalContext`] over the cached model and
    /// the judge. `None` when the instance is not imperative.
    fn imperative(&self, unit: usize, repeat: u32, sample: u32) -> Option<SampleRecord> {
        let u = &self.instances[unit];
        let EntryKind::Imperative(f) = u.entry.kind else {
            return None;
        };
        let caller = CachingCaller::new(self.model, repeat);
        let judge = self.judge.for_repeat(repeat);
        let params = imperative_params(self.plan, u);
        let template = &self.plan.templates[u.template];
        let mut ctx = EvalContext::new(&caller, template, params.clone(), sample, u.limits.clone())
            .with_judge(&judge);
        let result = catch_unwind(AssertUnwindSafe(|| f(&mut ctx)));
        (self.answered)();
        // A rerun can then tell ahead that these calls are cached.
        if let (Ok(_), Some(judged)) = (&result, judge.self_calls()) {
            caller.remember(&u.eval, template, &params, sample, judged);
        }
        let mut r = self.records.record(u, repeat, sample);
        r.prompt = ctx.exchanges.first().map(|e| e.prompt.clone());
        r.response = ctx.exchanges.last().map(|e| e.response.clone());
        r.served_by = ctx.exchanges.last().and_then(|e| e.served_by.clone());
        r.usage = ctx.usage;
        r.timings = ctx.timings;
        r.exchanges = std::mem::take(&mut ctx.exchanges);
        r.cached = caller.all_cached();
        match result {
            Ok(Ok(score)) => match checked(score, "the eval") {
                Ok(score) => r.score = Some(score),
                Err(e) => r.error = Some(e),
            },
            Ok(Err(e)) => r.error = Some(e.to_string()),
            Err(p) => {
                r.error = Some(format!(
                    "eval panicked ({}:{}): {}",
                    u.entry.file,
                    u.entry.line,
                    panic_message(p.as_ref())
                ))
            }
        }
        Some(r)
    }

    /// Scores an answer to a declarative instance: its record, and whether
    /// a backend generated the answer.
    pub fn score(&self, job: ScoreJob) -> Collected {
        let u = &self.instances[job.unit];
        let case = u.case.as_ref().expect("declarative case");
        let t_score = Instant::now();
        let judged = u.judged();
        let (score, error) = match &**case {
            // Judged: never from the score cache (the judge model may differ
            // between runs; its replies are cached instead).
            Case::Text(t) if t.judge.is_some() => {
                let judge = self.judge.for_repeat(job.repeat);
                let graded = self.judged(u, case, t, &job.generation.text, &judge);
                // The model's own judge calls, for a rerun to find cached.
                if let Some(calls) = judge.self_calls().filter(|_| self.judge.judges_itself()) {
                    let template = &self.plan.templates[u.template];
                    let key = (job.repeat, job.generation.sample);
                    let params = request_params(self.plan, u);
                    self.model
                        .record_calls(&u.eval, template, &params, key, calls);
                }
                match graded {
                    Ok(s) => (Some(s), None),
                    Err(e) => (None, Some(e)),
                }
            }
            _ => match self.scored(u, case, &job.generation.text) {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(e)),
            },
        };
        let nanos = t_score.elapsed().as_nanos() as u64;
        self.scoring_nanos.fetch_add(nanos, Ordering::Relaxed);
        if judged {
            self.judging_nanos.fetch_add(nanos, Ordering::Relaxed);
        }
        let mut r = self.records.record(u, job.repeat, job.generation.sample);
        r.response = Some(job.generation.text);
        r.usage = job.generation.usage;
        r.timings = job.generation.timings;
        r.served_by = job.generation.served_by;
        r.cached = job.cached;
        r.score = score;
        r.error = error;
        (job.unit, r, !job.cached)
    }

    /// The judge's grade of `answer` to text case `t` (of `case`, instance `u`).
    fn judged(
        &self,
        u: &Instance,
        case: &Case,
        t: &TextCase,
        answer: &str,
        judge: &RepeatJudge<'_>,
    ) -> Result<Score, String> {
        let question = self.plan.templates[u.template]
            .vars_for(case)
            .ok()
            .and_then(|mut v| v.remove("task"))
            .unwrap_or_else(|| t.prompt.clone());
        let graded = catch_unwind(AssertUnwindSafe(|| {
            crate::eval::case_scoring::score_judged(t, &question, answer, judge)
        }));
        match graded {
            Ok(Ok(Some(s))) => checked(s, "the judge's grading"),
            Ok(Ok(None)) => Err("the case has no judge".to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(p) => Err(format!("the judge panicked: {}", panic_message(p.as_ref()))),
        }
    }

    /// The score of `answer` to `case` (instance `u`), from the score cache
    /// or scored now (sandbox or metric) and cached. A panicking scorer
    /// scores 0, with the panic in the details; a metric that cannot score
    /// (an invalid regex, see [`score_metric`](crate::eval::case_scoring::score_metric))
    /// is an `Err`, the sample's error, and is not cached.
    fn scored(&self, u: &Instance, case: &Case, answer: &str) -> Result<Score, String> {
        let key = score_key(&u.fingerprint, answer);
        if let Some(s) = self.cache.score(&key) {
            return Ok(s);
        }
        let s = catch_unwind(AssertUnwindSafe(|| {
            crate::eval::case_scoring::score_case(case, answer, &u.limits)
        }))
        .unwrap_or_else(|p| {
            Ok(Score::fail().details(format!("scorer panicked: {}", panic_message(p.as_ref()))))
        })?;
        let s = checked(s, "the scorer")?;
        self.cache.put_score(key, &s);
        Ok(s)
    }
}

/// A score that cannot be recorded ([`Score::problem`]: NaN, infinite or
/// outside 0–100, or a part that is not finite) is `who`'s error, not a
/// clamped or zero score (and JSON, the store's format, writes NaN and
/// infinities as `null`, which would make the run unreadable).
fn checked(score: Score, who: &str) -> Result<Score, String> {
    match score.problem() {
        Some(p) => Err(format!("{who} returned {p}")),
        None => Ok(score),
    }
}
