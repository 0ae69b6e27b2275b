// ---- litmus harness (protocol: src/lang/driver.rs) ----
// Compiled together with the solution. Each run (the solution's own `main`,
// if any, then each example and test) happens on its own thread with
// catch_unwind and a time budget; on a timeout the result is reported and
// the process exits (threads cannot be killed), and the host resumes a new
// process after that snippet.
// The harness lives in a module of its own, its std paths and macros
// written in full (`::std::writeln!`): the solution's items (`mod std`,
// `struct String`) are not in scope there, and its `macro_rules!` (which
// reach every module after them) do not shadow a path.

fn main() {
    __litmus_harness::main()
}

mod __litmus_harness {
    use ::std::prelude::rust_2021::*;

    pub trait __LitmusOutcome {
        fn __litmus_ok(self) -> Result<(), String>;
    }
    impl __LitmusOutcome for () {
        fn __litmus_ok(self) -> Result<(), String> {
            Ok(())
        }
    }
    impl<T, E: ::std::fmt::Debug> __LitmusOutcome for Result<T, E> {
        fn __litmus_ok(self) -> Result<(), String> {
            self.map(|_| ())
                .map_err(|e| ::std::format!("returned Err({:?})", e))
        }
    }

    static __LITMUS_PANIC: ::std::sync::Mutex<Option<String>> = ::std::sync::Mutex::new(None);

    fn __litmus_json(s: &str) -> String {
        let mut o = String::with_capacity(s.len() + 2);
        o.push('"');
        for c in s.chars().take(4000) {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                c if (c as u32) < 0x20 => o.push_str(&::std::format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }

    fn __litmus_opt(s: &Option<String>) -> String {
        match s {
            Some(s) => __litmus_json(s),
            None => "null".to_string(),
        }
    }

    /// (ok, error, timed_out, ms)
    fn __litmus_run(f: fn() -> Result<(), String>, budget: f64) -> (bool, Option<String>, bool, u64) {
        let (tx, rx) = ::std::sync::mpsc::channel();
        let t0 = ::std::time::Instant::now();
        if let Ok(mut g) = __LITMUS_PANIC.lock() {
            *g = None;
        }
        let spawned = ::std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(move || {
                let r = ::std::panic::catch_unwind(f);
                let _ = tx.send(r);
            });
        if let Err(e) = spawned {
            return (false, Some(::std::format!("cannot start a thread: {}", e)), false, 0);
        }
        let r = rx.recv_timeout(::std::time::Duration::from_secs_f64(budget.max(0.001)));
        let ms = t0.elapsed().as_millis() as u64;
        match r {
            Ok(Ok(Ok(()))) => (true, None, false, ms),
            Ok(Ok(Err(e))) => (false, Some(e), false, ms),
            Ok(Err(payload)) => {
                let msg = __LITMUS_PANIC
                    .lock()
                    .ok()
                    .and_then(|g| g.clone())
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panicked".to_string());
                (false, Some(msg), false, ms)
            }
            Err(::std::sync::mpsc::RecvTimeoutError::Timeout) => (
                false,
                Some(::std::format!("timed out after {:.2}s", budget)),
                true,
                ms,
            ),
            Err(::std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                (false, Some("the snippet thread died".to_string()), false, ms)
            }
        }
    }

    pub fn main() {
        use ::std::io::{Read, Write};
        use ::std::os::unix::io::FromRawFd;
        let mut input = String::new();
        let _ = ::std::io::stdin().read_to_string(&mut input);
        let lines: Vec<&str> = input.split('\n').collect();
        let nonce = lines.first().map(|s| s.trim()).unwrap_or("").to_string();
        let parts: Vec<&str> = lines.get(1).map(|s| s.split_whitespace().collect()).unwrap_or_default();
        let arg = |i: usize| parts.get(i).copied().unwrap_or("0");
        let start_kind = arg(1).to_string();
        let start_index: usize = arg(2).parse().unwrap_or(0);
        let phase_s: f64 = arg(3).parse().unwrap_or(10.0);
        let snippet_s: f64 = arg(4).parse().unwrap_or(10.0);
        // SAFETY: fd 3 is the report pipe set up by the sandbox.
        let mut rep = unsafe { ::std::fs::File::from_raw_fd(3) };
        let mut emit = move |body: String| {
            let _ = ::std::writeln!(rep, "{{\"nonce\":{},{}}}", __litmus_json(&nonce), body);
            let _ = rep.flush();
        };
        ::std::panic::set_hook(Box::new(|info| {
            let msg = info.to_string();
            ::std::eprintln!("{}", msg);
            if let Ok(mut g) = __LITMUS_PANIC.lock() {
                *g = Some(msg);
            }
        }));
        emit("\"event\":\"parsed\",\"ok\":true".to_string());
        if start_kind == "load" {
            let (ok, err, to, ms) = match crate::__LITMUS_USER_MAIN {
                Some(f) => __litmus_run(f, phase_s),
                None => (true, None, false, 0),
            };
            emit(::std::format!(
                "\"event\":\"executed\",\"ok\":{},\"error\":{},\"timed_out\":{},\"ms\":{}",
                ok,
                __litmus_opt(&err),
                to,
                ms
            ));
            if !ok {
                emit("\"event\":\"done\"".to_string());
                ::std::process::exit(0);
            }
        }
        let order = |k: &str| match k {
            "load" => 0,
            "example" => 1,
            _ => 2,
        };
        for (kind, table) in [("example", crate::__LITMUS_EXAMPLES), ("test", crate::__LITMUS_TESTS)] {
            if order(kind) < order(&start_kind) {
                continue;
            }
            let first = if kind == start_kind { start_index } else { 0 };
            let deadline = ::std::time::Instant::now() + ::std::time::Duration::from_secs_f64(phase_s);
            for (i, f) in table.iter().enumerate().skip(first) {
                let now = ::std::time::Instant::now();
                if now >= deadline {
                    emit(::std::format!(
                        "\"event\":\"result\",\"kind\":\"{}\",\"index\":{},\"ok\":false,\"timed_out\":true,\"ms\":0,\"error\":\"the {} phase used up its budget\"",
                        kind, i, kind
                    ));
                    continue;
                }
                let Some(f) = f else {
                    emit(::std::format!(
                        "\"event\":\"result\",\"kind\":\"{}\",\"index\":{},\"ok\":false,\"timed_out\":false,\"ms\":0,\"error\":\"does not compile\"",
                        kind, i
                    ));
                    continue;
                };
                let budget = snippet_s.min((deadline - now).as_secs_f64());
                emit(::std::format!("\"event\":\"begin\",\"kind\":\"{}\",\"index\":{}", kind, i));
                let (ok, err, to, ms) = __litmus_run(*f, budget);
                emit(::std::format!(
                    "\"event\":\"result\",\"kind\":\"{}\",\"index\":{},\"ok\":{},\"error\":{},\"timed_out\":{},\"ms\":{}",
                    kind,
                    i,
                    ok,
                    __litmus_opt(&err),
                    to,
                    ms
                ));
                if to {
                    // The snippet's thread cannot be stopped: end this process;
                    // the host resumes after this snippet.
                    ::std::process::exit(3);
                }
            }
        }
        emit("\"event\":\"done\"".to_string());
        ::std::process::exit(0);
    }
}
