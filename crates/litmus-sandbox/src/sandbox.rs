//! Running untrusted programs.
//!
//! Every run gets a fresh [`Workspace`] (a temporary directory), a scrubbed
//! environment (`env_clear` plus a minimal `PATH`/`HOME`/`LANG`, so API keys
//! never reach the code), a wall-time limit (the whole process group and
//! namespace is killed when it expires), rlimits set in `pre_exec` (address
//! space, CPU time, processes, file size, no core dumps) and capped output
//! capture (stdout, stderr and an optional report pipe on fd 3 are read
//! incrementally; bytes beyond the cap are dropped, so gigabytes of output
//! cannot fill memory).
//!
//! # Bubblewrap (preferred)
//!
//! When `bwrap` works, the program runs with
//! `--unshare-ipc --unshare-pid --unshare-net --unshare-uts` (host name
//! `sandbox`) `--die-with-parent --new-session`, a read-only view of `/usr`, `/etc` (and `/bin`, `/lib*`
//! as on the host), read-only binds of the interpreter/toolchain directories
//! a language needs, a fresh `/proc` and minimal `/dev`. The only writable
//! places are two size-limited tmpfs mounts (`/tmp` and the working
//! directory [`SANDBOX_HOME`], `Limits::max_disk_bytes` each) and the
//! workspace sub-directories a command asks for explicitly
//! ([`SandboxCommand::writable_dirs`], used for compiler output). The
//! workspace's files are bound read-only into the working directory.
//!
//! *As root* (as on the development machine) bubblewrap runs privileged
//! without a user namespace and the program is started through `setpriv` as
//! a dedicated unprivileged uid (one per concurrent run, see
//! [`SandboxInfo::dedicated_uid`]) with no capabilities, no supplementary
//! groups and `no_new_privs`. This matters because `RLIMIT_NPROC` is not
//! enforced for uid 0 (also not for uid 0 mapped to another id in a user
//! namespace): with a real unprivileged uid the process limit holds, host
//! files cannot be written even through a mistake in the bind set, and after
//! the run every process of that uid is killed (a `/proc` scan) in addition
//! to the PID-namespace teardown.
//!
//! *As a normal user* bubblewrap uses a user namespace (`--unshare-user`)
//! and the process limit is applied inside it with `prlimit --nproc`, where
//! it counts only the sandbox's processes.
//!
//! # Fallback (weaker, warned about once)
//!
//! Without a usable bubblewrap the program runs directly in the workspace
//! directory with `setsid`, the same rlimits and scrubbed environment, a new
//! network/IPC namespace where the kernel permits it (always as root, with
//! an unprivileged user namespace otherwise), and as root a dedicated
//! unprivileged uid. It does **not** provide a private filesystem view:
//! world-writable host paths such as `/tmp` stay writable, files readable by
//! the uid stay readable, scratch space is bounded only per file
//! (`RLIMIT_FSIZE`), and without root no dedicated uid exists, so other
//! processes of the same user are visible. Set `LITMUS_SANDBOX=fallback` to
//! force it (for testing).

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wait_timeout::ChildExt;

use crate::util::{lossy, which};
use crate::Limits;

/// Working directory (and `HOME`) of sandboxed code under bubblewrap.
pub const SANDBOX_HOME: &str = "/home/sandbox";

/// Cap of the report pipe (fd 3), independent of `Limits::max_output_bytes`.
pub const REPORT_CAP: usize = 4 << 20;

/// First uid handed out to sandboxed code when running as root.
const UID_BASE: u32 = 2_000_000;
/// Concurrent runs per host process that get distinct uids.
const UID_SLOTS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxKind {
    Bubblewrap,
    Fallback,
}

impl std::fmt::Display for SandboxKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SandboxKind::Bubblewrap => "bubblewrap",
            SandboxKind::Fallback => "fallback",
        })
    }
}

/// What the default sandbox provides on this machine (detected once).
#[derive(Debug, Clone, Serialize)]
pub struct SandboxInfo {
    pub kind: SandboxKind,
    /// Set when the sandbox is weaker than the bubblewrap setup documented in
    /// this module; printed once to stderr when first detected.
    pub warning: Option<String>,
    pub bwrap: Option<PathBuf>,
    pub running_as_root: bool,
    /// Code runs as a dedicated unprivileged uid (host is root).
    pub dedicated_uid: bool,
    /// Code cannot open network connections (own network namespace).
    pub network_isolated: bool,
    /// Code sees a private, read-only filesystem except its scratch space.
    pub filesystem_isolated: bool,
    /// Code runs in its own PID namespace (torn down with it).
    pub pid_namespace: bool,
    /// Code can modify host files outside its workspace that its uid may
    /// write (false under bubblewrap, and for the fallback where a
    /// read-only mount namespace is permitted).
    pub host_writable: bool,
    /// `Limits::max_processes` is enforced by the kernel.
    pub process_limit_enforced: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid sandbox file path {0:?} (must be relative, without `..`)")]
    InvalidPath(String),
    #[error("bubblewrap is not usable here: {0}")]
    BubblewrapUnavailable(String),
    #[error("i/o error while setting up the sandbox: {0}")]
    Io(#[from] io::Error),
    #[error("failed to start the sandboxed process: {0}")]
    Spawn(io::Error),
    #[error(
        "{0} is not reachable by the unprivileged sandbox uid (a parent directory is not \
         world-searchable); the fallback sandbox cannot run it (install it system-wide or point \
         LITMUS_PYTHON/LITMUS_NODE/... at a world-readable copy)"
    )]
    NotAccessible(PathBuf),
}

/// A file placed into the workspace before a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxFile {
    /// Relative path inside the workspace (no `..`, not absolute).
    pub path: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

impl SandboxFile {
    pub fn new(path: impl Into<String>, contents: impl Into<Vec<u8>>) -> Self {
        SandboxFile {
            path: path.into(),
            contents: contents.into(),
            executable: false,
        }
    }

    pub fn executable(mut self) -> Self {
        self.executable = true;
        self
    }
}

