//! How many of this run's threads are scoring generated code right now (a
//! program running in the sandbox): one CPU core each. Engines that compute
//! on the same cores read it before each step and leave those cores to the
//! scorers (litmus-llama's engine decodes with fewer threads meanwhile):
//! llama.cpp's threads meet at a barrier many times per step, so one thread
//! that loses its core to a scorer stalls all of them, and a step takes two
//! to three times as long.
//!
//! The count lives in a shared memory page, so that engine worker processes
//! (started with [`share_with`]) see the run's count, not their own.
//!
//! ```
//! use litmus_core::base::busy;
//!
//! let before = busy::scoring_now();
//! {
//!     let _scoring = busy::Scoring::start();
//!     assert_eq!(busy::scoring_now(), before + 1);
//! }
//! assert_eq!(busy::scoring_now(), before);
//! ```

use std::os::fd::RawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// Names the shared page's descriptor in an engine worker's environment.
pub const FD_ENV: &str = "LITMUS_BUSY_FD";

struct Counter {
    count: &'static AtomicU32,
    /// The shared page's descriptor (close-on-exec), when there is one.
    fd: Option<RawFd>,
}

static COUNTER: OnceLock<Counter> = OnceLock::new();

/// A page of shared memory from `fd` (`create`: a new one), holding the count.
fn map(fd: RawFd) -> Option<&'static AtomicU32> {
    // SAFETY: maps one page of a memory file this process holds; the
    // mapping is never unmapped, so the reference lives as long as the process.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        (p != libc::MAP_FAILED).then(|| &*(p as *const AtomicU32))
    }
}

#[cfg(target_os = "linux")]
fn create() -> Option<Counter> {
    // SAFETY: plain system calls on a descriptor this function owns.
    unsafe {
        let fd = libc::memfd_create(c"litmus-busy".as_ptr(), libc::MFD_CLOEXEC);
        if fd < 0 {
            return None;
        }
        if libc::ftruncate(fd, 4096) != 0 {
            libc::close(fd);
            return None;
        }
        let Some(count) = map(fd) else {
            libc::close(fd);
            return None;
        };
        Some(Counter {
            count,
            fd: Some(fd),
        })
    }
}

/// The page a worker inherited as `fd`, if `fd` is that page (a memory
/// file named as [`create`] names it); the descriptor is closed after
/// mapping (the mapping stays), so the worker's own children do not inherit it.
#[cfg(target_os = "linux")]
fn adopt(fd: RawFd) -> Option<Counter> {
    let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    if !target.to_string_lossy().starts_with("/memfd:litmus-busy") {
        return None;
    }
    let count = map(fd);
    // SAFETY: the descriptor is ours and mapped (or useless) now.
    unsafe { libc::close(fd) };
    Some(Counter {
        count: count?,
        fd: None,
    })
}

#[cfg(not(target_os = "linux"))]
fn adopt(_fd: RawFd) -> Option<Counter> {
    None
}

#[cfg(not(target_os = "linux"))]
fn create() -> Option<Counter> {
    None
}

fn counter() -> &'static Counter {
    COUNTER.get_or_init(|| {
        // An engine worker counts with the run that started it.
        let inherited = std::env::var(FD_ENV)
            .ok()
            .and_then(|v| v.parse::<RawFd>().ok())
            .and_then(adopt);
        inherited.or_else(create).unwrap_or_else(|| {
            static LOCAL: AtomicU32 = AtomicU32::new(0);
            Counter {
                count: &LOCAL,
                fd: None,
            }
        })
    })
}

/// Threads of the run scoring right now (in this process, or in the run
/// that started this engine worker).
pub fn scoring_now() -> u32 {
    counter().count.load(Ordering::Relaxed)
}

/// Counts the calling thread as scoring until dropped.
#[must_use = "the thread counts as scoring only while the guard lives"]
pub struct Scoring(());

impl Scoring {
    /// Starts counting.
    pub fn start() -> Scoring {
        counter().count.fetch_add(1, Ordering::Relaxed);
        Scoring(())
    }
}

impl Drop for Scoring {
    fn drop(&mut self) {
        counter().count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Lets a child process (an engine worker) read this run's count: it
/// inherits the shared page's descriptor, named in its environment.
pub fn share_with(cmd: &mut Command) {
    let Some(fd) = counter().fd else {
        return;
    };
    cmd.env(FD_ENV, fd.to_string());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: fcntl is async-signal-safe; it clears close-on-exec on
        // this descriptor in the child only.
        unsafe {
            cmd.pre_exec(move || {
                libc::fcntl(fd, libc::F_SETFD, 0);
                Ok(())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn a_child_sees_the_count() {
        let guard = Scoring::start();
        let n = scoring_now();
        assert!(n >= 1);
        // The child reads the page through the descriptor it inherited.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "od -An -tu4 -N4 /proc/self/fd/$LITMUS_BUSY_FD"]);
        share_with(&mut cmd);
        let out = cmd.output().unwrap();
        let seen: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        // Other tests of this process may score meanwhile.
        assert!(seen >= 1, "child saw {seen}, parent {n}");
        drop(guard);
    }
}
