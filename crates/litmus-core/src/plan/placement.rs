//! Placement: which compute device each configuration runs on, decided before
//! the run (the list phase, as nextest lists tests before running them).
//!
//! Everything here is pure data and arithmetic, so it is tested against
//! simulated machines:
//!
//! - [`Inventory`]: the devices llama.cpp's backend registry reports (eval
//!   targets print it for `cargo eval devices` when started with
//!   [`DEVICES_FLAG`]);
//! - [`ModelMemory`]: what one configuration needs, per repeating layer and
//!   for the rest (computed from a GGUF by `litmus_gguf::memory`), and what
//!   any layer split of it puts on each device ([`ModelMemory::on_devices`]);
//! - [`DevicesConfig`]: the `[devices]` table of `litmus.toml`, and
//!   [`Pins`]: a model's own `device`, `gpu_layers` and `split`;
//! - [`plan`]: a [`Plan`], each configuration on a device (or split over
//!   several, or partly offloaded, or on the CPU), in waves of
//!   configurations that fit on the machine at the same time; and
//!   [`replan`]: the next option for a configuration whose load failed.
//!
//! The planner follows llama.cpp's own layer assignment (`n_gpu_layers`
//! counts the repeating layers and then the output layer; the input
//! embeddings stay on the CPU; a layer split divides the offloaded layers in
//! proportion to each GPU's share, by default its free memory), so that
//! what it plans is what `llama_model_load` will do.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::base::backend::ModelIdentity;
use crate::base::model::ModelSpec;

/// The hidden first argument that makes an eval target print the device
/// inventory as JSON (one [`DevicesJob`] in the second argument) instead
/// of running evals: `cargo eval devices` starts eval targets that way
/// (cargo-eval itself does not link llama.cpp).
pub const DEVICES_FLAG: &str = "--litmus-devices";

/// GiB in bytes.
pub const GIB: u64 = 1 << 30;
/// MiB in bytes.
pub const MIB: u64 = 1 << 20;

// ---------------------------------------------------------------------------
// Devices

/// What kind of compute device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// The host CPU (llama.cpp's CPU backend).
    Cpu,
    /// A discrete GPU (CUDA, ROCm, Vulkan, Metal...).
    Gpu,
    /// An integrated GPU sharing host memory.
    Igpu,
    /// An accelerator that works alongside the CPU (e.g. BLAS, AMX).
    Accel,
}

impl DeviceKind {
    /// `cpu`, `gpu`, `igpu`, `accel`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Gpu => "gpu",
            DeviceKind::Igpu => "igpu",
            DeviceKind::Accel => "accel",
        }
    }
}

/// One compute device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// llama.cpp's name for it, e.g. `CUDA0`, `CPU`.
    pub name: String,
    /// Its index in llama.cpp's backend device registry (what
    /// `LlamaModelParams::with_devices` takes).
    pub index: usize,
    /// CPU, GPU, integrated GPU or accelerator.
    pub kind: DeviceKind,
    /// The backend that drives it, e.g. `CUDA`, `CPU`.
    pub backend: String,
    /// The device's own description, e.g. `NVIDIA GeForce RTX 4090`.
    pub description: String,
    /// Memory in bytes (host RAM for the CPU).
    pub memory_total: u64,
    /// Free memory in bytes when the inventory was taken (available RAM for
    /// the CPU).
    pub memory_free: u64,
    /// CPU: physical cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    /// CPU: hardware threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// CPU: the logical CPUs of each physical core this process may use,
    /// core by core (SMT siblings together), for pinning configurations
    /// that share the CPU to cores of their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub core_cpus: Vec<Vec<u32>>,
    /// PCI bus id (`0000:c1:00.0`), where llama.cpp knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_bus_id: Option<String>,
}

impl Device {
    /// A GPU (discrete or integrated): something layers are offloaded to.
    pub fn is_gpu(&self) -> bool {
        matches!(self.kind, DeviceKind::Gpu | DeviceKind::Igpu)
    }
}

/// The devices of this machine as an eval target's llama.cpp sees them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Every device of llama.cpp's registry (the CPU included).
    pub devices: Vec<Device>,
    /// Whether the eval target was built with a GPU backend (litmus's
    /// `cuda` feature).
    pub gpu_support: bool,
    /// The GPU backends compiled in (e.g. `["CUDA"]`).
    #[serde(default)]
    pub gpu_backends: Vec<String>,
    /// llama.cpp's system info line (CPU features).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system_info: String,
}

impl Inventory {
    /// The GPUs, in registry order.
    pub fn gpus(&self) -> impl Iterator<Item = &Device> {
        self.devices.iter().filter(|d| d.is_gpu())
    }

    /// The CPU device.
    pub fn cpu(&self) -> Option<&Device> {
        self.devices.iter().find(|d| d.kind == DeviceKind::Cpu)
    }

    /// The inventory as `cargo eval devices --format json` prints it.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an inventory serializes") + "\n"
    }

    /// The inventory as `cargo eval devices` prints it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let width = self
            .devices
            .iter()
            .map(|d| d.name.len())
            .max()
            .unwrap_or(3)
            .max(6);
        for d in &self.devices {
            let memory = match d.kind {
                DeviceKind::Cpu => format!(
                    "{} RAM, {} available",
                    gib(d.memory_total),
                    gib(d.memory_free)
                ),
                _ => format!("{} total, {} free", gib(d.memory_total), gib(d.memory_free)),
            };
            let cores = match (d.cores, d.threads) {
                (Some(c), Some(t)) if t != c => format!(", {c} cores ({t} threads)"),
                (Some(c), _) => format!(", {c} cores"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "{:>width$}  {:<5} {}  {memory}{cores}{}",
                d.name,
                d.kind.as_str(),
                if d.description.is_empty() {
                    &d.backend
                } else {
                    &d.description
                },
                d.pci_bus_id
                    .as_deref()
                    .map(|p| format!(", PCI {p}"))
                    .unwrap_or_default(),
            );
        }
        if !self.gpu_support {
            out.push_str(
                "\nno GPU support: this eval target's llama.cpp was built without a GPU backend, so models run on the CPU.\n\
                 Build with litmus's `cuda` feature (`cargo eval devices --features litmus/cuda`, CUDA toolkit needed) to use NVIDIA GPUs.\n",
            );
        } else if self.gpus().next().is_none() {
            let _ = writeln!(
                out,
                "\nbuilt with GPU support ({}), but no GPU was found: models run on the CPU.",
                self.gpu_backends.join(", ")
            );
        }
        out
    }
}

/// What `cargo eval devices` asks an eval target for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DevicesJob {
    /// `text` or `json`.
    pub format: String,
    /// Models to plan on the devices (`cargo eval devices --plan`): each
    /// configuration's memory is estimated as the eval target would open
    /// it, and [`plan`] places them. Empty: the inventory alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<ModelSpec>,
    /// The `[devices]` table in force.
    #[serde(default)]
    pub devices: DevicesConfig,
}

/// What `cargo eval devices --plan --format json` prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DevicesReport {
    /// The devices.
    pub inventory: Inventory,
    /// The plan, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// Each configuration's estimated memory, in request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<Request>,
}

impl DevicesJob {
    /// The arguments that run this job in an eval target.
    pub fn to_args(&self) -> [String; 2] {
        [
            DEVICES_FLAG.to_string(),
            serde_json::to_string(self).expect("a job serializes"),
        ]
    }

    /// The job in a process's arguments (without the program name), if they
    /// ask for one: `Some(Err(..))` when the JSON is bad. A bare flag asks
    /// for JSON.
    pub fn from_args(args: &[String]) -> Option<Result<DevicesJob, String>> {
        match args {
            [flag, json, ..] if flag == DEVICES_FLAG => {
                Some(serde_json::from_str(json).map_err(|e| format!("{DEVICES_FLAG}: {e}")))
            }
            [flag] if flag == DEVICES_FLAG => Some(Ok(DevicesJob {
                format: "json".into(),
                ..Default::default()
            })),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Memory of one configuration

/// Memory of one repeating layer (transformer block).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerMemory {
    /// Weight bytes of the layer's tensors.
    pub weights: u64,
    /// KV cache bytes of the layer at the configuration's context and
    /// parallel sequences (0 for layers without attention).
    pub kv: u64,
}

/// What one configuration (a model at a context size, parallel sequences
/// and cache type) needs, in the pieces llama.cpp allocates separately.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelMemory {
    /// The repeating layers, in order.
    pub layers: Vec<LayerMemory>,
    /// Input tensors (token embeddings...): llama.cpp keeps them on the CPU.
    pub input: u64,
    /// The output layer (final norm, output head): offloaded with the last
    /// of `n_gpu_layers` (i.e. when it exceeds the repeating layers).
    pub output: u64,
    /// Bytes of `output` shared with `input` when both are on the CPU (a
    /// model with tied embeddings: llama.cpp copies the token embeddings
    /// to the output layer's device, but on the CPU both use one mapping).
    #[serde(default)]
    pub tied_output: u64,
    /// The compute buffer of the device that computes the logits (the
    /// output layer's device): activations of a micro-batch and its logits.
    pub compute_main: u64,
    /// The compute buffer of every other device that holds layers.
    pub compute_other: u64,
    /// Host compute buffer when anything is offloaded (graph inputs staged
    /// for the GPU).
    pub compute_host: u64,
    /// Host buffer of the logits handed back to the caller.
    pub output_buffer: u64,
}

/// Which device runs each layer: the result of llama.cpp's assignment for
/// some `n_gpu_layers` and split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerSplit {
    /// Layers offloaded (repeating layers, then the output layer): as
    /// llama.cpp's `n_gpu_layers`.
    pub gpu_layers: u32,
    /// The GPUs (inventory names) and their shares of the offloaded layers.
    pub gpus: Vec<(String, f64)>,
}

