//! The registry of evals declared with `#[litmus::eval]`.
//!
//! The attribute emits one [`EvalEntry`] per case through `inventory`. Entries
//! live in whatever crate declares them; a crate that nothing references is not
//! linked, so `litmus::main!(other_crate)` names every crate holding evals.

use crate::eval::case::Case;
use crate::eval::context::EvalContext;
use crate::eval::score::ScoreResult;

/// How an eval produces its samples.
#[derive(Clone, Copy)]
pub enum EntryKind {
    /// Returns a case; the runner prompts the model and scores the answer.
    Declarative(fn() -> Case),
    /// Calls the model itself through the context and returns a score.
    Imperative(fn(&mut EvalContext<'_>) -> ScoreResult),
}

/// One registered eval case. Built by `#[litmus::eval]`; not public API.
#[doc(hidden)]
pub struct EvalEntry {
    /// The function name, or the `name = "..."` option.
    pub name: &'static str,
    /// The case name for parametrized evals: `case_N` (N from 1 in source
    /// order, not zero-padded), with `_description` from
    /// `#[case::description(..)]`.
    pub case: Option<&'static str>,
    /// `module_path!()` at the declaration.
    pub module_path: &'static str,
    /// `file!()` at the declaration.
    pub file: &'static str,
    /// `line!()` at the declaration.
    pub line: u32,
    /// Tags for `--tag` filtering.
    pub tags: &'static [&'static str],
    /// Samples per configuration, overriding the run's default.
    pub samples: Option<u32>,
    /// Time limit per sample (code execution and imperative evals), in seconds.
    pub timeout_secs: Option<u64>,
    /// Skipped unless `--ignored` or `--include-ignored`.
    pub ignore: bool,
    /// Why, from `ignore = "reason"`; empty when none was given.
    pub ignore_reason: &'static str,
    /// The score below which the eval fails in CI.
    pub min_score: Option<f64>,
    /// What it does.
    pub kind: EntryKind,
    /// An imperative eval's code as the macro saw it (the function, and the
    /// case's arguments): `--resume` runs its stored samples again once this
    /// changes. Empty for declarative evals (their case says what they ask
    /// and how it is scored) and where unknown.
    pub code: &'static str,
}

inventory::collect!(EvalEntry);

impl EvalEntry {
    /// The eval's full name as the harness lists it: the module path without
    /// its crate, the eval name, and the case, joined with `::`.
    pub fn full_name(&self) -> String {
        let mut parts: Vec<&str> = self.module_path.split("::").skip(1).collect();
        parts.push(self.name);
        if let Some(case) = self.case {
            parts.push(case);
        }
        parts.join("::")
    }

    /// The sandbox limits this eval runs under: `base` (litmus's defaults
    /// with `[run] timeout_secs` of `litmus.toml`, see
    /// [`resolve::limits`](crate::plan::resolve::limits)) with the eval's own
    /// `timeout`. A run and `--validate` both take an eval's limits from here.
    pub fn limits(&self, base: &litmus_sandbox::Limits) -> litmus_sandbox::Limits {
        match self.timeout_secs {
            Some(t) => base.clone().with_timeout(std::time::Duration::from_secs(t)),
            None => base.clone(),
        }
    }
}

/// Builds a declarative eval's case, catching a panic in the user's function
/// (the error names the eval's source location and the panic's message).
pub fn build_case(entry: &EvalEntry) -> Result<Case, String> {
    match entry.kind {
        EntryKind::Declarative(f) => std::panic::catch_unwind(f).map_err(|p| {
            format!(
                "building the case panicked ({}:{}): {}",
                entry.file,
                entry.line,
                crate::base::util::panic_message(p.as_ref())
            )
        }),
        EntryKind::Imperative(_) => Err("not a declarative eval".into()),
    }
}

/// A part of a name in [`natural_key`] order: a run of digits (by value:
/// its length without leading zeros, then its digits) before other text.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum NamePart {
    Number(usize, String),
    Text(String),
}

/// `name` as a sort key that orders its numbers by value.
fn natural_key(name: &str) -> Vec<NamePart> {
    let mut parts = Vec::new();
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        let digits = c.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digits)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        parts.push(if digits {
            let value = run.trim_start_matches('0');
            NamePart::Number(value.len(), run.to_string())
        } else {
            NamePart::Text(run.to_string())
        });
        rest = tail;
    }
    parts
}

/// A registered eval, resolved for a run.
#[derive(Clone, Copy)]
pub struct Eval {
    /// Its registration.
    pub entry: &'static EvalEntry,
}

impl Eval {
    /// Full name (see [`EvalEntry::full_name`]).
    pub fn name(&self) -> String {
        self.entry.full_name()
    }
}

/// All registered evals, sorted by name (numbers by value: `case_2` before
/// `case_10`). An error on duplicate names, which would make filtering and
/// results ambiguous.
pub fn all() -> Result<Vec<&'static EvalEntry>, String> {
    let mut entries: Vec<&'static EvalEntry> = inventory::iter::<EvalEntry>.into_iter().collect();
    entries.sort_by_cached_key(|e| natural_key(&e.full_name()));
    for pair in entries.windows(2) {
        if pair[0].full_name() == pair[1].full_name() {
            return Err(format!(
                "two evals are named `{}`: {}:{} and {}:{}; rename one with `#[eval(name = \"...\")]`",
                pair[0].full_name(),
                pair[0].file,
                pair[0].line,
                pair[1].file,
                pair[1].line
            ));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::natural_key;

    #[test]
    fn names_order_their_numbers_by_value() {
        let mut names = vec![
            "qa::x::case_10_j",
            "qa::x::case_2_b",
            "qa::x::case_1_a",
            "qa::w",
            "qa::x::case_11",
            "qa::x2",
        ];
        names.sort_by_cached_key(|n| natural_key(n));
        assert_eq!(
            names,
            [
                "qa::w",
                "qa::x2",
                "qa::x::case_1_a",
                "qa::x::case_2_b",
                "qa::x::case_10_j",
                "qa::x::case_11",
            ]
        );
    }
}
