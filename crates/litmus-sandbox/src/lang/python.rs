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

use super::driver::{check_with_driver, run_driver, standard_files, DriverProgram};
use super::{Evaluation, Language, LanguageRunner, ReplPrompt};
use crate::sandbox::{Sandbox, SandboxFile};
use crate::{tools, CodeSpec, Limits};

pub(crate) struct Python;

const DRIVER: &str = include_str!("drivers/python_driver.py");
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
        let writer = std::thread::spawn(move || stdin.write_all(DRIVER.as_bytes()));
        let out = child.wait_with_output().ok()?;
        writer.join().ok()?.ok()?;
        (out.status.success() && out.stdout.len() > 16).then_some(out.stdout)
    })
    .as_deref()
}

/// The driver file to put in the workspace and the name to run.
fn driver_file() -> (SandboxFile, &'static str) {
    match driver_pyc() {
        Some(pyc) => (SandboxFile::new(DRIVER_PYC, pyc), DRIVER_PYC),
        None => (SandboxFile::new(DRIVER_FILE, DRIVER), DRIVER_FILE),
    }
}

impl Python {
    fn program(&self) -> Result<DriverProgram, String> {
        let t = tools::python()?;
        let (_, name) = driver_file();
        Ok(DriverProgram {
            program: t.program.clone(),
            args: ["-I", "-S", "-B", name]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ro_binds: t.ro_binds.clone(),
            env: Vec::new(),
            extra: serde_json::json!({ "site": t.extra_paths }),
            in_process: false,
        })
    }
}

impl LanguageRunner for Python {
    fn language(&self) -> Language {
        Language::Python
    }

    fn fence_tags(&self) -> &'static [&'static str] {
        &[
            "python",
            "py",
            "python3",
            "py3",
            "pycon",
            "ipython",
            "python-repl",
            "pyi",
        ]
    }

    fn code_patterns(&self) -> &'static [&'static str] {
        &[
            r"^\s*(async\s+)?(def|class)\s+\w+",
            r"^\s*(import\s+\w|from\s+[\w.]+\s+import\b)",
            r"^\s*(return|yield|raise|pass|break|continue|global|nonlocal)\b",
            r"^\s*(if|elif|while|for|with|try|except|finally|else|match|case)\b.*:\s*(#.*)?$",
            r"^\s*@[\w.]+",
            r"^\s*[A-Za-z_][\w.]*(\[[^\]]*\])?(\s*,\s*[A-Za-z_]\w*)*\s*(=|\+=|-=|\*=|/=|//=|%=|\|=|&=)\s*\S",
            r"^\s*(print|assert)\b",
            r"^\s*[A-Za-z_][\w.]*\(.*\)\s*(#.*)?$",
        ]
    }

    fn repl_prompts(&self) -> &'static [ReplPrompt] {
        &[ReplPrompt {
            prompt: ">>> ",
            continuation: &["... "],
            anywhere: true,
        }]
    }

    fn availability(&self) -> Result<(), String> {
        tools::python().map(|_| ())
    }

    fn warm_up(&self) -> Result<(), String> {
        self.availability()?;
        let _ = driver_pyc();
        Ok(())
    }

    fn check(&self, sandbox: &Sandbox, code: &str, limits: &Limits) -> Result<(), String> {
        let prog = self.program()?;
        let files = [
            SandboxFile::new("solution.py", code.as_bytes()),
            SandboxFile::new("setup.py", ""),
            driver_file().0,
        ];
        let ws = sandbox.workspace(&files).map_err(|e| e.to_string())?;
        check_with_driver(sandbox, &ws, &prog, limits)
    }

    fn evaluate(
        &self,
        sandbox: &Sandbox,
        code: &str,
        spec: &CodeSpec,
        limits: &Limits,
    ) -> Evaluation {
        let prog = match self.program() {
            Ok(p) => p,
            Err(e) => return Evaluation::infra(e),
        };
        let mut files = standard_files(code, spec, "py");
        files.push(driver_file().0);
        let ws = match sandbox.workspace(&files) {
            Ok(ws) => ws,
            Err(e) => return Evaluation::infra(e.to_string()),
        };
        run_driver(
            sandbox,
            &ws,
            &prog,
            spec.examples.len(),
            spec.tests.len(),
            limits,
            &[],
        )
    }
}
