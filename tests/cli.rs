//! End-to-end tests of `cargo eval` on temporary projects, as a new user
//! would use it: a crate made from scratch that depends on litmus by path.
//!
//! The projects build into this workspace's target directory (with a copy of
//! its Cargo.lock), so the litmus crates compiled for the workspace are reused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// A temporary user project: a package `userproj` with an eval target and a
/// second crate `more_evals` holding evals too.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(evals: &str, more: &str, litmus_toml: Option<&str>) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let litmus = repo().join("crates/litmus");
        let status = Command::new(env!("CARGO"))
            .args(["new", "--lib", "--quiet", "--vcs", "none", "userproj"])
            .current_dir(root)
            .status()
            .unwrap();
        assert!(status.success());
        let p = root.join("userproj");
        std::fs::create_dir_all(p.join("evals")).unwrap();
        std::fs::create_dir_all(root.join("more_evals/src")).unwrap();
        let mut manifest = std::fs::read_to_string(p.join("Cargo.toml")).unwrap();
        manifest = manifest.replace(
            "[dependencies]",
            &format!(
                "[dependencies]\nlitmus = {{ path = {:?}, default-features = false }}\nmore_evals = {{ path = \"../more_evals\" }}\n",
                litmus.display().to_string()
            ),
        );
        manifest.push_str("\n[[test]]\nname = \"evals\"\npath = \"evals/main.rs\"\nharness = false\ntest = false\n\n[workspace]\n");
        std::fs::write(p.join("Cargo.toml"), manifest).unwrap();
        std::fs::write(p.join("evals/main.rs"), evals).unwrap();
        std::fs::write(
            root.join("more_evals/Cargo.toml"),
            format!(
                "[package]\nname = \"more_evals\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nlitmus = {{ path = {:?}, default-features = false }}\n",
                litmus.display().to_string()
            ),
        )
        .unwrap();
        std::fs::write(root.join("more_evals/src/lib.rs"), more).unwrap();
        std::fs::copy(repo().join("Cargo.lock"), p.join("Cargo.lock")).unwrap();
        if let Some(t) = litmus_toml {
            std::fs::write(p.join("litmus.toml"), t).unwrap();
        }
        Project { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("userproj")
    }

    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn cargo_eval(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-eval"));
        cmd.arg("eval")
            .arg("--debug")
            .arg("--color=never")
            .args(args)
            .current_dir(self.path())
            .env("CARGO_TARGET_DIR", target_dir())
            .env_remove("CARGO_MANIFEST_DIR");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cargo_eval(args).output().unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const EVALS: &str = r#"
use litmus::prelude::*;

#[eval(tags = ["math"])]
fn add_numbers() -> TextCase {
    TextCase::new("What is 2 + 2? Answer with the number only.").reference("4").metric(Metric::regex(r"\b4\b"))
}

#[eval(tags = ["geo"])]
#[case::france("France", "Paris")]
#[case::peru("Peru", "Lima")]
fn capital(country: &str, city: &str) -> TextCase {
    TextCase::new(format!("Capital of {country}? One word.")).reference(city).metric(Metric::contains())
}

#[eval(ignore)]
fn slow_one() -> TextCase {
    TextCase::new("x").reference("y")
}

litmus::main!(more_evals);
"#;

const MORE: &str = r#"
use litmus::prelude::*;

#[eval(tags = ["extra"])]
fn from_another_crate() -> TextCase {
    TextCase::new("Say hello.").reference("hello").metric(Metric::contains())
}
"#;

/// A recorded run whose answers the replay backend serves.
fn write_recording(dir: &Path, answers: &[(&str, &str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut lines = String::new();
    for (eval, prompt, answer) in answers {
        for sample in 0..2u32 {
            let rec = serde_json::json!({
                "eval": eval, "model": "recorded", "backend": "llama", "quantization": "Q4_K_M",
                "digest": "abc", "template": "plain", "temperature": 0.0, "seed": 42, "sample": sample,
                "prompt": {"chat": [{"role": "user", "content": prompt}]},
                "response": answer, "score": null, "error": null,
                "usage": {"prompt_tokens": 10, "completion_tokens": 3},
                "timings": {"prompt_ms": 5.0, "generation_ms": 30.0, "ttft_ms": 6.0, "total_ms": 36.0}
            });
            lines.push_str(&rec.to_string());
            lines.push('\n');
        }
    }
    std::fs::write(dir.join("samples.jsonl"), lines).unwrap();
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_new_crate_lists_filters_and_runs_its_evals() {
    let p = Project::new(EVALS, MORE, None);

    // Listing: evals of the target and of the crate named in `main!`, libtest style.
    let out = p.run(&["--list"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .collect();
    assert_eq!(
        names,
        [
            "add_numbers",
            "capital::case_1_france",
            "capital::case_2_peru",
            "from_another_crate"
        ],
        "{}",
        text(&out)
    );

    // Substring filter, --exact, --skip, tags and ignored evals.
    let list = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["--list", "--format", "terse"];
        a.extend_from_slice(args);
        let out = p.run(&a);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end_matches(": test").to_string())
            .collect()
    };
    assert_eq!(
        list(&["capital"]),
        ["capital::case_1_france", "capital::case_2_peru"]
    );
    assert_eq!(list(&["peru"]), ["capital::case_2_peru"]);
    assert_eq!(list(&["--exact", "capital"]), Vec::<String>::new());
    assert_eq!(
        list(&["capital", "--skip", "france"]),
        ["capital::case_2_peru"]
    );
    assert_eq!(list(&["--tag", "extra"]), ["from_another_crate"]);
    assert_eq!(list(&["--ignored"]), ["slow_one"]);

    // Run against a recording through the replay backend.
    let rec = p.out_dir().join("recording");
    write_recording(
        &rec,
        &[
            (
                "add_numbers",
                "What is 2 + 2? Answer with the number only.",
                "4",
            ),
            (
                "capital::case_1_france",
                "Capital of France? One word.",
                "Paris.",
            ),
            (
                "capital::case_2_peru",
                "Capital of Peru? One word.",
                "Bogota",
            ),
            ("from_another_crate", "Say hello.", "hello there"),
        ],
    );
    let model = format!("replay:{}", rec.display());
    let out_dir = p.out_dir().join("results");
    let common = [
        "--model",
        model.as_str(),
        "--samples",
        "2",
        "--format",
        "json",
        "--output-dir",
    ];
    let mut args: Vec<&str> = common.to_vec();
    let out_dir_s = out_dir.display().to_string();
    args.push(&out_dir_s);
    let out = p.run(&args);
    assert!(out.status.success(), "{}", text(&out));
    let events = json_lines(&out);
    let score_of = |events: &[serde_json::Value], eval: &str| -> f64 {
        events
            .iter()
            .find(|e| e["type"] == "eval" && e["result"]["eval"] == eval)
            .unwrap_or_else(|| panic!("no result for {eval}"))["result"]["score"]["mean"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(score_of(&events, "add_numbers"), 100.0);
    assert_eq!(score_of(&events, "capital::case_1_france"), 100.0);
    assert_eq!(score_of(&events, "capital::case_2_peru"), 0.0);
    assert_eq!(score_of(&events, "from_another_crate"), 100.0);
    let summary = events
        .iter()
        .find(|e| e["type"] == "summary")
        .expect("summary")["summary"]
        .clone();
    assert_eq!(summary["generated"], 8, "first run generates every sample");

    // The samples are in the results store, one JSON line each.
    let run_dir = PathBuf::from(summary["run_dir"].as_str().unwrap());
    let stored = std::fs::read_to_string(run_dir.join("samples.jsonl")).unwrap();
    assert_eq!(stored.lines().count(), 8);

    // A rerun is answered from the cache: zero backend calls.
    let out = p.run(&args);
    assert!(out.status.success(), "{}", text(&out));
    let events = json_lines(&out);
    let summary = &events.iter().find(|e| e["type"] == "summary").unwrap()["summary"];
    assert_eq!(summary["generated"], 0, "{}", text(&out));
    assert_eq!(
        summary["backend_requests"], 0,
        "a cached rerun makes no backend call"
    );
    assert_eq!(summary["cached"], 8);
    assert_eq!(score_of(&events, "capital::case_1_france"), 100.0);

    // --no-cache goes back to the backend.
    let mut nc = args.clone();
    nc.push("--no-cache");
    let out = p.run(&nc);
    let events = json_lines(&out);
    assert_eq!(
        events.iter().find(|e| e["type"] == "summary").unwrap()["summary"]["generated"],
        8
    );

    // Human output: a line per eval and a summary table.
    let mut human = vec![
        "--model",
        model.as_str(),
        "--samples",
        "2",
        "--output-dir",
        &out_dir_s,
        "capital",
    ];
    human.push("--quiet");
    let out = p.run(&human);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Summary"), "{stdout}");
    assert!(stdout.contains("recorded"), "{stdout}");
}

#[test]
fn errors_fail_the_run_with_a_clear_message_and_config_errors_name_the_line() {
    let p = Project::new(
        EVALS,
        MORE,
        Some("[run]\nsamples = 2\ntemperatrues = [0.5]\n"),
    );
    let out = p.run(&["add_numbers"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("litmus.toml"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("temperatrues"), "{stderr}");

    // A model that cannot be opened fails its evals, with exit code 1.
    std::fs::write(p.path().join("litmus.toml"), "[run]\nsamples = 1\n").unwrap();
    let out = p.run(&["add_numbers", "--model", "replay:/nonexistent/run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("/nonexistent/run"), "{all}");

    // An unknown template is a usage error.
    let out = p.run(&["--template", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown template `nope`"));
}

const SLOW: &str = r#"
use litmus::prelude::*;

/// An imperative eval that takes a while and never calls the model.
#[eval(samples = 12)]
fn slow(ctx: &mut EvalContext) -> Result<Score, EvalError> {
    std::thread::sleep(std::time::Duration::from_millis(150));
    Ok(Score::new(f64::from(ctx.sample()) * 5.0))
}

litmus::main!();
"#;

#[test]
fn a_killed_run_resumes_with_nothing_lost_or_duplicated() {
    let p = Project::new(SLOW, MORE, None);
    let rec = p.out_dir().join("empty-recording");
    std::fs::create_dir_all(&rec).unwrap();
    std::fs::write(rec.join("samples.jsonl"), "").unwrap();
    let model = format!("replay:{}", rec.display());
    let out_dir = p.out_dir().join("results").display().to_string();
    let args = [
        "--model",
        model.as_str(),
        "--output-dir",
        out_dir.as_str(),
        "--jobs",
        "1",
        "--quiet",
    ];

    // Build first so that the kill lands mid-run, not mid-build.
    let out = p.run(&["--list"]);
    assert!(out.status.success(), "{}", text(&out));

    let mut child = p
        .cargo_eval(&args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runs = PathBuf::from(&out_dir).join("runs");
    let deadline = Instant::now() + Duration::from_secs(120);
    let samples_file = loop {
        let found = std::fs::read_dir(&runs).ok().and_then(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("samples.jsonl"))
                .find(|p| std::fs::read_to_string(p).is_ok_and(|s| s.lines().count() >= 3))
        });
        if let Some(f) = found {
            break f;
        }
        assert!(Instant::now() < deadline, "the run never stored 3 samples");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Kill the process tree: the eval target (cargo-eval's child), then cargo-eval.
    let _ = Command::new("pkill")
        .args(["-KILL", "-P", &child.id().to_string()])
        .status();
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(200));
    let before = std::fs::read_to_string(&samples_file).unwrap();
    let done_before = before.lines().filter(|l| l.ends_with('}')).count();
    assert!(
        (3..12).contains(&done_before),
        "killed too late: {done_before} samples"
    );

    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = p.run(&resume);
    assert!(out.status.success(), "{}", text(&out));
    let after = std::fs::read_to_string(&samples_file).unwrap();
    let mut samples: Vec<u64> = after
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("every stored line is whole JSON")
        })
        .map(|v| v["sample"].as_u64().unwrap())
        .collect();
    samples.sort_unstable();
    assert_eq!(
        samples,
        (0..12).collect::<Vec<u64>>(),
        "each sample exactly once"
    );
    // The samples stored before the kill were kept as they were.
    assert!(after.starts_with(
        before
            .lines()
            .take(done_before)
            .collect::<Vec<_>>()
            .join("\n")
            .as_str()
    ));
}
