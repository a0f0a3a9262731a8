//! The shared store: PostgreSQL, for production and for several Crest nodes on one log.
//!
//! **One order.** Every write of the log runs in a transaction that first takes this schema's
//! transaction-scoped advisory lock (`pg_advisory_xact_lock`), then reads the events other nodes
//! committed since the writer's last seq, and only then lets the engine decide and number its
//! batch. The lock is released by COMMIT or ROLLBACK — or by PostgreSQL itself when the session
//! dies — so there is no lease to expire and no second writer at any moment: seqs are gap-free
//! and every node numbers after everyone else (`docs/scaling.md`).
//!
//! **Durable.** Every connection sets `synchronous_commit = on`: a COMMIT that returned is in
//! PostgreSQL's WAL on disk (and on its synchronous standbys, if the cluster has any).
//!
//! **Waking the others.** A commit sends `NOTIFY` on this schema's channel with its last seq,
//! delivered with the commit; each node's listener turns it into [`Heard`], and the engine reads
//! the new events. A listener that lost its connection says so (`reconnects`), since whatever
//! was sent meanwhile is lost, and the engine reads the log to catch up.
//!
//! **Bounded waits.** `lock_timeout` bounds how long a writer waits for the lock, and
//! `idle_in_transaction_session_timeout` ends the session of a node that stalls while holding
//! it (a frozen process, a dead network): its transaction rolls back, the lock passes on.
//!
//! Several deployments (or tests) can share one database in separate schemas: the schema is the
//! first of the URL's `search_path` (`?options=-csearch_path%3Dname`), created if missing; the
//! lock and the channel are derived from its name.

use super::rows::*;
use super::sqlite::spans;
use super::*;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, Postgres};
use sqlx::{Connection, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Rows per multi-row INSERT (6 binds each, far below PostgreSQL's 65,535).
const ROWS_PER_INSERT: usize = 1000;
/// How long a writer waits for the log's lock before the batch is refused (`database_locked`).
const LOCK_TIMEOUT: &str = "5s";
/// A session idle inside a transaction this long is ended by PostgreSQL (its lock freed).
const IDLE_IN_TRANSACTION: &str = "10s";
/// How long a call waits for a connection (sqlx retries connecting meanwhile): how long a call
/// takes to fail while PostgreSQL is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct PgStore {
    /// Reads: sessions' catch-ups, tokens, `/readyz`, the listener.
    pool: PgPool,
    /// Writes of the log (appends, the probe, snapshots): kept apart so that readers waiting
    /// for connections never make the log look unreachable.
    writer: PgPool,
    /// The schema the tables are in.
    schema: String,
    /// The advisory lock that orders writers of this schema.
    lock_key: i64,
    /// The NOTIFY channel of this schema.
    channel: String,
    heard: watch::Receiver<Heard>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// The URL without its password, for logs and messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// What a PostgreSQL error code (SQLSTATE) means for the operator.
pub fn fault_of(code: &str) -> Fault {
    match code {
        "53100" => Fault::DiskFull,                        // disk_full
        "58030" => Fault::Io,                              // io_error
        "25006" => Fault::ReadOnly,                        // read_only_sql_transaction: a standby
        "55P03" | "40P01" => Fault::Locked,                // lock_not_available, deadlock_detected
        "57P01" | "57P02" | "57P03" => Fault::Unreachable, // shutting down, cannot connect now
        "25P03" => Fault::Unreachable,                     // idle_in_transaction_session_timeout
        c if c.starts_with("08") => Fault::Unreachable,    // connection exceptions
        c if c.starts_with("53") => Fault::DiskFull,       // insufficient resources
        _ => Fault::Other,
    }
}

/// A stable 63-bit key and a channel name from the schema's name.
fn lock_and_channel(schema: &str) -> (i64, String) {
    let digest = Sha256::digest(format!("crest-log:{schema}").as_bytes());
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    let key = i64::from_be_bytes(key) & i64::MAX;
    (
        key,
        format!("crest_log_{}", crate::codec::hex(&digest[..6])),
    )
}

/// The first schema of a `search_path` setting, unless it is `$user` or empty.
fn first_schema(search_path: &str) -> Option<String> {
    let first = search_path.split(',').next()?.trim().trim_matches('"');
    (!first.is_empty() && first != "$user").then(|| first.to_string())
}

impl PgStore {
    /// Connects, creates the schema if needed and applies the migrations (under sqlx's own
    /// advisory lock, so nodes starting together migrate once), then starts the listener.
    pub async fn open(url: &str) -> StoreResult<PgStore> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("crest")
            .options([
                ("synchronous_commit", "on"),
                ("lock_timeout", LOCK_TIMEOUT),
                ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION),
            ]);
        // Create the schema the search_path names, on a connection of its own (the pool's
        // connections would otherwise cache "no such schema").
        {
            let mut conn = sqlx::PgConnection::connect_with(&options).await?;
            let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
                .fetch_one(&mut conn)
                .await?;
            if let Some(schema) = first_schema(&path) {
                let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
                // The name is quoted as an identifier (embedded quotes doubled).
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "CREATE SCHEMA IF NOT EXISTS {quoted}"
                )))
                .execute(&mut conn)
                .await?;
            }
            let _ = conn.close().await;
        }
        let pool = PgPoolOptions::new()
            .max_connections(6)
            .min_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        let writer = PgPoolOptions::new()
            .max_connections(2)
            .min_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("src/store/migrations/postgres")
            .run(&pool)
            .await?;
        let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&pool)
            .await?;
        let schema = schema.ok_or_else(|| {
            StoreError::Corrupt("the search_path names no schema that exists".into())
        })?;
        let (lock_key, channel) = lock_and_channel(&schema);
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(&channel).await?;
        let (tell, heard) = watch::channel(Heard::default());
        let listener = tokio::spawn(listen(listener, tell));
        Ok(PgStore {
            pool,
            writer,
            schema,
            lock_key,
            channel,
            heard,
            listener,
        })
    }

    /// The schema the tables are in.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

