//! f32 values stored as f32, f16 or bf16 bytes and read back, for tests that run one
//! check over the three float dtypes.

use aqua_dsl::ir::DType;

/// `v` as the little-endian bytes of float `dtype` (rounded to nearest-even).
pub fn encode(dtype: DType, v: f32) -> Vec<u8> {
    match dtype {
        DType::F32 => v.to_le_bytes().to_vec(),
        DType::F16 => half::f16::from_f32(v).to_le_bytes().to_vec(),
        _ => half::bf16::from_f32(v).to_le_bytes().to_vec(),
    }
}

/// The f32 value of float `dtype`'s little-endian bytes `b`.
pub fn decode(dtype: DType, b: &[u8]) -> f32 {
    match dtype {
        DType::F32 => f32::from_le_bytes(b.try_into().unwrap()),
        DType::F16 => half::f16::from_le_bytes(b.try_into().unwrap()).to_f32(),
        _ => half::bf16::from_le_bytes(b.try_into().unwrap()).to_f32(),
    }
}
