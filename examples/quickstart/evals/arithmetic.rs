//! Evals can live in modules of the eval target: their names carry the
//! module path (`arithmetic::add_small`).

use litmus::prelude::*;

#[eval(tags = ["math", "easy"])]
fn add_small() -> TextCase {
    TextCase::new("What is 17 + 25? Answer with the number only.")
        .reference("42")
        .metric(Metric::regex(r"\b42\b"))
}
