//! Each language: a correct solution scores 100, an empty answer 0, a syntax
//! error 0, a program failing at load time gets the parsed points only, and
//! partially passing tests get fractional points. Every check is one test
//! per language (`correct::case_2_rust`, ...).

use litmus_sandbox::{score_answer, CodeScore, CodeSpec, Language, Limits};
use rstest::rstest;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn limits() -> Limits {
    Limits::default()
}

/// Scores answers for one language; skips (with a message) when the
/// language is not installed.
struct Suite {
    lang: Language,
    spec: CodeSpec,
}

impl Suite {
    fn available(&self) -> bool {
        if let Some(why) = self.lang.unavailable_reason() {
            eprintln!("skipping {}: {why}", self.lang);
            return false;
        }
        true
    }

    fn score(&self, answer: &str) -> CodeScore {
        score_answer(answer, &self.spec, &limits())
    }

    fn fence(&self, code: &str) -> String {
        format!("Here you go:\n\n```{}\n{code}\n```\n", self.lang.name())
    }

    /// `code` (a wrong solution) loads and runs its examples, and fails
    /// every test: 75 points, whatever else it does to the harness.
    fn assert_runs_and_fails_its_tests(&self, code: &str) {
        if !self.available() {
            return;
        }
        let s = self.score(&self.fence(code));
        assert!(
            s.executed && s.examples_passed == 2,
            "{}: {s:#?}",
            self.lang
        );
        assert_eq!(s.tests_passed, 0, "{}: {s:#?}", self.lang);
        assert!(close(s.score, 75.0), "{}: {s:#?}", self.lang);
    }
}

// The same task in every language: count the vowels of a string.

fn python() -> Suite {
    Suite {
        lang: Language::Python,
        spec: CodeSpec::new(Language::Python)
            .example("count_vowels('hello')")
            .example("count_vowels('')")
            .test("assert count_vowels('hello') == 2")
            .test("assert count_vowels('AEIOU') == 5")
            .test("assert count_vowels('xyz') == 0"),
    }
}

fn rust() -> Suite {
    Suite {
        lang: Language::Rust,
        spec: CodeSpec::new(Language::Rust)
            .example("count_vowels(\"hello\")")
            .example("count_vowels(\"\")")
            .test("assert_eq!(count_vowels(\"hello\"), 2);")
            .test("assert_eq!(count_vowels(\"AEIOU\"), 5);")
            .test("assert_eq!(count_vowels(\"xyz\"), 0);"),
    }
}

fn javascript() -> Suite {
    Suite {
        lang: Language::JavaScript,
        spec: CodeSpec::new(Language::JavaScript)
            .example("countVowels('hello')")
            .example("countVowels('')")
            .test("assert.strictEqual(countVowels('hello'), 2);")
            .test("const r = countVowels('AEIOU');\nassert.strictEqual(r, 5);")
            .test("const r = countVowels('xyz');\nassert.strictEqual(r, 0);"),
    }
}

fn bash() -> Suite {
    Suite {
        lang: Language::Bash,
        spec: CodeSpec::new(Language::Bash)
            .example("count_vowels hello")
            .example("count_vowels ''")
            .test("[ \"$(count_vowels hello)\" = 2 ]")
            .test("[ \"$(count_vowels AEIOU)\" = 5 ]")
            .test("[ \"$(count_vowels 'x y z')\" = 0 ]"),
    }
}

fn julia() -> Suite {
    Suite {
        lang: Language::Julia,
        spec: CodeSpec::new(Language::Julia)
            .example("count_vowels(\"hello\")")
            .test("@test count_vowels(\"hello\") == 2")
            .test("@test count_vowels(\"AEIOU\") == 5")
            .test("@test count_vowels(\"xyz\") == 0"),
    }
}

