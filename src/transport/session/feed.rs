//! What a subscription receives: the snapshot, or the events missed since `resume_from`; the
//! entities entering and leaving when the viewport changes; then the live frames, filtered by
//! layer and viewport, coalesced to the newest position per team for a client that falls behind,
//! and a resync for one whose mailbox overflowed.

use super::{CLOSE_TRY_LATER, Session};
use crate::domain::BBox;
use crate::domain::events::Layer;
use crate::hub::{Frame, Lagged};
use crate::protocol::{ErrorCode, ServerMessage, SnapshotReason, WireError};
use crate::read;
use crate::transport::subscription::Subscription;
use axum::extract::ws::{Message, Utf8Bytes};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Frames read from the mailbox per loop turn at most.
const MAX_DRAIN: usize = 1024;
/// A backlog longer than this is coalesced: only the newest position per team is sent.
const COALESCE_FROM: usize = 64;
/// Frames waiting beyond which a connection is coalesced even if its socket still takes writes:
/// a quarter of the default mailbox, more than any one published batch.
const COALESCE_BACKLOG: usize = 2048;
/// Events read from the log per page during a resume.
const CATCHUP_PAGE: u32 = 1000;

impl Session {
    pub(super) async fn subscribe(
        &mut self,
        layers: Vec<Layer>,
        viewport: Option<BBox>,
        resume_from: Option<u64>,
    ) {
        if layers.is_empty() {
            return self.error(
                None,
                WireError::new(
                    ErrorCode::InvalidField,
                    "subscribe needs at least one layer",
                    "订阅至少需要一个图层",
                ),
            );
        }
        let max_catchup = self.app.limits.max_catchup;
        // A client that comes from another node may be ahead of this one by what it has not
        // read yet: read the log first, so it resumes instead of getting an older snapshot.
        if let Some(from) = resume_from
            && from > self.space.live.read().seq
        {
            let _ = self.space.engine.caught_up().await;
        }
        let stale = self.stale();
        let mut sub = Subscription::new(layers, viewport);
        let interest = sub.interest(viewport);
        let live = self.space.live.clone();
        // Decide, under the projection's read lock, between a snapshot and a catch-up, and take a
        // hub reader positioned exactly after the state we looked at.
        let (plan, rx) = live.read_and_follow(interest, |p| match resume_from {
            Some(from)
                if from <= p.seq
                    && p.seq - from <= max_catchup
                    && self.app.catchup.try_take(p.seq - from) =>
            {
                Plan::Resume {
                    from,
                    to: p.seq,
                    enters: sub.enter_all(&p.state, &p.spatial, p.seq),
                }
            }
            Some(_) => Plan::Snapshot(sub.snapshot(
                &p.state,
                &p.spatial,
                p.seq,
                SnapshotReason::ResumeUnavailable,
                stale,
            )),
            None => Plan::Snapshot(sub.snapshot(
                &p.state,
                &p.spatial,
                p.seq,
                SnapshotReason::Subscribe,
                stale,
            )),
        });
        self.rx = Some(rx);
        match plan {
            Plan::Snapshot(text) => self.send(text),
            Plan::Resume { from, to, enters } => {
                self.send_message(ServerMessage::Resumed {
                    from_seq: from,
                    to_seq: to,
                });
                let caught_up = self.catch_up(&sub, from, to).await;
                if let Ok(false) = caught_up {
                    self.rx = None;
                    return;
                }
                if let Err(e) = caught_up {
                    tracing::warn!(error = %e, "resume failed");
                    self.rx = None;
                    return self.error(
                        None,
                        WireError::new(
                            ErrorCode::Unavailable,
                            "cannot read the log right now; subscribe again without resume_from",
                            "暂时无法读取事件日志；请不带 resume_from 重新订阅",
                        ),
                    );
                }
                for e in enters {
                    self.send(e);
                }
            }
        }
        self.sub = Some(sub);
    }

