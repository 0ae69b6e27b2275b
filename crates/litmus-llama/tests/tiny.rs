//! Engine tests on a tiny random-weight llama model written by the test itself.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use litmus_core::base::backend::{
    Backend, BackendError, FinishReason, GenerationRequest, Message, Prompt, SamplingParams,
};
use litmus_core::base::model::{KnownRequests, Workload};
use litmus_llama::{LlamaBackend, TextAccumulator};

use common::{req, sampled, texts};

fn greedy(max_tokens: u32) -> SamplingParams {
    SamplingParams {
        temperature: 0.0,
        max_tokens,
        ..Default::default()
    }
}

#[test]
fn loads_and_describes() {
    let (_dir, path) = common::tiny_model(Some(common::CHATML));
    let b = LlamaBackend::open(&common::spec(&path, 4, 256, &[])).unwrap();
    let info = b.model();
    assert_eq!(info.backend, "llama");
    assert_eq!(info.architecture.as_deref(), Some("llama"));
    assert_eq!(info.quantization.as_deref(), Some("F32"));
    assert!(info.parameters.unwrap() > 100_000);
    assert_eq!(info.digest.len(), 64);
    assert!(info.load_ms.unwrap() > 0.0);
    assert_eq!(info.context_length, Some(256));
    assert_eq!(b.parallelism(), 4);
    assert!(b.cache_salt().contains("seq_context=256"));

    // Known before the load, for the response cache: what the loaded
    // backend reports, but the load time.
    let id = LlamaBackend::identity(&common::spec(&path, 4, 256, &[])).unwrap();
    assert_eq!(id.salt, b.cache_salt());
    assert_eq!(
        id.info,
        litmus_core::base::backend::ModelInfo {
            load_ms: None,
            ..info.clone()
        }
    );
}

#[test]
fn chat_template_and_fallback() {
    let (_dir, path) = common::tiny_model(Some(common::CHATML));
    let b = LlamaBackend::open(&common::spec(&path, 2, 256, &[])).unwrap();
    assert!(b.has_chat_template());
    let chat = Prompt::Chat(vec![Message::system("be brief"), Message::user("hi there")]);
    let text = b.render(&chat).unwrap();
    assert!(
        text.contains("<|im_start|>user\nhi there<|im_end|>"),
        "{text:?}"
    );
    assert!(text.ends_with("<|im_start|>assistant\n"), "{text:?}");
    // The markers are tokenized as special tokens.
    let toks = b.tokenize_prompt(&chat).unwrap();
    assert!(
        toks.len() < text.len() / 2,
        "{} tokens for {} bytes",
        toks.len(),
        text.len()
    );
    let gens = b
        .generate(&GenerationRequest {
            prompt: chat,
            params: greedy(8),
            samples: vec![0],
        })
        .unwrap();
    assert_eq!(gens.len(), 1);
    drop(b);

    let (_dir2, plain) = common::tiny_model(None);
    let b = LlamaBackend::open(&common::spec(&plain, 2, 256, &[])).unwrap();
    assert!(!b.has_chat_template());
    let text = b.render(&Prompt::Chat(vec![Message::user("hi")])).unwrap();
    assert_eq!(text, "Question: hi\nAnswer:");
    assert_eq!(
        b.render(&Prompt::Completion("raw text".into())).unwrap(),
        "raw text"
    );
    let gens = b
        .generate(&GenerationRequest {
            prompt: Prompt::user("hello"),
            params: greedy(4),
            samples: vec![3],
        })
        .unwrap();
    assert_eq!(gens[0].sample, 3);
}

