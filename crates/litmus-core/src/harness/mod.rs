//! The eval harness: the `main` of an eval target (`[[test]] harness = false`).
//!
//! [`run_with`] goes through the phases in order, one private helper each:
//! the arguments select evals (`select`) and name a configuration
//! (`load_config`); `--list` stops there (`list_evals`, or `list_instances`
//! with `--instances`) and `--validate` checks the evals (`validate`);
//! otherwise the plan is resolved ([`crate::plan::resolve::plan`]), run into
//! a results store (`open_store`, `run_plan`), summarized (`summarize`) and
//! reported (`snapshots`, `ci_outputs`), and the exit code says how it went
//! (`exit_code`).

pub mod args;
pub mod partition;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::base::exit;
use crate::base::model::BackendOpener;
use crate::base::model::{BackendKind, ModelSpec};
use crate::base::paths::{target_dir, workspace_root, TargetLocation};
use crate::eval::registry::EvalEntry;
use crate::output::console::Console;
use crate::output::snapshot::{SnapshotOptions, SnapshotOutcome};
use crate::plan::config::Config;
use crate::plan::matrix::{build_cases, expand, Plan, StoredSamples};
use crate::plan::placement::{place, DeviceSource};
use crate::plan::resolve::{self, Choices};
use crate::run::collect::Outcome;
use crate::run::runner::{announce_workloads, execute_with, Schedule};
use crate::run::store::{Cache, RunMeta, RunStore};
use crate::run::summary::RunSummary;
use args::{Args, Format};

/// The harness stopped early with this exit code (its message printed).
type Stop = i32;

fn fail(code: i32, message: &str) -> Stop {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    code
}

fn warn(message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "warning: {message}");
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

/// Runs the harness with parsed arguments; returns the exit code. Models
/// run one after the other (no device source: no placement).
pub fn run_with(site: &TargetLocation, args: &Args, opener: BackendOpener<'_>) -> i32 {
    run_placed(site, args, opener, None)
}

/// Runs the harness with parsed arguments, placing the configurations on
/// the devices `devices` reports (`litmus::main!` passes llama.cpp's):
/// `--plan` prints the placement, a run follows it and records it in
/// `run.json`. Returns the exit code.
pub fn run_placed(
    site: &TargetLocation,
    args: &Args,
    opener: BackendOpener<'_>,
    devices: Option<&dyn DeviceSource>,
) -> i32 {
    phases(site, args, opener, devices).unwrap_or_else(|code| code)
}

