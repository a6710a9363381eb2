//! Code generation for the host CPU, checked at the LLVM level: what `compile` returns,
//! the shape of the generated code, and its errors. Running the code (linked and loaded
//! by the runtime) is tested in `aqua-runtime/tests/cpu_backend.rs`.

use aqua_dsl::build::*;
use aqua_dsl::codegen::{self, compile, CodegenError, CodegenOptions};
use aqua_dsl::ir::{DType, Kernel, Param, ParamKind};

fn params(kinds: &[ParamKind]) -> Vec<Param> {
    kinds.iter().enumerate().map(|(i, k)| Param { name: format!("a{i}"), kind: k.clone() }).collect()
}

fn ptr(dtype: DType, mutable: bool) -> ParamKind {
    ParamKind::Ptr { dtype, mutable }
}

/// `y[i] = exp(x[i]) * 2 + y[i]` over blocks of `B`, masked by `n`.
const B: u32 = 1024;
fn axpy_exp() -> Kernel {
    let body: fn(&[Value]) = |a| {
        let offs = program_id(0) * B + arange(B);
        let m = offs.lt(a[2]);
        let x = load_masked(a[0] + offs, m);
        let y = load_masked(a[1] + offs, m);
        store_masked(a[1] + offs, x.exp() * 2.0 + y, m);
    };
    let p = params(&[ptr(DType::F32, false), ptr(DType::F32, true), ParamKind::Scalar(DType::I32)]);
    build_kernel("codegen_test", p, body).unwrap()
}

fn text(k: &Kernel, checked: bool) -> codegen::Artifact {
    compile(k, &CodegenOptions { checked, emit_text: true, ..Default::default() }).unwrap()
}

#[test]
fn artifacts_hold_an_object_text_and_stage_times() {
    let k = axpy_exp();
    let a = text(&k, false);
    assert_eq!(&a.object[..4], b"\x7fELF");
    assert!(a.llvm_ir.contains(" i32 @aqua_entry("), "{}", a.llvm_ir);
    assert!(a.llvm_ir.contains("@aqua_frame_bytes"));
    assert!(a.asm.contains("aqua_entry:"));
    let stages: Vec<&str> = a.timings.iter().map(|t| t.0).collect();
    assert_eq!(stages, ["lower", "verify", "optimize", "emit", "text"]);

    let plain = compile(&k, &CodegenOptions::default()).unwrap();
    assert!(plain.llvm_ir.is_empty() && plain.asm.is_empty());
    assert_eq!(plain.timings.len(), 4);
    // Same object either way.
    assert_eq!(plain.object, a.object);
}

#[test]
fn element_loops_vectorize_and_stay_loops() {
    let a = text(&axpy_exp(), false);
    assert!(a.llvm_ir.contains(" x float>"), "no vector code:\n{}", a.llvm_ir);
    assert!(a.llvm_ir.contains("@llvm.masked.load") || a.llvm_ir.contains("@llvm.masked.store"));
    // A loop over 1024 elements, not 1024 unrolled copies.
    let insts = a.llvm_ir.lines().filter(|l| l.starts_with("  ")).count();
    assert!(insts < 400, "{insts} instructions");
}

/// No fast-math flag changes a result: the only ones are `nnan nsz` on the vector
/// merges of max/min lanes, whose states hold no NaN and whose zero sign is free.
#[test]
fn no_fast_math_flags_change_results() {
    let body: fn(&[Value]) = |a| {
        let offs = arange(256);
        let x = load(a[0] + offs).reshape([16, 16]);
        let h = x.cast::<half::f16>();
        let r = x.sum(1).expand_dims(1) + x.max(1).expand_dims(1) + x.log() + fma(x, x, x) + (h * h).cast::<f32>();
        store((a[1] + offs).reshape([16, 16]), r / x.sqrt() + dot(x, x));
    };
    let k = build_kernel("codegen_test", params(&[ptr(DType::F32, false), ptr(DType::F32, true)]), body).unwrap();
    let ir = text(&k, false).llvm_ir;
    for flag in [" fast ", " reassoc ", " ninf ", " arcp ", " contract ", " afn "] {
        assert!(!ir.contains(flag), "`{flag}` in:\n{ir}");
    }
    let flagged: Vec<&str> = ir.lines().filter(|l| l.contains(" nnan ") || l.contains(" nsz ")).collect();
    assert!(!flagged.is_empty(), "the max's lanes merge with one vector reduction:\n{ir}");
    for line in flagged {
        // The call, or LLVM's expansion of it into a shuffle tree (values named `rdx.`).
        let merge = line.contains("@llvm.vector.reduce.fm") || line.trim_start().starts_with("%rdx.");
        assert!(merge && line.contains("nnan nsz"), "{line}");
    }
}

