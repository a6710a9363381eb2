//! The syntax of each op after its mnemonic: leading attributes (`cmp lt`, `program_id 0`),
//! operands, then `to ...` targets and `, keyword value` parts (`, mask %m`, `, axis 1`).

use crate::ir::{BinOp, CmpPred, Const, DType, Op, ReduceOp, TableId, UnOp};

use super::lexer::Token;
use super::parse::Parser;
use super::ParseError;

impl Parser {
    /// Parses the op named `name` (already consumed, at `at`). The flag is true for a
    /// `const` without an explicit dtype, whose dtype is its result type's.
    pub(super) fn op(&mut self, name: &str, at: &Token) -> Result<(Op, bool), ParseError> {
        if let Some(op) = BinOp::from_name(name) {
            let lhs = self.operand()?;
            self.punct(',')?;
            let rhs = self.operand()?;
            return Ok((Op::Binary { op, lhs, rhs }, false));
        }
        if let Some(op) = UnOp::from_name(name) {
            return Ok((
                Op::Unary {
                    op,
                    arg: self.operand()?,
                },
                false,
            ));
        }
        if let Some(op) = ReduceOp::from_name(name) {
            let arg = self.operand()?;
            let axis = self.axis()?;
            return Ok((Op::Reduce { op, arg, axis }, false));
        }
        let op = match name {
            "const" => {
                let explicit = match &self.peek().tok {
                    super::lexer::Tok::Ident(s) if DType::from_name(s).is_some() => Some(self.dtype()?),
                    _ => None,
                };
                let lit = self.lit()?;
                return Ok((
                    Op::Const(Const {
                        dtype: explicit.unwrap_or(DType::Bool),
                        lit,
                    }),
                    explicit.is_none(),
                ));
            }
            "program_id" => Op::ProgramId(self.int("a grid axis")?),
            "num_programs" => Op::NumPrograms(self.int("a grid axis")?),
            "arange" => {
                let start = self.int("the start of the range")?;
                self.punct(',')?;
                Op::Arange {
                    start,
                    end: self.int("the end of the range")?,
                }
            }
            "splat" => {
                let value = self.operand()?;
                self.keyword("to")?;
                Op::Splat {
                    value,
                    shape: self.shape()?,
                }
            }
            "cmp" => {
                let t = self.peek().clone();
                let p = self.ident("a comparison (eq, ne, lt, le, gt, ge)")?;
                let pred =
                    CmpPred::from_name(&p).ok_or_else(|| Self::err_at(&t, format!("unknown comparison `{p}`")))?;
                let lhs = self.operand()?;
                self.punct(',')?;
                Op::Cmp {
                    pred,
                    lhs,
                    rhs: self.operand()?,
                }
            }
            "select" => {
                let [cond, on_true, on_false] = self.operands3()?;
                Op::Select {
                    cond,
                    on_true,
                    on_false,
                }
            }
            "fma" => {
                let [a, b, c] = self.operands3()?;
                Op::Fma { a, b, c }
            }
            "cast" | "bitcast" => {
                let arg = self.operand()?;
                self.keyword("to")?;
                let to = self.dtype()?;
                if name == "cast" {
                    Op::Cast { arg, to }
                } else {
                    Op::Bitcast { arg, to }
                }
            }
            "broadcast" | "reshape" => {
                let arg = self.operand()?;
                self.keyword("to")?;
                let shape = self.shape()?;
                if name == "broadcast" {
                    Op::Broadcast { arg, shape }
                } else {
                    Op::Reshape { arg, shape }
                }
            }
            "expand_dims" => {
                let arg = self.operand()?;
                Op::ExpandDims {
                    arg,
                    axis: self.axis()?,
                }
            }
            "trans" => Op::Trans { arg: self.operand()? },
            "xor_permute" => {
                let arg = self.operand()?;
                let axis = self.axis()?;
                self.punct(',')?;
                self.keyword("mask")?;
                Op::XorPermute { arg, axis, mask: self.int("a mask")? }
            }
            "dot" => {
                let a = self.operand()?;
                self.punct(',')?;
                let b = self.operand()?;
                let acc = if self.eat_punct(',') {
                    self.keyword("acc")?;
                    Some(self.operand()?)
                } else {
                    None
                };
                Op::Dot { a, b, acc }
            }
            "ptr_add" => {
                let ptr = self.operand()?;
                self.punct(',')?;
                Op::PtrAdd {
                    ptr,
                    offset: self.operand()?,
                }
            }
            "load" => {
                let ptr = self.operand()?;
                let (mut mask, mut other) = (None, None);
                if self.eat_punct(',') {
                    if self.eat_ident("mask") {
                        mask = Some(self.operand()?);
                        if self.eat_punct(',') {
                            self.keyword("other")?;
                            other = Some(self.operand()?);
                        }
                    } else if self.eat_ident("other") {
                        other = Some(self.operand()?);
                    } else {
                        return Err(self.expected("`mask` or `other`"));
                    }
                }
                Op::Load { ptr, mask, other }
            }
            "store" | "store_streaming" => {
                let ptr = self.operand()?;
                self.punct(',')?;
                let value = self.operand()?;
                let mask = if self.eat_punct(',') {
                    self.keyword("mask")?;
                    Some(self.operand()?)
                } else {
                    None
                };
                Op::Store { ptr, value, mask, streaming: name == "store_streaming" }
            }
            "gather" => {
                let table = self.table_ref()?;
                self.punct(',')?;
                Op::Gather {
                    table,
                    index: self.operand()?,
                }
            }
            "for" => {
                let [lo, hi, step] = self.operands3()?;
                let mut init = Vec::new();
                if self.eat_ident("iter") {
                    self.punct('(')?;
                    init = self.operand_list()?;
                    self.punct(')')?;
                }
                Op::For {
                    lo,
                    hi,
                    step,
                    init,
                    body: self.region()?,
                }
            }
            "if" => {
                let specialized = self.eat_ident("specialized");
                let cond = self.operand()?;
                let then_body = self.region()?;
                self.keyword("else")?;
                Op::If {
                    cond,
                    then_body,
                    else_body: self.region()?,
                    specialized,
                }
            }
            "yield" => Op::Yield(self.operand_list()?),
            _ => return Err(Self::err_at(at, format!("unknown op `{name}`"))),
        };
        Ok((op, false))
    }

    fn operands3(&mut self) -> Result<[crate::ir::ValueId; 3], ParseError> {
        let a = self.operand()?;
        self.punct(',')?;
        let b = self.operand()?;
        self.punct(',')?;
        Ok([a, b, self.operand()?])
    }

    /// `, axis N`.
    fn axis(&mut self) -> Result<u8, ParseError> {
        self.punct(',')?;
        self.keyword("axis")?;
        self.int("an axis")
    }

    /// A table by its declared name, or `tN` for table N when no table has that name (so a
    /// kernel whose gather names a missing table still reads back, for the verifier).
    fn table_ref(&mut self) -> Result<TableId, ParseError> {
        let t = self.peek().clone();
        let name = self.ident("a table name")?;
        if let Some(&id) = self.table_names.get(&name) {
            return Ok(TableId(id));
        }
        name.strip_prefix('t')
            .and_then(|n| n.parse::<u32>().ok())
            .map(TableId)
            .ok_or_else(|| Self::err_at(&t, format!("unknown table `{name}`")))
    }
}
