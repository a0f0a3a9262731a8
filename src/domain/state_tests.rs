//! Decider and fold tests: every command's acceptance, refusal and effect.

use super::access::{Actor, Role};
use super::commands::*;
use super::error::DomainError;
use super::events::Event;
use super::geo::LonLat;
use super::ids::*;
use super::levee::{Hand, LeveeLocation, LeveeSpec};
use super::model::*;
use super::state::{Context, LeveeSnapper, State};
use std::collections::BTreeMap;

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

fn p(lon: f64, lat: f64) -> LonLat {
    LonLat::new(lon, lat).unwrap()
}

fn dispatcher() -> Actor {
    Actor {
        role: Role::Dispatcher,
        team: None,
        name: "desk-1".into(),
    }
}

fn field(team: &str) -> Actor {
    Actor {
        role: Role::Field,
        team: Some(TeamId::from(team)),
        name: format!("tablet-{team}"),
    }
}

fn observer() -> Actor {
    Actor {
        role: Role::Observer,
        team: None,
        name: "obs".into(),
    }
}

/// Decides and applies; returns the events.
fn run(s: &mut State, actor: &Actor, cmd: Command) -> Result<Vec<Event>, DomainError> {
    let snapshot = s.clone();
    let events = snapshot.decide(
        &cmd,
        &Context {
            now_ms: 1_000,
            actor,
            snapper: &Scan(&snapshot),
        },
    )?;
    for e in &events {
        s.apply(e);
    }
    Ok(events)
}

fn ok(s: &mut State, actor: &Actor, cmd: Command) -> Vec<Event> {
    run(s, actor, cmd).expect("command accepted")
}

fn code(s: &mut State, actor: &Actor, cmd: Command) -> &'static str {
    let before = s.clone();
    let err = run(s, actor, cmd).expect_err("command refused");
    assert_eq!(*s, before, "a refused command must not change the state");
    err.code()
}

fn world() -> State {
    let mut s = State::default();
    let d = dispatcher();
    ok(
        &mut s,
        &d,
        Command::DefineLevee(LeveeSpec {
            id: LeveeId::from("XJ-E1"),
            name: "湘江东岸一段".into(),
            river: "湘江".into(),
            bank: "east".into(),
            line: vec![p(113.10, 27.60), p(113.10, 27.70)],
            chainage_origin_m: 0.0,
            riverside: Hand::Left,
            crest_elevation_m: Some(44.0),
            design_flood_level_m: Some(42.5),
        }),
    );
    for (id, mode, caps) in [
        ("T-01", TravelMode::Vehicle, vec![Capability::Pump]),
        ("T-07", TravelMode::Foot, vec![]),
    ] {
        ok(
            &mut s,
            &d,
            Command::RegisterTeam(RegisterTeam {
                id: TeamId::from(id),
                name: id.into(),
                kind: TeamKind::Militia,
                headcount: 12,
                capabilities: caps.into_iter().collect(),
                travel_mode: mode,
                position: Some(p(113.11, 27.65)),
            }),
        );
    }
    ok(
        &mut s,
        &d,
        Command::DefineShelter(DefineShelter {
            id: ShelterId::from("S-1"),
            name: "南洲中学".into(),
            position: p(113.12, 27.64),
            capacity: 100,
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
        }),
    );
    ok(
        &mut s,
        &d,
        Command::DefineGauge(DefineGauge {
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
        }),
    );
    s
}

fn report(s: &mut State, actor: &Actor, at: LonLat) -> HazardId {
    let ev = ok(
        s,
        actor,
        Command::ReportHazard(ReportHazard {
            kind: HazardKind::Piping,
            severity: Severity::General,
            position: at,
            description: "管涌 at the toe".into(),
        }),
    );
    HazardId::from(ev[0].created_id().unwrap())
}

fn href(id: &HazardId) -> HazardRef {
    HazardRef {
        hazard_id: id.clone(),
        reason: String::new(),
    }
}

