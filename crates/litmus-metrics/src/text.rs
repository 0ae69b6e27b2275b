//! Text normalization, exact match and substring match.
//!
//! [`Normalize`] selects which transformations are applied to both the
//! prediction and the reference before they are compared. The steps always
//! run in the order SQuAD's `normalize_answer` uses:
//!
//! 1. `case_fold`: Unicode lowercase (`str::to_lowercase`, like Python's `str.lower`);
//! 2. `strip_punctuation`: remove ASCII punctuation (Python's `string.punctuation`,
//!    which is what SQuAD removes) and every Unicode punctuation character
//!    (general category `P*`, e.g. `“ ” — …`);
//! 3. `strip_articles`: replace the words `a`, `an`, `the` (matched as whole
//!    words, case-insensitively, with the word boundaries of Python's `re`) by
//!    a space;
//! 4. `collapse_whitespace`: split on whitespace and join with single spaces
//!    (this also trims);
//! 5. `trim`: remove leading and trailing whitespace.
//!
//! "Whitespace" is Python's definition (`str.isspace`: Unicode `White_Space`
//! plus the ASCII separators U+001C..U+001F). [`Normalize::squad`] therefore
//! gives the same string as the official SQuAD script on any text without
//! non-ASCII punctuation; it additionally removes Unicode punctuation, which
//! SQuAD keeps.
//!
//! ```
//! use litmus_metrics::text::{exact_match, normalize};
//! use litmus_metrics::Normalize;
//!
//! assert_eq!(normalize("  The  Eiffel Tower! ", &Normalize::squad()), "eiffel tower");
//! assert!(exact_match("The Eiffel tower.", "eiffel Tower", &Normalize::squad()));
//! assert!(!exact_match("The Eiffel tower.", "eiffel Tower", &Normalize::default()));
//! ```

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Which normalizations to apply before comparing two strings.
///
/// Deserializes from a (possibly partial) map; missing fields take the value
/// of [`Normalize::default`], which only trims. See the [module docs](self)
/// for the order of the steps.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Normalize {
    /// Remove leading and trailing whitespace.
    pub trim: bool,
    /// Lowercase (full Unicode lowercase mapping).
    pub case_fold: bool,
    /// Replace every run of whitespace by one space, and trim.
    pub collapse_whitespace: bool,
    /// Remove ASCII punctuation and Unicode punctuation characters.
    pub strip_punctuation: bool,
    /// Remove the English articles `a`, `an`, `the` as whole words.
    pub strip_articles: bool,
}

impl Default for Normalize {
    /// Trim only: the strictest comparison that still forgives a trailing newline.
    fn default() -> Self {
        Normalize {
            trim: true,
            case_fold: false,
            collapse_whitespace: false,
            strip_punctuation: false,
            strip_articles: false,
        }
    }
}

impl Normalize {
    /// No normalization at all: byte-for-byte comparison.
    pub fn none() -> Self {
        Normalize {
            trim: false,
            ..Normalize::default()
        }
    }

    /// Everything on: SQuAD's `normalize_answer` (lowercase, drop punctuation,
    /// drop articles, collapse whitespace).
    pub fn squad() -> Self {
        Normalize {
            trim: true,
            case_fold: true,
            collapse_whitespace: true,
            strip_punctuation: true,
            strip_articles: true,
        }
    }

    /// Forgiving of formatting but not of wording: trim, case-fold and
    /// collapse whitespace (punctuation and articles are kept).
    pub fn loose() -> Self {
        Normalize {
            trim: true,
            case_fold: true,
            collapse_whitespace: true,
            strip_punctuation: false,
            strip_articles: false,
        }
    }

    /// Returns a copy with `trim` set.
    pub fn with_trim(mut self, on: bool) -> Self {
        self.trim = on;
        self
    }

    /// Returns a copy with `case_fold` set.
    pub fn with_case_fold(mut self, on: bool) -> Self {
        self.case_fold = on;
        self
    }

    /// Returns a copy with `collapse_whitespace` set.
    pub fn with_collapse_whitespace(mut self, on: bool) -> Self {
        self.collapse_whitespace = on;
        self
    }

    /// Returns a copy with `strip_punctuation` set.
    pub fn with_strip_punctuation(mut self, on: bool) -> Self {
        self.strip_punctuation = on;
        self
    }

    /// Returns a copy with `strip_articles` set.
    pub fn with_strip_articles(mut self, on: bool) -> Self {
        self.strip_articles = on;
        self
    }

    /// True when no step is enabled.
    pub fn is_identity(&self) -> bool {
        !(self.trim
            || self.case_fold
            || self.collapse_whitespace
            || self.strip_punctuation
            || self.strip_articles)
    }
}

