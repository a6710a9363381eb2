//! The HIGGS kernels as a Rust API: compile a variant once (grid, Hadamard group, dtype,
//! block), then quantize and dequantize host buffers with it.
//!
//! ```no_run
//! # use aqua_kernels::host::higgs::HiggsKernels;
//! # use aqua_kernels::quant::higgs::HiggsConfig;
//! # fn demo(xs: &[half::f16]) -> Result<(), aqua_kernels::host::HostError> {
//! let rt = aqua_runtime::Runtime::cpu();
//! let config = HiggsConfig::new(64, 2, 16)?;             // EDEN2-16, one group per head of 64
//! let kernels = HiggsKernels::compile(&rt, config, aqua_dsl::DType::F16)?;
//! let x = aqua_runtime::HostBuffer::from_slice(xs);
//! let packed = kernels.quantize(&rt, &x)?;                // packed grid indices, f16 scales
//! let x_hat = kernels.dequantize(&rt, &packed)?;          // f16, like the input
//! # Ok(()) }
//! ```

use std::sync::Arc;

use aqua_dsl::{DType, KernelSource, Params};
use aqua_runtime::{Arg, CompileReport, CompiledKernel, HostBuffer, Input, Runtime};
use half::f16;

use super::codec::Method;
use super::streaming::StreamingForm;
use super::{check_dtype, grid_axis, input_error, launch_quantizer, HostError, Values};
use crate::kernels::higgs_math;
use crate::kernels::*;
use crate::quant::higgs::{HiggsConfig, HiggsQuantized};
use crate::quant::Storage;

/// Groups per program by default: the lanes every step of the kernels is vectorized over.
pub const DEFAULT_LANES: u32 = 16;

/// [`DEFAULT_LANES`] groups per program, fewer where the search's distance block would
/// exceed the IR's limit (groups of 1024 with 256 points in 2 dimensions: 8), and at
/// least one packing unit of codes.
pub fn default_block(config: HiggsConfig) -> u32 {
    let (dim, points) = (config.dim as u32, config.points as u32);
    (config.group as u32 * DEFAULT_LANES)
        .min(higgs_math::max_block(dim, points))
        .max(config.group as u32)
        .max(32 * dim)
}

/// The quantize and dequantize kernels of one variant.
pub struct HiggsKernels {
    config: HiggsConfig,
    block: u32,
    dtype: DType,
    quantize: Arc<CompiledKernel>,
    dequantize: Arc<CompiledKernel>,
    streaming: StreamingForm,
    reports: [CompileReport; 2],
}

/// A HIGGS-quantized tensor in host buffers, as the kernels write it.
pub struct HiggsBuffers {
    pub config: HiggsConfig,
    pub n: usize,
    /// u32, `config.code_words(n)` words.
    pub codes: HostBuffer,
    /// f16, one per group.
    pub scale: HostBuffer,
}

impl HiggsBuffers {
    /// Zeroed buffers for `n` values.
    pub fn zeros(config: HiggsConfig, n: usize) -> HiggsBuffers {
        HiggsBuffers {
            config,
            n,
            codes: HostBuffer::zeros(DType::U32, config.code_words(n)),
            scale: HostBuffer::zeros(DType::F16, config.groups(n)),
        }
    }

    /// Buffers holding the reference's representation `t` (copies), for the kernels to
    /// dequantize.
    pub fn from_quantized(t: &HiggsQuantized) -> Result<HiggsBuffers, HostError> {
        t.check()?;
        Ok(HiggsBuffers {
            config: t.config,
            n: t.n,
            codes: HostBuffer::from_slice(&t.codes),
            scale: HostBuffer::from_slice(&t.scale),
        })
    }

    /// The reference's representation (copies).
    pub fn to_quantized(&self) -> Result<HiggsQuantized, HostError> {
        let t = HiggsQuantized {
            config: self.config,
            n: self.n,
            codes: self.codes.to_vec::<u32>()?,
            scale: self.scale.to_vec::<f16>()?,
        };
        t.check()?;
        Ok(t)
    }
}

impl HiggsKernels {
    /// Compiles (or finds in the runtime's caches) the two kernels of a variant, with
    /// [`default_block`] values per program.
    pub fn compile(rt: &Runtime, config: HiggsConfig, dtype: DType) -> Result<HiggsKernels, HostError> {
        HiggsKernels::compile_with_block(rt, config, dtype, default_block(config))
    }

    /// Compiles a variant with `block` values per program.
    pub fn compile_with_block(
        rt: &Runtime,
        config: HiggsConfig,
        dtype: DType,
        block: u32,
    ) -> Result<HiggsKernels, HostError> {
        check_dtype("quantize_higgs", dtype)?;
        let (quantize, dequantize): (&dyn KernelSource, &'static dyn KernelSource) = match dtype {
            DType::F16 => (&quantize_higgs, &dequantize_higgs),
            DType::BF16 => (&quantize_higgs_bf16, &dequantize_higgs_bf16),
            _ => (&quantize_higgs_f32, &dequantize_higgs_f32),
        };
        let params = Params::new()
            .with("dim", config.dim as u32)
            .with("points", config.points as u32)
            .with("group", config.group as u32)
            .with("block", block);
        let (quantize, rq) = rt.compile_with_report(Input::Source(quantize, &params), rt.mode())?;
        let streaming = StreamingForm::new(dequantize, &params, dtype);
        let (dequantize, rd) = rt.compile_with_report(Input::Source(dequantize, &params), rt.mode())?;
        Ok(HiggsKernels {
            config,
            block,
            dtype,
            quantize,
            dequantize,
            streaming,
            reports: [rq, rd],
        })
    }