/// args → plan → run → output → exit code.
fn phases(
    site: &TargetLocation,
    args: &Args,
    opener: BackendOpener<'_>,
    devices: Option<&dyn DeviceSource>,
) -> Result<i32, Stop> {
    let started = Instant::now();
    // The configuration first: its `[run] tags` select evals too.
    let config = load_config(site, args)?;
    let (registered, selected) = select(args, &config)?;
    if let Some(w) = unlinked_library_evals(site, &registered) {
        warn(w);
    }
    if !args.list {
        let names: Vec<String> = registered.iter().map(|e| e.full_name()).collect();
        for w in config.unknown_eval_keys(names.iter().map(String::as_str)) {
            warn(w);
        }
    }
    if args.list && !args.instances && args.partition.is_none() {
        return Ok(list_evals(args, &registered, &selected));
    }
    if args.list {
        let mut plan = plan(args, &config, selected)?;
        partition::apply(args, &mut plan, !args.instances)?;
        return Ok(list_instances(
            args,
            &plan,
            &output_dir(site, args, &config),
        ));
    }
    if args.validate {
        return validate(args, &config, &selected);
    }
    if selected.is_empty() && !args.resume {
        // As libtest's "running 0 tests": not a failure (`cargo test FILTER`
        // passes its filter to this target too), but no empty run either.
        warn(if registered.is_empty() {
            "no evals are registered, nothing run; if they live in another crate, name it in `litmus::main!(that_crate)`"
        } else {
            "no eval matches the filters, nothing run (`cargo eval --list` lists the evals)"
        });
        return Ok(exit::OK);
    }
    if !args.quiet {
        if let Some(note) = ignored_note(args, &config, &registered, &selected) {
            let _ = writeln!(std::io::stderr(), "note: {note}");
        }
    }
    check_report_paths(args)?;
    let mut plan = plan(args, &config, selected)?;
    let partition = partition::apply(args, &mut plan, false)?;
    announce_workloads(&mut plan);
    // A mistyped GGUF path is a usage error naming where it was given, not
    // every sample of its configuration errored at load.
    if let Some(source) = devices {
        resolve::check_sources(
            &config,
            &args.models,
            &plan.models,
            plan.judge.as_ref(),
            |s| source.check(s),
        )
        .map_err(|e| fail(exit::USAGE, &e))?;
    }
    if args.plan {
        return print_placement(args, &config, &plan, devices);
    }
    let schedule = match devices {
        Some(source) => Some(Schedule {
            placed: place(source, &config.devices, &plan.models)
                .map_err(|e| fail(exit::USAGE, &e))?,
            source,
        }),
        None => None,
    };
    // The machine's devices are looked at only for llama.cpp models.
    let local = plan
        .models
        .iter()
        .any(|m| m.backend == crate::base::model::BackendKind::Llama);
    if let Some(s) = schedule.as_ref().filter(|_| local) {
        for w in crate::plan::placement::unknown_devices(&s.placed.inventory, &s.placed.config) {
            warn(w);
        }
    }
    let output_dir = output_dir(site, args, &config);
    let (store, cache) = open_store(args, &output_dir, || RunMeta {
        placement: schedule.as_ref().map(|s| s.placed.plan.clone()),
        ..partition::run_meta(site, &plan, partition)
    })?;
    let mut console = Console::new(args.format, args.quiet, args.color);
    let outcome = run_plan(
        &plan,
        &store,
        &cache,
        &output_dir,
        opener,
        schedule.as_ref(),
        &mut console,
    );
    if let Some(used) = &outcome.placement {
        // As run (re-planned configurations included); on --resume, the
        // placement of this process's share.
        let planned = schedule.as_ref().map(|s| &s.placed.plan);
        if args.resume || planned != Some(used) {
            if let Err(e) = store.record_placement(used) {
                warn(e);
            }
        }
    }
    if !outcome.changed.is_empty() {
        let names: Vec<&str> = outcome.changed.iter().map(String::as_str).collect();
        warn(format_args!(
            "samples the run had stored were run again: the prompt, case, code or limits of {} changed since they were stored",
            crate::base::util::printable(&names.join(", "))
        ));
    }
    let (summary, summary_error) = summarize(args, &plan, &store, &outcome, started);
    console.summary(&summary);
    let snapshots = snapshots(site, args, &summary);
    let unwritten = ci_outputs(args, &summary, &snapshots);
    let code = crate::output::ci::with_unwritten(exit_code(&summary, &snapshots), &unwritten);
    // Results that did not reach the disk: the run is not whole, whatever
    // its scores say.
    let unstored = outcome.store_errors.len();
    if unstored > 0 || summary_error.is_some() {
        let mut what = Vec::new();
        if unstored > 0 {
            what.push(format!(
                "{unstored} sample{} could not be stored ({})",
                if unstored == 1 { "" } else { "s" },
                outcome.store_errors[0]
            ));
        }
        what.extend(summary_error);
        let _ = writeln!(
            std::io::stderr(),
            "error: the run's results are not all on disk: {}; make room and continue it with --resume --run-id {}",
            crate::base::util::printable(&what.join("; ")),
            store.id()
        );
        return Ok(exit::worst(exit::ERRORED, code));
    }
    Ok(code)
}

