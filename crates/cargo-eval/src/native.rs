//! Builds for this machine's CPU unless the user chose rustflags.
//!
//! `llama-cpp-sys-2` compiles llama.cpp for the SIMD that rustc's target
//! allows, and turns on `GGML_NATIVE` only when `CARGO_ENCODED_RUSTFLAGS`
//! holds `target-cpu=native`. A crate made with `cargo new` sets no rustflags,
//! so its eval targets would get baseline x86-64 kernels, several times slower.
//! `cargo eval` therefore builds eval targets with `-C target-cpu=native` (and
//! `LLAMA_LIB_PROFILE=Release`, llama.cpp at `-O3`), unless cargo would use
//! rustflags of the user's: from the environment (`CARGO_ENCODED_RUSTFLAGS`,
//! `RUSTFLAGS`, `CARGO_BUILD_RUSTFLAGS`, `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`) or
//! from the `.cargo/config.toml` (or `.cargo/config`) files cargo reads: in the
//! current directory and each of its parents, and in `$CARGO_HOME`
//! (`build.rustflags`, `target.<triple>.rustflags`,
//! `target.'cfg(..)'.rustflags`). A build for another target (`build.target`,
//! `CARGO_BUILD_TARGET`) is left alone too.
//!
//! Rustflags are part of cargo's fingerprints: such builds go to a target
//! directory of their own, `<target-dir>/litmus/native`, so that `cargo test`
//! and `cargo eval` do not rebuild each other's artifacts.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// The rustflags `cargo eval` builds with when the user has none.
pub const NATIVE_RUSTFLAGS: &str = "-Ctarget-cpu=native";

/// The host as rustc describes it: its triple and its `cfg` values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Host {
    /// e.g. `x86_64-unknown-linux-gnu`.
    pub triple: String,
    /// `rustc --print cfg`: `unix`, `target_os="linux"`, ...
    pub cfg: Vec<(String, Option<String>)>,
}

impl Host {
    /// Asks rustc (`$RUSTC`, else `rustc`).
    pub fn detect() -> Option<Host> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let run = |args: &[&str]| -> Option<String> {
            let out = Command::new(&rustc).args(args).output().ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let triple = run(&["-vV"])?
            .lines()
            .find_map(|l| l.strip_prefix("host: "))?
            .trim()
            .to_string();
        let cfg = parse_cfg_list(&run(&["--print", "cfg"])?);
        Some(Host { triple, cfg })
    }
}

/// `rustc --print cfg` lines: `unix`, `target_os="linux"`.
pub fn parse_cfg_list(text: &str) -> Vec<(String, Option<String>)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (
                k.trim().to_string(),
                Some(v.trim().trim_matches('"').to_string()),
            ),
            None => (l.to_string(), None),
        })
        .collect()
}

/// What `cargo` would see: the environment, the directory it runs in and
/// `$CARGO_HOME`.
pub struct Probe {
    /// Environment variables.
    pub vars: BTreeMap<String, OsString>,
    /// Where cargo runs.
    pub cwd: PathBuf,
    /// `$CARGO_HOME` (default `~/.cargo`).
    pub cargo_home: Option<PathBuf>,
}

