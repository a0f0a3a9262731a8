//! Wiring: open the store, recover the state, start the engine, import the map, serve.

use crate::domain::Actor;
use crate::engine::{self, EngineConfig, EngineHandle, SubmitError};
use crate::map;
use crate::metrics::Metrics;
use crate::projection::Live;
use crate::store::{Location, Store, StoreError};
use crate::transport::listener::{self, Gate};
use crate::transport::{App, Limits, http};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Config {
    /// The log: a SQLite file, or a PostgreSQL URL (several nodes may share it).
    pub db: Location,
    pub listen: SocketAddr,
    /// District map directory, imported at start.
    pub map: Option<PathBuf>,
    pub snapshot_every: u64,
    /// Frames a connection that is behind may have waiting before it must resync.
    pub hub_capacity: usize,
    /// How often the token table is checked for revocations (open sessions of a revoked token
    /// are closed).
    pub revocation_poll: std::time::Duration,
    pub limits: Limits,
    /// The engine's clock: the wall clock, unless a test or drill moves it forward.
    pub clock: crate::clock::Clock,
    /// How often the engine ticks (`None`: only when asked).
    pub tick_every: Option<std::time::Duration>,
    /// Where drill scenarios are found by name (`POST /api/v1/drills`).
    pub scenarios: PathBuf,
    /// The web pages' directory (`web/`: `app/` and `node_modules/`); `None` serves no pages.
    pub web: Option<PathBuf>,
    /// Where drills' logs go (`None`: beside a SQLite database, `crest-drills` with PostgreSQL).
    pub drill_logs: Option<PathBuf>,
}