#[rstest]
#[case::python(
    python(),
    "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)"
)]
#[case::rust(
    rust(),
    "fn count_vowels(s: &str) -> usize {\n    s.chars().filter(|c| \"aeiouAEIOU\".contains(*c)).count()\n}\n\nfn main() {\n    println!(\"{}\", count_vowels(\"hello\"));\n}"
)]
#[case::javascript(
    javascript(),
    "export function countVowels(s) {\n  return [...s].filter((c) => 'aeiouAEIOU'.includes(c)).length;\n}"
)]
#[case::javascript_arrow_const(
    javascript(),
    "const countVowels = (s) => (s.match(/[aeiou]/gi) || []).length;"
)]
#[case::bash(
    bash(),
    "count_vowels() {\n  local s=\"${1//[^aeiouAEIOU]/}\"\n  echo \"${#s}\"\n}"
)]
#[case::julia(julia(), "count_vowels(s) = count(in(\"aeiouAEIOU\"), s)")]
fn correct(#[case] suite: Suite, #[case] code: &str) {
    if !suite.available() {
        return;
    }
    let s = suite.score(&suite.fence(code));
    assert!(close(s.score, 100.0), "{}: {s:#?}", suite.lang);
    assert_eq!(s.examples_passed, s.examples_total);
    assert_eq!(s.tests_passed, s.tests_total);
}

/// Answers with no code in them.
#[derive(Clone, Copy, Debug)]
enum NoCode {
    Blank,
    Refusal,
    EmptyFence,
}

impl NoCode {
    fn answer(self, suite: &Suite) -> String {
        match self {
            NoCode::Blank => String::new(),
            NoCode::Refusal => "I'm sorry, I can't help with that.".to_string(),
            NoCode::EmptyFence => suite.fence(""),
        }
    }
}

#[rstest]
#[case::python(python())]
#[case::rust(rust())]
#[case::javascript(javascript())]
#[case::bash(bash())]
#[case::julia(julia())]
fn empty(
    #[case] suite: Suite,
    #[values(NoCode::Blank, NoCode::Refusal, NoCode::EmptyFence)] no_code: NoCode,
) {
    if !suite.available() {
        return;
    }
    let answer = no_code.answer(&suite);
    let s = suite.score(&answer);
    assert_eq!(s.score, 0.0, "{}: {answer:?}: {s:#?}", suite.lang);
    assert!(!s.parsed);
}

#[rstest]
#[case::python(python(), "def count_vowels(s)\n    return 0")]
#[case::rust(
    rust(),
    "fn count_vowels(s: &str) -> usize {\n    s.chars().filter(|c| \"aeiou\".contains(*c)).count()\n"
)]
#[case::javascript(javascript(), "function countVowels(s) {\n  return s.length +;\n}")]
#[case::bash(bash(), "count_vowels() {\n  if [ -n \"$1\" ]; then\n    echo 1\n}")]
#[case::julia(julia(), "function count_vowels(s)\n    count(in(\"aeiou\"), s)\n")]
fn syntax_error(#[case] suite: Suite, #[case] code: &str) {
    if !suite.available() {
        return;
    }
    let s = suite.score(&suite.fence(code));
    assert_eq!(s.score, 0.0, "{}: {s:#?}", suite.lang);
    assert!(!s.parsed && s.error.is_some());
    assert!(close(s.parts.parsed, 0.0));
}

#[rstest]
#[case::python(
    python(),
    "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)\n\nprint(count_vowels(None))",
    "TypeError"
)]
#[case::rust(
    rust(),
    "fn count_vowels(s: &str) -> usize { s.len() }\n\nfn main() {\n    let v: Vec<u32> = Vec::new();\n    println!(\"{}\", v[3]);\n}",
    "index out of bounds"
)]
#[case::javascript(
    javascript(),
    "function countVowels(s) { return s.length; }\nconsole.log(countVowels(undefined));",
    "TypeError"
)]
#[case::bash(
    bash(),
    "count_vowels() {\n  echo 0\n}\nthis_command_does_not_exist_litmus",
    "exit status 127"
)]
#[case::julia(
    julia(),
    "count_vowels(s) = count(in(\"aeiou\"), s)\nerror(\"boom\")",
    "boom"
)]
fn runtime_failure(#[case] suite: Suite, #[case] code: &str, #[case] expect_in_error: &str) {
    if !suite.available() {
        return;
    }
    let s = suite.score(&suite.fence(code));
    assert!(s.parsed && !s.executed, "{}: {s:#?}", suite.lang);
    assert!(close(s.score, 25.0), "{}: {s:#?}", suite.lang);
    assert!(close(s.parts.parsed, 25.0) && close(s.parts.executed, 0.0));
    let err = s.error.clone().unwrap_or_default();
    assert!(
        err.contains(expect_in_error),
        "{}: error {err:?}",
        suite.lang
    );
}

