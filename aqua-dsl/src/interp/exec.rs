//! The executor: runs one program's instructions in order over an environment of values.
//!
//! Every value an op produces is checked against the type the kernel declares for it
//! before it is stored, so an ill-formed kernel fails at the first op that disagrees with
//! its own type table, with that op's name and location. Values are scoped to their
//! region: leaving a region forgets what it defined, so a use outside its scope is an
//! error rather than a stale read.

use std::rc::Rc;

use super::error::{InterpError, OpError};
use super::memory::{self, Memory};
use super::value::RtValue;
use super::{cast, elementwise, reduce, shape};
use crate::ir::{Inst, Kernel, Op, ParamKind, Region, ValueId};

pub(crate) type Val = Rc<RtValue>;

pub(crate) struct Machine<'k, 'm> {
    pub kernel: &'k Kernel,
    env: Vec<Option<Val>>,
    pub mem: Memory<'m>,
    grid: [u32; 3],
    program: [u32; 3],
}

impl<'k, 'm> Machine<'k, 'm> {
    pub fn new(kernel: &'k Kernel, mem: Memory<'m>, grid: [u32; 3]) -> Self {
        Machine {
            kernel,
            env: vec![None; kernel.values.len()],
            mem,
            grid,
            program: [0; 3],
        }
    }

    /// Runs the kernel body as program `program`, with `args` the parameters' values.
    pub fn run_program(&mut self, program: [u32; 3], args: &[Val]) -> Result<(), InterpError> {
        self.program = program;
        let body = &self.kernel.body;
        for (&id, v) in body.args.iter().zip(args) {
            self.define(id, v.clone()).map_err(|m| self.invalid(m))?;
        }
        match self.exec_region(body)? {
            None => Ok(()),
            Some(_) => Err(self.invalid("the kernel body ends in `yield`".into())),
        }
    }

    /// Runs a region whose args are bound; returns the values of its final `yield`.
    pub fn exec_region(&mut self, region: &'k Region) -> Result<Option<Vec<Val>>, InterpError> {
        let result = self.exec_insts(region);
        for id in region
            .args
            .iter()
            .chain(region.insts.iter().flat_map(|i| &i.results))
        {
            if let Some(slot) = self.env.get_mut(id.0 as usize) {
                *slot = None;
            }
        }
        result
    }

    fn exec_insts(&mut self, region: &'k Region) -> Result<Option<Vec<Val>>, InterpError> {
        for (i, inst) in region.insts.iter().enumerate() {
            if let Op::Yield(vals) = &inst.op {
                if i + 1 != region.insts.len() {
                    return Err(self.op_error(
                        inst,
                        "`yield` before the end of its region".to_string().into(),
                    ));
                }
                let vals = vals
                    .iter()
                    .map(|&v| self.get(v))
                    .collect::<Result<Vec<_>, _>>();
                return vals.map(Some).map_err(|m| self.op_error(inst, m.into()));
            }
            self.exec_inst(inst)?;
        }
        Ok(None)
    }

    fn exec_inst(&mut self, inst: &'k Inst) -> Result<(), InterpError> {
        match &inst.op {
            Op::For {
                lo,
                hi,
                step,
                init,
                body,
            } => self.exec_for(inst, [*lo, *hi, *step], init, body),
            Op::If {
                cond,
                then_body,
                else_body,
                ..
            } => self.exec_if(inst, *cond, then_body, else_body),
            op => {
                let out = self.eval(op).map_err(|e| self.op_error(inst, e))?;
                self.define_all(inst, out.map(Rc::new).into_iter().collect())
            }
        }
    }

