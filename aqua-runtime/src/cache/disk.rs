//! The on-disk level of the kernel cache: one file per key, shared by every process.
//!
//! An entry is a small header followed by the payload (a kernel's packed objects, or a cubin):
//!
//! ```text
//! magic "AQUAKC\r\n" | format version u32 LE | key [32] | payload length u64 LE
//! | blake3(payload) [32] | payload
//! ```
//!
//! Entries are written to a temporary file in the same directory and renamed into place,
//! so a reader sees either no entry or a whole one, and processes compiling one key at
//! once all succeed (the last rename wins; the contents are equivalent). Nothing is
//! fsynced: a file torn by a crash fails its checksum on the next read, and a failed
//! check drops the entry with a warning, so the cost of a crash is one recompile.
//! A truncated, garbage or foreign (another key's, another format's) entry is never
//! handed out.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::CacheKey;

const MAGIC: &[u8; 8] = b"AQUAKC\r\n";
/// 2: CPU and SIMT payloads hold packed objects (`native.rs`), no longer a shared library.
const FORMAT_VERSION: u32 = 2;
const HEADER_LEN: usize = 8 + 4 + 32 + 8 + 32;

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A verified payload.
    Hit(Vec<u8>),
    /// No entry for the key.
    Miss,
    /// An entry that failed verification; it was removed (and a warning printed).
    Dropped { reason: String },
}

/// A directory of cache entries.
#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    /// A cache in `dir` (created on the first store).
    pub fn new(dir: impl Into<PathBuf>) -> DiskCache {
        DiskCache { dir: dir.into() }
    }

    /// `AQUA_CACHE_DIR` when set and non-empty, else `aqua` in the user's cache directory
    /// (`~/.cache/aqua` on Linux); `None` where the platform has no cache directory.
    pub fn default_dir() -> Option<PathBuf> {
        match std::env::var_os("AQUA_CACHE_DIR") {
            Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
            _ => dirs::cache_dir().map(|d| d.join("aqua")),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `key`'s entry.
    pub fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.aqk", key.hex()))
    }

    /// Reads and verifies `key`'s entry. A corrupt entry is removed and reported (on
    /// stderr and in the result); I/O errors other than a missing file count as corrupt
    /// too, since the caller can always rebuild.
    pub fn load(&self, key: &CacheKey) -> Lookup {
        let path = self.entry_path(key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return self.drop_entry(&path, format!("unreadable: {e}")),
        };
        match verify(key, bytes) {
            Ok(payload) => Lookup::Hit(payload),
            Err(reason) => self.drop_entry(&path, reason),
        }
    }

    /// Writes `key`'s entry atomically (temporary file, then rename).
    pub fn store(&self, key: &CacheKey, payload: &[u8]) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").suffix(".aqk").tempfile_in(&self.dir)?;
        tmp.write_all(&header(key, payload))?;
        tmp.write_all(payload)?;
        tmp.persist(self.entry_path(key)).map_err(|e| e.error)?;
        Ok(())
    }

    /// Removes `key`'s entry, which verified but could not be used (code that does not
    /// link, say), and reports it like a corrupt one.
    pub fn reject(&self, key: &CacheKey, reason: String) -> Lookup {
        self.drop_entry(&self.entry_path(key), reason)
    }

    fn drop_entry(&self, path: &Path, reason: String) -> Lookup {
        let removal = match fs::remove_file(path) {
            Ok(()) => String::new(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => format!(" (and could not remove it: {e})"),
        };
        eprintln!("aqua: warning: dropped corrupt cache entry {}: {reason}{removal}; rebuilding it", path.display());
        Lookup::Dropped { reason }
    }
}

fn header(key: &CacheKey, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(key.as_bytes());
    h.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    h.extend_from_slice(blake3::hash(payload).as_bytes());
    h
}

