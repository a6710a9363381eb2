//! AQUA-KV's predictor chain (`aqua_kernels::predict`) on real keys and values: the chain
//! on the kernels equals the chain on the plain-Rust references bit for bit, both equal the
//! chain written out by hand, fitted predictors reapplied restore what calibration
//! restored, chains follow consecutive layers, and mistakes are errors; `aqua quant-eval
//! --predict` reports the chain's errors. With the full KV dump beside the workspace
//! (`scripts/test.sh` runs the ignored test then), predictors fitted on half the tokens
//! cut the error on the other half at every method.

mod common;

use std::path::Path;

use aqua_kernels::data::kv_file::read_kv_layers;
use aqua_kernels::data::BUNDLED;
use aqua_kernels::host::codec::Method;
use aqua_kernels::predict::quantizers::{ChainMethods, KernelQuantizer, ReferenceQuantizer};
use aqua_kernels::predict::ridge::RIDGE;
use aqua_kernels::predict::{
    EncodedLayer, Layer, LayerValues, Linear, Part, PredictError, Predictors, Quantizer, Restored,
};
use aqua_kernels::quant::higgs::HiggsConfig;
use aqua_kernels::quant::{bits_per_value, relative_error, Grouping, Uniform};

fn layers(data: &[LayerValues]) -> impl Iterator<Item = Layer<'_>> {
    data.iter().map(LayerValues::all)
}

fn uniform(bits: u32, grouping: Grouping) -> Method {
    Method::Uniform(Uniform::new(bits, 64).unwrap(), grouping)
}

/// Uniform along channels, KIVI (keys along tokens) and HIGGS, each at `bits` for the
/// residuals and 4 bits for a chain's first layer.
fn methods(channels: usize, bits: u32) -> Vec<(&'static str, ChainMethods)> {
    let tokens = Grouping::Tokens { channels };
    let higgs = |bits: u32| Method::Higgs(HiggsConfig::new(64, 2, 1usize << (2 * bits)).unwrap());
    vec![
        (
            "uniform",
            ChainMethods {
                first: [uniform(4, Grouping::Channels); 2],
                residual: [uniform(bits, Grouping::Channels); 2],
            },
        ),
        (
            "kivi",
            ChainMethods {
                first: [uniform(4, tokens), uniform(4, Grouping::Channels)],
                residual: [uniform(bits, tokens), uniform(bits, Grouping::Channels)],
            },
        ),
        ("higgs", ChainMethods { first: [higgs(4); 2], residual: [higgs(bits); 2] }),
    ]
}

/// Calibrates on `data` and collects every layer's reconstruction.
fn calibrate(data: &[LayerValues], channels: usize, q: &mut dyn Quantizer) -> (Predictors, Vec<Restored>) {
    let mut restored = Vec::new();
    let p = Predictors::calibrate(layers(data), channels, q, |_, r| restored.push(r.clone())).unwrap();
    (p, restored)
}

#[test]
fn kernel_and_reference_chains_agree_bit_for_bit() {
    let (data, channels) = common::bundled_layers();
    let first_four = &data[..4];
    for (name, m) in methods(channels, 2) {
        let mut kernels = KernelQuantizer::compile(common::cpu(), m).unwrap();
        let mut reference = ReferenceQuantizer::new(m);
        let (p_kernels, r_kernels) = calibrate(first_four, channels, &mut kernels);
        let (p_reference, r_reference) = calibrate(first_four, channels, &mut reference);
        assert!(p_kernels == p_reference, "{name}: predictors differ");
        assert!(r_kernels == r_reference, "{name}: reconstructions differ");
        assert_eq!(kernels.storage(), reference.storage(), "{name}");
        assert_eq!(p_kernels.layers().len(), 3, "{name}: layers 1, 2 and 3 are predicted");
    }
}

