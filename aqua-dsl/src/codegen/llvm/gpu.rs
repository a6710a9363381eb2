//! The GPU side of the shared lowering: one program is one CTA of `T = num_warps * 32`
//! threads.
//!
//! This is the first, simplest correct thread-level lowering (the same plan and element
//! code as the CPU, see `plan.rs` and `element.rs`):
//!
//! - **Blocked layout.** Every sink loop (a store, a buffer being filled, the outputs of
//!   a reduction or a `dot`) over N elements gives thread `t` the contiguous run
//!   `[t * N / T, (t + 1) * N / T)`: the top `log2 T` bits of the sink's linear index are
//!   the thread id, the rest stay loops ([`Lowerer::dist_nest`]). With N < T, threads
//!   `t >= N` skip the body. Element-wise chains are computed by the thread that owns the
//!   element, in registers.
//! - **Shared memory.** Block buffers (values several sinks read, reduction results,
//!   carried blocks) live in the CTA's dynamic shared memory (`aqua_smem`, offsets fixed
//!   at compile time, total in `Artifact::shared_bytes`), so any thread can read any
//!   element: shape changes that move data between threads (reshape, `trans`,
//!   broadcasting a reduced value, gathers of a block) read it there. Reduction and
//!   arg-reduction partial states stay per-thread (local memory or registers).
//! - **Barriers.** A `bar.sync 0` follows every sink, so every later read of a buffer
//!   or of global memory sees what the sink wrote, and no buffer is rewritten (a carried
//!   block in the next iteration) while a thread still reads it. Scalars are computed
//!   redundantly by every thread from the same values, so runtime `if` and `for` are
//!   uniform over the CTA and the barriers inside them are reached by every thread.
//! - **Reductions.** A line is reduced by the thread that owns its output, in the CPU's
//!   order (so results match the CPU bit for bit), or, with fewer lines than threads and
//!   no float sum, split over several threads: thread-local, then warp shuffles
//!   (`shuffle.rs`), then shared memory across warps (`reduce/split.rs`); a reduction to
//!   a scalar is finished by every thread. Shuffles, like barriers, are only emitted
//!   where control flow is uniform over the CTA.
//!
//! Within one store, lanes that alias the same address from different threads have an
//! unspecified winner (the CPU's "highest lane wins" needs one thread per store).
//!
//! The SIMT emulation (`GpuInfo::simt`) compiles this very program for the host: the
//! thread id, shared memory and barrier come from parameters instead of `%tid`,
//! `aqua_smem` and `bar.sync` (`codegen::abi::SIMT_ENTRY_SYMBOL`), and a warp shuffle is
//! an exchange through shared memory slots with a barrier (`shuffle.rs`).

use inkwell::attributes::AttributeLoc;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{AsValueRef, BasicValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::element::Idx;
use super::entry::Program;
use super::index::Term;
use super::loops::{Body, Level};
use super::xor_permute::SinkLanes;
use super::{types, Lowerer, ParamVal, TargetInfo};
use crate::codegen::error::{Lower, LowerError};
use crate::ir::{DType, Elem, Kernel, ParamKind, ValueId};

/// The name of the PTX entry of every aqua GPU kernel.
pub(crate) const KERNEL_SYMBOL: &str = "aqua_kernel";
/// The CTA's dynamic shared memory (`.extern .shared`), carved into block buffers.
const SMEM_SYMBOL: &str = "aqua_smem";
/// LLVM's `ptx_kernel` calling convention.
const PTX_KERNEL_CC: u32 = 71;
const SHARED: u16 = 3;

/// What the lowering knows about a GPU target.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GpuInfo {
    /// Threads per CTA (`num_warps * 32`).
    pub threads: u32,
    /// The SIMT emulation on the host (`codegen::abi::SIMT_ENTRY_SYMBOL`): thread id,
    /// shared memory and barrier come from the emulator instead of the hardware.
    pub simt: bool,
}

