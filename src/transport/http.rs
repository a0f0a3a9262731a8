//! HTTP endpoints and the WebSocket upgrade, all on one port.

use super::{App, session};
use crate::auth::AuthError;
use crate::domain::Layer;
use crate::engine::LogHealth;
use crate::protocol::ErrorCode;
use crate::read::{cap, geojson};
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/ws", get(websocket))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/layers/{layer}", get(layer))
        .route("/api/v1/map", get(map_index))
        .route("/api/v1/vocabulary", get(vocabulary))
        .route("/api/v1/sitrep", get(sitrep))
        .route("/api/v1/map/{layer}", get(map_layer))
        .route("/api/v1/gauges/{id}/hydrograph", get(gauge_hydrograph))
        .route("/api/v1/cap", get(cap_feed))
        .route("/api/v1/cap/{identifier}", get(cap_message))
        .route(
            "/api/v1/drills",
            get(super::drill_routes::list).post(super::drill_routes::start),
        )
        .route(
            "/api/v1/drills/{id}",
            get(super::drill_routes::show).delete(super::drill_routes::remove),
        )
        .route(
            "/api/v1/drills/{id}/cues",
            get(super::drill_routes::drill_cues),
        )
        .route("/api/v1/review/cues", get(super::drill_routes::cues))
        .route(
            "/api/v1/drills/{id}/control",
            axum::routing::post(super::drill_routes::control),
        )
        .route(
            "/api/v1/drills/{id}/tokens",
            axum::routing::post(super::drill_routes::issue_token),
        )
        .route(
            "/api/v1/tokens/{id}/revoke",
            axum::routing::post(revoke_token),
        )
        .fallback(super::web::serve)
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            mark_stale,
        ))
        .with_state(app)
}

/// While this node cannot write its log, every answer says so (`Crest-Stale: <fault>`): what it
/// serves is its last state, which may be behind what other nodes committed.
async fn mark_stale(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if let crate::engine::LogHealth::Unwritable { fault, .. } = app.engine.log_health() {
        response.headers_mut().insert(
            "crest-stale",
            axum::http::HeaderValue::from_static(fault.name()),
        );
    }
    response
}

/// A JSON error body: `{"code": …, "message": …, "message_zh": …}`.
pub(super) fn error(
    status: StatusCode,
    code: ErrorCode,
    message: impl Into<String>,
    message_zh: impl Into<String>,
) -> Response {
    let body = serde_json::json!({ "code": code, "message": message.into(), "message_zh": message_zh.into() });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct TokenParam {
    token: Option<String>,
}

/// The bearer token from `Authorization: Bearer …` (the scheme is case-insensitive, RFC 9110)
/// or, for browsers' WebSocket API, `?token=…`. An `Authorization` header that is not a bearer
/// token with a value (`Basic …`, `Bearer` alone) is refused with 401, never ignored.
pub(super) fn presented_token(
    headers: &HeaderMap,
    query: &TokenParam,
) -> Result<Option<String>, MalformedAuthorization> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(query.token.clone());
    };
    let value = value.to_str().map_err(|_| MalformedAuthorization)?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(MalformedAuthorization);
    }
    Ok(Some(token.to_string()))
}

/// An `Authorization` header that is not `Bearer <token>`.
#[derive(Debug)]
pub(super) struct MalformedAuthorization;

async fn authenticate(
    app: &App,
    token: Result<Option<String>, MalformedAuthorization>,
) -> Result<Option<super::Bound>, Response> {
    let token = token.map_err(|MalformedAuthorization| {
        error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "the Authorization header must be `Bearer <token>`",
            "Authorization 请求头必须是 `Bearer <token>`",
        )
    })?;
    let Some(token) = token else { return Ok(None) };
    match app.authenticate(&token).await {
        Ok(authenticated) => Ok(Some(authenticated)),
        Err(AuthError::Revoked(id)) => {
            tracing::info!(token = %id, "authentication failed: revoked token");
            Err(error(
                StatusCode::UNAUTHORIZED,
                ErrorCode::RevokedToken,
                "this token was revoked",
                "此令牌已被吊销",
            ))
        }
        Err(AuthError::Store(e)) => {
            tracing::error!(error = %e, "token lookup failed");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StoreUnavailable,
                "cannot check tokens right now",
                "暂时无法核验令牌",
            ))
        }
        Err(e) => {
            tracing::info!(reason = %e, "authentication failed");
            Err(error(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidToken,
                "unknown token",
                "未知令牌",
            ))
        }
    }
}

