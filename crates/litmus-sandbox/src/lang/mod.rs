//! Languages behind one trait.
//!
//! Each language is one file implementing [`LanguageRunner`]: its fence tags
//! and code patterns (for extraction), an availability check, a parse/compile
//! check and an evaluator. Interpreted languages (Python, JavaScript, Bash,
//! Julia) only state their syntax, interpreter and driver by implementing
//! `interpreted::Interpreted`, which provides the rest. They use a small
//! *driver* program (in `src/lang/drivers/`) that speaks the protocol in
//! `driver` (the compiled Rust harness speaks it too): it loads
//! the solution once per sandboxed process, runs every example and test in
//! isolation with a per-snippet time budget and reports per-snippet results
//! as JSON lines carrying a per-run random nonce on fd 3 (a pipe the code's
//! stdout/stderr cannot reach by accident). If the process dies mid-way
//! (a snippet killed its parent, exhausted a limit, ...), the host resumes a
//! fresh process after the snippet that was running.

mod bash;
pub(crate) mod driver;
mod interpreted;
mod javascript;
mod julia;
mod python;
mod rust;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::sandbox::Sandbox;
use crate::{CodeSpec, Limits};

/// Identifies the code that scores answers: every language's driver, the
/// Rust harness and its snippet prelude, hashed, so a score cached by an
/// older scorer is not taken for this one's (the score cache keys on it).
///
/// ```
/// let revision = litmus_sandbox::scorer_revision();
/// assert_eq!(revision, litmus_sandbox::scorer_revision());
/// assert_eq!(revision.len(), 16);
/// ```
pub fn scorer_revision() -> &'static str {
    use interpreted::Interpreted;
    static REVISION: OnceLock<String> = OnceLock::new();
    REVISION.get_or_init(|| {
        let sources = [
            python::Python::DRIVER,
            javascript::JavaScript::DRIVER,
            bash::Bash::DRIVER,
            julia::Julia::DRIVER,
            rust::HARNESS,
            rust::SNIPPET_PRELUDE,
        ];
        // FNV-1a over the sources, each followed by a separator byte.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in sources.iter().flat_map(|s| s.bytes().chain([0xff])) {
            h = (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    })
}

/// A programming language litmus can score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Language {
    #[serde(rename = "python", alias = "py", alias = "python3")]
    Python,
    #[serde(rename = "rust", alias = "rs")]
    Rust,
    #[serde(rename = "javascript", alias = "js", alias = "node")]
    JavaScript,
    #[serde(rename = "bash", alias = "sh")]
    Bash,
    #[serde(rename = "julia", alias = "jl")]
    Julia,
}

impl Language {
    pub const ALL: [Language; 5] = [
        Language::Python,
        Language::Rust,
        Language::JavaScript,
        Language::Bash,
        Language::Julia,
    ];

    /// Canonical lower-case name ("python", "rust", "javascript", "bash", "julia").
    pub fn name(&self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
            Language::JavaScript => "javascript",
            Language::Bash => "bash",
            Language::Julia => "julia",
        }
    }

    /// Whether the interpreter/compiler is installed on this host.
    pub fn is_available(&self) -> bool {
        runner(*self).availability().is_ok()
    }

    /// Why the language cannot be run here, if it cannot.
    pub fn unavailable_reason(&self) -> Option<String> {
        runner(*self).availability().err()
    }

    /// Usual file extension (without the dot).
    pub fn extension(&self) -> &'static str {
        match self {
            Language::Python => "py",
            Language::Rust => "rs",
            Language::JavaScript => "js",
            Language::Bash => "sh",
            Language::Julia => "jl",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?} (expected python, rust, javascript, bash or julia)")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "python" | "py" | "python3" => Ok(Language::Python),
            "rust" | "rs" => Ok(Language::Rust),
            "javascript" | "js" | "node" => Ok(Language::JavaScript),
            "bash" | "sh" => Ok(Language::Bash),
            "julia" | "jl" => Ok(Language::Julia),
            _ => Err(UnknownLanguage(s.to_string())),
        }
    }
}

