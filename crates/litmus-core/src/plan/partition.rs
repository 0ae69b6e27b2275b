//! Partitions of a run (`--partition hash:K/N` or `count:K/N`): a
//! deterministic split of the run's *instances* between N jobs or hosts, so
//! that N machines run one plan side by side and `cargo eval merge` puts the
//! results back together.
//!
//! An instance is one eval under one configuration (model, quantization,
//! template, temperature) with all its samples and repeats: a sample never
//! travels without the others of its instance, so each partition computes
//! whole per-instance statistics. K counts from 1, as nextest's do.
//!
//! - `hash:K/N`: the instance goes to partition `h mod N + 1`, where `h` is a
//!   stable hash (sha256, not std's randomized hasher) of its key
//!   ([`InstanceKey::stable_hash`]). An instance's partition depends on its
//!   own key only, so adding or removing evals moves no other instance.
//! - `count:K/N`: round-robin over the plan's ordered instance list (models,
//!   then evals, templates and temperatures, in plan order): the partitions'
//!   sizes differ by at most one, but adding an eval shifts the instances
//!   after it.
//!
//! Every instance is in exactly one of the N partitions.
//!
//! ```
//! use litmus_core::plan::partition::{InstanceKey, Partition};
//! let p: Partition = "hash:2/4".parse().unwrap();
//! assert_eq!((p.index, p.total), (2, 4));
//! assert_eq!(p.to_string(), "hash:2/4");
//! let keys: Vec<InstanceKey> = (0..10)
//!     .map(|i| InstanceKey::new(&format!("e{i}"), "m", None, "plain", 0.0))
//!     .collect();
//! let sizes: Vec<usize> = (1..=3)
//!     .map(|k| Partition::count(k, 3).unwrap().select(&keys).len())
//!     .collect();
//! assert_eq!(sizes, [4, 3, 3]);
//! assert!("hash:0/4".parse::<Partition>().unwrap_err().contains("from 1"));
//! ```

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::base::model::ModelSpec;

/// How instances are assigned to partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// By a stable hash of the instance key.
    Hash,
    /// Round-robin over the plan's ordered instance list.
    Count,
}

impl Scheme {
    /// `hash` or `count`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Hash => "hash",
            Scheme::Count => "count",
        }
    }
}

/// One partition of N: `--partition hash:K/N` or `count:K/N`. Serialized
/// as that string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Partition {
    /// How instances are assigned.
    pub scheme: Scheme,
    /// Which partition, 1-based (K).
    pub index: u32,
    /// How many partitions (N).
    pub total: u32,
}

impl Partition {
    /// Partition `index` of `total` by hash; `None` unless 1 ≤ index ≤ total.
    pub fn hash(index: u32, total: u32) -> Option<Partition> {
        Self::checked(Scheme::Hash, index, total).ok()
    }

    /// Partition `index` of `total` by count; `None` unless 1 ≤ index ≤ total.
    pub fn count(index: u32, total: u32) -> Option<Partition> {
        Self::checked(Scheme::Count, index, total).ok()
    }

    fn checked(scheme: Scheme, index: u32, total: u32) -> Result<Partition, String> {
        let s = scheme.as_str();
        if total == 0 {
            return Err(format!("N must be at least 1 (e.g. {s}:1/4)"));
        }
        if index == 0 {
            return Err(format!(
                "K counts from 1: the partitions of {total} are {s}:1/{total} to {s}:{total}/{total}"
            ));
        }
        if index > total {
            return Err(format!(
                "K ({index}) is greater than N ({total}): the partitions of {total} are {s}:1/{total} to {s}:{total}/{total}"
            ));
        }
        Ok(Partition {
            scheme,
            index,
            total,
        })
    }

    /// The partition (1-based) that holds the instance at `position` of the
    /// plan's ordered instance list, whose key is `key`.
    pub fn owner(&self, position: usize, key: &InstanceKey) -> u32 {
        let n = u64::from(self.total);
        let slot = match self.scheme {
            Scheme::Hash => key.stable_hash() % n,
            Scheme::Count => position as u64 % n,
        };
        slot as u32 + 1
    }

