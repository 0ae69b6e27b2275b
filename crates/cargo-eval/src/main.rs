//! `cargo eval`: finds the litmus eval targets of the current package or
//! workspace, builds them (release by default), runs them with the given
//! options and aggregates their results.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::{Args as ClapArgs, Parser, Subcommand};
use litmus_core::harness::exit;
use litmus_core::summary::RunSummary;
use serde::Deserialize;

#[derive(Parser, Debug)]
#[command(
    name = "cargo-eval",
    bin_name = "cargo eval",
    version,
    about = "Run litmus evals: LLM evals written as Rust functions",
    args_conflicts_with_subcommands = true,
    after_help = "Eval targets are `[[test]]` targets with `harness = false` in packages that depend on litmus,\n\
named `evals` (or starting with `eval`), or listed in `[package.metadata.litmus] targets`.\n\
Arguments after `--` go to the eval targets unchanged."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List configured models (litmus.toml) and models in the local cache.
    Models {
        /// Path to Cargo.toml.
        #[arg(long)]
        manifest_path: Option<PathBuf>,
    },
    /// Build a quantization ladder from a GGUF model with llama.cpp's quantizer.
    ///
    /// Each rung is written next to the source (or in --out-dir), named after it
    /// with the quantization replaced (`gemma-3-270m-q2_k.gguf`); rungs that
    /// exist are skipped. Prints the `litmus.toml` entry that evaluates them.
    Quantize(QuantizeArgs),
    /// The study report of a run: every configuration ranked, with confidence
    /// intervals, paired comparisons against a baseline quantization, per-tag
    /// scores, speed, size and memory, and the template/temperature ×
    /// quantization tables.
    Report(ReportArgs),
}

#[derive(ClapArgs, Debug)]
struct ReportArgs {
    /// A run directory, a run id, or `latest`.
    #[arg(default_value = "latest")]
    run: String,
    /// The baseline quantization (e.g. Q8_0) or `model quant` label; default:
    /// the one with the most bits per weight.
    #[arg(long)]
    baseline: Option<String>,
    /// Break scores down by these tags only (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// text, markdown or json.
    #[arg(long, default_value = "text")]
    format: String,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Results directory (default: <target-dir>/litmus).
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// Path to Cargo.toml.
    #[arg(long)]
    manifest_path: Option<PathBuf>,
}

#[derive(ClapArgs, Debug)]
struct QuantizeArgs {
    /// The source model: a GGUF path or builtin:NAME (ideally F16/BF16/F32).
    #[arg(default_value = litmus_llama::DEFAULT_SOURCE)]
    source: String,
    /// Quantization types to build (comma-separated or repeated).
    #[arg(long = "type", short = 't', value_delimiter = ',', default_values_t = litmus_llama::quantize::DEFAULT_LADDER.iter().map(|s| s.to_string()))]
    types: Vec<String>,
    /// Write the rungs here instead of next to the source.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Threads (default: physical cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Name of the model in the printed litmus.toml entry.
    #[arg(long, default_value = "model")]
    name: String,
}