/// The files of the package's own library (`src/`) that write `#[eval]`s
/// none of which is registered: a library is linked into the eval target
/// only when `litmus::main!(its_name)` names it, and forgetting that drops
/// its evals without a word. A warning naming the files and the fix, or
/// `None`.
fn unlinked_library_evals(site: &TargetLocation, registered: &[&EvalEntry]) -> Option<String> {
    let src = site.manifest_dir.join("src");
    if !src.join("lib.rs").is_file() {
        return None;
    }
    let root = workspace_root(&site.manifest_dir);
    let registered_files: std::collections::HashSet<PathBuf> =
        registered.iter().map(|e| root.join(e.file)).collect();
    let mut unlinked = Vec::new();
    let mut dirs = vec![src];
    // A bounded look (a source tree of thousands of files is not walked
    // on every run).
    let mut budget = 5_000usize;
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                dirs.clear();
                break;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "rs")
                && !registered_files.contains(&path)
                && std::fs::read_to_string(&path).is_ok_and(|text| {
                    text.lines().any(|l| {
                        let l = l.trim_start();
                        l.starts_with("#[eval") || l.starts_with("#[litmus::eval")
                    })
                })
            {
                unlinked.push(path);
            }
        }
    }
    if unlinked.is_empty() {
        return None;
    }
    unlinked.sort();
    let files: Vec<String> = unlinked
        .iter()
        .map(|p| {
            p.strip_prefix(&site.manifest_dir)
                .unwrap_or(p)
                .display()
                .to_string()
        })
        .collect();
    let name = library_name(&site.manifest_dir).unwrap_or_else(|| "your_library".into());
    Some(format!(
        "{} of this package's library write #[eval] functions that this eval target does not run: name the library in `litmus::main!({name})` to run them",
        files.join(", ")
    ))
}

/// The crate name of the package's library (`[lib] name`, else the
/// package's name with `-` as `_`).
fn library_name(manifest_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest_dir.join("Cargo.toml")).ok()?;
    let manifest: toml::Table = text.parse().ok()?;
    let lib = manifest
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str());
    let package = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str());
    lib.or(package).map(|n| n.replace('-', "_"))
}

/// Every registered eval (sorted by name) and those the arguments select.
fn select(
    args: &Args,
    config: &Config,
) -> Result<(Vec<&'static EvalEntry>, Vec<&'static EvalEntry>), Stop> {
    let registered = crate::eval::registry::all().map_err(|e| fail(exit::USAGE, &e))?;
    let selected = selected(args, config, &registered);
    Ok((registered, selected))
}

/// The evals of `registered` that the arguments select, with the tags of
/// `--tag`, else of `[run] tags` ([`resolve::tags`]).
fn selected(
    args: &Args,
    config: &Config,
    registered: &[&'static EvalEntry],
) -> Vec<&'static EvalEntry> {
    let args = Args {
        tags: resolve::tags(config, &args.tags),
        ..args.clone()
    };
    registered
        .iter()
        .copied()
        .filter(|e| args.selects(&e.full_name(), e.ignore, e.tags))
        .collect()
}

