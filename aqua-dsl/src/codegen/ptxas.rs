//! Finding and running NVIDIA's `ptxas`, the PTX-to-cubin assembler.
//!
//! No CUDA toolkit is required to build aqua: `scripts/setup.sh` installs PyPI's
//! `nvidia-cuda-nvcc-cu12` (which carries `ptxas`) into the git-ignored `.tools/cuda` of
//! the workspace. [`Ptxas::find`] looks, in order, at `AQUA_PTXAS`, at
//! `.tools/cuda/**/bin/ptxas` under the workspace root (found from this crate's source
//! directory, then from the running executable's ancestors), and at `PATH`. Callers treat
//! its absence as a value (tests print that they skipped), never as a panic.
//!
//! [`Ptxas::assemble`] runs `ptxas -arch=sm_XX --warn-on-spills -v` and parses the
//! resource usage it prints ([`PtxasStats`]): registers, spill bytes, static shared
//! memory and stack frame.
//!
//! **Starting early.** ptxas needs 14 to 20 ms to start before it reads any PTX. It reads
//! the PTX from its standard input, so [`Ptxas::start`] launches it before the PTX exists
//! (while LLVM compiles the kernel) and [`PendingCubin::finish`] hands it the text: the
//! start overlaps code generation, 8 to 9 ms off the 2-bit quantizer's cold GPU compile.
//!
//! **Optimization.** ptxas 12.8 and later assemble with `--Ofast-compile=min`, NVIDIA's
//! lightest fast-compile level ("minimizing some expensive optimizations", with little
//! effect on run time): the 2-bit quantizer assembles in about 39 ms instead of 50 to 54
//! (ptxas needs 14 to 20 ms to start at all), which brings a cold GPU compile to about the
//! 70 ms budget; the kernels are memory-bound. `AQUA_PTXAS_OPT=full` keeps ptxas's
//! default `-O3`. The flags are part of cubin cache keys ([`Ptxas::identity`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// Why assembling PTX failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PtxasError {
    /// `ptxas` could not be started, or its files could not be written or read.
    #[error("ptxas `{}`: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// `ptxas` rejected the PTX; `log` is what it printed.
    #[error("ptxas rejected the PTX for sm_{sm} (exit status {status}):\n{log}")]
    Rejected { sm: u32, status: String, log: String },
}

/// Resource usage of one kernel entry, as `ptxas -v` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PtxasStats {
    pub registers: u32,
    pub spill_store_bytes: u32,
    pub spill_load_bytes: u32,
    /// Static shared memory (`.shared` declarations); dynamic shared memory is not listed.
    pub shared_bytes: u32,
    pub stack_frame_bytes: u32,
}

impl std::fmt::Display for PtxasStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} registers, {} B spill stores, {} B spill loads, {} B static shared, {} B stack",
            self.registers, self.spill_store_bytes, self.spill_load_bytes, self.shared_bytes, self.stack_frame_bytes
        )
    }
}

/// An assembled kernel.
#[derive(Clone, Debug)]
pub struct Cubin {
    pub bytes: Vec<u8>,
    /// Usage of the first entry function in the module (aqua modules have one).
    pub stats: PtxasStats,
    /// Everything `ptxas` printed (its `-v` report and any warnings).
    pub log: String,
}

/// A `ptxas` executable.
#[derive(Clone, Debug)]
pub struct Ptxas {
    path: PathBuf,
    /// `--version`'s last line, read once.
    version: OnceLock<Result<String, PtxasError>>,
    /// `AQUA_PTXAS_OPT=full` when this was found: ptxas's own `-O3`, no fast-compile
    /// level (read once, so cache keys and assembly agree).
    full_opt: bool,
}

/// The environment variable that selects ptxas's optimization (`full`: its default `-O3`).
pub const OPT_ENV: &str = "AQUA_PTXAS_OPT";

impl Ptxas {
    /// Finds `ptxas` (see the module docs); `None` when there is none.
    pub fn find() -> Option<Ptxas> {
        super::cuda_tools::find_tool("AQUA_PTXAS", "cuda", "ptxas").map(Ptxas::at)
    }

    /// [`Ptxas::find`], or a message that says how to get it (for callers that need it,
    /// such as the test suite, which `scripts/setup.sh` provides with ptxas).
    pub fn require() -> Result<Ptxas, String> {
        Ptxas::find().ok_or_else(|| {
            "ptxas not found: run scripts/setup.sh (it installs ptxas from PyPI's nvidia-cuda-nvcc-cu12 \
             into .tools/cuda) or set AQUA_PTXAS"
                .to_string()
        })
    }

    fn at(path: PathBuf) -> Ptxas {
        let full_opt = std::env::var(OPT_ENV).is_ok_and(|v| v == "full");
        Ptxas { path, version: OnceLock::new(), full_opt }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `ptxas --version`'s last line, e.g. `Build cuda_12.9.r12.9/compiler.36037853_0`
    /// (the one before it reads `Cuda compilation tools, release 12.9, V12.9.86`).
    pub fn version(&self) -> Result<String, PtxasError> {
        self.version
            .get_or_init(|| {
                let out = Command::new(&self.path).arg("--version").output().map_err(|e| self.io(e))?;
                let text = String::from_utf8_lossy(&out.stdout);
                Ok(text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string())
            })
            .clone()
    }

    /// The optimization flags [`Ptxas::assemble`] passes (module docs).
    pub fn opt_flags(&self) -> Vec<&'static str> {
        let fast_compile = self.version().is_ok_and(|v| release(&v).is_some_and(|r| r >= (12, 8)));
        if fast_compile && !self.full_opt {
            vec!["--Ofast-compile=min"]
        } else {
            vec![]
        }
    }

