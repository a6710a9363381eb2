//! Host buffers: every dtype round-trips, storage is aligned, mismatches are errors.

use aqua_dsl::DType;
use aqua_runtime::buffer::BUFFER_ALIGN;
use aqua_runtime::{BufferError, Element, HostBuffer};
use half::{bf16, f16};

fn round_trip<T: Element + PartialEq + std::fmt::Debug>(values: &[T]) {
    let buf = HostBuffer::from_slice(values);
    assert_eq!(buf.dtype(), T::DTYPE);
    assert_eq!(buf.len(), values.len());
    assert_eq!(buf.size_bytes(), values.len() * T::DTYPE.size_bytes());
    assert_eq!(buf.as_ptr() as usize % BUFFER_ALIGN, 0, "{} buffer misaligned", T::DTYPE);
    assert_eq!(buf.to_vec::<T>().unwrap(), values, "{}", T::DTYPE);
    let copy = HostBuffer::from_bytes(T::DTYPE, buf.as_bytes()).unwrap();
    assert_eq!(copy.to_vec::<T>().unwrap(), values, "{} via bytes", T::DTYPE);
}

#[test]
fn every_dtype_round_trips() {
    round_trip(&[0.0f32, -1.5, f32::MAX, f32::MIN_POSITIVE, f32::INFINITY]);
    round_trip(&[f16::ZERO, f16::from_f32(-2.5), f16::MAX, f16::NEG_INFINITY]);
    round_trip(&[bf16::ZERO, bf16::from_f32(3.25), bf16::MIN, bf16::INFINITY]);
    round_trip(&[0i32, -1, i32::MIN, i32::MAX]);
    round_trip(&[0u32, 1, u32::MAX]);
    round_trip(&[0i8, -128, 127]);
    round_trip(&[0u8, 255, 7]);
    round_trip(&[0i64, i64::MIN, i64::MAX, -3]);
    round_trip(&[true, false, true, true]);
    // NaN payloads survive bit for bit.
    let nan = f32::from_bits(0x7fc0_1234);
    let back = HostBuffer::from_slice(&[nan]).to_vec::<f32>().unwrap();
    assert_eq!(back[0].to_bits(), 0x7fc0_1234);
}

#[test]
fn zeros_of_every_dtype_are_aligned_and_zero() {
    for dtype in DType::ALL {
        for len in [0, 1, 3, 64, 1000] {
            let buf = HostBuffer::zeros(dtype, len);
            assert_eq!((buf.dtype(), buf.len()), (dtype, len));
            assert_eq!(buf.as_ptr() as usize % BUFFER_ALIGN, 0, "{dtype}[{len}]");
            assert!(buf.as_bytes().iter().all(|&b| b == 0));
            assert_eq!(buf.as_bytes().len(), len * dtype.size_bytes());
        }
    }
    assert_eq!(HostBuffer::zeros(DType::Bool, 3).to_vec::<bool>().unwrap(), vec![false; 3]);
}

#[test]
fn wrong_type_or_length_is_an_error() {
    let mut buf = HostBuffer::from_slice(&[1.0f32, 2.0]);
    assert_eq!(buf.to_vec::<i32>(), Err(BufferError::DType { expected: DType::I32, found: DType::F32 }));
    assert_eq!(buf.to_vec::<f16>().unwrap_err().to_string(), "buffer holds f32 elements, not f16");
    assert!(buf.as_slice::<u32>().is_err());
    assert_eq!(buf.copy_from_slice(&[1.0f32]), Err(BufferError::Length { buffer: 2, slice: 1 }));
    assert!(buf.copy_from_slice(&[1i32, 2]).is_err());
    buf.copy_from_slice(&[5.0f32, 6.0]).unwrap();
    buf.as_mut_slice::<f32>().unwrap()[1] = 7.0;
    assert_eq!(buf.as_slice::<f32>().unwrap(), &[5.0, 7.0]);

    assert_eq!(
        HostBuffer::from_bytes(DType::I32, &[0; 6]).unwrap_err(),
        BufferError::ByteLength { dtype: DType::I32, bytes: 6 }
    );
    assert_eq!(
        HostBuffer::from_bytes(DType::Bool, &[0, 1, 2]).unwrap_err(),
        BufferError::NotBool { index: 2, value: 2 }
    );
}

#[test]
fn clones_are_independent_and_aligned() {
    let a = HostBuffer::from_slice(&[1u8, 2, 3]);
    let mut b = a.clone();
    b.copy_from_slice(&[9u8, 9, 9]).unwrap();
    assert_eq!(a.to_vec::<u8>().unwrap(), [1, 2, 3]);
    assert_eq!(b.as_ptr() as usize % BUFFER_ALIGN, 0);
    assert_eq!(format!("{a:?}"), "HostBuffer(u8[3])");
}