impl ModelMemory {
    /// Repeating layers.
    pub fn n_layers(&self) -> u32 {
        self.layers.len() as u32
    }

    /// Everything, on the CPU alone (a GPU also holds the tied output
    /// copy, see [`ModelMemory::on_devices`]).
    pub fn total(&self) -> u64 {
        self.weights() - self.tied_output + self.kv() + self.compute_main + self.output_buffer
    }

    /// All weights.
    pub fn weights(&self) -> u64 {
        self.input + self.output + self.layers.iter().map(|l| l.weights).sum::<u64>()
    }

    /// All KV cache.
    pub fn kv(&self) -> u64 {
        self.layers.iter().map(|l| l.kv).sum()
    }

    /// The device of each layer `0..=n_layers` (the last one is the output
    /// layer): `None` for the CPU, else an index into `split.gpus`. This is
    /// llama.cpp's rule (`llama_model::load_tensors`): the first
    /// `n_layers + 1 - gpu_layers` layers stay on the CPU, the offloaded ones
    /// are cut in order at the cumulative shares of the GPUs.
    pub fn layer_devices(&self, split: &LayerSplit) -> Vec<Option<usize>> {
        let n = self.layers.len() + 1;
        let offloaded = (split.gpu_layers as usize).min(n);
        if split.gpus.is_empty() || offloaded == 0 {
            return vec![None; n];
        }
        let total: f64 = split.gpus.iter().map(|(_, s)| s.max(0.0)).sum();
        let mut cumulative = Vec::with_capacity(split.gpus.len());
        let mut acc = 0.0;
        for (_, s) in &split.gpus {
            acc += if total > 0.0 {
                s.max(0.0) / total
            } else {
                1.0 / split.gpus.len() as f64
            };
            cumulative.push(acc);
        }
        let start = n - offloaded;
        (0..n)
            .map(|il| {
                if il < start {
                    return None;
                }
                let x = (il - start) as f64 / offloaded as f64;
                // upper_bound: the first cumulative share greater than x.
                let gpu = cumulative
                    .iter()
                    .position(|&c| c > x)
                    .unwrap_or(split.gpus.len() - 1);
                Some(gpu)
            })
            .collect()
    }

    /// Bytes on each device for a layer split: `(device name, bytes)`, the
    /// GPUs in `split` order (those that get layers), then `CPU`.
    pub fn on_devices(&self, split: &LayerSplit) -> Vec<(String, u64)> {
        let devices = self.layer_devices(split);
        let mut gpu_bytes = vec![0u64; split.gpus.len()];
        let mut gpu_used = vec![false; split.gpus.len()];
        let mut cpu = self.input;
        for (il, dev) in devices.iter().enumerate() {
            let bytes = match self.layers.get(il) {
                Some(l) => l.weights + l.kv,
                None => self.output,
            };
            match dev {
                Some(g) => {
                    gpu_bytes[*g] += bytes;
                    gpu_used[*g] = true;
                }
                None if il == self.layers.len() => cpu += bytes - self.tied_output,
                None => cpu += bytes,
            }
        }
        let output_dev = *devices.last().expect("the output layer");
        let mut any_gpu = false;
        for (g, bytes) in gpu_bytes.iter_mut().enumerate() {
            if !gpu_used[g] {
                continue;
            }
            any_gpu = true;
            *bytes += if output_dev == Some(g) {
                self.compute_main
            } else {
                self.compute_other
            };
        }
        cpu += self.output_buffer;
        if output_dev.is_none() {
            cpu += self.compute_main;
        } else if devices.iter().any(Option::is_none) {
            // Layers on the CPU as well: it computes them.
            cpu += self.compute_other;
        }
        if any_gpu {
            cpu += self.compute_host;
        }
        let mut out: Vec<(String, u64)> = split
            .gpus
            .iter()
            .zip(gpu_bytes)
            .zip(gpu_used)
            .filter(|(_, used)| *used)
            .map(|(((name, _), b), _)| (name.clone(), b))
            .collect();
        out.push(("CPU".to_string(), cpu));
        out
    }
}

// ---------------------------------------------------------------------------
// Configuration

/// The `[devices]` table of `litmus.toml`; every key optional.
///
/// ```toml
/// [devices]
/// use = ["CUDA0", "CUDA1"]   # default: every GPU (and the CPU when none is left)
/// headroom = "1 GiB"         # left free on every device; or "10%"
/// max_per_gpu = 2            # most configurations at once on one GPU
/// cpu_parallel = 1           # configurations at once on the CPU
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevicesConfig {
    /// Devices to use, by name (`CUDA0`), `gpu` (every GPU), `cpu` or
    /// `all`; default: every GPU and the CPU.
    #[serde(rename = "use", skip_serializing_if = "Vec::is_empty")]
    pub use_devices: Vec<String>,
    /// Memory left free on every device: `"1 GiB"`, `"512 MiB"`, `"10%"` of
    /// its total; default 1 GiB on GPUs (llama.cpp's own `--fit` margin)
    /// and 10% of RAM on the CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headroom: Option<String>,
    /// Most configurations at once on one GPU (default: as many as fit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_per_gpu: Option<u32>,
    /// Configurations at once on the CPU, each with an equal share of its
    /// cores (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_parallel: Option<u32>,
}

/// A size or a share of a device's total memory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Headroom {
    /// Bytes.
    Bytes(u64),
    /// A fraction of the device's total memory.
    Fraction(f64),
}

impl Headroom {
    /// `"1 GiB"`, `"1.5GB"`, `"512 MiB"`, `"300M"`, `"10%"`, or plain bytes.
    pub fn parse(s: &str) -> Result<Headroom, String> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("headroom `{s}`: expected a percentage"))?;
            if !(0.0..100.0).contains(&v) {
                return Err(format!("headroom `{s}`: expected 0% to 99%"));
            }
            return Ok(Headroom::Fraction(v / 100.0));
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let v: f64 = num
            .trim()
            .parse()
            .map_err(|_| format!("headroom `{s}`: expected a size such as \"1 GiB\" or \"10%\""))?;
        let mult = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kb" | "kib" => 1024.0,
            "m" | "mb" | "mib" => MIB as f64,
            "g" | "gb" | "gib" => GIB as f64,
            "t" | "tb" | "tib" => (GIB as f64) * 1024.0,
            other => return Err(format!("headroom `{s}`: unknown unit `{other}`")),
        };
        Ok(Headroom::Bytes((v * mult) as u64))
    }

    fn bytes(self, total: u64) -> u64 {
        match self {
            Headroom::Bytes(b) => b,
            Headroom::Fraction(f) => (total as f64 * f) as u64,
        }
    }
}

/// A model's own placement settings (`device`, `gpu_layers`, `split` in
/// its `[models.NAME]` table).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pins {
    /// Run on this GPU only (its index among the GPUs, as `CUDA<N>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<u32>,
    /// Offload this many layers (0: the CPU only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_layers: Option<u32>,
    /// Split the layers over the GPUs in these proportions (one number per
    /// GPU in use, as llama.cpp's `--tensor-split`; 0 leaves a GPU out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<f64>,
}

/// One configuration to place.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// What the plan calls it, e.g. `gemma Q4_K_M`.
    pub label: String,
    /// Its memory, or `None` for a model served elsewhere (an HTTP
    /// endpoint), which needs no local device.
    pub memory: Option<ModelMemory>,
    /// Its own placement settings.
    #[serde(default)]
    pub pins: Pins,
    /// A model served elsewhere: the endpoint that serves it (its base URL;
    /// `replay` for a recorded run). Each endpoint is a device of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// A model served elsewhere: the requests it keeps in flight (its
    /// `parallel`), i.e. the endpoint's slots it fills. An endpoint's
    /// capacity is the most slots any of its configurations names;
    /// configurations on one endpoint run at once while their slots fit it
    /// (by default one at a time: each fills the endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<u32>,
}

// ---------------------------------------------------------------------------
// The plan

/// Where one configuration runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// Every layer on one GPU.
    Gpu {
        /// The GPU's name.
        device: String,
    },
    /// Every layer on GPUs, split by layers.
    Split {
        /// The GPUs and their shares.
        gpus: Vec<(String, f64)>,
    },
    /// Some layers on GPUs, the rest on the CPU.
    Partial {
        /// Layers offloaded (as `n_gpu_layers`, the output layer counted).
        gpu_layers: u32,
        /// Of how many (repeating layers + 1).
        of: u32,
        /// The GPUs and their shares.
        gpus: Vec<(String, f64)>,
    },
    /// Everything on the CPU.
    Cpu,
    /// Served elsewhere (an HTTP endpoint, or a recorded run): no local
    /// device; the endpoint is a device of its own in the schedule.
    Remote {
        /// The endpoint (base URL), `replay`, or empty when unknown.
        #[serde(default)]
        endpoint: String,
    },
}

impl Placement {
    /// The layer split this placement loads with (`None` for remote).
    pub fn layer_split(&self, memory: &ModelMemory) -> Option<LayerSplit> {
        let all = memory.n_layers() + 1;
        Some(match self {
            Placement::Gpu { device } => LayerSplit {
                gpu_layers: all,
                gpus: vec![(device.clone(), 1.0)],
            },
            Placement::Split { gpus } => LayerSplit {
                gpu_layers: all,
                gpus: gpus.clone(),
            },
            Placement::Partial {
                gpu_layers, gpus, ..
            } => LayerSplit {
                gpu_layers: *gpu_layers,
                gpus: gpus.clone(),
            },
            Placement::Cpu => LayerSplit::default(),
            Placement::Remote { .. } => return None,
        })
    }

