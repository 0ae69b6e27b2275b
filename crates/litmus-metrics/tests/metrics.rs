//! The `Metric` front end: match metrics, regex, JSON, serde shape, errors.

use litmus_metrics::json::{self, Schema};
use litmus_metrics::text::{self, normalize};
use litmus_metrics::{Metric, MetricError, MetricScore, Normalize, RougeVariant};
use rstest::{fixture, rstest};
use serde_json::json;

fn refs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const EIFFEL: &[&str] = &["The Eiffel Tower"];
const PARIS: &[&str] = &["Paris", "City of Light"];

fn strict() -> Metric {
    Metric::ExactMatch {
        normalize: Normalize::none(),
    }
}

fn case_fold() -> Metric {
    Metric::exact_normalized(Normalize::default().with_case_fold(true))
}

fn loose() -> Metric {
    Metric::exact_normalized(Normalize::loose())
}

fn no_punctuation() -> Metric {
    Metric::exact_normalized(Normalize::loose().with_strip_punctuation(true))
}

fn squad() -> Metric {
    Metric::exact_normalized(Normalize::squad())
}

#[rstest]
#[case::strict_identical(strict(), "The Eiffel Tower", EIFFEL, 1.0)]
#[case::strict_trailing_newline(strict(), "The Eiffel Tower\n", EIFFEL, 0.0)]
#[case::default_trims(Metric::exact(), "  The Eiffel Tower\n", EIFFEL, 1.0)]
#[case::default_keeps_case(Metric::exact(), "the eiffel tower", EIFFEL, 0.0)]
#[case::case_fold(case_fold(), "the EIFFEL tower", EIFFEL, 1.0)]
#[case::loose_whitespace(loose(), "the   eiffel\ttower", EIFFEL, 1.0)]
#[case::loose_keeps_punctuation(loose(), "the eiffel tower.", EIFFEL, 0.0)]
// Stripping the hyphen joins the words: "eiffeltower".
#[case::no_punctuation_joins(no_punctuation(), "The Eiffel-Tower!", EIFFEL, 0.0)]
#[case::no_punctuation(no_punctuation(), "The Eiffel Tower!", EIFFEL, 1.0)]
#[case::squad(squad(), "eiffel tower", EIFFEL, 1.0)]
#[case::squad_articles_and_period(squad(), "An Eiffel tower.", EIFFEL, 1.0)]
// Any reference may match.
#[case::squad_second_reference(squad(), "the city of light", PARIS, 1.0)]
#[case::squad_no_reference(squad(), "Lyon", PARIS, 0.0)]
fn exact_match_normalizations(
    #[case] metric: Metric,
    #[case] answer: &str,
    #[case] references: &[&str],
    #[case] want: f64,
) {
    let got = metric.score(answer, &refs(references)).unwrap().value;
    assert_eq!(got, want, "{metric} on {answer:?}");
}

/// Expected values computed with SQuAD v1.1's `normalize_answer`.
#[rstest]
#[case::articles_and_punctuation("The  Quick, brown fox!", "quick brown fox")]
#[case::only_articles("a an the", "")]
#[case::hyphen_joins("Theory of an-athema", "theory of anathema")]
#[case::number_and_parentheses("  1,000 apples (approx.) ", "1000 apples approx")]
#[case::control_character_splits("A\u{1c}B", "b")]
fn squad_normalization_matches_official_script(#[case] input: &str, #[case] want: &str) {
    assert_eq!(normalize(input, &Normalize::squad()), want, "{input:?}");
}

#[test]
fn squad_normalization_drops_unicode_punctuation() {
    // Our one extension: Unicode punctuation goes too (SQuAD keeps the dash:
    // "über die brücke — end").
    assert_eq!(
        normalize("Über die Brücke — the end", &Normalize::squad()),
        "über die brücke end"
    );
}

