//! A small pure-Rust GGUF reader, validator and writer.
//!
//! llama.cpp answers some malformed files with `abort()`, which takes the whole
//! process down. Every model file is therefore read and checked here first
//! ([`GgufFile::open`]): magic, version, counts, string lengths, value types,
//! tensor infos, alignment and that every tensor's data lies inside the file.
//! A bad file gives a [`GgufError`] naming the file instead of a crash.
//!
//! The same reader gives the metadata for a model listing ([`describe_gguf`]).
//! [`GgufWriter`] writes small files (tests build tiny models with it).

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `GGUF` read as a little-endian `u32`.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of the tensor data when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Longest tensor name llama.cpp accepts (`GGML_MAX_NAME - 1`).
const MAX_TENSOR_NAME: usize = 63;
/// Most dimensions of a tensor (`GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;

/// A malformed, truncated or unreadable GGUF file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GGUF file {}: {message}", path.display())]
pub struct GgufError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, with the byte offset where known.
    pub message: String,
}

/// The type of a metadata value (GGUF `gguf_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u32)]
#[allow(missing_docs)]
pub enum GgufType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl GgufType {
    /// The type with this code, if valid.
    pub fn from_code(code: u32) -> Option<Self> {
        use GgufType::*;
        Some(match code {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// Size in bytes of a fixed-size value (`None` for strings and arrays).
    pub fn fixed_size(self) -> Option<u64> {
        use GgufType::*;
        match self {
            U8 | I8 | Bool => Some(1),
            U16 | I16 => Some(2),
            U32 | I32 | F32 => Some(4),
            U64 | I64 | F64 => Some(8),
            String | Array => None,
        }
    }
}

/// A metadata value. Arrays keep only their element type and length, except
/// short arrays of numbers or strings (up to 64 elements), which keep their values.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum GgufValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    U64(u64),
    I64(i64),
    F64(f64),
    /// An array: element type, length and (for short arrays) the values.
    Array {
        elem: GgufType,
        len: u64,
        values: Option<Vec<GgufValue>>,
    },
}

impl GgufValue {
    /// The value's type.
    pub fn ty(&self) -> GgufType {
        match self {
            GgufValue::U8(_) => GgufType::U8,
            GgufValue::I8(_) => GgufType::I8,
            GgufValue::U16(_) => GgufType::U16,
            GgufValue::I16(_) => GgufType::I16,
            GgufValue::U32(_) => GgufType::U32,
            GgufValue::I32(_) => GgufType::I32,
            GgufValue::F32(_) => GgufType::F32,
            GgufValue::Bool(_) => GgufType::Bool,
            GgufValue::String(_) => GgufType::String,
            GgufValue::U64(_) => GgufType::U64,
            GgufValue::I64(_) => GgufType::I64,
            GgufValue::F64(_) => GgufType::F64,
            GgufValue::Array { .. } => GgufType::Array,
        }
    }

    /// The value as an unsigned integer, when it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U8(v) => Some(u64::from(v)),
            GgufValue::U16(v) => Some(u64::from(v)),
            GgufValue::U32(v) => Some(u64::from(v)),
            GgufValue::U64(v) => Some(v),
            GgufValue::I8(v) => u64::try_from(v).ok(),
            GgufValue::I16(v) => u64::try_from(v).ok(),
            GgufValue::I32(v) => u64::try_from(v).ok(),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a string slice, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for GgufValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GgufValue::U8(v) => write!(f, "{v}"),
            GgufValue::I8(v) => write!(f, "{v}"),
            GgufValue::U16(v) => write!(f, "{v}"),
            GgufValue::I16(v) => write!(f, "{v}"),
            GgufValue::U32(v) => write!(f, "{v}"),
            GgufValue::I32(v) => write!(f, "{v}"),
            GgufValue::F32(v) => write!(f, "{v}"),
            GgufValue::Bool(v) => write!(f, "{v}"),
            GgufValue::String(v) => write!(f, "{v:?}"),
            GgufValue::U64(v) => write!(f, "{v}"),
            GgufValue::I64(v) => write!(f, "{v}"),
            GgufValue::F64(v) => write!(f, "{v}"),
            GgufValue::Array { elem, len, .. } => write!(f, "[{elem:?}; {len}]"),
        }
    }
}

/// One tensor's description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions, innermost first.
    pub dims: Vec<u64>,
    /// ggml type code.
    pub ggml_type: u32,
    /// Absolute offset of the data in the file.
    pub offset: u64,
    /// Size of the data in bytes.
    pub size: u64,
}

