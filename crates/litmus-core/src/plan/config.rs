//! `litmus.toml`: models, templates and run defaults at the workspace root.
//!
//! ```toml
//! [run]
//! models = ["gemma"]            # what `cargo eval` runs by default
//! templates = ["plain"]
//! temperatures = [0.0, 0.7]
//! samples = 5
//! seed = 42
//! max_tokens = 384
//!
//! [models.gemma]
//! backend = "llama"
//! source = "builtin:gemma3-270m-q4_k_m"
//!
//! [templates.terse]
//! system = "Answer in one word."
//! user = "{{task}}"
//!
//! [judge]
//! model = "gemma"               # grades judged cases; default: the model under test
//! ```
//!
//! Command-line flags override the file. A mistake in it is an error naming
//! the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::model::{BackendKind, ModelSpec};
use crate::eval::template::PromptTemplate;

/// The default model when none is configured.
pub const DEFAULT_MODEL: &str = "builtin:gemma3-270m-q4_k_m";

/// The parsed `litmus.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run defaults.
    pub run: RunDefaults,
    /// Named models.
    pub models: BTreeMap<String, ModelSpec>,
    /// Named templates, added to the built-in ones.
    pub templates: BTreeMap<String, PromptTemplate>,
    /// Per-eval settings, keyed by eval name (or a prefix of it).
    pub evals: BTreeMap<String, EvalSettings>,
    /// The LLM judge (`--judge` overrides it).
    pub judge: JudgeSettings,
    /// Which compute devices configurations run on (see
    /// [`crate::plan::placement`]).
    pub devices: crate::plan::placement::DevicesConfig,
    /// Where the file was read from.
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// The file's text, to name the line of a later error ([`Config::error_at`]).
    #[serde(skip)]
    text: String,
}

/// Defaults for a run; each has a command-line flag.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunDefaults {
    /// Models to run (names from `[models]` or spec strings).
    pub models: Vec<String>,
    /// Templates to cross with the cases.
    pub templates: Vec<String>,
    /// Temperatures to sweep.
    pub temperatures: Vec<f32>,
    /// Samples per case and configuration.
    pub samples: Option<u32>,
    /// Base seed.
    pub seed: Option<u64>,
    /// Most tokens per answer.
    pub max_tokens: Option<u32>,
    /// Parallel scoring jobs (sandboxed executions).
    pub jobs: Option<usize>,
    /// Time limit of one code execution, in seconds.
    pub timeout_secs: Option<u64>,
    /// Only evals with one of these tags.
    pub tags: Vec<String>,
    /// Results directory (default: `<target-dir>/litmus`).
    pub output_dir: Option<PathBuf>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// Top-k.
    pub top_k: Option<u32>,
    /// Min-p.
    pub min_p: Option<f32>,
    /// Repeat penalty.
    pub repeat_penalty: Option<f32>,
    /// Stop strings.
    pub stop: Vec<String>,
    /// Stop a completion of a code prompt where the definition it continues
    /// ends (see [`litmus_sandbox::StopRule`]); default true.
    pub stop_at_definition_end: Option<bool>,
    /// Write `report.html` next to each run's results (default true;
    /// `--no-html-report` turns it off for one run).
    pub html_report: Option<bool>,
}

/// `[judge]`: which model grades the cases that an LLM judge scores (see
/// [`crate::eval::judge`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeSettings {
    /// A name from `[models]` or a spec string; `None`: each model under
    /// evaluation judges its own answers.
    pub model: Option<String>,
}

/// Settings for one eval (or every eval whose name starts with the key).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalSettings {
    /// Minimum acceptable score.
    pub min_score: Option<f64>,
    /// Samples, overriding the run default.
    pub samples: Option<u32>,
}