/// The chain written out by hand for layers 0 and 1, with the reference quantizer:
/// keys predicted from the reconstructed keys of layer 0, values from the reconstructed
/// keys of layer 1 beside the reconstructed values of layer 0, residuals quantized.
#[test]
fn the_chain_is_the_design_documents() {
    let (data, channels) = common::bundled_layers();
    let (name, m) = methods(channels, 3).remove(1);
    let mut q = ReferenceQuantizer::new(m);
    let (predictors, restored) = calibrate(&data[..2], channels, &mut q);

    let mut q = ReferenceQuantizer::new(m);
    let (k0, v0, k1, v1) = (&data[0].k, &data[0].v, &data[1].k, &data[1].v);
    let k0_hat = q.roundtrip(Part::Keys, true, k0).unwrap();
    let v0_hat = q.roundtrip(Part::Values, true, v0).unwrap();
    let a = Linear::fit(&k0_hat, k1, channels, channels, RIDGE).unwrap();
    let k_pred = a.predict(&k0_hat).unwrap();
    let k_res: Vec<f32> = k1.iter().zip(&k_pred).map(|(x, p)| x - p).collect();
    let k1_hat: Vec<f32> =
        k_pred.iter().zip(q.roundtrip(Part::Keys, false, &k_res).unwrap()).map(|(p, r)| p + r).collect();
    let inputs: Vec<f32> = k1_hat
        .chunks_exact(channels)
        .zip(v0_hat.chunks_exact(channels))
        .flat_map(|(k, v)| k.iter().chain(v).copied())
        .collect();
    let b = Linear::fit(&inputs, v1, 2 * channels, channels, RIDGE).unwrap();
    let v_pred = b.predict(&inputs).unwrap();
    let v_res: Vec<f32> = v1.iter().zip(&v_pred).map(|(x, p)| x - p).collect();
    let v1_hat: Vec<f32> =
        v_pred.iter().zip(q.roundtrip(Part::Values, false, &v_res).unwrap()).map(|(p, r)| p + r).collect();

    assert!(restored[0].k == k0_hat && restored[0].v == v0_hat && !restored[0].predicted, "{name}");
    assert!(restored[1].k == k1_hat && restored[1].v == v1_hat && restored[1].predicted, "{name}");
    let fitted = predictors.get(1).unwrap();
    assert!(fitted.keys == a && fitted.values == b, "{name}");
    // Within the calibration tokens the maps leave a small residual: the chain's error is
    // a fraction of the quantizer's alone (3-bit KIVI keys 0.0085, values 0.065 here).
    let mut alone = |part, x: &[f32]| relative_error(x, &q.roundtrip(part, false, x).unwrap());
    assert!(relative_error(k1, &k1_hat) < 0.5 * alone(Part::Keys, k1));
    assert!(relative_error(v1, &v1_hat) < 0.5 * alone(Part::Values, v1));
}

/// The bundled slice's layers 0-3, 15-16 and 28-29: three chains; compressing the same
/// tokens with the fitted maps restores what calibration restored.
#[test]
fn chains_follow_consecutive_layers_and_fitted_maps_reapply() {
    let (data, channels) = common::bundled_layers();
    let (_, m) = methods(channels, 2).remove(2);
    let (predictors, calibrated) = calibrate(&data, channels, &mut ReferenceQuantizer::new(m));
    let predicted: Vec<(usize, bool)> = calibrated.iter().map(|r| (r.layer, r.predicted)).collect();
    assert_eq!(
        predicted,
        [(0, false), (1, true), (2, true), (3, true), (15, false), (16, true), (28, false), (29, true)]
    );
    let fitted: Vec<usize> = predictors.layers().iter().map(|p| p.layer).collect();
    assert_eq!(fitted, [1, 2, 3, 16, 29]);
    let per_layer = (channels * channels + channels) + (2 * channels * channels + channels);
    assert_eq!(predictors.parameters(), 5 * per_layer);

    let mut again = Vec::new();
    predictors.compress(layers(&data), &mut ReferenceQuantizer::new(m), |_, r| again.push(r.clone())).unwrap();
    assert!(again == calibrated);
}

/// What the chain stores decodes to what the encoder restored, bit for bit, on the
/// kernels and on the references; codes out of their chain are refused.
#[test]
fn stored_codes_decode_to_what_the_encoder_restored() {
    let (data, channels) = common::bundled_layers();
    for (name, m) in methods(channels, 3) {
        let mut kernels = KernelQuantizer::compile(common::cpu(), m).unwrap();
        let (predictors, encoder) = calibrate(&data, channels, &mut kernels);
        let stored: Vec<EncodedLayer> = encoder.iter().map(Restored::encoded).collect();
        for quantizer in [&mut kernels as &mut dyn Quantizer, &mut ReferenceQuantizer::new(m)] {
            let mut decoded = Vec::new();
            predictors.decode(&stored, quantizer, |r| decoded.push(r.clone())).unwrap();
            assert!(decoded == encoder, "{name}");
        }
        // Layer 2 without layer 1 before it, and layer 3 with maps that lack it.
        let message = |e: PredictError| e.to_string();
        let e = predictors.decode([&stored[0], &stored[2]], &mut kernels, |_| {}).unwrap_err();
        assert!(message(e).contains("layer 2: its codes are residuals of a prediction, and layer 1 is not before it"));
        let mut short = stored[..2].to_vec();
        short[1].codes[0] = kernels.encode(Part::Keys, false, &data[1].k[..256 * channels]).unwrap();
        let e = predictors.decode(&short, &mut kernels, |_| {}).unwrap_err();
        assert!(message(e).contains("layer 1: 49152 residual values after 98304 of layer 0"), "{name}");
        let (fewer, _) = calibrate(&data[..3], channels, &mut kernels);
        let e = fewer.decode(&stored[..4], &mut kernels, |_| {}).unwrap_err();
        assert!(message(e).contains("layer 3: no predictors for it"), "{name}");
    }
}

