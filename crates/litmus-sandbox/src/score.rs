//! Scoring, as the Julia LLM Leaderboard defines it, without its bugs.
//!
//! `score = parsed + executed + examples + tests`, each part worth 25:
//!
//! * **parsed** (25): the extracted program parses (Rust: compiles).
//! * **executed** (25): loading the program ran without error (Python: the
//!   module's top-level code; an `if __name__ == "__main__":` block does not
//!   run; Rust: the answer's own `main`, if any).
//! * **examples** (25 × fraction): examples that ran without error.
//! * **tests** (25 × fraction): unit tests that passed.
//!
//! Examples and tests only run when the program executed; otherwise those
//! parts are 0 (as in the leaderboard).
//!
//! Differences from the leaderboard, on purpose:
//!
//! * **No NaN for empty parts.** When a spec has no examples (or no tests),
//!   that part is awarded the value of the *executed* part (25 if the program
//!   ran, else 0): an answer is not penalised for checks that do not exist,
//!   and the total stays on the 0–100 scale.
//! * **A broken extra block does not zero a working answer.** The program
//!   is first scored as all selected blocks joined. If that scores below 100
//!   (for a reason other than a timeout) and the answer had several blocks, a
//!   few alternative programs are scored and the best one is kept: the blocks
//!   that parse on their own joined (when the joined program did not parse),
//!   each leave-one-block-out program, then each block alone (at most
//!   [`MAX_ATTEMPTS`] programs in total). [`CodeScore::note`] says which was
//!   used.
//! * **Robust test quoting.** Examples and tests reach the runner as files,
//!   never spliced into shell strings or string literals.
//! * Every part is stored, with per-snippet outcomes and the captured
//!   (capped) stderr.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::extract::{apply_prefix, extract_blocks, join_blocks, CodeBlock};
use crate::lang::{runner, Evaluation, Language, SnippetOutcome};
use crate::sandbox::{Sandbox, SandboxKind};
use crate::util::cap_string;
use crate::{CodeSpec, Limits};

/// At most this many candidate programs are run per answer.
pub const MAX_ATTEMPTS: usize = 8;

/// Points of each part (0..=25).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreParts {
    pub parsed: f64,
    pub executed: f64,
    pub examples: f64,
    pub tests: f64,
}

impl ScoreParts {
    pub fn total(&self) -> f64 {
        self.parsed + self.executed + self.examples + self.tests
    }

    /// The parts for the given outcome (see the module docs for empty parts).
    pub fn compute(
        parsed: bool,
        executed: bool,
        examples_passed: usize,
        examples_total: usize,
        tests_passed: usize,
        tests_total: usize,
    ) -> ScoreParts {
        let executed = parsed && executed;
        let frac = |passed: usize, total: usize| {
            if !executed {
                0.0
            } else if total == 0 {
                1.0
            } else {
                passed.min(total) as f64 / total as f64
            }
        };
        ScoreParts {
            parsed: if parsed { 25.0 } else { 0.0 },
            executed: if executed { 25.0 } else { 0.0 },
            examples: 25.0 * frac(examples_passed, examples_total),
            tests: 25.0 * frac(tests_passed, tests_total),
        }
    }
}

/// The score of one answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeScore {
    /// 0..=100, the sum of `parts`.
    pub score: f64,
    pub parsed: bool,
    pub executed: bool,
    pub examples_passed: usize,
    pub examples_total: usize,
    pub tests_passed: usize,
    pub tests_total: usize,
    pub parts: ScoreParts,
    /// First meaningful error (capped): infrastructure, parse, load, or the
    /// first failing snippet.
    pub error: Option<String>,
    /// Captured stderr (capped).
    pub stderr: String,
    pub timed_out: bool,
    pub duration_ms: u64,
    #[serde(default)]
    pub language: Option<Language>,
    /// The program that was scored.
    #[serde(default)]
    pub code: String,
    /// Per example/test outcome (empty when the program did not execute).
    #[serde(default)]
    pub snippets: Vec<SnippetOutcome>,
    /// Set when the failure is not the answer's fault (runtime not
    /// installed, broken setup code, sandbox failure).
    #[serde(default)]
    pub infra_error: Option<String>,
    #[serde(default)]
    pub sandbox: Option<SandboxKind>,
    /// How the scored program was derived when it is not all blocks joined.
    #[serde(default)]
    pub note: Option<String>,
    /// Programs run to find the score.
    #[serde(default)]
    pub attempts: usize,
}

