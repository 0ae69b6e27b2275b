//! Rust code generation, graded `starter`, `easy`, `medium` and `hard`; std only.
//!
//! The sandbox compiles the answer's items together with one function per
//! example and unit test, so examples are statements such as
//! `let _ = add(1, 2);` and tests are assertions such as
//! `assert_eq!(add(1, 2), 3);`. The prefix (doc comment and signature, up to
//! the opening brace) serves completion-style templates.
//!
//! `starter` cases are the lowest rung, meant to tell very small models apart:
//! short functions on integers returning a number, a boolean or a `&'static
//! str`, whose obvious first draft compiles but misses an edge case the prompt
//! states (zero, negative numbers, a zero divisor, range boundaries,
//! overflow). Some prefixes also show example results in the doc comment or
//! open the body with its first line (such as `if a == b && b == c {`), so the
//! model completes a chain of branches rather than writing the function from
//! scratch.

use litmus::prelude::*;

// ---------------------------------------------------------------------------
// Starter
// ---------------------------------------------------------------------------

#[eval(tags = ["rust", "code", "algorithms", "starter"])]
fn sign_of() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn sign_of(n: i32) -> i32` that returns `1` when `n` is \
             positive, `-1` when it is negative and `0` when it is zero. For example, \
             `sign_of(42)` returns `1` and `sign_of(-7)` returns `-1`.",
        )
        .prefix(
            r"/// The sign of `n`: 1 if positive, -1 if negative, 0 if zero.
fn sign_of(n: i32) -> i32 {
",
        )
        .examples([
            "let _ = sign_of(42);",
            "let _ = sign_of(-7);",
            "let _ = sign_of(0);",
        ])
        .tests([
            "assert_eq!(sign_of(42), 1);",
            "assert_eq!(sign_of(-7), -1);",
            "assert_eq!(sign_of(0), 0);",
            "assert_eq!(sign_of(i32::MIN), -1);",
        ])
        .reference(
            r"fn sign_of(n: i32) -> i32 {
    n.signum()
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "starter"])]
fn last_digit() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn last_digit(n: i32) -> i32` that returns the last decimal \
             digit of `n`, always between 0 and 9 (for a negative number, the last digit of its \
             absolute value). For example, `last_digit(1234)` returns `4` and `last_digit(-47)` \
             returns `7`.",
        )
        .prefix(
            r"/// The last decimal digit of `n`, from 0 to 9 (for a negative `n`, that of its
/// absolute value).
fn last_digit(n: i32) -> i32 {
",
        )
        .examples([
            "let _ = last_digit(1234);",
            "let _ = last_digit(0);",
            "let _ = last_digit(-47);",
        ])
        .tests([
            "assert_eq!(last_digit(1234), 4);",
            "assert_eq!(last_digit(0), 0);",
            "assert_eq!(last_digit(10), 0);",
            "assert_eq!(last_digit(-47), 7);",
            "assert_eq!(last_digit(i32::MIN), 8);",
        ])
        .reference(
            r"fn last_digit(n: i32) -> i32 {
    (n % 10).abs()
}
",
        )
}

#[eval(tags = ["rust", "code", "utilities", "starter"])]
fn percent_of() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn percent_of(part: u32, total: u32) -> u32` that returns \
             what percentage `part` is of `total`, rounded down to a whole number. A `total` of \
             zero gives `0`. For example, `percent_of(1, 4)` returns `25` and `percent_of(1, 3)` \
             returns `33`.",
        )
        .prefix(
            r"/// `part` as a whole percentage of `total`, rounded down (0 when `total` is 0).
fn percent_of(part: u32, total: u32) -> u32 {
",
        )
        .examples([
            "let _ = percent_of(1, 4);",
            "let _ = percent_of(2, 3);",
            "let _ = percent_of(3, 0);",
        ])
        .tests([
            "assert_eq!(percent_of(1, 4), 25);",
            "assert_eq!(percent_of(1, 3), 33);",
            "assert_eq!(percent_of(0, 5), 0);",
            "assert_eq!(percent_of(5, 5), 100);",
            "assert_eq!(percent_of(3, 0), 0);",
        ])
        .reference(
            r"fn percent_of(part: u32, total: u32) -> u32 {
    if total == 0 {
        return 0;
    }
    (u64::from(part) * 100 / u64::from(total)) as u32
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "starter"])]
fn triangle_kind() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn triangle_kind(a: u32, b: u32, c: u32) -> &'static str` \
             that classifies a triangle by its side lengths: `\"equilateral\"` when all three \
             are equal, `\"isosceles\"` when exactly two are equal (any two), and `\"scalene\"` \
             when all differ. For example, `triangle_kind(3, 4, 4)` returns `\"isosceles\"`.",
        )
        .prefix(
            r#"/// "equilateral" (three equal sides), "isosceles" (two equal sides, any two)
/// or "scalene" (all different).
fn triangle_kind(a: u32, b: u32, c: u32) -> &'static str {
    if a == b && b == c {
"#,
        )
        .examples([
            "let _ = triangle_kind(2, 2, 2);",
            "let _ = triangle_kind(3, 4, 4);",
            "let _ = triangle_kind(3, 4, 5);",
        ])
        .tests([
            r#"assert_eq!(triangle_kind(2, 2, 2), "equilateral");"#,
            r#"assert_eq!(triangle_kind(5, 5, 8), "isosceles");"#,
            r#"assert_eq!(triangle_kind(3, 4, 5), "scalene");"#,
            r#"assert_eq!(triangle_kind(3, 4, 4), "isosceles");"#,
            r#"assert_eq!(triangle_kind(6, 2, 6), "isosceles");"#,
        ])
        .reference(
            r#"fn triangle_kind(a: u32, b: u32, c: u32) -> &'static str {
    if a == b && b == c {
        "equilateral"
    } else if a == b || b == c || a == c {
        "isosceles"
    } else {
        "scalene"
    }
}
"#,
        )
}

