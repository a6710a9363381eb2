//! Block creation and shape ops, on values and on pointer blocks.

use aqua_dsl::build::*;
use aqua_dsl::interp::ArgValue;
use aqua_dsl::DType;

use super::harness::*;

/// Runs a body that stores 8 i32 values through `out + arange(8)`-shaped pointers.
fn produce(f: impl Fn(Value) -> Value + Sync + 'static) -> Vec<i32> {
    let k = build("shape", &[("out", output(DType::I32))], move |p| {
        let v = f(p[0]);
        let n = v.shape().iter().product::<u32>();
        store(p[0] + arange(n).reshape(v.shape()), v);
    });
    let mut out = zeroed::<i32>(8);
    run_ok(&k, [1, 1, 1], &mut [ArgValue::Buffer(&mut out)]);
    elems(&out)
}

#[test]
fn reshape_and_transpose() {
    assert_eq!(
        produce(|_| arange(8).reshape([2, 4])),
        (0..8).collect::<Vec<_>>()
    );
    assert_eq!(
        produce(|_| arange(8).reshape([2, 4]).trans()),
        vec![0, 4, 1, 5, 2, 6, 3, 7]
    );
    assert_eq!(
        produce(|_| arange(8).reshape([2, 4]).trans().reshape([8])),
        vec![0, 4, 1, 5, 2, 6, 3, 7]
    );
    assert_eq!(
        produce(|_| arange(8).reshape([2, 2, 2]).reshape([4, 2]).trans().trans()),
        (0..8).collect::<Vec<_>>()
    );
}

#[test]
fn xor_permute_swaps_partners_along_an_axis() {
    // Along the rows of [2, 4] (mask 1): the rows trade places.
    assert_eq!(
        produce(|_| arange(8).reshape([2, 4]).xor_permute(0, 1)),
        vec![4, 5, 6, 7, 0, 1, 2, 3]
    );
    // Along the columns, mask 3: column j takes column j ^ 3.
    assert_eq!(
        produce(|_| arange(8).reshape([2, 4]).xor_permute(1, 3)),
        vec![3, 2, 1, 0, 7, 6, 5, 4]
    );
    // Twice is the identity.
    assert_eq!(
        produce(|_| arange(8).xor_permute(0, 5).xor_permute(0, 5)),
        (0..8).collect::<Vec<_>>()
    );
}

#[test]
fn expand_dims_and_broadcast() {
    assert_eq!(
        produce(|_| arange(4).expand_dims(1).broadcast_to([4, 2])),
        vec![0, 0, 1, 1, 2, 2, 3, 3]
    );
    assert_eq!(
        produce(|_| arange(2).expand_dims(0).broadcast_to([4, 2])),
        vec![0, 1, 0, 1, 0, 1, 0, 1]
    );
    // Binary ops broadcast both sides: [4,1] * 10 + [1,2].
    assert_eq!(
        produce(|_| arange(4).expand_dims(1) * 10 + arange(2).expand_dims(0)),
        vec![0, 1, 10, 11, 20, 21, 30, 31]
    );
    assert_eq!(
        produce(|_| arange(2)
            .expand_dims(1)
            .expand_dims(2)
            .broadcast_to([2, 2, 2])),
        vec![0, 0, 0, 0, 1, 1, 1, 1]
    );
}

#[test]
fn block_creation() {
    assert_eq!(produce(|_| arange_from(-2, 6)), (-2..6).collect::<Vec<_>>());
    assert_eq!(produce(|_| full([8], 7)), vec![7; 8]);
    assert_eq!(produce(|_| full_of::<i32>([2, 4], -3)), vec![-3; 8]);
    assert_eq!(produce(|_| zeros::<i32>([8]) + program_id(0)), vec![0; 8]);
}

#[test]
fn pointer_blocks_move_like_values() {
    let params = [("x", input(DType::I32)), ("out", output(DType::I32))];
    let k = build("ptrshape", &params, |p| {
        // A [2,4] block of pointers, transposed, then loaded: the result is x transposed.
        let ptrs = (p[0] + arange(8)).reshape([2, 4]).trans();
        store(p[1] + arange(8).reshape([4, 2]), load(ptrs));
    });
    let (mut x, mut out) = (bytes(&(10..18).collect::<Vec<i32>>()), zeroed::<i32>(8));
    run_ok(
        &k,
        [1, 1, 1],
        &mut [ArgValue::Buffer(&mut x), ArgValue::Buffer(&mut out)],
    );
    assert_eq!(elems::<i32>(&out), vec![10, 14, 11, 15, 12, 16, 13, 17]);
}
