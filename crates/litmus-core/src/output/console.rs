//! Terminal and JSON output of a run, in nextest's spirit: one line per eval
//! and configuration as it finishes, a progress bar on long runs, and a
//! summary table at the end.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::base::util::{printable, truncate};
use crate::run::collect::{Event, Reporter};
use crate::run::summary::{RunSummary, TimeSplit, UnitSummary};

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Color {
    /// Colour when stdout is a terminal.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One line per eval and configuration, and a summary table (libtest's
    /// `pretty` is the same).
    #[default]
    #[value(alias = "pretty")]
    Human,
    /// Only the essentials (as with `-q`).
    Terse,
    /// JSON lines on stdout.
    Json,
}

/// Prints to stdout; the progress bar goes to stderr.
pub struct Console {
    format: Format,
    quiet: bool,
    color: bool,
    bar: Option<ProgressBar>,
    start: Instant,
    out: Box<dyn Write + Send>,
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

impl Console {
    /// A console reporter.
    pub fn new(format: Format, quiet: bool, color: Color) -> Self {
        let color = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Console {
            format,
            quiet,
            color,
            bar: None,
            start: Instant::now(),
            out: Box::new(std::io::stdout()),
        }
    }

    /// Writes to `out` instead of stdout (for tests).
    pub fn with_output(mut self, out: Box<dyn Write + Send>) -> Self {
        self.out = out;
        self
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn println(&mut self, line: &str) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.suspend(|| {
                let _ = writeln!(self.out, "{line}");
            }),
            _ => {
                let _ = writeln!(self.out, "{line}");
            }
        }
    }

    fn unit_line(&self, u: &UnitSummary) -> String {
        let wall = format!("[{:>7.2}s]", u.wall_ms / 1000.0);
        let status = if u.errors > 0 && u.scored == 0 {
            self.paint(RED, &format!("{:>12}", "ERROR"))
        } else if u.below_min() {
            self.paint(
                YELLOW,
                &format!("{:>6.1} ±{:<4.1}", u.score.mean, half_width(u)),
            )
        } else {
            self.paint(
                GREEN,
                &format!("{:>6.1} ±{:<4.1}", u.score.mean, half_width(u)),
            )
        };
        let mut line = format!(
            "{status} {wall} {} {}",
            self.paint(BOLD, &printable(&u.eval)),
            self.paint(DIM, &printable(&u.config.label()))
        );
        if u.scored > 1 {
            line.push_str(&format!("  pass {:.0}%", u.pass_rate * 100.0));
        }
        if let Some(tps) = u.speed.generation_tps {
            line.push_str(&format!("  {tps:.0} tok/s"));
        }
        if let Some(r) = &u.repeats {
            let text = format!(
                "  {}× repeated: flips {:.0}% (pass/fail {:.0}%), spread ±{:.1}, pass^{} {:.0}%, majority {:.0}%",
                r.count,
                r.flip_rate * 100.0,
                r.pass_flip_rate * 100.0,
                r.spread,
                r.count,
                r.pass_all * 100.0,
                r.majority_pass * 100.0
            );
            line.push_str(&if r.flaky() {
                self.paint(YELLOW, &format!("{text}  FLAKY"))
            } else {
                text
            });
        }
        if u.errors > 0 {
            let err = u.first_error.as_deref().unwrap_or("");
            line.push_str(&self.paint(
                RED,
                &format!(
                    "  {} error{}: {}",
                    u.errors,
                    if u.errors == 1 { "" } else { "s" },
                    truncate(&printable(&one_line(err)), 120)
                ),
            ));
        }
        if u.below_min() {
            line.push_str(&self.paint(
                YELLOW,
                &format!("  below min_score {}", u.min_score.unwrap_or(0.0)),
            ));
        }
        line
    }

