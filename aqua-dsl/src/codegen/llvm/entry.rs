//! The program function's signature and the exported entry point around it.
//!
//! `aqua_program(params..., [extents...], pid x/y/z, grid x/y/z, fault, [simt...]) -> status` runs
//! one program; its buffer parameters are `noalias` (the runtime never passes a buffer
//! that is written together with another argument overlapping it), which lets LLVM
//! vectorize without runtime alias checks. `aqua_entry` (see `codegen::abi`) reads the
//! arguments once and calls it for every program of its range. (NVPTX declares its own
//! program function, the PTX entry: `gpu::declare_kernel`.)

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::AddressSpace;
use inkwell::GlobalVisibility;
use inkwell::{AtomicOrdering, IntPredicate};

use super::specialized::{Unit, GENERAL_SYMBOL};
use super::{types, ParamVal, TargetInfo};
use crate::codegen::abi;
use crate::codegen::error::Lower;
use crate::ir::{DType, Elem, Kernel, ParamKind};

pub(crate) struct Program<'ctx> {
    pub func: FunctionValue<'ctx>,
    pub params: Vec<ParamVal<'ctx>>,
    pub pid: [IntValue<'ctx>; 3],
    pub grid: [IntValue<'ctx>; 3],
    pub fault: PointerValue<'ctx>,
    /// SIMT emulation only: the thread id, shared memory, barrier function and its context.
    pub simt: Option<SimtParams<'ctx>>,
}

/// What the SIMT emulator passes each thread's program (see `gpu::define_simt_entry`).
#[derive(Clone, Copy)]
pub(crate) struct SimtParams<'ctx> {
    pub tid: IntValue<'ctx>,
    pub smem: PointerValue<'ctx>,
    pub barrier: PointerValue<'ctx>,
    pub barrier_ctx: PointerValue<'ctx>,
}

fn enum_attr(cx: &Context, name: &str) -> Attribute {
    cx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0)
}

/// The target's function attributes, and `nounwind`.
pub(crate) fn target_attrs(cx: &Context, f: FunctionValue, target: &TargetInfo) {
    for (k, v) in &target.fn_attributes {
        f.add_attribute(AttributeLoc::Function, cx.create_string_attribute(k, v));
    }
    f.add_attribute(AttributeLoc::Function, enum_attr(cx, "nounwind"));
}

/// A buffer parameter's attributes: `noalias` and `nocapture` (the runtime never passes a
/// written buffer together with an argument overlapping it), `readonly` unless the kernel
/// writes it, and on GPU targets the 16-byte alignment of their buffers (`runs.rs`).
pub(crate) fn buffer_attrs(cx: &Context, f: FunctionValue, param: u32, mutable: bool, gpu: bool) {
    let at = AttributeLoc::Param(param);
    f.add_attribute(at, enum_attr(cx, "noalias"));
    f.add_attribute(at, enum_attr(cx, "nocapture"));
    if !mutable {
        f.add_attribute(at, enum_attr(cx, "readonly"));
    }
    if gpu {
        f.add_attribute(at, super::runs::buffer_align(cx));
    }
}

