//! Agreement with the reference Python implementations.
//!
//! The fixtures under `tests/fixtures/` were produced by
//! `scripts/gen_metric_fixtures.py` with `rouge-score`, `nltk` and `sacrebleu`
//! (versions recorded in each file). These tests only read them.
//!
//! Each test is one configuration (stemming on or off, a BLEU option set, a
//! chrF variant) as an rstest case. The fixture rows themselves (76 to 4000
//! per file) are data read at run time, not cases: each test loops over
//! them, collects every mismatch, and names the row (its id or input) in
//! the failure message.

use litmus_metrics::bleu::{self, BleuOptions, BleuScore, Smoothing};
use litmus_metrics::chrf::{self, ChrfOptions};
use litmus_metrics::rouge::{self, porter, RougeVariant};
use litmus_metrics::Metric;
use rstest::rstest;
use serde_json::Value;

const ROUGE_TOL: f64 = 1e-12;
const SACREBLEU_TOL: f64 = 1e-9;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// Collects mismatches so one run reports all of them.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    fn check(&mut self, what: impl FnOnce() -> String, got: f64, want: f64, tol: f64) {
        if !close(got, want, tol) {
            self.0
                .push(format!("{}: got {got:?}, want {want:?}", what()));
        }
    }

    fn finish(self, checked: usize) {
        assert!(
            self.0.is_empty(),
            "{} of {checked} checks failed:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

fn rouge_cases() -> Vec<Value> {
    load("rouge.json")["cases"].as_array().unwrap().clone()
}

#[test]
fn fixtures_cover_enough_pairs() {
    let cases = rouge_cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let texts: Vec<String> = cases
        .iter()
        .flat_map(|c| {
            let mut t = strings(&c["references"]);
            t.push(c["prediction"].as_str().unwrap().to_owned());
            t
        })
        .collect();
    assert!(texts.iter().any(|t| t.is_empty()), "an empty string");
    assert!(texts.iter().any(|t| t.contains('\n')), "a multi-line text");
    assert!(texts.iter().any(|t| !t.is_ascii()), "unicode");
    assert!(
        texts.iter().any(|t| t.chars().any(|c| c.is_ascii_digit())),
        "numbers"
    );
    assert!(texts.iter().any(|t| t.contains("&amp;")), "html entities");
    assert!(
        cases
            .iter()
            .any(|c| c["references"].as_array().unwrap().len() > 1),
        "multi-reference"
    );
}

fn check_rouge(key: &str, use_stemmer: bool) {
    let mut report = Report::default();
    let mut checked = 0;
    for case in rouge_cases() {
        let id = case["id"].as_str().unwrap();
        let pred = case["prediction"].as_str().unwrap();
        let refs = strings(&case["references"]);
        for variant in RougeVariant::ALL {
            let want = &case[key][variant.name()];
            let got = rouge::score_multi(variant, pred, &refs, use_stemmer);
            for (i, (name, g)) in [
                ("precision", got.precision),
                ("recall", got.recall),
                ("fmeasure", got.fmeasure),
            ]
            .into_iter()
            .enumerate()
            {
                checked += 1;
                report.check(
                    || format!("{id} {variant} {key} {name}"),
                    g,
                    f(&want[i]),
                    ROUGE_TOL,
                );
            }
            // The Metric front end reports the same F-measure.
            let m = Metric::rouge(variant, use_stemmer)
                .score(pred, &refs)
                .unwrap();
            checked += 1;
            report.check(
                || format!("{id} Metric {variant} {key}"),
                m.value,
                f(&want[2]),
                ROUGE_TOL,
            );
        }
    }
    report.finish(checked);
}

#[rstest]
#[case::without_stemmer("nostem", false)]
#[case::with_stemmer("stem", true)]
fn rouge_matches_rouge_score(#[case] key: &str, #[case] use_stemmer: bool) {
    check_rouge(key, use_stemmer);
}

#[rstest]
#[case::without_stemmer("prediction", false)]
#[case::with_stemmer("prediction_stemmed", true)]
fn rouge_tokenizer_matches_rouge_score(#[case] key: &str, #[case] use_stemmer: bool) {
    for case in rouge_cases() {
        let pred = case["prediction"].as_str().unwrap();
        assert_eq!(
            rouge::tokenize(pred, use_stemmer),
            strings(&case["tokens"][key]),
            "{}",
            case["id"]
        );
    }
}

#[test]
fn porter_matches_nltk() {
    let fixture = load("porter.json");
    let stems = fixture["stems"].as_object().unwrap();
    assert!(stems.len() >= 3000);
    let wrong: Vec<String> = stems
        .iter()
        .filter_map(|(w, s)| {
            let got = porter::stem(w);
            (got != s.as_str().unwrap()).then(|| format!("{w}: got {got}, want {s}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        stems.len(),
        wrong.join("\n")
    );
}

/// The ROUGE values of the third seed article (HF `evaluate`'s `rouge` on a
/// Star Trek / Star Wars summary pair, default settings).
#[rstest]
#[case::rouge1(RougeVariant::Rouge1, 0.5570469798657718)]
#[case::rouge2(RougeVariant::Rouge2, 0.23648648648648649)]
#[case::rouge_l(RougeVariant::RougeL, 0.3691275167785235)]
#[case::rouge_lsum(RougeVariant::RougeLsum, 0.3691275167785235)]
fn seed_article_rouge_values(#[case] variant: RougeVariant, #[case] want: f64) {
    let case = rouge_cases()
        .into_iter()
        .find(|c| c["id"] == "seed_article_quantization")
        .unwrap();
    let pred = case["prediction"].as_str().unwrap();
    let refs = strings(&case["references"]);
    let got = Metric::rouge(variant, false)
        .score(pred, &refs)
        .unwrap()
        .value;
    assert!(
        (got - want).abs() < 1e-12,
        "{variant}: got {got:?}, want {want:?}"
    );
}

fn check_bleu(report: &mut Report, id: &str, got: &BleuScore, want: &Value, counts: bool) -> usize {
    let mut n = 0;
    report.check(
        || format!("{id} score"),
        got.score,
        f(&want["score"]),
        SACREBLEU_TOL,
    );
    report.check(|| format!("{id} bp"), got.bp, f(&want["bp"]), SACREBLEU_TOL);
    report.check(
        || format!("{id} sys_len"),
        got.sys_len as f64,
        f(&want["sys_len"]),
        0.0,
    );
    report.check(
        || format!("{id} ref_len"),
        got.ref_len as f64,
        f(&want["ref_len"]),
        0.0,
    );
    n += 4;
    for (i, p) in want["precisions"].as_array().unwrap().iter().enumerate() {
        report.check(
            || format!("{id} precision {i}"),
            got.precisions[i],
            f(p),
            SACREBLEU_TOL,
        );
        n += 1;
    }
    if counts {
        for (i, c) in want["counts"].as_array().unwrap().iter().enumerate() {
            report.check(
                || format!("{id} count {i}"),
                got.counts[i] as f64,
                f(c),
                0.0,
            );
        }
        for (i, t) in want["totals"].as_array().unwrap().iter().enumerate() {
            report.check(
                || format!("{id} total {i}"),
                got.totals[i] as f64,
                f(t),
                0.0,
            );
        }
        n += 8;
    }
    n
}

#[test]
fn bleu_tokenizer_matches_sacrebleu_13a() {
    let fixture = load("bleu.json");
    for pair in fixture["tokenize_13a"].as_array().unwrap() {
        let input = pair[0].as_str().unwrap();
        let want = pair[1].as_str().unwrap();
        let got =
            bleu::tokenize_13a(input.trim_end_matches(litmus_metrics::text::is_python_whitespace));
        assert_eq!(got, want, "input {input:?}");
    }
}

#[test]
fn sentence_bleu_matches_sacrebleu() {
    let fixture = load("bleu.json");
    let mut report = Report::default();
    let mut checked = 0;
    for case in fixture["sentence"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let hyp = case["hypothesis"].as_str().unwrap();
        let refs = strings(&case["references"]);
        let got = bleu::sentence_bleu(hyp, &refs);
        checked += check_bleu(&mut report, id, &got, case, true);
        let m = Metric::Bleu.score(hyp, &refs).unwrap();
        report.check(
            || format!("{id} Metric"),
            m.part("bleu").unwrap(),
            f(&case["score"]),
            SACREBLEU_TOL,
        );
        report.check(
            || format!("{id} Metric value"),
            m.value * 100.0,
            f(&case["score"]),
            SACREBLEU_TOL,
        );
        checked += 1;
    }
    report.finish(checked);
}

/// The option sets of the fixture's `options` rows, each an rstest case below.
const BLEU_OPTION_SETS: [&str; 6] = [
    "floor",
    "floor_0.01",
    "add-k",
    "none",
    "exp_no_effective_order",
    "lowercase",
];

#[test]
fn every_bleu_option_set_has_a_case() {
    let fixture = load("bleu.json");
    for case in fixture["options"].as_array().unwrap() {
        let name = case["options"].as_str().unwrap();
        assert!(
            BLEU_OPTION_SETS.contains(&name),
            "unknown option set {name}"
        );
    }
}

/// Sentence BLEU options with another smoothing.
fn smoothed(smoothing: Smoothing) -> BleuOptions {
    BleuOptions {
        smoothing,
        ..BleuOptions::sentence()
    }
}

/// `counts`: whether sacrebleu's n-gram counts are compared too (add-k
/// smoothing changes sacrebleu's reported counts; ours stay raw).
#[rstest]
#[case::floor("floor", smoothed(Smoothing::Floor(0.1)), true)]
#[case::floor_0_01("floor_0.01", smoothed(Smoothing::Floor(0.01)), true)]
#[case::add_k("add-k", smoothed(Smoothing::AddK(1.0)), false)]
#[case::none("none", smoothed(Smoothing::None), true)]
#[case::exp_no_effective_order(
    "exp_no_effective_order",
    BleuOptions { effective_order: false, ..BleuOptions::sentence() },
    true
)]
#[case::lowercase(
    "lowercase",
    BleuOptions { lowercase: true, ..BleuOptions::sentence() },
    true
)]
fn bleu_options_match_sacrebleu(
    #[case] name: &str,
    #[case] opts: BleuOptions,
    #[case] counts: bool,
) {
    assert!(BLEU_OPTION_SETS.contains(&name));
    let fixture = load("bleu.json");
    let mut report = Report::default();
    let mut checked = 0;
    for case in fixture["options"].as_array().unwrap() {
        if case["options"] != name {
            continue;
        }
        let id = format!("{name}/{}", case["id"].as_str().unwrap());
        let hyp = case["hypothesis"].as_str().unwrap();
        let refs = strings(&case["references"]);
        let got = opts.sentence_score(hyp, &refs);
        checked += check_bleu(&mut report, &id, &got, case, counts);
    }
    assert!(checked > 0, "no fixture rows for option set {name}");
    report.finish(checked);
}

type CorpusBleu = fn(&[String], &[Vec<String>]) -> BleuScore;

fn corpus_bleu_default(hyps: &[String], refs: &[Vec<String>]) -> BleuScore {
    bleu::corpus_bleu(hyps, refs)
}

fn corpus_bleu_effective_order(hyps: &[String], refs: &[Vec<String>]) -> BleuScore {
    let opts = BleuOptions {
        effective_order: true,
        ..BleuOptions::default()
    };
    opts.corpus_score(hyps, refs)
}

#[rstest]
#[case::default("default", corpus_bleu_default)]
#[case::effective_order("effective_order", corpus_bleu_effective_order)]
fn corpus_bleu_matches_sacrebleu(#[case] key: &str, #[case] score: CorpusBleu) {
    let fixture = load("bleu.json");
    let mut report = Report::default();
    let mut checked = 0;
    for case in fixture["corpus"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let hyps = strings(&case["hypotheses"]);
        let refs: Vec<Vec<String>> = case["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(strings)
            .collect();
        let got = score(&hyps, &refs);
        checked += check_bleu(&mut report, &format!("{id} {key}"), &got, &case[key], true);
    }
    report.finish(checked);
}

#[rstest]
#[case::chrf("chrf", ChrfOptions::default())]
#[case::chrf_pp("chrf_pp", ChrfOptions::chrf_plus_plus())]
#[case::chrf_eps("chrf_eps", ChrfOptions { eps_smoothing: true, ..ChrfOptions::default() })]
#[case::chrf_lowercase_whitespace(
    "chrf_lowercase_whitespace",
    ChrfOptions { lowercase: true, whitespace: true, ..ChrfOptions::default() }
)]
fn sentence_chrf_matches_sacrebleu(#[case] key: &str, #[case] opts: ChrfOptions) {
    let fixture = load("chrf.json");
    let mut report = Report::default();
    let mut checked = 0;
    for case in fixture["sentence"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let hyp = case["hypothesis"].as_str().unwrap();
        let refs = strings(&case["references"]);
        let got = opts.sentence_score(hyp, &refs).score;
        report.check(|| format!("{id} {key}"), got, f(&case[key]), SACREBLEU_TOL);
        checked += 1;
    }
    report.finish(checked);
}

