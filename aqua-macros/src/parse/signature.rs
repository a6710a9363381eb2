//! The kernel's signature: runtime parameters (`Ptr<T>`, `PtrMut<T>`, scalars),
//! `#[comptime]` parameters with optional defaults, and the checks on the function itself
//! (no generics, no return type, no qualifiers).

use quote::ToTokens;

use super::ast::ParamKind;
use crate::error::{code, Errors};

/// The element types of the language (`aqua_dsl::ir::DType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    Bool,
    I8,
    U8,
    I32,
    U32,
    I64,
    F16,
    BF16,
    F32,
}

const DTYPES: [(&str, Dtype); 9] = [
    ("bool", Dtype::Bool),
    ("i8", Dtype::I8),
    ("u8", Dtype::U8),
    ("i32", Dtype::I32),
    ("u32", Dtype::U32),
    ("i64", Dtype::I64),
    ("f16", Dtype::F16),
    ("bf16", Dtype::BF16),
    ("f32", Dtype::F32),
];

/// For messages: the dtypes as the author writes them.
pub const DTYPE_LIST: &str = "bool, i8, u8, i32, u32, i64, f16, bf16 or f32";

impl Dtype {
    /// The dtype a Rust type names (`f32`, `f16`, `half::bf16`), if any.
    pub fn from_type(ty: &syn::Type) -> Option<Dtype> {
        let name = last_segment(ty)
            .filter(|s| s.arguments.is_none())?
            .ident
            .to_string();
        DTYPES.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
    }

    /// The `aqua_dsl::ir::DType` variant.
    pub fn variant(self) -> &'static str {
        match self {
            Dtype::Bool => "Bool",
            Dtype::I8 => "I8",
            Dtype::U8 => "U8",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::I64 => "I64",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::F32 => "F32",
        }
    }
}

/// The Rust types a comptime parameter may have (`aqua_dsl::build::ComptimeType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtType {
    Bool,
    U32,
    I32,
    U64,
    I64,
    Usize,
    F32,
    F64,
}

const CT_TYPES: [(&str, CtType); 8] = [
    ("bool", CtType::Bool),
    ("u32", CtType::U32),
    ("i32", CtType::I32),
    ("u64", CtType::U64),
    ("i64", CtType::I64),
    ("usize", CtType::Usize),
    ("f32", CtType::F32),
    ("f64", CtType::F64),
];

impl CtType {
    fn from_type(ty: &syn::Type) -> Option<CtType> {
        let seg = last_segment(ty).filter(|s| s.arguments.is_none())?;
        let name = seg.ident.to_string();
        CT_TYPES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    pub fn variant(self) -> &'static str {
        match self {
            CtType::Bool => "Bool",
            CtType::U32 => "U32",
            CtType::I32 => "I32",
            CtType::U64 => "U64",
            CtType::I64 => "I64",
            CtType::Usize => "Usize",
            CtType::F32 => "F32",
            CtType::F64 => "F64",
        }
    }

    fn int_range(self) -> Option<(i128, i128)> {
        Some(match self {
            CtType::U32 => (0, u32::MAX as i128),
            CtType::I32 => (i32::MIN as i128, i32::MAX as i128),
            // Comptime values are carried as i64.
            CtType::U64 | CtType::Usize => (0, i64::MAX as i128),
            CtType::I64 => (i64::MIN as i128, i64::MAX as i128),
            _ => return None,
        })
    }
}

/// A comptime default (`aqua_dsl::ir::ComptimeValue`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CtValue {
    Int(i64),
    Float(f64),
    Bool(bool),
}

fn last_segment(ty: &syn::Type) -> Option<&syn::PathSegment> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        syn::Type::Group(g) => last_segment(&g.elem),
        syn::Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

/// `Ptr<T>` / `PtrMut<T>`: the pointer's mutability and its element type.
fn pointer_parts(ty: &syn::Type) -> Option<(bool, Option<&syn::Type>)> {
    let seg = last_segment(ty)?;
    let mutable = match seg.ident.to_string().as_str() {
        "Ptr" => false,
        "PtrMut" => true,
        _ => return None,
    };
    let elem = match &seg.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    };
    Some((mutable, elem))
}