/// The evals the filters select but `#[eval(ignore)]` keeps out of this
/// run, with their reasons (as libtest reports its ignored tests).
fn ignored_note(
    args: &Args,
    config: &Config,
    registered: &[&'static EvalEntry],
    run: &[&'static EvalEntry],
) -> Option<String> {
    let all = Args {
        include_ignored: true,
        ..args.clone()
    };
    let left: Vec<String> = selected(&all, config, registered)
        .into_iter()
        .filter(|e| !run.iter().any(|s| std::ptr::eq(*s, *e)))
        .map(|e| match e.ignore_reason {
            "" => e.full_name(),
            why => format!("{} ({why})", e.full_name()),
        })
        .collect();
    if left.is_empty() {
        return None;
    }
    let one = left.len() == 1;
    Some(
        crate::base::util::printable(&format!(
            "{} ignored eval{} not run (`--include-ignored` runs {}): {}",
            left.len(),
            if one { "" } else { "s" },
            if one { "it" } else { "them" },
            crate::base::util::name_list(&left, 10)
        ))
        .into_owned(),
    )
}

/// `--list`: the selected evals, libtest style (`name: test`).
fn list_evals(args: &Args, registered: &[&EvalEntry], selected: &[&EvalEntry]) -> i32 {
    let mut out = std::io::stdout().lock();
    for e in selected {
        let _ = writeln!(out, "{}: test", e.full_name());
    }
    if args.format != Format::Terse && !args.quiet {
        let _ = writeln!(out, "\n{} evals", selected.len());
    }
    if registered.is_empty() && args.format != Format::Terse {
        let _ = writeln!(
            std::io::stderr(),
            "note: no evals are registered; if they live in another crate, name it in `litmus::main!(that_crate)`"
        );
    }
    exit::OK
}

/// `litmus.toml`: `--config`, or the one found from the target's manifest up.
fn load_config(site: &TargetLocation, args: &Args) -> Result<Config, Stop> {
    let config = match &args.config {
        Some(p) => Config::load(p),
        None => Config::discover(&site.manifest_dir),
    };
    config.map_err(|e| fail(exit::USAGE, &e.to_string()))
}

/// What the command line chose for the plan.
fn choices(args: &Args) -> Choices {
    Choices {
        models: args.models.clone(),
        templates: args.templates.clone(),
        judge: args.judge.clone(),
        temperatures: args.temperatures.clone(),
        samples: args.samples,
        seed: args.seed,
        max_tokens: args.max_tokens,
        jobs: args.jobs,
        repeat: args.repeat,
    }
}

/// The plan of a run over `selected`; what it leaves out is a warning.
fn plan(args: &Args, config: &Config, selected: Vec<&'static EvalEntry>) -> Result<Plan, Stop> {
    let (plan, warnings) = resolve::plan_and_warnings(config, &choices(args), selected)
        .map_err(|e| fail(exit::USAGE, &e))?;
    for w in warnings {
        warn(w);
    }
    Ok(plan)
}

/// The results directory: `--output-dir`, else `[run] output_dir` (relative
/// to `litmus.toml`), else `<target-dir>/litmus`.
fn output_dir(site: &TargetLocation, args: &Args, config: &Config) -> PathBuf {
    args.output_dir
        .clone()
        .or_else(|| config.output_dir())
        .unwrap_or_else(|| target_dir(site).join("litmus"))
}

/// `--list --instances`: every instance a run would have (eval × model ×
/// template × temperature) with its samples, less those already stored
/// without an error when resuming (`--resume`). No model is loaded: models
/// are named as their specs name them, except that a replay is opened (it
/// only reads its recording) for the recorded model's name, as a run names
/// its samples.
fn list_instances(args: &Args, plan: &Plan, output_dir: &Path) -> i32 {
    let stored = if args.resume {
        let run = args.run_id.as_deref().unwrap_or("latest");
        let records = crate::run::store::find_run(output_dir, run)
            .and_then(|dir| crate::run::store::read_run(&dir).ok())
            .unwrap_or_default();
        StoredSamples::new(
            records
                .iter()
                .filter(|r| r.error.is_none())
                .map(|r| (r.key(), r.case_digest.clone())),
        )
    } else {
        StoredSamples::default()
    };
    let cases = build_cases(&plan.evals);
    let (mut instances, mut todo) = (0, 0);
    let mut out = std::io::stdout().lock();
    for spec in &plan.models {
        let (model, quantization) = match spec.backend {
            BackendKind::Replay => match crate::run::replay::open(output_dir, spec) {
                Ok(b) => (
                    b.model().name.clone(),
                    spec.quantization.clone().or(b.model().quantization.clone()),
                ),
                Err(_) => (spec.name.clone(), spec.quantization.clone()),
            },
            _ => (spec.name.clone(), spec.quantization.clone()),
        };
        let mut list = expand(
            plan,
            &cases,
            &model,
            quantization.as_deref(),
            &|k, digest| stored.contains(k, digest),
        );
        list.retain_partition(plan, spec);
        for line in list.lines(plan.repeats()) {
            let _ = writeln!(out, "{line}");
        }
        instances += list.instances.len();
        todo += list.todo();
    }
    if args.format != Format::Terse && !args.quiet {
        let _ = writeln!(out, "\n{instances} instances, {todo} samples to run");
    }
    exit::OK
}

/// `--plan`: where each configuration of the run would go, as `cargo eval
/// devices --plan` prints it (text, or JSON with `--format json`). Without
/// a device source (an eval target built without llama.cpp) the machine is
/// unknown and local models are planned on the CPU.
fn print_placement(
    args: &Args,
    config: &Config,
    plan: &Plan,
    devices: Option<&dyn DeviceSource>,
) -> Result<i32, Stop> {
    let placed = place(devices.unwrap_or(&NoDevices), &config.devices, &plan.models)
        .map_err(|e| fail(exit::USAGE, &e))?;
    let mut out = std::io::stdout().lock();
    let _ = if args.format == Format::Json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&placed.report()).unwrap_or_default()
        )
    } else {
        write!(out, "{}", placed.text())
    };
    Ok(exit::OK)
}

