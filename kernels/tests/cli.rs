//! The `aqua` binary end to end: list, compile (every --emit, -o, -o -, --timings), bad inputs
//! (exit code 2 and a message naming the problem), and the demo's table.

mod common;

use common::{aqua, aqua_ok, text};

#[test]
fn list_shows_every_kernel_with_defaults() {
    let cache = tempfile::tempdir().unwrap();
    let (out, _) = aqua_ok(&["list"], cache.path());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), aqua_kernels::registry().len(), "{out}");
    assert!(lines.contains(&"quantize_uniform bits group=64 block=1024"), "{out}");
    assert!(lines.contains(&"axpy block=1024"), "{out}");
    assert!(
        lines.contains(&"dequantize_uniform_f32 bits group=64 block=1024"),
        "{out}"
    );
}

#[test]
fn compile_emits_each_form() {
    let cache = tempfile::tempdir().unwrap();
    let base = [
        "compile",
        "quantize_uniform",
        "--target",
        "cpu",
        "--set",
        "bits=2,group=64",
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        aqua_ok(&args, cache.path())
    };
    let (ir, _) = run(&["--emit", "ir"]);
    assert!(ir.starts_with("kernel quantize_uniform("), "{ir}");
    assert!(
        ir.contains("bits = 2") && ir.contains("block = 1024") && ir.contains("group = 64"),
        "{ir}"
    );
    let (llvm, _) = run(&["--emit", "llvm"]);
    assert!(llvm.contains("define") && llvm.contains("aqua_entry"), "{llvm}");
    let (asm, _) = run(&["--emit", "asm"]);
    assert!(asm.contains("aqua_entry") && asm.contains("ret"), "{asm}");

    // `-o -` is stdout, not a file named `-` (cargo runs tests in the package folder).
    let (dash, _) = run(&["-o", "-"]);
    assert_eq!(dash, ir);
    assert!(!std::path::Path::new("-").exists(), "`-o -` wrote a file named `-`");

    let file = cache.path().join("out.ir");
    let (out, err) = run(&["-o", file.to_str().unwrap(), "--timings"]);
    assert!(out.is_empty(), "the IR went to the file: {out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ir);
    // Compiled above in another process: the disk cache serves it.
    assert!(err.contains("disk cache hit"), "{err}");
    for phase in ["build", "key", "disk lookup", "load", "total"] {
        assert!(err.contains(phase), "timings lack `{phase}`: {err}");
    }
}

#[test]
fn cold_compile_timings_show_llvm_phases() {
    let cache = tempfile::tempdir().unwrap();
    let (_, err) = aqua_ok(
        &["compile", "dequantize_uniform", "--set", "bits=3,group=32", "--timings"],
        cache.path(),
    );
    assert!(err.contains("compiled (cache miss)"), "{err}");
    for phase in ["build", "verify", "llvm optimize", "llvm general optimize", "link", "cache write"] {
        assert!(err.contains(phase), "timings lack `{phase}`: {err}");
    }
}

/// `--warps` spreads a GPU program over another CTA size. EDEN4-256 on a tile of 4 groups
/// of 64 (256 values) has four `xor_permute` stages, strides 32 to 4, along a group's row
/// (`higgs_math::orientation`): a group spans `64 / run` threads of `run` values each.
/// - 8 warps (1 value a thread): a group is 2 warps, stride 32 crosses them (shared
///   memory), 16 to 4 are shuffles;
/// - 4 and 2 warps (2 and 4 values a thread): all four are shuffles, once for each value
///   of the thread's run (an unrolled short loop);
/// - 1 warp (8 values): strides 32 to 8 are shuffles, stride 4 is inside the run (two
///   copies of the loop body, each with the three shuffles, in a loop over the other
///   four pairs).
///
/// The norm adds three on any CTA size (a group's sum split over 8 threads by lanes).
#[test]
fn compile_for_a_gpu_takes_the_cta_size() {
    let cache = tempfile::tempdir().unwrap();
    for (warps, shuffles) in [("1", 2 * 3 + 3), ("2", 4 * 4 + 3), ("4", 2 * 4 + 3), ("8", 3 + 3)] {
        let args = [
            "compile",
            "quantize_higgs",
            "--target",
            "sm_90",
            "--emit",
            "ptx",
            "--set",
            "dim=4,points=256,block=256",
            "--warps",
            warps,
        ];
        let (ptx, _) = aqua_ok(&args, cache.path());
        assert_eq!(ptx.matches("shfl.sync.bfly").count(), shuffles, "{warps} warps");
    }
}

/// `--emit sass` prints the GPU's machine code (ptxas, then nvdisasm), and `--stats` its
/// loops: EDEN2-16's cell search is one loop a tuple, two multiply-adds (a score) for
/// each of its 4 candidates.
#[test]
fn compile_for_a_gpu_emits_sass_and_counts_its_loops() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["compile", "quantize_higgs", "--set", "points=16", "--target", "sm_90", "--emit", "sass", "--stats"];
    let (sass, err) = aqua_ok(&args, cache.path());
    assert!(sass.contains("EXIT") && sass.contains("FFMA"), "{sass}");
    assert!(err.contains("SASS instructions"), "{err}");
    let search = err.lines().find(|l| l.contains("loop at") && l.contains("F2I 2"));
    assert!(search.is_some_and(|l| l.contains("FFMA 8")), "no loop with the cell index and 8 FFMA:\n{err}");
    // Without nvdisasm, or with something else in its place: a message, exit code 1.
    for (tool, message) in [("/nonexistent/nvdisasm", "nvdisasm not found"), ("/bin/false", "nvdisasm failed")] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_aqua"))
            .args(&args[..args.len() - 1])
            .env("AQUA_CACHE_DIR", cache.path())
            .env("AQUA_NVDISASM", tool)
            .output()
            .expect("run aqua");
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{tool}: {err}");
        assert!(err.contains(message) && !err.contains("panicked"), "{tool}: {err}");
    }
}

