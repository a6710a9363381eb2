//! Autotuned quantizers (`host::tune`): every tile gives the same bits (what makes tuning
//! safe), a tuned codec equals the default one, choices are stored and reloaded, GPU
//! backends try CTA sizes (on the SIMT emulation here), and bad launches are errors.

mod common;

use std::time::Duration;

use aqua_dsl::DType;
use aqua_kernels::host::buffers::LaunchBuffers;
use aqua_kernels::host::codec::{Codec, Method};
use aqua_kernels::host::tune::{tiles, tilings, CodecTuners, Tiling, TunedCodec, WARPS};
use aqua_kernels::quant::grids::Grid;
use aqua_kernels::quant::higgs::HiggsConfig;
use aqua_kernels::quant::{Grouping, Uniform};
use aqua_runtime::autotune::{ChoiceSource, TuneOptions};
use aqua_runtime::{Arg, HostBuffer, Runtime};
use common::Rng;
use half::f16;

const CHANNELS: usize = 128;

fn methods() -> [Method; 3] {
    let higgs = HiggsConfig::new(64, 2, Grid::for_bits(2, 2).unwrap().len()).unwrap();
    [
        Method::Uniform(Uniform::new(2, 64).unwrap(), Grouping::Channels),
        Method::Uniform(Uniform::new(3, 32).unwrap(), Grouping::Tokens { channels: CHANNELS }),
        Method::Higgs(higgs),
    ]
}

/// `tokens` tokens of Gaussian-ish values, in f16.
fn sample(tokens: usize, seed: u64) -> HostBuffer {
    let mut rng = Rng::new(seed);
    let xs: Vec<f16> =
        (0..tokens * CHANNELS).map(|_| f16::from_f32((0..4).map(|_| rng.unit() - 0.5).sum::<f32>() * 1.7)).collect();
    HostBuffer::from_slice(&xs)
}

/// Short passes: these tests check what is chosen from and what is stored, not speed.
fn tuners() -> CodecTuners {
    CodecTuners::new(TuneOptions {
        first_pass: Duration::from_millis(2),
        final_pass: Duration::from_millis(4),
        print: false,
        ..TuneOptions::default()
    })
}

/// Quantize and dequantize through the launch API (`LaunchBuffers`): the encoded
/// buffers' bytes and the values' bytes.
fn run(rt: &Runtime, codecs: [&Codec; 2], x: &HostBuffer) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut buffers = LaunchBuffers::new(rt, codecs[0].method(), x).unwrap();
    buffers.roundtrip(rt, codecs).unwrap();
    let (encoded, out) = buffers.into_host(rt).unwrap();
    (encoded.iter().map(|b| b.as_bytes().to_vec()).collect(), out.as_bytes().to_vec())
}

#[test]
fn every_tile_gives_the_same_bits() {
    let rt = common::cpu();
    // 70 tokens: a partial last group along tokens and a partial last program.
    let x = sample(70, 1);
    for method in methods() {
        let default = Codec::compile(rt, method, DType::F16).unwrap();
        let expected = run(rt, [&default, &default], &x);
        // The host API (`quantize_into`) launches the same.
        let mut q = default.encoded(x.len());
        default.quantize_into(rt, &x, &mut q).unwrap();
        let mut out = HostBuffer::zeros(DType::F16, x.len());
        default.dequantize_into(rt, &q, &mut out).unwrap();
        assert_eq!(out.as_bytes(), &expected.1[..], "{method:?}");

        let tiles = tiles(method);
        assert!(tiles.len() >= 2, "{method:?}: {tiles:?}");
        for tile in tiles {
            let codec = Codec::compile_tiled(rt, method, DType::F16, tile).unwrap();
            assert_eq!(codec.tile(), tile);
            assert!(run(rt, [&codec, &codec], &x) == expected, "{method:?}, tile {tile}: other bits");
        }
    }
}

#[test]
fn a_tuned_codec_equals_the_default_and_its_choice_is_stored() {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::cpu_with(common::options(Some(cache.path())));
    let x = sample(96, 2);
    for method in methods() {
        let candidates = tilings(&rt, method);
        assert_eq!(candidates[0], Tiling { tile: Codec::default_tile(&rt, method), warps: None });
        assert!(candidates.iter().all(|t| t.warps.is_none()), "the CPU has no CTAs");
        let tuned = TunedCodec::tune_among(&rt, &tuners(), method, DType::F16, &x, &candidates).unwrap();
        for t in tuned.tunings() {
            assert_eq!(t.source, ChoiceSource::Measured);
            assert_eq!(t.trials.len(), candidates.len());
            assert!(t.trials.iter().all(|trial| trial.first.is_ok()), "{:?}", t.trials);
            assert!(candidates.contains(&t.config));
        }
        let [tq, td] = tuned.tilings();
        assert_eq!((tuned.quantize_codec().tile(), tuned.dequantize_codec().tile()), (tq.tile, td.tile));
        let default = Codec::compile(&rt, method, DType::F16).unwrap();
        let codecs = [tuned.quantize_codec(), tuned.dequantize_codec()];
        assert!(run(&rt, codecs, &x) == run(&rt, [&default, &default], &x), "{method:?}");
        assert_eq!(tuned.roundtrip(&rt, &x).unwrap().as_bytes(), default.roundtrip(&rt, &x).unwrap().as_bytes());

        // A new process, in effect: new tuners and runtime on the same cache. A sample of
        // another size in the same power-of-two bucket (96 and 80 tokens of 128 values)
        // finds the stored choices; one in another bucket tunes again.
        let rt2 = Runtime::cpu_with(common::options(Some(cache.path())));
        let again = TunedCodec::tune_among(&rt2, &tuners(), method, DType::F16, &sample(80, 3), &candidates).unwrap();
        assert_eq!(again.tunings().each_ref().map(|t| t.source), [ChoiceSource::Disk; 2]);
        assert_eq!(again.tilings(), tuned.tilings());
        let other = TunedCodec::tune_among(&rt2, &tuners(), method, DType::F16, &sample(8, 4), &candidates).unwrap();
        assert_eq!(other.tunings()[0].source, ChoiceSource::Measured);
    }
}

