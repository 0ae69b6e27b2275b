//! Pieces shared by both backends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use litmus_core::base::backend::{
    BackendError, FinishReason, Generation, Message, ModelInfo, Prompt, Role, SamplingParams,
};
use serde_json::{json, Value};

/// Runs `one` for every sample, on up to `workers` threads, and returns the
/// generations in the order of `samples`; where some samples fail, a
/// [`BackendError::Partial`] that keeps the others (see
/// [`BackendError::collect`]).
pub(crate) fn run_samples<F>(
    samples: &[u32],
    workers: usize,
    one: F,
) -> Result<Vec<Generation>, BackendError>
where
    F: Fn(u32) -> Result<Generation, BackendError> + Sync,
{
    let workers = workers.clamp(1, samples.len().max(1));
    if workers == 1 {
        return BackendError::collect(samples.iter().map(|&s| (s, one(s))));
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Generation, BackendError>>>> =
        Mutex::new(samples.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&sample) = samples.get(i) else { break };
                let r = one(sample);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    BackendError::collect(samples.iter().zip(results).map(|(&s, r)| {
        let r = r.unwrap_or_else(|| Err(BackendError::Backend("sample not generated".into())));
        (s, r)
    }))
}

/// The stop strings to send: the request's own, and those that end about
/// where its stop rule does (see [`apply_stop_rule`]).
pub(crate) fn stop_strings(p: &SamplingParams) -> Vec<String> {
    let mut stops = p.stop.clone();
    if let Some(rule) = &p.stop_rule {
        for s in rule.stop_sequences() {
            if !stops.contains(&s) {
                stops.push(s);
            }
        }
    }
    stops
}

/// A server knows stop strings, not stop rules: cut each answer where the
/// request's rule ends it, as the in-process engine stops there.
pub(crate) fn apply_stop_rule(
    p: &SamplingParams,
    generated: Result<Vec<Generation>, BackendError>,
) -> Result<Vec<Generation>, BackendError> {
    let Some(rule) = &p.stop_rule else {
        return generated;
    };
    cut_each(generated, |text| rule.end(text))
}

/// Each generation of `generated` (a partial failure's too) cut where
/// `end` says its text ends, if it does, and marked as stopped there.
pub(crate) fn cut_each(
    generated: Result<Vec<Generation>, BackendError>,
    end: impl Fn(&str) -> Option<usize>,
) -> Result<Vec<Generation>, BackendError> {
    let cut = |gens: &mut Vec<Generation>| {
        for g in gens {
            if let Some(at) = end(&g.text) {
                g.text.truncate(at);
                g.finish = FinishReason::Stop;
            }
        }
    };
    match generated {
        Ok(mut gens) => {
            cut(&mut gens);
            Ok(gens)
        }
        Err(BackendError::Partial(mut partial)) => {
            cut(&mut partial.generated);
            Err(BackendError::Partial(partial))
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

pub(crate) fn messages_json(messages: &[Message]) -> Value {
    Value::Array(
        messages
            .iter()
            .map(|m| json!({"role": role_name(m.role), "content": m.content}))
            .collect(),
    )
}

/// The prompt as the backend sends it: chat messages, or raw text
/// (a chat prompt flattened with [`Prompt::to_text`] when `raw_completion` is set).
pub(crate) enum Wire<'a> {
    Chat(&'a [Message]),
    Text(String),
}

pub(crate) fn wire_prompt(prompt: &Prompt, raw_completion: bool) -> Wire<'_> {
    match prompt {
        Prompt::Chat(messages) if !raw_completion => Wire::Chat(messages),
        Prompt::Chat(_) => Wire::Text(prompt.to_text()),
        Prompt::Completion(text) => Wire::Text(text.clone()),
    }
}

pub(crate) fn as_u32(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .map(|n| n.min(u64::from(u32::MAX)) as u32)
}

pub(crate) fn as_f64(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)
}

/// `part` (a duration a server reported, ms) when it fits in `total_ms`,
/// the request's whole time: a server's clock can be wrong, but no part of
/// a request outlasts it (a `predicted_ms` of 10⁹ in a 4 ms request would
/// put the generation speed a million times too low).
pub(crate) fn within(part: Option<f64>, total_ms: f64) -> Option<f64> {
    part.filter(|p| *p <= total_ms)
}

/// A quantization label found in a file name or model id, e.g. `Q4_K_M` in
/// `gemma-3-270m-it-q4_k_m.gguf`.
pub fn quantization_from_name(name: &str) -> Option<String> {
    const LABELS: &[&str] = &[
        "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S",
        "IQ3_M", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4", "Q2_K_S", "Q2_K", "Q3_K_S",
        "Q3_K_M", "Q3_K_L", "Q3_K", "Q4_K_S", "Q4_K_M", "Q4_K", "Q5_K_S", "Q5_K_M", "Q5_K", "Q6_K",
        "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "BF16", "F16", "FP16", "F32",
    ];
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let upper = base.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let boundary = |i: usize| i >= bytes.len() || !bytes[i].is_ascii_alphanumeric();
    let mut best: Option<(usize, &str)> = None;
    for label in LABELS {
        let mut from = 0;
        while let Some(pos) = upper[from..].find(label) {
            let start = from + pos;
            let end = start + label.len();
            let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
            // `_` counts as a boundary: `Q4_K` also matches in `Q4_K_M`, and the longest label wins.
            let after_ok = boundary(end);
            if before_ok && after_ok && best.is_none_or(|(_, b)| label.len() > b.len()) {
                best = Some((start, label));
            }
            from = start + 1;
        }
    }
    best.map(|(_, l)| {
        if l == "FP16" {
            "F16".to_string()
        } else {
            l.to_string()
        }
    })
}

/// The quantization label of a llama.cpp file-type name, as llama-server
/// reports it (`/props` `model_ftype`, `/v1/models` `meta.ftype`):
/// `"Q4_K - Medium"` → `Q4_K_M`, `"IQ2_XXS - 2.0625 bpw"` → `IQ2_XXS`, `"all F32"` → `F32`.
pub fn quantization_from_ftype(ftype: &str) -> Option<String> {
    let ftype = ftype.trim().trim_start_matches("all ").trim();
    let (base, variant) = match ftype.split_once(" - ") {
        Some((b, v)) => (b.trim(), v.trim()),
        None => (ftype, ""),
    };
    if base.is_empty() || !base.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let suffix = match variant {
        // llama.cpp's plain Q2_K is the "medium" mix.
        "Medium" if base == "Q2_K" => "",
        "Small" => "_S",
        "Medium" => "_M",
        "Large" => "_L",
        _ => "",
    };
    Some(format!("{base}{suffix}"))
}

/// Parses Ollama's `parameter_size` (`"268.10M"`, `"8.0B"`, `"1.2T"`, `"350K"`).
pub(crate) fn parse_parameter_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1e3),
        'M' | 'm' => (&s[..s.len() - 1], 1e6),
        'B' | 'b' => (&s[..s.len() - 1], 1e9),
        'T' | 't' => (&s[..s.len() - 1], 1e12),
        _ => (s, 1.0),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * mult).round() as u64)
}