impl TensorInfo {
    /// Number of elements.
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// A parsed and validated GGUF header.
#[derive(Clone, Debug)]
pub struct GgufFile {
    /// The file.
    pub path: PathBuf,
    /// Format version (2 or 3).
    pub version: u32,
    /// File size in bytes.
    pub file_size: u64,
    /// Data alignment.
    pub alignment: u64,
    /// Offset of the tensor data section.
    pub data_offset: u64,
    /// Metadata key/value pairs in file order.
    pub metadata: Vec<(String, GgufValue)>,
    /// Tensor descriptions in file order.
    pub tensors: Vec<TensorInfo>,
}

/// Block size (elements) and block byte size of a ggml type, `None` if unknown
/// or removed.
pub fn ggml_type_layout(ty: u32) -> Option<(u64, u64)> {
    Some(match ty {
        0 => (1, 4),     // F32
        1 => (1, 2),     // F16
        2 => (32, 18),   // Q4_0
        3 => (32, 20),   // Q4_1
        6 => (32, 22),   // Q5_0
        7 => (32, 24),   // Q5_1
        8 => (32, 34),   // Q8_0
        9 => (32, 36),   // Q8_1
        10 => (256, 84), // Q2_K
        11 => (256, 110),
        12 => (256, 144),
        13 => (256, 176),
        14 => (256, 210),
        15 => (256, 292), // Q8_K
        16 => (256, 66),  // IQ2_XXS
        17 => (256, 74),  // IQ2_XS
        18 => (256, 98),  // IQ3_XXS
        19 => (256, 50),  // IQ1_S
        20 => (32, 18),   // IQ4_NL
        21 => (256, 110), // IQ3_S
        22 => (256, 82),  // IQ2_S
        23 => (256, 136), // IQ4_XS
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        29 => (256, 56),  // IQ1_M
        30 => (1, 2),     // BF16
        34 => (256, 54),  // TQ1_0
        35 => (256, 66),  // TQ2_0
        39 => (32, 17),   // MXFP4
        40 => (64, 36),   // NVFP4
        41 => (128, 18),  // Q1_0
        42 => (64, 18),   // Q2_0
        _ => return None,
    })
}

/// Name of a ggml tensor type.
pub fn ggml_type_name(ty: u32) -> Option<&'static str> {
    Some(match ty {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        6 => "Q5_0",
        7 => "Q5_1",
        8 => "Q8_0",
        9 => "Q8_1",
        10 => "Q2_K",
        11 => "Q3_K",
        12 => "Q4_K",
        13 => "Q5_K",
        14 => "Q6_K",
        15 => "Q8_K",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        30 => "BF16",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        40 => "NVFP4",
        41 => "Q1_0",
        42 => "Q2_0",
        _ => return None,
    })
}

/// Name of a llama.cpp file type (`general.file_type`, `llama_ftype`), e.g. `Q4_K_M`.
pub fn file_type_name(ftype: u64) -> Option<&'static str> {
    Some(match ftype {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        4 => "Q4_1_SOME_F16",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        39 => "NVFP4",
        40 => "Q1_0",
        41 => "Q2_0",
        _ => return None,
    })
}

/// Reader that tracks its position and the file size for bounds checks.
struct Cursor<R> {
    inner: R,
    pos: u64,
    size: u64,
    path: PathBuf,
}

impl<R: Read + Seek> Cursor<R> {
    fn err(&self, msg: impl fmt::Display) -> GgufError {
        GgufError {
            path: self.path.clone(),
            message: format!("{msg} (at byte {})", self.pos),
        }
    }

    fn remaining(&self) -> u64 {
        self.size.saturating_sub(self.pos)
    }

