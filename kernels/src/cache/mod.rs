//! AQUA-KV's compressed KV cache (`DESIGN.md`): per sequence, the first tokens (attention
//! sinks, 4 by default) and the most recent ones (up to a window, 128 by default) stay in
//! 16 bits; when the window is full, its tokens are compressed as one chunk, through the
//! predictor chain across the model's layers ([`Predictors::compress`]), and the window
//! starts again. Appending keeps nothing else: a chunk is its codes.
//!
//! Tokens are appended to every layer at once (a chunk's layer `l` is predicted from its
//! layer `l - 1`), and [`CompressedCache::restore`] gives every layer's keys and values as
//! a decoder reads them: sinks, chunks decoded in order ([`Predictors::decode`]), window.
//! Tokens kept whole are rounded to f16 as the quantizers' outputs are (saturating at
//! ±65504, `quant::element`).
//!
//! ```
//! use aqua_kernels::cache::{CacheConfig, CompressedCache};
//! use aqua_kernels::data::{kv_file::read_kv_layers, BUNDLED};
//! use aqua_kernels::host::codec::Method;
//! use aqua_kernels::predict::quantizers::{ChainMethods, ReferenceQuantizer};
//! use aqua_kernels::predict::{LayerValues, Predictors};
//! use aqua_kernels::quant::{relative_error, Grouping, Uniform};
//!
//! // The bundled slice: 8 layers of 512 tokens x 192 channels.
//! let layers: Vec<LayerValues> = read_kv_layers(BUNDLED)?.iter().map(LayerValues::of).collect();
//! // 2-bit residuals, a chain's first layer at 4 bits (`KernelQuantizer` runs the kernels).
//! let uniform = |bits| Method::Uniform(Uniform::new(bits, 64).unwrap(), Grouping::Channels);
//! let mut q = ReferenceQuantizer::new(ChainMethods { first: [uniform(4); 2], residual: [uniform(2); 2] });
//! // Maps fitted on the first 256 tokens (or made by `aqua calibrate`: `Predictors::from_file`).
//! let maps = Predictors::calibrate(layers.iter().map(|l| l.tokens(0..256, 192)), 192, &mut q, |_, _| {})?;
//!
//! let order = layers.iter().map(|l| l.layer).collect();
//! let mut cache = CompressedCache::new(&maps, order, CacheConfig { sinks: 4, window: 128 })?;
//! for t in 256..512 {
//!     // One token at a time, as generation makes them, to every layer.
//!     let token: Vec<_> = layers.iter().map(|l| l.tokens(t..t + 1, 192)).collect();
//!     cache.append(&token, &mut q)?;
//! }
//! assert_eq!((cache.tokens(), cache.chunks()), (256, 1)); // 4 sinks, 128 compressed, 124 recent
//! let restored = cache.restore(&mut q)?;
//! let keys = layers[3].tokens(256..512, 192).k;
//! // Sinks and window hold the slice's f16 values exactly.
//! assert!(restored[3].k[..4 * 192] == keys[..4 * 192] && restored[3].k[132 * 192..] == keys[132 * 192..]);
//! println!("layer 3 keys: relative error {:.4}", relative_error(keys, &restored[3].k));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use half::f16;

use crate::predict::{EncodedLayer, Layer, LayerValues, PredictError, Predictors, Quantizer};
use crate::quant::{Element, Storage};

/// How many tokens stay in 16 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The sequence's first tokens, kept whole (attention sinks).
    pub sinks: usize,
    /// Recent tokens kept whole; when this many are held they are compressed as a chunk.
    pub window: usize,
}

impl Default for CacheConfig {
    /// `DESIGN.md`'s: 4 sinks, a window of 128.
    fn default() -> CacheConfig {
        CacheConfig { sinks: 4, window: 128 }
    }
}

/// One layer's tokens held in 16 bits, `[tokens, channels]`.
#[derive(Clone, Debug, Default, PartialEq)]
struct Tokens16 {
    k: Vec<f16>,
    v: Vec<f16>,
}

/// A sequence's keys and values over the layers of a model, compressed as it grows.
#[derive(Clone, Debug)]
pub struct CompressedCache<'p> {
    predictors: &'p Predictors,
    config: CacheConfig,
    /// The model's layers the cache holds, in increasing order.
    layers: Vec<usize>,
    tokens: usize,
    /// Per layer.
    sinks: Vec<Tokens16>,
    /// Per chunk, per layer: what the chain stored.
    chunks: Vec<Vec<EncodedLayer>>,
    /// Per layer: the window's tokens.
    recent: Vec<Tokens16>,
}

