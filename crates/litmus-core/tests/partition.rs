//! Partitioned runs merged back together equal the run of the whole plan:
//! every partition of N = 2..4 (hash and count) is run through the harness's
//! partition step and the runner against the replay backend, the runs are
//! merged by `output::merge`, and the merged samples, scores, confidence
//! intervals and verdicts are compared with those of one run of the whole
//! plan.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

mod common;

use common::Collect;
use litmus_core::base::backend::*;
use litmus_core::base::model::ModelSpec;
use litmus_core::base::paths::TargetLocation;
use litmus_core::eval::case::{Case, Metric, TextCase};
use litmus_core::eval::context::EvalContext;
use litmus_core::eval::registry::{EntryKind, EvalEntry};
use litmus_core::eval::score::{Score, ScoreResult};
use litmus_core::eval::template::PromptTemplate;
use litmus_core::harness::args::Args;
use litmus_core::harness::partition::{apply, run_meta};
use litmus_core::output::ci;
use litmus_core::output::merge::{merge_runs, MergeRequest};
use litmus_core::plan::matrix::Plan;
use litmus_core::run::replay::ReplayBackend;
use litmus_core::run::runner::execute;
use litmus_core::run::store::{read_run, Cache, RunStore, SampleKey, SampleRecord};
use litmus_core::run::summary::{RunSummary, Speed};

/// Answers each prompt right or wrong by a hash of model, prompt, sample and
/// temperature, so that scores differ between samples and configurations.
struct Scripted {
    info: ModelInfo,
}

impl Backend for Scripted {
    fn model(&self) -> &ModelInfo {
        &self.info
    }
    fn generate(&self, r: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        let text = r.prompt.to_text();
        let city = CITIES
            .iter()
            .find(|(country, _)| text.contains(country))
            .map_or("Paris", |c| c.1);
        Ok(r.samples
            .iter()
            .map(|&i| {
                let h = litmus_core::base::util::sha256_hex(
                    format!(
                        "{}|{text}|{i}|{}",
                        self.info.name,
                        r.params.temperature.to_bits()
                    )
                    .as_bytes(),
                );
                let right = u8::from_str_radix(&h[..2], 16).unwrap() % 3 != 0;
                Generation {
                    sample: i,
                    text: if right {
                        city.into()
                    } else {
                        "Atlantis".into()
                    },
                    finish: FinishReason::Stop,
                    usage: Usage::counted(7, 2),
                    timings: Timings {
                        prompt_ms: Some(1.0),
                        generation_ms: Some(2.0),
                        ttft_ms: Some(1.0),
                        total_ms: 3.0,
                    },
                    served_by: None,
                }
            })
            .collect())
    }
    fn parallelism(&self) -> usize {
        4
    }
}

const CITIES: [(&str, &str); 10] = [
    ("France", "Paris"),
    ("Peru", "Lima"),
    ("Japan", "Tokyo"),
    ("Kenya", "Nairobi"),
    ("Chile", "Santiago"),
    ("Norway", "Oslo"),
    ("Egypt", "Cairo"),
    ("Canada", "Ottawa"),
    ("Spain", "Madrid"),
    ("India", "Delhi"),
];

macro_rules! capital {
    ($($f:ident $entry:ident $i:literal),*) => {$(
        fn $f() -> Case {
            let (country, city) = CITIES[$i];
            TextCase::new(format!("Capital of {country}?"))
                .reference(city)
                .metric(Metric::contains())
                .into()
        }
        static $entry: EvalEntry = EvalEntry {
            name: stringify!($f),
            module_path: "tests::geo",
            ..entry!("x", EntryKind::Declarative($f))
        };
    )*};
}

capital!(france FRANCE 0, peru PERU 1, japan JAPAN 2, kenya KENYA 3, chile CHILE 4,
         norway NORWAY 5, egypt EGYPT 6, canada CANADA 7, spain SPAIN 8, india INDIA 9);

fn twice(ctx: &mut EvalContext<'_>) -> ScoreResult {
    let a = ctx.ask("Capital of France?")?;
    let b = ctx.ask("Capital of Peru?")?;
    Ok(Score::new(
        50.0 * f64::from(u8::from(a == "Paris") + u8::from(b == "Lima")),
    ))
}

static TWICE: EvalEntry = EvalEntry {
    module_path: "tests::multi",
    ..entry!("twice", EntryKind::Imperative(twice))
};

fn evals() -> Vec<&'static EvalEntry> {
    vec![
        &FRANCE, &PERU, &JAPAN, &KENYA, &CHILE, &NORWAY, &EGYPT, &CANADA, &SPAIN, &INDIA, &TWICE,
    ]
}

/// 11 evals × 2 models × 2 templates × 2 temperatures = 88 instances of 3
/// samples each.
fn plan() -> Plan {
    let mut p = common::plan(evals(), 3, "{{task}}", &[0.0, 0.7]);
    p.models = vec![common::spec("m1"), common::spec("m2")];
    p.templates.push(PromptTemplate::chat(
        "terse",
        None,
        "Answer in one word. {{task}}",
    ));
    p.min_scores.insert("geo::japan".into(), 60.0);
    p
}

