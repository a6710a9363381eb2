//! Specialized branches (`aqua_dsl::build::specialize`): on the CPU the general form is
//! outlined into a second object compiled on another thread; GPU targets and their SIMT
//! emulation keep only the general form; the interpreter branches.
//!
//! The kernels here break the promise on purpose (the fast form writes [`FAST`], the
//! general form [`GENERAL`]) so each test can see which form ran.

use aqua_dsl::build::*;
use aqua_dsl::codegen::{compile, CodegenOptions, Target};
use aqua_dsl::ir::{DType, Kernel, Param, ParamKind};
use aqua_runtime::backend::cpu::CpuModule;
use aqua_runtime::{Arg, HostBuffer, LaunchError, LaunchMode, Runtime, RuntimeOptions};

const FAST: i32 = 4242;
const GENERAL: i32 = 7171;

fn param(name: &str, kind: ParamKind) -> Param {
    Param { name: name.into(), kind }
}

fn out_i32() -> Param {
    param("out", ParamKind::Ptr { dtype: DType::I32, mutable: true })
}

/// `out[pid] = FAST` where `pid < n` (the fast form), else `GENERAL`; optionally a store before
/// the branch, which keeps the CPU from outlining it.
fn marker(store_first: bool) -> Kernel {
    let params = vec![out_i32(), param("n", ParamKind::Scalar(DType::I32))];
    build_kernel("marker", params, move |a| {
        let (out, n) = (a[0], a[1]);
        let at = out + program_id(0);
        if store_first {
            store(at, 0);
        }
        specialize(
            lt(program_id(0), n),
            || {
                store(at, FAST);
                vec![]
            },
            || {
                store(at, GENERAL);
                vec![]
            },
        );
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn options(mode: LaunchMode) -> RuntimeOptions {
    RuntimeOptions { threads: 2, mode, opt_level: 3, cache_dir: None, dump_dir: None }
}

fn run(rt: &Runtime, k: &Kernel, programs: u32, n: i32) -> Vec<i32> {
    let c = rt.compile_kernel(k).unwrap_or_else(|e| panic!("{e}"));
    let mut out = HostBuffer::zeros(DType::I32, programs as usize);
    rt.launch(&c, [programs, 1, 1], &mut [Arg::BufMut(&mut out), Arg::i32(n)]).unwrap_or_else(|e| panic!("{e}"));
    out.to_vec::<i32>().unwrap()
}

#[test]
fn the_text_form_keeps_the_flag() {
    let text = marker(false).to_string();
    assert!(text.contains("if specialized %"), "{text}");
    let back = aqua_dsl::text::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back.to_string(), text);
}

#[test]
fn the_interpreter_and_the_cpu_take_the_fast_form_where_the_condition_holds() {
    let k = marker(false);
    let want = vec![FAST, FAST, FAST, GENERAL, GENERAL];
    assert_eq!(run(&Runtime::interpreter(), &k, 5, 3), want);
    for mode in [LaunchMode::Checked, LaunchMode::Unchecked] {
        assert_eq!(run(&Runtime::cpu_with(options(mode)), &k, 5, 3), want, "{mode}");
    }
    // Every program on the general form, and none.
    assert_eq!(run(&Runtime::cpu_with(options(LaunchMode::Unchecked)), &k, 4, 0), vec![GENERAL; 4]);
    assert_eq!(run(&Runtime::cpu_with(options(LaunchMode::Unchecked)), &k, 4, 9), vec![FAST; 4]);
}

#[test]
fn the_cpu_outlines_the_general_form_into_a_second_object() {
    let art = compile(&marker(false), &CodegenOptions::default()).unwrap();
    let general = art.general_object.as_ref().expect("the general form is outlined");
    assert_eq!(&general[..4], b"\x7fELF");
    assert_eq!(art.objects().len(), 2);
    let stages: Vec<&str> = art.timings.iter().map(|t| t.0).collect();
    for s in ["optimize", "emit", "join", "general optimize", "general emit"] {
        assert!(stages.contains(&s), "{stages:?}");
    }
    // A store before the branch would run twice: no outlining, a plain branch.
    let art = compile(&marker(true), &CodegenOptions::default()).unwrap();
    assert!(art.general_object.is_none());
    let k = marker(true);
    let rt = Runtime::cpu_with(options(LaunchMode::Unchecked));
    assert_eq!(run(&rt, &k, 5, 3), run(&Runtime::interpreter(), &k, 5, 3));
}

#[test]
fn the_text_dump_shows_both_modules() {
    let art = compile(&marker(false), &CodegenOptions { emit_text: true, ..Default::default() }).unwrap();
    let defined = art.llvm_ir.lines().any(|l| l.starts_with("define hidden") && l.contains("@aqua_program_general("));
    assert!(defined, "{}", art.llvm_ir);
    assert!(art.llvm_ir.contains("@aqua_entry("));
    assert!(art.asm.contains("aqua_program_general:"), "{}", art.asm);
}

#[test]
fn gpu_targets_keep_only_the_general_form() {
    let k = marker(false);
    let simt = Runtime::simt_with(options(LaunchMode::Unchecked), 1);
    assert_eq!(run(&simt, &k, 5, 3), vec![GENERAL; 5]);
    let ptx = compile(&k, &CodegenOptions { target: Target::nvptx(90), ..Default::default() }).unwrap();
    assert!(ptx.general_object.is_none());
    let text = String::from_utf8(ptx.object).unwrap();
    assert!(text.contains(&GENERAL.to_string()) && !text.contains(&FAST.to_string()), "{text}");
}

/// The general form's stack buffers count in the kernel's frame: the runtime sizes its
/// threads' stacks from it.
#[test]
fn the_frame_covers_the_general_forms_buffers() {
    const N: u32 = 1 << 18;
    let params = vec![
        param("x", ParamKind::Ptr { dtype: DType::F32, mutable: false }),
        param("y", ParamKind::Ptr { dtype: DType::F32, mutable: true }),
        param("s", ParamKind::Ptr { dtype: DType::F32, mutable: true }),
        param("full", ParamKind::Scalar(DType::Bool)),
    ];
    let k = build_kernel("big_general", params, |a| {
        let (x, y, s, full) = (a[0], a[1], a[2], a[3]);
        specialize(
            full,
            || {
                store(s, 0.0f32);
                vec![]
            },
            || {
                // Read by two sinks, and a math call (which they would not compute
                // again each), `v` lives in a stack buffer of N f32.
                let v = load(x + arange(N)).exp() * 2.0;
                store(y + arange(N), v);
                store(s, v.sum(0));
                vec![]
            },
        );
    })
    .unwrap();
    let art = compile(&k, &CodegenOptions::default()).unwrap();
    assert!(art.general_object.is_some());
    let module = CpuModule::load(&art.objects()).unwrap();
    assert!(module.frame_bytes() >= 4 * N as u64, "frame {} bytes", module.frame_bytes());

    let rt = Runtime::cpu_with(options(LaunchMode::Unchecked));
    let c = rt.compile_kernel(&k).unwrap();
    // exp(0) is exactly 1.
    let x = HostBuffer::from_slice(&vec![0.0f32; N as usize]);
    let mut y = HostBuffer::zeros(DType::F32, N as usize);
    let mut s = HostBuffer::zeros(DType::F32, 1);
    rt.launch(&c, [1, 1, 1], &mut [Arg::Buf(&x), Arg::BufMut(&mut y), Arg::BufMut(&mut s), Arg::bool(false)]).unwrap();
    assert!(y.to_vec::<f32>().unwrap().iter().all(|&v| v == 2.0));
    assert_eq!(s.to_vec::<f32>().unwrap(), [2.0 * N as f32]);
}

/// A fault in the outlined general form is reported like any other.
#[test]
fn a_checked_fault_in_the_general_form_names_the_kernel_and_argument() {
    let rt = Runtime::cpu_with(options(LaunchMode::Checked));
    let k = marker(false);
    let c = rt.compile_kernel(&k).unwrap();
    // Programs 3 and 4 take the general form and store past the end of a 3-element `out`.
    let mut out = HostBuffer::zeros(DType::I32, 3);
    let e = rt.launch(&c, [5, 1, 1], &mut [Arg::BufMut(&mut out), Arg::i32(3)]).unwrap_err();
    match &e {
        LaunchError::OutOfBounds { kernel, arg, offset, is_store, program, .. } => {
            assert_eq!((kernel.as_str(), arg.as_str(), *offset, *is_store, *program), ("marker", "out", 3, true, [3, 0, 0]));
        }
        other => panic!("{other:?}"),
    }
}