    /// A short description: `CUDA0`, `CUDA0+CUDA1 (55%/45%)`,
    /// `CUDA0 20/37 layers + CPU`, `CPU`, `remote`.
    pub fn describe(&self) -> String {
        let shares = |gpus: &[(String, f64)]| {
            let total: f64 = gpus
                .iter()
                .map(|(_, s)| *s)
                .sum::<f64>()
                .max(f64::MIN_POSITIVE);
            let names: Vec<&str> = gpus.iter().map(|(n, _)| n.as_str()).collect();
            if gpus.len() == 1 {
                names[0].to_string()
            } else {
                let pct: Vec<String> = gpus
                    .iter()
                    .map(|(_, s)| format!("{:.0}%", s / total * 100.0))
                    .collect();
                format!("{} ({})", names.join("+"), pct.join("/"))
            }
        };
        match self {
            Placement::Gpu { device } => device.clone(),
            Placement::Split { gpus } => shares(gpus),
            Placement::Partial {
                gpu_layers,
                of,
                gpus,
            } => format!("{} {gpu_layers}/{of} layers + CPU", shares(gpus)),
            Placement::Cpu => "CPU".into(),
            Placement::Remote { endpoint } if endpoint.is_empty() => "remote".into(),
            Placement::Remote { endpoint } => format!("remote {endpoint}"),
        }
    }
}

/// One configuration in the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The configuration's label.
    pub label: String,
    /// Its index in the requests.
    pub request: usize,
    /// Where it runs.
    pub placement: Placement,
    /// Bytes it takes on each device it uses.
    pub bytes: BTreeMap<String, u64>,
    /// CPU threads it gets (CPU and partial placements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// The logical CPUs its threads are pinned to, when it shares the CPU
    /// with other configurations of its wave (each gets whole cores of its
    /// own); empty when it has the CPU to itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u32>,
    /// The wave it starts in: configurations of one wave run at the same
    /// time; wave N+1 starts as configurations of wave N finish.
    pub wave: u32,
    /// Why it is not on a GPU of its own, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A device as the plan uses it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanDevice {
    /// Name, e.g. `CUDA0`.
    pub name: String,
    /// Kind.
    pub kind: DeviceKind,
    /// Description.
    pub description: String,
    /// Bytes the plan may use on it (free memory less headroom).
    pub budget: u64,
    /// Free memory when planned.
    pub free: u64,
}

/// The placement of every configuration: what `cargo eval --plan` prints
/// and `run.json` records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The devices in use.
    pub devices: Vec<PlanDevice>,
    /// One per configuration, in wave order (then request order).
    pub assignments: Vec<Assignment>,
    /// Things the user should know (a device named in `[devices] use` that
    /// does not exist, no GPU support...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The planner's view of the machine after the configuration is applied.
#[derive(Clone, Debug)]
struct Budgets {
    /// GPUs: (name, budget bytes), in planning preference order.
    gpus: Vec<(String, u64)>,
    /// CPU budget bytes.
    cpu: u64,
    /// Whether whole configurations may run on the CPU.
    cpu_models: bool,
    cpu_threads: u32,
    /// The CPU's logical CPUs by physical core (empty when unknown).
    cpu_cores: Vec<Vec<u32>>,
    max_per_gpu: u32,
    cpu_parallel: u32,
}

/// The devices `[devices] use` names that this machine does not have: said
/// by `--plan` and warned about by a run (a typo such as `CUDA01` would
/// otherwise run everything elsewhere without a word).
pub fn unknown_devices(inv: &Inventory, cfg: &DevicesConfig) -> Vec<String> {
    cfg.use_devices
        .iter()
        .filter(|u| {
            !matches!(u.to_ascii_lowercase().as_str(), "all" | "gpu" | "cpu")
                && !inv.devices.iter().any(|d| d.name.eq_ignore_ascii_case(u))
        })
        .map(|u| format!("[devices] use: no device `{u}` on this machine"))
        .collect()
}

fn budgets(
    inv: &Inventory,
    cfg: &DevicesConfig,
) -> Result<(Budgets, Vec<PlanDevice>, Vec<String>), String> {
    let headroom = cfg.headroom.as_deref().map(Headroom::parse).transpose()?;
    let mut notes = Vec::new();
    let wanted = |d: &Device| {
        cfg.use_devices.is_empty()
            || cfg.use_devices.iter().any(|u| {
                let u = u.to_ascii_lowercase();
                u == "all"
                    || u == d.name.to_ascii_lowercase()
                    || (u == "gpu" && d.is_gpu())
                    || (u == "cpu" && d.kind == DeviceKind::Cpu)
            })
    };
    notes.extend(unknown_devices(inv, cfg));
    let mut plan_devices = Vec::new();
    let mut gpus = Vec::new();
    for d in inv.gpus().filter(|d| wanted(d)) {
        let room = headroom
            .unwrap_or(Headroom::Bytes(GIB))
            .bytes(d.memory_total);
        let budget = d.memory_free.saturating_sub(room);
        gpus.push((d.name.clone(), budget));
        plan_devices.push(PlanDevice {
            name: d.name.clone(),
            kind: d.kind,
            description: d.description.clone(),
            budget,
            free: d.memory_free,
        });
    }
    // Most free first: the planner tries GPUs in this order.
    gpus.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let no_gpu = gpus.is_empty();
    let cpu_dev = inv.cpu();
    let cpu_wanted = cpu_dev.is_some_and(wanted);
    let cpu = match cpu_dev {
        Some(d) => {
            let room = headroom
                .unwrap_or(Headroom::Fraction(0.1))
                .bytes(d.memory_total);
            let budget = d.memory_free.saturating_sub(room);
            plan_devices.push(PlanDevice {
                name: "CPU".into(),
                kind: DeviceKind::Cpu,
                description: d.description.clone(),
                budget,
                free: d.memory_free,
            });
            budget
        }
        None => 0,
    };
    if !inv.gpu_support {
        notes.push("no GPU support in this build: every configuration runs on the CPU".into());
    }
    Ok((
        Budgets {
            gpus,
            // Host memory is needed even when `use` leaves the CPU out
            // (input layer, staging buffers); whole models go there only
            // when it is used, or when no GPU is.
            cpu,
            cpu_models: cpu_wanted || no_gpu,
            cpu_threads: cpu_dev.and_then(|d| d.cores).unwrap_or(1).max(1),
            cpu_cores: cpu_dev.map(|d| d.core_cpus.clone()).unwrap_or_default(),
            max_per_gpu: cfg.max_per_gpu.unwrap_or(u32::MAX).max(1),
            cpu_parallel: cfg.cpu_parallel.unwrap_or(1).max(1),
        },
        plan_devices,
        notes,
    ))
}

/// What a wave has used so far.
#[derive(Clone, Debug, Default)]
struct Wave {
    bytes: BTreeMap<String, u64>,
    count: BTreeMap<String, u32>,
    /// Configurations computing on the CPU (CPU and partial placements).
    cpu_jobs: u32,
}

/// One way to place a configuration, before choosing a wave.
#[derive(Clone, Debug)]
struct Candidate {
    placement: Placement,
    bytes: BTreeMap<String, u64>,
    uses_cpu_compute: bool,
}

fn candidate(memory: &ModelMemory, placement: Placement) -> Candidate {
    let split = placement.layer_split(memory).unwrap_or_default();
    let bytes: BTreeMap<String, u64> = memory.on_devices(&split).into_iter().collect();
    let uses_cpu_compute = matches!(&placement, Placement::Cpu | Placement::Partial { .. });
    Candidate {
        placement,
        bytes,
        uses_cpu_compute,
    }
}

fn fits_empty(c: &Candidate, b: &Budgets, cpu_allowed: bool) -> bool {
    c.bytes.iter().all(|(dev, &need)| {
        if dev == "CPU" {
            (cpu_allowed || c.placement != Placement::Cpu) && need <= b.cpu
        } else {
            b.gpus
                .iter()
                .find(|(n, _)| n == dev)
                .is_some_and(|(_, budget)| need <= *budget)
        }
    })
}