#[eval(tags = ["rust", "code", "utilities", "starter"])]
fn speed_label_of() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn speed_label_of(kmh: u32) -> &'static str` that labels a \
             speed in km/h: `\"slow\"` below 30, `\"fast\"` from 90 on, `\"normal\"` otherwise. \
             For example, `speed_label_of(50)` returns `\"normal\"` and `speed_label_of(90)` \
             returns `\"fast\"`.",
        )
        .prefix(
            r#"/// "slow" below 30 km/h, "fast" from 90 km/h, "normal" in between.
fn speed_label_of(kmh: u32) -> &'static str {
    if kmh < 30 {
"#,
        )
        .examples([
            "let _ = speed_label_of(10);",
            "let _ = speed_label_of(50);",
            "let _ = speed_label_of(130);",
        ])
        .tests([
            r#"assert_eq!(speed_label_of(10), "slow");"#,
            r#"assert_eq!(speed_label_of(50), "normal");"#,
            r#"assert_eq!(speed_label_of(130), "fast");"#,
            r#"assert_eq!(speed_label_of(30), "normal");"#,
            r#"assert_eq!(speed_label_of(90), "fast");"#,
            r#"assert_eq!(speed_label_of(0), "slow");"#,
        ])
        .reference(
            r#"fn speed_label_of(kmh: u32) -> &'static str {
    if kmh < 30 {
        "slow"
    } else if kmh >= 90 {
        "fast"
    } else {
        "normal"
    }
}
"#,
        )
}

#[eval(tags = ["rust", "code", "algorithms", "starter"])]
fn is_pow2() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn is_pow2(n: u32) -> bool` that returns true when `n` is a \
             power of two (1, 2, 4, 8, ...); 0 is not one. For example, `is_pow2(8)` returns \
             `true` and `is_pow2(6)` returns `false`.",
        )
        .prefix(
            r"/// Whether `n` is a power of two (1, 2, 4, 8, ...); 0 is not.
fn is_pow2(n: u32) -> bool {
",
        )
        .examples([
            "let _ = is_pow2(8);",
            "let _ = is_pow2(6);",
            "let _ = is_pow2(0);",
        ])
        .tests([
            "assert!(is_pow2(8));",
            "assert!(!is_pow2(6));",
            "assert!(is_pow2(1));",
            "assert!(!is_pow2(0));",
            "assert!(is_pow2(1024));",
            "assert!(!is_pow2(12));",
        ])
        .reference(
            r"fn is_pow2(n: u32) -> bool {
    n != 0 && n & (n - 1) == 0
}
",
        )
}

#[eval(tags = ["rust", "code", "utilities", "starter"])]
fn is_teen() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn is_teen(age: u32) -> bool` that returns true when `age` \
             is in the teens, from 13 to 19 years inclusive. For example, `is_teen(15)` returns \
             `true` and `is_teen(12)` returns `false`.",
        )
        .prefix(
            r"/// Whether `age` is from 13 to 19 inclusive.
fn is_teen(age: u32) -> bool {
    if age < 13 {
",
        )
        .examples([
            "let _ = is_teen(15);",
            "let _ = is_teen(12);",
            "let _ = is_teen(20);",
        ])
        .tests([
            "assert!(is_teen(15));",
            "assert!(!is_teen(12));",
            "assert!(!is_teen(20));",
            "assert!(is_teen(13));",
            "assert!(is_teen(19));",
            "assert!(!is_teen(0));",
        ])
        .reference(
            r"fn is_teen(age: u32) -> bool {
    (13..=19).contains(&age)
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "starter"])]
fn median_of_three() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn median_of_three(a: i32, b: i32, c: i32) -> i32` that \
             returns the middle value of its three arguments once sorted. For example, \
             `median_of_three(3, 1, 2)` returns `2` and `median_of_three(5, 5, 1)` returns `5`.",
        )
        .prefix(
            r"/// The middle value of `a`, `b` and `c` once sorted.
fn median_of_three(a: i32, b: i32, c: i32) -> i32 {
",
        )
        .examples([
            "let _ = median_of_three(3, 1, 2);",
            "let _ = median_of_three(5, 5, 1);",
            "let _ = median_of_three(-4, 0, 9);",
        ])
        .tests([
            "assert_eq!(median_of_three(3, 1, 2), 2);",
            "assert_eq!(median_of_three(1, 2, 3), 2);",
            "assert_eq!(median_of_three(9, 7, 8), 8);",
            "assert_eq!(median_of_three(5, 5, 1), 5);",
            "assert_eq!(median_of_three(-4, 0, 9), 0);",
            "assert_eq!(median_of_three(2, 6, 4), 4);",
        ])
        .reference(
            r"fn median_of_three(a: i32, b: i32, c: i32) -> i32 {
    a.max(b).min(a.min(b).max(c))
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "starter"])]
fn next_multiple_of_ten() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn next_multiple_of_ten(n: u32) -> u32` that returns the \
             smallest multiple of ten that is greater than or equal to `n`. For example, \
             `next_multiple_of_ten(23)` returns `30` and `next_multiple_of_ten(40)` returns \
             `40`.",
        )
        .prefix(
            r"/// The smallest multiple of ten that is at least `n`.
fn next_multiple_of_ten(n: u32) -> u32 {
",
        )
        .examples([
            "let _ = next_multiple_of_ten(23);",
            "let _ = next_multiple_of_ten(40);",
            "let _ = next_multiple_of_ten(0);",
        ])
        .tests([
            "assert_eq!(next_multiple_of_ten(23), 30);",
            "assert_eq!(next_multiple_of_ten(1), 10);",
            "assert_eq!(next_multiple_of_ten(40), 40);",
            "assert_eq!(next_multiple_of_ten(0), 0);",
            "assert_eq!(next_multiple_of_ten(99), 100);",
        ])
        .reference(
            r"fn next_multiple_of_ten(n: u32) -> u32 {
    n.div_ceil(10) * 10
}
",
        )
}

