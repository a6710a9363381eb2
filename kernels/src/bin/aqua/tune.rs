//! `aqua tune`: autotune each variant's tile (and on a GPU its CTA size) on this machine
//! with `host::tune`, print every candidate's time and the choice, and check the chosen
//! kernels against the CPU's default ones. The choices are stored next to the kernel
//! cache, where `TunedCodec::tune` in any later process finds them.
//!
//! The sample is the bundled real KV slice tiled to `--mib`; on the CUDA backend it lives
//! in device memory, so only the kernels are timed. "GB/s" counts the bytes a kernel
//! moves: the f16 values and the quantized form.

use std::time::Duration;

use aqua_dsl::DType;
use aqua_kernels::host::codec::Method;
use aqua_kernels::host::tune::{tilings, CodecTuners, Tiling, TunedCodec};
use aqua_kernels::quant::bits_per_value;
use aqua_runtime::autotune::{ChoiceSource, TuneOptions, Tuned};
use aqua_runtime::{HostBuffer, LaunchMode, Runtime, RuntimeOptions};
use half::f16;
use serde_json::{json, Value};

use crate::agreement::{compare_with_cpu, Agreement};
use crate::bench_gpu::{cuda_runtime, encoded_bytes, fail, CHECK_TOKENS};
use crate::bench_quant::{tiled_input, VariantArgs};
use crate::error::CliError;

/// Where to tune.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Native code on the host CPU.
    Cpu,
    /// The first NVIDIA GPU; without one, prints `skipped: ...` and exits 0.
    Cuda,
    /// The GPU program emulated on host threads: slow, for checking the tuner's GPU path
    /// without a GPU.
    Simt,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    variants: VariantArgs,
    /// Where to tune.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Size of the f16 sample, in MiB (default 64; 256 on the GPU, 0.01 on the SIMT
    /// emulation).
    #[arg(long)]
    mib: Option<f64>,
    /// Host threads a CPU launch uses (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Measure again where a choice is stored (the new choice replaces it).
    #[arg(long)]
    retune: bool,
    /// Also check every candidate's kernels against the CPU's, not only the chosen ones.
    #[arg(long)]
    check_all: bool,
    /// Print one JSON object (every variant's trials and choices) instead of the tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let options = RuntimeOptions {
        mode: LaunchMode::Unchecked,
        threads: args.threads.unwrap_or(RuntimeOptions::default().threads).max(1),
        ..RuntimeOptions::default()
    };
    let rt = match args.backend {
        Backend::Cpu => Runtime::cpu_with(options),
        Backend::Simt => Runtime::simt_with(options, 4),
        Backend::Cuda => match cuda_runtime("aqua tune --backend cuda")? {
            Some(rt) => rt,
            None => return Ok(()),
        },
    };
    let mib = args.mib.unwrap_or(match args.backend {
        Backend::Cpu => 64.0,
        Backend::Cuda => 256.0,
        // One host thread per GPU thread, meeting at every barrier: a quarter MiB took
        // over 7 minutes for one variant's 16 candidates.
        Backend::Simt => 0.01,
    });
    if !(mib > 0.0 && mib <= 16384.0) {
        return Err(CliError::usage(format!("--mib {mib}: give a size from above 0 to 16384 MiB")));
    }
    let tuners = CodecTuners::new(TuneOptions { reuse_stored: !args.retune, print: false, ..TuneOptions::default() });
    let (input, channels) = tiled_input(mib)?;
    let n = input.len();
    let sample = HostBuffer::from_slice(&input);
    let check = &input[..n.min(CHECK_TOKENS * channels)];
    let cpu = Runtime::cpu_with(RuntimeOptions { mode: LaunchMode::Unchecked, ..RuntimeOptions::default() });

    if !args.json {
        println!("aqua tune: {}", rt.describe());
        let store = match rt.cache_dir() {
            Some(dir) => format!("choices stored in {}", dir.join("autotune").display()),
            None => "no disk cache: choices are not stored".into(),
        };
        println!(
            "  sample: {:.2} MiB of f16 (the bundled KV slice tiled, {} tokens x {channels}); {store}",
            (2 * n) as f64 / (1 << 20) as f64,
            n / channels
        );
        println!(
            "  GB/s counts the bytes a kernel moves (f16 values and the quantized form); x default is the speed-up"
        );
    }
    let mut reports = Vec::new();
    for v in args.variants.variants() {
        let method = v.key_method(channels).map_err(CliError::usage)?;
        let candidates = tilings(&rt, method);
        let tuned = TunedCodec::tune_among(&rt, &tuners, method, DType::F16, &sample, &candidates).map_err(fail)?;
        let codecs = [tuned.quantize_codec(), tuned.dequantize_codec()];
        let agreement = compare_with_cpu(&rt, codecs, &cpu, check)?;
        let differing = match args.check_all {
            true => Some(differing_candidates(&rt, &cpu, method, &candidates, check)?),
            false => None,
        };
        let report = VariantReport {
            name: v.method.name().to_string(),
            bits: v.bits,
            group: v.group,
            bits_per_value: bits_per_value(&tuned.storage(n)),
            moved: 2 * n + encoded_bytes(method, n),
            candidates,
            tunings: tuned.tunings().clone(),
            agreement,
            differing,
        };
        if !args.json {
            report.print();
        }
        reports.push(report);
    }
    if args.json {
        let variants: Vec<Value> = reports.iter().map(VariantReport::json).collect();
        let out = json!({"runtime": rt.describe(), "sample_values": n, "variants": variants});
        println!("{}", serde_json::to_string_pretty(&out).map_err(fail)?);
    }
    Ok(())
}

