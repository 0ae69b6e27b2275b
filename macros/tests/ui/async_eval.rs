use litmus::prelude::*;

#[eval]
async fn not_async() -> TextCase {
    TextCase::new("q").reference("a")
}

fn main() {}
