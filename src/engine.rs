//! The engine: the single writer of the event log.
//!
//! Commands arrive on a channel. The engine takes every command waiting (up to a batch limit),
//! decides each against its own copy of the state — applying accepted events at once so later
//! commands in the batch see them — writes the whole batch in one transaction (group commit), and
//! only then publishes to the projection and acknowledges. If the write fails, nothing is
//! acknowledged and the engine reloads its state from the store, so it never runs ahead of the log.

use crate::clock::now_ms;
use crate::domain::events::Event;
use crate::domain::{Actor, Command, Context, DomainError, State};
use crate::metrics::Metrics;
use crate::projection::{Committed, Live};
use crate::spatial::LeveeIndex;
use crate::store::{CommandOutcome, CommandRecord, Snapshot, Store, StoreError, StoredEvent};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Most commands written in one transaction.
const MAX_BATCH: usize = 512;
/// Events read from the store per page while recovering.
const REPLAY_PAGE: u32 = 10_000;

/// The result of an accepted (or previously accepted) command.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub seqs: Vec<u64>,
    pub created: Option<String>,
    /// True when this command id had already been applied and this is its original result.
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("command id {0} was already used for a different command")]
    Conflict(String),
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
}

impl SubmitError {
    pub fn code(&self) -> &'static str {
        match self {
            SubmitError::Domain(e) => e.code(),
            SubmitError::Conflict(_) => "command_id_conflict",
            SubmitError::Unavailable(_) => "unavailable",
        }
    }
}

struct Submission {
    actor: Actor,
    command_id: String,
    command: Command,
    reply: oneshot::Sender<Result<Outcome, SubmitError>>,
}

/// Cloneable handle for submitting commands.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Submission>,
    stop: mpsc::Sender<oneshot::Sender<u64>>,
    metrics: Arc<Metrics>,
}

