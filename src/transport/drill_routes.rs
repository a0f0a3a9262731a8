//! HTTP for the drill controller: start drills in exercise spaces beside the live one, list
//! them, pause, resume, change the speed, end them, and issue the tokens trainees use (each acts
//! only in its drill). Only the live space's dispatchers control drills; a drill's own tokens
//! cannot.

use super::http::{TokenParam, error, presented_token, require_token, token_param};
use super::{App, Bound};
use crate::domain::Role;
use crate::drill::Pace;
use crate::drill::registry::DrillError;
use crate::protocol::ErrorCode;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

type Q = Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>;

/// The fastest a drill may be run (scenario seconds per real second).
pub const MAX_SPEED: f64 = 100_000.0;

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A live-space token; with `dispatcher`, a live dispatcher's.
async fn live_token(
    app: &App,
    headers: &HeaderMap,
    q: Q,
    dispatcher: bool,
) -> Result<Bound, Response> {
    let q = token_param(q).map_err(|r| *r)?;
    let bound = require_token(app, presented_token(headers, &q)).await?;
    if bound.drill.is_some() {
        return Err(error(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "a drill's token acts only in its drill: drills are controlled from the live space",
            "演练令牌只能在其演练中使用：演练由实战空间的调度员控制",
        ));
    }
    if dispatcher && bound.auth.actor.role != Role::Dispatcher {
        return Err(error(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "only a dispatcher controls drills",
            "只有调度员可以控制演练",
        ));
    }
    Ok(bound)
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(bytes).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            format!("the body is not what this endpoint takes: {e}"),
            format!("请求体不符合此接口的要求：{e}"),
        ))
    })
}

fn speed(s: Option<f64>, fastest: bool) -> Result<Pace, Box<Response>> {
    match (s, fastest) {
        (_, true) => Ok(Pace::AsFastAsPossible),
        (None, false) => Ok(Pace::Speed(60.0)),
        (Some(s), false) if s > 0.0 && s <= MAX_SPEED => Ok(Pace::Speed(s)),
        (Some(s), false) => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidValue,
            format!("speed {s}: above 0 and at most {MAX_SPEED}"),
            format!("速度 {s}：须大于 0 且不超过 {MAX_SPEED}"),
        ))),
    }
}

fn no_drill(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no drill {id} on this server"),
        format!("本服务器没有演练 {id}"),
    )
}

pub(super) async fn list(State(app): State<Arc<App>>, headers: HeaderMap, q: Q) -> Response {
    if let Err(r) = live_token(&app, &headers, q, false).await {
        return r;
    }
    let drills: Vec<_> = app.drills.list().iter().map(|d| d.view()).collect();
    json(StatusCode::OK, serde_json::json!({ "drills": drills }))
}

/// The cue report of the token's own space (a drill's token: its drill), or of a drill by id
/// for the live controller.
pub(super) async fn cues(State(app): State<Arc<App>>, headers: HeaderMap, q: Q) -> Response {
    let q = match token_param(q) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let bound = match require_token(&app, presented_token(&headers, &q)).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    cue_report(&bound.space).await
}

pub(super) async fn drill_cues(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Q,
) -> Response {
    if let Err(r) = live_token(&app, &headers, q, false).await {
        return r;
    }
    match app.drills.get(&id) {
        Some(d) => cue_report(&d.space).await,
        None => no_drill(&id),
    }
}

async fn cue_report(space: &crate::drill::Space) -> Response {
    match crate::drill::review::cue_report(space.store.as_ref()).await {
        Ok(cues) => json(StatusCode::OK, serde_json::json!({ "cues": cues })),
        Err(e) => {
            tracing::error!(error = %e, "reading the log for the cue report failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StoreUnavailable,
                "the log cannot be read right now",
                "暂时无法读取事件日志",
            )
        }
    }
}

pub(super) async fn show(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Q,
) -> Response {
    if let Err(r) = live_token(&app, &headers, q, false).await {
        return r;
    }
    match app.drills.get(&id) {
        Some(d) => json(StatusCode::OK, d.view()),
        None => no_drill(&id),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartDrill {
    scenario: String,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    as_fast_as_possible: bool,
    #[serde(default = "yes")]
    simulate_trainees: bool,
}

fn yes() -> bool {
    true
}

pub(super) async fn start(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    q: Q,
    bytes: axum::body::Bytes,
) -> Response {
    let who = match live_token(&app, &headers, q, true).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let req: StartDrill = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let pace = match speed(req.speed, req.as_fast_as_possible) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match app
        .drills
        .start(&req.scenario, pace, req.simulate_trainees)
        .await
    {
        Ok(d) => {
            tracing::info!(drill = %d.id, scenario = %req.scenario, by = %who.auth.actor.name, "drill started");
            json(StatusCode::CREATED, d.view())
        }
        Err(e @ DrillError::NoScenario(_)) => error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            e.to_string(),
            format!("场景目录中没有场景 {:?}", req.scenario),
        ),
        Err(e @ (DrillError::TooMany | DrillError::NotEnded(_))) => error(
            StatusCode::CONFLICT,
            ErrorCode::InvalidValue,
            e.to_string(),
            "本服务器承载的演练已达上限；请先结束并移除一个",
        ),
        Err(e @ DrillError::BadScenario(_)) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            e.to_string(),
            format!("场景文件有错误：{e}"),
        ),
        Err(e @ DrillError::Space(_)) => {
            tracing::error!(error = %e, "a drill's space cannot be opened");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StoreUnavailable,
                e.to_string(),
                "无法打开演练空间",
            )
        }
    }
}

