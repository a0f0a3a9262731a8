//! The embedded store: SQLite in WAL mode with `synchronous = FULL`, so a commit that returned is
//! on disk even if the process is killed or the machine loses power.
//!
//! Every write of the log (appends, snapshots, the write probe) goes through one dedicated
//! connection, the writer. After any failed write the writer is closed (which rolls back whatever
//! it had open) and the next write opens a fresh one: a connection left inside a half-failed
//! transaction would turn the next `BEGIN` into a savepoint of it and the next `COMMIT` into a
//! no-op, acknowledging writes that never reach the disk. Reads use a small pool.

use super::rows::*;
use super::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, SqlitePool};
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

/// Rows per multi-row INSERT: each statement is one round trip to sqlx's SQLite worker thread,
/// so a batch of hundreds of commands takes a few statements, not two per command (6 columns ×
/// 128 rows stays far below SQLite's limit of 32,766 bound values).
const ROWS_PER_INSERT: usize = 128;

/// The seqs of each record's first and last event; a record without events is refused.
pub(super) fn spans(batch: &[CommandRecord]) -> StoreResult<Vec<(&CommandRecord, u64, u64)>> {
    batch
        .iter()
        .map(|rec| match (rec.events.first(), rec.events.last()) {
            (Some(f), Some(l)) => Ok((rec, f.seq, l.seq)),
            _ => Err(StoreError::Corrupt(format!(
                "command {} has no events",
                rec.command_id
            ))),
        })
        .collect()
}

async fn append_batch(conn: &mut SqliteConnection, batch: &[CommandRecord]) -> StoreResult<()> {
    // IMMEDIATE takes the write lock now, so a competing writer fails here, not at COMMIT.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    insert_batch(&mut tx, batch).await?;
    tx.commit().await?;
    Ok(())
}

/// The batch's events and idempotency records, inside the caller's transaction.
async fn insert_batch(conn: &mut SqliteConnection, batch: &[CommandRecord]) -> StoreResult<()> {
    let commands = spans(batch)?;
    let events: Vec<&StoredEvent> = batch.iter().flat_map(|r| &r.events).collect();
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO events (seq, time_ms, command_id, actor, format, body) ",
        );
        q.push_values(chunk, |mut row, e| {
            row.push_bind(e.seq as i64)
                .push_bind(e.time_ms)
                .push_bind(e.command_id.as_str())
                .push_bind(e.actor.as_str())
                .push_bind(i64::from(e.format))
                .push_bind(e.body.as_str());
        });
        q.build().execute(&mut *conn).await?;
    }
    for chunk in commands.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO commands (command_id, request_hash, first_seq, last_seq, created_id) ",
        );
        q.push_values(chunk, |mut row, (rec, first, last)| {
            row.push_bind(rec.command_id.as_str())
                .push_bind(rec.request_hash.as_str())
                .push_bind(*first as i64)
                .push_bind(*last as i64)
                .push_bind(rec.created_id.as_deref());
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn read_events_after(
    conn: &mut SqliteConnection,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT seq, time_ms, command_id, actor, format, body FROM events \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after as i64)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await
    .map_err(|e| read_error(format_args!("events after {after}"), e))?;
    rows.into_iter().map(StoredEvent::try_from).collect()
}

/// A write of the log on the writer connection, inside `BEGIN IMMEDIATE` (SQLite's write lock:
/// another process writing the same file waits for it). The transaction is driven by plain
/// statements because it must outlive the call that began it; a failed statement, or a drop
/// without commit or rollback, closes the connection, which rolls the transaction back.
struct SqliteAppend<'a> {
    slot: MutexGuard<'a, Option<SqliteConnection>>,
    /// A transaction is open on the connection.
    open: bool,
}

impl SqliteAppend<'_> {
    fn conn(&mut self) -> &mut SqliteConnection {
        self.slot.as_mut().expect("open while the append lives")
    }

    /// After a failed statement: close the connection (rolling back) so nothing later runs
    /// inside what the failure left behind.
    fn settle<T>(&mut self, result: StoreResult<T>) -> StoreResult<T> {
        if result.is_err() {
            self.open = false;
            self.slot.take();
        }
        result
    }
}

impl Drop for SqliteAppend<'_> {
    fn drop(&mut self) {
        if self.open {
            self.slot.take();
        }
    }
}

