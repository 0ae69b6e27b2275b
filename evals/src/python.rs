//! Python code generation: string processing, data wrangling, parsing, dates
//! and times, algorithms and small utilities, graded `starter`, `easy`,
//! `medium` and `hard`.
//!
//! Every case names the exact function and signature, gives examples (calls
//! that must run without raising), unit tests (independent `assert`
//! one-liners, run after the solution is loaded), a reference solution and a
//! completion prefix (the signature plus a docstring that restates the task,
//! for base models). Only the standard library is needed.
//!
//! `starter` cases are the lowest rung, meant to tell very small models apart:
//! one-line or few-line functions whose obvious first draft runs but misses an
//! edge case the prompt states (an empty list or string, a zero divisor,
//! negative numbers, range boundaries, halves that round up).

use litmus::prelude::*;

/// Helpers for the unit tests, run before the answer: `_raises(exc, f, *args)`
/// is true when `f(*args)` raises `exc`.
const RAISES_HELPER: &str = r"def _raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return True
    except Exception:
        return False
    return False
";

// ---------------------------------------------------------------------------
// Starter
// ---------------------------------------------------------------------------

#[eval(tags = ["python", "code", "algorithms", "starter"])]
fn last_digit() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `last_digit(n: int) -> int` that returns the last decimal \
             digit of the integer `n`, between 0 and 9; for a negative number it is the last \
             digit of its absolute value. For example, `last_digit(1234)` returns `4` and \
             `last_digit(-47)` returns `7`.",
        )
        .prefix(
            r#"def last_digit(n: int) -> int:
    """Return the last decimal digit of n (0-9), ignoring the sign.

    >>> last_digit(-47)
    7
    """
"#,
        )
        .examples(["last_digit(1234)", "last_digit(0)", "last_digit(-47)"])
        .tests([
            "assert last_digit(1234) == 4",
            "assert last_digit(0) == 0",
            "assert last_digit(10) == 0",
            "assert last_digit(-47) == 7",
            "assert last_digit(-5) == 5",
        ])
        .reference(
            r"def last_digit(n: int) -> int:
    return abs(n) % 10
",
        )
}

#[eval(tags = ["python", "code", "dates", "starter"])]
fn century() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `century(year: int) -> int` that returns the century a year \
             (1 or later) belongs to. Centuries are counted from year 1: the 1st century is \
             years 1 to 100, the 20th is 1901 to 2000, the 21st starts with 2001. For example, \
             `century(1999)` returns `20` and `century(2000)` returns `20`.",
        )
        .prefix(
            r#"def century(year: int) -> int:
    """Return the century of year: 1-100 is the 1st, 1901-2000 the 20th.

    >>> century(2001)
    21
    """
"#,
        )
        .examples(["century(1999)", "century(2000)", "century(1)"])
        .tests([
            "assert century(1999) == 20",
            "assert century(2024) == 21",
            "assert century(1) == 1",
            "assert century(2000) == 20",
            "assert century(100) == 1",
            "assert century(101) == 2",
        ])
        .reference(
            r"def century(year: int) -> int:
    return (year + 99) // 100
",
        )
}

#[eval(tags = ["python", "code", "algorithms", "starter"])]
fn round_to_ten() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `round_to_ten(n: int) -> int` that rounds the non-negative \
             integer `n` to the nearest multiple of ten, rounding halves (numbers ending in 5) \
             up. For example, `round_to_ten(14)` returns `10`, `round_to_ten(15)` returns `20` \
             and `round_to_ten(25)` returns `30`.",
        )
        .prefix(
            r#"def round_to_ten(n: int) -> int:
    """Round n to the nearest multiple of ten; a number ending in 5 rounds up.

    >>> round_to_ten(14)
    10
    """
"#,
        )
        .examples(["round_to_ten(14)", "round_to_ten(15)", "round_to_ten(0)"])
        .tests([
            "assert round_to_ten(14) == 10",
            "assert round_to_ten(15) == 20",
            "assert round_to_ten(25) == 30",
            "assert round_to_ten(0) == 0",
            "assert round_to_ten(7) == 10",
            "assert round_to_ten(120) == 120",
        ])
        .reference(
            r"def round_to_ten(n: int) -> int:
    return (n + 5) // 10 * 10
",
        )
}

#[eval(tags = ["python", "code", "data", "starter"])]
fn average() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `average(numbers: list[float]) -> float` that returns the \
             arithmetic mean of the numbers, or `0.0` for an empty list. For example, \
             `average([1, 2, 6])` returns `3.0`.",
        )
        .prefix(
            r#"def average(numbers: list[float]) -> float:
    """Return the mean of numbers (0.0 for an empty list).

    >>> average([1, 2, 6])
    3.0
    """
"#,
        )
        .examples(["average([1, 2, 6])", "average([])", "average([-2.5])"])
        .tests([
            "assert average([1, 2, 6]) == 3.0",
            "assert average([-2.5]) == -2.5",
            "assert average([1, 2]) == 1.5",
            "assert average([]) == 0.0",
        ])
        .reference(
            r"def average(numbers: list[float]) -> float:
    if not numbers:
        return 0.0
    return sum(numbers) / len(numbers)
",
        )
}

#[eval(tags = ["python", "code", "utilities", "starter"])]
fn ticket_price() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `ticket_price(age: int) -> int` that returns the price of a \
             museum ticket in euros: children under 12 pay 5, visitors aged 65 or more pay 7, \
             everyone else pays 10. For example, `ticket_price(30)` returns `10` and \
             `ticket_price(12)` returns `10`.",
        )
        .prefix(
            r#"def ticket_price(age: int) -> int:
    """Return the ticket price in euros: 5 under 12, 7 from 65, otherwise 10.

    >>> ticket_price(8)
    5
    """
"#,
        )
        .examples(["ticket_price(8)", "ticket_price(30)", "ticket_price(70)"])
        .tests([
            "assert ticket_price(8) == 5",
            "assert ticket_price(30) == 10",
            "assert ticket_price(70) == 7",
            "assert ticket_price(12) == 10",
            "assert ticket_price(11) == 5",
            "assert ticket_price(65) == 7",
        ])
        .reference(
            r"def ticket_price(age: int) -> int:
    if age < 12:
        return 5
    if age >= 65:
        return 7
    return 10
",
        )
}

#[eval(tags = ["python", "code", "utilities", "starter"])]
fn water_state() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `water_state(celsius: float) -> str` that returns the state \
             of water at normal pressure: `'ice'` below 0 degrees, `'steam'` at 100 degrees or \
             more, and `'water'` in between (0 included). For example, `water_state(-5)` returns \
             `'ice'`.",
        )
        .prefix(
            r#"def water_state(celsius: float) -> str:
    """Return 'ice' below 0 degrees Celsius, 'steam' from 100, 'water' in between.

    >>> water_state(-5)
    'ice'
    """
"#,
        )
        .examples(["water_state(-5)", "water_state(20)", "water_state(100)"])
        .tests([
            "assert water_state(-5) == 'ice'",
            "assert water_state(20) == 'water'",
            "assert water_state(120) == 'steam'",
            "assert water_state(0) == 'water'",
            "assert water_state(100) == 'steam'",
            "assert water_state(-0.5) == 'ice'",
        ])
        .reference(
            r"def water_state(celsius: float) -> str:
    if celsius < 0:
        return 'ice'
    if celsius >= 100:
        return 'steam'
    return 'water'
",
        )
}

#[eval(tags = ["python", "code", "utilities", "starter"])]
fn letter_grade() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `letter_grade(score: int) -> str` that turns an exam score \
             from 0 to 100 into a letter: `'A'` for 90 and above, `'B'` for 80 to 89, `'C'` for \
             70 to 79, `'D'` for 60 to 69 and `'F'` below 60. For example, `letter_grade(85)` \
             returns `'B'`.",
        )
        .prefix(
            r#"def letter_grade(score: int) -> str:
    """Return the letter for a score (0-100): A from 90, B from 80, C from 70,
    D from 60, F below 60.

    >>> letter_grade(85)
    'B'
    """
"#,
        )
        .examples(["letter_grade(85)", "letter_grade(100)", "letter_grade(0)"])
        .tests([
            "assert letter_grade(95) == 'A'",
            "assert letter_grade(90) == 'A'",
            "assert letter_grade(89) == 'B'",
            "assert letter_grade(70) == 'C'",
            "assert letter_grade(60) == 'D'",
            "assert letter_grade(59) == 'F'",
            "assert letter_grade(12) == 'F'",
        ])
        .reference(
            r"def letter_grade(score: int) -> str:
    for limit, letter in ((90, 'A'), (80, 'B'), (70, 'C'), (60, 'D')):
        if score >= limit:
            return letter
    return 'F'
",
        )
}

