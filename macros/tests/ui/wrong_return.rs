use litmus::prelude::*;

#[eval]
fn returns_a_number() -> u32 {
    3
}

fn main() {}
