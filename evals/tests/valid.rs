//! The built-in evals validate themselves: every reference solution scores
//! 100 and an empty answer scores 0 (`cargo test -p litmus-evals`).
use litmus_evals as _;

#[test]
fn every_builtin_eval_is_valid() {
    litmus::assert_valid();
}
