//! The command line: `crest serve`, `crest token …` and `crest sitrep`.

use crate::auth;
use crate::domain::Role;
use crate::domain::ids::TeamId;
use crate::server::{Config, Server, open_store};
use crate::store::{Location, Store, TokenRecord};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// Print the situation report (汛情快报) folded from a database's event log, without
    /// starting a server.
    Sitrep(SitrepArgs),
    /// Drill scenario files.
    #[command(subcommand)]
    Scenario(ScenarioCmd),
    /// Replay a drill scenario headless: progress on the terminal, the final sitrep, the
    /// expected outcomes checked (exit 1 when one differs, 2 when the file has mistakes).
    Replay(ReplayArgs),
    /// The server with the district map and the July 2019 flood replaying as a drill in its own
    /// exercise space, told in about five minutes.
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The live space's SQLite file (the drill's log goes into `<db>.drills/`).
    #[arg(long, default_value = "crest-demo.db")]
    pub db: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[arg(long, default_value = "maps/fukou")]
    pub map: PathBuf,
    /// The scenario the drill plays.
    #[arg(long, default_value = "scenarios/fukou-2019-07.toml")]
    pub scenario: PathBuf,
    /// How long the whole scenario takes, in real minutes.
    #[arg(long, default_value_t = 5.0, value_parser = parse_minutes)]
    pub minutes: f64,
    /// The web pages' directory; their npm packages are installed there (`npm ci --omit=dev`)
    /// when missing.
    #[arg(long, default_value = "web")]
    pub web: PathBuf,
}

/// Real minutes a demo takes: 0.1 to 1440.
fn parse_minutes(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.1..=1440.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: minutes between 0.1 and 1440")),
    }
}

#[derive(Subcommand, Debug)]
pub enum ScenarioCmd {
    /// Check a scenario file without running it: every mistake with its line and field (exit 2).
    Check {
        /// The scenario file (TOML, docs/scenarios.md).
        file: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The scenario file (TOML, docs/scenarios.md).
    pub file: PathBuf,
    /// Scenario seconds per real second (60: an hour a minute).
    #[arg(long, conflicts_with = "as_fast_as_possible", value_parser = parse_speed)]
    pub speed: Option<f64>,
    /// Jump the scenario clock from one step to the next (the default).
    #[arg(long)]
    pub as_fast_as_possible: bool,
    /// Print the final sitrep's figures as JSON instead of the Markdown report.
    #[arg(long)]
    pub json: bool,
    /// Language of the report.
    #[arg(long, value_enum, default_value = "zh")]
    pub lang: LangArg,
    /// Keep the drill's log in this new SQLite file (for `crest sitrep` and review).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// A replay speed: more than 0, at most 1,000,000.
fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1_000_000.0 => Ok(v),
        _ => Err(format!(
            "{s:?}: a speed is a number above 0 and at most 1000000"
        )),
    }
}

#[derive(Args, Debug)]
pub struct SitrepArgs {
    /// The log of a Crest server (it is only read): a SQLite file or a PostgreSQL URL.
    #[arg(long, env = "CREST_DB")]
    pub db: Location,
    /// Language of the report.
    #[arg(long, value_enum, default_value = "zh")]
    pub lang: LangArg,
    /// The moment to report: an RFC 3339 time (`2026-07-15T08:00:00+08:00`) folds the events
    /// logged up to it; a whole number folds the events up to that seq. Default: the whole log,
    /// reported at the time of its last event.
    #[arg(long)]
    pub at: Option<String>,
    /// Print the figures as JSON (as the `sitrep` query answers) instead of the Markdown report.
    #[arg(long)]
    pub json: bool,
    /// The district's name for the title (a server takes it from its map).
    #[arg(long)]
    pub district: Option<String>,
}

