//! The runner executing a placement plan on a simulated machine: the
//! configurations of one wave run at the same time (CPU threads split
//! between them), later waves wait for the devices they need, remote
//! endpoints run beside local configurations, and a configuration that
//! fails to load on a GPU is re-planned onto the next option and retried.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use litmus_core::base::backend::*;
use litmus_core::base::model::{BackendKind, ModelSpec};
use litmus_core::eval::case::Case;
use litmus_core::eval::registry::{EntryKind, EvalEntry};
use litmus_core::eval::score::{Score, ScoreResult};
use litmus_core::plan::placement::{place, DeviceSource, DevicesConfig, Placement};
use litmus_core::run::collect::{Event, Reporter};
use litmus_core::run::runner::{execute_with, Schedule};
use litmus_core::run::store::Cache;

/// What the tests' model `spec` reports: its name as digest.
fn info(spec: &ModelSpec) -> ModelInfo {
    ModelInfo {
        name: spec.name.clone(),
        backend: "test".into(),
        digest: spec.name.clone(),
        ..Default::default()
    }
}

/// Model `spec` answering "Paris" after `delay`, one request at a time,
/// counting in `in_flight` and `most` ([`common::Slow`]).
fn slow(
    spec: &ModelSpec,
    delay: Duration,
    in_flight: &Arc<AtomicUsize>,
    most: &Arc<AtomicUsize>,
) -> SharedBackend {
    Arc::new(common::Slow {
        info: info(spec),
        reply: "Paris",
        delay,
        parallel: 1,
        in_flight: in_flight.clone(),
        most: most.clone(),
    })
}

fn capital() -> Case {
    common::exact_case("Capital of France?", "Paris")
}

static CAPITAL: EvalEntry = entry!("capital", EntryKind::Declarative(capital));

/// Keeps the progress lines that matter here.
#[derive(Default)]
struct Events {
    started: Vec<(String, Option<String>)>,
    replanned: Vec<(String, String, String)>,
    /// Models loaded (`false`) or served from the cache (`true`).
    loaded: Vec<(String, bool)>,
    /// Models no prompt reached (not loaded).
    unasked: Vec<String>,
}

impl Reporter for Events {
    fn event(&mut self, e: Event<'_>) {
        match e {
            Event::ModelStart { spec, device, .. } => self
                .started
                .push((spec.name.clone(), device.map(str::to_string))),
            Event::ModelReplanned {
                spec, failed, next, ..
            } => self
                .replanned
                .push((spec.name.clone(), failed.to_string(), next.to_string())),
            Event::ModelLoaded(info) => self.loaded.push((info.name.clone(), false)),
            Event::ModelCached(info) => self.loaded.push((info.name.clone(), true)),
            Event::ModelUnasked(info) => self.unasked.push(info.name.clone()),
            _ => {}
        }
    }
}

/// What the opener was asked to open, in order.
type Opened = Arc<Mutex<Vec<ModelSpec>>>;

struct Run {
    outcome: litmus_core::run::collect::Outcome,
    events: Events,
    opened: Vec<ModelSpec>,
    most_in_flight: usize,
}

/// Runs the capital eval (4 samples, one request per sample) on `models`
/// placed on `sim` with `cfg`; `fails` says which specs fail to load.
fn run(
    models: Vec<ModelSpec>,
    sim: &common::Sim,
    cfg: DevicesConfig,
    fails: impl Fn(&ModelSpec) -> bool + Sync,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let opened: Opened = Arc::default();
    let opener = {
        let (in_flight, most, opened) = (in_flight.clone(), most.clone(), opened.clone());
        move |spec: &ModelSpec| -> Result<SharedBackend, BackendError> {
            opened.lock().unwrap().push(spec.clone());
            if fails(spec) {
                return Err(BackendError::Load("out of memory".into()));
            }
            Ok(slow(spec, Duration::from_millis(150), &in_flight, &most))
        }
    };
    let mut plan = common::plan(vec![&CAPITAL], 4, "{{task}}", &[0.7]);
    plan.models = models;
    let store = common::store(dir.path(), "r");
    let schedule = Schedule {
        placed: place(sim, &cfg, &plan.models).unwrap(),
        source: sim,
    };
    let mut events = Events::default();
    let outcome = execute_with(
        &plan,
        &store,
        &Cache::disabled(),
        &opener,
        Some(&schedule),
        &mut events,
    );
    let opened = opened.lock().unwrap().clone();
    Run {
        outcome,
        events,
        opened,
        most_in_flight: most.load(Ordering::SeqCst),
    }
}

