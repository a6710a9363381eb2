//! Stamping out a kernel's dtype variants from one signature. A parameter's dtype is part
//! of a kernel's signature, so the f16, bf16 and f32 forms of a quantizer are three
//! `#[kernel]`s; [`dtype_variants!`] writes them from one parameter list and one body.

/// One `#[kernel]` per `name(dtype)`, each with its doc comment, all with the parameter
/// list written once: the parameters before the one whose element type varies, that one
/// as `name: Ptr<_>` or `name: PtrMut<_>`, then the rest. The body (one call to a shared
/// builder function) is written once too, so every variant's ops are located there.
///
/// ```text
/// dtype_variants! {
///     /// Doc of the f16 form.
///     quantize_x(f16),
///     /// Doc of the bf16 form.
///     quantize_x_bf16(bf16);
///     () x: Ptr<_> (out: PtrMut<u32>, n: i32, #[comptime] bits: u32)
///     { quantize_body(x, out, n, bits); }
/// }
/// ```
macro_rules! dtype_variants {
    (
        $( $(#$doc:tt)* $name:ident($dtype:ident) ),+ ;
        $before:tt $varying:ident : $ptr:ident<_> $after:tt $body:tt
    ) => {
        $(
            $crate::kernels::variants::dtype_variants!(
                @one $(#$doc)* $name $dtype $before $varying $ptr $after $body
            );
        )+
    };
    (
        @one $(#$doc:tt)* $name:ident $dtype:ident
        ($($before:tt)*) $varying:ident $ptr:ident ($($after:tt)*) $body:tt
    ) => {
        $(#$doc)*
        #[::aqua_macros::kernel]
        pub fn $name($($before)* $varying: $ptr<$dtype>, $($after)*) $body
    };
}

pub(crate) use dtype_variants;
