//! Checked launches: an unmasked access outside its buffer is an error naming the kernel,
//! the argument and the offset; the same kernel unchecked runs in-bounds work unchanged.

mod common;

use aqua_dsl::{DType, Params};
use aqua_runtime::{Arg, HostBuffer, LaunchError, LaunchMode, Runtime, RuntimeOptions};
use common::Unmasked;

fn runtime(mode: LaunchMode) -> Runtime {
    Runtime::cpu_with(RuntimeOptions { threads: 2, mode, opt_level: 3, cache_dir: None, dump_dir: None })
}

fn out_of_bounds(rt: &Runtime, src_len: usize, dst_len: usize) -> LaunchError {
    let k = rt.compile(&Unmasked, &Params::new()).unwrap();
    let src = HostBuffer::from_slice(&(0..src_len as i32).collect::<Vec<_>>());
    let mut dst = HostBuffer::zeros(DType::I32, dst_len);
    // Two programs of 16 lanes cover offsets 0..32.
    rt.launch(&k, [2, 1, 1], &mut [Arg::Buf(&src), Arg::BufMut(&mut dst)]).unwrap_err()
}

#[test]
fn an_unmasked_load_past_the_end_is_reported() {
    let e = out_of_bounds(&runtime(LaunchMode::Checked), 20, 32);
    match &e {
        LaunchError::OutOfBounds { kernel, arg, offset, len, program, is_store, loc } => {
            assert_eq!(*loc, None, "native code does not know source lines");
            assert_eq!(
                (kernel.as_str(), arg.as_str(), *len, *program, *is_store),
                ("unmasked_copy", "src", 20, [1, 0, 0], false)
            );
            assert!((20..32).contains(offset), "{e}");
        }
        _ => panic!("{e:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("`unmasked_copy`") && msg.contains("`src`") && msg.contains("load"), "{msg}");
}

#[test]
fn an_unmasked_store_past_the_end_is_reported() {
    let e = out_of_bounds(&runtime(LaunchMode::Checked), 32, 24);
    assert!(
        matches!(&e, LaunchError::OutOfBounds { arg, offset, len: 24, is_store: true, .. } if arg == "dst" && (24..32).contains(offset)),
        "{e:?}"
    );
    assert!(e.to_string().contains("store"), "{e}");
}

#[test]
fn in_bounds_work_runs_in_both_modes() {
    for mode in [LaunchMode::Checked, LaunchMode::Unchecked] {
        let rt = runtime(mode);
        let k = rt.compile(&Unmasked, &Params::new()).unwrap();
        assert_eq!(k.mode(), mode);
        let input: Vec<i32> = (0..32).map(|i| i * 3 - 7).collect();
        let src = HostBuffer::from_slice(&input);
        let mut dst = HostBuffer::zeros(DType::I32, 32);
        rt.launch(&k, [2, 1, 1], &mut [Arg::Buf(&src), Arg::BufMut(&mut dst)]).unwrap();
        assert_eq!(dst.to_vec::<i32>().unwrap(), input, "{mode}");
    }
}
