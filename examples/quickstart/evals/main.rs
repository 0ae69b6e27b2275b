//! Run with `cargo eval -p quickstart` (or `cargo test -p quickstart --test evals`).

use litmus::prelude::*;

mod arithmetic;

/// A code case: the model's Python runs in a sandbox against the examples and
/// unit tests, and scores 0–100 (25 each for parsing, running, examples, tests).
#[eval(tags = ["python", "easy"])]
fn is_palindrome() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `is_palindrome(s: str) -> bool` that returns True when `s` reads \
             the same backwards as forwards, ignoring case and any character that is not a letter or digit.",
        )
        .prefix("def is_palindrome(s: str) -> bool:\n    \"\"\"True if s is a palindrome, ignoring case and non-alphanumerics.\"\"\"\n")
        .example("is_palindrome('Racecar')")
        .example("is_palindrome('hello')")
        .example("is_palindrome('')")
        .test("assert is_palindrome('A man, a plan, a canal: Panama')")
        .test("assert not is_palindrome('hello')")
        .test("assert is_palindrome('')")
        .test("assert is_palindrome('No lemon, no melon')")
        .reference(
            "def is_palindrome(s: str) -> bool:\n    t = [c.lower() for c in s if c.isalnum()]\n    return t == t[::-1]\n",
        )
}

/// Text cases, parametrized: each `#[case]` is its own eval, filterable by name
/// (`cargo eval capital::case_2_japan`).
#[eval(tags = ["geography"])]
#[case::france("France", "Paris")]
#[case::japan("Japan", "Tokyo")]
#[case::canada("Canada", "Ottawa")]
fn capital(country: &str, city: &str) -> TextCase {
    TextCase::new(format!(
        "What is the capital of {country}? Answer with the name of the city only."
    ))
    .reference(city)
    .metric(Metric::contains())
}

/// An imperative eval: it drives a two-turn conversation itself.
#[eval(tags = ["conversation"], samples = 2)]
fn remembers_a_name(ctx: &mut EvalContext) -> Result<Score, EvalError> {
    let first = Message::user("My name is Ada. Please reply with just: OK");
    let reply = ctx.chat(&[first.clone()])?;
    let answer = ctx.chat(&[
        first,
        Message::assistant(reply),
        Message::user("What is my name? Answer with the name only."),
    ])?;
    Ok(Score::pass_if(answer.to_lowercase().contains("ada")))
}

litmus::main!();
