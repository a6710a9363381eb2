//! The autotuner: given candidate configurations of an operation (tiles, CTA sizes, any
//! comptime choice), time each on the real arguments and remember the fastest per key.
//!
//! Like Triton's `@autotune`, a choice is made once per key (shapes bucketed, see
//! [`TuneKey`]) and then served from memory; unlike it, the choice also persists next to
//! the kernel cache (`store.rs`), so the next process on the same machine does not
//! measure again. What is timed is a closure, not one kernel: a quantizer's tile decides
//! its launch grid and which kernels to compile, and an operation may launch several.
//!
//! Measuring runs in two passes after a warm-up: every candidate briefly
//! ([`TuneOptions::first_pass`]), then only those within [`TuneOptions::keep_within`] of
//! the best, and the first candidate (the caller's default, which the others are compared
//! with), get the longer [`TuneOptions::final_pass`]. Samples go round-robin over the
//! candidates (`measure.rs`), so a drift in the machine's speed touches them alike. A
//! candidate whose run fails (a tile the kernel rejects, too much shared memory) is
//! skipped with its reason. The first call of each candidate is not timed, so compiling
//! is not counted.
//!
//! ```no_run
//! # use aqua_runtime::autotune::{Autotuner, TuneKey};
//! # fn demo(rt: &aqua_runtime::Runtime, n: usize) -> Result<(), aqua_runtime::autotune::TuneError> {
//! let tuner = Autotuner::new("axpy");
//! let key = TuneKey::new().bucket("n", n);
//! let tuned = tuner.tune(rt, &key, &[256u32, 1024, 4096], |&block| -> Result<(), aqua_runtime::Error> {
//!     // compile with `block`, launch on the real arguments
//!     Ok(())
//! })?;
//! println!("block {}", tuned.config);
//! # Ok(()) }
//! ```

mod key;
mod measure;
mod store;

use std::collections::HashMap;
use std::fmt::{self, Display};
use std::sync::Mutex;
use std::time::Duration;

pub use key::TuneKey;

use crate::cache::CacheKey;
use crate::runtime::lock;
use crate::Runtime;
use measure::Timer;
use store::ChoiceStore;

/// How an [`Autotuner`] measures and remembers.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// Time spent running the first candidate untimed before any sample, so that clocks
    /// reach their steady state (default 25 ms, Triton's warm-up).
    pub warmup: Duration,
    /// Time spent on each candidate in the first pass, in 3 samples (default 10 ms).
    pub first_pass: Duration,
    /// Time spent on each candidate left for the final pass, in 5 samples (default 50 ms).
    pub final_pass: Duration,
    /// Candidates at most this many times slower than the first pass's best go on to the
    /// final pass (default 1.25); the others are pruned.
    pub keep_within: f64,
    /// Whether choices are written to the runtime's disk cache directory (default true;
    /// a runtime without a disk cache keeps them in memory only).
    pub persist: bool,
    /// Whether choices stored there by earlier processes are used (default true); `false`
    /// measures again.
    pub reuse_stored: bool,
    /// Print every measurement and choice on stderr (default: `AQUA_PRINT_AUTOTUNING=1`).
    pub print: bool,
}

impl Default for TuneOptions {
    fn default() -> TuneOptions {
        TuneOptions {
            warmup: Duration::from_millis(25),
            first_pass: Duration::from_millis(10),
            final_pass: Duration::from_millis(50),
            keep_within: 1.25,
            persist: true,
            reuse_stored: true,
            print: std::env::var_os("AQUA_PRINT_AUTOTUNING").is_some_and(|v| v == "1"),
        }
    }
}

/// Where a [`Tuned`] choice came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChoiceSource {
    /// Timed now (its trials are in [`Tuned::trials`]).
    Measured,
    /// Chosen earlier by this tuner, in this process.
    Memory,
    /// Chosen by an earlier process and stored next to the kernel cache.
    Disk,
    /// The only candidate: nothing to measure.
    Only,
}

/// One candidate's measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// The candidate's label (its `Display`).
    pub label: String,
    /// The first pass's time per call, or why the candidate failed.
    pub first: Result<Duration, String>,
    /// The final pass's time per call; `None` when pruned after the first pass, or when
    /// only one candidate was left for the final pass. The first candidate is never
    /// pruned.
    pub last: Option<Duration>,
}

impl Trial {
    /// The candidate's best-informed time per call.
    pub fn time(&self) -> Option<Duration> {
        self.last.or(self.first.as_ref().ok().copied())
    }
}

/// A choice and how it was made.
#[derive(Clone, Debug)]
pub struct Tuned<C> {
    pub config: C,
    /// The chosen candidate's position in the list given to [`Autotuner::tune`].
    pub index: usize,
    pub source: ChoiceSource,
    /// Every candidate's measurements, in the order given, when [`ChoiceSource::Measured`].
    pub trials: Vec<Trial>,
}

