//! The results store and the response cache.
//!
//! Each run lives in `<output-dir>/runs/<run-id>/`: `run.json` describes it,
//! `samples.jsonl` receives one JSON line per sample as soon as it is scored,
//! and `summary.json` is written at the end. An interrupted run is continued
//! with `--resume`: the samples already stored are kept, a torn last line is
//! dropped, and only what is missing (or errored) is run again.
//!
//! The response cache (`<output-dir>/cache/responses.jsonl`) maps everything
//! that determines a response — weights digest, backend, rendered prompt,
//! sampling parameters, seed and sample index — to the generation, so a rerun
//! skips generation. With `--repeat`, repeats after the first are cached
//! under keys of their own (see [`repeat_key`]), so a repeat regenerates
//! rather than reuse an earlier repeat's answer. Scores are cached too, keyed by the response and the
//! case's fingerprint, so a fully cached rerun costs almost nothing.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::base::backend::{Generation, Prompt, SamplingParams, Timings, Usage};
use crate::base::util::sha256_hex;
use crate::eval::context::Exchange;
use crate::eval::score::Score;
use crate::eval::template::PromptTemplate;
/// The keys records are identified by, defined with the matrix of a run.
pub use crate::plan::matrix::{ConfigKey, SampleKey};
use crate::plan::partition::{Partition, PartitionInfo};

/// One scored (or failed) sample, as stored in `samples.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// The eval's full name.
    pub eval: String,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Model display name.
    pub model: String,
    /// Backend kind.
    pub backend: String,
    /// Quantization label.
    pub quantization: Option<String>,
    /// Weights digest.
    pub digest: String,
    /// Template name.
    pub template: String,
    /// Sampling temperature.
    pub temperature: f32,
    /// Base seed of the run.
    pub seed: u64,
    /// Sample index.
    pub sample: u32,
    /// Repeat index (`--repeat N` runs every sample N times over: 0..N).
    /// Repeat 0 is the ordinary run and is not written, so records of runs
    /// without `--repeat` are unchanged.
    #[serde(default, skip_serializing_if = "crate::base::util::is_default")]
    pub repeat: u32,
    /// A digest of what decides this sample besides the model: the prompt,
    /// the case (examples, tests, reference, scorer settings), its sandbox
    /// limits and the scorer's revision. `--resume` runs a stored sample
    /// again when its eval's digest is no longer this one. Absent for
    /// imperative evals (their code is not digested) and in records of
    /// earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_digest: Option<String>,
    /// The prompt sent (for imperative evals: the first one).
    pub prompt: Option<Prompt>,
    /// The model's answer (for imperative evals: the last one).
    pub response: Option<String>,
    /// Every exchange of an imperative eval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<Exchange>,
    /// The score, absent when the sample failed.
    pub score: Option<Score>,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
    /// Timings.
    #[serde(default)]
    pub timings: Timings,
    /// Whether the response came from the cache.
    #[serde(default)]
    pub cached: bool,
    /// Which server produced the response, for a model served by an
    /// endpoint pool (for imperative evals: the last exchange's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
    /// What went wrong, when nothing could be scored.
    pub error: Option<String>,
    /// When it was recorded (ms since the epoch).
    #[serde(default)]
    pub at_ms: u64,
}

impl SampleRecord {
    /// The identity of this sample within a run: a rerun of the same key
    /// supersedes it.
    pub fn key(&self) -> SampleKey {
        SampleKey {
            eval: self.eval.clone(),
            model: self.model.clone(),
            quantization: self.quantization.clone(),
            template: self.template.clone(),
            temperature_bits: self.temperature.to_bits(),
            repeat: self.repeat,
            sample: self.sample,
        }
    }

    /// The configuration this sample belongs to.
    pub fn config(&self) -> ConfigKey {
        ConfigKey {
            model: self.model.clone(),
            quantization: self.quantization.clone(),
            template: self.template.clone(),
            temperature_bits: self.temperature.to_bits(),
        }
    }
}

