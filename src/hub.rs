//! Fan-out: one bounded ring of frames shared by every connection.
//!
//! Each committed event becomes one [`Frame`] holding the exact bytes that go on the wire — the
//! delta, and for events that move a point entity also its `enter` and `leave` messages — built
//! once and shared by reference. Connections read the ring at their own pace; one that falls a
//! whole ring behind is told to resync (see `transport::session`). Memory is bounded by the ring
//! size, whatever the number or speed of the clients.

use crate::domain::LonLat;
use crate::domain::events::Layer;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::broadcast;

/// An entity an event concerns, and for point entities where it is after the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub layer: Layer,
    pub id: String,
    pub position: Option<LonLat>,
}

#[derive(Debug)]
pub struct Frame {
    pub seq: u64,
    /// First route: the event's subject. Further routes: entities whose derived view it changes.
    pub routes: Vec<Route>,
    /// True when the event placed its subject somewhere (creation or movement).
    pub moved: bool,
    /// True for team position updates: a later frame with the same [`Frame::coalesce_key`]
    /// supersedes this one.
    pub coalesces: bool,
    /// The texts are UTF-8 (built from `String`s); `Bytes` keeps the hub free of any web
    /// framework's types, and cloning one for a client shares it.
    pub delta: Bytes,
    pub enter: Option<Bytes>,
    pub leave: Option<Bytes>,
}

impl Frame {
    /// For a position update, the id of the team (the subject): a later frame with the same key
    /// supersedes this one.
    pub fn coalesce_key(&self) -> Option<&str> {
        self.coalesces.then(|| self.routes[0].id.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Frame>>,
}

impl Hub {
    /// `capacity` frames are kept for connections that are behind.
    pub fn new(capacity: usize) -> Hub {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Hub { tx }
    }

    pub fn publish(&self, frame: Frame) {
        // No receivers is fine: nobody is subscribed.
        let _ = self.tx.send(Arc::new(frame));
    }

    /// A reader that sees every frame published after this call.
    pub fn reader(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.tx.subscribe()
    }
}
