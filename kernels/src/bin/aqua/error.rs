//! The command's error type: a message and an exit code (2 for a usage mistake, 1 for a
//! failure while doing the work).

use std::fmt;
use std::path::Path;

#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// A mistake in the command line (unknown kernel, bad parameter value...): exit code 2.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            code: 2,
            message: message.into(),
        }
    }

    /// The work failed: exit code 1.
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError {
            code: 1,
            message: message.into(),
        }
    }

    /// A usage mistake reported by the library (its message).
    pub fn usage_of(e: impl fmt::Display) -> CliError {
        CliError::usage(e.to_string())
    }

    pub fn io(path: &Path, e: std::io::Error) -> CliError {
        CliError::failed(format!("{}: {e}", path.display()))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
