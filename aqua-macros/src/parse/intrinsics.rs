//! The builder functions a kernel calls by name, and the `aqua_dsl::build` function each
//! call expands to, chosen by the number of arguments (`load(p)`, `load(p, mask)`,
//! `load(p, mask, other)` are three builder functions).
//!
//! Knowing them lets the macro reject a wrong argument count at the call, classify the
//! result as a runtime value, and insist that shape and axis arguments are comptime.

/// One accepted form of an intrinsic.
pub struct Form {
    pub arity: usize,
    /// The `aqua_dsl::build` function this form expands to.
    pub target: &'static str,
    /// How the author writes it (for messages).
    pub usage: &'static str,
}

pub struct Intrinsic {
    pub name: &'static str,
    pub forms: &'static [Form],
    /// Arguments that must be known while building (shapes, axes, table data).
    pub comptime_args: &'static [usize],
    /// The first generic argument names a dtype (`zeros::<f32>`).
    pub dtype_generic: bool,
}

impl Intrinsic {
    pub fn form(&self, arity: usize) -> Option<&'static Form> {
        self.forms.iter().find(|f| f.arity == arity)
    }

    /// `` `load` takes 1 to 3 arguments: `load(ptrs)`, ... ``
    pub fn arity_message(&self, given: usize) -> String {
        let counts: Vec<String> = self.forms.iter().map(|f| f.arity.to_string()).collect();
        let usages: Vec<String> = self
            .forms
            .iter()
            .map(|f| format!("`{}`", f.usage))
            .collect();
        let counts = match counts.len() {
            1 => counts[0].clone(),
            _ => format!(
                "{} or {}",
                counts[..counts.len() - 1].join(", "),
                counts[counts.len() - 1]
            ),
        };
        let plural = if self.forms.len() == 1 && self.forms[0].arity == 1 {
            "argument"
        } else {
            "arguments"
        };
        format!(
            "`{}` takes {counts} {plural}, not {given}: {}",
            self.name,
            usages.join(", ")
        )
    }
}

macro_rules! forms {
    ($($arity:literal => $target:literal : $usage:literal),* $(,)?) => {
        &[$(Form { arity: $arity, target: $target, usage: $usage }),*]
    };
}

/// A builder function whose every argument is a runtime operand.
macro_rules! plain {
    ($name:literal, $arity:literal, $usage:literal) => {
        Intrinsic { name: $name, forms: forms!($arity => $name: $usage), comptime_args: &[], dtype_generic: false }
    };
}

pub const INTRINSICS: &[Intrinsic] = &[
    Intrinsic {
        name: "program_id",
        forms: forms!(1 => "program_id": "program_id(axis)"),
        comptime_args: &[0],
        dtype_generic: false,
    },
    Intrinsic {
        name: "num_programs",
        forms: forms!(1 => "num_programs": "num_programs(axis)"),
        comptime_args: &[0],
        dtype_generic: false,
    },
    Intrinsic {
        name: "arange",
        forms: forms!(1 => "arange": "arange(n)", 2 => "arange_from": "arange(start, end)"),
        comptime_args: &[0, 1],
        dtype_generic: false,
    },
    Intrinsic {
        name: "full",
        forms: forms!(2 => "full": "full(shape, value)"),
        comptime_args: &[0],
        dtype_generic: false,
    },
    Intrinsic {
        name: "full_of",
        forms: forms!(2 => "full_of": "full_of::<T>(shape, value)"),
        comptime_args: &[0],
        dtype_generic: true,
    },
    Intrinsic {
        name: "zeros",
        forms: forms!(1 => "zeros": "zeros::<T>(shape)"),
        comptime_args: &[0],
        dtype_generic: true,
    },
    Intrinsic {
        name: "constant",
        forms: forms!(1 => "constant": "constant::<T>(value)"),
        comptime_args: &[],
        dtype_generic: true,
    },
    Intrinsic {
        name: "const_table",
        forms: forms!(1 => "const_table": "const_table::<T, _>(&data)"),
        comptime_args: &[0],
        dtype_generic: true,
    },
    Intrinsic {
        name: "load",
        forms: forms!(1 => "load": "load(ptrs)", 2 => "load_masked": "load(ptrs, mask)", 3 => "load_masked_or": "load(ptrs, mask, other)"),
        comptime_args: &[],
        dtype_generic: false,
    },
    Intrinsic {
        name: "store",
        forms: forms!(2 => "store": "store(ptrs, value)", 3 => "store_masked": "store(ptrs, value, mask)"),
        comptime_args: &[],
        dtype_generic: false,
    },
    Intrinsic {
        name: "dot",
        forms: forms!(2 => "dot": "dot(a, b)", 3 => "dot_acc": "dot(a, b, acc)"),
        comptime_args: &[],
        dtype_generic: false,
    },
    plain!("store_streaming", 2, "store_streaming(ptrs, value)"),
    plain!("where_", 3, "where_(cond, a, b)"),
    plain!("minimum", 2, "minimum(a, b)"),
    plain!("maximum", 2, "maximum(a, b)"),
    plain!("clamp", 3, "clamp(x, lo, hi)"),
    plain!("fma", 3, "fma(a, b, c)"),
    plain!("abs", 1, "abs(x)"),
    plain!("sqrt", 1, "sqrt(x)"),
    plain!("rsqrt", 1, "rsqrt(x)"),
    plain!("exp", 1, "exp(x)"),
    plain!("log", 1, "log(x)"),
    plain!("floor", 1, "floor(x)"),
    plain!("ceil", 1, "ceil(x)"),
    plain!("round", 1, "round(x)"),
    plain!("lift", 1, "lift(x)"),
];

pub fn lookup(name: &str) -> Option<&'static Intrinsic> {
    INTRINSICS.iter().find(|i| i.name == name)
}

/// `Value` methods whose arguments must be comptime (axes and shapes), by name.
pub const COMPTIME_ARG_METHODS: &[&str] = &[
    "sum",
    "max",
    "min",
    "argmax",
    "argmin",
    "reshape",
    "expand_dims",
    "broadcast_to",
];

/// `Value` methods whose turbofish names a dtype.
pub const DTYPE_METHODS: &[&str] = &["cast", "bitcast"];

/// Methods that answer questions about a value while building (its type, a table's
/// length): their results are comptime even on a runtime receiver.
pub const COMPTIME_RESULT_METHODS: &[&str] = &["dtype", "shape", "ty", "id", "len", "is_empty"];
