//! Hostile programs must be contained: each ends within its time limit plus
//! one second, the host is unaffected, nothing leaks and no process
//! survives. Run against the default sandbox (bubblewrap here); properties
//! only bubblewrap provides are asserted when `sandbox_info()` says so.

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use common::{assert_absent, assert_no_survivors, marker, Watch};
use litmus_sandbox::{
    sandbox_info, score_answer_in, warm_up, CodeScore, CodeSpec, Language, Limits, Sandbox,
    SandboxKind,
};

const LIMIT: Duration = Duration::from_secs(2);

/// CPU-hungry attacks (the fork bomb spins `max_processes` busy processes)
/// run alone, so they do not starve the timing of the other cases.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner())
}

fn limits() -> Limits {
    Limits {
        timeout: LIMIT,
        snippet_timeout: LIMIT,
        cpu_seconds: 10,
        memory_bytes: 512 << 20,
        max_processes: 32,
        ..Limits::default()
    }
}

fn py(code: &str) -> String {
    format!("```python\n{code}\n```")
}

fn run(code: &str, spec: &CodeSpec, limits: &Limits) -> (CodeScore, Duration) {
    let _g = shared();
    run_alone(code, spec, limits)
}

fn run_alone(code: &str, spec: &CodeSpec, limits: &Limits) -> (CodeScore, Duration) {
    warm_up(Language::Python).expect("python is needed for these tests");
    let t0 = Instant::now();
    let s = score_answer_in(&Sandbox::new(), &py(code), spec, limits);
    (s, t0.elapsed())
}

fn spec() -> CodeSpec {
    CodeSpec::new(Language::Python)
}

/// The attack runs while loading the solution: that phase has `LIMIT`.
fn assert_within_limit(elapsed: Duration) {
    assert!(
        elapsed <= LIMIT + Duration::from_secs(1),
        "took {elapsed:?}, more than the {LIMIT:?} limit plus one second"
    );
}

fn host_still_works() {
    let out = std::process::Command::new("true")
        .status()
        .expect("host can spawn");
    assert!(out.success());
}

#[test]
fn infinite_loop_is_killed_at_the_limit() {
    let (s, el) = run(
        "def f():\n    return 1\n\nwhile True:\n    pass",
        &spec().test("assert f() == 1"),
        &limits(),
    );
    assert_within_limit(el);
    assert!(s.parsed && !s.executed, "{s:?}");
    assert!(s.timed_out);
    assert_eq!(s.score, 25.0);
    assert!(
        el >= LIMIT - Duration::from_millis(100),
        "killed too early: {el:?}"
    );
}

#[test]
fn infinite_loop_in_one_test_keeps_the_other_results() {
    let spec = spec()
        .test("assert f() == 1")
        .test("while True:\n    pass")
        .test("assert f() + 1 == 2");
    let l = Limits {
        snippet_timeout: Duration::from_secs(1),
        ..limits()
    };
    let (s, el) = run("def f():\n    return 1", &spec, &l);
    assert_eq!((s.tests_passed, s.tests_total), (2, 3), "{s:?}");
    assert!(s.timed_out);
    assert!(el < Duration::from_secs(1) + LIMIT, "{el:?}");
    let t = &s.snippets[1];
    assert!(!t.passed && t.timed_out, "{t:?}");
}

#[test]
fn cpu_time_limit_kills_busy_code() {
    let l = Limits {
        cpu_seconds: 1,
        timeout: Duration::from_secs(20),
        ..limits()
    };
    let _g = exclusive();
    let (s, el) = run_alone("while True:\n    pass", &spec(), &l);
    assert!(!s.executed);
    // Stopped by the CPU limit, long before the wall limit.
    assert!(!s.timed_out && el < Duration::from_secs(10), "{el:?} {s:?}");
    assert!(
        s.error.as_deref().unwrap_or("").contains("CPU"),
        "{:?}",
        s.error
    );
}

