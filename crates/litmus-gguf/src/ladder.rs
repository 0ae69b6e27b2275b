//! Quantization ladders without llama.cpp: type names, the default ladder,
//! where each rung goes, and the [`QuantizeJob`] that `cargo eval quantize`
//! hands to an eval target (which links llama.cpp and runs it with
//! `litmus_llama::quantize::run_job`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::gguf::file_type_name;

/// The ladder `cargo eval quantize` builds by default, smallest first.
pub const DEFAULT_LADDER: &[&str] = &["Q2_K", "Q3_K_M", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"];

/// The hidden first argument that makes an eval target (the `main` that
/// `litmus::main!` defines) run a [`QuantizeJob`], given as JSON in the
/// second argument, instead of evals.
pub const QUANTIZE_FLAG: &str = "--litmus-quantize";

/// The `llama_ftype` of a type name such as `Q4_K_M` (case-insensitive).
pub fn ftype_of(name: &str) -> Option<u32> {
    (0u64..64)
        .find(|&code| file_type_name(code).is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .map(|code| code as u32)
        .filter(|&code| code != 4) // Q4_1_SOME_F16 is not producible.
}

/// Every type name llama.cpp can quantize to.
pub fn known_types() -> Vec<&'static str> {
    (0u64..64)
        .filter(|&c| c != 4)
        .filter_map(file_type_name)
        .collect()
}

/// Where the `ty` rung of a ladder built from `src` goes: next to the source
/// (or in `out_dir`), named after the source with its quantization suffix
/// replaced, e.g. `gemma-3-270m-q4_k_m.gguf` → `gemma-3-270m-q2_k.gguf`.
pub fn ladder_path(src: &Path, ty: &str, out_dir: Option<&Path>) -> PathBuf {
    let stem = src
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".to_string());
    let lower = stem.to_ascii_lowercase();
    let base = known_types()
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .filter(|t| {
            lower.ends_with(t.as_str()) && {
                let cut = lower.len() - t.len();
                cut > 0 && matches!(lower.as_bytes()[cut - 1], b'-' | b'_' | b'.')
            }
        })
        .max_by_key(|t| t.len())
        .map(|t| stem[..stem.len() - t.len() - 1].to_string())
        .unwrap_or(stem);
    let dir = out_dir
        .map(Path::to_path_buf)
        .or_else(|| src.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    dir.join(format!("{base}-{}.gguf", ty.to_ascii_lowercase()))
}

/// What `cargo eval quantize` asks for: the ladder of `types` built from
/// `source`. Paths are absolute (the eval target may run elsewhere).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QuantizeJob {
    /// A GGUF path or `builtin:NAME`.
    pub source: String,
    /// Quantization types, in order.
    pub types: Vec<String>,
    /// Where the rungs go (default: next to the source).
    pub out_dir: Option<PathBuf>,
    /// Threads (default: physical cores).
    pub threads: Option<usize>,
    /// The model's name in the printed `litmus.toml` entry.
    pub name: String,
}

impl QuantizeJob {
    /// The arguments that run this job in an eval target.
    pub fn to_args(&self) -> [String; 2] {
        [
            QUANTIZE_FLAG.to_string(),
            serde_json::to_string(self).expect("a job serializes"),
        ]
    }

    /// The job in a process's arguments (without the program name), if they
    /// ask for one: `Some(Err(..))` when the JSON is bad.
    pub fn from_args(args: &[String]) -> Option<Result<QuantizeJob, String>> {
        match args {
            [flag, json, ..] if flag == QUANTIZE_FLAG => {
                Some(serde_json::from_str(json).map_err(|e| format!("{QUANTIZE_FLAG}: {e}")))
            }
            [flag] if flag == QUANTIZE_FLAG => Some(Err(format!("{QUANTIZE_FLAG} needs a job"))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(ftype_of("Q4_K_M"), Some(15));
        assert_eq!(ftype_of("q8_0"), Some(7));
        assert_eq!(ftype_of("Q4_1_SOME_F16"), None);
        assert_eq!(ftype_of("Q9_Z"), None);
        for t in DEFAULT_LADDER {
            assert!(ftype_of(t).is_some(), "{t}");
        }
    }

    #[test]
    fn ladder_names() {
        let p = |s: &str, t: &str| ladder_path(Path::new(s), t, None);
        assert_eq!(
            p("/m/gemma-3-270m-q4_k_m.gguf", "Q2_K"),
            PathBuf::from("/m/gemma-3-270m-q2_k.gguf")
        );
        assert_eq!(
            p("/m/Model-F16.gguf", "Q8_0"),
            PathBuf::from("/m/Model-q8_0.gguf")
        );
        assert_eq!(
            p("/m/plain.gguf", "Q4_0"),
            PathBuf::from("/m/plain-q4_0.gguf")
        );
        // `q4_k_m` wins over its suffix `k_m`-like shorter matches.
        assert_eq!(
            ladder_path(Path::new("a/x.q4_k_s.gguf"), "Q6_K", Some(Path::new("/o"))),
            PathBuf::from("/o/x-q6_k.gguf")
        );
    }

    #[test]
    fn jobs_travel_as_arguments() {
        let job = QuantizeJob {
            source: "/m/a b.gguf".into(),
            types: vec!["Q2_K".into(), "Q8_0".into()],
            out_dir: Some("/o".into()),
            threads: Some(2),
            name: "gemma".into(),
        };
        let args = job.to_args().to_vec();
        assert_eq!(QuantizeJob::from_args(&args), Some(Ok(job)));
        assert_eq!(QuantizeJob::from_args(&["--list".to_string()]), None);
        assert_eq!(QuantizeJob::from_args(&[]), None);
        let bad = [QUANTIZE_FLAG.to_string(), "{".to_string()];
        assert!(QuantizeJob::from_args(&bad).unwrap().is_err());
    }
}