impl RunDefaults {
    /// The values no run can use, with the key they are under: `samples`
    /// or `max_tokens` of 0, a `timeout_secs` of 0 or above a week,
    /// `top_p` or `min_p` outside 0–1, a `repeat_penalty` that is not a
    /// number above 0 (1 disables it). Temperatures are checked with their
    /// line of the list.
    pub fn check_values(&self) -> Result<(), (&'static str, String)> {
        if self.samples == Some(0) {
            return Err(("samples", "must be at least 1".into()));
        }
        if self.max_tokens == Some(0) {
            return Err(("max_tokens", "must be at least 1".into()));
        }
        if let Some(t) = self.timeout_secs {
            let max = crate::base::model::MAX_TIMEOUT_SECS;
            if !(1..=max).contains(&t) {
                return Err(("timeout_secs", format!("{t} is outside 1–{max} (a week)")));
            }
        }
        for (key, v) in [("top_p", self.top_p), ("min_p", self.min_p)] {
            if let Some(v) = v.filter(|v| !(0.0..=1.0).contains(v)) {
                return Err((key, format!("{v} is outside 0–1")));
            }
        }
        if let Some(v) = self.repeat_penalty.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return Err((
                "repeat_penalty",
                format!("{v} is not a number above 0 (1 disables the penalty)"),
            ));
        }
        Ok(())
    }
}

impl EvalSettings {
    /// The values no eval can use, with their key: `samples` of 0, a
    /// `min_score` outside 0–100.
    pub fn check_values(&self) -> Result<(), (&'static str, String)> {
        if self.samples == Some(0) {
            return Err(("samples", "must be at least 1".into()));
        }
        if let Some(m) = self.min_score.filter(|m| !(0.0..=100.0).contains(m)) {
            return Err(("min_score", format!("{m} is outside 0–100")));
        }
        Ok(())
    }
}

/// Whether some part of `t` (validated) has what differs from case to case:
/// `{{task}}`, `{{task_inline}}`, a code case's `{{prefix}}` or a case's
/// own variable (one that no selected case has is an error when the template
/// is chosen, see `resolve::check_placeholders`); `{{language}}` alone is not.
fn asks_the_task(t: &PromptTemplate) -> bool {
    [&t.system, &t.user, &t.completion]
        .into_iter()
        .flatten()
        .flat_map(|text| crate::eval::placeholders::placeholders(&t.name, text).unwrap_or_default())
        .any(|(_, name)| name != "language")
}

fn err_at(path: Option<&Path>, text: &str, at: &[&str], message: String) -> ConfigError {
    let path = path.map(|p| p.display().to_string()).unwrap_or_default();
    let message = match Config::line_of(text, at) {
        Some(line) => format!("line {line}: {message}"),
        None => message,
    };
    ConfigError { path, message }
}

/// A configuration error, naming the file and, where known, the line and key.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong (toml's message carries the line, column and key).
    pub message: String,
}

