//! `cargo eval merge`: partial runs (the partitions of one plan, run on
//! several CI jobs or hosts) combined into one run directory with the
//! outputs a run of the whole plan writes: `samples.jsonl`, `summary.json`
//! (rebuilt from the merged samples, see [`crate::run::merge`]), score
//! snapshots, JUnit XML, the Markdown summary (also appended to
//! `$GITHUB_STEP_SUMMARY`) and the exit code. The HTML report is written by
//! `cargo eval` itself (litmus-html builds on this crate).

use std::path::{Path, PathBuf};

use crate::base::exit;
use crate::output::ci;
use crate::output::snapshot::{self, Drift, SnapshotOptions, SnapshotOutcome};
use crate::run::merge::{find_runs, merge, write, MergeError, MergeOptions, Merged, Part};
use crate::run::summary::RunSummary;

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
    /// Warnings (files that could not be written, snapshots not recorded).
    pub warnings: Vec<String>,
    /// The exit code, as a run of the whole plan would have it.
    pub exit_code: i32,
}

/// Merges the runs of `request` and writes the merged run with its outputs.
pub fn merge_runs(request: &MergeRequest) -> Result<MergeReport, MergeError> {
    let mut runs = Vec::new();
    for r in &request.runs {
        let found = find_runs(r);
        if found.is_empty() {
            return Err(MergeError::Store(crate::run::store::StoreError {
                path: r.clone(),
                message: "no run here (a run directory holds samples.jsonl)".into(),
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
            Ok(opts) => {
                if std::env::var_os("INSTA_OUTPUT").is_none() {
                    // One line per change (as the harness reports them).
                    std::env::set_var("INSTA_OUTPUT", "none");
                }
                snapshot::record(&merged.summary, &opts)
            }
            Err(why) => {
                warnings.push(format!("score snapshots not compared: {why}"));
                Vec::new()
            }
        }
    };
    let summary = &merged.summary;
    if let Some(path) = &request.junit {
        if let Err(e) = ci::write_junit(path, summary, &snapshots) {
            warnings.push(format!("{}: {e}", path.display()));
        }
    }
    let markdown = ci::markdown_summary(summary, &snapshots);
    if let Some(path) = &request.markdown {
        if let Err(e) = std::fs::write(path, &markdown) {
            warnings.push(format!("{}: {e}", path.display()));
        }
    }
    if let Err(e) = ci::append_step_summary(&markdown) {
        warnings.push(format!("$GITHUB_STEP_SUMMARY: {e}"));
    }
    let exit_code = ci::exit_code(summary, &snapshots);
    Ok(MergeReport {
        merged,
        runs,
        snapshots,
        warnings,
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
    let mut opts = SnapshotOptions::new(root.join(dir), root);
    opts.input_file = settings.target.as_deref().map(|t| root.join(t));
    opts.tolerance = request.tolerance;
    Ok(opts)
}

/// The lines worth showing about `snapshots` (as the harness shows them):
/// changes, failures and errors, then how many new ones wait for review.
pub fn snapshot_lines(snapshots: &[SnapshotOutcome]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut new = 0;
    for s in snapshots {
        if matches!(s.drift, Drift::New) && !s.failed && s.error.is_none() {
            new += 1;
            continue;
        }
        let notable = s.failed
            || s.pending_written
            || s.updated
            || s.error.is_some()
            || matches!(
                s.drift,
                Drift::Regressed { .. } | Drift::Improved { .. } | Drift::Flaky { .. }
            );
        if notable {
            lines.push(format!(
                "{:>12} {} [{}]: {}",
                "snapshot",
                s.eval,
                s.config.label(),
                s.message()
            ));
        }
    }
    if new > 0 {
        lines.push(format!(
            "{:>12} {new} new score snapshot{} pending: review with `cargo insta review`",
            "snapshot",
            if new == 1 { "" } else { "s" }
        ));
    }
    lines
}

/// What an exit code of a run means, for the line that ends its output
/// (empty for success).
pub fn exit_message(code: i32, summary: &RunSummary) -> String {
    match code {
        exit::ERRORED => {
            let n = summary.units.iter().filter(|u| u.errors > 0).count();
            format!(
                "{n} eval configuration{} had errors (or a model failed to load)",
                if n == 1 { "" } else { "s" }
            )
        }
        exit::REGRESSED => "some scores regressed beyond noise".to_string(),
        exit::BELOW_THRESHOLD => "some evals scored below their min_score".to_string(),
        exit::SNAPSHOT_CHANGED => "some scores improved beyond noise: accept the new snapshots with `cargo insta review` and commit them".to_string(),
        _ => String::new(),
    }
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