/// Placements for one configuration, best first: the whole model on one GPU
/// (the one with the most room first), split over the fewest GPUs that
/// hold it (most free memory first, shares in proportion to free memory),
/// partly offloaded (as many layers as fit) with the rest on the CPU, then
/// the CPU alone. Pins narrow the list. Only placements that fit an empty
/// machine are returned; `exclude` drops placements already tried.
fn candidates(
    memory: &ModelMemory,
    pins: &Pins,
    b: &Budgets,
    cpu_allowed: bool,
    exclude: &[Placement],
    max_partial: u32,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let all_layers = memory.n_layers() + 1;
    let gpu_name = |i: u32| format!("CUDA{i}");
    let push = |out: &mut Vec<Candidate>, c: Candidate| {
        if !exclude.contains(&c.placement)
            && fits_empty(&c, b, cpu_allowed)
            && !out.iter().any(|o| o.placement == c.placement)
        {
            out.push(c);
        }
    };
    if pins.gpu_layers == Some(0) || b.gpus.is_empty() {
        push(&mut out, candidate(memory, Placement::Cpu));
        return out;
    }
    // The GPUs this configuration may use, most room first.
    let gpus: Vec<(String, u64)> = match pins.device {
        Some(i) => b
            .gpus
            .iter()
            .filter(|(n, _)| *n == gpu_name(i))
            .cloned()
            .collect(),
        None => b.gpus.clone(),
    };
    if gpus.is_empty() {
        // A pinned device that is not here: the CPU (with a note).
        push(&mut out, candidate(memory, Placement::Cpu));
        return out;
    }
    let shares = |set: &[(String, u64)]| -> Vec<(String, f64)> {
        if !pins.split.is_empty() {
            // Proportions by GPU index (CUDA0, CUDA1, ...), zeros dropped.
            let mut v: Vec<(String, f64)> = pins
                .split
                .iter()
                .enumerate()
                .filter(|(_, s)| **s > 0.0)
                .map(|(i, s)| (gpu_name(i as u32), *s))
                .filter(|(n, _)| set.iter().any(|(m, _)| m == n))
                .collect();
            if v.is_empty() {
                v = set.iter().map(|(n, f)| (n.clone(), *f as f64)).collect();
            }
            v
        } else {
            let mut v: Vec<(String, f64)> = set
                .iter()
                .map(|(n, f)| (n.clone(), (*f).max(1) as f64))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
    };
    let offload = pins.gpu_layers.map(|n| n.min(all_layers));
    match offload {
        Some(n) if n < all_layers => {
            // An explicit partial offload: over the pinned GPUs (or all).
            let set = if pins.split.is_empty() && pins.device.is_none() {
                vec![gpus[0].clone()]
            } else {
                gpus.clone()
            };
            push(
                &mut out,
                candidate(
                    memory,
                    Placement::Partial {
                        gpu_layers: n,
                        of: all_layers,
                        gpus: shares(&set),
                    },
                ),
            );
        }
        _ => {
            if pins.split.is_empty() {
                for g in &gpus {
                    push(
                        &mut out,
                        candidate(
                            memory,
                            Placement::Gpu {
                                device: g.0.clone(),
                            },
                        ),
                    );
                }
            }
            if pins.device.is_none() {
                // Split over the k GPUs with the most room, k = 2, 3, ...
                for k in 2..=gpus.len() {
                    let set = &gpus[..k];
                    push(
                        &mut out,
                        candidate(memory, Placement::Split { gpus: shares(set) }),
                    );
                }
                if !pins.split.is_empty() {
                    push(
                        &mut out,
                        candidate(
                            memory,
                            Placement::Split {
                                gpus: shares(&gpus),
                            },
                        ),
                    );
                }
            }
            // Partial offload: as many layers as fit, over the k GPUs with
            // the most room (k = 1, 2, ...; the one with the most room
            // last, as it takes the output layer and the logits), whichever
            // k offloads the most.
            let mut best: Option<(u32, Vec<(String, f64)>)> = None;
            for k in 1..=gpus.len() {
                if !pins.split.is_empty() && k < gpus.len() {
                    continue;
                }
                let mut set: Vec<(String, u64)> = gpus[..k].to_vec();
                set.reverse();
                let mut sh = shares(&set);
                if pins.split.is_empty() {
                    sh.sort_by_key(|(n, _)| set.iter().position(|(m, _)| m == n));
                }
                let floor = best.as_ref().map_or(0, |(n, _)| *n);
                let top = all_layers.min(max_partial.saturating_add(1));
                let found = (floor + 1..top).rev().find(|&n| {
                    let c = candidate(
                        memory,
                        Placement::Partial {
                            gpu_layers: n,
                            of: all_layers,
                            gpus: sh.clone(),
                        },
                    );
                    !exclude.contains(&c.placement) && fits_empty(&c, b, cpu_allowed)
                });
                if let Some(n) = found {
                    best = Some((n, sh));
                }
            }
            if let Some((n, sh)) = best {
                push(
                    &mut out,
                    candidate(
                        memory,
                        Placement::Partial {
                            gpu_layers: n,
                            of: all_layers,
                            gpus: sh,
                        },
                    ),
                );
            }
        }
    }
    push(&mut out, candidate(memory, Placement::Cpu));
    out
}

/// The first wave where `c` fits beside what is already there.
fn fits_in(c: &Candidate, w: &Wave, b: &Budgets) -> bool {
    if c.uses_cpu_compute && w.cpu_jobs >= b.cpu_parallel {
        return false;
    }
    c.bytes.iter().all(|(dev, &need)| {
        let used = w.bytes.get(dev).copied().unwrap_or(0);
        if dev == "CPU" {
            used + need <= b.cpu
        } else {
            let count = w.count.get(dev).copied().unwrap_or(0);
            count < b.max_per_gpu
                && b.gpus
                    .iter()
                    .find(|(n, _)| n == dev)
                    .is_some_and(|(_, budget)| used + need <= *budget)
        }
    })
}

fn room_left(c: &Candidate, w: &Wave, b: &Budgets) -> u64 {
    c.bytes
        .keys()
        .filter(|d| *d != "CPU")
        .map(|d| {
            let budget = b.gpus.iter().find(|(n, _)| n == d).map_or(0, |x| x.1);
            budget.saturating_sub(w.bytes.get(d).copied().unwrap_or(0))
        })
        .min()
        .unwrap_or(0)
}

fn add(w: &mut Wave, c: &Candidate) {
    for (dev, bytes) in &c.bytes {
        *w.bytes.entry(dev.clone()).or_default() += bytes;
        if dev != "CPU" {
            *w.count.entry(dev.clone()).or_default() += 1;
        }
    }
    if c.uses_cpu_compute {
        w.cpu_jobs += 1;
    }
}

fn rank(p: &Placement) -> u8 {
    match p {
        Placement::Gpu { .. } => 0,
        Placement::Split { .. } => 1,
        Placement::Partial { .. } => 2,
        Placement::Cpu => 3,
        Placement::Remote { .. } => 4,
    }
}

/// Places every configuration.
///
/// Largest first, each configuration takes the best kind of placement that
/// fits the machine at all (one GPU, a split over the fewest GPUs, a
/// partial offload, the CPU), and among placements of that kind the one
/// that can start earliest (with the most room left, which spreads small
/// configurations over the GPUs). Configurations whose placements fit
/// together share a wave. Configurations too large for the machine are
/// planned on the CPU with a note (their load will tell).
pub fn plan(inv: &Inventory, cfg: &DevicesConfig, requests: &[Request]) -> Result<Plan, String> {
    let (b, devices, mut notes) = budgets(inv, cfg)?;
    let cpu_allowed = b.cpu_models;
    let mut order: Vec<usize> = (0..requests.len()).collect();
    let need = |r: &Request| r.memory.as_ref().map_or(0, ModelMemory::total);
    if !b.gpus.is_empty() {
        // Largest first packs the GPUs; on the CPU alone the run's own
        // order is kept.
        order.sort_by(|&x, &y| need(&requests[y]).cmp(&need(&requests[x])).then(x.cmp(&y)));
    }
    let mut waves: Vec<Wave> = Vec::new();
    let mut assignments = Vec::new();
    // Each endpoint's capacity in slots, and the slots used in each wave.
    let mut capacity: BTreeMap<&str, u32> = BTreeMap::new();
    for r in requests.iter().filter(|r| r.memory.is_none()) {
        let c = capacity
            .entry(r.endpoint.as_deref().unwrap_or(""))
            .or_default();
        *c = (*c).max(r.slots.unwrap_or(1).max(1));
    }
    let mut endpoint_waves: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for i in order {
        let r = &requests[i];
        let Some(memory) = &r.memory else {
            let endpoint = r.endpoint.as_deref().unwrap_or("");
            let cap = capacity.get(endpoint).copied().unwrap_or(1);
            let need = r.slots.unwrap_or(cap).clamp(1, cap);
            let used = endpoint_waves.entry(endpoint).or_default();
            let wave = used
                .iter()
                .position(|u| u + need <= cap)
                .unwrap_or(used.len());
            if wave == used.len() {
                used.push(0);
            }
            used[wave] += need;
            assignments.push(Assignment {
                label: r.label.clone(),
                request: i,
                placement: Placement::Remote {
                    endpoint: endpoint.to_string(),
                },
                bytes: BTreeMap::new(),
                threads: None,
                cpus: Vec::new(),
                wave: wave as u32,
                note: None,
            });
            continue;
        };
        let (c, wave, note) = choose(memory, &r.pins, &b, cpu_allowed, &[], &mut waves);
        if let Some(pin) = r.pins.device {
            if !b.gpus.iter().any(|(n, _)| *n == format!("CUDA{pin}")) {
                notes.push(format!(
                    "{}: device {pin} (CUDA{pin}) is not available; planned on the CPU",
                    r.label
                ));
            }
        }
        assignments.push(Assignment {
            label: r.label.clone(),
            request: i,
            threads: None,
            cpus: Vec::new(),
            bytes: c.bytes.clone(),
            placement: c.placement.clone(),
            wave,
            note,
        });
    }
    assign_threads(&mut assignments, &b);
    assignments.sort_by(|a, b| a.wave.cmp(&b.wave).then(a.request.cmp(&b.request)));
    Ok(Plan {
        devices,
        assignments,
        notes,
    })
}

fn choose(
    memory: &ModelMemory,
    pins: &Pins,
    b: &Budgets,
    cpu_allowed: bool,
    exclude: &[Placement],
    waves: &mut Vec<Wave>,
) -> (Candidate, u32, Option<String>) {
    let cands = candidates(memory, pins, b, cpu_allowed, exclude, u32::MAX);
    let Some(best_rank) = cands.iter().map(|c| rank(&c.placement)).min() else {
        // Nothing fits even an empty machine: the CPU, in a wave of its own.
        let c = candidate(memory, Placement::Cpu);
        let wave = waves.len() as u32;
        let mut w = Wave::default();
        add(&mut w, &c);
        waves.push(w);
        return (
            c,
            wave,
            Some(format!(
                "needs about {} and fits nowhere with the configured headroom; tried on the CPU",
                gib(memory.total())
            )),
        );
    };
    // The best kind; among its placements, the earliest wave, then the
    // fewest configurations already on its GPUs in that wave (each GPU
    // computes one at a time at full speed), then the most room left.
    type Key = (usize, u32, std::cmp::Reverse<u64>);
    let mut best: Option<(Key, usize)> = None;
    for (ci, c) in cands.iter().enumerate() {
        if rank(&c.placement) != best_rank {
            continue;
        }
        let wave = waves
            .iter()
            .position(|w| fits_in(c, w, b))
            .unwrap_or(waves.len());
        let (busy, room) = match waves.get(wave) {
            Some(w) => (
                c.bytes
                    .keys()
                    .filter(|d| *d != "CPU")
                    .map(|d| w.count.get(d).copied().unwrap_or(0))
                    .max()
                    .unwrap_or(0),
                room_left(c, w, b),
            ),
            None => (0, u64::MAX),
        };
        let key = (wave, busy, std::cmp::Reverse(room));
        if best.as_ref().is_none_or(|(k, _)| key < *k) {
            best = Some((key, ci));
        }
    }
    let ((wave, _, _), ci) = best.expect("a candidate of the best rank");
    let c = cands[ci].clone();
    if wave == waves.len() {
        waves.push(Wave::default());
    }
    add(&mut waves[wave], &c);
    let note = match &c.placement {
        Placement::Split { .. } => Some("too large for one GPU: split by layers".to_string()),
        Placement::Partial { .. } => Some("too large for the GPUs: partly offloaded".to_string()),
        Placement::Cpu if !b.gpus.is_empty() && pins.gpu_layers != Some(0) => {
            Some("does not fit any GPU".to_string())
        }
        _ => None,
    };
    (c, wave as u32, note)
}

/// CPU threads: the configurations computing on the CPU in one wave share
/// its physical cores equally. When several do and the CPU's cores are
/// known, each is pinned to whole cores of its own (a contiguous run, SMT
/// siblings together), so that one configuration's threads never wait for
/// a core the other's hold; the threads then follow the cores it got.
fn assign_threads(assignments: &mut [Assignment], b: &Budgets) {
    let mut per_wave: BTreeMap<u32, u32> = BTreeMap::new();
    for a in assignments.iter() {
        if matches!(a.placement, Placement::Cpu | Placement::Partial { .. }) {
            *per_wave.entry(a.wave).or_default() += 1;
        }
    }
    let mut nth: BTreeMap<u32, usize> = BTreeMap::new();
    for a in assignments.iter_mut() {
        if matches!(a.placement, Placement::Cpu | Placement::Partial { .. }) {
            let n = per_wave.get(&a.wave).copied().unwrap_or(1).max(1);
            a.threads = Some((b.cpu_threads / n).max(1));
            let k = nth.entry(a.wave).or_default();
            let cores = &b.cpu_cores;
            if n > 1 && cores.len() >= n as usize {
                let (n, len) = (n as usize, cores.len());
                let mine = &cores[*k * len / n..(*k + 1) * len / n];
                a.cpus = mine.iter().flatten().copied().collect();
                a.threads = Some(mine.len() as u32);
            }
            *k += 1;
        }
    }
}

/// CPU ids as Linux writes them (`0-3,8-11`).
pub fn cpu_list(cpus: &[u32]) -> String {
    let mut v = cpus.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// The next placement for a configuration whose load failed (out of memory)
/// at `failed`: the estimate was short, so the configuration is assumed to
/// need `1 + inflate` times as much as estimated, and `failed` and
/// `tried` are not offered again. Falls through other GPUs, splits and
/// fewer offloaded layers to the CPU; `None` when even the CPU has been
/// tried. `inv` is the inventory now (free memory may have changed).
pub fn replan(
    inv: &Inventory,
    cfg: &DevicesConfig,
    request: &Request,
    failed: &Placement,
    tried: &[Placement],
    inflate: f64,
) -> Result<Option<Assignment>, String> {
    let Some(memory) = &request.memory else {
        return Ok(None);
    };
    let (b, _, _) = budgets(inv, cfg)?;
    let scale = |v: u64| (v as f64 * (1.0 + inflate.max(0.0))) as u64;
    let inflated = ModelMemory {
        layers: memory
            .layers
            .iter()
            .map(|l| LayerMemory {
                weights: scale(l.weights),
                kv: scale(l.kv),
            })
            .collect(),
        input: scale(memory.input),
        output: scale(memory.output),
        tied_output: scale(memory.tied_output).min(scale(memory.output)),
        compute_main: scale(memory.compute_main),
        compute_other: scale(memory.compute_other),
        compute_host: scale(memory.compute_host),
        output_buffer: scale(memory.output_buffer),
    };
    let mut exclude: Vec<Placement> = tried.to_vec();
    exclude.push(failed.clone());
    // The CPU after a CPU failure is the end; after a partial offload
    // fails, at least an eighth fewer layers.
    let max_partial = match failed {
        Placement::Cpu => return Ok(None),
        Placement::Partial { gpu_layers, .. } => gpu_layers.saturating_sub((gpu_layers / 8).max(1)),
        _ => u32::MAX,
    };
    let cands = candidates(
        &inflated,
        &request.pins,
        &b,
        b.cpu_models,
        &exclude,
        max_partial,
    );
    let c = match cands.into_iter().next() {
        Some(c) => c,
        None if !exclude.contains(&Placement::Cpu) => candidate(&inflated, Placement::Cpu),
        None => return Ok(None),
    };
    let bytes = memory
        .on_devices(&c.placement.layer_split(memory).unwrap_or_default())
        .into_iter()
        .collect();
    Ok(Some(Assignment {
        label: request.label.clone(),
        request: 0,
        threads: matches!(c.placement, Placement::Cpu | Placement::Partial { .. })
            .then_some(b.cpu_threads),
        cpus: Vec::new(),
        bytes,
        placement: c.placement,
        wave: 0,
        note: Some(format!(
            "re-planned after failing to load on {}",
            failed.describe()
        )),
    }))
}

impl Assignment {
    /// What this configuration occupies while it runs, for the schedule:
    /// the GPUs it has layers on, `CPU` when it computes there (a CPU or
    /// partial placement), or its endpoint. A configuration starts once
    /// every configuration of an earlier wave that occupies one of these
    /// has finished (configurations of one wave fit together).
    pub fn occupies(&self) -> Vec<String> {
        let mut out: Vec<String> = self.bytes.keys().filter(|d| *d != "CPU").cloned().collect();
        match &self.placement {
            Placement::Cpu | Placement::Partial { .. } => out.push("CPU".into()),
            Placement::Remote { endpoint } => out.push(format!("remote {endpoint}")),
            Placement::Gpu { .. } | Placement::Split { .. } => {}
        }
        out
    }

    /// `spec` set up to load as this assignment places it: the GPU
    /// (`device`), the layers offloaded (`gpu_layers`), the split over GPUs
    /// (`split`, shares by GPU index) and the CPU threads (`threads`, unless
    /// the spec names its own). GPUs are numbered as in `inv` (`CUDA1` is
    /// the second GPU). A CPU placement sets `gpu_layers = 0` only where the
    /// build has GPU support, so that a CPU-only build opens the spec as
    /// it was.
    pub fn apply(&self, spec: &ModelSpec, inv: &Inventory) -> ModelSpec {
        let mut spec = spec.clone();
        let gpu_index = |name: &str| inv.gpus().position(|d| d.name == name).map(|i| i as u32);
        let split_of = |gpus: &[(String, f64)]| -> Vec<f64> {
            let mut v = vec![0.0; inv.gpus().count()];
            for (name, share) in gpus {
                if let Some(i) = gpu_index(name) {
                    v[i as usize] = *share;
                }
            }
            v
        };
        match &self.placement {
            Placement::Gpu { device } => {
                spec.device = gpu_index(device).or(spec.device);
                spec.gpu_layers = Some(u32::MAX);
                spec.split.clear();
            }
            Placement::Split { gpus } => {
                spec.device = None;
                spec.gpu_layers = Some(u32::MAX);
                spec.split = split_of(gpus);
            }
            Placement::Partial {
                gpu_layers, gpus, ..
            } => {
                spec.gpu_layers = Some(*gpu_layers);
                if let [(name, _)] = gpus.as_slice() {
                    spec.device = gpu_index(name).or(spec.device);
                    spec.split.clear();
                } else {
                    spec.device = None;
                    spec.split = split_of(gpus);
                }
            }
            Placement::Cpu => {
                if inv.gpu_support {
                    spec.gpu_layers = Some(0);
                }
            }
            Placement::Remote { .. } => {}
        }
        // The plan's threads and CPUs go together: a spec that names its own
        // thread count is not pinned to the plan's cores.
        if spec.threads.is_none() {
            spec.threads = self.threads;
            if spec.cpus.is_empty() {
                spec.cpus = self.cpus.clone();
            }
        }
        spec
    }
}

/// Where a run's devices and memory estimates come from: the eval target's
/// llama.cpp (`litmus_llama::devices::LlamaDevices`), or a simulated
/// machine in tests.
pub trait DeviceSource: Sync {
    /// The devices now.
    fn inventory(&self) -> Result<Inventory, String>;
    /// The memory of a local (llama) configuration, as it would be opened.
    fn memory(&self, spec: &ModelSpec) -> Result<ModelMemory, String>;
    /// The cache identity of a local configuration, as it would be opened,
    /// found without loading its model; `None` when unknown (the default).
    /// With it, a configuration whose every answer is cached is not loaded.
    fn identity(&self, spec: &ModelSpec) -> Option<ModelIdentity> {
        let _ = spec;
        None
    }
    /// Checks a local configuration before the run without loading or
    /// fetching its model (a file that exists, a known built-in name, engine
    /// options it can read): why it cannot be opened. `Ok` when the source
    /// cannot tell (the default).
    fn check(&self, spec: &ModelSpec) -> Result<(), CheckError> {
        let _ = spec;
        Ok(())
    }
}

/// Why a local configuration cannot be opened ([`DeviceSource::check`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    /// The `options` key whose value is at fault (`isolation` of `options =
    /// { isolation = 5 }`); `None`: the model's source.
    pub option: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl From<String> for CheckError {
    /// A problem of the model's source.
    fn from(message: String) -> Self {
        CheckError {
            option: None,
            message,
        }
    }
}

/// The label of a configuration in a plan: the spec's name, with its
/// quantization when the name does not say it.
pub fn label(spec: &ModelSpec) -> String {
    match &spec.quantization {
        Some(q) if !spec.name.contains(q.as_str()) => format!("{} {q}", spec.name),
        _ => spec.name.clone(),
    }
}

/// The placement of a run: the machine, the `[devices]` table, one request
/// per configuration (in the run's order) and the plan. What `cargo eval
/// --plan` and `cargo eval devices --plan` print, and what the runner
/// executes.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    /// The devices when planned.
    pub inventory: Inventory,
    /// The `[devices]` table in force.
    pub config: DevicesConfig,
    /// One per configuration, in the run's order (`Assignment::request`
    /// indexes it).
    pub requests: Vec<Request>,
    /// The plan.
    pub plan: Plan,
}

/// Plans `specs` (one per configuration) on the machine `source` reports.
/// A local configuration whose memory cannot be estimated (a missing file,
/// say) is planned on the CPU with a note: its load will report the error,
/// as a run without a plan would. Other backends are remote, each endpoint
/// a device with the configuration's `parallel` as its slots.
pub fn place(
    source: &dyn DeviceSource,
    cfg: &DevicesConfig,
    specs: &[ModelSpec],
) -> Result<Placed, String> {
    use crate::base::model::BackendKind;
    let any_local = specs.iter().any(|s| s.backend == BackendKind::Llama);
    let inventory = if any_local {
        source.inventory()?
    } else {
        Inventory::default()
    };
    let mut notes = Vec::new();
    let requests: Vec<Request> = specs
        .iter()
        .map(|spec| {
            let pins = Pins {
                device: spec.device,
                gpu_layers: spec.gpu_layers,
                split: spec.split.clone(),
            };
            let label = label(spec);
            match spec.backend {
                BackendKind::Llama => {
                    // Without an estimate (e.g. the file is missing) the
                    // model is planned on the CPU, where its load error
                    // shows, rather than tried on every GPU.
                    let (memory, pins) = match source.memory(spec) {
                        Ok(memory) => (memory, pins),
                        Err(e) => {
                            notes.push(format!("{label}: no memory estimate ({e}); on the CPU"));
                            let cpu = Pins {
                                gpu_layers: Some(0),
                                ..pins
                            };
                            (ModelMemory::default(), cpu)
                        }
                    };
                    Request {
                        label,
                        memory: Some(memory),
                        pins,
                        ..Request::default()
                    }
                }
                BackendKind::Replay => Request {
                    label,
                    endpoint: Some("replay".into()),
                    ..Request::default()
                },
                BackendKind::Openai | BackendKind::Ollama => Request {
                    label,
                    // As run.json and `--plan` show it: no credentials.
                    endpoint: Some(crate::base::util::without_credentials(&spec.source)),
                    slots: spec.parallel,
                    ..Request::default()
                },
            }
        })
        .collect();
    let mut plan = plan(&inventory, cfg, &requests)?;
    plan.notes.extend(notes);
    Ok(Placed {
        inventory,
        config: cfg.clone(),
        requests,
        plan,
    })
}

impl Placed {
    /// What `cargo eval devices --plan --format json` and `cargo eval
    /// --plan --format json` print.
    pub fn report(&self) -> DevicesReport {
        DevicesReport {
            inventory: self.inventory.clone(),
            plan: Some(self.plan.clone()),
            requests: self.requests.clone(),
        }
    }

    /// The placement as text: the devices (when any local configuration
    /// needs them), each local configuration's memory, and the plan.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if !self.inventory.devices.is_empty() || self.inventory.gpu_support {
            out.push_str(&self.inventory.text());
            out.push('\n');
        }
        for r in &self.requests {
            if let Some(m) = &r.memory {
                let _ = writeln!(
                    out,
                    "{}: weights {}, KV {}, compute {}, output {}; {} layers",
                    r.label,
                    gib(m.weights() - m.tied_output),
                    gib(m.kv()),
                    gib(m.compute_main),
                    gib(m.output_buffer),
                    m.n_layers()
                );
            }
        }
        out.push_str(&self.plan.text());
        out
    }

    /// The assignment of configuration `request` (an index into
    /// `requests`).
    pub fn assignment(&self, request: usize) -> Option<&Assignment> {
        self.plan.assignments.iter().find(|a| a.request == request)
    }
}

