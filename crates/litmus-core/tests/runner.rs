//! The runner against a counting backend: batching per prompt, the response
//! cache, resume, failures that stay per sample, and panics in user code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod common;

use common::Collect;
use litmus_core::base::backend::*;
use litmus_core::base::model::{ModelSpec, Workload};
use litmus_core::eval::case::Case;
use litmus_core::eval::context::EvalContext;
use litmus_core::eval::registry::{EntryKind, EvalEntry};
use litmus_core::eval::score::{Score, ScoreResult};
use litmus_core::plan::matrix::Plan;
use litmus_core::run::runner::{announce_workloads, execute};
use litmus_core::run::store::{Cache, RunStore};

/// Answers "Paris" to everything, counting requests and samples.
struct Counting {
    info: ModelInfo,
    requests: AtomicUsize,
    samples: AtomicUsize,
    fail: bool,
    /// Odd samples fail, even ones are answered (as an HTTP backend's
    /// separate requests may).
    fail_odd: bool,
    seen: Mutex<Vec<GenerationRequest>>,
}

impl Counting {
    fn new(fail: bool) -> Arc<Self> {
        Arc::new(Counting {
            info: ModelInfo {
                name: "m".into(),
                backend: "test".into(),
                digest: "d1".into(),
                ..Default::default()
            },
            requests: AtomicUsize::new(0),
            samples: AtomicUsize::new(0),
            fail,
            fail_odd: false,
            seen: Mutex::new(Vec::new()),
        })
    }
}

impl Backend for Counting {
    fn model(&self) -> &ModelInfo {
        &self.info
    }
    fn generate(&self, r: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(r.clone());
        if self.fail {
            return Err(BackendError::Connection("refused".into()));
        }
        self.samples.fetch_add(r.samples.len(), Ordering::SeqCst);
        let generations = r.samples.iter().map(|&i| Generation {
            sample: i,
            text: if i % 2 == 0 {
                "Paris".into()
            } else {
                "Lyon".into()
            },
            finish: FinishReason::Stop,
            usage: Usage::counted(5, 2),
            timings: Timings {
                prompt_ms: Some(1.0),
                generation_ms: Some(2.0),
                ttft_ms: Some(1.5),
                total_ms: 3.0,
            },
            served_by: None,
        });
        if self.fail_odd {
            return BackendError::collect(generations.map(|g| match g.sample % 2 {
                1 => (g.sample, Err(BackendError::Backend("bad reply".into()))),
                _ => (g.sample, Ok(g)),
            }));
        }
        Ok(generations.collect())
    }
    fn parallelism(&self) -> usize {
        4
    }
}

fn capital() -> Case {
    common::exact_case("Capital of France?", "Paris")
}

fn panics() -> Case {
    panic!("bad case builder")
}

fn imperative(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let a = ctx.ask("First: capital of France?")?;
    let b = ctx.ask("Again: capital of France?")?;
    Ok(Score::pass_if(a == "Paris" && b == "Paris"))
}

fn imperative_panics(_ctx: &mut EvalContext<'_>) -> ScoreResult {
    panic!("user code exploded")
}

static CAPITAL: EvalEntry = entry!("capital", EntryKind::Declarative(capital));
static PANICS: EvalEntry = entry!("panics", EntryKind::Declarative(panics));
static IMPERATIVE: EvalEntry = entry!("imperative", EntryKind::Imperative(imperative));
static IMPERATIVE_PANICS: EvalEntry = entry!(
    "imperative_panics",
    EntryKind::Imperative(imperative_panics)
);

fn plan(evals: Vec<&'static EvalEntry>, samples: u32) -> Plan {
    common::plan(evals, samples, "{{task}}", &[0.0, 0.7])
}

