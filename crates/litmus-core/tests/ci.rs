//! CI outputs: JUnit XML (structure, escaping, schema), the Markdown summary
//! and the exit-code classification.

use std::path::PathBuf;
use std::process::Command;

use litmus_core::base::backend::ModelInfo;
use litmus_core::base::exit;
use litmus_core::output::ci::{
    append_step_summary, exit_code, junit_xml, markdown_summary, verdict, write_junit, FailureKind,
};
use litmus_core::output::snapshot::{Drift, SnapshotOutcome};
use litmus_core::run::store::ConfigKey;
use litmus_core::run::summary::{ConfigSummary, RunSummary, Speed, UnitSummary};
use litmus_metrics::stats::Summary;

fn config(template: &str) -> ConfigKey {
    ConfigKey {
        model: "tiny".into(),
        quantization: Some("Q4_K_M".into()),
        template: template.into(),
        temperature_bits: 0.7f32.to_bits(),
    }
}

fn unit(eval: &str, template: &str, mean: f64) -> UnitSummary {
    UnitSummary {
        eval: eval.into(),
        tags: vec![],
        config: config(template),
        scored: 5,
        errors: 0,
        score: Summary {
            n: 5,
            mean,
            std_dev: 4.0,
            std_err: 2.0,
            ci_low: mean - 4.0,
            ci_high: mean + 4.0,
        },
        samples: Vec::new(),
        pass_rate: 0.6,
        parts: Default::default(),
        speed: Speed::default(),
        first_error: None,
        min_score: None,
        wall_ms: 1234.0,
        repeats: None,
    }
}

fn outcome(u: &UnitSummary, drift: Drift, failed: bool) -> SnapshotOutcome {
    let baseline = match &drift {
        Drift::Improved { from, .. }
        | Drift::Regressed { from, .. }
        | Drift::Flaky { from, .. } => Some(*from),
        Drift::Unchanged => Some(u.score.mean),
        _ => None,
    };
    SnapshotOutcome {
        eval: u.eval.clone(),
        config: u.config.clone(),
        name: litmus_core::output::snapshot::snapshot_name(&u.eval, &u.config),
        path: PathBuf::from("/ws/evals/snapshots/x.snap"),
        drift,
        baseline,
        score: u.score.mean,
        tolerance: baseline.map(|_| 5.7),
        noise: None,
        pending_written: false,
        updated: false,
        failed,
        error: None,
    }
}

fn summary(units: Vec<UnitSummary>) -> RunSummary {
    RunSummary {
        run_id: "20260101-000000-abcdef".into(),
        run_dir: "target/litmus/runs/x".into(),
        configs: vec![ConfigSummary {
            config: config("plain"),
            model: Some(ModelInfo {
                name: "tiny".into(),
                backend: "llama".into(),
                digest: "sha256:0123".into(),
                ..Default::default()
            }),
            evals: 0,
            scored: 0,
            errors: 0,
            score: Summary::default(),
            pass_at_1: 0.0,
            pass_at_k: None,
            pass_at_k_evals: 0,
            flaky: 0,
            speed: Speed::default(),
            repeats: None,
        }],
        units,
        load_errors: vec![],
        wall_ms: 9876.0,
        generated: 0,
        cached: 0,
        backend_requests: 0,
        peak_rss_bytes: None,
        time: None,
    }
}

const NASTY: &str = "quote\"s <tags> & 'apos' | pipe\n\tctl\u{1}\u{7f} ✓";

/// A run with one result of each kind, and the snapshot outcomes for it.
fn mixed() -> (RunSummary, Vec<SnapshotOutcome>) {
    let passed = unit("math::add", "plain", 90.0);
    let regressed = unit("geo::capital::france", "plain", 60.0);
    let mut below = unit("code::hard", "plain", 40.0);
    below.min_score = Some(50.0);
    let mut errored = unit(NASTY, "plain", 0.0);
    errored.errors = 2;
    errored.scored = 3;
    errored.first_error = Some(format!("backend said: {NASTY}"));
    let improved = unit("geo::capital::japan", "expert", 95.0);
    let snaps = vec![
        outcome(&passed, Drift::Unchanged, false),
        outcome(
            &regressed,
            Drift::Regressed {
                from: 80.0,
                to: 60.0,
            },
            true,
        ),
        outcome(&below, Drift::Unchanged, false),
        outcome(
            &errored,
            Drift::Skipped {
                reason: "2 samples errored".into(),
            },
            false,
        ),
        outcome(
            &improved,
            Drift::Improved {
                from: 70.0,
                to: 95.0,
            },
            true,
        ),
    ];
    let mut s = summary(vec![passed, regressed, below, errored, improved]);
    s.load_errors = vec![("big <model>".into(), "out of memory & \"more\"".into())];
    (s, snaps)
}

