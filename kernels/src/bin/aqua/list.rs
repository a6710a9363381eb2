//! `aqua list`: one kernel per line, its name then its comptime parameters (`name=default`,
//! or the bare name when the parameter has no default).

use aqua_dsl::KernelSource;

pub fn run() {
    for k in aqua_kernels::registry() {
        println!("{}", describe(*k));
    }
}

/// `quantize_uniform bits group=64 block=1024`.
pub fn describe(k: &dyn KernelSource) -> String {
    let mut line = k.name().to_string();
    for p in k.comptime_params() {
        line.push(' ');
        line.push_str(p.name);
        if let Some(d) = p.default {
            line.push_str(&format!("={d}"));
        }
    }
    line
}
