//! The AQUA-KV chain over a model's layers (`DESIGN.md`):
//!
//! - a chain's first layer stores its keys and values quantized whole (at 4 bits);
//! - every later layer `l` predicts `K_pred = K^_{l-1} A_l + a_l`, stores
//!   `K^_l = K_pred + Q(K_l - K_pred)`, then predicts `V_pred = [K^_l, V^_{l-1}] B_l + b_l`
//!   and stores `V^_l = V_pred + Q(V_l - V_pred)`.
//!
//! Inputs are always the reconstructions (`K^`, `V^`), as a decoder has nothing else;
//! [`Predictors::calibrate`] fits each map on them in order, so a map learns to correct
//! the quantization error that came before it. A layer whose predecessor is not in the
//! data (a slice of chosen layers) starts a new chain.
//!
//! The chain keeps only the previous layer's reconstruction; each layer's is handed to
//! the caller as it is made.

use std::borrow::Cow;
use std::ops::Range;

use super::ridge::{Linear, RIDGE};
use super::PredictError;
use crate::data::kv_file::KvLayer;
use crate::quant::Code;

/// Which half of a layer's cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Keys,
    Values,
}

/// How the chain stores a tensor (`[tokens, channels]`, f32): `first` for a chain's first
/// layer, quantized whole, else a residual; `part` says whether keys or values.
pub trait Quantizer {
    /// The codes that store `x`.
    fn encode(&mut self, part: Part, first: bool, x: &[f32]) -> Result<Code, PredictError>;

    /// The values `code` restores.
    fn decode(&mut self, part: Part, first: bool, code: &Code) -> Result<Vec<f32>, PredictError>;

    /// `x` as a decoder restores it.
    fn roundtrip(&mut self, part: Part, first: bool, x: &[f32]) -> Result<Vec<f32>, PredictError> {
        let code = self.encode(part, first, x)?;
        self.decode(part, first, &code)
    }
}

/// One layer's keys and values, `[tokens, channels]` row-major f32.
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// The layer's index in the model.
    pub layer: usize,
    pub k: &'a [f32],
    pub v: &'a [f32],
}

/// One layer's keys and values held in f32, which [`Layer`]s borrow.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerValues {
    pub layer: usize,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
}

impl LayerValues {
    /// A layer of a KV file, widened to f32.
    pub fn of(kv: &KvLayer) -> LayerValues {
        LayerValues { layer: kv.layer, k: kv.k.values.to_f32(), v: kv.v.values.to_f32() }
    }

    /// Tokens `tokens` of the layer, of `channels` values each (panics past the layer's
    /// values, as slicing does).
    pub fn tokens(&self, tokens: Range<usize>, channels: usize) -> Layer<'_> {
        let values = tokens.start * channels..tokens.end * channels;
        Layer { layer: self.layer, k: &self.k[values.clone()], v: &self.v[values] }
    }

    /// Every token of the layer.
    pub fn all(&self) -> Layer<'_> {
        Layer { layer: self.layer, k: &self.k, v: &self.v }
    }
}

/// A layer as a decoder restores it, and what the chain stored of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Restored {
    pub layer: usize,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    /// Whether its predecessor predicted it (else it started a chain).
    pub predicted: bool,
    /// The codes of its keys and values: residuals where it was predicted, else the
    /// values themselves.
    pub codes: [Code; 2],
}

impl Restored {
    /// What the chain stored of the layer (copies of the codes).
    pub fn encoded(&self) -> EncodedLayer {
        EncodedLayer { layer: self.layer, predicted: self.predicted, codes: self.codes.clone() }
    }
}

/// A layer as the chain stores it: the codes of its keys and values, and whether they
/// are residuals of a prediction from the layer before.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedLayer {
    pub layer: usize,
    pub predicted: bool,
    /// Keys, values.
    pub codes: [Code; 2],
}

/// The maps of a layer that follows the one before it.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerPredictors {
    pub layer: usize,
    /// `K^_{l-1} -> K_l`: `[channels, channels]` and `[channels]`.
    pub keys: Linear,
    /// `[K^_l, V^_{l-1}] -> V_l`: `[2 * channels, channels]` and `[channels]`.
    pub values: Linear,
}

/// A model's fitted maps, by layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictors {
    channels: usize,
    layers: Vec<LayerPredictors>,
}

/// Whether the chain fits its maps or applies fitted ones.
enum Mode<'p> {
    Fit(Vec<LayerPredictors>),
    Apply(&'p Predictors),
}

impl Predictors {
    /// Fits every map of `layers` (in increasing order of `layer`; tokens of the
    /// calibration data), in order, on the reconstructions `quantizer` makes, and hands
    /// each layer's reconstruction to `restored` as it goes.
    pub fn calibrate<'a>(
        layers: impl IntoIterator<Item = Layer<'a>>,
        channels: usize,
        quantizer: &mut dyn Quantizer,
        restored: impl FnMut(&Layer<'a>, &Restored),
    ) -> Result<Predictors, PredictError> {
        let fitted = chain(layers, channels, quantizer, Mode::Fit(Vec::new()), restored)?;
        Ok(Predictors { channels, layers: fitted })
    }