/// Metadata of a run, in `run.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// The run id.
    pub id: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// The command line.
    pub args: Vec<String>,
    /// litmus version.
    pub litmus_version: String,
    /// This run's share of the plan (`--partition`), if it ran one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionInfo>,
    /// What decides the samples besides each configuration: what `cargo
    /// eval merge` requires the runs it merges to agree on. `None` in runs
    /// of older litmus versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<RunSettings>,
    /// The runs this one was merged from (`cargo eval merge`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedRun>,
    /// Where each configuration ran: the placement plan the run used
    /// (`cargo eval --plan` prints it before a run). `None` in runs of
    /// older litmus versions, merged runs, and eval targets without a
    /// device source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::plan::placement::Plan>,
}

/// The sampling parameters that must agree between merged runs (and a
/// resumed run and its continuation), by name,
/// as they are written in `litmus.toml` (the temperature is each
/// configuration's own; the stop rule is each prompt's).
fn param_fields(p: &SamplingParams) -> Vec<(&'static str, String)> {
    // Destructured so that a new parameter cannot be forgotten here.
    let SamplingParams {
        temperature: _,
        top_p,
        top_k,
        min_p,
        repeat_penalty,
        max_tokens,
        stop,
        stop_rule: _,
        seed,
    } = p;
    vec![
        ("top_p", top_p.to_string()),
        ("top_k", top_k.to_string()),
        ("min_p", min_p.to_string()),
        ("repeat_penalty", repeat_penalty.to_string()),
        ("max_tokens", max_tokens.to_string()),
        ("stop", format!("{stop:?}")),
        ("seed", seed.to_string()),
    ]
}

impl RunSettings {
    /// The settings that decide what a sample is (each sampling parameter,
    /// the samples per case, the repeats, the judge), named as in
    /// `litmus.toml`, with their values: what `--resume` and `merge` check.
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = param_fields(&self.params);
        fields.extend([
            ("samples", self.samples.to_string()),
            ("repeat", self.repeat.to_string()),
            (
                "judge",
                self.judge
                    .clone()
                    .unwrap_or_else(|| "the model under test".into()),
            ),
        ]);
        fields
    }

    /// The first setting that decides what a sample is (each sampling
    /// parameter, the samples per case, the repeats, the judge) that differs
    /// between `self` and `other`, named as in `litmus.toml`, with both
    /// values.
    pub fn difference(&self, other: &RunSettings) -> Option<(String, String, String)> {
        self.fields()
            .into_iter()
            .zip(other.fields())
            .find(|((_, a), (_, b))| a != b)
            .map(|((name, a), (_, b))| (name.to_string(), a, b))
    }
}

/// The settings of a run that decide its samples besides each configuration
/// (model, quantization, template, temperature), in `run.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Sampling parameters (seed, max_tokens, top_p, ...); the temperature
    /// is each configuration's own.
    pub params: SamplingParams,
    /// Samples per case (an eval's own count or `litmus.toml`'s wins).
    pub samples: u32,
    /// `--repeat`.
    pub repeat: u32,
    /// The judge model's name, when the run has one of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<String>,
    /// The eval target's source file, relative to the workspace root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Where the eval target's score snapshots are, relative to the
    /// workspace root (absolute when outside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_dir: Option<String>,
}

/// One of the runs a merged run was made from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MergedRun {
    /// Its run id.
    pub id: String,
    /// Its directory, as given to the merge.
    pub dir: String,
    /// Its partition, if it ran one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    /// Samples it held.
    pub samples: usize,
}

