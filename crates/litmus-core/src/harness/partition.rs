//! The harness's side of running on several machines: `--partition` cuts the
//! plan down to one share of its instances (see [`crate::plan::partition`]),
//! `--list --partition` lists that share, and `run.json` records what
//! `cargo eval merge` checks before it combines runs ([`run_meta`]).

use std::io::Write;
use std::path::Path;

use crate::base::exit;
use crate::base::paths::{workspace_root, TargetLocation};
use crate::harness::args::{Args, Format};
use crate::plan::matrix::{applies, build_cases, Plan};
use crate::plan::partition::{instances, InstanceKey, PartitionInfo};
use crate::run::store::{RunMeta, RunSettings};

/// Applies `--partition` to `plan`: keeps the models and evals that have an
/// instance in the partition and sets [`Plan::partition`]. With `list`
/// (`--list` without `--instances`), prints the partition's evals and its
/// share and returns `Err(exit code)`: the harness stops there. Without
/// `--partition`, changes nothing.
pub fn apply(args: &Args, plan: &mut Plan, list: bool) -> Result<Option<PartitionInfo>, i32> {
    let Some(partition) = args.partition else {
        return Ok(None);
    };
    // Which templates apply to which evals, as the runner decides it.
    let cases = build_cases(&plan.evals);
    let names: Vec<String> = plan.evals.iter().map(|e| e.full_name()).collect();
    let models: Vec<(String, Option<String>)> = plan
        .models
        .iter()
        .map(|m| (m.name.clone(), m.quantization.clone()))
        .collect();
    let templates: Vec<String> = plan.templates.iter().map(|t| t.name.clone()).collect();
    let all = instances(&names, &models, &templates, &plan.temperatures, |ei, ti| {
        applies(&cases[ei], &plan.templates[ti])
    });
    let selection = partition.select(&all);
    let has = |pred: &dyn Fn(&InstanceKey) -> bool| selection.keys.iter().any(pred);

    if list {
        let mut out = std::io::stdout().lock();
        for name in names.iter().filter(|n| has(&|k| &k.eval == *n)) {
            let _ = writeln!(out, "{name}: test");
        }
        if args.format != Format::Terse && !args.quiet {
            let evals = names.iter().filter(|n| has(&|k| &k.eval == *n)).count();
            let _ = writeln!(out, "\n{evals} evals\n{}", selection.describe());
        }
        return Err(exit::OK);
    }

    plan.models
        .retain(|m| has(&|k| k.model == m.name && k.quantization == m.quantization));
    plan.evals.retain(|e| {
        let name = e.full_name();
        has(&|k| k.eval == name)
    });
    if !args.quiet && !args.list && args.format == Format::Human {
        let _ = writeln!(
            std::io::stderr(),
            "{:>12} {}",
            "Partition",
            selection.describe()
        );
    }
    let info = selection.info();
    plan.partition = Some(selection);
    Ok(Some(info))
}

/// The `run.json` of a new run of `plan` in eval target `site`: its id,
/// command line and litmus version, its partition, and the settings that
/// `cargo eval merge` requires merged runs to agree on.
pub fn run_meta(site: &TargetLocation, plan: &Plan, partition: Option<PartitionInfo>) -> RunMeta {
    let root = workspace_root(&site.manifest_dir);
    let relative = |p: &Path| {
        p.strip_prefix(&root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let (target, snapshot_dir) = match &site.source_file {
        Some(f) => {
            let o = crate::output::snapshot::SnapshotOptions::for_target(&site.manifest_dir, f);
            (o.input_file.as_deref().map(relative), relative(&o.dir))
        }
        None => (
            None,
            relative(&site.manifest_dir.join("evals").join("snapshots")),
        ),
    };
    RunMeta {
        id: crate::run::store::new_run_id(),
        started: crate::base::util::rfc3339(crate::base::util::now_ms()),
        args: std::env::args().collect(),
        litmus_version: env!("CARGO_PKG_VERSION").to_string(),
        partition,
        settings: Some(RunSettings {
            params: plan.params.clone(),
            samples: plan.samples,
            repeat: plan.repeat.max(1),
            judge: plan.judge.as_ref().map(|j| j.name.clone()),
            target,
            snapshot_dir: Some(snapshot_dir),
        }),
        merged_from: Vec::new(),
        placement: None,
    }
}
