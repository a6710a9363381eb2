//! `aqua grid`: generates a Gaussian-optimal grid of any dimension and size by CLVQ
//! (`quant::clvq`), writes it as JSON (the format of the shared `eden_grids.json`
//! entries), and prints its mean squared error per coordinate on N(0, 1) next to the
//! published EDEN grid's when one of that shape exists, both measured on the same fresh
//! Gaussian vectors (never those the generator saw).

use std::path::PathBuf;
use std::time::Instant;

use aqua_kernels::quant::clvq::{gaussian_samples, generate_grid, mse_per_coordinate, Effort};
use aqua_kernels::quant::grids::Grid;

use crate::error::CliError;

/// Gaussian vectors the error is measured on.
const EVAL_VECTORS: usize = 200_000;
/// Their seed: distinct from any generator seed's derived streams.
const EVAL_SEED: u64 = 0x5eed_e7a1;

#[derive(clap::Args)]
pub struct Args {
    /// Dimension of the points.
    #[arg(long)]
    dim: usize,
    /// Number of points.
    #[arg(long)]
    points: usize,
    /// Seed of the generator: the same seed gives the same grid.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write the grid's JSON.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    if args.dim == 0 || args.points == 0 {
        return Err(CliError::usage("--dim and --points must be at least 1"));
    }
    let start = Instant::now();
    let grid = generate_grid(args.dim, args.points, args.seed, Effort::for_points(args.points))
        .map_err(|e| CliError::usage(e.to_string()))?;
    let seconds = start.elapsed().as_secs_f64();
    std::fs::write(&args.output, grid.to_json()).map_err(|e| CliError::io(&args.output, e))?;
    let samples = gaussian_samples(args.dim, EVAL_VECTORS, EVAL_SEED);
    let mse = |g: &Grid| mse_per_coordinate(g, &samples).map_err(|e| CliError::failed(e.to_string()));
    let ours = mse(&grid)?;
    println!(
        "CLVQ grid, {} points in dimension {} (seed {}), {seconds:.2} s: written to {}",
        args.points,
        args.dim,
        args.seed,
        args.output.display()
    );
    println!("  mse per coordinate on {EVAL_VECTORS} N(0, 1) vectors: {ours:.6}");
    if let Ok(eden) = Grid::eden(args.dim, args.points) {
        let published = mse(&eden)?;
        println!(
            "  EDEN{}-{} on the same vectors:          {published:.6} (ratio {:.4})",
            args.dim,
            args.points,
            ours / published
        );
    }
    Ok(())
}
