//! Property tests of the domain: random command sequences from every role never break the
//! invariants, and the state is always exactly the fold of the accepted events.

use super::access::{Actor, Role};
use super::commands::*;
use super::events::Event;
use super::geo::LonLat;
use super::ids::*;
use super::levee::LeveeLocation;
use super::model::*;
use super::state::{Context, LeveeSnapper, State};
use proptest::prelude::*;
use std::collections::BTreeMap;

struct NoLevees;

impl LeveeSnapper for NoLevees {
    fn snap(&self, _: LonLat, _: f64) -> Option<LeveeLocation> {
        None
    }
}

const TEAMS: [&str; 3] = ["T-1", "T-2", "T-3"];

fn actor(i: u8) -> Actor {
    match i % 5 {
        0 | 1 => Actor {
            role: Role::Dispatcher,
            team: None,
            name: "desk".into(),
        },
        2 => Actor {
            role: Role::Field,
            team: Some(TeamId::from("T-1")),
            name: "tablet-1".into(),
        },
        3 => Actor {
            role: Role::Field,
            team: Some(TeamId::from("T-2")),
            name: "tablet-2".into(),
        },
        _ => Actor {
            role: Role::Observer,
            team: None,
            name: "obs".into(),
        },
    }
}

fn state_name(i: u8) -> AssignmentState {
    [
        AssignmentState::Accepted,
        AssignmentState::EnRoute,
        AssignmentState::OnScene,
        AssignmentState::Completed,
        AssignmentState::Proposed,
    ][i as usize % 5]
}

/// A command over a small world: three teams, hazards HZ-1.., one shelter of 50 places.
fn command() -> impl Strategy<Value = Command> {
    let team = (0..3usize).prop_map(|i| TeamId::from(TEAMS[i]));
    prop_oneof![
        (0.0..1.0f64).prop_map(|x| Command::ReportHazard(ReportHazard {
            kind: HazardKind::Piping,
            severity: Severity::General,
            position: LonLat::new(113.0 + x / 10.0, 27.6).unwrap(),
            description: String::new(),
        })),
        (1..4u32, 0..4u8).prop_map(|(h, s)| {
            let r = HazardRef {
                hazard_id: HazardId::from(format!("HZ-{h}")),
                reason: String::new(),
            };
            match s {
                0 => Command::ConfirmHazard(r),
                1 => Command::StartHazardHandling(r),
                2 => Command::EliminateHazard(r),
                _ => Command::MarkFalseAlarm(r),
            }
        }),
        (team.clone(), 1..4u32, any::<bool>()).prop_map(|(team_id, h, to_hazard)| {
            Command::CreateAssignment(CreateAssignment {
                team_id,
                target: if to_hazard {
                    AssignmentTarget::Hazard {
                        hazard_id: HazardId::from(format!("HZ-{h}")),
                    }
                } else {
                    AssignmentTarget::Shelter {
                        shelter_id: ShelterId::from("S-1"),
                    }
                },
                note: String::new(),
            })
        }),
        (1..6u32, any::<u8>()).prop_map(|(a, s)| Command::AdvanceAssignment(AdvanceAssignment {
            assignment_id: AssignmentId::from(format!("AS-{a}")),
            to: state_name(s),
        })),
        (1..6u32).prop_map(|a| Command::CancelAssignment(CancelAssignment {
            assignment_id: AssignmentId::from(format!("AS-{a}")),
            reason: String::new(),
        })),
        (team.clone(), any::<bool>())
            .prop_map(|(team_id, on_duty)| Command::SetTeamDuty(SetTeamDuty { team_id, on_duty })),
        (team, 0.0..1.0f64).prop_map(|(team_id, x)| Command::UpdatePosition(UpdatePosition {
            team_id,
            position: LonLat::new(113.0 + x / 10.0, 27.6).unwrap(),
            time_ms: None,
            accuracy_m: None,
        })),
        (0..30u32, any::<bool>(), any::<bool>()).prop_map(|(count, out, allow)| if out {
            Command::CheckOut(CheckOut {
                shelter_id: ShelterId::from("S-1"),
                count,
            })
        } else {
            Command::CheckIn(CheckIn {
                shelter_id: ShelterId::from("S-1"),
                count,
                allow_over_capacity: allow,
            })
        }),
    ]
}

