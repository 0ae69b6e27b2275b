//! The runner: crosses evals with models, templates, temperatures and samples,
//! keeps many generation requests in flight, scores answers in parallel and
//! stores every sample as soon as it is scored.
//!
//! With [`Plan::repeat`] > 1 the whole matrix is run that many times over,
//! repeat after repeat, each repeat generating afresh (its own cache keys);
//! the unit summaries then carry the repeats' agreement
//! ([`crate::run::summary::RepeatStats`]).
//!
//! Each model is opened once and serves every template, temperature and case.
//! Generation runs on `backend.parallelism()` threads (so that a backend can
//! batch across cases), scoring on `jobs` threads, and one collector writes
//! the results store and feeds the reporter.
//!
//! Text cases graded by an LLM judge are graded on the scoring threads: the
//! judge is `plan.judge` (opened once, on first use, and shared by every
//! model of the run) or, when that is `None`, the model under test itself.
//! A judge that gives no valid grade makes the sample an error record
//! carrying every raw reply.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crossbeam_channel as channel;

use crate::base::backend::{
    Backend, BackendError, Generation, GenerationRequest, ModelInfo, Prompt, SamplingParams,
    SharedBackend, StopRule,
};
use crate::base::caller::ModelCaller;
use crate::base::model::ModelSpec;
use crate::eval::case::Case;
use crate::eval::context::EvalContext;
use crate::eval::registry::{EntryKind, EvalEntry};
use crate::eval::score::Score;
use crate::eval::template::PromptTemplate;
use crate::run::store::{
    repeat_key, response_key, score_key, Cache, ConfigKey, RunStore, SampleKey, SampleRecord,
};
use crate::run::summary::{TimeSplit, UnitSummary};

/// Opens a backend for a model spec.
pub type BackendOpener<'a> = &'a (dyn Fn(&ModelSpec) -> Result<SharedBackend, BackendError> + Sync);

/// What to run.
#[derive(Clone)]
pub struct Plan {
    /// The evals, already filtered.
    pub evals: Vec<&'static EvalEntry>,
    /// Models (one per quantization).
    pub models: Vec<ModelSpec>,
    /// Templates to cross with the cases.
    pub templates: Vec<PromptTemplate>,
    /// Temperatures to sweep.
    pub temperatures: Vec<f32>,
    /// Samples per case and configuration (an eval's own `samples` wins).
    pub samples: u32,
    /// How many times every sample is run (`--repeat`, at least 1; 0 counts
    /// as 1). Repeat `r` asks the same prompt with the same parameters and
    /// seed as repeat 0 and is stored with `repeat: r`; it is never answered
    /// from an earlier repeat's cached response, so the repeats measure how
    /// far the backend's answers vary between identical runs.
    pub repeat: u32,
    /// Per-eval sample counts from `litmus.toml`.
    pub samples_override: HashMap<String, u32>,
    /// Sampling parameters; `temperature` is set per configuration.
    pub params: SamplingParams,
    /// Parallel scoring jobs.
    pub jobs: usize,
    /// Sandbox limits for code execution (an eval's `timeout` overrides the time).
    pub limits: litmus_sandbox::Limits,
    /// Minimum scores per eval.
    pub min_scores: BTreeMap<String, f64>,
    /// The model that grades judged cases and answers `EvalContext::judge`;
    /// `None`: each model judges its own answers.
    pub judge: Option<ModelSpec>,
    /// Stop completions of code prompts where their definition ends
    /// ([`crate::base::backend::StopRule`]).
    pub stop_rules: bool,
    /// Run only this partition's instances (`--partition`); `None`: all.
    pub partition: Option<crate::plan::partition::Selection>,
}