#[test]
fn samples_of_one_prompt_go_in_one_request_and_a_rerun_is_served_by_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Counting::new(false);
    let b2: SharedBackend = backend.clone();
    let opener = move |_: &ModelSpec| Ok(b2.clone());
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let p = plan(vec![&CAPITAL, &IMPERATIVE], 4);

    let store = common::store(dir.path(), "a");
    let mut rep = Collect::default();
    let out = execute(&p, &store, &cache, &opener, &mut rep);
    // capital: one request per temperature for all 4 samples; imperative: 2 calls per sample.
    assert_eq!(backend.requests.load(Ordering::SeqCst), 2 + 2 * 4 * 2);
    assert!(backend
        .seen
        .lock()
        .unwrap()
        .iter()
        .any(|r| r.samples == [0, 1, 2, 3]));
    assert_eq!(out.records.len(), 16);
    assert_eq!(out.generated, 16);
    assert_eq!(out.backend_requests, 18);
    let capital_scores: Vec<f64> = rep
        .units
        .iter()
        .filter(|u| u.eval == "capital")
        .map(|u| u.score.mean)
        .collect();
    assert_eq!(capital_scores, [50.0, 50.0], "samples 0 and 2 answer Paris");

    // A new run with the same settings: zero backend calls.
    let store = common::store(dir.path(), "b");
    let before = backend.requests.load(Ordering::SeqCst);
    let out = execute(&p, &store, &cache, &opener, &mut Collect::default());
    assert_eq!(backend.requests.load(Ordering::SeqCst), before);
    assert_eq!(out.backend_requests, 0);
    assert_eq!(out.generated, 0);
    assert!(out.records.iter().all(|r| r.cached));

    // A disabled cache goes back to the backend.
    let store = common::store(dir.path(), "c");
    let out = execute(
        &p,
        &store,
        &Cache::disabled(),
        &opener,
        &mut Collect::default(),
    );
    assert_eq!(out.backend_requests, 18);
}

#[test]
fn failures_are_recorded_per_sample_and_resume_retries_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let failing = Counting::new(true);
    let f2: SharedBackend = failing.clone();
    let p = plan(vec![&CAPITAL, &PANICS, &IMPERATIVE_PANICS], 2);
    let store = common::store(dir.path(), "r");
    let mut rep = Collect::default();
    let out = execute(
        &p,
        &store,
        &Cache::disabled(),
        &move |_: &ModelSpec| Ok(f2.clone()),
        &mut rep,
    );
    assert_eq!(out.records.len(), 12);
    assert!(out
        .records
        .iter()
        .all(|r| r.error.is_some() && r.score.is_none()));
    let errs: Vec<&str> = out
        .records
        .iter()
        .filter_map(|r| r.error.as_deref())
        .collect();
    assert!(errs
        .iter()
        .any(|e| e.contains("connection failed: refused")));
    assert!(errs.iter().any(|e| e.contains("bad case builder")));
    assert!(errs.iter().any(|e| e.contains("user code exploded")));
    drop(store);

    // Resume with a working backend: the capital samples are retried and scored.
    let ok = Counting::new(false);
    let o2: SharedBackend = ok.clone();
    let store = RunStore::resume(dir.path(), None).unwrap();
    let out = execute(
        &plan(vec![&CAPITAL], 2),
        &store,
        &Cache::disabled(),
        &move |_: &ModelSpec| Ok(o2.clone()),
        &mut Collect::default(),
    );
    assert_eq!(ok.samples.load(Ordering::SeqCst), 4);
    let capital: Vec<_> = out.records.iter().filter(|r| r.eval == "capital").collect();
    assert_eq!(capital.len(), 4);
    assert!(capital
        .iter()
        .all(|r| r.error.is_none() && r.score.is_some()));

    // Resuming again does nothing: every capital sample is done.
    let store = RunStore::resume(dir.path(), None).unwrap();
    execute(
        &plan(vec![&CAPITAL], 2),
        &store,
        &Cache::disabled(),
        &move |_: &ModelSpec| Ok(ok.clone() as SharedBackend),
        &mut Collect::default(),
    );
    let lines = std::fs::read_to_string(dir.path().join("runs/r/samples.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        12 + 4,
        "12 failed samples, then 4 retried ones"
    );
}

