//! The replay backend: answers from an earlier run's results, so a run can be
//! re-scored (new scorers, fixed references) without a model.
//!
//! A request is answered with the recorded response of the same prompt,
//! temperature and sample index. When the recording holds several models, the
//! spec's `model` picks one (`replay:RUN#model-name`). A recording made with
//! `--repeat N` keeps each repeat's answers: repeat `r` of a replay is
//! answered with the recorded repeat `r` (repeat 0's answer when the
//! recording has no such repeat, as a replay is itself deterministic).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::base::backend::{
    Backend, BackendError, Generation, GenerationRequest, ModelInfo, Prompt, Timings,
};
use crate::run::store::{read_run, SampleRecord};

/// Opens a replay of `spec.source`: a run directory, or a run id (or
/// `latest`) under `output_dir/runs/`.
pub fn open(
    output_dir: &Path,
    spec: &crate::base::model::ModelSpec,
) -> Result<crate::base::backend::SharedBackend, BackendError> {
    let dir = crate::run::store::find_run(output_dir, &spec.source).ok_or_else(|| {
        BackendError::Load(format!(
            "replay: no run `{}` (give a run directory, or a run id under {})",
            spec.source,
            output_dir.join("runs").display()
        ))
    })?;
    Ok(std::sync::Arc::new(ReplayBackend::open(
        &dir,
        spec.model.as_deref(),
    )?))
}

/// Answers from recorded samples.
pub struct ReplayBackend {
    info: ModelInfo,
    /// By (prompt, temperature bits, sample, repeat).
    answers: HashMap<(String, u32, u32, u32), Generation>,
    calls: AtomicU64,
}

fn prompt_key(p: &Prompt) -> String {
    serde_json::to_string(p).unwrap_or_default()
}

impl ReplayBackend {
    /// Loads the run in `dir`; `model` picks one model of several.
    pub fn open(dir: &Path, model: Option<&str>) -> Result<Self, BackendError> {
        let records = read_run(dir).map_err(|e| BackendError::Load(e.to_string()))?;
        Self::from_records(&records, model, &dir.display().to_string())
    }

    /// Builds a replay from records (the source names it in errors).
    pub fn from_records(
        records: &[SampleRecord],
        model: Option<&str>,
        source: &str,
    ) -> Result<Self, BackendError> {
        let mut models: Vec<&str> = records.iter().map(|r| r.model.as_str()).collect();
        models.sort_unstable();
        models.dedup();
        let chosen = match (model, models.as_slice()) {
            (Some(m), _) if models.contains(&m) => m.to_string(),
            (Some(m), _) => {
                return Err(BackendError::Load(format!(
                    "{source}: no samples of model `{m}` (recorded: {})",
                    models.join(", ")
                )))
            }
            (None, [one]) => one.to_string(),
            (None, []) => String::from("replay"),
            (None, many) => {
                return Err(BackendError::Load(format!(
                    "{source}: records several models ({}); pick one with replay:RUN#MODEL",
                    many.join(", ")
                )))
            }
        };
        let mut answers = HashMap::new();
        let mut info = ModelInfo {
            name: chosen.clone(),
            backend: "replay".into(),
            digest: format!("replay:{source}"),
            ..ModelInfo::default()
        };
        for r in records.iter().filter(|r| r.model == chosen) {
            info.quantization = r.quantization.clone();
            let mut push = |prompt: &Prompt, text: &str, usage, timings| {
                answers.insert(
                    (
                        prompt_key(prompt),
                        r.temperature.to_bits(),
                        r.sample,
                        r.repeat,
                    ),
                    Generation {
                        sample: r.sample,
                        text: text.to_string(),
                        finish: Default::default(),
                        usage,
                        timings,
                        served_by: None,
                    },
                );
            };
            if r.exchanges.is_empty() {
                if let (Some(p), Some(resp)) = (&r.prompt, &r.response) {
                    push(p, resp, r.usage, r.timings);
                }
            } else {
                for ex in &r.exchanges {
                    push(
                        &ex.prompt,
                        &ex.response,
                        Default::default(),
                        Timings::default(),
                    );
                }
            }
        }
        Ok(ReplayBackend {
            info,
            answers,
            calls: AtomicU64::new(0),
        })
    }

    /// Number of `generate` calls answered so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Number of recorded answers.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

impl Backend for ReplayBackend {
    fn model(&self) -> &ModelInfo {
        &self.info
    }

    fn generate(&self, request: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        self.generate_repeat(request, 0)
    }

    fn generate_repeat(
        &self,
        request: &GenerationRequest,
        repeat: u32,
    ) -> Result<Vec<Generation>, BackendError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let key = prompt_key(&request.prompt);
        let t = request.params.temperature.to_bits();
        request
            .samples
            .iter()
            .map(|&i| {
                self.answers
                    .get(&(key.clone(), t, i, repeat))
                    .or_else(|| self.answers.get(&(key.clone(), t, i, 0)))
                    .cloned()
                    .ok_or_else(|| {
                        BackendError::Missing(format!(
                            "no recorded answer for sample {i} at temperature {} of prompt {:?}",
                            request.params.temperature,
                            crate::base::util::truncate(&request.prompt.to_text(), 80)
                        ))
                    })
            })
            .collect()
    }

    fn parallelism(&self) -> usize {
        8
    }
}