fn attr<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    n.attribute(name)
        .unwrap_or_else(|| panic!("<{}> lacks `{name}`", n.tag_name().name()))
}

fn count(n: roxmltree::Node<'_, '_>, name: &str) -> usize {
    attr(n, name).parse().unwrap()
}

#[test]
fn junit_has_the_required_structure() {
    let (s, snaps) = mixed();
    let xml = junit_xml(&s, &snaps);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(attr(root, "name"), "litmus");
    assert_eq!(attr(root, "time"), "9.876");
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert!(suites.iter().all(|n| n.tag_name().name() == "testsuite"));
    // plain, expert, model load
    assert_eq!(suites.len(), 3);
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    let mut cases = Vec::new();
    for suite in &suites {
        let name = attr(*suite, "name");
        attr(*suite, "time").parse::<f64>().unwrap();
        let tcs: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(count(*suite, "tests"), tcs.len());
        let f = tcs
            .iter()
            .filter(|t| t.children().any(|c| c.has_tag_name("failure")))
            .count();
        let e = tcs
            .iter()
            .filter(|t| t.children().any(|c| c.has_tag_name("error")))
            .count();
        assert_eq!(
            (count(*suite, "failures"), count(*suite, "errors")),
            (f, e),
            "{name}"
        );
        for tc in &tcs {
            attr(*tc, "time").parse::<f64>().unwrap();
            if name != "model load" {
                assert_eq!(
                    attr(*tc, "classname"),
                    name,
                    "classname = configuration label"
                );
            }
            for c in tc
                .children()
                .filter(|c| c.has_tag_name("failure") || c.has_tag_name("error"))
            {
                assert!(!attr(c, "message").is_empty());
            }
            cases.push(*tc);
        }
        tests += tcs.len();
        failures += f;
        errors += e;
    }
    assert_eq!(
        (
            count(root, "tests"),
            count(root, "failures"),
            count(root, "errors")
        ),
        (tests, failures, errors)
    );
    assert_eq!((tests, failures, errors), (6, 3, 2));

    let case = |name: &str| {
        *cases
            .iter()
            .find(|t| attr(**t, "name") == name)
            .unwrap_or_else(|| panic!("no testcase {name:?}"))
    };
    assert_eq!(
        attr(case("math::add"), "classname"),
        "tiny Q4_K_M plain t=0.7"
    );
    assert_eq!(attr(case("math::add"), "time"), "1.234");
    assert!(case("math::add")
        .children()
        .all(|c| !c.has_tag_name("failure")));
    let failure = |name: &str| {
        case(name)
            .children()
            .find(|c| c.has_tag_name("failure"))
            .unwrap()
    };
    let f = failure("geo::capital::france");
    assert_eq!(attr(f, "type"), "regressed");
    assert!(
        attr(f, "message").contains("regressed 80.0 → 60.0"),
        "{}",
        attr(f, "message")
    );
    let f = failure("code::hard");
    assert_eq!(attr(f, "type"), "below_threshold");
    assert!(attr(f, "message").contains("below min_score 50.0"));
    let f = failure("geo::capital::japan");
    assert_eq!(attr(f, "type"), "snapshot_changed");
    assert!(attr(f, "message").contains("improved 70.0 → 95.0"));

    // Escaping: names and messages come back exactly (control characters
    // XML cannot hold become U+FFFD; tabs become spaces, and so do line
    // breaks in attributes, as attribute-value normalization would make them).
    let clean = NASTY.replace('\u{1}', "\u{FFFD}");
    let clean_attr = clean.replace(['\n', '\r', '\t'], " ");
    let e = case(&clean_attr)
        .children()
        .find(|c| c.has_tag_name("error"))
        .unwrap();
    assert!(
        attr(e, "message").contains(&clean_attr),
        "{:?}",
        attr(e, "message")
    );
    let clean_text = clean.replace('\t', " ");
    assert!(e.text().unwrap().contains(&clean_text), "{:?}", e.text());
    let load = suites[2]
        .children()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert_eq!(attr(load, "classname"), "big <model>");
    let le = load.children().find(|c| c.has_tag_name("error")).unwrap();
    assert_eq!(attr(le, "message"), "out of memory & \"more\"");

    // Properties carry the run id and the weights digest.
    let props: Vec<(&str, &str)> = suites[0]
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .map(|n| (attr(n, "name"), attr(n, "value")))
        .collect();
    assert!(props.contains(&("run_id", "20260101-000000-abcdef")));
    assert!(props.contains(&("digest", "sha256:0123")));
}