fn capital_lyon() -> Case {
    common::exact_case("Capital of France?", "Lyon")
}

fn capital_reworded() -> Case {
    common::exact_case("What is the capital of France?", "Paris")
}

/// `capital` as edited after a run: another reference, another prompt.
static CAPITAL_LYON: EvalEntry = entry!("capital", EntryKind::Declarative(capital_lyon));
static CAPITAL_REWORDED: EvalEntry = entry!("capital", EntryKind::Declarative(capital_reworded));

#[test]
fn resume_runs_again_the_samples_of_an_eval_edited_since() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let backend = Counting::new(false);
    let b2: SharedBackend = backend.clone();
    let opener = move |_: &ModelSpec| Ok(b2.clone());
    let run = |evals: Vec<&'static EvalEntry>| {
        let store = RunStore::resume(dir.path(), None).unwrap();
        execute(
            &plan(evals, 2),
            &store,
            &cache,
            &opener,
            &mut Collect::default(),
        )
    };
    let store = common::store(dir.path(), "r");
    let out = execute(
        &plan(vec![&CAPITAL, &IMPERATIVE], 2),
        &store,
        &cache,
        &opener,
        &mut Collect::default(),
    );
    drop(store);
    let scores = |out: &litmus_core::run::collect::Outcome| -> Vec<f64> {
        out.records
            .iter()
            .filter(|r| r.eval == "capital")
            .map(|r| r.score.as_ref().unwrap().value)
            .collect()
    };
    assert_eq!(
        scores(&out),
        [100.0, 0.0, 100.0, 0.0],
        "Paris, Lyon per temperature"
    );
    assert!(out.changed.is_empty());

    // Unchanged: nothing runs again.
    let requests = backend.requests.load(Ordering::SeqCst);
    let out = run(vec![&CAPITAL, &IMPERATIVE]);
    assert!(out.changed.is_empty());
    assert_eq!(backend.requests.load(Ordering::SeqCst), requests);
    assert_eq!(out.records.len(), 8);

    // Another reference: the same answers (from the response cache), scored again.
    let requests = backend.requests.load(Ordering::SeqCst);
    let out = run(vec![&CAPITAL_LYON, &IMPERATIVE]);
    assert_eq!(scores(&out), [0.0, 100.0, 0.0, 100.0]);
    assert_eq!(out.changed.iter().collect::<Vec<_>>(), ["capital"]);
    assert_eq!(
        backend.requests.load(Ordering::SeqCst),
        requests,
        "cached answers"
    );

    // Another prompt: generated again; the imperative eval's samples stay.
    let out = run(vec![&CAPITAL_REWORDED, &IMPERATIVE]);
    assert_eq!(out.changed.iter().collect::<Vec<_>>(), ["capital"]);
    assert_eq!(out.generated, 4);
    let prompts: Vec<String> = out
        .records
        .iter()
        .filter(|r| r.eval == "capital")
        .map(|r| format!("{:?}", r.prompt))
        .collect();
    assert!(
        prompts.iter().all(|p| p.contains("What is the capital")),
        "{prompts:?}"
    );
    let lines = std::fs::read_to_string(dir.path().join("runs/r/samples.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        8 + 4 + 4,
        "each edit added the capital samples once"
    );
}

