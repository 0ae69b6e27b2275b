//! Command-line arguments of an eval target, libtest-compatible.
//!
//! libtest's flags are understood (`FILTER`, `--exact`, `--skip`, `--list`,
//! `--ignored`, `--include-ignored`, `-q`, `--color`, `--format`) and unknown
//! flags are tolerated, so `cargo test`, `cargo insta test` and nextest can
//! drive an eval target. litmus's own flags configure the run.

use std::path::PathBuf;
use std::str::FromStr;

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// One line per eval and configuration, and a summary table.
    #[default]
    Human,
    /// Only the essentials (as with `-q`).
    Terse,
    /// JSON lines on stdout.
    Json,
}

/// Parsed arguments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args {
    /// Substring filters (any may match).
    pub filters: Vec<String>,
    /// Filters must match whole names.
    pub exact: bool,
    /// Names containing any of these are skipped.
    pub skip: Vec<String>,
    /// List evals instead of running them.
    pub list: bool,
    /// Run only ignored evals.
    pub ignored: bool,
    /// Run ignored evals too.
    pub include_ignored: bool,
    /// Less output.
    pub quiet: bool,
    /// Colour.
    pub color: Color,
    /// Output format.
    pub format: Format,
    /// `--model`, repeatable.
    pub models: Vec<String>,
    /// `--template`, repeatable.
    pub templates: Vec<String>,
    /// `--judge MODEL`: the model that grades judged cases (default:
    /// `[judge] model` in `litmus.toml`, else the model under evaluation).
    pub judge: Option<String>,
    /// `--samples`.
    pub samples: Option<u32>,
    /// `--repeat N`: run every eval × configuration × sample N times over,
    /// to measure run-to-run noise (default 1; [`Args::parse`] rejects 0,
    /// and the harness reads the 0 of `Args::default()` as 1).
    pub repeat: u32,
    /// `--temperature`, repeatable (also comma-separated).
    pub temperatures: Vec<f32>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--jobs`.
    pub jobs: Option<usize>,
    /// `--output-dir`.
    pub output_dir: Option<PathBuf>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--resume`: continue the latest (or `--run-id`) run.
    pub resume: bool,
    /// `--run-id`: the run to resume.
    pub run_id: Option<String>,
    /// `--max-tokens`.
    pub max_tokens: Option<u32>,
    /// `--tag`, repeatable: only evals with one of these tags.
    pub tags: Vec<String>,
    /// `--config`: a `litmus.toml` to use instead of discovering one.
    pub config: Option<PathBuf>,
    /// `--validate`: check the evals themselves (references score 100, empty answers 0).
    pub validate: bool,
    /// `--summary-json PATH`: also write the run summary there.
    pub summary_json: Option<PathBuf>,
    /// `--junit PATH`: write a JUnit XML report there.
    pub junit: Option<PathBuf>,
    /// `--markdown PATH`: write the Markdown summary there (it is also
    /// appended to `$GITHUB_STEP_SUMMARY` when that is set).
    pub markdown: Option<PathBuf>,
    /// `--no-snapshots`: do not record score snapshots.
    pub no_snapshots: bool,
    /// `--tolerance POINTS`: a fixed score-snapshot tolerance instead of the
    /// one derived from confidence intervals.
    pub tolerance: Option<f64>,
    /// Flags that were ignored.
    pub ignored_flags: Vec<String>,
}

/// A usage error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ArgsError(pub String);

/// libtest flags that take a value and that litmus ignores.
const IGNORED_WITH_VALUE: &[&str] = &[
    "--logfile",
    "--test-threads",
    "-Z",
    "--shuffle-seed",
    "--report-time-format",
];

fn value_of<T: FromStr>(flag: &str, v: Option<String>) -> Result<T, ArgsError>
where
    T::Err: std::fmt::Display,
{
    let v = v.ok_or_else(|| ArgsError(format!("{flag} needs a value")))?;
    v.parse::<T>()
        .map_err(|e| ArgsError(format!("{flag} {v}: {e}")))
}

impl Args {
    /// Parses the process's arguments.
    pub fn from_env() -> Result<Args, ArgsError> {
        Self::parse(std::env::args().skip(1))
    }

