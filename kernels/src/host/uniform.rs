//! The uniform quantizer kernels as a Rust API: compile a variant once, then quantize and
//! dequantize host buffers with it.
//!
//! ```no_run
//! # use aqua_kernels::host::uniform::UniformKernels;
//! # use aqua_kernels::quant::Uniform;
//! # fn demo(xs: &[half::f16]) -> Result<(), aqua_kernels::host::HostError> {
//! let rt = aqua_runtime::Runtime::cpu();
//! let kernels = UniformKernels::compile(&rt, Uniform::new(2, 64)?, 1024, aqua_dsl::DType::F16)?;
//! let x = aqua_runtime::HostBuffer::from_slice(xs);
//! let q = kernels.quantize(&rt, &x)?;          // packed codes, f16 scale and zero
//! let x_hat = kernels.dequantize(&rt, &q)?;     // f16, like the input
//! # Ok(()) }
//! ```

use std::sync::Arc;

use aqua_dsl::{DType, KernelSource, Params};
use aqua_runtime::{Arg, CompileReport, CompiledKernel, HostBuffer, Input, Runtime};
use half::f16;

use super::HostError;
use crate::kernels::{dequantize_uniform, dequantize_uniform_f32, quantize_uniform, quantize_uniform_f32};
use crate::quant::{Quantized, Uniform};

/// The quantize and dequantize kernels of one variant (bits, group, block, dtype).
pub struct UniformKernels {
    q: Uniform,
    block: u32,
    dtype: DType,
    quantize: Arc<CompiledKernel>,
    dequantize: Arc<CompiledKernel>,
    reports: [CompileReport; 2],
}

/// A quantized tensor in host buffers, as the kernels write it.
pub struct QuantizedBuffers {
    pub n: usize,
    /// u32, `q.code_words(n)` words.
    pub codes: HostBuffer,
    /// f16, one per group.
    pub scale: HostBuffer,
    /// f16, one per group.
    pub zero: HostBuffer,
}

impl QuantizedBuffers {
    /// Zeroed buffers for `n` values.
    pub fn zeros(q: Uniform, n: usize) -> QuantizedBuffers {
        QuantizedBuffers {
            n,
            codes: HostBuffer::zeros(DType::U32, q.code_words(n)),
            scale: HostBuffer::zeros(DType::F16, q.groups(n)),
            zero: HostBuffer::zeros(DType::F16, q.groups(n)),
        }
    }

    /// The reference's representation (copies).
    pub fn to_quantized(&self, q: Uniform) -> Result<Quantized, HostError> {
        let t = Quantized {
            q,
            n: self.n,
            codes: self.codes.to_vec::<u32>()?,
            scale: self.scale.to_vec::<f16>()?,
            zero: self.zero.to_vec::<f16>()?,
        };
        t.check()?;
        Ok(t)
    }

    /// Bytes of codes, scales and zeros.
    pub fn size_bytes(&self) -> usize {
        self.codes.size_bytes() + self.scale.size_bytes() + self.zero.size_bytes()
    }
}

impl UniformKernels {
    /// Compiles (or finds in the runtime's caches) the two kernels of a variant.
    pub fn compile(rt: &Runtime, q: Uniform, block: u32, dtype: DType) -> Result<UniformKernels, HostError> {
        let (quantize, dequantize): (&dyn KernelSource, &dyn KernelSource) = match dtype {
            DType::F16 => (&quantize_uniform, &dequantize_uniform),
            DType::F32 => (&quantize_uniform_f32, &dequantize_uniform_f32),
            other => {
                return Err(HostError::Input {
                    kernel: "quantize_uniform".into(),
                    problem: format!("inputs are f16 or f32, not {other}"),
                })
            }
        };
        let params = Params::new()
            .with("bits", q.bits())
            .with("group", q.group() as u32)
            .with("block", block);
        let (quantize, rq) = rt.compile_with_report(Input::Source(quantize, &params), rt.mode())?;
        let (dequantize, rd) = rt.compile_with_report(Input::Source(dequantize, &params), rt.mode())?;
        Ok(UniformKernels {
            q,
            block,
            dtype,
            quantize,
            dequantize,
            reports: [rq, rd],
        })
    }

    pub fn quantizer(&self) -> Uniform {
        self.q
    }

    /// Values per program.
    pub fn block(&self) -> u32 {
        self.block
    }

    /// The input dtype of quantize and the output dtype of dequantize (f16 or f32).
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// How each kernel was obtained (compiled, or from which cache level), quantize first.
    pub fn reports(&self) -> &[CompileReport; 2] {
        &self.reports
    }

    /// Programs covering `n` values (zero for an empty input).
    fn grid(&self, n: usize) -> Result<[u32; 3], HostError> {
        let groups_per_program = self.block as usize / self.q.group();
        let programs = self.q.groups(n).div_ceil(groups_per_program);
        if n > i32::MAX as usize || programs > u32::MAX as usize {
            return Err(HostError::Input {
                kernel: self.quantize.name().to_string(),
                problem: format!("{n} values exceed the kernels' i32 offsets"),
            });
        }
        Ok([programs as u32, 1, 1])
    }

    /// Quantizes `x` (of the variant's dtype) into `out` (sized for `x.len()` values).
    pub fn quantize_into(&self, rt: &Runtime, x: &HostBuffer, out: &mut QuantizedBuffers) -> Result<(), HostError> {
        let n = x.len();
        if out.n != n {
            return Err(HostError::Input {
                kernel: self.quantize.name().to_string(),
                problem: format!("output sized for {} values, input has {n}", out.n),
            });
        }
        let grid = self.grid(n)?;
        if grid[0] == 0 {
            return Ok(());
        }
        let QuantizedBuffers { codes, scale, zero, .. } = out;
        let mut args = [
            Arg::Buf(x),
            Arg::BufMut(codes),
            Arg::BufMut(scale),
            Arg::BufMut(zero),
            Arg::i32(n as i32),
        ];
        Ok(rt.launch(&self.quantize, grid, &mut args)?)
    }

    pub fn quantize(&self, rt: &Runtime, x: &HostBuffer) -> Result<QuantizedBuffers, HostError> {
        let mut out = QuantizedBuffers::zeros(self.q, x.len());
        self.quantize_into(rt, x, &mut out)?;
        Ok(out)
    }

    /// Dequantizes `q` into `out` (the variant's dtype, `q.n` values).
    pub fn dequantize_into(&self, rt: &Runtime, q: &QuantizedBuffers, out: &mut HostBuffer) -> Result<(), HostError> {
        if out.len() != q.n {
            return Err(HostError::Input {
                kernel: self.dequantize.name().to_string(),
                problem: format!("output holds {} values, the quantized tensor {}", out.len(), q.n),
            });
        }
        let grid = self.grid(q.n)?;
        if grid[0] == 0 {
            return Ok(());
        }
        let mut args = [
            Arg::Buf(&q.codes),
            Arg::Buf(&q.scale),
            Arg::Buf(&q.zero),
            Arg::BufMut(out),
            Arg::i32(q.n as i32),
        ];
        Ok(rt.launch(&self.dequantize, grid, &mut args)?)
    }

    pub fn dequantize(&self, rt: &Runtime, q: &QuantizedBuffers) -> Result<HostBuffer, HostError> {
        let mut out = HostBuffer::zeros(self.dtype, q.n);
        self.dequantize_into(rt, q, &mut out)?;
        Ok(out)
    }
}
