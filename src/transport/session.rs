//! One WebSocket connection: authentication, subscriptions, commands, queries, keepalive and
//! limits. Everything the connection sends is queued in `out` and written in one flush per loop
//! turn, so a burst of frames costs one syscall, not one per frame.

use super::App;
use super::listener::UnauthenticatedSlot;
use super::rate_limits::{SharedBucket, take_one};
use super::subscription::Subscription;
use crate::auth::{self, AuthError, Authenticated};
use crate::domain::events::Layer;
use crate::domain::{Actor, BBox};
use crate::engine::{Outcome, SubmitError};
use crate::hub::Frame;
use crate::protocol::{self, ClientMessage, ErrorCode, ServerMessage, SnapshotReason, WireError};
use crate::read;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tracing::Instrument;

/// Frames read from the ring per loop turn at most.
const MAX_DRAIN: usize = 1024;
/// A backlog longer than this is coalesced: only the newest position per team is sent.
const COALESCE_FROM: usize = 64;
/// Frames behind in the ring beyond which a connection is coalesced even if its socket still
/// takes writes: a quarter of the default ring, more than any one published batch.
const COALESCE_BACKLOG: usize = 2048;
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
    bucket: SharedBucket,
    resyncs: Vec<Instant>,
    out: Vec<Message>,
    close: Option<(u16, String)>,
    /// Held while the connection is not authenticated: counts against the unauthenticated cap.
    unauthenticated_slot: Option<UnauthenticatedSlot>,
    /// Messages dropped by the rate limit: the current window's start and count. One error
    /// answers a whole window.
    dropped: Option<(Instant, u64)>,
    /// The close code and reason the server sent, for the log.
    closed_with: Option<(u16, String)>,
    /// The last write had to wait for the client's socket: it is not keeping up.
    socket_behind: bool,
}

/// How long one `rate_limited` error answers for: drops within it are counted, not answered.
const RATE_NOTICE_WINDOW: Duration = Duration::from_secs(1);

/// Runs a connection to its end. `auth` is set when the upgrade request carried a valid token.
/// `slot` counts the connection against the unauthenticated cap until it authenticates.
pub async fn run(
    socket: WebSocket,
    app: Arc<App>,
    auth: Option<Authenticated>,
    slot: Option<UnauthenticatedSlot>,
    peer: SocketAddr,
) {
    // Every log line of the connection carries who it is; `token` and `role` are filled in when
    // it authenticates by message.
    let span = tracing::info_span!(
        "connection",
        %peer,
        token = tracing::field::Empty,
        role = tracing::field::Empty
    );
    if let Some(a) = &auth {
        span.record("token", a.token_id.as_str());
        span.record("role", a.actor.role.name());
    }
    serve(socket, app, auth, slot).instrument(span).await
}