impl<'p> CompressedCache<'p> {
    /// An empty cache of `layers` (the model's layer indices, increasing) compressing
    /// with `predictors`.
    pub fn new(predictors: &'p Predictors, layers: Vec<usize>, config: CacheConfig) -> Result<Self, PredictError> {
        if predictors.channels() == 0 {
            return Err(PredictError::Shape("predictors for tokens of 0 channels".into()));
        }
        if config.window == 0 {
            return Err(PredictError::Shape("a window of 0 tokens: the cache would compress nothing".into()));
        }
        if layers.is_empty() || layers.windows(2).any(|w| w[0] >= w[1]) {
            return Err(PredictError::Shape(format!("layers {layers:?} are not a non-empty increasing list")));
        }
        let empty = vec![Tokens16::default(); layers.len()];
        Ok(CompressedCache {
            predictors,
            config,
            layers,
            tokens: 0,
            sinks: empty.clone(),
            chunks: Vec::new(),
            recent: empty,
        })
    }

    /// Tokens held.
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// Chunks compressed so far.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Appends the same tokens to every layer: `new[i]` holds layer `layers[i]`'s keys
    /// and values of those tokens, `[n, channels]`. Sink places are filled first; every
    /// time the window fills, it is compressed with `quantizer`.
    pub fn append(&mut self, new: &[Layer], quantizer: &mut dyn Quantizer) -> Result<(), PredictError> {
        let channels = self.predictors.channels();
        let got: Vec<usize> = new.iter().map(|l| l.layer).collect();
        if got != self.layers {
            return Err(PredictError::Shape(format!(
                "tokens of layers {got:?} for a cache of layers {:?}",
                self.layers
            )));
        }
        let n = new[0].k.len() / channels;
        if let Some(l) = new.iter().find(|l| l.k.len() != n * channels || l.v.len() != n * channels) {
            return Err(PredictError::Layer {
                layer: l.layer,
                problem: format!(
                    "{} keys and {} values are not {n} tokens of {channels}, as the first layer's",
                    l.k.len(),
                    l.v.len()
                ),
            });
        }
        let mut t = 0;
        while t < n {
            let sink_room = self.config.sinks.saturating_sub(self.tokens);
            let (into_sinks, take) = if sink_room > 0 {
                (true, sink_room.min(n - t))
            } else {
                (false, (self.config.window - self.window_tokens()).min(n - t))
            };
            for (i, layer) in new.iter().enumerate() {
                let to = if into_sinks { &mut self.sinks[i] } else { &mut self.recent[i] };
                let rows = t * channels..(t + take) * channels;
                to.k.extend(layer.k[rows.clone()].iter().map(|&x| f16::narrow(x)));
                to.v.extend(layer.v[rows].iter().map(|&x| f16::narrow(x)));
            }
            self.tokens += take;
            t += take;
            if self.window_tokens() == self.config.window {
                self.compress_window(quantizer)?;
            }
        }
        Ok(())
    }

    /// Tokens in the window.
    fn window_tokens(&self) -> usize {
        self.recent[0].k.len() / self.predictors.channels()
    }

    /// Compresses the window's tokens as a chunk and empties it.
    fn compress_window(&mut self, quantizer: &mut dyn Quantizer) -> Result<(), PredictError> {
        let widened: Vec<(Vec<f32>, Vec<f32>)> = self.recent.iter().map(|t| (widen(&t.k), widen(&t.v))).collect();
        let layers = self.layers.iter().zip(&widened).map(|(&layer, (k, v))| Layer { layer, k, v });
        let mut chunk = Vec::with_capacity(self.layers.len());
        self.predictors.compress(layers, quantizer, |_, restored| chunk.push(restored.encoded()))?;
        self.chunks.push(chunk);
        self.recent.iter_mut().for_each(|t| *t = Tokens16::default());
        Ok(())
    }

    /// Every layer's keys and values as a decoder reads them, `[tokens, channels]` f32,
    /// in the cache's layer order: the sinks, each chunk decoded, the window.
    pub fn restore(&self, quantizer: &mut dyn Quantizer) -> Result<Vec<LayerValues>, PredictError> {
        let mut out: Vec<LayerValues> = self
            .layers
            .iter()
            .zip(&self.sinks)
            .map(|(&layer, t)| LayerValues { layer, k: widen(&t.k), v: widen(&t.v) })
            .collect();
        for chunk in &self.chunks {
            let mut i = 0;
            self.predictors.decode(chunk, quantizer, |restored| {
                out[i].k.extend_from_slice(&restored.k);
                out[i].v.extend_from_slice(&restored.v);
                i += 1;
            })?;
        }
        for (o, t) in out.iter_mut().zip(&self.recent) {
            o.k.extend(widen(&t.k));
            o.v.extend(widen(&t.v));
        }
        Ok(out)
    }

    /// What the cache stores: the chunks' codes and parameters, and the tokens kept in
    /// 16 bits (the predictors' maps are the model's, not the cache's).
    pub fn storage(&self) -> Storage {
        let whole: usize = self.sinks.iter().chain(&self.recent).map(|t| t.k.len() + t.v.len()).sum();
        let codes =
            self.chunks.iter().flatten().flat_map(|l| &l.codes).fold(Storage::default(), |s, c| s.plus(c.storage()));
        codes.plus(Storage { fp16_values: whole, ..Storage::default() })
    }
}

fn widen(v: &[f16]) -> Vec<f32> {
    v.iter().map(|x| x.to_f32()).collect()
}
