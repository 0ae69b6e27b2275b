//! CI outputs of a run: JUnit XML, a Markdown summary for GitHub Actions, and
//! the exit code.
//!
//! Each eval under each configuration is one result, classified by
//! [`verdict`]: errored (samples failed, or the snapshot could not be
//! written), regressed (its score snapshot failed on a significant drop, see
//! [`crate::output::snapshot`]), below threshold (its mean score is under its
//! `min_score`), snapshot changed (its snapshot failed on a significant
//! rise), or passed. [`exit_code`] turns the worst of them into the process's
//! exit code (see [`crate::base::exit`], the one table of exit codes and
//! their precedence).
//!
//! An eval without a snapshot has no baseline to regress from: it passes,
//! and the reports say that its snapshot is new (locally a `.snap.new` waits
//! for `cargo insta review`; on CI nothing is written).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::base::exit;
use crate::output::snapshot::{Drift, SnapshotOutcome};
use crate::run::store::ConfigKey;
use crate::run::summary::{RunSummary, UnitSummary};

/// What kind of failure a result has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// The score snapshot failed on a significant drop.
    Regressed,
    /// The mean score is below the eval's `min_score`.
    BelowThreshold,
    /// The score snapshot failed on a significant rise.
    SnapshotChanged,
}

impl FailureKind {
    /// A short identifier, used as JUnit's failure `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Regressed => "regressed",
            FailureKind::BelowThreshold => "below_threshold",
            FailureKind::SnapshotChanged => "snapshot_changed",
        }
    }

    /// The exit code for this kind.
    pub fn exit_code(self) -> i32 {
        match self {
            FailureKind::Regressed => exit::REGRESSED,
            FailureKind::BelowThreshold => exit::BELOW_THRESHOLD,
            FailureKind::SnapshotChanged => exit::SNAPSHOT_CHANGED,
        }
    }
}

/// The classification of one eval under one configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    /// Why it errored, if it did.
    pub errors: Vec<String>,
    /// Its failures, most severe first.
    pub failures: Vec<(FailureKind, String)>,
}

impl Verdict {
    /// Neither errored nor failed.
    pub fn passed(&self) -> bool {
        self.errors.is_empty() && self.failures.is_empty()
    }

    /// A word for the result: `passed`, `errored`, `regressed`,
    /// `below_threshold` or `snapshot_changed`.
    pub fn status(&self) -> &'static str {
        if !self.errors.is_empty() {
            "errored"
        } else if let Some((k, _)) = self.failures.first() {
            k.as_str()
        } else {
            "passed"
        }
    }
}

/// Classifies `unit`, given its snapshot outcome (if snapshots were recorded).
pub fn verdict(unit: &UnitSummary, snapshot: Option<&SnapshotOutcome>) -> Verdict {
    let mut v = Verdict::default();
    if unit.errors > 0 {
        let total = unit.errors + unit.scored;
        v.errors.push(format!(
            "{} of {total} sample{} errored: {}",
            unit.errors,
            if total == 1 { "" } else { "s" },
            unit.first_error.as_deref().unwrap_or("unknown error")
        ));
    }
    if let Some(e) = snapshot.and_then(|s| s.error.as_ref()) {
        v.errors.push(format!("score snapshot: {e}"));
    }
    if let Some(s) = snapshot.filter(|s| s.regression_failed()) {
        v.failures.push((FailureKind::Regressed, s.message()));
    }
    if unit.below_min() {
        v.failures.push((
            FailureKind::BelowThreshold,
            format!(
                "score {:.1} is below min_score {:.1}",
                unit.score.mean,
                unit.min_score.unwrap_or_default()
            ),
        ));
    }
    if let Some(s) =
        snapshot.filter(|s| s.failed && !s.regression_failed() && s.drift != Drift::New)
    {
        v.failures.push((FailureKind::SnapshotChanged, s.message()));
    }
    v
}