impl CodeScore {
    fn zero(spec: &CodeSpec, error: String, infra: bool) -> CodeScore {
        CodeScore {
            score: 0.0,
            parsed: false,
            executed: false,
            examples_passed: 0,
            examples_total: spec.examples.len(),
            tests_passed: 0,
            tests_total: spec.tests.len(),
            parts: ScoreParts::default(),
            infra_error: infra.then(|| error.clone()),
            error: Some(error),
            stderr: String::new(),
            timed_out: false,
            duration_ms: 0,
            language: Some(spec.language),
            code: String::new(),
            snippets: Vec::new(),
            sandbox: None,
            note: None,
            attempts: 0,
        }
    }

    fn from_evaluation(ev: Evaluation, spec: &CodeSpec, code: String, kind: SandboxKind) -> Self {
        let examples_passed = ev.examples.iter().filter(|s| s.passed).count();
        let tests_passed = ev.tests.iter().filter(|s| s.passed).count();
        // A failure that is not the answer's fault scores nothing either way
        // (callers report it instead of a score).
        let parts = if ev.infra_error.is_some() {
            ScoreParts::default()
        } else {
            ScoreParts::compute(
                ev.parsed,
                ev.executed,
                examples_passed,
                spec.examples.len(),
                tests_passed,
                spec.tests.len(),
            )
        };
        let snippets: Vec<SnippetOutcome> = ev.examples.into_iter().chain(ev.tests).collect();
        let error = ev
            .infra_error
            .clone()
            .or(ev.error)
            .or_else(|| {
                snippets.iter().find(|s| !s.passed).map(|s| {
                    format!(
                        "{} {} failed: {}",
                        s.kind.name(),
                        s.index,
                        s.error.as_deref().unwrap_or("failed")
                    )
                })
            })
            .map(|e| cap_string(&e, crate::lang::driver::ERROR_CAP));
        CodeScore {
            score: parts.total(),
            parsed: ev.parsed,
            executed: ev.executed,
            examples_passed,
            examples_total: spec.examples.len(),
            tests_passed,
            tests_total: spec.tests.len(),
            parts,
            error,
            stderr: ev.stderr,
            timed_out: ev.timed_out,
            duration_ms: 0,
            language: Some(spec.language),
            code,
            snippets,
            infra_error: ev.infra_error,
            sandbox: Some(kind),
            note: None,
            attempts: 1,
        }
    }
}

/// Extract the code from `answer`, run it in the default sandbox against
/// `spec` and score it.
pub fn score_answer(answer: &str, spec: &CodeSpec, limits: &Limits) -> CodeScore {
    score_answer_in(&Sandbox::new(), answer, spec, limits)
}

/// Score an already extracted program (no extraction, no fallbacks; the
/// prefix is still applied). Useful for validating reference solutions.
pub fn score_code(code: &str, spec: &CodeSpec, limits: &Limits) -> CodeScore {
    let t0 = Instant::now();
    let sandbox = Sandbox::new();
    let r = runner(spec.language);
    if let Err(reason) = r.availability() {
        return unavailable(spec, &reason, t0);
    }
    let code = apply_prefix(code, spec.prefix.as_deref(), spec.language);
    let mut s = run_one(&sandbox, &code, spec, limits);
    s.duration_ms = t0.elapsed().as_millis() as u64;
    s
}