    /// Compresses `layers` with these maps and hands each layer's reconstruction to
    /// `restored`: what a decoder restores from what the chain stores.
    pub fn compress<'a>(
        &self,
        layers: impl IntoIterator<Item = Layer<'a>>,
        quantizer: &mut dyn Quantizer,
        restored: impl FnMut(&Layer<'a>, &Restored),
    ) -> Result<(), PredictError> {
        chain(layers, self.channels, quantizer, Mode::Apply(self), restored).map(|_| ())
    }

    /// Maps fitted before (a predictors file's): keys maps of `channels` inputs, values
    /// maps of `2 * channels`, both to `channels` outputs, for layers after the first in
    /// increasing order.
    pub fn new(channels: usize, layers: Vec<LayerPredictors>) -> Result<Predictors, PredictError> {
        let mut before = 0;
        for p in &layers {
            let bad = |problem: String| PredictError::Layer { layer: p.layer, problem };
            if p.layer == 0 {
                return Err(bad("layer 0 has no layer before it to be predicted from".into()));
            }
            if p.layer <= before {
                return Err(bad(format!("maps must come in increasing layer order; {} follows {before}", p.layer)));
            }
            for (what, map, inputs) in [("keys", &p.keys, channels), ("values", &p.values, 2 * channels)] {
                if (map.inputs(), map.outputs()) != (inputs, channels) {
                    return Err(bad(format!(
                        "the {what} map takes {} inputs to {} outputs, not {inputs} to {channels}",
                        map.inputs(),
                        map.outputs()
                    )));
                }
            }
            before = p.layer;
        }
        Ok(Predictors { channels, layers })
    }

    /// Restores layers from what [`Predictors::compress`] (or calibration) stored of them,
    /// in the same order, and hands each to `restored`: the values the encoder restored,
    /// bit for bit.
    pub fn decode<'c>(
        &self,
        layers: impl IntoIterator<Item = &'c EncodedLayer>,
        quantizer: &mut dyn Quantizer,
        mut restored: impl FnMut(&Restored),
    ) -> Result<(), PredictError> {
        let channels = self.channels;
        let mut previous: Option<Restored> = None;
        for stored in layers {
            let l = stored.layer;
            let bad = |problem: String| PredictError::Layer { layer: l, problem };
            let [k_code, v_code] = &stored.codes;
            let (k, v) = if stored.predicted {
                let prev = previous.as_ref().filter(|p| p.layer + 1 == l).ok_or_else(|| {
                    bad(format!(
                        "its codes are residuals of a prediction, and layer {} is not before it",
                        l.wrapping_sub(1)
                    ))
                })?;
                let maps = self.get(l).ok_or_else(|| bad("no predictors for it".into()))?;
                // Residual codes of other token counts than the layer before would leave
                // part of a prediction without its residual.
                let residual = |quantizer: &mut dyn Quantizer, part, code: &Code| {
                    let r = quantizer.decode(part, false, code)?;
                    match r.len() == prev.k.len() {
                        true => Ok(r),
                        false => Err(bad(format!(
                            "{} residual values after {} of layer {}",
                            r.len(),
                            prev.k.len(),
                            prev.layer
                        ))),
                    }
                };
                let k = plus(maps.keys.predict(&prev.k)?, &residual(quantizer, Part::Keys, k_code)?);
                let inputs = side_by_side(&k, &prev.v, channels);
                let v = plus(maps.values.predict(&inputs)?, &residual(quantizer, Part::Values, v_code)?);
                (k, v)
            } else {
                (quantizer.decode(Part::Keys, true, k_code)?, quantizer.decode(Part::Values, true, v_code)?)
            };
            if k.len() != v.len() || !k.len().is_multiple_of(channels) {
                return Err(bad(format!("codes of {} keys and {} values for tokens of {channels}", k.len(), v.len())));
            }
            let current = Restored { layer: l, k, v, predicted: stored.predicted, codes: stored.codes.clone() };
            restored(&current);
            previous = Some(current);
        }
        Ok(())
    }

    /// The maps of `layer`, if it follows a layer of the calibration data.
    pub fn get(&self, layer: usize) -> Option<&LayerPredictors> {
        self.layers.iter().find(|p| p.layer == layer)
    }

    pub fn layers(&self) -> &[LayerPredictors] {
        &self.layers
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Parameters of every map: stored once per model, not per token.
    pub fn parameters(&self) -> usize {
        self.layers.iter().map(|p| p.keys.parameters() + p.values.parameters()).sum()
    }
}

