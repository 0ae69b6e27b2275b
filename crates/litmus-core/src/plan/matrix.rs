//! The matrix of a run: a [`Plan`] (what the configuration and the flags
//! asked for) expanded, model by model, into an [`InstanceList`]: one
//! [`Instance`] per eval × template × temperature, each with the samples
//! (per repeat) still to produce.
//!
//! Resume filtering happens here: a sample already stored without an error
//! is left out of its instance's [`Instance::needed`] (the caller says which
//! samples are stored, see [`expand`]).
//!
//! The run phase consumes the list (`run::runner`); `--list --instances`
//! prints it ([`InstanceList::lines`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::base::backend::{Prompt, SamplingParams, StopRule};
use crate::base::model::ModelSpec;
use crate::base::util::sha256_hex;
use crate::eval::case::Case;
use crate::eval::registry::{build_case, EntryKind, EvalEntry};
use crate::eval::template::PromptTemplate;

/// What to run.
#[derive(Clone)]
pub struct Plan {
    /// The evals, already filtered.
    pub evals: Vec<&'static EvalEntry>,
    /// Models (one per quantization).
    pub models: Vec<ModelSpec>,
    /// Templates to cross with the cases.
    pub templates: Vec<PromptTemplate>,
    /// Temperatures to sweep.
    pub temperatures: Vec<f32>,
    /// Samples per case and configuration (an eval's own `samples` wins).
    pub samples: u32,
    /// How many times every sample is run (`--repeat`, at least 1; 0 counts
    /// as 1). Repeat `r` asks the same prompt with the same parameters and
    /// seed as repeat 0 and is stored with `repeat: r`; it is never answered
    /// from an earlier repeat's cached response, so the repeats measure how
    /// far the backend's answers vary between identical runs.
    pub repeat: u32,
    /// Per-eval sample counts from `litmus.toml`.
    pub samples_override: HashMap<String, u32>,
    /// Sampling parameters; `temperature` is set per configuration.
    pub params: SamplingParams,
    /// Parallel scoring jobs.
    pub jobs: usize,
    /// Sandbox limits for code execution (an eval's `timeout` overrides the time).
    pub limits: litmus_sandbox::Limits,
    /// Minimum scores per eval.
    pub min_scores: BTreeMap<String, f64>,
    /// The model that grades judged cases and answers `EvalContext::judge`;
    /// `None`: each model judges its own answers.
    pub judge: Option<ModelSpec>,
    /// Stop completions of code prompts where their definition ends
    /// ([`crate::base::backend::StopRule`]).
    pub stop_rules: bool,
    /// Run only this partition's instances (`--partition`); `None`: all.
    pub partition: Option<crate::plan::partition::Selection>,
}

impl Plan {
    /// Repeats of every sample (`repeat`, at least 1).
    pub fn repeats(&self) -> u32 {
        self.repeat.max(1)
    }

    /// Samples per repeat of `entry` under each configuration: the eval's
    /// own `samples`, else `litmus.toml`'s for it, else the plan's (at least 1).
    pub fn samples_of(&self, entry: &EvalEntry) -> u32 {
        entry
            .samples
            .or_else(|| self.samples_override.get(&entry.full_name()).copied())
            .unwrap_or(self.samples)
            .max(1)
    }

    /// Sandbox limits of `entry`: the plan's, with the eval's own timeout
    /// ([`EvalEntry::limits`]).
    pub fn limits_of(&self, entry: &EvalEntry) -> litmus_sandbox::Limits {
        entry.limits(&self.limits)
    }
}

/// A configuration: model, quantization, template and temperature.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConfigKey {
    /// Model name.
    pub model: String,
    /// Quantization.
    pub quantization: Option<String>,
    /// Template.
    pub template: String,
    /// The temperature's bits (so that the key can be hashed and ordered);
    /// written as `"temperature": 0.7` (summaries written before read too).
    #[serde(
        rename = "temperature",
        alias = "temperature_bits",
        with = "temperature_field"
    )]
    pub temperature_bits: u32,
}

