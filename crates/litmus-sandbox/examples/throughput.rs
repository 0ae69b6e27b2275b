//! Throughput of Python scoring: samples scored per second, each sample with
//! 3 examples and 5 unit tests, for
//!
//! * the fast path ([`score_answer`]: one sandboxed driver process per
//!   sample that forks a child per run), and
//! * the naive baseline: one sandboxed process per check (parse, load, and
//!   each example/test), the way a straightforward runner would do it.
//!
//! Both run in the same process, with the same thread count, sandbox,
//! interpreter and interpreter flags.
//!
//! ```text
//! cargo run --release -p litmus-sandbox --example throughput -- [samples] [threads] [fast|naive|both]
//! ```
//!
//! Wall-clock rates depend on what else runs on the machine. For a
//! load-independent number, measure CPU time per sample with
//! `perf stat -e task-clock -- <binary> N 1 fast` (the CPU time of processes
//! in the sandbox's PID namespace is not visible to `getrusage`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use litmus_sandbox::{
    extract_code, sandbox_info, score_answer, warm_up, CodeSpec, Language, Limits, Sandbox,
    SandboxCommand, SandboxFile,
};

fn spec() -> CodeSpec {
    CodeSpec::new(Language::Python)
        .example("reverse_words('hello world')")
        .example("reverse_words('')")
        .example("reverse_words('a  b   c')")
        .test("assert reverse_words('hello world') == 'world hello'")
        .test("assert reverse_words('') == ''")
        .test("assert reverse_words('one') == 'one'")
        .test("assert reverse_words('a b c') == 'c b a'")
        .test("assert reverse_words('  padded  ') == 'padded'")
}

/// A distinct answer per sample; every fifth one fails a test.
fn answer(i: usize) -> String {
    let body = if i % 5 == 4 {
        "return ' '.join(reversed(s.split(' ')))"
    } else {
        "return ' '.join(reversed(s.split()))"
    };
    format!(
        "Here is the solution (sample {i}):\n\n```python\ndef reverse_words(s):\n    # sample {i}\n    {body}\n```\n\nIt splits on whitespace and reverses the words."
    )
}

/// Score `samples` items on `threads` threads; (elapsed, mean score).
fn run_parallel<F: Fn(usize) -> f64 + Sync>(
    samples: usize,
    threads: usize,
    f: F,
) -> (Duration, f64) {
    let next = AtomicUsize::new(0);
    let total = std::sync::Mutex::new(0.0f64);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= samples {
                    break;
                }
                let score = f(i);
                *total.lock().unwrap() += score;
            });
        }
    });
    let mean = *total.lock().unwrap() / samples as f64;
    (t0.elapsed(), mean)
}

const NAIVE_RUNNER: &str = "import sys\ng = {'__name__': 'solution'}\nexec(compile(open('solution.py').read(), 'solution.py', 'exec'), g)\nif len(sys.argv) > 1:\n    exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'), g)\n";

/// The interpreter the fast path uses, and its prefix (to bind).
fn python() -> (String, String) {
    let py = std::env::var("LITMUS_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(py)
        .args([
            "-I",
            "-c",
            "import sys, os; print(os.path.realpath(sys.executable)); print(sys.base_prefix)",
        ])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let exe = lines.next().unwrap_or("/usr/bin/python3").to_string();
    let prefix = lines.next().unwrap_or("/usr").to_string();
    (exe, prefix)
}

/// One sandboxed process per check.
fn naive_score(
    sb: &Sandbox,
    exe: &str,
    prefix: &str,
    code: &str,
    spec: &CodeSpec,
    limits: &Limits,
) -> f64 {
    let run = |files: Vec<SandboxFile>, args: Vec<&str>| {
        let cmd = SandboxCommand::new(exe).args(args).ro_bind(prefix);
        sb.run(&cmd, &files, limits)
            .map(|o| o.success())
            .unwrap_or(false)
    };
    let parsed = run(
        vec![SandboxFile::new("solution.py", code)],
        vec![
            "-I",
            "-S",
            "-c",
            "import ast; ast.parse(open('solution.py').read())",
        ],
    );
    if !parsed {
        return 0.0;
    }
    let base = || {
        vec![
            SandboxFile::new("solution.py", code),
            SandboxFile::new("runner.py", NAIVE_RUNNER),
        ]
    };
    if !run(base(), vec!["-I", "-S", "runner.py"]) {
        return 25.0;
    }
    let frac = |snippets: &[String]| {
        let ok = snippets
            .iter()
            .filter(|s| {
                let mut files = base();
                files.push(SandboxFile::new("snippet.py", s.as_str()));
                run(files, vec!["-I", "-S", "runner.py", "snippet.py"])
            })
            .count();
        ok as f64 / snippets.len() as f64
    };
    50.0 + 25.0 * frac(&spec.examples) + 25.0 * frac(&spec.tests)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let samples: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    // Sandbox start-up has latency beyond CPU time (namespace and mount
    // setup, process reaping), so a few threads per core keep cores busy.
    let threads: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(cores * 4);
    let mode = args.get(3).map(String::as_str).unwrap_or("both");
    let info = sandbox_info();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "sandbox: {:?} (root: {}, dedicated uid: {}); {cores} cores, load average {}; {threads} threads; 3 examples + 5 tests per sample",
        info.kind,
        info.running_as_root,
        info.dedicated_uid,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let spec = spec();
    let limits = Limits::default();

    // Warm-up (sandbox detection, tool discovery, driver precompilation).
    warm_up(Language::Python).expect("python3 is needed");
    let w = score_answer(&answer(0), &spec, &limits);
    assert_eq!(w.score, 100.0, "warm-up failed: {w:?}");

    let mut fast_rate = f64::NAN;
    if mode != "naive" {
        let (t, mean) = run_parallel(samples, threads, |i| {
            score_answer(&answer(i), &spec, &limits).score
        });
        fast_rate = samples as f64 / t.as_secs_f64();
        println!(
            "fast path : {samples} samples in {:.2}s = {fast_rate:.1} samples/s (mean score {mean:.1}; 1 sandboxed process per sample)",
            t.as_secs_f64()
        );
    }
    if mode == "fast" {
        return;
    }

    let (exe, prefix) = python();
    let sb = Sandbox::new();
    let naive_samples = if mode == "naive" {
        samples
    } else {
        (samples / 4).max(10)
    };
    let (t, mean) = run_parallel(naive_samples, threads, |i| {
        let code = extract_code(&answer(i), Language::Python, None);
        naive_score(&sb, &exe, &prefix, &code, &spec, &limits)
    });
    let naive_rate = naive_samples as f64 / t.as_secs_f64();
    println!(
        "naive     : {naive_samples} samples in {:.2}s = {naive_rate:.1} samples/s (mean score {mean:.1}; 10 sandboxed processes per sample)",
        t.as_secs_f64()
    );
    if fast_rate.is_finite() {
        println!("speed-up  : {:.1}x", fast_rate / naive_rate);
    }
}
