//! Small helpers shared by the runtime.

use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// An RFC 3339 UTC timestamp for `ms` since the epoch (second precision).
pub fn rfc3339(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The message of a caught panic's payload (`"panic"` when it is neither a
/// `&str` nor a `String`).
///
/// ```
/// let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
/// assert_eq!(litmus_core::base::util::panic_message(p.as_ref()), "boom 1");
/// ```
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Whether `c` reorders the text around it: the bidirectional embedding,
/// override and isolate controls and the direction marks.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// `url` without the user and password it may carry, for what litmus
/// prints and stores (`run.json`, `--plan`).
///
/// ```
/// use litmus_core::base::util::without_credentials;
///
/// assert_eq!(without_credentials("https://me:token@host:8080/v1"), "https://host:8080/v1");
/// assert_eq!(without_credentials("http://host/a@b"), "http://host/a@b");
/// assert_eq!(without_credentials("host:11434"), "host:11434");
/// ```
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{path}"),
        None => url.to_string(),
    }
}

/// `s` as it may go to a terminal or a plain-text report: control
/// characters (escape sequences, carriage returns, backspaces, NUL, line
/// breaks, tabs; C0, DEL and C1) and the bidirectional controls are written
/// as escapes (`\u{1b}`, `\r`, `\n`, `\u{202e}`), so text from a model, a
/// server or a downloaded run cannot move the cursor, recolour, retitle,
/// hide or reorder what litmus prints, nor break a line in two.
///
/// ```
/// use litmus_core::base::util::printable;
///
/// assert_eq!(printable("plain text"), "plain text");
/// assert_eq!(printable("a\x1b[2Jb\r\nc\u{202e}d"), "a\\u{1b}[2Jb\\r\\nc\\u{202e}d");
/// ```
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || is_bidi_control(c);
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `s` cut to at most `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// The first `shown` of `names`, comma-separated, then how many more there
/// are: what a warning about many evals lists.
///
/// ```
/// use litmus_core::base::util::name_list;
/// assert_eq!(name_list(&["a", "b", "c"], 2), "a, b, and 1 more");
/// assert_eq!(name_list(&["a", "b"], 2), "a, b");
/// ```
pub fn name_list<S: AsRef<str>>(names: &[S], shown: usize) -> String {
    let mut out = names
        .iter()
        .take(shown)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > shown {
        out.push_str(&format!(", and {} more", names.len() - shown));
    }
    out
}

/// The peak resident set size of this process, in bytes (Linux: `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_kib(std::process::id(), "VmHWM:")
}

/// The current resident set size of this process, in bytes (Linux: `VmRSS`).
pub fn current_rss_bytes() -> Option<u64> {
    proc_status_kib(std::process::id(), "VmRSS:")
}

/// A `kB` field of a process's `/proc/PID/status` (Linux), in bytes, e.g.
/// `VmRSS:` (resident now) or `VmHWM:` (peak).
pub fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `SIGSEGV (segmentation fault)` and the like: a signal's name and what it
/// usually means.
pub fn signal_name(sig: i32) -> String {
    let (name, what) = match sig {
        libc::SIGSEGV => ("SIGSEGV", "segmentation fault"),
        libc::SIGABRT => ("SIGABRT", "aborted"),
        libc::SIGBUS => ("SIGBUS", "bus error"),
        libc::SIGILL => (
            "SIGILL",
            "illegal instruction: the build uses a CPU feature this CPU lacks?",
        ),
        libc::SIGFPE => ("SIGFPE", "arithmetic exception"),
        libc::SIGKILL => (
            "SIGKILL",
            "killed, often by the kernel when memory runs out",
        ),
        libc::SIGTERM => ("SIGTERM", "terminated"),
        libc::SIGINT => ("SIGINT", "interrupted"),
        _ => return format!("signal {sig}"),
    };
    format!("{name} ({what})")
}

/// How a process ended: `was killed by SIGSEGV (segmentation fault)`,
/// `exited with code 101`.
pub fn describe_exit(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(status) {
        return format!("was killed by {}", signal_name(sig));
    }
    match status.code() {
        Some(c) => format!("exited with code {c}"),
        None => "ended".to_string(),
    }
}

/// Whether `v` is its type's default: for serde's `skip_serializing_if`,
/// so that a field left at its default (0, empty) stays out of the JSON.
pub fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_signals_and_exits() {
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV (segmentation fault)");
        assert_eq!(
            signal_name(libc::SIGKILL),
            "SIGKILL (killed, often by the kernel when memory runs out)"
        );
        assert_eq!(signal_name(1234), "signal 1234");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            let killed = std::process::ExitStatus::from_raw(libc::SIGKILL);
            assert_eq!(
                describe_exit(&killed),
                "was killed by SIGKILL (killed, often by the kernel when memory runs out)"
            );
            let exited = std::process::ExitStatus::from_raw(101 << 8);
            assert_eq!(describe_exit(&exited), "exited with code 101");
        }
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn sha256_of_empty() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