/// The machine when the eval target has no device source.
struct NoDevices;

impl DeviceSource for NoDevices {
    fn inventory(&self) -> Result<crate::plan::placement::Inventory, String> {
        Ok(Default::default())
    }

    fn memory(&self, _: &ModelSpec) -> Result<crate::plan::placement::ModelMemory, String> {
        Err("this eval target was built without llama.cpp (litmus's `llama` feature)".into())
    }
}

/// `--validate`: reference answers score 100, empty ones 0, prompts render.
fn validate(args: &Args, config: &Config, selected: &[&'static EvalEntry]) -> Result<i32, Stop> {
    let templates =
        resolve::templates(config, &args.templates).map_err(|e| fail(exit::USAGE, &e))?;
    let jobs = resolve::jobs(config, args.jobs);
    let limits = resolve::limits(config);
    let results = crate::run::validate::validate(selected, &templates, &limits, jobs);
    let mut bad = 0;
    let mut skipped = 0;
    for v in &results {
        match (&v.result, &v.skipped) {
            (Ok(()), Some(why)) => {
                skipped += 1;
                if !args.quiet {
                    println!(
                        "{:>12} {} ({})",
                        "skipped",
                        v.eval,
                        crate::base::util::printable(why)
                    );
                }
            }
            (Ok(()), None) => {
                if !args.quiet {
                    println!("{:>12} {}", "valid", v.eval);
                }
            }
            (Err(problems), _) => {
                bad += 1;
                println!("{:>12} {}", "INVALID", v.eval);
                for p in problems {
                    // A problem's further lines (a regex error's caret)
                    // under its first.
                    let lines: Vec<_> = p.split('\n').map(crate::base::util::printable).collect();
                    println!("{:>14} {}", "-", lines.join("\n               "));
                }
            }
        }
    }
    println!(
        "{} evals validated, {} invalid{}",
        results.len(),
        bad,
        if skipped > 0 {
            format!(", {skipped} not run here (their language's runtime is missing)")
        } else {
            String::new()
        }
    );
    Ok(if bad == 0 { exit::OK } else { exit::ERRORED })
}

/// The results store (a new run described by `meta`, or the one `--resume`
/// continues) and the response cache (disabled by `--no-cache`).
fn open_store(
    args: &Args,
    output_dir: &Path,
    meta: impl FnOnce() -> RunMeta,
) -> Result<(RunStore, Cache), Stop> {
    let meta = meta();
    // The cache first: a run that cannot start leaves no empty run behind
    // (as the latest, for `report` and `--resume` to find).
    let cache = if args.no_cache {
        Cache::disabled()
    } else {
        Cache::open(&output_dir.join("cache")).map_err(|e| fail(exit::USAGE, &e.to_string()))?
    };
    let store = if args.resume {
        RunStore::resume(output_dir, args.run_id.as_deref())
    } else {
        RunStore::create(output_dir, &meta)
    };
    let store = store.map_err(|e| fail(exit::USAGE, &e.to_string()))?;
    if args.resume {
        check_resumable(&store, &meta)?;
    }
    if let Some(path) = &args.run_dir_file {
        // For `cargo eval`, should this process die before its summary is written.
        if let Err(e) = std::fs::write(path, store.dir().display().to_string()) {
            warn(format_args!("{}: {e}", path.display()));
        }
    }
    Ok((store, cache))
}

/// The arguments a run was made with, as a user gives them: without those
/// `cargo eval` passes its eval targets for itself (`--summary-json`,
/// `--run-dir-file`, pointing into its temporary directory).
fn user_args(args: &[String]) -> Vec<String> {
    const INTERNAL: [&str; 2] = ["--summary-json", "--run-dir-file"];
    let mut out = Vec::new();
    let mut skip_value = false;
    for a in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        if INTERNAL.contains(&a.as_str()) {
            skip_value = true;
        } else if !INTERNAL.iter().any(|f| a.starts_with(&format!("{f}="))) {
            out.push(a.clone());
        }
    }
    out
}

