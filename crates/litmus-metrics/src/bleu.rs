//! BLEU, identical to [`sacrebleu`](https://pypi.org/project/sacrebleu/)
//! (version 2.x) with its default settings.
//!
//! * **Tokenizer**: `13a` (mteval-v13a, what WMT uses), see [`tokenize_13a`].
//!   The text is `rstrip`ped (Python whitespace) before tokenizing; no
//!   lowercasing unless [`BleuOptions::lowercase`] is set.
//! * **Statistics** per segment: clipped n-gram matches and totals for
//!   n = 1..=4, the hypothesis length and the *closest* reference length (the
//!   shorter one on ties). With several references, each n-gram is clipped to
//!   its maximum count in any one reference.
//! * **Score**: `BP · exp(mean log precision)` on a 0–100 scale, with the
//!   smoothing and effective-order rules of `sacrebleu.BLEU.compute_bleu`
//!   (a zero precision without smoothing counts as `log = -9999999999`).
//! * [`sentence_bleu`] uses the defaults of `sacrebleu.sentence_bleu`
//!   (`exp` smoothing, effective order on) and [`corpus_bleu`] those of
//!   `sacrebleu.corpus_bleu` (`exp` smoothing, effective order off): the corpus
//!   score sums the statistics of all segments before computing BLEU, it is not
//!   a mean of sentence scores.
//!
//! References for a corpus are given *per segment* (`references[i]` holds all
//! references of hypothesis `i`, and segments may have different numbers of
//! references), which is the transpose of sacrebleu's reference streams.
//!
//! ```
//! use litmus_metrics::bleu::{corpus_bleu, sentence_bleu};
//!
//! let s = sentence_bleu("The cat sat on the mat.", &["The cat sat on the mat."]);
//! assert!((s.score - 100.0).abs() < 1e-9);
//!
//! let c = corpus_bleu(
//!     &["the cat sat", "a dog barked loudly"],
//!     &[vec!["the cat sat down"], vec!["the dog barked loudly"]],
//! );
//! assert!(c.score > 0.0 && c.score < 100.0);
//! ```

use serde::{Deserialize, Serialize};

use crate::util::FastMap;

use crate::text::{python_rstrip, python_split};

/// How zero n-gram matches are smoothed (Chen & Cherry 2014), as in sacrebleu.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "value", rename_all = "kebab-case")]
pub enum Smoothing {
    /// No smoothing: any zero precision makes the score (practically) 0.
    None,
    /// Method 1: a zero match count becomes this value (sacrebleu default 0.1).
    Floor(f64),
    /// Method 2: add this value to matches and totals for n > 1 (default 1).
    AddK(f64),
    /// Method 3 (NIST, mteval-v13a): the k-th zero precision becomes `1 / (2^k · total)`.
    Exp,
}

/// Options of a BLEU computation. [`Default`] is sacrebleu's `BLEU()` (and
/// `corpus_bleu`) defaults; [`BleuOptions::sentence`] is `sentence_bleu`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BleuOptions {
    /// Lowercase hypothesis and references before tokenizing.
    pub lowercase: bool,
    /// Smoothing method.
    pub smoothing: Smoothing,
    /// Ignore n-gram orders beyond the last one with a non-empty total
    /// (recommended for sentence-level BLEU).
    pub effective_order: bool,
    /// Highest n-gram order (4).
    pub max_ngram_order: usize,
}

impl Default for BleuOptions {
    fn default() -> Self {
        BleuOptions {
            lowercase: false,
            smoothing: Smoothing::Exp,
            effective_order: false,
            max_ngram_order: 4,
        }
    }
}

/// Sufficient statistics of BLEU for one segment or (summed) for a corpus.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BleuStats {
    /// Hypothesis length in tokens.
    pub sys_len: u64,
    /// Closest reference length in tokens.
    pub ref_len: u64,
    /// Clipped matches per n-gram order (index 0 is unigrams).
    pub correct: Vec<u64>,
    /// Hypothesis n-grams per order.
    pub total: Vec<u64>,
}

