//! `cargo eval merge`: partial runs (the partitions of one plan, run on
//! several CI jobs or hosts) combined into one run directory with the
//! outputs a run of the whole plan writes: `samples.jsonl`, `summary.json`
//! (rebuilt from the merged samples, see [`crate::run::merge`]), score
//! snapshots, JUnit XML, the Markdown summary (also appended to
//! `$GITHUB_STEP_SUMMARY`) and the exit code. The HTML report is written by
//! `cargo eval` itself (litmus-html builds on this crate).

use std::path::{Path, PathBuf};

use crate::output::ci;
use crate::output::snapshot::{self, SnapshotOptions, SnapshotOutcome};
use crate::run::merge::{find_runs, merge, write, MergeError, MergeOptions, Merged, Part};

/// What to merge, and where the results go.
#[derive(Clone, Debug, Default)]
pub struct MergeRequest {
    /// Run directories, or directories to search for runs (a folder of
    /// downloaded CI artifacts).
    pub runs: Vec<PathBuf>,
    /// The merged run's id.
    pub id: String,
    /// The merged run's directory (created; it must not hold a run).
    pub output: PathBuf,
    /// The command line, recorded in the merged `run.json`.
    pub args: Vec<String>,
    /// Merge even when partitions of the split are missing.
    pub allow_missing: bool,
    /// The workspace root the runs' snapshot directories are relative to;
    /// `None`: no snapshots.
    pub workspace_root: Option<PathBuf>,
    /// Do not record score snapshots.
    pub no_snapshots: bool,
    /// A fixed snapshot tolerance in points.
    pub tolerance: Option<f64>,
    /// Write a JUnit XML report there.
    pub junit: Option<PathBuf>,
    /// Write the Markdown summary there.
    pub markdown: Option<PathBuf>,
}

/// What a merge produced.
#[derive(Debug)]
pub struct MergeReport {
    /// The merged run.
    pub merged: Merged,
    /// The runs merged.
    pub runs: Vec<PathBuf>,
    /// The snapshot outcomes (none with `no_snapshots`).
    pub snapshots: Vec<SnapshotOutcome>,
    /// Warnings (snapshots not compared).
    pub warnings: Vec<String>,
    /// The CI files asked for that could not be written (`--junit`,
    /// `--markdown`, the step summary): errors, as in a run.
    pub unwritten: Vec<String>,
    /// The exit code, as a run of the whole plan would have it (at least
    /// [`crate::base::exit::ERRORED`] with `unwritten` files).
    pub exit_code: i32,
}

/// Merges the runs of `request` and writes the merged run with its outputs.
pub fn merge_runs(request: &MergeRequest) -> Result<MergeReport, MergeError> {
    let mut runs = Vec::new();
    for r in &request.runs {
        let found = find_runs(r);
        if found.is_empty() {
            let message = if r.exists() {
                "no run here (a run directory holds samples.jsonl)"
            } else {
                "no such file or directory"
            };
            return Err(MergeError::Store(crate::run::store::StoreError {
                path: r.clone(),
                message: message.into(),
            }));
        }
        for f in found {
            if !runs.contains(&f) {
                runs.push(f);
            }
        }
    }
    let parts = runs
        .iter()
        .map(|r| Part::load(r))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = merge(
        &parts,
        &MergeOptions {
            id: request.id.clone(),
            dir: request.output.clone(),
            args: request.args.clone(),
            allow_missing: request.allow_missing,
        },
    )?;
    write(&merged, &request.output)?;

    let mut warnings = Vec::new();
    let snapshots = if request.no_snapshots {
        Vec::new()
    } else {
        match snapshot_options(&merged, request) {
            Ok(opts) => snapshot::record(&merged.summary, &opts),
            Err(why) => {
                warnings.push(format!("score snapshots not compared: {why}"));
                Vec::new()
            }
        }
    };
    let summary = &merged.summary;
    let unwritten = ci::write_outputs(
        summary,
        &snapshots,
        request.junit.as_deref(),
        request.markdown.as_deref(),
    );
    let exit_code = ci::with_unwritten(ci::exit_code(summary, &snapshots), &unwritten);
    Ok(MergeReport {
        merged,
        runs,
        snapshots,
        warnings,
        unwritten,
        exit_code,
    })
}

