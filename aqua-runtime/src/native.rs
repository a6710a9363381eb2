//! Shared objects on their way into the process.
//!
//! `dlopen` needs a file, but the disk cache stores each shared object inside a checked
//! entry. So a verified payload, or a freshly linked object, lives in a private temporary
//! file just long enough to be loaded; the file is deleted when the [`SharedObject`] is
//! dropped (the loaded mapping outlives its name). An unverified byte never reaches the
//! dynamic loader.

use std::io::Write;

use tempfile::NamedTempFile;

use crate::backend::cpu::{link_shared_object, CpuModule};
use crate::backend::simt::SimtModule;
use crate::error::Error;

/// A shared object in a private temporary file, with its bytes.
pub(crate) struct SharedObject {
    file: NamedTempFile,
    bytes: Vec<u8>,
}

/// A fresh, private temporary path for one shared object.
fn scratch() -> Result<NamedTempFile, Error> {
    let dir = std::env::temp_dir();
    tempfile::Builder::new().prefix("aqua-kernel-").suffix(".so").tempfile_in(&dir).map_err(|source| Error::Io {
        what: "cannot create a temporary file in",
        path: dir,
        source,
    })
}

impl SharedObject {
    /// Links an object file (the code generator's output) into a shared object.
    pub(crate) fn link(kernel: &str, object: &[u8]) -> Result<SharedObject, Error> {
        let file = scratch()?;
        link_shared_object(object, file.path()).map_err(|source| Error::Cpu { kernel: kernel.to_string(), source })?;
        let bytes = std::fs::read(file.path()).map_err(|source| Error::Io {
            what: "cannot read the linked kernel",
            path: file.path().to_path_buf(),
            source,
        })?;
        Ok(SharedObject { file, bytes })
    }

    /// A shared object from verified bytes (a disk cache payload).
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> Result<SharedObject, Error> {
        let mut file = scratch()?;
        file.write_all(&bytes).and_then(|()| file.flush()).map_err(|source| Error::Io {
            what: "cannot write",
            path: file.path().to_path_buf(),
            source,
        })?;
        Ok(SharedObject { file, bytes })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Loads it into the process.
    pub(crate) fn load(&self, kernel: &str) -> Result<CpuModule, Error> {
        CpuModule::load(self.file.path()).map_err(|source| Error::Cpu { kernel: kernel.to_string(), source })
    }

    /// Loads it as a SIMT emulation module.
    pub(crate) fn load_simt(&self, kernel: &str) -> Result<SimtModule, Error> {
        SimtModule::load(self.file.path()).map_err(|source| Error::Cpu { kernel: kernel.to_string(), source })
    }
}