#[eval(tags = ["python", "code", "algorithms", "starter"])]
fn safe_divide() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `safe_divide(a: float, b: float) -> float | None` that \
             returns `a / b`, or `None` when `b` is zero. For example, `safe_divide(7, 2)` \
             returns `3.5` and `safe_divide(1, 0)` returns `None`.",
        )
        .prefix(
            r#"def safe_divide(a: float, b: float) -> float | None:
    """Return a / b, or None when b is zero.
    """
"#,
        )
        .examples([
            "safe_divide(7, 2)",
            "safe_divide(1, 0)",
            "safe_divide(-9, 3)",
        ])
        .tests([
            "assert safe_divide(7, 2) == 3.5",
            "assert safe_divide(-9, 3) == -3",
            "assert safe_divide(1, 0) is None",
            "assert safe_divide(0, 5) == 0",
            "assert safe_divide(2.5, 0.0) is None",
        ])
        .reference(
            r"def safe_divide(a: float, b: float) -> float | None:
    if b == 0:
        return None
    return a / b
",
        )
}

#[eval(tags = ["python", "code", "algorithms", "starter"])]
fn triangle_kind() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `triangle_kind(a: int, b: int, c: int) -> str` that \
             classifies a triangle by its side lengths: `'equilateral'` when all three are \
             equal, `'isosceles'` when exactly two are equal (any two), and `'scalene'` when all \
             differ. For example, `triangle_kind(3, 4, 4)` returns `'isosceles'`.",
        )
        .prefix(
            r#"def triangle_kind(a: int, b: int, c: int) -> str:
    """Return 'equilateral', 'isosceles' (any two sides equal) or 'scalene'.

    >>> triangle_kind(3, 4, 4)
    'isosceles'
    """
"#,
        )
        .examples([
            "triangle_kind(2, 2, 2)",
            "triangle_kind(3, 4, 4)",
            "triangle_kind(3, 4, 5)",
        ])
        .tests([
            "assert triangle_kind(2, 2, 2) == 'equilateral'",
            "assert triangle_kind(5, 5, 8) == 'isosceles'",
            "assert triangle_kind(3, 4, 5) == 'scalene'",
            "assert triangle_kind(3, 4, 4) == 'isosceles'",
            "assert triangle_kind(6, 2, 6) == 'isosceles'",
        ])
        .reference(
            r"def triangle_kind(a: int, b: int, c: int) -> str:
    if a == b == c:
        return 'equilateral'
    if a == b or b == c or a == c:
        return 'isosceles'
    return 'scalene'
",
        )
}

#[eval(tags = ["python", "code", "algorithms", "starter"])]
fn quadrant() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `quadrant(x: float, y: float) -> int` that returns the \
             quadrant of the point (x, y): 1 when both are positive, 2 when x is negative and y \
             positive, 3 when both are negative, 4 when x is positive and y negative, and 0 when \
             the point lies on an axis (x or y is zero). For example, `quadrant(3, -2)` returns \
             `4`.",
        )
        .prefix(
            r#"def quadrant(x: float, y: float) -> int:
    """Return the quadrant (1-4) of the point (x, y), or 0 on an axis.

    >>> quadrant(3, -2)
    4
    """
"#,
        )
        .examples(["quadrant(3, -2)", "quadrant(0, 5)", "quadrant(-1, -1)"])
        .tests([
            "assert quadrant(1, 1) == 1",
            "assert quadrant(-4, 2) == 2",
            "assert quadrant(-1, -1) == 3",
            "assert quadrant(3, -2) == 4",
            "assert quadrant(0, 5) == 0",
            "assert quadrant(7, 0) == 0",
        ])
        .reference(
            r"def quadrant(x: float, y: float) -> int:
    if x == 0 or y == 0:
        return 0
    if x > 0:
        return 1 if y > 0 else 4
    return 2 if y > 0 else 3
",
        )
}

#[eval(tags = ["python", "code", "strings", "starter"])]
fn capitalize_first() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `capitalize_first(s: str) -> str` that returns `s` with its \
             first character upper-cased and the rest unchanged; an empty string stays empty. \
             For example, `capitalize_first('hello World')` returns `'Hello World'`.",
        )
        .prefix(
            r#"def capitalize_first(s: str) -> str:
    """Return s with its first character upper-cased, the rest unchanged.

    >>> capitalize_first('hello World')
    'Hello World'
    """
"#,
        )
        .examples([
            "capitalize_first('hello World')",
            "capitalize_first('')",
            "capitalize_first('x')",
        ])
        .tests([
            "assert capitalize_first('hello World') == 'Hello World'",
            "assert capitalize_first('') == ''",
            "assert capitalize_first('x') == 'X'",
            "assert capitalize_first('iPhone') == 'IPhone'",
            "assert capitalize_first('1st') == '1st'",
        ])
        .reference(
            r"def capitalize_first(s: str) -> str:
    return s[:1].upper() + s[1:]
",
        )
}

#[eval(tags = ["python", "code", "strings", "starter"])]
fn count_words() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `count_words(text: str) -> int` that returns the number of \
             words in `text`, words being separated by any amount of whitespace. For example, \
             `count_words('the quick  fox')` returns `3` and `count_words('')` returns `0`.",
        )
        .prefix(
            r#"def count_words(text: str) -> int:
    """Return the number of whitespace-separated words in text.
    """
"#,
        )
        .examples([
            "count_words('the quick  fox')",
            "count_words('')",
            "count_words('one')",
        ])
        .tests([
            "assert count_words('the quick  fox') == 3",
            "assert count_words('') == 0",
            "assert count_words('one') == 1",
            "assert count_words('  padded  ') == 1",
            r"assert count_words('a\tb\nc') == 3",
        ])
        .reference(
            r"def count_words(text: str) -> int:
    return len(text.split())
",
        )
}

#[eval(tags = ["python", "code", "utilities", "starter"])]
fn percent() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `percent(part: int, total: int) -> int` that returns what \
             percentage `part` is of `total`, rounded down to a whole number; a `total` of zero \
             gives `0`. For example, `percent(1, 4)` returns `25` and `percent(1, 3)` returns \
             `33`.",
        )
        .prefix(
            r#"def percent(part: int, total: int) -> int:
    """Return part as a whole percentage of total, rounded down (0 if total is 0).

    >>> percent(1, 3)
    33
    """
"#,
        )
        .examples(["percent(1, 4)", "percent(2, 3)", "percent(3, 0)"])
        .tests([
            "assert percent(1, 4) == 25",
            "assert percent(1, 3) == 33",
            "assert percent(0, 5) == 0",
            "assert percent(5, 5) == 100",
            "assert percent(3, 0) == 0",
        ])
        .reference(
            r"def percent(part: int, total: int) -> int:
    if total == 0:
        return 0
    return part * 100 // total
",
        )
}

#[eval(tags = ["python", "code", "strings", "starter"])]
fn first_word() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `first_word(text: str) -> str` that returns the first \
             whitespace-separated word of `text`, or `''` when there is none; leading spaces are \
             skipped. For example, `first_word('hello big world')` returns `'hello'`.",
        )
        .prefix(
            r#"def first_word(text: str) -> str:
    """Return the first whitespace-separated word of text ('' if there is none).

    >>> first_word('hello big world')
    'hello'
    """
"#,
        )
        .examples([
            "first_word('hello big world')",
            "first_word('')",
            "first_word('  padded')",
        ])
        .tests([
            "assert first_word('hello big world') == 'hello'",
            "assert first_word('single') == 'single'",
            "assert first_word('') == ''",
            "assert first_word('  padded  word') == 'padded'",
            "assert first_word('   ') == ''",
        ])
        .reference(
            r"def first_word(text: str) -> str:
    words = text.split()
    return words[0] if words else ''
",
        )
}

#[eval(tags = ["python", "code", "strings", "starter"])]
fn is_palindrome() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `is_palindrome(text: str) -> bool` that returns `True` when \
             `text` reads the same backwards, ignoring upper/lower case. For example, \
             `is_palindrome('Racecar')` returns `True` and `is_palindrome('hello')` returns \
             `False`.",
        )
        .prefix(
            r#"def is_palindrome(text: str) -> bool:
    """Return True if text reads the same backwards, ignoring case.

    >>> is_palindrome('Racecar')
    True
    """
"#,
        )
        .examples([
            "is_palindrome('Racecar')",
            "is_palindrome('')",
            "is_palindrome('hello')",
        ])
        .tests([
            "assert is_palindrome('level')",
            "assert not is_palindrome('hello')",
            "assert is_palindrome('')",
            "assert is_palindrome('Racecar')",
            "assert not is_palindrome('ab')",
            "assert is_palindrome('Noon')",
        ])
        .reference(
            r"def is_palindrome(text: str) -> bool:
    lowered = text.lower()
    return lowered == lowered[::-1]
",
        )
}