/// A fresh temporary directory holding the input files of one or more runs
/// (e.g. compile, then run). Removed when dropped.
#[derive(Debug)]
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace for the default sandbox (see [`Workspace::for_kind`]).
    pub fn new() -> Result<Self, SandboxError> {
        Workspace::for_kind(sandbox_info().kind)
    }

    /// A workspace for a sandbox of `kind`. Under bubblewrap the code only
    /// sees read-only binds of it (plus explicit writable dirs), so it lives
    /// in RAM (`/dev/shm`) when possible, which is cheaper than a disk
    /// filesystem; the fallback's code writes its scratch files here, so it
    /// stays in the regular temporary directory. `LITMUS_SANDBOX_TMPDIR`
    /// overrides both.
    pub fn for_kind(kind: SandboxKind) -> Result<Self, SandboxError> {
        let base = match std::env::var_os("LITMUS_SANDBOX_TMPDIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ if kind == SandboxKind::Bubblewrap && shm_usable() => PathBuf::from("/dev/shm"),
            _ => std::env::temp_dir(),
        };
        static SWEPT: OnceLock<()> = OnceLock::new();
        SWEPT.get_or_init(|| sweep_stale_workspaces(&base));
        // The owner's pid in the name: a workspace whose process was
        // killed before it could remove it is found and removed later.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{WORKSPACE_PREFIX}{}-", std::process::id()))
            .tempdir_in(base)?;
        Ok(Workspace { dir })
    }

    pub fn with_files(files: &[SandboxFile]) -> Result<Self, SandboxError> {
        let ws = Workspace::new()?;
        for f in files {
            ws.write(f)?;
        }
        Ok(ws)
    }

    /// Write (or overwrite) a file in the workspace.
    pub fn write(&self, file: &SandboxFile) -> Result<(), SandboxError> {
        let rel = checked_relative(&file.path)?;
        let full = self.dir.path().join(rel);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, &file.contents)?;
        let mode = if file.executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode))?;
        Ok(())
    }

    /// The directory on the host.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the workspace appears to code run by a sandbox of `kind`.
    pub fn inside_path(&self, kind: SandboxKind) -> PathBuf {
        match kind {
            SandboxKind::Bubblewrap => PathBuf::from(SANDBOX_HOME),
            SandboxKind::Fallback => self.dir.path().to_path_buf(),
        }
    }
}

/// How workspace directories are named: this, the owner's pid, `-`, a
/// random suffix.
const WORKSPACE_PREFIX: &str = "litmus-sandbox-";

/// Removes the workspaces in `base` that a killed process left behind (in
/// `/dev/shm` they hold memory until the machine restarts): those whose
/// owner is gone and that were last changed over ten minutes ago, and those
/// of older litmus versions (no pid in the name) over an hour old.
fn sweep_stale_workspaces(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(WORKSPACE_PREFIX)) else {
            continue;
        };
        let age = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .unwrap_or_default();
        let owner = rest
            .split_once('-')
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        let stale = match owner {
            Some(pid) => {
                pid != std::process::id()
                    && !Path::new("/proc").join(pid.to_string()).exists()
                    && age > Duration::from_secs(600)
            }
            None if rest.starts_with("probe-") => false,
            // A workspace lasts one scoring run (minutes at most).
            None => age > Duration::from_secs(3600),
        };
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn shm_usable() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("litmus-sandbox-probe-")
            .tempdir_in("/dev/shm")
            .is_ok()
    })
}

fn checked_relative(p: &str) -> Result<&Path, SandboxError> {
    let path = Path::new(p);
    let ok = !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if ok {
        Ok(path)
    } else {
        Err(SandboxError::InvalidPath(p.to_string()))
    }
}

/// A program to run in the sandbox. The program must be an absolute host
/// path visible inside the sandbox (under `/usr`, or under one of
/// `ro_binds`); relative arguments refer to the workspace (the working
/// directory).
#[derive(Debug, Clone, Default)]
pub struct SandboxCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Written to the program's stdin, which is then closed.
    pub stdin: Vec<u8>,
    /// Extra environment on top of the minimal one.
    pub env: Vec<(String, String)>,
    /// Host directories made visible read-only at the same path.
    pub ro_binds: Vec<PathBuf>,
    /// Workspace sub-directories the program may write to (created if
    /// missing). Everything else in the workspace is read-only under
    /// bubblewrap.
    pub writable_dirs: Vec<String>,
    /// Give the program a pipe on fd 3 whose content is returned in
    /// [`RunOutput::report`] (capped at [`REPORT_CAP`]).
    pub report_fd: bool,
    /// Wall-time limit; `Limits::timeout` when `None`.
    pub timeout: Option<Duration>,
}

impl SandboxCommand {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        SandboxCommand {
            program: program.into(),
            ..Default::default()
        }
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = data.into();
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn ro_bind(mut self, p: impl Into<PathBuf>) -> Self {
        self.ro_binds.push(p.into());
        self
    }

    pub fn writable_dir(mut self, d: impl Into<String>) -> Self {
        self.writable_dirs.push(d.into());
        self
    }

    pub fn report_fd(mut self, on: bool) -> Self {
        self.report_fd = on;
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
}

/// What a sandboxed run produced.
#[derive(Debug, Clone, Default)]
pub struct RunOutput {
    /// Exit code of the program (for bubblewrap, as reported by it).
    pub exit_code: Option<i32>,
    /// Signal that ended the top-level process, if any.
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes the program wrote to fd 3 (when requested).
    pub report: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub report_truncated: bool,
    /// The wall-time limit expired and everything was killed.
    pub timed_out: bool,
    pub duration: Duration,
    pub kind: Option<SandboxKind>,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        !self.timed_out && self.exit_code == Some(0)
    }

    pub fn stdout_str(&self) -> String {
        lossy(&self.stdout)
    }

    pub fn stderr_str(&self) -> String {
        lossy(&self.stderr)
    }

    /// A short human description of how the process ended.
    pub fn describe_end(&self) -> String {
        if self.timed_out {
            format!("timed out after {:.1}s", self.duration.as_secs_f64())
        } else if let Some(sig) = self.signal {
            format!("killed by signal {}", signal_name(sig))
        } else {
            match self.exit_code {
                Some(c) => format!("exited with status {c}"),
                None => "ended abnormally".to_string(),
            }
        }
    }
}

pub(crate) fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGXCPU => "SIGXCPU (CPU time limit)",
        libc::SIGXFSZ => "SIGXFSZ (file size limit)",
        libc::SIGTERM => "SIGTERM",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        _ => return format!("{sig}"),
    };
    name.to_string()
}

// ---------------------------------------------------------------------------
// Host environment and detection
// ---------------------------------------------------------------------------

/// Host facts needed to build commands (no probing).
#[derive(Debug)]
struct HostEnv {
    root: bool,
    bwrap: Option<PathBuf>,
    setpriv: Option<PathBuf>,
    prlimit: Option<PathBuf>,
    true_bin: Option<PathBuf>,
    /// `/bin`, `/lib`, ...: how to reproduce them inside bubblewrap.
    top_level: Vec<(PathBuf, TopLevel)>,
}

