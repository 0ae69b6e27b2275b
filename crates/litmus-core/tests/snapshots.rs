//! Score snapshots end to end: a baseline is recorded through insta, then an
//! injected improvement and an injected regression are caught (a `.snap.new`
//! locally; nothing written and a failure with `CI=true`), and a change
//! within noise is not.
//!
//! Then the same through the runner, with a backend whose answers to one
//! eval flip between identical runs: measured with `--repeat`, that eval is
//! reported flaky and CI passes; a real regression of another eval still
//! fails with exit code 4.
//!
//! insta reads `CI`, `INSTA_UPDATE`, `INSTA_FORCE_PASS`, … from the
//! environment, once per process. So each step runs [`child_step`] in a
//! child process of this test binary, with those variables set explicitly
//! and every other `INSTA_*` variable removed: the tests pass the same with
//! or without `CI=true` in the environment, under `cargo insta test`, and in
//! parallel. `cargo insta` itself is exercised when it is installed
//! (`cargo install cargo-insta --locked`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod common;

use litmus_core::base::backend::{
    Backend, BackendError, FinishReason, Generation, GenerationRequest, ModelInfo, SharedBackend,
};
use litmus_core::base::exit;
use litmus_core::base::model::ModelSpec;
use litmus_core::eval::case::Case;
use litmus_core::eval::registry::{EntryKind, EvalEntry};
use litmus_core::eval::score::Score;
use litmus_core::output::ci::exit_code;
use litmus_core::output::snapshot::{
    record, Drift, SnapshotBody, SnapshotOptions, SnapshotOutcome,
};
use litmus_core::run::runner::execute;
use litmus_core::run::store::Cache;
use litmus_core::run::store::{ConfigKey, SampleRecord};
use litmus_core::run::summary::{RunSummary, Speed, UnitSummary};
use litmus_metrics::stats::Summary;
use serde::{Deserialize, Serialize};

const STEP_VAR: &str = "LITMUS_SNAPSHOT_TEST_STEP";

/// What a child process records.
#[derive(Serialize, Deserialize)]
struct Step {
    manifest_dir: PathBuf,
    tolerance: Option<f64>,
    summary: RunSummary,
    out: PathBuf,
    /// How many times to record (in this one process).
    times: u32,
}

/// Runs one step when started by [`run_step`]; passes trivially otherwise.
#[test]
fn child_step() {
    let Ok(spec) = std::env::var(STEP_VAR) else {
        return;
    };
    let step: Step = serde_json::from_str(&spec).unwrap();
    let mut opts = SnapshotOptions::for_target(&step.manifest_dir, "evals/main.rs");
    opts.tolerance = step.tolerance;
    let mut outcomes = Vec::new();
    for _ in 0..step.times {
        outcomes = record(&step.summary, &opts);
    }
    std::fs::write(&step.out, serde_json::to_vec(&outcomes).unwrap()).unwrap();
}

/// A throwaway crate with an eval target, as a user's would be.
fn fixture() -> tempfile::TempDir {
    // Not a hidden directory: cargo-insta skips those.
    let dir = tempfile::Builder::new()
        .prefix("litmus-snapshots-")
        .tempdir()
        .unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("evals")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"snapfixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [[test]]\nname = \"evals\"\npath = \"evals/main.rs\"\nharness = false\ntest = false\n\n\
         [workspace]\n",
    )
    .unwrap();
    std::fs::write(root.join("src/lib.rs"), "").unwrap();
    std::fs::write(root.join("evals/main.rs"), "fn main() {}\n").unwrap();
    dir
}

fn config(temperature: f32) -> ConfigKey {
    ConfigKey {
        model: "tiny".into(),
        quantization: Some("Q4_K_M".into()),
        template: "plain".into(),
        temperature_bits: temperature.to_bits(),
    }
}

/// One eval under one configuration with the given mean and CI half-width.
fn unit(eval: &str, config: ConfigKey, mean: f64, half_width: f64) -> UnitSummary {
    UnitSummary {
        eval: eval.into(),
        tags: vec![],
        config,
        scored: 10,
        errors: 0,
        score: Summary {
            n: 10,
            mean,
            std_dev: half_width,
            std_err: half_width / 2.0,
            ci_low: mean - half_width,
            ci_high: mean + half_width,
        },
        samples: Vec::new(),
        pass_rate: mean / 100.0,
        parts: [("tests".to_string(), mean / 2.0)].into_iter().collect(),
        speed: Speed {
            prompt_tokens: 100,
            completion_tokens: 50,
            prompt_tps: Some(1234.5),
            generation_tps: Some(42.0),
            ttft_ms: Some(12.0),
            throughput_tps: None,
            uncounted: 0,
        },
        first_error: None,
        min_score: None,
        wall_ms: 1500.0,
        repeats: None,
    }
}

