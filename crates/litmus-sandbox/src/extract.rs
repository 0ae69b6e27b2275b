//! Extracting code from model answers.
//!
//! Rules, in order:
//!
//! 1. **Fenced blocks** (```` ``` ```` or `~~~`, any length ≥ 3) are found
//!    line by line, tolerating the usual sloppiness: tags in any case or
//!    with a space (```` ``` Python ````), version suffixes (`python3.11`),
//!    attribute syntax (`{.python}`), trailing text after the tag or after a
//!    closing fence, a fence opened at the end of a prose line
//!    (`Here it is: ```python`), a closing fence glued to the last code line,
//!    one-line blocks, an unclosed final block (runs to the end), a new
//!    tagged fence while a block is open (treated as close + open), and
//!    blocks indented inside list items (de-indented by the fence's
//!    indentation). Blocks tagged `markdown`/`md` are searched recursively.
//! 2. **Selection**: if any block is tagged with the target language, only
//!    those are used. Otherwise untagged blocks that look like code in the
//!    target language are used (all untagged blocks if none does). Blocks
//!    tagged with another language or as output (`text`, `output`, `json`,
//!    `console` for non-shell targets, ...) are ignored.
//! 3. **No usable fences**: the text outside fences is used if it looks like
//!    code; otherwise its code-looking lines (with their indented
//!    continuations) are kept and prose lines dropped.
//! 4. **REPL transcripts** (`>>> `/`... `, `julia> `, `$ `/`> `, node's
//!    `> `) keep only the input lines, without prompts; output lines go.
//! 5. Blocks are **joined in order** with a blank line.
//! 6. **Prefix** (completion-style prompts): prepended unless the code
//!    already contains it or defines every name the prefix defines (then
//!    only the prefix's import lines missing from the code are prepended).
//!    For Python, a body that is not indented under a prefix ending in `:`
//!    is indented. A continuation ends with the definition the prefix opened
//!    (Python: the first code line back at the `def`'s indentation, the rule
//!    generation stops by, see [`crate::stop`]; Rust and JavaScript: the
//!    first `}` at column 0): what follows is dropped.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::lang::{runner, Language, LanguageRunner, ReplPrompt};
use crate::stop::StopRule;

/// How a block's tag relates to the target language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockMatch {
    /// Tagged with the target language.
    Target,
    /// No tag (or unfenced code).
    Untagged,
    /// Another language or an output/text block.
    Other,
}

/// One piece of code found in an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeBlock {
    pub code: String,
    /// Normalised fence tag, if any.
    pub tag: Option<String>,
    pub matched: BlockMatch,
    /// Came from a fence (false: unfenced text).
    pub fenced: bool,
    /// The fence was closed (false: unclosed final block).
    pub closed: bool,
}

/// Extract the program for `language` from `answer`: the selected blocks
/// joined in order, with `prefix` applied (see the module docs).
pub fn extract_code(answer: &str, language: Language, prefix: Option<&str>) -> String {
    let blocks = extract_blocks(answer, language);
    apply_prefix(&join_blocks(&blocks), prefix, language)
}