#[test]
fn hazard_report_snaps_to_levee_and_numbers_ids() {
    let mut s = world();
    let h1 = report(&mut s, &field("T-07"), p(113.1005, 27.65));
    let h2 = report(&mut s, &dispatcher(), p(113.5, 27.65));
    assert_eq!((h1.as_str(), h2.as_str()), ("HZ-1", "HZ-2"));
    let loc = s.hazards[&h1].levee.clone().expect("on the levee");
    assert_eq!(loc.levee_id.as_str(), "XJ-E1");
    assert_eq!(loc.side, super::levee::BankSide::Landside);
    assert!((loc.chainage_m - 5559.7).abs() < 2.0);
    assert_eq!(loc.chainage, "K5+560");
    assert!(s.hazards[&h2].levee.is_none(), "far from any levee");
    assert_eq!(s.hazards[&h1].reported_by, "tablet-T-07");
}

#[test]
fn hazard_lifecycle_and_illegal_transitions() {
    let mut s = world();
    let d = dispatcher();
    let h = report(&mut s, &d, p(113.1, 27.65));
    assert_eq!(
        code(&mut s, &d, Command::EliminateHazard(href(&h))),
        "illegal_transition"
    );
    assert_eq!(
        code(&mut s, &d, Command::StartHazardHandling(href(&h))),
        "illegal_transition"
    );
    ok(&mut s, &d, Command::ConfirmHazard(href(&h)));
    assert_eq!(
        code(&mut s, &d, Command::ConfirmHazard(href(&h))),
        "illegal_transition"
    );
    ok(&mut s, &d, Command::StartHazardHandling(href(&h)));
    assert_eq!(
        code(&mut s, &d, Command::MarkFalseAlarm(href(&h))),
        "illegal_transition"
    );
    ok(&mut s, &d, Command::EliminateHazard(href(&h)));
    assert_eq!(s.hazards[&h].status, HazardStatus::Eliminated);
    for c in [
        Command::ConfirmHazard(href(&h)),
        Command::StartHazardHandling(href(&h)),
        Command::MarkFalseAlarm(href(&h)),
    ] {
        assert_eq!(code(&mut s, &d, c), "illegal_transition");
    }
    let h2 = report(&mut s, &d, p(113.1, 27.66));
    ok(&mut s, &d, Command::MarkFalseAlarm(href(&h2)));
    assert_eq!(
        code(&mut s, &d, Command::ConfirmHazard(href(&h2))),
        "illegal_transition"
    );
    let ghost = HazardId::from("HZ-99");
    assert_eq!(
        code(&mut s, &d, Command::ConfirmHazard(href(&ghost))),
        "not_found"
    );
}

#[test]
fn escalation_must_raise_severity_or_become_a_breach() {
    let mut s = world();
    let d = dispatcher();
    let h = report(&mut s, &d, p(113.1, 27.65));
    let esc = |sev, kind| {
        Command::EscalateHazard(EscalateHazard {
            hazard_id: h.clone(),
            severity: sev,
            kind,
            reason: "rising".into(),
        })
    };
    assert_eq!(code(&mut s, &d, esc(None, None)), "not_an_escalation");
    assert_eq!(
        code(&mut s, &d, esc(Some(Severity::General), None)),
        "not_an_escalation"
    );
    assert_eq!(
        code(&mut s, &d, esc(None, Some(HazardKind::Crack))),
        "not_an_escalation"
    );
    ok(&mut s, &d, esc(Some(Severity::Major), None));
    assert_eq!(s.hazards[&h].severity, Severity::Major);
    assert_eq!(
        code(
            &mut s,
            &d,
            esc(Some(Severity::General), Some(HazardKind::Breach))
        ),
        "not_an_escalation"
    );
    let ev = ok(&mut s, &d, esc(None, Some(HazardKind::Breach)));
    assert!(matches!(
        ev[0],
        Event::HazardEscalated {
            to_kind: HazardKind::Breach,
            ..
        }
    ));
    assert_eq!(s.hazards[&h].kind, HazardKind::Breach);
    assert_eq!(
        code(&mut s, &d, esc(None, Some(HazardKind::Breach))),
        "not_an_escalation"
    );
    ok(&mut s, &d, esc(Some(Severity::Critical), None));
}

