//! JSON validity and JSON Schema validation.
//!
//! [`Schema`] implements the validation vocabulary of JSON Schema (draft 2020-12,
//! also accepting the draft-4/6/7 spellings) that structured-output checks
//! need, without any network access:
//!
//! | group | keywords |
//! | --- | --- |
//! | any | `type` (incl. `integer`), `enum`, `const`, `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `$ref` |
//! | objects | `properties`, `required`, `additionalProperties`, `patternProperties`, `propertyNames`, `minProperties`, `maxProperties`, `dependentRequired`, `dependentSchemas`, `dependencies` |
//! | arrays | `items` (schema or draft-4 tuple), `prefixItems`, `additionalItems`, `minItems`, `maxItems`, `uniqueItems`, `contains`, `minContains`, `maxContains` |
//! | strings | `minLength`, `maxLength` (in code points), `pattern` (Rust `regex` syntax, unanchored search) |
//! | numbers | `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (number, or draft-4 boolean), `multipleOf` |
//!
//! `multipleOf` is exact on the decimals the numbers print as (`0.3` is a
//! multiple of `0.1`; `1000000000.5` is not one of `1`), where a quotient
//! with a tolerance passes any large enough number; integers are compared as
//! integers.
//!
//! `$ref` must point inside the same document (`#`, `#/$defs/...`,
//! `#/definitions/...`, any JSON pointer); keywords next to a `$ref` are
//! applied too (2019-09+ semantics). Annotations (`title`, `description`,
//! `default`, `examples`, `format`, `$schema`, `$id`, `$comment`, ...) are
//! ignored. Keywords whose semantics this validator does not implement
//! (`unevaluatedProperties`, `unevaluatedItems`, `$dynamicRef`,
//! `$recursiveRef`) make the schema invalid rather than being silently
//! skipped, so a schema never passes more than it should.
//!
//! ```
//! use litmus_metrics::json::Schema;
//! use serde_json::json;
//!
//! let schema = Schema::new(json!({
//!     "type": "object",
//!     "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
//!     "required": ["name"],
//!     "additionalProperties": false
//! })).unwrap();
//! assert!(schema.is_valid(&json!({"name": "Ada", "age": 36})));
//! let errors = schema.validate(&json!({"age": -1, "extra": true}));
//! assert_eq!(errors.len(), 3);
//! assert_eq!(errors[0].to_string(), "(root): missing required property \"name\"");
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::MetricError;
use crate::util::cached_regex;

/// Parses `text` as one JSON document (surrounding whitespace allowed).
///
/// Within the limits RFC 8259 lets a parser set, as `serde_json` sets them:
/// arrays and objects nested at most 128 deep, numbers within `f64`'s range
/// (`1e400` is refused), strings of valid Unicode (a lone surrogate escape
/// such as `"\ud800"` is refused). Numbers read as the nearest `f64`.
///
/// ```
/// use litmus_metrics::json::is_valid_json;
///
/// assert!(is_valid_json(" {\"a\": [1, 2.5e3]} "));
/// assert!(!is_valid_json("1e400"));
/// assert!(!is_valid_json(&format!("{}{}", "[".repeat(129), "]".repeat(129))));
/// ```
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

/// True when `text` is exactly one JSON document (surrounding whitespace allowed).
pub fn is_valid_json(text: &str) -> bool {
    parse(text).is_ok()
}

/// One way in which an instance fails its schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationError {
    /// JSON pointer to the failing part of the instance (`""` is the root).
    pub instance_path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.instance_path.is_empty() {
            write!(f, "(root): {}", self.message)
        } else {
            write!(f, "{}: {}", self.instance_path, self.message)
        }
    }
}

/// A checked JSON schema, ready to validate instances.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    root: Value,
}

/// Validates `instance` against `schema` in one call.
pub fn validate(schema: &Value, instance: &Value) -> Result<Vec<ValidationError>, MetricError> {
    Ok(Schema::new(schema.clone())?.validate(instance))
}

/// Limit on nested `$ref`/subschema evaluation, against reference cycles such
/// as `{"$ref": "#"}`.
const MAX_DEPTH: usize = 256;

const TYPES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "string", "integer",
];

fn invalid(path: &str, message: impl fmt::Display) -> MetricError {
    MetricError::InvalidSchema {
        message: format!("at {}: {message}", if path.is_empty() { "#" } else { path }),
    }
}

fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

impl Schema {
    /// Checks that `schema` is well formed (keyword value types, compilable
    /// patterns, resolvable local `$ref`s, no unsupported keywords).
    pub fn new(schema: Value) -> Result<Self, MetricError> {
        let s = Schema { root: schema };
        s.check(&s.root, "#")?;
        Ok(s)
    }

    /// The schema document.
    pub fn as_value(&self) -> &Value {
        &self.root
    }

    /// True when `instance` satisfies the schema.
    pub fn is_valid(&self, instance: &Value) -> bool {
        let mut errors = Vec::new();
        self.eval(&self.root, instance, "", &mut errors, 0);
        errors.is_empty()
    }

    /// Every violation found (empty when the instance is valid).
    pub fn validate(&self, instance: &Value) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        self.eval(&self.root, instance, "", &mut errors, 0);
        errors
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        let decoded = percent_decode(pointer);
        self.root.pointer(&decoded)
    }

    fn check(&self, schema: &Value, path: &str) -> Result<(), MetricError> {
        let obj = match schema {
            Value::Bool(_) => return Ok(()),
            Value::Object(o) => o,
            _ => return Err(invalid(path, "a schema must be an object or a boolean")),
        };
        let sub = |k: &str| format!("{path}/{}", escape_pointer(k));
        for (key, value) in obj {
            let here = sub(key);
            match key.as_str() {
                "type" => {
                    let ok_name = |v: &Value| v.as_str().is_some_and(|s| TYPES.contains(&s));
                    let ok = match value {
                        Value::Array(a) => a.iter().all(ok_name),
                        v => ok_name(v),
                    };
                    if !ok {
                        return Err(invalid(&here, format!("unknown type {value}")));
                    }
                }
                "enum" if !value.is_array() => {
                    return Err(invalid(&here, "`enum` must be an array"));
                }
                "properties" | "patternProperties" | "$defs" | "definitions"
                | "dependentSchemas" => {
                    let Some(m) = value.as_object() else {
                        return Err(invalid(&here, format!("`{key}` must be an object")));
                    };
                    for (k, v) in m {
                        if key == "patternProperties" {
                            cached_regex(k).map_err(|e| {
                                invalid(&here, format!("invalid pattern `{k}`: {e}"))
                            })?;
                        }
                        self.check(v, &format!("{here}/{}", escape_pointer(k)))?;
                    }
                }
                "additionalProperties"
                | "additionalItems"
                | "contains"
                | "propertyNames"
                | "not"
                | "if"
                | "then"
                | "else" => self.check(value, &here)?,
                "items" => match value {
                    Value::Array(a) => {
                        for (i, v) in a.iter().enumerate() {
                            self.check(v, &format!("{here}/{i}"))?;
                        }
                    }
                    v => self.check(v, &here)?,
                },
                "prefixItems" | "allOf" | "anyOf" | "oneOf" => {
                    let Some(a) = value.as_array().filter(|a| !a.is_empty()) else {
                        return Err(invalid(&here, format!("`{key}` must be a non-empty array")));
                    };
                    for (i, v) in a.iter().enumerate() {
                        self.check(v, &format!("{here}/{i}"))?;
                    }
                }
                "required" if !is_string_array(value) => {
                    return Err(invalid(&here, "`required` must be an array of strings"));
                }
                "dependentRequired" | "dependencies" => {
                    let Some(m) = value.as_object() else {
                        return Err(invalid(&here, format!("`{key}` must be an object")));
                    };
                    for (k, v) in m {
                        if is_string_array(v) {
                            continue;
                        }
                        if key == "dependencies" {
                            self.check(v, &format!("{here}/{}", escape_pointer(k)))?;
                        } else {
                            return Err(invalid(&here, "values must be arrays of strings"));
                        }
                    }
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
                | "maxProperties" | "minContains" | "maxContains"
                    if as_count(value).is_none() =>
                {
                    return Err(invalid(
                        &here,
                        format!("`{key}` must be a non-negative integer"),
                    ));
                }
                "minimum" | "maximum" if !value.is_number() => {
                    return Err(invalid(&here, format!("`{key}` must be a number")));
                }
                "exclusiveMinimum" | "exclusiveMaximum"
                    if !(value.is_number() || value.is_boolean()) =>
                {
                    return Err(invalid(&here, format!("`{key}` must be a number")));
                }
                "multipleOf" if !value.as_f64().is_some_and(|m| m > 0.0) => {
                    return Err(invalid(&here, "`multipleOf` must be a number > 0"));
                }
                "uniqueItems" if !value.is_boolean() => {
                    return Err(invalid(&here, "`uniqueItems` must be a boolean"));
                }
                "pattern" => {
                    let Some(p) = value.as_str() else {
                        return Err(invalid(&here, "`pattern` must be a string"));
                    };
                    cached_regex(p)
                        .map_err(|e| invalid(&here, format!("invalid pattern `{p}`: {e}")))?;
                }
                "$ref" => {
                    let Some(r) = value.as_str() else {
                        return Err(invalid(&here, "`$ref` must be a string"));
                    };
                    if self.resolve(r).is_none() {
                        return Err(invalid(
                            &here,
                            format!("cannot resolve `$ref` {r:?} (only local references like \"#/$defs/name\" are supported)"),
                        ));
                    }
                }
                "unevaluatedProperties" | "unevaluatedItems" | "$dynamicRef" | "$recursiveRef" => {
                    return Err(invalid(&here, format!("keyword `{key}` is not supported")));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn eval(
        &self,
        schema: &Value,
        inst: &Value,
        path: &str,
        errors: &mut Vec<ValidationError>,
        depth: usize,
    ) {
        let mut fail = |message: String| {
            errors.push(ValidationError {
                instance_path: path.to_owned(),
                message,
            })
        };
        let obj = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                fail("no value is allowed here (schema `false`)".into());
                return;
            }
            Value::Object(o) => o,
            _ => return,
        };
        if depth > MAX_DEPTH {
            fail("schema nesting too deep (a `$ref` cycle?)".into());
            return;
        }
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            if let Some(target) = self.resolve(r) {
                self.eval(target, inst, path, errors, depth + 1);
            }
        }
        let mut fail = |message: String| {
            errors.push(ValidationError {
                instance_path: path.to_owned(),
                message,
            })
        };
        if let Some(t) = obj.get("type") {
            let ok = match t {
                Value::Array(a) => a.iter().any(|n| has_type(inst, n.as_str().unwrap_or(""))),
                n => has_type(inst, n.as_str().unwrap_or("")),
            };
            if !ok {
                fail(format!("expected type {t}, got {}", type_name(inst)));
            }
        }
        if let Some(Value::Array(options)) = obj.get("enum") {
            if !options.iter().any(|o| json_eq(o, inst)) {
                fail(format!(
                    "{} is not one of the allowed values {}",
                    short(inst),
                    Value::Array(options.clone())
                ));
            }
        }
        if let Some(c) = obj.get("const") {
            if !json_eq(c, inst) {
                fail(format!("{} is not the required value {c}", short(inst)));
            }
        }
        match inst {
            Value::String(s) => {
                let len = s.chars().count();
                if let Some(min) = obj.get("minLength").and_then(as_count) {
                    if len < min {
                        fail(format!(
                            "string of length {len} is shorter than minLength {min}"
                        ));
                    }
                }
                if let Some(max) = obj.get("maxLength").and_then(as_count) {
                    if len > max {
                        fail(format!(
                            "string of length {len} is longer than maxLength {max}"
                        ));
                    }
                }
                if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
                    if let Ok(re) = cached_regex(p) {
                        if !re.is_match(s) {
                            fail(format!("string does not match pattern `{p}`"));
                        }
                    }
                }
            }
            Value::Number(_) => self.eval_number(obj, inst, &mut fail),
            _ => {}
        }
        match inst {
            Value::Object(m) => self.eval_object(obj, m, path, errors, depth),
            Value::Array(a) => self.eval_array(obj, a, path, errors, depth),
            _ => {}
        }
        self.eval_combinators(obj, inst, path, errors, depth);
    }

    fn eval_number(&self, obj: &Map<String, Value>, inst: &Value, fail: &mut impl FnMut(String)) {
        let x = inst.as_f64().unwrap_or(f64::NAN);
        let bound = |k: &str| obj.get(k).and_then(Value::as_f64);
        let flag = |k: &str| obj.get(k).and_then(Value::as_bool).unwrap_or(false);
        if let Some(min) = bound("minimum") {
            if flag("exclusiveMinimum") {
                if x <= min {
                    fail(format!("{inst} is not greater than {min}"));
                }
            } else if x < min {
                fail(format!("{inst} is less than the minimum {min}"));
            }
        }
        if let Some(max) = bound("maximum") {
            if flag("exclusiveMaximum") {
                if x >= max {
                    fail(format!("{inst} is not less than {max}"));
                }
            } else if x > max {
                fail(format!("{inst} is greater than the maximum {max}"));
            }
        }
        if let Some(min) = bound("exclusiveMinimum") {
            if x <= min {
                fail(format!(
                    "{inst} is not greater than the exclusive minimum {min}"
                ));
            }
        }
        if let Some(max) = bound("exclusiveMaximum") {
            if x >= max {
                fail(format!(
                    "{inst} is not less than the exclusive maximum {max}"
                ));
            }
        }
        if let Some(m) = obj.get("multipleOf") {
            let ok = match (inst.as_i64(), m.as_i64(), inst.as_u64(), m.as_u64()) {
                (Some(a), Some(b), ..) if b != 0 => a % b == 0,
                (_, _, Some(a), Some(b)) if b != 0 => a % b == 0,
                _ => is_multiple_of(x, m.as_f64().unwrap_or(1.0)),
            };
            if !ok {
                fail(format!("{inst} is not a multiple of {m}"));
            }
        }
    }

    fn eval_object(
        &self,
        obj: &Map<String, Value>,
        m: &Map<String, Value>,
        path: &str,
        errors: &mut Vec<ValidationError>,
        depth: usize,
    ) {
        let child = |k: &str| format!("{path}/{}", escape_pointer(k));
        let fail = |errors: &mut Vec<ValidationError>, message: String| {
            errors.push(ValidationError {
                instance_path: path.to_owned(),
                message,
            })
        };
        if let Some(Value::Array(req)) = obj.get("required") {
            for name in req.iter().filter_map(Value::as_str) {
                if !m.contains_key(name) {
                    fail(errors, format!("missing required property {name:?}"));
                }
            }
        }
        if let Some(min) = obj.get("minProperties").and_then(as_count) {
            if m.len() < min {
                fail(
                    errors,
                    format!(
                        "object has {} properties, fewer than minProperties {min}",
                        m.len()
                    ),
                );
            }
        }
        if let Some(max) = obj.get("maxProperties").and_then(as_count) {
            if m.len() > max {
                fail(
                    errors,
                    format!(
                        "object has {} properties, more than maxProperties {max}",
                        m.len()
                    ),
                );
            }
        }
        let props = obj.get("properties").and_then(Value::as_object);
        let patterns: Vec<(regex::Regex, &Value)> = obj
            .get("patternProperties")
            .and_then(Value::as_object)
            .map(|pp| {
                pp.iter()
                    .filter_map(|(p, s)| cached_regex(p).ok().map(|re| (re, s)))
                    .collect()
            })
            .unwrap_or_default();
        let additional = obj.get("additionalProperties");
        for (k, v) in m {
            let mut matched = false;
            if let Some(s) = props.and_then(|p| p.get(k)) {
                matched = true;
                self.eval(s, v, &child(k), errors, depth + 1);
            }
            for (re, s) in &patterns {
                if re.is_match(k) {
                    matched = true;
                    self.eval(s, v, &child(k), errors, depth + 1);
                }
            }
            if !matched {
                match additional {
                    Some(Value::Bool(false)) => {
                        fail(errors, format!("additional property {k:?} is not allowed"))
                    }
                    Some(s) => self.eval(s, v, &child(k), errors, depth + 1),
                    None => {}
                }
            }
            if let Some(names) = obj.get("propertyNames") {
                let mut sub = Vec::new();
                self.eval(names, &Value::String(k.clone()), path, &mut sub, depth + 1);
                if !sub.is_empty() {
                    fail(
                        errors,
                        format!("property name {k:?} is not allowed by propertyNames"),
                    );
                }
            }
        }
        for key in ["dependentRequired", "dependencies"] {
            if let Some(Value::Object(deps)) = obj.get(key) {
                for (k, dep) in deps {
                    if !m.contains_key(k) {
                        continue;
                    }
                    match dep {
                        Value::Array(names) => {
                            for n in names.iter().filter_map(Value::as_str) {
                                if !m.contains_key(n) {
                                    fail(
                                        errors,
                                        format!("property {n:?} is required when {k:?} is present"),
                                    );
                                }
                            }
                        }
                        s => self.eval(s, &Value::Object(m.clone()), path, errors, depth + 1),
                    }
                }
            }
        }
        if let Some(Value::Object(deps)) = obj.get("dependentSchemas") {
            for (k, s) in deps {
                if m.contains_key(k) {
                    self.eval(s, &Value::Object(m.clone()), path, errors, depth + 1);
                }
            }
        }
    }

    fn eval_array(
        &self,
        obj: &Map<String, Value>,
        a: &[Value],
        path: &str,
        errors: &mut Vec<ValidationError>,
        depth: usize,
    ) {
        let fail = |errors: &mut Vec<ValidationError>, message: String| {
            errors.push(ValidationError {
                instance_path: path.to_owned(),
                message,
            })
        };
        if let Some(min) = obj.get("minItems").and_then(as_count) {
            if a.len() < min {
                fail(
                    errors,
                    format!("array has {} items, fewer than minItems {min}", a.len()),
                );
            }
        }
        if let Some(max) = obj.get("maxItems").and_then(as_count) {
            if a.len() > max {
                fail(
                    errors,
                    format!("array has {} items, more than maxItems {max}", a.len()),
                );
            }
        }
        if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
            'outer: for i in 0..a.len() {
                for j in i + 1..a.len() {
                    if json_eq(&a[i], &a[j]) {
                        fail(
                            errors,
                            format!("items {i} and {j} are equal but uniqueItems is set"),
                        );
                        break 'outer;
                    }
                }
            }
        }
        // Positional schemas: `prefixItems` (2020-12) or array-valued `items` (draft 4-2019).
        let (prefix, rest): (&[Value], Option<&Value>) =
            match (obj.get("prefixItems"), obj.get("items")) {
                (Some(Value::Array(p)), items) => (p, items),
                (None, Some(Value::Array(p))) => (p, obj.get("additionalItems")),
                (_, items) => (&[], items),
            };
        for (i, v) in a.iter().enumerate() {
            let s = prefix.get(i).or(rest);
            if let Some(s) = s {
                self.eval(s, v, &format!("{path}/{i}"), errors, depth + 1);
            }
        }
        if let Some(c) = obj.get("contains") {
            let hits = a
                .iter()
                .filter(|v| {
                    let mut sub = Vec::new();
                    self.eval(c, v, path, &mut sub, depth + 1);
                    sub.is_empty()
                })
                .count();
            let min = obj.get("minContains").and_then(as_count).unwrap_or(1);
            let max = obj.get("maxContains").and_then(as_count);
            if hits < min {
                fail(
                    errors,
                    format!("array has {hits} items matching `contains`, fewer than {min}"),
                );
            }
            if let Some(max) = max.filter(|&m| hits > m) {
                fail(
                    errors,
                    format!("array has {hits} items matching `contains`, more than {max}"),
                );
            }
        }
    }

    fn eval_combinators(
        &self,
        obj: &Map<String, Value>,
        inst: &Value,
        path: &str,
        errors: &mut Vec<ValidationError>,
        depth: usize,
    ) {
        let passes = |s: &Value| {
            let mut sub = Vec::new();
            self.eval(s, inst, path, &mut sub, depth + 1);
            sub.is_empty()
        };
        let fail = |errors: &mut Vec<ValidationError>, message: String| {
            errors.push(ValidationError {
                instance_path: path.to_owned(),
                message,
            })
        };
        if let Some(Value::Array(all)) = obj.get("allOf") {
            for s in all {
                self.eval(s, inst, path, errors, depth + 1);
            }
        }
        if let Some(Value::Array(any)) = obj.get("anyOf") {
            if !any.iter().any(passes) {
                fail(errors, "value matches none of the `anyOf` schemas".into());
            }
        }
        if let Some(Value::Array(one)) = obj.get("oneOf") {
            let n = one.iter().filter(|s| passes(s)).count();
            if n != 1 {
                fail(
                    errors,
                    format!("value matches {n} of the `oneOf` schemas, expected exactly 1"),
                );
            }
        }
        if let Some(not) = obj.get("not") {
            if passes(not) {
                fail(errors, "value matches the `not` schema".into());
            }
        }
        if let Some(cond) = obj.get("if") {
            let branch = if passes(cond) {
                obj.get("then")
            } else {
                obj.get("else")
            };
            if let Some(b) = branch {
                self.eval(b, inst, path, errors, depth + 1);
            }
        }
    }
}

