//! The context an imperative eval receives: it calls the model itself.

use std::collections::BTreeMap;

use crate::base::backend::{
    BackendError, Message, ModelInfo, Prompt, SamplingParams, Timings, Usage,
};
use crate::base::caller::ModelCaller;
use crate::eval::case::{CodeCase, Metric};
use crate::eval::score::{EvalError, Score};
use crate::eval::template::PromptTemplate;

/// One exchange an imperative eval made, kept for the results store.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Exchange {
    /// What was sent.
    pub prompt: Prompt,
    /// What came back.
    pub response: String,
    /// Which server answered ([`crate::base::backend::Generation::served_by`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
}

/// Gives an imperative eval access to the model under test.
///
/// ```no_run
/// use litmus_core::eval::context::EvalContext;
/// use litmus_core::eval::score::{Score, EvalError};
/// fn doubles(ctx: &mut EvalContext<'_>) -> Result<Score, EvalError> {
///     let n = ctx.ask("Pick a number from 1 to 9. Reply with the digit only.")?;
///     let n: u32 = n.trim().parse().map_err(|_| "not a digit")?;
///     let d = ctx.ask(&format!("What is {n} times 2? Reply with the number only."))?;
///     Ok(Score::pass_if(d.trim() == (n * 2).to_string()))
/// }
/// ```
pub struct EvalContext<'a> {
    caller: &'a dyn ModelCaller,
    template: &'a PromptTemplate,
    params: SamplingParams,
    sample: u32,
    ordinal: u32,
    pub(crate) exchanges: Vec<Exchange>,
    pub(crate) usage: Usage,
    pub(crate) timings: Timings,
    pub(crate) limits: litmus_sandbox::Limits,
    judge: Option<&'a dyn ModelCaller>,
}

impl<'a> EvalContext<'a> {
    #[doc(hidden)]
    pub fn new(
        caller: &'a dyn ModelCaller,
        template: &'a PromptTemplate,
        params: SamplingParams,
        sample: u32,
        limits: litmus_sandbox::Limits,
    ) -> Self {
        EvalContext {
            caller,
            template,
            params,
            sample,
            ordinal: 0,
            exchanges: Vec::new(),
            // No generation yet: none of the sample's tokens unknown.
            usage: Usage::counted(0, 0),
            timings: Timings::default(),
            limits,
            judge: None,
        }
    }

    /// Sets the model that [`EvalContext::judge`] asks (default: the model
    /// under test).
    #[doc(hidden)]
    pub fn with_judge(mut self, judge: &'a dyn ModelCaller) -> Self {
        self.judge = Some(judge);
        self
    }

    /// Asks `task` through the run's prompt template; returns the answer.
    pub fn ask(&mut self, task: &str) -> Result<String, BackendError> {
        let mut vars = BTreeMap::new();
        vars.insert("task".to_string(), task.to_string());
        let prompt = self
            .template
            .render_vars(&vars)
            .map_err(|e| BackendError::Backend(e.to_string()))?;
        self.generate(prompt)
    }

    /// Sends chat messages as they are (no template); returns the answer.
    pub fn chat(&mut self, messages: &[Message]) -> Result<String, BackendError> {
        self.generate(Prompt::Chat(messages.to_vec()))
    }

    /// Continues raw text; returns the continuation.
    pub fn complete(&mut self, text: &str) -> Result<String, BackendError> {
        self.generate(Prompt::Completion(text.to_string()))
    }

    /// Sends any prompt; returns the answer.
    pub fn generate(&mut self, prompt: Prompt) -> Result<String, BackendError> {
        let ordinal = self.ordinal;
        self.ordinal += 1;
        let g = self
            .caller
            .call(&prompt, &self.params, self.sample, ordinal)?;
        self.usage = self.usage.plus(g.usage);
        let add = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => Some(x + y),
            (x, y) => x.or(y),
        };
        self.timings.prompt_ms = add(self.timings.prompt_ms, g.timings.prompt_ms);
        self.timings.generation_ms = add(self.timings.generation_ms, g.timings.generation_ms);
        if self.timings.ttft_ms.is_none() {
            self.timings.ttft_ms = g.timings.ttft_ms;
        }
        self.timings.total_ms += g.timings.total_ms;
        self.exchanges.push(Exchange {
            prompt,
            response: g.text.clone(),
            served_by: g.served_by.clone(),
        });
        Ok(g.text)
    }

    /// Scores `answer` as a code case would (sandboxed execution). A
    /// failure that is not the answer's fault (the language's runtime not
    /// installed, the case's setup code broken, the sandbox failing) is an
    /// error; with `?` it becomes this sample's error record, not a 0.
    pub fn score_code(&self, case: &CodeCase, answer: &str) -> Result<Score, EvalError> {
        Ok(crate::eval::case_scoring::score_code(
            case,
            answer,
            &self.limits,
        )?)
    }

    /// Scores `answer` against `references` with `metric`. A metric that
    /// cannot score (an invalid regex or schema, no reference for a metric
    /// that needs one) is an error; with `?` it becomes this sample's error
    /// record.
    pub fn score_text(
        &self,
        metric: &Metric,
        answer: &str,
        references: &[String],
    ) -> Result<Score, EvalError> {
        Ok(crate::eval::case_scoring::score_metric(
            metric, answer, references, None,
        )?)
    }

    /// Has an LLM judge grade `answer` to `question` (against `references`,
    /// which may be empty) and returns the grade as a score (0–100, the raw
    /// replies in its details). The judge model is the one given by `--judge`
    /// or `[judge] model` in `litmus.toml`, by default the model under test;
    /// its replies go through the response cache and are not counted among
    /// this eval's exchanges.
    ///
    /// A judge that gives no valid grade after its attempts is an error
    /// carrying every raw reply; with `?` it becomes this sample's error
    /// record.
    ///
    /// ```no_run
    /// use litmus_core::eval::context::EvalContext;
    /// use litmus_core::eval::judge::Judge;
    /// use litmus_core::eval::score::{Score, EvalError};
    /// fn explains_recursion(ctx: &mut EvalContext<'_>) -> Result<Score, EvalError> {
    ///     let question = "Explain recursion to a ten-year-old in three sentences.";
    ///     let answer = ctx.ask(question)?;
    ///     Ok(ctx.judge(&Judge::new(), question, &answer, &[])?)
    /// }
    /// ```
    pub fn judge(
        &self,
        judge: &crate::eval::judge::Judge,
        question: &str,
        answer: &str,
        references: &[String],
    ) -> Result<Score, crate::eval::judge::JudgeError> {
        let caller = self.judge.unwrap_or(self.caller);
        judge
            .grade_with(caller, question, answer, references)
            .map(|g| g.score)
    }

    /// The sample index (0-based) being evaluated.
    pub fn sample(&self) -> u32 {
        self.sample
    }

    /// The sampling parameters of this configuration.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Changes sampling parameters for the calls that follow (e.g. `max_tokens`).
    pub fn params_mut(&mut self) -> &mut SamplingParams {
        &mut self.params
    }

    /// The model under test.
    pub fn model(&self) -> &ModelInfo {
        self.caller.model()
    }

    /// The exchanges made so far.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }
}
