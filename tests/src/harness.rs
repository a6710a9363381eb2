//! Runs a random program on a backend and compares outputs between backends.

use aqua_dsl::interp::{self, ArgValue};
use aqua_dsl::ir::Const;

use crate::random_program::{n_arg, RandomProgram, SLOTS};

/// The two output buffers of a random program after a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    pub out_f: Vec<f32>,
    pub out_i: Vec<i32>,
}

/// Fresh output buffers (bytes) for `p`: `SLOTS` rows each, filled with a sentinel so an
/// unwritten lane is visible.
pub fn output_bytes(p: &RandomProgram) -> (Vec<u8>, Vec<u8>) {
    let n = p.len() * SLOTS;
    let f: Vec<u8> = (0..n).flat_map(|_| (-7.0f32).to_le_bytes()).collect();
    let i: Vec<u8> = (0..n).flat_map(|_| (-7i32).to_le_bytes()).collect();
    (f, i)
}

pub fn decode(f: &[u8], i: &[u8]) -> Outputs {
    Outputs {
        out_f: f.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
        out_i: i.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect(),
    }
}

/// Runs `p` on the reference interpreter.
pub fn run_interpreter(p: &RandomProgram) -> Result<Outputs, interp::InterpError> {
    let mut inputs = p.inputs.clone();
    let (mut f, mut i) = output_bytes(p);
    let mut args: Vec<ArgValue> = inputs.iter_mut().map(|b| ArgValue::Buffer(b)).collect();
    args.push(ArgValue::Buffer(&mut f));
    args.push(ArgValue::Buffer(&mut i));
    args.push(ArgValue::Scalar(n_arg(p)));
    interp::run(&p.kernel, [p.programs, 1, 1], &mut args)?;
    Ok(decode(&f, &i))
}

/// The scalar arguments of `p` (only `n`).
pub fn scalar_args(p: &RandomProgram) -> Vec<Const> {
    vec![n_arg(p)]
}

/// Two floats agree: bit-equal up to the sign of zero and the NaN payload when exact;
/// within `1e-3 * max(1, |a|, |b|)` when inexact (sums, dots and exp/log may round
/// differently on each backend; inexact values never feed discontinuous ops, so errors
/// stay at the level of a few ulps times the magnitudes summed).
pub fn floats_agree(a: f32, b: f32, exact: bool) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    !exact && a.is_finite() && b.is_finite() && (a - b).abs() <= 1e-3 * 1f32.max(a.abs()).max(b.abs())
}

/// Compares the outputs of a reference run and a backend run; the error names the first
/// differing slot and lane.
pub fn compare(p: &RandomProgram, reference: &Outputs, got: &Outputs) -> Result<(), String> {
    let len = p.len();
    for (slot, &exact) in p.exact_f.iter().enumerate() {
        for lane in 0..len {
            let k = slot * len + lane;
            let (a, b) = (reference.out_f[k], got.out_f[k]);
            if !floats_agree(a, b, exact) {
                return Err(format!("out_f slot {slot} lane {lane}: reference {a:?} ({:#x}), backend {b:?} ({:#x}), exact={exact}", a.to_bits(), b.to_bits()));
            }
        }
    }
    for (slot, &exact) in p.exact_i.iter().enumerate() {
        for lane in 0..len {
            let k = slot * len + lane;
            let (a, b) = (reference.out_i[k], got.out_i[k]);
            // Integer results of inexact values can only come from float casts, which the
            // generator never applies to inexact values; so every integer slot is exact.
            if a != b {
                return Err(format!("out_i slot {slot} lane {lane}: reference {a}, backend {b}, exact={exact}"));
            }
        }
    }
    Ok(())
}

/// Runs `p` on a compiled backend through the runtime (same argument layout as the
/// interpreter run).
pub fn run_runtime(rt: &aqua_runtime::Runtime, p: &RandomProgram) -> Result<Outputs, String> {
    use aqua_runtime::{Arg, HostBuffer};
    let compiled = rt.compile_kernel(&p.kernel).map_err(|e| e.to_string())?;
    let inputs: Vec<HostBuffer> = crate::random_program::INPUT_DTYPES
        .iter()
        .zip(&p.inputs)
        .map(|(&d, bytes)| HostBuffer::from_bytes(d, bytes).expect("input sizes match"))
        .collect();
    let (f, i) = output_bytes(p);
    let mut out_f = HostBuffer::from_bytes(aqua_dsl::DType::F32, &f).unwrap();
    let mut out_i = HostBuffer::from_bytes(aqua_dsl::DType::I32, &i).unwrap();
    {
        let mut args: Vec<Arg> = inputs.iter().map(Arg::Buf).collect();
        args.push(Arg::BufMut(&mut out_f));
        args.push(Arg::BufMut(&mut out_i));
        args.push(Arg::Scalar(n_arg(p)));
        rt.launch(&compiled, [p.programs, 1, 1], &mut args).map_err(|e| e.to_string())?;
    }
    Ok(decode(out_f.as_bytes(), out_i.as_bytes()))
}

/// Generates the random programs of `seeds`, runs each on the interpreter and on `rt` and
/// compares them; panics with the count and the first disagreement (a backend error
/// counts as one).
pub fn check_seeds(rt: &aqua_runtime::Runtime, seeds: impl IntoIterator<Item = u64>) {
    let (mut failures, mut n) = (Vec::new(), 0);
    for seed in seeds {
        n += 1;
        let p = crate::random_program::generate(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let reference = run_interpreter(&p).unwrap_or_else(|e| panic!("seed {seed}: interpreter: {e}"));
        match run_runtime(rt, &p) {
            Ok(got) => {
                if let Err(e) = compare(&p, &reference, &got) {
                    failures.push(format!("seed {seed}: {e}\n{}", p.kernel));
                }
            }
            Err(e) => failures.push(format!("seed {seed}: backend error: {e}\n{}", p.kernel)),
        }
    }
    assert!(failures.is_empty(), "{} of {n} programs disagree; first:\n{}", failures.len(), failures[0]);
}
