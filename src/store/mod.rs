//! Durable storage: the event log, idempotency records, snapshots and access tokens.
//!
//! [`Store`] is the interface the engine and the transports use; [`sqlite::SqliteStore`] is the
//! embedded implementation, [`postgres::PgStore`] the one several nodes share. The trait returns
//! boxed futures so it can be used as `Arc<dyn Store>`. [`Location`] is what `--db` names.

pub mod faulty;
pub mod postgres;
mod rows;
pub mod sqlite;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Where the log is: a SQLite file, or a PostgreSQL database (and schema) several nodes share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL, as libpq takes it.
    Postgres(String),
}

impl Location {
    /// `postgres://…` / `postgresql://…` is PostgreSQL; `sqlite://PATH` and a plain path are a
    /// SQLite file.
    pub fn parse(s: &str) -> Location {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_string())
        } else if let Some(path) = s.strip_prefix("sqlite://") {
            Location::Sqlite(PathBuf::from(path))
        } else {
            Location::Sqlite(PathBuf::from(s))
        }
    }

    /// The SQLite file, if it is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }

    /// Opens the store (creating tables, running migrations).
    pub async fn open(&self) -> StoreResult<Arc<dyn Store>> {
        Ok(match self {
            Location::Sqlite(path) => Arc::new(SqliteStore::open(path).await?),
            Location::Postgres(url) => Arc::new(PgStore::open(url).await?),
        })
    }
}

impl std::str::FromStr for Location {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Location, Self::Err> {
        Ok(Location::parse(s))
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Location {
        Location::Sqlite(p)
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Location {
        Location::Sqlite(p.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Location {
        Location::Sqlite(p.clone())
    }
}

impl From<&str> for Location {
    fn from(s: &str) -> Location {
        Location::parse(s)
    }
}

/// A SQLite path as given; a PostgreSQL URL without its password.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&postgres::redacted(url)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A stored record is in a format version this code cannot read: written by a newer Crest,
    /// or damaged. See `crate::codec`.
    #[error(
        "{record} {seq} is in format {format}, which this version of Crest cannot read (it reads formats 1 to {newest}); was the log written by a newer Crest?"
    )]
    UnknownFormat {
        record: &'static str,
        seq: u64,
        format: u32,
        newest: u32,
    },
    /// The log ends before an event this process already has: events it published are gone (a
    /// failover to a standby that had not received them, a restore under running nodes).
    #[error(
        "the log ends at seq {log} but this node has events up to {node}: committed events were lost"
    )]
    LogBehind { log: u64, node: u64 },
    /// A write failed for a reason the operator can act on (see [`Fault`]).
    #[error("{fault}: {detail}")]
    Fault { fault: Fault, detail: String },
}

/// Why a write to the store failed, as an operator needs to know it. The engine logs a fault
/// once when it starts, answers `/readyz` with it, and clears it when a write succeeds again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No space left on the device (or the database reached its size limit).
    DiskFull,
    /// The operating system reported an I/O error.
    Io,
    /// Another process holds the database lock beyond the busy timeout.
    Locked,
    /// The file cannot be written: read-only file system, permissions; a PostgreSQL server that
    /// is a read-only standby.
    ReadOnly,
    /// The database server does not answer: connection refused or lost, shutting down.
    Unreachable,
    /// Anything else: a constraint failure, a corrupt file, a bug.
    Other,
}

impl Fault {
    /// Stable name, used in logs, metrics and `/readyz`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::DiskFull => "disk_full",
            Fault::Io => "io_error",
            Fault::Locked => "database_locked",
            Fault::ReadOnly => "read_only",
            Fault::Unreachable => "database_unreachable",
            Fault::Other => "write_failed",
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl StoreError {
    /// What kind of fault this error is, for deciding what to tell the operator.
    pub fn fault(&self) -> Fault {
        match self {
            StoreError::Fault { fault, .. } => *fault,
            StoreError::Database(sqlx::Error::Io(e)) => io_fault(e),
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Protocol(_),
            ) => Fault::Unreachable,
            StoreError::Database(sqlx::Error::Database(e)) => {
                if let Some(pg) = e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    return postgres::fault_of(pg.code());
                }
                // SQLite extended result codes: the primary code is the low byte.
                let code = e.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                match code & 0xff {
                    13 => Fault::DiskFull,     // SQLITE_FULL
                    10 => Fault::Io,           // SQLITE_IOERR
                    5 | 6 => Fault::Locked,    // SQLITE_BUSY, SQLITE_LOCKED
                    8 | 14 => Fault::ReadOnly, // SQLITE_READONLY, SQLITE_CANTOPEN
                    _ => Fault::Other,
                }
            }
            _ => Fault::Other,
        }
    }
}