/// Checks the function's own shape: no qualifiers, generics, receiver or return type.
pub fn check_fn(sig: &syn::Signature, errors: &mut Errors) {
    if let Some(t) = &sig.constness {
        errors.at(
            t,
            "a kernel cannot be `const`: it is built into IR, not evaluated by rustc",
        );
    }
    if let Some(t) = &sig.asyncness {
        errors.at(
            t,
            "a kernel cannot be `async`: it runs on the device, there is nothing to await",
        );
    }
    if let Some(t) = &sig.unsafety {
        errors.at(
            t,
            "a kernel cannot be `unsafe`: every memory access is a masked `load`/`store`",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(
            abi,
            "a kernel cannot declare an ABI: its calling convention is fixed by aqua",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            "kernels cannot be generic: make dtypes part of the kernel and sizes `#[comptime]` parameters",
        );
    }
    if let Some(v) = &sig.variadic {
        errors.at(v, "kernels cannot be variadic");
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output {
        errors.at(
            ty,
            "kernels return nothing: write results through `PtrMut<T>` parameters with `store`",
        );
    }
}

/// One parsed parameter before its binding is declared.
pub struct ParsedParam {
    pub ident: syn::Ident,
    pub mutability: Option<syn::Token![mut]>,
    pub kind: ParamKind,
}

/// Parses the parameters; those with mistakes are reported and left out.
pub fn parse_params(sig: &syn::Signature, errors: &mut Errors) -> Vec<ParsedParam> {
    let mut out: Vec<ParsedParam> = Vec::new();
    for input in &sig.inputs {
        let pt = match input {
            syn::FnArg::Receiver(r) => {
                errors.at(
                    r,
                    "kernels are free functions: `self` is not a kernel parameter",
                );
                continue;
            }
            syn::FnArg::Typed(pt) => pt,
        };
        let Some(p) = parse_param(pt, errors) else {
            continue;
        };
        if out.iter().any(|q| q.ident == p.ident) {
            errors.at(
                &p.ident,
                format!("parameter `{}` is declared twice", p.ident),
            );
            continue;
        }
        out.push(p);
    }
    out
}

fn parse_param(pt: &syn::PatType, errors: &mut Errors) -> Option<ParsedParam> {
    let mut comptime: Option<Option<CtValueSpec>> = None;
    let mut ok = true;
    for attr in &pt.attrs {
        if attr.path().is_ident("comptime") {
            match parse_comptime_attr(attr) {
                Ok(spec) => comptime = Some(spec),
                Err(e) => {
                    errors.push(e);
                    ok = false;
                }
            }
        } else {
            errors.at(
                attr,
                "the only attribute on kernel parameters is `#[comptime]`",
            );
            ok = false;
        }
    }
    let (ident, mutability) = match &*pt.pat {
        syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
            (p.ident.clone(), p.mutability)
        }
        other => {
            errors.at(other, "kernel parameters must be plain names");
            return None;
        }
    };
    let ty = &*pt.ty;
    let kind = match comptime {
        Some(default) => {
            if pointer_parts(ty).is_some() {
                errors.at(
                    ty,
                    "`#[comptime]` cannot mark a pointer: pointers are runtime kernel arguments; \
                     comptime parameters are bool, u32, i32, u64, i64, usize, f32 or f64",
                );
                return None;
            }
            let Some(ct) = CtType::from_type(ty) else {
                errors.at(
                    ty,
                    format!(
                        "unsupported comptime parameter type `{}`: comptime parameters are \
                         bool, u32, i32, u64, i64, usize, f32 or f64",
                        code(ty)
                    ),
                );
                return None;
            };
            let default = match default {
                Some(spec) => match check_default(ct, &spec) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        errors.push(e);
                        return None;
                    }
                },
                None => None,
            };
            ParamKind::Comptime {
                ty: ct,
                rust_ty: Box::new(ty.clone()),
                default,
            }
        }
        None => match pointer_parts(ty) {
            Some((mutable, elem)) => {
                let Some(dtype) = elem.and_then(Dtype::from_type) else {
                    let what = elem.map(code);
                    errors.at(
                        elem.map(|e| e.to_token_stream())
                            .unwrap_or_else(|| ty.to_token_stream()),
                        match what {
                            Some(w) => format!(
                                "`{w}` is not an aqua dtype: pointers point to {DTYPE_LIST}"
                            ),
                            None => {
                                format!("write `Ptr<T>` or `PtrMut<T>` with T one of {DTYPE_LIST}")
                            }
                        },
                    );
                    return None;
                };
                ParamKind::Ptr { dtype, mutable }
            }
            None => match Dtype::from_type(ty) {
                Some(d) => ParamKind::Scalar(d),
                None => {
                    errors.at(
                        ty,
                        format!(
                            "unsupported kernel parameter type `{}`: runtime parameters are \
                             `Ptr<T>`, `PtrMut<T>` or a scalar ({DTYPE_LIST}); \
                             mark build-time parameters `#[comptime]`",
                            code(ty)
                        ),
                    );
                    return None;
                }
            },
        },
    };
    ok.then_some(ParsedParam {
        ident,
        mutability,
        kind,
    })
}