impl Plan {
    /// The plan as JSON (what `run.json` records under `plan`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a plan serializes")
    }

    /// The plan as `cargo eval --plan` prints it.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let waves = self
            .assignments
            .iter()
            .map(|a| a.wave + 1)
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "plan: {} configuration{} in {} wave{}",
            self.assignments.len(),
            if self.assignments.len() == 1 { "" } else { "s" },
            waves,
            if waves == 1 { "" } else { "s" }
        );
        for d in &self.devices {
            let _ = writeln!(
                out,
                "  {:<6} {:<5} {} free, {} usable{}",
                d.name,
                d.kind.as_str(),
                gib(d.free),
                gib(d.budget),
                if d.description.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", d.description)
                }
            );
        }
        let label_w = self
            .assignments
            .iter()
            .map(|a| a.label.chars().count())
            .max()
            .unwrap_or(0);
        let place_w = self
            .assignments
            .iter()
            .map(|a| a.placement.describe().len())
            .max()
            .unwrap_or(0);
        let mut current = None;
        for a in &self.assignments {
            if current != Some(a.wave) {
                current = Some(a.wave);
                let _ = writeln!(out, "wave {}", a.wave + 1);
            }
            let bytes: Vec<String> = a
                .bytes
                .iter()
                .filter(|(_, b)| **b > 0)
                .map(|(d, b)| format!("{d} {}", gib(*b)))
                .collect();
            let _ = write!(
                out,
                "  {:<label_w$}  {:<place_w$}  {}",
                a.label,
                a.placement.describe(),
                bytes.join(", ")
            );
            if let Some(t) = a.threads {
                let _ = write!(out, ", {t} thread{}", if t == 1 { "" } else { "s" });
            }
            if !a.cpus.is_empty() {
                let _ = write!(out, " on CPUs {}", cpu_list(&a.cpus));
            }
            if let Some(n) = &a.note {
                let _ = write!(out, "  ({n})");
            }
            out.push('\n');
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }
}

