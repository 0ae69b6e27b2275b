//! Discovery of the host interpreters and compilers (trusted host commands,
//! run once per process and cached).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use wait_timeout::ChildExt;

use crate::util::which;

/// An interpreter or compiler usable inside the sandbox.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    /// Absolute, canonical path of the real binary (not a shim).
    pub program: PathBuf,
    /// Host directories to bind read-only so the tool works inside.
    pub ro_binds: Vec<PathBuf>,
    /// Extra paths (Python: site-packages directories).
    pub extra_paths: Vec<String>,
}

/// Run a trusted host command with a timeout and return its stdout.
fn host_output(program: &Path, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    // Output is tiny; read after exit.
    let status = match child.wait_timeout(Duration::from_secs(30)) {
        Ok(Some(s)) => s,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{} did not answer in time", program.display()));
        }
    };
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        use std::io::Read;
        let _ = o.read_to_string(&mut out);
    }
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        return Err(format!(
            "{} {:?} failed: {}",
            program.display(),
            args,
            err.trim()
        ));
    }
    Ok(out)
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A prefix to bind for a binary at `<prefix>/bin/<name>` outside `/usr`.
fn prefix_of(bin: &Path) -> Option<PathBuf> {
    if bin.starts_with("/usr") {
        return None;
    }
    let dir = bin.parent()?;
    if dir.file_name().map(|n| n == "bin").unwrap_or(false) {
        dir.parent().map(Path::to_path_buf)
    } else {
        Some(dir.to_path_buf())
    }
}

fn env_or_which(var: &str, name: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => which(name),
    }
}

const PY_PROBE: &str = "import sys, sysconfig, json; p = sysconfig.get_paths(); \
print(json.dumps({'exe': sys.executable, 'prefix': sys.prefix, 'base': sys.base_prefix, \
'site': [p.get('purelib'), p.get('platlib')], 'version': list(sys.version_info[:2])}))";

/// The tool, if the default sandbox can start it.
fn runnable(t: &'static Result<Tool, String>) -> Result<&'static Tool, String> {
    let t = t.as_ref().map_err(Clone::clone)?;
    crate::sandbox::check_runnable(&t.program)?;
    Ok(t)
}

pub(crate) fn python() -> Result<&'static Tool, String> {
    static T: OnceLock<Result<Tool, String>> = OnceLock::new();
    runnable(T.get_or_init(|| {
        let py = env_or_which("LITMUS_PYTHON", "python3")
            .ok_or_else(|| "python3 is not installed (not on PATH)".to_string())?;
        let out = host_output(&py, &["-I", "-c", PY_PROBE])?;
        let v: serde_json::Value =
            serde_json::from_str(out.trim()).map_err(|e| format!("python probe: {e}"))?;
        let major = v["version"][0].as_u64().unwrap_or(0);
        if major != 3 {
            return Err(format!("{} is not Python 3", py.display()));
        }
        let exe = canonical(Path::new(v["exe"].as_str().unwrap_or_default()));
        let mut binds = Vec::new();
        for key in ["base", "prefix"] {
            if let Some(p) = v[key].as_str() {
                let p = canonical(Path::new(p));
                if !p.starts_with("/usr") && p != Path::new("/") {
                    binds.push(p);
                }
            }
        }
        if let Some(p) = prefix_of(&exe) {
            binds.push(p);
        }
        let site: Vec<String> = v["site"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for s in &site {
            let p = canonical(Path::new(s));
            if !p.starts_with("/usr") && p.exists() {
                binds.push(p);
            }
        }
        Ok(Tool {
            program: exe,
            ro_binds: binds,
            extra_paths: site,
        })
    }))
}

pub(crate) fn rustc() -> Result<&'static Tool, String> {
    static T: OnceLock<Result<Tool, String>> = OnceLock::new();
    runnable(T.get_or_init(|| {
        let rustc = env_or_which("LITMUS_RUSTC", "rustc")
            .ok_or_else(|| "rustc is not installed (not on PATH)".to_string())?;
        if which("cc").is_none() {
            return Err("no C linker (`cc`) on PATH, needed by rustc".into());
        }
        let sysroot = host_output(&rustc, &["--print", "sysroot"])?;
        let sysroot = canonical(Path::new(sysroot.trim()));
        let real = sysroot.join("bin").join("rustc");
        if !real.exists() {
            return Err(format!("no rustc binary in sysroot {}", sysroot.display()));
        }
        let mut binds = Vec::new();
        if !sysroot.starts_with("/usr") {
            binds.push(sysroot);
        }
        Ok(Tool {
            program: real,
            ro_binds: binds,
            extra_paths: Vec::new(),
        })
    }))
}

fn simple_tool(var: &str, name: &str, what: &str) -> Result<Tool, String> {
    let bin = env_or_which(var, name)
        .ok_or_else(|| format!("{what} is not installed (no `{name}` on PATH)"))?;
    let real = canonical(&bin);
    let binds = prefix_of(&real).into_iter().collect();
    Ok(Tool {
        program: real,
        ro_binds: binds,
        extra_paths: Vec::new(),
    })
}

pub(crate) fn node() -> Result<&'static Tool, String> {
    static T: OnceLock<Result<Tool, String>> = OnceLock::new();
    runnable(T.get_or_init(|| simple_tool("LITMUS_NODE", "node", "Node.js")))
}

pub(crate) fn bash() -> Result<&'static Tool, String> {
    static T: OnceLock<Result<Tool, String>> = OnceLock::new();
    runnable(T.get_or_init(|| {
        let t = simple_tool("LITMUS_BASH", "bash", "bash")?;
        if which("timeout").is_none() {
            return Err("coreutils `timeout` is missing".into());
        }
        Ok(t)
    }))
}

pub(crate) fn julia() -> Result<&'static Tool, String> {
    static T: OnceLock<Result<Tool, String>> = OnceLock::new();
    runnable(T.get_or_init(|| simple_tool("LITMUS_JULIA", "julia", "Julia")))
}
