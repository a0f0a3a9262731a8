//! What a WebSocket read error means for the connection: which close code (RFC 6455 §7.4.1) tells
//! the client what it did wrong, or whether the client is simply gone.

use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::error::ProtocolError;

/// Close code for a protocol violation.
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Close code for data that does not match its type: text that is not UTF-8.
pub const CLOSE_INVALID_DATA: u16 = 1007;

#[derive(Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// A frame or message above the hard size limit (1009).
    TooBig,
    /// The client broke the protocol: close with this code and reason.
    Violation(u16, &'static str),
    /// The connection is gone (reset, I/O error): nothing can be sent.
    Gone,
}

/// Classifies an error from axum's WebSocket stream, which wraps tungstenite's.
pub fn classify(error: axum::Error) -> ReadFailure {
    match error.into_inner().downcast::<WsError>() {
        Ok(e) => classify_tungstenite(&e),
        Err(_) => ReadFailure::Gone,
    }
}

fn classify_tungstenite(error: &WsError) -> ReadFailure {
    use ReadFailure::{Gone, TooBig, Violation};
    match error {
        WsError::Capacity(_) => TooBig,
        // A text frame (or a close reason) that is not UTF-8.
        WsError::Utf8(_) => Violation(CLOSE_INVALID_DATA, "invalid UTF-8"),
        WsError::Protocol(p) => match p {
            ProtocolError::ResetWithoutClosingHandshake => Gone,
            ProtocolError::ControlFrameTooBig => Violation(
                CLOSE_PROTOCOL,
                "control frame too long: a ping, pong or close payload is at most 125 bytes",
            ),
            ProtocolError::NonZeroReservedBits => Violation(
                CLOSE_PROTOCOL,
                "reserved bits set: no extension was negotiated",
            ),
            ProtocolError::UnmaskedFrameFromClient => Violation(
                CLOSE_PROTOCOL,
                "unmasked frame: a client must mask every frame",
            ),
            ProtocolError::FragmentedControlFrame => {
                Violation(CLOSE_PROTOCOL, "fragmented control frame")
            }
            ProtocolError::InvalidOpcode(_)
            | ProtocolError::UnknownControlFrameType(_)
            | ProtocolError::UnknownDataFrameType(_) => {
                Violation(CLOSE_PROTOCOL, "reserved opcode")
            }
            ProtocolError::UnexpectedContinueFrame | ProtocolError::ExpectedFragment(_) => {
                Violation(CLOSE_PROTOCOL, "continuation frame out of order")
            }
            ProtocolError::InvalidCloseSequence => {
                Violation(CLOSE_PROTOCOL, "invalid close frame payload")
            }
            _ => Violation(CLOSE_PROTOCOL, "protocol violation"),
        },
        _ => Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::error::CapacityError;

    #[test]
    fn every_client_mistake_has_its_code() {
        let cases = [
            (
                WsError::Capacity(CapacityError::MessageTooLong {
                    size: 2,
                    max_size: 1,
                }),
                ReadFailure::TooBig,
            ),
            (
                WsError::Utf8("bad".into()),
                ReadFailure::Violation(1007, "invalid UTF-8"),
            ),
            (
                WsError::Protocol(ProtocolError::InvalidOpcode(3)),
                ReadFailure::Violation(1002, "reserved opcode"),
            ),
            (
                WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake),
                ReadFailure::Gone,
            ),
            (
                WsError::Io(std::io::ErrorKind::BrokenPipe.into()),
                ReadFailure::Gone,
            ),
        ];
        for (error, want) in cases {
            assert_eq!(classify(axum::Error::new(error)), want);
        }
        assert!(matches!(
            classify_tungstenite(&WsError::Protocol(ProtocolError::ControlFrameTooBig)),
            ReadFailure::Violation(1002, reason) if reason.starts_with("control frame too long")
        ));
        assert_eq!(
            classify(axum::Error::new(std::io::Error::other("not tungstenite"))),
            ReadFailure::Gone
        );
    }
}
