//! Specifications for the decider, written as
//! `given(&[events…]).when(actor, command).then(&[events…])` or `.then_error("code")`.
//!
//! `given` folds the events into a state, `when` parses the command from its JSON (as a client
//! sends it) and decides it at [`NOW`], and `then` compares the events, all of them, exactly. A
//! command refused while it is parsed (a value beyond its bound, an unknown field) answers the
//! code the protocol answers, so a specification does not care whether the parser or the decider
//! refused it. A refused command cannot change the state: `decide` borrows it immutably.
//!
//! `then` returns the state after the events, to chain another `when` or to look at the fold.

use crate::domain::access::{Actor, Role};
use crate::domain::error::DomainError;
use crate::domain::events::Event;
use crate::domain::geo::LonLat;
use crate::domain::ids::*;
use crate::domain::levee::{Hand, Levee, LeveeLocation, LeveeSpec};
use crate::domain::model::*;
use crate::domain::state::{Context, LeveeSnapper, State};
use serde_json::Value;
use std::collections::BTreeMap;

/// The server's clock in every specification, milliseconds.
pub const NOW: TimeMs = 1_000;

/// Brute-force snapper over the state's levees.
struct Scan<'a>(&'a State);

impl LeveeSnapper for Scan<'_> {
    fn snap(&self, p: LonLat, tol: f64) -> Option<LeveeLocation> {
        self.0
            .levees
            .values()
            .map(|l| l.locate(p))
            .filter(|l| l.offset_m <= tol)
            .min_by(|a, b| a.offset_m.total_cmp(&b.offset_m))
    }
}

pub struct Given {
    state: State,
}

/// The state that is the fold of `events`.
pub fn given(events: &[Event]) -> Given {
    Given {
        state: State::default(),
    }
    .and(events)
}

impl Given {
    /// More events on top of these.
    pub fn and(mut self, events: &[Event]) -> Given {
        for e in events {
            self.state.apply(e);
        }
        self
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The clock reads `now`: the events time alone causes (alerts), folded in; `check` sees them.
    pub fn tick(mut self, now: TimeMs, check: impl FnOnce(&[Event])) -> Given {
        let events = self.state.tick(now);
        check(&events);
        self
    }

    /// Sends `command` (its JSON, as a client sends it) as `actor` at [`NOW`].
    pub fn when(self, actor: &Actor, command: Value) -> When {
        self.when_at(NOW, actor, command)
    }

    /// Sends `command` as `actor` when the server's clock reads `now`. The command is parsed as
    /// the server parses a client's `command` message, so a refusal has the code a client gets.
    pub fn when_at(self, now: TimeMs, actor: &Actor, command: Value) -> When {
        let text = command.to_string();
        let message = serde_json::json!({"type": "command", "id": "spec", "command": command});
        let parsed = crate::protocol::parse_client_message(&message.to_string());
        let outcome = match parsed {
            Err(e) => Err(Refusal::Parse(e)),
            Ok(crate::protocol::ClientMessage::Command(m)) => {
                let cmd = m.command;
                let ctx = Context {
                    now_ms: now,
                    actor,
                    snapper: &Scan(&self.state),
                };
                // Decided here; applied and watched on a copy, for the alerts the command
                // causes. `then` compares the command's own events and folds in both.
                match self.state.decide(&cmd, &ctx) {
                    Err(e) => Err(Refusal::Domain(e)),
                    Ok(own) => {
                        let mut scratch = self.state.clone();
                        for e in &own {
                            scratch.apply(e);
                        }
                        let follow = scratch.watch(&own, now);
                        Ok((own, follow))
                    }
                }
            }
            Ok(other) => panic!("{text} parsed as {other:?}"),
        };
        When {
            state: self.state,
            text,
            outcome,
        }
    }
}

#[derive(Debug)]
enum Refusal {
    Parse(crate::protocol::WireError),
    Domain(DomainError),
}

impl Refusal {
    /// The code a client gets.
    fn code(&self) -> &'static str {
        match self {
            Refusal::Domain(e) => crate::protocol::ErrorCode::from(e).as_str(),
            Refusal::Parse(e) => e.code.as_str(),
        }
    }
}

