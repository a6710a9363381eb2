//! Random well-typed kernels for differential testing.
//!
//! A generated kernel loads masked blocks from typed inputs, applies a random sequence of
//! ops (element-wise, casts, shape ops, reductions, gathers, dot, f16 and bf16 tile dots
//! that GPU targets put on tensor cores, runtime loops and branches), and stores a few
//! results; a quarter of them do it as a specialized branch (unmasked on full blocks,
//! masked on the last one). Every value carries an *exactness* flag: results of ops whose
//! rounding backends may legitimately differ in (sums, dots, exp, log, f16 fma) are
//! inexact, and inexact values never feed discontinuous ops (compare, floor, cast to int,
//! argmax...), so an exact output must match bit for bit and an inexact one within a
//! tolerance.

use aqua_dsl::build::{self, Value};
use aqua_dsl::ir::{BinOp, Const, DType, Kernel, Param, ParamKind, UnOp};
use aqua_dsl::KernelError;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Input buffers' dtypes, in parameter order (after them: `out_f`, `out_i`, `n`).
pub const INPUT_DTYPES: [DType; 4] = [DType::F32, DType::I32, DType::F16, DType::U8];
/// Store slots per output buffer.
pub const SLOTS: usize = 4;

/// A generated kernel with its launch shape and inputs.
pub struct RandomProgram {
    pub kernel: Kernel,
    pub seed: u64,
    pub block: u32,
    pub programs: u32,
    /// The runtime element count `n` (masks cut the last block).
    pub n: i32,
    /// Bytes of each input buffer, `block * programs` elements each.
    pub inputs: Vec<Vec<u8>>,
    /// For each store slot of `out_f` (then `out_i`): whether it holds exact values.
    pub exact_f: Vec<bool>,
    pub exact_i: Vec<bool>,
}

impl RandomProgram {
    pub fn len(&self) -> usize {
        (self.block * self.programs) as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Copy)]
struct PV {
    v: Value,
    exact: bool,
}

struct Gen<'r> {
    rng: &'r mut StdRng,
    pool: Vec<PV>,
    block: u32,
}