    fn need(&self, n: u64, what: &str) -> Result<(), GgufError> {
        if n > self.remaining() {
            return Err(self.err(format_args!(
                "truncated: {what} needs {n} bytes but only {} remain in the {}-byte file",
                self.remaining(),
                self.size
            )));
        }
        Ok(())
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        self.need(N as u64, what)?;
        let mut buf = [0u8; N];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| self.err(format_args!("reading {what}: {e}")))?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes::<4>(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes::<8>(what)?))
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), GgufError> {
        self.need(n, what)?;
        let delta = i64::try_from(n).map_err(|_| self.err("offset overflow"))?;
        // `seek_relative`, not `seek`: a seek empties the read buffer, and a
        // vocabulary of 262,144 skipped strings then reads 64 KiB per string
        // (16 GiB through the page cache: 0.8 s for Gemma 3's header).
        self.inner
            .seek_relative(delta)
            .map_err(|e| self.err(format_args!("seeking past {what}: {e}")))?;
        self.pos += n;
        Ok(())
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        self.need(len, what)?;
        let mut buf = vec![0u8; len as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| self.err(format_args!("reading {what}: {e}")))?;
        self.pos += len;
        String::from_utf8(buf).map_err(|_| self.err(format_args!("{what} is not valid UTF-8")))
    }

    fn skip_string(&mut self, what: &str) -> Result<(), GgufError> {
        let len = self.u64(what)?;
        self.skip(len, what)
    }

    fn scalar(&mut self, ty: GgufType, what: &str) -> Result<GgufValue, GgufError> {
        Ok(match ty {
            GgufType::U8 => GgufValue::U8(self.bytes::<1>(what)?[0]),
            GgufType::I8 => GgufValue::I8(self.bytes::<1>(what)?[0] as i8),
            GgufType::U16 => GgufValue::U16(u16::from_le_bytes(self.bytes::<2>(what)?)),
            GgufType::I16 => GgufValue::I16(i16::from_le_bytes(self.bytes::<2>(what)?)),
            GgufType::U32 => GgufValue::U32(self.u32(what)?),
            GgufType::I32 => GgufValue::I32(i32::from_le_bytes(self.bytes::<4>(what)?)),
            GgufType::F32 => GgufValue::F32(f32::from_le_bytes(self.bytes::<4>(what)?)),
            GgufType::Bool => {
                let b = self.bytes::<1>(what)?[0];
                if b > 1 {
                    return Err(self.err(format_args!("{what}: invalid bool byte {b}")));
                }
                GgufValue::Bool(b == 1)
            }
            GgufType::String => GgufValue::String(self.string(what)?),
            GgufType::U64 => GgufValue::U64(self.u64(what)?),
            GgufType::I64 => GgufValue::I64(i64::from_le_bytes(self.bytes::<8>(what)?)),
            GgufType::F64 => GgufValue::F64(f64::from_le_bytes(self.bytes::<8>(what)?)),
            GgufType::Array => unreachable!("arrays are read by value()"),
        })
    }

    fn value(&mut self, ty: GgufType, what: &str) -> Result<GgufValue, GgufError> {
        if ty != GgufType::Array {
            return self.scalar(ty, what);
        }
        let code = self.u32(what)?;
        let elem = GgufType::from_code(code)
            .ok_or_else(|| self.err(format_args!("{what}: invalid array element type {code}")))?;
        if elem == GgufType::Array {
            return Err(self.err(format_args!("{what}: nested arrays are not supported")));
        }
        let len = self.u64(what)?;
        const KEEP: u64 = 64;
        match elem.fixed_size() {
            Some(sz) => {
                let total = len.checked_mul(sz).ok_or_else(|| {
                    self.err(format_args!("{what}: array length {len} overflows"))
                })?;
                self.need(total, what)?;
                if len <= KEEP {
                    let values = (0..len)
                        .map(|_| self.scalar(elem, what))
                        .collect::<Result<_, _>>()?;
                    Ok(GgufValue::Array {
                        elem,
                        len,
                        values: Some(values),
                    })
                } else {
                    self.skip(total, what)?;
                    Ok(GgufValue::Array {
                        elem,
                        len,
                        values: None,
                    })
                }
            }
            None => {
                // Each string needs at least its 8-byte length.
                let min = len.checked_mul(8).ok_or_else(|| {
                    self.err(format_args!("{what}: array length {len} overflows"))
                })?;
                self.need(min, what)?;
                if len <= KEEP {
                    let values = (0..len)
                        .map(|_| self.string(what).map(GgufValue::String))
                        .collect::<Result<_, _>>()?;
                    Ok(GgufValue::Array {
                        elem,
                        len,
                        values: Some(values),
                    })
                } else {
                    for _ in 0..len {
                        self.skip_string(what)?;
                    }
                    Ok(GgufValue::Array {
                        elem,
                        len,
                        values: None,
                    })
                }
            }
        }
    }
}

