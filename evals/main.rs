//! The eval target of the built-in suites: `cargo eval` (or
//! `cargo test -p litmus-evals --test evals`) runs them.
litmus::main!(litmus_evals);
