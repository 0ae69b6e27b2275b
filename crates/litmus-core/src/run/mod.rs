//! The run phase: executes the instances of a plan model by model
//! ([`runner`]): generation through the response cache ([`generate`], also
//! for the LLM judge: [`judge`]), imperative evals and scoring ([`execute`]),
//! collection into the results store and the reporter ([`collect`],
//! [`store`]); summaries ([`summary`]); replays of stored runs ([`replay`]);
//! the validation of declared evals ([`validate`]); the fidelity of
//! quantizations measured over a stored run's answers ([`fidelity`]).

pub mod collect;
pub mod execute;
pub mod fidelity;
pub mod generate;
pub mod judge;
mod lazy;
pub mod merge;
pub mod replay;
pub mod runner;
pub mod store;
pub mod summary;
pub mod validate;
