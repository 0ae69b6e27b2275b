//! The LLM judge against scripted backends: retries that succeed, retries that
//! end in a recorded failure (the run completes, the sample carries every raw
//! reply), out-of-range grades, the judge model of a run, the response cache,
//! and `EvalContext::judge`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod common;

use common::{spec, store, Collect};
use litmus_core::base::backend::*;
use litmus_core::base::model::ModelSpec;
use litmus_core::eval::case::{Case, TextCase};
use litmus_core::eval::context::EvalContext;
use litmus_core::eval::judge::{Judge, JudgeError};
use litmus_core::eval::registry::{EntryKind, EvalEntry};
use litmus_core::eval::score::ScoreResult;
use litmus_core::plan::matrix::Plan;
use litmus_core::plan::placement::{place, DevicesConfig};
use litmus_core::run::runner::{execute, execute_with, Schedule};
use litmus_core::run::store::{Cache, SampleRecord};

/// Answers eval prompts with `answer`, and judge prompts (those holding the
/// default rubric's "Answer to grade") from a script: the first script whose
/// key occurs in the prompt, reply `k` for attempt `k` (the judge asks for
/// sample `k` on attempt `k`), the last reply beyond the script's end.
struct Scripted {
    info: ModelInfo,
    answer: String,
    scripts: Vec<(String, Vec<String>)>,
    /// Judge calls that fail with a backend error before the script applies.
    failing_judge_calls: AtomicUsize,
    requests: AtomicUsize,
    judge_requests: AtomicUsize,
    seen: Mutex<Vec<GenerationRequest>>,
}

impl Scripted {
    fn new(name: &str, answer: &str, scripts: &[(&str, &[&str])]) -> Arc<Self> {
        Arc::new(Scripted {
            info: ModelInfo {
                name: name.into(),
                backend: "test".into(),
                digest: format!("digest-{name}"),
                ..Default::default()
            },
            answer: answer.into(),
            scripts: scripts
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
            failing_judge_calls: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            judge_requests: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn judge_requests_seen(&self) -> Vec<GenerationRequest> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| is_judge_prompt(&r.prompt))
            .cloned()
            .collect()
    }
}

fn is_judge_prompt(p: &Prompt) -> bool {
    p.to_text().contains("Answer to grade")
}

fn gen(sample: u32, text: &str) -> Generation {
    Generation {
        sample,
        text: text.into(),
        finish: FinishReason::Stop,
        usage: Usage::counted(10, 3),
        timings: Timings {
            total_ms: 1.0,
            ..Default::default()
        },
        served_by: None,
    }
}

impl Backend for Scripted {
    fn model(&self) -> &ModelInfo {
        &self.info
    }
    fn generate(&self, r: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push(r.clone());
        if !is_judge_prompt(&r.prompt) {
            return Ok(r.samples.iter().map(|&i| gen(i, &self.answer)).collect());
        }
        self.judge_requests.fetch_add(1, Ordering::SeqCst);
        if self
            .failing_judge_calls
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(BackendError::Connection("judge server unreachable".into()));
        }
        // The question sits in the first message; later turns hold earlier replies.
        let Prompt::Chat(messages) = &r.prompt else {
            return Err(BackendError::Backend("judge prompts are chats".into()));
        };
        let first = &messages[0].content;
        let (_, script) = self
            .scripts
            .iter()
            .find(|(k, _)| first.contains(k.as_str()))
            .ok_or_else(|| BackendError::Backend(format!("no script for {first:?}")))?;
        Ok(r.samples
            .iter()
            .map(|&i| gen(i, &script[(i as usize).min(script.len() - 1)]))
            .collect())
    }
    fn parallelism(&self) -> usize {
        3
    }
}