/// The literal given as `default = ...`, with its sign.
struct CtValueSpec {
    expr: syn::Expr,
}

/// `#[comptime]` or `#[comptime(default = VALUE)]`.
fn parse_comptime_attr(attr: &syn::Attribute) -> syn::Result<Option<CtValueSpec>> {
    match &attr.meta {
        syn::Meta::Path(_) => Ok(None),
        syn::Meta::NameValue(nv) => Err(syn::Error::new_spanned(
            nv,
            "write `#[comptime]` or `#[comptime(default = VALUE)]`",
        )),
        syn::Meta::List(_) => {
            let mut default = None;
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("default") {
                    let expr: syn::Expr = meta.value()?.parse()?;
                    default = Some(CtValueSpec { expr });
                    Ok(())
                } else {
                    Err(meta.error(format!(
                        "unsupported `#[comptime]` option `{}`: the only option is `default = VALUE`",
                        code(&meta.path)
                    )))
                }
            })?;
            Ok(default)
        }
    }
}

/// Checks a default against the parameter's type; the value must be a literal.
fn check_default(ty: CtType, spec: &CtValueSpec) -> syn::Result<CtValue> {
    let (negative, lit) = match &spec.expr {
        syn::Expr::Lit(l) => (false, &l.lit),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            syn::Expr::Lit(l) => (true, &l.lit),
            _ => {
                return Err(syn::Error::new_spanned(
                    &spec.expr,
                    "a comptime default must be a literal",
                ))
            }
        },
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "a comptime default must be a literal",
            ))
        }
    };
    let err = |m: String| syn::Error::new_spanned(&spec.expr, m);
    let name = CT_TYPES
        .iter()
        .find(|(_, t)| *t == ty)
        .map(|(n, _)| *n)
        .unwrap_or("?");
    match (ty, lit) {
        (CtType::Bool, syn::Lit::Bool(b)) if !negative => Ok(CtValue::Bool(b.value)),
        (CtType::Bool, _) => Err(err(
            "the default of a `bool` parameter is `true` or `false`".into(),
        )),
        (CtType::F32 | CtType::F64, syn::Lit::Float(f)) => {
            let v: f64 = f.base10_parse()?;
            Ok(CtValue::Float(if negative { -v } else { v }))
        }
        (CtType::F32 | CtType::F64, syn::Lit::Int(i)) => {
            let v: f64 = i.base10_parse::<u64>()? as f64;
            Ok(CtValue::Float(if negative { -v } else { v }))
        }
        (_, syn::Lit::Int(i)) => {
            let v: i128 = i.base10_parse::<u64>()? as i128;
            let v = if negative { -v } else { v };
            let (lo, hi) = ty.int_range().expect("integer comptime type");
            if v < lo || v > hi {
                return Err(err(format!("default {v} is out of range for `{name}`")));
            }
            Ok(CtValue::Int(v as i64))
        }
        _ => Err(err(format!(
            "the default of a `{name}` parameter must be an integer literal"
        ))),
    }
}
