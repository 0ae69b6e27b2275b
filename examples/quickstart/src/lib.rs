//! The quickstart crate: its evals live in `evals/`.