#[test]
fn team_status_is_derived_from_its_one_active_assignment() {
    let mut s = world();
    let d = dispatcher();
    let f = field("T-07");
    let h = report(&mut s, &d, p(113.1, 27.65));
    let t7 = TeamId::from("T-07");
    assert_eq!(s.team_status(&s.teams[&t7]), TeamStatus::Available);
    let target = AssignmentTarget::Hazard {
        hazard_id: h.clone(),
    };
    let ev = ok(
        &mut s,
        &d,
        Command::CreateAssignment(CreateAssignment {
            team_id: t7.clone(),
            target: target.clone(),
            note: String::new(),
        }),
    );
    let a = AssignmentId::from(ev[0].created_id().unwrap());
    assert_eq!(s.team_status(&s.teams[&t7]), TeamStatus::Assigned);
    assert_eq!(
        code(
            &mut s,
            &d,
            Command::CreateAssignment(CreateAssignment {
                team_id: t7.clone(),
                target,
                note: String::new()
            })
        ),
        "team_busy"
    );
    let adv = |to| {
        Command::AdvanceAssignment(AdvanceAssignment {
            assignment_id: a.clone(),
            to,
        })
    };
    assert_eq!(
        code(&mut s, &f, adv(AssignmentState::OnScene)),
        "illegal_transition"
    );
    assert_eq!(
        code(&mut s, &field("T-01"), adv(AssignmentState::Accepted)),
        "forbidden"
    );
    for (to, status) in [
        (AssignmentState::Accepted, TeamStatus::Assigned),
        (AssignmentState::EnRoute, TeamStatus::EnRoute),
        (AssignmentState::OnScene, TeamStatus::OnScene),
    ] {
        ok(&mut s, &f, adv(to));
        assert_eq!(s.team_status(&s.teams[&t7]), status);
    }
    assert_eq!(
        code(
            &mut s,
            &f,
            Command::SetTeamDuty(SetTeamDuty {
                team_id: t7.clone(),
                on_duty: false
            })
        ),
        "team_busy"
    );
    ok(&mut s, &f, adv(AssignmentState::Completed));
    assert_eq!(s.team_status(&s.teams[&t7]), TeamStatus::Available);
    assert_eq!(s.teams[&t7].assignment, None);
    assert_eq!(
        code(&mut s, &d, adv(AssignmentState::Completed)),
        "illegal_transition"
    );
    let trail: Vec<_> = s.assignments[&a]
        .history
        .iter()
        .map(|h| (h.state, h.by.as_str()))
        .collect();
    assert_eq!(trail[0], (AssignmentState::Proposed, "desk-1"));
    assert_eq!(trail[4], (AssignmentState::Completed, "tablet-T-07"));
    assert_eq!(
        code(
            &mut s,
            &d,
            Command::AdvanceAssignment(AdvanceAssignment {
                assignment_id: a,
                to: AssignmentState::Cancelled
            })
        ),
        "invalid_value"
    );
    ok(
        &mut s,
        &f,
        Command::SetTeamDuty(SetTeamDuty {
            team_id: t7.clone(),
            on_duty: false,
        }),
    );
    assert_eq!(s.team_status(&s.teams[&t7]), TeamStatus::OffDuty);
    let target = AssignmentTarget::Shelter {
        shelter_id: ShelterId::from("S-1"),
    };
    assert_eq!(
        code(
            &mut s,
            &d,
            Command::CreateAssignment(CreateAssignment {
                team_id: t7,
                target,
                note: String::new()
            })
        ),
        "team_off_duty"
    );
}

#[test]
fn field_can_decline_but_not_cancel_after_accepting() {
    let mut s = world();
    let d = dispatcher();
    let f = field("T-07");
    let mk = |s: &mut State| {
        let ev = ok(
            s,
            &d,
            Command::CreateAssignment(CreateAssignment {
                team_id: TeamId::from("T-07"),
                target: AssignmentTarget::PatrolStretch {
                    levee_id: LeveeId::from("XJ-E1"),
                    from_m: 1000.0,
                    to_m: 2000.0,
                },
                note: "巡堤".into(),
            }),
        );
        AssignmentId::from(ev[0].created_id().unwrap())
    };
    let cancel = |a: &AssignmentId| {
        Command::CancelAssignment(CancelAssignment {
            assignment_id: a.clone(),
            reason: "no boat".into(),
        })
    };
    let a1 = mk(&mut s);
    ok(&mut s, &f, cancel(&a1));
    assert_eq!(s.assignments[&a1].state, AssignmentState::Cancelled);
    let a2 = mk(&mut s);
    ok(
        &mut s,
        &f,
        Command::AdvanceAssignment(AdvanceAssignment {
            assignment_id: a2.clone(),
            to: AssignmentState::Accepted,
        }),
    );
    assert_eq!(code(&mut s, &f, cancel(&a2)), "forbidden");
    ok(&mut s, &d, cancel(&a2));
    assert_eq!(code(&mut s, &d, cancel(&a2)), "illegal_transition");
}

