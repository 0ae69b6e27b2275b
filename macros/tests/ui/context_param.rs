use litmus::prelude::*;

#[eval]
fn borrows_a_vec(v: &mut Vec<i32>) -> TextCase {
    TextCase::new(format!("{v:?}")).reference("a")
}

#[eval]
fn shared_context(ctx: &EvalContext) -> f64 {
    let _ = ctx;
    1.0
}

#[eval]
#[case(1)]
fn context_second(n: u32, ctx: &mut EvalContext) -> f64 {
    let _ = (n, ctx);
    1.0
}

fn main() {}
