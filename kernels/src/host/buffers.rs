//! A quantizer's buffers in the memory a runtime's kernels read: the values and the
//! quantized form in host memory, or on a CUDA runtime in device memory (the values copied
//! there once), so that launches copy nothing. The autotuner times candidates on them,
//! and the `aqua` command checks a backend against the CPU with them.

use aqua_runtime::{Arg, BackendKind, DeviceBuffer, HostBuffer, Runtime};

use super::codec::{Codec, Method};
use super::HostError;

/// The values `x`, the quantized form of `method` and an output for the dequantized values.
pub enum LaunchBuffers<'x> {
    Host { x: &'x HostBuffer, encoded: Vec<HostBuffer>, out: HostBuffer },
    Device { x: DeviceBuffer, encoded: Vec<DeviceBuffer>, out: DeviceBuffer },
}

impl<'x> LaunchBuffers<'x> {
    /// Zeroed outputs for `x`'s values, and `x` itself (on a CUDA runtime: a device copy).
    pub fn new(rt: &Runtime, method: Method, x: &'x HostBuffer) -> Result<LaunchBuffers<'x>, HostError> {
        let layout = method.encoded_layout(x.len());
        Ok(match rt.backend() {
            BackendKind::Cuda => LaunchBuffers::Device {
                x: rt.upload(x)?,
                encoded: layout.iter().map(|&(_, d, len)| rt.alloc(d, len)).collect::<Result<_, _>>()?,
                out: rt.alloc(x.dtype(), x.len())?,
            },
            _ => LaunchBuffers::Host {
                x,
                encoded: layout.iter().map(|&(_, d, len)| HostBuffer::zeros(d, len)).collect(),
                out: HostBuffer::zeros(x.dtype(), x.len()),
            },
        })
    }

    /// The arguments of [`Codec::launch_quantize`]: `x`, and the quantized form to write.
    pub fn quantize_args(&mut self) -> (Arg<'_>, Vec<Arg<'_>>) {
        match self {
            LaunchBuffers::Host { x, encoded, .. } => (Arg::Buf(x), encoded.iter_mut().map(Arg::BufMut).collect()),
            LaunchBuffers::Device { x, encoded, .. } => {
                (Arg::DevBuf(x), encoded.iter_mut().map(Arg::DevBufMut).collect())
            }
        }
    }

    /// The arguments of [`Codec::launch_dequantize`]: the quantized form, and the output.
    pub fn dequantize_args(&mut self) -> (Vec<Arg<'_>>, Arg<'_>) {
        match self {
            LaunchBuffers::Host { encoded, out, .. } => (encoded.iter().map(Arg::Buf).collect(), Arg::BufMut(out)),
            LaunchBuffers::Device { encoded, out, .. } => {
                (encoded.iter().map(Arg::DevBuf).collect(), Arg::DevBufMut(out))
            }
        }
    }

    /// Quantizes `x` with `quantize`'s kernels, then dequantizes with `dequantize`'s.
    pub fn roundtrip(&mut self, rt: &Runtime, [quantize, dequantize]: [&Codec; 2]) -> Result<(), HostError> {
        let (x, encoded) = self.quantize_args();
        quantize.launch_quantize(rt, x, encoded)?;
        let (encoded, out) = self.dequantize_args();
        dequantize.launch_dequantize(rt, encoded, out)
    }

    /// The quantized form and the dequantized values, in host memory (downloads wait for
    /// the kernels queued on the GPU).
    pub fn into_host(self, rt: &Runtime) -> Result<(Vec<HostBuffer>, HostBuffer), HostError> {
        Ok(match self {
            LaunchBuffers::Host { encoded, out, .. } => (encoded, out),
            LaunchBuffers::Device { encoded, out, .. } => {
                let encoded = encoded.iter().map(|b| rt.download(b)).collect::<Result<_, _>>()?;
                (encoded, rt.download(&out)?)
            }
        })
    }
}