/// A read that needs a token: the token checked, or the response for its absence or refusal.
pub(super) async fn require_token(
    app: &App,
    token: Result<Option<String>, MalformedAuthorization>,
) -> Result<super::Bound, Response> {
    authenticate(app, token).await?.ok_or_else(|| {
        error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "send Authorization: Bearer <token>",
            "请发送 Authorization: Bearer <token>",
        )
    })
}

/// The query string's `token`, or the error a client gets for a query string that does not parse
/// (axum's own rejection is plain text, not `{code, message}`).
pub(super) fn token_param(
    q: Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>,
) -> Result<TokenParam, Box<Response>> {
    q.map(|Query(q)| q).map_err(|_| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            "the query string must hold at most one `token`",
            "查询字符串最多只能有一个 `token`",
        ))
    })
}

async fn websocket(
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    State(app): State<Arc<App>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    q: Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return error(
                rejection.status(),
                ErrorCode::InvalidMessage,
                "this path takes a WebSocket upgrade: GET with `Connection: Upgrade`, `Upgrade: websocket` and `Sec-WebSocket-Version: 13`",
                "此路径只接受 WebSocket 升级：GET 请求，带 `Connection: Upgrade`、`Upgrade: websocket` 和 `Sec-WebSocket-Version: 13`",
            );
        }
    };
    let q = match token_param(q) {
        Ok(q) => q,
        Err(resp) => return *resp,
    };
    // A token on the upgrade request is checked before upgrading, so a bad one is a plain 401.
    let authenticated = match authenticate(&app, presented_token(&headers, &q)).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    // Without a token the connection counts against the unauthenticated cap.
    let unauthenticated = match &authenticated {
        Some(_) => None,
        None => match app.gate.unauthenticated() {
            Some(slot) => Some(slot),
            None => {
                let timeout = app.limits.write_timeout;
                return ws.on_upgrade(move |socket| refuse_unauthenticated(socket, timeout));
            }
        },
    };
    let limits = &app.limits;
    ws.max_message_size(limits.hard_frame_bytes)
        .max_frame_size(limits.hard_frame_bytes)
        // Tablets are mostly idle: small buffers keep memory per connection low. Small also
        // because tungstenite zero-fills this much of its read buffer at every read attempt, and
        // the session polls its socket at every turn (every frame delivered): 8 KiB cost ~7 % of
        // the server's CPU in the district fan-out (docs/performance.md). A client's command is
        // a few hundred bytes; a larger message takes several reads.
        .read_buffer_size(READ_BUFFER_BYTES)
        // Writes wait for the socket once 16 KiB are buffered (backpressure). No cap on the
        // buffer itself: one message (a large snapshot) may exceed any fixed cap.
        .write_buffer_size(16 * 1024)
        .on_upgrade(move |socket| session::run(socket, app, authenticated, unauthenticated, peer))
}

/// Bytes tungstenite reads from a connection's socket at a time.
const READ_BUFFER_BYTES: usize = 2 * 1024;