#[eval(tags = ["python", "code", "data", "starter"])]
fn median() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `median(numbers: list[float]) -> float` that returns the \
             median of a non-empty list: the middle value once sorted, or the mean of the two \
             middle values when the length is even. The input is not necessarily sorted. For \
             example, `median([3, 1, 2])` returns `2` and `median([4, 1, 3, 2])` returns `2.5`.",
        )
        .prefix(
            r#"def median(numbers: list[float]) -> float:
    """Return the median of numbers (not necessarily sorted); for an even count,
    the mean of the two middle values.

    >>> median([4, 1, 3, 2])
    2.5
    """
"#,
        )
        .examples(["median([3, 1, 2])", "median([4, 1, 3, 2])", "median([7])"])
        .tests([
            "assert median([3, 1, 2]) == 2",
            "assert median([7]) == 7",
            "assert median([1, 2, 3, 4]) == 2.5",
            "assert median([4, 1, 3, 2]) == 2.5",
            "assert median([9, 1, 5]) == 5",
        ])
        .reference(
            r"def median(numbers: list[float]) -> float:
    ordered = sorted(numbers)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
",
        )
}

#[eval(tags = ["python", "code", "algorithms", "starter"])]
fn digit_sum() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `digit_sum(n: int) -> int` that returns the sum of the \
             decimal digits of the integer `n`, ignoring its sign. For example, \
             `digit_sum(1234)` returns `10` and `digit_sum(-56)` returns `11`.",
        )
        .prefix(
            r#"def digit_sum(n: int) -> int:
    """Return the sum of the decimal digits of n, ignoring the sign.

    >>> digit_sum(1234)
    10
    """
"#,
        )
        .examples(["digit_sum(1234)", "digit_sum(0)", "digit_sum(-56)"])
        .tests([
            "assert digit_sum(1234) == 10",
            "assert digit_sum(0) == 0",
            "assert digit_sum(9) == 9",
            "assert digit_sum(-56) == 11",
            "assert digit_sum(1000) == 1",
        ])
        .reference(
            r"def digit_sum(n: int) -> int:
    return sum(int(d) for d in str(abs(n)))
",
        )
}

// ---------------------------------------------------------------------------
// Easy
// ---------------------------------------------------------------------------

#[eval(tags = ["python", "code", "strings", "easy"])]
fn reverse_string() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `reverse_string(s: str) -> str` that returns the characters \
             of `s` in reverse order. An empty string gives an empty string. \
             For example, `reverse_string('hello')` returns `'olleh'`.",
        )
        .prefix(
            r#"def reverse_string(s: str) -> str:
    """Return the characters of s in reverse order.

    >>> reverse_string('hello')
    'olleh'
    """
"#,
        )
        .examples([
            r#"reverse_string("hello")"#,
            r#"reverse_string("")"#,
            r#"reverse_string("ab c")"#,
        ])
        .tests([
            r#"assert reverse_string("hello") == "olleh""#,
            r#"assert reverse_string("") == """#,
            r#"assert reverse_string("a") == "a""#,
            r#"assert reverse_string("ab c!") == "!c ba""#,
        ])
        .reference(
            r"def reverse_string(s: str) -> str:
    return s[::-1]
",
        )
}

#[eval(tags = ["python", "code", "strings", "easy"])]
fn count_vowels() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `count_vowels(text: str) -> int` that returns how many vowels \
             `text` contains. The vowels are a, e, i, o and u, in lower or upper case; `y` is not \
             a vowel. For example, `count_vowels('Hello')` returns `2` and `count_vowels('')` \
             returns `0`.",
        )
        .prefix(
            r#"def count_vowels(text: str) -> int:
    """Count the vowels (a, e, i, o, u, either case; not y) in text.

    >>> count_vowels('Hello')
    2
    """
"#,
        )
        .examples([
            r#"count_vowels("hello")"#,
            r#"count_vowels("")"#,
            r#"count_vowels("AEIOU")"#,
        ])
        .tests([
            r#"assert count_vowels("hello") == 2"#,
            r#"assert count_vowels("AEIOU xyz") == 5"#,
            r#"assert count_vowels("") == 0"#,
            r#"assert count_vowels("rhythm") == 0"#,
            r#"assert count_vowels("Programming Language") == 7"#,
        ])
        .reference(
            r#"def count_vowels(text: str) -> int:
    return sum(1 for ch in text.lower() if ch in "aeiou")
"#,
        )
}

#[eval(tags = ["python", "code", "strings", "easy"])]
fn initials() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `initials(full_name: str) -> str` that returns the first \
             letter of every whitespace-separated word of `full_name`, upper-cased and joined \
             with nothing in between. Extra spaces are ignored and an empty name gives `''`. \
             For example, `initials('ada lovelace')` returns `'AL'`.",
        )
        .prefix(
            r#"def initials(full_name: str) -> str:
    """Upper-cased first letters of the words of full_name, joined together.

    >>> initials('ada lovelace')
    'AL'
    """
"#,
        )
        .examples([
            r#"initials("ada lovelace")"#,
            r#"initials("Grace Hopper")"#,
            r#"initials("")"#,
        ])
        .tests([
            r#"assert initials("ada lovelace") == "AL""#,
            r#"assert initials("  Grace  Brewster Hopper ") == "GBH""#,
            r#"assert initials("") == """#,
            r#"assert initials("alan") == "A""#,
        ])
        .reference(
            r#"def initials(full_name: str) -> str:
    return "".join(word[0].upper() for word in full_name.split())
"#,
        )
}

#[eval(tags = ["python", "code", "data", "easy"])]
fn sum_list() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `sum_list(numbers: list[float]) -> float` that returns the \
             sum of all the numbers in the list. An empty list gives `0`. \
             For example, `sum_list([1, 2, 3])` returns `6`.",
        )
        .prefix(
            r#"def sum_list(numbers: list[float]) -> float:
    """Return the sum of the numbers (0 for an empty list).

    >>> sum_list([1, 2, 3])
    6
    """
"#,
        )
        .examples([
            r"sum_list([1, 2, 3])",
            r"sum_list([])",
            r"sum_list([2.5, -1])",
        ])
        .tests([
            r"assert sum_list([1, 2, 3]) == 6",
            r"assert sum_list([]) == 0",
            r"assert sum_list([-5, 5, 10]) == 10",
            r"assert abs(sum_list([0.5, 0.25]) - 0.75) < 1e-9",
        ])
        .reference(
            r"def sum_list(numbers: list[float]) -> float:
    total = 0
    for x in numbers:
        total += x
    return total
",
        )
}

#[eval(tags = ["python", "code", "data", "easy"])]
fn word_lengths() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `word_lengths(words: list[str]) -> dict[str, int]` that \
             returns a dictionary mapping each word of the list to its number of characters. \
             A word that appears several times appears once in the result. \
             For example, `word_lengths(['a', 'abc'])` returns `{'a': 1, 'abc': 3}`.",
        )
        .prefix(
            r#"def word_lengths(words: list[str]) -> dict[str, int]:
    """Map each word to its length.

    >>> word_lengths(['a', 'abc'])
    {'a': 1, 'abc': 3}
    """
"#,
        )
        .examples([
            r#"word_lengths(["a", "abc"])"#,
            r"word_lengths([])",
            r#"word_lengths(["hi", "hi"])"#,
        ])
        .tests([
            r#"assert word_lengths(["a", "abc"]) == {"a": 1, "abc": 3}"#,
            r"assert word_lengths([]) == {}",
            r#"assert word_lengths(["hi", "hi"]) == {"hi": 2}"#,
            r#"assert word_lengths(["", "xy"]) == {"": 0, "xy": 2}"#,
        ])
        .reference(
            r"def word_lengths(words: list[str]) -> dict[str, int]:
    return {word: len(word) for word in words}
",
        )
}

