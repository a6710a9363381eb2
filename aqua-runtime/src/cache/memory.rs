//! The in-process level of the kernel cache: one compile per key, however many threads ask.
//!
//! The map holds one slot per key; a slot is a mutex around the value. The first thread to
//! lock an empty slot computes the value while later threads asking for the same key wait
//! on that slot (not on the whole map), then share the result. A failed computation leaves
//! the slot empty, so the next request tries again (a failure may be transient, such as a
//! full disk).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::CacheKey;

/// One key's value, empty until computed; its own lock is what waiters wait on.
type Slot<V> = Arc<Mutex<Option<Arc<V>>>>;

/// A map from cache key to a shared value, computing each value once.
pub struct MemoryCache<V> {
    slots: Mutex<HashMap<CacheKey, Slot<V>>>,
}

impl<V> Default for MemoryCache<V> {
    fn default() -> Self {
        MemoryCache { slots: Mutex::new(HashMap::new()) }
    }
}

/// A panic while computing a value leaves its slot empty, which is a consistent state, so
/// a poisoned lock is simply taken over.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<V> MemoryCache<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value for `key`, computing it with `make` unless present. Returns whether it
    /// was present (a hit). Concurrent callers with one key run `make` at most once between
    /// them, unless it fails.
    pub fn get_or_try_insert<E>(
        &self,
        key: &CacheKey,
        make: impl FnOnce() -> Result<V, E>,
    ) -> Result<(Arc<V>, bool), E> {
        let slot = lock(&self.slots).entry(*key).or_default().clone();
        let mut value = lock(&slot);
        if let Some(v) = value.as_ref() {
            return Ok((v.clone(), true));
        }
        let v = Arc::new(make()?);
        *value = Some(v.clone());
        Ok((v, false))
    }

    /// Number of computed values.
    pub fn len(&self) -> usize {
        lock(&self.slots).values().filter(|s| lock(s).is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::KeyInputs;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    fn key(ir: &str) -> CacheKey {
        CacheKey::new(KeyInputs { ir, target: "t", llvm: "l", options: "o" })
    }

    #[test]
    fn concurrent_requests_compute_once() {
        let cache = MemoryCache::<String>::new();
        let calls = AtomicUsize::new(0);
        let threads = 8;
        let barrier = Barrier::new(threads);
        let hits = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let (v, hit) = cache
                            .get_or_try_insert(&key("a"), || {
                                calls.fetch_add(1, Ordering::SeqCst);
                                // Long enough that the other threads arrive while it runs.
                                std::thread::sleep(std::time::Duration::from_millis(50));
                                Ok::<_, ()>("artifact".to_string())
                            })
                            .unwrap();
                        assert_eq!(*v, "artifact");
                        hit
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).filter(|&h| h).count()
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(hits, threads - 1);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn failures_are_not_cached() {
        let cache = MemoryCache::<u32>::new();
        assert_eq!(cache.get_or_try_insert(&key("b"), || Err("disk full")), Err("disk full"));
        assert!(cache.is_empty());
        let (v, hit) = cache.get_or_try_insert(&key("b"), || Ok::<_, &str>(7)).unwrap();
        assert_eq!((*v, hit), (7, false));
        let (v, hit) = cache.get_or_try_insert(&key("b"), || Err("unused")).unwrap();
        assert_eq!((*v, hit), (7, true));
    }

    #[test]
    fn a_panic_leaves_the_slot_usable() {
        let cache = MemoryCache::<u32>::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = cache.get_or_try_insert(&key("c"), || -> Result<u32, ()> { panic!("boom") });
        }));
        assert!(r.is_err());
        let (v, hit) = cache.get_or_try_insert(&key("c"), || Ok::<_, ()>(3)).unwrap();
        assert_eq!((*v, hit), (3, false));
    }
}