#[eval(tags = ["rust", "code", "utilities", "starter"])]
fn tax_rate() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn tax_rate(income: u32) -> u32` that returns the tax rate \
             in percent for a yearly income: 0 up to 10000 included, 20 above 10000 up to 50000 \
             included, and 40 above 50000. For example, `tax_rate(30000)` returns `20` and \
             `tax_rate(10000)` returns `0`.",
        )
        .prefix(
            r"/// The tax rate in percent: 0 up to 10000 (included), 20 up to 50000
/// (included), 40 above.
fn tax_rate(income: u32) -> u32 {
    if income <= 10000 {
",
        )
        .examples([
            "let _ = tax_rate(30000);",
            "let _ = tax_rate(10000);",
            "let _ = tax_rate(80000);",
        ])
        .tests([
            "assert_eq!(tax_rate(5000), 0);",
            "assert_eq!(tax_rate(30000), 20);",
            "assert_eq!(tax_rate(80000), 40);",
            "assert_eq!(tax_rate(10000), 0);",
            "assert_eq!(tax_rate(50000), 20);",
            "assert_eq!(tax_rate(50001), 40);",
        ])
        .reference(
            r"fn tax_rate(income: u32) -> u32 {
    if income <= 10000 {
        0
    } else if income <= 50000 {
        20
    } else {
        40
    }
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "starter"])]
fn round_down_to() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn round_down_to(n: u32, step: u32) -> u32` that rounds `n` \
             down to a multiple of `step`; a `step` of 0 leaves `n` unchanged. For example, \
             `round_down_to(17, 5)` returns `15` and `round_down_to(17, 0)` returns `17`.",
        )
        .prefix(
            r"/// `n` rounded down to a multiple of `step` (`n` itself when `step` is 0).
fn round_down_to(n: u32, step: u32) -> u32 {
",
        )
        .examples([
            "let _ = round_down_to(17, 5);",
            "let _ = round_down_to(20, 5);",
            "let _ = round_down_to(17, 0);",
        ])
        .tests([
            "assert_eq!(round_down_to(17, 5), 15);",
            "assert_eq!(round_down_to(20, 5), 20);",
            "assert_eq!(round_down_to(3, 10), 0);",
            "assert_eq!(round_down_to(17, 0), 17);",
            "assert_eq!(round_down_to(99, 1), 99);",
        ])
        .reference(
            r"fn round_down_to(n: u32, step: u32) -> u32 {
    if step == 0 {
        n
    } else {
        n / step * step
    }
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "starter"])]
fn floor_div() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn floor_div(a: i32, b: i32) -> i32` that divides `a` by the \
             non-zero `b` and rounds the quotient down, toward negative infinity (Rust's `/` \
             rounds toward zero instead). For example, `floor_div(7, 2)` returns `3` and \
             `floor_div(-7, 2)` returns `-4`.",
        )
        .prefix(
            r"/// `a / b` rounded down, toward negative infinity (`b` is not zero).
///
/// `floor_div(7, 2)` is 3 and `floor_div(-7, 2)` is -4.
fn floor_div(a: i32, b: i32) -> i32 {
",
        )
        .examples([
            "let _ = floor_div(7, 2);",
            "let _ = floor_div(-7, 2);",
            "let _ = floor_div(6, -3);",
        ])
        .tests([
            "assert_eq!(floor_div(7, 2), 3);",
            "assert_eq!(floor_div(6, 3), 2);",
            "assert_eq!(floor_div(-7, 2), -4);",
            "assert_eq!(floor_div(7, -2), -4);",
            "assert_eq!(floor_div(-6, 3), -2);",
            "assert_eq!(floor_div(-7, -2), 3);",
        ])
        .reference(
            r"fn floor_div(a: i32, b: i32) -> i32 {
    let q = a / b;
    if a % b != 0 && (a < 0) != (b < 0) {
        q - 1
    } else {
        q
    }
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "starter"])]
fn average_of_two() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn average_of_two(a: i32, b: i32) -> i32` that returns the \
             average of `a` and `b` rounded toward zero, without overflowing for large inputs. \
             For example, `average_of_two(3, 8)` returns `5` and `average_of_two(i32::MAX, \
             i32::MAX)` returns `i32::MAX`.",
        )
        .prefix(
            r"/// The average of `a` and `b`, rounded toward zero, without overflow.
fn average_of_two(a: i32, b: i32) -> i32 {
",
        )
        .examples([
            "let _ = average_of_two(3, 8);",
            "let _ = average_of_two(-4, -6);",
            "let _ = average_of_two(i32::MAX, i32::MAX);",
        ])
        .tests([
            "assert_eq!(average_of_two(3, 8), 5);",
            "assert_eq!(average_of_two(-4, -6), -5);",
            "assert_eq!(average_of_two(0, 0), 0);",
            "assert_eq!(average_of_two(i32::MAX, i32::MAX), i32::MAX);",
            "assert_eq!(average_of_two(i32::MIN, i32::MIN), i32::MIN);",
        ])
        .reference(
            r"fn average_of_two(a: i32, b: i32) -> i32 {
    ((i64::from(a) + i64::from(b)) / 2) as i32
}
",
        )
}