#[eval(tags = ["python", "code", "data", "easy"])]
fn filter_adults() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `filter_adults(people: list[dict]) -> list[str]`. Each \
             element of `people` is a dictionary with a `'name'` (a string) and an `'age'` (an \
             integer). Return the names of the people aged 18 or over, in their original order. \
             For example, `filter_adults([{'name': 'Ann', 'age': 17}, {'name': 'Bo', 'age': 18}])` \
             returns `['Bo']`.",
        )
        .prefix(
            r#"def filter_adults(people: list[dict]) -> list[str]:
    """Names of the people (dicts with 'name' and 'age') aged 18 or over, in order.

    >>> filter_adults([{'name': 'Ann', 'age': 17}, {'name': 'Bo', 'age': 18}])
    ['Bo']
    """
"#,
        )
        .examples([
            r#"filter_adults([{"name": "Ann", "age": 17}, {"name": "Bo", "age": 18}])"#,
            r"filter_adults([])",
            r#"filter_adults([{"name": "Cy", "age": 40}])"#,
        ])
        .tests([
            r#"assert filter_adults([{"name": "Ann", "age": 17}, {"name": "Bo", "age": 18}, {"name": "Cy", "age": 40}]) == ["Bo", "Cy"]"#,
            r"assert filter_adults([]) == []",
            r#"assert filter_adults([{"name": "Kit", "age": 3}, {"name": "Lu", "age": 12}]) == []"#,
            r#"assert filter_adults([{"name": "Zed", "age": 30}, {"name": "Amy", "age": 25}]) == ["Zed", "Amy"]"#,
        ])
        .reference(
            r#"def filter_adults(people: list[dict]) -> list[str]:
    return [person["name"] for person in people if person["age"] >= 18]
"#,
        )
}

#[eval(tags = ["python", "code", "dates", "easy"])]
fn is_leap_year() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `is_leap_year(year: int) -> bool` that returns True when \
             `year` is a leap year in the Gregorian calendar: years divisible by 4 are leap \
             years, except years divisible by 100, which are leap years only when they are also \
             divisible by 400. For example, `is_leap_year(2024)` is True and `is_leap_year(1900)` \
             is False.",
        )
        .prefix(
            r#"def is_leap_year(year: int) -> bool:
    """True if year is a Gregorian leap year.

    >>> is_leap_year(2024)
    True
    >>> is_leap_year(1900)
    False
    """
"#,
        )
        .examples([
            r"is_leap_year(2024)",
            r"is_leap_year(1900)",
            r"is_leap_year(2000)",
        ])
        .tests([
            r"assert is_leap_year(2024) is True",
            r"assert is_leap_year(2023) is False",
            r"assert is_leap_year(1900) is False",
            r"assert is_leap_year(2000) is True",
            r"assert is_leap_year(2100) is False",
        ])
        .reference(
            r"def is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
",
        )
}

#[eval(tags = ["python", "code", "utilities", "easy"])]
fn celsius_to_fahrenheit() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `celsius_to_fahrenheit(celsius: float) -> float` that \
             converts a temperature from degrees Celsius to degrees Fahrenheit with the formula \
             F = C * 9 / 5 + 32. Do not round the result. \
             For example, `celsius_to_fahrenheit(100)` returns `212.0`.",
        )
        .prefix(
            r#"def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert degrees Celsius to degrees Fahrenheit (F = C * 9 / 5 + 32), unrounded.

    >>> celsius_to_fahrenheit(100)
    212.0
    """
"#,
        )
        .examples([
            r"celsius_to_fahrenheit(0)",
            r"celsius_to_fahrenheit(100)",
            r"celsius_to_fahrenheit(-12.5)",
        ])
        .tests([
            r"assert celsius_to_fahrenheit(0) == 32",
            r"assert celsius_to_fahrenheit(100) == 212",
            r"assert celsius_to_fahrenheit(-40) == -40",
            r"assert abs(celsius_to_fahrenheit(37) - 98.6) < 1e-9",
        ])
        .reference(
            r"def celsius_to_fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32
",
        )
}

#[eval(tags = ["python", "code", "parsing", "easy"])]
fn parse_bool() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `parse_bool(value: str) -> bool` that reads a boolean from a \
             configuration string. Ignore surrounding whitespace and letter case: `'true'`, \
             `'yes'`, `'on'` and `'1'` give True; `'false'`, `'no'`, `'off'` and `'0'` give \
             False; any other string raises `ValueError`. \
             For example, `parse_bool(' Yes ')` returns True.",
        )
        .prefix(
            r#"def parse_bool(value: str) -> bool:
    """Parse 'true'/'yes'/'on'/'1' as True and 'false'/'no'/'off'/'0' as False.

    Surrounding whitespace and case are ignored; anything else raises ValueError.

    >>> parse_bool(' Yes ')
    True
    """
"#,
        )
        .setup(RAISES_HELPER)
        .examples([
            r#"parse_bool("yes")"#,
            r#"parse_bool("OFF")"#,
            r#"parse_bool(" 1 ")"#,
        ])
        .tests([
            r#"assert parse_bool("yes") is True"#,
            r#"assert parse_bool("  FALSE ") is False"#,
            r#"assert parse_bool("On") is True"#,
            r#"assert parse_bool("0") is False"#,
            r#"assert _raises(ValueError, parse_bool, "maybe")"#,
        ])
        .reference(
            r#"def parse_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"not a boolean: {value!r}")
"#,
        )
}

#[eval(tags = ["python", "code", "algorithms", "easy"])]
fn is_prime() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `is_prime(n: int) -> bool` that returns True when `n` is a \
             prime number (an integer greater than 1 whose only divisors are 1 and itself) and \
             False otherwise, including for 0, 1 and negative numbers. \
             For example, `is_prime(7)` is True and `is_prime(9)` is False.",
        )
        .prefix(
            r#"def is_prime(n: int) -> bool:
    """True if n is a prime number; False for n < 2.

    >>> is_prime(7)
    True
    >>> is_prime(9)
    False
    """
"#,
        )
        .examples([r"is_prime(7)", r"is_prime(1)", r"is_prime(100)"])
        .tests([
            r"assert is_prime(2) is True",
            r"assert is_prime(1) is False",
            r"assert is_prime(0) is False and is_prime(-7) is False",
            r"assert is_prime(97) is True",
            r"assert is_prime(91) is False",
        ])
        .reference(
            r"def is_prime(n: int) -> bool:
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True
",
        )
}

// ---------------------------------------------------------------------------
// Medium
// ---------------------------------------------------------------------------

#[eval(tags = ["python", "code", "utilities", "medium"])]
fn slugify() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `slugify(text: str) -> str` that turns a title into a URL \
             slug: lower-case the text, replace every run of one or more characters that are not \
             ASCII letters or digits with a single hyphen, and remove hyphens from both ends. \
             A text without letters or digits gives `''`. \
             For example, `slugify('Hello, World!')` returns `'hello-world'`.",
        )
        .prefix(
            r#"def slugify(text: str) -> str:
    """Lower-case text, turn each run of non-[a-z0-9] characters into one '-', strip '-' at the ends.

    >>> slugify('Hello, World!')
    'hello-world'
    """
"#,
        )
        .examples([
            r#"slugify("Hello World")"#,
            r#"slugify("  Rust & Python  ")"#,
            r#"slugify("")"#,
        ])
        .tests([
            r#"assert slugify("Hello World") == "hello-world""#,
            r#"assert slugify("  Rust & Python: 2024 edition!  ") == "rust-python-2024-edition""#,
            r#"assert slugify("---") == """#,
            r#"assert slugify("already-a-slug") == "already-a-slug""#,
            r#"assert slugify("a__b") == "a-b""#,
        ])
        .reference(
            r#"import re


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
"#,
        )
}

#[eval(tags = ["python", "code", "algorithms", "medium"])]
fn run_length_encode() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `run_length_encode(s: str) -> str` that compresses a string \
             with run-length encoding: every maximal run of the same character is written as \
             that character followed by the length of the run, always including the length, \
             even when it is 1. An empty string gives `''`. \
             For example, `run_length_encode('aaabcc')` returns `'a3b1c2'`.",
        )
        .prefix(
            r#"def run_length_encode(s: str) -> str:
    """Write each run of equal characters as the character followed by the run length.

    >>> run_length_encode('aaabcc')
    'a3b1c2'
    """
"#,
        )
        .examples([
            r#"run_length_encode("aaabcc")"#,
            r#"run_length_encode("")"#,
            r#"run_length_encode("abc")"#,
        ])
        .tests([
            r#"assert run_length_encode("aaabcc") == "a3b1c2""#,
            r#"assert run_length_encode("") == """#,
            r#"assert run_length_encode("x") == "x1""#,
            r#"assert run_length_encode("aabbaa") == "a2b2a2""#,
            r#"assert run_length_encode("z" * 12) == "z12""#,
        ])
        .reference(
            r#"def run_length_encode(s: str) -> str:
    out = []
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        out.append(f"{s[i]}{j - i}")
        i = j
    return "".join(out)
"#,
        )
}

