//! Generation through the response cache: the one path from a prompt to a
//! generation, used for declarative evals (batched, on the runner's
//! generation threads), for the model calls of imperative evals
//! ([`CachingCaller`]) and for the LLM judge (`run::judge`).
//!
//! [`CachedBackend::answer`] looks every sample up in the response cache
//! ([`crate::run::store::Cache`]), asks the backend for the missing ones in
//! one request (a panic in the backend is an error, not a crash), and stores
//! what the backend answered in the cache. Cache keys are
//! [`response_key`] (weights digest, backend, cache salt, prompt, parameters,
//! sample, call ordinal) made distinct per repeat by [`repeat_key`]. An
//! imperative sample's calls are recorded too ([`CachingCaller::remember`]),
//! so that a rerun can tell before loading the model whether every one of
//! them is cached ([`CachedBackend::calls_cached`]).

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::base::backend::{
    Backend, BackendError, Generation, GenerationRequest, ModelInfo, Prompt, SamplingParams,
};
use crate::base::caller::ModelCaller;
use crate::base::util::panic_message;
use crate::eval::template::PromptTemplate;
use crate::run::store::{calls_key, repeat_key, response_key, Cache};

/// How one sample was answered by [`CachedBackend::answer`].
#[derive(Debug)]
pub enum Answer {
    /// From the response cache.
    Cached(Generation),
    /// By the backend (and now in the cache).
    Generated(Generation),
    /// The backend answered the request, but not for this sample.
    Missing,
    /// The backend's request failed (or panicked).
    Failed(BackendError),
}

/// A backend seen through the response cache.
pub struct CachedBackend<'a> {
    backend: &'a dyn Backend,
    cache: &'a Cache,
    salt: String,
    requests: &'a AtomicUsize,
}

impl<'a> CachedBackend<'a> {
    /// `backend` through `cache`; every request sent to the backend is
    /// counted in `requests`.
    pub fn new(backend: &'a dyn Backend, cache: &'a Cache, requests: &'a AtomicUsize) -> Self {
        CachedBackend {
            backend,
            cache,
            salt: backend.cache_salt(),
            requests,
        }
    }

    /// The backend.
    pub fn backend(&self) -> &'a dyn Backend {
        self.backend
    }

    /// The model served.
    pub fn model(&self) -> &'a ModelInfo {
        self.backend.model()
    }

    /// The cache key of sample `sample` of `prompt` (call `ordinal` of an
    /// eval; 0 for a declarative one) in repeat `repeat`.
    pub(crate) fn key(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
        repeat: u32,
    ) -> String {
        let info = self.backend.model();
        repeat_key(
            response_key(
                &info.digest,
                &info.backend,
                &self.salt,
                prompt,
                params,
                sample,
                ordinal,
            ),
            repeat,
        )
    }

    /// Whether the cache holds the answer to sample `sample` of repeat
    /// `repeat` of a declarative `prompt`, as [`CachedBackend::answer`]
    /// would look it up.
    pub fn is_cached(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        (repeat, sample): (u32, u32),
    ) -> bool {
        let key = self.key(prompt, params, sample, 0, repeat);
        self.cache.response(&key).is_some()
    }

    /// The key under which sample `sample` (repeat `repeat`) of imperative
    /// eval `eval` records its calls ([`crate::run::store::calls_key`]).
    fn calls_key(
        &self,
        eval: &str,
        template: &PromptTemplate,
        params: &SamplingParams,
        (repeat, sample): (u32, u32),
    ) -> String {
        let info = self.backend.model();
        calls_key(
            &info.digest,
            &info.backend,
            &self.salt,
            eval,
            template,
            params,
            sample,
            repeat,
        )
    }

    /// Whether sample `sample` of repeat `repeat` of eval `eval` recorded
    /// its calls in an earlier run ([`CachedBackend::record_calls`]) and the
    /// cache holds the answer to every one of them: then running it again
    /// (the same calls, if the eval's code is unchanged) needs no model.
    pub fn calls_cached(
        &self,
        eval: &str,
        template: &PromptTemplate,
        params: &SamplingParams,
        repeat_sample: (u32, u32),
    ) -> bool {
        let key = self.calls_key(eval, template, params, repeat_sample);
        self.cache
            .calls(&key)
            .is_some_and(|calls| calls.iter().all(|k| self.cache.response(k).is_some()))
    }

    /// Records in the cache the response keys `calls` of the calls sample
    /// `sample` of repeat `repeat` of eval `eval` made (an imperative eval's,
    /// or the model's own judge grading a declarative answer), for
    /// [`CachedBackend::calls_cached`] to find in a later run.
    pub fn record_calls(
        &self,
        eval: &str,
        template: &PromptTemplate,
        params: &SamplingParams,
        repeat_sample: (u32, u32),
        calls: Vec<String>,
    ) {
        let key = self.calls_key(eval, template, params, repeat_sample);
        self.cache.put_calls(key, calls);
    }

    /// Answers `samples` of `prompt` in repeat `repeat`: each from the cache
    /// where it holds one (reported at once, before the backend is asked),
    /// the rest in one backend request whose answers go into the cache.
    /// `on_answer` receives every sample exactly once. Returns whether the
    /// backend was asked.
    pub fn answer(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        samples: &[u32],
        ordinal: u32,
        repeat: u32,
        mut on_answer: impl FnMut(u32, Answer),
    ) -> bool {
        let mut missing = Vec::new();
        for &sample in samples {
            let key = self.key(prompt, params, sample, ordinal, repeat);
            match self.cache.response(&key) {
                Some(g) => on_answer(sample, Answer::Cached(g)),
                None => missing.push(sample),
            }
        }
        if missing.is_empty() {
            return false;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let request = GenerationRequest {
            prompt: prompt.clone(),
            params: params.clone(),
            samples: missing.clone(),
        };
        let (generations, failed) = match generate_guarded(self.backend, &request, repeat) {
            Ok(generations) => (generations, Vec::new()),
            Err(BackendError::Partial(p)) => (p.generated, p.failed),
            Err(e) => (
                Vec::new(),
                missing.iter().map(|&s| (s, e.clone())).collect(),
            ),
        };
        // The first answer for each sample asked for counts.
        let mut got = HashSet::new();
        for g in generations {
            if !missing.contains(&g.sample) || !got.insert(g.sample) {
                continue;
            }
            let key = self.key(prompt, params, g.sample, ordinal, repeat);
            self.cache.put_response(key, &g);
            on_answer(g.sample, Answer::Generated(g));
        }
        for (sample, e) in failed {
            if missing.contains(&sample) && got.insert(sample) {
                on_answer(sample, Answer::Failed(e));
            }
        }
        for sample in missing.into_iter().filter(|s| !got.contains(s)) {
            on_answer(sample, Answer::Missing);
        }
        true
    }

    /// Sample `sample` of `prompt` (call `ordinal` of an eval) in repeat
    /// `repeat`, and whether it came from the cache.
    pub fn call(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
        repeat: u32,
    ) -> Result<(Generation, bool), BackendError> {
        let mut out = None;
        self.answer(prompt, params, &[sample], ordinal, repeat, |_, a| {
            out = Some(a)
        });
        match out {
            Some(Answer::Cached(g)) => Ok((g, true)),
            Some(Answer::Generated(g)) => Ok((g, false)),
            Some(Answer::Failed(e)) => Err(e),
            Some(Answer::Missing) | None => Err(BackendError::Backend(format!(
                "no answer for sample {sample}"
            ))),
        }
    }
}