// ---------------------------------------------------------------------------
// Easy
// ---------------------------------------------------------------------------

#[eval(tags = ["rust", "code", "data", "easy"])]
fn sum_evens() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn sum_evens(nums: &[i32]) -> i32` that returns the sum of \
             the even numbers in the slice (negative even numbers count too). An empty slice, or \
             one without even numbers, gives 0. \
             For example, `sum_evens(&[1, 2, 3, 4])` returns `6`.",
        )
        .prefix(
            r"/// Returns the sum of the even numbers in `nums` (0 if there are none).
fn sum_evens(nums: &[i32]) -> i32 {
",
        )
        .examples([
            "let _ = sum_evens(&[1, 2, 3, 4]);",
            "let _ = sum_evens(&[]);",
            "let _ = sum_evens(&[-2, 7]);",
        ])
        .tests([
            "assert_eq!(sum_evens(&[1, 2, 3, 4]), 6);",
            "assert_eq!(sum_evens(&[]), 0);",
            "assert_eq!(sum_evens(&[1, 3, 5]), 0);",
            "assert_eq!(sum_evens(&[-2, -3, 10]), 8);",
        ])
        .reference(
            r"fn sum_evens(nums: &[i32]) -> i32 {
    nums.iter().filter(|n| *n % 2 == 0).sum()
}
",
        )
}

#[eval(tags = ["rust", "code", "strings", "easy"])]
fn count_char() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn count_char(s: &str, c: char) -> usize` that returns how \
             many times the character `c` occurs in `s`. The comparison is case-sensitive and \
             works on Unicode characters, not bytes. \
             For example, `count_char(\"banana\", 'a')` returns `3`.",
        )
        .prefix(
            r"/// Counts the occurrences of the character `c` in `s` (case-sensitive).
fn count_char(s: &str, c: char) -> usize {
",
        )
        .examples([
            r#"let _ = count_char("banana", 'a');"#,
            r#"let _ = count_char("", 'x');"#,
            r#"let _ = count_char("héllo", 'é');"#,
        ])
        .tests([
            r#"assert_eq!(count_char("banana", 'a'), 3);"#,
            r#"assert_eq!(count_char("", 'x'), 0);"#,
            r#"assert_eq!(count_char("Banana", 'b'), 0);"#,
            r#"assert_eq!(count_char("héllo wörld é", 'é'), 2);"#,
        ])
        .reference(
            r"fn count_char(s: &str, c: char) -> usize {
    s.chars().filter(|&x| x == c).count()
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "easy"])]
fn max_value() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn max_value(nums: &[i64]) -> Option<i64>` that returns the \
             largest number in the slice, or `None` when the slice is empty. \
             For example, `max_value(&[3, 9, 2])` returns `Some(9)`.",
        )
        .prefix(
            r"/// Returns the largest element of `nums`, or `None` if it is empty.
fn max_value(nums: &[i64]) -> Option<i64> {
",
        )
        .examples([
            "let _ = max_value(&[3, 9, 2]);",
            "let _ = max_value(&[]);",
            "let _ = max_value(&[-5]);",
        ])
        .tests([
            "assert_eq!(max_value(&[3, 9, 2]), Some(9));",
            "assert_eq!(max_value(&[]), None);",
            "assert_eq!(max_value(&[-7, -1, -3]), Some(-1));",
            "assert_eq!(max_value(&[42]), Some(42));",
        ])
        .reference(
            r"fn max_value(nums: &[i64]) -> Option<i64> {
    nums.iter().copied().max()
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "easy"])]
fn factorial() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn factorial(n: u64) -> u64` that returns n! (the product of \
             the integers from 1 to n), with `factorial(0) == 1`. Inputs are at most 20, so the \
             result fits in a `u64`. \
             For example, `factorial(5)` returns `120`.",
        )
        .prefix(
            r"/// Returns n! (with 0! = 1); `n` is at most 20.
fn factorial(n: u64) -> u64 {
",
        )
        .examples([
            "let _ = factorial(0);",
            "let _ = factorial(5);",
            "let _ = factorial(20);",
        ])
        .tests([
            "assert_eq!(factorial(0), 1);",
            "assert_eq!(factorial(1), 1);",
            "assert_eq!(factorial(5), 120);",
            "assert_eq!(factorial(20), 2_432_902_008_176_640_000);",
        ])
        .reference(
            r"fn factorial(n: u64) -> u64 {
    (1..=n).product()
}
",
        )
}