/// `sentence_chrf` and the `Metric` front end give sacrebleu's default chrF.
#[test]
fn chrf_front_ends_match_sacrebleu() {
    let fixture = load("chrf.json");
    let mut report = Report::default();
    let mut checked = 0;
    for case in fixture["sentence"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let hyp = case["hypothesis"].as_str().unwrap();
        let refs = strings(&case["references"]);
        assert_eq!(
            chrf::sentence_chrf(hyp, &refs).score,
            ChrfOptions::default().sentence_score(hyp, &refs).score,
            "{id}"
        );
        let m = Metric::Chrf.score(hyp, &refs).unwrap();
        report.check(
            || format!("{id} Metric"),
            m.part("chrf").unwrap(),
            f(&case["chrf"]),
            SACREBLEU_TOL,
        );
        report.check(
            || format!("{id} Metric value"),
            m.value * 100.0,
            f(&case["chrf"]),
            SACREBLEU_TOL,
        );
        checked += 1;
    }
    report.finish(checked);
}

type CorpusChrf = fn(&[String], &[Vec<String>]) -> f64;

fn corpus_chrf_default(hyps: &[String], refs: &[Vec<String>]) -> f64 {
    chrf::corpus_chrf(hyps, refs).score
}

fn corpus_chrf_plus_plus(hyps: &[String], refs: &[Vec<String>]) -> f64 {
    ChrfOptions::chrf_plus_plus().corpus_score(hyps, refs).score
}

#[rstest]
#[case::chrf("chrf", corpus_chrf_default)]
#[case::chrf_pp("chrf_pp", corpus_chrf_plus_plus)]
fn corpus_chrf_matches_sacrebleu(#[case] key: &str, #[case] score: CorpusChrf) {
    let fixture = load("chrf.json");
    let mut report = Report::default();
    let mut checked = 0;
    for case in fixture["corpus"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let hyps = strings(&case["hypotheses"]);
        let refs: Vec<Vec<String>> = case["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(strings)
            .collect();
        report.check(
            || format!("{id} {key}"),
            score(&hyps, &refs),
            f(&case[key]),
            SACREBLEU_TOL,
        );
        checked += 1;
    }
    report.finish(checked);
}
