//! The compressed KV cache (`aqua_kernels::cache`) on the bundled slice: sinks and the
//! window hold the appended tokens in 16 bits, each full window is the chunk the predictor
//! chain makes of those tokens, appending in any steps gives the same cache, storage
//! counts codes and 16-bit tokens, and mistakes are errors.

mod common;

use aqua_kernels::cache::{CacheConfig, CompressedCache};
use aqua_kernels::host::codec::Method;
use aqua_kernels::predict::quantizers::{ChainMethods, KernelQuantizer, ReferenceQuantizer};
use aqua_kernels::predict::{Layer, LayerValues, Predictors};
use aqua_kernels::quant::{bits_per_value, ErrorSum, Grouping, Storage, Uniform};

/// The bundled slice (512 tokens of 8 layers, 192 channels), its layer indices, the
/// methods (KIVI 2-bit residuals, 4-bit first layers) and maps fitted on all of it.
fn setup() -> (Vec<LayerValues>, Vec<usize>, ChainMethods, Predictors) {
    let (data, channels) = common::bundled_layers();
    let u = |bits, g| Method::Uniform(Uniform::new(bits, 64).unwrap(), g);
    let tokens = Grouping::Tokens { channels };
    let methods = ChainMethods {
        first: [u(4, tokens), u(4, Grouping::Channels)],
        residual: [u(2, tokens), u(2, Grouping::Channels)],
    };
    let predictors = Predictors::calibrate(
        data.iter().map(LayerValues::all),
        channels,
        &mut ReferenceQuantizer::new(methods),
        |_, _| {},
    )
    .unwrap();
    let layers = data.iter().map(|l| l.layer).collect();
    (data, layers, methods, predictors)
}

/// Appends tokens `from..to` of every layer.
fn append(cache: &mut CompressedCache, data: &[LayerValues], from: usize, to: usize, q: &mut ReferenceQuantizer) {
    let layers: Vec<Layer> = data.iter().map(|l| l.tokens(from..to, 192)).collect();
    cache.append(&layers, q).unwrap();
}

#[test]
fn windows_compress_as_the_chain_and_the_rest_stays_whole() {
    let (data, layers, methods, predictors) = setup();
    let mut q = ReferenceQuantizer::new(methods);
    let mut cache = CompressedCache::new(&predictors, layers, CacheConfig::default()).unwrap();
    // Uneven steps: across the sinks, into and across window boundaries.
    let mut at = 0;
    for step in [1, 2, 5, 120, 1, 200, 183] {
        append(&mut cache, &data, at, at + step, &mut q);
        at += step;
    }
    assert_eq!((at, cache.tokens(), cache.chunks()), (512, 512, 3), "4 sinks, 3 chunks of 128, 124 in the window");
    let restored = cache.restore(&mut KernelQuantizer::compile(common::cpu(), methods).unwrap()).unwrap();

    // Each chunk is what the chain restores of its 128 tokens.
    let mut chunks: Vec<Vec<(Vec<f32>, Vec<f32>)>> = Vec::new();
    for c in 0..3 {
        let tokens = 4 + 128 * c..4 + 128 * (c + 1);
        let mut chunk = Vec::new();
        predictors
            .compress(data.iter().map(|l| l.tokens(tokens.clone(), 192)), &mut q, |_, r| {
                chunk.push((r.k.clone(), r.v.clone()))
            })
            .unwrap();
        chunks.push(chunk);
    }
    for (i, (layer, LayerValues { k, v, .. })) in data.iter().zip(&restored).enumerate() {
        assert_eq!((k.len(), v.len()), (512 * 192, 512 * 192));
        // The slice is f16: sinks and window come back exactly.
        let whole = |range: std::ops::Range<usize>| range.start * 192..range.end * 192;
        for range in [whole(0..4), whole(388..512)] {
            assert!(k[range.clone()] == layer.k[range.clone()] && v[range.clone()] == layer.v[range], "layer {i}");
        }
        for (c, chunk) in chunks.iter().enumerate() {
            let range = whole(4 + 128 * c..4 + 128 * (c + 1));
            assert!(k[range.clone()] == chunk[i].0[..] && v[range] == chunk[i].1[..], "layer {i}, chunk {c}");
        }
    }

    // Storage: 3 chunks of 2-bit codes, with a 4-bit first layer, and 128 tokens whole.
    let storage = cache.storage();
    assert_eq!(storage.fp16_values, 2 * 8 * 128 * 192);
    assert_eq!(storage.quantized_values, 2 * 8 * 384 * 192);
    let first_layers = [0, 15, 28].len();
    let code_bits = 3 * 128 * 192 * 2 * (first_layers * 4 + (8 - first_layers) * 2);
    let param_bits = 3 * 2 * (2 * 128 * 192 / 64) * 16 * 8;
    let want = Storage {
        quantized_values: storage.quantized_values,
        code_words: code_bits / 32,
        f16_params: param_bits / 16,
        fp16_values: storage.fp16_values,
    };
    assert_eq!(storage, want);
    assert!(
        (bits_per_value(&storage)
            - (code_bits + param_bits + 16 * storage.fp16_values) as f64 / (2.0 * 8.0 * 512.0 * 192.0))
            .abs()
            < 1e-12
    );
}