/// Join blocks in order, separated by a blank line.
pub fn join_blocks(blocks: &[CodeBlock]) -> String {
    blocks
        .iter()
        .map(|b| b.code.trim_end())
        .filter(|c| !c.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The code blocks of `answer` that belong to `language`, in order, with
/// REPL prompts stripped.
pub fn extract_blocks(answer: &str, language: Language) -> Vec<CodeBlock> {
    let r = runner(language);
    let text = answer.replace("\r\n", "\n").replace('\r', "\n");
    let (raw, outside) = scan_fences(&text, 0);

    let classify = |tag: &Option<String>| match tag {
        None => BlockMatch::Untagged,
        Some(t) if r.fence_tags().contains(&t.as_str()) => BlockMatch::Target,
        Some(_) => BlockMatch::Other,
    };
    let blocks: Vec<CodeBlock> = raw
        .into_iter()
        .map(|b| {
            let matched = classify(&b.tag);
            CodeBlock {
                code: strip_repl(&b.code, r.repl_prompts()),
                tag: b.tag,
                matched,
                fenced: true,
                closed: b.closed,
            }
        })
        .filter(|b| !b.code.trim().is_empty())
        .collect();

    let targets: Vec<CodeBlock> = blocks
        .iter()
        .filter(|b| b.matched == BlockMatch::Target)
        .cloned()
        .collect();
    if !targets.is_empty() {
        return targets;
    }
    let untagged: Vec<CodeBlock> = blocks
        .iter()
        .filter(|b| b.matched == BlockMatch::Untagged)
        .cloned()
        .collect();
    let code_like: Vec<CodeBlock> = untagged
        .iter()
        .filter(|b| looks_like_code(&b.code, r))
        .cloned()
        .collect();
    if !code_like.is_empty() {
        return code_like;
    }
    // No usable fences: look at the text outside them.
    let unfenced = unfenced_code(&outside, r);
    if !unfenced.trim().is_empty() {
        return vec![CodeBlock {
            code: unfenced,
            tag: None,
            matched: BlockMatch::Untagged,
            fenced: false,
            closed: true,
        }];
    }
    untagged
}

// ---------------------------------------------------------------------------
// Fences
// ---------------------------------------------------------------------------

struct RawBlock {
    tag: Option<String>,
    code: String,
    closed: bool,
}

struct Open {
    ch: char,
    len: usize,
    indent: usize,
    tag: Option<String>,
    lines: Vec<String>,
}

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}

fn open_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*)$",
    )
}

fn midline_open_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"^(?P<pre>.*\S)[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[A-Za-z][A-Za-z0-9_+#.\-]*)?[ \t]*:?$",
    )
}

fn close_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<rest>.*)$")
}

fn glued_close_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"^(?P<code>.*\S)[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*$")
}

/// Tags that mark output or non-code text.
const NON_CODE_TAGS: &[&str] = &[
    "text",
    "txt",
    "plaintext",
    "plain",
    "output",
    "out",
    "result",
    "results",
    "stdout",
    "stderr",
    "log",
    "logs",
    "json",
    "jsonl",
    "yaml",
    "yml",
    "toml",
    "csv",
    "tsv",
    "diff",
    "patch",
    "html",
    "xml",
    "sql",
    "ini",
    "none",
    "nohighlight",
    "example",
    "math",
    "latex",
    "tex",
    "mermaid",
    "graphql",
    "css",
    "scss",
    "dockerfile",
    "makefile",
    "cmake",
    "c",
    "cpp",
    "c++",
    "h",
    "hpp",
    "java",
    "kotlin",
    "go",
    "golang",
    "ruby",
    "rb",
    "php",
    "perl",
    "r",
    "swift",
    "scala",
    "haskell",
    "hs",
    "lua",
    "typescript",
    "ts",
    "tsx",
    "csharp",
    "cs",
    "fsharp",
    "matlab",
    "octave",
    "zig",
    "nim",
    "elixir",
    "erlang",
    "clojure",
    "lisp",
    "scheme",
    "powershell",
    "ps1",
    "bat",
    "cmd",
    "fortran",
    "dart",
    "ocaml",
    "sas",
    "stata",
    "vb",
    "asm",
    "nasm",
    "wasm",
    "proto",
    "protobuf",
];

const MARKDOWN_TAGS: &[&str] = &["markdown", "md", "gfm"];

fn all_code_tags() -> &'static Vec<&'static str> {
    static T: OnceLock<Vec<&'static str>> = OnceLock::new();
    T.get_or_init(|| {
        Language::ALL
            .iter()
            .flat_map(|l| runner(*l).fence_tags().iter().copied())
            .collect()
    })
}

fn is_known_tag(t: &str) -> bool {
    all_code_tags().contains(&t) || NON_CODE_TAGS.contains(&t) || MARKDOWN_TAGS.contains(&t)
}