/// A solution that exits while it loads has not loaded: the parsed points
/// only, whatever status it exits with (a Bash script ending in `exit 0`
/// passed every test before).
#[rstest]
#[case::python(
    python(),
    "import sys\n\ndef count_vowels(s):\n    return 9\n\nsys.exit(0)"
)]
#[case::javascript(
    javascript(),
    "function countVowels(s) { return 9; }\nprocess.exit(0);"
)]
#[case::bash(bash(), "count_vowels() {\n  echo 9\n}\nexit 0")]
fn exiting_while_loading_is_not_loading(#[case] suite: Suite, #[case] code: &str) {
    if !suite.available() {
        return;
    }
    let s = suite.score(&suite.fence(code));
    assert!(s.parsed && !s.executed, "{}: {s:#?}", suite.lang);
    assert!(close(s.score, 25.0), "{}: {s:#?}", suite.lang);
}

/// A Bash EXIT trap that turns every exit into `exit 0` does not turn a
/// failed test into a pass.
#[test]
fn an_exit_trap_does_not_pass_failed_tests() {
    bash().assert_runs_and_fails_its_tests("count_vowels() {\n  echo 9\n}\ntrap 'exit 0' EXIT");
}

/// A Bash solution is sourced into the shell that runs each snippet: what it
/// does to that shell does not make a wrong answer pass. Functions (or
/// aliases, or disabled builtins and a `PATH` of its own) standing in for
/// what a test calls, also for the harness's own commands; a DEBUG trap that
/// skips the test's commands; the shell's arguments (the snippet's path)
/// cleared.
#[rstest]
#[case::bracket_function(
    "[() { case $2 in =) return 0;; esac; builtin [ \"$@\"; }\ntest() { return 0; }"
)]
#[case::builtin_and_unset(
    "[() { case $2 in =) return 0;; esac; command test \"$@\"; }\nbuiltin() { return 0; }\nunset() { return 0; }\nenable() { return 0; }"
)]
#[case::alias("shopt -s expand_aliases\nalias [='true ||'")]
#[case::path(
    "enable -n [ test\nmkdir -p \"$TMPDIR/b\" && printf '#!/bin/sh\\nexit 0\\n' > \"$TMPDIR/b/[\" && chmod +x \"$TMPDIR/b/[\"\nPATH=$TMPDIR/b:$PATH"
)]
#[case::debug_trap(
    "shopt -s extdebug\ntrap '[[ $BASH_COMMAND == \"[ \"*\" = \"* ]] && return 1' DEBUG"
)]
#[case::positional("set --")]
fn a_bash_solution_cannot_pass_the_tests_for_it(#[case] trick: &str) {
    bash().assert_runs_and_fails_its_tests(&format!("count_vowels() {{\n  echo 9\n}}\n{trick}"));
}

/// The harness's cleanup keeps the solution's own shell options: a `set -f`
/// (no globbing) holds in the tests.
#[test]
fn a_bash_solutions_own_set_f_stays() {
    let suite = Suite {
        lang: Language::Bash,
        spec: CodeSpec::new(Language::Bash)
            .test("[[ -o noglob ]]")
            .test("[ \"$(echo *)\" = '*' ]"),
    };
    if !suite.available() {
        return;
    }
    let s = suite.score(&suite.fence("set -f\nf() { :; }"));
    assert_eq!(s.tests_passed, 2, "{s:#?}");
}

