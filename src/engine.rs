//! The engine: the single writer of the event log.
//!
//! Commands arrive on a channel. The engine takes every command waiting (up to a batch limit),
//! decides each against its own copy of the state — applying accepted events at once so later
//! commands in the batch see them — writes the whole batch in one transaction (group commit), and
//! only then publishes to the projection and acknowledges.
//!
//! If the write fails, nothing is acknowledged, the engine reloads its state from what the log
//! really holds, and it enters the *unwritable* mode: every command is answered `unavailable`,
//! `/readyz` reports the fault, and once a second the engine tries a small durable write; when
//! one succeeds it leaves the mode by itself. The fault is logged once when it starts, again only
//! if its kind changes, and once when writing works again.

use crate::clock::Clock;
use crate::codec;
use crate::domain::error::Bilingual;
use crate::domain::events::Event;
use crate::domain::{Actor, Command, Context, DomainError, State};
use crate::metrics::Metrics;
use crate::projection::{Committed, Live};
use crate::spatial::LeveeIndex;
use crate::store::{CommandOutcome, CommandRecord, Fault, Store, StoreError, StoredEvent};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;

/// Most commands written in one transaction.
const MAX_BATCH: usize = 512;
/// Events read from the store per page while recovering.
const REPLAY_PAGE: u32 = 10_000;
/// How often an unwritable log is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// With other nodes writing the log: how often it is read even without a notification (one
/// lost with a connection), and how soon an idle node notices that PostgreSQL is gone.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// The longest the engine waits on one call to the store. A database behind a network that
/// went silent (no reset) would otherwise hold the engine until the kernel gives up on the
/// connection, with commands neither acknowledged nor refused.
const STORE_CALL_LIMIT: Duration = Duration::from_secs(10);

/// `call`, or a `database_unreachable` fault when the store has not answered in time.
async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(STORE_CALL_LIMIT, call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Fault {
            fault: Fault::Unreachable,
            detail: format!(
                "the database did not answer within {} s",
                STORE_CALL_LIMIT.as_secs()
            ),
        }),
    }
}
/// Headroom the write probe asks for beyond twice the failed batch, and its largest size, bytes.
/// Right after a failure SQLite's WAL file has room for about what failed (it keeps its size), so
/// a probe of just that size would succeed on a disk that is still full and the engine would
/// flap between accepting and refusing.
const PROBE_HEADROOM: usize = 1 << 20;
const PROBE_MAX: usize = 8 << 20;

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
    Unavailable(Bilingual),
}

impl SubmitError {
    fn unwritable(fault: Fault) -> SubmitError {
        SubmitError::Unavailable(Bilingual::new(
            format!(
                "the log cannot be written ({fault}); nothing was recorded, send the command again later"
            ),
            format!("事件日志无法写入（{fault}）；未记录任何内容，请稍后重发该指令"),
        ))
    }

    fn engine_stopped() -> SubmitError {
        SubmitError::Unavailable(Bilingual::new("engine stopped", "引擎已停止"))
    }
}

/// Whether the event log can be written, as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogHealth {
    Writable,
    /// Writes fail; every command is answered `unavailable` until a write succeeds again.
    Unwritable {
        fault: Fault,
        since_ms: i64,
    },
}

struct Submission {
    /// The time to decide it at (a drill's scripted step: its scheduled time); `None`: the
    /// engine's clock.
    at_ms: Option<i64>,
    actor: Actor,
    command_id: String,
    command: Command,
    reply: oneshot::Sender<Result<Outcome, SubmitError>>,
}

/// What the command channel carries: a command, or a clock tick queued in order with them (a
/// drill's run sends both without waiting, and the tick must come where it was sent).
// Nearly everything queued is a command: boxing it to shrink the rare tick would allocate once
// more per command.
#[allow(clippy::large_enum_variant)]
enum Queued {
    Command(Submission),
    Tick {
        at_ms: i64,
        reply: oneshot::Sender<Result<Outcome, SubmitError>>,
    },
}

impl Queued {
    fn reply(self) -> oneshot::Sender<Result<Outcome, SubmitError>> {
        match self {
            Queued::Command(s) => s.reply,
            Queued::Tick { reply, .. } => reply,
        }
    }
}

/// The answer to a command or a queued tick, to wait for later (see [`EngineHandle::enqueue`]).
pub type Reply = oneshot::Receiver<Result<Outcome, SubmitError>>;

/// Cloneable handle for submitting commands.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Queued>,
    stop: mpsc::Sender<oneshot::Sender<u64>>,
    ticks: mpsc::Sender<(Option<i64>, oneshot::Sender<u64>)>,
    follows: mpsc::Sender<oneshot::Sender<u64>>,
    health: watch::Receiver<LogHealth>,
    metrics: Arc<Metrics>,
}

impl EngineHandle {
    pub async fn submit(
        &self,
        actor: Actor,
        command_id: String,
        command: Command,
    ) -> Result<Outcome, SubmitError> {
        self.submit_at(None, actor, command_id, command).await
    }

    /// [`submit`](Self::submit), decided at `at_ms` instead of the clock's time (a drill's
    /// scripted step at its scheduled time, so a replay logs the same times at any speed). The
    /// log's times never go back: a time earlier than the last one logged is taken as that one.
    pub async fn submit_at(
        &self,
        at_ms: Option<i64>,
        actor: Actor,
        command_id: String,
        command: Command,
    ) -> Result<Outcome, SubmitError> {
        let (reply, rx) = oneshot::channel();
        self.metrics.engine_queue_depth.inc();
        let sent = self
            .tx
            .send(Queued::Command(Submission {
                at_ms,
                actor,
                command_id,
                command,
                reply,
            }))
            .await;
        if sent.is_err() {
            self.metrics.engine_queue_depth.dec();
            return Err(SubmitError::engine_stopped());
        }
        rx.await
            .unwrap_or_else(|_| Err(SubmitError::engine_stopped()))
    }

    /// Submits several commands in this order (their events are logged in it) and waits for all
    /// of them: they share group-commit transactions. The results are in the same order.
    pub async fn submit_many(
        &self,
        commands: Vec<(Option<i64>, Actor, String, Command)>,
    ) -> Vec<Result<Outcome, SubmitError>> {
        let mut replies = Vec::with_capacity(commands.len());
        for (at_ms, actor, command_id, command) in commands {
            let (reply, rx) = oneshot::channel();
            self.metrics.engine_queue_depth.inc();
            let sub = Submission {
                at_ms,
                actor,
                command_id,
                command,
                reply,
            };
            if self.tx.send(Queued::Command(sub)).await.is_err() {
                self.metrics.engine_queue_depth.dec();
            }
            replies.push(rx);
        }
        let mut results = Vec::with_capacity(replies.len());
        for rx in replies {
            results.push(
                rx.await
                    .unwrap_or_else(|_| Err(SubmitError::engine_stopped())),
            );
        }
        results
    }

