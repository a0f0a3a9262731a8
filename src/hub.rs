//! Fan-out: each committed event's frame goes only to the connections it concerns.
//!
//! Each committed event becomes one [`Frame`] holding the exact bytes that go on the wire — the
//! delta, and for events that move a point entity also its `enter` and `leave` messages — built
//! once and shared by reference.
//!
//! Connections register what they want (an [`Interest`]: layers, and a viewport for the point
//! layers) and read their own bounded mailbox (a [`Feed`]). The hub keeps the interests indexed:
//! per layer, the connections that receive all of it; and an R-tree of viewports — the inverse of
//! a geofence query — so that a frame about a point entity reaches only the connections whose
//! viewport holds the entity before or after the event (it enters, leaves or changes in view).
//! A connection whose frames never concern it is never woken. `enter`/`leave` texts are built
//! only when a viewport connection receives the frame.
//!
//! Memory: a mailbox holds at most `capacity` frames; one that is full is emptied and marked
//! lagged (the connection then resyncs, see `transport::session`). A connection that cannot
//! write is closed after the write timeout, so no mailbox holds frames for long.

use crate::domain::events::Layer;
use crate::domain::{BBox, LonLat};
use bytes::Bytes;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// An entity an event concerns, and for point entities where it was and is.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub layer: Layer,
    pub id: String,
    /// Where the entity is after the event.
    pub position: Option<LonLat>,
    /// Where it was before the event (differs from `position` when the event moved it).
    pub before: Option<LonLat>,
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
    /// Built by the publisher only when a connection with a viewport receives the frame.
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

/// What a connection wants from the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Interest {
    pub layers: Vec<Layer>,
    /// Limits the point layers; the other layers arrive whole.
    pub viewport: Option<BBox>,
}

/// A connection fell `capacity` frames behind: its mailbox was emptied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged;

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Arc<Frame>>,
    lagged: bool,
}

#[derive(Debug, Default)]
struct Mailbox {
    queue: Mutex<Queue>,
    notify: Notify,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, frame: &Arc<Frame>, capacity: usize) {
        let wake = {
            let mut q = self.lock();
            if q.lagged {
                false
            } else if q.frames.len() >= capacity {
                q.frames = VecDeque::new();
                q.lagged = true;
                true
            } else {
                q.frames.push_back(frame.clone());
                q.frames.len() == 1
            }
        };
        // The reader always looks at the queue before it waits, so it needs a wake-up only when
        // the queue stops being empty (a stored permit covers the race).
        if wake {
            self.notify.notify_one();
        }
    }
}

type ViewEntry = GeomWithData<Rectangle<[f64; 2]>, (u64, u32)>;

fn bit(layer: Layer) -> u32 {
    1 << (layer as u32)
}

#[derive(Debug)]
struct Registered {
    mailbox: Arc<Mailbox>,
    interest: Interest,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    subscribers: std::collections::HashMap<u64, Registered>,
    /// Per layer: the connections that receive every frame of it.
    whole: Vec<Vec<(u64, Arc<Mailbox>)>>,
    /// Viewports, one entry per plain part of the box (two across the antimeridian), with the
    /// mask of the point layers they filter.
    viewports: RTree<ViewEntry>,
}

impl Registry {
    fn entries(id: u64, interest: &Interest) -> (Vec<Layer>, Vec<ViewEntry>) {
        let mut whole = Vec::new();
        let mut mask = 0;
        // A layer named twice is one layer: the connection must not get its frames twice.
        let mut layers = interest.layers.clone();
        layers.sort_unstable();
        layers.dedup();
        for layer in layers {
            if interest.viewport.is_some() && layer.is_point_layer() {
                mask |= bit(layer);
            } else {
                whole.push(layer);
            }
        }
        let views = match (&interest.viewport, mask) {
            (Some(vp), m) if m != 0 => vp
                .parts()
                .into_iter()
                .map(|(lo, hi)| ViewEntry::new(Rectangle::from_corners(lo, hi), (id, m)))
                .collect(),
            _ => Vec::new(),
        };
        (whole, views)
    }