fn refs(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

#[test]
fn retry_then_success() {
    let b = Scripted::new(
        "j",
        "",
        &[(
            "Capital of France?",
            &["The answer is correct and concise.", "Grade: 8"],
        )],
    );
    let judge = Judge::new().scale(1, 10);
    let g = judge
        .grade(&*b, "Capital of France?", "Paris", &refs(&["Paris"]))
        .unwrap();
    assert_eq!(g.grade, 8.0);
    assert_eq!(g.attempts.len(), 2);
    assert_eq!(g.attempts[0].error.as_deref(), Some("no grade found"));
    assert_eq!(g.attempts[1].error, None);
    assert!((g.score.value - 700.0 / 9.0).abs() < 1e-9);
    assert!(g.score.passed);
    assert_eq!(g.score.parts["grade"], 8.0);
    assert_eq!(g.score.parts["judge_attempts"], 2.0);
    let details = g.score.details.as_deref().unwrap();
    assert!(
        details.contains("The answer is correct and concise."),
        "{details}"
    );
    assert!(
        details.contains("Grade: 8") && details.contains("attempt 2 of 3"),
        "{details}"
    );
    assert_eq!(g.judge_model, "j");

    // The retry: sample 1 (another seed), the retry temperature, and the
    // rejected reply shown back with what was wrong with it.
    let seen = b.judge_requests_seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].samples.clone(), seen[1].samples.clone()),
        (vec![0], vec![1])
    );
    assert_eq!(seen[0].params.temperature, 0.0);
    assert_eq!(seen[1].params.temperature, judge.retry_temperature);
    assert!(seen[0].params.max_tokens <= 256);
    let Prompt::Chat(retry) = &seen[1].prompt else {
        panic!()
    };
    assert_eq!(retry.len(), 3);
    assert_eq!(
        retry[1],
        Message::assistant("The answer is correct and concise.")
    );
    assert!(
        retry[2].content.contains("no grade found"),
        "{:?}",
        retry[2]
    );
    assert!(retry[2].content.contains("from 1 to 10"), "{:?}", retry[2]);
}