    /// Sends the logged events in (from, to] of the subscribed layers; `Ok(false)` when the client
    /// went away meanwhile.
    pub(super) async fn catch_up(
        &mut self,
        sub: &Subscription,
        from: u64,
        to: u64,
    ) -> Result<bool, crate::store::StoreError> {
        let mut at = from;
        while at < to {
            let page = self.space.store.events_after(at, CATCHUP_PAGE).await?;
            if page.is_empty() {
                break;
            }
            for e in page {
                if e.seq > to {
                    return Ok(true);
                }
                at = e.seq;
                let decoded = crate::codec::decode_event(&e)?;
                if read::event_routes(&decoded.event).any(|(l, _)| sub.wants_layer(l)) {
                    self.send_message(ServerMessage::Event {
                        seq: e.seq,
                        time_ms: e.time_ms,
                        event: &decoded.json,
                        exercise: self.drill.is_some(),
                    });
                }
            }
            // One page at a time on the wire, so a long catch-up never sits in memory whole.
            if !self.flush().await {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(super) async fn set_viewport(&mut self, viewport: Option<BBox>) {
        if self.sub.is_none() {
            return self.error(
                None,
                WireError::new(
                    ErrorCode::NotSubscribed,
                    "subscribe before setting a viewport",
                    "请先订阅再设置视口",
                ),
            );
        }
        let live = self.space.live.clone();
        let p = live.read();
        // With the read lock held nothing new is published: deliver what is already in the
        // mailbox under the old viewport, so the enter/leave diff below starts from exactly
        // `p.seq`; then the hub routes the frames after `p.seq` by the new viewport.
        let mut lagged = false;
        if let Some(rx) = self.rx.as_mut() {
            while let Some(next) = rx.try_recv() {
                match next {
                    Ok(frame) => {
                        if let Some(bytes) = self.sub.as_mut().and_then(|s| s.select(&frame)) {
                            self.out.push(shared_text(bytes));
                        }
                    }
                    Err(Lagged) => {
                        lagged = true;
                        break;
                    }
                }
            }
            if let Some(sub) = &self.sub {
                rx.set_interest(sub.interest(viewport));
            }
        }
        let stale = self.stale();
        let sub = self.sub.as_mut().expect("checked above");
        if lagged {
            sub.viewport = viewport;
            let text = sub.snapshot(&p.state, &p.spatial, p.seq, SnapshotReason::Resync, stale);
            drop(p);
            self.app.metrics.client_resyncs.inc();
            return self.send(text);
        }
        let msgs = sub.move_viewport(viewport, &p.state, &p.spatial, p.seq);
        let seq = p.seq;
        drop(p);
        self.send_message(ServerMessage::ViewportSet { seq, viewport });
        for m in msgs {
            self.send(m);
        }
    }

    pub(super) async fn on_frame(&mut self, first: Result<Arc<Frame>, Lagged>) {
        let mut frames = Vec::new();
        let mut lagged = first.is_err();
        if let Ok(f) = first {
            frames.push(f);
        }
        if let Some(rx) = self.rx.as_mut() {
            while !lagged && frames.len() < MAX_DRAIN {
                match rx.try_recv() {
                    Some(Ok(f)) => frames.push(f),
                    Some(Err(Lagged)) => lagged = true,
                    None => break,
                }
            }
            self.app.metrics.note_lag(rx.len() as u64);
        }
        if lagged {
            return self.resync();
        }
        let backlog = self.rx.as_ref().map_or(0, |rx| rx.len());
        let behind = (self.socket_behind && frames.len() > COALESCE_FROM)
            || backlog + frames.len() > COALESCE_BACKLOG;
        let superseded = if behind {
            superseded_positions(&frames)
        } else {
            Vec::new()
        };
        self.app
            .metrics
            .frames_coalesced
            .inc_by(superseded.iter().filter(|s| **s).count() as u64);
        let Some(sub) = self.sub.as_mut() else { return };
        for (i, f) in frames.iter().enumerate() {
            if superseded.get(i).copied().unwrap_or(false) {
                continue;
            }
            if let Some(bytes) = sub.select(f) {
                self.out.push(shared_text(bytes));
            }
        }
    }

    /// The client's mailbox overflowed: give it a fresh snapshot, or close it if this keeps
    /// happening.
    pub(super) fn resync(&mut self) {
        self.app.metrics.client_resyncs.inc();
        let now = Instant::now();
        self.resyncs
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        self.resyncs.push(now);
        if self.resyncs.len() > self.app.limits.resyncs_before_close {
            self.app.metrics.slow_client_closes.inc();
            self.close = Some((
                CLOSE_TRY_LATER,
                "client too slow: fell behind repeatedly".into(),
            ));
            return;
        }
        self.out.clear();
        self.send_message(ServerMessage::Resync { reason: "lagged" });
        let live = self.space.live.clone();
        let stale = self.stale();
        let Some(sub) = self.sub.as_mut() else { return };
        let interest = sub.interest(sub.viewport);
        let (text, rx) = live.read_and_follow(interest, |p| {
            sub.snapshot(&p.state, &p.spatial, p.seq, SnapshotReason::Resync, stale)
        });
        self.rx = Some(rx);
        self.send(text);
    }
}

enum Plan {
    Snapshot(String),
    Resume {
        from: u64,
        to: u64,
        enters: Vec<String>,
    },
}

/// For a backlog: marks every team-position frame that a later frame for the same team supersedes.
fn superseded_positions(frames: &[Arc<Frame>]) -> Vec<bool> {
    let mut seen = std::collections::HashSet::new();
    let mut out = vec![false; frames.len()];
    for (i, f) in frames.iter().enumerate().rev() {
        if let Some(key) = f.coalesce_key()
            && !seen.insert(key)
        {
            out[i] = true;
        }
    }
    out
}

/// A hub frame's shared bytes as a text message (they are UTF-8: every frame is built from a
/// `String`). The check is the price of keeping the hub free of the web framework's types.
fn shared_text(bytes: bytes::Bytes) -> Message {
    Message::Text(Utf8Bytes::try_from(bytes).expect("hub frames are UTF-8"))
}