// ---------------------------------------------------------------------------
// Medium
// ---------------------------------------------------------------------------

#[eval(tags = ["rust", "code", "strings", "medium"])]
fn word_count() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn word_count(text: &str) -> HashMap<String, usize>` (with \
             `use std::collections::HashMap;`) that counts words. Split `text` on whitespace, \
             remove ASCII punctuation from both ends of each piece, lower-case it, and skip \
             pieces that become empty. Return a map from each word to its number of \
             occurrences. \
             For example, `word_count(\"The cat saw the dog.\")[\"the\"]` is `2`.",
        )
        .prefix(
            r"use std::collections::HashMap;

/// Counts the lower-cased whitespace-separated words of `text`, with ASCII
/// punctuation trimmed from both ends of each word; empty words are skipped.
fn word_count(text: &str) -> HashMap<String, usize> {
",
        )
        .examples([
            r#"let _ = word_count("The cat saw the dog.");"#,
            r#"let _ = word_count("");"#,
            r#"let _ = word_count("a, b, a");"#,
        ])
        .tests([
            r#"assert_eq!(word_count("The cat saw the dog.")["the"], 2);"#,
            r#"assert!(word_count("").is_empty());"#,
            r#"assert_eq!(word_count("a b a").len(), 2);"#,
            r#"assert_eq!(word_count("Hi! hi? (HI)")["hi"], 3);"#,
            r#"assert!(word_count("-- !!").is_empty());"#,
            r#"assert_eq!(word_count("don't stop")["don't"], 1);"#,
        ])
        .reference(
            r"use std::collections::HashMap;

fn word_count(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for piece in text.split_whitespace() {
        let word = piece.trim_matches(|c: char| c.is_ascii_punctuation());
        if !word.is_empty() {
            *counts.entry(word.to_lowercase()).or_insert(0) += 1;
        }
    }
    counts
}
",
        )
}

#[eval(tags = ["rust", "code", "strings", "medium"])]
fn rle_compress() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn rle_compress(s: &str) -> String` that run-length encodes \
             a string: every maximal run of the same character becomes the character followed \
             by the run length, except that runs of length 1 are written as the character alone. \
             Work on Unicode characters, not bytes. \
             For example, `rle_compress(\"aaabcc\")` returns `\"a3bc2\"`.",
        )
        .prefix(
            r#"/// Run-length encodes `s`: each run of a repeated character becomes the character
/// followed by its count, and a single character stays as it is ("aaabcc" -> "a3bc2").
fn rle_compress(s: &str) -> String {
"#,
        )
        .examples([
            r#"let _ = rle_compress("aaabcc");"#,
            r#"let _ = rle_compress("");"#,
            r#"let _ = rle_compress("abc");"#,
        ])
        .tests([
            r#"assert_eq!(rle_compress("aaabcc"), "a3bc2");"#,
            r#"assert_eq!(rle_compress(""), "");"#,
            r#"assert_eq!(rle_compress("abc"), "abc");"#,
            r#"assert_eq!(rle_compress(&"z".repeat(12)), "z12");"#,
            r#"assert_eq!(rle_compress("ééa"), "é2a");"#,
        ])
        .reference(
            r"fn rle_compress(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let mut run = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            run += 1;
        }
        out.push(c);
        if run > 1 {
            out.push_str(&run.to_string());
        }
    }
    out
}
",
        )
}

#[eval(tags = ["rust", "code", "strings", "medium"])]
fn caesar_shift() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn caesar_shift(text: &str, shift: u32) -> String` that \
             applies a Caesar cipher: every ASCII letter is moved `shift` places forward in the \
             alphabet, wrapping around from `z` to `a`, and keeps its case; all other characters \
             are unchanged. `shift` may be larger than 26. \
             For example, `caesar_shift(\"xyz\", 3)` returns `\"abc\"`.",
        )
        .prefix(
            r"/// Shifts each ASCII letter of `text` forward by `shift` places (wrapping, keeping
/// case); other characters are unchanged.
fn caesar_shift(text: &str, shift: u32) -> String {
",
        )
        .examples([
            r#"let _ = caesar_shift("abc", 1);"#,
            r#"let _ = caesar_shift("", 5);"#,
            r#"let _ = caesar_shift("Hello, World!", 13);"#,
        ])
        .tests([
            r#"assert_eq!(caesar_shift("abc", 1), "bcd");"#,
            r#"assert_eq!(caesar_shift("xyz", 3), "abc");"#,
            r#"assert_eq!(caesar_shift("Hello, World!", 13), "Uryyb, Jbeyq!");"#,
            r#"assert_eq!(caesar_shift("Zebra", 52), "Zebra");"#,
            r#"assert_eq!(caesar_shift("ß 1", 4), "ß 1");"#,
        ])
        .reference(
            r"fn caesar_shift(text: &str, shift: u32) -> String {
    let shift = (shift % 26) as u8;
    text.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                let base = if c.is_ascii_uppercase() { b'A' } else { b'a' };
                ((c as u8 - base + shift) % 26 + base) as char
            } else {
                c
            }
        })
        .collect()
}
",
        )
}

