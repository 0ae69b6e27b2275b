//! How a model is named on the command line and in `litmus.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::base::backend::{BackendError, Prompt, SharedBackend};

/// Which backend serves a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// llama.cpp in-process (GGUF files).
    #[default]
    Llama,
    /// An OpenAI-compatible server (llama-server, vLLM, ...).
    Openai,
    /// An Ollama server.
    Ollama,
    /// Answers from an earlier run's results.
    Replay,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Llama => "llama",
            BackendKind::Openai => "openai",
            BackendKind::Ollama => "ollama",
            BackendKind::Replay => "replay",
        })
    }
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "llama" | "llama.cpp" | "gguf" => Ok(BackendKind::Llama),
            "openai" => Ok(BackendKind::Openai),
            "ollama" => Ok(BackendKind::Ollama),
            "replay" => Ok(BackendKind::Replay),
            other => Err(format!(
                "unknown backend `{other}` (expected llama, openai, ollama or replay)"
            )),
        }
    }
}

/// Everything needed to open one model on one backend.
///
/// In `litmus.toml` a model is a table under `[models.NAME]`; on the command
/// line `--model` takes either such a name or a spec string (see
/// [`ModelSpec::parse`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSpec {
    /// Display name (the key in `litmus.toml`, or derived from the spec string).
    pub name: String,
    /// Which backend serves it.
    pub backend: BackendKind,
    /// llama: a GGUF path or `builtin:NAME`; openai/ollama: the base URL;
    /// replay: a run directory or run id.
    pub source: String,
    /// Server-side model name (OpenAI `model`, Ollama tag).
    pub model: Option<String>,
    /// Quantization label, when the backend cannot tell.
    pub quantization: Option<String>,
    /// Context window in tokens.
    pub context: Option<u32>,
    /// CPU threads (llama).
    pub threads: Option<u32>,
    /// Most sequences decoded together / requests in flight.
    pub parallel: Option<u32>,
    /// Layers offloaded to the GPU (llama, feature `cuda`).
    pub gpu_layers: Option<u32>,
    /// GPU device index (llama, feature `cuda`).
    pub device: Option<u32>,
    /// Split the layers over the GPUs in these proportions, one number per
    /// GPU (llama, feature `cuda`; as llama.cpp's `--tensor-split`; see
    /// [`crate::plan::placement`]). Empty: the planner decides.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<f64>,
    /// The logical CPUs (as Linux numbers them) the engine's threads are
    /// pinned to (llama). Empty: wherever the OS schedules them; the
    /// planner fills it in when configurations share the CPU.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u32>,
    /// Name of the environment variable holding an API key (never the key itself).
    pub api_key_env: Option<String>,
    /// More endpoints serving the same model (an endpoint pool).
    pub endpoints: Vec<String>,
    /// Per-request timeout in seconds (HTTP backends).
    pub timeout_secs: Option<u64>,
    /// Use `/v1/completions` or `/api/generate` even for chat prompts.
    pub raw_completion: Option<bool>,
    /// Backend-specific options not covered above. In `litmus.toml` a value
    /// may be a string, a boolean or a number (`amx = true`, `n_batch =
    /// 1024`); backends read each as its string form (`"true"`, `"1024"`).
    #[serde(deserialize_with = "option_values")]
    pub options: BTreeMap<String, String>,
    /// Several quantizations of this model: label → GGUF path (llama), tag
    /// (Ollama) or server-side name (OpenAI). Each becomes its own
    /// configuration; see [`ModelSpec::expand`].
    pub quantizations: BTreeMap<String, String>,
    /// What the run will ask of this model, when the runner knows it ahead;
    /// filled in by the runner (never read from `litmus.toml`) so that an
    /// in-process backend can size its batch and KV cache to the work. A
    /// hint: a backend must still serve any request it gets.
    #[serde(skip)]
    pub workload: Option<Workload>,
}

/// The largest `context` a model may ask for, in tokens (16 Mi): beyond any
/// model's, and far enough from `u32::MAX` that sizes derived from it
/// (rounded to whole 256-cell blocks, times the sequences) cannot overflow.
pub const MAX_CONTEXT: u32 = 1 << 24;

