//! The predictors file (`aqua_kernels::predict::file`) and the commands that write and read
//! it: maps written and read back are the same maps; every kind of bad file is an error
//! that says what is wrong; `aqua calibrate` writes the maps `Predictors::calibrate` fits,
//! and `aqua quant-eval --predictors` evaluates with them, refusing maps calibrated for
//! another quantizer.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use aqua_kernels::data::BUNDLED;
use aqua_kernels::host::codec::Method;
use aqua_kernels::predict::quantizers::{ChainMethods, ReferenceQuantizer};
use aqua_kernels::predict::{LayerPredictors, LayerValues, Linear, Part, Predictors, Quantizer};
use aqua_kernels::quant::{relative_error, Grouping, Uniform};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

/// Maps of layers 1 and 2 for tokens of 4 channels, every parameter distinct.
fn small_predictors() -> Predictors {
    let map = |inputs: usize, seed: f32| {
        let weight = (0..inputs * 4).map(|i| seed + i as f32 / 64.0).collect();
        Linear::from_parts(inputs, 4, weight, vec![seed, -seed, 0.5, 1e-7]).unwrap()
    };
    let layer = |layer, seed| LayerPredictors { layer, keys: map(4, seed), values: map(8, -seed) };
    Predictors::new(4, vec![layer(1, 1.0), layer(2, 2.0)]).unwrap()
}

/// A command line's words (the temporary paths hold no spaces).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Tensors of a file: `(name, shape, values)`.
type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

fn info() -> BTreeMap<String, String> {
    BTreeMap::from([("method".into(), "uniform".into()), ("note".into(), "ünïcode".into())])
}

/// A safetensors file of f32 tensors `(name, shape, values)` and metadata.
fn file(tensors: &[(&str, Vec<usize>, Vec<f32>)], metadata: &[(&str, &str)]) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| (*name, TensorView::new(Dtype::F32, shape.clone(), b).unwrap()))
        .collect();
    let metadata = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    safetensors::serialize(views, &Some(metadata)).unwrap()
}

#[test]
fn maps_read_back_as_written() {
    let p = small_predictors();
    let bytes = p.to_file(&info()).unwrap();
    let (back, back_info) = Predictors::from_file(&bytes).unwrap();
    assert!(back == p);
    assert_eq!(back_info, info());
    // Maps out of order, of layer 0, or of the wrong shape are refused.
    let layers = p.layers().to_vec();
    let new = |l: Vec<LayerPredictors>| Predictors::new(4, l).unwrap_err().to_string();
    assert!(
        new(vec![layers[1].clone(), layers[0].clone()]).contains("layer 1: maps must come in increasing layer order")
    );
    assert!(new(vec![LayerPredictors { layer: 0, ..layers[0].clone() }]).contains("layer 0 has no layer before it"));
    let swapped = LayerPredictors { keys: layers[0].values.clone(), ..layers[0].clone() };
    assert!(new(vec![swapped]).contains("the keys map takes 8 inputs to 4 outputs, not 4 to 4"));
    let reserved = BTreeMap::from([("channels".to_string(), "8".to_string())]);
    assert!(p.to_file(&reserved).unwrap_err().to_string().contains("`channels` belongs to the file format"));
}

