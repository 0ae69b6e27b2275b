//! The data the page's script reads: evals × configurations with every
//! sample, compact (texts interned, long texts folded, numbers rounded).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use litmus_core::base::backend::Prompt;
use litmus_core::run::store::{ConfigKey, SampleRecord};
use litmus_sandbox::{extract_code, Language};
use serde::Serialize;

/// Texts longer than this (in characters) keep their head and tail only.
pub(crate) const MAX_TEXT: usize = 12_000;
const HEAD: usize = 9_000;
const TAIL: usize = 2_000;

/// One column of the grid.
#[derive(Debug, Serialize)]
pub(crate) struct Column {
    /// Its label.
    pub label: String,
    /// Which run it belongs to (`A`/`B` in a comparison), else empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub run: String,
}

/// One row of the grid.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    /// The eval.
    pub name: String,
    /// Indices into [`Payload::tags`].
    pub tags: Vec<usize>,
}

/// An eval under a configuration.
#[derive(Debug, Serialize)]
pub(crate) struct Cell {
    /// Mean score of the scored samples (absent: none scored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub m: Option<f64>,
    /// Samples scored.
    pub n: usize,
    /// Samples that failed with an error.
    #[serde(skip_serializing_if = "is_zero")]
    pub e: usize,
    /// Samples that passed.
    pub p: usize,
    /// Indices into [`Payload::samples`], by repeat and sample index.
    pub s: Vec<usize>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// One sample. Texts are indices into [`Payload::strings`].
#[derive(Debug, Serialize)]
pub(crate) struct Sample {
    /// Sample index.
    pub i: u32,
    /// Repeat index (`--repeat`; 0 otherwise).
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub rep: u32,
    /// Score (absent: failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v: Option<f64>,
    /// Passed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ok: bool,
    /// Score parts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<(String, f64)>,
    /// The prompt as sent (chat messages with their roles, or the raw
    /// completion text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr: Option<usize>,
    /// The response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r: Option<usize>,
    /// The code extracted from the response (code evals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<usize>,
    /// Score details: sandbox errors and stderr, the judge's replies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<usize>,
    /// The error, when nothing could be scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub err: Option<usize>,
    /// Every exchange of an imperative eval: (prompt, response).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ex: Vec<(usize, usize)>,
    /// Timings, ms: prompt, generation, TTFT, total.
    pub t: [Option<f64>; 4],
    /// Tokens: prompt, completion (`null`: the backend did not report it).
    pub u: [Option<u32>; 2],
    /// Answered from the cache.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub c: bool,
}

/// Everything the script needs.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Payload {
    /// Interned texts.
    pub strings: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Columns.
    pub cols: Vec<Column>,
    /// Rows, by eval name.
    pub rows: Vec<Row>,
    /// `cells[row][col]`.
    pub cells: Vec<Vec<Option<Cell>>>,
    /// Samples.
    pub samples: Vec<Sample>,
    #[serde(skip)]
    interned: HashMap<String, usize>,
}

/// `text` with its middle cut out when it is longer than [`MAX_TEXT`].
pub(crate) fn fold(text: &str) -> std::borrow::Cow<'_, str> {
    let n = text.chars().count();
    if n <= MAX_TEXT {
        return text.into();
    }
    let head: String = text.chars().take(HEAD).collect();
    let tail: String = text.chars().skip(n - TAIL).collect();
    format!(
        "{head}\n[… {} characters cut from the report …]\n{tail}",
        n - HEAD - TAIL
    )
    .into()
}

/// `text` as the page shows it: bidirectional controls (U+202E and the
/// like) written out as escapes, as the text report does, so that a
/// response or a name cannot reorder what a reader sees (Trojan Source);
/// newlines and tabs stay.
pub(crate) fn shown(text: &str) -> String {
    use litmus_core::base::util::is_bidi_control;
    text.chars()
        .fold(String::with_capacity(text.len()), |mut out, c| {
            if is_bidi_control(c) {
                out.extend(c.escape_unicode());
            } else {
                out.push(c);
            }
            out
        })
}

/// Rounded to two decimals (the page shows one).
pub(crate) fn r2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The language of a code eval, from its tags.
fn language(tags: &[String]) -> Option<Language> {
    if !tags.iter().any(|t| t == "code") {
        return None;
    }
    tags.iter().find_map(|t| {
        Language::ALL
            .into_iter()
            .find(|l| l.name() == t.as_str() || (t == "js" && *l == Language::JavaScript))
    })
}

