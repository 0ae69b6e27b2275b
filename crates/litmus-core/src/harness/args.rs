//! Command-line arguments of an eval target: one clap definition, shared by
//! the harness and `cargo eval` (which flattens [`Args`] into its own CLI and
//! passes [`Args::to_argv`] to the eval targets, so the two cannot disagree).
//!
//! libtest's flags are understood (`FILTER`, `--exact`, `--skip`, `--list`,
//! `--ignored`, `--include-ignored`, `-q`, `--color`, `--format`), and the
//! rest of what `cargo test`, `cargo nextest run` and `cargo insta test` pass
//! to a test binary is accepted and ignored ([`Libtest`]). Any other flag is
//! a usage error naming the closest known flag.

use std::path::PathBuf;

use clap::{Args as _, FromArgMatches as _};

pub use crate::output::console::{Color, Format};
use crate::plan::partition::Partition;

/// The run flags of an eval target (and of `cargo eval`).
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct Args {
    /// Run only evals whose name contains one of these.
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Filters (and --skip) match whole names.
    #[arg(long)]
    pub exact: bool,
    /// Skip evals whose name contains this (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// List the evals instead of running them.
    #[arg(long)]
    pub list: bool,
    /// With --list: list the instances a run would have instead (eval ×
    /// model × template × temperature, with their samples; with --resume,
    /// less those already stored).
    #[arg(long, requires = "list")]
    pub instances: bool,
    /// Run only ignored evals.
    #[arg(long)]
    pub ignored: bool,
    /// Run ignored evals too.
    #[arg(long, conflicts_with = "ignored")]
    pub include_ignored: bool,
    /// Less output.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Colour.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t)]
    pub color: Color,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Model to evaluate (repeatable): a name from litmus.toml, a .gguf path,
    /// builtin:NAME, openai:URL[#MODEL], ollama:URL#TAG or replay:RUN.
    #[arg(long = "model", short = 'm', value_name = "MODEL")]
    pub models: Vec<String>,
    /// Prompt template (repeatable).
    #[arg(long = "template", short = 't', value_name = "NAME")]
    pub templates: Vec<String>,
    /// The model that grades judged cases (a name from litmus.toml or a spec
    /// string); default: `[judge] model`, else the model under evaluation.
    #[arg(long, value_name = "MODEL")]
    pub judge: Option<String>,
    /// Samples per case and configuration.
    #[arg(long, short = 'n', value_name = "N", value_parser = at_least_one)]
    pub samples: Option<u32>,
    /// Sampling temperature (repeatable, or comma-separated), 0–5.
    #[arg(long = "temperature", value_name = "T", value_delimiter = ',', value_parser = temperature)]
    pub temperatures: Vec<f32>,
    /// Base seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Parallel scoring jobs (0 counts as 1).
    #[arg(long, short = 'j', value_name = "N", value_parser = jobs)]
    pub jobs: Option<usize>,
    /// Results directory (default: TARGET_DIR/litmus).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Do not read or write the response cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Continue the latest run (or --run-id): nothing repeated, nothing lost.
    #[arg(long, conflicts_with = "validate")]
    pub resume: bool,
    /// The run to resume (with --resume).
    #[arg(long, value_name = "ID", requires = "resume")]
    pub run_id: Option<String>,
    /// Most tokens per answer.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub max_tokens: Option<u32>,
    /// Only evals with one of these tags (repeatable, or comma-separated).
    #[arg(long = "tag", value_name = "TAG", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// A litmus.toml to use instead of discovering one.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Check the evals themselves: reference solutions score 100, empty answers 0.
    #[arg(long)]
    pub validate: bool,
    /// Print where each configuration of this run would go (devices, memory
    /// estimates, waves of configurations that run at once) and run nothing.
    #[arg(long, conflicts_with_all = ["list", "validate"])]
    pub plan: bool,
    /// Also write the run summary (JSON) there.
    #[arg(long, value_name = "PATH", hide = true)]
    pub summary_json: Option<PathBuf>,
    /// Write a JUnit XML report there.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write the Markdown summary there (it is also appended to
    /// $GITHUB_STEP_SUMMARY when that is set).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Do not record score snapshots.
    #[arg(long)]
    pub no_snapshots: bool,
    /// Do not write report.html next to the run's results (also
    /// `[run] html_report = false` in litmus.toml).
    #[arg(long)]
    pub no_html_report: bool,
    /// A fixed score-snapshot tolerance in points, instead of the one derived
    /// from confidence intervals.
    #[arg(long, value_name = "POINTS", value_parser = tolerance)]
    pub tolerance: Option<f64>,
    /// Run every eval N times over to measure run-to-run flip rates.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    pub repeat: u32,
    /// Run one share of the plan: `hash:K/N` (by a stable hash of each eval ×
    /// configuration: adding evals moves no other) or `count:K/N`
    /// (round-robin, balanced); K from 1 to N. `cargo eval merge` combines
    /// the N runs.
    #[arg(long, value_name = "KIND:K/N", value_parser = partition)]
    pub partition: Option<Partition>,
    /// Write the run directory's path to this file as soon as the results
    /// store exists (`cargo eval` reads it when the target dies early).
    #[arg(long, value_name = "PATH", hide = true)]
    pub run_dir_file: Option<PathBuf>,
    /// libtest's other flags: accepted, ignored.
    #[command(flatten)]
    pub libtest: Libtest,
}

