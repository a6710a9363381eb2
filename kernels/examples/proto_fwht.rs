//! TEMPORARY prototype: FWHT formulations timed on the CPU backend.
use std::time::Instant;
use aqua_dsl::build::*;
use aqua_dsl::Params;
use aqua_macros::kernel;
use aqua_runtime::{Arg, HostBuffer, LaunchMode, Runtime, RuntimeOptions};
use aqua_dsl::DType;

fn hmat(k: u32) -> Vec<f32> {
    let mut v = Vec::new();
    for i in 0..k { for j in 0..k { v.push(if (i & j).count_ones() % 2 == 0 { 1.0 } else { -1.0 }); } }
    v
}

fn hblock(k: u32) -> Value {
    const_table::<f32, f32>(&hmat(k)).gather(arange(k * k).reshape([k, k]))
}

#[kernel]
fn fwht_dot(x: Ptr<f16>, y: PtrMut<f32>, #[comptime(default = 64)] h: u32, #[comptime(default = 8)] b: u32, #[comptime(default = 1024)] block: u32) {
    let a = h / b;
    let r = block / h;
    let offs = program_id(0) * block + arange(block);
    let v = load(x + offs).cast::<f32>().reshape([r * a, b]);
    let t = v.trans().reshape([b * r, a]);
    let w = dot(t, hblock(a)).reshape([b, r * a]).trans();
    let out = dot(w, hblock(b));
    store(y + offs.reshape([r * a, b]), out);
}

/// `y[r] = H_a w[r]` for `w: [r*a, b]`, by a broadcast product reduced over k.
fn left(w: Value, r: u32, a: u32, b: u32) -> Value {
    let wb = w.reshape([r, 1, a * b]).broadcast_to([r, a, a * b]).reshape([r * a, a, b]);
    let h = hblock(a).reshape([1, a, a]).broadcast_to([r, a, a]).reshape([r * a, a, 1]);
    (wb * h).sum(1)
}

#[kernel]
fn fwht_bcast(x: Ptr<f16>, y: PtrMut<f32>, #[comptime(default = 64)] h: u32, #[comptime(default = 8)] b: u32, #[comptime(default = 1024)] block: u32) {
    let a = h / b;
    let r = block / h;
    let offs = program_id(0) * block + arange(block);
    let v = load(x + offs).cast::<f32>().reshape([r * a, b]);
    let w = dot(v, hblock(b));
    let out = left(w, r, a, b);
    store(y + offs.reshape([r * a, b]), out);
}

/// `[a*c, r]` rows (i, j) -> `sum_k m[i', k] w[(k, j), r]`: left multiply on the top axis of w [a, c, r]... 
fn middle(w: Value, a: u32, b: u32, r: u32, hb: Value) -> Value {
    // w: [a, b, r] as [a, b*r]; out[(i, j'), r] = sum_j hb[j', j] w[i, j, r]
    let wb = w.reshape([a, 1, b * r]).broadcast_to([a, b, b * r]).reshape([a * b, b, r]);
    let h = hb.reshape([1, b, b]).broadcast_to([a, b, b]).reshape([a * b, b, 1]);
    (wb * h).sum(1)
}

#[kernel]
fn fwht_tr(x: Ptr<f16>, y: PtrMut<f32>, #[comptime(default = 64)] h: u32, #[comptime(default = 8)] b: u32, #[comptime(default = 1024)] block: u32, #[comptime(default = 0)] mode: u32) {
    let a = h / b;
    let r = block / h;
    let offs = program_id(0) * block + arange(block);
    let v = load(x + offs).cast::<f32>().reshape([r, h]);
    let xt = v.trans();
    let w = if mode == 0 {
        dot(hblock(a), xt.reshape([a, b * r]))
    } else {
        middle(xt, 1, a, b * r, hblock(a)).reshape([a, b * r])
    };
    let out = middle(w, a, b, r, hblock(b));
    store(y + offs.reshape([r, h]), out.trans());
}

/// Butterfly stages on the top axis of v: [h, r] (coordinates major, groups across lanes).
#[kernel]
fn fwht_trbfly(x: Ptr<f16>, y: PtrMut<f32>, #[comptime(default = 64)] h: u32, #[comptime(default = 1024)] block: u32, #[comptime(default = 0)] only_trans: u32) {
    let r = block / h;
    let offs = program_id(0) * block + arange(block);
    let mut v = load(x + offs).cast::<f32>().reshape([r, h]).trans();
    if only_trans == 0 {
    for t in 0..h.trailing_zeros() {
        let s = 1u32 << t;
        let m = h / (2 * s);
        let n = s * r;
        let sign = const_table::<f32, f32>(&[1.0, 1.0, 1.0, -1.0]).gather((arange(2).expand_dims(1) * 2 + arange(2).expand_dims(0)).reshape([2, 2, 1]).broadcast_to([2, 2, n]).reshape([1, 2, 2 * n]));
        let u = v.reshape([m * 2, 1, n]).broadcast_to([m * 2, 2, n]).reshape([m, 2, 2 * n]) * sign;
        v = u.sum(1).reshape([h, r]);
    }
    }
    store(y + offs.reshape([r, h]), v.trans());
}

