//! `aqua compile`: specialize a kernel on `--set` values (defaults fill the rest), compile
//! it through the runtime (so the caches are used and filled), and print the chosen form:
//! canonical IR, LLVM IR, assembly, or on GPU targets SASS. `--timings` prints the
//! runtime's compile report (each phase, and which cache level served it) on stderr.

use std::path::{Path, PathBuf};

use aqua_dsl::codegen::nvdisasm::{self, Nvdisasm};
use aqua_dsl::codegen::{self, CodegenOptions, Target as CodegenTarget};
use aqua_dsl::{KernelSource, Params};
use aqua_runtime::{Input, Runtime};

use crate::error::CliError;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Target {
    /// The host CPU (native code through LLVM).
    Cpu,
    /// NVIDIA A100 (PTX through LLVM's NVPTX target).
    #[value(name = "sm_80")]
    Sm80,
    /// NVIDIA H100/H200.
    #[value(name = "sm_90")]
    Sm90,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Emit {
    /// The canonical IR text (the cache key's core).
    Ir,
    /// LLVM IR after optimization.
    Llvm,
    /// Target assembly.
    Asm,
    /// PTX (GPU targets; the same as `asm` there).
    Ptx,
    /// SASS, the GPU's machine code: the PTX assembled by ptxas and disassembled by
    /// nvdisasm (GPU targets; `scripts/setup.sh` installs both). `--stats` adds its
    /// instruction counts, loop by loop.
    Sass,
}

#[derive(clap::Args)]
pub struct Args {
    /// Kernel name (see `aqua list`).
    kernel: String,
    #[arg(long, value_enum, default_value = "cpu")]
    target: Target,
    /// Comptime values, `name=value,...`; parameters not given take their defaults.
    #[arg(long, value_delimiter = ',')]
    set: Vec<String>,
    #[arg(long, value_enum, default_value = "ir")]
    emit: Emit,
    /// Write the output here instead of stdout (`-` is stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print each compile phase's time and the cache outcome (stderr).
    #[arg(long)]
    timings: bool,
    /// GPU targets: assemble with ptxas and print its registers, spills and shared memory
    /// (stderr).
    #[arg(long)]
    stats: bool,
    /// GPU targets: warps per CTA, a power of two from 1 to 32 (default 4): how the
    /// program's blocks are spread over threads.
    #[arg(long)]
    warps: Option<u32>,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let source = find_kernel(&args.kernel)?;
    let params = parse_sets(source, &args.set)?;
    // Building first separates mistakes in the request (exit code 2) from compile failures.
    let kernel = source.build(&params).map_err(|e| CliError::usage(e.to_string()))?;
    let sm = match args.target {
        Target::Cpu => None,
        Target::Sm80 => Some(80),
        Target::Sm90 => Some(90),
    };
    let warps = match (sm, args.warps) {
        (None, Some(_)) => return Err(CliError::usage("--warps applies to GPU targets (sm_80, sm_90)")),
        (_, Some(w)) if !(1..=32).contains(&w) || !w.is_power_of_two() => {
            return Err(CliError::usage(format!("--warps {w}: a power of two from 1 to 32")));
        }
        (_, w) => w.unwrap_or(4),
    };
    match sm {
        Some(sm) => return compile_ptx(args, &kernel, sm, warps),
        None if matches!(args.emit, Emit::Sass) => {
            return Err(CliError::usage("--emit sass applies to GPU targets (sm_80, sm_90)"))
        }
        None => {}
    }
    let rt = Runtime::cpu();
    let (_, report) = rt
        .compile_with_report(Input::Source(source, &params), rt.mode())
        .map_err(|e| CliError::failed(e.to_string()))?;
    let text = match args.emit {
        Emit::Ir => kernel.to_string(),
        Emit::Llvm | Emit::Asm | Emit::Ptx | Emit::Sass => {
            let options = CodegenOptions {
                target: CodegenTarget::HostCpu,
                opt_level: 3,
                checked: rt.mode().is_checked(),
                emit_text: true,
            };
            let artifact = codegen::compile(&kernel, &options)
                .map_err(|e| CliError::failed(format!("kernel `{}`: code generation failed: {e}", kernel.name)))?;
            if matches!(args.emit, Emit::Llvm) {
                artifact.llvm_ir
            } else {
                artifact.asm
            }
        }
    };
    write_output(args.output.as_deref(), &text)?;
    if args.timings {
        eprintln!("{report}");
    }
    Ok(())
}

/// `aqua compile --target sm_80|sm_90`: PTX (the object itself, so LLVM IR text is only
/// produced when asked for), or its SASS; `--timings` as the code generator's stages plus
/// ptxas's when `--stats` or SASS runs it (started with the compile, so the ptxas stage is
/// the time after the PTX is ready, as in the runtime).
fn compile_ptx(args: &Args, kernel: &aqua_dsl::Kernel, sm: u32, num_warps: u32) -> Result<(), CliError> {
    let sass = matches!(args.emit, Emit::Sass);
    let ptxas = match args.stats || sass {
        true => Some(codegen::ptxas::Ptxas::find().ok_or_else(|| {
            CliError::failed("--stats and --emit sass need ptxas: run scripts/setup.sh or set AQUA_PTXAS")
        })?),
        false => None,
    };
    let nvdisasm = match sass {
        true => Some(Nvdisasm::require().map_err(CliError::failed)?),
        false => None,
    };
    let pending = ptxas.as_ref().map(|p| p.start(sm)).transpose().map_err(|e| CliError::failed(e.to_string()))?;
    let options = CodegenOptions {
        target: CodegenTarget::Nvptx { sm, num_warps },
        emit_text: matches!(args.emit, Emit::Llvm),
        ..Default::default()
    };
    let a = codegen::compile(kernel, &options).map_err(|e| CliError::failed(e.to_string()))?;
    let ptx = String::from_utf8_lossy(&a.object).into_owned();
    let mut stages: Vec<(String, std::time::Duration)> =
        a.timings.iter().map(|&(name, d)| (format!("llvm {name}"), d)).collect();
    let cubin = match (&ptxas, pending) {
        (Some(ptxas), Some(pending)) => {
            let start = std::time::Instant::now();
            let cubin = pending.finish(&ptx).map_err(|e| CliError::failed(e.to_string()))?;
            stages.push(("ptxas".into(), start.elapsed()));
            if args.stats {
                let flags = ptxas.opt_flags().join(" ");
                let how = if flags.is_empty() { "ptxas -O3".to_string() } else { format!("ptxas {flags}") };
                let threads = a.block_threads;
                eprintln!(
                    "sm_{sm} ({how}): {}, {} B dynamic shared, {threads} threads per CTA",
                    cubin.stats, a.shared_bytes
                );
            }
            Some(cubin)
        }
        _ => None,
    };
    let text = match (args.emit, &nvdisasm, &cubin) {
        (Emit::Ir, ..) => kernel.to_string(),
        (Emit::Llvm, ..) => a.llvm_ir.clone(),
        (Emit::Asm | Emit::Ptx, ..) => ptx,
        (Emit::Sass, Some(nvdisasm), Some(cubin)) => {
            let start = std::time::Instant::now();
            let text = nvdisasm.disassemble(&cubin.bytes).map_err(|e| CliError::failed(e.to_string()))?;
            stages.push(("nvdisasm".into(), start.elapsed()));
            if args.stats {
                eprintln!("{}", nvdisasm::summarize(&text));
            }
            text
        }
        (Emit::Sass, ..) => unreachable!("--emit sass finds ptxas and nvdisasm first"),
    };
    write_output(args.output.as_deref(), &text)?;
    if args.timings {
        eprintln!("kernel `{}` (sm_{sm}): compiled", kernel.name);
        for (name, d) in &stages {
            eprintln!("  {name:<22} {:>10.3} ms", d.as_secs_f64() * 1e3);
        }
        let total: std::time::Duration = stages.iter().map(|s| s.1).sum();
        eprintln!("  {:<22} {:>10.3} ms", "total", total.as_secs_f64() * 1e3);
    }
    Ok(())
}

/// The registered kernel called `name`.
pub fn find_kernel(name: &str) -> Result<&'static dyn KernelSource, CliError> {
    let all = aqua_kernels::registry();
    all.iter().copied().find(|k| k.name() == name).ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|k| k.name()).collect();
        CliError::usage(format!("unknown kernel `{name}` (known: {})", known.join(", ")))
    })
}

