//! Every kernel variant the suite generates for the CPU is also compiled to PTX for
//! `sm_80` and `sm_90` and assembled with `ptxas`; any ptxas error fails the test, and so
//! does a missing `ptxas` (`scripts/setup.sh` installs it).
//!
//! Covered: the kernels of `aqua_kernels::registry()` at several comptime settings, a
//! sample of random programs (`tests/src/random_program.rs`), and kernels with the
//! shapes that move data between threads (reductions along both axes, transposes,
//! reshapes, `dot`, loops carrying blocks, branches).

use aqua_dsl::codegen::ptxas::{Ptxas, PtxasStats};
use aqua_dsl::codegen::{compile, CodegenOptions, Target, SUPPORTED_SM};
use aqua_dsl::{ComptimeValue, Kernel, KernelSource, Params};
use aqua_tests::random_program::generate;

fn ptxas() -> Ptxas {
    Ptxas::require().unwrap_or_else(|e| panic!("{e}"))
}

/// Compiles `kernel` for every supported architecture and assembles it; returns the
/// `sm_90` stats and the dynamic shared memory.
fn assemble(ptxas: &Ptxas, kernel: &Kernel, num_warps: u32) -> Result<(PtxasStats, u64), String> {
    let mut stats = PtxasStats::default();
    let mut shared = 0;
    for sm in SUPPORTED_SM {
        let opts = CodegenOptions { target: Target::Nvptx { sm, num_warps }, ..Default::default() };
        let art = compile(kernel, &opts).map_err(|e| format!("sm_{sm}: {e}"))?;
        let ptx = String::from_utf8(art.object).map_err(|e| e.to_string())?;
        let cubin = ptxas.assemble(&ptx, sm).map_err(|e| format!("kernel `{}`: {e}\n{ptx}", kernel.name))?;
        if cubin.bytes.is_empty() {
            return Err(format!("kernel `{}`: ptxas wrote an empty cubin for sm_{sm}", kernel.name));
        }
        stats = cubin.stats;
        shared = art.shared_bytes;
    }
    Ok((stats, shared))
}

/// Comptime settings to try for a kernel: every `block` with the first choice of each
/// other known parameter, and every choice of each at the default block. Parameters
/// without a listed choice take their default.
fn settings(source: &dyn KernelSource) -> Vec<Params> {
    const CHOICES: [(&str, &[u32]); 4] =
        [("block", &[1024, 256, 4096]), ("bits", &[2, 4, 8]), ("points", &[16, 64, 256]), ("group", &[64, 128])];
    let names: Vec<&str> = source.comptime_params().iter().map(|p| p.name).collect();
    let known: Vec<(&str, &[u32])> = CHOICES.into_iter().filter(|(n, _)| names.contains(n)).collect();
    let base = |p: Params| known.iter().fold(p, |p, (n, c)| if p.get(n).is_some() { p } else { p.with(n, c[0]) });
    let mut out = vec![base(Params::new())];
    for (name, choices) in &known {
        for &c in &choices[1..] {
            out.push(base(Params::new().with(name, c)));
        }
    }
    out
}

#[test]
fn registry_kernels_assemble_for_sm80_and_sm90() {
    let ptxas = ptxas();
    let mut variants = 0;
    for source in aqua_kernels::registry() {
        let mut built = 0;
        let mut first_error = None;
        for params in settings(*source) {
            // Some combinations are invalid for a kernel (a group larger than its block);
            // the kernel must build at some settings (checked below).
            let kernel = match source.build(&params) {
                Ok(k) => k,
                Err(e) => {
                    first_error.get_or_insert(format!("{params}: {e}"));
                    continue;
                }
            };
            built += 1;
            let block = match params.get("block") {
                Some(ComptimeValue::Int(b)) => b,
                _ => 0,
            };
            for num_warps in if block >= 4096 { &[4, 8][..] } else { &[4][..] } {
                let (stats, shared) = assemble(&ptxas, &kernel, *num_warps).unwrap_or_else(|e| panic!("{e}"));
                // The bar: no spills in these kernels at blocks up to 4096, and
                // shared memory an A100 can give one CTA (163 KiB; an H100 has 227).
                assert_eq!(stats.spill_store_bytes, 0, "{} {params}: spills", source.name());
                assert!(shared <= 163 << 10, "{} {params}: {shared} B of shared memory", source.name());
                println!(
                    "{} {params} warps {num_warps}: {} registers, {} B spilled, {} B dynamic shared",
                    source.name(),
                    stats.registers,
                    stats.spill_store_bytes,
                    shared
                );
                variants += 1;
            }
        }
        assert!(built > 0, "kernel `{}` built at no setting: {}", source.name(), first_error.unwrap_or_default());
    }
    assert!(variants >= 3 * aqua_kernels::registry().len(), "only {variants} registry variants assembled");
}

