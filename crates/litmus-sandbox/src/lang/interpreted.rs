//! What the driver-run (interpreted) languages share.
//!
//! Python, JavaScript, Bash and Julia differ only in their syntax (fence
//! tags, code patterns, REPL prompts), their interpreter and its flags, and
//! their driver program (`src/lang/drivers/`). Each of them implements
//! [`Interpreted`] with just those facts; the blanket implementation of
//! [`LanguageRunner`] below does the rest the same way for all of them:
//!
//! * the workspace: the prepared solution, the spec's setup, one file per
//!   example and test ([`standard_files`]) and the driver file;
//! * the parse check: the driver's `check` mode ([`check_with_driver`]);
//! * the evaluation: the driver's `run` mode, resumed after crashes, with
//!   its JSON-line results collected into an [`Evaluation`]
//!   ([`run_driver`]).
//!
//! Adding an interpreted language is one small file: a driver speaking the
//! protocol in [`super::driver`] and an `impl Interpreted`.

use super::driver::{check_with_driver, run_driver, standard_files, DriverProgram};
use super::{Evaluation, Language, LanguageRunner, ReplPrompt};
use crate::sandbox::{Sandbox, SandboxFile, Workspace};
use crate::tools::Tool;
use crate::{CodeSpec, Limits};

/// An interpreted language run by a driver program.
pub(crate) trait Interpreted: Send + Sync + 'static {
    const LANGUAGE: Language;
    /// Lower-case fence tags (see [`LanguageRunner::fence_tags`]).
    const FENCE_TAGS: &'static [&'static str];
    /// Code-line regexes (see [`LanguageRunner::code_patterns`]).
    const CODE_PATTERNS: &'static [&'static str];
    /// REPL prompt styles stripped by extraction.
    const REPL_PROMPTS: &'static [ReplPrompt] = &[];
    /// Source of the driver (`include_str!` of a file in `drivers/`).
    const DRIVER: &'static str;
    /// Interpreter arguments, placed before the driver file name.
    const FLAGS: &'static [&'static str];
    /// Environment variables on top of the sandbox's minimal environment.
    const ENV: &'static [(&'static str, &'static str)] = &[];
    /// See [`DriverProgram::in_process`].
    const IN_PROCESS: bool;

    /// The interpreter (discovered once and cached by [`crate::tools`]).
    fn tool() -> Result<&'static Tool, String>;

    /// The driver file put into the workspace; it is run by its path.
    fn driver_file() -> SandboxFile {
        SandboxFile::new(
            format!("_litmus_driver.{}", Self::LANGUAGE.extension()),
            Self::DRIVER,
        )
    }

    /// Language-specific driver settings (third stdin line of the protocol).
    fn settings(_tool: &Tool) -> serde_json::Value {
        serde_json::json!({})
    }

    /// Normalise an extracted program (see [`LanguageRunner::prepare`]).
    fn prepare(code: &str) -> String {
        code.to_string()
    }

    /// The limits an evaluation runs under (e.g. raised for slow start-ups).
    fn run_limits(limits: &Limits) -> Limits {
        limits.clone()
    }

    /// One-time work beyond finding the interpreter (e.g. precompiling the
    /// driver).
    fn prepare_driver() {}
}

/// The driver command and a fresh workspace for `code` and `spec`.
fn setup<T: Interpreted>(
    sandbox: &Sandbox,
    code: &str,
    spec: &CodeSpec,
) -> Result<(Workspace, DriverProgram), String> {
    let tool = T::tool()?;
    let driver = T::driver_file();
    let prog = DriverProgram {
        program: tool.program.clone(),
        args: T::FLAGS
            .iter()
            .map(|s| s.to_string())
            .chain([driver.path.clone()])
            .collect(),
        ro_binds: tool.ro_binds.clone(),
        env: T::ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        extra: T::settings(tool),
        in_process: T::IN_PROCESS,
    };
    let mut files = standard_files(&T::prepare(code), spec, T::LANGUAGE.extension());
    files.push(driver);
    let ws = sandbox.workspace(&files).map_err(|e| e.to_string())?;
    Ok((ws, prog))
}

impl<T: Interpreted> LanguageRunner for T {
    fn language(&self) -> Language {
        T::LANGUAGE
    }

    fn fence_tags(&self) -> &'static [&'static str] {
        T::FENCE_TAGS
    }

    fn code_patterns(&self) -> &'static [&'static str] {
        T::CODE_PATTERNS
    }

    fn repl_prompts(&self) -> &'static [ReplPrompt] {
        T::REPL_PROMPTS
    }

    fn availability(&self) -> Result<(), String> {
        T::tool().map(|_| ())
    }

    fn warm_up(&self) -> Result<(), String> {
        T::tool()?;
        T::prepare_driver();
        Ok(())
    }

    fn prepare(&self, code: &str) -> String {
        T::prepare(code)
    }

    fn check(&self, sb: &Sandbox, code: &str, limits: &Limits) -> Result<(), String> {
        let (ws, prog) = setup::<T>(sb, code, &CodeSpec::new(T::LANGUAGE))?;
        check_with_driver(sb, &ws, &prog, limits)
    }

    fn evaluate(&self, sb: &Sandbox, code: &str, spec: &CodeSpec, limits: &Limits) -> Evaluation {
        let (ws, prog) = match setup::<T>(sb, code, spec) {
            Ok(x) => x,
            Err(e) => return Evaluation::infra(e),
        };
        let (n_ex, n_tests) = (spec.examples.len(), spec.tests.len());
        run_driver(sb, &ws, &prog, n_ex, n_tests, &T::run_limits(limits), &[])
    }
}