fn clean_token(tok: &str) -> String {
    let t = tok
        .trim_start_matches(['{', '.', '('])
        .trim_end_matches(['}', ')', ':', ',', ';']);
    let t = t.split([',', ':', '{', '}', '=']).next().unwrap_or("");
    t.to_ascii_lowercase()
}

/// Normalise a tag: known tags as is, `python3.11` → `python`, `{.rust}` → `rust`.
fn normalize_tag(tok: &str) -> Option<String> {
    let t = clean_token(tok);
    if t.is_empty() {
        return None;
    }
    if is_known_tag(&t) {
        return Some(t);
    }
    let stripped = t.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    if !stripped.is_empty() && is_known_tag(stripped) {
        return Some(stripped.to_string());
    }
    Some(t)
}

/// Parse a fence's info string into (tag, code on the fence line).
fn parse_info(info: &str) -> (Option<String>, Option<String>) {
    let info = info.trim();
    if info.is_empty() {
        return (None, None);
    }
    let mut parts = info.splitn(2, char::is_whitespace);
    let first = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("").trim();
    let cleaned = clean_token(first);
    let known = is_known_tag(&cleaned)
        || is_known_tag(cleaned.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.'));
    static PLAUSIBLE: OnceLock<Regex> = OnceLock::new();
    let plausible = re(&PLAUSIBLE, r"^[a-z][a-z0-9_+#.\-]{0,24}$").is_match(&cleaned);
    if known || first.starts_with('{') || (plausible && rest.is_empty()) {
        // Trailing text after a tag (titles, file names, comments) is ignored.
        (normalize_tag(first), None)
    } else {
        // Code written on the fence line itself.
        (None, Some(info.to_string()))
    }
}

fn strip_indent(line: &str, indent: usize) -> String {
    let mut rest = line;
    for _ in 0..indent {
        match rest.strip_prefix([' ', '\t']) {
            Some(r) => rest = r,
            None => break,
        }
    }
    rest.to_string()
}

fn finish(open: Open, closed: bool, out: &mut Vec<RawBlock>, depth: usize) {
    let code = open.lines.join("\n");
    if let Some(t) = &open.tag {
        if MARKDOWN_TAGS.contains(&t.as_str()) && depth < 3 {
            let (inner, _) = scan_fences(&code, depth + 1);
            if !inner.is_empty() {
                out.extend(inner);
                return;
            }
        }
    }
    out.push(RawBlock {
        tag: open.tag,
        code,
        closed,
    });
}

/// Find fenced blocks; also returns the text outside fences.
fn scan_fences(text: &str, depth: usize) -> (Vec<RawBlock>, String) {
    let mut blocks = Vec::new();
    let mut outside = String::new();
    let mut open: Option<Open> = None;

    for line in text.lines() {
        if let Some(o) = open.as_mut() {
            if let Some(c) = close_re().captures(line) {
                let fence = &c["fence"];
                let ch = fence.chars().next().unwrap_or('`');
                if ch == o.ch && fence.len() >= o.len {
                    let rest = c["rest"].trim();
                    let o = open.take().expect("open block");
                    let (ch, len) = (o.ch, o.len);
                    finish(o, true, &mut blocks, depth);
                    // A tagged fence while a block is open: close, then open anew.
                    if !rest.is_empty() {
                        let tok = rest.split_whitespace().next().unwrap_or("");
                        let cleaned = clean_token(tok);
                        if all_code_tags().contains(&cleaned.as_str())
                            && rest.split_whitespace().count() == 1
                        {
                            open = Some(Open {
                                ch,
                                len,
                                indent: 0,
                                tag: Some(cleaned),
                                lines: Vec::new(),
                            });
                        }
                    }
                    continue;
                }
            }
            if let Some(c) = glued_close_re().captures(line) {
                let fence = &c["fence"];
                let ch = fence.chars().next().unwrap_or('`');
                if ch == o.ch && fence.len() >= o.len && !c["code"].ends_with(ch) {
                    let code = strip_indent(&c["code"], o.indent);
                    o.lines.push(code);
                    let o = open.take().expect("open block");
                    finish(o, true, &mut blocks, depth);
                    continue;
                }
            }
            let l = strip_indent(line, o.indent);
            o.lines.push(l);
            continue;
        }

        if let Some(c) = open_re().captures(line) {
            let fence = &c["fence"];
            let ch = fence.chars().next().unwrap_or('`');
            let indent = c["indent"].chars().count();
            let info = c["info"].to_string();
            // One-line block: ```python print(1)```
            let fence_str: String = std::iter::repeat_n(ch, 3).collect();
            if let Some(inner) = info.trim_end().strip_suffix(fence_str.as_str()) {
                let inner = inner.trim_end_matches(ch).trim();
                let mut parts = inner.splitn(2, char::is_whitespace);
                let first = parts.next().unwrap_or("");
                let rest = parts.next().unwrap_or("").trim();
                let (tag, code) = if is_known_tag(&clean_token(first)) && !rest.is_empty() {
                    (normalize_tag(first), rest.to_string())
                } else {
                    (None, inner.to_string())
                };
                if !code.trim().is_empty() {
                    blocks.push(RawBlock {
                        tag,
                        code,
                        closed: true,
                    });
                }
                continue;
            }
            let (tag, first) = parse_info(&info);
            let mut o = Open {
                ch,
                len: fence.len(),
                indent,
                tag,
                lines: Vec::new(),
            };
            if let Some(f) = first {
                o.lines.push(f);
            }
            open = Some(o);
            continue;
        }
        if let Some(c) = midline_open_re().captures(line) {
            let fence = &c["fence"];
            let pre = &c["pre"];
            let ch = fence.chars().next().unwrap_or('`');
            // Not when the line only closes inline code like ``` `x` ```.
            if !pre.contains(fence) {
                outside.push_str(pre);
                outside.push('\n');
                let tag = c.name("info").and_then(|m| normalize_tag(m.as_str()));
                open = Some(Open {
                    ch,
                    len: fence.len(),
                    indent: 0,
                    tag,
                    lines: Vec::new(),
                });
                continue;
            }
        }
        outside.push_str(line);
        outside.push('\n');
    }
    if let Some(o) = open {
        if o.lines.iter().any(|l| !l.trim().is_empty()) {
            finish(o, false, &mut blocks, depth);
        }
    }
    (blocks, outside)
}

// ---------------------------------------------------------------------------
// REPL transcripts
// ---------------------------------------------------------------------------

/// Keep only the input lines of a REPL transcript, without prompts.
pub(crate) fn strip_repl(code: &str, prompts: &[ReplPrompt]) -> String {
    for p in prompts {
        let bare = p.prompt.trim_end();
        let is_prompt =
            |l: &str| l.starts_with(p.prompt) || (!bare.is_empty() && l.trim_end() == bare);
        let active = if p.anywhere {
            code.lines().any(is_prompt)
        } else {
            code.lines()
                .find(|l| !l.trim().is_empty())
                .map(is_prompt)
                .unwrap_or(false)
        };
        if !active {
            continue;
        }
        let mut out: Vec<String> = Vec::new();
        let mut in_cmd = false;
        for line in code.lines() {
            if let Some(rest) = line.strip_prefix(p.prompt) {
                out.push(rest.to_string());
                in_cmd = true;
            } else if !bare.is_empty() && line.trim_end() == bare {
                out.push(String::new());
                in_cmd = true;
            } else if in_cmd {
                let cont = p.continuation.iter().find_map(|c| {
                    if let Some(rest) = line.strip_prefix(c) {
                        Some(rest.to_string())
                    } else if !c.trim().is_empty() && line.trim_end() == c.trim_end() {
                        Some(String::new())
                    } else {
                        None
                    }
                });
                match cont {
                    Some(rest) => out.push(rest),
                    None => in_cmd = false, // output line
                }
            }
        }
        return out.join("\n");
    }
    code.to_string()
}

// ---------------------------------------------------------------------------
// Code vs prose
// ---------------------------------------------------------------------------

fn patterns(r: &dyn LanguageRunner) -> &'static Vec<Regex> {
    static P: OnceLock<HashMap<Language, Vec<Regex>>> = OnceLock::new();
    let map = P.get_or_init(|| {
        Language::ALL
            .iter()
            .map(|l| {
                let pats = runner(*l)
                    .code_patterns()
                    .iter()
                    .filter_map(|p| Regex::new(p).ok())
                    .collect();
                (*l, pats)
            })
            .collect()
    });
    &map[&r.language()]
}