/// Addressed by runs (`llvm/runs.rs` in aqua-dsl), every quantizer reads its values and
/// every dequantizer writes them 16 bytes a thread, at every dtype and layout: the
/// tokens layout's row stride is a runtime value, a multiple of 32 as the kernel spells it.
#[test]
fn quantizers_move_their_values_16_bytes_a_thread() {
    let mut checked = 0;
    for source in aqua_kernels::registry() {
        let (name, reads) = match source.name() {
            n if n.starts_with("quantize_") => (n, true),
            n if n.starts_with("dequantize_") => (n, false),
            _ => continue,
        };
        let params = settings(*source).remove(0);
        let kernel = source.build(&params).unwrap_or_else(|e| panic!("{name} {params}: {e}"));
        let opts = CodegenOptions { target: Target::nvptx(90), ..Default::default() };
        let ptx = String::from_utf8(compile(&kernel, &opts).unwrap_or_else(|e| panic!("{name}: {e}")).object).unwrap();
        // 16 bytes: four 32-bit lanes (`ld.global.nc.v4.u32` from a read-only buffer).
        let op = if reads { "ld.global." } else { "st.global." };
        let wide = |l: &str| l.contains(op) && [".v4.b32", ".v4.u32", ".v4.f32"].iter().any(|w| l.contains(w));
        assert!(ptx.lines().any(wide), "{name} {params}: no 16-byte {op}\n{ptx}");
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} quantizers");
}

/// The uniform quantizers pack each word's codes with a reduction over a line of 16,
/// whose loop a GPU unrolls whole (`GPU_UNROLLED_LINE` in aqua-dsl's `reduce/mod.rs`):
/// every code's shift is then a constant, which ptxas folds into the add. A shift by a
/// register is a loop left standing. (At the GPU's tile, where a thread packs whole
/// words; in smaller tiles two threads share a word and the shift depends on which.)
#[test]
fn code_words_are_packed_by_constant_shifts() {
    use aqua_kernels::host::uniform::DEFAULT_GPU_BLOCK;
    for (name, block) in [("quantize_uniform", Some(DEFAULT_GPU_BLOCK)), ("quantize_uniform_tokens", None)] {
        let source = aqua_kernels::registry().iter().find(|s| s.name() == name).expect("a registry kernel");
        for bits in [2, 4] {
            let params = Params::new().with("bits", bits);
            let params = match block {
                Some(b) => params.with("block", b),
                None => params,
            };
            let kernel = source.build(&params).unwrap_or_else(|e| panic!("{name} {params}: {e}"));
            let opts = CodegenOptions { target: Target::nvptx(90), ..Default::default() };
            let ptx =
                String::from_utf8(compile(&kernel, &opts).unwrap_or_else(|e| panic!("{name}: {e}")).object).unwrap();
            let by_register = |l: &&str| {
                let l = l.trim();
                l.starts_with("shl.b32") && l.trim_end_matches(';').rsplit(", ").next().is_some_and(|a| a.starts_with('%'))
            };
            let shifts: Vec<&str> = ptx.lines().filter(by_register).collect();
            assert!(shifts.is_empty(), "{name} {params}: shifts by a register {shifts:?}");
        }
    }
}

/// A GPU's float max and min reductions join with `max.f32` / `min.f32` (one instruction a
/// value) instead of an ordered compare and a select (two): the state is never NaN, so
/// maxNum equals the select but for a zero's sign (`reduce/state.rs`). The uniform
/// quantizer's range is one such pair over every value.
#[test]
fn float_max_and_min_reductions_take_one_instruction() {
    use aqua_kernels::host::uniform::DEFAULT_GPU_BLOCK;
    let source = aqua_kernels::registry().iter().find(|s| s.name() == "quantize_uniform").expect("a registry kernel");
    let params = Params::new().with("bits", 2).with("block", DEFAULT_GPU_BLOCK);
    let kernel = source.build(&params).unwrap();
    let opts = CodegenOptions { target: Target::nvptx(90), ..Default::default() };
    let ptx = String::from_utf8(compile(&kernel, &opts).unwrap().object).unwrap();
    let count = |op: &str| ptx.lines().filter(|l| l.trim_start().starts_with(op)).count();
    // One ordered compare is the step's with 2^-25 (`0f33000000`), whether the f16 scale
    // is 0 (`uniform_math.rs`), not a reduction's.
    let step_test =
        ptx.lines().filter(|l| l.trim_start().starts_with("setp.gt.f32") && l.contains("0f33000000")).count();
    let ordered = count("setp.lt.f32") + count("setp.gt.f32") - step_test;
    assert_eq!(ordered, 0, "ordered compares in the range's reductions\n{ptx}");
    // The range's loop has 4 values a trip (an `ld.shared.v4`), each into both states.
    assert!(count("min.f32") >= 4 && count("max.f32") >= 4, "{ptx}");
}

#[test]
fn random_programs_assemble_for_sm80_and_sm90() {
    let ptxas = ptxas();
    // A fixed sample of the differential suite's programs (each costs two compiles and
    // two ptxas runs, about 100 ms on 2 cores).
    for seed in (0..1000).step_by(10) {
        let p = generate(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assemble(&ptxas, &p.kernel, 4).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", p.kernel));
    }
}