#[test]
fn fork_bomb_is_bounded_and_cleaned_up() {
    let m = marker("fb");
    let code = format!(
        "import os\nM = {m:?}\nwhile True:\n    try:\n        if os.fork() == 0:\n            try:\n                open('/proc/self/comm', 'w').write(M[:15])\n            except OSError:\n                pass\n    except OSError:\n        pass"
    );
    // Watch the number of bomb processes while it runs.
    let watch = Watch::start(&m);
    let _g = exclusive();
    let (s, el) = run_alone(&code, &spec(), &limits());
    let peak = watch.peak();
    assert_within_limit(el);
    assert!(!s.executed);
    if sandbox_info().process_limit_enforced {
        assert!(
            peak <= limits().max_processes as usize + 1,
            "{peak} bomb processes at once, limit {}",
            limits().max_processes
        );
    }
    assert_no_survivors(&m);
    host_still_works();
}

#[test]
fn memory_bomb_fails_cleanly() {
    let l = Limits {
        memory_bytes: 256 << 20,
        ..limits()
    };
    let (s, el) = run(
        "hog = []\nwhile True:\n    hog.append(bytearray(16 << 20))",
        &spec().test("assert True"),
        &l,
    );
    assert_within_limit(el);
    assert!(s.parsed && !s.executed, "{s:?}");
    assert!(
        s.error.as_deref().unwrap_or("").contains("MemoryError"),
        "{:?}",
        s.error
    );
    assert_eq!(s.score, 25.0);
}

#[test]
fn gigabytes_of_output_are_capped() {
    let l = limits();
    let (s, el) = run(
        "import sys, os\nchunk = 'x' * 65536\nwhile True:\n    sys.stdout.write(chunk)\n    sys.stderr.write(chunk)",
        &spec(),
        &l,
    );
    assert_within_limit(el);
    assert!(s.timed_out);
    assert!(
        s.stderr.len() <= l.max_output_bytes + 200,
        "stderr not capped: {} bytes",
        s.stderr.len()
    );
}

#[test]
fn output_flood_in_a_test_does_not_break_other_tests() {
    let spec = spec()
        .test("import sys\nfor _ in range(20000):\n    sys.stdout.write('y' * 65536)\nassert False")
        .test("assert f() == 2");
    let l = Limits {
        snippet_timeout: Duration::from_secs(1),
        ..limits()
    };
    let (s, el) = run("def f():\n    return 2", &spec, &l);
    assert!(el <= 2 * LIMIT + Duration::from_secs(1), "{el:?}");
    assert_eq!((s.tests_passed, s.tests_total), (1, 2), "{s:?}");
}

#[test]
fn network_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = "import socket\n\ndef try_connect(host, port):\n    s = socket.socket()\n    s.settimeout(1.0)\n    try:\n        s.connect((host, port))\n        return True\n    except OSError:\n        return False\n    finally:\n        s.close()\n";
    // 192.0.2.1 is TEST-NET-1 (documentation range): never a real host.
    let spec = spec()
        .test(format!("assert not try_connect('127.0.0.1', {port})"))
        .test("assert not try_connect('192.0.2.1', 80)")
        .test("import socket\ntry:\n    socket.getaddrinfo('example.com', 80)\n    ok = True\nexcept OSError:\n    ok = False\nassert not ok");
    let (s, el) = run(code, &spec, &limits());
    assert!(el <= 2 * LIMIT + Duration::from_secs(1), "{el:?}");
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the sandbox reached the host's listener: {other:?}"),
    }
    if sandbox_info().network_isolated {
        assert_eq!((s.tests_passed, s.tests_total), (3, 3), "{s:?}");
    }
}

#[test]
fn writes_outside_the_workspace_do_not_reach_the_host() {
    let m = marker("wr");
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let targets = [
        PathBuf::from(format!("/tmp/litmus-escape-{m}")),
        crate_dir.join(format!("litmus-escape-{m}")),
        PathBuf::from(format!("/etc/litmus-escape-{m}")),
        PathBuf::from(format!("/usr/litmus-escape-{m}")),
        PathBuf::from(format!("/var/tmp/litmus-escape-{m}")),
        PathBuf::from(format!("/dev/shm/litmus-escape-{m}")),
    ];
    let list: Vec<String> = targets
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    let code = format!(
        "import os\nfor p in [{}]:\n    try:\n        os.makedirs(os.path.dirname(p), exist_ok=True)\n        with open(p, 'w') as f:\n            f.write('escaped')\n    except OSError:\n        pass",
        list.join(", ")
    );
    let (s, el) = run(&code, &spec(), &limits());
    assert_within_limit(el);
    assert!(s.executed, "{s:?}");
    if !sandbox_info().host_writable {
        for t in &targets {
            assert_absent(t);
        }
    } else {
        for t in &targets {
            let _ = std::fs::remove_file(t);
        }
    }
    // Never reachable, whatever the sandbox: the crate itself.
    assert_absent(&targets[1]);
}