/// A [`ConfigKey`]'s temperature as a number in JSON; an integer is the
/// bits that summaries written before held under `temperature_bits`.
mod temperature_field {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bits: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f32(f32::from_bits(*bits))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Bits(u32),
            Value(f32),
        }
        Ok(match Written::deserialize(d)? {
            Written::Bits(bits) => bits,
            Written::Value(t) => t.to_bits(),
        })
    }
}

impl ConfigKey {
    /// The temperature.
    pub fn temperature(&self) -> f32 {
        f32::from_bits(self.temperature_bits)
    }
    /// A short label: `model Q4_K_M plain t=0.7`.
    pub fn label(&self) -> String {
        let mut s = self.model.clone();
        if let Some(q) = &self.quantization {
            if !s.to_ascii_lowercase().contains(&q.to_ascii_lowercase()) {
                s.push(' ');
                s.push_str(q);
            }
        }
        format!("{s} {} t={}", self.template, self.temperature())
    }

    /// The key of sample `sample` of repeat `repeat` of `eval` under this
    /// configuration.
    pub fn sample(&self, eval: &str, repeat: u32, sample: u32) -> SampleKey {
        SampleKey {
            eval: eval.to_string(),
            model: self.model.clone(),
            quantization: self.quantization.clone(),
            template: self.template.clone(),
            temperature_bits: self.temperature_bits,
            repeat,
            sample,
        }
    }
}

/// Identity of a sample within a run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SampleKey {
    /// Eval name.
    pub eval: String,
    /// Model name.
    pub model: String,
    /// Quantization.
    pub quantization: Option<String>,
    /// Template.
    pub template: String,
    /// Temperature, as bits so that it can be hashed.
    pub temperature_bits: u32,
    /// Repeat index (0 without `--repeat`).
    pub repeat: u32,
    /// Sample index.
    pub sample: u32,
}

/// The samples of a run being resumed that are stored without an error,
/// each with the digest of its eval's inputs when stored
/// ([`Instance::case_digest`]). A key without a quantization (its spec names
/// none: `--list --instances --resume` before the model is loaded) matches a
/// stored sample of any quantization.
#[derive(Clone, Debug, Default)]
pub struct StoredSamples {
    exact: BTreeMap<SampleKey, Option<String>>,
    any_quantization: BTreeMap<SampleKey, Option<String>>,
}

impl StoredSamples {
    /// The samples with these keys and case digests.
    pub fn new(samples: impl IntoIterator<Item = (SampleKey, Option<String>)>) -> Self {
        let mut stored = StoredSamples::default();
        for (key, digest) in samples {
            let any = SampleKey {
                quantization: None,
                ..key.clone()
            };
            stored.any_quantization.insert(any, digest.clone());
            stored.exact.insert(key, digest);
        }
        stored
    }

    /// Whether sample `key` is stored for the eval as it is now, whose
    /// inputs digest to `digest`: a sample stored under other inputs (the
    /// prompt, tests, reference or limits changed since) is not. Where
    /// either digest is unknown (an imperative eval, a record of an earlier
    /// version), the key decides.
    pub fn contains(&self, key: &SampleKey, digest: Option<&str>) -> bool {
        let stored = match key.quantization {
            Some(_) => self.exact.get(key),
            None => self.any_quantization.get(key),
        };
        match (stored, digest) {
            (None, _) => false,
            (Some(Some(was)), Some(now)) => was == now,
            (Some(_), _) => true,
        }
    }
}

/// The case of each eval of a plan, in the order of [`Plan::evals`]: `None`
/// for an imperative eval, `Some(Err)` when building the case panicked.
/// Declarative cases are built once per process ([`build_cases`]).
pub type Cases = Vec<Option<Result<Arc<Case>, String>>>;