#[test]
fn gpu_backends_try_cta_sizes() {
    // The SIMT emulation: the GPU program, one host thread per GPU thread.
    let rt = Runtime::simt_with(common::options(None), 4);
    let method = methods()[0];
    let all = tilings(&rt, method);
    assert_eq!(all[0], Tiling { tile: Codec::default_tile(&rt, method), warps: Some(4) });
    assert_eq!(all.len(), tiles(method).len() * WARPS.len(), "{all:?}");
    // A few of them (each is two SIMT compiles): other CTA sizes compile in runtimes of
    // their own and launch through `rt`.
    let candidates = [all[0], Tiling { tile: 512, warps: Some(1) }, Tiling { tile: 2048, warps: Some(8) }];
    let x = sample(32, 5);
    let tuned = TunedCodec::tune_among(&rt, &tuners(), method, DType::F16, &x, &candidates).unwrap();
    assert_eq!(tuned.tunings()[0].trials.len(), 3);
    assert!(tuned.tunings()[0].trials.iter().all(|t| t.first.is_ok()), "{:?}", tuned.tunings()[0].trials);
    let cpu = Codec::compile(common::cpu(), method, DType::F16).unwrap();
    let expected = run(common::cpu(), [&cpu, &cpu], &x);
    for t in candidates {
        let codec = t.compile(&rt, method, DType::F16).unwrap();
        assert!(run(&rt, [&codec, &codec], &x) == expected, "{t}: SIMT and CPU differ");
    }
    let codecs = [tuned.quantize_codec(), tuned.dequantize_codec()];
    assert!(run(&rt, codecs, &x) == expected);
}

#[test]
fn bad_samples_and_launches_are_errors() {
    let rt = common::cpu();
    let method = methods()[1];
    let candidates = tilings(rt, method);
    let tune = |x: &HostBuffer| {
        TunedCodec::tune_among(rt, &tuners(), method, DType::F16, x, &candidates).err().expect("an error").to_string()
    };
    assert!(tune(&HostBuffer::from_slice::<f16>(&[])).contains("must be non-empty f16"));
    assert!(tune(&HostBuffer::from_slice(&[1.0f32; CHANNELS])).contains("(128 f32 values) must be non-empty f16"));
    // 100 values are not whole tokens of 128 channels: every candidate fails, each named.
    let e = tune(&HostBuffer::from_slice(&[f16::ONE; 100]));
    assert!(e.contains("every candidate failed: `tile 64`:") && e.contains("not whole tokens"), "{e}");

    let codec = Codec::compile(rt, method, DType::F16).unwrap();
    let x = sample(4, 6);
    let layout = method.encoded_layout(x.len());
    let mut bufs: Vec<HostBuffer> = layout.iter().map(|&(_, d, len)| HostBuffer::zeros(d, len)).collect();
    let e = codec.launch_quantize(rt, Arg::Buf(&x), bufs.iter_mut().take(2).map(Arg::BufMut).collect()).unwrap_err();
    assert!(e.to_string().contains("2 encoded buffers given, the launch takes 3"), "{e}");
    let mut short = HostBuffer::zeros(DType::F16, 3);
    let args = vec![Arg::BufMut(&mut bufs[0]), Arg::BufMut(&mut short), Arg::f32(0.0)];
    let e = codec.launch_quantize(rt, Arg::Buf(&x), args).unwrap_err();
    assert!(e.to_string().contains("`scale` holds 3 elements, the launch needs 128"), "{e}");
    let args = bufs.iter().map(Arg::Buf).collect();
    let e = codec.launch_dequantize(rt, args, Arg::i32(5)).unwrap_err();
    assert!(e.to_string().contains("`out` must be a buffer"), "{e}");
    // Read-only codes for quantize: the runtime's own check names the parameter.
    let args = bufs.iter().map(Arg::Buf).collect();
    let e = codec.launch_quantize(rt, Arg::Buf(&x), args).unwrap_err();
    assert!(e.to_string().contains("codes"), "{e}");
}
