//! Self-validation of declarative evals: every reference solution scores 100,
//! an empty answer scores 0, and the prompt renders (for cases graded by an
//! LLM judge: the judge's rubric renders). Run by `cargo test`
//! (through [`assert_valid`]) and by `cargo eval --validate`.

use std::sync::Mutex;

use crate::eval::case::Case;
use crate::eval::registry::{EntryKind, EvalEntry};
use crate::eval::template::PromptTemplate;
use crate::plan::config::Config;
use crate::plan::resolve;

/// The outcome of validating one eval.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// Eval name.
    pub eval: String,
    /// `Err` with every problem found.
    pub result: Result<(), Vec<String>>,
    /// Why its answers could not be run here (a code case whose language
    /// has no runtime on this machine): what was checked without running
    /// code is in `result`.
    pub skipped: Option<String>,
}

/// Validates one case.
pub fn validate_case(
    case: &Case,
    templates: &[PromptTemplate],
    limits: &litmus_sandbox::Limits,
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    // A code case may be all prefix (a completion of its signature).
    let asks = match case {
        Case::Code(c) => format!("{}{}", c.prompt, c.prefix.as_deref().unwrap_or_default()),
        Case::Text(t) => t.prompt.clone(),
    };
    if asks.trim().is_empty() {
        problems.push("the prompt is empty: the model would be asked nothing".into());
    }
    if let Case::Text(t) = case {
        match t.pass_threshold {
            Some(p) if p.is_nan() => {
                problems.push("pass_threshold is NaN: no answer can pass".into())
            }
            Some(p) if !(0.0..=100.0).contains(&p) => problems.push(format!(
                "pass_threshold {p} is outside 0–100 (scores are 0–100: {})",
                if p > 100.0 {
                    "no answer can pass"
                } else {
                    "every answer passes"
                }
            )),
            // As `#[eval(min_score = 0.6)]`: a fraction meant as points.
            Some(p) if p > 0.0 && p <= 1.0 => problems.push(format!(
                "pass_threshold {p} is in points out of 100, not a fraction: write `.pass_threshold({})`",
                (p * 1e4).round() / 100.0
            )),
            _ => {}
        }
    }
    // Filled by litmus from the case itself: a case's own would be ignored.
    for reserved in ["task", "task_inline"] {
        if case.vars().contains_key(reserved) {
            problems.push(format!(
                "variable `{reserved}` is litmus's own (the case's prompt): `.var(\"{reserved}\", ..)` is ignored; name it otherwise"
            ));
        }
    }
    for t in templates.iter().filter(|t| t.applies_to(Some(case))) {
        if let Err(e) = t.render(case) {
            problems.push(e.to_string());
        }
    }
    match case {
        Case::Code(c) => {
            // Without the language's runtime nothing can be run: the caller
            // says the eval was skipped (`Validation::skipped`).
            let runnable = c.language.is_available();
            let score = |answer: &str| crate::eval::case_scoring::score_code(c, answer, limits);
            match &c.reference {
                None => problems.push("no reference solution".into()),
                Some(_) if !runnable => {}
                Some(reference) => match score(reference) {
                    Err(e) => problems.push(format!("the reference solution: {e}")),
                    Ok(s) if s.value < 100.0 => problems.push(format!(
                        "the reference solution scores {:.1}, not 100 ({:?}){}",
                        s.value,
                        s.parts,
                        s.details
                            .map(|d| format!(": {}", crate::base::util::truncate(&d, 600)))
                            .unwrap_or_default()
                    )),
                    Ok(_) => {}
                },
            }
            if c.tests.is_empty() {
                problems.push("no unit tests".into());
            }
            if runnable {
                match score("") {
                    Ok(empty) if empty.value != 0.0 => {
                        problems.push(format!("an empty answer scores {:.1}, not 0", empty.value))
                    }
                    // The reference's error says it already.
                    Err(e) if c.reference.is_none() => {
                        problems.push(format!("an empty answer: {e}"))
                    }
                    _ => {}
                }
            }
        }
        Case::Text(t) if t.judge.is_some() => {
            // A judged case needs a model to score anything; check that its
            // rubric renders (references are optional).
            if let Some(Err(e)) = t
                .judge
                .as_ref()
                .map(|j| j.validate(!t.references.is_empty()))
            {
                problems.push(e.to_string());
            }
        }
        Case::Text(t) => {
            // The metric itself (a regex that compiles), then the references:
            // those there are, and one at least if the metric needs one.
            if let Err(e) = crate::eval::case_scoring::check_metric(&t.metric) {
                problems.push(e);
            } else {
                if t.references.is_empty() && t.metric.needs_references() {
                    problems.push(format!(
                        "no reference answer (metric {} compares the answer with one)",
                        t.metric.name()
                    ));
                }
                // An answer of nothing passing: the metric accepts anything
                // (an empty reference with `contains`, an empty regex).
                if let Ok(s) = crate::eval::case_scoring::score_metric(
                    &t.metric,
                    "",
                    &t.references,
                    t.pass_threshold,
                ) {
                    if s.passed {
                        problems.push(format!(
                            "an empty answer passes ({:.1}): metric {} accepts any answer",
                            s.value,
                            t.metric.name()
                        ));
                    }
                }
                for r in &t.references {
                    match crate::eval::case_scoring::score_metric(
                        &t.metric,
                        r,
                        &t.references,
                        t.pass_threshold,
                    ) {
                        Ok(s) if !s.passed => problems.push(format!(
                            "reference answer {r:?} does not pass its own metric ({:.1})",
                            s.value
                        )),
                        Ok(_) => {}
                        Err(e) => problems.push(e),
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Validates the declarative evals among `entries` on `jobs` threads, each
/// eval's code under the limits a run gives it: `limits` (the run's, see
/// [`crate::plan::resolve::limits`]) with the eval's own
/// `timeout` ([`EvalEntry::limits`]).
pub fn validate(
    entries: &[&'static EvalEntry],
    templates: &[PromptTemplate],
    limits: &litmus_sandbox::Limits,
    jobs: usize,
) -> Vec<Validation> {
    let next = Mutex::new(0usize);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(entry) = entries.get(i) else { break };
                if !matches!(entry.kind, EntryKind::Declarative(_)) {
                    continue;
                }
                let (result, skipped) = match crate::eval::registry::build_case(entry) {
                    Ok(case) => (
                        validate_case(&case, templates, &entry.limits(limits)),
                        case.unrunnable(),
                    ),
                    Err(e) => (Err(vec![e]), None),
                };
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Validation {
                        eval: entry.full_name(),
                        result,
                        skipped,
                    });
            });
        }
    });
    let mut out = results.into_inner().unwrap_or_else(|p| p.into_inner());
    out.sort_by(|a, b| a.eval.cmp(&b.eval));
    out
}

/// Validates every registered declarative eval; panics listing the failures.
/// Call it from a `#[test]` in the crate that holds the evals. The sandbox
/// limits are a run's: `[run] timeout_secs` of the `litmus.toml` found from
/// the crate's directory up (as `cargo eval` finds it), and each eval's own
/// `timeout`.
pub fn assert_valid() {
    let entries = crate::eval::registry::all().unwrap_or_else(|e| panic!("{e}"));
    // `cargo test` runs a test in its package's directory and names it.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    let config = Config::discover(&dir).unwrap_or_else(|e| panic!("{e}"));
    let jobs = resolve::jobs(&config, None);
    let results = validate(
        &entries,
        &crate::eval::template::builtin(),
        &resolve::limits(&config),
        jobs,
    );
    assert!(
        !results.is_empty(),
        "no declarative evals are registered: is the crate holding them linked?"
    );
    let failures: Vec<String> = results
        .iter()
        .filter_map(|v| {
            v.result
                .as_ref()
                .err()
                .map(|p| format!("{}:\n  - {}", v.eval, p.join("\n  - ")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} evals are invalid:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::case::CodeCase;
    use crate::eval::registry::EntryKind;

    /// A Python case whose one test takes about 1.5 s.
    fn slow() -> Case {
        CodeCase::python()
            .prompt("Write `f()` returning 1.")
            .test("import time\ntime.sleep(1.5)\nassert f() == 1")
            .reference("def f():\n    return 1\n")
            .into()
    }

    const fn entry(name: &'static str, timeout_secs: Option<u64>, f: fn() -> Case) -> EvalEntry {
        EvalEntry {
            name,
            case: None,
            module_path: "tests",
            file: "validate.rs",
            line: 1,
            tags: &[],
            samples: None,
            timeout_secs,
            ignore: false,
            ignore_reason: "",
            min_score: None,
            kind: EntryKind::Declarative(f),
            code: "",
        }
    }
    static SLOW: EvalEntry = entry("slow", None, slow);
    static SLOW_WITH_TIMEOUT: EvalEntry = entry("slow_with_timeout", Some(4), slow);

    fn problems(entry: &'static EvalEntry, limits: &litmus_sandbox::Limits) -> Vec<String> {
        let templates = resolve::templates(&Config::default(), &[]).unwrap();
        let results = validate(&[entry], &templates, limits, 1);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].eval, entry.full_name());
        results[0].result.clone().err().unwrap_or_default()
    }

    fn python() -> bool {
        let ok = litmus_sandbox::Language::Python.is_available();
        if !ok {
            eprintln!("skipped: no Python here");
        }
        ok
    }

    #[test]
    fn references_run_under_the_limits_of_a_run() {
        if !python() {
            return;
        }
        // `[run] timeout_secs = 1`: the reference's 1.5 s test times out, as
        // it would in a run.
        let config = Config::parse("[run]\ntimeout_secs = 1\n", "litmus.toml".as_ref()).unwrap();
        let limits = resolve::limits(&config);
        let p = problems(&SLOW, &limits);
        assert!(
            p.len() == 1
                && p[0].contains("reference solution scores")
                && p[0].contains("timed out"),
            "{p:?}"
        );
        // The eval's own `timeout = "4s"` wins over the configuration's.
        assert_eq!(SLOW_WITH_TIMEOUT.limits(&limits).timeout.as_secs(), 4);
        assert_eq!(problems(&SLOW_WITH_TIMEOUT, &limits), Vec::<String>::new());
    }

    fn text(case: crate::eval::case::TextCase) -> Result<(), Vec<String>> {
        validate_case(&case.into(), &[], &Default::default())
    }

    #[test]
    fn an_empty_prompt_or_a_threshold_outside_0_to_100_is_invalid() {
        use crate::eval::case::TextCase;
        let p = text(TextCase::new(" ").reference("x")).unwrap_err();
        assert_eq!(p, ["the prompt is empty: the model would be asked nothing"]);
        for (threshold, why) in [(250.0, "no answer can pass"), (-3.0, "every answer passes")] {
            let p = text(
                TextCase::new("Say x")
                    .reference("x")
                    .pass_threshold(threshold),
            )
            .unwrap_err();
            assert_eq!(
                p[0],
                format!("pass_threshold {threshold} is outside 0–100 (scores are 0–100: {why})")
            );
        }
        assert!(text(TextCase::new("Say x").reference("x").pass_threshold(60.0)).is_ok());
        let with = |t: f64| text(TextCase::new("Say x").reference("x").pass_threshold(t));
        assert_eq!(
            with(f64::NAN).unwrap_err()[0],
            "pass_threshold is NaN: no answer can pass"
        );
        assert_eq!(
            with(0.6).unwrap_err()[0],
            "pass_threshold 0.6 is in points out of 100, not a fraction: write `.pass_threshold(60)`"
        );
    }

    #[test]
    fn a_variable_litmus_fills_itself_is_invalid() {
        use crate::eval::case::TextCase;
        let p = text(
            TextCase::new("Capital of {{country}}?")
                .var("country", "France")
                .var("task", "x")
                .reference("Paris"),
        )
        .unwrap_err();
        assert_eq!(
            p,
            ["variable `task` is litmus's own (the case's prompt): `.var(\"task\", ..)` is ignored; name it otherwise"]
        );
    }

    #[test]
    fn a_metric_that_any_answer_passes_is_invalid() {
        use crate::eval::case::{Metric, TextCase};
        for case in [
            TextCase::new("Say anything.")
                .reference("")
                .metric(Metric::contains()),
            TextCase::new("Say anything.").metric(Metric::regex("")),
        ] {
            let p = text(case).unwrap_err();
            assert!(
                p.iter()
                    .any(|p| p.starts_with("an empty answer passes (100.0)")),
                "{p:?}"
            );
        }
        assert_eq!(
            text(TextCase::new("Capital of France?").reference("Paris")),
            Ok(())
        );
    }

    #[test]
    fn a_failure_that_is_not_the_answers_fault_is_named_not_scored() {
        if !python() {
            return;
        }
        let case: Case = CodeCase::python()
            .prompt("Write `f()` returning 1.")
            .setup("def (")
            .test("assert f() == 1")
            .reference("def f():\n    return 1\n")
            .into();
        let p = validate_case(&case, &[], &Default::default()).unwrap_err();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "the reference solution: the answer could not be scored: the spec's setup code does not compile"
            ),
            "{p:?}"
        );
    }

    #[test]
    fn a_metric_that_cannot_score_is_invalid() {
        use crate::eval::case::{Metric, TextCase};
        let p = text(TextCase::new("Say 42").metric(Metric::regex("(unclosed"))).unwrap_err();
        assert!(
            p.len() == 1 && p[0].starts_with("metric regex: invalid regex pattern `(unclosed`"),
            "{p:?}"
        );
        let p = text(
            TextCase::new("Say 42")
                .reference("42")
                .metric(Metric::regex("(unclosed")),
        )
        .unwrap_err();
        assert!(p.len() == 1 && p[0].contains("(unclosed"), "{p:?}");
        let p = text(
            TextCase::new("JSON please")
                .reference("{}")
                .metric(Metric::json_schema(serde_json::json!({"type": 7}))),
        )
        .unwrap_err();
        assert!(
            p.len() == 1 && p[0].starts_with("metric json_schema: invalid JSON schema"),
            "{p:?}"
        );
    }

    #[test]
    fn a_reference_is_needed_only_by_a_metric_that_compares_with_one() {
        use crate::eval::case::{Metric, TextCase};
        assert_eq!(
            text(TextCase::new("JSON please").metric(Metric::json_valid())),
            Ok(())
        );
        assert_eq!(
            text(TextCase::new("Say 42").metric(Metric::regex(r"\b42\b"))),
            Ok(())
        );
        let schema = serde_json::json!({"type": "object"});
        assert_eq!(
            text(TextCase::new("JSON").metric(Metric::json_schema(schema))),
            Ok(())
        );
        // A reference there is must still pass.
        let p = text(
            TextCase::new("Say 42")
                .reference("forty-two")
                .metric(Metric::regex(r"\b42\b")),
        )
        .unwrap_err();
        assert!(
            p.len() == 1 && p[0].contains("\"forty-two\" does not pass"),
            "{p:?}"
        );
        // A metric that compares with a reference needs one.
        let p = text(TextCase::new("Capital of France?").metric(Metric::contains())).unwrap_err();
        assert_eq!(
            p,
            ["no reference answer (metric contains compares the answer with one)"]
        );
    }

    #[test]
    fn a_judge_that_never_sees_the_answer_is_invalid() {
        use crate::eval::case::TextCase;
        use crate::eval::judge::Judge;
        let blind = Judge::new().rubric("Grade this answer from 1 to 10.");
        let p = text(TextCase::new("Say hi").judge(blind)).unwrap_err();
        assert!(
            p.len() == 1 && p[0].contains("no {{answer}} placeholder"),
            "{p:?}"
        );
        assert_eq!(text(TextCase::new("Say hi").judge(Judge::new())), Ok(()));
    }

    #[test]
    fn a_longer_timeout_gives_each_test_longer() {
        // `timeout = "30s"`: a test may take more than the default 5 s.
        static LONG: EvalEntry = entry("long", Some(30), slow);
        let limits = LONG.limits(&Default::default());
        assert_eq!(limits.timeout.as_secs(), 30);
        assert_eq!(limits.effective_snippet_timeout().as_secs(), 15);
        // `[run] timeout_secs` likewise; its default value changes nothing.
        let config = |t: u64| {
            Config::parse(
                &format!("[run]\ntimeout_secs = {t}\n"),
                "litmus.toml".as_ref(),
            )
            .unwrap()
        };
        assert_eq!(
            resolve::limits(&config(10)),
            litmus_sandbox::Limits::default()
        );
        let limits = resolve::limits(&config(20));
        assert_eq!(limits.effective_snippet_timeout().as_secs(), 10);
        assert_eq!(
            LONG.limits(&limits).effective_snippet_timeout().as_secs(),
            15
        );
    }
}