fn io_fault(e: &std::io::Error) -> Fault {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::StorageFull => Fault::DiskFull,
        K::ReadOnlyFilesystem | K::PermissionDenied => Fault::ReadOnly,
        // A socket's errors: only a database server is reached over one.
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::BrokenPipe
        | K::UnexpectedEof
        | K::TimedOut
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::AddrNotAvailable => Fault::Unreachable,
        _ => Fault::Io,
    }
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
    /// The version of the format `body` is written in (`crate::codec::EVENT_FORMAT` for events
    /// written now).
    pub format: u32,
    /// The event as JSON (`domain::Event`), encoded and decoded only by `crate::codec`.
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
    /// The version of the format `state` is written in (`crate::codec::SNAPSHOT_FORMAT` now).
    pub format: u32,
    /// `domain::State` as JSON, encoded and decoded only by `crate::codec`.
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

/// A write of the log in progress, begun by [`Store::begin_append`]: it holds the log's write
/// lock (every node's, with PostgreSQL) until it is committed, rolled back or dropped. Dropped
/// without [`Append::commit`], it writes nothing.
pub trait Append: Send {
    /// The stored outcomes of those of `ids` that were accepted before, read under the lock (so
    /// a command another node is accepting right now is either here or not yet begun).
    fn command_outcomes<'b>(
        &'b mut self,
        ids: &'b [&'b str],
    ) -> StoreFuture<'b, Vec<CommandOutcome>>;
    /// Writes the batch (as [`Store::append`]) and commits; returns once it is durable.
    fn commit<'b>(&'b mut self, batch: &'b [CommandRecord]) -> StoreFuture<'b, ()>;
    /// Ends the write without writing anything.
    fn rollback(&mut self) -> StoreFuture<'_, ()>;
}

/// What [`Store::begin_append`] gives: the events other writers logged since the caller's last
/// seq, then the write itself.
pub struct Begun<'a> {
    /// Events with `seq > after`, in order: what other nodes wrote. The caller must fold them in
    /// before it numbers anything of its own.
    pub newer: Vec<StoredEvent>,
    pub append: Box<dyn Append + 'a>,
}

/// What a store's listener heard about appends by other writers (other nodes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heard {
    /// The highest seq another writer said it committed.
    pub seq: u64,
    /// How many times the listener lost its connection: anything may have been missed then.
    pub reconnects: u64,
}

/// The events after `after` from a read of `seq >= after` (`after` > 0): checks that the log
/// still holds event `after`, the last one the caller has.
pub(crate) fn after_own(after: u64, mut read: Vec<StoredEvent>) -> StoreResult<Vec<StoredEvent>> {
    if after == 0 {
        return Ok(read);
    }
    match read.first() {
        Some(e) if e.seq == after => {
            read.remove(0);
            Ok(read)
        }
        first => Err(StoreError::LogBehind {
            log: first.map_or(0, |e| e.seq.saturating_sub(1)),
            node: after,
        }),
    }
}

pub trait Store: Send + Sync + 'static {
    /// Takes the log's write lock and reads what other writers appended after `after` (see
    /// [`Begun`]). The engine decides its batch between this and [`Append::commit`], so every
    /// node decides against the whole log and numbers its events after everyone else's.
    fn begin_append(&self, after: u64) -> StoreFuture<'_, Begun<'_>>;
    /// Appends the events of a batch of commands and their idempotency records in one
    /// transaction. Returns once the transaction is durable. After an error nothing of the batch
    /// may be assumed written, nor assumed absent (a failed COMMIT can still have reached the
    /// disk): the caller must read the log again before it trusts its own copy of it.
    fn append<'a>(&'a self, batch: &'a [CommandRecord]) -> StoreFuture<'a, ()>;
    /// Events with `seq > after`, in order, at most `limit`.
    fn events_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<StoredEvent>>;
    /// Highest stored sequence number (0 when empty).
    fn last_seq(&self) -> StoreFuture<'_, u64>;
    /// The stored outcomes of those of `ids` that were accepted before, in any order. Every
    /// accepted command keeps its record for the life of the log, so a resend is recognised
    /// however late it comes; nothing of it is held in memory.
    fn command_outcomes<'a>(&'a self, ids: &'a [&'a str]) -> StoreFuture<'a, Vec<CommandOutcome>>;
    /// The newest snapshot. A row that cannot be read as one (a value of the wrong type, a state
    /// that is not text) is `StoreError::Corrupt`, so the caller can tell it from a failing
    /// database and fall back to the log.
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
    /// Whether other processes may write this log (several nodes on one PostgreSQL): then the
    /// receiver changes whenever one of them says it committed, and the engine follows.
    fn appends_elsewhere(&self) -> Option<watch::Receiver<Heard>> {
        None
    }
    /// Cheap liveness check for `/readyz`.
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// A durable write of about `bytes` on the connection that appends, used while appends fail
    /// to learn when writing works again. Leaves no data behind (the pages it used are free for
    /// the log).
    fn probe_write(&self, bytes: usize) -> StoreFuture<'_, ()>;
}