/// What `cargo test`, `cargo nextest run` and `cargo insta test` may pass to
/// a libtest-style harness and litmus has no use for: accepted (so those
/// tools can drive an eval target) and ignored. Hidden from `--help`.
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct Libtest {
    /// `--nocapture`.
    #[arg(long, hide = true)]
    pub nocapture: bool,
    /// `--no-capture` (libtest's newer spelling).
    #[arg(long = "no-capture", hide = true)]
    pub no_capture: bool,
    /// `--show-output`.
    #[arg(long, hide = true)]
    pub show_output: bool,
    /// `--test-threads N`.
    #[arg(long, value_name = "N", hide = true)]
    pub test_threads: Option<String>,
    /// `-Z FLAG` (repeatable).
    #[arg(short = 'Z', value_name = "FLAG", hide = true)]
    pub unstable: Vec<String>,
    /// `--logfile PATH`.
    #[arg(long, value_name = "PATH", hide = true)]
    pub logfile: Option<String>,
    /// `--shuffle`.
    #[arg(long, hide = true)]
    pub shuffle: bool,
    /// `--shuffle-seed N`.
    #[arg(long, value_name = "N", hide = true)]
    pub shuffle_seed: Option<String>,
    /// `--report-time`.
    #[arg(long, hide = true)]
    pub report_time: bool,
    /// `--ensure-time`.
    #[arg(long, hide = true)]
    pub ensure_time: bool,
    /// `--bench`.
    #[arg(long, hide = true)]
    pub bench: bool,
    /// `--test`.
    #[arg(long, hide = true)]
    pub test: bool,
    /// `--force-run-in-process`.
    #[arg(long, hide = true)]
    pub force_run_in_process: bool,
    /// `--exclude-should-panic`.
    #[arg(long, hide = true)]
    pub exclude_should_panic: bool,
}

