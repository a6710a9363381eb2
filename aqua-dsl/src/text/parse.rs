//! The parser of the IR text: the kernel header, comptime values, tables, regions and
//! value names. Op syntax is in `parse_op`.
//!
//! Value names are resolved over the whole kernel, not by scope: a name may be used before
//! (or outside the region of) its definition, so such mistakes reach the verifier, which
//! explains them. A name that is never defined, or defined twice, is a parse error.
//! The parser checks syntax only; it never verifies.

use std::collections::{BTreeMap, HashMap};

use crate::ir::{
    ComptimeValue, DType, Elem, Inst, Kernel, Lit, Loc, Op, Param, ParamKind, Region, Shape, Table, Type, ValueId,
};

use super::lexer::{lex, Tok, Token};
use super::ParseError;

/// The file name of the [`Loc`] of every parsed op.
pub const IR_FILE: &str = "<ir>";

/// Parses the text of one kernel (what [`Kernel`]'s `Display` prints).
pub fn parse(text: &str) -> Result<Kernel, ParseError> {
    Parser::new(lex(text)?).kernel()
}

pub(super) struct Parser {
    toks: Vec<Token>,
    pos: usize,
    names: HashMap<String, ValueId>,
    /// Per value: its type once defined, and where it was first seen.
    types: Vec<Option<Type>>,
    first_seen: Vec<(u32, u32)>,
    pub(super) tables: Vec<Table>,
    pub(super) table_names: HashMap<String, u32>,
}

impl Parser {
    fn new(toks: Vec<Token>) -> Parser {
        Parser {
            toks,
            pos: 0,
            names: HashMap::new(),
            types: Vec::new(),
            first_seen: Vec::new(),
            tables: Vec::new(),
            table_names: HashMap::new(),
        }
    }

    // ---- tokens ----

    pub(super) fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    pub(super) fn err_at(t: &Token, message: impl Into<String>) -> ParseError {
        ParseError {
            line: t.line,
            col: t.col,
            message: message.into(),
        }
    }

    /// An error at the next token: "expected X, found Y".
    pub(super) fn expected(&self, what: &str) -> ParseError {
        let t = self.peek();
        Self::err_at(t, format!("expected {what}, found {}", t.tok.describe()))
    }

    pub(super) fn eat_punct(&mut self, c: char) -> bool {
        if self.peek().tok == Tok::Punct(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn punct(&mut self, c: char) -> Result<(), ParseError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{c}`")))
        }
    }

    pub(super) fn is_ident(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s == word)
    }

    pub(super) fn eat_ident(&mut self, word: &str) -> bool {
        let yes = self.is_ident(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    pub(super) fn keyword(&mut self, word: &str) -> Result<(), ParseError> {
        if self.eat_ident(word) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{word}`")))
        }
    }

    pub(super) fn ident(&mut self, what: &str) -> Result<String, ParseError> {
        match &self.peek().tok {
            Tok::Ident(s) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// An integer attribute that must fit in `T`.
    pub(super) fn int<T: TryFrom<i128>>(&mut self, what: &str) -> Result<T, ParseError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Int(i) => {
                self.pos += 1;
                T::try_from(i).map_err(|_| Self::err_at(&t, format!("{what} {i} is out of range")))
            }
            _ => Err(self.expected(what)),
        }
    }

    // ---- values ----