fn is_code_line(line: &str, r: &dyn LanguageRunner) -> bool {
    patterns(r).iter().any(|p| p.is_match(line))
}

fn list_item_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"^\s*(\d+[.)]|[-*+•])\s+\S")
}

/// A line of natural-language prose (explanations, headings, bullets).
fn is_prose_line(line: &str) -> bool {
    let t = line.trim();
    if t.is_empty() {
        return false;
    }
    if t.starts_with("##") || t.starts_with("**") {
        return true;
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    let wordy = words
        .iter()
        .filter(|w| {
            let w = w.trim_end_matches([',', '.', ':', ';', '!', '?', ')']);
            let w = w.trim_start_matches('(');
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
        })
        .count();
    if list_item_re().is_match(t) && words.len() >= 3 && wordy * 2 >= words.len() {
        return true;
    }
    if words.len() >= 4 && wordy * 10 >= words.len() * 7 {
        return true;
    }
    let starts_upper = t.chars().next().map(char::is_uppercase).unwrap_or(false);
    words.len() >= 3
        && starts_upper
        && t.ends_with(['.', ':', '!', '?'])
        && wordy * 10 >= words.len() * 6
}

/// Whether `text` looks like code in the runner's language.
pub(crate) fn looks_like_code(text: &str, r: &dyn LanguageRunner) -> bool {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return false;
    }
    let code = lines.iter().filter(|l| is_code_line(l, r)).count();
    let prose = lines
        .iter()
        .filter(|l| !is_code_line(l, r) && is_prose_line(l))
        .count();
    code >= 1 && prose * 4 <= lines.len() && code * 3 >= lines.len()
}

