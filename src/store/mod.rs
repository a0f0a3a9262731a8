//! Durable storage: the event log, idempotency records, snapshots and access tokens.
//!
//! [`Store`] is the interface the engine and the transports use; [`sqlite::SqliteStore`] is the
//! embedded implementation. The trait returns boxed futures so it can be used as `Arc<dyn Store>`
//! and a PostgreSQL implementation can sit behind the same interface.

pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// One event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: u64,
    pub time_ms: i64,
    pub command_id: String,
    pub actor: String,
    /// The event as JSON (`domain::Event`).
    pub body: String,
}

/// An accepted command and the events it produced, written in one transaction with its batch.
#[derive(Debug, Clone)]
pub struct CommandRecord {
    pub command_id: String,
    pub request_hash: String,
    pub created_id: Option<String>,
    pub events: Vec<StoredEvent>,
}

/// What a command id resolved to, for idempotent resends.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    pub command_id: String,
    pub request_hash: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub created_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub seq: u64,
    /// `domain::State` as JSON.
    pub state: String,
}

/// An access token's record (never the secret itself).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub hash: String,
    pub role: String,
    pub team: Option<String>,
    pub label: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

pub trait Store: Send + Sync + 'static {
    /// Appends the events of a batch of commands and their idempotency records in one
    /// transaction. Returns once the transaction is durable.
    fn append<'a>(&'a self, batch: &'a [CommandRecord]) -> StoreFuture<'a, ()>;
    /// Events with `seq > after`, in order, at most `limit`.
    fn events_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<StoredEvent>>;
    /// Highest stored sequence number (0 when empty).
    fn last_seq(&self) -> StoreFuture<'_, u64>;
    fn command_outcomes(&self) -> StoreFuture<'_, Vec<CommandOutcome>>;
    fn latest_snapshot(&self) -> StoreFuture<'_, Option<Snapshot>>;
    /// Stores a snapshot and drops older ones.
    fn save_snapshot(&self, snapshot: Snapshot) -> StoreFuture<'_, ()>;
    fn insert_token(&self, token: TokenRecord) -> StoreFuture<'_, ()>;
    fn token_by_hash<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<TokenRecord>>;
    fn tokens(&self) -> StoreFuture<'_, Vec<TokenRecord>>;
    /// Ids of every revoked token.
    fn revoked_token_ids(&self) -> StoreFuture<'_, Vec<String>>;
    /// Marks a token revoked; false when no such live token exists.
    fn revoke_token<'a>(&'a self, id: &'a str, at_ms: i64) -> StoreFuture<'a, bool>;
    /// Cheap liveness check for `/readyz`.
    fn ping(&self) -> StoreFuture<'_, ()>;
}
