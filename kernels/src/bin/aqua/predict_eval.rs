//! `aqua quant-eval --predict`: AQUA-KV's predictors on a KV file. The predictors are
//! fitted on the first `--calibration-tokens` tokens of every layer (in order, on the
//! reconstructions, `aqua_kernels::predict`); on the remaining tokens the command then
//! compares, per layer, the residual chain (a chain's first layer stored whole at 4 bits,
//! every later one as prediction plus quantized residual) with the same quantizer applied
//! to the layer directly. Both run on the kernels; the errors are relative squared errors
//! against the file's values, and bits per value count everything stored per token (the
//! predictors' weights are stored once per model and printed apart).

use std::ops::Range;

use aqua_kernels::data::kv_file::KvLayer;
use aqua_kernels::predict::quantizers::{ChainMethods, KernelQuantizer};
use aqua_kernels::predict::ridge::RIDGE;
use aqua_kernels::predict::{LayerValues, Part, Predictors, Quantizer};
use aqua_kernels::quant::{bits_per_value, relative_error};
use aqua_runtime::Runtime;
use serde_json::json;

use crate::error::CliError;
use crate::methods::Variant;
use crate::quant_eval::{describe_pair, Args};

/// Bits of a chain's first layer (`DESIGN.md`).
const FIRST_LAYER_BITS: u32 = 4;

/// Calibration tokens per map input below which the command warns of overfitting.
const OVERFIT_RATIO: usize = 4;

/// One evaluated layer.
struct Row {
    layer: usize,
    predicted: bool,
    k: f64,
    v: f64,
    k_plain: f64,
    v_plain: f64,
}

