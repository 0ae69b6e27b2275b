//! Rust code generation, graded `easy`, `medium` and `hard`; std only.
//!
//! The sandbox compiles the answer's items together with one function per
//! example and unit test, so examples are statements such as
//! `let _ = add(1, 2);` and tests are assertions such as
//! `assert_eq!(add(1, 2), 3);`. The prefix (doc comment and signature, up to
//! the opening brace) serves completion-style templates.

use litmus::prelude::*;

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
