//! Process metrics, rendered as Prometheus text on `/metrics`. Plain atomics: no registry crate,
//! no global recorder, one instance per server (so tests can run several servers in one process).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds of the commit-latency histogram, seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add((seconds * 1e6) as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                self.buckets[i].load(Relaxed)
            );
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub commands_accepted: AtomicU64,
    pub commands_rejected: AtomicU64,
    pub commands_duplicate: AtomicU64,
    pub events_committed: AtomicU64,
    pub commit_batches: AtomicU64,
    pub frames_sent: AtomicU64,
    pub frames_coalesced: AtomicU64,
    pub client_resyncs: AtomicU64,
    pub client_errors: AtomicU64,
    pub slow_client_closes: AtomicU64,
    /// Submissions waiting for the engine.
    pub engine_queue_depth: AtomicU64,
    /// Largest backlog (frames behind the newest) seen by any connection in the current and the
    /// previous minute. Kept by the connections, only read by a scrape: scraping changes nothing
    /// (two scrapers, or a retried scrape, see the same value).
    pub max_client_lag: LagWindow,
    pub last_seq: AtomicU64,
    pub commit_latency: Histogram,
    /// Commits that failed (nothing of them was acknowledged).
    pub commit_failures: AtomicU64,
    /// Commands answered `unavailable` because the log could not be written.
    pub commands_unavailable: AtomicU64,
    /// 1 while the event log cannot be written, else 0.
    pub log_unwritable: AtomicU64,
    pub listener: ListenerMetrics,
}

/// The listener's connection counts and refusals (`transport::listener`). The two gauges are also
/// what the caps are checked against.
#[derive(Debug, Default)]
pub struct ListenerMetrics {
    /// TCP connections open, HTTP and WebSocket together.
    pub open: AtomicU64,
    /// WebSocket connections counted against the unauthenticated cap.
    pub unauthenticated: AtomicU64,
    /// Accepted and closed at once at `max_connections`.
    pub refused_at_cap: AtomicU64,
    /// Requests answered 503 while the reserve was in use.
    pub refused_in_reserve: AtomicU64,
    /// WebSocket connections without a token closed with 1013.
    pub refused_unauthenticated: AtomicU64,
    /// `accept` failures other than a peer that gave up (EMFILE, ENFILE, ENOBUFS …).
    pub accept_errors: AtomicU64,
    /// Connections closed without a complete first request head in time.
    pub header_timeouts: AtomicU64,
    /// Keep-alive connections closed after idling past the head deadline.
    pub keepalive_timeouts: AtomicU64,
}

impl ListenerMetrics {
    fn render(&self, out: &mut String) {
        let name = "crest_connections_refused_total";
        let _ = writeln!(
            out,
            "# HELP {name} Connections or requests refused by a connection limit\n# TYPE {name} counter"
        );
        for (limit, v) in [
            ("max_connections", &self.refused_at_cap),
            ("reserve", &self.refused_in_reserve),
            ("unauthenticated", &self.refused_unauthenticated),
        ] {
            let _ = writeln!(out, "{name}{{limit=\"{limit}\"}} {}", v.load(Relaxed));
        }
        let counters: [(&str, &str, &AtomicU64); 3] = [
            (
                "crest_accept_errors_total",
                "Failed accepts (file-descriptor limit, out of memory), not counting peers that gave up",
                &self.accept_errors,
            ),
            (
                "crest_http_header_timeouts_total",
                "Connections closed without a complete request head within the deadline",
                &self.header_timeouts,
            ),
            (
                "crest_http_keepalive_timeouts_total",
                "Keep-alive connections closed after idling past the deadline",
                &self.keepalive_timeouts,
            ),
        ];
        for (name, help, v) in counters {
            write_metric(out, "counter", name, help, v.load(Relaxed));
        }
        let gauges: [(&str, &str, &AtomicU64); 2] = [
            (
                "crest_tcp_connections_open",
                "Open TCP connections, HTTP and WebSocket",
                &self.open,
            ),
            (
                "crest_connections_unauthenticated",
                "WebSocket connections counted against the unauthenticated limit",
                &self.unauthenticated,
            ),
        ];
        for (name, help, v) in gauges {
            write_metric(out, "gauge", name, help, v.load(Relaxed));
        }
    }
}

