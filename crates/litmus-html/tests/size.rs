//! The budget: a run of 3,000 samples, prompts and responses
//! included, gives a report of at most 5 MB.

mod common;

use std::time::Instant;

#[test]
fn a_run_of_3000_samples_fits_in_5_mb() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::synthetic_run(tmp.path());
    let started = Instant::now();
    let path = litmus_html::write_report(&dir).unwrap();
    let took = started.elapsed();
    let size = std::fs::metadata(&path).unwrap().len();
    let run = litmus_html::Run::load(&dir).unwrap();
    assert_eq!(run.records.len(), 3000);
    println!(
        "report of 3,000 samples: {:.2} MB, written in {:.0} ms",
        size as f64 / 1e6,
        took.as_secs_f64() * 1000.0
    );
    assert!(size <= 5_000_000, "{size} bytes");
    let html = std::fs::read_to_string(&path).unwrap();
    // Every sample's response is in it.
    let last = run.records.last().unwrap().response.clone().unwrap();
    assert!(html.contains(
        &serde_json::to_string(&last)
            .unwrap()
            .replace('<', "\\u003c")
    ));
}