impl Payload {
    fn intern(&mut self, text: &str) -> usize {
        if let Some(&i) = self.interned.get(text) {
            return i;
        }
        let i = self.strings.len();
        self.strings.push(shown(&fold(text)));
        self.interned.insert(text.to_string(), i);
        i
    }

    fn opt(&mut self, text: Option<&str>) -> Option<usize> {
        text.filter(|t| !t.is_empty()).map(|t| self.intern(t))
    }

    /// The payload of `columns`: each a label, its run tag, and its
    /// configuration's records.
    pub fn build(columns: Vec<(String, String, Vec<&SampleRecord>)>) -> Payload {
        let mut p = Payload::default();
        let mut evals: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (_, _, recs) in &columns {
            for r in recs {
                evals
                    .entry(r.eval.as_str())
                    .or_default()
                    .extend(r.tags.iter().map(String::as_str));
            }
        }
        let tags: BTreeSet<&str> = evals.values().flatten().copied().collect();
        p.tags = tags.iter().map(|t| shown(t)).collect();
        let tag_index: HashMap<&str, usize> =
            tags.iter().enumerate().map(|(i, t)| (*t, i)).collect();
        let row_index: HashMap<&str, usize> =
            evals.keys().enumerate().map(|(i, e)| (*e, i)).collect();
        p.rows = evals
            .iter()
            .map(|(name, tags)| Row {
                name: shown(name),
                tags: tags.iter().map(|t| tag_index[t]).collect(),
            })
            .collect();
        p.cells = (0..p.rows.len())
            .map(|_| (0..columns.len()).map(|_| None).collect())
            .collect();
        for (c, (label, run, recs)) in columns.iter().enumerate() {
            p.cols.push(Column {
                label: shown(label),
                run: run.clone(),
            });
            let mut by_eval: BTreeMap<&str, Vec<&SampleRecord>> = BTreeMap::new();
            for r in recs {
                by_eval.entry(r.eval.as_str()).or_default().push(r);
            }
            for (eval, mut recs) in by_eval {
                recs.sort_by_key(|r| (r.repeat, r.sample));
                let scores: Vec<f64> = recs
                    .iter()
                    .filter_map(|r| r.score.as_ref().map(|s| s.value))
                    .collect();
                let mut cell = Cell {
                    m: (!scores.is_empty())
                        .then(|| r2(scores.iter().sum::<f64>() / scores.len() as f64)),
                    n: scores.len(),
                    e: recs.iter().filter(|r| r.error.is_some()).count(),
                    p: recs
                        .iter()
                        .filter(|r| r.score.as_ref().is_some_and(|s| s.passed))
                        .count(),
                    s: Vec::with_capacity(recs.len()),
                };
                for r in recs {
                    cell.s.push(p.samples.len());
                    let sample = p.sample(r);
                    p.samples.push(sample);
                }
                p.cells[row_index[eval]][c] = Some(cell);
            }
        }
        p
    }

    fn sample(&mut self, r: &SampleRecord) -> Sample {
        let prompt = r.prompt.as_ref().map(Prompt::to_text);
        let code = match (language(&r.tags), r.response.as_deref()) {
            (Some(lang), Some(resp)) if !resp.trim().is_empty() => {
                let prefix = match &r.prompt {
                    Some(Prompt::Completion(p)) => Some(p.as_str()),
                    _ => None,
                };
                Some(extract_code(resp, lang, prefix))
            }
            _ => None,
        };
        let ex = r
            .exchanges
            .iter()
            .map(|x| (self.intern(&x.prompt.to_text()), self.intern(&x.response)))
            .collect();
        Sample {
            i: r.sample,
            rep: r.repeat,
            v: r.score.as_ref().map(|s| r2(s.value)),
            ok: r.score.as_ref().is_some_and(|s| s.passed),
            parts: r
                .score
                .as_ref()
                .map(|s| s.parts.iter().map(|(k, v)| (k.clone(), r2(*v))).collect())
                .unwrap_or_default(),
            pr: self.opt(prompt.as_deref()),
            r: self.opt(r.response.as_deref()),
            x: self.opt(code.as_deref()),
            d: self.opt(r.score.as_ref().and_then(|s| s.details.as_deref())),
            err: self.opt(r.error.as_deref()),
            ex,
            t: [
                r.timings.prompt_ms.map(r2),
                r.timings.generation_ms.map(r2),
                r.timings.ttft_ms.map(r2),
                Some(r2(r.timings.total_ms)).filter(|t| *t > 0.0),
            ],
            u: [r.usage.prompt_tokens, r.usage.completion_tokens],
            c: r.cached,
        }
    }

