//! The runner: runs a [`Plan`] model by model. Each model is opened once;
//! the plan is expanded into its instances ([`crate::plan::matrix::expand`],
//! which leaves out samples already stored when resuming); the instances'
//! samples are generated (`run::generate`, through the response cache),
//! scored (`run::execute`) and collected into the results store
//! (`run::collect`) as soon as each is scored.
//!
//! With [`Plan::repeat`] > 1 the whole matrix is run that many times over,
//! repeat after repeat, each repeat generating afresh (its own cache keys);
//! the unit summaries then carry the repeats' agreement
//! ([`crate::run::summary::RepeatStats`]).
//!
//! Generation runs on `backend.parallelism()` threads (so that a backend can
//! batch across cases), scoring on `jobs` threads, and one collector writes
//! the results store and feeds the reporter.
//!
//! Text cases graded by an LLM judge are graded on threads of their own, as
//! many as the judge takes requests at once (it batches them): the judge is
//! `plan.judge` (opened once, when first needed, and shared by every model of
//! the run; a local judge whose identity is known ahead only for a reply the
//! cache does not hold) or, when that is `None`, the model under test itself
//! (`run::judge`). A judge that gives no valid grade makes the sample an
//! error record carrying every raw reply.
//!
//! A configuration whose every answer (and every call its imperative evals
//! and own grading made last time) is in the response cache is served from
//! it without loading its model (`cache_only`).
//!
//! With a [`Schedule`] (the run's placement, `plan::placement`), the
//! configurations run as the plan places them: each on its own thread with
//! its own engine, on its device (layers offloaded, CPU threads), starting
//! as soon as every configuration of an earlier wave that occupies one of
//! its devices has finished ([`Assignment::occupies`]); configurations of
//! one wave run at the same time. Their records all go to the one
//! [`Collector`], on the calling thread. A configuration that fails to load
//! on a GPU placement is re-planned ([`replan`]) onto the next option and
//! opened again. Without a schedule, models run one after the other, in the
//! plan's order.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel as channel;

use crate::base::backend::{Backend, BackendError, BusyTime, ModelInfo, Prompt, SharedBackend};
use crate::base::model::{BackendKind, BackendOpener, KnownRequests, ModelSpec, Workload};
use crate::eval::registry::EntryKind;
use crate::plan::matrix::{
    build_cases, expand, Cases, Instance, InstanceList, Plan, SampleKey, StoredSamples,
};
use crate::plan::placement::{self, replan, Assignment, DeviceSource, Placed, Placement};
use crate::run::collect::{Collected, Collector, Event, ModelRecords, Outcome, Reporter};
use crate::run::execute::{
    dispatch, imperative_params, request_params, Job, ScoreJob, ScoreQueues, Worker,
};
use crate::run::generate::CachedBackend;
use crate::run::judge::{JudgeCaller, JudgeSlot};
use crate::run::lazy::{LazyBackend, LazyOpener};
use crate::run::store::{Cache, RunStore};
use crate::run::summary::TimeSplit;

/// How much larger than estimated a configuration that failed to load is
/// assumed to be when it is re-planned.
const REPLAN_INFLATE: f64 = 0.25;

/// Where the configurations of a run go.
pub struct Schedule<'a> {
    /// The placement of the plan's models: `placed.requests[i]` is
    /// `plan.models[i]`.
    pub placed: Placed,
    /// The devices, asked again when a load fails (free memory may have
    /// changed since the plan was made).
    pub source: &'a dyn DeviceSource,
}

/// Runs `plan`, storing samples in `store` and answering from `cache` where
/// possible, model after model.
pub fn execute(
    plan: &Plan,
    store: &RunStore,
    cache: &Cache,
    opener: BackendOpener<'_>,
    reporter: &mut dyn Reporter,
) -> Outcome {
    execute_with(plan, store, cache, opener, None, reporter)
}

