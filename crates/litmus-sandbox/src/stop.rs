//! Where a completion of a code prompt ends: at the end of the definition the
//! prompt opened, whatever the model writes next.
//!
//! A base model asked to continue `def f(x):` and its docstring writes the
//! body, then goes on (more functions, a `print`, tests, prose) until the
//! token limit. Code extraction drops all of that (see
//! [`crate::extract::apply_prefix`]); a [`StopRule`] lets a backend stop
//! generating there instead, as HumanEval-style harnesses do with stop
//! sequences. Both use the same rule, so stopping early never changes what is
//! scored:
//!
//! - **Python** ([`StopRule::Dedent`]): after an indented body, the first line
//!   whose code starts at the `def`'s indentation or less (blank lines and
//!   comment lines do not count). That line is not part of the answer.
//! - **Rust, JavaScript** ([`StopRule::Closing`]): after an indented body, the
//!   first complete line that is exactly the closing brace at the indentation
//!   of the line that opened the body. That line is part of the answer.
//!
//! Neither rule fires when the first non-blank line is not indented (the
//! model started over instead of continuing the body): extraction then keeps
//! the whole answer, and so does generation.
//!
//! ```
//! use litmus_sandbox::{Language, StopRule};
//!
//! let prompt = "def double(x):\n    \"\"\"Twice x.\"\"\"\n";
//! let rule = StopRule::for_completion(prompt, Language::Python).unwrap();
//! let answer = "    return 2 * x\n\nprint(double(3))\ndef other():\n";
//! assert_eq!(rule.end(answer), Some("    return 2 * x\n\n".len()));
//! ```

use serde::{Deserialize, Serialize};

use crate::Language;

/// Where a completion of a code prompt ends (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopRule {
    /// The body ends before the first non-blank, non-comment line that starts
    /// at column `indent` or less (Python).
    Dedent {
        /// Indentation of the opening `def`, in characters.
        indent: usize,
    },
    /// The body ends with the first complete line equal to `line` (trailing
    /// whitespace aside), e.g. `}` (Rust, JavaScript).
    Closing {
        /// The closing line, with its indentation.
        line: String,
    },
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// The indentation of the line that opened the innermost definition still
/// open at the end of `prompt` (a brace language): braces are counted outside
/// comments, strings and character literals; a definition is a line with
/// `fn ` (Rust) or `function`/`=>` (JavaScript). Without an open definition,
/// the outermost open block's line; `None` when no block is open.
fn open_definition(prompt: &str, language: Language) -> Option<usize> {
    // (indentation of the opening line, whether that line is a definition)
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut in_block_comment = false;
    for line in prompt.lines() {
        let is_def = match language {
            Language::Rust => line.contains("fn "),
            _ => line.contains("function") || line.contains("=>"),
        };
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if in_block_comment {
                if c == '*' && next == Some('/') {
                    in_block_comment = false;
                    i += 1;
                }
            } else if let Some(q) = quote {
                if c == '\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            } else if c == '/' && next == Some('/') {
                break;
            } else if c == '/' && next == Some('*') {
                in_block_comment = true;
                i += 1;
            } else if c == '"' || (c == '`' && language == Language::JavaScript) {
                quote = Some(c);
            } else if c == '\'' {
                // A character literal such as '{' (Rust) or a string (JS);
                // a Rust lifetime ('a) has no closing quote two or three on.
                if language == Language::JavaScript {
                    quote = Some(c);
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 2;
                } else if next == Some('\\') && chars.get(i + 3) == Some(&'\'') {
                    i += 3;
                }
            } else if c == '{' {
                open.push((indentation(line), is_def));
            } else if c == '}' {
                open.pop();
            }
            i += 1;
        }
    }
    open.iter()
        .rev()
        .find(|(_, def)| *def)
        .or(open.first())
        .map(|(indent, _)| *indent)
}

