//! Evacuation orders: issued for a zone and a population, progressed as people leave, lifted.

use super::{Decision, illegal};
use crate::domain::commands::*;
use crate::domain::error::DomainError;
use crate::domain::events::Event;
use crate::domain::ids::EvacuationId;
use crate::domain::model::*;
use crate::domain::state::{Context, State};

pub(super) fn issue(s: &State, o: &IssueEvacuationOrder, ctx: &Context<'_>) -> Decision {
    for shelter in &o.target_shelters {
        s.shelter(shelter)?;
    }
    let id = EvacuationId::from(format!("EV-{}", s.next_evacuation + 1));
    Ok(vec![Event::EvacuationOrdered {
        order: EvacuationOrder {
            id,
            name: o.name.to_string(),
            zone: o.zone.points().to_vec(),
            population: o.population.get(),
            evacuated: 0,
            target_shelters: o.target_shelters.clone(),
            status: EvacuationStatus::Active,
            issued_at: ctx.now_ms,
        },
    }])
}

fn active(o: &EvacuationOrder, to: &'static str) -> Result<(), DomainError> {
    if o.status != EvacuationStatus::Active {
        return Err(illegal("evacuation", &o.id, o.status.into(), to));
    }
    Ok(())
}

pub(super) fn record_progress(s: &State, p: &RecordEvacuationProgress) -> Decision {
    let o = s.evacuation(&p.evacuation_id)?;
    active(o, "progress")?;
    let count = p.count.get();
    let remaining = o.population.saturating_sub(o.evacuated);
    if count > remaining {
        return Err(DomainError::OverPopulation {
            id: o.id.to_string(),
            remaining,
            requested: count,
        });
    }
    Ok(vec![Event::EvacuationProgressed {
        evacuation_id: o.id.clone(),
        count,
        evacuated: o.evacuated + count,
    }])
}

pub(super) fn lift(s: &State, r: &EvacuationRef) -> Decision {
    let o = s.evacuation(&r.evacuation_id)?;
    active(o, "lifted")?;
    Ok(vec![Event::EvacuationLifted {
        evacuation_id: o.id.clone(),
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::bounds::MAX_COUNT;
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::model::*;
    use serde_json::{Value, json};

    const ZONE: [[f64; 2]; 4] = [[113.0, 27.0], [113.1, 27.0], [113.1, 27.1], [113.0, 27.0]];

    fn issue(zone: Value, population: Value, shelters: &[&str]) -> Value {
        json!({"type": "issue_evacuation_order", "name": "将军村", "zone": zone,
               "population": population, "target_shelters": shelters})
    }

    fn ordered() -> Event {
        Event::EvacuationOrdered {
            order: EvacuationOrder {
                id: EvacuationId::from("EV-1"),
                name: "将军村".into(),
                zone: ZONE.iter().map(|[x, y]| p(*x, *y)).collect(),
                population: 500,
                evacuated: 0,
                target_shelters: vec![ShelterId::from("S-1")],
                status: EvacuationStatus::Active,
                issued_at: NOW,
            },
        }
    }

    fn progress(count: impl Into<Value>) -> Value {
        json!({"type": "record_evacuation_progress", "evacuation_id": "EV-1", "count": count.into()})
    }

    fn progressed(count: u32, evacuated: u32) -> Event {
        Event::EvacuationProgressed {
            evacuation_id: EvacuationId::from("EV-1"),
            count,
            evacuated,
        }
    }

    fn lift() -> Value {
        json!({"type": "lift_evacuation_order", "evacuation_id": "EV-1"})
    }

    #[test]
    fn an_order_is_issued_for_a_closed_zone_and_known_shelters() {
        let d = dispatcher();
        given(&world())
            .when(&d, issue(json!(ZONE), json!(500), &["S-1"]))
            .then(&[ordered()]);
        let open_ring = json!([[113.0, 27.0], [113.1, 27.0], [113.1, 27.1], [113.0, 27.1]]);
        given(&world())
            .when(&d, issue(open_ring, json!(500), &[]))
            .then_error("invalid_value");
        given(&world())
            .when(&d, issue(json!(ZONE), json!(500), &["S-404"]))
            .then_error("not_found");
        for bad in [json!(MAX_COUNT + 1), json!(-500)] {
            given(&world())
                .when(&d, issue(json!(ZONE), bad, &[]))
                .then_error("invalid_value");
        }
    }

    #[test]
    fn progress_adds_up_to_the_population_and_no_further() {
        let d = dispatcher();
        let g = given(&world())
            .and(&[ordered()])
            .when(&d, progress(300))
            .then(&[progressed(300, 300)])
            .when(&d, progress(201))
            .then_error("over_population")
            .when(&d, progress(200))
            .then(&[progressed(200, 500)]);
        assert_eq!(
            g.state().evacuations[&EvacuationId::from("EV-1")].evacuated,
            500
        );
        given(&world())
            .and(&[ordered()])
            .when(&d, progress(0))
            .then_error("invalid_value");
        given(&world())
            .and(&[ordered()])
            .when(&d, progress(-1))
            .then_error("invalid_value");
    }

    #[test]
    fn a_lifted_order_takes_no_progress_and_is_lifted_once() {
        let d = dispatcher();
        let lifted = given(&world())
            .and(&[ordered(), progressed(300, 300)])
            .when(&d, lift())
            .then(&[Event::EvacuationLifted {
                evacuation_id: EvacuationId::from("EV-1"),
            }]);
        assert_eq!(
            lifted.state().evacuations[&EvacuationId::from("EV-1")].status,
            EvacuationStatus::Lifted
        );
        lifted
            .when(&d, progress(1))
            .then_error("illegal_transition")
            .when(&d, lift())
            .then_error("illegal_transition");
        given(&world()).when(&d, lift()).then_error("not_found");
    }
}
