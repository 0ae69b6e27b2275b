use litmus::prelude::*;

#[eval]
#[case::one("France", "Paris")]
#[case::two("Peru")]
fn capital(country: &str, city: &str) -> TextCase {
    TextCase::new(country).reference(city)
}

fn main() {}
