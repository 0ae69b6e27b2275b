//! What an eval declares: a code case or a text case.
//!
//! Both are built with chained setters from a function annotated with
//! `#[litmus::eval]`; the function runs once per process, at startup.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::eval::judge::Judge;
pub use litmus_metrics::Metric;
pub use litmus_sandbox::Language;

/// A code-generation case: the model writes code, which runs in a sandbox
/// against the examples and unit tests and is scored 0–100.
///
/// ```
/// use litmus_core::eval::case::CodeCase;
/// let case = CodeCase::python()
///     .prompt("Write a function `add(a, b)` that returns the sum of `a` and `b`.")
///     .example("add(1, 2)")
///     .test("assert add(1, 2) == 3")
///     .test("assert add(-1, 1) == 0")
///     .reference("def add(a, b):\n    return a + b\n");
/// assert_eq!(case.tests.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CodeCase {
    /// The language the answer must be written in.
    pub language: Language,
    /// The task, with optional `{{placeholders}}` filled from `vars`.
    pub prompt: String,
    /// Snippets that must run without error once the answer is loaded.
    pub examples: Vec<String>,
    /// Snippets that must pass (assertions).
    pub tests: Vec<String>,
    /// A correct answer; `cargo test` checks that it scores 100.
    pub reference: Option<String>,
    /// Code run before the answer (imports, helpers).
    pub setup: Option<String>,
    /// For completion-style templates: the code the model continues
    /// (signature and docstring). Prepended to answers that lack it.
    pub prefix: Option<String>,
    /// Variables for the prompt and the template.
    pub vars: BTreeMap<String, String>,
}

impl CodeCase {
    /// A case in `language`.
    pub fn new(language: Language) -> Self {
        CodeCase {
            language,
            prompt: String::new(),
            examples: Vec::new(),
            tests: Vec::new(),
            reference: None,
            setup: None,
            prefix: None,
            vars: BTreeMap::new(),
        }
    }
    /// A Python 3 case.
    pub fn python() -> Self {
        Self::new(Language::Python)
    }
    /// A Rust case.
    pub fn rust() -> Self {
        Self::new(Language::Rust)
    }
    /// A JavaScript (node) case.
    pub fn javascript() -> Self {
        Self::new(Language::JavaScript)
    }
    /// A Bash case.
    pub fn bash() -> Self {
        Self::new(Language::Bash)
    }
    /// A Julia case (left out of a run, with a warning, where no `julia`
    /// binary is present).
    pub fn julia() -> Self {
        Self::new(Language::Julia)
    }
    /// Sets the task.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = prompt.into();
        self
    }
    /// Adds an example snippet.
    pub fn example(mut self, code: impl Into<String>) -> Self {
        self.examples.push(code.into());
        self
    }
    /// Adds several example snippets.
    pub fn examples<I: IntoIterator<Item = S>, S: Into<String>>(mut self, codes: I) -> Self {
        self.examples.extend(codes.into_iter().map(Into::into));
        self
    }
    /// Adds a unit test.
    pub fn test(mut self, code: impl Into<String>) -> Self {
        self.tests.push(code.into());
        self
    }
    /// Adds several unit tests.
    pub fn tests<I: IntoIterator<Item = S>, S: Into<String>>(mut self, codes: I) -> Self {
        self.tests.extend(codes.into_iter().map(Into::into));
        self
    }
    /// Sets the reference solution.
    pub fn reference(mut self, code: impl Into<String>) -> Self {
        self.reference = Some(code.into());
        self
    }
    /// Sets code run before the answer.
    pub fn setup(mut self, code: impl Into<String>) -> Self {
        self.setup = Some(code.into());
        self
    }
    /// Sets the completion prefix (signature and docstring).
    pub fn prefix(mut self, code: impl Into<String>) -> Self {
        self.prefix = Some(code.into());
        self
    }
    /// Sets a template variable.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
}

/// The sandbox's view of a code case: what running an answer needs. This is
/// the one place a [`CodeCase`] becomes a [`litmus_sandbox::CodeSpec`].
/// (`CodeCase` keeps its own fields rather than hold a `CodeSpec`: they are
/// public API, and their serialized order is the case's fingerprint.)
///
/// ```
/// use litmus_core::eval::case::CodeCase;
/// let case = CodeCase::python().prompt("Add.").test("assert add(1, 2) == 3").setup("import math");
/// let spec = litmus_sandbox::CodeSpec::from(&case);
/// assert_eq!((spec.tests, spec.setup.as_deref()), (case.tests.clone(), Some("import math")));
/// ```
impl From<&CodeCase> for litmus_sandbox::CodeSpec {
    fn from(case: &CodeCase) -> Self {
        let CodeCase {
            language,
            prompt: _,
            examples,
            tests,
            reference: _,
            setup,
            prefix,
            vars: _,
        } = case;
        litmus_sandbox::CodeSpec {
            language: *language,
            examples: examples.clone(),
            tests: tests.clone(),
            prefix: prefix.clone(),
            setup: setup.clone(),
        }
    }
}