/// A run with `geo::capital::france` at `mean` (t=0.7) and a steady
/// `math::add` (t=0).
fn run(mean: f64, half_width: f64) -> RunSummary {
    RunSummary {
        run_id: format!("run-{mean}"),
        run_dir: "target/litmus/runs/x".into(),
        units: vec![
            unit("geo::capital::france", config(0.7), mean, half_width),
            unit("math::add", config(0.0), 50.0, 5.0),
        ],
        configs: vec![],
        load_errors: vec![],
        wall_ms: 3000.0,
        generated: 20,
        cached: 0,
        backend_requests: 20,
        peak_rss_bytes: None,
        time: None,
    }
}

const FRANCE: &str = "geo__capital__france@tiny-Q4_K_M-plain-t0.7";
const ADD: &str = "math__add@tiny-Q4_K_M-plain-t0";

/// Records `summary` in a child process with `env` (CI is always set).
fn run_step(
    ws: &Path,
    summary: &RunSummary,
    env: &[(&str, &str)],
    tolerance: Option<f64>,
) -> Vec<SnapshotOutcome> {
    run_step_times(ws, summary, env, tolerance, 1)
}

/// [`run_step`], recording `times` times in the one child process.
fn run_step_times(
    ws: &Path,
    summary: &RunSummary,
    env: &[(&str, &str)],
    tolerance: Option<f64>,
    times: u32,
) -> Vec<SnapshotOutcome> {
    assert!(env.iter().any(|(k, _)| *k == "CI"), "set CI explicitly");
    let out = ws.join("outcomes.json");
    let _ = std::fs::remove_file(&out);
    let step = Step {
        manifest_dir: ws.to_path_buf(),
        tolerance,
        summary: summary.clone(),
        out: out.clone(),
        times,
    };
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child_step", "--exact", "--nocapture", "--test-threads=1"]);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("INSTA_") || k == "TF_BUILD" || k == "CI" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.env(STEP_VAR, serde_json::to_string(&step).unwrap());
    let output = cmd.output().unwrap();
    let text = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child step failed\n{text}");
    let outcomes: Vec<SnapshotOutcome> =
        serde_json::from_slice(&std::fs::read(&out).unwrap_or_else(|e| panic!("{e}\n{text}")))
            .unwrap();
    outcomes
}

fn snap_dir(ws: &Path) -> PathBuf {
    ws.join("evals/snapshots")
}

fn snap(ws: &Path, name: &str) -> PathBuf {
    snap_dir(ws).join(format!("{name}.snap"))
}

fn pending(ws: &Path, name: &str) -> PathBuf {
    snap_dir(ws).join(format!("{name}.snap.new"))
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn body_of(p: &Path) -> SnapshotBody {
    let text = read(p).unwrap();
    let (_, body) = text.split_once("\n---\n").unwrap();
    SnapshotBody::parse(body).unwrap()
}

fn find<'a>(outcomes: &'a [SnapshotOutcome], name: &str) -> &'a SnapshotOutcome {
    outcomes.iter().find(|o| o.name == name).unwrap()
}