pub(crate) fn declare_program<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    k: &Kernel,
    checked: bool,
    target: &TargetInfo,
    unit: Unit,
) -> Lower<Program<'ctx>> {
    if target.gpu.is_some_and(|g| !g.simt) {
        return super::gpu::declare_kernel(cx, module, k, target);
    }
    let ptr = cx.ptr_type(AddressSpace::default());
    let mut tys: Vec<BasicMetadataTypeEnum> = k
        .params
        .iter()
        .map(|p| match &p.kind {
            ParamKind::Ptr { .. } => ptr.into(),
            ParamKind::Scalar(d) => types::reg(cx, Elem::Val(*d)).into(),
        })
        .collect();
    let n_ptr = k.params.iter().filter(|p| matches!(p.kind, ParamKind::Ptr { .. })).count();
    if checked {
        tys.extend(std::iter::repeat_n(BasicMetadataTypeEnum::from(cx.i64_type()), n_ptr));
    }
    tys.extend(std::iter::repeat_n(BasicMetadataTypeEnum::from(cx.i32_type()), 6));
    tys.push(ptr.into());
    let simt = target.gpu.is_some_and(|g| g.simt);
    if simt {
        tys.push(cx.i32_type().into());
        tys.extend([BasicMetadataTypeEnum::from(ptr); 3]);
    }
    let fty = cx.i32_type().fn_type(&tys, false);
    let func = match unit {
        Unit::General { .. } => {
            let f = module.add_function(GENERAL_SYMBOL, fty, Some(Linkage::External));
            f.as_global_value().set_visibility(GlobalVisibility::Hidden);
            f
        }
        Unit::Whole | Unit::Fast { .. } => module.add_function("aqua_program", fty, Some(Linkage::Internal)),
    };
    target_attrs(cx, func, target);
    if !simt {
        // Kept out of `aqua_entry`'s loop: inlined, the whole body went through the
        // simplification passes a second time, about 40% of the optimization time, for
        // no measurable speed (one call per program of a block's work).
        func.add_attribute(AttributeLoc::Function, enum_attr(cx, "noinline"));
    } else {
        // The SIMT entry calls it once: inlined before optimization.
        func.add_attribute(AttributeLoc::Function, enum_attr(cx, "alwaysinline"));
    }

    let mut next_extent = k.params.len();
    let mut params = Vec::with_capacity(k.params.len());
    for (i, p) in k.params.iter().enumerate() {
        let v = func.get_nth_param(i as u32).expect("declared above");
        params.push(match p.kind {
            ParamKind::Ptr { mutable, .. } => {
                // The runtime's host buffers for the emulation are 64-byte aligned, like
                // device allocations (`gpu::declare_kernel`).
                buffer_attrs(cx, func, i as u32, mutable, simt);
                let extent = checked.then(|| {
                    next_extent += 1;
                    func.get_nth_param(next_extent as u32 - 1).expect("declared above").into_int_value()
                });
                ParamVal::Ptr { base: v.into_pointer_value(), extent }
            }
            ParamKind::Scalar(_) => ParamVal::Scalar(v),
        });
    }
    let base = next_extent as u32;
    let int = |j: u32| func.get_nth_param(base + j).expect("declared above").into_int_value();
    let ptr_at = |j: u32| func.get_nth_param(base + j).expect("declared above").into_pointer_value();
    Ok(Program {
        simt: simt.then(|| SimtParams { tid: int(7), smem: ptr_at(8), barrier: ptr_at(9), barrier_ctx: ptr_at(10) }),
        func,
        params,
        pid: [int(0), int(1), int(2)],
        grid: [int(3), int(4), int(5)],
        fault: func.get_nth_param(base + 6).expect("declared above").into_pointer_value(),
    })
}

/// Declares the outlined general form, with `program`'s signature (`specialized.rs`).
pub(crate) fn declare_general<'ctx>(module: &Module<'ctx>, program: FunctionValue<'ctx>) -> FunctionValue<'ctx> {
    let f = module.add_function(GENERAL_SYMBOL, program.get_type(), Some(Linkage::External));
    f.as_global_value().set_visibility(GlobalVisibility::Hidden);
    f
}