#[test]
fn assignment_targets_are_checked() {
    let mut s = world();
    let d = dispatcher();
    let mk = |target| {
        Command::CreateAssignment(CreateAssignment {
            team_id: TeamId::from("T-01"),
            target,
            note: String::new(),
        })
    };
    let stretch = |from_m, to_m| AssignmentTarget::PatrolStretch {
        levee_id: LeveeId::from("XJ-E1"),
        from_m,
        to_m,
    };
    assert_eq!(
        code(&mut s, &d, mk(stretch(2000.0, 1000.0))),
        "invalid_value"
    );
    assert_eq!(
        code(&mut s, &d, mk(stretch(10_000.0, 20_000.0))),
        "invalid_value"
    );
    assert_eq!(
        code(
            &mut s,
            &d,
            mk(AssignmentTarget::PatrolStretch {
                levee_id: LeveeId::from("nope"),
                from_m: 0.0,
                to_m: 1.0
            })
        ),
        "not_found"
    );
    assert_eq!(
        code(
            &mut s,
            &d,
            mk(AssignmentTarget::Shelter {
                shelter_id: ShelterId::from("S-9")
            })
        ),
        "not_found"
    );
    assert_eq!(
        code(
            &mut s,
            &d,
            mk(AssignmentTarget::EvacuationZone {
                evacuation_id: EvacuationId::from("EV-1")
            })
        ),
        "not_found"
    );
    let h = report(&mut s, &d, p(113.1, 27.65));
    ok(&mut s, &d, Command::MarkFalseAlarm(href(&h)));
    assert_eq!(
        code(&mut s, &d, mk(AssignmentTarget::Hazard { hazard_id: h })),
        "invalid_value"
    );
    ok(&mut s, &d, mk(stretch(1000.0, 2000.0)));
}

#[test]
fn shelter_occupancy_and_supplies() {
    let mut s = world();
    let d = dispatcher();
    let f = field("T-07");
    let sid = ShelterId::from("S-1");
    let check_in = |count, allow| {
        Command::CheckIn(CheckIn {
            shelter_id: sid.clone(),
            count,
            allow_over_capacity: allow,
        })
    };
    ok(&mut s, &f, check_in(60, false));
    assert_eq!(
        s.shelters[&sid].days_of_supply_left(),
        Some(300.0 / (3.0 * 60.0))
    );
    assert_eq!(code(&mut s, &f, check_in(41, false)), "over_capacity");
    assert_eq!(code(&mut s, &f, check_in(0, false)), "invalid_value");
    let ev = ok(&mut s, &d, check_in(41, true));
    assert!(matches!(
        ev[0],
        Event::EvacueesCheckedIn {
            over_capacity: true,
            occupancy: 101,
            ..
        }
    ));
    let out = |count| {
        Command::CheckOut(CheckOut {
            shelter_id: sid.clone(),
            count,
        })
    };
    assert_eq!(code(&mut s, &f, out(102)), "occupancy_underflow");
    ok(&mut s, &f, out(101));
    assert_eq!(s.shelters[&sid].occupancy, 0);
    assert_eq!(s.shelters[&sid].days_of_supply_left(), None);
    let mv = |q| SupplyMovement {
        shelter_id: sid.clone(),
        item: "water".into(),
        quantity: q,
    };
    assert_eq!(
        code(&mut s, &d, Command::IssueSupply(mv(301.0))),
        "insufficient_stock"
    );
    assert_eq!(
        code(&mut s, &d, Command::DeliverSupply(mv(f64::NAN))),
        "invalid_value"
    );
    ok(&mut s, &d, Command::IssueSupply(mv(100.0)));
    ok(&mut s, &d, Command::DeliverSupply(mv(50.0)));
    assert_eq!(s.shelters[&sid].supplies["water"].stock, 250.0);
    let noodles = SupplyMovement {
        shelter_id: sid.clone(),
        item: "instant_noodles".into(),
        quantity: 1.0,
    };
    assert_eq!(
        code(&mut s, &d, Command::DeliverSupply(noodles)),
        "not_found"
    );
    ok(
        &mut s,
        &d,
        Command::SetSupply(SetSupply {
            shelter_id: sid.clone(),
            item: "instant_noodles".into(),
            stock: 500.0,
            per_person_daily: 2.0,
            unit: "packs".into(),
        }),
    );
    assert_eq!(
        code(
            &mut s,
            &f,
            Command::CloseShelter(ShelterRef {
                shelter_id: sid.clone()
            })
        ),
        "forbidden"
    );
    ok(
        &mut s,
        &d,
        Command::CloseShelter(ShelterRef {
            shelter_id: sid.clone(),
        }),
    );
    assert_eq!(code(&mut s, &f, check_in(1, false)), "shelter_closed");
    assert_eq!(
        code(
            &mut s,
            &d,
            Command::CloseShelter(ShelterRef { shelter_id: sid })
        ),
        "illegal_transition"
    );
}

