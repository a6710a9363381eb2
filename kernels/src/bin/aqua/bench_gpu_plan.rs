//! How `aqua bench --gpu` launches one variant's quantize and dequantize kernels on
//! buffers of either memory. `aqua_kernels::host` launches on host buffers only (every
//! GPU launch would copy the tensor both ways), so this restates its grids, argument lists
//! and output sizes for device-resident buffers; the tile comes from `host` itself. A test
//! runs a plan on host buffers on the CPU and compares it with `host::codec`, so the GPU
//! benchmark launches exactly what the CPU benchmark does.

use std::sync::Arc;

use aqua_dsl::ir::Const;
use aqua_dsl::{DType, KernelSource, Params};
use aqua_kernels::host::codec::Method;
use aqua_kernels::host::higgs::default_block;
use aqua_kernels::host::uniform::UniformKernels;
use aqua_kernels::kernels::{
    dequantize_higgs, dequantize_uniform, dequantize_uniform_tokens, quantize_higgs,
    quantize_uniform, quantize_uniform_tokens,
};
use aqua_kernels::quant::{Grouping, Storage};
use aqua_runtime::{Arg, CompiledKernel, LaunchError, Runtime};

/// One variant's two kernels (f16 in and out) and how to launch them on `n` values.
pub struct LaunchPlan {
    quantize: Arc<CompiledKernel>,
    dequantize: Arc<CompiledKernel>,
    /// The quantized form: codes (u32), scales (f16) and, for uniform, zeros (f16), as
    /// (dtype, elements), in the kernels' argument order.
    encoded: Vec<(DType, usize)>,
    grid: [u32; 3],
    /// The kernels' trailing size arguments.
    sizes: Vec<Const>,
    /// What the `n` values store.
    storage: Storage,
}

impl LaunchPlan {
    /// Compiles `method`'s kernels on `rt` and plans launches over `n` values (whole
    /// tokens when grouping along tokens), with the tile `host` picks.
    pub fn new(rt: &Runtime, method: Method, n: usize) -> Result<LaunchPlan, String> {
        LaunchPlan::tiled(rt, method, n, None)
    }

    /// [`LaunchPlan::new`] with another tile where `tile` says: values per program
    /// (uniform along channels, HIGGS), channels per program (uniform along tokens).
    pub fn tiled(
        rt: &Runtime,
        method: Method,
        n: usize,
        tile: Option<u32>,
    ) -> Result<LaunchPlan, String> {
        if n == 0 || n > i32::MAX as usize {
            return Err(format!("{n} values: the kernels take 1 to 2^31 - 1"));
        }
        let i32_arg = |v: usize| Const::from_i64(DType::I32, v as i64);
        let storage = match method {
            Method::Uniform(q, grouping) => q.storage(n, grouping),
            Method::Higgs(config) => config.storage(n),
        };
        let (sources, params, encoded, grid, sizes): (_, _, _, [usize; 2], _) = match method {
            Method::Uniform(q, grouping) => {
                // The tile `host::uniform` picks (its kernels are then memory-cache hits).
                let kernels = match tile {
                    Some(t) => UniformKernels::compile_tiled(rt, q, grouping, DType::F16, t),
                    None => UniformKernels::compile(rt, q, grouping, DType::F16),
                };
                let tile = kernels.map_err(|e| e.to_string())?.tile();
                let groups = q.groups(n, grouping);
                let encoded = vec![
                    (DType::U32, q.code_words(n, grouping)),
                    (DType::F16, groups),
                    (DType::F16, groups),
                ];
                let params = Params::new()
                    .with("bits", q.bits())
                    .with("group", q.group() as u32);
                match grouping {
                    Grouping::Channels => {
                        let sources: [&dyn KernelSource; 2] =
                            [&quantize_uniform, &dequantize_uniform];
                        let grid = [groups.div_ceil(tile as usize / q.group()), 1];
                        (
                            sources,
                            params.with("block", tile),
                            encoded,
                            grid,
                            vec![i32_arg(n)],
                        )
                    }
                    Grouping::Tokens { channels } => {
                        if !n.is_multiple_of(channels) {
                            return Err(format!(
                                "{n} values are not whole tokens of {channels} channels"
                            ));
                        }
                        let tokens = n / channels;
                        let sources: [&dyn KernelSource; 2] =
                            [&quantize_uniform_tokens, &dequantize_uniform_tokens];
                        let grid = [channels.div_ceil(tile as usize), tokens.div_ceil(q.group())];
                        (
                            sources,
                            params.with("cols", tile),
                            encoded,
                            grid,
                            vec![i32_arg(tokens), i32_arg(channels)],
                        )
                    }
                }
            }
            Method::Higgs(config) => {
                let block = tile.unwrap_or_else(|| default_block(config));
                let params = Params::new()
                    .with("dim", config.dim as u32)
                    .with("points", config.points as u32)
                    .with("group", config.group as u32)
                    .with("block", block);
                let sources: [&dyn KernelSource; 2] = [&quantize_higgs, &dequantize_higgs];
                let encoded = vec![
                    (DType::U32, config.code_words(n)),
                    (DType::F16, config.groups(n)),
                ];
                let grid = [config.groups(n).div_ceil(block as usize / config.group), 1];
                (sources, params, encoded, grid, vec![i32_arg(n)])
            }
        };
        let compile =
            |source: &dyn KernelSource| rt.compile(source, &params).map_err(|e| e.to_string());
        let axis = |programs: usize| {
            u32::try_from(programs).map_err(|_| format!("{programs} programs on a grid axis"))
        };
        Ok(LaunchPlan {
            quantize: compile(sources[0])?,
            dequantize: compile(sources[1])?,
            encoded,
            grid: [axis(grid[0])?, axis(grid[1])?, 1],
            sizes,
            storage,
        })
    }