#[derive(Debug)]
enum TopLevel {
    Symlink(PathBuf),
    Dir,
}

fn host_env() -> &'static HostEnv {
    static ENV: OnceLock<HostEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let find = |names: &[&str]| {
            names
                .iter()
                .map(PathBuf::from)
                .find(|p| crate::util::is_executable(p))
        };
        let mut top_level = Vec::new();
        for d in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            let p = PathBuf::from(d);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(&p) {
                        top_level.push((p, TopLevel::Symlink(target)));
                    }
                }
                Ok(m) if m.is_dir() => top_level.push((p, TopLevel::Dir)),
                _ => {}
            }
        }
        HostEnv {
            root,
            bwrap: which("bwrap"),
            setpriv: find(&["/usr/bin/setpriv", "/bin/setpriv"]),
            prlimit: find(&["/usr/bin/prlimit", "/bin/prlimit"]),
            true_bin: find(&["/usr/bin/true", "/bin/true"]),
            top_level,
        }
    })
}

/// How the default sandbox works on this machine. Detected (and, when weaker
/// than bubblewrap, warned about on stderr) once per process.
pub fn sandbox_info() -> &'static SandboxInfo {
    static INFO: OnceLock<SandboxInfo> = OnceLock::new();
    INFO.get_or_init(|| {
        let info = detect();
        if let Some(w) = &info.warning {
            eprintln!("litmus-sandbox: warning: {w}");
        }
        info
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootMode {
    /// Privileged bubblewrap, program started via setpriv as a dedicated uid.
    Setpriv,
    /// bubblewrap with a user namespace (non-root host, or root without setpriv).
    Userns,
}

fn bwrap_mode() -> RootMode {
    let env = host_env();
    if env.root && env.setpriv.is_some() {
        RootMode::Setpriv
    } else {
        RootMode::Userns
    }
}

/// What the fallback can use here, probed once: namespaces (network, IPC,
/// mount) and a read-only view of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FallbackIsolation {
    None,
    Namespaces,
    ReadOnlyHost,
}

fn fallback_isolation() -> FallbackIsolation {
    static ISO: OnceLock<FallbackIsolation> = OnceLock::new();
    *ISO.get_or_init(|| {
        let Some(t) = host_env().true_bin.clone() else {
            return FallbackIsolation::None;
        };
        for level in [
            FallbackIsolation::ReadOnlyHost,
            FallbackIsolation::Namespaces,
        ] {
            let sb = Sandbox {
                kind: SandboxKind::Fallback,
                probe: Some(level),
            };
            let ok = matches!(
                sb.run(
                    &SandboxCommand::new(&t).timeout(Duration::from_secs(10)),
                    &[],
                    &Limits::default()
                ),
                Ok(out) if out.exit_code == Some(0)
            );
            if ok {
                return level;
            }
        }
        FallbackIsolation::None
    })
}

fn detect() -> SandboxInfo {
    let env = host_env();
    let forced = std::env::var("LITMUS_SANDBOX")
        .map(|v| v.eq_ignore_ascii_case("fallback"))
        .unwrap_or(false);
    let why_not: String = if forced {
        "LITMUS_SANDBOX=fallback is set".into()
    } else if env.bwrap.is_none() {
        "bubblewrap (bwrap) is not installed".into()
    } else {
        match probe_bwrap() {
            Ok(()) => {
                let mode = bwrap_mode();
                let warning = (mode == RootMode::Userns && env.root).then(|| {
                    "running as root without setpriv: sandboxed code runs as uid 0 mapped \
                     into a user namespace, where RLIMIT_NPROC is not enforced (the PID \
                     namespace still bounds the lifetime of its processes)"
                        .to_string()
                });
                return SandboxInfo {
                    kind: SandboxKind::Bubblewrap,
                    warning,
                    bwrap: env.bwrap.clone(),
                    running_as_root: env.root,
                    dedicated_uid: mode == RootMode::Setpriv,
                    network_isolated: true,
                    filesystem_isolated: true,
                    pid_namespace: true,
                    host_writable: false,
                    process_limit_enforced: match mode {
                        RootMode::Setpriv => true,
                        RootMode::Userns => !env.root && env.prlimit.is_some(),
                    },
                };
            }
            Err(e) => format!("bubblewrap failed a test run: {e}"),
        }
    };
    fallback_info(&why_not)
}

/// Properties of the fallback sandbox; `why` says why it is used.
fn fallback_info(why: &str) -> SandboxInfo {
    let env = host_env();
    let iso = fallback_isolation();
    let net = iso != FallbackIsolation::None;
    let ro = iso == FallbackIsolation::ReadOnlyHost;
    let mut missing = vec![if ro {
        "no private filesystem view (host files stay readable; the host is mounted read-only \
         except the workspace) and no disk quota beyond RLIMIT_FSIZE per file"
    } else {
        "no private filesystem view (host paths writable by the uid, such as /tmp, stay \
         writable) and no disk quota beyond RLIMIT_FSIZE per file"
    }];
    if !net {
        missing.push("no network isolation (namespaces not permitted)");
    }
    if !env.root {
        missing.push("no dedicated uid (other processes of this user are visible)");
        if !net {
            missing.push("no process-count limit");
        }
    }
    SandboxInfo {
        kind: SandboxKind::Fallback,
        warning: Some(format!(
            "using the weaker fallback sandbox ({why}): setsid + rlimits + scrubbed \
             environment + timeouts; {}",
            missing.join("; ")
        )),
        bwrap: env.bwrap.clone(),
        running_as_root: env.root,
        dedicated_uid: env.root,
        network_isolated: net,
        filesystem_isolated: false,
        pid_namespace: false,
        host_writable: !ro,
        process_limit_enforced: env.root || net,
    }
}

fn probe_bwrap() -> Result<(), String> {
    let t = host_env()
        .true_bin
        .clone()
        .ok_or_else(|| "no `true` binary found".to_string())?;
    let sb = Sandbox {
        kind: SandboxKind::Bubblewrap,
        probe: None,
    };
    let out = sb
        .run(
            &SandboxCommand::new(t).timeout(Duration::from_secs(20)),
            &[],
            &Limits::default(),
        )
        .map_err(|e| e.to_string())?;
    if out.exit_code == Some(0) {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            out.describe_end(),
            out.stderr_str().trim()
        ))
    }
}

