//! `cargo eval fidelity`: KL divergence and top-token agreement of every
//! quantization of a model in a run against a reference, measured in an eval
//! target (cargo-eval does not link llama.cpp), and the section `cargo eval
//! report` adds for it: the fidelity next to the score deltas, with the
//! correlation between per-eval KLD and per-eval score change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args as ClapArgs;
use litmus_core::harness::exit;
use litmus_core::store::SampleRecord;
use litmus_gguf::fidelity::{FidelityJob, FidelityModel, FidelityReport, FIDELITY_FILE};

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
    /// Results directory (default: <target-dir>/litmus).
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// The measurement runs in an eval target, built like `cargo eval`
    /// builds it.
    #[command(flatten)]
    build: BuildArgs,
}

/// `~/x` → `$HOME/x`; `builtin:` sources stay as they are.
fn expand_home(source: &str) -> String {
    match source.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(rest).display().to_string())
            .unwrap_or_else(|| source.to_string()),
        None => source.to_string(),
    }
}

/// Bits per weight of a local GGUF (for picking the reference).
fn bits_per_weight(source: &str) -> Option<f64> {
    let path = crate::local_gguf(&expand_home(source))?;
    let info = litmus_gguf::describe_gguf(&path).ok()?;
    Some(info.size_bytes as f64 * 8.0 / info.parameters? as f64)
}

