//! Gathers from small constant tables against the reference interpreter on the CPU. On
//! hosts with AVX-512 a table of at most 256 32-bit elements read through a buffered
//! 32-bit index block is looked up in registers (`vpermps` up to 16, `vpermi2ps` up to 32,
//! two of them and a select up to 64, up to eight and a tree of selects up to 256;
//! `table_lookup.rs` in aqua-dsl); elsewhere, and for longer tables, it is a load per
//! element. Both must clamp indices into the table as the interpreter does, so the
//! indices here run from -9 to 280 (negative, inside, past the end). A host without AVX-512 runs the same comparisons
//! and says that the register path was not compiled.

use aqua_dsl::build::*;
use aqua_dsl::codegen::{compile, CodegenOptions};
use aqua_dsl::ir::{DType, Param, ParamKind};
use aqua_dsl::Kernel;
use aqua_runtime::{LaunchMode, Runtime, RuntimeOptions};
use aqua_tests::reductions::{encode, run_both};

/// Elements per program (a 16 x 16 block whose transpose is the index buffer).
const N: u32 = 256;
const PROGRAMS: u32 = 2;

fn ptr(name: &str, dtype: DType, mutable: bool) -> Param {
    Param { name: name.into(), kind: ParamKind::Ptr { dtype, mutable } }
}

/// Two tables of `len` elements of `table` read at the transposed index block (a buffer);
/// each lookup is used twice (a sum and a difference), so the lookups fill buffers.
fn lookup_kernel(table: DType, index: DType, len: usize) -> Kernel {
    lookup_kernel_with(table, index, len, "", |x| x.reshape([16, 16]).trans().reshape([N]))
}

/// [`lookup_kernel`] with the indices `indices(x)` of the loaded block `x`, under a name
/// that ends with `suffix`.
fn lookup_kernel_with(table: DType, index: DType, len: usize, suffix: &str, indices: fn(Value) -> Value) -> Kernel {
    let name = format!("lookup_{table}_by_{index}_{len}{suffix}");
    let params = vec![ptr("i", index, false), ptr("sum", table, true), ptr("diff", table, true)];
    let a_data: Vec<f64> = (0..len).map(|k| k as f64 * 3.0 - 7.0).collect();
    let b_data: Vec<f64> = (0..len).map(|k| (k * k % 11) as f64 + 0.5).collect();
    build_kernel(&name, params, |a| {
        let (ta, tb) = match table {
            DType::F32 => (const_table::<f32, f64>(&a_data), const_table::<f32, f64>(&b_data)),
            DType::I32 => (const_table::<i32, f64>(&a_data), const_table::<i32, f64>(&b_data)),
            _ => (const_table::<u32, f64>(&b_data), const_table::<u32, f64>(&b_data)),
        };
        let offs = program_id(0) * N + arange(N);
        let i = indices(load(a[0] + offs));
        let (x, y) = (ta.gather(i), tb.gather(i));
        store(a[1] + offs, x + y);
        store(a[2] + offs, x - y);
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[test]
fn small_table_lookups_match_the_interpreter() {
    let rt = Runtime::cpu_with(RuntimeOptions { cache_dir: None, mode: LaunchMode::Checked, ..Default::default() });
    let mut failures = Vec::new();
    let mut in_registers = 0;
    for table in [DType::F32, DType::I32, DType::U32] {
        for index in [DType::I32, DType::U32] {
            for len in [1, 5, 16, 17, 32, 33, 64, 65, 100, 128, 200, 256, 257] {
                let k = lookup_kernel(table, index, len);
                let ir = compile(&k, &CodegenOptions { emit_text: true, ..Default::default() }).unwrap().llvm_ir;
                let permuted = ir.contains("@llvm.x86.avx512.permvar") || ir.contains("@llvm.x86.avx512.vpermi2var");
                // The register path exactly where it applies and the host has it (LLVM
                // folds the lookup of a one-element table away).
                if permuted != (avx512() && (2..=256).contains(&len)) {
                    failures.push(format!("{}: register lookup {permuted}", k.name));
                }
                in_registers += usize::from(permuted);
                let mut x = Vec::new();
                for e in 0..PROGRAMS * N {
                    let v = (e * 37 % 290) as i64 - 9;
                    let v = if index == DType::U32 && v < 0 { u32::MAX as i64 + 1 + v } else { v };
                    encode(index, v as f64, &mut x);
                }
                let n = (PROGRAMS * N) as usize;
                let (want, got) = run_both(&rt, &k, PROGRAMS, index, &x, &[(table, n), (table, n)]);
                if want != got {
                    failures.push(format!("{}: the CPU differs from the interpreter", k.name));
                }
            }
        }
    }
    if !avx512() {
        println!("skipped: register lookups (the host has no AVX-512); loads per element were compared");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(!avx512() || in_registers == 66, "{in_registers} kernels looked up in registers");
}

/// Indices computed from the loaded block by a shift and a mask (as the HIGGS search takes
/// a candidate's index out of a packed word) get a buffer of their own so that the lookups
/// are made in registers: computed in each lookup's loop, they made every lookup a load
/// per element.
#[test]
fn computed_indices_get_a_buffer_for_register_lookups() {
    let rt = Runtime::cpu_with(RuntimeOptions { cache_dir: None, mode: LaunchMode::Checked, ..Default::default() });
    for index in [DType::I32, DType::U32] {
        let k = lookup_kernel_with(DType::F32, index, 64, "_computed", |x| (x >> 1) & 63);
        let ir = compile(&k, &CodegenOptions { emit_text: true, ..Default::default() }).unwrap().llvm_ir;
        let permuted = ir.contains("@llvm.x86.avx512.vpermi2var");
        assert_eq!(permuted, avx512(), "{}: register lookup {permuted}:\n{ir}", k.name);
        let mut x = Vec::new();
        for e in 0..PROGRAMS * N {
            encode(index, (e * 37 % 300) as f64, &mut x);
        }
        let n = (PROGRAMS * N) as usize;
        let (want, got) = run_both(&rt, &k, PROGRAMS, index, &x, &[(DType::F32, n), (DType::F32, n)]);
        assert!(want == got, "{}: the CPU differs from the interpreter", k.name);
    }
    if !avx512() {
        println!("skipped: register lookups (the host has no AVX-512); loads per element were compared");
    }
}
