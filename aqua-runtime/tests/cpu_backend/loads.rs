//! Loads that fill buffers in one loop (`codegen/llvm/sibling_loads.rs`), checked and
//! unchecked, against the interpreter.

use aqua_dsl::build::*;
use aqua_dsl::ir::DType;

use super::harness::*;

/// Units of 32 lanes per program.
const UNITS: u32 = 64;
const PROGRAMS: u32 = 3;

/// Per unit: three words at a stride of 3, each read by all 32 lanes (a 3-bit
/// dequantizer's reads: one loop), at an offset computed between the first and the
/// second (a scalar, computed first); a word stored, then read back (after the store:
/// its own loop); an index and a word read through it (through a buffer: two loops).
fn kernel_of_sibling_loads() -> aqua_dsl::ir::Kernel {
    let params = vec![ptr(DType::U32), ptr(DType::I32), ptr_mut(DType::U32), ptr_mut(DType::U32), scalar(DType::I32)];
    kernel("sibling_loads", params, |a| {
        let (words, index, out, scratch, shift) = (a[0], a[1], a[2], a[3], a[4]);
        let unit = program_id(0) * UNITS + arange(UNITS);
        let lanes = (unit.expand_dims(1) * 32 + arange(32).expand_dims(0)).reshape([UNITS * 32]);
        let bit = arange(32).cast::<u32>().expand_dims(0) * 3u32;
        let at = |w: i32| unit * 3 + w;
        let first = load(words + at(0)).expand_dims(1);
        let offset = shift * 2 - shift;
        let second = load(words + (at(1) + offset)).expand_dims(1);
        let third = load(words + at(2)).expand_dims(1);
        store(scratch + unit, load(words + unit) ^ 0x5a5a_5a5au32);
        let back = load(scratch + unit).expand_dims(1);
        let code = (first >> bit) | (second << (32u32 - bit).minimum(31u32)) ^ (third >> (bit & 31u32));
        let i = load(index + unit).expand_dims(1);
        let through = load(words + i);
        let mixed = code + (through << (bit & 7u32)) + (back >> (bit & 15u32));
        store(out + lanes, mixed.reshape([UNITS * 32]));
    })
}

#[test]
fn sibling_loads_read_what_the_interpreter_reads() {
    let k = kernel_of_sibling_loads();
    let n = (UNITS * PROGRAMS) as usize;
    let words: Vec<u32> = (0..n as u32 * 3 + 8).map(|i| i.wrapping_mul(2_654_435_761) ^ (i << 7)).collect();
    let index: Vec<i32> = (0..n as i32).map(|i| (i * 7 + 3) % (n as i32 * 3)).collect();
    let args = [buf(&words), buf(&index), empty(DType::U32, n * 32), empty(DType::U32, n), int(DType::I32, 5)];
    let grid = [PROGRAMS, 1, 1];
    check_exact(&k, grid, &args);
    let (got, fault) = run_jit(&jit(&k, false), grid, &args, 2);
    let (want, _) = run_interp(&k, grid, &args);
    assert!(fault.is_none());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if let (Arg::Buf(d, g), Arg::Buf(_, w)) = (g, w) {
            same_bits(*d, g, w).unwrap_or_else(|e| panic!("unchecked, argument {i}: {e}"));
        }
    }
}

/// Checked code checks every load of a sibling group before the loop that reads them: a
/// second word a gigabyte past the buffer is reported, not read.
#[test]
fn sibling_loads_are_checked_before_they_are_read() {
    let k = kernel_of_sibling_loads();
    let n = (UNITS * PROGRAMS) as usize;
    let words = vec![1u32; n * 3 + 8];
    let index = vec![0i32; n];
    let far: i64 = 1 << 28;
    let args = [buf(&words), buf(&index), empty(DType::U32, n * 32), empty(DType::U32, n), int(DType::I32, far)];
    let (_, fault) = run_jit(&jit(&k, true), [PROGRAMS, 1, 1], &args, 1);
    let fault = fault.expect("an out-of-bounds load reported");
    assert_eq!((fault.arg, fault.is_store), (0, 0), "{fault:?}");
    assert!(fault.offset >= far, "{fault:?}");
}
