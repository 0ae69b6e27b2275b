//! Bash: parse check with `bash -n`; the solution is sourced and each
//! snippet runs in a fresh `bash` (solution sourced first) under
//! `timeout -s KILL`. An example passes when it exits with status 0; a test
//! is a command such as `[ "$(f 'a b')" = "b a" ]`.

use super::interpreted::Interpreted;
use super::{Language, ReplPrompt};
use crate::tools::{self, Tool};

pub(crate) struct Bash;

impl Interpreted for Bash {
    const LANGUAGE: Language = Language::Bash;
    const FENCE_TAGS: &'static [&'static str] = &[
        "bash",
        "sh",
        "shell",
        "zsh",
        "console",
        "shell-session",
        "shellsession",
        "terminal",
        "shellscript",
    ];
    const CODE_PATTERNS: &'static [&'static str] = &[
        r"^\s*#!/",
        r"^\s*(function\s+)?[\w-]+\s*\(\)\s*\{?",
        r"^\s*(if|then|else|elif|fi|for|while|until|do|done|case|esac|local|return|export|readonly|declare|shift)\b",
        r"^\s*(echo|printf|read|cd|set|unset|test|exit)\b",
        r"\$\{?\w+",
        r"\$\(",
        r"^\s*\w+=\S*",
        r"^\s*\[\[? ",
        r"^\s*\}\s*$",
    ];
    const REPL_PROMPTS: &'static [ReplPrompt] = &[ReplPrompt::new("$ ", &["> "], false)];
    const DRIVER: &'static str = include_str!("drivers/bash_driver.sh");
    const FLAGS: &'static [&'static str] = &["--norc", "--noprofile"];
    const IN_PROCESS: bool = false;

    fn tool() -> Result<&'static Tool, String> {
        tools::bash()
    }
}
