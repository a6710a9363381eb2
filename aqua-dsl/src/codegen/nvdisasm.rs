//! SASS, the GPU's own machine code, from a cubin: NVIDIA's `nvdisasm`, the last stage a
//! kernel's code can be dumped at (`aqua compile --target sm_90 --emit sass`, like
//! Triton's `asm["sass"]`).
//!
//! PTX is a virtual ISA that ptxas optimizes further (it unrolls, merges loads, drops
//! conversions), so counting PTX instructions misjudges what a thread executes; SASS does
//! not, and needs no GPU. [`summarize`] counts a kernel's instructions and, for each loop
//! (a branch back to a label), its body's instructions by opcode: what one iteration
//! issues, the number to hold against a bandwidth budget.
//!
//! `scripts/setup.sh` installs PyPI's `nvidia-cuda-nvdisasm` into the git-ignored
//! `.tools/nvdisasm`; [`Nvdisasm::find`] looks at `AQUA_NVDISASM`, then there, then at
//! `PATH`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why disassembling failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NvdisasmError {
    /// `nvdisasm` could not be started, or its input could not be written.
    #[error("nvdisasm `{}`: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// `nvdisasm` refused the cubin; `log` is what it printed.
    #[error("nvdisasm failed (exit status {status}):\n{log}")]
    Failed { status: String, log: String },
}

/// An `nvdisasm` executable.
#[derive(Clone, Debug)]
pub struct Nvdisasm {
    path: PathBuf,
}

impl Nvdisasm {
    /// Finds `nvdisasm` (see the module docs); `None` when there is none.
    pub fn find() -> Option<Nvdisasm> {
        super::cuda_tools::find_tool("AQUA_NVDISASM", "nvdisasm", "nvdisasm").map(|path| Nvdisasm { path })
    }

    /// [`Nvdisasm::find`], or a message that says how to get it.
    pub fn require() -> Result<Nvdisasm, String> {
        Nvdisasm::find().ok_or_else(|| {
            "nvdisasm not found: run scripts/setup.sh (it installs nvdisasm from PyPI's nvidia-cuda-nvdisasm \
             into .tools/nvdisasm) or set AQUA_NVDISASM"
                .to_string()
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SASS of `cubin` (`nvdisasm -c`: code sections only, one instruction a line).
    pub fn disassemble(&self, cubin: &[u8]) -> Result<String, NvdisasmError> {
        let io = |e: std::io::Error| NvdisasmError::Io { path: self.path.clone(), message: e.to_string() };
        let dir = tempfile::tempdir().map_err(io)?;
        let file = dir.path().join("kernel.cubin");
        std::fs::write(&file, cubin).map_err(io)?;
        let out = Command::new(&self.path).arg("-c").arg(&file).output().map_err(io)?;
        if !out.status.success() {
            let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            return Err(NvdisasmError::Failed { status: out.status.to_string(), log });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// What [`summarize`] finds in a kernel's SASS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SassSummary {
    /// Instructions in the whole kernel.
    pub instructions: usize,
    /// Every loop, in program order.
    pub loops: Vec<SassLoop>,
}

/// A loop: the instructions from a label to a branch back to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SassLoop {
    /// Position of its first instruction in the kernel (0-based).
    pub first: usize,
    /// Instructions in its body, the branch included.
    pub len: usize,
    /// Its instructions by opcode (without modifiers), most frequent first, ties by name.
    pub ops: Vec<(String, usize)>,
}

/// Counts `sass`'s instructions (`/*0430*/  [@P0] OPCODE.MODIFIERS operands ;` lines) and
/// its loops (an instruction `BRA` to a `.L_x_N:` label at or before it).
pub fn summarize(sass: &str) -> SassSummary {
    let mut opcodes: Vec<String> = Vec::new();
    let mut targets: Vec<Option<String>> = Vec::new();
    let mut labels: HashMap<String, usize> = HashMap::new();
    for line in sass.lines().map(str::trim) {
        if let Some(label) = line.strip_suffix(':').filter(|l| l.starts_with('.') && !l.contains(' ')) {
            labels.insert(label.trim_start_matches('.').to_string(), opcodes.len());
            continue;
        }
        let Some(code) = line.strip_prefix("/*").and_then(|l| l.split_once("*/")).map(|(_, c)| c.trim()) else {
            continue;
        };
        let mut words = code.split_whitespace().skip_while(|w| w.starts_with('@'));
        let Some(op) = words.next().map(|w| w.split('.').next().unwrap_or(w).trim_end_matches(';')) else {
            continue;
        };
        if op.is_empty() {
            continue;
        }
        let target =
            (op == "BRA").then(|| code.split_once("(.").map(|(_, t)| t.split(')').next().unwrap_or(""))).flatten();
        opcodes.push(op.to_string());
        targets.push(target.map(str::to_string));
    }
    let mut loops = Vec::new();
    for (at, target) in targets.iter().enumerate() {
        let Some(&first) = target.as_ref().and_then(|t| labels.get(t)) else {
            continue;
        };
        if first > at {
            continue;
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for op in &opcodes[first..=at] {
            *counts.entry(op).or_default() += 1;
        }
        let mut ops: Vec<(String, usize)> = counts.into_iter().map(|(o, n)| (o.to_string(), n)).collect();
        ops.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        loops.push(SassLoop { first, len: at + 1 - first, ops });
    }
    loops.sort_by_key(|l| l.first);
    SassSummary { instructions: opcodes.len(), loops }
}

impl std::fmt::Display for SassSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} SASS instructions, {} loops", self.instructions, self.loops.len())?;
        for l in &self.loops {
            let ops: Vec<String> = l.ops.iter().map(|(o, n)| format!("{o} {n}")).collect();
            write!(f, "\n  loop at {}: {} instructions an iteration ({})", l.first, l.len, ops.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of `nvdisasm -c` output: a loop of four instructions, a forward branch,
    /// and a predicated backward one.
    const SASS: &str = "\t.text.aqua_kernel:
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        /*0010*/               @!P0 BRA `(.L_x_1) ;
.L_x_0:
        /*0020*/                   LDG.E.128.CONSTANT R4, desc[UR4][R2.64] ;
        /*0030*/                   FFMA R0, R4, R5, R0 ;
        /*0040*/                   FFMA R0, R6, R7, R0 ;
        /*0050*/               @P1 BRA `(.L_x_0) ;
.L_x_1:
        /*0060*/                   EXIT ;
        /*0070*/                   BRA `(.L_x_2);
.L_x_2:
";

    #[test]
    fn counts_instructions_and_loop_bodies() {
        let s = summarize(SASS);
        assert_eq!(s.instructions, 8);
        assert_eq!(
            s.loops,
            vec![SassLoop { first: 2, len: 4, ops: vec![("FFMA".into(), 2), ("BRA".into(), 1), ("LDG".into(), 1)] }]
        );
        assert_eq!(
            s.to_string(),
            "8 SASS instructions, 1 loops\n  loop at 2: 4 instructions an iteration (FFMA 2, BRA 1, LDG 1)"
        );
    }

    #[test]
    fn text_without_instructions_has_none() {
        assert_eq!(summarize("nothing here\n.L_x_0:\n"), SassSummary { instructions: 0, loops: vec![] });
    }
}
