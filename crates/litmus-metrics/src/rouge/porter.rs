//! The Porter stemmer exactly as NLTK implements it in its default
//! `NLTK_EXTENSIONS` mode.
//!
//! `rouge-score` builds its stemmer with `nltk.stem.porter.PorterStemmer()`,
//! whose default mode is `NLTK_EXTENSIONS`: Porter's 1980 algorithm plus
//! Martin Porter's later fixes plus NLTK's own changes (a table of irregular
//! forms such as `dying -> die`, `ies -> ie` for four-letter words, the
//! `(*c and not c) Y -> I` rule, the `alli`, `fulli` and `logi` step-2 rules,
//! and the two-letter `*o` condition). This module reproduces that mode rule by
//! rule; the test suite checks it against NLTK's output for about 4,000 words.
//!
//! ```
//! use litmus_metrics::rouge::porter::stem;
//!
//! assert_eq!(stem("running"), "run");
//! assert_eq!(stem("happily"), "happili");
//! assert_eq!(stem("dying"), "die");
//! assert_eq!(stem("generalizations"), "gener");
//! ```

/// Stems one word. The word is lowercased first (as NLTK does); words of at
/// most two characters are returned lowercased but otherwise unchanged.
pub fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    if let Some(irregular) = irregular_form(&lower) {
        return irregular.to_owned();
    }
    if word.chars().count() <= 2 {
        return lower;
    }
    let mut w: Vec<char> = lower.chars().collect();
    w = step1a(w);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    w = step5b(w);
    w.into_iter().collect()
}

/// NLTK_EXTENSIONS' pool of irregular forms.
fn irregular_form(word: &str) -> Option<&'static str> {
    Some(match word {
        "sky" | "skies" => "sky",
        "dying" => "die",
        "lying" => "lie",
        "tying" => "tie",
        "news" => "news",
        "innings" | "inning" => "inning",
        "outings" | "outing" => "outing",
        "cannings" | "canning" => "canning",
        "howe" => "howe",
        "proceed" => "proceed",
        "exceed" => "exceed",
        "succeed" => "succeed",
        _ => return None,
    })
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// `True` for consonants; a `y` is a consonant iff it starts the word or
/// follows a vowel (NLTK's `_consonant_flags`).
fn consonant_flags(w: &[char]) -> Vec<bool> {
    let mut flags: Vec<bool> = Vec::with_capacity(w.len());
    for (i, &c) in w.iter().enumerate() {
        let f = if is_vowel(c) {
            false
        } else if c == 'y' {
            i == 0 || !flags[i - 1]
        } else {
            true
        };
        flags.push(f);
    }
    flags
}

fn is_consonant(w: &[char], i: usize) -> bool {
    consonant_flags(&w[..=i])[i]
}

/// Porter's m: the number of vowel-to-consonant transitions.
fn measure(stem: &[char]) -> usize {
    let flags = consonant_flags(stem);
    flags.windows(2).filter(|p| !p[0] && p[1]).count()
}

fn contains_vowel(stem: &[char]) -> bool {
    consonant_flags(stem).iter().any(|&c| !c)
}

fn ends_double_consonant(w: &[char]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// Condition `*o`, with NLTK's extension for two-letter stems.
fn ends_cvc(w: &[char]) -> bool {
    let n = w.len();
    (n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], 'w' | 'x' | 'y'))
        || (n == 2 && !is_consonant(w, 0) && is_consonant(w, 1))
}

fn ends_with(w: &[char], suffix: &str) -> bool {
    let n = suffix.chars().count();
    w.len() >= n && w[w.len() - n..].iter().copied().eq(suffix.chars())
}

fn strip(w: &[char], suffix: &str) -> Vec<char> {
    w[..w.len() - suffix.chars().count()].to_vec()
}

fn concat(stem: Vec<char>, replacement: &str) -> Vec<char> {
    let mut out = stem;
    out.extend(replacement.chars());
    out
}

/// The condition of a suffix rule, evaluated on the stem (the word without the suffix).
#[derive(Clone, Copy)]
enum Cond {
    Always,
    /// m > 0
    Positive,
    /// m > 1
    Gt1,
    /// m > 1 and the stem ends in `s` or `t` (step 4's ION rule)
    Ion,
    /// NLTK's `logi` rule: m(word[:-3]) > 0, i.e. the stem plus its `l`.
    Logi,
}

fn holds(cond: Cond, stem: &[char]) -> bool {
    match cond {
        Cond::Always => true,
        Cond::Positive => measure(stem) > 0,
        Cond::Gt1 => measure(stem) > 1,
        Cond::Ion => measure(stem) > 1 && matches!(stem.last(), Some('s' | 't')),
        Cond::Logi => {
            let mut with_l = stem.to_vec();
            with_l.push('l');
            measure(&with_l) > 0
        }
    }
}

/// NLTK's `_apply_rule_list` for plain suffix rules: the first rule whose suffix
/// matches decides; if its condition fails the word is returned unchanged.
fn apply_rules(w: Vec<char>, rules: &[(&str, &str, Cond)]) -> Vec<char> {
    for &(suffix, replacement, cond) in rules {
        if ends_with(&w, suffix) {
            let stem = strip(&w, suffix);
            return if holds(cond, &stem) {
                concat(stem, replacement)
            } else {
                w
            };
        }
    }
    w
}

