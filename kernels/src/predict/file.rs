//! The predictors file: fitted maps as safetensors, so that a model is calibrated once
//! and its maps used by every later run (`aqua calibrate`, `aqua quant-eval --predictors`).
//!
//! Tensors, f32 and row-major as [`Linear`] holds them: `layers.{l}.keys.weight`
//! `[C, C]`, `layers.{l}.keys.bias` `[C]`, `layers.{l}.values.weight` `[2C, C]` and
//! `layers.{l}.values.bias` `[C]` for every predicted layer `l`. f32, not f16: the maps
//! then predict exactly what they predicted when they were fitted. Metadata:
//! `format = aqua-kv-predictors`, `version = 1`, `channels = C`, and the caller's own
//! entries (what the maps were calibrated with and on). Reading checks every name,
//! dtype, shape and value, and says what is wrong with a file that is truncated, foreign,
//! of another version, or incomplete.

use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::chain::{LayerPredictors, Predictors};
use super::ridge::Linear;
use super::PredictError;

/// The `format` entry of the metadata.
pub const FORMAT: &str = "aqua-kv-predictors";
/// The `version` entry this code writes and reads.
pub const VERSION: &str = "1";
/// Metadata keys the file format owns.
const RESERVED: [&str; 3] = ["format", "version", "channels"];

/// The most channels a file may declare (tensors' sizes are computed from it).
const MAX_CHANNELS: usize = 1 << 20;

/// The two maps of a layer, by the name their tensors carry.
const MAPS: [&str; 2] = ["keys", "values"];

impl Predictors {
    /// The maps as a predictors file, with `info` (what they were calibrated with and
    /// on) beside the format's own entries, which `info` may not name.
    pub fn to_file(&self, info: &BTreeMap<String, String>) -> Result<Vec<u8>, PredictError> {
        if let Some(key) = RESERVED.iter().find(|k| info.contains_key(**k)) {
            return Err(file_error(format!("the metadata entry `{key}` belongs to the file format")));
        }
        let mut metadata: HashMap<String, String> = info.clone().into_iter().collect();
        metadata.insert("format".into(), FORMAT.into());
        metadata.insert("version".into(), VERSION.into());
        metadata.insert("channels".into(), self.channels().to_string());
        let mut tensors: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
        for p in self.layers() {
            for (map, linear) in MAPS.iter().zip([&p.keys, &p.values]) {
                let name = |part| format!("layers.{}.{map}.{part}", p.layer);
                tensors.push((name("weight"), le_bytes(linear.weight()), vec![linear.inputs(), linear.outputs()]));
                tensors.push((name("bias"), le_bytes(linear.bias()), vec![linear.outputs()]));
            }
        }
        let views = tensors
            .iter()
            .map(|(name, bytes, shape)| Ok((name.as_str(), TensorView::new(Dtype::F32, shape.clone(), bytes)?)))
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()
            .map_err(|e| file_error(crate::data::describe(&e)))?;
        safetensors::serialize(views, &Some(metadata)).map_err(|e| file_error(crate::data::describe(&e)))
    }

    /// The maps of a predictors file and its caller entries (the format's own removed).
    pub fn from_file(bytes: &[u8]) -> Result<(Predictors, BTreeMap<String, String>), PredictError> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| file_error(format!("not a safetensors file: {}", crate::data::describe(&e))))?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| file_error(crate::data::describe(&e)))?;
        let mut info: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();
        match info.remove("format").as_deref() {
            Some(FORMAT) => {}
            Some(other) => return Err(file_error(format!("a `{other}` file, not {FORMAT}"))),
            None => return Err(file_error(format!("no `format` entry: not an {FORMAT} file"))),
        }
        match info.remove("version").as_deref() {
            Some(VERSION) => {}
            other => {
                return Err(file_error(format!(
                    "version {}; this aqua reads version {VERSION}",
                    other.unwrap_or("(none)")
                )))
            }
        }
        let channels: usize = info
            .remove("channels")
            .and_then(|c| c.parse().ok())
            .filter(|&c| c > 0 && c <= MAX_CHANNELS)
            .ok_or_else(|| file_error(format!("no `channels` entry from 1 to {MAX_CHANNELS}")))?;

        let mut maps: BTreeMap<usize, [Option<Linear>; 2]> = BTreeMap::new();
        let mut names: Vec<String> = st.names().into_iter().cloned().collect();
        names.sort();
        for name in names.iter().filter(|n| n.ends_with(".weight")) {
            let (layer, map) = parse_name(name)?;
            let prefix = name.trim_end_matches(".weight");
            let inputs = if map == 0 { channels } else { 2 * channels };
            let weight = read_f32(&st, name, &[inputs, channels])?;
            let bias = read_f32(&st, &format!("{prefix}.bias"), &[channels])?;
            let linear = Linear::from_parts(inputs, channels, weight, bias)
                .map_err(|e| file_error(format!("`{prefix}`: {e}")))?;
            maps.entry(layer).or_default()[map] = Some(linear);
        }
        if let Some(stray) = names.iter().find(|n| {
            !(n.ends_with(".weight") || n.ends_with(".bias")) || parse_name(&n.replace(".bias", ".weight")).is_err()
        }) {
            return Err(file_error(format!("unexpected tensor `{stray}`")));
        }
        if let Some(bias) =
            names.iter().filter(|n| n.ends_with(".bias")).find(|n| !names.contains(&n.replace(".bias", ".weight")))
        {
            return Err(file_error(format!("`{bias}` without its weight")));
        }
        let layers = maps
            .into_iter()
            .map(|(layer, [keys, values])| match (keys, values) {
                (Some(keys), Some(values)) => Ok(LayerPredictors { layer, keys, values }),
                (None, _) => {
                    Err(file_error(format!("layer {layer} has values maps but no `layers.{layer}.keys.weight`")))
                }
                (_, None) => {
                    Err(file_error(format!("layer {layer} has keys maps but no `layers.{layer}.values.weight`")))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Predictors::new(channels, layers)?, info))
    }
}

/// `(layer, map)` of a weight's name `layers.{l}.{keys|values}.weight`.
fn parse_name(name: &str) -> Result<(usize, usize), PredictError> {
    let bad = || file_error(format!("unexpected tensor `{name}`"));
    let rest = name.strip_prefix("layers.").and_then(|r| r.strip_suffix(".weight")).ok_or_else(bad)?;
    let (layer, map) = rest.split_once('.').ok_or_else(bad)?;
    let layer = layer.parse().map_err(|_| bad())?;
    let map = MAPS.iter().position(|m| *m == map).ok_or_else(bad)?;
    Ok((layer, map))
}

/// The f32 values of tensor `name`, which must have `shape`.
fn read_f32(st: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, PredictError> {
    let t = st.tensor(name).map_err(|_| file_error(format!("no tensor `{name}`")))?;
    if t.dtype() != Dtype::F32 {
        return Err(file_error(format!("`{name}` is {:?}, expected F32", t.dtype())));
    }
    if t.shape() != shape {
        return Err(file_error(format!("`{name}` has shape {:?}, expected {shape:?}", t.shape())));
    }
    Ok(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// Values as safetensors stores them, little-endian.
fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn file_error(problem: String) -> PredictError {
    PredictError::File(problem)
}
