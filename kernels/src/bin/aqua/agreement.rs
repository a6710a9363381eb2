//! How far a backend's quantizer kernels agree with the CPU's default ones: `aqua bench
//! --gpu` and `aqua tune` print it next to every figure, so a fast configuration that
//! computes something else cannot go unnoticed.

use aqua_dsl::DType;
use aqua_kernels::host::buffers::LaunchBuffers;
use aqua_kernels::host::codec::Codec;
use aqua_runtime::{HostBuffer, Runtime};
use half::f16;

use crate::bench_gpu::fail;
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
    codecs: [&Codec; 2],
    cpu: &Runtime,
    xs: &[f16],
) -> Result<Agreement, CliError> {
    let method = codecs[0].method();
    let x = HostBuffer::from_slice(xs);
    let run = |rt: &Runtime, codecs: [&Codec; 2]| -> Result<(Vec<HostBuffer>, HostBuffer), CliError> {
        let mut buffers = LaunchBuffers::new(rt, method, &x).map_err(fail)?;
        buffers.roundtrip(rt, codecs).map_err(fail)?;
        buffers.into_host(rt).map_err(fail)
    };
    let (encoded, out) = run(rt, codecs)?;
    let default = Codec::compile(cpu, method, DType::F16).map_err(fail)?;
    let (expected, expected_out) = run(cpu, [&default, &default])?;

    let (mut equal, mut total) = (0, 0);
    for (got, want) in encoded.iter().zip(&expected) {
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
