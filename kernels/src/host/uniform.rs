//! The uniform quantizer kernels as a Rust API: compile a variant once (bits, group,
//! grouping, dtype, tile), then quantize and dequantize host buffers with it.
//!
//! ```no_run
//! # use aqua_kernels::host::uniform::UniformKernels;
//! # use aqua_kernels::quant::{Grouping, Uniform};
//! # fn demo(xs: &[half::f16]) -> Result<(), aqua_kernels::host::HostError> {
//! let rt = aqua_runtime::Runtime::cpu();
//! let q = Uniform::new(2, 64)?;
//! let kernels = UniformKernels::compile(&rt, q, Grouping::Channels, aqua_dsl::DType::F16)?;
//! let x = aqua_runtime::HostBuffer::from_slice(xs);
//! let packed = kernels.quantize(&rt, &x)?;            // packed codes, f16 scale and zero
//! let x_hat = kernels.dequantize(&rt, &packed)?;      // f16, like the input
//! # Ok(()) }
//! ```

use std::sync::Arc;

use aqua_dsl::{DType, KernelSource, Params};
use aqua_runtime::{Arg, BackendKind, CompileReport, CompiledKernel, HostBuffer, Input, Runtime};
use half::f16;

use super::codec::Method;
use super::streaming::StreamingForm;
use super::{check_dtype, grid_axis, input_error, launch_quantizer, HostError, Values};
use crate::kernels::*;
use crate::quant::{Grouping, Quantized, Storage, Uniform};