#[derive(ClapArgs, Debug, Default)]
struct RunArgs {
    /// Run only evals whose name contains one of these.
    filters: Vec<String>,
    /// Filters match whole names.
    #[arg(long)]
    exact: bool,
    /// Skip evals whose name contains this (repeatable).
    #[arg(long, value_name = "PATTERN")]
    skip: Vec<String>,
    /// Only evals with this tag (repeatable, or comma-separated).
    #[arg(long, value_name = "TAG")]
    tag: Vec<String>,
    /// List the evals instead of running them.
    #[arg(long)]
    list: bool,
    /// Run only ignored evals.
    #[arg(long)]
    ignored: bool,
    /// Run ignored evals too.
    #[arg(long)]
    include_ignored: bool,
    /// Check the evals themselves: reference solutions score 100, empty answers 0.
    #[arg(long)]
    validate: bool,
    /// Model to evaluate (repeatable): a name from litmus.toml, a .gguf path,
    /// builtin:NAME, openai:URL[#MODEL], ollama:URL#TAG or replay:RUN.
    #[arg(long, short = 'm', value_name = "MODEL")]
    model: Vec<String>,
    /// The model that grades judged cases (a name from litmus.toml or a spec
    /// string); default: `[judge] model`, else the model under evaluation.
    #[arg(long, value_name = "MODEL")]
    judge: Option<String>,
    /// Prompt template (repeatable).
    #[arg(long, short = 't', value_name = "NAME")]
    template: Vec<String>,
    /// Samples per case and configuration.
    #[arg(long, short = 'n')]
    samples: Option<u32>,
    /// Run every eval × configuration × sample N times over, to measure
    /// run-to-run noise (flip rates, pass^N; recorded in score snapshots).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    repeat: Option<u32>,
    /// Sampling temperature (repeatable, or comma-separated).
    #[arg(long, value_name = "T")]
    temperature: Vec<String>,
    /// Base seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Most tokens per answer.
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Parallel scoring jobs.
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Results directory (default: <target-dir>/litmus).
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// Do not read or write the response cache.
    #[arg(long)]
    no_cache: bool,
    /// Continue the latest run (or --run-id): nothing repeated, nothing lost.
    #[arg(long)]
    resume: bool,
    /// The run to resume.
    #[arg(long, requires = "resume")]
    run_id: Option<String>,
    /// A litmus.toml to use instead of discovering one.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_parser = ["human", "json", "terse"], default_value = "human")]
    format: String,
    /// Less output.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Colour: auto, always, never.
    #[arg(long, value_parser = ["auto", "always", "never"], default_value = "auto")]
    color: String,
    /// Build in the dev profile instead of release.
    #[arg(long)]
    debug: bool,
    /// Build with this cargo profile.
    #[arg(long, conflicts_with = "debug")]
    profile: Option<String>,
    /// Package(s) whose eval targets run (default: all in the workspace).
    #[arg(long, short = 'p', value_name = "SPEC")]
    package: Vec<String>,
    /// Run only this eval target (repeatable).
    #[arg(long = "target-name", value_name = "NAME")]
    target_name: Vec<String>,
    /// Cargo features to enable.
    #[arg(long, short = 'F')]
    features: Vec<String>,
    /// Disable default features.
    #[arg(long)]
    no_default_features: bool,
    /// Path to Cargo.toml.
    #[arg(long)]
    manifest_path: Option<PathBuf>,
    /// Arguments passed to the eval targets unchanged.
    #[arg(last = true)]
    harness_args: Vec<String>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
    target_directory: PathBuf,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
    dependencies: Vec<Dependency>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
    src_path: PathBuf,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    #[serde(default)]
    rename: Option<String>,
}

