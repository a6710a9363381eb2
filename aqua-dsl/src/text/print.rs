//! The printer: the canonical text of a kernel (`kernel.to_string()`, the core of the
//! kernel cache key) and a variant for humans that appends each op's source location.
//!
//! Values are renumbered `%0, %1, ...` in the order the text defines them (parameters,
//! then every op's results followed by its regions' arguments and contents), so equal
//! kernels print identically whatever their internal [`ValueId`]s. The text is a faithful
//! image of the kernel: every attribute of every op and the type of every value appear,
//! only source locations are left out. See `docs/ir-text.md` for the syntax.

use std::fmt::{self, Write};

use crate::ir::{Inst, Kernel, Lit, Op, Region, ValueId};

use super::literal::{FloatLit, TableEntry};

/// Table entries per line when a table is written over several lines.
const TABLE_ENTRIES_PER_LINE: usize = 16;

/// The printed number of every value: `%N` in the canonical text.
pub(crate) struct Numbering(Vec<u32>);

const UNNUMBERED: u32 = u32::MAX;

impl Numbering {
    /// Numbers the values of `kernel` in the order the printer defines them. A value the
    /// kernel never defines (possible only in a malformed kernel) gets no number.
    pub(crate) fn of(kernel: &Kernel) -> Numbering {
        let mut n = Numbering(vec![UNNUMBERED; kernel.values.len()]);
        let mut next = 0u32;
        n.region(&kernel.body, &mut next);
        n
    }

    fn define(&mut self, v: ValueId, next: &mut u32) {
        if let Some(slot) = self.0.get_mut(v.0 as usize) {
            if *slot == UNNUMBERED {
                *slot = *next;
                *next += 1;
            }
        }
    }

    fn region(&mut self, r: &Region, next: &mut u32) {
        for &a in &r.args {
            self.define(a, next);
        }
        for inst in &r.insts {
            for &v in &inst.results {
                self.define(v, next);
            }
            for sub in inst.op.regions() {
                self.region(sub, next);
            }
        }
    }

    /// How `v` is written: `%N`, or `%undefK` (K the internal id) for a value that is
    /// never defined.
    pub(crate) fn name(&self, v: ValueId) -> ValueName {
        match self.0.get(v.0 as usize) {
            Some(&n) if n != UNNUMBERED => ValueName::Numbered(n),
            _ => ValueName::Undefined(v.0),
        }
    }
}

/// A value as written in the text and in verifier messages.
#[derive(Clone, Copy)]
pub(crate) enum ValueName {
    Numbered(u32),
    Undefined(u32),
}

impl fmt::Display for ValueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueName::Numbered(n) => write!(f, "%{n}"),
            ValueName::Undefined(id) => write!(f, "%undef{id}"),
        }
    }
}

impl fmt::Display for Kernel {
    /// The canonical text (no source locations).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Printer::new(self, false).kernel(f)
    }
}

impl Kernel {
    /// The text with ` // file:line:col` after every op, for people reading a dump.
    /// Not canonical: do not hash it.
    pub fn display_with_locs(&self) -> impl fmt::Display + '_ {
        WithLocs(self)
    }
}

struct WithLocs<'k>(&'k Kernel);

impl fmt::Display for WithLocs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Printer::new(self.0, true).kernel(f)
    }
}

struct Printer<'k> {
    k: &'k Kernel,
    num: Numbering,
    locs: bool,
}

impl<'k> Printer<'k> {
    fn new(k: &'k Kernel, locs: bool) -> Printer<'k> {
        Printer {
            k,
            num: Numbering::of(k),
            locs,
        }
    }

    fn v(&self, v: ValueId) -> ValueName {
        self.num.name(v)
    }

    /// The type of `v`, or `?` for an id outside the value table (a malformed kernel).
    fn ty(&self, f: &mut fmt::Formatter<'_>, v: ValueId) -> fmt::Result {
        match self.k.values.get(v.0 as usize) {
            Some(t) => write!(f, "{t}"),
            None => f.write_str("?"),
        }
    }

    fn list(&self, f: &mut fmt::Formatter<'_>, vals: &[ValueId]) -> fmt::Result {
        for (i, &v) in vals.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", self.v(v))?;
        }
        Ok(())
    }

