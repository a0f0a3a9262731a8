//! The edge: axum routes for the WebSocket protocol and the HTTP endpoints, on one port.

mod catchup;
mod drill_routes;
pub mod http;
pub mod listener;
mod rate_limits;
pub mod session;
mod subscription;
pub mod web;
mod ws_errors;

use crate::engine::EngineHandle;
use crate::metrics::Metrics;
use crate::projection::Live;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// Connection limits. Defaults suit tablets on a weak mobile network.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest text message handled; a larger one gets `frame_too_large` and the connection stays.
    pub max_message_bytes: usize,
    /// Largest frame the WebSocket layer accepts at all; beyond it the connection is closed (1009).
    pub hard_frame_bytes: usize,
    /// Sustained messages per second per token (all its connections together; before
    /// authentication, per connection).
    pub messages_per_second: f64,
    /// Messages a token may send in a burst above the sustained rate.
    pub burst: f64,
    /// Interval of server pings; a connection silent for three intervals is closed.
    pub ping_interval: Duration,
    /// Time allowed to authenticate after connecting.
    pub auth_timeout: Duration,
    /// Commands in flight per connection before the server stops reading from it.
    pub max_in_flight: usize,
    /// Farthest back (in events) a resume is served from the log; older gets a fresh snapshot.
    pub max_catchup: u64,
    /// Events per second that all resumes together may be sent from the log (the catch-up
    /// budget, holding at most `max_catchup` events); a resume beyond it gets a snapshot.
    pub catchup_per_second: f64,
    /// Resyncs within a minute after which a connection is closed as too slow.
    pub resyncs_before_close: usize,
    /// How long one write to a client may block before the client is dropped as too slow. The
    /// listener also fails any single socket write blocked for twice this long (HTTP responses).
    pub write_timeout: Duration,
    /// Open TCP connections (HTTP and WebSocket together) at most; a connection beyond it is
    /// accepted and closed at once. Keep it below the file-descriptor limit (`listener`).
    pub max_connections: usize,
    /// The last this many slots below `max_connections` serve only `/healthz`, `/readyz` and
    /// `/metrics`; other requests get 503 (at most half of `max_connections` is used).
    pub connection_reserve: usize,
    /// WebSocket connections that upgraded without a token, counted until they close or their
    /// `auth_timeout` passes; one more is closed with 1013.
    pub max_unauthenticated: usize,
    /// Deadline for a complete HTTP request head, from the connection's start and again from the
    /// end of each response: also the idle limit of a keep-alive connection.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 * 1024,
            hard_frame_bytes: 1024 * 1024,
            messages_per_second: 50.0,
            burst: 200.0,
            ping_interval: Duration::from_secs(20),
            auth_timeout: Duration::from_secs(15),
            max_in_flight: 64,
            max_catchup: 10_000,
            catchup_per_second: 20_000.0,
            resyncs_before_close: 3,
            write_timeout: Duration::from_secs(15),
            max_connections: 10_000,
            connection_reserve: 64,
            max_unauthenticated: 1_024,
            header_timeout: Duration::from_secs(10),
        }
    }
}

pub use catchup::CatchupBudget;
pub use rate_limits::RateLimits;

/// A token checked in the space it belongs to: who it stands for, the space it acts in, and the
/// drill when that space is one.
#[derive(Clone)]
pub struct Bound {
    pub auth: crate::auth::Authenticated,
    pub space: crate::drill::Space,
    pub drill: Option<Arc<crate::drill::registry::Drill>>,
}

/// What every route handler shares.
pub struct App {
    pub live: Arc<Live>,
    pub engine: EngineHandle,
    /// The engine's clock, for answers that depend on the time (patrol gaps).
    pub clock: crate::clock::Clock,
    pub store: Arc<dyn Store>,
    /// Past states of the log, for queries `at` a moment and reviews.
    pub history: Arc<crate::history::History>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// The district map's layer files, served as they are.
    pub map: Arc<crate::map::DistrictMap>,
    /// Set to `true` when the server stops: sessions close with 1001.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Ids of tokens revoked while the server runs: their sessions close with 1008.
    pub revoked: tokio::sync::broadcast::Sender<String>,
    /// Events all resumes together may still read from the log.
    pub catchup: CatchupBudget,
    /// Message rate limits per token.
    pub rate_limits: RateLimits,
    /// Refused commands are logged at most once per 10 s (with the count in between), so a
    /// flood of bad commands cannot flood the log.
    pub refusals_log: listener::Throttle,
    /// The connection caps and their counters.
    pub gate: Arc<listener::Gate>,
    /// The drills this server hosts beside its live space.
    pub drills: Arc<crate::drill::registry::Drills>,
    /// The dashboard and the field app (`None`: no pages served).
    pub web: Option<web::WebAssets>,
}

impl App {
    /// The live space: the server's own log, engine, projection and clock.
    pub fn live_space(&self) -> crate::drill::Space {
        crate::drill::Space {
            store: self.store.clone(),
            history: self.history.clone(),
            live: self.live.clone(),
            engine: self.engine.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// Checks a presented token in the space it belongs to: a drill's token (`crest_DR-3_…`) in
    /// that drill's own log, so it acts only there; any other in the live log, so it acts only
    /// in the live space. A token of a drill this server does not host is unknown.
    pub async fn authenticate(&self, secret: &str) -> Result<Bound, crate::auth::AuthError> {
        match crate::auth::drill_of(secret) {
            None => {
                let auth = crate::auth::authenticate(self.store.as_ref(), secret).await?;
                Ok(Bound {
                    auth,
                    space: self.live_space(),
                    drill: None,
                })
            }
            Some(id) => {
                let drill = self.drills.get(id).ok_or(crate::auth::AuthError::Unknown)?;
                let auth = crate::auth::authenticate(drill.space.store.as_ref(), secret).await?;
                Ok(Bound {
                    auth,
                    space: drill.space.clone(),
                    drill: Some(drill),
                })
            }
        }
    }

    /// The district's name from the map's `district` layer (its first feature's `name`), for the
    /// title of the situation report and every query's answer; `None` without a map. Parsed once
    /// (`DistrictMap::district_name`).
    pub fn district_name(&self) -> Option<String> {
        self.map.district_name().map(str::to_string)
    }

    /// The district's id and name from the map's `district` layer (its first feature's `id` and
    /// `name`), for the CAP sender and texts; `None` without a map that has both.
    pub fn district(&self) -> Option<(String, String)> {
        self.map
            .district()
            .map(|(id, name)| (id.to_string(), name.to_string()))
    }
}

/// The `exercise` of an `authenticated` message for a drill's connection.
pub(crate) fn exercise_mark(
    d: &crate::drill::registry::Drill,
) -> crate::protocol::server::ExerciseMark {
    crate::protocol::server::ExerciseMark {
        drill_id: d.id.clone(),
        title: d.scenario.title.clone(),
    }
}