#[eval(tags = ["rust", "code", "algorithms", "medium"])]
fn is_balanced() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn is_balanced(s: &str) -> bool` that returns true when the \
             brackets `()`, `[]` and `{}` in `s` are balanced: every opening bracket is closed by \
             the matching kind of bracket, in the right order. Other characters are ignored, so a \
             string without brackets is balanced. \
             For example, `is_balanced(\"v[i] + (a * b)\")` is true and `is_balanced(\"([)]\")` \
             is false.",
        )
        .prefix(
            r"/// Returns true if the (), [] and {} brackets in `s` are properly matched and
/// nested; other characters are ignored.
fn is_balanced(s: &str) -> bool {
",
        )
        .examples([
            r#"let _ = is_balanced("([]{})");"#,
            r#"let _ = is_balanced("([)]");"#,
            r#"let _ = is_balanced("");"#,
        ])
        .tests([
            r#"assert!(is_balanced("([]{})"));"#,
            r#"assert!(!is_balanced("([)]"));"#,
            r#"assert!(is_balanced(""));"#,
            r#"assert!(!is_balanced("(("));"#,
            r#"assert!(is_balanced("v[i] + (a * b) {}"));"#,
            r#"assert!(!is_balanced(")("));"#,
        ])
        .reference(
            r"fn is_balanced(s: &str) -> bool {
    let mut stack = Vec::new();
    for c in s.chars() {
        match c {
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return false;
                }
            }
            _ => {}
        }
    }
    stack.is_empty()
}
",
        )
}

#[eval(tags = ["rust", "code", "parsing", "medium"])]
fn parse_kv() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn parse_kv(line: &str) -> Option<(String, String)>` that \
             parses one `key=value` line. Split at the first `=` and trim whitespace around the \
             key and the value. Return `None` when the line has no `=` or the trimmed key is \
             empty; an empty value is allowed. \
             For example, `parse_kv(\" name = Ada \")` returns \
             `Some((\"name\".to_string(), \"Ada\".to_string()))`.",
        )
        .prefix(
            r"/// Parses `key=value` (split at the first '=', both sides trimmed); `None` without
/// an '=' or with an empty key.
fn parse_kv(line: &str) -> Option<(String, String)> {
",
        )
        .examples([
            r#"let _ = parse_kv("a=1");"#,
            r#"let _ = parse_kv("novalue");"#,
            r#"let _ = parse_kv("x=");"#,
        ])
        .tests([
            r#"assert_eq!(parse_kv("a=1"), Some(("a".to_string(), "1".to_string())));"#,
            r#"assert_eq!(parse_kv(" name = Ada Lovelace "), Some(("name".to_string(), "Ada Lovelace".to_string())));"#,
            r#"assert_eq!(parse_kv("novalue"), None);"#,
            r#"assert_eq!(parse_kv(" =5"), None);"#,
            r#"assert_eq!(parse_kv("x="), Some(("x".to_string(), String::new())));"#,
            r#"assert_eq!(parse_kv("url=a=b"), Some(("url".to_string(), "a=b".to_string())));"#,
        ])
        .reference(
            r"fn parse_kv(line: &str) -> Option<(String, String)> {
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() {
        return None;
    }
    Some((key.to_string(), value.trim().to_string()))
}
",
        )
}