fn remote(name: &str, url: &str) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        backend: BackendKind::Openai,
        source: url.into(),
        parallel: Some(1),
        ..Default::default()
    }
}

/// Scored samples per model.
fn scored(outcome: &litmus_core::run::collect::Outcome) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in &outcome.records {
        if r.error.is_none() && r.score.is_some() {
            *m.entry(r.model.clone()).or_default() += 1;
        }
    }
    m
}

#[test]
fn configurations_of_one_wave_run_at_once_with_the_cpu_threads_split() {
    let models = || vec![common::spec("a"), common::spec("b")];
    // One at a time on the CPU (the default): all its cores each.
    let alone = run(
        models(),
        &common::Sim { gpus: 0 },
        DevicesConfig::default(),
        |_| false,
    );
    assert_eq!(alone.most_in_flight, 1);
    assert_eq!(
        alone.opened.iter().map(|s| s.threads).collect::<Vec<_>>(),
        [Some(2), Some(2)]
    );
    assert_eq!(
        alone.events.started,
        [
            ("a".to_string(), Some("CPU, 2 threads".to_string())),
            ("b".to_string(), Some("CPU, 2 threads".to_string()))
        ],
        "in the run's order"
    );
    // Two at once: a core each, both running together.
    let cfg = DevicesConfig {
        cpu_parallel: Some(2),
        ..Default::default()
    };
    let together = run(models(), &common::Sim { gpus: 0 }, cfg, |_| false);
    assert_eq!(together.most_in_flight, 2);
    assert_eq!(
        together
            .opened
            .iter()
            .map(|s| s.threads)
            .collect::<Vec<_>>(),
        [Some(1), Some(1)]
    );
    for r in [&alone, &together] {
        // Every sample of both, through the one collector.
        assert_eq!(
            scored(&r.outcome),
            BTreeMap::from([("a".to_string(), 4), ("b".to_string(), 4)])
        );
        assert_eq!(r.outcome.records.len(), 8);
        assert_eq!(r.outcome.models.len(), 2);
    }
    let placement = together.outcome.placement.expect("the placement as run");
    assert!(placement.assignments.iter().all(|a| a.wave == 0));
}

#[test]
fn endpoints_are_devices_of_their_own() {
    // Two configurations on one endpoint with one slot: one after the
    // other; a local one beside them.
    let models = vec![
        remote("r1", "http://a"),
        remote("r2", "http://a"),
        common::spec("local"),
    ];
    let r = run(
        models,
        &common::Sim { gpus: 0 },
        DevicesConfig::default(),
        |_| false,
    );
    assert_eq!(r.most_in_flight, 2, "the endpoint and the CPU at once");
    let p = r.outcome.placement.as_ref().unwrap();
    let wave = |l: &str| p.assignments.iter().find(|a| a.label == l).unwrap().wave;
    assert_eq!((wave("r1"), wave("r2"), wave("local")), (0, 1, 0));
    assert_eq!(scored(&r.outcome).values().sum::<usize>(), 12);
}

