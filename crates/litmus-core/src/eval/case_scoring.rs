//! Scoring of declarative cases: sandboxed code execution, a text metric, or
//! an LLM judge.

use crate::base::caller::ModelCaller;
use crate::eval::case::{Case, CodeCase, Metric, TextCase};
use crate::eval::score::Score;

/// Scores `answer` for `case` without a model: a text case graded by a judge
/// needs one (see [`score_judged`]) and scores 0 here, with details saying so.
/// A text case whose metric cannot score (see [`score_metric`]) is an `Err`.
pub fn score_case(
    case: &Case,
    answer: &str,
    limits: &litmus_sandbox::Limits,
) -> Result<Score, String> {
    match case {
        Case::Code(c) => score_code(c, answer, limits),
        Case::Text(t) if t.judge.is_some() => Ok(Score::fail().details(
            "this case is graded by an LLM judge: it is scored by the runner, which has a judge model",
        )),
        Case::Text(t) => score_metric(&t.metric, answer, &t.references, t.pass_threshold),
    }
}

/// Has `case`'s judge grade `answer` to `question` (the case's task) through
/// `judge`. `Ok(None)` when the case has no judge. A judge that gives no valid
/// grade is an `Err` carrying every raw reply: the runner records it as the
/// sample's error.
pub fn score_judged(
    case: &TextCase,
    question: &str,
    answer: &str,
    judge: &dyn ModelCaller,
) -> Result<Option<Score>, crate::eval::judge::JudgeError> {
    let Some(j) = &case.judge else {
        return Ok(None);
    };
    let graded = j.grade_with(judge, question, answer, &case.references)?;
    let mut score = graded.score;
    if let Some(threshold) = case.pass_threshold {
        score.passed = score.value >= threshold;
    }
    Ok(Some(score))
}

/// Runs `answer` in the sandbox against the case's examples and tests.
///
/// A failure that is not the answer's fault (the language's runtime is not
/// installed, the case's setup code fails, the sandbox cannot start) is an
/// `Err` naming it, which a run records as the sample's error: scored 0, it
/// would pull the mean down for a reason no model can change.
pub fn score_code(
    case: &CodeCase,
    answer: &str,
    limits: &litmus_sandbox::Limits,
) -> Result<Score, String> {
    let r = {
        // A core taken while the program runs (engines yield it).
        let _scoring = crate::base::busy::Scoring::start();
        litmus_sandbox::score_answer(answer, &case.into(), limits)
    };
    if let Some(e) = &r.infra_error {
        return Err(format!("the answer could not be scored: {e}"));
    }
    let all_tests = r.tests_total == 0 || r.tests_passed == r.tests_total;
    let all_examples = r.examples_total == 0 || r.examples_passed == r.examples_total;
    let mut score = Score::new(r.score)
        .passed(r.executed && all_tests && all_examples)
        .part("parsed", r.parts.parsed)
        .part("executed", r.parts.executed)
        .part("examples", r.parts.examples)
        .part("tests", r.parts.tests);
    let mut details = String::new();
    if let Some(err) = &r.error {
        details.push_str(err);
    }
    if r.timed_out {
        details.push_str("\n[timed out]");
    }
    if !r.stderr.trim().is_empty() && r.error.as_deref() != Some(r.stderr.as_str()) {
        if !details.is_empty() {
            details.push('\n');
        }
        details.push_str(&r.stderr);
    }
    if !details.is_empty() {
        score = score.details(details);
    }
    Ok(score)
}

/// Whether a metric scores all-or-nothing.
fn is_binary(metric: &Metric) -> bool {
    matches!(
        metric,
        Metric::ExactMatch { .. }
            | Metric::Contains { .. }
            | Metric::Regex { .. }
            | Metric::JsonValid
            | Metric::JsonSchema { .. }
    )
}

/// Scores `answer` with `metric` (0–100). A sample passes at `threshold`
/// (default: 100 for all-or-nothing metrics, 50 otherwise).
///
/// A metric that cannot score at all (an invalid regex or JSON schema, no
/// reference for a metric that needs one) is a mistake in the eval, not a
/// wrong answer: an `Err` saying what is wrong, which a run records as the
/// sample's error, never a score of 0.
pub fn score_metric(
    metric: &Metric,
    answer: &str,
    references: &[String],
    threshold: Option<f64>,
) -> Result<Score, String> {
    let m = metric
        .score(answer, references)
        .map_err(|e| metric_error(metric, e))?;
    let mut s = Score::from_fraction(m.value);
    let threshold = threshold.unwrap_or(if is_binary(metric) { 100.0 } else { 50.0 });
    s.passed = s.value >= threshold;
    for (name, v) in m.parts {
        s.parts.insert(name, v);
    }
    Ok(s)
}

/// Whether answers to `case` can be scored at all (a text case's metric
/// compiles and has the references it needs, its judge's rubric and scale
/// are sound), checked before anything is generated: the error the scorer
/// would give every sample afterwards.
pub fn check_scorable(case: &Case) -> Result<(), String> {
    let Case::Text(t) = case else {
        return Ok(());
    };
    if let Some(judge) = &t.judge {
        return judge
            .validate(!t.references.is_empty())
            .map_err(|e| e.to_string());
    }
    check_metric(&t.metric)?;
    if t.references.is_empty() && t.metric.needs_references() {
        let e = litmus_metrics::MetricError::NoReferences {
            metric: t.metric.name(),
        };
        return Err(metric_error(&t.metric, e));
    }
    Ok(())
}

/// Checks `metric`'s own definition (its regex compiles, its schema is well
/// formed) without scoring anything; the error reads as [`score_metric`]'s.
pub fn check_metric(metric: &Metric) -> Result<(), String> {
    metric.validate().map_err(|e| metric_error(metric, e))
}

fn metric_error(metric: &Metric, e: litmus_metrics::MetricError) -> String {
    format!("metric {}: {e}", metric.name())
}