impl GgufFile {
    /// Read and validate the file's header, metadata and tensor infos, and check
    /// that every tensor's data lies within the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GgufError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| GgufError {
            path: path.clone(),
            message: format!("cannot open: {e}"),
        })?;
        let size = file
            .metadata()
            .map_err(|e| GgufError {
                path: path.clone(),
                message: format!("cannot stat: {e}"),
            })?
            .len();
        Self::parse(BufReader::with_capacity(1 << 16, file), size, path)
    }

    /// [`GgufFile::open`] on a buffered reader of a file of `size` bytes.
    fn parse<R: Read + Seek>(inner: R, size: u64, path: PathBuf) -> Result<Self, GgufError> {
        let mut c = Cursor {
            inner,
            pos: 0,
            size,
            path: path.clone(),
        };

        let magic = c.bytes::<4>("magic")?;
        if magic != GGUF_MAGIC {
            return Err(c.err(format_args!(
                "bad magic {:?}, expected \"GGUF\" (not a GGUF file)",
                String::from_utf8_lossy(&magic)
            )));
        }
        let version = c.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(c.err(format_args!(
                "unsupported GGUF version {version} (expected 2 or 3)"
            )));
        }
        let n_tensors = c.u64("tensor count")?;
        let n_kv = c.u64("metadata count")?;
        // A tensor info takes at least 8 (name) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset) bytes,
        // a key/value at least 8 (key) + 4 (type) + 1 bytes.
        if n_tensors > c.remaining() / 32 {
            return Err(c.err(format_args!(
                "tensor count {n_tensors} cannot fit in the file"
            )));
        }
        if n_kv > c.remaining() / 13 {
            return Err(c.err(format_args!("metadata count {n_kv} cannot fit in the file")));
        }

        let mut metadata = Vec::with_capacity(n_kv as usize);
        let mut keys = HashSet::new();
        for i in 0..n_kv {
            let key = c.string(&format!("key of metadata entry {i}"))?;
            if key.is_empty() {
                return Err(c.err(format_args!("metadata entry {i} has an empty key")));
            }
            if !keys.insert(key.clone()) {
                return Err(c.err(format_args!("duplicate metadata key {key:?}")));
            }
            let code = c.u32(&key)?;
            let ty = GgufType::from_code(code)
                .ok_or_else(|| c.err(format_args!("metadata {key:?} has invalid type {code}")))?;
            let value = c.value(ty, &key)?;
            metadata.push((key, value));
        }

        let mut gguf = GgufFile {
            path: path.clone(),
            version,
            file_size: size,
            alignment: DEFAULT_ALIGNMENT,
            data_offset: 0,
            metadata,
            tensors: Vec::with_capacity(n_tensors as usize),
        };
        gguf.check_known_keys()?;
        if let Some(v) = gguf.get("general.alignment") {
            match v {
                GgufValue::U32(a) if *a > 0 && a.is_power_of_two() => {
                    gguf.alignment = u64::from(*a)
                }
                GgufValue::U32(a) => {
                    return Err(
                        gguf.err(format_args!("general.alignment {a} is not a power of two"))
                    )
                }
                other => {
                    return Err(gguf.err(format_args!(
                        "general.alignment must be a u32, found {:?}",
                        other.ty()
                    )))
                }
            }
        }

        let mut names = HashSet::new();
        let mut rel_offsets = Vec::with_capacity(n_tensors as usize);
        for i in 0..n_tensors {
            let name = c.string(&format!("name of tensor {i}"))?;
            if name.is_empty() || name.len() > MAX_TENSOR_NAME {
                return Err(c.err(format_args!(
                    "tensor {i} has a name of invalid length {} ({name:?})",
                    name.len()
                )));
            }
            if !names.insert(name.clone()) {
                return Err(c.err(format_args!("duplicate tensor name {name:?}")));
            }
            let n_dims = c.u32(&name)?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(c.err(format_args!(
                    "tensor {name:?} has {n_dims} dimensions (expected 1..={MAX_DIMS})"
                )));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                let d = c.u64(&name)?;
                if d > i64::MAX as u64 {
                    return Err(c.err(format_args!("tensor {name:?} has an invalid dimension {d}")));
                }
                dims.push(d);
            }
            let ggml_type = c.u32(&name)?;
            let (blck, tsize) = ggml_type_layout(ggml_type).ok_or_else(|| {
                c.err(format_args!(
                    "tensor {name:?} has unknown ggml type {ggml_type}"
                ))
            })?;
            if dims[0] % blck != 0 {
                return Err(c.err(format_args!(
                    "tensor {name:?} row of {} elements is not a multiple of the block size {blck} of {}",
                    dims[0],
                    ggml_type_name(ggml_type).unwrap_or("?")
                )));
            }
            let n_el = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .filter(|n| *n <= i64::MAX as u64)
                .ok_or_else(|| c.err(format_args!("tensor {name:?} shape {dims:?} overflows")))?;
            let size = (n_el / blck)
                .checked_mul(tsize)
                .ok_or_else(|| c.err(format_args!("tensor {name:?} size overflows")))?;
            let offset = c.u64(&name)?;
            if offset % gguf.alignment != 0 {
                return Err(c.err(format_args!(
                    "tensor {name:?} data offset {offset} is not aligned to {}",
                    gguf.alignment
                )));
            }
            rel_offsets.push(offset);
            gguf.tensors.push(TensorInfo {
                name,
                dims,
                ggml_type,
                offset,
                size,
            });
        }

        let header_end = c.pos;
        let data_offset = header_end
            .checked_next_multiple_of(gguf.alignment)
            .ok_or_else(|| gguf.err("data offset overflows"))?;
        gguf.data_offset = data_offset;
        if !gguf.tensors.is_empty() && data_offset > size {
            return Err(gguf.err(format_args!("truncated: tensor data would start at byte {data_offset} beyond the end of the {size}-byte file")));
        }
        for t in &mut gguf.tensors {
            let start = data_offset.checked_add(t.offset);
            let end = start.and_then(|s| s.checked_add(t.size));
            match (start, end) {
                (Some(s), Some(e)) if e <= size => t.offset = s,
                _ => {
                    return Err(GgufError {
                        path: path.clone(),
                        message: format!(
                            "truncated or corrupt: tensor {:?} data [{} + {}, {} bytes] extends past the end of the {size}-byte file",
                            t.name, data_offset, t.offset, t.size
                        ),
                    })
                }
            }
        }
        // Overlapping tensor data means a corrupt header.
        let mut spans: Vec<(u64, u64, usize)> = gguf
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.offset, t.offset + t.size, i))
            .collect();
        spans.sort_unstable();
        for w in spans.windows(2) {
            if w[1].0 < w[0].1 {
                return Err(gguf.err(format_args!(
                    "tensors {:?} and {:?} overlap",
                    gguf.tensors[w[0].2].name, gguf.tensors[w[1].2].name
                )));
            }
        }
        Ok(gguf)
    }

    fn err(&self, msg: impl fmt::Display) -> GgufError {
        GgufError {
            path: self.path.clone(),
            message: msg.to_string(),
        }
    }

    /// Types of keys that llama.cpp reads without checking (wrong types abort there).
    fn check_known_keys(&self) -> Result<(), GgufError> {
        for (key, value) in &self.metadata {
            let want: Option<(GgufType, Option<GgufType>)> = match key.as_str() {
                "general.architecture"
                | "general.name"
                | "tokenizer.ggml.model"
                | "tokenizer.ggml.pre"
                | "tokenizer.chat_template" => Some((GgufType::String, None)),
                "tokenizer.ggml.tokens" | "tokenizer.ggml.merges" => {
                    Some((GgufType::Array, Some(GgufType::String)))
                }
                "tokenizer.ggml.scores" => Some((GgufType::Array, Some(GgufType::F32))),
                "tokenizer.ggml.token_type" => Some((GgufType::Array, Some(GgufType::I32))),
                _ => None,
            };
            if let Some((ty, elem)) = want {
                let ok = match (value, elem) {
                    (GgufValue::Array { elem: e, .. }, Some(want_elem)) => *e == want_elem,
                    (v, None) => v.ty() == ty,
                    _ => false,
                };
                if !ok {
                    return Err(self.err(format_args!(
                        "metadata {key:?} has the wrong type ({value})"
                    )));
                }
            }
        }
        let n_tokens = self.array_len("tokenizer.ggml.tokens");
        for k in ["tokenizer.ggml.scores", "tokenizer.ggml.token_type"] {
            if let (Some(n), Some(m)) = (n_tokens, self.array_len(k)) {
                if n != m {
                    return Err(self.err(format_args!(
                        "{k} has {m} entries but tokenizer.ggml.tokens has {n}"
                    )));
                }
            }
        }
        if let Some(n) = n_tokens {
            for k in [
                "tokenizer.ggml.bos_token_id",
                "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.unknown_token_id",
                "tokenizer.ggml.padding_token_id",
            ] {
                if let Some(id) = self.get(k).and_then(GgufValue::as_u64) {
                    if id >= n && id != u64::from(u32::MAX) {
                        return Err(self.err(format_args!(
                            "{k} = {id} is outside the vocabulary of {n} tokens"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The value of a metadata key.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A string metadata value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(GgufValue::as_str)
    }

    /// An integer metadata value.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(GgufValue::as_u64)
    }

    /// Length of an array metadata value.
    pub fn array_len(&self, key: &str) -> Option<u64> {
        match self.get(key) {
            Some(GgufValue::Array { len, .. }) => Some(*len),
            _ => None,
        }
    }

    /// The model architecture (`general.architecture`).
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// An architecture-scoped integer, e.g. `arch_u64("block_count")` reads `llama.block_count`.
    pub fn arch_u64(&self, suffix: &str) -> Option<u64> {
        let arch = self.architecture()?;
        let key = format!("{arch}.{suffix}");
        match self.get(&key)? {
            // Per-layer arrays (e.g. head_count_kv for some models): take the largest.
            GgufValue::Array {
                values: Some(v), ..
            } => v.iter().filter_map(GgufValue::as_u64).max(),
            v => v.as_u64(),
        }
    }

    /// Total number of tensor elements (what llama.cpp reports as parameters).
    pub fn parameter_count(&self) -> u64 {
        self.tensors.iter().map(TensorInfo::n_elements).sum()
    }

    /// The quantization label: from `general.file_type`, or else the most common
    /// type among 2-D weight tensors.
    pub fn quantization(&self) -> Option<String> {
        if let Some(name) = self.get_u64("general.file_type").and_then(file_type_name) {
            return Some(name.to_string());
        }
        let mut counts: Vec<(u32, u64)> = Vec::new();
        for t in self.tensors.iter().filter(|t| t.dims.len() >= 2) {
            match counts.iter_mut().find(|(ty, _)| *ty == t.ggml_type) {
                Some((_, n)) => *n += t.n_elements(),
                None => counts.push((t.ggml_type, t.n_elements())),
            }
        }
        counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        counts
            .first()
            .and_then(|(ty, _)| ggml_type_name(*ty))
            .map(str::to_string)
    }

    /// Estimated bytes of f16 K and V cache per token of context over all layers.
    pub fn kv_bytes_per_token(&self) -> Option<u64> {
        let layers = self.arch_u64("block_count")?;
        let heads = self.arch_u64("attention.head_count")?.max(1);
        let heads_kv = self.arch_u64("attention.head_count_kv").unwrap_or(heads);
        let embd = self.arch_u64("embedding_length")?;
        let k = self
            .arch_u64("attention.key_length")
            .unwrap_or(embd / heads);
        let v = self
            .arch_u64("attention.value_length")
            .unwrap_or(embd / heads);
        Some(layers * heads_kv * (k + v) * 2)
    }

    /// The summary used by model listings.
    pub fn info(&self) -> GgufInfo {
        GgufInfo {
            path: self.path.clone(),
            size_bytes: self.file_size,
            version: self.version,
            architecture: self.architecture().map(str::to_string),
            name: self.get_str("general.name").map(str::to_string),
            parameters: Some(self.parameter_count()).filter(|n| *n > 0),
            file_type: self.get_u64("general.file_type"),
            quantization: self.quantization(),
            tensor_count: self.tensors.len() as u64,
            metadata_count: self.metadata.len() as u64,
            context_length: self.arch_u64("context_length"),
            block_count: self.arch_u64("block_count"),
            embedding_length: self.arch_u64("embedding_length"),
            vocab_size: self.array_len("tokenizer.ggml.tokens"),
            has_chat_template: self.get_str("tokenizer.chat_template").is_some(),
            kv_bytes_per_token: self.kv_bytes_per_token(),
        }
    }
}

/// What a model listing shows about a GGUF file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GgufInfo {
    /// The file.
    pub path: PathBuf,
    /// File size in bytes.
    pub size_bytes: u64,
    /// GGUF version.
    pub version: u32,
    /// `general.architecture`, e.g. `gemma3`.
    pub architecture: Option<String>,
    /// `general.name`.
    pub name: Option<String>,
    /// Parameter count (sum of tensor elements).
    pub parameters: Option<u64>,
    /// `general.file_type` code.
    pub file_type: Option<u64>,
    /// Quantization label, e.g. `Q4_K_M`.
    pub quantization: Option<String>,
    /// Number of tensors.
    pub tensor_count: u64,
    /// Number of metadata entries.
    pub metadata_count: u64,
    /// Training context length (`ARCH.context_length`).
    pub context_length: Option<u64>,
    /// Number of layers.
    pub block_count: Option<u64>,
    /// Embedding width.
    pub embedding_length: Option<u64>,
    /// Vocabulary size.
    pub vocab_size: Option<u64>,
    /// Whether the file carries `tokenizer.chat_template`.
    pub has_chat_template: bool,
    /// Estimated f16 KV-cache bytes per context token.
    pub kv_bytes_per_token: Option<u64>,
}

/// Read, validate and summarise a GGUF file.
pub fn describe_gguf(path: impl AsRef<Path>) -> Result<GgufInfo, GgufError> {
    GgufFile::open(path).map(|g| g.info())
}

/// Format a parameter count like `268M` or `1.5B`.
pub fn format_parameters(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1}B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.0}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0}K", n / 1e3)
    } else {
        format!("{n}")
    }
}

