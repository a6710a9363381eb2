use aqua_dsl::build::*;
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::Params;

struct Axpy;
impl KernelSource for Axpy {
    fn name(&self) -> &'static str { "axpy" }
    fn params(&self) -> Vec<Param> {
        vec![
            Param { name: "x".into(), kind: ParamKind::Ptr { dtype: DType::F32, mutable: false } },
            Param { name: "y".into(), kind: ParamKind::Ptr { dtype: DType::F32, mutable: true } },
            Param { name: "n".into(), kind: ParamKind::Scalar(DType::I32) },
        ]
    }
    fn comptime_params(&self) -> Vec<ComptimeParam> {
        vec![ComptimeParam { name: "block", ty: ComptimeType::U32, default: Some(aqua_dsl::ComptimeValue::Int(128)) }]
    }
    fn body(&self, a: &[Value], p: &Params) {
        let block: u32 = comptime_arg(p, "block");
        let (x, y, n) = (a[0], a[1], a[2]);
        let offs = program_id(0) * block + arange(block);
        let m = lt(offs, n);
        let xv = load_masked_or(x + offs, m, 0.0);
        let yv = load_masked(y + offs, m);
        store_masked(y + offs, xv * 2.0 + yv, m);
        let s = for_range(0, n, 1, &[xv], |i, c| vec![c[0] + i.cast::<f32>()]);
        let _ = s[0].max(0);
    }
}

#[test]
fn builds_axpy() {
    let k = Axpy.build(&Params::new()).unwrap();
    assert!(k.values.len() > 10);
    let e = Axpy.build(&Params::new().with("block", 100)).unwrap_err();
    assert!(e.message.contains("power"), "{e}");
    assert!(e.loc.line > 0, "{e}");
}

#[test]
fn a_bad_xor_permute_is_an_error_at_its_call() {
    let params = vec![Param { name: "y".into(), kind: ParamKind::Ptr { dtype: DType::F32, mutable: true } }];
    let line = line!() + 2;
    let e = build_kernel("xor", params, |a| {
        let v = arange(16).cast::<f32>().xor_permute(0, 16);
        store(a[0] + arange(16), v);
    })
    .unwrap_err();
    assert!(e.message.contains("`xor_permute` of f32[16]: mask 16 must be at least 1 and below the dim 16"), "{e}");
    assert_eq!(e.loc.line, line, "{e}");
}
