//! Stores that write in one loop (`codegen/llvm/sibling_stores.rs`) and stores that must
//! not, against the interpreter: memory ends as one store after another leaves it.

use aqua_dsl::build::*;
use aqua_dsl::ir::{DType, Kernel};

use super::harness::*;

/// Units of words per program.
const UNITS: u32 = 64;
const PROGRAMS: u32 = 3;

/// A kernel over source words `a0`, output words `a1` (`UNITS * PROGRAMS * 4`) and an
/// `i32` scalar `a2` (0 when run), where `body(src, out, zero, unit)` stores.
fn stores_kernel(name: &'static str, body: fn(Value, Value, Value, Value)) -> Kernel {
    kernel(name, vec![ptr(DType::U32), ptr_mut(DType::U32), scalar(DType::I32)], move |a| {
        body(a[0], a[1], a[2], program_id(0) * UNITS + arange(UNITS));
    })
}

/// `n` words of each unit from its four source words, each word a sum of shifts of
/// pieces (buffers read by every word, as a quantizer's): values that load nothing.
fn words(src: Value, unit: Value, n: u32) -> Vec<Value> {
    let pieces = load(src + (unit.expand_dims(1) * 4 + arange(4).expand_dims(0)));
    let pieces = (pieces.expand_dims(2) << arange(2).cast::<u32>().reshape([1, 1, 2])).sum(2);
    (0..n).map(|w| (pieces << (arange(4).cast::<u32>() + w).expand_dims(0)).sum(1)).collect()
}

/// Runs `k` unchecked on two threads and compares every buffer with the interpreter's.
fn agrees_with_the_interpreter(k: &Kernel) {
    let n = (UNITS * PROGRAMS * 4) as usize;
    let src: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2_654_435_761) ^ (i << 9)).collect();
    let out: Vec<u32> = (0..n as u32).map(|i| !i).collect();
    let args = [buf(&src), buf(&out), int(DType::I32, 0)];
    let grid = [PROGRAMS, 1, 1];
    let (got, fault) = run_jit(&jit(k, false), grid, &args, 2);
    let (want, _) = run_interp(k, grid, &args);
    assert!(fault.is_none(), "{fault:?}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if let (Arg::Buf(d, g), Arg::Buf(_, w)) = (g, w) {
            same_bits(*d, g, w).unwrap_or_else(|e| panic!("`{}`, argument {i}: {e}", k.name));
        }
    }
}

/// A 3-bit unit's words, `unit * 3 + w` (one loop), with constants computed between.
#[test]
fn a_units_words_written_in_one_loop_are_the_interpreters() {
    agrees_with_the_interpreter(&stores_kernel("words", |src, out, _, unit| {
        for (w, x) in (0..).zip(words(src, unit, 3)) {
            store(out + (unit * 3 + w), x);
        }
    }));
}

/// Stores that meet, or read what another wrote, which must write one after another: a
/// word that is also the next unit's first; a word loaded from where the store before
/// wrote (a block load, and a scalar load, between the stores); offsets a run-time value
/// apart (zero here: the same words).
#[test]
fn stores_that_meet_write_one_after_another() {
    agrees_with_the_interpreter(&stores_kernel("next_units", |src, out, _, unit| {
        let [a, b] = words(src, unit, 2)[..] else { unreachable!() };
        store(out + unit * 2, a);
        store(out + (unit * 2 + 2), b);
    }));
    agrees_with_the_interpreter(&stores_kernel("reads_a_sibling", |src, out, _, unit| {
        let a = words(src, unit, 1)[0];
        store(out + unit * 3, a);
        store(out + (unit * 3 + 1), load(out + (unit * 3 + 3)) + 1u32);
    }));
    agrees_with_the_interpreter(&stores_kernel("scalar_between", |src, out, _, unit| {
        let [a, b] = words(src, unit, 2)[..] else { unreachable!() };
        store(out + unit * 3, a);
        let first = load(out + 3);
        store(out + (unit * 3 + 1), b + first);
    }));
    agrees_with_the_interpreter(&stores_kernel("run_time_apart", |src, out, zero, unit| {
        let [a, b] = words(src, unit, 2)[..] else { unreachable!() };
        store(out + unit * 3, a);
        store(out + (unit * 3 + zero), b);
    }));
}

/// Streaming stores (`codegen/llvm/streaming.rs`) of f16, f32 and u8 blocks, at offsets
/// aligned to their vectors and not (0 and 1 element past the buffer's start, which the
/// runtime aligns), with a last partial block: the interpreter's values, whichever path a
/// vector takes, and nothing written outside the block.
#[test]
fn streaming_stores_write_what_plain_stores_write() {
    for dtype in [DType::F16, DType::F32, DType::U8] {
        for shift in [0, 1] {
            let k = kernel("streaming", vec![ptr(DType::F32), ptr_mut(dtype), scalar(DType::I32)], move |a| {
                let offs = program_id(0) * 256 + arange(256);
                let x = load(a[0] + offs) * 3.0f32 + 1.0f32;
                let full = ((program_id(0) + 1) * 256).le(a[2]);
                aqua_dsl::build::if_else(
                    full,
                    || {
                        store_streaming(a[1] + (offs + shift), x.cast_to(dtype));
                        vec![]
                    },
                    || {
                        store_masked(a[1] + (offs + shift), x.cast_to(dtype), offs.lt(a[2]));
                        vec![]
                    },
                );
            });
            let n = 256 * 3 + 100;
            let src: Vec<f32> = (0..256 * 4).map(|i| (i % 61) as f32 - 20.0).collect();
            let args = [buf(&src), empty(dtype, n + 8), int(DType::I32, n as i64)];
            check_exact(&k, [4, 1, 1], &args);
        }
    }
}
