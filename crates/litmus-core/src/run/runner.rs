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
//! Text cases graded by an LLM judge are graded on the scoring threads: the
//! judge is `plan.judge` (opened once, on first use, and shared by every
//! model of the run) or, when that is `None`, the model under test itself
//! (`run::judge`). A judge that gives no valid grade makes the sample an
//! error record carrying every raw reply.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crossbeam_channel as channel;

use crate::base::backend::{
    Backend, BackendError, BackendOpener, BusyTime, ModelInfo, SharedBackend,
};
use crate::base::model::{BackendKind, ModelSpec};
use crate::plan::matrix::{build_cases, expand, Cases, InstanceList, Plan};
use crate::run::collect::{Collected, Collector, Event, ModelRecords, Outcome, Reporter};
use crate::run::execute::{dispatch, Job, ScoreJob, Worker};
use crate::run::generate::CachedBackend;
use crate::run::judge::{JudgeCaller, JudgeSlot};
use crate::run::store::{Cache, RunStore};
use crate::run::summary::TimeSplit;

/// Runs `plan`, storing samples in `store` and answering from `cache` where possible.
pub fn execute(
    plan: &Plan,
    store: &RunStore,
    cache: &Cache,
    opener: BackendOpener<'_>,
    reporter: &mut dyn Reporter,
) -> Outcome {
    let mut collector = Collector::new(plan, store, reporter);
    let judge = JudgeSlot::new(plan.judge.as_ref(), opener);
    // Declarative cases are built once per process.
    let cases = build_cases(&plan.evals);
    for spec in &plan.models {
        run_model(plan, spec, &cases, cache, opener, &judge, &mut collector);
    }
    collector.into_outcome()
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
    let backend = opener(spec);
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
    let model = match (&backend, spec.backend) {
        (Ok(_), BackendKind::Replay) => info.name.clone(),
        _ => spec.name.clone(),
    };
    let records = ModelRecords {
        model,
        backend: info.backend.clone(),
        quantization: spec
            .quantization
            .clone()
            .or_else(|| info.quantization.clone()),
        digest: info.digest.clone(),
        seed: plan.params.seed,
    };
    Opened {
        backend,
        info,
        records,
        load_secs,
    }
}

/// Runs every instance of `plan` on model `spec`.
fn run_model(
    plan: &Plan,
    spec: &ModelSpec,
    cases: &Cases,
    cache: &Cache,
    opener: BackendOpener<'_>,
    judge: &JudgeSlot<'_>,
    collector: &mut Collector<'_>,
) {
    let opened = open(plan, spec, opener);
    let records = &opened.records;
    let mut instances = expand(
        plan,
        cases,
        &records.model,
        records.quantization.as_deref(),
        &|key| collector.stored(key),
    );
    instances.retain_partition(plan, spec);
    collector.report(Event::ModelStart {
        spec,
        samples: instances.todo(),
    });
    let backend = match opened.backend {
        Ok(b) => b,
        Err(error) => {
            return model_failed(
                spec,
                &opened.records,
                opened.load_secs,
                &error,
                &instances,
                collector,
            )
        }
    };
    collector.report(Event::ModelLoaded(&opened.info));
    collector.outcome().models.insert(
        (records.model.clone(), records.quantization.clone()),
        opened.info.clone(),
    );

    let requests = AtomicUsize::new(0);
    let model = CachedBackend::new(&*backend, cache, &requests);
    let judge = JudgeCaller::new(judge, &*backend, spec, &records.model, cache, &requests);
    let clock = ModelClock::start(&*backend, opened.load_secs);
    let worker = Worker {
        plan,
        instances: &instances.instances,
        model: &model,
        judge: &judge,
        cache,
        records,
        answered: &|| clock.answered(),
        scoring_nanos: &clock.scoring_nanos,
    };
    let score_threads = run_instances(&worker, &*backend, &instances, collector);
    collector.outcome().backend_requests += requests.load(Ordering::Relaxed);
    collector
        .outcome()
        .add_time(&clock.split(&*backend, score_threads));
    // The memory this model needed, while it is still loaded.
    let key = (records.model.clone(), records.quantization.clone());
    if let Some(info) = collector.outcome().models.get_mut(&key) {
        info.resident_bytes = backend.resident_bytes();
    }

    // Instances with nothing left to do (all resumed) are reported too.
    for u in instances.instances.iter().filter(|u| u.needed.is_empty()) {
        collector.finish(u, 0.0);
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
        }
    }

    /// The model has just answered.
    fn answered(&self) {
        *self.last_answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// The split, now that the model's instances are done: model time runs
    /// to its last answer; what scoring took after it is the scoring tail.
    fn split(self, backend: &dyn Backend, scoring_threads: usize) -> TimeSplit {
        let ended = Instant::now();
        let last = self
            .last_answer
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(ended);
        let busy = backend.busy_time().zip(self.busy_before).map(|(a, b)| {
            (
                (a.prompt_secs - b.prompt_secs).max(0.0),
                (a.generation_secs - b.generation_secs).max(0.0),
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
        }
    }
}

/// Records `error` (the model did not load) against every needed sample of
/// `instances`, so that `--resume` retries them, and closes every instance.
fn model_failed(
    spec: &ModelSpec,
    records: &ModelRecords,
    load_secs: f64,
    error: &BackendError,
    instances: &InstanceList,
    collector: &mut Collector<'_>,
) {
    collector.report(Event::ModelFailed { spec, error });
    collector
        .outcome()
        .load_errors
        .push((records.model.clone(), error.to_string()));
    collector.outcome().add_time(&TimeSplit {
        load_secs,
        ..TimeSplit::default()
    });
    for u in &instances.instances {
        for &(repeat, i) in &u.needed {
            collector.record(records.error(u, repeat, i, error.to_string()));
        }
        collector.finish(u, 0.0);
    }
}

/// Runs `worker`'s instances: generation threads (as many as the backend
/// takes requests at once), `plan.jobs` scoring threads, and the collector
/// on this thread. Returns the number of scoring threads.
fn run_instances(
    worker: &Worker<'_>,
    backend: &dyn Backend,
    instances: &InstanceList,
    collector: &mut Collector<'_>,
) -> usize {
    let (job_tx, job_rx) = channel::unbounded::<Job>();
    let (score_tx, score_rx) = channel::unbounded::<ScoreJob>();
    let (rec_tx, rec_rx) = channel::unbounded::<Collected>();
    let started = Instant::now();
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
    std::thread::scope(|s| {
        for _ in 0..gen_threads {
            let (job_rx, score_tx, rec_tx) = (job_rx.clone(), score_tx.clone(), rec_tx.clone());
            s.spawn(move || {
                for job in job_rx.iter() {
                    worker.run(job, &score_tx, &rec_tx);
                }
            });
        }
        drop(score_tx);
        for _ in 0..score_threads {
            let (score_rx, rec_tx) = (score_rx.clone(), rec_tx.clone());
            s.spawn(move || {
                for job in score_rx.iter() {
                    let _ = rec_tx.send(worker.score(job));
                }
            });
        }
        drop(rec_tx);
        collector.collect(rec_rx, &instances.instances, started);
    });
    score_threads
}
