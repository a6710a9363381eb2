//! What intrinsic and method calls require of their arguments: comptime shapes and axes,
//! aqua dtypes in turbofish.

use super::Pass;
use crate::error::code;
use crate::parse::ast::*;
use crate::parse::intrinsics::{self, COMPTIME_ARG_METHODS, DTYPE_METHODS};
use crate::parse::signature::{Dtype, DTYPE_LIST};

impl Pass<'_> {
    pub(super) fn check_intrinsic(
        &mut self,
        ident: &syn::Ident,
        generics: Option<&syn::AngleBracketedGenericArguments>,
        args: &[Expr],
        classes: &[Class],
    ) {
        let name = ident.to_string();
        let Some(intr) = intrinsics::lookup(&name) else {
            return;
        };
        for &i in intr.comptime_args {
            if classes.get(i).is_some_and(|c| c.is_runtime()) {
                self.errors.between(
                    args[i].span,
                    args[i].last,
                    format!(
                        "argument {} of `{name}` must be known while building (a comptime value): \
                         block shapes, axes and tables are fixed in the IR",
                        i + 1
                    ),
                );
            }
        }
        if intr.dtype_generic {
            if let Some(g) = generics {
                self.check_dtype_arg(g, &format!("`{name}::<T>`"));
            }
        }
    }

    pub(super) fn check_method(
        &mut self,
        method: &syn::Ident,
        turbofish: Option<&syn::AngleBracketedGenericArguments>,
        args: &[Expr],
    ) {
        let name = method.to_string();
        if COMPTIME_ARG_METHODS.contains(&name.as_str()) {
            for (i, a) in args.iter().enumerate() {
                if a.class.is_runtime() {
                    self.errors.between(
                        a.span,
                        a.last,
                        format!(
                            "argument {} of `.{name}()` must be known while building (a comptime \
                             value): block shapes and axes are fixed in the IR",
                            i + 1
                        ),
                    );
                }
            }
        }
        if DTYPE_METHODS.contains(&name.as_str()) {
            if let Some(g) = turbofish {
                self.check_dtype_arg(g, &format!("`.{name}::<T>()`"));
            }
        }
    }

    /// The first generic argument must name an aqua dtype.
    pub(super) fn check_dtype_arg(&mut self, g: &syn::AngleBracketedGenericArguments, what: &str) {
        match g.args.first() {
            Some(syn::GenericArgument::Type(t)) if Dtype::from_type(t).is_some() => {}
            Some(arg) => self.errors.at(
                arg,
                format!(
                    "`{}` is not an aqua dtype: {what} takes {DTYPE_LIST}",
                    code(arg)
                ),
            ),
            None => self
                .errors
                .at(g, format!("{what} needs a dtype: {DTYPE_LIST}")),
        }
    }
}
