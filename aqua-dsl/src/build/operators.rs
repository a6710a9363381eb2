//! Rust operators on [`Value`]: `+ - * / % & | ^ << >>`, unary `-` and `!`, with values or
//! weak numbers on either side. Comparisons and `&&`/`||` cannot be overloaded in Rust;
//! `#[kernel]` rewrites them to [`super::lt`], [`super::logical_and`] and friends.

use std::ops;

use crate::ir::{BinOp, Loc, UnOp};

use super::context;
use super::value::{IntoOperand, Operand, Value};

macro_rules! binary_operator {
    ($($trait:ident $method:ident $assign_trait:ident $assign_method:ident => $op:ident),*) => {$(
        impl<R: IntoOperand> ops::$trait<R> for Value {
            type Output = Value;
            #[track_caller]
            fn $method(self, rhs: R) -> Value {
                let loc = Loc::caller();
                let rhs = rhs.into_operand();
                context::with(|b| b.binary(BinOp::$op, Operand::Value(self), rhs, loc))
            }
        }
        impl<R: IntoOperand> ops::$assign_trait<R> for Value {
            #[track_caller]
            fn $assign_method(&mut self, rhs: R) {
                let loc = Loc::caller();
                let rhs = rhs.into_operand();
                *self = context::with(|b| b.binary(BinOp::$op, Operand::Value(*self), rhs, loc));
            }
        }
        binary_operator!(@lhs $trait $method $op: i8 u8 i16 u16 i32 u32 i64 u64 isize usize f32 f64 bool);
    )*};
    (@lhs $trait:ident $method:ident $op:ident: $($t:ty)*) => {$(
        impl ops::$trait<Value> for $t {
            type Output = Value;
            #[track_caller]
            fn $method(self, rhs: Value) -> Value {
                let loc = Loc::caller();
                let lhs = self.into_operand();
                context::with(|b| b.binary(BinOp::$op, lhs, Operand::Value(rhs), loc))
            }
        }
    )*};
}

binary_operator! {
    Add add AddAssign add_assign => Add,
    Sub sub SubAssign sub_assign => Sub,
    Mul mul MulAssign mul_assign => Mul,
    Div div DivAssign div_assign => Div,
    Rem rem RemAssign rem_assign => Rem,
    BitAnd bitand BitAndAssign bitand_assign => And,
    BitOr bitor BitOrAssign bitor_assign => Or,
    BitXor bitxor BitXorAssign bitxor_assign => Xor,
    Shl shl ShlAssign shl_assign => Shl,
    Shr shr ShrAssign shr_assign => Shr
}

impl ops::Neg for Value {
    type Output = Value;
    #[track_caller]
    fn neg(self) -> Value {
        let loc = Loc::caller();
        context::with(|b| b.unary(UnOp::Neg, self, loc))
    }
}

impl ops::Not for Value {
    type Output = Value;
    #[track_caller]
    fn not(self) -> Value {
        let loc = Loc::caller();
        context::with(|b| b.unary(UnOp::Not, self, loc))
    }
}
