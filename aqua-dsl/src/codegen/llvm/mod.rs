//! Lowering of the block IR to LLVM IR, shared by targets.
//!
//! The kernel body becomes one function, `aqua_program`, that runs one program (the CPU
//! model: one thread runs the whole block, so block values are thread-local); `entry.rs`
//! wraps it in the exported `aqua_entry` loop over program indices (`super::abi`).
//!
//! [`plan`] decides where each block lives (registers inside a fused loop, or a stack
//! buffer); [`index`] turns shape ops into index arithmetic; the op families are lowered
//! in their own files (`elementwise`, `cast`, `shape`, `reduce`, `memory`, `control`), and
//! `element` ties them together: the value of any block at any element index.
//!
//! On a GPU target (`TargetInfo::gpu`) the same program runs on every thread of a CTA:
//! `gpu.rs` spreads sink loops over the threads, puts block buffers in shared memory and
//! places the barriers; for NVPTX the program function is the PTX entry itself
//! (`gpu::declare_kernel`), for the SIMT emulation an entry wraps it as for the CPU.

mod cast;
mod control;
mod element;
mod elementwise;
mod entry;
mod gpu;
mod gpu_div;
mod gpu_math;
mod index;
mod jam;
mod loops;
mod memory;
mod mma;
mod plan;
mod prefetch;
mod reduce;
mod runs;
mod satfinite;
mod shape;
mod shuffle;
mod sibling_loads;
mod sibling_stores;
mod smem;
mod specialized;
pub(crate) mod streaming;
mod table_lookup;
mod transpose;
mod types;
mod vector;
mod xor_permute;

use std::collections::HashMap;

use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Module;
use inkwell::types::{BasicType, BasicTypeEnum, IntType};
use inkwell::values::{BasicValueEnum, FunctionValue, GlobalValue, IntValue, PointerValue};

use super::error::{CodegenError, Lower, LowerError};
use crate::analysis::{pointer_bases, PointerBases};
use crate::ir::{DType, Elem, Inst, Kernel, Region, ValueId};

pub(crate) use gpu::GpuInfo;
pub(crate) use specialized::{split_point, Unit, GENERAL_SYMBOL};
use plan::{Place, Plan};

/// What the target tells the lowering about itself.
#[derive(Clone, Debug)]
pub(crate) struct TargetInfo {
    /// The target's name in messages (`host`, `sm_90`).
    pub name: String,
    /// Attributes every function gets (`target-cpu`, `target-features`).
    pub fn_attributes: Vec<(&'static str, String)>,
    /// Whether f16 <-> f32 conversions are instructions (LLVM would otherwise call
    /// library routines the kernel's shared object cannot count on).
    pub native_f16: bool,
    /// Whether the target permutes 16 lanes of 32 bits by a vector of indices in one
    /// instruction (x86 AVX-512 `vpermps`): small tables are then looked up in registers
    /// (`table_lookup.rs`).
    pub permute16: bool,
    /// The largest tile whose next copy a CPU program prefetches (`prefetch.rs`); `None`:
    /// any.
    pub prefetch_bytes: Option<u64>,
    /// Set for GPU targets: one program is one CTA of threads.
    pub gpu: Option<GpuInfo>,
}

/// What a lowered module needs at launch.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LoweredModule {
    /// Dynamic shared memory per CTA (GPU targets; 0 on the CPU).
    pub shared_bytes: u64,
    /// Stack bytes of the program function's buffers (CPU).
    pub frame_bytes: u64,
}