pub struct When {
    state: State,
    text: String,
    /// The command's own events, and the events the watch found they cause (alerts).
    outcome: Result<(Vec<Event>, Vec<Event>), Refusal>,
}

impl When {
    /// The command is accepted and causes exactly `expected` (its own events; the alerts they
    /// cause are folded in too, see [`When::then_watched`]).
    #[track_caller]
    pub fn then(self, expected: &[Event]) -> Given {
        let (own, follow) = self.accepted();
        assert_eq!(own, expected, "events of {}", self.text);
        Given { state: self.state }.and(&own).and(&follow)
    }

    /// The command is accepted and its own events pass `check` (for values that are only
    /// approximately known, such as a snapped chainage).
    #[track_caller]
    pub fn then_events(self, check: impl FnOnce(&[Event])) -> Given {
        let (own, follow) = self.accepted();
        check(&own);
        Given { state: self.state }.and(&own).and(&follow)
    }

    /// The command is accepted; `check` sees its own events and the alerts they cause.
    #[track_caller]
    pub fn then_watched(self, check: impl FnOnce(&[Event], &[Event])) -> Given {
        let (own, follow) = self.accepted();
        check(&own, &follow);
        Given { state: self.state }.and(&own).and(&follow)
    }

    /// The command is refused with `code`; returns the state, which is as it was.
    #[track_caller]
    pub fn then_error(self, code: &str) -> Given {
        match self.outcome {
            Ok(events) => panic!("{} was accepted with {events:?}, not {code}", self.text),
            Err(r) => assert_eq!(r.code(), code, "{} refused: {r:?}", self.text),
        }
        Given { state: self.state }
    }

    #[track_caller]
    fn accepted(&self) -> (Vec<Event>, Vec<Event>) {
        match &self.outcome {
            Ok(events) => events.clone(),
            Err(r) => panic!("{} was refused: {r:?}", self.text),
        }
    }
}

// ---------------------------------------------------------------- actors

pub fn dispatcher() -> Actor {
    Actor {
        role: Role::Dispatcher,
        team: None,
        grid_worker: None,
        name: "desk-1".into(),
    }
}

pub fn field(team: &str) -> Actor {
    Actor {
        role: Role::Field,
        team: Some(TeamId::from(team)),
        grid_worker: None,
        name: format!("tablet-{team}"),
    }
}

pub fn grid_worker(id: &str) -> Actor {
    Actor {
        role: Role::GridWorker,
        team: None,
        grid_worker: Some(GridWorkerId::from(id)),
        name: format!("phone-{id}"),
    }
}

pub fn observer() -> Actor {
    Actor {
        role: Role::Observer,
        team: None,
        grid_worker: None,
        name: "obs".into(),
    }
}

// ---------------------------------------------------------------- events

pub fn p(lon: f64, lat: f64) -> LonLat {
    LonLat::new(lon, lat).unwrap()
}

/// The levee XJ-E1: due north from (113.10, 27.60) to (113.10, 27.70), chainage from 0.
pub fn levee_defined() -> Event {
    Event::LeveeDefined {
        levee: Levee::try_from(LeveeSpec {
            id: LeveeId::from("XJ-E1"),
            name: "湘江东岸一段".into(),
            river: "湘江".into(),
            bank: "east".into(),
            line: vec![p(113.10, 27.60), p(113.10, 27.70)],
            chainage_origin_m: 0.0,
            riverside: Hand::Left,
            crest_elevation_m: Some(44.0),
            design_flood_level_m: Some(42.5),
        })
        .unwrap(),
    }
}

/// A team of 12 militia, on duty, registered at (113.11, 27.65) at [`NOW`].
pub fn team_registered(id: &str, travel_mode: TravelMode, caps: &[Capability]) -> Event {
    Event::TeamRegistered {
        team: Team {
            id: TeamId::from(id),
            name: id.into(),
            kind: TeamKind::Militia,
            headcount: 12,
            capabilities: caps.iter().copied().collect(),
            travel_mode,
            on_duty: true,
            registered_at: NOW,
            on_levee: None,
            fix: Some(Fix {
                position: p(113.11, 27.65),
                time_ms: NOW,
                accuracy_m: 0.0,
            }),
            assignment: None,
            leader: None,
            members: Vec::new(),
        },
    }
}

