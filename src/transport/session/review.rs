//! The after-action review on one connection: queries about a past moment (`query` with `at`),
//! and the playback of the log (`review`, `review_control`).
//!
//! Nothing here waits in the connection's loop for the log. A past query is a future in the
//! session's set of pending answers; a review's snapshot and events are read by a task of its
//! own, a page at a time, into a small bounded channel (so it reads ahead at most a page and the
//! channel), and the loop takes them out when the review's clock says they are due: the logged
//! time between events divided by the speed. Paused, nothing is taken. What is taken goes to the
//! connection's queue like everything else, at most [`MAX_BURST`] per loop turn, and is written by
//! the loop's one flush with its write deadline: a client that does not read is dropped as for
//! live events, and a review never holds more than a burst in the queue.
//!
//! A review is independent of the subscription: it needs none, and a subscription's live events
//! keep coming during it (as `event`; the review's are `review_event`).

use super::Session;
use crate::domain::events::Layer;
use crate::drill::Space;
use crate::history::History;
use crate::protocol::{
    self, At, ErrorCode, Query, ReviewAction, ReviewControl, ReviewEnd, ReviewPlay, ServerMessage,
    Speed, WireError,
};
use crate::read;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A past query's answer, when it is ready: its id and result.
pub(super) type PastAnswer =
    Pin<Box<dyn Future<Output = (String, Result<Value, WireError>)> + Send>>;

/// Items a review's reader holds ready ahead of its clock at most.
const READ_AHEAD: usize = 256;
/// Review messages queued per loop turn at most.
const MAX_BURST: usize = 256;
/// Events read from the log per page.
const PAGE: u32 = 500;
/// The longest single wait of the review's clock (a longer one is waited in turns).
const LONGEST_WAIT: Duration = Duration::from_secs(3600);

/// What a review's reader sends the session.
pub(super) enum Item {
    Snapshot {
        seq: u64,
        time_ms: i64,
        text: String,
    },
    Event {
        seq: u64,
        time_ms: i64,
        text: String,
    },
    End {
        seq: u64,
    },
    Failed(WireError),
}

/// The connection's review.
pub(super) struct Review {
    id: Arc<str>,
    layers: Arc<BTreeSet<Layer>>,
    to: Option<At>,
    /// Never beyond this seq: the last committed event when the review started.
    cap: u64,
    rx: mpsc::Receiver<Item>,
    reader: tokio::task::JoinHandle<()>,
    /// Taken from the reader, not yet due.
    pending: Option<Item>,
    playing: bool,
    speed: Speed,
    /// The review's clock showed `base_ms` at `base_at`.
    base_ms: i64,
    base_at: Instant,
    /// The seq and logged time of the last thing played (snapshot or event).
    seq: u64,
    played_ms: i64,
}

impl Drop for Review {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Review {
    /// The logged time the review's clock shows at `now`.
    fn position(&self, now: Instant) -> i64 {
        match (self.playing, self.speed) {
            (false, _) | (true, Speed::Max) => self.base_ms.max(self.played_ms),
            (true, Speed::Times(x)) => {
                let ran = now.duration_since(self.base_at).as_secs_f64() * 1000.0 * x;
                self.base_ms.saturating_add(ran as i64)
            }
        }
    }

    /// When an event logged at `time_ms` is due (`None`: now).
    fn due(&self, time_ms: i64) -> Option<Instant> {
        let Speed::Times(x) = self.speed else {
            return None;
        };
        let ahead = time_ms.saturating_sub(self.base_ms);
        if ahead <= 0 {
            return None;
        }
        let wait = Duration::from_secs_f64(ahead as f64 / 1000.0 / x);
        Some(
            self.base_at
                .checked_add(wait)
                .unwrap_or_else(|| self.base_at + LONGEST_WAIT),
        )
    }

    fn rebase(&mut self, now: Instant) {
        self.base_ms = self.position(now);
        self.base_at = now;
    }

    fn state_message(&self) -> String {
        ServerMessage::ReviewState {
            id: &self.id,
            state: if self.playing {
                ReviewPlay::Playing
            } else {
                ReviewPlay::Paused
            },
            speed: self.speed,
            seq: self.seq,
            time_ms: self.position(Instant::now()),
        }
        .to_text()
    }

