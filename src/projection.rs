//! The read model: the live state and its spatial indexes as of the last committed event.
//!
//! Only the engine writes it, and only with committed events. Publishing to the hub happens under
//! the same write lock, so a reader that takes the read lock sees a state at sequence `seq` and,
//! by subscribing to the hub while holding it, receives exactly the frames after `seq`.

use crate::domain::State;
use crate::domain::events::Event;
use crate::hub::{Frame, Hub, Route};
use crate::protocol::ServerMessage;
use crate::read;
use crate::spatial::Spatial;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use tokio::sync::broadcast;

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

    /// Runs `f` on the current projection and returns a hub reader positioned right after it.
    pub fn read_and_follow<T>(
        &self,
        f: impl FnOnce(&Projection) -> T,
    ) -> (T, broadcast::Receiver<Arc<Frame>>) {
        let guard = self.read();
        let rx = self.hub.reader();
        (f(&guard), rx)
    }

    /// Folds committed events into the projection and publishes one frame per event.
    pub fn publish(&self, committed: &[Committed]) {
        let mut p = self.projection.write().unwrap_or_else(|p| p.into_inner());
        for c in committed {
            p.state.apply(&c.event);
            p.spatial.apply(&c.event);
            p.seq = c.seq;
            self.hub.publish(frame_for(&p, c));
        }
    }
}

/// Builds the shared frame of one event against the projection just after it.
pub fn frame_for(p: &Projection, c: &Committed) -> Frame {
    let routes: Vec<Route> = read::event_routes(&c.event)
        .map(|(layer, id)| Route {
            position: read::entity_position(&p.state, layer, id),
            layer,
            id: id.to_string(),
        })
        .collect();
    let moved = c.event.places_at().is_some();
    let subject = &routes[0];
    let (enter, leave) = if moved && subject.layer.is_point_layer() {
        let view = read::entity_json(&p.state, subject.layer, &subject.id);
        (
            view.map(|v| {
                let enter = ServerMessage::Enter {
                    seq: c.seq,
                    layer: subject.layer,
                    entity: &v,
                };
                enter.to_text().into()
            }),
            Some(
                ServerMessage::Leave {
                    seq: c.seq,
                    layer: subject.layer,
                    id: &subject.id,
                }
                .to_text()
                .into(),
            ),
        )
    } else {
        (None, None)
    };
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
        moved,
        enter,
        leave,
    }
}
