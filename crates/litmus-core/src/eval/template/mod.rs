//! Prompt templates: named, reusable wrappings of a case's task.
//!
//! A template is either chat-style (an optional system message and a user
//! message) or completion-style (raw text the model continues). Placeholders
//! are written `{{name}}`; the variables are the case's own (`.var(..)`) plus:
//!
//! - `task`: the case's prompt, with its own placeholders filled;
//! - `task_inline`: the same, its first word uncapitalized to continue a
//!   sentence (`In {{language}}, {{task_inline}}`; acronyms keep their case);
//! - `language`: the language of a code case (`Python`, `Rust`, ...);
//! - `prefix`: the completion prefix of a code case (signature and docstring).
//!
//! An unknown or unfilled placeholder is an error, never text sent to a model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::base::backend::{Message, Prompt};
use crate::eval::case::Case;
use crate::eval::placeholders::placeholders;
pub use crate::eval::placeholders::{fill, TemplateError};

mod builtin;

/// A prompt template.
///
/// ```
/// use litmus_core::eval::template::PromptTemplate;
/// use litmus_core::eval::case::{Case, TextCase};
/// let t = PromptTemplate::chat("terse", Some("Answer in one word."), "{{task}}");
/// let prompt = t.render(&Case::from(TextCase::new("Capital of France?"))).unwrap();
/// assert!(prompt.to_text().contains("Capital of France?"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptTemplate {
    /// The template's name, as `--template` selects it.
    #[serde(default)]
    pub name: String,
    /// System message (chat templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// User message (chat templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Raw text (completion templates, for base models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<String>,
    /// A one-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Which cases it applies to; others are not crossed with it.
    #[serde(default)]
    pub scope: TemplateScope,
    /// For the cases this template cannot render (outside its scope, or a
    /// completion template and a case without a completion prefix): render
    /// this one instead, still under this template's name. Built-in only.
    #[serde(skip)]
    pub otherwise: Option<Box<PromptTemplate>>,
}

/// Which cases a template applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TemplateScope {
    /// Every case.
    #[default]
    Any,
    /// Code cases only.
    Code,
    /// Text cases and imperative evals only.
    Text,
}

impl PromptTemplate {
    /// A chat template.
    pub fn chat(name: &str, system: Option<&str>, user: &str) -> Self {
        PromptTemplate {
            name: name.to_string(),
            system: system.map(str::to_string),
            user: Some(user.to_string()),
            completion: None,
            description: None,
            scope: TemplateScope::Any,
            otherwise: None,
        }
    }

    /// A completion template.
    pub fn completion(name: &str, text: &str) -> Self {
        PromptTemplate {
            name: name.to_string(),
            system: None,
            user: None,
            completion: Some(text.to_string()),
            description: None,
            scope: TemplateScope::Any,
            otherwise: None,
        }
    }

    /// Restricts the template to some cases.
    pub fn with_scope(mut self, scope: TemplateScope) -> Self {
        self.scope = scope;
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: &str) -> Self {
        self.description = Some(description.to_string());
        self
    }

    /// Renders the cases this template cannot with `other` (see
    /// [`PromptTemplate::otherwise`]).
    pub fn or_else(mut self, other: PromptTemplate) -> Self {
        self.otherwise = Some(Box::new(other));
        self
    }

    /// Whether the template applies to `case` (`None`: an imperative eval).
    pub fn applies_to(&self, case: Option<&Case>) -> bool {
        self.renders_itself(case) || self.otherwise.as_ref().is_some_and(|o| o.applies_to(case))
    }

    /// Whether this template itself (not its `otherwise`) renders `case`.
    fn renders_itself(&self, case: Option<&Case>) -> bool {
        let in_scope = matches!(
            (self.scope, case),
            (TemplateScope::Any, _)
                | (TemplateScope::Code, Some(Case::Code(_)))
                | (TemplateScope::Text, Some(Case::Text(_)) | None)
        );
        let has_prefix = matches!(case, Some(Case::Code(c)) if c.prefix.is_some());
        in_scope && (!self.needs_prefix() || has_prefix || self.otherwise.is_none())
    }

    /// Whether its completion text continues a code case's `{{prefix}}`.
    fn needs_prefix(&self) -> bool {
        self.completion
            .as_deref()
            .is_some_and(|t| t.contains("{{prefix}}"))
    }

    /// Whether it renders raw completion text.
    pub fn is_completion(&self) -> bool {
        self.completion.is_some()
    }

    /// Checks the shape and that every placeholder is well-formed.
    pub fn validate(&self) -> Result<(), TemplateError> {
        if self.user.is_some() == self.completion.is_some() {
            return Err(TemplateError::Shape(self.name.clone()));
        }
        for text in [&self.system, &self.user, &self.completion]
            .into_iter()
            .flatten()
        {
            placeholders(&self.name, text)?;
        }
        Ok(())
    }

    /// The variables a case offers to templates.
    pub fn vars_for(&self, case: &Case) -> Result<BTreeMap<String, String>, TemplateError> {
        let mut vars = case.vars().clone();
        if let Some(lang) = case.language() {
            vars.entry("language".into())
                .or_insert_with(|| display_language(lang));
        }
        if let Case::Code(c) = case {
            if let Some(prefix) = &c.prefix {
                vars.entry("prefix".into())
                    .or_insert_with(|| prefix.clone());
            }
        }
        let task = fill(
            &format!("{} (the case's prompt)", self.name),
            case.prompt(),
            &vars,
        )?;
        vars.insert("task".into(), task);
        Ok(vars)
    }

