//! Quantization ladders through llama.cpp's own quantization API
//! (`llama_model_quantize`, the code behind `llama-quantize`).
//!
//! ```no_run
//! use litmus_llama::quantize::{quantize, ladder_path, QuantizeOptions};
//! let src = std::path::Path::new("models/gemma-3-270m-f16.gguf");
//! let dst = ladder_path(src, "Q4_K_M", None);
//! quantize(src, &dst, "Q4_K_M", &QuantizeOptions::default(), |done, total| {
//!     eprint!("\r{done}/{total} tensors");
//! })
//! .unwrap();
//! ```

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::gguf::{file_type_name, GgufFile};

/// The ladder `cargo eval quantize` builds by default, smallest first.
pub const DEFAULT_LADDER: &[&str] = &["Q2_K", "Q3_K_M", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"];

/// How to quantize.
#[derive(Clone, Debug, Default)]
pub struct QuantizeOptions {
    /// Threads (default: the machine's physical cores).
    pub threads: Option<usize>,
}

/// Why a quantization failed.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    /// The type name is not one llama.cpp can produce.
    #[error("unknown quantization type `{0}` (known: {known})", known = known_types().join(", "))]
    UnknownType(String),
    /// The source is not a readable, valid GGUF file.
    #[error(transparent)]
    Source(#[from] crate::gguf::GgufError),
    /// llama.cpp reported a failure.
    #[error("quantizing {src} to {ty} failed{detail}")]
    Failed {
        /// Source file.
        src: PathBuf,
        /// Target type.
        ty: String,
        /// What llama.cpp logged.
        detail: String,
    },
    /// Writing the output failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

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

type Progress = Box<dyn FnMut(usize, usize) + Send>;

/// The progress callback of the quantization in flight (llama.cpp reports
/// progress only as log lines `[  12/ 236] tensor ...`).
static PROGRESS: Mutex<Option<Progress>> = Mutex::new(None);
/// One quantization at a time: the progress hook is process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Called by the llama.cpp log hook with each log line.
pub(crate) fn observe_log(text: &str) {
    let Some(rest) = text.trim_start().strip_prefix('[') else {
        return;
    };
    let Some((counts, _)) = rest.split_once(']') else {
        return;
    };
    let Some((done, total)) = counts.split_once('/') else {
        return;
    };
    let (Ok(done), Ok(total)) = (done.trim().parse(), total.trim().parse()) else {
        return;
    };
    if let Ok(mut p) = PROGRESS.try_lock() {
        if let Some(f) = p.as_mut() {
            f(done, total);
        }
    }
}

/// Quantizes `src` to `ty`, writing `dst` (atomically: a temporary file next
/// to it is renamed on success, so an interrupted run leaves no partial
/// model). A quantized source is requantized (which only loses quality; the
/// caller should say so). `progress(done, total)` is called per tensor.
pub fn quantize(
    src: &Path,
    dst: &Path,
    ty: &str,
    options: &QuantizeOptions,
    progress: impl FnMut(usize, usize) + Send + 'static,
) -> Result<(), QuantizeError> {
    let ftype = ftype_of(ty).ok_or_else(|| QuantizeError::UnknownType(ty.to_string()))?;
    // Validate before llama.cpp sees the file (a corrupt file would abort).
    GgufFile::open(src)?;
    crate::runtime::llama().map_err(|e| QuantizeError::Failed {
        src: src.to_path_buf(),
        ty: ty.to_string(),
        detail: format!(": {e}"),
    })?;
    let tmp = dst.with_extension("gguf.part");
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| QuantizeError::Io {
            path: p.to_path_buf(),
            source: std::io::Error::other("path contains a NUL byte"),
        })
    };
    let (c_src, c_tmp) = (c(src)?, c(&tmp)?);
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: returns a plain struct of defaults.
    let mut params = unsafe { llama_cpp_sys_2::llama_model_quantize_default_params() };
    params.ftype = ftype as _;
    params.nthread = options.threads.unwrap_or_else(crate::sys::physical_cores) as i32;
    params.allow_requantize = true;
    *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(progress));
    crate::runtime::take_llama_errors();
    // SAFETY: both paths are NUL-terminated and outlive the call; params is valid.
    let rc =
        unsafe { llama_cpp_sys_2::llama_model_quantize(c_src.as_ptr(), c_tmp.as_ptr(), &params) };
    *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = None;
    if rc != 0 {
        let _ = std::fs::remove_file(&tmp);
        let errors = crate::runtime::take_llama_errors();
        return Err(QuantizeError::Failed {
            src: src.to_path_buf(),
            ty: ty.to_string(),
            detail: if errors.is_empty() {
                format!(" (llama_model_quantize returned {rc})")
            } else {
                format!(": {errors}")
            },
        });
    }
    std::fs::rename(&tmp, dst).map_err(|source| QuantizeError::Io {
        path: dst.to_path_buf(),
        source,
    })
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
    fn progress_lines() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let s = std::sync::Arc::clone(&seen);
        let _one = ONE_AT_A_TIME.lock().unwrap();
        *PROGRESS.lock().unwrap() = Some(Box::new(move |d, t| s.lock().unwrap().push((d, t))));
        observe_log(
            "[  12/ 236]                token_embd.weight - [  640, 262144], type = q6_K, ",
        );
        observe_log("converting to q2_K .. size = 1.00 MiB");
        observe_log("[x/y] nothing");
        *PROGRESS.lock().unwrap() = None;
        assert_eq!(*seen.lock().unwrap(), vec![(12, 236)]);
    }
}
