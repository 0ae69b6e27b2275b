//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum, identical to Google's
//! [`rouge-score`](https://pypi.org/project/rouge-score/) Python package
//! (which Hugging Face `evaluate`'s `"rouge"` metric wraps).
//!
//! What "identical" means, rule by rule, following `rouge_score/tokenize.py`
//! and `rouge_score/rouge_scorer.py` (version 0.1.2):
//!
//! * **Tokenizer**: the text is lowercased (full Unicode mapping, so `İ`
//!   becomes `i` + a combining dot and the Kelvin sign becomes `k`), every run
//!   of characters outside ASCII `[a-z0-9]` becomes a separator, and only
//!   non-empty `[a-z0-9]+` tokens are kept. Non-ASCII letters therefore never
//!   form tokens: `café` gives `caf`, `東京` gives nothing.
//! * **Stemming** (`use_stemmer = true`): tokens longer than three characters
//!   go through NLTK's `PorterStemmer()` in its default `NLTK_EXTENSIONS` mode
//!   (see [`porter`]).
//! * **ROUGE-N**: clipped n-gram overlap; precision = overlap / max(#prediction
//!   n-grams, 1), recall = overlap / max(#reference n-grams, 1).
//! * **ROUGE-L**: longest common subsequence over the whole token sequence;
//!   zero when either side has no token.
//! * **ROUGE-Lsum**: the texts are split into sentences on `'\n'` only (empty
//!   lines dropped), and the summary-level "union LCS" of the ROUGE paper is
//!   computed with ROUGE-1.5.5's guard against double counting: for each
//!   reference sentence, the union of its LCS token positions with every
//!   prediction sentence (each LCS read back with rouge-score's tie-breaking)
//!   counts as hits while both sides still have unused copies of the token.
//!   Without newlines ROUGE-Lsum equals ROUGE-L.
//! * **F-measure**: `2PR / (P + R)`, or 0 when `P + R = 0`.
//! * **Several references**: [`score_multi`] mirrors `RougeScorer.score_multi`:
//!   each reference is scored separately and the one with the highest
//!   F-measure wins (the first one on ties); its precision and recall are
//!   returned with it.
//!
//! The test suite compares every variant, with and without stemming, against
//! fixtures produced by the Python package to 1e-12.
//!
//! ```
//! use litmus_metrics::rouge::{score, RougeVariant};
//!
//! let s = score(
//!     RougeVariant::RougeL,
//!     "The quick brown dog jumps on the log.",
//!     "The quick brown fox jumps over the lazy dog",
//!     false,
//! );
//! assert!((s.precision - 0.625).abs() < 1e-12);
//! assert!((s.recall - 5.0 / 9.0).abs() < 1e-12);
//! ```
//!
//! Argument order: this module takes `(prediction, reference)` like the rest of
//! the crate; `rouge_score`'s own `score(target, prediction)` takes them the
//! other way round.

pub mod porter;

use serde::{Deserialize, Serialize};

use crate::util::FastMap;

/// Which ROUGE score to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RougeVariant {
    /// Unigram overlap (`rouge1`).
    #[serde(rename = "rouge1", alias = "rouge_1")]
    Rouge1,
    /// Bigram overlap (`rouge2`).
    #[serde(rename = "rouge2", alias = "rouge_2")]
    Rouge2,
    /// Longest common subsequence over the whole text (`rougeL`).
    #[serde(rename = "rougeL", alias = "rouge_l")]
    RougeL,
    /// Summary-level union LCS over newline-separated sentences (`rougeLsum`).
    #[serde(rename = "rougeLsum", alias = "rouge_lsum")]
    RougeLsum,
}

impl RougeVariant {
    /// All four variants, in the order `rouge1, rouge2, rougeL, rougeLsum`.
    pub const ALL: [RougeVariant; 4] = [
        RougeVariant::Rouge1,
        RougeVariant::Rouge2,
        RougeVariant::RougeL,
        RougeVariant::RougeLsum,
    ];

    /// The name `rouge-score` and Hugging Face `evaluate` use: `rouge1`,
    /// `rouge2`, `rougeL` or `rougeLsum`.
    pub fn name(&self) -> &'static str {
        match self {
            RougeVariant::Rouge1 => "rouge1",
            RougeVariant::Rouge2 => "rouge2",
            RougeVariant::RougeL => "rougeL",
            RougeVariant::RougeLsum => "rougeLsum",
        }
    }
}