impl EngineHandle {
    pub async fn submit(
        &self,
        actor: Actor,
        command_id: String,
        command: Command,
    ) -> Result<Outcome, SubmitError> {
        let (reply, rx) = oneshot::channel();
        self.metrics.engine_queue_depth.fetch_add(1, Relaxed);
        let sent = self
            .tx
            .send(Submission {
                actor,
                command_id,
                command,
                reply,
            })
            .await;
        if sent.is_err() {
            self.metrics.engine_queue_depth.fetch_sub(1, Relaxed);
            return Err(SubmitError::Unavailable("engine stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(SubmitError::Unavailable("engine stopped".into())))
    }

    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Stops the engine: commands already queued are committed, a snapshot is written, and later
    /// submissions get `unavailable`. Returns the last sequence number, once all that is done.
    pub async fn stop(&self) -> Option<u64> {
        let (done, wait) = oneshot::channel();
        self.stop.send(done).await.ok()?;
        wait.await.ok()
    }
}

/// Hash of a command's canonical JSON: the same id with different content is a conflict.
pub fn request_hash(command: &Command) -> String {
    let json = serde_json::to_vec(command).expect("commands serialize");
    Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// State rebuilt from the store: the newest snapshot plus every event after it.
pub struct Recovered {
    pub state: State,
    pub seq: u64,
    pub outcomes: Vec<CommandOutcome>,
}

pub async fn recover(store: &dyn Store) -> Result<Recovered, StoreError> {
    let (mut state, mut seq) = match store.latest_snapshot().await? {
        Some(s) => {
            let state: State = serde_json::from_str(&s.state)
                .map_err(|e| StoreError::Corrupt(format!("snapshot {}: {e}", s.seq)))?;
            (state, s.seq)
        }
        None => (State::default(), 0),
    };
    loop {
        let page = store.events_after(seq, REPLAY_PAGE).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if e.seq != seq + 1 {
                return Err(StoreError::Corrupt(format!(
                    "event log gap: {} follows {}",
                    e.seq, seq
                )));
            }
            let event: Event = serde_json::from_str(&e.body)
                .map_err(|err| StoreError::Corrupt(format!("event {}: {err}", e.seq)))?;
            state.apply(&event);
            seq = e.seq;
        }
    }
    Ok(Recovered {
        state,
        seq,
        outcomes: store.command_outcomes().await?,
    })
}

fn outcome_of(o: &CommandOutcome, duplicate: bool) -> Outcome {
    Outcome {
        seqs: (o.first_seq..=o.last_seq).collect(),
        created: o.created_id.clone(),
        duplicate,
    }
}

pub struct EngineConfig {
    /// Write a snapshot after this many events (0: never).
    pub snapshot_every: u64,
}

struct Engine {
    store: Arc<dyn Store>,
    live: Arc<Live>,
    metrics: Arc<Metrics>,
    state: State,
    levees: LeveeIndex,
    seq: u64,
    outcomes: HashMap<String, CommandOutcome>,
    snapshot_every: u64,
    since_snapshot: u64,
}

/// A command of the current batch waiting for the commit.
struct Pending {
    reply: oneshot::Sender<Result<Outcome, SubmitError>>,
    /// Index into the batch's records; resends within the batch share the record.
    record: usize,
    duplicate: bool,
}

/// Starts the engine on a recovered state. The projection must hold the same state.
pub fn spawn(
    store: Arc<dyn Store>,
    live: Arc<Live>,
    metrics: Arc<Metrics>,
    recovered: Recovered,
    config: EngineConfig,
) -> EngineHandle {
    let (tx, rx) = mpsc::channel(4096);
    let (stop, stop_rx) = mpsc::channel(1);
    let levees = levee_index(&recovered.state);
    let engine = Engine {
        store,
        live,
        metrics: metrics.clone(),
        state: recovered.state,
        levees,
        seq: recovered.seq,
        outcomes: recovered
            .outcomes
            .into_iter()
            .map(|o| (o.command_id.clone(), o))
            .collect(),
        snapshot_every: config.snapshot_every,
        since_snapshot: 0,
    };
    metrics.last_seq.store(engine.seq, Relaxed);
    tokio::spawn(engine.run(rx, stop_rx));
    EngineHandle { tx, stop, metrics }
}

fn levee_index(state: &State) -> LeveeIndex {
    let mut index = LeveeIndex::default();
    for l in state.levees.values() {
        index.insert(l.clone());
    }
    index
}

impl Engine {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Submission>,
        mut stop: mpsc::Receiver<oneshot::Sender<u64>>,
    ) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let done = loop {
            tokio::select! {
                biased;
                n = rx.recv_many(&mut batch, MAX_BATCH) => {
                    if n == 0 {
                        break None;
                    }
                }
                done = stop.recv() => {
                    // Refuse new work, then commit what was already queued.
                    rx.close();
                    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                        if !self.run_batch(&mut batch).await {
                            return;
                        }
                    }
                    break done;
                }
            }
            if !self.run_batch(&mut batch).await {
                return;
            }
        };
        self.snapshot().await;
        tracing::info!(seq = self.seq, "engine stopped");
        if let Some(done) = done {
            let _ = done.send(self.seq);
        }
    }

    /// Processes a batch; false when the engine cannot go on.
    async fn run_batch(&mut self, batch: &mut Vec<Submission>) -> bool {
        if batch.is_empty() {
            return true;
        }
        self.metrics
            .engine_queue_depth
            .fetch_sub(batch.len() as u64, Relaxed);
        if let Err(e) = self.process(std::mem::take(batch)).await {
            tracing::error!(error = %e, "cannot reload state after a failed commit; engine stops");
            return false;
        }
        true
    }

