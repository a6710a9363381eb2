//! Differential test of the GPU lowering without a GPU: random well-typed programs, the
//! reference interpreter vs the SIMT emulation (`Runtime::simt_with`: the thread-level
//! program the NVPTX target runs, compiled for the host and run with one host thread per
//! GPU thread, real barriers and shared memory as a host buffer). Outputs are compared
//! exactly or, for values that went through sums/dots/exp/log, within the tolerance of
//! `harness::floats_agree`, like the CPU's differential test.
//!
//! One host thread per GPU thread makes this slow (a barrier wakes every thread), so it
//! runs a sample of the CPU suite's programs: 1 warp (32 threads, so most blocks have
//! several elements per thread) on most, 4 warps (128 threads, blocks of fewer elements
//! than threads: masked threads) on the rest.

use aqua_runtime::{Runtime, RuntimeOptions};
use aqua_tests::harness::check_seeds;

fn run_seeds(num_warps: u32, seeds: impl Iterator<Item = u64>) {
    let options = RuntimeOptions { cache_dir: None, dump_dir: None, ..RuntimeOptions::default() };
    check_seeds(&Runtime::simt_with(options, num_warps), seeds);
}

#[test]
fn random_programs_on_one_warp() {
    run_seeds(1, 0..300);
}

#[test]
fn random_programs_on_four_warps() {
    run_seeds(4, (300..1000).step_by(7));
}

/// Random contents for a buffer of `dtype`: floats about N(0, 2) (so quantizer groups
/// have spread), integers small (codes, indices).
fn random_buffer(dtype: aqua_dsl::DType, len: usize, seed: u64) -> aqua_runtime::HostBuffer {
    use aqua_dsl::ir::Const;
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut bytes = Vec::with_capacity(len * dtype.size_bytes());
    for _ in 0..len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let c = if dtype.is_float() {
            // Sum of uniforms: roughly normal, no NaN or infinity.
            let u = |s: u64| (s & 0xffff) as f64 / 65536.0 - 0.5;
            Const::from_f64(dtype, 2.0 * (u(state) + u(state >> 16) + u(state >> 32) + u(state >> 48)))
        } else {
            Const::from_i64(dtype, (state % 200) as i64)
        };
        match dtype {
            aqua_dsl::DType::F32 => bytes.extend_from_slice(&(c.as_f64() as f32).to_le_bytes()),
            aqua_dsl::DType::F16 => bytes.extend_from_slice(&half::f16::from_f64(c.as_f64()).to_le_bytes()),
            aqua_dsl::DType::BF16 => bytes.extend_from_slice(&half::bf16::from_f64(c.as_f64()).to_le_bytes()),
            d => bytes.extend_from_slice(&c.as_i64().to_le_bytes()[..d.size_bytes()]),
        }
    }
    aqua_runtime::HostBuffer::from_bytes(dtype, &bytes).expect("sized for the dtype")
}

/// Every registry kernel at its default settings (first choice for required ones), on
/// random inputs: the SIMT emulation's outputs equal the CPU backend's bit for bit (both
/// run the same per-element code and the same reduction order per line; only the
/// distribution over threads differs). The CPU runs checked first, so an argument set
/// that would read out of bounds fails here instead of crashing the emulation.
#[test]
fn registry_kernels_match_the_cpu() {
    use aqua_dsl::ir::ParamKind;
    use aqua_dsl::{ComptimeValue, DType, Params};
    use aqua_runtime::{Arg, HostBuffer, LaunchMode};
    const LEN: usize = 1 << 16;
    let options = RuntimeOptions { cache_dir: None, dump_dir: None, ..RuntimeOptions::default() };
    let cpu = Runtime::cpu_with(RuntimeOptions { mode: LaunchMode::Checked, ..options.clone() });
    let simt = Runtime::simt_with(options, 4);
    for source in aqua_kernels::registry() {
        let mut params = Params::new();
        for p in source.comptime_params() {
            if p.default.is_none() {
                let v = match p.name {
                    "points" => 64,
                    _ => 4,
                };
                params.set(p.name, ComptimeValue::Int(v));
            }
        }
        let kernel = source.build(&params).unwrap_or_else(|e| panic!("{}: {e}", source.name()));
        let scalars = kernel.params.iter().filter(|p| matches!(p.kind, ParamKind::Scalar(DType::I32))).count();
        // One size scalar covers several blocks with a partial last one; two (tokens and
        // channels) make a 96 x 96 matrix.
        let size = if scalars >= 2 { 96 } else { 5000 };
        let run = |rt: &Runtime| -> Vec<HostBuffer> {
            let compiled = rt.compile_kernel(&kernel).unwrap_or_else(|e| panic!("{}: {e}", kernel.name));
            let mut bufs: Vec<HostBuffer> = kernel
                .params
                .iter()
                .enumerate()
                .filter_map(|(i, p)| match p.kind {
                    ParamKind::Ptr { dtype, .. } => Some(random_buffer(dtype, LEN, i as u64 + 1)),
                    ParamKind::Scalar(_) => None,
                })
                .collect();
            let mut it = bufs.iter_mut();
            let mut args: Vec<Arg> = kernel
                .params
                .iter()
                .map(|p| match p.kind {
                    ParamKind::Ptr { mutable: true, .. } => Arg::BufMut(it.next().expect("one buffer each")),
                    ParamKind::Ptr { .. } => Arg::Buf(&*it.next().expect("one buffer each")),
                    ParamKind::Scalar(DType::I32) => Arg::i32(size),
                    ParamKind::Scalar(DType::F32) => Arg::f32(0.75),
                    ParamKind::Scalar(d) => panic!("{}: no test value for a {d} scalar", kernel.name),
                })
                .collect();
            rt.launch(&compiled, [6, 2, 1], &mut args).unwrap_or_else(|e| panic!("{e}"));
            drop(args);
            bufs
        };
        let (want, got) = (run(&cpu), run(&simt));
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            assert!(w.as_bytes() == g.as_bytes(), "kernel `{}` {params}: buffer {i} differs", kernel.name);
        }
    }
}