impl Gen<'_> {
    fn pick(&mut self) -> PV {
        let i = self.rng.random_range(0..self.pool.len());
        self.pool[i]
    }

    fn pick_where(&mut self, f: impl Fn(&PV) -> bool) -> Option<PV> {
        let c: Vec<PV> = self.pool.iter().copied().filter(|p| f(p)).collect();
        if c.is_empty() {
            None
        } else {
            Some(c[self.rng.random_range(0..c.len())])
        }
    }

    fn push(&mut self, v: Value, exact: bool) {
        self.pool.push(PV { v, exact });
    }

    fn random_dtype(&mut self) -> DType {
        DType::ALL[self.rng.random_range(0..DType::ALL.len())]
    }

    fn float_lit(&mut self) -> f64 {
        [0.0, 1.0, -1.0, 0.5, 2.0, -3.25, 7.0, 1e-3][self.rng.random_range(0..8)]
    }

    /// A value of the same type as `like`, converting another pool value if needed.
    fn partner(&mut self, like: PV) -> PV {
        let ty = like.v.ty();
        if let Some(p) = self.pick_where(|p| p.v.ty() == ty) {
            if self.rng.random_bool(0.8) {
                return p;
            }
        }
        let src = self.pick_where(|p| p.v.shape() == ty.shape.0 && p.exact).unwrap_or(like);
        PV { v: src.v.cast_to(ty.dtype()), exact: src.exact }
    }

    fn step(&mut self) {
        match self.rng.random_range(0..14) {
            0..=2 => self.binary(),
            3 => self.unary(),
            4 => self.compare_select(),
            5 => self.cast(),
            6 => self.reshape(),
            7 => self.reduce(),
            8 => self.fma(),
            9 => self.gather(),
            10 => self.dot(),
            11 => self.bitcast(),
            12 => self.runtime_loop(),
            _ => self.runtime_branch(),
        }
    }

    fn binary(&mut self) {
        let a = self.pick_where(|p| !p.v.ty().is_ptr() && p.v.dtype() != DType::Bool).unwrap();
        let d = a.v.dtype();
        let ops: &[BinOp] = if d.is_float() {
            if a.exact {
                &[BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Rem, BinOp::Min, BinOp::Max]
            } else {
                &[BinOp::Add, BinOp::Sub, BinOp::Min, BinOp::Max]
            }
        } else {
            &BinOp::ALL
        };
        let op = ops[self.rng.random_range(0..ops.len())];
        let b = if self.rng.random_bool(0.25) {
            // A weak literal on the right.
            let lit = if d.is_float() {
                build::Operand::Float(self.float_lit())
            } else {
                build::Operand::Int(self.rng.random_range(0..9))
            };
            let v = match op {
                BinOp::Add => build::add(a.v, lit),
                BinOp::Sub => build::sub(a.v, lit),
                BinOp::Mul => build::mul(a.v, lit),
                BinOp::Div => build::div(a.v, lit),
                BinOp::Rem => build::rem(a.v, lit),
                BinOp::Min => build::minimum(a.v, lit),
                BinOp::Max => build::maximum(a.v, lit),
                BinOp::And => build::bit_and(a.v, lit),
                BinOp::Or => build::bit_or(a.v, lit),
                BinOp::Xor => build::bit_xor(a.v, lit),
                BinOp::Shl => build::shl(a.v, lit),
                BinOp::Shr => build::shr(a.v, lit),
            };
            self.push(v, a.exact);
            return;
        } else {
            let b = self.partner(a);
            if !d.is_float() || a.exact && b.exact || matches!(op, BinOp::Add | BinOp::Sub | BinOp::Min | BinOp::Max) {
                b
            } else {
                return;
            }
        };
        if !b.exact && d.is_float() && !a.exact {
            return; // two inexact operands may cancel catastrophically
        }
        let v = match op {
            BinOp::Add => a.v + b.v,
            BinOp::Sub => a.v - b.v,
            BinOp::Mul => a.v * b.v,
            BinOp::Div => a.v / b.v,
            BinOp::Rem => a.v % b.v,
            BinOp::Min => build::minimum(a.v, b.v),
            BinOp::Max => build::maximum(a.v, b.v),
            BinOp::And => a.v & b.v,
            BinOp::Or => a.v | b.v,
            BinOp::Xor => a.v ^ b.v,
            BinOp::Shl => a.v << b.v,
            BinOp::Shr => a.v >> b.v,
        };
        self.push(v, a.exact && b.exact);
    }

    fn unary(&mut self) {
        let a = self.pick();
        let d = a.v.dtype();
        let op = if d.is_float() {
            let exact_ops = [
                UnOp::Neg,
                UnOp::Abs,
                UnOp::Sqrt,
                UnOp::Floor,
                UnOp::Ceil,
                UnOp::Round,
                UnOp::Exp,
                UnOp::Log,
                UnOp::Rsqrt,
            ];
            let inexact_ok = [UnOp::Neg, UnOp::Abs];
            if a.exact {
                exact_ops[self.rng.random_range(0..exact_ops.len())]
            } else {
                inexact_ok[self.rng.random_range(0..2)]
            }
        } else if d.is_bool() {
            UnOp::Not
        } else {
            [UnOp::Neg, UnOp::Not, UnOp::Abs][self.rng.random_range(0..3)]
        };
        let v = match op {
            UnOp::Neg => -a.v,
            UnOp::Not => !a.v,
            UnOp::Abs => a.v.abs(),
            UnOp::Sqrt => a.v.sqrt(),
            UnOp::Rsqrt => a.v.rsqrt(),
            UnOp::Exp => a.v.exp(),
            UnOp::Log => a.v.log(),
            UnOp::Floor => a.v.floor(),
            UnOp::Ceil => a.v.ceil(),
            UnOp::Round => a.v.round(),
        };
        // exp, log and rsqrt round through the host's libm (or hardware) with <= 1-2 ulp.
        let exact = a.exact && !matches!(op, UnOp::Exp | UnOp::Log | UnOp::Rsqrt);
        self.push(v, exact);
    }

    fn compare_select(&mut self) {
        let Some(a) = self.pick_where(|p| p.exact) else { return };
        let b = self.partner(a);
        if !b.exact {
            return;
        }
        let c = match self.rng.random_range(0..6) {
            0 => a.v.lt(b.v),
            1 => a.v.le(b.v),
            2 => a.v.gt(b.v),
            3 => a.v.ge(b.v),
            4 => a.v.eq(b.v),
            _ => a.v.ne(b.v),
        };
        self.push(c, true);
        let shape = c.shape();
        let Some(x) = self.pick_where(|p| p.v.shape() == shape) else { return };
        let y = self.partner(x);
        let s = build::where_(c, x.v, y.v);
        self.push(s, x.exact && y.exact);
    }

    fn cast(&mut self) {
        let a = self.pick();
        let to = self.random_dtype();
        if !a.exact && !to.is_float() {
            return;
        }
        let v = a.v.cast_to(to);
        self.push(v, a.exact);
    }

    fn bitcast(&mut self) {
        let Some(a) = self.pick_where(|p| {
            p.exact && matches!(p.v.dtype(), DType::F32 | DType::I32 | DType::U32 | DType::F16 | DType::BF16)
        }) else {
            return;
        };
        let v = match a.v.dtype() {
            DType::F32 => a.v.bitcast::<i32>(),
            DType::I32 => a.v.bitcast::<u32>(),
            DType::U32 => a.v.bitcast::<f32>(),
            DType::F16 => a.v.bitcast::<half::bf16>(),
            _ => a.v.bitcast::<half::f16>(),
        };
        self.push(v, true);
    }

    fn reshape(&mut self) {
        let a = self.pick();
        let shape = a.v.shape();
        // A quarter of the time, on a block: the partners of a butterfly step along an
        // axis (a warp shuffle, a copy of a loop body or a reread, by where they lie).
        let axes: Vec<usize> = (0..shape.len()).filter(|&i| shape[i] > 1).collect();
        if !axes.is_empty() && self.rng.random_range(0..4) == 0 {
            let axis = axes[self.rng.random_range(0..axes.len())];
            let mask = self.rng.random_range(1..shape[axis]);
            self.push(a.v.xor_permute(axis as u32, mask), a.exact);
            return;
        }
        let v = match shape.len() {
            0 => build::full([self.block], a.v),
            1 if shape[0] > 1 => {
                let c = 1u32 << self.rng.random_range(0..=shape[0].trailing_zeros());
                a.v.reshape([shape[0] / c, c])
            }
            2 => match self.rng.random_range(0..3) {
                0 => a.v.trans(),
                1 => a.v.reshape([shape[0] * shape[1]]),
                _ => {
                    a.v.expand_dims(0)
                        .broadcast_to([2, shape[0], shape[1]])
                        .reshape([2 * shape[0] * shape[1]])
                        .reshape([2 * shape[0], shape[1]])
                }
            },
            _ => a.v.expand_dims(1).broadcast_to([shape[0], 2]),
        };
        self.push(v, a.exact);
    }

    fn reduce(&mut self) {
        let Some(a) = self.pick_where(|p| !p.v.shape().is_empty()) else { return };
        let d = a.v.dtype();
        let axis = self.rng.random_range(0..a.v.shape().len()) as u32;
        let k = self.rng.random_range(0..5);
        if d.is_bool() || (!a.exact && k >= 3) {
            return;
        }
        let (v, exact) = match k {
            0 => (a.v.sum(axis), a.exact && !d.is_float()),
            1 => (a.v.max(axis), a.exact),
            2 => (a.v.min(axis), a.exact),
            3 => (a.v.argmax(axis), true),
            _ => (a.v.argmin(axis), true),
        };
        self.push(v, exact);
    }

    fn fma(&mut self) {
        let Some(a) = self.pick_where(|p| p.v.dtype().is_float() && p.exact) else { return };
        let b = self.partner(a);
        let c = self.partner(a);
        let v = build::fma(a.v, b.v, c.v);
        // f16/bf16 fma is computed in f32 and rounded twice; allow that to differ.
        self.push(v, b.exact && c.exact && a.v.dtype() == DType::F32);
    }

    fn gather(&mut self) {
        let Some(i) = self.pick_where(|p| p.v.dtype().is_int() && p.exact) else { return };
        let len = self.rng.random_range(1..20);
        let data: Vec<f32> = (0..len).map(|k| (k as f32) * 0.75 - 3.0).collect();
        let t = if self.rng.random_bool(0.5) {
            build::const_table::<f32, f32>(&data)
        } else {
            build::const_table::<half::f16, f32>(&data)
        };
        let v = t.gather(i.v);
        self.push(v, true);
    }

    fn dot(&mut self) {
        if self.rng.random_bool(0.5) {
            return self.tile_dot();
        }
        let Some(a) = self.pick_where(|p| p.v.shape().len() == 2 && p.v.dtype().is_float()) else { return };
        let s = a.v.shape();
        if s[0] > s[1] {
            return;
        }
        let v = build::dot(a.v, a.v.trans());
        self.push(v, false);
    }

    /// A `dot` of f16 or bf16 tiles (tensor cores on the GPU targets): a float value of
    /// at least 16 elements as rows of 16, repeated up to 16 rows, times its transpose.
    fn tile_dot(&mut self) {
        let Some(a) = self.pick_where(|p| p.v.dtype().is_float() && p.v.shape().iter().product::<u32>() >= 16) else {
            return;
        };
        let rows = a.v.shape().iter().product::<u32>() / 16;
        let t = a.v.reshape([rows, 16]);
        let t = if rows < 16 { t.expand_dims(0).broadcast_to([16 / rows, rows, 16]).reshape([16, 16]) } else { t };
        let t = t.cast_to(if self.rng.random_bool(0.5) { DType::F16 } else { DType::BF16 });
        self.push(build::dot(t, t.trans()), false);
    }

    fn runtime_loop(&mut self) {
        let Some(acc) = self.pick_where(|p| p.exact && !p.v.dtype().is_bool()) else { return };
        let n = self.pool[2].v; // the runtime `n`
        let trips = n % 3;
        let d = acc.v.dtype();
        let r = build::for_range(0, trips, 1, &[acc.v], |i, c| {
            let step = i.cast_to(d);
            vec![if d.is_float() { c[0] + step } else { c[0] ^ step }]
        });
        self.push(r[0], acc.exact);
    }

    fn runtime_branch(&mut self) {
        let Some(x) = self.pick_where(|p| p.exact) else { return };
        let y = self.partner(x);
        let pid = build::program_id(0);
        let cond = pid.eq(0);
        let r = build::if_else(cond, || vec![x.v], || vec![y.v]);
        self.push(r[0], x.exact && y.exact);
    }

    /// Any value as a row of `block` elements.
    fn to_row(&self, v: Value) -> Value {
        let b = self.block as usize;
        let numel: usize = v.shape().iter().map(|&d| d as usize).product();
        if v.shape().is_empty() {
            build::full([self.block], v)
        } else if numel == b {
            v.reshape([self.block])
        } else if numel < b {
            v.reshape([numel as u32, 1]).broadcast_to([numel as u32, (b / numel) as u32]).reshape([self.block])
        } else {
            let v = if v.dtype().is_bool() { v.cast::<u8>() } else { v };
            v.reshape([self.block, (numel / b) as u32]).max(1)
        }
    }
}