/// Code in text without fences: everything if it looks like code, else the
/// code-looking lines with their indented continuations.
fn unfenced_code(text: &str, r: &dyn LanguageRunner) -> String {
    let text = strip_repl(text, r.repl_prompts());
    if text.trim().is_empty() {
        return String::new();
    }
    // An answer that starts indented continues the prompt's code (a
    // completion-style prompt): all of it is code, comments included.
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.starts_with([' ', '\t']) && is_code_line(first, r) {
        return trim_blank_lines(&text);
    }
    let all_code = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .all(|l| is_code_line(l, r) || !is_prose_line(l));
    if all_code && looks_like_code(&text, r) {
        return trim_blank_lines(&text);
    }
    let mut kept: Vec<&str> = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        let indented = line.starts_with([' ', '\t']);
        if line.trim().is_empty() {
            if in_code {
                kept.push(line);
            }
        } else if is_code_line(line, r) || (in_code && indented) {
            kept.push(line);
            in_code = true;
        } else if is_prose_line(line) {
            in_code = false;
        } else if in_code {
            kept.push(line);
        }
    }
    let result = trim_blank_lines(&kept.join("\n"));
    if looks_like_code(&result, r) {
        result
    } else {
        String::new()
    }
}

fn trim_blank_lines(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.iter().position(|l| !l.trim().is_empty());
    let end = lines.iter().rposition(|l| !l.trim().is_empty());
    match (start, end) {
        (Some(a), Some(b)) => lines[a..=b].join("\n"),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------
// Prefix
// ---------------------------------------------------------------------------

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn defined_names(code: &str) -> Vec<String> {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = re(
        &R,
        r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:def|fn|function|class|struct|enum|trait|macro)\s+([A-Za-z_]\w*)|^\s*([A-Za-z_]\w*)\s*\(\)\s*\{",
    );
    let mut names: Vec<String> = r
        .captures_iter(code)
        .filter_map(|c| {
            c.get(1)
                .or_else(|| c.get(2))
                .map(|m| m.as_str().to_string())
        })
        .collect();
    names.dedup();
    names
}

fn defines(code: &str, name: &str) -> bool {
    let n = regex::escape(name);
    let pat = format!(
        r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:def|fn|function|class|struct|enum|trait|macro|const|let|var)\s+{n}\b|^\s*{n}\s*(?:=[^=]|\(\)\s*\{{|\([^)]*\)\s*=[^=])|^\s*function\s+{n}\b"
    );
    Regex::new(&pat).map(|r| r.is_match(code)).unwrap_or(false)
}

fn import_line_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"^\s*(import\s+\S|from\s+\S+\s+import\s|use\s+\S|using\s+\S|extern\s+crate\s|(const|let|var)\s+\w+\s*=\s*require\()",
    )
}