/// Why a tuning request has no answer.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error("autotuner `{tuner}`: no candidate configurations")]
    NoCandidates { tuner: String },
    #[error("autotuner `{tuner}`: two candidates are both `{label}` (labels tell candidates apart)")]
    DuplicateLabel { tuner: String, label: String },
    #[error("autotuner `{tuner}` ({key}): every candidate failed: {}", list(failures))]
    AllFailed { tuner: String, key: String, failures: Vec<(String, String)> },
}

fn list(failures: &[(String, String)]) -> String {
    failures.iter().map(|(label, why)| format!("`{label}`: {why}")).collect::<Vec<_>>().join("; ")
}

/// Chooses among candidate configurations of one operation, once per key and machine.
pub struct Autotuner {
    name: String,
    options: TuneOptions,
    /// Choices made or loaded in this process, by their entry key (tuner, key, candidates,
    /// runtime target), as the chosen label.
    chosen: Mutex<HashMap<CacheKey, String>>,
    /// Held while measuring, so that two tunings never time each other's load.
    measuring: Mutex<()>,
}

impl Autotuner {
    /// A tuner with [`TuneOptions::default`]; `name` tells its choices apart from other
    /// tuners' (use the operation's name).
    pub fn new(name: impl Into<String>) -> Autotuner {
        Autotuner::with_options(name, TuneOptions::default())
    }