#[test]
fn appending_in_any_steps_gives_the_same_cache() {
    let (data, layers, methods, predictors) = setup();
    let config = CacheConfig { sinks: 3, window: 64 };
    let mut q = ReferenceQuantizer::new(methods);
    let mut at_once = CompressedCache::new(&predictors, layers.clone(), config).unwrap();
    append(&mut at_once, &data, 0, 300, &mut q);
    let mut one_by_one = CompressedCache::new(&predictors, layers, config).unwrap();
    for t in 0..300 {
        append(&mut one_by_one, &data, t, t + 1, &mut q);
    }
    assert_eq!((at_once.chunks(), one_by_one.chunks()), (4, 4));
    assert_eq!(at_once.storage(), one_by_one.storage());
    assert!(at_once.restore(&mut q).unwrap() == one_by_one.restore(&mut q).unwrap());
}

#[test]
fn mistakes_are_errors() {
    let (data, layers, methods, predictors) = setup();
    let mut q = ReferenceQuantizer::new(methods);
    let err = |r: Result<CompressedCache, aqua_kernels::predict::PredictError>| r.unwrap_err().to_string();
    assert!(err(CompressedCache::new(&predictors, layers.clone(), CacheConfig { sinks: 4, window: 0 }))
        .contains("window of 0"));
    assert!(err(CompressedCache::new(&predictors, vec![3, 2], CacheConfig::default()))
        .contains("not a non-empty increasing"));
    let mut cache = CompressedCache::new(&predictors, layers, CacheConfig::default()).unwrap();
    let some: Vec<Layer> = data[..3].iter().map(LayerValues::all).collect();
    assert!(cache
        .append(&some, &mut q)
        .unwrap_err()
        .to_string()
        .contains("tokens of layers [0, 1, 2] for a cache of layers"));
    let mut uneven: Vec<Layer> = data.iter().map(|l| l.tokens(0..10, 192)).collect();
    uneven[2] = data[2].tokens(0..9, 192);
    assert!(cache
        .append(&uneven, &mut q)
        .unwrap_err()
        .to_string()
        .contains("layer 2: 1728 keys and 1728 values are not 10 tokens"));
    assert_eq!(cache.tokens(), 0, "a refused append adds nothing");
}

/// `aqua quant-eval --predict --cache` on the bundled slice: maps fitted on its first 256
/// tokens, the last 256 streamed as two sequences of 128 through caches of 4 sinks and a
/// window of 32; the JSON's errors and bits are the library's caches'.
#[test]
fn quant_eval_measures_through_caches() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slice.safetensors");
    std::fs::write(&file, aqua_kernels::data::BUNDLED).unwrap();
    let line = format!(
        "quant-eval --kv {} --method kivi --bits 2 --predict --calibration-tokens 256 --cache --sinks 4 --window 32 \
         --sequence-tokens 128 --json",
        file.display()
    );
    let (out, _) = common::aqua_ok(&line.split_whitespace().collect::<Vec<_>>(), dir.path());
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["cache"], serde_json::json!({"sinks": 4, "window": 32, "sequence_tokens": 128}));

    let (data, layers, methods, _) = setup();
    let mut q = ReferenceQuantizer::new(methods);
    let predictors = Predictors::calibrate(data.iter().map(|l| l.tokens(0..256, 192)), 192, &mut q, |_, _| {}).unwrap();
    let config = CacheConfig { sinks: 4, window: 32 };
    let (mut sums, mut storage) = (vec![[ErrorSum::default(); 2]; data.len()], Storage::default());
    for start in [256, 384] {
        let mut cache = CompressedCache::new(&predictors, layers.clone(), config).unwrap();
        append(&mut cache, &data, start, start + 128, &mut q);
        for (([k_sum, v_sum], restored), l) in sums.iter_mut().zip(cache.restore(&mut q).unwrap()).zip(&data) {
            let x = l.tokens(start..start + 128, 192);
            k_sum.add(x.k, &restored.k);
            v_sum.add(x.v, &restored.v);
        }
        storage = storage.plus(cache.storage());
    }
    let close = |got: &serde_json::Value, want: f64| (got.as_f64().unwrap() - want).abs() <= 1e-12 * want;
    for (row, s) in json["layers"].as_array().unwrap().iter().zip(&sums) {
        assert!(close(&row["k_rel_mse"], s[0].relative()) && close(&row["v_rel_mse"], s[1].relative()), "{row}");
    }
    assert!(close(&json["bits_per_value"], bits_per_value(&storage)));

    let bare = format!("quant-eval --kv {} --method kivi --bits 2", file.display());
    for (extra, message) in [(" --cache", "add --predict or --predictors"), (" --window 64", "--cache")] {
        let o = common::aqua(&(bare.clone() + extra).split_whitespace().collect::<Vec<_>>(), dir.path());
        assert_eq!(o.status.code(), Some(2));
        assert!(common::text(&o).1.contains(message), "{extra}: {}", common::text(&o).1);
    }
}
