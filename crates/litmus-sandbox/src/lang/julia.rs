//! Julia (when a `julia` binary is on `PATH`; otherwise
//! [`LanguageRunner::availability`](super::LanguageRunner::availability)
//! explains why it is skipped).
//!
//! Parse check with `Meta.parseall`; the solution is included into a fresh
//! module with `using Test`, then each snippet is included into it. Julia
//! cannot interrupt a running task reliably, so a hanging snippet is ended
//! by the process wall limit and the host resumes after it. Only the
//! standard library is available (the depot is an empty scratch directory).

use std::time::Duration;

use super::interpreted::Interpreted;
use super::{Language, ReplPrompt};
use crate::tools::{self, Tool};
use crate::Limits;

pub(crate) struct Julia;

impl Interpreted for Julia {
    const LANGUAGE: Language = Language::Julia;
    const FENCE_TAGS: &'static [&'static str] = &["julia", "jl", "julia-repl", "jldoctest"];
    const CODE_PATTERNS: &'static [&'static str] = &[
        r"^\s*(function|macro|struct|mutable\s+struct|module|abstract\s+type)\b",
        r"^\s*(using|import|export|return|for|while|if|elseif|else|begin|let|try|catch)\b",
        r"^\s*end\b",
        r"^\s*@\w+",
        r"^\s*[\w.]+\(.*\)\s*=",
        r"^\s*[A-Za-z_][\w.]*\s*=\s*\S",
        r"^\s*[\w.!]+\(.*\)\s*$",
    ];
    const REPL_PROMPTS: &'static [ReplPrompt] = &[ReplPrompt::new("julia> ", &["       "], true)];
    const DRIVER: &'static str = include_str!("drivers/julia_driver.jl");
    const FLAGS: &'static [&'static str] =
        &["--startup-file=no", "--history-file=no", "--color=no"];
    const ENV: &'static [(&'static str, &'static str)] =
        &[("JULIA_DEPOT_PATH", "/tmp/julia-depot")];
    const IN_PROCESS: bool = true;

    fn tool() -> Result<&'static Tool, String> {
        tools::julia()
    }

    /// Julia's start-up and compilation are slow: each phase gets at least
    /// 60 s, and at least 4 GiB of address space.
    fn run_limits(limits: &Limits) -> Limits {
        let mut limits = limits.clone();
        limits.timeout = limits.timeout.max(Duration::from_secs(60));
        limits.memory_bytes = limits.memory_bytes.max(4 << 30);
        limits
    }
}
