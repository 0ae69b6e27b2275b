//! The machine as llama.cpp sees it: its backend device registry (GPUs with
//! their total and free memory, the CPU), for `cargo eval devices` and the
//! placement planner; and a model's memory estimate as litmus-llama would
//! open it.

use litmus_core::base::backend::{BackendError, ModelIdentity};
use litmus_core::base::model::ModelSpec;
use litmus_core::plan::placement::{
    place, CheckError, Device, DeviceKind, DeviceSource, DevicesJob, DevicesReport, Inventory,
    ModelMemory,
};
use litmus_gguf::memory::{estimate, MemoryParams};
use llama_cpp_2::LlamaBackendDeviceType;

use crate::gguf::GgufFile;
use crate::models::resolve_model_path;
use crate::settings::LlamaSettings;

/// The GPU backends this build of llama.cpp has (from litmus-llama's
/// features; a registry lists devices, not the backends that found none).
fn gpu_backends() -> Vec<String> {
    let mut v = Vec::new();
    if cfg!(feature = "cuda") {
        v.push("CUDA".to_string());
    }
    v
}

/// The registry indices of the GPUs, in the order of
/// [`Inventory::gpus`] (`CUDA1` is the second).
pub(crate) fn gpu_registry_indices() -> Vec<usize> {
    llama_cpp_2::list_llama_ggml_backend_devices()
        .into_iter()
        .filter(|d| {
            matches!(
                d.device_type,
                LlamaBackendDeviceType::Gpu | LlamaBackendDeviceType::IntegratedGpu
            )
        })
        .map(|d| d.index)
        .collect()
}

/// Available host memory (`MemAvailable`), in bytes.
fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Every device of llama.cpp's backend registry. The CPU's memory is the
/// host's RAM (llama.cpp reports it too, but from a different source on
/// each OS), with its physical cores and hardware threads.
pub fn inventory() -> Result<Inventory, BackendError> {
    crate::runtime::llama()?;
    let mut devices = Vec::new();
    for d in llama_cpp_2::list_llama_ggml_backend_devices() {
        let kind = match d.device_type {
            LlamaBackendDeviceType::Cpu => DeviceKind::Cpu,
            LlamaBackendDeviceType::Gpu => DeviceKind::Gpu,
            LlamaBackendDeviceType::IntegratedGpu => DeviceKind::Igpu,
            LlamaBackendDeviceType::Accelerator | LlamaBackendDeviceType::Unknown => {
                DeviceKind::Accel
            }
        };
        let mut device = Device {
            name: d.name.clone(),
            index: d.index,
            kind,
            backend: d.backend.clone(),
            description: d.description.trim().to_string(),
            memory_total: d.memory_total as u64,
            memory_free: d.memory_free as u64,
            cores: None,
            threads: None,
            core_cpus: Vec::new(),
            pci_bus_id: pci_bus_id(d.index),
        };
        if kind == DeviceKind::Cpu {
            device.cores = Some(crate::sys::physical_cores() as u32);
            device.core_cpus = crate::sys::core_cpus();
            device.threads = std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u32);
            if let Some(total) = crate::sys::total_memory_bytes() {
                device.memory_total = total;
            }
            if let Some(free) = available_memory_bytes() {
                device.memory_free = free;
            }
        }
        devices.push(device);
    }
    Ok(Inventory {
        devices,
        gpu_support: cfg!(feature = "cuda"),
        gpu_backends: gpu_backends(),
        system_info: crate::runtime::system_info(),
    })
}

/// The PCI bus id llama.cpp reports for a device, if any.
fn pci_bus_id(index: usize) -> Option<String> {
    // SAFETY: `index` comes from the registry listing; the props struct is
    // plain data filled by ggml, its strings owned by the device.
    unsafe {
        if index >= llama_cpp_sys_2::ggml_backend_dev_count() {
            return None;
        }
        let dev = llama_cpp_sys_2::ggml_backend_dev_get(index);
        let mut props: llama_cpp_sys_2::ggml_backend_dev_props = std::mem::zeroed();
        llama_cpp_sys_2::ggml_backend_dev_get_props(dev, &raw mut props);
        if props.device_id.is_null() {
            return None;
        }
        let s = std::ffi::CStr::from_ptr(props.device_id)
            .to_string_lossy()
            .into_owned();
        (!s.is_empty()).then_some(s)
    }
}