#[test]
fn the_code_cannot_attach_to_the_driver() {
    // A debugger attached to the driver (same uid) could read its nonce and
    // write forged results to its report pipe; ptrace, process_vm_readv and
    // pidfd_getfd fail with EPERM. The answer loads ctypes before the tests.
    let code = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n\ndef attach():\n    r = libc.ptrace(16, os.getppid(), 0, 0)\n    return r, ctypes.get_errno()\n\ndef peek():\n    buf = ctypes.create_string_buffer(8)\n    class IoVec(ctypes.Structure):\n        _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]\n    local = IoVec(ctypes.cast(buf, ctypes.c_void_p), 8)\n    remote = IoVec(0x400000, 8)\n    r = libc.process_vm_readv(os.getppid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)\n    return r, ctypes.get_errno()";
    let spec = spec()
        .test("assert attach() == (-1, 1), attach()")
        .test("assert peek() == (-1, 1), peek()");
    let (s, _) = run(code, &spec, &limits());
    assert_eq!((s.tests_passed, s.tests_total), (2, 2), "{s:?}");
}

#[test]
fn the_host_name_is_not_visible() {
    if sandbox_info().kind != SandboxKind::Bubblewrap {
        eprintln!("skipped: only bubblewrap gives the code a host name of its own");
        return;
    }
    let (s, _) = run(
        "import socket",
        &spec().test("assert socket.gethostname() == 'sandbox', socket.gethostname()"),
        &limits(),
    );
    assert_eq!((s.tests_passed, s.tests_total), (1, 1), "{s:?}");
}

#[test]
fn host_files_are_not_visible() {
    if !sandbox_info().filesystem_isolated {
        eprintln!("skipped: the fallback sandbox shares the host filesystem");
        return;
    }
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let spec = spec()
        .test(format!(
            "import os\nassert not os.path.exists({crate_dir:?})"
        ))
        .test("import os\nassert not os.path.exists('/root/.cargo')")
        .test("import os\nassert os.listdir('/tmp') == []");
    let (s, _) = run("x = 1", &spec, &limits());
    assert_eq!((s.tests_passed, s.tests_total), (3, 3), "{s:?}");
}

#[test]
fn api_keys_do_not_reach_the_code() {
    // The variable is set in this test process; the code must not see it,
    // neither in its environment nor in any process it can inspect.
    std::env::set_var("OPENAI_API_KEY", "sk-litmus-secret-4242");
    std::env::set_var("ANTHROPIC_API_KEY", "sk-litmus-secret-4242");
    let code = "import os\n\ndef leaked():\n    if 'sk-litmus-secret' in repr(dict(os.environ)):\n        return True\n    for pid in os.listdir('/proc'):\n        if pid.isdigit():\n            try:\n                with open('/proc/%s/environ' % pid, 'rb') as f:\n                    if b'sk-litmus-secret' in f.read():\n                        return True\n            except OSError:\n                pass\n    return False\n";
    let spec = spec()
        .example("print(sorted(os.environ))")
        .test("assert 'OPENAI_API_KEY' not in os.environ")
        .test("assert not leaked()");
    let (s, _) = run(code, &spec, &limits());
    assert_eq!((s.tests_passed, s.tests_total), (2, 2), "{s:?}");
    assert!(!s.stderr.contains("sk-litmus-secret"));
}

#[test]
fn killing_the_parent_is_contained() {
    let (s, el) = run(
        "import os\nos.kill(os.getppid(), 9)",
        &spec().test("assert True"),
        &limits(),
    );
    assert_within_limit(el);
    assert!(s.parsed && !s.executed, "{s:?}");
    assert_eq!(s.score, 25.0);
    host_still_works();
}

