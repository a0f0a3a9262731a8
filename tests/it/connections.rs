//! The WebSocket closing handshake and protocol violations, over raw sockets. Event-driven:
//! every wait ends on what the server does (a close frame), with the hang guard as upper bound.

use crate::harness::*;
use crate::keepalive::{raw_websocket, until_close};
use crest::domain::Role;
use tokio::io::AsyncWriteExt;

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