/// An error of the results store, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct StoreError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// A record of a JSON-lines file that does not parse: `line L, column C:`
/// and serde's message without its own position (which counts the line
/// within the record, always 1).
fn line_err(path: &Path, line: usize, e: &serde_json::Error) -> StoreError {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&position).unwrap_or(&text);
    io_err(
        path,
        format!("line {line}, column {}: {message}", e.column()),
    )
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A new run id: a sortable UTC timestamp plus a random suffix.
pub fn new_run_id() -> String {
    let ms = crate::base::util::now_ms();
    let stamp = crate::base::util::rfc3339(ms)
        .replace([':', '-'], "")
        .replace('T', "-");
    let nonce = sha256_hex(format!("{ms}{}", std::process::id()).as_bytes());
    format!("{}-{}", stamp.trim_end_matches('Z'), &nonce[..6])
}

/// A run directory, open for appending samples.
pub struct RunStore {
    dir: PathBuf,
    id: String,
    writer: Mutex<BufWriter<File>>,
    existing: Vec<SampleRecord>,
}

impl RunStore {
    /// Creates a new run under `output_dir/runs/`.
    pub fn create(output_dir: &Path, meta: &RunMeta) -> Result<Self, StoreError> {
        let dir = output_dir.join("runs").join(&meta.id);
        fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let meta_path = dir.join("run.json");
        fs::write(
            &meta_path,
            serde_json::to_vec_pretty(meta).unwrap_or_default(),
        )
        .map_err(|e| io_err(&meta_path, e))?;
        let latest = output_dir.join("runs").join("latest");
        let _ = fs::write(&latest, &meta.id);
        Self::open_dir(dir, meta.id.clone(), Vec::new())
    }

    /// Records in `run.json` the placement the run used (the plan as run,
    /// re-planned configurations included), replacing what it held.
    pub fn record_placement(&self, plan: &crate::plan::placement::Plan) -> Result<(), StoreError> {
        let path = self.dir.join("run.json");
        let mut meta = self.meta()?;
        meta.placement = Some(plan.clone());
        fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap_or_default())
            .map_err(|e| io_err(&path, e))
    }

    /// Reopens run `id` (or the latest) to continue it.
    pub fn resume(output_dir: &Path, id: Option<&str>) -> Result<Self, StoreError> {
        let runs = output_dir.join("runs");
        let id = match id {
            Some(id) => id.to_string(),
            None => {
                let latest = runs.join("latest");
                fs::read_to_string(&latest)
                    .map_err(|e| io_err(&latest, format!("no run to resume ({e})")))?
                    .trim()
                    .to_string()
            }
        };
        let dir = runs.join(&id);
        if !dir.is_dir() {
            return Err(io_err(&dir, "no such run"));
        }
        let existing = read_samples_repairing(&dir.join("samples.jsonl"))?;
        Self::open_dir(dir, id, existing)
    }

    fn open_dir(dir: PathBuf, id: String, existing: Vec<SampleRecord>) -> Result<Self, StoreError> {
        let path = dir.join("samples.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        Ok(RunStore {
            dir,
            id,
            writer: Mutex::new(BufWriter::new(file)),
            existing,
        })
    }

    /// The run's `run.json`, as it is on disk.
    pub fn meta(&self) -> Result<RunMeta, StoreError> {
        let path = self.dir.join("run.json");
        let data = fs::read(&path).map_err(|e| io_err(&path, e))?;
        serde_json::from_slice(&data).map_err(|e| io_err(&path, e))
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Samples stored before this process opened the run (on `--resume`).
    pub fn existing(&self) -> &[SampleRecord] {
        &self.existing
    }

    /// Appends one sample and flushes it to the OS at once.
    pub fn append(&self, record: &SampleRecord) -> Result<(), StoreError> {
        let path = self.dir.join("samples.jsonl");
        let mut line = serde_json::to_vec(record).map_err(|e| io_err(&path, e))?;
        line.push(b'\n');
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.write_all(&line)
            .and_then(|_| w.flush())
            .map_err(|e| io_err(&path, e))
    }

    /// Writes `summary.json`, whole or not at all (through a temporary file
    /// renamed over it: a full disk leaves the previous one, not an empty
    /// file).
    pub fn write_summary(&self, summary: &impl Serialize) -> Result<PathBuf, StoreError> {
        let path = self.dir.join("summary.json");
        let tmp = self.dir.join(".summary.json.tmp");
        let data = serde_json::to_vec_pretty(summary).map_err(|e| io_err(&path, e))?;
        if let Err(e) = fs::write(&tmp, data).and_then(|_| fs::rename(&tmp, &path)) {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(&path, e));
        }
        Ok(path)
    }
}