#[test]
fn junit_validates_against_the_schema() {
    let (s, snaps) = mixed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reports/junit.xml");
    write_junit(&path, &s, &snaps).unwrap();
    let empty = dir.path().join("empty.xml");
    write_junit(&empty, &summary(vec![]), &[]).unwrap();
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit.xsd");
    let Ok(out) = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&path)
        .arg(&empty)
        .output()
    else {
        println!(
            "note: xmllint not found (apt-get install libxml2-utils); skipping schema validation"
        );
        return;
    };
    assert!(
        out.status.success(),
        "xmllint:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&path).unwrap()
    );
}

#[test]
fn exit_codes_tell_failures_apart() {
    let ok = unit("a", "plain", 90.0);
    let s = summary(vec![ok.clone()]);
    assert_eq!(exit_code(&s, &[]), exit::OK);
    assert_eq!(
        exit_code(&s, &[outcome(&ok, Drift::Unchanged, false)]),
        exit::OK
    );
    // A regression that did not fail (INSTA_FORCE_PASS, INSTA_UPDATE=always)
    // is reported but does not fail.
    let r = outcome(
        &ok,
        Drift::Regressed {
            from: 99.0,
            to: 90.0,
        },
        false,
    );
    assert_eq!(exit_code(&s, &[r]), exit::OK);
    let r = outcome(
        &ok,
        Drift::Regressed {
            from: 99.0,
            to: 90.0,
        },
        true,
    );
    assert_eq!(exit_code(&s, std::slice::from_ref(&r)), exit::REGRESSED);
    assert_eq!(exit::REGRESSED, 4);
    let i = outcome(
        &ok,
        Drift::Improved {
            from: 50.0,
            to: 90.0,
        },
        true,
    );
    assert_eq!(
        exit_code(&s, std::slice::from_ref(&i)),
        exit::SNAPSHOT_CHANGED
    );
    // A new snapshot has no baseline to regress from: it passes.
    let n = outcome(&ok, Drift::New, true);
    assert_eq!(exit_code(&s, std::slice::from_ref(&n)), exit::OK);
    assert!(verdict(&ok, Some(&n)).passed());
    let md = markdown_summary(&s, &[n]);
    assert!(
        md.contains("🆕 new")
            && md.contains("new snapshots 1")
            && md.contains("1 eval configuration has no score snapshot"),
        "{md}"
    );

    let mut below = ok.clone();
    below.min_score = Some(95.0);
    let sb = summary(vec![below.clone()]);
    assert_eq!(exit_code(&sb, &[]), exit::BELOW_THRESHOLD);
    assert_eq!(
        exit_code(&sb, std::slice::from_ref(&i)),
        exit::BELOW_THRESHOLD
    );
    // Regressed wins over below threshold.
    assert_eq!(exit_code(&sb, std::slice::from_ref(&r)), exit::REGRESSED);
    let v = verdict(&below, Some(&r));
    assert_eq!(
        v.failures.iter().map(|f| f.0).collect::<Vec<_>>(),
        [FailureKind::Regressed, FailureKind::BelowThreshold]
    );
    assert_eq!(v.status(), "regressed");

    // Errored wins over everything.
    let mut errored = below;
    errored.errors = 1;
    let se = summary(vec![errored]);
    assert_eq!(exit_code(&se, std::slice::from_ref(&r)), exit::ERRORED);
    let mut sl = summary(vec![ok.clone()]);
    sl.load_errors.push(("m".into(), "gone".into()));
    assert_eq!(exit_code(&sl, &[]), exit::ERRORED);
    let mut broken = outcome(&ok, Drift::New, false);
    broken.error = Some("permission denied".into());
    assert_eq!(exit_code(&s, &[broken]), exit::ERRORED);
}

/// One precedence for a run's results and for `cargo eval`'s targets: the
/// order of [`FailureKind`] (most severe first), below errors and usage errors.
#[test]
fn one_precedence_orders_every_exit_code() {
    use litmus_core::base::exit::{severity, worst};
    let kinds = [
        FailureKind::Regressed,
        FailureKind::BelowThreshold,
        FailureKind::SnapshotChanged,
    ];
    for pair in kinds.windows(2) {
        assert!(pair[0] < pair[1]);
        assert!(severity(pair[0].exit_code()) > severity(pair[1].exit_code()));
    }
    let most_severe_first = [
        exit::USAGE,
        exit::ERRORED,
        exit::REGRESSED,
        exit::BELOW_THRESHOLD,
        exit::SNAPSHOT_CHANGED,
        exit::OK,
    ];
    for (i, &a) in most_severe_first.iter().enumerate() {
        for &b in &most_severe_first[i..] {
            assert_eq!(worst(a, b), a, "{a} vs {b}");
            assert_eq!(worst(b, a), a, "{b} vs {a}");
        }
    }
    // A code no target should exit with (a crash) counts as an error.
    assert_eq!(severity(101), severity(exit::ERRORED));
    assert_eq!(worst(exit::REGRESSED, 101), 101);
}