    async fn process(&mut self, batch: Vec<Submission>) -> Result<(), StoreError> {
        let mut records: Vec<CommandRecord> = Vec::new();
        let mut committed: Vec<Committed> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut in_batch: HashMap<String, usize> = HashMap::new();
        let now = now_ms();
        for sub in batch {
            let hash = request_hash(&sub.command);
            if let Some(o) = self.outcomes.get(&sub.command_id) {
                let result = if o.request_hash == hash {
                    self.metrics.commands_duplicate.fetch_add(1, Relaxed);
                    Ok(outcome_of(o, true))
                } else {
                    Err(SubmitError::Conflict(sub.command_id.clone()))
                };
                let _ = sub.reply.send(result);
                continue;
            }
            if let Some(&i) = in_batch.get(&sub.command_id) {
                if records[i].request_hash == hash {
                    pending.push(Pending {
                        reply: sub.reply,
                        record: i,
                        duplicate: true,
                    });
                } else {
                    let _ = sub.reply.send(Err(SubmitError::Conflict(sub.command_id)));
                }
                continue;
            }
            let ctx = Context {
                now_ms: now,
                actor: &sub.actor,
                snapper: &self.levees,
            };
            let events = match self.state.decide(&sub.command, &ctx) {
                Ok(events) => events,
                Err(e) => {
                    self.metrics.commands_rejected.fetch_add(1, Relaxed);
                    let _ = sub.reply.send(Err(e.into()));
                    continue;
                }
            };
            let mut stored = Vec::with_capacity(events.len());
            let created_id = events
                .iter()
                .find_map(|e| e.created_id().map(str::to_string));
            for event in events {
                self.seq += 1;
                self.state.apply(&event);
                if let Event::LeveeDefined { levee } = &event {
                    self.levees.insert(levee.clone());
                }
                let json = serde_json::to_string(&event).expect("events serialize");
                stored.push(StoredEvent {
                    seq: self.seq,
                    time_ms: now,
                    command_id: sub.command_id.clone(),
                    actor: sub.actor.name.clone(),
                    body: json.clone(),
                });
                committed.push(Committed {
                    seq: self.seq,
                    time_ms: now,
                    event,
                    json,
                });
            }
            in_batch.insert(sub.command_id.clone(), records.len());
            pending.push(Pending {
                reply: sub.reply,
                record: records.len(),
                duplicate: false,
            });
            records.push(CommandRecord {
                command_id: sub.command_id,
                request_hash: hash,
                created_id,
                events: stored,
            });
        }
        if records.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        if let Err(e) = self.store.append(&records).await {
            tracing::error!(error = %e, commands = records.len(), "commit failed; nothing acknowledged, reloading from the log");
            for p in pending {
                let _ = p.reply.send(Err(SubmitError::Unavailable(e.to_string())));
            }
            let r = recover(self.store.as_ref()).await?;
            self.levees = levee_index(&r.state);
            self.state = r.state;
            self.seq = r.seq;
            self.outcomes = r
                .outcomes
                .into_iter()
                .map(|o| (o.command_id.clone(), o))
                .collect();
            return Ok(());
        }
        self.metrics
            .commit_latency
            .observe(started.elapsed().as_secs_f64());
        self.metrics.commit_batches.fetch_add(1, Relaxed);
        self.metrics
            .commands_accepted
            .fetch_add(records.len() as u64, Relaxed);
        self.metrics
            .events_committed
            .fetch_add(committed.len() as u64, Relaxed);
        self.metrics.last_seq.store(self.seq, Relaxed);
        self.live.publish(&committed);
        let outcomes: Vec<CommandOutcome> = records
            .iter()
            .map(|r| CommandOutcome {
                command_id: r.command_id.clone(),
                request_hash: r.request_hash.clone(),
                first_seq: r.events.first().map_or(0, |e| e.seq),
                last_seq: r.events.last().map_or(0, |e| e.seq),
                created_id: r.created_id.clone(),
            })
            .collect();
        for p in pending {
            if p.duplicate {
                self.metrics.commands_duplicate.fetch_add(1, Relaxed);
            }
            let _ = p
                .reply
                .send(Ok(outcome_of(&outcomes[p.record], p.duplicate)));
        }
        self.since_snapshot += committed.len() as u64;
        for o in outcomes {
            self.outcomes.insert(o.command_id.clone(), o);
        }
        if self.snapshot_every > 0 && self.since_snapshot >= self.snapshot_every {
            self.snapshot().await;
        }
        Ok(())
    }