/// The thread's id inside its CTA (of the index type), and log2 of the CTA size.
#[derive(Clone, Copy)]
pub(crate) struct Threads<'ctx> {
    pub tid: IntValue<'ctx>,
    pub log2: u32,
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Reads the thread id (at the program's start).
    pub(crate) fn init_threads(&mut self, gpu: GpuInfo) -> Lower<()> {
        let tid = match self.simt {
            Some(s) => s.tid,
            None => self.sreg("llvm.nvvm.read.ptx.sreg.tid.x")?,
        };
        let tid = self.b.build_int_z_extend(tid, self.idx, "tid")?;
        self.threads = Some(Threads { tid, log2: gpu.threads.trailing_zeros() });
        Ok(())
    }

    /// A special register (`i32`).
    fn sreg(&self, name: &str) -> Lower<IntValue<'ctx>> {
        Ok(self.intrinsic(name, &[], &[])?.into_int_value())
    }

    /// `bar.sync 0` on the GPU; nothing on the CPU.
    pub(crate) fn sync(&self) -> Lower<()> {
        if self.threads.is_none() {
            return Ok(());
        }
        if let Some(s) = self.simt {
            let ptr = self.cx.ptr_type(AddressSpace::default());
            let fty = self.cx.void_type().fn_type(&[ptr.into()], false);
            self.b.build_indirect_call(fty, s.barrier, &[s.barrier_ctx.into()], "")?;
            return Ok(());
        }
        let decl = inkwell::intrinsics::Intrinsic::find("llvm.nvvm.barrier0")
            .and_then(|i| i.get_declaration(self.module, &[]))
            .ok_or_else(|| LowerError::Builder("LLVM has no intrinsic llvm.nvvm.barrier0".into()))?;
        self.b.build_call(decl, &[], "")?;
        Ok(())
    }

    /// A sink's loop nest, spread over the CTA's threads (blocked layout, see the module
    /// docs) and followed by a barrier; on the CPU, the plain nest.
    pub(crate) fn dist_nest(&mut self, levels: &[Level], body: &mut Body<'_, 'a, 'ctx>) -> Lower<()> {
        self.dist_nest_masked(levels, &[], body)
    }

    /// [`Self::dist_nest`] for a sink whose loads and stores are masked by `masks`: each
    /// thread first checks whether its whole run is unmasked, and then runs a copy of
    /// the body without mask branches, unrolled in groups of 8, whose contiguous
    /// accesses the back end merges into vector loads and stores (`vector.rs`).
    pub(crate) fn dist_nest_masked(
        &mut self,
        levels: &[Level],
        masks: &[ValueId],
        body: &mut Body<'_, 'a, 'ctx>,
    ) -> Lower<()> {
        let Some(th) = self.threads else { return self.nest(levels, body) };
        let total: u32 = levels.iter().map(|l| l.bits).sum();
        let tb = th.log2.min(total);
        let (mut shift, mut thread_terms, mut loops) = (tb, Vec::new(), Vec::new());
        for level in levels {
            let take = shift.min(level.bits);
            if take == 0 {
                loops.push(*level);
                continue;
            }
            shift -= take;
            let part = self.b.build_right_shift(th.tid, self.ic(shift as u64), false, "t")?;
            let part = self.b.build_and(part, self.ic((1u64 << take) - 1), "t")?;
            thread_terms.push(Term { var: part, lo: level.lo + level.bits - take, bits: take });
            if level.bits > take {
                loops.push(Level { lo: level.lo, bits: level.bits - take, vectorize: level.vectorize });
            }
        }
        // A sink without masks and idle threads runs uniformly: its lanes may shuffle.
        if masks.is_empty() && tb == th.log2 {
            // The thread id is the top of the flat index, above any levels the caller
            // runs as copies of the body.
            let top = levels.iter().map(|l| l.lo + l.bits).max().unwrap_or(0);
            self.sink_lanes = Some(SinkLanes::new(top, tb));
        }
        let mut tracked = |l: &mut Self, idx: &Idx<'ctx>| {
            if let Some(s) = l.sink_lanes.as_mut() {
                s.enter(idx, 0);
            }
            body(l, idx)
        };
        let mut run = |l: &mut Self| l.versioned(&loops, &thread_terms, masks, &mut tracked);
        if tb < th.log2 {
            // Fewer elements than threads: the others skip.
            let active = self.b.build_int_compare(IntPredicate::ULT, th.tid, self.ic(1u64 << tb), "active")?;
            let (on, join) = (self.block("active"), self.block("active.end"));
            self.b.build_conditional_branch(active, on, join)?;
            self.b.position_at_end(on);
            run(self)?;
            self.b.build_unconditional_branch(join)?;
            self.b.position_at_end(join);
            self.memo.clear();
        } else {
            run(self)?;
        }
        self.sink_lanes = None;
        self.sync()
    }

    /// A block buffer of `bytes` in the CTA's shared memory (as a generic pointer); the
    /// offset is fixed at compile time, reusing released bytes (`smem.rs`).
    pub(crate) fn shared_alloc(&mut self, bytes: u64) -> Lower<PointerValue<'ctx>> {
        let (offset, size) = self.arena.alloc(bytes);
        let p = self.shared_pointer(offset)?;
        self.shared_blocks.insert(p.as_value_ref() as usize, (offset, size));
        Ok(p)
    }

    /// The generic address of byte `offset` of the CTA's shared memory.
    fn shared_pointer(&mut self, offset: u64) -> Lower<PointerValue<'ctx>> {
        let i8t = self.cx.i8_type();
        if let Some(s) = self.simt {
            // SAFETY (of the generated code): the emulator passes `shared_bytes` bytes.
            return Ok(unsafe { self.alloca_b.build_in_bounds_gep(i8t, s.smem, &[self.ic(offset)], "smem")? });
        }
        let smem = match self.smem {
            Some(g) => g,
            None => {
                let g = self.module.add_global(i8t.array_type(0), Some(AddressSpace::from(SHARED)), SMEM_SYMBOL);
                g.set_linkage(Linkage::External);
                g.set_alignment(16);
                self.smem = Some(g);
                g
            }
        };
        // Computed in the entry block, so the pointer dominates every use.
        let base = smem.as_pointer_value();
        // SAFETY (of the generated code): the launch gives the CTA `shared_bytes` bytes.
        let p = unsafe { self.alloca_b.build_in_bounds_gep(i8t, base, &[self.ic(offset)], "smem")? };
        let generic = self.cx.ptr_type(AddressSpace::default());
        Ok(self.alloca_b.build_address_space_cast(p, generic, "buf")?)
    }
}