impl BleuStats {
    /// Adds another segment's statistics into these.
    pub fn add(&mut self, other: &BleuStats) {
        self.sys_len += other.sys_len;
        self.ref_len += other.ref_len;
        for (v, list) in [
            (&mut self.correct, &other.correct),
            (&mut self.total, &other.total),
        ] {
            if v.len() < list.len() {
                v.resize(list.len(), 0);
            }
            for (a, b) in v.iter_mut().zip(list) {
                *a += b;
            }
        }
    }
}

/// A BLEU score with the numbers it was computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BleuScore {
    /// BLEU on a 0–100 scale (sacrebleu's `score`).
    pub score: f64,
    /// Clipped matches per order, before any add-k smoothing.
    pub counts: Vec<u64>,
    /// Hypothesis n-grams per order, before any add-k smoothing.
    pub totals: Vec<u64>,
    /// Smoothed precision per order, in percent (sacrebleu's `precisions`).
    pub precisions: Vec<f64>,
    /// Brevity penalty.
    pub bp: f64,
    /// Hypothesis length in tokens.
    pub sys_len: u64,
    /// Reference length in tokens.
    pub ref_len: u64,
}

impl BleuOptions {
    /// `sacrebleu.sentence_bleu`'s defaults: `exp` smoothing, effective order.
    pub fn sentence() -> Self {
        BleuOptions {
            effective_order: true,
            ..BleuOptions::default()
        }
    }

    fn preprocess(&self, text: &str) -> String {
        if self.lowercase {
            tokenize_13a(python_rstrip(&text.to_lowercase()))
        } else {
            tokenize_13a(python_rstrip(text))
        }
    }

    /// Statistics of one hypothesis against its references.
    pub fn segment_stats<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> BleuStats {
        let order = self.max_ngram_order;
        let hyp = self.preprocess(hypothesis);
        let refs: Vec<String> = references
            .iter()
            .map(|r| self.preprocess(r.as_ref()))
            .collect();
        let mut ids: FastMap<&str, u32> = FastMap::default();
        let hyp_ids = intern(&mut ids, &hyp);
        let ref_ids: Vec<Vec<u32>> = refs.iter().map(|r| intern(&mut ids, r)).collect();

        let mut ref_ngrams: FastMap<&[u32], u64> = FastMap::default();
        let mut ref_lens = Vec::with_capacity(ref_ids.len());
        for r in &ref_ids {
            ref_lens.push(r.len() as u64);
            let mut counts: FastMap<&[u32], u64> = FastMap::default();
            for n in 1..=order {
                for g in r.windows(n) {
                    *counts.entry(g).or_insert(0) += 1;
                }
            }
            for (g, c) in counts {
                let e = ref_ngrams.entry(g).or_insert(0);
                *e = (*e).max(c);
            }
        }
        let sys_len = hyp_ids.len() as u64;
        let ref_len = closest_ref_len(sys_len, &ref_lens);
        let mut hyp_ngrams: FastMap<&[u32], u64> = FastMap::default();
        for n in 1..=order {
            for g in hyp_ids.windows(n) {
                *hyp_ngrams.entry(g).or_insert(0) += 1;
            }
        }
        let mut correct = vec![0u64; order];
        let mut total = vec![0u64; order];
        for (g, c) in hyp_ngrams {
            let n = g.len() - 1;
            total[n] += c;
            if let Some(&rc) = ref_ngrams.get(g) {
                correct[n] += c.min(rc);
            }
        }
        BleuStats {
            sys_len,
            ref_len,
            correct,
            total,
        }
    }

    /// BLEU of one hypothesis against its references.
    pub fn sentence_score<S: AsRef<str>>(&self, hypothesis: &str, references: &[S]) -> BleuScore {
        self.compute(&self.segment_stats(hypothesis, references))
    }

