//! `aqua slice-kv`: cuts the bundled KV slice out of the full SmolLM2 KV dump.
//!
//! Reads `meta.json` beside the source for the model name and the token rows of each
//! sequence, so the slice records what text its rows are.

use std::path::PathBuf;

use aqua_kernels::data::cut::{cut, sha256_hex, CutSpec, Origin};

use crate::error::CliError;

#[derive(clap::Args)]
pub struct Args {
    /// The full dump: safetensors with `layers.{i}.k` / `.v`, f16 [tokens, channels].
    #[arg(long)]
    source: PathBuf,
    /// Layers to keep.
    #[arg(long, value_delimiter = ',', default_values_t = [0usize, 1, 2, 3, 15, 16, 28, 29])]
    layers: Vec<usize>,
    /// Which sequence of the dump (its rows, per meta.json).
    #[arg(long, default_value_t = 0)]
    sequence: usize,
    /// Tokens to keep from the start of the sequence.
    #[arg(long, default_value_t = 512)]
    tokens: usize,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let source = std::fs::read(&args.source).map_err(|e| CliError::io(&args.source, e))?;
    let meta_path = args.source.with_file_name("meta.json");
    let meta_text = std::fs::read_to_string(&meta_path).map_err(|e| CliError::io(&meta_path, e))?;
    let meta: serde_json::Value =
        serde_json::from_str(&meta_text).map_err(|e| CliError::failed(format!("{}: {e}", meta_path.display())))?;
    let per_seq = meta["tokens_per_sequence"]
        .as_u64()
        .ok_or_else(|| CliError::failed(format!("{}: no `tokens_per_sequence`", meta_path.display())))?
        as usize;
    let seq = meta["sequences"].get(args.sequence).ok_or_else(|| {
        CliError::usage(format!(
            "--sequence {}: {} lists fewer sequences",
            args.sequence,
            meta_path.display()
        ))
    })?;
    if args.tokens == 0 || args.tokens > per_seq {
        return Err(CliError::usage(format!(
            "--tokens must be in 1..={per_seq} (tokens per sequence)"
        )));
    }
    let start = args.sequence * per_seq;
    let spec = CutSpec {
        layers: args.layers.clone(),
        rows: start..start + args.tokens,
    };
    let origin = Origin {
        source_name: args
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        model: meta["model"].as_str().unwrap_or("unknown").to_string(),
        rows_note: format!(
            "sequence {} (first {} of its {per_seq} tokens): {}",
            args.sequence,
            args.tokens,
            seq["source"].as_str().unwrap_or("unknown text")
        ),
    };
    let slice =
        cut(&source, &spec, &origin).map_err(|e| CliError::failed(format!("{}: {e}", args.source.display())))?;
    std::fs::write(&args.output, &slice).map_err(|e| CliError::io(&args.output, e))?;
    println!("source  {}  sha256 {}", args.source.display(), sha256_hex(&source));
    println!(
        "slice   {}  sha256 {}  ({} bytes)",
        args.output.display(),
        sha256_hex(&slice),
        slice.len()
    );
    Ok(())
}
