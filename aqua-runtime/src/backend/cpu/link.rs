//! Linking a relocatable kernel object into a shared library with the system linker.
//!
//! `ld -shared` directly (a few milliseconds), or the C compiler driver when `ld` is not
//! on the PATH. libm is linked as needed: the code generator may call `exp`, `log` and
//! `fmodf`, and nothing else.

use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::Command;

use super::CpuError;

/// Links `object` (an ELF relocatable object) into the shared library `out`.
pub fn link_shared_object(object: &[u8], out: &Path) -> Result<(), CpuError> {
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut obj = tempfile::Builder::new().prefix("aqua-kernel-").suffix(".o").tempfile_in(dir).map_err(|source| {
        CpuError::Io { what: "cannot create a temporary object file in", path: dir.into(), source }
    })?;
    obj.write_all(object).and_then(|()| obj.flush()).map_err(|source| CpuError::Io {
        what: "cannot write",
        path: obj.path().into(),
        source,
    })?;
    let linkers: [(&str, &[&str]); 2] = [
        ("ld", &["-shared", "-z", "noexecstack", "--as-needed", "-lm"]),
        ("cc", &["-shared", "-nostartfiles", "-Wl,-z,noexecstack", "-Wl,--as-needed", "-lm"]),
    ];
    for (linker, flags) in linkers {
        let mut cmd = Command::new(linker);
        cmd.arg("-o").arg(out).arg(obj.path()).args(flags);
        let output = match cmd.output() {
            Ok(o) => o,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(source) => return Err(CpuError::Io { what: "cannot run the linker", path: linker.into(), source }),
        };
        if output.status.success() {
            return Ok(());
        }
        return Err(CpuError::Link {
            command: format!("{cmd:?}"),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Err(CpuError::NoLinker)
}