/// Reads a `samples.jsonl`. A torn last line (an interrupted write) is cut
/// off the file; a malformed line elsewhere is an error naming its number.
pub fn read_samples_repairing(path: &Path) -> Result<Vec<SampleRecord>, StoreError> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path, e)),
    };
    let mut out = Vec::new();
    let mut offset = 0usize;
    let mut lineno = 0usize;
    while offset < data.len() {
        lineno += 1;
        let end = data[offset..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| offset + p);
        let Some(end) = end else {
            // A final line without newline: an interrupted write. Drop it.
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| io_err(path, e))?;
            f.set_len(offset as u64).map_err(|e| io_err(path, e))?;
            break;
        };
        let line = &data[offset..end];
        if !line.iter().all(u8::is_ascii_whitespace) {
            let rec: SampleRecord =
                serde_json::from_slice(line).map_err(|e| line_err(path, lineno, &e))?;
            out.push(rec);
        }
        offset = end + 1;
    }
    Ok(out)
}

/// Drops from `latest` (the last record per sample key) the errored
/// records of a model that failed to open which a record of the same sample
/// with a known quantization supersedes. A model that cannot be opened (a
/// server down, a key not set) records its samples without the
/// quantization it reports once open (an HTTP server's or a GGUF's name
/// for it), so its resumed samples have other keys; without this, the
/// failed attempt stayed in the run as a configuration of errors that no
/// `--resume` could clear.
pub fn supersede_unopened(latest: &mut BTreeMap<SampleKey, SampleRecord>) {
    let known: Vec<SampleKey> = latest
        .keys()
        .filter(|k| k.quantization.is_some())
        .cloned()
        .collect();
    for k in &known {
        supersede_unopened_by(latest, k);
    }
}

/// [`supersede_unopened`] for the one sample `key` (with a quantization)
/// names.
pub fn supersede_unopened_by(latest: &mut BTreeMap<SampleKey, SampleRecord>, key: &SampleKey) {
    if key.quantization.is_none() {
        return;
    }
    let unopened = SampleKey {
        quantization: None,
        ..key.clone()
    };
    if latest.get(&unopened).is_some_and(|r| r.error.is_some()) {
        latest.remove(&unopened);
    }
}

/// Reads a run's samples, keeping the last record of each sample key.
pub fn read_run(dir: &Path) -> Result<Vec<SampleRecord>, StoreError> {
    let path = dir.join("samples.jsonl");
    let data = fs::read(&path).map_err(|e| io_err(&path, e))?;
    let mut latest: BTreeMap<SampleKey, SampleRecord> = BTreeMap::new();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<SampleRecord>(line) {
            Ok(rec) => {
                latest.insert(rec.key(), rec);
            }
            // A torn final line is tolerated when reading.
            Err(_) if !data.ends_with(b"\n") && i == data.split(|&b| b == b'\n').count() - 1 => {}
            Err(e) => return Err(line_err(&path, i + 1, &e)),
        }
    }
    supersede_unopened(&mut latest);
    Ok(latest.into_values().collect())
}