    fn insert(&mut self, id: u64, mailbox: &Arc<Mailbox>, interest: &Interest) {
        let (whole, views) = Self::entries(id, interest);
        for layer in whole {
            self.whole[layer as usize].push((id, mailbox.clone()));
        }
        for v in views {
            self.viewports.insert(v);
        }
    }

    fn remove(&mut self, id: u64, interest: &Interest) {
        let (whole, views) = Self::entries(id, interest);
        for layer in whole {
            let list = &mut self.whole[layer as usize];
            if let Some(i) = list.iter().position(|(s, _)| *s == id) {
                list.swap_remove(i);
            }
        }
        for v in views {
            self.viewports.remove(&v);
        }
    }
}

#[derive(Debug)]
struct Shared {
    registry: Mutex<Registry>,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

/// The connections one frame goes to.
pub struct Targets {
    mailboxes: Vec<Arc<Mailbox>>,
    /// A connection with a viewport receives the subject's move: it needs `enter`/`leave`.
    pub views: bool,
}

impl Hub {
    /// Each connection's mailbox holds at most `capacity` frames.
    pub fn new(capacity: usize) -> Hub {
        let registry = Registry {
            whole: vec![Vec::new(); Layer::ALL.len()],
            ..Registry::default()
        };
        Hub {
            shared: Arc::new(Shared {
                registry: Mutex::new(registry),
                capacity: capacity.max(16),
            }),
        }
    }

    /// The connections that `frame` concerns: those receiving its layers whole, and those whose
    /// viewport holds a point entity of it before or after the event.
    pub fn targets(&self, frame: &Frame) -> Targets {
        let reg = self.shared.lock();
        let mut mailboxes: Vec<Arc<Mailbox>> = Vec::new();
        let mut views = false;
        let mut sources = 0;
        for (i, route) in frame.routes.iter().enumerate() {
            let whole = &reg.whole[route.layer as usize];
            if !whole.is_empty() {
                sources += 1;
                mailboxes.extend(whole.iter().map(|(_, m)| m.clone()));
            }
            if !route.layer.is_point_layer() {
                continue;
            }
            let mut at = [route.before, route.position];
            if at[0] == at[1] {
                at[0] = None;
            }
            for p in at.into_iter().flatten() {
                let point = AABB::from_point([p.lon(), p.lat()]);
                for e in reg.viewports.locate_in_envelope_intersecting(point) {
                    let (id, mask) = e.data;
                    if mask & bit(route.layer) == 0 {
                        continue;
                    }
                    if let Some(s) = reg.subscribers.get(&id) {
                        sources += 1;
                        views |= i == 0 && frame.moved;
                        mailboxes.push(s.mailbox.clone());
                    }
                }
            }
        }
        if sources > 1 {
            mailboxes.sort_unstable_by_key(Arc::as_ptr);
            mailboxes.dedup_by(|a, b| Arc::ptr_eq(a, b));
        }
        Targets { mailboxes, views }
    }

    /// Puts the frame in each target's mailbox, in publication order.
    pub fn deliver(&self, targets: Targets, frame: Frame) {
        if targets.mailboxes.is_empty() {
            return;
        }
        let frame = Arc::new(frame);
        for m in &targets.mailboxes {
            m.push(&frame, self.shared.capacity);
        }
    }

    /// A feed of the frames published after this call that `interest` concerns. Call it while
    /// holding the projection's read lock (`projection::Live::read_and_follow`) so that it starts
    /// exactly after the state looked at.
    pub fn follow(&self, interest: Interest) -> Feed {
        let mailbox = Arc::new(Mailbox::default());
        let mut reg = self.shared.lock();
        reg.next_id += 1;
        let id = reg.next_id;
        reg.insert(id, &mailbox, &interest);
        reg.subscribers.insert(
            id,
            Registered {
                mailbox: mailbox.clone(),
                interest,
            },
        );
        Feed {
            id,
            mailbox,
            shared: self.shared.clone(),
        }
    }