/// Python's `str.isspace` for one character: Unicode `White_Space` plus the
/// information separators U+001C..U+001F, which Python (but not Rust) counts
/// as whitespace. sacrebleu and SQuAD split on exactly this set.
pub fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` with no argument: split on runs of Python whitespace,
/// dropping empty pieces.
pub fn python_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_python_whitespace).filter(|s| !s.is_empty())
}

/// Python's `str.rstrip()` with no argument.
pub fn python_rstrip(text: &str) -> &str {
    text.trim_end_matches(is_python_whitespace)
}

/// Python's `\w` in a `str` pattern: letters (`L*`), numbers (`N*`, the
/// superscript `²` and `½` included) and `_`. Rust regex's `\w` differs: it
/// also counts combining marks and the zero-width joiners, but not `²`.
fn is_python_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"^[\p{L}\p{N}]$").expect("static regex"));
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf))
}

/// SQuAD's `re.sub(r"\b(a|an|the)\b", " ", text)` with Python's word
/// boundaries ([`is_python_word`]), case-insensitive.
fn strip_articles(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Whether the character before `rest` is a word character.
    let mut after_word = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !after_word {
            let article = ["the", "an", "a"].into_iter().find(|a| {
                rest.get(..a.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(a))
                    && !rest[a.len()..].chars().next().is_some_and(is_python_word)
            });
            if let Some(a) = article {
                out.push(' ');
                rest = &rest[a.len()..];
                after_word = true;
                continue;
            }
        }
        out.push(c);
        after_word = is_python_word(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn unicode_punct_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\p{P}").expect("static regex"))
}

fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation();
    }
    let mut buf = [0u8; 4];
    unicode_punct_re().is_match(c.encode_utf8(&mut buf))
}

/// Applies `opts` to `text` (see the [module docs](self) for the order).
pub fn normalize(text: &str, opts: &Normalize) -> String {
    let mut s = if opts.case_fold {
        text.to_lowercase()
    } else {
        text.to_owned()
    };
    if opts.strip_punctuation {
        s.retain(|c| !is_punctuation(c));
    }
    if opts.strip_articles {
        s = strip_articles(&s);
    }
    if opts.collapse_whitespace {
        s = python_split(&s).collect::<Vec<_>>().join(" ");
    }
    if opts.trim {
        s = s.trim_matches(is_python_whitespace).to_owned();
    }
    s
}

/// True when `prediction` and `reference` are equal after normalization.
pub fn exact_match(prediction: &str, reference: &str, opts: &Normalize) -> bool {
    normalize(prediction, opts) == normalize(reference, opts)
}

/// True when the normalized `reference` occurs in the normalized `prediction`.
///
/// An empty (normalized) reference is contained in every prediction.
pub fn contains(prediction: &str, reference: &str, opts: &Normalize) -> bool {
    normalize(prediction, opts).contains(&normalize(reference, opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squad_examples() {
        let n = Normalize::squad();
        assert_eq!(normalize("The Cat.", &n), "cat");
        assert_eq!(
            normalize("an apple, a pear & the  fig!", &n),
            "apple pear fig"
        );
        // Articles only as whole words.
        assert_eq!(normalize("theatre anthem", &n), "theatre anthem");
        assert_eq!(normalize("“Quoted” — text…", &n), "quoted text");
        assert_eq!(normalize("", &n), "");
    }

    #[test]
    fn articles_end_where_python_words_end() {
        // The official script's outputs (Python 3.11's `re`): combining marks
        // and joiners are not word characters there, `²` and `½` are.
        let n = Normalize::squad();
        for (text, squad) in [
            ("a\u{300} news", "\u{300} news"),
            ("e\u{301}AN", "e\u{301}"),
            ("the² goodness", "the² goodness"),
            ("½A", "½a"),
            ("an\u{200d} mat", "\u{200d} mat"),
            ("the_a an", "thea"),
            ("THE end, a, an", "end"),
            ("über a Ärger", "über ärger"),
        ] {
            assert_eq!(normalize(text, &n), squad, "{text:?}");
        }
    }

    #[test]
    fn default_only_trims() {
        let n = Normalize::default();
        assert_eq!(normalize("  Paris\n", &n), "Paris");
        assert!(!exact_match("paris", "Paris", &n));
        assert!(exact_match(
            "paris",
            "Paris",
            &n.clone().with_case_fold(true)
        ));
        assert_eq!(normalize(" x ", &Normalize::none()), " x ");
        assert!(Normalize::none().is_identity());
    }

    #[test]
    fn python_whitespace() {
        assert!(is_python_whitespace('\u{1c}'));
        assert!(is_python_whitespace('\u{3000}'));
        assert!(!is_python_whitespace('\u{200b}'));
        let parts: Vec<_> = python_split(" a\u{1f}b\u{a0}c ").collect();
        assert_eq!(parts, ["a", "b", "c"]);
        assert_eq!(python_rstrip("x \u{1c}"), "x");
    }

    #[test]
    fn contains_semantics() {
        let n = Normalize::loose();
        assert!(contains("The answer is  PARIS.", "answer is paris", &n));
        assert!(!contains("The answer is Lyon", "paris", &n));
        assert!(contains("anything", "", &n));
    }
}
