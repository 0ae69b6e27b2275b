//! Rust: the solution, the spec's setup, one function per example/test and a
//! small harness `main` are compiled with `rustc` (inside the sandbox, to a
//! binary in the workspace), then the binary runs every snippet on its own
//! thread with `catch_unwind` and a time budget.
//!
//! *Parsed* means the solution compiles. A snippet that does not compile
//! (e.g. it calls a function the answer named differently) fails on its own:
//! rustc's JSON diagnostics are mapped back to the snippet and the harness
//! is rebuilt without it. A `fn main` in the answer is renamed and run as
//! the *executed* step (a panic or an `Err` return fails it); without one,
//! *executed* means the program was built and started.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;

use super::driver::{run_driver, DriverProgram, ERROR_CAP};
use super::{Evaluation, Language, LanguageRunner, SnippetKind, SnippetOutcome};
use crate::sandbox::{Sandbox, SandboxCommand, SandboxFile, Workspace};
use crate::util::{cap_string, lossy};
use crate::{tools, CodeSpec, Limits};

pub(crate) struct Rust;

pub(super) const HARNESS: &str = include_str!("drivers/rust_harness.rs");
const MAX_REBUILDS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Program,
    Snippet(SnippetKind, usize),
}

struct Generated {
    source: String,
    /// (first line, last line, region), 1-based inclusive.
    regions: Vec<(usize, usize, Region)>,
}

fn main_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?m)^(\s*)(pub(\([^)]*\))?\s+)?(async\s+)?fn\s+main\s*\(").expect("regex")
    })
}

fn inner_attr_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"(?m)^\s*#!\[[^\n]*\]\s*$").expect("regex"))
}

/// The crate-level attributes of an answer kept (moved to the crate's top).
const HOISTED_ATTRIBUTES: &[&str] = &[
    "allow",
    "warn",
    "deny",
    "forbid",
    "expect",
    "recursion_limit",
    "type_length_limit",
];

/// Opens every example and test: the standard macros a test checks with,
/// defined again inside it, where they shadow any `macro_rules!` of the
/// same name in the answer above it (an answer defining
/// `macro_rules! assert_eq { ($($t:tt)*) => {} }` would otherwise pass
/// every test).
pub(super) const SNIPPET_PRELUDE: &str = concat!(
    "macro_rules! assert { ($($t:tt)*) => { ::core::assert!($($t)*) } } ",
    "macro_rules! assert_eq { ($($t:tt)*) => { ::core::assert_eq!($($t)*) } } ",
    "macro_rules! assert_ne { ($($t:tt)*) => { ::core::assert_ne!($($t)*) } } ",
    "macro_rules! debug_assert { ($($t:tt)*) => { ::core::debug_assert!($($t)*) } } ",
    "macro_rules! debug_assert_eq { ($($t:tt)*) => { ::core::debug_assert_eq!($($t)*) } } ",
    "macro_rules! debug_assert_ne { ($($t:tt)*) => { ::core::debug_assert_ne!($($t)*) } } ",
    "macro_rules! panic { ($($t:tt)*) => { ::core::panic!($($t)*) } } ",
    "macro_rules! unreachable { ($($t:tt)*) => { ::core::unreachable!($($t)*) } } ",
    "macro_rules! matches { ($($t:tt)*) => { ::core::matches!($($t)*) } } ",
    "macro_rules! vec { ($($t:tt)*) => { ::std::vec![$($t)*] } } ",
    "macro_rules! format { ($($t:tt)*) => { ::std::format!($($t)*) } }",
);