#[test]
fn bad_files_say_what_is_wrong() {
    let good = small_predictors().to_file(&info()).unwrap();
    let meta = [("format", "aqua-kv-predictors"), ("version", "1"), ("channels", "4")];
    let w = |n: usize| vec![0.25f32; n];
    let keys = |l: &str| {
        vec![
            (format!("layers.{l}.keys.weight"), vec![4, 4], w(16)),
            (format!("layers.{l}.keys.bias"), vec![4], w(4)),
            (format!("layers.{l}.values.weight"), vec![8, 4], w(32)),
            (format!("layers.{l}.values.bias"), vec![4], w(4)),
        ]
    };
    let owned = |t: Tensors, m: &[(&str, &str)]| {
        let t: Vec<(&str, Vec<usize>, Vec<f32>)> =
            t.iter().map(|(n, s, v)| (n.as_str(), s.clone(), v.clone())).collect();
        file(&t, m)
    };
    let edit = |f: &dyn Fn(&mut Tensors)| {
        let mut t = keys("1");
        f(&mut t);
        owned(t, &meta)
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..good.len() - 7].to_vec(), "not a safetensors file"),
        (b"layer,k,v\n".to_vec(), "not a safetensors file"),
        (BUNDLED.to_vec(), "no `format` entry"),
        (owned(keys("1"), &[("format", "gguf"), ("version", "1"), ("channels", "4")]), "a `gguf` file"),
        (
            owned(keys("1"), &[("format", "aqua-kv-predictors"), ("version", "2"), ("channels", "4")]),
            "version 2; this aqua reads version 1",
        ),
        (
            owned(keys("1"), &[("format", "aqua-kv-predictors"), ("version", "1")]),
            "no `channels` entry from 1 to 1048576",
        ),
        (
            owned(keys("1"), &[("format", "aqua-kv-predictors"), ("version", "1"), ("channels", "99999999999999")]),
            "no `channels` entry from 1 to 1048576",
        ),
        (
            edit(&|t| t[0] = (t[0].0.clone(), vec![2, 8], t[0].2.clone())),
            "`layers.1.keys.weight` has shape [2, 8], expected [4, 4]",
        ),
        (
            edit(&|t| {
                t.remove(1);
            }),
            "no tensor `layers.1.keys.bias`",
        ),
        (edit(&|t| t.truncate(2)), "layer 1 has keys maps but no `layers.1.values.weight`"),
        (edit(&|t| t[3].2[2] = f32::NAN), "`layers.1.values`: bias 2 is NaN"),
        (
            edit(&|t| t.push(("layers.1.queries.weight".into(), vec![4, 4], w(16)))),
            "unexpected tensor `layers.1.queries.weight`",
        ),
        (edit(&|t| t.push(("notes".into(), vec![1], w(1)))), "unexpected tensor `notes`"),
        (edit(&|t| t.push(("layers.3.keys.bias".into(), vec![4], w(4)))), "`layers.3.keys.bias` without its weight"),
        (owned(keys("0"), &meta), "layer 0: layer 0 has no layer before it"),
    ];
    for (bytes, message) in cases {
        let e = Predictors::from_file(&bytes).unwrap_err().to_string();
        assert!(e.contains(message), "expected `{message}` in: {e}");
    }
    let f16 = {
        let b = vec![0u8; 32];
        let views = vec![("layers.1.keys.weight", TensorView::new(Dtype::F16, vec![4, 4], &b).unwrap())];
        let metadata = meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        safetensors::serialize(views, &Some(metadata)).unwrap()
    };
    assert!(Predictors::from_file(&f16).unwrap_err().to_string().contains("is F16, expected F32"));
}