impl Config {
    /// Parses `text` read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError {
            path: path.display().to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.path = Some(path.to_path_buf());
        config.check(text)?;
        config.text = text.to_string();
        Ok(config)
    }

    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Finds `litmus.toml` in `start` or its ancestors; an empty config if none.
    pub fn discover(start: &Path) -> Result<Config, ConfigError> {
        for dir in start.ancestors() {
            let candidate = dir.join("litmus.toml");
            if candidate.is_file() {
                return Self::load(&candidate);
            }
        }
        Ok(Config::default())
    }

    /// The line in `text` of the key at `at` (`["models", "m", "context"]`),
    /// as the TOML parser located it (comments and other tables' keys of
    /// the same name are not it); where the path ends early (a missing
    /// key), the line of the deepest part there is (its table's header).
    fn line_of(text: &str, at: &[&str]) -> Option<usize> {
        let doc = toml_edit::ImDocument::parse(text).ok()?;
        let mut item = doc.as_item();
        let mut span = None;
        for key in at {
            let Some((k, v)) = item.as_table_like().and_then(|t| t.get_key_value(key)) else {
                break;
            };
            // A table's header, else where its key is written.
            let here = match v {
                toml_edit::Item::Table(t) if !t.is_implicit() => t.span(),
                _ => None,
            };
            span = here.or_else(|| k.span()).or_else(|| v.span()).or(span);
            item = v;
        }
        let start = span?.start;
        Some(text.get(..start)?.matches('\n').count() + 1)
    }

    fn err_at(&self, text: &str, at: &[&str], message: String) -> ConfigError {
        err_at(self.path.as_deref(), text, at, message)
    }

    /// An error about the key at `at` (`["templates", "t", "user"]`) found
    /// after the file was read (a check that needs the evals), naming the
    /// file and line as the file's own errors do.
    pub fn error_at(&self, at: &[&str], message: String) -> ConfigError {
        self.err_at(&self.text, at, message)
    }

    /// Semantic checks the schema cannot express.
    fn check(&mut self, text: &str) -> Result<(), ConfigError> {
        let path = self.path.clone();
        // The file as written, for what the typed form cannot tell (a key
        // left out from one written empty).
        let raw = toml::from_str::<toml::Value>(text).ok();
        let written = |at: &[&str]| {
            at.iter()
                .try_fold(raw.as_ref(), |v, key| Some(v?.get(key)))
                .flatten()
        };
        for (name, model) in self.models.iter_mut() {
            if model.name.is_empty() {
                model.name = name.clone();
            }
            if model.source.trim().is_empty() {
                let what = "(a GGUF path, `builtin:NAME`, a URL or a run)";
                let (msg, at) = if written(&["models", name, "source"]).is_none() {
                    (
                        format!("models.{name}: missing key `source` {what}"),
                        vec!["models", name],
                    )
                } else {
                    (
                        format!("models.{name}.source: empty; it names the model {what}"),
                        vec!["models", name, "source"],
                    )
                };
                return Err(err_at(path.as_deref(), text, &at, msg));
            }
            // `source = "http://h:11434#qwen2.5:0.5b"`, as on the command line.
            if matches!(
                model.backend,
                BackendKind::Openai | BackendKind::Ollama | BackendKind::Replay
            ) && model.model.is_none()
            {
                if let Some((url, m)) = model.source.clone().split_once('#') {
                    model.source = url.to_string();
                    model.model = Some(m.to_string());
                }
            }
            if let Some(known) = crate::base::model::known_option_keys(model.backend) {
                if let Some(key) = model.options.keys().find(|k| !known.contains(&k.as_str())) {
                    let msg = format!(
                        "models.{name}.options: unknown option `{key}` for the {} backend (known: {})",
                        model.backend,
                        known.join(", ")
                    );
                    let at = ["models", name, "options", key];
                    return Err(err_at(path.as_deref(), text, &at, msg));
                }
            }
            if let Err((key, e)) = model.check_values() {
                let msg = format!("models.{name}.{key}: {e}");
                return Err(err_at(path.as_deref(), text, &["models", name, key], msg));
            }
            if let Some((key, why)) = model.unused_key() {
                let msg = format!("models.{name}.{key}: {why}");
                return Err(err_at(path.as_deref(), text, &["models", name, key], msg));
            }
            // Files named in the file are where the file is, whichever
            // directory the run starts in (an eval target runs in its
            // package's).
            if let Some(dir) = path.as_deref().and_then(Path::parent) {
                relative_to(dir, model);
            }
        }
        for (name, t) in self.templates.iter_mut() {
            t.name = name.clone();
            if let Err(e) = t.validate() {
                let msg = format!("templates.{name}: {e}");
                return Err(err_at(path.as_deref(), text, &["templates", name], msg));
            }
            if !asks_the_task(t) {
                // Where the task goes: the user message, or the raw text.
                let key = if t.user.is_some() {
                    "user"
                } else {
                    "completion"
                };
                let msg = format!(
                    "templates.{name}.{key}: no part of the template has `{{{{task}}}}` (or `{{{{task_inline}}}}`, `{{{{prefix}}}}`): every eval would be asked the same prompt"
                );
                return Err(err_at(
                    path.as_deref(),
                    text,
                    &["templates", name, key],
                    msg,
                ));
            }
        }
        // An empty list would mean "the default" (a list left out does):
        // most likely a list emptied by mistake, so say so.
        for key in ["models", "templates", "temperatures", "tags", "stop"] {
            if written(&["run", key])
                .and_then(toml::Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                let msg = format!("run.{key}: an empty list; leave the key out for the default");
                return Err(self.err_at(text, &["run", key], msg));
            }
        }
        for t in &self.run.temperatures {
            if !(0.0..=5.0).contains(t) {
                let msg = format!("run.temperatures: {t} is outside 0–5");
                return Err(self.err_at(text, &["run", "temperatures"], msg));
            }
        }
        if let Err((key, e)) = self.run.check_values() {
            return Err(self.err_at(text, &["run", key], format!("run.{key}: {e}")));
        }
        for (name, settings) in &self.evals {
            if let Err((key, e)) = settings.check_values() {
                let msg = format!("evals.{name}.{key}: {e}");
                return Err(self.err_at(text, &["evals", name, key], msg));
            }
        }
        if let Some(h) = &self.devices.headroom {
            if let Err(e) = crate::plan::placement::Headroom::parse(h) {
                return Err(self.err_at(text, &["devices", "headroom"], format!("devices.{e}")));
            }
        }
        if let Some(model) = &self.judge.model {
            if let Err(e) = self.resolve_judge(model) {
                return Err(self.err_at(text, &["judge", "model"], format!("judge.model: {e}")));
            }
        }
        Ok(())
    }

    /// Resolves the judge model (a `--judge` argument or `[judge] model`):
    /// like [`Config::resolve_model`], but it must name a single model (one
    /// quantization).
    pub fn resolve_judge(&self, arg: &str) -> Result<ModelSpec, String> {
        let mut specs = self.resolve_model(arg)?.expand();
        if specs.len() != 1 {
            let labels: Vec<String> = specs
                .iter()
                .filter_map(|s| s.quantization.clone())
                .collect();
            return Err(format!(
                "the judge must be one model, but `{arg}` has several quantizations ({}): define one model for the judge in [models]",
                labels.join(", ")
            ));
        }
        Ok(specs.remove(0))
    }

    /// Resolves a `--model` argument: a name in `[models]` or a spec string.
    pub fn resolve_model(&self, arg: &str) -> Result<ModelSpec, String> {
        if let Some(spec) = self.models.get(arg) {
            return Ok(spec.clone());
        }
        ModelSpec::parse(arg).ok_or_else(|| {
            let known: Vec<&str> = self.models.keys().map(String::as_str).collect();
            format!(
                "unknown model `{arg}`: not in litmus.toml ({}) and not a spec (a .gguf path, builtin:NAME, openai:URL, ollama:URL#TAG, replay:RUN)",
                if known.is_empty() { "none defined".to_string() } else { known.join(", ") }
            )
        })
    }

    /// All templates: built-in ones, then the file's (which may replace them).
    pub fn all_templates(&self) -> Vec<PromptTemplate> {
        let mut all = crate::eval::template::builtin();
        for t in self.templates.values() {
            if let Some(slot) = all.iter_mut().find(|b| b.name == t.name) {
                *slot = t.clone();
            } else {
                all.push(t.clone());
            }
        }
        all
    }

    /// The `[evals.KEY]` tables whose key names none of `names` (an eval,
    /// or a module or eval whose cases they are), as warnings naming the
    /// file and line: a misspelled key would otherwise drop its
    /// `min_score` gate without a word.
    pub fn unknown_eval_keys<'a>(
        &self,
        names: impl Iterator<Item = &'a str> + Clone,
    ) -> Vec<String> {
        self.evals
            .keys()
            .filter(|k| {
                !names
                    .clone()
                    .any(|n| n == k.as_str() || n.starts_with(&format!("{k}::")))
            })
            .map(|k| {
                self.error_at(
                    &["evals", k],
                    format!("evals.\"{k}\": names no eval of this target, so its settings apply to none (`cargo eval --list` lists the evals)"),
                )
                .to_string()
            })
            .collect()
    }

    /// `[run] output_dir`, taken from the file's directory when relative.
    pub fn output_dir(&self) -> Option<PathBuf> {
        let dir = self.run.output_dir.as_ref()?;
        Some(if dir.is_absolute() {
            dir.clone()
        } else {
            self.path
                .as_deref()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."))
                .join(dir)
        })
    }

    /// Settings for eval `name` (the longest matching key wins).
    pub fn eval_settings(&self, name: &str) -> Option<&EvalSettings> {
        self.evals
            .iter()
            .filter(|(k, _)| name == k.as_str() || name.starts_with(&format!("{k}::")))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, v)| v)
    }
}

