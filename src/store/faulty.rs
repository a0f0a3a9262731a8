//! A store that fails on demand, wrapped around a real one: how the engine's behaviour under a
//! full disk, an I/O error or a lying COMMIT is tested without waiting for the real thing.

use super::*;
use std::sync::Mutex;

/// What the wrapped store does with writes of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Everything goes through.
    Nothing,
    /// Appends, snapshots and write probes fail with this fault; reads work.
    FailWrites(Fault),
    /// Appends are written and then reported as failed, as a COMMIT whose answer was lost.
    FailAfterAppend(Fault),
    /// Every call fails, reads included.
    FailEverything(Fault),
}

pub struct FaultyStore<S> {
    inner: S,
    injected: Mutex<Injected>,
}

impl<S: Store> FaultyStore<S> {
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner,
            injected: Mutex::new(Injected::Nothing),
        }
    }

    pub fn inject(&self, what: Injected) {
        *self.injected.lock().expect("not poisoned") = what;
    }

    fn now(&self) -> Injected {
        *self.injected.lock().expect("not poisoned")
    }

    fn fail<'a, T: Send + 'a>(fault: Fault) -> StoreFuture<'a, T> {
        Box::pin(async move {
            Err(StoreError::Fault {
                fault,
                detail: "injected".into(),
            })
        })
    }

    /// Fails a read only under [`Injected::FailEverything`].
    fn read<'a, T: Send + 'a>(&self, call: StoreFuture<'a, T>) -> StoreFuture<'a, T> {
        match self.now() {
            Injected::FailEverything(f) => Self::fail(f),
            _ => call,
        }
    }

    /// Fails a write under every injection but [`Injected::Nothing`].
    fn write<'a, T: Send + 'a>(&self, call: StoreFuture<'a, T>) -> StoreFuture<'a, T> {
        match self.now() {
            Injected::Nothing => call,
            Injected::FailWrites(f)
            | Injected::FailEverything(f)
            | Injected::FailAfterAppend(f) => Self::fail(f),
        }
    }
}

/// A write of the log through the faulty store: what is injected when it commits decides.
struct FaultyAppend<'a, S> {
    inner: Box<dyn Append + 'a>,
    store: &'a FaultyStore<S>,
}

impl<S: Store> Append for FaultyAppend<'_, S> {
    fn command_outcomes<'b>(
        &'b mut self,
        ids: &'b [&'b str],
    ) -> StoreFuture<'b, Vec<CommandOutcome>> {
        match self.store.now() {
            Injected::FailEverything(f) => FaultyStore::<S>::fail(f),
            _ => self.inner.command_outcomes(ids),
        }
    }

    fn commit<'b>(&'b mut self, batch: &'b [CommandRecord]) -> StoreFuture<'b, ()> {
        match self.store.now() {
            Injected::Nothing => self.inner.commit(batch),
            Injected::FailAfterAppend(fault) => Box::pin(async move {
                self.inner.commit(batch).await?;
                Err(StoreError::Fault {
                    fault,
                    detail: "injected after the commit".into(),
                })
            }),
            Injected::FailWrites(f) | Injected::FailEverything(f) => FaultyStore::<S>::fail(f),
        }
    }

    fn rollback(&mut self) -> StoreFuture<'_, ()> {
        self.inner.rollback()
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn begin_append(&self, after: u64) -> StoreFuture<'_, Begun<'_>> {
        match self.now() {
            Injected::FailEverything(f) => Self::fail(f),
            _ => Box::pin(async move {
                let begun = self.inner.begin_append(after).await?;
                Ok(Begun {
                    newer: begun.newer,
                    append: Box::new(FaultyAppend {
                        inner: begun.append,
                        store: self,
                    }),
                })
            }),
        }
    }
    fn appends_elsewhere(&self) -> Option<watch::Receiver<Heard>> {
        self.inner.appends_elsewhere()
    }
    fn append<'a>(&'a self, batch: &'a [CommandRecord]) -> StoreFuture<'a, ()> {
        if let Injected::FailAfterAppend(fault) = self.now() {
            return Box::pin(async move {
                self.inner.append(batch).await?;
                Err(StoreError::Fault {
                    fault,
                    detail: "injected after the commit".into(),
                })
            });
        }
        self.write(self.inner.append(batch))
    }
    fn events_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<StoredEvent>> {
        self.read(self.inner.events_after(after, limit))
    }
    fn last_seq(&self) -> StoreFuture<'_, u64> {
        self.read(self.inner.last_seq())
    }
    fn command_outcomes<'a>(&'a self, ids: &'a [&'a str]) -> StoreFuture<'a, Vec<CommandOutcome>> {
        self.read(self.inner.command_outcomes(ids))
    }
    fn latest_snapshot(&self) -> StoreFuture<'_, Option<Snapshot>> {
        self.read(self.inner.latest_snapshot())
    }
    fn save_snapshot(&self, snapshot: Snapshot) -> StoreFuture<'_, ()> {
        self.write(self.inner.save_snapshot(snapshot))
    }
    fn insert_token(&self, token: TokenRecord) -> StoreFuture<'_, ()> {
        self.inner.insert_token(token)
    }
    fn token_by_hash<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<TokenRecord>> {
        self.inner.token_by_hash(hash)
    }
    fn tokens(&self) -> StoreFuture<'_, Vec<TokenRecord>> {
        self.inner.tokens()
    }
    fn revoked_token_ids(&self) -> StoreFuture<'_, Vec<String>> {
        self.inner.revoked_token_ids()
    }
    fn revoke_token<'a>(&'a self, id: &'a str, at_ms: i64) -> StoreFuture<'a, bool> {
        self.inner.revoke_token(id, at_ms)
    }
    fn ping(&self) -> StoreFuture<'_, ()> {
        self.read(self.inner.ping())
    }
    fn probe_write(&self, bytes: usize) -> StoreFuture<'_, ()> {
        self.write(self.inner.probe_write(bytes))
    }
}
