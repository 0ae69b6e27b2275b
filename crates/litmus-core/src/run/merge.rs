//! Merging partial runs into one: the runs of the N partitions of a plan
//! (`--partition`, on N CI jobs or hosts), or any runs of one plan.
//!
//! [`merge`] checks that the runs can be one run — the same litmus version,
//! sampling parameters, seed, samples per case, repeats, judge, eval target
//! and partition split, and the same weights digest for each model — and
//! refuses with an error naming the field and both values otherwise. It then
//! puts their samples together, one record per sample key:
//!
//! - the same sample in two runs with the same content (prompt, response,
//!   exchanges, score, weights digest) is a duplicate, counted once (the
//!   same partition run twice, or overlapping runs);
//! - a scored sample supersedes an errored one of the same key (a retried
//!   job), as a later record does within one run on `--resume`;
//! - the same sample with different content is a conflict: an error naming
//!   the sample, the runs and what differs.
//!
//! The summary is rebuilt from the merged samples by
//! [`RunSummary::build`], the code every run uses, so scores, confidence
//! intervals and verdicts are those of one run over the same samples.
//! [`write()`] stores the result as a run directory (`run.json`,
//! `samples.jsonl`, `summary.json`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::fs;
use std::path::{Path, PathBuf};

use crate::base::backend::ModelInfo;
use crate::plan::partition::Partition;
use crate::run::store::{
    read_run, ConfigKey, MergedRun, RunMeta, RunSettings, SampleKey, SampleRecord, StoreError,
};
use crate::run::summary::{RunSummary, TimeSplit};

/// One run to merge: its directory, `run.json`, samples and summary.
#[derive(Clone, Debug)]
pub struct Part {
    /// The run directory.
    pub dir: PathBuf,
    /// Its `run.json` (defaults when it has none).
    pub meta: RunMeta,
    /// Its samples, the last record per sample key.
    pub records: Vec<SampleRecord>,
    /// Its `summary.json`, when it was written (a run that died has none).
    pub summary: Option<RunSummary>,
}

impl Part {
    /// Reads the run in `dir`.
    pub fn load(dir: &Path) -> Result<Part, StoreError> {
        let err = |path: &Path, e: &dyn Display| StoreError {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let records = read_run(dir)?;
        let meta_path = dir.join("run.json");
        let meta = match fs::read(&meta_path) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| err(&meta_path, &e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RunMeta::default(),
            Err(e) => return Err(err(&meta_path, &e)),
        };
        let summary_path = dir.join("summary.json");
        let summary = match fs::read(&summary_path) {
            // Empty: a write that failed (an older litmus wrote it in place).
            Ok(data) if data.is_empty() => None,
            Ok(data) => Some(serde_json::from_slice(&data).map_err(|e| err(&summary_path, &e))?),
            Err(_) => None,
        };
        Ok(Part {
            dir: dir.to_path_buf(),
            meta,
            records,
            summary,
        })
    }

    fn name(&self) -> String {
        self.dir.display().to_string()
    }
}

/// The run directories at `path`: `path` itself when it holds a run
/// (`samples.jsonl`), else every directory below it that does, in path
/// order (a folder of downloaded CI artifacts, say).
pub fn find_runs(path: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        if dir.join("samples.jsonl").is_file() {
            out.push(dir.to_path_buf());
            return;
        }
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let mut subdirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        subdirs.sort();
        for d in subdirs {
            walk(&d, out);
        }
    }
    let mut out = Vec::new();
    walk(path, &mut out);
    out
}