/// Build the harness source. `skip` lists snippets left out (they do not
/// compile); `with_snippets = false` builds the program alone.
fn generate(
    code: &str,
    spec: &CodeSpec,
    skip: &BTreeMap<(SnippetKind, usize), String>,
    with_snippets: bool,
) -> Generated {
    let setup = spec.setup.clone().unwrap_or_default();
    let mut attrs = Vec::new();
    // Crate-level attributes must open the crate: lint levels and limits
    // are moved there; others (`no_main`, `no_std`, `crate_type`, ...)
    // would let an answer replace the harness's `main` and report its own
    // results, and are dropped.
    let strip = |s: &str, attrs: &mut Vec<String>| {
        for m in inner_attr_re().find_iter(s) {
            let attr = m.as_str().trim();
            let name: String = attr
                .trim_start_matches("#![")
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if HOISTED_ATTRIBUTES.contains(&name.as_str()) {
                attrs.push(attr.to_string());
            }
        }
        inner_attr_re().replace_all(s, "").into_owned()
    };
    let setup = strip(&setup, &mut attrs);
    let program = strip(code, &mut attrs);
    let has_main = main_re().is_match(&program);
    let program = main_re()
        .replace_all(&program, "${1}fn __litmus_user_main(")
        .into_owned();

    let mut out = String::new();
    let mut line = 1usize;
    let mut regions = Vec::new();
    let mut push = |text: &str, region: Region, out: &mut String, line: &mut usize| {
        let start = *line;
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
        *line = start + text.lines().count().max(1);
        regions.push((start, *line - 1, region));
    };
    let mut head = String::from("#![allow(warnings)]\n");
    for a in &attrs {
        head.push_str(a);
        head.push('\n');
    }
    push(&head, Region::Program, &mut out, &mut line);
    if !setup.trim().is_empty() {
        push(&setup, Region::Program, &mut out, &mut line);
    }
    push(&program, Region::Program, &mut out, &mut line);

    let mut tables = String::new();
    for (kind, snippets) in [
        (SnippetKind::Example, &spec.examples),
        (SnippetKind::Test, &spec.tests),
    ] {
        let name = kind.name();
        let mut table = format!(
            "const __LITMUS_{}S: &[Option<fn() -> Result<(), String>>] = &[",
            name.to_uppercase()
        );
        for (i, s) in snippets.iter().enumerate() {
            if with_snippets && !skip.contains_key(&(kind, i)) {
                // The prelude on the function's first line (line numbers
                // of the snippet's errors stay as they are).
                let f = format!(
                    "#[allow(unreachable_code, unused)]\nfn __litmus_{name}_{i}() -> Result<(), String> {{ {SNIPPET_PRELUDE}\nlet _ = {{\n{s}\n}};\nOk(())\n}}\n"
                );
                push(&f, Region::Snippet(kind, i), &mut out, &mut line);
                table.push_str(&format!("Some(__litmus_{name}_{i}), "));
            } else {
                table.push_str("None, ");
            }
        }
        table.push_str("];\n");
        tables.push_str(&table);
    }
    if has_main {
        tables.push_str(
            "const __LITMUS_USER_MAIN: Option<fn() -> Result<(), String>> = \
             Some(|| __litmus_harness::__LitmusOutcome::__litmus_ok(__litmus_user_main()));\n",
        );
    } else {
        tables.push_str("const __LITMUS_USER_MAIN: Option<fn() -> Result<(), String>> = None;\n");
    }
    push(&tables, Region::Program, &mut out, &mut line);
    push(HARNESS, Region::Program, &mut out, &mut line);
    Generated {
        source: out,
        regions,
    }
}

/// A rustc run that failed: its stderr, and whether it ran out of time.
struct RustcError {
    raw: String,
    timed_out: bool,
}

/// A compile error, located.
struct Diagnostic {
    region: Option<Region>,
    rendered: String,
}

/// rustc's stderr as a reader sees it: each JSON diagnostic as rustc would
/// have rendered it, other lines as they are.
fn readable(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() / 2);
    for l in raw.lines() {
        match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) if v.get("$message_type").is_some() => {
                if let Some(r) = v["rendered"].as_str() {
                    out.push_str(r);
                }
            }
            _ => {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}

fn diagnostics(stderr: &str, regions: &[(usize, usize, Region)]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for l in stderr.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            continue;
        };
        if v["level"].as_str() != Some("error") {
            continue;
        }
        let rendered = v["rendered"]
            .as_str()
            .or_else(|| v["message"].as_str())
            .unwrap_or("")
            .to_string();
        let spans = v["spans"].as_array().cloned().unwrap_or_default();
        if spans.is_empty() && rendered.starts_with("error: aborting due to") {
            continue;
        }
        let primary = spans
            .iter()
            .find(|s| s["is_primary"].as_bool() == Some(true))
            .or_else(|| spans.first());
        let region = primary
            .and_then(|s| s["line_start"].as_u64())
            .and_then(|ln| {
                let ln = ln as usize;
                regions
                    .iter()
                    .find(|(a, b, _)| *a <= ln && ln <= *b)
                    .map(|r| r.2)
            });
        out.push(Diagnostic { region, rendered });
    }
    out
}

