//! Each language: a correct solution scores 100, an empty answer 0, a syntax
//! error 0, a program failing at load time gets the parsed points only, and
//! partially passing tests get fractional points.

use litmus_sandbox::{score_answer, CodeScore, CodeSpec, Language, Limits};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn limits() -> Limits {
    Limits::default()
}

/// Scores answers for one language; skips (with a message) when the
/// language is not installed.
struct Case {
    lang: Language,
    spec: CodeSpec,
}

impl Case {
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

    fn correct(&self, code: &str) {
        if !self.available() {
            return;
        }
        let s = self.score(&self.fence(code));
        assert!(close(s.score, 100.0), "{}: {s:#?}", self.lang);
        assert_eq!(s.examples_passed, s.examples_total);
        assert_eq!(s.tests_passed, s.tests_total);
    }

    fn empty(&self) {
        if !self.available() {
            return;
        }
        for answer in ["", "I'm sorry, I can't help with that.", &self.fence("")] {
            let s = self.score(answer);
            assert_eq!(s.score, 0.0, "{}: {answer:?}: {s:#?}", self.lang);
            assert!(!s.parsed);
        }
    }

    fn syntax_error(&self, code: &str) {
        if !self.available() {
            return;
        }
        let s = self.score(&self.fence(code));
        assert_eq!(s.score, 0.0, "{}: {s:#?}", self.lang);
        assert!(!s.parsed && s.error.is_some());
        assert!(close(s.parts.parsed, 0.0));
    }

    fn runtime_failure(&self, code: &str, expect_in_error: &str) {
        if !self.available() {
            return;
        }
        let s = self.score(&self.fence(code));
        assert!(s.parsed && !s.executed, "{}: {s:#?}", self.lang);
        assert!(close(s.score, 25.0), "{}: {s:#?}", self.lang);
        assert!(close(s.parts.parsed, 25.0) && close(s.parts.executed, 0.0));
        let err = s.error.clone().unwrap_or_default();
        assert!(
            err.contains(expect_in_error),
            "{}: error {err:?}",
            self.lang
        );
    }