    /// Corpus BLEU: statistics are summed over segments, then scored once.
    /// `references[i]` are the references of `hypotheses[i]`; extra items on
    /// either side are ignored (like sacrebleu's `zip`).
    pub fn corpus_score<H, R, S>(&self, hypotheses: &[H], references: &[R]) -> BleuScore
    where
        H: AsRef<str>,
        R: AsRef<[S]>,
        S: AsRef<str>,
    {
        let mut stats = BleuStats {
            correct: vec![0; self.max_ngram_order],
            total: vec![0; self.max_ngram_order],
            ..BleuStats::default()
        };
        for (h, r) in hypotheses.iter().zip(references) {
            stats.add(&self.segment_stats(h.as_ref(), r.as_ref()));
        }
        self.compute(&stats)
    }

    /// Computes BLEU from (possibly summed) statistics:
    /// `sacrebleu.BLEU.compute_bleu`.
    pub fn compute(&self, stats: &BleuStats) -> BleuScore {
        let order = self.max_ngram_order;
        let get = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0) as f64;
        let mut correct: Vec<f64> = (0..order).map(|i| get(&stats.correct, i)).collect();
        let mut total: Vec<f64> = (0..order).map(|i| get(&stats.total, i)).collect();
        let (sys_len, ref_len) = (stats.sys_len, stats.ref_len);
        let mut bp = 1.0;
        if sys_len < ref_len {
            bp = if sys_len > 0 {
                (1.0 - ref_len as f64 / sys_len as f64).exp()
            } else {
                0.0
            };
        }
        let mut precisions = vec![0.0; order];
        let mut result = BleuScore {
            score: 0.0,
            counts: (0..order)
                .map(|i| stats.correct.get(i).copied().unwrap_or(0))
                .collect(),
            totals: (0..order)
                .map(|i| stats.total.get(i).copied().unwrap_or(0))
                .collect(),
            precisions: Vec::new(),
            bp,
            sys_len,
            ref_len,
        };
        if correct.iter().all(|&c| c == 0.0) {
            result.precisions = precisions;
            return result;
        }
        let mut smooth_mteval = 1.0f64;
        let mut eff_order = order;
        for n in 1..=order {
            if let Smoothing::AddK(k) = self.smoothing {
                if n > 1 {
                    correct[n - 1] += k;
                    total[n - 1] += k;
                }
            }
            if total[n - 1] == 0.0 {
                break;
            }
            if self.effective_order {
                eff_order = n;
            }
            if correct[n - 1] == 0.0 {
                match self.smoothing {
                    Smoothing::Exp => {
                        smooth_mteval *= 2.0;
                        precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1]);
                    }
                    Smoothing::Floor(v) => precisions[n - 1] = 100.0 * v / total[n - 1],
                    Smoothing::None | Smoothing::AddK(_) => {}
                }
            } else {
                precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
            }
        }
        let log_sum = precisions[..eff_order]
            .iter()
            .fold(0.0, |acc, &p| acc + my_log(p));
        result.score = bp * (log_sum / eff_order as f64).exp();
        result.precisions = precisions;
        result
    }
}

/// Splits `text` on Python whitespace and maps each token to a dense id.
fn intern<'a>(ids: &mut FastMap<&'a str, u32>, text: &'a str) -> Vec<u32> {
    python_split(text)
        .map(|t| {
            let next = ids.len() as u32;
            *ids.entry(t).or_insert(next)
        })
        .collect()
}

/// sacrebleu's `my_log`: `ln(x)`, with `ln(0)` floored to `-9999999999`.
fn my_log(x: f64) -> f64 {
    if x == 0.0 {
        -9_999_999_999.0
    } else {
        x.ln()
    }
}

/// The reference length closest to `hyp_len` (the shorter one on ties); 0
/// without references.
fn closest_ref_len(hyp_len: u64, ref_lens: &[u64]) -> u64 {
    let mut best: Option<(u64, u64)> = None;
    for &r in ref_lens {
        let diff = hyp_len.abs_diff(r);
        best = match best {
            None => Some((diff, r)),
            Some((d, l)) if diff < d || (diff == d && r < l) => Some((diff, r)),
            keep => keep,
        };
    }
    best.map_or(0, |(_, l)| l)
}

/// Sentence BLEU with `sacrebleu.sentence_bleu`'s defaults (13a, `exp`
/// smoothing, effective order).
pub fn sentence_bleu<S: AsRef<str>>(hypothesis: &str, references: &[S]) -> BleuScore {
    BleuOptions::sentence().sentence_score(hypothesis, references)
}

