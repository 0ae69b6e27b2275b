//! Julia (when a `julia` binary is on `PATH`; otherwise
//! [`LanguageRunner::availability`] explains why it is skipped).
//!
//! Parse check with `Meta.parseall`; the solution is included into a fresh
//! module with `using Test`, then each snippet is included into it. Julia
//! cannot interrupt a running task reliably, so a hanging snippet is ended
//! by the process wall limit and the host resumes after it. Only the
//! standard library is available (the depot is an empty scratch directory).

use super::driver::{check_with_driver, run_driver, standard_files, DriverProgram};
use super::{Evaluation, Language, LanguageRunner, ReplPrompt};
use crate::sandbox::{Sandbox, SandboxFile};
use crate::{tools, CodeSpec, Limits};

pub(crate) struct Julia;

const DRIVER: &str = include_str!("drivers/julia_driver.jl");
const DRIVER_FILE: &str = "_litmus_driver.jl";

impl Julia {
    fn program(&self) -> Result<DriverProgram, String> {
        let t = tools::julia()?;
        Ok(DriverProgram {
            program: t.program.clone(),
            args: vec![
                "--startup-file=no".into(),
                "--history-file=no".into(),
                "--color=no".into(),
                DRIVER_FILE.into(),
            ],
            ro_binds: t.ro_binds.clone(),
            env: vec![("JULIA_DEPOT_PATH".into(), "/tmp/julia-depot".into())],
            extra: serde_json::json!({}),
            in_process: true,
        })
    }
}

impl LanguageRunner for Julia {
    fn language(&self) -> Language {
        Language::Julia
    }

    fn fence_tags(&self) -> &'static [&'static str] {
        &["julia", "jl", "julia-repl", "jldoctest"]
    }

    fn code_patterns(&self) -> &'static [&'static str] {
        &[
            r"^\s*(function|macro|struct|mutable\s+struct|module|abstract\s+type)\b",
            r"^\s*(using|import|export|return|for|while|if|elseif|else|begin|let|try|catch)\b",
            r"^\s*end\b",
            r"^\s*@\w+",
            r"^\s*[\w.]+\(.*\)\s*=",
            r"^\s*[A-Za-z_][\w.]*\s*=\s*\S",
            r"^\s*[\w.!]+\(.*\)\s*$",
        ]
    }

    fn repl_prompts(&self) -> &'static [ReplPrompt] {
        &[ReplPrompt {
            prompt: "julia> ",
            continuation: &["       "],
            anywhere: true,
        }]
    }

    fn availability(&self) -> Result<(), String> {
        tools::julia().map(|_| ())
    }

    fn check(&self, sandbox: &Sandbox, code: &str, limits: &Limits) -> Result<(), String> {
        let prog = self.program()?;
        let files = [
            SandboxFile::new("solution.jl", code.as_bytes()),
            SandboxFile::new("setup.jl", ""),
            SandboxFile::new(DRIVER_FILE, DRIVER),
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
        let mut files = standard_files(code, spec, "jl");
        files.push(SandboxFile::new(DRIVER_FILE, DRIVER));
        let ws = match sandbox.workspace(&files) {
            Ok(ws) => ws,
            Err(e) => return Evaluation::infra(e.to_string()),
        };
        // Julia's start-up and compilation are slow; give each phase at least 60 s.
        let mut limits = limits.clone();
        limits.timeout = limits.timeout.max(std::time::Duration::from_secs(60));
        limits.memory_bytes = limits.memory_bytes.max(4 << 30);
        run_driver(
            sandbox,
            &ws,
            &prog,
            spec.examples.len(),
            spec.tests.len(),
            &limits,
            &[],
        )
    }
}