#[test]
fn same_request_twice_same_text_and_alone_vs_batched() {
    let (_dir, path) = common::tiny_model(None);
    let b = Arc::new(
        LlamaBackend::open(&common::spec(&path, 8, 256, &[("ignore_eos", "true")])).unwrap(),
    );
    let r = req("the cat is on the", sampled(24), (0..6).collect());
    let a = b.generate(&r).unwrap();
    let again = b.generate(&r).unwrap();
    assert_eq!(
        texts(&a),
        texts(&again),
        "same request twice must give the same text"
    );
    let distinct: BTreeSet<_> = a.iter().map(|g| g.text.clone()).collect();
    assert!(
        distinct.len() > 1,
        "different seeds should give different samples: {distinct:?}"
    );

    // Sample 3 alone vs together with five others (and with another request in flight).
    let alone = b
        .generate(&req("the cat is on the", sampled(24), vec![3]))
        .unwrap();
    let together = texts(&a).into_iter().find(|(s, _)| *s == 3).unwrap().1;
    let other = {
        let b = Arc::clone(&b);
        std::thread::spawn(move || {
            b.generate(&req("and it was", sampled(40), (0..4).collect()))
                .unwrap()
        })
    };
    let alone_busy = b
        .generate(&req("the cat is on the", sampled(24), vec![3]))
        .unwrap();
    other.join().unwrap();
    assert_eq!(alone[0].text, together, "alone vs in a batch of 6");
    assert_eq!(
        alone_busy[0].text, together,
        "alone vs next to another request"
    );
}

#[test]
fn greedy_samples_are_identical_and_deduplicated() {
    let (_dir, path) = common::tiny_model(None);
    let b = LlamaBackend::open(&common::spec(&path, 4, 256, &[])).unwrap();
    let gens = b
        .generate(&req("hello", greedy(16), vec![5, 1, 9]))
        .unwrap();
    let samples: BTreeSet<u32> = gens.iter().map(|g| g.sample).collect();
    assert_eq!(samples, BTreeSet::from([1, 5, 9]));
    assert!(gens.windows(2).all(|w| w[0].text == w[1].text));
    // Without deduplication the three greedy sequences run side by side and agree too.
    let b2 =
        LlamaBackend::open(&common::spec(&path, 4, 256, &[("dedupe_greedy", "false")])).unwrap();
    let gens2 = b2
        .generate(&req("hello", greedy(16), vec![5, 1, 9]))
        .unwrap();
    assert_eq!(gens2.len(), 3);
    eprintln!(
        "greedy batched x3: {:?}",
        gens2.iter().map(|g| &g.text).collect::<Vec<_>>()
    );
    assert_eq!(gens[0].text, gens2[0].text);
}

#[test]
fn stop_strings_max_tokens_and_usage() {
    let (_dir, path) = common::tiny_model(None);
    let b = LlamaBackend::open(&common::spec(&path, 4, 512, &[("ignore_eos", "1")])).unwrap();
    let full = b
        .generate(&req("it is", greedy(40), vec![0]))
        .unwrap()
        .remove(0);
    assert_eq!(full.finish, FinishReason::Length);
    assert_eq!(full.usage.completion_tokens.unwrap(), 40);
    assert!(full.usage.prompt_tokens.unwrap() >= 2);
    let t = &full.timings;
    assert!(t.prompt_ms.unwrap() >= 0.0 && t.generation_ms.unwrap() > 0.0);
    assert!(t.ttft_ms.unwrap() <= t.total_ms);
    let text = full.text.clone();
    assert!(text.chars().count() >= 6, "{text:?}");
    // Stop at a piece from the middle of the greedy output.
    let chars: Vec<char> = text.chars().collect();
    let start = chars.len() / 2;
    let stop: String = chars[start..(start + 3).min(chars.len())].iter().collect();
    let expected = &text[..text.find(&stop).unwrap()];
    let params = SamplingParams {
        stop: vec!["\u{1}never".into(), stop.clone()],
        ..greedy(40)
    };
    let cut = b
        .generate(&req("it is", params, vec![0]))
        .unwrap()
        .remove(0);
    assert_eq!(cut.text, expected, "stop {stop:?} in {text:?}");
    assert_eq!(cut.finish, FinishReason::Stop);
    // max_tokens = 0 answers at once.
    let none = b.generate(&req("it is", greedy(0), vec![0, 1])).unwrap();
    assert!(none
        .iter()
        .all(|g| g.text.is_empty() && g.finish == FinishReason::Length));
}