fn index(snapshots: &[SnapshotOutcome]) -> BTreeMap<(&str, &ConfigKey), &SnapshotOutcome> {
    snapshots
        .iter()
        .map(|s| ((s.eval.as_str(), &s.config), s))
        .collect()
}

/// The exit code of a run: [`exit::ERRORED`] when a model failed to load or
/// an eval errored, else [`exit::REGRESSED`], [`exit::BELOW_THRESHOLD`],
/// [`exit::SNAPSHOT_CHANGED`] for the first kind of failure found in that
/// order, else [`exit::OK`].
pub fn exit_code(summary: &RunSummary, snapshots: &[SnapshotOutcome]) -> i32 {
    let snaps = index(snapshots);
    let verdicts: Vec<Verdict> = summary
        .units
        .iter()
        .map(|u| verdict(u, snaps.get(&(u.eval.as_str(), &u.config)).copied()))
        .collect();
    let errored = !summary.load_errors.is_empty() || verdicts.iter().any(|v| !v.errors.is_empty());
    verdicts
        .iter()
        .flat_map(|v| v.failures.iter().map(|(k, _)| k.exit_code()))
        .chain(errored.then_some(exit::ERRORED))
        .fold(exit::OK, exit::worst)
}

/// `s` with the characters XML 1.0 cannot hold replaced by U+FFFD and tabs
/// by spaces (quick-junit would drop both silently, gluing words together).
fn xml_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' => ' ',
            '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// [`xml_text`] for an attribute value: line breaks and tabs become spaces
/// (what XML attribute-value normalization would make of them on reading).
fn xml_attr(s: &str) -> String {
    xml_text(s).replace(['\n', '\r', '\t'], " ")
}

