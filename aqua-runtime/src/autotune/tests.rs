//! The tuner on candidates whose run sleeps. The slow candidates take 50 and 130 times as
//! long as the fast ones, far above the noise of sleeping on a shared machine, so which
//! candidates are pruned cannot change; the two fast ones (150 and 160 us) may swap.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::thread::sleep;

use super::*;
use crate::{LaunchMode, RuntimeOptions};

/// A candidate that sleeps `micros` per call.
#[derive(Clone, Debug, PartialEq)]
struct Sleeper {
    name: &'static str,
    micros: u64,
}

impl Display for Sleeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

fn sleeper(name: &'static str, micros: u64) -> Sleeper {
    Sleeper { name, micros }
}

/// The first is the default, which is never pruned.
fn candidates() -> Vec<Sleeper> {
    vec![
        sleeper("default", 1000),
        sleeper("slow", 20_000),
        sleeper("fast", 150),
        sleeper("close", 160),
        sleeper("mid", 8000),
    ]
}

fn runtime(cache: Option<&Path>) -> Runtime {
    Runtime::cpu_with(RuntimeOptions {
        threads: 2,
        mode: LaunchMode::Unchecked,
        opt_level: 0,
        cache_dir: cache.map(Path::to_path_buf),
        dump_dir: None,
    })
}

fn tuner(name: &str) -> Autotuner {
    let options = TuneOptions {
        warmup: Duration::from_millis(1),
        first_pass: Duration::from_millis(3),
        final_pass: Duration::from_millis(6),
        keep_within: 1.5,
        persist: true,
        reuse_stored: true,
        print: false,
    };
    Autotuner::with_options(name, options)
}

/// Tunes `candidates` and counts each candidate's calls.
fn tune_counting(
    tuner: &Autotuner,
    rt: &Runtime,
    key: &TuneKey,
    candidates: &[Sleeper],
) -> (Result<Tuned<Sleeper>, TuneError>, HashMap<&'static str, u32>) {
    let calls = RefCell::new(HashMap::new());
    let tuned = tuner.tune(rt, key, candidates, |c| -> Result<(), String> {
        *calls.borrow_mut().entry(c.name).or_insert(0) += 1;
        sleep(Duration::from_micros(c.micros));
        Ok(())
    });
    (tuned, calls.into_inner())
}

#[test]
fn measures_the_candidates_prunes_the_slow_ones_and_remembers() {
    let rt = runtime(None);
    let t = tuner("sleep");
    let key = TuneKey::new().bucket("n", 1000);
    let (tuned, calls) = tune_counting(&t, &rt, &key, &candidates());
    let tuned = tuned.unwrap();
    assert!(matches!(tuned.config.name, "fast" | "close"), "{tuned:?}");
    assert_eq!(tuned.source, ChoiceSource::Measured);
    assert_eq!(tuned.trials.len(), 5);
    // `slow` and `mid` are 50x and 130x the best: pruned after the first pass. `default`,
    // 6x, goes on all the same.
    for (i, trial) in tuned.trials.iter().enumerate() {
        assert_eq!(trial.label, candidates()[i].name);
        let pruned = matches!(trial.label.as_str(), "slow" | "mid");
        assert_eq!(trial.last.is_none(), pruned, "{trial:?}");
        assert!(trial.time().unwrap() >= Duration::from_micros(candidates()[i].micros), "{trial:?}");
    }
    assert!(calls["slow"] <= 6 && calls["mid"] <= 6, "{calls:?}");
    assert!(calls["fast"] > calls["slow"], "{calls:?}");

    // The same key (another size in its bucket) is a memory hit: nothing runs.
    let (again, calls) = tune_counting(&t, &rt, &TuneKey::new().bucket("n", 600), &candidates());
    let again = again.unwrap();
    assert_eq!((again.source, again.index, again.trials.len()), (ChoiceSource::Memory, tuned.index, 0));
    assert!(calls.is_empty(), "{calls:?}");
    // Another bucket tunes again.
    let (other, calls) = tune_counting(&t, &rt, &TuneKey::new().bucket("n", 1025), &candidates());
    assert_eq!(other.unwrap().source, ChoiceSource::Measured);
    assert!(!calls.is_empty());
}

#[test]
fn choices_persist_next_to_the_kernel_cache() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(Some(dir.path()));
    let key = TuneKey::new().exact("op", "quantize");
    let (first, _) = tune_counting(&tuner("sleep"), &rt, &key, &candidates());
    let first = first.unwrap();
    assert_eq!(first.source, ChoiceSource::Measured);

    // A new tuner (another process, in effect) on the same cache loads the choice.
    let (loaded, calls) = tune_counting(&tuner("sleep"), &runtime(Some(dir.path())), &key, &candidates());
    let loaded = loaded.unwrap();
    assert_eq!((loaded.source, loaded.index), (ChoiceSource::Disk, first.index));
    assert!(calls.is_empty(), "{calls:?}");

    // Another tuner name, candidate list, thread count or option: measured afresh.
    let fresh = |t: &Autotuner, rt: &Runtime, cs: &[Sleeper]| tune_counting(t, rt, &key, cs).0.unwrap().source;
    assert_eq!(fresh(&tuner("other"), &rt, &candidates()), ChoiceSource::Measured);
    assert_eq!(fresh(&tuner("sleep"), &rt, &candidates()[..4]), ChoiceSource::Measured);
    let rt4 = Runtime::cpu_with(RuntimeOptions { threads: 4, ..options_of(dir.path()) });
    assert_eq!(fresh(&tuner("sleep"), &rt4, &candidates()), ChoiceSource::Measured);
    let checked = Runtime::cpu_with(RuntimeOptions { mode: LaunchMode::Checked, ..options_of(dir.path()) });
    assert_eq!(fresh(&tuner("sleep"), &checked, &candidates()), ChoiceSource::Measured);

    // `reuse_stored: false` measures again (and stores); `persist: false` stores nothing.
    let t = Autotuner::with_options("sleep", TuneOptions { reuse_stored: false, ..tuner("").options.clone() });
    assert_eq!(fresh(&t, &rt, &candidates()), ChoiceSource::Measured);
    let t = Autotuner::with_options("sleep", TuneOptions { persist: false, ..tuner("").options.clone() });
    assert_eq!(fresh(&t, &rt, &candidates()), ChoiceSource::Disk);
    let other_key = TuneKey::new().exact("op", "dequantize");
    let before = entries(dir.path());
    t.tune(&rt, &other_key, &candidates(), |_| -> Result<(), String> { Ok(()) }).unwrap();
    assert_eq!(entries(dir.path()), before);
}

