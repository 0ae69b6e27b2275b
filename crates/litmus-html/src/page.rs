//! The documents: a run's report and a comparison of two runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use litmus_core::output::study_report::{Study, StudyRow};
use litmus_core::run::store::ConfigKey;
use litmus_metrics::stats::Verdict;

use crate::compare::{speed_change, Comparison};
use crate::data::{by_config, Payload};
use crate::svg::{self, Bar, Point};
use crate::{esc, Run};

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"generator\" content=\"litmus {}\">\
         <title>{}</title><style>{CSS}</style></head><body>",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    )
}

fn tail(payload: &Payload) -> String {
    format!(
        "<aside id=\"drill\" hidden><div class=\"drill-bar\"><button id=\"drill-close\" title=\"Close (Esc)\">×</button></div><div id=\"drill-body\"></div></aside>\
         <script type=\"application/json\" id=\"data\">{}</script><script>{JS}</script></body></html>\n",
        payload.to_script_json()
    )
}

fn grid_section(payload: &Payload) -> String {
    let mut tags = String::new();
    for t in &payload.tags {
        let _ = write!(tags, "<option>{}</option>", esc(t));
    }
    format!(
        r#"<section id="grid"><h2>Evals × configurations</h2>
<p class="note">Each cell is an eval's mean score under a configuration (0–100; ⚠ marks errors). Click a cell for its samples, an eval's name for all its configurations.</p>
<div class="filters">
<label><input type="checkbox" id="f-fail"> failures</label>
<label><input type="checkbox" id="f-err"> errors</label>
<label><input type="checkbox" id="f-diff"> configurations differ by ≥ <input type="number" id="f-diff-pts" value="25" min="0" max="100" step="5"> points</label>
<label>tag <select id="f-tag"><option value="">any</option>{tags}</select></label>
<label>search <input type="search" id="f-q" placeholder="eval, prompt or response text"></label>
<label>sort <select id="f-sort"><option value="name">by name</option><option value="worst">worst first</option><option value="spread">most different first</option></select></label>
<span id="grid-count"></span>
</div>
<div class="grid-wrap"><table id="grid-table"></table></div></section>"#
    )
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

fn mib(b: Option<u64>) -> String {
    opt(b.map(|b| b as f64 / 1048576.0), 0)
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::NoSignificantDifference | Verdict::TooFewCases => "same",
    }
}

/// A horizontal CI bar for a table cell.
fn ci_bar(mean: f64, lo: f64, hi: f64) -> String {
    format!(
        r#"<span class="cibar" title="{mean:.1} [{lo:.1}, {hi:.1}]"><span class="ci" style="left:{:.1}%;width:{:.1}%"></span><span class="mean" style="left:{:.1}%"></span></span>"#,
        lo.clamp(0.0, 100.0),
        (hi - lo).clamp(0.0, 100.0),
        mean.clamp(0.0, 100.0)
    )
}

fn config_label(r: &StudyRow) -> String {
    format!(
        "{} · {} · t={}",
        r.variant,
        r.config.template,
        r.config.temperature()
    )
}