/// Runs `plan` as [`execute`] does; with a `schedule`, each configuration
/// on the devices its placement names, configurations of one wave at the
/// same time. The outcome records the placement as run
/// ([`Outcome::placement`]: re-planned configurations with their new
/// placement).
pub fn execute_with(
    plan: &Plan,
    store: &RunStore,
    cache: &Cache,
    opener: BackendOpener<'_>,
    schedule: Option<&Schedule<'_>>,
    reporter: &mut dyn Reporter,
) -> Outcome {
    let mut collector = Collector::new(plan, store, reporter);
    // Declarative cases are built once per process.
    let cases = build_cases(&plan.evals);
    // A local judge whose identity is known ahead loads only for a reply
    // the response cache does not hold. (Its identity is looked up, which
    // reads the model file, only when some eval may ask it: a judged text
    // case, or an imperative eval.)
    let may_judge = plan.evals.iter().zip(&cases).any(|(e, c)| match c {
        Some(Ok(case)) => case.is_judged(),
        Some(Err(_)) => false,
        None => matches!(e.kind, EntryKind::Imperative(_)),
    });
    let judge_identity = plan
        .judge
        .as_ref()
        .filter(|j| may_judge && j.backend == BackendKind::Llama && cache.path().is_some())
        .zip(schedule)
        .and_then(|(j, s)| s.source.identity(j));
    let judge = JudgeSlot::new(plan.judge.as_ref(), opener, judge_identity);
    let stored = collector.stored_samples();
    let mut placement = schedule.map(|s| s.placed.plan.clone());
    let run = Shared {
        plan,
        cases: &cases,
        cache,
        opener,
        judge: &judge,
        stored: &stored,
        schedule,
    };
    let n = plan.models.len();
    // Start order and what each configuration waits for.
    let (order, blockers) = match schedule {
        Some(s) => blockers_of(&s.placed, n),
        None => (
            (0..n).collect(),
            (0..n)
                .map(|i| i.checked_sub(1).into_iter().collect())
                .collect(),
        ),
    };
    let mut states = vec![TaskState::Pending; n];
    let mut tasks: Vec<Option<Task>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        let (tx, rx) = channel::unbounded::<Msg>();
        loop {
            for &t in &order {
                if states[t] == TaskState::Pending
                    && blockers[t].iter().all(|&b| states[b] == TaskState::Done)
                {
                    states[t] = TaskState::Running;
                    let (tx, run) = (tx.clone(), &run);
                    s.spawn(move || {
                        let _done = DoneGuard {
                            task: t,
                            tx: tx.clone(),
                        };
                        run_model(run, t, &tx);
                    });
                }
            }
            if states.iter().all(|st| *st == TaskState::Done) {
                break;
            }
            let Ok(msg) = rx.recv() else { break };
            handle(
                msg,
                plan,
                &mut tasks,
                &mut states,
                &mut placement,
                &mut collector,
            );
        }
    });
    let mut outcome = collector.into_outcome();
    outcome.placement = placement;
    outcome
}

/// Each configuration's start order (plan order: wave, then request) and the
/// configurations it waits for: those of earlier waves that occupy one of
/// its devices. A configuration the plan leaves out runs alone, last.
fn blockers_of(placed: &Placed, n: usize) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut order: Vec<usize> = placed
        .plan
        .assignments
        .iter()
        .map(|a| a.request)
        .filter(|&r| r < n)
        .collect();
    let planned: BTreeSet<usize> = order.iter().copied().collect();
    let unplanned: Vec<usize> = (0..n).filter(|i| !planned.contains(i)).collect();
    let mut blockers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for a in &placed.plan.assignments {
        if a.request >= n {
            continue;
        }
        let mine = a.occupies();
        blockers[a.request] = placed
            .plan
            .assignments
            .iter()
            .filter(|b| b.request < n && b.wave < a.wave)
            .filter(|b| b.occupies().iter().any(|d| mine.contains(d)))
            .map(|b| b.request)
            .collect();
    }
    for &u in &unplanned {
        blockers[u] = order.clone();
    }
    order.extend(unplanned);
    (order, blockers)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskState {
    Pending,
    Running,
    Done,
}

/// What the collector keeps of a running configuration.
struct Task {
    records: ModelRecords,
    instances: Arc<InstanceList>,
    /// Records still expected per instance.
    remaining: Vec<usize>,
    started: Instant,
}

/// What every configuration's thread shares.
struct Shared<'a> {
    plan: &'a Plan,
    cases: &'a Cases,
    cache: &'a Cache,
    opener: BackendOpener<'a>,
    judge: &'a JudgeSlot<'a>,
    /// Samples stored without an error when the run started (resume).
    stored: &'a StoredSamples,
    schedule: Option<&'a Schedule<'a>>,
}