/// Lowers the `unit` part of `kernel` into `module` (which has its triple and data layout
/// set). A [`Unit::Fast`] module's entry reserves `general_frame()` more bytes of stack for
/// the outlined general form it calls (asked for once its own body is lowered).
pub(crate) fn lower<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    kernel: &Kernel,
    target: &TargetInfo,
    checked: bool,
    unit: Unit,
    general_frame: &dyn Fn() -> Result<u64, CodegenError>,
) -> Result<LoweredModule, CodegenError> {
    let bases = pointer_bases(kernel).map_err(|(loc, message)| {
        // The analysis names the location; the op there is the one to blame.
        let mut op = "pointer";
        kernel.walk(&mut |i| {
            if i.loc == loc && op == "pointer" {
                op = i.op.name();
            }
        });
        CodegenError::Unsupported { kernel: kernel.name.clone(), op, loc, message }
    })?;
    if checked && target.gpu.is_some() {
        return Err(CodegenError::Target {
            target: target.name.clone(),
            message: format!("kernel `{}`: checked launches are a host feature (use the CPU or the interpreter)", kernel.name),
        });
    }
    if !target.native_f16 && kernel.values.iter().any(|t| t.dtype() == DType::F16) {
        return Err(CodegenError::Target {
            target: target.name.clone(),
            message: format!("kernel `{}` uses f16, which needs a CPU with F16C (x86-64) to compile", kernel.name),
        });
    }
    let plan_target = plan::PlanTarget {
        threads: target.gpu.map(|g| g.threads),
        register_lookups: target.permute16 && target.gpu.is_none(),
    };
    let skipped = specialized::skipped_forms(kernel, unit, target.gpu.is_some());
    let plan = plan::plan(kernel, &bases, plan_target, &skipped);
    let program = entry::declare_program(cx, module, kernel, checked, target, unit)
        .map_err(|e| e.into_codegen(&kernel.name))?;
    let func = program.func;
    let releases = if target.gpu.is_some() { smem::release_points(kernel, &plan) } else { HashMap::new() };
    let mut l = Lowerer::new(cx, module, kernel, program, plan, bases, checked);
    l.releases = releases;
    l.unit = unit;
    l.permute16 = target.permute16;
    l.prefetch_bytes = target.prefetch_bytes;
    if target.gpu.is_some() {
        l.idx = cx.i32_type();
    }
    l.runs = crate::analysis::runs(kernel);
    if target.gpu.is_none() {
        l.affine = crate::analysis::affine(kernel);
        l.one_run = crate::analysis::one_run_blocks(kernel, &l.affine);
    }
    if let Unit::Fast { .. } = unit {
        l.general_fn = Some(entry::declare_general(module, func));
    }
    let frame = l.emit_program(target.gpu).map_err(|e| e.into_codegen(&kernel.name))?;
    let shared_bytes = l.arena.high;
    match (target.gpu, unit) {
        (_, Unit::General { .. }) => Ok(()),
        (None, Unit::Fast { .. }) => {
            let frame = frame + general_frame()?;
            entry::define_entry(cx, module, kernel, func, checked, target, frame)
        }
        (None, Unit::Whole) => entry::define_entry(cx, module, kernel, func, checked, target, frame),
        (Some(g), _) if g.simt => gpu::define_simt_entry(cx, module, kernel, func, target, shared_bytes),
        // The program is the PTX entry itself (`gpu::declare_kernel`).
        (Some(_), _) => Ok(()),
    }
    .map_err(|e| e.into_codegen(&kernel.name))?;
    Ok(LoweredModule { shared_bytes, frame_bytes: frame })
}

