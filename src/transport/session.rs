//! One WebSocket connection: authentication, subscriptions, commands, queries, keepalive and
//! limits. Everything the connection sends is queued in `out` and written in one flush per loop
//! turn, so a burst of frames costs one syscall, not one per frame.

use super::App;
use super::listener::UnauthenticatedSlot;
use super::subscription::Subscription;
use super::token_bucket::TokenBucket;
use crate::auth::{self, AuthError, Authenticated};
use crate::domain::events::Layer;
use crate::domain::{Actor, BBox};
use crate::engine::{Outcome, SubmitError};
use crate::hub::Frame;
use crate::protocol::{self, Ack, ClientMessage, Query, WireError};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

/// Frames read from the ring per loop turn at most.
const MAX_DRAIN: usize = 1024;
/// A backlog longer than this is coalesced: only the newest position per team is sent.
const COALESCE_FROM: usize = 64;
/// Events read from the log per page during a resume.
const CATCHUP_PAGE: u32 = 1000;
/// Failed authentication attempts before the connection is closed.
const MAX_AUTH_FAILURES: u32 = 5;

type InFlight = Pin<Box<dyn Future<Output = (String, Result<Outcome, SubmitError>)> + Send>>;

/// Close codes (RFC 6455).
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_TRY_LATER: u16 = 1013;
const CLOSE_GOING_AWAY: u16 = 1001;

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

struct Session {
    sink: Sink,
    app: Arc<App>,
    actor: Option<Actor>,
    /// The token this connection authenticated with; its revocation closes the connection.
    token_id: Option<String>,
    auth_failures: u32,
    sub: Option<Subscription>,
    rx: Option<broadcast::Receiver<Arc<Frame>>>,
    /// The connection's message rate limit.
    bucket: TokenBucket,
    resyncs: Vec<Instant>,
    out: Vec<Message>,
    close: Option<(u16, String)>,
    /// Held while the connection is not authenticated: counts against the unauthenticated cap.
    unauthenticated_slot: Option<UnauthenticatedSlot>,
}

/// Runs a connection to its end. `auth` is set when the upgrade request carried a valid token.
/// `slot` counts the connection against the unauthenticated cap until it authenticates.
pub async fn run(
    socket: WebSocket,
    app: Arc<App>,
    auth: Option<Authenticated>,
    slot: Option<UnauthenticatedSlot>,
) {
    app.metrics.connections_open.fetch_add(1, Relaxed);
    app.metrics.connections_total.fetch_add(1, Relaxed);
    let limits = app.limits.clone();
    let (sink, mut stream) = socket.split();
    let mut s = Session {
        sink,
        bucket: TokenBucket::new(limits.messages_per_second, limits.burst),
        actor: auth.as_ref().map(|a| a.actor.clone()),
        token_id: auth.map(|a| a.token_id),
        app,
        auth_failures: 0,
        sub: None,
        rx: None,
        resyncs: Vec::new(),
        out: Vec::new(),
        close: None,
        unauthenticated_slot: slot,
    };
    s.hello();
    let mut in_flight: FuturesUnordered<InFlight> = FuturesUnordered::new();
    let mut ping = tokio::time::interval(limits.ping_interval);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let auth_deadline = tokio::time::sleep(limits.auth_timeout);
    tokio::pin!(auth_deadline);
    let mut stopping = s.app.shutdown.subscribe();
    let mut revocations = s.app.revoked.subscribe();

    loop {
        if !s.flush().await {
            break;
        }
        if let Some((code, reason)) = s.close.take() {
            let _ = s
                .sink
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })))
                .await;
            break;
        }
        tokio::select! {
            incoming = stream.next(), if in_flight.len() < limits.max_in_flight => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => s.on_text(&text, &mut in_flight).await,
                    Some(Ok(Message::Binary(_))) if s.actor.is_none() => s.unauthenticated(),
                    Some(Ok(Message::Binary(_))) => s.error(None, WireError::new("unsupported_frame", "binary frames are not part of the protocol; send JSON text")),
                    Some(Ok(Message::Close(_))) => {
                        // The WebSocket layer has queued the reply (echoing the client's code);
                        // flush it, or the client sees a dropped connection (1006), not a close.
                        let _ = tokio::time::timeout(limits.write_timeout, s.sink.flush()).await;
                        break;
                    }
                    None => break,
                    Some(Ok(_)) => {} // ping/pong: axum answers pings itself
                    Some(Err(e)) => {
                        // The WebSocket layer refused what the client sent: say why, then close.
                        tracing::debug!(error = %e, "websocket read error");
                        match super::ws_errors::classify(e) {
                            super::ws_errors::ReadFailure::TooBig => {
                                s.close = Some((CLOSE_TOO_BIG, format!("frame above {} bytes", limits.hard_frame_bytes)));
                            }
                            super::ws_errors::ReadFailure::Violation(code, reason) => {
                                s.close = Some((code, reason.into()));
                            }
                            super::ws_errors::ReadFailure::Gone => break,
                        }
                    }
                }
            }
            Some((id, result)) = in_flight.next(), if !in_flight.is_empty() => s.on_outcome(&id, result),
            frame = recv(&mut s.rx), if s.rx.is_some() => s.on_frame(frame).await,
            _ = ping.tick() => {
                if last_heard.elapsed() > limits.ping_interval * 3 {
                    s.close = Some((CLOSE_GOING_AWAY, "keepalive timeout".into()));
                } else {
                    s.out.push(Message::Ping(Default::default()));
                }
            }
            _ = &mut auth_deadline, if s.actor.is_none() => {
                s.close = Some((CLOSE_POLICY, "not authenticated in time".into()));
            }
            revoked = revocations.recv() => {
                if let Ok(id) = revoked
                    && s.token_id.as_deref() == Some(id.as_str())
                {
                    s.close = Some((CLOSE_POLICY, "token revoked".into()));
                }
            }
            () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
                s.close = Some((CLOSE_GOING_AWAY, "server shutting down".into()));
            }
        }
    }
    s.app.metrics.connections_open.fetch_sub(1, Relaxed);
}

