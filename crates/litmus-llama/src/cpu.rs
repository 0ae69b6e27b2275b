//! Which of llama.cpp's CPU weight layouts a model may use.
//!
//! Besides plain weights, llama.cpp's CPU backend offers *extra buffer types*:
//! weights rearranged for a faster matrix kernel when the model is loaded.
//! `AMX` (Intel AMX tiles; compiled in when llama.cpp is built for a CPU with
//! AMX) and `CPU_REPACK` (rows interleaved for the AVX2/AVX-512/NEON GEMM
//! kernels) are the ones a build here has. llama.cpp puts every weight an
//! extra buffer type accepts into it, in the order the CPU backend lists them.
//!
//! litmus keeps the AMX layout out unless a model asks for it (option
//! `amx = true`): llama.cpp's AMX matrix kernel crashes on K-quant models
//! (ggml-org/llama.cpp#20824: a segmentation fault in
//! `ggml_backend_amx_mul_mat` at the first decode, Q4_K_M on Sapphire Rapids).
//! Other layouts are kept or dropped with option `repack`.
//!
//! The selection edits the list the CPU backend hands to the model loader
//! (`ggml_backend_dev_get_extra_bufts`, a null-terminated array), so it holds
//! for models loaded afterwards; the selection is made under the load lock.

use std::ffi::CStr;
use std::sync::Mutex;

use llama_cpp_sys_2 as sys;

/// The name llama.cpp gives its AMX buffer type.
pub const AMX: &str = "AMX";

/// The extra CPU buffer types of this build as llama.cpp first listed them
/// (name, pointer as an integer), remembered so that a later selection can
/// put back what an earlier one took out.
static ORIGINAL: Mutex<Option<Vec<(String, usize)>>> = Mutex::new(None);

/// The extra CPU buffer types llama.cpp's loader will consider, in order.
fn extra_bufts_array() -> Option<*mut sys::ggml_backend_buffer_type_t> {
    // SAFETY: plain lookups in llama.cpp's backend registry; every pointer is
    // checked before use.
    unsafe {
        let dev = sys::ggml_backend_dev_by_type(sys::GGML_BACKEND_DEVICE_TYPE_CPU);
        if dev.is_null() {
            return None;
        }
        let reg = sys::ggml_backend_dev_backend_reg(dev);
        if reg.is_null() {
            return None;
        }
        let f = sys::ggml_backend_reg_get_proc_address(
            reg,
            c"ggml_backend_dev_get_extra_bufts".as_ptr(),
        );
        if f.is_null() {
            return None;
        }
        let f: sys::ggml_backend_dev_get_extra_bufts_t = std::mem::transmute(f);
        let arr = f?(dev);
        (!arr.is_null()).then_some(arr)
    }
}

fn buft_name(buft: sys::ggml_backend_buffer_type_t) -> String {
    // SAFETY: `buft` is a live buffer type from llama.cpp's registry; the name
    // is a static NUL-terminated string.
    unsafe {
        let p = sys::ggml_backend_buft_name(buft);
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Reads (once) the buffer types llama.cpp offers before any selection.
fn original(arr: *mut sys::ggml_backend_buffer_type_t) -> Vec<(String, usize)> {
    let mut guard = ORIGINAL.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .get_or_insert_with(|| {
            let mut out = Vec::new();
            // SAFETY: the array is null-terminated (llama.cpp's own loader
            // walks it the same way).
            unsafe {
                let mut p = arr;
                while !(*p).is_null() {
                    out.push((buft_name(*p), *p as usize));
                    p = p.add(1);
                }
            }
            out
        })
        .clone()
}

/// The extra CPU buffer types this build of llama.cpp has (`AMX`,
/// `CPU_REPACK`, ...), whether or not they are selected.
pub fn available() -> Vec<String> {
    if crate::runtime::llama().is_err() {
        return Vec::new();
    }
    extra_bufts_array()
        .map(|arr| original(arr).into_iter().map(|(n, _)| n).collect())
        .unwrap_or_default()
}

/// Which extra CPU buffer types models loaded from now on may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layouts {
    /// Intel AMX tiles (crash-prone on K-quants upstream; off by default).
    pub amx: bool,
    /// Every other repacked layout (`CPU_REPACK`, KleidiAI, ...).
    pub repack: bool,
}

/// Offers the model loader only the buffer types `layouts` allows; returns
/// the names now offered. Call with the load lock held.
pub(crate) fn select(layouts: Layouts) -> Vec<String> {
    let Some(arr) = extra_bufts_array() else {
        return Vec::new();
    };
    let all = original(arr);
    let keep: Vec<&(String, usize)> = all
        .iter()
        .filter(|(name, _)| {
            if name == AMX {
                layouts.amx
            } else {
                layouts.repack
            }
        })
        .collect();
    // SAFETY: the array holds `all.len()` entries and a terminating null; we
    // write at most that many entries and a null, all within it. Nothing
    // reads it concurrently: loads are serialised by the load lock.
    unsafe {
        for (i, (_, p)) in keep.iter().enumerate() {
            *arr.add(i) = *p as sys::ggml_backend_buffer_type_t;
        }
        for i in keep.len()..=all.len() {
            *arr.add(i) = std::ptr::null_mut();
        }
    }
    keep.into_iter().map(|(n, _)| n.clone()).collect()
}

/// Whether this CPU has Intel AMX (AMX-TILE and AMX-INT8), read from the
/// CPU itself (`cpuid`), so it works without `/proc/cpuinfo` (containers).
pub fn cpu_has_amx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: cpuid is available on every x86_64 CPU (the intrinsics are
        // safe functions in newer Rust, unsafe in older).
        #[allow(unused_unsafe)]
        unsafe {
            let max = std::arch::x86_64::__cpuid(0).eax;
            if max < 7 {
                return false;
            }
            let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
            // EDX bit 24: AMX-TILE, bit 25: AMX-INT8.
            leaf7.edx & (1 << 24) != 0 && leaf7.edx & (1 << 25) != 0
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amx_detection_agrees_with_cpuinfo() {
        let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
            return;
        };
        let flags = info
            .lines()
            .find(|l| l.starts_with("flags"))
            .unwrap_or_default();
        let listed = flags.split_whitespace().any(|f| f == "amx_int8")
            && flags.split_whitespace().any(|f| f == "amx_tile");
        // A kernel without AMX support hides the flags that cpuid reports.
        if listed {
            assert!(cpu_has_amx(), "/proc/cpuinfo lists AMX but cpuid does not");
        }
    }
}
