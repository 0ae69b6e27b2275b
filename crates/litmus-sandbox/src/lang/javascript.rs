//! JavaScript (Node): parse check with `vm.Script` (what `node --check`
//! does), then one Node process per sample running the solution and every
//! snippet in the same global context (`require`, `module`, `exports` and
//! `assert` are provided; `console.assert` throws). ES-module `export`
//! keywords are stripped so `export function f` works as a script.

use std::sync::OnceLock;

use regex::Regex;

use super::interpreted::Interpreted;
use super::{Language, ReplPrompt};
use crate::tools::{self, Tool};

pub(crate) struct JavaScript;

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

impl Interpreted for JavaScript {
    const LANGUAGE: Language = Language::JavaScript;
    const FENCE_TAGS: &'static [&'static str] = &[
        "javascript",
        "js",
        "node",
        "nodejs",
        "jsx",
        "mjs",
        "cjs",
        "ecmascript",
    ];
    const CODE_PATTERNS: &'static [&'static str] = &[
        r"^\s*(export\s+)?(async\s+)?function\b",
        r"^\s*(export\s+)?(const|let|var|class)\s+[\w$\[{]",
        r"=>",
        r"^\s*(return|throw|if|for|while|switch|try|catch|import|require)\b",
        r"^\s*console\.\w+\(",
        r"^\s*[\w$.]+\(.*\)\s*;?\s*$",
        r"^\s*[}\])]+\s*[;,)]*\s*$",
        r";\s*$",
    ];
    const REPL_PROMPTS: &'static [ReplPrompt] = &[ReplPrompt::new("> ", &["... "], false)];
    const DRIVER: &'static str = include_str!("drivers/js_driver.js");
    const FLAGS: &'static [&'static str] = &["--max-old-space-size=512"];
    const IN_PROCESS: bool = true;

    fn tool() -> Result<&'static Tool, String> {
        tools::node()
    }

    fn prepare(code: &str) -> String {
        let mut out = code.to_string();
        for (re, rep) in export_res() {
            out = re.replace_all(&out, *rep).into_owned();
        }
        out
    }
}