impl Probe {
    /// This process's environment and directory.
    pub fn current() -> Probe {
        let vars: BTreeMap<String, OsString> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
            .collect();
        let cargo_home = vars
            .get("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| vars.get("HOME").map(|h| PathBuf::from(h).join(".cargo")));
        Probe {
            cwd: std::env::current_dir().unwrap_or_default(),
            vars,
            cargo_home,
        }
    }

    /// The config files cargo reads, most specific first.
    pub fn config_files(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.cwd.ancestors().map(|d| d.join(".cargo")).collect();
        if let Some(home) = &self.cargo_home {
            if !dirs.contains(home) {
                dirs.push(home.clone());
            }
        }
        dirs.iter()
            .flat_map(|d| [d.join("config.toml"), d.join("config")])
            .filter(|f| f.is_file())
            .collect()
    }

    /// Where the user's own rustflags (or another build target) come from,
    /// if cargo would use any: `RUSTFLAGS is set`, `build.rustflags in PATH`.
    /// `host` is asked (once) only when a target-specific setting must be
    /// matched against the host.
    pub fn user_rustflags(&self, host: &dyn Fn() -> Option<Host>) -> Option<String> {
        // Set at all, even empty: cargo then uses them (none) instead of the config's.
        for var in [
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_BUILD_TARGET",
        ] {
            if self.vars.contains_key(var) {
                return Some(format!("{var} is set"));
            }
        }
        let known = std::cell::OnceCell::new();
        let host = || known.get_or_init(host).as_ref();
        for var in self.vars.keys() {
            let Some(triple) = var
                .strip_prefix("CARGO_TARGET_")
                .and_then(|v| v.strip_suffix("_RUSTFLAGS"))
            else {
                continue;
            };
            // CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS; unknown host: assume it applies.
            if host().is_none_or(|h| env_triple(&h.triple) == triple) {
                return Some(format!("{var} is set"));
            }
        }
        for file in self.config_files() {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            // A file cargo cannot read fails the build anyway, with cargo's message.
            let Ok(doc) = text.parse::<toml::Table>() else {
                continue;
            };
            let build = doc.get("build").and_then(|b| b.as_table());
            for key in ["rustflags", "target"] {
                if build.is_some_and(|b| b.contains_key(key)) {
                    return Some(format!("build.{key} in {}", file.display()));
                }
            }
            let targets = doc.get("target").and_then(|t| t.as_table());
            for (name, table) in targets.into_iter().flatten() {
                if !table
                    .as_table()
                    .is_some_and(|t| t.contains_key("rustflags"))
                {
                    continue;
                }
                let applies = match host() {
                    None => true,
                    Some(h) if name.starts_with("cfg(") => {
                        cfg_matches(name, &h.cfg).unwrap_or(true)
                    }
                    Some(h) => *name == h.triple,
                };
                if applies {
                    return Some(format!("target.{name:?}.rustflags in {}", file.display()));
                }
            }
        }
        None
    }
}

/// A triple as cargo spells it in an environment variable's name.
fn env_triple(triple: &str) -> String {
    triple
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// Whether `cfg(...)` (cargo's `[target.'cfg(...)']` key) holds for a host
/// with these cfg values; `None` when the expression cannot be read.
pub fn cfg_matches(expr: &str, cfg: &[(String, Option<String>)]) -> Option<bool> {
    let mut p = CfgParser {
        s: expr.trim(),
        cfg,
    };
    p.word("cfg")?;
    p.punct('(')?;
    let v = p.predicate()?;
    p.punct(')')?;
    p.s.trim().is_empty().then_some(v)
}

struct CfgParser<'a> {
    s: &'a str,
    cfg: &'a [(String, Option<String>)],
}

impl CfgParser<'_> {
    fn ident(&mut self) -> Option<&str> {
        self.s = self.s.trim_start();
        let end = self
            .s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.s.len());
        (end > 0).then(|| {
            let (id, rest) = self.s.split_at(end);
            self.s = rest;
            id
        })
    }

    fn word(&mut self, w: &str) -> Option<()> {
        (self.ident()? == w).then_some(())
    }

    fn punct(&mut self, c: char) -> Option<()> {
        self.s = self.s.trim_start().strip_prefix(c)?;
        Some(())
    }

    fn peek(&self, c: char) -> bool {
        self.s.trim_start().starts_with(c)
    }

    fn predicate(&mut self) -> Option<bool> {
        let id = self.ident()?.to_string();
        match id.as_str() {
            "all" | "any" | "not" => {
                self.punct('(')?;
                let mut values = Vec::new();
                while !self.peek(')') {
                    values.push(self.predicate()?);
                    if !self.peek(')') {
                        self.punct(',')?;
                    }
                }
                self.punct(')')?;
                match id.as_str() {
                    "all" => Some(values.iter().all(|v| *v)),
                    "any" => Some(values.iter().any(|v| *v)),
                    _ => (values.len() == 1).then(|| !values[0]),
                }
            }
            _ if self.peek('=') => {
                self.punct('=')?;
                let rest = self.s.trim_start().strip_prefix('"')?;
                let end = rest.find('"')?;
                let value = &rest[..end];
                self.s = &rest[end + 1..];
                Some(
                    self.cfg
                        .iter()
                        .any(|(k, v)| *k == id && v.as_deref() == Some(value)),
                )
            }
            _ => Some(self.cfg.iter().any(|(k, v)| *k == id && v.is_none())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn linux() -> Option<Host> {
        Some(Host {
            triple: "x86_64-unknown-linux-gnu".into(),
            cfg: parse_cfg_list(
                "debug_assertions\npanic=\"unwind\"\ntarget_arch=\"x86_64\"\ntarget_feature=\"sse2\"\ntarget_os=\"linux\"\nunix\n",
            ),
        })
    }

    /// A probe in `dir/work/project`, with `dir/home/.cargo` as `$CARGO_HOME`.
    fn probe(dir: &Path, vars: &[(&str, &str)]) -> Probe {
        let cwd = dir.join("work/project");
        std::fs::create_dir_all(&cwd).unwrap();
        Probe {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v)))
                .collect(),
            cwd,
            cargo_home: Some(dir.join("home/.cargo")),
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn environment_variables_are_user_rustflags() {
        let dir = tempfile::tempdir().unwrap();
        let none = || panic!("the host is not needed");
        assert_eq!(
            probe(dir.path(), &[("HOME", "/root")]).user_rustflags(&none),
            None
        );
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_BUILD_TARGET",
        ] {
            // Even empty: cargo then builds with no flags, not with the config's.
            let p = probe(dir.path(), &[(var, "")]);
            assert_eq!(p.user_rustflags(&none), Some(format!("{var} is set")));
        }
        let p = probe(
            dir.path(),
            &[("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS", "-g")],
        );
        assert!(p.user_rustflags(&linux).is_some());
        // Flags for another target do not apply to a build for this one.
        let p = probe(
            dir.path(),
            &[("CARGO_TARGET_AARCH64_APPLE_DARWIN_RUSTFLAGS", "-g")],
        );
        assert_eq!(p.user_rustflags(&linux), None);
    }

    #[test]
    fn config_files_from_the_directory_up_and_cargo_home() {
        let dir = tempfile::tempdir().unwrap();
        let p = probe(dir.path(), &[]);
        assert_eq!(p.user_rustflags(&linux), None);

        // A parent directory's .cargo/config.toml.
        let parent = dir.path().join("work/.cargo/config.toml");
        write(
            &parent,
            "[build]\nrustflags = [\"-C\", \"target-cpu=native\"]\n",
        );
        let found = p.user_rustflags(&linux).unwrap();
        assert_eq!(found, format!("build.rustflags in {}", parent.display()));
        std::fs::remove_file(&parent).unwrap();

        // The extensionless legacy name, in the directory itself.
        let legacy = dir.path().join("work/project/.cargo/config");
        write(&legacy, "[build]\nrustflags = \"-C opt-level=3\"\n");
        assert!(p.user_rustflags(&linux).unwrap().contains("config"));
        std::fs::remove_file(&legacy).unwrap();

        // $CARGO_HOME: target tables match the host's triple or cfg.
        let home = dir.path().join("home/.cargo/config.toml");
        write(&home, "[target.aarch64-apple-darwin]\nrustflags = [\"-g\"]\n[target.x86_64-unknown-linux-gnu]\nlinker = \"clang\"\n");
        assert_eq!(
            p.user_rustflags(&linux),
            None,
            "another triple; no rustflags for ours"
        );
        write(
            &home,
            "[target.x86_64-unknown-linux-gnu]\nrustflags = [\"-g\"]\n",
        );
        assert!(p
            .user_rustflags(&linux)
            .unwrap()
            .contains("x86_64-unknown-linux-gnu"));
        write(
            &home,
            "[target.'cfg(all(unix, target_arch = \"x86_64\"))']\nrustflags = [\"-g\"]\n",
        );
        assert!(p
            .user_rustflags(&linux)
            .unwrap()
            .starts_with("target.\"cfg(all("));
        write(&home, "[target.'cfg(windows)']\nrustflags = [\"-g\"]\n");
        assert_eq!(p.user_rustflags(&linux), None);
        // Other settings are not rustflags.
        write(
            &home,
            "[build]\njobs = 2\n[env]\nLLAMA_LIB_PROFILE = \"Release\"\n",
        );
        assert_eq!(p.user_rustflags(&linux), None);
        write(&home, "[build]\ntarget = \"wasm32-unknown-unknown\"\n");
        assert!(p
            .user_rustflags(&linux)
            .unwrap()
            .starts_with("build.target in"));
    }

    #[test]
    fn cfg_expressions() {
        let h = linux().unwrap();
        let m = |e: &str| cfg_matches(e, &h.cfg);
        assert_eq!(m("cfg(unix)"), Some(true));
        assert_eq!(m("cfg(windows)"), Some(false));
        assert_eq!(m("cfg(target_os = \"linux\")"), Some(true));
        assert_eq!(m("cfg(target_os = \"macos\")"), Some(false));
        assert_eq!(m("cfg(all(unix, not(target_os = \"macos\")))"), Some(true));
        assert_eq!(m("cfg(any(windows, target_arch=\"aarch64\"))"), Some(false));
        assert_eq!(m("cfg(all())"), Some(true));
        assert_eq!(
            m("cfg(target_os)"),
            Some(false),
            "a key with a value is no bare name"
        );
        assert_eq!(m("cfg(unix"), None);
        assert_eq!(m("cfg(not(unix, windows))"), None);
    }
}