/// A completion that continues the prefix's definition ends where the
/// definition does. What a base model rambles on with after that (more
/// functions, tests, prose, often cut off mid-line by the token limit) is
/// dropped, as HumanEval-style harnesses do with stop sequences.
///
/// The cut is the rule generation stops by ([`StopRule`]), so that stopping
/// there never changes what is scored: for Python the first line back at
/// the `def`'s indentation after an indented body (comment lines do not end
/// it), for brace languages the closing line of the definition the prefix
/// opened, followed by the closing braces of blocks the prefix opened around
/// it. Where that rule does not fire (a brace answer that did not start
/// indented), a brace answer still
/// ends after its first `}` at column 0.
fn end_of_definition(code: &str, prefix: &str, language: Language) -> String {
    // A last line without its newline is complete here: the answer is whole
    // (generation stopped by the rule keeps its closing line without one).
    let whole = format!("{code}\n");
    let by_rule = StopRule::for_completion(&format!("{prefix}\n"), language)
        .and_then(|rule| rule.end(if code.ends_with('\n') { code } else { &whole }))
        .map(|cut| &code[..cut.min(code.len())]);
    match language {
        Language::Python => by_rule
            .map(|kept| kept.strip_suffix('\n').unwrap_or(kept))
            .unwrap_or(code)
            .to_string(),
        Language::Rust | Language::JavaScript if prefix.trim_end().ends_with('{') => {
            let at_col0 = |l: &str| !l.trim().is_empty() && !l.starts_with([' ', '\t']);
            match by_rule {
                // The definition is complete; blocks the prefix opened around
                // it (an `impl`, a class) are closed after it.
                Some(kept) => {
                    let mut body = kept.to_string();
                    let outer = crate::stop::open_blocks(&format!("{prefix}\n{kept}"), language);
                    for (indent, _) in outer.iter().rev() {
                        body.push('\n');
                        body.push_str(&" ".repeat(*indent));
                        body.push('}');
                    }
                    body
                }
                None => match code.lines().position(|l| at_col0(l) && l.trim_end() == "}") {
                    Some(i) => code.lines().take(i + 1).collect::<Vec<_>>().join("\n"),
                    None => code.to_string(),
                },
            }
        }
        _ => code.to_string(),
    }
}

