//! The interpreter backend: the same API and argument checks as the CPU, reference
//! semantics underneath; and the CPU agrees with it.

mod common;

use aqua_dsl::{DType, Params};
use aqua_runtime::{
    Arg, BackendKind, CacheOutcome, HostBuffer, Input, LaunchError, LaunchMode, Runtime, RuntimeOptions,
};
use common::{axpy_reference, data, Axpy, Unmasked};

fn run_axpy(rt: &Runtime, n: usize) -> Vec<f32> {
    let k = rt.compile(&Axpy, &Params::new().with("block", 32)).unwrap();
    let x = HostBuffer::from_slice(&data(n, 3));
    let mut y = HostBuffer::from_slice(&data(n, 4));
    rt.launch(
        &k,
        [n.div_ceil(32) as u32, 1, 1],
        &mut [Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(-0.75), Arg::i32(n as i32)],
    )
    .unwrap();
    y.to_vec().unwrap()
}

#[test]
fn interprets_through_the_runtime_api() {
    let rt = Runtime::interpreter();
    assert_eq!(rt.backend(), BackendKind::Interpreter);
    assert!(rt.describe().starts_with("interpreter"), "{}", rt.describe());
    let (k, report) = rt.compile_with_report(Input::Source(&Axpy, &Params::new()), LaunchMode::Unchecked).unwrap();
    assert_eq!(report.outcome, CacheOutcome::Interpreted);
    assert_eq!((k.backend(), k.mode(), k.key()), (BackendKind::Interpreter, LaunchMode::Checked, None));
    let n = 77;
    assert_eq!(run_axpy(&rt, n), axpy_reference(-0.75, &data(n, 3), &data(n, 4)));
}

#[test]
fn interpreter_reports_out_of_bounds_with_the_source_line() {
    let rt = Runtime::interpreter();
    let k = rt.compile(&Unmasked, &Params::new()).unwrap();
    let src = HostBuffer::from_slice(&[1i32; 20]);
    let mut dst = HostBuffer::zeros(DType::I32, 32);
    let e = rt.launch(&k, [2, 1, 1], &mut [Arg::Buf(&src), Arg::BufMut(&mut dst)]).unwrap_err();
    match &e {
        LaunchError::OutOfBounds {
            arg, offset, len: 20, program: [1, 0, 0], is_store: false, loc: Some(loc), ..
        } => {
            assert_eq!(arg, "src");
            assert!((20..32).contains(offset), "{e}");
            assert!(loc.file.ends_with("common/mod.rs"), "{e}");
        }
        _ => panic!("{e:?}"),
    }
    assert!(e.to_string().contains("common/mod.rs"), "{e}");
}

#[test]
fn cpu_matches_the_interpreter() {
    let cpu = Runtime::cpu_with(RuntimeOptions {
        threads: 2,
        mode: LaunchMode::Unchecked,
        opt_level: 3,
        cache_dir: None,
        dump_dir: None,
    });
    for n in [1, 31, 32, 33, 200] {
        assert_eq!(run_axpy(&cpu, n), run_axpy(&Runtime::interpreter(), n), "n = {n}");
    }
}
