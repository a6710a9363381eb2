//! What the chain quantizes with: the kernels (on any runtime), or the plain-Rust
//! references of the same methods, which the kernels equal bit for bit (so the two chains
//! do too: `tests/predict.rs`). Both count what they store.

use aqua_dsl::DType;
use aqua_runtime::{HostBuffer, Runtime};

use super::chain::{Part, Quantizer};
use super::PredictError;
use crate::host::codec::{Codec, Method};
use crate::host::HostError;
use crate::quant::higgs::Higgs;
use crate::quant::Storage;

/// The methods of the chain's four kinds of tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainMethods {
    /// Keys and values of a chain's first layer, stored whole (`DESIGN.md`: 4 bits).
    pub first: [Method; 2],
    /// Residuals of keys and values.
    pub residual: [Method; 2],
}

impl ChainMethods {
    fn of(&self, part: Part, first: bool) -> Method {
        let methods = if first { self.first } else { self.residual };
        methods[part as usize]
    }
}

/// The kernels of [`ChainMethods`], f32 in and out.
pub struct KernelQuantizer<'r> {
    rt: &'r Runtime,
    /// `[first, residual]`, each `[keys, values]`.
    codecs: [[Codec; 2]; 2],
    storage: Storage,
}

impl<'r> KernelQuantizer<'r> {
    pub fn compile(rt: &'r Runtime, methods: ChainMethods) -> Result<KernelQuantizer<'r>, HostError> {
        let compile = |m| Codec::compile(rt, m, DType::F32);
        let pair = |[k, v]: [Method; 2]| -> Result<[Codec; 2], HostError> { Ok([compile(k)?, compile(v)?]) };
        Ok(KernelQuantizer { rt, codecs: [pair(methods.first)?, pair(methods.residual)?], storage: Storage::default() })
    }

    /// Everything stored so far.
    pub fn storage(&self) -> Storage {
        self.storage
    }
}

impl Quantizer for KernelQuantizer<'_> {
    fn roundtrip(&mut self, part: Part, first: bool, x: &[f32]) -> Result<Vec<f32>, PredictError> {
        let codec = &self.codecs[usize::from(!first)][part as usize];
        let restored = codec.roundtrip(self.rt, &HostBuffer::from_slice(x))?;
        self.storage = self.storage.plus(codec.storage(x.len()));
        Ok(restored.to_vec::<f32>().map_err(HostError::from)?)
    }
}

/// The plain-Rust references of [`ChainMethods`].
pub struct ReferenceQuantizer {
    methods: ChainMethods,
    storage: Storage,
}

impl ReferenceQuantizer {
    pub fn new(methods: ChainMethods) -> ReferenceQuantizer {
        ReferenceQuantizer { methods, storage: Storage::default() }
    }

    /// Everything stored so far.
    pub fn storage(&self) -> Storage {
        self.storage
    }
}

impl Quantizer for ReferenceQuantizer {
    fn roundtrip(&mut self, part: Part, first: bool, x: &[f32]) -> Result<Vec<f32>, PredictError> {
        let (restored, stored) = match self.methods.of(part, first) {
            Method::Uniform(q, grouping) => {
                let quantized = q.quantize(x, grouping).map_err(HostError::from)?;
                (quantized.dequantize().map_err(HostError::from)?, quantized.storage())
            }
            Method::Higgs(c) => {
                let higgs = Higgs::new(c.group, c.dim, c.points).map_err(HostError::from)?;
                (higgs.dequantize(&higgs.quantize(x)).map_err(HostError::from)?, c.storage(x.len()))
            }
        };
        self.storage = self.storage.plus(stored);
        Ok(restored)
    }
}
