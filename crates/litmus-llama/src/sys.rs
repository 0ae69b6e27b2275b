//! Machine facts: physical cores and memory (the process's peak resident
//! memory is [`litmus_core::base::util::peak_rss_bytes`]).

use std::collections::HashSet;

/// Number of physical CPU cores (distinct `(physical id, core id)` pairs in
/// `/proc/cpuinfo`), never more than the CPUs this process may use; falls back
/// to [`std::thread::available_parallelism`].
pub fn physical_cores() -> usize {
    let available = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") else {
        return available;
    };
    let mut cores = HashSet::new();
    let mut physical = String::new();
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "physical id" => physical = value.trim().to_string(),
            "core id" => {
                cores.insert((physical.clone(), value.trim().to_string()));
            }
            _ => {}
        }
    }
    if cores.is_empty() {
        available
    } else {
        cores.len().min(available)
    }
}

/// Total physical memory in bytes, when known.
pub fn total_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn facts() {
        assert!(super::physical_cores() >= 1);
        #[cfg(target_os = "linux")]
        assert!(super::total_memory_bytes().unwrap() > 0);
    }
}