/// IEEE half-precision bits of `v`, rounded to nearest even (subnormals
/// flushed to zero, overflow to infinity).
pub fn f32_to_f16_bits(v: f32) -> u16 {
    let x = v.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let man = x & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        return sign;
    }
    let mut h = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) {
        h += 1; // may carry into the exponent, which is right
    }
    sign | h as u16
}

/// Writes GGUF v3 files (metadata, then F32/F16 tensors).
#[derive(Debug, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, GgufValue, Option<Vec<GgufValue>>)>,
    tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
}

impl GgufWriter {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a scalar or string metadata value.
    pub fn kv(&mut self, key: &str, value: GgufValue) -> &mut Self {
        self.metadata.push((key.to_string(), value, None));
        self
    }

    /// Add an array metadata value with elements of type `elem`.
    pub fn kv_array(&mut self, key: &str, elem: GgufType, values: Vec<GgufValue>) -> &mut Self {
        let len = values.len() as u64;
        self.metadata.push((
            key.to_string(),
            GgufValue::Array {
                elem,
                len,
                values: None,
            },
            Some(values),
        ));
        self
    }

    /// Add an F32 tensor with the given dimensions (innermost first).
    pub fn tensor_f32(&mut self, name: &str, dims: &[u64], data: &[f32]) -> &mut Self {
        assert_eq!(
            dims.iter().product::<u64>() as usize,
            data.len(),
            "tensor {name}: shape/data mismatch"
        );
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors
            .push((name.to_string(), dims.to_vec(), 0, bytes));
        self
    }

