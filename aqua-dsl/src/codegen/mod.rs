//! Code generation: IR -> LLVM IR -> target machine code. (Being built.)

pub mod abi;
