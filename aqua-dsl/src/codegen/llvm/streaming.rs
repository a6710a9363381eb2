//! Streaming stores (CPU): `store_streaming` writes whole vectors around the caches.
//!
//! A store that misses the cache first reads the line it writes (the read for ownership);
//! a non-temporal store of a whole aligned vector does not, and goes to memory through
//! write-combining buffers instead of evicting lines the kernel still reads. Where a
//! kernel writes more than the caches hold and nothing reads it back soon (a dequantizer's
//! output of a long context), that is most of its memory traffic: a KIVI tile's rows, 128
//! bytes a row and a tensor's channels apart, stored 2.5x faster in C on the EPYC host.
//!
//! LLVM's vectorizer leaves a loop scalar when it holds a non-temporal store it cannot
//! prove aligned (an `f16` element never is), so the lowering marks streaming stores by
//! their address space instead ([`STREAMING`], the pointer's base cast once), the
//! vectorizer builds its vector stores from them as from any other, and after
//! optimization [`write_around_caches`] turns each vector store in that address space into
//! a call of a small always-inlined function: a non-temporal store where the address is
//! aligned to the vector at run time, a plain store where it is not. Scalar stores left in
//! the address space (a loop's remainder) become plain stores. `aqua_entry` ends with a
//! fence, which orders the weakly ordered non-temporal stores before the launch returns.

use inkwell::attributes::AttributeLoc;
use inkwell::context::ContextRef;
use inkwell::module::{Linkage, Module};
use inkwell::types::{BasicTypeEnum, VectorType};
use inkwell::values::{BasicValue, BasicValueEnum, FunctionValue, InstructionOpcode, InstructionValue};
use inkwell::{AddressSpace, IntPredicate};

use crate::ir::{Kernel, Op};

/// The address space of a streaming store's pointer between lowering and
/// [`write_around_caches`] (x86 gives 1 no meaning of its own).
pub(crate) const STREAMING: u16 = 1;

/// Whether `kernel` has a streaming store (then its entry ends with a fence).
pub(crate) fn has_streaming_stores(kernel: &Kernel) -> bool {
    let mut any = false;
    kernel.walk(&mut |inst| any |= matches!(inst.op, Op::Store { streaming: true, .. }));
    any
}

/// Rewrites the stores through [`STREAMING`] pointers of an optimized module: vector
/// stores of 16, 32 or 64 bytes into calls of `aqua.stream.*` (non-temporal where aligned),
/// others into plain stores. Returns whether it made any call, which the caller then
/// inlines (LLVM's `always-inline` pass).
pub(crate) fn write_around_caches(module: &Module<'_>) -> Result<bool, String> {
    let cx = module.get_context();
    let b = cx.create_builder();
    let mut stores = Vec::new();
    for f in module.get_functions() {
        for block in f.get_basic_block_iter() {
            let mut inst = block.get_first_instruction();
            while let Some(i) = inst {
                if i.get_opcode() == InstructionOpcode::Store && streaming_pointer(i).is_some() {
                    stores.push(i);
                }
                inst = i.get_next_instruction();
            }
        }
    }
    let mut called = false;
    for st in stores {
        let (Some(value), Some(ptr)) = (operand(st, 0), streaming_pointer(st)) else { continue };
        b.position_before(&st);
        match value {
            BasicValueEnum::VectorValue(v) if matches!(vector_bytes(&cx, v.get_type()), 16 | 32 | 64) => {
                let helper = helper(module, &cx, v.get_type())?;
                b.build_call(helper, &[ptr.into(), v.into()], "").map_err(|e| e.to_string())?;
                called = true;
            }
            _ => {
                let plain = b
                    .build_address_space_cast(ptr, cx.ptr_type(AddressSpace::default()), "p")
                    .map_err(|e| e.to_string())?;
                let new = b.build_store(plain, value).map_err(|e| e.to_string())?;
                new.set_alignment(st.get_alignment().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
            }
        }
        st.erase_from_basic_block();
    }
    Ok(called)
}

fn operand<'ctx>(i: InstructionValue<'ctx>, n: u32) -> Option<BasicValueEnum<'ctx>> {
    match i.get_operand(n)? {
        inkwell::values::Operand::Value(v) => Some(v),
        inkwell::values::Operand::Block(_) => None,
    }
}

