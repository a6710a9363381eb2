//! Tests of the reference interpreter, one module per op family (in `tests/interp/`).
//! Kernels are built with the builder API and run on small inputs; expected values are
//! written by hand or computed by plain Rust next to them.

mod interp {
    pub mod harness;

    mod arith;
    mod casts;
    mod control;
    mod errors;
    mod memory;
    mod reduce;
    mod shapes;
}