#[eval(tags = ["python", "code", "algorithms", "medium"])]
fn is_balanced() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `is_balanced(s: str) -> bool` that returns True when the \
             brackets `()`, `[]` and `{}` in `s` are balanced: every opening bracket is closed by \
             the matching bracket type, in the right order. All other characters are ignored, \
             and a string without brackets is balanced. \
             For example, `is_balanced('f(x[0])')` is True and `is_balanced('([)]')` is False.",
        )
        .prefix(
            r#"def is_balanced(s: str) -> bool:
    """True if the (), [] and {} brackets in s are properly matched and nested.

    Other characters are ignored.

    >>> is_balanced('f(x[0])')
    True
    >>> is_balanced('([)]')
    False
    """
"#,
        )
        .examples([
            r#"is_balanced("([]{})")"#,
            r#"is_balanced("([)]")"#,
            r#"is_balanced("")"#,
        ])
        .tests([
            r#"assert is_balanced("([]{})") is True"#,
            r#"assert is_balanced("([)]") is False"#,
            r#"assert is_balanced("") is True"#,
            r#"assert is_balanced("((") is False"#,
            r#"assert is_balanced("f(x[0]) + {y}") is True"#,
            r#"assert is_balanced("}{") is False"#,
        ])
        .reference(
            r#"def is_balanced(s: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for ch in s:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack
"#,
        )
}

#[eval(tags = ["python", "code", "parsing", "medium"])]
fn parse_key_values() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `parse_key_values(text: str) -> dict[str, str]` that parses \
             a simple configuration text with one `key=value` pair per line. Split each line at \
             its first `=` and strip whitespace around the key and the value. Skip blank lines, \
             lines whose first non-space character is `#`, and lines without `=`. When a key \
             appears twice, the later value wins. \
             For example, `parse_key_values('a=1\\n# note\\nb = two')` returns \
             `{'a': '1', 'b': 'two'}`.",
        )
        .prefix(
            r#"def parse_key_values(text: str) -> dict[str, str]:
    """Parse 'key=value' lines into a dict.

    Split at the first '=', strip key and value, skip blank lines, '#' comments and lines
    without '='; a repeated key keeps its last value.

    >>> parse_key_values('a=1\\n# note\\nb = two')
    {'a': '1', 'b': 'two'}
    """
"#,
        )
        .examples([
            r#"parse_key_values("a=1\nb=2")"#,
            r#"parse_key_values("")"#,
            r##"parse_key_values("# only a comment")"##,
        ])
        .tests([
            r#"assert parse_key_values("a=1\nb = two") == {"a": "1", "b": "two"}"#,
            r##"assert parse_key_values("# comment\n\n  name = Ada  \n") == {"name": "Ada"}"##,
            r#"assert parse_key_values("url=http://x.org/?q=1") == {"url": "http://x.org/?q=1"}"#,
            r#"assert parse_key_values("k=1\nk=2") == {"k": "2"}"#,
            r#"assert parse_key_values("no equals here\nx=") == {"x": ""}"#,
            r#"assert parse_key_values("") == {}"#,
        ])
        .reference(
            r##"def parse_key_values(text: str) -> dict[str, str]:
    result = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        result[key.strip()] = value.strip()
    return result
"##,
        )
}

#[eval(tags = ["python", "code", "data", "medium"])]
fn group_by_key() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `group_by_key(records: list[dict], key: str) -> dict` that \
             groups records by the value they have under `key`. Return a dictionary mapping each \
             distinct value to the list of records having it, keeping the records in their \
             original order and the values in the order they first appear. Records that do not \
             have `key` are left out. \
             For example, `group_by_key([{'t': 'a'}, {'t': 'b'}, {'t': 'a', 'n': 1}], 't')` \
             returns `{'a': [{'t': 'a'}, {'t': 'a', 'n': 1}], 'b': [{'t': 'b'}]}`.",
        )
        .prefix(
            r#"def group_by_key(records: list[dict], key: str) -> dict:
    """Group records by record[key], keeping order; records without key are skipped.

    >>> group_by_key([{'t': 'a'}, {'t': 'b'}, {'t': 'a', 'n': 1}], 't')
    {'a': [{'t': 'a'}, {'t': 'a', 'n': 1}], 'b': [{'t': 'b'}]}
    """
"#,
        )
        .examples([
            r#"group_by_key([{"t": "a"}, {"t": "b"}], "t")"#,
            r#"group_by_key([], "t")"#,
            r#"group_by_key([{"x": 1}], "t")"#,
        ])
        .tests([
            r#"assert group_by_key([{"t": "a", "v": 1}, {"t": "b", "v": 2}, {"t": "a", "v": 3}], "t") == {"a": [{"t": "a", "v": 1}, {"t": "a", "v": 3}], "b": [{"t": "b", "v": 2}]}"#,
            r#"assert group_by_key([], "t") == {}"#,
            r#"assert group_by_key([{"x": 1}, {"t": 5}], "t") == {5: [{"t": 5}]}"#,
            r#"assert list(group_by_key([{"k": "z"}, {"k": "a"}, {"k": "z"}], "k")) == ["z", "a"]"#,
        ])
        .reference(
            r"def group_by_key(records: list[dict], key: str) -> dict:
    groups = {}
    for record in records:
        if key in record:
            groups.setdefault(record[key], []).append(record)
    return groups
",
        )
}

#[eval(tags = ["python", "code", "dates", "medium"])]
fn days_between() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `days_between(start: str, end: str) -> int` that returns the \
             number of days between two dates given as `'YYYY-MM-DD'` strings. The result is \
             never negative: the order of the arguments does not matter, and the same date \
             twice gives 0. Use the standard `datetime` module. \
             For example, `days_between('2024-01-01', '2024-01-31')` returns `30`.",
        )
        .prefix(
            r#"def days_between(start: str, end: str) -> int:
    """Absolute number of days between two 'YYYY-MM-DD' dates.

    >>> days_between('2024-01-01', '2024-01-31')
    30
    """
"#,
        )
        .examples([
            r#"days_between("2024-01-01", "2024-01-31")"#,
            r#"days_between("2024-03-01", "2024-02-01")"#,
            r#"days_between("2020-05-05", "2020-05-05")"#,
        ])
        .tests([
            r#"assert days_between("2024-01-01", "2024-01-31") == 30"#,
            r#"assert days_between("2024-03-01", "2024-02-01") == 29"#,
            r#"assert days_between("2020-05-05", "2020-05-05") == 0"#,
            r#"assert days_between("2023-12-25", "2024-01-01") == 7"#,
            r#"assert days_between("1999-12-31", "2000-03-01") == 61"#,
        ])
        .reference(
            r"from datetime import date


def days_between(start: str, end: str) -> int:
    return abs((date.fromisoformat(end) - date.fromisoformat(start)).days)
",
        )
}

#[eval(tags = ["python", "code", "utilities", "medium"])]
fn human_bytes() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `human_bytes(n: int) -> str` that formats a non-negative \
             number of bytes for humans. Below 1024 the result is the number followed by `' B'`, \
             e.g. `'512 B'`. Otherwise divide by 1024 repeatedly, stepping through the units \
             KB, MB, GB and TB, until the value is below 1024 or the unit is TB, and format the \
             value with exactly one decimal, e.g. `human_bytes(1536)` returns `'1.5 KB'` and \
             `human_bytes(1024)` returns `'1.0 KB'`.",
        )
        .prefix(
            r#"def human_bytes(n: int) -> str:
    """Format a byte count: '512 B' below 1024, else one decimal in KB, MB, GB or TB (base 1024).

    >>> human_bytes(1536)
    '1.5 KB'
    """
"#,
        )
        .examples([
            r"human_bytes(0)",
            r"human_bytes(1536)",
            r"human_bytes(10 ** 12)",
        ])
        .tests([
            r#"assert human_bytes(0) == "0 B""#,
            r#"assert human_bytes(1023) == "1023 B""#,
            r#"assert human_bytes(1024) == "1.0 KB""#,
            r#"assert human_bytes(1536) == "1.5 KB""#,
            r#"assert human_bytes(5 * 1024 ** 3) == "5.0 GB""#,
            r#"assert human_bytes(1024 ** 5) == "1024.0 TB""#,
        ])
        .reference(
            r#"def human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
"#,
        )
}