/// Closes a WebSocket beyond the unauthenticated cap with 1013 (try again later): an HTTP 503
/// before the upgrade would reach a browser's WebSocket API only as a bare 1006.
async fn refuse_unauthenticated(mut socket: WebSocket, timeout: std::time::Duration) {
    let close = Message::Close(Some(CloseFrame {
        code: 1013,
        reason: "too many unauthenticated connections; retry later".into(),
    }));
    let _ = tokio::time::timeout(timeout, socket.send(close)).await;
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    if !app.engine.is_running() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::EngineStopped,
            "the engine is not running",
            "引擎未运行",
        );
    }
    if let LogHealth::Unwritable { fault, since_ms } = app.engine.log_health() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::LogUnwritable,
            format!(
                "the event log cannot be written ({fault}) since {since_ms} ms after the epoch; commands are refused until a write succeeds"
            ),
            format!("事件日志自纪元后{since_ms}毫秒起无法写入（{fault}）；写入恢复前拒绝一切指令"),
        );
    }
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            database_down()
        }
    }
}

/// 503 `store_unavailable`, for a client; the cause goes to the log at the call.
fn database_down() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::StoreUnavailable,
        "the database does not answer",
        "数据库无响应",
    )
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        app.metrics.render(),
    )
        .into_response()
}

/// `GET /api/v1/layers/{layer}`'s query string (other parameters are ignored, as they always
/// were here).
#[derive(Deserialize)]
struct LayerParams {
    token: Option<String>,
    /// A past moment: a seq, or an RFC 3339 time.
    at: Option<String>,
}

async fn layer(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    q: Result<Query<LayerParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            "the query string takes `at` (a seq or an RFC 3339 time) and `token`, each at most once",
            "查询字符串只接受 `at`（序号或 RFC 3339 时间）和 `token`，各至多一次",
        );
    };
    let token = TokenParam {
        token: q.token.clone(),
    };
    let bound = match require_token(&app, presented_token(&headers, &token)).await {
        Ok(bound) => bound,
        Err(resp) => return resp,
    };
    let Some(layer) = Layer::parse(&name) else {
        let valid: Vec<&str> = Layer::ALL.iter().map(|l| l.name()).collect();
        return error(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownLayer,
            format!("no layer {name:?}; the layers are {}", valid.join(", ")),
            format!("没有图层 {name:?}；图层有 {}", valid.join(", ")),
        );
    };
    let past = match q.at.as_deref() {
        Some(at) => match past(&bound.space, at).await {
            Ok(p) => Some(p),
            Err(resp) => return resp,
        },
        None => None,
    };
    let (etag, body) = {
        let live = past.is_none().then(|| bound.space.live.read());
        let p = match (&past, &live) {
            (Some(past), _) => &past.projection,
            (None, Some(live)) => &**live,
            (None, None) => unreachable!("one of the two"),
        };
        let mut collection = geojson::layer_collection(&p.state, layer, p.seq);
        if let Some(past) = &past {
            let members = collection.foreign_members.get_or_insert_default();
            members.insert("crest_at".into(), past.at_json());
        }
        // The tag is a hash of the layer's features alone: it changes exactly when this layer
        // changes (not with every event of another layer), and two different contents never
        // share one (a restored database cannot reuse a tag). It is weak (RFC 9110 §8.8.1): the
        // body's `crest_seq` moves with every event of any layer, so two bodies under one tag
        // are equivalent, not byte-identical.
        let strong = content_etag(
            layer.name(),
            &serde_json::to_string(&collection.features).expect("features serialize"),
        );
        (format!("W/{strong}"), collection.to_string())
    };
    if if_none_match_hits(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/geo+json".to_string()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/v1/gauges/{id}/hydrograph?from_ms=…&until_ms=…`: the `hydrograph` query's answer
/// over HTTP, for any role's token, like the live layers.
#[derive(Deserialize)]
struct HydrographParams {
    token: Option<String>,
    from_ms: Option<i64>,
    until_ms: Option<i64>,
}

async fn gauge_hydrograph(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<HydrographParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            "the query string takes `from_ms` and `until_ms` (whole milliseconds since the epoch) and at most one `token`",
            "查询串只接受 `from_ms` 和 `until_ms`（自纪元起的整毫秒数）及至多一个 `token`",
        );
    };
    let token = TokenParam {
        token: q.token.clone(),
    };
    let bound = match require_token(&app, presented_token(&headers, &token)).await {
        Ok(bound) => bound,
        Err(resp) => return resp,
    };
    if let Some(t) = [q.from_ms, q.until_ms]
        .into_iter()
        .flatten()
        .find(|t| *t < 0)
    {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidValue,
            format!("time {t} is before the Unix epoch"),
            format!("时间 {t} 早于 Unix 纪元"),
        );
    }
    let answer = {
        let p = bound.space.live.read();
        crate::read::hydrograph(&p.state, p.seq, &id, q.from_ms, q.until_ms)
    };
    match answer {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body.to_string(),
        )
            .into_response(),
        Err(e) => {
            let status = match e.code {
                ErrorCode::NotFound => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            error(status, e.code, e.message, e.message_zh)
        }
    }
}

