//! The prompt templates litmus ships.
//!
//! Five chat templates mirror the ones the Julia LLM Leaderboard compares (a
//! plain ask, an expert persona, an expert step-by-step task, a recap with a
//! compact cheat sheet, and a recap step-by-step task), in litmus's own
//! wording; `completion` serves base models, and `base` combines it with
//! `plain` for the cases it cannot render. `plain` and `base` work for every
//! case and `plain` is the default; the others apply to code cases.

use crate::eval::template::{PromptTemplate, TemplateScope};

const RECAP_SYSTEM: &str = "You are a meticulous {{language}} programmer. Quick reference for {{language}}:\n\
- Python: `def f(x: int) -> str:`; lists `[a, b]`, dicts `{k: v}`, f-strings `f\"{x}\"`, `sorted(xs, key=...)`, `str.split()`, `' '.join(xs)`, exceptions with `raise ValueError(...)`.\n\
- Rust: `fn f(x: &str) -> String`; `Vec<T>`, `HashMap<K, V>`, iterators `.iter().map(..).collect()`, `Option`/`Result` with `?`, string slices and `chars()`.\n\
- JavaScript: `function f(x) { ... }`, arrays `.map/.filter/.reduce`, template literals `${x}`, `Object.entries`.\n\
- Bash: functions `f() { ...; }`, `\"$1\"` quoting, `[[ ... ]]` tests, `$(...)` substitution.\n\
Write only the requested code, complete and runnable, inside one fenced code block.";

/// The built-in templates.
pub fn all() -> Vec<PromptTemplate> {
    vec![
        PromptTemplate::chat("plain", None, "{{task}}")
            .with_description("The case's task as the only user message."),
        PromptTemplate::chat("ask", None, "In {{language}}, {{task_inline}}")
            .with_scope(TemplateScope::Code)
            .with_description("A plain ask that names the language."),
        PromptTemplate::chat(
            "expert",
            Some("You are a senior {{language}} engineer. You answer with correct, idiomatic code and keep explanations short."),
            "In {{language}}, {{task_inline}}",
        )
        .with_scope(TemplateScope::Code)
        .with_description("An expert persona in the system message."),
        PromptTemplate::chat(
            "expert-steps",
            Some("You are a senior {{language}} engineer who solves programming tasks methodically."),
            "Task: {{task}}\n\nWork through it in order:\n1. Restate what the function must do and its edge cases.\n2. Plan the solution in a few short steps.\n3. Write the complete {{language}} code in one fenced code block.\n4. Check it mentally against the edge cases.",
        )
        .with_scope(TemplateScope::Code)
        .with_description("An expert persona with a step-by-step task."),
        PromptTemplate::chat("recap", Some(RECAP_SYSTEM), "{{task}}")
            .with_scope(TemplateScope::Code)
            .with_description("A compact language cheat sheet in the system message."),
        PromptTemplate::chat(
            "recap-steps",
            Some(RECAP_SYSTEM),
            "Task: {{task}}\n\nFirst list the steps you will take, then write the complete code in one fenced code block.",
        )
        .with_scope(TemplateScope::Code)
        .with_description("The cheat sheet plus a step-by-step task."),
        PromptTemplate::completion("completion", "{{prefix}}")
            .with_scope(TemplateScope::Code)
            .with_description("Raw completion of the case's signature and docstring, for base models."),
        PromptTemplate::completion("base", "{{prefix}}")
            .with_scope(TemplateScope::Code)
            .or_else(PromptTemplate::chat("base", None, "{{task}}"))
            .with_description(
                "For base models: code cases as `completion`, every other case as `plain` \
                 (which a model without a chat template sees as a Question/Answer transcript).",
            ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_are_valid_and_uniquely_named() {
        let all = all();
        let mut names: Vec<_> = all.iter().map(|t| t.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for t in &all {
            t.validate().unwrap();
        }
        assert_eq!(all[0].name, "plain");
    }

    #[test]
    fn base_completes_code_and_asks_the_rest() {
        use crate::base::backend::Prompt;
        use crate::eval::case::{Case, CodeCase, TextCase};
        let base = all().into_iter().find(|t| t.name == "base").unwrap();
        let code = Case::from(CodeCase::python().prompt("Add.").prefix("def add(a, b):\n"));
        assert_eq!(
            base.render(&code).unwrap(),
            Prompt::Completion("def add(a, b):\n".into())
        );
        let no_prefix = Case::from(CodeCase::python().prompt("Add."));
        let text = Case::from(TextCase::new("Capital of France?"));
        for case in [&no_prefix, &text] {
            assert!(base.applies_to(Some(case)));
            assert!(matches!(base.render(case).unwrap(), Prompt::Chat(_)));
        }
        assert!(base.applies_to(None));
        let vars = [("task".to_string(), "Go.".to_string())]
            .into_iter()
            .collect();
        assert!(matches!(base.render_vars(&vars).unwrap(), Prompt::Chat(_)));
        // `completion` alone does not take text cases.
        let completion = all().into_iter().find(|t| t.name == "completion").unwrap();
        assert!(!completion.applies_to(Some(&text)));
    }
}
