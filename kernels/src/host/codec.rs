//! Either quantizer's kernels behind one interface, for tools that run several methods
//! the same way (`aqua quant-eval`, `aqua bench`): compile, quantize into reusable
//! buffers, dequantize, and say what the result stores.

use aqua_dsl::DType;
use aqua_runtime::{Arg, CompileReport, HostBuffer, Runtime};

use super::buffers::LaunchBuffers;
use super::higgs::{HiggsBuffers, HiggsKernels};
use super::uniform::{QuantizedBuffers, UniformKernels};
use super::{HostError, Values};
use crate::quant::element::Element;
use crate::quant::higgs::{Higgs, HiggsConfig};
use crate::quant::{Code, Grouping, Storage, Uniform};

/// A quantizer and how it groups values: what to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Uniform(Uniform, Grouping),
    Higgs(HiggsConfig),
}

impl Method {
    /// The quantized form of `n` values as the kernels take it, in argument order:
    /// (parameter, dtype, elements). It depends on the method only, not on the tile.
    pub fn encoded_layout(self, n: usize) -> Vec<(&'static str, DType, usize)> {
        match self {
            Method::Uniform(q, g) => {
                let groups = q.groups(n, g);
                vec![
                    ("codes", DType::U32, q.code_words(n, g)),
                    ("scale", DType::F16, groups),
                    ("zero", DType::F16, groups),
                ]
            }
            Method::Higgs(c) => vec![("codes", DType::U32, c.code_words(n)), ("scale", DType::F16, c.groups(n))],
        }
    }
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

    /// The tile [`Codec::compile`] picks for `method` on `rt`.
    pub fn default_tile(rt: &Runtime, method: Method) -> u32 {
        match method {
            Method::Uniform(q, g) => super::uniform::default_tile(rt, q, g),
            Method::Higgs(c) => super::higgs::default_block(c),
        }
    }

    /// Compiles the kernels of `method` with another tile: values per program (uniform
    /// along channels, HIGGS) or channels per program (uniform along tokens).
    pub fn compile_tiled(rt: &Runtime, method: Method, dtype: DType, tile: u32) -> Result<Codec, HostError> {
        Ok(match method {
            Method::Uniform(q, g) => Codec::Uniform(UniformKernels::compile_tiled(rt, q, g, dtype, tile)?),
            Method::Higgs(c) => Codec::Higgs(HiggsKernels::compile_with_block(rt, c, dtype, tile)?),
        })
    }

    /// The tile the kernels were compiled for.
    pub fn tile(&self) -> u32 {
        match self {
            Codec::Uniform(k) => k.tile(),
            Codec::Higgs(k) => k.block(),
        }
    }

    /// How the quantize and the dequantize kernel were obtained, and what each took.
    pub fn reports(&self) -> &[CompileReport; 2] {
        match self {
            Codec::Uniform(k) => k.reports(),
            Codec::Higgs(k) => k.reports(),
        }
    }

    pub fn method(&self) -> Method {
        match self {
            Codec::Uniform(k) => Method::Uniform(k.quantizer(), k.grouping()),
            Codec::Higgs(k) => Method::Higgs(k.config()),
        }
    }

    /// Quantizes the values of `x` into `encoded` (as [`Method::encoded_layout`] says),
    /// buffers of either memory (device buffers stay on the GPU; the launch is queued).
    pub fn launch_quantize<'a>(&self, rt: &Runtime, x: Arg<'a>, encoded: Vec<Arg<'a>>) -> Result<(), HostError> {
        self.launch(rt, Values::Input(x), encoded)
    }

    /// Dequantizes `encoded` into the values of `out`, buffers of either memory.
    pub fn launch_dequantize<'a>(&self, rt: &Runtime, encoded: Vec<Arg<'a>>, out: Arg<'a>) -> Result<(), HostError> {
        self.launch(rt, Values::Output(out), encoded)
    }

    fn launch<'a>(&self, rt: &Runtime, values: Values<'a>, encoded: Vec<Arg<'a>>) -> Result<(), HostError> {
        match self {
            Codec::Uniform(k) => k.launch(rt, values, encoded),
            Codec::Higgs(k) => k.launch(rt, values, encoded),
        }
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
        roundtrip([self, self], rt, x)
    }

    /// What `n` values store.
    pub fn storage(&self, n: usize) -> Storage {
        match self {
            Codec::Uniform(k) => k.storage(n),
            Codec::Higgs(k) => k.storage(n),
        }
    }
}

impl Encoded {
    /// The reference's representation (copies).
    pub fn to_code(&self) -> Result<Code, HostError> {
        Ok(match self {
            Encoded::Uniform(b) => Code::Uniform(b.to_quantized()?),
            Encoded::Higgs(b) => Code::Higgs(b.to_quantized()?),
        })
    }

    /// Buffers holding `code` (copies), for the kernels to dequantize.
    pub fn from_code(code: &Code) -> Result<Encoded, HostError> {
        Ok(match code {
            Code::Uniform(q) => Encoded::Uniform(QuantizedBuffers::from_quantized(q)?),
            Code::Higgs(q) => Encoded::Higgs(HiggsBuffers::from_quantized(q)?),
        })
    }

    /// Whether this quantized form of `x`, and `restored` (its dequantized values), equal
    /// the plain-Rust reference's bit for bit: codes, scales, zeros, values.
    pub fn matches_reference<E: Element>(&self, x: &[E], restored: &[E]) -> Result<bool, HostError> {
        Ok(match self {
            Encoded::Uniform(b) => {
                let want = b.q.quantize_as(x, b.grouping)?;
                b.to_quantized()? == want && want.dequantize_as::<E>()? == restored
            }
            Encoded::Higgs(b) => {
                let c = b.config;
                let reference = Higgs::new(c.group, c.dim, c.points)?;
                let want = reference.quantize_as(x);
                b.to_quantized()? == want && reference.dequantize_as::<E>(&want)? == restored
            }
        })
    }
}

/// Quantizes `x` with one codec's kernels and dequantizes with another's (of the same
/// method): the reconstruction, in `x`'s dtype.
pub(crate) fn roundtrip(codecs: [&Codec; 2], rt: &Runtime, x: &HostBuffer) -> Result<HostBuffer, HostError> {
    let mut buffers = LaunchBuffers::new(rt, codecs[0].method(), x)?;
    buffers.roundtrip(rt, codecs)?;
    Ok(buffers.into_host(rt)?.1)
}
