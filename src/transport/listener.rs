//! The accept loop: every TCP connection of the one port, HTTP and WebSocket alike, with the
//! limits that keep idle and half-open connections from locking the server out.
//!
//! `axum::serve` is not used because it sets no request-head deadline (hyper's needs a timer,
//! which it does not give), has no cap on connections and says nothing when `accept` fails at the
//! file-descriptor limit. What this loop adds:
//!
//! - **Request-head deadline** (`Limits::header_timeout`): hyper's http1 `header_read_timeout`
//!   with a tokio timer. In hyper 1.12 (`proto/h1/conn.rs`, `poll_read_head`) the timer is armed
//!   whenever the connection waits for a head and is not already timing one: on the first poll
//!   right after accept, and again as soon as a response is done (`State::idle` sets
//!   `notify_read` for that purpose). Only a completely parsed head disarms it; trickled bytes do
//!   not. So the one deadline closes a slowloris head, a socket that never sends a byte, and a
//!   keep-alive connection that idles: the idle wait and the next head must fit in it together.
//!   It does not run while a request is handled, nor after a WebSocket upgrade (the session's
//!   pings take over).
//! - **Connection cap** (`Limits::max_connections`): every accepted socket holds a slot until it
//!   is closed, the WebSocket session included (the slot travels inside the I/O object that hyper
//!   hands to the upgrade). Beyond the cap a connection is accepted and closed at once, so the
//!   kernel's backlog never fills with connections nobody will serve. The last
//!   `connection_reserve` slots serve only `/healthz`, `/readyz` and `/metrics`: everything else
//!   gets 503 `too_many_connections` with `Connection: close`, so health checks and scrapes still
//!   answer when the server is full.
//! - **Unauthenticated WebSockets** (`Limits::max_unauthenticated`): see [`Gate::unauthenticated`].
//! - **Readers that stop reading**: a write to a connection that makes no progress for twice
//!   `Limits::write_timeout` (30 s) fails and the connection is closed, so a client that requests
//!   a large response and never reads it cannot hold its slot. A WebSocket session's own write
//!   timeout (15 s) acts first; this one is for HTTP responses and anything else.
//! - **Accept errors**: a failure that is about one connection (the peer gave up) is skipped;
//!   anything else (EMFILE, ENFILE, ENOBUFS) is counted, logged and followed by a short pause, so
//!   the loop never spins on a backlog it cannot drain.
//! - Every limit hit is logged at most once per 10 s per limit, with the number of hits not
//!   logged in between, and counted in `/metrics`.
//!
//! Stopping is as before: the loop stops accepting, `App::shutdown` turns true (sessions close
//! with 1001, HTTP connections finish their request and close), and [`serve`] returns once every
//! HTTP connection is done.

use super::{App, Limits, http};
use crate::metrics::Metrics;
use crate::protocol::ErrorCode;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Sleep;

/// Paths still served while the reserve is in use.
const ALWAYS_SERVED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];
/// Least time between two log lines about the same limit.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about one connection.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Descriptors the process needs besides connections (database, WAL, runtime, stdio), for the
/// start-up check of the cap against `RLIMIT_NOFILE`.
const OTHER_DESCRIPTORS: u64 = 64;

/// The connection caps: counts (in `Metrics::listener`) and what happens when one is reached.
pub struct Gate {
    max_connections: u64,
    /// Above this many open connections only [`ALWAYS_SERVED`] is served.
    reserve_from: u64,
    max_unauthenticated: u64,
    header_timeout: Duration,
    /// A write that makes no progress for this long fails (see [`Counted`]).
    write_stall: Duration,
    metrics: Arc<Metrics>,
    at_cap: Throttle,
    in_reserve: Throttle,
    unauthenticated: Throttle,
    accept_failed: Throttle,
    head_timeout: Throttle,
    stalled: Throttle,
}

impl Gate {
    pub fn new(limits: &Limits, metrics: Arc<Metrics>) -> Gate {
        let max_connections = limits.max_connections.max(1) as u64;
        let reserve = (limits.connection_reserve as u64).min(max_connections / 2);
        Gate {
            max_connections,
            reserve_from: max_connections - reserve,
            max_unauthenticated: limits.max_unauthenticated as u64,
            header_timeout: limits.header_timeout,
            write_stall: limits.write_timeout * 2,
            metrics,
            at_cap: Throttle::default(),
            in_reserve: Throttle::default(),
            unauthenticated: Throttle::default(),
            accept_failed: Throttle::default(),
            head_timeout: Throttle::default(),
            stalled: Throttle::default(),
        }
    }

