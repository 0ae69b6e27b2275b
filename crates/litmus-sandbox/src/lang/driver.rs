//! The host side of the driver protocol.
//!
//! Workspace layout (all written as files, so snippets are never quoted into
//! a command line):
//!
//! ```text
//! solution.<ext>      the extracted program
//! setup.<ext>         CodeSpec::setup (possibly empty)
//! examples/<i>.<ext>  one file per example
//! tests/<i>.<ext>     one file per unit test
//! <driver file>       the language's driver
//! ```
//!
//! The driver reads three lines from stdin, then closes it:
//!
//! ```text
//! <nonce>
//! <mode> <start_kind> <start_index> <phase_s> <snippet_s> <n_examples> <n_tests> <cleanup_all>
//! <JSON object with language-specific settings>
//! ```
//!
//! `mode` is `run` or `check` (parse only). `start_kind` is `load`,
//! `example` or `test`: where to (re)start. It writes JSON lines to fd 3,
//! each with `"nonce"` and `"event"`:
//!
//! * `parsed {ok, error}` – the solution parses/compiles;
//! * `executed {ok, error, timed_out}` – the solution loaded (ran) without error;
//! * `begin {kind, index}` – a snippet starts;
//! * `result {kind, index, ok, error, timed_out, ms}` – it ended;
//! * `infra {error}` – a failure that is not the solution's fault;
//! * `done` – everything was reported.
//!
//! Lines with a wrong nonce or bad JSON are ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Evaluation, SnippetKind, SnippetOutcome};
use crate::sandbox::{Sandbox, SandboxCommand, SandboxFile, Workspace};
use crate::util::{cap_string, lossy, random_hex, tail_string};
use crate::{CodeSpec, Limits};

/// How many times a crashed driver is restarted after the snippet it died in.
pub(crate) const MAX_RESUMES: usize = 3;

/// Cap of error messages kept per snippet / program.
pub(crate) const ERROR_CAP: usize = 2000;

/// How to start a language's driver.
#[derive(Debug, Clone)]
pub(crate) struct DriverProgram {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub ro_binds: Vec<PathBuf>,
    pub env: Vec<(String, String)>,
    /// Language-specific settings (third stdin line).
    pub extra: serde_json::Value,
    /// All snippets run inside one process (CPU rlimit scaled by phases);
    /// `false` when the driver forks a fresh child per snippet.
    pub in_process: bool,
}

/// The standard workspace files for `code` and `spec`.
pub(crate) fn standard_files(code: &str, spec: &CodeSpec, ext: &str) -> Vec<SandboxFile> {
    let mut files = vec![
        SandboxFile::new(format!("solution.{ext}"), code.as_bytes()),
        SandboxFile::new(
            format!("setup.{ext}"),
            spec.setup.clone().unwrap_or_default().into_bytes(),
        ),
    ];
    for (i, s) in spec.examples.iter().enumerate() {
        files.push(SandboxFile::new(
            format!("examples/{i}.{ext}"),
            s.as_bytes(),
        ));
    }
    for (i, s) in spec.tests.iter().enumerate() {
        files.push(SandboxFile::new(format!("tests/{i}.{ext}"), s.as_bytes()));
    }
    files
}

#[derive(Debug, Deserialize)]
struct Event {
    nonce: String,
    event: String,
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    timed_out: Option<bool>,
    #[serde(default)]
    ms: Option<u64>,
}

fn parse_events(report: &[u8], nonce: &str) -> Vec<Event> {
    lossy(report)
        .lines()
        .filter_map(|l| serde_json::from_str::<Event>(l).ok())
        .filter(|e| e.nonce == nonce)
        .collect()
}

fn kind_of(s: Option<&str>) -> Option<SnippetKind> {
    match s {
        Some("example") => Some(SnippetKind::Example),
        Some("test") => Some(SnippetKind::Test),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Load,
    Snippet(SnippetKind, usize),
}

fn next_after(kind: SnippetKind, index: usize, n_ex: usize, n_tests: usize) -> Option<Start> {
    match kind {
        SnippetKind::Example if index + 1 < n_ex => Some(Start::Snippet(kind, index + 1)),
        SnippetKind::Example if n_tests > 0 => Some(Start::Snippet(SnippetKind::Test, 0)),
        SnippetKind::Test if index + 1 < n_tests => Some(Start::Snippet(kind, index + 1)),
        _ => None,
    }
}

fn first_snippet(n_ex: usize, n_tests: usize) -> Option<Start> {
    if n_ex > 0 {
        Some(Start::Snippet(SnippetKind::Example, 0))
    } else if n_tests > 0 {
        Some(Start::Snippet(SnippetKind::Test, 0))
    } else {
        None
    }
}

fn phases_from(start: Start, n_ex: usize, n_tests: usize) -> u32 {
    let (load, ex, t) = match start {
        Start::Load => (true, n_ex > 0, n_tests > 0),
        Start::Snippet(SnippetKind::Example, _) => (false, true, n_tests > 0),
        Start::Snippet(SnippetKind::Test, _) => (false, false, true),
    };
    load as u32 + ex as u32 + t as u32
}

/// The three stdin lines of a driver run.
struct Config<'a> {
    nonce: &'a str,
    mode: &'a str,
    start: Start,
    n_ex: usize,
    n_tests: usize,
    cleanup_all: bool,
    extra: &'a serde_json::Value,
}

