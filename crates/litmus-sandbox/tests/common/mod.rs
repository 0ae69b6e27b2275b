#![allow(dead_code)]

use std::path::{Path, PathBuf};
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

/// Every process but this one: its pid, its `/proc` directory, and whether
/// it is a zombie (dead, waiting to be reaped).
fn processes() -> Vec<(i32, PathBuf, bool)> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'));
            (pid != me).then(|| (pid, e.path(), zombie))
        })
        .collect()
}

/// Live processes whose command line or comm contains `marker` (zombies are
/// dead: they do not count as survivors).
pub fn processes_with(marker: &str) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for (pid, dir, zombie) in processes() {
        if zombie {
            continue;
        }
        let cmd = std::fs::read(dir.join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if cmd.contains(marker) || comm.contains(&marker[..marker.len().min(15)]) {
            found.push((pid, format!("{} [{}]", cmd.trim(), comm.trim())));
        }
    }
    found
}

/// Zombies whose real uid is `min_uid` or above (the sandbox's dedicated
/// uids start at 2,000,000), as `"PID uid UID"`.
pub fn zombies_of_uids_from(min_uid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for (pid, dir, _) in processes().into_iter().filter(|p| p.2) {
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok());
        if let Some(uid) = uid.filter(|&u| u >= min_uid) {
            found.push(format!("{pid} uid {uid}"));
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