/// From a configuration's thread to the collector. Most messages are
/// records, the largest variant: boxing it would cost an allocation per
/// sample to shrink the rare ones.
#[allow(clippy::large_enum_variant)]
enum Msg {
    /// Its load failed on `failed`; it goes to `next` now.
    Replanned {
        task: usize,
        error: BackendError,
        failed: Box<Placement>,
        next: Box<Assignment>,
    },
    /// It is about to run (or to fail): its instances are expanded.
    Start {
        task: usize,
        device: Option<String>,
        records: ModelRecords,
        instances: Arc<InstanceList>,
    },
    /// It did not load.
    Failed {
        task: usize,
        error: BackendError,
        load_secs: f64,
    },
    /// It is loaded (or, `cached`, served from the response cache without
    /// loading); its samples follow from `started`.
    Loaded {
        task: usize,
        info: Box<ModelInfo>,
        cached: bool,
        /// Whether any of its samples gets as far as asking it.
        asked: bool,
        started: Instant,
    },
    /// A record of it.
    Record(usize, Collected),
    /// Its samples are all in.
    Finished {
        task: usize,
        requests: usize,
        time: TimeSplit,
        resident_bytes: Option<u64>,
    },
    /// Its thread ended.
    Done(usize),
}

/// Sends [`Msg::Done`] when a configuration's thread ends, however it ends.
struct DoneGuard {
    task: usize,
    tx: channel::Sender<Msg>,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Done(self.task));
    }
}

/// The collector's side: applies one message from a configuration.
fn handle(
    msg: Msg,
    plan: &Plan,
    tasks: &mut [Option<Task>],
    states: &mut [TaskState],
    placement: &mut Option<placement::Plan>,
    collector: &mut Collector<'_>,
) {
    match msg {
        Msg::Replanned {
            task,
            error,
            failed,
            next,
        } => {
            collector.report(Event::ModelReplanned {
                spec: &plan.models[task],
                error: &error,
                failed: &failed.describe(),
                next: &next.placement.describe(),
            });
            if let Some(p) = placement.as_mut() {
                if let Some(a) = p.assignments.iter_mut().find(|a| a.request == task) {
                    *a = *next;
                }
            }
        }
        Msg::Start {
            task,
            device,
            records,
            instances,
        } => {
            collector.report(Event::ModelStart {
                spec: &plan.models[task],
                samples: instances.todo(),
                device: device.as_deref(),
            });
            let remaining = instances.instances.iter().map(|u| u.needed.len()).collect();
            tasks[task] = Some(Task {
                records,
                instances,
                remaining,
                started: Instant::now(),
            });
        }
        Msg::Failed {
            task,
            error,
            load_secs,
        } => {
            if let Some(t) = &tasks[task] {
                model_failed(&plan.models[task], t, load_secs, &error, collector);
            }
        }
        Msg::Loaded {
            task,
            info,
            cached,
            asked,
            started,
        } => {
            collector.report(match (cached, asked) {
                (false, _) => Event::ModelLoaded(&info),
                (true, true) => Event::ModelCached(&info),
                (true, false) => Event::ModelUnasked(&info),
            });
            if let Some(t) = tasks[task].as_mut() {
                t.started = started;
                collector.outcome().models.insert(
                    (t.records.model.clone(), t.records.quantization.clone()),
                    *info,
                );
            }
        }
        Msg::Record(task, (ui, record, generated)) => {
            if generated {
                collector.outcome().generated += 1;
            }
            collector.record(record);
            if let Some(t) = tasks[task].as_mut() {
                t.remaining[ui] -= 1;
                if t.remaining[ui] == 0 {
                    let wall = t.started.elapsed().as_secs_f64() * 1000.0;
                    collector.finish(&t.instances.instances[ui], wall);
                }
            }
        }
        Msg::Finished {
            task,
            requests,
            time,
            resident_bytes,
        } => {
            let outcome = collector.outcome();
            outcome.backend_requests += requests;
            outcome.add_time(&time);
            if let Some(t) = &tasks[task] {
                // The memory this model needed, while it was still loaded.
                let key = (t.records.model.clone(), t.records.quantization.clone());
                if let Some(info) = outcome.models.get_mut(&key) {
                    info.resident_bytes = resident_bytes;
                }
                // Instances with nothing left to do (all resumed) are reported too.
                for u in t.instances.instances.iter().filter(|u| u.needed.is_empty()) {
                    collector.finish(u, 0.0);
                }
            }
        }
        Msg::Done(task) => {
            states[task] = TaskState::Done;
            tasks[task] = None;
        }
    }
}

