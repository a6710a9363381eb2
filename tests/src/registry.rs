//! Every registry kernel on a GPU backend (the SIMT emulation, or CUDA where present)
//! against the CPU backend, on random inputs.

use aqua_dsl::ir::{Const, Op, ParamKind};
use aqua_dsl::{ComptimeValue, DType, Params};
use aqua_runtime::{Arg, HostBuffer, LaunchMode, Runtime, RuntimeOptions};

use crate::rng::xorshift;

/// Random contents for a buffer of `dtype`: floats about N(0, 2) (so quantizer groups
/// have spread), integers small (codes, indices).
fn random_buffer(dtype: DType, len: usize, seed: u64) -> HostBuffer {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut bytes = Vec::with_capacity(len * dtype.size_bytes());
    for _ in 0..len {
        xorshift(&mut state);
        let c = if dtype.is_float() {
            // Sum of uniforms: roughly normal, no NaN or infinity.
            let u = |s: u64| (s & 0xffff) as f64 / 65536.0 - 0.5;
            Const::from_f64(dtype, 2.0 * (u(state) + u(state >> 16) + u(state >> 32) + u(state >> 48)))
        } else {
            Const::from_i64(dtype, (state % 200) as i64)
        };
        match dtype {
            DType::F32 => bytes.extend_from_slice(&(c.as_f64() as f32).to_le_bytes()),
            DType::F16 => bytes.extend_from_slice(&half::f16::from_f64(c.as_f64()).to_le_bytes()),
            DType::BF16 => bytes.extend_from_slice(&half::bf16::from_f64(c.as_f64()).to_le_bytes()),
            d => bytes.extend_from_slice(&c.as_i64().to_le_bytes()[..d.size_bytes()]),
        }
    }
    HostBuffer::from_bytes(dtype, &bytes).expect("sized for the dtype")
}

/// Runs every registry kernel at its default settings (HIGGS on 16 and 64 points, 4 bits
/// for the others where a parameter is required) on random inputs, on the CPU backend
/// and on `rt` (the SIMT emulation, or a GPU), and asserts that every output buffer is
/// equal bit for bit: both run the same per-element code and the same reduction order
/// per line; only the distribution over threads differs, and GPU division is correctly
/// rounded like the CPU's. The CPU runs checked
/// first, so an argument set that would read out of bounds fails there instead of
/// crashing the emulation or faulting on the GPU.
pub fn registry_matches_the_cpu(rt: &Runtime) {
    const LEN: usize = 1 << 16;
    let cpu = Runtime::cpu_with(RuntimeOptions { mode: LaunchMode::Checked, ..crate::runtimes::options() });
    // Required parameters: HIGGS on 16 points (brute force) and 64 (candidate cells, as
    // 256), 4 for the others (bits).
    let settings = aqua_kernels::registry().iter().flat_map(|source| {
        let points: &[i64] = if source.comptime_params().iter().any(|p| p.name == "points") { &[16, 64] } else { &[0] };
        points.iter().map(move |&n| (*source, n))
    });
    for (source, points) in settings {
        let mut params = Params::new();
        for p in source.comptime_params() {
            if p.default.is_none() {
                let v = match p.name {
                    "points" => points,
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
        // A second grid axis only for kernels that read it: programs that differ in an
        // axis the kernel ignores do the same work, and a kernel that reads and writes one
        // buffer (axpy) would then race with itself, its result depending on the order.
        let mut uses_y = false;
        kernel.walk(&mut |inst| uses_y |= matches!(inst.op, Op::ProgramId(1)));
        let grid = if uses_y { [6, 2, 1] } else { [12, 1, 1] };
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
            rt.launch(&compiled, grid, &mut args).unwrap_or_else(|e| panic!("{e}"));
            drop(args);
            bufs
        };
        let (want, got) = (run(&cpu), run(rt));
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            assert!(w.as_bytes() == g.as_bytes(), "kernel `{}` {params}: buffer {i} differs", kernel.name);
        }
    }
}
