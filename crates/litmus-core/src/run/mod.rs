//! The run phase: generation (through the response cache), scoring and
//! collection into the results store and summaries; replays of stored runs;
//! the validation of declared evals; the fidelity of quantizations measured
//! over a stored run's answers.

pub mod fidelity;
pub mod replay;
pub mod runner;
pub mod store;
pub mod summary;
pub mod validate;
