//! The past of the log, for the after-action review: the state at any earlier moment (a seq, or
//! a time), folded from the log a page at a time and kept cheap to ask again by a bounded cache.
//!
//! A fold from the first event costs the whole prefix. So every fold leaves **checkpoints**
//! behind — the state after every [`CHECKPOINT_EVERY`]th event, at most [`MAX_CHECKPOINTS`] of
//! them, the least recently used dropped first — and the next fold starts from the nearest
//! checkpoint at or before the moment asked: at most `CHECKPOINT_EVERY` events to read and apply
//! once the region has been visited. The last [`MAX_RECENT`] answered states (with their spatial
//! indexes) are kept whole, so asking the same moment again (a dashboard polling its layers at a
//! paused review) costs nothing but a clone of an `Arc`. At most [`MAX_FOLDS`] folds run at once
//! per space (each space has its own `History`); the others wait their turn.
//!
//! It reads the store and applies events with the domain's fold, as `engine::fold_until` does; it
//! never writes and never touches the engine. Answers are checked against the bounds of the log
//! ([`History::check`]): a seq beyond the last committed one, a time before the first event or
//! after the server's clock, are refused with their own error codes.

use crate::codec;
use crate::domain::State;
use crate::engine::Until;
use crate::projection::Projection;
use crate::protocol::{At, ErrorCode, WireError};
use crate::spatial::Spatial;
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A checkpoint is kept after every this many events of a fold.
pub const CHECKPOINT_EVERY: u64 = 1_000;
/// Checkpoints kept at most (each a whole `State`).
pub const MAX_CHECKPOINTS: usize = 32;
/// Whole answered states (state and spatial indexes) kept at most.
pub const MAX_RECENT: usize = 4;
/// Folds running at once, per space.
pub const MAX_FOLDS: usize = 2;
/// Events read from the store per page.
const PAGE: u32 = 1_000;

/// The state of the log at a past moment.
#[derive(Debug)]
pub struct Past {
    /// The state after event `projection.seq`, with its spatial indexes.
    pub projection: Projection,
    /// The moment it is true at: the time asked, or for a seq the time of that event (for seq 0,
    /// the time of the first event, or 0 for an empty log).
    pub time_ms: i64,
    /// The time of the last event folded (`None` when none was).
    pub last_event_ms: Option<i64>,
    /// The highest event time of the prefix (times are normally non-decreasing; this guards the
    /// case of a wall clock that stepped back).
    max_time_ms: Option<i64>,
    /// For a fold stopped by a time: the time of the first event left out.
    next_time_ms: Option<i64>,
}

impl Past {
    /// The `at` member of an answer: the seq and time the answer is true at.
    pub fn at_json(&self) -> serde_json::Value {
        serde_json::json!({
            "seq": self.projection.seq,
            "time_ms": self.time_ms,
            "last_event_ms": self.last_event_ms,
        })
    }
}

struct Checkpoint {
    state: Arc<State>,
    last_time_ms: Option<i64>,
    max_time_ms: Option<i64>,
    used: u64,
}

#[derive(Default)]
struct Cache {
    /// By seq.
    checkpoints: BTreeMap<u64, Checkpoint>,
    /// Newest last.
    recent: Vec<Arc<Past>>,
    /// A use counter, for least-recently-used eviction.
    tick: u64,
    /// The time of the log's first event, once known (it never changes).
    first_time_ms: Option<i64>,
}

/// The past states of one log.
pub struct History {
    store: Arc<dyn Store>,
    cache: Mutex<Cache>,
    folds: tokio::sync::Semaphore,
}

/// How far a fold stopped short, for [`History::state_at`].
#[derive(Debug, Clone, Copy)]
struct Target {
    until: Until,
    /// Never beyond this seq (the last committed event when asked).
    cap: u64,
}