    /// Evaluates an op without regions: its one result, or `None` for a store.
    fn eval(&mut self, op: &Op) -> Result<Option<RtValue>, OpError> {
        let one = |v: RtValue| Ok(Some(v));
        match op {
            Op::Const(c) => one(RtValue::scalar(cast::const_data(c)?)),
            Op::ProgramId(axis) | Op::NumPrograms(axis) => {
                let coords = if matches!(op, Op::ProgramId(_)) {
                    self.program
                } else {
                    self.grid
                };
                let v = *coords
                    .get(*axis as usize)
                    .ok_or_else(|| format!("grid axis must be 0, 1 or 2, got {axis}"))?;
                one(RtValue::scalar(super::value::Data::I32(vec![v as i32])))
            }
            Op::Arange { start, end } => one(shape::arange(*start, *end)?),
            Op::Splat { value, shape } => one(shape::splat(&*self.get(*value)?, shape)?),
            Op::Binary { op, lhs, rhs } => one(elementwise::binary(
                *op,
                &*self.get(*lhs)?,
                &*self.get(*rhs)?,
            )?),
            Op::Unary { op, arg } => one(elementwise::unary(*op, &*self.get(*arg)?)?),
            Op::Cmp { pred, lhs, rhs } => one(elementwise::cmp(
                *pred,
                &*self.get(*lhs)?,
                &*self.get(*rhs)?,
            )?),
            Op::Select {
                cond,
                on_true,
                on_false,
            } => {
                let (c, t, f) = (self.get(*cond)?, self.get(*on_true)?, self.get(*on_false)?);
                one(elementwise::select(&c, &t, &f)?)
            }
            Op::Fma { a, b, c } => {
                let (a, b, c) = (self.get(*a)?, self.get(*b)?, self.get(*c)?);
                one(elementwise::fma(&a, &b, &c)?)
            }
            Op::Cast { arg, to } => one(cast::cast(&*self.get(*arg)?, *to)?),
            Op::Bitcast { arg, to } => one(cast::bitcast(&*self.get(*arg)?, *to)?),
            Op::Broadcast { arg, shape } => one(shape::broadcast(&*self.get(*arg)?, shape)?),
            Op::ExpandDims { arg, axis } => one(shape::expand_dims(&*self.get(*arg)?, *axis)?),
            Op::Reshape { arg, shape } => one(shape::reshape(&*self.get(*arg)?, shape)?),
            Op::Trans { arg } => one(shape::trans(&*self.get(*arg)?)?),
            Op::XorPermute { arg, axis, mask } => {
                one(shape::xor_permute(&*self.get(*arg)?, *axis, *mask)?)
            }
            Op::Reduce { op, arg, axis } => one(reduce::reduce(*op, &*self.get(*arg)?, *axis)?),
            Op::Dot { a, b, acc } => {
                let acc = acc.map(|c| self.get(c)).transpose()?;
                one(reduce::dot(
                    &*self.get(*a)?,
                    &*self.get(*b)?,
                    acc.as_deref(),
                )?)
            }
            Op::PtrAdd { ptr, offset } => {
                one(memory::ptr_add(&*self.get(*ptr)?, &*self.get(*offset)?)?)
            }
            Op::Load { ptr, mask, other } => {
                let mask = mask.map(|m| self.get(m)).transpose()?;
                let other = other.map(|o| self.get(o)).transpose()?;
                one(memory::load(
                    &self.mem,
                    &*self.get(*ptr)?,
                    mask.as_deref(),
                    other.as_deref(),
                )?)
            }
            Op::Store { ptr, value, mask, .. } => {
                let p = self.get(*ptr)?;
                if let super::value::Data::Ptr(pd) = &p.data {
                    match self.kernel.params.get(pd.param).map(|p| &p.kind) {
                        Some(ParamKind::Ptr { mutable: true, .. }) => {}
                        _ => {
                            return Err(format!(
                                "store through a read-only pointer (parameter {})",
                                pd.param
                            )
                            .into())
                        }
                    }
                }
                let mask = mask.map(|m| self.get(m)).transpose()?;
                let value = self.get(*value)?;
                memory::store(&mut self.mem, &p, &value, mask.as_deref())?;
                Ok(None)
            }
            Op::Gather { table, index } => {
                let t = self
                    .kernel
                    .tables
                    .get(table.0 as usize)
                    .ok_or_else(|| format!("no table {}", table.0))?;
                one(memory::gather(t, &*self.get(*index)?)?)
            }
            Op::For { .. } | Op::If { .. } | Op::Yield(_) => {
                Err(format!("`{}` in an unexpected place", op.name()).into())
            }
        }
    }

    pub fn get(&self, id: ValueId) -> Result<Val, String> {
        self.env
            .get(id.0 as usize)
            .and_then(|v| v.clone())
            .ok_or_else(|| format!("{id} is used outside the scope that defines it"))
    }

    /// Stores `v` as `id` after checking it has the type the kernel declares.
    pub fn define(&mut self, id: ValueId, v: Val) -> Result<(), String> {
        let declared = self
            .kernel
            .values
            .get(id.0 as usize)
            .ok_or_else(|| format!("{id} has no declared type"))?;
        // Dims compared by hand: `Vec` equality calls `memcmp`, which dominates tiny loops.
        let (have, want) = (v.shape.dims(), declared.shape.dims());
        let same_dims = have.len() == want.len() && have.iter().zip(want).all(|(a, b)| a == b);
        if v.data.elem() != declared.elem || !same_dims {
            return Err(format!(
                "{id} is {} but the kernel declares {declared}",
                v.ty()
            ));
        }
        self.env[id.0 as usize] = Some(v);
        Ok(())
    }

    /// Defines the results of `inst`, which must be exactly as many as `vals`.
    pub fn define_all(&mut self, inst: &Inst, vals: Vec<Val>) -> Result<(), InterpError> {
        if vals.len() != inst.results.len() {
            let m = format!(
                "produces {} values but has {} results",
                vals.len(),
                inst.results.len()
            );
            return Err(self.op_error(inst, m.into()));
        }
        for (&id, v) in inst.results.iter().zip(vals) {
            self.define(id, v)
                .map_err(|m| self.op_error(inst, m.into()))?;
        }
        Ok(())
    }

    /// Adds the kernel, op, location and program to an op's failure.
    pub fn op_error(&self, inst: &Inst, e: OpError) -> InterpError {
        let kernel = self.kernel.name.clone();
        match e {
            OpError::Msg(message) => InterpError::Runtime {
                kernel,
                op: inst.op.name(),
                loc: inst.loc,
                program: self.program,
                message,
            },
            OpError::OutOfBounds {
                arg,
                offset,
                is_store,
            } => InterpError::OutOfBounds {
                kernel,
                arg,
                param: self
                    .kernel
                    .params
                    .get(arg)
                    .map_or_else(|| "?".into(), |p| p.name.clone()),
                offset,
                program: self.program,
                is_store,
                loc: inst.loc,
            },
        }
    }

    fn invalid(&self, message: String) -> InterpError {
        InterpError::InvalidKernel {
            kernel: self.kernel.name.clone(),
            message,
        }
    }
}