/// Corpus BLEU with `sacrebleu.corpus_bleu`'s defaults (13a, `exp` smoothing,
/// no effective order). See [`BleuOptions::corpus_score`] for the layout.
pub fn corpus_bleu<H, R, S>(hypotheses: &[H], references: &[R]) -> BleuScore
where
    H: AsRef<str>,
    R: AsRef<[S]>,
    S: AsRef<str>,
{
    BleuOptions::default().corpus_score(hypotheses, references)
}

/// sacrebleu's `13a` tokenizer (mteval-v13a): drops `<skipped>`, joins
/// `-\n` hyphenations, turns newlines into spaces, unescapes `&quot; &amp;
/// &lt; &gt;`, then splits off punctuation and symbols (but keeps `.`, `,`
/// between digits and `-` after a non-digit) and joins the tokens with single
/// spaces.
///
/// ```
/// use litmus_metrics::bleu::tokenize_13a;
/// assert_eq!(tokenize_13a("Hello, world! It costs $3.50 (2-3 days)."),
///            "Hello , world ! It costs $ 3.50 ( 2 - 3 days ) .");
/// ```
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    tokenize_regexp(&format!(" {line} "))
}

/// `[\{-\~\[-\` -\&\(-\+\:-\@\/]`
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// Applies a two-character regex substitution the way `re.sub` scans:
/// left to right, resuming after each match.
fn pair_rule(
    s: &[char],
    matches: impl Fn(char, char) -> bool,
    emit: impl Fn(char, char, &mut Vec<char>),
) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len() + s.len() / 4);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && matches(s[i], s[i + 1]) {
            emit(s[i], s[i + 1], &mut out);
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// sacrebleu's `TokenizerRegexp`.
fn tokenize_regexp(line: &str) -> String {
    let mut s: Vec<char> = Vec::with_capacity(line.len() * 2);
    for c in line.chars() {
        if is_13a_symbol(c) {
            s.extend([' ', c, ' ']);
        } else {
            s.push(c);
        }
    }
    let is_dc = |c: char| c == '.' || c == ',';
    let s = pair_rule(
        &s,
        |a, b| !a.is_ascii_digit() && is_dc(b),
        |a, b, o| o.extend([a, ' ', b, ' ']),
    );
    let s = pair_rule(
        &s,
        |a, b| is_dc(a) && !b.is_ascii_digit(),
        |a, b, o| o.extend([' ', a, ' ', b]),
    );
    let s = pair_rule(
        &s,
        |a, b| a.is_ascii_digit() && b == '-',
        |a, b, o| o.extend([a, ' ', b, ' ']),
    );
    let s: String = s.into_iter().collect();
    python_split(&s).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_ref_len_prefers_shorter_on_ties() {
        assert_eq!(closest_ref_len(5, &[3, 7]), 3);
        assert_eq!(closest_ref_len(5, &[7, 3]), 3);
        assert_eq!(closest_ref_len(5, &[6, 9, 4]), 4);
        assert_eq!(closest_ref_len(5, &[]), 0);
    }

    #[test]
    fn empty_inputs() {
        let s = sentence_bleu("", &[""]);
        assert_eq!(s.score, 0.0);
        let s = sentence_bleu::<&str>("a b c", &[]);
        assert_eq!(s.score, 0.0);
        let c = corpus_bleu::<&str, Vec<&str>, &str>(&[], &[]);
        assert_eq!(c.score, 0.0);
        assert!(!c.score.is_nan());
    }

    #[test]
    fn tokenizer_rules() {
        assert_eq!(tokenize_13a("a.. b"), "a . . b");
        assert_eq!(tokenize_13a("1,000.5 x"), "1,000.5 x");
        assert_eq!(tokenize_13a("state-of-the-\nart"), "state-of-theart");
        assert_eq!(tokenize_13a("Tom &amp;amp; x"), "Tom & amp ; x");
        assert_eq!(tokenize_13a(""), "");
    }
}