#[kernel]
fn fwht_trw(x: Ptr<f16>, y: PtrMut<f32>, nrm: PtrMut<f32>, #[comptime(default = 64)] h: u32, #[comptime(default = 1024)] block: u32) {
    let r = block / h;
    let offs = program_id(0) * block + arange(block);
    let x0 = load(x + offs).cast::<f32>().reshape([r, h]);
    store(nrm + program_id(0) * r + arange(r), (x0 * x0).sum(1));
    let mut v = x0.trans();
    for t in 0..h.trailing_zeros() {
        let s = 1u32 << t;
        let m = h / (2 * s);
        let n = s * r;
        let u = v.reshape([m, 2, n]);
        let sign = where_(arange(2) == 0, 1.0f32, -1.0f32).reshape([1, 2, 1]);
        let a = u.sum(1).reshape([m, 1, n]);
        let b = (u * sign).sum(1).reshape([m, 1, n]);
        v = where_((arange(2) == 0).reshape([1, 2, 1]), a, b).reshape([h, r]);
    }
    store(y + offs.reshape([r, h]), v.trans());
}

#[kernel]
fn fwht_bfly(x: Ptr<f16>, y: PtrMut<f32>, #[comptime(default = 64)] h: u32, #[comptime(default = 1024)] block: u32) {
    let offs = program_id(0) * block + arange(block);
    let mut v = load(x + offs).cast::<f32>();
    for t in 0..h.trailing_zeros() {
        let s = 1u32 << t;
        let m = block / (2 * s);
        let sign = const_table::<f32, f32>(&[1.0, 1.0, 1.0, -1.0]).gather((arange(2).expand_dims(1) * 2 + arange(2).expand_dims(0)).reshape([2, 2, 1]).broadcast_to([2, 2, s]).reshape([1, 2, 2 * s]));
        let u = v.reshape([m * 2, 1, s]).broadcast_to([m * 2, 2, s]).reshape([m, 2, 2 * s]) * sign;
        v = u.sum(1).reshape([block]);
    }
    store(y + offs, v);
}

#[kernel]
fn copy_f16(x: Ptr<f16>, y: PtrMut<f32>, #[comptime(default = 1024)] block: u32) {
    let offs = program_id(0) * block + arange(block);
    store(y + offs, load(x + offs).cast::<f32>());
}

fn main() {
    let rt = Runtime::cpu_with(RuntimeOptions { threads: 1, mode: LaunchMode::Unchecked, cache_dir: None, dump_dir: std::env::var_os("DUMP").map(Into::into), ..Default::default() });
    let n = 1 << 22;
    let xs: Vec<half::f16> = (0..n).map(|i| half::f16::from_f32(((i * 7919) % 1000) as f32 / 1000.0 - 0.5)).collect();
    let x = HostBuffer::from_slice(&xs);
    let mut y = HostBuffer::zeros(DType::F32, n);
    let block = 1024u32;
    let grid = [(n / block as usize) as u32, 1, 1];
    let mut time = |name: &str, k: &aqua_runtime::CompiledKernel| {
        let mut best = f64::MAX;
        for _ in 0..10 {
            let t = Instant::now();
            rt.launch(k, grid, &mut [Arg::Buf(&x), Arg::BufMut(&mut y)]).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{name}: {:.2} ms, {:.2} GB/s of f16 in, {:.2} ns/elem", best * 1e3, n as f64 * 2.0 / best / 1e9, best * 1e9 / n as f64);
    };
    let k = rt.compile(&copy_f16, &Params::new()).unwrap();
    time("copy", &k);
    for b in [8u32] {
        let t = Instant::now();
        let k = rt.compile(&fwht_dot, &Params::new().with("b", b)).unwrap();
        println!("compile {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        time(&format!("dot b={b}"), &k);
    }
    for b in [8u32] {
        let t = Instant::now();
        let k = rt.compile(&fwht_bcast, &Params::new().with("b", b)).unwrap();
        println!("compile {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        time(&format!("bcast b={b}"), &k);
    }
    for mode in [0u32] {
    for b in [8u32] {
        let t = Instant::now();
        let k = rt.compile(&fwht_tr, &Params::new().with("b", b).with("mode", mode)).unwrap();
        println!("compile {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        time(&format!("tr mode {mode} b={b}"), &k);
    }
    }
    for only in [1u32, 0] {
        let t = Instant::now();
        let k = rt.compile(&fwht_trbfly, &Params::new().with("only_trans", only)).unwrap();
        println!("compile {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        time(&format!("trbfly only_trans={only}"), &k);
    }
    {
        let t = Instant::now();
        let k = rt.compile(&fwht_trw, &Params::new()).unwrap();
        println!("compile {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        let mut nrm = HostBuffer::zeros(DType::F32, n / 64); let mut y2 = HostBuffer::zeros(DType::F32, n);
        let mut best = f64::MAX;
        for _ in 0..10 {
            let t = Instant::now();
            rt.launch(&k, grid, &mut [Arg::Buf(&x), Arg::BufMut(&mut y2), Arg::BufMut(&mut nrm)]).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("trw: {:.2} ns/elem", best * 1e9 / n as f64);
    }
    let t = Instant::now();
    let k = rt.compile(&fwht_bfly, &Params::new()).unwrap();
    println!("compile {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    time("bfly", &k);
}