/// The most CPU threads a model may ask for: llama.cpp's
/// `GGML_MAX_N_THREADS` (more abort the engine).
pub const MAX_THREADS: u32 = 512;

/// The longest per-request timeout (`timeout_secs`) of an HTTP backend: a
/// week, so that deadlines computed from it cannot overflow.
pub const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;

/// `options` values: strings, and booleans and numbers as their string
/// forms (see [`ModelSpec::options`]).
fn option_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    struct OptionValue(String);
    impl<'de> Deserialize<'de> for OptionValue {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl serde::de::Visitor<'_> for Visitor {
                type Value = OptionValue;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string, a boolean or a number")
                }
                fn visit_str<E>(self, v: &str) -> Result<OptionValue, E> {
                    Ok(OptionValue(v.to_string()))
                }
                fn visit_bool<E>(self, v: bool) -> Result<OptionValue, E> {
                    Ok(OptionValue(v.to_string()))
                }
                fn visit_i64<E>(self, v: i64) -> Result<OptionValue, E> {
                    Ok(OptionValue(v.to_string()))
                }
                fn visit_u64<E>(self, v: u64) -> Result<OptionValue, E> {
                    Ok(OptionValue(v.to_string()))
                }
                fn visit_f64<E>(self, v: f64) -> Result<OptionValue, E> {
                    Ok(OptionValue(v.to_string()))
                }
            }
            d.deserialize_any(Visitor)
        }
    }
    let map = BTreeMap::<String, OptionValue>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// The `options` keys a backend understands ([`ModelSpec::options`]), as
/// the crate implementing it registers them (`inventory::submit!`), so that
/// a misspelled key in `litmus.toml` is found before anything runs
/// ([`known_option_keys`]). The core does not depend on the backends.
pub struct OptionKeys {
    /// The backends these keys are for.
    pub backends: &'static [BackendKind],
    /// The keys.
    pub keys: &'static [&'static str],
}

inventory::collect!(OptionKeys);

/// The `options` keys `backend` understands, when the crate implementing it
/// is linked into this program and has registered them ([`OptionKeys`]);
/// `None` otherwise (its options are checked when a model opens).
pub fn known_option_keys(backend: BackendKind) -> Option<Vec<&'static str>> {
    let mut known = None::<Vec<&'static str>>;
    for o in inventory::iter::<OptionKeys> {
        if o.backends.contains(&backend) {
            known.get_or_insert_with(Vec::new).extend(o.keys);
        }
    }
    known
}

/// Opens a backend for a model spec: what the harness and the runner are
/// given (`litmus::open_backend` opens the backends compiled in).
pub type BackendOpener<'a> = &'a (dyn Fn(&ModelSpec) -> Result<SharedBackend, BackendError> + Sync);

/// The work a run will give one model (see [`ModelSpec::workload`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Workload {
    /// Samples to generate, over every prompt.
    pub samples: usize,
    /// Every request, when all are known ahead; `None` when some are not
    /// (an eval that calls the model itself, a judge).
    pub requests: Option<KnownRequests>,
}

/// The requests of a run, known before it starts (see [`Workload`]).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KnownRequests {
    /// Each distinct prompt.
    pub prompts: Vec<Prompt>,
    /// The most new tokens a request asks for.
    pub max_tokens: u32,
}

