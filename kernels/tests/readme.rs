//! The README's `aqua` commands, run as a reader would copy them: each must succeed.
//!
//! The commands that take minutes (`demo`, `bench`, `tune`) are left to their own tests
//! (`cli.rs`, `scripts/demo.sh`); this file checks that every other line still parses and
//! runs after the command line or the kernels change.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::text;

const PREFIX: &str = "cargo run --release -p aqua-kernels --bin aqua -- ";

/// Subcommands whose README lines are run elsewhere, with where.
const RUN_ELSEWHERE: [(&str, &str); 3] = [
    ("demo", "scripts/demo.sh and cli.rs's demo test"),
    ("bench", "a benchmark of minutes; its parts have their own tests"),
    ("tune", "cli.rs's tune test, on smaller sizes"),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The README's `aqua` command lines, as argument lists.
fn readme_commands() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("read README.md");
    readme
        .lines()
        .filter_map(|l| l.trim().strip_prefix(PREFIX))
        .map(|args| args.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// `arg` as the process in `dir` must see it: paths relative to the repository root made
/// absolute. A missing `../shared` dump is replaced by the bundled slice of the same model
/// (the same tensor names), and said.
fn resolve(arg: &str) -> String {
    if !arg.starts_with("../") {
        return arg.to_owned();
    }
    let path = repo_root().join(arg);
    if path.exists() {
        return path.display().to_string();
    }
    let slice = repo_root().join("kernels/data/smollm2-kv-slice.safetensors");
    println!("{arg} is not beside this checkout: the bundled slice stands in");
    slice.display().to_string()
}

#[test]
fn readme_aqua_commands_run() {
    let commands = readme_commands();
    assert!(commands.len() >= 5, "the README's `aqua` block is gone or renamed: {commands:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut ran = 0;
    for args in &commands {
        let sub = args.first().map(String::as_str).unwrap_or("");
        if let Some((_, why)) = RUN_ELSEWHERE.iter().find(|(s, _)| *s == sub) {
            println!("not run here: aqua {} ({why})", args.join(" "));
            continue;
        }
        let args: Vec<String> = args.iter().map(|a| resolve(a)).collect();
        let o = Command::new(env!("CARGO_BIN_EXE_aqua"))
            .args(&args)
            .current_dir(dir.path())
            .env("AQUA_CACHE_DIR", dir.path().join("cache"))
            .env_remove("AQUA_DUMP_DIR")
            .output()
            .expect("run aqua");
        let (out, err) = text(&o);
        assert!(o.status.success(), "README line `aqua {}` failed:\n{err}", args.join(" "));
        assert!(!out.is_empty() || !err.is_empty(), "`aqua {}` printed nothing", args.join(" "));
        ran += 1;
    }
    // list, the three compiles, quant-eval (three ways), calibrate and grid.
    assert!(ran >= 9, "only {ran} README commands ran");
    assert!(dir.path().join("grid.json").exists(), "the README's grid command wrote no grid.json");
    assert!(dir.path().join("predictors.safetensors").exists(), "the README's calibrate command wrote no predictors");
}