    /// Parses `args` (without the program name).
    ///
    /// ```
    /// use litmus_core::harness::args::Args;
    /// let a = Args::parse(["python", "--model", "m.gguf", "--temperature", "0,0.7", "--nocapture"]).unwrap();
    /// assert_eq!(a.filters, ["python"]);
    /// assert_eq!(a.temperatures, [0.0, 0.7]);
    /// ```
    pub fn parse<I, S>(args: I) -> Result<Args, ArgsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out = Args {
            repeat: 1,
            ..Args::default()
        };
        let mut it = args.into_iter().map(Into::into).peekable();
        let mut only_positional = false;
        while let Some(arg) = it.next() {
            if only_positional || !arg.starts_with('-') || arg == "-" {
                out.filters.push(arg);
                continue;
            }
            if arg == "--" {
                only_positional = true;
                continue;
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let take = |it: &mut std::iter::Peekable<_>| -> Option<String> {
                inline.clone().or_else(|| Iterator::next(it))
            };
            match flag.as_str() {
                "--exact" => out.exact = true,
                "--skip" => out.skip.push(value_of::<String>("--skip", take(&mut it))?),
                "--list" => out.list = true,
                "--ignored" => out.ignored = true,
                "--include-ignored" => out.include_ignored = true,
                "-q" | "--quiet" => out.quiet = true,
                "--color" => {
                    out.color = match value_of::<String>("--color", take(&mut it))?.as_str() {
                        "auto" => Color::Auto,
                        "always" => Color::Always,
                        "never" => Color::Never,
                        other => {
                            return Err(ArgsError(format!(
                                "--color {other}: expected auto, always or never"
                            )))
                        }
                    }
                }
                "--format" => {
                    out.format = match value_of::<String>("--format", take(&mut it))?.as_str() {
                        "pretty" | "human" => Format::Human,
                        "terse" => Format::Terse,
                        "json" => Format::Json,
                        other => {
                            return Err(ArgsError(format!(
                                "--format {other}: expected human, pretty, terse or json"
                            )))
                        }
                    }
                }
                "--model" | "-m" => out.models.push(value_of("--model", take(&mut it))?),
                "--template" | "-t" => out.templates.push(value_of("--template", take(&mut it))?),
                "--judge" => out.judge = Some(value_of("--judge", take(&mut it))?),
                "--samples" | "-n" => {
                    let n: u32 = value_of("--samples", take(&mut it))?;
                    if n == 0 {
                        return Err(ArgsError("--samples must be at least 1".into()));
                    }
                    out.samples = Some(n);
                }
                "--repeat" => {
                    let n: u32 = value_of("--repeat", take(&mut it))?;
                    if n == 0 {
                        return Err(ArgsError("--repeat must be at least 1".into()));
                    }
                    out.repeat = n;
                }
                "--temperature" => {
                    let v: String = value_of("--temperature", take(&mut it))?;
                    for part in v.split(',').filter(|p| !p.trim().is_empty()) {
                        let t: f32 = part
                            .trim()
                            .parse()
                            .map_err(|e| ArgsError(format!("--temperature {part}: {e}")))?;
                        if !(0.0..=5.0).contains(&t) {
                            return Err(ArgsError(format!("--temperature {t}: outside 0–5")));
                        }
                        out.temperatures.push(t);
                    }
                }
                "--seed" => out.seed = Some(value_of("--seed", take(&mut it))?),
                "--jobs" | "-j" => {
                    let j: usize = value_of("--jobs", take(&mut it))?;
                    out.jobs = Some(j.max(1));
                }
                "--output-dir" => out.output_dir = Some(value_of("--output-dir", take(&mut it))?),
                "--no-cache" => out.no_cache = true,
                "--resume" => out.resume = true,
                "--run-id" => out.run_id = Some(value_of("--run-id", take(&mut it))?),
                "--max-tokens" => out.max_tokens = Some(value_of("--max-tokens", take(&mut it))?),
                "--tag" => {
                    let v: String = value_of("--tag", take(&mut it))?;
                    out.tags
                        .extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string));
                }
                "--config" => out.config = Some(value_of("--config", take(&mut it))?),
                "--validate" => out.validate = true,
                "--summary-json" => {
                    out.summary_json = Some(value_of("--summary-json", take(&mut it))?)
                }
                "--junit" => out.junit = Some(value_of("--junit", take(&mut it))?),
                "--markdown" => out.markdown = Some(value_of("--markdown", take(&mut it))?),
                "--no-snapshots" => out.no_snapshots = true,
                "--tolerance" => {
                    let t: f64 = value_of("--tolerance", take(&mut it))?;
                    if !(t.is_finite() && t >= 0.0) {
                        return Err(ArgsError(format!("--tolerance {t}: expected points ≥ 0")));
                    }
                    out.tolerance = Some(t);
                }
                f if IGNORED_WITH_VALUE.contains(&f) => {
                    let _ = take(&mut it);
                    out.ignored_flags.push(arg.clone());
                }
                _ => out.ignored_flags.push(arg.clone()),
            }
        }
        if out.run_id.is_some() && !out.resume {
            return Err(ArgsError(
                "--run-id is only meaningful with --resume".into(),
            ));
        }
        Ok(out)
    }

    /// Whether an eval named `name` with `ignore` and `tags` is selected.
    pub fn selects(&self, name: &str, ignore: bool, tags: &[&str]) -> bool {
        if self.ignored && !ignore {
            return false;
        }
        if ignore && !self.ignored && !self.include_ignored {
            return false;
        }
        if !self.filters.is_empty()
            && !self.filters.iter().any(|f| {
                if self.exact {
                    name == f
                } else {
                    name.contains(f.as_str())
                }
            })
        {
            return false;
        }
        if self.skip.iter().any(|s| {
            if self.exact {
                name == s
            } else {
                name.contains(s.as_str())
            }
        }) {
            return false;
        }
        if !self.tags.is_empty() && !self.tags.iter().any(|t| tags.contains(&t.as_str())) {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_flags_and_unknown_flags() {
        let a = Args::parse([
            "foo",
            "--exact",
            "--skip",
            "bar",
            "--list",
            "--format",
            "terse",
            "-q",
            "--color=never",
            "--nocapture",
            "--test-threads",
            "4",
            "-Z",
            "unstable-options",
            "--show-output",
            "--bench",
        ])
        .unwrap();
        assert_eq!(a.filters, ["foo"]);
        assert!(a.exact && a.list && a.quiet);
        assert_eq!(a.skip, ["bar"]);
        assert_eq!(a.format, Format::Terse);
        assert_eq!(a.color, Color::Never);
        assert_eq!(a.ignored_flags.len(), 5);
    }

    #[test]
    fn litmus_flags() {
        let a = Args::parse([
            "--model",
            "a.gguf",
            "--model=openai:http://x/v1",
            "--template",
            "plain",
            "--samples",
            "5",
            "--temperature",
            "0",
            "--temperature",
            "0.7,1.0",
            "--seed",
            "7",
            "--jobs",
            "3",
            "--output-dir",
            "/tmp/o",
            "--no-cache",
            "--resume",
            "--run-id",
            "r",
            "--tag",
            "python,easy",
            "--judge",
            "openai:http://j/v1#big",
        ])
        .unwrap();
        assert_eq!(a.judge.as_deref(), Some("openai:http://j/v1#big"));
        assert_eq!(a.models, ["a.gguf", "openai:http://x/v1"]);
        assert_eq!(a.temperatures, [0.0, 0.7, 1.0]);
        assert_eq!((a.samples, a.seed, a.jobs), (Some(5), Some(7), Some(3)));
        assert!(a.no_cache && a.resume);
        assert_eq!(a.tags, ["python", "easy"]);
        assert_eq!(a.repeat, 1, "one run by default");
        assert_eq!(Args::parse(["--repeat", "5"]).unwrap().repeat, 5);
        assert_eq!(Args::parse(["--repeat=3"]).unwrap().repeat, 3);
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(Args::parse(["--samples", "x"])
            .unwrap_err()
            .0
            .contains("--samples x"));
        assert!(Args::parse(["--samples", "0"]).is_err());
        assert!(Args::parse(["--repeat", "0"])
            .unwrap_err()
            .0
            .contains("--repeat must be at least 1"));
        assert!(Args::parse(["--repeat", "-1"]).is_err());
        assert!(Args::parse(["--temperature", "9"]).is_err());
        assert!(Args::parse(["--model"])
            .unwrap_err()
            .0
            .contains("needs a value"));
        assert!(Args::parse(["--color", "purple"]).is_err());
        assert!(Args::parse(["--judge"])
            .unwrap_err()
            .0
            .contains("needs a value"));
    }

    #[test]
    fn selection_follows_libtest() {
        let a = Args::parse(["add"]).unwrap();
        assert!(a.selects("math::add", false, &[]));
        assert!(!a.selects("math::sub", false, &[]));
        assert!(!a.selects("math::add", true, &[]));
        let a = Args::parse(["math::add", "--exact"]).unwrap();
        assert!(a.selects("math::add", false, &[]));
        assert!(!a.selects("math::add2", false, &[]));
        let a = Args::parse(["--ignored"]).unwrap();
        assert!(a.selects("x", true, &[]) && !a.selects("y", false, &[]));
        let a = Args::parse(["--include-ignored", "--skip", "slow"]).unwrap();
        assert!(a.selects("x", true, &[]) && !a.selects("slow_x", false, &[]));
        let a = Args::parse(["--tag", "python"]).unwrap();
        assert!(a.selects("x", false, &["python", "easy"]) && !a.selects("y", false, &["rust"]));
    }
}