/// Bytes as GiB with two decimals (`1.25 GiB`), or MiB below 1 GiB.
pub fn gib(bytes: u64) -> String {
    if bytes >= GIB {
        format!("{:.2} GiB", bytes as f64 / GIB as f64)
    } else {
        format!("{:.0} MiB", bytes as f64 / MIB as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(i: usize, total_gib: u64, free_gib: u64) -> Device {
        Device {
            name: format!("CUDA{i}"),
            index: i,
            kind: DeviceKind::Gpu,
            backend: "CUDA".into(),
            description: format!("Simulated GPU {i}"),
            memory_total: total_gib * GIB,
            memory_free: free_gib * GIB,
            cores: None,
            threads: None,
            core_cpus: Vec::new(),
            pci_bus_id: None,
        }
    }

    fn cpu(ram_gib: u64, cores: u32) -> Device {
        Device {
            name: "CPU".into(),
            index: 99,
            kind: DeviceKind::Cpu,
            backend: "CPU".into(),
            description: "Simulated CPU".into(),
            memory_total: ram_gib * GIB,
            memory_free: ram_gib * GIB,
            cores: Some(cores),
            threads: Some(cores * 2),
            // Core c holds CPUs c and c + cores (SMT siblings).
            core_cpus: (0..cores).map(|c| vec![c, c + cores]).collect(),
            pci_bus_id: None,
        }
    }

    /// 2 × 24 GiB + 1 × 8 GiB, 128 GiB of RAM, 16 cores.
    fn workstation() -> Inventory {
        Inventory {
            devices: vec![gpu(0, 24, 24), gpu(1, 24, 24), gpu(2, 8, 8), cpu(128, 16)],
            gpu_support: true,
            gpu_backends: vec!["CUDA".into()],
            system_info: String::new(),
        }
    }

    /// A model of `layers` equal layers, `total_gib` in all (weights and KV
    /// in the layers; 2% input, 2% output, compute 3%).
    fn model(total_gib: f64, layers: usize) -> ModelMemory {
        let total = (total_gib * GIB as f64) as u64;
        let per_layer = total * 93 / 100 / layers as u64;
        ModelMemory {
            layers: vec![
                LayerMemory {
                    weights: per_layer * 3 / 4,
                    kv: per_layer / 4,
                };
                layers
            ],
            input: total * 2 / 100,
            output: total * 2 / 100,
            tied_output: 0,
            compute_main: total * 3 / 100,
            compute_other: total / 100,
            compute_host: 16 * MIB,
            output_buffer: 4 * MIB,
        }
    }

    fn req(label: &str, memory: ModelMemory) -> Request {
        Request {
            label: label.into(),
            memory: Some(memory),
            ..Request::default()
        }
    }

    #[test]
    fn llama_cpp_layer_assignment() {
        // 4 layers + output, 3 offloaded on one GPU: layers 2, 3 and output.
        let m = model(1.0, 4);
        let split = LayerSplit {
            gpu_layers: 3,
            gpus: vec![("CUDA0".into(), 1.0)],
        };
        assert_eq!(
            m.layer_devices(&split),
            vec![None, None, Some(0), Some(0), Some(0)]
        );
        // All 5 over two GPUs 3:2 -> cut at 0.6: layers 0-2 | 3, output.
        let split = LayerSplit {
            gpu_layers: 5,
            gpus: vec![("CUDA0".into(), 3.0), ("CUDA1".into(), 2.0)],
        };
        assert_eq!(
            m.layer_devices(&split),
            vec![Some(0), Some(0), Some(0), Some(1), Some(1)]
        );
        let bytes = m.on_devices(&split);
        assert_eq!(bytes.len(), 3);
        assert_eq!(bytes[2].0, "CPU");
        // The output device holds the main compute buffer.
        assert!(bytes[1].1 > m.layers[3].weights + m.layers[3].kv + m.output);
        // The total is preserved (but for per-device compute buffers).
        let sum: u64 = bytes.iter().map(|(_, b)| b).sum();
        assert_eq!(
            sum,
            m.weights()
                + m.kv()
                + m.compute_main
                + m.compute_other
                + m.compute_host
                + m.output_buffer
        );
    }

    #[test]
    fn three_small_quantizations_run_at_once_on_different_gpus() {
        let inv = workstation();
        let reqs = vec![
            req("m Q4_K_M", model(5.0, 32)),
            req("m Q5_K_M", model(5.8, 32)),
            req("m Q8_0", model(8.5, 32)),
        ];
        let p = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        assert!(p.assignments.iter().all(|a| a.wave == 0), "{}", p.text());
        let mut devices: Vec<String> = p
            .assignments
            .iter()
            .map(|a| match &a.placement {
                Placement::Gpu { device } => device.clone(),
                other => panic!("{other:?}\n{}", p.text()),
            })
            .collect();
        devices.sort();
        devices.dedup();
        assert_eq!(devices.len(), 3, "{}", p.text());
        // The 8.5 GiB one is not on the 8 GiB GPU.
        let q8 = p.assignments.iter().find(|a| a.label == "m Q8_0").unwrap();
        assert_ne!(
            q8.placement,
            Placement::Gpu {
                device: "CUDA2".into()
            }
        );
    }

    #[test]
    fn two_configurations_share_a_gpu_when_they_fit() {
        // One 24 GiB GPU, two 9 GiB configurations: both at once.
        let inv = Inventory {
            devices: vec![gpu(0, 24, 24), cpu(64, 8)],
            gpu_support: true,
            ..Default::default()
        };
        let reqs = vec![req("a", model(9.0, 32)), req("b", model(9.0, 32))];
        let p = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        assert!(p.assignments.iter().all(|a| a.wave == 0), "{}", p.text());
        // With max_per_gpu = 1 they take turns.
        let cfg = DevicesConfig {
            max_per_gpu: Some(1),
            ..Default::default()
        };
        let p = plan(&inv, &cfg, &reqs).unwrap();
        assert_eq!(
            p.assignments.iter().map(|a| a.wave).collect::<Vec<_>>(),
            vec![0, 1]
        );
        // Three do not fit at once: the third waits.
        let reqs = vec![
            req("a", model(9.0, 32)),
            req("b", model(9.0, 32)),
            req("c", model(9.0, 32)),
        ];
        let p = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        assert_eq!(
            p.assignments.iter().filter(|a| a.wave == 1).count(),
            1,
            "{}",
            p.text()
        );
    }

    #[test]
    fn a_40_gib_model_is_split_across_the_two_large_gpus() {
        let inv = workstation();
        let reqs = vec![req("big Q4_K_M", model(40.0, 80))];
        let p = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        let a = &p.assignments[0];
        match &a.placement {
            Placement::Split { gpus } => {
                let names: Vec<&str> = gpus.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(names, ["CUDA0", "CUDA1"], "{}", p.text());
                // In proportion to free memory (equal here).
                assert!((gpus[0].1 - gpus[1].1).abs() < 1.0);
            }
            other => panic!("{other:?}\n{}", p.text()),
        }
        for dev in ["CUDA0", "CUDA1"] {
            let b = a.bytes[dev];
            assert!(b > 17 * GIB && b < 23 * GIB, "{dev}: {}", gib(b));
        }
        // The small GPU stays free for something else: a small model runs
        // beside it.
        let reqs = vec![req("big", model(40.0, 80)), req("small", model(3.0, 24))];
        let p = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        assert!(p.assignments.iter().all(|a| a.wave == 0), "{}", p.text());
        let small = p.assignments.iter().find(|a| a.label == "small").unwrap();
        assert_eq!(
            small.placement,
            Placement::Gpu {
                device: "CUDA2".into()
            },
            "{}",
            p.text()
        );
    }

    #[test]
    fn a_model_larger_than_every_gpu_is_partly_offloaded() {
        let inv = workstation();
        let reqs = vec![req("huge F16", model(80.0, 80))];
        let p = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        let a = &p.assignments[0];
        match &a.placement {
            Placement::Partial {
                gpu_layers,
                of,
                gpus,
            } => {
                assert_eq!(*of, 81);
                assert!(*gpu_layers > 40 && *gpu_layers < 81, "{}", p.text());
                assert!(gpus.len() >= 2, "{}", p.text());
            }
            other => panic!("{other:?}\n{}", p.text()),
        }
        // Every device within its budget.
        for d in &p.devices {
            assert!(
                a.bytes.get(&d.name).copied().unwrap_or(0) <= d.budget,
                "{}",
                p.text()
            );
        }
        assert!(a.bytes["CPU"] > 10 * GIB);
        assert_eq!(a.threads, Some(16));
        // One 8 GiB GPU and a 13B Q4_K_M of ~9 GiB: the layers that fit.
        let inv = Inventory {
            devices: vec![gpu(0, 8, 8), cpu(32, 8)],
            gpu_support: true,
            ..Default::default()
        };
        let p = plan(
            &inv,
            &DevicesConfig::default(),
            &[req("13b", model(9.0, 40))],
        )
        .unwrap();
        assert!(
            matches!(p.assignments[0].placement, Placement::Partial { gpu_layers, .. } if gpu_layers >= 20),
            "{}",
            p.text()
        );
    }

    #[test]
    fn no_gpu_means_the_cpu() {
        let inv = Inventory {
            devices: vec![cpu(16, 2)],
            gpu_support: false,
            ..Default::default()
        };
        let reqs = vec![req("a", model(0.5, 18)), req("b", model(0.3, 18))];
        let p = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        assert!(p.assignments.iter().all(|a| a.placement == Placement::Cpu));
        // One at a time by default, with every core.
        assert_eq!(
            p.assignments.iter().map(|a| a.wave).collect::<Vec<_>>(),
            [0, 1]
        );
        assert!(p.assignments.iter().all(|a| a.threads == Some(2)));
        assert!(p.text().contains("no GPU support"), "{}", p.text());
        // cpu_parallel = 2: both at once, a core each.
        let cfg = DevicesConfig {
            cpu_parallel: Some(2),
            ..Default::default()
        };
        let p = plan(&inv, &cfg, &reqs).unwrap();
        assert!(p
            .assignments
            .iter()
            .all(|a| a.wave == 0 && a.threads == Some(1)));
        // Each pinned to a core of its own, SMT sibling included; alone, none is pinned.
        let cpus: Vec<_> = p.assignments.iter().map(|a| a.cpus.clone()).collect();
        assert_eq!(cpus, [vec![0, 2], vec![1, 3]]);
        assert!(p.text().contains("1 thread on CPUs 0,2"), "{}", p.text());
        let spec = p.assignments[1].apply(&ModelSpec::default(), &inv);
        assert_eq!((spec.cpus, spec.threads), (vec![1, 3], Some(1)));
        // A spec with a thread count of its own keeps it, unpinned.
        let own = ModelSpec {
            threads: Some(2),
            ..ModelSpec::default()
        };
        let spec = p.assignments[1].apply(&own, &inv);
        assert_eq!((spec.cpus, spec.threads), (vec![], Some(2)));
        let alone = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        assert!(alone.assignments.iter().all(|a| a.cpus.is_empty()));
        // Three at once on 8 cores: 2, 3 and 3 cores, contiguous, none shared.
        let inv8 = Inventory {
            devices: vec![cpu(64, 8)],
            ..Default::default()
        };
        let cfg3 = DevicesConfig {
            cpu_parallel: Some(3),
            ..Default::default()
        };
        let three = vec![
            req("a", model(0.5, 18)),
            req("b", model(0.3, 18)),
            req("c", model(0.3, 18)),
        ];
        let p = plan(&inv8, &cfg3, &three).unwrap();
        let got: Vec<_> = p
            .assignments
            .iter()
            .map(|a| (a.threads, a.cpus.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (Some(2), vec![0, 8, 1, 9]),
                (Some(3), vec![2, 10, 3, 11, 4, 12]),
                (Some(3), vec![5, 13, 6, 14, 7, 15])
            ]
        );
    }

    #[test]
    fn cpu_lists_read_like_linux() {
        assert_eq!(cpu_list(&[3, 0, 1, 2, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(cpu_list(&[]), "");
    }

    #[test]
    fn a_failed_load_is_replanned_onto_the_next_option() {
        let inv = workstation();
        let cfg = DevicesConfig::default();
        let r = req("m Q8_0", model(20.0, 40));
        let p = plan(&inv, &cfg, std::slice::from_ref(&r)).unwrap();
        let first = p.assignments[0].placement.clone();
        assert!(matches!(first, Placement::Gpu { .. }), "{}", p.text());
        // Out of memory there: the other large GPU.
        let mut tried = vec![];
        let next = replan(&inv, &cfg, &r, &first, &tried, 0.1)
            .unwrap()
            .unwrap();
        let other = if first
            == (Placement::Gpu {
                device: "CUDA0".into(),
            }) {
            "CUDA1"
        } else {
            "CUDA0"
        };
        assert_eq!(
            next.placement,
            Placement::Gpu {
                device: other.into()
            }
        );
        assert!(next.note.as_deref().unwrap().contains("re-planned"));
        // And there: split over both.
        tried.push(first);
        let next2 = replan(&inv, &cfg, &r, &next.placement, &tried, 0.1)
            .unwrap()
            .unwrap();
        assert!(
            matches!(next2.placement, Placement::Split { .. }),
            "{next2:?}"
        );
        // Free memory shrank meanwhile (someone else's job): the next
        // option is a partial offload, then the CPU, then nothing.
        tried.push(next.placement.clone());
        let busy = Inventory {
            devices: vec![gpu(0, 24, 6), gpu(1, 24, 6), gpu(2, 8, 2), cpu(128, 16)],
            ..inv.clone()
        };
        let next3 = replan(&busy, &cfg, &r, &next2.placement, &tried, 0.1)
            .unwrap()
            .unwrap();
        assert!(
            matches!(next3.placement, Placement::Partial { .. }),
            "{next3:?}"
        );
        tried.push(next2.placement.clone());
        // Each failed partial offload: fewer layers, until the CPU.
        let mut failed = next3.placement.clone();
        let mut layers = vec![];
        for _ in 0..30 {
            let Placement::Partial { gpu_layers, .. } = failed else {
                break;
            };
            layers.push(gpu_layers);
            tried.push(failed.clone());
            failed = replan(&busy, &cfg, &r, &failed, &tried, 0.1)
                .unwrap()
                .unwrap()
                .placement;
        }
        assert_eq!(failed, Placement::Cpu, "{layers:?}");
        assert!(layers.windows(2).all(|w| w[1] < w[0]), "{layers:?}");
        assert!(layers.len() < 20, "{layers:?}");
        tried.push(Placement::Cpu);
        assert_eq!(
            replan(&busy, &cfg, &r, &Placement::Cpu, &tried, 0.1).unwrap(),
            None
        );
    }

    #[test]
    fn pins_and_config_are_honoured() {
        let inv = workstation();
        // device = 2: the small GPU, even if a larger one is free.
        let mut r = req("pinned", model(3.0, 24));
        r.pins.device = Some(2);
        let p = plan(&inv, &DevicesConfig::default(), &[r.clone()]).unwrap();
        assert_eq!(
            p.assignments[0].placement,
            Placement::Gpu {
                device: "CUDA2".into()
            }
        );
        // gpu_layers = 0: the CPU.
        r.pins = Pins {
            gpu_layers: Some(0),
            ..Default::default()
        };
        let p = plan(&inv, &DevicesConfig::default(), &[r.clone()]).unwrap();
        assert_eq!(p.assignments[0].placement, Placement::Cpu);
        // gpu_layers = 10: partial on the GPU with the most room.
        r.pins = Pins {
            gpu_layers: Some(10),
            ..Default::default()
        };
        let p = plan(&inv, &DevicesConfig::default(), &[r.clone()]).unwrap();
        assert!(
            matches!(&p.assignments[0].placement, Placement::Partial { gpu_layers: 10, of: 25, gpus } if gpus.len() == 1)
        );
        // split = [1, 3]: over CUDA0 and CUDA1 in those proportions.
        r.pins = Pins {
            split: vec![1.0, 3.0],
            ..Default::default()
        };
        let p = plan(&inv, &DevicesConfig::default(), &[r.clone()]).unwrap();
        assert_eq!(
            p.assignments[0].placement,
            Placement::Split {
                gpus: vec![("CUDA0".into(), 1.0), ("CUDA1".into(), 3.0)]
            }
        );
        // [devices] use = ["CUDA2"]: only the small GPU, so a 20 GiB model
        // is partly offloaded there.
        let cfg = DevicesConfig {
            use_devices: vec!["CUDA2".into(), "cpu".into(), "CUDA9".into()],
            headroom: Some("512 MiB".into()),
            ..Default::default()
        };
        let p = plan(&inv, &cfg, &[req("m", model(20.0, 40))]).unwrap();
        assert!(
            matches!(&p.assignments[0].placement, Placement::Partial { gpus, .. } if gpus[0].0 == "CUDA2")
        );
        assert!(p.notes.iter().any(|n| n.contains("CUDA9")));
        // use = ["gpu"]: a model that fits no GPU whole is offloaded as far
        // as it goes, not put on the CPU.
        let cfg = DevicesConfig {
            use_devices: vec!["gpu".into()],
            ..Default::default()
        };
        let p = plan(&inv, &cfg, &[req("m", model(60.0, 40))]).unwrap();
        assert!(
            matches!(&p.assignments[0].placement, Placement::Partial { .. }),
            "{}",
            p.text()
        );
        // A remote model takes no device.
        let remote = |label: &str, endpoint: &str, slots: Option<u32>| Request {
            label: label.into(),
            endpoint: Some(endpoint.into()),
            slots,
            ..Request::default()
        };
        let p = plan(
            &inv,
            &DevicesConfig::default(),
            &[remote("s", "http://a", None)],
        )
        .unwrap();
        assert_eq!(
            p.assignments[0].placement,
            Placement::Remote {
                endpoint: "http://a".into()
            }
        );
        // Endpoints are devices with a capacity of their slots (the most
        // any of their configurations fills): two configurations filling
        // an endpoint's 4 slots run one after the other; on an endpoint of
        // 2 slots, two configurations of 1 slot run together, before one of
        // 2; other endpoints and local configurations run beside them.
        let reqs = [
            remote("a1", "http://a", Some(4)),
            remote("a2", "http://a", Some(4)),
            remote("c1", "http://c", Some(1)),
            remote("c2", "http://c", Some(1)),
            remote("c3", "http://c", Some(2)),
            req("local", model(3.0, 24)),
        ];
        let p = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        let wave = |l: &str| p.assignments.iter().find(|a| a.label == l).unwrap().wave;
        assert_eq!(
            ["a1", "a2", "c1", "c2", "c3", "local"].map(wave),
            [0, 1, 0, 0, 1, 0],
            "{}",
            p.text()
        );
        assert!(p.text().contains("remote http://a"), "{}", p.text());
    }

    /// A server URL's user and password stay out of the plan, which
    /// `run.json` keeps and `--plan` prints (found by review).
    #[test]
    fn a_remote_endpoint_is_planned_without_its_credentials() {
        struct Nothing;
        impl DeviceSource for Nothing {
            fn inventory(&self) -> Result<Inventory, String> {
                Err("no local configuration asks".into())
            }
            fn memory(&self, _: &ModelSpec) -> Result<ModelMemory, String> {
                Err("none".into())
            }
        }
        let spec = ModelSpec {
            name: "s".into(),
            backend: crate::base::model::BackendKind::Openai,
            source: "https://me:s3cret@api.example:8443/v1".into(),
            ..ModelSpec::default()
        };
        let placed = place(&Nothing, &DevicesConfig::default(), &[spec]).unwrap();
        let text = format!("{}\n{}", placed.plan.text(), placed.plan.json());
        assert!(!text.contains("s3cret") && !text.contains("me:"), "{text}");
        assert!(text.contains("https://api.example:8443/v1"), "{text}");
    }

    #[test]
    fn headroom_parses() {
        assert_eq!(Headroom::parse("1 GiB"), Ok(Headroom::Bytes(GIB)));
        assert_eq!(Headroom::parse("512MiB"), Ok(Headroom::Bytes(512 * MIB)));
        assert_eq!(Headroom::parse("1.5G"), Ok(Headroom::Bytes(GIB * 3 / 2)));
        assert_eq!(Headroom::parse("10%"), Ok(Headroom::Fraction(0.1)));
        assert!(Headroom::parse("lots").is_err());
        assert!(Headroom::parse("3 parsecs").is_err());
        let cfg: DevicesConfig =
            toml::from_str("use = [\"CUDA0\"]\nheadroom = \"2 GiB\"\nmax_per_gpu = 2").unwrap();
        assert_eq!(cfg.use_devices, ["CUDA0"]);
        assert!(toml::from_str::<DevicesConfig>("colour = 1").is_err());
    }

    #[test]
    fn plan_text_and_json() {
        let inv = workstation();
        let reqs = vec![req("big", model(40.0, 80)), req("small", model(3.0, 24))];
        let p = plan(&inv, &DevicesConfig::default(), &reqs).unwrap();
        let text = p.text();
        assert!(
            text.starts_with("plan: 2 configurations in 1 wave\n"),
            "{text}"
        );
        assert!(text.contains("CUDA0+CUDA1 (50%/50%)"), "{text}");
        let json = p.json();
        assert_eq!(json["assignments"][0]["placement"]["kind"], "split");
        let back: Plan = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
        // The inventory prints each device, and says when there is no GPU.
        let t = inv.text();
        assert!(
            t.contains("CUDA1  gpu   Simulated GPU 1  24.00 GiB total, 24.00 GiB free"),
            "{t}"
        );
        assert!(t.contains("16 cores (32 threads)"), "{t}");
        let job = DevicesJob {
            format: "text".into(),
            plan: vec![crate::base::model::ModelSpec::parse("m.gguf").unwrap()],
            devices: DevicesConfig::default(),
        };
        let args = job.to_args();
        assert_eq!(DevicesJob::from_args(&args), Some(Ok(job)));
        assert_eq!(DevicesJob::from_args(&["x".into()]), None);
    }
}