/// A model as its records name it, once opened (or not).
struct Opened {
    backend: Result<SharedBackend, BackendError>,
    info: ModelInfo,
    records: ModelRecords,
    load_secs: f64,
}

/// Opens `spec`. Records name the spec's model, except that a replay keeps
/// the recorded model's name; the quantization is the spec's, else the
/// backend's.
fn open(plan: &Plan, spec: &ModelSpec, opener: BackendOpener<'_>) -> Opened {
    let t_open = Instant::now();
    // A backend that panics while opening fails this configuration, not
    // the run (the other configurations' results and the summary are kept).
    let backend = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| opener(spec)))
        .unwrap_or_else(|p| {
            Err(BackendError::Load(format!(
                "opening panicked: {}",
                crate::base::util::panic_message(p.as_ref())
            )))
        });
    let load_secs = t_open.elapsed().as_secs_f64();
    let info = match &backend {
        Ok(b) => b.model().clone(),
        Err(_) => ModelInfo {
            name: spec.name.clone(),
            backend: spec.backend.to_string(),
            quantization: spec.quantization.clone(),
            ..ModelInfo::default()
        },
    };
    let replay = backend.is_ok() && spec.backend == BackendKind::Replay;
    let records = records_of(plan, spec, &info, replay);
    Opened {
        backend,
        info,
        records,
        load_secs,
    }
}

/// How the records of `spec`, served as `info`, name its model.
fn records_of(plan: &Plan, spec: &ModelSpec, info: &ModelInfo, replay: bool) -> ModelRecords {
    ModelRecords {
        model: if replay {
            info.name.clone()
        } else {
            spec.name.clone()
        },
        backend: info.backend.clone(),
        quantization: spec
            .quantization
            .clone()
            .or_else(|| info.quantization.clone()),
        digest: info.digest.clone(),
        seed: plan.params.seed,
    }
}

/// Configuration `task` served from the response cache, without loading its
/// model, when its cache identity is known ahead
/// ([`DeviceSource::identity`]) and every answer its instances need is
/// cached; with those instances and its assignment. An imperative eval's
/// sample counts as cached when the calls it made last time are
/// ([`CachedBackend::calls_cached`]; should its code now ask something else,
/// the model loads then), and so does the grading of a text case the model
/// judges itself. `None` otherwise. Should the model be needed after all,
/// it is opened as [`open_placed`] opens it (re-planned if a GPU placement
/// fails to load).
fn cache_only<'r>(
    run: &'r Shared<'_>,
    task: usize,
    tx: &channel::Sender<Msg>,
) -> Option<Served<'r>> {
    let schedule = run.schedule?;
    let spec = &run.plan.models[task];
    if spec.backend != BackendKind::Llama || run.cache.path().is_none() {
        return None;
    }
    let assignment = schedule.placed.assignment(task).cloned();
    let spec = match &assignment {
        Some(a) => a.apply(spec, &schedule.placed.inventory),
        None => spec.clone(),
    };
    let identity = schedule.source.identity(&spec)?;
    let records = records_of(run.plan, &spec, &identity.info, false);
    let names = (records.model.as_str(), records.quantization.as_deref());
    let instances = instances_of(run.plan, run.cases, names, &spec, &|key, digest| {
        run.stored.contains(key, digest)
    });
    let tx = tx.clone();
    let open: LazyOpener<'r> = Box::new(move |_: &ModelSpec| open_placed(run, task, &tx).0.backend);
    let backend = LazyBackend::new(identity, spec, open);
    let requests = AtomicUsize::new(0);
    let model = CachedBackend::new(&backend, run.cache, &requests);
    let self_judged = run.judge.spec().is_none();
    for u in instances.instances.iter().filter(|u| !u.needed.is_empty()) {
        if u.error.is_some() {
            continue; // nothing is generated
        }
        let all_cached = if let EntryKind::Imperative(_) = u.entry.kind {
            // The calls each sample made last time, if it recorded them.
            let template = &run.plan.templates[u.template];
            let params = imperative_params(run.plan, u);
            u.needed
                .iter()
                .all(|&n| model.calls_cached(&u.eval, template, &params, n))
        } else {
            let prompt = u.prompt.as_ref()?;
            let params = request_params(run.plan, u);
            // The model grading its own answers: the judge calls it made last
            // time, if it recorded them.
            let graded_by_itself = self_judged && u.judged();
            let template = &run.plan.templates[u.template];
            u.needed.iter().all(|&n| {
                model.is_cached(prompt, &params, n)
                    && (!graded_by_itself || model.calls_cached(&u.eval, template, &params, n))
            })
        };
        if !all_cached {
            return None;
        }
    }
    Some(Served {
        info: backend.model().clone(),
        source: Source::Cache(Box::new(backend)),
        records,
        instances,
        load_secs: 0.0,
        assignment,
    })
}