/// An imperative eval whose code changed (the macro registers its tokens)
/// runs again on `--resume`; its unchanged code does not.
#[test]
fn resume_runs_again_an_imperative_eval_whose_code_changed() {
    static V1: EvalEntry = EvalEntry {
        code: "fn imperative(ctx) { v1 }",
        ..entry!("imperative", EntryKind::Imperative(imperative))
    };
    static V2: EvalEntry = EvalEntry {
        code: "fn imperative(ctx) { v2 }",
        ..entry!("imperative", EntryKind::Imperative(imperative))
    };
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let backend = Counting::new(false);
    let b2: SharedBackend = backend.clone();
    let opener = move |_: &ModelSpec| Ok(b2.clone());
    let run = |eval: &'static EvalEntry, store: &RunStore| {
        execute(
            &plan(vec![eval], 2),
            store,
            &cache,
            &opener,
            &mut Collect::default(),
        )
    };
    let out = run(&V1, &common::store(dir.path(), "r"));
    assert_eq!(out.records.len(), 4);
    let out = run(&V1, &RunStore::resume(dir.path(), None).unwrap());
    assert!(out.changed.is_empty());
    let lines = || {
        std::fs::read_to_string(dir.path().join("runs/r/samples.jsonl"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines(), 4, "nothing ran again");
    let out = run(&V2, &RunStore::resume(dir.path(), None).unwrap());
    assert_eq!(out.changed.iter().collect::<Vec<_>>(), ["imperative"]);
    assert_eq!(lines(), 8, "its 4 samples ran again");
}

#[test]
fn samples_generated_beside_failed_ones_are_kept_and_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let mut flaky = Counting::new(false);
    Arc::get_mut(&mut flaky).unwrap().fail_odd = true;
    let f2: SharedBackend = flaky.clone();
    let p = plan(vec![&CAPITAL], 4);
    let store = common::store(dir.path(), "a");
    let out = execute(
        &p,
        &store,
        &cache,
        &move |_: &ModelSpec| Ok(f2.clone()),
        &mut Collect::default(),
    );
    assert_eq!(out.records.len(), 8);
    for r in &out.records {
        if r.sample % 2 == 0 {
            assert_eq!(
                (r.response.as_deref(), r.error.as_deref()),
                (Some("Paris"), None)
            );
            assert_eq!(r.score.as_ref().map(|s| s.value), Some(100.0));
        } else {
            assert_eq!(
                r.error.as_deref(),
                Some("backend error: bad reply"),
                "{r:?}"
            );
            assert!(r.score.is_none());
        }
    }
    // Another run asks only for the failed samples.
    let ok = Counting::new(false);
    let o2: SharedBackend = ok.clone();
    let store = common::store(dir.path(), "b");
    let out = execute(
        &p,
        &store,
        &cache,
        &move |_: &ModelSpec| Ok(o2.clone()),
        &mut Collect::default(),
    );
    assert!(ok.seen.lock().unwrap().iter().all(|r| r.samples == [1, 3]));
    assert_eq!(ok.samples.load(Ordering::SeqCst), 4);
    assert!(out.records.iter().all(|r| r.error.is_none()));
}

/// Runs `capital` on model `m`, opened by `open_m`, and on a model `good`
/// that opens; asserts that `good` scored both its samples and every
/// sample of `m` failed, and returns `m`'s load errors.
fn beside_a_good_model(
    open_m: impl Fn() -> Result<SharedBackend, BackendError> + Sync,
) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let mut p = plan(vec![&CAPITAL], 1);
    p.models.push(ModelSpec {
        name: "good".into(),
        source: "y".into(),
        ..Default::default()
    });
    let good: SharedBackend = Counting::new(false);
    let opener = move |s: &ModelSpec| match s.name.as_str() {
        "m" => open_m(),
        _ => Ok(good.clone()),
    };
    let store = common::store(dir.path(), "x");
    let out = execute(
        &p,
        &store,
        &Cache::disabled(),
        &opener,
        &mut Collect::default(),
    );
    let by_model = |m: &str| {
        out.records
            .iter()
            .filter(|r| r.model == m)
            .collect::<Vec<_>>()
    };
    assert!(by_model("m").iter().all(|r| r.error.is_some()));
    assert!(by_model("good").iter().all(|r| r.score.is_some()));
    assert_eq!(by_model("good").len(), 2);
    out.load_errors
}

#[test]
fn a_model_that_fails_to_load_fails_its_evals_not_the_run() {
    let load_errors =
        beside_a_good_model(|| Err(BackendError::Load("m.gguf: not a GGUF file".into())));
    assert_eq!(load_errors.len(), 1);
    // The reason alone: the console and the CI outputs say "model m failed
    // to load: …" around it.
    assert_eq!(load_errors[0].1, "m.gguf: not a GGUF file");
}