/// The chain over `layers`; in [`Mode::Fit`], the maps it fitted.
fn chain<'a>(
    layers: impl IntoIterator<Item = Layer<'a>>,
    channels: usize,
    quantizer: &mut dyn Quantizer,
    mut mode: Mode<'_>,
    mut restored: impl FnMut(&Layer<'a>, &Restored),
) -> Result<Vec<LayerPredictors>, PredictError> {
    let mut previous: Option<Restored> = None;
    let mut tokens: Option<usize> = None;
    for layer in layers {
        let l = layer.layer;
        let bad = |problem: String| PredictError::Layer { layer: l, problem };
        check_shape(&layer, channels, &mut tokens).map_err(bad)?;
        if let Some(p) = previous.as_ref().filter(|p| p.layer >= l) {
            return Err(bad(format!("layers must come in increasing order; {l} follows {}", p.layer)));
        }
        let follows = previous.as_ref().filter(|p| p.layer + 1 == l);
        let current = match follows {
            None => {
                let (k_code, k) = store(quantizer, Part::Keys, true, layer.k)?;
                let (v_code, v) = store(quantizer, Part::Values, true, layer.v)?;
                Restored { layer: l, k, v, predicted: false, codes: [k_code, v_code] }
            }
            Some(prev) => {
                let fitted = match &mode {
                    Mode::Fit(_) => None,
                    Mode::Apply(p) => Some(p.get(l).ok_or_else(|| {
                        bad(format!("no predictors: the calibration data has no layer {l} after layer {}", l - 1))
                    })?),
                };
                let keys = match fitted {
                    Some(p) => Cow::Borrowed(&p.keys),
                    None => Cow::Owned(Linear::fit(&prev.k, layer.k, channels, channels, RIDGE)?),
                };
                let (k_code, k) = predict_and_store(&keys, &prev.k, layer.k, Part::Keys, quantizer)?;
                let inputs = side_by_side(&k, &prev.v, channels);
                let values = match fitted {
                    Some(p) => Cow::Borrowed(&p.values),
                    None => Cow::Owned(Linear::fit(&inputs, layer.v, 2 * channels, channels, RIDGE)?),
                };
                let (v_code, v) = predict_and_store(&values, &inputs, layer.v, Part::Values, quantizer)?;
                if let Mode::Fit(fits) = &mut mode {
                    fits.push(LayerPredictors { layer: l, keys: keys.into_owned(), values: values.into_owned() });
                }
                Restored { layer: l, k, v, predicted: true, codes: [k_code, v_code] }
            }
        };
        restored(&layer, &current);
        previous = Some(current);
    }
    Ok(match mode {
        Mode::Fit(fits) => fits,
        Mode::Apply(_) => Vec::new(),
    })
}

/// The layer's tensors are `[tokens, channels]`, with the tokens of the layers before.
fn check_shape(layer: &Layer, channels: usize, tokens: &mut Option<usize>) -> Result<(), String> {
    if channels == 0 || !layer.k.len().is_multiple_of(channels) || layer.k.len() != layer.v.len() {
        return Err(format!(
            "keys of {} and values of {} values are not both [tokens, {channels}]",
            layer.k.len(),
            layer.v.len()
        ));
    }
    let t = layer.k.len() / channels;
    match *tokens {
        Some(before) if before != t => Err(format!("{t} tokens where the layers before have {before}")),
        _ => {
            *tokens = Some(t);
            Ok(())
        }
    }
}

/// The codes that store `x`, and what they restore.
fn store(quantizer: &mut dyn Quantizer, part: Part, first: bool, x: &[f32]) -> Result<(Code, Vec<f32>), PredictError> {
    let code = quantizer.encode(part, first, x)?;
    let restored = quantizer.decode(part, first, &code)?;
    if restored.len() != x.len() {
        return Err(PredictError::Shape(format!("the quantizer restored {} of {} values", restored.len(), x.len())));
    }
    Ok((code, restored))
}

/// The codes of the residual `target - map(inputs)`, and the prediction plus what they
/// restore.
fn predict_and_store(
    map: &Linear,
    inputs: &[f32],
    target: &[f32],
    part: Part,
    quantizer: &mut dyn Quantizer,
) -> Result<(Code, Vec<f32>), PredictError> {
    let prediction = map.predict(inputs)?;
    let residual: Vec<f32> = target.iter().zip(&prediction).map(|(x, p)| x - p).collect();
    let (code, stored) = store(quantizer, part, false, &residual)?;
    Ok((code, plus(prediction, &stored)))
}

/// `prediction + residual`, as both the encoder and the decoder add them.
fn plus(mut prediction: Vec<f32>, residual: &[f32]) -> Vec<f32> {
    prediction.iter_mut().zip(residual).for_each(|(p, r)| *p += r);
    prediction
}

/// `[a, b]` row by row: `[tokens, 2 * channels]` from two `[tokens, channels]`.
fn side_by_side(a: &[f32], b: &[f32], channels: usize) -> Vec<f32> {
    a.chunks_exact(channels).zip(b.chunks_exact(channels)).flat_map(|(x, y)| x.iter().chain(y)).copied().collect()
}