#[test]
fn killing_the_parent_in_a_test_only_fails_that_test() {
    let spec = spec()
        .test("assert f() == 3")
        .test("import os\nos.kill(os.getppid(), 9)")
        .test("assert f() * 2 == 6");
    let (s, el) = run("def f():\n    return 3", &spec, &limits());
    assert!(el <= 2 * LIMIT + Duration::from_secs(1), "{el:?}");
    assert!(s.executed);
    assert_eq!((s.tests_passed, s.tests_total), (2, 3), "{s:?}");
    assert!(!s.snippets[1].passed);
}

#[test]
fn killing_the_parent_in_the_first_test_scores_the_same_every_time() {
    // The first test's process also loads the solution (one fork less);
    // whether loading counts as done must not depend on whether the driver
    // read "loaded" before the test killed it.
    let spec = spec().test("f()").test("assert f is not None");
    let code = "import os\n\ndef f():\n    os.kill(os.getppid(), 9)";
    for round in 0..4 {
        let (s, el) = run(code, &spec, &limits());
        assert!(el <= 2 * LIMIT + Duration::from_secs(1), "{el:?}");
        assert!(s.executed, "round {round}: {s:?}");
        assert_eq!(
            (s.tests_passed, s.tests_total),
            (1, 2),
            "round {round}: {s:?}"
        );
    }
}

#[test]
fn orphaned_children_do_not_survive() {
    let m = marker("or");
    let code = format!(
        "import os, time\nM = {m:?}\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execv('/bin/sleep', [M, '1000'])\n    os._exit(0)\nos.waitpid(pid, 0)\ntime.sleep(0.5)\n\ndef f():\n    return 1"
    );
    let watch = Watch::start(&m);
    let (s, el) = run(&code, &spec().test("assert f() == 1"), &limits());
    assert!(watch.peak() >= 1, "the orphan never ran");
    assert_within_limit(el);
    assert!(s.executed, "{s:?}");
    assert_no_survivors(&m);
}

#[test]
fn orphans_of_a_timed_out_run_do_not_survive() {
    let m = marker("ot");
    let code = format!(
        "import os\nM = {m:?}\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execv('/bin/sleep', [M, '1000'])\n    os._exit(0)\nwhile True:\n    pass"
    );
    let watch = Watch::start(&m);
    let (s, el) = run(&code, &spec(), &limits());
    assert!(watch.peak() >= 1, "the orphan never ran");
    assert_within_limit(el);
    assert!(s.timed_out);
    assert_no_survivors(&m);
}

#[test]
fn filling_the_disk_is_bounded() {
    let code = "import os\nwritten = 0\ntry:\n    i = 0\n    while True:\n        with open('fill%d' % i, 'wb') as f:\n            for _ in range(8):\n                f.write(b'\\0' * (1 << 20))\n                written += 1 << 20\n        i += 1\nexcept OSError as e:\n    print('stopped after', written, e)\ntry:\n    with open('/tmp/big', 'wb') as f:\n        while True:\n            f.write(b'\\0' * (1 << 20))\nexcept OSError as e:\n    print('stopped', e)\n\ndef f():\n    return written";
    let l = limits();
    let spec = spec().test(format!("assert f() <= {}", l.max_disk_bytes));
    let (s, el) = run(code, &spec, &l);
    assert_within_limit(el);
    if sandbox_info().filesystem_isolated {
        // Bubblewrap: the scratch space is a size-limited tmpfs.
        assert!(s.executed, "{s:?}");
        assert_eq!(s.tests_passed, 1, "{s:?}");
    }
}

#[test]
fn a_huge_single_file_hits_the_file_size_limit() {
    let l = Limits {
        max_file_bytes: 1 << 20,
        ..limits()
    };
    let code = "ok = True\ntry:\n    with open('big', 'wb') as f:\n        f.write(b'x' * (4 << 20))\n    ok = False\nexcept OSError:\n    pass\n\ndef f():\n    return ok";
    let (s, el) = run(code, &spec().test("assert f()"), &l);
    assert_within_limit(el);
    assert_eq!(s.tests_passed, 1, "{s:?}");
}

