//! Helpers shared by the runner and judge tests: registry entries, a reporter
//! that keeps unit summaries, plans and result stores.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use litmus_core::base::backend::{Generation, SamplingParams};
use litmus_core::base::model::{BackendKind, ModelSpec};
use litmus_core::eval::template::PromptTemplate;
use litmus_core::plan::matrix::Plan;
use litmus_core::run::collect::{Event, Reporter};
use litmus_core::run::store::{RunMeta, RunStore};
use litmus_core::run::summary::UnitSummary;

/// A registry entry as `#[eval]` would write it, with every option at its default.
#[macro_export]
macro_rules! entry {
    ($name:literal, $kind:expr) => {
        litmus_core::eval::registry::EvalEntry {
            name: $name,
            case: None,
            module_path: "tests",
            file: file!(),
            line: line!(),
            tags: &[],
            samples: None,
            timeout_secs: None,
            ignore: false,
            min_score: None,
            kind: $kind,
        }
    };
}

/// A text case scored by exact match against `reference`.
pub fn exact_case(question: &str, reference: &str) -> litmus_core::eval::case::Case {
    litmus_core::eval::case::TextCase::new(question)
        .reference(reference)
        .metric(litmus_core::eval::case::Metric::exact())
        .into()
}

/// Keeps the summary of every unit the runner reports.
#[derive(Default)]
pub struct Collect {
    pub units: Vec<UnitSummary>,
}

impl Reporter for Collect {
    fn event(&mut self, e: Event<'_>) {
        if let Event::EvalFinished(u) = e {
            self.units.push(u.clone());
        }
    }
}

/// A llama-backed model spec named `name` (the tests' openers ignore the source).
pub fn spec(name: &str) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        backend: BackendKind::Llama,
        source: format!("{name}.gguf"),
        ..Default::default()
    }
}

/// A plan over model `m` with one chat template and the given temperatures.
pub fn plan(
    evals: Vec<&'static litmus_core::eval::registry::EvalEntry>,
    samples: u32,
    template: &str,
    temperatures: &[f32],
) -> Plan {
    Plan {
        evals,
        models: vec![spec("m")],
        templates: vec![PromptTemplate::chat("plain", None, template)],
        temperatures: temperatures.to_vec(),
        samples,
        repeat: 1,
        samples_override: HashMap::new(),
        params: SamplingParams::default(),
        jobs: 2,
        limits: Default::default(),
        min_scores: BTreeMap::new(),
        judge: None,
        stop_rules: true,
        partition: None,
    }
}

/// A fresh results store for run `id` under `dir`.
pub fn store(dir: &std::path::Path, id: &str) -> RunStore {
    RunStore::create(
        dir,
        &RunMeta {
            id: id.into(),
            ..Default::default()
        },
    )
    .unwrap()
}

/// `text` as the answer to every sample of `samples` (a test backend's reply).
pub fn answers(samples: &[u32], text: &str) -> Vec<Generation> {
    samples
        .iter()
        .map(|&sample| Generation {
            sample,
            text: text.into(),
            ..Generation::default()
        })
        .collect()
}
