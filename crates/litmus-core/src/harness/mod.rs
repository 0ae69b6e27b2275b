//! The eval harness: the `main` of an eval target (`[[test]] harness = false`).

pub mod args;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::base::backend::SamplingParams;
use crate::base::exit;
use crate::base::paths::{target_dir, workspace_root, TargetLocation};
use crate::eval::registry::EvalEntry;
use crate::output::console::Console;
use crate::plan::config::{Config, DEFAULT_MODEL};
use crate::run::runner::{execute, BackendOpener, Plan};
use crate::run::store::{Cache, RunMeta, RunStore};
use crate::run::summary::RunSummary;
use args::{Args, Format};

fn fail(code: i32, message: &str) -> i32 {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    code
}

/// Runs the harness; returns the process exit code.
pub fn run(site: &TargetLocation, opener: BackendOpener<'_>) -> i32 {
    let args = match Args::from_env() {
        Ok(a) => a,
        Err(e) => {
            // clap's rendering: `error: ...` with a tip and the usage, or the help.
            if e.code == exit::OK {
                print!("{}", e.message);
            } else {
                eprint!("{}", e.message);
            }
            return e.code;
        }
    };
    run_with(site, &args, opener)
}

/// Runs the harness with parsed arguments; returns the exit code.
pub fn run_with(site: &TargetLocation, args: &Args, opener: BackendOpener<'_>) -> i32 {
    let started = Instant::now();
    let entries = match crate::eval::registry::all() {
        Ok(e) => e,
        Err(e) => return fail(exit::USAGE, &e),
    };
    let selected: Vec<&'static EvalEntry> = entries
        .iter()
        .copied()
        .filter(|e| args.selects(&e.full_name(), e.ignore, e.tags))
        .collect();

    if args.list {
        let mut out = std::io::stdout().lock();
        for e in &selected {
            let _ = writeln!(out, "{}: test", e.full_name());
        }
        if args.format != Format::Terse && !args.quiet {
            let _ = writeln!(out, "\n{} evals", selected.len());
        }
        if entries.is_empty() && args.format != Format::Terse {
            let _ = writeln!(
                std::io::stderr(),
                "note: no evals are registered; if they live in another crate, name it in `litmus::main!(that_crate)`"
            );
        }
        return exit::OK;
    }

    let config = match &args.config {
        Some(p) => Config::load(p),
        None => Config::discover(&site.manifest_dir),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => return fail(exit::USAGE, &e.to_string()),
    };
    let all_templates = config.all_templates();
    let template_names: Vec<String> = if !args.templates.is_empty() {
        args.templates.clone()
    } else if !config.run.templates.is_empty() {
        config.run.templates.clone()
    } else {
        vec!["plain".to_string()]
    };
    let mut templates = Vec::new();
    for name in &template_names {
        match crate::eval::template::find(&all_templates, name) {
            Ok(t) => templates.push(t.clone()),
            Err(e) => return fail(exit::USAGE, &e.to_string()),
        }
    }
    let jobs = args.jobs.or(config.run.jobs).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });

    if args.validate {
        let results = crate::run::validate::validate(&selected, &templates, jobs);
        let mut bad = 0;
        for v in &results {
            match &v.result {
                Ok(()) => {
                    if !args.quiet {
                        println!("{:>12} {}", "valid", v.eval);
                    }
                }
                Err(problems) => {
                    bad += 1;
                    println!("{:>12} {}", "INVALID", v.eval);
                    for p in problems {
                        println!("{:>14} {p}", "-");
                    }
                }
            }
        }
        println!("{} evals validated, {} invalid", results.len(), bad);
        return if bad == 0 { exit::OK } else { exit::ERRORED };
    }

    let model_args: Vec<String> = if !args.models.is_empty() {
        args.models.clone()
    } else if !config.run.models.is_empty() {
        config.run.models.clone()
    } else {
        vec![DEFAULT_MODEL.to_string()]
    };
    let mut models = Vec::new();
    for m in &model_args {
        match config.resolve_model(m) {
            Ok(spec) => models.extend(spec.expand()),
            Err(e) => return fail(exit::USAGE, &e),
        }
    }

    let judge = match args.judge.as_ref().or(config.judge.model.as_ref()) {
        Some(m) => match config.resolve_judge(m) {
            Ok(spec) => Some(spec),
            Err(e) => return fail(exit::USAGE, &format!("judge: {e}")),
        },
        None => None,
    };

    let mut params = SamplingParams::default();
    if let Some(seed) = args.seed.or(config.run.seed) {
        params.seed = seed;
    }
    if let Some(n) = args.max_tokens.or(config.run.max_tokens) {
        params.max_tokens = n;
    }
    if let Some(v) = config.run.top_p {
        params.top_p = v;
    }
    if let Some(v) = config.run.top_k {
        params.top_k = v;
    }
    if let Some(v) = config.run.min_p {
        params.min_p = v;
    }
    if let Some(v) = config.run.repeat_penalty {
        params.repeat_penalty = v;
    }
    params.stop = config.run.stop.clone();

    let mut limits = litmus_sandbox::Limits::default();
    if let Some(t) = config.run.timeout_secs {
        limits.timeout = std::time::Duration::from_secs(t);
        limits.cpu_seconds = t;
    }
    let mut min_scores = BTreeMap::new();
    let mut samples_override = HashMap::new();
    for e in &selected {
        if let Some(s) = config.eval_settings(&e.full_name()) {
            if let Some(m) = s.min_score {
                min_scores.insert(e.full_name(), m);
            }
            if let Some(n) = s.samples {
                samples_override.insert(e.full_name(), n);
            }
        }
    }
    let plan = Plan {
        evals: selected.clone(),
        models,
        templates,
        temperatures: if !args.temperatures.is_empty() {
            args.temperatures.clone()
        } else if !config.run.temperatures.is_empty() {
            config.run.temperatures.clone()
        } else {
            vec![0.0]
        },
        samples: args.samples.or(config.run.samples).unwrap_or(3),
        repeat: args.repeat.max(1),
        samples_override,
        params,
        jobs,
        limits,
        min_scores,
        judge,
        stop_rules: config.run.stop_at_definition_end.unwrap_or(true),
    };

    let output_dir = args
        .output_dir
        .clone()
        .or_else(|| {
            config.run.output_dir.as_ref().map(|p| {
                if p.is_absolute() {
                    p.clone()
                } else {
                    config
                        .path
                        .as_deref()
                        .and_then(Path::parent)
                        .unwrap_or(Path::new("."))
                        .join(p)
                }
            })
        })
        .unwrap_or_else(|| target_dir(site).join("litmus"));
    let store = if args.resume {
        RunStore::resume(&output_dir, args.run_id.as_deref())
    } else {
        let meta = RunMeta {
            id: crate::run::store::new_run_id(),
            started: crate::base::util::rfc3339(crate::base::util::now_ms()),
            args: std::env::args().collect(),
            litmus_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        RunStore::create(&output_dir, &meta)
    };
    let store = match store {
        Ok(s) => s,
        Err(e) => return fail(exit::USAGE, &e.to_string()),
    };
    if let Some(path) = &args.run_dir_file {
        // For `cargo eval`, should this process die before its summary is written.
        if let Err(e) = std::fs::write(path, store.dir().display().to_string()) {
            let _ = writeln!(std::io::stderr(), "warning: {}: {e}", path.display());
        }
    }
    let cache = if args.no_cache {
        Cache::disabled()
    } else {
        match Cache::open(&output_dir.join("cache")) {
            Ok(c) => c,
            Err(e) => return fail(exit::USAGE, &e.to_string()),
        }
    };

    if selected.is_empty() {
        let _ = writeln!(std::io::stderr(), "warning: no evals match the filters");
    }
    let mut console = Console::new(args.format, args.quiet, args.color);
    // Replays resolve run ids against this run's output directory.
    let open_any = |spec: &crate::base::model::ModelSpec| match spec.backend {
        crate::base::model::BackendKind::Replay => crate::run::replay::open(&output_dir, spec),
        _ => opener(spec),
    };
    let outcome = execute(&plan, &store, &cache, &open_any, &mut console);
    let mut summary = RunSummary::build(
        store.id(),
        &store.dir().display().to_string(),
        &outcome.records,
        &plan
            .min_scores
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .chain(
                selected
                    .iter()
                    .filter_map(|e| e.min_score.map(|m| (e.full_name(), m))),
            )
            .collect(),
        &outcome.models,
        &outcome.walls,
    );
    summary.load_errors = outcome.load_errors.clone();
    summary.wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    summary.generated = outcome.generated;
    summary.backend_requests = outcome.backend_requests;
    summary.time = outcome.time;
    if let Err(e) = store.write_summary(&summary) {
        let _ = writeln!(std::io::stderr(), "warning: {e}");
    }
    if let Some(path) = &args.summary_json {
        if let Err(e) = std::fs::write(
            path,
            serde_json::to_vec_pretty(&summary).unwrap_or_default(),
        ) {
            let _ = writeln!(std::io::stderr(), "warning: {}: {e}", path.display());
        }
    }
    console.summary(&summary);
    for e in outcome.store_errors.iter().take(3) {
        let _ = writeln!(std::io::stderr(), "warning: results store: {e}");
    }

    let snapshots = if args.no_snapshots {
        Vec::new()
    } else {
        let mut opts = match &site.source_file {
            Some(f) => crate::output::snapshot::SnapshotOptions::for_target(&site.manifest_dir, f),
            None => crate::output::snapshot::SnapshotOptions::new(
                site.manifest_dir.join("evals").join("snapshots"),
                workspace_root(&site.manifest_dir),
            ),
        };
        opts.tolerance = args.tolerance;
        if std::env::var_os("INSTA_OUTPUT").is_none() {
            // litmus reports each snapshot change on one line; insta's full diffs
            // (on stdout, which may hold JSON lines) are for `cargo insta review`.
            std::env::set_var("INSTA_OUTPUT", "none");
        }
        crate::output::snapshot::record(&summary, &opts)
    };
    let mut new_snapshots = 0;
    for s in &snapshots {
        if matches!(s.drift, crate::output::snapshot::Drift::New) && !s.failed && s.error.is_none()
        {
            new_snapshots += 1;
            continue;
        }
        let notable = s.failed
            || s.pending_written
            || s.updated
            || s.error.is_some()
            || matches!(
                s.drift,
                crate::output::snapshot::Drift::Regressed { .. }
                    | crate::output::snapshot::Drift::Improved { .. }
                    | crate::output::snapshot::Drift::Flaky { .. }
            );
        if notable {
            let _ = writeln!(
                std::io::stderr(),
                "{:>12} {} [{}]: {}",
                "snapshot",
                s.eval,
                s.config.label(),
                s.message()
            );
        }
    }
    if new_snapshots > 0 && !args.quiet && args.format != Format::Json {
        let _ = writeln!(
            std::io::stderr(),
            "{:>12} {new_snapshots} new score snapshot{} pending: review with `cargo insta review`",
            "snapshot",
            if new_snapshots == 1 { "" } else { "s" }
        );
    }
    if let Some(path) = &args.junit {
        if let Err(e) = crate::output::ci::write_junit(path, &summary, &snapshots) {
            let _ = writeln!(std::io::stderr(), "warning: {}: {e}", path.display());
        }
    }
    let markdown = crate::output::ci::markdown_summary(&summary, &snapshots);
    if let Some(path) = &args.markdown {
        if let Err(e) = std::fs::write(path, &markdown) {
            let _ = writeln!(std::io::stderr(), "warning: {}: {e}", path.display());
        }
    }
    if let Err(e) = crate::output::ci::append_step_summary(&markdown) {
        let _ = writeln!(std::io::stderr(), "warning: $GITHUB_STEP_SUMMARY: {e}");
    }

    let code = crate::output::ci::exit_code(&summary, &snapshots);
    let message = match code {
        exit::ERRORED => {
            let n = summary.units.iter().filter(|u| u.errors > 0).count();
            format!(
                "{n} eval configuration{} had errors; rerun with --resume to retry only those samples",
                if n == 1 { "" } else { "s" }
            )
        }
        exit::REGRESSED => "some scores regressed beyond noise; if that is intended, run `cargo eval` locally and accept the new snapshots with `cargo insta review`".to_string(),
        exit::BELOW_THRESHOLD => "some evals scored below their min_score".to_string(),
        exit::SNAPSHOT_CHANGED => "some scores improved beyond noise: accept the new snapshots with `cargo insta review` (or rerun with INSTA_UPDATE=always) and commit them".to_string(),
        _ => String::new(),
    };
    if !message.is_empty() {
        let _ = writeln!(std::io::stderr(), "error: {message}");
    }
    code
}