    pub fn with_options(name: impl Into<String>, options: TuneOptions) -> Autotuner {
        Autotuner { name: name.into(), options, chosen: Mutex::new(HashMap::new()), measuring: Mutex::new(()) }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fastest of `candidates` for `key` on `rt`'s machine: remembered, stored, or
    /// timed now by calling `run` (which runs the operation once with the candidate, on
    /// the real arguments, through `rt` or a runtime on the same device; it must not ask
    /// this tuner in turn). Labels (`Display`) must tell the candidates apart; they are
    /// what is stored.
    pub fn tune<C, E>(
        &self,
        rt: &Runtime,
        key: &TuneKey,
        candidates: &[C],
        mut run: impl FnMut(&C) -> Result<(), E>,
    ) -> Result<Tuned<C>, TuneError>
    where
        C: Clone + Display,
        E: Display,
    {
        let labels: Vec<String> = candidates.iter().map(|c| c.to_string()).collect();
        self.check_labels(&labels)?;
        let found = |label: &str, source| {
            let index = labels.iter().position(|l| l == label)?;
            Some(Tuned { config: candidates[index].clone(), index, source, trials: Vec::new() })
        };
        if candidates.len() == 1 {
            return Ok(found(&labels[0], ChoiceSource::Only).expect("one candidate"));
        }
        let entry = self.entry(rt, key, &labels);
        if let Some(t) = self.remembered(&entry).and_then(|l| found(&l, ChoiceSource::Memory)) {
            return Ok(t);
        }
        let _measuring = lock(&self.measuring);
        // Another thread may have tuned this key while this one waited.
        if let Some(t) = self.remembered(&entry).and_then(|l| found(&l, ChoiceSource::Memory)) {
            return Ok(t);
        }
        let store = rt.cache_dir().map(ChoiceStore::in_cache);
        if let Some(store) = store.as_ref().filter(|_| self.options.reuse_stored) {
            if let Some(label) = store.load(&entry) {
                match found(&label, ChoiceSource::Disk) {
                    Some(t) => {
                        lock(&self.chosen).insert(entry, label);
                        return Ok(t);
                    }
                    None => store.reject(&entry, &format!("it names `{label}`, which is not a candidate")),
                }
            }
        }

        let trials = self.measure(rt, &labels, candidates, &mut run);
        let Some(index) = fastest(&trials) else {
            let failures = trials.into_iter().map(|t| (t.label, t.first.err().unwrap_or_default())).collect();
            return Err(TuneError::AllFailed { tuner: self.name.clone(), key: key.to_string(), failures });
        };
        if self.options.print {
            eprint!("{}", report(&self.name, key, &trials, index));
        }
        if let Some(store) = store.as_ref().filter(|_| self.options.persist) {
            store.store(&entry, &labels[index]);
        }
        lock(&self.chosen).insert(entry, labels[index].clone());
        Ok(Tuned { config: candidates[index].clone(), index, source: ChoiceSource::Measured, trials })
    }

    /// Forgets the choices made in this process (stored ones stay on disk).
    pub fn clear(&self) {
        lock(&self.chosen).clear();
    }

    fn check_labels(&self, labels: &[String]) -> Result<(), TuneError> {
        if labels.is_empty() {
            return Err(TuneError::NoCandidates { tuner: self.name.clone() });
        }
        for (i, label) in labels.iter().enumerate() {
            if labels[..i].contains(label) {
                return Err(TuneError::DuplicateLabel { tuner: self.name.clone(), label: label.clone() });
            }
        }
        Ok(())
    }

    /// The key of the choice among `labels` for `key` on `rt`'s machine. (Debug formatting
    /// quotes and escapes, so no two name and label lists print alike.)
    fn entry(&self, rt: &Runtime, key: &TuneKey, labels: &[String]) -> CacheKey {
        rt.tuning_key(&format!("{:?} {:?} {labels:?}", self.name, key.to_string()))
    }

    fn remembered(&self, entry: &CacheKey) -> Option<String> {
        lock(&self.chosen).get(entry).cloned()
    }

    /// Prepares every candidate (compiling it), warms up, then the two passes: every
    /// candidate, then those within `keep_within` of the best, sampled round-robin.
    fn measure<C, E: Display>(
        &self,
        rt: &Runtime,
        labels: &[String],
        candidates: &[C],
        run: &mut impl FnMut(&C) -> Result<(), E>,
    ) -> Vec<Trial> {
        let o = &self.options;
        let mut timers: Vec<Result<Timer, String>> =
            candidates.iter().map(|c| Timer::start(rt, o.first_pass / FIRST_SAMPLES, &mut || run(c))).collect();
        if let Some(i) = timers.iter().position(Result::is_ok) {
            if let Err(e) = measure::warm_up(rt, o.warmup, &mut || run(&candidates[i])) {
                timers[i] = Err(e);
            }
        }
        let all: Vec<usize> = (0..candidates.len()).collect();
        sample_round_robin(rt, &mut timers, &all, FIRST_SAMPLES, candidates, run);
        let first: Vec<Result<Duration, String>> =
            timers.iter().map(|t| t.as_ref().map(Timer::best).map_err(String::clone)).collect();

        let best = first.iter().filter_map(|t| t.as_ref().ok()).min().copied();
        let cutoff = best.map(|b| b.mul_f64(o.keep_within.max(1.0)));
        // The first candidate (the caller's default) always goes on: it is what the others
        // are compared with, in the final pass's terms.
        let survivors: Vec<usize> =
            (0..first.len()).filter(|&i| first[i].as_ref().is_ok_and(|&t| i == 0 || Some(t) <= cutoff)).collect();
        let mut last = vec![None; first.len()];
        if survivors.len() > 1 {
            for &i in &survivors {
                if let Ok(t) = &mut timers[i] {
                    t.resize(o.final_pass / FINAL_SAMPLES);
                }
            }
            sample_round_robin(rt, &mut timers, &survivors, FINAL_SAMPLES, candidates, run);
            for &i in &survivors {
                // A failure now (rare: it ran in the first pass) prunes the candidate.
                last[i] = timers[i].as_ref().ok().map(Timer::best);
            }
        }
        labels
            .iter()
            .zip(first)
            .zip(last)
            .map(|((label, first), last)| Trial { label: label.clone(), first, last })
            .collect()
    }
}

/// Samples first passes (3 each) and final passes (5 each).
const FIRST_SAMPLES: u32 = 3;
const FINAL_SAMPLES: u32 = 5;

/// `rounds` rounds of one sample of each candidate of `which` that has not failed.
fn sample_round_robin<C, E: Display>(
    rt: &Runtime,
    timers: &mut [Result<Timer, String>],
    which: &[usize],
    rounds: u32,
    candidates: &[C],
    run: &mut impl FnMut(&C) -> Result<(), E>,
) {
    for _ in 0..rounds {
        for &i in which {
            if let Ok(timer) = &mut timers[i] {
                if let Err(e) = timer.sample(rt, &mut || run(&candidates[i])) {
                    timers[i] = Err(e);
                }
            }
        }
    }
}

/// Times within this factor of the fastest count as a tie, which the earlier candidate
/// wins: callers put their default first, and a choice should not flip with the noise
/// of a shared machine (a few percent between runs of the same kernel).
const TIE: f64 = 1.02;

/// The chosen trial: by final-pass time among those that have one, else (one survivor)
/// by first-pass time; the earliest within [`TIE`] of the fastest.
fn fastest(trials: &[Trial]) -> Option<usize> {
    let finals = trials.iter().any(|t| t.last.is_some());
    let time = |t: &Trial| if finals { t.last } else { t.first.as_ref().ok().copied() };
    let best = trials.iter().filter_map(time).min()?;
    trials.iter().position(|t| time(t).is_some_and(|d| d <= best.mul_f64(TIE)))
}

/// What `AQUA_PRINT_AUTOTUNING=1` prints for a tuning that measured.
fn report(tuner: &str, key: &TuneKey, trials: &[Trial], chosen: usize) -> String {
    let mut out = format!("aqua: autotune `{tuner}` ({key}):\n");
    for (i, t) in trials.iter().enumerate() {
        let mark = if i == chosen { "  <- chosen" } else { "" };
        let line = match (&t.first, t.last) {
            (Err(why), _) => format!("failed: {why}"),
            (Ok(first), Some(last)) => format!("{} (first pass {})", Micros(last), Micros(*first)),
            (Ok(first), None) => format!("{} (first pass only)", Micros(*first)),
        };
        out.push_str(&format!("  {}: {line}{mark}\n", t.label));
    }
    out
}

/// A duration in microseconds, for reports.
struct Micros(Duration);

impl Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} us", self.0.as_secs_f64() * 1e6)
    }
}

#[cfg(test)]
mod tests;