/// An eval target to build and run.
#[derive(Debug, Clone)]
struct EvalTarget {
    package: String,
    name: String,
    manifest_dir: PathBuf,
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn metadata(manifest_path: Option<&Path>) -> Result<Metadata, String> {
    let mut cmd = cargo();
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    if let Some(p) = manifest_path {
        cmd.arg("--manifest-path").arg(p);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err("cargo metadata failed".into());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("reading cargo metadata: {e}"))
}

/// The eval targets of the workspace's packages (or those named with `-p`).
fn find_targets(
    meta: &Metadata,
    packages: &[String],
    names: &[String],
    cwd: &Path,
) -> Vec<EvalTarget> {
    let members: Vec<&Package> = meta
        .packages
        .iter()
        .filter(|p| meta.workspace_members.contains(&p.id))
        .collect();
    // Inside a member package (not at the workspace root), default to that package.
    let current: Option<&&Package> = members.iter().find(|p| {
        p.manifest_path
            .parent()
            .is_some_and(|d| cwd.starts_with(d) && d != meta.workspace_root)
    });
    // At the workspace root, `[workspace.metadata.litmus] packages` picks the default.
    let defaults: Vec<String> = meta
        .metadata
        .as_ref()
        .and_then(|m| m.get("litmus"))
        .and_then(|l| l.get("packages"))
        .and_then(|p| p.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let packages: &[String] = if packages.is_empty() && current.is_none() && !defaults.is_empty() {
        &defaults
    } else {
        packages
    };
    let mut out = Vec::new();
    for pkg in &members {
        if !packages.is_empty() {
            if !packages.contains(&pkg.name) {
                continue;
            }
        } else if let Some(cur) = current {
            if cur.id != pkg.id {
                continue;
            }
        }
        let uses_litmus = pkg
            .dependencies
            .iter()
            .any(|d| d.name == "litmus" || d.rename.as_deref() == Some("litmus"))
            || pkg.name == "litmus";
        let listed: Vec<String> = pkg
            .metadata
            .as_ref()
            .and_then(|m| m.get("litmus"))
            .and_then(|l| l.get("targets"))
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for t in &pkg.targets {
            if !t.kind.iter().any(|k| k == "test") {
                continue;
            }
            // An `evals/` folder of the package (not a package that is itself
            // in a folder named `evals`, whose `tests/` are ordinary tests).
            let pkg_dir = pkg.manifest_path.parent().unwrap_or(Path::new(""));
            let in_evals_dir = t
                .src_path
                .strip_prefix(pkg_dir)
                .is_ok_and(|rel| rel.components().any(|c| c.as_os_str() == "evals"));
            let is_eval = listed.contains(&t.name)
                || (uses_litmus && (t.name.starts_with("eval") || in_evals_dir));
            if !is_eval || (!names.is_empty() && !names.contains(&t.name)) {
                continue;
            }
            out.push(EvalTarget {
                package: pkg.name.clone(),
                name: t.name.clone(),
                manifest_dir: pkg
                    .manifest_path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// Builds the targets; returns their executables in the same order.
fn build(targets: &[EvalTarget], args: &RunArgs) -> Result<Vec<PathBuf>, String> {
    let mut exes = Vec::new();
    for t in targets {
        let mut cmd = cargo();
        cmd.args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
            "-p",
            &t.package,
            "--test",
            &t.name,
        ]);
        match (&args.profile, args.debug) {
            (Some(p), _) => {
                cmd.args(["--profile", p]);
            }
            (None, true) => {}
            (None, false) => {
                cmd.arg("--release");
            }
        }
        for f in &args.features {
            cmd.args(["--features", f]);
        }
        if args.no_default_features {
            cmd.arg("--no-default-features");
        }
        if let Some(p) = &args.manifest_path {
            cmd.arg("--manifest-path").arg(p);
        }
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("running cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "building eval target `{}` of `{}` failed",
                t.name, t.package
            ));
        }
        let exe = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| {
                m["reason"] == "compiler-artifact" && m["target"]["name"] == t.name.as_str()
            })
            .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
            .next_back()
            .ok_or_else(|| format!("cargo built no executable for `{}`", t.name))?;
        exes.push(exe);
    }
    Ok(exes)
}

/// The arguments for an eval target.
fn harness_args(args: &RunArgs, summary: Option<&Path>) -> Vec<String> {
    let mut a: Vec<String> = args.filters.clone();
    let mut flag = |f: &str, on: bool| {
        if on {
            a.push(f.to_string());
        }
    };
    flag("--exact", args.exact);
    flag("--list", args.list);
    flag("--ignored", args.ignored);
    flag("--include-ignored", args.include_ignored);
    flag("--validate", args.validate);
    flag("--no-cache", args.no_cache);
    flag("--resume", args.resume);
    flag("--quiet", args.quiet);
    let mut pair = |f: &str, v: &str| {
        a.push(f.to_string());
        a.push(v.to_string());
    };
    for s in &args.skip {
        pair("--skip", s);
    }
    for t in &args.tag {
        pair("--tag", t);
    }
    for m in &args.model {
        pair("--model", m);
    }
    for t in &args.template {
        pair("--template", t);
    }
    if let Some(j) = &args.judge {
        pair("--judge", j);
    }
    for t in &args.temperature {
        pair("--temperature", t);
    }
    if let Some(v) = args.samples {
        pair("--samples", &v.to_string());
    }
    if let Some(v) = args.repeat {
        pair("--repeat", &v.to_string());
    }
    if let Some(v) = args.seed {
        pair("--seed", &v.to_string());
    }
    if let Some(v) = args.max_tokens {
        pair("--max-tokens", &v.to_string());
    }
    if let Some(v) = args.jobs {
        pair("--jobs", &v.to_string());
    }
    // Eval targets run in their package's directory: paths given relative to
    // where `cargo eval` was started are made absolute.
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    if let Some(v) = &args.output_dir {
        pair("--output-dir", &abs(v));
    }
    if let Some(v) = &args.run_id {
        pair("--run-id", v);
    }
    if let Some(v) = &args.config {
        pair("--config", &abs(v));
    }
    pair("--format", &args.format);
    pair("--color", &args.color);
    if let Some(s) = summary {
        pair("--summary-json", &s.display().to_string());
    }
    a.extend(args.harness_args.iter().cloned());
    a
}

fn run(args: RunArgs) -> Result<i32, String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let meta = metadata(args.manifest_path.as_deref())?;
    let targets = find_targets(&meta, &args.package, &args.target_name, &cwd);
    if targets.is_empty() {
        return Err(
            "no eval targets found: add a `[[test]]` target with `harness = false` named `evals` (path e.g. `evals/main.rs`) to a package that depends on litmus"
                .into(),
        );
    }
    let exes = build(&targets, &args)?;
    let tmp = std::env::temp_dir().join(format!("cargo-eval-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut worst = exit::OK;
    let mut summaries = Vec::new();
    let multi = targets.len() > 1;
    for (i, (t, exe)) in targets.iter().zip(&exes).enumerate() {
        if multi && !args.list && args.format == "human" {
            eprintln!("{:>12} {} ({})", "Running", t.name, t.package);
        }
        let summary_path = tmp.join(format!("summary-{i}.json"));
        let collect = !args.list && !args.validate;
        let mut cmd = Command::new(exe);
        cmd.args(harness_args(
            &args,
            collect.then_some(summary_path.as_path()),
        ))
        .current_dir(&t.manifest_dir)
        .env("CARGO_TARGET_DIR", &meta.target_directory);
        let status = cmd
            .status()
            .map_err(|e| format!("running {}: {e}", exe.display()))?;
        let code = status.code().unwrap_or(exit::ERRORED);
        worst = severity_max(worst, code);
        if collect {
            if let Ok(data) = std::fs::read(&summary_path) {
                if let Ok(s) = serde_json::from_slice::<RunSummary>(&data) {
                    summaries.push((t.clone(), s));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if multi && args.format == "human" && !summaries.is_empty() {
        println!("{}", "═".repeat(12));
        let mut rows = vec![vec![
            "target".to_string(),
            "configuration".into(),
            "score".into(),
            "95% CI".into(),
            "evals".into(),
            "errors".into(),
        ]];
        for (t, s) in &summaries {
            for c in &s.configs {
                rows.push(vec![
                    format!("{}/{}", t.package, t.name),
                    c.config.label(),
                    format!("{:.1}", c.score.mean),
                    format!("[{:.1}, {:.1}]", c.score.ci_low, c.score.ci_high),
                    c.evals.to_string(),
                    c.errors.to_string(),
                ]);
            }
        }
        for line in litmus_core::report::table(&rows) {
            println!("{line}");
        }
    }
    Ok(worst)
}

/// Combines exit codes: errors beat thresholds beat success.
fn severity_max(a: i32, b: i32) -> i32 {
    let rank = |c: i32| match c {
        exit::OK => 0,
        exit::BELOW_THRESHOLD => 1,
        exit::ERRORED => 3,
        exit::USAGE => 4,
        _ => 2,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// The local file a llama model source names, without fetching anything.
fn local_gguf(source: &str) -> Option<PathBuf> {
    let path = match source.strip_prefix("builtin:") {
        Some(name) => litmus_llama::models::cache_dir()
            .join(litmus_llama::models::builtin_model(name)?.file_name),
        None => PathBuf::from(source),
    };
    path.is_file().then_some(path)
}

fn models(manifest_path: Option<PathBuf>) -> Result<i32, String> {
    let root = match metadata(manifest_path.as_deref()) {
        Ok(m) => m.workspace_root,
        Err(_) => std::env::current_dir().map_err(|e| e.to_string())?,
    };
    let config = litmus_core::config::Config::discover(&root).map_err(|e| e.to_string())?;
    let mut rows = vec![vec![
        "name".to_string(),
        "backend".into(),
        "source".into(),
        "quant".into(),
        "size".into(),
        "params".into(),
    ]];
    let size = |b: u64| format!("{:.0} MiB", b as f64 / 1048576.0);
    let params = |p: Option<u64>| {
        p.map(|p| format!("{:.0}M", p as f64 / 1e6))
            .unwrap_or_else(|| "-".into())
    };
    for (name, spec) in &config.models {
        for s in spec.expand() {
            // Describe local GGUF files (without fetching anything).
            let info = (s.backend == litmus_core::model::BackendKind::Llama)
                .then(|| local_gguf(&s.source))
                .flatten()
                .and_then(|p| litmus_llama::describe_gguf(p).ok());
            rows.push(vec![
                name.clone(),
                s.backend.to_string(),
                match &s.model {
                    Some(m) => format!("{} ({m})", s.source),
                    None => s.source.clone(),
                },
                s.quantization
                    .clone()
                    .or_else(|| info.as_ref().and_then(|i| i.quantization.clone()))
                    .unwrap_or_else(|| "-".into()),
                info.as_ref()
                    .map(|i| size(i.size_bytes))
                    .unwrap_or_else(|| "-".into()),
                params(info.as_ref().and_then(|i| i.parameters)),
            ]);
        }
    }
    for m in litmus_llama::list_cached_models() {
        rows.push(vec![
            "(cached)".to_string(),
            "llama".into(),
            m.source.clone(),
            m.info
                .as_ref()
                .and_then(|i| i.quantization.clone())
                .unwrap_or_else(|| "?".into()),
            size(m.size_bytes),
            params(m.info.as_ref().and_then(|i| i.parameters)),
        ]);
    }
    for line in litmus_core::report::table(&rows) {
        println!("{line}");
    }
    if rows.len() == 1 {
        println!(
            "no models configured in litmus.toml and none cached in {}",
            litmus_llama::cache_dir().display()
        );
    }
    Ok(exit::OK)
}

fn report(args: ReportArgs) -> Result<i32, String> {
    use litmus_core::study::{Study, StudyOptions};
    let output_dir = match args.output_dir {
        Some(d) => d,
        None => metadata(args.manifest_path.as_deref())?
            .target_directory
            .join("litmus"),
    };
    let dir = litmus_core::store::find_run(&output_dir, &args.run).ok_or_else(|| {
        format!(
            "no run `{}` in {} (give a run directory or id)",
            args.run,
            output_dir.join("runs").display()
        )
    })?;
    let records = litmus_core::store::read_run(&dir).map_err(|e| e.to_string())?;
    let summary_path = dir.join("summary.json");
    let summary = match std::fs::read(&summary_path) {
        Ok(data) => serde_json::from_slice::<RunSummary>(&data)
            .map_err(|e| format!("{}: {e}", summary_path.display()))?,
        // An interrupted run has no summary yet: rebuild it (without model facts).
        Err(_) => RunSummary::build(
            &dir.file_name().unwrap_or_default().to_string_lossy(),
            &dir.display().to_string(),
            &records,
            &Default::default(),
            &Default::default(),
            &Default::default(),
        ),
    };
    let study = Study::build(
        &summary,
        &records,
        &StudyOptions {
            baseline: args.baseline.clone(),
            seed: None,
            tags: args.tags.clone(),
        },
    );
    if let (Some(want), None) = (&args.baseline, &study.baseline) {
        if study.rows.len() > 1 {
            return Err(format!(
                "baseline `{want}` matches no configuration of the run"
            ));
        }
    }
    let text = match args.format.as_str() {
        "text" => study.text(),
        "markdown" | "md" => study.markdown(),
        "json" => study.json(),
        other => {
            return Err(format!(
                "unknown --format `{other}` (text, markdown or json)"
            ))
        }
    };
    match args.output {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(exit::OK)
}

fn quantize(args: QuantizeArgs) -> Result<i32, String> {
    use litmus_llama::quantize::{ftype_of, ladder_path, QuantizeError, QuantizeOptions};
    // Check every type before spending minutes on the first.
    if let Some(bad) = args.types.iter().find(|t| ftype_of(t).is_none()) {
        return Err(QuantizeError::UnknownType(bad.clone()).to_string());
    }
    let src = litmus_llama::resolve_model_path(&args.source).map_err(|e| e.to_string())?;
    let info = litmus_llama::describe_gguf(&src).map_err(|e| e.to_string())?;
    let src_type = info.quantization.clone().unwrap_or_else(|| "?".into());
    eprintln!(
        "source: {} ({src_type}, {:.0} MiB, {} parameters)",
        src.display(),
        info.size_bytes as f64 / 1048576.0,
        info.parameters
            .map(litmus_llama::gguf::format_parameters)
            .unwrap_or_else(|| "?".into())
    );
    if !matches!(src_type.as_str(), "F32" | "F16" | "BF16") {
        eprintln!(
            "warning: the source is already quantized ({src_type}); requantizing only loses quality,\n\
             so this ladder measures requantization loss on top of {src_type}. Quantize from an\n\
             F16/BF16 GGUF for the quality each type really has."
        );
    }
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let options = QuantizeOptions {
        threads: args.threads,
    };
    let mut entries = vec![(src_type.clone(), src.clone())];
    let mut failed = 0;
    for ty in &args.types {
        let dst = ladder_path(&src, ty, args.out_dir.as_deref());
        if ty.eq_ignore_ascii_case(&src_type) {
            eprintln!("{ty:<8} skipped: that is the source");
            continue;
        }
        if dst.exists() {
            eprintln!("{ty:<8} exists: {}", dst.display());
            entries.push((ty.to_ascii_uppercase(), dst));
            continue;
        }
        let bar = indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:<8} [{bar:30}] {pos}/{len} tensors {elapsed}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(ty.clone());
        let b = bar.clone();
        let t = std::time::Instant::now();
        let result = litmus_llama::quantize::quantize(&src, &dst, ty, &options, move |d, n| {
            b.set_length(n as u64);
            b.set_position(d as u64);
        });
        bar.finish_and_clear();
        match result {
            Ok(()) => {
                let size = std::fs::metadata(&dst).map(|m| m.len()).unwrap_or(0);
                let bpw = info
                    .parameters
                    .map(|p| format!("{:.2} bits/weight", size as f64 * 8.0 / p as f64))
                    .unwrap_or_default();
                eprintln!(
                    "{ty:<8} {:>5.0} MiB  {bpw}  {:.1} s  {}",
                    size as f64 / 1048576.0,
                    t.elapsed().as_secs_f64(),
                    dst.display()
                );
                entries.push((ty.to_ascii_uppercase(), dst));
            }
            Err(e) => {
                eprintln!("{ty:<8} failed: {e}");
                failed += 1;
            }
        }
    }
    println!("# litmus.toml: evaluate every rung (one configuration per quantization)");
    println!("[models.{}]", args.name);
    println!("backend = \"llama\"");
    println!("[models.{}.quantizations]", args.name);
    for (ty, path) in entries {
        println!("{ty} = {:?}", path.display().to_string());
    }
    Ok(if failed > 0 { exit::ERRORED } else { exit::OK })
}

fn main() -> ExitCode {
    // `cargo eval ...` runs `cargo-eval eval ...`.
    let mut argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("eval") {
        argv.remove(1);
    }
    let cli = Cli::parse_from(argv);
    let result = match cli.command {
        Some(Cmd::Models { manifest_path }) => models(manifest_path),
        Some(Cmd::Quantize(args)) => quantize(args),
        Some(Cmd::Report(args)) => report(args),
        None => run(cli.run),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::USAGE as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo-eval").chain(args.iter().copied()))
    }

    #[test]
    fn repeat_reaches_the_eval_targets_and_must_be_at_least_one() {
        let cli = parse(&["--repeat", "5", "--samples", "3"]).unwrap();
        let a = harness_args(&cli.run, None);
        let at = a
            .iter()
            .position(|x| x == "--repeat")
            .expect("--repeat passed on");
        assert_eq!(a[at + 1], "5");
        let plain = parse(&[]).unwrap();
        assert!(!harness_args(&plain.run, None).contains(&"--repeat".to_string()));
        assert!(parse(&["--repeat", "0"]).is_err());
        assert!(parse(&["--repeat", "x"]).is_err());
    }
}
