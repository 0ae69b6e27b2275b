//! Short answers: facts, arithmetic, unit conversion, spelling and simple
//! reasoning. Each question asks for a single word or number and is scored
//! by exact match after normalization (case, surrounding whitespace,
//! punctuation and articles ignored) or by a regex that finds the answer in a
//! sentence.
//!
//! Echoing the question back scores 0: no question matches its own metric.

use litmus::metrics::Normalize;
use litmus::prelude::*;

const ONE_WORD: &str = "Answer with a single word.";
const ONE_NUMBER: &str = "Answer with a number only.";

/// Exact match ignoring case, punctuation, articles and extra whitespace
/// (`SQuAD`'s normalization), so "The Sun." matches "Sun".
fn exact() -> Metric {
    Metric::exact_normalized(Normalize::squad())
}

/// `word` (a regex fragment) anywhere in the answer, as a whole word, any case.
fn word(word: &str) -> Metric {
    Metric::regex(format!(r"(?i)\b(?:{word})\b"))
}

/// The number `digits` (a regex fragment, e.g. `86,?400`) anywhere in the
/// answer, not as part of a larger or negative number; `.0` decimals are
/// allowed. `spelled` optionally accepts the number written as a word.
fn number(digits: &str, spelled: Option<&str>) -> Metric {
    let numeric = format!(r"(?:^|[^0-9.,\-])(?:{digits})(?:\.0+)?(?:$|[^0-9.,]|[.,](?:$|[^0-9]))");
    match spelled {
        Some(w) => Metric::regex(format!(r"(?i){numeric}|\b{w}\b")),
        None => Metric::regex(numeric),
    }
}

// ---------------------------------------------------------------------------
// Geography
// ---------------------------------------------------------------------------

#[eval(tags = ["qa", "text", "geography", "easy"])]
#[case::france("France", "Paris")]
#[case::japan("Japan", "Tokyo")]
#[case::italy("Italy", "Rome")]
#[case::egypt("Egypt", "Cairo")]
#[case::kenya("Kenya", "Nairobi")]
fn capital(country: &str, city: &str) -> TextCase {
    TextCase::new(format!("What is the capital city of {country}? {ONE_WORD}"))
        .reference(city)
        .metric(word(city))
}

/// Countries whose best-known city is not the capital.
#[eval(tags = ["qa", "text", "geography", "medium"])]
#[case::australia("Australia", "Canberra", "canberra")]
#[case::canada("Canada", "Ottawa", "ottawa")]
#[case::turkey("Turkey", "Ankara", "ankara")]
#[case::brazil("Brazil", "Brasília", "bras[ií]lia")]
#[case::switzerland("Switzerland", "Bern", "berne?")]
fn capital_tricky(country: &str, city: &str, pattern: &str) -> TextCase {
    TextCase::new(format!("What is the capital city of {country}? {ONE_WORD}"))
        .reference(city)
        .metric(word(pattern))
}

// ---------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------

#[eval(tags = ["qa", "text", "arithmetic", "easy"])]
#[case::addition("17 + 25", "42")]
#[case::multiplication("9 * 8", "72")]
#[case::subtraction("100 - 37", "63")]
#[case::division("156 / 12", "13")]
#[case::three_terms("15 + 27 + 8", "50")]
fn arithmetic(expression: &str, result: &str) -> TextCase {
    TextCase::new(format!("What is {expression}? {ONE_NUMBER}"))
        .reference(result)
        .metric(number(result, None))
}

#[eval(tags = ["qa", "text", "arithmetic", "medium"])]
#[case::distance(
    "A train travels at 60 kilometres per hour for 3 hours. How many kilometres does it travel?",
    "180"
)]
#[case::discount(
    "A shirt costs 20 dollars and is sold with a 25 percent discount. What is its new price in dollars?",
    "15"
)]
#[case::percentage("What is 15 percent of 240?", "36")]
#[case::series("What is the sum of all whole numbers from 1 to 10?", "55")]
#[case::pencils(
    "Anna has 3 boxes with 12 pencils in each box. She gives away 7 pencils. How many pencils does she have left?",
    "29"
)]
fn word_problem(question: &str, result: &str) -> TextCase {
    TextCase::new(format!("{question} {ONE_NUMBER}"))
        .reference(result)
        .metric(number(result, None))
}

// ---------------------------------------------------------------------------
// Unit conversion
// ---------------------------------------------------------------------------

#[eval(tags = ["qa", "text", "units", "easy"])]
#[case::hours_to_minutes("minutes are in 3 hours", "180", "180")]
#[case::metres_to_centimetres("centimetres are in 2 metres", "200", "200")]
#[case::litres_to_millilitres("millilitres are in 4 litres", "4000", "4,?000")]
#[case::kilograms_to_grams("grams are in 5 kilograms", "5000", "5,?000")]
fn convert(question: &str, result: &str, pattern: &str) -> TextCase {
    TextCase::new(format!("How many {question}? {ONE_NUMBER}"))
        .reference(result)
        .metric(number(pattern, None))
}

#[eval(tags = ["qa", "text", "units", "medium"])]
#[case::day_to_seconds("seconds are in one day", "86400", "86,?400")]
#[case::week_to_hours("hours are in one week", "168", "168")]
#[case::fractional_metres("centimetres are in 2.5 metres", "250", "250")]
#[case::fractional_hours("minutes are in 2.5 hours", "150", "150")]
#[case::feet_to_inches("inches are in 3 feet", "36", "36")]
fn convert_multi_step(question: &str, result: &str, pattern: &str) -> TextCase {
    TextCase::new(format!("How many {question}? {ONE_NUMBER}"))
        .reference(result)
        .metric(number(pattern, None))
}

// ---------------------------------------------------------------------------
// Spelling and words
// ---------------------------------------------------------------------------