/// Where a value lives once lowered.
#[derive(Clone, Copy)]
enum Lowered<'ctx> {
    Scalar(BasicValueEnum<'ctx>),
    Buffer(PointerValue<'ctx>),
}

/// A kernel parameter inside the program function.
#[derive(Clone, Copy)]
pub(crate) enum ParamVal<'ctx> {
    /// A buffer's base address and (checked mode) its element count.
    Ptr {
        base: PointerValue<'ctx>,
        extent: Option<IntValue<'ctx>>,
    },
    Scalar(BasicValueEnum<'ctx>),
}

/// Memo key: a value at an index (the index's variables by identity).
type MemoKey = (ValueId, element::IndexKey);

pub(crate) struct Lowerer<'a, 'ctx> {
    pub(crate) k: &'a Kernel,
    pub(crate) cx: &'ctx Context,
    pub(crate) module: &'a Module<'ctx>,
    pub(crate) b: Builder<'ctx>,
    pub(crate) func: FunctionValue<'ctx>,
    pub(crate) plan: Plan,
    pub(crate) bases: PointerBases,
    pub(crate) checked: bool,
    pub(crate) params: Vec<ParamVal<'ctx>>,
    /// Program coordinates and grid size (`i32`).
    pub(crate) pid: [IntValue<'ctx>; 3],
    pub(crate) grid: [IntValue<'ctx>; 3],
    pub(crate) fault: PointerValue<'ctx>,
    /// The type of element indices, loop variables and thread ids: `i64` on the host,
    /// `i32` on GPU targets (and their SIMT emulation), where 64-bit integer arithmetic
    /// takes two instructions and pairs of registers (blocks are at most 2^20 elements,
    /// so every index and byte offset inside one fits).
    pub(crate) idx: IntType<'ctx>,
    /// Runs of consecutive offsets, for addressing by runs (`runs.rs`; on the CPU only in
    /// blocks that are not [`Self::one_run`]).
    pub(crate) runs: HashMap<ValueId, crate::analysis::Runs>,
    /// CPU: the blocks of offsets that are one run across rows (`analysis::one_run_blocks`).
    pub(crate) one_run: std::collections::HashSet<ValueId>,
    /// CPU: integer and pointer blocks as affine functions of their indices, for sibling
    /// stores (`analysis::affine`).
    pub(crate) affine: HashMap<ValueId, crate::analysis::Affine>,
    /// Positioned in the first block, which holds every `alloca` (so stack buffers are
    /// allocated once per call, whatever loops they are used in).
    alloca_b: Builder<'ctx>,
    frame_bytes: u64,
    /// GPU only: the thread id and the shared memory global.
    pub(crate) threads: Option<gpu::Threads<'ctx>>,
    smem: Option<GlobalValue<'ctx>>,
    simt: Option<entry::SimtParams<'ctx>>,
    /// GPU: inside the unmasked version of a sink (`vector.rs`): masks are all true.
    pub(crate) unmasked: bool,
    /// GPU: the sink being emitted, when its lanes may exchange values (`xor_permute.rs`).
    pub(crate) sink_lanes: Option<xor_permute::SinkLanes>,
    /// GPU: buffers to release after each instruction, free shared blocks, and the
    /// block `(offset, bytes)` of every live shared buffer (by pointer), see `smem.rs`.
    releases: HashMap<(smem::RegionKey, usize), Vec<ValueId>>,
    arena: smem::Arena,
    shared_blocks: HashMap<usize, (u64, u64)>,
    defs: Vec<Option<&'a Inst>>,
    vals: Vec<Option<Lowered<'ctx>>>,
    memo: HashMap<MemoKey, BasicValueEnum<'ctx>>,
    tables: HashMap<u32, GlobalValue<'ctx>>,
    /// The part of the kernel this module holds, and (in a [`Unit::Fast`] module) the
    /// outlined general form it calls (`specialized.rs`).
    unit: Unit,
    general_fn: Option<FunctionValue<'ctx>>,
    /// [`TargetInfo::permute16`].
    permute16: bool,
    /// [`TargetInfo::prefetch_bytes`].
    prefetch_bytes: Option<u64>,
    /// The fast form of a specialized branch while it is lowered: its top-level loads
    /// prefetch the next program's tile (`prefetch.rs`).
    prefetch_in: Option<&'a Region>,
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    fn new(
        cx: &'ctx Context,
        module: &'a Module<'ctx>,
        k: &'a Kernel,
        program: entry::Program<'ctx>,
        plan: Plan,
        bases: PointerBases,
        checked: bool,
    ) -> Self {
        // A PTX entry comes with its first block, which reads the special registers.
        let allocas =
            program.func.get_first_basic_block().unwrap_or_else(|| cx.append_basic_block(program.func, "allocas"));
        let alloca_b = cx.create_builder();
        alloca_b.position_at_end(allocas);
        let b = cx.create_builder();
        let mut defs = vec![None; k.values.len()];
        k.walk(&mut |inst| {
            for v in &inst.results {
                defs[v.0 as usize] = Some(inst);
            }
        });
        Lowerer {
            k,
            cx,
            module,
            b,
            func: program.func,
            plan,
            bases,
            checked,
            params: program.params,
            pid: program.pid,
            grid: program.grid,
            fault: program.fault,
            idx: cx.i64_type(),
            runs: HashMap::new(),
            one_run: Default::default(),
            affine: HashMap::new(),
            alloca_b,
            frame_bytes: 0,
            threads: None,
            smem: None,
            simt: program.simt,
            unmasked: false,
            sink_lanes: None,
            releases: HashMap::new(),
            arena: smem::Arena::default(),
            shared_blocks: HashMap::new(),
            defs,
            vals: vec![None; k.values.len()],
            memo: HashMap::new(),
            tables: HashMap::new(),
            unit: Unit::Whole,
            permute16: false,
            prefetch_bytes: None,
            prefetch_in: None,
            general_fn: None,
        }
    }

    /// Emits the program function's body; returns the bytes of stack buffers it uses.
    fn emit_program(&mut self, gpu: Option<GpuInfo>) -> Lower<u64> {
        let start = self.cx.append_basic_block(self.func, "start");
        self.b.position_at_end(start);
        if let Some(gpu) = gpu {
            self.init_threads(gpu)?;
        }
        for (i, &arg) in self.k.body.args.iter().enumerate() {
            let v = match self.params[i] {
                ParamVal::Ptr { .. } => self.cx.i64_type().const_zero().into(),
                ParamVal::Scalar(v) => v,
            };
            self.set(arg, Lowered::Scalar(v));
        }
        self.emit_region(&self.k.body)?;
        self.return_ok()?;
        self.alloca_b.build_unconditional_branch(start)?;
        Ok(self.frame_bytes)
    }

    /// Returns from the program: `STATUS_OK`, or nothing from a PTX entry.
    pub(crate) fn return_ok(&self) -> Lower<()> {
        match self.func.get_type().get_return_type() {
            Some(_) => self.b.build_return(Some(&self.cx.i32_type().const_int(super::abi::STATUS_OK as u64, false))),
            None => self.b.build_return(None),
        }?;
        Ok(())
    }

    // ---- values ----

    fn set(&mut self, v: ValueId, l: Lowered<'ctx>) {
        self.vals[v.0 as usize] = Some(l);
    }

    pub(crate) fn def(&self, v: ValueId) -> Lower<&'a Inst> {
        self.defs[v.0 as usize].ok_or_else(|| LowerError::Builder(format!("value {v} has no definition")))
    }

    pub(crate) fn scalar(&self, v: ValueId) -> Lower<BasicValueEnum<'ctx>> {
        match self.vals[v.0 as usize] {
            Some(Lowered::Scalar(x)) => Ok(x),
            _ => Err(LowerError::Builder(format!("scalar {v} used before it is defined"))),
        }
    }

    pub(crate) fn buffer(&self, v: ValueId) -> Lower<PointerValue<'ctx>> {
        match self.vals[v.0 as usize] {
            Some(Lowered::Buffer(p)) => Ok(p),
            _ => Err(LowerError::Builder(format!("block {v} used before it is defined"))),
        }
    }

    pub(crate) fn place(&self, v: ValueId) -> Place {
        self.plan.of(v)
    }

    pub(crate) fn elem_of(&self, v: ValueId) -> Elem {
        self.k.ty(v).elem
    }

    /// A block buffer of `n` elements: on the stack, allocated once at function entry
    /// (CPU), or in the CTA's shared memory (GPU).
    pub(crate) fn alloc(&mut self, elem: Elem, n: u64) -> Lower<PointerValue<'ctx>> {
        if self.threads.is_some() {
            return self.shared_alloc(n * types::mem_size(elem) as u64);
        }
        self.alloc_raw(types::mem(self.cx, elem), n)
    }

    /// A buffer for the block value `v`.
    pub(crate) fn alloc_for(&mut self, v: ValueId) -> Lower<PointerValue<'ctx>> {
        self.alloc(self.elem_of(v), self.k.ty(v).shape.numel() as u64)
    }

    /// A stack buffer of `n` values of an LLVM type (integers or floats), private to the
    /// thread (reduction states).
    pub(crate) fn alloc_raw(&mut self, ty: BasicTypeEnum<'ctx>, n: u64) -> Lower<PointerValue<'ctx>> {
        let size = match ty {
            BasicTypeEnum::IntType(t) => t.get_bit_width().div_ceil(8),
            BasicTypeEnum::FloatType(t) if t == self.cx.f16_type() => 2,
            BasicTypeEnum::FloatType(t) if t == self.cx.f64_type() => 8,
            _ => 4,
        };
        let arr = ty.array_type(n as u32);
        let p = self.alloca_b.build_alloca(arr, "buf")?;
        if let Some(inst) = p.as_instruction() {
            inst.set_alignment(64).map_err(|e| LowerError::Builder(e.to_string()))?;
        }
        self.frame_bytes += (n * size as u64).next_multiple_of(64);
        Ok(p)
    }

    pub(crate) fn op_error(&self, inst: &Inst, message: impl Into<String>) -> LowerError {
        LowerError::Op { op: inst.op.name(), loc: inst.loc, message: message.into() }
    }

    // ---- small IR helpers ----

    /// An index constant (of type [`Self::idx`]).
    pub(crate) fn ic(&self, v: u64) -> IntValue<'ctx> {
        self.idx.const_int(v, false)
    }

    pub(crate) fn i64c(&self, v: u64) -> IntValue<'ctx> {
        self.cx.i64_type().const_int(v, false)
    }

    pub(crate) fn i32c(&self, v: u64) -> IntValue<'ctx> {
        self.cx.i32_type().const_int(v, false)
    }

    /// Calls an LLVM intrinsic overloaded on `types`.
    pub(crate) fn intrinsic(
        &self,
        name: &str,
        types: &[BasicTypeEnum<'ctx>],
        args: &[BasicValueEnum<'ctx>],
    ) -> Lower<BasicValueEnum<'ctx>> {
        let decl = Intrinsic::find(name)
            .and_then(|i| i.get_declaration(self.module, types))
            .ok_or_else(|| LowerError::Builder(format!("LLVM has no intrinsic {name}")))?;
        let args: Vec<_> = args.iter().map(|&a| a.into()).collect();
        match self.b.build_call(decl, &args, "")?.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => Ok(v),
            _ => Err(LowerError::Builder(format!("{name} returns nothing"))),
        }
    }

    /// A new basic block in the program function.
    pub(crate) fn block(&self, name: &str) -> BasicBlock<'ctx> {
        self.cx.append_basic_block(self.func, name)
    }

    pub(crate) fn current_block(&self) -> Lower<BasicBlock<'ctx>> {
        self.b.get_insert_block().ok_or_else(|| LowerError::Builder("builder has no block".into()))
    }
}
