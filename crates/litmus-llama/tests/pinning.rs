//! CPU pinning of an engine (`ModelSpec::cpus`). A binary of its own: it
//! tells its engine's threads by name, so no other engine may run beside it.

mod common;

use litmus_core::base::backend::Backend;
use litmus_llama::LlamaBackend;

use common::{req, sampled, texts};

/// A spec's `cpus` pins the engine: its thread and the llama.cpp threads it
/// starts run only there, the rest of the process stays where it was, and
/// the answers are those of an unpinned engine.
#[test]
fn an_engine_pinned_to_a_cpu_computes_only_there() {
    /// `Cpus_allowed_list` of each thread of this process named `name`.
    fn allowed(name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim() == name {
                let status = std::fs::read_to_string(task.path().join("status")).unwrap();
                let line = status
                    .lines()
                    .find(|l| l.starts_with("Cpus_allowed_list:"))
                    .unwrap();
                out.push(line.split(':').nth(1).unwrap().trim().to_string());
            }
        }
        out
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let mine = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    // The last CPU this process may use.
    let last: u32 = mine.rsplit([',', '-']).next().unwrap().parse().unwrap();
    let (_dir, path) = common::tiny_model(None);
    let r = req("the cat is on the", sampled(12), (0..4).collect());
    let free = LlamaBackend::open(&common::spec(&path, 4, 256, &[])).unwrap();
    let expected = free.generate(&r).unwrap();
    drop(free);
    let mut spec = common::spec(&path, 4, 256, &[]);
    spec.cpus = vec![last];
    let pinned = LlamaBackend::open(&spec).unwrap();
    let got = pinned.generate(&r).unwrap();
    assert_eq!(texts(&got), texts(&expected));
    // Thread names are cut to 15 bytes; threads inherit their creator's.
    let engine = allowed("litmus-llama-en");
    assert!(!engine.is_empty(), "no engine thread found");
    assert!(
        engine.iter().all(|c| *c == last.to_string()),
        "engine threads on {engine:?}, pinned to {last}"
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(
        status.contains(&format!("Cpus_allowed_list:\t{mine}")),
        "the process was pinned too"
    );
    spec.cpus = vec![u32::MAX - 1];
    let Err(err) = LlamaBackend::open(&spec) else {
        panic!("a CPU out of range must fail")
    };
    assert!(err.to_string().contains("CPU"), "{err}");
}
