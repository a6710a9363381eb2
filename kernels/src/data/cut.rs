//! Cutting a small KV slice (some layers, some token rows) out of the full safetensors
//! dump, with its provenance recorded in the file's metadata. `aqua slice-kv` runs this;
//! the bundled slice was made with it, and a test checks that it reproduces the bundle.

use std::ops::Range;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use super::{read_f16, DataError};

/// Which part of the source to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CutSpec {
    /// Layer indices (`layers.{i}.k` and `.v`), kept in increasing order.
    pub layers: Vec<usize>,
    /// Token rows to keep.
    pub rows: Range<usize>,
}

/// What the slice records about where it came from, besides the source's hash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The source file's name (not its path: the slice must not depend on where it was cut).
    pub source_name: String,
    /// The model that produced the activations.
    pub model: String,
    /// What the kept rows are (which text).
    pub rows_note: String,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Cuts `spec` out of `source` (a safetensors file of `layers.{i}.k`/`.v`, f16 `[tokens,
/// channels]`) into a new safetensors file whose metadata entry `provenance` (JSON with
/// sorted keys) names the source, its SHA-256, the model, the layers and the rows. The
/// output is a function of its inputs only (byte for byte).
pub fn cut(source: &[u8], spec: &CutSpec, origin: &Origin) -> Result<Vec<u8>, DataError> {
    if spec.rows.is_empty() {
        return Err(DataError::Layout(format!("empty row range {:?}", spec.rows)));
    }
    let st = SafeTensors::deserialize(source)?;
    let mut layers = spec.layers.clone();
    layers.sort_unstable();
    layers.dedup();
    let mut tensors: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
    for &layer in &layers {
        for kind in ["k", "v"] {
            let name = format!("layers.{layer}.{kind}");
            let (values, (rows, cols)) = read_f16(&st, &name)?;
            if spec.rows.end > rows {
                return Err(DataError::Layout(format!(
                    "`{name}` has {rows} rows; rows {:?} were asked for",
                    spec.rows
                )));
            }
            let kept = &values[spec.rows.start * cols..spec.rows.end * cols];
            let bytes: Vec<u8> = kept.iter().flat_map(|x| x.to_le_bytes()).collect();
            tensors.push((name, bytes, vec![spec.rows.len(), cols]));
        }
    }
    let provenance = serde_json::json!({
        "source": origin.source_name,
        "source_sha256": sha256_hex(source),
        "model": origin.model,
        "layers": layers,
        "rows": [spec.rows.start, spec.rows.end],
        "rows_note": origin.rows_note,
        "layout": "layers.{i}.k / layers.{i}.v: f16 [tokens, channels], channel = kv_head * head_dim + dim, keys pre-RoPE",
    });
    let views = tensors
        .iter()
        .map(|(name, bytes, shape)| Ok((name.as_str(), TensorView::new(Dtype::F16, shape.clone(), bytes)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let meta = Some(
        [("provenance".to_string(), provenance.to_string())]
            .into_iter()
            .collect(),
    );
    Ok(safetensors::serialize(views, &meta)?)
}
