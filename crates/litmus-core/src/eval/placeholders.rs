//! `{{name}}` placeholders, as prompt templates and judge rubrics write them.
//!
//! An unknown or unfilled placeholder is an error, never text sent to a model.

use std::collections::BTreeMap;

/// A template that cannot be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// A placeholder names no variable.
    #[error("template `{template}`: placeholder `{{{{{placeholder}}}}}` is not filled (variables: {available})")]
    Unfilled {
        /// Template name.
        template: String,
        /// The placeholder.
        placeholder: String,
        /// The variables there were.
        available: String,
    },
    /// `{{` without a matching `}}`, or an empty placeholder.
    #[error("template `{template}`: malformed placeholder at byte {offset}")]
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
        out.push_str(&text[last..range.start]);
        out.push_str(value);
        last = range.end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}