    /// A slot for a connection just accepted, or `None` at the cap (the caller closes it).
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let counts = &self.metrics.listener;
        let open = counts.open.inc() + 1;
        let slot = Slot(self.clone());
        if open <= self.max_connections {
            return Some(slot);
        }
        counts.refused_at_cap.inc();
        if let Some(suppressed) = self.at_cap.check() {
            tracing::warn!(
                limit = self.max_connections,
                suppressed,
                "connection limit reached: new connections are closed at once (--max-connections)"
            );
        }
        None
    }

    /// True when a request for `path` is refused because the reserve is in use.
    fn refuses(&self, path: &str) -> bool {
        let open = self.metrics.listener.open.get();
        if open <= self.reserve_from || ALWAYS_SERVED.contains(&path) {
            return false;
        }
        self.metrics.listener.refused_in_reserve.inc();
        if let Some(suppressed) = self.in_reserve.check() {
            tracing::warn!(
                open,
                limit = self.max_connections,
                reserve_from = self.reserve_from,
                suppressed,
                "connection reserve in use: only /healthz, /readyz and /metrics are served, other requests get 503"
            );
        }
        true
    }

    /// A slot for a WebSocket that upgraded without a token, or `None` when
    /// `max_unauthenticated` of them are open (the caller closes it with 1013). The session holds
    /// the slot until it authenticates (`auth` message) or ends; its authentication deadline
    /// bounds how long that can be.
    pub fn unauthenticated(&self) -> Option<UnauthenticatedSlot> {
        let counts = &self.metrics.listener;
        let open = counts.unauthenticated.inc() + 1;
        let slot = UnauthenticatedSlot(self.metrics.clone());
        if open <= self.max_unauthenticated {
            return Some(slot);
        }
        counts.refused_unauthenticated.inc();
        if let Some(suppressed) = self.unauthenticated.check() {
            tracing::warn!(
                limit = self.max_unauthenticated,
                suppressed,
                "unauthenticated WebSocket limit reached: connections without a token are closed with 1013 (--max-unauthenticated)"
            );
        }
        None
    }

    fn accept_failed(&self, error: &io::Error) {
        self.metrics.listener.accept_errors.inc();
        if let Some(suppressed) = self.accept_failed.check() {
            tracing::error!(
                %error,
                cause = accept_error_cause(error),
                suppressed,
                "accept failed; pausing new connections for {ACCEPT_BACKOFF:?}"
            );
        }
    }

    /// A connection ended with `error` after `requests` request heads.
    fn connection_failed(&self, error: &hyper::Error, requests: u64) {
        if !error.is_timeout() {
            tracing::debug!(%error, "connection ended with an error");
        } else if requests > 0 {
            self.metrics.listener.keepalive_timeouts.inc();
            tracing::debug!("closed an idle keep-alive connection");
        } else {
            self.metrics.listener.header_timeouts.inc();
            if let Some(suppressed) = self.head_timeout.check() {
                tracing::info!(
                    deadline = ?self.header_timeout,
                    suppressed,
                    "closed a connection that sent no complete request head within the deadline"
                );
            }
        }
    }

    /// A write to a connection made no progress for `write_stall`.
    fn write_stalled(&self) {
        self.metrics.slow_client_closes.inc();
        if let Some(suppressed) = self.stalled.check() {
            tracing::info!(
                deadline = ?self.write_stall,
                suppressed,
                "closed a connection that read nothing of what was written to it within the deadline"
            );
        }
    }
}

/// One open connection; gives its slot back when dropped.
struct Slot(Arc<Gate>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.metrics.listener.open.dec();
    }
}

/// One WebSocket counted as unauthenticated; see [`Gate::unauthenticated`].
pub struct UnauthenticatedSlot(Arc<Metrics>);

impl Drop for UnauthenticatedSlot {
    fn drop(&mut self) {
        self.0.listener.unauthenticated.dec();
    }
}

/// Allows one log line per [`LOG_EVERY`] and counts the hits in between.
#[derive(Default)]
pub struct Throttle(Mutex<(Option<Instant>, u64)>);

impl Throttle {
    /// `Some(suppressed)` when a line may be logged now: the hits not logged since the last one.
    pub fn check(&self) -> Option<u64> {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        match state.0 {
            Some(last) if now.duration_since(last) < LOG_EVERY => {
                state.1 += 1;
                None
            }
            _ => {
                state.0 = Some(now);
                Some(std::mem::take(&mut state.1))
            }
        }
    }
}

