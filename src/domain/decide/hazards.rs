//! Hazards (险情): reports, the status lifecycle and escalation.

use super::{Decision, illegal};
use crate::domain::bounds::invalid;
use crate::domain::commands::*;
use crate::domain::error::DomainError;
use crate::domain::events::Event;
use crate::domain::ids::HazardId;
use crate::domain::model::*;
use crate::domain::state::{Context, HAZARD_SNAP_TOLERANCE_M, State};

/// A new hazard, numbered `HZ-<n>`, placed on the nearest levee within the snapping tolerance.
/// A report may give a linear asset's kilometre post instead of a position ("near railway
/// K1673+200"). The hazard carries the protected assets whose buffer it lies in.
pub(super) fn report(s: &State, r: &ReportHazard, ctx: &Context<'_>) -> Decision {
    let id = HazardId::from(format!("HZ-{}", s.next_hazard + 1));
    let position = match (&r.position, &r.at_asset) {
        (Some(p), None) => *p,
        (None, Some(at)) => {
            let asset = s
                .assets
                .get(&at.asset_id)
                .ok_or_else(|| super::not_found("protected asset", &at.asset_id))?;
            asset.point_at(at.chainage.metres()).ok_or_else(|| {
                invalid(
                    format!(
                        "{} is not on {} (a point asset has no kilometre posts, or the post is beyond its ends)",
                        at.chainage, at.asset_id
                    ),
                    format!(
                        "{}不在{}上（点状设施没有公里桩，或该桩号超出设施两端）",
                        at.chainage, at.asset_id
                    ),
                )
            })?
        }
        _ => {
            return Err(invalid(
                "give the hazard's position, or at_asset with a kilometre post, not both",
                "请给出险情位置，或给出 at_asset 及公里桩，二者只能选其一",
            ));
        }
    };
    let levee = ctx.snapper.snap(position, HAZARD_SNAP_TOLERANCE_M);
    let mut near_assets: Vec<_> = s
        .assets
        .values()
        .map(|a| (a.priority, a.buffer_m, a.proximity(position)))
        .filter(|(_, buffer, near)| near.distance_m <= *buffer)
        .collect();
    near_assets.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.2.distance_m.total_cmp(&b.2.distance_m))
    });
    Ok(vec![Event::HazardReported {
        hazard: Hazard {
            id,
            kind: r.kind,
            severity: r.severity,
            status: HazardStatus::Reported,
            position,
            levee,
            description: r.description.to_string(),
            reported_by: ctx.actor.name.clone(),
            reported_at: ctx.now_ms,
            updated_at: ctx.now_ms,
            near_assets: near_assets.into_iter().map(|(_, _, near)| near).collect(),
        },
    }])
}

/// Confirm, start handling, eliminate or mark as a false alarm: a step of the lifecycle in
/// [`HazardStatus::can_become`].
pub(super) fn change_status(
    s: &State,
    r: &HazardRef,
    to: HazardStatus,
    ctx: &Context<'_>,
) -> Decision {
    let h = s.hazard(&r.hazard_id)?;
    if !h.status.can_become(to) {
        return Err(illegal("hazard", &h.id, h.status.into(), to.into()));
    }
    Ok(vec![Event::HazardStatusChanged {
        hazard_id: h.id.clone(),
        from: h.status,
        to,
        reason: r.reason.to_string(),
        at: Some(ctx.now_ms),
    }])
}

