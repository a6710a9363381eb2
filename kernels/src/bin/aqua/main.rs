//! `aqua`: list, compile, demonstrate and benchmark aqua kernels. One module per command.

mod agreement;
mod bench;
mod bench_gpu;
mod bench_quant;
mod calibrate;
mod compile;
mod demo;
mod error;
mod grid;
mod list;
mod methods;
mod predict_eval;
mod predictors;
mod quant_eval;
mod slice_kv;
mod timing;
mod tune;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aqua",
    version,
    about = "aqua: compile, run, benchmark and tune the AQUA-KV quantizer kernels on the CPU or a CUDA GPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the kernels and their comptime parameters (with defaults).
    List,
    /// Specialize and compile a kernel; print its IR, LLVM IR or assembly.
    Compile(compile::Args),
    /// Run the quantizers (uniform, KIVI, HIGGS) on the bundled real KV slice, checked against their references.
    Demo(demo::Args),
    /// Measure compile, cache, launch and throughput costs.
    Bench(bench::Args),
    /// Cut a small KV slice out of the full KV dump (how the bundled slice was made).
    SliceKv(slice_kv::Args),
    /// Quantize and dequantize a KV file with the kernels (or AQUA-KV's predictor chain); print errors and bits per value.
    QuantEval(quant_eval::Args),
    /// Fit AQUA-KV's layer-to-layer predictors on a KV file and write them as a predictors file.
    Calibrate(calibrate::Args),
    /// Generate a Gaussian-optimal grid by CLVQ and write it as JSON.
    Grid(grid::Args),
    /// Autotune the quantizers' tiles (and GPU CTA sizes) on this machine; store the choices.
    Tune(tune::Args),
}

fn main() -> ExitCode {
    // Like other Unix filters, end quietly when the reader of our output goes away
    // (`aqua quant-eval ... | head`) instead of panicking on the broken pipe.
    // SAFETY: setting a signal's disposition to its default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::List => {
            list::run();
            Ok(())
        }
        Command::Compile(a) => compile::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Bench(a) => bench::run(a),
        Command::SliceKv(a) => slice_kv::run(a),
        Command::QuantEval(a) => quant_eval::run(a),
        Command::Calibrate(a) => calibrate::run(a),
        Command::Grid(a) => grid::run(a),
        Command::Tune(a) => tune::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code)
        }
    }
}