pub fn run(args: &Args, layers: &[KvLayer], variant: Variant) -> Result<(), CliError> {
    let (tokens, channels) = (layers[0].k.rows, layers[0].k.cols);
    let calibration = args.calibration_tokens.unwrap_or(tokens / 2);
    if calibration == 0 || calibration >= tokens {
        return Err(CliError::usage(format!(
            "--calibration-tokens {calibration}: the predictors need tokens to fit on and tokens to evaluate on \
             (the file has {tokens})"
        )));
    }
    // The values' maps take `2 * channels` inputs; fitted on few more tokens than that,
    // they learn the calibration tokens rather than the layers (the bundled slice's 256
    // tokens do worse than the quantizer alone on some layers).
    let inputs = 2 * channels;
    if calibration < OVERFIT_RATIO * inputs {
        eprintln!(
            "aqua: warning: {calibration} calibration tokens for maps of up to {inputs} inputs: fits on fewer than \
             {} tokens overfit, and on the other tokens the chain can do worse than the quantizer alone",
            OVERFIT_RATIO * inputs
        );
    }
    let residual = variant.methods(channels, args.dim).map_err(CliError::usage)?;
    let first = Variant { bits: FIRST_LAYER_BITS, ..variant }.methods(channels, 2).map_err(CliError::usage)?;
    let methods = ChainMethods { first: [first.0, first.1], residual: [residual.0, residual.1] };
    let values: Vec<LayerValues> = layers.iter().map(LayerValues::of).collect();
    let rows_of = |tokens: Range<usize>| values.iter().map(move |l| l.tokens(tokens.clone(), channels));

    let rt = Runtime::cpu();
    let failed = |e: &dyn std::fmt::Display| CliError::failed(e.to_string());
    let mut chain = KernelQuantizer::compile(&rt, methods).map_err(|e| failed(&e))?;
    let mut plain = KernelQuantizer::compile(&rt, methods).map_err(|e| failed(&e))?;
    let predictors =
        Predictors::calibrate(rows_of(0..calibration), channels, &mut chain, |_, _| {}).map_err(|e| failed(&e))?;
    let mut chain = KernelQuantizer::compile(&rt, methods).map_err(|e| failed(&e))?;
    let mut rows = Vec::with_capacity(layers.len());
    let mut plain_error = None;
    predictors
        .compress(rows_of(calibration..tokens), &mut chain, |layer, restored| {
            let mut direct = |part, x: &[f32]| match plain.roundtrip(part, false, x) {
                Ok(x_hat) => relative_error(x, &x_hat),
                Err(e) => {
                    plain_error.get_or_insert(e.to_string());
                    f64::NAN
                }
            };
            rows.push(Row {
                layer: layer.layer,
                predicted: restored.predicted,
                k: relative_error(layer.k, &restored.k),
                v: relative_error(layer.v, &restored.v),
                k_plain: direct(Part::Keys, layer.k),
                v_plain: direct(Part::Values, layer.v),
            });
        })
        .map_err(|e| failed(&e))?;
    if let Some(e) = plain_error {
        return Err(CliError::failed(e));
    }

    let mean = |f: fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / rows.len() as f64;
    let (bpv, bpv_plain) = (bits_per_value(&chain.storage()), bits_per_value(&plain.storage()));
    if args.json {
        let layers: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({"layer": r.layer, "predicted": r.predicted, "k_rel_mse": r.k, "v_rel_mse": r.v,
                       "k_rel_mse_plain": r.k_plain, "v_rel_mse_plain": r.v_plain})
            })
            .collect();
        let out = json!({
            "method": args.method.name(),
            "bits": args.bits,
            "group": args.group,
            "predict": true,
            "bits_per_value": bpv,
            "layers": layers,
            "mean_k_rel_mse": mean(|r| r.k),
            "mean_v_rel_mse": mean(|r| r.v),
            "plain": {
                "bits_per_value": bpv_plain,
                "mean_k_rel_mse": mean(|r| r.k_plain),
                "mean_v_rel_mse": mean(|r| r.v_plain),
            },
            "predictors": {
                "calibration_tokens": calibration,
                "evaluation_tokens": tokens - calibration,
                "first_layer_bits": FIRST_LAYER_BITS,
                "ridge": RIDGE,
                "parameters": predictors.parameters(),
            },
        });
        println!("{out}");
        return Ok(());
    }
    println!("aqua quant-eval --predict: AQUA-KV, residuals {}", describe_pair(residual.0, residual.1));
    println!("  file        {}: {} layers, {tokens} tokens x {channels} channels", args.kv.display(), layers.len());
    println!(
        "  calibration tokens 0..{calibration}: {} predictors fitted in order on the reconstructions (ridge {RIDGE})",
        predictors.layers().len()
    );
    println!(
        "  evaluation  tokens {calibration}..{tokens}: the chain (a chain's first layer, *, stored whole: {})",
        describe_pair(first.0, first.1)
    );
    println!("              against the quantizer alone on every layer");
    println!("  backend     {}", rt.describe());
    println!();
    println!("{:>6} {:>12} {:>12} {:>12} {:>12}", "layer", "K alone", "K AQUA-KV", "V alone", "V AQUA-KV");
    for r in &rows {
        let layer = format!("{}{}", r.layer, if r.predicted { " " } else { "*" });
        println!("{layer:>6} {:>12.4e} {:>12.4e} {:>12.4e} {:>12.4e}", r.k_plain, r.k, r.v_plain, r.v);
    }
    let (k_plain, k, v_plain, v) = (mean(|r| r.k_plain), mean(|r| r.k), mean(|r| r.v_plain), mean(|r| r.v));
    println!("{:>5}  {k_plain:>12.4e} {k:>12.4e} {v_plain:>12.4e} {v:>12.4e}", "mean");
    println!();
    println!(
        "bits per value: {bpv_plain:.4} alone, {bpv:.4} AQUA-KV (codes, scales and zeros of K and V, every layer)"
    );
    println!(
        "predictors: {} parameters ({:.1} MB in f16), stored once per model",
        predictors.parameters(),
        predictors.parameters() as f64 * 2.0 / 1e6
    );
    Ok(())
}
