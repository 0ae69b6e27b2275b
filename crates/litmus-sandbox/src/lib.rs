//! Code extraction, sandboxed execution and scoring for litmus.
//!
//! The scorer follows the Julia LLM Leaderboard: 25 points each for *parsed*,
//! *executed*, the fraction of *examples* that ran and the fraction of *unit
//! tests* that passed (see [`score`] for the exact rules and the leaderboard
//! bugs this implementation avoids).
//!
//! Generated code is hostile until proven otherwise: everything it does runs
//! inside [`Sandbox`] (bubblewrap when usable, a documented weaker fallback
//! otherwise), in a fresh temporary directory, with wall-time, CPU, memory,
//! process, file-size, disk and output limits, no network and a scrubbed
//! environment.
//!
//! ```no_run
//! use litmus_sandbox::{score_answer, CodeSpec, Language, Limits};
//!
//! let spec = CodeSpec::new(Language::Python)
//!     .example("reverse_words('a b')")
//!     .test("assert reverse_words('a b') == 'b a'");
//! let answer = "```python\ndef reverse_words(s):\n    return ' '.join(s.split()[::-1])\n```";
//! let score = score_answer(answer, &spec, &Limits::default());
//! assert_eq!(score.score, 100.0);
//! ```

pub mod extract;
pub mod lang;
pub mod sandbox;
pub mod score;
pub mod stop;
mod tools;
mod util;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use extract::{apply_prefix, extract_blocks, extract_code, join_blocks, BlockMatch, CodeBlock};
pub use lang::{
    runner, scorer_revision, Evaluation, Language, LanguageRunner, SnippetKind, SnippetOutcome,
};
pub use sandbox::{
    sandbox_info, RunOutput, Sandbox, SandboxCommand, SandboxError, SandboxFile, SandboxInfo,
    SandboxKind, Workspace,
};
pub use score::{score_answer, score_answer_in, score_code, CodeScore, ScoreParts, MAX_ATTEMPTS};
pub use stop::StopRule;

/// What to run an answer against: the language, examples (snippets that must
/// run without raising) and unit tests (snippets that must pass).
///
/// Snippets are handed to the sandboxed runner as files, never spliced into a
/// shell command line, so any quoting inside them is safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSpec {
    pub language: Language,
    /// Snippets that call the solution; each scores if it runs without error.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Snippets with assertions; each scores if it passes.
    #[serde(default)]
    pub tests: Vec<String>,
    /// Code of a completion-style prompt (e.g. a signature and docstring).
    /// Prepended to the extracted answer unless the answer already starts
    /// with it or defines the same names itself.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Code run before the solution (e.g. imports); not the model's code, so
    /// it is never counted against it (a broken setup is reported as an
    /// infrastructure error in [`CodeScore::error`]).
    #[serde(default)]
    pub setup: Option<String>,
}

impl CodeSpec {
    pub fn new(language: Language) -> Self {
        CodeSpec {
            language,
            examples: Vec::new(),
            tests: Vec::new(),
            prefix: None,
            setup: None,
        }
    }

    pub fn example(mut self, snippet: impl Into<String>) -> Self {
        self.examples.push(snippet.into());
        self
    }

    pub fn test(mut self, snippet: impl Into<String>) -> Self {
        self.tests.push(snippet.into());
        self
    }

    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    pub fn with_setup(mut self, setup: impl Into<String>) -> Self {
        self.setup = Some(setup.into());
        self
    }
}

/// Resource limits for sandboxed code.
///
/// `timeout` is the wall-time limit of one *phase*: loading the solution,
/// running all examples, running all tests (each phase gets its own budget,
/// as in the leaderboard). Inside a phase every snippet additionally gets at
/// most `snippet_timeout`. Memory, CPU and file size limits apply per process
/// (setrlimit); `max_processes` is the number of processes the code may have
/// at once; `max_disk_bytes` bounds the writable scratch space (bubblewrap
/// only: the working directory and `/tmp` are size-limited tmpfs mounts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    pub timeout: Duration,
    pub memory_bytes: u64,
    pub cpu_seconds: u64,
    pub max_processes: u64,
    pub max_file_bytes: u64,
    pub max_output_bytes: usize,
    pub snippet_timeout: Duration,
    pub max_disk_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            memory_bytes: 1 << 30,
            cpu_seconds: 10,
            max_processes: 64,
            max_file_bytes: 16 << 20,
            max_output_bytes: 64 << 10,
            snippet_timeout: Duration::from_secs(5),
            max_disk_bytes: 64 << 20,
        }
    }
}

/// Do the one-time work for `language` now (sandbox detection, tool
/// discovery, driver preparation), so that timing the first answer is fair.
/// `Err` says why the language cannot run here.
pub fn warm_up(language: Language) -> Result<(), String> {
    let _ = sandbox_info();
    runner(language).warm_up()
}

impl Limits {
    /// The per-snippet budget actually used: never more than the phase budget.
    pub fn effective_snippet_timeout(&self) -> Duration {
        self.snippet_timeout.min(self.timeout)
    }

    /// These limits with a phase budget (and CPU time) of `timeout`; the
    /// per-snippet budget keeps its share of the phase budget, so that a
    /// longer timeout also gives a slow test longer (the defaults, 10 s and
    /// 5 s, become 30 s and 15 s with a 30 s timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = litmus_sandbox::Limits::default().with_timeout(Duration::from_secs(30));
    /// assert_eq!((l.timeout.as_secs(), l.cpu_seconds), (30, 30));
    /// assert_eq!(l.effective_snippet_timeout(), Duration::from_secs(15));
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        if !self.timeout.is_zero() {
            let share = self.snippet_timeout.as_secs_f64() / self.timeout.as_secs_f64();
            self.snippet_timeout = timeout.mul_f64(share.min(1.0));
        }
        self.timeout = timeout;
        self.cpu_seconds = timeout.as_secs_f64().ceil() as u64;
        self
    }
}
