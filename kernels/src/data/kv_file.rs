//! Reading every layer's keys and values from a safetensors file: tensors `layers.{i}.k`
//! and `layers.{i}.v`, 2-D `[tokens, channels]`, f16 or f32. What `aqua quant-eval`
//! evaluates on; [`super::KvSlice`] is the f16-only, one-shape special case.

use half::f16;
use safetensors::{Dtype, SafeTensors};

use super::DataError;

/// A tensor's values in its stored dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::F16(v) => v.len(),
            Values::F32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value widened to f32.
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Values::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Values::F32(v) => v.clone(),
        }
    }
}

/// One 2-D tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor2 {
    pub rows: usize,
    pub cols: usize,
    pub values: Values,
}

/// One layer's keys and values.
#[derive(Clone, Debug, PartialEq)]
pub struct KvLayer {
    pub layer: usize,
    pub k: Tensor2,
    pub v: Tensor2,
}

/// Every `layers.{i}.k` of the file with its `layers.{i}.v`, in increasing layer order.
/// Errors name the tensor: a `.k` without its `.v` (or the reverse), a dtype other than
/// f16 or f32, a shape that is not 2-D, K and V of different shapes, or no layers at all.
pub fn read_kv_layers(bytes: &[u8]) -> Result<Vec<KvLayer>, DataError> {
    let st = SafeTensors::deserialize(bytes)?;
    let names = st.names();
    let index = |suffix: &str| -> Vec<usize> {
        let mut v: Vec<usize> = names
            .iter()
            .filter_map(|n| n.strip_prefix("layers.")?.strip_suffix(suffix)?.parse().ok())
            .collect();
        v.sort_unstable();
        v
    };
    let (ks, vs) = (index(".k"), index(".v"));
    for (have, lack, kind) in [(&ks, &vs, "v"), (&vs, &ks, "k")] {
        if let Some(i) = have.iter().find(|i| !lack.contains(i)) {
            return Err(DataError::Tensor {
                name: format!("layers.{i}.{kind}"),
                problem: "missing (the file has the other tensor of this layer)".into(),
            });
        }
    }
    if ks.is_empty() {
        return Err(DataError::Layout(
            "no `layers.{i}.k` / `layers.{i}.v` tensors in the file".into(),
        ));
    }
    ks.into_iter()
        .map(|layer| {
            let k = read_2d(&st, &format!("layers.{layer}.k"))?;
            let v = read_2d(&st, &format!("layers.{layer}.v"))?;
            if (k.rows, k.cols) != (v.rows, v.cols) {
                return Err(DataError::Layout(format!(
                    "layer {layer}: K is [{}, {}] but V is [{}, {}]",
                    k.rows, k.cols, v.rows, v.cols
                )));
            }
            Ok(KvLayer { layer, k, v })
        })
        .collect()
}

/// Reads a 2-D f16 or f32 tensor.
pub(crate) fn read_2d(st: &SafeTensors<'_>, name: &str) -> Result<Tensor2, DataError> {
    let bad = |problem: String| DataError::Tensor {
        name: name.to_string(),
        problem,
    };
    let t = st.tensor(name).map_err(|e| bad(e.to_string()))?;
    let &[rows, cols] = t.shape() else {
        return Err(bad(format!("shape {:?} is not 2-D [tokens, channels]", t.shape())));
    };
    let values = match t.dtype() {
        Dtype::F16 => Values::F16(
            t.data()
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]))
                .collect(),
        ),
        Dtype::F32 => Values::F32(
            t.data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        other => return Err(bad(format!("dtype is {other:?}, expected F16 or F32"))),
    };
    Ok(Tensor2 { rows, cols, values })
}
