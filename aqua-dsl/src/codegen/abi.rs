//! The calling convention between compiled host kernels and the runtime.
//!
//! Every compiled CPU object exports one function, [`ENTRY_SYMBOL`], of type [`EntryFn`]:
//!
//! ```text
//! u32 aqua_entry(void *const *args, const u64 *extents, const u32 grid[3],
//!                u64 first, u64 last, AquaFault *fault)
//! ```
//!
//! - `args[i]`: for a pointer parameter, the buffer's base address (aligned to its
//!   element size; the code's loads and stores assume it); for a scalar
//!   parameter, the address of its value (stored in its dtype, native endianness; bool is
//!   one byte, 0 or 1). A buffer the kernel may write (a `mut` pointer parameter) must
//!   not overlap any other buffer argument: the code is compiled assuming no aliasing.
//! - `extents[i]`: the element count of pointer parameter `i` (unused for scalars). Read
//!   only by kernels compiled in checked mode; may be null otherwise.
//! - `grid`: programs along axes 0, 1, 2. The function runs the programs with linear
//!   index `first <= p < last`, where `p = x + grid[0] * (y + grid[1] * z)`.
//! - Returns [`STATUS_OK`] or a fault code, after filling `*fault`; it stops at the first
//!   fault. Only checked kernels fault: an unmasked lane whose element offset is outside
//!   `[0, extents[arg])` gives [`STATUS_OUT_OF_BOUNDS`] instead of touching memory.

use std::ffi::c_void;

/// The exported entry symbol of every compiled CPU kernel object.
pub const ENTRY_SYMBOL: &str = "aqua_entry";

/// Every compiled CPU object also exports this `u64` constant: an upper estimate of the
/// stack bytes one program needs for its block buffers, so the runtime can run it on a
/// thread with a large enough stack.
pub const FRAME_BYTES_SYMBOL: &str = "aqua_frame_bytes";

pub type EntryFn = unsafe extern "C" fn(
    args: *const *mut c_void,
    extents: *const u64,
    grid: *const u32,
    first: u64,
    last: u64,
    fault: *mut Fault,
) -> u32;

pub const STATUS_OK: u32 = 0;
/// An unmasked load or store outside its buffer (checked mode only).
pub const STATUS_OUT_OF_BOUNDS: u32 = 1;

/// What a checked kernel reports when it faults.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    /// Index of the pointer parameter accessed.
    pub arg: u32,
    /// 0 for a load, 1 for a store.
    pub is_store: u32,
    /// The element offset accessed.
    pub offset: i64,
    /// The faulting program's coordinates.
    pub program: [u32; 3],
}

/// The SIMT emulation of a GPU kernel (`Target::Simt`): the GPU's thread-level program
/// compiled for the host, one call per thread of a CTA. It exports [`SIMT_ENTRY_SYMBOL`],
/// of type [`SimtEntryFn`]:
///
/// ```text
/// u32 aqua_simt_entry(void *const *args, const u32 grid[3], u64 program, u32 tid,
///                     void *smem, void (*barrier)(void *), void *barrier_ctx)
/// ```
///
/// `args` and `grid` as for [`EntryFn`]; `program` the linear program index (the CTA),
/// `tid` the thread's index in it (`0..SIMT_THREADS_SYMBOL`). `smem` is the CTA's shared
/// memory (at least [`SIMT_SHARED_BYTES_SYMBOL`] bytes, 16-byte aligned), the same for
/// every thread of the CTA. Every thread of the CTA must run at once: `barrier(ctx)`
/// returns once all of them have called it (a `bar.sync`). Warp shuffles need nothing
/// more: the code emulates them with slots in `smem` and `barrier` (counted in
/// [`SIMT_SHARED_BYTES_SYMBOL`], so the emulation may need more shared memory than the
/// GPU). No bounds checks.
pub const SIMT_ENTRY_SYMBOL: &str = "aqua_simt_entry";
/// A `u64` constant: the shared memory bytes one CTA needs.
pub const SIMT_SHARED_BYTES_SYMBOL: &str = "aqua_simt_shared_bytes";
/// A `u32` constant: the threads of one CTA.
pub const SIMT_THREADS_SYMBOL: &str = "aqua_simt_threads";

pub type BarrierFn = unsafe extern "C" fn(ctx: *mut c_void);

pub type SimtEntryFn = unsafe extern "C" fn(
    args: *const *mut c_void,
    grid: *const u32,
    program: u64,
    tid: u32,
    smem: *mut c_void,
    barrier: BarrierFn,
    barrier_ctx: *mut c_void,
) -> u32;
