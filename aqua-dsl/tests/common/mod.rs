//! Kernels built with the builder API, shared by the text and verifier tests. Together
//! they use every op kind, runtime `for`/`if` (nested, with carried values and pointers),
//! constant tables, and constants of every dtype including NaN, infinities and -0.0.
#![allow(dead_code)]

use std::collections::BTreeMap;

use aqua_dsl::build::*;
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::{ComptimeValue, Kernel};
use half::{bf16, f16};

pub fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
    Param {
        name: name.into(),
        kind: ParamKind::Ptr { dtype, mutable },
    }
}

pub fn scalar(name: &str, dtype: DType) -> Param {
    Param {
        name: name.into(),
        kind: ParamKind::Scalar(dtype),
    }
}

/// Builds a kernel by running `body` under the builder.
pub fn build(
    name: &str,
    params: Vec<Param>,
    comptime: &[(&str, ComptimeValue)],
    body: impl FnOnce(&[Value]),
) -> Kernel {
    let ct: BTreeMap<String, ComptimeValue> = comptime.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let args = begin(name, params, ct);
    body(&args);
    finish().expect("test kernel builds")
}

/// Every op kind outside control flow, plus tables and constants of every dtype.
pub fn all_ops() -> Kernel {
    let block = 64u32;
    let params = vec![
        ptr("x", DType::F32, false),
        ptr("y", DType::F32, true),
        ptr("h", DType::F16, false),
        ptr("codes", DType::U32, true),
        scalar("n", DType::I32),
    ];
    let ct = [
        ("block", ComptimeValue::Int(block as i64)),
        ("eps", ComptimeValue::Float(1e-5)),
        ("fast", ComptimeValue::Bool(true)),
    ];
    build("all_ops", params, &ct, |a| {
        let (x, y, h, codes, n) = (a[0], a[1], a[2], a[3], a[4]);
        let offs = program_id(0) * block + arange(block) + num_programs(1);
        let m = lt(offs, n);
        let xv = load_masked_or(x + offs, m, f32::NAN);
        let hv = load_masked(h + offs, m).cast::<f32>();
        let t = load(x + offs);
        let v = fma(xv, hv, t);
        let e = (v.abs() + 1.0).sqrt().rsqrt().exp().log().floor().ceil().round();
        let d = (-e - xv) * 2.0 / 3.0 % 5.0;
        let mm = minimum(d, f32::INFINITY).maximum(f32::NEG_INFINITY);
        let ints = ((offs & 7) | 1) ^ 2;
        let ints = !((ints << 2) >> 1);
        let b = logical_or(logical_and(m, gt(ints, 3)), !le(offs, 1));
        let b = logical_and(b, ne(offs, 9));
        let b = logical_or(b, eq(ge(offs, 2), true));
        let sel = where_(b, mm, -0.0);
        store(codes + offs, sel.bitcast::<u32>());
        store_streaming(codes + offs, sel.bitcast::<u32>() ^ 1u32);
        let r2 = sel.reshape([8, block / 8]).trans();
        let r3 = r2.expand_dims(0).broadcast_to([2, block / 8, 8]).sum(0).xor_permute(1, 2);
        let red = r3.max(0) + r3.min(1) + (r3.argmax(1) + r3.argmin(0)).cast::<f32>();
        let h2 = r3.cast::<f16>();
        let prod = dot_acc(h2, h2.trans(), dot(h2, h2));
        let codebook = const_table::<f32, f32>(&[0.5, -1.0, f32::NAN, f32::INFINITY]);
        let long = const_table::<f16, f32>(&(0..40).map(|i| i as f32 * 0.37 - 3.0).collect::<Vec<_>>());
        let ints_t = const_table::<i32, i32>(&[-3, 0, 7, i32::MIN]);
        let g = codebook.gather(offs & 3) + long.gather(offs).cast::<f32>() + ints_t.gather(offs & 3).cast::<f32>();
        let small = (constant::<i8>(-128).cast::<i64>() + constant::<i64>(i64::MIN)).cast::<f32>()
            + constant::<u8>(255).cast::<f32>()
            + constant::<u32>(u32::MAX).cast::<f32>()
            + constant::<f16>(f16::from_f32(0.1)).cast::<f32>()
            + constant::<bf16>(bf16::NEG_INFINITY).cast::<f32>()
            + constant::<bf16>(bf16::NAN).cast::<f32>()
            + full_of::<f16>([1], f64::INFINITY).sum(0).cast::<f32>();
        let flat = prod.reshape([block]) + red.reshape([block / 8]).broadcast_to([8, block / 8]).reshape([block]);
        store_masked(y + offs, flat + g + small, m);
    })
}

/// Runtime control flow: a loop carrying a block, a scalar and a pointer, with a nested
/// `if` with results and an `if` without.
pub fn loops() -> Kernel {
    let params = vec![
        ptr("src", DType::F32, false),
        ptr("dst", DType::F32, true),
        scalar("n", DType::I32),
    ];
    build("loops", params, &[("block", ComptimeValue::Int(32))], |a| {
        let (src, dst, n) = (a[0], a[1], a[2]);
        let offs = arange(32);
        let init_acc = zeros::<f32>([32]);
        let init_count = lift(0);
        let out = for_range(0, n, 2, &[init_acc, init_count, src + offs], |i, c| {
            let vals = load(c[2]);
            let picked = if_else(gt(i, 4), || vec![vals * 2.0, c[1] + 1], || vec![vals, c[1]]);
            if_then(eq(picked[1], 7), || store(dst + offs, picked[0]));
            vec![c[0] + picked[0], picked[1], c[2] + 32]
        });
        let inner = for_range(constant::<i64>(0), 10, 3, &[], |_, _| vec![]);
        assert!(inner.is_empty());
        store(dst + offs, out[0] + out[1].cast::<f32>());
    })
}

/// A small kernel whose constant, table entry and comptime value tests can vary.
pub fn scaled(block: u32, scale: f32, table: &[f32]) -> Kernel {
    let params = vec![ptr("x", DType::F32, true)];
    build("scaled", params, &[("block", ComptimeValue::Int(block as i64))], |a| {
        let offs = arange(32);
        let t = const_table::<f32, f32>(table);
        let v = load(a[0] + offs) * scale + t.gather(offs & 1);
        store(a[0] + offs, v);
    })
}
