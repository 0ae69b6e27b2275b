//! The judge model of a run: [`Plan::judge`](crate::plan::matrix::Plan::judge),
//! opened on first use and shared by every model of the run, or, when that is
//! `None`, the model under test itself. Judge calls go through the response
//! cache like every generation ([`CachedBackend`]), per repeat.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, OnceLock};

use crate::base::backend::{
    Backend, BackendError, Generation, ModelIdentity, ModelInfo, Prompt, SamplingParams,
    SharedBackend,
};
use crate::base::caller::ModelCaller;
use crate::base::model::{BackendOpener, ModelSpec};
use crate::base::util::panic_message;
use crate::run::generate::CachedBackend;
use crate::run::lazy::LazyBackend;
use crate::run::store::Cache;

/// The run's judge model: opened on first use, shared by every model; with
/// its cache identity known ahead, opened only for a reply the response
/// cache does not hold.
pub struct JudgeSlot<'a> {
    spec: Option<&'a ModelSpec>,
    opener: BackendOpener<'a>,
    opened: OnceLock<Result<SharedBackend, BackendError>>,
    lazy: Option<LazyBackend<'a>>,
}

impl<'a> JudgeSlot<'a> {
    /// The judge `spec` (`None`: each model judges itself), opened with
    /// `opener`; `identity` is its cache identity when known before it loads.
    pub fn new(
        spec: Option<&'a ModelSpec>,
        opener: BackendOpener<'a>,
        identity: Option<ModelIdentity>,
    ) -> Self {
        JudgeSlot {
            spec,
            opener,
            opened: OnceLock::new(),
            lazy: spec
                .zip(identity)
                .map(|(s, id)| LazyBackend::new(id, s.clone(), LazyBackend::opening_with(opener))),
        }
    }

    /// The judge's spec, if the run names one.
    pub fn spec(&self) -> Option<&'a ModelSpec> {
        self.spec
    }

    /// The judge's backend (the run names a judge): known ahead, or opened now.
    fn backend(&self, spec: &ModelSpec) -> Result<&dyn Backend, &BackendError> {
        if let Some(lazy) = &self.lazy {
            return Ok(lazy);
        }
        let opened = self.opened.get_or_init(|| {
            catch_unwind(AssertUnwindSafe(|| (self.opener)(spec))).unwrap_or_else(|p| {
                Err(BackendError::Load(format!(
                    "opening panicked: {}",
                    panic_message(p.as_ref())
                )))
            })
        });
        match opened {
            Ok(b) => Ok(&**b),
            Err(e) => Err(e),
        }
    }

    /// The judge's model as described so far: `None` before it is opened
    /// (unless known ahead) or when it failed to open.
    fn model(&self) -> Option<&ModelInfo> {
        match (&self.lazy, self.opened.get()) {
            (Some(lazy), _) => Some(lazy.model()),
            (None, Some(Ok(b))) => Some(b.model()),
            (None, _) => None,
        }
    }
}

/// Asks the judge (through the response cache) on behalf of one model's
/// evals: the run's judge model, or the model under test itself.
pub struct JudgeCaller<'a> {
    slot: &'a JudgeSlot<'a>,
    under_test: &'a dyn Backend,
    spec_under_test: &'a ModelSpec,
    cache: &'a Cache,
    requests: &'a AtomicUsize,
    /// Describes the judge before it is opened (or when it failed to open).
    fallback: ModelInfo,
}

impl<'a> JudgeCaller<'a> {
    /// The judge for the evals of `under_test` (spec `spec_under_test`,
    /// named `model_name` in the run's records); its backend requests are
    /// counted in `requests`.
    pub fn new(
        slot: &'a JudgeSlot<'a>,
        under_test: &'a dyn Backend,
        spec_under_test: &'a ModelSpec,
        model_name: &str,
        cache: &'a Cache,
        requests: &'a AtomicUsize,
    ) -> Self {
        JudgeCaller {
            slot,
            under_test,
            spec_under_test,
            cache,
            requests,
            fallback: ModelInfo {
                name: slot
                    .spec
                    .map_or_else(|| model_name.to_string(), |s| s.name.clone()),
                ..ModelInfo::default()
            },
        }
    }

