use litmus::prelude::*;

#[eval(samples = 0)]
fn zero() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(timeout = "soon")]
fn bad_timeout() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(timeout = "0s")]
fn zero_timeout() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(timeout = "999999999999999999h")]
fn huge_timeout() -> TextCase {
    TextCase::new("q").reference("a")
}

#[eval(samples = 4000000000)]
fn too_many() -> TextCase {
    TextCase::new("q").reference("a")
}

fn main() {}
