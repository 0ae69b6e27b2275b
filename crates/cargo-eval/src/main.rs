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
    /// Prompt template (repeatable).
    #[arg(long, short = 't', value_name = "NAME")]
    template: Vec<String>,
    /// Samples per case and configuration.
    #[arg(long, short = 'n')]
    samples: Option<u32>,
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
            let in_evals_dir = t.src_path.components().any(|c| c.as_os_str() == "evals");
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
    for t in &args.temperature {
        pair("--temperature", t);
    }
    if let Some(v) = args.samples {
        pair("--samples", &v.to_string());
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
    if let Some(v) = &args.output_dir {
        pair("--output-dir", &v.display().to_string());
    }
    if let Some(v) = &args.run_id {
        pair("--run-id", v);
    }
    if let Some(v) = &args.config {
        pair("--config", &v.display().to_string());
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

fn main() -> ExitCode {
    // `cargo eval ...` runs `cargo-eval eval ...`.
    let mut argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("eval") {
        argv.remove(1);
    }
    let cli = Cli::parse_from(argv);
    let result = match cli.command {
        Some(Cmd::Models { manifest_path }) => models(manifest_path),
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