/// Turns notifications into [`Heard`] until the store is dropped.
async fn listen(mut listener: PgListener, tell: watch::Sender<Heard>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                if let Ok(seq) = n.payload().parse::<u64>() {
                    tell.send_if_modified(|h| {
                        let newer = seq > h.seq;
                        h.seq = h.seq.max(seq);
                        newer
                    });
                }
            }
            // The connection was lost (and is reconnected by the next call): what was sent
            // meanwhile is lost with it.
            Ok(None) => tell.send_modify(|h| h.reconnects += 1),
            Err(e) => {
                tracing::debug!(error = %e, "the log's listener cannot reach PostgreSQL");
                tell.send_modify(|h| h.reconnects += 1);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn read_events_after<'e, E>(conn: E, after: u64, limit: i64) -> StoreResult<Vec<StoredEvent>>
where
    E: sqlx::PgExecutor<'e>,
{
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT seq, time_ms, command_id, actor, format, body FROM events \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after as i64)
    .bind(limit)
    .fetch_all(conn)
    .await
    .map_err(|e| read_error(format_args!("events after {after}"), e))?;
    rows.into_iter().map(StoredEvent::try_from).collect()
}

async fn lookup_outcomes<'e, E>(conn: E, ids: &[&str]) -> StoreResult<Vec<CommandOutcome>>
where
    E: sqlx::PgExecutor<'e>,
{
    let rows: Vec<OutcomeRow> = sqlx::query_as(
        "SELECT command_id, request_hash, first_seq, last_seq, created_id FROM commands \
         WHERE command_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
    .map_err(|e| read_error("command records", e))?;
    Ok(rows.into_iter().map(CommandOutcome::from).collect())
}

async fn insert_batch(
    tx: &mut Transaction<'static, Postgres>,
    batch: &[CommandRecord],
) -> StoreResult<()> {
    let commands = spans(batch)?;
    let events: Vec<&StoredEvent> = batch.iter().flat_map(|r| &r.events).collect();
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::<Postgres>::new(
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
        q.build().execute(&mut **tx).await?;
    }
    for chunk in commands.chunks(ROWS_PER_INSERT) {
        let mut q = sqlx::QueryBuilder::<Postgres>::new(
            "INSERT INTO commands (command_id, request_hash, first_seq, last_seq, created_id) ",
        );
        q.push_values(chunk, |mut row, (rec, first, last)| {
            row.push_bind(rec.command_id.as_str())
                .push_bind(rec.request_hash.as_str())
                .push_bind(*first as i64)
                .push_bind(*last as i64)
                .push_bind(rec.created_id.as_deref());
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// A write of the log: a transaction holding the schema's advisory lock. Dropped, it rolls back
/// (sqlx queues the ROLLBACK) and the lock is freed.
struct PgAppend {
    tx: Option<Transaction<'static, Postgres>>,
    channel: String,
}

impl PgAppend {
    fn tx(&mut self) -> StoreResult<&mut Transaction<'static, Postgres>> {
        self.tx
            .as_mut()
            .ok_or_else(|| StoreError::Corrupt("the write already ended".into()))
    }
}

impl Append for PgAppend {
    fn command_outcomes<'b>(
        &'b mut self,
        ids: &'b [&'b str],
    ) -> StoreFuture<'b, Vec<CommandOutcome>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            lookup_outcomes(&mut **self.tx()?, ids).await
        })
    }

    fn commit<'b>(&'b mut self, batch: &'b [CommandRecord]) -> StoreFuture<'b, ()> {
        Box::pin(async move {
            let last = batch
                .iter()
                .flat_map(|r| r.events.last())
                .map(|e| e.seq)
                .max()
                .unwrap_or(0);
            let mut tx = self
                .tx
                .take()
                .ok_or_else(|| StoreError::Corrupt("the write already ended".into()))?;
            insert_batch(&mut tx, batch).await?;
            // Delivered to the listeners only if, and when, the transaction commits.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&self.channel)
                .bind(last.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn rollback(&mut self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if let Some(tx) = self.tx.take() {
                tx.rollback().await?;
            }
            Ok(())
        })
    }
}

impl Store for PgStore {
    fn begin_append(&self, after: u64) -> StoreFuture<'_, Begun<'_>> {
        Box::pin(async move {
            let mut tx = self.writer.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(self.lock_key)
                .execute(&mut *tx)
                .await?;
            // A statement after the lock: its snapshot sees every commit made before the lock
            // was granted (READ COMMITTED takes one per statement).
            // From `after` itself: the log must still hold this node's last event.
            let read = read_events_after(&mut *tx, after.saturating_sub(1), i64::MAX).await?;
            let newer = after_own(after, read)?;
            Ok(Begun {
                newer,
                append: Box::new(PgAppend {
                    tx: Some(tx),
                    channel: self.channel.clone(),
                }),
            })
        })
    }

    fn append<'a>(&'a self, batch: &'a [CommandRecord]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let after = spans(batch)?.first().map_or(0, |(_, first, _)| first - 1);
            let mut begun = self.begin_append(after).await?;
            begun.append.commit(batch).await
        })
    }

    fn events_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<StoredEvent>> {
        Box::pin(async move { read_events_after(&self.pool, after, i64::from(limit)).await })
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
            lookup_outcomes(&self.pool, ids).await
        })
    }

    fn latest_snapshot(&self) -> StoreFuture<'_, Option<Snapshot>> {
        Box::pin(async move {
            // The state as bytes, so the row is the SQLite store's (and its UTF-8 check holds).
            let row: Option<SnapshotRow> = sqlx::query_as(
                "SELECT seq, format, convert_to(state, 'UTF8') AS state FROM snapshots \
                 ORDER BY seq DESC LIMIT 1",
            )
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| read_error("the newest snapshot", e))?;
            row.map(Snapshot::try_from).transpose()
        })
    }

    fn save_snapshot(&self, snapshot: Snapshot) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut tx = self.writer.begin().await?;
            sqlx::query(
                "INSERT INTO snapshots (seq, created_ms, format, state) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (seq) DO UPDATE SET created_ms = excluded.created_ms, \
                 format = excluded.format, state = excluded.state",
            )
            .bind(snapshot.seq as i64)
            .bind(crate::clock::now_ms())
            .bind(i64::from(snapshot.format))
            .bind(&snapshot.state)
            .execute(&mut *tx)
            .await?;
            // Several nodes save snapshots: keep the newest, whoever wrote it.
            sqlx::query("DELETE FROM snapshots WHERE seq < (SELECT MAX(seq) FROM snapshots)")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
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

    fn appends_elsewhere(&self) -> Option<watch::Receiver<Heard>> {
        Some(self.heard.clone())
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn probe_write(&self, bytes: usize) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            // What an append needs: the log's lock (a stalled holder keeps the node refusing
            // rather than flapping) and a durable write, made by the server so no padding
            // crosses the network; then emptied.
            let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
            let mut tx = self.writer.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(self.lock_key)
                .execute(&mut *tx)
                .await?;
            for size in [bytes, 0] {
                sqlx::query(
                    "INSERT INTO write_probe (id, pad) VALUES (1, decode(repeat('00', $1), 'hex')) \
                     ON CONFLICT (id) DO UPDATE SET pad = excluded.pad",
                )
                .bind(size)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh schema of the test PostgreSQL (`CREST_TEST_PG`, default the local one), or `None`
    /// (and SKIPPED) when there is none — except under CI, where that fails.
    async fn test_schema(name: &str) -> Option<String> {
        let base = std::env::var("CREST_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("crest_t_unit_{name}_{}", std::process::id());
        let url = format!("{base}?options=-csearch_path%3D{schema}");
        match sqlx::PgConnection::connect(&base).await {
            Ok(mut c) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(&mut c)
                .await
                .unwrap();
                Some(url)
            }
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "no PostgreSQL: {e}");
                eprintln!("SKIPPED: no PostgreSQL at {base}: {e}");
                None
            }
        }
    }

    fn record(id: &str, seqs: std::ops::RangeInclusive<u64>) -> CommandRecord {
        CommandRecord {
            command_id: id.into(),
            request_hash: "h".into(),
            created_id: None,
            events: seqs
                .map(|seq| StoredEvent {
                    seq,
                    time_ms: 7,
                    command_id: id.into(),
                    actor: "desk".into(),
                    format: 1,
                    body: format!("{{\"n\":{seq}}}"),
                })
                .collect(),
        }
    }

    /// Two nodes' stores on one schema: while one holds the write, the other waits, then sees
    /// what the first committed before it numbers anything; a failed batch leaves nothing.
    #[tokio::test]
    async fn writers_take_turns_and_each_sees_what_the_other_committed() {
        let Some(url) = test_schema("turns").await else {
            return;
        };
        let a = PgStore::open(&url).await.unwrap();
        let b = std::sync::Arc::new(PgStore::open(&url).await.unwrap());
        let mut first = a.begin_append(0).await.unwrap();
        assert!(first.newer.is_empty());
        let waiting = tokio::spawn({
            let b = b.clone();
            async move {
                let mut begun = b.begin_append(0).await.unwrap();
                let newer: Vec<u64> = begun.newer.iter().map(|e| e.seq).collect();
                let known = begun.append.command_outcomes(&["a"]).await.unwrap();
                begun.append.commit(&[record("b", 3..=3)]).await.unwrap();
                (newer, known.len())
            }
        });
        // b cannot have begun: the log is a's until it commits.
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        first.append.commit(&[record("a", 1..=2)]).await.unwrap();
        drop(first);
        let (newer, known) = waiting.await.unwrap();
        assert_eq!(newer, vec![1, 2], "b read a's events under the lock");
        assert_eq!(known, 1, "and a's idempotency record");
        assert_eq!(a.last_seq().await.unwrap(), 3);
        // A batch whose seq is taken: nothing of it is written.
        let mut bad = a.begin_append(3).await.unwrap();
        let err = bad
            .append
            .commit(&[record("c", 4..=4), record("d", 3..=3)])
            .await;
        assert!(err.is_err());
        drop(bad);
        assert_eq!(a.last_seq().await.unwrap(), 3);
        assert!(a.command_outcomes(&["c"]).await.unwrap().is_empty());
        // The notification of b's commit reached a's listener.
        let mut heard = a.appends_elsewhere().unwrap();
        tokio::time::timeout(Duration::from_secs(20), heard.wait_for(|h| h.seq >= 3))
            .await
            .expect("notified")
            .unwrap();
        // Snapshots and tokens round-trip.
        a.save_snapshot(Snapshot {
            seq: 2,
            format: 1,
            state: "{}".into(),
        })
        .await
        .unwrap();
        b.save_snapshot(Snapshot {
            seq: 3,
            format: 1,
            state: "{\"x\":1}".into(),
        })
        .await
        .unwrap();
        assert_eq!(a.latest_snapshot().await.unwrap().unwrap().seq, 3);
        a.probe_write(4096).await.unwrap();
    }

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            redacted("postgres://crest:s3cret@db:5432/crest?options=x"),
            "postgres://crest:***@db:5432/crest?options=x"
        );
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redacted("postgres:///test"), "postgres:///test");
    }

    #[test]
    fn sqlstates_name_the_fault() {
        assert_eq!(fault_of("53100"), Fault::DiskFull);
        assert_eq!(fault_of("08006"), Fault::Unreachable);
        assert_eq!(fault_of("57P01"), Fault::Unreachable);
        assert_eq!(fault_of("25006"), Fault::ReadOnly);
        assert_eq!(fault_of("55P03"), Fault::Locked);
        assert_eq!(fault_of("23505"), Fault::Other);
    }

    #[test]
    fn each_schema_has_its_own_lock_and_channel() {
        let (a, ca) = lock_and_channel("public");
        let (b, cb) = lock_and_channel("crest_t_1");
        assert_ne!(a, b);
        assert_ne!(ca, cb);
        assert!(a >= 0 && ca.len() < 63);
        assert_eq!(lock_and_channel("public"), (a, ca));
        assert_eq!(first_schema("\"$user\", public"), None);
        assert_eq!(first_schema("crest_t_1, public"), Some("crest_t_1".into()));
    }
}