fn unavailable(spec: &CodeSpec, reason: &str, t0: Instant) -> CodeScore {
    let mut s = CodeScore::zero(
        spec,
        format!(
            "{} is not available on this machine ({reason}); the answer was not run",
            spec.language
        ),
        true,
    );
    s.duration_ms = t0.elapsed().as_millis() as u64;
    s
}

fn run_one(sandbox: &Sandbox, code: &str, spec: &CodeSpec, limits: &Limits) -> CodeScore {
    let r = runner(spec.language);
    if code.trim().is_empty() {
        let mut s = CodeScore::zero(spec, "no code found in the answer".into(), false);
        s.sandbox = Some(sandbox.kind());
        return s;
    }
    let ev = r.evaluate(sandbox, code, spec, limits);
    CodeScore::from_evaluation(ev, spec, code.to_string(), sandbox.kind())
}

/// [`score_answer`] with an explicit sandbox.
pub fn score_answer_in(
    sandbox: &Sandbox,
    answer: &str,
    spec: &CodeSpec,
    limits: &Limits,
) -> CodeScore {
    let t0 = Instant::now();
    let lang = spec.language;
    let r = runner(lang);
    if let Err(reason) = r.availability() {
        return unavailable(spec, &reason, t0);
    }
    let prefix = spec.prefix.as_deref();
    let blocks = extract_blocks(answer, lang);
    let program = |bs: &[&CodeBlock]| {
        let owned: Vec<CodeBlock> = bs.iter().map(|b| (*b).clone()).collect();
        apply_prefix(&join_blocks(&owned), prefix, lang)
    };
    let all: Vec<&CodeBlock> = blocks.iter().collect();
    let primary = program(&all);
    let mut best = run_one(sandbox, &primary, spec, limits);
    let mut attempts = 1;

    let retry =
        best.score < 100.0 && blocks.len() > 1 && !best.timed_out && best.infra_error.is_none();
    if retry {
        let mut tried: Vec<String> = vec![primary.clone()];
        let mut candidates: Vec<(String, String)> = Vec::new();
        let n = blocks.len();
        if !best.parsed {
            let parses: Vec<bool> = blocks
                .iter()
                .map(|b| {
                    let code = apply_prefix(&b.code, prefix, lang);
                    r.check(sandbox, &code, limits).is_ok()
                })
                .collect();
            let kept: Vec<&CodeBlock> = blocks
                .iter()
                .zip(&parses)
                .filter(|(_, ok)| **ok)
                .map(|(b, _)| b)
                .collect();
            if !kept.is_empty() && kept.len() < n {
                candidates.push((
                    program(&kept),
                    format!(
                        "scored without {} of {n} blocks that do not parse on their own",
                        n - kept.len()
                    ),
                ));
            }
        }
        if n <= 6 {
            for skip in (0..n).rev() {
                let bs: Vec<&CodeBlock> = blocks
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, b)| b)
                    .collect();
                candidates.push((
                    program(&bs),
                    format!("scored without block {} of {n}", skip + 1),
                ));
            }
        }
        for (i, b) in blocks.iter().enumerate() {
            candidates.push((
                program(&[b]),
                format!("scored block {} of {n} alone", i + 1),
            ));
        }
        for (code, note) in candidates {
            if attempts >= MAX_ATTEMPTS || best.score >= 100.0 {
                break;
            }
            if tried.contains(&code) || code.trim().is_empty() {
                continue;
            }
            tried.push(code.clone());
            attempts += 1;
            let mut s = run_one(sandbox, &code, spec, limits);
            let timed_out = s.timed_out;
            if s.score > best.score {
                s.note = Some(note);
                best = s;
            }
            if timed_out {
                break;
            }
        }
    }
    best.attempts = attempts;
    best.duration_ms = t0.elapsed().as_millis() as u64;
    best
}
