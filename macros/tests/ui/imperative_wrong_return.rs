use litmus::prelude::*;

#[eval]
fn returns_text(ctx: &mut EvalContext) -> String {
    ctx.ask("hi").unwrap_or_default()
}

fn main() {}
