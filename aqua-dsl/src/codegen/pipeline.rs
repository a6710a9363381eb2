//! The stage loop for one LLVM module: `lower` (the block IR to LLVM IR, `llvm/`),
//! `verify` (LLVM's module verifier: a lowering bug becomes an error, not a crash in a
//! later pass), `optimize` (the target's pipeline), `emit` (the object file or PTX) and,
//! when asked, `text` (optimized LLVM IR and assembly, for dumps). Each stage's time is
//! kept. A module owns its LLVM context, so two can run on two threads (`super::compile`).

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use inkwell::context::Context;
use inkwell::targets::FileType;

use super::{llvm, target, CodegenError, CodegenOptions, Target};
use crate::ir::Kernel;

/// What one module produced.
pub(super) struct Part {
    pub object: Vec<u8>,
    pub block_threads: u32,
    pub shared_bytes: u64,
    pub llvm_ir: String,
    pub asm: String,
    pub timings: Vec<(&'static str, Duration)>,
}

/// How a module's stack frame meets the other module's (`llvm/specialized.rs`): the
/// general form reports its frame once lowered; the fast module's entry waits for it.
pub(super) enum Frames<'a> {
    Alone,
    Report(Sender<Result<u64, CodegenError>>),
    Await(&'a dyn Fn() -> Result<u64, CodegenError>),
}

enum Machine {
    Cpu(target::cpu::HostCpu),
    Gpu(target::nvptx::Nvptx),
}

/// Runs every stage on the `unit` part of `kernel`.
pub(super) fn run(kernel: &Kernel, opts: &CodegenOptions, unit: llvm::Unit, frames: Frames) -> Result<Part, CodegenError> {
    let names = stage_names(unit);
    let mut timings = Vec::new();
    let mut stage = |i: usize, start: Instant| timings.push((names[i], start.elapsed()));
    let llvm_err =
        |stage: &'static str| move |message: String| CodegenError::Llvm { kernel: kernel.name.clone(), stage, message };

    let t = Instant::now();
    let machine = match opts.target {
        Target::HostCpu | Target::Simt { .. } => Machine::Cpu(target::cpu::HostCpu::new(opts.opt_level)?),
        Target::Nvptx { sm, num_warps } => Machine::Gpu(target::nvptx::Nvptx::new(sm, num_warps, opts.opt_level)?),
    };
    let cx = Context::create();
    super::quiet(&cx);
    let module = cx.create_module(&kernel.name);
    let simt_info;
    let info = match &machine {
        Machine::Cpu(m) => {
            m.configure(&module);
            match opts.target {
                Target::Simt { num_warps } => {
                    let threads = target::nvptx::check_warps("simt", num_warps)?;
                    simt_info = llvm::TargetInfo {
                        name: "simt".into(),
                        gpu: Some(llvm::GpuInfo { threads, simt: true }),
                        ..m.info().clone()
                    };
                    &simt_info
                }
                _ => m.info(),
            }
        }
        Machine::Gpu(m) => {
            m.configure(&module);
            m.info()
        }
    };
    let block_threads = info.gpu.map_or(1, |g| g.threads);
    let no_frame = || Ok(0);
    let general_frame: &dyn Fn() -> Result<u64, CodegenError> = match &frames {
        Frames::Await(f) => *f,
        Frames::Alone | Frames::Report(_) => &no_frame,
    };
    let lowered = llvm::lower(&cx, &module, kernel, info, opts.checked, unit, general_frame);
    if let Frames::Report(tx) = frames {
        // The receiver is gone only when the other module failed first.
        let _ = tx.send(lowered.as_ref().map(|l| l.frame_bytes).map_err(Clone::clone));
    }
    let lowered = lowered?;
    stage(0, t);

    let t = Instant::now();
    module.verify().map_err(|m| llvm_err("verification")(m.to_string()))?;
    stage(1, t);

    let t = Instant::now();
    match &machine {
        Machine::Cpu(m) => m.optimize(&module, opts.opt_level),
        Machine::Gpu(m) => m.optimize(&module, opts.opt_level),
    }
    .map_err(llvm_err("optimization"))?;
    stage(2, t);

    let t = Instant::now();
    let object = match &machine {
        Machine::Cpu(m) => m.emit(&module, FileType::Object),
        Machine::Gpu(m) => m.emit(&module),
    }
    .map_err(llvm_err("object emission"))?;
    stage(3, t);

    let (mut llvm_ir, mut asm) = (String::new(), String::new());
    if opts.emit_text {
        let t = Instant::now();
        llvm_ir = module.print_to_string().to_string();
        asm = match &machine {
            Machine::Cpu(m) => {
                let text = m.emit(&module, FileType::Assembly).map_err(llvm_err("assembly emission"))?;
                String::from_utf8_lossy(&text).into_owned()
            }
            // The PTX is the object already.
            Machine::Gpu(_) => String::from_utf8_lossy(&object).into_owned(),
        };
        stage(4, t);
    }
    Ok(Part { object, block_threads, shared_bytes: lowered.shared_bytes, llvm_ir, asm, timings })
}

/// The names of the five stages in a unit's timings.
fn stage_names(unit: llvm::Unit) -> [&'static str; 5] {
    match unit {
        llvm::Unit::General { .. } => {
            ["general lower", "general verify", "general optimize", "general emit", "general text"]
        }
        llvm::Unit::Whole | llvm::Unit::Fast { .. } => ["lower", "verify", "optimize", "emit", "text"],
    }
}