#[rstest]
#[case::contained(Metric::contains(), "The answer is 42.", "42", 1.0)]
#[case::not_contained(Metric::contains(), "The answer is 41.", "42", 0.0)]
#[case::loose(
    Metric::contains_normalized(Normalize::loose()),
    "ANSWER:  Paris",
    "answer: paris",
    1.0
)]
fn contains_metric(
    #[case] metric: Metric,
    #[case] answer: &str,
    #[case] reference: &str,
    #[case] want: f64,
) {
    let got = metric.score(answer, &refs(&[reference])).unwrap().value;
    assert_eq!(got, want, "{metric}: {reference:?} in {answer:?}");
}

#[test]
fn text_contains() {
    assert!(text::contains("abc", "b", &Normalize::none()));
}

#[rstest]
#[case::anchored_match(r"^\d{3}-\d{4}$", "555-1234", 1.0)]
#[case::anchored_no_match(r"^\d{3}-\d{4}$", "call 555-1234", 0.0)]
#[case::search_with_flags(r"(?i)answer:\s*B\b", "... so the Answer: b", 1.0)]
// A model's leading space and final newline are not part of its answer.
#[case::anchored_in_surrounding_whitespace(r"^42\.?$", " 42.\n", 1.0)]
#[case::inner_whitespace_kept(r"^\d{3}-\d{4}$", "555 - 1234", 0.0)]
fn regex_metric(#[case] pattern: &str, #[case] answer: &str, #[case] want: f64) {
    let got = Metric::regex(pattern).score(answer, &[]).unwrap().value;
    assert_eq!(got, want, "{pattern} on {answer:?}");
}

#[test]
fn invalid_regex_is_an_error() {
    let err = Metric::regex("a(b").score("ab", &[]).unwrap_err();
    match &err {
        MetricError::InvalidRegex { pattern, .. } => assert_eq!(pattern, "a(b"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("`a(b`"), "{err}");
    assert!(Metric::regex("a(b").validate().is_err());
    assert!(Metric::regex("ab").validate().is_ok());
}

#[rstest]
#[case::object_with_spaces(r#" {"a": [1, 2]} "#, 1.0)]
#[case::trailing_comma("[1, 2,]", 0.0)]
#[case::fenced("```json\n{}\n```", 0.0)]
#[case::empty("", 0.0)]
#[case::null("null", 1.0)]
fn json_valid_metric(#[case] answer: &str, #[case] want: f64) {
    let got = Metric::json_valid().score(answer, &[]).unwrap().value;
    assert_eq!(got, want, "{answer:?}");
}

#[test]
fn json_schema_metric() {
    let schema = json!({
        "type": "object",
        "properties": {
            "answer": {"type": "string", "enum": ["A", "B", "C", "D"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1}
        },
        "required": ["answer"]
    });
    let m = Metric::json_schema(schema);
    let ok = m
        .score(r#"{"answer": "B", "confidence": 0.9}"#, &[])
        .unwrap();
    assert_eq!(ok.value, 1.0);
    assert_eq!(ok.part("json_valid"), Some(1.0));
    let bad = m.score(r#"{"answer": "E", "confidence": 2}"#, &[]).unwrap();
    assert_eq!(bad.value, 0.0);
    assert_eq!(bad.part("violations"), Some(2.0));
    let not_json = m.score("answer: B", &[]).unwrap();
    assert_eq!(not_json.value, 0.0);
    assert_eq!(not_json.part("json_valid"), Some(0.0));

    let broken = Metric::json_schema(json!({"type": "strnig"}));
    assert!(matches!(
        broken.score("{}", &[]),
        Err(MetricError::InvalidSchema { .. })
    ));
    assert!(broken.validate().is_err());
}

/// A schema using most keywords the validator supports.
#[fixture]
fn keyword_schema() -> Schema {
    Schema::new(json!({
        "$defs": {
            "point": {
                "type": "object",
                "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
                "required": ["x", "y"],
                "additionalProperties": false
            }
        },
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true, "maxItems": 3},
            "points": {"type": "array", "items": {"$ref": "#/$defs/point"}, "minItems": 1},
            "kind": {"const": "shape"},
            "size": {"type": ["integer", "null"], "exclusiveMinimum": 0, "multipleOf": 2},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": false},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "any": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
            "nope": {"not": {"type": "string"}},
            "extra": {"patternProperties": {"^x-": {"type": "number"}}, "additionalProperties": {"type": "string"}}
        },
        "required": ["name", "points"],
        "if": {"properties": {"kind": {"const": "shape"}}, "required": ["kind"]},
        "then": {"required": ["size"]},
        "dependentRequired": {"tags": ["kind"]}
    }))
    .unwrap()
}

#[rstest]
fn json_schema_keywords_accept_a_valid_instance(keyword_schema: Schema) {
    let good = json!({
        "name": "tri",
        "tags": ["a", "b"],
        "points": [{"x": 1, "y": 2}, {"x": 3.0, "y": -1}],
        "kind": "shape",
        "size": 4,
        "pair": ["p", 1.5],
        "either": 3,
        "any": null,
        "nope": 5,
        "extra": {"x-w": 1, "other": "s"}
    });
    assert!(
        keyword_schema.is_valid(&good),
        "{:?}",
        keyword_schema.validate(&good)
    );
}

/// An instance that breaks every property's keywords reports an error at
/// each of these paths.
#[rstest]
fn json_schema_keywords_report_each_violation(
    keyword_schema: Schema,
    #[values(
        "/name",
        "/tags",
        "/points/0",
        "/points/1",
        "/size",
        "/pair/1",
        "/pair/2",
        "/either",
        "/any",
        "/nope",
        "/extra/x-w",
        "/extra/other"
    )]
    path: &str,
) {
    let bad = json!({
        "name": "Triangle",
        "tags": ["a", "a", "b", "c"],
        "points": [{"x": 1}, {"x": 1, "y": 2, "z": 3}],
        "kind": "shape",
        "size": 3,
        "pair": ["p", "q", "r"],
        "either": 2.5,
        "any": 1,
        "nope": "s",
        "extra": {"x-w": "one", "other": 2}
    });
    let errors = keyword_schema.validate(&bad);
    assert!(
        errors.iter().any(|e| e.instance_path == path),
        "no error at {path}: {errors:#?}"
    );
}

