//! Machine facts: physical cores and memory (the process's peak resident
//! memory is [`litmus_core::base::util::peak_rss_bytes`]).

use std::path::Path;

/// Number of physical CPU cores this process may use (its CPUs grouped by
/// the core they belong to), never more than [`std::thread::available_parallelism`]
/// (which also honours a cgroup CPU quota), to which it falls back.
pub fn physical_cores() -> usize {
    let available = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    match core_cpus().len() {
        0 => available,
        n => n.min(available),
    }
}

/// The logical CPUs this process may use, grouped by physical core (SMT
/// siblings together), cores in order of their first CPU; from
/// `/proc/cpuinfo` and the process's affinity mask. Empty when unknown.
pub fn core_cpus() -> Vec<Vec<u32>> {
    let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") else {
        return Vec::new();
    };
    core_cpus_of(&cpuinfo, &allowed_cpus())
}

fn core_cpus_of(cpuinfo: &str, allowed: &[u32]) -> Vec<Vec<u32>> {
    let mut cores: Vec<((String, String), Vec<u32>)> = Vec::new();
    let (mut cpu, mut physical) = (None::<u32>, String::new());
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key.trim() {
            "processor" => cpu = value.trim().parse().ok(),
            "physical id" => physical = value.trim().to_string(),
            "core id" => {
                let Some(c) = cpu.filter(|c| allowed.is_empty() || allowed.contains(c)) else {
                    continue;
                };
                let key = (physical.clone(), value.trim().to_string());
                match cores.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, cpus)) => cpus.push(c),
                    None => cores.push((key, vec![c])),
                }
            }
            _ => {}
        }
    }
    cores.into_iter().map(|(_, cpus)| cpus).collect()
}

/// The CPUs this process may run on (empty when they cannot be read).
fn allowed_cpus() -> Vec<u32> {
    // SAFETY: `set` is a plain bit set that sched_getaffinity fills in.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .map(|c| c as u32)
            .collect()
    }
}

/// Pins the calling thread, and the threads it starts from now on (llama.cpp's
/// OpenMP team among them), to `cpus`.
pub(crate) fn pin_this_thread(cpus: &[u32]) -> Result<(), String> {
    // SAFETY: `set` is a plain bit set; sched_setaffinity(0) applies to the
    // calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            if c as usize >= libc::CPU_SETSIZE as usize {
                return Err(format!("CPU {c} is out of range"));
            }
            libc::CPU_SET(c as usize, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "pinning to CPUs {cpus:?}: {} (this process may use {:?})",
                std::io::Error::last_os_error(),
                allowed_cpus()
            ));
        }
    }
    Ok(())
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

/// Bytes free to an unprivileged writer on the filesystem holding `path`.
pub(crate) fn free_bytes(path: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is NUL-terminated; statvfs fills `st` when it returns 0.
    if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialized by the successful call above.
    let st = unsafe { st.assume_init() };
    // Both fields are `c_ulong` (u64 here, u32 on 32-bit targets).
    #[allow(clippy::unnecessary_cast)]
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn facts() {
        assert!(super::physical_cores() >= 1);
        #[cfg(target_os = "linux")]
        assert!(super::total_memory_bytes().unwrap() > 0);
        #[cfg(target_os = "linux")]
        assert!(super::free_bytes(&std::env::temp_dir()).unwrap() > 0);
        assert_eq!(
            super::free_bytes(std::path::Path::new("/no/such/dir")),
            None
        );
        #[cfg(target_os = "linux")]
        assert_eq!(
            super::core_cpus().iter().map(Vec::len).sum::<usize>(),
            super::allowed_cpus().len()
        );
    }

    #[test]
    fn siblings_share_a_core() {
        // Two sockets of two cores with two threads each; CPU 7 not allowed.
        let mut info = String::new();
        for (cpu, phys, core) in [
            (0, 0, 0),
            (1, 0, 1),
            (2, 1, 0),
            (3, 1, 1),
            (4, 0, 0),
            (5, 0, 1),
            (6, 1, 0),
            (7, 1, 1),
        ] {
            info += &format!("processor\t: {cpu}\nphysical id\t: {phys}\ncore id\t\t: {core}\n\n");
        }
        let allowed: Vec<u32> = (0..7).collect();
        assert_eq!(
            super::core_cpus_of(&info, &allowed),
            vec![vec![0, 4], vec![1, 5], vec![2, 6], vec![3]]
        );
    }
}