/// The ranking table.
fn overview(study: &Study) -> String {
    let mut out = String::from(
        r#"<div class="table-wrap"><table class="overview"><thead><tr><th>#</th><th>model</th><th>template</th><th>temp</th><th>score [95% CI]</th><th></th><th>pass@1</th><th>vs baseline [95% CI]</th><th>p</th><th>verdict</th><th title="generation tokens/s of one sequence">gen tok/s</th><th title="generated tokens/s of the model over all its sequences (wall time)">model tok/s</th><th title="prompt processing tokens/s">pp tok/s</th><th title="mean time to first token">TTFT ms</th><th>size MiB</th><th>bits/w</th><th title="resident memory with the model loaded">RSS MiB</th><th>errors</th></tr></thead><tbody>"#,
    );
    for r in &study.rows {
        let is_base = study.baseline.as_deref() == Some(r.variant.as_str());
        let (diff, p, verdict) = match (&r.vs_baseline, is_base) {
            (Some(c), _) => (
                format!("{:+.1} [{:+.1}, {:+.1}]", c.diff, c.ci_low, c.ci_high),
                format!("{:.3}", c.p_value),
                format!(
                    r#"<span class="verdict {}">{}</span>"#,
                    verdict_class(c.verdict),
                    c.verdict
                ),
            ),
            (None, true) => ("baseline".into(), String::new(), String::new()),
            (None, false) => ("–".into(), String::new(), String::new()),
        };
        // Every sample failed: no score, not a score of 0.
        let (score_color, score_bar, pass_at_1) = match r.score.n {
            0 => ("transparent".to_string(), String::new(), "-".to_string()),
            _ => (
                svg::score_color(r.score.mean),
                ci_bar(r.score.mean, r.score.ci_low, r.score.ci_high),
                opt(r.pass_at_1, 2),
            ),
        };
        let _ = write!(
            out,
            r#"<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num" style="background:{}">{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num{}">{}</td></tr>"#,
            if is_base { r#" class="baseline""# } else { "" },
            r.rank,
            esc(&r.variant),
            esc(&r.config.template),
            r.config.temperature(),
            score_color,
            r.score.mean_ci(),
            score_bar,
            pass_at_1,
            diff,
            p,
            verdict,
            opt(r.speed.generation_tps, 1),
            opt(r.speed.throughput_tps, 1),
            opt(r.speed.prompt_tps, 0),
            opt(r.speed.ttft_ms, 0),
            mib(r.size_bytes),
            opt(r.bits_per_weight, 2),
            mib(r.resident_bytes),
            if r.errors > 0 { " bad" } else { "" },
            r.errors
        );
    }
    out.push_str("</tbody></table></div>");
    if let Some(b) = &study.baseline {
        let _ = write!(
            out,
            r#"<p class="note">Scores are means over evals (each eval weighs the same) with 95% bootstrap intervals. “vs baseline” is the paired difference against <b>{}</b> at the same template and temperature, over the same evals and samples (cluster bootstrap interval, sign-flip permutation p); a verdict other than “no significant difference” needs an interval that excludes 0 and p &lt; 0.05, which five or fewer evals can never give (“too few cases to tell”).</p>"#,
            esc(b)
        );
    }
    for e in &study.errors {
        let _ = write!(
            out,
            r#"<p class="note bad">{}: {} sample{} errored; most often ({} of them): {}</p>"#,
            esc(&e.config),
            e.samples,
            if e.samples == 1 { "" } else { "s" },
            e.count,
            esc(&e.error)
        );
    }
    out
}

/// The distinct values of a dimension, in first-seen order of `rows`.
fn distinct(rows: &[StudyRow], dim: impl Fn(&StudyRow) -> String) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows {
        let v = dim(r);
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Bars grouped by one dimension, one series per combination of the others.
fn bars_by(
    study: &Study,
    title: &str,
    group: &dyn Fn(&StudyRow) -> String,
    series: &dyn Fn(&StudyRow) -> String,
    group_order: &[String],
) -> String {
    let legend = {
        let mut rows: Vec<&StudyRow> = study.rows.iter().collect();
        rows.sort_by(|a, b| a.config.cmp(&b.config));
        let mut out: Vec<String> = Vec::new();
        for r in rows {
            let s = series(r);
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    };
    let groups: Vec<(String, Vec<Bar>)> = group_order
        .iter()
        .map(|g| {
            let mut bars: Vec<Bar> = study
                .rows
                .iter()
                .filter(|r| &group(r) == g && r.score.n > 0)
                .map(|r| Bar {
                    series: legend.iter().position(|s| *s == series(r)).unwrap_or(0),
                    mean: r.score.mean,
                    lo: r.score.ci_low,
                    hi: r.score.ci_high,
                    label: config_label(r),
                })
                .collect();
            bars.sort_by_key(|b| b.series);
            (g.clone(), bars)
        })
        .collect();
    svg::grouped_bars(title, &groups, &legend)
}

fn plots(run: &Run, study: &Study) -> String {
    let rows = &study.rows;
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(r#"<section id="plots"><h2>Plots</h2><div class="plots">"#);
    // Quantizations from the smallest file up, as the study's grids order them.
    let variants = match &study.template_by_variant {
        Some(g) => g.cols.clone(),
        None => {
            let mut v: Vec<&StudyRow> = rows.iter().collect();
            v.sort_by(|a, b| {
                a.bits_per_weight
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.bits_per_weight.unwrap_or(f64::MAX))
                    .then_with(|| a.variant.cmp(&b.variant))
            });
            distinct(&v.into_iter().cloned().collect::<Vec<_>>(), |r| {
                r.variant.clone()
            })
        }
    };
    let mut templates = distinct(rows, |r| r.config.template.clone());
    templates.sort();
    let mut temps: Vec<f32> = rows.iter().map(|r| r.config.temperature()).collect();
    temps.sort_by(f32::total_cmp);
    temps.dedup();
    let temp_labels: Vec<String> = temps.iter().map(|t| format!("t={t}")).collect();
    let tpl = |r: &StudyRow| r.config.template.clone();
    let tmp = |r: &StudyRow| format!("t={}", r.config.temperature());
    let var = |r: &StudyRow| r.variant.clone();
    let join = |parts: Vec<String>| -> String {
        let s: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        if s.is_empty() {
            "all".into()
        } else {
            s.join(" · ")
        }
    };
    let multi_v = variants.len() > 1;
    let multi_tpl = templates.len() > 1;
    let multi_t = temps.len() > 1;
    let some = |on: bool, s: String| if on { s } else { String::new() };
    out.push_str(&bars_by(
        study,
        "Score per quantization (95% CI)",
        &var,
        &|r| join(vec![some(multi_tpl, tpl(r)), some(multi_t, tmp(r))]),
        &variants,
    ));
    if multi_tpl {
        out.push_str(&bars_by(
            study,
            "Score per template (95% CI)",
            &tpl,
            &|r| join(vec![some(multi_v, var(r)), some(multi_t, tmp(r))]),
            &templates,
        ));
    }
    if multi_t {
        out.push_str(&bars_by(
            study,
            "Score per temperature (95% CI)",
            &tmp,
            &|r| join(vec![some(multi_v, var(r)), some(multi_tpl, tpl(r))]),
            &temp_labels,
        ));
    }
    // Quality against speed.
    let legend: Vec<String> = variants.clone();
    let points: Vec<Point> = rows
        .iter()
        .filter(|r| r.score.n > 0)
        .filter_map(|r| {
            Some(Point {
                label: config_label(r),
                series: legend.iter().position(|v| *v == r.variant).unwrap_or(0),
                x: r.speed.generation_tps?,
                y: r.score.mean,
                lo: r.score.ci_low,
                hi: r.score.ci_high,
            })
        })
        .collect();
    if !points.is_empty() {
        out.push_str(&svg::scatter(
            "Score against generation speed (dashed: the Pareto front)",
            "generation tokens/s (one sequence)",
            &points,
            &legend,
        ));
    } else {
        out.push_str(if rows.iter().all(|r| r.score.n == 0) {
            r#"<p class="note">No sample was scored: no score-against-speed plot.</p>"#
        } else {
            r#"<p class="note">No speed was measured (cached or replayed samples): no score-against-speed plot.</p>"#
        });
    }
    // Tags.
    if !study.tags.is_empty() {
        let cols: Vec<String> = rows.iter().map(config_label).collect();
        let cells: Vec<Vec<Option<(f64, String)>>> = study
            .tags
            .iter()
            .map(|t| {
                rows.iter()
                    .map(|r| {
                        r.tags.get(t).map(|s| {
                            (
                                s.mean,
                                format!(
                                    "{t} under {}: {:.1} [{:.1}, {:.1}] over {} eval{}",
                                    config_label(r),
                                    s.mean,
                                    s.ci_low,
                                    s.ci_high,
                                    s.n,
                                    if s.n == 1 { "" } else { "s" }
                                ),
                            )
                        })
                    })
                    .collect()
            })
            .collect();
        out.push_str(&svg::heatmap(
            "Score per tag (mean over the tag's evals; configurations ranked)",
            &study.tags,
            &cols,
            &cells,
        ));
    }
    // Sample scores.
    let keys: Vec<ConfigKey> = rows.iter().map(|r| r.config.clone()).collect();
    let dist: Vec<(String, [usize; 6])> = by_config(&run.records, &keys)
        .into_iter()
        .zip(rows)
        .map(|(recs, r)| {
            let mut counts = [0usize; 6];
            for s in recs.iter().filter_map(|r| r.score.as_ref()) {
                counts[svg::bin(s.value)] += 1;
            }
            (config_label(r), counts)
        })
        .collect();
    out.push_str(&svg::distribution(
        "Distribution of sample scores (counts of 0 and 100 written)",
        &dist,
    ));
    out.push_str("</div></section>");
    out
}

fn facts(run: &Run) -> String {
    let s = &run.summary;
    let samples = run.records.len();
    let errors = run.records.iter().filter(|r| r.error.is_some()).count();
    let evals: std::collections::BTreeSet<&str> =
        run.records.iter().map(|r| r.eval.as_str()).collect();
    let mut out = format!(
        r#"<dl class="facts"><div><dt>run</dt><dd>{}</dd></div><div><dt>configurations</dt><dd>{}</dd></div><div><dt>evals</dt><dd>{}</dd></div><div><dt>samples</dt><dd>{samples}{}</dd></div>"#,
        esc(run.id()),
        s.configs.len(),
        evals.len(),
        if errors > 0 {
            format!(r#", <span class="bad">{errors} errored</span>"#)
        } else {
            String::new()
        },
    );
    if let Some(m) = &run.meta {
        let _ = write!(
            out,
            "<div><dt>started</dt><dd>{}</dd></div>",
            esc(&m.started)
        );
    }
    if s.wall_ms > 0.0 {
        let _ = write!(
            out,
            "<div><dt>wall time</dt><dd>{}</dd></div>",
            duration(s.wall_ms)
        );
    }
    if let Some(t) = &s.time {
        // "time: load 2.4 s · prompts …": where the wall time went.
        let line = litmus_core::output::console::time_line(t);
        let line = line.strip_prefix("time: ").unwrap_or(&line);
        let _ = write!(
            out,
            "<div><dt>time went to</dt><dd>{}</dd></div>",
            esc(line)
        );
    }
    if s.cached > 0 {
        let _ = write!(out, "<div><dt>from cache</dt><dd>{}</dd></div>", s.cached);
    }
    for (model, e) in &s.load_errors {
        let _ = write!(
            out,
            r#"<div><dt class="bad">not loaded</dt><dd class="bad">{}: {}</dd></div>"#,
            esc(model),
            esc(e)
        );
    }
    out.push_str("</dl>");
    if let Some(m) = &run.meta {
        if !m.args.is_empty() {
            let _ = write!(
                out,
                r#"<details class="args"><summary>command line</summary><pre>{}</pre></details>"#,
                esc(&m.args.join(" "))
            );
        }
    }
    out
}

fn duration(ms: f64) -> String {
    let s = ms / 1000.0;
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {:.0} s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{} h {:.0} min", (s / 3600.0).floor(), (s % 3600.0) / 60.0)
    }
}

fn nav(items: &[(&str, &str)]) -> String {
    let mut out = String::from("<nav>");
    for (id, name) in items {
        let _ = write!(out, r##"<a href="#{id}">{name}</a>"##);
    }
    out.push_str("</nav>");
    out
}

/// The fidelity section, when the study has one: per quantization its KL
/// divergence, top-token agreement and Δp against the reference next to its
/// score change, then mean KLD per tag.
fn fidelity_section(study: &Study) -> String {
    let Some(f) = &study.fidelity else {
        return String::new();
    };
    let mut out = format!(
        r#"<section id="fidelity"><h2>Fidelity against {} {}</h2><p class="note">The reference's answers ({} of them, {} answer tokens) teacher-forced through each quantization: per token KL(reference ‖ quantization) over the whole vocabulary, whether the most likely tokens agree, and Δp of the answer's token (llama-perplexity's definitions). “score Δ” is the mean per-eval score change against the reference in this run; r correlates it with per-eval KLD.</p><div class="table-wrap"><table class="overview"><thead><tr><th>quant</th><th>mean KLD [95% CI]</th><th>median KLD</th><th>p99 KLD</th><th>same top %</th><th>RMS Δp %</th><th>score Δ vs ref</th><th>r(KLD, Δscore)</th><th>evals</th></tr></thead><tbody>"#,
        esc(&f.model),
        esc(&f.reference),
        f.sequences,
        f.tokens_scored
    );
    for r in &f.rows {
        let s = &r.overall;
        let _ = write!(
            out,
            r#"<tr><td>{}{}</td><td class="num">{:.4} [{:.4}, {:.4}]</td><td class="num">{:.4}</td><td class="num">{:.3}</td><td class="num">{:.1} ± {:.1}</td><td class="num">{:.2}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            esc(&r.quantization),
            match s.nonfinite_tokens {
                0 => String::new(),
                n => format!(
                    r#" <span class="note">({n} token{} left out: not finite)</span>"#,
                    if n == 1 { "" } else { "s" }
                ),
            },
            s.mean_kld,
            s.kld_ci95[0],
            s.kld_ci95[1],
            s.median_kld,
            s.p99_kld,
            100.0 * s.same_top,
            100.0 * s.same_top_err,
            100.0 * s.rms_p_diff,
            r.score_delta.map_or("–".into(), |d| format!("{d:+.1}")),
            r.r.map_or("–".into(), |v| format!("{v:+.2}")),
            r.evals
        );
    }
    out.push_str("</tbody></table></div>");
    let _ = write!(out, r#"<p class="note">{}</p>"#, esc(&f.correlation_line()));
    if !f.tags.is_empty() {
        out.push_str(r#"<h3>Mean KLD (same top %) per tag</h3><div class="table-wrap"><table class="overview"><thead><tr><th>tag</th>"#);
        for r in &f.rows {
            let _ = write!(out, "<th>{}</th>", esc(&r.quantization));
        }
        out.push_str("</tr></thead><tbody>");
        for t in &f.tags {
            let _ = write!(out, "<tr><td>{}</td>", esc(t));
            for r in &f.rows {
                match r.by_tag.get(t) {
                    Some((kld, same)) => {
                        let _ = write!(
                            out,
                            r#"<td class="num">{kld:.4} ({:.0}%)</td>"#,
                            100.0 * same
                        );
                    }
                    None => out.push_str(r#"<td class="num">–</td>"#),
                }
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>");
    out
}

/// A run's report.
pub(crate) fn run_page(run: &Run, study: &Study) -> String {
    let keys: Vec<ConfigKey> = study.rows.iter().map(|r| r.config.clone()).collect();
    let columns = by_config(&run.records, &keys)
        .into_iter()
        .zip(&study.rows)
        .map(|(recs, r)| (config_label(r), String::new(), recs))
        .collect();
    let payload = Payload::build(columns);
    let mut out = head(&format!("litmus report · {}", run.id()));
    let _ = write!(
        out,
        "<header><h1>litmus report <span class=\"sub\">run {}</span></h1>{}</header>",
        esc(run.id()),
        nav(&if study.fidelity.is_some() {
            vec![
                ("overview", "Overview"),
                ("plots", "Plots"),
                ("fidelity", "Fidelity"),
                ("grid", "Grid"),
            ]
        } else {
            vec![
                ("overview", "Overview"),
                ("plots", "Plots"),
                ("grid", "Grid"),
            ]
        })
    );
    let _ = write!(
        out,
        r#"<main><section id="overview"><h2>Configurations, ranked</h2>{}{}</section>{}{}{}</main>"#,
        facts(run),
        overview(study),
        plots(run, study),
        fidelity_section(study),
        grid_section(&payload)
    );
    out.push_str(&tail(&payload));
    out
}

/// Per-eval differences as a diverging bar chart (one bar per eval that
/// changed).
fn diff_plot(c: &crate::ConfigComparison) -> String {
    let mut evals: Vec<(&str, f64, f64, f64)> = c
        .evals
        .iter()
        .filter_map(|e| {
            let p = e.paired.as_ref()?;
            (p.diff.abs() >= 0.05).then_some((e.eval.as_str(), p.diff, p.ci_low, p.ci_high))
        })
        .collect();
    if evals.is_empty() {
        return r#"<p class="note">No eval scored in both runs changed.</p>"#.into();
    }
    evals.sort_by(|a, b| a.1.total_cmp(&b.1));
    let left = 8.0
        + evals
            .iter()
            .map(|e| crate::svg::shown_len(e.0))
            .max()
            .unwrap_or(0)
            .min(48) as f64
            * 6.3;
    let w = 360.0;
    let rh = 14.0;
    let top = 20.0;
    let width = left + w + 20.0;
    let height = top + evals.len() as f64 * rh + 20.0;
    let x = |v: f64| left + (v.clamp(-100.0, 100.0) + 100.0) / 200.0 * w;
    let mut out = format!(
        r##"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="system-ui,sans-serif" font-size="10"><line x1="{z:.1}" x2="{z:.1}" y1="{top}" y2="{:.1}" stroke="#999"/><text x="{:.1}" y="12">−100</text><text x="{z:.1}" y="12" text-anchor="middle">0</text><text x="{:.1}" y="12" text-anchor="end">+100 points (B − A)</text>"##,
        height - 16.0,
        left,
        left + w,
        z = x(0.0),
    );
    for (i, (name, d, lo, hi)) in evals.iter().enumerate() {
        let y = top + i as f64 * rh;
        let (x0, x1) = if *d < 0.0 {
            (x(*d), x(0.0))
        } else {
            (x(0.0), x(*d))
        };
        let short: String = name.chars().take(48).collect();
        let _ = write!(
            out,
            r##"<g><title>{}: {:+.1} [{:+.1}, {:+.1}]</title><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/></g>"##,
            esc(name),
            d,
            lo,
            hi,
            left - 4.0,
            y + 10.0,
            esc(&short),
            y + 2.0,
            (x1 - x0).max(1.0),
            rh - 4.0,
            if *d < 0.0 { "#d55e00" } else { "#009e73" },
            x(*lo),
            x(*hi),
            y + rh / 2.0,
            y + rh / 2.0
        );
    }
    out.push_str("</svg>");
    out
}

fn comparison_section(cmp: &Comparison) -> String {
    let mut out = format!(
        r#"<section id="compare"><h2>Run {} (B) against run {} (A)</h2><p class="note">Each configuration of B is paired with the same configuration of A, over the evals and sample indices scored in both, with the study's paired statistics (cluster bootstrap 95% interval by eval, sign-flip permutation p). An eval flips when it passed in most samples in one run and not in the other.</p>"#,
        esc(&cmp.b),
        esc(&cmp.a)
    );
    out.push_str(r#"<div class="table-wrap"><table class="overview"><thead><tr><th>configuration</th><th>A</th><th>B</th><th>B − A [95% CI]</th><th>p</th><th>verdict</th><th>evals</th><th>errors A → B</th><th>fail→pass</th><th>pass→fail</th><th>gen tok/s</th><th>pp tok/s</th><th>TTFT ms</th></tr></thead><tbody>"#);
    for c in &cmp.configs {
        let up = c.flips().filter(|e| e.flipped == Some(true)).count();
        let down = c.flips().count() - up;
        let _ = write!(out, "<tr><td>{}</td>", esc(&c.label()));
        match &c.overall {
            Some(p) => {
                let _ = write!(
                    out,
                    r#"<td class="num">{:.1}</td><td class="num">{:.1}</td><td class="num">{:+.1} [{:+.1}, {:+.1}]</td><td class="num">{:.3}</td><td><span class="verdict {}">{}</span></td><td class="num">{}</td>"#,
                    p.mean_a,
                    p.mean_b,
                    p.diff,
                    p.ci_low,
                    p.ci_high,
                    p.p_value,
                    verdict_class(p.verdict),
                    p.verdict,
                    p.n_clusters
                );
            }
            None => out.push_str(r#"<td colspan="6">no samples scored in both runs</td>"#),
        }
        let (ea, eb) = c.errors();
        let _ = write!(
            out,
            r#"<td class="num{}">{ea} → {eb}</td>"#,
            if eb > ea { " bad" } else { "" }
        );
        let _ = write!(
            out,
            r#"<td class="num good">{up}</td><td class="num{}">{down}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            if down > 0 { " bad" } else { "" },
            speed_change(c.speed_a.generation_tps, c.speed_b.generation_tps, 1),
            speed_change(c.speed_a.prompt_tps, c.speed_b.prompt_tps, 0),
            speed_change(c.speed_a.ttft_ms, c.speed_b.ttft_ms, 0),
        );
    }
    out.push_str("</tbody></table></div>");
    for (who, keys) in [("A", &cmp.only_a), ("B", &cmp.only_b)] {
        if !keys.is_empty() {
            let labels: Vec<String> = keys.iter().map(|k| esc(&k.label())).collect();
            let _ = write!(
                out,
                r#"<p class="note">Only in run {who} (no counterpart): {}</p>"#,
                labels.join(", ")
            );
        }
    }
    for c in &cmp.configs {
        let flips: Vec<String> = c
            .flips()
            .map(|e| {
                format!(
                    r#"<li class="{}">{} <span class="note">{}</span></li>"#,
                    if e.flipped == Some(true) {
                        "good"
                    } else {
                        "bad"
                    },
                    esc(&e.eval),
                    if e.flipped == Some(true) {
                        "fail → pass"
                    } else {
                        "pass → fail"
                    }
                )
            })
            .collect();
        let (only_a, only_b) = c.one_sided();
        let mut one_sided = String::new();
        for (run, other, evals) in [("A", "B", only_a), ("B", "A", only_b)] {
            if !evals.is_empty() {
                let names: Vec<String> = evals.iter().map(|e| esc(e)).collect();
                let _ = write!(
                    one_sided,
                    r#"<p class="note{}">Scored in run {run} only ({} eval{}: every sample errored or is missing in run {other}, so the paired statistics leave {} out): {}</p>"#,
                    if run == "A" { " bad" } else { "" },
                    evals.len(),
                    if evals.len() == 1 { "" } else { "s" },
                    if evals.len() == 1 { "it" } else { "them" },
                    names.join(", ")
                );
            }
        }
        let _ = write!(
            out,
            r#"<details class="pair" open><summary>{}: per-eval differences (B − A, 95% CI)</summary><div class="pair-body">{one_sided}{}{}</div></details>"#,
            esc(&c.label()),
            diff_plot(c),
            if flips.is_empty() {
                String::new()
            } else {
                format!(
                    r#"<div><h3>Flipped</h3><ul class="flips">{}</ul></div>"#,
                    flips.join("")
                )
            }
        );
    }
    out.push_str("</section>");
    out
}

/// Two runs side by side.
pub(crate) fn comparison_page(
    a: &Run,
    b: &Run,
    sa: &Study,
    sb: &Study,
    cmp: &Comparison,
) -> String {
    // Grid columns: each pair A, B next to each other, then the unpaired.
    let mut columns: Vec<(String, String, ConfigKey, &Run)> = Vec::new();
    let label = |k: &ConfigKey| k.label();
    for c in &cmp.configs {
        columns.push((label(&c.a), "A".into(), c.a.clone(), a));
        columns.push((label(&c.b), "B".into(), c.b.clone(), b));
    }
    for k in &cmp.only_a {
        columns.push((label(k), "A".into(), k.clone(), a));
    }
    for k in &cmp.only_b {
        columns.push((label(k), "B".into(), k.clone(), b));
    }
    let mut records: BTreeMap<(String, ConfigKey), Vec<&litmus_core::run::store::SampleRecord>> =
        BTreeMap::new();
    for (run_tag, run) in [("A", a), ("B", b)] {
        for r in &run.records {
            records
                .entry((run_tag.to_string(), r.config()))
                .or_default()
                .push(r);
        }
    }
    let payload = Payload::build(
        columns
            .into_iter()
            .map(|(l, tag, k, _)| {
                let recs = records.get(&(tag.clone(), k)).cloned().unwrap_or_default();
                (l, tag, recs)
            })
            .collect(),
    );
    let mut out = head(&format!(
        "litmus comparison · {} against {}",
        b.id(),
        a.id()
    ));
    let _ = write!(
        out,
        "<header><h1>litmus comparison <span class=\"sub\">run {} (B) against run {} (A)</span></h1>{}</header><main>",
        esc(b.id()),
        esc(a.id()),
        nav(&[("compare", "Differences"), ("run-a", "Run A"), ("run-b", "Run B"), ("grid", "Grid")])
    );
    out.push_str(&comparison_section(cmp));
    for (id, name, run, study) in [("run-a", "A", a, sa), ("run-b", "B", b, sb)] {
        let _ = write!(
            out,
            r#"<section id="{id}"><h2>Run {name}: {}</h2>{}{}</section>"#,
            esc(run.id()),
            facts(run),
            overview(study)
        );
    }
    out.push_str(&grid_section(&payload));
    out.push_str("</main>");
    out.push_str(&tail(&payload));
    out
}

#[cfg(test)]
mod tests {
    use litmus_core::output::study_report::StudyOptions;

    use crate::testing;

    #[test]
    fn the_report_holds_every_part() {
        let run = testing::run();
        let html = crate::render(&run, &StudyOptions::default());
        for part in [
            "<table class=\"overview\">",
            "Score per quantization (95% CI)",
            "Score per template (95% CI)",
            "Score per temperature (95% CI)",
            "Pareto front",
            "Score per tag",
            "Distribution of sample scores",
            "id=\"grid-table\"",
            "id=\"f-fail\"",
            "<span class=\"verdict worse\">worse</span>",
        ] {
            assert!(html.contains(part), "missing {part}");
        }
        // One bar per configuration in each of the three bar charts.
        assert_eq!(html.matches("]</title><rect").count(), 12 * 3);
        // Nothing from the samples leaks out of the data element unescaped.
        assert_eq!(html.matches("<script").count(), 2);
        // Nothing is fetched: no external scripts, styles or images.
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        // No fidelity.json, no fidelity section.
        assert!(!html.contains("id=\"fidelity\""));
    }

    #[test]
    fn fidelity_shows_when_measured() {
        use litmus_core::run::fidelity::{
            ConfigFidelity, EvalFidelity, FidelityReport, FidelityStats,
        };
        let mut run = testing::run();
        let stats = FidelityStats {
            tokens: 100,
            nonfinite_tokens: 2,
            mean_kld: 0.4321,
            same_top: 0.75,
            ..FidelityStats::default()
        };
        run.fidelity = Some(FidelityReport {
            model: "m".into(),
            reference: "Q8_0".into(),
            sequences: 16,
            tokens_scored: 100,
            configs: vec![ConfigFidelity {
                quantization: "Q2_K".into(),
                overall: stats.clone(),
                by_tag: [("python".to_string(), stats)].into(),
                by_eval: [(
                    "python::f0".to_string(),
                    EvalFidelity {
                        tokens: 100,
                        mean_kld: 0.4321,
                        same_top: 0.75,
                    },
                )]
                .into(),
                ..ConfigFidelity::default()
            }],
            ..FidelityReport::default()
        });
        let html = crate::render(&run, &StudyOptions::default());
        assert!(html.contains("<section id=\"fidelity\"><h2>Fidelity against m Q8_0</h2>"));
        assert!(html.contains(
            "<td>Q2_K <span class=\"note\">(2 tokens left out: not finite)</span></td><td class=\"num\">0.4321 ["
        ));
        // Q2_K is 20 points under Q8_0 on python::f0.
        assert!(html.contains("<td class=\"num\">-20.0</td>"), "{html}");
        assert!(html.contains("<td>python</td><td class=\"num\">0.4321 (75%)</td>"));
        assert!(html.contains("href=\"#fidelity\""));
    }

    #[test]
    fn the_comparison_shows_both_runs() {
        let a = testing::run();
        let mut b = testing::run();
        b.summary.run_id = "r2".into();
        for r in &mut b.records {
            if let Some(s) = r.score.as_mut().filter(|_| r.eval == "qa::q3") {
                s.value = 100.0;
                s.passed = true;
            }
        }
        let html = crate::render_comparison(&a, &b, &StudyOptions::default());
        assert!(html.contains("run r2 (B) against run r1 (A)"));
        assert!(html.contains("id=\"run-a\"") && html.contains("id=\"run-b\""));
        assert!(html.contains("qa::q3 <span class=\"note\">fail → pass</span>"));
    }
}