fn world() -> (State, Vec<Event>) {
    let mut s = State::default();
    let mut log = Vec::new();
    let d = Actor::system();
    let mut cmds: Vec<Command> = TEAMS
        .iter()
        .map(|t| {
            Command::RegisterTeam(RegisterTeam {
                id: TeamId::from(*t),
                name: t.to_string(),
                kind: TeamKind::Militia,
                headcount: 5,
                capabilities: Default::default(),
                travel_mode: TravelMode::Foot,
                position: None,
            })
        })
        .collect();
    cmds.push(Command::DefineShelter(DefineShelter {
        id: ShelterId::from("S-1"),
        name: "school".into(),
        position: LonLat::new(113.05, 27.6).unwrap(),
        capacity: 50,
        open: true,
        supplies: BTreeMap::new(),
        town: String::new(),
        kind: String::new(),
    }));
    for c in cmds {
        for e in s
            .decide(
                &c,
                &Context {
                    now_ms: 0,
                    actor: &d,
                    snapper: &NoLevees,
                },
            )
            .unwrap()
        {
            s.apply(&e);
            log.push(e);
        }
    }
    (s, log)
}

fn check_invariants(s: &State, over_capacity_allowed: bool) -> Result<(), TestCaseError> {
    for team in s.teams.values() {
        let active: Vec<&Assignment> = s
            .assignments
            .values()
            .filter(|a| a.team_id == team.id && a.state.is_active())
            .collect();
        prop_assert!(
            active.len() <= 1,
            "{} has {} active assignments",
            team.id,
            active.len()
        );
        prop_assert_eq!(
            team.assignment.as_ref(),
            active.first().map(|a| &a.id),
            "team record and assignments disagree for {}",
            team.id
        );
        let status = s.team_status(team);
        match active.first() {
            Some(a) => prop_assert_eq!(status, a.state.team_status()),
            None if team.on_duty => prop_assert_eq!(status, TeamStatus::Available),
            None => prop_assert_eq!(status, TeamStatus::OffDuty),
        }
        if !team.on_duty {
            prop_assert!(
                active.is_empty(),
                "off-duty {} holds an assignment",
                team.id
            );
        }
    }
    for a in s.assignments.values() {
        let states: Vec<AssignmentState> = a.history.iter().map(|h| h.state).collect();
        prop_assert_eq!(states.first(), Some(&AssignmentState::Proposed));
        prop_assert_eq!(states.last(), Some(&a.state));
        prop_assert!(
            states.windows(2).all(|w| w[0].can_become(w[1])),
            "illegal history {:?}",
            states
        );
    }
    let shelter = &s.shelters[&ShelterId::from("S-1")];
    prop_assert!(over_capacity_allowed || shelter.occupancy <= shelter.capacity);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_commands_never_break_the_invariants(steps in prop::collection::vec((command(), any::<u8>()), 1..80)) {
        let (mut s, mut log) = world();
        let mut over_capacity = false;
        for (i, (cmd, who)) in steps.iter().enumerate() {
            let actor = actor(*who);
            let before = s.clone();
            match s.decide(cmd, &Context { now_ms: i as i64, actor: &actor, snapper: &NoLevees }) {
                Ok(events) => {
                    prop_assert!(actor.role != Role::Observer, "an observer's command was accepted");
                    prop_assert!(!events.is_empty());
                    for e in &events {
                        if let Event::EvacueesCheckedIn { over_capacity: true, .. } = e {
                            over_capacity = true;
                        }
                        s.apply(e);
                        log.push(e.clone());
                    }
                }
                Err(_) => prop_assert_eq!(&s, &before, "a refused command changed the state"),
            }
            check_invariants(&s, over_capacity)?;
        }
        // The state is exactly the fold of the log, also through JSON (what the store keeps).
        let mut replayed = State::default();
        for e in &log {
            let stored: Event = serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
            replayed.apply(&stored);
        }
        prop_assert_eq!(replayed, s);
    }
}