/// A kernel of tiles of `t` f32 values: the fast form of a specialized branch loads one
/// tile of `x` at an offset computed inside it, and 16 values of `s`.
fn prefetching_kernel(t: u32) -> Kernel {
    let body = move |a: &[Value]| {
        let offs = program_id(0) * t + arange(t);
        let small = program_id(0) * 16 + arange(16);
        let full = (program_id(0) * t + t).le(a[3]);
        specialize(
            full,
            || {
                let first = program_id(0) * t;
                let x = load(a[0] + (first + arange(t))).reshape([16, t / 16]).sum(1) + load(a[1] + small);
                store(a[2] + small, x);
                vec![]
            },
            || {
                let m = offs.lt(a[3]);
                let x = load_masked(a[0] + offs, m).reshape([16, t / 16]).sum(1) + load(a[1] + small);
                store(a[2] + small, x);
                vec![]
            },
        );
    };
    let p =
        params(&[ptr(DType::F32, false), ptr(DType::F32, false), ptr(DType::F32, true), ParamKind::Scalar(DType::I32)]);
    build_kernel("prefetching", p, body).unwrap()
}

fn prefetch_calls(k: &Kernel) -> usize {
    text(k, false).llvm_ir.lines().filter(|l| l.contains("call void @llvm.prefetch")).count()
}

/// The fast form of a specialized branch prefetches what the next program reads after
/// each large contiguous load (`llvm/prefetch.rs`): here the 2 KiB tile of `x`, not the
/// 64-byte one of `s`, and not in the general form (the last tile). The tile's offset is
/// a scalar computed inside the fast form: the prefetch comes after it.
#[test]
fn fast_forms_prefetch_the_next_tile_of_large_loads() {
    let k = prefetching_kernel(512);
    let ir = text(&k, false).llvm_ir;
    assert_eq!(prefetch_calls(&k), 1, "one prefetch (in a loop over the tile's 32 lines):\n{ir}");
    // Behind the run-time check that the tile's elements are contiguous.
    assert!(ir.contains("prefetch.end"), "{ir}");
    let gpu =
        compile(&k, &CodegenOptions { target: codegen::Target::nvptx(90), emit_text: true, ..Default::default() });
    assert!(!gpu.unwrap().llvm_ir.contains("llvm.prefetch"));
}

/// An AMD Zen host (LLVM's `znver*`) prefetches no tile larger than 2 KiB: a burst of
/// more prefetches stalls its cores; other hosts prefetch a 16 KiB tile too.
#[test]
fn zen_hosts_prefetch_no_tile_past_2_kib() {
    let zen = inkwell::targets::TargetMachine::get_host_cpu_name().to_string().starts_with("znver");
    let k = prefetching_kernel(4096);
    assert_eq!(prefetch_calls(&k), usize::from(!zen), "host is Zen: {zen}\n{}", text(&k, false).llvm_ir);
}