fn duration(ms: f64) -> Duration {
    Duration::from_secs_f64(if ms.is_finite() {
        ms.max(0.0) / 1000.0
    } else {
        0.0
    })
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

/// A description of a unit's result, for JUnit's `system-out`.
fn details(unit: &UnitSummary, snapshot: Option<&SnapshotOutcome>) -> String {
    let mut s = format!(
        "score {:.1} (95% CI {}), pass rate {:.0}%, {} scored, {} errored",
        unit.score.mean,
        unit.score.ci(),
        unit.pass_rate * 100.0,
        unit.scored,
        unit.errors
    );
    if let Some(m) = unit.min_score {
        let _ = write!(s, ", min_score {m:.1}");
    }
    if let Some(snap) = snapshot {
        let _ = write!(s, "\nsnapshot {}: {}", snap.path.display(), snap.message());
    }
    s
}

fn groups(summary: &RunSummary) -> Vec<(&ConfigKey, Vec<&UnitSummary>)> {
    let mut out: Vec<(&ConfigKey, Vec<&UnitSummary>)> = Vec::new();
    for u in &summary.units {
        match out.iter_mut().find(|(c, _)| *c == &u.config) {
            Some((_, us)) => us.push(u),
            None => out.push((&u.config, vec![u])),
        }
    }
    out
}

/// JUnit XML for the run: one `<testsuite>` per configuration (named by its
/// label), one `<testcase>` per eval and configuration (`classname` = the
/// configuration's label, `name` = the eval), a `<failure>` per regression,
/// score below threshold or changed snapshot, an `<error>` for an errored
/// eval, and a `<testsuite name="model load">` for models that failed to
/// load.
pub fn junit_xml(summary: &RunSummary, snapshots: &[SnapshotOutcome]) -> String {
    junit_report(summary, snapshots)
        .to_string()
        .expect("a JUnit report serializes to a String")
}

/// The JUnit report of [`junit_xml`], as quick-junit's data model.
pub fn junit_report(summary: &RunSummary, snapshots: &[SnapshotOutcome]) -> Report {
    let snaps = index(snapshots);
    let mut report = Report::new("litmus");
    let mut all_ms = 0.0;
    for (config, units) in groups(summary) {
        let label = xml_attr(&config.label());
        let mut suite = TestSuite::new(label.as_str());
        let mut ms = 0.0;
        let mut props = vec![
            ("model", config.model.clone()),
            ("template", config.template.clone()),
            ("temperature", config.temperature().to_string()),
        ];
        if let Some(q) = &config.quantization {
            props.push(("quantization", q.clone()));
        }
        if !summary.run_id.is_empty() {
            props.push(("run_id", summary.run_id.clone()));
        }
        if let Some(m) = summary
            .configs
            .iter()
            .find(|c| &c.config == config)
            .and_then(|c| c.model.as_ref())
        {
            props.push(("backend", m.backend.clone()));
            if !m.digest.is_empty() {
                props.push(("digest", m.digest.clone()));
            }
        }
        suite.add_properties(
            props
                .into_iter()
                .map(|(k, v)| Property::new(k, xml_attr(&v))),
        );
        for u in &units {
            let snap = snaps.get(&(u.eval.as_str(), &u.config)).copied();
            let v = verdict(u, snap);
            let status = if !v.errors.is_empty() {
                let msg = xml_text(&v.errors.join("; "));
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status
                    .set_message(xml_attr(&truncate(&msg, 1000)))
                    .set_type("errored")
                    .set_description(msg);
                status
            } else if let Some((kind, _)) = v.failures.first() {
                let msg = xml_text(
                    &v.failures
                        .iter()
                        .map(|(_, m)| m.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                );
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(xml_attr(&truncate(&msg, 1000)))
                    .set_type(kind.as_str())
                    .set_description(msg);
                status
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new(xml_attr(&u.eval), status);
            case.set_classname(label.as_str())
                .set_time(duration(u.wall_ms))
                .set_system_out(xml_text(&details(u, snap)));
            suite.add_test_case(case);
            ms += if u.wall_ms.is_finite() {
                u.wall_ms
            } else {
                0.0
            };
        }
        suite.set_time(duration(ms));
        report.add_test_suite(suite);
        all_ms += ms;
    }
    if !summary.load_errors.is_empty() {
        let mut suite = TestSuite::new("model load");
        for (model, reason) in &summary.load_errors {
            let reason = xml_text(reason);
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(xml_attr(&truncate(&reason, 1000)))
                .set_type("load")
                .set_description(reason);
            let mut case = TestCase::new("load", status);
            case.set_classname(xml_attr(model)).set_time(Duration::ZERO);
            suite.add_test_case(case);
        }
        suite.set_time(Duration::ZERO);
        report.add_test_suite(suite);
    }
    report.set_time(duration(if summary.wall_ms > 0.0 {
        summary.wall_ms
    } else {
        all_ms
    }));
    report
}

/// Writes [`junit_xml`] to `path`, creating its directory.
pub fn write_junit(
    path: &Path,
    summary: &RunSummary,
    snapshots: &[SnapshotOutcome],
) -> std::io::Result<()> {
    write_creating_dir(path, junit_xml(summary, snapshots).as_bytes())
}

/// Writes `data` to `path`, creating its directory first (as `--junit` and
/// `--markdown` both do).
fn write_creating_dir(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, data)
}

/// Escapes text for a Markdown table cell, as lightly as a report of
/// numbers needs: pipes, backslashes, backticks and `*` escaped, HTML's
/// `<`, `>` and `&` as entities, `](` broken so no link forms, line breaks
/// as spaces, control and bidirectional characters dropped. Brackets and
/// underscores stay as they are (`[0.5, 1.0]`, `Q4_K_M`).
///
/// ```
/// use litmus_core::output::ci::md_cell;
///
/// assert_eq!(md_cell("Q4_K_M [1.0, 2.0]"), "Q4_K_M [1.0, 2.0]");
/// assert_eq!(md_cell("a|b\n## c <img> [x](y)"), "a\\|b ## c &lt;img&gt; [x]\\(y)");
/// ```
pub fn md_cell(s: &str) -> String {
    markdown_escaped(s, &[])
}

/// Markdown text with `|`, `\`, `` ` ``, `*` and the characters of `also`
/// backslash-escaped, `](` broken, `<`, `>`, `&` as entities, line breaks
/// as spaces, and control and bidirectional characters dropped.
fn markdown_escaped(s: &str, also: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = None;
    for c in s.chars() {
        match c {
            '|' | '\\' | '`' | '*' => {
                out.push('\\');
                out.push(c);
            }
            c if also.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            '(' if prev == Some(']') => out.push_str("\\("),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() || crate::base::util::is_bidi_control(c) => {}
            c => out.push(c),
        }
        prev = Some(c);
    }
    out
}

/// Titled tables as Markdown: a `###` heading each, then the table (the
/// first row its header; the first column left-aligned, the others right),
/// every cell [`md_cell`].
pub fn sections_markdown(sections: &[(String, Vec<Vec<String>>)]) -> String {
    let mut out = String::new();
    for (title, rows) in sections {
        out.push_str(&format!("### {}\n\n", md_cell(title)));
        for (i, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
            if i == 0 {
                let sep: Vec<&str> = (0..row.len())
                    .map(|j| if j == 0 { "---" } else { "---:" })
                    .collect();
                out.push_str(&format!("| {} |\n", sep.join(" | ")));
            }
        }
        out.push('\n');
    }
    out
}

/// Escapes text for a Markdown table cell (pipes, newlines, HTML), and
/// `_`, `[`, `]` too: [`md_cell`] for names and free text.
pub fn md_escape(s: &str) -> String {
    markdown_escaped(s, &['_', '[', ']'])
}

fn snapshot_cell(snap: Option<&SnapshotOutcome>) -> String {
    let Some(s) = snap else {
        return "–".to_string();
    };
    let mut cell = match (&s.drift, s.baseline, s.tolerance) {
        (Drift::Unchanged, Some(b), Some(t)) => format!("= {b:.1} (±{t:.1})"),
        (Drift::Improved { from, to }, _, Some(t)) => {
            format!("📈 {from:.1} → {to:.1} (±{t:.1})")
        }
        (Drift::Regressed { from, to }, _, Some(t)) => {
            format!("📉 {from:.1} → {to:.1} (±{t:.1})")
        }
        (Drift::Flaky { from, to }, _, _) => format!(
            "〰️ flaky {from:.1} → {to:.1} (noise ±{:.1})",
            s.noise.unwrap_or_default()
        ),
        (Drift::New, _, _) => "🆕 new".to_string(),
        (Drift::Skipped { .. }, _, _) => "not recorded".to_string(),
        (d, _, _) => d.to_string(),
    };
    if s.pending_written {
        cell.push_str(", pending review");
    } else if s.updated {
        cell.push_str(", updated");
    }
    md_escape(&cell)
}

/// A Markdown report of the run: a headline with the counts and a table with
/// one row per eval and configuration (score, 95% CI, pass rate, samples,
/// snapshot drift, status), failures and errors explained below it.
pub fn markdown_summary(summary: &RunSummary, snapshots: &[SnapshotOutcome]) -> String {
    let snaps = index(snapshots);
    let configs = groups(summary).len();
    let evals = {
        let mut e: Vec<&str> = summary.units.iter().map(|u| u.eval.as_str()).collect();
        e.sort_unstable();
        e.dedup();
        e.len()
    };
    let mut rows = String::new();
    let mut notes = Vec::new();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for u in &summary.units {
        let snap = snaps.get(&(u.eval.as_str(), &u.config)).copied();
        let v = verdict(u, snap);
        let status = v.status();
        *counts.entry(status).or_default() += 1;
        let flaky = snap.is_some_and(|s| matches!(s.drift, Drift::Flaky { .. }));
        let icon = match status {
            "passed" if flaky => "〰️ flaky (passed)",
            "passed" => "✅ passed",
            "errored" => "💥 errored",
            "regressed" => "❌ regressed",
            "below_threshold" => "⚠️ below min_score",
            _ => "🔎 snapshot changed",
        };
        let _ = writeln!(
            rows,
            "| {} | {} | {:.1} | {} | {:.0}% | {} | {} | {icon} |",
            md_escape(&u.eval),
            md_escape(&u.config.label()),
            u.score.mean,
            u.score.ci(),
            u.pass_rate * 100.0,
            u.scored,
            snapshot_cell(snap),
        );
        for e in &v.errors {
            notes.push(format!(
                "- 💥 **{}** ({}): {}",
                md_escape(&u.eval),
                md_escape(&u.config.label()),
                md_escape(&truncate(e, 500))
            ));
        }
        for (_, m) in &v.failures {
            notes.push(format!(
                "- **{}** ({}): {}",
                md_escape(&u.eval),
                md_escape(&u.config.label()),
                md_escape(m)
            ));
        }
    }
    for (model, reason) in &summary.load_errors {
        notes.push(format!(
            "- 💥 model **{}** failed to load: {}",
            md_escape(model),
            md_escape(&truncate(reason, 500))
        ));
    }
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    let mut md = String::from("## litmus eval results\n\n");
    let _ = write!(
        md,
        "**{evals} eval{} × {configs} configuration{}**: passed {} · regressed {} · below min_score {} · snapshot changed {} · errored {}",
        if evals == 1 { "" } else { "s" },
        if configs == 1 { "" } else { "s" },
        count("passed"),
        count("regressed"),
        count("below_threshold"),
        count("snapshot_changed"),
        count("errored"),
    );
    let new = snapshots.iter().filter(|s| s.drift == Drift::New).count();
    if new > 0 {
        let _ = write!(md, " · new snapshots {new}");
    }
    let flaky = snapshots
        .iter()
        .filter(|s| matches!(s.drift, Drift::Flaky { .. }))
        .count();
    if flaky > 0 {
        let _ = write!(md, " · flaky (within run-to-run noise) {flaky}");
    }
    if !summary.load_errors.is_empty() {
        let _ = write!(md, " · model load failed {}", summary.load_errors.len());
    }
    md.push_str("\n\n");
    if !summary.units.is_empty() {
        md.push_str(
            "| eval | configuration | score | 95% CI | pass rate | n | snapshot | status |\n",
        );
        md.push_str("| --- | --- | ---: | --- | ---: | ---: | --- | --- |\n");
        md.push_str(&rows);
        md.push('\n');
    }
    if !notes.is_empty() {
        md.push_str(&notes.join("\n"));
        md.push_str("\n\n");
    }
    if snapshots
        .iter()
        .any(|s| s.drift != Drift::New && (s.failed || s.pending_written))
    {
        md.push_str(
            "Score snapshots changed beyond noise: run `cargo eval` locally, then `cargo insta review`.\n\n",
        );
    }
    if new > 0 {
        let _ = writeln!(
            md,
            "{new} eval configuration{} no score snapshot (no baseline) yet: run `cargo eval` locally, accept with `cargo insta review` and commit the snapshots.\n",
            if new == 1 { " has" } else { "s have" }
        );
    }
    md
}

/// Appends `markdown` to the file named by `$GITHUB_STEP_SUMMARY`, when set;
/// returns that path.
pub fn append_step_summary(markdown: &str) -> std::io::Result<Option<PathBuf>> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    append_to(&path, markdown)?;
    Ok(Some(path))
}

/// Appends `text` to `path`, creating it.
pub fn append_to(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// The CI files of a run (or a merged one): JUnit XML at `junit`, the
/// Markdown summary at `markdown` and appended to `$GITHUB_STEP_SUMMARY`.
/// Returns the files that could not be written, each named by its flag; a
/// run or a merge that asked for a report and got none ends
/// [`exit::ERRORED`] ([`with_unwritten`]).
pub fn write_outputs(
    summary: &RunSummary,
    snapshots: &[SnapshotOutcome],
    junit: Option<&Path>,
    markdown: Option<&Path>,
) -> Vec<String> {
    let mut unwritten = Vec::new();
    if let Some(path) = junit {
        if let Err(e) = write_junit(path, summary, snapshots) {
            unwritten.push(format!("--junit {}: {e}", path.display()));
        }
    }
    let text = markdown_summary(summary, snapshots);
    if let Some(path) = markdown {
        if let Err(e) = write_creating_dir(path, text.as_bytes()) {
            unwritten.push(format!("--markdown {}: {e}", path.display()));
        }
    }
    if let Err(e) = append_step_summary(&text) {
        unwritten.push(format!("$GITHUB_STEP_SUMMARY: {e}"));
    }
    unwritten
}

/// The exit code of a run or merge whose scores give `code` and whose CI
/// files `unwritten` ([`write_outputs`]) could not be written: at least
/// [`exit::ERRORED`] when any could not.
pub fn with_unwritten(code: i32, unwritten: &[String]) -> i32 {
    if unwritten.is_empty() {
        code
    } else {
        exit::worst(exit::ERRORED, code)
    }
}

/// What exit code `code` of a run ([`exit_code`]) means and what to do
/// about it, for the line that ends the output of a run or, with `merged`,
/// of `cargo eval merge` (empty for success).
pub fn exit_message(code: i32, summary: &RunSummary, merged: bool) -> String {
    match code {
        exit::ERRORED => {
            let n = summary.units.iter().filter(|u| u.errors > 0).count();
            format!(
                "{n} eval configuration{} had errors (or a model failed to load); {}",
                if n == 1 { "" } else { "s" },
                if merged {
                    "resume the runs that had them (`cargo eval --resume --run-id ID` as each ran), then merge again"
                } else if !summary.load_errors.is_empty() {
                    "fix what kept the model from loading (above), then rerun with --resume to run only those samples"
                } else {
                    "rerun with --resume to retry only those samples"
                }
            )
        }
        exit::REGRESSED => format!(
            "some scores regressed beyond noise; if that is intended, {}accept the new snapshots with `cargo insta review`",
            if merged { "" } else { "run `cargo eval` locally and " }
        ),
        exit::BELOW_THRESHOLD => "some evals scored below their min_score".to_string(),
        exit::SNAPSHOT_CHANGED => "some scores improved beyond noise: accept the new snapshots with `cargo insta review` (or rerun with INSTA_UPDATE=always) and commit them".to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary of a run with no samples.
    fn empty_summary() -> RunSummary {
        RunSummary::build(
            "r",
            "dir",
            &[],
            &Default::default(),
            &Default::default(),
            &Default::default(),
        )
    }

    /// A model that failed to load: the last line says to fix that first,
    /// not only to resume.
    #[test]
    fn a_failed_load_is_fixed_before_resuming() {
        let mut summary = empty_summary();
        let plain = exit_message(exit::ERRORED, &summary, false);
        assert!(
            plain.ends_with("rerun with --resume to retry only those samples"),
            "{plain}"
        );
        summary.load_errors.push(("m".into(), "HTTP 404".into()));
        let load = exit_message(exit::ERRORED, &summary, false);
        assert!(
            load.contains("fix what kept the model from loading (above), then rerun with --resume"),
            "{load}"
        );
    }

    /// `--junit` and `--markdown` into folders that do not exist yet: both
    /// written, no warning (the Markdown file was left out with a warning).
    #[test]
    fn junit_and_markdown_create_their_folders() {
        if std::env::var_os("GITHUB_STEP_SUMMARY").is_some() {
            return; // the step summary would be appended to as well
        }
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("a/b/junit.xml");
        let markdown = dir.path().join("c/d/summary.md");
        let summary = empty_summary();
        let warnings = write_outputs(&summary, &[], Some(&junit), Some(&markdown));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuites"));
        assert_eq!(
            std::fs::read_to_string(&markdown).unwrap(),
            markdown_summary(&summary, &[])
        );
    }
}
