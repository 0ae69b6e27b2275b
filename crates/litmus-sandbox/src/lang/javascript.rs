//! JavaScript (Node): parse check with `vm.Script` (what `node --check`
//! does), then one Node process per sample running the solution and every
//! snippet in the same global context (`require`, `module`, `exports` and
//! `assert` are provided; `console.assert` throws). ES-module `export`
//! keywords are stripped so `export function f` works as a script.

use std::sync::OnceLock;

use regex::Regex;

use super::driver::{check_with_driver, run_driver, standard_files, DriverProgram};
use super::{Evaluation, Language, LanguageRunner, ReplPrompt};
use crate::sandbox::{Sandbox, SandboxFile};
use crate::{tools, CodeSpec, Limits};

pub(crate) struct JavaScript;

const DRIVER: &str = include_str!("drivers/js_driver.js");
const DRIVER_FILE: &str = "_litmus_driver.js";

impl JavaScript {
    fn program(&self) -> Result<DriverProgram, String> {
        let t = tools::node()?;
        Ok(DriverProgram {
            program: t.program.clone(),
            args: vec!["--max-old-space-size=512".into(), DRIVER_FILE.into()],
            ro_binds: t.ro_binds.clone(),
            env: Vec::new(),
            extra: serde_json::json!({}),
            in_process: true,
        })
    }
}

fn export_res() -> &'static [(Regex, &'static str); 3] {
    static R: OnceLock<[(Regex, &'static str); 3]> = OnceLock::new();
    R.get_or_init(|| {
        [
            (
                Regex::new(r"(?m)^(\s*)export\s+default\s+((async\s+)?(function|class)\b)")
                    .expect("regex"),
                "$1$2",
            ),
            (
                Regex::new(r"(?m)^(\s*)export\s+((async\s+)?(function|class|const|let|var)\b)")
                    .expect("regex"),
                "$1$2",
            ),
            (
                Regex::new(r"(?m)^\s*export\s*(default\s+\w+|\{[^}]*\})\s*;?\s*$").expect("regex"),
                "",
            ),
        ]
    })
}

impl LanguageRunner for JavaScript {
    fn language(&self) -> Language {
        Language::JavaScript
    }

    fn fence_tags(&self) -> &'static [&'static str] {
        &[
            "javascript",
            "js",
            "node",
            "nodejs",
            "jsx",
            "mjs",
            "cjs",
            "ecmascript",
        ]
    }

    fn code_patterns(&self) -> &'static [&'static str] {
        &[
            r"^\s*(export\s+)?(async\s+)?function\b",
            r"^\s*(export\s+)?(const|let|var|class)\s+[\w$\[{]",
            r"=>",
            r"^\s*(return|throw|if|for|while|switch|try|catch|import|require)\b",
            r"^\s*console\.\w+\(",
            r"^\s*[\w$.]+\(.*\)\s*;?\s*$",
            r"^\s*[}\])]+\s*[;,)]*\s*$",
            r";\s*$",
        ]
    }

    fn repl_prompts(&self) -> &'static [ReplPrompt] {
        &[ReplPrompt {
            prompt: "> ",
            continuation: &["... "],
            anywhere: false,
        }]
    }

    fn availability(&self) -> Result<(), String> {
        tools::node().map(|_| ())
    }

    fn prepare(&self, code: &str) -> String {
        let mut out = code.to_string();
        for (re, rep) in export_res() {
            out = re.replace_all(&out, *rep).into_owned();
        }
        out
    }

    fn check(&self, sandbox: &Sandbox, code: &str, limits: &Limits) -> Result<(), String> {
        let prog = self.program()?;
        let files = [
            SandboxFile::new("solution.js", self.prepare(code).into_bytes()),
            SandboxFile::new("setup.js", ""),
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
        let mut files = standard_files(&self.prepare(code), spec, "js");
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