impl Append for SqliteAppend<'_> {
    fn command_outcomes<'b>(
        &'b mut self,
        ids: &'b [&'b str],
    ) -> StoreFuture<'b, Vec<CommandOutcome>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let result = lookup_outcomes(self.conn(), ids).await;
            self.settle(result)
        })
    }

    fn commit<'b>(&'b mut self, batch: &'b [CommandRecord]) -> StoreFuture<'b, ()> {
        Box::pin(async move {
            let result = async {
                insert_batch(self.conn(), batch).await?;
                sqlx::raw_sql("COMMIT").execute(self.conn()).await?;
                Ok(())
            }
            .await;
            let result = self.settle(result);
            self.open = false;
            result
        })
    }

    fn rollback(&mut self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let result = sqlx::raw_sql("ROLLBACK")
                .execute(self.conn())
                .await
                .map(|_| ())
                .map_err(StoreError::from);
            let result = self.settle(result);
            self.open = false;
            result
        })
    }
}

/// The stored outcomes of those of `ids` that exist: one indexed lookup, the ids as a JSON array.
async fn lookup_outcomes(
    conn: &mut SqliteConnection,
    ids: &[&str],
) -> StoreResult<Vec<CommandOutcome>> {
    let ids = serde_json::to_string(ids).expect("strings serialize");
    let rows: Vec<OutcomeRow> = sqlx::query_as(
        "SELECT command_id, request_hash, first_seq, last_seq, created_id FROM commands \
         WHERE command_id IN (SELECT value FROM json_each($1))",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
    .map_err(|e| read_error("command records", e))?;
    Ok(rows.into_iter().map(CommandOutcome::from).collect())
}

async fn write_snapshot(conn: &mut SqliteConnection, snapshot: Snapshot) -> StoreResult<()> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "INSERT OR REPLACE INTO snapshots (seq, created_ms, format, state) VALUES ($1, $2, $3, $4)",
    )
    .bind(snapshot.seq as i64)
    .bind(crate::clock::now_ms())
    .bind(i64::from(snapshot.format))
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
    fn begin_append(&self, after: u64) -> StoreFuture<'_, Begun<'_>> {
        Box::pin(async move {
            let slot = self.writer().await?;
            let mut append = SqliteAppend { slot, open: false };
            let begun = sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(append.conn())
                .await
                .map(|_| ())
                .map_err(StoreError::from);
            append.settle(begun)?;
            append.open = true;
            // Normally nothing: only another process writing the same file adds events.
            // From `after` itself: the log must still hold the caller's last event.
            let read = read_events_after(append.conn(), after.saturating_sub(1), u32::MAX).await;
            let newer = append.settle(read)?;
            let newer = after_own(after, newer)?;
            Ok(Begun {
                newer,
                append: Box::new(append),
            })
        })
    }

    fn append<'a>(&'a self, batch: &'a [CommandRecord]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut slot = self.writer().await?;
            let result = append_batch(slot.as_mut().expect("opened"), batch).await;
            settle(slot, result).await
        })
    }

    fn events_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<StoredEvent>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            read_events_after(&mut conn, after, limit).await
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
            let row: Option<SnapshotRow> = sqlx::query_as(
                "SELECT seq, format, state FROM snapshots ORDER BY seq DESC LIMIT 1",
            )
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| read_error("the newest snapshot", e))?;
            row.map(Snapshot::try_from).transpose()
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
            let row: Option<TokenRow> = sqlx::query_as(TOKEN_BY_HASH)
                .bind(hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| read_error("a token", e))?;
            Ok(row.map(TokenRecord::from))
        })
    }

    fn tokens(&self) -> StoreFuture<'_, Vec<TokenRecord>> {
        Box::pin(async move {
            let rows: Vec<TokenRow> = sqlx::query_as(TOKENS_OLDEST_FIRST)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| read_error("the tokens", e))?;
            Ok(rows.into_iter().map(TokenRecord::from).collect())
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
            format: 1,
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
                format: 1,
                state: "{}".into(),
            })
            .await
            .unwrap();
        store
            .save_snapshot(Snapshot {
                seq: 9,
                format: 2,
                state: "{\"x\":1}".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            store.latest_snapshot().await.unwrap(),
            Some(Snapshot {
                seq: 9,
                format: 2,
                state: "{\"x\":1}".into()
            })
        );
    }

    /// A database written before format versions existed: its rows are format 1 after the
    /// upgrade, and new rows keep the format they are written with.
    #[tokio::test]
    async fn rows_from_before_format_versions_are_format_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let old = SqlitePoolOptions::new()
                .connect_with(
                    SqliteConnectOptions::new()
                        .filename(&path)
                        .create_if_missing(true),
                )
                .await
                .unwrap();
            sqlx::migrate!("src/store/migrations/sqlite")
                .run_to(2, &old)
                .await
                .unwrap();
            sqlx::query("INSERT INTO events (seq, time_ms, command_id, actor, body) VALUES (1, 7, 'a', 'desk', '{\"n\":1}')")
                .execute(&old)
                .await
                .unwrap();
            sqlx::query("INSERT INTO snapshots (seq, created_ms, state) VALUES (1, 7, '{}')")
                .execute(&old)
                .await
                .unwrap();
            old.close().await;
        }
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.events_after(0, 10).await.unwrap(), vec![ev(1, "a")]);
        let snapshot = store.latest_snapshot().await.unwrap().unwrap();
        assert_eq!(snapshot.format, 1);
        let newer = StoredEvent {
            format: 7,
            ..ev(2, "b")
        };
        store
            .append(&[CommandRecord {
                command_id: "b".into(),
                request_hash: "h".into(),
                created_id: None,
                events: vec![newer.clone()],
            }])
            .await
            .unwrap();
        assert_eq!(store.events_after(1, 10).await.unwrap(), vec![newer]);
    }

    /// `Row::get` panicked on a value of the wrong type; now such a row is a `Corrupt` error
    /// naming what was read, and the process lives on.
    #[tokio::test]
    async fn a_value_of_the_wrong_type_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("c.db")).await.unwrap();
        let corrupt = |r: StoreResult<_>| match r {
            Err(StoreError::Corrupt(m)) => m,
            other => panic!("expected a corrupt record, got {other:?}"),
        };
        // A blob where the event's text should be.
        sqlx::query("INSERT INTO events (seq, time_ms, command_id, actor, format, body) VALUES (1, 7, 'a', 'desk', 1, x'00ff')")
            .execute(&store.pool)
            .await
            .unwrap();
        let m = corrupt(store.events_after(0, 10).await.map(|_| ()));
        assert!(m.contains("events after 0") && m.contains("body"), "{m}");
        // A format that is not a number, and one that is not a version.
        sqlx::query("UPDATE events SET body = '{}', format = 'one'")
            .execute(&store.pool)
            .await
            .unwrap();
        let m = corrupt(store.events_after(0, 10).await.map(|_| ()));
        assert!(m.contains("format"), "{m}");
        sqlx::query("UPDATE events SET format = -1")
            .execute(&store.pool)
            .await
            .unwrap();
        let m = corrupt(store.events_after(0, 10).await.map(|_| ()));
        assert!(m.contains("event 1: format -1"), "{m}");

        // A snapshot whose state is a blob: readable if it is UTF-8, corrupt if not.
        sqlx::query(
            "INSERT INTO snapshots (seq, created_ms, format, state) VALUES (3, 7, 1, x'7b7d')",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        assert_eq!(store.latest_snapshot().await.unwrap().unwrap().state, "{}");
        sqlx::query("UPDATE snapshots SET state = x'ff00'")
            .execute(&store.pool)
            .await
            .unwrap();
        let m = corrupt(store.latest_snapshot().await.map(|_| ()));
        assert!(m.contains("snapshot 3"), "{m}");

        // A token whose creation time is text.
        sqlx::query("INSERT INTO tokens (id, hash, role, label, created_ms) VALUES ('tk', 'h', 'field', 'l', 'yesterday')")
            .execute(&store.pool)
            .await
            .unwrap();
        let m = corrupt(store.tokens().await.map(|_| ()));
        assert!(m.contains("created_ms"), "{m}");
        let m = corrupt(store.token_by_hash("h").await.map(|_| ()));
        assert!(m.contains("created_ms"), "{m}");
        // And an idempotency record whose seq is text.
        sqlx::query("INSERT INTO commands (command_id, request_hash, first_seq, last_seq) VALUES ('c', 'h', 'x', 1)")
            .execute(&store.pool)
            .await
            .unwrap();
        let m = corrupt(store.command_outcomes(&["c"]).await.map(|_| ()));
        assert!(m.contains("first_seq"), "{m}");
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
