//! Autotuned quantizers: the tile (values or channels per program) and, on a GPU, the
//! CTA size that are fastest for a variant on this machine, chosen by timing the real
//! kernels on a sample of the caller's data ([`aqua_runtime::autotune`]).
//!
//! Quantize and dequantize are tuned apart: the quantized form does not depend on the
//! tile, so each can run with its own, and a dequantize that runs on every attention step
//! may well prefer another tile than the quantize that runs once per token. Every tile
//! gives the same bits (a group never straddles two programs), so tuning changes speed
//! only. Choices persist next to the kernel cache, keyed by the variant, the dtype and
//! the sample's size rounded up to a power of two.
//!
//! ```no_run
//! # use aqua_kernels::host::{codec::Method, tune::TunedCodec};
//! # fn demo(rt: &aqua_runtime::Runtime, method: Method, sample: &aqua_runtime::HostBuffer)
//! #     -> Result<(), aqua_kernels::host::HostError> {
//! let codec = TunedCodec::tune(rt, method, aqua_dsl::DType::F16, sample)?;
//! println!("quantize: {}, dequantize: {}", codec.tilings()[0], codec.tilings()[1]);
//! let x_hat = codec.roundtrip(rt, sample)?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use aqua_dsl::DType;
use aqua_runtime::autotune::{Autotuner, TuneKey, TuneOptions, Tuned};
use aqua_runtime::{Arg, BackendKind, HostBuffer, Runtime};

use super::buffers::LaunchBuffers;
use super::codec::{Codec, Encoded, Method};
use super::{input_error, HostError};
use crate::kernels::higgs_math::max_block;
use crate::quant::{Grouping, Storage};

/// One configuration of a variant's kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tiling {
    /// Values per program (uniform along channels, HIGGS) or channels per program
    /// (uniform along tokens).
    pub tile: u32,
    /// Warps per CTA on the GPU backends (CUDA, SIMT); `None` on the CPU.
    pub warps: Option<u32>,
}

impl fmt::Display for Tiling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tile {}", self.tile)?;
        match self.warps {
            Some(1) => write!(f, ", 1 warp"),
            Some(w) => write!(f, ", {w} warps"),
            None => Ok(()),
        }
    }
}

impl Tiling {
    /// `method`'s kernels with this tiling on `rt`: another CTA size than `rt`'s compiles
    /// in `rt.with_num_warps` (kept by `rt`), and its kernels launch through `rt` all the
    /// same.
    pub fn compile(self, rt: &Runtime, method: Method, dtype: DType) -> Result<Codec, HostError> {
        match self.warps.filter(|&w| has_warps(rt) && w != rt.num_warps()) {
            Some(w) => Codec::compile_tiled(&rt.with_num_warps(w), method, dtype, self.tile),
            None => Codec::compile_tiled(rt, method, dtype, self.tile),
        }
    }
}

/// Warps per CTA tried on the GPU backends.
pub const WARPS: [u32; 4] = [1, 2, 4, 8];

/// The tiles tried for `method`: values per program (uniform along channels, HIGGS) or
/// channels per program (along tokens), those its kernels accept.
pub fn tiles(method: Method) -> Vec<u32> {
    match method {
        Method::Uniform(q, Grouping::Channels) => {
            [512, 1024, 2048, 4096].into_iter().filter(|&t| t >= q.group() as u32).collect()
        }
        Method::Uniform(_, Grouping::Tokens { channels }) => {
            [32, 64, 128].into_iter().filter(|&t| channels.is_multiple_of(t as usize)).collect()
        }
        Method::Higgs(c) => {
            let (dim, points) = (c.dim as u32, c.points as u32);
            [256, 512, 1024, 2048, 4096]
                .into_iter()
                .filter(|&t| t >= c.group as u32 && t >= 32 * dim && t <= max_block(dim, points))
                .collect()
        }
    }
}