/// Resolves a run given as a directory or an id under `output_dir/runs/`.
pub fn find_run(output_dir: &Path, run: &str) -> Option<PathBuf> {
    let p = PathBuf::from(run);
    if p.join("samples.jsonl").is_file() {
        return Some(p);
    }
    let runs = output_dir.join("runs");
    let id = if run == "latest" {
        fs::read_to_string(runs.join("latest"))
            .ok()?
            .trim()
            .to_string()
    } else {
        run.to_string()
    };
    let dir = runs.join(id);
    dir.join("samples.jsonl").is_file().then_some(dir)
}

/// The cache key of one sample's response.
pub fn response_key(
    digest: &str,
    backend: &str,
    salt: &str,
    prompt: &Prompt,
    params: &SamplingParams,
    sample: u32,
    ordinal: u32,
) -> String {
    #[derive(Serialize)]
    struct Key<'a> {
        v: u32,
        digest: &'a str,
        backend: &'a str,
        salt: &'a str,
        prompt: &'a Prompt,
        params: &'a SamplingParams,
        sample: u32,
        ordinal: u32,
    }
    let k = Key {
        v: 1,
        digest,
        backend,
        salt,
        prompt,
        params,
        sample,
        ordinal,
    };
    sha256_hex(&serde_json::to_vec(&k).unwrap_or_default())
}

/// The cache key of repeat `repeat` of the response whose key (for repeat
/// 0) is `key`: `key` itself for repeat 0, so that runs without `--repeat`
/// keep their cache, and a distinct key for every later repeat, so that a
/// repeat is never answered with an earlier repeat's response.
///
/// ```
/// use litmus_core::run::store::repeat_key;
/// assert_eq!(repeat_key("abc".into(), 0), "abc");
/// assert_ne!(repeat_key("abc".into(), 1), repeat_key("abc".into(), 2));
/// ```
pub fn repeat_key(key: String, repeat: u32) -> String {
    if repeat == 0 {
        return key;
    }
    sha256_hex(format!("{key}\0repeat\0{repeat}").as_bytes())
}

/// The cache key under which a sample records the response keys of the
/// model calls it made ([`Cache::calls`]: an imperative eval's calls, or the
/// model's own judge grading a text case): the model as [`response_key`]
/// names it, the eval, the prompt template, the sampling parameters, the
/// sample and the repeat.
#[allow(clippy::too_many_arguments)]
pub fn calls_key(
    digest: &str,
    backend: &str,
    salt: &str,
    eval: &str,
    template: &PromptTemplate,
    params: &SamplingParams,
    sample: u32,
    repeat: u32,
) -> String {
    #[derive(Serialize)]
    struct Key<'a> {
        v: u32,
        calls_of: &'a str,
        digest: &'a str,
        backend: &'a str,
        salt: &'a str,
        template: &'a PromptTemplate,
        params: &'a SamplingParams,
        sample: u32,
        repeat: u32,
    }
    let k = Key {
        v: 1,
        calls_of: eval,
        digest,
        backend,
        salt,
        template,
        params,
        sample,
        repeat,
    };
    sha256_hex(&serde_json::to_vec(&k).unwrap_or_default())
}