/// Refuses to continue a run with settings that would give its samples
/// other answers than the ones it holds (another `max_tokens`, seed, number
/// of samples, judge, ...): the run would mix two experiments.
fn check_resumable(store: &RunStore, now: &RunMeta) -> Result<(), Stop> {
    let was = store.meta().map_err(|e| {
        fail(
            exit::USAGE,
            &format!(
                "cannot check that run {} was made with this command's settings: {e}; \
                 start a new run",
                store.id()
            ),
        )
    })?;
    let (Some(before), Some(after)) = (&was.settings, &now.settings) else {
        return Ok(());
    };
    match before.difference(after) {
        None => Ok(()),
        Some((name, a, b)) => Err(fail(
            exit::USAGE,
            &format!(
                "run {} was made with {name} = {a}, and this command asks for {name} = {b}: \
                 resume it as it ran (`{}` with --resume), or start a new run",
                store.id(),
                user_args(was.args.get(1..).unwrap_or_default()).join(" ")
            ),
        )),
    }
}

/// Runs the plan, reporting to `console`. Replays resolve run ids against
/// this run's output directory; other models are opened with `opener`.
fn run_plan(
    plan: &Plan,
    store: &RunStore,
    cache: &Cache,
    output_dir: &Path,
    opener: BackendOpener<'_>,
    schedule: Option<&Schedule<'_>>,
    console: &mut Console,
) -> Outcome {
    if plan.evals.is_empty() {
        warn("no evals match the filters");
    }
    let open_any = |spec: &ModelSpec| match spec.backend {
        BackendKind::Replay => crate::run::replay::open(output_dir, spec),
        _ => opener(spec),
    };
    execute_with(plan, store, cache, &open_any, schedule, console)
}

/// The run's summary, written to the run directory (and `--summary-json`).
fn summarize(
    args: &Args,
    plan: &Plan,
    store: &RunStore,
    outcome: &Outcome,
    started: Instant,
) -> (RunSummary, Option<String>) {
    let min_scores = plan
        .min_scores
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .chain(
            plan.evals
                .iter()
                .filter_map(|e| e.min_score.map(|m| (e.full_name(), m))),
        )
        .collect();
    let mut summary = RunSummary::build(
        store.id(),
        &store.dir().display().to_string(),
        &outcome.records,
        &min_scores,
        &outcome.models,
        &outcome.walls,
    );
    summary.load_errors = outcome.load_errors.clone();
    summary.wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    summary.generated = outcome.generated;
    summary.backend_requests = outcome.backend_requests;
    summary.time = outcome.time;
    let written = store.write_summary(&summary).err().map(|e| e.to_string());
    if let Some(path) = &args.summary_json {
        let data = serde_json::to_vec_pretty(&summary).unwrap_or_default();
        if let Err(e) = std::fs::write(path, data) {
            warn(format_args!("{}: {e}", path.display()));
        }
    }
    (summary, written)
}

