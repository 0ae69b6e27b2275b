use litmus::prelude::*;

#[eval]
fn needs_cases(country: &str) -> TextCase {
    TextCase::new(country).reference("x")
}

fn main() {}
