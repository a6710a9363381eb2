//! `AQUA_DUMP_DIR` (here `RuntimeOptions::dump_dir`): every compile leaves its canonical
//! IR, LLVM IR and assembly for the author.

mod common;

use std::path::Path;

use aqua_dsl::{KernelSource, Params};
use aqua_runtime::dump::dump_stem;
use aqua_runtime::{CacheOutcome, Input, LaunchMode, Runtime, RuntimeOptions};
use common::Axpy;

fn runtime(cache: &Path, dumps: &Path) -> Runtime {
    Runtime::cpu_with(RuntimeOptions {
        threads: 1,
        mode: LaunchMode::Unchecked,
        opt_level: 3,
        cache_dir: Some(cache.to_path_buf()),
        dump_dir: Some(dumps.to_path_buf()),
    })
}

#[test]
fn every_compile_writes_ir_llvm_and_assembly() {
    let cache = tempfile::tempdir().unwrap();
    let dumps = tempfile::tempdir().unwrap();
    let dump_dir = dumps.path().join("nested");
    let rt = runtime(cache.path(), &dump_dir);
    let k = rt.compile(&Axpy, &Params::new()).unwrap();
    let stem = dump_stem("axpy", k.key().unwrap());
    assert!(stem.starts_with("axpy-") && stem.len() == "axpy-".len() + 12, "{stem}");
    let read = |ext: &str| std::fs::read_to_string(dump_dir.join(format!("{stem}.{ext}"))).unwrap();
    assert_eq!(read("ir"), Axpy.build(&Params::new()).unwrap().to_string());
    assert!(read("ll").contains("define"), "{}", read("ll"));
    assert!(read("s").contains("aqua_entry"), "{}", read("s"));
    assert_eq!(std::fs::read_dir(&dump_dir).unwrap().count(), 3);

    // A new process (here: runtime) dumps again even though the disk cache has the kernel.
    for ext in ["ir", "ll", "s"] {
        std::fs::remove_file(dump_dir.join(format!("{stem}.{ext}"))).unwrap();
    }
    let rt = runtime(cache.path(), &dump_dir);
    let (_, report) = rt.compile_with_report(Input::Source(&Axpy, &Params::new()), LaunchMode::Unchecked).unwrap();
    assert_eq!(report.outcome, CacheOutcome::Compiled, "{report}");
    assert_eq!(std::fs::read_dir(&dump_dir).unwrap().count(), 3);
}

#[test]
fn kernel_names_are_made_file_safe() {
    let key = aqua_runtime::CacheKey::from_bytes([0xab; 32]);
    assert_eq!(dump_stem("a/b c", &key), "a_b_c-abababababab");
}