impl Config<'_> {
    fn render(&self, limits: &Limits) -> String {
        let (kind, index) = match self.start {
            Start::Load => ("load", 0),
            Start::Snippet(k, i) => (k.name(), i),
        };
        format!(
            "{}\n{} {kind} {index} {:.3} {:.3} {} {} {}\n{}\n",
            self.nonce,
            self.mode,
            limits.timeout.as_secs_f64(),
            limits.effective_snippet_timeout().as_secs_f64(),
            self.n_ex,
            self.n_tests,
            self.cleanup_all as u8,
            self.extra
        )
    }
}

/// Whether the driver may `kill(-1, SIGKILL)` to clean up after each snippet:
/// only where every process it can signal belongs to this sandbox.
pub(crate) fn cleanup_all_allowed(sandbox: &Sandbox) -> bool {
    let info = crate::sandbox::sandbox_info();
    match sandbox.kind() {
        crate::SandboxKind::Bubblewrap => info.kind == crate::SandboxKind::Bubblewrap,
        crate::SandboxKind::Fallback => info.running_as_root,
    }
}

fn build_command(
    prog: &DriverProgram,
    stdin: String,
    timeout: Duration,
    writable: &[String],
) -> SandboxCommand {
    let mut cmd = SandboxCommand::new(&prog.program)
        .args(prog.args.iter().cloned())
        .stdin(stdin)
        .report_fd(true)
        .timeout(timeout);
    cmd.ro_binds = prog.ro_binds.clone();
    cmd.env = prog.env.clone();
    cmd.writable_dirs = writable.to_vec();
    cmd
}

/// Parse-check via the driver's `check` mode.
pub(crate) fn check_with_driver(
    sandbox: &Sandbox,
    ws: &Workspace,
    prog: &DriverProgram,
    limits: &Limits,
) -> Result<(), String> {
    let nonce = random_hex(16);
    let stdin = Config {
        nonce: &nonce,
        mode: "check",
        start: Start::Load,
        n_ex: 0,
        n_tests: 0,
        cleanup_all: cleanup_all_allowed(sandbox),
        extra: &prog.extra,
    }
    .render(limits);
    let cmd = build_command(prog, stdin, limits.timeout + Duration::from_secs(2), &[]);
    let out = sandbox
        .run_in(ws, &cmd, limits)
        .map_err(|e| format!("sandbox error: {e}"))?;
    for e in parse_events(&out.report, &nonce) {
        if e.event == "parsed" {
            return if e.ok == Some(true) {
                Ok(())
            } else {
                Err(e.error.unwrap_or_else(|| "does not parse".into()))
            };
        }
        if e.event == "infra" {
            return Err(e.error.unwrap_or_default());
        }
    }
    Err(format!(
        "the checker ended without a result ({}): {}",
        out.describe_end(),
        tail_string(out.stderr_str().trim(), ERROR_CAP)
    ))
}