impl ModelSpec {
    /// Checks the values no backend can use: a `context` above
    /// [`MAX_CONTEXT`], `threads` above [`MAX_THREADS`], a `timeout_secs`
    /// of 0 or above [`MAX_TIMEOUT_SECS`], a `split` proportion that is not
    /// a finite number ≥ 0. The error names the key (`Err((key, message))`).
    pub fn check_values(&self) -> Result<(), (&'static str, String)> {
        if let Some(c) = self.context.filter(|c| *c > MAX_CONTEXT) {
            return Err((
                "context",
                format!("context = {c} is more than the {MAX_CONTEXT} tokens litmus accepts"),
            ));
        }
        if let Some(t) = self.threads.filter(|t| *t > MAX_THREADS) {
            return Err((
                "threads",
                format!("threads = {t} is more than the {MAX_THREADS} llama.cpp can use"),
            ));
        }
        match self.timeout_secs {
            Some(0) => return Err(("timeout_secs", "timeout_secs must be at least 1".into())),
            Some(t) if t > MAX_TIMEOUT_SECS => {
                return Err((
                    "timeout_secs",
                    format!("timeout_secs = {t} is more than a week ({MAX_TIMEOUT_SECS})"),
                ))
            }
            _ => {}
        }
        if let Some(x) = self.split.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
            return Err(("split", format!("split: {x} is not a proportion ≥ 0")));
        }
        if matches!(self.backend, BackendKind::Openai | BackendKind::Ollama) {
            // A server's models are reached by URL: a model file or a
            // built-in name would only fail as an invalid URL at load.
            let s = self.source.trim();
            if s.starts_with("builtin:") || s.ends_with(".gguf") {
                return Err((
                    "source",
                    format!(
                        "the {} backend takes a server's URL (such as http://127.0.0.1:8080/v1), not a model file: `{s}` runs in-process with backend = \"llama\"",
                        self.backend
                    ),
                ));
            }
            if self.backend == BackendKind::Ollama
                && self.model.as_deref().is_none_or(|m| m.trim().is_empty())
            {
                return Err((
                    "model",
                    "the ollama backend needs the model's name: `model = \"qwen2.5:0.5b\"` (or `ollama:URL#qwen2.5:0.5b`)".into(),
                ));
            }
        }
        Ok(())
    }

    /// A key of this model's table (as written in `litmus.toml`) that its
    /// backend does not read, with why: the in-process engine's `threads`,
    /// `gpu_layers`, `device`, `split` or `cpus` on a server's model (the
    /// server places its own layers), or a server's `model`, `api_key_env`,
    /// `endpoints`, `timeout_secs` or `raw_completion` on a model file. Such
    /// a key would do nothing; most likely the backend is not the one meant.
    ///
    /// ```
    /// # use litmus_core::base::model::{BackendKind, ModelSpec};
    /// let spec = ModelSpec {
    ///     backend: BackendKind::Openai,
    ///     source: "http://127.0.0.1:8080/v1".into(),
    ///     gpu_layers: Some(99),
    ///     ..Default::default()
    /// };
    /// assert_eq!(spec.unused_key().map(|(key, _)| key), Some("gpu_layers"));
    /// ```
    pub fn unused_key(&self) -> Option<(&'static str, String)> {
        let engine = [
            ("threads", self.threads.is_some()),
            ("gpu_layers", self.gpu_layers.is_some()),
            ("device", self.device.is_some()),
            ("split", !self.split.is_empty()),
            ("cpus", !self.cpus.is_empty()),
        ];
        let server = [
            ("model", self.model.is_some()),
            ("api_key_env", self.api_key_env.is_some()),
            ("endpoints", !self.endpoints.is_empty()),
            ("timeout_secs", self.timeout_secs.is_some()),
            ("raw_completion", self.raw_completion.is_some()),
        ];
        let first_set = |keys: &[(&'static str, bool)]| keys.iter().find(|k| k.1).map(|k| k.0);
        match self.backend {
            BackendKind::Llama => first_set(&server).map(|key| {
                (
                    key,
                    "only the HTTP backends (openai, ollama) read it, and this model runs in-process (backend = \"llama\")".to_string(),
                )
            }),
            BackendKind::Openai | BackendKind::Ollama => first_set(&engine).map(|key| {
                (
                    key,
                    format!(
                        "the {} backend sends requests to a server, which places and runs the model itself (set it on the server); only the in-process engine (backend = \"llama\") reads it",
                        self.backend
                    ),
                )
            }),
            BackendKind::Replay => None,
        }
    }

    /// One spec per quantization (or `self` alone when it lists none).
    pub fn expand(&self) -> Vec<ModelSpec> {
        if self.quantizations.is_empty() {
            return vec![self.clone()];
        }
        self.quantizations
            .iter()
            .map(|(label, target)| {
                let mut spec = self.clone();
                spec.quantizations.clear();
                spec.quantization = Some(label.clone());
                match self.backend {
                    BackendKind::Llama | BackendKind::Replay => spec.source = target.clone(),
                    BackendKind::Openai | BackendKind::Ollama => spec.model = Some(target.clone()),
                }
                spec
            })
            .collect()
    }

    /// Parse a `--model` spec string:
    ///
    /// - `builtin:gemma3-270m-q4_k_m` or `path/to/model.gguf`: llama.cpp in-process;
    /// - `openai:http://127.0.0.1:8080/v1` (optionally `#model-name`);
    /// - `ollama:http://127.0.0.1:11434#qwen2.5:0.5b`;
    /// - `replay:RUN` (a run directory or run id).
    ///
    /// Returns `None` for a bare word that is none of these (a name to look up
    /// in `litmus.toml`).
    ///
    /// ```
    /// use litmus_core::base::model::{BackendKind, ModelSpec};
    /// let spec = ModelSpec::parse("openai:http://127.0.0.1:8080/v1#gemma").unwrap();
    /// assert_eq!(spec.backend, BackendKind::Openai);
    /// assert_eq!(spec.source, "http://127.0.0.1:8080/v1");
    /// assert_eq!(spec.model.as_deref(), Some("gemma"));
    /// ```
    pub fn parse(s: &str) -> Option<ModelSpec> {
        let (kind, rest) = if let Some(rest) = s.strip_prefix("openai:") {
            (BackendKind::Openai, rest)
        } else if let Some(rest) = s.strip_prefix("ollama:") {
            (BackendKind::Ollama, rest)
        } else if let Some(rest) = s.strip_prefix("replay:") {
            (BackendKind::Replay, rest)
        } else if s.starts_with("builtin:") || s.ends_with(".gguf") || s.contains('/') {
            (BackendKind::Llama, s)
        } else {
            return None;
        };
        let (source, model) = match kind {
            BackendKind::Openai | BackendKind::Ollama | BackendKind::Replay => {
                match rest.split_once('#') {
                    Some((url, model)) => (url.to_string(), Some(model.to_string())),
                    None => (rest.to_string(), None),
                }
            }
            _ => (rest.to_string(), None),
        };
        let name = match (&model, kind) {
            (Some(m), _) => m.clone(),
            (None, BackendKind::Llama) => source
                .strip_prefix("builtin:")
                .map(str::to_string)
                .unwrap_or_else(|| {
                    std::path::Path::new(&source)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| source.clone())
                }),
            (None, _) => format!("{kind}:{source}"),
        };
        Some(ModelSpec {
            name,
            backend: kind,
            source,
            model,
            ..ModelSpec::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_take_strings_booleans_and_numbers() {
        let spec: ModelSpec = toml::from_str(
            "source = \"m.gguf\"\noptions = { tiled_mm = false, amx = true, n_batch = 1024, max_retry_after_secs = 1.5, isolation = \"thread\" }\n",
        )
        .unwrap();
        let o = |k: &str| spec.options[k].as_str();
        assert_eq!(
            (
                o("tiled_mm"),
                o("amx"),
                o("n_batch"),
                o("max_retry_after_secs"),
                o("isolation")
            ),
            ("false", "true", "1024", "1.5", "thread")
        );
        let err = toml::from_str::<ModelSpec>("options = { x = [1] }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a string, a boolean or a number"), "{err}");
        // Written back as strings, read back the same.
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec);
    }

    #[test]
    fn absurd_values_are_named() {
        let ok = ModelSpec {
            context: Some(MAX_CONTEXT),
            threads: Some(MAX_THREADS),
            timeout_secs: Some(MAX_TIMEOUT_SECS),
            split: vec![1.0, 0.0],
            ..ModelSpec::default()
        };
        assert_eq!(ok.check_values(), Ok(()));
        let key = |spec: ModelSpec| spec.check_values().unwrap_err().0;
        assert_eq!(
            key(ModelSpec {
                context: Some(u32::MAX),
                ..ok.clone()
            }),
            "context"
        );
        assert_eq!(
            key(ModelSpec {
                threads: Some(100_000),
                ..ok.clone()
            }),
            "threads"
        );
        assert_eq!(
            key(ModelSpec {
                timeout_secs: Some(i64::MAX as u64),
                ..ok.clone()
            }),
            "timeout_secs"
        );
        assert_eq!(
            key(ModelSpec {
                timeout_secs: Some(0),
                ..ok.clone()
            }),
            "timeout_secs"
        );
        assert_eq!(
            key(ModelSpec {
                split: vec![f64::NAN],
                ..ok
            }),
            "split"
        );
    }
}
