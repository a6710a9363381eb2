//! The dequantizers' streaming form (`stream = true`: interior tiles written with
//! non-temporal stores, `host::streaming`) against the plain-Rust reference, bit for bit,
//! on the CPU: KIVI tiles (rows a tensor's channels apart) and HIGGS, at sizes that end in
//! a partial tile (whose masked stores are plain). And which form the host picks. Stores
//! at addresses not aligned to a vector (which take the plain path) are tested in
//! `aqua-runtime/tests/cpu_backend/stores.rs`.

mod common;

use aqua_dsl::{DType, Params};
use aqua_kernels::host::higgs::HiggsKernels;
use aqua_kernels::host::streaming::streaming_bytes;
use aqua_kernels::host::uniform::UniformKernels;
use aqua_kernels::kernels::{dequantize_higgs, dequantize_uniform_tokens};
use aqua_kernels::quant::higgs::{Higgs, HiggsConfig};
use aqua_kernels::quant::{Grouping, Uniform};
use aqua_runtime::{Arg, HostBuffer};
use common::Rng;
use half::f16;

fn values(rng: &mut Rng, n: usize) -> Vec<f16> {
    (0..n)
        .map(|_| f16::from_f32(rng.unit() * 8.0 - 4.0))
        .collect()
}

fn bits(v: &[f16]) -> Vec<u16> {
    v.iter().map(|h| h.to_bits()).collect()
}

/// KIVI keys: groups of 64 tokens per channel, 2 and 3 bits, 96 and 256 channels, ragged
/// token counts.
#[test]
fn streamed_kivi_tiles_equal_the_reference() {
    let rt = common::cpu();
    let mut rng = Rng::new(7);
    for (bits_, channels, tokens) in [(2, 96, 200), (3, 256, 130), (2, 256, 64)] {
        let q = Uniform::new(bits_, 64).unwrap();
        let grouping = Grouping::Tokens { channels };
        let x = values(&mut rng, tokens * channels);
        let kernels = UniformKernels::compile(rt, q, grouping, DType::F16).unwrap();
        let packed = kernels.quantize(rt, &HostBuffer::from_slice(&x)).unwrap();
        let params = Params::new()
            .with("bits", bits_)
            .with("group", 64u32)
            .with("cols", 64u32)
            .with("stream", true);
        let k = rt.compile(&dequantize_uniform_tokens, &params).unwrap();
        let mut out = HostBuffer::zeros(DType::F16, x.len());
        let grid = [channels.div_ceil(64) as u32, tokens.div_ceil(64) as u32, 1];
        let mut args = [
            Arg::Buf(&packed.codes),
            Arg::Buf(&packed.scale),
            Arg::Buf(&packed.zero),
            Arg::BufMut(&mut out),
            Arg::i32(tokens as i32),
            Arg::i32(channels as i32),
        ];
        rt.launch(&k, grid, &mut args).unwrap();
        let want: Vec<f16> = q
            .quantize_as(&x, grouping)
            .unwrap()
            .dequantize_as()
            .unwrap();
        let got: Vec<f16> = out.to_vec().unwrap();
        assert!(
            bits(&got) == bits(&want),
            "bits={bits_} channels={channels} tokens={tokens}"
        );
    }
}

/// HIGGS, 2 and 3 bits, a tile of 1024 values and a last partial one.
#[test]
fn streamed_higgs_tiles_equal_the_reference() {
    let rt = common::cpu();
    let mut rng = Rng::new(8);
    for points in [16, 64] {
        let config = HiggsConfig::new(64, 2, points).unwrap();
        let x = values(&mut rng, 5 * 1024 + 320);
        let kernels = HiggsKernels::compile(rt, config, DType::F16).unwrap();
        let packed = kernels.quantize(rt, &HostBuffer::from_slice(&x)).unwrap();
        let params = Params::new()
            .with("dim", 2u32)
            .with("points", points as u32)
            .with("group", 64u32)
            .with("block", 1024u32)
            .with("stream", true);
        let k = rt.compile(&dequantize_higgs, &params).unwrap();
        let mut out = HostBuffer::zeros(DType::F16, x.len());
        let mut args = [
            Arg::Buf(&packed.codes),
            Arg::Buf(&packed.scale),
            Arg::BufMut(&mut out),
            Arg::i32(x.len() as i32),
        ];
        rt.launch(&k, [x.len().div_ceil(1024) as u32, 1, 1], &mut args)
            .unwrap();
        let reference = Higgs::new(64, 2, points).unwrap();
        let want: Vec<f16> = reference.dequantize_as(&reference.quantize_as(&x)).unwrap();
        let got: Vec<f16> = out.to_vec().unwrap();
        assert!(bits(&got) == bits(&want), "points={points}");
    }
}

/// The host streams outputs of [`streaming_bytes`] and more on the CPU, from the
/// dequantizers that have the form (KIVI tiles, HIGGS), and never on the interpreter.
#[test]
fn outputs_past_the_caches_stream() {
    let q = Uniform::new(2, 64).unwrap();
    let config = HiggsConfig::new(64, 2, 16).unwrap();
    let big = streaming_bytes() / 2;
    for rt in [common::cpu(), common::interpreter()] {
        let cpu = std::ptr::eq(rt, common::cpu());
        let kivi =
            UniformKernels::compile(rt, q, Grouping::Tokens { channels: 256 }, DType::F16).unwrap();
        let channels = UniformKernels::compile(rt, q, Grouping::Channels, DType::F16).unwrap();
        let higgs = HiggsKernels::compile(rt, config, DType::F16).unwrap();
        assert_eq!(kivi.streams_output(rt, big), cpu);
        assert_eq!(higgs.streams_output(rt, big), cpu);
        assert!(!kivi.streams_output(rt, big - 1) && !higgs.streams_output(rt, big - 1));
        assert!(
            !channels.streams_output(rt, big),
            "the channel dequantizer has no streaming form"
        );
    }
}
