//! Shared helpers of the kernel tests: runtimes that never touch the user's cache,
//! deterministic test data, and running the `aqua` binary.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use aqua_kernels::data::kv_file::read_kv_layers;
use aqua_kernels::data::BUNDLED;
use aqua_kernels::predict::LayerValues;
use aqua_runtime::{LaunchMode, Runtime, RuntimeOptions};

/// The bundled slice's layers in f32 (8 layers of 512 tokens) and its channels (192).
pub fn bundled_layers() -> (Vec<LayerValues>, usize) {
    let layers = read_kv_layers(BUNDLED).expect("the bundled slice reads");
    let channels = layers[0].k.cols;
    (layers.iter().map(LayerValues::of).collect(), channels)
}

/// Options of a test runtime with unchecked launches (as GPU runtimes launch), its disk
/// cache in `cache` when given, and no IR dumps.
pub fn options(cache: Option<&Path>) -> RuntimeOptions {
    RuntimeOptions {
        threads: 2,
        mode: LaunchMode::Unchecked,
        cache_dir: cache.map(Path::to_path_buf),
        dump_dir: None,
        ..RuntimeOptions::default()
    }
}

/// Two runtimes of the GPU form on the SIMT emulation (one host thread per GPU thread):
/// CTAs of 4 warps and of 1.
pub fn simt_four_and_one() -> (Runtime, Runtime) {
    (Runtime::simt_with(options(None), 4), Runtime::simt_with(options(None), 1))
}

/// Two CUDA runtimes, CTAs of 4 warps and of 1; panics without a device (the tests that
/// call it are ignored by default), after printing which GPU runs them.
pub fn cuda_four_and_one() -> (Runtime, Runtime) {
    let cuda = |warps| Runtime::cuda_with(options(None), warps).unwrap_or_else(|e| panic!("no CUDA device: {e}"));
    let (four, one) = (cuda(4), cuda(1));
    println!("{}", four.describe());
    (four, one)
}

/// The two tests of a check of kernels' GPU form, `$check(four_warps, one_warp, what)`:
/// `simt_agrees_with_the_reference` on the SIMT emulation, and
/// `cuda_agrees_with_the_reference` on a GPU (the hardware's shuffles and conversions
/// too), ignored without one.
#[allow(unused_macros)]
macro_rules! gpu_form_tests {
    ($check:ident) => {
        /// On the SIMT emulation (one host thread per GPU thread).
        #[test]
        fn simt_agrees_with_the_reference() {
            let (four, one) = common::simt_four_and_one();
            $check(&four, &one, "SIMT");
        }

        /// On a GPU.
        #[test]
        #[ignore = "needs a CUDA device: scripts/test.sh and scripts/gpu-check.sh run it where one is present"]
        fn cuda_agrees_with_the_reference() {
            let (four, one) = common::cuda_four_and_one();
            $check(&four, &one, "CUDA");
        }
    };
}
#[allow(unused_imports)]
pub(crate) use gpu_form_tests;

/// A CPU runtime for the whole test binary: checked launches, memory cache only.
pub fn cpu() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::cpu_with(RuntimeOptions {
            threads: 2,
            mode: LaunchMode::Checked,
            cache_dir: None,
            dump_dir: None,
            ..RuntimeOptions::default()
        })
    })
}

/// The reference interpreter behind the same API.
pub fn interpreter() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(Runtime::interpreter)
}

/// A small deterministic generator (splitmix64), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Runs the `aqua` binary with `args`, its disk cache in `cache` and no IR dumps.
pub fn aqua(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aqua"))
        .args(args)
        .env("AQUA_CACHE_DIR", cache)
        .env_remove("AQUA_DUMP_DIR")
        .output()
        .expect("run aqua")
}

/// Runs `aqua` as [`aqua`] does, asserts it succeeded, and returns its `(stdout, stderr)`.
pub fn aqua_ok(args: &[&str], cache: &Path) -> (String, String) {
    let o = aqua(args, cache);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?}: {err}");
    (out, err)
}

/// A finished command's `(stdout, stderr)` as text.
pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}
