//! Rows as both stores read them (`sqlx::FromRow` over any database whose columns decode to
//! these types): a value of the wrong type is an error (`read_error`), never a panic.

use super::*;

pub(super) fn seq(v: i64) -> u64 {
    v.max(0) as u64
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    pub(super) seq: i64,
    pub(super) time_ms: i64,
    pub(super) command_id: String,
    pub(super) actor: String,
    pub(super) format: i64,
    pub(super) body: String,
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = StoreError;

    fn try_from(r: EventRow) -> StoreResult<StoredEvent> {
        Ok(StoredEvent {
            seq: seq(r.seq),
            format: format_version("event", r.seq, r.format)?,
            time_ms: r.time_ms,
            command_id: r.command_id,
            actor: r.actor,
            body: r.body,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct OutcomeRow {
    pub(super) command_id: String,
    pub(super) request_hash: String,
    pub(super) first_seq: i64,
    pub(super) last_seq: i64,
    pub(super) created_id: Option<String>,
}

impl From<OutcomeRow> for CommandOutcome {
    fn from(r: OutcomeRow) -> CommandOutcome {
        CommandOutcome {
            command_id: r.command_id,
            request_hash: r.request_hash,
            first_seq: seq(r.first_seq),
            last_seq: seq(r.last_seq),
            created_id: r.created_id,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SnapshotRow {
    pub(super) seq: i64,
    pub(super) format: i64,
    /// Read as bytes: a column declared TEXT can still hold a blob.
    pub(super) state: Vec<u8>,
}

impl TryFrom<SnapshotRow> for Snapshot {
    type Error = StoreError;

    fn try_from(r: SnapshotRow) -> StoreResult<Snapshot> {
        let state = String::from_utf8(r.state).map_err(|e| {
            StoreError::Corrupt(format!(
                "snapshot {}: the state is not UTF-8 text: {e}",
                r.seq
            ))
        })?;
        Ok(Snapshot {
            seq: seq(r.seq),
            format: format_version("snapshot", r.seq, r.format)?,
            state,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    pub(super) id: String,
    pub(super) hash: String,
    pub(super) role: String,
    pub(super) team: Option<String>,
    pub(super) label: String,
    pub(super) created_ms: i64,
    pub(super) revoked_ms: Option<i64>,
}

impl From<TokenRow> for TokenRecord {
    fn from(r: TokenRow) -> TokenRecord {
        TokenRecord {
            id: r.id,
            hash: r.hash,
            role: r.role,
            team: r.team,
            label: r.label,
            created_ms: r.created_ms,
            revoked_ms: r.revoked_ms,
        }
    }
}

pub(super) const TOKEN_BY_HASH: &str =
    "SELECT id, hash, role, team, label, created_ms, revoked_ms FROM tokens WHERE hash = $1";
pub(super) const TOKENS_OLDEST_FIRST: &str = "SELECT id, hash, role, team, label, created_ms, revoked_ms FROM tokens ORDER BY created_ms, id";

/// A `format` column's value as a version number; one that is not even a `u32` is corrupt.
pub(super) fn format_version(record: &str, seq: i64, format: i64) -> StoreResult<u32> {
    u32::try_from(format).map_err(|_| {
        StoreError::Corrupt(format!(
            "{record} {seq}: format {format} is not a format version"
        ))
    })
}

/// A failed read: a row whose values do not have the types expected is `Corrupt` (naming what
/// was read), anything else the database's error.
pub(super) fn read_error(what: impl std::fmt::Display, e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(format!("{what}: {e}")),
        e => StoreError::Database(e),
    }
}
