//! End-to-end tests of `cargo eval` on temporary projects, as a new user
//! would use it: a crate made from scratch that depends on litmus by path.
//!
//! The projects build into this workspace's target directory (with a copy of
//! its Cargo.lock), so the litmus crates compiled for the workspace are reused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The workspace manifest's `[profile.dev]` table (with its `"*"` package
/// section) as TOML to append to a user project's manifest: built with it,
/// the project reuses the dependencies (llama.cpp among them) already
/// compiled for the workspace's tests.
fn dev_profile_sections() -> String {
    let manifest: toml::Table = std::fs::read_to_string(repo().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut dev = manifest["profile"]["dev"].clone();
    // Overrides naming workspace members do not apply there (the user's
    // project holds litmus as a dependency, which `"*"` covers) and would
    // warn where the member is not in its graph.
    if let Some(packages) = dev.get_mut("package").and_then(|p| p.as_table_mut()) {
        packages.retain(|name, _| name == "*");
    }
    let profile = toml::Table::from_iter([("dev".to_string(), dev)]);
    let table = toml::Table::from_iter([("profile".to_string(), toml::Value::Table(profile))]);
    format!("\n{}", toml::to_string(&table).unwrap())
}

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
        Self::with_features(evals, more, litmus_toml, &[])
    }

    /// Like [`Project::new`], with these features of litmus enabled (its
    /// default features stay off).
    fn with_features(
        evals: &str,
        more: &str,
        litmus_toml: Option<&str>,
        features: &[&str],
    ) -> Project {
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
                "[dependencies]\nlitmus = {{ path = {:?}, default-features = false, features = {:?} }}\nmore_evals = {{ path = \"../more_evals\" }}\n",
                litmus.display().to_string(),
                features
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

    /// Builds as this repository does: its `.cargo/config.toml` (rustflags
    /// `target-cpu=native`, `LLAMA_LIB_PROFILE=Release`) and its dev profile,
    /// so that llama.cpp, compiled for the workspace's own tests in the same
    /// target directory, is reused rather than compiled again.
    fn build_like_this_repository(&self) {
        let cargo_dir = self.path().join(".cargo");
        std::fs::create_dir_all(&cargo_dir).unwrap();
        std::fs::copy(
            repo().join(".cargo/config.toml"),
            cargo_dir.join("config.toml"),
        )
        .unwrap();
        let manifest = self.path().join("Cargo.toml");
        let mut text = std::fs::read_to_string(&manifest).unwrap();
        text.push_str(&dev_profile_sections());
        std::fs::write(manifest, text).unwrap();
    }

    /// `cargo eval ARGS` exactly as given (no `--debug --color=never` added).
    fn cargo_eval_exactly(&self, args: &[String]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-eval"));
        cmd.arg("eval")
            .args(args)
            .current_dir(self.path())
            .env("CARGO_TARGET_DIR", target_dir())
            .env_remove("CARGO_MANIFEST_DIR");
        without_user_rustflags(&mut cmd);
        cmd.output().unwrap()
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
        without_user_rustflags(&mut cmd);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cargo_eval(args).output().unwrap()
    }
}

