//! Kernel objects linked into this process by LLVM's ORC JIT (`LLJIT` and its JITLink
//! linker): no system linker, no file, no `dlopen`. A cold compile no longer spawns `ld`
//! (about 4 ms of a 35 ms budget), and a disk cache hit links the cached objects in about
//! half a millisecond.
//!
//! Each [`LinkedCode`] owns one LLJIT instance, which keeps the code mapped until it is
//! dropped. Symbols the objects leave undefined (libm's `exp`, `log`, `fmodf`) resolve
//! against the process and libm.

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use inkwell::llvm_sys::core::LLVMCreateMemoryBufferWithMemoryRangeCopy;
use inkwell::llvm_sys::error::{LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage};
use inkwell::llvm_sys::orc2::lljit::{
    LLVMOrcCreateLLJIT, LLVMOrcCreateLLJITBuilder, LLVMOrcDisposeLLJIT, LLVMOrcLLJITAddObjectFile,
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder, LLVMOrcLLJITGetGlobalPrefix, LLVMOrcLLJITGetMainJITDylib,
    LLVMOrcLLJITLookup, LLVMOrcLLJITRef,
};
use inkwell::llvm_sys::orc2::{
    LLVMOrcCreateDynamicLibrarySearchGeneratorForPath, LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess,
    LLVMOrcJITDylibAddGenerator, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine,
};
use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target, TargetMachine};
use inkwell::OptimizationLevel;

use super::CpuError;

/// Objects linked into the process; their code stays mapped while this lives.
pub struct LinkedCode {
    jit: LLVMOrcLLJITRef,
}

// SAFETY: after `link` the instance is only used for symbol lookups, which ORC makes
// thread-safe, and for disposal in `drop`.
unsafe impl Send for LinkedCode {}
unsafe impl Sync for LinkedCode {}

/// The message of an LLVM error (consumed).
fn take(err: LLVMErrorRef) -> String {
    // SAFETY: `err` is a live error; getting its message consumes it, and the message is
    // freed with the matching call.
    unsafe {
        let raw = LLVMGetErrorMessage(err);
        let message = CStr::from_ptr(raw).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(raw);
        message
    }
}

fn check(what: &'static str, err: LLVMErrorRef) -> Result<(), CpuError> {
    if err.is_null() {
        Ok(())
    } else {
        Err(CpuError::Jit { what, message: take(err) })
    }
}


/// A target machine of the host's triple with a generic CPU: linking needs no more, and
/// LLJIT's default, the detected host CPU and its long feature list, made up most of its
/// start-up time (detection, and expanding every feature's implications).
fn link_machine() -> Result<TargetMachine, CpuError> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    let err = |message: String| CpuError::Jit { what: "cannot describe the host to LLVM's JIT", message };
    INIT.get_or_init(|| Target::initialize_native(&InitializationConfig::default())).clone().map_err(err)?;
    let triple = TargetMachine::get_default_triple();
    let target = Target::from_triple(&triple).map_err(|m| err(m.to_string()))?;
    target
        .create_target_machine(&triple, "", "", OptimizationLevel::None, RelocMode::PIC, CodeModel::Default)
        .ok_or_else(|| err(format!("no target machine for `{}`", triple.as_str().to_string_lossy())))
}

impl LinkedCode {
    /// Links `objects` (ELF relocatable objects for this host) together into the process.
    pub fn link(objects: &[&[u8]]) -> Result<LinkedCode, CpuError> {
        let machine = link_machine()?;
        let mut jit = std::ptr::null_mut();
        // SAFETY: the JIT target machine builder takes the target machine over (so the
        // wrapper must not free it), and the LLJIT builder takes both over.
        let err = unsafe {
            let builder = LLVMOrcCreateLLJITBuilder();
            let jtmb = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(machine.as_mut_ptr());
            std::mem::forget(machine);
            LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
            LLVMOrcCreateLLJIT(&mut jit, builder)
        };
        check("cannot start LLVM's JIT", err)?;
        let code = LinkedCode { jit };
        // SAFETY: `jit` is live; the generators and buffers are handed over to it.
        unsafe {
            let dylib = LLVMOrcLLJITGetMainJITDylib(jit);
            let prefix = LLVMOrcLLJITGetGlobalPrefix(jit);
            let mut process = std::ptr::null_mut();
            let err = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&mut process, prefix, None, std::ptr::null_mut());
            check("cannot resolve symbols against the process", err)?;
            LLVMOrcJITDylibAddGenerator(dylib, process);
            // The process may not have libm loaded (a host program that never uses it).
            let mut libm = std::ptr::null_mut();
            let path = c"libm.so.6";
            let err = LLVMOrcCreateDynamicLibrarySearchGeneratorForPath(&mut libm, path.as_ptr(), prefix, None, std::ptr::null_mut());
            if err.is_null() {
                LLVMOrcJITDylibAddGenerator(dylib, libm);
            } else {
                // Not fatal: an unresolved symbol is reported when it is looked up.
                take(err);
            }
            for (i, object) in objects.iter().enumerate() {
                let name = CString::new(format!("aqua-object-{i}")).expect("no NUL in the name");
                let buffer = LLVMCreateMemoryBufferWithMemoryRangeCopy(object.as_ptr().cast(), object.len(), name.as_ptr());
                check("cannot add a kernel object", LLVMOrcLLJITAddObjectFile(jit, dylib, buffer))?;
            }
        }
        Ok(code)
    }

    /// The address of `symbol`, linking the objects on first use; an error when the
    /// objects do not define it or cannot be linked (an undefined symbol, say).
    pub fn address(&self, symbol: &'static str) -> Result<usize, CpuError> {
        let name = CString::new(symbol).expect("no NUL in symbol names");
        let mut address = 0;
        // SAFETY: `jit` is live and `name` a C string.
        let err = unsafe { LLVMOrcLLJITLookup(self.jit, &mut address, name.as_ptr()) };
        if err.is_null() {
            Ok(address as usize)
        } else {
            Err(CpuError::Symbol { symbol, message: take(err) })
        }
    }
}

impl Drop for LinkedCode {
    fn drop(&mut self) {
        // SAFETY: no function of the code runs any more (the owner outlives its launches).
        let err = unsafe { LLVMOrcDisposeLLJIT(self.jit) };
        if !err.is_null() {
            eprintln!("aqua: warning: releasing a kernel's code: {}", take(err));
        }
    }
}
