use litmus::prelude::*;

#[eval(samples = -1)]
fn negative_samples() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(ignore = false)]
fn ignore_bool() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(tags = "python")]
fn tags_string() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(name = my_eval)]
fn name_ident() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(min_score = 0.6)]
fn fraction() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(min_score = 150)]
fn too_high() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(timeout = 1.5)]
fn float_timeout() -> TextCase {
    TextCase::new("q").reference("a")
}

fn main() {}