/// A new user's environment: no rustflags of their own (whatever the
/// environment running these tests has set).
fn without_user_rustflags(cmd: &mut Command) {
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy();
        if matches!(
            &*var,
            "RUSTFLAGS"
                | "CARGO_ENCODED_RUSTFLAGS"
                | "CARGO_BUILD_RUSTFLAGS"
                | "CARGO_BUILD_TARGET"
        ) || (var.starts_with("CARGO_TARGET_") && var.ends_with("_RUSTFLAGS"))
        {
            cmd.env_remove(&*var);
        }
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

#[eval(ignore = "too slow for CI")]
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
    // The ignored eval is named with its reason, as libtest names its own.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "note: 1 ignored eval not run (`--include-ignored` runs it): slow_one (too slow for CI)"
        ),
        "{}",
        text(&out)
    );
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
    // A crate without rustflags of its own: its eval target was built for
    // this CPU, in a target directory of its own; results stay in the shared one.
    let exe = target_exe(&run_dir);
    assert!(
        exe.starts_with(target_dir().join("litmus/native")),
        "{} is not in the native build",
        exe.display()
    );
    let stored = std::fs::read_to_string(run_dir.join("samples.jsonl")).unwrap();
    assert_eq!(stored.lines().count(), 8);
    // `--list --instances`: what a run would do; resuming, less what is stored.
    let mut instances = vec!["--list", "--instances", "--model", model.as_str()];
    instances.extend(["--samples", "3", "--output-dir", &out_dir_s]);
    let out = p.run(&[&instances[..], &["--temperature", "0,0.5", "peru"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "capital::case_2_peru [recorded Q4_K_M plain t=0]: 3 samples\n\
         capital::case_2_peru [recorded Q4_K_M plain t=0.5]: 3 samples\n\
         \n2 instances, 6 samples to run\n"
    );
    let out = p.run(&[&instances[..], &["--resume", "--format", "terse"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| l.ends_with("[recorded Q4_K_M plain t=0]: 3 samples, 2 stored")),
        "{stdout}"
    );
    let out = p.run(&["--instances"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--list"));
    // Next to them, the HTML report: one self-contained file.
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(html.contains("litmus report") && html.contains("capital::case_2_peru"));

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

    // --no-cache goes back to the backend; --no-html-report writes no report.
    let mut nc = args.clone();
    nc.extend(["--no-cache", "--no-html-report"]);
    let out = p.run(&nc);
    let events = json_lines(&out);
    let summary = &events.iter().find(|e| e["type"] == "summary").unwrap()["summary"];
    assert_eq!(summary["generated"], 8);
    let other_dir = PathBuf::from(summary["run_dir"].as_str().unwrap());
    assert!(!other_dir.join("report.html").exists());

    // `cargo eval report`: the HTML report of a run, and one run against another.
    let report = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_cargo-eval"))
            .arg("eval")
            .arg("report")
            .args(args)
            .current_dir(p.path())
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .unwrap()
    };
    let (a, b) = (
        run_dir.display().to_string(),
        other_dir.display().to_string(),
    );
    let out = report(&[&b, "--html"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(other_dir.join("report.html").is_file());
    let out = report(&[&a, "--compare", &b]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Four evals: no difference could reach p < 0.05, and the verdict says so.
    assert!(stdout.contains("too few cases to tell"), "{stdout}");
    let file = p.out_dir().join("cmp.html");
    let out = report(&[&a, "--compare", &b, "--html", &file.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("(B) against run"));

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
    // The user's own --summary-json is written too (cargo eval reads the
    // target's summary from a path of its own).
    let summary_file = p.out_dir().join("mine").join("summary.json");
    std::fs::create_dir_all(summary_file.parent().unwrap()).unwrap();
    let summary_arg = summary_file.display().to_string();
    human.extend(["--summary-json", summary_arg.as_str()]);
    let out = p.run(&human);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Summary"), "{stdout}");
    assert!(stdout.contains("recorded"), "{stdout}");
    let mine: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary_file).unwrap()).unwrap();
    assert!(
        mine["configs"][0]["scored"].as_u64().unwrap() >= 2,
        "{mine}"
    );

    // A filter that matches nothing runs nothing and writes no empty run:
    // `cargo eval` fails (a mistyped filter in CI is no green run, as
    // nextest's "no tests to run"), the eval target alone passes (as libtest
    // does: `cargo test FILTER` hands the filter to every target).
    let runs = || std::fs::read_dir(out_dir.join("runs")).unwrap().count();
    let before = runs();
    let out = p.run(&[&args[..], &["no_such_eval"]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("error: no eval of the eval target matches the filters"),
        "{}",
        text(&out)
    );
    assert_eq!(runs(), before, "{}", text(&out));
    // A run's directory (`runs/` also holds the `latest` file; the order of
    // its entries is the file system's).
    let run_dir = std::fs::read_dir(out_dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|d| d.join("run.json").is_file())
        .expect("a run directory");
    let out = Command::new(target_exe(&run_dir))
        .args([&args[..], &["no_such_eval"]].concat())
        .current_dir(p.path())
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no eval matches the filters"),
        "{}",
        text(&out)
    );

    // Resuming with settings that would give other answers is refused.
    let mut other = args.clone();
    let at = other.iter().position(|a| *a == "--samples").unwrap();
    other[at + 1] = "3";
    other.push("--resume");
    let out = p.run(&other);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("was made with samples = 2, and this command asks for samples = 3"),
        "{stderr}"
    );
    // The command to resume it is the user's, not cargo eval's own flags.
    assert!(!stderr.contains("--summary-json"), "{stderr}");
    assert!(!stderr.contains("--run-dir-file"), "{stderr}");
    assert_eq!(runs(), before);

    // A run whose run.json is gone or garbled cannot be checked: refused,
    // naming the file.
    let id = std::fs::read_to_string(out_dir.join("runs").join("latest")).unwrap();
    let latest = out_dir.join("runs").join(id.trim());
    std::fs::write(latest.join("run.json"), "{\"id\": \"x\", \"sta").unwrap();
    let mut same = args.clone();
    same.push("--resume");
    let out = p.run(&same);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot check that run"), "{stderr}");
    assert!(stderr.contains("run.json"), "{stderr}");
}

/// Where `cargo eval` builds eval targets (`--print-build-plan`: nothing is
/// built): for this CPU in `<target-dir>/litmus/native` when the user set no
/// rustflags, else with the user's settings in the usual target directory.
#[test]
fn eval_targets_are_built_for_this_cpu_unless_the_user_set_rustflags() {
    let p = Project::new(EVALS, MORE, None);
    let plan = |cmd: &mut Command| -> serde_json::Value {
        let out = cmd.arg("--print-build-plan").output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", text(&out)))
    };
    let native = plan(&mut p.cargo_eval(&[]));
    let reason = native["reason"].as_str().unwrap();
    if reason.contains(".cargo/config") {
        // This machine's $CARGO_HOME sets rustflags: a new crate gets them too.
        eprintln!("SKIPPED: {reason}");
        return;
    }
    assert_eq!(
        PathBuf::from(native["target_dir"].as_str().unwrap()),
        target_dir().join("litmus/native"),
        "{native}"
    );
    let env = &native["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|kv| kv[0] == "CARGO_ENCODED_RUSTFLAGS" && kv[1] == "-Ctarget-cpu=native"),
        "{native}"
    );

    // Opting out.
    let own = plan(&mut p.cargo_eval(&["--no-native"]));
    assert!(
        own["target_dir"].is_null() && own["env"] == serde_json::json!([]),
        "{own}"
    );
    // Rustflags in the environment, even empty ones, are the user's choice.
    let own = plan(p.cargo_eval(&[]).env("RUSTFLAGS", ""));
    assert_eq!(own["reason"], "your rustflags: RUSTFLAGS is set", "{own}");
    // So are those of a .cargo/config.toml that cargo reads (this
    // repository's, copied: build.rustflags).
    p.build_like_this_repository();
    let own = plan(&mut p.cargo_eval(&[]));
    assert!(own["target_dir"].is_null(), "{own}");
    assert!(
        own["reason"]
            .as_str()
            .unwrap()
            .contains("build.rustflags in"),
        "{own}"
    );
}

/// The eval target executable of a run: `argv[0]` as its `run.json` records it.
fn target_exe(run_dir: &Path) -> PathBuf {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("run.json")).unwrap()).unwrap();
    PathBuf::from(meta["args"][0].as_str().unwrap())
}

#[test]
fn unknown_flags_are_usage_errors_and_libtest_flags_are_accepted() {
    let p = Project::new(EVALS, MORE, None);
    // `--sample` is no flag: taken for a filter it would have selected nothing
    // (`0 evals`, exit 0). Rejected before anything is built, in either place.
    for args in [
        &["--sample", "5", "--tag", "starter", "--list"][..],
        &["--list", "--", "--sample", "5"],
    ] {
        let out = p.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("unexpected argument '--sample'"),
            "{stderr}"
        );
        assert!(
            stderr.contains("a similar argument exists: '--samples'"),
            "{stderr}"
        );
    }

    // A run, to learn where its eval target is.
    let rec = p.out_dir().join("recording");
    write_recording(
        &rec,
        &[(
            "add_numbers",
            "What is 2 + 2? Answer with the number only.",
            "4",
        )],
    );
    let model = format!("replay:{}", rec.display());
    let out_dir = p.out_dir().join("results").display().to_string();
    let replay = [
        "--model",
        model.as_str(),
        "--samples",
        "1",
        "--output-dir",
        out_dir.as_str(),
        "--no-snapshots",
    ];
    let mut args = vec!["add_numbers", "--format", "json"];
    args.extend(replay);
    let out = p.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let exe = target_exe(Path::new(summary_of(&out)["run_dir"].as_str().unwrap()));

    // The eval target itself, driven as cargo test, nextest and cargo insta test drive it.
    let target = |args: &[&str]| -> Output {
        Command::new(&exe)
            .args(args)
            .current_dir(p.path())
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .unwrap()
    };
    let out = target(&["--list", "--format", "terse"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "add_numbers: test\ncapital::case_1_france: test\ncapital::case_2_peru: test\nfrom_another_crate: test\n"
    );
    let out = target(&["--list", "--format", "terse", "--ignored"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "slow_one: test\n",
        "{}",
        text(&out)
    );
    let mut nextest_run = vec!["--exact", "add_numbers", "--nocapture", "--quiet"];
    nextest_run.extend(replay);
    let mut insta_test = vec![
        "-q",
        "--color=auto",
        "--test-threads",
        "1",
        "-Zunstable-options",
        "--report-time",
        "--shuffle-seed",
        "3",
        "--logfile",
        "/dev/null",
        "--show-output",
        "--format=terse",
        "add",
    ];
    insta_test.extend(replay);
    for args in [nextest_run, insta_test] {
        let out = target(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
    }
    let out = target(&["--sample", "5", "--list"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a similar argument exists: '--samples'"),
        "{}",
        text(&out)
    );
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
    // Said before building, not after.
    assert!(!stderr.contains("Compiling"), "{stderr}");

    // A model that cannot be opened fails its evals, with exit code 1.
    std::fs::write(p.path().join("litmus.toml"), "[run]\nsamples = 1\n").unwrap();
    let out = p.run(&["add_numbers", "--model", "replay:/nonexistent/run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("/nonexistent/run"), "{all}");

    // A report that cannot be written is said before the run, naming the flag.
    let here = p.path().display().to_string();
    let out = p.run(&["add_numbers", "--junit", &here]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("--junit {here}: is a directory; name a file")),
        "{}",
        text(&out)
    );

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

/// The `cargo eval` command printed after "continue the run", as arguments.
fn printed_resume_command(stderr: &str) -> Vec<String> {
    let line = stderr
        .lines()
        .skip_while(|l| !l.contains("continue the run") && !l.contains("retry only the errored"))
        .nth(1)
        .unwrap_or_else(|| panic!("no resume command in\n{stderr}"));
    let command = line.trim().strip_prefix("cargo eval ").unwrap();
    assert!(
        !command.contains('\''),
        "quoted words: split them properly: {command}"
    );
    command.split_whitespace().map(str::to_string).collect()
}

const KILLED: &str = r#"
use litmus::prelude::*;

/// Sample 3 kills its own process with SIGKILL, as the kernel's out-of-memory
/// killer would, once the other 5 samples are stored (samples run in any
/// order, on several threads) and only the first time round (a marker file
/// remembers).
#[eval(samples = 6)]
fn killed_once(ctx: &mut EvalContext) -> Result<Score, EvalError> {
    let marker = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("killed-once");
    if ctx.sample() == 3 && !marker.exists() {
        std::fs::write(&marker, "").unwrap();
        let runs = std::path::PathBuf::from(std::env::var_os("KILLED_RUNS_DIR").unwrap());
        let stored = || {
            std::fs::read_dir(&runs).into_iter().flatten().flatten().any(|d| {
                std::fs::read_to_string(d.path().join("samples.jsonl"))
                    .is_ok_and(|s| s.lines().count() >= 5)
            })
        };
        let t = std::time::Instant::now();
        while !stored() && t.elapsed().as_secs() < 60 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        std::thread::sleep(std::time::Duration::from_secs(30));
    }
    Ok(Score::new(f64::from(ctx.sample()) * 10.0))
}

litmus::main!();
"#;

/// `evals` (`KILLED` or a variant) run once on a replay of nothing: the
/// project, the model argument, the output folder and what `cargo eval` did.
fn run_killed_once(evals: &str) -> (Project, String, String, Output) {
    let p = Project::new(evals, MORE, None);
    let rec = p.out_dir().join("empty-recording");
    std::fs::create_dir_all(&rec).unwrap();
    std::fs::write(rec.join("samples.jsonl"), "").unwrap();
    let model = format!("replay:{}", rec.display());
    let out_dir = p.out_dir().join("results").display().to_string();
    let out = p
        .cargo_eval(&["--model", &model, "--output-dir", &out_dir, "--quiet"])
        .env("KILLED_RUNS_DIR", PathBuf::from(&out_dir).join("runs"))
        .output()
        .unwrap();
    (p, model, out_dir, out)
}

#[test]
fn a_target_killed_by_a_signal_is_reported_with_the_command_that_continues() {
    let (p, model, out_dir, out) = run_killed_once(KILLED);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "exit::ERRORED\n{all}");
    assert!(p.path().join("killed-once").exists(), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error: eval target `userproj/evals` was killed by SIGKILL (killed, often by the kernel when memory runs out)"
        ),
        "{all}"
    );
    // The samples stored before the kill, counted from the run's own file.
    let runs = PathBuf::from(&out_dir).join("runs");
    let run_id = std::fs::read_to_string(runs.join("latest")).unwrap();
    let samples = runs.join(run_id.trim()).join("samples.jsonl");
    let stored = records(&std::fs::read_to_string(&samples).unwrap()).len();
    assert_eq!(
        stored, 5,
        "the other samples ran before sample 3 killed the run\n{all}"
    );
    assert!(
        stderr.contains(&format!(
            "5 samples are stored in {} (5 scored, 0 errored)",
            samples.display()
        )),
        "{all}"
    );

    // The printed command continues that run: sample 3, nothing twice.
    let command = printed_resume_command(&stderr);
    assert!(
        command
            .windows(3)
            .any(|w| w[0] == "--resume" && w[1] == "--run-id" && w[2] == run_id.trim()),
        "{command:?}"
    );
    assert!(
        command.contains(&model),
        "the same other arguments: {command:?}"
    );
    let out = p.cargo_eval_exactly(&command);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut done: Vec<u64> = records(&std::fs::read_to_string(&samples).unwrap())
        .iter()
        .map(|r| r["sample"].as_u64().unwrap())
        .collect();
    done.sort_unstable();
    assert_eq!(
        done,
        (0..6).collect::<Vec<u64>>(),
        "each sample exactly once"
    );
}

/// An eval that ends its own process with `std::process::exit(0)` mid-run is
/// an ended target, not a passing run: exit 1, the samples stored, the
/// command that continues (exit 0 once sample 3 no longer exits).
#[test]
fn a_target_that_exits_with_0_mid_run_is_reported_as_ended() {
    let evals = KILLED.replace(
        r#"let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();"#,
        "let _ = pid; std::process::exit(0);",
    );
    assert_ne!(evals, KILLED);
    let (p, _, _, out) = run_killed_once(&evals);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "exit::ERRORED\n{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error: eval target `userproj/evals` exited with code 0 before it could report"
        ),
        "{all}"
    );
    assert!(stderr.contains("(5 scored, 0 errored)"), "{all}");
    let out = p.cargo_eval_exactly(&printed_resume_command(&stderr));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Text evals on the default model, for the engine-crash test.
const CRASH_EVALS: &str = r#"
use litmus::prelude::*;

#[eval]
#[case::france("France", "Paris")]
#[case::japan("Japan", "Tokyo")]
#[case::italy("Italy", "Rome")]
fn capital(country: &str, city: &str) -> TextCase {
    TextCase::new(format!("What is the capital of {country}? Answer with the city only.")).reference(city).metric(Metric::contains())
}

#[eval]
fn opposite() -> TextCase {
    TextCase::new("What is the opposite of hot? One word.").reference("cold").metric(Metric::contains())
}

litmus::main!();
"#;

/// A crash inside llama.cpp (SIGSEGV injected into the engine worker after 3
/// decode steps) fails the samples in flight (here: all of them, the runner
/// submits every request at once), naming the signal; the run ends with exit
/// code 1 and the command that retries them, and `--resume` without the fault
/// finishes the run on a new worker.
#[test]
fn an_engine_crash_errors_the_samples_in_flight_and_resume_finishes_the_run() {
    let Some(model) = default_model_file() else {
        return;
    };
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    // `builtin:` finds the file in litmus's model cache; another file is named by path.
    let in_cache = model == home.join(".cache/litmus/models/gemma-3-270m-q4_k_m.gguf");
    let model = if in_cache {
        "builtin:gemma3-270m-q4_k_m".to_string()
    } else {
        model.display().to_string()
    };
    let p = Project::with_features(
        CRASH_EVALS,
        MORE,
        Some("[run]\nsamples = 2\ntemperatures = [0.7]\nmax_tokens = 8\njobs = 2\n"),
        &["llama"],
    );
    p.build_like_this_repository();
    let out_dir = p.out_dir().join("results").display().to_string();
    let args = [
        "--model",
        model.as_str(),
        "--output-dir",
        out_dir.as_str(),
        "--no-snapshots",
        "--format",
        "json",
    ];

    let out = p
        .cargo_eval(&args)
        .env("LITMUS_LLAMA_FAULT", "segv-after-steps:3")
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "exit::ERRORED\n{all}");
    let summary = summary_of(&out);
    let run_dir = PathBuf::from(summary["run_dir"].as_str().unwrap());
    let before = records(&std::fs::read_to_string(run_dir.join("samples.jsonl")).unwrap());
    assert_eq!(
        before.len(),
        8,
        "every sample is recorded, scored or errored\n{all}"
    );
    let errored: Vec<&serde_json::Value> = before.iter().filter(|r| r["score"].is_null()).collect();
    assert!(!errored.is_empty(), "the crash failed no sample\n{all}");
    for r in &errored {
        let e = r["error"].as_str().unwrap_or_default();
        assert!(e.contains("SIGSEGV (segmentation fault)"), "{r}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rerun with --resume"), "{all}");
    let command = printed_resume_command(&stderr);
    assert!(command.contains(&"--resume".to_string()), "{command:?}");

    // No fault this time: only the errored samples run again.
    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = p.run(&resume);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = summary_of(&out);
    assert_eq!(
        (summary["generated"].as_u64().unwrap() + summary["cached"].as_u64().unwrap()) as usize,
        errored.len(),
        "{}",
        text(&out)
    );
    for u in summary["units"].as_array().unwrap() {
        assert_eq!(
            (u["scored"].as_u64(), u["errors"].as_u64()),
            (Some(2), Some(0)),
            "{u}"
        );
    }
}

/// Evals on the default model for the reproducibility test: greedy and
/// sampled answers, and one eval whose scorer the test changes.
const REPRO_EVALS: &str = r#"
use litmus::prelude::*;

#[eval]
#[case::france("France", "Paris")]
#[case::japan("Japan", "Tokyo")]
#[case::italy("Italy", "Rome")]
fn capital(country: &str, city: &str) -> TextCase {
    TextCase::new(format!("What is the capital of {country}? Answer with the city only.")).reference(city).metric(Metric::contains())
}

#[eval]
fn answers_at_all() -> TextCase {
    TextCase::new("Name a colour.").metric(Metric::regex(PATTERN))
}

#[eval]
fn story() -> TextCase {
    TextCase::new("Tell a very short story about a cat.").reference("cat").metric(Metric::contains())
}

litmus::main!();
"#;

/// Issue 15's acceptance on the default model: a baseline recorded, then the
/// same command twice under `CI=true` — identical answers sample for sample
/// (greedy and seeded sampling, whatever the timing), exit 0 and nothing
/// written — and a real change (a scorer that no longer passes) still exits
/// 4 with nothing written.
#[test]
fn same_inputs_same_answers_and_drift_only_for_real_changes() {
    let Some(model) = default_model_file() else {
        return;
    };
    let model = model.display().to_string();
    let evals = |pattern: &str| REPRO_EVALS.replace("PATTERN", &format!("{pattern:?}"));
    let p = Project::with_features(
        &evals(""),
        MORE,
        Some("[run]\nsamples = 2\ntemperatures = [0.0, 0.8]\nmax_tokens = 16\njobs = 2\n"),
        &["llama"],
    );
    p.build_like_this_repository();
    let out_dir = p.out_dir().join("results").display().to_string();
    let args = [
        "--model",
        model.as_str(),
        "--output-dir",
        out_dir.as_str(),
        "--no-cache",
        "--no-html-report",
        "--format",
        "json",
    ];
    let snapshots = |p: &Project| -> BTreeMap<PathBuf, String> {
        walk(&p.path())
            .into_iter()
            .filter(|f| f.to_string_lossy().contains(".snap"))
            .map(|f| (f.clone(), std::fs::read_to_string(&f).unwrap()))
            .collect()
    };
    let answers =
        |out: &Output| answers_in(Path::new(summary_of(out)["run_dir"].as_str().unwrap()));

    let baseline = p
        .cargo_eval(&args)
        .env("INSTA_UPDATE", "always")
        .env_remove("CI")
        .output()
        .unwrap();
    assert_eq!(baseline.status.code(), Some(0), "{}", text(&baseline));
    let recorded = snapshots(&p);
    assert_eq!(
        recorded.len(),
        5 * 2,
        "one snapshot per eval and temperature: {recorded:?}"
    );
    let first = answers(&baseline);
    assert_eq!(first.len(), 5 * 2 * 2);
    assert!(first.values().all(|a| a != "<error>"), "{first:?}");

    for round in 1..=2 {
        let out = p.cargo_eval(&args).env("CI", "true").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "round {round}: {}", text(&out));
        assert_eq!(answers(&out), first, "round {round}: the same answers");
        assert_eq!(snapshots(&p), recorded, "round {round}: nothing written");
    }

    // A real change: the scorer no longer passes any answer.
    std::fs::write(
        p.path().join("evals/main.rs"),
        evals("^no answer matches this$"),
    )
    .unwrap();
    let out = p.cargo_eval(&args).env("CI", "true").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "exit::REGRESSED\n{}",
        text(&out)
    );
    assert!(text(&out).contains("answers_at_all"), "{}", text(&out));
    assert_eq!(snapshots(&p), recorded, "CI writes nothing");
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The default model for tests that load it: `LITMUS_TEST_MODEL`, else the
/// file in litmus's model cache; `None` (after saying so) when neither exists.
fn default_model_file() -> Option<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    let model = match std::env::var_os("LITMUS_TEST_MODEL") {
        Some(m) => PathBuf::from(m),
        None => home.join(".cache/litmus/models/gemma-3-270m-q4_k_m.gguf"),
    };
    if model.is_file() {
        Some(model)
    } else {
        eprintln!(
            "SKIPPED: no model at {} (set LITMUS_TEST_MODEL, or fetch it with `scripts/fetch-model.sh`)",
            model.display()
        );
        None
    }
}

/// A GGUF that is not there (or an unknown built-in name) is a usage error
/// naming where it was given, before anything runs: not a run whose every
/// sample errors when the model loads.
#[test]
fn a_missing_model_file_is_a_usage_error_naming_where_it_was_given() {
    let p = Project::with_features(CRASH_EVALS, MORE, None, &["llama"]);
    p.build_like_this_repository();
    let out = p.run(&["capital", "--model", "/nonexistent/m.gguf"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--model: model file /nonexistent/m.gguf not found"),
        "{stderr}"
    );
    assert!(!stderr.contains("results in"), "{stderr}");
    let out = p.run(&["capital", "--model", "builtin:nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown built-in model `builtin:nope`"),
        "{stderr}"
    );
    let config = "[run]\nsamples = 1\n\n[models.big]\nsource = \"models/big.gguf\"\n";
    std::fs::write(p.path().join("litmus.toml"), config).unwrap();
    let out = p.run(&["capital", "--model", "big"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 5"), "{stderr}");
    // A file on the command line is where the shell is, not in the
    // package's directory where the eval target runs.
    let evals_dir = p.path().join("evals");
    let out = p
        .cargo_eval(&["capital", "--model", "../nope/small.gguf"])
        .current_dir(&evals_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let expected = format!(
        "--model: model file {} not found",
        evals_dir.join("../nope/small.gguf").display()
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&expected),
        "{}",
        text(&out)
    );
    // An engine option's bad value is said before the run, at its key.
    let config = "[run]\nsamples = 1\n\n[models.small]\nsource = \"builtin:gemma3-270m-q4_k_m\"\noptions = { isolation = \"5\" }\n";
    std::fs::write(p.path().join("litmus.toml"), config).unwrap();
    let out = p.run(&["capital", "--model", "small"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "line 6: models.small.options: option isolation=5: expected process or thread"
        ),
        "{}",
        text(&out)
    );
    // Taken from the file's directory, and named so.
    let expected = format!(
        "models.big.source: model file {} not found",
        p.path().join("models/big.gguf").display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

/// Evals written in the package's own library run only when
/// `litmus::main!` names it: without that, a warning says which files hold
/// evals that do not run, and how to name the library.
#[test]
fn evals_in_the_packages_library_that_are_not_linked_are_warned_about() {
    let p = Project::new(EVALS, MORE, None);
    std::fs::write(
        p.path().join("src/lib.rs"),
        "use litmus::prelude::*;\n\n/// Not run unless named.\n#[eval]\npub fn in_the_library() -> TextCase {\n    TextCase::new(\"q\").reference(\"a\")\n}\n",
    )
    .unwrap();
    let out = p.run(&["--list"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("src/lib.rs of this package's library write #[eval] functions that this eval target does not run: name the library in `litmus::main!(userproj)`"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("in_the_library"));
    let evals = std::fs::read_to_string(p.path().join("evals/main.rs")).unwrap();
    let named = evals.replace(
        "litmus::main!(more_evals);",
        "litmus::main!(more_evals, userproj);",
    );
    std::fs::write(p.path().join("evals/main.rs"), named).unwrap();
    let out = p.run(&["--list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("in_the_library"),
        "{}",
        text(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("does not run"),
        "{}",
        text(&out)
    );
}

/// `cargo eval models` lists the models of the litmus.toml a run would read
/// (`--config`, else the one found from the current directory up), and
/// warns of a GGUF a run would refuse, naming its key.
#[test]
fn models_lists_the_configuration_a_run_reads_and_warns_of_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let gguf = dir.path().join("tiny.gguf");
    std::fs::write(&gguf, b"GGUF").unwrap();
    let config = format!(
        "[models.big]\nsource = \"nope/big.gguf\"\n\n[models.tiny]\nsource = {:?}\n",
        gguf.display().to_string()
    );
    std::fs::create_dir_all(dir.path().join("pkg/src")).unwrap();
    std::fs::write(dir.path().join("other.toml"), &config).unwrap();
    std::fs::write(
        dir.path().join("pkg/litmus.toml"),
        "[models.local]\nsource = \"builtin:gemma3-270m-q4_k_m\"\n",
    )
    .unwrap();
    let models = |cwd: &Path, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cargo-eval"))
            .args(["eval", "models"])
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (stdout, stderr) = models(
        &dir.path().join("pkg/src"),
        &["--config", "../../other.toml"],
    );
    assert!(
        stdout.contains("big ") && stdout.contains("tiny "),
        "{stdout}"
    );
    assert!(!stdout.contains("local "), "{stdout}");
    assert_eq!(
        stderr.trim(),
        // From other.toml's directory, as the path given to --config leads there.
        "warning: models.big.source: model file ../../nope/big.gguf not found"
    );
    // Without --config: the package's own litmus.toml, found from below.
    let (stdout, stderr) = models(&dir.path().join("pkg/src"), &[]);
    assert!(
        stdout.contains("local ") && !stdout.contains("big "),
        "{stdout}"
    );
    assert!(stderr.is_empty(), "{stderr}");
}

/// `cargo eval report` on bad input: a bad format writes nothing, a folder
/// that is no run says so, unknown tags and a baseline with nothing to
/// compare are warned about; JSON ends with a newline.
#[test]
fn report_checks_its_input_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let record = |eval: &str, value: f64| {
        serde_json::json!({
            "eval": eval, "tags": ["python"], "model": "m", "backend": "llama",
            "quantization": "Q4_K_M", "digest": "d", "template": "plain",
            "temperature": 0.0, "seed": 1, "sample": 0, "case_digest": "c",
            "prompt": {"completion": "p"}, "response": "x",
            "score": {"value": value, "passed": value >= 100.0, "parts": {}},
            "usage": {"prompt_tokens": 5, "completion_tokens": 3},
            "timings": {"prompt_ms": 1.0, "generation_ms": 2.0, "ttft_ms": 1.0, "total_ms": 3.0},
            "cached": false, "error": null, "at_ms": 1,
        })
        .to_string()
    };
    let lines = [record("a", 100.0), record("b", 0.0)].join("\n") + "\n";
    std::fs::write(run.join("samples.jsonl"), lines).unwrap();
    let report = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cargo-eval"))
            .args(["eval", "report"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let run_s = run.display().to_string();
    let out = report(&[&run_s, "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout.ends_with(b"}\n"), "{}", text(&out));
    let html = dir.path().join("r.html");
    let out = report(&[
        &run_s,
        "--format",
        "bogus",
        "--html",
        &html.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!html.exists(), "a bad --format writes nothing");
    let out = report(&[&dir.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("is not a run directory (it has no samples.jsonl)"),
        "{}",
        text(&out)
    );
    let out = report(&["nonexist"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no run directory `nonexist`, and no cargo project here"),
        "{}",
        text(&out)
    );
    let out = report(&[&run_s, "--tags", "nosuch", "--baseline", "Q8_0"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no eval of the run has the tag `nosuch` (its tags: python)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--baseline Q8_0: the run has one model and quantization"),
        "{stderr}"
    );
    // Runs stored where `[run] output_dir` puts them are where `report`
    // looks (it showed an older run from the default place).
    let stored = dir.path().join("stored/runs/20261207-120000-abcdef");
    std::fs::create_dir_all(&stored).unwrap();
    std::fs::copy(run.join("samples.jsonl"), stored.join("samples.jsonl")).unwrap();
    std::fs::write(
        dir.path().join("litmus.toml"),
        "[run]\noutput_dir = \"stored\"\n",
    )
    .unwrap();
    let out = report(&["20261207-120000-abcdef", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// `cargo eval quantize` runs llama.cpp's quantizer in an eval target (cargo-eval
/// itself does not link llama.cpp): the rung is a real GGUF of the asked type,
/// the output is what it was (a warning for a quantized source, the
/// litmus.toml entry on stdout), and a bad type fails before anything is built.
#[test]
fn quantize_runs_through_an_eval_target() {
    let p = Project::with_features(CRASH_EVALS, MORE, None, &["llama"]);
    p.build_like_this_repository();
    // In the dev profile, like the other tests (whose llama.cpp it reuses).
    let quantize = |args: &[&str]| -> Output {
        let mut a: Vec<String> = vec!["quantize".into(), "--debug".into()];
        a.extend(args.iter().map(|s| s.to_string()));
        p.cargo_eval_exactly(&a)
    };
    let out = quantize(&["--type", "Q4_0,Q9_Z"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown quantization type `Q9_Z` (known: "),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Compiling"),
        "nothing is built for a bad type\n{stderr}"
    );

    let Some(model) = default_model_file() else {
        return;
    };
    let rungs = p.out_dir().join("rungs");
    let rungs_s = rungs.display().to_string();
    let model_s = model.display().to_string();
    let args = [
        model_s.as_str(),
        "--type",
        "Q4_0",
        "--out-dir",
        rungs_s.as_str(),
        "--name",
        "gemma",
    ];
    let out = quantize(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rung = rungs.join("gemma-3-270m-q4_0.gguf");
    let info = litmus_gguf::describe_gguf(&rung).unwrap();
    assert_eq!(info.quantization.as_deref(), Some("Q4_0"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: the source is already quantized (Q4_K_M)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Q4_0 ") && stderr.contains("bits/weight"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[models.gemma.quantizations]"), "{stdout}");
    assert!(
        stdout.contains(&format!("Q4_0 = {:?}", rung.display().to_string())),
        "{stdout}"
    );
    // A rung that exists is not built again.
    let out = quantize(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Q4_0     exists: "),
        "{}",
        text(&out)
    );
}

/// Issue 18: two configurations at once on the CPU (`[devices] cpu_parallel
/// = 2`), the default model and a Q4_0 rung requantized from it by `cargo
/// eval quantize`. Together they complete with every sample, each answer the
/// one the configuration gives alone (on all the cores: llama.cpp's CPU
/// answers do not depend on the thread count), and the run of both takes
/// less wall time than the two runs alone (the figures are printed;
/// BENCHMARKS.md, "Configurations at once").
#[test]
fn two_configurations_run_at_once_on_the_cpu() {
    let Some(model) = default_model_file() else {
        return;
    };
    let p = Project::with_features(SERVER_EVALS, MORE, None, &["llama"]);
    p.build_like_this_repository();
    let rungs = p.out_dir().join("rungs");
    let quantize: Vec<String> = [
        "quantize",
        "--debug",
        &model.display().to_string(),
        "--type",
        "Q4_0",
        "--out-dir",
        &rungs.display().to_string(),
        "--name",
        "gemma",
    ]
    .map(String::from)
    .to_vec();
    let out = p.cargo_eval_exactly(&quantize);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rung = rungs.join("gemma-3-270m-q4_0.gguf");
    std::fs::write(
        p.path().join("litmus.toml"),
        format!(
            "[run]\nsamples = 3\ntemperatures = [0.7]\nmax_tokens = 48\nseed = 7\n\n\
             [devices]\ncpu_parallel = 2\nuse = [\"cpu\", \"CUDA7\"]\n\n\
             [models.a]\nbackend = \"llama\"\nsource = {:?}\n\n\
             [models.b]\nbackend = \"llama\"\nsource = {:?}\n",
            model.display().to_string(),
            rung.display().to_string()
        ),
    )
    .unwrap();
    let run = |name: &str, models: &[&str]| -> (Duration, PathBuf, Output) {
        let dir = p.out_dir().join(name);
        let mut args: Vec<String> = [
            "--format=json",
            "--no-cache",
            "--no-snapshots",
            "--no-html-report",
            "--output-dir",
        ]
        .map(String::from)
        .to_vec();
        args.push(dir.display().to_string());
        for m in models {
            args.extend(["-m".to_string(), m.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let t = Instant::now();
        let out = p.run(&args);
        let wall = t.elapsed();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        (wall, only_run(&dir), out)
    };
    // Built once before timing anything.
    let out = p.run(&["--list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (alone_a, dir_a, _) = run("a", &["a"]);
    let (alone_b, dir_b, _) = run("b", &["b"]);
    let (together, dir_ab, out) = run("ab", &["a", "b"]);
    // A device `[devices] use` names that is not here is said in the run too.
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("warning: [devices] use: no device `CUDA7` on this machine"),
        "{}",
        text(&out)
    );
    eprintln!(
        "configurations at once: alone a (Q4_K_M) {:.1} s, alone b (Q4_0) {:.1} s, sum {:.1} s; together {:.1} s ({:.2}x the sum)",
        alone_a.as_secs_f64(),
        alone_b.as_secs_f64(),
        (alone_a + alone_b).as_secs_f64(),
        together.as_secs_f64(),
        together.as_secs_f64() / (alone_a + alone_b).as_secs_f64()
    );

    // The plan it ran: both on the CPU in one wave, a core each; alone, all
    // the cores.
    let placement = |dir: &Path| -> serde_json::Value {
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
        meta["placement"].clone()
    };
    // Alone a configuration gets every core of this machine; together, half each.
    let cores = placement(&dir_a)["assignments"][0]["threads"]
        .as_u64()
        .expect("threads recorded");
    assert!(cores >= 1);
    let both = placement(&dir_ab);
    let assignments = both["assignments"].as_array().unwrap();
    assert_eq!(assignments.len(), 2, "{both}");
    for a in assignments {
        assert_eq!(a["placement"]["kind"], "cpu", "{both}");
        assert_eq!(a["wave"], 0, "{both}");
        assert_eq!(a["threads"], (cores / 2).max(1), "{both}");
    }
    assert_eq!(summary_of(&out)["configs"].as_array().unwrap().len(), 2);

    // Every sample of both, each the answer its configuration gives alone.
    let by_model = |dir: &Path, model: &str| -> BTreeMap<(String, u64), String> {
        records(&std::fs::read_to_string(dir.join("samples.jsonl")).unwrap())
            .iter()
            .filter(|r| r["model"] == model)
            .map(|r| {
                assert!(r["error"].is_null(), "{r}");
                (sample_key(r), r["response"].as_str().unwrap().to_string())
            })
            .collect()
    };
    for (model, alone) in [("a", &dir_a), ("b", &dir_b)] {
        let alone = by_model(alone, model);
        assert_eq!(alone.len(), 24, "8 evals × 3 samples");
        assert_eq!(by_model(&dir_ab, model), alone, "{model}");
    }
    assert_ne!(
        by_model(&dir_ab, "a"),
        by_model(&dir_ab, "b"),
        "two different rungs"
    );
    assert!(
        together < alone_a + alone_b,
        "together {together:?} is not below alone {alone_a:?} + {alone_b:?}"
    );
}

/// `cargo eval fidelity` end to end on a tiny synthetic ladder (litmus-gguf's
/// synth model: F32, the same weights in F16, and a model with other weights
/// posing as a far rung): a run answers with every rung, the fidelity job runs
/// in the eval target and writes the run's `fidelity.json` (F16 next to the
/// F32 reference, the other weights far from it), a second call comes from
/// the cache, and `cargo eval report` shows the section in text and HTML.
#[test]
fn fidelity_of_a_tiny_ladder_lands_in_the_run_and_its_report() {
    use litmus_gguf::synth::{write_synthetic_model, SynthSpec};
    let p = Project::with_features(CRASH_EVALS, MORE, None, &["llama"]);
    p.build_like_this_repository();
    let models = p.out_dir().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let write = |name: &str, f16: bool, seed: u64| -> String {
        let path = models.join(name);
        let spec = SynthSpec {
            f16,
            seed,
            ..SynthSpec::tiny()
        };
        write_synthetic_model(&path, &spec).unwrap();
        path.display().to_string()
    };
    let (f32, f16, far) = (
        write("tiny-f32.gguf", false, 7),
        write("tiny-f16.gguf", true, 7),
        write("tiny-far.gguf", false, 8),
    );
    std::fs::write(
        p.path().join("litmus.toml"),
        format!(
            "[run]\nmodels = [\"tiny\"]\nsamples = 1\ntemperatures = [0.0]\nmax_tokens = 12\n\n\
             [models.tiny]\nbackend = \"llama\"\nsource = {f32:?}\n\n\
             [models.tiny.quantizations]\nF32 = {f32:?}\nF16 = {f16:?}\nFAR = {far:?}\n"
        ),
    )
    .unwrap();
    let out_dir = p.out_dir().join("results").display().to_string();
    let out = p.run(&["--output-dir", out_dir.as_str(), "--no-snapshots"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let fidelity = |more: &[&str]| -> Output {
        let mut a: Vec<String> = ["fidelity", "--debug", "--output-dir", out_dir.as_str()]
            .map(String::from)
            .to_vec();
        a.extend(more.iter().map(|s| s.to_string()));
        p.cargo_eval_exactly(&a)
    };
    // A reference the configuration does not have: a usage error, nothing built.
    let out = fidelity(&["--reference", "Q8_0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no quantization `Q8_0` of `tiny` (known: F16, F32, FAR)"),
        "{}",
        text(&out)
    );

    let out = fidelity(&["--reference", "F32", "--threads", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Fidelity of tiny against F32"), "{stderr}");
    let runs = std::fs::read_dir(Path::new(&out_dir).join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "latest"))
        .collect::<Vec<_>>();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run_dir = &runs[0];
    let read = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(run_dir.join("fidelity.json")).unwrap()).unwrap()
    };
    let f = read();
    assert_eq!(
        (f["model"].as_str(), f["reference"].as_str()),
        (Some("tiny"), Some("F32"))
    );
    // Four evals (capital × 3, opposite), one answer each, from the run.
    assert_eq!(f["generated"], 0, "{f}");
    let sequences = f["sequences"].as_u64().unwrap();
    assert!((1..=4).contains(&sequences), "{f}");
    let scored = f["tokens_scored"].as_u64().unwrap();
    assert!(scored >= sequences, "{f}");
    let configs = f["configs"].as_array().unwrap();
    let labels: Vec<&str> = configs
        .iter()
        .map(|c| c["quantization"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["F16", "FAR"]);
    let (near, far) = (&configs[0]["overall"], &configs[1]["overall"]);
    for c in configs {
        assert_eq!(c["overall"]["tokens"].as_u64(), Some(scored), "{c}");
        assert_eq!(c["cached"], false);
        let per_eval: u64 = c["by_eval"]
            .as_object()
            .unwrap()
            .values()
            .map(|e| e["tokens"].as_u64().unwrap())
            .sum();
        assert_eq!(per_eval, scored, "{c}");
        assert!(c["by_setting"].as_object().unwrap().len() == 1, "{c}");
    }
    // The same weights in F16: almost no divergence, the same top token;
    // other weights: far.
    let kld = |s: &serde_json::Value| s["mean_kld"].as_f64().unwrap();
    assert!(kld(near) >= 0.0 && kld(near) < 1e-3, "{near}");
    assert!(near["same_top"].as_f64().unwrap() > 0.9, "{near}");
    assert!(kld(far) > 0.05 && kld(far) > 100.0 * kld(near), "{far}");
    assert!(far["p99_kld"].as_f64().unwrap() >= far["median_kld"].as_f64().unwrap());

    // Again: from the cache.
    let out = fidelity(&["--reference", "F32"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let again = read();
    for (a, b) in again["configs"].as_array().unwrap().iter().zip(configs) {
        assert_eq!(a["cached"], true);
        // The same, up to the last digit of a number read back from JSON.
        assert_eq!(a["overall"]["tokens"], b["overall"]["tokens"]);
        let (x, y) = (kld(&a["overall"]), kld(&b["overall"]));
        assert!((x - y).abs() <= 1e-12 * y, "{x} vs {y}");
    }

    // The report shows it, as text and in the HTML page.
    let html = p.out_dir().join("report.html").display().to_string();
    let run = run_dir.display().to_string();
    let out = p.cargo_eval_exactly(
        &[
            "report",
            run.as_str(),
            "--format",
            "markdown",
            "--html",
            html.as_str(),
        ]
        .map(String::from),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("### Fidelity against tiny F32"), "{md}");
    assert!(md.contains("| F16 | "), "{md}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<section id=\"fidelity\">"));
}

// ---------------------------------------------------------------------------
// Against a real llama-server (issue 9's acceptance)
// ---------------------------------------------------------------------------

/// llama.cpp's own `llama-server` serving the default model on a loopback
/// port; killed (SIGKILL) on drop.
struct LlamaServer {
    bin: PathBuf,
    model: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<std::process::Child>,
}

impl LlamaServer {
    /// The server binary and the model, or `None` (after saying why) when
    /// either is missing: `LLAMA_SERVER_BIN`, else the one built by
    /// `scripts/llama-server.sh --build-only`; `LITMUS_TEST_MODEL`, else the
    /// default model in litmus's model cache.
    fn prerequisites() -> Option<(PathBuf, PathBuf)> {
        let skip = |why: String| {
            eprintln!("SKIPPED: {why}");
            None
        };
        if std::env::var("LITMUS_SKIP_SERVER_TESTS").is_ok_and(|v| v == "1") {
            return skip("LITMUS_SKIP_SERVER_TESTS=1".into());
        }
        let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
        let bin = std::env::var_os("LLAMA_SERVER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".cache/llama-reference/bin/llama-server"));
        if !bin.is_file() {
            return skip(format!(
                "no llama-server at {} (set LLAMA_SERVER_BIN, or build it with \
                 `scripts/llama-server.sh --build-only`; scripts/test.sh does both)",
                bin.display()
            ));
        }
        let model = match std::env::var_os("LITMUS_TEST_MODEL") {
            Some(m) => PathBuf::from(m),
            None => home.join(".cache/litmus/models/gemma-3-270m-q4_k_m.gguf"),
        };
        if !model.is_file() {
            return skip(format!(
                "no model at {} (set LITMUS_TEST_MODEL, or fetch it with `scripts/fetch-model.sh`)",
                model.display()
            ));
        }
        Some((bin, model))
    }

    /// Starts the server on a free port: `-t 2`, 4 slots.
    fn start(bin: PathBuf, model: PathBuf, log_dir: &Path) -> LlamaServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = LlamaServer {
            bin,
            model,
            port,
            log: log_dir.join(format!("llama-server-{port}.log")),
            child: None,
        };
        server.spawn();
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Starts the process and waits until `/health` answers 200.
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("-m")
            .arg(&self.model)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["-t", "2", "-c", "2048", "-np", "4"])
            // llama.cpp's AMX kernel crashes llama-server at its first decode
            // of a Q4_K_M model (ggml-org/llama.cpp#20824): no repacking there.
            .args(
                std::fs::read_to_string("/proc/cpuinfo")
                    .is_ok_and(|i| i.split_whitespace().any(|f| f == "amx_int8"))
                    .then_some("--no-repack"),
            )
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            extern "C" {
                fn prctl(option: i32, ...) -> i32;
            }
            // Should this test process die without dropping the server, the
            // server dies too (PR_SET_PDEATHSIG = 1, SIGKILL = 9).
            unsafe {
                cmd.pre_exec(|| {
                    prctl(1, 9);
                    Ok(())
                });
            }
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(Some(status)) = self.child.as_mut().unwrap().try_wait() {
                panic!("llama-server exited with {status}:\n{}", self.log_tail());
            }
            if self.health() == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "llama-server not healthy after 180 s:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The status of `GET /health`, or `None` when nothing answers.
    fn health(&self) -> Option<u16> {
        use std::io::{BufRead, Write};
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        write!(
            s,
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut line = String::new();
        std::io::BufReader::new(s).read_line(&mut line).ok()?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGKILL, and waits for it.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Text evals for the server test: 8 evals (3 samples each from litmus.toml).
const SERVER_EVALS: &str = r#"
use litmus::prelude::*;

#[eval(tags = ["math"])]
fn add() -> TextCase {
    TextCase::new("What is 2 + 3? Answer with the number only.").reference("5").metric(Metric::regex(r"\b5\b"))
}

#[eval(tags = ["geo"])]
#[case::france("France", "Paris")]
#[case::japan("Japan", "Tokyo")]
#[case::italy("Italy", "Rome")]
#[case::peru("Peru", "Lima")]
fn capital(country: &str, city: &str) -> TextCase {
    TextCase::new(format!("What is the capital of {country}? Answer with the city only.")).reference(city).metric(Metric::contains())
}

#[eval]
fn sky_color() -> TextCase {
    TextCase::new("What color is a clear daytime sky? One word.").reference("blue").metric(Metric::contains())
}

#[eval]
fn opposite() -> TextCase {
    TextCase::new("What is the opposite of hot? One word.").reference("cold").metric(Metric::contains())
}

#[eval]
fn greet() -> TextCase {
    TextCase::new("Say hello.").reference("hello").metric(Metric::contains())
}

litmus::main!();
"#;

/// The records of a `samples.jsonl` (each line must be whole JSON).
/// Waits (up to 300 s) until a run under `runs` has a `samples.jsonl`
/// whose text satisfies `ready`, and returns its path; panics, with
/// `log()`, when `child` ends first or the time runs out.
fn wait_for_samples(
    runs: &Path,
    child: &mut std::process::Child,
    what: &str,
    ready: impl Fn(&str) -> bool,
    log: impl Fn() -> String,
) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let found = std::fs::read_dir(runs).ok().and_then(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("samples.jsonl"))
                .find(|p| std::fs::read_to_string(p).is_ok_and(|s| ready(&s)))
        });
        if let Some(f) = found {
            return f;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before {what}\n{}", log());
        }
        assert!(Instant::now() < deadline, "never: {what}\n{}", log());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to `secs` for `child` to exit; kills it and its children and
/// panics, with `log()`, when it hangs.
fn wait_for_exit(
    child: &mut std::process::Child,
    secs: u64,
    log: impl Fn() -> String,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = Command::new("pkill")
                .args(["-KILL", "-P", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run hung\n{}", log());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn records(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("torn line {l:?}: {e}")))
        .collect()
}

fn sample_key(r: &serde_json::Value) -> (String, u64) {
    (
        r["eval"].as_str().unwrap().to_string(),
        r["sample"].as_u64().unwrap(),
    )
}

/// The responses of the run in `dir` by (eval, temperature, sample).
fn answers_in(dir: &Path) -> BTreeMap<(String, String, u64), String> {
    records(&std::fs::read_to_string(dir.join("samples.jsonl")).unwrap())
        .iter()
        .map(|r| {
            (
                (
                    r["eval"].as_str().unwrap().to_string(),
                    r["temperature"].to_string(),
                    r["sample"].as_u64().unwrap(),
                ),
                r["response"].as_str().unwrap_or("<error>").to_string(),
            )
        })
        .collect()
}

fn summary_of(out: &Output) -> serde_json::Value {
    json_lines(out)
        .into_iter()
        .find(|e| e["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary event\n{}", text(out)))["summary"]
        .clone()
}

/// Issue 9's acceptance: `cargo eval` against llama-server, through
/// `--model openai:URL` and through a `litmus.toml` entry; killing the
/// server mid-run records per-sample errors (exit code 1, no hang, no
/// abort), and `--resume` after a restart completes the run with nothing
/// lost and nothing repeated.
#[test]
fn llama_server_killed_mid_run_then_resumed_completes_the_run() {
    let Some((bin, model)) = LlamaServer::prerequisites() else {
        return;
    };
    let t0 = Instant::now();
    let logs = tempfile::tempdir().unwrap();
    let mut server = LlamaServer::start(bin, model, logs.path());
    let url = server.url();
    // Short retries, back-offs and cool-downs: once the server is gone each
    // request gives up within a second instead of the defaults' ~30 s.
    let toml = format!(
        r#"[run]
models = ["server"]
samples = 3
max_tokens = 12

[models.server]
backend = "openai"
source = "{url}"
timeout_secs = 60
options = {{ retries = "1", backoff_ms = "50", max_backoff_ms = "200", cooldown_ms = "200", connect_timeout_secs = "2" }}
"#
    );
    let p = Project::with_features(SERVER_EVALS, MORE, Some(&toml), &["http"]);

    // Build (the first time this compiles litmus with its `http` feature for
    // the new crate) and list the evals.
    let out = p.run(&["--list", "--format", "terse"]);
    assert!(out.status.success(), "{}", text(&out));
    let evals: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect();
    assert_eq!(evals.len(), 8, "{}", text(&out));
    let expected: std::collections::BTreeSet<(String, u64)> = evals
        .iter()
        .flat_map(|e| (0..3).map(move |s| (e.clone(), s)))
        .collect();
    eprintln!(
        "[{:>5.1}s] built; llama-server on {url}",
        t0.elapsed().as_secs_f64()
    );

    // 1. The flag form: `--model openai:URL`, server up, a clean run.
    let flag_model = format!("openai:{url}");
    let flag_dir = p.out_dir().join("flag").display().to_string();
    let out = p.run(&[
        "--model",
        &flag_model,
        "--samples",
        "1",
        "--format",
        "json",
        "--output-dir",
        &flag_dir,
        "capital",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = summary_of(&out);
    assert_eq!(summary["generated"], 4, "{}", text(&out));
    let run_dir = PathBuf::from(summary["run_dir"].as_str().unwrap());
    let stored = records(&std::fs::read_to_string(run_dir.join("samples.jsonl")).unwrap());
    assert_eq!(stored.len(), 4);
    for r in &stored {
        assert_eq!(r["model"], flag_model.as_str(), "{r}");
        assert_eq!(r["backend"], "openai", "{r}");
        assert!(r["error"].is_null() && !r["score"].is_null(), "{r}");
        assert!(!r["response"].as_str().unwrap().trim().is_empty(), "{r}");
        assert!(r["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{r}");
    }
    eprintln!("[{:>5.1}s] flag form ran", t0.elapsed().as_secs_f64());

    // 2. The litmus.toml entry; the server is killed once some samples are stored.
    let out_dir = p.out_dir().join("results");
    let out_dir_s = out_dir.display().to_string();
    let args = ["--format", "json", "--output-dir", out_dir_s.as_str()];
    let stdout_path = p.out_dir().join("killed-run.stdout");
    let stderr_path = p.out_dir().join("killed-run.stderr");
    let mut child = p
        .cargo_eval(&args)
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let killed_run_text = || {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            std::fs::read_to_string(&stdout_path).unwrap_or_default(),
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        )
    };
    let scored = |text: &str| {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|r| !r["score"].is_null())
            .count()
    };
    let runs = out_dir.join("runs");
    let samples_file = wait_for_samples(
        &runs,
        &mut child,
        "4 samples were stored",
        |s| scored(s) >= 4,
        killed_run_text,
    );
    server.kill();
    eprintln!(
        "[{:>5.1}s] llama-server killed after {} stored samples",
        t0.elapsed().as_secs_f64(),
        scored(&std::fs::read_to_string(&samples_file).unwrap())
    );

    // The run goes on without the server and ends, with the "errored" code.
    let status = wait_for_exit(&mut child, 120, killed_run_text);
    eprintln!(
        "[{:>5.1}s] the run without its server ended: {status}",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(
        status.code(),
        Some(1),
        "exit::ERRORED\n{}",
        killed_run_text()
    );
    assert!(
        killed_run_text().contains("rerun with --resume"),
        "{}",
        killed_run_text()
    );
    let before_text = std::fs::read_to_string(&samples_file).unwrap();
    let before = records(&before_text);
    let mut scored_before = std::collections::BTreeMap::new();
    let mut errored_before = std::collections::BTreeSet::new();
    for (line, r) in before_text.lines().zip(&before) {
        assert_eq!(r["model"], "server", "{r}");
        let key = sample_key(r);
        assert!(expected.contains(&key), "unexpected sample {key:?}");
        if r["score"].is_null() {
            let error = r["error"].as_str().unwrap_or_else(|| panic!("{r}"));
            assert!(!error.is_empty(), "{r}");
            assert!(r["response"].is_null(), "{r}");
            errored_before.insert(key);
        } else {
            assert!(r["error"].is_null(), "{r}");
            assert!(
                scored_before
                    .insert(key.clone(), line.to_string())
                    .is_none(),
                "{key:?} stored twice"
            );
        }
    }
    assert!(scored_before.len() >= 4, "{} scored", scored_before.len());
    assert!(
        !errored_before.is_empty(),
        "the server was killed too late: nothing errored\n{}",
        killed_run_text()
    );
    // Every sample is accounted for: scored, or recorded as an error.
    let accounted: std::collections::BTreeSet<_> = scored_before
        .keys()
        .cloned()
        .chain(errored_before.iter().cloned())
        .collect();
    assert_eq!(accounted, expected, "every sample is recorded");
    assert!(
        errored_before
            .iter()
            .all(|k| !scored_before.contains_key(k)),
        "a sample both scored and errored"
    );
    assert!(
        before
            .iter()
            .filter_map(|r| r["error"].as_str())
            .any(|e| e.contains("connection failed")),
        "a connection error is recorded\n{before_text}"
    );

    // 3. Same port, new server; --resume finishes the run.
    server.spawn();
    eprintln!(
        "[{:>5.1}s] llama-server restarted on the same port",
        t0.elapsed().as_secs_f64()
    );
    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = p.run(&resume);
    eprintln!("[{:>5.1}s] resumed run ended", t0.elapsed().as_secs_f64());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = summary_of(&out);
    assert!(
        summary["generated"].as_u64().unwrap() >= 1,
        "{}",
        text(&out)
    );
    assert_eq!(
        PathBuf::from(summary["run_dir"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        samples_file.parent().unwrap().canonicalize().unwrap(),
        "the same run continued"
    );
    let after_text = std::fs::read_to_string(&samples_file).unwrap();
    assert!(
        after_text.starts_with(&before_text),
        "the stored samples are kept as they were"
    );
    let appended = records(&after_text[before_text.len()..]);
    let cached_now = appended.iter().filter(|r| r["cached"] == true).count();
    assert_eq!(
        summary["generated"].as_u64().unwrap() as usize + cached_now,
        errored_before.len(),
        "only the errored samples are generated again\n{}",
        text(&out)
    );
    let mut final_state = std::collections::BTreeMap::new();
    for r in &appended {
        let key = sample_key(r);
        assert!(
            !scored_before.contains_key(&key),
            "{key:?} was scored before the kill and is run again"
        );
        assert!(errored_before.contains(&key), "unexpected sample {key:?}");
        assert!(r["error"].is_null() && !r["score"].is_null(), "{r}");
        assert!(!r["response"].as_str().unwrap().trim().is_empty(), "{r}");
        assert!(
            final_state.insert(key.clone(), r.clone()).is_none(),
            "{key:?} twice"
        );
    }
    assert_eq!(
        final_state
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        errored_before,
        "each errored sample is scored once"
    );
    // The final state: every (eval, sample) once, with a score; the samples
    // scored before the kill unchanged.
    for (key, line) in &scored_before {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        final_state.insert(key.clone(), r);
    }
    assert_eq!(
        final_state
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        expected
    );
    assert!(final_state.values().all(|r| !r["score"].is_null()));
    assert_eq!(
        after_text
            .lines()
            .filter(|l| scored_before.values().any(|b| b == l))
            .count(),
        scored_before.len(),
        "the samples scored before the kill appear once each, unchanged"
    );
    // The summary counts every sample once, none errored.
    let units = summary["units"].as_array().unwrap();
    assert_eq!(units.len(), 8, "{}", text(&out));
    for u in units {
        assert_eq!(
            (u["scored"].as_u64(), u["errors"].as_u64()),
            (Some(3), Some(0)),
            "{u}"
        );
    }
    eprintln!(
        "[{:>5.1}s] {} scored before the kill, {} errored then scored on --resume",
        t0.elapsed().as_secs_f64(),
        scored_before.len(),
        errored_before.len()
    );

    // 4. The server down from the start: the model cannot be opened, its
    // samples are recorded without the quantization the server reports
    // once up; --resume replaces them, and the run has one configuration.
    server.kill();
    let down_dir = p.out_dir().join("down").display().to_string();
    let down = [
        "--format",
        "json",
        "--output-dir",
        down_dir.as_str(),
        "capital",
    ];
    let out = p.run(&down);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    server.spawn();
    let mut resume = down.to_vec();
    resume.push("--resume");
    let out = p.run(&resume);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = summary_of(&out);
    let configs = summary["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 1, "one configuration\n{}", text(&out));
    let units = summary["units"].as_array().unwrap();
    assert!(
        units.iter().all(|u| u["errors"] == 0 && u["scored"] == 3),
        "{}",
        text(&out)
    );
    eprintln!(
        "[{:>5.1}s] done: a model that failed to open resumed into one configuration",
        t0.elapsed().as_secs_f64()
    );
}

/// The statistics of a run's `summary.json` that merging must keep: per
/// eval and configuration, and per configuration.
fn statistics_of(run_dir: &Path) -> serde_json::Value {
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("summary.json")).unwrap()).unwrap();
    let units: Vec<serde_json::Value> = s["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            serde_json::json!([
                u["eval"],
                u["config"],
                u["score"],
                u["pass_rate"],
                u["scored"],
                u["errors"]
            ])
        })
        .collect();
    let configs: Vec<serde_json::Value> = s["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::json!([c["config"], c["score"], c["pass_at_1"], c["evals"]]))
        .collect();
    serde_json::json!([units, configs])
}

/// The one run directory under `output_dir/runs/`.
fn only_run(output_dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(output_dir.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// Issue 21: a run split over jobs with `--partition` (each listing and
/// running its share), merged by `cargo eval merge` into the run of the
/// whole plan with its outputs (summary, JUnit, Markdown and the step
/// summary, report.html) and its verdict against the score snapshots;
/// runs that disagree, or a missing partition, are refused (exit 2).
#[test]
fn partitions_run_on_several_jobs_merge_into_the_run_of_the_whole_plan() {
    let p = Project::new(EVALS, MORE, None);
    let out = p.out_dir();
    let answers = |france: &'static str| {
        [
            (
                "add_numbers",
                "What is 2 + 2? Answer with the number only.",
                "4",
            ),
            (
                "capital::case_1_france",
                "Capital of France? One word.",
                france,
            ),
            (
                "capital::case_2_peru",
                "Capital of Peru? One word.",
                "Bogota",
            ),
            ("from_another_crate", "Say hello.", "hello there"),
        ]
    };
    write_recording(&out.join("rec-a"), &answers("Paris."));
    write_recording(&out.join("rec-b"), &answers("Marseille"));
    // Named (`#recorded`), so that every job's plan names the model alike
    // wherever its recording is.
    let model = |rec: &str| format!("replay:{}#recorded", out.join(rec).display());
    let merge = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_cargo-eval"))
            .args(["eval", "merge"])
            .args(args)
            .current_dir(p.path())
            .env("CARGO_TARGET_DIR", target_dir())
            .env("CI", "true")
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap()
    };
    let s = |p: &Path| p.display().to_string();

    // A bad partition is a usage error saying what is wrong.
    let bad = p.run(&["--list", "--partition", "hash:3/2"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        text(&bad).contains("K (3) is greater than N (2)"),
        "{}",
        text(&bad)
    );
    let bad = p.run(&["--list", "--partition", "slice:1/2"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("unknown partition kind `slice`"));

    // Each partition lists its share; together they are every eval, once.
    let rec_a = model("rec-a");
    let mut listed = Vec::new();
    for k in 1..=2 {
        let spec = format!("count:{k}/2");
        let l = p.run(&["--list", "--model", &rec_a, "--partition", &spec]);
        assert!(l.status.success(), "{}", text(&l));
        let stdout = String::from_utf8_lossy(&l.stdout).to_string();
        assert!(
            stdout.contains(&format!(
                "partition count:{k}/2: 2 of 4 evals × configurations"
            )),
            "{stdout}"
        );
        listed.extend(
            stdout
                .lines()
                .filter_map(|l| l.strip_suffix(": test"))
                .map(str::to_string),
        );
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "add_numbers",
            "capital::case_1_france",
            "capital::case_2_peru",
            "from_another_crate"
        ]
    );

    // The whole plan on one machine, its snapshots accepted.
    let whole_dir = out.join("whole");
    let whole = p
        .cargo_eval(&[
            "--model",
            &rec_a,
            "--samples",
            "2",
            "--output-dir",
            &s(&whole_dir),
        ])
        .env("INSTA_UPDATE", "always")
        .env_remove("CI")
        .output()
        .unwrap();
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole));
    let whole_run = only_run(&whole_dir);

    // Two jobs, one partition each (snapshots are the merge's to compare).
    let job = |rec: &str, spec: &str, dir: &Path, extra: &[&str]| {
        let m = model(rec);
        let mut args = vec![
            "--model",
            m.as_str(),
            "--samples",
            "2",
            "--partition",
            spec,
            "--no-snapshots",
            "--output-dir",
        ];
        let d = s(dir);
        args.push(&d);
        args.extend_from_slice(extra);
        let o = p.run(&args);
        assert_eq!(o.status.code(), Some(0), "{spec}: {}", text(&o));
        only_run(dir)
    };
    let jobs = out.join("artifacts");
    let part1 = job("rec-a", "hash:1/2", &jobs.join("job-1"), &[]);
    let part2 = job("rec-a", "hash:2/2", &jobs.join("job-2"), &[]);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(part2.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["partition"]["partition"], "hash:2/2", "{meta}");
    assert_eq!(meta["partition"]["of"], 4);
    assert_eq!(meta["settings"]["params"]["seed"], 42);
    assert_eq!(meta["settings"]["snapshot_dir"], "evals/snapshots");

    // Merged (found by searching the artifacts folder): the whole run's
    // statistics and verdict, and its outputs.
    let merged = out.join("merged");
    let step = out.join("step-summary.md");
    let m = Command::new(env!("CARGO_BIN_EXE_cargo-eval"))
        .args(["eval", "merge", &s(&jobs), "--output", &s(&merged)])
        .args(["--junit", &s(&out.join("junit.xml"))])
        .args(["--markdown", &s(&out.join("summary.md"))])
        .current_dir(p.path())
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CI", "true")
        .env("GITHUB_STEP_SUMMARY", &step)
        .output()
        .unwrap();
    assert_eq!(m.status.code(), Some(0), "{}", text(&m));
    assert!(
        text(&m).contains("merged 2 runs (hash:1/2, hash:2/2): 8 samples"),
        "{}",
        text(&m)
    );
    assert_eq!(statistics_of(&merged), statistics_of(&whole_run));
    let stored = std::fs::read_to_string(merged.join("samples.jsonl")).unwrap();
    assert_eq!(stored.lines().count(), 8);
    assert!(std::fs::read_to_string(merged.join("report.html"))
        .unwrap()
        .contains("capital::case_2_peru"));
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase").count(), 4, "{junit}");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains(r"capital::case\_1\_france"), "{md}");
    assert_eq!(std::fs::read_to_string(&step).unwrap(), md);

    // The same partition twice counts once.
    let again = job("rec-a", "hash:2/2", &out.join("again"), &[]);
    let m = merge(&[
        &s(&part1),
        &s(&part2),
        &s(&again),
        "--output",
        &s(&out.join("m-again")),
        "--no-html-report",
    ]);
    assert_eq!(m.status.code(), Some(0), "{}", text(&m));
    assert!(text(&m).contains("duplicates counted once"), "{}", text(&m));
    assert_eq!(
        statistics_of(&out.join("m-again")),
        statistics_of(&whole_run)
    );

    // A regression (France now answered wrongly) fails the merge: exit 4.
    let b1 = job("rec-b", "hash:1/2", &out.join("b/job-1"), &[]);
    let b2 = job("rec-b", "hash:2/2", &out.join("b/job-2"), &[]);
    let m = merge(&[&s(&b1), &s(&b2), "--output", &s(&out.join("m-b"))]);
    assert_eq!(m.status.code(), Some(4), "exit::REGRESSED\n{}", text(&m));
    assert!(
        text(&m).contains("capital::case_1_france") && text(&m).contains("regressed"),
        "{}",
        text(&m)
    );

    // Runs made with another seed are refused, naming both values.
    let seeded = job("rec-a", "hash:2/2", &out.join("seeded"), &["--seed", "7"]);
    let m = merge(&[&s(&part1), &s(&seeded), "--output", &s(&out.join("m-c"))]);
    assert_eq!(m.status.code(), Some(2), "{}", text(&m));
    assert!(
        text(&m).contains("cannot merge runs made with different seeds: 42 in")
            && text(&m).contains(", 7 in"),
        "{}",
        text(&m)
    );
    // A missing partition too.
    let m = merge(&[&s(&part1), "--output", &s(&out.join("m-d"))]);
    assert_eq!(m.status.code(), Some(2), "{}", text(&m));
    assert!(
        text(&m).contains("partition hash:2/2 is missing"),
        "{}",
        text(&m)
    );
    assert!(!out.join("m-d").exists());
}

/// Issue 21 on the default model: the evals of the reproducibility test
/// (greedy and sampled answers) run whole, then as two partitions merged:
/// the same answers sample for sample, the same scores and intervals.
#[test]
fn partitions_on_the_default_model_merge_into_the_whole_run() {
    let Some(model) = default_model_file() else {
        return;
    };
    let model = model.display().to_string();
    let p = Project::with_features(
        &REPRO_EVALS.replace("PATTERN", "\"[a-z]\""),
        MORE,
        Some("[run]\nsamples = 2\ntemperatures = [0.0, 0.8]\nmax_tokens = 16\njobs = 2\n"),
        &["llama"],
    );
    p.build_like_this_repository();
    let out = p.out_dir();
    let run = |dir: &Path, extra: &[&str]| -> PathBuf {
        let d = dir.display().to_string();
        let mut args = vec![
            "--model",
            model.as_str(),
            "--output-dir",
            d.as_str(),
            "--no-cache",
            "--no-snapshots",
            "--no-html-report",
        ];
        args.extend_from_slice(extra);
        let o = p.run(&args);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", text(&o));
        only_run(dir)
    };
    let whole = run(&out.join("whole"), &[]);
    let parts = [
        run(&out.join("parts/1"), &["--partition", "count:1/2"]),
        run(&out.join("parts/2"), &["--partition", "count:2/2"]),
    ];
    let answers = answers_in;
    for part in &parts {
        let n = answers(part).len();
        assert!(n > 0 && n < 5 * 2 * 2, "a share of the 20 samples: {n}");
    }
    let merged = out.join("merged");
    let m = Command::new(env!("CARGO_BIN_EXE_cargo-eval"))
        .args(["eval", "merge"])
        .arg(out.join("parts"))
        .arg("--output")
        .arg(&merged)
        .args(["--no-snapshots", "--no-html-report"])
        .current_dir(p.path())
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    assert_eq!(m.status.code(), Some(0), "{}", text(&m));
    let whole_answers = answers(&whole);
    assert_eq!(whole_answers.len(), 5 * 2 * 2);
    assert!(whole_answers.values().all(|a| a != "<error>"));
    assert_eq!(answers(&merged), whole_answers, "the same answers");
    assert_eq!(statistics_of(&merged), statistics_of(&whole));
}

/// Issue 21: one model served by two llama-servers (an endpoint pool). The
/// run spreads its requests over both, survives one host disappearing
/// mid-run with every sample scored and nothing errored (the requests in
/// flight there are retried on the other host), and each stored sample names
/// the host that produced it.
#[test]
fn a_pool_of_servers_survives_a_host_disappearing_and_names_each_samples_host() {
    let Some((bin, model)) = LlamaServer::prerequisites() else {
        return;
    };
    let t0 = Instant::now();
    let logs = tempfile::tempdir().unwrap();
    let stay = LlamaServer::start(bin.clone(), model.clone(), logs.path());
    let mut leave = LlamaServer::start(bin, model, logs.path());
    let (stay_url, leave_url) = (stay.url(), leave.url());
    let toml = format!(
        r#"[run]
models = ["pool"]
samples = 3
max_tokens = 12

[models.pool]
backend = "openai"
source = "{stay_url}"
endpoints = ["{leave_url}"]
parallel = 2
timeout_secs = 60
options = {{ retries = "2", backoff_ms = "50", max_backoff_ms = "200", cooldown_ms = "200", connect_timeout_secs = "2" }}
"#
    );
    let p = Project::with_features(SERVER_EVALS, MORE, Some(&toml), &["http"]);
    let out = p.run(&["--list", "--format", "terse"]);
    assert!(out.status.success(), "{}", text(&out));
    eprintln!("[{:>5.1}s] built", t0.elapsed().as_secs_f64());

    let out_dir = p.out_dir().join("pool");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out_dir_s = out_dir.display().to_string();
    let stdout_path = p.out_dir().join("pool.stdout");
    let stderr_path = p.out_dir().join("pool.stderr");
    let mut child = p
        .cargo_eval(&["--format", "json", "--output-dir", &out_dir_s])
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let run_text = || {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            std::fs::read_to_string(&stdout_path).unwrap_or_default(),
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        )
    };
    let served_by = |text: &str, host: &str| {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|r| r["served_by"] == host)
            .count()
    };
    // Wait until the leaving host has produced two stored samples, then kill it.
    let runs = out_dir.join("runs");
    let samples_file = wait_for_samples(
        &runs,
        &mut child,
        "the second host served 2 samples",
        |s| served_by(s, &leave_url) >= 2,
        run_text,
    );
    leave.kill();
    let stored_at_kill = records(&std::fs::read_to_string(&samples_file).unwrap()).len();
    eprintln!(
        "[{:>5.1}s] {leave_url} killed after {stored_at_kill} stored samples",
        t0.elapsed().as_secs_f64()
    );
    let status = wait_for_exit(&mut child, 300, run_text);
    eprintln!(
        "[{:>5.1}s] the run ended: {status}",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(status.code(), Some(0), "{}", run_text());

    let stored = records(&std::fs::read_to_string(&samples_file).unwrap());
    assert_eq!(stored.len(), 8 * 3, "{}", run_text());
    assert!(
        stored.len() > stored_at_kill,
        "the host left after the run's last sample: nothing was left to survive"
    );
    let keys: std::collections::BTreeSet<_> = stored.iter().map(sample_key).collect();
    assert_eq!(keys.len(), 8 * 3, "each sample stored once");
    for r in &stored {
        assert!(r["error"].is_null() && !r["score"].is_null(), "{r}");
        let host = r["served_by"].as_str().unwrap_or_else(|| panic!("{r}"));
        assert!(host == stay_url || host == leave_url, "{r}");
    }
    assert!(
        stored[stored_at_kill..]
            .iter()
            .any(|r| r["served_by"] == stay_url.as_str()),
        "the remaining host served samples after {leave_url} left"
    );
    drop(stay);
}
