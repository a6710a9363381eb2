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
//! aligned to the vector at run time, a plain store where it is not. The non-temporal
//! store is x86's `(v)movntdq` as inline assembly ([`NonTemporal`]): LLVM's own
//! (`!nontemporal` metadata) is dropped from `f16` vectors by x86's instruction selection,
//! and kept only through a volatile stack round trip, which cost KIVI dequantize 6-26%.
//! Other hosts, and scalar stores left in the address space (a loop's remainder), store
//! plainly. `aqua_entry` ends with a fence, which orders the weakly ordered non-temporal
//! stores before the launch returns.

use inkwell::attributes::AttributeLoc;
use inkwell::context::ContextRef;
use inkwell::module::{Linkage, Module};
use inkwell::types::{BasicTypeEnum, VectorType};
use inkwell::values::{BasicValueEnum, FunctionValue, InstructionOpcode, InstructionValue};
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

/// The host's non-temporal vector store, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NonTemporal {
    /// x86-64 with AVX: `vmovntdq` of 16, 32 (and with AVX-512, 64) bytes.
    Avx,
    /// x86-64 without AVX: SSE2's `movntdq` of 16 bytes.
    Sse2,
    /// None: streaming stores store plainly.
    None,
}

impl NonTemporal {
    /// The non-temporal store of a host with LLVM triple `triple` and features `features`.
    pub(crate) fn of_host(triple: &str, features: &str) -> NonTemporal {
        match (triple.starts_with("x86_64"), features.split(',').any(|f| f == "+avx")) {
            (true, true) => NonTemporal::Avx,
            (true, false) => NonTemporal::Sse2,
            _ => NonTemporal::None,
        }
    }

    /// The instruction and its constraints for a vector of `bytes`, if it has one.
    fn instruction(self, bytes: u32) -> Option<(&'static str, &'static str)> {
        match (self, bytes) {
            (NonTemporal::Avx, 16 | 32) => Some(("vmovntdq $1, ($0)", "r,x,~{memory}")),
            (NonTemporal::Avx, 64) => Some(("vmovntdq $1, ($0)", "r,v,~{memory}")),
            (NonTemporal::Sse2, 16) => Some(("movntdq $1, ($0)", "r,x,~{memory}")),
            _ => None,
        }
    }
}

/// Rewrites the stores through [`STREAMING`] pointers of an optimized module: vector
/// stores that `nt` has an instruction for into calls of `aqua.stream.*` (non-temporal
/// where aligned), others into plain stores. Returns whether it made any call, which the
/// caller then inlines (LLVM's `always-inline` pass).
pub(crate) fn write_around_caches(module: &Module<'_>, nt: NonTemporal) -> Result<bool, String> {
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
            BasicValueEnum::VectorValue(v) if nt.instruction(vector_bytes(&cx, v.get_type())).is_some() => {
                let helper = helper(module, &cx, v.get_type(), nt)?;
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

/// `aqua.stream.<type>(ptr addrspace(1) p, <type> v)`: `nt`'s non-temporal store of `v`
/// where `p` is aligned to its size, a plain store where it is not.
fn helper<'ctx>(
    module: &Module<'ctx>,
    cx: &ContextRef<'ctx>,
    ty: VectorType<'ctx>,
    nt: NonTemporal,
) -> Result<FunctionValue<'ctx>, String> {
    let name = format!("aqua.stream.{}", ty.print_to_string().to_string().replace([' ', '<', '>'], ""));
    if let Some(f) = module.get_function(&name) {
        return Ok(f);
    }
    let bytes = vector_bytes(cx, ty);
    let (instruction, constraints) = nt.instruction(bytes).ok_or("no non-temporal store of this size")?;
    let ptr = cx.ptr_type(AddressSpace::from(STREAMING));
    let f =
        module.add_function(&name, cx.void_type().fn_type(&[ptr.into(), ty.into()], false), Some(Linkage::Internal));
    f.add_attribute(
        AttributeLoc::Function,
        cx.create_enum_attribute(inkwell::attributes::Attribute::get_named_enum_kind_id("alwaysinline"), 0),
    );
    let (p, v) = (f.get_nth_param(0).ok_or("no pointer")?.into_pointer_value(), f.get_nth_param(1).ok_or("no value")?);
    let b = cx.create_builder();
    let err = |e: inkwell::builder::BuilderError| e.to_string();
    let (entry, around, plain) =
        (cx.append_basic_block(f, "entry"), cx.append_basic_block(f, "nt"), cx.append_basic_block(f, "plain"));
    b.position_at_end(entry);
    let i64t = cx.i64_type();
    let address = b.build_ptr_to_int(p, i64t, "at").map_err(err)?;
    let offset = b.build_and(address, i64t.const_int(u64::from(bytes - 1), false), "off").map_err(err)?;
    let aligned = b.build_int_compare(IntPredicate::EQ, offset, i64t.const_zero(), "aligned").map_err(err)?;
    b.build_conditional_branch(aligned, around, plain).map_err(err)?;
    b.position_at_end(around);
    // As 64-bit integers, which every vector register constraint takes.
    let words = i64t.vec_type(bytes / 8);
    let w = b.build_bit_cast(v, words, "words").map_err(err)?;
    let asm_ty = cx.void_type().fn_type(&[i64t.into(), words.into()], false);
    let asm = cx.create_inline_asm(asm_ty, instruction.into(), constraints.into(), true, false, None, false);
    b.build_indirect_call(asm_ty, asm, &[address.into(), w.into()], "").map_err(err)?;
    b.build_return(None).map_err(err)?;
    b.position_at_end(plain);
    b.build_store(p, v).map_err(err)?.set_alignment(1).map_err(|e| e.to_string())?;
    b.build_return(None).map_err(err)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::NonTemporal;

    #[test]
    fn hosts_get_the_non_temporal_stores_they_have() {
        let avx = NonTemporal::of_host("x86_64-unknown-linux-gnu", "+sse2,+avx,+avx2,-avx512f");
        let sse = NonTemporal::of_host("x86_64-unknown-linux-gnu", "+sse2,-avx");
        let arm = NonTemporal::of_host("aarch64-unknown-linux-gnu", "+neon");
        assert_eq!((avx, sse, arm), (NonTemporal::Avx, NonTemporal::Sse2, NonTemporal::None));
        assert_eq!(avx.instruction(32).map(|i| i.0), Some("vmovntdq $1, ($0)"));
        assert_eq!(avx.instruction(64).map(|i| i.1), Some("r,v,~{memory}"), "zmm registers need `v`");
        assert_eq!(sse.instruction(16).map(|i| i.0), Some("movntdq $1, ($0)"));
        assert!(sse.instruction(32).is_none() && avx.instruction(8).is_none() && arm.instruction(16).is_none());
    }
}
