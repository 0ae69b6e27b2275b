//! `cargo eval`: finds the litmus eval targets of the current package or
//! workspace, builds them (release by default), runs them with the given
//! options and aggregates their results.

mod fidelity;
mod native;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use cargo_metadata::camino::Utf8Path;
use cargo_metadata::{Message, Metadata, MetadataCommand, Package};
use clap::{Args as ClapArgs, Parser, Subcommand};
use litmus_core::base::exit;
use litmus_core::base::util::printable;
use litmus_core::harness::args::{Args, Format};
use litmus_core::run::summary::RunSummary;

#[derive(Parser, Debug)]
#[command(
    name = "cargo-eval",
    bin_name = "cargo eval",
    version,
    about = "Run litmus evals: LLM evals written as Rust functions",
    args_conflicts_with_subcommands = true,
    args_override_self = true,
    after_help = "Eval targets are `[[test]]` targets with `harness = false` in packages that depend on litmus,\n\
named `evals` (or starting with `eval`), or listed in `[package.metadata.litmus] targets`.\n\
Arguments after `--` go to the eval targets too (as `cargo test -- ARGS` does)."
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
        /// A litmus.toml to use instead of discovering one.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Build a quantization ladder from a GGUF model with llama.cpp's quantizer.
    ///
    /// Each rung is written next to the source (or in --out-dir), named after it
    /// with the quantization replaced (`gemma-3-270m-q2_k.gguf`); rungs that
    /// exist are skipped. Prints the `litmus.toml` entry that evaluates them.
    Quantize(QuantizeArgs),
    /// Fidelity of every quantization of a model against a reference: the
    /// reference's own answers in a run teacher-forced through each model,
    /// per token KL(reference ‖ quant) over the vocabulary, top-token
    /// agreement and Δp, as llama-perplexity --kl-divergence measures them;
    /// per configuration, tag and eval, cached, stored as fidelity.json in the
    /// run (which `cargo eval report` then shows next to the scores).
    Fidelity(fidelity::FidelityArgs),
    /// The study report of a run: every configuration ranked, with confidence
    /// intervals, paired comparisons against a baseline quantization, per-tag
    /// scores, speed, size and memory, and the template/temperature ×
    /// quantization tables; as text, Markdown, JSON or (--html) one
    /// self-contained HTML file with plots and every sample. With --compare,
    /// one run against another.
    Report(ReportArgs),
    /// The compute devices litmus can use, from llama.cpp's own backend
    /// device registry: each GPU with its total and free memory, the CPU
    /// with its cores and RAM. With --plan, where the given models (or the
    /// configured ones) would run: each configuration's memory estimate and
    /// its device, several at once where they fit, split by layers or
    /// partly offloaded where they do not.
    Devices(DevicesArgs),
    /// Combine partial runs into one: the partitions of one plan (`cargo
    /// eval --partition hash:K/N` on N CI jobs or hosts), or runs of the
    /// same plan. Runs made with different settings (litmus version, seed,
    /// sampling parameters, weights) are refused; a sample in several runs
    /// counts once, and differing copies of it are an error. Writes one run
    /// directory (samples.jsonl, summary.json, report.html), compares the
    /// scores with their snapshots, writes JUnit and the Markdown summary
    /// (and appends it to $GITHUB_STEP_SUMMARY), and exits as a run of the
    /// whole plan would.
    Merge(MergeArgs),
}

#[derive(ClapArgs, Debug)]
struct MergeArgs {
    /// Run directories, or folders to search for them (such as the
    /// downloaded artifacts of the partition jobs).
    #[arg(required = true, value_name = "RUN_DIR")]
    runs: Vec<PathBuf>,
    /// The merged run's directory (default: TARGET_DIR/litmus/runs/NEW_RUN_ID,
    /// which becomes the latest run).
    #[arg(long, short, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Merge even when some partitions of the split are missing.
    #[arg(long)]
    allow_missing: bool,
    /// Write a JUnit XML report there.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write the Markdown summary there (it is also appended to
    /// $GITHUB_STEP_SUMMARY when that is set).
    #[arg(long, value_name = "PATH")]
    markdown: Option<PathBuf>,
    /// Do not compare the scores with their snapshots.
    #[arg(long)]
    no_snapshots: bool,
    /// Do not write report.html in the merged run.
    #[arg(long)]
    no_html_report: bool,
    /// A fixed score-snapshot tolerance in points.
    #[arg(long, value_name = "POINTS")]
    tolerance: Option<f64>,
    /// Less output.
    #[arg(long, short)]
    quiet: bool,
    /// Path to Cargo.toml (the workspace whose snapshots the scores are
    /// compared with).
    #[arg(long)]
    manifest_path: Option<PathBuf>,
}