/// Opens configuration `task` where its assignment places it; a load that
/// fails on a GPU placement is re-planned onto the next option and tried
/// again, until one loads or none is left. Returns the spec as opened, the
/// result and the assignment it was opened with.
fn open_placed(
    run: &Shared<'_>,
    task: usize,
    tx: &channel::Sender<Msg>,
) -> (Opened, Option<Assignment>) {
    let mut spec = run.plan.models[task].clone();
    if spec.backend == BackendKind::Llama {
        // Told again with what is stored (a resumed run asks for less than
        // `announce_workloads` assumed).
        spec.workload = Some(workload(
            run.plan,
            run.cases,
            &spec,
            run.judge.spec().is_none(),
            &|key, digest| run.stored.contains(key, digest),
        ));
    }
    let spec = &spec;
    let Some(schedule) = run.schedule else {
        return (open(run.plan, spec, run.opener), None);
    };
    let placed = &schedule.placed;
    let mut assignment = placed.assignment(task).cloned();
    let mut tried: Vec<Placement> = Vec::new();
    // Load time spent on placements that failed, counted as the
    // configuration's.
    let mut failed_secs = 0.0;
    loop {
        let Some(a) = &assignment else {
            return (open(run.plan, spec, run.opener), None);
        };
        let mut opened = open(run.plan, &a.apply(spec, &placed.inventory), run.opener);
        opened.load_secs += failed_secs;
        let Err(error) = &opened.backend else {
            return (opened, assignment);
        };
        // Only a load error (such as running out of memory) on a GPU
        // placement is tried elsewhere; other errors would fail anywhere.
        let retry = match (placed.requests.get(task), &a.placement) {
            (
                Some(r),
                Placement::Gpu { .. } | Placement::Split { .. } | Placement::Partial { .. },
            ) if matches!(error, BackendError::Load(_)) => {
                let inventory = schedule
                    .source
                    .inventory()
                    .unwrap_or_else(|_| placed.inventory.clone());
                replan(
                    &inventory,
                    &placed.config,
                    r,
                    &a.placement,
                    &tried,
                    REPLAN_INFLATE,
                )
                .ok()
                .flatten()
            }
            _ => None,
        };
        let Some(mut next) = retry else {
            return (opened, assignment);
        };
        next.request = task;
        next.wave = a.wave;
        tried.push(a.placement.clone());
        let _ = tx.send(Msg::Replanned {
            task,
            error: error.clone(),
            failed: Box::new(a.placement.clone()),
            next: Box::new(next.clone()),
        });
        failed_secs = opened.load_secs;
        assignment = Some(next);
    }
}

/// Tells each in-process (llama) configuration of `plan` what the run will
/// ask of it ([`ModelSpec::workload`]), as if nothing were stored yet, so
/// that what is estimated before the run (the placement, `cargo eval
/// --plan`) sizes each model as it will be opened: its batch and KV cache
/// follow the workload. The runner tells each model again when it opens it,
/// leaving out what a resumed run already has.
pub fn announce_workloads(plan: &mut Plan) {
    if !plan.models.iter().any(|m| m.backend == BackendKind::Llama) {
        return;
    }
    let cases = build_cases(&plan.evals);
    let self_judged = plan.judge.is_none();
    let workloads: Vec<Option<Workload>> = plan
        .models
        .iter()
        .map(|spec| {
            (spec.backend == BackendKind::Llama)
                .then(|| workload(plan, &cases, spec, self_judged, &|_, _| false))
        })
        .collect();
    for (spec, w) in plan.models.iter_mut().zip(workloads) {
        if w.is_some() {
            spec.workload = w;
        }
    }
}