#[test]
fn bad_inputs_exit_2_with_a_message() {
    let cache = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 16] = [
        (&["compile", "nope"], "unknown kernel `nope`"),
        (
            &["compile", "quantize_uniform", "--set", "bits=2,colour=3"],
            "no comptime parameter `colour`",
        ),
        (
            &["compile", "quantize_uniform", "--set", "bits=two"],
            "`two` is not a valid u32",
        ),
        (&["compile", "quantize_uniform", "--set", "bits"], "expected name=value"),
        (&["compile", "quantize_uniform", "--set", "bits=9"], "bits = 9"),
        (
            &["compile", "quantize_uniform"],
            "`bits: u32` has no value and no default",
        ),
        (&["compile", "axpy", "--target", "cuda"], "invalid value 'cuda'"),
        (&["compile", "axpy", "--warps", "2"], "--warps applies to GPU targets"),
        (&["compile", "axpy", "--emit", "sass"], "--emit sass applies to GPU targets"),
        (&["compile", "axpy", "--target", "sm_90", "--warps", "3"], "--warps 3: a power of two from 1 to 32"),
        (&["tune", "--mib", "0"], "--mib 0: give a size from above 0"),
        (&["tune", "--backend", "tpu"], "invalid value 'tpu'"),
        (&["demo", "--methods", "higgs", "--bits", "8"], "no variant to run"),
        (&["demo", "--methods", "higgs", "--groups", "16"], "Hadamard group 16 is outside 32..=1024"),
        (&["demo", "--methods", "uniform", "--bits", "9"], "bit width 9"),
        (&["demo", "--methods", "uniform", "--bits", "2", "--tile", "100"], "--tile 100"),
    ];
    for (args, message) in cases {
        let o = aqua(args, cache.path());
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: expected `{message}` in: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn demo_prints_a_sane_row_per_variant() {
    let cache = tempfile::tempdir().unwrap();
    let (out, _) = aqua_ok(&["demo"], cache.path());
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() > 5 && ["uniform", "kivi", "higgs"].contains(&w[0]))
        .collect();
    assert_eq!(rows.len(), 8 + 8 + 6, "uniform and kivi at bits 2,3,4,8, higgs at 2,3,4, groups 64,128:\n{out}");
    // (method, bits, group) -> (K error, V error)
    let mut errors = std::collections::HashMap::new();
    for w in &rows {
        let (bits, group): (u32, f64) = (w[1].parse().unwrap(), w[2].parse().unwrap());
        let bpv: f64 = w[3].parse().unwrap();
        // The slice's tensors hold whole groups: exactly b + 32 / G bits per value with an
        // f16 scale and zero per group, b + 16 / G with HIGGS's scale alone.
        let params = if w[0] == "higgs" { 16.0 } else { 32.0 };
        assert!((bpv - (bits as f64 + params / group)).abs() < 1e-9, "{w:?}");
        let (ek, ev): (f64, f64) = (w[4].parse().unwrap(), w[5].parse().unwrap());
        // Relative squared error: below the signal even at 2 bits (keys have outlier
        // channels, so 2-bit uniform groups of 128 come close), tiny at 8 bits.
        assert!(ek > 0.0 && ek < 1.0 && ev > 0.0 && ev < 1.0, "{w:?}");
        if bits == 8 {
            assert!(ek < 1e-3 && ev < 1e-3, "{w:?}");
        }
        assert_eq!(*w.last().unwrap(), "yes", "kernels must match the reference: {w:?}");
        errors.insert((w[0], bits, w[2]), (ek, ev, w[5]));
    }
    for (&(method, bits, group), &(ek, ev, ev_text)) in &errors {
        // Each step of more bits cuts the error of every method and group.
        for fewer in (1..bits).rev() {
            if let Some(&(fk, fv, _)) = errors.get(&(method, fewer, group)) {
                assert!(ek < fk && ev < fv, "{method} group {group}: {bits} bits no better than {fewer}");
                break;
            }
        }
        let uniform = errors[&("uniform", bits, group)];
        match method {
            // KIVI quantizes values as uniform does, and keys per channel, which their
            // outlier channels favour.
            "kivi" => assert!(ev_text == uniform.2 && ek < uniform.0 / 2.0, "kivi {bits} bits group {group}"),
            // Rotated groups lose their outliers: HIGGS beats uniform at fewer bits per value.
            "higgs" => assert!(ek < uniform.0 && ev < uniform.1, "higgs {bits} bits group {group}"),
            _ => {}
        }
    }
}