/// `%xx` decoding of a `$ref` fragment (URI fragments may be percent-encoded).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

fn is_string_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

fn as_count(v: &Value) -> Option<usize> {
    if let Some(u) = v.as_u64() {
        return usize::try_from(u).ok();
    }
    // 2.0 is a valid non-negative integer in JSON Schema.
    let f = v.as_f64()?;
    (f >= 0.0 && f.fract() == 0.0 && f < 1e15).then_some(f as usize)
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => {
            v.is_i64()
                || v.is_u64()
                || v.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A short rendering of a value for error messages.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

/// JSON equality with numbers compared by value (`1 == 1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(p), Some(q), _, _) => p == q,
                (_, _, Some(p), Some(q)) => p == q,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Whether `x` is an integer multiple of `m`, both taken as the decimals
/// they print as (the shortest digits that read back as the same `f64`):
/// `0.3` is a multiple of `0.1`, and `1000000000.5` is not one of `1`. The
/// check is exact on those decimals, whatever their magnitudes (a quotient
/// with a tolerance passes any large enough number).
fn is_multiple_of(x: f64, m: f64) -> bool {
    if !x.is_finite() || !m.is_finite() || m == 0.0 {
        return false;
    }
    if x == 0.0 {
        return true;
    }
    let ((a, p), (b, q)) = (decimal(x.abs()), decimal(m.abs()));
    // x = a·10^p, m = b·10^q, with a, b < 10^17.
    let (a, b) = (u128::from(a), u128::from(b));
    if p >= q {
        // b divides a·10^(p−q): (a mod b)·(10^(p−q) mod b) mod b = 0.
        let (mut pow, mut base, mut e) = (1 % b, 10 % b, p - q);
        while e > 0 {
            if e & 1 == 1 {
                pow = pow * base % b;
            }
            base = base * base % b;
            e >>= 1;
        }
        (a % b) * pow % b == 0
    } else {
        // b·10^(q−p) divides a; a divisor above a cannot (a > 0).
        10u128
            .checked_pow((q - p) as u32)
            .and_then(|t| t.checked_mul(b))
            .is_some_and(|d| a % d == 0)
    }
}

/// `v` (finite, positive) as `(digits, exponent)` with `v = digits·10^exponent`,
/// from its shortest round-trip form.
fn decimal(v: f64) -> (u64, i32) {
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}").parse().unwrap_or(0);
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp - frac.len() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/$defs/a%20b"), "/$defs/a b");
        assert_eq!(percent_decode("/x%2"), "/x%2");
        assert_eq!(percent_decode("%"), "%");
    }

    #[test]
    fn multiple_of_is_exact_on_the_printed_decimals() {
        let ok = |m: &str, x: &str| {
            let schema: Value = serde_json::from_str(&format!("{{\"multipleOf\": {m}}}")).unwrap();
            let instance: Value = serde_json::from_str(x).unwrap();
            validate(&schema, &instance).unwrap().is_empty()
        };
        // Not multiples, however large or small the quotient.
        for (m, x) in [
            ("1", "1000000000.5"),
            ("0.01", "12345678.901"),
            ("0.5", "2000000000.25"),
            ("3", "1e-9"),
            ("1", "1e-10"),
            ("3", "18446744073709551614"),
            ("0.3", "1e300"),
            ("1e-300", "1.5e-300"),
            ("7", "1e20"),
        ] {
            assert!(!ok(m, x), "{x} is not a multiple of {m}");
        }
        for (m, x) in [
            ("0.1", "0.3"),
            ("0.01", "0.07"),
            ("0.01", "12345678.9"),
            ("1", "1000000000"),
            ("0.5", "2000000000.5"),
            ("3", "18446744073709551615"),
            ("2", "1e20"),
            ("1e-300", "3e-300"),
            ("2.5", "-7.5"),
            ("7", "0"),
            ("1e100", "1e300"),
        ] {
            assert!(ok(m, x), "{x} is a multiple of {m}");
        }
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_eq(&json!(1), &json!(1.0)));
        assert!(!json_eq(&json!(1), &json!(2)));
        assert!(json_eq(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
    }
}