#[derive(ClapArgs, Debug)]
struct DevicesArgs {
    /// text or json.
    #[arg(long, default_value = "text")]
    format: String,
    /// Plan these models (names from litmus.toml or spec strings; none:
    /// `[run] models`, else the default model) on the devices.
    #[arg(long, value_name = "MODEL", num_args = 0.., value_delimiter = ',')]
    plan: Option<Vec<String>>,
    /// A litmus.toml to use instead of discovering one.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The devices are read by an eval target (cargo-eval does not link
    /// llama.cpp): the first one found, built like `cargo eval` builds it
    /// (`--features litmus/cuda` for NVIDIA GPUs).
    #[command(flatten)]
    build: BuildArgs,
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
    /// Break scores down by these tags only (repeatable, or comma-separated;
    /// default: all). `--tag` too, as a run spells it.
    #[arg(long, visible_alias = "tag", value_delimiter = ',')]
    tags: Vec<String>,
    /// text, markdown or json.
    #[arg(long, default_value = "text")]
    format: String,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Write the HTML report (one self-contained file: ranking, plots, the
    /// evals × configurations grid with every sample) to FILE; default:
    /// report.html in the run directory (compare-OTHER.html with --compare).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    html: Option<Option<PathBuf>>,
    /// Compare the run against this one (a run directory, an id or
    /// `latest`): paired differences per eval and overall, flipped evals,
    /// speed changes. The run given first is A, this one B.
    #[arg(long, value_name = "OTHER_RUN")]
    compare: Option<String>,
    /// Results directory (default: TARGET_DIR/litmus).
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// Path to Cargo.toml.
    #[arg(long)]
    manifest_path: Option<PathBuf>,
}

#[derive(ClapArgs, Debug)]
struct QuantizeArgs {
    /// The source model: a GGUF path or builtin:NAME (ideally F16/BF16/F32).
    #[arg(default_value = litmus_gguf::DEFAULT_SOURCE)]
    source: String,
    /// Quantization types to build (comma-separated or repeated). No `-t`:
    /// across cargo eval that is `--template`.
    #[arg(long = "type", value_delimiter = ',', default_values_t = litmus_gguf::ladder::DEFAULT_LADDER.iter().map(|s| s.to_string()))]
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
    /// llama.cpp's quantizer runs in an eval target (cargo-eval does not
    /// link llama.cpp): the first one found, built like `cargo eval` builds.
    #[command(flatten)]
    build: BuildArgs,
}

#[derive(ClapArgs, Debug)]
struct RunArgs {
    /// The eval targets' flags (litmus_core::harness::args::Args).
    #[command(flatten)]
    harness: Args,
    #[command(flatten)]
    build: BuildArgs,
    /// Print how eval targets would be built (JSON) and build nothing.
    #[arg(long, hide = true)]
    print_build_plan: bool,
    /// More eval-target arguments, as a test binary takes them.
    #[arg(last = true)]
    harness_args: Vec<String>,
}

/// Which eval targets, built how.
#[derive(ClapArgs, Debug, Clone)]
#[command(next_help_heading = "Build")]
struct BuildArgs {
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
    /// Build with your own cargo settings only. Without it, when you set no
    /// rustflags, eval targets are built for this CPU (-C target-cpu=native,
    /// llama.cpp at -O3) in TARGET_DIR/litmus/native.
    #[arg(long)]
    no_native: bool,
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
    let mut cmd = MetadataCommand::new();
    cmd.no_deps();
    if let Some(p) = manifest_path {
        cmd.manifest_path(p);
    }
    cmd.exec()
        .map_err(|e| format!("reading cargo metadata: {e}"))
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
        .workspace_metadata
        .get("litmus")
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
            .get("litmus")
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
            let pkg_dir = pkg.manifest_path.parent().unwrap_or(Utf8Path::new(""));
            let in_evals_dir = t
                .src_path
                .strip_prefix(pkg_dir)
                .is_ok_and(|rel| rel.components().any(|c| c.as_str() == "evals"));
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
                    .map(|d| d.as_std_path().to_path_buf())
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// How eval targets are built: with the user's settings, or for this CPU in
/// a target directory of its own (see [`native`]).
#[derive(Debug, serde::Serialize)]
struct BuildPlan {
    /// `--target-dir` for `cargo test --no-run`; `None`: cargo's own.
    target_dir: Option<PathBuf>,
    /// Environment for cargo (`CARGO_ENCODED_RUSTFLAGS`, `LLAMA_LIB_PROFILE`).
    env: Vec<(String, String)>,
    /// Why.
    reason: String,
}

fn build_plan(args: &BuildArgs, meta: &Metadata) -> BuildPlan {
    let mine = |reason: String| BuildPlan {
        target_dir: None,
        env: Vec::new(),
        reason,
    };
    if args.no_native {
        return mine("--no-native".into());
    }
    if let Some(source) = native::Probe::current().user_rustflags(&native::Host::detect) {
        return mine(format!("your rustflags: {source}"));
    }
    let mut env = vec![(
        "CARGO_ENCODED_RUSTFLAGS".to_string(),
        native::NATIVE_RUSTFLAGS.to_string(),
    )];
    if std::env::var_os("LLAMA_LIB_PROFILE").is_none() {
        env.push(("LLAMA_LIB_PROFILE".into(), "Release".into()));
    }
    BuildPlan {
        target_dir: Some(meta.target_directory.join("litmus").join("native").into()),
        env,
        reason: "no rustflags set: building for this CPU".into(),
    }
}

/// Builds the targets; returns their executables in the same order.
fn build(
    targets: &[EvalTarget],
    args: &BuildArgs,
    plan: &BuildPlan,
) -> Result<Vec<PathBuf>, String> {
    if let Some(dir) = plan.target_dir.as_ref().filter(|d| !d.exists()) {
        eprintln!(
            "note: building eval targets for this CPU (-C target-cpu=native, llama.cpp at -O3) in {}; --no-native builds with your own settings",
            dir.display()
        );
    }
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
        if let Some(dir) = &plan.target_dir {
            cmd.arg("--target-dir").arg(dir);
        }
        cmd.envs(plan.env.iter().map(|(k, v)| (k, v)));
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
        let exe = Message::parse_stream(out.stdout.as_slice())
            .filter_map(|m| match m {
                Ok(Message::CompilerArtifact(a)) if a.target.name == t.name => a.executable,
                _ => None,
            })
            .last()
            .map(PathBuf::from)
            .ok_or_else(|| format!("cargo built no executable for `{}`", t.name))?;
        exes.push(exe);
    }
    Ok(exes)
}

/// The arguments for an eval target: `args` with the paths made absolute
/// (eval targets run in their package's directory, not where `cargo eval`
/// was started) and the files this process reads back afterwards.
fn target_args(args: &Args, summary: Option<&Path>, run_dir_file: Option<&Path>) -> Vec<String> {
    let abs = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
    };
    let mut a = args.clone();
    a.models = args.models.iter().map(|m| absolute_model(m)).collect();
    a.judge = args.judge.as_deref().map(absolute_model);
    a.output_dir = abs(&args.output_dir);
    a.config = abs(&args.config);
    a.junit = abs(&args.junit);
    a.markdown = abs(&args.markdown);
    a.summary_json = summary.map(Path::to_path_buf);
    a.run_dir_file = run_dir_file.map(Path::to_path_buf);
    a.to_argv()
}

