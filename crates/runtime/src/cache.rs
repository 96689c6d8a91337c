//! A small concurrent memo: tens of thousands of goroutines share a handful of distinct pcs, so
//! each pc is decoded from the pclntab once.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;

const SHARDS: usize = 64;

/// A map from keys to values computed once, shared between threads.
pub(crate) struct Memo<K, V> {
    shards: Vec<Mutex<HashMap<K, V>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl<K: Hash + Eq + Copy, V: Clone> Memo<K, V> {
    pub(crate) fn new() -> Memo<K, V> {
        Memo {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The value for `k`, computed by `f` the first time.
    pub(crate) fn get(&self, k: K, f: impl FnOnce() -> V) -> V {
        let shard = &self.shards[(self.hasher.hash_one(k) as usize) % SHARDS];
        if let Some(v) = shard.lock().unwrap_or_else(|e| e.into_inner()).get(&k) {
            return v.clone();
        }
        let v = f();
        shard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, v.clone());
        v
    }
}
