//! `aqua quant-eval`: quantizes and dequantizes every layer's keys and values of a
//! safetensors file with the kernels (on the CPU runtime), and prints the
//! relative squared error `||x^ - x||^2 / ||x||^2` of K and V per layer and on average,
//! and the bits per value of everything stored (`quant::bits_per_value`).
//!
//! Methods: `uniform` (groups along channels), `kivi` (keys grouped along tokens, per
//! channel; values along channels), `higgs` (`--bits` 2, 3, 4 picks EDEN2-16, -64, -256;
//! with `--dim 4`, `--bits 2` picks EDEN4-256; `--group` is the Hadamard group). Every
//! mistake in the command line or the file exits with code 2.
//!
//! `--predict` (maps fitted on the first tokens) and `--predictors FILE` (maps of `aqua
//! calibrate`) evaluate AQUA-KV's predictor chain instead (`predict_eval.rs`).

use std::path::{Path, PathBuf};

use aqua_dsl::DType;
use aqua_kernels::data::kv_file::{read_kv_layers, KvLayer, Tensor2, Values};
use aqua_kernels::host::codec::{Codec, Method};
use aqua_kernels::quant::{bits_per_value, relative_error, Storage};
use aqua_runtime::{HostBuffer, Runtime};
use half::f16;
use serde_json::json;

use crate::error::CliError;
use crate::methods::{describe, MethodName, Variant};

#[derive(clap::Args)]
pub struct Args {
    /// safetensors file with `layers.{i}.k` and `layers.{i}.v`, [tokens, channels], f16 or f32.
    #[arg(long)]
    pub(crate) kv: PathBuf,
    #[arg(long, value_enum)]
    pub(crate) method: MethodName,
    /// Bits per code (uniform, kivi: 1 to 8); bits per value of the grid (higgs: 2, 3, 4).
    #[arg(long)]
    pub(crate) bits: u32,
    /// Group size (uniform, kivi: 16 to 256); Hadamard group (higgs: 32 to 1024).
    #[arg(long, default_value_t = 64)]
    pub(crate) group: usize,
    /// Grid dimension for higgs (2, or 4 with --bits 2).
    #[arg(long, default_value_t = 2)]
    pub(crate) dim: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// AQUA-KV: fit the layer-to-layer predictors on the first tokens and compare, on the
    /// rest, the residual chain (first layer at 4 bits) with the quantizer alone.
    #[arg(long)]
    pub(crate) predict: bool,
    /// Tokens the predictors are fitted on (with --predict; default: half of them).
    #[arg(long, requires = "predict")]
    pub(crate) calibration_tokens: Option<usize>,
    /// AQUA-KV with the maps of a predictors file (`aqua calibrate`), on every token.
    #[arg(long, conflicts_with = "calibration_tokens")]
    pub(crate) predictors: Option<PathBuf>,
    /// With --predict or --predictors: the compressed cache instead of the bare chain:
    /// each sequence's first --sinks tokens and last window of up to --window tokens stay
    /// in 16 bits, the rest is compressed a full window at a time.
    #[arg(long)]
    pub(crate) cache: bool,
    /// Attention-sink tokens a sequence keeps in 16 bits (with --cache).
    #[arg(long, default_value_t = 4, requires = "cache")]
    pub(crate) sinks: usize,
    /// Recent tokens kept in 16 bits and compressed together when full (with --cache).
    #[arg(long, default_value_t = 128, requires = "cache")]
    pub(crate) window: usize,
    /// Tokens per sequence, each in a cache of its own (with --cache; default: all the
    /// evaluated tokens are one sequence).
    #[arg(long, requires = "cache")]
    pub(crate) sequence_tokens: Option<usize>,
}