/// Apply a completion-style prefix (see the module docs).
pub fn apply_prefix(code: &str, prefix: Option<&str>, language: Language) -> String {
    let Some(prefix) = prefix else {
        return code.to_string();
    };
    let p = prefix.trim_end();
    if p.trim().is_empty() {
        return code.to_string();
    }
    if code.trim().is_empty() {
        return code.to_string();
    }
    // An indented first line continues the prefix's open body, even when the
    // answer goes on to repeat the whole definition (base models often do):
    // the prefix goes in front and the repeat is cut off.
    let opens_body = p
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_end().ends_with([':', '{']) || l.starts_with([' ', '\t']));
    let continues = opens_body
        && code
            .lines()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.starts_with([' ', '\t']));
    if !continues && collapse_ws(code).contains(&collapse_ws(p)) {
        return code.to_string();
    }
    let names = defined_names(p);
    if !continues && !names.is_empty() && names.iter().all(|n| defines(code, n)) {
        let imports: Vec<&str> = p
            .lines()
            .filter(|l| import_line_re().is_match(l))
            .filter(|l| !code.lines().any(|c| c.trim() == l.trim()))
            .collect();
        if imports.is_empty() {
            return code.to_string();
        }
        return format!("{}\n{}", imports.join("\n"), code);
    }
    let mut body = end_of_definition(code, p, language);
    if language == Language::Python {
        let last = p.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        let first = code.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if last.trim_end().ends_with(':') && !first.starts_with([' ', '\t']) {
            body = code
                .lines()
                .map(|l| {
                    if l.trim().is_empty() {
                        String::new()
                    } else {
                        format!("    {l}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
    }
    format!("{p}\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("python", Some("python"), None)]
    #[case::spaces_and_case(" Python ", Some("python"), None)]
    #[case::version("python3.11", Some("python"), None)]
    #[case::attribute("{.rust}", Some("rust"), None)]
    #[case::trailing_attributes("python title=\"x.py\"", Some("python"), None)]
    #[case::unknown_language("haskell", Some("haskell"), None)]
    #[case::code_on_the_fence_line("def f(x):", None, Some("def f(x):"))]
    fn info_parsing(#[case] info: &str, #[case] tag: Option<&str>, #[case] code: Option<&str>) {
        assert_eq!(
            parse_info(info),
            (tag.map(String::from), code.map(String::from)),
            "{info:?}"
        );
    }

    #[test]
    fn repl() {
        let r = runner(Language::Python);
        let t = ">>> def f(x):\n...     return x\n...\n>>> f(2)\n2\n";
        assert_eq!(
            strip_repl(t, r.repl_prompts()),
            "def f(x):\n    return x\n\nf(2)"
        );
    }

    #[test]
    fn an_indented_answer_is_a_continuation() {
        let mut a = String::from("    if n % 2 == 0:\n        return False\n    return True\n\n");
        for i in 0..20 {
            a.push_str(&format!(
                "    # print(f\"is_prime({i}): {{is_prime({i})}}\")\n"
            ));
        }
        let b = extract_blocks(&a, Language::Python);
        assert_eq!(b.len(), 1);
        assert!(b[0].code.starts_with("    if n % 2 == 0:"), "{b:?}");
    }

    const ADD: &str = "def add(a, b):\n    \"\"\"Sum.\"\"\"\n";

    #[rstest]
    #[case::python_next_definition(
        Language::Python,
        ADD,
        "    return a + b\n\n\ndef add_three(a, b, c):\n    \"\"\"Sum of thr",
        "def add(a, b):\n    \"\"\"Sum.\"\"\"\n    return a + b\n\n"
    )]
    // A full definition is untouched.
    #[case::python_full_definition(
        Language::Python,
        ADD,
        "def add(a, b):\n    return a + b\n\nprint(1)\n",
        "def add(a, b):\n    return a + b\n\nprint(1)\n"
    )]
    #[case::rust_next_definition(
        Language::Rust,
        "fn add(a: i32, b: i32) -> i32 {",
        "    a + b\n}\n\nfn main() {\n    let x",
        "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}"
    )]
    // A body that goes on to repeat the whole definition is still a
    // continuation (and a body line naming the function is not a definition).
    #[case::python_repeated_definition(
        Language::Python,
        "def count_words(text: str) -> int:\n    \"\"\"Words.\"\"\"\n",
        "    return len(text.split())\n\n\ndef count_words(text",
        "def count_words(text: str) -> int:\n    \"\"\"Words.\"\"\"\n    return len(text.split())\n\n"
    )]
    #[case::rust_repeated_definition(
        Language::Rust,
        "fn price(age: u32) -> u32 {",
        "    let price = 10;\n    price\n}\n\nfn price(age: u32) -> u32 {\n    10\n}\n",
        "fn price(age: u32) -> u32 {\n    let price = 10;\n    price\n}"
    )]
    // The prefix opened a block inside the function: the answer ends with
    // the function's brace, not the block's.
    #[case::rust_prefix_opened_an_inner_block(
        Language::Rust,
        "fn is_teen(age: u32) -> bool {\n    if age < 13 {",
        "        return false\n    } else {\n        age <= 19\n    }\n}\nfn is_adult(age: u32) -> bool {\n",
        "fn is_teen(age: u32) -> bool {\n    if age < 13 {\n        return false\n    } else {\n        age <= 19\n    }\n}"
    )]
    // A method: it ends with its own brace, and the `impl` is closed after it.
    #[case::rust_method_in_an_impl(
        Language::Rust,
        "impl A {\n    fn m(&self) -> u32 {",
        "        1\n    }\n\n    fn other() {}\n}\n",
        "impl A {\n    fn m(&self) -> u32 {\n        1\n    }\n}"
    )]
    fn continuation_ends_with_the_definition(
        #[case] lang: Language,
        #[case] prefix: &str,
        #[case] answer: &str,
        #[case] want: &str,
    ) {
        assert_eq!(apply_prefix(answer, Some(prefix), lang), want);
    }

    /// What generation keeps when it stops by the rule extracts to what the
    /// whole answer does (up to trailing blank lines): stopping early never
    /// changes a score.
    #[rstest]
    #[case(
        Language::Python,
        "def f(x):\n    \"\"\"Doc.\"\"\"\n",
        "    if x:\n        return 1\n    return 2\n\nprint(f(1))\n"
    )]
    #[case(
        Language::Rust,
        "fn f(x: u32) -> u32 {\n    if x < 3 {\n",
        "        1\n    } else {\n        2\n    }\n}\nfn g() {}\n"
    )]
    #[case(
        Language::Rust,
        "impl A {\n    fn m(&self) -> u32 {\n",
        "        1\n    }\n    fn n() {}\n}\n"
    )]
    #[case(
        Language::JavaScript,
        "function f(xs) {\n  for (const x of xs) {\n",
        "    g(x);\n  }\n  return 1;\n}\nconsole.log(f([]));\n"
    )]
    fn stopping_by_the_rule_extracts_what_the_whole_answer_does(
        #[case] lang: Language,
        #[case] prefix: &str,
        #[case] answer: &str,
    ) {
        let rule = StopRule::for_completion(prefix, lang).expect("a rule");
        let cut = rule.end(answer).expect("the definition ends");
        assert!(cut < answer.len());
        // (Up to trailing blank lines, which the stopped text may keep.)
        assert_eq!(
            apply_prefix(&answer[..cut], Some(prefix), lang).trim_end(),
            apply_prefix(answer, Some(prefix), lang).trim_end()
        );
    }

    #[test]
    fn continuation_keeps_nested_blocks_and_blank_lines() {
        let nested = "    if a:\n\n        return b\n    return a\nprint(add(1, 2))\n";
        assert!(apply_prefix(nested, Some(ADD), Language::Python).ends_with("    return a"));
    }

    #[rstest]
    #[case::introduction("Here is the function:", true)]
    #[case::sentence("This reverses the order of the words.", true)]
    #[case::return_statement("return ' '.join(reversed(s.split()))", false)]
    #[case::assignment("x = 1", false)]
    fn prose(#[case] line: &str, #[case] is_prose: bool) {
        assert_eq!(is_prose_line(line), is_prose, "{line:?}");
    }
}