#[test]
fn mistakes_are_errors_that_name_the_layer() {
    let (data, channels) = common::bundled_layers();
    let (_, m) = methods(channels, 2).remove(0);
    let q = || ReferenceQuantizer::new(m);
    let message = |e: PredictError| e.to_string();
    let (predictors, _) = calibrate(&data[..2], channels, &mut q());

    // Layers 2 and 3 were not calibrated: 3 follows 2 and has no maps.
    let e = predictors.compress(layers(&data[2..4]), &mut q(), |_, _| {}).unwrap_err();
    assert!(message(e).contains("layer 3: no predictors"));
    let backwards = [data[1].clone(), data[0].clone()];
    let e = Predictors::calibrate(layers(&backwards), channels, &mut q(), |_, _| {}).unwrap_err();
    assert!(message(e).contains("layer 0: layers must come in increasing order"));
    let short = [LayerValues { v: data[0].v[..channels * 10].to_vec(), ..data[0].clone() }];
    let e = Predictors::calibrate(layers(&short), channels, &mut q(), |_, _| {}).unwrap_err();
    assert!(message(e).contains("layer 0: keys of 98304 and values of 1920 values"));
    let short_layer =
        LayerValues { layer: 1, k: data[1].k[..channels * 64].to_vec(), v: data[1].v[..channels * 64].to_vec() };
    let fewer_tokens = [data[0].clone(), short_layer];
    let e = Predictors::calibrate(layers(&fewer_tokens), channels, &mut q(), |_, _| {}).unwrap_err();
    assert!(message(e).contains("layer 1: 64 tokens where the layers before have 512"));
    let mut nan = data[..2].to_vec();
    nan[1].k[5] = f32::NAN;
    let e = Predictors::calibrate(layers(&nan), channels, &mut q(), |_, _| {}).unwrap_err();
    assert!(message(e).contains("not finite"));
}

/// AQUA-KV's claim on held-out tokens: predictors fitted on the first 2048 tokens (four
/// texts) of the full dump cut the error on the other 2048 (four other texts), at two bits
/// per value, for every method. Measured here (mean over the 30 layers, alone against the
/// chain): uniform K 0.41 to 0.026, V 0.25 to 0.087; KIVI K 0.039 to 0.018, V 0.25 to
/// 0.080; HIGGS K 0.100 to 0.0087, V 0.104 to 0.037. The bounds (K below 0.6x, V below
/// 0.5x) leave room for other hosts' rounding of the fits, not for a weaker predictor: the
/// calibration tokens' channel means alone (the intercept without the map) reach uniform
/// K 0.069 and HIGGS K 0.024 but leave KIVI keys at 0.0395 and values at 0.81-0.89x. The
/// first layer's 4 bits cost 2/30 of a bit per value.
#[test]
#[ignore = "needs the full KV dump at ../shared/data/smollm2-kv (scripts/test.sh runs it when present)"]
fn predictors_cut_the_error_on_held_out_tokens() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/smollm2-kv/kv_a.safetensors");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = read_kv_layers(&bytes).unwrap();
    let (tokens, channels) = (file[0].k.rows, file[0].k.cols);
    let data: Vec<LayerValues> = file.iter().map(LayerValues::of).collect();
    let half = tokens / 2;
    let rows = |from: usize, to: usize| data.iter().map(move |l| l.tokens(from..to, channels));
    for (name, m) in methods(channels, 2) {
        let rt = common::cpu();
        let predictors =
            Predictors::calibrate(rows(0, half), channels, &mut KernelQuantizer::compile(rt, m).unwrap(), |_, _| {})
                .unwrap();
        let mut chain = KernelQuantizer::compile(rt, m).unwrap();
        let mut alone = KernelQuantizer::compile(rt, m).unwrap();
        let (mut k, mut v, mut k_alone, mut v_alone) = (0.0, 0.0, 0.0, 0.0);
        predictors
            .compress(rows(half, tokens), &mut chain, |layer, r| {
                let mut direct =
                    |part, x: &[f32]| relative_error(x, &alone.roundtrip(part, false, x).unwrap()) / data.len() as f64;
                k += relative_error(layer.k, &r.k) / data.len() as f64;
                v += relative_error(layer.v, &r.v) / data.len() as f64;
                k_alone += direct(Part::Keys, layer.k);
                v_alone += direct(Part::Values, layer.v);
            })
            .unwrap();
        println!("{name}: K {k_alone:.4} alone, {k:.4} AQUA-KV; V {v_alone:.4} alone, {v:.4} AQUA-KV");
        assert!(k < 0.6 * k_alone, "{name}: keys {k} against {k_alone} alone");
        assert!(v < 0.5 * v_alone, "{name}: values {v} against {v_alone} alone");
        let (bits, bits_alone) = (bits_per_value(&chain.storage()), bits_per_value(&alone.storage()));
        assert!((bits - bits_alone - 2.0 / 30.0).abs() < 1e-9, "{name}: {bits} against {bits_alone}");
    }
}