/// Defines `aqua_entry` (the loop over programs) and the frame-size constant.
pub(crate) fn define_entry<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    k: &Kernel,
    program: FunctionValue<'ctx>,
    checked: bool,
    target: &TargetInfo,
    frame_bytes: u64,
) -> Lower<()> {
    let (i32t, i64t) = (cx.i32_type(), cx.i64_type());
    let ptr = cx.ptr_type(AddressSpace::default());
    let fty = i32t.fn_type(&[ptr.into(), ptr.into(), ptr.into(), i64t.into(), i64t.into(), ptr.into()], false);
    let f = module.add_function(abi::ENTRY_SYMBOL, fty, Some(Linkage::External));
    target_attrs(cx, f, target);
    let arg = |i: u32| f.get_nth_param(i).expect("declared above");
    let (args, extents, grid) = (arg(0).into_pointer_value(), arg(1).into_pointer_value(), arg(2).into_pointer_value());
    let (first, last, fault) = (arg(3).into_int_value(), arg(4).into_int_value(), arg(5).into_pointer_value());

    let b = cx.create_builder();
    let entry = cx.append_basic_block(f, "entry");
    let (lp, cont, fail, done) = (
        cx.append_basic_block(f, "program"),
        cx.append_basic_block(f, "next"),
        cx.append_basic_block(f, "fault"),
        cx.append_basic_block(f, "done"),
    );
    b.position_at_end(entry);
    let mut call_args: Vec<BasicValueEnum> = Vec::new();
    let mut exts = Vec::new();
    for (i, p) in k.params.iter().enumerate() {
        // SAFETY (of the generated code): the ABI gives one `args` slot per parameter.
        let slot = unsafe { b.build_in_bounds_gep(ptr, args, &[i64t.const_int(i as u64, false)], "slot")? };
        let addr = b.build_load(ptr, slot, "arg")?.into_pointer_value();
        match p.kind {
            ParamKind::Ptr { .. } => {
                call_args.push(addr.into());
                if checked {
                    let e = unsafe { b.build_in_bounds_gep(i64t, extents, &[i64t.const_int(i as u64, false)], "ext")? };
                    exts.push(b.build_load(i64t, e, "extent")?);
                }
            }
            ParamKind::Scalar(d) => {
                let v = b.build_load(types::mem(cx, Elem::Val(d)), addr, "scalar")?;
                call_args.push(if d == DType::Bool {
                    let zero = cx.i8_type().const_zero();
                    b.build_int_compare(IntPredicate::NE, v.into_int_value(), zero, "bool")?.into()
                } else {
                    v
                });
            }
        }
    }
    call_args.extend(exts);
    let mut g = Vec::new();
    for j in 0..3 {
        let gp = unsafe { b.build_in_bounds_gep(i32t, grid, &[i64t.const_int(j, false)], "g")? };
        g.push(b.build_load(i32t, gp, "grid")?.into_int_value());
    }
    let any = b.build_int_compare(IntPredicate::ULT, first, last, "any")?;
    b.build_conditional_branch(any, lp, done)?;

    b.position_at_end(lp);
    let p = b.build_phi(i64t, "p")?;
    let pv = p.as_basic_value().into_int_value();
    let g0 = b.build_int_z_extend(g[0], i64t, "g0")?;
    let g1 = b.build_int_z_extend(g[1], i64t, "g1")?;
    let x = b.build_int_unsigned_rem(pv, g0, "x")?;
    let rest = b.build_int_unsigned_div(pv, g0, "yz")?;
    let y = b.build_int_unsigned_rem(rest, g1, "y")?;
    let z = b.build_int_unsigned_div(rest, g1, "z")?;
    for c in [x, y, z] {
        call_args.push(b.build_int_truncate(c, i32t, "pid")?.into());
    }
    call_args.extend(g.iter().map(|&v| BasicValueEnum::from(v)));
    call_args.push(fault.into());
    let args: Vec<_> = call_args.iter().map(|&a| a.into()).collect();
    let status = b.build_call(program, &args, "status")?;
    let status = match status.try_as_basic_value() {
        inkwell::values::ValueKind::Basic(v) => v.into_int_value(),
        _ => return Err(crate::codegen::error::LowerError::Builder("aqua_program returns nothing".into())),
    };
    let bad = b.build_int_compare(IntPredicate::NE, status, i32t.const_zero(), "bad")?;
    b.build_conditional_branch(bad, fail, cont)?;

    b.position_at_end(cont);
    let next = b.build_int_add(pv, i64t.const_int(1, false), "p1")?;
    let more = b.build_int_compare(IntPredicate::ULT, next, last, "more")?;
    b.build_conditional_branch(more, lp, done)?;
    p.add_incoming(&[(&first, entry), (&next, cont)]);

    // Non-temporal stores are weakly ordered: a fence orders them before the launch ends,
    // by either return.
    let streams = super::streaming::has_streaming_stores(k);
    for (block, ret) in [(fail, status), (done, i32t.const_int(abi::STATUS_OK as u64, false))] {
        b.position_at_end(block);
        if streams {
            b.build_fence(AtomicOrdering::SequentiallyConsistent, false, "")?;
        }
        b.build_return(Some(&ret))?;
    }

    let frame = module.add_global(i64t, None, abi::FRAME_BYTES_SYMBOL);
    frame.set_initializer(&i64t.const_int(frame_bytes, false));
    frame.set_constant(true);
    Ok(())
}