/// `cargo insta ...` in `ws`, if cargo-insta is installed.
fn cargo_insta(ws: &Path, args: &[&str]) -> Option<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let probe = Command::new(&cargo).args(["insta", "--version"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let mut cmd = Command::new(&cargo);
    cmd.arg("insta")
        .args(args)
        .arg("--manifest-path")
        .arg(ws.join("Cargo.toml"))
        .current_dir(ws)
        .env("CI", "false");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("INSTA_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "cargo insta {args:?} failed:\n{text}");
    Some(text)
}

fn note_no_cargo_insta() {
    println!(
        "note: cargo-insta is not installed (cargo install cargo-insta --locked); \
         skipping the `cargo insta` checks"
    );
}

/// Accepts every pending snapshot: with `cargo insta accept` when installed,
/// else by recording again with `INSTA_UPDATE=always`.
fn accept(ws: &Path, summary: &RunSummary) {
    if cargo_insta(ws, &["accept"]).is_none() {
        note_no_cargo_insta();
        let o = run_step(
            ws,
            summary,
            &[("CI", "false"), ("INSTA_UPDATE", "always")],
            None,
        );
        assert!(o.iter().all(|o| !o.failed && o.error.is_none()), "{o:#?}");
        for n in [FRANCE, ADD] {
            let _ = std::fs::remove_file(pending(ws, n));
        }
    }
}

#[test]
fn drift_is_judged_statistically() {
    let ws = fixture();
    let ws = ws.path();
    let local = [("CI", "false")];
    let ci = [("CI", "true")];

    // 1. First run, locally: both snapshots are new and pending review.
    let baseline = run(70.0, 5.0);
    let o = run_step(ws, &baseline, &local, None);
    assert_eq!(o.len(), 2);
    for name in [FRANCE, ADD] {
        let f = find(&o, name);
        assert_eq!(f.drift, Drift::New, "{f:#?}");
        assert!(f.pending_written && f.failed && !f.updated, "{f:#?}");
        assert!(pending(ws, name).is_file() && !snap(ws, name).exists());
    }
    // No baseline, nothing to regress from: the run passes.
    assert_eq!(exit_code(&baseline, &o), exit::OK);
    if let Some(listed) = cargo_insta(ws, &["pending-snapshots"]) {
        assert!(listed.contains(FRANCE) && listed.contains(ADD), "{listed}");
    }
    // With CI=true a new snapshot is a failure and nothing is written.
    std::fs::remove_dir_all(snap_dir(ws)).unwrap();
    let o = run_step(ws, &baseline, &ci, None);
    assert!(o
        .iter()
        .all(|o| o.failed && !o.pending_written && o.drift == Drift::New));
    assert!(!snap_dir(ws).exists());
    let _ = run_step(ws, &baseline, &local, None);
    accept(ws, &baseline);
    for name in [FRANCE, ADD] {
        assert!(snap(ws, name).is_file() && !pending(ws, name).exists());
    }
    let france = read(&snap(ws, FRANCE)).unwrap();
    let b = body_of(&snap(ws, FRANCE));
    assert_eq!((b.score, b.ci95, b.samples), (70.0, (65.0, 75.0), 10));
    assert_eq!(b.eval, "geo::capital::france");
    // Volatile data lives in the metadata, not in the body.
    let (meta, body) = france.split_once("\n---\n").unwrap();
    assert!(
        meta.contains("run_id: run-70") && meta.contains("generation_tps"),
        "{meta}"
    );
    assert!(meta.contains("evals/main.rs"), "input_file: {meta}");
    assert!(!body.contains("run-70") && !body.contains("tps") && !body.contains("1500"));

    // 2. Noise: 70 → 73 with CIs ±5 and ±5 (tolerance ±7.1). Locally and on CI
    //    nothing is written and nothing fails.
    let noisy = run(73.0, 5.0);
    for env in [&local, &ci] {
        let o = run_step(ws, &noisy, env, None);
        let f = find(&o, FRANCE);
        assert_eq!(f.drift, Drift::Unchanged, "{f:#?}");
        assert_eq!(f.baseline, Some(70.0));
        assert!((f.tolerance.unwrap() - 50f64.sqrt()).abs() < 1e-9);
        assert!(!f.failed && !f.pending_written && !f.updated);
        assert_eq!(exit_code(&noisy, &o), exit::OK);
        assert_eq!(read(&snap(ws, FRANCE)).unwrap(), france, "untouched");
        assert!(!pending(ws, FRANCE).exists());
    }
    if let Some(listed) = cargo_insta(ws, &["pending-snapshots"]) {
        assert!(listed.contains("No pending snapshots"), "{listed}");
    }

    // 3. Regression: 70 → 50. On CI: a failure, nothing written, exit 4.
    let worse = run(50.0, 5.0);
    let o = run_step(ws, &worse, &ci, None);
    let f = find(&o, FRANCE);
    assert_eq!(
        f.drift,
        Drift::Regressed {
            from: 70.0,
            to: 50.0
        }
    );
    assert!(f.failed && !f.pending_written && !f.updated, "{f:#?}");
    assert!(
        f.message().contains("regressed 70.0 → 50.0"),
        "{}",
        f.message()
    );
    assert_eq!(find(&o, ADD).drift, Drift::Unchanged);
    assert_eq!(exit_code(&worse, &o), exit::REGRESSED);
    assert!(!pending(ws, FRANCE).exists());
    assert_eq!(read(&snap(ws, FRANCE)).unwrap(), france);
    // Locally: a .snap.new for review, the snapshot untouched.
    let o = run_step(ws, &worse, &local, None);
    let f = find(&o, FRANCE);
    assert!(f.failed && f.pending_written && !f.updated, "{f:#?}");
    assert_eq!(body_of(&pending(ws, FRANCE)).score, 50.0);
    assert_eq!(read(&snap(ws, FRANCE)).unwrap(), france);
    assert!(!pending(ws, ADD).exists());
    if let Some(listed) = cargo_insta(ws, &["pending-snapshots", "--as-json"]) {
        assert!(listed.contains(FRANCE) && !listed.contains(ADD), "{listed}");
    }
    // A later run within noise clears the stale pending snapshot (insta's cleanup).
    let o = run_step(ws, &noisy, &local, None);
    assert_eq!(find(&o, FRANCE).drift, Drift::Unchanged);
    assert!(!pending(ws, FRANCE).exists());
    // Under `cargo insta test` (INSTA_FORCE_PASS): written for review, no failure.
    let o = run_step(
        ws,
        &worse,
        &[("CI", "false"), ("INSTA_FORCE_PASS", "1")],
        None,
    );
    let f = find(&o, FRANCE);
    assert!(!f.failed && f.pending_written, "{f:#?}");
    assert_eq!(exit_code(&worse, &o), exit::OK);
    if cargo_insta(ws, &["reject"]).is_none() {
        std::fs::remove_file(pending(ws, FRANCE)).unwrap();
    }
    assert!(!pending(ws, FRANCE).exists());
    assert_eq!(read(&snap(ws, FRANCE)).unwrap(), france);
    // INSTA_UPDATE=no: never written, fails.
    let o = run_step(ws, &worse, &[("CI", "false"), ("INSTA_UPDATE", "no")], None);
    assert!(find(&o, FRANCE).failed && !pending(ws, FRANCE).exists());
    // INSTA_PENDING_DIR: the pending snapshot goes to a mirror tree.
    let mirror = ws.join("pending");
    let env = [
        ("CI", "false"),
        ("INSTA_PENDING_DIR", mirror.to_str().unwrap()),
    ];
    let o = run_step(ws, &worse, &env, None);
    let f = find(&o, FRANCE);
    assert!(f.failed && f.pending_written, "{f:#?}");
    assert!(mirror
        .join("evals/snapshots")
        .join(format!("{FRANCE}.snap.new"))
        .is_file());
    assert!(!pending(ws, FRANCE).exists());
    std::fs::remove_dir_all(&mirror).unwrap();

    // 4. Improvement: 70 → 90. On CI a failure (exit 5); locally pending.
    let better = run(90.0, 5.0);
    let o = run_step(ws, &better, &ci, None);
    let f = find(&o, FRANCE);
    assert_eq!(
        f.drift,
        Drift::Improved {
            from: 70.0,
            to: 90.0
        }
    );
    assert!(f.failed && !f.pending_written);
    assert_eq!(exit_code(&better, &o), exit::SNAPSHOT_CHANGED);
    assert!(!pending(ws, FRANCE).exists());
    let o = run_step(ws, &better, &local, None);
    assert!(find(&o, FRANCE).pending_written);
    accept(ws, &better);
    assert_eq!(body_of(&snap(ws, FRANCE)).score, 90.0);
    assert!(!pending(ws, FRANCE).exists());
    let o = run_step(ws, &better, &ci, None);
    assert!(o.iter().all(|o| o.drift == Drift::Unchanged && !o.failed));

    // 5. A fixed tolerance: 90 → 92 is within the CIs but not within ±1.
    let slightly = run(92.0, 5.0);
    let o = run_step(ws, &slightly, &ci, None);
    assert_eq!(find(&o, FRANCE).drift, Drift::Unchanged);
    let o = run_step(ws, &slightly, &ci, Some(1.0));
    let f = find(&o, FRANCE);
    assert_eq!(
        f.drift,
        Drift::Improved {
            from: 90.0,
            to: 92.0
        }
    );
    assert_eq!(f.tolerance, Some(1.0));
    assert!(f.failed);

    // 6. INSTA_UPDATE=always takes a regression in place: reported, not failed.
    let o = run_step(
        ws,
        &worse,
        &[("CI", "true"), ("INSTA_UPDATE", "always")],
        None,
    );
    let f = find(&o, FRANCE);
    assert_eq!(
        f.drift,
        Drift::Regressed {
            from: 90.0,
            to: 50.0
        }
    );
    assert!(f.updated && !f.failed && !f.pending_written, "{f:#?}");
    assert_eq!(body_of(&snap(ws, FRANCE)).score, 50.0);
    assert!(
        !find(&o, ADD).updated,
        "unchanged snapshots are not rewritten"
    );
}

/// Snapshots of a summary built from sample records: explicit names, no
/// auto-numbering when recorded twice, model metadata in `info`, errored
/// evals left alone.
#[test]
fn records_a_built_summary() {
    let ws = fixture();
    let ws = ws.path();
    let sample = |eval: &str, i: u32, value: f64, error: bool| SampleRecord {
        eval: eval.into(),
        model: "tiny".into(),
        backend: "test".into(),
        digest: "sha256:abc".into(),
        template: "expert".into(),
        temperature: 0.0,
        seed: 1,
        sample: i,
        response: Some("x".into()),
        score: (!error).then(|| Score {
            value,
            passed: value >= 100.0,
            parts: BTreeMap::new(),
            details: None,
        }),
        error: error.then(|| "boom".to_string()),
        ..SampleRecord::default()
    };
    let mut records = Vec::new();
    for i in 0..4 {
        records.push(sample(
            "a::ok",
            i,
            if i % 2 == 0 { 100.0 } else { 0.0 },
            false,
        ));
        records.push(sample("a::broken", i, 0.0, i == 0));
    }
    let mut models = BTreeMap::new();
    models.insert(
        ("tiny".to_string(), None),
        ModelInfo {
            name: "tiny".into(),
            backend: "test".into(),
            digest: "sha256:abc".into(),
            ..Default::default()
        },
    );
    let summary = RunSummary::build(
        "r1",
        "d",
        &records,
        &BTreeMap::new(),
        &models,
        &BTreeMap::new(),
    );
    let env = [("CI", "false"), ("INSTA_UPDATE", "always")];
    let o = run_step(ws, &summary, &env, None);
    let ok = find(&o, "a__ok@tiny-expert-t0");
    assert_eq!(ok.drift, Drift::New);
    assert!(ok.updated && !ok.failed, "{ok:#?}");
    let broken = find(&o, "a__broken@tiny-expert-t0");
    assert!(matches!(broken.drift, Drift::Skipped { .. }));
    assert!(!broken.path.exists());
    let text = read(&ok.path).unwrap();
    assert!(
        text.contains("digest: \"sha256:abc\"") || text.contains("digest: sha256:abc"),
        "{text}"
    );
    assert!(
        text.contains("score: 50.0") && text.contains("pass_rate: 0.5"),
        "{text}"
    );
    // Recording twice in one process keeps the same explicit names.
    let again = run_step_times(ws, &summary, &env, None, 2);
    assert_eq!(
        o.iter().map(|o| &o.name).collect::<Vec<_>>(),
        again.iter().map(|o| &o.name).collect::<Vec<_>>()
    );
    let files: Vec<String> = std::fs::read_dir(snap_dir(ws))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["a__ok@tiny-expert-t0.snap"]);
}

/// A model served by a server that batches by timing, at temperature 0: the
/// capital question always gets `capital` (all samples alike), the coin
/// question "heads" and "tails" on alternate requests, starting with `coin`.
struct Server {
    info: ModelInfo,
    capital: &'static str,
    coin: [&'static str; 2],
    coin_requests: AtomicUsize,
}

impl Backend for Server {
    fn model(&self) -> &ModelInfo {
        &self.info
    }
    fn generate(&self, r: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        let text = if r.prompt.to_text().contains("coin") {
            self.coin[self.coin_requests.fetch_add(1, Ordering::SeqCst) % 2]
        } else {
            self.capital
        };
        Ok(r.samples
            .iter()
            .map(|&sample| Generation {
                sample,
                text: text.into(),
                finish: FinishReason::Stop,
                usage: Default::default(),
                timings: Default::default(),
                served_by: None,
            })
            .collect())
    }
}

fn capital() -> Case {
    common::exact_case("Capital of France?", "Paris")
}

/// The capital eval with another scorer: wants the answer with a full stop.
fn capital_pedantic() -> Case {
    common::exact_case("Capital of France?", "Paris.")
}

fn coin() -> Case {
    common::exact_case("Toss a coin: heads or tails?", "heads")
}

static CAPITAL: EvalEntry = entry!("capital", EntryKind::Declarative(capital));
static CAPITAL_PEDANTIC: EvalEntry = entry!("capital", EntryKind::Declarative(capital_pedantic));
static COIN: EvalEntry = entry!("coin", EntryKind::Declarative(coin));

const CAPITAL_SNAP: &str = "capital@m-plain-t0";
const COIN_SNAP: &str = "coin@m-plain-t0";

/// One run of `capital` (or `capital_eval` in its place) and `coin`, 3
/// samples at temperature 0, `--repeat repeat`, without the response cache.
fn served(
    capital_eval: &'static EvalEntry,
    capital: &'static str,
    coin: [&'static str; 2],
    repeat: u32,
) -> RunSummary {
    let backend: SharedBackend = Arc::new(Server {
        info: ModelInfo {
            name: "m".into(),
            backend: "openai".into(),
            ..Default::default()
        },
        capital,
        coin,
        coin_requests: AtomicUsize::new(0),
    });
    let opener = move |_: &ModelSpec| Ok(backend.clone());
    let mut plan = common::plan(vec![capital_eval, &COIN], 3, "{{task}}", &[0.0]);
    plan.repeat = repeat;
    let dir = tempfile::tempdir().unwrap();
    let store = common::store(dir.path(), "r");
    let mut collect = common::Collect::default();
    let out = execute(&plan, &store, &Cache::disabled(), &opener, &mut collect);
    RunSummary::build(
        "r",
        "d",
        &out.records,
        &BTreeMap::new(),
        &out.models,
        &out.walls,
    )
}

/// Every file in the snapshot directory, with its contents.
fn snapshot_files(ws: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(snap_dir(ws))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Records `summary` with `CI=true`; asserts that nothing was written and
/// returns the outcomes and the exit code.
fn on_ci(ws: &Path, summary: &RunSummary) -> (Vec<SnapshotOutcome>, i32) {
    let before = snapshot_files(ws);
    let o = run_step(ws, summary, &[("CI", "true")], None);
    assert_eq!(snapshot_files(ws), before, "CI wrote nothing: {o:#?}");
    assert!(o
        .iter()
        .all(|o| !o.updated && !o.pending_written && o.error.is_none()));
    let code = exit_code(summary, &o);
    (o, code)
}

const HEADS_FIRST: [&str; 2] = ["heads", "tails"];
const TAILS_FIRST: [&str; 2] = ["tails", "heads"];

#[test]
fn noise_measured_with_repeat_is_flaky_not_a_regression() {
    let ws = fixture();
    let ws = ws.path();

    // The baseline, recorded with --repeat 3: the coin came up heads, tails,
    // heads (66.7, its score moves by up to 100 points between runs); the
    // capital is steady.
    let baseline = served(&CAPITAL, "Paris", HEADS_FIRST, 3);
    let coin_unit = baseline.units.iter().find(|u| u.eval == "coin").unwrap();
    let r = coin_unit.repeats.as_ref().unwrap();
    assert_eq!((r.count, r.flip_rate, r.spread), (3, 1.0, 100.0));
    assert_eq!(
        (r.pass_all, r.majority_pass),
        (0.0, 1.0),
        "pass^3 and majority"
    );
    let o = run_step(
        ws,
        &baseline,
        &[("CI", "false"), ("INSTA_UPDATE", "always")],
        None,
    );
    assert!(
        o.iter().all(|o| o.drift == Drift::New && o.updated),
        "{o:#?}"
    );
    assert_eq!(body_of(&snap(ws, COIN_SNAP)).score, 66.7);
    let text = read(&snap(ws, COIN_SNAP)).unwrap();
    let (meta, _) = text.split_once("\n---\n").unwrap();
    assert!(
        meta.contains("repeats:") && meta.contains("spread: 100"),
        "the measurement is in the metadata:\n{text}"
    );
    assert_eq!(find(&o, CAPITAL_SNAP).noise, Some(0.0));

    // (a) Plain reruns of the unchanged configuration on CI: whichever way
    // the coin falls, exit 0 and nothing written; the coin is reported
    // flaky, not improved or regressed.
    for (coin, to) in [(HEADS_FIRST, 100.0), (TAILS_FIRST, 0.0)] {
        let (o, code) = on_ci(ws, &served(&CAPITAL, "Paris", coin, 1));
        assert_eq!(code, exit::OK, "{o:#?}");
        assert_eq!(find(&o, CAPITAL_SNAP).drift, Drift::Unchanged);
        let c = find(&o, COIN_SNAP);
        assert_eq!(c.drift, Drift::Flaky { from: 66.7, to }, "{c:#?}");
        assert_eq!(c.noise, Some(100.0), "from the baseline's metadata");
        assert!(!c.failed);
        assert!(c.message().contains("within run-to-run noise ±100.0"));
    }
    // A repeated rerun agrees with the baseline.
    let (o, code) = on_ci(ws, &served(&CAPITAL, "Paris", TAILS_FIRST, 3));
    assert_eq!(code, exit::OK, "{o:#?}");

    // (b) Injected real regressions of the steady eval still fail with 4:
    // an answer change, and a scorer change.
    for (eval, answer) in [(&CAPITAL, "Lyon"), (&CAPITAL_PEDANTIC, "Paris")] {
        let (o, code) = on_ci(ws, &served(eval, answer, HEADS_FIRST, 1));
        assert_eq!(code, exit::REGRESSED, "{o:#?}");
        let c = find(&o, CAPITAL_SNAP);
        assert_eq!(
            c.drift,
            Drift::Regressed {
                from: 100.0,
                to: 0.0
            }
        );
        assert!(c.failed && c.regression_failed());
        assert!(matches!(find(&o, COIN_SNAP).drift, Drift::Flaky { .. }));
    }

    // A plain run that rewrites the snapshots keeps the measurement.
    let o = run_step(
        ws,
        &served(&CAPITAL, "Lyon", HEADS_FIRST, 1),
        &[("CI", "false"), ("INSTA_UPDATE", "always")],
        None,
    );
    assert!(find(&o, CAPITAL_SNAP).updated, "{o:#?}");
    let text = read(&snap(ws, CAPITAL_SNAP)).unwrap();
    assert!(text.contains("spread: 0"), "{text}");
}

#[test]
fn without_a_measurement_a_flip_fails_and_repeat_marks_it_flaky() {
    let ws = fixture();
    let ws = ws.path();
    // A plain baseline: the coin came up heads.
    let o = run_step(
        ws,
        &served(&CAPITAL, "Paris", HEADS_FIRST, 1),
        &[("CI", "false"), ("INSTA_UPDATE", "always")],
        None,
    );
    assert!(o.iter().all(|o| o.updated && o.noise.is_none()), "{o:#?}");
    let text = read(&snap(ws, COIN_SNAP)).unwrap();
    assert!(!text.contains("repeats:"), "{text}");

    // Nothing changed but the coin: without a measurement of the noise that
    // is a regression (the behaviour this guards against).
    let (o, code) = on_ci(ws, &served(&CAPITAL, "Paris", TAILS_FIRST, 1));
    assert_eq!(code, exit::REGRESSED, "{o:#?}");
    assert!(matches!(find(&o, COIN_SNAP).drift, Drift::Regressed { .. }));

    // (c) The same rerun with --repeat 3 measures the flips: the coin is
    // flaky and CI passes.
    let (o, code) = on_ci(ws, &served(&CAPITAL, "Paris", TAILS_FIRST, 3));
    assert_eq!(code, exit::OK, "{o:#?}");
    let c = find(&o, COIN_SNAP);
    assert_eq!(
        c.drift,
        Drift::Flaky {
            from: 100.0,
            to: 33.3
        },
        "{c:#?}"
    );
    assert_eq!(c.noise, Some(100.0), "measured by this run");
    assert_eq!(find(&o, CAPITAL_SNAP).drift, Drift::Unchanged);

    // ... and a real regression under --repeat still exits 4.
    let (o, code) = on_ci(ws, &served(&CAPITAL, "Lyon", TAILS_FIRST, 3));
    assert_eq!(code, exit::REGRESSED, "{o:#?}");
    assert_eq!(find(&o, CAPITAL_SNAP).noise, Some(0.0));
}