    pub fn config(&self) -> HiggsConfig {
        self.config
    }

    /// Values per program.
    pub fn block(&self) -> u32 {
        self.block
    }

    /// Whether dequantizing `n` values writes them with streaming stores
    /// ([`super::streaming`]): on a CPU, outputs of [`super::streaming::streaming_bytes`]
    /// and more.
    pub fn streams_output(&self, rt: &Runtime, n: usize) -> bool {
        self.streaming.streams(rt, n)
    }

    /// The input dtype of quantize and the output dtype of dequantize.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// How each kernel was obtained, quantize first.
    pub fn reports(&self) -> &[CompileReport; 2] {
        &self.reports
    }

    /// What `n` values store.
    pub fn storage(&self, n: usize) -> Storage {
        self.config.storage(n)
    }

    /// Programs covering `n` values (`None` for an empty input).
    fn grid(&self, kernel: &str, n: usize) -> Result<Option<[u32; 3]>, HostError> {
        if n == 0 {
            return Ok(None);
        }
        if n > i32::MAX as usize {
            return Err(input_error(
                kernel,
                format!("{n} values exceed the kernels' i32 offsets"),
            ));
        }
        let per_program = self.block as usize / self.config.group;
        Ok(Some([
            grid_axis(kernel, self.config.groups(n).div_ceil(per_program))?,
            1,
            1,
        ]))
    }

    /// The quantized form of `n` values as the kernels take it: codes and scales
    /// ([`Method::encoded_layout`]).
    pub fn encoded_layout(&self, n: usize) -> Vec<(&'static str, DType, usize)> {
        Method::Higgs(self.config).encoded_layout(n)
    }

    /// Quantize (`Values::Input`: `x`, then the encoded buffers to write) or dequantize
    /// (the encoded buffers, then `Values::Output`), on buffers of either memory, as
    /// [`Method::encoded_layout`] sizes them ([`super::codec::Codec::launch_quantize`]).
    pub(crate) fn launch<'a>(&self, rt: &Runtime, values: Values<'a>, encoded: Vec<Arg<'a>>) -> Result<(), HostError> {
        let kernel = match values {
            Values::Input(_) => &self.quantize,
            Values::Output(_) => self.streaming.pick(rt, &self.dequantize, values.len(self.dequantize.name())?)?,
        };
        let n = values.len(kernel.name())?;
        let shape = self
            .grid(kernel.name(), n)?
            .map(|grid| (grid, vec![Arg::i32(n as i32)]));
        let layout = self.encoded_layout(n);
        launch_quantizer(rt, kernel, values, encoded, &layout, shape)
    }

    /// Quantizes `x` (of the variant's dtype) into `out` (sized for `x.len()` values).
    pub fn quantize_into(&self, rt: &Runtime, x: &HostBuffer, out: &mut HiggsBuffers) -> Result<(), HostError> {
        if out.n != x.len() || out.config != self.config {
            return Err(input_error(
                self.quantize.name(),
                format!(
                    "output sized for {} values of {:?}, input has {}",
                    out.n,
                    out.config,
                    x.len()
                ),
            ));
        }
        let encoded = vec![Arg::BufMut(&mut out.codes), Arg::BufMut(&mut out.scale)];
        self.launch(rt, Values::Input(Arg::Buf(x)), encoded)
    }

    pub fn quantize(&self, rt: &Runtime, x: &HostBuffer) -> Result<HiggsBuffers, HostError> {
        let mut out = HiggsBuffers::zeros(self.config, x.len());
        self.quantize_into(rt, x, &mut out)?;
        Ok(out)
    }

    /// Dequantizes `q` into `out` (the variant's dtype, `q.n` values).
    pub fn dequantize_into(&self, rt: &Runtime, q: &HiggsBuffers, out: &mut HostBuffer) -> Result<(), HostError> {
        if out.len() != q.n || q.config != self.config {
            return Err(input_error(
                self.dequantize.name(),
                format!(
                    "output holds {} values, the quantized tensor {} ({:?})",
                    out.len(),
                    q.n,
                    q.config
                ),
            ));
        }
        let encoded = vec![Arg::Buf(&q.codes), Arg::Buf(&q.scale)];
        self.launch(rt, Values::Output(Arg::BufMut(out)), encoded)
    }

    pub fn dequantize(&self, rt: &Runtime, q: &HiggsBuffers) -> Result<HostBuffer, HostError> {
        let mut out = HostBuffer::zeros(self.dtype, q.n);
        self.dequantize_into(rt, q, &mut out)?;
        Ok(out)
    }
}