#[test]
fn markdown_summary_is_a_table() {
    let (s, snaps) = mixed();
    let md = markdown_summary(&s, &snaps);
    assert!(md.starts_with("## litmus eval results\n"));
    assert!(md.contains("5 evals × 2 configurations"), "{md}");
    assert!(
        md.contains("passed 1 · regressed 1 · below min_score 1 · snapshot changed 1 · errored 1 · model load failed 1"),
        "{md}"
    );
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 2 + 5, "{md}");
    assert!(rows[0].starts_with("| eval | configuration | score | 95% CI"));
    // Every row has the same number of unescaped cells.
    let cells = |r: &str| r.replace("\\|", "").matches('|').count();
    assert!(rows.iter().all(|r| cells(r) == cells(rows[0])), "{md}");
    let france = rows
        .iter()
        .find(|r| r.contains("geo::capital::france"))
        .unwrap();
    assert!(
        france.contains("📉 80.0 → 60.0") && france.contains("❌ regressed"),
        "{france}"
    );
    assert!(
        france.contains("tiny Q4\\_K\\_M plain t=0.7")
            && france.contains("| 60.0 | [56.0, 64.0] | 60% | 5 |"),
        "{france}"
    );
    assert!(md.contains("⚠️ below min_score") && md.contains("💥 errored"));
    assert!(!md.contains("<tags>") && md.contains("&lt;tags&gt;"));
    assert!(md.contains("cargo insta review"));
}

/// A score that moved within the run-to-run noise that `--repeat` measured
/// is reported as flaky, and passes.
#[test]
fn a_flaky_move_is_reported_as_flaky_and_passes() {
    let u = unit("rust::triangle_kind", "plain", 60.0);
    let mut f = outcome(
        &u,
        Drift::Flaky {
            from: 95.0,
            to: 60.0,
        },
        false,
    );
    f.noise = Some(50.0);
    assert!(verdict(&u, Some(&f)).passed());
    let s = summary(vec![u.clone()]);
    assert_eq!(exit_code(&s, std::slice::from_ref(&f)), exit::OK);
    assert_eq!(
        f.message(),
        "flaky 95.0 → 60.0 (Δ -35.0, within run-to-run noise ±50.0: not a regression)"
    );
    let md = markdown_summary(&s, std::slice::from_ref(&f));
    assert!(md.contains("passed 1 · regressed 0"), "{md}");
    assert!(md.contains("flaky (within run-to-run noise) 1"), "{md}");
    let row = md.lines().find(|l| l.contains("triangle")).unwrap();
    assert!(
        row.contains("〰️ flaky 95.0 → 60.0 (noise ±50.0)") && row.contains("〰️ flaky (passed)"),
        "{row}"
    );
    assert!(!md.contains("changed beyond noise"), "{md}");
    // The same move beyond the noise is a regression, and says so.
    let mut r = outcome(
        &u,
        Drift::Regressed {
            from: 95.0,
            to: 60.0,
        },
        true,
    );
    r.noise = Some(10.0);
    assert_eq!(exit_code(&s, std::slice::from_ref(&r)), exit::REGRESSED);
    assert!(
        r.message()
            .contains("tolerance ±5.7, run-to-run noise ±10.0"),
        "{}",
        r.message()
    );
}

#[test]
fn step_summary_is_appended_when_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("step_summary.md");
    std::fs::write(&path, "before\n").unwrap();
    let saved = std::env::var_os("GITHUB_STEP_SUMMARY");
    std::env::set_var("GITHUB_STEP_SUMMARY", &path);
    let written = append_step_summary("## litmus\n");
    std::env::remove_var("GITHUB_STEP_SUMMARY");
    let unset = append_step_summary("## litmus\n");
    if let Some(v) = saved {
        std::env::set_var("GITHUB_STEP_SUMMARY", v);
    }
    assert_eq!(written.unwrap(), Some(path.clone()));
    assert_eq!(unset.unwrap(), None);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "before\n## litmus\n"
    );
}
