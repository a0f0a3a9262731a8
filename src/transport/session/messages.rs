//! What the client sends: authentication (by message), the per-token rate limit, commands and
//! queries, each answered on the connection's queue.

use super::{CLOSE_POLICY, InFlight, Session};
use crate::auth::{AuthError, Authenticated};
use crate::engine::{Outcome, SubmitError};
use crate::protocol::{self, ClientMessage, ErrorCode, ServerMessage, WireError};
use crate::read;
use crate::transport::rate_limits::take_one;
use futures_util::stream::FuturesUnordered;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Failed authentication attempts before the connection is closed.
const MAX_AUTH_FAILURES: u32 = 5;
/// How long one `rate_limited` error answers for: drops within it are counted, not answered.
const RATE_NOTICE_WINDOW: Duration = Duration::from_secs(1);

impl Session {
    pub(super) async fn on_text(&mut self, text: &str, in_flight: &mut FuturesUnordered<InFlight>) {
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
                    format!("消息长{}字节，超过上限{max}字节", text.len()),
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
            }) => {
                self.subscribe(layers, viewport, resume_from.map(|s| s.get()))
                    .await
            }
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
                let engine = self.space.engine.clone();
                in_flight.push(Box::pin(async move {
                    let r = engine.submit(actor, id.clone(), command).await;
                    (id, r)
                }));
            }
            ClientMessage::Query(protocol::QueryMessage { id, query, at }) => {
                if let Err(e) = protocol::check_request_id(&id) {
                    return self.error(None, e);
                }
                if let Some(at) = at {
                    return self.past_query(id, query, at);
                }
                let now = self.space.clock.now_ms();
                let district = self.app.district_name();
                let answer = read::answer(&self.space.live.read(), query, now, district.as_deref());
                match answer {
                    Ok(result) => self.send_message(ServerMessage::Answer {
                        id: &id,
                        result: &result,
                        exercise: self.drill.is_some(),
                        stale: self.stale(),
                    }),
                    Err(e) => self.error(Some(&id), e),
                }
            }
            ClientMessage::Review(r) => self.start_review(r).await,
            ClientMessage::ReviewControl(c) => self.control_review(c).await,
            ClientMessage::Auth(_) | ClientMessage::Ping(_) => {
                unreachable!("handled above")
            }
        }
    }

    /// A message over the rate limit is dropped. The first drop of a window is answered, with
    /// the count of the previous window; later drops in the same window only count.
    pub(super) fn rate_limited(&mut self) {
        let now = Instant::now();
        let before = match &mut self.dropped {
            Some((since, n)) if now.duration_since(*since) < RATE_NOTICE_WINDOW => {
                *n += 1;
                return;
            }
            Some((_, n)) => *n,
            None => 0,
        };
        // This drop is answered; the window counts the ones after it.
        self.dropped = Some((now, 0));
        let rate = self.app.limits.messages_per_second;
        let (earlier, earlier_zh) = if before > 0 {
            (
                format!(" ({before} more were dropped unanswered in the window before)"),
                format!("（上一时间窗内另有{before}条消息被丢弃且未答复）"),
            )
        } else {
            (String::new(), String::new())
        };
        self.error(
            None,
            WireError::new(
                ErrorCode::RateLimited,
                format!(
                    "more than {rate} messages per second: this message and any others in the next second are dropped, answered by this one error{earlier}"
                ),
                format!(
                    "每秒超过{rate}条消息：本条及此后一秒内的其他消息均被丢弃，仅以本条错误答复{earlier_zh}"
                ),
            ),
        );
    }

    pub(super) fn unauthenticated(&mut self) {
        self.error(
            None,
            WireError::new(
                ErrorCode::Unauthenticated,
                "send {\"type\":\"auth\",\"token\":…} first",
                "请先发送 {\"type\":\"auth\",\"token\":…} 进行认证",
            ),
        );
    }

    pub(super) async fn authenticate(&mut self, token: &str) {
        if self.actor.is_some() {
            return self.error(
                None,
                WireError::new(
                    ErrorCode::AlreadyAuthenticated,
                    "this connection is already authenticated",
                    "本连接已经认证",
                ),
            );
        }
        match self.app.authenticate(token).await {
            Ok(bound) => {
                let Authenticated { actor, token_id } = bound.auth;
                let msg = ServerMessage::Authenticated {
                    role: actor.role,
                    team: actor.team.as_ref(),
                    grid_worker: actor.grid_worker.as_ref(),
                    name: &actor.name,
                    exercise: bound.drill.as_deref().map(super::super::exercise_mark),
                }
                .to_text();
                self.space = bound.space;
                self.drill = bound.drill;
                self.rebound = self.drill.is_some();
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
                    AuthError::Revoked(_) => WireError::new(
                        ErrorCode::RevokedToken,
                        "this token was revoked",
                        "此令牌已被吊销",
                    ),
                    AuthError::Store(_) => WireError::new(
                        ErrorCode::StoreUnavailable,
                        "cannot check tokens right now",
                        "暂时无法核验令牌",
                    ),
                    _ => WireError::new(ErrorCode::InvalidToken, "unknown token", "未知令牌"),
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

    pub(super) fn on_outcome(&mut self, id: &str, result: Result<Outcome, SubmitError>) {
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
