use litmus::prelude::*;

#[eval(samples = 2, samples = 3)]
fn twice() -> TextCase {
    TextCase::new("q").reference("a")
}

fn main() {}