#[rstest]
fn json_schema_if_then(keyword_schema: Schema) {
    // "kind": "shape" requires "size".
    let e = keyword_schema
        .validate(&json!({"name": "a", "points": [{"x": 0, "y": 0}], "kind": "shape"}));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].message.contains("\"size\""));
}

#[rstest]
fn json_schema_dependent_required(keyword_schema: Schema) {
    // "tags" requires "kind".
    let e =
        keyword_schema.validate(&json!({"name": "a", "points": [{"x": 0, "y": 0}], "tags": []}));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        e[0].to_string(),
        "(root): property \"kind\" is required when \"tags\" is present"
    );
}

#[test]
fn json_schema_drafts_and_edge_cases() {
    // Draft-4 boolean exclusiveMinimum and tuple `items`.
    let s = Schema::new(json!({
        "type": "array",
        "items": [{"type": "integer", "minimum": 0, "exclusiveMinimum": true}],
        "additionalItems": {"type": ["string", "null"]},
        "definitions": {"n": {"type": "null"}},
        "contains": {"$ref": "#/definitions/n"}
    }))
    .unwrap();
    assert!(s.is_valid(&json!([1, "a", null])));
    assert!(!s.is_valid(&json!([0, "a", null])));
    assert!(!s.is_valid(&json!([1, 2, null])));
    assert!(!s.is_valid(&json!([1, "a"])));
    // Boolean schemas.
    assert!(Schema::new(json!(true))
        .unwrap()
        .is_valid(&json!({"anything": 1})));
    assert!(!Schema::new(json!(false)).unwrap().is_valid(&json!(null)));
    // Reference cycles are reported, not overflowed.
    let cyc = Schema::new(json!({"$ref": "#"})).unwrap();
    assert!(!cyc.is_valid(&json!(1)));
    // Integers: 2.0 is an integer, 2.5 is not.
    let int = Schema::new(json!({"type": "integer"})).unwrap();
    assert!(int.is_valid(&json!(2.0)));
    assert!(!int.is_valid(&json!(2.5)));
    // multipleOf with decimals.
    let m = Schema::new(json!({"multipleOf": 0.1})).unwrap();
    assert!(m.is_valid(&json!(0.3)));
    assert!(!m.is_valid(&json!(0.35)));
    // Unicode length counts code points.
    let l = Schema::new(json!({"maxLength": 2})).unwrap();
    assert!(l.is_valid(&json!("日本")));
    assert!(json::validate(&json!({"enum": [1, "a"]}), &json!(1.0))
        .unwrap()
        .is_empty());
}