#[test]
fn a_backend_that_panics_while_opening_fails_its_evals_not_the_run() {
    let load_errors = beside_a_good_model(|| panic!("cannot convert float seconds to Duration"));
    assert_eq!(load_errors.len(), 1);
    assert!(
        load_errors[0]
            .1
            .contains("opening panicked: cannot convert"),
        "{load_errors:?}"
    );
}

/// Like a server that batches nondeterministically: sample 1 of a prompt is
/// answered "Lyon" on every second request for that prompt, else "Paris".
struct Drifting {
    info: ModelInfo,
    calls: Mutex<std::collections::HashMap<String, usize>>,
    requests: AtomicUsize,
    repeats_seen: Mutex<Vec<u32>>,
}

impl Backend for Drifting {
    fn model(&self) -> &ModelInfo {
        &self.info
    }
    fn generate(&self, r: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let k = {
            let mut calls = self.calls.lock().unwrap();
            let c = calls.entry(r.prompt.to_text()).or_default();
            *c += 1;
            *c
        };
        Ok(r.samples
            .iter()
            .map(|&i| Generation {
                sample: i,
                text: if i == 1 && k % 2 == 0 {
                    "Lyon"
                } else {
                    "Paris"
                }
                .into(),
                finish: FinishReason::Stop,
                usage: Usage::default(),
                timings: Timings::default(),
                served_by: None,
            })
            .collect())
    }
    fn generate_repeat(
        &self,
        r: &GenerationRequest,
        repeat: u32,
    ) -> Result<Vec<Generation>, BackendError> {
        self.repeats_seen.lock().unwrap().push(repeat);
        self.generate(r)
    }
    fn parallelism(&self) -> usize {
        4
    }
}

#[test]
fn repeats_regenerate_each_sample_and_keep_their_own_cache_keys() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(Drifting {
        info: ModelInfo {
            name: "m".into(),
            backend: "test".into(),
            digest: "d".into(),
            ..Default::default()
        },
        calls: Mutex::new(Default::default()),
        requests: AtomicUsize::new(0),
        repeats_seen: Mutex::new(Vec::new()),
    });
    let b2: SharedBackend = backend.clone();
    let opener = move |_: &ModelSpec| Ok(b2.clone());
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let mut p = common::plan(vec![&CAPITAL], 2, "{{task}}", &[0.0]);
    p.repeat = 3;

    let store = common::store(dir.path(), "rep");
    let mut rep = Collect::default();
    let out = execute(&p, &store, &cache, &opener, &mut rep);
    // One request per repeat (both samples in it), none answered from the
    // cache of an earlier repeat.
    assert_eq!(backend.requests.load(Ordering::SeqCst), 3);
    let mut seen = backend.repeats_seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2]);
    assert_eq!(out.generated, 6);
    let mut keys: Vec<(u32, u32)> = out.records.iter().map(|r| (r.repeat, r.sample)).collect();
    keys.sort_unstable();
    assert_eq!(keys, [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]);
    // One summary per eval and configuration, with the repeats measured:
    // sample 1 says "Lyon" on one request of three.
    assert_eq!(rep.units.len(), 1);
    let u = &rep.units[0];
    assert_eq!((u.scored, u.score.n), (6, 2));
    let r = u.repeats.as_ref().expect("repeat statistics");
    assert_eq!((r.count, r.samples), (3, 2));
    assert_eq!((r.flip_rate, r.pass_all, r.majority_pass), (0.5, 0.5, 1.0));
    assert_eq!(r.spread, 50.0, "sample 1 ranges over 100 points");
    let mut means = r.means.clone();
    means.sort_by(f64::total_cmp);
    assert_eq!(means, [50.0, 100.0, 100.0]);

    // The same repeated run again: every repeat is served by its own cache entry.
    let store = common::store(dir.path(), "rep2");
    let mut again = Collect::default();
    let out = execute(&p, &store, &cache, &opener, &mut again);
    assert_eq!(backend.requests.load(Ordering::SeqCst), 3);
    assert!(out.records.iter().all(|r| r.cached));
    assert_eq!(again.units[0].repeats, rep.units[0].repeats);

    // A plain run finds repeat 0's responses under the keys it always used,
    // and its records carry no repeat.
    p.repeat = 1;
    let store = common::store(dir.path(), "plain");
    let mut plain = Collect::default();
    let out = execute(&p, &store, &cache, &opener, &mut plain);
    assert_eq!(
        backend.requests.load(Ordering::SeqCst),
        3,
        "served by the cache"
    );
    assert_eq!(out.records.len(), 2);
    assert_eq!(plain.units[0].repeats, None);
    let stored = std::fs::read_to_string(store.dir().join("samples.jsonl")).unwrap();
    assert!(!stored.contains("\"repeat\""), "{stored}");

    // Without a cache, a plain run makes one request, as before.
    let store = common::store(dir.path(), "nocache");
    execute(
        &p,
        &store,
        &Cache::disabled(),
        &opener,
        &mut Collect::default(),
    );
    assert_eq!(backend.requests.load(Ordering::SeqCst), 4);
}