/// A tile whose rows are a run-time stride apart (a KIVI tile: 64 tokens of 64 f16
/// channels, 8 KiB) prefetches the bytes after each of its rows, what the next program
/// along axis 0 reads, with no run-time contiguity check and on every host (past Zen's
/// cap for contiguous tiles); its 64-byte loads of `s` prefetch nothing, nor does a GPU.
#[test]
fn tiles_of_strided_rows_prefetch_after_each_row() {
    let body = |a: &[Value]| {
        let t = program_id(1) * 64 + arange(64);
        let c = program_id(0) * 64 + arange(64);
        let offs = t.expand_dims(1) * a[3] + c.expand_dims(0);
        let full = ((program_id(1) + 1) * 64).le(a[4]);
        let tile_sum = move |x: Value| x.cast::<f32>().sum(0) + load(a[1] + c);
        specialize(
            full,
            || {
                store(a[2] + c, tile_sum(load(a[0] + offs)));
                vec![]
            },
            || {
                let m = t.lt(a[4]).expand_dims(1).broadcast_to([64, 64]);
                store(a[2] + c, tile_sum(load_masked(a[0] + offs, m)));
                vec![]
            },
        );
    };
    let p = params(&[
        ptr(DType::F16, false),
        ptr(DType::F32, false),
        ptr(DType::F32, true),
        ParamKind::Scalar(DType::I32),
        ParamKind::Scalar(DType::I32),
    ]);
    let k = build_kernel("rows", p, body).unwrap();
    let ir = text(&k, false).llvm_ir;
    assert!(prefetch_calls(&k) >= 1, "prefetches in a loop over the rows (of a row's two lines):\n{ir}");
    assert!(!ir.contains("prefetch.end"), "rows need no contiguity check:\n{ir}");
    let gpu =
        compile(&k, &CodegenOptions { target: codegen::Target::nvptx(90), emit_text: true, ..Default::default() });
    assert!(!gpu.unwrap().llvm_ir.contains("llvm.prefetch"));
}

#[test]
fn only_checked_code_has_bounds_checks() {
    // The lowering names its bounds comparisons `oob`; optimization keeps value names.
    let k = axpy_exp();
    assert!(text(&k, true).llvm_ir.contains("%oob"));
    assert!(!text(&k, false).llvm_ir.contains("%oob"));
}