    /// The version and the flags: what a cubin cache key needs to know about ptxas.
    pub fn identity(&self) -> Result<String, PtxasError> {
        Ok(format!("{} {}", self.version()?, self.opt_flags().join(" ")).trim_end().to_string())
    }

    /// Assembles `ptx` for `sm_<sm>`.
    pub fn assemble(&self, ptx: &str, sm: u32) -> Result<Cubin, PtxasError> {
        self.start(sm)?.finish(ptx)
    }

    /// Starts ptxas for `sm_<sm>` before the PTX is ready (module docs); dropping the
    /// result without [`PendingCubin::finish`] stops it.
    pub fn start(&self, sm: u32) -> Result<PendingCubin, PtxasError> {
        let dir = tempfile::tempdir().map_err(|e| self.io(e))?;
        let output = dir.path().join("kernel.cubin");
        let child = Command::new(&self.path)
            .arg(format!("-arch=sm_{sm}"))
            .args(["--warn-on-spills", "-v"])
            .args(self.opt_flags())
            .arg("/dev/stdin")
            .arg("-o")
            .arg(&output)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.io(e))?;
        Ok(PendingCubin { ptxas: self.clone(), sm, child: Some(child), output, _dir: dir })
    }

    fn io(&self, e: std::io::Error) -> PtxasError {
        PtxasError::Io { path: self.path.clone(), message: e.to_string() }
    }
}

/// A ptxas process waiting for its PTX ([`Ptxas::start`]).
#[derive(Debug)]
pub struct PendingCubin {
    ptxas: Ptxas,
    sm: u32,
    /// Taken by `finish`; a child still here at drop is killed.
    child: Option<Child>,
    output: PathBuf,
    /// Holds the output's directory until the cubin is read.
    _dir: tempfile::TempDir,
}

impl PendingCubin {
    /// Hands ptxas `ptx`, waits for it and reads the cubin.
    pub fn finish(mut self, ptx: &str) -> Result<Cubin, PtxasError> {
        let mut child = self.child.take().expect("a pending ptxas has its process until finished");
        let mut stdin = child.stdin.take().expect("ptxas was started with a piped stdin");
        // Written from another thread while this one drains ptxas's output, so neither
        // side can fill a pipe and wait on the other. A write error (ptxas exited early)
        // shows in its exit status and log.
        let out = std::thread::scope(|scope| {
            scope.spawn(move || {
                let _ = stdin.write_all(ptx.as_bytes());
            });
            child.wait_with_output()
        })
        .map_err(|e| self.ptxas.io(e))?;
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            return Err(PtxasError::Rejected { sm: self.sm, status: out.status.to_string(), log });
        }
        let bytes = std::fs::read(&self.output).map_err(|e| self.ptxas.io(e))?;
        Ok(Cubin { bytes, stats: parse_stats(&log), log })
    }
}

impl Drop for PendingCubin {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `(major, minor)` of a `--version` line like `Build cuda_12.9.r12.9/compiler...`.
fn release(version: &str) -> Option<(u32, u32)> {
    let rest = &version[version.find("cuda_")? + 5..];
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Parses the `-v` report of the first entry function:
///
/// ```text
/// ptxas info    : Function properties for aqua_kernel
///     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
/// ptxas info    : Used 12 registers, 16 bytes smem, 380 bytes cmem[0]
/// ```
pub fn parse_stats(log: &str) -> PtxasStats {
    let mut s = PtxasStats::default();
    let number_before = |line: &str, unit: &str| -> Option<u32> {
        let at = line.find(unit)?;
        line[..at].split(|c: char| !c.is_ascii_digit()).rfind(|w| !w.is_empty())?.parse().ok()
    };
    let (mut seen_frame, mut seen_used) = (false, false);
    for line in log.lines() {
        if !seen_frame && line.contains("bytes stack frame") {
            seen_frame = true;
            s.stack_frame_bytes = number_before(line, "bytes stack frame").unwrap_or(0);
            s.spill_store_bytes = number_before(line, "bytes spill stores").unwrap_or(0);
            s.spill_load_bytes = number_before(line, "bytes spill loads").unwrap_or(0);
        }
        if !seen_used && line.contains("Used") && line.contains("registers") {
            seen_used = true;
            s.registers = number_before(line, "registers").unwrap_or(0);
            s.shared_bytes = number_before(line, "bytes smem").unwrap_or(0);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_verbose_report() {
        let log = "ptxas info    : 0 bytes gmem\n\
                   ptxas info    : Compiling entry function 'aqua_kernel' for 'sm_90'\n\
                   ptxas info    : Function properties for aqua_kernel\n    \
                   8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads\n\
                   ptxas info    : Used 40 registers, 1024 bytes smem, 380 bytes cmem[0]\n";
        let s = parse_stats(log);
        assert_eq!(
            s,
            PtxasStats {
                registers: 40,
                spill_store_bytes: 4,
                spill_load_bytes: 12,
                shared_bytes: 1024,
                stack_frame_bytes: 8
            }
        );
    }

    #[test]
    fn reads_the_release_from_the_version_line() {
        assert_eq!(release("Build cuda_12.9.r12.9/compiler.36037853_0"), Some((12, 9)));
        assert_eq!(release("Build cuda_12.4.r12.4/compiler.34097967_0"), Some((12, 4)));
        assert_eq!(release("Build cuda_13.0.r13.0/compiler.1_0"), Some((13, 0)));
        assert_eq!(release("something else"), None);
    }

    #[test]
    fn missing_fields_are_zero() {
        let s = parse_stats("ptxas info    : Used 7 registers, 356 bytes cmem[0]\n");
        assert_eq!(s, PtxasStats { registers: 7, ..Default::default() });
    }
}