/// What decides a model's memory, from the settings litmus-llama resolves.
pub fn memory_params(s: &LlamaSettings) -> MemoryParams {
    MemoryParams {
        seq_context: s.stream_limit(),
        parallel: s.parallel,
        kv_unified: s.kv_unified,
        kv_size: s.kv_size,
        n_batch: s.n_batch,
        n_ubatch: s.n_ubatch,
        flash_attn: s.flash_attn,
        ..MemoryParams::default()
    }
}

/// The memory a llama model spec will take, as litmus-llama would open it
/// (its defaults for parallel sequences and context applied).
pub fn estimate_spec(spec: &ModelSpec) -> Result<ModelMemory, BackendError> {
    let path = resolve_model_path(crate::backend::model_source(spec))?;
    let gguf = GgufFile::open(&path).map_err(|e| BackendError::Load(e.to_string()))?;
    let mut settings = LlamaSettings::resolve(spec, path.clone(), &gguf.info())?;
    crate::local::fit_streams_before_load(&mut settings);
    estimate(&gguf, &memory_params(&settings)).ok_or_else(|| {
        BackendError::Load(format!(
            "{}: the GGUF lacks the hyperparameters a memory estimate needs",
            path.display()
        ))
    })
}

/// The eval target's llama.cpp as the placement planner's source of
/// devices and memory estimates.
pub struct LlamaDevices;

impl DeviceSource for LlamaDevices {
    fn inventory(&self) -> Result<Inventory, String> {
        inventory().map_err(|e| e.to_string())
    }

    fn memory(&self, spec: &ModelSpec) -> Result<ModelMemory, String> {
        estimate_spec(spec).map_err(|e| e.to_string())
    }

    fn identity(&self, spec: &ModelSpec) -> Option<ModelIdentity> {
        crate::backend::LlamaBackend::identity(spec).ok()
    }

    fn check(&self, spec: &ModelSpec) -> Result<(), CheckError> {
        crate::models::check_source(crate::backend::model_source(spec))
            .map_err(|e| CheckError::from(e.load_reason()))?;
        // The engine's options as it will read them (`isolation = 5`):
        // their errors do not depend on the file, so a model that says
        // nothing of itself stands in for it.
        let unknown = litmus_gguf::GgufInfo {
            version: 3,
            ..Default::default()
        };
        let settings = |spec: &ModelSpec| {
            LlamaSettings::resolve(spec, std::path::PathBuf::new(), &unknown)
                .map(|_| ())
                .map_err(|e| e.load_reason())
        };
        settings(spec).map_err(|message| {
            // The option at fault: the one that fails on its own (none when
            // the model fails without any).
            let fails_with = |only: Option<&String>| {
                let mut s = spec.clone();
                s.options.retain(|k, _| Some(k) == only);
                settings(&s).is_err()
            };
            let option = match fails_with(None) {
                true => None,
                false => spec.options.keys().find(|k| fails_with(Some(k))).cloned(),
            };
            CheckError { option, message }
        })
    }
}

/// Runs a [`DevicesJob`] (an eval target started by `cargo eval devices`):
/// prints the inventory, and with models to plan, each configuration's
/// memory estimate and the plan (the placement `cargo eval --plan` prints,
/// [`place`]), as text or JSON; returns the exit code.
pub fn run_job(job: &DevicesJob) -> i32 {
    if job.plan.is_empty() {
        let inventory = match inventory() {
            Ok(i) => i,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        if job.format == "json" {
            let report = DevicesReport {
                inventory,
                plan: None,
                requests: Vec::new(),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("a report serializes")
            );
        } else {
            print!("{}", inventory.text());
        }
        return 0;
    }
    let specs: Vec<ModelSpec> = job.plan.iter().flat_map(ModelSpec::expand).collect();
    let placed = match place(&LlamaDevices, &job.devices, &specs) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if job.format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&placed.report()).expect("a report serializes")
        );
    } else {
        print!("{}", placed.text());
    }
    0
}