#[test]
fn imperative_evals_are_repeated_too_and_resume_fills_missing_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Counting::new(false);
    let b2: SharedBackend = backend.clone();
    let opener = move |_: &ModelSpec| Ok(b2.clone());
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let mut p = common::plan(vec![&IMPERATIVE], 2, "{{task}}", &[0.0]);
    let store = common::store(dir.path(), "imp");
    execute(&p, &store, &cache, &opener, &mut Collect::default());
    assert_eq!(
        backend.requests.load(Ordering::SeqCst),
        4,
        "2 samples × 2 calls"
    );
    drop(store);

    // Resumed with --repeat 3: repeat 0 is done; repeats 1 and 2 call the
    // model afresh (2 samples × 2 calls each).
    p.repeat = 3;
    let store = RunStore::resume(dir.path(), None).unwrap();
    let mut rep = Collect::default();
    let out = execute(&p, &store, &cache, &opener, &mut rep);
    assert_eq!(backend.requests.load(Ordering::SeqCst), 4 + 8);
    assert_eq!(out.records.len(), 6);
    let r = rep.units[0].repeats.as_ref().unwrap();
    assert_eq!(
        (r.count, r.flip_rate),
        (3, 0.0),
        "the counting backend is deterministic"
    );
}

static CAPITAL_2: EvalEntry = entry!("capital_2", EntryKind::Declarative(capital));

fn berlin() -> Case {
    common::exact_case("Capital of Germany, in one word?", "Berlin")
}
static BERLIN: EvalEntry = entry!("berlin", EntryKind::Declarative(berlin));

/// The workload of the one model of `p`, as its opener is told it.
fn workload_told(p: &Plan) -> Workload {
    let dir = tempfile::tempdir().unwrap();
    workload_told_in(p, &common::store(dir.path(), "a"))
}

/// The workload of the one model of `p`, as its opener is told it when the
/// run's samples go to `store`.
fn workload_told_in(p: &Plan, store: &RunStore) -> Workload {
    let b: SharedBackend = Counting::new(false);
    let opened: Mutex<Vec<ModelSpec>> = Mutex::default();
    let opener = |s: &ModelSpec| {
        opened.lock().unwrap().push(s.clone());
        Ok(b.clone())
    };
    execute(
        p,
        store,
        &Cache::disabled(),
        &opener,
        &mut Collect::default(),
    );
    let specs = opened.into_inner().unwrap();
    assert_eq!(specs.len(), 1);
    specs[0].workload.clone().expect("a workload")
}

