//! Wiring: open the store, recover the state, start the engine, import the map, serve.

use crate::domain::Actor;
use crate::engine::{self, EngineConfig, EngineHandle, SubmitError};
use crate::map;
use crate::metrics::Metrics;
use crate::projection::Live;
use crate::store::{SqliteStore, Store, StoreError};
use crate::transport::listener::{self, Gate};
use crate::transport::{App, Limits, http};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Config {
    /// SQLite database file.
    pub db: PathBuf,
    pub listen: SocketAddr,
    /// District map directory, imported at start.
    pub map: Option<PathBuf>,
    pub snapshot_every: u64,
    /// Frames kept in the hub ring for connections that are behind.
    pub hub_capacity: usize,
    /// How often the token table is checked for revocations (open sessions of a revoked token
    /// are closed).
    pub revocation_poll: std::time::Duration,
    pub limits: Limits,
}

impl Config {
    pub fn new(db: impl Into<PathBuf>) -> Config {
        Config {
            db: db.into(),
            listen: "127.0.0.1:0".parse().expect("valid address"),
            map: None,
            snapshot_every: 10_000,
            hub_capacity: 8192,
            revocation_poll: std::time::Duration::from_secs(2),
            limits: Limits::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
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

pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    revocation_poll: std::time::Duration,
}

impl Server {
    /// Opens the store, recovers the state, starts the engine, imports the map and binds.
    pub async fn build(config: Config) -> Result<Server, StartError> {
        // Parse the map before touching anything: a broken map must not half-start the server.
        let district = match &config.map {
            Some(dir) => map::load(dir)?,
            None => map::DistrictMap::default(),
        };
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.db).await?);
        let recovered = engine::recover(store.as_ref()).await?;
        tracing::info!(seq = recovered.seq, db = %config.db.display(), "state recovered");
        let live = Live::new(recovered.state.clone(), recovered.seq, config.hub_capacity);
        let metrics = Arc::new(Metrics::default());
        let engine = engine::spawn(
            store.clone(),
            live.clone(),
            metrics.clone(),
            recovered,
            EngineConfig {
                snapshot_every: config.snapshot_every,
            },
        );
        import_map(&engine, &district.commands).await?;
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
            catchup,
            refusals_log: Default::default(),
            rate_limits: crate::transport::RateLimits::new(
                config.limits.messages_per_second,
                config.limits.burst,
            ),
            live,
            engine,
            store,
            metrics,
            gate,
            limits: config.limits,
            map: Arc::new(district),
            shutdown: tokio::sync::watch::Sender::new(false),
            revoked: tokio::sync::broadcast::channel(64).0,
        });
        Ok(Server {
            listener,
            app,
            revocation_poll: config.revocation_poll,
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
        let router = http::router(self.app.clone());
        listener::serve(self.listener, self.app, router, shutdown).await;
        if let Some(seq) = engine.stop().await {
            tracing::info!(seq, "stopped cleanly");
        }
        Ok(())
    }
}

/// Submits each map feature as a system command. Features already in the log are no-ops; a
/// feature that differs from what the log holds is kept as logged and reported. Levees go first
/// (gauges name them); the rest is submitted together so it shares group-commit transactions.
async fn import_map(engine: &EngineHandle, commands: &[map::MapCommand]) -> Result<(), StartError> {
    let (levees, rest): (Vec<&map::MapCommand>, Vec<&map::MapCommand>) = commands
        .iter()
        .partition(|c| matches!(c.command, crate::domain::Command::DefineLevee(_)));
    let (mut added, mut unchanged) = (0, 0);
    for phase in [levees, rest] {
        let results = futures_util::future::join_all(phase.into_iter().map(|mc| async move {
            let r = engine
                .submit(Actor::system(), mc.command_id.clone(), mc.command.clone())
                .await;
            (mc.command_id.clone(), r)
        }))
        .await;
        for (id, result) in results {
            match result {
                Ok(o) if o.duplicate => unchanged += 1,
                Ok(_) => added += 1,
                Err(SubmitError::Conflict(_)) => {
                    tracing::warn!(feature = %id, "map feature differs from the one in the event log; the log is kept");
                    unchanged += 1;
                }
                Err(SubmitError::Domain(crate::domain::DomainError::AlreadyExists { .. })) => {
                    unchanged += 1
                }
                Err(error) => return Err(StartError::MapRefused { id, error }),
            }
        }
    }
    if added + unchanged > 0 {
        tracing::info!(added, unchanged, "map imported");
    }
    Ok(())
}