fn at_least_one(v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn temperature(v: &str) -> Result<f32, String> {
    let t: f32 = v.trim().parse().map_err(|e| format!("{e}"))?;
    if (0.0..=5.0).contains(&t) {
        Ok(t)
    } else {
        Err("outside 0–5".into())
    }
}

fn jobs(v: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .map(|j| j.max(1))
        .map_err(|e| e.to_string())
}

fn partition(v: &str) -> Result<Partition, String> {
    v.parse()
}

fn tolerance(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        Ok(_) => Err("expected points ≥ 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A usage error (or `--help`), rendered as clap renders it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ArgsError {
    /// The text to print (an error starts with `error:`; `--help` is the help).
    pub message: String,
    /// The exit code: [`crate::base::exit::USAGE`], or 0 for `--help`.
    pub code: i32,
}

impl ArgsError {
    fn from_clap(e: clap::Error) -> ArgsError {
        let code = if e.use_stderr() {
            crate::base::exit::USAGE
        } else {
            crate::base::exit::OK
        };
        ArgsError {
            message: e.render().to_string(),
            code,
        }
    }
}

impl Default for Args {
    fn default() -> Self {
        Args::parse(std::iter::empty::<String>()).expect("no arguments are valid arguments")
    }
}

impl Args {
    /// The harness's command line: [`Args`] and nothing else, as `name`.
    pub fn command(name: &str) -> clap::Command {
        Args::augment_args(
            clap::Command::new("evals")
                .bin_name(name.to_string())
                .about("A litmus eval target: runs the evals registered in it against models")
                .after_help(
                    "Usually run through `cargo eval`. libtest's flags (--nocapture, --test-threads N, ...) are accepted and ignored,\n\
                     so `cargo test`, `cargo nextest run` and `cargo insta test` can drive it.",
                )
                .color(clap::ColorChoice::Never)
                .args_override_self(true)
                .disable_version_flag(true),
        )
    }

    /// Parses the process's arguments.
    pub fn from_env() -> Result<Args, ArgsError> {
        let mut argv = std::env::args_os();
        let name = argv
            .next()
            .as_deref()
            .map(std::path::Path::new)
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "evals".into());
        Self::parse_as(&name, argv.map(|a| a.to_string_lossy().into_owned()))
    }

    /// Parses `args` (without the program name).
    ///
    /// ```
    /// use litmus_core::harness::args::Args;
    /// let a = Args::parse(["python", "--model", "m.gguf", "--temperature", "0,0.7", "--nocapture"]).unwrap();
    /// assert_eq!(a.filters, ["python"]);
    /// assert_eq!(a.temperatures, [0.0, 0.7]);
    /// let e = Args::parse(["--sample", "5"]).unwrap_err();
    /// assert_eq!(e.code, 2);
    /// assert!(e.message.contains("'--samples'"), "{e}");
    /// ```
    pub fn parse<I, S>(args: I) -> Result<Args, ArgsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::parse_as("evals", args)
    }

    fn parse_as<I, S>(name: &str, args: I) -> Result<Args, ArgsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let argv = std::iter::once(name.to_string()).chain(args.into_iter().map(Into::into));
        let matches = Self::command(name)
            .try_get_matches_from(argv)
            .map_err(ArgsError::from_clap)?;
        let mut out = Args::from_arg_matches(&matches).map_err(ArgsError::from_clap)?;
        out.tags.retain(|t| !t.is_empty());
        Ok(out)
    }

    /// The arguments that make an eval target parse exactly these `Args`:
    /// what `cargo eval` passes to eval targets. Values at their defaults are
    /// left out.
    ///
    /// ```
    /// use litmus_core::harness::args::Args;
    /// let a = Args::parse(["capital", "--tag", "geo,easy", "--samples", "2"]).unwrap();
    /// assert_eq!(a.to_argv(), ["--tag", "geo", "--tag", "easy", "--samples", "2", "capital"]);
    /// assert_eq!(Args::parse(a.to_argv()).unwrap(), a);
    /// ```
    pub fn to_argv(&self) -> Vec<String> {
        // Destructured so that a new field that is not passed on is a compile error.
        let Args {
            filters,
            exact,
            skip,
            list,
            instances,
            ignored,
            include_ignored,
            quiet,
            color,
            format,
            models,
            templates,
            judge,
            samples,
            temperatures,
            seed,
            jobs,
            output_dir,
            no_cache,
            resume,
            run_id,
            max_tokens,
            tags,
            config,
            validate,
            plan,
            summary_json,
            junit,
            markdown,
            no_snapshots,
            no_html_report,
            tolerance,
            repeat,
            partition,
            run_dir_file,
            libtest:
                Libtest {
                    nocapture,
                    no_capture,
                    show_output,
                    test_threads,
                    unstable,
                    logfile,
                    shuffle,
                    shuffle_seed,
                    report_time,
                    ensure_time,
                    bench,
                    test,
                    force_run_in_process,
                    exclude_should_panic,
                },
        } = self;
        let mut a = Vec::new();
        let mut flag = |f: &str, on: bool| {
            if on {
                a.push(f.to_string());
            }
        };
        flag("--exact", *exact);
        flag("--list", *list);
        flag("--instances", *instances);
        flag("--ignored", *ignored);
        flag("--include-ignored", *include_ignored);
        flag("--quiet", *quiet);
        flag("--no-cache", *no_cache);
        flag("--resume", *resume);
        flag("--validate", *validate);
        flag("--plan", *plan);
        flag("--no-snapshots", *no_snapshots);
        flag("--no-html-report", *no_html_report);
        flag("--nocapture", *nocapture);
        flag("--no-capture", *no_capture);
        flag("--show-output", *show_output);
        flag("--shuffle", *shuffle);
        flag("--report-time", *report_time);
        flag("--ensure-time", *ensure_time);
        flag("--bench", *bench);
        flag("--test", *test);
        flag("--force-run-in-process", *force_run_in_process);
        flag("--exclude-should-panic", *exclude_should_panic);
        let mut pair = |f: &str, v: String| {
            a.push(f.to_string());
            a.push(v);
        };
        let path = |p: &PathBuf| p.display().to_string();
        for s in skip {
            pair("--skip", s.clone());
        }
        for t in tags {
            pair("--tag", t.clone());
        }
        for m in models {
            pair("--model", m.clone());
        }
        for t in templates {
            pair("--template", t.clone());
        }
        for t in temperatures {
            pair("--temperature", t.to_string());
        }
        for z in unstable {
            pair("-Z", z.clone());
        }
        let optional: [(&str, Option<String>); 18] = [
            (
                "--color",
                (*color != Color::Auto).then(|| value_name(*color)),
            ),
            (
                "--format",
                (*format != Format::Human).then(|| value_name(*format)),
            ),
            ("--judge", judge.clone()),
            ("--samples", samples.map(|v| v.to_string())),
            ("--seed", seed.map(|v| v.to_string())),
            ("--jobs", jobs.map(|v| v.to_string())),
            ("--output-dir", output_dir.as_ref().map(path)),
            ("--run-id", run_id.clone()),
            ("--max-tokens", max_tokens.map(|v| v.to_string())),
            ("--config", config.as_ref().map(path)),
            ("--summary-json", summary_json.as_ref().map(path)),
            ("--junit", junit.as_ref().map(path)),
            ("--markdown", markdown.as_ref().map(path)),
            ("--tolerance", tolerance.map(|v| v.to_string())),
            ("--repeat", (*repeat != 1).then(|| repeat.to_string())),
            ("--partition", partition.map(|p| p.to_string())),
            ("--run-dir-file", run_dir_file.as_ref().map(path)),
            ("--test-threads", test_threads.clone()),
        ];
        for (f, v) in optional {
            if let Some(v) = v {
                pair(f, v);
            }
        }
        for (f, v) in [("--logfile", logfile), ("--shuffle-seed", shuffle_seed)] {
            if let Some(v) = v {
                pair(f, v.clone());
            }
        }
        // Filters last; after `--` when one looks like a flag.
        if filters.iter().any(|f| f.starts_with('-')) {
            a.push("--".into());
        }
        a.extend(filters.iter().cloned());
        a
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

/// The name a value has on the command line (`never`, `terse`).
fn value_name<T: clap::ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_error(args: &[&str]) -> String {
        let e = Args::parse(args.iter().copied()).unwrap_err();
        assert_eq!(e.code, crate::base::exit::USAGE, "{args:?}: {e}");
        e.message
    }

    #[test]
    fn libtest_flags_are_accepted() {
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
        assert!(a.libtest.nocapture && a.libtest.show_output && a.libtest.bench);
        assert_eq!(a.libtest.test_threads.as_deref(), Some("4"));
        assert_eq!(a.libtest.unstable, ["unstable-options"]);
    }

    #[test]
    fn what_cargo_test_nextest_and_insta_pass_is_accepted() {
        // cargo test -- ARGS; nextest's list and run invocations; cargo insta test.
        for argv in [
            &["--list", "--format", "terse"][..],
            &["--list", "--format", "terse", "--ignored"],
            &["--exact", "math::add", "--nocapture"],
            &["--exact", "math::add", "--no-capture", "--ignored"],
            &[
                "--include-ignored",
                "--test-threads=1",
                "--logfile",
                "/tmp/l",
            ],
            &["-q", "--color=auto", "--format", "pretty"],
            &["--format=json", "-Zunstable-options", "--report-time"],
            &["--shuffle", "--shuffle-seed", "7", "--ensure-time"],
            &["--test", "--bench", "--force-run-in-process"],
            &[
                "--exclude-should-panic",
                "--show-output",
                "--",
                "--weird-name",
            ],
        ] {
            let a = Args::parse(argv.iter().copied())
                .unwrap_or_else(|e| panic!("{argv:?} rejected:\n{e}"));
            // And what `cargo eval` would pass on parses back the same.
            assert_eq!(Args::parse(a.to_argv()).unwrap(), a, "{argv:?}");
        }
        let a = Args::parse(["--format", "pretty", "--exact", "x", "--", "--y"]).unwrap();
        assert_eq!(a.format, Format::Human);
        assert_eq!(a.filters, ["x", "--y"]);
    }

    #[test]
    fn unknown_flags_are_rejected_naming_the_closest_one() {
        // Taken for a filter, `5` would have selected nothing and exited 0.
        let m = usage_error(&["--sample", "5", "--tag", "starter", "--list"]);
        assert!(m.contains("'--sample'"), "{m}");
        assert!(m.contains("similar argument exists: '--samples'"), "{m}");
        let m = usage_error(&["--temprature", "0.5"]);
        assert!(
            m.contains("'--temprature'") && m.contains("'--temperature'"),
            "{m}"
        );
        let m = usage_error(&["--no-such-flag"]);
        assert!(m.contains("'--no-such-flag'"), "{m}");
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
            "--repeat",
            "4",
        ])
        .unwrap();
        assert_eq!(a.judge.as_deref(), Some("openai:http://j/v1#big"));
        assert_eq!(a.models, ["a.gguf", "openai:http://x/v1"]);
        assert_eq!(a.temperatures, [0.0, 0.7, 1.0]);
        assert_eq!((a.samples, a.seed, a.jobs), (Some(5), Some(7), Some(3)));
        assert!(a.no_cache && a.resume);
        assert_eq!(a.tags, ["python", "easy"]);
        assert_eq!(a.repeat, 4);
        assert_eq!(Args::default().repeat, 1);
        assert_eq!(Args::parse(["--jobs", "0"]).unwrap().jobs, Some(1));
        // As libtest: --ignored and --include-ignored exclude each other;
        // --validate runs no model, so there is nothing to resume.
        for pair in [
            ["--ignored", "--include-ignored"],
            ["--resume", "--validate"],
        ] {
            let e = Args::parse(pair).unwrap_err().to_string();
            assert!(e.contains("cannot be used with"), "{pair:?}: {e}");
        }
        // Later values of single-valued flags win, as libtest's tools expect.
        let a = Args::parse(["--format", "terse", "--format=json"]).unwrap();
        assert_eq!(a.format, Format::Json);
    }

    #[test]
    fn bad_values_are_errors() {
        let m = usage_error(&["--samples", "x"]);
        assert!(m.contains("'x'") && m.contains("--samples"), "{m}");
        assert!(usage_error(&["--samples", "0"]).contains("at least 1"));
        assert!(usage_error(&["--repeat", "0"]).contains("at least 1"));
        let m = usage_error(&["--max-tokens", "0"]);
        assert!(
            m.contains("--max-tokens") && m.contains("at least 1"),
            "{m}"
        );
        assert!(usage_error(&["--temperature", "9"]).contains("outside 0–5"));
        assert!(usage_error(&["--temperature", "0,x"]).contains("--temperature"));
        assert!(usage_error(&["--tolerance", "nan"]).contains("points ≥ 0"));
        assert!(usage_error(&["--model"]).contains("a value is required for '--model"));
        assert!(
            usage_error(&["--color", "purple"]).contains("[possible values: auto, always, never]")
        );
        assert!(usage_error(&["--judge"]).contains("a value is required for '--judge"));
        assert!(usage_error(&["--run-id", "r"]).contains("--resume"));
        for (spec, why) in [
            ("hash:0/4", "K counts from 1"),
            ("count:5/4", "K (5) is greater than N (4)"),
            ("mod:1/4", "unknown partition kind `mod`"),
            ("hash:1/0", "N must be at least 1"),
            ("hash", "expected KIND:K/N"),
        ] {
            let m = usage_error(&["--partition", spec]);
            assert!(m.contains("--partition") && m.contains(why), "{spec}: {m}");
        }
        assert_eq!(
            Args::parse(["--partition", "hash:2/4"]).unwrap().partition,
            Some("hash:2/4".parse().unwrap())
        );
        let help = Args::parse(["--help"]).unwrap_err();
        assert_eq!(help.code, 0);
        assert!(help.message.contains("--samples"), "{}", help.message);
        assert!(
            !help.message.contains("--show-output"),
            "libtest flags stay hidden"
        );
    }

    #[test]
    fn to_argv_round_trips_every_field() {
        let a = Args {
            filters: vec!["a".into(), "b::c".into()],
            exact: true,
            skip: vec!["s".into()],
            list: true,
            instances: true,
            ignored: true,
            // Conflicts with --ignored (and --validate with --resume):
            // round-tripped below.
            include_ignored: false,
            quiet: true,
            color: Color::Always,
            format: Format::Json,
            models: vec!["m1".into(), "openai:http://x/v1#big model".into()],
            templates: vec!["plain".into(), "expert".into()],
            judge: Some("j".into()),
            samples: Some(4),
            temperatures: vec![0.0, 0.7, 1.25],
            seed: Some(9),
            jobs: Some(2),
            output_dir: Some("/tmp/out dir".into()),
            no_cache: true,
            resume: true,
            run_id: Some("r1".into()),
            max_tokens: Some(64),
            tags: vec!["x".into(), "y".into()],
            config: Some("/tmp/litmus.toml".into()),
            validate: false,
            // Conflicts with --list and --validate: checked below.
            plan: false,
            summary_json: Some("/tmp/s.json".into()),
            junit: Some("/tmp/j.xml".into()),
            markdown: Some("/tmp/m.md".into()),
            no_snapshots: true,
            no_html_report: true,
            tolerance: Some(2.5),
            repeat: 3,
            partition: Some("count:2/3".parse().unwrap()),
            run_dir_file: Some("/tmp/rd".into()),
            libtest: Libtest {
                nocapture: true,
                no_capture: true,
                show_output: true,
                test_threads: Some("1".into()),
                unstable: vec!["unstable-options".into()],
                logfile: Some("/tmp/log".into()),
                shuffle: true,
                shuffle_seed: Some("3".into()),
                report_time: true,
                ensure_time: true,
                bench: true,
                test: true,
                force_run_in_process: true,
                exclude_should_panic: true,
            },
        };
        assert_eq!(Args::parse(a.to_argv()).unwrap(), a);
        let b = Args {
            include_ignored: true,
            validate: true,
            ..Args::default()
        };
        assert_eq!(Args::parse(b.to_argv()).unwrap(), b);
        let p = Args {
            plan: true,
            ..Args::default()
        };
        assert_eq!(p.to_argv(), ["--plan"]);
        assert_eq!(Args::parse(p.to_argv()).unwrap(), p);
        assert!(Args::parse(["--plan", "--list"]).is_err());
        assert_eq!(Args::default().to_argv(), Vec::<String>::new());
        assert_eq!(
            Args::parse(Args::default().to_argv()).unwrap(),
            Args::default()
        );
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
