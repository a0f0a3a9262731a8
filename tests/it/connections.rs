//! Idle and half-open connections, the connection caps, and the WebSocket closing handshake and
//! protocol violations, over raw sockets. Event-driven: every wait ends on what the server does
//! (a response, a close, EOF), with the hang guard only as an upper bound.

use crate::harness::*;
use crate::keepalive::{raw_websocket, until_close};
use crest::domain::Role;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Reads until the server closes the connection; returns what it sent before. A reset counts as
/// closed too (the server may close while a trickled byte is in flight).
async fn until_eof(s: &mut TcpStream) -> Vec<u8> {
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(HANG_GUARD, read)
        .await
        .expect("the server closes the connection before the hang guard")
}

/// Like [`until_eof`], but keeps trickling one byte every 100 ms while waiting, as a slowloris
/// client does to look alive.
async fn trickle_until_eof(s: &mut TcpStream) {
    let trickle = async {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut buf = [0u8; 1024];
        loop {
            tokio::select! {
                read = s.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = tick.tick() => {
                    // A header line that never ends.
                    let _ = s.write_all(b"a").await;
                }
            }
        }
    };
    tokio::time::timeout(HANG_GUARD, trickle)
        .await
        .expect("the server closes the trickling connection before the hang guard");
}

/// One HTTP/1.1 request on a kept-alive connection, and its response: status, lower-cased head,
/// body (read by `Content-Length`).
async fn request(s: &mut TcpStream, path: &str) -> (u16, String, String) {
    let exchange = async {
        let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.expect("a response head");
            head.push(b[0]);
        }
        let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .expect("content-length")
            .trim()
            .parse()
            .unwrap();
        let mut body = vec![0u8; length];
        s.read_exact(&mut body).await.unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, head, String::from_utf8(body).unwrap())
    };
    tokio::time::timeout(HANG_GUARD, exchange)
        .await
        .expect("the server answers before the hang guard")
}

/// The value of an unlabelled (or fully labelled) metric line in Prometheus text.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn slowloris_and_silent_connections_are_closed_at_the_head_deadline() {
    let server = TestServer::start_with(|c| c.limits.header_timeout = Duration::from_secs(1)).await;
    let connect = || TcpStream::connect(server.addr);
    // Half a request line, then nothing.
    let half_line = async {
        let mut s = connect().await.unwrap();
        s.write_all(b"GET /healthz HT").await.unwrap();
        until_eof(&mut s).await
    };
    // A request line and headers trickled byte by byte, never finished.
    let trickling = async {
        let mut s = connect().await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            .await
            .unwrap();
        trickle_until_eof(&mut s).await;
    };
    // Connected, and not a byte sent.
    let silent = async {
        let mut s = connect().await.unwrap();
        until_eof(&mut s).await
    };
    let (half, (), nothing) = tokio::join!(half_line, trickling, silent);
    assert!(half.is_empty(), "{}", String::from_utf8_lossy(&half));
    assert!(nothing.is_empty(), "{}", String::from_utf8_lossy(&nothing));

    let (status, _, metrics) = crate::http::get(&server, "/metrics", &[]).await;
    assert_eq!(status, 200, "the server still serves");
    assert_eq!(metric(&metrics, "crest_http_header_timeouts_total"), 3);
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = TestServer::start_with(|c| c.limits.header_timeout = Duration::from_secs(1)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let (status, head, body) = request(&mut s, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert!(!head.contains("connection: close"), "kept alive: {head}");
    // Now idle: the server closes it at the deadline.
    let rest = until_eof(&mut s).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));

    let (_, _, metrics) = crate::http::get(&server, "/metrics", &[]).await;
    assert_eq!(metric(&metrics, "crest_http_keepalive_timeouts_total"), 1);
    assert_eq!(metric(&metrics, "crest_http_header_timeouts_total"), 0);
    server.stop().await;
}