/// `--set bits=2,group=64` as typed comptime values; unknown names and bad values are
/// usage errors that say what is accepted.
pub fn parse_sets(source: &dyn KernelSource, sets: &[String]) -> Result<Params, CliError> {
    let decls = source.comptime_params();
    let mut params = Params::new();
    for set in sets.iter().filter(|s| !s.is_empty()) {
        let (name, value) = set
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--set `{set}`: expected name=value")))?;
        let (name, value) = (name.trim(), value.trim());
        let decl = decls.iter().find(|d| d.name == name).ok_or_else(|| {
            let known: Vec<String> = decls.iter().map(|d| format!("{}: {}", d.name, d.ty.name())).collect();
            CliError::usage(format!(
                "kernel `{}` has no comptime parameter `{name}` (it has: {})",
                source.name(),
                known.join(", ")
            ))
        })?;
        let v = decl
            .ty
            .parse(value)
            .map_err(|m| CliError::usage(format!("--set {name}={value}: {m}")))?;
        params.set(name, v);
    }
    Ok(params)
}

/// `text` to the file at `path`, or to stdout when there is none or it is `-`.
fn write_output(path: Option<&Path>, text: &str) -> Result<(), CliError> {
    match path.filter(|p| p.as_os_str() != "-") {
        Some(path) => std::fs::write(path, text).map_err(|e| CliError::io(path, e)),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