#[test]
fn retry_then_recorded_failure_keeps_every_raw_reply() {
    let replies: &[&str] = &["A fine answer.", "Grade: 11", "Grade: 7-8, it depends"];
    let b = Scripted::new("j", "", &[("Q?", replies)]);
    let err = Judge::new().grade(&*b, "Q?", "A", &[]).unwrap_err();
    let JudgeError::Failed {
        judge_model,
        attempts,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(judge_model, "j");
    assert_eq!(attempts.len(), 3);
    for (a, raw) in attempts.iter().zip(replies) {
        assert_eq!(a.output, *raw);
        assert!(a.error.is_some());
    }
    assert!(attempts[1]
        .error
        .as_deref()
        .unwrap()
        .contains("outside the scale"));
    assert!(attempts[2].error.as_deref().unwrap().contains("ambiguous"));
    let message = err.to_string();
    for raw in replies {
        assert!(message.contains(raw), "{message}");
    }
    assert!(
        message.contains("no valid grade in 3 attempts"),
        "{message}"
    );
    assert_eq!(b.judge_requests.load(Ordering::SeqCst), 3);

    // Fewer attempts: fewer requests.
    let b = Scripted::new("j", "", &[("Q?", replies)]);
    let err = Judge::new()
        .attempts(1)
        .grade(&*b, "Q?", "A", &[])
        .unwrap_err();
    assert!(matches!(err, JudgeError::Failed { ref attempts, .. } if attempts.len() == 1));
    assert_eq!(b.judge_requests.load(Ordering::SeqCst), 1);
}

#[test]
fn out_of_range_grades_are_rejected_then_retried() {
    let b = Scripted::new(
        "j",
        "",
        &[("Q?", &["Score: 15/10", "Grade: 0", "Grade: 9"])],
    );
    let g = Judge::new().grade(&*b, "Q?", "A", &[]).unwrap();
    assert_eq!(g.grade, 9.0);
    assert_eq!(g.attempts.len(), 3);
    assert!(g.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("grade 15 is outside the scale 1–10"));
    assert!(g.attempts[1]
        .error
        .as_deref()
        .unwrap()
        .contains("grade 0 is outside"));

    // On a 0–100 scale the same 0 is valid (and scores 0 points, failing).
    let b = Scripted::new("j", "", &[("Q?", &["Grade: 0"])]);
    let g = Judge::new()
        .scale(0, 100)
        .grade(&*b, "Q?", "A", &[])
        .unwrap();
    assert_eq!((g.grade, g.score.value, g.score.passed), (0.0, 0.0, false));
}

#[test]
fn a_backend_error_is_an_attempt_not_a_crash() {
    let b = Scripted::new("j", "", &[("Q?", &["Grade: 6"])]);
    b.failing_judge_calls.store(1, Ordering::SeqCst);
    let g = Judge::new().grade(&*b, "Q?", "A", &[]).unwrap();
    assert_eq!(g.grade, 6.0);
    assert!(g.attempts[0]
        .error
        .as_deref()
        .unwrap()
        .contains("judge server unreachable"));

    let b = Scripted::new("j", "", &[("Q?", &["Grade: 6"])]);
    b.failing_judge_calls.store(10, Ordering::SeqCst);
    let err = Judge::new().grade(&*b, "Q?", "A", &[]).unwrap_err();
    assert!(
        err.to_string().contains("judge server unreachable"),
        "{err}"
    );

    // No reply at all: said so, and a judge that cannot be reached is asked once.
    let msg = err.to_string();
    assert!(
        msg.starts_with("the judge (j) did not answer (3 requests)"),
        "{msg}"
    );
    struct Unreachable(ModelInfo, AtomicUsize);
    impl Backend for Unreachable {
        fn model(&self) -> &ModelInfo {
            &self.0
        }
        fn generate(&self, _: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            Err(BackendError::Load(
                "http://127.0.0.1:9/v1: connection refused".into(),
            ))
        }
    }
    let down = Unreachable(
        ModelInfo {
            name: "down".into(),
            ..ModelInfo::default()
        },
        AtomicUsize::new(0),
    );
    let err = Judge::new().grade(&down, "Q?", "A", &[]).unwrap_err();
    assert_eq!(down.1.load(Ordering::SeqCst), 1);
    let msg = err.to_string();
    assert!(
        msg.starts_with("the judge (down) did not answer (1 request)")
            && msg.contains("connection refused"),
        "{msg}"
    );

    // A bad rubric sends nothing.
    let err = Judge::new()
        .rubric("{{question}} {{answr}}")
        .grade(&*b, "Q?", "A", &[])
        .unwrap_err();
    assert!(matches!(err, JudgeError::Rubric(_)), "{err:?}");
}

// ---- through the runner ----

fn judged_good() -> Case {
    TextCase::new("Q-good: capital of France?")
        .reference("Paris")
        .judge(Judge::new())
        .into()
}

fn judged_bad() -> Case {
    TextCase::new("Q-bad: capital of Peru?")
        .reference("Lima")
        .judge(Judge::new())
        .into()
}

fn judged_strict() -> Case {
    TextCase::new("Q-strict: capital of Chile?")
        .judge(Judge::new())
        .pass_threshold(90.0)
        .into()
}

fn imperative_judged(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let answer = ctx.ask("Q-imp: capital of Spain?")?;
    Ok(ctx.judge(
        &Judge::new(),
        "Q-imp: capital of Spain?",
        &answer,
        &["Madrid".into()],
    )?)
}

fn imperative_judge_fails(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let answer = ctx.ask("Q-broken: capital of Italy?")?;
    Ok(ctx.judge(&Judge::new(), "Q-broken: capital of Italy?", &answer, &[])?)
}

static GOOD: EvalEntry = entry!("good", EntryKind::Declarative(judged_good));
static BAD: EvalEntry = entry!("bad", EntryKind::Declarative(judged_bad));
static STRICT: EvalEntry = entry!("strict", EntryKind::Declarative(judged_strict));
static IMP: EvalEntry = entry!("imp", EntryKind::Imperative(imperative_judged));
static IMP_BAD: EvalEntry = entry!("imp_bad", EntryKind::Imperative(imperative_judge_fails));

const SCRIPTS: &[(&str, &[&str])] = &[
    ("Q-good", &["Looks right to me!", "Grade: 10"]),
    ("Q-bad", &["Hmm.", "Grade: 42", "I refuse to grade."]),
    ("Q-strict", &["**8**/10"]),
    ("Q-imp", &[r#"{"score": 7, "reason": "close"}"#]),
    ("Q-broken", &["", "Grade: 7\nGrade: 3"]),
];

fn plan(evals: Vec<&'static EvalEntry>, samples: u32) -> Plan {
    common::plan(evals, samples, "Answer briefly. {{task}}", &[0.0])
}

fn by_eval<'a>(records: &'a [SampleRecord], eval: &str) -> Vec<&'a SampleRecord> {
    records.iter().filter(|r| r.eval == eval).collect()
}

/// Each record's eval, sample, score and error, in eval and sample order.
fn scores(records: &[SampleRecord]) -> Vec<(String, u32, Option<f64>, Option<String>)> {
    let mut v: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.eval.clone(),
                r.sample,
                r.score.as_ref().map(|s| s.value),
                r.error.clone(),
            )
        })
        .collect();
    v.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    v
}