fn random_input(rng: &mut StdRng, dtype: DType, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len * dtype.size_bytes());
    for _ in 0..len {
        let special = rng.random_bool(0.08);
        match dtype {
            DType::F32 | DType::F16 => {
                let x: f32 = if special {
                    [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e30, -1e-30, 65504.0]
                        [rng.random_range(0..8)]
                } else if rng.random_bool(0.3) {
                    rng.random_range(-8..8) as f32 * 0.5
                } else {
                    rng.random_range(-4.0f32..4.0)
                };
                if dtype == DType::F32 {
                    out.extend_from_slice(&x.to_le_bytes());
                } else {
                    out.extend_from_slice(&half::f16::from_f32(x).to_bits().to_le_bytes());
                }
            }
            DType::I32 => {
                let x: i32 = if special {
                    [i32::MIN, i32::MAX, -1, 0][rng.random_range(0..4)]
                } else {
                    rng.random_range(-100..100)
                };
                out.extend_from_slice(&x.to_le_bytes());
            }
            DType::U8 => out.push(rng.random()),
            _ => unreachable!("inputs are f32, i32, f16, u8"),
        }
    }
    out
}

/// What every form of a program body sees.
struct Frame<'a> {
    args: &'a [Value],
    offs: Value,
    mask: Value,
    block: u32,
    programs: u32,
}

