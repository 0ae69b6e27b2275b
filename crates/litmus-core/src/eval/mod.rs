//! What an eval declares: cases ([`case`]), scores ([`score`]), LLM judges
//! ([`judge`]), prompt templates ([`template`]), the context an imperative eval
//! calls the model through ([`context`]), how an answer to a case is scored
//! ([`case_scoring`]) and the registry `#[eval]` adds to ([`registry`]).

pub mod case;
pub mod case_scoring;
pub mod context;
pub mod judge;
pub mod placeholders;
pub mod registry;
pub mod score;
pub mod template;
