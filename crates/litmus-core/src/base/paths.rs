//! Paths: the workspace root and the cargo target directory of an eval target.

use std::path::{Path, PathBuf};

/// Where an eval target is: given by `litmus::main!()` at the user's crate.
#[derive(Clone, Debug)]
pub struct TargetLocation {
    /// `CARGO_MANIFEST_DIR` of the crate holding the eval target.
    pub manifest_dir: PathBuf,
    /// `file!()` of the eval target's main source file: score snapshots go
    /// in `snapshots/` next to it.
    pub source_file: Option<String>,
}

/// The cargo target directory holding the running binary.
pub fn target_dir(location: &TargetLocation) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let p = PathBuf::from(dir);
        return if p.is_absolute() {
            p
        } else {
            workspace_root(&location.manifest_dir).join(p)
        };
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| target_dir_of(&exe))
        .unwrap_or_else(|| workspace_root(&location.manifest_dir).join("target"))
}

/// The cargo target directory an executable was built in: the nearest
/// ancestor holding `CACHEDIR.TAG`, or, for `cargo eval`'s builds for this
/// CPU (`<target-dir>/litmus/native`), the target directory around it.
fn target_dir_of(exe: &Path) -> Option<PathBuf> {
    let dir = exe
        .ancestors()
        .skip(1)
        .find(|d| d.join("CACHEDIR.TAG").is_file())?;
    if dir.ends_with("litmus/native") {
        if let Some(outer) = dir.parent().and_then(Path::parent) {
            return Some(outer.to_path_buf());
        }
    }
    Some(dir.to_path_buf())
}

/// The outermost ancestor of `dir` holding a `Cargo.toml` with `[workspace]`,
/// else `dir`.
pub fn workspace_root(dir: &Path) -> PathBuf {
    let mut root = dir.to_path_buf();
    for d in dir.ancestors() {
        if let Ok(text) = std::fs::read_to_string(d.join("Cargo.toml")) {
            if text.lines().any(|l| l.trim() == "[workspace]") {
                root = d.to_path_buf();
            }
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_of_native_builds_go_to_the_outer_target_dir() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let native = target.join("litmus/native");
        std::fs::create_dir_all(native.join("release/deps")).unwrap();
        std::fs::write(target.join("CACHEDIR.TAG"), "").unwrap();
        std::fs::write(native.join("CACHEDIR.TAG"), "").unwrap();
        let exe = native.join("release/deps/evals-0123");
        assert_eq!(target_dir_of(&exe), Some(target.clone()));
        let exe = target.join("debug/deps/evals-0123");
        assert_eq!(target_dir_of(&exe), Some(target));
        assert_eq!(target_dir_of(Path::new("/nonexistent/x")), None);
    }
}
