//! The scoring rules (and the leaderboard bugs they avoid), the public types
//! and the reusable sandbox API.

use std::str::FromStr;
use std::time::Duration;

use rstest::rstest;

use litmus_sandbox::{
    sandbox_info, score_answer, score_code, CodeScore, CodeSpec, Language, Limits, Sandbox,
    SandboxCommand, SandboxFile, SandboxKind, ScoreParts, Workspace,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn py(code: &str) -> String {
    format!("```python\n{code}\n```")
}

#[test]
fn parts_formula() {
    let p = ScoreParts::compute(true, true, 2, 4, 1, 3);
    assert!(close(p.parsed, 25.0) && close(p.executed, 25.0));
    assert!(close(p.examples, 12.5));
    assert!(close(p.tests, 25.0 / 3.0));
    assert!(close(p.total(), 50.0 + 12.5 + 25.0 / 3.0));
    // Not executed: examples and tests give nothing, even if counted.
    let p = ScoreParts::compute(true, false, 2, 2, 3, 3);
    assert!(close(p.total(), 25.0));
    // Not parsed: nothing at all.
    assert!(close(
        ScoreParts::compute(false, true, 1, 1, 1, 1).total(),
        0.0
    ));
}

#[test]
fn empty_parts_take_the_executed_value_not_nan() {
    let p = ScoreParts::compute(true, true, 0, 0, 0, 0);
    assert!(close(p.total(), 100.0));
    let p = ScoreParts::compute(true, false, 0, 0, 0, 0);
    assert!(close(p.total(), 25.0));
    let p = ScoreParts::compute(true, true, 0, 0, 1, 2);
    assert!(close(p.examples, 25.0) && close(p.tests, 12.5));
    for s in [p.parsed, p.executed, p.examples, p.tests] {
        assert!(s.is_finite());
    }
}

#[rstest]
#[case::runs("def f():\n    return 1", 100.0)]
#[case::fails_at_load("raise ValueError('x')", 25.0)]
#[case::does_not_parse("def f(:\n    pass", 0.0)]
fn spec_without_examples_or_tests_scores_on_parse_and_execute(
    #[case] code: &str,
    #[case] want: f64,
) {
    let spec = CodeSpec::new(Language::Python);
    let s = score_answer(&py(code), &spec, &Limits::default());
    assert!(s.score.is_finite(), "{s:?}");
    assert!(close(s.score, want), "{s:?}");
}

#[test]
fn a_broken_extra_block_does_not_zero_a_working_answer() {
    let spec = CodeSpec::new(Language::Python)
        .example("double(2)")
        .test("assert double(2) == 4");
    // The second block is not valid Python (a shell command mis-tagged).
    let answer = "```python\ndef double(x):\n    return 2 * x\n```\nInstall nothing, then run:\n```python\npip install nothing && python main.py\n```";
    let s = score_answer(answer, &spec, &Limits::default());
    assert!(close(s.score, 100.0), "{s:#?}");
    assert!(s.note.is_some());
}

#[test]
fn a_failing_demo_block_does_not_zero_a_working_answer() {
    let spec = CodeSpec::new(Language::Python).test("assert double(2) == 4");
    // The model's own demo uses a name it never defined.
    let answer = "```python\ndef double(x):\n    return 2 * x\n```\nExample usage:\n```python\nprint(double(undefined_value))\n```";
    let s = score_answer(answer, &spec, &Limits::default());
    assert!(close(s.score, 100.0), "{s:#?}");
    assert!(s.attempts > 1);
}

#[test]
fn a_single_failing_block_is_scored_as_is() {
    let spec = CodeSpec::new(Language::Python).test("assert double(2) == 4");
    let s = score_answer(
        &py("def double(x):\n    return 2 * x\n\nprint(double(undefined_value))"),
        &spec,
        &Limits::default(),
    );
    assert!(close(s.score, 25.0), "{s:#?}");
    assert_eq!(s.attempts, 1);
}

#[test]
fn snippets_with_any_quoting_are_run_verbatim() {
    let spec = CodeSpec::new(Language::Python)
        .example("echo('say \"hi\" and \\'bye\\'')")
        .example("echo(\"\"\"triple \"quoted\" ''' text\"\"\")")
        .test("assert echo('$HOME `x` $(rm -rf /)') == '$HOME `x` $(rm -rf /)'")
        .test("assert echo('back\\\\slash\\n') == 'back' + chr(92) + 'slash' + chr(10)")
        .test("assert echo('''multi\nline''') == 'multi' + chr(10) + 'line'")
        .test("assert echo('ünïcödé ✓') == 'ünïcödé ✓'");
    let s = score_answer(&py("def echo(s):\n    return s"), &spec, &Limits::default());
    assert!(close(s.score, 100.0), "{s:#?}");
}

#[test]
fn prefix_and_setup_are_applied() {
    let spec = CodeSpec::new(Language::Python)
        .with_prefix("def area(r):\n    \"\"\"Area of a circle of radius r.\"\"\"\n")
        .with_setup("import math")
        .test("assert abs(area(1) - math.pi) < 1e-9");
    let s = score_answer("    return math.pi * r ** 2", &spec, &Limits::default());
    assert!(close(s.score, 100.0), "{s:#?}");
    assert!(s.code.starts_with("def area(r):"));
}

#[test]
fn broken_setup_is_an_infrastructure_error() {
    let spec = CodeSpec::new(Language::Python)
        .with_setup("import (")
        .test("assert True");
    let s = score_answer(&py("x = 1"), &spec, &Limits::default());
    assert!(s.infra_error.is_some(), "{s:#?}");
    assert_eq!(s.score, 0.0);
}

/// Setup code that compiles but raises is the spec's fault too: the answer
/// is not scored (it scored 25, "did not execute", before), in every
/// shape of the spec (a load check alone, examples, tests).
#[test]
fn setup_that_raises_is_an_infrastructure_error() {
    let specs = [
        CodeSpec::new(Language::Python).with_setup("import no_such_module_xyz"),
        CodeSpec::new(Language::Python)
            .with_setup("raise ValueError('bad fixture')")
            .example("f()"),
        CodeSpec::new(Language::Python)
            .with_setup("x = 1 / 0")
            .test("assert f() == 1"),
    ];
    for spec in &specs {
        let s = score_answer(&py("def f():\n    return 1"), spec, &Limits::default());
        let err = s.infra_error.as_deref().unwrap_or_default();
        assert!(
            err.starts_with("the spec's setup code failed: ") && s.score == 0.0,
            "{s:#?}"
        );
    }
    let err = score_answer(&py("def f():\n    return 1"), &specs[1], &Limits::default())
        .infra_error
        .unwrap();
    assert!(err.contains("ValueError: bad fixture"), "{err}");
    // A setup that works still scores the answer.
    let ok = CodeSpec::new(Language::Python)
        .with_setup("K = 2")
        .test("assert f() * K == 2");
    let s = score_answer(&py("def f():\n    return 1"), &ok, &Limits::default());
    assert!(close(s.score, 100.0) && s.infra_error.is_none(), "{s:#?}");
}

#[test]
fn every_part_and_snippet_is_recorded() {
    let spec = CodeSpec::new(Language::Python)
        .example("f(1)")
        .example("f('x')")
        .test("assert f(1) == 2")
        .test("assert f(2) == 4");
    let s = score_answer(
        &py("import sys\ndef f(x):\n    print('debug', x, file=sys.stderr)\n    return x + 1"),
        &spec,
        &Limits::default(),
    );
    assert_eq!(
        (
            s.examples_passed,
            s.examples_total,
            s.tests_passed,
            s.tests_total
        ),
        (1, 2, 1, 2)
    );
    assert!(close(s.parts.examples, 12.5) && close(s.parts.tests, 12.5));
    assert!(close(s.score, s.parts.total()));
    assert_eq!(s.snippets.len(), 4);
    assert!(s.snippets[1]
        .error
        .as_deref()
        .unwrap()
        .contains("TypeError"));
    assert!(s.error.as_deref().unwrap().starts_with("example 1 failed"));
    assert!(s.stderr.contains("debug 1"), "{:?}", s.stderr);
    assert_eq!(s.language, Some(Language::Python));
    assert_eq!(s.sandbox, Some(sandbox_info().kind));
}

#[test]
fn python_snippets_get_fresh_state_imports_and_their_own_errors() {
    // Each snippet sees the solution freshly loaded; modules the code
    // imports work (the driver may import them once before forking); a
    // snippet that does not compile, and failing assertions, report their
    // own errors.
    let spec = CodeSpec::new(Language::Python)
        .test("assert words('a b') == ['a', 'b'] and len(CALLS) == 1")
        .test("assert words('x') == ['x'] and len(CALLS) == 1")
        .test("import json, collections.abc\nassert json.loads('[1]') == [1]")
        .test("assert words('a') ==")
        .test("assert words('a') == []")
        .test("assert words('b') == []")
        .test("from random import random\nassert 0 <= random() < 1");
    let s = score_answer(
        &py("import re\nfrom typing import List\nCALLS = []\n\ndef words(s: str) -> List[str]:\n    CALLS.append(s)\n    return re.findall(r'\\w+', s)"),
        &spec,
        &Limits::default(),
    );
    assert!(s.executed, "{s:#?}");
    let passed: Vec<bool> = s.snippets.iter().map(|o| o.passed).collect();
    assert_eq!(
        passed,
        [true, true, true, false, false, false, true],
        "{s:#?}"
    );
    let error = |i: usize| s.snippets[i].error.clone().unwrap_or_default();
    assert!(error(3).contains("SyntaxError"), "{}", error(3));
    for i in [4, 5] {
        assert!(
            error(i).contains("Traceback") && error(i).contains("AssertionError"),
            "{}",
            error(i)
        );
    }
}

#[test]
fn python_errors_read_like_tracebacks_without_importing_traceback() {
    // The driver formats errors itself (the `traceback` module costs more
    // CPU to import than a typical answer's tests): the frames with the
    // solution's source lines, chained exceptions with Python's separators,
    // a runaway recursion cut short, the exception's notes; and nothing
    // imports `traceback` on the way (the fourth snippet runs after three
    // failures and checks).
    let spec = CodeSpec::new(Language::Python)
        .test("parse('x')")
        .test("down(0)")
        .test("noted()")
        .test("import sys\nassert 'traceback' not in sys.modules, sorted(sys.modules)")
        .test("class W(Exception):\n    @property\n    def __cause__(self):\n        raise OSError\nraise W()");
    let s = score_answer(
        &py("def parse(s):\n    try:\n        return int(s)\n    except ValueError as e:\n        raise KeyError(s) from e\n\ndef down(n):\n    return down(n + 1)\n\ndef noted():\n    e = TypeError('bad')\n    e.add_note('see the spec')\n    raise e"),
        &spec,
        &Limits::default(),
    );
    let error = |i: usize| s.snippets[i].error.clone().unwrap_or_default();
    let chained = error(0);
    for part in [
        "Traceback (most recent call last):\n  File \"solution.py\", line 3, in parse\n    return int(s)\nValueError: invalid literal for int() with base 10: 'x'",
        "\n\nThe above exception was the direct cause of the following exception:\n\n",
        "  File \"<test 0>\", line 1, in <module>\n  File \"solution.py\", line 5, in parse\n    raise KeyError(s) from e\nKeyError: 'x'",
    ] {
        assert!(chained.contains(part), "{chained}");
    }
    assert!(!chained.contains('^'), "{chained}");
    let recursion = error(1);
    assert!(
        recursion.contains("  [Previous line repeated ")
            && recursion.ends_with("RecursionError: maximum recursion depth exceeded"),
        "{recursion}"
    );
    assert!(
        error(2).ends_with("TypeError: bad\nsee the spec"),
        "{}",
        error(2)
    );
    assert!(s.snippets[3].passed, "{s:#?}");
    // An exception that defeats the formatting is still reported, by type.
    assert_eq!(error(4), "W (its details could not be formatted)");
}

#[test]
fn name_main_block_does_not_run() {
    let spec = CodeSpec::new(Language::Python).test("assert f() == 1");
    let s = score_answer(
        &py("def f():\n    return 1\n\nif __name__ == '__main__':\n    print(f(input()))"),
        &spec,
        &Limits::default(),
    );
    assert!(close(s.score, 100.0), "{s:#?}");
}

#[test]
fn score_code_skips_extraction() {
    let spec = CodeSpec::new(Language::Python).test("assert g() == 'ok'");
    let s = score_code("def g():\n    return 'ok'", &spec, &Limits::default());
    assert!(close(s.score, 100.0), "{s:#?}");
}

#[test]
fn code_score_round_trips_through_json() {
    let spec = CodeSpec::new(Language::Python).test("assert True");
    let s = score_answer(&py("x = 1"), &spec, &Limits::default());
    let json = serde_json::to_string(&s).unwrap();
    let back: CodeScore = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for key in [
        "score",
        "parsed",
        "executed",
        "examples_passed",
        "examples_total",
        "tests_passed",
        "tests_total",
        "parts",
        "error",
        "stderr",
        "timed_out",
        "duration_ms",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["parts"]["tests"], 25.0);
}

#[rstest]
#[case::python("python", Language::Python)]
#[case::py("py", Language::Python)]
#[case::python3("Python3", Language::Python)]
#[case::rust("rust", Language::Rust)]
#[case::rs("rs", Language::Rust)]
#[case::javascript("javascript", Language::JavaScript)]
#[case::js("js", Language::JavaScript)]
#[case::node("node", Language::JavaScript)]
#[case::bash("bash", Language::Bash)]
#[case::sh("sh", Language::Bash)]
#[case::julia("julia", Language::Julia)]
#[case::jl("jl", Language::Julia)]
fn language_names(#[case] name: &str, #[case] want: Language) {
    assert_eq!(Language::from_str(name).unwrap(), want, "{name}");
}

#[test]
fn language_parsing_and_display() {
    assert!(Language::from_str("cobol").is_err());
    assert_eq!(Language::JavaScript.to_string(), "javascript");
    assert_eq!(
        serde_json::to_string(&Language::JavaScript).unwrap(),
        "\"javascript\""
    );
    assert_eq!(
        serde_json::from_str::<Language>("\"js\"").unwrap(),
        Language::JavaScript
    );
    assert_eq!(
        serde_json::from_str::<Language>("\"python\"").unwrap(),
        Language::Python
    );
    for l in Language::ALL {
        assert_eq!(Language::from_str(l.name()).unwrap(), l, "{l}");
    }
    assert!(Language::Python.is_available());
}

#[test]
fn code_spec_deserializes_with_defaults() {
    let spec: CodeSpec =
        serde_json::from_str(r#"{"language": "py", "tests": ["assert True"]}"#).unwrap();
    assert_eq!(spec.language, Language::Python);
    assert!(spec.examples.is_empty() && spec.prefix.is_none());
    let limits: Limits = serde_json::from_str("{}").unwrap();
    assert_eq!(limits, Limits::default());
}

#[test]
fn apis_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Sandbox>();
    check::<CodeSpec>();
    check::<Limits>();
    check::<CodeScore>();
    check::<Workspace>();
}

#[test]
fn scoring_from_many_threads() {
    let spec = CodeSpec::new(Language::Python)
        .example("inc(1)")
        .test("assert inc(1) == 2")
        .test("assert inc(-1) == 0");
    let scores: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let spec = &spec;
                s.spawn(move || {
                    let body = if i % 2 == 0 { "x + 1" } else { "x + 2" };
                    score_answer(
                        &py(&format!("def inc(x):\n    return {body}")),
                        spec,
                        &Limits::default(),
                    )
                    .score
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, s) in scores.iter().enumerate() {
        let want = if i % 2 == 0 { 100.0 } else { 75.0 };
        assert!(close(*s, want), "thread {i}: {s}");
    }
}

// ------------------------------------------------------------ Sandbox API

#[test]
fn sandbox_runs_commands_with_files_stdin_and_report_fd() {
    let sb = Sandbox::new();
    let files = [
        SandboxFile::new("data/input.txt", "hello from a file\n"),
        SandboxFile::new("run.sh", "cat data/input.txt\nread -r line\necho \"stdin: $line\"\necho report >&3\necho to-stderr >&2\nexit 7\n").executable(),
    ];
    let cmd = SandboxCommand::new("/bin/sh")
        .arg("run.sh")
        .stdin("piped line\n")
        .report_fd(true);
    let out = sb.run(&cmd, &files, &Limits::default()).unwrap();
    assert_eq!(out.exit_code, Some(7), "{}", out.stderr_str());
    assert_eq!(out.stdout_str(), "hello from a file\nstdin: piped line\n");
    assert_eq!(out.stderr_str(), "to-stderr\n");
    assert_eq!(String::from_utf8_lossy(&out.report), "report\n");
    assert!(!out.timed_out);
}

#[test]
fn sandbox_inputs_are_read_only_and_writable_dirs_persist() {
    let sb = Sandbox::new();
    let ws = Workspace::with_files(&[SandboxFile::new("in.txt", "x")]).unwrap();
    let cmd = SandboxCommand::new("/bin/sh")
        .args(["-c", "echo changed > in.txt; echo kept > out/result.txt; echo scratch > scratch.txt; cat scratch.txt"])
        .writable_dir("out");
    let out = sb.run_in(&ws, &cmd, &Limits::default()).unwrap();
    assert_eq!(out.stdout_str(), "scratch\n", "{}", out.stderr_str());
    assert_eq!(
        std::fs::read_to_string(ws.path().join("out/result.txt")).unwrap(),
        "kept\n"
    );
    if sb.kind() == SandboxKind::Bubblewrap {
        assert_eq!(
            std::fs::read_to_string(ws.path().join("in.txt")).unwrap(),
            "x"
        );
        assert!(!ws.path().join("scratch.txt").exists());
    }
}

#[test]
fn sandbox_enforces_the_wall_limit() {
    let sb = Sandbox::new();
    let cmd = SandboxCommand::new("/bin/sleep")
        .arg("30")
        .timeout(Duration::from_millis(300));
    let t0 = std::time::Instant::now();
    let out = sb.run(&cmd, &[], &Limits::default()).unwrap();
    assert!(out.timed_out);
    assert!(!out.success());
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
}

#[rstest]
#[case::parent("../x")]
#[case::absolute("/etc/passwd")]
#[case::empty("")]
fn sandbox_rejects_escaping_paths(#[case] bad: &str) {
    let r = Sandbox::new().run(
        &SandboxCommand::new("/bin/true"),
        &[SandboxFile::new(bad, "x")],
        &Limits::default(),
    );
    assert!(r.is_err(), "{bad:?} accepted");
}

#[test]
fn sandbox_info_is_consistent() {
    let info = sandbox_info();
    assert_eq!(Sandbox::new().kind(), info.kind);
    if info.kind == SandboxKind::Bubblewrap {
        assert!(info.network_isolated && info.filesystem_isolated && info.pid_namespace);
        assert!(info.warning.is_none() || info.running_as_root);
    } else {
        assert!(info.warning.is_some());
    }
}
