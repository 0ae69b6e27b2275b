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

use crate::gguf::GgufFile;
pub use litmus_gguf::ladder::{
    ftype_of, known_types, ladder_path, QuantizeJob, DEFAULT_LADDER, QUANTIZE_FLAG,
};

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

/// One quantization at a time: the log observer is process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The progress in a llama.cpp quantization log line: `[  12/ 236] tensor ...`
/// → `(12, 236)` (llama.cpp reports progress only as log lines).
fn progress_of(text: &str) -> Option<(usize, usize)> {
    let rest = text.trim_start().strip_prefix('[')?;
    let (counts, _) = rest.split_once(']')?;
    let (done, total) = counts.split_once('/')?;
    Some((done.trim().parse().ok()?, total.trim().parse().ok()?))
}

/// A log observer that calls `progress(done, total)` on progress lines.
fn progress_observer(
    mut progress: impl FnMut(usize, usize) + Send + 'static,
) -> crate::runtime::LogObserver {
    Box::new(move |text: &str| {
        if let Some((done, total)) = text.starts_with('[').then(|| progress_of(text)).flatten() {
            progress(done, total);
        }
    })
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
    crate::runtime::set_log_observer(Some(progress_observer(progress)));
    crate::runtime::take_llama_errors();
    // SAFETY: both paths are NUL-terminated and outlive the call; params is valid.
    let rc =
        unsafe { llama_cpp_sys_2::llama_model_quantize(c_src.as_ptr(), c_tmp.as_ptr(), &params) };
    crate::runtime::set_log_observer(None);
    if rc != 0 {
        // llama.cpp reports a full disk as "basic_ios::clear: iostream error".
        let written = std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
        let full = disk_full_note(&tmp, written);
        let _ = std::fs::remove_file(&tmp);
        let errors = crate::runtime::take_llama_errors();
        return Err(QuantizeError::Failed {
            src: src.to_path_buf(),
            ty: ty.to_string(),
            detail: if errors.is_empty() {
                format!(" (llama_model_quantize returned {rc}){full}")
            } else {
                format!(": {errors}{full}")
            },
        });
    }
    std::fs::rename(&tmp, dst).map_err(|source| QuantizeError::Io {
        path: dst.to_path_buf(),
        source,
    })
}

/// " (the disk is full: …)" when the filesystem of the failed output `part`
/// has less than 64 MiB free after `written` bytes of it, else "".
fn disk_full_note(part: &Path, written: u64) -> String {
    let dir = part
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match crate::sys::free_bytes(dir) {
        Some(free) => full_note(dir, free, written),
        None => String::new(),
    }
}

fn full_note(dir: &Path, free: u64, written: u64) -> String {
    const MIB: u64 = 1 << 20;
    if free >= 64 * MIB {
        return String::new();
    }
    format!(
        " (the disk is full: {} MiB free on the filesystem of {} after writing {} MiB of the output)",
        free / MIB,
        dir.display(),
        written / MIB
    )
}

/// Runs a [`QuantizeJob`] as `cargo eval quantize` shows it: the source
/// described (with a warning when it is already quantized), each rung built
/// with a progress bar on stderr (rungs that exist are skipped), then the
/// `litmus.toml` entry for the ladder on stdout. Returns the exit code: 0, 1
/// when a rung failed, 2 when the job cannot start (unknown type, no source).
pub fn run_job(job: &QuantizeJob) -> i32 {
    use litmus_core::base::exit;
    // Check every type before spending minutes on the first.
    if let Some(bad) = job.types.iter().find(|t| ftype_of(t).is_none()) {
        eprintln!("error: {}", QuantizeError::UnknownType(bad.clone()));
        return exit::USAGE;
    }
    let info = crate::resolve_model_path(&job.source)
        .map_err(|e| e.to_string())
        .and_then(|src| {
            crate::describe_gguf(&src)
                .map(|info| (src, info))
                .map_err(|e| e.to_string())
        });
    let (src, info) = match info {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let src_type = info.quantization.clone().unwrap_or_else(|| "?".into());
    eprintln!(
        "source: {} ({src_type}, {:.0} MiB, {} parameters)",
        src.display(),
        info.size_bytes as f64 / 1048576.0,
        info.parameters
            .map(crate::gguf::format_parameters)
            .unwrap_or_else(|| "?".into())
    );
    if !matches!(src_type.as_str(), "F32" | "F16" | "BF16") {
        eprintln!(
            "warning: the source is already quantized ({src_type}); requantizing only loses quality,\n\
             so this ladder measures requantization loss on top of {src_type}. Quantize from an\n\
             F16/BF16 GGUF for the quality each type really has."
        );
    }
    if let Some(dir) = &job.out_dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: {}: {e}", dir.display());
            return exit::USAGE;
        }
    }
    let options = QuantizeOptions {
        threads: job.threads,
    };
    let mut entries = vec![(src_type.clone(), src.clone())];
    let mut failed = 0;
    // A type named twice (`q8_0,Q8_0`) is one rung.
    let mut seen = std::collections::HashSet::new();
    for ty in job
        .types
        .iter()
        .filter(|t| seen.insert(t.to_ascii_uppercase()))
    {
        let dst = ladder_path(&src, ty, job.out_dir.as_deref());
        if ty.eq_ignore_ascii_case(&src_type) {
            eprintln!("{ty:<8} skipped: that is the source");
            continue;
        }
        if dst.exists() {
            eprintln!("{ty:<8} exists: {}", dst.display());
            entries.push((ty.to_ascii_uppercase(), dst));
            continue;
        }
        let bar = indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:<8} [{bar:30}] {pos}/{len} tensors {elapsed}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(ty.clone());
        let b = bar.clone();
        let t = std::time::Instant::now();
        let result = quantize(&src, &dst, ty, &options, move |d, n| {
            b.set_length(n as u64);
            b.set_position(d as u64);
        });
        bar.finish_and_clear();
        match result {
            Ok(()) => {
                let size = std::fs::metadata(&dst).map(|m| m.len()).unwrap_or(0);
                let bpw = info
                    .parameters
                    .map(|p| format!("{:.2} bits/weight", size as f64 * 8.0 / p as f64))
                    .unwrap_or_default();
                eprintln!(
                    "{ty:<8} {:>5.0} MiB  {bpw}  {:.1} s  {}",
                    size as f64 / 1048576.0,
                    t.elapsed().as_secs_f64(),
                    dst.display()
                );
                entries.push((ty.to_ascii_uppercase(), dst));
            }
            Err(e) => {
                eprintln!("{ty:<8} failed: {e}");
                failed += 1;
            }
        }
    }
    print!("{}", toml_entry(&job.name, &src, &entries));
    if failed > 0 {
        exit::ERRORED
    } else {
        exit::OK
    }
}

