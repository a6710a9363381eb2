//! Helpers shared by the expansion tests: walking the IR and finding lines in sources.

use aqua_dsl::build::{KernelSource, Params};
use aqua_dsl::ir::{Inst, Kernel, Op, ValueId};

/// Every instruction, depth first, in program order.
pub fn insts(k: &Kernel) -> Vec<&Inst> {
    let mut out = Vec::new();
    k.walk(&mut |i| out.push(i));
    out
}

pub fn count(k: &Kernel, pred: impl Fn(&Op) -> bool) -> usize {
    insts(k).into_iter().filter(|i| pred(&i.op)).count()
}

pub fn build(k: &impl KernelSource, params: Params) -> Kernel {
    k.build(&params).unwrap_or_else(|e| panic!("{e}"))
}

/// The 1-based line of `src` (a test module's source) holding `marker`, outside the calls
/// to this function.
pub fn line_of(src: &str, marker: &str) -> u32 {
    let idx = src
        .lines()
        .position(|l| l.contains(marker) && !l.contains("line_of("))
        .unwrap_or_else(|| panic!("marker {marker} not found"));
    idx as u32 + 1
}

/// The instruction defining `v`.
pub fn def(k: &Kernel, v: ValueId) -> &Inst {
    insts(k)
        .into_iter()
        .find(|i| i.results.contains(&v))
        .expect("value has a definition")
}