impl Frame<'_> {
    /// Loads the inputs, applies random ops and stores results; the loads and stores are
    /// masked, or (`masked` false: a block inside `n`) not. Returns which store slots of
    /// `out_f` and `out_i` hold exact values.
    fn body(&self, rng: &mut StdRng, masked: bool) -> (Vec<bool>, Vec<bool>) {
        let (args, offs, mask, block, programs) = (self.args, self.offs, self.mask, self.block, self.programs);
        let (mut exact_f, mut exact_i) = (Vec::new(), Vec::new());
        let mut g = Gen { rng, pool: Vec::new(), block };
        g.push(offs, true);
        g.push(mask, true);
        g.push(args[6], true);
        for (i, &d) in INPUT_DTYPES.iter().enumerate() {
            let other = if d.is_float() { build::Operand::Float(1.5) } else { build::Operand::Int(3) };
            let x =
                if masked { build::load_masked_or(args[i] + offs, mask, other) } else { build::load(args[i] + offs) };
            g.push(x, true);
        }
        let steps = g.rng.random_range(3..25);
        for _ in 0..steps {
            g.step();
        }
        // Store the newest values first: they depend on the most ops.
        let mut candidates: Vec<PV> = g.pool.iter().rev().copied().collect();
        candidates.truncate(SLOTS * 2);
        let store = |at: Value, v: Value| if masked { build::store_masked(at, v, mask) } else { build::store(at, v) };
        for pv in candidates {
            let row = g.to_row(pv.v);
            let d = row.dtype();
            if d.is_float() && exact_f.len() < SLOTS {
                let slot = exact_f.len() as u32;
                store(args[4] + (offs + slot * block * programs), row.cast::<f32>());
                exact_f.push(pv.exact);
            } else if !d.is_float() && exact_i.len() < SLOTS {
                let slot = exact_i.len() as u32;
                store(args[5] + (offs + slot * block * programs), row.cast::<i32>());
                exact_i.push(pv.exact);
            }
        }
        (exact_f, exact_i)
    }
}