/// Progress events for a reporter.
pub enum Event<'a> {
    /// A model is about to be opened; `samples` are to be produced with it.
    ModelStart {
        /// The spec.
        spec: &'a ModelSpec,
        /// Samples still to produce for it.
        samples: usize,
    },
    /// A model is loaded.
    ModelLoaded(&'a ModelInfo),
    /// A model failed to load; its evals fail.
    ModelFailed {
        /// The spec.
        spec: &'a ModelSpec,
        /// Why.
        error: &'a BackendError,
    },
    /// A sample was stored.
    Sample(&'a SampleRecord),
    /// An eval finished under one configuration.
    EvalFinished(&'a UnitSummary),
}

/// Receives progress events.
pub trait Reporter {
    /// Handles one event.
    fn event(&mut self, event: Event<'_>);
}

/// What a run produced.
pub struct Outcome {
    /// Every sample of the run (the last record per sample key), resumed ones included.
    pub records: Vec<SampleRecord>,
    /// Models as the backends described them, by (name, quantization).
    pub models: BTreeMap<(String, Option<String>), ModelInfo>,
    /// Models that failed to load.
    pub load_errors: Vec<(String, String)>,
    /// Wall time of each eval under each configuration, ms.
    pub walls: BTreeMap<(String, ConfigKey), f64>,
    /// Samples generated by a backend (not cached).
    pub generated: usize,
    /// Requests sent to backends (each may ask for several samples).
    pub backend_requests: usize,
    /// Errors writing the results store (the run goes on; these are reported).
    pub store_errors: Vec<String>,
    /// Where the time went (models loaded in this process only).
    pub time: Option<TimeSplit>,
}

struct Instance {
    entry: &'static EvalEntry,
    eval: String,
    tags: Vec<String>,
    case: Option<Arc<Case>>,
    fingerprint: String,
    template: usize,
    temperature: f32,
    prompt: Option<Prompt>,
    /// Where a completion of the prompt ends by its shape.
    stop_rule: Option<StopRule>,
    error: Option<String>,
    /// (repeat, sample) pairs still to produce.
    needed: Vec<(u32, u32)>,
    limits: litmus_sandbox::Limits,
    config: ConfigKey,
}

enum Job {
    Generate {
        unit: usize,
        repeat: u32,
    },
    Imperative {
        unit: usize,
        repeat: u32,
        sample: u32,
    },
}

struct ScoreJob {
    unit: usize,
    repeat: u32,
    generation: Generation,
    cached: bool,
}

/// Generates sample `sample` (of repeat `repeat`) of `prompt` on `backend`,
/// answering from the response cache where possible. `all_cached` is cleared
/// on a cache miss.
#[allow(clippy::too_many_arguments)]
fn cached_call(
    backend: &dyn Backend,
    cache: &Cache,
    salt: &str,
    requests: &AtomicUsize,
    all_cached: Option<&AtomicBool>,
    prompt: &Prompt,
    params: &SamplingParams,
    sample: u32,
    ordinal: u32,
    repeat: u32,
) -> Result<Generation, BackendError> {
    let info = backend.model();
    let key = repeat_key(
        response_key(
            &info.digest,
            &info.backend,
            salt,
            prompt,
            params,
            sample,
            ordinal,
        ),
        repeat,
    );
    if let Some(g) = cache.response(&key) {
        return Ok(g);
    }
    if let Some(flag) = all_cached {
        flag.store(false, Ordering::Relaxed);
    }
    requests.fetch_add(1, Ordering::Relaxed);
    let request = GenerationRequest {
        prompt: prompt.clone(),
        params: params.clone(),
        samples: vec![sample],
    };
    let g = generate_guarded(backend, &request, repeat)?
        .into_iter()
        .find(|g| g.sample == sample)
        .ok_or_else(|| BackendError::Backend(format!("no answer for sample {sample}")))?;
    cache.put_response(key, &g);
    Ok(g)
}

/// Calls the backend through the response cache, for imperative evals.
struct CachingCaller<'a> {
    backend: &'a dyn Backend,
    cache: &'a Cache,
    salt: String,
    all_cached: AtomicBool,
    requests: &'a AtomicUsize,
    repeat: u32,
}

impl ModelCaller for CachingCaller<'_> {
    fn call(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
    ) -> Result<Generation, BackendError> {
        cached_call(
            self.backend,
            self.cache,
            &self.salt,
            self.requests,
            Some(&self.all_cached),
            prompt,
            params,
            sample,
            ordinal,
            self.repeat,
        )
    }

    fn model(&self) -> &ModelInfo {
        self.backend.model()
    }
}

/// The judge model of a run: opened on first use, shared by every model.
struct JudgeSlot<'a> {
    spec: Option<&'a ModelSpec>,
    opener: BackendOpener<'a>,
    opened: OnceLock<Result<SharedBackend, BackendError>>,
}

