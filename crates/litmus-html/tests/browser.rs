//! The report in a real browser: headless Chromium, driven through the
//! DevTools protocol, loads the report of a 3,000-sample run with no console
//! errors, in under a second; the grid has one row per eval; a filter and
//! the drill-down work; text from samples stays text.
//!
//! Needs `chromium` (Debian's package; CI installs it). Without it the test
//! prints "skipped: chromium not found" and passes. `LITMUS_CHROMIUM` names
//! another binary.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LITMUS_CHROMIUM") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
    .find(|p| p.is_file())
}

/// The browser process; killed when dropped.
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A DevTools protocol connection to one page (a flattened target session).
struct Cdp {
    ws: WebSocket<TcpStream>,
    next: u64,
    session: Option<String>,
    /// Events received so far.
    events: Vec<Value>,
}

impl Cdp {
    fn connect(url: &str) -> Cdp {
        let addr = url
            .strip_prefix("ws://")
            .and_then(|r| r.split('/').next())
            .expect("a ws:// URL");
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let (ws, _) = tungstenite::client(url, stream).expect("websocket handshake");
        Cdp {
            ws,
            next: 0,
            session: None,
            events: Vec::new(),
        }
    }

    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next += 1;
        let mut msg = json!({"id": self.next, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        self.next
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read().expect("a DevTools message") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Binary(b) => return serde_json::from_slice(&b).unwrap(),
                _ => {}
            }
        }
    }

    /// Calls `method` and returns its result (events that arrive meanwhile
    /// are kept).
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        loop {
            let msg = self.read();
            if msg["id"].as_u64() == Some(id) {
                assert!(msg.get("error").is_none(), "{method}: {msg}");
                return msg["result"].clone();
            }
            self.events.push(msg);
        }
    }

    /// Waits for event `method`.
    fn wait_for(&mut self, method: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(i);
        }
        loop {
            let msg = self.read();
            if msg["method"] == method {
                return msg;
            }
            self.events.push(msg);
        }
    }

    /// Evaluates `expr` in the page; returns its value.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Console errors, uncaught exceptions and failed loads seen so far.
    fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e["method"].as_str()? {
                "Runtime.exceptionThrown" => Some(e["params"]["exceptionDetails"].to_string()),
                "Runtime.consoleAPICalled"
                    if matches!(e["params"]["type"].as_str(), Some("error" | "assert")) =>
                {
                    Some(e["params"]["args"].to_string())
                }
                "Log.entryAdded" if e["params"]["entry"]["level"] == "error" => {
                    Some(e["params"]["entry"].to_string())
                }
                _ => None,
            })
            .collect()
    }
}

/// Starts headless Chromium and opens a page session.
fn open(chromium: &Path, profile: &Path) -> (Browser, Cdp) {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--remote-debugging-port=0",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    let stderr = child.stderr.take().unwrap();
    let browser = Browser(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("chromium printed no DevTools URL");
    let mut cdp = Cdp::connect(&url);
    let target = cdp.call("Target.createTarget", json!({"url": "about:blank"}));
    let attached = cdp.call(
        "Target.attachToTarget",
        json!({"targetId": target["targetId"], "flatten": true}),
    );
    cdp.session = Some(attached["sessionId"].as_str().unwrap().to_string());
    for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
        cdp.call(domain, json!({}));
    }
    (browser, cdp)
}