    fn value_token(&mut self) -> Result<(String, Token), ParseError> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Value(name) => {
                self.pos += 1;
                Ok((name.clone(), t))
            }
            _ => Err(self.expected("a value (`%name`)")),
        }
    }

    fn id_of(&mut self, name: &str, at: &Token) -> ValueId {
        if let Some(&id) = self.names.get(name) {
            return id;
        }
        let id = ValueId(self.types.len() as u32);
        self.types.push(None);
        self.first_seen.push((at.line, at.col));
        self.names.insert(name.to_string(), id);
        id
    }

    /// A value operand.
    pub(super) fn operand(&mut self) -> Result<ValueId, ParseError> {
        let (name, t) = self.value_token()?;
        Ok(self.id_of(&name, &t))
    }

    /// Operands separated by commas, as long as values follow.
    pub(super) fn operand_list(&mut self) -> Result<Vec<ValueId>, ParseError> {
        let mut out = Vec::new();
        if matches!(self.peek().tok, Tok::Value(_)) {
            out.push(self.operand()?);
            while self.eat_punct(',') {
                out.push(self.operand()?);
            }
        }
        Ok(out)
    }

    /// Defines the value named by the next token; its type comes with [`Self::set_type`].
    fn define(&mut self) -> Result<ValueId, ParseError> {
        let (name, t) = self.value_token()?;
        let id = self.id_of(&name, &t);
        let slot = &mut self.types[id.0 as usize];
        if slot.is_some() {
            return Err(Self::err_at(&t, format!("value `%{name}` is defined twice")));
        }
        // A placeholder marks the value defined until its real type is known.
        *slot = Some(Type::scalar(DType::Bool));
        Ok(id)
    }

    fn set_type(&mut self, v: ValueId, ty: Type) {
        self.types[v.0 as usize] = Some(ty);
    }

    // ---- types ----

    pub(super) fn dtype(&mut self) -> Result<DType, ParseError> {
        let t = self.peek().clone();
        let name = self.ident("a dtype")?;
        DType::from_name(&name).ok_or_else(|| Self::err_at(&t, format!("unknown dtype `{name}`")))
    }

    /// `[d0,d1,...]`.
    pub(super) fn shape(&mut self) -> Result<Shape, ParseError> {
        self.punct('[')?;
        let mut dims = Vec::new();
        if !self.eat_punct(']') {
            loop {
                dims.push(self.int::<u32>("a dimension")?);
                if self.eat_punct(']') {
                    break;
                }
                self.punct(',')?;
            }
        }
        Ok(Shape(dims))
    }

    /// `f32`, `f32[4,64]`, `ptr<f16>`, `ptr<f16>[128]`.
    pub(super) fn ty(&mut self) -> Result<Type, ParseError> {
        let elem = if self.eat_ident("ptr") {
            self.punct('<')?;
            let d = self.dtype()?;
            self.punct('>')?;
            Elem::Ptr(d)
        } else {
            Elem::Val(self.dtype()?)
        };
        let shape = if self.peek().tok == Tok::Punct('[') {
            self.shape()?
        } else {
            Shape::scalar()
        };
        Ok(Type { elem, shape })
    }

    // ---- literals ----

    /// `true`, `-3`, `0x1f`, `1.5`, `1e-7`, `inf`, `-inf`, `nan`, `nan(0x7ff8000000000001)`.
    pub(super) fn lit(&mut self) -> Result<Lit, ParseError> {
        let t = self.peek().clone();
        let lit = match &t.tok {
            Tok::Int(i) => Lit::Int(
                i64::try_from(*i).map_err(|_| Self::err_at(&t, format!("integer {i} does not fit in 64 bits")))?,
            ),
            Tok::Float(x) => Lit::Float(*x),
            Tok::Ident(s) if s == "true" || s == "false" => Lit::Bool(s == "true"),
            Tok::Ident(s) if s == "inf" => Lit::Float(f64::INFINITY),
            Tok::Ident(s) if s == "nan" => {
                self.pos += 1;
                if !self.eat_punct('(') {
                    return Ok(Lit::Float(f64::NAN));
                }
                let bits: u64 = self.int("NaN bits")?;
                self.punct(')')?;
                let x = f64::from_bits(bits);
                if !x.is_nan() {
                    return Err(Self::err_at(&t, format!("0x{bits:016x} is not the bits of a NaN")));
                }
                return Ok(Lit::Float(x));
            }
            _ => return Err(self.expected("a literal")),
        };
        self.pos += 1;
        Ok(lit)
    }

    // ---- kernel ----

    fn kernel(mut self) -> Result<Kernel, ParseError> {
        self.keyword("kernel")?;
        let name = self.ident("the kernel name")?;
        self.punct('(')?;
        let mut params = Vec::new();
        let mut args = Vec::new();
        if !self.eat_punct(')') {
            loop {
                let (param, arg) = self.param()?;
                params.push(param);
                args.push(arg);
                if self.eat_punct(')') {
                    break;
                }
                self.punct(',')?;
            }
        }
        self.punct('{')?;
        let mut comptime = BTreeMap::new();
        loop {
            if self.eat_ident("comptime") {
                self.comptime(&mut comptime)?;
            } else if self.eat_ident("table") {
                self.table()?;
            } else {
                break;
            }
        }
        args.extend(self.region_args()?);
        let insts = self.insts()?;
        if self.peek().tok != Tok::Eof {
            return Err(self.expected("the end of the text after the kernel"));
        }
        let values = self.finish_values()?;
        Ok(Kernel {
            name,
            params,
            comptime,
            values,
            tables: self.tables,
            body: Region { args, insts },
        })
    }

    /// `%0 x: ptr<f32> mut`.
    fn param(&mut self) -> Result<(Param, ValueId), ParseError> {
        let arg = self.define()?;
        let name = self.ident("a parameter name")?;
        self.punct(':')?;
        let kind = if self.eat_ident("ptr") {
            self.punct('<')?;
            let dtype = self.dtype()?;
            self.punct('>')?;
            ParamKind::Ptr {
                dtype,
                mutable: self.eat_ident("mut"),
            }
        } else {
            ParamKind::Scalar(self.dtype()?)
        };
        self.set_type(arg, kind.value_type());
        Ok((Param { name, kind }, arg))
    }

    /// `comptime a = 1, b = 2.0, c = true` (after `comptime`).
    fn comptime(&mut self, out: &mut BTreeMap<String, ComptimeValue>) -> Result<(), ParseError> {
        loop {
            let t = self.peek().clone();
            let name = self.ident("a comptime parameter name")?;
            self.punct('=')?;
            let v = match self.lit()? {
                Lit::Int(i) => ComptimeValue::Int(i),
                Lit::Float(x) => ComptimeValue::Float(x),
                Lit::Bool(b) => ComptimeValue::Bool(b),
            };
            if out.insert(name.clone(), v).is_some() {
                return Err(Self::err_at(&t, format!("comptime parameter `{name}` is given twice")));
            }
            if !self.eat_punct(',') {
                return Ok(());
            }
        }
    }

    /// `t0: f32 = [0.5, -1.0, nan]` (after `table`).
    fn table(&mut self) -> Result<(), ParseError> {
        let t = self.peek().clone();
        let name = self.ident("a table name")?;
        self.punct(':')?;
        let dtype = self.dtype()?;
        self.punct('=')?;
        self.punct('[')?;
        let mut data = Vec::new();
        while !self.eat_punct(']') {
            data.push(match self.lit()? {
                Lit::Bool(b) => b as u8 as f64,
                Lit::Int(i) => i as f64,
                Lit::Float(x) => x,
            });
            if !self.eat_punct(',') {
                self.punct(']')?;
                break;
            }
        }
        let id = self.tables.len() as u32;
        if self.table_names.insert(name.clone(), id).is_some() {
            return Err(Self::err_at(&t, format!("table `{name}` is declared twice")));
        }
        self.tables.push(Table { dtype, data });
        Ok(())
    }

    // ---- regions and instructions ----

    /// `^(%a: T, ...):` when present.
    fn region_args(&mut self) -> Result<Vec<ValueId>, ParseError> {
        let mut args = Vec::new();
        if !self.eat_punct('^') {
            return Ok(args);
        }
        self.punct('(')?;
        if !self.eat_punct(')') {
            loop {
                let arg = self.define()?;
                self.punct(':')?;
                let ty = self.ty()?;
                self.set_type(arg, ty);
                args.push(arg);
                if self.eat_punct(')') {
                    break;
                }
                self.punct(',')?;
            }
        }
        self.punct(':')?;
        Ok(args)
    }

    /// Instructions up to and including the closing `}`.
    fn insts(&mut self) -> Result<Vec<Inst>, ParseError> {
        let mut insts = Vec::new();
        while !self.eat_punct('}') {
            insts.push(self.inst()?);
        }
        Ok(insts)
    }

    /// `{ ^(args): insts }`.
    pub(super) fn region(&mut self) -> Result<Region, ParseError> {
        self.punct('{')?;
        let args = self.region_args()?;
        let insts = self.insts()?;
        Ok(Region { args, insts })
    }

    /// `%a, %b = mnemonic ... : T, U` (results and types only when the op has results).
    fn inst(&mut self) -> Result<Inst, ParseError> {
        let first = self.peek().clone();
        let loc = Loc {
            file: IR_FILE,
            line: first.line,
            col: first.col,
        };
        let mut results = Vec::new();
        if matches!(first.tok, Tok::Value(_)) {
            loop {
                results.push(self.define()?);
                if !self.eat_punct(',') {
                    break;
                }
            }
            self.punct('=')?;
        }
        let mnemonic = self.peek().clone();
        let name = self.ident("an op")?;
        let (mut op, const_of_result_type) = self.op(&name, &mnemonic)?;
        if !results.is_empty() {
            self.punct(':')?;
            for (i, &r) in results.iter().enumerate() {
                if i > 0 {
                    self.punct(',')?;
                }
                let ty = self.ty()?;
                self.set_type(r, ty);
            }
        }
        if let (Op::Const(c), true) = (&mut op, const_of_result_type) {
            let first_type = results.first().and_then(|r| self.types[r.0 as usize].as_ref());
            c.dtype = first_type
                .map(|t| t.dtype())
                .ok_or_else(|| Self::err_at(&mnemonic, "`const` without a result needs an explicit dtype"))?;
        }
        Ok(Inst { op, results, loc })
    }

    /// The value table, once every name is defined.
    fn finish_values(&mut self) -> Result<Vec<Type>, ParseError> {
        let mut names: Vec<(&String, &ValueId)> = self.names.iter().collect();
        names.sort_by_key(|(_, id)| **id);
        let mut values = Vec::with_capacity(self.types.len());
        for (name, id) in names {
            match &self.types[id.0 as usize] {
                Some(t) => values.push(t.clone()),
                None => {
                    let (line, col) = self.first_seen[id.0 as usize];
                    return Err(ParseError {
                        line,
                        col,
                        message: format!("value `%{name}` is never defined"),
                    });
                }
            }
        }
        Ok(values)
    }
}