async fn serve(
    socket: WebSocket,
    app: Arc<App>,
    auth: Option<Authenticated>,
    slot: Option<UnauthenticatedSlot>,
) {
    tracing::info!(authenticated = auth.is_some(), "connection opened");
    app.metrics
        .connection_opened(auth.as_ref().map(|a| a.actor.role));
    let limits = app.limits.clone();
    let (sink, mut stream) = socket.split();
    let mut s = Session {
        sink,
        bucket: match &auth {
            Some(a) => app.rate_limits.for_token(&a.token_id),
            None => app.rate_limits.anonymous(),
        },
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
        dropped: None,
        closed_with: None,
        socket_behind: false,
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
            s.closed_with = Some((code, reason.clone()));
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
                    Some(Ok(Message::Binary(_))) => s.error(None, WireError::new(ErrorCode::UnsupportedFrame, "binary frames are not part of the protocol; send JSON text")),
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
    s.app
        .metrics
        .connection_closed(s.actor.as_ref().map(|a| a.role));
    match &s.closed_with {
        Some((code, reason)) => tracing::info!(code, reason, "connection closed by the server"),
        None => tracing::info!("connection closed"),
    }
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
        // Whether the socket took everything at once: a client that keeps up is judged by what
        // it fails to take, not by how many frames one published batch happens to hold.
        let mut write = std::pin::pin!(write);
        let done_at_once = futures_util::poll!(write.as_mut());
        self.socket_behind = done_at_once.is_pending();
        let written = match done_at_once {
            std::task::Poll::Ready(r) => Ok(r),
            std::task::Poll::Pending => tokio::time::timeout(timeout, write).await,
        };
        match written {
            Ok(Ok(())) => {
                self.app.metrics.frames_sent.inc_by(n);
                true
            }
            Ok(Err(_)) => false,
            Err(_) => {
                tracing::info!("dropping a client that did not read for {timeout:?}");
                self.app.metrics.slow_client_closes.inc();
                false
            }
        }
    }

    fn send_message(&mut self, message: ServerMessage<'_>) {
        self.send(message.to_text());
    }

    fn send(&mut self, text: impl Into<Utf8Bytes>) {
        self.out.push(Message::Text(text.into()));
    }

    fn error(&mut self, id: Option<&str>, e: WireError) {
        self.app.metrics.client_error(e.code);
        self.send_message(ServerMessage::Error {
            id,
            code: e.code,
            message: &e.message,
        });
    }

    fn hello(&mut self) {
        let seq = self.app.live.read().seq;
        let actor = self.actor.clone();
        self.send_message(ServerMessage::Hello {
            protocol: protocol::PROTOCOL_VERSION,
            server: concat!("crest ", env!("CARGO_PKG_VERSION")),
            seq,
            authenticated: actor.is_some(),
            role: actor.as_ref().map(|a| a.role),
            team: actor.as_ref().and_then(|a| a.team.as_ref()),
        });
    }

    async fn on_text(&mut self, text: &str, in_flight: &mut FuturesUnordered<InFlight>) {
        if !take_one(&self.bucket) {
            return self.rate_limited();
        }
        if text.len() > self.app.limits.max_message_bytes && self.actor.is_none() {
            return self.unauthenticated();
        }
        if text.len() > self.app.limits.max_message_bytes {
            let max = self.app.limits.max_message_bytes;
            return self.error(
                None,
                WireError::new(
                    ErrorCode::FrameTooLarge,
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
        if let ClientMessage::Auth(protocol::Auth { token }) = &msg {
            return self.authenticate(token).await;
        }
        if let ClientMessage::Ping(protocol::Ping { nonce }) = &msg {
            return self.send_message(ServerMessage::Pong { nonce });
        }
        let Some(actor) = self.actor.clone() else {
            return self.unauthenticated();
        };
        match msg {
            ClientMessage::Subscribe(protocol::Subscribe {
                layers,
                viewport,
                resume_from,
            }) => self.subscribe(layers, viewport, resume_from).await,
            ClientMessage::SetViewport(protocol::SetViewport { viewport }) => {
                self.set_viewport(viewport).await
            }
            ClientMessage::Unsubscribe(_) => {
                self.sub = None;
                self.rx = None;
                self.send_message(ServerMessage::Unsubscribed {});
            }
            ClientMessage::Command(protocol::CommandMessage { id, command }) => {
                if let Err(e) = protocol::check_request_id(&id) {
                    return self.error(None, e);
                }
                let engine = self.app.engine.clone();
                in_flight.push(Box::pin(async move {
                    let r = engine.submit(actor, id.clone(), command).await;
                    (id, r)
                }));
            }
            ClientMessage::Query(protocol::QueryMessage { id, query }) => {
                if let Err(e) = protocol::check_request_id(&id) {
                    return self.error(None, e);
                }
                let answer = read::answer(&self.app.live.read(), query);
                match answer {
                    Ok(result) => self.send_message(ServerMessage::Answer {
                        id: &id,
                        result: &result,
                    }),
                    Err(e) => self.error(Some(&id), e),
                }
            }
            ClientMessage::Auth(_) | ClientMessage::Ping(_) => {
                unreachable!("handled above")
            }
        }
    }

    /// A message over the rate limit is dropped. The first drop of a window is answered, with
    /// the count of the previous window; later drops in the same window only count.
    fn rate_limited(&mut self) {
        let now = Instant::now();
        let before = match &mut self.dropped {
            Some((since, n)) if now.duration_since(*since) < RATE_NOTICE_WINDOW => {
                *n += 1;
                return;
            }
            Some((_, n)) => *n,
            None => 0,
        };
        self.dropped = Some((now, 1));
        let rate = self.app.limits.messages_per_second;
        let earlier = if before > 1 {
            format!(" ({before} were dropped in the window before)")
        } else {
            String::new()
        };
        self.error(
            None,
            WireError::new(
                ErrorCode::RateLimited,
                format!(
                    "more than {rate} messages per second: this message and any others in the next second are dropped, answered by this one error{earlier}"
                ),
            ),
        );
    }

    fn unauthenticated(&mut self) {
        self.error(
            None,
            WireError::new(
                ErrorCode::Unauthenticated,
                "send {\"type\":\"auth\",\"token\":…} first",
            ),
        );
    }

    async fn authenticate(&mut self, token: &str) {
        if self.actor.is_some() {
            return self.error(
                None,
                WireError::new(
                    ErrorCode::AlreadyAuthenticated,
                    "this connection is already authenticated",
                ),
            );
        }
        match auth::authenticate(self.app.store.as_ref(), token).await {
            Ok(Authenticated { actor, token_id }) => {
                let msg = ServerMessage::Authenticated {
                    role: actor.role,
                    team: actor.team.as_ref(),
                    name: &actor.name,
                }
                .to_text();
                let span = tracing::Span::current();
                span.record("token", token_id.as_str());
                span.record("role", actor.role.name());
                tracing::info!("authenticated");
                self.bucket = self.app.rate_limits.for_token(&token_id);
                self.app.metrics.connection_authenticated(actor.role);
                self.actor = Some(actor);
                self.token_id = Some(token_id);
                self.unauthenticated_slot = None;
                self.send(msg);
            }
            Err(e) => {
                tracing::info!(reason = %e, "authentication failed");
                self.auth_failures += 1;
                let err = match e {
                    AuthError::Revoked(_) => {
                        WireError::new(ErrorCode::RevokedToken, "this token was revoked")
                    }
                    AuthError::Store(_) => {
                        WireError::new(ErrorCode::Unavailable, "cannot check tokens right now")
                    }
                    _ => WireError::new(ErrorCode::InvalidToken, "unknown token"),
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
                self.send_message(ServerMessage::Ack {
                    id,
                    seqs: &o.seqs,
                    created: o.created.as_deref(),
                    duplicate: o.duplicate,
                });
            }
            Err(e) => {
                let wire = WireError::from(&e);
                if let Some(suppressed) = self.app.refusals_log.check() {
                    tracing::info!(id, code = %wire.code, reason = %wire.message, suppressed, "command refused");
                }
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
                WireError::new(
                    ErrorCode::InvalidField,
                    "subscribe needs at least one layer",
                ),
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
            Some(_) => Plan::Snapshot(sub.snapshot(
                &p.state,
                &p.spatial,
                p.seq,
                SnapshotReason::ResumeUnavailable,
            )),
            None => {
                Plan::Snapshot(sub.snapshot(&p.state, &p.spatial, p.seq, SnapshotReason::Subscribe))
            }
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
                if read::event_routes(&decoded.event).any(|(l, _)| sub.wants_layer(l)) {
                    self.send_message(ServerMessage::Event {
                        seq: e.seq,
                        time_ms: e.time_ms,
                        event: &decoded.json,
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

    async fn set_viewport(&mut self, viewport: Option<BBox>) {
        if self.sub.is_none() {
            return self.error(
                None,
                WireError::new(
                    ErrorCode::NotSubscribed,
                    "subscribe before setting a viewport",
                ),
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
                            self.out.push(shared_text(bytes));
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
            let text = sub.snapshot(&p.state, &p.spatial, p.seq, SnapshotReason::Resync);
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

    /// The client fell a whole ring behind: give it a fresh snapshot, or close it if this keeps
    /// happening.
    fn resync(&mut self) {
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
        let live = self.app.live.clone();
        let Some(sub) = self.sub.as_mut() else { return };
        let (text, rx) = live
            .read_and_follow(|p| sub.snapshot(&p.state, &p.spatial, p.seq, SnapshotReason::Resync));
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

/// Best effort, for a message that failed to parse: its `type` and its `id` (so the error can
/// name the request it answers).
fn type_and_id(text: &str) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return (None, None);
    };
    let field = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
    (field("type"), field("id"))
}

/// A hub frame's shared bytes as a text message (they are UTF-8: every frame is built from a
/// `String`). The check is the price of keeping the hub free of the web framework's types.
fn shared_text(bytes: bytes::Bytes) -> Message {
    Message::Text(Utf8Bytes::try_from(bytes).expect("hub frames are UTF-8"))
}
