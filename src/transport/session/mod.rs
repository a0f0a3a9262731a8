//! One WebSocket connection's loop: it reads the client's frames, the outcomes of its commands,
//! the live feed, keepalive ticks, the authentication deadline, revocations and shutdown, and
//! hands each to its handler. Everything the connection sends is queued in `out` and written in
//! one flush per loop turn, so a burst of frames costs one syscall, not one per frame.
//!
//! - [`messages`]: what the client sends — authentication, the rate limit, commands, queries.
//! - [`feed`]: what a subscription receives — the snapshot or a resume's catch-up, viewport
//!   changes, the live frames (coalesced for a client that falls behind) and resyncs.
//! - [`review`]: the past — queries `at` a moment, and the playback of the log (`review`).

mod feed;
mod messages;
mod review;

use super::App;
use super::Bound;
use super::listener::UnauthenticatedSlot;
use super::rate_limits::SharedBucket;
use super::subscription::Subscription;
use crate::domain::Actor;
use crate::engine::{Outcome, SubmitError};
use crate::hub::{Feed, Frame, Lagged};
use crate::protocol::{self, ErrorCode, ServerMessage, WireError};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::broadcast;
use tracing::Instrument;

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
    /// The space this connection acts in: the live one until a drill's token binds it to that
    /// drill's.
    space: crate::drill::Space,
    /// The drill of that space.
    drill: Option<Arc<crate::drill::registry::Drill>>,
    /// Set when an `auth` message bound the connection to another space (a drill's): the loop
    /// then follows that space's log health.
    rebound: bool,
    actor: Option<Actor>,
    /// The token this connection authenticated with; its revocation closes the connection.
    token_id: Option<String>,
    auth_failures: u32,
    sub: Option<Subscription>,
    /// The frames of the hub that concern the subscription.
    rx: Option<Feed>,
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
    /// Queries about a past moment, being folded (they count against `max_in_flight`).
    past: FuturesUnordered<review::PastAnswer>,
    /// The connection's review of the log, if one runs.
    review: Option<review::Review>,
}

/// Runs a connection to its end. `auth` is set when the upgrade request carried a valid token.
/// `slot` counts the connection against the unauthenticated cap until it authenticates.
pub async fn run(
    socket: WebSocket,
    app: Arc<App>,
    auth: Option<Bound>,
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
        span.record("token", a.auth.token_id.as_str());
        span.record("role", a.auth.actor.role.name());
    }
    serve(socket, app, auth, slot).instrument(span).await
}

