//! Runtime control flow: `for` loops with carried values and `if` with results.
//!
//! A loop runs exactly `ceil((hi - lo) / step)` iterations when `hi > lo` and `step > 0`
//! (else none), computed in i128 so no bound overflows; the induction variable
//! `lo + t * step` always fits its dtype because it stays below `hi`.

use super::error::{InterpError, OpError};
use super::exec::{Machine, Val};
use super::numeric::Prim;
use super::value::{match_int, with_dtype, Data, RtValue};
use crate::ir::{DType, Inst, Region, ValueId};

/// The dtype and value of an integer scalar.
fn int_scalar(v: &RtValue, what: &str) -> Result<(DType, i64), String> {
    fn first<T: Prim>(x: &[T]) -> Option<i64> {
        x.first().map(|v| v.as_i64())
    }
    let x = match_int!(&v.data, x => first(x), else None);
    match (x, v.shape.is_scalar()) {
        (Some(x), true) => Ok((v.data.elem().dtype(), x)),
        _ => Err(format!("{what} must be an integer scalar, got {}", v.ty())),
    }
}

/// Iterations of `for (i = lo; i < hi; i += step)`.
pub(crate) fn trip_count(lo: i64, hi: i64, step: i64) -> u128 {
    if hi > lo && step > 0 {
        let (lo, hi, step) = (lo as i128, hi as i128, step as i128);
        ((hi - lo + step - 1) / step) as u128
    } else {
        0
    }
}

impl<'k> Machine<'k, '_> {
    pub(crate) fn exec_for(
        &mut self,
        inst: &'k Inst,
        bounds: [ValueId; 3],
        init: &[ValueId],
        body: &'k Region,
    ) -> Result<(), InterpError> {
        let fail = |m: &Machine, e: String| m.op_error(inst, OpError::Msg(e));
        let mut b = [(DType::I32, 0i64); 3];
        for (slot, (id, what)) in
            b.iter_mut()
                .zip(bounds.iter().zip(["lower bound", "upper bound", "step"]))
        {
            let v = self.get(*id).map_err(|e| fail(self, e))?;
            *slot = int_scalar(&v, &format!("the loop's {what}")).map_err(|e| fail(self, e))?;
        }
        let dtype = b[0].0;
        if b.iter().any(|&(d, _)| d != dtype) {
            return Err(fail(
                self,
                format!(
                    "loop bounds differ in dtype: {}, {}, {}",
                    b[0].0, b[1].0, b[2].0
                ),
            ));
        }
        if body.args.len() != init.len() + 1 {
            let m = format!(
                "the body has {} args for {} carried values",
                body.args.len(),
                init.len()
            );
            return Err(fail(self, m));
        }
        let mut carried: Vec<Val> = init
            .iter()
            .map(|&v| self.get(v))
            .collect::<Result<_, _>>()
            .map_err(|e| fail(self, e))?;
        let (lo, step) = (b[0].1 as i128, b[2].1 as i128);
        for t in 0..trip_count(b[0].1, b[1].1, b[2].1) {
            let i = (lo + t as i128 * step) as i64;
            let iv = with_dtype!(dtype, T => T::wrap(vec![T::from_i64(i)]));
            self.define(body.args[0], Val::new(RtValue::scalar(iv)))
                .map_err(|e| fail(self, e))?;
            for (&arg, v) in body.args[1..].iter().zip(carried) {
                self.define(arg, v).map_err(|e| fail(self, e))?;
            }
            let yielded = self.exec_region(body)?.unwrap_or_default();
            if yielded.len() != init.len() {
                let m = format!(
                    "the body yields {} values for {} carried values",
                    yielded.len(),
                    init.len()
                );
                return Err(fail(self, m));
            }
            carried = yielded;
        }
        self.define_all(inst, carried)
    }

    pub(crate) fn exec_if(
        &mut self,
        inst: &'k Inst,
        cond: ValueId,
        then_body: &'k Region,
        else_body: &'k Region,
    ) -> Result<(), InterpError> {
        let fail = |m: &Machine, e: String| m.op_error(inst, OpError::Msg(e));
        let c = self.get(cond).map_err(|e| fail(self, e))?;
        let taken = match (&c.data, c.shape.is_scalar()) {
            (Data::Bool(b), true) if b.len() == 1 => b[0],
            _ => {
                return Err(fail(
                    self,
                    format!("the condition must be a bool scalar, got {}", c.ty()),
                ))
            }
        };
        let region = if taken { then_body } else { else_body };
        if !region.args.is_empty() {
            return Err(fail(self, "a branch of `if` has block arguments".into()));
        }
        let yielded = self.exec_region(region)?.unwrap_or_default();
        self.define_all(inst, yielded)
    }
}
