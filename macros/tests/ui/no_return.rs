use litmus::prelude::*;

#[eval]
fn returns_nothing() {}

fn main() {}
