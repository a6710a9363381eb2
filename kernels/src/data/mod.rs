//! Real KV-cache data for tests, the demo and benchmarks.
//!
//! The crate bundles a small slice of real pre-RoPE keys and values of SmolLM2-135M
//! (`kernels/data/smollm2-kv-slice.safetensors`, provenance in `kernels/data/README.md`),
//! embedded in the binary so `aqua demo` needs no path. [`cut`] makes such a slice from the
//! full tensors (the `aqua slice-kv` command).

pub mod cut;
pub mod kv_file;

use half::f16;
use safetensors::{Dtype, SafeTensors};

/// The bundled slice, as stored in the crate.
pub const BUNDLED: &[u8] = include_bytes!("../../data/smollm2-kv-slice.safetensors");

/// Errors reading KV tensors from safetensors bytes.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("not a safetensors file: {}", describe(.0))]
    Format(#[from] safetensors::SafeTensorError),
    #[error("tensor `{name}`: {problem}")]
    Tensor { name: String, problem: String },
    #[error("{0}")]
    Layout(String),
}

/// What a safetensors error means for a reader of the file (the crate prints only the
/// variant's name).
pub(crate) fn describe(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall => "shorter than the 8-byte header length".into(),
        E::InvalidHeaderLength => {
            "its header length runs past the end of the file (truncated?)".into()
        }
        E::HeaderTooLarge => "its first 8 bytes, read as the header length, say over 100 MB".into(),
        E::InvalidHeader | E::InvalidHeaderStart | E::InvalidHeaderDeserialization => {
            "its header is not safetensors JSON".into()
        }
        E::MetadataIncompleteBuffer => {
            "the tensor data is shorter or longer than the header says (truncated?)".into()
        }
        E::TensorInvalidInfo | E::InvalidOffset(_) | E::ValidationOverflow => {
            "a tensor's shape, dtype or offsets are inconsistent".into()
        }
        E::TensorNotFound(name) => format!("no tensor `{name}`"),
        E::IoError(e) => e.to_string(),
        E::JsonError(e) => format!("its header is not valid JSON: {e}"),
        E::InvalidTensorView(dtype, shape, bytes) => {
            format!("a {dtype:?} tensor of shape {shape:?} cannot come from {bytes} bytes")
        }
    }
}

/// Keys and values of one layer, `[tokens, channels]` row-major, channels = heads * head_dim.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerKv {
    pub layer: usize,
    pub k: Vec<f16>,
    pub v: Vec<f16>,
}

/// Several layers' K and V over the same tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct KvSlice {
    pub tokens: usize,
    pub channels: usize,
    /// Layers in increasing order of their index in the model.
    pub layers: Vec<LayerKv>,
    /// The `provenance` entry of the file's metadata (JSON), empty if absent.
    pub provenance: String,
}

impl KvSlice {
    /// The slice bundled in the crate.
    pub fn bundled() -> Result<KvSlice, DataError> {
        KvSlice::from_bytes(BUNDLED)
    }

    /// Reads every `layers.{i}.k` / `layers.{i}.v` pair of a safetensors file (f16,
    /// all of one shape `[tokens, channels]`).
    pub fn from_bytes(bytes: &[u8]) -> Result<KvSlice, DataError> {
        let (_, meta) = SafeTensors::read_metadata(bytes)?;
        let provenance = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("provenance").cloned())
            .unwrap_or_default();
        let mut shape: Option<(usize, usize)> = None;
        let mut layers = Vec::new();
        for l in kv_file::read_kv_layers(bytes)? {
            let s = (l.k.rows, l.k.cols);
            match shape {
                None => shape = Some(s),
                Some(prev) if prev != s => {
                    return Err(DataError::Layout(format!(
                        "layer {}: shape {s:?} differs from {prev:?} of the other tensors",
                        l.layer
                    )))
                }
                _ => {}
            }
            let f16_only = |t: kv_file::Tensor2, kind: &str| match t.values {
                kv_file::Values::F16(v) => Ok(v),
                kv_file::Values::F32(_) => Err(DataError::Tensor {
                    name: format!("layers.{}.{kind}", l.layer),
                    problem: "dtype is F32, expected F16".into(),
                }),
            };
            layers.push(LayerKv {
                layer: l.layer,
                k: f16_only(l.k, "k")?,
                v: f16_only(l.v, "v")?,
            });
        }
        let (tokens, channels) = shape.ok_or_else(|| DataError::Layout("no `layers.{i}.k` tensors".into()))?;
        Ok(KvSlice {
            tokens,
            channels,
            layers,
            provenance,
        })
    }

    /// Values per tensor (`tokens * channels`).
    pub fn numel(&self) -> usize {
        self.tokens * self.channels
    }

    /// Every layer's keys then values, layer by layer, as one array.
    pub fn all_values(&self) -> Vec<f16> {
        self.layers
            .iter()
            .flat_map(|l| l.k.iter().chain(&l.v))
            .copied()
            .collect()
    }
}

/// Reads a 2-D f16 tensor as values and `(rows, cols)`.
pub(crate) fn read_f16(st: &SafeTensors<'_>, name: &str) -> Result<(Vec<f16>, (usize, usize)), DataError> {
    let bad = |problem: String| DataError::Tensor {
        name: name.to_string(),
        problem,
    };
    let t = st.tensor(name).map_err(|e| bad(e.to_string()))?;
    if t.dtype() != Dtype::F16 {
        return Err(bad(format!("dtype is {:?}, expected F16", t.dtype())));
    }
    let &[rows, cols] = t.shape() else {
        return Err(bad(format!("shape {:?} is not 2-D", t.shape())));
    };
    let values = t
        .data()
        .chunks_exact(2)
        .map(|b| f16::from_le_bytes([b[0], b[1]]))
        .collect();
    Ok((values, (rows, cols)))
}