/// `model`'s files (a GGUF and its quantizations; a recorded run that is
/// there) taken from `dir` when they are relative.
fn relative_to(dir: &Path, model: &mut ModelSpec) {
    let from_dir = |source: &mut String| {
        let p = Path::new(source.as_str());
        if p.is_relative() && !source.starts_with("builtin:") {
            *source = dir.join(p).to_string_lossy().into_owned();
        }
    };
    match model.backend {
        BackendKind::Llama => {
            from_dir(&mut model.source);
            model.quantizations.values_mut().for_each(from_dir);
        }
        // A run id (`20261207-…`) is looked up among the runs instead.
        BackendKind::Replay if dir.join(&model.source).exists() => from_dir(&mut model.source),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("litmus.toml"))
    }

    #[test]
    fn parses_models_templates_and_defaults() {
        let c = parse(
            r#"
[run]
models = ["gemma"]
temperatures = [0.0, 0.7]
samples = 5

[models.gemma]
source = "builtin:gemma3-270m-q4_k_m"

[models.server]
backend = "openai"
source = "http://127.0.0.1:8080/v1"
api_key_env = "MY_KEY"

[templates.terse]
user = "{{task}} One word."
"#,
        )
        .unwrap();
        assert_eq!(c.run.samples, Some(5));
        assert_eq!(c.models["gemma"].name, "gemma");
        assert_eq!(
            c.models["server"].backend,
            crate::base::model::BackendKind::Openai
        );
        assert!(c.all_templates().iter().any(|t| t.name == "terse"));
    }

    #[test]
    fn devices_table_and_model_split() {
        let cfg = parse(
            "[devices]\nuse = [\"CUDA0\", \"CUDA1\"]\nheadroom = \"2 GiB\"\n\n[models.big]\nsource = \"big.gguf\"\nsplit = [3, 1]\ngpu_layers = 40\n",
        )
        .unwrap();
        assert_eq!(cfg.devices.use_devices, ["CUDA0", "CUDA1"]);
        assert_eq!(cfg.models["big"].split, [3.0, 1.0]);
        let err = parse("[devices]\nheadroom = \"lots\"\n").unwrap_err();
        assert!(err.to_string().contains("devices.headroom"), "{err}");
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let err = parse("[run]\nsamples = 3\nsamplez = 4\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("litmus.toml:"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("samplez"), "{msg}");
    }

    #[test]
    fn wrong_type_names_line_and_key() {
        let err = parse("[run]\n\nseed = \"forty-two\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("seed"), "{err}");
    }

    #[test]
    fn an_evals_key_that_names_no_eval_is_warned_about_with_its_line() {
        let c = parse("[evals.\"qa::capital\"]\nmin_score = 60\n\n[evals.\"qa::capital::case_3_canda\"]\nmin_score = 90\n\n[evals.\"qa::capital::case_3_canada\"]\nmin_score = 90\n\n[evals.qa]\nsamples = 2\n").unwrap();
        let names = [
            "qa::capital::case_3_canada",
            "qa::capital::case_1_france",
            "qa::add",
        ];
        assert_eq!(
            c.unknown_eval_keys(names.iter().copied()),
            ["litmus.toml: line 4: evals.\"qa::capital::case_3_canda\": names no eval of this target, so its settings apply to none (`cargo eval --list` lists the evals)"]
        );
    }

    #[test]
    fn a_servers_model_is_reached_by_url_and_an_ollama_model_by_name() {
        let e =
            parse("[models.s]\nbackend = \"openai\"\nsource = \"builtin:gemma3-270m-q4_k_m\"\n")
                .unwrap_err()
                .to_string();
        assert!(
            e.starts_with(
                "litmus.toml: line 3: models.s.source: the openai backend takes a server's URL"
            ),
            "{e}"
        );
        let e = parse("[models.o]\nbackend = \"ollama\"\nsource = \"http://127.0.0.1:11434\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("models.o.model: the ollama backend needs the model's name"),
            "{e}"
        );
        let c = parse(
            "[models.o]\nbackend = \"ollama\"\nsource = \"http://127.0.0.1:11434#qwen2.5:0.5b\"\n",
        )
        .unwrap();
        let o = &c.models["o"];
        assert_eq!(
            (o.source.as_str(), o.model.as_deref()),
            ("http://127.0.0.1:11434", Some("qwen2.5:0.5b"))
        );
    }

    #[test]
    fn a_missing_source_and_an_empty_one_are_told_apart() {
        let e = parse("[models.g]\nthreads = 2\n").unwrap_err().to_string();
        assert!(
            e.starts_with("litmus.toml: line 1: models.g: missing key `source`"),
            "{e}"
        );
        let e = parse("[models.g]\nthreads = 2\nsource = \" \"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("litmus.toml: line 3: models.g.source: empty"),
            "{e}"
        );
    }

    #[test]
    fn a_key_the_models_backend_does_not_read_is_an_error_naming_its_line() {
        let e = parse("[models.s]\nbackend = \"openai\"\nsource = \"http://127.0.0.1:8080/v1\"\ngpu_layers = 99\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("litmus.toml: line 4: models.s.gpu_layers: the openai backend sends requests to a server"),
            "{e}"
        );
        let e = parse(
            "[models.g]\nsource = \"g.gguf\"\nthreads = 2\nendpoints = [\"http://h:8080/v1\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("litmus.toml: line 4: models.g.endpoints: only the HTTP backends"),
            "{e}"
        );
        // What each backend reads is accepted.
        parse("[models.g]\nsource = \"g.gguf\"\nthreads = 2\ngpu_layers = 0\ncpus = [0, 1]\ncontext = 4096\nparallel = 8\n\n[models.s]\nbackend = \"openai\"\nsource = \"http://127.0.0.1:8080/v1\"\nmodel = \"m\"\ntimeout_secs = 60\nendpoints = [\"http://h:8080/v1\"]\nraw_completion = true\nparallel = 4\ncontext = 4096\n")
            .unwrap();
    }

    #[test]
    fn files_named_in_the_file_are_taken_from_its_directory() {
        let run = tempfile::tempdir().unwrap();
        std::fs::create_dir(run.path().join("old-run")).unwrap();
        let path = run.path().join("litmus.toml");
        let text = "[models.g]\nsource = \"models/g.gguf\"\nquantizations = { Q8_0 = \"g-q8.gguf\", F16 = \"/abs/g-f16.gguf\" }\n\n[models.b]\nsource = \"builtin:gemma3-270m-q4_k_m\"\n\n[models.r]\nbackend = \"replay\"\nsource = \"old-run\"\n\n[models.id]\nbackend = \"replay\"\nsource = \"20261207-120000-abcdef\"\n\n[models.s]\nbackend = \"openai\"\nsource = \"http://127.0.0.1:8080/v1\"\n";
        let c = Config::parse(text, &path).unwrap();
        let dir = run.path();
        let g = &c.models["g"];
        assert_eq!(Path::new(&g.source), dir.join("models/g.gguf"));
        assert_eq!(Path::new(&g.quantizations["Q8_0"]), dir.join("g-q8.gguf"));
        assert_eq!(g.quantizations["F16"], "/abs/g-f16.gguf");
        assert_eq!(c.models["b"].source, "builtin:gemma3-270m-q4_k_m");
        assert_eq!(Path::new(&c.models["r"].source), dir.join("old-run"));
        // A run id, and a URL, are no files.
        assert_eq!(c.models["id"].source, "20261207-120000-abcdef");
        assert_eq!(c.models["s"].source, "http://127.0.0.1:8080/v1");
    }

    #[test]
    fn model_without_source_is_an_error_with_its_line() {
        let err = parse("[run]\nsamples = 1\n\n[models.x]\nbackend = \"llama\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 4"), "{msg}");
        assert!(msg.contains("source"), "{msg}");
    }

    #[test]
    fn errors_name_the_line_of_the_key_not_a_comment_or_another_table() {
        // The reviewer's c25: a comment on line 1 mentions the key.
        let text = "# how many samples to take\n[models.m]\nsource = \"m.gguf\"\n# samples: one per question\n[run]\nmodels = [\"m\"]\nsamples = 0\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains("line 7") && err.contains("run.samples"),
            "{err}"
        );
        // `samples` of another table first, then the run's.
        let text = "[evals.x]\nsamples = 2\n\n[run]\nsamples = 0\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("line 5"), "{err}");
        // Dotted and inline keys.
        let err = parse("run.temperatures = [9.0]\n").unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("run.temperatures"),
            "{err}"
        );
        let err = parse("# [judge]\n[run]\n\n[judge]\nmodel = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 5"), "{err}");
    }

    #[test]
    fn values_no_run_can_use_name_their_key_and_line() {
        let bad = |text: &str, key: &str, line: usize| {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.contains(key) && err.contains(&format!("line {line}:")),
                "{text:?}: {err}"
            );
        };
        for (kv, key) in [
            ("top_p = -3.0", "run.top_p"),
            ("top_p = nan", "run.top_p"),
            ("min_p = 7.0", "run.min_p"),
            ("repeat_penalty = -2.0", "run.repeat_penalty"),
            ("repeat_penalty = nan", "run.repeat_penalty"),
            ("repeat_penalty = inf", "run.repeat_penalty"),
            ("max_tokens = 0", "run.max_tokens"),
            ("samples = 0", "run.samples"),
            ("timeout_secs = 0", "run.timeout_secs"),
            ("temperatures = [0.5, nan]", "run.temperatures"),
            ("temperatures = [-1.0]", "run.temperatures"),
        ] {
            bad(&format!("# {kv}\n[run]\nmodels = [\"m\"]\n{kv}\n"), key, 4);
        }
        bad(
            "[run]\nsamples = 1\n[evals.capital]\nsamples = 0\n",
            "evals.capital.samples",
            4,
        );
        bad(
            "[evals.capital]\nsamples = 2\nmin_score = 1000\n",
            "evals.capital.min_score",
            3,
        );
        bad(
            "[models.m]\nsource = \"m.gguf\"\ncontext = 4294967295\n",
            "models.m.context",
            3,
        );
        bad(
            "[models.m]\nsource = \"m.gguf\"\nthreads = 100000\n",
            "models.m.threads",
            3,
        );
        bad(
            "[models.m]\nbackend = \"openai\"\nsource = \"http://h/v1\"\ntimeout_secs = 9223372036854775807\n",
            "models.m.timeout_secs",
            4,
        );
        // What they may be.
        let c = parse(
            "[run]\ntop_p = 1.0\nmin_p = 0.0\ntop_k = 0\nrepeat_penalty = 1.1\nmax_tokens = 1\n[evals.x]\nmin_score = 100\n[models.m]\nsource = \"m.gguf\"\ncontext = 131072\nthreads = 64\n",
        );
        assert!(c.is_ok(), "{:?}", c.err());
    }

    // As a backend's crate registers its option keys (none is linked here).
    inventory::submit! {
        crate::base::model::OptionKeys {
            backends: &[crate::base::model::BackendKind::Replay],
            keys: &["speed", "isolation"],
        }
    }

    #[test]
    fn unknown_options_of_a_registered_backend_name_the_model_and_line() {
        let text = "[models.r]\nbackend = \"replay\"\nsource = \"run\"\noptions = { speed = 1, isolaton = \"thread\" }\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains("line 4")
                && err
                    .contains("models.r.options: unknown option `isolaton` for the replay backend")
                && err.contains("isolation"),
            "{err}"
        );
        let ok = "[models.r]\nbackend = \"replay\"\nsource = \"run\"\noptions = { speed = 1 }\n";
        assert!(parse(ok).is_ok());
        // A backend that registered none (not linked): checked when it opens.
        assert!(parse(
            "[models.m]\nbackend = \"ollama\"\nsource = \"h\"\nmodel = \"q\"\noptions = { anything = true }\n"
        )
        .is_ok());
    }

    #[test]
    fn bad_template_is_an_error() {
        let err = parse("[templates.t]\nuser = \"{{task\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("templates.t"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn an_empty_run_list_is_an_error_naming_its_line() {
        for key in ["models", "templates", "temperatures", "tags", "stop"] {
            let err = parse(&format!("[run]\nsamples = 1\n{key} = []\n"))
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                format!("litmus.toml: line 3: run.{key}: an empty list; leave the key out for the default")
            );
        }
        assert!(parse("[run]\ntemperatures = [0.0]\n").is_ok());
    }

    #[test]
    fn a_template_without_the_task_is_an_error_naming_file_line_and_key() {
        let err = parse("[run]\nsamples = 1\n\n[templates.notask]\nsystem = \"Be brief.\"\nuser = \"Say hi.\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("litmus.toml: line 6: templates.notask.user: no part of the template has `{{task}}`"),
            "{err}"
        );
        let err = parse("[templates.raw]\ncompletion = \"# {{language}}\\ndef f():\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("litmus.toml: line 2: templates.raw.completion:"),
            "{err}"
        );
        // The task in any part, inline, or a code case's prefix.
        for ok in [
            "[templates.t]\nsystem = \"Task: {{task}}\"\nuser = \"Go.\"\n",
            "[templates.t]\nuser = \"In {{language}}, {{task_inline}}\"\n",
            "[templates.t]\ncompletion = \"{{prefix}}\"\nscope = \"code\"\n",
            // A case's variable, or a misspelled `{{task}}`, which the plan
            // names when the template is chosen.
            "[templates.t]\nuser = \"Capital of {{country}}?\"\n",
            "[templates.t]\nuser = \"{{taks}}\"\n",
        ] {
            assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok).err());
        }
    }

    #[test]
    fn resolve_model_by_name_or_spec() {
        let c = parse("[models.g]\nsource = \"m.gguf\"\n").unwrap();
        assert_eq!(c.resolve_model("g").unwrap().source, "m.gguf");
        assert_eq!(c.resolve_model("x/y.gguf").unwrap().name, "y");
        assert!(c
            .resolve_model("nope")
            .unwrap_err()
            .contains("unknown model `nope`"));
    }

    #[test]
    fn judge_model_by_name_or_spec() {
        let c = parse("[models.g]\nsource = \"m.gguf\"\n\n[judge]\nmodel = \"g\"\n").unwrap();
        assert_eq!(c.judge.model.as_deref(), Some("g"));
        assert_eq!(c.resolve_judge("g").unwrap().source, "m.gguf");
        assert_eq!(
            c.resolve_judge("openai:http://h/v1#judge").unwrap().name,
            "judge"
        );
        assert_eq!(parse("").unwrap().judge.model, None);
        // An unknown judge names the line of its key.
        let err = parse("[run]\nsamples = 1\n\n[judge]\nmodel = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 5") && err.contains("judge.model") && err.contains("nope"),
            "{err}"
        );
        let err = parse("[judge]\nmodle = \"g\"\n").unwrap_err().to_string();
        assert!(err.contains("modle"), "{err}");
        // A model with several quantizations cannot judge.
        let c = parse("[models.g]\nsource = \"a.gguf\"\nquantizations = { Q4 = \"a.gguf\", Q8 = \"b.gguf\" }\n")
            .unwrap();
        assert!(c.resolve_judge("g").unwrap_err().contains("Q4, Q8"));
    }

    #[test]
    fn quantizations_expand_to_labeled_specs() {
        let c = parse(
            "[models.g]\nsource = \"a.gguf\"\nquantizations = { Q4_K_M = \"a.gguf\", Q8_0 = \"b.gguf\" }\n",
        )
        .unwrap();
        let specs = c.models["g"].expand();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1].quantization.as_deref(), Some("Q8_0"));
        assert_eq!(specs[1].source, "b.gguf");
    }
}
