//! `aqua quant-eval --predict` and `--predictors FILE`: AQUA-KV's predictors on a KV file.
//! With `--predict` the maps are fitted on the first `--calibration-tokens` tokens of
//! every layer (in order, on the reconstructions, `aqua_kernels::predict`) and evaluated
//! on the rest; with `--predictors` they come from `aqua calibrate` and every token is
//! evaluated. Per layer, the command compares the residual chain (a chain's first layer
//! stored whole at 4 bits, every later one as prediction plus quantized residual) with the
//! same quantizer applied to the layer directly. Both run on the kernels; the errors are
//! relative squared errors against the file's values, and bits per value count everything
//! stored per token (the maps are stored once per model and printed apart).

use std::ops::Range;

use aqua_kernels::cache::{CacheConfig, CompressedCache};
use aqua_kernels::data::kv_file::KvLayer;
use aqua_kernels::predict::quantizers::KernelQuantizer;
use aqua_kernels::predict::ridge::RIDGE;
use aqua_kernels::predict::{LayerValues, Part, Predictors, Quantizer};
use aqua_kernels::quant::{bits_per_value, relative_error, ErrorSum, Storage};
use aqua_runtime::Runtime;
use serde_json::json;

use crate::error::CliError;
use crate::methods::Variant;
use crate::predictors::{chain_methods, read_predictors, warn_if_too_few, FIRST_LAYER_BITS};
use crate::quant_eval::{describe_pair, Args};

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
    let methods = chain_methods(variant, channels, args.dim)?;
    let values: Vec<LayerValues> = layers.iter().map(LayerValues::of).collect();
    let rows_of = |tokens: Range<usize>| values.iter().map(move |l| l.tokens(tokens.clone(), channels));
    let rt = Runtime::cpu();
    let failed = |e: &dyn std::fmt::Display| CliError::failed(e.to_string());
    let compile = || KernelQuantizer::compile(&rt, methods).map_err(|e| failed(&e));

    // The maps, where they come from, and the tokens to evaluate.
    let (predictors, origin, calibration, evaluated) = match &args.predictors {
        Some(path) => {
            let (predictors, info) = read_predictors(path, variant, args.dim, channels)?;
            let on = |key: &str| info.get(key).map_or("?", String::as_str).to_string();
            let origin = format!(
                "maps of {}: fitted on {} tokens of {}",
                path.display(),
                on("calibration_tokens"),
                on("source")
            );
            let calibration: Option<usize> = info.get("calibration_tokens").and_then(|t| t.parse().ok());
            (predictors, origin, calibration, 0..tokens)
        }
        None => {
            let calibration = args.calibration_tokens.unwrap_or(tokens / 2);
            if calibration == 0 || calibration >= tokens {
                return Err(CliError::usage(format!(
                    "--calibration-tokens {calibration}: the predictors need tokens to fit on and tokens to evaluate \
                     on (the file has {tokens})"
                )));
            }
            warn_if_too_few(calibration, channels);
            let predictors = Predictors::calibrate(rows_of(0..calibration), channels, &mut compile()?, |_, _| {})
                .map_err(|e| failed(&e))?;
            let origin = format!("calibration tokens 0..{calibration}: maps fitted in order on the reconstructions");
            (predictors, origin, Some(calibration), calibration..tokens)
        }
    };

    let (mut chain, mut plain) = (compile()?, compile()?);
    let mut rows = Vec::with_capacity(layers.len());
    let mut plain_error = None;
    predictors
        .compress(rows_of(evaluated.clone()), &mut chain, |layer, restored| {
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

    let mut stored = chain.storage();
    let cache = match args.cache {
        false => None,
        true => {
            let config = CacheConfig { sinks: args.sinks, window: args.window };
            let sequence = args.sequence_tokens.unwrap_or(evaluated.len());
            let errors = through_caches(&predictors, &values, evaluated.clone(), sequence, config, &mut chain)?;
            for (row, (k, v)) in rows.iter_mut().zip(errors.layers) {
                (row.k, row.v) = (k, v);
            }
            stored = errors.storage;
            Some((config, sequence))
        }
    };
    let mean = |f: fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / rows.len() as f64;
    let (bpv, bpv_plain) = (bits_per_value(&stored), bits_per_value(&plain.storage()));
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
                "file": args.predictors.as_ref().map(|p| p.display().to_string()),
                "calibration_tokens": calibration,
                "evaluation_tokens": [evaluated.start, evaluated.end],
                "first_layer_bits": FIRST_LAYER_BITS,
                "ridge": RIDGE,
                "parameters": predictors.parameters(),
            },
            "cache": cache.map(|(c, sequence)| json!({"sinks": c.sinks, "window": c.window, "sequence_tokens": sequence})),
        });
        println!("{out}");
        return Ok(());
    }
    let (first, residual) = (methods.first, methods.residual);
    println!("aqua quant-eval: AQUA-KV, residuals {}", describe_pair(residual[0], residual[1]));
    println!("  file        {}: {} layers, {tokens} tokens x {channels} channels", args.kv.display(), layers.len());
    println!("  predictors  {origin}, {} predicted layers (ridge {RIDGE})", predictors.layers().len());
    println!(
        "  evaluation  tokens {}..{}: the chain (a chain's first layer, *, stored whole: {})",
        evaluated.start,
        evaluated.end,
        describe_pair(first[0], first[1])
    );
    if let Some((c, sequence)) = cache {
        println!(
            "              through compressed caches: sequences of {sequence} tokens, each keeping its first {} and \
             last window of up to {} tokens in 16 bits",
            c.sinks, c.window
        );
    }
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
        "bits per value: {bpv_plain:.4} alone, {bpv:.4} AQUA-KV (codes, scales and zeros of K and V, every layer{})",
        if cache.is_some() { ", and the 16-bit tokens" } else { "" }
    );
    println!(
        "predictors: {} parameters ({:.1} MB in f32), stored once per model",
        predictors.parameters(),
        predictors.parameters() as f64 * 4.0 / 1e6
    );
    Ok(())
}

