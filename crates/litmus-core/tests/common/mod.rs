//! Helpers shared by the runner and judge tests: registry entries, a reporter
//! that keeps unit summaries, plans and result stores.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use litmus_core::base::backend::{
    Backend, BackendError, Generation, GenerationRequest, ModelIdentity, ModelInfo, SamplingParams,
};
use litmus_core::base::model::{BackendKind, ModelSpec};
use litmus_core::eval::template::PromptTemplate;
use litmus_core::plan::matrix::Plan;
use litmus_core::plan::placement::{
    Device, DeviceKind, DeviceSource, Inventory, LayerMemory, ModelMemory, GIB, MIB,
};
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
            ignore_reason: "",
            min_score: None,
            kind: $kind,
            code: "",
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

/// A machine with `gpus` GPUs of 8 GiB and a CPU of 2 cores.
pub struct Sim {
    pub gpus: usize,
}

impl DeviceSource for Sim {
    fn inventory(&self) -> Result<Inventory, String> {
        let mut devices: Vec<Device> = (0..self.gpus)
            .map(|i| Device {
                name: format!("CUDA{i}"),
                index: i,
                kind: DeviceKind::Gpu,
                backend: "CUDA".into(),
                description: "Simulated GPU".into(),
                memory_total: 8 * GIB,
                memory_free: 8 * GIB,
                cores: None,
                threads: None,
                core_cpus: Vec::new(),
                pci_bus_id: None,
            })
            .collect();
        devices.push(Device {
            name: "CPU".into(),
            index: self.gpus,
            kind: DeviceKind::Cpu,
            backend: "CPU".into(),
            description: "Simulated CPU".into(),
            memory_total: 16 * GIB,
            memory_free: 16 * GIB,
            cores: Some(2),
            threads: Some(2),
            core_cpus: vec![vec![0], vec![1]],
            pci_bus_id: None,
        });
        Ok(Inventory {
            devices,
            gpu_support: self.gpus > 0,
            gpu_backends: Vec::new(),
            system_info: String::new(),
        })
    }

    /// Every model: 8 layers of 100 MiB (about 1 GiB in all).
    fn memory(&self, _: &ModelSpec) -> Result<ModelMemory, String> {
        Ok(ModelMemory {
            layers: vec![
                LayerMemory {
                    weights: 100 * MIB,
                    kv: 10 * MIB,
                };
                8
            ],
            input: 50 * MIB,
            output: 50 * MIB,
            compute_main: 20 * MIB,
            compute_other: 10 * MIB,
            compute_host: 5 * MIB,
            output_buffer: MIB,
            ..ModelMemory::default()
        })
    }
}

/// [`Sim`] that also knows each model's cache identity before loading it
/// (as the eval target's llama.cpp does), as the function tells it.
pub struct Known<F>(pub Sim, pub F);

impl<F: Fn(&ModelSpec) -> ModelIdentity + Sync> DeviceSource for Known<F> {
    fn inventory(&self) -> Result<Inventory, String> {
        self.0.inventory()
    }
    fn memory(&self, spec: &ModelSpec) -> Result<ModelMemory, String> {
        self.0.memory(spec)
    }
    fn identity(&self, spec: &ModelSpec) -> Option<ModelIdentity> {
        Some((self.1)(spec))
    }
}

/// Answers every request with `reply` after `delay`, as a model taking
/// `parallel` requests at once, counting in `in_flight` the requests in
/// flight (shared by several backends to count across a run) and in `most`
/// the most at once.
pub struct Slow {
    pub info: ModelInfo,
    pub reply: &'static str,
    pub delay: Duration,
    pub parallel: usize,
    pub in_flight: Arc<AtomicUsize>,
    pub most: Arc<AtomicUsize>,
}

impl Backend for Slow {
    fn model(&self) -> &ModelInfo {
        &self.info
    }
    fn generate(&self, r: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(answers(&r.samples, self.reply))
    }
    fn parallelism(&self) -> usize {
        self.parallel
    }
}
