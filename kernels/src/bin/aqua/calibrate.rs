//! `aqua calibrate`: fits AQUA-KV's predictors on a KV file and writes them as a
//! predictors file (`aqua_kernels::predict::file`), for `aqua quant-eval --predictors` and
//! any program that reads them. The maps are fitted layer by layer, in order, on the
//! reconstructions the kernels of the chosen quantizer make, so the file records that
//! quantizer, and readers check it.

use std::path::PathBuf;

use aqua_kernels::data::cut::sha256_hex;
use aqua_kernels::predict::quantizers::KernelQuantizer;
use aqua_kernels::predict::{LayerValues, Predictors};
use aqua_kernels::quant::relative_error;
use aqua_runtime::Runtime;

use crate::error::CliError;
use crate::methods::{MethodName, Variant};
use crate::predictors::{calibration_info, chain_methods, warn_if_too_few, write_atomically};
use crate::quant_eval::{describe_pair, read_kv};

#[derive(clap::Args)]
pub struct Args {
    /// safetensors file with `layers.{i}.k` and `layers.{i}.v`, [tokens, channels], f16 or f32.
    #[arg(long)]
    kv: PathBuf,
    /// The quantizer the residuals will be stored with.
    #[arg(long, value_enum)]
    method: MethodName,
    /// Bits per code (uniform, kivi: 1 to 8); bits per value of the grid (higgs: 2, 3, 4).
    #[arg(long)]
    bits: u32,
    /// Group size (uniform, kivi: 16 to 256); Hadamard group (higgs: 32 to 1024).
    #[arg(long, default_value_t = 64)]
    group: usize,
    /// Grid dimension for higgs (2, or 4 with --bits 2).
    #[arg(long, default_value_t = 2)]
    dim: usize,
    /// Fit on the first N tokens (default: every token).
    #[arg(long)]
    tokens: Option<usize>,
    /// The predictors file to write (safetensors).
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let (layers, bytes) = read_kv(&args.kv)?;
    let (all, channels) = (layers[0].k.rows, layers[0].k.cols);
    let tokens = args.tokens.unwrap_or(all);
    if tokens == 0 || tokens > all {
        return Err(CliError::usage(format!("--tokens {tokens}: the file has {all} tokens")));
    }
    warn_if_too_few(tokens, channels);
    let variant = Variant { method: args.method, bits: args.bits, group: args.group };
    let methods = chain_methods(variant, channels, args.dim)?;
    let values: Vec<LayerValues> = layers.iter().map(LayerValues::of).collect();
    let rt = Runtime::cpu();
    let mut quantizer = KernelQuantizer::compile(&rt, methods).map_err(|e| CliError::failed(e.to_string()))?;
    let (mut k_error, mut v_error) = (0.0, 0.0);
    let predictors = Predictors::calibrate(
        values.iter().map(|l| l.tokens(0..tokens, channels)),
        channels,
        &mut quantizer,
        |layer, restored| {
            k_error += relative_error(layer.k, &restored.k) / values.len() as f64;
            v_error += relative_error(layer.v, &restored.v) / values.len() as f64;
        },
    )
    .map_err(|e| CliError::failed(e.to_string()))?;
    let info = calibration_info(variant, args.dim, tokens, &args.kv, &sha256_hex(&bytes));
    let file = predictors.to_file(&info).map_err(|e| CliError::failed(e.to_string()))?;
    write_atomically(&args.output, &file)?;

    let residuals = describe_pair(methods.residual[0], methods.residual[1]);
    println!(
        "aqua calibrate: AQUA-KV maps of {} layers for residuals {residuals}, fitted in order on the reconstructions",
        predictors.layers().len()
    );
    println!(
        "  on          tokens 0..{tokens} of {} ({} layers, {channels} channels)",
        args.kv.display(),
        layers.len()
    );
    println!(
        "  written to  {} ({:.1} MB: {} parameters in f32)",
        args.output.display(),
        file.len() as f64 / 1e6,
        predictors.parameters()
    );
    println!(
        "  the chain on these tokens: relative error K {k_error:.4e}, V {v_error:.4e} (mean over the layers; \
         `aqua quant-eval --predictors` measures other tokens)"
    );
    Ok(())
}