#[test]
fn gauge_readings_raise_threshold_alerts_both_ways() {
    let mut s = world();
    let d = dispatcher();
    let read = |level_m, t| {
        Command::RecordReading(RecordReading {
            gauge_id: GaugeId::from("G-XJ"),
            level_m,
            time_ms: Some(t),
        })
    };
    let crossings = |ev: &[Event]| -> Vec<(ThresholdKind, Direction)> {
        ev.iter()
            .filter_map(|e| match e {
                Event::ThresholdCrossed {
                    threshold,
                    direction,
                    ..
                } => Some((*threshold, *direction)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(crossings(&ok(&mut s, &d, read(37.0, 1))), vec![]);
    assert_eq!(
        crossings(&ok(&mut s, &d, read(38.0, 2))),
        vec![(ThresholdKind::Guard, Direction::Rising)]
    );
    assert_eq!(
        crossings(&ok(&mut s, &d, read(42.6, 3))),
        vec![
            (ThresholdKind::Warning, Direction::Rising),
            (ThresholdKind::Guaranteed, Direction::Rising)
        ]
    );
    assert_eq!(
        crossings(&ok(&mut s, &d, read(41.0, 4))),
        vec![(ThresholdKind::Guaranteed, Direction::Falling)]
    );
    // A late packet is recorded but does not move "last" and raises nothing.
    assert_eq!(crossings(&ok(&mut s, &d, read(30.0, 3))), vec![]);
    assert_eq!(s.gauges[&GaugeId::from("G-XJ")].last.unwrap().level_m, 41.0);
    assert_eq!(code(&mut s, &d, read(f64::INFINITY, 5)), "invalid_value");
    assert_eq!(
        code(
            &mut s,
            &d,
            Command::RecordReading(RecordReading {
                gauge_id: GaugeId::from("G-X"),
                level_m: 1.0,
                time_ms: None
            })
        ),
        "not_found"
    );
}

#[test]
fn first_reading_above_thresholds_alerts() {
    let mut s = world();
    let ev = ok(
        &mut s,
        &dispatcher(),
        Command::RecordReading(RecordReading {
            gauge_id: GaugeId::from("G-XJ"),
            level_m: 40.5,
            time_ms: None,
        }),
    );
    assert_eq!(ev.len(), 3, "reading + guard + warning");
}

#[test]
fn response_level_history() {
    let mut s = world();
    let d = dispatcher();
    let j = JurisdictionId::from("fukou");
    let set = |level| {
        Command::SetResponseLevel(SetResponseLevel {
            jurisdiction: j.clone(),
            level,
            reason: "water rising".into(),
        })
    };
    assert_eq!(code(&mut s, &d, set(None)), "illegal_transition");
    ok(&mut s, &d, set(Some(ResponseLevel::IV)));
    ok(&mut s, &d, set(Some(ResponseLevel::II)));
    assert_eq!(
        code(&mut s, &d, set(Some(ResponseLevel::II))),
        "illegal_transition"
    );
    let ev = ok(&mut s, &d, set(None));
    assert!(matches!(
        &ev[0],
        Event::ResponseLevelChanged {
            previous: Some(ResponseLevel::II),
            ..
        }
    ));
    assert_eq!(s.response[&j].len(), 3);
    assert_eq!(s.response_level(&j), None);
    assert!(ResponseLevel::I > ResponseLevel::IV);
}

#[test]
fn evacuation_orders() {
    let mut s = world();
    let d = dispatcher();
    let zone = vec![
        p(113.0, 27.0),
        p(113.1, 27.0),
        p(113.1, 27.1),
        p(113.0, 27.0),
    ];
    let open_ring = vec![
        p(113.0, 27.0),
        p(113.1, 27.0),
        p(113.1, 27.1),
        p(113.0, 27.1),
    ];
    let issue = |zone, shelters: Vec<&str>| {
        Command::IssueEvacuationOrder(IssueEvacuationOrder {
            name: "将军村".into(),
            zone,
            population: 500,
            target_shelters: shelters.into_iter().map(ShelterId::from).collect(),
        })
    };
    assert_eq!(code(&mut s, &d, issue(open_ring, vec![])), "invalid_value");
    assert_eq!(
        code(&mut s, &d, issue(zone.clone(), vec!["S-404"])),
        "not_found"
    );
    let ev = ok(&mut s, &d, issue(zone, vec!["S-1"]));
    let id = EvacuationId::from(ev[0].created_id().unwrap());
    let progress = |count| {
        Command::RecordEvacuationProgress(RecordEvacuationProgress {
            evacuation_id: id.clone(),
            count,
        })
    };
    ok(&mut s, &d, progress(300));
    assert_eq!(code(&mut s, &d, progress(201)), "over_population");
    ok(&mut s, &d, progress(200));
    ok(
        &mut s,
        &d,
        Command::LiftEvacuationOrder(EvacuationRef {
            evacuation_id: id.clone(),
        }),
    );
    assert_eq!(code(&mut s, &d, progress(1)), "illegal_transition");
    assert_eq!(s.evacuations[&id].evacuated, 500);
}

#[test]
fn roles_are_enforced() {
    let mut s = world();
    let o = observer();
    let f = field("T-07");
    let move_team = |team: &str| {
        Command::UpdatePosition(UpdatePosition {
            team_id: TeamId::from(team),
            position: p(113.1, 27.6),
            time_ms: None,
            accuracy_m: Some(5.0),
        })
    };
    assert_eq!(code(&mut s, &o, move_team("T-07")), "forbidden");
    assert_eq!(code(&mut s, &f, move_team("T-01")), "forbidden");
    ok(&mut s, &f, move_team("T-07"));
    assert_eq!(
        code(
            &mut s,
            &f,
            Command::SetResponseLevel(SetResponseLevel {
                jurisdiction: JurisdictionId::from("x"),
                level: Some(ResponseLevel::IV),
                reason: String::new()
            })
        ),
        "forbidden"
    );
    assert_eq!(
        code(
            &mut s,
            &f,
            Command::RegisterTeam(RegisterTeam {
                id: TeamId::from("T-99"),
                name: "x".into(),
                kind: TeamKind::Volunteers,
                headcount: 1,
                capabilities: Default::default(),
                travel_mode: TravelMode::Foot,
                position: None
            })
        ),
        "forbidden"
    );
}

#[test]
fn stale_fix_is_refused_and_duplicates_are_refused() {
    let mut s = world();
    let d = dispatcher();
    let mv = |t| {
        Command::UpdatePosition(UpdatePosition {
            team_id: TeamId::from("T-01"),
            position: p(113.2, 27.6),
            time_ms: Some(t),
            accuracy_m: None,
        })
    };
    let tablet = field("T-01");
    ok(&mut s, &tablet, mv(5_000));
    assert_eq!(code(&mut s, &tablet, mv(4_000)), "invalid_value");
    assert_eq!(
        code(
            &mut s,
            &d,
            Command::DefineShelter(DefineShelter {
                id: ShelterId::from("S-1"),
                name: "dup".into(),
                position: p(113.0, 27.0),
                capacity: 1,
                open: true,
                supplies: BTreeMap::new(),
                town: String::new(),
                kind: String::new(),
            })
        ),
        "already_exists"
    );
}

#[test]
fn state_round_trips_through_json_and_replay() {
    let mut s = world();
    let d = dispatcher();
    let mut log = Vec::new();
    let h = report(&mut s, &d, p(113.1, 27.65));
    for cmd in [
        Command::ConfirmHazard(href(&h)),
        Command::CheckIn(CheckIn {
            shelter_id: ShelterId::from("S-1"),
            count: 5,
            allow_over_capacity: false,
        }),
    ] {
        log.extend(ok(&mut s, &d, cmd));
    }
    let json = serde_json::to_string(&s).unwrap();
    let back: State = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    // Events survive serialization too.
    for e in &log {
        let again: Event = serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
        assert_eq!(&again, e);
    }
}

#[test]
fn gauges_must_govern_known_levees() {
    let mut s = world();
    let gauge = |levee: &str| {
        Command::DefineGauge(DefineGauge {
            id: GaugeId::from("G-2"),
            name: "濠江".into(),
            river: "濠江".into(),
            position: p(113.18, 27.72),
            datum: "吴淞".into(),
            thresholds: Thresholds {
                guard_m: 37.5,
                warning_m: 39.0,
                guaranteed_m: 41.0,
            },
            levee_ids: vec![LeveeId::from(levee)],
        })
    };
    assert_eq!(code(&mut s, &dispatcher(), gauge("HJ-404")), "not_found");
    ok(&mut s, &dispatcher(), gauge("XJ-E1"));
    assert_eq!(
        s.gauges[&GaugeId::from("G-2")].levee_ids,
        vec![LeveeId::from("XJ-E1")]
    );
}

#[test]
fn a_fix_from_the_future_is_refused_and_cannot_freeze_a_team() {
    let mut s = world();
    let tablet = field("T-07");
    let mv = |t: Option<i64>, lon: f64| {
        Command::UpdatePosition(UpdatePosition {
            team_id: TeamId::from("T-07"),
            position: p(lon, 27.6),
            time_ms: t,
            accuracy_m: None,
        })
    };
    // `run` decides at now = 1,000 ms: up to two minutes of device-clock skew is accepted.
    ok(&mut s, &tablet, mv(Some(1_000 + 120_000), 113.1));
    assert_eq!(
        code(&mut s, &tablet, mv(Some(1_000 + 120_001), 113.1)),
        "invalid_value"
    );
    assert_eq!(
        code(&mut s, &tablet, mv(Some(9_000_000_000_000_000), 113.1)),
        "invalid_value"
    );
    assert_eq!(code(&mut s, &tablet, mv(Some(-1), 113.1)), "invalid_value");
    // The tablet's last fix is two minutes ahead: its own fix with server time is "late" ...
    assert_eq!(code(&mut s, &tablet, mv(None, 113.2)), "invalid_value");
    // ... but a dispatcher corrects the position, whatever the team's clock said.
    let events = ok(&mut s, &dispatcher(), mv(None, 113.3));
    assert!(matches!(&events[..], [Event::TeamMoved { fix, .. }] if fix.time_ms == 1_000));
    assert_eq!(s.teams["T-07"].fix.unwrap().position, p(113.3, 27.6));
    ok(&mut s, &tablet, mv(None, 113.4));
}

#[test]
fn a_fix_logged_far_in_the_future_before_the_bound_existed_does_not_block_new_ones() {
    let mut s = world();
    // As a log written before the skew bound would hold it.
    s.apply(&Event::TeamMoved {
        team_id: TeamId::from("T-07"),
        fix: Fix {
            position: p(113.1, 27.6),
            time_ms: 9_000_000_000_000_000,
            accuracy_m: 0.0,
        },
    });
    ok(
        &mut s,
        &field("T-07"),
        Command::UpdatePosition(UpdatePosition {
            team_id: TeamId::from("T-07"),
            position: p(113.2, 27.6),
            time_ms: None,
            accuracy_m: None,
        }),
    );
    assert_eq!(s.teams["T-07"].fix.unwrap().time_ms, 1_000);
}

#[test]
fn numbers_beyond_their_bounds_are_refused_as_invalid_value() {
    let mut s = world();
    let d = dispatcher();
    let supply = |stock, per_person_daily| {
        Command::SetSupply(SetSupply {
            shelter_id: ShelterId::from("S-1"),
            item: "water".into(),
            stock,
            per_person_daily,
            unit: "L".into(),
        })
    };
    let deliver = |quantity| {
        Command::DeliverSupply(SupplyMovement {
            shelter_id: ShelterId::from("S-1"),
            item: "water".into(),
            quantity,
        })
    };
    // The reproduction from the field: a huge stock, then a huge delivery.
    assert_eq!(code(&mut s, &d, supply(1.7e308, 3.0)), "invalid_value");
    ok(&mut s, &d, supply(1e9, 3.0));
    assert_eq!(code(&mut s, &d, deliver(1.7e308)), "invalid_value");
    assert_eq!(
        code(&mut s, &d, deliver(1.0)),
        "invalid_value",
        "stock past 1e9"
    );
    assert_eq!(code(&mut s, &d, supply(10.0, 5e-324)), "invalid_value");
    ok(&mut s, &d, supply(10.0, 0.0));
    let reading = |level_m, time_ms| {
        Command::RecordReading(RecordReading {
            gauge_id: GaugeId::from("G-XJ"),
            level_m,
            time_ms,
        })
    };
    assert_eq!(code(&mut s, &d, reading(1e300, None)), "invalid_value");
    assert_eq!(
        code(&mut s, &d, reading(39.0, Some(i64::MAX))),
        "invalid_value"
    );
    ok(&mut s, &d, reading(39.0, None));
    // Occupancy is checked arithmetic, even over capacity.
    let check_in = |count| {
        Command::CheckIn(CheckIn {
            shelter_id: ShelterId::from("S-1"),
            count,
            allow_over_capacity: true,
        })
    };
    ok(&mut s, &d, check_in(super::bounds::MAX_COUNT));
    assert_eq!(code(&mut s, &d, check_in(1)), "invalid_value");
    let accuracy = Command::UpdatePosition(UpdatePosition {
        team_id: TeamId::from("T-01"),
        position: p(113.2, 27.6),
        time_ms: None,
        accuracy_m: Some(f64::MAX),
    });
    assert_eq!(code(&mut s, &d, accuracy), "invalid_value");
}

#[test]
fn updated_at_follows_every_event_of_the_hazard() {
    let mut s = world();
    let d = dispatcher();
    let h = report(&mut s, &d, p(113.1, 27.65));
    let at = |s: &State, now: i64, cmd: Command| {
        let ctx = Context {
            now_ms: now,
            actor: &d,
            snapper: &Scan(s),
        };
        let events = s.decide(&cmd, &ctx).expect("accepted");
        let mut s = s.clone();
        for e in &events {
            s.apply(e);
        }
        s
    };
    let s = at(&s, 61_000, Command::ConfirmHazard(href(&h)));
    assert_eq!(
        (s.hazards[&h].reported_at, s.hazards[&h].updated_at),
        (1_000, 61_000)
    );
    let s = at(
        &s,
        121_000,
        Command::EscalateHazard(EscalateHazard {
            hazard_id: h.clone(),
            severity: Some(Severity::Major),
            kind: None,
            reason: String::new(),
        }),
    );
    assert_eq!(
        (s.hazards[&h].reported_at, s.hazards[&h].updated_at),
        (1_000, 121_000)
    );
}

#[test]
fn a_hazard_event_logged_without_its_time_loads_and_leaves_updated_at() {
    let mut s = world();
    let h = report(&mut s, &dispatcher(), p(113.1, 27.65));
    // As written before events carried their time.
    let old: Event = serde_json::from_value(serde_json::json!({"type": "hazard_status_changed",
        "hazard_id": "HZ-1", "from": "reported", "to": "confirmed", "reason": ""}))
    .unwrap();
    assert!(matches!(old, Event::HazardStatusChanged { at: None, .. }));
    assert_eq!(
        serde_json::to_value(&old).unwrap(),
        serde_json::json!({"type": "hazard_status_changed", "hazard_id": "HZ-1",
            "from": "reported", "to": "confirmed", "reason": ""}),
        "an old event is written back as it was"
    );
    s.apply(&old);
    assert_eq!(
        (s.hazards[&h].status, s.hazards[&h].updated_at),
        (HazardStatus::Confirmed, 1_000)
    );
}