/// Shelter S-1: open, 100 places, 300 L of water at 3 L a day per person.
pub fn shelter_defined() -> Event {
    Event::ShelterDefined {
        shelter: Shelter {
            id: ShelterId::from("S-1"),
            name: "南洲中学".into(),
            position: p(113.12, 27.64),
            capacity: 100,
            occupancy: 0,
            open: true,
            supplies: BTreeMap::from([(
                "water".to_string(),
                Supply {
                    stock: 300.0,
                    per_person_daily: 3.0,
                    unit: "L".into(),
                },
            )]),
            town: "南洲镇".into(),
            kind: "school".into(),
            high_ground: false,
        },
    }
}

/// Gauge G-XJ on XJ-E1: guard 38 m, warning 40 m, guaranteed 42.5 m, no reading yet.
pub fn gauge_defined() -> Event {
    Event::GaugeDefined {
        gauge: Gauge {
            id: GaugeId::from("G-XJ"),
            name: "涪口".into(),
            river: "湘江".into(),
            position: p(113.14, 27.709),
            datum: "吴淞".into(),
            thresholds: Thresholds {
                guard_m: 38.0,
                warning_m: 40.0,
                guaranteed_m: 42.5,
            },
            levee_ids: vec![LeveeId::from("XJ-E1")],
            last: None,
            record: None,
            forecast: None,
        },
    }
}

/// The levee XJ-E1, teams T-01 (vehicle, pump) and T-07 (on foot), shelter S-1, gauge G-XJ.
pub fn world() -> Vec<Event> {
    vec![
        levee_defined(),
        team_registered("T-01", TravelMode::Vehicle, &[Capability::Pump]),
        team_registered("T-07", TravelMode::Foot, &[]),
        shelter_defined(),
        gauge_defined(),
    ]
}

/// A general piping hazard reported by the desk at [`NOW`], not on a levee.
pub fn hazard_reported(id: &str) -> Event {
    Event::HazardReported {
        hazard: Hazard {
            id: HazardId::from(id),
            kind: HazardKind::Piping,
            severity: Severity::General,
            status: HazardStatus::Reported,
            position: p(113.1, 27.65),
            levee: None,
            description: "管涌 at the toe".into(),
            reported_by: "desk-1".into(),
            reported_at: NOW,
            updated_at: NOW,
            near_assets: Vec::new(),
        },
    }
}

pub fn hazard_status_changed(id: &str, from: HazardStatus, to: HazardStatus) -> Event {
    Event::HazardStatusChanged {
        hazard_id: HazardId::from(id),
        from,
        to,
        reason: String::new(),
        at: Some(NOW),
    }
}

/// An assignment proposed by the desk at [`NOW`].
pub fn assignment_created(id: &str, team: &str, target: AssignmentTarget, note: &str) -> Event {
    Event::AssignmentCreated {
        assignment: Assignment {
            id: AssignmentId::from(id),
            team_id: TeamId::from(team),
            target,
            state: AssignmentState::Proposed,
            note: note.into(),
            history: vec![AssignmentTransition {
                state: AssignmentState::Proposed,
                at: NOW,
                by: "desk-1".into(),
            }],
        },
    }
}

pub fn assignment_state_changed(
    id: &str,
    team: &str,
    from: AssignmentState,
    to: AssignmentState,
    reason: &str,
    by: &Actor,
) -> Event {
    Event::AssignmentStateChanged {
        assignment_id: AssignmentId::from(id),
        team_id: TeamId::from(team),
        from,
        to,
        reason: reason.into(),
        at: NOW,
        by: by.name.clone(),
    }
}

pub fn hazard_target(id: &str) -> AssignmentTarget {
    AssignmentTarget::Hazard {
        hazard_id: HazardId::from(id),
    }
}
