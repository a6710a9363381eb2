//! A linked kernel and the launch of a grid on host threads.
//!
//! A grid of one program (or a launch with one thread) runs on the caller's thread: no
//! thread is started, so a launch costs a function call. Larger grids are cut into one
//! contiguous range of programs per thread and run on a pool of threads kept for the
//! process (starting threads per launch would cost tens of microseconds). Kernels whose
//! stack buffers (`abi::FRAME_BYTES_SYMBOL`) would not fit a thread's stack run on
//! threads started with a stack large enough.

use std::ffi::c_void;
use std::sync::OnceLock;

use aqua_dsl::codegen::abi::{self, EntryFn, Fault};
use rayon::prelude::*;

use super::{CpuError, LinkedCode};

/// Stack bytes a kernel may use on the caller's thread (which may be a 2 MiB Rust
/// thread already partly used).
const CALLER_STACK: u64 = 256 << 10;
/// Stack size of the pool's threads.
const POOL_STACK: usize = 64 << 20;
/// Room left on a thread's stack for everything but the kernel's buffers.
const STACK_MARGIN: u64 = 1 << 20;

/// A kernel linked into the process ([`LinkedCode`]), ready to launch.
pub struct CpuModule {
    entry: EntryFn,
    frame_bytes: u64,
    // Keeps the code mapped while `entry` may be called; dropped last.
    _code: LinkedCode,
}

impl std::fmt::Debug for CpuModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuModule").field("frame_bytes", &self.frame_bytes).finish_non_exhaustive()
    }
}

/// Raw launch arguments, shared read-only by the threads of one launch.
#[derive(Clone, Copy)]
struct Launch {
    entry: EntryFn,
    args: *const *mut c_void,
    extents: *const u64,
    grid: *const u32,
}

// SAFETY: the pointers are only read by the entry function; `run`'s caller guarantees
// the buffers they point to stay valid and are safe to use from the threads it asks for.
unsafe impl Send for Launch {}
unsafe impl Sync for Launch {}

impl Launch {
    /// Runs programs `[first, last)`.
    unsafe fn call(self, first: u64, last: u64) -> Result<(), Fault> {
        let mut fault = Fault::default();
        let status = unsafe { (self.entry)(self.args, self.extents, self.grid, first, last, &mut fault) };
        if status == abi::STATUS_OK {
            Ok(())
        } else {
            Err(fault)
        }
    }
}

fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .stack_size(POOL_STACK)
            .thread_name(|i| format!("aqua-cpu-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

impl CpuModule {
    /// Links a kernel's objects (`aqua_dsl::codegen::Artifact::objects`) into the process
    /// and finds its entry point.
    pub fn load(objects: &[&[u8]]) -> Result<CpuModule, CpuError> {
        let code = LinkedCode::link(objects)?;
        let entry = code.address(abi::ENTRY_SYMBOL)?;
        let frame = code.address(abi::FRAME_BYTES_SYMBOL)?;
        // SAFETY: the symbols' types are fixed by `abi`, which every aqua object follows;
        // the frame size is a `u64` constant mapped while `code` lives.
        let (entry, frame_bytes) = unsafe { (std::mem::transmute::<usize, EntryFn>(entry), *(frame as *const u64)) };
        Ok(CpuModule { entry, frame_bytes, _code: code })
    }

    /// Stack bytes one program needs for its block buffers.
    pub fn frame_bytes(&self) -> u64 {
        self.frame_bytes
    }

    /// Runs programs `[0, grid[0] * grid[1] * grid[2])` split across up to `threads`
    /// threads; returns the fault of the lowest-numbered faulting program, if any.
    ///
    /// # Safety
    /// `args` and `extents` must follow `aqua_dsl::codegen::abi` for the kernel's
    /// signature: one live pointer per parameter, buffers of the parameter's dtype that
    /// the kernel's unmasked accesses stay inside (or, for a checked kernel, `extents`
    /// giving their true lengths), mutable buffers not overlapping other arguments, and
    /// nothing else using them during the call.
    pub unsafe fn run(
        &self,
        args: &[*mut c_void],
        extents: &[u64],
        grid: [u32; 3],
        threads: usize,
    ) -> Result<(), Fault> {
        let total = grid.iter().map(|&g| g as u64).product::<u64>();
        if total == 0 {
            return Ok(());
        }
        let launch = Launch { entry: self.entry, args: args.as_ptr(), extents: extents.as_ptr(), grid: grid.as_ptr() };
        let chunks = (threads.max(1) as u64).min(total);
        if chunks == 1 && self.frame_bytes <= CALLER_STACK {
            return unsafe { launch.call(0, total) };
        }
        let range = |c: u64| (total * c / chunks, total * (c + 1) / chunks);
        let results: Vec<Result<(), Fault>> = match pool() {
            Some(pool) if self.frame_bytes + STACK_MARGIN <= POOL_STACK as u64 => pool.install(|| {
                (0..chunks)
                    .into_par_iter()
                    .map(|c| {
                        let (first, last) = range(c);
                        unsafe { launch.call(first, last) }
                    })
                    .collect()
            }),
            _ => self.run_on_new_threads(launch, chunks, &range),
        };
        // Chunks are increasing ranges and each stops at its first fault.
        results.into_iter().find(|r| r.is_err()).unwrap_or(Ok(()))
    }

    /// Runs each chunk on a thread started with a stack that fits the kernel.
    fn run_on_new_threads(
        &self,
        launch: Launch,
        chunks: u64,
        range: &(dyn Fn(u64) -> (u64, u64) + Sync),
    ) -> Vec<Result<(), Fault>> {
        let stack = (self.frame_bytes + STACK_MARGIN) as usize;
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..chunks)
                .map(|c| {
                    let (first, last) = range(c);
                    let thread = std::thread::Builder::new()
                        .stack_size(stack)
                        .spawn_scoped(s, move || unsafe { launch.call(first, last) });
                    (first, last, thread)
                })
                .collect();
            handles
                .into_iter()
                .map(|(first, last, h)| match h {
                    // The entry function cannot unwind, so joining cannot fail.
                    Ok(h) => h.join().unwrap_or(Ok(())),
                    // The OS refused the thread: run the chunk on this one.
                    Err(_) => unsafe { launch.call(first, last) },
                })
                .collect()
        })
    }
}