/// The spec a llama model is opened with says what the run will ask of it:
/// every sample, and every distinct prompt while all requests are known
/// ahead (an imperative eval's are not).
#[test]
fn the_opener_is_told_the_workload() {
    let mut p = plan(vec![&CAPITAL, &CAPITAL_2, &BERLIN], 3);
    p.params.max_tokens = 77;
    let w = workload_told(&p);
    // 3 evals x 2 temperatures x 3 samples; two distinct prompts.
    assert_eq!(w.samples, 18);
    let r = w.requests.expect("every request known");
    assert_eq!(r.max_tokens, 77);
    assert_eq!(r.prompts.len(), 2, "{:?}", r.prompts);
    let text: Vec<String> = r.prompts.iter().map(Prompt::to_text).collect();
    assert!(
        text.iter().any(|t| t.contains("Capital of France?")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("Capital of Germany")),
        "{text:?}"
    );

    // With an imperative eval the requests are not all known; the samples are.
    let w = workload_told(&plan(vec![&CAPITAL, &IMPERATIVE], 2));
    assert_eq!((w.samples, w.requests), (8, None));
}

/// What is estimated before a run (`--plan`, the placement) sees the
/// workload the runner will tell the model; a resumed run tells it only what
/// is left, while the announcement (nothing stored assumed) stays the whole.
#[test]
fn announced_workloads_are_what_the_runner_tells_the_model() {
    let p = plan(vec![&CAPITAL, &BERLIN, &IMPERATIVE], 2);
    let mut announced = p.clone();
    announce_workloads(&mut announced);
    assert_eq!(announced.models[0].workload, Some(workload_told(&p)));

    let dir = tempfile::tempdir().unwrap();
    let first = plan(vec![&CAPITAL, &BERLIN], 2);
    let w = workload_told_in(&first, &common::store(dir.path(), "r"));
    assert_eq!(w.samples, 8);
    let mut whole = plan(vec![&CAPITAL, &BERLIN, &CAPITAL_2], 2);
    announce_workloads(&mut whole);
    let announced = whole.models[0].workload.clone().expect("announced");
    assert_eq!(announced.samples, 12);
    let resumed = workload_told_in(&whole, &RunStore::resume(dir.path(), None).unwrap());
    assert_eq!(resumed.samples, 4, "only capital_2's samples are left");
    assert_eq!(
        resumed.requests.expect("known").prompts.len(),
        1,
        "capital_2 asks one prompt"
    );

    // Only in-process (llama) models are told.
    let mut http = plan(vec![&CAPITAL], 2);
    http.models[0].backend = litmus_core::base::model::BackendKind::Openai;
    announce_workloads(&mut http);
    assert_eq!(http.models[0].workload, None);
}

fn bad_regex() -> Case {
    litmus_core::eval::case::TextCase::new("Say 43")
        .metric(litmus_core::eval::case::Metric::regex("(unclosed"))
        .into()
}
static BAD_REGEX: EvalEntry = entry!("bad_regex", EntryKind::Declarative(bad_regex));

fn score_text_bad_regex(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let a = ctx.ask("Say 42")?;
    // `?`: the metric's error becomes the sample's error.
    let s = ctx.score_text(
        &litmus_core::eval::case::Metric::regex("(unclosed"),
        &a,
        &[],
    )?;
    Ok(s)
}
static SCORE_TEXT_BAD_REGEX: EvalEntry = entry!(
    "score_text_bad_regex",
    EntryKind::Imperative(score_text_bad_regex)
);

#[test]
fn a_metric_that_cannot_score_errs_its_samples_instead_of_scoring_0() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Counting::new(false);
    let b2: SharedBackend = backend.clone();
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let p = plan(vec![&BAD_REGEX, &SCORE_TEXT_BAD_REGEX], 2);
    for run in ["a", "b"] {
        // The second run answers from the cache: still an error, not a cached 0.
        let store = common::store(dir.path(), run);
        let out = execute(
            &p,
            &store,
            &cache,
            &|_: &ModelSpec| Ok(b2.clone()),
            &mut Collect::default(),
        );
        assert_eq!(out.records.len(), 8);
        for r in &out.records {
            let e = r.error.as_deref().unwrap_or_default();
            assert!(
                r.score.is_none() && e.contains("metric regex: invalid regex pattern `(unclosed`"),
                "{}: {:?} {e}",
                r.eval,
                r.score
            );
        }
    }
    // The declarative case's answers could not be scored: none was
    // generated (the imperative eval's four, two samples in each of two
    // configurations, are its own, then cached).
    assert_eq!(backend.samples.load(Ordering::SeqCst), 4);
}

