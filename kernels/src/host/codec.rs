//! Either quantizer's kernels behind one interface, for tools that run several methods
//! the same way (`aqua quant-eval`, `aqua bench`): compile, quantize into reusable
//! buffers, dequantize, and say what the result stores.

use aqua_dsl::DType;
use aqua_runtime::{HostBuffer, Runtime};

use super::higgs::{HiggsBuffers, HiggsKernels};
use super::uniform::{QuantizedBuffers, UniformKernels};
use super::HostError;
use crate::quant::higgs::HiggsConfig;
use crate::quant::{Grouping, Storage, Uniform};

/// A quantizer and how it groups values: what to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Uniform(Uniform, Grouping),
    Higgs(HiggsConfig),
}

/// The compiled kernels of a [`Method`].
pub enum Codec {
    Uniform(UniformKernels),
    Higgs(HiggsKernels),
}

/// A quantized tensor of either kind.
pub enum Encoded {
    Uniform(QuantizedBuffers),
    Higgs(HiggsBuffers),
}

impl Codec {
    /// Compiles the kernels of `method` for inputs and outputs of `dtype`.
    pub fn compile(rt: &Runtime, method: Method, dtype: DType) -> Result<Codec, HostError> {
        Ok(match method {
            Method::Uniform(q, g) => Codec::Uniform(UniformKernels::compile(rt, q, g, dtype)?),
            Method::Higgs(c) => Codec::Higgs(HiggsKernels::compile(rt, c, dtype)?),
        })
    }

    /// Zeroed outputs for `n` values.
    pub fn encoded(&self, n: usize) -> Encoded {
        match self {
            Codec::Uniform(k) => Encoded::Uniform(QuantizedBuffers::zeros(k.quantizer(), k.grouping(), n)),
            Codec::Higgs(k) => Encoded::Higgs(HiggsBuffers::zeros(k.config(), n)),
        }
    }

    pub fn quantize_into(&self, rt: &Runtime, x: &HostBuffer, out: &mut Encoded) -> Result<(), HostError> {
        match (self, out) {
            (Codec::Uniform(k), Encoded::Uniform(out)) => k.quantize_into(rt, x, out),
            (Codec::Higgs(k), Encoded::Higgs(out)) => k.quantize_into(rt, x, out),
            _ => Err(super::input_error("codec", "quantized buffers of the other method")),
        }
    }

    pub fn dequantize_into(&self, rt: &Runtime, q: &Encoded, out: &mut HostBuffer) -> Result<(), HostError> {
        match (self, q) {
            (Codec::Uniform(k), Encoded::Uniform(q)) => k.dequantize_into(rt, q, out),
            (Codec::Higgs(k), Encoded::Higgs(q)) => k.dequantize_into(rt, q, out),
            _ => Err(super::input_error("codec", "quantized buffers of the other method")),
        }
    }

    /// Quantizes and dequantizes `x`: the reconstruction, in `x`'s dtype.
    pub fn roundtrip(&self, rt: &Runtime, x: &HostBuffer) -> Result<HostBuffer, HostError> {
        let mut q = self.encoded(x.len());
        self.quantize_into(rt, x, &mut q)?;
        let mut out = HostBuffer::zeros(x.dtype(), x.len());
        self.dequantize_into(rt, &q, &mut out)?;
        Ok(out)
    }

    /// What `n` values store.
    pub fn storage(&self, n: usize) -> Storage {
        match self {
            Codec::Uniform(k) => k.storage(n),
            Codec::Higgs(k) => k.storage(n),
        }
    }
}
