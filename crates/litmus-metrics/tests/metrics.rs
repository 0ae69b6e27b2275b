//! The `Metric` front end: match metrics, regex, JSON, serde shape, errors.

use litmus_metrics::json::{self, Schema};
use litmus_metrics::text::{self, normalize};
use litmus_metrics::{Metric, MetricError, MetricScore, Normalize, RougeVariant};
use serde_json::json;

fn refs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn exact_match_normalizations() {
    let r = refs(&["The Eiffel Tower"]);
    let strict = Metric::ExactMatch {
        normalize: Normalize::none(),
    };
    assert_eq!(strict.score("The Eiffel Tower", &r).unwrap().value, 1.0);
    assert_eq!(strict.score("The Eiffel Tower\n", &r).unwrap().value, 0.0);
    assert_eq!(
        Metric::exact()
            .score("  The Eiffel Tower\n", &r)
            .unwrap()
            .value,
        1.0
    );
    assert_eq!(
        Metric::exact().score("the eiffel tower", &r).unwrap().value,
        0.0
    );
    let cf = Metric::exact_normalized(Normalize::default().with_case_fold(true));
    assert_eq!(cf.score("the EIFFEL tower", &r).unwrap().value, 1.0);
    let ws = Metric::exact_normalized(Normalize::loose());
    assert_eq!(ws.score("the   eiffel\ttower", &r).unwrap().value, 1.0);
    assert_eq!(ws.score("the eiffel tower.", &r).unwrap().value, 0.0);
    let punct = Metric::exact_normalized(Normalize::loose().with_strip_punctuation(true));
    assert_eq!(punct.score("The Eiffel-Tower!", &r).unwrap().value, 0.0); // "eiffeltower"
    assert_eq!(punct.score("The Eiffel Tower!", &r).unwrap().value, 1.0);
    let squad = Metric::exact_normalized(Normalize::squad());
    assert_eq!(squad.score("eiffel tower", &r).unwrap().value, 1.0);
    assert_eq!(squad.score("An Eiffel tower.", &r).unwrap().value, 1.0);
    // Any reference may match.
    let many = refs(&["Paris", "City of Light"]);
    assert_eq!(squad.score("the city of light", &many).unwrap().value, 1.0);
    assert_eq!(squad.score("Lyon", &many).unwrap().value, 0.0);
}

#[test]
fn squad_normalization_matches_official_script() {
    // Expected values computed with SQuAD v1.1's `normalize_answer`.
    let cases = [
        ("The  Quick, brown fox!", "quick brown fox"),
        ("a an the", ""),
        ("Theory of an-athema", "theory of anathema"),
        ("  1,000 apples (approx.) ", "1000 apples approx"),
        ("A\u{1c}B", "b"),
    ];
    for (input, want) in cases {
        assert_eq!(normalize(input, &Normalize::squad()), want, "{input:?}");
    }
    // Our one extension: Unicode punctuation goes too (SQuAD keeps the dash:
    // "über die brücke — end").
    assert_eq!(
        normalize("Über die Brücke — the end", &Normalize::squad()),
        "über die brücke end"
    );
}

#[test]
fn contains_metric() {
    let r = refs(&["42"]);
    assert_eq!(
        Metric::contains()
            .score("The answer is 42.", &r)
            .unwrap()
            .value,
        1.0
    );
    assert_eq!(
        Metric::contains()
            .score("The answer is 41.", &r)
            .unwrap()
            .value,
        0.0
    );
    let ci = Metric::contains_normalized(Normalize::loose());
    assert_eq!(
        ci.score("ANSWER:  Paris", &refs(&["answer: paris"]))
            .unwrap()
            .value,
        1.0
    );
    assert!(text::contains("abc", "b", &Normalize::none()));
}

