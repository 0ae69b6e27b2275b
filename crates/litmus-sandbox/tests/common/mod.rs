#![allow(dead_code)]

use std::path::Path;
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