type Opener = dyn Fn(&ModelSpec) -> Result<SharedBackend, BackendError> + Sync;

/// Runs `plan` (its partition `partition`, if any) as the harness does,
/// into `out/runs/<id>`; returns the run directory and its summary.
fn run(
    plan: &Plan,
    out: &Path,
    id: &str,
    partition: Option<&str>,
    opener: &Opener,
) -> (PathBuf, RunSummary) {
    let mut plan = plan.clone();
    let args = Args::parse(
        partition
            .map(|p| vec!["--partition", p])
            .unwrap_or_default(),
    )
    .unwrap();
    let info = apply(&args, &mut plan, false).expect("not a listing");
    let site = TargetLocation {
        manifest_dir: out.to_path_buf(),
        source_file: None,
    };
    let mut meta = run_meta(&site, &plan, info);
    meta.id = id.into();
    let store = RunStore::create(out, &meta).unwrap();
    let outcome = execute(
        &plan,
        &store,
        &Cache::disabled(),
        opener,
        &mut Collect::default(),
    );
    let summary = RunSummary::build(
        store.id(),
        &store.dir().display().to_string(),
        &outcome.records,
        &plan.min_scores,
        &outcome.models,
        &outcome.walls,
    );
    store.write_summary(&summary).unwrap();
    (store.dir().to_path_buf(), summary)
}

/// The replay of a recording made with the scripted backend, per model.
fn replay_opener(dir: &Path) -> Box<Opener> {
    let (recording, _) = run(
        &plan(),
        dir,
        "recording",
        None,
        &|spec: &ModelSpec| -> Result<SharedBackend, BackendError> {
            Ok(std::sync::Arc::new(Scripted {
                info: ModelInfo {
                    name: spec.name.clone(),
                    backend: "test".into(),
                    digest: format!("digest-{}", spec.name),
                    ..Default::default()
                },
            }))
        },
    );
    let records = read_run(&recording).unwrap();
    let replays: HashMap<String, SharedBackend> = ["m1", "m2"]
        .iter()
        .map(|m| {
            let b = ReplayBackend::from_records(&records, Some(m), "recording").unwrap();
            (m.to_string(), std::sync::Arc::new(b) as SharedBackend)
        })
        .collect();
    Box::new(move |spec: &ModelSpec| Ok(replays[&spec.name].clone()))
}

/// What must be equal: each sample's content.
fn samples(records: &[SampleRecord]) -> BTreeMap<SampleKey, String> {
    records
        .iter()
        .map(|r| {
            let content = serde_json::json!([
                r.prompt,
                r.response,
                r.exchanges,
                r.score,
                r.error,
                r.digest,
                r.seed
            ]);
            (r.key(), content.to_string())
        })
        .collect()
}

/// The summary without what differs between any two runs (wall times,
/// speeds, run ids, memory).
fn statistics(s: &RunSummary) -> serde_json::Value {
    let mut s = s.clone();
    for u in &mut s.units {
        u.wall_ms = 0.0;
        u.speed = Speed::default();
    }
    for c in &mut s.configs {
        c.speed = Speed::default();
    }
    serde_json::json!({ "units": s.units, "configs": s.configs, "load_errors": s.load_errors })
}

/// The first place where two JSON values differ.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (u, v) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                if let Some(d) = first_difference(u, v, &format!("{at}.{k}")) {
                    return Some(d);
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, &format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{at}: {} / {}", crate::short(a), crate::short(b))),
    }
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    s.chars().take(300).collect()
}