/// Where the merged run's snapshots are: the eval target's snapshot
/// directory recorded in the runs' `run.json`, under the workspace root.
fn snapshot_options(merged: &Merged, request: &MergeRequest) -> Result<SnapshotOptions, String> {
    let root = request
        .workspace_root
        .as_deref()
        .ok_or("no workspace to find them in")?;
    let settings = merged
        .meta
        .settings
        .as_ref()
        .ok_or("the runs do not say where their snapshots are (made by an older litmus)")?;
    let dir = settings
        .snapshot_dir
        .as_deref()
        .ok_or("the runs do not say where their snapshots are")?;
    // The runs may be downloaded artifacts: what they say must not steer
    // the files written outside the workspace.
    let inside = |p: &str| {
        let path = Path::new(p);
        (!p.is_empty()
            && path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_))))
        .then(|| root.join(path))
    };
    let snapshot_dir = inside(dir).ok_or_else(|| {
        format!(
            "the runs place their snapshots at `{}`, which is not a directory inside the workspace",
            crate::base::util::printable(dir)
        )
    })?;
    let mut opts = SnapshotOptions::new(snapshot_dir, root);
    opts.input_file = settings.target.as_deref().and_then(inside);
    opts.tolerance = request.tolerance;
    Ok(opts)
}

/// `merged 4 runs (hash:1/4 … hash:4/4): 596 samples, 2 duplicates counted once`.
pub fn describe(report: &MergeReport, dir: &Path) -> String {
    let m = &report.merged;
    let parts: Vec<String> = m
        .meta
        .merged_from
        .iter()
        .filter_map(|r| r.partition.map(|p| p.to_string()))
        .collect();
    let mut s = format!(
        "merged {} run{}{}: {} samples",
        report.runs.len(),
        if report.runs.len() == 1 { "" } else { "s" },
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        },
        m.records.len()
    );
    if m.duplicates > 0 {
        s.push_str(&format!(", {} duplicates counted once", m.duplicates));
    }
    if m.superseded > 0 {
        s.push_str(&format!(
            ", {} errored samples replaced by scored ones",
            m.superseded
        ));
    }
    if !m.missing.is_empty() {
        s.push_str(&format!("; missing: {}", m.missing.join(", ")));
    }
    s.push_str(&format!(" → {}", dir.display()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::store::{RunMeta, RunSettings};
    use crate::run::summary::RunSummary;

    fn placed_at(dir: &str, target: &str) -> Result<SnapshotOptions, String> {
        let merged = Merged {
            meta: RunMeta {
                settings: Some(RunSettings {
                    snapshot_dir: Some(dir.into()),
                    target: Some(target.into()),
                    ..RunSettings::default()
                }),
                ..RunMeta::default()
            },
            records: Vec::new(),
            summary: RunSummary::build(
                "r",
                "d",
                &[],
                &Default::default(),
                &Default::default(),
                &Default::default(),
            ),
            duplicates: 0,
            superseded: 0,
            missing: Vec::new(),
        };
        let request = MergeRequest {
            workspace_root: Some("/ws".into()),
            ..MergeRequest::default()
        };
        snapshot_options(&merged, &request)
    }

    #[test]
    fn downloaded_runs_cannot_place_snapshots_outside_the_workspace() {
        let ok = placed_at("evals/snapshots", "evals/main.rs").unwrap();
        assert_eq!(ok.dir, Path::new("/ws/evals/snapshots"));
        assert_eq!(
            ok.input_file.as_deref(),
            Some(Path::new("/ws/evals/main.rs"))
        );
        for dir in [
            "/tmp/elsewhere",
            "../out",
            "evals/../../out",
            "",
            "./x/../../y",
        ] {
            let e = placed_at(dir, "evals/main.rs").unwrap_err();
            assert!(
                e.contains("not a directory inside the workspace"),
                "{dir}: {e}"
            );
        }
        // A target outside it is not recorded as the snapshots' input file.
        let outside = placed_at("evals/snapshots", "/etc/passwd").unwrap();
        assert_eq!(outside.input_file, None);
    }
}
