//! A model known by its cache identity before it is loaded
//! ([`LazyBackend`]): what lets a run whose answers are cached skip loading
//! a model under test (`runner`) or a judge model (`judge`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::Instant;

use crate::base::backend::{
    Backend, BackendError, BusyTime, Generation, GenerationRequest, ModelIdentity, ModelInfo,
    SharedBackend,
};
use crate::base::model::{BackendOpener, ModelSpec};
use crate::base::util::panic_message;

/// A model that reports its cache identity ([`ModelIdentity`], known ahead
/// from its file: `DeviceSource::identity`) and loads only when asked for an
/// answer, once. Served through the response cache, a run whose every
/// answer is cached never loads it. An answer it does generate is the loaded
/// model's, or an error if the model loads as another identity than the one
/// its answers were looked up under.
pub(crate) struct LazyBackend<'a> {
    identity: ModelIdentity,
    /// The spec as it would be opened (placement applied).
    spec: ModelSpec,
    opener: LazyOpener<'a>,
    loaded: OnceLock<Result<SharedBackend, BackendError>>,
    /// Seconds the load took, once it was asked for.
    load_secs: OnceLock<f64>,
}

/// How a [`LazyBackend`] opens its model: the run's opener, or for a
/// configuration under test the runner's placed open (re-planned when a
/// GPU placement fails to load).
pub(crate) type LazyOpener<'a> =
    Box<dyn Fn(&ModelSpec) -> Result<SharedBackend, BackendError> + Send + Sync + 'a>;

impl<'a> LazyBackend<'a> {
    /// `spec`, known as `identity`, opened with `opener` when first asked
    /// for an answer.
    pub(crate) fn new(identity: ModelIdentity, spec: ModelSpec, opener: LazyOpener<'a>) -> Self {
        LazyBackend {
            identity,
            spec,
            opener,
            loaded: OnceLock::new(),
            load_secs: OnceLock::new(),
        }
    }

    /// The run's `opener`, as a [`LazyOpener`].
    pub(crate) fn opening_with(opener: BackendOpener<'a>) -> LazyOpener<'a> {
        Box::new(move |spec| opener(spec))
    }

    /// Seconds spent loading the model: 0 while it has not been asked for.
    pub(crate) fn load_secs(&self) -> f64 {
        self.load_secs.get().copied().unwrap_or(0.0)
    }

    fn loaded(&self) -> Result<&SharedBackend, BackendError> {
        self.loaded
            .get_or_init(|| {
                let t = Instant::now();
                let b = catch_unwind(AssertUnwindSafe(|| (self.opener)(&self.spec)))
                    .unwrap_or_else(|p| {
                        Err(BackendError::Load(format!(
                            "opening panicked: {}",
                            panic_message(p.as_ref())
                        )))
                    });
                let _ = self.load_secs.set(t.elapsed().as_secs_f64());
                let b = b?;
                let (info, salt) = (b.model(), b.cache_salt());
                if info.digest != self.identity.info.digest || salt != self.identity.salt {
                    return Err(BackendError::Load(format!(
                        "{} loaded as weights {} with settings `{salt}`, not as the weights {} with settings `{}` its cached answers were looked up under",
                        self.identity.info.name,
                        info.digest,
                        self.identity.info.digest,
                        self.identity.salt
                    )));
                }
                Ok(b)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn loaded_now(&self) -> Option<&SharedBackend> {
        self.loaded.get()?.as_ref().ok()
    }
}

impl Backend for LazyBackend<'_> {
    fn model(&self) -> &ModelInfo {
        &self.identity.info
    }

    fn generate(&self, request: &GenerationRequest) -> Result<Vec<Generation>, BackendError> {
        self.loaded()?.generate(request)
    }

    fn generate_repeat(
        &self,
        request: &GenerationRequest,
        repeat: u32,
    ) -> Result<Vec<Generation>, BackendError> {
        self.loaded()?.generate_repeat(request, repeat)
    }

    fn parallelism(&self) -> usize {
        self.identity.info.sequences.map_or(1, |s| s as usize)
    }

    fn cache_salt(&self) -> String {
        self.identity.salt.clone()
    }

    fn resident_bytes(&self) -> Option<u64> {
        self.loaded_now()?.resident_bytes()
    }

    fn busy_time(&self) -> Option<BusyTime> {
        self.loaded_now()?.busy_time()
    }
}