#[test]
fn a_pointer_without_a_single_base_is_an_error_at_its_line() {
    // Built without the verifier, which would reject it first.
    let p = params(&[ptr(DType::F32, false), ptr(DType::F32, false), ptr(DType::F32, true)]);
    let args = begin("mixed", p, Default::default());
    let line = line!() + 1;
    let q = where_(program_id(0).lt(1), args[0], args[1]);
    store(args[2] + arange(4), load(q + arange(4)));
    let k = finish().unwrap();
    match compile(&k, &CodegenOptions::default()) {
        Err(CodegenError::Unsupported { kernel, op, loc, message }) => {
            assert_eq!((kernel.as_str(), op), ("mixed", "select"));
            assert_eq!(loc.line, line);
            assert!(message.contains("pointer"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn versions_and_fingerprints_are_stable() {
    let v = codegen::llvm_version();
    assert!(v.starts_with("19."), "{v}");
    assert_eq!(v.split('.').count(), 3);
    let f = codegen::host_target_fingerprint();
    assert_eq!(f, codegen::host_target_fingerprint());
    assert!(f.starts_with(std::env::consts::ARCH), "{f}");
    assert_eq!(f.split(';').count(), 3, "{f}");
}

/// A quantizer's codes of a straddling width (an f16 load widened under a few more ops,
/// read by three sinks) fill a buffer, its loop forced to 16 lanes: LLVM's cost model
/// took 4 for it.
#[test]
fn buffers_computed_from_widened_half_values_fill_16_lanes_at_a_time() {
    let body = |a: &[Value]| {
        let offs = program_id(0) * 1024 + arange(1024);
        let mut y = load(a[0] + offs).cast::<f32>();
        for k in 0..4 {
            y = clamp(fma(y, 1.5f32, k as f32), 0.0f32, 7.0f32);
        }
        let v = ((y + 8388608.0f32).bitcast::<u32>() - 0x4B00_0000u32).reshape([16, 64]);
        store(a[1] + (program_id(0) * 16 + arange(16)), v.sum(1));
        store(a[2] + (program_id(0) * 64 + arange(64)), v.sum(0));
        store(a[3] + (program_id(0) * 16 + arange(16)), (v << 1u32).sum(1));
    };
    let p = params(&[ptr(DType::F16, false), ptr(DType::U32, true), ptr(DType::U32, true), ptr(DType::U32, true)]);
    let ir = text(&build_kernel("widened", p, body).unwrap(), false).llvm_ir;
    assert!(ir.contains("alloca [1024 x i32]"), "the codes get a buffer:\n{ir}");
    assert!(ir.contains("fpext <16 x half>"), "{ir}");
    assert!(!ir.contains("fpext <4 x half>") && !ir.contains("fpext <8 x half>"), "{ir}");
}

/// An f16 store whose innermost loop is the 8 codes of a 4-bit word (a dequantizer's
/// output) runs 8 lanes at a time: LLVM's cost model took 4 for the narrowing.
#[test]
fn narrowing_stores_of_short_inner_loops_take_all_their_lanes() {
    let body = |a: &[Value]| {
        let words = load(a[0] + (program_id(0) * 64 + arange(64)));
        let codes = (words.expand_dims(1) >> (arange(8).cast::<u32>() * 4u32)) & 15u32;
        let x = codes.cast::<f32>() * 0.5f32 + 1.0f32;
        store(a[1] + (program_id(0) * 512 + arange(512)).reshape([64, 8]), x.cast::<half::f16>());
    };
    let p = params(&[ptr(DType::U32, false), ptr(DType::F16, true)]);
    let ir = text(&build_kernel("narrowed", p, body).unwrap(), false).llvm_ir;
    assert!(ir.contains("fptrunc <8 x float>"), "{ir}");
    assert!(!ir.contains("fptrunc <4 x float>"), "{ir}");
}

/// A store of values computed from a widened f16 load through a fused reduction (8-bit
/// codes packed four to a word in the store's loop) takes 16 lanes: LLVM stored one word
/// at a time.
#[test]
fn stores_computed_from_widened_half_values_take_all_their_lanes() {
    let body = |a: &[Value]| {
        let x = load(a[0] + (program_id(0) * 1024 + arange(1024))).cast::<f32>();
        let codes = (clamp(fma(x, 16.0f32, 128.0f32), 0.0f32, 255.0f32) + 8388608.0f32).bitcast::<u32>() & 255u32;
        let words = (codes.reshape([32, 8, 4]) << (arange(4).cast::<u32>() * 8u32)).sum(2);
        store(a[1] + (program_id(0) * 256 + arange(256)).reshape([32, 8]), words);
    };
    let p = params(&[ptr(DType::F16, false), ptr(DType::U32, true)]);
    let ir = text(&build_kernel("packed_bytes", p, body).unwrap(), false).llvm_ir;
    assert!(ir.contains("store <16 x i32>"), "{ir}");
}

/// The 32 codes `u32[64, 32]` (unmasked) of the program's 64 units of `bits` words at
/// `words`, each put together from all the unit's words by per-lane shifts, as
/// `packing::load_interior_units` does in the kernels crate.
fn unit_codes(words: Value, bits: u32) -> Value {
    let unit = (program_id(0) * 64 + arange(64)) * bits;
    let bit = arange(32).cast::<u32>() * bits;
    (0..bits)
        .map(|w| {
            let word = load(words + (unit + w)).expand_dims(1);
            (word >> (bit - 32 * w)) | (word << (32 * w - bit))
        })
        .reduce(|code, part| code | part)
        .unwrap()
}

/// An f16 store whose innermost loop is the 32 codes of a 3-bit unit (three words, each
/// code put together from the words by per-lane shifts, as `packing::load_interior_units`
/// does) runs 16 lanes at a time, and its two vectors are unrolled after the vectorizer:
/// the shifts fold into constants. A loop of two vectors computed every lane's shift and
/// its range checks from the induction vector, twice the instructions per value.
#[test]
fn short_forced_vector_loops_unroll_so_lane_constants_fold() {
    let body = |a: &[Value]| {
        let x = (unit_codes(a[0], 3) & 7u32).cast::<f32>() * 0.5f32 + 1.0f32;
        store(a[1] + (program_id(0) * 2048 + arange(2048)).reshape([64, 32]), x.cast::<half::f16>());
    };
    let p = params(&[ptr(DType::U32, false), ptr(DType::F16, true)]);
    let ir = text(&build_kernel("straddling", p, body).unwrap(), false).llvm_ir;
    assert!(ir.contains("fptrunc <16 x float>"), "{ir}");
    let checked = ir.lines().filter(|l| l.contains("icmp") && l.contains("<16 x i32>")).count();
    assert_eq!(checked, 0, "lane shifts range-checked at run time:\n{ir}");
}

/// Codes of a 6-bit unit put together as in the test above, but into a buffer (the
/// indices of a 64-entry table looked up in registers, as the HIGGS EDEN2-64 dequantizer
/// does): the buffer's loop of 32 codes is forced to 16 lanes too, and unrolled. LLVM
/// picked 16 lanes itself and kept the loop of two vectors.
#[test]
fn short_buffer_fills_unroll_so_lane_constants_fold() {
    // The codes get their buffer as the indices of a lookup in registers, which needs
    // AVX-512 (`table_lookup.rs`); elsewhere the lookup loads, and computes them in place.
    #[cfg(target_arch = "x86_64")]
    let avx512 = std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let avx512 = false;
    if !avx512 {
        println!("skipped: short buffer fills (the host has no AVX-512, so the codes get no buffer)");
        return;
    }
    let body = |a: &[Value]| {
        let code = unit_codes(a[0], 6);
        let points: Vec<f32> = (0..64).map(|i| i as f32 * 0.25 - 8.0).collect();
        let x = const_table::<f32, f32>(&points).gather(code & 63u32);
        store(a[1] + (program_id(0) * 2048 + arange(2048)).reshape([64, 32]), x);
    };
    let p = params(&[ptr(DType::U32, false), ptr(DType::F32, true)]);
    let ir = text(&build_kernel("straddling_lookup", p, body).unwrap(), false).llvm_ir;
    assert!(ir.contains("alloca [2048 x i32]"), "the codes get a buffer:\n{ir}");
    // The lookup's own compare (`%set`, an index's bit 5) stays.
    let checked = ir.lines().filter(|l| l.contains("icmp") && l.contains("<16 x i32>") && !l.contains("%set")).count();
    assert_eq!(checked, 0, "lane shifts range-checked at run time:\n{ir}");
}

/// Integer sums over lines of 8 (packed words of 8 codes, each shifted by an amount
/// broadcast over the words): the codes of two lines are computed in one 16-lane vector
/// and 16 lines merge in vectors of 16 states; the amounts, split from the loop variable
/// (`i & 7`), fold into constants in the unrolled loop, so the shifts by 32 and more
/// (which give 0, as the 5-bit packing's pieces that miss a word do) need no run-time
/// compare. Before, lines of 8 were computed and merged in 8-lane vectors.
#[test]
fn lines_of_eight_reduce_two_to_a_vector() {
    let body = |a: &[Value]| {
        let x = load(a[0] + (program_id(0) * 1024 + arange(1024))).cast::<f32>();
        let codes = (clamp(fma(x, 4.0f32, 8.0f32), 0.0f32, 31.0f32) + 8388608.0f32).bitcast::<u32>() & 31u32;
        let words = (codes.reshape([128, 8]) << (arange(8).cast::<u32>() * 5u32)).sum(1);
        store(a[1] + (program_id(0) * 128 + arange(128)), words);
    };
    let p = params(&[ptr(DType::F16, false), ptr(DType::U32, true)]);
    let ir = text(&build_kernel("words_of_eight", p, body).unwrap(), false).llvm_ir;
    let wide = ir.lines().any(|l| l.contains("= shl") && l.contains("<16 x i32>"));
    assert!(wide, "codes not shifted 16 lanes at a time:\n{ir}");
    let narrow = ir.lines().filter(|l| l.contains("<8 x i32>")).count();
    assert_eq!(narrow, 0, "8-lane vectors of codes or states:\n{ir}");
    let checked = ir.lines().filter(|l| l.contains("icmp") && l.contains("<16 x i32>")).count();
    assert_eq!(checked, 0, "lane shifts range-checked at run time:\n{ir}");
}

/// Lines of 8 whose operand broadcasts a buffer over the lines (each of a unit's 8 words
/// takes the unit's 8 pieces, shifted its own way) merge per line: over whole lines, the
/// buffer's index would be split by a mask that LLVM did not vectorize (the loop ran one
/// element at a time: a 5-bit packing so written ran 6x slower than per line).
#[test]
fn lines_of_eight_over_a_broadcast_buffer_merge_per_line() {
    let body = |a: &[Value]| {
        let x = load(a[0] + (program_id(0) * 1024 + arange(1024))).reshape([128, 8]);
        let pieces = (x << (arange(8).cast::<u32>() * 3u32)).sum(1).reshape([16, 1, 8]);
        let word = (arange(8).cast::<u32>() * 32u32).reshape([1, 8, 1]);
        let bit = (arange(8).cast::<u32>() * 20u32).reshape([1, 1, 8]);
        let words = ((pieces << (bit - word)) | (pieces >> (word - bit))).sum(2);
        store(a[1] + (program_id(0) * 128 + arange(128)).reshape([16, 8]), words);
    };
    let p = params(&[ptr(DType::U32, false), ptr(DType::U32, true)]);
    let ir = text(&build_kernel("words_of_pieces", p, body).unwrap(), false).llvm_ir;
    // Scalar shifts by a run-time amount (`program_id * 1024` shifts by a constant).
    let by_variable = |l: &&str| l.rsplit(", ").next().is_some_and(|amount| amount.starts_with('%'));
    let scalar = ir.lines().filter(|l| l.contains("= shl i32") || l.contains("= lshr i32")).filter(by_variable).count();
    assert_eq!(scalar, 0, "shifts one element at a time:\n{ir}");
}

/// A straddling width's words, word `w` of every unit at a stride of 3 (a 3-bit
/// dequantizer's reads), each broadcast over the unit's 32 lanes: the three loads fill
/// their buffers in one loop, which LLVM reads as one interleaved group of vector loads.
/// One loop a word read each at a stride of 3, by hardware gathers.
#[test]
fn sibling_word_loads_fill_their_buffers_in_one_loop() {
    let body = |a: &[Value]| {
        let unit = program_id(0) * 128 + arange(128);
        let bit = arange(32).cast::<u32>() * 3u32;
        let code = (0..3u32)
            .map(|w| {
                let word = load(a[0] + (unit * 3 + w as i32)).expand_dims(1);
                (word >> (bit - 32 * w)) | (word << (32 * w - bit))
            })
            .reduce(|code, part| code | part)
            .unwrap();
        store(a[1] + (unit.expand_dims(1) * 32 + arange(32).expand_dims(0)), (code & 7u32).cast::<f32>());
    };
    let p = params(&[ptr(DType::U32, false), ptr(DType::F32, true)]);
    let ir = text(&build_kernel("unit_words", p, body).unwrap(), false).llvm_ir;
    assert!(!ir.contains("masked.gather"), "words gathered:\n{ir}");
    assert!(ir.contains("load <48 x i32>") || ir.contains("load <96 x i32>"), "no interleaved load:\n{ir}");
}

/// Codes unpacked from words by lane (HIGGS's 2-bit dequantizer: 16 groups' words side
/// by side, 8 codes a word) into a buffer: the 8 shifts of a word run as copies of the
/// one-vector loop over the groups, each by a constant. Left a loop of 8, LLVM shifted by
/// its counter, behind a range check.
#[test]
fn short_levels_around_one_vector_unroll_so_shift_amounts_fold() {
    let body = |a: &[Value]| {
        let words = load(a[0] + (program_id(0) * 64 + arange(64))).reshape([4, 1, 16]);
        let shifts = (arange(8).cast::<u32>() * 4u32).reshape([1, 8, 1]);
        let codes = ((words >> shifts) & 15u32).reshape([32, 16]);
        // The transpose reads the codes from a buffer.
        store(a[1] + (program_id(0) * 512 + arange(512)).reshape([16, 32]), codes.trans());
    };
    let p = params(&[ptr(DType::U32, false), ptr(DType::U32, true)]);
    let ir = text(&build_kernel("codes_by_lane", p, body).unwrap(), false).llvm_ir;
    let by_variable = |l: &&str| l.contains("= lshr <16 x i32>") && !l.trim_end().ends_with('>');
    let variable = ir.lines().filter(by_variable).count();
    assert_eq!(variable, 0, "codes shifted by a loop counter:\n{ir}");
    assert!(ir.contains("= lshr <16 x i32>"), "no vector shifts:\n{ir}");
}

/// A block that is one run over all its rows (a quantizer's tile of 16 groups of 64) is
/// addressed from its first element by its linear index: the 8-bit packing reads its f16
/// values at stride 4 (four codes a word), which LLVM then loads as an interleaved group.
/// Through `sext(offset)` per element it loaded every value on its own.
#[test]
fn one_run_blocks_are_addressed_from_one_start() {
    let body = |a: &[Value]| {
        let rows = program_id(0) * 16 + arange(16);
        let offs = rows.expand_dims(1) * 64 + arange(64).expand_dims(0);
        let x = load(a[0] + offs).cast::<f32>();
        let codes = (clamp(fma(x, 16.0f32, 128.0f32), 0.0f32, 255.0f32) + 8388608.0f32).bitcast::<u32>() & 255u32;
        let words = (codes.reshape([256, 4]) << (arange(4).cast::<u32>() * 8u32)).sum(1).reshape([32, 8]);
        let units = program_id(0) * 32 + arange(32);
        store(a[1] + (units.expand_dims(1) * 8 + arange(8).expand_dims(0)), words);
    };
    let p = params(&[ptr(DType::F16, false), ptr(DType::U32, true)]);
    let ir = text(&build_kernel("packed_tile", p, body).unwrap(), false).llvm_ir;
    let scalar = ir.lines().filter(|l| l.contains("= load half")).count();
    assert_eq!(scalar, 0, "f16 values loaded one by one:\n{ir}");
}

/// Rows of 8 words a run-time row length apart (a KIVI tile's packed 8-bit codes) are
/// addressed by runs from each row's start, so the row loads as a vector: through
/// `sext(offset)` per element each word was a load of its own.
#[test]
fn short_rows_at_a_run_time_stride_load_as_vectors() {
    let body = |a: &[Value]| {
        let rows = program_id(0) * 128 + arange(128);
        let words = load(a[0] + (rows.expand_dims(1) * (a[2] / 8 * 8) + arange(8).expand_dims(0)));
        let out = (program_id(0) * 1024 + arange(1024)).reshape([128, 8]);
        store(a[1] + out, (words >> 4u32) & 15u32);
    };
    let mut p = params(&[ptr(DType::U32, false), ptr(DType::U32, true)]);
    p.push(aqua_dsl::ir::Param { name: "row".into(), kind: ParamKind::Scalar(DType::I32) });
    let ir = text(&build_kernel("short_rows", p, body).unwrap(), false).llvm_ir;
    assert!(ir.contains("load <8 x i32>"), "words loaded one by one:\n{ir}");
}

/// A unit's words at `unit * 3 + w` for `w < 3` (a 3-bit quantizer's) store in one loop,
/// which LLVM writes as one interleaved group, whole units in wide stores
/// (`store <3N x i32>`), not as scatters or a word at a time; the same words with one a
/// run-time value apart may meet, so they store one loop each, and so does checked
/// code. Needs a host with AVX2 (narrower vectors may keep the words apart).
#[test]
fn a_units_words_store_as_one_interleaved_group() {
    if !inkwell::targets::TargetMachine::get_host_cpu_features().to_string().contains("+avx2") {
        eprintln!("skipped: the host has no AVX2");
        return;
    }
    let units = |apart: bool| {
        let body = move |a: &[Value]| {
            let unit = program_id(0) * 64 + arange(64);
            // Pieces read by every word, as a quantizer's: a buffer.
            let pieces = load(a[0] + (unit.expand_dims(1) * 4 + arange(4).expand_dims(0)));
            let pieces = (pieces.expand_dims(2) << arange(2).cast::<u32>().reshape([1, 1, 2])).sum(2);
            let words: Vec<Value> = (0..3u32).map(|w| (pieces << w).sum(1)).collect();
            for (w, x) in (0..).zip(words) {
                let at = if apart && w == 1 { unit * 3 + a[2] } else { unit * 3 + w };
                store(a[1] + at, x);
            }
        };
        let p = params(&[ptr(DType::U32, false), ptr(DType::U32, true), ParamKind::Scalar(DType::I32)]);
        build_kernel("unit_words", p, body).unwrap()
    };
    let interleaved = |k: &Kernel, checked: bool| {
        let ir = text(k, checked).llvm_ir;
        let wide = ir.lines().any(|l| {
            let Some(rest) = l.trim_start().strip_prefix("store <") else { return false };
            let lanes: u32 = rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            lanes >= 6 && lanes.is_multiple_of(3) && rest.contains(" x i32>")
        });
        (wide, ir)
    };
    let (wide, ir) = interleaved(&units(false), false);
    assert!(wide, "whole units in wide stores:\n{ir}");
    let (wide, ir) = interleaved(&units(true), false);
    assert!(!wide, "words a run-time value apart store one loop each:\n{ir}");
    let (wide, ir) = interleaved(&units(false), true);
    assert!(!wide, "checked code stores one loop each:\n{ir}");
}

/// A streaming store (`store_streaming`) stores its vectors with x86's non-temporal
/// `movntdq`, behind a run-time alignment check, and `aqua_entry` ends with a fence; a
/// plain store has neither. Other hosts store plainly, behind the same fence. A GPU stores
/// both alike.
#[test]
fn streaming_stores_write_around_the_caches() {
    let stores = |streaming: bool| {
        let body = move |a: &[Value]| {
            let offs = program_id(0) * 1024 + arange(1024);
            let x = load(a[0] + offs).cast::<f32>() * 0.5f32;
            if streaming {
                store_streaming(a[1] + offs, x.cast::<half::f16>());
            } else {
                store(a[1] + offs, x.cast::<half::f16>());
            }
        };
        let p = params(&[ptr(DType::F16, false), ptr(DType::F16, true)]);
        build_kernel("stores", p, body).unwrap()
    };
    let (streamed, plain) = (text(&stores(true), false), text(&stores(false), false));
    assert!(streamed.llvm_ir.contains("fence seq_cst"), "{}", streamed.llvm_ir);
    assert!(!plain.llvm_ir.contains("fence"), "{}", plain.llvm_ir);
    if cfg!(target_arch = "x86_64") {
        assert!(streamed.asm.contains("movntdq"), "{}", streamed.asm);
        assert!(!plain.asm.contains("movnt"), "{}", plain.asm);
    } else {
        eprintln!("skipped: non-temporal stores (x86-64 only)");
    }
    let ptx = |k: &Kernel| {
        let art = compile(k, &CodegenOptions { target: codegen::Target::nvptx(90), ..Default::default() }).unwrap();
        String::from_utf8(art.object).unwrap()
    };
    assert_eq!(ptx(&stores(true)), ptx(&stores(false)));
}