    fn ended(&self, reason: ReviewEnd) -> String {
        ServerMessage::ReviewEnded {
            id: &self.id,
            seq: self.seq,
            reason,
        }
        .to_text()
    }
}

/// The next item of the connection's review that is due; pending while there is none, and while
/// the review is paused before an event. Cancel-safe: what was taken from the reader is kept.
pub(super) async fn next(review: &mut Option<Review>) -> Item {
    let Some(r) = review.as_mut() else {
        return std::future::pending().await;
    };
    loop {
        if r.pending.is_none() {
            let item = r.rx.recv().await.unwrap_or_else(|| {
                Item::Failed(WireError::new(
                    ErrorCode::Unavailable,
                    "the review stopped reading the log",
                    "回放已停止读取事件日志",
                ))
            });
            r.pending = Some(item);
        }
        if let Some(Item::Event { time_ms, .. }) = &r.pending {
            if !r.playing {
                return std::future::pending().await;
            }
            let now = Instant::now();
            if let Some(due) = r.due(*time_ms).filter(|due| *due > now) {
                tokio::time::sleep_until(due.min(now + LONGEST_WAIT)).await;
                continue;
            }
        }
        return r.pending.take().expect("set above");
    }
}

/// Reads the log for a review from `from` (its snapshot) to `to` (or `cap`), a page at a time.
async fn read(
    history: Arc<History>,
    store: Arc<dyn crate::store::Store>,
    id: Arc<str>,
    layers: Arc<BTreeSet<Layer>>,
    (from, to, cap): (At, Option<At>, u64),
    exercise: bool,
    tx: mpsc::Sender<Item>,
) {
    let past = match history.state_at(from, cap).await {
        Ok(p) => p,
        Err(e) => {
            let _ = tx.send(Item::Failed(e)).await;
            return;
        }
    };
    let state = &past.projection.state;
    let mut map = Map::new();
    for &layer in layers.iter() {
        let items: Vec<Value> = read::layer_ids(state, layer)
            .iter()
            .filter_map(|id| read::entity_view(state, layer, id))
            .collect();
        map.insert(layer.name().to_string(), Value::Array(items));
    }
    let text = ServerMessage::ReviewSnapshot {
        id: &id,
        seq: past.projection.seq,
        time_ms: past.time_ms,
        layers: &map,
        exercise,
    }
    .to_text();
    let mut at = past.projection.seq;
    let snapshot = Item::Snapshot {
        seq: at,
        time_ms: past.time_ms,
        text,
    };
    drop(map);
    drop(past);
    if tx.send(snapshot).await.is_err() {
        return;
    }
    let failed = |e: crate::store::StoreError| {
        tracing::warn!(error = %e, "reading the log for a review failed");
        Item::Failed(WireError::new(
            ErrorCode::Unavailable,
            "cannot read the event log right now; start the review again later",
            "暂时无法读取事件日志，请稍后重新开始回放",
        ))
    };
    'pages: while at < cap {
        let page = match store.events_after(at, PAGE).await {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(failed(e)).await;
                return;
            }
        };
        if page.is_empty() {
            break;
        }
        for e in page {
            let beyond = e.seq > cap
                || match to {
                    None => false,
                    Some(At::Seq(s)) => e.seq > s,
                    Some(At::Time(t)) => e.time_ms > t,
                };
            if beyond {
                break 'pages;
            }
            at = e.seq;
            let decoded = match crate::codec::decode_event(&e) {
                Ok(d) => d,
                Err(err) => {
                    let _ = tx.send(failed(err)).await;
                    return;
                }
            };
            if !read::event_routes(&decoded.event).any(|(l, _)| layers.contains(&l)) {
                continue;
            }
            let text = ServerMessage::ReviewEvent {
                id: &id,
                seq: e.seq,
                time_ms: e.time_ms,
                event: &decoded.json,
                exercise,
            }
            .to_text();
            let item = Item::Event {
                seq: e.seq,
                time_ms: e.time_ms,
                text,
            };
            if tx.send(item).await.is_err() {
                return;
            }
        }
    }
    let _ = tx.send(Item::End { seq: at }).await;
}

