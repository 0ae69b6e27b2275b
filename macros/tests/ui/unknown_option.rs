use litmus::prelude::*;

#[eval(tags = ["a"], sampels = 3)]
fn typo() -> TextCase {
    TextCase::new("q").reference("a")
}

fn main() {}
