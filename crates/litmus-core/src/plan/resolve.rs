//! Configuration and flags → a [`Plan`]: for every setting the command line
//! wins ([`Choices`]), then `litmus.toml` ([`Config`]), then litmus's default.
//!
//! ```
//! use litmus_core::plan::config::Config;
//! use litmus_core::plan::resolve::{plan, Choices};
//! let config = Config::default();
//! let choices = Choices { samples: Some(2), temperatures: vec![0.0, 0.7], ..Choices::default() };
//! let p = plan(&config, &choices, Vec::new()).unwrap();
//! assert_eq!((p.samples, p.temperatures.len(), p.templates[0].name.as_str()), (2, 2, "plain"));
//! assert_eq!(p.models[0].name, "gemma3-270m-q4_k_m");
//! ```

use std::collections::{BTreeMap, HashMap};

use crate::base::backend::SamplingParams;
use crate::base::model::{BackendKind, ModelSpec};
use crate::eval::case::Case;
use crate::eval::registry::EvalEntry;
use crate::eval::template::{PromptTemplate, TemplateScope};
use crate::plan::config::{Config, DEFAULT_MODEL};
use crate::plan::matrix::{applies, Cases, Plan};
use crate::plan::placement::CheckError;

/// What the command line chose for a run. An empty list or `None` leaves
/// the setting to `litmus.toml`, then to the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Choices {
    /// `--model` (names from `litmus.toml` or spec strings).
    pub models: Vec<String>,
    /// `--template`.
    pub templates: Vec<String>,
    /// `--judge`.
    pub judge: Option<String>,
    /// `--temperature`.
    pub temperatures: Vec<f32>,
    /// `--samples`.
    pub samples: Option<u32>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--max-tokens`.
    pub max_tokens: Option<u32>,
    /// `--jobs`.
    pub jobs: Option<usize>,
    /// `--repeat` (0 counts as 1).
    pub repeat: u32,
}

/// The model arguments of a run: `chosen`, else `[run] models`, else
/// [`DEFAULT_MODEL`].
pub fn model_names(config: &Config, chosen: &[String]) -> Vec<String> {
    if !chosen.is_empty() {
        chosen.to_vec()
    } else if !config.run.models.is_empty() {
        config.run.models.clone()
    } else {
        vec![DEFAULT_MODEL.to_string()]
    }
}

/// The models of a run, resolved ([`model_names`]): an unknown name from
/// `[run] models` names the file and line; one from the command line names
/// its `flag`.
pub fn models(config: &Config, chosen: &[String], flag: &str) -> Result<Vec<ModelSpec>, String> {
    let from_file = chosen.is_empty() && !config.run.models.is_empty();
    model_names(config, chosen)
        .iter()
        .map(|m| {
            config
                .resolve_model(m)
                .map_err(|e| named_where(config, "models", from_file, Some(flag), e))
        })
        .collect()
}

/// Checks, before anything runs, the source of each local (llama) model in
/// `models` (a run's, resolved from `chosen` or the configuration) and of
/// its `judge` with `check` (a [`DeviceSource::check`]: a GGUF file that
/// exists, a known built-in name). The error names where the model was
/// given: its `[models]` key and line (`source`, or the quantization's
/// entry), the `[run] models` line, or `--model` / `--judge`.
///
/// [`DeviceSource::check`]: crate::plan::placement::DeviceSource::check
pub fn check_sources(
    config: &Config,
    chosen: &[String],
    models: &[ModelSpec],
    judge: Option<&ModelSpec>,
    check: impl Fn(&ModelSpec) -> Result<(), CheckError>,
) -> Result<(), String> {
    // Where `spec`'s problem was written in litmus.toml: an engine option's
    // value at its key, else the model's source.
    let located = |spec: &ModelSpec, e: &CheckError| -> Option<String> {
        let option_at = e.option.as_deref().and_then(|key| {
            let (name, _) = config
                .models
                .iter()
                .find(|(_, m)| m.name == spec.name && m.options.contains_key(key))?;
            Some((
                vec!["models", name.as_str(), "options", key],
                format!("models.{name}.options"),
            ))
        });
        let (at, key) = option_at.or_else(|| defined_at(config, spec))?;
        Some(
            config
                .error_at(&at, format!("{key}: {}", e.message))
                .to_string(),
        )
    };
    let local = |spec: &&ModelSpec| spec.backend == BackendKind::Llama;
    for spec in models.iter().filter(local) {
        if let Err(e) = check(spec) {
            return Err(located(spec, &e).unwrap_or_else(|| {
                let from_file = chosen.is_empty() && !config.run.models.is_empty();
                named_where(config, "models", from_file, Some("--model"), e.message)
            }));
        }
    }
    match judge.filter(local).map(|spec| (spec, check(spec))) {
        Some((spec, Err(e))) => {
            Err(located(spec, &e).unwrap_or_else(|| format!("judge: {}", e.message)))
        }
        _ => Ok(()),
    }
}

/// The `[models]` entry that gave `spec` its source: the key's path and
/// its dotted name (`models.NAME.source`, or `models.NAME.quantizations.Q`
/// for one of several quantizations).
pub fn defined_at<'c>(config: &'c Config, spec: &ModelSpec) -> Option<(Vec<&'c str>, String)> {
    config.models.iter().find_map(|(name, m)| {
        if m.name != spec.name || m.backend != spec.backend {
            return None;
        }
        match &spec.quantization {
            Some(label) if !m.quantizations.is_empty() => {
                let (label, _) = m.quantizations.get_key_value(label)?;
                let at = vec!["models", name.as_str(), "quantizations", label.as_str()];
                Some((at, format!("models.{name}.quantizations.{label}")))
            }
            _ => (m.source == spec.source).then(|| {
                (
                    vec!["models", name.as_str(), "source"],
                    format!("models.{name}.source"),
                )
            }),
        }
    })
}

/// The error `e` about a name given in `[run] KEY` (`from_file`: say the
/// file and line, as `[judge] model` does) or on the command line (with
/// its `flag`, when there is one to name).
fn named_where(
    config: &Config,
    key: &str,
    from_file: bool,
    flag: Option<&str>,
    e: impl std::fmt::Display,
) -> String {
    match (from_file, flag) {
        (true, _) => config
            .error_at(&["run", key], format!("run.{key}: {e}"))
            .to_string(),
        (false, Some(flag)) => format!("{flag}: {e}"),
        (false, None) => e.to_string(),
    }
}

/// The tags that select a run's evals (an eval runs when it has one of
/// them): `chosen` (`--tag`), else `[run] tags`; none: every eval.
pub fn tags(config: &Config, chosen: &[String]) -> Vec<String> {
    if !chosen.is_empty() {
        chosen.to_vec()
    } else {
        config.run.tags.clone()
    }
}

/// The templates of a run: `chosen`, else `[run] templates`, else `plain`;
/// an unknown name is an error.
pub fn templates(config: &Config, chosen: &[String]) -> Result<Vec<PromptTemplate>, String> {
    let names: Vec<String> = if !chosen.is_empty() {
        chosen.to_vec()
    } else if !config.run.templates.is_empty() {
        config.run.templates.clone()
    } else {
        vec!["plain".to_string()]
    };
    let from_file = chosen.is_empty() && !config.run.templates.is_empty();
    let all = config.all_templates();
    names
        .iter()
        .map(|name| {
            crate::eval::template::find(&all, name)
                .cloned()
                .map_err(|e| named_where(config, "templates", from_file, None, e))
        })
        .collect()
}

/// Variables litmus fills in every template (see [`crate::eval::template`]);
/// the others come from the cases (`.var(..)`).
const TEMPLATE_VARS: &[&str] = &["task", "task_inline", "language", "prefix"];

/// A placeholder of a chosen template that no selected eval can fill (not
/// one litmus fills, nor a variable of any selected case) is an error now,
/// naming the template (and for one from `litmus.toml`, the file and
/// line), not an error of every sample later.
fn check_placeholders(
    config: &Config,
    templates: &[PromptTemplate],
    evals: &[&'static EvalEntry],
    cases: &mut Option<Cases>,
) -> Result<(), String> {
    for t in templates {
        let fields = [
            ("system", &t.system),
            ("user", &t.user),
            ("completion", &t.completion),
        ];
        for (field, text) in fields {
            let Some(text) = text else { continue };
            let names = crate::eval::placeholders::placeholders(&t.name, text)
                .map_err(|e| e.to_string())?;
            for (_, name) in names {
                if TEMPLATE_VARS.contains(&name) {
                    continue;
                }
                let cases = cases.get_or_insert_with(|| crate::plan::matrix::build_cases(evals));
                let filled = cases
                    .iter()
                    .flatten()
                    .flatten()
                    .any(|c| c.vars().contains_key(name));
                if filled || evals.is_empty() {
                    continue;
                }
                let message = format!(
                    "templates.{}.{field}: placeholder `{{{{{name}}}}}` is filled by nothing: litmus fills {}, and no selected case has a variable `{name}` (`.var(..)`)",
                    t.name,
                    TEMPLATE_VARS.join(", ")
                );
                return Err(
                    if config.templates.contains_key(&t.name) && config.path.is_some() {
                        config
                            .error_at(&["templates", &t.name, field], message)
                            .to_string()
                    } else {
                        message
                    },
                );
            }
        }
    }
    Ok(())
}

/// Which cases a template's scope admits, in words.
fn scope_words(t: &PromptTemplate) -> &'static str {
    match t.scope {
        TemplateScope::Any => "every case",
        TemplateScope::Code => "code cases only",
        TemplateScope::Text => "text cases and imperative evals only",
    }
}

/// Whether `t` applies to every case, whatever its kind: its scope is any
/// case, or it renders the others with a template that does (`base`).
fn applies_to_every_case(t: &PromptTemplate) -> bool {
    match t.otherwise.as_deref() {
        Some(other) => applies_to_every_case(other),
        None => t.scope == TemplateScope::Any,
    }
}

/// How many of `evals` (their cases in `cases`) `keep` keeps, and the
/// others by kind: `3 text, 1 imperative`.
fn count_kinds(
    evals: &[&'static EvalEntry],
    cases: &Cases,
    keep: impl Fn(usize) -> bool,
) -> (usize, String) {
    let mut left_out = BTreeMap::new();
    for (i, _) in evals.iter().enumerate().filter(|&(i, _)| !keep(i)) {
        let kind = match &cases[i] {
            None => "imperative",
            Some(Ok(c)) if matches!(**c, Case::Code(_)) => "code",
            Some(_) => "text",
        };
        *left_out.entry(kind).or_insert(0) += 1;
    }
    let out: usize = left_out.values().sum();
    let kinds: Vec<String> = left_out.iter().map(|(k, n)| format!("{n} {k}")).collect();
    (evals.len() - out, kinds.join(", "))
}

/// What the templates' scopes leave out of a run over `evals` (their cases
/// in `cases`, built when a scope may leave one out): a warning for each
/// template that applies to none of them, and one for the evals that no
/// template applies to, which run under none; an error when that is every
/// eval (nothing would run).
fn check_scopes(
    templates: &[PromptTemplate],
    evals: &[&'static EvalEntry],
    cases: &mut Option<Cases>,
) -> Result<Vec<String>, String> {
    let scoped = |t: &PromptTemplate| !applies_to_every_case(t);
    if evals.is_empty() || !templates.iter().any(scoped) {
        return Ok(Vec::new());
    }
    let cases = cases.get_or_insert_with(|| crate::plan::matrix::build_cases(evals));
    let n = evals.len();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let named = |ts: &[&PromptTemplate]| {
        ts.iter()
            .map(|t| format!("`{}` ({})", t.name, scope_words(t)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let runnable = |i: usize| templates.iter().any(|t| applies(&cases[i], t));
    let (kept, left_out) = count_kinds(evals, cases, runnable);
    if kept == 0 {
        return Err(format!(
            "no selected eval can run: the template{} chosen, {}, appl{} to none of the {n} selected eval{} ({left_out}); add a template for them (`--template plain`) or select evals {} to",
            plural(templates.len()),
            named(&templates.iter().collect::<Vec<_>>()),
            if templates.len() == 1 { "ies" } else { "y" },
            plural(n),
            if templates.len() == 1 { "it applies" } else { "they apply" },
        ));
    }
    let mut warnings = Vec::new();
    for t in templates {
        let (kept, left_out) = count_kinds(evals, cases, |i| applies(&cases[i], t));
        if kept == 0 {
            warnings.push(format!(
                "template `{}` ({}) applies to none of the {n} selected eval{} ({left_out}): it adds no configuration",
                t.name,
                scope_words(t),
                plural(n),
            ));
        }
    }
    if kept < n {
        let out = n - kept;
        warnings.push(format!(
            "{out} of the {n} selected evals ({left_out}) {} run: no chosen template applies to {} ({}); add one that does (`--template plain`)",
            if out == 1 { "is not" } else { "are not" },
            if out == 1 { "it" } else { "them" },
            named(&templates.iter().filter(|t| scoped(t)).collect::<Vec<_>>()),
        ));
    }
    Ok(warnings)
}

/// `evals` less the code cases whose language has no runtime on this
/// machine ([`Case::unrunnable`]), with a warning naming them: generated and
/// scored, each would be an error no model can change. An error when that
/// leaves nothing to run.
fn leave_out_unrunnable(
    evals: Vec<&'static EvalEntry>,
    cases: &mut Option<Cases>,
    warnings: &mut Vec<String>,
) -> Result<Vec<&'static EvalEntry>, String> {
    let missing = litmus_sandbox::Language::ALL
        .iter()
        .any(|l| !l.is_available());
    if !missing || evals.is_empty() {
        return Ok(evals);
    }
    let cases = cases.get_or_insert_with(|| crate::plan::matrix::build_cases(&evals));
    let mut why_out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let runs: Vec<bool> = evals
        .iter()
        .zip(cases.iter())
        .map(|(e, case)| {
            let why = case
                .as_ref()
                .and_then(|c| c.as_ref().ok())
                .and_then(|c| c.unrunnable());
            if let Some(why) = &why {
                why_out.entry(why.clone()).or_default().push(e.full_name());
            }
            why.is_none()
        })
        .collect();
    if why_out.is_empty() {
        return Ok(evals);
    }
    let left_out: Vec<String> = why_out
        .iter()
        .map(|(why, names)| {
            let n = names.len();
            format!(
                "{why}: {n} eval{} not run ({})",
                if n == 1 { "" } else { "s" },
                crate::base::util::name_list(names, 10)
            )
        })
        .collect();
    if !runs.contains(&true) {
        return Err(format!(
            "no selected eval can run on this machine: {}",
            left_out.join("; ")
        ));
    }
    warnings.extend(left_out);
    // The evals kept, and their cases in the same order.
    let built = std::mem::take(cases);
    let (kept, kept_cases): (Vec<_>, Cases) = evals
        .into_iter()
        .zip(built)
        .zip(&runs)
        .filter(|(_, &r)| r)
        .map(|(pair, _)| pair)
        .unzip();
    *cases = kept_cases;
    Ok(kept)
}

/// Parallel scoring jobs: `chosen`, else `[run] jobs`, else one per CPU.
pub fn jobs(config: &Config, chosen: Option<usize>) -> usize {
    chosen.or(config.run.jobs).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    })
}

/// Sampling parameters from the seed and token limit chosen and `[run]`.
fn params(config: &Config, choices: &Choices) -> SamplingParams {
    let mut params = SamplingParams::default();
    if let Some(seed) = choices.seed.or(config.run.seed) {
        params.seed = seed;
    }
    if let Some(n) = choices.max_tokens.or(config.run.max_tokens) {
        params.max_tokens = n;
    }
    if let Some(v) = config.run.top_p {
        params.top_p = v;
    }
    if let Some(v) = config.run.top_k {
        params.top_k = v;
    }
    if let Some(v) = config.run.min_p {
        params.min_p = v;
    }
    if let Some(v) = config.run.repeat_penalty {
        params.repeat_penalty = v;
    }
    params.stop = config.run.stop.clone();
    params
}

/// Keeps the first of the items that share a key, in order.
fn first_of_each<T, K: Eq + std::hash::Hash>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(key(item)));
}

/// The sandbox limits of a run before any eval's own `timeout`
/// ([`EvalEntry::limits`] adds it): litmus's defaults with `[run]
/// timeout_secs` of `litmus.toml`.
pub fn limits(config: &Config) -> litmus_sandbox::Limits {
    let limits = litmus_sandbox::Limits::default();
    match config.run.timeout_secs {
        Some(t) => limits.with_timeout(std::time::Duration::from_secs(t)),
        None => limits,
    }
}

