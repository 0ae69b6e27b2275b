//! The output phase: the console ([`console`]), CI files and the exit code of
//! a run ([`ci`]), score snapshots ([`snapshot`]), the study report of
//! `cargo eval report` ([`study_report`]) and the merge of partial runs
//! (`cargo eval merge`, [`merge`]).

pub mod ci;
pub mod console;
pub mod merge;
pub mod snapshot;
pub mod study_report;
