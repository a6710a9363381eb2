//! GPU code addresses global memory by runs of consecutive offsets (`llvm/runs.rs` in
//! aqua-dsl, from `analysis::runs`): one start per run of a thread's neighbouring
//! elements, plus a constant step; CPU code does the same for blocks whose runs are not
//! one run over the block (`analysis::one_run_blocks`). Here offsets of every form a
//! kernel writes (aligned and shifted blocks, quantizer tiles, tiles with their rows
//! reversed, transposed, reversed, strided and broadcast ones, and offsets read from
//! memory) are read and written through the SIMT emulation, which compiles the same
//! thread-level code, and on the CPU, against the reference interpreter, bit for bit, with tails masked off at several points of a thread's run, and tiles masked by
//! rows and columns (where a run is checked at its ends, `vector.rs`). What the emulation cannot show, a misaligned vector access faulting, is kept
//! out by `codegen_nvptx.rs` (the alignment claimed) and `aqua-dsl/tests/runs.rs`.

use aqua_dsl::build::*;
use aqua_dsl::interp::{self, ArgValue};
use aqua_dsl::ir::{Const, DType, Lit, Param, ParamKind};
use aqua_dsl::Kernel;
use aqua_runtime::{Arg, HostBuffer, Runtime};
use aqua_tests::reductions::encode;
use aqua_tests::runtimes::{options, simt};

/// Elements per program, and programs per launch.
const N: u32 = 1024;
const PROGRAMS: u32 = 3;
/// Input elements past the programs' blocks, so shifted offsets stay inside.
const SLACK: u32 = 64;

fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
    Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } }
}

/// Offsets into the input, of each program's `N` elements, as `[16, 64]`.
#[derive(Clone, Copy, Debug)]
enum Offsets {
    /// `pid * N + arange(N) + shift`.
    Shifted(i32),
    /// Quantizer tiles: 16 groups of 64.
    Groups,
    /// The tile transposed (stride 64 along the last dim).
    Transposed,
    /// `pid * N + (N - 1 - arange(N))`.
    Reversed,
    /// `pid * N + (arange(N) * 2) % N`, even offsets first.
    Strided,
    /// Each row's first element repeated.
    RowStarts,
    /// Read from the index buffer.
    Loaded,
    /// Quantizer tiles with their rows in reverse order: runs of 64 that are not one run
    /// over the block, which the CPU addresses by runs too.
    ReversedRows,
}

impl Offsets {
    fn build(self, index: Value) -> Value {
        let pid = program_id(0);
        let flat = |o: Value| o.reshape([16, 64]);
        match self {
            Offsets::Shifted(s) => flat(pid * N + arange(N) + s),
            Offsets::Groups => (pid * 16 + arange(16)).expand_dims(1) * 64 + arange(64).expand_dims(0),
            Offsets::Transposed => (Offsets::Groups.build(index).trans()).reshape([16, 64]),
            Offsets::Reversed => flat(pid * N + (full([N], N as i32 - 1) - arange(N))),
            Offsets::Strided => flat(pid * N + (arange(N) * 2) % N as i32),
            Offsets::RowStarts => ((pid * 16 + arange(16)) * 64).expand_dims(1).broadcast_to([16, 64]),
            Offsets::Loaded => flat(load(index + (pid * N + arange(N)))),
            Offsets::ReversedRows => {
                (pid * 16 + (full([16], 15) - arange(16))).expand_dims(1) * 64 + arange(64).expand_dims(0)
            }
        }
    }
}

/// The copy kernels' parameters: input `x` and index buffer `i`, outputs `y` and `z`, the
/// bound `n`.
fn copy_params(dtype: DType) -> Vec<Param> {
    vec![
        ptr("x", dtype, false),
        ptr("i", DType::I32, false),
        ptr("y", dtype, true),
        ptr("z", dtype, true),
        Param { name: "n".into(), kind: ParamKind::Scalar(DType::I32) },
    ]
}