fn nan_score(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let a = ctx.ask("Capital of France?")?;
    // 0 of 0 checks passed: a scorer's division by zero.
    Ok(Score::from_fraction(
        a.matches("Rome").count() as f64 / 0.0 * 0.0,
    ))
}
static NAN_SCORE: EvalEntry = entry!("nan_score", EntryKind::Imperative(nan_score));

fn nan_part(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let _ = ctx.ask("Capital of France?")?;
    Ok(Score::pass().part("ratio", f64::NAN))
}
static NAN_PART: EvalEntry = entry!("nan_part", EntryKind::Imperative(nan_part));

fn infinite_part(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let a = ctx.ask("Capital of France?")?;
    // A rate over a zero duration.
    Ok(Score::new(50.0).part("chars_per_ms", a.len() as f64 / 0.0))
}
static INFINITE_PART: EvalEntry = entry!("infinite_part", EntryKind::Imperative(infinite_part));

fn out_of_range(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let _ = ctx.ask("Capital of France?")?;
    // A fraction taken for a percentage, set past the constructor.
    let mut s = Score::from_fraction(0.7);
    s.value *= 100.0;
    Ok(s)
}
static OUT_OF_RANGE: EvalEntry = entry!("out_of_range", EntryKind::Imperative(out_of_range));

fn asks_then_panics(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let _ = ctx.ask("Capital of France?")?;
    panic!("boom")
}
static ASKS_THEN_PANICS: EvalEntry =
    entry!("asks_then_panics", EntryKind::Imperative(asks_then_panics));

#[test]
fn a_score_that_is_no_number_in_0_to_100_is_the_samples_error_not_a_clamped_one() {
    let dir = tempfile::tempdir().unwrap();
    let backend: SharedBackend = Counting::new(false);
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let p = plan(
        vec![
            &NAN_SCORE,
            &NAN_PART,
            &INFINITE_PART,
            &OUT_OF_RANGE,
            &ASKS_THEN_PANICS,
            &IMPERATIVE,
        ],
        1,
    );
    let store = common::store(dir.path(), "a");
    let out = execute(
        &p,
        &store,
        &cache,
        &|_: &ModelSpec| Ok(backend.clone()),
        &mut Collect::default(),
    );
    assert_eq!(out.records.len(), 12);
    for r in &out.records {
        let e = r.error.as_deref().unwrap_or_default();
        let expected = match r.eval.as_str() {
            "nan_score" => "the eval returned a NaN score",
            "nan_part" => "the eval returned a score whose part `ratio` is NaN, not a finite number",
            "infinite_part" => {
                "the eval returned a score whose part `chars_per_ms` is inf, not a finite number"
            }
            "out_of_range" => {
                "the eval returned a score of 7000, outside 0–100 (scores are points out of 100; `Score::from_fraction` takes 0–1)"
            }
            // Where the eval is, as a case that fails to build says it.
            "asks_then_panics" => &format!(
                "eval panicked ({}:{}): boom",
                ASKS_THEN_PANICS.file, ASKS_THEN_PANICS.line
            ),
            _ => {
                assert!(r.score.is_some() && r.error.is_none(), "{r:?}");
                continue;
            }
        };
        assert!(r.score.is_none() && e == expected, "{r:?}");
    }
    // What the store holds reads back as records (JSON has no NaN or
    // infinity: serde writes them as `null`, which no f64 reads back).
    let stored = litmus_core::run::store::read_run(store.dir()).unwrap();
    assert_eq!(stored.len(), 12);
}