#[test]
fn prompt_too_long_fails_only_that_request() {
    let (_dir, path) = common::tiny_model(None);
    let b = Arc::new(LlamaBackend::open(&common::spec(&path, 4, 64, &[])).unwrap());
    let long = "the cat and the dog ".repeat(40);
    let err = b.generate(&req(&long, greedy(4), vec![0])).unwrap_err();
    assert!(matches!(err, BackendError::PromptTooLong(_)), "{err:?}");
    // A prompt that fits but leaves little room: generation stops when the context is full.
    let fitting = (1..20)
        .map(|k| "the cat and the dog ".repeat(k))
        .take_while(|p| {
            b.tokenize_prompt(&Prompt::Completion(p.clone()))
                .unwrap()
                .len()
                < 56
        })
        .last()
        .unwrap();
    let g = b
        .generate(&req(&fitting, greedy(500), vec![0]))
        .unwrap()
        .remove(0);
    assert!(
        g.finish == FinishReason::ContextFull || g.finish == FinishReason::Stop,
        "{:?}",
        g.finish
    );
    assert!(g.usage.prompt_tokens.unwrap() + g.usage.completion_tokens.unwrap() <= 64);
    let ok = b.generate(&req("hello", greedy(4), vec![0])).unwrap();
    assert_eq!(ok.len(), 1);
}

#[test]
fn many_threads_many_samples() {
    let (_dir, path) = common::tiny_model(None);
    // Few slots and a small KV cache, so that requests queue, split and wait for room.
    let b = Arc::new(
        LlamaBackend::open(&common::spec(
            &path,
            6,
            128,
            &[("kv_size", "512"), ("ignore_eos", "true")],
        ))
        .unwrap(),
    );
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                let prompt = format!("request {i} is");
                let samples: Vec<u32> = (0..(1 + i % 5)).map(|s| s * 10 + i).collect();
                let r = req(&prompt, sampled(10 + i), samples.clone());
                let gens = b.generate(&r).unwrap();
                let got: BTreeSet<u32> = gens.iter().map(|g| g.sample).collect();
                assert_eq!(got, samples.iter().copied().collect::<BTreeSet<_>>());
                for g in &gens {
                    assert_eq!(g.usage.completion_tokens.unwrap(), 10 + i);
                    assert_eq!(g.finish, FinishReason::Length);
                }
                (r, gens)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Every sample equals the same request made alone afterwards (same seeds; F32 weights).
    let mut same = 0;
    let mut total = 0;
    for (r, gens) in results.iter().take(4) {
        let again = b.generate(r).unwrap();
        for g in gens {
            total += 1;
            if again
                .iter()
                .any(|a| a.sample == g.sample && a.text == g.text)
            {
                same += 1;
            }
        }
    }
    eprintln!("concurrent vs sequential agreement: {same}/{total}");
}

#[test]
fn corrupt_files_give_errors_not_crashes() {
    let (dir, path) = common::tiny_model(None);
    let bytes = std::fs::read(&path).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("half", bytes[..bytes.len() / 2].to_vec()),
        ("minus-one", bytes[..bytes.len() - 33].to_vec()),
        ("header-only", bytes[..200].to_vec()),
        ("magic", {
            let mut b = bytes.clone();
            b[1] = b'X';
            b
        }),
        ("kv-count", {
            let mut b = bytes.clone();
            b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
            b
        }),
    ];
    for (name, data) in cases {
        let p = dir.path().join(format!("{name}.gguf"));
        std::fs::write(&p, data).unwrap();
        let err = LlamaBackend::open(&common::spec(&p, 2, 128, &[])).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, BackendError::Load(_)), "{name}: {err:?}");
        assert!(msg.contains(&format!("{name}.gguf")), "{name}: {msg}");
    }
    let missing = LlamaBackend::open(&common::spec(&dir.path().join("missing.gguf"), 2, 128, &[]))
        .unwrap_err();
    assert!(missing.to_string().contains("missing.gguf"));
}

#[test]
fn bad_options_are_rejected() {
    let (_dir, path) = common::tiny_model(None);
    let err = LlamaBackend::open(&common::spec(&path, 2, 128, &[("nope", "1")])).unwrap_err();
    assert!(err.to_string().contains("unknown llama option"), "{err}");
    let err =
        LlamaBackend::open(&common::spec(&path, 2, 128, &[("ignore_eos", "maybe")])).unwrap_err();
    assert!(err.to_string().contains("ignore_eos"), "{err}");
}