fn merge(runs: Vec<PathBuf>, output: PathBuf) -> litmus_core::output::merge::MergeReport {
    merge_runs(&MergeRequest {
        runs,
        id: "merged".into(),
        output,
        no_snapshots: true,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn merged_partitions_equal_the_run_of_the_whole_plan() {
    let dir = tempfile::tempdir().unwrap();
    let opener = replay_opener(&dir.path().join("rec"));
    let (whole_dir, whole_summary) =
        run(&plan(), &dir.path().join("whole"), "whole", None, &*opener);
    let whole = read_run(&whole_dir).unwrap();
    let read_summary = |dir: &Path| -> RunSummary {
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
    };
    assert_eq!(whole.len(), 88 * 3);
    assert_eq!(whole_summary.units.len(), 88);
    let means: Vec<f64> = whole_summary.units.iter().map(|u| u.score.mean).collect();
    assert!(
        means.iter().any(|m| *m > 0.0 && *m < 100.0) && means.contains(&100.0),
        "scores vary: {means:?}"
    );
    let whole_code = ci::exit_code(&whole_summary, &[]);
    assert_eq!(
        whole_code,
        litmus_core::base::exit::BELOW_THRESHOLD,
        "geo::japan has a min_score some configurations miss"
    );

    for scheme in ["hash", "count"] {
        for n in 2..=4u32 {
            let out = dir.path().join(format!("{scheme}-{n}"));
            let mut parts = Vec::new();
            let mut sizes = Vec::new();
            for k in 1..=n {
                let spec = format!("{scheme}:{k}/{n}");
                let (part, _) = run(&plan(), &out, &format!("part-{k}"), Some(&spec), &*opener);
                sizes.push(read_run(&part).unwrap().len() / 3);
                parts.push(part);
            }
            assert_eq!(sizes.iter().sum::<usize>(), 88, "{scheme} {n}: {sizes:?}");
            if scheme == "count" {
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "count is balanced: {sizes:?}");
            }
            // In reverse order, to show the order of the runs does not matter.
            parts.reverse();
            let report = merge(parts, out.join("merged"));
            let m = &report.merged;
            let label = format!("{scheme} N={n}");
            assert_eq!(samples(&m.records), samples(&whole), "{label}: samples");
            assert_eq!(
                samples(&read_run(&out.join("merged")).unwrap()),
                samples(&whole),
                "{label}: stored samples"
            );
            let (a, b) = (statistics(&m.summary), statistics(&whole_summary));
            assert!(
                a == b,
                "{label}: scores, intervals, pass rates differ at {:?}",
                first_difference(&a, &b, "")
            );
            for (a, b) in m.summary.units.iter().zip(&whole_summary.units) {
                assert_eq!(
                    ci::verdict(a, None),
                    ci::verdict(b, None),
                    "{label}: {}",
                    a.eval
                );
            }
            assert_eq!(report.exit_code, whole_code, "{label}: exit code");
            assert_eq!(m.duplicates, 0);
            assert_eq!(m.meta.merged_from.len(), n as usize);
            // And summary.json as written (read back alike: serde_json's
            // parser may round a float's last bit).
            assert_eq!(
                statistics(&read_summary(&out.join("merged"))),
                statistics(&read_summary(&whole_dir)),
                "{label}: summary.json"
            );
        }
    }
}

#[test]
fn a_partition_run_twice_counts_once_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let opener = replay_opener(&dir.path().join("rec"));
    let (_, whole) = run(&plan(), &dir.path().join("whole"), "whole", None, &*opener);
    let out = dir.path().join("parts");
    let parts: Vec<PathBuf> = (1..=3)
        .map(|k| {
            run(
                &plan(),
                &out,
                &format!("p{k}"),
                Some(&format!("hash:{k}/3")),
                &*opener,
            )
            .0
        })
        .collect();
    let (again, _) = run(&plan(), &out, "p2-again", Some("hash:2/3"), &*opener);
    let n2 = read_run(&again).unwrap().len();

    // All runs under one folder, found by searching it; p2 twice.
    let report = merge(vec![out.join("runs")], dir.path().join("merged"));
    assert_eq!(report.runs.len(), 4);
    assert_eq!(report.merged.duplicates, n2);
    assert_eq!(statistics(&report.merged.summary), statistics(&whole));

    // Merging `runs` into `output`, as the request without snapshots.
    let request = |runs: Vec<PathBuf>, output: &str| MergeRequest {
        runs,
        id: "m".into(),
        output: dir.path().join(output),
        no_snapshots: true,
        ..Default::default()
    };
    let merge_error = |runs, output| merge_runs(&request(runs, output)).unwrap_err().to_string();

    // Without partition 3: an error naming it.
    let err = merge_error(parts[..2].to_vec(), "m2");
    assert!(err.contains("partition hash:3/3 is missing"), "{err}");
    assert!(!dir.path().join("m2").exists(), "nothing written");

    // A --junit that cannot be written fails the merge as it fails a run:
    // the merged run is stored, the file is named, the exit code is ERRORED.
    let report = merge_runs(&MergeRequest {
        junit: Some(dir.path().to_path_buf()),
        ..request(parts.clone(), "m-junit")
    })
    .unwrap();
    assert_eq!(report.unwritten.len(), 1, "{:?}", report.unwritten);
    assert!(
        report.unwritten[0].starts_with("--junit "),
        "{:?}",
        report.unwritten
    );
    assert_eq!(report.exit_code, litmus_core::base::exit::ERRORED);
    let scores = ci::exit_code(&report.merged.summary, &report.snapshots);
    assert_ne!(scores, litmus_core::base::exit::ERRORED, "the scores alone");
    assert!(dir.path().join("m-junit/samples.jsonl").is_file());

    // A mistyped path says it does not exist; a folder without runs says so.
    for (path, says) in [
        (dir.path().join("nosuch"), "no such file or directory"),
        (dir.path().join("empty"), "no run here"),
    ] {
        let _ = std::fs::create_dir(dir.path().join("empty"));
        let mut runs = parts[..2].to_vec();
        runs.push(path.clone());
        let err = merge_error(runs, "m3");
        assert!(
            err.contains(says) && err.contains(&*path.to_string_lossy()),
            "{err}"
        );
    }

    // --list --partition: the harness stops after listing.
    let mut p = plan();
    let args = Args::parse(["--list", "--partition", "count:1/2", "--format", "terse"]).unwrap();
    assert_eq!(apply(&args, &mut p, true), Err(0));
}