    /// What the `n` values store (codes, scales, zeros), for bits per value.
    pub fn storage(&self) -> Storage {
        self.storage
    }

    /// The quantized form's buffers, as (dtype, elements), in argument order.
    pub fn encoded(&self) -> &[(DType, usize)] {
        &self.encoded
    }

    /// Bytes of the quantized form.
    pub fn encoded_bytes(&self) -> usize {
        self.encoded
            .iter()
            .map(|&(dtype, len)| dtype.size_bytes() * len)
            .sum()
    }

    /// Quantizes `x` (f16, `n` values) into `encoded` (mutable, sized as [`Self::encoded`]).
    pub fn quantize<'a>(
        &self,
        rt: &Runtime,
        x: Arg<'a>,
        encoded: impl IntoIterator<Item = Arg<'a>>,
    ) -> Result<(), LaunchError> {
        let mut args: Vec<Arg> = std::iter::once(x)
            .chain(encoded)
            .chain(self.sizes.iter().map(|&c| Arg::Scalar(c)))
            .collect();
        rt.launch(&self.quantize, self.grid, &mut args)
    }

    /// Dequantizes `encoded` into `out` (mutable f16, `n` values).
    pub fn dequantize<'a>(
        &self,
        rt: &Runtime,
        encoded: impl IntoIterator<Item = Arg<'a>>,
        out: Arg<'a>,
    ) -> Result<(), LaunchError> {
        let mut args: Vec<Arg> = encoded
            .into_iter()
            .chain(std::iter::once(out))
            .chain(self.sizes.iter().map(|&c| Arg::Scalar(c)))
            .collect();
        rt.launch(&self.dequantize, self.grid, &mut args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aqua_kernels::host::codec::{Codec, Encoded};
    use aqua_kernels::quant::grids::Grid;
    use aqua_kernels::quant::higgs::HiggsConfig;
    use aqua_kernels::quant::Uniform;
    use aqua_runtime::{HostBuffer, LaunchMode, RuntimeOptions};
    use half::f16;

    /// The codec's quantized buffers, in argument order.
    fn buffers(e: &Encoded) -> Vec<&HostBuffer> {
        match e {
            Encoded::Uniform(q) => vec![&q.codes, &q.scale, &q.zero],
            Encoded::Higgs(q) => vec![&q.codes, &q.scale],
        }
    }

    #[test]
    fn plans_launch_what_the_host_codec_launches() {
        let rt = Runtime::cpu_with(RuntimeOptions {
            threads: 2,
            mode: LaunchMode::Unchecked,
            cache_dir: None,
            dump_dir: None,
            ..RuntimeOptions::default()
        });
        let channels = 192;
        // 70 tokens: a partial last group along tokens, a partial last program along channels.
        let n = 70 * channels;
        let xs: Vec<f16> = (0..n)
            .map(|i| f16::from_f32(((i * 37 % 101) as f32 - 50.0) / 17.0))
            .collect();
        let x = HostBuffer::from_slice(&xs);
        let methods = [
            Method::Uniform(Uniform::new(2, 64).unwrap(), Grouping::Channels),
            Method::Uniform(Uniform::new(3, 32).unwrap(), Grouping::Tokens { channels }),
            Method::Higgs(HiggsConfig::new(64, 2, Grid::for_bits(2, 2).unwrap().len()).unwrap()),
        ];
        for method in methods {
            let codec = Codec::compile(&rt, method, DType::F16).unwrap();
            let mut expected = codec.encoded(n);
            codec.quantize_into(&rt, &x, &mut expected).unwrap();
            let mut expected_out = HostBuffer::zeros(DType::F16, n);
            codec
                .dequantize_into(&rt, &expected, &mut expected_out)
                .unwrap();

            // The default tile, and the smallest of a tile sweep's (`bench_gpu_sweep`).
            let small = match method {
                Method::Uniform(_, Grouping::Tokens { .. }) => 32,
                _ => 256,
            };
            for plan in [
                LaunchPlan::new(&rt, method, n).unwrap(),
                LaunchPlan::tiled(&rt, method, n, Some(small)).unwrap(),
            ] {
                let mut encoded: Vec<HostBuffer> = plan
                    .encoded()
                    .iter()
                    .map(|&(d, len)| HostBuffer::zeros(d, len))
                    .collect();
                let expected = buffers(&expected);
                assert_eq!(encoded.len(), expected.len(), "{method:?}");
                assert_eq!(
                    plan.encoded_bytes(),
                    expected.iter().map(|b| b.size_bytes()).sum::<usize>()
                );
                plan.quantize(&rt, Arg::Buf(&x), encoded.iter_mut().map(Arg::BufMut))
                    .unwrap();
                for (got, want) in encoded.iter().zip(&expected) {
                    assert!(
                        got.as_bytes() == want.as_bytes(),
                        "{method:?}: quantized buffers differ"
                    );
                }
                let mut out = HostBuffer::zeros(DType::F16, n);
                plan.dequantize(&rt, encoded.iter().map(Arg::Buf), Arg::BufMut(&mut out))
                    .unwrap();
                assert!(
                    out.as_bytes() == expected_out.as_bytes(),
                    "{method:?}: dequantized values differ"
                );
            }
        }
        let err = |method, n| LaunchPlan::new(&rt, method, n).err().unwrap_or_default();
        assert!(err(methods[1], n + 1).contains("whole tokens"));
        assert!(err(methods[0], 0).contains("1 to 2^31 - 1"));
    }
}
