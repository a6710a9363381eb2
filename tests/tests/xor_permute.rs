//! `xor_permute` on the SIMT emulation and the CPU against the reference interpreter, bit
//! for bit: partners inside a thread's run, in another lane of the warp (a warp shuffle on
//! the GPU), in another warp (shared memory), along either axis, alone and chained into
//! Walsh-Hadamard stages whose operands stay in registers; and the PTX that holds the
//! shuffles. A CUDA twin runs the same cases on a GPU where one is present.

use std::collections::BTreeSet;

use aqua_dsl::build::*;
use aqua_dsl::codegen::ptxas::Ptxas;
use aqua_dsl::codegen::{compile, CodegenOptions, Target};
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::Kernel;
use aqua_runtime::Runtime;
use aqua_tests::reductions::run_both;
use aqua_tests::rng::xorshift;
use aqua_tests::runtimes::{cuda, simt};

const PROGRAMS: u32 = 3;

fn ptr(name: &str, mutable: bool) -> Param {
    Param { name: name.into(), kind: ParamKind::Ptr { dtype: DType::F32, mutable } }
}

/// A kernel whose programs each load a `[rows, cols]` block, apply `f` and store the
/// result, with the elements a program takes.
fn kernel(name: &str, rows: u32, cols: u32, f: impl Fn(Value) -> Value) -> (Kernel, usize) {
    let k = build_kernel(name, vec![ptr("x", false), ptr("y", true)], |a| {
        let n = rows * cols;
        let offs = program_id(0) * n + (arange(rows).expand_dims(1) * cols + arange(cols).expand_dims(0));
        let x = load(a[0] + offs);
        store(a[1] + offs, f(x));
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    (k, (rows * cols) as usize)
}

/// One Walsh-Hadamard stage of stride `s` along axis 0, as the HIGGS kernels write it.
fn stage(v: Value, s: u32) -> Value {
    stage_along(v, 0, s)
}

/// One Walsh-Hadamard stage of stride `s` along `axis` of a 2-D block.
fn stage_along(v: Value, axis: u32, s: u32) -> Value {
    let h = v.shape()[axis as usize];
    let p = v.xor_permute(axis, s);
    let upper = ne(arange(h) & s as i32, 0).expand_dims(1 - axis);
    where_(upper, p - v, v + p)
}

fn cases() -> Vec<(Kernel, usize)> {
    let mut out = Vec::new();
    // 1024 elements: on 4 warps a thread holds 8, lanes are flat bits 3..8, warps 8..10.
    for (axis, mask) in [(0, 1), (0, 2), (0, 8), (0, 16), (0, 32), (1, 1), (1, 4), (1, 8)] {
        out.push(kernel(&format!("xor_a{axis}_m{mask}"), 64, 16, move |x| (x * 2.0 + 1.0).xor_permute(axis, mask)));
    }
    // A mask with a bit inside the run and one in the lane; one with two lane bits.
    out.push(kernel("xor_mixed", 64, 16, |x| (x * 3.0).xor_permute(1, 9)));
    out.push(kernel("xor_two_lanes", 64, 16, |x| (x * 3.0).xor_permute(0, 5)));
    // A full transform of 64 rows: stages 32 and 16 cross warps, 8 to 1 stay in a warp.
    out.push(kernel("fwht64", 64, 16, |x| {
        let mut v = x;
        for s in [32, 16, 8, 4, 2, 1] {
            v = stage(v, s);
        }
        v
    }));
    // The same along rows (a HIGGS tile's groups as rows on a GPU), materialized (read by
    // two sinks): strides 32 to 8 are lanes of a warp, 4 to 1 the thread's own run of 8.
    out.push(kernel("fwht64_rows", 16, 64, |x| {
        let mut v = x * 3.0;
        for s in [32, 16, 8, 4, 2, 1] {
            v = stage_along(v, 1, s);
        }
        v + v.max(1).expand_dims(1)
    }));
    // The inverse order, on a block with fewer elements than 4 warps have threads.
    out.push(kernel("fwht_small", 8, 8, |x| {
        let mut v = x;
        for s in [1, 2, 4] {
            v = stage(v, s);
        }
        v
    }));
    // An expensive operand (a division) whose partner is in the thread's own run on a GPU
    // (flat bit 0 of 1024 elements: runs of 8 on 4 warps), in a materialization (the
    // result is read twice): the run's two copies compute both partners, no buffer. And
    // the same across warps (flat bit 9), where the operand needs a buffer.
    for (name, axis, mask) in [("in_run", 1, 1), ("across_warps", 0, 4)] {
        out.push(kernel(name, 8, 128, move |x| {
            let w = (x / (x * x + 1.0)).xor_permute(axis, mask) / 3.0;
            w + w.max(1).expand_dims(1)
        }));
    }
    // The operand used at its own index too, in another sink (a reduction; not a float
    // sum, whose order is free).
    out.push(kernel("xor_and_max", 32, 32, |x| {
        let e = x * x;
        e.xor_permute(1, 16) + e.max(1).expand_dims(1)
    }));
    out
}

fn input(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .flat_map(|_| {
            xorshift(&mut s);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 8.0 - 4.0).to_le_bytes()
        })
        .collect()
}

fn agree_on(rt: &Runtime, what: &str) {
    for (k, block) in cases() {
        let numel = block * PROGRAMS as usize;
        let x = input(numel, numel as u64);
        let (want, got) = run_both(rt, &k, PROGRAMS, DType::F32, &x, &[(DType::F32, numel)]);
        assert!(want == got, "{}: {what} differs from the interpreter", k.name);
    }
}

#[test]
fn simt_one_warp_agrees_with_the_interpreter() {
    agree_on(&simt(1), "SIMT on 1 warp");
}

#[test]
fn simt_four_warps_agree_with_the_interpreter() {
    agree_on(&simt(4), "SIMT on 4 warps");
}

/// The hardware's shuffles (operands, lane masks) where a GPU is present.
#[test]
#[ignore = "needs a CUDA device: scripts/test.sh and scripts/gpu-check.sh run it where one is present"]
fn cuda_agrees_with_the_interpreter() {
    agree_on(&cuda(), "CUDA");
}

#[test]
fn cpu_agrees_with_the_interpreter() {
    agree_on(&Runtime::cpu_with(aqua_tests::runtimes::options()), "the CPU");
}

/// Partners in another lane are shuffled; partners in another warp or inside the run
/// are not; a transform's in-warp stages leave no shared-memory round trip.
#[test]
fn ptx_shuffles_exactly_the_in_warp_partners() {
    let ptxas = Ptxas::require().unwrap_or_else(|e| panic!("{e}"));
    let ptx = |k: &Kernel| {
        let opts = CodegenOptions { target: Target::Nvptx { sm: 90, num_warps: 4 }, ..Default::default() };
        let art = compile(k, &opts).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        let text = String::from_utf8(art.object).expect("PTX is text");
        ptxas.assemble(&text, 90).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        text
    };
    let shared = |name: &str| {
        let (k, _) = cases().into_iter().find(|(k, _)| k.name == name).expect("a case of that name");
        let opts = CodegenOptions { target: Target::Nvptx { sm: 90, num_warps: 4 }, ..Default::default() };
        compile(&k, &opts).unwrap_or_else(|e| panic!("{name}: {e}")).shared_bytes
    };
    // The division's 1024 f32 need no shared buffer when the partner is the thread's own
    // (the max's 32 bytes reuse freed ones either way).
    let (own, across) = (shared("in_run"), shared("across_warps"));
    assert!(across >= own + 4000, "shared memory: {own} B with the partner in the run, {across} B across warps");
    // A transform along rows keeps every stage in registers, the three in the run (jammed
    // copies of the body) and the three across lanes (shuffles, in every copy): shared
    // memory holds only its result and the max's 16 values.
    let rows = shared("fwht64_rows");
    assert!(rows <= 4096 + 64, "shared memory of the transform along rows: {rows} B");
    // Counted as the distinct butterfly lane offsets shuffled (one a stage), since small
    // per-thread loops are unrolled on GPU targets and repeat a stage's shuffle.
    for (k, _) in cases() {
        let text = ptx(&k);
        let offsets: BTreeSet<&str> = text
            .lines()
            .filter(|l| l.contains("shfl.sync.bfly"))
            .filter_map(|l| l.split(',').nth(2).map(str::trim))
            .collect();
        let want = match k.name.as_str() {
            "xor_a0_m1" | "xor_a0_m2" | "xor_a0_m8" | "xor_a1_m8" | "xor_two_lanes" => 1,
            "fwht64" => 4,
            // Lane offsets 4, 2 and 1 (row strides 32, 16, 8), which the max's split
            // reduction (8 threads a row) shares.
            "fwht64_rows" => 3,
            // The max's split reduction shuffles too: 2 steps, 4 threads a line (the
            // xor's lane offset is one of theirs).
            "xor_and_max" => 2,
            // Only the max's: 4 steps, 16 threads a line.
            "in_run" | "across_warps" => 4,
            _ => 0,
        };
        assert_eq!(offsets.len(), want, "{}: shuffled lane offsets {offsets:?} in\n{text}", k.name);
    }
}
