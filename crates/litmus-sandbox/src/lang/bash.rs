//! Bash: parse check with `bash -n`; the solution is sourced and each
//! snippet runs in a fresh `bash` (solution sourced first) under
//! `timeout -s KILL`. An example passes when it exits with status 0; a test
//! is a command such as `[ "$(f 'a b')" = "b a" ]`.

use super::driver::{check_with_driver, run_driver, standard_files, DriverProgram};
use super::{Evaluation, Language, LanguageRunner, ReplPrompt};
use crate::sandbox::{Sandbox, SandboxFile};
use crate::{tools, CodeSpec, Limits};

pub(crate) struct Bash;

const DRIVER: &str = include_str!("drivers/bash_driver.sh");
const DRIVER_FILE: &str = "_litmus_driver.sh";

impl Bash {
    fn program(&self) -> Result<DriverProgram, String> {
        let t = tools::bash()?;
        Ok(DriverProgram {
            program: t.program.clone(),
            args: vec!["--norc".into(), "--noprofile".into(), DRIVER_FILE.into()],
            ro_binds: t.ro_binds.clone(),
            env: Vec::new(),
            extra: serde_json::json!({}),
            in_process: false,
        })
    }
}

impl LanguageRunner for Bash {
    fn language(&self) -> Language {
        Language::Bash
    }

    fn fence_tags(&self) -> &'static [&'static str] {
        &[
            "bash",
            "sh",
            "shell",
            "zsh",
            "console",
            "shell-session",
            "shellsession",
            "terminal",
            "shellscript",
        ]
    }

    fn code_patterns(&self) -> &'static [&'static str] {
        &[
            r"^\s*#!/",
            r"^\s*(function\s+)?[\w-]+\s*\(\)\s*\{?",
            r"^\s*(if|then|else|elif|fi|for|while|until|do|done|case|esac|local|return|export|readonly|declare|shift)\b",
            r"^\s*(echo|printf|read|cd|set|unset|test|exit)\b",
            r"\$\{?\w+",
            r"\$\(",
            r"^\s*\w+=\S*",
            r"^\s*\[\[? ",
            r"^\s*\}\s*$",
        ]
    }

    fn repl_prompts(&self) -> &'static [ReplPrompt] {
        &[ReplPrompt {
            prompt: "$ ",
            continuation: &["> "],
            anywhere: false,
        }]
    }

    fn availability(&self) -> Result<(), String> {
        tools::bash().map(|_| ())
    }

    fn check(&self, sandbox: &Sandbox, code: &str, limits: &Limits) -> Result<(), String> {
        let prog = self.program()?;
        let files = [
            SandboxFile::new("solution.sh", code.as_bytes()),
            SandboxFile::new("setup.sh", ""),
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
        let mut files = standard_files(code, spec, "sh");
        files.push(SandboxFile::new(DRIVER_FILE, DRIVER));
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
