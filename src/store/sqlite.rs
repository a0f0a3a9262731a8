//! The embedded store: SQLite in WAL mode with `synchronous = FULL`, so a commit that returned is
//! on disk even if the process is killed or the machine loses power.
//!
//! Every write of the log (appends, snapshots, the write probe) goes through one dedicated
//! connection, the writer. After any failed write the writer is closed (which rolls back whatever
//! it had open) and the next write opens a fresh one: a connection left inside a half-failed
//! transaction would turn the next `BEGIN` into a savepoint of it and the next `COMMIT` into a
//! no-op, acknowledging writes that never reach the disk. Reads use a small pool.

use super::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    options: SqliteConnectOptions,
    /// The one connection that writes the log; `None` after a failure until the next write.
    writer: Mutex<Option<SqliteConnection>>,
}

fn seq(v: i64) -> u64 {
    v.max(0) as u64
}

fn event_from_row(r: &sqlx::sqlite::SqliteRow) -> StoredEvent {
    StoredEvent {
        seq: seq(r.get("seq")),
        time_ms: r.get("time_ms"),
        command_id: r.get("command_id"),
        actor: r.get("actor"),
        body: r.get("body"),
    }
}

fn token_from_row(r: &sqlx::sqlite::SqliteRow) -> TokenRecord {
    TokenRecord {
        id: r.get("id"),
        hash: r.get("hash"),
        role: r.get("role"),
        team: r.get("team"),
        label: r.get("label"),
        created_ms: r.get("created_ms"),
        revoked_ms: r.get("revoked_ms"),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies the embedded migrations.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        Self::open_with(path, |options| options).await
    }

    /// [`SqliteStore::open`] with the connection options adjusted by `tweak` (every connection,
    /// the writer's included), e.g. a `max_page_count` that makes a test's database "full".
    pub async fn open_with(
        path: &Path,
        tweak: impl FnOnce(SqliteConnectOptions) -> SqliteConnectOptions,
    ) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let options = tweak(options);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("src/store/migrations/sqlite")
            .run(&pool)
            .await?;
        Ok(SqliteStore {
            pool,
            options,
            writer: Mutex::new(None),
        })
    }

    /// The writer connection, opened if the last one was closed.
    async fn writer(&self) -> StoreResult<MutexGuard<'_, Option<SqliteConnection>>> {
        let mut slot = self.writer.lock().await;
        if slot.is_none() {
            *slot = Some(SqliteConnection::connect_with(&self.options).await?);
        }
        Ok(slot)
    }
}

/// After a write: on any error the writer is closed, so no later write can run inside what this
/// one left behind. Closing rolls back an open transaction.
async fn settle<T>(
    mut slot: MutexGuard<'_, Option<SqliteConnection>>,
    result: StoreResult<T>,
) -> StoreResult<T> {
    if result.is_err()
        && let Some(conn) = slot.take()
    {
        let _ = conn.close().await;
    }
    result
}