/// Invalid or unsupported schemas.
#[rstest]
#[case::type_not_a_name(json!({"type": 5}))]
#[case::required_not_a_list(json!({"required": "name"}))]
#[case::negative_length(json!({"minLength": -1}))]
#[case::bad_pattern(json!({"pattern": "("}))]
#[case::remote_ref(json!({"$ref": "https://example.com/schema.json"}))]
#[case::missing_ref(json!({"$ref": "#/$defs/missing"}))]
#[case::unevaluated_properties(json!({"unevaluatedProperties": false}))]
#[case::empty_any_of(json!({"anyOf": []}))]
#[case::property_not_a_schema(json!({"properties": {"a": 3}}))]
#[case::number(json!(42))]
fn invalid_schemas_are_rejected(#[case] bad: serde_json::Value) {
    let err = Schema::new(bad.clone()).unwrap_err();
    assert!(matches!(err, MetricError::InvalidSchema { .. }), "{bad}");
}

#[rstest]
fn reference_metrics_need_references(
    #[values(
        Metric::exact(),
        Metric::contains(),
        Metric::rouge_l(),
        Metric::bleu(),
        Metric::chrf()
    )]
    m: Metric,
) {
    assert!(m.needs_references(), "{m}");
    let err = m.score("x", &[]).unwrap_err();
    assert_eq!(err, MetricError::NoReferences { metric: m.name() }, "{m}");
}

#[rstest]
fn other_metrics_need_no_references(
    #[values(
        Metric::regex("x"),
        Metric::json_valid(),
        Metric::json_schema(json!({}))
    )]
    m: Metric,
) {
    assert!(!m.needs_references(), "{m}");
    assert!(m.score("x", &[]).is_ok(), "{m}");
}

#[rstest]
#[case::exact(Metric::exact(), "exact_match")]
#[case::contains(Metric::contains(), "contains")]
#[case::regex(Metric::regex("."), "regex")]
#[case::json_valid(Metric::json_valid(), "json_valid")]
#[case::json_schema(Metric::json_schema(json!({})), "json_schema")]
#[case::rouge1(Metric::rouge1(), "rouge1")]
#[case::rouge2(Metric::rouge2(), "rouge2")]
#[case::rouge_l(Metric::rouge_l(), "rougeL")]
#[case::rouge_lsum(Metric::rouge_lsum(), "rougeLsum")]
#[case::bleu(Metric::bleu(), "bleu")]
#[case::chrf(Metric::chrf(), "chrf")]
fn names(#[case] metric: Metric, #[case] want: &str) {
    assert_eq!(metric.name(), want);
}