#[tokio::test]
async fn the_reserve_keeps_health_answering_and_the_cap_closes_new_connections() {
    const CAP: usize = 20;
    const RESERVE: usize = 4;
    let server = TestServer::start_with(|c| {
        c.limits.max_connections = CAP;
        c.limits.connection_reserve = RESERVE;
        // Longer than the hang guard: every close below comes from the cap, not the deadline.
        c.limits.header_timeout = Duration::from_secs(60);
    })
    .await;
    // Fill every slot below the reserve with sockets that never send a byte.
    let mut held = Vec::new();
    for _ in 0..CAP - RESERVE {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // The kernel hands connections to the accept loop in order, so by the time this one is
    // answered every idle socket above holds its slot.
    let mut probe = TcpStream::connect(server.addr).await.unwrap();
    let (status, _, body) = request(&mut probe, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert_eq!(request(&mut probe, "/readyz").await.0, 200);

    // Everything else is refused while the reserve is in use, and that connection closes.
    let mut refused = TcpStream::connect(server.addr).await.unwrap();
    let (status, head, body) = request(&mut refused, "/api/v1/map").await;
    assert_eq!(status, 503, "{head}{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("retry-after: 5"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    let err: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["code"], "too_many_connections", "{err}");
    assert!(err["message"].is_string(), "{err}");
    until_eof(&mut refused).await;
    drop(refused);

    // Wait until the refused connection's slot is back (the probe's own counts too).
    let held_by_us = (CAP - RESERVE + 1) as u64;
    loop {
        let (status, _, metrics) = request(&mut probe, "/metrics").await;
        assert_eq!(status, 200);
        if metric(&metrics, "crest_tcp_connections_open") == held_by_us {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Fill the reserve up to the cap: health checks are still served there.
    let mut in_reserve = Vec::new();
    for _ in held_by_us as usize..CAP {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        assert_eq!(request(&mut s, "/healthz").await.0, 200);
        in_reserve.push(s);
    }
    // At the cap a new connection is accepted and closed at once, without a byte.
    let mut over = TcpStream::connect(server.addr).await.unwrap();
    let sent = until_eof(&mut over).await;
    assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));

    let (_, _, metrics) = request(&mut probe, "/metrics").await;
    assert_eq!(
        metric(
            &metrics,
            "crest_connections_refused_total{limit=\"max_connections\"}"
        ),
        1
    );
    assert_eq!(
        metric(
            &metrics,
            "crest_connections_refused_total{limit=\"reserve\"}"
        ),
        1
    );
    assert_eq!(metric(&metrics, "crest_tcp_connections_open"), CAP as u64);
    drop((held, in_reserve, probe));
    server.stop().await;
}

#[tokio::test]
async fn websockets_without_a_token_are_capped() {
    let server = TestServer::start_with(|c| {
        c.limits.max_unauthenticated = 2;
        // Longer than the hang guard: the two slots stay taken for the whole test.
        c.limits.auth_timeout = Duration::from_secs(60);
    })
    .await;
    let a = Client::connect(&server.ws_url()).await;
    let _b = Client::connect(&server.ws_url()).await;
    // A third one without a token is closed at once with 1013.
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("the upgrade itself succeeds");
    let first = tokio::time::timeout(HANG_GUARD, ws.next())
        .await
        .expect("the server answers before the hang guard");
    match first {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 1013);
            assert_eq!(
                frame.reason.as_str(),
                "too many unauthenticated connections; retry later"
            );
        }
        other => panic!("expected a close frame with 1013, got {other:?}"),
    }
    // A token on the upgrade is not counted: that client gets in.
    let token = server.token(Role::Observer, None).await;
    let mut with_token = Client::connect(&format!("{}?token={token}", server.ws_url())).await;
    with_token.assert_alive().await;
    let (_, _, metrics) = crate::http::get(&server, "/metrics", &[]).await;
    assert_eq!(
        metric(
            &metrics,
            "crest_connections_refused_total{limit=\"unauthenticated\"}"
        ),
        1
    );
    assert_eq!(metric(&metrics, "crest_connections_unauthenticated"), 2);
    // Authenticating by message frees the slot at once: a new client without a token gets in.
    let token = server.token(Role::Observer, None).await;
    let mut a = a;
    a.auth(&token).await;
    let (_, _, metrics) = crate::http::get(&server, "/metrics", &[]).await;
    assert_eq!(metric(&metrics, "crest_connections_unauthenticated"), 1);
    let mut c = Client::connect(&server.ws_url()).await;
    c.assert_alive().await;
    server.stop().await;
}

/// A client frame: `first` is the FIN/RSV/opcode byte; masked unless `mask` is `None`.
fn client_frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(mask_bit | n as u8),
        n => {
            f.push(mask_bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    match mask {
        Some(m) => {
            f.extend_from_slice(&m);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

const MASK: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);
const FIN: u8 = 0x80;

/// Sends `frame` on a fresh WebSocket and returns the server's close code and reason.
async fn close_after(server: &TestServer, frame: &[u8]) -> (u16, String) {
    let mut s = raw_websocket(server, "/ws").await;
    s.write_all(frame).await.unwrap();
    let (code, _, reason) = until_close(&mut s).await;
    (code, reason)
}

#[tokio::test]
async fn a_client_close_is_answered_with_a_close_frame() {
    let server = TestServer::start().await;
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    let (code, reason) = close_after(&server, &client_frame(FIN | 0x8, &payload, MASK)).await;
    assert_eq!(code, 1000);
    assert_eq!(reason, "bye");
    // Another code is echoed too.
    let (code, _) = close_after(
        &server,
        &client_frame(FIN | 0x8, &1001u16.to_be_bytes(), MASK),
    )
    .await;
    assert_eq!(code, 1001);
    // A code a client may not send (1005 is "no status") is answered with 1002.
    let (code, _) = close_after(
        &server,
        &client_frame(FIN | 0x8, &1005u16.to_be_bytes(), MASK),
    )
    .await;
    assert_eq!(code, 1002);
    server.stop().await;
}

#[tokio::test]
async fn protocol_violations_are_closed_with_their_code() {
    let server = TestServer::start().await;
    // Text that is not UTF-8.
    let (code, reason) = close_after(&server, &client_frame(FIN | 0x1, &[0xff, 0xfe], MASK)).await;
    assert_eq!((code, reason.as_str()), (1007, "invalid UTF-8"));
    // RSV1 set without a negotiated extension.
    let (code, reason) = close_after(&server, &client_frame(FIN | 0x40 | 0x1, b"{}", MASK)).await;
    assert_eq!(code, 1002, "{reason}");
    assert!(reason.starts_with("reserved bits"), "{reason}");
    // A client frame without a mask.
    let (code, reason) = close_after(&server, &client_frame(FIN | 0x1, b"{}", None)).await;
    assert_eq!(code, 1002, "{reason}");
    assert!(reason.starts_with("unmasked frame"), "{reason}");
    // Reserved opcodes, data (3) and control (0xB).
    for opcode in [0x3, 0xB] {
        let (code, reason) = close_after(&server, &client_frame(FIN | opcode, b"", MASK)).await;
        assert_eq!((code, reason.as_str()), (1002, "reserved opcode"));
    }
    // A ping with 126 bytes: control frames carry at most 125.
    let (code, reason) = close_after(&server, &client_frame(FIN | 0x9, &[7u8; 126], MASK)).await;
    assert_eq!(code, 1002, "{reason}");
    assert!(reason.starts_with("control frame too long"), "{reason}");
    // A fragmented ping.
    let (code, reason) = close_after(&server, &client_frame(0x9, b"hi", MASK)).await;
    assert_eq!((code, reason.as_str()), (1002, "fragmented control frame"));
    // The server itself is fine.
    let mut c = server.client(Role::Observer, None).await;
    c.assert_alive().await;
    server.stop().await;
}