/// Builds the case of every declarative eval of `evals` ([`Cases`]).
pub fn build_cases(evals: &[&'static EvalEntry]) -> Cases {
    evals
        .iter()
        .map(|e| match e.kind {
            EntryKind::Declarative(_) => Some(build_case(e).map(Arc::new)),
            EntryKind::Imperative(_) => None,
        })
        .collect()
}

/// Whether `template` makes an instance of an eval whose case is `case` (an
/// element of [`Cases`]): when it applies to the case, and always for a case
/// that failed to build (its error is recorded under every template).
pub fn applies(case: &Option<Result<Arc<Case>, String>>, template: &PromptTemplate) -> bool {
    match case {
        Some(Err(_)) => true,
        Some(Ok(c)) => template.applies_to(Some(c)),
        None => template.applies_to(None),
    }
}

/// One eval under one configuration (model, quantization, template,
/// temperature), with the samples still to produce.
pub struct Instance {
    /// The eval's registration.
    pub entry: &'static EvalEntry,
    /// Its full name.
    pub eval: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The case of a declarative eval (`None` for an imperative one, or when
    /// building it failed).
    pub case: Option<Arc<Case>>,
    /// The case's fingerprint and the sandbox limits it is scored under
    /// (empty without a case): part of score cache keys.
    pub fingerprint: String,
    /// A digest of the fingerprint, the rendered prompt and the scorer's
    /// revision: what decides a sample besides the model (`None` for an
    /// imperative eval or a case that did not build). Records carry it, so
    /// that `--resume` runs again what an edit of the eval changed.
    pub case_digest: Option<String>,
    /// Index of the template in [`Plan::templates`].
    pub template: usize,
    /// The sampling temperature.
    pub temperature: f32,
    /// The rendered prompt of a declarative eval.
    pub prompt: Option<Prompt>,
    /// Where a completion of the prompt ends by its shape.
    pub stop_rule: Option<StopRule>,
    /// Why nothing can be generated (the case did not build, or the prompt
    /// did not render): each needed sample is recorded with this error.
    pub error: Option<String>,
    /// Samples per repeat ([`Plan::samples_of`]).
    pub samples: u32,
    /// (repeat, sample) pairs still to produce: every pair, less those
    /// stored without an error (on `--resume`).
    pub needed: Vec<(u32, u32)>,
    /// Sandbox limits ([`Plan::limits_of`]).
    pub limits: litmus_sandbox::Limits,
    /// The configuration.
    pub config: ConfigKey,
}

impl Instance {
    /// Whether an LLM judge grades its answers (a text case with a judge).
    pub fn judged(&self) -> bool {
        self.case.as_deref().is_some_and(Case::is_judged)
    }

    /// The samples of repeat `repeat` still to produce.
    pub fn needed_in(&self, repeat: u32) -> impl Iterator<Item = u32> + '_ {
        self.needed
            .iter()
            .filter(move |(r, _)| *r == repeat)
            .map(|&(_, i)| i)
    }

    /// The key of sample `sample` of repeat `repeat`.
    pub fn key(&self, repeat: u32, sample: u32) -> SampleKey {
        self.config.sample(&self.eval, repeat, sample)
    }
}

/// The instances of one model, in the order they are run: evals, then
/// templates, then temperatures.
pub struct InstanceList {
    /// The instances.
    pub instances: Vec<Instance>,
}

impl InstanceList {
    /// Keeps the instances of model `spec` that `plan`'s partition admits
    /// (all of them without `--partition`).
    pub fn retain_partition(&mut self, plan: &Plan, spec: &ModelSpec) {
        if let Some(selection) = plan.partition.as_ref() {
            self.instances.retain(|i| {
                let template = &plan.templates[i.template].name;
                crate::plan::partition::admits(
                    Some(selection),
                    &i.eval,
                    spec,
                    template,
                    i.temperature,
                )
            });
        }
    }

    /// Samples still to produce, over every instance.
    pub fn todo(&self) -> usize {
        self.instances.iter().map(|u| u.needed.len()).sum()
    }

    /// One line per instance, for `--list --instances`: `eval [label]: N
    /// samples`, with how many of them are stored already (on `--resume`),
    /// the repeats, and why the instance cannot run, when it cannot.
    pub fn lines(&self, repeats: u32) -> Vec<String> {
        self.instances
            .iter()
            .map(|u| {
                let total = u.samples as usize * repeats.max(1) as usize;
                let mut line = format!(
                    "{} [{}]: {} sample{}",
                    u.eval,
                    u.config.label(),
                    total,
                    if total == 1 { "" } else { "s" }
                );
                if repeats > 1 {
                    line.push_str(&format!(" ({} × {repeats} repeats)", u.samples));
                }
                if u.needed.len() < total {
                    line.push_str(&format!(", {} stored", total - u.needed.len()));
                }
                if let Some(e) = &u.error {
                    line.push_str(&format!(" (error: {e})"));
                }
                line
            })
            .collect()
    }
}

/// The rendered prompt of `case` under `template`, its stop rule, and why it
/// cannot be asked (the case did not build, its answers could not be scored
/// — nothing is generated for them —, or the prompt did not render).
fn render(
    case: &Option<Result<Arc<Case>, String>>,
    template: &PromptTemplate,
    stop_rules: bool,
) -> (Option<Prompt>, Option<StopRule>, Option<String>) {
    let (prompt, error) = match case {
        None => (None, None),
        Some(Err(e)) => (None, Some(e.clone())),
        Some(Ok(c)) => match crate::eval::case_scoring::check_scorable(c) {
            Err(e) => (None, Some(e)),
            Ok(()) => match template.render(c) {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(e.to_string())),
            },
        },
    };
    let stop_rule = match (&prompt, case) {
        (Some(Prompt::Completion(text)), Some(Ok(c))) if stop_rules => match &**c {
            Case::Code(code) => StopRule::for_completion(text, code.language),
            Case::Text(_) => None,
        },
        _ => None,
    };
    (prompt, stop_rule, error)
}