    /// Connections registered (for tests and metrics).
    pub fn followers(&self) -> usize {
        self.shared.lock().subscribers.len()
    }
}

/// One connection's end of the hub: the frames that concern it, in order.
#[derive(Debug)]
pub struct Feed {
    id: u64,
    mailbox: Arc<Mailbox>,
    shared: Arc<Shared>,
}

impl Feed {
    /// The next frame; `Err(Lagged)` once after the mailbox overflowed.
    pub async fn recv(&mut self) -> Result<Arc<Frame>, Lagged> {
        loop {
            if let Some(r) = self.try_recv() {
                return r;
            }
            self.mailbox.notify.notified().await;
        }
    }

    /// The next frame if one is waiting.
    pub fn try_recv(&mut self) -> Option<Result<Arc<Frame>, Lagged>> {
        let mut q = self.mailbox.lock();
        if q.lagged {
            q.lagged = false;
            return Some(Err(Lagged));
        }
        let f = q.frames.pop_front()?;
        // A burst's queue is not kept allocated by a connection that then sits idle.
        if q.frames.is_empty() && q.frames.capacity() > 64 {
            q.frames = VecDeque::new();
        }
        Some(Ok(f))
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.mailbox.lock().frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes what this connection wants. Call it while holding the projection's read lock, so
    /// the change takes effect exactly after the state looked at.
    pub fn set_interest(&self, interest: Interest) {
        let mut reg = self.shared.lock();
        let Some(old) = reg.subscribers.get(&self.id).map(|s| s.interest.clone()) else {
            return;
        };
        reg.remove(self.id, &old);
        reg.insert(self.id, &self.mailbox, &interest);
        if let Some(s) = reg.subscribers.get_mut(&self.id) {
            s.interest = interest;
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let mut reg = self.shared.lock();
        if let Some(s) = reg.subscribers.remove(&self.id) {
            reg.remove(self.id, &s.interest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lon: f64, lat: f64) -> Option<LonLat> {
        Some(LonLat::new(lon, lat).unwrap())
    }

    fn frame(seq: u64, layer: Layer, before: Option<LonLat>, after: Option<LonLat>) -> Frame {
        Frame {
            seq,
            routes: vec![Route {
                layer,
                id: "T-1".into(),
                position: after,
                before,
            }],
            moved: before != after,
            coalesces: false,
            delta: Bytes::from_static(b"{}"),
            enter: None,
            leave: None,
        }
    }

    fn publish(hub: &Hub, f: Frame) -> bool {
        let t = hub.targets(&f);
        let views = t.views;
        hub.deliver(t, f);
        views
    }

    fn seqs(feed: &mut Feed) -> Vec<u64> {
        std::iter::from_fn(|| feed.try_recv())
            .map(|r| r.unwrap().seq)
            .collect()
    }

    fn vp(w: f64, s: f64, e: f64, n: f64) -> Option<BBox> {
        Some(BBox::new(w, s, e, n).unwrap())
    }

    #[test]
    fn a_frame_reaches_only_the_viewports_it_enters_leaves_or_moves_within() {
        let hub = Hub::new(64);
        let interest = |viewport| Interest {
            layers: vec![Layer::Teams, Layer::Gauges],
            viewport,
        };
        let mut west = hub.follow(interest(vp(0.0, 0.0, 1.0, 1.0)));
        let mut east = hub.follow(interest(vp(2.0, 0.0, 3.0, 1.0)));
        let mut whole = hub.follow(interest(None));
        let gauges = hub.follow(Interest {
            layers: vec![Layer::Gauges],
            viewport: None,
        });
        assert!(publish(&hub, frame(1, Layer::Teams, None, at(0.5, 0.5))));
        // Moves within the west, then to the east (leaves one, enters the other).
        publish(&hub, frame(2, Layer::Teams, at(0.5, 0.5), at(0.6, 0.5)));
        publish(&hub, frame(3, Layer::Teams, at(0.6, 0.5), at(2.5, 0.5)));
        // Outside every viewport.
        assert!(!publish(
            &hub,
            frame(4, Layer::Teams, at(5.0, 5.0), at(6.0, 6.0))
        ));
        // A layer nobody filters by viewport in this frame: the whole-layer readers only.
        publish(&hub, frame(5, Layer::Hazards, None, at(0.5, 0.5)));
        assert_eq!(seqs(&mut west), [1, 2, 3]);
        assert_eq!(seqs(&mut east), [3]);
        assert_eq!(seqs(&mut whole), [1, 2, 3, 4]);
        assert!(gauges.is_empty(), "never woken for teams");
    }

    #[test]
    fn a_layer_named_twice_delivers_each_frame_once() {
        let hub = Hub::new(64);
        let mut feed = hub.follow(Interest {
            layers: vec![Layer::Teams, Layer::Teams],
            viewport: None,
        });
        publish(&hub, frame(1, Layer::Teams, None, at(0.5, 0.5)));
        assert_eq!(seqs(&mut feed), [1]);
        drop(feed);
        assert!(hub.shared.lock().whole[Layer::Teams as usize].is_empty());
    }

    #[test]
    fn moving_a_viewport_and_dropping_a_feed_update_the_index() {
        let hub = Hub::new(64);
        let mut feed = hub.follow(Interest {
            layers: vec![Layer::Teams],
            viewport: vp(0.0, 0.0, 1.0, 1.0),
        });
        feed.set_interest(Interest {
            layers: vec![Layer::Teams],
            viewport: vp(10.0, 10.0, 11.0, 11.0),
        });
        publish(&hub, frame(1, Layer::Teams, None, at(0.5, 0.5)));
        publish(&hub, frame(2, Layer::Teams, None, at(10.5, 10.5)));
        assert_eq!(seqs(&mut feed), [2]);
        drop(feed);
        assert_eq!(hub.followers(), 0);
        assert!(hub.shared.lock().viewports.size() == 0);
    }

    #[test]
    fn a_viewport_across_the_antimeridian_is_indexed_in_two_parts() {
        let hub = Hub::new(64);
        let mut feed = hub.follow(Interest {
            layers: vec![Layer::Teams],
            viewport: vp(179.0, 0.0, -179.0, 1.0),
        });
        publish(&hub, frame(1, Layer::Teams, None, at(179.5, 0.5)));
        publish(&hub, frame(2, Layer::Teams, None, at(-179.5, 0.5)));
        publish(&hub, frame(3, Layer::Teams, None, at(0.0, 0.5)));
        assert_eq!(seqs(&mut feed), [1, 2]);
    }

    #[test]
    fn a_full_mailbox_is_emptied_and_reports_lagged_once() {
        let hub = Hub::new(16);
        let mut feed = hub.follow(Interest {
            layers: vec![Layer::Teams],
            viewport: None,
        });
        for seq in 1..=17 {
            publish(&hub, frame(seq, Layer::Teams, None, at(0.5, 0.5)));
        }
        publish(&hub, frame(18, Layer::Teams, None, at(0.5, 0.5)));
        assert_eq!(feed.try_recv().unwrap().unwrap_err(), Lagged);
        // Frames published before the reader saw the overflow are dropped (it resyncs anyway).
        assert!(feed.try_recv().is_none());
        publish(&hub, frame(19, Layer::Teams, None, at(0.5, 0.5)));
        assert_eq!(seqs(&mut feed), [19]);
    }

    #[tokio::test]
    async fn recv_wakes_for_a_frame_published_while_waiting() {
        let hub = Hub::new(16);
        let mut feed = hub.follow(Interest {
            layers: vec![Layer::Teams],
            viewport: None,
        });
        let waiter = tokio::spawn(async move { feed.recv().await.map(|f| f.seq) });
        tokio::task::yield_now().await;
        publish(&hub, frame(7, Layer::Teams, None, at(0.5, 0.5)));
        assert_eq!(waiter.await.unwrap(), Ok(7));
    }
}