/// A launch grid and the kernel's trailing size arguments.
type LaunchShape = ([u32; 3], Vec<Arg<'static>>);

/// Values per program along channels, by default, on the CPU: one program is one task of
/// a core, and 4096 values (16 KiB of f32 on the stack) quantize about 10% faster than
/// 1024 (the per-tile set-up is spread wider) and compile in the same time.
pub const DEFAULT_BLOCK: u32 = 4096;
/// Values per program along channels, by default, on a GPU: 32 values a thread at 4
/// warps. A tile's fixed work (offsets, the scale and zero of each group, barriers) is
/// spread over 4 times as many values as at 1024, where the 2-bit quantizer's SASS is
/// about 300 instructions a thread for 8 values; at 4096 about 860 for 32 (27 a value
/// against 37, 22 since the packing loop is unrolled; an estimate from `aqua compile
/// --emit sass --stats`, until `aqua tune --backend cuda` measures it). 18 KiB of shared
/// memory a CTA still lets 12 CTAs share an SM.
pub const DEFAULT_GPU_BLOCK: u32 = 4096;

/// The quantize and dequantize kernels of one variant.
pub struct UniformKernels {
    q: Uniform,
    grouping: Grouping,
    tile: u32,
    dtype: DType,
    quantize: Arc<CompiledKernel>,
    dequantize: Arc<CompiledKernel>,
    /// Along tokens: the dequantizer that streams large outputs.
    streaming: Option<StreamingForm>,
    reports: [CompileReport; 2],
}

/// A quantized tensor in host buffers, as the kernels write it.
pub struct QuantizedBuffers {
    pub q: Uniform,
    pub grouping: Grouping,
    pub n: usize,
    /// u32, `q.code_words(n, grouping)` words.
    pub codes: HostBuffer,
    /// f16, one per group.
    pub scale: HostBuffer,
    /// f16, one per group.
    pub zero: HostBuffer,
}

impl QuantizedBuffers {
    /// Zeroed buffers for `n` values.
    pub fn zeros(q: Uniform, grouping: Grouping, n: usize) -> QuantizedBuffers {
        let groups = q.groups(n, grouping);
        QuantizedBuffers {
            q,
            grouping,
            n,
            codes: HostBuffer::zeros(DType::U32, q.code_words(n, grouping)),
            scale: HostBuffer::zeros(DType::F16, groups),
            zero: HostBuffer::zeros(DType::F16, groups),
        }
    }

    /// Buffers holding the reference's representation `t` (copies), for the kernels to
    /// dequantize.
    pub fn from_quantized(t: &Quantized) -> Result<QuantizedBuffers, HostError> {
        t.check()?;
        Ok(QuantizedBuffers {
            q: t.q,
            grouping: t.grouping,
            n: t.n,
            codes: HostBuffer::from_slice(&t.codes),
            scale: HostBuffer::from_slice(&t.scale),
            zero: HostBuffer::from_slice(&t.zero),
        })
    }

    /// The reference's representation (copies).
    pub fn to_quantized(&self) -> Result<Quantized, HostError> {
        let t = Quantized {
            q: self.q,
            grouping: self.grouping,
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

/// The default tile: [`DEFAULT_BLOCK`] values along channels ([`DEFAULT_GPU_BLOCK`] on a
/// GPU); along tokens, the largest of 64 and 32 channels dividing the channel count.
pub fn default_tile(rt: &Runtime, q: Uniform, grouping: Grouping) -> u32 {
    let block = if rt.backend() == BackendKind::Cuda { DEFAULT_GPU_BLOCK } else { DEFAULT_BLOCK };
    match grouping {
        Grouping::Channels => block.max(q.group() as u32),
        Grouping::Tokens { channels } if channels.is_multiple_of(64) => 64,
        Grouping::Tokens { .. } => 32,
    }
}

impl UniformKernels {
    /// Compiles (or finds in the runtime's caches) the two kernels of a variant with the
    /// default tile.
    pub fn compile(rt: &Runtime, q: Uniform, grouping: Grouping, dtype: DType) -> Result<UniformKernels, HostError> {
        UniformKernels::compile_tiled(rt, q, grouping, dtype, default_tile(rt, q, grouping))
    }

    /// Compiles a variant with an explicit tile: values per program along channels
    /// (`block`), channels per program along tokens (`cols`).
    pub fn compile_tiled(
        rt: &Runtime,
        q: Uniform,
        grouping: Grouping,
        dtype: DType,
        tile: u32,
    ) -> Result<UniformKernels, HostError> {
        let name = match grouping {
            Grouping::Channels => "quantize_uniform",
            Grouping::Tokens { .. } => "quantize_uniform_tokens",
        };
        check_dtype(name, dtype)?;
        if let Grouping::Tokens { channels } = grouping {
            if channels == 0 || !channels.is_multiple_of(32) {
                return Err(input_error(
                    name,
                    format!("{channels} channels: grouping along tokens needs a multiple of 32 channels"),
                ));
            }
        }
        let (quantize, dequantize): (&dyn KernelSource, &'static dyn KernelSource) = match (grouping, dtype) {
            (Grouping::Channels, DType::F16) => (&quantize_uniform, &dequantize_uniform),
            (Grouping::Channels, DType::BF16) => (&quantize_uniform_bf16, &dequantize_uniform_bf16),
            (Grouping::Channels, _) => (&quantize_uniform_f32, &dequantize_uniform_f32),
            (Grouping::Tokens { .. }, DType::F16) => (&quantize_uniform_tokens, &dequantize_uniform_tokens),
            (Grouping::Tokens { .. }, DType::BF16) => (&quantize_uniform_tokens_bf16, &dequantize_uniform_tokens_bf16),
            (Grouping::Tokens { .. }, _) => (&quantize_uniform_tokens_f32, &dequantize_uniform_tokens_f32),
        };
        let tile_name = match grouping {
            Grouping::Channels => "block",
            Grouping::Tokens { .. } => "cols",
        };
        let params = Params::new()
            .with("bits", q.bits())
            .with("group", q.group() as u32)
            .with(tile_name, tile);
        let (quantize, rq) = rt.compile_with_report(Input::Source(quantize, &params), rt.mode())?;
        let streaming =
            matches!(grouping, Grouping::Tokens { .. }).then(|| StreamingForm::new(dequantize, &params, dtype));
        let (dequantize, rd) = rt.compile_with_report(Input::Source(dequantize, &params), rt.mode())?;
        Ok(UniformKernels {
            q,
            grouping,
            tile,
            dtype,
            quantize,
            dequantize,
            streaming,
            reports: [rq, rd],
        })
    }

    pub fn quantizer(&self) -> Uniform {
        self.q
    }

    pub fn grouping(&self) -> Grouping {
        self.grouping
    }

    /// Values per program along channels; channels per program along tokens.
    pub fn tile(&self) -> u32 {
        self.tile
    }

    /// Whether dequantizing `n` values writes them with streaming stores
    /// ([`super::streaming`]): along tokens, on a CPU, outputs of
    /// [`super::streaming::streaming_bytes`] and more.
    pub fn streams_output(&self, rt: &Runtime, n: usize) -> bool {
        self.streaming.as_ref().is_some_and(|s| s.streams(rt, n))
    }

    /// The input dtype of quantize and the output dtype of dequantize.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// How each kernel was obtained (compiled, or from which cache level), quantize first.
    pub fn reports(&self) -> &[CompileReport; 2] {
        &self.reports
    }

    /// What `n` values store.
    pub fn storage(&self, n: usize) -> Storage {
        self.q.storage(n, self.grouping)
    }

    /// The launch grid and the size arguments for `n` values; `None` for an empty input.
    fn launch_shape(&self, kernel: &str, n: usize) -> Result<Option<LaunchShape>, HostError> {
        if n == 0 {
            return Ok(None);
        }
        let too_big = || input_error(kernel, format!("{n} values exceed the kernels' i32 offsets"));
        if n > i32::MAX as usize {
            return Err(too_big());
        }
        Ok(Some(match self.grouping {
            Grouping::Channels => {
                let per_program = self.tile as usize / self.q.group();
                let programs = self.q.groups(n, self.grouping).div_ceil(per_program);
                ([grid_axis(kernel, programs)?, 1, 1], vec![Arg::i32(n as i32)])
            }
            Grouping::Tokens { channels } => {
                if !n.is_multiple_of(channels) {
                    return Err(input_error(
                        kernel,
                        format!("{n} values are not whole tokens of {channels} channels"),
                    ));
                }
                let tokens = n / channels;
                let grid = [
                    grid_axis(kernel, channels.div_ceil(self.tile as usize))?,
                    grid_axis(kernel, tokens.div_ceil(self.q.group()))?,
                    1,
                ];
                (grid, vec![Arg::i32(tokens as i32), Arg::i32(channels as i32)])
            }
        }))
    }

    /// The quantized form of `n` values as the kernels take it: codes, scales and zeros
    /// ([`Method::encoded_layout`]).
    pub fn encoded_layout(&self, n: usize) -> Vec<(&'static str, DType, usize)> {
        Method::Uniform(self.q, self.grouping).encoded_layout(n)
    }

    /// Quantize (`Values::Input`: `x`, then the encoded buffers to write) or dequantize
    /// (the encoded buffers, then `Values::Output`), on buffers of either memory, as
    /// [`Method::encoded_layout`] sizes them ([`super::codec::Codec::launch_quantize`]).
    pub(crate) fn launch<'a>(&self, rt: &Runtime, values: Values<'a>, encoded: Vec<Arg<'a>>) -> Result<(), HostError> {
        let kernel = match (&values, &self.streaming) {
            (Values::Input(_), _) => &self.quantize,
            (Values::Output(_), None) => &self.dequantize,
            (Values::Output(_), Some(streaming)) => {
                streaming.pick(rt, &self.dequantize, values.len(self.dequantize.name())?)?
            }
        };
        let n = values.len(kernel.name())?;
        // First, since it checks `n` (whole tokens, i32 offsets) for the layout.
        let shape = self.launch_shape(kernel.name(), n)?;
        launch_quantizer(rt, kernel, values, encoded, &self.encoded_layout(n), shape)
    }

    /// Quantizes `x` (of the variant's dtype) into `out` (sized for `x.len()` values).
    pub fn quantize_into(&self, rt: &Runtime, x: &HostBuffer, out: &mut QuantizedBuffers) -> Result<(), HostError> {
        let n = x.len();
        if out.n != n || out.q != self.q || out.grouping != self.grouping {
            return Err(input_error(
                self.quantize.name(),
                format!(
                    "output sized for {} values of {:?} {:?}, input has {n}",
                    out.n, out.q, out.grouping
                ),
            ));
        }
        let QuantizedBuffers { codes, scale, zero, .. } = out;
        self.launch(rt, Values::Input(Arg::Buf(x)), vec![Arg::BufMut(codes), Arg::BufMut(scale), Arg::BufMut(zero)])
    }

    pub fn quantize(&self, rt: &Runtime, x: &HostBuffer) -> Result<QuantizedBuffers, HostError> {
        let mut out = QuantizedBuffers::zeros(self.q, self.grouping, x.len());
        self.quantize_into(rt, x, &mut out)?;
        Ok(out)
    }

    /// Dequantizes `q` into `out` (the variant's dtype, `q.n` values).
    pub fn dequantize_into(&self, rt: &Runtime, q: &QuantizedBuffers, out: &mut HostBuffer) -> Result<(), HostError> {
        if out.len() != q.n || q.q != self.q || q.grouping != self.grouping {
            return Err(input_error(
                self.dequantize.name(),
                format!(
                    "output holds {} values, the quantized tensor {} ({:?} {:?})",
                    out.len(),
                    q.n,
                    q.q,
                    q.grouping
                ),
            ));
        }
        self.launch(rt, Values::Output(Arg::BufMut(out)), vec![Arg::Buf(&q.codes), Arg::Buf(&q.scale), Arg::Buf(&q.zero)])
    }

    pub fn dequantize(&self, rt: &Runtime, q: &QuantizedBuffers) -> Result<HostBuffer, HostError> {
        let mut out = HostBuffer::zeros(self.dtype, q.n);
        self.dequantize_into(rt, q, &mut out)?;
        Ok(out)
    }
}
