//! Engine worker processes (`isolation = process`), on the tiny model: this
//! test binary has its own `main`, which calls the worker hook as eval
//! targets do, so that it can start workers (copies of itself).

mod common;

use std::sync::Arc;

use litmus_core::base::backend::{Backend, GenerationRequest, Prompt, SamplingParams};
use litmus_llama::worker::{self, FAULT_ENV};
use litmus_llama::LlamaBackend;

fn main() {
    worker::main_hook();
    let (_dir, path) = common::tiny_model(None);
    type Test = fn(&std::path::Path);
    let tests: [(&str, Test); 4] = [
        ("answers_as_on_a_thread", answers_as_on_a_thread),
        (
            "a_worker_outlives_the_thread_that_started_it",
            a_worker_outlives_the_thread_that_started_it,
        ),
        (
            "a_crash_fails_the_requests_in_flight_and_a_new_worker_takes_over",
            a_crash_fails_the_requests_in_flight_and_a_new_worker_takes_over,
        ),
        ("randomized_workload", randomized_workload),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut ran = 0;
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        eprintln!("test {name} ...");
        test(&path);
        eprintln!("test {name} ... ok");
        ran += 1;
    }
    eprintln!("test result: ok. {ran} passed");
}

fn open(path: &std::path::Path, isolation: &str) -> Arc<LlamaBackend> {
    let spec = common::spec(path, 4, 256, &[("isolation", isolation)]);
    Arc::new(LlamaBackend::open(&spec).expect("open the tiny model"))
}

fn request(prompt: &str, max_tokens: u32, samples: Vec<u32>) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Completion(prompt.into()),
        params: SamplingParams {
            temperature: 0.9,
            max_tokens,
            seed: 7,
            ..SamplingParams::default()
        },
        samples,
    }
}

fn answers_as_on_a_thread(path: &std::path::Path) {
    let process = open(path, "process");
    let thread = open(path, "thread");
    let pid = process.worker_pid().expect("a worker process");
    assert_ne!(pid, std::process::id());
    assert_eq!(thread.worker_pid(), None);
    let r = request("the cat is on the", 20, vec![0, 1, 2]);
    let mut a = process.generate(&r).unwrap();
    let mut b = thread.generate(&r).unwrap();
    a.sort_by_key(|g| g.sample);
    b.sort_by_key(|g| g.sample);
    let texts = |g: &[litmus_core::base::backend::Generation]| {
        g.iter().map(|g| g.text.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        texts(&a),
        texts(&b),
        "the same answers in a worker and on a thread"
    );
    assert_eq!(
        process.tokenize_prompt(&r.prompt).unwrap(),
        thread.tokenize_prompt(&r.prompt).unwrap()
    );
    assert_eq!(process.render(&r.prompt).unwrap(), "the cat is on the");
    assert!(
        process.engine_stats().tokens_sampled > 0,
        "statistics come back from the worker"
    );
    assert!(
        process.resident_bytes().is_some_and(|b| b > 0),
        "the worker's memory is measured"
    );
}

/// A model loaded on a thread that then ends (as a generation thread loads a
/// model on a cache miss, or a request restarts a crashed worker) keeps its
/// worker: the kernel's parent-death signal, which ends a worker with litmus,
/// follows the thread that started it, not the process.
fn a_worker_outlives_the_thread_that_started_it(path: &std::path::Path) {
    let path = path.to_path_buf();
    let b = std::thread::spawn(move || open(&path, "process"))
        .join()
        .unwrap();
    let pid = b.worker_pid().unwrap();
    // Time for a signal to arrive, had one been sent.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let g = b
        .generate(&request("the cat is on the", 8, vec![0]))
        .expect("the worker started by an ended thread still answers");
    assert_eq!(g.len(), 1);
    assert_eq!(b.worker_pid(), Some(pid), "the same worker, not a new one");
}

fn a_crash_fails_the_requests_in_flight_and_a_new_worker_takes_over(path: &std::path::Path) {
    // Only this model's first worker gets the fault (the variable is read when
    // the worker starts; restarted workers never get it).
    std::env::set_var(FAULT_ENV, "segv-after-steps:6");
    let b = open(path, "process");
    std::env::remove_var(FAULT_ENV);
    let first = b.worker_pid().unwrap();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || b.generate(&request("once upon a time", 40, vec![i])))
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for r in &results {
        let e = r
            .as_ref()
            .expect_err("a request in flight when the worker crashed")
            .to_string();
        assert!(e.contains("SIGSEGV (segmentation fault)"), "{e}");
        assert!(e.contains(&format!("pid {first}")), "{e}");
        assert!(e.contains("last lines of its log"), "{e}");
    }
    // The next request starts a new worker, which answers.
    let g = b
        .generate(&request("once upon a time", 8, vec![0]))
        .unwrap();
    assert_eq!(g.len(), 1);
    assert_ne!(b.worker_pid().unwrap(), first);
    assert_eq!(b.workers_started(), 2);
    assert!(
        b.engine_stats().steps >= 6,
        "the dead worker's steps are kept"
    );
}

fn randomized_workload(path: &std::path::Path) {
    common::random_workload(&open(path, "process"), 11, 30);
}