/// Loads `file`; returns the milliseconds from navigation to the end of the
/// load event (the page's script runs before it: the grid is built).
fn load(cdp: &mut Cdp, file: &Path) -> f64 {
    let url = format!("file://{}", file.display());
    cdp.call("Page.navigate", json!({"url": url}));
    cdp.wait_for("Page.loadEventFired");
    // loadEventEnd is set just after the event's handlers return.
    let started = Instant::now();
    loop {
        let t = cdp.eval("performance.getEntriesByType('navigation')[0].loadEventEnd");
        if let Some(t) = t.as_f64().filter(|t| *t > 0.0) {
            return t;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no loadEventEnd"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn visible_rows(cdp: &mut Cdp) -> u64 {
    cdp.eval("[...document.querySelectorAll('#grid-table tbody tr')].filter(r => !r.hidden).length")
        .as_u64()
        .unwrap()
}

#[test]
fn the_report_works_in_chromium() {
    let Some(chromium) = find_chromium() else {
        println!("skipped: chromium not found");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::synthetic_run(tmp.path());
    let report = litmus_html::write_report(&dir).unwrap();
    let run = litmus_html::Run::load(&dir).unwrap();
    let (_browser, mut cdp) = open(&chromium, &tmp.path().join("profile"));

    let ms = load(&mut cdp, &report);
    println!(
        "report of {} samples ({:.2} MB) loaded and rendered in {ms:.0} ms",
        run.records.len(),
        std::fs::metadata(&report).unwrap().len() as f64 / 1e6
    );
    assert!(ms < 1000.0, "rendering took {ms:.0} ms");
    assert_eq!(cdp.errors(), Vec::<String>::new());

    // One row per eval, one column per configuration.
    let evals: std::collections::BTreeSet<&str> =
        run.records.iter().map(|r| r.eval.as_str()).collect();
    assert_eq!(evals.len(), common::EVALS);
    let rows = cdp.eval("document.querySelectorAll('#grid-table tbody tr').length");
    assert_eq!(rows.as_u64(), Some(evals.len() as u64));
    let names = cdp.eval("[...document.querySelectorAll('#grid-table tbody th.eval')].map(t => t.firstChild.textContent)");
    let names: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, evals.iter().copied().collect::<Vec<_>>());
    let cols = cdp.eval("document.querySelectorAll('#grid-table thead th').length - 1");
    assert_eq!(cols.as_u64(), Some(12));
    // The plots are there.
    let plots = cdp.eval("document.querySelectorAll('svg.plot').length");
    assert_eq!(
        plots.as_u64(),
        Some(6),
        "three bar charts, scatter, heat map, distribution"
    );

    // Filters: failures, errors, a tag, a search, and none again.
    let failing = evals
        .iter()
        .filter(|e| {
            run.records
                .iter()
                .any(|r| &r.eval == *e && !r.score.as_ref().is_some_and(|s| s.passed))
        })
        .count() as u64;
    assert!(failing > 0 && failing < evals.len() as u64);
    cdp.eval("document.getElementById('f-fail').click()");
    assert_eq!(visible_rows(&mut cdp), failing);
    assert_eq!(
        cdp.eval("document.getElementById('grid-count').textContent"),
        json!(format!("{failing} of {} evals", evals.len()))
    );
    cdp.eval("document.getElementById('f-fail').click()");
    cdp.eval("document.getElementById('f-err').click()");
    assert_eq!(visible_rows(&mut cdp), 1, "one eval has an errored sample");
    cdp.eval("document.getElementById('f-err').click()");
    cdp.eval("const s = document.getElementById('f-tag'); s.value = 'code'; s.dispatchEvent(new Event('change'))");
    let code = evals.iter().filter(|e| e.starts_with("python::")).count() as u64;
    assert_eq!(visible_rows(&mut cdp), code);
    cdp.eval("const s2 = document.getElementById('f-tag'); s2.value = ''; s2.dispatchEvent(new Event('change'))");
    cdp.eval("const q = document.getElementById('f-q'); q.value = 'task_003'; q.dispatchEvent(new Event('input'))");
    assert_eq!(visible_rows(&mut cdp), 1);
    cdp.eval("const q2 = document.getElementById('f-q'); q2.value = ''; q2.dispatchEvent(new Event('input'))");
    assert_eq!(visible_rows(&mut cdp), evals.len() as u64);

    // Drill-down: a cell opens its samples.
    assert_eq!(
        cdp.eval("document.getElementById('drill').hidden"),
        json!(true)
    );
    cdp.eval(
        "document.querySelector('#grid-table td.cell[data-row=\"0\"][data-col=\"0\"]').click()",
    );
    assert_eq!(
        cdp.eval("document.getElementById('drill').hidden"),
        json!(false)
    );
    let first = evals.iter().next().unwrap();
    assert_eq!(
        cdp.eval("document.querySelector('#drill-body h2').textContent"),
        json!(first)
    );
    assert_eq!(
        cdp.eval("document.querySelectorAll('#drill-body .sample').length"),
        json!(2)
    );
    let shown = cdp.eval("document.getElementById('drill-body').textContent");
    let shown = shown.as_str().unwrap();
    let sample = run
        .records
        .iter()
        .find(|r| {
            r.eval == *first
                && r.response
                    .as_deref()
                    .is_some_and(|x| shown.contains(x.trim()))
        })
        .expect("the drill-down shows a sample's response");
    assert!(
        shown.contains("extracted code"),
        "a code eval shows its program"
    );
    assert!(shown.contains("score parts"));
    assert!(shown.contains(&sample.usage.completion_tokens.unwrap().to_string()));
    // Escape closes it; an eval's name opens all its configurations.
    cdp.eval("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))");
    assert_eq!(
        cdp.eval("document.getElementById('drill').hidden"),
        json!(true)
    );
    cdp.eval("document.querySelector('#grid-table tbody th.eval').click()");
    assert_eq!(
        cdp.eval("document.querySelectorAll('#drill-body .sample').length"),
        json!(24)
    );

    // Sample text that looks like markup stayed text.
    cdp.eval("const q3 = document.getElementById('f-q'); q3.value = 'window.pwned'; q3.dispatchEvent(new Event('input'))");
    assert_eq!(visible_rows(&mut cdp), 1);
    assert_eq!(cdp.eval("typeof window.pwned"), json!("undefined"));
    assert_eq!(cdp.errors(), Vec::<String>::new());
}

#[test]
fn the_comparison_loads_in_chromium() {
    let Some(chromium) = find_chromium() else {
        println!("skipped: chromium not found");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::synthetic_run(tmp.path());
    let a = litmus_html::Run::load(&dir).unwrap();
    let mut b = a.clone();
    b.summary.run_id = "other".into();
    for r in &mut b.records {
        if let Some(s) = r.score.as_mut().filter(|_| r.eval.ends_with('1')) {
            s.value = 100.0;
            s.passed = true;
        }
    }
    let file = tmp.path().join("compare.html");
    let html = litmus_html::render_comparison(&a, &b, &Default::default());
    std::fs::write(&file, &html).unwrap();
    let (_browser, mut cdp) = open(&chromium, &tmp.path().join("profile"));
    let ms = load(&mut cdp, &file);
    println!(
        "comparison of 2 × 3,000 samples ({:.2} MB) rendered in {ms:.0} ms",
        html.len() as f64 / 1e6
    );
    assert_eq!(cdp.errors(), Vec::<String>::new());
    // Both runs side by side: 12 pairs of columns.
    assert_eq!(
        cdp.eval("document.querySelectorAll('#grid-table thead th.run-A').length"),
        json!(12)
    );
    assert_eq!(
        cdp.eval("document.querySelectorAll('#grid-table thead th.run-B').length"),
        json!(12)
    );
    assert_eq!(
        cdp.eval("document.querySelectorAll('#compare .overview tbody tr').length"),
        json!(12)
    );
}