async fn serve(
    socket: WebSocket,
    app: Arc<App>,
    auth: Option<Bound>,
    slot: Option<UnauthenticatedSlot>,
) {
    tracing::info!(authenticated = auth.is_some(), "connection opened");
    app.metrics
        .connection_opened(auth.as_ref().map(|a| a.auth.actor.role));
    let limits = app.limits.clone();
    let (sink, mut stream) = socket.split();
    let mut s = Session {
        sink,
        bucket: match &auth {
            Some(a) => app.rate_limits.for_token(&a.auth.token_id),
            None => app.rate_limits.anonymous(),
        },
        actor: auth.as_ref().map(|a| a.auth.actor.clone()),
        space: auth
            .as_ref()
            .map_or_else(|| app.live_space(), |a| a.space.clone()),
        drill: auth.as_ref().and_then(|a| a.drill.clone()),
        rebound: false,
        token_id: auth.map(|a| a.auth.token_id),
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
        past: FuturesUnordered::new(),
        review: None,
    };
    s.hello();
    let mut health = s.follow_health();
    let mut in_flight: FuturesUnordered<InFlight> = FuturesUnordered::new();
    let mut ping = tokio::time::interval(limits.ping_interval);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let auth_deadline = tokio::time::sleep(limits.auth_timeout);
    tokio::pin!(auth_deadline);
    // The rare signals — revocations, shutdown, the log's health — are each one wait kept across
    // loop turns: a wait rebuilt every turn registers on (and leaves) a channel every connection
    // shares, a lock taken twice per frame delivered.
    // Fused: a stream that ended (its sender gone, e.g. a removed drill's engine) stays ended
    // instead of panicking when `select!` polls it again on a later turn.
    let revocations = futures_util::stream::unfold(s.app.revoked.subscribe(), |mut rx| async {
        match rx.recv().await {
            Err(broadcast::error::RecvError::Closed) => None,
            r => Some((r, rx)),
        }
    })
    .fuse();
    let mut revocations = std::pin::pin!(revocations);
    let stopping = futures_util::stream::once({
        let mut stopping = s.app.shutdown.subscribe();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    })
    .fuse();
    let mut stopping = std::pin::pin!(stopping);
    // A token revoked between its check at the upgrade and this subscription would otherwise go
    // unnoticed: look once now that the notices are heard.
    s.close_if_revoked().await;

    loop {
        if s.rebound {
            // Authenticated with a drill's token: its log's health, not the live space's.
            s.rebound = false;
            health = s.follow_health();
        }
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
            incoming = stream.next(), if in_flight.len() + s.past.len() < limits.max_in_flight => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => s.on_text(&text, &mut in_flight).await,
                    Some(Ok(Message::Binary(_))) if s.actor.is_none() => s.unauthenticated(),
                    Some(Ok(Message::Binary(_))) => s.error(None, WireError::new(ErrorCode::UnsupportedFrame, "binary frames are not part of the protocol; send JSON text", "协议不使用二进制帧；请发送 JSON 文本")),
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
            Some((id, answer)) = s.past.next(), if !s.past.is_empty() => s.on_past_answer(&id, answer),
            item = review::next(&mut s.review), if s.review.is_some() => s.on_review(item),
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
            Some(revoked) = revocations.next() => match revoked {
                Ok(id) if s.token_id.as_deref() == Some(id.as_str()) => {
                    s.close = Some((CLOSE_POLICY, "token revoked".into()));
                }
                // Notices were missed: ask the store.
                Err(broadcast::error::RecvError::Lagged(_)) => s.close_if_revoked().await,
                _ => {}
            },
            now = health.next() => match now {
                Some(now) => s.status(now),
                // The space's engine has stopped and dropped its side: a drill removed
                // (`DELETE /api/v1/drills/{id}`), or the server stopping (which says so too).
                // Nothing more can happen in this space: close instead of idling forever.
                None => {
                    let stopping = *s.app.shutdown.borrow();
                    let reason = if s.drill.is_some() && !stopping { "drill removed" } else { "server shutting down" };
                    s.close = Some((CLOSE_GOING_AWAY, reason.into()));
                }
            },
            Some(()) = stopping.next() => {
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

async fn recv(rx: &mut Option<Feed>) -> Result<Arc<Frame>, Lagged> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The log health of a connection's space, each change once; ends when the space's engine
/// stops (a removed drill), fused so that it stays ended.
type HealthStream = Pin<Box<dyn futures_util::Stream<Item = crate::engine::LogHealth> + Send>>;

impl Session {
    /// Says the space's log health now if it is not writable, and follows it from here.
    fn follow_health(&mut self) -> HealthStream {
        let mut health = self.space.engine.watch_log_health();
        let now = *health.borrow_and_update();
        if now != crate::engine::LogHealth::Writable {
            self.status(now);
        }
        Box::pin(
            futures_util::stream::unfold(health, |mut h| async {
                h.changed().await.ok()?;
                let now = *h.borrow_and_update();
                Some((now, h))
            })
            .fuse(),
        )
    }

    /// Closes the connection (1008) if its token is revoked, asking the store.
    async fn close_if_revoked(&mut self) {
        let Some(token) = &self.token_id else {
            return;
        };
        match self.space.store.revoked_token_ids().await {
            Ok(ids) if ids.iter().any(|id| id == token) => {
                self.close = Some((CLOSE_POLICY, "token revoked".into()));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read revoked tokens"),
        }
    }

    /// Writes queued messages with one flush. False when the client is too slow or gone.
    async fn flush(&mut self) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let n = self.out.len() as u64;
        let timeout = self.app.limits.write_timeout;
        let mut out = std::mem::take(&mut self.out);
        let sink = &mut self.sink;
        let (written, at_once) = {
            let write = async {
                for m in out.drain(..) {
                    sink.feed(m).await?;
                }
                sink.flush().await
            };
            // Whether the socket took everything at once: a client that keeps up is judged by
            // what it fails to take, not by how many frames one published batch happens to hold.
            let mut write = std::pin::pin!(write);
            match futures_util::poll!(write.as_mut()) {
                std::task::Poll::Ready(r) => (Ok(r), true),
                std::task::Poll::Pending => (tokio::time::timeout(timeout, write).await, false),
            }
        };
        self.socket_behind = !at_once;
        // A burst's queue is not kept allocated by a connection that then sits idle.
        if out.capacity() <= 64 {
            out.clear();
            self.out = out;
        }
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
            message_zh: &e.message_zh,
        });
    }

    /// Whether this node's log is unwritable: then what it shows may be behind the log.
    pub(super) fn stale(&self) -> bool {
        self.space.engine.log_health() != crate::engine::LogHealth::Writable
    }

    /// The `status` message for the log's health `h`.
    fn status(&mut self, h: crate::engine::LogHealth) {
        let seq = self.space.live.read().seq;
        let message = match h {
            crate::engine::LogHealth::Writable => ServerMessage::Status {
                writable: true,
                fault: None,
                since_ms: None,
                seq,
            },
            crate::engine::LogHealth::Unwritable { fault, since_ms } => ServerMessage::Status {
                writable: false,
                fault: Some(fault.name()),
                since_ms: Some(since_ms),
                seq,
            },
        };
        self.send_message(message);
    }

    fn hello(&mut self) {
        let seq = self.space.live.read().seq;
        let actor = self.actor.clone();
        self.send_message(ServerMessage::Hello {
            protocol: protocol::PROTOCOL_VERSION,
            server: concat!("crest ", env!("CARGO_PKG_VERSION")),
            seq,
            authenticated: actor.is_some(),
            role: actor.as_ref().map(|a| a.role),
            team: actor.as_ref().and_then(|a| a.team.as_ref()),
            grid_worker: actor.as_ref().and_then(|a| a.grid_worker.as_ref()),
            exercise: self.drill.as_deref().map(super::exercise_mark),
        });
    }
}