    fn kernel(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.k;
        write!(f, "kernel {}(", k.name)?;
        for (i, p) in k.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match k.body.args.get(i) {
                Some(&a) => write!(f, "{} {}: {}", self.v(a), p.name, p.kind)?,
                None => write!(f, "%missing {}: {}", p.name, p.kind)?,
            }
        }
        f.write_str(") {\n")?;
        if !k.comptime.is_empty() {
            f.write_str("  comptime ")?;
            for (i, (name, v)) in k.comptime.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                match v {
                    crate::ir::ComptimeValue::Float(x) => write!(f, "{name} = {}", FloatLit(*x))?,
                    other => write!(f, "{name} = {other}")?,
                }
            }
            f.write_char('\n')?;
        }
        for (i, t) in k.tables.iter().enumerate() {
            write!(f, "  table t{i}: {} = [", t.dtype)?;
            let multiline = t.data.len() > TABLE_ENTRIES_PER_LINE;
            for (j, &x) in t.data.iter().enumerate() {
                if j > 0 {
                    f.write_char(',')?;
                }
                if multiline && j % TABLE_ENTRIES_PER_LINE == 0 {
                    f.write_str("\n    ")?;
                } else if j > 0 {
                    f.write_char(' ')?;
                }
                write!(f, "{}", TableEntry(t.dtype, x))?;
            }
            f.write_str(if multiline { "\n  ]\n" } else { "]\n" })?;
        }
        // Parameters are the body's arguments; only extra ones (malformed) are listed.
        let extra = k.body.args.get(k.params.len()..).unwrap_or(&[]);
        self.args_line(f, extra, 1)?;
        self.insts(f, &k.body.insts, 1)?;
        f.write_str("}\n")
    }

    fn indent(f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        write!(f, "{:width$}", "", width = 2 * depth)
    }

    /// `^(%a: T, ...):` at the level of the op that owns the region, when it has args.
    fn args_line(&self, f: &mut fmt::Formatter<'_>, args: &[ValueId], depth: usize) -> fmt::Result {
        if args.is_empty() {
            return Ok(());
        }
        Self::indent(f, depth.saturating_sub(1))?;
        f.write_str("^(")?;
        for (i, &a) in args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: ", self.v(a))?;
            self.ty(f, a)?;
        }
        f.write_str("):\n")
    }

    fn region(&self, f: &mut fmt::Formatter<'_>, r: &Region, depth: usize) -> fmt::Result {
        self.args_line(f, &r.args, depth)?;
        self.insts(f, &r.insts, depth)
    }

    fn insts(&self, f: &mut fmt::Formatter<'_>, insts: &[Inst], depth: usize) -> fmt::Result {
        for inst in insts {
            self.inst(f, inst, depth)?;
        }
        Ok(())
    }

    fn loc(&self, f: &mut fmt::Formatter<'_>, inst: &Inst) -> fmt::Result {
        if self.locs {
            write!(f, "  // {}", inst.loc)?;
        }
        Ok(())
    }

    fn inst(&self, f: &mut fmt::Formatter<'_>, inst: &Inst, depth: usize) -> fmt::Result {
        Self::indent(f, depth)?;
        if !inst.results.is_empty() {
            self.list(f, &inst.results)?;
            f.write_str(" = ")?;
        }
        f.write_str(inst.op.name())?;
        match &inst.op {
            Op::For {
                lo,
                hi,
                step,
                init,
                body,
            } => {
                write!(f, " {}, {}, {}", self.v(*lo), self.v(*hi), self.v(*step))?;
                if !init.is_empty() {
                    f.write_str(" iter(")?;
                    self.list(f, init)?;
                    f.write_char(')')?;
                }
                f.write_str(" {")?;
                self.loc(f, inst)?;
                f.write_char('\n')?;
                self.region(f, body, depth + 1)?;
                Self::indent(f, depth)?;
                f.write_char('}')?;
            }
            Op::If {
                cond,
                then_body,
                else_body,
                specialized,
            } => {
                let kind = if *specialized { " specialized" } else { "" };
                write!(f, "{kind} {} {{", self.v(*cond))?;
                self.loc(f, inst)?;
                f.write_char('\n')?;
                self.region(f, then_body, depth + 1)?;
                Self::indent(f, depth)?;
                f.write_str("} else {\n")?;
                self.region(f, else_body, depth + 1)?;
                Self::indent(f, depth)?;
                f.write_char('}')?;
            }
            op => self.operands(f, op, inst)?,
        }
        if !inst.results.is_empty() {
            f.write_str(" : ")?;
            for (i, &r) in inst.results.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                self.ty(f, r)?;
            }
        }
        if !inst.op.regions().is_empty() {
            return f.write_char('\n');
        }
        self.loc(f, inst)?;
        f.write_char('\n')
    }

    /// Attributes and operands of an op without regions, after its mnemonic.
    fn operands(&self, f: &mut fmt::Formatter<'_>, op: &Op, inst: &Inst) -> fmt::Result {
        let v = |x: &ValueId| self.v(*x);
        match op {
            Op::Const(c) => {
                let result_dtype = inst
                    .results
                    .first()
                    .and_then(|r| self.k.values.get(r.0 as usize))
                    .map(|t| t.dtype());
                if result_dtype != Some(c.dtype) {
                    write!(f, " {}", c.dtype)?;
                }
                match c.lit {
                    Lit::Bool(b) => write!(f, " {b}"),
                    Lit::Int(i) => write!(f, " {i}"),
                    Lit::Float(x) => write!(f, " {}", FloatLit(x)),
                }
            }
            Op::ProgramId(a) | Op::NumPrograms(a) => write!(f, " {a}"),
            Op::Arange { start, end } => write!(f, " {start}, {end}"),
            Op::Splat { value, shape } => write!(f, " {} to {shape}", v(value)),
            Op::Binary { lhs, rhs, .. } => write!(f, " {}, {}", v(lhs), v(rhs)),
            Op::Unary { arg, .. } | Op::Trans { arg } => write!(f, " {}", v(arg)),
            Op::Cmp { pred, lhs, rhs } => write!(f, " {pred} {}, {}", v(lhs), v(rhs)),
            Op::Select {
                cond,
                on_true,
                on_false,
            } => {
                write!(f, " {}, {}, {}", v(cond), v(on_true), v(on_false))
            }
            Op::Fma { a, b, c } => write!(f, " {}, {}, {}", v(a), v(b), v(c)),
            Op::Cast { arg, to } | Op::Bitcast { arg, to } => write!(f, " {} to {to}", v(arg)),
            Op::Broadcast { arg, shape } | Op::Reshape { arg, shape } => {
                write!(f, " {} to {shape}", v(arg))
            }
            Op::ExpandDims { arg, axis } | Op::Reduce { arg, axis, .. } => {
                write!(f, " {}, axis {axis}", v(arg))
            }
            Op::XorPermute { arg, axis, mask } => {
                write!(f, " {}, axis {axis}, mask {mask}", v(arg))
            }
            Op::Dot { a, b, acc } => {
                write!(f, " {}, {}", v(a), v(b))?;
                match acc {
                    Some(c) => write!(f, ", acc {}", v(c)),
                    None => Ok(()),
                }
            }
            Op::PtrAdd { ptr, offset } => write!(f, " {}, {}", v(ptr), v(offset)),
            Op::Load { ptr, mask, other } => {
                write!(f, " {}", v(ptr))?;
                if let Some(m) = mask {
                    write!(f, ", mask {}", v(m))?;
                }
                if let Some(o) = other {
                    write!(f, ", other {}", v(o))?;
                }
                Ok(())
            }
            Op::Store { ptr, value, mask, .. } => {
                write!(f, " {}, {}", v(ptr), v(value))?;
                if let Some(m) = mask {
                    write!(f, ", mask {}", v(m))?;
                }
                Ok(())
            }
            Op::Gather { table, index } => write!(f, " t{}, {}", table.0, v(index)),
            Op::Yield(vals) => {
                if !vals.is_empty() {
                    f.write_char(' ')?;
                    self.list(f, vals)?;
                }
                Ok(())
            }
            Op::For { .. } | Op::If { .. } => Ok(()),
        }
    }
}