#[test]
fn regex_metric() {
    let m = Metric::regex(r"^\d{3}-\d{4}$");
    assert_eq!(m.score("555-1234", &[]).unwrap().value, 1.0);
    assert_eq!(m.score("call 555-1234", &[]).unwrap().value, 0.0);
    let search = Metric::regex(r"(?i)answer:\s*B\b");
    assert_eq!(
        search.score("... so the Answer: b", &[]).unwrap().value,
        1.0
    );
    let err = Metric::regex("a(b").score("ab", &[]).unwrap_err();
    match &err {
        MetricError::InvalidRegex { pattern, .. } => assert_eq!(pattern, "a(b"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("`a(b`"), "{err}");
    assert!(Metric::regex("a(b").validate().is_err());
    assert!(Metric::regex("ab").validate().is_ok());
}

#[test]
fn json_metrics() {
    let v = Metric::json_valid();
    assert_eq!(v.score(r#" {"a": [1, 2]} "#, &[]).unwrap().value, 1.0);
    assert_eq!(v.score("[1, 2,]", &[]).unwrap().value, 0.0);
    assert_eq!(v.score("```json\n{}\n```", &[]).unwrap().value, 0.0);
    assert_eq!(v.score("", &[]).unwrap().value, 0.0);
    assert_eq!(v.score("null", &[]).unwrap().value, 1.0);

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

#[test]
fn json_schema_keywords() {
    let schema = Schema::new(json!({
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
    .unwrap();

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
    assert!(schema.is_valid(&good), "{:?}", schema.validate(&good));

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
    let errors = schema.validate(&bad);
    let paths: Vec<String> = errors.iter().map(|e| e.instance_path.clone()).collect();
    for p in [
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
        "/extra/other",
    ] {
        assert!(paths.iter().any(|q| q == p), "no error at {p}: {errors:#?}");
    }
    // if/then: "kind": "shape" requires "size".
    let e = schema.validate(&json!({"name": "a", "points": [{"x": 0, "y": 0}], "kind": "shape"}));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].message.contains("\"size\""));
    // dependentRequired: "tags" requires "kind".
    let e = schema.validate(&json!({"name": "a", "points": [{"x": 0, "y": 0}], "tags": []}));
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
    // Invalid or unsupported schemas.
    for bad in [
        json!({"type": 5}),
        json!({"required": "name"}),
        json!({"minLength": -1}),
        json!({"pattern": "("}),
        json!({"$ref": "https://example.com/schema.json"}),
        json!({"$ref": "#/$defs/missing"}),
        json!({"unevaluatedProperties": false}),
        json!({"anyOf": []}),
        json!({"properties": {"a": 3}}),
        json!(42),
    ] {
        let err = Schema::new(bad.clone()).unwrap_err();
        assert!(matches!(err, MetricError::InvalidSchema { .. }), "{bad}");
    }
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

#[test]
fn reference_metrics_need_references() {
    for m in [
        Metric::exact(),
        Metric::contains(),
        Metric::rouge_l(),
        Metric::bleu(),
        Metric::chrf(),
    ] {
        assert!(m.needs_references());
        let err = m.score("x", &[]).unwrap_err();
        assert_eq!(err, MetricError::NoReferences { metric: m.name() }, "{m}");
    }
    for m in [
        Metric::regex("x"),
        Metric::json_valid(),
        Metric::json_schema(json!({})),
    ] {
        assert!(!m.needs_references());
        assert!(m.score("x", &[]).is_ok());
    }
}

#[test]
fn names() {
    let names: Vec<String> = [
        Metric::exact(),
        Metric::contains(),
        Metric::regex("."),
        Metric::json_valid(),
        Metric::json_schema(json!({})),
        Metric::rouge1(),
        Metric::rouge2(),
        Metric::rouge_l(),
        Metric::rouge_lsum(),
        Metric::bleu(),
        Metric::chrf(),
    ]
    .iter()
    .map(Metric::name)
    .collect();
    assert_eq!(
        names,
        [
            "exact_match",
            "contains",
            "regex",
            "json_valid",
            "json_schema",
            "rouge1",
            "rouge2",
            "rougeL",
            "rougeLsum",
            "bleu",
            "chrf"
        ]
    );
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

    for m in [
        Metric::exact(),
        Metric::contains_normalized(Normalize::squad()),
        Metric::regex("x"),
        Metric::json_valid(),
        Metric::json_schema(json!({"type": "object"})),
        Metric::rouge(RougeVariant::Rouge2, true),
        Metric::bleu(),
        Metric::chrf(),
    ] {
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Metric>(&text).unwrap(), m, "{text}");
    }
    let score = MetricScore::binary(true);
    assert_eq!(
        serde_json::to_value(&score).unwrap(),
        json!({"value": 1.0, "parts": []})
    );
}

#[test]
fn scores_stay_in_unit_interval() {
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/rouge.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let metrics = [
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
        Metric::chrf(),
    ];
    for case in fixture["cases"].as_array().unwrap() {
        let pred = case["prediction"].as_str().unwrap();
        let refs: Vec<String> = case["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        for m in &metrics {
            let s = m.score(pred, &refs).unwrap();
            assert!(
                (0.0..=1.0).contains(&s.value),
                "{m} on {}: {}",
                case["id"],
                s.value
            );
            assert!(s.parts.iter().all(|(_, v)| v.is_finite()));
        }
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