    /// Add an F16 tensor (the values rounded to half precision).
    pub fn tensor_f16(&mut self, name: &str, dims: &[u64], data: &[f32]) -> &mut Self {
        assert_eq!(
            dims.iter().product::<u64>() as usize,
            data.len(),
            "tensor {name}: shape/data mismatch"
        );
        let bytes = data
            .iter()
            .flat_map(|v| f32_to_f16_bits(*v).to_le_bytes())
            .collect();
        self.tensors
            .push((name.to_string(), dims.to_vec(), 1, bytes));
        self
    }

    fn write_value(w: &mut impl Write, v: &GgufValue) -> io::Result<()> {
        match v {
            GgufValue::U8(x) => w.write_all(&[*x]),
            GgufValue::I8(x) => w.write_all(&x.to_le_bytes()),
            GgufValue::U16(x) => w.write_all(&x.to_le_bytes()),
            GgufValue::I16(x) => w.write_all(&x.to_le_bytes()),
            GgufValue::U32(x) => w.write_all(&x.to_le_bytes()),
            GgufValue::I32(x) => w.write_all(&x.to_le_bytes()),
            GgufValue::F32(x) => w.write_all(&x.to_le_bytes()),
            GgufValue::Bool(x) => w.write_all(&[u8::from(*x)]),
            GgufValue::String(s) => {
                w.write_all(&(s.len() as u64).to_le_bytes())?;
                w.write_all(s.as_bytes())
            }
            GgufValue::U64(x) => w.write_all(&x.to_le_bytes()),
            GgufValue::I64(x) => w.write_all(&x.to_le_bytes()),
            GgufValue::F64(x) => w.write_all(&x.to_le_bytes()),
            GgufValue::Array { .. } => Err(io::Error::other("use kv_array for arrays")),
        }
    }