    /// Queues a command decided at `at_ms` and returns at once with its reply to wait for:
    /// commands queued one after another are decided and logged in that order and share
    /// group-commit transactions (a drill's run keeps thousands in flight).
    pub async fn enqueue(
        &self,
        at_ms: i64,
        actor: Actor,
        command_id: String,
        command: Command,
    ) -> Result<Reply, SubmitError> {
        let (reply, rx) = oneshot::channel();
        self.metrics.engine_queue_depth.inc();
        let sub = Queued::Command(Submission {
            at_ms: Some(at_ms),
            actor,
            command_id,
            command,
            reply,
        });
        if self.tx.send(sub).await.is_err() {
            self.metrics.engine_queue_depth.dec();
            return Err(SubmitError::engine_stopped());
        }
        Ok(rx)
    }

    /// Queues a clock tick at `at_ms` in order with the commands queued before and after it.
    pub async fn enqueue_tick(&self, at_ms: i64) -> Result<Reply, SubmitError> {
        let (reply, rx) = oneshot::channel();
        self.metrics.engine_queue_depth.inc();
        if self.tx.send(Queued::Tick { at_ms, reply }).await.is_err() {
            self.metrics.engine_queue_depth.dec();
            return Err(SubmitError::engine_stopped());
        }
        Ok(rx)
    }

    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Runs a clock tick now (besides the one every 10 s) and waits until its events, if any,
    /// are committed; answers the last seq. For tests and drills that move the clock.
    pub async fn tick(&self) -> Option<u64> {
        self.tick_at(None).await
    }

    /// [`tick`](Self::tick) at `at_ms` instead of the clock's time (a drill's tick at its
    /// scheduled time).
    pub async fn tick_at(&self, at_ms: Option<i64>) -> Option<u64> {
        let (reply, rx) = oneshot::channel();
        self.ticks.send((at_ms, reply)).await.ok()?;
        rx.await.ok()
    }

    /// Whether the log can be written right now.
    /// Reads what other nodes logged (when they write the same log) and returns the engine's
    /// seq after that: a client resuming from a seq this node has not reached yet.
    pub async fn caught_up(&self) -> Option<u64> {
        let (reply, wait) = oneshot::channel();
        self.follows.send(reply).await.ok()?;
        wait.await.ok()
    }

    pub fn log_health(&self) -> LogHealth {
        *self.health.borrow()
    }

    /// Follows the log's health (for tests and operators' tooling).
    pub fn watch_log_health(&self) -> watch::Receiver<LogHealth> {
        self.health.clone()
    }

    /// Stops the engine: commands already queued are committed, a snapshot is written, and later
    /// submissions get `unavailable`. Returns the last sequence number, once all that is done.
    pub async fn stop(&self) -> Option<u64> {
        let (done, wait) = oneshot::channel();
        self.stop.send(done).await.ok()?;
        wait.await.ok()
    }
}

/// State rebuilt from the store: the newest snapshot plus every event after it.
pub struct Recovered {
    pub state: State,
    pub seq: u64,
    /// Events replayed after the snapshot (all of them without a usable one): the engine writes
    /// a snapshot at its stop if there were any, replacing an unreadable one.
    pub replayed: u64,
    /// The time of the last event logged (`i64::MIN` for an empty log): no later event is logged
    /// earlier, across restarts too.
    pub last_time_ms: i64,
}

/// Rebuilds the state from the newest snapshot and the log after it. A snapshot that cannot be
/// read or decoded is logged and skipped: the log alone is complete, so recovery replays it
/// from the start instead of refusing to start. An event that cannot be decoded, or a gap, is
/// an error: without it the state would be wrong.
pub async fn recover(store: &dyn Store) -> Result<Recovered, StoreError> {
    let (mut state, start) = usable_snapshot(store).await?.unwrap_or_default();
    let mut seq = start;
    let mut last_time_ms = i64::MIN;
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
            state.apply(&codec::decode_event(e)?.event);
            seq = e.seq;
            last_time_ms = e.time_ms;
        }
    }
    if seq > 0 && last_time_ms == i64::MIN {
        // Everything was in the snapshot: read the time of its last event.
        if let Some(e) = store.events_after(seq - 1, 1).await?.first() {
            last_time_ms = e.time_ms;
        }
    }
    Ok(Recovered {
        state,
        seq,
        replayed: seq - start,
        last_time_ms,
    })
}

/// How far into the log [`fold_until`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Every event.
    End,
    /// The events up to this seq.
    Seq(u64),
    /// The events up to the first one logged after this time (ms since the epoch): the prefix
    /// of the log whose times are not later than it.
    Time(i64),
}

/// A state folded from a prefix of the log, with the seq and time of its last event.
#[derive(Debug, Clone)]
pub struct Folded {
    pub state: State,
    pub seq: u64,
    /// The time of the last folded event; `None` when no event was folded.
    pub last_time_ms: Option<i64>,
}

/// Folds the log in `store` up to `until`, without an engine (`crest sitrep`). Reads from the
/// first event (a snapshot may lie beyond the point asked for), a page at a time.
pub async fn fold_until(store: &dyn Store, until: Until) -> Result<Folded, StoreError> {
    let mut folded = Folded {
        state: State::default(),
        seq: 0,
        last_time_ms: None,
    };
    loop {
        let page = store.events_after(folded.seq, REPLAY_PAGE).await?;
        if page.is_empty() {
            return Ok(folded);
        }
        for e in &page {
            let past = match until {
                Until::End => false,
                Until::Seq(seq) => e.seq > seq,
                Until::Time(t) => e.time_ms > t,
            };
            if past {
                return Ok(folded);
            }
            if e.seq != folded.seq + 1 {
                return Err(StoreError::Corrupt(format!(
                    "event log gap: {} follows {}",
                    e.seq, folded.seq
                )));
            }
            folded.state.apply(&codec::decode_event(e)?.event);
            folded.seq = e.seq;
            folded.last_time_ms = Some(e.time_ms);
        }
    }
}

