//! Python 3: parse check with `compile()`, then one sandboxed driver process
//! per sample that forks a child per run (load, each example, each test).
//!
//! The interpreter runs with `-I -S -B` (isolated mode, no `site` import, no
//! bytecode writes): skipping `site` saves most of the start-up time; the
//! interpreter's site-packages directories are appended to `sys.path` by the
//! driver so installed packages stay importable (`.pth` files are not
//! processed).
//!
//! The solution is loaded as a module named `solution` (so an
//! `if __name__ == "__main__":` demo block does not run, and snippets may
//! also `from solution import f`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::interpreted::Interpreted;
use super::{Language, ReplPrompt};
use crate::sandbox::SandboxFile;
use crate::tools::{self, Tool};

pub(crate) struct Python;

const DRIVER_FILE: &str = "_litmus_driver.py";
const DRIVER_PYC: &str = "_litmus_driver.pyc";

/// Compiles the driver to bytecode with the host interpreter (our own code,
/// trusted), once per process, so each sandboxed run skips compiling it.
const PYC_SCRIPT: &str = "import sys, marshal, importlib.util\n\
src = sys.stdin.read()\n\
code = compile(src, '_litmus_driver.py', 'exec', dont_inherit=True)\n\
sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code))\n";

fn driver_pyc() -> Option<&'static [u8]> {
    static PYC: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    PYC.get_or_init(|| {
        let t = tools::python().ok()?;
        let mut child = Command::new(&t.program)
            .args(["-I", "-S", "-c", PYC_SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let writer = std::thread::spawn(move || stdin.write_all(Python::DRIVER.as_bytes()));
        let out = child.wait_with_output().ok()?;
        writer.join().ok()?.ok()?;
        (out.status.success() && out.stdout.len() > 16).then_some(out.stdout)
    })
    .as_deref()
}

impl Interpreted for Python {
    const LANGUAGE: Language = Language::Python;
    const FENCE_TAGS: &'static [&'static str] = &[
        "python",
        "py",
        "python3",
        "py3",
        "pycon",
        "ipython",
        "python-repl",
        "pyi",
    ];
    const CODE_PATTERNS: &'static [&'static str] = &[
        r"^\s*(async\s+)?(def|class)\s+\w+",
        r"^\s*(import\s+\w|from\s+[\w.]+\s+import\b)",
        r"^\s*(return|yield|raise|pass|break|continue|global|nonlocal)\b",
        r"^\s*(if|elif|while|for|with|try|except|finally|else|match|case)\b.*:\s*(#.*)?$",
        r"^\s*@[\w.]+",
        r"^\s*[A-Za-z_][\w.]*(\[[^\]]*\])?(\s*,\s*[A-Za-z_]\w*)*\s*(=|\+=|-=|\*=|/=|//=|%=|\|=|&=)\s*\S",
        r"^\s*(print|assert)\b",
        r"^\s*[A-Za-z_][\w.]*\(.*\)\s*(#.*)?$",
    ];
    const REPL_PROMPTS: &'static [ReplPrompt] = &[ReplPrompt::new(">>> ", &["... "], true)];
    const DRIVER: &'static str = include_str!("drivers/python_driver.py");
    const FLAGS: &'static [&'static str] = &["-I", "-S", "-B"];
    const IN_PROCESS: bool = false;

    fn tool() -> Result<&'static Tool, String> {
        tools::python()
    }

    /// The precompiled driver when the host could compile it.
    fn driver_file() -> SandboxFile {
        match driver_pyc() {
            Some(pyc) => SandboxFile::new(DRIVER_PYC, pyc),
            None => SandboxFile::new(DRIVER_FILE, Self::DRIVER),
        }
    }

    fn settings(tool: &Tool) -> serde_json::Value {
        serde_json::json!({ "site": tool.extra_paths })
    }

    fn prepare_driver() {
        let _ = driver_pyc();
    }
}