#[test]
fn the_runner_judges_with_the_model_under_test_and_records_failures() {
    let dir = tempfile::tempdir().unwrap();
    let model = Scripted::new("m", "Paris", SCRIPTS);
    let m2: SharedBackend = model.clone();
    let opener = move |_: &ModelSpec| Ok(m2.clone());
    let cache = Cache::open(&dir.path().join("cache")).unwrap();
    let p = plan(vec![&GOOD, &BAD, &STRICT, &IMP, &IMP_BAD], 2);
    let mut rep = Collect::default();
    let out = execute(&p, &store(dir.path(), "a"), &cache, &opener, &mut rep);

    // The run completes: every sample has a record, each a score or an error.
    assert_eq!(out.records.len(), 10);
    assert!(out
        .records
        .iter()
        .all(|r| r.score.is_some() != r.error.is_some()));

    // Retry then success: grade 10 on the second attempt.
    for r in by_eval(&out.records, "good") {
        let s = r.score.as_ref().unwrap();
        assert_eq!(s.value, 100.0);
        assert!(s.passed);
        assert_eq!((s.parts["grade"], s.parts["judge_attempts"]), (10.0, 2.0));
        let d = s.details.as_deref().unwrap();
        assert!(
            d.contains("Looks right to me!") && d.contains("Grade: 10"),
            "{d}"
        );
        assert_eq!(
            r.response.as_deref(),
            Some("Paris"),
            "the answer, not the judge's reply"
        );
    }
    // Retry then recorded failure: an error carrying every raw reply, no score.
    for r in by_eval(&out.records, "bad") {
        assert!(r.score.is_none());
        let e = r.error.as_deref().unwrap();
        for raw in ["Hmm.", "Grade: 42", "I refuse to grade."] {
            assert!(e.contains(raw), "{e}");
        }
        assert!(e.contains("grade 42 is outside the scale"), "{e}");
        assert_eq!(r.response.as_deref(), Some("Paris"));
    }
    // The case's pass threshold applies to the judge's score.
    for r in by_eval(&out.records, "strict") {
        let s = r.score.as_ref().unwrap();
        assert!((s.value - 700.0 / 9.0).abs() < 1e-9);
        assert!(!s.passed, "77.8 < 90");
    }
    // Imperative: ctx.judge, and a failure through `?` is the sample's error.
    for r in by_eval(&out.records, "imp") {
        let s = r.score.as_ref().unwrap();
        assert_eq!(s.parts["grade"], 7.0);
        assert_eq!(
            r.exchanges.len(),
            1,
            "judge calls are not the eval's exchanges"
        );
        assert_eq!(r.response.as_deref(), Some("Paris"));
    }
    for r in by_eval(&out.records, "imp_bad") {
        let e = r.error.as_deref().unwrap();
        assert!(e.contains("empty reply") && e.contains("ambiguous"), "{e}");
        assert!(e.contains("Grade: 7\nGrade: 3"), "{e}");
    }
    let units: HashMap<String, (usize, usize)> = rep
        .units
        .iter()
        .map(|u| (u.eval.clone(), (u.scored, u.errors)))
        .collect();
    assert_eq!(units["good"], (2, 0));
    assert_eq!(units["bad"], (0, 2));
    assert_eq!(units["imp_bad"], (0, 2));

    // Judge replies go through the response cache: a rerun asks nothing.
    let before = model.requests.load(Ordering::SeqCst);
    let out2 = execute(
        &p,
        &store(dir.path(), "b"),
        &cache,
        &opener,
        &mut Collect::default(),
    );
    assert_eq!(model.requests.load(Ordering::SeqCst), before);
    assert_eq!(scores(&out.records), scores(&out2.records));
}