/// Per-layer errors of the evaluated tokens restored from compressed caches, and what the
/// caches store.
struct CacheErrors {
    /// Relative squared error of K and V per layer, over all sequences.
    layers: Vec<(f64, f64)>,
    storage: Storage,
}

/// Streams `evaluated` into caches of `sequence` tokens each (the last may be shorter),
/// restores them, and measures each layer's error against `values`.
fn through_caches(
    predictors: &Predictors,
    values: &[LayerValues],
    evaluated: Range<usize>,
    sequence: usize,
    config: CacheConfig,
    quantizer: &mut KernelQuantizer,
) -> Result<CacheErrors, CliError> {
    if sequence == 0 {
        return Err(CliError::usage("--sequence-tokens 0: a sequence needs tokens"));
    }
    let channels = predictors.channels();
    let layers: Vec<usize> = values.iter().map(|l| l.layer).collect();
    let failed = |e: &dyn std::fmt::Display| CliError::failed(e.to_string());
    let mut sums = vec![[ErrorSum::default(); 2]; values.len()];
    let mut storage = Storage::default();
    for start in evaluated.clone().step_by(sequence) {
        let tokens = start..(start + sequence).min(evaluated.end);
        let mut cache = CompressedCache::new(predictors, layers.clone(), config).map_err(CliError::usage_of)?;
        let new: Vec<_> = values.iter().map(|l| l.tokens(tokens.clone(), channels)).collect();
        cache.append(&new, quantizer).map_err(|e| failed(&e))?;
        let restored = cache.restore(quantizer).map_err(|e| failed(&e))?;
        for (([k_sum, v_sum], restored), layer) in sums.iter_mut().zip(restored).zip(&new) {
            k_sum.add(layer.k, &restored.k);
            v_sum.add(layer.v, &restored.v);
        }
        storage = storage.plus(cache.storage());
    }
    Ok(CacheErrors { layers: sums.iter().map(|[k, v]| (k.relative(), v.relative())).collect(), storage })
}