/// Declares the PTX entry `aqua_kernel(params...)` as the program function itself: its
/// first block reads the program ids from `%ctaid` and the grid from `%nctaid`, and
/// turns bool parameters (one byte, 0 or 1) into `i1`; buffers are global addresses,
/// 16-byte aligned (device allocations are 256-byte aligned; `vector.rs`), `noalias`
/// (the runtime never passes a written buffer together with an overlapping argument)
/// and `readonly` where the kernel never writes them. Lowered straight into the entry,
/// the program needs no inlining (a wrapper calling it took the always-inliner about
/// 4 ms of a quantizer's cold compile, cloning the body).
pub(crate) fn declare_kernel<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    k: &Kernel,
    target: &TargetInfo,
) -> Lower<Program<'ctx>> {
    let ptr = cx.ptr_type(AddressSpace::default());
    let tys: Vec<BasicMetadataTypeEnum> = k
        .params
        .iter()
        .map(|p| match &p.kind {
            ParamKind::Ptr { .. } => ptr.into(),
            ParamKind::Scalar(d) => types::mem(cx, Elem::Val(*d)).into(),
        })
        .collect();
    let f = module.add_function(KERNEL_SYMBOL, cx.void_type().fn_type(&tys, false), Some(Linkage::External));
    f.set_call_conventions(PTX_KERNEL_CC);
    super::entry::target_attrs(cx, f, target);
    let b = cx.create_builder();
    b.position_at_end(cx.append_basic_block(f, "allocas"));
    let mut params = Vec::with_capacity(k.params.len());
    for (i, p) in k.params.iter().enumerate() {
        let v = f.get_nth_param(i as u32).ok_or_else(|| LowerError::Builder("missing kernel parameter".into()))?;
        params.push(match p.kind {
            ParamKind::Ptr { mutable, .. } => {
                super::entry::buffer_attrs(cx, f, i as u32, mutable, true);
                ParamVal::Ptr { base: v.into_pointer_value(), extent: None }
            }
            ParamKind::Scalar(DType::Bool) => ParamVal::Scalar(
                b.build_int_compare(IntPredicate::NE, v.into_int_value(), cx.i8_type().const_zero(), "bool")?.into(),
            ),
            ParamKind::Scalar(_) => ParamVal::Scalar(v),
        });
    }
    let mut regs = Vec::with_capacity(6);
    for reg in ["ctaid", "nctaid"] {
        for axis in ["x", "y", "z"] {
            let name = format!("llvm.nvvm.read.ptx.sreg.{reg}.{axis}");
            let decl = inkwell::intrinsics::Intrinsic::find(&name)
                .and_then(|i| i.get_declaration(module, &[]))
                .ok_or_else(|| LowerError::Builder(format!("LLVM has no intrinsic {name}")))?;
            match b.build_call(decl, &[], reg)?.try_as_basic_value() {
                inkwell::values::ValueKind::Basic(v) => regs.push(v.into_int_value()),
                _ => return Err(LowerError::Builder(format!("{name} returns nothing"))),
            }
        }
    }
    Ok(Program {
        func: f,
        params,
        pid: [regs[0], regs[1], regs[2]],
        grid: [regs[3], regs[4], regs[5]],
        fault: ptr.const_null(),
        simt: None,
    })
}