/// The newest snapshot's state and seq, or `None` when there is none or it cannot be used.
/// Only a failing database is an error; an unreadable snapshot is logged and skipped.
async fn usable_snapshot(store: &dyn Store) -> Result<Option<(State, u64)>, StoreError> {
    let snapshot = match store.latest_snapshot().await {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(None),
        Err(StoreError::Corrupt(cause)) => {
            tracing::warn!(%cause, "the newest snapshot cannot be read; replaying the whole log instead");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    match codec::decode_snapshot(&snapshot) {
        Ok(state) => Ok(Some((state, snapshot.seq))),
        Err(cause) => {
            tracing::warn!(seq = snapshot.seq, %cause, "the snapshot cannot be decoded; replaying the whole log instead");
            Ok(None)
        }
    }
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
    /// The clock commands are decided at and ticks read.
    pub clock: Clock,
    /// How often the engine looks at what time alone changes (patrol intervals running out,
    /// shifts ending, silent teams, unaccepted assignments): an alert is raised at most this
    /// late. `None`: only when asked ([`EngineHandle::tick`]), for tests that count events.
    pub tick_every: Option<Duration>,
}

/// The default of [`EngineConfig::tick_every`].
pub const TICK_EVERY: Duration = Duration::from_secs(10);

/// The command-id prefix of the records of clock ticks; clients may not use it.
pub const CLOCK_ID_PREFIX: &str = "clock:";

/// The log cannot be written: since when, why, and what is still to do before it is trusted.
struct Unwritable {
    fault: Fault,
    since: Instant,
    since_ms: i64,
    /// The engine's state may differ from the log: reload before deciding anything.
    needs_reload: bool,
    /// Commands answered `unavailable` meanwhile, for the log line when it ends.
    refused: u64,
    /// The log holds fewer events than were published: never resume by itself.
    data_lost: bool,
    /// How much the probe writes before the engine trusts the log again: twice the write that
    /// failed plus headroom.
    probe_bytes: usize,
}

struct Engine {
    store: Arc<dyn Store>,
    live: Arc<Live>,
    metrics: Arc<Metrics>,
    state: State,
    levees: LeveeIndex,
    seq: u64,
    snapshot_every: u64,
    since_snapshot: u64,
    unwritable: Option<Unwritable>,
    health: watch::Sender<LogHealth>,
    clock: Clock,
    tick_every: Option<Duration>,
    /// A tick is due: the next batch (even an empty one) runs it.
    tick_due: bool,
    /// The time a requested tick runs at (`None`: the clock's).
    tick_at: Option<i64>,
    last_tick: Instant,
    /// The time of the last event logged: no later event is logged earlier.
    last_time_ms: i64,
}

/// A command of the current batch waiting for the commit.
struct Pending {
    reply: oneshot::Sender<Result<Outcome, SubmitError>>,
    /// Index into the batch's records; resends within the batch share the record.
    record: usize,
    duplicate: bool,
    /// The command's wire name, for the metrics.
    command: &'static str,
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
    let (ticks, ticks_rx) = mpsc::channel(16);
    let (follows, follows_rx) = mpsc::channel(64);
    let (health, health_rx) = watch::channel(LogHealth::Writable);
    let levees = levee_index(&recovered.state);
    let engine = Engine {
        store,
        live,
        metrics: metrics.clone(),
        state: recovered.state,
        levees,
        seq: recovered.seq,
        snapshot_every: config.snapshot_every,
        since_snapshot: recovered.replayed,
        unwritable: None,
        health,
        clock: config.clock,
        tick_every: config.tick_every,
        tick_due: false,
        tick_at: None,
        last_tick: Instant::now(),
        last_time_ms: recovered.last_time_ms,
    };
    metrics.last_seq.set(engine.seq);
    tokio::spawn(engine.run(rx, stop_rx, ticks_rx, follows_rx));
    EngineHandle {
        tx,
        stop,
        ticks,
        follows,
        health: health_rx,
        metrics,
    }
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
        mut rx: mpsc::Receiver<Queued>,
        mut stop: mpsc::Receiver<oneshot::Sender<u64>>,
        mut tick_requests: mpsc::Receiver<(Option<i64>, oneshot::Sender<u64>)>,
        mut follow_requests: mpsc::Receiver<oneshot::Sender<u64>>,
    ) {
        // Other nodes writing the same log: follow it.
        let mut heard = self.store.appends_elsewhere();
        // The log has other writers: follow it (also by timer, should the listener ever end).
        let shared = heard.is_some();
        let mut seen = heard.as_ref().map(|h| *h.borrow()).unwrap_or_default();
        let mut follow_every = tokio::time::interval(FOLLOW_EVERY);
        follow_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut retry = tokio::time::interval(RETRY_EVERY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks = tokio::time::interval(self.tick_every.unwrap_or(Duration::from_secs(3600)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let done = loop {
            tokio::select! {
                biased;
                // First, so a steady stream of commands cannot starve the retry while unwritable.
                _ = retry.tick(), if self.unwritable.is_some() => {
                    self.try_resume().await;
                    // The next try a whole period after this one ended: a try that takes longer
                    // than the period (a database that does not answer) must not starve the
                    // commands, which are answered `unavailable` in between.
                    retry.reset();
                    continue;
                }
                n = rx.recv_many(&mut batch, MAX_BATCH) => {
                    if n == 0 {
                        break None;
                    }
                }
                changed = async { heard.as_mut().expect("checked").changed().await }, if heard.is_some() => {
                    match changed {
                        Err(_) => heard = None,
                        Ok(()) => {
                            let now = *heard.as_mut().expect("checked").borrow_and_update();
                            if now.seq > self.seq || now.reconnects != seen.reconnects {
                                let _ = self.follow().await;
                            }
                            seen = now;
                        }
                    }
                    continue;
                }
                _ = follow_every.tick(), if shared && self.unwritable.is_none() => {
                    let _ = self.follow().await;
                    continue;
                }
                Some(reply) = follow_requests.recv() => {
                    if shared {
                        let _ = self.follow().await;
                    }
                    // Every client waiting to resume gets the one read.
                    while let Ok(other) = follow_requests.try_recv() {
                        let _ = other.send(self.seq);
                    }
                    let _ = reply.send(self.seq);
                    continue;
                }
                _ = ticks.tick(), if self.tick_every.is_some() => self.tick_due = true,
                Some((at_ms, reply)) = tick_requests.recv() => {
                    self.tick_due = true;
                    self.tick_at = at_ms;
                    self.run_batch(&mut batch).await;
                    let _ = reply.send(self.seq);
                    continue;
                }
                done = stop.recv() => {
                    // Refuse new work, then commit what was already queued.
                    rx.close();
                    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                        self.run_batch(&mut batch).await;
                    }
                    break done;
                }
            }
            self.run_batch(&mut batch).await;
        };
        if self.unwritable.is_none() {
            self.snapshot().await;
        }
        tracing::info!(seq = self.seq, "engine stopped");
        if let Some(done) = done {
            let _ = done.send(self.seq);
        }
    }

    async fn run_batch(&mut self, batch: &mut Vec<Queued>) {
        // A steady stream of commands keeps the select on the command channel (it is polled
        // before the tick timer): a tick that is due rides along with the batch instead.
        if let Some(every) = self.tick_every
            && self.last_tick.elapsed() >= every
        {
            self.tick_due = true;
        }
        if self.tick_due {
            self.last_tick = Instant::now();
        }
        if batch.is_empty() && !self.tick_due {
            return;
        }
        self.metrics.engine_queue_depth.dec_by(batch.len() as u64);
        let batch = std::mem::take(batch);
        if let Some(u) = &mut self.unwritable {
            u.refused += batch.len() as u64;
            let error = SubmitError::unwritable(u.fault);
            self.metrics.commands_unavailable.inc_by(batch.len() as u64);
            for sub in batch {
                let _ = sub.reply().send(Err(error.clone()));
            }
            return;
        }
        let span = tracing::info_span!("batch", commands = batch.len(), after_seq = self.seq);
        self.process(batch).instrument(span).await;
    }

    async fn process(&mut self, batch: Vec<Queued>) {
        // The log's write lock, and what other nodes logged since our last event (nothing with
        // a store this process alone writes): folded in first, so the batch is decided against
        // the whole log and numbered after it.
        let store = self.store.clone();
        let asked = Instant::now();
        let begun = bounded(store.begin_append(self.seq)).await;
        self.metrics
            .lock_wait
            .observe(asked.elapsed().as_secs_f64());
        let begun = match begun {
            Ok(begun) => begun,
            Err(e) => {
                // A log that no longer holds this node's last event (a failover that lost
                // commits, a restore under running nodes): never decide on it (see `reload`).
                let behind = matches!(e, StoreError::LogBehind { .. });
                if behind {
                    tracing::error!(error = %e, "the log lost events this node already published; refusing every command until an operator restarts Crest");
                }
                let fault = self.become_unwritable(&e, behind, 0);
                self.refuse(batch.into_iter().map(Queued::reply), fault);
                return;
            }
        };
        let mut append = begun.append;
        if let Err(e) = self.absorb(&begun.newer) {
            // An event that cannot be read, or a gap: decide nothing on a state that lacks it.
            let _ = bounded(append.rollback()).await;
            let fault = self.become_unwritable(&e, true, 0);
            self.refuse(batch.into_iter().map(Queued::reply), fault);
            return;
        }
        // Idempotency records live in the store only: one lookup for the whole batch, under the
        // lock, so a resend to another node is seen there whatever the timing.
        let known = if batch.is_empty() {
            Ok(Vec::new()) // a tick alone
        } else {
            let ids: Vec<&str> = batch
                .iter()
                .filter_map(|q| match q {
                    Queued::Command(s) => Some(s.command_id.as_str()),
                    Queued::Tick { .. } => None,
                })
                .collect();
            bounded(append.command_outcomes(&ids)).await
        };
        let known: HashMap<String, CommandOutcome> = match known {
            Ok(list) => list
                .into_iter()
                .map(|o| (o.command_id.clone(), o))
                .collect(),
            Err(e) => {
                // Without the records a resend could be applied twice: refuse the batch.
                drop(append);
                let fault = self.become_unwritable(&e, false, 0);
                self.refuse(batch.into_iter().map(Queued::reply), fault);
                return;
            }
        };
        let mut records: Vec<CommandRecord> = Vec::new();
        let mut committed: Vec<Committed> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut in_batch: HashMap<String, usize> = HashMap::new();
        let clock_now = self.clock.now_ms();
        let mut tick_replies = Vec::new();
        for queued in batch {
            let sub = match queued {
                Queued::Command(sub) => sub,
                Queued::Tick { at_ms, reply } => {
                    // In its place among the commands.
                    let now = at_ms.max(self.last_time_ms);
                    self.tick_into(now, &mut records, &mut committed);
                    tick_replies.push(reply);
                    continue;
                }
            };
            let now = sub.at_ms.unwrap_or(clock_now).max(self.last_time_ms);
            let hash = codec::request_hash(&sub.command);
            if let Some(o) = known.get(&sub.command_id) {
                let result = if codec::same_request(&o.request_hash, &hash, &sub.command) {
                    self.metrics.command_duplicate(sub.command.name());
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
                        command: sub.command.name(),
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
            let events = match self.state.handle(&sub.command, &ctx) {
                Ok(events) => events,
                Err(e) => {
                    self.metrics.command_rejected(sub.command.name(), &e);
                    let _ = sub.reply.send(Err(e.into()));
                    continue;
                }
            };
            let created_id = events
                .iter()
                .find_map(|e| e.created_id().map(str::to_string));
            // `handle` has applied them (and the alerts they cause) to the engine's state.
            let stored = self.number(
                events,
                &sub.command_id,
                &sub.actor.name,
                now,
                &mut committed,
            );
            in_batch.insert(sub.command_id.clone(), records.len());
            pending.push(Pending {
                reply: sub.reply,
                record: records.len(),
                duplicate: false,
                command: sub.command.name(),
            });
            records.push(CommandRecord {
                command_id: sub.command_id,
                request_hash: hash,
                created_id,
                events: stored,
            });
        }
        if std::mem::take(&mut self.tick_due) {
            let now = self
                .tick_at
                .take()
                .unwrap_or(clock_now)
                .max(self.last_time_ms);
            self.tick_into(now, &mut records, &mut committed);
        }
        let ticked = |replies: Vec<oneshot::Sender<Result<Outcome, SubmitError>>>| {
            for reply in replies {
                let _ = reply.send(Ok(Outcome {
                    seqs: Vec::new(),
                    created: None,
                    duplicate: false,
                }));
            }
        };
        if records.is_empty() {
            // Nothing to write (duplicates, refusals): free the lock. A failed rollback only
            // drops the connection.
            let _ = bounded(append.rollback()).await;
            ticked(tick_replies);
            return;
        }
        let started = Instant::now();
        // A commit without an answer in time is as uncertain as a failed one: reread the log.
        let written = bounded(append.commit(&records)).await;
        drop(append);
        if let Err(e) = written {
            self.metrics.commit_failures.inc();
            // The engine's state already holds the batch: it must not decide anything more
            // until it has read back what the log really holds.
            // Read back first, so that when a client hears `unavailable` the projection
            // already shows whatever of the batch did reach the disk.
            let bytes = records
                .iter()
                .flat_map(|r| &r.events)
                .map(|e| e.body.len() + e.command_id.len() + 64)
                .sum();
            let fault = self.become_unwritable(&e, true, bytes);
            self.reload().await;
            self.refuse(
                pending.into_iter().map(|p| p.reply).chain(tick_replies),
                fault,
            );
            return;
        }
        self.metrics
            .commit_latency
            .observe(started.elapsed().as_secs_f64());
        self.metrics.commit_batches.inc();
        for p in pending.iter().filter(|p| !p.duplicate) {
            self.metrics.command_accepted(p.command);
        }
        self.metrics.events_committed.inc_by(committed.len() as u64);
        self.metrics.last_seq.set(self.seq);
        self.live.publish(&committed);
        for p in pending {
            if p.duplicate {
                self.metrics.command_duplicate(p.command);
            }
            let r = &records[p.record];
            let outcome = Outcome {
                seqs: r.events.iter().map(|e| e.seq).collect(),
                created: r.created_id.clone(),
                duplicate: p.duplicate,
            };
            let _ = p.reply.send(Ok(outcome));
        }
        ticked(tick_replies);
        self.since_snapshot += committed.len() as u64;
        if self.snapshot_every > 0 && self.since_snapshot >= self.snapshot_every {
            self.snapshot().await;
        }
    }

    /// Runs a clock tick at `now`; what it changes becomes one record of the batch (ids
    /// `clock:<seq>`), nothing when it changes nothing.
    fn tick_into(
        &mut self,
        now: i64,
        records: &mut Vec<CommandRecord>,
        committed: &mut Vec<Committed>,
    ) {
        let events = self.state.tick(now);
        if !events.is_empty() {
            let command_id = format!("{CLOCK_ID_PREFIX}{}", self.seq + 1);
            let stored = self.number(events, &command_id, "clock", now, committed);
            records.push(CommandRecord {
                command_id,
                request_hash: String::new(),
                created_id: None,
                events: stored,
            });
        }
    }

    /// Gives applied events their seqs: the rows for the log, and the committed events to
    /// publish once they are durable.
    fn number(
        &mut self,
        events: Vec<Event>,
        command_id: &str,
        actor: &str,
        now: i64,
        committed: &mut Vec<Committed>,
    ) -> Vec<StoredEvent> {
        let mut stored = Vec::with_capacity(events.len());
        self.last_time_ms = self.last_time_ms.max(now);
        for event in events {
            self.seq += 1;
            if let Event::LeveeDefined { levee } = &event {
                self.levees.insert(levee.clone());
            }
            let json = codec::encode_event(&event);
            stored.push(StoredEvent {
                seq: self.seq,
                time_ms: now,
                command_id: command_id.to_string(),
                actor: actor.to_string(),
                format: codec::EVENT_FORMAT,
                body: json.clone(),
            });
            committed.push(Committed {
                seq: self.seq,
                time_ms: now,
                event,
                json,
            });
        }
        stored
    }

    /// Folds in events other nodes committed (read from the log, in order, after `self.seq`)
    /// and publishes them: the engine's state, the levee index and the projection follow the
    /// log whoever wrote it.
    fn absorb(&mut self, events: &[StoredEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut committed = Vec::with_capacity(events.len());
        let mut seq = self.seq;
        for e in events {
            if e.seq != seq + 1 {
                return Err(StoreError::Corrupt(format!(
                    "event log gap: {} follows {}",
                    e.seq, seq
                )));
            }
            let decoded = codec::decode_event(e)?;
            seq = e.seq;
            committed.push(Committed {
                seq: e.seq,
                time_ms: e.time_ms,
                event: decoded.event,
                json: decoded.json.into_owned(),
            });
        }
        for c in &committed {
            self.state.apply(&c.event);
            if let Event::LeveeDefined { levee } = &c.event {
                self.levees.insert(levee.clone());
            }
            self.last_time_ms = self.last_time_ms.max(c.time_ms);
        }
        self.seq = seq;
        self.since_snapshot += committed.len() as u64;
        self.metrics.events_followed.inc_by(committed.len() as u64);
        self.metrics.last_seq.set(self.seq);
        self.live.publish(&committed);
        Ok(())
    }

    /// Reads and folds in whatever other nodes logged after `self.seq`, a page at a time. A
    /// failure to read makes the log unwritable for this node (`/readyz` 503, reads marked
    /// stale) until a write succeeds again.
    /// Returns whether it read up to the end of the log.
    async fn follow(&mut self) -> bool {
        if self.unwritable.as_ref().is_some_and(|u| u.needs_reload) {
            return false; // the reload reads the log anyway
        }
        loop {
            let page = match bounded(self.store.events_after(self.seq, REPLAY_PAGE)).await {
                Ok(page) => page,
                Err(e) => {
                    self.become_unwritable(&e, false, 0);
                    return false;
                }
            };
            if page.is_empty() && self.seq > 0 {
                // Nothing new: does the log still hold what this node has?
                match bounded(self.store.last_seq()).await {
                    Ok(last) if last < self.seq => {
                        let e = StoreError::LogBehind {
                            log: last,
                            node: self.seq,
                        };
                        tracing::error!(error = %e, "the log lost events this node already published; refusing every command until an operator restarts Crest");
                        self.become_unwritable(&e, true, 0);
                        return false;
                    }
                    Ok(_) => return true,
                    Err(e) => {
                        self.become_unwritable(&e, false, 0);
                        return false;
                    }
                }
            }
            let full = page.len() == REPLAY_PAGE as usize;
            if let Err(e) = self.absorb(&page) {
                self.become_unwritable(&e, true, 0);
                return false;
            }
            if !full {
                return true;
            }
        }
    }

    fn refuse(
        &self,
        replies: impl Iterator<Item = oneshot::Sender<Result<Outcome, SubmitError>>>,
        fault: Fault,
    ) {
        let error = SubmitError::unwritable(fault);
        for reply in replies {
            self.metrics.commands_unavailable.inc();
            let _ = reply.send(Err(error.clone()));
        }
    }

    /// Enters (or stays in) the unwritable mode after `e`. Logs only a new condition.
    fn become_unwritable(&mut self, e: &StoreError, needs_reload: bool, bytes: usize) -> Fault {
        let fault = e.fault();
        let probe_bytes = bytes
            .saturating_mul(2)
            .saturating_add(PROBE_HEADROOM)
            .min(PROBE_MAX);
        match &mut self.unwritable {
            Some(u) => {
                u.needs_reload |= needs_reload;
                u.probe_bytes = u.probe_bytes.max(probe_bytes);
                if u.fault != fault {
                    tracing::error!(fault = %fault, error = %e, "the event log still cannot be written, now for another reason");
                    u.fault = fault;
                }
            }
            None => {
                tracing::error!(fault = %fault, error = %e, seq = self.seq, "the event log cannot be written; commands are refused (unavailable) until a write succeeds");
                self.unwritable = Some(Unwritable {
                    fault,
                    since: Instant::now(),
                    since_ms: crate::clock::now_ms(),
                    needs_reload,
                    refused: 0,
                    data_lost: false,
                    probe_bytes,
                });
            }
        }
        let since_ms = self.unwritable.as_ref().map_or(0, |u| u.since_ms);
        self.metrics.log_unwritable.set(1);
        // Clients hear of a change, not of every failed retry.
        let now = LogHealth::Unwritable { fault, since_ms };
        self.health.send_if_modified(|h| {
            let changed = *h != now;
            *h = now;
            changed
        });
        fault
    }

    /// Rebuilds the engine's state from what the log really holds, and publishes any events
    /// the log holds beyond the projection (a COMMIT that reported failure may still have
    /// reached the disk). Leaves `needs_reload` set if the log cannot be read.
    async fn reload(&mut self) {
        let recovered = match recover(self.store.as_ref()).await {
            Ok(r) => r,
            Err(e @ StoreError::Corrupt(_)) => {
                tracing::warn!(error = %e, "cannot reload from the log: it cannot be read as a whole");
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot reload from the log yet");
                return;
            }
        };
        let published = self.live.read().seq;
        if recovered.seq > published
            && let Err(e) = self.publish_from_log(published, recovered.seq).await
        {
            tracing::debug!(error = %e, "cannot read the log's tail yet");
            return;
        }
        if recovered.seq < published {
            // Going on would give new events seqs that clients already saw. Stay unwritable:
            // this needs a person (restore from a backup, or restart knowingly).
            if self.unwritable.as_ref().is_some_and(|u| !u.data_lost) {
                tracing::error!(
                    log = recovered.seq,
                    published,
                    "the log holds fewer events than were acknowledged: the disk lost committed data; refusing every command until an operator restarts Crest"
                );
            }
            if let Some(u) = &mut self.unwritable {
                u.data_lost = true;
            }
            return;
        }
        self.levees = levee_index(&recovered.state);
        self.state = recovered.state;
        self.seq = recovered.seq;
        self.metrics.last_seq.set(self.seq);
        if let Some(u) = &mut self.unwritable {
            u.needs_reload = false;
        }
    }

    async fn publish_from_log(&self, mut after: u64, to: u64) -> Result<(), StoreError> {
        while after < to {
            let page = self.store.events_after(after, REPLAY_PAGE).await?;
            let mut committed = Vec::with_capacity(page.len());
            for e in page.iter().take_while(|e| e.seq <= to) {
                let decoded = codec::decode_event(e)?;
                committed.push(Committed {
                    seq: e.seq,
                    time_ms: e.time_ms,
                    event: decoded.event,
                    json: decoded.json.into_owned(),
                });
            }
            let Some(last) = committed.last() else { break };
            after = last.seq;
            tracing::warn!(
                through = after,
                "a commit reported as failed had reached the log; its events are published now"
            );
            self.live.publish(&committed);
        }
        Ok(())
    }

    /// While unwritable: reload if needed, then try a small durable write.
    async fn try_resume(&mut self) {
        let Some(u) = &self.unwritable else { return };
        let probe_bytes = u.probe_bytes;
        if u.needs_reload {
            self.reload().await;
            if self.unwritable.as_ref().is_some_and(|u| u.needs_reload) {
                return;
            }
        }
        match bounded(self.store.probe_write(probe_bytes)).await {
            Ok(()) => {
                // Read what other nodes logged meanwhile before saying this node is current
                // (and before the next batch would read it all under the log's lock).
                if self.store.appends_elsewhere().is_some() && !self.follow().await {
                    return;
                }
                let u = self.unwritable.take().expect("checked above");
                tracing::info!(
                    after_s = u.since.elapsed().as_secs(),
                    refused = u.refused,
                    seq = self.seq,
                    "the event log can be written again; accepting commands"
                );
                self.metrics.log_unwritable.set(0);
                self.health.send_replace(LogHealth::Writable);
            }
            Err(e) => {
                tracing::debug!(error = %e, "the event log still cannot be written");
                self.become_unwritable(&e, false, 0);
            }
        }
    }

    /// Saves the state as a snapshot. Failure is logged, not fatal: the log is still complete.
    async fn snapshot(&mut self) {
        if self.since_snapshot == 0 {
            return;
        }
        let snapshot = codec::encode_snapshot(self.seq, &self.state);
        match self.store.save_snapshot(snapshot).await {
            Ok(()) => {
                self.since_snapshot = 0;
                tracing::info!(seq = self.seq, "snapshot saved");
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
    use crate::store::SqliteStore;
    use crate::store::faulty::{FaultyStore, Injected};

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

    struct Rig {
        _dir: tempfile::TempDir,
        store: Arc<FaultyStore<SqliteStore>>,
        live: Arc<Live>,
        engine: EngineHandle,
        metrics: Arc<Metrics>,
    }

    async fn rig() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FaultyStore::new(
            SqliteStore::open(&dir.path().join("e.db")).await.unwrap(),
        ));
        let recovered = recover(store.as_ref()).await.unwrap();
        let live = Live::new(recovered.state.clone(), recovered.seq, 64);
        let metrics = Arc::new(Metrics::default());
        let engine = spawn(
            store.clone(),
            live.clone(),
            metrics.clone(),
            recovered,
            EngineConfig {
                snapshot_every: 0,
                clock: Default::default(),
                tick_every: None,
            },
        );
        Rig {
            _dir: dir,
            store,
            live,
            engine,
            metrics,
        }
    }

    /// Waits (with a guard against hangs, not a timing assertion) until the log's health is `want`.
    async fn health_becomes(engine: &EngineHandle, want: impl Fn(LogHealth) -> bool) {
        let mut rx = engine.watch_log_health();
        tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|h| want(*h)))
            .await
            .expect("health changes before the hang guard")
            .unwrap();
    }

    fn unwritable(h: LogHealth) -> bool {
        matches!(h, LogHealth::Unwritable { .. })
    }

    #[tokio::test]
    async fn a_failed_commit_acknowledges_nothing_until_writes_work_again() {
        let r = rig().await;
        let actor = Actor::system();
        r.engine
            .submit(actor.clone(), "reg".into(), register("T-1"))
            .await
            .unwrap();

        r.store.inject(Injected::FailWrites(Fault::DiskFull));
        let (a, b) = tokio::join!(
            r.engine
                .submit(actor.clone(), "m1".into(), move_to("T-1", 113.2)),
            r.engine
                .submit(actor.clone(), "reg2".into(), register("T-2")),
        );
        assert!(matches!(a, Err(SubmitError::Unavailable(_))), "{a:?}");
        assert!(matches!(b, Err(SubmitError::Unavailable(_))), "{b:?}");
        assert!(matches!(
            r.engine.log_health(),
            LogHealth::Unwritable {
                fault: Fault::DiskFull,
                ..
            }
        ));
        assert_eq!(r.metrics.log_unwritable.get(), 1);
        assert_eq!(r.live.read().seq, 1, "nothing was published");
        assert!(!r.live.read().state.teams.contains_key("T-2"));
        // While unwritable, commands are refused without being decided: even a valid one.
        let c = r
            .engine
            .submit(actor.clone(), "reg3".into(), register("T-3"))
            .await;
        assert!(
            matches!(&c, Err(SubmitError::Unavailable(m)) if m.en.contains("disk_full") && m.zh.contains("disk_full")),
            "{c:?}"
        );

        // The disk is back: the engine notices by itself, with no command needed.
        r.store.inject(Injected::Nothing);
        health_becomes(&r.engine, |h| h == LogHealth::Writable).await;
        assert_eq!(r.metrics.log_unwritable.get(), 0);
        // The same ids are applied once, as new commands, with no gap.
        let a = r
            .engine
            .submit(actor.clone(), "m1".into(), move_to("T-1", 113.2))
            .await
            .unwrap();
        assert_eq!((a.seqs.clone(), a.duplicate), (vec![2], false));
        let b = r
            .engine
            .submit(actor.clone(), "reg2".into(), register("T-2"))
            .await
            .unwrap();
        assert_eq!(b.seqs, vec![3]);
        // The engine's own state was reloaded, not left with the failed batch: registering T-2
        // again is a duplicate of the committed command, not "already exists" from a ghost.
        let again = r
            .engine
            .submit(actor, "reg2".into(), register("T-2"))
            .await
            .unwrap();
        assert!(again.duplicate);
        assert_eq!(
            r.live.read().state.teams["T-1"].fix.unwrap().position.lon(),
            113.2
        );
        let recovered = recover(r.store.as_ref()).await.unwrap();
        assert_eq!(recovered.seq, 3);
        assert_eq!(recovered.state, r.live.read().state);
    }

    #[tokio::test]
    async fn a_commit_reported_failed_that_reached_the_disk_is_published_and_kept() {
        let r = rig().await;
        let actor = Actor::system();
        r.store.inject(Injected::FailAfterAppend(Fault::Io));
        let lost = r
            .engine
            .submit(actor.clone(), "reg".into(), register("T-1"))
            .await;
        assert!(matches!(lost, Err(SubmitError::Unavailable(_))), "{lost:?}");
        // The engine read the log back: the event is there, so readers see it too.
        assert_eq!(r.live.read().seq, 1);
        assert!(r.live.read().state.teams.contains_key("T-1"));

        r.store.inject(Injected::Nothing);
        health_becomes(&r.engine, |h| h == LogHealth::Writable).await;
        // The resend is answered from the log, never applied twice.
        let resent = r
            .engine
            .submit(actor.clone(), "reg".into(), register("T-1"))
            .await
            .unwrap();
        assert_eq!((resent.seqs, resent.duplicate), (vec![1], true));
        let next = r
            .engine
            .submit(actor, "reg2".into(), register("T-2"))
            .await
            .unwrap();
        assert_eq!(next.seqs, vec![2]);
        assert_eq!(
            recover(r.store.as_ref()).await.unwrap().state,
            r.live.read().state
        );
    }

    #[tokio::test]
    async fn a_store_that_cannot_even_be_read_refuses_everything_then_recovers() {
        let r = rig().await;
        let actor = Actor::system();
        r.engine
            .submit(actor.clone(), "reg".into(), register("T-1"))
            .await
            .unwrap();
        r.store.inject(Injected::FailEverything(Fault::Io));
        let refused = r
            .engine
            .submit(actor.clone(), "m1".into(), move_to("T-1", 113.3))
            .await;
        assert!(matches!(refused, Err(SubmitError::Unavailable(_))));
        assert!(unwritable(r.engine.log_health()));
        // The fault changes kind: the health follows.
        r.store.inject(Injected::FailWrites(Fault::Locked));
        health_becomes(&r.engine, |h| {
            matches!(
                h,
                LogHealth::Unwritable {
                    fault: Fault::Locked,
                    ..
                }
            )
        })
        .await;
        r.store.inject(Injected::Nothing);
        health_becomes(&r.engine, |h| h == LogHealth::Writable).await;
        let ok = r
            .engine
            .submit(actor, "m1".into(), move_to("T-1", 113.3))
            .await
            .unwrap();
        assert_eq!(ok.seqs, vec![2]);
    }

    /// The log lost events the engine already published (a failover to a standby that lacked
    /// them, a restore under a running node): it must never number new events over them.
    #[tokio::test]
    async fn a_log_that_lost_published_events_is_never_written_again() {
        let r = rig().await;
        let actor = Actor::system();
        r.engine
            .submit(actor.clone(), "reg".into(), register("T-1"))
            .await
            .unwrap();
        let moved = r
            .engine
            .submit(actor.clone(), "m1".into(), move_to("T-1", 113.3))
            .await
            .unwrap();
        assert_eq!(moved.seqs, vec![2]);
        raw_sql(&r, "DELETE FROM events WHERE seq = 2").await;
        raw_sql(&r, "DELETE FROM commands WHERE command_id = 'm1'").await;
        let refused = r
            .engine
            .submit(actor.clone(), "m2".into(), move_to("T-1", 113.4))
            .await;
        assert!(
            matches!(refused, Err(SubmitError::Unavailable(_))),
            "{refused:?}"
        );
        // It stays so, whatever retries run meanwhile: the log is shorter than what was published.
        for _ in 0..3 {
            let again = r
                .engine
                .submit(actor.clone(), "m2".into(), move_to("T-1", 113.4))
                .await;
            assert!(
                matches!(again, Err(SubmitError::Unavailable(_))),
                "{again:?}"
            );
            tokio::time::sleep(RETRY_EVERY).await;
        }
        assert_eq!(
            r.store.last_seq().await.unwrap(),
            1,
            "nothing written over seq 2"
        );
    }

    fn report(description: &str) -> Command {
        serde_json::from_value(serde_json::json!({
            "type": "report_hazard", "kind": "piping", "severity": "major",
            "position": [113.1, 27.6], "description": description
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn no_id_is_given_to_two_entities_across_a_failed_commit_and_a_restart() {
        let r = rig().await;
        let actor = Actor::system();
        let first = r
            .engine
            .submit(actor.clone(), "h1".into(), report("first"))
            .await
            .unwrap();
        assert_eq!(first.created.as_deref(), Some("HZ-1"));
        // The engine decided HZ-2 for this one, then the commit failed.
        r.store.inject(Injected::FailWrites(Fault::Io));
        let lost = r
            .engine
            .submit(actor.clone(), "h2".into(), report("lost"))
            .await;
        assert!(matches!(lost, Err(SubmitError::Unavailable(_))));
        r.store.inject(Injected::Nothing);
        health_becomes(&r.engine, |h| h == LogHealth::Writable).await;
        let next = r
            .engine
            .submit(actor.clone(), "h3".into(), report("next"))
            .await
            .unwrap();
        assert_eq!(
            next.created.as_deref(),
            Some("HZ-2"),
            "the lost HZ-2 was never acknowledged"
        );
        let resent = r
            .engine
            .submit(actor, "h2".into(), report("lost"))
            .await
            .unwrap();
        assert_eq!(resent.created.as_deref(), Some("HZ-3"));
        // After a restart (a fresh recovery from the log) each id names the hazard it was
        // acknowledged for.
        let recovered = recover(r.store.as_ref()).await.unwrap();
        let described: Vec<(&str, &str)> = recovered
            .state
            .hazards
            .values()
            .map(|h| (h.id.as_str(), h.description.as_str()))
            .collect();
        assert_eq!(
            described,
            vec![("HZ-1", "first"), ("HZ-2", "next"), ("HZ-3", "lost")]
        );
    }

    #[tokio::test]
    async fn stopping_while_unwritable_refuses_and_ends() {
        let r = rig().await;
        r.store.inject(Injected::FailWrites(Fault::DiskFull));
        let refused = r
            .engine
            .submit(Actor::system(), "reg".into(), register("T-1"))
            .await;
        assert!(matches!(refused, Err(SubmitError::Unavailable(_))));
        assert_eq!(r.engine.stop().await, Some(0));
        assert!(!r.engine.is_running());
    }

    /// Writes to the rig's database file behind the store's back, as a damaged disk or another
    /// tool would.
    async fn raw_sql(r: &Rig, sql: &str) {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(r._dir.path().join("e.db"))
            .connect()
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_snapshot_that_cannot_be_decoded_is_skipped_and_the_whole_log_replayed() {
        let r = rig().await;
        let actor = Actor::system();
        for (id, cmd) in [
            ("reg", register("T-1")),
            ("m1", move_to("T-1", 113.2)),
            ("h1", report("one")),
        ] {
            r.engine
                .submit(actor.clone(), id.into(), cmd)
                .await
                .unwrap();
        }
        let want = r.live.read().state.clone();
        let good = codec::encode_snapshot(3, &want);
        for (what, row) in [
            ("not JSON", "(3, 0, 1, 'garbage')".to_string()),
            ("not UTF-8", "(3, 0, 1, x'ff00ff')".to_string()),
            ("not a state", "(3, 0, 1, '{\"teams\": 5}')".to_string()),
            (
                "a format that is not a number",
                "(3, 0, 'v1', '{}')".to_string(),
            ),
            (
                "a newer format",
                format!("(3, 0, 99, '{}')", good.state.replace('\'', "''")),
            ),
        ] {
            raw_sql(&r, "DELETE FROM snapshots").await;
            raw_sql(
                &r,
                &format!("INSERT INTO snapshots (seq, created_ms, format, state) VALUES {row}"),
            )
            .await;
            let recovered = recover(r.store.as_ref())
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                (recovered.seq, recovered.replayed),
                (3, 3),
                "{what}: the whole log is replayed"
            );
            assert_eq!(recovered.state, want, "{what}");
        }
        // A good snapshot is used: nothing to replay.
        r.store.save_snapshot(good).await.unwrap();
        let recovered = recover(r.store.as_ref()).await.unwrap();
        assert_eq!((recovered.seq, recovered.replayed), (3, 0));
        assert_eq!(recovered.state, want);
    }

    #[tokio::test]
    async fn an_event_in_a_format_this_code_does_not_know_stops_recovery_naming_it() {
        let r = rig().await;
        r.engine
            .submit(Actor::system(), "reg".into(), register("T-1"))
            .await
            .unwrap();
        r.engine
            .submit(Actor::system(), "m1".into(), move_to("T-1", 113.2))
            .await
            .unwrap();
        raw_sql(&r, "UPDATE events SET format = 2 WHERE seq = 2").await;
        let err = recover(r.store.as_ref()).await.err().expect("refused");
        assert!(
            matches!(
                err,
                StoreError::UnknownFormat {
                    record: "event",
                    seq: 2,
                    format: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    /// A command recorded before the canonical request hash holds the legacy hash: after the
    /// upgrade its resend is still a duplicate, and different content is still a conflict.
    #[tokio::test]
    async fn a_resend_of_a_command_recorded_with_the_legacy_hash_is_a_duplicate() {
        let r = rig().await;
        let cmd = register("T-1");
        let legacy = codec::legacy_request_hash(&cmd);
        assert_ne!(legacy, codec::request_hash(&cmd));
        r.store
            .append(&[CommandRecord {
                command_id: "old".into(),
                request_hash: legacy,
                created_id: None,
                events: vec![StoredEvent {
                    seq: 1,
                    time_ms: 5,
                    command_id: "old".into(),
                    actor: "system".into(),
                    format: 1,
                    body: codec::encode_event(&Event::TeamDutyChanged {
                        team_id: "T-9".into(),
                        on_duty: true,
                    }),
                }],
            }])
            .await
            .unwrap();
        let again = r
            .engine
            .submit(Actor::system(), "old".into(), cmd)
            .await
            .unwrap();
        assert_eq!((again.seqs, again.duplicate), (vec![1], true));
        let other = r
            .engine
            .submit(Actor::system(), "old".into(), register("T-2"))
            .await;
        assert!(matches!(other, Err(SubmitError::Conflict(_))), "{other:?}");
    }
}