/// A store's pointer operand when it is in the [`STREAMING`] address space.
fn streaming_pointer(st: InstructionValue<'_>) -> Option<inkwell::values::PointerValue<'_>> {
    match operand(st, 1)? {
        BasicValueEnum::PointerValue(p) if p.get_type().get_address_space() == AddressSpace::from(STREAMING) => Some(p),
        _ => None,
    }
}

fn vector_bytes(cx: &ContextRef<'_>, t: VectorType<'_>) -> u32 {
    let lane = match t.get_element_type() {
        BasicTypeEnum::IntType(i) => i.get_bit_width(),
        BasicTypeEnum::FloatType(f) if f == cx.f16_type() || f == cx.bf16_type() => 16,
        BasicTypeEnum::FloatType(f) if f == cx.f32_type() => 32,
        BasicTypeEnum::FloatType(f) if f == cx.f64_type() => 64,
        _ => 0,
    };
    lane * t.get_size() / 8
}

/// `aqua.stream.<type>(ptr addrspace(1) p, <type> v)`: a non-temporal store of `v` where
/// `p` is aligned to its size, a plain store where it is not. The vector goes through a
/// stack slot, read back as 64-bit integers by a volatile load that no pass folds away:
/// x86 selects no non-temporal store of f16 vectors, and drops the hint of one.
fn helper<'ctx>(
    module: &Module<'ctx>,
    cx: &ContextRef<'ctx>,
    ty: VectorType<'ctx>,
) -> Result<FunctionValue<'ctx>, String> {
    let name = format!("aqua.stream.{}", ty.print_to_string().to_string().replace([' ', '<', '>'], ""));
    if let Some(f) = module.get_function(&name) {
        return Ok(f);
    }
    let ptr = cx.ptr_type(AddressSpace::from(STREAMING));
    let f =
        module.add_function(&name, cx.void_type().fn_type(&[ptr.into(), ty.into()], false), Some(Linkage::Internal));
    f.add_attribute(
        AttributeLoc::Function,
        cx.create_enum_attribute(inkwell::attributes::Attribute::get_named_enum_kind_id("alwaysinline"), 0),
    );
    let bytes = vector_bytes(cx, ty);
    let (p, v) = (f.get_nth_param(0).ok_or("no pointer")?.into_pointer_value(), f.get_nth_param(1).ok_or("no value")?);
    let b = cx.create_builder();
    let err = |e: inkwell::builder::BuilderError| e.to_string();
    let (entry, around, plain) =
        (cx.append_basic_block(f, "entry"), cx.append_basic_block(f, "nt"), cx.append_basic_block(f, "plain"));
    b.position_at_end(entry);
    let words = cx.i64_type().vec_type(bytes / 8);
    let slot = b.build_alloca(words, "slot").map_err(err)?;
    let i64t = cx.i64_type();
    let address = b.build_ptr_to_int(p, i64t, "at").map_err(err)?;
    let offset = b.build_and(address, i64t.const_int(u64::from(bytes - 1), false), "off").map_err(err)?;
    let aligned = b.build_int_compare(IntPredicate::EQ, offset, i64t.const_zero(), "aligned").map_err(err)?;
    b.build_conditional_branch(aligned, around, plain).map_err(err)?;
    b.position_at_end(around);
    b.build_store(slot, v).map_err(err)?.set_alignment(bytes).map_err(|e| e.to_string())?;
    let w = b.build_load(words, slot, "words").map_err(err)?;
    let load = w.as_instruction_value().ok_or("a load")?;
    load.set_volatile(true).map_err(|e| e.to_string())?;
    load.set_alignment(bytes).map_err(|e| e.to_string())?;
    let st = b.build_store(p, w).map_err(err)?;
    st.set_alignment(bytes).map_err(|e| e.to_string())?;
    st.set_metadata(cx.metadata_node(&[cx.i32_type().const_int(1, false).into()]), cx.get_kind_id("nontemporal"))
        .map_err(|e| e.to_string())?;
    b.build_return(None).map_err(err)?;
    b.position_at_end(plain);
    b.build_store(p, v).map_err(err)?.set_alignment(1).map_err(|e| e.to_string())?;
    b.build_return(None).map_err(err)?;
    Ok(f)
}
