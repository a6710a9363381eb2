//! Typed host memory that kernels read and write.
//!
//! A [`HostBuffer`] is a flat array of one aqua [`DType`], 64-byte aligned so compiled
//! kernels may use aligned vector loads. Its dtype travels with it, so a launch can check
//! every buffer against the kernel's signature, and reading it back as the wrong Rust type
//! is an error rather than a reinterpretation.
//!
//! `bool` elements are stored as one byte, 0 or 1 (the kernel ABI); every way to fill a
//! buffer from Rust keeps that invariant.

use aqua_dsl::DType;
use half::{bf16, f16};

/// The alignment of every buffer's first element, in bytes.
pub const BUFFER_ALIGN: usize = 64;

/// A 64-byte, 64-aligned unit of storage: buffers are `Vec`s of these, so the allocator
/// hands out aligned memory without any unsafe code.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Chunk([u8; BUFFER_ALIGN]);

/// Reading or filling a buffer with the wrong element type or length.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BufferError {
    #[error("buffer holds {found} elements, not {expected}")]
    DType { expected: DType, found: DType },
    #[error("buffer holds {buffer} elements, the slice {slice}")]
    Length { buffer: usize, slice: usize },
    #[error("{bytes} bytes are not a whole number of {dtype} elements")]
    ByteLength { dtype: DType, bytes: usize },
    #[error("byte {value} at element {index} is not a bool (0 or 1)")]
    NotBool { index: usize, value: u8 },
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that is the host representation of one aqua dtype.
pub trait Element: Copy + sealed::Sealed + 'static {
    const DTYPE: DType;
    /// Writes `src` into `dst`, which is exactly `src.len() * size_of::<Self>()` bytes.
    fn encode(src: &[Self], dst: &mut [u8]);
    /// Reads elements from `src`, a whole number of elements' bytes.
    fn decode(src: &[u8]) -> Vec<Self>;
}

macro_rules! pod_element {
    ($($t:ty => $d:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn encode(src: &[Self], dst: &mut [u8]) {
                dst.copy_from_slice(bytemuck::cast_slice(src));
            }
            fn decode(src: &[u8]) -> Vec<Self> {
                // `pod_collect_to_vec` copies, so `src` needs no particular alignment.
                bytemuck::pod_collect_to_vec(src)
            }
        }
    )*};
}
pod_element!(f32 => F32, f16 => F16, bf16 => BF16, i32 => I32, u32 => U32, i8 => I8, u8 => U8, i64 => I64);

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn encode(src: &[Self], dst: &mut [u8]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s as u8;
        }
    }
    /// Any nonzero byte reads as `true` (a buffer can only hold 0 or 1 unless a kernel
    /// broke the ABI; reading it must still never be undefined behaviour).
    fn decode(src: &[u8]) -> Vec<Self> {
        src.iter().map(|&b| b != 0).collect()
    }
}

/// Typed, 64-byte aligned host memory holding `len` elements of `dtype`.
#[derive(Clone)]
pub struct HostBuffer {
    dtype: DType,
    len: usize,
    storage: Vec<Chunk>,
}

impl HostBuffer {
    /// A buffer of `len` zeros (`false` for bool). Panics, like `Vec`, when the size in
    /// bytes overflows `usize`.
    pub fn zeros(dtype: DType, len: usize) -> HostBuffer {
        let bytes = len.checked_mul(dtype.size_bytes()).expect("aqua: buffer size overflows usize");
        let chunks = bytes.div_ceil(BUFFER_ALIGN);
        HostBuffer { dtype, len, storage: vec![Chunk([0; BUFFER_ALIGN]); chunks] }
    }

    /// A buffer holding a copy of `data`, with the dtype of `T`.
    pub fn from_slice<T: Element>(data: &[T]) -> HostBuffer {
        let mut buf = HostBuffer::zeros(T::DTYPE, data.len());
        T::encode(data, buf.bytes_mut());
        buf
    }

    /// A buffer of `dtype` from its elements' bytes in native endianness. `bool` bytes
    /// must be 0 or 1.
    pub fn from_bytes(dtype: DType, bytes: &[u8]) -> Result<HostBuffer, BufferError> {
        let (len, rest) = (bytes.len() / dtype.size_bytes(), bytes.len() % dtype.size_bytes());
        if rest != 0 {
            return Err(BufferError::ByteLength { dtype, bytes: bytes.len() });
        }
        if dtype == DType::Bool {
            if let Some((index, &value)) = bytes.iter().enumerate().find(|(_, &b)| b > 1) {
                return Err(BufferError::NotBool { index, value });
            }
        }
        let mut buf = HostBuffer::zeros(dtype, len);
        buf.bytes_mut().copy_from_slice(bytes);
        Ok(buf)
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the elements in bytes (the storage is padded to a multiple of 64).
    pub fn size_bytes(&self) -> usize {
        self.len * self.dtype.size_bytes()
    }

    /// A copy of the elements as `T`, which must be the buffer's dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>, BufferError> {
        self.expect_dtype(T::DTYPE)?;
        Ok(T::decode(self.bytes()))
    }

    /// The elements as a slice of `T`, without copying (not for `bool`, whose bytes are
    /// checked on every read instead).
    pub fn as_slice<T: Element + bytemuck::Pod>(&self) -> Result<&[T], BufferError> {
        self.expect_dtype(T::DTYPE)?;
        Ok(bytemuck::cast_slice(self.bytes()))
    }

    /// The elements as a mutable slice of `T`, without copying (not for `bool`).
    pub fn as_mut_slice<T: Element + bytemuck::Pod>(&mut self) -> Result<&mut [T], BufferError> {
        self.expect_dtype(T::DTYPE)?;
        Ok(bytemuck::cast_slice_mut(self.bytes_mut()))
    }

    /// Overwrites every element with `data`, which must have the buffer's dtype and length.
    pub fn copy_from_slice<T: Element>(&mut self, data: &[T]) -> Result<(), BufferError> {
        self.expect_dtype(T::DTYPE)?;
        if data.len() != self.len {
            return Err(BufferError::Length { buffer: self.len, slice: data.len() });
        }
        T::encode(data, self.bytes_mut());
        Ok(())
    }

    /// The elements' bytes, native endianness.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes()
    }

    /// The address of the first element (64-byte aligned; dangling but aligned when empty).
    pub fn as_ptr(&self) -> *const u8 {
        self.storage.as_ptr().cast()
    }

    /// The elements' bytes, writable. Crate-private: writing arbitrary bytes could break
    /// the bool invariant, so only kernels (through launches) write raw bytes.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        let n = self.size_bytes();
        &mut bytemuck::cast_slice_mut::<Chunk, u8>(&mut self.storage)[..n]
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.storage.as_mut_ptr().cast()
    }

    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<Chunk, u8>(&self.storage)[..self.size_bytes()]
    }

    fn expect_dtype(&self, expected: DType) -> Result<(), BufferError> {
        if self.dtype == expected {
            Ok(())
        } else {
            Err(BufferError::DType { expected, found: self.dtype })
        }
    }
}

impl std::fmt::Debug for HostBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostBuffer({}[{}])", self.dtype, self.len)
    }
}
