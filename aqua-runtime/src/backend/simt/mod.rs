//! The SIMT emulation: a GPU kernel's thread-level program (`Target::Simt`, the code the
//! NVPTX target runs, compiled for the host) run with one host thread per GPU thread of
//! a CTA, a real barrier (`std::sync::Barrier`) for `bar.sync`, and shared memory as a
//! host buffer (the generated code emulates warp shuffles with both, see
//! `aqua_dsl::codegen::abi`). It exists to test layouts, shared-memory exchanges,
//! shuffles, barriers and the GPU's math routines on machines without a GPU: a missing
//! barrier or a wrong owner of an element shows up as a wrong result (or a race) here
//! too.
//!
//! A launch starts the CTA's threads once and runs the programs one after another in
//! linear order (`x + gx * (y + gy * z)`, like the interpreter); the threads meet at a
//! barrier between programs, so shared memory is reused. Slow (thread switches at every
//! barrier), and meant for tests.

use std::ffi::c_void;
use std::sync::Barrier;

use aqua_dsl::codegen::abi::{self, SimtEntryFn};

use super::cpu::{CpuError, LinkedCode};

/// A SIMT kernel linked into the process ([`LinkedCode`]).
pub struct SimtModule {
    entry: SimtEntryFn,
    shared_bytes: u64,
    threads: u32,
    // Keeps the code mapped while `entry` may be called; dropped last.
    _code: LinkedCode,
}

impl std::fmt::Debug for SimtModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimtModule")
            .field("shared_bytes", &self.shared_bytes)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

/// Launch arguments shared by the CTA's threads.
#[derive(Clone, Copy)]
struct Shared {
    entry: SimtEntryFn,
    args: *const *mut c_void,
    grid: *const u32,
    smem: *mut c_void,
    barrier: *const Barrier,
}

// SAFETY: the pointers are read by the entry function only; `run`'s caller guarantees the
// buffers stay valid, and the generated code orders its accesses with the barrier.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

unsafe extern "C" fn barrier_wait(ctx: *mut c_void) {
    // SAFETY: `ctx` is the launch's `Barrier`, alive until every thread has returned.
    unsafe { &*(ctx as *const Barrier) }.wait();
}

impl SimtModule {
    /// Links a SIMT kernel's objects into the process and finds its entry point.
    pub fn load(objects: &[&[u8]]) -> Result<SimtModule, CpuError> {
        let code = LinkedCode::link(objects)?;
        let entry = code.address(abi::SIMT_ENTRY_SYMBOL)?;
        let shared = code.address(abi::SIMT_SHARED_BYTES_SYMBOL)?;
        let threads = code.address(abi::SIMT_THREADS_SYMBOL)?;
        // SAFETY: the symbols' types are fixed by `abi`; the two constants are mapped while
        // `code` lives.
        let (entry, shared_bytes, threads) = unsafe {
            (std::mem::transmute::<usize, SimtEntryFn>(entry), *(shared as *const u64), *(threads as *const u32))
        };
        Ok(SimtModule { entry, shared_bytes, threads, _code: code })
    }

    /// Shared memory bytes of one CTA.
    pub fn shared_bytes(&self) -> u64 {
        self.shared_bytes
    }

    /// Threads of one CTA.
    pub fn threads(&self) -> u32 {
        self.threads
    }

    /// Runs every program of `grid`, each as a CTA of [`Self::threads`] host threads.
    /// Returns the first nonzero status a thread reported (none in unchecked code).
    ///
    /// # Safety
    /// As `CpuModule::run` with an unchecked kernel: `args` follows
    /// `aqua_dsl::codegen::abi` for the kernel's signature, and the kernel's unmasked
    /// accesses stay inside the buffers.
    pub unsafe fn run(&self, args: &[*mut c_void], grid: [u32; 3]) -> Result<(), u32> {
        let total = grid.iter().map(|&g| g as u64).product::<u64>();
        if total == 0 {
            return Ok(());
        }
        let mut smem = vec![0u128; self.shared_bytes.div_ceil(16) as usize];
        let barrier = Barrier::new(self.threads as usize);
        let shared = Shared {
            entry: self.entry,
            args: args.as_ptr(),
            grid: grid.as_ptr(),
            smem: smem.as_mut_ptr().cast(),
            barrier: &barrier,
        };
        let statuses: Vec<u32> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..self.threads)
                .map(|tid| {
                    s.spawn(move || {
                        let sh = shared;
                        let mut status = abi::STATUS_OK;
                        for p in 0..total {
                            // SAFETY: the caller's contract; every thread of the CTA runs
                            // this program at once and meets the others at the barrier.
                            let st = unsafe {
                                (sh.entry)(sh.args, sh.grid, p, tid, sh.smem, barrier_wait, sh.barrier as *mut c_void)
                            };
                            if status == abi::STATUS_OK {
                                status = st;
                            }
                            // The next program reuses shared memory.
                            unsafe { &*sh.barrier }.wait();
                        }
                        status
                    })
                })
                .collect();
            // The entry function cannot unwind, so joining cannot fail.
            handles.into_iter().map(|h| h.join().unwrap_or(abi::STATUS_OK)).collect()
        });
        drop(smem);
        match statuses.into_iter().find(|&s| s != abi::STATUS_OK) {
            Some(s) => Err(s),
            None => Ok(()),
        }
    }
}