/// The cache key of a score: the response and the case's fingerprint.
pub fn score_key(case_fingerprint: &str, response: &str) -> String {
    let mut buf = Vec::with_capacity(case_fingerprint.len() + response.len() + 32);
    // v3: a metric that cannot score is an error, no longer a cached 0.
    // v4: JSON Schema's multipleOf exact; JSON numbers read correctly rounded.
    // v5: the regex metric matches the answer with its surrounding whitespace trimmed.
    buf.extend_from_slice(b"litmus-score-v5\0");
    buf.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    buf.push(0);
    // The sandbox's drivers: a score is the scorer's as much as the answer's.
    buf.extend_from_slice(litmus_sandbox::scorer_revision().as_bytes());
    buf.push(0);
    buf.extend_from_slice(case_fingerprint.as_bytes());
    buf.push(0);
    buf.extend_from_slice(response.as_bytes());
    sha256_hex(&buf)
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum CacheLine {
    Response { key: String, generation: Generation },
    Score { key: String, score: Score },
    Calls { key: String, calls: Vec<String> },
}

/// The response and score cache, an append-only JSON-lines file loaded into
/// memory at start. It also remembers which calls each sample of an
/// imperative eval (or of a text case the model grades itself) made
/// ([`Cache::calls`]), so that a rerun knows ahead whether the model is
/// needed.
pub struct Cache {
    path: Option<PathBuf>,
    responses: Mutex<HashMap<String, Generation>>,
    scores: Mutex<HashMap<String, Score>>,
    calls: Mutex<HashMap<String, Vec<String>>>,
    writer: Option<Mutex<BufWriter<File>>>,
}

impl Cache {
    /// A cache that stores nothing (`--no-cache`).
    pub fn disabled() -> Self {
        Cache {
            path: None,
            responses: Mutex::new(HashMap::new()),
            scores: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            writer: None,
        }
    }

    /// Opens (or creates) the cache in `dir`. Unreadable lines (torn by a
    /// crash or a full disk, not UTF-8, not an entry) are skipped, each
    /// alone; a last line without its line break gets one before anything
    /// is appended after it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let path = dir.join("responses.jsonl");
        let mut responses = HashMap::new();
        let mut scores = HashMap::new();
        let mut calls = HashMap::new();
        let mut torn_end = false;
        if let Ok(f) = File::open(&path) {
            let mut reader = BufReader::with_capacity(1 << 20, f);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => return Err(io_err(&path, e)),
                }
                torn_end = line.last() != Some(&b'\n');
                match serde_json::from_slice::<CacheLine>(&line) {
                    Ok(CacheLine::Response { key, generation }) => {
                        responses.insert(key, generation);
                    }
                    Ok(CacheLine::Score { key, score }) => {
                        scores.insert(key, score);
                    }
                    Ok(CacheLine::Calls { key, calls: keys }) => {
                        calls.insert(key, keys);
                    }
                    Err(_) => {}
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        if torn_end {
            file.write_all(b"\n").map_err(|e| io_err(&path, e))?;
        }
        Ok(Cache {
            path: Some(path),
            responses: Mutex::new(responses),
            scores: Mutex::new(scores),
            calls: Mutex::new(calls),
            writer: Some(Mutex::new(BufWriter::new(file))),
        })
    }

    /// The cache file, when enabled.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A cached response.
    pub fn response(&self, key: &str) -> Option<Generation> {
        self.responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// A cached score.
    pub fn score(&self, key: &str) -> Option<Score> {
        self.scores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    fn append(&self, line: &CacheLine) {
        if let Some(w) = &self.writer {
            if let Ok(mut data) = serde_json::to_vec(line) {
                data.push(b'\n');
                let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
                let _ = w.write_all(&data).and_then(|_| w.flush());
            }
        }
    }

    /// Records a response.
    pub fn put_response(&self, key: String, generation: &Generation) {
        if self.writer.is_none() {
            return;
        }
        self.append(&CacheLine::Response {
            key: key.clone(),
            generation: generation.clone(),
        });
        self.responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, generation.clone());
    }

    /// The response keys of the calls recorded under `key` ([`calls_key`]).
    pub fn calls(&self, key: &str) -> Option<Vec<String>> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// Records the response keys of a sample's calls ([`calls_key`]);
    /// written only when they differ from what is recorded (a cached rerun
    /// adds nothing to the file).
    pub fn put_calls(&self, key: String, calls: Vec<String>) {
        if self.writer.is_none() {
            return;
        }
        let mut all = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if all.get(&key) == Some(&calls) {
            return;
        }
        self.append(&CacheLine::Calls {
            key: key.clone(),
            calls: calls.clone(),
        });
        all.insert(key, calls);
    }

    /// Records a score.
    pub fn put_score(&self, key: String, score: &Score) {
        if self.writer.is_none() {
            return;
        }
        self.append(&CacheLine::Score {
            key: key.clone(),
            score: score.clone(),
        });
        self.scores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, score.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(eval: &str, sample: u32) -> SampleRecord {
        SampleRecord {
            eval: eval.into(),
            model: "m".into(),
            backend: "replay".into(),
            digest: "d".into(),
            template: "plain".into(),
            temperature: 0.0,
            seed: 1,
            sample,
            prompt: Some(Prompt::user("q")),
            response: Some("a".into()),
            score: Some(Score::pass()),
            ..SampleRecord::default()
        }
    }

    /// A model that failed to open recorded its samples without the
    /// quantization it reports once open: the resumed samples replace
    /// them, and a scored sample without a quantization stays.
    #[test]
    fn resumed_samples_replace_those_of_a_model_that_failed_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let failed = |eval: &str, sample: u32| SampleRecord {
            score: None,
            error: Some("connection refused".into()),
            ..record(eval, sample)
        };
        let opened = |eval: &str, sample: u32| SampleRecord {
            quantization: Some("Q4_K_M".into()),
            ..record(eval, sample)
        };
        let lines: Vec<String> = [
            failed("e", 0),
            failed("e", 1),
            failed("f", 0),
            record("g", 0),
            opened("e", 0),
            opened("e", 1),
        ]
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
        fs::write(dir.path().join("samples.jsonl"), lines.join("\n") + "\n").unwrap();
        let all = read_run(dir.path()).unwrap();
        let kept: Vec<(&str, u32, Option<&str>, bool)> = all
            .iter()
            .map(|r| {
                (
                    r.eval.as_str(),
                    r.sample,
                    r.quantization.as_deref(),
                    r.error.is_some(),
                )
            })
            .collect();
        assert_eq!(
            kept,
            [
                ("e", 0, Some("Q4_K_M"), false),
                ("e", 1, Some("Q4_K_M"), false),
                ("f", 0, None, true),
                ("g", 0, None, false)
            ]
        );
    }

    /// A bad line in the middle names its line and column once, in the
    /// file's terms (serde's own "at line 1" counts within the record).
    #[test]
    fn a_garbled_line_is_named_by_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let good = serde_json::to_string(&record("e", 0)).unwrap();
        let text = format!("{good}\n{{\"eval\": \"\\ud800x\"}}\n{good}\n");
        fs::write(dir.path().join("samples.jsonl"), text).unwrap();
        let err = read_run(dir.path()).unwrap_err().to_string();
        assert!(err.contains("samples.jsonl: line 2, column "), "{err}");
        assert!(!err.contains(" at line "), "{err}");
    }

    #[test]
    fn resume_drops_a_torn_last_line_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let meta = RunMeta {
            id: "r1".into(),
            ..RunMeta::default()
        };
        let store = RunStore::create(dir.path(), &meta).unwrap();
        store.append(&record("a", 0)).unwrap();
        store.append(&record("a", 1)).unwrap();
        drop(store);
        let path = dir.path().join("runs/r1/samples.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"eval\":\"a\",\"mod").unwrap();
        drop(f);
        let store = RunStore::resume(dir.path(), None).unwrap();
        assert_eq!(store.existing().len(), 2);
        store.append(&record("a", 2)).unwrap();
        drop(store);
        let all = read_run(&dir.path().join("runs/r1")).unwrap();
        assert_eq!(all.iter().map(|r| r.sample).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn repeats_are_separate_samples_and_repeat_zero_is_written_as_before() {
        let plain = serde_json::to_value(record("a", 0)).unwrap();
        assert!(plain.get("repeat").is_none(), "{plain}");
        let mut again = record("a", 0);
        again.repeat = 2;
        let line = serde_json::to_string(&again).unwrap();
        assert!(line.contains("\"repeat\":2"), "{line}");
        assert_eq!(serde_json::from_str::<SampleRecord>(&line).unwrap(), again);
        assert_ne!(again.key(), record("a", 0).key());

        let dir = tempfile::tempdir().unwrap();
        let meta = RunMeta {
            id: "r".into(),
            ..RunMeta::default()
        };
        let store = RunStore::create(dir.path(), &meta).unwrap();
        store.append(&record("a", 0)).unwrap();
        store.append(&again).unwrap();
        drop(store);
        let all = read_run(&dir.path().join("runs/r")).unwrap();
        assert_eq!(
            all.iter().map(|r| (r.repeat, r.sample)).collect::<Vec<_>>(),
            [(0, 0), (2, 0)]
        );
    }

    #[test]
    fn a_corrupt_line_in_the_middle_names_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.jsonl");
        let good = serde_json::to_string(&record("a", 0)).unwrap();
        fs::write(&path, format!("{good}\nnot json\n{good}\n")).unwrap();
        let err = read_samples_repairing(&path).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn cache_round_trips_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let g = Generation {
            sample: 3,
            text: "hi".into(),
            finish: Default::default(),
            usage: Usage::default(),
            timings: Timings::default(),
            served_by: None,
        };
        let c = Cache::open(dir.path()).unwrap();
        c.put_response("k".into(), &g);
        c.put_score("s".into(), &Score::pass());
        drop(c);
        let c = Cache::open(dir.path()).unwrap();
        assert_eq!(c.response("k"), Some(g));
        assert_eq!(c.score("s"), Some(Score::pass()));
        assert_eq!(c.response("other"), None);
    }

    #[test]
    fn a_torn_or_garbled_cache_line_loses_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::open(dir.path()).unwrap();
        c.put_score("a".into(), &Score::pass());
        drop(c);
        let path = dir.path().join("responses.jsonl");
        let good = std::fs::read(&path).unwrap();
        // A line that is not UTF-8 (a multi-byte character cut by a crash),
        // then good lines, then a torn last line without its line break.
        let mut bytes = b"{\"t\":\"response\",\"key\":\"x\",\"text\":\"caf\xc3\n".to_vec();
        bytes.extend_from_slice(&good);
        bytes.extend_from_slice(b"\xff\xfe garbage\n");
        let other = String::from_utf8(good.clone())
            .unwrap()
            .replace(r#""key":"a""#, r#""key":"b""#);
        bytes.extend_from_slice(other.as_bytes());
        bytes.extend_from_slice(b"{\"t\":\"score\",\"key\":\"torn");
        std::fs::write(&path, &bytes).unwrap();
        let c = Cache::open(dir.path()).unwrap();
        assert_eq!(c.score("a"), Some(Score::pass()));
        assert_eq!(c.score("b"), Some(Score::pass()), "read on past bad lines");
        // What is appended now is not glued to the torn line.
        c.put_score("c".into(), &Score::pass());
        drop(c);
        let c = Cache::open(dir.path()).unwrap();
        assert_eq!(c.score("c"), Some(Score::pass()));
    }

    #[test]
    fn response_keys_depend_on_everything_that_decides_a_response() {
        let p = SamplingParams::default();
        let base = response_key("d", "llama", "", &Prompt::user("q"), &p, 0, 0);
        assert_ne!(
            base,
            response_key("e", "llama", "", &Prompt::user("q"), &p, 0, 0)
        );
        assert_ne!(
            base,
            response_key("d", "llama", "", &Prompt::user("r"), &p, 0, 0)
        );
        assert_ne!(
            base,
            response_key("d", "llama", "", &Prompt::user("q"), &p, 1, 0)
        );
        let hot = SamplingParams {
            temperature: 0.7,
            ..p.clone()
        };
        assert_ne!(
            base,
            response_key("d", "llama", "", &Prompt::user("q"), &hot, 0, 0)
        );
        assert_eq!(
            base,
            response_key("d", "llama", "", &Prompt::user("q"), &p, 0, 0)
        );
    }
}