#[test]
fn a_configured_judge_model_grades_every_model_and_is_opened_once() {
    let dir = tempfile::tempdir().unwrap();
    let judge = Scripted::new("big-judge", "unused", SCRIPTS);
    let a = Scripted::new("a", "Paris", &[]);
    let b = Scripted::new("b", "Lyon", &[]);
    let opens = Arc::new(Mutex::new(Vec::<String>::new()));
    let (j2, a2, b2, o2) = (judge.clone(), a.clone(), b.clone(), opens.clone());
    let opener = move |s: &ModelSpec| -> Result<SharedBackend, BackendError> {
        o2.lock().unwrap().push(s.name.clone());
        Ok(match s.name.as_str() {
            "judge" => j2.clone(),
            "a" => a2.clone(),
            _ => b2.clone(),
        })
    };
    let mut p = plan(vec![&GOOD, &IMP], 1);
    p.models = vec![spec("a"), spec("b")];
    p.judge = Some(spec("judge"));
    let out = execute(
        &p,
        &store(dir.path(), "j"),
        &Cache::disabled(),
        &opener,
        &mut Collect::default(),
    );
    assert_eq!(*opens.lock().unwrap(), ["a", "judge", "b"]);
    assert_eq!(out.records.len(), 4);
    for r in &out.records {
        let s = r.score.as_ref().unwrap_or_else(|| panic!("{:?}", r.error));
        assert!(
            s.details.as_deref().unwrap().contains("judge big-judge"),
            "{s:?}"
        );
    }
    // The models under test never saw a judge prompt; the judge graded both.
    assert_eq!(a.judge_requests.load(Ordering::SeqCst), 0);
    assert_eq!(b.judge_requests.load(Ordering::SeqCst), 0);
    let graded: Vec<String> = judge
        .judge_requests_seen()
        .iter()
        .map(|r| r.prompt.to_text())
        .collect();
    assert!(graded.iter().any(|t| t.contains("Paris")));
    assert!(graded.iter().any(|t| t.contains("Lyon")));
    // The judge sees the case's task, not the template's wrapping.
    assert!(
        graded.iter().all(|t| !t.contains("Answer briefly.")),
        "{graded:?}"
    );
}

#[test]
fn a_judge_that_fails_to_load_fails_the_judged_samples_not_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = Scripted::new("m", "Paris", SCRIPTS);
    let m2: SharedBackend = model.clone();
    let opener = move |s: &ModelSpec| {
        if s.name == "judge" {
            Err(BackendError::Load("judge.gguf: not a GGUF file".into()))
        } else {
            Ok(m2.clone())
        }
    };
    let mut p = plan(vec![&GOOD, &IMP], 2);
    p.judge = Some(spec("judge"));
    let out = execute(
        &p,
        &store(dir.path(), "f"),
        &Cache::disabled(),
        &opener,
        &mut Collect::default(),
    );
    assert_eq!(out.records.len(), 4);
    assert!(out.load_errors.is_empty(), "the model under test loaded");
    for r in &out.records {
        let e = r.error.as_deref().unwrap();
        assert!(
            e.contains("judge model `judge`") && e.contains("not a GGUF file"),
            "{e}"
        );
        assert_eq!(r.response.as_deref(), Some("Paris"));
    }
    assert_eq!(model.judge_requests.load(Ordering::SeqCst), 0);
}

