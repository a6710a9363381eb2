//! How far a backend's quantizer kernels agree with the CPU's default ones: `aqua bench
//! --gpu` and `aqua tune` print it next to every figure, so a fast configuration that
//! computes something else cannot go unnoticed.

use aqua_dsl::DType;
use aqua_kernels::host::codec::{Codec, Encoded};
use aqua_runtime::{Arg, BackendKind, HostBuffer, Runtime};
use half::f16;

use crate::bench_gpu::{alloc_encoded, fail};
use crate::error::CliError;

/// How much of two quantizers' results agree, in percent of elements with equal bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Agreement {
    /// Of the quantized form's elements (codes, scales, zeros).
    pub encoded: f64,
    /// Of the dequantized values.
    pub values: f64,
}

impl Agreement {
    pub fn exact(&self) -> bool {
        self.encoded == 100.0 && self.values == 100.0
    }

    /// `encoded 100.000% equal`.
    pub fn encoded_text(&self) -> String {
        format!("encoded {:.3}% equal", self.encoded)
    }

    /// `values 100.000% equal`.
    pub fn values_text(&self) -> String {
        format!("values {:.3}% equal", self.values)
    }
}

/// Quantizes and dequantizes `xs` on `rt` with the `quantize` and `dequantize` codecs
/// (device buffers on a GPU) and on `cpu` with the default codec; how much agrees.
pub(crate) fn compare_with_cpu(
    rt: &Runtime,
    [quantize, dequantize]: [&Codec; 2],
    cpu: &Runtime,
    xs: &[f16],
) -> Result<Agreement, CliError> {
    let n = xs.len();
    let method = quantize.method();
    let x = HostBuffer::from_slice(xs);
    let (encoded, out) = if rt.backend() == BackendKind::Cuda {
        let x = rt.upload(&x).map_err(fail)?;
        let mut encoded = alloc_encoded(rt, method, n)?;
        let mut out = rt.alloc(DType::F16, n).map_err(fail)?;
        let args = encoded.iter_mut().map(Arg::DevBufMut).collect();
        quantize.launch_quantize(rt, Arg::DevBuf(&x), args).map_err(fail)?;
        let args = encoded.iter().map(Arg::DevBuf).collect();
        dequantize.launch_dequantize(rt, args, Arg::DevBufMut(&mut out)).map_err(fail)?;
        let encoded = encoded.iter().map(|b| rt.download(b).map_err(fail)).collect::<Result<Vec<_>, _>>()?;
        (encoded, rt.download(&out).map_err(fail)?)
    } else {
        let layout = method.encoded_layout(n);
        let mut encoded: Vec<HostBuffer> = layout.iter().map(|&(_, d, len)| HostBuffer::zeros(d, len)).collect();
        let mut out = HostBuffer::zeros(DType::F16, n);
        let args = encoded.iter_mut().map(Arg::BufMut).collect();
        quantize.launch_quantize(rt, Arg::Buf(&x), args).map_err(fail)?;
        let args = encoded.iter().map(Arg::Buf).collect();
        dequantize.launch_dequantize(rt, args, Arg::BufMut(&mut out)).map_err(fail)?;
        (encoded, out)
    };

    let codec = Codec::compile(cpu, method, DType::F16).map_err(fail)?;
    let mut expected = codec.encoded(n);
    codec.quantize_into(cpu, &x, &mut expected).map_err(fail)?;
    let mut expected_out = HostBuffer::zeros(DType::F16, n);
    codec.dequantize_into(cpu, &expected, &mut expected_out).map_err(fail)?;
    let expected: Vec<&HostBuffer> = match &expected {
        Encoded::Uniform(q) => vec![&q.codes, &q.scale, &q.zero],
        Encoded::Higgs(q) => vec![&q.codes, &q.scale],
    };

    let (mut equal, mut total) = (0, 0);
    for (got, want) in encoded.iter().zip(expected) {
        let (e, t) = equal_elements(got, want);
        (equal, total) = (equal + e, total + t);
    }
    let percent = |(e, t): (usize, usize)| 100.0 * e as f64 / t.max(1) as f64;
    Ok(Agreement { encoded: percent((equal, total)), values: percent(equal_elements(&out, &expected_out)) })
}

/// How many elements of `a` and `b` (same dtype and length) have equal bytes, of how many.
fn equal_elements(a: &HostBuffer, b: &HostBuffer) -> (usize, usize) {
    let size = a.dtype().size_bytes();
    let equal = a.as_bytes().chunks(size).zip(b.as_bytes().chunks(size)).filter(|(x, y)| x == y).count();
    (equal, a.len().max(b.len()))
}