pub(crate) fn fidelity(args: FidelityArgs) -> Result<i32, String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let meta = crate::metadata(args.build.manifest_path.as_deref())?;
    let output_dir = args
        .output_dir
        .clone()
        .unwrap_or_else(|| meta.target_directory.join("litmus"));
    let run_dir = if Path::new(&args.run).join("samples.jsonl").is_file() {
        PathBuf::from(&args.run)
    } else {
        litmus_core::store::find_run(&output_dir, &args.run).ok_or_else(|| {
            format!(
                "no run `{}` in {} (give a run directory or id)",
                args.run,
                output_dir.join("runs").display()
            )
        })?
    };
    let records = litmus_core::store::read_run(&run_dir).map_err(|e| e.to_string())?;
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
    let config = match &args.config {
        Some(p) => litmus_core::config::Config::load(p),
        None => litmus_core::config::Config::discover(&meta.workspace_root),
    }
    .map_err(|e| e.to_string())?;
    let spec = config.models.get(&model).ok_or_else(|| {
        format!("model `{model}` is not in the configuration (litmus.toml): its quantizations' files are listed there")
    })?;
    let rungs: Vec<FidelityModel> = spec
        .expand()
        .into_iter()
        .filter_map(|s| {
            Some(FidelityModel {
                label: s.quantization?,
                source: expand_home(&s.source),
            })
        })
        .collect();
    if rungs.len() < 2 {
        return Err(format!(
            "model `{model}` has {} quantization(s) in the configuration: fidelity compares several ([models.{model}.quantizations])",
            rungs.len()
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
        None => rungs
            .iter()
            .max_by(|a, b| {
                bits_per_weight(&a.source)
                    .unwrap_or(0.0)
                    .total_cmp(&bits_per_weight(&b.source).unwrap_or(0.0))
            })
            .cloned()
            .expect("two rungs at least"),
    };
    let quants: Vec<FidelityModel> = rungs
        .iter()
        .filter(|r| r.label != reference.label)
        .cloned()
        .collect();
    let targets = crate::find_targets(&meta, &args.build.package, &args.build.target_name, &cwd);
    let Some(target) = targets.into_iter().next() else {
        return Err(
            "no eval target to measure with: `cargo eval fidelity` runs the models in an eval target \
             (cargo-eval itself does not link llama.cpp); run it in a package with one, or pick one with -p"
                .into(),
        );
    };
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
    let plan = crate::build_plan(&args.build, &meta);
    let exe = crate::build(std::slice::from_ref(&target), &args.build, &plan)?.remove(0);
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
    let status = Command::new(&exe)
        .args(FidelityJob::to_args(&job_file))
        .env("CARGO_TARGET_DIR", &meta.target_directory)
        .status()
        .map_err(|e| format!("running {}: {e}", exe.display()));
    let _ = std::fs::remove_file(&job_file);
    let status = status?;
    match status.code() {
        Some(code) if (exit::OK..=exit::SNAPSHOT_CHANGED).contains(&code) => Ok(code),
        _ => {
            eprintln!(
                "error: eval target `{}/{}` {} while measuring fidelity",
                target.package,
                target.name,
                litmus_core::util::describe_exit(&status)
            );
            Ok(exit::ERRORED)
        }
    }
}

/// Pearson's correlation of paired values (`None` under 3 pairs or without
/// spread).
fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let n = pairs.len() as f64;
    if pairs.len() < 3 {
        return None;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Mean score per eval of one quantization of `model` (over its templates,
/// temperatures and samples).
fn eval_scores(records: &[SampleRecord], model: &str, quant: &str) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for r in records {
        if r.model != model || r.quantization.as_deref() != Some(quant) {
            continue;
        }
        if let Some(s) = &r.score {
            let e = sums.entry(r.eval.clone()).or_default();
            e.0 += s.value;
            e.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect()
}

/// The report's fidelity section, when the run has a `fidelity.json`:
/// per configuration its KLD, agreement and Δp next to its score change
/// against the reference, and the correlation across evals between KLD and
/// score change (per configuration, and pooled over the study).
pub(crate) fn report_section(run_dir: &Path, markdown: bool) -> Option<String> {
    let data = std::fs::read(run_dir.join(FIDELITY_FILE)).ok()?;
    let f: FidelityReport = serde_json::from_slice(&data).ok()?;
    let records = litmus_core::store::read_run(run_dir).unwrap_or_default();
    let reference = eval_scores(&records, &f.model, &f.reference);
    let mut rows = vec![vec![
        "quant".to_string(),
        "mean KLD [95% CI]".into(),
        "median KLD".into(),
        "p99 KLD".into(),
        "same top %".into(),
        "RMS Δp %".into(),
        "score Δ vs ref".into(),
        "r(KLD, Δscore)".into(),
        "evals".into(),
    ]];
    let mut pooled = Vec::new();
    for c in &f.configs {
        let s = &c.overall;
        let scores = eval_scores(&records, &f.model, &c.quantization);
        let pairs: Vec<(f64, f64)> = c
            .by_eval
            .iter()
            .filter_map(|(eval, fe)| Some((fe.mean_kld, scores.get(eval)? - reference.get(eval)?)))
            .collect();
        pooled.extend_from_slice(&pairs);
        let delta = (!pairs.is_empty())
            .then(|| pairs.iter().map(|p| p.1).sum::<f64>() / pairs.len() as f64);
        rows.push(vec![
            c.quantization.clone(),
            format!(
                "{:.4} [{:.4}, {:.4}]",
                s.mean_kld, s.kld_ci95[0], s.kld_ci95[1]
            ),
            format!("{:.4}", s.median_kld),
            format!("{:.3}", s.p99_kld),
            format!("{:.1} ± {:.1}", 100.0 * s.same_top, 100.0 * s.same_top_err),
            format!("{:.2}", 100.0 * s.rms_p_diff),
            delta.map_or("-".into(), |d| format!("{d:+.1}")),
            pearson(&pairs).map_or("-".into(), |r| format!("{r:+.2}")),
            pairs.len().to_string(),
        ]);
    }
    let mut out = String::new();
    let title = format!(
        "Fidelity against {} {} ({} answers of the reference teacher-forced, {} tokens scored per configuration)",
        f.model, f.reference, f.sequences, f.tokens_scored
    );
    if markdown {
        out.push_str(&format!("\n### {title}\n\n"));
        out.push_str(&format!("| {} |\n", rows[0].join(" | ")));
        out.push_str(&format!("|{}\n", " ---: |".repeat(rows[0].len())));
        for r in &rows[1..] {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out.push('\n');
    } else {
        out.push_str(&format!("\n{title}\n"));
        for line in litmus_core::report::table(&rows) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    // Per tag: mean KLD and same-top agreement of each configuration.
    let tags: std::collections::BTreeSet<&String> =
        f.configs.iter().flat_map(|c| c.by_tag.keys()).collect();
    if !tags.is_empty() {
        let mut rows = vec![std::iter::once("tag".to_string())
            .chain(f.configs.iter().map(|c| c.quantization.clone()))
            .collect::<Vec<_>>()];
        for t in tags {
            rows.push(
                std::iter::once(t.clone())
                    .chain(f.configs.iter().map(|c| {
                        c.by_tag.get(t).map_or("-".into(), |s| {
                            format!("{:.4} ({:.0}%)", s.mean_kld, 100.0 * s.same_top)
                        })
                    }))
                    .collect(),
            );
        }
        let title = "Mean KLD (same top %) per tag";
        if markdown {
            out.push_str(&format!("\n{title}:\n\n| {} |\n", rows[0].join(" | ")));
            out.push_str(&format!("|{}\n", " ---: |".repeat(rows[0].len())));
            for r in &rows[1..] {
                out.push_str(&format!("| {} |\n", r.join(" | ")));
            }
            out.push('\n');
        } else {
            out.push_str(&format!("\n{title}\n"));
            for line in litmus_core::report::table(&rows) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out.push_str(&match pearson(&pooled) {
        Some(r) => format!(
            "Per-eval KLD vs per-eval score change, pooled over configurations: r = {r:+.2} ({} eval × configuration pairs).\n",
            pooled.len()
        ),
        None => "Per-eval KLD vs score change: no scores of both the reference and a quantization for the same evals in this run.\n".to_string(),
    });
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_lines_and_noise() {
        let line: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        assert!((pearson(&line).unwrap() - 1.0).abs() < 1e-12);
        let down: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, -(i as f64))).collect();
        assert!((pearson(&down).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[(1.0, 1.0), (2.0, 2.0)]), None);
        assert_eq!(pearson(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]), None);
    }
}
