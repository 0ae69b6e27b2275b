//! The module structure of litmus-core: read from the `crate::` paths of
//! `src/**/*.rs`, checked for (a) import cycles between modules and (b) the
//! phase order `base ← eval ← plan ← run ← output ← harness`: a module may
//! use modules of its own phase and of the phases before it, never after.
//!
//! A failure names the offending edge and the lines that make it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The phases, lowest first.
const PHASES: &[&str] = &["base", "eval", "plan", "run", "output", "harness"];

/// A module path such as `run::runner`, and the lines that use other modules.
struct Module {
    path: String,
    uses: Vec<(String, String)>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/run/runner.rs` → `run::runner`, `src/eval/template/mod.rs` → `eval::template`.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The paths a `crate::` reference names, braces expanded:
/// `crate::{a::b, c::{d, e}}` → `a::b`, `c::d`, `c::e`.
fn expand(rest: &str) -> Vec<String> {
    fn ident_path(s: &str) -> (String, &str) {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(s.len());
        (s[..end].trim_end_matches(':').to_string(), &s[end..])
    }
    fn group(s: &str, prefix: &str, out: &mut Vec<String>) -> usize {
        // `s` starts after `{`; returns the bytes consumed up to the matching `}`.
        let mut i = 0;
        let b = s.as_bytes();
        while i < b.len() {
            match b[i] {
                b'}' => return i + 1,
                b' ' | b'\n' | b',' | b'\t' | b'\r' => i += 1,
                _ => {
                    let (p, tail) = ident_path(&s[i..]);
                    let consumed = s[i..].len() - tail.len();
                    let full = if p.is_empty() {
                        prefix.to_string()
                    } else if prefix.is_empty() {
                        p.clone()
                    } else {
                        format!("{prefix}::{p}")
                    };
                    i += consumed.max(1);
                    if let Some(inner) = tail.strip_prefix('{') {
                        i += group(inner, &full, out) + 1;
                    } else if !p.is_empty() {
                        out.push(full);
                    }
                    // Skip `as x` and anything up to the next separator.
                    while i < b.len() && !matches!(b[i], b',' | b'}') {
                        i += 1;
                    }
                }
            }
        }
        i
    }
    let mut out = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        group(inner, "", &mut out);
    } else {
        let (p, tail) = ident_path(rest);
        if let Some(inner) = tail.strip_prefix('{') {
            group(inner, &p, &mut out);
        } else {
            out.push(p);
        }
    }
    out
}

/// Every module of `src` with the `crate::` paths it uses (comments and
/// string literals of doc examples are not code; `super::` is resolved).
fn read_modules(src: &Path) -> Vec<Module> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    files
        .iter()
        .map(|file| {
            let path = module_path(src, file);
            let text = std::fs::read_to_string(file).unwrap();
            // Join `use` statements that span lines, so braces are whole.
            let mut statements: Vec<(usize, String)> = Vec::new();
            let mut open: Option<(usize, String)> = None;
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if let Some((_, s)) = open.as_mut() {
                    s.push(' ');
                    s.push_str(code.trim());
                    if code.contains(';') {
                        statements.push(open.take().unwrap());
                    }
                    continue;
                }
                let t = code.trim_start();
                if (t.starts_with("use ")
                    || t.starts_with("pub use ")
                    || t.starts_with("pub(crate) use "))
                    && !code.contains(';')
                {
                    open = Some((n + 1, code.trim().to_string()));
                } else {
                    statements.push((n + 1, code.to_string()));
                }
            }
            let parent = path.rsplit_once("::").map(|(p, _)| p).unwrap_or("");
            let mut uses = Vec::new();
            for (n, code) in statements {
                for (prefix, base) in [("crate::", String::new()), ("super::", parent.to_string())]
                {
                    let mut rest = code.as_str();
                    while let Some(at) = rest.find(prefix) {
                        let before = rest[..at].chars().last();
                        rest = &rest[at + prefix.len()..];
                        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                            continue;
                        }
                        if prefix == "super::" && code.trim_start().starts_with("use super::*") {
                            continue; // a `mod tests` importing its own module
                        }
                        for p in expand(rest) {
                            let full = if base.is_empty() {
                                p
                            } else {
                                format!("{base}::{p}")
                            };
                            uses.push((full, format!("{}:{n}", file.display())));
                        }
                    }
                }
            }
            Module { path, uses }
        })
        .collect()
}

/// The module a path falls in: its longest prefix that is a module.
fn owner<'a>(path: &str, modules: &'a BTreeSet<String>) -> Option<&'a String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .find_map(|k| modules.get(&parts[..k].join("::")))
}

/// Module-to-module edges (a module's own submodules and ancestors excluded),
/// each with the lines that make it.
fn edges(src: &Path) -> BTreeMap<(String, String), Vec<String>> {
    let modules = read_modules(src);
    let names: BTreeSet<String> = modules.iter().map(|m| m.path.clone()).collect();
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for m in &modules {
        for (used, at) in &m.uses {
            let Some(to) = owner(used, &names) else {
                continue;
            };
            let related = to.is_empty()
                || m.path.is_empty()
                || *to == m.path
                || to.starts_with(&format!("{}::", m.path))
                || m.path.starts_with(&format!("{to}::"));
            if !related {
                out.entry((m.path.clone(), to.clone()))
                    .or_default()
                    .push(at.clone());
            }
        }
    }
    out
}

fn phase_of(module: &str) -> Option<usize> {
    let top = module.split("::").next()?;
    PHASES.iter().position(|p| *p == top)
}

/// A cycle in `edges`, if there is one, as the modules along it.
fn find_cycle(edges: &BTreeMap<(String, String), Vec<String>>) -> Option<Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
        graph.entry(to).or_default();
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, State>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(n, State::Open);
        stack.push(n);
        for &m in &graph[n] {
            match state[m] {
                State::Open => {
                    let at = stack.iter().position(|s| *s == m).unwrap();
                    let mut cycle: Vec<String> =
                        stack[at..].iter().map(|s| s.to_string()).collect();
                    cycle.push(m.to_string());
                    return Some(cycle);
                }
                State::New => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                State::Done => {}
            }
        }
        stack.pop();
        state.insert(n, State::Done);
        None
    }
    let mut state: BTreeMap<&str, State> = graph.keys().map(|k| (*k, State::New)).collect();
    for n in graph.keys() {
        if state[n] == State::New {
            if let Some(c) = visit(n, &graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_belongs_to_a_phase() {
    let modules = read_modules(&src());
    let stray: Vec<&str> = modules
        .iter()
        .map(|m| m.path.as_str())
        .filter(|p| !p.is_empty() && phase_of(p).is_none())
        .collect();
    assert!(
        stray.is_empty(),
        "modules outside the phases {PHASES:?}: {stray:?} (see ARCHITECTURE.md)"
    );
}

#[test]
fn no_module_imports_a_later_phase() {
    let back: Vec<String> = edges(&src())
        .into_iter()
        .filter(|((from, to), _)| phase_of(to) > phase_of(from))
        .map(|((from, to), at)| format!("{from} → {to} ({})", at.join(", ")))
        .collect();
    assert!(
        back.is_empty(),
        "modules that import a later phase (order: {}):\n{}",
        PHASES.join(" ← "),
        back.join("\n")
    );
}

#[test]
fn no_import_cycles_between_modules() {
    let e = edges(&src());
    if let Some(cycle) = find_cycle(&e) {
        let lines: Vec<String> = cycle
            .windows(2)
            .map(|w| {
                let at = &e[&(w[0].clone(), w[1].clone())];
                format!("{} → {} ({})", w[0], w[1], at.join(", "))
            })
            .collect();
        panic!("import cycle:\n{}", lines.join("\n"));
    }
}

#[test]
fn no_import_cycles_between_phases() {
    let phases: BTreeMap<(String, String), Vec<String>> = edges(&src())
        .into_iter()
        .filter_map(|((from, to), at)| {
            let (f, t) = (phase_of(&from)?, phase_of(&to)?);
            (f != t).then(|| ((PHASES[f].to_string(), PHASES[t].to_string()), at))
        })
        .collect();
    assert_eq!(find_cycle(&phases), None);
}

#[test]
fn the_reader_sees_grouped_and_relative_imports() {
    assert_eq!(expand("a::b::C;"), vec!["a::b::C"]);
    assert_eq!(
        expand("{a::B, c::{d::E, F as G}};"),
        vec!["a::B", "c::d::E", "c::F"]
    );
    assert_eq!(expand("x::{self, Y}"), vec!["x::self", "x::Y"]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("base")).unwrap();
    std::fs::create_dir_all(src.join("run")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod base;\npub mod run;\n").unwrap();
    std::fs::write(src.join("base/mod.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(
        src.join("base/a.rs"),
        "// crate::run::r is a comment\nuse super::b::X;\n",
    )
    .unwrap();
    std::fs::write(src.join("base/b.rs"), "use crate::{\n    run::r::Y,\n};\n").unwrap();
    std::fs::write(src.join("run/mod.rs"), "pub mod r;\n").unwrap();
    std::fs::write(src.join("run/r.rs"), "fn f() { crate::base::a::g() }\n").unwrap();
    let e: Vec<(String, String)> = edges(src).into_keys().collect();
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        e,
        vec![
            s("base::a", "base::b"),
            s("base::b", "run::r"),
            s("run::r", "base::a")
        ]
    );
    assert!(find_cycle(&edges(src)).is_some());
}