/// The report's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    /// Chinese: 汛情快报.
    Zh,
    /// English.
    En,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The log: a SQLite file (created if missing; also `sqlite://PATH`), or a PostgreSQL URL
    /// (`postgres://user@host:5432/db`) that several nodes may share (docs/scaling.md).
    #[arg(long, default_value = "crest.db", env = "CREST_DB")]
    pub db: Location,
    /// Address to listen on (HTTP and WebSocket share it).
    #[arg(long, default_value = "127.0.0.1:8080", env = "CREST_LISTEN")]
    pub listen: SocketAddr,
    /// District map directory.
    #[arg(long, env = "CREST_MAP")]
    pub map: Option<PathBuf>,
    /// Write a state snapshot every N events.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_every: u64,
    /// Sustained messages per second allowed per token (all its connections together).
    #[arg(long, default_value_t = 50.0)]
    pub rate_limit: f64,
    /// Burst of messages allowed per token above the sustained rate.
    #[arg(long, default_value_t = 200.0)]
    pub rate_burst: f64,
    /// Open TCP connections (HTTP and WebSocket) at most; keep it below LimitNOFILE. The last 64
    /// serve only /healthz, /readyz and /metrics.
    #[arg(long, default_value_t = 10_000, env = "CREST_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// WebSocket connections without a token (not yet authenticated) at most.
    #[arg(long, default_value_t = 1_024, env = "CREST_MAX_UNAUTHENTICATED")]
    pub max_unauthenticated: usize,
    /// Where drill scenarios are found by name (`POST /api/v1/drills`).
    #[arg(long, default_value = "scenarios", env = "CREST_SCENARIOS")]
    pub scenarios: PathBuf,
    /// The web pages' directory (the dashboard at /dashboard/, the field app at /field/): `app/`
    /// and the npm packages in `node_modules/` (`npm ci --omit=dev` there).
    #[arg(long, default_value = "web", env = "CREST_WEB")]
    pub web: PathBuf,
    /// Where drills' logs (SQLite files) go. Default: beside a SQLite database (`<db>.drills/`),
    /// `crest-drills` in the working directory with PostgreSQL.
    #[arg(long, env = "CREST_DRILL_LOGS")]
    pub drill_logs: Option<PathBuf>,
}