fn options_of(dir: &Path) -> RuntimeOptions {
    RuntimeOptions {
        threads: 2,
        mode: LaunchMode::Unchecked,
        opt_level: 0,
        cache_dir: Some(dir.into()),
        dump_dir: None,
    }
}

/// The stored choices in `cache`.
fn entries(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(cache.join("autotune")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn a_corrupt_or_foreign_choice_is_dropped_and_retuned() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(Some(dir.path()));
    let key = TuneKey::new().exact("op", "quantize");
    tune_counting(&tuner("sleep"), &rt, &key, &candidates()).0.unwrap();
    let labels: Vec<String> = candidates().iter().map(|c| c.to_string()).collect();
    let entry_key = tuner("sleep").entry(&rt, &key, &labels);
    let store = ChoiceStore::in_cache(dir.path());
    let entry = store.entry_path(&entry_key);
    assert_eq!(entries(dir.path()), std::slice::from_ref(&entry));

    let intact = std::fs::read(&entry).unwrap();
    std::fs::write(&entry, &intact[..intact.len() - 2]).unwrap();
    let (tuned, calls) = tune_counting(&tuner("sleep"), &rt, &key, &candidates());
    let tuned = tuned.unwrap();
    assert_eq!(tuned.source, ChoiceSource::Measured);
    assert!(!calls.is_empty());
    assert_eq!(store.load(&entry_key), Some(tuned.config.name.to_string()), "the choice is stored again");

    // An intact entry naming no candidate (written by hand here) is dropped too.
    store.store(&entry_key, "gone");
    let (tuned, _) = tune_counting(&tuner("sleep"), &rt, &key, &candidates());
    let tuned = tuned.unwrap();
    assert_eq!(tuned.source, ChoiceSource::Measured);
    assert_eq!(store.load(&entry_key), Some(tuned.config.name.to_string()));
}

#[test]
fn failing_candidates_are_skipped_and_all_failing_is_an_error() {
    let rt = runtime(None);
    let key = TuneKey::new();
    let t = tuner("failing");
    let tuned = t
        .tune(&rt, &key, &candidates(), |c| {
            if c.name == "fast" || c.name == "close" {
                return Err(format!("{} needs too much shared memory", c.name));
            }
            sleep(Duration::from_micros(c.micros));
            Ok(())
        })
        .unwrap();
    assert_eq!(tuned.config.name, "default");
    assert_eq!(tuned.trials[2].first, Err("fast needs too much shared memory".to_string()));

    let err = tuner("failing").tune(&rt, &key, &candidates(), |c| Err(format!("no {}", c.name))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "autotuner `failing` (): every candidate failed: `default`: no default; `slow`: no slow; `fast`: no fast; \
         `close`: no close; `mid`: no mid"
    );
}

#[test]
fn degenerate_candidate_lists() {
    let rt = runtime(None);
    let key = TuneKey::new();
    let run = |_: &Sleeper| -> Result<(), String> { panic!("nothing should run") };
    let only = tuner("t").tune(&rt, &key, &[sleeper("one", 1)], run).unwrap();
    assert_eq!((only.source, only.index), (ChoiceSource::Only, 0));
    let err = tuner("t").tune(&rt, &key, &[] as &[Sleeper], run).unwrap_err();
    assert_eq!(err.to_string(), "autotuner `t`: no candidate configurations");
    let err = tuner("t").tune(&rt, &key, &[sleeper("a", 1), sleeper("a", 2)], run).unwrap_err();
    assert!(err.to_string().contains("two candidates are both `a`"), "{err}");
}

#[test]
fn the_report_names_every_candidate_and_the_choice() {
    let trials = vec![
        Trial {
            label: "tile 1024".into(),
            first: Ok(Duration::from_micros(12)),
            last: Some(Duration::from_micros(11)),
        },
        Trial { label: "tile 4096".into(), first: Ok(Duration::from_micros(30)), last: None },
        Trial { label: "tile 8192".into(), first: Err("too big".into()), last: None },
    ];
    assert_eq!(fastest(&trials), Some(0));
    // Within 2% of the fastest, the earlier candidate wins.
    let tie = |a: u64, b: u64| {
        let trial = |us| Trial { label: String::new(), first: Ok(Duration::from_micros(us)), last: None };
        fastest(&[trial(a), trial(b)])
    };
    assert_eq!((tie(1015, 1000), tie(1030, 1000), tie(1000, 1015)), (Some(0), Some(1), Some(0)));
    assert_eq!(
        report("quantize", &TuneKey::new().exact("bits", 2), &trials, 0),
        "aqua: autotune `quantize` (bits=2):\n  tile 1024: 11.0 us (first pass 12.0 us)  <- chosen\n  \
         tile 4096: 30.0 us (first pass only)\n  tile 8192: failed: too big\n"
    );
}
