//! `{{name}}` placeholders, as prompt templates and judge rubrics write them.
//!
//! An unknown or unfilled placeholder is an error, never text sent to a model.
//! `\{{` is a literal `{{` (a prompt about Jinja or Handlebars, a Rust format
//! string): the backslash is dropped and nothing is filled.

use std::collections::BTreeMap;

/// A template that cannot be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// A placeholder names no variable.
    #[error("template `{template}`: placeholder `{{{{{placeholder}}}}}` is not filled (variables: {available}); for literal braces write `\\{{{{`")]
    Unfilled {
        /// Template name.
        template: String,
        /// The placeholder.
        placeholder: String,
        /// The variables there were.
        available: String,
    },
    /// `{{` without a matching `}}`, or an empty placeholder.
    #[error("template `{template}`: malformed placeholder at byte {offset} (for literal braces write `\\{{{{`)")]
    Malformed {
        /// Template name.
        template: String,
        /// Where.
        offset: usize,
    },
    /// Neither `user` nor `completion`, or both.
    #[error("template `{0}` must have exactly one of `user` (chat) or `completion` (raw text)")]
    Shape(String),
    /// No template of that name.
    #[error("unknown template `{name}` (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
}

/// The placeholders in `text`, with their byte ranges.
pub(crate) fn placeholders<'a>(
    template: &str,
    text: &'a str,
) -> Result<Vec<(std::ops::Range<usize>, &'a str)>, TemplateError> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(start) = text[i..].find("{{").map(|p| p + i) {
        if text[..start].ends_with('\\') {
            // `\{{`: literal braces.
            i = start + 2;
            continue;
        }
        let end = text[start + 2..]
            .find("}}")
            .map(|p| p + start + 2)
            .ok_or_else(|| TemplateError::Malformed {
                template: template.to_string(),
                offset: start,
            })?;
        let name = text[start + 2..end].trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(TemplateError::Malformed {
                template: template.to_string(),
                offset: start,
            });
        }
        out.push((start..end + 2, name));
        i = end + 2;
    }
    Ok(out)
}

/// Fills `{{name}}` placeholders from `vars`.
pub fn fill(
    template: &str,
    text: &str,
    vars: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut last = 0;
    for (range, name) in placeholders(template, text)? {
        let value = vars.get(name).ok_or_else(|| TemplateError::Unfilled {
            template: template.to_string(),
            placeholder: name.to_string(),
            available: vars.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        out.push_str(&unescape(&text[last..range.start]));
        out.push_str(value);
        last = range.end;
    }
    out.push_str(&unescape(&text[last..]));
    Ok(out)
}

/// Template text between placeholders, its `\{{` written as `{{`.
fn unescape(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\\{{") {
        text.replace("\\{{", "{{").into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_brace_pair_is_literal_text() {
        let vars = BTreeMap::from([("name".to_string(), "Ada".to_string())]);
        assert_eq!(
            fill(
                "t",
                "Render \\{{name}} for {{name}}: println!(\"\\{{}}\", x)",
                &vars
            )
            .unwrap(),
            "Render {{name}} for Ada: println!(\"{{}}\", x)"
        );
        let e = fill("t", "Hello {{user}}", &vars).unwrap_err().to_string();
        assert!(e.ends_with("for literal braces write `\\{{`"), "{e}");
    }
}