#[test]
fn a_failed_load_is_replanned_onto_the_next_option_and_retried() {
    // `a` does not fit its GPU after all (its load fails there); `c` fails
    // to load anywhere.
    let on_gpu = |s: &ModelSpec| s.gpu_layers.is_some_and(|n| n > 0);
    let fails = move |s: &ModelSpec| (s.name == "a" && on_gpu(s)) || s.name == "c";
    let models = vec![common::spec("a"), common::spec("b"), common::spec("c")];
    let r = run(
        models,
        &common::Sim { gpus: 1 },
        DevicesConfig::default(),
        fails,
    );

    let tries = |name: &str| -> Vec<ModelSpec> {
        r.opened
            .iter()
            .filter(|s| s.name == name)
            .cloned()
            .collect()
    };
    // The whole model on its GPU, then fewer and fewer layers offloaded,
    // then the CPU, where it loads.
    let a = tries("a");
    assert_eq!((a[0].device, a[0].gpu_layers), (Some(0), Some(u32::MAX)));
    let last = a.last().unwrap();
    assert_eq!(last.gpu_layers, Some(0), "retried on the CPU: {last:?}");
    assert_eq!(last.threads, Some(2));
    let partial: Vec<u32> = a[1..a.len() - 1]
        .iter()
        .map(|s| s.gpu_layers.unwrap())
        .collect();
    assert!(!partial.is_empty() && partial.len() < 9, "{partial:?}");
    assert!(partial.windows(2).all(|w| w[1] < w[0]), "{partial:?}");
    assert!(partial[0] < 9, "{partial:?}");
    let replans: Vec<_> = r.events.replanned.iter().filter(|e| e.0 == "a").collect();
    assert_eq!(replans.len(), a.len() - 1);
    assert_eq!(replans[0].1, "CUDA0");
    assert_eq!(replans.last().unwrap().2, "CPU");
    // `a` ran on the CPU; `b` on the GPU as planned.
    let scored = scored(&r.outcome);
    assert_eq!(scored.get("a"), Some(&4));
    assert_eq!(scored.get("b"), Some(&4));
    let p = r.outcome.placement.as_ref().unwrap();
    let placed = |l: &str| p.assignments.iter().find(|x| x.label == l).unwrap();
    assert_eq!(placed("a").placement, Placement::Cpu);
    assert!(
        placed("a")
            .note
            .as_deref()
            .unwrap()
            .starts_with("re-planned after failing to load on CUDA0"),
        "{:?}",
        placed("a")
    );
    assert_eq!(
        placed("b").placement,
        Placement::Gpu {
            device: "CUDA0".into()
        }
    );
    // With no option left, a load error stays a load error.
    assert_eq!(tries("c").len(), a.len(), "the same options as `a`");
    assert_eq!(tries("c").last().unwrap().gpu_layers, Some(0));
    assert_eq!(r.outcome.load_errors.len(), 1);
    assert_eq!(r.outcome.load_errors[0].0, "c");
    assert_eq!(
        r.outcome
            .records
            .iter()
            .filter(|x| x.model == "c" && x.error.is_some())
            .count(),
        4
    );
}

fn ask_twice(ctx: &mut litmus_core::eval::context::EvalContext<'_>) -> ScoreResult {
    let a = ctx.ask("First: capital of France?")?;
    let b = ctx.ask("Again: capital of France?")?;
    Ok(Score::pass_if(a == "Paris" && b == "Paris"))
}

fn berlin() -> Case {
    common::exact_case("Capital of Germany, in one word?", "Berlin")
}

/// `ask_twice` as edited later: the same eval, another question.
fn ask_twice_edited(ctx: &mut litmus_core::eval::context::EvalContext<'_>) -> ScoreResult {
    let a = ctx.ask("First: capital of France?")?;
    let b = ctx.ask("Once more: capital of France?")?;
    Ok(Score::pass_if(a == "Paris" && b == "Paris"))
}

/// Asks, then has the answer judged: by the model under test itself, as
/// the run names no judge.
fn ask_and_judge(ctx: &mut litmus_core::eval::context::EvalContext<'_>) -> ScoreResult {
    let a = ctx.ask("Capital of France?")?;
    Ok(ctx.judge(
        &litmus_core::eval::judge::Judge::new(),
        "Capital of France?",
        &a,
        &["Paris".into()],
    )?)
}

/// A text case graded by a judge: the model under test, as the run names none.
fn judged_capital() -> Case {
    litmus_core::eval::case::TextCase::new("Capital of France, in one word?")
        .reference("Paris")
        .judge(litmus_core::eval::judge::Judge::new())
        .into()
}

static JUDGED: EvalEntry = entry!("judged", EntryKind::Declarative(judged_capital));
static ASK_TWICE: EvalEntry = entry!("ask_twice", EntryKind::Imperative(ask_twice));
static ASK_AND_JUDGE: EvalEntry = entry!("ask_and_judge", EntryKind::Imperative(ask_and_judge));
static ASK_TWICE_EDITED: EvalEntry = entry!("ask_twice", EntryKind::Imperative(ask_twice_edited));
static BERLIN: EvalEntry = entry!("berlin", EntryKind::Declarative(berlin));

/// `evals` × 4 samples on model `m`, placed on `source`, through the
/// response cache in `cache_dir`; the records and how often a model was
/// opened (asserting that the run reported the model served from the cache
/// exactly when it was not opened).
fn run_cached(
    evals: Vec<&'static EvalEntry>,
    source: &dyn DeviceSource,
    cache_dir: &std::path::Path,
) -> (Vec<litmus_core::run::store::SampleRecord>, usize) {
    let (records, opens, from_cache, _) = run_cached_as(evals, source, cache_dir);
    assert_eq!(from_cache, opens == 0);
    (records, opens)
}

