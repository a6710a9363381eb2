//! Timing work for `aqua demo` and `aqua bench`: the best of repeated runs, which keeps
//! the noise of a shared machine (other processes, frequency changes) out of the figures.

use std::time::{Duration, Instant};

/// The best wall time of `f` over at least `runs` runs and at least `total` in all.
pub fn best_time<E>(runs: u32, total: Duration, mut f: impl FnMut() -> Result<(), E>) -> Result<Duration, E> {
    let (mut best, mut spent, mut done) = (Duration::MAX, Duration::ZERO, 0);
    while done < runs || spent < total {
        let start = Instant::now();
        f()?;
        let d = start.elapsed();
        best = best.min(d);
        spent += d;
        done += 1;
    }
    Ok(best)
}
