//! The role that evals and judges call a model through: [`ModelCaller`].
//!
//! The runner implements it over the response cache; [`UncachedCaller`]
//! calls a [`Backend`] directly (a judge used outside a run).

use crate::base::backend::{
    Backend, BackendError, Generation, GenerationRequest, ModelInfo, Prompt, SamplingParams,
};

/// Makes model calls on behalf of an eval or a judge.
#[doc(hidden)]
pub trait ModelCaller: Sync {
    /// Generates sample `sample` of `prompt`; `ordinal` numbers the calls one eval makes.
    fn call(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        ordinal: u32,
    ) -> Result<Generation, BackendError>;
    /// The model served.
    fn model(&self) -> &ModelInfo;
}

/// Calls a backend directly, without a cache.
pub struct UncachedCaller<'a>(pub &'a dyn Backend);

impl ModelCaller for UncachedCaller<'_> {
    fn call(
        &self,
        prompt: &Prompt,
        params: &SamplingParams,
        sample: u32,
        _ordinal: u32,
    ) -> Result<Generation, BackendError> {
        let request = GenerationRequest {
            prompt: prompt.clone(),
            params: params.clone(),
            samples: vec![sample],
        };
        self.0
            .generate(&request)?
            .into_iter()
            .find(|g| g.sample == sample)
            .ok_or_else(|| BackendError::Backend(format!("no answer for sample {sample}")))
    }
    fn model(&self) -> &ModelInfo {
        self.0.model()
    }
}