/// The instances of configuration `spec`, its records naming it `model`
/// and `quantization`, less the samples `stored`: its share of a
/// partitioned run.
fn instances_of(
    plan: &Plan,
    cases: &Cases,
    (model, quantization): (&str, Option<&str>),
    spec: &ModelSpec,
    stored: &dyn Fn(&SampleKey, Option<&str>) -> bool,
) -> InstanceList {
    let mut instances = expand(plan, cases, model, quantization, stored);
    instances.retain_partition(plan, spec);
    instances
}

/// The prompt of instance `u` when every request it makes is known ahead:
/// a declarative case's, unless it is a text case graded by a judge that is
/// the model under test (`self_judged`: the run names no judge); `None` for
/// an imperative eval, which calls the model itself.
fn known_prompt(u: &Instance, self_judged: bool) -> Option<&Prompt> {
    match (&u.entry.kind, &u.prompt, &u.case) {
        (EntryKind::Declarative(_), Some(prompt), Some(case))
            if !(self_judged && case.is_judged()) =>
        {
            Some(prompt)
        }
        _ => None,
    }
}

/// What configuration `spec` will be asked for (see [`Workload`]): the
/// samples of its instances as the spec names them that are not `stored`,
/// and the largest request unless some requests cannot be known ahead (an
/// imperative eval calls the model itself; a text case graded by a judge
/// asks the model under test when the run names no judge: `self_judged`).
fn workload(
    plan: &Plan,
    cases: &Cases,
    spec: &ModelSpec,
    self_judged: bool,
    stored: &dyn Fn(&SampleKey, Option<&str>) -> bool,
) -> Workload {
    let names = (spec.name.as_str(), spec.quantization.as_deref());
    let instances = instances_of(plan, cases, names, spec, stored);
    let mut seen = std::collections::HashSet::new();
    let mut prompts: Vec<Prompt> = Vec::new();
    let mut known = true;
    for u in instances.instances.iter().filter(|u| !u.needed.is_empty()) {
        if u.error.is_some() {
            continue; // nothing is generated
        }
        match known_prompt(u, self_judged) {
            Some(prompt) if seen.insert(prompt) => prompts.push(prompt.clone()),
            Some(_) => {}
            None => known = false,
        }
    }
    Workload {
        samples: instances.todo(),
        requests: known.then_some(KnownRequests {
            prompts,
            max_tokens: plan.params.max_tokens,
        }),
    }
}

/// How the progress output names an assignment's device: `CUDA0`, `CPU,
/// 2 threads`, `remote http://...`.
fn device_of(a: &Assignment) -> String {
    match a.threads {
        Some(t) => format!(
            "{}, {t} thread{}",
            a.placement.describe(),
            if t == 1 { "" } else { "s" }
        ),
        None => a.placement.describe(),
    }
}