/// Whether a command runs evals (not `--list`, `--validate` or `--plan`).
fn collect_runs(run: &Args) -> bool {
    !run.list && !run.validate && !run.plan
}

/// A model given as a file (`--model my.gguf`, `--judge replay:runs/x`) is
/// where the user's shell is: made absolute, as the eval target runs in its
/// package's directory. Names from `litmus.toml`, URLs, `builtin:` models
/// and run ids stay as they are. What is a file is what
/// [`ModelSpec::parse`](litmus_core::base::model::ModelSpec::parse) takes
/// for one.
fn absolute_model(value: &str) -> String {
    use litmus_core::base::model::{BackendKind, ModelSpec};
    let Some(spec) = ModelSpec::parse(value) else {
        return value.to_string(); // a name from litmus.toml
    };
    // Where the source starts in `value`, and whether it names a file.
    let (start, a_file) = match spec.backend {
        BackendKind::Llama => (0, !spec.source.starts_with("builtin:")),
        // A run id is looked up among the runs.
        BackendKind::Replay => ("replay:".len(), Path::new(&spec.source).exists()),
        BackendKind::Openai | BackendKind::Ollama => (0, false),
    };
    let p = Path::new(&spec.source);
    if !a_file || p.is_absolute() {
        return value.to_string();
    }
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let end = start + spec.source.len();
    format!("{}{}{}", &value[..start], abs.display(), &value[end..])
}