/// `DELETE /api/v1/drills/{id}`: removes an ended drill (its engine stops, its tokens no longer
/// act; its log stays on disk).
pub(super) async fn remove(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Q,
) -> Response {
    let who = match live_token(&app, &headers, q, true).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    match app.drills.remove(&id).await {
        None => no_drill(&id),
        Some(Err(e)) => error(
            StatusCode::CONFLICT,
            ErrorCode::IllegalTransition,
            e.to_string(),
            format!("演练 {id} 尚未结束：请先结束"),
        ),
        Some(Ok(())) => {
            tracing::info!(drill = %id, by = %who.auth.actor.name, "drill removed");
            json(StatusCode::OK, serde_json::json!({ "removed": id }))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", tag = "action")]
enum Control {
    Pause,
    Resume,
    End,
    Speed {
        #[serde(default)]
        speed: Option<f64>,
        #[serde(default)]
        as_fast_as_possible: bool,
    },
}

pub(super) async fn control(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Q,
    bytes: axum::body::Bytes,
) -> Response {
    let who = match live_token(&app, &headers, q, true).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let Some(drill) = app.drills.get(&id) else {
        return no_drill(&id);
    };
    let req: Control = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    if drill.control.borrow().ended {
        return error(
            StatusCode::CONFLICT,
            ErrorCode::IllegalTransition,
            format!("drill {id} has ended"),
            format!("演练 {id} 已结束"),
        );
    }
    match req {
        Control::Pause => drill.control.send_modify(|c| c.paused = true),
        Control::Resume => drill.control.send_modify(|c| c.paused = false),
        Control::End => drill.control.send_modify(|c| c.ended = true),
        Control::Speed {
            speed: s,
            as_fast_as_possible,
        } => {
            if s.is_none() && !as_fast_as_possible {
                return error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::MissingField,
                    "speed needs `speed` or `as_fast_as_possible`",
                    "调整速度须给出 `speed` 或 `as_fast_as_possible`",
                );
            }
            match speed(s, as_fast_as_possible) {
                Ok(pace) => drill.control.send_modify(|c| c.pace = pace),
                Err(r) => return *r,
            }
        }
    }
    // The clock follows at once (a pause stops it now, not when the runner next looks); after
    // the timeline's end it stays where the scenario ended.
    crate::drill::steer_clock(&drill.space.clock, &drill.control.borrow());
    if drill.progress.borrow().finished {
        // Looked at after steering: a run that finished meanwhile leaves its clock stopped.
        drill.space.clock.set_running(false);
    }
    tracing::info!(drill = %id, by = %who.auth.actor.name, "drill controlled");
    json(StatusCode::OK, drill.view())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueToken {
    role: Role,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    grid_worker: Option<String>,
    #[serde(default)]
    label: String,
}

pub(super) async fn issue_token(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Q,
    bytes: axum::body::Bytes,
) -> Response {
    if let Err(r) = live_token(&app, &headers, q, true).await {
        return r;
    }
    let Some(drill) = app.drills.get(&id) else {
        return no_drill(&id);
    };
    let req: IssueToken = match body(&bytes) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    // As `crest token issue`: a field token names a team the drill knows, a grid worker's token
    // its grid worker, and no other token either.
    let binding = match (req.role, req.team.as_deref(), req.grid_worker.as_deref()) {
        (Role::Field, Some(team), None) => {
            if !drill.space.live.read().state.teams.contains_key(team) {
                return error(
                    StatusCode::NOT_FOUND,
                    ErrorCode::NotFound,
                    format!("drill {id} has no team {team}"),
                    format!("演练 {id} 没有队伍 {team}"),
                );
            }
            Some(team)
        }
        (Role::GridWorker, None, Some(worker)) => Some(worker),
        (Role::Dispatcher | Role::Observer, None, None) => None,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidValue,
                "a field token names its `team`, a grid worker's token its `grid_worker`, and other tokens neither",
                "现场令牌须指明 `team`，网格员令牌须指明 `grid_worker`，其他令牌两者都不指明",
            );
        }
    };
    let label = if req.label.is_empty() {
        format!("{} of drill {id}", req.role.name())
    } else {
        req.label.clone()
    };
    match crate::auth::issue_in(
        drill.space.store.as_ref(),
        Some(&drill.id),
        req.role,
        binding,
        &label,
    )
    .await
    {
        Ok(t) => json(
            StatusCode::CREATED,
            serde_json::json!({
                "id": t.record.id, "secret": t.secret, "role": req.role, "team": req.team,
                "grid_worker": req.grid_worker, "label": t.record.label, "drill": drill.id,
            }),
        ),
        Err(e @ crate::auth::AuthError::Store(_)) => {
            tracing::error!(error = %e, "issuing a drill token failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StoreUnavailable,
                e.to_string(),
                "暂时无法签发令牌",
            )
        }
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidValue,
            e.to_string(),
            format!("无法签发令牌：{e}"),
        ),
    }
}
