//! The read model: the live state and its spatial indexes as of the last committed event.
//!
//! Only the engine writes it, and only with committed events. Publishing to the hub happens under
//! the same write lock, so a reader that takes the read lock sees a state at sequence `seq` and,
//! by following the hub (or changing its interest) while holding it, receives exactly the frames
//! after `seq` that concern it.

use crate::domain::State;
use crate::domain::events::Event;
use crate::hub::{Feed, Frame, Hub, Interest, Route};
use crate::protocol::ServerMessage;
use crate::read;
use crate::spatial::Spatial;
use std::sync::{Arc, RwLock, RwLockReadGuard};

#[derive(Debug, Default, Clone)]
pub struct Projection {
    pub state: State,
    pub spatial: Spatial,
    /// Sequence number of the last event folded in.
    pub seq: u64,
}

/// An event that is durable in the store, ready to be published.
#[derive(Debug, Clone)]
pub struct Committed {
    pub seq: u64,
    pub time_ms: i64,
    pub event: Event,
    /// The event's JSON in the current format: as written to the log, or, for an event read back
    /// from an older format, as `codec` upcast it.
    pub json: String,
}

#[derive(Debug)]
pub struct Live {
    projection: RwLock<Projection>,
    hub: Hub,
}

impl Live {
    pub fn new(state: State, seq: u64, hub_capacity: usize) -> Arc<Live> {
        let spatial = Spatial::build(&state);
        Arc::new(Live {
            projection: RwLock::new(Projection {
                state,
                spatial,
                seq,
            }),
            hub: Hub::new(hub_capacity),
        })
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Projection> {
        self.projection.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the current projection and returns a feed of the frames after it that
    /// `interest` concerns.
    pub fn read_and_follow<T>(
        &self,
        interest: Interest,
        f: impl FnOnce(&Projection) -> T,
    ) -> (T, Feed) {
        let guard = self.read();
        let feed = self.hub.follow(interest);
        (f(&guard), feed)
    }

    /// Folds committed events into the projection and publishes one frame per event to the
    /// connections it concerns.
    pub fn publish(&self, committed: &[Committed]) {
        let mut p = self.projection.write().unwrap_or_else(|p| p.into_inner());
        for c in committed {
            let before = positions(&p, &c.event);
            p.state.apply(&c.event);
            p.spatial.apply(&c.event);
            p.seq = c.seq;
            let mut frame = frame_for(&p, c, before);
            let targets = self.hub.targets(&frame);
            if targets.views {
                add_views(&mut frame, &p, c.seq);
            }
            self.hub.deliver(targets, frame);
        }
    }
}

/// Where the point entities an event concerns are before it is applied.
fn positions(p: &Projection, event: &Event) -> Vec<Option<crate::domain::LonLat>> {
    read::event_routes(event)
        .map(|(layer, id)| read::entity_position(&p.state, layer, id))
        .collect()
}

/// Builds the shared frame of one event against the projection just after it; `before` holds its
/// routes' positions before it. The `enter`/`leave` texts are left to [`add_views`].
pub fn frame_for(
    p: &Projection,
    c: &Committed,
    before: Vec<Option<crate::domain::LonLat>>,
) -> Frame {
    let routes: Vec<Route> = read::event_routes(&c.event)
        .zip(before.into_iter().chain(std::iter::repeat(None)))
        .map(|((layer, id), before)| Route {
            position: read::entity_position(&p.state, layer, id),
            before,
            layer,
            id: id.to_string(),
        })
        .collect();
    Frame {
        seq: c.seq,
        coalesces: c.event.is_position_update(),
        delta: ServerMessage::Event {
            seq: c.seq,
            time_ms: c.time_ms,
            event: &c.json,
            exercise: p.state.exercise.is_some(),
        }
        .to_text()
        .into(),
        routes,
        moved: c.event.places_at().is_some(),
        enter: None,
        leave: None,
    }
}

/// The `enter` and `leave` texts of a frame that moved a point entity, for the connections with
/// a viewport that receive it.
pub fn add_views(frame: &mut Frame, p: &Projection, seq: u64) {
    let subject = &frame.routes[0];
    if !(frame.moved && subject.layer.is_point_layer()) {
        return;
    }
    frame.enter = read::entity_json(&p.state, subject.layer, &subject.id).map(|v| {
        ServerMessage::Enter {
            seq,
            layer: subject.layer,
            entity: &v,
        }
        .to_text()
        .into()
    });
    frame.leave = Some(
        ServerMessage::Leave {
            seq,
            layer: subject.layer,
            id: &subject.id,
        }
        .to_text()
        .into(),
    );
}
