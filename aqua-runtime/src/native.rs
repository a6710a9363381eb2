//! Native code on its way into the process: the objects of one compile (a kernel's, and
//! its outlined general form's when it has one), packed as one disk cache payload and
//! linked into the process as a CPU or SIMT module.
//!
//! Payload: `"AQOBJ1"`, the object count (u32, little endian), then each object as its
//! length (u64) and bytes. The disk cache checks its entries' checksums and keys first;
//! [`NativeCode::unpack`] still checks every length, so a bad payload is an error.

use crate::backend::cpu::CpuModule;
use crate::backend::simt::SimtModule;
use crate::error::Error;

const MAGIC: &[u8] = b"AQOBJ1";

/// The objects of one compiled kernel.
pub(crate) struct NativeCode {
    objects: Vec<Vec<u8>>,
}

impl NativeCode {
    pub(crate) fn new(objects: &[&[u8]]) -> NativeCode {
        NativeCode { objects: objects.iter().map(|o| o.to_vec()).collect() }
    }

    /// The disk cache payload.
    pub(crate) fn pack(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend((self.objects.len() as u32).to_le_bytes());
        for o in &self.objects {
            out.extend((o.len() as u64).to_le_bytes());
            out.extend(o);
        }
        out
    }

    /// Reads a payload written by [`NativeCode::pack`].
    pub(crate) fn unpack(payload: &[u8]) -> Result<NativeCode, String> {
        let mut rest = payload.strip_prefix(MAGIC).ok_or("not a packed kernel object")?;
        let mut take = |n: usize| -> Result<&[u8], String> {
            if rest.len() < n {
                return Err(format!("truncated: {n} bytes wanted, {} left", rest.len()));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
        let mut objects = Vec::new();
        for _ in 0..count {
            let len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
            let len = usize::try_from(len).map_err(|_| format!("an object of {len} bytes"))?;
            objects.push(take(len)?.to_vec());
        }
        if objects.is_empty() || !rest.is_empty() {
            return Err(format!("{} objects and {} trailing bytes", objects.len(), rest.len()));
        }
        Ok(NativeCode { objects })
    }

    fn objects(&self) -> Vec<&[u8]> {
        self.objects.iter().map(Vec::as_slice).collect()
    }

    /// Links the objects into the process as a CPU kernel.
    pub(crate) fn load(&self, kernel: &str) -> Result<CpuModule, Error> {
        CpuModule::load(&self.objects()).map_err(|source| Error::Cpu { kernel: kernel.to_string(), source })
    }

    /// Links the objects into the process as a SIMT emulation kernel.
    pub(crate) fn load_simt(&self, kernel: &str) -> Result<SimtModule, Error> {
        SimtModule::load(&self.objects()).map_err(|source| Error::Cpu { kernel: kernel.to_string(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_round_trips_and_damage_is_an_error() {
        let code = NativeCode::new(&[b"first object", b"second"]);
        let packed = code.pack();
        assert_eq!(NativeCode::unpack(&packed).unwrap().objects, code.objects);
        for cut in 0..packed.len() {
            assert!(NativeCode::unpack(&packed[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = packed.clone();
        longer.push(0);
        assert!(NativeCode::unpack(&longer).is_err());
        let mut huge = packed;
        huge[10..18].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(NativeCode::unpack(&huge).is_err());
        assert!(NativeCode::unpack(&NativeCode { objects: vec![] }.pack()).is_err());
    }
}