#[eval(tags = ["python", "code", "algorithms", "medium"])]
fn binary_search() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `binary_search(items: list[int], target: int) -> int` that \
             finds `target` in `items`, a list of distinct integers sorted in ascending order, \
             using binary search. Return the index of `target`, or -1 when it is not in the list \
             (including when the list is empty). \
             For example, `binary_search([1, 3, 5, 7], 5)` returns `2`.",
        )
        .prefix(
            r#"def binary_search(items: list[int], target: int) -> int:
    """Index of target in the sorted list items (binary search), or -1 if absent.

    >>> binary_search([1, 3, 5, 7], 5)
    2
    """
"#,
        )
        .examples([
            r"binary_search([1, 3, 5, 7], 5)",
            r"binary_search([], 1)",
            r"binary_search([1, 3, 5, 7], 4)",
        ])
        .tests([
            r"assert binary_search([1, 3, 5, 7], 5) == 2",
            r"assert binary_search([], 1) == -1",
            r"assert binary_search([1, 3, 5, 7], 4) == -1",
            r"assert binary_search([1, 3, 5, 7], 1) == 0 and binary_search([1, 3, 5, 7], 7) == 3",
            r"assert binary_search(list(range(0, 1000, 2)), 998) == 499",
            r"assert binary_search([2], 3) == -1",
        ])
        .reference(
            r"def binary_search(items: list[int], target: int) -> int:
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1
",
        )
}

#[eval(tags = ["python", "code", "strings", "medium"])]
fn camel_to_snake() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `camel_to_snake(name: str) -> str` that converts a camelCase \
             identifier to snake_case: every upper-case ASCII letter is replaced by an underscore \
             followed by the letter in lower case, except that a capital at the very start is \
             only lower-cased. Everything else is kept as is. \
             For example, `camel_to_snake('parseHttpResponse')` returns `'parse_http_response'` \
             and `camel_to_snake('userID')` returns `'user_i_d'`.",
        )
        .prefix(
            r#"def camel_to_snake(name: str) -> str:
    """Replace each capital letter by '_' plus its lower case (a leading capital is just lowered).

    >>> camel_to_snake('parseHttpResponse')
    'parse_http_response'
    """
"#,
        )
        .examples([
            r#"camel_to_snake("camelCase")"#,
            r#"camel_to_snake("Name")"#,
            r#"camel_to_snake("x")"#,
        ])
        .tests([
            r#"assert camel_to_snake("camelCase") == "camel_case""#,
            r#"assert camel_to_snake("parseHttpResponse") == "parse_http_response""#,
            r#"assert camel_to_snake("Name") == "name""#,
            r#"assert camel_to_snake("already_snake") == "already_snake""#,
            r#"assert camel_to_snake("userID") == "user_i_d""#,
        ])
        .reference(
            r#"def camel_to_snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if "A" <= ch <= "Z":
            if i > 0:
                out.append("_")
            out.append(ch.lower())
        else:
            out.append(ch)
    return "".join(out)
"#,
        )
}

#[eval(tags = ["python", "code", "dates", "medium"])]
fn format_duration() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `format_duration(seconds: int) -> str` that formats a \
             non-negative number of seconds as days, hours, minutes and seconds, written like \
             `'1d 2h 3m 4s'`: components are separated by one space, components that are zero \
             are left out, and 0 seconds gives `'0s'`. \
             For example, `format_duration(3725)` returns `'1h 2m 5s'` and \
             `format_duration(86400)` returns `'1d'`.",
        )
        .prefix(
            r#"def format_duration(seconds: int) -> str:
    """Format seconds as e.g. '1d 2h 3m 4s', leaving out zero parts; 0 gives '0s'.

    >>> format_duration(3725)
    '1h 2m 5s'
    """
"#,
        )
        .examples([
            r"format_duration(0)",
            r"format_duration(3725)",
            r"format_duration(86400)",
        ])
        .tests([
            r#"assert format_duration(0) == "0s""#,
            r#"assert format_duration(59) == "59s""#,
            r#"assert format_duration(3725) == "1h 2m 5s""#,
            r#"assert format_duration(90061) == "1d 1h 1m 1s""#,
            r#"assert format_duration(86400) == "1d""#,
            r#"assert format_duration(5 * 3600 + 7) == "5h 7s""#,
        ])
        .reference(
            r#"def format_duration(seconds: int) -> str:
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0s"
"#,
        )
}

// ---------------------------------------------------------------------------
// Hard
// ---------------------------------------------------------------------------

#[eval(tags = ["python", "code", "algorithms", "hard"])]
fn merge_intervals() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `merge_intervals(intervals: list[list[int]]) -> \
             list[list[int]]` that merges overlapping intervals. Each interval is a pair \
             `[start, end]` with `start <= end`; the input may be in any order. Intervals that \
             overlap or merely touch (one ends where the next starts) are merged into one. \
             Return the merged intervals sorted by start, as a new list of two-element lists; \
             an empty input gives `[]`. \
             For example, `merge_intervals([[8, 10], [1, 3], [2, 6]])` returns \
             `[[1, 6], [8, 10]]`.",
        )
        .prefix(
            r#"def merge_intervals(intervals: list[list[int]]) -> list[list[int]]:
    """Merge overlapping or touching [start, end] intervals; return them sorted by start.

    >>> merge_intervals([[8, 10], [1, 3], [2, 6]])
    [[1, 6], [8, 10]]
    """
"#,
        )
        .examples([
            r"merge_intervals([[1, 3], [2, 6], [8, 10]])",
            r"merge_intervals([])",
            r"merge_intervals([[5, 7], [1, 2]])",
        ])
        .tests([
            r"assert merge_intervals([[1, 3], [2, 6], [8, 10]]) == [[1, 6], [8, 10]]",
            r"assert merge_intervals([]) == []",
            r"assert merge_intervals([[5, 7], [1, 2]]) == [[1, 2], [5, 7]]",
            r"assert merge_intervals([[1, 4], [4, 5]]) == [[1, 5]]",
            r"assert merge_intervals([[1, 10], [2, 3], [4, 5]]) == [[1, 10]]",
            r"assert merge_intervals([[3, 3]]) == [[3, 3]]",
        ])
        .reference(
            r"def merge_intervals(intervals: list[list[int]]) -> list[list[int]]:
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
",
        )
}

#[eval(tags = ["python", "code", "algorithms", "hard"])]
fn top_k_words() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `top_k_words(text: str, k: int) -> list[str]` that returns \
             the `k` most frequent words of `text`. A word is a maximal run of ASCII letters, \
             compared case-insensitively and returned in lower case; everything else separates \
             words. Order the words by decreasing count, breaking ties alphabetically, and \
             return at most `k` of them (fewer if the text has fewer distinct words). \
             For example, `top_k_words('the cat and the hat and the bat', 2)` returns \
             `['the', 'and']`.",
        )
        .prefix(
            r#"def top_k_words(text: str, k: int) -> list[str]:
    """The k most frequent lower-cased words (runs of ASCII letters) of text.

    Ordered by decreasing count, ties broken alphabetically.

    >>> top_k_words('the cat and the hat and the bat', 2)
    ['the', 'and']
    """
"#,
        )
        .examples([
            r#"top_k_words("the cat and the hat and the bat", 2)"#,
            r#"top_k_words("", 3)"#,
            r#"top_k_words("a b a", 1)"#,
        ])
        .tests([
            r#"assert top_k_words("the cat and the hat and the bat", 2) == ["the", "and"]"#,
            r#"assert top_k_words("b a c b a", 3) == ["a", "b", "c"]"#,
            r#"assert top_k_words("", 3) == []"#,
            r#"assert top_k_words("Go go GO stop", 1) == ["go"]"#,
            r#"assert top_k_words("one, two; two! three three three", 5) == ["three", "two", "one"]"#,
            r#"assert top_k_words("x y", 0) == []"#,
        ])
        .reference(
            r#"import re
from collections import Counter


def top_k_words(text: str, k: int) -> list[str]:
    counts = Counter(re.findall(r"[a-z]+", text.lower()))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, _ in ranked[:k]]
"#,
        )
}