    /// A call to the run's judge model `spec` (not the model under test)
    /// made for repeat `repeat` of a sample.
    fn call_judge(
        &self,
        spec: &ModelSpec,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
        repeat: u32,
    ) -> Result<Generation, BackendError> {
        let judge_load_error = |spec: &ModelSpec, e: &BackendError| {
            BackendError::Load(format!("judge model `{}`: {}", spec.name, e.load_reason()))
        };
        let backend = self
            .slot
            .backend(spec)
            .map_err(|e| judge_load_error(spec, e))?;
        CachedBackend::new(backend, self.cache, self.requests)
            .call(prompt, params, sample, ordinal, repeat)
            .map(|(g, _)| g)
            // A judge known ahead loads on its first uncached call.
            .map_err(|e| match e {
                BackendError::Load(_) => judge_load_error(spec, &e),
                e => e,
            })
    }

    /// The judge as seen from repeat `repeat`: its replies are cached per
    /// repeat too, so that a repeat re-asks the judge rather than reusing an
    /// earlier reply.
    pub fn for_repeat(&'a self, repeat: u32) -> RepeatJudge<'a> {
        RepeatJudge {
            judge: self,
            repeat,
            self_calls: Mutex::new(Some(Vec::new())),
        }
    }

    /// How many requests the judge takes at once (opening it, unless its
    /// identity is known ahead).
    pub fn parallelism(&self) -> usize {
        match self.slot.spec {
            Some(spec) if !self.judges_itself() => {
                self.slot.backend(spec).map_or(1, |b| b.parallelism())
            }
            _ => self.under_test.parallelism(),
        }
    }

    /// Whether the judge is the model under test (the run names no judge,
    /// or names this model).
    pub(crate) fn judges_itself(&self) -> bool {
        self.slot
            .spec
            .filter(|s| *s != self.spec_under_test)
            .is_none()
    }

    /// The judge's model: the model under test, or the run's judge (as
    /// named before it is opened, or when it failed to open).
    fn model(&self) -> &ModelInfo {
        if self.judges_itself() {
            return self.under_test.model();
        }
        self.slot.model().unwrap_or(&self.fallback)
    }
}

/// The judge of one repeat ([`JudgeCaller::for_repeat`]).
pub struct RepeatJudge<'a> {
    judge: &'a JudgeCaller<'a>,
    repeat: u32,
    /// The response keys of the calls made to the model under test judging
    /// itself; `None` once one failed.
    self_calls: Mutex<Option<Vec<String>>>,
}

impl RepeatJudge<'_> {
    /// The response keys of the calls answered by the model under test
    /// judging itself (none when the judge is another model), for an
    /// imperative sample to record with its own ([`CachingCaller::remember`]);
    /// `None` if one of them failed.
    ///
    /// [`CachingCaller::remember`]: crate::run::generate::CachingCaller::remember
    pub fn self_calls(&self) -> Option<Vec<String>> {
        self.self_calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ModelCaller for RepeatJudge<'_> {
    fn call(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
    ) -> Result<Generation, BackendError> {
        let j = self.judge;
        if let Some(spec) = j.slot.spec.filter(|_| !j.judges_itself()) {
            return j.call_judge(spec, prompt, params, sample, ordinal, self.repeat);
        }
        let model = CachedBackend::new(j.under_test, j.cache, j.requests);
        let result = model.call(prompt, params, sample, ordinal, self.repeat);
        let mut calls = self.self_calls.lock().unwrap_or_else(|p| p.into_inner());
        match (&result, calls.as_mut()) {
            (Ok(_), Some(calls)) => {
                calls.push(model.key(prompt, params, sample, ordinal, self.repeat))
            }
            _ => *calls = None,
        }
        result.map(|(g, _)| g)
    }

    fn model(&self) -> &ModelInfo {
        self.judge.model()
    }
}
