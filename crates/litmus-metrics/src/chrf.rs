//! chrF and chrF++, identical to [`sacrebleu`](https://pypi.org/project/sacrebleu/)'s
//! `CHRF` (version 2.x).
//!
//! Defaults (sacrebleu's): character n-grams of order 1..=6, no word n-grams
//! (`word_order = 2` gives chrF++), β = 2, case-sensitive, whitespace removed
//! before extracting character n-grams (Python whitespace), and *effective
//! order* averaging rather than epsilon smoothing:
//!
//! * per order, precision and recall of the clipped n-gram matches;
//! * precision and recall are averaged over the orders where both the
//!   hypothesis and the reference have n-grams;
//! * `chrF = 100 · (1 + β²)·P·R / (β²·P + R)`.
//!
//! With several references the statistics of the reference giving the best
//! sentence score are kept (the first one on ties). The corpus score sums the
//! statistics of all segments, then computes the F-score once.
//!
//! ```
//! use litmus_metrics::chrf::sentence_chrf;
//!
//! let s = sentence_chrf("the cat sat on the mat", &["the cat sat on the mat"]);
//! assert!((s.score - 100.0).abs() < 1e-9);
//! assert_eq!(sentence_chrf("", &["the cat"]).score, 0.0);
//! ```

use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::util::FastMap;

use crate::text::{is_python_whitespace, python_split};

/// Options of a chrF computation; [`Default`] is sacrebleu's `CHRF()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChrfOptions {
    /// Highest character n-gram order (6).
    pub char_order: usize,
    /// Highest word n-gram order (0; 2 gives chrF++).
    pub word_order: usize,
    /// Recall weight β (2).
    pub beta: u32,
    /// Lowercase before extracting n-grams.
    pub lowercase: bool,
    /// Keep whitespace inside character n-grams.
    pub whitespace: bool,
    /// Use the epsilon-smoothed average over all orders (chrF++.py / NLTK /
    /// Moses style) instead of the effective-order average.
    pub eps_smoothing: bool,
}

impl Default for ChrfOptions {
    fn default() -> Self {
        ChrfOptions {
            char_order: 6,
            word_order: 0,
            beta: 2,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
        }
    }
}

/// A chrF score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChrfScore {
    /// chrF on a 0–100 scale.
    pub score: f64,
    /// Effective-order average character/word n-gram precision in `[0, 1]`.
    pub precision: f64,
    /// Effective-order average character/word n-gram recall in `[0, 1]`.
    pub recall: f64,
    /// Match statistics: `[hyp, ref, match]` per order (characters first, then words).
    pub stats: Vec<u64>,
}

const PUNCTS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const EPS: f64 = 1e-16;

fn counts<T: Eq + Hash>(items: impl Iterator<Item = T>) -> FastMap<T, u64> {
    let mut m = FastMap::default();
    for it in items {
        *m.entry(it).or_insert(0) += 1;
    }
    m
}

/// `[hyp count (0 if the reference has none), ref count, matches]`.
fn match_stats<K: Eq + Hash>(hyp: &FastMap<K, u64>, r: &FastMap<K, u64>) -> [u64; 3] {
    let mut matches = 0;
    let mut hyp_count = 0;
    for (g, &c) in hyp {
        hyp_count += c;
        if let Some(&rc) = r.get(g) {
            matches += c.min(rc);
        }
    }
    [
        if r.is_empty() { 0 } else { hyp_count },
        r.values().sum(),
        matches,
    ]
}

/// sacrebleu's `_remove_punctuation`: split on whitespace and detach one
/// leading or trailing ASCII punctuation character from each word.
fn words_of(sent: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for w in python_split(sent) {
        let mut chars = w.chars();
        let first = chars.next();
        let last = w.chars().next_back();
        if w.chars().nth(1).is_none() {
            out.push(w);
        } else if let Some(l) = last.filter(|l| PUNCTS.contains(*l)) {
            let cut = w.len() - l.len_utf8();
            out.extend([&w[..cut], &w[cut..]]);
        } else if let Some(f) = first.filter(|f| PUNCTS.contains(*f)) {
            let cut = f.len_utf8();
            out.extend([&w[..cut], &w[cut..]]);
        } else {
            out.push(w);
        }
    }
    out
}

struct Ngrams<'a> {
    chars: Vec<FastMap<&'a [char], u64>>,
    words: Vec<FastMap<&'a [&'a str], u64>>,
}

impl ChrfOptions {
    /// chrF++: sacrebleu's `CHRF(word_order=2)`.
    pub fn chrf_plus_plus() -> Self {
        ChrfOptions {
            word_order: 2,
            ..ChrfOptions::default()
        }
    }

    fn order(&self) -> usize {
        self.char_order + self.word_order
    }

    fn preprocess(&self, s: &str) -> String {
        if self.lowercase {
            s.to_lowercase()
        } else {
            s.to_owned()
        }
    }

    fn chars_of(&self, s: &str) -> Vec<char> {
        if self.whitespace {
            s.chars().collect()
        } else {
            s.chars().filter(|&c| !is_python_whitespace(c)).collect()
        }
    }