/// Checks an entry's header against `key` and its payload, returning the payload.
fn verify(key: &CacheKey, mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("truncated: {} bytes, shorter than the {HEADER_LEN}-byte header", bytes.len()));
    }
    let (head, payload) = bytes.split_at(HEADER_LEN);
    let field = |at: usize, len: usize| &head[at..at + len];
    if field(0, 8) != MAGIC {
        return Err("not an aqua cache entry (bad magic bytes)".into());
    }
    let version = u32::from_le_bytes(field(8, 4).try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(format!("entry format {version}, expected {FORMAT_VERSION}"));
    }
    if field(12, 32) != key.as_bytes() {
        let mut other = [0u8; 32];
        other.copy_from_slice(field(12, 32));
        return Err(format!("entry belongs to key {}", CacheKey::from_bytes(other).short()));
    }
    let len = u64::from_le_bytes(field(44, 8).try_into().expect("8 bytes"));
    if len != payload.len() as u64 {
        return Err(format!("payload of {} bytes, header says {len}", payload.len()));
    }
    if field(52, 32) != blake3::hash(payload).as_bytes() {
        return Err("payload checksum mismatch".into());
    }
    bytes.drain(..HEADER_LEN);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::KeyInputs;

    fn key(ir: &str) -> CacheKey {
        CacheKey::new(KeyInputs { ir, target: "t", llvm: "l", options: "o" })
    }

    fn entry_for(key: &CacheKey, payload: &[u8]) -> Vec<u8> {
        let mut e = header(key, payload);
        e.extend_from_slice(payload);
        e
    }

    #[test]
    fn store_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path().join("nested"));
        assert_eq!(cache.load(&key("a")), Lookup::Miss);
        cache.store(&key("a"), b"kernel objects").unwrap();
        assert_eq!(cache.load(&key("a")), Lookup::Hit(b"kernel objects".to_vec()));
        // Overwriting (another process's identical compile) is fine.
        cache.store(&key("a"), b"kernel objects").unwrap();
        assert_eq!(cache.load(&key("a")), Lookup::Hit(b"kernel objects".to_vec()));
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(cache.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn every_kind_of_damage_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path());
        let k = key("a");
        let good = entry_for(&k, b"payload bytes");
        let mut bad_magic = good.clone();
        bad_magic[0] ^= 1;
        let mut bad_version = good.clone();
        bad_version[8] = 9;
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x40;
        let mut longer = good.clone();
        longer.push(0);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "truncated"),
            ("short header", good[..20].to_vec(), "truncated"),
            ("truncated payload", good[..good.len() - 3].to_vec(), "header says"),
            ("extra bytes", longer, "header says"),
            ("garbage", vec![0xAB; 500], "magic"),
            ("bad magic", bad_magic, "magic"),
            ("other format", bad_version, "format 9"),
            ("foreign key", entry_for(&key("b"), b"payload bytes"), "belongs to key"),
            ("flipped payload bit", flipped, "checksum"),
        ];
        for (what, bytes, reason) in cases {
            fs::write(cache.entry_path(&k), &bytes).unwrap();
            match cache.load(&k) {
                Lookup::Dropped { reason: r } => assert!(r.contains(reason), "{what}: {r}"),
                other => panic!("{what}: {other:?}"),
            }
            assert!(!cache.entry_path(&k).exists(), "{what}: entry not removed");
            assert_eq!(cache.load(&k), Lookup::Miss, "{what}");
        }
    }

    #[test]
    fn concurrent_writers_leave_a_whole_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path());
        let k = key("a");
        let payload = vec![7u8; 1 << 20];
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..5 {
                        cache.store(&k, &payload).unwrap();
                        // A reader racing the writers sees nothing or a whole entry.
                        match cache.load(&k) {
                            Lookup::Hit(p) => assert_eq!(p, payload),
                            Lookup::Miss => {}
                            d => panic!("{d:?}"),
                        }
                    }
                });
            }
        });
        assert_eq!(cache.load(&k), Lookup::Hit(payload));
    }
}