/// One variant's tuning, for printing as text or JSON.
struct VariantReport {
    name: String,
    bits: u32,
    group: usize,
    bits_per_value: f64,
    /// Bytes a kernel moves: the f16 values and the quantized form.
    moved: usize,
    candidates: Vec<Tiling>,
    tunings: [Tuned<Tiling>; 2],
    agreement: Agreement,
    /// With `--check-all`: the candidates whose kernels differ from the CPU's.
    differing: Option<Vec<(Tiling, Agreement)>>,
}

const OPS: [&str; 2] = ["quantize", "dequantize"];

impl VariantReport {
    fn print(&self) {
        println!(
            "\n  {} {}-bit group {} ({:.3} bits per value), {} candidates",
            self.name,
            self.bits,
            self.group,
            self.bits_per_value,
            self.candidates.len()
        );
        for (op, tuning) in OPS.iter().zip(&self.tunings) {
            print_tuning(op, tuning, self.moved);
        }
        let a = &self.agreement;
        println!("    chosen kernels vs the CPU's default ones: {}, {}", a.encoded_text(), a.values_text());
        if let Some(differing) = &self.differing {
            for (t, a) in differing {
                println!("    {t}: {}, {}", a.encoded_text(), a.values_text());
            }
            match differing.len() {
                0 => println!("    every candidate's kernels equal the CPU's ({} candidates)", self.candidates.len()),
                d => println!("    {d} of {} candidates DIFFER from the CPU", self.candidates.len()),
            }
        }
    }

    fn json(&self) -> Value {
        let tiling = |t: &Tiling| json!({"tile": t.tile, "warps": t.warps});
        let mut v = json!({
            "method": self.name,
            "bits": self.bits,
            "group": self.group,
            "bits_per_value": self.bits_per_value,
            "bytes_moved": self.moved,
            "encoded_equal_percent": self.agreement.encoded,
            "values_equal_percent": self.agreement.values,
        });
        for (op, tuning) in OPS.iter().zip(&self.tunings) {
            let trials: Vec<Value> = tuning
                .trials
                .iter()
                .zip(&self.candidates)
                .map(|(trial, t)| {
                    json!({
                        "config": tiling(t),
                        "first_pass_us": trial.first.as_ref().ok().map(micros),
                        "final_pass_us": trial.last.map(|d| micros(&d)),
                        "error": trial.first.as_ref().err(),
                    })
                })
                .collect();
            v[op] = json!({
                "chosen": tiling(&tuning.config),
                "source": format!("{:?}", tuning.source).to_lowercase(),
                "speedup_vs_default": speedup(tuning),
                "trials": trials,
            });
        }
        if let Some(differing) = &self.differing {
            let list: Vec<Value> = differing
                .iter()
                .map(|(t, a)| json!({"config": tiling(t), "encoded_equal_percent": a.encoded, "values_equal_percent": a.values}))
                .collect();
            v["candidates_differing_from_cpu"] = json!(list);
        }
        v
    }
}

fn micros(d: &Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The default's time over the chosen candidate's, when both were measured now.
fn speedup(tuning: &Tuned<Tiling>) -> Option<f64> {
    let default = tuning.trials.first()?.time()?;
    let chosen = tuning.trials.get(tuning.index)?.time()?;
    Some(default.as_secs_f64() / chosen.as_secs_f64())
}

/// Compares every candidate's kernels with the CPU's: those that differ.
fn differing_candidates(
    rt: &Runtime,
    cpu: &Runtime,
    method: Method,
    candidates: &[Tiling],
    check: &[f16],
) -> Result<Vec<(Tiling, Agreement)>, CliError> {
    let mut differing = Vec::new();
    for &t in candidates {
        let codec = t.compile(rt, method, DType::F16).map_err(fail)?;
        let agreement = compare_with_cpu(rt, [&codec, &codec], cpu, check)?;
        if !agreement.exact() {
            differing.push((t, agreement));
        }
    }
    Ok(differing)
}

/// One operation's candidates (when measured) and choice. Speed-ups compare like with
/// like: a candidate's final-pass time with the default's, a pruned candidate's first-pass
/// time with the default's first pass (the default is never pruned).
fn print_tuning(op: &str, tuning: &Tuned<Tiling>, moved: usize) {
    let gbs = |t: Duration| moved as f64 / t.as_secs_f64() / 1e9;
    let default = tuning.trials.first();
    let any_final = tuning.trials.iter().any(|t| t.last.is_some());
    for trial in &tuning.trials {
        let line = match (&trial.first, trial.time()) {
            (Err(why), _) => format!("failed: {why}"),
            (Ok(_), Some(t)) => {
                let reference = default.and_then(|d| if trial.last.is_some() { d.last } else { d.first.clone().ok() });
                let speedup = reference
                    .map_or(String::new(), |d| format!("{:>7.3} x default", d.as_secs_f64() / t.as_secs_f64()));
                let pruned = if trial.last.is_none() && any_final { "  (pruned after the first pass)" } else { "" };
                format!("{:>10.1} us {:>8.2} GB/s {speedup}{pruned}", micros(&t), gbs(t))
            }
            (Ok(_), None) => unreachable!("a trial that ran has a time"),
        };
        println!("    {op:<10} {:<20} {line}", trial.label);
    }
    let how = match tuning.source {
        ChoiceSource::Measured => match speedup(tuning) {
            Some(s) => format!("{s:.3} x the default's speed"),
            None => "the default failed".into(),
        },
        ChoiceSource::Disk => "stored by an earlier run (--retune measures again)".into(),
        ChoiceSource::Memory => "chosen earlier in this run".into(),
        ChoiceSource::Only => "the only candidate".into(),
    };
    println!("    {op:<10} -> {}: {how}", tuning.config);
}
