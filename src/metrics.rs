//! Process metrics on `/metrics`, kept in a `prometheus_client` registry. Every [`Metrics`] has a
//! registry of its own (there is no global one), so tests can run several servers in one process.
//!
//! **Labels are bounded.** Every label value is a `&'static str` taken from a closed enum: a
//! command's wire name (`Command::name`), an error code (`ErrorCode`), a role (`Role`, or
//! `none`), a connection limit. None comes from what a client sends, so the number of series is
//! fixed by the code: at most commands × error codes for the largest family.
//!
//! **Format.** The Prometheus text format, version 0.0.4, as `/metrics` always served, with the
//! same names: a counter is registered without its `_total`, which the encoder appends. (The crate
//! also writes OpenMetrics, but that would change what a Prometheus 2 stores for the histogram
//! bounds 1 and 5 — `le="1.0"` instead of `le="1"` — for nothing Crest uses.)

use crate::domain::{DomainError, Role};
use crate::protocol::ErrorCode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds of the commit-latency histogram, seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

/// A gauge of a count that is never negative (connections, a sequence number, 0/1 flags).
pub type Level = Gauge<u64, AtomicU64>;

/// The `role` of a WebSocket connection that has not authenticated.
const NO_ROLE: &str = "none";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabel {
    command: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    command: &'static str,
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabel {
    role: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections by role; see [`Metrics::connection_opened`].
    connections_open: Family<RoleLabel, Level>,
    connections_total: Family<RoleLabel, Counter>,
    commands_accepted: Family<CommandLabel, Counter>,
    commands_rejected: Family<RefusalLabels, Counter>,
    commands_duplicate: Family<CommandLabel, Counter>,
    client_errors: Family<CodeLabel, Counter>,
    pub events_committed: Counter,
    /// Events other nodes committed to the shared log, read and folded in by this one.
    pub events_followed: Counter,
    pub commit_batches: Counter,
    pub frames_sent: Counter,
    pub frames_coalesced: Counter,
    pub client_resyncs: Counter,
    pub slow_client_closes: Counter,
    /// Submissions waiting for the engine.
    pub engine_queue_depth: Level,
    /// Largest backlog (frames behind the newest) seen by any connection in the current and the
    /// previous minute. Kept by the connections, only read by a scrape: scraping changes nothing
    /// (two scrapers, or a retried scrape, see the same value).
    max_client_lag: Arc<LagWindow>,
    pub last_seq: Level,
    pub commit_latency: Histogram,
    /// Time to get the log's write lock and read what other writers logged since (begin of a
    /// batch's write): with several nodes, the wait for the others.
    pub lock_wait: Histogram,
    /// Commits that failed (nothing of them was acknowledged).
    pub commit_failures: Counter,
    /// Commands answered `unavailable` because the log could not be written.
    pub commands_unavailable: Counter,
    /// 1 while the event log cannot be written, else 0.
    pub log_unwritable: Level,
    pub listener: ListenerMetrics,
}

/// The listener's connection counts and refusals (`transport::listener`). The two gauges are also
/// what the caps are checked against.
#[derive(Debug, Default)]
pub struct ListenerMetrics {
    /// TCP connections open, HTTP and WebSocket together.
    pub open: Level,
    /// WebSocket connections counted against the unauthenticated cap.
    pub unauthenticated: Level,
    /// Accepted and closed at once at `max_connections`.
    pub refused_at_cap: Counter,
    /// Requests answered 503 while the reserve was in use.
    pub refused_in_reserve: Counter,
    /// WebSocket connections without a token closed with 1013.
    pub refused_unauthenticated: Counter,
    /// `accept` failures other than a peer that gave up (EMFILE, ENFILE, ENOBUFS …).
    pub accept_errors: Counter,
    /// Connections closed without a complete first request head in time.
    pub header_timeouts: Counter,
    /// Keep-alive connections closed after idling past the head deadline.
    pub keepalive_timeouts: Counter,
}

impl ListenerMetrics {
    fn register(registry: &mut Registry) -> ListenerMetrics {
        let m = ListenerMetrics::default();
        // One series per limit, each also a field for the listener to count on.
        let refused = Family::<LimitLabel, Counter>::default();
        let by_limit = |limit| refused.get_or_create_owned(&LimitLabel { limit });
        let m = ListenerMetrics {
            refused_at_cap: by_limit("max_connections"),
            refused_in_reserve: by_limit("reserve"),
            refused_unauthenticated: by_limit("unauthenticated"),
            ..m
        };
        registry.register(
            "crest_connections_refused",
            "Connections or requests refused by a connection limit",
            refused,
        );
        registry.register(
            "crest_accept_errors",
            "Failed accepts (file-descriptor limit, out of memory), not counting peers that gave up",
            m.accept_errors.clone(),
        );
        registry.register(
            "crest_http_header_timeouts",
            "Connections closed without a complete request head within the deadline",
            m.header_timeouts.clone(),
        );
        registry.register(
            "crest_http_keepalive_timeouts",
            "Keep-alive connections closed after idling past the deadline",
            m.keepalive_timeouts.clone(),
        );
        registry.register(
            "crest_tcp_connections_open",
            "Open TCP connections, HTTP and WebSocket",
            m.open.clone(),
        );
        registry.register(
            "crest_connections_unauthenticated",
            "WebSocket connections counted against the unauthenticated limit",
            m.unauthenticated.clone(),
        );
        m
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let connections_open = Family::<RoleLabel, Level>::default();
        let connections_total = Family::<RoleLabel, Counter>::default();
        // Every role's series exists from the start (at 0), so a sum or a rate never misses one.
        for role in role_labels() {
            connections_open.get_or_create_owned(&RoleLabel { role });
            connections_total.get_or_create_owned(&RoleLabel { role });
        }
        let mut m = Metrics {
            registry: Registry::default(),
            connections_open,
            connections_total,
            commands_accepted: Family::default(),
            commands_rejected: Family::default(),
            commands_duplicate: Family::default(),
            client_errors: Family::default(),
            events_committed: Counter::default(),
            events_followed: Counter::default(),
            commit_batches: Counter::default(),
            frames_sent: Counter::default(),
            frames_coalesced: Counter::default(),
            client_resyncs: Counter::default(),
            slow_client_closes: Counter::default(),
            engine_queue_depth: Level::default(),
            max_client_lag: Arc::default(),
            last_seq: Level::default(),
            commit_latency: Histogram::new(LATENCY_BUCKETS),
            lock_wait: Histogram::new(LATENCY_BUCKETS),
            commit_failures: Counter::default(),
            commands_unavailable: Counter::default(),
            log_unwritable: Level::default(),
            listener: ListenerMetrics::default(),
        };
        let r = &mut m.registry;
        // Counters are registered without `_total`: the encoder appends it.
        r.register(
            "crest_connections",
            "WebSocket connections, by the role they authenticated as (none: closed without authenticating)",
            m.connections_total.clone(),
        );
        r.register(
            "crest_commands_accepted",
            "Commands committed, by command",
            m.commands_accepted.clone(),
        );
        r.register(
            "crest_commands_rejected",
            "Commands refused by the domain's rules, by command and error code",
            m.commands_rejected.clone(),
        );
        r.register(
            "crest_commands_duplicate",
            "Resent commands answered from the idempotency record, by command",
            m.commands_duplicate.clone(),
        );
        r.register(
            "crest_events_committed",
            "Events written to the log",
            m.events_committed.clone(),
        );
        r.register(
            "crest_events_followed",
            "Events other nodes committed to the shared log, read and folded in by this node",
            m.events_followed.clone(),
        );
        r.register(
            "crest_commit_batches",
            "Group-commit transactions",
            m.commit_batches.clone(),
        );
        r.register(
            "crest_frames_sent",
            "Frames written to WebSocket clients",
            m.frames_sent.clone(),
        );
        r.register(
            "crest_frames_coalesced",
            "Position frames skipped because a newer one superseded them",
            m.frames_coalesced.clone(),
        );
        r.register(
            "crest_client_resyncs",
            "Clients told to resync after falling too far behind",
            m.client_resyncs.clone(),
        );
        r.register(
            "crest_client_errors",
            "Error messages sent to clients, by error code",
            m.client_errors.clone(),
        );
        r.register(
            "crest_slow_client_closes",
            "Connections closed for being too slow",
            m.slow_client_closes.clone(),
        );
        r.register(
            "crest_commit_failures",
            "Batches whose commit failed; none of their commands was acknowledged",
            m.commit_failures.clone(),
        );
        r.register(
            "crest_commands_unavailable",
            "Commands answered unavailable because the log could not be written",
            m.commands_unavailable.clone(),
        );
        r.register(
            "crest_connections_open",
            "Open WebSocket connections, by role (none: not authenticated yet)",
            m.connections_open.clone(),
        );
        r.register(
            "crest_engine_queue_depth",
            "Commands waiting for the engine",
            m.engine_queue_depth.clone(),
        );
        r.register(
            "crest_client_max_lag_frames",
            "Largest client backlog in the last one to two minutes, frames",
            MaxLag(m.max_client_lag.clone()),
        );
        r.register(
            "crest_last_seq",
            "Sequence number of the newest committed event",
            m.last_seq.clone(),
        );
        r.register(
            "crest_log_unwritable",
            "1 while the event log cannot be written (see /readyz for why)",
            m.log_unwritable.clone(),
        );
        r.register(
            "crest_commit_seconds",
            "Time to make a batch durable",
            m.commit_latency.clone(),
        );
        r.register(
            "crest_log_lock_wait_seconds",
            "Time to take the log's write lock and read what other nodes logged since, per batch",
            m.lock_wait.clone(),
        );
        m.listener = ListenerMetrics::register(r);
        m
    }

    /// The metrics in the Prometheus text format ([`CONTENT_TYPE`]). Reads only: a scrape
    /// changes nothing another scrape sees.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        if prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry).is_err() {
            // Writing into a String cannot fail; only a metric the format cannot express could.
            tracing::error!("a metric could not be encoded; the scrape is cut short");
        }
        out
    }

    /// A WebSocket connection opened, authenticated with its upgrade (`Some(role)`) or not yet.
    ///
    /// `crest_connections_open{role}` follows the connection's current role (`none` until it
    /// authenticates). `crest_connections_total{role}` counts each connection once, under the
    /// role it served: when it opens with a token, when its `auth` message succeeds, or as
    /// `none` when it closes without having authenticated. (A connection still waiting to
    /// authenticate, at most the authentication deadline, is not in it yet.)
    pub fn connection_opened(&self, role: Option<Role>) {
        self.open_gauge(role).inc();
        if let Some(role) = role {
            self.total_counter(Some(role)).inc();
        }
    }

    /// A connection that opened without a token authenticated as `role`.
    pub fn connection_authenticated(&self, role: Role) {
        self.open_gauge(None).dec();
        self.open_gauge(Some(role)).inc();
        self.total_counter(Some(role)).inc();
    }

    /// A connection closed, with the role it had (`None`: it never authenticated).
    pub fn connection_closed(&self, role: Option<Role>) {
        self.open_gauge(role).dec();
        if role.is_none() {
            self.total_counter(None).inc();
        }
    }

    fn open_gauge(&self, role: Option<Role>) -> Level {
        self.connections_open.get_or_create_owned(&RoleLabel {
            role: role_label(role),
        })
    }

    fn total_counter(&self, role: Option<Role>) -> Counter {
        self.connections_total.get_or_create_owned(&RoleLabel {
            role: role_label(role),
        })
    }

    /// A command committed; `command` is its wire name (`Command::name`).
    pub fn command_accepted(&self, command: &'static str) {
        self.commands_accepted
            .get_or_create(&CommandLabel { command })
            .inc();
    }

    /// A command refused by the domain, labelled with the error code its sender receives.
    pub fn command_rejected(&self, command: &'static str, error: &DomainError) {
        let code = ErrorCode::from(error).as_str();
        self.commands_rejected
            .get_or_create(&RefusalLabels { command, code })
            .inc();
    }

    /// A resent command answered from its idempotency record.
    pub fn command_duplicate(&self, command: &'static str) {
        self.commands_duplicate
            .get_or_create(&CommandLabel { command })
            .inc();
    }

    /// An `error` message sent to a client.
    pub fn client_error(&self, code: ErrorCode) {
        self.client_errors
            .get_or_create(&CodeLabel {
                code: code.as_str(),
            })
            .inc();
    }

    pub fn note_lag(&self, lag: u64) {
        self.max_client_lag.note(lag);
    }
}