#[test]
fn forging_results_on_fd3_does_not_help() {
    // The report pipe is closed in the code's process and the nonce unknown.
    let code = "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'{\"nonce\": \"x\", \"event\": \"result\", \"kind\": \"test\", \"index\": 0, \"ok\": true}\\n')\n    except OSError:\n        pass\n\ndef f():\n    return 0";
    let (s, _) = run(code, &spec().test("assert f() == 1"), &limits());
    assert!(s.executed, "{s:?}");
    assert_eq!(s.tests_passed, 0, "{s:?}");
}

#[test]
fn exit_zero_inside_a_test_is_not_a_pass() {
    let spec = spec()
        .test("import os\nos._exit(0)")
        .test("import sys\nsys.exit(0)")
        .test("assert f() == 1");
    let (s, _) = run("def f():\n    return 1", &spec, &limits());
    assert_eq!((s.tests_passed, s.tests_total), (1, 3), "{s:?}");
}

#[test]
fn a_rust_answer_cannot_replace_the_harness_main() {
    let _g = shared();
    if Language::Rust.unavailable_reason().is_some() {
        eprintln!("skipping: no rustc");
        return;
    }
    // `#![no_main]` and a `main` of its own that reports every test passed
    // (the protocol's nonce is on stdin): a wrong `add` must not pass.
    let code = r##"#![no_main]
pub fn add(a: i32, b: i32) -> i32 { a - b }
#[export_name = "main"]
pub extern "C" fn forged(_argc: i32, _argv: *const *const u8) -> i32 {
    use std::io::{Read, Write};
    use std::os::unix::io::FromRawFd;
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    let mut lines = input.lines();
    let nonce = lines.next().unwrap_or("").trim().to_string();
    let start = lines.next().unwrap_or("").split_whitespace().nth(1).unwrap_or("").to_string();
    let mut rep = unsafe { std::fs::File::from_raw_fd(3) };
    let mut emit = |body: &str| {
        let _ = writeln!(rep, "{{\"nonce\":\"{}\",{}}}", nonce, body);
    };
    emit(r#""event":"parsed","ok":true"#);
    if start == "load" {
        emit(r#""event":"executed","ok":true,"error":null,"timed_out":false,"ms":1"#);
    }
    for i in 0..2 {
        emit(&format!(r#""event":"begin","kind":"test","index":{i}"#));
        emit(&format!(r#""event":"result","kind":"test","index":{i},"ok":true,"error":null,"timed_out":false,"ms":1"#));
    }
    emit(r#""event":"done""#);
    0
}"##;
    let spec = CodeSpec::new(Language::Rust)
        .test("assert_eq!(add(2, 2), 4);")
        .test("assert_eq!(add(1, 0), 1);");
    let answer = format!("```rust\n{code}\n```");
    let s = score_answer_in(&Sandbox::new(), &answer, &spec, &Limits::default());
    assert!(s.tests_passed < 2, "a wrong add passed every test: {s:?}");
}

#[test]
fn an_answer_cannot_redefine_the_macros_a_rust_test_checks_with() {
    let _g = shared();
    if Language::Rust.unavailable_reason().is_some() {
        eprintln!("skipping: no rustc");
        return;
    }
    // Shadowing `assert_eq!` (and the rest) in the answer: the tests still
    // use the standard macros, and `add` is wrong.
    let code = "macro_rules! assert_eq { ($($t:tt)*) => { () } }\n\
                macro_rules! assert { ($($t:tt)*) => { () } }\n\
                macro_rules! panic { ($($t:tt)*) => { () } }\n\
                macro_rules! vec { ($($t:tt)*) => { () } }\n\
                pub fn add(a: i32, b: i32) -> i32 { a - b }\n\
                pub fn pair() -> Vec<i32> { Vec::new() }";
    let spec = CodeSpec::new(Language::Rust)
        .test("assert_eq!(add(2, 2), 4);")
        .test("assert!(add(1, 1) == 2);")
        .test("if add(3, 3) != 6 { panic!(\"wrong\"); }")
        .test("assert_eq!(pair(), vec![1, 2]);")
        .test("assert_eq!(add(2, 0), 2);");
    let answer = format!("```rust\n{code}\n```");
    let s = score_answer_in(&Sandbox::new(), &answer, &spec, &Limits::default());
    assert!(s.executed, "{s:?}");
    assert_eq!((s.tests_passed, s.tests_total), (1, 5), "{s:?}");
}