/// Why runs cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no runs to merge (a run directory holds samples.jsonl)")]
    NoRuns,
    /// A run could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Two runs were made with different settings.
    #[error("cannot merge runs made with different {}: {} in {}, {} in {}", .0.what, .0.a, .0.a_run, .0.b, .0.b_run)]
    Mismatch(Box<Disagreement>),
    /// The same sample differs between two runs.
    #[error("conflicting duplicates: {sample} is in {} and in {} with different {}: {} / {}", .differs.a_run, .differs.b_run, .differs.what, .differs.a, .differs.b)]
    Conflict {
        /// The sample (`sample 1 of `geo::capital` [gemma plain t=0]`).
        sample: String,
        /// What differs (`response`, `score`, ...), and how.
        differs: Box<Disagreement>,
    },
    /// Some runs did not finish (they have no `summary.json`).
    #[error("{} not finished (no summary.json: killed, or out of memory or disk), so {} only some of {} samples: {}; continue each with `cargo eval ... --resume --run-id ID` as it ran, or pass --allow-missing to merge what is there", if runs.len() == 1 { "a run is" } else { "runs are" }, if runs.len() == 1 { "it holds" } else { "they hold" }, if runs.len() == 1 { "its" } else { "their" }, runs.join(", "))]
    Unfinished {
        /// The unfinished runs.
        runs: Vec<String>,
    },
    /// Some partitions of the split are not among the runs.
    #[error("partition{} {} {} missing: the runs hold {} of {}; merge them all, or pass --allow-missing to merge what is there", if missing.len() == 1 { "" } else { "s" }, missing.join(", "), if missing.len() == 1 { "is" } else { "are" }, present.join(", "), total)]
    Missing {
        /// The missing partitions (`hash:3/4`).
        missing: Vec<String>,
        /// The partitions present.
        present: Vec<String>,
        /// N.
        total: u32,
    },
}

/// A value two runs disagree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// What (`seeds`, `weights of model `gemma Q4_K_M` (digest)`, `response`).
    pub what: String,
    /// Its value in the first run.
    pub a: String,
    /// That run.
    pub a_run: String,
    /// Its value in the other run.
    pub b: String,
    /// That run.
    pub b_run: String,
}

fn disagree(
    what: impl Into<String>,
    a: String,
    a_run: String,
    b: String,
    b_run: String,
) -> MergeError {
    MergeError::Mismatch(Box::new(Disagreement {
        what: what.into(),
        a,
        a_run,
        b,
        b_run,
    }))
}

/// How to merge.
#[derive(Clone, Debug, Default)]
pub struct MergeOptions {
    /// The merged run's id.
    pub id: String,
    /// The merged run's directory (recorded in its summary).
    pub dir: PathBuf,
    /// The command line, for `run.json`.
    pub args: Vec<String>,
    /// Merge even when partitions of the split are missing.
    pub allow_missing: bool,
}

/// The merged run.
#[derive(Clone, Debug)]
pub struct Merged {
    /// Its `run.json`.
    pub meta: RunMeta,
    /// Its samples, one per sample key, in key order.
    pub records: Vec<SampleRecord>,
    /// Its summary, rebuilt from `records`.
    pub summary: RunSummary,
    /// Samples found in more than one run with the same content, counted once.
    pub duplicates: usize,
    /// Errored samples replaced by a scored one from another run.
    pub superseded: usize,
    /// Partitions of the split that are missing (with `allow_missing`).
    pub missing: Vec<String>,
}