/// Accepts and serves until `shutdown` completes, then stops accepting, tells sessions and
/// connections to stop (`App::shutdown`) and waits for every HTTP connection to finish.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(app.limits.header_timeout);
    // Every connection task holds a receiver; `closed()` resolves when the last one is gone.
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                // At the cap the stream is dropped here: closed at once.
                if let Some(slot) = app.gate.admit() {
                    let io = TokioIo::new(Counted::new(stream, slot));
                    spawn_connection(io, peer, &app, &router, &builder, done_rx.clone());
                }
            }
            // The peer gave up between SYN and accept: nothing to do.
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                app.gate.accept_failed(&e);
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
    drop(listener);
    let _ = app.shutdown.send(true);
    drop(done_rx);
    done_tx.closed().await;
}

fn spawn_connection(
    io: TokioIo<Counted<TcpStream>>,
    peer: std::net::SocketAddr,
    app: &Arc<App>,
    router: &Router,
    builder: &http1::Builder,
    done: watch::Receiver<()>,
) {
    let requests = Arc::new(AtomicU64::new(0));
    let service = {
        let routed = TowerToHyperService::new(router.clone());
        let app = app.clone();
        let requests = requests.clone();
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            requests.fetch_add(1, Relaxed);
            // Handlers read the peer's address as axum's `ConnectInfo` (logs, spans).
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            if app.gate.refuses(req.uri().path()) {
                Either::Left(std::future::ready(Ok::<_, Infallible>(
                    too_many_connections(),
                )))
            } else {
                Either::Right(routed.call(req))
            }
        })
    };
    let conn = builder.serve_connection(io, service).with_upgrades();
    let app = app.clone();
    tokio::spawn(async move {
        tokio::pin!(conn);
        let mut stopping = app.shutdown.subscribe();
        let result = tokio::select! {
            result = conn.as_mut() => result,
            () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
                // Idle connections close now; a request in progress finishes first.
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            app.gate.connection_failed(&e, requests.load(Relaxed));
        }
        drop(done);
    });
}

/// The answer in the reserve: the JSON error body of every endpoint, and the connection closes so
/// its slot comes free.
fn too_many_connections() -> Response<Body> {
    let mut response = http::error(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TooManyConnections,
        "the server is at its connection limit; retry later",
        "服务器连接数已达上限，请稍后重试",
    );
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Errors of one connection that the peer already abandoned (as hyper and axum treat them).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(unix)]
fn accept_error_cause(e: &io::Error) -> &'static str {
    use rustix::io::Errno;
    match Errno::from_io_error(e) {
        Some(Errno::MFILE) => {
            "the process is at its file-descriptor limit (RLIMIT_NOFILE): raise LimitNOFILE or lower --max-connections"
        }
        Some(Errno::NFILE) => "the system-wide file table is full (fs.file-max)",
        Some(Errno::NOBUFS | Errno::NOMEM) => "the kernel is out of memory for sockets",
        _ => "unexpected",
    }
}

#[cfg(not(unix))]
fn accept_error_cause(_: &io::Error) -> &'static str {
    "unexpected"
}

/// A connection's socket with its slot: the slot is given back when the socket is closed,
/// whether hyper or a WebSocket session (after the upgrade) holds it last. Also the write-stall
/// deadline: a write that stays blocked (the peer's receive window closed) for
/// `Gate::write_stall` fails with `TimedOut`, and whoever holds the socket drops the connection.
struct Counted<S> {
    stream: S,
    slot: Slot,
    /// Armed while a write is blocked; cleared by any write that completes.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S: AsyncWrite + Unpin> Counted<S> {
    fn new(stream: S, slot: Slot) -> Counted<S> {
        Counted {
            stream,
            slot,
            stalled: None,
        }
    }