    /// Renders the template for `case`.
    pub fn render(&self, case: &Case) -> Result<Prompt, TemplateError> {
        if let Some(other) = self.otherwise.as_deref() {
            if !self.renders_itself(Some(case)) {
                return other.render(case);
            }
        }
        let vars = self.vars_for(case)?;
        self.render_vars(&vars)
    }

    /// Renders the template with explicit variables.
    /// `task_inline` is derived from `task` when not given.
    pub fn render_vars(&self, vars: &BTreeMap<String, String>) -> Result<Prompt, TemplateError> {
        self.validate()?;
        if let Some(other) = self.otherwise.as_deref() {
            if self.needs_prefix() && !vars.contains_key("prefix") {
                return other.render_vars(vars);
            }
        }
        let mut derived;
        let vars = match vars.get("task") {
            Some(task) if !vars.contains_key("task_inline") => {
                derived = vars.clone();
                derived.insert("task_inline".into(), inline(task));
                &derived
            }
            _ => vars,
        };
        if let Some(text) = &self.completion {
            return Ok(Prompt::Completion(fill(&self.name, text, vars)?));
        }
        let mut messages = Vec::new();
        if let Some(system) = &self.system {
            messages.push(Message::system(fill(&self.name, system, vars)?));
        }
        let user = self.user.as_deref().unwrap_or_default();
        messages.push(Message::user(fill(&self.name, user, vars)?));
        Ok(Prompt::Chat(messages))
    }
}

/// `task` continuing a sentence (`In Python, {{task_inline}}`): an ordinary
/// capitalized first word loses its capital; acronyms and identifiers
/// (`JSON`, `CamelCase`) keep theirs.
fn inline(task: &str) -> String {
    let mut chars = task.chars();
    let (Some(first), Some(second)) = (chars.next(), chars.next()) else {
        return task.to_string();
    };
    let word: String = task.split_whitespace().next().unwrap_or_default().into();
    let ordinary = first.is_uppercase()
        && second.is_lowercase()
        && !word.chars().skip(1).any(char::is_uppercase);
    if ordinary {
        first
            .to_lowercase()
            .chain(task[first.len_utf8()..].chars())
            .collect()
    } else {
        task.to_string()
    }
}

fn display_language(lang: crate::eval::case::Language) -> String {
    use crate::eval::case::Language;
    match lang {
        Language::Python => "Python",
        Language::Rust => "Rust",
        Language::JavaScript => "JavaScript",
        Language::Bash => "Bash",
        Language::Julia => "Julia",
    }
    .to_string()
}

/// The templates litmus ships. `plain` is the default.
pub fn builtin() -> Vec<PromptTemplate> {
    builtin::all()
}

/// Looks a template up by name among `known`.
pub fn find<'a>(
    known: &'a [PromptTemplate],
    name: &str,
) -> Result<&'a PromptTemplate, TemplateError> {
    known
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| TemplateError::Unknown {
            name: name.to_string(),
            known: known
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_inline_lowercases_only_ordinary_words() {
        assert_eq!(inline("Write a function"), "write a function");
        assert_eq!(inline("JSON parsing: write"), "JSON parsing: write");
        assert_eq!(inline("CamelCase names"), "CamelCase names");
        assert_eq!(inline("write it"), "write it");
        assert_eq!(inline("Écris"), "écris");
        assert_eq!(inline("A"), "A");
    }
    use crate::eval::case::{CodeCase, TextCase};

    #[test]
    fn fills_case_vars_inside_the_task() {
        let case = Case::from(TextCase::new("Capital of {{country}}?").var("country", "Peru"));
        let t = PromptTemplate::chat("t", None, "Q: {{task}}");
        assert_eq!(
            t.render(&case).unwrap(),
            Prompt::user("Q: Capital of Peru?")
        );
    }

    #[test]
    fn unfilled_placeholder_is_an_error() {
        let case = Case::from(TextCase::new("x"));
        let t = PromptTemplate::chat("t", None, "{{task}} in {{language}}");
        let err = t.render(&case).unwrap_err();
        assert!(
            matches!(err, TemplateError::Unfilled { ref placeholder, .. } if placeholder == "language")
        );
        assert!(err.to_string().contains("{{language}}"), "{err}");
    }

    #[test]
    fn malformed_placeholder_is_an_error() {
        let t = PromptTemplate::chat("t", None, "{{task");
        assert!(matches!(t.validate(), Err(TemplateError::Malformed { .. })));
    }

    #[test]
    fn code_cases_offer_language_and_prefix() {
        let case = Case::from(CodeCase::python().prompt("add").prefix("def add(a, b):"));
        let t = PromptTemplate::completion("c", "# {{language}}\n{{prefix}}");
        assert_eq!(
            t.render(&case).unwrap(),
            Prompt::Completion("# Python\ndef add(a, b):".into())
        );
    }

    #[test]
    fn template_needs_exactly_one_shape() {
        let mut t = PromptTemplate::chat("t", None, "x");
        t.completion = Some("y".into());
        assert!(matches!(t.validate(), Err(TemplateError::Shape(_))));
    }
}