fn run(args: RunArgs) -> Result<i32, String> {
    // The flags given before `--` and those after it, as one eval target
    // would parse them: a mistake is reported before anything is built.
    let run = match Args::parse(
        args.harness
            .to_argv()
            .into_iter()
            .chain(args.harness_args.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) => {
            eprint!("{}", e.message);
            return Ok(e.code);
        }
    };
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let meta = metadata(args.build.manifest_path.as_deref())?;
    let targets = find_targets(&meta, &args.build.package, &args.build.target_name, &cwd);
    if targets.is_empty() {
        let which = if args.build.target_name.is_empty() {
            "no eval targets found".to_string()
        } else {
            format!(
                "no eval target named {} found",
                args.build
                    .target_name
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        };
        return Err(format!(
            "{which}: an eval target is a `[[test]]` target with `harness = false`, in a package that depends on litmus, whose name starts with `eval` or whose file is under an `evals/` folder (e.g. `name = \"evals\"`, `path = \"evals/main.rs\"`), or one named in the package's `[package.metadata.litmus] targets`"
        ));
    }
    // litmus.toml as each eval target will read it: a mistake in it is
    // reported before a build that may take minutes, not after.
    for t in &targets {
        let config = match &run.config {
            Some(path) => litmus_core::plan::config::Config::load(path),
            None => litmus_core::plan::config::Config::discover(&t.manifest_dir),
        };
        if let Err(e) = config {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    }
    let plan = build_plan(&args.build, &meta);
    if args.print_build_plan {
        println!("{}", serde_json::to_string(&plan).unwrap_or_default());
        return Ok(exit::OK);
    }
    let exes = build(&targets, &args.build, &plan)?;
    let argv: Vec<String> = std::env::args().collect();
    let tmp = std::env::temp_dir().join(format!("cargo-eval-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut worst = exit::OK;
    let mut summaries = Vec::new();
    let multi = targets.len() > 1;
    // Whether any target opened a run (it names the run's directory then).
    let mut ran_any = false;
    for (i, (t, exe)) in targets.iter().zip(&exes).enumerate() {
        if multi && !run.list && !run.plan && run.format == Format::Human {
            eprintln!("{:>12} {} ({})", "Running", t.name, t.package);
        }
        let summary_path = tmp.join(format!("summary-{i}.json"));
        let run_dir_path = tmp.join(format!("run-dir-{i}"));
        let collect = collect_runs(&run);
        let mut cmd = Command::new(exe);
        cmd.args(target_args(
            &run,
            collect.then_some(summary_path.as_path()),
            collect.then_some(run_dir_path.as_path()),
        ))
        .current_dir(&t.manifest_dir)
        .env("CARGO_TARGET_DIR", &meta.target_directory);
        end_with_this_process(&mut cmd);
        // Ctrl-C reaches the eval target (the terminal's process group);
        // this process outlives it to say what was stored and how to go on.
        let status = while_ignoring_interrupts(|| cmd.status())
            .map_err(|e| format!("running {}: {e}", exe.display()))?;
        let interrupted = {
            use std::os::unix::process::ExitStatusExt;
            status.signal() == Some(libc::SIGINT)
        };
        // 0-5 are the harness's own codes; anything else (a signal, a panic
        // outside the harness) ended it before it could report.
        let expected = status
            .code()
            .filter(|c| (exit::OK..=exit::SNAPSHOT_CHANGED).contains(c));
        // A target that opened its run (it names the run's directory then)
        // and exited with a code that promises a summary, but wrote none,
        // did not finish: something in it ended the process (an eval calling
        // `std::process::exit(0)`), and 0 must not pass for a whole run.
        let unreported = collect
            && expected.is_some_and(|c| c != exit::ERRORED && c != exit::USAGE)
            && run_dir_path.exists()
            && !summary_path.exists();
        ran_any |= run_dir_path.exists();
        let expected = expected.filter(|_| !unreported);
        let code = expected.unwrap_or(exit::ERRORED);
        if expected.is_none() || (collect && code == exit::ERRORED) {
            let run_dir = collect
                .then(|| std::fs::read_to_string(&run_dir_path).ok())
                .flatten()
                .map(|d| PathBuf::from(d.trim()));
            let only = multi.then_some(t);
            let ended = (expected.is_none()).then_some(&status);
            eprint!(
                "{}",
                ended_report(t, ended, run_dir.as_deref(), &argv, only)
            );
        }
        worst = exit::worst(worst, code);
        if interrupted {
            break;
        }
        if collect {
            if let Ok(data) = std::fs::read(&summary_path) {
                // The user's own `--summary-json` (this process gives the
                // target a path of its own to read back).
                match &run.summary_json {
                    Some(user) if !multi => {
                        if let Err(e) = std::fs::write(user, &data) {
                            eprintln!("warning: --summary-json {}: {e}", user.display());
                        }
                    }
                    Some(user) if i == 0 => eprintln!(
                        "warning: --summary-json {}: not written, as {} eval targets ran (name one with --target-name)",
                        user.display(),
                        targets.len()
                    ),
                    _ => {}
                }
                if let Ok(s) = serde_json::from_slice::<RunSummary>(&data) {
                    summaries.push((t.clone(), s));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    // Filters that select nothing in any target: a mistyped name or tag in
    // CI must not pass as a green run of nothing (as nextest fails "no
    // tests to run"); each target, run alone by `cargo test FILTER`, passes.
    let filtered = !run.filters.is_empty() || !run.skip.is_empty() || !run.tags.is_empty();
    let whole = !run.resume && run.partition.is_none();
    if collect_runs(&run) && filtered && whole && !ran_any && worst == exit::OK {
        eprintln!(
            "error: no eval of {} matches the filters (`cargo eval --list` lists them)",
            if multi {
                "any eval target"
            } else {
                "the eval target"
            }
        );
        return Ok(exit::USAGE);
    }
    if multi && run.format == Format::Human && !summaries.is_empty() {
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
                    c.score.ci(),
                    c.evals.to_string(),
                    c.errors.to_string(),
                ]);
            }
        }
        for line in litmus_core::output::console::table(&rows) {
            println!("{line}");
        }
    }
    Ok(worst)
}

/// What `cargo eval` says when an eval target ends abnormally (`ended`: by a
/// signal or with a code outside 0-5) or with errors: how it ended, what its
/// run stored, and the command that continues the run. `only`: the target to
/// name in that command (when several ran).
fn ended_report(
    t: &EvalTarget,
    ended: Option<&std::process::ExitStatus>,
    run_dir: Option<&Path>,
    argv: &[String],
    only: Option<&EvalTarget>,
) -> String {
    let mut out = String::new();
    if let Some(status) = ended {
        out.push_str(&format!(
            "error: eval target `{}/{}` {} before it could report\n",
            t.package,
            t.name,
            litmus_core::base::util::describe_exit(status)
        ));
        if status.success() {
            out.push_str(
                "       (it wrote no summary: something in it, such as an eval calling std::process::exit, ended the process)\n",
            );
        }
    }
    let Some(run_dir) = run_dir else {
        if ended.is_some() {
            out.push_str(
                "       no samples were stored (it ended before its results store existed)\n",
            );
        }
        return out;
    };
    let (scored, errored) = litmus_core::run::summary::stored_counts(run_dir);
    let run_id = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if ended.is_some() {
        let n = scored + errored;
        out.push_str(&format!(
            "       {n} sample{} stored in {} ({scored} scored, {errored} errored)\n",
            if n == 1 { " is" } else { "s are" },
            run_dir.join("samples.jsonl").display()
        ));
        out.push_str("       continue the run (stored samples are kept, not run again):\n");
    } else {
        out.push_str("       retry only the errored samples:\n");
    }
    out.push_str(&format!(
        "         {}\n",
        resume_command(argv, &run_id, only)
    ));
    out
}

/// `cargo eval` with this process's arguments (`argv`, program name first),
/// continuing run `run_id`: `--resume --run-id ID` replaces any given, and
/// with `only` the command names that target (`-p`, `--target-name`).
fn resume_command(argv: &[String], run_id: &str, only: Option<&EvalTarget>) -> String {
    let mut rest: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    if rest.first() == Some(&"eval") {
        rest.remove(0);
    }
    // Dropped (with their values): what the command sets itself.
    let mut replaced = vec!["--run-id"];
    if only.is_some() {
        replaced.extend(["--package", "-p", "--target-name"]);
    }
    let mut kept: Vec<String> = Vec::new();
    let mut it = rest.into_iter();
    let mut after_dashes = false;
    while let Some(a) = it.next() {
        if a == "--" && !after_dashes {
            after_dashes = true;
            kept.push(a.to_string());
            continue;
        }
        if a == "--resume" {
            continue;
        }
        // `--flag value`, `--flag=value`, `-pNAME`.
        let active: &[&str] = if after_dashes {
            &["--run-id"]
        } else {
            &replaced
        };
        if active.contains(&a) {
            it.next();
            continue;
        }
        if active.iter().any(|f| {
            a.strip_prefix(f)
                .is_some_and(|v| v.starts_with('=') || (*f == "-p" && !v.is_empty()))
        }) {
            continue;
        }
        kept.push(a.to_string());
    }
    let mut added = vec![
        "--resume".to_string(),
        "--run-id".into(),
        run_id.to_string(),
    ];
    if let Some(t) = only {
        added.extend([
            "-p".into(),
            t.package.clone(),
            "--target-name".into(),
            t.name.clone(),
        ]);
    }
    let at = kept.iter().position(|a| a == "--").unwrap_or(kept.len());
    kept.splice(at..at, added);
    std::iter::once("cargo eval".to_string())
        .chain(kept.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `a` as a POSIX shell word.
fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// The local file a llama model source names, without fetching anything.
/// A GGUF source's file, as a run would open it (`~/` expanded, a built-in
/// model in the cache), without fetching anything: `Ok(None)` for a
/// built-in model not fetched yet, the reason a run would refuse it.
fn local_gguf(source: &str) -> Result<Option<PathBuf>, String> {
    use litmus_gguf::models::{cache_dir, check_source, Source};
    match check_source(source).map_err(|e| e.load_reason())? {
        Source::Builtin(m) => Ok(Some(cache_dir().join(m.file_name)).filter(|p| p.is_file())),
        Source::File(path) => Ok(Some(path)),
    }
}

/// The configuration a run of the package at `manifest_path` (else the one
/// around the current directory) would read: `--config`, else the
/// litmus.toml found from the package's directory upwards, as the eval
/// target's harness finds it.
fn run_config(
    manifest_path: Option<&Path>,
    config: Option<&Path>,
) -> Result<litmus_core::plan::config::Config, String> {
    use litmus_core::plan::config::Config;
    let found = match (config, manifest_path) {
        (Some(path), _) => Config::load(path),
        (None, Some(manifest)) => Config::discover(
            manifest
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        ),
        (None, None) => Config::discover(&std::env::current_dir().map_err(|e| e.to_string())?),
    };
    found.map_err(|e| e.to_string())
}

/// Where runs are stored for the commands that read them (`report`,
/// `fidelity`, `merge`), as a run of this project stores them: `[run]
/// output_dir` of the `litmus.toml` a run reads (`config`), else
/// `<target-dir>/litmus` (`target_dir`, asked only then: it runs `cargo
/// metadata`).
fn results_dir(
    config: Option<&litmus_core::plan::config::Config>,
    target_dir: impl FnOnce() -> Result<PathBuf, String>,
) -> Result<PathBuf, String> {
    match config.and_then(|c| c.output_dir()) {
        Some(dir) => Ok(dir),
        None => Ok(target_dir()?.join("litmus")),
    }
}

/// The target directory of the project `cargo metadata` describes.
fn target_dir(meta: &Metadata) -> PathBuf {
    meta.target_directory.clone().into_std_path_buf()
}

fn models(manifest_path: Option<PathBuf>, config: Option<PathBuf>) -> Result<i32, String> {
    let config = run_config(manifest_path.as_deref(), config.as_deref())?;
    let mut problems = Vec::new();
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
            let file = match s.backend {
                litmus_core::base::model::BackendKind::Llama => local_gguf(&s.source)
                    .unwrap_or_else(|e| {
                        let key = litmus_core::plan::resolve::defined_at(&config, &s)
                            .map_or_else(|| format!("models.{name}"), |(_, key)| key);
                        problems.push(format!("{key}: {e}"));
                        None
                    }),
                _ => None,
            };
            let info = file.and_then(|p| litmus_gguf::describe_gguf(p).ok());
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
    for m in litmus_gguf::list_cached_models() {
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
    for line in litmus_core::output::console::table(&rows) {
        println!("{line}");
    }
    if rows.len() == 1 {
        println!(
            "no models configured in litmus.toml and none cached in {}",
            litmus_gguf::cache_dir().display()
        );
    }
    for p in &problems {
        eprintln!("warning: {p}");
    }
    Ok(exit::OK)
}

fn report(args: ReportArgs) -> Result<i32, String> {
    use litmus_core::output::study_report::StudyOptions;
    // A run given as a directory needs no cargo project around it.
    let output_dir = || -> Result<PathBuf, String> {
        match &args.output_dir {
            Some(d) => Ok(d.clone()),
            None => results_dir(
                run_config(args.manifest_path.as_deref(), None)
                    .ok()
                    .as_ref(),
                || metadata(args.manifest_path.as_deref()).map(|m| target_dir(&m)),
            ),
        }
    };
    // Checked before anything is written (--html writes first).
    enum Out {
        Text,
        Markdown,
        Json,
    }
    let out = match args.format.as_str() {
        "text" => Out::Text,
        "markdown" | "md" => Out::Markdown,
        "json" => Out::Json,
        other => {
            return Err(format!(
                "unknown --format `{other}` (text, markdown or json)"
            ))
        }
    };
    let load = |run: &str| -> Result<litmus_html::Run, String> {
        let dir = Path::new(run);
        if dir.join("samples.jsonl").is_file() {
            return litmus_html::Run::load(dir);
        }
        if dir.is_dir() && (run.contains('/') || args.output_dir.is_some()) {
            return Err(format!(
                "{run} is not a run directory (it has no samples.jsonl)"
            ));
        }
        let output_dir = output_dir().map_err(|_| {
            format!("no run directory `{run}`, and no cargo project here whose results hold a run of that id (give a run directory, or --output-dir)")
        })?;
        let dir = litmus_core::run::store::find_run(&output_dir, run).ok_or_else(|| {
            format!(
                "no run `{run}` in {} (give a run directory or id)",
                output_dir.join("runs").display()
            )
        })?;
        litmus_html::Run::load(&dir)
    };
    let run = load(&args.run)?;
    let options = StudyOptions {
        baseline: args.baseline.clone(),
        seed: None,
        tags: args.tags.clone(),
    };
    let study = run.study(&options);
    if let (Some(want), None) = (&args.baseline, &study.baseline) {
        if study.rows.len() > 1 {
            return Err(format!(
                "baseline `{want}` matches no configuration of the run"
            ));
        }
        eprintln!("warning: --baseline {want}: the run has one model and quantization, nothing to compare it with");
    }
    let run_tags: std::collections::BTreeSet<&str> = run
        .records
        .iter()
        .flat_map(|r| r.tags.iter().map(String::as_str))
        .collect();
    for tag in args.tags.iter().filter(|t| !run_tags.contains(t.as_str())) {
        let known: Vec<&str> = run_tags.iter().copied().collect();
        eprintln!(
            "warning: --tags: no eval of the run has the tag `{tag}` (its tags: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let other = args.compare.as_deref().map(load).transpose()?;
    if let Some(html) = &args.html {
        let (default, page) = match &other {
            Some(b) => (
                run.dir.join(format!("compare-{}.html", b.id())),
                litmus_html::render_comparison(&run, b, &options),
            ),
            None => (
                run.dir.join(litmus_html::REPORT_FILE),
                litmus_html::render(&run, &options),
            ),
        };
        let path = html.clone().unwrap_or(default);
        std::fs::write(&path, page).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("{:>12} {}", "Report", path.display());
        if args.output.is_none() && args.format == "text" {
            return Ok(exit::OK);
        }
    }
    let mut text = match &other {
        None => match out {
            Out::Text => study.text(),
            Out::Markdown => study.markdown(),
            Out::Json => study.json(),
        },
        Some(b) => {
            let cmp = litmus_html::Comparison::build(&run, b);
            if cmp.configs.is_empty() {
                eprintln!(
                    "warning: no configuration of run {} pairs with one of run {} (model, quantization, template and temperature all differ): nothing compared",
                    b.id(),
                    run.id()
                );
            }
            match out {
                Out::Text => cmp.text(),
                Out::Markdown => cmp.markdown(),
                Out::Json => cmp.json(),
            }
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match args.output {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(exit::OK)
}

fn quantize(args: QuantizeArgs) -> Result<i32, String> {
    use litmus_gguf::ladder::{ftype_of, known_types, QuantizeJob};
    // Check every type before building anything.
    if let Some(bad) = args.types.iter().find(|t| ftype_of(t).is_none()) {
        return Err(format!(
            "unknown quantization type `{bad}` (known: {})",
            known_types().join(", ")
        ));
    }
    let meta = metadata(args.build.manifest_path.as_deref())?;
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let job = QuantizeJob {
        source: if args.source.starts_with("builtin:") {
            args.source.clone()
        } else {
            abs(Path::new(&args.source)).display().to_string()
        },
        types: args.types.clone(),
        out_dir: args.out_dir.as_deref().map(abs),
        threads: args.threads,
        name: args.name.clone(),
    };
    run_job_in_eval_target(
        &args.build,
        &meta,
        &job.to_args(),
        "to quantize with: `cargo eval quantize` runs llama.cpp's quantizer in an eval target \
         (cargo-eval itself does not link llama.cpp); run it in a package with one, whose litmus dependency \
         has the `llama` feature (on by default), or pick one with -p",
        "while quantizing; finished rungs are kept, the one in progress is left as a .gguf.part file",
    )
}

/// Builds the first eval target `build` selects and runs it with `job_args`
/// (a hidden job flag: llama.cpp work that cargo-eval, which does not link
/// it, hands to an eval target). Its exit code is passed on; a crash is
/// reported with `while` and counts as an error. `missing` ends the error
/// when there is no eval target ("no eval target {missing}").
fn run_job_in_eval_target(
    build_args: &BuildArgs,
    meta: &Metadata,
    job_args: &[String],
    missing: &str,
    while_doing: &str,
) -> Result<i32, String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let targets = find_targets(meta, &build_args.package, &build_args.target_name, &cwd);
    let Some(target) = targets.into_iter().next() else {
        return Err(format!("no eval target {missing}"));
    };
    let plan = build_plan(build_args, meta);
    let exe = build(std::slice::from_ref(&target), build_args, &plan)?.remove(0);
    let status = Command::new(&exe)
        .args(job_args)
        .env("CARGO_TARGET_DIR", &meta.target_directory)
        .status()
        .map_err(|e| format!("running {}: {e}", exe.display()))?;
    match status.code() {
        Some(code) if (exit::OK..=exit::SNAPSHOT_CHANGED).contains(&code) => Ok(code),
        _ => {
            eprintln!(
                "error: eval target `{}/{}` {} {while_doing}",
                target.package,
                target.name,
                litmus_core::base::util::describe_exit(&status)
            );
            Ok(exit::ERRORED)
        }
    }
}

fn devices(args: DevicesArgs) -> Result<i32, String> {
    use litmus_core::plan::placement::DevicesJob;
    if !matches!(args.format.as_str(), "text" | "json") {
        return Err(format!("unknown --format `{}` (text or json)", args.format));
    }
    let meta = metadata(args.build.manifest_path.as_deref())?;
    let config = run_config(args.build.manifest_path.as_deref(), args.config.as_deref())?;
    let plan = match &args.plan {
        None => Vec::new(),
        Some(names) => litmus_core::plan::resolve::models(&config, names, "--plan")?,
    };
    let job = DevicesJob {
        format: args.format.clone(),
        plan,
        devices: config.devices.clone(),
    };
    run_job_in_eval_target(
        &args.build,
        &meta,
        &job.to_args(),
        "to read the devices with: `cargo eval devices` asks an eval target's llama.cpp \
         (cargo-eval itself does not link llama.cpp); run it in a package with one, or pick one with -p",
        "while listing devices",
    )
}

/// `cargo eval merge`: the library does the work
/// (`litmus_core::output::merge`); this adds the HTML report and the
/// console output.
fn merge(args: MergeArgs) -> Result<i32, String> {
    use litmus_core::output::ci::exit_message;
    use litmus_core::output::merge::{describe, merge_runs};
    use litmus_core::output::snapshot::report_lines;
    let meta = metadata(args.manifest_path.as_deref()).ok();
    let id = litmus_core::run::store::new_run_id();
    let config = run_config(args.manifest_path.as_deref(), None).ok();
    let runs_dir = results_dir(config.as_ref(), || {
        Ok(meta
            .as_ref()
            .map_or_else(|| PathBuf::from("target"), target_dir))
    })?
    .join("runs");
    let output = args.output.clone().unwrap_or_else(|| runs_dir.join(&id));
    let request = litmus_core::output::merge::MergeRequest {
        runs: args.runs.clone(),
        id: id.clone(),
        output: output.clone(),
        args: std::env::args().collect(),
        allow_missing: args.allow_missing,
        workspace_root: meta.map(|m| m.workspace_root.into_std_path_buf()),
        no_snapshots: args.no_snapshots,
        tolerance: args.tolerance,
        junit: args.junit.clone(),
        markdown: args.markdown.clone(),
    };
    let report = match merge_runs(&request) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", printable(&e.to_string()));
            return Ok(exit::USAGE);
        }
    };
    if args.output.is_none() {
        let _ = std::fs::write(runs_dir.join("latest"), &id);
    }
    let summary = &report.merged.summary;
    if !args.quiet {
        litmus_core::output::console::Console::new(
            Format::Human,
            false,
            litmus_core::output::console::Color::Auto,
        )
        .summary(summary);
    }
    eprintln!("{:>12} {}", "Merged", describe(&report, &output));
    for line in report_lines(&report.snapshots, true) {
        eprintln!("{line}");
    }
    if !args.no_html_report {
        match litmus_html::write_report(&output) {
            Ok(path) if !args.quiet => eprintln!("{:>12} {}", "Report", path.display()),
            Ok(_) => {}
            Err(e) => eprintln!("warning: HTML report: {e}"),
        }
    }
    for w in &report.warnings {
        eprintln!("warning: {}", printable(w));
    }
    for e in &report.unwritten {
        eprintln!("error: {} (the merged run is stored)", printable(e));
    }
    // What the scores call for (a report not written was said above).
    let scores = litmus_core::output::ci::exit_code(summary, &report.snapshots);
    let message = exit_message(scores, summary, true);
    if !message.is_empty() {
        eprintln!("error: {message}");
    }
    Ok(report.exit_code)
}

fn main() -> ExitCode {
    // `cargo eval ...` runs `cargo-eval eval ...`.
    let mut argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("eval") {
        argv.remove(1);
    }
    let cli = Cli::parse_from(argv);
    let result = match cli.command {
        Some(Cmd::Models {
            manifest_path,
            config,
        }) => models(manifest_path, config),
        Some(Cmd::Quantize(args)) => quantize(args),
        Some(Cmd::Fidelity(args)) => fidelity::fidelity(args),
        Some(Cmd::Report(args)) => report(args),
        Some(Cmd::Devices(args)) => devices(args),
        Some(Cmd::Merge(args)) => merge(args),
        None => run(cli.run),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            // Line by line: a TOML error's source line and caret stay on
            // their own lines; control characters are escaped.
            let e = e.to_string();
            let lines: Vec<_> = e.split('\n').map(printable).collect();
            eprintln!("error: {}", lines.join("\n"));
            ExitCode::from(exit::USAGE as u8)
        }
    }
}

/// Runs `f` with SIGINT ignored by this process, then takes it as before.
fn while_ignoring_interrupts<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: setting a signal's disposition to SIG_IGN and back.
    let before = unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let out = f();
    unsafe { libc::signal(libc::SIGINT, before) };
    out
}

/// The eval target ends when `cargo eval` does (SIGTERM once it is gone,
/// however it ended: `kill`, a CI job stopped): an orphan would go on
/// writing into the run, unseen, and a `--resume` beside it would produce
/// the same samples twice.
fn end_with_this_process(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid before the fork; prctl and getppid are async-signal-safe.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            // Interrupts are the eval target's to take (this process ignores
            // them while it runs: see `while_ignoring_interrupts`).
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Gone already, before the signal was asked for.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("cargo eval ended"));
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-t` means one thing across cargo eval: `--template` of a run.
    #[test]
    fn dash_t_is_the_template_everywhere() {
        let cli = Cli::try_parse_from(["cargo-eval", "-t", "chatml"]).unwrap();
        assert_eq!(cli.run.harness.templates, ["chatml"]);
        let e = Cli::try_parse_from(["cargo-eval", "quantize", "-t", "Q4_0"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument, "{e}");
        let Some(Cmd::Quantize(q)) =
            Cli::try_parse_from(["cargo-eval", "quantize", "--type", "Q4_0,Q8_0"])
                .unwrap()
                .command
        else {
            panic!("not quantize")
        };
        assert_eq!(q.types, ["Q4_0", "Q8_0"]);
    }

    #[test]
    fn models_given_as_files_are_taken_from_where_cargo_eval_runs() {
        let cwd = std::env::current_dir().unwrap();
        let at = |p: &str| cwd.join(p).display().to_string();
        assert_eq!(absolute_model("m.Q4_K_M.gguf"), at("m.Q4_K_M.gguf"));
        assert_eq!(absolute_model("../models/m"), at("../models/m"));
        assert_eq!(absolute_model("/abs/m.gguf"), "/abs/m.gguf");
        // Names from litmus.toml, URLs, built-in models, run ids.
        for kept in [
            "big",
            "builtin:gemma3-270m-q4_k_m",
            "openai:http://127.0.0.1:8080/v1#gemma",
            "ollama:http://127.0.0.1:11434#llama3",
            "replay:20261207-120000-abcdef",
        ] {
            assert_eq!(absolute_model(kept), kept);
        }
        // A recorded run that is here (this crate's `src`), with its model.
        assert_eq!(
            absolute_model("replay:src#m"),
            format!("replay:{}#m", at("src"))
        );
    }

    fn argv(args: &[&str]) -> Vec<String> {
        std::iter::once("/bin/cargo-eval")
            .chain(args.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn the_resume_command_keeps_the_other_arguments() {
        let a = argv(&[
            "eval",
            "--model",
            "m.gguf",
            "capital",
            "--",
            "--tolerance",
            "2",
        ]);
        assert_eq!(
            resume_command(&a, "r1", None),
            "cargo eval --model m.gguf capital --resume --run-id r1 -- --tolerance 2"
        );
        // A resumed run: its flags are replaced, not repeated.
        let a = argv(&[
            "eval",
            "--resume",
            "--run-id=old",
            "-n",
            "3",
            "--",
            "--run-id",
            "x",
            "--resume",
        ]);
        assert_eq!(
            resume_command(&a, "r2", None),
            "cargo eval -n 3 --resume --run-id r2 --"
        );
        // Several targets ran: the command names the one to continue.
        let t = EvalTarget {
            package: "userproj".into(),
            name: "evals".into(),
            manifest_dir: PathBuf::new(),
        };
        let a = argv(&[
            "eval",
            "-p",
            "a",
            "-pb",
            "--package=c",
            "--target-name",
            "x",
            "--tag",
            "geo",
        ]);
        assert_eq!(
            resume_command(&a, "r3", Some(&t)),
            "cargo eval --tag geo --resume --run-id r3 -p userproj --target-name evals"
        );
        // Words the shell would split or expand are quoted.
        let a = argv(&["eval", "--model", "openai:http://h/v1#my model", "it's"]);
        assert_eq!(
            resume_command(&a, "r4", None),
            r"cargo eval --model 'openai:http://h/v1#my model' 'it'\''s' --resume --run-id r4"
        );
    }
}
