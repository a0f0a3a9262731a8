//! One connection's subscription: its layers, its viewport, which point entities it currently
//! holds in view, and the decision, per shared frame, of what (if anything) it receives.

use crate::domain::events::Layer;
use crate::domain::{BBox, State};
use crate::hub::{Frame, Interest};
use crate::protocol::{ServerMessage, SnapshotReason};
use crate::read::{entity_view, layer_ids};
use crate::spatial::Spatial;
use bytes::Bytes;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};

#[derive(Debug)]
pub struct Subscription {
    pub layers: BTreeSet<Layer>,
    pub viewport: Option<BBox>,
    /// Point entities inside the viewport, per layer (only tracked while a viewport is set).
    in_view: HashMap<Layer, HashSet<String>>,
}

impl Subscription {
    /// What the hub routes to this subscription with `viewport` (its own, or the one it is
    /// moving to).
    pub fn interest(&self, viewport: Option<BBox>) -> Interest {
        Interest {
            layers: self.layers.iter().copied().collect(),
            viewport,
        }
    }

    pub fn new(layers: impl IntoIterator<Item = Layer>, viewport: Option<BBox>) -> Subscription {
        Subscription {
            layers: layers.into_iter().collect(),
            viewport,
            in_view: HashMap::new(),
        }
    }

    fn tracks(&self, layer: Layer) -> bool {
        self.viewport.is_some() && layer.is_point_layer() && self.layers.contains(&layer)
    }

    /// Ids of a layer this subscription sees in `state`.
    fn visible_ids(&self, state: &State, spatial: &Spatial, layer: Layer) -> Vec<String> {
        match (&self.viewport, layer.is_point_layer()) {
            (Some(vp), true) => spatial.in_bbox(state, layer, vp),
            _ => layer_ids(state, layer),
        }
    }

    /// Resets the in-view sets to what is inside the viewport now.
    pub fn reset_view(&mut self, state: &State, spatial: &Spatial) {
        self.in_view.clear();
        for layer in self.layers.clone() {
            if self.tracks(layer) {
                let ids = self.visible_ids(state, spatial, layer);
                self.in_view.insert(layer, ids.into_iter().collect());
            }
        }
    }

    /// The `snapshot` message for this subscription at `seq`, and resets the in-view sets.
    pub fn snapshot(
        &mut self,
        state: &State,
        spatial: &Spatial,
        seq: u64,
        reason: SnapshotReason,
        stale: bool,
    ) -> String {
        self.reset_view(state, spatial);
        let mut layers = Map::new();
        for &layer in &self.layers {
            let items: Vec<Value> = self
                .visible_ids(state, spatial, layer)
                .iter()
                .filter_map(|id| entity_view(state, layer, id))
                .collect();
            layers.insert(layer.name().to_string(), Value::Array(items));
        }
        ServerMessage::Snapshot {
            seq,
            reason,
            viewport: self.viewport,
            layers: &layers,
            exercise: state.exercise.is_some(),
            stale,
        }
        .to_text()
    }

    /// `enter` messages for every entity in view (after a resume), stamped `seq`.
    pub fn enter_all(&mut self, state: &State, spatial: &Spatial, seq: u64) -> Vec<String> {
        self.reset_view(state, spatial);
        let mut out = Vec::new();
        for (layer, ids) in &self.in_view {
            let mut ids: Vec<&String> = ids.iter().collect();
            ids.sort();
            out.extend(
                ids.into_iter()
                    .filter_map(|id| entity_view(state, *layer, id))
                    .map(|v| enter(seq, *layer, &v)),
            );
        }
        out
    }

    /// Moves the viewport; returns the `enter`/`leave` messages that bring the client's view
    /// from the old viewport to the new one, stamped `seq`.
    pub fn move_viewport(
        &mut self,
        viewport: Option<BBox>,
        state: &State,
        spatial: &Spatial,
        seq: u64,
    ) -> Vec<String> {
        let old: HashMap<Layer, HashSet<String>> = std::mem::take(&mut self.in_view);
        let had_viewport = self.viewport.is_some();
        self.viewport = viewport;
        self.reset_view(state, spatial);
        let mut out = Vec::new();
        for &layer in &self.layers {
            if !layer.is_point_layer() {
                continue;
            }
            // Without a viewport the client holds every entity of the layer.
            let before: HashSet<String> = if had_viewport {
                old.get(&layer).cloned().unwrap_or_default()
            } else {
                layer_ids(state, layer).into_iter().collect()
            };
            let after: HashSet<String> = match self.in_view.get(&layer) {
                Some(s) => s.clone(),
                None => layer_ids(state, layer).into_iter().collect(),
            };
            let mut leaving: Vec<&String> = before.difference(&after).collect();
            leaving.sort();
            out.extend(
                leaving
                    .into_iter()
                    .map(|id| ServerMessage::Leave { seq, layer, id }.to_text()),
            );
            let mut entering: Vec<&String> = after.difference(&before).collect();
            entering.sort();
            out.extend(
                entering
                    .into_iter()
                    .filter_map(|id| entity_view(state, layer, id))
                    .map(|v| enter(seq, layer, &v)),
            );
        }
        out
    }

    /// Whether a logged event belongs to this subscription's layers (catch-up ignores the viewport).
    pub fn wants_layer(&self, layer: Layer) -> bool {
        self.layers.contains(&layer)
    }

    /// What this connection receives for a shared frame: the delta, an enter, a leave, or nothing.
    pub fn select(&mut self, frame: &Frame) -> Option<Bytes> {
        for (i, route) in frame.routes.iter().enumerate() {
            if !self.layers.contains(&route.layer) {
                continue;
            }
            let Some(vp) = self.viewport.filter(|_| route.layer.is_point_layer()) else {
                return Some(frame.delta.clone());
            };
            let set = self.in_view.entry(route.layer).or_default();
            let was = set.contains(route.id.as_str());
            if i == 0 && frame.moved {
                let inside = route.position.is_some_and(|p| vp.contains(p));
                match (was, inside) {
                    (true, true) => return Some(frame.delta.clone()),
                    (false, true) => {
                        set.insert(route.id.clone());
                        return Some(frame.enter.clone().unwrap_or_else(|| frame.delta.clone()));
                    }
                    (true, false) => {
                        set.remove(route.id.as_str());
                        return frame.leave.clone();
                    }
                    (false, false) => {}
                }
            } else if was {
                return Some(frame.delta.clone());
            }
        }
        None
    }
}

fn enter(seq: u64, layer: Layer, entity: &Value) -> String {
    let entity = entity.to_string();
    ServerMessage::Enter {
        seq,
        layer,
        entity: &entity,
    }
    .to_text()
}