/// The model calls of one imperative eval sample (repeat `repeat`), through
/// the response cache; remembers whether every call was answered from it,
/// and which calls were made.
pub struct CachingCaller<'a> {
    backend: &'a CachedBackend<'a>,
    repeat: u32,
    all_cached: AtomicBool,
    /// The response keys of the calls answered so far; `None` once one failed.
    keys: Mutex<Option<Vec<String>>>,
}

impl<'a> CachingCaller<'a> {
    /// Calls for repeat `repeat` through `backend`.
    pub fn new(backend: &'a CachedBackend<'a>, repeat: u32) -> Self {
        CachingCaller {
            backend,
            repeat,
            all_cached: AtomicBool::new(true),
            keys: Mutex::new(Some(Vec::new())),
        }
    }

    /// Whether every call so far was answered from the cache.
    pub fn all_cached(&self) -> bool {
        self.all_cached.load(Ordering::Relaxed)
    }

    /// Records in the cache which calls sample `sample` of imperative eval
    /// `eval` made (see [`CachedBackend::calls_cached`]), with `also` (the
    /// response keys of the calls the model under test answered as its own
    /// judge), unless one of them failed.
    pub fn remember(
        &self,
        eval: &str,
        template: &PromptTemplate,
        params: &SamplingParams,
        sample: u32,
        also: Vec<String>,
    ) {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut keys) = keys {
            keys.extend(also);
            self.backend
                .record_calls(eval, template, params, (self.repeat, sample), keys);
        }
    }
}

impl ModelCaller for CachingCaller<'_> {
    fn call(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
    ) -> Result<Generation, BackendError> {
        let result = self
            .backend
            .call(prompt, params, sample, ordinal, self.repeat);
        if !matches!(result, Ok((_, true))) {
            self.all_cached.store(false, Ordering::Relaxed);
        }
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        match (&result, keys.as_mut()) {
            (Ok(_), Some(keys)) => {
                keys.push(
                    self.backend
                        .key(prompt, params, sample, ordinal, self.repeat),
                )
            }
            _ => *keys = None,
        }
        drop(keys);
        result.map(|(g, _)| g)
    }

    fn model(&self) -> &ModelInfo {
        self.backend.model()
    }
}

/// `backend.generate_repeat`, with a panic turned into an error.
fn generate_guarded(
    backend: &dyn Backend,
    request: &GenerationRequest,
    repeat: u32,
) -> Result<Vec<Generation>, BackendError> {
    catch_unwind(AssertUnwindSafe(|| {
        backend.generate_repeat(request, repeat)
    }))
    .unwrap_or_else(|p| {
        Err(BackendError::Backend(format!(
            "backend panicked: {}",
            panic_message(p.as_ref())
        )))
    })
}