#[eval(tags = ["python", "code", "parsing", "hard"])]
fn parse_duration() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `parse_duration(text: str) -> int` that converts a duration \
             such as `'1h30m'`, `'45s'` or `'2d 4h'` to a number of seconds. The text is one or \
             more groups, each a non-negative integer immediately followed by a unit: `d` (days), \
             `h` (hours), `m` (minutes) or `s` (seconds). Groups may be separated by spaces, and \
             leading and trailing whitespace is ignored. Raise `ValueError` for an empty string \
             or any other text, e.g. `'10'`, `'5x'` or `'3 hours'`. \
             For example, `parse_duration('1h30m')` returns `5400`.",
        )
        .prefix(
            r#"def parse_duration(text: str) -> int:
    """Seconds in a duration made of <integer><unit> groups, units d, h, m, s (e.g. '1h30m').

    Spaces may separate groups; anything else (or an empty string) raises ValueError.

    >>> parse_duration('1h30m')
    5400
    """
"#,
        )
        .setup(RAISES_HELPER)
        .examples([
            r#"parse_duration("1h30m")"#,
            r#"parse_duration("45s")"#,
            r#"parse_duration("2d 4h")"#,
        ])
        .tests([
            r#"assert parse_duration("1h30m") == 5400"#,
            r#"assert parse_duration("45s") == 45"#,
            r#"assert parse_duration("2d 4h") == 187200"#,
            r#"assert parse_duration(" 1h 5m 10s ") == 3910"#,
            r#"assert _raises(ValueError, parse_duration, "")"#,
            r#"assert _raises(ValueError, parse_duration, "10")"#,
            r#"assert _raises(ValueError, parse_duration, "3 hours")"#,
        ])
        .reference(
            r#"import re

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    compact = text.strip()
    if not re.fullmatch(r"(\d+[dhms]\s*)+", compact):
        raise ValueError(f"invalid duration: {text!r}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"(\d+)([dhms])", compact))
"#,
        )
}

#[eval(tags = ["python", "code", "parsing", "hard"])]
fn parse_csv_line() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `parse_csv_line(line: str) -> list[str]` that splits one \
             line of CSV into its fields. Fields are separated by commas. A field may be enclosed \
             in double quotes; inside quotes a comma is part of the field and two double quotes \
             in a row stand for one double-quote character. Unquoted fields are kept exactly as \
             written, spaces included. An empty line is one empty field, `['']`. \
             For example, `parse_csv_line('a,\"b,c\",d')` returns `['a', 'b,c', 'd']`.",
        )
        .prefix(
            r#"def parse_csv_line(line: str) -> list[str]:
    """Split a CSV line at commas; "..." quotes a field and "" inside quotes is a literal ".

    Unquoted fields are not trimmed; an empty line gives [''].

    >>> parse_csv_line('a,"b,c",d')
    ['a', 'b,c', 'd']
    """
"#,
        )
        .examples([
            r#"parse_csv_line("a,b,c")"#,
            r#"parse_csv_line('a,"b,c",d')"#,
            r#"parse_csv_line("")"#,
        ])
        .tests([
            r#"assert parse_csv_line("a,b,c") == ["a", "b", "c"]"#,
            r#"assert parse_csv_line('a,"b,c",d') == ["a", "b,c", "d"]"#,
            r#"assert parse_csv_line('"say ""hi""",x') == ['say "hi"', "x"]"#,
            r#"assert parse_csv_line(",,") == ["", "", ""]"#,
            r#"assert parse_csv_line("") == [""]"#,
            r#"assert parse_csv_line(" a , b ") == [" a ", " b "]"#,
        ])
        .reference(
            r#"def parse_csv_line(line: str) -> list[str]:
    fields = []
    field = []
    in_quotes = False
    i = 0
    while i < len(line):
        ch = line[i]
        if in_quotes:
            if ch == '"':
                if i + 1 < len(line) and line[i + 1] == '"':
                    field.append('"')
                    i += 1
                else:
                    in_quotes = False
            else:
                field.append(ch)
        elif ch == '"':
            in_quotes = True
        elif ch == ",":
            fields.append("".join(field))
            field = []
        else:
            field.append(ch)
        i += 1
    fields.append("".join(field))
    return fields
"#,
        )
}

#[eval(tags = ["python", "code", "utilities", "hard"])]
fn compare_versions() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `compare_versions(a: str, b: str) -> int` that compares two \
             semantic versions and returns -1 if `a` is lower, 0 if they are equal and 1 if `a` \
             is higher. A version is `MAJOR.MINOR.PATCH` (three non-negative integers, compared \
             numerically in that order), optionally followed by `-` and a pre-release made of \
             dot-separated identifiers. A version with a pre-release is lower than the same \
             version without one. Two pre-releases are compared identifier by identifier: \
             numeric identifiers compare as numbers, a numeric identifier is lower than an \
             alphanumeric one, alphanumeric identifiers compare as ASCII strings, and when all \
             shared identifiers are equal the pre-release with fewer identifiers is lower. \
             For example, `compare_versions('1.10.0', '1.9.9')` returns `1` and \
             `compare_versions('1.0.0-alpha', '1.0.0')` returns `-1`.",
        )
        .prefix(
            r#"def compare_versions(a: str, b: str) -> int:
    """Compare semantic versions MAJOR.MINOR.PATCH[-pre.release]; return -1, 0 or 1.

    A pre-release is lower than the release; pre-release identifiers compare numerically
    when numeric (numeric < alphanumeric), else as ASCII; a shorter equal prefix is lower.

    >>> compare_versions('1.10.0', '1.9.9')
    1
    >>> compare_versions('1.0.0-alpha', '1.0.0')
    -1
    """
"#,
        )
        .examples([
            r#"compare_versions("1.2.3", "1.2.3")"#,
            r#"compare_versions("1.10.0", "1.9.9")"#,
            r#"compare_versions("1.0.0-alpha", "1.0.0")"#,
        ])
        .tests([
            r#"assert compare_versions("1.2.3", "1.2.3") == 0"#,
            r#"assert compare_versions("1.10.0", "1.9.9") == 1"#,
            r#"assert compare_versions("2.0.0", "10.0.0") == -1"#,
            r#"assert compare_versions("1.0.0-alpha", "1.0.0") == -1"#,
            r#"assert compare_versions("1.0.0-alpha.2", "1.0.0-alpha.10") == -1"#,
            r#"assert compare_versions("1.0.0-beta", "1.0.0-alpha.1") == 1"#,
            r#"assert compare_versions("1.0.0-alpha", "1.0.0-alpha.1") == -1"#,
            r#"assert compare_versions("1.0.0-1", "1.0.0-alpha") == -1"#,
        ])
        .reference(
            r#"def _pre_key(identifier: str):
    if identifier.isdigit():
        return (0, int(identifier), "")
    return (1, 0, identifier)


def compare_versions(a: str, b: str) -> int:
    def parse(version: str):
        core, _, pre = version.partition("-")
        numbers = tuple(int(part) for part in core.split("."))
        return numbers, pre.split(".") if pre else []

    (core_a, pre_a), (core_b, pre_b) = parse(a), parse(b)
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    if pre_a == pre_b:
        return 0
    if not pre_a:
        return 1
    if not pre_b:
        return -1
    key_a = [_pre_key(x) for x in pre_a]
    key_b = [_pre_key(x) for x in pre_b]
    return -1 if key_a < key_b else 1
"#,
        )
}

#[eval(tags = ["python", "code", "dates", "hard"])]
fn count_weekdays() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `count_weekdays(start: str, end: str) -> int` that counts \
             the working days (Monday to Friday) from `start` to `end`, both included. Dates are \
             `'YYYY-MM-DD'` strings; if `end` is before `start` the result is 0. Use the \
             standard `datetime` module. \
             For example, `count_weekdays('2024-06-03', '2024-06-09')` (a Monday to the next \
             Sunday) returns `5`.",
        )
        .prefix(
            r#"def count_weekdays(start: str, end: str) -> int:
    """Number of Monday-to-Friday dates from start to end inclusive ('YYYY-MM-DD'); 0 if end < start.

    >>> count_weekdays('2024-06-03', '2024-06-09')
    5
    """
"#,
        )
        .examples([
            r#"count_weekdays("2024-06-03", "2024-06-09")"#,
            r#"count_weekdays("2024-06-08", "2024-06-09")"#,
            r#"count_weekdays("2024-06-10", "2024-06-01")"#,
        ])
        .tests([
            r#"assert count_weekdays("2024-06-03", "2024-06-09") == 5"#,
            r#"assert count_weekdays("2024-06-08", "2024-06-09") == 0"#,
            r#"assert count_weekdays("2024-06-07", "2024-06-07") == 1"#,
            r#"assert count_weekdays("2024-06-10", "2024-06-01") == 0"#,
            r#"assert count_weekdays("2024-01-01", "2024-12-31") == 262"#,
        ])
        .reference(
            r"from datetime import date, timedelta


def count_weekdays(start: str, end: str) -> int:
    day = date.fromisoformat(start)
    last = date.fromisoformat(end)
    count = 0
    while day <= last:
        if day.weekday() < 5:
            count += 1
        day += timedelta(days=1)
    return count
",
        )
}

