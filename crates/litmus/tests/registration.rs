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

/// Ten cases: the first nine keep the names they had with nine.
#[eval(ignore = "needs a bigger model")]
#[case(1)]
#[case(2)]
#[case(3)]
#[case(4)]
#[case(5)]
#[case(6)]
#[case(7)]
#[case(8)]
#[case::nine(9)]
#[case::ten(10)]
fn counts(n: u32) -> TextCase {
    TextCase::new(format!("Say {n}.")).reference(n.to_string())
}

/// A `&mut` parameter supplied by the cases is no eval context.
#[eval]
#[case(&mut vec![1, 2])]
fn takes_a_vec(v: &mut Vec<i32>) -> TextCase {
    v.push(3);
    TextCase::new(format!("Sum {v:?}.")).reference("6")
}

#[test]
fn case_names_are_numbered_from_1_without_padding_and_listed_in_number_order() {
    let all = registry::all().unwrap();
    let counts: Vec<String> = all
        .iter()
        .map(|e| e.full_name())
        .filter(|n| n.starts_with("counts::"))
        .collect();
    let mut expected: Vec<String> = (1..=8).map(|i| format!("counts::case_{i}")).collect();
    expected.extend(["counts::case_9_nine".into(), "counts::case_10_ten".into()]);
    assert_eq!(counts, expected);
    let first = all
        .iter()
        .find(|e| e.full_name() == "counts::case_1")
        .unwrap();
    assert!(first.ignore);
    assert_eq!(first.ignore_reason, "needs a bigger model");
    let vec = all
        .iter()
        .find(|e| e.full_name() == "takes_a_vec::case_1")
        .unwrap();
    assert!(matches!(vec.kind, registry::EntryKind::Declarative(_)));
}