#[eval(tags = ["rust", "code", "utilities", "medium"])]
fn compare_versions() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering` \
             that compares two version strings made of non-negative integers separated by dots, \
             such as `\"1.10.2\"`. Compare the components numerically from left to right; a \
             missing component counts as 0, so `\"1.2\"` equals `\"1.2.0\"`. \
             For example, `compare_versions(\"1.10\", \"1.9\")` returns `Ordering::Greater`.",
        )
        .prefix(
            r#"use std::cmp::Ordering;

/// Compares dot-separated numeric versions component by component; missing
/// components count as 0 ("1.2" == "1.2.0").
fn compare_versions(a: &str, b: &str) -> Ordering {
"#,
        )
        .examples([
            r#"let _ = compare_versions("1.2", "1.2.0");"#,
            r#"let _ = compare_versions("1.10", "1.9");"#,
            r#"let _ = compare_versions("0.9.9", "1");"#,
        ])
        .tests([
            r#"assert_eq!(compare_versions("1.2", "1.2.0"), std::cmp::Ordering::Equal);"#,
            r#"assert_eq!(compare_versions("1.10", "1.9"), std::cmp::Ordering::Greater);"#,
            r#"assert_eq!(compare_versions("0.9.9", "1"), std::cmp::Ordering::Less);"#,
            r#"assert_eq!(compare_versions("2.0.1", "2.0.0"), std::cmp::Ordering::Greater);"#,
            r#"assert_eq!(compare_versions("3", "3.0.0.1"), std::cmp::Ordering::Less);"#,
        ])
        .reference(
            r"use std::cmp::Ordering;

fn compare_versions(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (x, y) = (parse(a), parse(b));
    for i in 0..x.len().max(y.len()) {
        let ord = x.get(i).unwrap_or(&0).cmp(y.get(i).unwrap_or(&0));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}
",
        )
}

// ---------------------------------------------------------------------------
// Hard
// ---------------------------------------------------------------------------

#[eval(tags = ["rust", "code", "algorithms", "hard"])]
fn merge_intervals() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn merge_intervals(intervals: &[(i32, i32)]) -> Vec<(i32, \
             i32)>` that merges overlapping intervals. Each interval is `(start, end)` with \
             `start <= end`, in any order. Intervals that overlap or touch (one ends where \
             another starts) become one. Return the merged intervals sorted by start; an empty \
             slice gives an empty vector. \
             For example, `merge_intervals(&[(8, 10), (1, 3), (2, 6)])` returns \
             `vec![(1, 6), (8, 10)]`.",
        )
        .prefix(
            r"/// Merges overlapping or touching `(start, end)` intervals and returns them
/// sorted by start.
fn merge_intervals(intervals: &[(i32, i32)]) -> Vec<(i32, i32)> {
",
        )
        .examples([
            "let _ = merge_intervals(&[(1, 3), (2, 6), (8, 10)]);",
            "let _ = merge_intervals(&[]);",
            "let _ = merge_intervals(&[(5, 7), (1, 2)]);",
        ])
        .tests([
            "assert_eq!(merge_intervals(&[(1, 3), (2, 6), (8, 10)]), vec![(1, 6), (8, 10)]);",
            "assert_eq!(merge_intervals(&[]), vec![]);",
            "assert_eq!(merge_intervals(&[(5, 7), (1, 2)]), vec![(1, 2), (5, 7)]);",
            "assert_eq!(merge_intervals(&[(1, 4), (4, 5)]), vec![(1, 5)]);",
            "assert_eq!(merge_intervals(&[(1, 10), (2, 3), (4, 5)]), vec![(1, 10)]);",
            "assert_eq!(merge_intervals(&[(-3, -1), (-2, 0), (3, 3)]), vec![(-3, 0), (3, 3)]);",
        ])
        .reference(
            r"fn merge_intervals(intervals: &[(i32, i32)]) -> Vec<(i32, i32)> {
    let mut sorted = intervals.to_vec();
    sorted.sort();
    let mut merged: Vec<(i32, i32)> = Vec::new();
    for (start, end) in sorted {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}
",
        )
}

#[eval(tags = ["rust", "code", "parsing", "hard"])]
fn parse_duration() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn parse_duration(s: &str) -> Result<u64, String>` that \
             converts a duration such as `\"1h30m\"`, `\"45s\"` or `\"2d 4h\"` to seconds. The \
             text is one or more groups, each a non-negative integer immediately followed by a \
             unit: `d` (days), `h` (hours), `m` (minutes) or `s` (seconds). Groups may be \
             separated by spaces and surrounding whitespace is ignored. Return `Err` with a \
             message for an empty string or any other text, e.g. `\"10\"`, `\"5x\"` or \
             `\"h\"`. \
             For example, `parse_duration(\"1h30m\")` returns `Ok(5400)`.",
        )
        .prefix(
            r#"/// Parses a duration made of `<integer><unit>` groups (units d, h, m, s; groups may
/// be separated by spaces) into seconds, e.g. "1h30m" -> 5400. Anything else,
/// including an empty string, is an `Err`.
fn parse_duration(s: &str) -> Result<u64, String> {
"#,
        )
        .examples([
            r#"let _ = parse_duration("1h30m");"#,
            r#"let _ = parse_duration("");"#,
            r#"let _ = parse_duration("2d 4h");"#,
        ])
        .tests([
            r#"assert_eq!(parse_duration("1h30m"), Ok(5400));"#,
            r#"assert_eq!(parse_duration(" 45s "), Ok(45));"#,
            r#"assert_eq!(parse_duration("2d 4h"), Ok(187_200));"#,
            r#"assert!(parse_duration("").is_err());"#,
            r#"assert!(parse_duration("10").is_err());"#,
            r#"assert!(parse_duration("5x").is_err());"#,
            r#"assert!(parse_duration("h").is_err());"#,
        ])
        .reference(
            r#"fn parse_duration(s: &str) -> Result<u64, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if c == ' ' && digits.is_empty() {
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("unexpected character {c:?} in {s:?}")),
        };
        if digits.is_empty() {
            return Err(format!("unit {c:?} without a number in {s:?}"));
        }
        let n: u64 = digits.parse().map_err(|e| format!("{e}"))?;
        total += n * unit;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!("number without a unit in {s:?}"));
    }
    Ok(total)
}
"#,
        )
}