impl Config {
    pub fn new(db: impl Into<Location>) -> Config {
        Config {
            db: db.into(),
            listen: "127.0.0.1:0".parse().expect("valid address"),
            map: None,
            snapshot_every: 10_000,
            hub_capacity: 8192,
            revocation_poll: std::time::Duration::from_secs(1),
            clock: crate::clock::Clock::default(),
            tick_every: Some(engine::TICK_EVERY),
            scenarios: PathBuf::from("scenarios"),
            web: None,
            drill_logs: None,
            limits: Limits::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{}", open_error(location, error))]
    Database {
        location: Location,
        error: StoreError,
    },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("map: {0}")]
    Map(#[from] map::MapError),
    #[error("map feature {id} was refused: {error}")]
    MapRefused { id: String, error: SubmitError },
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
}

/// Says which database could not be opened: a file as given, and where that is when relative,
/// with the likely cause when it can tell; a PostgreSQL URL without its password.
pub fn open_error(location: &Location, error: &StoreError) -> String {
    let Some(path) = location.sqlite_path() else {
        return format!("cannot open the database {location}: {error}");
    };
    let mut name = path.display().to_string();
    if let Ok(abs) = std::path::absolute(path)
        && abs != path
    {
        name = format!("{name} (that is {})", abs.display());
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let hint = match std::fs::metadata(parent) {
        Err(_) => format!("; the directory {} does not exist", parent.display()),
        Ok(m) if !m.is_dir() => format!("; {} is not a directory", parent.display()),
        Ok(_) => String::new(),
    };
    format!("cannot open the database {name}{hint}: {error}")
}

/// Opens the store, naming the database when that fails.
pub async fn open_store(location: &Location) -> Result<Arc<dyn Store>, StartError> {
    location.open().await.map_err(|error| StartError::Database {
        location: location.clone(),
        error,
    })
}

/// What importing the map did, feature by feature.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapImport {
    /// Features new to the log.
    pub added: usize,
    /// Features the log already holds as they are.
    pub unchanged: usize,
    /// Command ids (`map:<layer>:<id>`) of features that differ from what the log holds under the
    /// same id: the log is kept, the edit is not applied.
    pub changed: Vec<String>,
    /// Command ids of features whose entity was already defined by another command (not from the
    /// map): the log is kept.
    pub defined_elsewhere: Vec<String>,
}

pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    revocation_poll: std::time::Duration,
    map_import: MapImport,
}

impl Server {
    /// Opens the store, recovers the state, starts the engine, imports the map and binds.
    pub async fn build(config: Config) -> Result<Server, StartError> {
        // Parse the map before touching anything: a broken map must not half-start the server.
        let district = match &config.map {
            Some(dir) => map::load(dir)?,
            None => map::DistrictMap::default(),
        };
        let store = open_store(&config.db).await?;
        let recovered = engine::recover(store.as_ref()).await?;
        tracing::info!(seq = recovered.seq, db = %config.db, "state recovered");
        let live = Live::new(recovered.state.clone(), recovered.seq, config.hub_capacity);
        let metrics = Arc::new(Metrics::default());
        let engine = engine::spawn(
            store.clone(),
            live.clone(),
            metrics.clone(),
            recovered,
            EngineConfig {
                snapshot_every: config.snapshot_every,
                clock: config.clock.clone(),
                tick_every: config.tick_every,
            },
        );
        let map_import = import_map(&engine, &district.commands).await?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|error| StartError::Listen {
                    addr: config.listen,
                    error,
                })?;
        let catchup = crate::transport::CatchupBudget::new(
            config.limits.catchup_per_second,
            config.limits.max_catchup as f64,
        );
        let gate = Arc::new(Gate::new(&config.limits, metrics.clone()));
        let app = Arc::new(App {
            clock: config.clock.clone(),
            catchup,
            refusals_log: Default::default(),
            rate_limits: crate::transport::RateLimits::new(
                config.limits.messages_per_second,
                config.limits.burst,
            ),
            live,
            engine,
            history: Arc::new(crate::history::History::new(store.clone())),
            store,
            metrics,
            gate,
            limits: config.limits,
            map: Arc::new(district),
            shutdown: tokio::sync::watch::Sender::new(false),
            revoked: tokio::sync::broadcast::channel(64).0,
            web: config.web.as_ref().map(|dir| {
                let assets = crate::transport::web::WebAssets::new(dir);
                if let Some(missing) = assets.missing() {
                    tracing::warn!("{missing}");
                }
                assets
            }),
            drills: Arc::new(crate::drill::registry::Drills::new(
                config.scenarios.clone(),
                config
                    .drill_logs
                    .clone()
                    .unwrap_or_else(|| crate::drill::registry::logs_dir_for(&config.db)),
                config.hub_capacity,
            )),
        });
        Ok(Server {
            listener,
            app,
            revocation_poll: config.revocation_poll,
            map_import,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.app.store.clone()
    }

    pub fn engine(&self) -> EngineHandle {
        self.app.engine.clone()
    }

    /// The drills this server hosts.
    pub fn drills(&self) -> Arc<crate::drill::registry::Drills> {
        self.app.drills.clone()
    }

    /// What importing the map at start did.
    pub fn map_import(&self) -> &MapImport {
        &self.map_import
    }

    /// Serves until `shutdown` completes. Then: WebSocket sessions are closed (1001, "server
    /// shutting down"), open HTTP requests finish, queued commands are committed and a snapshot
    /// is written, and only then does this return.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %self.local_addr(), "serving");
        tokio::spawn(crate::auth::watch_revocations(
            self.app.store.clone(),
            self.app.revoked.clone(),
            self.revocation_poll,
            self.app.shutdown.subscribe(),
        ));
        let engine = self.app.engine.clone();
        let drills = self.app.drills.clone();
        let router = http::router(self.app.clone());
        listener::serve(self.listener, self.app, router, shutdown).await;
        drills.stop_all().await;
        if let Some(seq) = engine.stop().await {
            tracing::info!(seq, "stopped cleanly");
        }
        Ok(())
    }
}

/// Submits each map feature as a system command. Features already in the log are no-ops; a
/// feature that differs from what the log holds is kept as logged and reported, by id, as changed.
/// Levees go first (gauges name them); the rest is submitted together so it shares group-commit
/// transactions.
pub(crate) async fn import_map(
    engine: &EngineHandle,
    commands: &[map::MapCommand],
) -> Result<MapImport, StartError> {
    let (levees, rest): (Vec<&map::MapCommand>, Vec<&map::MapCommand>) = commands
        .iter()
        .partition(|c| matches!(c.command, crate::domain::Command::DefineLevee(_)));
    let mut report = MapImport::default();
    for phase in [levees, rest] {
        // In the map's order, so that two servers (or two drills) log the map alike.
        let ids: Vec<String> = phase.iter().map(|mc| mc.command_id.clone()).collect();
        let results = engine
            .submit_many(
                phase
                    .into_iter()
                    .map(|mc| {
                        (
                            None,
                            Actor::system(),
                            mc.command_id.clone(),
                            mc.command.clone(),
                        )
                    })
                    .collect(),
            )
            .await;
        for (id, result) in ids.into_iter().zip(results) {
            match result {
                Ok(o) if o.duplicate => report.unchanged += 1,
                Ok(_) => report.added += 1,
                Err(SubmitError::Conflict(_)) => report.changed.push(id),
                Err(SubmitError::Domain(crate::domain::DomainError::AlreadyExists { .. })) => {
                    report.defined_elsewhere.push(id)
                }
                Err(error) => return Err(StartError::MapRefused { id, error }),
            }
        }
    }
    if !report.changed.is_empty() {
        tracing::warn!(
            count = report.changed.len(),
            features = %report.changed.join(", "),
            "map features differ from the event log; the log is kept (an edited map does not rewrite history: change them with commands)"
        );
    }
    if !report.defined_elsewhere.is_empty() {
        tracing::warn!(
            count = report.defined_elsewhere.len(),
            features = %report.defined_elsewhere.join(", "),
            "map features were already defined by other commands; the log is kept"
        );
    }
    if !commands.is_empty() {
        tracing::info!(
            added = report.added,
            unchanged = report.unchanged,
            changed_log_kept = report.changed.len(),
            defined_elsewhere = report.defined_elsewhere.len(),
            "map imported"
        );
    }
    Ok(report)
}
