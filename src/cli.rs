//! The command line: `crest serve` and `crest token …`.

use crate::auth;
use crate::domain::Role;
use crate::server::{Config, Server};
use crate::store::{SqliteStore, Store};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "crest",
    version,
    about = "Real-time coordination server for river-flood emergencies"
)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "CREST_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage access tokens.
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// SQLite database file (created if missing).
    #[arg(long, default_value = "crest.db", env = "CREST_DB")]
    pub db: PathBuf,
    /// Address to listen on (HTTP and WebSocket share it).
    #[arg(long, default_value = "127.0.0.1:8080", env = "CREST_LISTEN")]
    pub listen: SocketAddr,
    /// District map directory.
    #[arg(long, env = "CREST_MAP")]
    pub map: Option<PathBuf>,
    /// Write a state snapshot every N events.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_every: u64,
    /// Sustained messages per second allowed per connection.
    #[arg(long, default_value_t = 50.0)]
    pub rate_limit: f64,
    /// Burst of messages allowed per connection above the sustained rate.
    #[arg(long, default_value_t = 200.0)]
    pub rate_burst: f64,
    /// Open TCP connections (HTTP and WebSocket) at most; keep it below LimitNOFILE. The last 64
    /// serve only /healthz, /readyz and /metrics.
    #[arg(long, default_value_t = 10_000, env = "CREST_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// WebSocket connections without a token (not yet authenticated) at most.
    #[arg(long, default_value_t = 1_024, env = "CREST_MAX_UNAUTHENTICATED")]
    pub max_unauthenticated: usize,
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Issue a new token and print it (it is shown only once).
    Issue {
        #[arg(long, default_value = "crest.db", env = "CREST_DB")]
        db: PathBuf,
        /// dispatcher, field or observer.
        #[arg(long)]
        role: String,
        /// The team a field token acts for.
        #[arg(long)]
        team: Option<String>,
        /// Who holds it, for audit trails.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (ids and roles, never secrets).
    List {
        #[arg(long, default_value = "crest.db", env = "CREST_DB")]
        db: PathBuf,
    },
    /// Revoke a token by id (`tk_…`).
    Revoke {
        #[arg(long, default_value = "crest.db", env = "CREST_DB")]
        db: PathBuf,
        id: String,
    },
}

pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Cmd::Serve(a) => {
            let mut config = Config::new(a.db);
            config.listen = a.listen;
            config.map = a.map;
            config.snapshot_every = a.snapshot_every;
            config.limits.messages_per_second = a.rate_limit;
            config.limits.burst = a.rate_burst;
            config.limits.max_connections = a.max_connections;
            config.limits.max_unauthenticated = a.max_unauthenticated;
            crate::transport::listener::raise_fd_limit(a.max_connections);
            let server = Server::build(config).await?;
            let store = server.store();
            if store.tokens().await?.is_empty() {
                let t =
                    auth::issue(store.as_ref(), Role::Dispatcher, None, "first dispatcher").await?;
                println!(
                    "No tokens existed; issued a dispatcher token (shown once):\n  {}",
                    t.secret
                );
            }
            println!(
                "Crest listening on http://{}  (WebSocket: ws://{}/ws)",
                server.local_addr(),
                server.local_addr()
            );
            server.run(shutdown_signal()).await?;
        }
        Cmd::Token(TokenCmd::Issue {
            db,
            role,
            team,
            label,
        }) => {
            let role = Role::parse(&role).ok_or_else(|| {
                format!("unknown role {role:?}: use dispatcher, field or observer")
            })?;
            let store = SqliteStore::open(&db).await?;
            let t = auth::issue(&store, role, team.as_deref(), &label).await?;
            println!("{}", t.secret);
            eprintln!(
                "issued {} ({}{})",
                t.record.id,
                t.record.role,
                t.record
                    .team
                    .map(|t| format!(", team {t}"))
                    .unwrap_or_default()
            );
        }
        Cmd::Token(TokenCmd::List { db }) => {
            let store = SqliteStore::open(&db).await?;
            for t in store.tokens().await? {
                let state = if t.revoked_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.role,
                    t.team.unwrap_or_else(|| "-".into()),
                    state,
                    t.label
                );
            }
        }
        Cmd::Token(TokenCmd::Revoke { db, id }) => {
            let store = SqliteStore::open(&db).await?;
            if !store.revoke_token(&id, crate::clock::now_ms()).await? {
                return Err(format!("no active token {id}").into());
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