/// Whether `rt` runs CTAs of warps (the CUDA backend and its SIMT emulation).
fn has_warps(rt: &Runtime) -> bool {
    matches!(rt.backend(), BackendKind::Cuda | BackendKind::Simt)
}

/// The tilings tried for `method` on `rt`: every tile of [`tiles`], on the GPU backends
/// with each of [`WARPS`]; `rt`'s default first, so that it wins ties.
pub fn tilings(rt: &Runtime, method: Method) -> Vec<Tiling> {
    let warps: Vec<Option<u32>> = if has_warps(rt) { WARPS.map(Some).to_vec() } else { vec![None] };
    let default = Tiling { tile: Codec::default_tile(rt, method), warps: has_warps(rt).then(|| rt.num_warps()) };
    let mut all = vec![default];
    for tile in tiles(method) {
        all.extend(warps.iter().map(|&warps| Tiling { tile, warps }).filter(|&t| t != default));
    }
    all
}

/// The autotuners of quantize and dequantize.
pub struct CodecTuners {
    pub quantize: Autotuner,
    pub dequantize: Autotuner,
}

impl CodecTuners {
    pub fn new(options: TuneOptions) -> CodecTuners {
        CodecTuners {
            quantize: Autotuner::with_options("aqua_kernels quantize", options.clone()),
            dequantize: Autotuner::with_options("aqua_kernels dequantize", options),
        }
    }

    /// The process's tuners ([`TuneOptions::default`]), which [`TunedCodec::tune`] uses.
    pub fn global() -> &'static CodecTuners {
        static GLOBAL: OnceLock<CodecTuners> = OnceLock::new();
        GLOBAL.get_or_init(|| CodecTuners::new(TuneOptions::default()))
    }
}

/// A variant's kernels with the tilings the autotuner chose: one codec for quantize and
/// one for dequantize (the same tiling, often).
pub struct TunedCodec {
    quantize: Codec,
    dequantize: Codec,
    tunings: [Tuned<Tiling>; 2],
}

impl TunedCodec {
    /// Tunes `method` for inputs of `dtype` like `sample` (its size picks the key; its
    /// values are what the kernels run on) with the process's tuners, over [`tilings`].
    pub fn tune(rt: &Runtime, method: Method, dtype: DType, sample: &HostBuffer) -> Result<TunedCodec, HostError> {
        TunedCodec::tune_among(rt, CodecTuners::global(), method, dtype, sample, &tilings(rt, method))
    }

    /// [`TunedCodec::tune`] with given tuners and candidates. On a CUDA runtime the
    /// sample is copied to the GPU once and the kernels run on device buffers.
    pub fn tune_among(
        rt: &Runtime,
        tuners: &CodecTuners,
        method: Method,
        dtype: DType,
        sample: &HostBuffer,
        candidates: &[Tiling],
    ) -> Result<TunedCodec, HostError> {
        if sample.dtype() != dtype || sample.is_empty() {
            let problem = format!("the sample ({} {} values) must be non-empty {dtype}", sample.len(), sample.dtype());
            return Err(input_error("autotune", problem));
        }
        let key = TuneKey::new().exact("method", format!("{method:?}")).exact("dtype", dtype).bucket("n", sample.len());
        let mut codecs = Codecs::new(rt, method, dtype);
        // Made at the first measurement: a remembered choice allocates (and uploads) nothing.
        let mut buffers = None;
        let quantize = tuners.quantize.tune(rt, &key, candidates, |&t| {
            let codec = codecs.get(t)?;
            let (x, encoded) = made(&mut buffers, rt, method, sample)?.quantize_args();
            codec.launch_quantize(rt, x, encoded)
        })?;
        // The encoded buffers now hold the sample's codes, unless quantize's choice was
        // remembered; then they are zeros, which dequantize just as fast.
        let dequantize = tuners.dequantize.tune(rt, &key, candidates, |&t| {
            let codec = codecs.get(t)?;
            let (encoded, out) = made(&mut buffers, rt, method, sample)?.dequantize_args();
            codec.launch_dequantize(rt, encoded, out)
        })?;
        Ok(TunedCodec {
            quantize: codecs.take(quantize.config)?,
            dequantize: codecs.take(dequantize.config)?,
            tunings: [quantize, dequantize],
        })
    }