    /// Write the file.
    pub fn write(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut w = BufWriter::new(File::create(path)?);
        w.write_all(&GGUF_MAGIC)?;
        w.write_all(&3u32.to_le_bytes())?;
        w.write_all(&(self.tensors.len() as u64).to_le_bytes())?;
        w.write_all(&(self.metadata.len() as u64).to_le_bytes())?;
        let mut pos = 24u64;
        let mut counted = CountingWriter {
            inner: &mut w,
            n: 0,
        };
        for (key, value, arr) in &self.metadata {
            Self::write_value(&mut counted, &GgufValue::String(key.clone()))?;
            counted.write_all(&(value.ty() as u32).to_le_bytes())?;
            match (value, arr) {
                (GgufValue::Array { elem, len, .. }, Some(values)) => {
                    counted.write_all(&(*elem as u32).to_le_bytes())?;
                    counted.write_all(&len.to_le_bytes())?;
                    for v in values {
                        if v.ty() != *elem {
                            return Err(io::Error::other(format!(
                                "array {key}: element of type {:?}",
                                v.ty()
                            )));
                        }
                        Self::write_value(&mut counted, v)?;
                    }
                }
                (v, _) => Self::write_value(&mut counted, v)?,
            }
        }
        let mut offset = 0u64;
        let mut offsets = Vec::new();
        for (name, dims, ty, data) in &self.tensors {
            Self::write_value(&mut counted, &GgufValue::String(name.clone()))?;
            counted.write_all(&(dims.len() as u32).to_le_bytes())?;
            for d in dims {
                counted.write_all(&d.to_le_bytes())?;
            }
            counted.write_all(&ty.to_le_bytes())?;
            counted.write_all(&offset.to_le_bytes())?;
            offsets.push(offset);
            offset = (offset + data.len() as u64).next_multiple_of(DEFAULT_ALIGNMENT);
        }
        pos += counted.n;
        let pad = pos.next_multiple_of(DEFAULT_ALIGNMENT) - pos;
        w.write_all(&vec![0u8; pad as usize])?;
        let mut written = 0u64;
        for ((_, _, _, data), off) in self.tensors.iter().zip(offsets) {
            w.write_all(&vec![0u8; (off - written) as usize])?;
            w.write_all(data)?;
            written = off + data.len() as u64;
        }
        let end_pad = written.next_multiple_of(DEFAULT_ALIGNMENT) - written;
        w.write_all(&vec![0u8; end_pad as usize])?;
        w.flush()
    }
}

