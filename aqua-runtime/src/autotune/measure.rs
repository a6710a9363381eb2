//! Timing candidates on the real arguments.
//!
//! A candidate's first call is not timed: it compiles (or loads) the candidate's kernels
//! and touches its buffers. Its second call is timed once, to size its samples: a sample
//! is `calls` calls ended by [`Runtime::synchronize`] (so queued GPU launches count),
//! `calls` chosen so that a sample takes about the time asked for. A candidate's time is
//! its fastest sample's time per call: on a shared machine noise only ever adds time, so
//! the minimum is the most repeatable statistic.
//!
//! The tuner takes its samples round-robin over the candidates, after a warm-up, so that
//! a slow drift (clocks ramping up, another process starting) touches every candidate
//! alike instead of whichever was measured first.

use std::fmt::Display;
use std::time::{Duration, Instant};

use crate::Runtime;

/// At most this many calls per sample, however fast a call is.
const MAX_CALLS: u32 = 100_000;

/// A candidate being timed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timer {
    /// Calls per sample.
    calls: u32,
    /// The fastest sample's time per call so far.
    best: Duration,
}

impl Timer {
    /// Runs `run` twice, the first time untimed, and sizes samples to take `sample_time`.
    pub(super) fn start<E: Display>(
        rt: &Runtime,
        sample_time: Duration,
        run: &mut dyn FnMut() -> Result<(), E>,
    ) -> Result<Timer, String> {
        timed(rt, 1, run)?;
        let once = timed(rt, 1, run)?;
        let mut timer = Timer { calls: 1, best: once };
        timer.resize(sample_time);
        Ok(timer)
    }

    /// Sizes later samples to take about `sample_time`, from the best time so far.
    pub(super) fn resize(&mut self, sample_time: Duration) {
        let calls = sample_time.as_secs_f64() / self.best.as_secs_f64().max(1e-9);
        self.calls = calls.clamp(1.0, MAX_CALLS as f64) as u32;
    }

    /// One sample of `run`.
    pub(super) fn sample<E: Display>(
        &mut self,
        rt: &Runtime,
        run: &mut dyn FnMut() -> Result<(), E>,
    ) -> Result<(), String> {
        self.best = self.best.min(timed(rt, self.calls, run)?);
        Ok(())
    }

    /// The fastest sample's time per call (the second call's, before any sample).
    pub(super) fn best(&self) -> Duration {
        self.best
    }
}

/// Runs `run` untimed for about `time` (at least once): clocks reach their steady state
/// before anything is timed.
pub(super) fn warm_up<E: Display>(
    rt: &Runtime,
    time: Duration,
    run: &mut dyn FnMut() -> Result<(), E>,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        timed(rt, 1, run)?;
        if start.elapsed() >= time {
            return Ok(());
        }
    }
}

/// The time per call of `calls` calls of `run`, ended by a synchronization.
fn timed<E: Display>(rt: &Runtime, calls: u32, run: &mut dyn FnMut() -> Result<(), E>) -> Result<Duration, String> {
    let start = Instant::now();
    for _ in 0..calls {
        run().map_err(|e| e.to_string())?;
    }
    rt.synchronize().map_err(|e| e.to_string())?;
    Ok(start.elapsed() / calls.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_sized_and_failures_reported() {
        let rt = Runtime::interpreter();
        let calls = std::cell::Cell::new(0u32);
        let mut run = || -> Result<(), String> {
            calls.set(calls.get() + 1);
            std::thread::sleep(Duration::from_micros(200));
            Ok(())
        };
        let mut timer = Timer::start(&rt, Duration::from_millis(1), &mut run).unwrap();
        // A 1 ms sample of 200 us calls: at most 5 calls.
        assert!((1..=5).contains(&timer.calls), "{timer:?}");
        timer.sample(&rt, &mut run).unwrap();
        assert!(timer.best() >= Duration::from_micros(200), "{timer:?}");
        warm_up(&rt, Duration::from_millis(2), &mut run).unwrap();
        assert!((2 + 1 + 2..=2 + 5 + 10).contains(&calls.get()), "{} calls", calls.get());

        let mut left = 3;
        let mut failing = || {
            left -= 1;
            if left == 0 {
                Err("launch failed")
            } else {
                Ok(())
            }
        };
        let mut timer = Timer::start(&rt, Duration::from_nanos(1), &mut failing).unwrap();
        assert_eq!(timer.sample(&rt, &mut failing), Err("launch failed".to_string()));
    }
}