    /// This partition's share of `instances` (the plan's ordered instance
    /// list).
    pub fn select(&self, instances: &[InstanceKey]) -> Selection {
        let keys = instances
            .iter()
            .enumerate()
            .filter(|(i, k)| self.owner(*i, k) == self.index)
            .map(|(_, k)| k.clone())
            .collect();
        Selection {
            partition: *self,
            keys,
            of: instances.len(),
        }
    }

    /// Whether `other` splits the same way (same scheme, same N), so that
    /// the two are parts of one split.
    pub fn same_split(&self, other: &Partition) -> bool {
        self.scheme == other.scheme && self.total == other.total
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.scheme.as_str(), self.index, self.total)
    }
}

impl FromStr for Partition {
    type Err = String;

    /// Parses `hash:K/N` or `count:K/N`; the error says what is wrong.
    fn from_str(s: &str) -> Result<Partition, String> {
        let usage = "expected KIND:K/N with KIND `hash` or `count`, e.g. hash:1/4";
        let (kind, rest) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: {usage}"))?;
        let scheme = match kind.trim().to_ascii_lowercase().as_str() {
            "hash" => Scheme::Hash,
            "count" => Scheme::Count,
            other => {
                return Err(format!(
                    "unknown partition kind `{other}`: expected `hash` or `count` (e.g. hash:1/4)"
                ))
            }
        };
        let (k, n) = rest
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: {usage}"))?;
        let number = |what: &str, v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{s}`: {what} `{v}` is not a whole number; {usage}"))
        };
        Self::checked(scheme, number("K", k)?, number("N", n)?)
    }
}

impl TryFrom<String> for Partition {
    type Error = String;
    fn try_from(s: String) -> Result<Partition, String> {
        s.parse()
    }
}

impl From<Partition> for String {
    fn from(p: Partition) -> String {
        p.to_string()
    }
}

/// The identity of an instance: an eval under a configuration, as the plan
/// names it (the model spec's name and quantization, before any model is
/// opened).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceKey {
    /// The eval's full name.
    pub eval: String,
    /// The model spec's name.
    pub model: String,
    /// The model spec's quantization label.
    pub quantization: Option<String>,
    /// The template's name.
    pub template: String,
    /// The temperature, as bits.
    pub temperature_bits: u32,
}

impl InstanceKey {
    /// The key of `eval` under a configuration.
    pub fn new(
        eval: &str,
        model: &str,
        quantization: Option<&str>,
        template: &str,
        temperature: f32,
    ) -> InstanceKey {
        InstanceKey {
            eval: eval.to_string(),
            model: model.to_string(),
            quantization: quantization.map(str::to_string),
            template: template.to_string(),
            temperature_bits: temperature.to_bits(),
        }
    }

    /// The key of `eval` on model `spec`.
    pub fn of_spec(eval: &str, spec: &ModelSpec, template: &str, temperature: f32) -> InstanceKey {
        Self::new(
            eval,
            &spec.name,
            spec.quantization.as_deref(),
            template,
            temperature,
        )
    }

    /// A hash of the key that is the same on every machine, platform and
    /// litmus build: the first 8 bytes of the sha256 of its fields (each
    /// followed by a NUL; the temperature as written by `f32`'s `Display`).
    pub fn stable_hash(&self) -> u64 {
        let mut text = String::new();
        for field in [
            self.eval.as_str(),
            self.model.as_str(),
            self.quantization.as_deref().unwrap_or("\u{1}none"),
            self.template.as_str(),
        ] {
            text.push_str(field);
            text.push('\0');
        }
        text.push_str(&f32::from_bits(self.temperature_bits).to_string());
        let hex = crate::base::util::sha256_hex(text.as_bytes());
        u64::from_str_radix(&hex[..16], 16).unwrap_or(0)
    }
}

/// The instances of a plan in its order: for each model, each eval, each
/// template that `applies(eval index, template index)`, each temperature.
/// `models` are (name, quantization) of the model specs.
pub fn instances(
    evals: &[String],
    models: &[(String, Option<String>)],
    templates: &[String],
    temperatures: &[f32],
    applies: impl Fn(usize, usize) -> bool,
) -> Vec<InstanceKey> {
    let mut out = Vec::new();
    for (model, quantization) in models {
        for (ei, eval) in evals.iter().enumerate() {
            for (ti, template) in templates.iter().enumerate() {
                if !applies(ei, ti) {
                    continue;
                }
                for &t in temperatures {
                    out.push(InstanceKey::new(
                        eval,
                        model,
                        quantization.as_deref(),
                        template,
                        t,
                    ));
                }
            }
        }
    }
    out
}

/// One partition's share of a plan's instances.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// The partition.
    pub partition: Partition,
    /// The instances in it.
    pub keys: HashSet<InstanceKey>,
    /// How many instances the whole plan has.
    pub of: usize,
}

impl Selection {
    /// Whether the instance `key` is in this partition.
    pub fn admits(&self, key: &InstanceKey) -> bool {
        self.keys.contains(key)
    }

    /// How many instances are in this partition.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether this partition holds no instance.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `partition hash:2/4: 37 of 149 evals × configurations`.
    pub fn describe(&self) -> String {
        format!(
            "partition {}: {} of {} evals × configurations",
            self.partition,
            self.len(),
            self.of
        )
    }

    /// What a run records of it in `run.json`.
    pub fn info(&self) -> PartitionInfo {
        PartitionInfo {
            partition: self.partition,
            instances: self.len(),
            of: self.of,
        }
    }
}

/// Whether `selection` (none: the whole plan) admits `eval` on model `spec`
/// with `template` at `temperature`: the runner's check, as it expands the
/// plan.
pub fn admits(
    selection: Option<&Selection>,
    eval: &str,
    spec: &ModelSpec,
    template: &str,
    temperature: f32,
) -> bool {
    selection.is_none_or(|s| s.admits(&InstanceKey::of_spec(eval, spec, template, temperature)))
}

/// A run's partition, as recorded in its `run.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// Which partition (`hash:2/4`).
    pub partition: Partition,
    /// Instances (evals × configurations) in it.
    pub instances: usize,
    /// Instances in the whole plan.
    pub of: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(evals: usize) -> Vec<InstanceKey> {
        let names: Vec<String> = (0..evals).map(|i| format!("suite::eval_{i}")).collect();
        instances(
            &names,
            &[
                ("gemma".into(), Some("Q4_K_M".into())),
                ("gemma".into(), Some("Q8_0".into())),
            ],
            &["plain".into(), "expert".into()],
            &[0.0, 0.7],
            |_, _| true,
        )
    }

    fn all(scheme: Scheme, n: u32) -> Vec<Partition> {
        (1..=n)
            .map(|k| Partition::checked(scheme, k, n).unwrap())
            .collect()
    }

    #[test]
    fn every_instance_is_in_exactly_one_partition() {
        for evals in [0, 1, 3, 17, 40] {
            let list = keys(evals);
            for scheme in [Scheme::Hash, Scheme::Count] {
                for n in 1..=7 {
                    let mut seen: HashSet<InstanceKey> = HashSet::new();
                    let mut total = 0;
                    for p in all(scheme, n) {
                        let s = p.select(&list);
                        assert_eq!(s.of, list.len());
                        total += s.len();
                        for k in &s.keys {
                            assert!(seen.insert(k.clone()), "{k:?} in two partitions of {n}");
                        }
                    }
                    assert_eq!(total, list.len(), "{scheme:?} {n}: union is everything");
                    assert_eq!(seen, list.iter().cloned().collect());
                }
            }
        }
    }

    #[test]
    fn count_is_balanced_and_round_robin() {
        let list = keys(10); // 80 instances
        for n in 1..=9u32 {
            let sizes: Vec<usize> = all(Scheme::Count, n)
                .iter()
                .map(|p| p.select(&list).len())
                .collect();
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(hi - lo <= 1, "{n}: {sizes:?}");
        }
        let p = Partition::count(2, 3).unwrap();
        assert_eq!(p.owner(0, &list[0]), 1);
        assert_eq!(p.owner(1, &list[1]), 2);
        assert_eq!(p.owner(5, &list[5]), 3);
    }

    #[test]
    fn hash_is_stable_when_an_unrelated_instance_is_added() {
        let before = keys(20);
        let mut after = before.clone();
        after.insert(
            7,
            InstanceKey::new("suite::new_eval", "gemma", None, "plain", 0.0),
        );
        after.push(InstanceKey::new("zzz::last", "other", None, "plain", 1.0));
        for n in 2..=5 {
            for p in all(Scheme::Hash, n) {
                let a = p.select(&before).keys;
                let b = p.select(&after).keys;
                for k in &before {
                    assert_eq!(a.contains(k), b.contains(k), "{k:?} moved in {p}");
                }
            }
        }
        // Count, by contrast, shifts what follows the new instance.
        let p = Partition::count(1, 4).unwrap();
        assert_ne!(p.select(&before).keys, {
            let mut b = p.select(&after).keys;
            b.retain(|k| before.contains(k));
            b
        });
    }

    #[test]
    fn the_hash_is_fixed_across_builds_and_spreads_instances() {
        // A fixed value: a change here moves instances between partitions of
        // runs made with different litmus versions.
        let k = InstanceKey::new("geo::capital", "gemma", Some("Q4_K_M"), "plain", 0.7);
        assert_eq!(k.stable_hash(), k.clone().stable_hash());
        assert_eq!(
            k.stable_hash(),
            u64::from_str_radix(
                &crate::base::util::sha256_hex(b"geo::capital\0gemma\0Q4_K_M\0plain\x000.7")[..16],
                16
            )
            .unwrap()
        );
        assert_ne!(
            k.stable_hash(),
            InstanceKey::new("geo::capital", "gemma", None, "plain", 0.7).stable_hash()
        );
        // 400 instances over 4 partitions: none is nearly empty.
        let list = keys(50);
        for p in all(Scheme::Hash, 4) {
            let n = p.select(&list).len();
            assert!((60..=140).contains(&n), "{p}: {n} of 400");
        }
    }

    #[test]
    fn specs_parse_and_print_and_bad_ones_say_why() {
        for s in ["hash:1/1", "hash:3/4", "count:2/2", "count:10/12"] {
            assert_eq!(s.parse::<Partition>().unwrap().to_string(), s);
        }
        assert_eq!(
            " Hash:2/3".parse::<Partition>().unwrap(),
            Partition::hash(2, 3).unwrap()
        );
        let err = |s: &str| s.parse::<Partition>().unwrap_err();
        assert!(
            err("hash:0/4").contains("K counts from 1"),
            "{}",
            err("hash:0/4")
        );
        assert!(err("hash:5/4").contains("K (5) is greater than N (4)"));
        assert!(err("count:1/0").contains("N must be at least 1"));
        assert!(err("mod:1/4").contains("unknown partition kind `mod`"));
        assert!(err("1/4").contains("expected KIND:K/N"));
        assert!(err("hash:1-4").contains("expected KIND:K/N"));
        assert!(err("hash:x/4").contains("`x` is not a whole number"));
        assert!(err("hash:-1/4").contains("not a whole number"));
        // Serialized as its string.
        let p = Partition::count(2, 5).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"count:2/5\"");
        assert_eq!(
            serde_json::from_str::<Partition>("\"count:2/5\"").unwrap(),
            p
        );
        assert!(serde_json::from_str::<Partition>("\"count:6/5\"").is_err());
    }

