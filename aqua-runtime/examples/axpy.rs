//! Compile a hand-built kernel, launch it, and print how the compile was served.
//!
//! `cargo run -p aqua-runtime --example axpy` twice: the second run is a disk cache hit.
//! `AQUA_DUMP_DIR=/tmp/dumps` leaves the kernel's IR, LLVM IR and assembly there.

use aqua_dsl::build::*;
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::{ComptimeValue, Params};
use aqua_runtime::{Arg, HostBuffer, Input, Runtime};

/// `y[i] = a * x[i] + y[i]` for `i < n`, `block` elements per program.
struct Axpy;

impl KernelSource for Axpy {
    fn name(&self) -> &'static str {
        "axpy"
    }
    fn params(&self) -> Vec<Param> {
        let ptr =
            |name: &str, mutable| Param { name: name.into(), kind: ParamKind::Ptr { dtype: DType::F32, mutable } };
        let scalar = |name: &str, dtype| Param { name: name.into(), kind: ParamKind::Scalar(dtype) };
        vec![ptr("x", false), ptr("y", true), scalar("a", DType::F32), scalar("n", DType::I32)]
    }
    fn comptime_params(&self) -> Vec<ComptimeParam> {
        vec![ComptimeParam { name: "block", ty: ComptimeType::U32, default: Some(ComptimeValue::Int(256)) }]
    }
    fn body(&self, args: &[Value], p: &Params) {
        let block: u32 = comptime_arg(p, "block");
        let (x, y, a, n) = (args[0], args[1], args[2], args[3]);
        let offs = program_id(0) * block + arange(block);
        let m = offs.lt(n);
        store_masked(y + offs, a * load_masked(x + offs, m) + load_masked(y + offs, m), m);
    }
}

fn main() -> Result<(), aqua_runtime::Error> {
    let rt = Runtime::best_available();
    println!("{}", rt.describe());
    let (kernel, report) = rt.compile_with_report(Input::Source(&Axpy, &Params::new()), rt.mode())?;
    println!("{report}");

    let n = 100_000;
    let x = HostBuffer::from_slice(&vec![1.0f32; n]);
    let mut y = HostBuffer::from_slice(&(0..n).map(|i| i as f32).collect::<Vec<_>>());
    let grid = [n.div_ceil(256) as u32, 1, 1];
    rt.launch(&kernel, grid, &mut [Arg::Buf(&x), Arg::BufMut(&mut y), Arg::f32(2.0), Arg::i32(n as i32)])?;
    let y = y.to_vec::<f32>()?;
    println!("y[0] = {}, y[{}] = {}", y[0], n - 1, y[n - 1]);
    Ok(())
}
