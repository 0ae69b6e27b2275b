use litmus::prelude::*;

#[eval(samples = 0)]
fn zero() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(timeout = "soon")]
fn bad_timeout() -> TextCase {
    TextCase::new("q").reference("a")
}

fn main() {}