#[test]
fn serde_shape() {
    let m = Metric::exact_normalized(Normalize::squad());
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(v["kind"], "exact_match");
    assert_eq!(v["normalize"]["case_fold"], true);
    assert_eq!(
        serde_json::to_value(Metric::rouge(RougeVariant::RougeLsum, true)).unwrap(),
        json!({"kind": "rouge", "variant": "rougeLsum", "use_stemmer": true})
    );
    assert_eq!(
        serde_json::to_value(Metric::Bleu).unwrap(),
        json!({"kind": "bleu"})
    );
    assert_eq!(
        serde_json::to_value(Metric::regex("a+")).unwrap(),
        json!({"kind": "regex", "pattern": "a+"})
    );

    // Partial input takes defaults.
    let m: Metric = serde_json::from_value(json!({"kind": "exact_match"})).unwrap();
    assert_eq!(m, Metric::exact());
    let m: Metric =
        serde_json::from_value(json!({"kind": "contains", "normalize": {"case_fold": true}}))
            .unwrap();
    assert_eq!(
        m,
        Metric::contains_normalized(Normalize::default().with_case_fold(true))
    );
    let m: Metric = serde_json::from_value(json!({"kind": "rouge", "variant": "rouge_l"})).unwrap();
    assert_eq!(m, Metric::rouge_l());
    assert!(serde_json::from_value::<Metric>(json!({"kind": "bogus"})).is_err());
    assert!(serde_json::from_value::<Metric>(
        json!({"kind": "exact_match", "normalize": {"typo": true}})
    )
    .is_err());
    let score = MetricScore::binary(true);
    assert_eq!(
        serde_json::to_value(&score).unwrap(),
        json!({"value": 1.0, "parts": []})
    );
}

#[rstest]
fn metrics_round_trip_through_json(
    #[values(
        Metric::exact(),
        Metric::contains_normalized(Normalize::squad()),
        Metric::regex("x"),
        Metric::json_valid(),
        Metric::json_schema(json!({"type": "object"})),
        Metric::rouge(RougeVariant::Rouge2, true),
        Metric::bleu(),
        Metric::chrf()
    )]
    m: Metric,
) {
    let text = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<Metric>(&text).unwrap(), m, "{text}");
}

/// One test per metric. The texts come from the ROUGE fixture file (76
/// rows, read at run time, so they cannot be rstest cases): they stay a
/// loop, and a failure names the row.
#[rstest]
fn scores_stay_in_unit_interval(
    #[values(
        Metric::exact(),
        Metric::exact_normalized(Normalize::squad()),
        Metric::contains_normalized(Normalize::loose()),
        Metric::regex(r"\d"),
        Metric::json_valid(),
        Metric::rouge1(),
        Metric::rouge2(),
        Metric::rouge_l(),
        Metric::rouge_lsum(),
        Metric::rouge(RougeVariant::RougeLsum, true),
        Metric::bleu(),
        Metric::chrf()
    )]
    m: Metric,
) {
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/rouge.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let pred = case["prediction"].as_str().unwrap();
        let refs: Vec<String> = case["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        let s = m.score(pred, &refs).unwrap();
        assert!(
            (0.0..=1.0).contains(&s.value),
            "{m} on {}: {}",
            case["id"],
            s.value
        );
        assert!(
            s.parts.iter().all(|(_, v)| v.is_finite()),
            "{m} on {}: {:?}",
            case["id"],
            s.parts
        );
    }
}

#[test]
fn metric_parts() {
    let r = refs(&["the cat sat on the mat"]);
    let s = Metric::bleu().score("the cat sat on the mat", &r).unwrap();
    assert!((s.value - 1.0).abs() < 1e-12);
    assert_eq!(s.part("brevity_penalty"), Some(1.0));
    assert_eq!(s.part("precision_4"), Some(1.0));
    let s = Metric::chrf().score("the cat", &r).unwrap();
    assert!(s.value > 0.0 && s.value < 1.0);
    assert!(s.part("precision").unwrap() > s.part("recall").unwrap());
    let s = Metric::rouge1().score("the cat", &r).unwrap();
    assert_eq!(s.part("precision"), Some(1.0));
    assert!((s.part("recall").unwrap() - 2.0 / 6.0).abs() < 1e-12);
    assert!(s.passes(0.4) && !s.passes(0.6));
}