/// [`run_cached`] without its check: also whether the run reported the
/// model served from the cache.
fn run_cached_as(
    evals: Vec<&'static EvalEntry>,
    source: &dyn DeviceSource,
    cache_dir: &std::path::Path,
) -> (
    Vec<litmus_core::run::store::SampleRecord>,
    usize,
    bool,
    litmus_core::run::summary::TimeSplit,
) {
    let dir = tempfile::tempdir().unwrap();
    let opens = AtomicUsize::new(0);
    let opener = |spec: &ModelSpec| -> Result<SharedBackend, BackendError> {
        opens.fetch_add(1, Ordering::SeqCst);
        // A load that takes a moment, to tell load time apart.
        std::thread::sleep(LOAD);
        Ok(slow(
            spec,
            Duration::from_millis(1),
            &Arc::default(),
            &Arc::default(),
        ))
    };
    let plan = common::plan(evals, 4, "{{task}}", &[0.7]);
    let schedule = Schedule {
        placed: place(source, &DevicesConfig::default(), &plan.models).unwrap(),
        source,
    };
    let mut events = Events::default();
    let outcome = execute_with(
        &plan,
        &common::store(dir.path(), "r"),
        &Cache::open(cache_dir).unwrap(),
        &opener,
        Some(&schedule),
        &mut events,
    );
    let opens = opens.load(Ordering::SeqCst);
    assert_eq!(events.loaded.len(), 1);
    assert_eq!(events.loaded[0].0, "m");
    (
        outcome.records,
        opens,
        events.loaded[0].1,
        outcome.time.unwrap_or_default(),
    )
}

fn broken() -> Case {
    panic!("no case today")
}

static BROKEN: EvalEntry = entry!("broken", EntryKind::Declarative(broken));

/// A configuration whose every prompt fails before reaching the model is
/// not loaded, and not reported as served from the cache either: nothing
/// was cached.
#[test]
fn a_configuration_no_prompt_reaches_is_not_loaded() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let known = common::Known(common::Sim { gpus: 0 }, |spec: &ModelSpec| ModelIdentity {
        info: info(spec),
        salt: String::new(),
    });
    let opens = AtomicUsize::new(0);
    let opener = |spec: &ModelSpec| -> Result<SharedBackend, BackendError> {
        opens.fetch_add(1, Ordering::SeqCst);
        Ok(slow(
            spec,
            Duration::from_millis(1),
            &Arc::default(),
            &Arc::default(),
        ))
    };
    let plan = common::plan(vec![&BROKEN], 2, "{{task}}", &[0.7]);
    let schedule = Schedule {
        placed: place(&known, &DevicesConfig::default(), &plan.models).unwrap(),
        source: &known,
    };
    let mut events = Events::default();
    let outcome = execute_with(
        &plan,
        &common::store(dir.path(), "r"),
        &Cache::open(cache.path()).unwrap(),
        &opener,
        Some(&schedule),
        &mut events,
    );
    assert_eq!(opens.load(Ordering::SeqCst), 0);
    assert_eq!(events.unasked, ["m"]);
    assert!(events.loaded.is_empty(), "{:?}", events.loaded);
    assert_eq!(outcome.records.len(), 2);
    assert!(outcome.records.iter().all(|r| r.error.is_some()));
}

/// How long the models of [`run_cached_as`] take to load.
const LOAD: Duration = Duration::from_millis(150);