/// Revokes a token at once: its open sessions are told before this answers, and close (1008) as
/// soon as they read the notice. Needs a dispatcher's token. (`crest token revoke` from another process reaches open sessions through
/// the periodic check instead.)
async fn revoke_token(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match token_param(q) {
        Ok(q) => q,
        Err(resp) => return *resp,
    };
    let who = match require_token(&app, presented_token(&headers, &q)).await {
        Ok(who) => who,
        Err(resp) => return resp,
    };
    if who.drill.is_some() {
        return error(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "a drill's token cannot revoke tokens: a drill never changes the live space",
            "演练令牌不能吊销令牌：演练不能改变实战数据",
        );
    }
    let who = who.auth;
    if who.actor.role != crate::domain::Role::Dispatcher {
        return error(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only a dispatcher may revoke tokens",
            "只有调度员可以吊销令牌",
        );
    }
    // A token lives in its space's log: the live one, or a hosted drill's.
    let mut revoked = app.store.revoke_token(&id, crate::clock::now_ms()).await;
    for drill in app.drills.list() {
        if matches!(revoked, Ok(false)) {
            revoked = drill
                .space
                .store
                .revoke_token(&id, crate::clock::now_ms())
                .await;
        }
    }
    match revoked {
        Ok(true) => {
            tracing::info!(token = %id, by = %who.actor.name, "token revoked; closing its sessions");
            let _ = app.revoked.send(id.clone());
            (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::json!({ "revoked": id }).to_string(),
            )
                .into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no active token {id}"),
            format!("没有有效的令牌{id}"),
        ),
        Err(e) => {
            tracing::error!(error = %e, "revoking a token failed");
            database_down()
        }
    }
}

/// `GET /api/v1/sitrep`'s query string.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SitrepParams {
    token: Option<String>,
    #[serde(default)]
    lang: crate::domain::vocabulary::Lang,
    #[serde(default)]
    format: crate::domain::vocabulary::SitrepFormat,
    /// A past moment: a seq, or an RFC 3339 time.
    at: Option<String>,
}

/// The situation report, as the `sitrep` query gives it: JSON, or the Markdown report itself
/// (`text/markdown`). Needs a token, like the live layers.
async fn sitrep(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Result<Query<SitrepParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            "the query string takes `lang` (zh or en), `format` (json or markdown), `at` (a seq or an RFC 3339 time) and `token`, each at most once",
            "查询字符串只接受 `lang`（zh 或 en）、`format`（json 或 markdown）、`at`（序号或 RFC 3339 时间）和 `token`，各至多一次",
        );
    };
    let token = TokenParam {
        token: q.token.clone(),
    };
    let bound = match require_token(&app, presented_token(&headers, &token)).await {
        Ok(bound) => bound,
        Err(resp) => return resp,
    };
    let past = match q.at.as_deref() {
        Some(at) => match past(&bound.space, at).await {
            Ok(p) => Some(p),
            Err(resp) => return resp,
        },
        None => None,
    };
    let district = app.district_name();
    let report = {
        let live = past.is_none().then(|| bound.space.live.read());
        let (p, at_ms) = match (&past, &live) {
            (Some(past), _) => (&past.projection, past.time_ms),
            (None, Some(live)) => (&**live, bound.space.clock.now_ms()),
            (None, None) => unreachable!("one of the two"),
        };
        let header = crate::read::sitrep_markdown::Header {
            district,
            at_ms,
            seq: p.seq,
        };
        match q.format {
            crate::domain::vocabulary::SitrepFormat::Json => {
                let mut report =
                    crate::read::sitrep_markdown::report(&p.state, &header, q.format, q.lang);
                if let Some(past) = &past {
                    report["at"] = past.at_json();
                }
                report.to_string()
            }
            crate::domain::vocabulary::SitrepFormat::Markdown => {
                crate::read::sitrep_markdown::markdown(&p.state, &header, q.lang)
            }
        }
    };
    let content_type = match q.format {
        crate::domain::vocabulary::SitrepFormat::Json => "application/json",
        crate::domain::vocabulary::SitrepFormat::Markdown => "text/markdown; charset=utf-8",
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        report,
    )
        .into_response()
}