/// What a token may do (`docs/protocol.md`, roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Command-center staff: every command.
    Dispatcher,
    /// A field team's tablet (needs --team): its own team's position, duty and assignments,
    /// hazard reports, shelter check-ins.
    Field,
    /// Read-only: subscriptions and queries.
    Observer,
    /// A grid worker's phone (needs --grid-worker): status reports and self-arranged evacuees
    /// for the worker's own grid cells, hazard and casualty reports.
    GridWorker,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Dispatcher => Role::Dispatcher,
            RoleArg::Field => Role::Field,
            RoleArg::Observer => Role::Observer,
            RoleArg::GridWorker => Role::GridWorker,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Issue a new token and print it (it is shown only once).
    Issue {
        #[arg(long, default_value = "crest.db", env = "CREST_DB")]
        db: Location,
        /// What the token may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The team a field token acts for; it must be registered in the database (start the
        /// server with the map that lists it first).
        #[arg(long)]
        team: Option<String>,
        /// Issue a field token for a team the database does not know yet; its commands are
        /// refused until the team is registered.
        #[arg(long)]
        allow_unknown_team: bool,
        /// The grid worker (`GW-017`) a grid-worker token acts for: it may report on the grid
        /// cells whose `grid_worker_id` is this id.
        #[arg(long, conflicts_with = "team")]
        grid_worker: Option<String>,
        /// Who holds it, for audit trails.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (ids, roles, teams, dates; never secrets).
    List {
        #[arg(long, default_value = "crest.db", env = "CREST_DB")]
        db: Location,
    },
    /// Revoke a token by id (`tk_…`).
    Revoke {
        #[arg(long, default_value = "crest.db", env = "CREST_DB")]
        db: Location,
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
            config.scenarios = a.scenarios;
            config.web = Some(a.web);
            config.drill_logs = a.drill_logs;
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
            let addr = server.local_addr();
            // One write, and its failure ignored: a server whose stdout reader went away (a
            // supervisor that read the first line) must not die of a broken pipe.
            let _ = write!(
                std::io::stdout().lock(),
                "Crest listening on http://{addr}  (WebSocket: ws://{addr}/ws)\n  dispatcher dashboard: http://{addr}/dashboard/\n  field app:            http://{addr}/field/\n"
            );
            server.run(shutdown_signal()).await?;
        }
        Cmd::Token(TokenCmd::Issue {
            db,
            role,
            team,
            allow_unknown_team,
            grid_worker,
            label,
        }) => {
            let store = open_store(&db).await?;
            let role = Role::from(role);
            if let (Role::Field, Some(team)) = (role, team.as_deref()) {
                match check_team(store.as_ref(), &db, team).await? {
                    Ok(()) => {}
                    Err(unknown) if allow_unknown_team => {
                        eprintln!(
                            "warning: {unknown}; issuing anyway (--allow-unknown-team): its commands are refused until the team is registered"
                        );
                    }
                    Err(unknown) => {
                        return Err(format!(
                            "{unknown}. Register the team first (start `crest serve --map DIR` with it in teams.geojson, or send register_team), or pass --allow-unknown-team to issue the token now"
                        )
                        .into());
                    }
                }
            }
            match (role, &team, &grid_worker) {
                (Role::GridWorker, Some(_), _) => {
                    return Err(
                        "a grid-worker token is bound with --grid-worker, not --team".into(),
                    );
                }
                (r, _, Some(_)) if r != Role::GridWorker => {
                    return Err("--grid-worker is only for --role grid-worker".into());
                }
                _ => {}
            }
            // A token is bound to one id: a field token's team or a grid worker's id.
            let binding = team.as_deref().or(grid_worker.as_deref());
            let t = auth::issue(store.as_ref(), role, binding, &label).await?;
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
        Cmd::Sitrep(a) => print!("{}", sitrep(&a).await?),
        Cmd::Scenario(ScenarioCmd::Check { file }) => {
            std::process::exit(crate::drill::headless::check(&file))
        }
        Cmd::Demo(a) => demo(a).await?,
        Cmd::Replay(a) => {
            use crate::domain::vocabulary::Lang;
            let options = crate::drill::headless::ReplayOptions {
                file: a.file,
                pace: match a.speed {
                    Some(s) => crate::drill::Pace::Speed(s),
                    None => crate::drill::Pace::AsFastAsPossible,
                },
                json: a.json,
                lang: match a.lang {
                    LangArg::Zh => Lang::Zh,
                    LangArg::En => Lang::En,
                },
                db: a.db,
                quiet: a.quiet,
            };
            let status = crate::drill::headless::replay(&options).await?;
            if status != 0 {
                std::process::exit(status);
            }
        }
        Cmd::Token(TokenCmd::List { db }) => {
            let store = open_store(&db).await?;
            print!("{}", token_table(&store.tokens().await?));
        }
        Cmd::Token(TokenCmd::Revoke { db, id }) => {
            let store = open_store(&db).await?;
            if !store.revoke_token(&id, crate::clock::now_ms()).await? {
                return Err(format!("no active token {id}").into());
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// `Ok(Ok(()))` when the log of `db` has registered `team`; `Ok(Err(why))` when it has not.
async fn check_team(
    store: &dyn Store,
    db: &Location,
    team: &str,
) -> Result<Result<(), String>, Box<dyn std::error::Error>> {
    let state = crate::engine::recover(store).await?.state;
    if state.teams.contains_key(&TeamId::from(team)) {
        return Ok(Ok(()));
    }
    let known: Vec<&str> = state.teams.keys().map(|t| t.as_str()).collect();
    let known = match known.len() {
        0 => "no team is registered yet".to_string(),
        n if n <= 30 => format!("known teams: {}", known.join(", ")),
        n => format!("{n} teams, {} … {}", known[0], known[n - 1]),
    };
    Ok(Err(format!("team {team} is not known in {db} ({known})")))
}

/// `crest sitrep`: the report of the log in `--db` up to `--at`.
pub async fn sitrep(a: &SitrepArgs) -> Result<String, Box<dyn std::error::Error>> {
    use crate::domain::vocabulary::{Lang, SitrepFormat};
    use crate::engine::Until;
    if let Some(path) = a.db.sqlite_path()
        && !path.is_file()
    {
        return Err(format!("no database file {}", path.display()).into());
    }
    let until = match a.at.as_deref() {
        None => Until::End,
        Some(at) if !at.is_empty() && at.bytes().all(|b| b.is_ascii_digit()) => {
            Until::Seq(at.parse().map_err(|_| format!("--at {at}: not a seq"))?)
        }
        Some(at) => Until::Time(crate::clock::parse_rfc3339(at).map_err(|e| format!("--at: {e}"))?),
    };
    let store = open_store(&a.db).await?;
    let folded = crate::engine::fold_until(store.as_ref(), until).await?;
    let at_ms = match until {
        Until::Time(t) => t,
        Until::End | Until::Seq(_) => folded.last_time_ms.unwrap_or(0),
    };
    let header = crate::read::sitrep_markdown::Header {
        district: a.district.clone(),
        at_ms,
        seq: folded.seq,
    };
    let lang = match a.lang {
        LangArg::Zh => Lang::Zh,
        LangArg::En => Lang::En,
    };
    Ok(if a.json {
        let report =
            crate::read::sitrep_markdown::report(&folded.state, &header, SitrepFormat::Json, lang);
        format!("{report}\n")
    } else {
        crate::read::sitrep_markdown::markdown(&folded.state, &header, lang)
    })
}

/// `crest demo`: serve the map, start the scenario as a drill at the speed that fits it into
/// `minutes`, print how to watch it, and serve until stopped.
async fn demo(a: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let name = a
        .scenario
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or("the scenario file needs a name")?
        .to_string();
    let (scenario, _) = crate::scenario::load(&a.scenario)
        .map_err(|problems| crate::drill::headless::problems_text(&a.scenario, &problems))?;
    let mut config = Config::new(a.db);
    config.listen = a.listen;
    config.map = Some(a.map);
    config.scenarios = a
        .scenario
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    ensure_web_packages(&a.web);
    config.web = Some(a.web.clone());
    let server = Server::build(config).await?;
    let speed = (scenario.duration_ms as f64 / 1000.0) / (a.minutes * 60.0);
    let drills = server.drills();
    let drill = drills
        .start(&name, crate::drill::Pace::Speed(speed), true)
        .await?;
    let live = auth::issue(server.store().as_ref(), Role::Dispatcher, None, "demo desk").await?;
    let store = drill.space.store.clone();
    let trainee = auth::issue_in(
        store.as_ref(),
        Some(&drill.id),
        Role::Dispatcher,
        None,
        "demo trainee",
    )
    .await?;
    let field = auth::issue_in(
        store.as_ref(),
        Some(&drill.id),
        Role::Field,
        Some(DEMO_FIELD_TEAM),
        "demo field tablet",
    )
    .await?;
    let addr = server.local_addr();
    println!(
        "Crest demo: {} — drill {} in its own exercise space, {:.0}× ({} in {} min)",
        scenario.title,
        drill.id,
        speed,
        crate::scenario::time::format_relative(scenario.duration_ms).trim_start_matches('+'),
        a.minutes
    );
    println!("  listening on http://{addr}  (WebSocket ws://{addr}/ws)");
    println!("  dispatcher dashboard: http://{addr}/dashboard/  (sign in with the drill's token)");
    println!(
        "  field app:            http://{addr}/field/  (team {DEMO_FIELD_TEAM}'s token in the drill: {})",
        field.secret
    );
    println!(
        "  the drill's token (acts only in the drill):  {}",
        trainee.secret
    );
    println!(
        "  a live dispatcher's token (controls drills): {}",
        live.secret
    );
    println!(
        "  watch: curl -H \"Authorization: Bearer {}\" \"http://{addr}/api/v1/sitrep?format=markdown\"",
        trainee.secret
    );
    println!(
        "  control: curl -X POST -H \"Authorization: Bearer {}\" -d '{{\"action\":\"pause\"}}' http://{addr}/api/v1/drills/{}/control",
        live.secret, drill.id
    );
    let watched = drill.clone();
    tokio::spawn(async move {
        let mut progress = watched.progress.clone();
        let mut last = -1;
        while progress.changed().await.is_ok() {
            let p = progress.borrow().clone();
            let tenth = 10 * p.at_ms / watched.scenario.duration_ms.max(1);
            if tenth != last || p.finished {
                last = tenth;
                tracing::info!(
                    drill = %watched.id,
                    at = %watched.scenario.describe_time(p.at_ms),
                    commands = p.steps_done,
                    of = p.steps_total,
                    finished = p.finished,
                    "drill progress"
                );
            }
            if p.finished {
                break;
            }
        }
    });
    server.run(shutdown_signal()).await?;
    Ok(())
}

/// The team whose tablet the demo hands out (the district's first armed-police team).
const DEMO_FIELD_TEAM: &str = "T-01";

/// The web pages import Leaflet from npm: install the packages (`npm ci --omit=dev`, from the
/// lockfile) when they are missing, so that the demo's pages work on a fresh checkout. Without
/// npm the server still runs, and says what is missing.
fn ensure_web_packages(web: &Path) {
    if !web.join("app").is_dir() || web.join(crate::transport::web::LEAFLET_PROBE).is_file() {
        return;
    }
    eprintln!(
        "Installing the web pages' packages (npm ci --omit=dev in {})…",
        web.display()
    );
    let status = std::process::Command::new("npm")
        .args(["ci", "--omit=dev", "--no-audit", "--no-fund"])
        .current_dir(web)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("npm ci failed ({s}): the pages will lack their map library"),
        Err(e) => eprintln!(
            "npm cannot be run ({e}): install Node.js and run `npm ci --omit=dev` in {}",
            web.display()
        ),
    }
}

/// `token list`: a header, then one line per token, columns aligned; times in UTC.
pub fn token_table(tokens: &[TokenRecord]) -> String {
    let mut rows = vec![[
        "ID".to_string(),
        "ROLE".into(),
        "TEAM".into(),
        "STATE".into(),
        "ISSUED (UTC)".into(),
        "REVOKED (UTC)".into(),
        "LABEL".into(),
    ]];
    for t in tokens {
        rows.push([
            t.id.clone(),
            t.role.clone(),
            t.team.clone().unwrap_or_else(|| "-".into()),
            if t.revoked_ms.is_some() {
                "revoked"
            } else {
                "active"
            }
            .into(),
            utc(t.created_ms),
            t.revoked_ms.map(utc).unwrap_or_else(|| "-".into()),
            t.label.clone(),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc(ms: i64) -> String {
    let (year, month, day, h, m, s) = crate::clock::civil(ms, 0);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}")
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_700_000_000_999), "2023-11-14 22:13:20");
        assert_eq!(utc(4_107_542_399_000), "2100-02-28 23:59:59");
        assert_eq!(utc(-1_000), "1969-12-31 23:59:59");
    }

    #[test]
    fn the_token_table_has_a_header_and_dates() {
        let record = |id: &str, team: Option<&str>, revoked_ms| TokenRecord {
            id: id.into(),
            hash: "h".into(),
            role: if team.is_some() {
                "field"
            } else {
                "dispatcher"
            }
            .into(),
            team: team.map(str::to_string),
            label: "T-07 平板".into(),
            created_ms: 1_700_000_000_000,
            revoked_ms,
        };
        let table = token_table(&[
            record("tk_aaaaaaaaaaaa", Some("T-07"), None),
            record("tk_bbbbbbbbbbbb", None, Some(1_700_086_400_000)),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            [
                "ID               ROLE        TEAM  STATE    ISSUED (UTC)         REVOKED (UTC)        LABEL",
                "tk_aaaaaaaaaaaa  field       T-07  active   2023-11-14 22:13:20  -                    T-07 平板",
                "tk_bbbbbbbbbbbb  dispatcher  -     revoked  2023-11-14 22:13:20  2023-11-15 22:13:20  T-07 平板",
            ]
        );
        assert_eq!(token_table(&[]).lines().count(), 1, "the header alone");
    }

    #[test]
    fn role_is_one_of_three_and_help_says_which() {
        let help = Cli::command()
            .find_subcommand_mut("token")
            .unwrap()
            .find_subcommand_mut("issue")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("Possible values:"), "{help}");
        for role in ["dispatcher", "field", "observer"] {
            assert!(help.contains(&format!("- {role}:")), "{help}");
        }
        let parsed = Cli::try_parse_from(["crest", "token", "issue", "--role", "field"]).unwrap();
        assert!(matches!(
            parsed.command,
            Cmd::Token(TokenCmd::Issue {
                role: RoleArg::Field,
                ..
            })
        ));
        let err = Cli::try_parse_from(["crest", "token", "issue", "--role", "admin"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("dispatcher, field, observer"), "{err}");
    }

    #[tokio::test]
    async fn a_team_the_log_does_not_know_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = Location::from(dir.path().join("crest.db"));
        let store = open_store(&db).await.unwrap();
        let err = check_team(store.as_ref(), &db, "T-99")
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            err.contains("team T-99 is not known") && err.contains("no team is registered yet"),
            "{err}"
        );
    }
}
