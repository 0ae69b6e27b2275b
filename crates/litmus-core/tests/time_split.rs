//! Where a run's time goes: model load, the model's prompt and generation
//! time as its backend reports them, idle model time, and scoring.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::Collect;
use litmus_core::base::backend::*;
use litmus_core::base::model::ModelSpec;
use litmus_core::eval::case::Case;
use litmus_core::eval::registry::{EntryKind, EvalEntry};
use litmus_core::run::runner::execute;
use litmus_core::run::store::Cache;
use litmus_core::run::summary::TimeSplit;

/// Takes 20 ms per request, which it reports as 5 ms of prompt and 15 ms
/// of generation (or reports nothing, as a remote server).
struct Timed {
    info: ModelInfo,
    busy: Mutex<BusyTime>,
    reports: bool,
}

impl Backend for Timed {
    fn model(&self) -> &ModelInfo {
        &self.info
    }
    fn generate(&self, r: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        std::thread::sleep(Duration::from_millis(20));
        let mut busy = self.busy.lock().unwrap();
        busy.prompt_secs += 0.005;
        busy.generation_secs += 0.015;
        Ok(common::answers(&r.samples, "Paris"))
    }
    fn busy_time(&self) -> Option<BusyTime> {
        self.reports.then(|| *self.busy.lock().unwrap())
    }
}

fn capital() -> Case {
    common::exact_case("Capital of France?", "Paris")
}

fn other() -> Case {
    common::exact_case("Capital of Italy?", "Rome")
}

static CAPITAL: EvalEntry = entry!("capital", EntryKind::Declarative(capital));
static OTHER: EvalEntry = entry!("other", EntryKind::Declarative(other));

fn run(reports: bool) -> (TimeSplit, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let backend: SharedBackend = Arc::new(Timed {
        info: ModelInfo {
            name: "m".into(),
            backend: "test".into(),
            digest: "d".into(),
            ..Default::default()
        },
        busy: Mutex::new(BusyTime {
            prompt_secs: 7.0,
            generation_secs: 9.0,
        }),
        reports,
    });
    let opener = move |_: &ModelSpec| {
        std::thread::sleep(Duration::from_millis(60));
        Ok(backend.clone())
    };
    // Two prompts × two temperatures: 4 requests, on one generation thread.
    let plan = common::plan(vec![&CAPITAL, &OTHER], 3, "{{task}}", &[0.0, 0.7]);
    let store = common::store(dir.path(), "r");
    let started = Instant::now();
    let out = execute(
        &plan,
        &store,
        &Cache::disabled(),
        &opener,
        &mut Collect::default(),
    );
    (out.time.expect("a time split"), started.elapsed())
}

#[test]
fn the_split_counts_load_model_work_idle_time_and_scoring() {
    let (t, wall) = run(true);
    assert!(t.load_secs >= 0.06, "load {t:?}");
    // 4 requests of 20 ms: only what the model did in this run counts (the
    // backend's counters started at 7 s and 9 s).
    let prompt = t.prompt_secs.expect("prompt time");
    let generation = t.generation_secs.expect("generation time");
    assert!((prompt - 0.020).abs() < 1e-9, "{t:?}");
    assert!((generation - 0.060).abs() < 1e-9, "{t:?}");
    assert!(t.model_secs >= 0.08 - 1e-3, "{t:?}");
    let idle = t.idle_secs().expect("idle time");
    assert!((t.model_secs - prompt - generation - idle).abs() < 1e-9);
    assert_eq!(t.scoring_threads, 2);
    assert!(t.scoring_secs > 0.0, "{t:?}");
    assert!(
        t.load_secs + t.model_secs + t.scoring_tail_secs <= wall.as_secs_f64() + 1e-3,
        "the parts of the wall fit in it: {t:?} in {wall:?}"
    );
}

#[test]
fn a_backend_that_cannot_tell_leaves_the_model_time_unsplit() {
    let (t, _) = run(false);
    assert_eq!(
        (t.prompt_secs, t.generation_secs, t.idle_secs()),
        (None, None, None)
    );
    assert!(t.model_secs > 0.0);
    let line = litmus_core::output::console::time_line(&t);
    assert!(line.contains("model (prompts and generation)"), "{line}");
}

#[test]
fn a_failed_load_adds_its_load_time_without_unknowing_the_split() {
    let mut t = TimeSplit {
        load_secs: 1.0,
        model_secs: 10.0,
        prompt_secs: Some(2.0),
        generation_secs: Some(7.0),
        scoring_secs: 4.0,
        scoring_threads: 2,
        scoring_tail_secs: 0.5,
        ..TimeSplit::default()
    };
    t.add(&TimeSplit {
        load_secs: 0.25,
        ..TimeSplit::default()
    });
    assert_eq!(t.load_secs, 1.25);
    assert_eq!((t.prompt_secs, t.generation_secs), (Some(2.0), Some(7.0)));
    assert_eq!(t.idle_secs(), Some(1.0));
    // A remote model's part makes the split unknown.
    t.add(&TimeSplit {
        model_secs: 3.0,
        ..TimeSplit::default()
    });
    assert_eq!(t.prompt_secs, None);
    let line = litmus_core::output::console::time_line(&t);
    assert!(line.starts_with("time: load 1.2 s"), "{line}");
}

#[test]
fn the_waiting_hint_needs_a_model_that_ran() {
    let split = |model_secs: f64, busy: f64| TimeSplit {
        load_secs: 1.0,
        model_secs,
        prompt_secs: Some(busy / 4.0),
        generation_secs: Some(busy * 3.0 / 4.0),
        scoring_secs: 0.0,
        scoring_threads: 2,
        scoring_tail_secs: 0.0,
        ..TimeSplit::default()
    };
    let hint = "the model waited for work";
    // Every answer from the cache: the model was open for a moment, idle.
    let cached = litmus_core::output::console::time_line(&split(0.04, 0.0));
    assert!(!cached.contains(hint), "{cached}");
    let waited = litmus_core::output::console::time_line(&split(10.0, 4.0));
    assert!(
        waited.ends_with("— the model waited for work 60% of its time"),
        "{waited}"
    );
    let busy = litmus_core::output::console::time_line(&split(10.0, 9.0));
    assert!(!busy.contains(hint), "{busy}");
}

#[test]
fn judging_is_told_apart_from_scoring() {
    let t = TimeSplit {
        load_secs: 1.0,
        model_secs: 10.0,
        prompt_secs: Some(2.0),
        generation_secs: Some(7.0),
        scoring_secs: 40.0,
        scoring_threads: 2,
        scoring_tail_secs: 3.0,
        judging_secs: 36.0,
        judging_threads: 16,
    };
    let line = litmus_core::output::console::time_line(&t);
    assert!(
        line.ends_with(
            "scoring 4.0 s on 2 threads · judging 36.0 s on 16 threads (3.0 s after the last answer)"
        ),
        "{line}"
    );
    // Nothing judged: the line and the JSON as before.
    let plain = TimeSplit {
        judging_secs: 0.0,
        judging_threads: 0,
        ..t
    };
    let line = litmus_core::output::console::time_line(&plain);
    assert!(
        line.ends_with("scoring 40.0 s on 2 threads (3.0 s after the last answer)"),
        "{line}"
    );
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("judging"), "{json}");
    let back: TimeSplit = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back, t);
}