#[test]
fn text_accumulator_is_public() {
    let mut acc = TextAccumulator::new();
    assert!(!acc.push(b"ab", &[]));
    assert_eq!(acc.text(), "ab");
}

/// `quantize` runs llama.cpp's quantizer: the rungs are real GGUF files of the
/// asked type that load and generate, progress is reported per tensor, and a
/// bad type or a corrupt source is an error naming it, with no file left.
#[test]
fn quantizes_a_model_into_a_ladder() {
    use litmus_llama::quantize::{ladder_path, quantize, QuantizeOptions};
    let (dir, src) = common::tiny_model(None);
    let mut sizes = Vec::new();
    for ty in ["Q8_0", "Q4_0"] {
        let dst = ladder_path(&src, ty, None);
        assert_eq!(dst.parent(), src.parent());
        let seen = Arc::new(std::sync::Mutex::new((0usize, 0usize)));
        let s = Arc::clone(&seen);
        quantize(&src, &dst, ty, &QuantizeOptions::default(), move |d, t| {
            *s.lock().unwrap() = (d, t)
        })
        .unwrap();
        let (done, total) = *seen.lock().unwrap();
        assert!(total > 0 && done == total, "progress {done}/{total}");
        let info = litmus_llama::describe_gguf(&dst).unwrap();
        assert_eq!(info.quantization.as_deref(), Some(ty));
        sizes.push(info.size_bytes);
        let b = LlamaBackend::open(&common::spec(&dst, 1, 256, &[])).unwrap();
        let out = b.generate(&req("hello", greedy(4), vec![0])).unwrap();
        assert_eq!(out[0].usage.completion_tokens.unwrap(), 4);
    }
    let f32_size = std::fs::metadata(&src).unwrap().len();
    assert!(
        sizes[0] < f32_size && sizes[1] < sizes[0],
        "{sizes:?} vs {f32_size}"
    );

    let err = quantize(
        &src,
        &dir.path().join("x.gguf"),
        "Q9_Z",
        &QuantizeOptions::default(),
        |_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("Q9_Z"), "{err}");
    let bad = dir.path().join("bad.gguf");
    std::fs::write(&bad, b"GGUF\x03\0\0\0truncated").unwrap();
    let out = dir.path().join("bad-q8_0.gguf");
    let err = quantize(&bad, &out, "Q8_0", &QuantizeOptions::default(), |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("bad.gguf"), "{err}");
    assert!(!out.exists() && !out.with_extension("gguf.part").exists());
}

/// Samples that start after their prompt was decoded (more samples than free
/// slots) take the prompt's KV from a finished sibling's slot or copy it from
/// a running one: the prompt is decoded once, and every sample's text equals
/// the one it gets when all samples fit at once. Batch-invariant decoding makes
/// the texts comparable exactly; the same runs on one shared KV cache check the
/// unified copy path. A stop string staggers the samples' ends, so that later
/// samples start while siblings still run.
#[test]
fn later_samples_reuse_the_decoded_prompt() {
    let (_dir, path) = common::tiny_model(None);
    let prompt = "once upon a time there was a";
    let lockstep = req(prompt, sampled(12), (0..7).collect());
    let mut staggered = req(prompt, sampled(16), (0..9).collect());
    staggered.params.stop = vec!["e".into()];
    let run = |r: &GenerationRequest, parallel: u32, options: &[(&str, &str)]| {
        let b = LlamaBackend::open(&common::spec(&path, parallel, 128, options)).unwrap();
        let n_prompt = b.tokenize_prompt(&r.prompt).unwrap().len() as u64;
        let before = b.engine_stats();
        let mut gens = b.generate(r).unwrap();
        let stats = b.engine_stats();
        gens.sort_by_key(|g| g.sample);
        // Each sample decodes all of its tokens but the last; the prompt once.
        let decoded: u64 = gens
            .iter()
            .map(|g| u64::from(g.usage.completion_tokens.unwrap().max(1)) - 1)
            .sum::<u64>()
            + n_prompt;
        let finishes: BTreeSet<String> = gens.iter().map(|g| format!("{:?}", g.finish)).collect();
        assert_eq!(
            stats.tokens_decoded - before.tokens_decoded,
            decoded,
            "parallel {parallel} {options:?}: the prompt must be decoded once"
        );
        (
            gens.into_iter().map(|g| g.text).collect::<Vec<_>>(),
            finishes,
        )
    };
    let invariant = [("ignore_eos", "true")];
    let unified = [("ignore_eos", "true"), ("kv_unified", "true")];
    for r in [&lockstep, &staggered] {
        let (all_at_once, finishes) = run(r, 16, &invariant);
        assert_eq!(all_at_once.len(), r.samples.len());
        if r.params.stop.is_empty() {
            assert_eq!(finishes.len(), 1);
        } else {
            assert_eq!(finishes.len(), 2, "samples should end at different steps");
        }
        assert_eq!(run(r, 3, &invariant).0, all_at_once);
        assert_eq!(run(r, 3, &unified).0.len(), r.samples.len());
    }
}