#[eval(tags = ["qa", "text", "spelling", "medium"])]
#[case::mouse("mouse", &["mice"])]
#[case::child("child", &["children"])]
#[case::goose("goose", &["geese"])]
#[case::person("person", &["people", "persons"])]
#[case::cactus("cactus", &["cacti", "cactuses"])]
fn plural(singular: &str, plurals: &[&str]) -> TextCase {
    TextCase::new(format!(
        "What is the plural of the English noun \"{singular}\"? {ONE_WORD}"
    ))
    .references(plurals.iter().copied())
    .metric(exact())
}

#[eval(tags = ["qa", "text", "spelling", "easy"])]
#[case::run("run", "ran")]
#[case::swim("swim", "swam")]
#[case::think("think", "thought")]
#[case::bring("bring", "brought")]
#[case::catch("catch", "caught")]
fn past_tense(verb: &str, past: &str) -> TextCase {
    TextCase::new(format!(
        "What is the simple past tense of the English verb \"{verb}\"? {ONE_WORD}"
    ))
    .reference(past)
    .metric(exact())
}

#[eval(tags = ["qa", "text", "spelling", "hard"])]
#[case::stone("stone", "enots")]
#[case::planet("planet", "tenalp")]
#[case::garden("garden", "nedrag")]
#[case::lemon("lemon", "nomel")]
fn spell_backwards(word: &str, reversed: &str) -> TextCase {
    TextCase::new(format!(
        "Write the word \"{word}\" with its letters in reverse order. {ONE_WORD}"
    ))
    .reference(reversed)
    .metric(exact())
}

#[eval(tags = ["qa", "text", "spelling", "hard"])]
#[case::strawberry("r", "strawberry", "3", "three")]
#[case::mississippi("s", "mississippi", "4", "four")]
#[case::excellence("e", "excellence", "4", "four")]
fn letter_count(letter: &str, word: &str, count: &str, spelled: &str) -> TextCase {
    TextCase::new(format!(
        "How many times does the letter \"{letter}\" appear in the word \"{word}\"? {ONE_NUMBER}"
    ))
    .reference(count)
    .metric(number(count, Some(spelled)))
}

// ---------------------------------------------------------------------------
// Science and general knowledge
// ---------------------------------------------------------------------------

#[eval(tags = ["qa", "text", "science", "easy"])]
#[case::red_planet("Which planet is known as the Red Planet?", "Mars", "mars")]
#[case::largest_ocean("What is the largest ocean on Earth?", "Pacific", "pacific")]
#[case::spider_legs("How many legs does a spider have?", "8", "8|eight")]
#[case::boiling_point(
    "At what temperature, in degrees Celsius, does water boil at sea level?",
    "100",
    "100|one hundred"
)]
#[case::shakespeare(
    "Who wrote the play Romeo and Juliet? Give the surname.",
    "Shakespeare",
    "shakespeare"
)]
fn general_knowledge(question: &str, answer: &str, pattern: &str) -> TextCase {
    TextCase::new(format!("{question} Answer as briefly as possible."))
        .reference(answer)
        .metric(word(pattern))
}

#[eval(tags = ["qa", "text", "science", "medium"])]
#[case::gold("What is the chemical symbol for gold?", &["Au"])]
#[case::hydrogen("Which chemical element has the atomic number 1?", &["Hydrogen"])]
#[case::photosynthesis_gas(
    "Which gas do plants take from the air for photosynthesis? Give its chemical formula.",
    &["CO2", "CO₂", "carbon dioxide"]
)]
#[case::closest_star("What is the closest star to the Earth?", &["Sun"])]
#[case::hardest_mineral("Which natural mineral is the hardest?", &["Diamond"])]
fn science_fact(question: &str, answers: &[&str]) -> TextCase {
    TextCase::new(format!("{question} {ONE_WORD}"))
        .references(answers.iter().copied())
        .metric(exact())
}

// ---------------------------------------------------------------------------
// Reasoning
// ---------------------------------------------------------------------------

#[eval(tags = ["qa", "text", "reasoning", "medium"])]
#[case::shortest(
    "Tom is taller than Ann. Ann is taller than Joe. Who is the shortest of the three?",
    &["Joe"]
)]
#[case::weekday("If today is Monday, what day of the week will it be in three days?", &["Thursday"])]
#[case::opposite("What is the opposite of the word \"ancient\"?", &["modern", "new", "young"])]
#[case::odd_one_out(
    "Which word does not belong with the others: apple, banana, carrot, cherry?",
    &["carrot"]
)]
fn reasoning(question: &str, answers: &[&str]) -> TextCase {
    TextCase::new(format!("{question} {ONE_WORD}"))
        .references(answers.iter().copied())
        .metric(exact())
}

#[eval(tags = ["qa", "text", "reasoning", "hard"])]
#[case::sequence("What is the next number in the sequence 3, 6, 12, 24?", "48", "48")]
#[case::syllogism(
    "All bloops are razzies and all razzies are lazzies. Is it true that all bloops are lazzies?",
    "yes",
    r"\byes\b"
)]
#[case::compare_decimals("Which number is larger, 0.7 or 0.65?", "0.7", r"^\W*0?\.70*\W*$")]
#[case::siblings(
    "Sara has two brothers, and each of her brothers has only a single sister. How many girls are there among the three children?",
    "1",
    r"(?:^|[^0-9.,\-])1(?:$|[^0-9.,]|[.,](?:$|[^0-9]))|\bone\b"
)]
fn reasoning_hard(question: &str, answer: &str, pattern: &str) -> TextCase {
    TextCase::new(format!("{question} Answer with a single word or number."))
        .reference(answer)
        .metric(Metric::regex(format!("(?i){pattern}")))
}