struct CountingWriter<'a, W: Write> {
    inner: &'a mut W,
    n: u64,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_file(dir: &Path) -> PathBuf {
        let path = dir.join("small.gguf");
        let mut w = GgufWriter::new();
        w.kv("general.architecture", GgufValue::String("llama".into()))
            .kv("general.file_type", GgufValue::U32(0))
            .kv("llama.context_length", GgufValue::U32(128))
            .kv_array(
                "tokenizer.ggml.tokens",
                GgufType::String,
                vec![GgufValue::String("a".into()), GgufValue::String("b".into())],
            )
            .tensor_f32("a", &[4, 2], &[0.0; 8])
            .tensor_f32("b", &[3], &[1.0; 3]);
        w.write(&path).unwrap();
        path
    }

    /// A file that counts the reads it serves.
    struct Counted(File, std::rc::Rc<std::cell::Cell<u64>>);

    impl Read for Counted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1.set(self.1.get() + 1);
            self.0.read(buf)
        }
    }

    impl Seek for Counted {
        fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
            self.0.seek(pos)
        }
    }

    #[test]
    fn a_large_vocabulary_is_read_in_large_chunks() {
        // Skipping each of 200,000 token strings used to empty the read
        // buffer, so every string cost a 64 KiB read.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vocab.gguf");
        let tokens = (0..200_000)
            .map(|i| GgufValue::String(format!("tok{i}")))
            .collect();
        let mut w = GgufWriter::new();
        w.kv("general.architecture", GgufValue::String("llama".into()))
            .kv_array("tokenizer.ggml.tokens", GgufType::String, tokens)
            .tensor_f32("a", &[4], &[0.0; 4]);
        w.write(&path).unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        let reads = std::rc::Rc::new(std::cell::Cell::new(0));
        let file = Counted(File::open(&path).unwrap(), reads.clone());
        let g = GgufFile::parse(BufReader::with_capacity(1 << 16, file), size, path).unwrap();
        assert_eq!(g.tensors.len(), 1);
        let most = size / (1 << 16) + 8;
        assert!(
            reads.get() <= most,
            "{} reads of a {size}-byte file (at most {most} expected)",
            reads.get()
        );
    }

    #[test]
    fn roundtrip_and_describe() {
        let dir = tempfile::tempdir().unwrap();
        let path = small_file(dir.path());
        let g = GgufFile::open(&path).unwrap();
        assert_eq!(g.version, 3);
        assert_eq!(g.tensors.len(), 2);
        assert_eq!(g.tensors[0].size, 32);
        assert_eq!(g.parameter_count(), 11);
        let info = g.info();
        assert_eq!(info.architecture.as_deref(), Some("llama"));
        assert_eq!(info.quantization.as_deref(), Some("F32"));
        assert_eq!(info.context_length, Some(128));
        assert_eq!(info.vocab_size, Some(2));
        assert!(!info.has_chat_template);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = small_file(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        // The last tensor ends before the final alignment padding.
        let g = GgufFile::open(&path).unwrap();
        let data_end = g.tensors.iter().map(|t| t.offset + t.size).max().unwrap() as usize;
        let cut = dir.path().join("cut.gguf");
        for len in 0..data_end {
            std::fs::write(&cut, &bytes[..len]).unwrap();
            let err = GgufFile::open(&cut).unwrap_err();
            assert_eq!(err.path, cut);
            assert!(err.to_string().contains("cut.gguf"), "{err}");
        }
        std::fs::write(&cut, &bytes[..data_end]).unwrap();
        GgufFile::open(&cut).unwrap();
    }

    #[test]
    fn bad_magic_version_and_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = small_file(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        let bad = dir.path().join("bad.gguf");
        let check = |patch: &dyn Fn(&mut Vec<u8>), want: &str| {
            let mut b = bytes.clone();
            patch(&mut b);
            std::fs::write(&bad, &b).unwrap();
            let err = GgufFile::open(&bad).unwrap_err().to_string();
            assert!(err.contains(want), "expected {want:?} in {err:?}");
        };
        check(&|b| b[0] = b'X', "bad magic");
        check(&|b| b[4] = 1, "version 1");
        check(&|b| b[4] = 9, "version 9");
        check(
            &|b| b[8..16].copy_from_slice(&u64::MAX.to_le_bytes()),
            "tensor count",
        );
        check(
            &|b| b[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes()),
            "metadata count",
        );
        // First key length -> huge.
        check(
            &|b| b[24..32].copy_from_slice(&(1u64 << 50).to_le_bytes()),
            "truncated",
        );
        // First value type (after the 20-byte key "general.architecture").
        check(
            &|b| b[52..56].copy_from_slice(&77u32.to_le_bytes()),
            "invalid type 77",
        );

        let mut w = GgufWriter::new();
        w.kv("general.architecture", GgufValue::U32(3));
        w.write(&bad).unwrap();
        assert!(GgufFile::open(&bad)
            .unwrap_err()
            .to_string()
            .contains("wrong type"));
        let mut w = GgufWriter::new();
        w.kv("general.alignment", GgufValue::U64(32));
        w.write(&bad).unwrap();
        assert!(GgufFile::open(&bad)
            .unwrap_err()
            .to_string()
            .contains("must be a u32"));
        let mut w = GgufWriter::new();
        w.kv_array(
            "tokenizer.ggml.tokens",
            GgufType::String,
            vec![GgufValue::String("a".into())],
        );
        w.kv_array(
            "tokenizer.ggml.scores",
            GgufType::F32,
            vec![GgufValue::F32(0.0), GgufValue::F32(0.0)],
        );
        w.write(&bad).unwrap();
        assert!(GgufFile::open(&bad)
            .unwrap_err()
            .to_string()
            .contains("has 2 entries"));
    }

    #[test]
    fn names() {
        assert_eq!(file_type_name(15), Some("Q4_K_M"));
        assert_eq!(ggml_type_name(12), Some("Q4_K"));
        assert_eq!(format_parameters(268_098_176), "268M");
        assert_eq!(format_parameters(1_500_000_000), "1.5B");
    }

    #[test]
    fn half_precision_bits() {
        assert_eq!(f32_to_f16_bits(0.0), 0);
        assert_eq!(f32_to_f16_bits(1.0), 0x3c00);
        assert_eq!(f32_to_f16_bits(-2.0), 0xc000);
        assert_eq!(f32_to_f16_bits(0.5), 0x3800);
        assert_eq!(f32_to_f16_bits(65504.0), 0x7bff);
        assert_eq!(f32_to_f16_bits(1e6), 0x7c00);
        assert_eq!(f32_to_f16_bits(1.0 + 1.0 / 2048.0), 0x3c00); // ties to even
        assert_eq!(f32_to_f16_bits(0.1), 0x2e66);
    }
}