/// Sequences that finish below others leave gaps among the generating
/// slots; the engine moves the top sequences down into them instead of
/// padding the gaps, so a step decodes no more rows than sequences generate
/// (one pad at most, beside a lone sequence), and a moved sample's text is
/// the one it gets alone.
#[test]
fn finished_sequences_leave_no_gaps_to_pad() {
    let (_dir, path) = common::tiny_model(None);
    let b = LlamaBackend::open(&common::spec(&path, 12, 256, &[("ignore_eos", "true")])).unwrap();
    let mut r = req(
        "once upon a time there was a",
        sampled(40),
        (0..12).collect(),
    );
    r.params.stop = vec!["e".into()];
    let before = b.engine_stats();
    let mut together = b.generate(&r).unwrap();
    let stats = b.engine_stats();
    together.sort_by_key(|g| g.sample);
    let lengths: BTreeSet<u32> = together
        .iter()
        .map(|g| g.usage.completion_tokens.unwrap())
        .collect();
    assert!(
        lengths.len() > 2,
        "samples should end at different steps: {lengths:?}"
    );
    let moves = stats.slot_moves - before.slot_moves;
    assert!(
        moves > 0,
        "sequences ended below running ones, so some must have moved"
    );
    let steps = stats.steps - before.steps;
    let padding = stats.padding_tokens - before.padding_tokens;
    assert!(
        padding <= steps,
        "{padding} pad rows in {steps} steps: a gap among generating slots was padded"
    );
    for g in &together {
        let mut one = r.clone();
        one.samples = vec![g.sample];
        let alone = b.generate(&one).unwrap();
        assert_eq!(
            alone[0].text, g.text,
            "sample {} alone vs moved in a batch",
            g.sample
        );
    }
}

