//! Keepalive and the authentication deadline, with a raw socket that never answers pings (a
//! WebSocket library would answer them by itself). Event-driven: read until the server closes.

use crate::harness::*;
use crest::domain::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn raw_websocket(server: &TestServer, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// Reads one (unmasked, server-sent) frame: opcode and payload.
pub async fn frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let read = async {
        let mut h = [0u8; 2];
        s.read_exact(&mut h).await?;
        let mut len = u64::from(h[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).await?;
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).await?;
            len = u64::from_be_bytes(b);
        }
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).await?;
        Ok::<_, std::io::Error>((h[0] & 0x0f, payload))
    };
    tokio::time::timeout(HANG_GUARD, read)
        .await
        .expect("server sends before the hang guard")
        .expect("frame")
}

/// Reads frames until a close frame; returns its code and how many pings came before it.
pub async fn until_close(s: &mut TcpStream) -> (u16, usize, String) {
    let mut pings = 0;
    loop {
        let (op, payload) = frame(s).await;
        match op {
            0x9 => pings += 1,
            0x8 => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                return (
                    code,
                    pings,
                    String::from_utf8_lossy(&payload[2..]).to_string(),
                );
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_silent_client_is_closed_after_three_ping_intervals() {
    let server =
        TestServer::start_with(|c| c.limits.ping_interval = std::time::Duration::from_millis(100))
            .await;
    let token = server.token(Role::Observer, None).await;
    let mut s = raw_websocket(&server, &format!("/ws?token={token}")).await;
    let (code, pings, reason) = until_close(&mut s).await;
    assert_eq!(code, 1001, "{reason}");
    assert_eq!(reason, "keepalive timeout");
    assert!(pings >= 2, "pinged before giving up ({pings})");
    server.stop().await;
}

#[tokio::test]
async fn an_unauthenticated_connection_is_closed_at_the_deadline() {
    let server =
        TestServer::start_with(|c| c.limits.auth_timeout = std::time::Duration::from_millis(200))
            .await;
    let mut s = raw_websocket(&server, "/ws").await;
    let (code, _, reason) = until_close(&mut s).await;
    assert_eq!(code, 1008);
    assert_eq!(reason, "not authenticated in time");
    server.stop().await;
}