/// Records the score snapshots (unless `--no-snapshots`) and reports the
/// notable ones on stderr, one line each.
fn snapshots(site: &TargetLocation, args: &Args, summary: &RunSummary) -> Vec<SnapshotOutcome> {
    if args.no_snapshots {
        return Vec::new();
    }
    let mut opts = match &site.source_file {
        Some(f) => SnapshotOptions::for_target(&site.manifest_dir, f),
        None => SnapshotOptions::new(
            site.manifest_dir.join("evals").join("snapshots"),
            workspace_root(&site.manifest_dir),
        ),
    };
    opts.tolerance = args.tolerance;
    let snapshots = crate::output::snapshot::record(summary, &opts);
    let count_new = !args.quiet && args.format != Format::Json;
    for line in crate::output::snapshot::report_lines(&snapshots, count_new) {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
    snapshots
}

/// Writes `--junit`, `--markdown` and the CI step summary, saying which
/// could not be written (returned: a CI job that asked for a report and got
/// none fails).
fn ci_outputs(args: &Args, summary: &RunSummary, snapshots: &[SnapshotOutcome]) -> Vec<String> {
    let unwritten = crate::output::ci::write_outputs(
        summary,
        snapshots,
        args.junit.as_deref(),
        args.markdown.as_deref(),
    );
    for e in &unwritten {
        let _ = writeln!(
            std::io::stderr(),
            "error: {} (the run's results are stored)",
            crate::base::util::printable(e)
        );
    }
    unwritten
}

/// `--junit` and `--markdown` name files that can be written: checked
/// before the run, not found out after it.
fn check_report_paths(args: &Args) -> Result<(), Stop> {
    for (flag, path) in [("--junit", &args.junit), ("--markdown", &args.markdown)] {
        let Some(path) = path else { continue };
        if path.is_dir() {
            return Err(fail(
                exit::USAGE,
                &format!("{flag} {}: is a directory; name a file", path.display()),
            ));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Err(e) = std::fs::create_dir_all(parent) {
                return Err(fail(
                    exit::USAGE,
                    &format!("{flag} {}: {e}", path.display()),
                ));
            }
        }
    }
    Ok(())
}

/// The run's exit code ([`crate::output::ci::exit_code`]), with a line on
/// stderr saying what to do about it.
fn exit_code(summary: &RunSummary, snapshots: &[SnapshotOutcome]) -> i32 {
    let code = crate::output::ci::exit_code(summary, snapshots);
    let message = crate::output::ci::exit_message(code, summary, false);
    if !message.is_empty() {
        let _ = writeln!(std::io::stderr(), "error: {message}");
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::registry::EntryKind;

    fn case() -> crate::eval::case::Case {
        crate::eval::case::TextCase::new("Capital of France?")
            .reference("Paris")
            .into()
    }
    const fn entry(name: &'static str, tags: &'static [&'static str]) -> EvalEntry {
        EvalEntry {
            name,
            case: None,
            module_path: "tests",
            file: "mod.rs",
            line: 1,
            tags,
            samples: None,
            timeout_secs: None,
            ignore: false,
            ignore_reason: "",
            min_score: None,
            kind: EntryKind::Declarative(case),
            code: "",
        }
    }
    static VARS: EvalEntry = entry("vars", &["vars"]);
    static GEO: EvalEntry = entry("geo", &["geo"]);
    static PLAIN: EvalEntry = entry("plain", &[]);

    #[test]
    fn run_tags_select_evals_and_tag_flags_replace_them() {
        let registered = [&VARS, &GEO, &PLAIN];
        let names = |args: &[&str], config: &Config| -> Vec<&str> {
            let args = Args::parse(args.iter().copied()).unwrap();
            selected(&args, config, &registered)
                .iter()
                .map(|e| e.name)
                .collect()
        };
        let config = Config::parse("[run]\ntags = [\"vars\"]\n", Path::new("litmus.toml")).unwrap();
        assert_eq!(names(&[], &config), ["vars"]);
        assert_eq!(names(&["--tag", "geo"], &config), ["geo"]);
        assert_eq!(names(&["plain"], &config), Vec::<&str>::new());
        assert_eq!(names(&[], &Config::default()), ["vars", "geo", "plain"]);
    }
}
