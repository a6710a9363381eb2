//! The quantizer methods as the commands name them (`--methods uniform,kivi,higgs`), and
//! one (method, bits, group) of a command's lists: what `demo`, `bench`, `tune` and
//! `quant-eval` turn into the kernels' [`Method`]s, with one wording for every mistake.

use aqua_kernels::host::codec::Method;
use aqua_kernels::quant::grids::Grid;
use aqua_kernels::quant::higgs::HiggsConfig;
use aqua_kernels::quant::{Grouping, Uniform};

/// A quantizer by the name a command line gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodName {
    /// Uniform, groups along channels.
    Uniform,
    /// Uniform, keys grouped along tokens (per channel, KIVI's keys); values along channels.
    Kivi,
    /// HIGGS: Hadamard groups and the EDEN grid of `bits` bits per value.
    Higgs,
}

impl MethodName {
    /// The name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            MethodName::Uniform => "uniform",
            MethodName::Kivi => "kivi",
            MethodName::Higgs => "higgs",
        }
    }

    /// Whether the method has a variant of `bits` bits (HIGGS grids in 2-D: 2, 3, 4).
    pub fn has_bits(self, bits: u32) -> bool {
        self != MethodName::Higgs || (2..=4).contains(&bits)
    }
}

/// One (method, bits, group) of a command's lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    pub method: MethodName,
    /// Bits per code (uniform, kivi); bits per value of the grid (higgs).
    pub bits: u32,
    /// Values per group (uniform, kivi); the Hadamard group (higgs).
    pub group: usize,
}

/// Every (method, bits, group) of the lists, in that order, without the widths a method
/// lacks ([`MethodName::has_bits`]).
pub fn variants(methods: &[MethodName], bits: &[u32], groups: &[usize]) -> Vec<Variant> {
    let mut out = Vec::new();
    for &method in methods {
        for &b in bits.iter().filter(|&&b| method.has_bits(b)) {
            out.extend(groups.iter().map(|&group| Variant { method, bits: b, group }));
        }
    }
    out
}

impl Variant {
    /// The methods for keys and for values of tokens of `channels` values, HIGGS grids of
    /// `dim` dimensions (2, or 4 with 2 bits); a mistake says which variant and why.
    pub fn methods(&self, channels: usize, dim: usize) -> Result<(Method, Method), String> {
        let bad =
            |e: &dyn std::fmt::Display| format!("{} bits={} group={}: {e}", self.method.name(), self.bits, self.group);
        if self.method != MethodName::Higgs && dim != 2 {
            return Err(bad(&"--dim applies to --method higgs only"));
        }
        Ok(match self.method {
            MethodName::Uniform | MethodName::Kivi => {
                let q = Uniform::new(self.bits, self.group).map_err(|e| bad(&e))?;
                let keys = match self.method {
                    MethodName::Kivi if !channels.is_multiple_of(32) => {
                        return Err(bad(&format!(
                        "kivi groups keys along tokens, which needs a multiple of 32 channels; the data has {channels}"
                    )))
                    }
                    MethodName::Kivi => Grouping::Tokens { channels },
                    _ => Grouping::Channels,
                };
                (Method::Uniform(q, keys), Method::Uniform(q, Grouping::Channels))
            }
            MethodName::Higgs => {
                let grid = Grid::for_bits(dim, self.bits).map_err(|e| bad(&e))?;
                if !(32..=1024).contains(&self.group) {
                    return Err(bad(&format!("Hadamard group {} is outside 32..=1024", self.group)));
                }
                let config = HiggsConfig::new(self.group, dim, grid.len()).map_err(|e| bad(&e))?;
                (Method::Higgs(config), Method::Higgs(config))
            }
        })
    }

    /// The method of keys (what `bench` and `tune` measure: KIVI's grouping is its keys').
    pub fn key_method(&self, channels: usize) -> Result<Method, String> {
        Ok(self.methods(channels, 2)?.0)
    }
}

/// A method in words, as the commands' headers print it.
pub fn describe(method: Method) -> String {
    match method {
        Method::Uniform(q, Grouping::Channels) => {
            format!("uniform {} bits, groups of {} along channels", q.bits(), q.group())
        }
        Method::Uniform(q, Grouping::Tokens { .. }) => {
            format!("uniform {} bits, groups of {} tokens per channel", q.bits(), q.group())
        }
        Method::Higgs(c) => format!("HIGGS EDEN{}-{}, Hadamard groups of {}", c.dim, c.points, c.group),
    }
}
