//! What a store only this process writes (SQLite) may keep in memory: records it read, each
//! forgotten by any write of their kind before that write is answered, so the next request
//! sees the write. A store several replicas share keeps nothing (another replica's write would
//! go unseen).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

/// The managed token of (tenant, id) as the store answers it (none or one).
pub(crate) type TokenMemo = Memo<(String, String), Vec<super::TokenRecord>>;

/// The links answering to an `externalId`, by (tenant, resource type, externalId).
pub(crate) type ExternalIdMemo = Memo<(String, String, String), Vec<super::Identity>>;

/// Records read from the store, by key, until the next write of their kind.
#[derive(Debug)]
pub(crate) struct Memo<K, V> {
    inner: Mutex<MemoState<K, V>>,
    capacity: usize,
}

#[derive(Debug)]
struct MemoState<K, V> {
    /// Counts the writes: a record read before a write is not kept after it.
    generation: u64,
    records: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    /// An empty memo of at most `capacity` records (beyond, it starts again empty).
    pub(crate) fn new(capacity: usize) -> Self {
        Memo {
            inner: Mutex::new(MemoState {
                generation: 0,
                records: HashMap::new(),
            }),
            capacity,
        }
    }

    /// The record kept under `key`; else the generation to hand to [`Memo::keep`] with what
    /// the database answers.
    pub(crate) fn get(&self, key: &K) -> Result<V, u64> {
        let state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        state.records.get(key).cloned().ok_or(state.generation)
    }

    /// Keeps a record read at `generation`, unless a write came since.
    pub(crate) fn keep(&self, generation: u64, key: K, value: V) {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if state.generation != generation {
            return;
        }
        if state.records.len() >= self.capacity {
            state.records.clear();
        }
        state.records.insert(key, value);
    }

    /// Forgets every record (one of their kind was written).
    pub(crate) fn forget_all(&self) {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        state.generation += 1;
        state.records.clear();
    }
}

/// What `read` answers for `key`, from `memo` when there is one and it holds the key; an
/// answer read from the store is kept unless a write came while it was read.
pub(crate) async fn read_through<K, V, E>(
    memo: Option<&Memo<K, V>>,
    key: K,
    read: impl Future<Output = Result<V, E>>,
) -> Result<V, E>
where
    K: Eq + Hash,
    V: Clone,
{
    let Some(memo) = memo else {
        return read.await;
    };
    let generation = match memo.get(&key) {
        Ok(kept) => return Ok(kept),
        Err(generation) => generation,
    };
    let value = read.await?;
    memo.keep(generation, key, value.clone());
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_older_than_a_write_is_not_kept() {
        let memo: Memo<&str, u32> = Memo::new(10);
        let before = memo.get(&"a").unwrap_err();
        memo.forget_all();
        memo.keep(before, "a", 1);
        assert!(memo.get(&"a").is_err());
        let now = memo.get(&"a").unwrap_err();
        memo.keep(now, "a", 1);
        assert_eq!(memo.get(&"a"), Ok(1));
        assert!(memo.get(&"b").is_err());
        memo.forget_all();
        assert!(memo.get(&"a").is_err());
    }

    #[tokio::test]
    async fn reads_go_through_the_memo_when_there_is_one() {
        let memo: Memo<&str, u32> = Memo::new(10);
        let read = |v: u32| async move { Ok::<u32, ()>(v) };
        assert_eq!(read_through(Some(&memo), "a", read(1)).await, Ok(1));
        assert_eq!(read_through(Some(&memo), "a", read(2)).await, Ok(1));
        memo.forget_all();
        assert_eq!(read_through(Some(&memo), "a", read(3)).await, Ok(3));
        assert_eq!(
            read_through(None::<&Memo<&str, u32>>, "a", read(4)).await,
            Ok(4)
        );
        let failed = read_through(Some(&memo), "b", async { Err::<u32, ()>(()) }).await;
        assert_eq!(failed, Err(()));
        assert!(memo.get(&"b").is_err());
    }

    #[test]
    fn a_full_memo_starts_again() {
        let memo: Memo<u32, u32> = Memo::new(2);
        for k in 0..3 {
            let generation = memo.get(&k).unwrap_err();
            memo.keep(generation, k, k);
        }
        assert!(memo.get(&0).is_err());
        assert_eq!(memo.get(&2), Ok(2));
    }
}
