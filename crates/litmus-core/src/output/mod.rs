//! The output phase: the console ([`console`]), CI files and the exit code of
//! a run ([`ci`]), score snapshots ([`snapshot`]) and the study report of
//! `cargo eval report` ([`study_report`]).

pub mod ci;
pub mod console;
pub mod snapshot;
pub mod study_report;