fn spawn_reader(
    space: &Space,
    id: &Arc<str>,
    layers: &Arc<BTreeSet<Layer>>,
    span: (At, Option<At>, u64),
    exercise: bool,
) -> (mpsc::Receiver<Item>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let task = tokio::spawn(read(
        space.history.clone(),
        space.store.clone(),
        id.clone(),
        layers.clone(),
        span,
        exercise,
        tx,
    ));
    (rx, task)
}

fn missing(field: &str, action: &str) -> WireError {
    WireError::new(
        ErrorCode::MissingField,
        format!("missing field `{field}`: `{action}` needs it"),
        format!("缺少字段 `{field}`：`{action}` 需要它"),
    )
}

fn not_for(field: &str, action: &str) -> WireError {
    WireError::new(
        ErrorCode::InvalidField,
        format!("`{field}` does not go with `{action}`"),
        format!("`{field}` 不能用于 `{action}`"),
    )
}

impl Session {
    /// The last committed seq and the server's clock: the bounds of a moment a client asks for.
    fn bounds(&self) -> (u64, i64) {
        (self.space.live.read().seq, self.space.clock.now_ms())
    }

    /// A `query` with `at`: answered from the state of the log at that moment, when it is folded.
    pub(super) fn past_query(&mut self, id: String, query: Query, at: At) {
        let app = self.app.clone();
        let history = self.space.history.clone();
        let (last_seq, now) = self.bounds();
        self.past.push(Box::pin(async move {
            let answer = async {
                history.check(at, last_seq, now).await?;
                let past = history.state_at(at, last_seq).await?;
                let district = app.district_name();
                let mut v =
                    read::answer(&past.projection, query, past.time_ms, district.as_deref())?;
                v["at"] = past.at_json();
                Ok(v)
            };
            let answer = answer.await;
            (id, answer)
        }));
    }

    pub(super) fn on_past_answer(&mut self, id: &str, answer: Result<Value, WireError>) {
        match answer {
            Ok(result) => self.send_message(ServerMessage::Answer {
                id,
                result: &result,
                exercise: self.drill.is_some(),
                // Read from the log itself, not from this node's picture.
                stale: false,
            }),
            Err(e) => self.error(Some(id), e),
        }
    }

    /// `review`: checks it, ends a running review, and starts this one playing.
    pub(super) async fn start_review(&mut self, r: protocol::Review) {
        if let Err(e) = protocol::check_request_id(&r.id) {
            return self.error(None, e);
        }
        if r.layers.is_empty() {
            return self.error(
                Some(&r.id),
                WireError::new(
                    ErrorCode::InvalidField,
                    "a review needs at least one layer",
                    "回放至少需要一个图层",
                ),
            );
        }
        let (cap, now) = self.bounds();
        for at in std::iter::once(r.from).chain(r.to) {
            if let Err(e) = self.space.history.check(at, cap, now).await {
                return self.error(Some(&r.id), e);
            }
        }
        let backwards = match (r.from, r.to) {
            (At::Seq(a), Some(At::Seq(b))) => b < a,
            (At::Time(a), Some(At::Time(b))) => b < a,
            _ => false,
        };
        if backwards {
            return self.error(
                Some(&r.id),
                WireError::new(
                    ErrorCode::InvalidValue,
                    "`to` is before `from`",
                    "`to` 早于 `from`",
                ),
            );
        }
        if let Some(old) = self.review.take() {
            self.send(old.ended(ReviewEnd::Replaced));
        }
        let id: Arc<str> = r.id.into();
        let layers = Arc::new(r.layers.into_iter().collect::<BTreeSet<_>>());
        let (rx, reader) = spawn_reader(
            &self.space,
            &id,
            &layers,
            (r.from, r.to, cap),
            self.drill.is_some(),
        );
        self.review = Some(Review {
            id,
            layers,
            to: r.to,
            cap,
            rx,
            reader,
            pending: None,
            playing: true,
            speed: r.speed.unwrap_or(Speed::Times(1.0)),
            base_ms: 0,
            base_at: Instant::now(),
            seq: 0,
            played_ms: 0,
        });
    }