/// One unlabelled metric in the Prometheus text format.
fn write_metric(out: &mut String, kind: &str, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let counters: &[(&str, &str, &AtomicU64)] = &[
            (
                "crest_connections_total",
                "WebSocket connections accepted",
                &self.connections_total,
            ),
            (
                "crest_commands_accepted_total",
                "Commands committed",
                &self.commands_accepted,
            ),
            (
                "crest_commands_rejected_total",
                "Commands refused with an error",
                &self.commands_rejected,
            ),
            (
                "crest_commands_duplicate_total",
                "Resent commands answered from the idempotency record",
                &self.commands_duplicate,
            ),
            (
                "crest_events_committed_total",
                "Events written to the log",
                &self.events_committed,
            ),
            (
                "crest_commit_batches_total",
                "Group-commit transactions",
                &self.commit_batches,
            ),
            (
                "crest_frames_sent_total",
                "Frames written to WebSocket clients",
                &self.frames_sent,
            ),
            (
                "crest_frames_coalesced_total",
                "Position frames skipped because a newer one superseded them",
                &self.frames_coalesced,
            ),
            (
                "crest_client_resyncs_total",
                "Clients told to resync after falling too far behind",
                &self.client_resyncs,
            ),
            (
                "crest_client_errors_total",
                "Error messages sent to clients",
                &self.client_errors,
            ),
            (
                "crest_slow_client_closes_total",
                "Connections closed for being too slow",
                &self.slow_client_closes,
            ),
            (
                "crest_commit_failures_total",
                "Batches whose commit failed; none of their commands was acknowledged",
                &self.commit_failures,
            ),
            (
                "crest_commands_unavailable_total",
                "Commands answered unavailable because the log could not be written",
                &self.commands_unavailable,
            ),
        ];
        for (name, help, v) in counters {
            write_metric(&mut out, "counter", name, help, v.load(Relaxed));
        }
        let gauges: &[(&str, &str, u64)] = &[
            (
                "crest_connections_open",
                "Open WebSocket connections",
                self.connections_open.load(Relaxed),
            ),
            (
                "crest_engine_queue_depth",
                "Commands waiting for the engine",
                self.engine_queue_depth.load(Relaxed),
            ),
            (
                "crest_client_max_lag_frames",
                "Largest client backlog in the last one to two minutes, frames",
                self.max_client_lag.get(),
            ),
            (
                "crest_last_seq",
                "Sequence number of the newest committed event",
                self.last_seq.load(Relaxed),
            ),
            (
                "crest_log_unwritable",
                "1 while the event log cannot be written (see /readyz for why)",
                self.log_unwritable.load(Relaxed),
            ),
        ];
        for &(name, help, v) in gauges {
            write_metric(&mut out, "gauge", name, help, v);
        }
        self.commit_latency.render(
            &mut out,
            "crest_commit_seconds",
            "Time to make a batch durable",
        );
        self.listener.render(&mut out);
        out
    }

    pub fn note_lag(&self, lag: u64) {
        self.max_client_lag.note(lag);
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

    #[test]
    fn a_scrape_changes_nothing() {
        let m = Metrics::default();
        m.note_lag(40);
        m.note_lag(7);
        let first = m.render();
        assert!(first.contains("crest_client_max_lag_frames 40"), "{first}");
        assert_eq!(m.render(), first, "a second scrape sees the same");
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.commands_accepted.fetch_add(3, Relaxed);
        m.commit_latency.observe(0.003);
        let text = m.render();
        assert!(text.contains("crest_commands_accepted_total 3"));
        assert!(text.contains("crest_commit_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("crest_commit_seconds_bucket{le=\"0.002\"} 0"));
        assert!(text.contains("crest_commit_seconds_count 1"));
    }

    #[test]
    fn renders_the_listener_counters_with_their_limit() {
        let m = Metrics::default();
        m.listener.refused_in_reserve.fetch_add(2, Relaxed);
        m.listener.open.fetch_add(5, Relaxed);
        let text = m.render();
        assert!(text.contains("crest_connections_refused_total{limit=\"reserve\"} 2"));
        assert!(text.contains("crest_connections_refused_total{limit=\"max_connections\"} 0"));
        assert!(text.contains("crest_tcp_connections_open 5"));
        assert!(text.contains("# TYPE crest_http_header_timeouts_total counter"));
    }
}