/// Refuses an endpoint pool whose servers report different weights: each
/// `(endpoint, model info)` is compared with the first on whatever both
/// report — a content digest (`sha256:…`), the file size, the parameter
/// count, the quantization. A pool must serve one model, or its samples
/// would mix two.
pub(crate) fn check_same_weights(
    backend: &str,
    infos: &[(String, ModelInfo)],
) -> Result<(), BackendError> {
    let Some((first_url, first)) = infos.first() else {
        return Ok(());
    };
    let content_digest = |i: &ModelInfo| i.digest.starts_with("sha256:").then(|| i.digest.clone());
    for (url, info) in &infos[1..] {
        let fields: [(&str, Option<String>, Option<String>); 4] = [
            (
                "weights digest",
                content_digest(first),
                content_digest(info),
            ),
            (
                "file size",
                first.size_bytes.map(|b| format!("{b} bytes")),
                info.size_bytes.map(|b| format!("{b} bytes")),
            ),
            (
                "parameter count",
                first.parameters.map(|n| n.to_string()),
                info.parameters.map(|n| n.to_string()),
            ),
            (
                "quantization",
                first.quantization.clone(),
                info.quantization.clone(),
            ),
        ];
        for (what, a, b) in fields {
            if let (Some(a), Some(b)) = (a, b) {
                if a != b {
                    return Err(BackendError::Load(format!(
                        "{backend}: the endpoints of one model serve different weights: {what} {a} at \
                         {first_url}, {b} at {url} (an endpoint pool must serve one model; list \
                         the other server as a model of its own)"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use litmus_core::base::backend::{StopRule, Timings, Usage};

    #[test]
    fn stop_rules_become_stop_strings_and_cut_answers() {
        let rule = StopRule::Dedent { indent: 0 };
        let p = SamplingParams {
            stop: vec!["\n\n\n".into(), "\ndef ".into()],
            stop_rule: Some(rule),
            ..SamplingParams::default()
        };
        let stops = stop_strings(&p);
        assert_eq!(stops[0], "\n\n\n");
        assert_eq!(stops.iter().filter(|s| *s == "\ndef ").count(), 1);
        assert!(stops.contains(&"\nprint(".to_string()));
        let gen = |text: &str| Generation {
            sample: 0,
            text: text.into(),
            finish: FinishReason::Length,
            usage: Usage::default(),
            timings: Timings::default(),
            served_by: None,
        };
        // A server that ignored the stop strings: the answer is cut by the rule.
        let got = apply_stop_rule(
            &p,
            Ok(vec![gen("    return 1\nx = f()\n"), gen("    return 2")]),
        )
        .unwrap();
        assert_eq!(
            (got[0].text.as_str(), got[0].finish),
            ("    return 1\n", FinishReason::Stop)
        );
        assert_eq!(
            (got[1].text.as_str(), got[1].finish),
            ("    return 2", FinishReason::Length)
        );
        let plain = SamplingParams::default();
        assert!(stop_strings(&plain).is_empty());
        assert_eq!(
            apply_stop_rule(&plain, Ok(vec![gen("x\ny")])).unwrap()[0].text,
            "x\ny"
        );
    }

    #[test]
    fn quantization_labels_are_found() {
        assert_eq!(
            quantization_from_name("/tmp/model/gemma-3-270m-q4_k_m.gguf").as_deref(),
            Some("Q4_K_M")
        );
        assert_eq!(
            quantization_from_name("Qwen2.5-0.5B-Instruct-Q8_0.gguf").as_deref(),
            Some("Q8_0")
        );
        assert_eq!(
            quantization_from_name("llama-3-8b.F16.gguf").as_deref(),
            Some("F16")
        );
        assert_eq!(
            quantization_from_name("model-bf16.gguf").as_deref(),
            Some("BF16")
        );
        assert_eq!(
            quantization_from_name("yi:34b-chat-q4_K_M").as_deref(),
            Some("Q4_K_M")
        );
        assert_eq!(
            quantization_from_name("x-IQ4_XS.gguf").as_deref(),
            Some("IQ4_XS")
        );
        assert_eq!(
            quantization_from_name("x-Q3_K.gguf").as_deref(),
            Some("Q3_K")
        );
        assert_eq!(quantization_from_name("gpt-4o-mini"), None);
        assert_eq!(quantization_from_name("myq4_0thing"), None);
    }

    #[test]
    fn ftype_names() {
        assert_eq!(
            quantization_from_ftype("Q4_K - Medium").as_deref(),
            Some("Q4_K_M")
        );
        assert_eq!(
            quantization_from_ftype("Q3_K - Large").as_deref(),
            Some("Q3_K_L")
        );
        assert_eq!(
            quantization_from_ftype("Q2_K - Medium").as_deref(),
            Some("Q2_K")
        );
        assert_eq!(quantization_from_ftype("Q8_0").as_deref(), Some("Q8_0"));
        assert_eq!(quantization_from_ftype("all F32").as_deref(), Some("F32"));
        assert_eq!(
            quantization_from_ftype("IQ2_XXS - 2.0625 bpw").as_deref(),
            Some("IQ2_XXS")
        );
        assert_eq!(quantization_from_ftype("?? weird ??"), None);
    }

    #[test]
    fn parameter_sizes() {
        assert_eq!(parse_parameter_size("268.10M"), Some(268_100_000));
        assert_eq!(parse_parameter_size("8.0B"), Some(8_000_000_000));
        assert_eq!(parse_parameter_size("nope"), None);
    }

    #[test]
    fn samples_run_in_order_on_threads() {
        let gen = |s: u32| {
            std::thread::sleep(std::time::Duration::from_millis(u64::from(10 - s)));
            Ok(Generation {
                sample: s,
                text: s.to_string(),
                finish: FinishReason::Stop,
                usage: Usage::default(),
                timings: Timings::default(),
                served_by: None,
            })
        };
        let out = run_samples(&[0, 1, 2, 3, 4], 3, gen).unwrap();
        assert_eq!(
            out.iter().map(|g| g.sample).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        // A failed sample leaves the others generated.
        for workers in [1, 2] {
            let err = run_samples(&[0, 1, 2], workers, |s| {
                if s == 1 {
                    Err(BackendError::Connection("x".into()))
                } else {
                    gen(s)
                }
            })
            .unwrap_err();
            let BackendError::Partial(p) = &err else {
                panic!("{err:?}")
            };
            assert_eq!(
                p.generated.iter().map(|g| g.sample).collect::<Vec<_>>(),
                vec![0, 2]
            );
            assert_eq!(p.failed, vec![(1, BackendError::Connection("x".into()))]);
            assert_eq!(
                err.to_string(),
                "1 of 3 samples failed; sample 1: connection failed: x"
            );
        }
        // All failing alike: that one error.
        let err = run_samples(&[0, 1], 2, |_| Err(BackendError::Timeout("t".into()))).unwrap_err();
        assert_eq!(err, BackendError::Timeout("t".into()));
    }

    #[test]
    fn a_pool_must_report_the_same_weights_where_it_reports_them() {
        let info = |digest: &str, size: Option<u64>| ModelInfo {
            digest: digest.into(),
            size_bytes: size,
            ..ModelInfo::default()
        };
        let a = ("http://a".to_string(), info("sha256:aa", Some(10)));
        // Unreported fields are not compared; names that are not content
        // digests (an OpenAI server's model name) are not compared either.
        assert!(check_same_weights(
            "ollama",
            &[a.clone(), ("http://b".into(), info("sha256:aa", None))]
        )
        .is_ok());
        assert!(check_same_weights(
            "openai",
            &[
                ("http://a".into(), info("openai:x.gguf", Some(10))),
                ("http://b".into(), info("openai:y.gguf", Some(10)))
            ]
        )
        .is_ok());
        let err = check_same_weights(
            "ollama",
            &[a.clone(), ("http://b".into(), info("sha256:bb", Some(10)))],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("weights digest sha256:aa at http://a, sha256:bb at http://b"),
            "{err}"
        );
        let err = check_same_weights(
            "ollama",
            &[a, ("http://c".into(), info("sha256:aa", Some(11)))],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("file size 10 bytes at http://a, 11 bytes at http://c"),
            "{err}"
        );
    }
}