/// Tricks against the harness that cannot be undone fail the run: the
/// token read from where the harness takes it and written where passes are
/// told (then `exit 0`), a readonly function named like a builtin, a
/// readonly `POSIXLY_CORRECT` (the harness's way back to its builtins).
#[rstest]
#[case::token("IFS= read -r t <&5; printf %s \"$t\" >&4; exit 0")]
#[case::readonly_function(
    "[() { case $2 in =) return 0;; esac; builtin [ \"$@\"; }\nreadonly -f ["
)]
#[case::readonly_posix(
    "[() { case $2 in =) return 0;; esac; builtin [ \"$@\"; }\nreadonly POSIXLY_CORRECT"
)]
fn a_bash_solution_that_locks_the_harness_out_fails(#[case] trick: &str) {
    let suite = bash();
    if !suite.available() {
        return;
    }
    let s = suite.score(&suite.fence(&format!("count_vowels() {{\n  echo 9\n}}\n{trick}")));
    assert_eq!((s.examples_passed, s.tests_passed), (0, 0), "{s:#?}");
    assert!(close(s.score, 25.0), "{s:#?}");
}

/// A JavaScript solution runs in the driver's realm; replacing what the
/// driver reports with (JSON.stringify, fs.writeSync), checks with (assert)
/// or runs the tests with (fs.readFileSync, vm.Script) does not make a
/// wrong answer pass.
#[rstest]
#[case::stringify(
    "const s = JSON.stringify;\nJSON.stringify = function (o, ...r) {\n  if (o && o.event === 'result') { o.ok = true; o.error = null; }\n  return s.call(this, o, ...r);\n};"
)]
#[case::write_sync(
    "const fs = require('fs');\nconst w = fs.writeSync;\nfs.writeSync = function (fd, data, ...r) {\n  if (fd === 3) data = String(data).replace(/\"ok\":false/g, '\"ok\":true');\n  return w.call(this, fd, data, ...r);\n};"
)]
#[case::assert_module(
    "const a = require('assert');\nfor (const k of Object.keys(a)) { try { a[k] = () => {}; } catch (_) {} }"
)]
#[case::assert_global("globalThis.assert = { strictEqual() {} };\nconsole.assert = () => {};")]
#[case::to_json(
    "Object.prototype.toJSON = function () { return this.event === 'result' ? { ...this, ok: true } : this; };"
)]
#[case::hide_the_tests(
    "const fs = require('fs');\nconst r = fs.readFileSync;\nfs.readFileSync = function (p, ...a) {\n  if (/^(tests|examples)\\//.test(String(p))) return '';\n  return r.call(this, p, ...a);\n};"
)]
#[case::script_class("require('vm').Script = class { runInThisContext() {} };")]
#[case::run_in_this_context("require('vm').Script.prototype.runInThisContext = function () {};")]
fn javascript_answers_cannot_rewrite_the_report(#[case] patch: &str) {
    javascript().assert_runs_and_fails_its_tests(&format!(
        "function countVowels(s) {{ return 9; }}\n{patch}"
    ));
}

/// A Rust solution is compiled together with the harness; its macros and
/// items do not reach the harness's own (the report, the panic catching).
#[rstest]
#[case::writeln_macro(
    "macro_rules! writeln {\n    ($w:expr, $($t:tt)*) => {\n        ::std::writeln!($w, \"{}\", ::std::format!($($t)*).replace(\"\\\"ok\\\":false\", \"\\\"ok\\\":true\"))\n    };\n}"
)]
#[case::format_macro(
    "macro_rules! format {\n    ($($t:tt)*) => { ::std::format!($($t)*).replace(\"\\\"ok\\\":false\", \"\\\"ok\\\":true\") };\n}"
)]
#[case::mod_std(
    "mod std {\n    pub use ::std::{sync, io, os, fs, thread, time, process, fmt, string, vec, boxed, option, result};\n    pub mod panic {\n        pub use ::std::panic::{set_hook, UnwindSafe};\n        pub fn catch_unwind<F: FnOnce() -> Result<(), String> + UnwindSafe>(f: F) -> ::std::thread::Result<Result<(), String>> {\n            let _ = ::std::panic::catch_unwind(f);\n            Ok(Ok(()))\n        }\n    }\n}"
)]
fn rust_answers_cannot_reach_the_harness(#[case] patch: &str) {
    rust().assert_runs_and_fails_its_tests(&format!(
        "pub fn count_vowels(s: &str) -> usize {{ 9 }}\n{patch}"
    ));
}

