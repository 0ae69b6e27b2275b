//! What `#[eval]` registers: an imperative eval's code (each case with its
//! own arguments), for `--resume` to see an edited eval; nothing for a
//! declarative one, whose case says it all.

use litmus::internals::core::eval::registry;
use litmus::prelude::*;

/// Its documentation is not its code.
#[eval]
fn asks_once(ctx: &mut EvalContext) -> Result<Score, EvalError> {
    let answer = ctx.ask("Capital of France?")?;
    Ok(Score::pass_if(answer.contains("Paris")))
}

#[eval]
#[case("Paris")]
#[case("Lima")]
fn asks_for(ctx: &mut EvalContext, city: &str) -> Result<Score, EvalError> {
    let answer = ctx.ask("A capital?")?;
    Ok(Score::pass_if(answer.contains(city)))
}

#[eval]
fn declared() -> TextCase {
    TextCase::new("Capital of Peru?").reference("Lima")
}

/// An eval may be named like the wrapper's own parameter.
#[eval]
fn ctx(ctx: &mut EvalContext) -> Result<Score, EvalError> {
    Ok(Score::pass_if(
        !ctx.chat(&[Message::user("Hi")])?.is_empty(),
    ))
}

#[test]
fn an_imperative_eval_registers_its_code_and_each_case_its_arguments() {
    let all = registry::all().unwrap();
    let code = |name: &str| {
        all.iter()
            .find(|e| e.full_name() == name)
            .unwrap_or_else(|| panic!("{name} not registered"))
            .code
    };
    let once = code("asks_once");
    assert!(once.contains("fn asks_once"), "{once}");
    assert!(once.contains("Capital of France?"), "{once}");
    assert!(
        !once.contains("documentation"),
        "the attribute and the doc comment are not the code: {once}"
    );
    let (paris, lima) = (code("asks_for::case_1"), code("asks_for::case_2"));
    assert!(
        paris.contains("\"Paris\"") && lima.contains("\"Lima\""),
        "{paris}\n{lima}"
    );
    assert_ne!(paris, lima);
    assert_eq!(code("declared"), "");
    assert!(code("ctx").contains("fn ctx"));
}