impl StopRule {
    /// The rule for a completion-style prompt in `language`: `None` when the
    /// prompt does not end by opening a definition's body on a new line, or
    /// for languages whose answers extraction does not cut.
    pub fn for_completion(prompt: &str, language: Language) -> Option<StopRule> {
        if !prompt.ends_with('\n') {
            return None;
        }
        let last = prompt.lines().rev().find(|l| !l.trim().is_empty())?;
        match language {
            Language::Python => {
                // The body is open: after `...:` or inside it (a docstring).
                if !(last.trim_end().ends_with(':') || indentation(last) > 0) {
                    return None;
                }
                let def = prompt.lines().rev().find(|l| {
                    let t = l.trim_start();
                    t.starts_with("def ") || t.starts_with("async def ") || t.starts_with("class ")
                })?;
                Some(StopRule::Dedent {
                    indent: indentation(def),
                })
            }
            Language::Rust | Language::JavaScript if last.trim_end().ends_with('{') => {
                // The definition may have opened inner blocks already
                // (`fn f() {` then `    if x {`): its body ends with the
                // closing brace of the definition's line, not of the last one.
                let indent = open_definition(prompt, language).unwrap_or(indentation(last));
                Some(StopRule::Closing {
                    line: format!("{}}}", &last[..indent.min(indentation(last))]),
                })
            }
            _ => None,
        }
    }

    /// The length of `text` (a completion so far) that makes the answer when
    /// the definition is complete; `None` while it is not (or never will be
    /// by this rule).
    pub fn end(&self, text: &str) -> Option<usize> {
        Scanner::new(self.clone()).end(text)
    }

    /// Stop strings a server can apply on its own side to end about where
    /// the rule does (the rule is applied to what it returns all the same).
    /// Only rules whose end line is not part of the answer have them.
    pub fn stop_sequences(&self) -> Vec<String> {
        match self {
            StopRule::Dedent { indent: 0 } => [
                "\ndef ",
                "\nclass ",
                "\nif __name__",
                "\nprint(",
                "\nassert ",
                "\n@",
            ]
            .map(String::from)
            .to_vec(),
            _ => Vec::new(),
        }
    }

    /// A scanner that checks a growing completion line by line, without
    /// rescanning what it has seen.
    pub fn scanner(&self) -> Scanner {
        Scanner::new(self.clone())
    }
}

/// Applies a [`StopRule`] to a completion as it grows (see [`Scanner::end`]).
#[derive(Clone, Debug)]
pub struct Scanner {
    rule: StopRule,
    /// Bytes of the text whose complete lines have been checked.
    done: usize,
    /// Where the first non-blank line starts, once seen (`usize::MAX`: it was
    /// not indented, so the rule never applies).
    first: Option<usize>,
}

impl Scanner {
    fn new(rule: StopRule) -> Scanner {
        Scanner {
            rule,
            done: 0,
            first: None,
        }
    }

    /// The indentation a body line must exceed.
    fn base(&self) -> usize {
        match &self.rule {
            StopRule::Dedent { indent } => *indent,
            StopRule::Closing { line } => indentation(line),
        }
    }