impl Rust {
    fn compile_limits(limits: &Limits) -> Limits {
        Limits {
            timeout: limits.timeout.max(Duration::from_secs(60)),
            memory_bytes: limits.memory_bytes.max(4 << 30),
            cpu_seconds: limits.cpu_seconds.max(60),
            max_processes: limits.max_processes.max(64),
            max_file_bytes: limits.max_file_bytes.max(256 << 20),
            max_output_bytes: limits.max_output_bytes.max(4 << 20),
            snippet_timeout: limits.snippet_timeout,
            max_disk_bytes: limits.max_disk_bytes.max(512 << 20),
        }
    }

    /// Compile `main.rs` in `ws`; `Ok(())` or the rustc stderr (JSON lines),
    /// and whether rustc ran out of time.
    fn rustc(
        &self,
        sandbox: &Sandbox,
        ws: &Workspace,
        metadata_only: bool,
        limits: &Limits,
    ) -> Result<Result<(), RustcError>, String> {
        let t = tools::rustc()?;
        let mut cmd = SandboxCommand::new(&t.program)
            .args([
                "--edition",
                "2021",
                "--crate-type",
                "bin",
                "--crate-name",
                "solution",
                "-C",
                "opt-level=0",
                "-C",
                "debuginfo=0",
                "--error-format=json",
                "-o",
                "out/solution",
            ])
            .writable_dir("out");
        if metadata_only {
            cmd = cmd.arg("--emit=metadata");
        }
        cmd = cmd.arg("main.rs");
        cmd.ro_binds = t.ro_binds.clone();
        let out = sandbox
            .run_in(ws, &cmd, &Self::compile_limits(limits))
            .map_err(|e| format!("sandbox error: {e}"))?;
        if out.success() {
            return Ok(Ok(()));
        }
        let err = lossy(&out.stderr);
        let raw = if out.timed_out || err.trim().is_empty() {
            format!(
                "{{\"level\":\"error\",\"rendered\":\"rustc {}\"}}",
                out.describe_end()
            )
        } else {
            err
        };
        Ok(Err(RustcError {
            raw,
            timed_out: out.timed_out,
        }))
    }

    /// A build that ran out of time: the answer's, and final (building it
    /// again, alone or in parts, would spend the same time again).
    fn build_timed_out(e: &RustcError, limits: &Limits) -> Evaluation {
        Evaluation {
            parsed: false,
            timed_out: true,
            error: Some(format!(
                "rustc did not finish within {:.0} s (the build's time limit)",
                Self::compile_limits(limits).timeout.as_secs_f64()
            )),
            stderr: cap_string(&readable(&e.raw), limits.max_output_bytes),
            ..Default::default()
        }
    }

    fn first_error(diags: &[Diagnostic], raw: &str) -> String {
        let text = diags
            .iter()
            .find(|d| d.region.is_none() || d.region == Some(Region::Program))
            .or_else(|| diags.first())
            .map(|d| d.rendered.clone())
            .unwrap_or_else(|| readable(raw));
        cap_string(text.trim(), ERROR_CAP)
    }
}

impl LanguageRunner for Rust {
    fn language(&self) -> Language {
        Language::Rust
    }