    #[test]
    fn instances_follow_the_plan_order_and_skip_what_does_not_apply() {
        let list = instances(
            &["a".into(), "b".into()],
            &[("m".into(), None), ("n".into(), Some("Q8_0".into()))],
            &["plain".into(), "code".into()],
            &[0.0, 1.0],
            |e, t| !(e == 1 && t == 1),
        );
        assert_eq!(list.len(), 2 * 3 * 2);
        assert_eq!(list[0], InstanceKey::new("a", "m", None, "plain", 0.0));
        assert_eq!(list[1], InstanceKey::new("a", "m", None, "plain", 1.0));
        assert_eq!(list[2], InstanceKey::new("a", "m", None, "code", 0.0));
        assert_eq!(list[4], InstanceKey::new("b", "m", None, "plain", 0.0));
        assert_eq!(
            list[6],
            InstanceKey::new("a", "n", Some("Q8_0"), "plain", 0.0)
        );
        let s = Partition::hash(1, 1).unwrap().select(&list);
        assert_eq!(
            s.describe(),
            "partition hash:1/1: 12 of 12 evals × configurations"
        );
        assert!(admits(None, "x", &ModelSpec::default(), "plain", 0.0));
        let spec = ModelSpec {
            name: "m".into(),
            ..ModelSpec::default()
        };
        assert!(admits(Some(&s), "a", &spec, "code", 1.0));
        assert!(!admits(Some(&s), "b", &spec, "code", 1.0));
    }
}