/// One layer's errors.
struct Row {
    layer: usize,
    k: f64,
    v: f64,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let (layers, _) = read_kv(&args.kv)?;
    let (tokens, channels) = (layers[0].k.rows, layers[0].k.cols);
    let variant = Variant { method: args.method, bits: args.bits, group: args.group };
    let (key_method, value_method) = variant.methods(channels, args.dim).map_err(CliError::usage)?;
    if args.predict || args.predictors.is_some() {
        return crate::predict_eval::run(args, &layers, variant);
    }
    if args.cache {
        return Err(CliError::usage("--cache compresses through the predictor chain: add --predict or --predictors"));
    }
    let rt = Runtime::cpu();
    let mut codecs: Vec<(DType, Codec, Codec)> = Vec::new();
    let mut rows = Vec::with_capacity(layers.len());
    let mut storage = Storage::default();
    for layer in &layers {
        let dtype = dtype_of(&layer.k);
        if !codecs.iter().any(|c| c.0 == dtype) {
            let compile = |m| Codec::compile(&rt, m, dtype).map_err(|e| CliError::failed(e.to_string()));
            codecs.push((dtype, compile(key_method)?, compile(value_method)?));
        }
        let (_, kc, vc) = codecs.iter().find(|c| c.0 == dtype).expect("compiled above");
        let (k, ks) = evaluate(&rt, kc, layer, &layer.k, "k")?;
        let (v, vs) = evaluate(&rt, vc, layer, &layer.v, "v")?;
        storage = storage.plus(ks).plus(vs);
        rows.push(Row { layer: layer.layer, k, v });
    }
    let mean = |f: fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / rows.len() as f64;
    let (mean_k, mean_v) = (mean(|r| r.k), mean(|r| r.v));
    let bpv = bits_per_value(&storage);
    if args.json {
        let layers: Vec<_> =
            rows.iter().map(|r| json!({"layer": r.layer, "k_rel_mse": r.k, "v_rel_mse": r.v})).collect();
        let out = json!({
            "method": args.method.name(),
            "bits": args.bits,
            "group": args.group,
            "bits_per_value": bpv,
            "layers": layers,
            "mean_k_rel_mse": mean_k,
            "mean_v_rel_mse": mean_v,
        });
        println!("{out}");
        return Ok(());
    }
    println!("aqua quant-eval: {}", describe_pair(key_method, value_method));
    println!("  file    {}: {} layers, {tokens} tokens x {channels} channels", args.kv.display(), layers.len());
    println!("  backend {}", rt.describe());
    println!("  error   ||x^ - x||^2 / ||x||^2 per tensor, x^ from the kernels (quantize, dequantize)");
    println!();
    println!("{:>5} {:>12} {:>12}", "layer", "K rel.err", "V rel.err");
    for r in &rows {
        println!("{:>5} {:>12.4e} {:>12.4e}", r.layer, r.k, r.v);
    }
    println!("{:>5} {mean_k:>12.4e} {mean_v:>12.4e}", "mean");
    println!();
    println!("bits per value: {bpv:.4} (codes, scales and zeros of K and V, every layer)");
    Ok(())
}

/// Every layer of a KV file, and the file's bytes; a file that cannot be read or is not
/// one is a usage mistake.
pub(crate) fn read_kv(path: &Path) -> Result<(Vec<KvLayer>, Vec<u8>), CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    let layers = read_kv_layers(&bytes).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    Ok((layers, bytes))
}

fn dtype_of(t: &Tensor2) -> DType {
    match t.values {
        Values::F16(_) => DType::F16,
        Values::F32(_) => DType::F32,
    }
}

/// The relative error and the storage of one tensor.
fn evaluate(rt: &Runtime, codec: &Codec, layer: &KvLayer, t: &Tensor2, kind: &str) -> Result<(f64, Storage), CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::failed(format!("layers.{}.{kind}: {e}", layer.layer));
    if dtype_of(t) != dtype_of(&layer.k) {
        return Err(CliError::usage(format!("layers.{}.{kind}: K and V of a layer must have one dtype", layer.layer)));
    }
    let buffer = match &t.values {
        Values::F16(v) => HostBuffer::from_slice(v),
        Values::F32(v) => HostBuffer::from_slice(v),
    };
    let restored = codec.roundtrip(rt, &buffer).map_err(|e| fail(&e))?;
    let x_hat: Vec<f32> = match t.values {
        Values::F16(_) => restored.to_vec::<f16>().map_err(|e| fail(&e))?.iter().map(|v| v.to_f32()).collect(),
        Values::F32(_) => restored.to_vec::<f32>().map_err(|e| fail(&e))?,
    };
    Ok((relative_error(&t.values.to_f32(), &x_hat), codec.storage(t.values.len())))
}

pub(crate) fn describe_pair(k: Method, v: Method) -> String {
    if k == v {
        describe(k)
    } else {
        format!("keys {}; values {}", describe(k), describe(v))
    }
}