#[eval(tags = ["rust", "code", "algorithms", "hard"])]
fn top_k_words() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn top_k_words(text: &str, k: usize) -> Vec<(String, \
             usize)>` that returns the `k` most frequent words of `text` with their counts. A \
             word is a maximal run of ASCII letters, compared case-insensitively and returned in \
             lower case; every other character separates words. Order by decreasing count, \
             breaking ties alphabetically, and return at most `k` pairs. \
             For example, `top_k_words(\"b a c b a\", 2)` returns \
             `vec![(\"a\".to_string(), 2), (\"b\".to_string(), 2)]`.",
        )
        .prefix(
            r"/// The `k` most frequent lower-cased words (runs of ASCII letters) of `text` with
/// their counts, by decreasing count, ties broken alphabetically.
fn top_k_words(text: &str, k: usize) -> Vec<(String, usize)> {
",
        )
        .examples([
            r#"let _ = top_k_words("the cat and the hat", 2);"#,
            r#"let _ = top_k_words("", 3);"#,
            r#"let _ = top_k_words("b a c b a", 2);"#,
        ])
        .tests([
            r#"assert_eq!(top_k_words("b a c b a", 2), vec![("a".to_string(), 2), ("b".to_string(), 2)]);"#,
            r#"assert_eq!(top_k_words("the cat and the hat and the bat", 1), vec![("the".to_string(), 3)]);"#,
            r#"assert!(top_k_words("", 3).is_empty());"#,
            r#"assert_eq!(top_k_words("Go go GO, stop!", 5), vec![("go".to_string(), 3), ("stop".to_string(), 1)]);"#,
            r#"assert!(top_k_words("x y", 0).is_empty());"#,
            r#"assert_eq!(top_k_words("it's 2 o'clock", 10).len(), 4);"#,
        ])
        .reference(
            r"use std::collections::HashMap;

fn top_k_words(text: &str, k: usize) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for word in text.split(|c: char| !c.is_ascii_alphabetic()) {
        if !word.is_empty() {
            *counts.entry(word.to_ascii_lowercase()).or_insert(0) += 1;
        }
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked
}
",
        )
}

#[eval(tags = ["rust", "code", "parsing", "hard"])]
fn roman_to_int() -> CodeCase {
    CodeCase::rust()
        .prompt(
            "Write a Rust function `fn roman_to_int(s: &str) -> Option<u32>` that converts a \
             Roman numeral written in upper case (symbols I=1, V=5, X=10, L=50, C=100, D=500, \
             M=1000, with the subtractive pairs IV, IX, XL, XC, CD and CM) to its value, from 1 \
             to 3999. Return `None` unless `s` is exactly the standard way of writing that \
             number: an empty string, unknown characters, lower case, and non-standard forms \
             such as `\"IIII\"`, `\"VV\"` or `\"IC\"` are rejected. \
             For example, `roman_to_int(\"MCMXCIV\")` returns `Some(1994)`.",
        )
        .prefix(
            r#"/// Converts a standard upper-case Roman numeral (1..=3999) to its value; `None` for
/// anything else, including non-standard forms such as "IIII" or "IC".
fn roman_to_int(s: &str) -> Option<u32> {
"#,
        )
        .examples([
            r#"let _ = roman_to_int("XIV");"#,
            r#"let _ = roman_to_int("");"#,
            r#"let _ = roman_to_int("IIII");"#,
        ])
        .tests([
            r#"assert_eq!(roman_to_int("XIV"), Some(14));"#,
            r#"assert_eq!(roman_to_int("MCMXCIV"), Some(1994));"#,
            r#"assert_eq!(roman_to_int("MMMCMXCIX"), Some(3999));"#,
            r#"assert_eq!(roman_to_int(""), None);"#,
            r#"assert_eq!(roman_to_int("IIII"), None);"#,
            r#"assert_eq!(roman_to_int("IC"), None);"#,
            r#"assert_eq!(roman_to_int("xiv"), None);"#,
        ])
        .reference(
            r#"const NUMERALS: [(u32, &str); 13] = [
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
];

fn to_roman(mut n: u32) -> String {
    let mut out = String::new();
    for (value, symbol) in NUMERALS {
        while n >= value {
            out.push_str(symbol);
            n -= value;
        }
    }
    out
}

fn roman_to_int(s: &str) -> Option<u32> {
    let value = |c: char| match c {
        'I' => Some(1),
        'V' => Some(5),
        'X' => Some(10),
        'L' => Some(50),
        'C' => Some(100),
        'D' => Some(500),
        'M' => Some(1000),
        _ => None,
    };
    let digits: Vec<u32> = s.chars().map(value).collect::<Option<_>>()?;
    let mut total = 0;
    for (i, &d) in digits.iter().enumerate() {
        if digits.get(i + 1).is_some_and(|&next| next > d) {
            total -= d as i64;
        } else {
            total += d as i64;
        }
    }
    let total = u32::try_from(total).ok().filter(|n| (1..=3999).contains(n))?;
    (to_roman(total) == s).then_some(total)
}
"#,
        )
}