/// Run the driver (resuming after crashes) and collect an [`Evaluation`].
/// `writable` lists workspace directories the driver may write to.
pub(crate) fn run_driver(
    sandbox: &Sandbox,
    ws: &Workspace,
    prog: &DriverProgram,
    n_ex: usize,
    n_tests: usize,
    limits: &Limits,
    writable: &[String],
) -> Evaluation {
    let mut ev = Evaluation::default();
    let mut parsed: Option<bool> = None;
    let mut executed: Option<bool> = None;
    let mut results: BTreeMap<(SnippetKind, usize), SnippetOutcome> = BTreeMap::new();
    let mut stderr = String::new();
    let mut start = Start::Load;
    let began = Instant::now();
    let cleanup_all = cleanup_all_allowed(sandbox);
    let full_wall = limits.timeout * phases_from(Start::Load, n_ex, n_tests).max(1);

    for attempt in 0..=MAX_RESUMES {
        let phases = phases_from(start, n_ex, n_tests).max(1);
        let wall = limits.timeout * phases + Duration::from_secs(2);
        let mut run_limits = limits.clone();
        if prog.in_process {
            run_limits.cpu_seconds = limits.cpu_seconds.saturating_mul(phases as u64);
        }
        let nonce = random_hex(16);
        let stdin = Config {
            nonce: &nonce,
            mode: "run",
            start,
            n_ex,
            n_tests,
            cleanup_all,
            extra: &prog.extra,
        }
        .render(limits);
        let cmd = build_command(prog, stdin, wall, writable);
        let out = match sandbox.run_in(ws, &cmd, &run_limits) {
            Ok(o) => o,
            Err(e) => {
                ev.infra_error = Some(format!("sandbox error: {e}"));
                break;
            }
        };
        if attempt > 0 && !out.stderr.is_empty() {
            stderr.push_str("\n[litmus: restarted runner]\n");
        }
        stderr.push_str(&lossy(&out.stderr));
        if out.timed_out {
            ev.timed_out = true;
        }
        let results_before = results.len();
        let mut inflight: Option<(SnippetKind, usize)> = None;
        let mut last: Option<(SnippetKind, usize)> = None;
        let mut done = false;
        for e in parse_events(&out.report, &nonce) {
            match e.event.as_str() {
                "parsed" => {
                    let ok = e.ok == Some(true);
                    parsed = Some(ok);
                    if !ok {
                        ev.error = e.error.map(|s| cap_string(&s, ERROR_CAP));
                    }
                }
                "executed" => {
                    let ok = e.ok == Some(true);
                    executed = Some(ok);
                    if e.timed_out == Some(true) {
                        ev.timed_out = true;
                    }
                    if !ok {
                        ev.error = Some(cap_string(
                            &e.error.unwrap_or_else(|| "the program failed".into()),
                            ERROR_CAP,
                        ));
                    }
                }
                "begin" => {
                    if let (Some(k), Some(i)) = (kind_of(e.kind.as_deref()), e.index) {
                        inflight = Some((k, i));
                    }
                }
                "result" => {
                    if let (Some(k), Some(i)) = (kind_of(e.kind.as_deref()), e.index) {
                        let timed_out = e.timed_out == Some(true);
                        if timed_out {
                            ev.timed_out = true;
                        }
                        results.insert(
                            (k, i),
                            SnippetOutcome {
                                kind: k,
                                index: i,
                                passed: e.ok == Some(true),
                                error: e.error.map(|s| cap_string(&s, ERROR_CAP)),
                                timed_out,
                                duration_ms: e.ms.unwrap_or(0),
                            },
                        );
                        if inflight == Some((k, i)) {
                            inflight = None;
                        }
                        last = Some((k, i));
                    }
                }
                "infra" => {
                    ev.infra_error = Some(cap_string(
                        &e.error.unwrap_or_else(|| "runner failure".into()),
                        ERROR_CAP,
                    ));
                }
                "done" => done = true,
                _ => {}
            }
        }
        if done || ev.infra_error.is_some() {
            break;
        }
        // The process ended without reporting everything.
        let why = out.describe_end();
        if parsed.is_none() {
            parsed = Some(false);
            ev.infra_error = Some(format!(
                "the runner ended before reporting ({why}): {}",
                tail_string(lossy(&out.stderr).trim(), ERROR_CAP)
            ));
            break;
        }
        if parsed == Some(false) {
            break;
        }
        if executed.is_none() {
            executed = Some(false);
            ev.error = Some(format!("the program did not finish loading: {why}"));
            break;
        }
        if executed == Some(false) {
            break;
        }
        let next = if let Some((k, i)) = inflight {
            let error = format!(
                "the sandboxed process ended while running this {} ({why})",
                k.name()
            );
            results.insert((k, i), SnippetOutcome::failed(k, i, error, out.timed_out));
            next_after(k, i, n_ex, n_tests)
        } else if let Some((k, i)) = last {
            next_after(k, i, n_ex, n_tests)
        } else {
            first_snippet(n_ex, n_tests)
        };
        let Some(mut next) = next else { break };
        if results.len() == results_before {
            // No progress: give up on the snippet we tried to start with.
            if let Start::Snippet(k, i) = next {
                let error = format!("the sandboxed process ended before this ran ({why})");
                results.insert((k, i), SnippetOutcome::failed(k, i, error, out.timed_out));
                match next_after(k, i, n_ex, n_tests) {
                    Some(n) => next = n,
                    None => break,
                }
            }
        }
        if began.elapsed() > full_wall * 2 {
            break;
        }
        start = next;
    }

    ev.parsed = parsed == Some(true);
    ev.executed = ev.parsed && executed == Some(true);
    if ev.executed {
        let mut collect = |kind: SnippetKind, n: usize| -> Vec<SnippetOutcome> {
            (0..n)
                .map(|i| {
                    results
                        .remove(&(kind, i))
                        .unwrap_or_else(|| SnippetOutcome::failed(kind, i, "not run".into(), false))
                })
                .collect()
        };
        ev.examples = collect(SnippetKind::Example, n_ex);
        ev.tests = collect(SnippetKind::Test, n_tests);
    }
    ev.stderr = cap_string(&stderr, limits.max_output_bytes.max(1024));
    ev
}