impl History {
    pub fn new(store: Arc<dyn Store>) -> History {
        History {
            store,
            cache: Mutex::new(Cache::default()),
            folds: tokio::sync::Semaphore::new(MAX_FOLDS),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The time of the log's first event, `None` for an empty log.
    pub async fn first_time_ms(&self) -> Result<Option<i64>, StoreError> {
        if let Some(t) = self.cache().first_time_ms {
            return Ok(Some(t));
        }
        let first = self.store.events_after(0, 1).await?;
        let t = first.first().map(|e| e.time_ms);
        self.cache().first_time_ms = t;
        Ok(t)
    }

    /// Checks that `at` lies within the log: a seq not beyond `last_seq` (the last committed
    /// event), a time not before the first event and not after `now_ms` (the server's clock).
    pub async fn check(&self, at: At, last_seq: u64, now_ms: i64) -> Result<(), WireError> {
        match at {
            At::Seq(seq) if seq > last_seq => Err(WireError::new(
                ErrorCode::SeqOutOfRange,
                format!("seq {seq} is beyond the log, whose last event is {last_seq}"),
                format!("序号{seq}超出事件日志，日志最后一个事件的序号为{last_seq}"),
            )),
            At::Seq(_) => Ok(()),
            At::Time(t) => {
                let first = self.first_time_ms().await.map_err(|e| unavailable(&e))?;
                let Some(first) = first else {
                    return Err(WireError::new(
                        ErrorCode::TimeOutOfRange,
                        "the log is empty: there is no time to go back to (ask for seq 0)",
                        "事件日志为空，没有可回溯的时间（可查询序号0）",
                    ));
                };
                if t < first || t > now_ms {
                    let (a, b) = (rfc3339(first), rfc3339(now_ms));
                    let asked = rfc3339(t);
                    return Err(WireError::new(
                        ErrorCode::TimeOutOfRange,
                        format!(
                            "{asked} is outside the log: from its first event at {a} to the server's clock now, {b}"
                        ),
                        format!(
                            "{asked}不在事件日志的时间范围内：应在第一个事件（{a}）与服务器当前时间（{b}）之间"
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The state at `at`, never beyond `last_seq`: for a seq, after that event; for a time, after
    /// every event logged at or before it (the prefix of the log whose times are not later).
    /// Call [`Self::check`] first for a client's `at`.
    pub async fn state_at(&self, at: At, last_seq: u64) -> Result<Arc<Past>, WireError> {
        let target = Target {
            until: match at {
                At::Seq(s) => Until::Seq(s.min(last_seq)),
                At::Time(t) => Until::Time(t),
            },
            cap: last_seq,
        };
        if let Some(p) = self.recent(target) {
            return Ok(p);
        }
        let _permit = self
            .folds
            .acquire()
            .await
            .expect("the fold semaphore is never closed");
        // Another fold may have answered the same moment while this one waited.
        if let Some(p) = self.recent(target) {
            return Ok(p);
        }
        let past = self.fold(target).await.map_err(|e| unavailable(&e))?;
        let past = Arc::new(past);
        let mut c = self.cache();
        c.recent.push(past.clone());
        if c.recent.len() > MAX_RECENT {
            c.recent.remove(0);
        }
        Ok(past)
    }

    /// A recently answered state that is the answer for `target`.
    fn recent(&self, target: Target) -> Option<Arc<Past>> {
        let mut c = self.cache();
        let i = c.recent.iter().rposition(|p| answers(p, target))?;
        let p = c.recent.remove(i);
        c.recent.push(p.clone());
        Some(p)
    }

    /// The nearest checkpoint at or before `target`, as a starting state (cloned outside the
    /// cache's lock).
    fn start(&self, target: Target) -> (State, u64, Option<i64>, Option<i64>) {
        let found = {
            let mut c = self.cache();
            c.tick += 1;
            let tick = c.tick;
            c.checkpoints
                .range_mut(..=target.cap)
                .rev()
                .find(|(seq, cp)| match target.until {
                    Until::End => true,
                    Until::Seq(s) => **seq <= s,
                    Until::Time(t) => cp.max_time_ms.is_none_or(|m| m <= t),
                })
                .map(|(seq, cp)| {
                    cp.used = tick;
                    (cp.state.clone(), *seq, cp.last_time_ms, cp.max_time_ms)
                })
        };
        match found {
            Some((state, seq, last, max)) => (State::clone(&state), seq, last, max),
            None => (State::default(), 0, None, None),
        }
    }

    fn keep_checkpoint(&self, seq: u64, state: &State, last: Option<i64>, max: Option<i64>) {
        if self.cache().checkpoints.contains_key(&seq) {
            return;
        }
        let state = Arc::new(state.clone());
        let mut c = self.cache();
        c.tick += 1;
        let used = c.tick;
        c.checkpoints.insert(
            seq,
            Checkpoint {
                state,
                last_time_ms: last,
                max_time_ms: max,
                used,
            },
        );
        if c.checkpoints.len() > MAX_CHECKPOINTS
            && let Some(oldest) = c
                .checkpoints
                .iter()
                .min_by_key(|(_, cp)| cp.used)
                .map(|(seq, _)| *seq)
        {
            c.checkpoints.remove(&oldest);
        }
    }

    async fn fold(&self, target: Target) -> Result<Past, StoreError> {
        let (mut state, mut seq, mut last, mut max) = self.start(target);
        let mut next_time_ms = None;
        'pages: while seq < target.cap && !matches!(target.until, Until::Seq(s) if seq >= s) {
            let page = self.store.events_after(seq, PAGE).await?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                let past = e.seq > target.cap
                    || match target.until {
                        Until::End => false,
                        Until::Seq(s) => e.seq > s,
                        Until::Time(t) => e.time_ms > t,
                    };
                if past {
                    if let Until::Time(_) = target.until
                        && e.seq <= target.cap
                    {
                        next_time_ms = Some(e.time_ms);
                    }
                    break 'pages;
                }
                if e.seq != seq + 1 {
                    return Err(StoreError::Corrupt(format!(
                        "event log gap: {} follows {seq}",
                        e.seq
                    )));
                }
                state.apply(&codec::decode_event(e)?.event);
                seq = e.seq;
                last = Some(e.time_ms);
                max = Some(max.map_or(e.time_ms, |m: i64| m.max(e.time_ms)));
                if seq % CHECKPOINT_EVERY == 0 {
                    self.keep_checkpoint(seq, &state, last, max);
                }
            }
        }
        let time_ms = match target.until {
            Until::Time(t) => t,
            Until::End | Until::Seq(_) => match last {
                Some(t) => t,
                None => self.first_time_ms().await?.unwrap_or(0),
            },
        };
        let spatial = Spatial::build(&state);
        Ok(Past {
            projection: Projection {
                state,
                spatial,
                seq,
            },
            time_ms,
            last_event_ms: last,
            max_time_ms: max,
            next_time_ms,
        })
    }

    /// How many checkpoints and whole states are cached (for tests and metrics).
    pub fn cached(&self) -> (usize, usize) {
        let c = self.cache();
        (c.checkpoints.len(), c.recent.len())
    }
}

/// Whether `p` is the state `target` asks for.
fn answers(p: &Past, target: Target) -> bool {
    match target.until {
        Until::End => p.projection.seq == target.cap,
        Until::Seq(s) => p.projection.seq == s,
        Until::Time(t) => {
            p.max_time_ms.is_none_or(|m| m <= t)
                && match p.next_time_ms {
                    // Stopped by the first event later than its time: the same prefix for
                    // every time before that event's.
                    Some(next) => t < next && p.time_ms == t,
                    // Stopped at the end of the log as it was: only while nothing was added.
                    None => p.projection.seq == target.cap && p.time_ms == t,
                }
        }
    }
}

fn unavailable(e: &StoreError) -> WireError {
    tracing::warn!(error = %e, "reading the log for a past state failed");
    WireError::new(
        ErrorCode::Unavailable,
        "cannot read the event log right now; ask again later",
        "暂时无法读取事件日志，请稍后再试",
    )
}

/// A time as RFC 3339 in UTC, for messages.
pub fn rfc3339(ms: i64) -> String {
    let (y, mo, d, h, mi, s) = crate::clock::civil(ms, 0);
    let frac = ms.rem_euclid(1000);
    if frac == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_messages_are_rfc_3339_utc() {
        let t = crate::clock::parse_rfc3339("2026-07-15T08:00:00+08:00").unwrap();
        assert_eq!(rfc3339(t), "2026-07-15T00:00:00Z");
        assert_eq!(rfc3339(t + 250), "2026-07-15T00:00:00.250Z");
        assert_eq!(crate::clock::parse_rfc3339(&rfc3339(t + 7)).unwrap(), t + 7);
    }

    fn past(seq: u64, time_ms: i64, max: Option<i64>, next: Option<i64>) -> Past {
        Past {
            projection: Projection {
                seq,
                ..Default::default()
            },
            time_ms,
            last_event_ms: max,
            max_time_ms: max,
            next_time_ms: next,
        }
    }

    #[test]
    fn a_kept_state_answers_only_the_moment_it_is() {
        let at = |until, cap| Target { until, cap };
        let by_seq = past(10, 500, Some(500), None);
        assert!(answers(&by_seq, at(Until::Seq(10), 20)));
        assert!(!answers(&by_seq, at(Until::Seq(11), 20)));
        // Stopped by a later event: the same time asked again, not another.
        let by_time = past(10, 700, Some(500), Some(900));
        assert!(answers(&by_time, at(Until::Time(700), 20)));
        assert!(answers(&by_time, at(Until::Time(700), 30)));
        assert!(!answers(&by_time, at(Until::Time(800), 20)));
        // Stopped at the end of the log: only while the log has not grown.
        let at_end = past(20, 1_000, Some(900), None);
        assert!(answers(&at_end, at(Until::Time(1_000), 20)));
        assert!(!answers(&at_end, at(Until::Time(1_000), 21)));
    }
}