    /// Prints the summary table.
    pub fn summary(&mut self, s: &RunSummary) {
        if self.format == Format::Json {
            let line = serde_json::json!({ "type": "summary", "summary": s });
            let _ = writeln!(self.out, "{line}");
            return;
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let rule = "─".repeat(12);
        let errors: usize = s.units.iter().map(|u| u.errors).sum();
        let samples: usize = s.units.iter().map(|u| u.scored + u.errors).sum();
        let evals = {
            let mut names: Vec<&str> = s.units.iter().map(|u| u.eval.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            names.len()
        };
        self.println(&rule);
        let head = format!(
            "{:>12} [{:>7.2}s] {evals} eval{} × {} configuration{}, {samples} samples ({} generated, {} cached), {errors} error{}",
            "Summary",
            s.wall_ms / 1000.0,
            if evals == 1 { "" } else { "s" },
            s.configs.len(),
            if s.configs.len() == 1 { "" } else { "s" },
            s.generated,
            s.cached,
            if errors == 1 { "" } else { "s" },
        );
        let head = self.paint(BOLD, &head);
        self.println(&head);
        if s.configs.is_empty() {
            return;
        }
        let mut rows = vec![vec![
            "model".to_string(),
            "quant".into(),
            "template".into(),
            "temp".into(),
            "score".into(),
            "95% CI".into(),
            "pass@1".into(),
            "evals".into(),
            "samples".into(),
            "errors".into(),
            "gen tok/s".into(),
            "all seqs tok/s".into(),
            "pp tok/s".into(),
            "ttft ms".into(),
        ]];
        let with_repeats = s.configs.iter().any(|c| c.repeats.is_some());
        if with_repeats {
            rows[0].extend([
                "repeats".to_string(),
                "flaky".into(),
                "flip rate".into(),
                "pass^N".into(),
                "majority".into(),
            ]);
        }
        for c in &s.configs {
            let opt = |v: Option<f64>, p: usize| {
                v.map(|x| format!("{x:.p$}")).unwrap_or_else(|| "-".into())
            };
            let mut row = vec![
                c.config.model.clone(),
                c.config.quantization.clone().unwrap_or_else(|| "-".into()),
                c.config.template.clone(),
                format!("{}", c.config.temperature()),
            ];
            // Every sample failed: no score, not a score of 0.
            row.extend(match c.score.n {
                0 => ["-".to_string(), "-".into(), "-".into()],
                _ => [
                    format!("{:.1}", c.score.mean),
                    c.score.ci(),
                    format!("{:.2}", c.pass_at_1),
                ],
            });
            row.extend([
                c.evals.to_string(),
                c.scored.to_string(),
                c.errors.to_string(),
                opt(c.speed.generation_tps, 1),
                opt(c.speed.throughput_tps, 1),
                opt(c.speed.prompt_tps, 1),
                opt(c.speed.ttft_ms, 0),
            ]);
            if with_repeats {
                match &c.repeats {
                    Some(r) => row.extend([
                        r.count.to_string(),
                        format!("{}/{}", r.flaky, r.evals),
                        format!("{:.0}%", r.flip_rate * 100.0),
                        format!("{:.2}", r.pass_all),
                        format!("{:.2}", r.majority_pass),
                    ]),
                    None => row.extend(std::iter::repeat_n("-".to_string(), 5)),
                }
            }
            rows.push(row);
        }
        for line in table(&rows) {
            self.println(&line);
        }
        for (model, err) in &s.load_errors {
            let line = self.paint(
                RED,
                &format!(
                    "model {} failed to load: {}",
                    printable(model),
                    printable(err)
                ),
            );
            self.println(&line);
        }
        for c in s.configs.iter().filter(|c| c.speed.uncounted > 0) {
            let line = self.paint(
                DIM,
                &format!(
                    "{}: {} of {} samples without the backend's token counts (left out of tokens and rates)",
                    printable(&c.config.model),
                    c.speed.uncounted,
                    c.scored + c.errors
                ),
            );
            self.println(&line);
        }
        if let Some(t) = &s.time {
            let line = self.paint(DIM, &time_line(t));
            self.println(&line);
        }
        if let Some(rss) = s.peak_rss_bytes {
            // Models in engine worker processes hold their memory there.
            let models = s
                .configs
                .iter()
                .filter_map(|c| c.model.as_ref()?.resident_bytes)
                .max()
                .map(|b| format!(", model {:.0} MiB", b as f64 / 1048576.0))
                .unwrap_or_default();
            let line = self.paint(
                DIM,
                &format!(
                    "peak memory: this process {:.0} MiB{models} · results in {}",
                    rss as f64 / 1048576.0,
                    printable(&s.run_dir)
                ),
            );
            self.println(&line);
        }
        if s.configs.len() > 1 {
            let line = self.paint(
                DIM,
                &format!(
                    "compare them (paired differences, per-tag scores, size, memory): cargo eval report {} [--baseline QUANT] [--format markdown]",
                    // The directory, not the id: the run may not be in the
                    // output directory `report` looks in by default.
                    printable(&s.run_dir)
                ),
            );
            self.println(&line);
        }
    }
}

/// Where the time went, in one line: `time: load 1.2 s · prompts 20.1 s ·
/// generation 180.0 s · model idle 3.1 s · scoring 95.0 s on 2 threads
/// (12.0 s after the last answer)`, and `judging ... s on N threads` after
/// the scoring when a judge graded answers; with a hint when the model mostly waited
/// (over a quarter of a model time of a second or more: not in a run answered
/// from the cache, whose model barely ran).
pub fn time_line(t: &TimeSplit) -> String {
    let mut parts = vec![format!("load {:.1} s", t.load_secs)];
    match (t.prompt_secs, t.generation_secs, t.idle_secs()) {
        (Some(p), Some(g), Some(idle)) => {
            parts.push(format!("prompts {p:.1} s"));
            parts.push(format!("generation {g:.1} s"));
            parts.push(format!("model idle {idle:.1} s"));
        }
        _ => parts.push(format!(
            "model (prompts and generation) {:.1} s",
            t.model_secs
        )),
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    parts.push(format!(
        "scoring {:.1} s on {} thread{}",
        t.scoring_secs - t.judging_secs,
        t.scoring_threads,
        plural(t.scoring_threads),
    ));
    if t.judging_threads > 0 {
        parts.push(format!(
            "judging {:.1} s on {} thread{}",
            t.judging_secs,
            t.judging_threads,
            plural(t.judging_threads),
        ));
    }
    let last = parts.last_mut().expect("a scoring part");
    last.push_str(&format!(
        " ({:.1} s after the last answer)",
        t.scoring_tail_secs
    ));
    let mut line = format!("time: {}", parts.join(" · "));
    if let Some(idle) = t.idle_secs() {
        if t.model_secs >= 1.0 && idle > 0.25 * t.model_secs {
            line.push_str(&format!(
                " — the model waited for work {:.0}% of its time",
                100.0 * idle / t.model_secs
            ));
        }
    }
    line
}

/// A multi-line message (a regex error with its caret, a judge's attempts)
/// on one line: its non-blank lines, trimmed, joined with " | ".
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn half_width(u: &UnitSummary) -> f64 {
    ((u.score.ci_high - u.score.ci_low) / 2.0).max(0.0)
}

/// Titled tables as text: each title, then its rows aligned by [`table`],
/// indented, then a blank line.
pub fn sections_text(sections: &[(String, Vec<Vec<String>>)]) -> String {
    let mut out = String::new();
    for (title, rows) in sections {
        out.push_str(&printable(title));
        out.push('\n');
        for line in table(rows) {
            out.push_str("  ");
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Aligns rows into columns (first row is the header; numbers right-aligned),
/// each cell [`printable`].
pub fn table(rows: &[Vec<String>]) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let rows: Vec<Vec<std::borrow::Cow<'_, str>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c)).collect())
        .collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, cell)| {
                    let numeric = cell
                        .chars()
                        .next()
                        .is_some_and(|ch| ch.is_ascii_digit() || ch == '[' || ch == '-');
                    // Padded to the terminal columns the text takes (wide
                    // CJK and emoji take two), not its chars.
                    let pad = " ".repeat(widths[i] - cell.width());
                    if numeric && i > 0 {
                        format!("{pad}{cell}")
                    } else {
                        format!("{cell}{pad}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect()
}

impl Reporter for Console {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::ModelStart {
                spec,
                samples,
                device,
            } => {
                if self.format == Format::Json {
                    return;
                }
                let show = samples >= 8 && !self.quiet && std::io::stderr().is_terminal();
                match &self.bar {
                    // Another configuration is still running: one bar for
                    // every configuration running at once.
                    Some(b)
                        if show && !b.is_finished() && b.position() < b.length().unwrap_or(0) =>
                    {
                        b.inc_length(samples as u64);
                        b.set_message(format!("{}, {}", b.message(), printable(&spec.name)));
                    }
                    _ => {
                        let bar = show.then(|| {
                            let b = ProgressBar::with_draw_target(
                                Some(samples as u64),
                                ProgressDrawTarget::stderr(),
                            );
                            b.set_style(
                                ProgressStyle::with_template(
                                    "{spinner} {msg} [{bar:30}] {pos}/{len} samples, {per_sec}, eta {eta}",
                                )
                                .unwrap_or_else(|_| ProgressStyle::default_bar())
                                .progress_chars("=> "),
                            );
                            b.set_message(printable(&spec.name).into_owned());
                            b
                        });
                        if let Some(old) = std::mem::replace(&mut self.bar, bar) {
                            old.finish_and_clear();
                        }
                    }
                }
                if !self.quiet {
                    let on = device.map(|d| format!(" on {d}")).unwrap_or_default();
                    let line = format!(
                        "{:>12} {} ({} samples to produce){}",
                        self.paint(GREEN, "Starting"),
                        printable(&spec.name),
                        samples,
                        printable(&on)
                    );
                    self.println(&line);
                }
            }
            Event::ModelReplanned {
                spec,
                error,
                failed,
                next,
            } => {
                if self.format == Format::Json {
                    let line = serde_json::json!({ "type": "model_replanned", "model": spec.name, "error": error.to_string(), "failed": failed, "next": next });
                    let _ = writeln!(self.out, "{line}");
                    return;
                }
                let line = format!(
                    "{:>12} {}: failed to load on {} ({}); trying {}",
                    self.paint(YELLOW, "Re-planned"),
                    printable(&spec.name),
                    printable(failed),
                    printable(&error.to_string()),
                    printable(next)
                );
                self.println(&line);
            }
            Event::ModelLoaded(info) | Event::ModelCached(info) | Event::ModelUnasked(info) => {
                let cached = !matches!(event, Event::ModelLoaded(_));
                if self.format == Format::Json {
                    let line =
                        serde_json::json!({ "type": "model", "model": info, "cached": cached });
                    let _ = writeln!(self.out, "{line}");
                    return;
                }
                if self.quiet {
                    return;
                }
                let mut desc = vec![info.backend.clone()];
                if let Some(q) = &info.quantization {
                    desc.push(q.clone());
                }
                if let Some(p) = info.parameters {
                    desc.push(format!("{:.0}M params", p as f64 / 1e6));
                }
                if let Some(b) = info.size_bytes {
                    desc.push(format!("{:.0} MiB", b as f64 / 1048576.0));
                }
                if let Some(ms) = info.load_ms {
                    desc.push(format!("loaded in {:.2}s", ms / 1000.0));
                }
                match event {
                    Event::ModelCached(_) => desc.push("not loaded: every answer cached".into()),
                    Event::ModelUnasked(_) => desc.push("not loaded: no prompt reached it".into()),
                    _ => {}
                }
                let line = format!(
                    "{:>12} {} [{}]",
                    self.paint(GREEN, "Model"),
                    printable(&info.name),
                    printable(&desc.join(", "))
                );
                self.println(&line);
            }
            Event::ModelFailed { spec, error } => {
                if self.format == Format::Json {
                    let line = serde_json::json!({ "type": "model_failed", "model": spec.name, "error": error.to_string() });
                    let _ = writeln!(self.out, "{line}");
                    return;
                }
                let line = format!(
                    "{:>12} {}: {}",
                    self.paint(RED, "FAILED"),
                    printable(&spec.name),
                    printable(&error.to_string())
                );
                self.println(&line);
            }
            Event::Sample(_) => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            Event::EvalFinished(u) => {
                if self.format == Format::Json {
                    let line = serde_json::json!({ "type": "eval", "result": u });
                    let _ = writeln!(self.out, "{line}");
                    return;
                }
                if self.quiet && u.errors == 0 && !u.below_min() {
                    return;
                }
                let line = self.unit_line(u);
                self.println(&line);
            }
        }
        let _ = self.start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::store::SampleRecord;
    use std::sync::{Arc, Mutex};

    /// Columns line up in a terminal when names hold wide characters (CJK,
    /// emoji: two columns each) or accents.
    #[test]
    fn tables_align_by_display_width() {
        let row = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        let lines = table(&[
            row("eval", "score"),
            row("python::平均値", "81.7"),
            row("ćęńtüry_😀", "5.0"),
        ]);
        use unicode_width::UnicodeWidthStr;
        let ends: Vec<usize> = lines.iter().map(|l| l.width()).collect();
        assert_eq!(ends, [ends[0]; 3], "{lines:#?}");
        assert!(
            lines[1].ends_with(" 81.7") && lines[2].ends_with("  5.0"),
            "{lines:#?}"
        );
    }

    /// A `Write` the test keeps a handle on.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a model or server can put in an error: a screen clear, a window
    /// title, a hyperlink, a carriage return and colours that redraw the
    /// line as a pass, backspaces, NUL, a right-to-left override, a line break.
    const HOSTILE: &str = "x\u{1b}[2J\u{1b}]0;TITLE\u{7}\u{1b}]8;;http://e.example/\u{7}L\u{1b}]8;;\u{7}\r\u{1b}[32m 100.0 \u{8}\u{8}\0\u{202e}rev\n--- fake line\u{9b}2J";

    #[test]
    fn text_from_models_servers_and_runs_cannot_drive_the_terminal() {
        let buf = Buf::default();
        let mut console =
            Console::new(Format::Human, false, Color::Never).with_output(Box::new(buf.clone()));
        let mut r = SampleRecord {
            eval: "e".into(),
            model: format!("model{HOSTILE}"),
            template: format!("t{HOSTILE}"),
            error: Some(format!("the model refused: {HOSTILE}")),
            ..SampleRecord::default()
        };
        r.tags = vec![HOSTILE.into()];
        let unit = UnitSummary::of(&[&r], None, 1.0);
        console.event(Event::EvalFinished(&unit));
        let mut summary = RunSummary::build(
            "r",
            HOSTILE,
            &[r.clone()],
            &Default::default(),
            &Default::default(),
            &Default::default(),
        );
        summary.load_errors = vec![(HOSTILE.into(), HOSTILE.into())];
        console.summary(&summary);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let bad: Vec<char> = out
            .chars()
            .filter(|&c| (c.is_control() && c != '\n') || crate::base::util::is_bidi_control(c))
            .collect();
        assert!(bad.is_empty(), "{bad:?} in\n{out}");
        assert!(!out.contains("\n--- fake line"), "{out}");
        // What was there is shown, escaped.
        assert!(out.contains("the model refused: x\\u{1b}[2J"), "{out}");
        assert!(out.contains("\\r\\u{1b}[32m 100.0"), "{out}");
    }

    #[test]
    fn an_eval_line_shows_a_multi_line_error_on_one_line() {
        let buf = Buf::default();
        let mut console =
            Console::new(Format::Human, false, Color::Never).with_output(Box::new(buf.clone()));
        let r = SampleRecord {
            eval: "e".into(),
            error: Some("regex parse error:\n    (unclosed\n    ^\nerror: unclosed group".into()),
            ..SampleRecord::default()
        };
        console.event(Event::EvalFinished(&UnitSummary::of(&[&r], None, 1.0)));
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            out.contains("1 error: regex parse error: | (unclosed | ^ | error: unclosed group"),
            "{out}"
        );
        assert!(!out.contains("\\n"), "{out}");
    }
}