/// Expands `plan` for the model `model` (quantization `quantization`): every
/// eval (with its case in `cases`, see [`build_cases`]) × every template
/// that applies to it × every temperature. `stored(key, case_digest)` says
/// whether a sample is already stored without an error for the eval as it
/// is now ([`StoredSamples::contains`]); such samples are left out of
/// [`Instance::needed`] (resume filtering).
///
/// A template that does not apply to a case is skipped, except for a case
/// that failed to build: its error is recorded under every template.
pub fn expand(
    plan: &Plan,
    cases: &Cases,
    model: &str,
    quantization: Option<&str>,
    stored: &dyn Fn(&SampleKey, Option<&str>) -> bool,
) -> InstanceList {
    let mut instances = Vec::new();
    for (ei, entry) in plan.evals.iter().enumerate() {
        let eval = entry.full_name();
        let samples = plan.samples_of(entry);
        let limits = plan.limits_of(entry);
        let case = &cases[ei];
        let built = match case {
            Some(Ok(c)) => Some(c),
            _ => None,
        };
        // The limits too: a code answer that timed out under 10 s may pass
        // under 30 s, so a longer timeout must not reuse its cached score.
        let fingerprint = built
            .map(|c| {
                let limits = serde_json::to_string(&limits).unwrap_or_default();
                format!("{}\0{limits}", c.fingerprint())
            })
            .unwrap_or_default();
        for (ti, template) in plan.templates.iter().enumerate() {
            if !applies(case, template) {
                continue;
            }
            let (prompt, stop_rule, error) = render(case, template, plan.stop_rules);
            let case_digest = match entry.kind {
                EntryKind::Declarative(_) => {
                    built.map(|_| case_digest(&fingerprint, prompt.as_ref()))
                }
                // It asks and scores in its code, through the template.
                EntryKind::Imperative(_) => (!entry.code.is_empty()).then(|| {
                    let limits = serde_json::to_string(&limits).unwrap_or_default();
                    let template = serde_json::to_string(template).unwrap_or_default();
                    let code = entry.code;
                    case_digest(&format!("imperative\0{code}\0{limits}\0{template}"), None)
                }),
            };
            for &temperature in &plan.temperatures {
                let config = ConfigKey {
                    model: model.to_string(),
                    quantization: quantization.map(str::to_string),
                    template: template.name.clone(),
                    temperature_bits: temperature.to_bits(),
                };
                let needed: Vec<(u32, u32)> = (0..plan.repeats())
                    .flat_map(|r| (0..samples).map(move |i| (r, i)))
                    .filter(|&(r, i)| !stored(&config.sample(&eval, r, i), case_digest.as_deref()))
                    .collect();
                instances.push(Instance {
                    entry,
                    eval: eval.clone(),
                    tags: entry.tags.iter().map(|t| t.to_string()).collect(),
                    case: built.cloned(),
                    fingerprint: fingerprint.clone(),
                    case_digest: case_digest.clone(),
                    template: ti,
                    temperature,
                    prompt: prompt.clone(),
                    stop_rule: stop_rule.clone(),
                    error: error.clone(),
                    samples,
                    needed,
                    limits: limits.clone(),
                    config,
                });
            }
        }
    }
    InstanceList { instances }
}