    /// The payload as JSON that is safe inside a `<script>` element.
    pub fn to_script_json(&self) -> String {
        let json = serde_json::to_string(self).expect("the payload serializes");
        // `<` only occurs inside JSON strings, where `\u003c` means the same;
        // no `</script>` or `<!--` can end the element early.
        json.replace('<', "\\u003c")
    }
}

/// The records of each configuration, in `order`.
pub(crate) fn by_config<'a>(
    records: &'a [SampleRecord],
    order: &[ConfigKey],
) -> Vec<Vec<&'a SampleRecord>> {
    let index: HashMap<&ConfigKey, usize> = order.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let mut out: Vec<Vec<&SampleRecord>> = vec![Vec::new(); order.len()];
    for r in records {
        if let Some(&i) = index.get(&r.config()) {
            out[i].push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    /// A right-to-left override in a response, an eval's name or a tag is
    /// shown as an escape, not applied (Trojan Source); newlines stay.
    #[test]
    fn bidirectional_controls_are_shown_not_applied() {
        let mut run = testing::run();
        for r in &mut run.records {
            r.eval = format!("{}\u{202e}gnissap", r.eval);
            r.response = Some("if ok:\u{202e} # }\n    pass".into());
            r.tags.push("\u{2066}odd".into());
        }
        let recs: Vec<&SampleRecord> = run.records.iter().collect();
        let p = Payload::build(vec![("m\u{202e}x".into(), String::new(), recs)]);
        let all = serde_json::to_string(&p).unwrap();
        assert!(!all.contains('\u{202e}') && !all.contains('\u{2066}'));
        assert!(
            p.rows[0].name.ends_with("\\u{202e}gnissap"),
            "{}",
            p.rows[0].name
        );
        assert!(p.tags.iter().any(|t| t == "\\u{2066}odd"), "{:?}", p.tags);
        assert_eq!(p.cols[0].label, "m\\u{202e}x");
        assert!(p
            .strings
            .iter()
            .any(|s| s == "if ok:\\u{202e} # }\n    pass"));
    }

    #[test]
    fn cells_hold_their_samples_and_texts_are_interned() {
        let run = testing::run();
        let mut keys: Vec<ConfigKey> = run.records.iter().map(SampleRecord::config).collect();
        keys.sort();
        keys.dedup();
        let cols = by_config(&run.records, &keys)
            .into_iter()
            .zip(&keys)
            .map(|(recs, k)| (k.label(), String::new(), recs))
            .collect();
        let p = Payload::build(cols);
        assert_eq!(p.rows.len(), 8);
        assert_eq!(p.cols.len(), 12);
        assert_eq!(p.samples.len(), run.records.len());
        assert_eq!(p.tags, ["code", "python", "qa"]);
        let cell = p.cells[0][0].as_ref().unwrap();
        assert_eq!((cell.n, cell.s.len()), (2, 2));
        // The same prompt under two quantizations is stored once.
        let prompts: BTreeSet<usize> = p.samples.iter().filter_map(|s| s.pr).collect();
        assert_eq!(
            prompts.len(),
            8,
            "one per eval (the test's prompts ignore the template)"
        );
        // Code evals carry the extracted program: the prompt's definition with the body.
        let py = &p.samples[cell.s[0]];
        let code = &p.strings[py.x.unwrap()];
        assert!(
            code.starts_with("def python_f0(x):") && code.contains("return x"),
            "{code}"
        );
        // The errored sample.
        let errored: Vec<&Sample> = p.samples.iter().filter(|s| s.err.is_some()).collect();
        assert_eq!(errored.len(), 1);
        assert_eq!(errored[0].v, None);
        let json = p.to_script_json();
        assert!(!json.contains('<'), "no raw `<` in the script element");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(back["strings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("</script><script>")));
    }

    #[test]
    fn long_texts_keep_head_and_tail() {
        let long = format!("{}{}", "a".repeat(20_000), "é".repeat(5_000));
        let f = fold(&long);
        assert!(f.starts_with(&"a".repeat(HEAD)));
        assert!(f.ends_with(&"é".repeat(TAIL)));
        assert!(
            f.contains("[… 14000 characters cut from the report …]"),
            "{}",
            &f[8990..9100]
        );
        assert_eq!(fold("short"), "short");
    }
}