    /// Saves the state as a snapshot. Failure is logged, not fatal: the log is still complete.
    async fn snapshot(&mut self) {
        if self.since_snapshot == 0 {
            return;
        }
        let snapshot = Snapshot {
            seq: self.seq,
            state: serde_json::to_string(&self.state).expect("state serializes"),
        };
        match self.store.save_snapshot(snapshot).await {
            Ok(()) => {
                self.since_snapshot = 0;
                tracing::debug!(seq = self.seq, "snapshot saved");
            }
            Err(e) => {
                tracing::warn!(error = %e, "snapshot failed; start-up will replay more events")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::commands::UpdatePosition;
    use crate::domain::ids::TeamId;
    use crate::store::{Snapshot, SqliteStore, StoreFuture, TokenRecord};
    use std::sync::atomic::AtomicBool;

    /// A real SQLite store whose appends can be made to fail, as a full disk would.
    struct Faulty {
        inner: SqliteStore,
        fail_appends: AtomicBool,
    }

    impl Store for Faulty {
        fn append<'a>(&'a self, batch: &'a [CommandRecord]) -> StoreFuture<'a, ()> {
            if self.fail_appends.load(Relaxed) {
                return Box::pin(async { Err(StoreError::Corrupt("injected: disk full".into())) });
            }
            self.inner.append(batch)
        }
        fn events_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<StoredEvent>> {
            self.inner.events_after(after, limit)
        }
        fn last_seq(&self) -> StoreFuture<'_, u64> {
            self.inner.last_seq()
        }
        fn command_outcomes(&self) -> StoreFuture<'_, Vec<CommandOutcome>> {
            self.inner.command_outcomes()
        }
        fn latest_snapshot(&self) -> StoreFuture<'_, Option<Snapshot>> {
            self.inner.latest_snapshot()
        }
        fn save_snapshot(&self, snapshot: Snapshot) -> StoreFuture<'_, ()> {
            self.inner.save_snapshot(snapshot)
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
            self.inner.ping()
        }
    }

    fn register(id: &str) -> Command {
        serde_json::from_value(serde_json::json!({
            "type": "register_team", "id": id, "name": id, "kind": "militia", "headcount": 5,
            "travel_mode": "foot", "position": [113.1, 27.6]
        }))
        .unwrap()
    }

    fn move_to(id: &str, lon: f64) -> Command {
        Command::UpdatePosition(UpdatePosition {
            team_id: TeamId::from(id),
            position: crate::domain::LonLat::new(lon, 27.6).unwrap(),
            time_ms: None,
            accuracy_m: None,
        })
    }

    #[tokio::test]
    async fn a_failed_commit_acknowledges_nothing_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Faulty {
            inner: SqliteStore::open(&dir.path().join("e.db")).await.unwrap(),
            fail_appends: AtomicBool::new(false),
        });
        let recovered = recover(store.as_ref()).await.unwrap();
        let live = Live::new(recovered.state.clone(), recovered.seq, 64);
        let metrics = Arc::new(Metrics::default());
        let engine = spawn(
            store.clone(),
            live.clone(),
            metrics,
            recovered,
            EngineConfig { snapshot_every: 0 },
        );
        let actor = Actor::system();
        engine
            .submit(actor.clone(), "reg".into(), register("T-1"))
            .await
            .unwrap();

        store.fail_appends.store(true, Relaxed);
        let (a, b) = tokio::join!(
            engine.submit(actor.clone(), "m1".into(), move_to("T-1", 113.2)),
            engine.submit(actor.clone(), "reg2".into(), register("T-2")),
        );
        assert!(matches!(a, Err(SubmitError::Unavailable(_))), "{a:?}");
        assert!(matches!(b, Err(SubmitError::Unavailable(_))), "{b:?}");
        assert_eq!(live.read().seq, 1, "nothing was published");
        assert!(!live.read().state.teams.contains_key("T-2"));

        // The disk is back: the same ids are applied once, as new commands, with no gap.
        store.fail_appends.store(false, Relaxed);
        let a = engine
            .submit(actor.clone(), "m1".into(), move_to("T-1", 113.2))
            .await
            .unwrap();
        assert_eq!((a.seqs.clone(), a.duplicate), (vec![2], false));
        let b = engine
            .submit(actor.clone(), "reg2".into(), register("T-2"))
            .await
            .unwrap();
        assert_eq!(b.seqs, vec![3]);
        // The engine's own state was reloaded, not left with the failed batch: registering T-2
        // again is a duplicate of the committed command, not "already exists" from a ghost.
        let again = engine
            .submit(actor, "reg2".into(), register("T-2"))
            .await
            .unwrap();
        assert!(again.duplicate);
        assert_eq!(
            live.read().state.teams["T-1"].fix.unwrap().position.lon(),
            113.2
        );
        let r = recover(store.as_ref()).await.unwrap();
        assert_eq!(r.seq, 3);
        assert_eq!(r.state, live.read().state);
    }
}
