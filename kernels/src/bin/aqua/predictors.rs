//! What `aqua calibrate` and `aqua quant-eval --predict` share: the chain's methods for a
//! command line's variant, the warning for too few calibration tokens, and the predictors
//! file's entries saying what its maps were calibrated with, checked when it is read.

use std::collections::BTreeMap;
use std::path::Path;

use aqua_kernels::predict::quantizers::ChainMethods;
use aqua_kernels::predict::ridge::RIDGE;
use aqua_kernels::predict::Predictors;

use crate::error::CliError;
use crate::methods::Variant;

/// Bits of a chain's first layer (`DESIGN.md`).
pub const FIRST_LAYER_BITS: u32 = 4;

/// Calibration tokens per map input below which the commands warn of overfitting.
const OVERFIT_RATIO: usize = 4;

/// The chain's methods for `variant`: residuals as the variant says, a chain's first
/// layer at [`FIRST_LAYER_BITS`] (HIGGS on its 2-D grid).
pub fn chain_methods(variant: Variant, channels: usize, dim: usize) -> Result<ChainMethods, CliError> {
    let residual = variant.methods(channels, dim).map_err(CliError::usage)?;
    let first = Variant { bits: FIRST_LAYER_BITS, ..variant }.methods(channels, 2).map_err(CliError::usage)?;
    Ok(ChainMethods { first: [first.0, first.1], residual: [residual.0, residual.1] })
}

/// Warns when `calibration` tokens are too few for maps of tokens of `channels` values:
/// the values' maps take `2 * channels` inputs, and fitted on few more tokens than that
/// they learn the calibration tokens rather than the layers (the bundled slice's 256
/// tokens do worse than the quantizer alone on some layers).
pub fn warn_if_too_few(calibration: usize, channels: usize) {
    let inputs = 2 * channels;
    if calibration < OVERFIT_RATIO * inputs {
        eprintln!(
            "aqua: warning: {calibration} calibration tokens for maps of up to {inputs} inputs: fits on fewer than \
             {} tokens overfit, and on other tokens the chain can do worse than the quantizer alone",
            OVERFIT_RATIO * inputs
        );
    }
}

/// The entries of a predictors file saying which quantizer its maps were fitted for, in
/// the order a reader checks them: its run must quantize the same way.
fn quantizer_info(variant: Variant, dim: usize) -> [(&'static str, String); 5] {
    [
        ("method", variant.method.name().into()),
        ("bits", variant.bits.to_string()),
        ("group", variant.group.to_string()),
        ("dim", dim.to_string()),
        ("first_layer_bits", FIRST_LAYER_BITS.to_string()),
    ]
}

/// The entries of a predictors file saying what its maps were calibrated with and on.
pub fn calibration_info(
    variant: Variant,
    dim: usize,
    tokens: usize,
    source: &Path,
    source_sha256: &str,
) -> BTreeMap<String, String> {
    let source_name = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    quantizer_info(variant, dim)
        .into_iter()
        .chain([
            ("ridge", RIDGE.to_string()),
            ("calibration_tokens", tokens.to_string()),
            ("source", source_name),
            ("source_sha256", source_sha256.into()),
        ])
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

/// Reads a predictors file and checks that its maps were calibrated with `variant` on
/// tokens of `channels` values: maps fitted on one quantizer's reconstructions are not
/// the maps of another.
pub fn read_predictors(
    path: &Path,
    variant: Variant,
    dim: usize,
    channels: usize,
) -> Result<(Predictors, BTreeMap<String, String>), CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    let (predictors, info) =
        Predictors::from_file(&bytes).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    for (key, want) in quantizer_info(variant, dim) {
        if info.get(key) != Some(&want) {
            return Err(CliError::usage(format!(
                "{}: the maps were calibrated with {key} {}, this run quantizes with {key} {want}",
                path.display(),
                info.get(key).map_or("(unknown)", String::as_str),
            )));
        }
    }
    if predictors.channels() != channels {
        return Err(CliError::usage(format!(
            "{}: the maps are for tokens of {} channels, the KV file has {channels}",
            path.display(),
            predictors.channels()
        )));
    }
    Ok((predictors, info))
}

/// Writes `bytes` to `path` whole or not at all (a temporary file beside it, renamed),
/// readable by all as a plain write would leave it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| CliError::io(path, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| CliError::io(path, e))?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644)).map_err(|e| CliError::io(path, e))?;
    tmp.persist(path).map_err(|e| CliError::io(path, e.error))?;
    Ok(())
}