/// The `litmus.toml` entry that evaluates every rung: `[models.NAME]` with
/// the source and one quantization per rung (names and paths quoted as TOML
/// needs them).
fn toml_entry(name: &str, src: &Path, rungs: &[(String, PathBuf)]) -> String {
    // A JSON string is a TOML basic string.
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let key = |s: &str| {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            s.to_string()
        } else {
            quoted(s)
        }
    };
    let mut out =
        String::from("# litmus.toml: evaluate every rung (one configuration per quantization)\n");
    out.push_str(&format!("[models.{}]\n", key(name)));
    out.push_str("backend = \"llama\"\n");
    out.push_str(&format!(
        "source = {}\n",
        quoted(&src.display().to_string())
    ));
    out.push_str(&format!("[models.{}.quantizations]\n", key(name)));
    for (ty, path) in rungs {
        out.push_str(&format!(
            "{} = {}\n",
            key(ty),
            quoted(&path.display().to_string())
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_entry_is_one_litmus_toml_reads() {
        let entry = toml_entry(
            "my model",
            Path::new("/m/src \"x\".gguf"),
            &[
                ("F16".into(), "/m/src \"x\".gguf".into()),
                ("Q8_0".into(), "/m/q8.gguf".into()),
            ],
        );
        let c = litmus_core::plan::config::Config::parse(&entry, Path::new("/m/litmus.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{entry}"));
        let m = &c.models["my model"];
        assert_eq!(m.source, "/m/src \"x\".gguf");
        assert_eq!(m.quantizations["Q8_0"], "/m/q8.gguf");
        assert_eq!(m.expand().len(), 2);
    }

    #[test]
    fn a_full_disk_is_named() {
        let dir = Path::new("/data/rungs");
        let note = full_note(dir, 3 << 20, 140 << 20);
        assert_eq!(
            note,
            " (the disk is full: 3 MiB free on the filesystem of /data/rungs after writing 140 MiB of the output)"
        );
        assert_eq!(full_note(dir, 65 << 20, 0), "");
        // This machine's temp dir has room, and a missing dir says nothing.
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(disk_full_note(&tmp.path().join("x.gguf.part"), 0), "");
        assert_eq!(disk_full_note(Path::new("/no/such/dir/x.gguf.part"), 0), "");
    }

    #[test]
    fn progress_lines() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let s = std::sync::Arc::clone(&seen);
        let _one = ONE_AT_A_TIME.lock().unwrap();
        crate::runtime::set_log_observer(Some(progress_observer(move |d, t| {
            s.lock().unwrap().push((d, t))
        })));
        crate::runtime::notify_log_observer(
            "[  12/ 236]                token_embd.weight - [  640, 262144], type = q6_K, ",
        );
        crate::runtime::notify_log_observer("converting to q2_K .. size = 1.00 MiB");
        crate::runtime::notify_log_observer("[x/y] nothing");
        crate::runtime::set_log_observer(None);
        assert_eq!(*seen.lock().unwrap(), vec![(12, 236)]);
    }
}