// ---------------------------------------------------------------------------
// Dedicated uids (root only)
// ---------------------------------------------------------------------------

struct UidLease {
    slot: usize,
    uid: u32,
}

/// Which uid slots are in use, and where the search for a free one starts.
struct UidSlots {
    used: Vec<bool>,
    next: usize,
}

fn uid_slots() -> &'static Mutex<UidSlots> {
    static SLOTS: OnceLock<Mutex<UidSlots>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        Mutex::new(UidSlots {
            used: vec![false; UID_SLOTS],
            next: 0,
        })
    })
}

impl UidLease {
    fn acquire() -> UidLease {
        let mut slots = uid_slots().lock().unwrap_or_else(|e| e.into_inner());
        // Distinct host processes use distinct ranges (by pid), so parallel
        // test binaries rarely share a uid.
        let base = UID_BASE + (std::process::id() % 2000) * UID_SLOTS as u32;
        // Round robin: a uid is handed out again only after every other
        // slot was, so the zombies of its last run (which count against
        // RLIMIT_NPROC until whoever inherited them reaps them) are long
        // gone by then.
        let start = slots.next;
        let slot = match (0..UID_SLOTS)
            .map(|i| (start + i) % UID_SLOTS)
            .find(|&s| !slots.used[s])
        {
            Some(s) => {
                slots.used[s] = true;
                slots.next = (s + 1) % UID_SLOTS;
                s
            }
            // More concurrent runs than slots: share the last one (only the
            // process-count budget is shared).
            None => UID_SLOTS - 1,
        };
        UidLease {
            slot,
            uid: base + slot as u32,
        }
    }
}

impl Drop for UidLease {
    fn drop(&mut self) {
        let mut slots = uid_slots().lock().unwrap_or_else(|e| e.into_inner());
        slots.used[self.slot] = false;
    }
}

/// SIGKILL every live process whose real uid is `uid` (until none is left).
/// Zombies are skipped: they are dead and only wait to be reaped.
fn kill_uid_processes(uid: u32) -> usize {
    let uid_s = uid.to_string();
    let mut killed = 0;
    for round in 0..50 {
        let mut found = 0;
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return killed;
        };
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            // The real uid from status (robust against non-dumpable
            // processes, whose /proc directory is owned by root).
            let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
                continue;
            };
            let field = |key: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(key))
                    .map(|l| l[key.len()..].split_whitespace().collect::<Vec<_>>())
                    .unwrap_or_default()
            };
            let dead = matches!(field("State:").first(), Some(&"Z") | Some(&"X"));
            if !dead && field("Uid:").first() == Some(&uid_s.as_str()) {
                // SAFETY: plain syscall; the pid belongs to a sandbox uid.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                found += 1;
            }
        }
        killed += found;
        if found == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(if round < 5 { 1 } else { 10 }));
    }
    killed
}

// ---------------------------------------------------------------------------
// Child setup (runs between fork and exec: async-signal-safe syscalls only)
// ---------------------------------------------------------------------------

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type RlimitResource = libc::c_int;

#[derive(Debug, Clone, Copy)]
struct ChildSetup {
    report_fd: RawFd,
    info_fd: RawFd,
    memory: u64,
    cpu: u64,
    fsize: u64,
    nproc: Option<u64>,
    unshare_flags: libc::c_int,
    require_unshare: bool,
    /// Fallback: make the host read-only except the workspace, whose path
    /// (a NUL-terminated string kept alive by the parent) is at this address.
    ro_host_path: usize,
    /// Set RLIMIT_NPROC only if unshare succeeded (non-root fallback).
    nproc_needs_unshare: bool,
    drop_to_uid: Option<u32>,
    subreaper: bool,
}

/// The system calls no sandboxed program may make: `ptrace`,
/// `process_vm_readv`/`process_vm_writev` and `pidfd_getfd` (reading or
/// driving another process of the same uid — the driver, whose report pipe
/// and nonce a debugger in the host's `/usr` would otherwise reach), and any
/// call of another ABI (i386, x32), where their numbers differ. They fail
/// with `EPERM`; everything else is allowed. A classic BPF program for
/// `PR_SET_SECCOMP` (`seccomp_data`: `nr` at offset 0, `arch` at 4).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
static SECCOMP_FILTER: [libc::sock_filter; 11] = {
    const fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }
    const LD_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    const ALLOW: u32 = 0x7fff_0000;
    const DENY: u32 = 0x0005_0000 | libc::EPERM as u32; // SECCOMP_RET_ERRNO
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64
    [
        op(LD_ABS, 0, 0, 4),
        op(JEQ, 1, 0, ARCH),
        op(RET, 0, 0, DENY),
        op(LD_ABS, 0, 0, 0),
        op(JGE, 5, 0, 0x4000_0000), // x32
        op(JEQ, 4, 0, libc::SYS_ptrace as u32),
        op(JEQ, 3, 0, libc::SYS_process_vm_readv as u32),
        op(JEQ, 2, 0, libc::SYS_process_vm_writev as u32),
        op(JEQ, 1, 0, libc::SYS_pidfd_getfd as u32),
        op(RET, 0, 0, ALLOW),
        op(RET, 0, 0, DENY),
    ]
};

/// Installs [`SECCOMP_FILTER`] on the calling (child) process, best effort:
/// where seccomp is missing, or needs `no_new_privs` that this kind of
/// sandbox does not set (bubblewrap run as a normal user), it is left out.
fn install_seccomp_filter() {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        let prog = libc::sock_fprog {
            len: SECCOMP_FILTER.len() as u16,
            filter: SECCOMP_FILTER.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at a static filter that outlives the call.
        unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
                0,
                0,
            );
        }
    }
}

fn set_rlimit(res: RlimitResource, soft: u64, hard: u64) -> bool {
    let lim = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: `lim` is a valid rlimit struct.
    unsafe { libc::setrlimit(res, &lim) == 0 }
}

fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own in the child.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn place_fd(fd: RawFd, target: RawFd) -> io::Result<()> {
    if fd == target {
        return clear_cloexec(fd);
    }
    // SAFETY: dup2 onto a fixed descriptor number in the child.
    if unsafe { libc::dup2(fd, target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl ChildSetup {
    fn apply(&self) -> io::Result<()> {
        // SAFETY: every call below is a plain system call, which is
        // async-signal-safe as required between fork and exec.
        unsafe {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut info = self.info_fd;
            if self.report_fd >= 0 && self.report_fd != 3 && info == 3 {
                info = libc::fcntl(info, libc::F_DUPFD_CLOEXEC, 10);
                if info < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if self.report_fd >= 0 {
                place_fd(self.report_fd, 3)?;
            }
            if info >= 0 {
                place_fd(info, 4)?;
            }
            let mut unshared = false;
            if self.unshare_flags != 0 {
                if libc::unshare(self.unshare_flags) == 0 {
                    unshared = true;
                } else if self.require_unshare {
                    return Err(io::Error::last_os_error());
                }
            }
            if unshared
                && self.ro_host_path != 0
                && !read_only_host(self.ro_host_path as *const libc::c_char)
            {
                return Err(io::Error::last_os_error());
            }
            set_rlimit(libc::RLIMIT_AS, self.memory, self.memory);
            set_rlimit(libc::RLIMIT_CPU, self.cpu, self.cpu.saturating_add(1));
            set_rlimit(libc::RLIMIT_FSIZE, self.fsize, self.fsize);
            set_rlimit(libc::RLIMIT_CORE, 0, 0);
            if let Some(n) = self.nproc {
                if !self.nproc_needs_unshare || unshared {
                    set_rlimit(libc::RLIMIT_NPROC, n, n);
                }
            }
            if let Some(uid) = self.drop_to_uid {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setresgid(uid, uid, uid) != 0
                    || libc::setresuid(uid, uid, uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            if self.drop_to_uid.is_some() || self.unshare_flags != 0 {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            }
            if self.subreaper {
                // Fallback: orphans of the code are re-parented to the
                // sandboxed program (the drivers reap them) rather than to
                // the host's init, which may never reap them.
                libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            }
            // After any credential change (which clears it).
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        }
        install_seccomp_filter();
        Ok(())
    }
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: libc::c_int = 0x8000;

/// In a fresh mount namespace: make every mount read-only, except a bind
/// mount of the workspace `ws` (the working directory). Plain syscalls only.
fn read_only_host(ws: *const libc::c_char) -> bool {
    let root = c"/".as_ptr();
    let set = |path: *const libc::c_char, attr: &MountAttr| {
        // SAFETY: valid NUL-terminated path and attribute struct.
        unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                path,
                AT_RECURSIVE,
                attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            ) == 0
        }
    };
    // SAFETY: mount(2) with valid NUL-terminated strings or nulls.
    let bound = unsafe {
        libc::mount(
            std::ptr::null(),
            root,
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) == 0
            && libc::mount(
                ws,
                ws,
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ) == 0
    };
    bound
        && set(
            root,
            &MountAttr {
                attr_set: MOUNT_ATTR_RDONLY,
                attr_clr: 0,
                propagation: 0,
                userns_fd: 0,
            },
        )
        && set(
            ws,
            &MountAttr {
                attr_set: 0,
                attr_clr: MOUNT_ATTR_RDONLY,
                propagation: 0,
                userns_fd: 0,
            },
        )
        // The working directory still points into the old mount: re-enter
        // the workspace through the new, writable bind mount.
        // SAFETY: chdir with a valid NUL-terminated path.
        && unsafe { libc::chdir(ws) } == 0
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these fresh descriptors.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: raw syscall; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        None
    } else {
        // SAFETY: see above.
        Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

fn pidfd_kill(fd: &OwnedFd) {
    // SAFETY: raw syscall on a pidfd we own.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
}

fn wait_readable(fd: RawFd, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, timeout.as_millis().min(i32::MAX as u128) as i32) > 0 }
}

/// One captured output stream.
struct Capture {
    fd: RawFd,
    buf: Vec<u8>,
    cap: usize,
    truncated: bool,
    open: bool,
}

impl Capture {
    fn new(fd: RawFd, cap: usize) -> Self {
        set_nonblocking(fd);
        Capture {
            fd,
            buf: Vec::new(),
            cap,
            truncated: false,
            open: true,
        }
    }

    /// Read what is available now; drops bytes beyond the cap.
    fn drain(&mut self) {
        let mut chunk = [0u8; 65536];
        while self.open {
            // SAFETY: reading into a stack buffer of the given length.
            let n = unsafe { libc::read(self.fd, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n > 0 {
                let n = n as usize;
                let room = self.cap.saturating_sub(self.buf.len());
                if room < n {
                    self.truncated = true;
                }
                self.buf.extend_from_slice(&chunk[..n.min(room)]);
            } else if n == 0 {
                self.open = false;
            } else {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::WouldBlock => break,
                    io::ErrorKind::Interrupted => continue,
                    _ => self.open = false,
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The sandbox
// ---------------------------------------------------------------------------

/// Runs commands in isolation. Cheap to create, `Send + Sync`, usable from
/// many threads at once.
#[derive(Debug, Clone)]
pub struct Sandbox {
    kind: SandboxKind,
    /// Fallback only: require exactly this isolation (detection probe).
    probe: Option<FallbackIsolation>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    /// The best sandbox available here (see [`sandbox_info`]).
    pub fn new() -> Self {
        Sandbox {
            kind: sandbox_info().kind,
            probe: None,
        }
    }

    /// A specific kind; bubblewrap fails if it is not usable here.
    pub fn with_kind(kind: SandboxKind) -> Result<Self, SandboxError> {
        if kind == SandboxKind::Bubblewrap && sandbox_info().kind != SandboxKind::Bubblewrap {
            return Err(SandboxError::BubblewrapUnavailable(
                sandbox_info().warning.clone().unwrap_or_default(),
            ));
        }
        Ok(Sandbox { kind, probe: None })
    }

    pub fn kind(&self) -> SandboxKind {
        self.kind
    }

    /// What this sandbox provides (for the default sandbox, the same as
    /// [`sandbox_info`]).
    pub fn info(&self) -> SandboxInfo {
        match self.kind {
            SandboxKind::Bubblewrap => sandbox_info().clone(),
            SandboxKind::Fallback if sandbox_info().kind == SandboxKind::Fallback => {
                sandbox_info().clone()
            }
            SandboxKind::Fallback => {
                let mut i = fallback_info("requested explicitly");
                i.warning = None;
                i
            }
        }
    }

    /// Run `cmd` in a fresh workspace holding `files`.
    pub fn run(
        &self,
        cmd: &SandboxCommand,
        files: &[SandboxFile],
        limits: &Limits,
    ) -> Result<RunOutput, SandboxError> {
        let ws = self.workspace(files)?;
        self.run_in(&ws, cmd, limits)
    }

    /// A fresh workspace suited to this sandbox, holding `files`.
    pub fn workspace(&self, files: &[SandboxFile]) -> Result<Workspace, SandboxError> {
        let ws = Workspace::for_kind(self.kind)?;
        for f in files {
            ws.write(f)?;
        }
        Ok(ws)
    }

    /// Run `cmd` in an existing workspace (e.g. a compile step, then a run).
    pub fn run_in(
        &self,
        ws: &Workspace,
        cmd: &SandboxCommand,
        limits: &Limits,
    ) -> Result<RunOutput, SandboxError> {
        let env = host_env();
        let bwrap = self.kind == SandboxKind::Bubblewrap;
        let mode = bwrap_mode();
        let lease = (env.root && (!bwrap || mode == RootMode::Setpriv)).then(UidLease::acquire);
        let uid = lease.as_ref().map(|l| l.uid);

        for d in &cmd.writable_dirs {
            let full = ws.path().join(checked_relative(d)?);
            std::fs::create_dir_all(&full)?;
            if let Some(uid) = uid {
                chown_tree(&full, uid)?;
            }
        }
        if let (false, Some(uid)) = (bwrap, uid) {
            // The fallback works directly in the workspace directory.
            chown(ws.path(), uid)?;
            if !world_accessible(&cmd.program) {
                return Err(SandboxError::NotAccessible(cmd.program.clone()));
            }
        }

        let inside_home = ws.inside_path(self.kind);
        let tmpdir = if bwrap {
            PathBuf::from("/tmp")
        } else {
            ws.path().to_path_buf()
        };
        let mut path_var = String::from("/usr/local/bin:/usr/bin:/bin");
        if let Some(dir) = cmd.program.parent() {
            let d = dir.to_string_lossy();
            if !path_var.split(':').any(|p| p == d) {
                path_var = format!("{d}:{path_var}");
            }
        }
        let mut vars: Vec<(String, String)> = vec![
            ("PATH".into(), path_var),
            ("HOME".into(), inside_home.to_string_lossy().into_owned()),
            ("TMPDIR".into(), tmpdir.to_string_lossy().into_owned()),
            ("LANG".into(), "C.UTF-8".into()),
            ("LC_ALL".into(), "C.UTF-8".into()),
            ("USER".into(), "sandbox".into()),
            ("LOGNAME".into(), "sandbox".into()),
        ];
        for (k, v) in &cmd.env {
            vars.retain(|(kk, _)| kk != k);
            vars.push((k.clone(), v.clone()));
        }

        let report = if cmd.report_fd {
            Some(cloexec_pipe()?)
        } else {
            None
        };
        let info = if bwrap { Some(cloexec_pipe()?) } else { None };

        let mut setup = ChildSetup {
            report_fd: report.as_ref().map_or(-1, |(_, w)| w.as_raw_fd()),
            info_fd: info.as_ref().map_or(-1, |(_, w)| w.as_raw_fd()),
            memory: limits.memory_bytes,
            cpu: limits.cpu_seconds.max(1),
            fsize: limits.max_file_bytes,
            nproc: None,
            unshare_flags: 0,
            require_unshare: false,
            ro_host_path: 0,
            nproc_needs_unshare: false,
            drop_to_uid: None,
            subreaper: !bwrap,
        };

        // Kept alive until after spawn: the child setup points into it.
        let ws_c = std::ffi::CString::new(ws.path().as_os_str().as_encoded_bytes())
            .map_err(|e| SandboxError::Io(io::Error::other(e)))?;
        let mut command = if bwrap {
            // As root (setpriv mode) RLIMIT_NPROC on bwrap is inert for uid 0
            // and becomes effective once setpriv switches to the sandbox uid.
            if mode == RootMode::Setpriv {
                // +1: the count includes the sandboxed program itself.
                setup.nproc = Some(limits.max_processes.saturating_add(1));
            }
            let mut c = Command::new(env.bwrap.as_ref().expect("bwrap checked"));
            c.args(self.bwrap_args(ws, cmd, limits, uid)?);
            c.current_dir("/");
            c
        } else {
            let mut c = Command::new(&cmd.program);
            c.args(&cmd.args).current_dir(ws.path());
            let ns = libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWNS;
            if env.root {
                setup.unshare_flags = ns;
                setup.drop_to_uid = uid;
                setup.nproc = Some(limits.max_processes.saturating_add(1));
            } else {
                setup.unshare_flags = libc::CLONE_NEWUSER | ns;
                setup.nproc = Some(limits.max_processes.saturating_add(1));
                setup.nproc_needs_unshare = true;
            }
            match self.probe.unwrap_or_else(fallback_isolation) {
                FallbackIsolation::None => setup.unshare_flags = 0,
                FallbackIsolation::Namespaces => setup.require_unshare = true,
                FallbackIsolation::ReadOnlyHost => {
                    setup.require_unshare = true;
                    setup.ro_host_path = ws_c.as_ptr() as usize;
                }
            }
            c
        };
        command
            .env_clear()
            .envs(vars)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: `ChildSetup::apply` only performs async-signal-safe syscalls
        // on plain data copied into the closure.
        unsafe {
            command.pre_exec(move || setup.apply());
        }

        let start = Instant::now();
        let mut child = command.spawn().map_err(SandboxError::Spawn)?;
        drop(ws_c);
        // Close our copies of the write ends so EOF is seen.
        let report_r = report.map(|(r, w)| {
            drop(w);
            r
        });
        let info_r = info.map(|(r, w)| {
            drop(w);
            r
        });
        let timeout = cmd.timeout.unwrap_or(limits.timeout);
        let out = pump(
            &mut child,
            &cmd.stdin,
            report_r.as_ref(),
            info_r.as_ref(),
            start,
            timeout,
            limits.max_output_bytes,
        );
        // Under bubblewrap the kernel tears the PID namespace down with its
        // init (waited for above), so nothing of the run can survive; the
        // fallback has no PID namespace, so every process of the run's uid
        // is hunted down instead.
        if let (false, Some(uid)) = (bwrap, uid) {
            kill_uid_processes(uid);
        }
        drop(lease);
        let mut out = out?;
        out.kind = Some(self.kind);
        Ok(out)
    }

    fn bwrap_args(
        &self,
        ws: &Workspace,
        cmd: &SandboxCommand,
        limits: &Limits,
        uid: Option<u32>,
    ) -> Result<Vec<OsString>, SandboxError> {
        let env = host_env();
        let mode = bwrap_mode();
        let mut a: Vec<OsString> = Vec::with_capacity(64);
        fn strs(a: &mut Vec<OsString>, items: &[&str]) {
            a.extend(items.iter().map(OsString::from));
        }
        fn triple(a: &mut Vec<OsString>, flag: &str, x: &Path, y: &Path) {
            a.push(flag.into());
            a.push(x.as_os_str().to_owned());
            a.push(y.as_os_str().to_owned());
        }
        strs(
            &mut a,
            &[
                "--unshare-ipc",
                "--unshare-pid",
                "--unshare-net",
                "--unshare-uts",
                "--hostname",
                "sandbox",
                "--die-with-parent",
                "--new-session",
                "--info-fd",
                "4",
            ],
        );
        if mode == RootMode::Userns {
            strs(&mut a, &["--unshare-user"]);
            if env.root {
                strs(&mut a, &["--uid", "65534", "--gid", "65534"]);
            }
        }
        triple(&mut a, "--ro-bind", Path::new("/usr"), Path::new("/usr"));
        for (p, kind) in &env.top_level {
            match kind {
                TopLevel::Symlink(target) => triple(&mut a, "--symlink", target, p),
                TopLevel::Dir => triple(&mut a, "--ro-bind", p, p),
            }
        }
        triple(&mut a, "--ro-bind", Path::new("/etc"), Path::new("/etc"));
        let mut extra: Vec<PathBuf> = Vec::new();
        for p in &cmd.ro_binds {
            let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            let covered = p.starts_with("/usr")
                || p.starts_with("/etc")
                || extra.iter().any(|e| p.starts_with(e));
            if covered || !p.exists() {
                continue;
            }
            extra.retain(|e| !e.starts_with(&p));
            extra.push(p);
        }
        // bwrap would create missing parents with the host's modes (e.g.
        // /root is 0700), hiding the tool from the unprivileged uid: create
        // them world-searchable first (they are empty directories on the
        // sandbox's private root).
        let mut made: Vec<PathBuf> = Vec::new();
        for p in &extra {
            let mut ancestors: Vec<&Path> = p
                .ancestors()
                .skip(1)
                .filter(|d| d.parent().is_some())
                .collect();
            ancestors.reverse();
            for d in ancestors {
                if !made.iter().any(|m| m == d) {
                    strs(&mut a, &["--perms", "0755", "--dir"]);
                    a.push(d.as_os_str().to_owned());
                    made.push(d.to_path_buf());
                }
            }
            triple(&mut a, "--ro-bind", p, p);
        }
        let size = limits.max_disk_bytes.max(1 << 20).to_string();
        for s in ["--proc", "/proc", "--dev", "/dev"] {
            a.push(s.into());
        }
        for target in ["/tmp", SANDBOX_HOME] {
            for s in ["--perms", "1777", "--size", &size, "--tmpfs", target] {
                a.push(s.into());
            }
        }
        let home = Path::new(SANDBOX_HOME);
        let writable: Vec<&Path> = cmd.writable_dirs.iter().map(Path::new).collect();
        let mut entries: Vec<_> = std::fs::read_dir(ws.path())?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        entries.sort();
        for name in entries {
            let flag = if writable.iter().any(|w| w.as_os_str() == name) {
                "--bind"
            } else {
                "--ro-bind"
            };
            a.push(flag.into());
            a.push(ws.path().join(&name).into_os_string());
            a.push(home.join(&name).into_os_string());
        }
        // Writable sub-directories deeper than the top level.
        for w in &writable {
            if w.components().count() > 1 {
                a.push("--bind".into());
                a.push(ws.path().join(w).into_os_string());
                a.push(home.join(w).into_os_string());
            }
        }
        a.push("--chdir".into());
        a.push(SANDBOX_HOME.into());
        a.push("--".into());
        match (mode, uid) {
            (RootMode::Setpriv, Some(uid)) => {
                let setpriv = env.setpriv.as_ref().expect("setpriv checked");
                a.push(setpriv.into());
                for s in [
                    format!("--reuid={uid}"),
                    format!("--regid={uid}"),
                    "--clear-groups".into(),
                    "--inh-caps=-all".into(),
                    "--bounding-set=-all".into(),
                    "--no-new-privs".into(),
                    "--".into(),
                ] {
                    a.push(s.into());
                }
            }
            _ => {
                if let (false, Some(prlimit)) = (env.root, env.prlimit.as_ref()) {
                    a.push(prlimit.into());
                    a.push(format!("--nproc={}", limits.max_processes.saturating_add(1)).into());
                    a.push("--".into());
                }
            }
        }
        a.push(cmd.program.clone().into_os_string());
        a.extend(cmd.args.iter().cloned());
        Ok(a)
    }
}

/// `Err` when the default sandbox cannot start `program`: the root
/// fallback runs code as an unprivileged uid, which cannot reach tools below
/// non-world-searchable directories (e.g. under /root).
pub(crate) fn check_runnable(program: &Path) -> Result<(), String> {
    let info = sandbox_info();
    if info.kind == SandboxKind::Fallback && info.dedicated_uid && !world_accessible(program) {
        return Err(SandboxError::NotAccessible(program.to_path_buf()).to_string());
    }
    Ok(())
}

/// Whether a process without privileges can reach and execute `p`.
fn world_accessible(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if meta.permissions().mode() & 0o001 == 0 {
        return false;
    }
    let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    for (path, _) in [(p, ()), (real.as_path(), ())] {
        for dir in path.ancestors().skip(1) {
            match std::fs::metadata(dir) {
                Ok(m) if m.permissions().mode() & 0o001 != 0 => {}
                _ => return false,
            }
        }
    }
    true
}

fn chown(p: &Path, uid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(p, Some(uid), Some(uid))
}

fn chown_tree(p: &Path, uid: u32) -> io::Result<()> {
    chown(p, uid)?;
    if p.is_dir() {
        for e in std::fs::read_dir(p)?.flatten() {
            let ft = e.file_type()?;
            if ft.is_dir() {
                chown_tree(&e.path(), uid)?;
            } else if !ft.is_symlink() {
                chown(&e.path(), uid)?;
            }
        }
    }
    Ok(())
}

/// Feed stdin, collect output until the child exits or the deadline passes,
/// then kill whatever is left and reap the child.
fn pump(
    child: &mut Child,
    stdin_data: &[u8],
    report: Option<&OwnedFd>,
    info: Option<&OwnedFd>,
    start: Instant,
    timeout: Duration,
    cap: usize,
) -> Result<RunOutput, SandboxError> {
    let deadline = start + timeout;
    let pid = child.id() as i32;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut stdin = child.stdin.take();
    let mut caps = vec![
        Capture::new(stdout.as_raw_fd(), cap),
        Capture::new(stderr.as_raw_fd(), cap),
    ];
    if let Some(r) = report {
        caps.push(Capture::new(r.as_raw_fd(), REPORT_CAP));
    }
    let info_idx = info.map(|r| {
        caps.push(Capture::new(r.as_raw_fd(), 4096));
        caps.len() - 1
    });
    if let Some(s) = &stdin {
        set_nonblocking(s.as_raw_fd());
    }
    let mut stdin_pos = 0usize;
    if stdin_data.is_empty() {
        stdin = None;
    }
    let pidfd = pidfd_open(pid);
    let mut ns_init: Option<OwnedFd> = None;
    let mut status: Option<ExitStatus> = None;
    let mut exited = false;
    let mut timed_out = false;

    loop {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        let remaining = deadline - now;
        let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(caps.len() + 2);
        let mut owners: Vec<i32> = Vec::with_capacity(caps.len() + 2);
        for (i, c) in caps.iter().enumerate() {
            if c.open {
                pfds.push(libc::pollfd {
                    fd: c.fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
                owners.push(i as i32);
            }
        }
        if let Some(s) = &stdin {
            pfds.push(libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            });
            owners.push(-1);
        }
        if let Some(p) = &pidfd {
            pfds.push(libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            owners.push(-2);
        }
        let mut wait_ms = remaining.as_millis().min(i32::MAX as u128) as i32 + 1;
        if pidfd.is_none() {
            wait_ms = wait_ms.min(10);
        }
        // SAFETY: `pfds` is a valid array of pollfd of the given length.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, wait_ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                timed_out = true;
                break;
            }
            continue;
        }
        for (pfd, owner) in pfds.iter().zip(&owners) {
            if pfd.revents == 0 {
                continue;
            }
            match *owner {
                -1 => {
                    if let Some(s) = stdin.as_mut() {
                        match s.write(&stdin_data[stdin_pos..]) {
                            Ok(n) => {
                                stdin_pos += n;
                                if stdin_pos >= stdin_data.len() {
                                    stdin = None;
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => stdin = None,
                        }
                    }
                }
                -2 => exited = true,
                i => caps[i as usize].drain(),
            }
        }
        if ns_init.is_none() {
            if let Some(i) = info_idx {
                ns_init = open_ns_init(&caps[i].buf, pid);
            }
        }
        if pidfd.is_none() {
            if let Ok(Some(st)) = child.try_wait() {
                status = Some(st);
                exited = true;
            }
        }
        if exited {
            for c in caps.iter_mut() {
                c.drain();
            }
            break;
        }
    }
    drop(stdin);

    if !exited || timed_out {
        // Kill the PID namespace's init first (bubblewrap): the kernel then
        // kills everything inside, and we wait until it is gone.
        if ns_init.is_none() {
            if let Some(i) = info_idx {
                caps[i].drain();
                ns_init = open_ns_init(&caps[i].buf, pid);
            }
        }
        if let Some(fd) = &ns_init {
            pidfd_kill(fd);
            wait_readable(fd.as_raw_fd(), Duration::from_secs(2));
        }
    }
    if status.is_none() {
        // The child is not reaped yet, so its pid (= our process group id,
        // thanks to setsid) cannot have been reused: killing the group is
        // safe and takes stragglers with it.
        // SAFETY: plain kill syscalls.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
        status = match child.wait_timeout(Duration::from_secs(5)) {
            Ok(Some(st)) => Some(st),
            _ => child.wait().ok(),
        };
    }
    let duration = start.elapsed();
    let (exit_code, signal) = match status {
        Some(st) => (st.code(), st.signal()),
        None => (None, None),
    };
    let report_cap = report.map(|_| caps.remove(2));
    let stderr_cap = caps.remove(1);
    let stdout_cap = caps.remove(0);
    let (report_buf, report_truncated) =
        report_cap.map(|c| (c.buf, c.truncated)).unwrap_or_default();
    drop(stdout);
    drop(stderr);
    Ok(RunOutput {
        exit_code: if timed_out { None } else { exit_code },
        signal: if timed_out {
            Some(libc::SIGKILL)
        } else {
            signal
        },
        stdout: stdout_cap.buf,
        stderr: stderr_cap.buf,
        report: report_buf,
        stdout_truncated: stdout_cap.truncated,
        stderr_truncated: stderr_cap.truncated,
        report_truncated,
        timed_out,
        duration,
        kind: None,
    })
}

/// Parse bubblewrap's `--info-fd` JSON and open a pidfd on the PID
/// namespace's init, checking it is really the child of our bwrap process.
fn open_ns_init(info: &[u8], bwrap_pid: i32) -> Option<OwnedFd> {
    let text = std::str::from_utf8(info).ok()?;
    let idx = text.find("\"child-pid\"")?;
    let rest = &text[idx + "\"child-pid\"".len()..];
    let digits: String = rest
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let ns_pid: i32 = digits.parse().ok()?;
    let fd = pidfd_open(ns_pid)?;
    let status = std::fs::read_to_string(format!("/proc/{ns_pid}/status")).ok()?;
    let ppid: i32 = status
        .lines()
        .find(|l| l.starts_with("PPid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    (ppid == bwrap_pid).then_some(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspaces_of_killed_processes_are_swept() {
        let base = tempfile::tempdir().unwrap();
        let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3700);
        let make = |name: &str, old: bool| {
            let dir = base.path().join(name);
            std::fs::create_dir_all(dir.join("sub")).unwrap();
            std::fs::write(dir.join("sub/f"), "x").unwrap();
            if old {
                std::fs::File::open(&dir)
                    .unwrap()
                    .set_modified(hour_ago)
                    .unwrap();
            }
            dir
        };
        // pid_max is at most 2^22: this pid belongs to no process.
        let dead = make("litmus-sandbox-4999999-abc", true);
        let dead_recent = make("litmus-sandbox-4999998-abc", false);
        let mine = make(&format!("litmus-sandbox-{}-abc", std::process::id()), true);
        let legacy_old = make("litmus-sandbox-H6NZHA", true);
        let legacy_recent = make("litmus-sandbox-p4fsZm", false);
        let other = make("someone-else-4999999-abc", true);
        sweep_stale_workspaces(base.path());
        assert!(!dead.exists() && !legacy_old.exists());
        assert!(dead_recent.exists() && mine.exists() && legacy_recent.exists() && other.exists());
    }
}