/// A configuration whose every answer is in the response cache is served
/// from it without loading its model, when its cache identity is known
/// before the load; one answer missing, an imperative eval (or a model
/// grading its own answers) that has not recorded its calls yet or an
/// unknown identity loads it as before. An
/// imperative eval whose calls changed since it recorded them loads the
/// model when it asks what the cache does not hold.
#[test]
fn a_configuration_whose_answers_are_all_cached_is_not_loaded() {
    let cache = tempfile::tempdir().unwrap();
    let known = common::Known(common::Sim { gpus: 0 }, |spec: &ModelSpec| ModelIdentity {
        info: info(spec),
        salt: String::new(),
    });
    let (first, opens) = run_cached(vec![&CAPITAL], &known, cache.path());
    assert_eq!(opens, 1);
    assert!(first.iter().all(|r| !r.cached && r.score.is_some()));

    let (again, opens) = run_cached(vec![&CAPITAL], &known, cache.path());
    assert_eq!(opens, 0, "every answer cached: the model is not loaded");
    assert_eq!(again.len(), 4);
    assert!(again.iter().all(|r| r.cached && r.error.is_none()));
    let text = |rs: &[litmus_core::run::store::SampleRecord]| {
        let mut v: Vec<_> = rs
            .iter()
            .map(|r| {
                (
                    r.sample,
                    r.response.clone(),
                    r.score.as_ref().map(|s| s.value),
                )
            })
            .collect();
        v.sort_by_key(|x| x.0);
        v
    };
    assert_eq!(text(&again), text(&first));

    // Without a known identity (a source that cannot tell), it is loaded.
    let (_, opens) = run_cached(vec![&CAPITAL], &common::Sim { gpus: 0 }, cache.path());
    assert_eq!(opens, 1);
    // A declarative eval not in the cache yet: loaded, once.
    let (both, opens) = run_cached(vec![&CAPITAL, &BERLIN], &known, cache.path());
    assert_eq!(opens, 1);
    assert_eq!(both.iter().filter(|r| r.cached).count(), 4);
    // ... and then not any more.
    let (_, opens) = run_cached(vec![&CAPITAL, &BERLIN], &known, cache.path());
    assert_eq!(opens, 0);
    // An imperative eval run for the first time: loaded.
    let (first, opens) = run_cached(vec![&CAPITAL, &ASK_TWICE], &known, cache.path());
    assert_eq!(opens, 1);
    let asked = |rs: &[litmus_core::run::store::SampleRecord]| {
        let mut v: Vec<_> = rs
            .iter()
            .filter(|r| r.eval == "ask_twice")
            .map(|r| {
                (
                    r.sample,
                    r.exchanges.clone(),
                    r.score.as_ref().map(|s| s.value),
                    r.cached,
                )
            })
            .collect();
        v.sort_by_key(|x| x.0);
        v
    };
    assert!(asked(&first).iter().all(|x| x.2 == Some(100.0) && !x.3));
    // Its calls recorded, the rerun needs no model, and gets the same answers.
    let (again, opens) = run_cached(vec![&CAPITAL, &ASK_TWICE], &known, cache.path());
    assert_eq!(
        opens, 0,
        "every call of the imperative eval cached: not loaded"
    );
    let uncached =
        |v: Vec<(u32, _, _, bool)>| v.into_iter().map(|x| (x.0, x.1, x.2)).collect::<Vec<_>>();
    assert_eq!(uncached(asked(&again)), uncached(asked(&first)));
    assert!(asked(&again).iter().all(|x| x.3), "answered from the cache");
    // Edited to ask something new: served from the cache until it does,
    // then the model loads (once) and answers.
    let (edited, opens, from_cache, time) =
        run_cached_as(vec![&CAPITAL, &ASK_TWICE_EDITED], &known, cache.path());
    assert!(from_cache);
    assert_eq!(opens, 1);
    // The load counts as load time, not as the model's.
    assert!(time.load_secs >= LOAD.as_secs_f64(), "{time:?}");
    assert!(time.model_secs < LOAD.as_secs_f64(), "{time:?}");
    assert!(edited
        .iter()
        .all(|r| r.error.is_none() && r.score.is_some()));
    assert!(asked(&edited).iter().all(|x| x.2 == Some(100.0) && !x.3));
    // ... and recorded the new calls: not loaded the next time.
    let (_, opens) = run_cached(vec![&CAPITAL, &ASK_TWICE_EDITED], &known, cache.path());
    assert_eq!(opens, 0);
    // An imperative eval whose answer the model under test judges: its
    // judge calls are recorded too.
    let (first, opens) = run_cached(vec![&ASK_AND_JUDGE], &known, cache.path());
    assert_eq!(opens, 1);
    let (again, opens) = run_cached(vec![&ASK_AND_JUDGE], &known, cache.path());
    assert_eq!(opens, 0, "its own and its judge's calls cached: not loaded");
    let outcome = |rs: &[litmus_core::run::store::SampleRecord]| {
        let mut v: Vec<_> = rs
            .iter()
            .map(|r| (r.sample, r.error.clone(), r.score.as_ref().map(|s| s.value)))
            .collect();
        v.sort_by_key(|x| x.0);
        v
    };
    assert_eq!(outcome(&again), outcome(&first));
    // A text case the model grades itself: its grading calls are recorded.
    let (first, opens) = run_cached(vec![&JUDGED], &known, cache.path());
    assert_eq!(opens, 1);
    let (again, opens) = run_cached(vec![&JUDGED], &known, cache.path());
    assert_eq!(opens, 0, "the answers and their grading cached: not loaded");
    assert_eq!(outcome(&again), outcome(&first));
}