/// Runs every instance of `plan` on configuration `task`, on this thread
/// and the generation and scoring threads it starts, sending what it
/// produces to the collector.
fn run_model(run: &Shared<'_>, task: usize, tx: &channel::Sender<Msg>) {
    let plan = run.plan;
    let spec = &plan.models[task];
    let Served {
        source,
        info,
        records,
        instances,
        load_secs,
        assignment,
    } = cache_only(run, task, tx).unwrap_or_else(|| {
        let (opened, assignment) = open_placed(run, task, tx);
        let names = (
            opened.records.model.as_str(),
            opened.records.quantization.as_deref(),
        );
        let instances = instances_of(plan, run.cases, names, spec, &|key, digest| {
            run.stored.contains(key, digest)
        });
        Served {
            source: Source::Opened(opened.backend),
            info: opened.info,
            records: opened.records,
            instances,
            load_secs: opened.load_secs,
            assignment,
        }
    });
    let cached = matches!(source, Source::Cache(_));
    let instances = Arc::new(instances);
    let _ = tx.send(Msg::Start {
        task,
        device: assignment.as_ref().map(device_of),
        records: records.clone(),
        instances: Arc::clone(&instances),
    });
    let backend = match source.backend() {
        Ok(b) => b,
        Err(error) => {
            let _ = tx.send(Msg::Failed {
                task,
                error,
                load_secs,
            });
            return;
        }
    };
    let requests = AtomicUsize::new(0);
    let model = CachedBackend::new(backend, run.cache, &requests);
    let judge = JudgeCaller::new(
        run.judge,
        backend,
        spec,
        &records.model,
        run.cache,
        &requests,
    );
    let clock = ModelClock::start(backend, load_secs);
    let _ = tx.send(Msg::Loaded {
        task,
        info: Box::new(info),
        cached,
        asked: instances
            .instances
            .iter()
            .any(|u| u.error.is_none() && !u.needed.is_empty()),
        started: Instant::now(),
    });
    let worker = Worker {
        plan,
        instances: &instances.instances,
        model: &model,
        judge: &judge,
        cache: run.cache,
        records: &records,
        answered: &|| clock.answered(),
        scoring_nanos: &clock.scoring_nanos,
        judging_nanos: &clock.judging_nanos,
    };
    let threads = run_instances(&worker, backend, &instances, task, tx);
    let mut time = clock.split(backend, threads);
    if let Source::Cache(c) = &source {
        // Loaded after all, for an answer the cache did not hold: load time,
        // not the model's (idle) time.
        time.load_secs += c.load_secs();
        time.model_secs = (time.model_secs - c.load_secs()).max(0.0);
    }
    let _ = tx.send(Msg::Finished {
        task,
        requests: requests.load(Ordering::Relaxed),
        time,
        resident_bytes: backend.resident_bytes(),
    });
}

/// Configuration `task`'s backend as [`run_model`] gets it, and what follows
/// from where it came from.
struct Served<'a> {
    source: Source<'a>,
    info: ModelInfo,
    records: ModelRecords,
    instances: InstanceList,
    load_secs: f64,
    assignment: Option<Assignment>,
}

/// Where a configuration's backend lives.
enum Source<'a> {
    /// The response cache, the model loaded only if an answer is missing
    /// (see [`cache_only`]).
    Cache(Box<LazyBackend<'a>>),
    /// The model as opened (or why it did not open).
    Opened(Result<SharedBackend, BackendError>),
}

impl Source<'_> {
    fn backend(&self) -> Result<&dyn Backend, BackendError> {
        match self {
            Source::Cache(c) => Ok(&**c),
            Source::Opened(Ok(b)) => Ok(&**b),
            Source::Opened(Err(e)) => Err(e.clone()),
        }
    }
}

/// Where one model's time goes: its share of the run's [`TimeSplit`].
struct ModelClock {
    load_secs: f64,
    busy_before: Option<BusyTime>,
    started: Instant,
    /// When the model last answered.
    last_answer: Mutex<Option<Instant>>,
    /// Nanoseconds spent scoring, summed over the scoring threads.
    scoring_nanos: AtomicU64,
    /// Of those, judging, summed over the judging threads.
    judging_nanos: AtomicU64,
}

impl ModelClock {
    /// Starts the clock of `backend`, loaded in `load_secs`.
    fn start(backend: &dyn Backend, load_secs: f64) -> Self {
        ModelClock {
            load_secs,
            busy_before: backend.busy_time(),
            started: Instant::now(),
            last_answer: Mutex::new(None),
            scoring_nanos: AtomicU64::new(0),
            judging_nanos: AtomicU64::new(0),
        }
    }