impl std::fmt::Display for RougeVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Precision, recall and F-measure of one ROUGE comparison, each in `[0, 1]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RougeScore {
    /// Matched units / units in the prediction.
    pub precision: f64,
    /// Matched units / units in the reference.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub fmeasure: f64,
}

impl RougeScore {
    fn from_pr(precision: f64, recall: f64) -> Self {
        RougeScore {
            precision,
            recall,
            fmeasure: fmeasure(precision, recall),
        }
    }
}

/// `rouge_score.scoring.fmeasure`.
fn fmeasure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// rouge-score's default tokenizer (see the [module docs](self)).
///
/// ```
/// use litmus_metrics::rouge::tokenize;
/// assert_eq!(tokenize("It's 3.5% — café!", false), ["it", "s", "3", "5", "caf"]);
/// assert_eq!(tokenize("The runners were running", true), ["the", "runner", "were", "run"]);
/// ```
pub fn tokenize(text: &str, use_stemmer: bool) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    // Words repeat a lot within a text; stem each distinct word once.
    let mut stems: FastMap<String, String> = FastMap::default();
    let mut flush = |current: &mut String| {
        if current.is_empty() {
            return;
        }
        let token = if use_stemmer && current.len() > 3 {
            if let Some(s) = stems.get(current.as_str()) {
                s.clone()
            } else {
                let s = porter::stem(current);
                stems.insert(current.clone(), s.clone());
                s
            }
        } else {
            current.clone()
        };
        current.clear();
        if !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            tokens.push(token);
        }
    };
    for ch in text.chars() {
        if ch.is_ascii() {
            let l = ch.to_ascii_lowercase();
            if l.is_ascii_lowercase() || l.is_ascii_digit() {
                current.push(l);
            } else {
                flush(&mut current);
            }
        } else {
            for l in ch.to_lowercase() {
                if l.is_ascii_lowercase() || l.is_ascii_digit() {
                    current.push(l);
                } else {
                    flush(&mut current);
                }
            }
        }
    }
    flush(&mut current);
    tokens
}

/// Splits a text into rougeLsum "sentences": on `'\n'`, dropping empty lines
/// (as `rouge_score` does without `split_summaries`).
pub fn split_sentences(text: &str) -> Vec<&str> {
    text.split('\n').filter(|s| !s.is_empty()).collect()
}

/// Scores `prediction` against one `reference`.
pub fn score(
    variant: RougeVariant,
    prediction: &str,
    reference: &str,
    use_stemmer: bool,
) -> RougeScore {
    match variant {
        RougeVariant::Rouge1 | RougeVariant::Rouge2 => {
            let n = if variant == RougeVariant::Rouge1 {
                1
            } else {
                2
            };
            rouge_n_tokens(
                &tokenize(prediction, use_stemmer),
                &tokenize(reference, use_stemmer),
                n,
            )
        }
        RougeVariant::RougeL => rouge_l_tokens(
            &tokenize(prediction, use_stemmer),
            &tokenize(reference, use_stemmer),
        ),
        RougeVariant::RougeLsum => {
            let sents = |t: &str| -> Vec<Vec<String>> {
                split_sentences(t)
                    .into_iter()
                    .map(|s| tokenize(s, use_stemmer))
                    .collect()
            };
            rouge_lsum_tokens(&sents(prediction), &sents(reference))
        }
    }
}

/// Scores `prediction` against several references and keeps the best one by
/// F-measure (the first on ties), like `RougeScorer.score_multi`. With no
/// reference the score is all zeros.
pub fn score_multi<S: AsRef<str>>(
    variant: RougeVariant,
    prediction: &str,
    references: &[S],
    use_stemmer: bool,
) -> RougeScore {
    let mut best: Option<RougeScore> = None;
    for r in references {
        let s = score(variant, prediction, r.as_ref(), use_stemmer);
        if best.is_none_or(|b| s.fmeasure > b.fmeasure) {
            best = Some(s);
        }
    }
    best.unwrap_or_default()
}

/// Maps tokens to dense ids, the tokens of `first` getting the lowest ids.
struct Interner<'a> {
    ids: FastMap<&'a str, u32>,
}

impl<'a> Interner<'a> {
    fn new() -> Self {
        Interner {
            ids: FastMap::default(),
        }
    }