/// While the run scores (a sandboxed program on one of the cores), the
/// engine decodes its generation steps with fewer threads; the answers stay
/// the same.
#[test]
fn scoring_takes_a_thread_not_the_answers() {
    let (_dir, path) = common::tiny_model(None);
    let b = LlamaBackend::open(&common::spec(&path, 4, 256, &[("ignore_eos", "true")])).unwrap();
    assert_eq!(b.settings().threads, 2);
    let r = req("the cat is on the", sampled(16), (0..4).collect());
    let alone = texts(&b.generate(&r).unwrap());
    let before = b.engine_stats();
    let scoring = litmus_core::base::busy::Scoring::start();
    let beside_scoring = texts(&b.generate(&r).unwrap());
    drop(scoring);
    let after = b.engine_stats();
    let yielded = after.yielded_steps - before.yielded_steps;
    // Every step: the prompt's (a chunk of several tokens) and the 15
    // generation steps after the token drawn from it.
    assert!(yielded >= 16, "{yielded} steps with a thread fewer");
    // The first step waited for scoring to end, as long as a step with
    // every thread took; scoring outlasted it, so the others did not wait.
    assert_eq!(after.scoring_waits - before.scoring_waits, 1);
    assert_eq!(beside_scoring, alone);
    // A spec can keep every thread.
    let keep = LlamaBackend::open(&common::spec(
        &path,
        4,
        256,
        &[("ignore_eos", "true"), ("yield_cores", "false")],
    ))
    .unwrap();
    let scoring = litmus_core::base::busy::Scoring::start();
    assert_eq!(texts(&keep.generate(&r).unwrap()), alone);
    drop(scoring);
    assert_eq!(keep.engine_stats().yielded_steps, 0);
    // One shared KV cache: a step of several sequences is one stream of
    // several rows, which yields too, with the same texts.
    let unified = LlamaBackend::open(&common::spec(
        &path,
        4,
        256,
        &[("ignore_eos", "true"), ("kv_unified", "true")],
    ))
    .unwrap();
    let alone = texts(&unified.generate(&r).unwrap());
    let scoring = litmus_core::base::busy::Scoring::start();
    assert_eq!(texts(&unified.generate(&r).unwrap()), alone);
    drop(scoring);
    assert!(unified.engine_stats().yielded_steps >= 16);
    // One sequence per step (no padding): a generation step's numbers may
    // depend on the thread count, so such an engine yields only on its
    // prompt's step.
    let single =
        LlamaBackend::open(&common::spec(&path, 1, 256, &[("ignore_eos", "true")])).unwrap();
    let one = req("the cat is on the", sampled(16), vec![0]);
    let alone = texts(&single.generate(&one).unwrap());
    let scoring = litmus_core::base::busy::Scoring::start();
    assert_eq!(texts(&single.generate(&one).unwrap()), alone);
    drop(scoring);
    assert_eq!(single.engine_stats().yielded_steps, 1);
}

/// The engine's bookkeeping holds on randomized mixes of requests (see
/// `common::random_workload`), with separate KV streams and with one shared
/// cache, and with batches smaller than the longer prompts.
#[test]
fn randomized_workloads_complete_exactly_once() {
    let (_dir, path) = common::tiny_model(None);
    for (seed, options) in [
        (1, vec![("n_batch", "16")]),
        (2, vec![("n_batch", "16"), ("kv_unified", "true")]),
        (3, vec![("dedupe_greedy", "false")]),
    ] {
        let b = Arc::new(LlamaBackend::open(&common::spec(&path, 4, 256, &options)).unwrap());
        common::random_workload(&b, seed, 40);
    }
}

/// A backend whose KV streams were sized to the run's workload serves a
/// request longer than they hold (one the run could not know ahead, say a
/// judge's) on a second engine with full-length streams, with the answers an
/// engine with full-length streams gives; short requests stay on the sized one.
#[test]
fn requests_beyond_the_workload_get_full_length_streams() {
    let (_dir, path) = common::tiny_model(None);
    let options = [("ignore_eos", "true")];
    let mut spec = common::spec(&path, 8, 2048, &options);
    spec.parallel = None;
    spec.workload = Some(Workload {
        samples: 6,
        requests: Some(KnownRequests {
            prompts: vec![Prompt::Completion("the cat is on the".into())],
            max_tokens: 24,
        }),
    });
    let sized = LlamaBackend::open(&spec).unwrap();
    // Its bytes bound the streams to 512 cells; its tokens, to 256.
    let limit = sized.settings().stream_limit() as usize;
    assert_eq!((sized.settings().parallel, limit), (6, 256));
    let full = LlamaBackend::open(&common::spec(&path, 6, 2048, &options)).unwrap();
    assert_eq!(full.settings().stream_limit(), 2048);

    let tokens = |p: &str| {
        sized
            .tokenize_prompt(&Prompt::Completion(p.into()))
            .unwrap()
            .len()
    };
    let long = (1..)
        .map(|k| "the cat and the dog ".repeat(k))
        .find(|p| tokens(p) + 24 > limit)
        .unwrap();
    assert!(tokens(&long) + 24 < 2048);
    for prompt in [long.as_str(), "the cat is on the", long.as_str()] {
        let r = req(prompt, sampled(24), (0..3).collect());
        let a = sized.generate(&r).unwrap();
        assert_eq!(texts(&a), texts(&full.generate(&r).unwrap()), "{prompt:?}");
        for g in &a {
            assert_eq!(
                (g.finish, g.usage.completion_tokens.unwrap()),
                (FinishReason::Length, 24)
            );
        }
    }
}
