#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A unique marker for this test run.
pub fn marker(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("lx{tag}{}{nanos:x}", std::process::id())
}

/// Processes whose command line or comm contains `marker`.
pub fn processes_with(marker: &str) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        // Zombies are dead: only live processes count as survivors.
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = state
            .rsplit(')')
            .next()
            .map(|rest| rest.trim_start().starts_with('Z'))
            .unwrap_or(false);
        if zombie {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if cmd.contains(marker) || comm.contains(&marker[..marker.len().min(15)]) {
            found.push((pid, format!("{} [{}]", cmd.trim(), comm.trim())));
        }
    }
    found
}

/// Watches, from the host, how many processes carry a marker while a
/// sandboxed program runs: a test of cleanup is only meaningful if the
/// processes it expects gone were there.
pub struct Watch {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicUsize>,
    thread: JoinHandle<()>,
}

impl Watch {
    /// Starts polling `/proc` for `marker` every 20 ms.
    pub fn start(marker: &str) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, peak, m) = (stop.clone(), peak.clone(), marker.to_string());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(processes_with(&m).len(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Watch { stop, peak, thread }
    }

    /// Stops watching; the most marked processes seen at once.
    pub fn peak(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the watcher does not panic");
        self.peak.load(Ordering::Relaxed)
    }
}

/// Assert that no process carrying `marker` survives (allowing the kernel a
/// moment to finish delivering SIGKILLs).
pub fn assert_no_survivors(marker: &str) {
    let t0 = Instant::now();
    loop {
        let left = processes_with(marker);
        if left.is_empty() {
            return;
        }
        if t0.elapsed() > Duration::from_millis(500) {
            panic!("stray processes survived: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn assert_absent(p: &Path) {
    assert!(
        !p.exists(),
        "{} was written from inside the sandbox",
        p.display()
    );
}