    /// The chosen tilings, quantize first.
    pub fn tilings(&self) -> [Tiling; 2] {
        [self.tunings[0].config, self.tunings[1].config]
    }

    /// How each choice was made (measured now, remembered or stored), quantize first.
    pub fn tunings(&self) -> &[Tuned<Tiling>; 2] {
        &self.tunings
    }

    /// The kernels quantize runs.
    pub fn quantize_codec(&self) -> &Codec {
        &self.quantize
    }

    /// The kernels dequantize runs.
    pub fn dequantize_codec(&self) -> &Codec {
        &self.dequantize
    }

    /// Zeroed outputs for `n` values.
    pub fn encoded(&self, n: usize) -> Encoded {
        self.quantize.encoded(n)
    }

    /// What `n` values store.
    pub fn storage(&self, n: usize) -> Storage {
        self.quantize.storage(n)
    }

    pub fn quantize_into(&self, rt: &Runtime, x: &HostBuffer, out: &mut Encoded) -> Result<(), HostError> {
        self.quantize.quantize_into(rt, x, out)
    }

    pub fn dequantize_into(&self, rt: &Runtime, q: &Encoded, out: &mut HostBuffer) -> Result<(), HostError> {
        self.dequantize.dequantize_into(rt, q, out)
    }

    /// [`Codec::launch_quantize`] with the tuned quantize kernels.
    pub fn launch_quantize<'a>(&self, rt: &Runtime, x: Arg<'a>, encoded: Vec<Arg<'a>>) -> Result<(), HostError> {
        self.quantize.launch_quantize(rt, x, encoded)
    }

    /// [`Codec::launch_dequantize`] with the tuned dequantize kernels.
    pub fn launch_dequantize<'a>(&self, rt: &Runtime, encoded: Vec<Arg<'a>>, out: Arg<'a>) -> Result<(), HostError> {
        self.dequantize.launch_dequantize(rt, encoded, out)
    }

    /// Quantizes and dequantizes `x`: the reconstruction, in `x`'s dtype.
    pub fn roundtrip(&self, rt: &Runtime, x: &HostBuffer) -> Result<HostBuffer, HostError> {
        super::codec::roundtrip([&self.quantize, &self.dequantize], rt, x)
    }
}

/// The candidates' kernels, compiled on first use (the tuner's untimed first call).
struct Codecs<'r> {
    rt: &'r Runtime,
    method: Method,
    dtype: DType,
    compiled: HashMap<Tiling, Codec>,
}

impl<'r> Codecs<'r> {
    fn new(rt: &'r Runtime, method: Method, dtype: DType) -> Codecs<'r> {
        Codecs { rt, method, dtype, compiled: HashMap::new() }
    }

    fn get(&mut self, t: Tiling) -> Result<&Codec, HostError> {
        if !self.compiled.contains_key(&t) {
            let codec = t.compile(self.rt, self.method, self.dtype)?;
            self.compiled.insert(t, codec);
        }
        Ok(&self.compiled[&t])
    }

    /// The kernels of `t`, compiled now if no measurement did (a remembered choice).
    fn take(&mut self, t: Tiling) -> Result<Codec, HostError> {
        self.get(t)?;
        Ok(self.compiled.remove(&t).expect("compiled above"))
    }
}

/// The buffers in `slot`, made first if it is empty.
fn made<'b, 's>(
    slot: &'b mut Option<LaunchBuffers<'s>>,
    rt: &Runtime,
    method: Method,
    sample: &'s HostBuffer,
) -> Result<&'b mut LaunchBuffers<'s>, HostError> {
    if slot.is_none() {
        *slot = Some(LaunchBuffers::new(rt, method, sample)?);
    }
    Ok(slot.as_mut().expect("filled above"))
}