/// Requires `value(part)` to be the same in every part where it is known.
fn agree<T: PartialEq + Display>(
    parts: &[Part],
    field: &str,
    value: impl Fn(&Part) -> Option<T>,
) -> Result<(), MergeError> {
    let mut first: Option<(T, &Part)> = None;
    for p in parts {
        let Some(v) = value(p) else { continue };
        match &first {
            None => first = Some((v, p)),
            Some((f, fp)) if *f != v => {
                return Err(disagree(
                    field.to_string(),
                    f.to_string(),
                    fp.name(),
                    v.to_string(),
                    p.name(),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks that `parts` are runs of one plan with the same settings.
fn check_settings(parts: &[Part]) -> Result<(), MergeError> {
    agree(parts, "litmus versions", |p| {
        Some(p.meta.litmus_version.clone()).filter(|v| !v.is_empty())
    })?;
    // What decides a sample, as `--resume` checks it (the temperature is
    // each configuration's own).
    for (i, (name, _)) in RunSettings::default().fields().into_iter().enumerate() {
        let field = match name {
            "seed" => "seeds".to_string(),
            "samples" => "samples per case".to_string(),
            "repeat" => "repeats".to_string(),
            "judge" => "judge models".to_string(),
            _ => format!("sampling parameter `{name}`"),
        };
        agree(parts, &field, |p| {
            let s = p.meta.settings.as_ref()?;
            s.fields().into_iter().nth(i).map(|f| f.1)
        })?;
    }
    let settings = |p: &Part| p.meta.settings.clone();
    agree(parts, "eval targets", |p| {
        settings(p).and_then(|s| s.target)
    })?;
    agree(parts, "partition splits", |p| {
        p.meta.partition.map(|i| {
            let q = i.partition;
            format!("{}:K/{}", q.scheme.as_str(), q.total)
        })
    })?;
    agree(parts, "plans (evals × configurations in all)", |p| {
        p.meta.partition.map(|i| i.of)
    })?;
    // What the samples themselves record.
    for p in parts {
        let mut seeds = p.records.iter().map(|r| r.seed);
        if let Some(first) = seeds.next() {
            if let Some(other) = seeds.find(|s| *s != first) {
                return Err(disagree(
                    "seeds",
                    first.to_string(),
                    p.name(),
                    other.to_string(),
                    p.name(),
                ));
            }
        }
    }
    agree(parts, "seeds", |p| p.records.first().map(|r| r.seed))?;
    let mut digests: BTreeMap<(String, Option<String>), (String, &Part)> = BTreeMap::new();
    for p in parts {
        for r in p.records.iter().filter(|r| !r.digest.is_empty()) {
            let key = (r.model.clone(), r.quantization.clone());
            match digests.get(&key) {
                None => {
                    digests.insert(key, (r.digest.clone(), p));
                }
                Some((d, dp)) if *d != r.digest => {
                    let mut model = r.model.clone();
                    if let Some(q) = &r.quantization {
                        model.push(' ');
                        model.push_str(q);
                    }
                    return Err(disagree(
                        format!("weights of model `{model}` (digest)"),
                        d.clone(),
                        dp.name(),
                        r.digest.clone(),
                        p.name(),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    // The evals themselves: partitions built from different code (another
    // checkout on one machine) give one eval other prompts, tests or
    // references, and their samples are not one run's.
    let mut cases: BTreeMap<(&str, &str), (&str, &Part)> = BTreeMap::new();
    for p in parts {
        for r in p.records.iter().filter(|r| r.error.is_none()) {
            let Some(digest) = r.case_digest.as_deref() else {
                continue;
            };
            let key = (r.eval.as_str(), r.template.as_str());
            match cases.get(&key) {
                None => {
                    cases.insert(key, (digest, p));
                }
                Some((d, dp)) if *d != digest => {
                    return Err(disagree(
                        format!(
                            "versions of eval `{}` (template `{}`: its prompt, case, code or limits differ)",
                            r.eval, r.template
                        ),
                        d.to_string(),
                        dp.name(),
                        digest.to_string(),
                        p.name(),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// `sample 1 of `geo::capital` [gemma Q4_K_M plain t=0]` (and its repeat).
fn sample_label(r: &SampleRecord) -> String {
    let repeat = if r.repeat > 0 {
        format!(", repeat {}", r.repeat)
    } else {
        String::new()
    };
    format!(
        "sample {} of `{}` [{}{repeat}]",
        r.sample,
        r.eval,
        r.config().label()
    )
}

/// What differs between two records of one sample, with both values.
fn difference(a: &SampleRecord, b: &SampleRecord) -> Option<(&'static str, String, String)> {
    fn show<T: serde::Serialize>(v: &T) -> String {
        crate::base::util::truncate(&serde_json::to_string(v).unwrap_or_default(), 80)
    }
    if a.prompt != b.prompt {
        return Some(("prompt", show(&a.prompt), show(&b.prompt)));
    }
    if a.response != b.response {
        return Some(("response", show(&a.response), show(&b.response)));
    }
    if a.exchanges != b.exchanges {
        return Some(("exchanges", show(&a.exchanges), show(&b.exchanges)));
    }
    if a.score != b.score {
        return Some(("score", show(&a.score), show(&b.score)));
    }
    if a.digest != b.digest {
        return Some(("weights digest", a.digest.clone(), b.digest.clone()));
    }
    None
}

/// Merges `parts` (see the [module docs](self)).
pub fn merge(parts: &[Part], options: &MergeOptions) -> Result<Merged, MergeError> {
    if parts.is_empty() {
        return Err(MergeError::NoRuns);
    }
    check_settings(parts)?;

    // Partitions of one split: all of them, or say which are missing.
    let mut missing = Vec::new();
    let partitions: Vec<Partition> = parts
        .iter()
        .filter_map(|p| p.meta.partition.map(|i| i.partition))
        .collect();
    if partitions.len() == parts.len() {
        let split = partitions[0];
        let present: BTreeSet<u32> = partitions.iter().map(|p| p.index).collect();
        let name = |k: u32| Partition { index: k, ..split }.to_string();
        missing = (1..=split.total)
            .filter(|k| !present.contains(k))
            .map(name)
            .collect();
        if !missing.is_empty() && !options.allow_missing {
            return Err(MergeError::Missing {
                missing,
                present: present.iter().map(|&k| name(k)).collect(),
                total: split.total,
            });
        }
    }

    // A run ends by writing its summary: one without did not finish (killed,
    // out of memory or disk), and holds only some of its samples.
    let unfinished: Vec<String> = parts
        .iter()
        .filter(|p| p.summary.is_none())
        .map(|p| match p.meta.partition {
            Some(i) => format!("{} ({})", p.name(), i.partition),
            None => p.name(),
        })
        .collect();
    if !unfinished.is_empty() {
        if !options.allow_missing {
            return Err(MergeError::Unfinished { runs: unfinished });
        }
        missing.extend(unfinished.iter().map(|r| format!("the rest of {r}")));
    }

    // The samples, one per key.
    let mut merged: BTreeMap<SampleKey, (SampleRecord, usize)> = BTreeMap::new();
    let (mut duplicates, mut superseded) = (0, 0);
    for (pi, p) in parts.iter().enumerate() {
        for r in &p.records {
            let Some((have, from)) = merged.get(&r.key()) else {
                merged.insert(r.key(), (r.clone(), pi));
                continue;
            };
            match (have.error.is_some(), r.error.is_some()) {
                (true, false) => {
                    superseded += 1;
                    merged.insert(r.key(), (r.clone(), pi));
                }
                (false, true) => superseded += 1,
                (true, true) => duplicates += 1,
                (false, false) => match difference(have, r) {
                    None => duplicates += 1,
                    Some((what, a, b)) => {
                        return Err(MergeError::Conflict {
                            sample: sample_label(r),
                            differs: Box::new(Disagreement {
                                what: what.to_string(),
                                a,
                                a_run: parts[*from].name(),
                                b,
                                b_run: p.name(),
                            }),
                        })
                    }
                },
            }
        }
    }
    // A part whose model failed to open holds its samples without the
    // quantization another part's model reported: superseded there too.
    let mut latest: BTreeMap<SampleKey, SampleRecord> =
        merged.into_iter().map(|(k, (r, _))| (k, r)).collect();
    let before = latest.len();
    crate::run::store::supersede_unopened(&mut latest);
    superseded += before - latest.len();
    let records: Vec<SampleRecord> = latest.into_values().collect();

    // What only the parts' summaries know: thresholds, models, wall times.
    let mut min_scores: BTreeMap<String, (f64, &Part)> = BTreeMap::new();
    let mut models: BTreeMap<(String, Option<String>), ModelInfo> = BTreeMap::new();
    let mut walls: BTreeMap<(String, ConfigKey), f64> = BTreeMap::new();
    for p in parts {
        let Some(s) = &p.summary else { continue };
        for u in &s.units {
            if let Some(m) = u.min_score {
                match min_scores.get(&u.eval) {
                    Some((have, hp)) if *have != m => {
                        return Err(disagree(
                            format!("min_score of `{}`", u.eval),
                            have.to_string(),
                            hp.name(),
                            m.to_string(),
                            p.name(),
                        ))
                    }
                    Some(_) => {}
                    None => {
                        min_scores.insert(u.eval.clone(), (m, p));
                    }
                }
            }
            walls
                .entry((u.eval.clone(), u.config.clone()))
                .or_insert(u.wall_ms);
        }
        for c in &s.configs {
            if let Some(m) = &c.model {
                models
                    .entry((c.config.model.clone(), c.config.quantization.clone()))
                    .or_insert_with(|| m.clone());
            }
        }
    }
    let min_scores: BTreeMap<String, f64> =
        min_scores.into_iter().map(|(k, (v, _))| (k, v)).collect();
    let dir = options.dir.display().to_string();
    let mut summary = RunSummary::build(&options.id, &dir, &records, &min_scores, &models, &walls);
    let summaries: Vec<&RunSummary> = parts.iter().filter_map(|p| p.summary.as_ref()).collect();
    for s in &summaries {
        for e in &s.load_errors {
            if !summary.load_errors.contains(e) {
                summary.load_errors.push(e.clone());
            }
        }
    }
    // The parts ran side by side: the merged run took as long as the longest.
    summary.wall_ms = summaries.iter().map(|s| s.wall_ms).fold(0.0, f64::max);
    // The merged samples, each once (two runs holding the same sample
    // generated it twice, which the time split below still counts).
    summary.cached = records.iter().filter(|r| r.cached).count();
    summary.generated = records.len() - summary.cached;
    summary.backend_requests = summaries.iter().map(|s| s.backend_requests).sum();
    summary.peak_rss_bytes = summaries.iter().filter_map(|s| s.peak_rss_bytes).max();
    summary.time =
        summaries
            .iter()
            .filter_map(|s| s.time)
            .fold(None, |acc: Option<TimeSplit>, t| {
                let mut a = acc.unwrap_or_default();
                a.add(&t);
                Some(a)
            });

    let meta = RunMeta {
        id: options.id.clone(),
        started: crate::base::util::rfc3339(crate::base::util::now_ms()),
        args: options.args.clone(),
        litmus_version: parts
            .iter()
            .map(|p| p.meta.litmus_version.clone())
            .find(|v| !v.is_empty())
            .unwrap_or_default(),
        partition: None,
        settings: parts.iter().find_map(|p| p.meta.settings.clone()),
        merged_from: parts
            .iter()
            .map(|p| MergedRun {
                id: if p.meta.id.is_empty() {
                    p.dir
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    p.meta.id.clone()
                },
                dir: p.name(),
                partition: p.meta.partition.map(|i| i.partition),
                samples: p.records.len(),
            })
            .collect(),
        placement: None,
    };
    Ok(Merged {
        meta,
        records,
        summary,
        duplicates,
        superseded,
        missing,
    })
}

/// Writes `merged` as the run directory `dir` (`run.json`, `samples.jsonl`,
/// `summary.json`); refuses a directory that already holds a run.
pub fn write(merged: &Merged, dir: &Path) -> Result<(), StoreError> {
    let err = |path: &Path, e: &dyn Display| StoreError {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let samples = dir.join("samples.jsonl");
    if samples.exists() {
        return Err(err(
            dir,
            &"already holds a run (samples.jsonl); give another --output",
        ));
    }
    fs::create_dir_all(dir).map_err(|e| err(dir, &e))?;
    let meta_path = dir.join("run.json");
    let meta = serde_json::to_vec_pretty(&merged.meta).map_err(|e| err(&meta_path, &e))?;
    fs::write(&meta_path, meta).map_err(|e| err(&meta_path, &e))?;
    let mut lines = Vec::new();
    for r in &merged.records {
        serde_json::to_writer(&mut lines, r).map_err(|e| err(&samples, &e))?;
        lines.push(b'\n');
    }
    fs::write(&samples, lines).map_err(|e| err(&samples, &e))?;
    let summary_path = dir.join("summary.json");
    let summary = serde_json::to_vec_pretty(&merged.summary).map_err(|e| err(&summary_path, &e))?;
    fs::write(&summary_path, summary).map_err(|e| err(&summary_path, &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::backend::{Prompt, SamplingParams};
    use crate::eval::score::Score;
    use crate::plan::partition::PartitionInfo;

    fn rec(eval: &str, sample: u32, response: &str) -> SampleRecord {
        SampleRecord {
            eval: eval.into(),
            model: "m".into(),
            backend: "llama".into(),
            quantization: Some("Q4_K_M".into()),
            digest: "d1".into(),
            template: "plain".into(),
            temperature: 0.0,
            seed: 42,
            sample,
            prompt: Some(Prompt::user(format!("{eval}?"))),
            response: Some(response.into()),
            score: Some(Score::pass_if(response == "yes")),
            at_ms: 1,
            ..SampleRecord::default()
        }
    }

    fn part(name: &str, partition: Option<&str>, records: Vec<SampleRecord>) -> Part {
        Part {
            dir: PathBuf::from(name),
            meta: RunMeta {
                id: name.into(),
                litmus_version: "0.1.0".into(),
                partition: partition.map(|p| PartitionInfo {
                    partition: p.parse().unwrap(),
                    instances: 1,
                    of: 2,
                }),
                settings: Some(RunSettings {
                    params: SamplingParams::default(),
                    samples: 2,
                    repeat: 1,
                    ..Default::default()
                }),
                ..Default::default()
            },
            summary: Some(RunSummary::build(
                name,
                name,
                &records,
                &BTreeMap::new(),
                &BTreeMap::new(),
                &BTreeMap::new(),
            )),
            records,
        }
    }

    fn two() -> Vec<Part> {
        vec![
            part(
                "runs/a",
                Some("hash:1/2"),
                vec![rec("a", 0, "yes"), rec("a", 1, "no")],
            ),
            part(
                "runs/b",
                Some("hash:2/2"),
                vec![rec("b", 0, "yes"), rec("b", 1, "yes")],
            ),
        ]
    }

    #[test]
    fn a_run_that_did_not_finish_is_an_error_unless_allowed() {
        // Partition 2 was killed: its samples are there, its summary is not.
        let mut parts = two();
        parts[1].records.truncate(1);
        parts[1].summary = None;
        let e = merge(&parts, &MergeOptions::default()).unwrap_err();
        assert!(matches!(e, MergeError::Unfinished { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("not finished")
                && text.contains("runs/b (hash:2/2)")
                && text.contains("--allow-missing"),
            "{text}"
        );
        let allowed = MergeOptions {
            allow_missing: true,
            ..MergeOptions::default()
        };
        let m = merge(&parts, &allowed).unwrap();
        assert_eq!(m.records.len(), 3);
        assert_eq!(m.missing, ["the rest of runs/b (hash:2/2)"]);
    }

    fn mismatch(parts: &[Part]) -> String {
        match merge(parts, &MergeOptions::default()) {
            Err(e @ MergeError::Mismatch(_)) => e.to_string(),
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    #[test]
    fn partitions_merge_into_one_summary() {
        let m = merge(&two(), &MergeOptions::default()).unwrap();
        assert_eq!(m.records.len(), 4);
        assert_eq!(m.summary.units.len(), 2);
        assert_eq!(m.summary.configs[0].evals, 2);
        assert_eq!((m.duplicates, m.superseded), (0, 0));
        assert_eq!(m.meta.merged_from.len(), 2);
        assert_eq!(
            m.meta.merged_from[1].partition,
            Some("hash:2/2".parse().unwrap())
        );
        assert_eq!(m.meta.partition, None);
    }

    #[test]
    fn different_settings_are_refused_naming_the_field_and_both_values() {
        let mut p = two();
        p[1].meta.settings.as_mut().unwrap().params.top_p = 0.5;
        let e = mismatch(&p);
        assert!(
            e.contains("sampling parameter `top_p`: 0.95") && e.contains("0.5 in runs/b"),
            "{e}"
        );
        let mut p = two();
        p[1].meta.settings.as_mut().unwrap().params.seed = 7;
        assert!(mismatch(&p).contains("seeds: 42 in runs/a, 7 in runs/b"));
        let mut p = two();
        p[1].meta.litmus_version = "0.2.0".into();
        assert!(mismatch(&p).contains("litmus versions: 0.1.0 in runs/a, 0.2.0 in runs/b"));
        let mut p = two();
        p[1].records[1].digest = "d2".into();
        let e = mismatch(&p);
        assert!(
            e.contains("weights of model `m Q4_K_M` (digest): d1 in runs/a, d2 in runs/b"),
            "{e}"
        );
        let mut p = two();
        for r in &mut p[0].records {
            r.seed = 9;
        }
        p[0].meta.settings = None;
        p[1].meta.settings = None;
        assert!(mismatch(&p).contains("seeds: 9 in runs/a, 42 in runs/b"));
        let mut p = two();
        p[1].meta.partition = Some(PartitionInfo {
            partition: "count:2/2".parse().unwrap(),
            instances: 1,
            of: 2,
        });
        assert!(mismatch(&p).contains("partition splits: hash:K/2 in runs/a, count:K/2"));
        let mut p = two();
        p[1].meta.settings.as_mut().unwrap().samples = 3;
        assert!(mismatch(&p).contains("samples per case: 2 in runs/a, 3 in runs/b"));
        // Eval `a` of another version in partition b (under another model):
        // refused; the same version, or a record without a digest, merges.
        let mut p = two();
        let other_model = |digest: Option<&str>| SampleRecord {
            model: "m2".into(),
            case_digest: digest.map(str::to_string),
            ..rec("a", 0, "yes")
        };
        for r in &mut p[0].records {
            r.case_digest = Some("c1".into());
        }
        p[1].records.push(other_model(Some("c2")));
        let e = mismatch(&p);
        assert!(
            e.contains("versions of eval `a` (template `plain`: its prompt, case, code or limits differ): c1 in runs/a, c2 in runs/b"),
            "{e}"
        );
        for digest in [Some("c1"), None] {
            p[1].records.pop();
            p[1].records.push(other_model(digest));
            merge(&p, &MergeOptions::default()).unwrap();
        }
    }

    #[test]
    fn duplicates_count_once_and_conflicts_name_the_sample() {
        let mut p = two();
        // The same partition twice, with other timings: counted once.
        let mut again = p[1].clone();
        again.dir = "runs/b-again".into();
        for r in &mut again.records {
            r.at_ms = 99;
            r.cached = true;
        }
        for (part, generated) in p.iter_mut().zip([2, 2]) {
            part.summary.as_mut().unwrap().generated = generated;
        }
        again.summary.as_mut().unwrap().generated = 2;
        p.push(again);
        let m = merge(&p, &MergeOptions::default()).unwrap();
        assert_eq!((m.records.len(), m.duplicates), (4, 2));
        assert_eq!(m.records[2].at_ms, 1, "the first run's record is kept");
        // Samples counted as merged, each once: not 6 generated for 4.
        assert_eq!((m.summary.generated, m.summary.cached), (4, 0));

        // An errored sample is superseded by a scored one, either way round.
        let mut p = two();
        let mut retry = part("runs/b-retry", Some("hash:2/2"), vec![rec("b", 1, "yes")]);
        p[1].records[1].error = Some("connection refused".into());
        p[1].records[1].score = None;
        retry.records.push(rec("b", 0, "yes"));
        retry.records[1].error = Some("boom".into());
        retry.records[1].score = None;
        p.push(retry);
        let m = merge(&p, &MergeOptions::default()).unwrap();
        assert_eq!(m.superseded, 2);
        assert!(m.records.iter().all(|r| r.error.is_none()));
        assert_eq!(m.summary.units.iter().map(|u| u.errors).sum::<usize>(), 0);

        // A part whose model failed to open (no quantization): superseded
        // by the scored sample of the part whose model opened.
        let mut p = two();
        let mut unopened = rec("b", 1, "yes");
        unopened.quantization = None;
        unopened.error = Some("connection refused".into());
        unopened.score = None;
        p.push(part("runs/b-down", Some("hash:2/2"), vec![unopened]));
        let m = merge(&p, &MergeOptions::default()).unwrap();
        assert_eq!((m.records.len(), m.superseded), (4, 1));
        assert!(m.records.iter().all(|r| r.error.is_none()));

        // The same sample with another answer: an error naming it.
        let mut p = two();
        p.push(part("runs/c", Some("hash:2/2"), vec![rec("b", 1, "no")]));
        let e = merge(&p, &MergeOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("conflicting duplicates: sample 1 of `b` [m Q4_K_M plain t=0]")
                && e.contains("runs/b and in runs/c with different response: \"yes\" / \"no\""),
            "{e}"
        );
    }

    #[test]
    fn a_missing_partition_is_an_error_unless_allowed() {
        let p = vec![two().remove(0)];
        let e = merge(&p, &MergeOptions::default()).unwrap_err().to_string();
        assert!(
            e.contains("partition hash:2/2 is missing: the runs hold hash:1/2 of 2"),
            "{e}"
        );
        let m = merge(
            &p,
            &MergeOptions {
                allow_missing: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(m.missing, ["hash:2/2"]);
        assert!(matches!(
            merge(&[], &MergeOptions::default()),
            Err(MergeError::NoRuns)
        ));
    }

    #[test]
    fn runs_are_written_and_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("artifacts/job-1/runs/r1");
        let m = merge(&two(), &MergeOptions::default()).unwrap();
        write(&m, &out).unwrap();
        assert!(write(&m, &out)
            .unwrap_err()
            .to_string()
            .contains("already holds a run"));
        std::fs::write(dir.path().join("artifacts/job-1/runs/latest"), "r1").unwrap();
        assert_eq!(
            find_runs(&dir.path().join("artifacts")),
            std::slice::from_ref(&out)
        );
        assert_eq!(find_runs(&out), std::slice::from_ref(&out));
        let back = Part::load(&out).unwrap();
        assert_eq!(back.records, m.records);
        assert_eq!(back.meta, m.meta);
        assert_eq!(
            back.summary.as_ref().map(|s| &s.units),
            Some(&m.summary.units)
        );
    }
}
