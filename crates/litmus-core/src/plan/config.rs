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

use crate::base::model::ModelSpec;
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

fn err_at(path: Option<&Path>, text: &str, needle: &str, message: String) -> ConfigError {
    let path = path.map(|p| p.display().to_string()).unwrap_or_default();
    let message = match Config::line_of(text, needle) {
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

    /// The line in `text` where `[section.key]` or `key =` first appears.
    fn line_of(text: &str, needle: &str) -> Option<usize> {
        text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
    }

    fn err_at(&self, text: &str, needle: &str, message: String) -> ConfigError {
        err_at(self.path.as_deref(), text, needle, message)
    }

    /// Semantic checks the schema cannot express.
    fn check(&mut self, text: &str) -> Result<(), ConfigError> {
        let path = self.path.clone();
        for (name, model) in self.models.iter_mut() {
            if model.name.is_empty() {
                model.name = name.clone();
            }
            if model.source.is_empty() {
                let msg = format!("models.{name}: missing key `source` (a GGUF path, `builtin:NAME`, a URL or a run)");
                return Err(err_at(
                    path.as_deref(),
                    text,
                    &format!("[models.{name}]"),
                    msg,
                ));
            }
        }
        for (name, t) in self.templates.iter_mut() {
            t.name = name.clone();
            if let Err(e) = t.validate() {
                let msg = format!("templates.{name}: {e}");
                return Err(err_at(
                    path.as_deref(),
                    text,
                    &format!("[templates.{name}]"),
                    msg,
                ));
            }
        }
        for t in &self.run.temperatures {
            if !(0.0..=5.0).contains(t) {
                let msg = format!("run.temperatures: {t} is outside 0–5");
                return Err(self.err_at(text, "temperatures", msg));
            }
        }
        if self.run.samples == Some(0) {
            return Err(self.err_at(text, "samples", "run.samples: must be at least 1".into()));
        }
        if let Some(h) = &self.devices.headroom {
            if let Err(e) = crate::plan::placement::Headroom::parse(h) {
                return Err(self.err_at(text, "headroom", format!("devices.{e}")));
            }
        }
        if let Some(model) = &self.judge.model {
            if let Err(e) = self.resolve_judge(model) {
                return Err(self.err_at(text, "[judge]", format!("judge.model: {e}")));
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

    /// Settings for eval `name` (the longest matching key wins).
    pub fn eval_settings(&self, name: &str) -> Option<&EvalSettings> {
        self.evals
            .iter()
            .filter(|(k, _)| name == k.as_str() || name.starts_with(&format!("{k}::")))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, v)| v)
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
    fn model_without_source_is_an_error_with_its_line() {
        let err = parse("[run]\nsamples = 1\n\n[models.x]\nbackend = \"llama\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 4"), "{msg}");
        assert!(msg.contains("source"), "{msg}");
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
        // An unknown judge names the line of [judge].
        let err = parse("[run]\nsamples = 1\n\n[judge]\nmodel = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 4") && err.contains("judge.model") && err.contains("nope"),
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