fn role_label(role: Option<Role>) -> &'static str {
    role.map_or(NO_ROLE, Role::name)
}

/// Every value of the `role` label.
fn role_labels() -> impl Iterator<Item = &'static str> {
    <Role as strum::VariantArray>::VARIANTS
        .iter()
        .map(|r| r.name())
        .chain([NO_ROLE])
}

/// `crest_client_max_lag_frames`: the [`LagWindow`]'s value, read (never reset) at each scrape.
#[derive(Debug)]
struct MaxLag(Arc<LagWindow>);

impl EncodeMetric for MaxLag {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.0.get())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// The maximum of a value over the current and the previous minute.
#[derive(Debug, Default)]
pub struct LagWindow {
    /// Minute number (since the Unix epoch) of `current`.
    minute: AtomicU64,
    current: AtomicU64,
    previous: AtomicU64,
}

impl LagWindow {
    fn now_minute() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 60)
    }

    pub fn note(&self, value: u64) {
        let now = Self::now_minute();
        let minute = self.minute.load(Relaxed);
        if now != minute
            && self
                .minute
                .compare_exchange(minute, now, Relaxed, Relaxed)
                .is_ok()
        {
            let carried = if now == minute + 1 {
                self.current.swap(0, Relaxed)
            } else {
                self.current.store(0, Relaxed);
                0
            };
            self.previous.store(carried, Relaxed);
        }
        self.current.fetch_max(value, Relaxed);
    }

    /// The maximum noted in this minute and the one before, without changing anything.
    pub fn get(&self) -> u64 {
        let now = Self::now_minute();
        match now.saturating_sub(self.minute.load(Relaxed)) {
            0 => self.current.load(Relaxed).max(self.previous.load(Relaxed)),
            1 => self.current.load(Relaxed),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn a_scrape_changes_nothing() {
        let m = Metrics::default();
        m.note_lag(40);
        m.note_lag(7);
        m.command_accepted("report_hazard");
        let first = m.render();
        assert!(first.contains("crest_client_max_lag_frames 40"), "{first}");
        assert_eq!(m.render(), first, "a second scrape sees the same");
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.events_committed.inc_by(3);
        m.commit_latency.observe(0.003);
        let text = m.render();
        assert!(text.contains("# TYPE crest_events_committed_total counter\n"));
        assert!(
            text.contains("\ncrest_events_committed_total 3\n"),
            "{text}"
        );
        assert!(text.contains("crest_commit_seconds_bucket{le=\"0.0005\"} 0"));
        assert!(text.contains("crest_commit_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("crest_commit_seconds_bucket{le=\"0.002\"} 0"));
        assert!(text.contains("crest_commit_seconds_bucket{le=\"5\"} 1"));
        assert!(text.contains("crest_commit_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(text.contains("crest_commit_seconds_count 1"));
        assert!(
            !text.contains("# EOF"),
            "the Prometheus format, not OpenMetrics"
        );
    }

    /// The metric names in the `GET /metrics` row of `docs/protocol.md` §10, without labels.
    fn documented_names() -> BTreeSet<String> {
        let doc = include_str!("../docs/protocol.md");
        let row = doc
            .lines()
            .find(|l| l.starts_with("| `GET /metrics` |"))
            .expect("protocol.md has a /metrics row");
        row.split('`')
            .skip(1)
            .step_by(2)
            .filter(|s| s.starts_with("crest_"))
            .map(|s| s.split('{').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn the_documented_names_are_exactly_the_rendered_ones() {
        let m = Metrics::default();
        // A labelled family without any series is not rendered at all: give each one.
        m.command_accepted("report_hazard");
        m.command_duplicate("report_hazard");
        m.command_rejected(
            "report_hazard",
            &DomainError::Invalid(crate::domain::error::Bilingual::new("x", "x")),
        );
        m.client_error(ErrorCode::RateLimited);
        let text = m.render();
        let rendered: BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect();
        assert_eq!(rendered, documented_names());
        for name in rendered {
            assert!(
                text.lines()
                    .any(|l| !l.starts_with('#') && l.starts_with(name.as_str())),
                "no sample of {name} in\n{text}"
            );
        }
    }

    #[test]
    fn commands_and_errors_are_labelled() {
        let m = Metrics::default();
        m.command_accepted("report_hazard");
        m.command_accepted("report_hazard");
        m.command_accepted("update_position");
        m.command_duplicate("update_position");
        m.command_rejected("check_in", &DomainError::ShelterClosed("SH-01".into()));
        m.command_rejected("check_in", &DomainError::ShelterClosed("SH-02".into()));
        m.client_error(ErrorCode::ShelterClosed);
        m.client_error(ErrorCode::RateLimited);
        let text = m.render();
        for line in [
            "crest_commands_accepted_total{command=\"report_hazard\"} 2",
            "crest_commands_accepted_total{command=\"update_position\"} 1",
            "crest_commands_duplicate_total{command=\"update_position\"} 1",
            "crest_commands_rejected_total{command=\"check_in\",code=\"shelter_closed\"} 2",
            "crest_client_errors_total{code=\"shelter_closed\"} 1",
            "crest_client_errors_total{code=\"rate_limited\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
    }

    #[test]
    fn connections_are_counted_by_role() {
        let m = Metrics::default();
        let zero = m.render();
        for role in ["dispatcher", "field", "observer", "none"] {
            assert!(zero.contains(&format!("crest_connections_open{{role=\"{role}\"}} 0")));
            assert!(zero.contains(&format!("crest_connections_total{{role=\"{role}\"}} 0")));
        }
        m.connection_opened(Some(Role::Field)); // a token with the upgrade
        m.connection_opened(None); // then authenticates by message
        m.connection_authenticated(Role::Dispatcher);
        m.connection_opened(None); // never authenticates
        let text = m.render();
        for line in [
            "crest_connections_open{role=\"field\"} 1",
            "crest_connections_open{role=\"dispatcher\"} 1",
            "crest_connections_open{role=\"none\"} 1",
            "crest_connections_total{role=\"field\"} 1",
            "crest_connections_total{role=\"dispatcher\"} 1",
            "crest_connections_total{role=\"none\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        m.connection_closed(None);
        m.connection_closed(Some(Role::Dispatcher));
        m.connection_closed(Some(Role::Field));
        let text = m.render();
        for line in [
            "crest_connections_open{role=\"field\"} 0",
            "crest_connections_open{role=\"dispatcher\"} 0",
            "crest_connections_open{role=\"none\"} 0",
            "crest_connections_total{role=\"field\"} 1",
            "crest_connections_total{role=\"dispatcher\"} 1",
            "crest_connections_total{role=\"none\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
    }

    #[test]
    fn renders_the_listener_counters_with_their_limit() {
        let m = Metrics::default();
        m.listener.refused_in_reserve.inc_by(2);
        m.listener.open.inc_by(5);
        let text = m.render();
        assert!(text.contains("crest_connections_refused_total{limit=\"reserve\"} 2"));
        assert!(text.contains("crest_connections_refused_total{limit=\"max_connections\"} 0"));
        assert!(text.contains("crest_connections_refused_total{limit=\"unauthenticated\"} 0"));
        assert!(text.contains("crest_tcp_connections_open 5"));
        assert!(text.contains("# TYPE crest_http_header_timeouts_total counter"));
    }
}