fn step1a(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "ies") && w.len() == 4 {
        return concat(strip(&w, "ies"), "ie");
    }
    apply_rules(
        w,
        &[
            ("sses", "ss", Cond::Always),
            ("ies", "i", Cond::Always),
            ("ss", "ss", Cond::Always),
            ("s", "", Cond::Always),
        ],
    )
}

fn step1b(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "ied") {
        let replacement = if w.len() == 4 { "ie" } else { "i" };
        return concat(strip(&w, "ied"), replacement);
    }
    if ends_with(&w, "eed") {
        let stem = strip(&w, "eed");
        return if measure(&stem) > 0 {
            concat(stem, "ee")
        } else {
            w
        };
    }
    let mut intermediate = None;
    for suffix in ["ed", "ing"] {
        if ends_with(&w, suffix) {
            let stem = strip(&w, suffix);
            if contains_vowel(&stem) {
                intermediate = Some(stem);
                break;
            }
        }
    }
    let Some(stem) = intermediate else {
        return w;
    };
    for suffix in ["at", "bl", "iz"] {
        if ends_with(&stem, suffix) {
            return concat(stem, "e");
        }
    }
    if ends_double_consonant(&stem) {
        let last = stem[stem.len() - 1];
        return if matches!(last, 'l' | 's' | 'z') {
            stem
        } else {
            stem[..stem.len() - 1].to_vec()
        };
    }
    if measure(&stem) == 1 && ends_cvc(&stem) {
        concat(stem, "e")
    } else {
        stem
    }
}

fn step1c(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "y") {
        let stem = strip(&w, "y");
        if stem.len() > 1 && is_consonant(&stem, stem.len() - 1) {
            return concat(stem, "i");
        }
    }
    w
}

fn step2(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "alli") {
        let stem = strip(&w, "alli");
        if measure(&stem) > 0 {
            return step2(concat(stem, "al"));
        }
    }
    use Cond::Positive as P;
    apply_rules(
        w,
        &[
            ("ational", "ate", P),
            ("tional", "tion", P),
            ("enci", "ence", P),
            ("anci", "ance", P),
            ("izer", "ize", P),
            ("bli", "ble", P),
            ("alli", "al", P),
            ("entli", "ent", P),
            ("eli", "e", P),
            ("ousli", "ous", P),
            ("ization", "ize", P),
            ("ation", "ate", P),
            ("ator", "ate", P),
            ("alism", "al", P),
            ("iveness", "ive", P),
            ("fulness", "ful", P),
            ("ousness", "ous", P),
            ("aliti", "al", P),
            ("iviti", "ive", P),
            ("biliti", "ble", P),
            ("fulli", "ful", P),
            ("logi", "log", Cond::Logi),
        ],
    )
}

fn step3(w: Vec<char>) -> Vec<char> {
    use Cond::Positive as P;
    apply_rules(
        w,
        &[
            ("icate", "ic", P),
            ("ative", "", P),
            ("alize", "al", P),
            ("iciti", "ic", P),
            ("ical", "ic", P),
            ("ful", "", P),
            ("ness", "", P),
        ],
    )
}

fn step4(w: Vec<char>) -> Vec<char> {
    use Cond::Gt1 as G;
    apply_rules(
        w,
        &[
            ("al", "", G),
            ("ance", "", G),
            ("ence", "", G),
            ("er", "", G),
            ("ic", "", G),
            ("able", "", G),
            ("ible", "", G),
            ("ant", "", G),
            ("ement", "", G),
            ("ment", "", G),
            ("ent", "", G),
            ("ion", "", Cond::Ion),
            ("ou", "", G),
            ("ism", "", G),
            ("ate", "", G),
            ("iti", "", G),
            ("ous", "", G),
            ("ive", "", G),
            ("ize", "", G),
        ],
    )
}

fn step5a(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "e") {
        let stem = strip(&w, "e");
        let m = measure(&stem);
        if m > 1 || (m == 1 && !ends_cvc(&stem)) {
            return stem;
        }
    }
    w
}

fn step5b(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "ll") && measure(&w[..w.len() - 1]) > 1 {
        return w[..w.len() - 1].to_vec();
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_examples() {
        for (w, s) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("cats", "cat"),
            ("feed", "feed"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("controll", "control"),
            ("roll", "roll"),
            ("yyyy", "yyyi"),
            ("a", "a"),
            ("At", "at"),
        ] {
            assert_eq!(stem(w), s, "stem({w})");
        }
    }

    #[test]
    fn y_consonant_rule() {
        // A y after a consonant is a vowel; after a vowel (or first) a consonant.
        let w: Vec<char> = "syzygy".chars().collect();
        assert_eq!(consonant_flags(&w), [true, false, true, false, true, false]);
        let w: Vec<char> = "toy".chars().collect();
        assert_eq!(consonant_flags(&w), [true, false, true]);
    }
}
