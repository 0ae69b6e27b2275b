//! The built-in eval suites of litmus.
//!
//! - `python`, `rust`: code generation, scored by running the answer against
//!   examples and unit tests in a sandbox;
//! - `summarize`: summarization, scored by ROUGE-L against references;
//! - `qa`: short answers, scored by exact or regex match.
//!
//! Tags: the suite name, the language, and a difficulty (`easy`, `medium`, `hard`;
//! the code suites also have `starter`, a rung below `easy` that very small
//! models can partly solve).

pub mod python;
pub mod qa;
pub mod rust;
pub mod summarize;