/// Asks the judge (through the response cache) on behalf of one model's
/// evals: the run's judge model, or the model under test itself.
struct JudgeCaller<'a> {
    slot: &'a JudgeSlot<'a>,
    under_test: &'a dyn Backend,
    spec_under_test: &'a ModelSpec,
    cache: &'a Cache,
    requests: &'a AtomicUsize,
    /// Describes the judge before it is opened (or when it failed to open).
    fallback: ModelInfo,
}

impl JudgeCaller<'_> {
    /// The judge's backend, when it is not the model under test.
    fn other(&self) -> Option<(&ModelSpec, &Result<SharedBackend, BackendError>)> {
        let spec = self.slot.spec.filter(|s| *s != self.spec_under_test)?;
        let opened = self.slot.opened.get_or_init(|| {
            catch_unwind(AssertUnwindSafe(|| (self.slot.opener)(spec))).unwrap_or_else(|p| {
                Err(BackendError::Load(format!(
                    "opening panicked: {}",
                    panic_message(p)
                )))
            })
        });
        Some((spec, opened))
    }
}

impl JudgeCaller<'_> {
    /// A judge call made for repeat `repeat` of a sample.
    fn call_repeat(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
        repeat: u32,
    ) -> Result<Generation, BackendError> {
        let backend: &dyn Backend = match self.other() {
            None => self.under_test,
            Some((_, Ok(b))) => &**b,
            Some((spec, Err(e))) => {
                let why = match e {
                    BackendError::Load(m) => m.clone(),
                    other => other.to_string(),
                };
                return Err(BackendError::Load(format!(
                    "judge model `{}`: {why}",
                    spec.name
                )));
            }
        };
        cached_call(
            backend,
            self.cache,
            &backend.cache_salt(),
            self.requests,
            None,
            prompt,
            params,
            sample,
            ordinal,
            repeat,
        )
    }
}

impl ModelCaller for JudgeCaller<'_> {
    fn call(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
    ) -> Result<Generation, BackendError> {
        self.call_repeat(prompt, params, sample, ordinal, 0)
    }

    fn model(&self) -> &ModelInfo {
        match self.slot.spec.filter(|s| *s != self.spec_under_test) {
            None => self.under_test.model(),
            Some(_) => match self.slot.opened.get() {
                Some(Ok(b)) => b.model(),
                _ => &self.fallback,
            },
        }
    }
}

/// The judge as seen from one repeat: its replies are cached per repeat too,
/// so that a repeat re-asks the judge rather than reusing an earlier reply.
struct RepeatJudge<'a> {
    judge: &'a JudgeCaller<'a>,
    repeat: u32,
}

