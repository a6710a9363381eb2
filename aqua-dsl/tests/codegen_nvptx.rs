//! Code generation for NVIDIA GPUs, checked at the PTX level: the entry's shape, special
//! registers, shared memory and barriers, errors, and `ptxas` acceptance (for sm_80 and
//! sm_90) of kernels with every op family and every shape change that moves data
//! between threads. Tests that need `ptxas` fail when it is missing (`scripts/setup.sh` installs it).

use aqua_dsl::build::*;
use aqua_dsl::codegen::ptxas::{Ptxas, PtxasError};
use aqua_dsl::codegen::{compile, Artifact, CodegenError, CodegenOptions, Target, SUPPORTED_SM};
use aqua_dsl::ir::{DType, Kernel, Param, ParamKind};

fn kernel(name: &str, kinds: &[ParamKind], body: impl FnOnce(&[Value])) -> Kernel {
    let params = kinds.iter().enumerate().map(|(i, k)| Param { name: format!("a{i}"), kind: k.clone() }).collect();
    build_kernel(name, params, body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ptr(dtype: DType, mutable: bool) -> ParamKind {
    ParamKind::Ptr { dtype, mutable }
}
const F32: DType = DType::F32;

fn ptx(k: &Kernel, sm: u32) -> Artifact {
    compile(k, &CodegenOptions { target: Target::nvptx(sm), ..Default::default() }).unwrap_or_else(|e| panic!("{e}"))
}

/// Kernels covering element-wise math, masked memory, reductions along both axes (to
/// blocks and to scalars), transposes, reshapes, broadcasts of reduced values, `dot`,
/// gathers, runtime loops carrying blocks and runtime branches.
fn kernels() -> Vec<Kernel> {
    let io = [ptr(F32, false), ptr(F32, true), ParamKind::Scalar(DType::I32)];
    vec![
        kernel("axpy_exp", &io, |a| {
            let offs = program_id(0) * 1024 + arange(1024);
            let m = offs.lt(a[2]);
            let x = load_masked(a[0] + offs, m);
            let y = load_masked(a[1] + offs, m);
            store_masked(a[1] + offs, x.exp() * 2.0 + y.log() + x % y, m);
        }),
        kernel("row_softmax", &io, |a| {
            let offs = (program_id(0) * 64 + arange(64)).reshape([8, 8]) * 1;
            let r = arange(8).expand_dims(1) * 8 + arange(8).expand_dims(0);
            let base = program_id(0) * 64;
            let x = load(a[0] + (r + base));
            let mx = x.max(1).expand_dims(1).broadcast_to([8, 8]);
            let e = (x - mx).exp();
            let s = e.sum(1).expand_dims(1).broadcast_to([8, 8]);
            store(a[1] + (r + base), e / s);
            let _ = offs;
        }),
        kernel("col_stats_trans", &io, |a| {
            let r = arange(32).expand_dims(1) * 16 + arange(16).expand_dims(0);
            let x = load(a[0] + r);
            let lo = x.min(0).expand_dims(0).broadcast_to([32, 16]);
            let am = x.argmax(0).cast::<f32>().expand_dims(0).broadcast_to([32, 16]);
            let t = (x - lo + am).trans();
            let rt = arange(16).expand_dims(1) * 32 + arange(32).expand_dims(0);
            store(a[1] + rt, t);
        }),
        kernel("scalar_sum", &io, |a| {
            let offs = arange(256);
            let x = load_masked(a[0] + offs, offs.lt(a[2]));
            let s = x.sum(0);
            store(a[1] + offs, full([256], s) + x);
        }),
        kernel("reshape_pack", &[ptr(DType::U32, false), ptr(DType::U32, true)], |a| {
            let x = load(a[0] + arange(512));
            let shifted = (x & 3u32).reshape([16, 32])
                << (arange(32).cast::<u32>() % 16 * 2).expand_dims(0).broadcast_to([16, 32]);
            let words = shifted.sum(1);
            store(a[1] + arange(16), words);
        }),
        kernel("dot_tile", &io, |a| {
            let r = arange(16).expand_dims(1) * 32 + arange(32).expand_dims(0);
            let x = load(a[0] + r);
            let w = load(a[0] + (r.trans() + 512));
            let acc = full([16, 16], 1.0f32);
            let y = dot_acc(x, w, acc);
            let ro = arange(16).expand_dims(1) * 16 + arange(16).expand_dims(0);
            store(a[1] + ro, y);
        }),
        kernel("loop_and_branch", &io, |a| {
            let offs = arange(128);
            let acc = for_range(0i32, a[2], 1i32, &[zeros::<f32>([128])], |i, c| {
                let x = load(a[0] + (offs + i * 128));
                vec![c[0] + x]
            });
            let flip = if_else(a[2].gt(3i32), || vec![acc[0] * 2.0], || vec![acc[0].sqrt()]);
            store(a[1] + offs, flip[0]);
        }),
        kernel("gather_codebook", &[ptr(DType::U8, false), ptr(F32, true)], |a| {
            let t = const_table::<f32, f32>(&[-1.5, -0.5, 0.5, 1.5]);
            let idx = load(a[0] + arange(2048));
            store(a[1] + arange(2048), t.gather(idx.cast::<i32>() & 3));
        }),
        line_reduction(16, 64),
        line_reduction(1, 4096),
        kernel("tiny_block", &io, |a| {
            let offs = arange(8);
            let x = load(a[0] + offs);
            store(a[1] + offs, x.round().floor() + fma(x, x, x));
        }),
    ]
}

/// The max (f32) and argmin (i64 states are 64-bit shuffles) of each line of a
/// `[lines, n]` block: on T threads, a split reduction with `S = min(T / lines, n / 4)`
/// threads a line (`reduce/split.rs`), or one thread a line when `lines >= T`.
fn line_reduction(lines: u32, n: u32) -> Kernel {
    let kinds = [ptr(F32, false), ptr(F32, true), ptr(DType::I32, true), ptr(DType::I64, false)];
    kernel(&format!("line_reduction_{lines}x{n}"), &kinds, |a| {
        let r = arange(lines).expand_dims(1) * n + arange(n).expand_dims(0);
        store(a[1] + arange(lines), load(a[0] + r).max(1));
        store(a[2] + arange(lines), load(a[3] + r).argmin(1));
    })
}

fn count(text: &str, what: &str) -> usize {
    text.matches(what).count()
}

/// A 16-byte global load, through either cache path (`ld.global.v4.b32` or, from a
/// read-only buffer, `ld.global.nc.v4.u32`, say).
fn wide_load(line: &str) -> bool {
    const WIDE: [&str; 7] = [".v4.b32", ".v4.u32", ".v4.s32", ".v4.f32", ".v2.b64", ".v2.u64", ".v2.f64"];
    line.contains("ld.global.") && WIDE.iter().any(|w| line.contains(w))
}

/// Branches back to an earlier label (loops) in the PTX before the first line that
/// `at` picks.
fn backward_branches(text: &str, at: impl Fn(&str) -> bool) -> usize {
    let mut labels = Vec::new();
    let mut back = 0;
    for line in text.lines().take_while(|l| !at(l)) {
        if let Some(label) = line.trim().strip_suffix(':') {
            labels.push(label.to_string());
        } else if let Some(target) = line.split("bra").nth(1).map(|t| t.trim().trim_end_matches(';')) {
            back += usize::from(labels.iter().any(|l| l == target));
        }
    }
    back
}

#[test]
fn split_reductions_merge_with_warp_shuffles() {
    let text = |k: &Kernel, num_warps| {
        let opts = CodegenOptions { target: Target::Nvptx { sm: 90, num_warps }, ..Default::default() };
        String::from_utf8(compile(k, &opts).unwrap_or_else(|e| panic!("{e}")).object).unwrap()
    };
    // 16 lines on 128 threads: 8 threads a line, merged in their warp.
    let in_warp = text(&line_reduction(16, 64), 4);
    assert!(in_warp.contains("shfl.sync.bfly.b32"), "{in_warp}");
    // 128 lines: one thread a line, no split. The split within a warp costs no barrier
    // more (one after each of the two sinks).
    let unsplit = text(&line_reduction(128, 64), 4);
    assert!(!unsplit.contains("shfl.sync"), "{unsplit}");
    assert_eq!(count(&in_warp, "bar.sync"), count(&unsplit, "bar.sync"), "{in_warp}");
    // One line on 4 warps: shuffles within each warp, then shared memory and a barrier
    // across the warps.
    let across = text(&line_reduction(1, 4096), 4);
    assert!(across.contains("shfl.sync.bfly.b32"), "{across}");
    assert!(count(&across, "bar.sync") > count(&in_warp, "bar.sync"), "{across}");
    // The same line on one warp needs no shared memory exchange.
    let one_warp = text(&line_reduction(1, 4096), 1);
    assert!(one_warp.contains("shfl.sync.bfly.b32"), "{one_warp}");
    assert_eq!(count(&one_warp, "bar.sync"), count(&unsplit, "bar.sync"), "{one_warp}");
}

#[test]
fn the_entry_reads_ctaid_and_uses_shared_memory_and_barriers() {
    let k = &kernels()[1];
    let a = ptx(k, 90);
    let text = String::from_utf8(a.object.clone()).unwrap();
    assert!(text.contains(".entry aqua_kernel("), "{text}");
    assert!(text.contains(".target sm_90"), "{text}");
    assert!(text.contains("%ctaid.x") && text.contains("%tid.x"), "{text}");
    assert!(text.contains("bar.sync"), "{text}");
    assert!(text.contains(".extern .shared"), "{text}");
    assert_eq!(a.block_threads, 128);
    // Two 8x8 f32 buffers at least (the input, read by two sinks, and a reduced value).
    assert!(a.shared_bytes >= 2 * 8 * 4, "{}", a.shared_bytes);
    assert_eq!(a.asm, "", "no text unless asked");
}

#[test]
fn bad_targets_and_checked_mode_are_errors() {
    let k = &kernels()[0];
    let e = compile(k, &CodegenOptions { target: Target::nvptx(75), ..Default::default() }).unwrap_err();
    assert!(matches!(e, CodegenError::Target { .. }) && e.to_string().contains("sm_75"), "{e}");
    let e = compile(k, &CodegenOptions { target: Target::Nvptx { sm: 90, num_warps: 3 }, ..Default::default() })
        .unwrap_err();
    assert!(e.to_string().contains("num_warps"), "{e}");
    let e = compile(k, &CodegenOptions { target: Target::nvptx(90), checked: true, ..Default::default() }).unwrap_err();
    assert!(e.to_string().contains("checked"), "{e}");
}

#[test]
fn ptxas_accepts_every_kernel_for_sm80_and_sm90() {
    let ptxas = Ptxas::require().unwrap_or_else(|e| panic!("{e}"));
    for k in kernels() {
        for sm in SUPPORTED_SM {
            for num_warps in [1, 4, 8] {
                let opts = CodegenOptions { target: Target::Nvptx { sm, num_warps }, ..Default::default() };
                let a = compile(&k, &opts).unwrap_or_else(|e| panic!("{e}"));
                let text = String::from_utf8(a.object).unwrap();
                let cubin = ptxas.assemble(&text, sm).unwrap_or_else(|e| panic!("kernel `{}`: {e}\n{text}", k.name));
                assert!(!cubin.bytes.is_empty());
                assert!(cubin.stats.registers > 0, "{}", cubin.log);
            }
        }
    }
}

/// ptxas started before the PTX exists (as the runtime starts it, to overlap its start-up
/// with LLVM) gives the same cubin as a plain run, reports rejected PTX with its log, and
/// is stopped when dropped unfinished.
#[test]
fn ptxas_started_early_assembles_rejects_and_stops() {
    let ptxas = Ptxas::require().unwrap_or_else(|e| panic!("{e}"));
    let k = &kernels()[0];
    let pending = ptxas.start(90).unwrap();
    let a = compile(k, &CodegenOptions { target: Target::nvptx(90), ..Default::default() }).unwrap();
    let text = String::from_utf8(a.object).unwrap();
    let early = pending.finish(&text).unwrap();
    assert_eq!(early.bytes, ptxas.assemble(&text, 90).unwrap().bytes);
    assert_eq!(early.stats, ptxas.assemble(&text, 90).unwrap().stats);

    let e = ptxas.start(80).unwrap().finish(".version 7.8\n.target sm_80\nthis is not ptx\n").unwrap_err();
    assert!(matches!(&e, PtxasError::Rejected { sm: 80, log, .. } if !log.is_empty()), "{e}");

    // Dropped while waiting for its input: killed and reaped, nothing blocks.
    let started = std::time::Instant::now();
    drop(ptxas.start(90).unwrap());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// `scale_rows` with its offsets shifted by `shift` elements: 1024 f16 over 128 threads,
/// 8 contiguous elements (16 bytes) per thread, read by two sinks (so filled into shared
/// memory first), as in a quantizer; the f32 result is stored the same way.
fn scale_rows(shift: i32) -> Kernel {
    let io = [ptr(DType::F16, false), ptr(F32, true), ParamKind::Scalar(DType::I32)];
    kernel("scale_rows", &io, |a| {
        let offs = program_id(0) * 1024 + arange(1024) + shift;
        let m = offs.lt(a[2]);
        let x = load_masked(a[0] + offs, m).cast::<f32>().reshape([16, 64]);
        let hi = x.max(1).expand_dims(1).broadcast_to([16, 64]);
        store_masked(a[1] + offs, (x / hi).reshape([1024]), m);
    })
}

#[test]
fn contiguous_masked_accesses_are_whole_vectors_on_the_unmasked_path() {
    let text = String::from_utf8(ptx(&scale_rows(0), 90).object).unwrap();
    let global = |op: &str| text.lines().filter(|l| l.contains(&format!("{op}.global."))).count();
    // Addressed by runs (`llvm/runs.rs`): each thread's 16 bytes of input are one load,
    // its 32 bytes of output two stores, never split by an unproven alignment.
    assert_eq!(text.lines().filter(|l| wide_load(l)).count(), 1, "{text}");
    assert_eq!(count(&text, "st.global.v4.f32"), 2, "{text}");
    // The input staged in shared memory goes there 16 bytes at a time too (address
    // spaces inferred before O3, `target/nvptx.rs`).
    assert!(count(&text, "st.shared.v4.f32") >= 2, "{text}");
    // Its masks bound a run of offsets, so the check that picks the unmasked path looks
    // at the run's last element only: no loop runs before that load.
    assert_eq!(backward_branches(&text, wide_load), 0, "{text}");
    // The masked path stays for the last, partial block: one scalar access per element.
    let scalar_f16 =
        |l: &&str| l.contains("ld.global.") && (l.contains(".b16") || l.contains(".u16")) && !l.contains(".v");
    assert_eq!(global("ld") - 1, text.lines().filter(scalar_f16).count(), "{text}");
    assert_eq!(global("st") - 2, count(&text, "st.global.f32"), "{text}");

    // One element off: the 8 f16 of a thread start 2 bytes past a 16-byte boundary, so
    // no 16-byte load is possible; of its 8 f32 only the middle 4 are one aligned span.
    let text = String::from_utf8(ptx(&scale_rows(1), 90).object).unwrap();
    assert_eq!(text.lines().filter(|l| wide_load(l)).count(), 0, "{text}");
    assert!(count(&text, "st.global.v4.f32") <= 1, "{text}");
}

/// Element indices are 32-bit on GPU targets, and so are shared-memory addresses
/// (`-nvptx-short-ptr`): 64-bit arithmetic is left to global addresses.
#[test]
fn indices_and_shared_addresses_are_32_bit() {
    let text = String::from_utf8(ptx(&scale_rows(0), 90).object).unwrap();
    assert!(count(&text, ".shared.") > 4, "{text}");
    for line in text.lines().filter(|l| l.contains(".shared.") && l.contains('[')) {
        assert!(!line.contains("[%rd"), "a 64-bit shared address: {line}");
    }
    let wide = text.lines().filter(|l| [".s64", ".u64", ".b64"].iter().any(|w| l.contains(w))).count();
    let all = text.lines().filter(|l| l.starts_with('\t') && !l.contains(':')).count();
    assert!(wide * 5 < all, "{wide} of {all} instructions are 64-bit\n{text}");
}

/// An index read from an integer table carries the table's range (`!range`), so the clamp
/// of the second gather, into a table of 16, is gone: no `min`/`max` is left. The codes
/// are stored too, to keep the first gather's own clamp (of `x`, loaded) apart.
#[test]
fn indices_read_from_a_table_need_no_clamp() {
    let codes: Vec<u32> = (0..64).map(|k| (k * 7) % 16).collect();
    let points: Vec<f32> = (0..16).map(|k| k as f32 * 0.5 - 3.0).collect();
    let k = kernel("two_gathers", &[ptr(DType::U8, false), ptr(F32, true)], |a| {
        let offs = program_id(0) * 256 + arange(256);
        let x = load(a[0] + offs).cast::<i32>();
        let i = const_table::<u8, u32>(&codes).gather(x).cast::<i32>();
        store(a[1] + offs, const_table::<f32, f32>(&points).gather(i));
    });
    let text = String::from_utf8(ptx(&k, 90).object).unwrap();
    let clamps: Vec<&str> = text.lines().filter(|l| l.contains("\tmin.") || l.contains("\tmax.")).collect();
    // `x` is a u8 (0..=255) and the first table has 64 entries: a `min` with 63 for it
    // (one for each element of a thread's unrolled run), none with 15.
    assert!(!clamps.is_empty() && clamps.iter().all(|c| c.ends_with(", 63;")), "clamps: {clamps:?}\n{text}");
}
