//! Finding NVIDIA's command-line tools (`ptxas`, `nvdisasm`) without a CUDA toolkit:
//! `scripts/setup.sh` installs them from PyPI into git-ignored folders under `.tools` of
//! the workspace, which is found from this crate's source directory, then from the running
//! executable's ancestors.

use std::path::{Path, PathBuf};

/// The tool `exe`: the file `env` names when that variable is set (and nothing when that
/// file is missing), else the first `bin/<exe>` a few folders below `.tools/<folder>` of
/// the workspace, else `exe` on `PATH`.
pub(crate) fn find_tool(env: &str, folder: &str, exe: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(p);
        return path.is_file().then_some(path);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let current = std::env::current_exe().ok();
    let roots = manifest.ancestors().chain(current.iter().flat_map(|e| e.ancestors()));
    for root in roots {
        if let Some(path) = find_under(&root.join(".tools").join(folder), exe, 5) {
            return Some(path);
        }
    }
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var).map(|d| d.join(exe)).find(|p| p.is_file())
}

/// The first `bin/<exe>` at most `depth` folders below `dir`, in name order.
fn find_under(dir: &Path, exe: &str, depth: u32) -> Option<PathBuf> {
    let candidate = dir.join("bin").join(exe);
    if candidate.is_file() {
        return Some(candidate);
    }
    if depth == 0 {
        return None;
    }
    let mut subdirs: Vec<PathBuf> =
        std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    subdirs.into_iter().find_map(|d| find_under(&d, exe, depth - 1))
}