    /// The model has just answered.
    fn answered(&self) {
        *self.last_answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// The split, now that the model's instances are done: model time runs
    /// to its last answer; what scoring took after it is the scoring tail.
    fn split(
        self,
        backend: &dyn Backend,
        (scoring_threads, judging_threads): (usize, usize),
    ) -> TimeSplit {
        let ended = Instant::now();
        let last = self
            .last_answer
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(ended);
        // A backend loaded during the run (see `LazyBackend`) started at zero.
        let before = self.busy_before.unwrap_or_default();
        let busy = backend.busy_time().map(|a| {
            (
                (a.prompt_secs - before.prompt_secs).max(0.0),
                (a.generation_secs - before.generation_secs).max(0.0),
            )
        });
        TimeSplit {
            load_secs: self.load_secs,
            model_secs: last.saturating_duration_since(self.started).as_secs_f64(),
            prompt_secs: busy.map(|b| b.0),
            generation_secs: busy.map(|b| b.1),
            scoring_secs: self.scoring_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            scoring_threads,
            scoring_tail_secs: ended.saturating_duration_since(last).as_secs_f64(),
            judging_secs: self.judging_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            judging_threads,
        }
    }
}

/// Records `error` (the model did not load) against every needed sample of
/// `task`'s instances, so that `--resume` retries them, and closes every
/// instance.
fn model_failed(
    spec: &ModelSpec,
    task: &Task,
    load_secs: f64,
    error: &BackendError,
    collector: &mut Collector<'_>,
) {
    let records = &task.records;
    collector.report(Event::ModelFailed { spec, error });
    // The reason alone: whoever shows it says "model … failed to load".
    collector
        .outcome()
        .load_errors
        .push((records.model.clone(), error.load_reason()));
    collector.outcome().add_time(&TimeSplit {
        load_secs,
        ..TimeSplit::default()
    });
    for u in &task.instances.instances {
        for &(repeat, i) in &u.needed {
            collector.record(records.error(u, repeat, i, error.to_string()));
        }
        collector.finish(u, 0.0);
    }
}

/// Judge threads of one configuration at most (see [`ScoreQueues`]).
const MAX_JUDGE_THREADS: usize = 64;

/// Runs `worker`'s instances: generation threads (as many as the backend
/// takes requests at once), `plan.jobs` scoring threads and, when a judge
/// grades some of them, as many judging threads as the judge takes requests
/// at once; their records passed on to the collector from this thread.
/// Returns the number of scoring threads and of judging threads.
fn run_instances(
    worker: &Worker<'_>,
    backend: &dyn Backend,
    instances: &InstanceList,
    task: usize,
    tx: &channel::Sender<Msg>,
) -> (usize, usize) {
    let (job_tx, job_rx) = channel::unbounded::<Job>();
    let (score_tx, score_rx) = channel::unbounded::<ScoreJob>();
    let (rec_tx, rec_rx) = channel::unbounded::<Collected>();
    dispatch(
        worker.plan,
        &instances.instances,
        worker.records,
        &job_tx,
        &rec_tx,
    );
    drop(job_tx);

    let gen_threads = backend
        .parallelism()
        .clamp(1, 256)
        .min(instances.todo().max(1));
    let score_threads = worker.plan.jobs.max(1);
    let judged = instances
        .instances
        .iter()
        .any(|u| u.judged() && u.error.is_none() && !u.needed.is_empty());
    let judge_threads = AtomicUsize::new(0);
    let (judge_tx, judge_rx) = channel::unbounded::<ScoreJob>();
    std::thread::scope(|s| {
        for _ in 0..gen_threads {
            let queues = ScoreQueues {
                scored: score_tx.clone(),
                judged: judge_tx.clone(),
            };
            let (job_rx, rec_tx) = (job_rx.clone(), rec_tx.clone());
            s.spawn(move || {
                for job in job_rx.iter() {
                    worker.run(job, &queues, &rec_tx);
                }
            });
        }
        drop((score_tx, judge_tx));
        let score = |rx: channel::Receiver<ScoreJob>, rec_tx: channel::Sender<Collected>| {
            move || {
                for job in rx.iter() {
                    let _ = rec_tx.send(worker.score(job));
                }
            }
        };
        for _ in 0..score_threads {
            s.spawn(score(score_rx.clone(), rec_tx.clone()));
        }
        if judged {
            // How many requests the judge takes may mean opening it: not on
            // this thread, so that generation starts meanwhile.
            let (rec_tx, judge_threads) = (rec_tx.clone(), &judge_threads);
            s.spawn(move || {
                let n = worker.judge.parallelism().clamp(1, MAX_JUDGE_THREADS);
                judge_threads.store(n, Ordering::Relaxed);
                for _ in 1..n {
                    s.spawn(score(judge_rx.clone(), rec_tx.clone()));
                }
                score(judge_rx, rec_tx)();
            });
        }
        drop(rec_tx);
        for collected in rec_rx.iter() {
            let _ = tx.send(Msg::Record(task, collected));
        }
    });
    (score_threads, judge_threads.into_inner())
}