    /// `review_control`.
    pub(super) async fn control_review(&mut self, c: ReviewControl) {
        let action: &str = match c.action {
            ReviewAction::Pause => "pause",
            ReviewAction::Resume => "resume",
            ReviewAction::Seek => "seek",
            ReviewAction::Speed => "speed",
            ReviewAction::Stop => "stop",
        };
        let Some(r) = self.review.as_ref() else {
            return self.error(
                None,
                WireError::new(
                    ErrorCode::NoReview,
                    "this connection has no review running; send `review` first",
                    "本连接没有进行中的回放；请先发送 `review`",
                ),
            );
        };
        let id = r.id.clone();
        if c.at.is_some() && c.action != ReviewAction::Seek {
            return self.error(Some(&id), not_for("at", action));
        }
        if c.speed.is_some() && c.action != ReviewAction::Speed {
            return self.error(Some(&id), not_for("speed", action));
        }
        let now = Instant::now();
        match c.action {
            ReviewAction::Pause | ReviewAction::Resume | ReviewAction::Speed => {
                let speed = match (c.action, c.speed) {
                    (ReviewAction::Speed, None) => {
                        return self.error(Some(&id), missing("speed", action));
                    }
                    (_, speed) => speed,
                };
                let r = self.review.as_mut().expect("checked above");
                r.rebase(now);
                match c.action {
                    ReviewAction::Pause => r.playing = false,
                    ReviewAction::Resume => r.playing = true,
                    _ => r.speed = speed.expect("checked above"),
                }
                let text = r.state_message();
                self.send(text);
            }
            ReviewAction::Seek => {
                let Some(at) = c.at else {
                    return self.error(Some(&id), missing("at", action));
                };
                let cap = self.review.as_ref().expect("checked above").cap;
                if let Err(e) = self
                    .space
                    .history
                    .check(at, cap, self.space.clock.now_ms())
                    .await
                {
                    return self.error(Some(&id), e);
                }
                let space = self.space.clone();
                let exercise = self.drill.is_some();
                let r = self.review.as_mut().expect("checked above");
                r.reader.abort();
                let (rx, reader) =
                    spawn_reader(&space, &r.id, &r.layers, (at, r.to, r.cap), exercise);
                r.rx = rx;
                r.reader = reader;
                r.pending = None;
            }
            ReviewAction::Stop => {
                let r = self.review.take().expect("checked above");
                self.send(r.ended(ReviewEnd::Stopped));
            }
        }
    }

    /// An item of the review that is due: queued, with every further one already due (at most
    /// a burst).
    pub(super) fn on_review(&mut self, item: Item) {
        let mut item = item;
        let mut queued = 0;
        loop {
            let Some(r) = self.review.as_mut() else {
                return;
            };
            match item {
                Item::Snapshot { seq, time_ms, text } => {
                    // The review's clock starts (again) at the snapshot's moment.
                    r.seq = seq;
                    r.played_ms = time_ms;
                    r.base_ms = time_ms;
                    r.base_at = Instant::now();
                    self.send(text);
                }
                Item::Event { seq, time_ms, text } => {
                    r.seq = seq;
                    r.played_ms = time_ms;
                    self.send(text);
                }
                Item::End { seq } => {
                    r.seq = r.seq.max(seq);
                    let text = r.ended(ReviewEnd::End);
                    self.review = None;
                    return self.send(text);
                }
                Item::Failed(e) => {
                    let r = self.review.take().expect("checked above");
                    self.error(Some(&r.id), e);
                    return self.send(r.ended(ReviewEnd::Failed));
                }
            }
            queued += 1;
            if queued >= MAX_BURST {
                return;
            }
            // Anything else already due goes out in the same flush.
            let r = self.review.as_mut().expect("still running");
            let Ok(next) = r.rx.try_recv() else { return };
            let due = match &next {
                Item::Event { time_ms, .. } => {
                    r.playing && r.due(*time_ms).is_none_or(|d| d <= Instant::now())
                }
                _ => true,
            };
            if !due {
                r.pending = Some(next);
                return;
            }
            item = next;
        }
    }
}
