//! A mistake in `#[eval(...)]` is a compile error pointing at the offending tokens.
#[test]
fn eval_attribute_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
