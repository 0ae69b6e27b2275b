//! What every phase shares: the backend interface (and the [`ModelCaller`](caller::ModelCaller)
//! role that evals and judges call models through), model specs, the exit-code
//! table, paths, small helpers. Nothing here depends on another phase.

pub mod backend;
pub mod busy;
pub mod caller;
pub mod exit;
pub mod model;
pub mod paths;
pub mod util;