/// `aqua tune`: every candidate is timed and the choice checked against the CPU; a second
/// run finds the stored choice; `--retune` measures again; the SIMT emulation tries CTA
/// sizes; without a GPU the CUDA backend says it skipped.
#[test]
fn tune_measures_stores_and_reloads() {
    let cache = tempfile::tempdir().unwrap();
    let args = ["tune", "--mib", "0.1", "--methods", "uniform,higgs", "--bits", "2", "--threads", "2"];
    let (out, _) = aqua_ok(&args, cache.path());
    assert_eq!(out.matches("candidates").count(), 2, "{out}");
    // Uniform has 4 tiles (512 to 4096), HIGGS 5 (256 to 4096): a line each per operation.
    assert_eq!(out.lines().filter(|l| l.trim_start().starts_with("quantize   tile")).count(), 9, "{out}");
    assert_eq!(out.matches("x the default's speed").count(), 4, "{out}");
    assert_eq!(out.matches("encoded 100.000% equal, values 100.000% equal").count(), 2, "{out}");
    assert_eq!(std::fs::read_dir(cache.path().join("autotune")).unwrap().count(), 4, "four stored choices");

    let (again, _) = aqua_ok(&args, cache.path());
    assert_eq!(again.matches("stored by an earlier run").count(), 4, "{again}");
    assert!(!again.contains(" us "), "nothing measured: {again}");
    let (retuned, _) = aqua_ok(&[&args[..], &["--retune"]].concat(), cache.path());
    assert_eq!(retuned.matches("x the default's speed").count(), 4, "{retuned}");

    let simt = ["tune", "--backend", "simt", "--mib", "0.01", "--methods", "kivi", "--bits", "2", "--check-all"];
    let (out, _) = aqua_ok(&simt, cache.path());
    // 192 channels: tiles of 32 and 64 channels, each on 1, 2, 4 and 8 warps.
    assert!(out.contains("8 candidates") && out.contains("tile 32, 1 warp ") && out.contains("tile 64, 8 warps"), "{out}");
    assert!(out.contains("every candidate's kernels equal the CPU's (8 candidates)"), "{out}");

    // `--json`: the same, as one object (here stored choices: nothing measured).
    let (json, _) = aqua_ok(&[&args[..], &["--json", "--check-all"]].concat(), cache.path());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let variants = v["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2, "{json}");
    for variant in variants {
        assert_eq!(variant["values_equal_percent"], 100.0, "{json}");
        assert_eq!(variant["candidates_differing_from_cpu"], serde_json::json!([]), "{json}");
        for op in ["quantize", "dequantize"] {
            assert_eq!(variant[op]["source"], "disk", "{json}");
            assert!(variant[op]["chosen"]["tile"].as_u64().is_some_and(|t| (256..=4096).contains(&t)), "{json}");
        }
    }
    let (json, _) = aqua_ok(&["tune", "--mib", "0.1", "--methods", "kivi", "--bits", "3", "--json"], cache.path());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let quantize = &v["variants"][0]["quantize"];
    assert_eq!(quantize["source"], "measured", "{json}");
    let trials = quantize["trials"].as_array().unwrap();
    // 192 channels: tiles of 32 and 64 channels (the default first). The default goes on
    // to the final pass whenever another candidate does (it is what they are compared
    // with); alone, when the other's first pass was beyond the cutoff, it needs none.
    assert_eq!(trials.len(), 2, "{json}");
    assert_eq!(trials[0]["config"]["tile"], 64, "{json}");
    let finals: Vec<bool> = trials.iter().map(|t| t["final_pass_us"].as_f64().is_some_and(|t| t > 0.0)).collect();
    assert!(finals[0] || !finals[1], "{json}");

    let o = aqua(&["tune", "--backend", "cuda", "--mib", "1", "--methods", "uniform", "--bits", "2"], cache.path());
    let (out, err) = text(&o);
    if o.status.success() && out.starts_with("skipped: aqua tune --backend cuda: no CUDA device") {
        println!("no GPU here: `aqua tune --backend cuda` skipped, as it should");
    } else {
        assert!(out.contains("candidates"), "{out}{err}");
    }
}