/// [`Instance::case_digest`] of a case with `fingerprint` (limits included)
/// asked `prompt` (an imperative eval: its code, limits and template, and no
/// prompt of its own).
fn case_digest(fingerprint: &str, prompt: Option<&Prompt>) -> String {
    let prompt = serde_json::to_string(&prompt).unwrap_or_default();
    let revision = litmus_sandbox::scorer_revision();
    let digest = sha256_hex(format!("{fingerprint}\0{prompt}\0{revision}").as_bytes());
    digest[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::case::TextCase;
    use crate::eval::context::EvalContext;
    use crate::eval::score::{Score, ScoreResult};

    #[test]
    fn a_configuration_is_written_with_its_temperature() {
        let key = ConfigKey {
            model: "m".into(),
            quantization: None,
            template: "plain".into(),
            temperature_bits: 0.7f32.to_bits(),
        };
        let json = serde_json::to_string(&key).unwrap();
        assert!(json.contains(r#""temperature":0.7"#), "{json}");
        assert_eq!(serde_json::from_str::<ConfigKey>(&json).unwrap(), key);
        // As summaries written before had it.
        let old = json.replace(r#""temperature":0.7"#, r#""temperature_bits":1060320051"#);
        assert_eq!(serde_json::from_str::<ConfigKey>(&old).unwrap(), key);
        for t in [0.0f32, 1.0, 2.5] {
            let k = ConfigKey {
                temperature_bits: t.to_bits(),
                ..key.clone()
            };
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(
                serde_json::from_str::<ConfigKey>(&json).unwrap(),
                k,
                "{json}"
            );
        }
    }

    fn capital() -> Case {
        TextCase::new("Capital of France?")
            .reference("Paris")
            .into()
    }
    fn broken() -> Case {
        panic!("no case today")
    }
    fn imperative(_: &mut EvalContext<'_>) -> ScoreResult {
        Ok(Score::pass_if(true))
    }

    const fn entry(name: &'static str, samples: Option<u32>, kind: EntryKind) -> EvalEntry {
        EvalEntry {
            name,
            case: None,
            module_path: "tests",
            file: "matrix.rs",
            line: 1,
            tags: &["t"],
            samples,
            timeout_secs: None,
            ignore: false,
            ignore_reason: "",
            min_score: None,
            kind,
            code: "",
        }
    }
    static CAPITAL: EvalEntry = entry("capital", None, EntryKind::Declarative(capital));
    static BROKEN: EvalEntry = entry("broken", Some(1), EntryKind::Declarative(broken));
    static IMPERATIVE: EvalEntry = entry("imperative", Some(2), EntryKind::Imperative(imperative));

    fn plan(evals: Vec<&'static EvalEntry>) -> Plan {
        Plan {
            evals,
            models: Vec::new(),
            templates: vec![
                PromptTemplate::chat("plain", None, "{{task}}"),
                PromptTemplate::completion("code-only", "{{task}}"),
            ],
            temperatures: vec![0.0, 0.7],
            samples: 3,
            repeat: 2,
            samples_override: HashMap::new(),
            params: SamplingParams::default(),
            jobs: 1,
            limits: Default::default(),
            min_scores: BTreeMap::new(),
            judge: None,
            stop_rules: true,
            partition: None,
        }
    }

    #[test]
    fn the_matrix_crosses_evals_templates_temperatures_repeats_and_samples() {
        let mut p = plan(vec![&CAPITAL, &IMPERATIVE]);
        p.templates.truncate(1);
        let cases = build_cases(&p.evals);
        let list = expand(&p, &cases, "m", Some("Q4_0"), &|_, _| false);
        let names: Vec<(&str, f32)> = list
            .instances
            .iter()
            .map(|u| (u.eval.as_str(), u.temperature))
            .collect();
        assert_eq!(
            names,
            [
                ("capital", 0.0),
                ("capital", 0.7),
                ("imperative", 0.0),
                ("imperative", 0.7)
            ]
        );
        let capital = &list.instances[0];
        assert_eq!(capital.needed.len(), 6, "3 samples × 2 repeats");
        assert_eq!(capital.needed_in(1).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(capital.prompt.is_some() && capital.error.is_none());
        assert_eq!(capital.config.label(), "m Q4_0 plain t=0");
        assert!(!capital.fingerprint.is_empty());
        assert!(list.instances[2].prompt.is_none() && list.instances[2].case.is_none());
        assert_eq!(list.instances[2].needed.len(), 4, "the eval's own samples");
        assert_eq!(list.todo(), 6 + 6 + 4 + 4);
    }

    #[test]
    fn scores_under_other_limits_are_other_cache_entries() {
        let fingerprint = |timeout_secs: u64| {
            let mut p = plan(vec![&CAPITAL]);
            p.limits.timeout = std::time::Duration::from_secs(timeout_secs);
            let cases = build_cases(&p.evals);
            expand(&p, &cases, "m", None, &|_, _| false).instances[0]
                .fingerprint
                .clone()
        };
        assert_eq!(fingerprint(10), fingerprint(10));
        assert_ne!(fingerprint(10), fingerprint(30));
    }

    #[test]
    fn stored_samples_are_left_out_and_listed_as_stored() {
        let mut p = plan(vec![&CAPITAL]);
        p.templates.truncate(1);
        let cases = build_cases(&p.evals);
        let stored =
            |k: &SampleKey, _: Option<&str>| k.temperature_bits == 0f32.to_bits() && k.repeat == 0;
        let list = expand(&p, &cases, "m", None, &stored);
        assert_eq!(list.instances.len(), 2);
        assert_eq!(list.instances[0].needed, [(1, 0), (1, 1), (1, 2)]);
        assert_eq!(list.instances[1].needed.len(), 6);
        assert_eq!(
            list.lines(p.repeats()),
            [
                "capital [m plain t=0]: 6 samples (3 × 2 repeats), 3 stored",
                "capital [m plain t=0.7]: 6 samples (3 × 2 repeats)"
            ]
        );
    }

    #[test]
    fn a_stored_sample_matches_a_key_without_quantization() {
        let key = |q: Option<&str>| SampleKey {
            eval: "e".into(),
            model: "m".into(),
            quantization: q.map(str::to_string),
            template: "plain".into(),
            temperature_bits: 0,
            repeat: 0,
            sample: 1,
        };
        let stored = StoredSamples::new([(key(Some("Q4_0")), None)]);
        assert!(stored.contains(&key(Some("Q4_0")), None) && stored.contains(&key(None), None));
        assert!(!stored.contains(&key(Some("Q8_0")), None));
        assert!(!StoredSamples::new([(key(None), None)]).contains(&key(Some("Q4_0")), None));
    }

    #[test]
    fn a_sample_stored_under_other_inputs_is_not_stored() {
        let key = SampleKey {
            eval: "e".into(),
            model: "m".into(),
            quantization: Some("Q4_0".into()),
            template: "plain".into(),
            temperature_bits: 0,
            repeat: 0,
            sample: 0,
        };
        let stored = StoredSamples::new([(key.clone(), Some("a".to_string()))]);
        assert!(stored.contains(&key, Some("a")));
        assert!(!stored.contains(&key, Some("b")), "the eval changed since");
        // Unknown on either side (an imperative eval; an earlier version's
        // record): the key decides.
        assert!(stored.contains(&key, None));
        assert!(StoredSamples::new([(key.clone(), None)]).contains(&key, Some("b")));
    }

    #[test]
    fn the_case_digest_follows_the_prompt_the_case_and_its_limits() {
        fn lyon() -> Case {
            TextCase::new("Capital of France?").reference("Lyon").into()
        }
        static LYON: EvalEntry = entry("capital", None, EntryKind::Declarative(lyon));
        let digest = |eval: &'static EvalEntry, template: &str, timeout_secs: u64| {
            let mut p = plan(vec![eval]);
            p.templates = vec![PromptTemplate::chat("plain", None, template)];
            p.limits.timeout = std::time::Duration::from_secs(timeout_secs);
            let cases = build_cases(&p.evals);
            let list = expand(&p, &cases, "m", None, &|_, _| false);
            list.instances[0].case_digest.clone().unwrap()
        };
        let was = digest(&CAPITAL, "{{task}}", 10);
        assert_eq!(was, digest(&CAPITAL, "{{task}}", 10));
        assert_ne!(was, digest(&LYON, "{{task}}", 10), "another reference");
        assert_ne!(was, digest(&CAPITAL, "Q: {{task}}", 10), "another prompt");
        assert_ne!(was, digest(&CAPITAL, "{{task}}", 30), "other limits");
        // An imperative eval: its code, limits and template.
        let coded = |eval: &'static EvalEntry, template: &str, timeout_secs: u64| {
            let mut p = plan(vec![eval]);
            p.templates = vec![PromptTemplate::chat("plain", None, template)];
            p.limits.timeout = std::time::Duration::from_secs(timeout_secs);
            let list = expand(&p, &build_cases(&p.evals), "m", None, &|_, _| false);
            list.instances[0].case_digest.clone()
        };
        static CODED: EvalEntry = EvalEntry {
            code: "fn imperative(ctx) { ctx.ask(\"a\") }",
            ..entry("imperative", Some(2), EntryKind::Imperative(imperative))
        };
        static EDITED: EvalEntry = EvalEntry {
            code: "fn imperative(ctx) { ctx.ask(\"b\") }",
            ..entry("imperative", Some(2), EntryKind::Imperative(imperative))
        };
        let was = coded(&CODED, "{{task}}", 10).unwrap();
        assert_eq!(Some(&was), coded(&CODED, "{{task}}", 10).as_ref());
        assert_ne!(
            Some(&was),
            coded(&EDITED, "{{task}}", 10).as_ref(),
            "edited"
        );
        assert_ne!(
            Some(&was),
            coded(&CODED, "Q: {{task}}", 10).as_ref(),
            "template"
        );
        assert_ne!(Some(&was), coded(&CODED, "{{task}}", 30).as_ref(), "limits");
        // Registered without its code (by hand): the key alone decides.
        assert!(coded(&IMPERATIVE, "{{task}}", 10).is_none());
    }

    #[test]
    fn a_case_that_does_not_build_is_an_error_under_every_template() {
        let mut p = plan(vec![&BROKEN]);
        p.repeat = 1;
        p.temperatures.truncate(1);
        let cases = build_cases(&p.evals);
        let list = expand(&p, &cases, "m", None, &|_, _| false);
        assert_eq!(list.instances.len(), 2);
        let e = list.instances[0].error.as_deref().unwrap();
        assert!(
            e.contains("no case today") && e.contains("matrix.rs:1"),
            "{e}"
        );
        assert_eq!(
            list.lines(1)[1],
            format!("broken [m code-only t=0]: 1 sample (error: {e})")
        );
    }
}
