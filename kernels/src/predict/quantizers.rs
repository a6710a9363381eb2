//! What the chain quantizes with: the kernels (on any runtime), or the plain-Rust
//! references of the same methods, which the kernels equal bit for bit (so the two chains
//! do too: `tests/predict.rs`). Both count what they encode.

use aqua_dsl::DType;
use aqua_runtime::{HostBuffer, Runtime};

use super::chain::{Part, Quantizer};
use super::PredictError;
use crate::host::codec::{Codec, Encoded, Method};
use crate::host::HostError;
use crate::quant::higgs::Higgs;
use crate::quant::{Code, Storage};

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

    fn codec(&self, part: Part, first: bool) -> &Codec {
        &self.codecs[usize::from(!first)][part as usize]
    }
}

impl Quantizer for KernelQuantizer<'_> {
    fn encode(&mut self, part: Part, first: bool, x: &[f32]) -> Result<Code, PredictError> {
        let codec = self.codec(part, first);
        let mut encoded = codec.encoded(x.len());
        codec.quantize_into(self.rt, &HostBuffer::from_slice(x), &mut encoded)?;
        let code = encoded.to_code()?;
        self.storage = self.storage.plus(code.storage());
        Ok(code)
    }

    fn decode(&mut self, part: Part, first: bool, code: &Code) -> Result<Vec<f32>, PredictError> {
        let codec = self.codec(part, first);
        check_method(codec.method(), code)?;
        let mut out = HostBuffer::zeros(DType::F32, code.len());
        codec.dequantize_into(self.rt, &Encoded::from_code(code)?, &mut out)?;
        Ok(out.to_vec::<f32>().map_err(HostError::from)?)
    }

    /// One launch of each kernel on buffers they share (on a GPU: device buffers), no
    /// copies of the codes.
    fn roundtrip(&mut self, part: Part, first: bool, x: &[f32]) -> Result<Vec<f32>, PredictError> {
        let codec = self.codec(part, first);
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
    fn encode(&mut self, part: Part, first: bool, x: &[f32]) -> Result<Code, PredictError> {
        let code = match self.methods.of(part, first) {
            Method::Uniform(q, grouping) => Code::Uniform(q.quantize(x, grouping).map_err(HostError::from)?),
            Method::Higgs(c) => Code::Higgs(Higgs::new(c.group, c.dim, c.points).map_err(HostError::from)?.quantize(x)),
        };
        self.storage = self.storage.plus(code.storage());
        Ok(code)
    }

    fn decode(&mut self, part: Part, first: bool, code: &Code) -> Result<Vec<f32>, PredictError> {
        check_method(self.methods.of(part, first), code)?;
        Ok(match code {
            Code::Uniform(q) => q.dequantize().map_err(HostError::from)?,
            Code::Higgs(q) => {
                let c = q.config;
                Higgs::new(c.group, c.dim, c.points).map_err(HostError::from)?.dequantize(q).map_err(HostError::from)?
            }
        })
    }
}

/// A code is decoded by the method that made it.
fn check_method(method: Method, code: &Code) -> Result<(), PredictError> {
    let made_by = match code {
        Code::Uniform(q) => Method::Uniform(q.q, q.grouping),
        Code::Higgs(q) => Method::Higgs(q.config),
    };
    if made_by != method {
        return Err(PredictError::Shape(format!("a code of {made_by:?} given to the decoder of {method:?}")));
    }
    Ok(())
}