    fn ngrams<'a>(&self, chars: &'a [char], words: &'a [&'a str]) -> Ngrams<'a> {
        Ngrams {
            chars: (1..=self.char_order)
                .map(|n| counts(chars.windows(n)))
                .collect(),
            words: (1..=self.word_order)
                .map(|n| counts(words.windows(n)))
                .collect(),
        }
    }

    /// Match statistics of one hypothesis against its references (those of
    /// the best-scoring reference). All zeros without references.
    pub fn segment_stats<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> Vec<u64> {
        let hyp = self.preprocess(hypothesis);
        let hyp_chars = self.chars_of(&hyp);
        let hyp_words = if self.word_order > 0 {
            words_of(&hyp)
        } else {
            Vec::new()
        };
        let h = self.ngrams(&hyp_chars, &hyp_words);
        let mut best: Option<(f64, Vec<u64>)> = None;
        for r in references {
            let r = self.preprocess(r.as_ref());
            let r_chars = self.chars_of(&r);
            let r_words = if self.word_order > 0 {
                words_of(&r)
            } else {
                Vec::new()
            };
            let rn = self.ngrams(&r_chars, &r_words);
            let mut stats = Vec::with_capacity(3 * self.order());
            for (hc, rc) in h.chars.iter().zip(&rn.chars) {
                stats.extend(match_stats(hc, rc));
            }
            for (hw, rw) in h.words.iter().zip(&rn.words) {
                stats.extend(match_stats(hw, rw));
            }
            let f = self.f_score(&stats).0;
            if best.as_ref().is_none_or(|(bf, _)| f > *bf) {
                best = Some((f, stats));
            }
        }
        best.map_or_else(|| vec![0; 3 * self.order()], |(_, s)| s)
    }

    /// `(score 0–100, avg precision, avg recall)` from statistics:
    /// sacrebleu's `_compute_f_score`.
    fn f_score(&self, stats: &[u64]) -> (f64, f64, f64) {
        let factor = (self.beta as f64) * (self.beta as f64);
        let mut score = 0.0;
        let mut effective_order = 0usize;
        let (mut avg_prec, mut avg_rec) = (0.0f64, 0.0f64);
        for i in 0..self.order() {
            let get = |k: usize| stats.get(3 * i + k).copied().unwrap_or(0);
            let (n_hyp, n_ref, n_match) = (get(0), get(1), get(2));
            let prec = if n_hyp > 0 {
                n_match as f64 / n_hyp as f64
            } else {
                EPS
            };
            let rec = if n_ref > 0 {
                n_match as f64 / n_ref as f64
            } else {
                EPS
            };
            let denom = factor * prec + rec;
            score += if denom > 0.0 {
                (1.0 + factor) * prec * rec / denom
            } else {
                EPS
            };
            if n_hyp > 0 && n_ref > 0 {
                avg_prec += prec;
                avg_rec += rec;
                effective_order += 1;
            }
        }
        if effective_order == 0 {
            avg_prec = 0.0;
            avg_rec = 0.0;
        } else {
            avg_prec /= effective_order as f64;
            avg_rec /= effective_order as f64;
        }
        if self.eps_smoothing {
            let order = self.order();
            let s = if order == 0 {
                0.0
            } else {
                100.0 * score / order as f64
            };
            return (s, avg_prec, avg_rec);
        }
        if avg_prec + avg_rec != 0.0 {
            let mut s = (1.0 + factor) * avg_prec * avg_rec;
            s /= (factor * avg_prec) + avg_rec;
            (100.0 * s, avg_prec, avg_rec)
        } else {
            (0.0, avg_prec, avg_rec)
        }
    }

    /// Scores (possibly summed) statistics.
    pub fn compute(&self, stats: &[u64]) -> ChrfScore {
        let (score, precision, recall) = self.f_score(stats);
        ChrfScore {
            score,
            precision,
            recall,
            stats: stats.to_vec(),
        }
    }

    /// chrF of one hypothesis against its references.
    pub fn sentence_score<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> ChrfScore {
        self.compute(&self.segment_stats(hypothesis, references))
    }

    /// Corpus chrF: statistics summed over segments, then scored once.
    /// `references[i]` are the references of `hypotheses[i]`; extra items on
    /// either side are ignored.
    pub fn corpus_score<H, R, S>(&self, hypotheses: &[H], references: &[R]) -> ChrfScore
    where
        H: AsRef<str>,
        R: AsRef<[S]>,
        S: AsRef<str>,
    {
        let mut total = vec![0u64; 3 * self.order()];
        for (h, r) in hypotheses.iter().zip(references) {
            for (t, s) in total
                .iter_mut()
                .zip(self.segment_stats(h.as_ref(), r.as_ref()))
            {
                *t += s;
            }
        }
        self.compute(&total)
    }
}

/// Sentence chrF with sacrebleu's defaults.
pub fn sentence_chrf<S: AsRef<str>>(hypothesis: &str, references: &[S]) -> ChrfScore {
    ChrfOptions::default().sentence_score(hypothesis, references)
}

/// Corpus chrF with sacrebleu's defaults; `references[i]` belong to `hypotheses[i]`.
pub fn corpus_chrf<H, R, S>(hypotheses: &[H], references: &[R]) -> ChrfScore
where
    H: AsRef<str>,
    R: AsRef<[S]>,
    S: AsRef<str>,
{
    ChrfOptions::default().corpus_score(hypotheses, references)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_split() {
        assert_eq!(
            words_of("Hello, world! (ok) a ."),
            ["Hello", ",", "world", "!", "(ok", ")", "a", "."]
        );
        assert_eq!(words_of("\"quoted"), ["\"", "quoted"]);
        assert_eq!(words_of("é,"), ["é", ","]);
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(sentence_chrf("", &[""]).score, 0.0);
        assert_eq!(sentence_chrf::<&str>("abc", &[]).score, 0.0);
        let c = corpus_chrf::<&str, Vec<&str>, &str>(&[], &[]);
        assert_eq!(c.score, 0.0);
    }
}
