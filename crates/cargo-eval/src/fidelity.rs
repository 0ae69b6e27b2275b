//! `cargo eval fidelity`: KL divergence and top-token agreement of every
//! quantization of a model in a run against a reference. cargo-eval picks
//! the run, the model's quantizations (from `litmus.toml`) and the reference,
//! and hands the measurement to an eval target (it does not link llama.cpp),
//! which writes the run's `fidelity.json`; `cargo eval report` then shows it
//! next to the score changes (`litmus_core::output::study_report`).

use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;
use litmus_core::run::fidelity::{FidelityJob, FidelityModel};
use litmus_gguf::models::expand_home;

use crate::BuildArgs;

#[derive(ClapArgs, Debug)]
pub(crate) struct FidelityArgs {
    /// The run whose prompts and reference answers are used (a run
    /// directory, a run id or `latest`); fidelity.json is written there.
    #[arg(default_value = "latest")]
    run: String,
    /// The model (default: the run's only model).
    #[arg(long)]
    model: Option<String>,
    /// The reference quantization (default: the most bits per weight among
    /// the model's quantizations).
    #[arg(long)]
    reference: Option<String>,
    /// Answers per eval and template × temperature (0: every sample).
    #[arg(long, default_value_t = 1)]
    samples: u32,
    /// Token budget of answers the reference generates greedily, where the
    /// run stored none of its own.
    #[arg(long, default_value_t = 192)]
    max_tokens: u32,
    /// Configuration file (default: litmus.toml found from the workspace).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Threads (default: physical cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Tokens per decode.
    #[arg(long)]
    window: Option<usize>,
    /// Measure again instead of using cached measurements.
    #[arg(long)]
    no_cache: bool,
    /// Results directory (default: TARGET_DIR/litmus).
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// The measurement runs in an eval target, built like `cargo eval`
    /// builds it.
    #[command(flatten)]
    build: BuildArgs,
}

/// Bits per weight of a local GGUF (for picking the reference).
fn bits_per_weight(source: &str) -> Option<f64> {
    let path = crate::local_gguf(source).ok()??;
    let info = litmus_gguf::describe_gguf(&path).ok()?;
    let parameters = info.parameters.filter(|&n| n > 0)?;
    Some(info.size_bytes as f64 * 8.0 / parameters as f64)
}

pub(crate) fn fidelity(args: FidelityArgs) -> Result<i32, String> {
    let manifest_path = args.build.manifest_path.as_deref();
    let meta = crate::metadata(manifest_path)?;
    // The litmus.toml a run of this project reads: where its runs are, and
    // the model's quantizations.
    let config = crate::run_config(manifest_path, args.config.as_deref())?;
    let output_dir = match &args.output_dir {
        Some(d) => d.clone(),
        None => crate::results_dir(Some(&config), || Ok(crate::target_dir(&meta)))?,
    };
    let run_dir = if Path::new(&args.run).join("samples.jsonl").is_file() {
        PathBuf::from(&args.run)
    } else {
        litmus_core::run::store::find_run(&output_dir, &args.run).ok_or_else(|| {
            format!(
                "no run `{}` in {} (give a run directory or id)",
                args.run,
                output_dir.join("runs").display()
            )
        })?
    };
    let records = litmus_core::run::store::read_run(&run_dir).map_err(|e| e.to_string())?;
    let mut models: Vec<&str> = records.iter().map(|r| r.model.as_str()).collect();
    models.sort();
    models.dedup();
    let model = match (&args.model, models.as_slice()) {
        (Some(m), _) => m.clone(),
        (None, [one]) => one.to_string(),
        (None, _) => {
            return Err(format!(
                "the run has several models ({}): pick one with --model",
                models.join(", ")
            ))
        }
    };
    let spec = config.models.get(&model).ok_or_else(|| {
        format!("model `{model}` is not in the configuration (litmus.toml): its quantizations' files are listed there")
    })?;
    let rungs: Vec<FidelityModel> = spec
        .expand()
        .into_iter()
        .filter_map(|s| {
            Some(FidelityModel {
                label: s.quantization?,
                source: expand_home(&s.source).display().to_string(),
            })
        })
        .collect();
    if rungs.len() < 2 {
        return Err(format!(
            "model `{model}` has {} in the configuration: fidelity compares two or more ([models.{model}.quantizations])",
            if rungs.is_empty() {
                "no quantizations"
            } else {
                "one quantization"
            }
        ));
    }
    let reference = match &args.reference {
        Some(want) => rungs
            .iter()
            .find(|r| r.label.eq_ignore_ascii_case(want))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "no quantization `{want}` of `{model}` (known: {})",
                    rungs
                        .iter()
                        .map(|r| r.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
        None => {
            // The most bits per weight, among the files that are here; a
            // file that is not (not fetched yet, or a path of another
            // machine's run) cannot be weighed, and a tie cannot be broken.
            let weighed: Vec<(f64, &FidelityModel)> = rungs
                .iter()
                .filter_map(|r| Some((bits_per_weight(&r.source)?, r)))
                .collect();
            let best = weighed
                .iter()
                .map(|w| w.0)
                .fold(f64::NEG_INFINITY, f64::max);
            let top: Vec<&FidelityModel> = weighed
                .iter()
                .filter(|w| w.0 == best)
                .map(|w| w.1)
                .collect();
            match top[..] {
                [one] => one.clone(),
                _ => {
                    let labels = |rs: &[&FidelityModel]| {
                        rs.iter()
                            .map(|r| r.label.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let why = if top.is_empty() {
                        let all: Vec<&FidelityModel> = rungs.iter().collect();
                        format!("none of its files is here to weigh ({})", labels(&all))
                    } else {
                        format!("{} have as many bits per weight", labels(&top))
                    };
                    return Err(format!(
                        "cannot tell which quantization of `{model}` is the reference: {why}; name one with --reference"
                    ));
                }
            }
        }
    };
    let quants: Vec<FidelityModel> = rungs
        .iter()
        .filter(|r| r.label != reference.label)
        .cloned()
        .collect();
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let job = FidelityJob {
        run_dir: abs(&run_dir),
        model: model.clone(),
        reference: reference.clone(),
        quants,
        samples: args.samples,
        max_tokens: args.max_tokens,
        threads: args.threads,
        window: args.window,
        cache_dir: (!args.no_cache).then(|| abs(&output_dir.join("cache"))),
        options: spec.options.clone(),
    };
    let job_file =
        std::env::temp_dir().join(format!("cargo-eval-fidelity-{}.json", std::process::id()));
    std::fs::write(
        &job_file,
        serde_json::to_vec(&job).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", job_file.display()))?;
    eprintln!(
        "{:>12} {} against {} over the answers of run {}",
        "Fidelity",
        job.quants
            .iter()
            .map(|q| q.label.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        reference.label,
        run_dir.display()
    );
    let code = crate::run_job_in_eval_target(
        &args.build,
        &meta,
        &FidelityJob::to_args(&job_file),
        "to measure with: `cargo eval fidelity` runs the models in an eval target \
         (cargo-eval itself does not link llama.cpp); run it in a package with one, whose litmus dependency \
         has the `llama` feature (on by default), or pick one with -p",
        "while measuring fidelity",
    );
    let _ = std::fs::remove_file(&job_file);
    code
}