/// A local judge model whose cache identity is known before it loads (as
/// the eval target's llama.cpp knows it) is opened only for a reply the
/// response cache does not hold: a rerun whose every answer and grade is
/// cached opens neither the model under test nor the judge.
#[test]
fn a_judge_known_ahead_is_not_opened_when_its_replies_are_cached() {
    let cache_dir = tempfile::tempdir().unwrap();
    let judge = Scripted::new("big-judge", "unused", SCRIPTS);
    let model = Scripted::new("m", "Paris", &[]);
    let opens = Arc::new(Mutex::new(Vec::<String>::new()));
    let (j2, m2, o2) = (judge.clone(), model.clone(), opens.clone());
    let opener = move |s: &ModelSpec| -> Result<SharedBackend, BackendError> {
        o2.lock().unwrap().push(s.name.clone());
        Ok(if s.name == "judge" {
            j2.clone()
        } else {
            m2.clone()
        })
    };
    let infos: HashMap<String, ModelInfo> = [
        ("judge".to_string(), judge.info.clone()),
        ("m".to_string(), model.info.clone()),
    ]
    .into();
    let source = common::Known(common::Sim { gpus: 0 }, move |s: &ModelSpec| {
        ModelIdentity {
            info: infos[&s.name].clone(),
            salt: String::new(),
        }
    });
    let mut p = plan(vec![&GOOD, &IMP], 2);
    p.judge = Some(spec("judge"));
    let run = |id: &str| {
        let dir = tempfile::tempdir().unwrap();
        let schedule = Schedule {
            placed: place(&source, &DevicesConfig::default(), &p.models).unwrap(),
            source: &source,
        };
        execute_with(
            &p,
            &store(dir.path(), id),
            &Cache::open(cache_dir.path()).unwrap(),
            &opener,
            Some(&schedule),
            &mut Collect::default(),
        )
        .records
    };
    let first = run("one");
    assert_eq!(*opens.lock().unwrap(), ["m", "judge"]);
    assert_eq!(first.len(), 4);
    assert!(first.iter().all(|r| r.score.is_some()), "{first:?}");
    let graded = judge.judge_requests.load(Ordering::SeqCst);
    assert!(graded > 0);

    opens.lock().unwrap().clear();
    let again = run("two");
    assert!(
        opens.lock().unwrap().is_empty(),
        "opened {:?}",
        opens.lock().unwrap()
    );
    assert_eq!(judge.judge_requests.load(Ordering::SeqCst), graded);
    assert_eq!(scores(&again), scores(&first));
    assert!(again.iter().all(|r| r.cached), "{again:?}");
}

/// A model named `name` answering `reply` after 40 ms, `parallel` requests
/// at once ([`common::Slow`]).
fn busy(name: &str, reply: &'static str, parallel: usize) -> Arc<common::Slow> {
    Arc::new(common::Slow {
        info: ModelInfo {
            name: name.into(),
            backend: "test".into(),
            digest: format!("digest-{name}"),
            ..Default::default()
        },
        reply,
        delay: std::time::Duration::from_millis(40),
        parallel,
        in_flight: Arc::default(),
        most: Arc::default(),
    })
}

/// Judged answers are graded as many at a time as the judge takes, not one
/// per scoring thread: grading waits on the judge model, which batches what
/// it is asked together.
#[test]
fn judged_answers_are_graded_as_many_at_once_as_the_judge_takes() {
    let dir = tempfile::tempdir().unwrap();
    let judge = busy("judge", "Grade: 9", 8);
    let model = busy("m", "Paris", 8);
    let (j2, m2) = (judge.clone(), model.clone());
    let opener = move |s: &ModelSpec| -> Result<SharedBackend, BackendError> {
        Ok(if s.name == "judge" {
            j2.clone()
        } else {
            m2.clone()
        })
    };
    let mut p = plan(vec![&GOOD, &BAD], 8);
    p.judge = Some(spec("judge"));
    p.jobs = 2;
    let out = execute(
        &p,
        &store(dir.path(), "c"),
        &Cache::disabled(),
        &opener,
        &mut Collect::default(),
    );
    assert_eq!(out.records.len(), 16);
    assert!(
        out.records.iter().all(|r| r.score.is_some()),
        "{:?}",
        out.records
    );
    let most = judge.most.load(Ordering::SeqCst);
    assert!(most > p.jobs, "at most {most} judge requests at once");
}