    /// Where the answer ends in `text`, which must extend the text of the
    /// previous call: the length to keep, once the definition is complete.
    pub fn end(&mut self, text: &str) -> Option<usize> {
        if self.first == Some(usize::MAX) || self.done > text.len() {
            return None;
        }
        let mut start = self.done;
        while start < text.len() {
            let rest = &text[start..];
            let (line, complete) = match rest.find('\n') {
                Some(i) => (&rest[..i], true),
                None => (rest, false),
            };
            let code = line.trim_start_matches([' ', '\t']);
            if !code.is_empty() {
                match self.first {
                    None => {
                        // The first non-blank line: a body line, or the model
                        // started over (then the rule never applies).
                        if indentation(line) <= self.base() {
                            self.first = Some(usize::MAX);
                            return None;
                        }
                        self.first = Some(start);
                    }
                    Some(first) if first == start => {}
                    Some(_) => match &self.rule {
                        StopRule::Dedent { indent } => {
                            if indentation(line) <= *indent && !code.starts_with('#') {
                                return Some(start);
                            }
                        }
                        StopRule::Closing { line: closing } => {
                            if complete && line.trim_end() == closing {
                                return Some(start + line.len());
                            }
                        }
                    },
                }
            }
            if !complete {
                break;
            }
            start += line.len() + 1;
            self.done = start;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PY: &str = "def f(x):\n    \"\"\"Doc.\"\"\"\n";
    const RS: &str = "/// Doc.\nfn f(x: i32) -> i32 {\n";

    #[test]
    fn rules_from_prompts() {
        assert_eq!(
            StopRule::for_completion(PY, Language::Python),
            Some(StopRule::Dedent { indent: 0 })
        );
        assert_eq!(
            StopRule::for_completion(
                "class A:\n    def m(self):\n        \"\"\"x\"\"\"\n",
                Language::Python
            ),
            Some(StopRule::Dedent { indent: 4 })
        );
        assert_eq!(
            StopRule::for_completion(RS, Language::Rust),
            Some(StopRule::Closing { line: "}".into() })
        );
        assert_eq!(
            StopRule::for_completion("function f(x) {\n", Language::JavaScript),
            Some(StopRule::Closing { line: "}".into() })
        );
        // A prompt that opened a block inside the definition: the body ends
        // with the definition's brace (braces in comments, strings and
        // character literals do not count).
        let inner = "/// Whether `age` is in {13, ..., 19}.\nfn is_teen(age: u32) -> bool {\n    let _ = ('{', \"}\");\n    if age < 13 {\n";
        assert_eq!(
            StopRule::for_completion(inner, Language::Rust),
            Some(StopRule::Closing { line: "}".into() })
        );
        let method = "impl A {\n    fn m(&self) -> u32 {\n        match self.0 {\n";
        assert_eq!(
            StopRule::for_completion(method, Language::Rust),
            Some(StopRule::Closing {
                line: "    }".into()
            })
        );
        let js = "function f(xs) {\n  for (const x of xs) {\n";
        assert_eq!(
            StopRule::for_completion(js, Language::JavaScript),
            Some(StopRule::Closing { line: "}".into() })
        );
        // Not opening a body on a new line, or a language extraction does not cut.
        assert_eq!(
            StopRule::for_completion("def f(x):", Language::Python),
            None
        );
        assert_eq!(StopRule::for_completion("x = 1\n", Language::Python), None);
        assert_eq!(
            StopRule::for_completion("fn f() -> i32\n", Language::Rust),
            None
        );
        assert_eq!(StopRule::for_completion("f() {\n", Language::Bash), None);
    }

    #[test]
    fn python_body_ends_at_the_first_dedented_code_line() {
        let r = StopRule::Dedent { indent: 0 };
        let body = "    y = x + 1\n\n# a comment at column 0 stays in the body\n    return y\n";
        assert_eq!(
            r.end(&format!("{body}\nprint(f(1))\n")),
            Some(body.len() + 1)
        );
        // Nothing after the body yet, or only blank lines: not complete.
        assert_eq!(r.end(body), None);
        assert_eq!(r.end(&format!("{body}\n\n")), None);
        // A line that has started at column 0 ends it before it is complete.
        assert_eq!(r.end(&format!("{body}d")), Some(body.len()));
        // Not a continuation: the model started over.
        assert_eq!(r.end("def f(x):\n    return 1\nprint(1)\n"), None);
        // A method body ends at the method's indentation.
        let m = StopRule::Dedent { indent: 4 };
        assert_eq!(m.end("        return 1\n    def g(self):\n"), Some(17));
        assert_eq!(m.end("    return 1\n"), None, "not indented past the def");
    }

    #[test]
    fn brace_body_ends_with_its_closing_line() {
        let r = StopRule::Closing { line: "}".into() };
        let body = "    if x > 0 {\n        1\n    } else {\n        0\n    }\n}";
        assert_eq!(
            r.end(&format!("{body}\n\nfn main() {{}}\n")),
            Some(body.len())
        );
        // The closing line must be complete.
        assert_eq!(r.end(body), None);
        assert_eq!(r.end("    1\n}}\n"), None);
        assert_eq!(r.end("x\n}\n"), None);
    }

    #[test]
    fn the_scanner_agrees_with_whole_text_checks() {
        let r = StopRule::Dedent { indent: 0 };
        let text = "    a = 1\n    \n  # c\n    return a\n\nprint(1)\n";
        let mut s = r.scanner();
        let mut first = None;
        for n in 0..=text.len() {
            if !text.is_char_boundary(n) {
                continue;
            }
            let whole = r.end(&text[..n]);
            let incremental = s.end(&text[..n]);
            assert_eq!(incremental, whole, "prefix of {n} bytes");
            if first.is_none() {
                first = whole;
            }
        }
        assert_eq!(first, Some(text.find("print").unwrap()));
        assert_eq!(r.stop_sequences()[0], "\ndef ");
        assert!(StopRule::Closing { line: "}".into() }
            .stop_sequences()
            .is_empty());
    }
}