/// Example or unit test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnippetKind {
    Example,
    Test,
}

impl SnippetKind {
    pub fn name(&self) -> &'static str {
        match self {
            SnippetKind::Example => "example",
            SnippetKind::Test => "test",
        }
    }
}

/// Result of one example or unit test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnippetOutcome {
    pub kind: SnippetKind,
    pub index: usize,
    pub passed: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub duration_ms: u64,
}

impl SnippetOutcome {
    /// A snippet that did not pass (and was not timed by its runner).
    pub(crate) fn failed(kind: SnippetKind, index: usize, error: String, timed_out: bool) -> Self {
        SnippetOutcome {
            kind,
            index,
            passed: false,
            error: Some(error),
            timed_out,
            duration_ms: 0,
        }
    }
}

/// What running one program against a spec produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub parsed: bool,
    pub executed: bool,
    pub examples: Vec<SnippetOutcome>,
    pub tests: Vec<SnippetOutcome>,
    /// The parse or load error of the program, if any.
    pub error: Option<String>,
    /// Captured stderr (capped).
    pub stderr: String,
    pub timed_out: bool,
    /// A failure that is not the program's fault (missing tool, broken
    /// setup code, sandbox failure).
    pub infra_error: Option<String>,
}

impl Evaluation {
    pub(crate) fn infra(msg: impl Into<String>) -> Self {
        Evaluation {
            infra_error: Some(msg.into()),
            ..Default::default()
        }
    }
}

/// A REPL prompt style, stripped by extraction.
#[derive(Debug, Clone, Copy)]
pub struct ReplPrompt {
    pub prompt: &'static str,
    /// Continuation prompts (also stripped).
    pub continuation: &'static [&'static str],
    /// Recognise the style anywhere (not only on the first line).
    pub anywhere: bool,
}

impl ReplPrompt {
    pub const fn new(
        prompt: &'static str,
        continuation: &'static [&'static str],
        anywhere: bool,
    ) -> Self {
        ReplPrompt {
            prompt,
            continuation,
            anywhere,
        }
    }
}

/// One language: how to recognise its code and how to run it.
pub trait LanguageRunner: Send + Sync {
    fn language(&self) -> Language;

    /// Lower-case fence tags that mark code in this language.
    fn fence_tags(&self) -> &'static [&'static str];

    /// Regexes; a line matching one looks like code in this language.
    fn code_patterns(&self) -> &'static [&'static str];

    /// REPL prompt styles to strip from extracted code.
    fn repl_prompts(&self) -> &'static [ReplPrompt] {
        &[]
    }

    /// `Err(reason)` when the interpreter/compiler is not usable here.
    fn availability(&self) -> Result<(), String>;

    /// Do the one-time work (tool discovery, driver preparation) now, so
    /// the first scored answer is not slower than the others.
    fn warm_up(&self) -> Result<(), String> {
        self.availability()
    }

    /// Normalise an extracted program before running it.
    fn prepare(&self, code: &str) -> String {
        code.to_string()
    }

    /// Parse/compile check, in the sandbox. `Err` holds the error message.
    fn check(&self, sandbox: &Sandbox, code: &str, limits: &Limits) -> Result<(), String>;

    /// Parse, load the program and run the spec's examples and tests.
    fn evaluate(&self, sb: &Sandbox, code: &str, spec: &CodeSpec, limits: &Limits) -> Evaluation;
}

/// The runner of a language.
pub fn runner(lang: Language) -> &'static dyn LanguageRunner {
    match lang {
        Language::Python => &python::Python,
        Language::Rust => &rust::Rust,
        Language::JavaScript => &javascript::JavaScript,
        Language::Bash => &bash::Bash,
        Language::Julia => &julia::Julia,
    }
}