    fn ids<S: AsRef<str>>(&mut self, tokens: &'a [S]) -> Vec<u32> {
        tokens
            .iter()
            .map(|t| {
                let next = self.ids.len() as u32;
                *self.ids.entry(t.as_ref()).or_insert(next)
            })
            .collect()
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// ROUGE-N on already tokenized text. `n = 0` gives all zeros.
pub fn rouge_n_tokens<S: AsRef<str>>(prediction: &[S], reference: &[S], n: usize) -> RougeScore {
    if n == 0 {
        return RougeScore::default();
    }
    let mut interner = Interner::new();
    let r = interner.ids(reference);
    let p = interner.ids(prediction);
    let (rc, pc) = (ngram_counts(&r, n), ngram_counts(&p, n));
    let overlap: usize = rc
        .iter()
        .map(|(g, &c)| c.min(pc.get(g).copied().unwrap_or(0)))
        .sum();
    let r_total = r.len().saturating_sub(n - 1);
    let p_total = p.len().saturating_sub(n - 1);
    RougeScore::from_pr(
        overlap as f64 / p_total.max(1) as f64,
        overlap as f64 / r_total.max(1) as f64,
    )
}

fn ngram_counts(ids: &[u32], n: usize) -> FastMap<&[u32], usize> {
    let mut m = FastMap::default();
    for w in ids.windows(n) {
        *m.entry(w).or_insert(0) += 1;
    }
    m
}

/// ROUGE-L on already tokenized text.
pub fn rouge_l_tokens<S: AsRef<str>>(prediction: &[S], reference: &[S]) -> RougeScore {
    if prediction.is_empty() || reference.is_empty() {
        return RougeScore::default();
    }
    let mut interner = Interner::new();
    // The shorter sequence becomes the bit-vector side, and it is interned
    // first so its symbols have the lowest ids.
    let (short, long) = if prediction.len() <= reference.len() {
        (prediction, reference)
    } else {
        (reference, prediction)
    };
    let a = interner.ids(short);
    let alphabet = interner.len();
    let b = interner.ids(long);
    let lcs = lcs_length(&a, &b, alphabet);
    RougeScore::from_pr(
        lcs as f64 / prediction.len() as f64,
        lcs as f64 / reference.len() as f64,
    )
}

/// ROUGE-Lsum on already tokenized sentences.
pub fn rouge_lsum_tokens<S: AsRef<str>>(
    prediction_sentences: &[Vec<S>],
    reference_sentences: &[Vec<S>],
) -> RougeScore {
    if prediction_sentences.is_empty() || reference_sentences.is_empty() {
        return RougeScore::default();
    }
    let m: usize = reference_sentences.iter().map(Vec::len).sum();
    let n: usize = prediction_sentences.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return RougeScore::default();
    }
    let mut interner = Interner::new();
    let refs: Vec<Vec<u32>> = reference_sentences
        .iter()
        .map(|s| interner.ids(s))
        .collect();
    let cans: Vec<Vec<u32>> = prediction_sentences
        .iter()
        .map(|s| interner.ids(s))
        .collect();
    let mut count_r = vec![0usize; interner.len()];
    let mut count_c = vec![0usize; interner.len()];
    for &t in refs.iter().flatten() {
        count_r[t as usize] += 1;
    }
    for &t in cans.iter().flatten() {
        count_c[t as usize] += 1;
    }
    let mut hits = 0usize;
    let mut left = Vec::new();
    for r in &refs {
        let mut in_union = vec![false; r.len()];
        for c in &cans {
            lcs_indices(r, c, &mut left, &mut in_union);
        }
        for (i, &t) in r.iter().enumerate() {
            let t = t as usize;
            if in_union[i] && count_c[t] > 0 && count_r[t] > 0 {
                hits += 1;
                count_c[t] -= 1;
                count_r[t] -= 1;
            }
        }
    }
    RougeScore::from_pr(hits as f64 / n as f64, hits as f64 / m as f64)
}

/// Marks in `mark` the positions of `r` on one longest common subsequence of
/// `r` and `c`, read back exactly as rouge-score's `_backtrack_norec` does.
///
/// The traceback needs, where the two tokens differ, only which neighbour
/// the table held more in (`table[i][j−1] > table[i−1][j]`: go left): one
/// bit a cell in `left`, with the table itself kept two rows at a time, so a
/// long single-line answer costs 1/32 of the memory of the whole table.
fn lcs_indices(r: &[u32], c: &[u32], left: &mut Vec<u64>, mark: &mut [bool]) {
    let (rows, cols) = (r.len(), c.len());
    if rows == 0 || cols == 0 {
        return;
    }
    left.clear();
    left.resize((rows * cols).div_ceil(64), 0);
    let mut prev = vec![0u32; cols + 1];
    let mut cur = vec![0u32; cols + 1];
    for i in 1..=rows {
        for j in 1..=cols {
            cur[j] = if r[i - 1] == c[j - 1] {
                prev[j - 1] + 1
            } else {
                let (l, u) = (cur[j - 1], prev[j]);
                if l > u {
                    let bit = (i - 1) * cols + j - 1;
                    left[bit / 64] |= 1 << (bit % 64);
                }
                l.max(u)
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let (mut i, mut j) = (rows, cols);
    while i > 0 && j > 0 {
        let bit = (i - 1) * cols + j - 1;
        if r[i - 1] == c[j - 1] {
            mark[i - 1] = true;
            i -= 1;
            j -= 1;
        } else if left[bit / 64] >> (bit % 64) & 1 == 1 {
            j -= 1;
        } else {
            i -= 1;
        }
    }
}

/// Length of the longest common subsequence of `a` and `b`, by the
/// bit-parallel algorithm of Allison-Dix / Hyyrö: O(|a|·|b| / 64).
///
/// Symbols of `a` must be `< alphabet`; symbols of `b` at or above `alphabet`
/// do not occur in `a`.
fn lcs_length(a: &[u32], b: &[u32], alphabet: usize) -> usize {
    let m = a.len();
    if m == 0 || b.is_empty() {
        return 0;
    }
    let words = m.div_ceil(64);
    let mut masks = vec![0u64; alphabet * words];
    for (i, &s) in a.iter().enumerate() {
        masks[s as usize * words + i / 64] |= 1u64 << (i % 64);
    }
    let mut v = vec![!0u64; words];
    for &s in b {
        let s = s as usize;
        if s >= alphabet {
            continue;
        }
        let mask = &masks[s * words..(s + 1) * words];
        let mut carry = false;
        for (vk, &mk) in v.iter_mut().zip(mask) {
            let old = *vk;
            let u = old & mk;
            let (sum, c1) = old.overflowing_add(u);
            let (sum, c2) = sum.overflowing_add(carry as u64);
            carry = c1 || c2;
            *vk = sum | (old & !mk);
        }
    }
    let mut zeros = 0usize;
    for (k, &vk) in v.iter().enumerate() {
        let valid = if k == words - 1 && m % 64 != 0 {
            (1u64 << (m % 64)) - 1
        } else {
            !0u64
        };
        zeros += (!vk & valid).count_ones() as usize;
    }
    zeros
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcs_dp(a: &[u32], b: &[u32]) -> usize {
        let mut prev = vec![0usize; b.len() + 1];
        for &x in a {
            let mut cur = vec![0usize; b.len() + 1];
            for (j, &y) in b.iter().enumerate() {
                cur[j + 1] = if x == y {
                    prev[j] + 1
                } else {
                    prev[j + 1].max(cur[j])
                };
            }
            prev = cur;
        }
        prev[b.len()]
    }

    #[test]
    fn bit_parallel_lcs_matches_dp() {
        // xorshift for reproducible pseudo-random sequences
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..300 {
            let alphabet = 1 + (next() % 8) as u32;
            let la = (next() % 200) as usize;
            let lb = (next() % 200) as usize;
            let a: Vec<u32> = (0..la).map(|_| (next() % alphabet as u64) as u32).collect();
            let b: Vec<u32> = (0..lb)
                .map(|_| (next() % (alphabet as u64 + 2)) as u32)
                .collect();
            assert_eq!(
                lcs_length(&a, &b, alphabet as usize),
                lcs_dp(&a, &b),
                "round {round}"
            );
        }
    }

    #[test]
    fn readme_example() {
        let s = score(
            RougeVariant::Rouge1,
            "The quick brown dog jumps on the log.",
            "The quick brown fox jumps over the lazy dog",
            false,
        );
        assert!((s.precision - 0.75).abs() < 1e-12);
        assert!((s.recall - 6.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn empty_inputs_are_zero() {
        for v in RougeVariant::ALL {
            assert_eq!(score(v, "", "", false), RougeScore::default());
            assert_eq!(score(v, "a b", "", true), RougeScore::default());
            assert_eq!(
                score_multi::<String>(v, "a", &[], false),
                RougeScore::default()
            );
        }
        assert_eq!(rouge_n_tokens(&["a"], &["a"], 0), RougeScore::default());
    }

    #[test]
    fn unicode_lowercasing_quirks() {
        assert_eq!(tokenize("İstanbul", false), ["i", "stanbul"]);
        assert_eq!(tokenize("5\u{212a}", false), ["5k"]);
    }
}