/// Each solution misses the upper-case vowels: the examples all run, 2 of
/// the 3 tests pass.
#[rstest]
#[case::python(
    python(),
    "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)"
)]
#[case::rust(
    rust(),
    "pub fn count_vowels(s: &str) -> usize {\n    s.chars().filter(|c| \"aeiou\".contains(*c)).count()\n}"
)]
#[case::javascript(
    javascript(),
    "function countVowels(s) {\n  return [...s].filter((c) => 'aeiou'.includes(c)).length;\n}"
)]
#[case::bash(
    bash(),
    "count_vowels() {\n  local s=\"${1//[^aeiou]/}\"\n  echo \"${#s}\"\n}"
)]
#[case::julia(julia(), "count_vowels(s) = count(in(\"aeiou\"), s)")]
fn partial(#[case] suite: Suite, #[case] code: &str) {
    if !suite.available() {
        return;
    }
    let passed = 2;
    let s = suite.score(&suite.fence(code));
    assert!(s.executed, "{}: {s:#?}", suite.lang);
    assert_eq!(s.tests_passed, passed, "{}: {s:#?}", suite.lang);
    let expected = 75.0 + 25.0 * passed as f64 / s.tests_total as f64;
    assert!(
        close(s.score, expected),
        "{}: {} != {expected}",
        suite.lang,
        s.score
    );
    assert!(close(
        s.parts.tests,
        25.0 * passed as f64 / s.tests_total as f64
    ));
    assert!(
        s.error.as_deref().unwrap_or("").contains("failed"),
        "{:?}",
        s.error
    );
}

/// An answer that does not compile: its error and stderr read as rustc
/// prints them, not as rustc's JSON diagnostics.
#[test]
fn rust_compile_errors_read_as_rustc_prints_them() {
    let suite = rust();
    if !suite.available() {
        return;
    }
    let s = score_answer(
        "```rust\nfn count_vowels(s: &str) -> usize {\n    \"none\"\n}\n```",
        &suite.spec,
        &limits(),
    );
    assert!(!s.parsed, "{s:#?}");
    assert!(
        s.error.as_deref().unwrap().contains("mismatched types"),
        "{s:#?}"
    );
    assert!(
        s.stderr.contains("error[E0308]: mismatched types"),
        "{s:#?}"
    );
    assert!(!s.stderr.contains("$message_type"), "{s:#?}");
}

#[test]
fn rust_test_that_does_not_compile_fails_alone() {
    let suite = rust();
    if !suite.available() {
        return;
    }
    let spec = suite
        .spec
        .clone()
        .test("assert_eq!(count_consonants(\"abc\"), 2);");
    let s = score_answer(
        "```rust\nfn count_vowels(s: &str) -> usize {\n    s.chars().filter(|c| \"aeiouAEIOU\".contains(*c)).count()\n}\n```",
        &spec,
        &limits(),
    );
    assert!(s.executed, "{s:#?}");
    assert_eq!((s.tests_passed, s.tests_total), (3, 4), "{s:#?}");
    let bad = s.snippets.last().unwrap();
    assert!(
        bad.error.as_deref().unwrap().contains("does not compile"),
        "{bad:?}"
    );
}

/// Without Julia installed, its cases above skip; scoring a Julia answer
/// then says so instead of failing the answer.
#[test]
fn missing_julia_is_an_infrastructure_error() {
    if Language::Julia.is_available() {
        return;
    }
    let s = julia().score("```julia\ncount_vowels(s) = count(in(\"aeiouAEIOU\"), s)\n```");
    let err = s.error.unwrap_or_default();
    assert!(err.contains("not available"), "{err}");
    assert!(s.infra_error.is_some());
}