/// Generates the random kernel of `seed`.
pub fn generate(seed: u64) -> Result<RandomProgram, KernelError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let block = 1u32 << rng.random_range(0..=6);
    let programs = rng.random_range(1..=3u32);
    let len = (block * programs) as usize;
    let n = rng.random_range(1..=len as i32);

    let mut params: Vec<Param> = INPUT_DTYPES
        .iter()
        .enumerate()
        .map(|(i, &d)| Param { name: format!("in{i}"), kind: ParamKind::Ptr { dtype: d, mutable: false } })
        .collect();
    params.push(Param { name: "out_f".into(), kind: ParamKind::Ptr { dtype: DType::F32, mutable: true } });
    params.push(Param { name: "out_i".into(), kind: ParamKind::Ptr { dtype: DType::I32, mutable: true } });
    params.push(Param { name: "n".into(), kind: ParamKind::Scalar(DType::I32) });

    // A quarter of the programs run their body as a specialized branch, as the quantizers
    // do: unmasked where the program's block lies inside `n`, masked otherwise.
    let specialized = rng.random_bool(0.25);
    let body_seed: u64 = rng.random();
    let (mut exact_f, mut exact_i) = (Vec::new(), Vec::new());
    let kernel = build::build_kernel(&format!("random_{seed}"), params, |args| {
        let offs = build::program_id(0) * block + build::arange(block);
        let mask = offs.lt(args[6]);
        let frame = Frame { args, offs, mask, block, programs };
        if specialized {
            let full = ((build::program_id(0) + 1) * block).le(args[6]);
            // Both forms draw the same ops, from generators seeded alike.
            build::specialize(
                full,
                || {
                    frame.body(&mut StdRng::seed_from_u64(body_seed), false);
                    vec![]
                },
                || {
                    (exact_f, exact_i) = frame.body(&mut StdRng::seed_from_u64(body_seed), true);
                    vec![]
                },
            );
        } else {
            (exact_f, exact_i) = frame.body(&mut StdRng::seed_from_u64(body_seed), true);
        }
    })?;
    let inputs = INPUT_DTYPES.iter().map(|&d| random_input(&mut rng, d, len)).collect();
    Ok(RandomProgram { kernel, seed, block, programs, n, inputs, exact_f, exact_i })
}

/// The scalar argument `n` as a constant.
pub fn n_arg(p: &RandomProgram) -> Const {
    Const::from_i64(DType::I32, p.n as i64)
}
