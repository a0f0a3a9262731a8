//! HTTP endpoints and the WebSocket upgrade, all on one port.

use super::{App, geojson, session};
use crate::auth::{self, AuthError};
use crate::domain::Layer;
use crate::engine::LogHealth;
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
        .route("/api/v1/map/{layer}", get(map_layer))
        .with_state(app)
}

/// A JSON error body: `{"code": …, "message": …}`.
pub(super) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "code": code, "message": message.into() });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenParam {
    token: Option<String>,
}

/// The bearer token from `Authorization: Bearer …` or, for browsers' WebSocket API, `?token=…`.
fn presented_token(headers: &HeaderMap, query: &TokenParam) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_string())
        .or_else(|| query.token.clone())
}

async fn authenticate(
    app: &App,
    token: Option<String>,
) -> Result<Option<auth::Authenticated>, Response> {
    let Some(token) = token else { return Ok(None) };
    match auth::authenticate(app.store.as_ref(), &token).await {
        Ok(authenticated) => Ok(Some(authenticated)),
        Err(AuthError::Revoked(_)) => Err(error(
            StatusCode::UNAUTHORIZED,
            "revoked_token",
            "this token was revoked",
        )),
        Err(AuthError::Store(e)) => {
            tracing::error!(error = %e, "token lookup failed");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "cannot check tokens right now",
            ))
        }
        Err(_) => Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "unknown token",
        )),
    }
}

async fn websocket(
    ws: WebSocketUpgrade,
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<TokenParam>,
) -> Response {
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
        // Tablets are mostly idle: small buffers keep memory per connection low.
        .read_buffer_size(8 * 1024)
        // Writes wait for the socket once 16 KiB are buffered (backpressure). No cap on the
        // buffer itself: one message (a large snapshot) may exceed any fixed cap.
        .write_buffer_size(16 * 1024)
        .on_upgrade(move |socket| session::run(socket, app, authenticated, unauthenticated))
}

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
            "engine_stopped",
            "the engine is not running",
        );
    }
    if let LogHealth::Unwritable { fault, since_ms } = app.engine.log_health() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "log_unwritable",
            format!(
                "the event log cannot be written ({fault}) since {since_ms} ms after the epoch; commands are refused until a write succeeds"
            ),
        );
    }
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        ),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

async fn layer(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenParam>,
) -> Response {
    match authenticate(&app, presented_token(&headers, &q)).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "send Authorization: Bearer <token>",
            );
        }
        Err(resp) => return resp,
    }
    let Some(layer) = Layer::parse(&name) else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_layer",
            format!("no layer {name:?}"),
        );
    };
    let (seq, body) = {
        let p = app.live.read();
        let etag = format!("\"{}-{}\"", layer.name(), p.seq);
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == Some(etag.as_str())
        {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
        (
            p.seq,
            geojson::layer_collection(&p.state, layer, p.seq).to_string(),
        )
    };
    let etag = format!("\"{}-{}\"", layer.name(), seq);
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
        return error(
            StatusCode::NOT_FOUND,
            "unknown_layer",
            format!("the map has no layer {name:?}"),
        );
    };
    let cache = [
        (header::ETAG, layer.etag.clone()),
        (header::CACHE_CONTROL, "public, no-cache".to_string()),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(layer.etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(header::CONTENT_TYPE, "application/geo+json")],
        layer.body.clone(),
    )
        .into_response()
}