/// The path of the CAP feed; each message is at `CAP_PATH/<identifier>`.
const CAP_PATH: &str = "/api/v1/cap";

/// Computes a CAP answer from the committed state of the token's space, with the server's sender
/// and district. A drill's messages have status `Exercise` and a sender of their own
/// (`crest-<district>-DR-3`), so their identifiers never collide with live ones.
fn with_cap<T>(
    app: &App,
    bound: &super::Bound,
    f: impl FnOnce(&crate::domain::State, &cap::CapContext<'_>) -> T,
) -> T {
    let district = app.district();
    let mut sender = cap::sender_for(district.as_ref().map(|(id, _)| id.as_str()));
    if let Some(d) = &bound.drill {
        sender = format!("{sender}-{}", d.id);
    }
    let p = bound.space.live.read();
    let ctx = cap::CapContext {
        sender: &sender,
        district: district
            .as_ref()
            .map(|(id, name)| (id.as_str(), name.as_str())),
        exercise: p.state.exercise.is_some(),
    };
    f(&p.state, &ctx)
}

/// `GET /api/v1/cap`: the Atom feed of the current CAP messages. Needs a token, like the layers.
async fn cap_feed(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match token_param(q) {
        Ok(q) => q,
        Err(resp) => return *resp,
    };
    let bound = match require_token(&app, presented_token(&headers, &q)).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let body = with_cap(&app, &bound, |state, ctx| {
        cap::atom_feed(state, ctx, CAP_PATH)
    });
    (
        [
            (header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/v1/cap/{identifier}`: one CAP 1.2 message, current or superseded.
async fn cap_message(
    State(app): State<Arc<App>>,
    Path(identifier): Path<String>,
    headers: HeaderMap,
    q: Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match token_param(q) {
        Ok(q) => q,
        Err(resp) => return *resp,
    };
    let bound = match require_token(&app, presented_token(&headers, &q)).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    match with_cap(&app, &bound, |state, ctx| {
        cap::message(state, ctx, &identifier).map(|m| m.xml())
    }) {
        Some(body) => (
            [
                (header::CONTENT_TYPE, "application/cap+xml"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no CAP message {identifier:?}; the feed at {CAP_PATH} lists the current ones"),
            format!("没有 CAP 消息 {identifier:?}；当前消息见 {CAP_PATH}"),
        ),
    }
}

/// The state at the moment `at` of a query string (a seq or an RFC 3339 time), within the log;
/// or the error response.
async fn past(
    space: &crate::drill::Space,
    at: &str,
) -> Result<Arc<crate::history::Past>, Response> {
    let at = crate::protocol::At::parse(at).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            format!("at: {e}; give a seq (a whole number) or an RFC 3339 time"),
            format!("at：{e}；应为序号（整数）或 RFC 3339 时间"),
        )
    })?;
    let last_seq = space.live.read().seq;
    let refused = |e: crate::protocol::WireError| {
        let status = match e.code {
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        error(status, e.code, e.message, e.message_zh)
    };
    space
        .history
        .check(at, last_seq, space.clock.now_ms())
        .await
        .map_err(refused)?;
    space.history.state_at(at, last_seq).await.map_err(refused)
}

/// Chinese and English names of every enumerated value. Public, like the map: labels only.
async fn vocabulary() -> Response {
    let body = serde_json::json!({ "vocabulary": crate::domain::vocabulary::vocabulary() });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The district map's layers: names, feature counts and validators.
async fn map_index(State(app): State<Arc<App>>) -> Response {
    let layers: Vec<serde_json::Value> = app
        .map
        .layers
        .iter()
        .map(|l| serde_json::json!({ "name": l.name, "features": l.features, "etag": l.etag, "href": format!("/api/v1/map/{}", l.name) }))
        .collect();
    let body = serde_json::json!({ "layers": layers }).to_string();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// One map layer file as loaded at start. Public: district geography is not sensitive, and
/// dashboards should draw it before they authenticate. Revalidated with the ETag.
async fn map_layer(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(layer) = app.map.layer(name.trim_end_matches(".geojson")) else {
        let valid: Vec<&str> = app.map.layers.iter().map(|l| l.name).collect();
        return error(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownLayer,
            format!(
                "the map has no layer {name:?}; its layers are {}",
                valid.join(", ")
            ),
            format!("地图没有图层 {name:?}；其图层有 {}", valid.join(", ")),
        );
    };
    let cache = [
        (header::ETAG, layer.etag.clone()),
        (header::CACHE_CONTROL, "public, no-cache".to_string()),
    ];
    if if_none_match_hits(&headers, &layer.etag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(header::CONTENT_TYPE, "application/geo+json")],
        layer.body.clone(),
    )
        .into_response()
}

/// A strong entity tag from a hash of the content.
fn content_etag(prefix: &str, content: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(content.as_bytes());
    format!("\"{prefix}-{}\"", crate::codec::hex(&digest[..12]))
}

/// `If-None-Match` as RFC 9110 §13.1.2 has it: `*` matches any current representation; otherwise
/// a comma-separated list of entity tags, compared weakly (`W/"x"` matches `"x"`).
fn if_none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let ours = opaque(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: header::HeaderName, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn if_none_match_follows_rfc_9110() {
        let tag = "\"teams-abc\"";
        let hits = |v: &[&str]| if_none_match_hits(&with(header::IF_NONE_MATCH, v), tag);
        assert!(hits(&["\"teams-abc\""]));
        assert!(hits(&["W/\"teams-abc\""]), "weak comparison");
        assert!(hits(&["\"x\", \"teams-abc\""]), "a list");
        assert!(hits(&["\"x\"", "W/\"teams-abc\""]), "several header lines");
        assert!(hits(&["*"]));
        assert!(!hits(&["\"teams-abd\""]));
        assert!(!hits(&[]));
    }

    #[test]
    fn the_authorization_scheme_is_case_insensitive_and_never_ignored() {
        let none = TokenParam { token: None };
        let token = |v: &str| presented_token(&with(header::AUTHORIZATION, &[v]), &none);
        assert_eq!(
            token("Bearer crest_1").ok().flatten().as_deref(),
            Some("crest_1")
        );
        assert_eq!(
            token("bearer crest_1").ok().flatten().as_deref(),
            Some("crest_1")
        );
        assert_eq!(
            token("BEARER  crest_1 ").ok().flatten().as_deref(),
            Some("crest_1")
        );
        for refused in ["Bearer ", "Bearer", "Basic dXNlcjpwdw==", "crest_1"] {
            assert!(token(refused).is_err(), "{refused}");
        }
        let query = TokenParam {
            token: Some("crest_q".into()),
        };
        assert_eq!(
            presented_token(&HeaderMap::new(), &query)
                .ok()
                .flatten()
                .as_deref(),
            Some("crest_q")
        );
    }

    #[test]
    fn content_tags_differ_with_content() {
        assert_eq!(content_etag("teams", "[1]"), content_etag("teams", "[1]"));
        assert_ne!(content_etag("teams", "[1]"), content_etag("teams", "[2]"));
    }
}