    fn write_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if let ready @ Poll::Ready(_) = write(Pin::new(&mut self.stream), cx) {
            self.stalled = None;
            return ready;
        }
        let stall = self.slot.0.write_stall;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.stalled = None;
        self.slot.0.write_stalled();
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the peer read nothing for {stall:?}"),
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with(cx, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .write_with(cx, |stream, cx| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and logs both; warns when
/// `max_connections` does not fit under the result. Every connection is a file descriptor, and
/// the usual soft default (1,024) would make `accept` fail (EMFILE) long before the cap.
#[cfg(unix)]
pub fn raise_fd_limit(max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let show = |v: Option<u64>| v.map_or_else(|| "unlimited".to_string(), |v| v.to_string());
    let before = getrlimit(Resource::Nofile);
    let mut soft = before.current;
    if before.current != before.maximum {
        let raised = Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => soft = before.maximum,
            Err(error) => tracing::warn!(
                %error,
                soft = %show(before.current),
                hard = %show(before.maximum),
                "cannot raise the file-descriptor limit (RLIMIT_NOFILE) to its hard limit"
            ),
        }
    }
    tracing::info!(
        soft_before = %show(before.current),
        soft = %show(soft),
        hard = %show(before.maximum),
        "file-descriptor limit (RLIMIT_NOFILE)"
    );
    if let Some(soft) = soft
        && max_connections as u64 + OTHER_DESCRIPTORS > soft
    {
        tracing::warn!(
            max_connections,
            nofile = soft,
            "--max-connections plus the server's own descriptors exceeds RLIMIT_NOFILE: accept will fail (EMFILE) before the connection limit applies; raise LimitNOFILE or lower --max-connections"
        );
    }
}

#[cfg(not(unix))]
pub fn raise_fd_limit(_max_connections: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_logs_once_per_interval_and_counts_the_rest() {
        let t = Throttle::default();
        assert_eq!(t.check(), Some(0));
        assert_eq!(t.check(), None);
        assert_eq!(t.check(), None);
        // Pretend the interval has passed.
        t.0.lock().unwrap().0 = Some(Instant::now() - LOG_EVERY);
        assert_eq!(t.check(), Some(2));
        assert_eq!(t.check(), None);
    }

    #[test]
    fn slots_count_up_and_down_and_the_cap_refuses() {
        let metrics = Arc::new(Metrics::default());
        let limits = Limits {
            max_connections: 4,
            connection_reserve: 1,
            ..Limits::default()
        };
        let gate = Arc::new(Gate::new(&limits, metrics.clone()));
        let slots: Vec<Slot> = (0..4)
            .map(|_| gate.admit().expect("under the cap"))
            .collect();
        assert!(!gate.refuses("/healthz"));
        assert!(gate.refuses("/api/v1/map"));
        assert!(gate.admit().is_none());
        assert_eq!(metrics.listener.open.get(), 4);
        assert_eq!(metrics.listener.refused_at_cap.get(), 1);
        drop(slots);
        assert_eq!(metrics.listener.open.get(), 0);
        assert!(!gate.refuses("/api/v1/map"));
    }

    #[tokio::test]
    async fn a_write_the_peer_never_reads_fails_after_the_stall_deadline() {
        use tokio::io::AsyncWriteExt;
        let metrics = Arc::new(Metrics::default());
        let limits = Limits {
            write_timeout: Duration::from_millis(50),
            ..Limits::default()
        };
        let gate = Arc::new(Gate::new(&limits, metrics.clone()));
        // A pipe with room for 64 bytes whose other end is never read.
        let (near, _far) = tokio::io::duplex(64);
        let mut counted = Counted::new(near, gate.admit().expect("a slot"));
        let written =
            tokio::time::timeout(Duration::from_secs(20), counted.write_all(&[0u8; 1024]))
                .await
                .expect("the write fails before the hang guard");
        let error = written.expect_err("nobody reads");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(metrics.slow_client_closes.get(), 1);
        drop(counted);
        assert_eq!(metrics.listener.open.get(), 0);
    }

    #[tokio::test]
    async fn a_write_that_progresses_is_not_cut_off() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Stall deadline 2 s; the whole write takes longer (64 steps of 40 ms), each step far less.
        let limits = Limits {
            write_timeout: Duration::from_secs(1),
            ..Limits::default()
        };
        let gate = Arc::new(Gate::new(&limits, Arc::new(Metrics::default())));
        let (near, mut far) = tokio::io::duplex(64);
        let mut counted = Counted::new(near, gate.admit().expect("a slot"));
        // The reader drains slowly, 64 bytes at a time, but it keeps draining.
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 64];
            while got < 4096 {
                tokio::time::sleep(Duration::from_millis(40)).await;
                got += far.read(&mut buf).await.unwrap();
            }
            got
        });
        counted
            .write_all(&[1u8; 4096])
            .await
            .expect("progress resets the deadline");
        assert_eq!(reader.await.unwrap(), 4096);
    }

    #[test]
    fn the_reserve_is_at_most_half_the_cap() {
        let limits = Limits {
            max_connections: 10,
            connection_reserve: 64,
            ..Limits::default()
        };
        let gate = Gate::new(&limits, Arc::new(Metrics::default()));
        assert_eq!(gate.reserve_from, 5);
    }
}