/// Defines the SIMT emulation's entry (`codegen::abi::SimtEntryFn`) and its two
/// constants: loads the arguments like `aqua_entry`, splits the program index into
/// coordinates and runs the program as thread `tid`.
pub(crate) fn define_simt_entry<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    k: &Kernel,
    program: FunctionValue<'ctx>,
    target: &TargetInfo,
    shared_bytes: u64,
) -> Lower<()> {
    let (i32t, i64t) = (cx.i32_type(), cx.i64_type());
    let ptr = cx.ptr_type(AddressSpace::default());
    let fty =
        i32t.fn_type(&[ptr.into(), ptr.into(), i64t.into(), i32t.into(), ptr.into(), ptr.into(), ptr.into()], false);
    let f = module.add_function(crate::codegen::abi::SIMT_ENTRY_SYMBOL, fty, Some(Linkage::External));
    for (key, v) in &target.fn_attributes {
        f.add_attribute(AttributeLoc::Function, cx.create_string_attribute(key, v));
    }
    let param = |i: u32| f.get_nth_param(i).ok_or_else(|| LowerError::Builder("missing entry parameter".into()));
    let (args, grid, p) = (param(0)?.into_pointer_value(), param(1)?.into_pointer_value(), param(2)?.into_int_value());
    let b = cx.create_builder();
    b.position_at_end(cx.append_basic_block(f, "entry"));
    let mut call_args: Vec<BasicValueEnum> = Vec::new();
    for (i, prm) in k.params.iter().enumerate() {
        // SAFETY (of the generated code): the ABI gives one `args` slot per parameter.
        let slot = unsafe { b.build_in_bounds_gep(ptr, args, &[i64t.const_int(i as u64, false)], "slot")? };
        let addr = b.build_load(ptr, slot, "arg")?.into_pointer_value();
        call_args.push(match prm.kind {
            ParamKind::Ptr { .. } => addr.into(),
            ParamKind::Scalar(d) => {
                let v = b.build_load(types::mem(cx, Elem::Val(d)), addr, "scalar")?;
                if d == DType::Bool {
                    b.build_int_compare(IntPredicate::NE, v.into_int_value(), cx.i8_type().const_zero(), "bool")?.into()
                } else {
                    v
                }
            }
        });
    }
    let mut g = Vec::new();
    for j in 0..3 {
        let gp = unsafe { b.build_in_bounds_gep(i32t, grid, &[i64t.const_int(j, false)], "g")? };
        g.push(b.build_load(i32t, gp, "grid")?.into_int_value());
    }
    let g0 = b.build_int_z_extend(g[0], i64t, "g0")?;
    let g1 = b.build_int_z_extend(g[1], i64t, "g1")?;
    let x = b.build_int_unsigned_rem(p, g0, "x")?;
    let rest = b.build_int_unsigned_div(p, g0, "yz")?;
    let y = b.build_int_unsigned_rem(rest, g1, "y")?;
    let z = b.build_int_unsigned_div(rest, g1, "z")?;
    for c in [x, y, z] {
        call_args.push(b.build_int_truncate(c, i32t, "pid")?.into());
    }
    call_args.extend(g.iter().map(|&v| BasicValueEnum::from(v)));
    call_args.push(ptr.const_null().into());
    for i in 3..7 {
        call_args.push(param(i)?);
    }
    let call_args: Vec<_> = call_args.iter().map(|&a| a.into()).collect();
    let status = b.build_call(program, &call_args, "status")?;
    match status.try_as_basic_value() {
        inkwell::values::ValueKind::Basic(v) => b.build_return(Some(&v))?,
        _ => return Err(LowerError::Builder("aqua_program returns nothing".into())),
    };
    let threads = target.gpu.map_or(1, |g| g.threads);
    let shared = module.add_global(i64t, None, crate::codegen::abi::SIMT_SHARED_BYTES_SYMBOL);
    shared.set_initializer(&i64t.const_int(shared_bytes, false));
    shared.set_constant(true);
    let count = module.add_global(i32t, None, crate::codegen::abi::SIMT_THREADS_SYMBOL);
    count.set_initializer(&i32t.const_int(threads as u64, false));
    count.set_constant(true);
    Ok(())
}