#[eval(tags = ["python", "code", "dates", "hard"])]
fn relative_time() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `relative_time(then: str, now: str) -> str` that describes \
             the moment `then` relative to `now`, both given as `'YYYY-MM-DD HH:MM:SS'`. Let d be \
             `now - then` in seconds. If |d| < 60 return `'just now'`. Otherwise take the largest \
             unit among day (86400 s), hour (3600 s) and minute (60 s) that is not larger than \
             |d|, let n be |d| divided by that unit rounded down, and use the unit name in the \
             singular when n is 1 and with an `s` otherwise. For a past moment (d > 0) return \
             `'<n> <unit> ago'`, for a future one `'in <n> <unit>'`. \
             For example, `relative_time('2024-05-01 12:00:00', '2024-05-01 12:05:59')` returns \
             `'5 minutes ago'`.",
        )
        .prefix(
            r#"def relative_time(then: str, now: str) -> str:
    """Describe then relative to now ('YYYY-MM-DD HH:MM:SS'): 'just now' under a minute,
    else '<n> <unit> ago' or 'in <n> <unit>' with the largest of day/hour/minute, n rounded
    down, the unit plural unless n is 1.

    >>> relative_time('2024-05-01 12:00:00', '2024-05-01 12:05:59')
    '5 minutes ago'
    """
"#,
        )
        .examples([
            r#"relative_time("2024-05-01 12:00:00", "2024-05-01 12:00:30")"#,
            r#"relative_time("2024-05-01 12:00:00", "2024-05-01 13:00:00")"#,
            r#"relative_time("2024-05-03 12:00:00", "2024-05-01 11:00:00")"#,
        ])
        .tests([
            r#"assert relative_time("2024-05-01 12:00:00", "2024-05-01 12:00:30") == "just now""#,
            r#"assert relative_time("2024-05-01 12:00:00", "2024-05-01 12:05:59") == "5 minutes ago""#,
            r#"assert relative_time("2024-05-01 12:00:00", "2024-05-01 13:00:00") == "1 hour ago""#,
            r#"assert relative_time("2024-05-03 12:00:00", "2024-05-01 11:00:00") == "in 2 days""#,
            r#"assert relative_time("2024-02-28 00:00:00", "2024-03-01 00:00:00") == "2 days ago""#,
            r#"assert relative_time("2024-05-01 12:01:00", "2024-05-01 12:00:00") == "in 1 minute""#,
        ])
        .reference(
            r#"from datetime import datetime

_FORMAT = "%Y-%m-%d %H:%M:%S"


def relative_time(then: str, now: str) -> str:
    delta = (datetime.strptime(now, _FORMAT) - datetime.strptime(then, _FORMAT)).total_seconds()
    size = abs(int(delta))
    if size < 60:
        return "just now"
    for name, unit in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if size >= unit:
            n = size // unit
            label = f"{n} {name}" + ("" if n == 1 else "s")
            return f"{label} ago" if delta > 0 else f"in {label}"
    return "just now"
"#,
        )
}

#[eval(tags = ["python", "code", "data", "hard"])]
fn summarize_by() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `summarize_by(records: list[dict], group_key: str, \
             value_key: str) -> dict` that aggregates numeric values per group. For every \
             distinct value g of `record[group_key]`, the result maps g to a dictionary with \
             `'count'` (the number of records in the group), `'total'` (the sum of their \
             `record[value_key]`) and `'mean'` (total divided by count, rounded with \
             `round(..., 2)`). Records missing either key are ignored. \
             For example, `summarize_by([{'g': 'a', 'v': 1}, {'g': 'a', 'v': 2}], 'g', 'v')` \
             returns `{'a': {'count': 2, 'total': 3, 'mean': 1.5}}`.",
        )
        .prefix(
            r#"def summarize_by(records: list[dict], group_key: str, value_key: str) -> dict:
    """Per value of record[group_key]: {'count': n, 'total': sum, 'mean': round(sum / n, 2)}.

    Records missing either key are ignored.

    >>> summarize_by([{'g': 'a', 'v': 1}, {'g': 'a', 'v': 2}], 'g', 'v')
    {'a': {'count': 2, 'total': 3, 'mean': 1.5}}
    """
"#,
        )
        .examples([
            r#"summarize_by([{"g": "a", "v": 1}, {"g": "a", "v": 2}], "g", "v")"#,
            r#"summarize_by([], "g", "v")"#,
            r#"summarize_by([{"g": "a"}], "g", "v")"#,
        ])
        .tests([
            r#"assert summarize_by([{"region": "north", "amount": 10}, {"region": "south", "amount": 5}, {"region": "north", "amount": 20}], "region", "amount") == {"north": {"count": 2, "total": 30, "mean": 15.0}, "south": {"count": 1, "total": 5, "mean": 5.0}}"#,
            r#"assert summarize_by([], "g", "v") == {}"#,
            r#"assert summarize_by([{"g": "a", "v": 1}, {"g": "a"}, {"v": 3}], "g", "v") == {"a": {"count": 1, "total": 1, "mean": 1.0}}"#,
            r#"assert summarize_by([{"g": "x", "v": 1}, {"g": "x", "v": 2}, {"g": "x", "v": 2}], "g", "v")["x"]["mean"] == 1.67"#,
            r#"assert summarize_by([{"g": 1, "v": 0.5}, {"g": 2, "v": 4}, {"g": 1, "v": 1.5}], "g", "v")[1]["total"] == 2.0"#,
        ])
        .reference(
            r#"def summarize_by(records: list[dict], group_key: str, value_key: str) -> dict:
    result = {}
    for record in records:
        if group_key not in record or value_key not in record:
            continue
        stats = result.setdefault(record[group_key], {"count": 0, "total": 0})
        stats["count"] += 1
        stats["total"] += record[value_key]
    for stats in result.values():
        stats["mean"] = round(stats["total"] / stats["count"], 2)
    return result
"#,
        )
}

#[eval(tags = ["python", "code", "data", "hard"])]
fn flatten_dict() -> CodeCase {
    CodeCase::python()
        .prompt(
            "Write a Python function `flatten_dict(data: dict, sep: str = '.') -> dict` that \
             flattens nested dictionaries: a value that is itself a dictionary is replaced by its \
             entries, with keys joined to the parent key by `sep`, at any depth. Values that are \
             not dictionaries (lists included) are kept unchanged, and nested dictionaries that \
             are empty disappear. The input must not be modified. \
             For example, `flatten_dict({'a': 1, 'b': {'c': 2, 'd': {'e': 3}}})` returns \
             `{'a': 1, 'b.c': 2, 'b.d.e': 3}`.",
        )
        .prefix(
            r#"def flatten_dict(data: dict, sep: str = '.') -> dict:
    """Flatten nested dicts, joining keys with sep; empty nested dicts vanish, lists stay as-is.

    >>> flatten_dict({'a': 1, 'b': {'c': 2, 'd': {'e': 3}}})
    {'a': 1, 'b.c': 2, 'b.d.e': 3}
    """
"#,
        )
        .examples([
            r#"flatten_dict({"a": 1, "b": {"c": 2}})"#,
            r"flatten_dict({})",
            r#"flatten_dict({"a": {"b": 1}}, "/")"#,
        ])
        .tests([
            r#"assert flatten_dict({"a": 1, "b": {"c": 2, "d": {"e": 3}}}) == {"a": 1, "b.c": 2, "b.d.e": 3}"#,
            r"assert flatten_dict({}) == {}",
            r#"assert flatten_dict({"x": {}, "y": 0}) == {"y": 0}"#,
            r#"assert flatten_dict({"a": {"b": 1}}, "/") == {"a/b": 1}"#,
            r#"assert flatten_dict({"l": [1, {"z": 1}]}) == {"l": [1, {"z": 1}]}"#,
        ])
        .reference(
            r#"def flatten_dict(data: dict, sep: str = ".") -> dict:
    flat = {}

    def walk(prefix, value):
        for key, item in value.items():
            name = f"{prefix}{sep}{key}" if prefix else str(key)
            if isinstance(item, dict):
                walk(name, item)
            else:
                flat[name] = item

    walk("", data)
    return flat
"#,
        )
}