/// A higher severity, or turning into a breach, of a hazard that is still open.
pub(super) fn escalate(s: &State, e: &EscalateHazard, ctx: &Context<'_>) -> Decision {
    let h = s.hazard(&e.hazard_id)?;
    if h.status.is_closed() {
        return Err(illegal("hazard", &h.id, h.status.into(), "escalated"));
    }
    let to_severity = e.severity.unwrap_or(h.severity);
    let to_kind = e.kind.unwrap_or(h.kind);
    let raises = to_severity > h.severity;
    let breaches = to_kind == HazardKind::Breach && h.kind != HazardKind::Breach;
    let kind_ok = e.kind.is_none() || to_kind == h.kind || breaches;
    if !(raises || breaches) || to_severity < h.severity || !kind_ok {
        return Err(DomainError::NotAnEscalation(h.id.to_string()));
    }
    Ok(vec![Event::HazardEscalated {
        hazard_id: h.id.clone(),
        from_severity: h.severity,
        to_severity,
        from_kind: h.kind,
        to_kind,
        reason: e.reason.to_string(),
        at: Some(ctx.now_ms),
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::bounds::MAX_TEXT;
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::levee::BankSide;
    use crate::domain::model::*;
    use serde_json::{Value, json};

    use HazardStatus::*;

    fn report_at(lon: f64, lat: f64) -> Value {
        json!({"type": "report_hazard", "kind": "piping", "severity": "general",
               "position": [lon, lat], "description": "管涌 at the toe"})
    }

    fn step(kind: &str, id: &str) -> Value {
        json!({"type": kind, "hazard_id": id})
    }

    #[test]
    fn a_report_on_a_levee_is_placed_on_it() {
        given(&world())
            .when(&field("T-07"), report_at(113.1005, 27.65))
            .then_events(|events| {
                let [Event::HazardReported { hazard }] = events else {
                    panic!("{events:?}")
                };
                assert_eq!(hazard.id.as_str(), "HZ-1");
                assert_eq!(hazard.reported_by, "tablet-T-07");
                assert_eq!((hazard.reported_at, hazard.updated_at), (NOW, NOW));
                assert_eq!(hazard.status, Reported);
                let loc = hazard.levee.clone().expect("on the levee");
                assert_eq!(loc.levee_id.as_str(), "XJ-E1");
                assert_eq!(loc.side, BankSide::Landside);
                assert!((loc.chainage_m - 5559.7).abs() < 2.0, "{}", loc.chainage_m);
                assert_eq!(loc.chainage, "K5+560");
            });
    }

    #[test]
    fn a_report_far_from_any_levee_is_numbered_after_the_last() {
        let mut expected = hazard_reported("HZ-2");
        if let Event::HazardReported { hazard } = &mut expected {
            hazard.position = p(113.5, 27.65);
        }
        given(&world())
            .and(&[hazard_reported("HZ-1")])
            .when(&dispatcher(), report_at(113.5, 27.65))
            .then(&[expected]);
    }

    #[test]
    fn a_description_has_a_length_limit() {
        let mut long = report_at(113.5, 27.65);
        long["description"] = json!("x".repeat(MAX_TEXT + 1));
        given(&world())
            .when(&dispatcher(), long)
            .then_error("invalid_value");
    }

    #[test]
    fn the_lifecycle_goes_reported_confirmed_handled_eliminated() {
        let d = dispatcher();
        given(&world())
            .and(&[hazard_reported("HZ-1")])
            .when(&d, step("confirm_hazard", "HZ-1"))
            .then(&[hazard_status_changed("HZ-1", Reported, Confirmed)])
            .when(&d, step("start_hazard_handling", "HZ-1"))
            .then(&[hazard_status_changed("HZ-1", Confirmed, BeingHandled)])
            .when(&d, step("eliminate_hazard", "HZ-1"))
            .then(&[hazard_status_changed("HZ-1", BeingHandled, Eliminated)]);
        // A confirmed hazard may be eliminated without a handling step.
        given(&world())
            .and(&[
                hazard_reported("HZ-1"),
                hazard_status_changed("HZ-1", Reported, Confirmed),
            ])
            .when(&d, step("eliminate_hazard", "HZ-1"))
            .then(&[hazard_status_changed("HZ-1", Confirmed, Eliminated)]);
    }

    #[test]
    fn a_reported_or_confirmed_hazard_may_be_a_false_alarm() {
        let d = dispatcher();
        given(&[hazard_reported("HZ-1")])
            .when(&d, step("mark_false_alarm", "HZ-1"))
            .then(&[hazard_status_changed("HZ-1", Reported, FalseAlarm)]);
        given(&[
            hazard_reported("HZ-1"),
            hazard_status_changed("HZ-1", Reported, Confirmed),
        ])
        .when(&d, step("mark_false_alarm", "HZ-1"))
        .then(&[hazard_status_changed("HZ-1", Confirmed, FalseAlarm)]);
    }

    #[test]
    fn steps_outside_the_lifecycle_are_illegal_transitions() {
        let d = dispatcher();
        let reported = vec![hazard_reported("HZ-1")];
        let confirmed = [
            reported.clone(),
            vec![hazard_status_changed("HZ-1", Reported, Confirmed)],
        ]
        .concat();
        let handled = [
            confirmed.clone(),
            vec![hazard_status_changed("HZ-1", Confirmed, BeingHandled)],
        ]
        .concat();
        let eliminated = [
            handled.clone(),
            vec![hazard_status_changed("HZ-1", BeingHandled, Eliminated)],
        ]
        .concat();
        let false_alarm = [
            reported.clone(),
            vec![hazard_status_changed("HZ-1", Reported, FalseAlarm)],
        ]
        .concat();
        for (history, command) in [
            (&reported, "eliminate_hazard"),
            (&reported, "start_hazard_handling"),
            (&confirmed, "confirm_hazard"),
            (&handled, "mark_false_alarm"),
            (&handled, "confirm_hazard"),
            (&eliminated, "confirm_hazard"),
            (&eliminated, "start_hazard_handling"),
            (&eliminated, "mark_false_alarm"),
            (&eliminated, "eliminate_hazard"),
            (&false_alarm, "confirm_hazard"),
        ] {
            given(history)
                .when(&d, step(command, "HZ-1"))
                .then_error("illegal_transition");
        }
    }

    #[test]
    fn a_step_for_an_unknown_hazard_is_not_found() {
        given(&[hazard_reported("HZ-1")])
            .when(&dispatcher(), step("confirm_hazard", "HZ-99"))
            .then_error("not_found");
    }

    fn escalate(severity: Option<&str>, kind: Option<&str>) -> Value {
        json!({"type": "escalate_hazard", "hazard_id": "HZ-1", "severity": severity,
               "kind": kind, "reason": "rising"})
    }

    fn escalated(
        (from_severity, to_severity): (Severity, Severity),
        (from_kind, to_kind): (HazardKind, HazardKind),
    ) -> Event {
        Event::HazardEscalated {
            hazard_id: HazardId::from("HZ-1"),
            from_severity,
            to_severity,
            from_kind,
            to_kind,
            reason: "rising".into(),
            at: Some(NOW),
        }
    }

    #[test]
    fn an_escalation_raises_the_severity_or_makes_a_breach() {
        use HazardKind::*;
        use Severity::*;
        let d = dispatcher();
        given(&[hazard_reported("HZ-1")])
            .when(&d, escalate(Some("major"), None))
            .then(&[escalated((General, Major), (Piping, Piping))])
            .when(&d, escalate(None, Some("breach")))
            .then(&[escalated((Major, Major), (Piping, Breach))])
            .when(&d, escalate(Some("critical"), None))
            .then(&[escalated((Major, Critical), (Breach, Breach))]);
    }

    #[test]
    fn anything_else_is_not_an_escalation() {
        use HazardKind::*;
        use Severity::*;
        let d = dispatcher();
        for command in [
            escalate(None, None),
            escalate(Some("general"), None),
            escalate(None, Some("crack")),
        ] {
            given(&[hazard_reported("HZ-1")])
                .when(&d, command)
                .then_error("not_an_escalation");
        }
        let major = [
            hazard_reported("HZ-1"),
            escalated((General, Major), (Piping, Piping)),
        ];
        // A breach may not lower the severity at the same time.
        given(&major)
            .when(&d, escalate(Some("general"), Some("breach")))
            .then_error("not_an_escalation");
        // A breach is a breach once.
        given(&major)
            .and(&[escalated((Major, Major), (Piping, Breach))])
            .when(&d, escalate(None, Some("breach")))
            .then_error("not_an_escalation");
    }

    #[test]
    fn a_closed_hazard_cannot_be_escalated() {
        given(&[
            hazard_reported("HZ-1"),
            hazard_status_changed("HZ-1", Reported, FalseAlarm),
        ])
        .when(&dispatcher(), escalate(Some("critical"), None))
        .then_error("illegal_transition");
    }

    #[test]
    fn updated_at_follows_every_event_of_the_hazard() {
        let d = dispatcher();
        let hazard = |g: &Given| g.state().hazards[&HazardId::from("HZ-1")].clone();
        let reported = given(&[hazard_reported("HZ-1")]);
        assert_eq!(hazard(&reported).updated_at, NOW);
        let confirmed = reported
            .when_at(NOW + 60_000, &d, step("confirm_hazard", "HZ-1"))
            .then_events(|_| {});
        let h = hazard(&confirmed);
        assert_eq!((h.reported_at, h.updated_at), (NOW, NOW + 60_000));
        let escalated = confirmed
            .when_at(NOW + 120_000, &d, escalate(Some("major"), None))
            .then_events(|_| {});
        let h = hazard(&escalated);
        assert_eq!((h.reported_at, h.updated_at), (NOW, NOW + 120_000));
        assert_eq!(h.severity, Severity::Major);
    }

    #[test]
    fn an_event_logged_without_its_time_loads_and_leaves_updated_at() {
        // As written before events carried their time.
        let old: Event = serde_json::from_value(json!({"type": "hazard_status_changed",
            "hazard_id": "HZ-1", "from": "reported", "to": "confirmed", "reason": ""}))
        .unwrap();
        assert!(matches!(old, Event::HazardStatusChanged { at: None, .. }));
        assert_eq!(
            serde_json::to_value(&old).unwrap(),
            json!({"type": "hazard_status_changed", "hazard_id": "HZ-1", "from": "reported",
                   "to": "confirmed", "reason": ""}),
            "an old event is written back as it was"
        );
        let old_escalation: Event = serde_json::from_value(json!({"type": "hazard_escalated",
            "hazard_id": "HZ-1", "from_severity": "general", "to_severity": "major",
            "from_kind": "piping", "to_kind": "piping", "reason": ""}))
        .unwrap();
        let s = given(&[hazard_reported("HZ-1"), old, old_escalation]);
        let h = &s.state().hazards[&HazardId::from("HZ-1")];
        assert_eq!(
            (h.status, h.severity, h.updated_at),
            (Confirmed, Severity::Major, NOW)
        );
    }
}