async fn recv(rx: &mut Option<broadcast::Receiver<Arc<Frame>>>) -> Result<Arc<Frame>, RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Session {
    /// Writes queued messages with one flush. False when the client is too slow or gone.
    async fn flush(&mut self) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let n = self.out.len() as u64;
        let timeout = self.app.limits.write_timeout;
        let (sink, out) = (&mut self.sink, &mut self.out);
        let write = async {
            for m in out.drain(..) {
                sink.feed(m).await?;
            }
            sink.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => {
                self.app.metrics.frames_sent.fetch_add(n, Relaxed);
                true
            }
            Ok(Err(_)) => false,
            Err(_) => {
                tracing::info!("dropping a client that did not read for {timeout:?}");
                self.app.metrics.slow_client_closes.fetch_add(1, Relaxed);
                false
            }
        }
    }

    fn send(&mut self, text: impl Into<Utf8Bytes>) {
        self.out.push(Message::Text(text.into()));
    }

    fn error(&mut self, id: Option<&str>, e: WireError) {
        self.app.metrics.client_errors.fetch_add(1, Relaxed);
        self.send(protocol::error_message(id, &e));
    }

    fn hello(&mut self) {
        let seq = self.app.live.read().seq;
        let msg = serde_json::json!({
            "type": "hello",
            "protocol": protocol::PROTOCOL_VERSION,
            "server": concat!("crest ", env!("CARGO_PKG_VERSION")),
            "seq": seq,
            "authenticated": self.actor.is_some(),
            "role": self.actor.as_ref().map(|a| a.role),
            "team": self.actor.as_ref().and_then(|a| a.team.clone()),
        });
        self.send(msg.to_string());
    }

    async fn on_text(&mut self, text: &str, in_flight: &mut FuturesUnordered<InFlight>) {
        if !self.bucket.try_take(1.0) {
            let rate = self.app.limits.messages_per_second;
            return self.error(
                None,
                WireError::new(
                    "rate_limited",
                    format!("more than {rate} messages per second; message dropped"),
                ),
            );
        }
        if text.len() > self.app.limits.max_message_bytes && self.actor.is_none() {
            return self.unauthenticated();
        }
        if text.len() > self.app.limits.max_message_bytes {
            let max = self.app.limits.max_message_bytes;
            return self.error(
                None,
                WireError::new(
                    "frame_too_large",
                    format!("message of {} bytes exceeds {max}", text.len()),
                ),
            );
        }
        let msg = match protocol::parse_client_message(text) {
            Ok(m) => m,
            Err(e) => {
                // Before authentication only `auth` and `ping` are served: anything else, however
                // malformed, is answered `unauthenticated`; a malformed `auth` gets its precise
                // error.
                let (kind, id) = type_and_id(text);
                if self.actor.is_none() && kind.as_deref() != Some("auth") {
                    return self.unauthenticated();
                }
                return self.error(id.as_deref(), e);
            }
        };
        if let ClientMessage::Auth { token } = &msg {
            return self.authenticate(token).await;
        }
        if let ClientMessage::Ping { nonce } = &msg {
            return self.send(serde_json::json!({ "type": "pong", "nonce": nonce }).to_string());
        }
        let Some(actor) = self.actor.clone() else {
            return self.unauthenticated();
        };
        match msg {
            ClientMessage::Subscribe {
                layers,
                viewport,
                resume_from,
            } => self.subscribe(layers, viewport, resume_from).await,
            ClientMessage::SetViewport { viewport } => self.set_viewport(viewport).await,
            ClientMessage::Unsubscribe {} => {
                self.sub = None;
                self.rx = None;
                self.send(r#"{"type":"unsubscribed"}"#);
            }
            ClientMessage::Command { id, command } => {
                if let Err(e) = protocol::check_request_id(&id) {
                    return self.error(None, e);
                }
                let engine = self.app.engine.clone();
                in_flight.push(Box::pin(async move {
                    let r = engine.submit(actor, id.clone(), command).await;
                    (id, r)
                }));
            }
            ClientMessage::Query { id, query } => {
                if let Err(e) = protocol::check_request_id(&id) {
                    return self.error(None, e);
                }
                match self.answer(query) {
                    Ok(result) => self.send(
                        serde_json::json!({ "type": "answer", "id": id, "result": result })
                            .to_string(),
                    ),
                    Err(e) => self.error(Some(&id), e),
                }
            }
            ClientMessage::Auth { .. } | ClientMessage::Ping { .. } => {
                unreachable!("handled above")
            }
        }
    }

    fn unauthenticated(&mut self) {
        self.error(
            None,
            WireError::new(
                "unauthenticated",
                "send {\"type\":\"auth\",\"token\":…} first",
            ),
        );
    }

    async fn authenticate(&mut self, token: &str) {
        if self.actor.is_some() {
            return self.error(
                None,
                WireError::new(
                    "already_authenticated",
                    "this connection is already authenticated",
                ),
            );
        }
        match auth::authenticate(self.app.store.as_ref(), token).await {
            Ok(Authenticated { actor, token_id }) => {
                let msg = serde_json::json!({ "type": "authenticated", "role": actor.role, "team": actor.team, "name": actor.name });
                self.actor = Some(actor);
                self.token_id = Some(token_id);
                self.unauthenticated_slot = None;
                self.send(msg.to_string());
            }
            Err(e) => {
                self.auth_failures += 1;
                let err = match e {
                    AuthError::Revoked(_) => {
                        WireError::new("revoked_token", "this token was revoked")
                    }
                    AuthError::Store(_) => {
                        WireError::new("unavailable", "cannot check tokens right now")
                    }
                    _ => WireError::new("invalid_token", "unknown token"),
                };
                self.error(None, err);
                if self.auth_failures >= MAX_AUTH_FAILURES {
                    self.close = Some((
                        CLOSE_POLICY,
                        "too many failed authentication attempts".into(),
                    ));
                }
            }
        }
    }

    fn on_outcome(&mut self, id: &str, result: Result<Outcome, SubmitError>) {
        match result {
            Ok(o) => {
                let ack = Ack {
                    id,
                    seqs: o.seqs,
                    created: o.created.as_deref(),
                    duplicate: o.duplicate,
                };
                self.send(protocol::ack_message(&ack));
            }
            Err(e) => {
                let wire = WireError::new(e.code(), e.to_string());
                self.error(Some(id), wire);
            }
        }
    }

    async fn subscribe(
        &mut self,
        layers: Vec<Layer>,
        viewport: Option<BBox>,
        resume_from: Option<u64>,
    ) {
        if layers.is_empty() {
            return self.error(
                None,
                WireError::new("invalid_field", "subscribe needs at least one layer"),
            );
        }
        let max_catchup = self.app.limits.max_catchup;
        let mut sub = Subscription::new(layers, viewport);
        let live = self.app.live.clone();
        // Decide, under the projection's read lock, between a snapshot and a catch-up, and take a
        // hub reader positioned exactly after the state we looked at.
        let (plan, rx) = live.read_and_follow(|p| match resume_from {
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
            Some(_) => {
                Plan::Snapshot(sub.snapshot(&p.state, &p.spatial, p.seq, "resume_unavailable"))
            }
            None => Plan::Snapshot(sub.snapshot(&p.state, &p.spatial, p.seq, "subscribe")),
        });
        self.rx = Some(rx);
        match plan {
            Plan::Snapshot(text) => self.send(text),
            Plan::Resume { from, to, enters } => {
                self.send(
                    serde_json::json!({ "type": "resumed", "from_seq": from, "to_seq": to })
                        .to_string(),
                );
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
                            "unavailable",
                            format!(
                                "cannot read the log ({e}); subscribe again without resume_from"
                            ),
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
    async fn catch_up(
        &mut self,
        sub: &Subscription,
        from: u64,
        to: u64,
    ) -> Result<bool, crate::store::StoreError> {
        let mut at = from;
        while at < to {
            let page = self.app.store.events_after(at, CATCHUP_PAGE).await?;
            if page.is_empty() {
                break;
            }
            for e in page {
                if e.seq > to {
                    return Ok(true);
                }
                at = e.seq;
                let decoded = crate::codec::decode_event(&e)?;
                if protocol::event_routes(&decoded.event)
                    .iter()
                    .any(|(l, _)| sub.wants_layer(*l))
                {
                    self.send(protocol::event_message(e.seq, e.time_ms, &decoded.json));
                }
            }
            // One page at a time on the wire, so a long catch-up never sits in memory whole.
            if !self.flush().await {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn set_viewport(&mut self, viewport: Option<BBox>) {
        if self.sub.is_none() {
            return self.error(
                None,
                WireError::new("not_subscribed", "subscribe before setting a viewport"),
            );
        }
        let live = self.app.live.clone();
        let p = live.read();
        // With the read lock held nothing new is published: deliver what is already in the ring
        // under the old viewport, so the enter/leave diff below starts from exactly `p.seq`.
        let mut lagged = false;
        if let Some(rx) = self.rx.as_mut() {
            loop {
                match rx.try_recv() {
                    Ok(frame) => {
                        if let Some(bytes) = self.sub.as_mut().and_then(|s| s.select(&frame)) {
                            self.out.push(Message::Text(bytes));
                        }
                    }
                    Err(TryRecvError::Lagged(_)) => {
                        lagged = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        let sub = self.sub.as_mut().expect("checked above");
        if lagged {
            sub.viewport = viewport;
            let text = sub.snapshot(&p.state, &p.spatial, p.seq, "resync");
            drop(p);
            self.app.metrics.client_resyncs.fetch_add(1, Relaxed);
            return self.send(text);
        }
        let msgs = sub.move_viewport(viewport, &p.state, &p.spatial, p.seq);
        let seq = p.seq;
        drop(p);
        self.send(
            serde_json::json!({ "type": "viewport_set", "seq": seq, "viewport": viewport })
                .to_string(),
        );
        for m in msgs {
            self.send(m);
        }
    }

    async fn on_frame(&mut self, first: Result<Arc<Frame>, RecvError>) {
        let mut frames = Vec::new();
        let mut lagged = matches!(first, Err(RecvError::Lagged(_)));
        if let Ok(f) = first {
            frames.push(f);
        }
        if let Some(rx) = self.rx.as_mut() {
            while !lagged && frames.len() < MAX_DRAIN {
                match rx.try_recv() {
                    Ok(f) => frames.push(f),
                    Err(TryRecvError::Lagged(_)) => lagged = true,
                    Err(_) => break,
                }
            }
            self.app.metrics.note_lag(rx.len() as u64);
        }
        if lagged {
            return self.resync();
        }
        let superseded = if frames.len() > COALESCE_FROM {
            superseded_positions(&frames)
        } else {
            Vec::new()
        };
        self.app
            .metrics
            .frames_coalesced
            .fetch_add(superseded.iter().filter(|s| **s).count() as u64, Relaxed);
        let Some(sub) = self.sub.as_mut() else { return };
        for (i, f) in frames.iter().enumerate() {
            if superseded.get(i).copied().unwrap_or(false) {
                continue;
            }
            if let Some(bytes) = sub.select(f) {
                self.out.push(Message::Text(bytes));
            }
        }
    }

    /// The client fell a whole ring behind: give it a fresh snapshot, or close it if this keeps
    /// happening.
    fn resync(&mut self) {
        self.app.metrics.client_resyncs.fetch_add(1, Relaxed);
        let now = Instant::now();
        self.resyncs
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        self.resyncs.push(now);
        if self.resyncs.len() > self.app.limits.resyncs_before_close {
            self.app.metrics.slow_client_closes.fetch_add(1, Relaxed);
            self.close = Some((
                CLOSE_TRY_LATER,
                "client too slow: fell behind repeatedly".into(),
            ));
            return;
        }
        self.out.clear();
        self.send(r#"{"type":"resync","reason":"lagged"}"#);
        let live = self.app.live.clone();
        let Some(sub) = self.sub.as_mut() else { return };
        let (text, rx) =
            live.read_and_follow(|p| sub.snapshot(&p.state, &p.spatial, p.seq, "resync"));
        self.rx = Some(rx);
        self.send(text);
    }

    fn answer(&self, query: Query) -> Result<Value, WireError> {
        let p = self.app.live.read();
        let (state, spatial) = (&p.state, &p.spatial);
        let limit_ok = |limit: usize| {
            if limit == 0 || limit > protocol::MAX_QUERY_LIMIT {
                Err(WireError::new(
                    "invalid_field",
                    format!("limit must be 1 to {}", protocol::MAX_QUERY_LIMIT),
                ))
            } else {
                Ok(limit)
            }
        };
        let v = match query {
            Query::NearestTeams {
                point,
                limit,
                capability,
            } => {
                serde_json::json!({ "seq": p.seq, "teams": spatial.nearest_teams(state, point, limit_ok(limit)?, capability) })
            }
            Query::NearestShelters {
                point,
                min_free,
                limit,
            } => {
                serde_json::json!({ "seq": p.seq, "shelters": spatial.nearest_shelters(state, point, min_free, limit_ok(limit)?) })
            }
            Query::SnapToLevee { point, tolerance_m } => {
                if !(0.0..=protocol::MAX_SNAP_TOLERANCE_M).contains(&tolerance_m) {
                    return Err(WireError::new(
                        "invalid_field",
                        format!(
                            "tolerance_m must be 0 to {}",
                            protocol::MAX_SNAP_TOLERANCE_M
                        ),
                    ));
                }
                serde_json::json!({ "seq": p.seq, "location": spatial.levees.snap(point, tolerance_m) })
            }
            Query::ChainageToPoint { levee_id, chainage } => {
                let levee = state.levees.get(&levee_id).ok_or_else(|| {
                    WireError::new("not_found", format!("levee {levee_id} does not exist"))
                })?;
                let point = levee.point_at(chainage.metres()).ok_or_else(|| {
                    WireError::new(
                        "invalid_field",
                        format!(
                            "{chainage} is outside levee {levee_id} ({:.0}..{:.0} m)",
                            levee.start_chainage_m(),
                            levee.end_chainage_m()
                        ),
                    )
                })?;
                serde_json::json!({ "seq": p.seq, "point": point, "chainage": chainage.to_string() })
            }
            Query::InBbox { layer, bbox } => {
                serde_json::json!({ "seq": p.seq, "layer": layer, "ids": spatial.in_bbox(state, layer, &bbox) })
            }
            Query::Sitrep {} => {
                serde_json::json!({ "seq": p.seq, "sitrep": protocol::sitrep(state) })
            }
        };
        Ok(v)
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
        if let Some(key) = &f.coalesce_key
            && !seen.insert(key.as_str())
        {
            out[i] = true;
        }
    }
    out
}

/// Best effort, for a message that failed to parse: its `type` and its `id` (so the error can
/// name the request it answers).
fn type_and_id(text: &str) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return (None, None);
    };
    let field = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
    (field("type"), field("id"))
}