/// `aqua quant-eval --predict` on the bundled slice, fitted on its first 256 tokens: the
/// JSON's errors are the chain's and the quantizer's alone on the last 256, as the
/// reference chain computes them (the kernels equal it bit for bit).
#[test]
fn quant_eval_predict_reports_the_chain_against_the_quantizer_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slice.safetensors");
    std::fs::write(&file, BUNDLED).unwrap();
    let args = ["quant-eval", "--kv", file.to_str().unwrap(), "--method", "higgs", "--bits", "2", "--predict"];
    let (out, _) = common::aqua_ok(&[&args[..], &["--calibration-tokens", "256", "--json"]].concat(), dir.path());
    let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));

    let (data, channels) = common::bundled_layers();
    let (_, m) = methods(channels, 2).remove(2);
    let tokens = |range: std::ops::Range<usize>| data.iter().map(move |l| l.tokens(range.clone(), channels));
    let predictors =
        Predictors::calibrate(tokens(0..256), channels, &mut ReferenceQuantizer::new(m), |_, _| {}).unwrap();
    let mut alone = ReferenceQuantizer::new(m);
    let mut want = Vec::new();
    predictors
        .compress(tokens(256..512), &mut ReferenceQuantizer::new(m), |l, r| {
            let mut direct = |part, x: &[f32]| relative_error(x, &alone.roundtrip(part, false, x).unwrap());
            let (k_alone, v_alone) = (direct(Part::Keys, l.k), direct(Part::Values, l.v));
            want.push((l.layer, r.predicted, relative_error(l.k, &r.k), relative_error(l.v, &r.v), k_alone, v_alone));
        })
        .unwrap();

    let close = |got: &serde_json::Value, want: f64| (got.as_f64().unwrap() - want).abs() <= 1e-12 * want;
    let rows = json["layers"].as_array().unwrap();
    assert_eq!(rows.len(), want.len());
    for (row, &(layer, predicted, k, v, k_alone, v_alone)) in rows.iter().zip(&want) {
        assert_eq!(row["layer"].as_u64(), Some(layer as u64));
        assert_eq!(row["predicted"].as_bool(), Some(predicted), "layer {layer}");
        for (field, value) in
            [("k_rel_mse", k), ("v_rel_mse", v), ("k_rel_mse_plain", k_alone), ("v_rel_mse_plain", v_alone)]
        {
            assert!(close(&row[field], value), "layer {layer} {field}: {} against {value}", row[field]);
        }
    }
    let p = &json["predictors"];
    assert_eq!(p["calibration_tokens"].as_u64(), Some(256));
    assert_eq!(p["evaluation_tokens"], serde_json::json!([256, 512]));
    assert_eq!(p["parameters"].as_u64(), Some(predictors.parameters() as u64));
    // EDEN2-16 codes and an f16 scale per 64 values: 2.25 bits; a chain's first layer
    // (0, 15 and 28) stores EDEN2-256 codes: 4.25.
    assert_eq!(json["plain"]["bits_per_value"].as_f64(), Some(2.25));
    assert_eq!(json["bits_per_value"].as_f64(), Some((3.0 * 4.25 + 5.0 * 2.25) / 8.0));

    let (table, warning) = common::aqua_ok(&args, dir.path());
    assert!(warning.contains("256 calibration tokens for maps of up to 384 inputs"), "{warning}");
    assert!(table.contains("calibration tokens 0..256: maps fitted") && table.contains("tokens 256..512"), "{table}");
    assert!(table.contains("   15*") && table.contains("   16 "), "{table}");
}

#[test]
fn quant_eval_predict_needs_tokens_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slice.safetensors");
    std::fs::write(&file, BUNDLED).unwrap();
    let base = ["quant-eval", "--kv", file.to_str().unwrap(), "--method", "uniform", "--bits", "2"];
    for (extra, message) in [
        (&["--predict", "--calibration-tokens", "0"][..], "need tokens to fit on and tokens to evaluate on"),
        (&["--predict", "--calibration-tokens", "512"][..], "(the file has 512)"),
        (&["--calibration-tokens", "256"][..], "--predict"),
    ] {
        let o = common::aqua(&[&base[..], extra].concat(), dir.path());
        let (_, err) = common::text(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(message), "{extra:?}: expected `{message}` in: {err}");
    }
}