    fn fence_tags(&self) -> &'static [&'static str] {
        &["rust", "rs", "rustc", "rust,ignore", "rust,no_run"]
    }

    fn code_patterns(&self) -> &'static [&'static str] {
        &[
            r"^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(unsafe\s+)?(fn|struct|enum|trait|impl|mod|use|type|const|static)\b",
            r"^\s*let\s+(mut\s+)?\w",
            r"^\s*#\[",
            r"^\s*(return|if|for|while|loop|match)\b",
            r"\w+!\(",
            r"->",
            r"::",
            r";\s*$",
            r"^\s*[}\])]+\s*[;,)]*\s*$",
        ]
    }

    fn availability(&self) -> Result<(), String> {
        tools::rustc().map(|_| ())
    }

    fn check(&self, sandbox: &Sandbox, code: &str, limits: &Limits) -> Result<(), String> {
        let spec = CodeSpec::new(Language::Rust);
        let gen = generate(code, &spec, &BTreeMap::new(), false);
        let ws = sandbox
            .workspace(&[SandboxFile::new("main.rs", gen.source)])
            .map_err(|e| e.to_string())?;
        match self.rustc(sandbox, &ws, true, limits)? {
            Ok(()) => Ok(()),
            Err(e) => {
                let diags = diagnostics(&e.raw, &gen.regions);
                Err(Self::first_error(&diags, &e.raw))
            }
        }
    }

    fn evaluate(
        &self,
        sandbox: &Sandbox,
        code: &str,
        spec: &CodeSpec,
        limits: &Limits,
    ) -> Evaluation {
        let ws = match sandbox.workspace(&[]) {
            Ok(ws) => ws,
            Err(e) => return Evaluation::infra(e.to_string()),
        };
        let mut skip: BTreeMap<(SnippetKind, usize), String> = BTreeMap::new();
        let mut built = false;
        for _ in 0..=MAX_REBUILDS {
            let gen = generate(code, spec, &skip, true);
            if let Err(e) = ws.write(&SandboxFile::new("main.rs", gen.source.clone())) {
                return Evaluation::infra(e.to_string());
            }
            let raw = match self.rustc(sandbox, &ws, false, limits) {
                Ok(Ok(())) => {
                    built = true;
                    break;
                }
                Ok(Err(e)) if e.timed_out => return Self::build_timed_out(&e, limits),
                Ok(Err(e)) => e.raw,
                Err(e) => return Evaluation::infra(e),
            };
            let diags = diagnostics(&raw, &gen.regions);
            let program_errors = diags
                .iter()
                .any(|d| !matches!(d.region, Some(Region::Snippet(..))));
            if program_errors || diags.is_empty() {
                // Does the program compile on its own?
                let alone = generate(code, spec, &skip, false);
                let _ = ws.write(&SandboxFile::new("main.rs", alone.source.clone()));
                match self.rustc(sandbox, &ws, true, limits) {
                    Ok(Ok(())) => {
                        // The program is fine; leave out every snippet that errs.
                        let mut any = false;
                        for d in &diags {
                            if let Some(Region::Snippet(k, i)) = d.region {
                                skip.entry((k, i)).or_insert_with(|| d.rendered.clone());
                                any = true;
                            }
                        }
                        if !any {
                            // Unlocated errors: drop all snippets.
                            for (k, n) in [
                                (SnippetKind::Example, spec.examples.len()),
                                (SnippetKind::Test, spec.tests.len()),
                            ] {
                                for i in 0..n {
                                    skip.entry((k, i))
                                        .or_insert_with(|| Self::first_error(&diags, &raw));
                                }
                            }
                        }
                        continue;
                    }
                    Ok(Err(e)) if e.timed_out => return Self::build_timed_out(&e, limits),
                    Ok(Err(RustcError { raw: raw_alone, .. })) => {
                        let d = diagnostics(&raw_alone, &alone.regions);
                        return Evaluation {
                            parsed: false,
                            error: Some(Self::first_error(&d, &raw_alone)),
                            stderr: cap_string(&readable(&raw_alone), limits.max_output_bytes),
                            ..Default::default()
                        };
                    }
                    Err(e) => return Evaluation::infra(e),
                }
            }
            for d in diags {
                if let Some(Region::Snippet(k, i)) = d.region {
                    skip.entry((k, i)).or_insert(d.rendered);
                }
            }
        }
        if !built {
            return Evaluation {
                parsed: true,
                executed: false,
                error: Some("the program could not be built together with its snippets".into()),
                ..Default::default()
            };
        }
        let prog = DriverProgram {
            program: ws.inside_path(sandbox.kind()).join("out/solution"),
            args: Vec::new(),
            ro_binds: Vec::new(),
            env: Vec::new(),
            extra: serde_json::json!({}),
            in_process: true,
        };
        let mut ev = run_driver(
            sandbox,
            &ws,
            &prog,
            spec.examples.len(),
            spec.tests.len(),
            limits,
            &[],
        );
        for s in ev.examples.iter_mut().chain(ev.tests.iter_mut()) {
            if let Some(msg) = skip.get(&(s.kind, s.index)) {
                let error = format!("does not compile: {}", cap_string(msg.trim(), ERROR_CAP));
                *s = SnippetOutcome::failed(s.kind, s.index, error, false);
            }
        }
        ev
    }
}