/// Reads `x` (of `dtype`) at `offs`, and writes the values to `y` at the same offsets
/// and, doubled, in order to `z` (the load is used twice, so it fills a buffer, as a
/// quantizer's input does). Offsets from `n` on are masked off.
fn copy_kernel(dtype: DType, offs: Offsets) -> Kernel {
    let name = format!("copy_{dtype}_{offs:?}").replace(['(', ')', '-'], "_");
    build_kernel(&name, copy_params(dtype), |a| {
        let o = offs.build(a[1]);
        let inside = o.lt(a[4]);
        let x = load_masked(a[0] + o, inside);
        store_masked(a[2] + o, x, inside);
        let flat = program_id(0) * N + arange(N);
        store_masked(a[3] + flat, (x + x).reshape([N]), flat.lt(a[4]));
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// [`copy_kernel`] over quantizer tiles masked by rows and columns, as the tokens layout
/// is: rows below `n / 64`, columns below `n % 61 + 4`.
fn grid_copy_kernel(dtype: DType) -> Kernel {
    let name = format!("grid_copy_{dtype}");
    build_kernel(&name, copy_params(dtype), |a| {
        let rows = program_id(0) * 16 + arange(16);
        let cols = arange(64);
        let o = rows.expand_dims(1) * 64 + cols.expand_dims(0);
        let inside = logical_and(lt(rows, a[4] / 64).expand_dims(1), lt(cols, a[4] % 61 + 4).expand_dims(0));
        let x = load_masked(a[0] + o, inside);
        store_masked(a[2] + o, x, inside);
        store_masked(a[3] + o, x + x, inside);
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs `k` over [`PROGRAMS`] programs on the interpreter and on `rt` with inputs `x`
/// (of `dtype`) and `index`, outputs `y` and `z` starting from a pattern (so an
/// unwritten lane shows); returns both pairs of outputs.
fn run_both(rt: &Runtime, k: &Kernel, dtype: DType, x: &[u8], index: &[u8], n: u32) -> [Vec<Vec<u8>>; 2] {
    let fresh = vec![0xa5u8; x.len()];
    let n = Const { dtype: DType::I32, lit: Lit::Int(i64::from(n)) };
    let (mut wx, mut wi, mut wy, mut wz) = (x.to_vec(), index.to_vec(), fresh.clone(), fresh.clone());
    let mut args: Vec<ArgValue> =
        [&mut wx, &mut wi, &mut wy, &mut wz].into_iter().map(|b| ArgValue::Buffer(b)).collect();
    args.push(ArgValue::Scalar(n));
    interp::run(k, [PROGRAMS, 1, 1], &mut args).unwrap_or_else(|e| panic!("{}: interpreter: {e}", k.name));
    let compiled = rt.compile_kernel(k).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    let buf = |d: DType, b: &[u8]| HostBuffer::from_bytes(d, b).expect("sized for the dtype");
    let (gx, gi, mut gy, mut gz) = (buf(dtype, x), buf(DType::I32, index), buf(dtype, &fresh), buf(dtype, &fresh));
    let mut launch = [Arg::Buf(&gx), Arg::Buf(&gi), Arg::BufMut(&mut gy), Arg::BufMut(&mut gz), Arg::Scalar(n)];
    rt.launch(&compiled, [PROGRAMS, 1, 1], &mut launch).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    [vec![wy, wz], vec![gy.as_bytes().to_vec(), gz.as_bytes().to_vec()]]
}

#[test]
fn every_offset_form_reads_and_writes_what_the_interpreter_does() {
    let forms = [
        Offsets::Shifted(0),
        Offsets::Shifted(1),
        Offsets::Shifted(3),
        Offsets::Shifted(8),
        Offsets::Shifted(24),
        Offsets::Groups,
        Offsets::Transposed,
        Offsets::Reversed,
        Offsets::Strided,
        Offsets::RowStarts,
        Offsets::Loaded,
        Offsets::ReversedRows,
    ];
    let len = (PROGRAMS * N + SLACK) as usize;
    // The loaded offsets: a permutation of each program's block.
    let mut index = Vec::new();
    for e in 0..PROGRAMS * N {
        index.extend_from_slice(&((e / N * N + e % N * 37 % N) as i32).to_le_bytes());
    }
    index.resize(len * 4, 0);
    let mut failures = Vec::new();
    for dtype in [DType::F16, DType::F32, DType::U8, DType::I64] {
        let mut x = Vec::new();
        for e in 0..len {
            encode(dtype, (e * 7 % 101) as f64, &mut x);
        }
        let kernels: Vec<Kernel> =
            forms.iter().map(|&offs| copy_kernel(dtype, offs)).chain([grid_copy_kernel(dtype)]).collect();
        for (backend, rt) in [("the SIMT emulation", simt(4)), ("the CPU", Runtime::cpu_with(options()))] {
            for k in &kernels {
                // Every element, and tails cut at, inside and just past a thread's run of 8.
                for n in [len as u32, PROGRAMS * N - 8, PROGRAMS * N - 5, PROGRAMS * N - 517, N + 1] {
                    let [want, got] = run_both(&rt, k, dtype, &x, &index, n);
                    if want != got {
                        failures.push(format!("{} n={n}: {backend} differs from the interpreter", k.name));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