    /// Examples all run, `passed` of the tests pass.
    fn partial(&self, code: &str, passed: usize) {
        if !self.available() {
            return;
        }
        let s = self.score(&self.fence(code));
        assert!(s.executed, "{}: {s:#?}", self.lang);
        assert_eq!(s.tests_passed, passed, "{}: {s:#?}", self.lang);
        let expected = 75.0 + 25.0 * passed as f64 / s.tests_total as f64;
        assert!(
            close(s.score, expected),
            "{}: {} != {expected}",
            self.lang,
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
}

// ---------------------------------------------------------------- Python

fn python() -> Case {
    Case {
        lang: Language::Python,
        spec: CodeSpec::new(Language::Python)
            .example("count_vowels('hello')")
            .example("count_vowels('')")
            .test("assert count_vowels('hello') == 2")
            .test("assert count_vowels('AEIOU') == 5")
            .test("assert count_vowels('xyz') == 0"),
    }
}

#[test]
fn python_correct() {
    python().correct("def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)");
}

#[test]
fn python_empty() {
    python().empty();
}

#[test]
fn python_syntax_error() {
    python().syntax_error("def count_vowels(s)\n    return 0");
}

#[test]
fn python_runtime_failure() {
    python().runtime_failure(
        "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)\n\nprint(count_vowels(None))",
        "TypeError",
    );
}

#[test]
fn python_partial() {
    // Misses upper-case vowels: 2 of 3 tests pass.
    python().partial(
        "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)",
        2,
    );
}

// ---------------------------------------------------------------- Rust

fn rust() -> Case {
    Case {
        lang: Language::Rust,
        spec: CodeSpec::new(Language::Rust)
            .example("count_vowels(\"hello\")")
            .example("count_vowels(\"\")")
            .test("assert_eq!(count_vowels(\"hello\"), 2);")
            .test("assert_eq!(count_vowels(\"AEIOU\"), 5);")
            .test("assert_eq!(count_vowels(\"xyz\"), 0);"),
    }
}

#[test]
fn rust_correct() {
    rust().correct(
        "fn count_vowels(s: &str) -> usize {\n    s.chars().filter(|c| \"aeiouAEIOU\".contains(*c)).count()\n}\n\nfn main() {\n    println!(\"{}\", count_vowels(\"hello\"));\n}",
    );
}

#[test]
fn rust_empty() {
    rust().empty();
}

#[test]
fn rust_syntax_error() {
    rust().syntax_error("fn count_vowels(s: &str) -> usize {\n    s.chars().filter(|c| \"aeiou\".contains(*c)).count()\n");
}

#[test]
fn rust_runtime_failure() {
    rust().runtime_failure(
        "fn count_vowels(s: &str) -> usize { s.len() }\n\nfn main() {\n    let v: Vec<u32> = Vec::new();\n    println!(\"{}\", v[3]);\n}",
        "index out of bounds",
    );
}

#[test]
fn rust_partial() {
    rust().partial(
        "pub fn count_vowels(s: &str) -> usize {\n    s.chars().filter(|c| \"aeiou\".contains(*c)).count()\n}",
        2,
    );
}

#[test]
fn rust_test_that_does_not_compile_fails_alone() {
    let case = rust();
    if !case.available() {
        return;
    }
    let spec = case
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

// ---------------------------------------------------------------- JavaScript

fn javascript() -> Case {
    Case {
        lang: Language::JavaScript,
        spec: CodeSpec::new(Language::JavaScript)
            .example("countVowels('hello')")
            .example("countVowels('')")
            .test("assert.strictEqual(countVowels('hello'), 2);")
            .test("const r = countVowels('AEIOU');\nassert.strictEqual(r, 5);")
            .test("const r = countVowels('xyz');\nassert.strictEqual(r, 0);"),
    }
}

#[test]
fn javascript_correct() {
    javascript().correct(
        "export function countVowels(s) {\n  return [...s].filter((c) => 'aeiouAEIOU'.includes(c)).length;\n}",
    );
}

#[test]
fn javascript_correct_arrow_const() {
    javascript().correct("const countVowels = (s) => (s.match(/[aeiou]/gi) || []).length;");
}

#[test]
fn javascript_empty() {
    javascript().empty();
}

#[test]
fn javascript_syntax_error() {
    javascript().syntax_error("function countVowels(s) {\n  return s.length +;\n}");
}

#[test]
fn javascript_runtime_failure() {
    javascript().runtime_failure(
        "function countVowels(s) { return s.length; }\nconsole.log(countVowels(undefined));",
        "TypeError",
    );
}

#[test]
fn javascript_partial() {
    javascript().partial(
        "function countVowels(s) {\n  return [...s].filter((c) => 'aeiou'.includes(c)).length;\n}",
        2,
    );
}

// ---------------------------------------------------------------- Bash

fn bash() -> Case {
    Case {
        lang: Language::Bash,
        spec: CodeSpec::new(Language::Bash)
            .example("count_vowels hello")
            .example("count_vowels ''")
            .test("[ \"$(count_vowels hello)\" = 2 ]")
            .test("[ \"$(count_vowels AEIOU)\" = 5 ]")
            .test("[ \"$(count_vowels 'x y z')\" = 0 ]"),
    }
}

#[test]
fn bash_correct() {
    bash().correct("count_vowels() {\n  local s=\"${1//[^aeiouAEIOU]/}\"\n  echo \"${#s}\"\n}");
}

#[test]
fn bash_empty() {
    bash().empty();
}

#[test]
fn bash_syntax_error() {
    bash().syntax_error("count_vowels() {\n  if [ -n \"$1\" ]; then\n    echo 1\n}");
}

#[test]
fn bash_runtime_failure() {
    bash().runtime_failure(
        "count_vowels() {\n  echo 0\n}\nthis_command_does_not_exist_litmus",
        "exit status 127",
    );
}

#[test]
fn bash_partial() {
    bash().partial(
        "count_vowels() {\n  local s=\"${1//[^aeiou]/}\"\n  echo \"${#s}\"\n}",
        2,
    );
}

// ---------------------------------------------------------------- Julia

fn julia() -> Case {
    Case {
        lang: Language::Julia,
        spec: CodeSpec::new(Language::Julia)
            .example("count_vowels(\"hello\")")
            .test("@test count_vowels(\"hello\") == 2")
            .test("@test count_vowels(\"AEIOU\") == 5")
            .test("@test count_vowels(\"xyz\") == 0"),
    }
}

#[test]
fn julia_all_cases_or_clear_skip() {
    let case = julia();
    if !Language::Julia.is_available() {
        let s = case.score("```julia\ncount_vowels(s) = count(in(\"aeiouAEIOU\"), s)\n```");
        let err = s.error.unwrap_or_default();
        assert!(err.contains("not available"), "{err}");
        assert!(s.infra_error.is_some());
        eprintln!("skipping Julia: {err}");
        return;
    }
    case.correct("count_vowels(s) = count(in(\"aeiouAEIOU\"), s)");
    case.empty();
    case.syntax_error("function count_vowels(s)\n    count(in(\"aeiou\"), s)\n");
    case.runtime_failure(
        "count_vowels(s) = count(in(\"aeiou\"), s)\nerror(\"boom\")",
        "boom",
    );
    case.partial("count_vowels(s) = count(in(\"aeiou\"), s)", 2);
}