/// A text case: the answer is compared with reference answers by a metric,
/// or graded by an LLM judge ([`TextCase::judge`]).
///
/// ```
/// use litmus_core::eval::case::{Metric, TextCase};
/// let case = TextCase::new("What is the capital of France? Answer with one word.")
///     .reference("Paris")
///     .metric(Metric::exact());
/// assert_eq!(case.references, ["Paris"]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextCase {
    /// The question or task, with optional `{{placeholders}}`.
    pub prompt: String,
    /// Acceptable answers.
    pub references: Vec<String>,
    /// How an answer is scored (default: exact match after normalization).
    pub metric: Metric,
    /// Score (0–100) at or above which a sample counts as passed.
    pub pass_threshold: Option<f64>,
    /// Variables for the prompt and the template.
    pub vars: BTreeMap<String, String>,
    /// When set, an LLM judge grades the answer instead of `metric`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Judge>,
}

impl TextCase {
    /// A case asking `prompt`.
    pub fn new(prompt: impl Into<String>) -> Self {
        TextCase {
            prompt: prompt.into(),
            references: Vec::new(),
            metric: Metric::exact(),
            pass_threshold: None,
            vars: BTreeMap::new(),
            judge: None,
        }
    }
    /// Adds a reference answer.
    pub fn reference(mut self, answer: impl Into<String>) -> Self {
        self.references.push(answer.into());
        self
    }
    /// Adds several reference answers.
    pub fn references<I: IntoIterator<Item = S>, S: Into<String>>(mut self, answers: I) -> Self {
        self.references.extend(answers.into_iter().map(Into::into));
        self
    }
    /// Sets the metric.
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }
    /// Has an LLM judge grade the answer (instead of the metric), with the
    /// references shown to it when there are any. The judge model is the one
    /// given by `--judge` or `[judge] model` in `litmus.toml`, by default the
    /// model under evaluation. See [`crate::eval::judge`].
    ///
    /// ```
    /// use litmus_core::eval::case::TextCase;
    /// use litmus_core::eval::judge::Judge;
    /// let case = TextCase::new("Explain in two sentences why the sky is blue.")
    ///     .reference("Air molecules scatter short (blue) wavelengths of sunlight more than long ones (Rayleigh scattering).")
    ///     .judge(Judge::new().scale(1, 10))
    ///     .pass_threshold(60.0);
    /// assert!(case.judge.is_some());
    /// ```
    pub fn judge(mut self, judge: Judge) -> Self {
        self.judge = Some(judge);
        self
    }
    /// Sets the score at or above which a sample passes.
    pub fn pass_threshold(mut self, score: f64) -> Self {
        self.pass_threshold = Some(score);
        self
    }
    /// Sets a template variable.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
}

/// A declarative case, as the runner sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Case {
    /// Code generation.
    Code(CodeCase),
    /// Text answer.
    Text(TextCase),
}

impl Case {
    /// Why its answers cannot be run on this machine, if they cannot: a
    /// code case whose language has no runtime here (`julia` not
    /// installed). A run leaves such evals out, saying so.
    pub fn unrunnable(&self) -> Option<String> {
        match self {
            Case::Code(c) => c
                .language
                .unavailable_reason()
                .map(|why| format!("{} cannot run here: {why}", c.language.name())),
            Case::Text(_) => None,
        }
    }

    /// Whether an LLM judge grades its answers (a text case with a judge).
    pub fn is_judged(&self) -> bool {
        matches!(self, Case::Text(t) if t.judge.is_some())
    }

    /// The task text.
    pub fn prompt(&self) -> &str {
        match self {
            Case::Code(c) => &c.prompt,
            Case::Text(t) => &t.prompt,
        }
    }
    /// The case's own template variables.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        match self {
            Case::Code(c) => &c.vars,
            Case::Text(t) => &t.vars,
        }
    }
    /// The language of a code case.
    pub fn language(&self) -> Option<Language> {
        match self {
            Case::Code(c) => Some(c.language),
            Case::Text(_) => None,
        }
    }
    /// A digest of everything that decides how an answer is scored.
    pub fn fingerprint(&self) -> String {
        crate::base::util::sha256_hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

impl From<CodeCase> for Case {
    fn from(c: CodeCase) -> Self {
        Case::Code(c)
    }
}

impl From<TextCase> for Case {
    fn from(t: TextCase) -> Self {
        Case::Text(t)
    }
}

/// What a declarative eval function may return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an eval case",
    label = "an `#[eval]` function returns a case",
    note = "return `CodeCase` or `TextCase`; or take `&mut EvalContext` as the first argument and return a `Score`"
)]
pub trait IntoCase {
    /// Converts to a [`Case`].
    fn into_case(self) -> Case;
}

impl IntoCase for Case {
    fn into_case(self) -> Case {
        self
    }
}

impl IntoCase for CodeCase {
    fn into_case(self) -> Case {
        Case::Code(self)
    }
}

impl IntoCase for TextCase {
    fn into_case(self) -> Case {
        Case::Text(self)
    }
}