async fn append_batch(conn: &mut SqliteConnection, batch: &[CommandRecord]) -> StoreResult<()> {
    // IMMEDIATE takes the write lock now, so a competing writer fails here, not at COMMIT.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    for rec in batch {
        for e in &rec.events {
            sqlx::query("INSERT INTO events (seq, time_ms, command_id, actor, body) VALUES ($1, $2, $3, $4, $5)")
                .bind(e.seq as i64)
                .bind(e.time_ms)
                .bind(&e.command_id)
                .bind(&e.actor)
                .bind(&e.body)
                .execute(&mut *tx)
                .await?;
        }
        let (first, last) = match (rec.events.first(), rec.events.last()) {
            (Some(f), Some(l)) => (f.seq, l.seq),
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "command {} has no events",
                    rec.command_id
                )));
            }
        };
        sqlx::query(
            "INSERT INTO commands (command_id, request_hash, first_seq, last_seq, created_id) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&rec.command_id)
        .bind(&rec.request_hash)
        .bind(first as i64)
        .bind(last as i64)
        .bind(&rec.created_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The stored outcomes of those of `ids` that exist: one indexed lookup, the ids as a JSON array.
async fn lookup_outcomes(
    conn: &mut SqliteConnection,
    ids: &[&str],
) -> StoreResult<Vec<CommandOutcome>> {
    let ids = serde_json::to_string(ids).expect("strings serialize");
    let rows = sqlx::query(
        "SELECT command_id, request_hash, first_seq, last_seq, created_id FROM commands \
         WHERE command_id IN (SELECT value FROM json_each($1))",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| CommandOutcome {
            command_id: r.get("command_id"),
            request_hash: r.get("request_hash"),
            first_seq: seq(r.get("first_seq")),
            last_seq: seq(r.get("last_seq")),
            created_id: r.get("created_id"),
        })
        .collect())
}

async fn write_snapshot(conn: &mut SqliteConnection, snapshot: Snapshot) -> StoreResult<()> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("INSERT OR REPLACE INTO snapshots (seq, created_ms, state) VALUES ($1, $2, $3)")
        .bind(snapshot.seq as i64)
        .bind(crate::clock::now_ms())
        .bind(&snapshot.state)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM snapshots WHERE seq < $1")
        .bind(snapshot.seq as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn write_probe(conn: &mut SqliteConnection, bytes: usize) -> StoreResult<()> {
    // Two durable writes: the padding (as much as the failed batch needed), then its removal,
    // so the probe leaves the file no larger than it found it.
    for size in [bytes, 0] {
        sqlx::query(
            "INSERT INTO write_probe (id, pad) VALUES (1, zeroblob($1)) \
             ON CONFLICT (id) DO UPDATE SET pad = excluded.pad",
        )
        .bind(size as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn append<'a>(&'a self, batch: &'a [CommandRecord]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut slot = self.writer().await?;
            let result = append_batch(slot.as_mut().expect("opened"), batch).await;
            settle(slot, result).await
        })
    }

    fn events_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<StoredEvent>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT seq, time_ms, command_id, actor, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after as i64)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            Ok(rows.iter().map(event_from_row).collect())
        })
    }

    fn last_seq(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let v: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events")
                .fetch_one(&self.pool)
                .await?;
            Ok(seq(v.unwrap_or(0)))
        })
    }

    fn command_outcomes<'a>(&'a self, ids: &'a [&'a str]) -> StoreFuture<'a, Vec<CommandOutcome>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            // On the writer connection: the engine asks right before it appends, so this needs
            // no pool checkout (and its ping), and it sees exactly what the writer committed.
            let mut slot = self.writer().await?;
            let result = lookup_outcomes(slot.as_mut().expect("opened"), ids).await;
            settle(slot, result).await
        })
    }

    fn latest_snapshot(&self) -> StoreFuture<'_, Option<Snapshot>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(|r| Snapshot {
                seq: seq(r.get("seq")),
                state: r.get("state"),
            }))
        })
    }

    fn save_snapshot(&self, snapshot: Snapshot) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut slot = self.writer().await?;
            let result = write_snapshot(slot.as_mut().expect("opened"), snapshot).await;
            settle(slot, result).await
        })
    }

    fn insert_token(&self, t: TokenRecord) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("INSERT INTO tokens (id, hash, role, team, label, created_ms, revoked_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&t.id)
                .bind(&t.hash)
                .bind(&t.role)
                .bind(&t.team)
                .bind(&t.label)
                .bind(t.created_ms)
                .bind(t.revoked_ms)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn token_by_hash<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<TokenRecord>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM tokens WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.as_ref().map(token_from_row))
        })
    }

    fn tokens(&self) -> StoreFuture<'_, Vec<TokenRecord>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT * FROM tokens ORDER BY created_ms, id")
                .fetch_all(&self.pool)
                .await?;
            Ok(rows.iter().map(token_from_row).collect())
        })
    }

    fn revoked_token_ids(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let ids = sqlx::query_scalar(
                "SELECT id FROM tokens WHERE revoked_ms IS NOT NULL ORDER BY id",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(ids)
        })
    }

    fn revoke_token<'a>(&'a self, id: &'a str, at_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE tokens SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL",
            )
            .bind(at_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn probe_write(&self, bytes: usize) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut slot = self.writer().await?;
            let result = write_probe(slot.as_mut().expect("opened"), bytes).await;
            settle(slot, result).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, cmd: &str) -> StoredEvent {
        StoredEvent {
            seq,
            time_ms: 7,
            command_id: cmd.into(),
            actor: "desk".into(),
            body: format!("{{\"n\":{seq}}}"),
        }
    }

    #[tokio::test]
    async fn appends_reads_and_reopens_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crest.db");
        {
            let store = SqliteStore::open(&path).await.unwrap();
            assert_eq!(store.last_seq().await.unwrap(), 0);
            let batch = vec![
                CommandRecord {
                    command_id: "a".into(),
                    request_hash: "h1".into(),
                    created_id: None,
                    events: vec![ev(1, "a"), ev(2, "a")],
                },
                CommandRecord {
                    command_id: "b".into(),
                    request_hash: "h2".into(),
                    created_id: Some("HZ-1".into()),
                    events: vec![ev(3, "b")],
                },
            ];
            store.append(&batch).await.unwrap();
        }
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.last_seq().await.unwrap(), 3);
        let after1 = store.events_after(1, 10).await.unwrap();
        assert_eq!(after1, vec![ev(2, "a"), ev(3, "b")]);
        assert_eq!(store.events_after(0, 1).await.unwrap().len(), 1);
        let mut outcomes = store.command_outcomes(&["a", "b", "zz"]).await.unwrap();
        outcomes.sort_by(|a, b| a.command_id.cmp(&b.command_id));
        assert_eq!(outcomes[0].first_seq, 1);
        assert_eq!(outcomes[0].last_seq, 2);
        assert_eq!(outcomes[1].created_id.as_deref(), Some("HZ-1"));
    }

    #[tokio::test]
    async fn a_failed_batch_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("c.db")).await.unwrap();
        let ok = vec![CommandRecord {
            command_id: "a".into(),
            request_hash: "h".into(),
            created_id: None,
            events: vec![ev(1, "a")],
        }];
        store.append(&ok).await.unwrap();
        // Second record reuses seq 1: the whole transaction must roll back, including "b".
        let bad = vec![
            CommandRecord {
                command_id: "b".into(),
                request_hash: "h".into(),
                created_id: None,
                events: vec![ev(2, "b")],
            },
            CommandRecord {
                command_id: "c".into(),
                request_hash: "h".into(),
                created_id: None,
                events: vec![ev(1, "c")],
            },
        ];
        assert!(store.append(&bad).await.is_err());
        assert_eq!(store.last_seq().await.unwrap(), 1);
        assert_eq!(
            store
                .command_outcomes(&["a", "b", "c"])
                .await
                .unwrap()
                .len(),
            1
        );
    }

    /// A database that is full (here: a page limit, so no root is needed) is reported as
    /// `DiskFull`, leaves nothing half-written, and the first write after space returns is really
    /// committed (seen by another connection). A page limit fails inside the INSERT; the failed
    /// COMMIT of a full file system, the case that once left a pooled connection inside a dead
    /// transaction, needs a real small file system: `tests/it/write_faults.rs` (as root).
    #[tokio::test]
    async fn after_a_full_database_the_next_write_is_really_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.db");
        let store = SqliteStore::open_with(&path, |o| o.pragma("max_page_count", "64"))
            .await
            .unwrap();
        let reader = SqliteStore::open(&path).await.unwrap();
        let body = |seq: u64| format!("{{\"n\":{seq},\"pad\":\"{}\"}}", "x".repeat(8 * 1024));
        let batch = |seq: u64| {
            vec![CommandRecord {
                command_id: format!("c{seq}"),
                request_hash: "h".into(),
                created_id: None,
                events: vec![StoredEvent {
                    body: body(seq),
                    ..ev(seq, &format!("c{seq}"))
                }],
            }]
        };
        let mut seq = 0;
        let failure = loop {
            match store.append(&batch(seq + 1)).await {
                Ok(()) => seq += 1,
                Err(e) => break e,
            }
            assert!(seq < 1_000, "the page limit never filled the database");
        };
        assert_eq!(failure.fault(), Fault::DiskFull, "{failure}");
        assert_eq!(reader.last_seq().await.unwrap(), seq);
        assert!(store.append(&batch(seq + 1)).await.is_err(), "still full");
        // Space returns: another process deletes old rows.
        sqlx::query("DELETE FROM events WHERE seq <= 4")
            .execute(&reader.pool)
            .await
            .unwrap();
        store
            .append(&batch(seq + 1))
            .await
            .expect("writes work again");
        assert_eq!(
            reader.last_seq().await.unwrap(),
            seq + 1,
            "committed for real, visible to another connection"
        );
        store.probe_write(4096).await.expect("the probe writes too");
    }

    #[tokio::test]
    async fn snapshots_keep_only_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("c.db")).await.unwrap();
        assert_eq!(store.latest_snapshot().await.unwrap(), None);
        store
            .save_snapshot(Snapshot {
                seq: 5,
                state: "{}".into(),
            })
            .await
            .unwrap();
        store
            .save_snapshot(Snapshot {
                seq: 9,
                state: "{\"x\":1}".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            store.latest_snapshot().await.unwrap(),
            Some(Snapshot {
                seq: 9,
                state: "{\"x\":1}".into()
            })
        );
    }

    #[tokio::test]
    async fn tokens_store_hashes_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("c.db")).await.unwrap();
        let t = TokenRecord {
            id: "tk_1".into(),
            hash: "abc".into(),
            role: "field".into(),
            team: Some("T-07".into()),
            label: "tablet".into(),
            created_ms: 1,
            revoked_ms: None,
        };
        store.insert_token(t.clone()).await.unwrap();
        assert_eq!(store.token_by_hash("abc").await.unwrap(), Some(t));
        assert!(store.revoked_token_ids().await.unwrap().is_empty());
        assert!(store.revoke_token("tk_1", 5).await.unwrap());
        assert_eq!(
            store.revoked_token_ids().await.unwrap(),
            vec!["tk_1".to_string()]
        );
        assert!(!store.revoke_token("tk_1", 6).await.unwrap());
        assert_eq!(
            store
                .token_by_hash("abc")
                .await
                .unwrap()
                .unwrap()
                .revoked_ms,
            Some(5)
        );
        assert_eq!(store.tokens().await.unwrap().len(), 1);
    }
}