/// `aqua calibrate` on the bundled slice's first 384 tokens, then `aqua quant-eval
/// --predictors` on the whole slice: the file holds the maps the library fits, and the
/// evaluation's errors are the chain's with them (the reference quantizer's, equal to
/// the kernels' bit for bit).
#[test]
fn calibrate_writes_the_maps_quant_eval_uses() {
    let dir = tempfile::tempdir().unwrap();
    let (d, kv) = (dir.path(), dir.path().join("slice.safetensors"));
    std::fs::write(&kv, BUNDLED).unwrap();
    let out = d.join("maps.safetensors");
    let kv_arg = kv.to_str().unwrap();
    let calibrate = format!("calibrate --kv {kv_arg} --method uniform --bits 3 --tokens 384 -o {}", out.display());
    let (said, warning) = common::aqua_ok(&words(&calibrate), d);
    assert!(said.contains("maps of 5 layers") && said.contains("tokens 0..384"), "{said}");
    assert!(warning.contains("384 calibration tokens"), "{warning}");
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o644);
    let (maps, info) = Predictors::from_file(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        (info["method"].as_str(), info["bits"].as_str(), info["calibration_tokens"].as_str()),
        ("uniform", "3", "384")
    );
    assert_eq!(info["source_sha256"].len(), 64);

    let (values, channels) = common::bundled_layers();
    let u = |bits| Method::Uniform(Uniform::new(bits, 64).unwrap(), Grouping::Channels);
    let methods = ChainMethods { first: [u(4); 2], residual: [u(3); 2] };
    let fitted = Predictors::calibrate(
        values.iter().map(|l| l.tokens(0..384, channels)),
        channels,
        &mut ReferenceQuantizer::new(methods),
        |_, _| {},
    )
    .unwrap();
    assert!(maps == fitted, "the file's maps are the library's fit");

    let eval = format!("quant-eval --kv {kv_arg} --method uniform --bits 3 --predictors {} --json", out.display());
    let (json, _) = common::aqua_ok(&words(&eval), d);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["predictors"]["evaluation_tokens"], serde_json::json!([0, 512]));
    assert_eq!(json["predictors"]["calibration_tokens"].as_u64(), Some(384));
    let mut alone = ReferenceQuantizer::new(methods);
    let mut want = Vec::new();
    fitted
        .compress(values.iter().map(LayerValues::all), &mut ReferenceQuantizer::new(methods), |l, r| {
            want.push((
                relative_error(l.k, &r.k),
                relative_error(l.v, &alone.roundtrip(Part::Values, false, l.v).unwrap()),
            ));
        })
        .unwrap();
    for (row, (k, v_alone)) in json["layers"].as_array().unwrap().iter().zip(&want) {
        let close = |field: &str, want: f64| (row[field].as_f64().unwrap() - want).abs() <= 1e-12 * want;
        assert!(close("k_rel_mse", *k) && close("v_rel_mse_plain", *v_alone), "{row}");
    }
}

#[test]
fn maps_of_another_quantizer_or_a_bad_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kv = d.join("slice.safetensors");
    std::fs::write(&kv, BUNDLED).unwrap();
    let maps = d.join("maps.safetensors");
    let (kv, maps_arg) = (kv.to_str().unwrap(), maps.to_str().unwrap());
    common::aqua_ok(&["calibrate", "--kv", kv, "--method", "higgs", "--bits", "2", "-o", maps_arg], d);
    let garbage = d.join("garbage.safetensors");
    std::fs::write(&garbage, b"not predictors").unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec!["quant-eval", "--kv", kv];
        args.extend(extra);
        common::aqua(&args, d)
    };
    for (extra, message) in [
        (
            vec!["--method", "higgs", "--bits", "3", "--predictors", maps_arg],
            "calibrated with bits 2, this run quantizes with bits 3",
        ),
        (
            vec!["--method", "kivi", "--bits", "2", "--predictors", maps_arg],
            "calibrated with method higgs, this run quantizes with method kivi",
        ),
        (
            vec!["--method", "higgs", "--bits", "2", "--group", "128", "--predictors", maps_arg],
            "calibrated with group 64",
        ),
        (
            vec!["--method", "higgs", "--bits", "2", "--predictors", garbage.to_str().unwrap()],
            "predictors file: not a safetensors file",
        ),
        (
            vec!["--method", "higgs", "--bits", "2", "--predictors", maps_arg, "--calibration-tokens", "8"],
            "cannot be used with",
        ),
    ] {
        let o = eval(&extra);
        let (_, err) = common::text(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(message), "{extra:?}: expected `{message}` in: {err}");
    }
    let o = common::aqua(
        &["calibrate", "--kv", kv, "--method", "higgs", "--bits", "2", "--tokens", "513", "-o", maps_arg],
        d,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(common::text(&o).1.contains("--tokens 513: the file has 512 tokens"));
    // The refused run left the earlier file as it was.
    assert!(Predictors::from_file(&std::fs::read(&maps).unwrap()).is_ok());
}