impl ModelCaller for RepeatJudge<'_> {
    fn call(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
    ) -> Result<Generation, BackendError> {
        self.judge
            .call_repeat(prompt, params, sample, ordinal, self.repeat)
    }

    fn model(&self) -> &ModelInfo {
        self.judge.model()
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

fn generate_guarded(
    backend: &dyn Backend,
    request: &GenerationRequest,
    repeat: u32,
) -> Result<Vec<Generation>, BackendError> {
    catch_unwind(AssertUnwindSafe(|| {
        backend.generate_repeat(request, repeat)
    }))
    .unwrap_or_else(|p| {
        Err(BackendError::Backend(format!(
            "backend panicked: {}",
            panic_message(p)
        )))
    })
}

/// Builds a declarative eval's case, catching a panic in the user's function.
pub fn build_case(entry: &EvalEntry) -> Result<Case, String> {
    match entry.kind {
        EntryKind::Declarative(f) => catch_unwind(f).map_err(|p| {
            format!(
                "building the case panicked ({}:{}): {}",
                entry.file,
                entry.line,
                panic_message(p)
            )
        }),
        EntryKind::Imperative(_) => Err("not a declarative eval".into()),
    }
}

/// Runs `plan`, storing samples in `store` and answering from `cache` where possible.
pub fn execute(
    plan: &Plan,
    store: &RunStore,
    cache: &Cache,
    opener: BackendOpener<'_>,
    reporter: &mut dyn Reporter,
) -> Outcome {
    // Samples already done (on --resume): the last record per key, errors excluded.
    let mut latest: BTreeMap<SampleKey, SampleRecord> = BTreeMap::new();
    for r in store.existing() {
        latest.insert(r.key(), r.clone());
    }
    let mut outcome = Outcome {
        records: Vec::new(),
        models: BTreeMap::new(),
        load_errors: Vec::new(),
        walls: BTreeMap::new(),
        generated: 0,
        backend_requests: 0,
        store_errors: Vec::new(),
        time: None,
    };

    let judge = JudgeSlot {
        spec: plan.judge.as_ref(),
        opener,
        opened: OnceLock::new(),
    };

    // Declarative cases are built once per process.
    let cases: Vec<Option<Result<Arc<Case>, String>>> = plan
        .evals
        .iter()
        .map(|e| match e.kind {
            EntryKind::Declarative(_) => Some(build_case(e).map(Arc::new)),
            EntryKind::Imperative(_) => None,
        })
        .collect();

    for spec in &plan.models {
        run_model(
            plan,
            spec,
            &cases,
            &mut latest,
            store,
            cache,
            opener,
            &judge,
            reporter,
            &mut outcome,
        );
    }
    outcome.records = latest.into_values().collect();
    outcome
}

#[allow(clippy::too_many_arguments)]
fn run_model(
    plan: &Plan,
    spec: &ModelSpec,
    cases: &[Option<Result<Arc<Case>, String>>],
    latest: &mut BTreeMap<SampleKey, SampleRecord>,
    store: &RunStore,
    cache: &Cache,
    opener: BackendOpener<'_>,
    judge: &JudgeSlot<'_>,
    reporter: &mut dyn Reporter,
    outcome: &mut Outcome,
) {
    let t_open = Instant::now();
    let opened = opener(spec);
    let load_secs = t_open.elapsed().as_secs_f64();
    let (backend, info) = match &opened {
        Ok(b) => {
            let info = b.model().clone();
            (Some(b.clone()), info)
        }
        Err(_) => (
            None,
            ModelInfo {
                name: spec.name.clone(),
                backend: spec.backend.to_string(),
                quantization: spec.quantization.clone(),
                ..ModelInfo::default()
            },
        ),
    };
    let quantization = spec
        .quantization
        .clone()
        .or_else(|| info.quantization.clone());
    // A replay re-scores a recorded model: its samples keep that model's name.
    let model_name = match (&backend, spec.backend) {
        (Some(_), crate::base::model::BackendKind::Replay) => info.name.clone(),
        _ => spec.name.clone(),
    };

    // Expand the matrix into units.
    let mut units: Vec<Instance> = Vec::new();
    for (ei, entry) in plan.evals.iter().enumerate() {
        let eval = entry.full_name();
        let samples = entry
            .samples
            .or_else(|| plan.samples_override.get(&eval).copied())
            .unwrap_or(plan.samples)
            .max(1);
        let mut limits = plan.limits.clone();
        if let Some(t) = entry.timeout_secs {
            limits.timeout = std::time::Duration::from_secs(t);
            limits.cpu_seconds = t;
        }
        let case = cases[ei].clone();
        for (ti, template) in plan.templates.iter().enumerate() {
            let case_ref = match &case {
                Some(Ok(c)) => Some(&**c),
                _ => None,
            };
            if (case.as_ref().is_some_and(|c| c.is_ok()) || case.is_none())
                && !template.applies_to(case_ref)
            {
                continue;
            }
            let (prompt, error, case_arc, fingerprint) = match &case {
                None => (None, None, None, String::new()),
                Some(Err(e)) => (None, Some(e.clone()), None, String::new()),
                Some(Ok(c)) => match template.render(c) {
                    Ok(p) => (Some(p), None, Some(c.clone()), c.fingerprint()),
                    Err(e) => (None, Some(e.to_string()), Some(c.clone()), c.fingerprint()),
                },
            };
            let stop_rule = match (&prompt, case_ref) {
                (Some(Prompt::Completion(text)), Some(Case::Code(code))) if plan.stop_rules => {
                    StopRule::for_completion(text, code.language)
                }
                _ => None,
            };
            for &temperature in &plan.temperatures {
                let (name, t) = (&template.name, temperature);
                if !crate::plan::partition::admits(plan.partition.as_ref(), &eval, spec, name, t) {
                    continue;
                }
                let config = ConfigKey {
                    model: model_name.clone(),
                    quantization: quantization.clone(),
                    template: template.name.clone(),
                    temperature_bits: temperature.to_bits(),
                };
                let needed: Vec<(u32, u32)> = (0..plan.repeat.max(1))
                    .flat_map(|r| (0..samples).map(move |i| (r, i)))
                    .filter(|&(repeat, sample)| {
                        let key = SampleKey {
                            eval: eval.clone(),
                            model: config.model.clone(),
                            quantization: config.quantization.clone(),
                            template: config.template.clone(),
                            temperature_bits: config.temperature_bits,
                            repeat,
                            sample,
                        };
                        latest.get(&key).is_none_or(|r| r.error.is_some())
                    })
                    .collect();
                units.push(Instance {
                    entry,
                    eval: eval.clone(),
                    tags: entry.tags.iter().map(|t| t.to_string()).collect(),
                    case: case_arc.clone(),
                    fingerprint: fingerprint.clone(),
                    template: ti,
                    temperature,
                    prompt: prompt.clone(),
                    stop_rule: stop_rule.clone(),
                    error: error.clone(),
                    needed,
                    limits: limits.clone(),
                    config,
                });
            }
        }
    }
    let todo: usize = units.iter().map(|u| u.needed.len()).sum();
    reporter.event(Event::ModelStart {
        spec,
        samples: todo,
    });

    let base_record = |u: &Instance, repeat: u32, sample: u32| SampleRecord {
        eval: u.eval.clone(),
        tags: u.tags.clone(),
        model: model_name.clone(),
        backend: info.backend.clone(),
        quantization: quantization.clone(),
        digest: info.digest.clone(),
        template: u.config.template.clone(),
        temperature: u.temperature,
        seed: plan.params.seed,
        sample,
        repeat,
        prompt: u.prompt.clone(),
        response: None,
        exchanges: Vec::new(),
        score: None,
        usage: Default::default(),
        timings: Default::default(),
        cached: false,
        error: None,
        at_ms: crate::base::util::now_ms(),
    };

    let backend: SharedBackend = match backend {
        Some(b) => {
            reporter.event(Event::ModelLoaded(&info));
            outcome
                .models
                .insert((model_name.clone(), quantization.clone()), info.clone());
            b
        }
        None => {
            // Record the failure against every sample, so that --resume retries them.
            let error = match opened {
                Err(e) => e,
                Ok(_) => BackendError::Load("failed to load".into()),
            };
            reporter.event(Event::ModelFailed {
                spec,
                error: &error,
            });
            outcome
                .load_errors
                .push((model_name.clone(), error.to_string()));
            outcome
                .time
                .get_or_insert_with(TimeSplit::default)
                .add(&TimeSplit {
                    load_secs,
                    ..TimeSplit::default()
                });
            for u in &units {
                for &(repeat, i) in &u.needed {
                    let mut r = base_record(u, repeat, i);
                    r.error = Some(error.to_string());
                    if let Err(e) = store.append(&r) {
                        outcome.store_errors.push(e.to_string());
                    }
                    reporter.event(Event::Sample(&r));
                    latest.insert(r.key(), r);
                }
                finish_unit(u, latest, plan, 0.0, reporter, outcome);
            }
            return;
        }
    };

    let salt = backend.cache_salt();
    let busy_before = backend.busy_time();
    let model_started = Instant::now();
    // When the model last answered, and the nanoseconds spent scoring.
    let last_answer: Mutex<Option<Instant>> = Mutex::new(None);
    let scoring_nanos = AtomicU64::new(0);
    let (last_answer_ref, scoring_nanos_ref) = (&last_answer, &scoring_nanos);
    let answered = move || {
        let mut last = last_answer_ref.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some(Instant::now());
    };
    let requests = AtomicUsize::new(0);
    let requests_ref = &requests;
    let judge_caller = JudgeCaller {
        slot: judge,
        under_test: &*backend,
        spec_under_test: spec,
        cache,
        requests: &requests,
        fallback: ModelInfo {
            name: judge
                .spec
                .map_or_else(|| model_name.clone(), |s| s.name.clone()),
            ..ModelInfo::default()
        },
    };
    let judge_ref = &judge_caller;
    let (job_tx, job_rx) = channel::unbounded::<Job>();
    let (score_tx, score_rx) = channel::unbounded::<ScoreJob>();
    let (rec_tx, rec_rx) = channel::unbounded::<(usize, SampleRecord, bool)>();

    let mut remaining: Vec<usize> = units.iter().map(|u| u.needed.len()).collect();
    let started: Vec<Instant> = units.iter().map(|_| Instant::now()).collect();
    // Repeat after repeat, as N runs one after the other would go: a repeat
    // meets other requests in the backend's batches than the one before.
    for repeat in 0..plan.repeat.max(1) {
        for (ui, u) in units.iter().enumerate() {
            let samples: Vec<u32> = u
                .needed
                .iter()
                .filter(|(r, _)| *r == repeat)
                .map(|&(_, i)| i)
                .collect();
            if samples.is_empty() {
                continue;
            }
            if let Some(err) = &u.error {
                for i in samples {
                    let mut r = base_record(u, repeat, i);
                    r.error = Some(err.clone());
                    let _ = rec_tx.send((ui, r, false));
                }
                continue;
            }
            match u.entry.kind {
                EntryKind::Declarative(_) => {
                    let _ = job_tx.send(Job::Generate { unit: ui, repeat });
                }
                EntryKind::Imperative(_) => {
                    for sample in samples {
                        let _ = job_tx.send(Job::Imperative {
                            unit: ui,
                            repeat,
                            sample,
                        });
                    }
                }
            }
        }
    }
    drop(job_tx);

    let gen_threads = backend.parallelism().clamp(1, 256).min(todo.max(1));
    let score_threads = plan.jobs.max(1);
    let units_ref = &units;
    let backend_ref: &dyn Backend = &*backend;
    let salt_ref = salt.as_str();

    std::thread::scope(|s| {
        for _ in 0..gen_threads {
            let job_rx = job_rx.clone();
            let score_tx = score_tx.clone();
            let rec_tx = rec_tx.clone();
            s.spawn(move || {
                for job in job_rx.iter() {
                    match job {
                        Job::Generate { unit, repeat } => {
                            let u = &units_ref[unit];
                            let prompt = u.prompt.as_ref().expect("rendered prompt");
                            let params = SamplingParams {
                                temperature: u.temperature,
                                stop_rule: u.stop_rule.clone(),
                                ..plan.params.clone()
                            };
                            let info = backend_ref.model();
                            let key_of = |sample: u32| {
                                repeat_key(
                                    response_key(
                                        &info.digest,
                                        &info.backend,
                                        salt_ref,
                                        prompt,
                                        &params,
                                        sample,
                                        0,
                                    ),
                                    repeat,
                                )
                            };
                            let mut uncached = Vec::new();
                            for i in u
                                .needed
                                .iter()
                                .filter(|(r, _)| *r == repeat)
                                .map(|&(_, i)| i)
                            {
                                match cache.response(&key_of(i)) {
                                    Some(generation) => {
                                        let _ = score_tx.send(ScoreJob {
                                            unit,
                                            repeat,
                                            generation,
                                            cached: true,
                                        });
                                    }
                                    None => uncached.push(i),
                                }
                            }
                            if uncached.is_empty() {
                                continue;
                            }
                            let request = GenerationRequest {
                                prompt: prompt.clone(),
                                params: params.clone(),
                                samples: uncached.clone(),
                            };
                            requests_ref.fetch_add(1, Ordering::Relaxed);
                            let generated = generate_guarded(backend_ref, &request, repeat);
                            answered();
                            match generated {
                                Ok(gens) => {
                                    let mut got = HashSet::new();
                                    for g in gens {
                                        if !uncached.contains(&g.sample) || !got.insert(g.sample) {
                                            continue;
                                        }
                                        cache.put_response(key_of(g.sample), &g);
                                        let _ = score_tx.send(ScoreJob {
                                            unit,
                                            repeat,
                                            generation: g,
                                            cached: false,
                                        });
                                    }
                                    for i in uncached.into_iter().filter(|i| !got.contains(i)) {
                                        let mut r = base_record(u, repeat, i);
                                        r.error = Some(format!(
                                            "the backend returned no answer for sample {i}"
                                        ));
                                        let _ = rec_tx.send((unit, r, false));
                                    }
                                }
                                Err(e) => {
                                    for i in uncached {
                                        let mut r = base_record(u, repeat, i);
                                        r.error = Some(e.to_string());
                                        let _ = rec_tx.send((unit, r, false));
                                    }
                                }
                            }
                        }
                        Job::Imperative {
                            unit,
                            repeat,
                            sample,
                        } => {
                            let u = &units_ref[unit];
                            let EntryKind::Imperative(f) = u.entry.kind else {
                                continue;
                            };
                            let caller = CachingCaller {
                                backend: backend_ref,
                                cache,
                                salt: salt_ref.to_string(),
                                all_cached: AtomicBool::new(true),
                                requests: requests_ref,
                                repeat,
                            };
                            let judge = RepeatJudge {
                                judge: judge_ref,
                                repeat,
                            };
                            let params = SamplingParams {
                                temperature: u.temperature,
                                ..plan.params.clone()
                            };
                            let template = &plan.templates[u.template];
                            let mut ctx = EvalContext::new(
                                &caller,
                                template,
                                params,
                                sample,
                                u.limits.clone(),
                            )
                            .with_judge(&judge);
                            let result = catch_unwind(AssertUnwindSafe(|| f(&mut ctx)));
                            answered();
                            let mut r = base_record(u, repeat, sample);
                            r.prompt = ctx.exchanges.first().map(|e| e.prompt.clone());
                            r.response = ctx.exchanges.last().map(|e| e.response.clone());
                            r.usage = ctx.usage;
                            r.timings = ctx.timings;
                            r.exchanges = std::mem::take(&mut ctx.exchanges);
                            r.cached = caller.all_cached.load(Ordering::Relaxed);
                            match result {
                                Ok(Ok(score)) => r.score = Some(score),
                                Ok(Err(e)) => r.error = Some(e.to_string()),
                                Err(p) => {
                                    r.error = Some(format!("eval panicked: {}", panic_message(p)))
                                }
                            }
                            let cached = r.cached;
                            let _ = rec_tx.send((unit, r, !cached));
                        }
                    }
                }
            });
        }
        drop(score_tx);
        for _ in 0..score_threads {
            let score_rx = score_rx.clone();
            let rec_tx = rec_tx.clone();
            s.spawn(move || {
                for job in score_rx.iter() {
                    let u = &units_ref[job.unit];
                    let case = u.case.as_ref().expect("declarative case");
                    let t_score = Instant::now();
                    let judge = RepeatJudge {
                        judge: judge_ref,
                        repeat: job.repeat,
                    };
                    let (score, error) = match &**case {
                        // Judged: never from the score cache (the judge model may
                        // differ between runs; its replies are cached instead).
                        Case::Text(t) if t.judge.is_some() => {
                            let question = plan.templates[u.template]
                                .vars_for(case)
                                .ok()
                                .and_then(|mut v| v.remove("task"))
                                .unwrap_or_else(|| t.prompt.clone());
                            let graded = catch_unwind(AssertUnwindSafe(|| {
                                crate::eval::case_scoring::score_judged(
                                    t,
                                    &question,
                                    &job.generation.text,
                                    &judge,
                                )
                            }));
                            match graded {
                                Ok(Ok(Some(s))) => (Some(s), None),
                                Ok(Ok(None)) => (None, Some("the case has no judge".to_string())),
                                Ok(Err(e)) => (None, Some(e.to_string())),
                                Err(p) => (
                                    None,
                                    Some(format!("the judge panicked: {}", panic_message(p))),
                                ),
                            }
                        }
                        _ => {
                            let skey = score_key(&u.fingerprint, &job.generation.text);
                            let score = match cache.score(&skey) {
                                Some(s) => s,
                                None => {
                                    let s = catch_unwind(AssertUnwindSafe(|| {
                                        crate::eval::case_scoring::score_case(
                                            case,
                                            &job.generation.text,
                                            &u.limits,
                                        )
                                    }))
                                    .unwrap_or_else(|p| {
                                        Score::fail().details(format!(
                                            "scorer panicked: {}",
                                            panic_message(p)
                                        ))
                                    });
                                    cache.put_score(skey, &s);
                                    s
                                }
                            };
                            (Some(score), None)
                        }
                    };
                    scoring_nanos_ref
                        .fetch_add(t_score.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    let mut r = base_record(u, job.repeat, job.generation.sample);
                    r.response = Some(job.generation.text);
                    r.usage = job.generation.usage;
                    r.timings = job.generation.timings;
                    r.cached = job.cached;
                    r.score = score;
                    r.error = error;
                    let _ = rec_tx.send((job.unit, r, !job.cached));
                }
            });
        }
        drop(rec_tx);

        // The collector: store, report, close units.
        for (ui, record, generated) in rec_rx.iter() {
            if generated {
                outcome.generated += 1;
            }
            if let Err(e) = store.append(&record) {
                outcome.store_errors.push(e.to_string());
            }
            reporter.event(Event::Sample(&record));
            latest.insert(record.key(), record);
            remaining[ui] -= 1;
            if remaining[ui] == 0 {
                let wall = started[ui].elapsed().as_secs_f64() * 1000.0;
                finish_unit(&units[ui], latest, plan, wall, reporter, outcome);
            }
        }
    });

    outcome.backend_requests += requests.load(Ordering::Relaxed);
    let ended = Instant::now();
    let last = last_answer
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or(ended);
    let busy = backend.busy_time().zip(busy_before).map(|(a, b)| {
        (
            (a.prompt_secs - b.prompt_secs).max(0.0),
            (a.generation_secs - b.generation_secs).max(0.0),
        )
    });
    outcome
        .time
        .get_or_insert_with(TimeSplit::default)
        .add(&TimeSplit {
            load_secs,
            model_secs: last.saturating_duration_since(model_started).as_secs_f64(),
            prompt_secs: busy.map(|b| b.0),
            generation_secs: busy.map(|b| b.1),
            scoring_secs: scoring_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            scoring_threads: score_threads,
            scoring_tail_secs: ended.saturating_duration_since(last).as_secs_f64(),
        });
    // The memory this model needed, while it is still loaded.
    if let Some(info) = outcome
        .models
        .get_mut(&(model_name.clone(), quantization.clone()))
    {
        info.resident_bytes = backend.resident_bytes();
    }

    // Units with nothing left to do (all resumed) are reported too.
    for u in units.iter().filter(|u| u.needed.is_empty()) {
        finish_unit(u, latest, plan, 0.0, reporter, outcome);
    }
}

fn finish_unit(
    u: &Instance,
    latest: &BTreeMap<SampleKey, SampleRecord>,
    plan: &Plan,
    wall_ms: f64,
    reporter: &mut dyn Reporter,
    outcome: &mut Outcome,
) {
    let recs: Vec<&SampleRecord> = latest
        .range(
            SampleKey {
                eval: u.eval.clone(),
                model: u.config.model.clone(),
                quantization: u.config.quantization.clone(),
                template: u.config.template.clone(),
                temperature_bits: u.config.temperature_bits,
                repeat: 0,
                sample: 0,
            }..=SampleKey {
                eval: u.eval.clone(),
                model: u.config.model.clone(),
                quantization: u.config.quantization.clone(),
                template: u.config.template.clone(),
                temperature_bits: u.config.temperature_bits,
                repeat: u32::MAX,
                sample: u32::MAX,
            },
        )
        .map(|(_, r)| r)
        .collect();
    if recs.is_empty() {
        return;
    }
    outcome
        .walls
        .insert((u.eval.clone(), u.config.clone()), wall_ms);
    let min = u
        .entry
        .min_score
        .or_else(|| plan.min_scores.get(&u.eval).copied());
    let summary = UnitSummary::of(&recs, min, wall_ms);
    reporter.event(Event::EvalFinished(&summary));
}