/// The plan of a run over `evals` (already filtered). Errors (an unknown
/// template or model, a judge that is not one model) are usage errors, in
/// that order. [`plan_and_warnings`] also says what the plan leaves out.
pub fn plan(
    config: &Config,
    choices: &Choices,
    evals: Vec<&'static EvalEntry>,
) -> Result<Plan, String> {
    plan_and_warnings(config, choices, evals).map(|(plan, _)| plan)
}

/// [`plan`], with the warnings for the user before the run: chosen
/// templates whose scope leaves selected evals out.
pub fn plan_and_warnings(
    config: &Config,
    choices: &Choices,
    evals: Vec<&'static EvalEntry>,
) -> Result<(Plan, Vec<String>), String> {
    if choices.max_tokens == Some(0) {
        return Err("--max-tokens: must be at least 1".into());
    }
    if choices.samples == Some(0) {
        return Err("--samples: must be at least 1".into());
    }
    // As `#[eval(samples)]`: each sample is a generation and a score.
    const MAX_SAMPLES: u32 = 100_000;
    if choices.samples.is_some_and(|n| n > MAX_SAMPLES) {
        return Err(format!("--samples: must be at most {MAX_SAMPLES}"));
    }
    if choices.samples.is_none() && config.run.samples.is_some_and(|n| n > MAX_SAMPLES) {
        let e = format!("run.samples: must be at most {MAX_SAMPLES}");
        return Err(config.error_at(&["run", "samples"], e).to_string());
    }
    // `#[eval(min_score = ..)]` may be any expression: checked here, where
    // its value is known (a score above 100 could never be reached).
    if let Some((e, m)) = evals.iter().find_map(|e| {
        e.min_score
            .filter(|m| !(0.0..=100.0).contains(m))
            .map(|m| (e, m))
    }) {
        return Err(format!(
            "{}:{}: eval `{}`: min_score = {m} is outside 0–100",
            e.file,
            e.line,
            e.full_name()
        ));
    }
    // A template, temperature or model named twice is one configuration,
    // in the list (`--list --instances`) as in the run.
    let mut templates = templates(config, &choices.templates)?;
    first_of_each(&mut templates, |t| t.name.clone());
    let mut cases = None;
    check_placeholders(config, &templates, &evals, &mut cases)?;
    // Said before the run, not found missing from its results.
    let mut warnings = check_scopes(&templates, &evals, &mut cases)?;
    let evals = leave_out_unrunnable(evals, &mut cases, &mut warnings)?;
    let mut models: Vec<_> = models(config, &choices.models, "--model")?
        .iter()
        .flat_map(|spec| spec.expand())
        .collect();
    first_of_each(&mut models, |m| (m.name.clone(), m.quantization.clone()));
    let judge = match choices.judge.as_ref().or(config.judge.model.as_ref()) {
        Some(m) => Some(config.resolve_judge(m).map_err(|e| format!("judge: {e}"))?),
        None => None,
    };
    let mut min_scores = BTreeMap::new();
    let mut samples_override = HashMap::new();
    for e in &evals {
        if let Some(s) = config.eval_settings(&e.full_name()) {
            if let Some(m) = s.min_score {
                min_scores.insert(e.full_name(), m);
            }
            if let Some(n) = s.samples {
                samples_override.insert(e.full_name(), n);
            }
        }
    }
    let mut temperatures = if !choices.temperatures.is_empty() {
        choices.temperatures.clone()
    } else if !config.run.temperatures.is_empty() {
        config.run.temperatures.clone()
    } else {
        vec![0.0]
    };
    first_of_each(&mut temperatures, |t| t.to_bits());
    let plan = Plan {
        evals,
        models,
        templates,
        temperatures,
        samples: choices.samples.or(config.run.samples).unwrap_or(3),
        repeat: choices.repeat.max(1),
        samples_override,
        params: params(config, choices),
        jobs: jobs(config, choices.jobs),
        limits: limits(config),
        min_scores,
        judge,
        stop_rules: config.run.stop_at_definition_end.unwrap_or(true),
        partition: None,
    };
    Ok((plan, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("litmus.toml")).unwrap()
    }

    #[test]
    fn a_missing_model_file_names_where_it_was_given() {
        let c = config(concat!(
            "[run]\nmodels = [\"big\", \"ladder\", \"raw/x.gguf\"]\n\n",
            "[models.big]\nsource = \"big.gguf\"\n\n",
            "[models.ladder]\nsource = \"l.gguf\"\n",
            "quantizations = { Q2_K = \"l.Q2_K.gguf\", Q8_0 = \"l.Q8_0.gguf\" }\n\n",
            "[models.served]\nsource = \"openai:http://127.0.0.1:1/v1\"\n",
        ));
        // Only `missing` fails the check; HTTP models are not checked.
        let check_with = |missing: &'static str| {
            move |s: &ModelSpec| {
                assert_eq!(s.backend, BackendKind::Llama, "{s:?}");
                match s.source == missing {
                    true => Err(format!("model file {missing} not found").into()),
                    false => Ok(()),
                }
            }
        };
        let run = |chosen: &[&str], judge: Option<&str>, missing: &'static str| {
            let chosen: Vec<String> = chosen.iter().map(|s| s.to_string()).collect();
            let choices = Choices {
                models: chosen.clone(),
                judge: judge.map(str::to_string),
                ..Choices::default()
            };
            let p = plan(&c, &choices, Vec::new()).unwrap();
            check_sources(
                &c,
                &chosen,
                &p.models,
                p.judge.as_ref(),
                check_with(missing),
            )
        };
        assert_eq!(run(&[], None, "none"), Ok(()));
        let err = run(&[], None, "big.gguf").unwrap_err();
        assert!(
            err.contains("litmus.toml") && err.contains("line 5"),
            "{err}"
        );
        assert!(
            err.contains("models.big.source: model file big.gguf not found"),
            "{err}"
        );
        let err = run(&[], None, "l.Q8_0.gguf").unwrap_err();
        assert!(
            err.contains("line 9") && err.contains("models.ladder.quantizations.Q8_0:"),
            "{err}"
        );
        let err = run(&[], None, "raw/x.gguf").unwrap_err();
        assert!(
            err.contains("line 2") && err.contains("run.models: model file"),
            "{err}"
        );
        let err = run(&["served", "y.gguf"], None, "y.gguf").unwrap_err();
        assert_eq!(err, "--model: model file y.gguf not found");
        let err = run(&["served"], Some("j.gguf"), "j.gguf").unwrap_err();
        assert_eq!(err, "judge: model file j.gguf not found");
        let err = run(&["served"], Some("big"), "big.gguf").unwrap_err();
        assert!(
            err.contains("line 5") && err.contains("models.big.source"),
            "{err}"
        );
    }

    #[test]
    fn samples_are_bounded() {
        let too_many = Choices {
            samples: Some(4_000_000_000),
            ..Choices::default()
        };
        let e = plan(&Config::default(), &too_many, Vec::new())
            .err()
            .unwrap();
        assert_eq!(e, "--samples: must be at most 100000");
        let e = plan(
            &config("[run]\nsamples = 200000\n"),
            &Choices::default(),
            Vec::new(),
        )
        .err()
        .unwrap();
        assert!(
            e.contains("line 2") && e.contains("run.samples: must be at most 100000"),
            "{e}"
        );
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let c = config(
            "[run]\nmodels = [\"a.gguf\"]\ntemplates = [\"plain\"]\ntemperatures = [0.5]\nsamples = 4\nseed = 9\njobs = 3\n",
        );
        let p = plan(&c, &Choices::default(), Vec::new()).unwrap();
        assert_eq!(p.models[0].name, "a");
        assert_eq!((p.samples, p.jobs, p.params.seed), (4, 3, 9));
        assert_eq!(p.temperatures, [0.5]);
        let choices = Choices {
            models: vec!["b.gguf".into()],
            temperatures: vec![0.0, 1.0],
            samples: Some(1),
            seed: Some(1),
            jobs: Some(7),
            repeat: 0,
            ..Choices::default()
        };
        let p = plan(&c, &choices, Vec::new()).unwrap();
        assert_eq!(p.models[0].name, "b");
        assert_eq!((p.samples, p.jobs, p.params.seed, p.repeat), (1, 7, 1, 1));
        assert_eq!(p.temperatures, [0.0, 1.0]);
        assert_eq!(model_names(&Config::default(), &[]), [DEFAULT_MODEL]);
        // `--tag` replaces `[run] tags`.
        let c = config("[run]\ntags = [\"vars\", \"geo\"]\n");
        assert_eq!(tags(&c, &[]), ["vars", "geo"]);
        assert_eq!(tags(&c, &["python".into()]), ["python"]);
        assert!(tags(&Config::default(), &[]).is_empty());
        // Named twice: one configuration.
        let twice = Choices {
            models: vec!["b.gguf".into(), "b.gguf".into()],
            templates: vec!["plain".into(), "plain".into()],
            temperatures: vec![0.0, 1.0, 0.0],
            ..choices
        };
        let p = plan(&c, &twice, Vec::new()).unwrap();
        assert_eq!((p.models.len(), p.templates.len()), (1, 1));
        assert_eq!(p.temperatures, [0.0, 1.0]);
    }

    fn country() -> crate::eval::case::Case {
        crate::eval::case::TextCase::new("Capital of {{country}}?")
            .var("country", "France")
            .reference("Paris")
            .into()
    }
    static COUNTRY: EvalEntry = EvalEntry {
        name: "country",
        case: None,
        module_path: "tests",
        file: "resolve.rs",
        line: 1,
        tags: &[],
        samples: None,
        timeout_secs: None,
        ignore: false,
        ignore_reason: "",
        min_score: None,
        kind: crate::eval::registry::EntryKind::Declarative(country),
        code: "",
    };

    #[test]
    fn a_min_score_outside_0_to_100_is_an_error_naming_the_eval() {
        static HIGH: EvalEntry = EvalEntry {
            min_score: Some(150.0),
            line: 7,
            ..COUNTRY
        };
        static FULL: EvalEntry = EvalEntry {
            min_score: Some(100.0),
            ..COUNTRY
        };
        let Err(e) = plan(&Config::default(), &Choices::default(), vec![&FULL, &HIGH]) else {
            panic!("min_score = 150 accepted")
        };
        assert_eq!(
            e,
            "resolve.rs:7: eval `country`: min_score = 150 is outside 0–100"
        );
        assert!(plan(&Config::default(), &Choices::default(), vec![&FULL]).is_ok());
    }

    #[test]
    fn a_placeholder_nothing_fills_is_an_error_naming_file_line_and_template() {
        let c = config(
            "[run]\nsamples = 1\n\n[templates.typo]\nsystem = \"Be brief.\"\nuser = \"{{taks}}\"\n\n[templates.vars]\nuser = \"{{task}} ({{country}}, {{task_inline}})\"\n",
        );
        let with = |t: &str| Choices {
            templates: vec![t.into()],
            ..Choices::default()
        };
        let e = match plan(&c, &with("typo"), vec![&COUNTRY]) {
            Ok(_) => panic!("{{{{taks}}}} accepted"),
            Err(e) => e,
        };
        assert!(
            e.starts_with("litmus.toml: line 6: templates.typo.user: placeholder `{{taks}}`"),
            "{e}"
        );
        // A case's own variable, and litmus's.
        assert!(plan(&c, &with("vars"), vec![&COUNTRY]).is_ok());
        // Not chosen: not checked; with no eval selected, nothing to fill.
        assert!(plan(&c, &Choices::default(), vec![&COUNTRY]).is_ok());
        assert!(plan(&c, &with("typo"), Vec::new()).is_ok());
    }

    fn add() -> crate::eval::case::Case {
        crate::eval::case::CodeCase::python()
            .prompt("Add.")
            .test("assert add(1, 2) == 3")
            .into()
    }
    fn asks(_: &mut crate::eval::context::EvalContext<'_>) -> crate::eval::score::ScoreResult {
        Ok(crate::eval::score::Score::pass_if(true))
    }
    static ADD: EvalEntry = EvalEntry {
        name: "add",
        kind: crate::eval::registry::EntryKind::Declarative(add),
        ..COUNTRY
    };
    static ASKS: EvalEntry = EvalEntry {
        name: "asks",
        kind: crate::eval::registry::EntryKind::Imperative(asks),
        ..COUNTRY
    };

    fn julia_add() -> crate::eval::case::Case {
        crate::eval::case::CodeCase::julia()
            .prompt("Add.")
            .test("@assert add(1, 2) == 3")
            .into()
    }
    static JULIA_ADD: EvalEntry = EvalEntry {
        name: "julia_add",
        kind: crate::eval::registry::EntryKind::Declarative(julia_add),
        ..COUNTRY
    };

    #[test]
    fn code_cases_whose_language_cannot_run_here_are_left_out_with_a_warning() {
        let c = Config::default();
        let names = |p: &Plan| p.evals.iter().map(|e| e.full_name()).collect::<Vec<_>>();
        let (p, warnings) =
            plan_and_warnings(&c, &Choices::default(), vec![&COUNTRY, &JULIA_ADD, &ASKS]).unwrap();
        match litmus_sandbox::Language::Julia.unavailable_reason() {
            Some(why) => {
                assert_eq!(names(&p), ["country", "asks"]);
                assert_eq!(
                    warnings,
                    [format!(
                        "julia cannot run here: {why}: 1 eval not run (julia_add)"
                    )]
                );
                let Err(e) = plan(&c, &Choices::default(), vec![&JULIA_ADD]) else {
                    panic!("a run of nothing it can run")
                };
                assert!(
                    e.starts_with(
                        "no selected eval can run on this machine: julia cannot run here"
                    ),
                    "{e}"
                );
            }
            None => {
                assert_eq!(names(&p), ["country", "julia_add", "asks"]);
                assert!(warnings.is_empty(), "{warnings:?}");
            }
        }
    }

    #[test]
    fn templates_whose_scope_leaves_evals_out_say_so() {
        let c = Config::default();
        let with = |ts: &[&str]| Choices {
            templates: ts.iter().map(|t| t.to_string()).collect(),
            ..Choices::default()
        };
        let scopes = |ts: &[&str], evals: Vec<&'static EvalEntry>| {
            let templates = templates(&c, &with(ts).templates).unwrap();
            check_scopes(&templates, &evals, &mut None)
        };
        // Nothing left to run: a usage error, naming the template and scope.
        let Err(e) = plan(&c, &with(&["expert"]), vec![&COUNTRY, &ASKS]) else {
            panic!("a run of nothing accepted")
        };
        assert!(
            e.starts_with("no selected eval can run: the template chosen, `expert` (code cases only), applies to none of the 2 selected evals (1 imperative, 1 text)"),
            "{e}"
        );
        // A template that adds nothing.
        let w = scopes(&["plain", "expert"], vec![&COUNTRY, &ASKS]).unwrap();
        assert_eq!(
            w,
            ["template `expert` (code cases only) applies to none of the 2 selected evals (1 imperative, 1 text): it adds no configuration"]
        );
        // Evals under no template.
        let w = scopes(&["expert", "recap"], vec![&COUNTRY, &ADD, &ASKS]).unwrap();
        assert_eq!(
            w,
            ["2 of the 3 selected evals (1 imperative, 1 text) are not run: no chosen template applies to them (`expert` (code cases only), `recap` (code cases only)); add one that does (`--template plain`)"]
        );
        // Every eval under every template, or none selected: nothing to say.
        assert!(scopes(&["plain", "expert"], vec![&ADD]).unwrap().is_empty());
        assert!(scopes(&["base"], vec![&COUNTRY, &ADD, &ASKS])
            .unwrap()
            .is_empty());
        assert!(scopes(&["expert"], Vec::new()).unwrap().is_empty());
        assert!(plan(&c, &with(&["expert"]), vec![&ADD]).is_ok());
    }

    #[test]
    fn unknown_templates_models_and_judges_are_errors_in_that_order() {
        let c = Config::default();
        let bad = |choices: Choices| match plan(&c, &choices, Vec::new()) {
            Ok(_) => panic!("{choices:?} accepted"),
            Err(e) => e,
        };
        let e = bad(Choices {
            templates: vec!["nope".into()],
            models: vec!["nope".into()],
            ..Choices::default()
        });
        assert!(e.contains("nope") && e.contains("template"), "{e}");
        // Named in the file: the file and line.
        let Err(e) = plan(
            &config("[run]\nsamples = 2\ntemplates = [\"nope\"]\n"),
            &Choices::default(),
            Vec::new(),
        ) else {
            panic!("accepted")
        };
        assert!(
            e.contains("litmus.toml") && e.contains("line 3") && e.contains("`nope`"),
            "{e}"
        );
        let e = bad(Choices {
            models: vec!["nope".into()],
            ..Choices::default()
        });
        assert!(e.starts_with("--model: unknown model `nope`"), "{e}");
        // Named in the file: the file, line and key; `--model` replaces it.
        let c = config(
            "[models.gemma]\nsource = \"g.gguf\"\n\n[run]\nsamples = 2\nmodels = [\"gemmma\"]\n",
        );
        let Err(e) = plan(&c, &Choices::default(), Vec::new()) else {
            panic!("accepted")
        };
        assert!(
            e.starts_with("litmus.toml: line 6: run.models: unknown model `gemmma`: not in litmus.toml (gemma)"),
            "{e}"
        );
        let flag = Choices {
            models: vec!["gemma".into()],
            ..Choices::default()
        };
        assert_eq!(
            plan(&c, &flag, Vec::new()).unwrap().models[0].source,
            "g.gguf"
        );
        // `cargo eval devices --plan` resolves them the same way.
        let e = models(&c, &[], "--plan").unwrap_err();
        assert!(e.starts_with("litmus.toml: line 6: run.models:"), "{e}");
        let e = models(&c, &["nope".into()], "--plan").unwrap_err();
        assert!(e.starts_with("--plan: unknown model `nope`"), "{e}");
        let e = bad(Choices {
            judge: Some("nope".into()),
            ..Choices::default()
        });
        assert!(e.starts_with("judge: unknown model `nope`"), "{e}");
        let e = bad(Choices {
            max_tokens: Some(0),
            ..Choices::default()
        });
        assert!(
            e.contains("--max-tokens") && e.contains("at least 1"),
            "{e}"
        );
    }
}
