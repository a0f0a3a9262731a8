//! Gauges and response levels: water-level readings with their threshold alerts, and the flood
//! response level of each jurisdiction.

use super::{Decision, illegal};
use crate::domain::bounds::{MAX_FORECAST_AHEAD_MS, check_device_time, invalid};
use crate::domain::commands::*;
use crate::domain::events::Event;
use crate::domain::hydrograph::Forecast;
use crate::domain::model::*;
use crate::domain::state::{Context, State};

pub(super) fn record_reading(s: &State, r: &RecordReading, ctx: &Context<'_>) -> Decision {
    let g = s.gauge(&r.gauge_id)?;
    let reading = Reading {
        level_m: r.level_m.get(),
        time_ms: r.time_ms.map_or(ctx.now_ms, |t| t.get()),
    };
    check_device_time("time_ms", reading.time_ms, ctx.now_ms)?;
    let mut events = vec![Event::ReadingRecorded {
        gauge_id: g.id.clone(),
        reading,
    }];
    events.extend(threshold_crossings(g, reading));
    Ok(events)
}

/// Alerts for each threshold the new reading crosses relative to the gauge's last reading.
/// The first reading of a gauge raises a rising alert for every threshold it is at or above.
/// A late reading (older than the last one) is recorded but raises no alert.
fn threshold_crossings(g: &Gauge, r: Reading) -> Vec<Event> {
    if g.last.is_some_and(|l| r.time_ms < l.time_ms) {
        return Vec::new();
    }
    let prev = g.last.map(|l| l.level_m);
    g.thresholds
        .iter()
        .into_iter()
        .filter_map(|(kind, t)| {
            let was_above = prev.is_some_and(|p| p >= t);
            let is_above = r.level_m >= t;
            let direction = match (was_above, is_above) {
                (false, true) => Direction::Rising,
                (true, false) => Direction::Falling,
                _ => return None,
            };
            Some(Event::ThresholdCrossed {
                gauge_id: g.id.clone(),
                threshold: kind,
                threshold_m: t,
                level_m: r.level_m,
                direction,
                time_ms: r.time_ms,
            })
        })
        .collect()
}

/// A forecast peak for a gauge, replacing the one before. Its time may lie in the past (a crest
/// entered after it passed) but not more than [`MAX_FORECAST_AHEAD_MS`] ahead.
pub(super) fn enter_forecast(s: &State, f: &EnterGaugeForecast, ctx: &Context<'_>) -> Decision {
    let g = s.gauge(&f.gauge_id)?;
    let peak_at = f.peak_at.get();
    if peak_at > ctx.now_ms.saturating_add(MAX_FORECAST_AHEAD_MS) {
        return Err(invalid(
            format!(
                "peak_at {peak_at} is more than 30 days ahead of the server's clock ({})",
                ctx.now_ms
            ),
            format!(
                "洪峰时间 peak_at {peak_at} 超过服务器时钟（{}）30天以后",
                ctx.now_ms
            ),
        ));
    }
    Ok(vec![Event::GaugeForecastEntered {
        gauge_id: g.id.clone(),
        forecast: Forecast {
            peak_m: f.peak_m.get(),
            peak_at,
            source: f.source.to_string(),
            entered_at: ctx.now_ms,
            entered_by: ctx.actor.name.clone(),
        },
    }])
}

/// A level's name in messages; no level is `none`.
fn level_name(level: Option<ResponseLevel>) -> &'static str {
    level.map_or("none", Into::into)
}

pub(super) fn set_response_level(s: &State, r: &SetResponseLevel, ctx: &Context<'_>) -> Decision {
    let previous = s.response_level(&r.jurisdiction);
    if previous == r.level {
        return Err(illegal(
            "response level of",
            &r.jurisdiction,
            level_name(previous),
            level_name(r.level),
        ));
    }
    Ok(vec![Event::ResponseLevelChanged {
        jurisdiction: r.jurisdiction.clone(),
        previous,
        change: ResponseChange {
            level: r.level,
            at: ctx.now_ms,
            by: ctx.actor.name.clone(),
            reason: r.reason.to_string(),
        },
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::model::*;
    use serde_json::{Value, json};

    use Direction::*;
    use ThresholdKind::*;

    fn read(level_m: impl Into<Value>, time_ms: Option<i64>) -> Value {
        json!({"type": "record_reading", "gauge_id": "G-XJ", "level_m": level_m.into(),
               "time_ms": time_ms})
    }

    fn recorded(level_m: f64, time_ms: i64) -> Event {
        Event::ReadingRecorded {
            gauge_id: GaugeId::from("G-XJ"),
            reading: Reading { level_m, time_ms },
        }
    }

    fn crossed(
        threshold: ThresholdKind,
        level_m: f64,
        direction: Direction,
        time_ms: i64,
    ) -> Event {
        Event::ThresholdCrossed {
            gauge_id: GaugeId::from("G-XJ"),
            threshold,
            threshold_m: match threshold {
                Guard => 38.0,
                Warning => 40.0,
                Guaranteed => 42.5,
            },
            level_m,
            direction,
            time_ms,
        }
    }

    #[test]
    fn readings_raise_threshold_alerts_both_ways() {
        let d = dispatcher();
        let g = given(&world())
            .when(&d, read(37.0, Some(1)))
            .then(&[recorded(37.0, 1)])
            .when(&d, read(38.0, Some(2)))
            .then(&[recorded(38.0, 2), crossed(Guard, 38.0, Rising, 2)])
            .when(&d, read(42.6, Some(3)))
            .then(&[
                recorded(42.6, 3),
                crossed(Warning, 42.6, Rising, 3),
                crossed(Guaranteed, 42.6, Rising, 3),
            ])
            .when(&d, read(41.0, Some(4)))
            .then(&[recorded(41.0, 4), crossed(Guaranteed, 41.0, Falling, 4)]);
        // A late packet is recorded but does not move "last" and raises nothing.
        let g = g.when(&d, read(30.0, Some(3))).then(&[recorded(30.0, 3)]);
        assert_eq!(
            g.state().gauges[&GaugeId::from("G-XJ")].last,
            Some(Reading {
                level_m: 41.0,
                time_ms: 4
            })
        );
    }

    #[test]
    fn a_first_reading_above_thresholds_alerts_for_each() {
        given(&world())
            .when(&dispatcher(), read(40.5, None))
            .then(&[
                recorded(40.5, NOW),
                crossed(Guard, 40.5, Rising, NOW),
                crossed(Warning, 40.5, Rising, NOW),
            ]);
    }

    #[test]
    fn a_reading_needs_a_known_gauge_a_level_and_a_plausible_time() {
        let d = dispatcher();
        given(&world())
            .when(
                &d,
                json!({"type": "record_reading", "gauge_id": "G-X", "level_m": 1.0}),
            )
            .then_error("not_found");
        for bad in [
            read(1e300, None),
            read(-1_001, None),
            read(39.0, Some(i64::MAX)),
        ] {
            given(&world()).when(&d, bad).then_error("invalid_value");
        }
        given(&world())
            .when(&d, read("high", None))
            .then_error("invalid_field");
        given(&world())
            .when(&d, read(39.0, None))
            .then(&[recorded(39.0, NOW), crossed(Guard, 39.0, Rising, NOW)]);
    }

    fn set(level: Option<&str>) -> Value {
        json!({"type": "set_response_level", "jurisdiction": "fukou", "level": level,
               "reason": "water rising"})
    }

    fn changed(previous: Option<ResponseLevel>, level: Option<ResponseLevel>) -> Event {
        Event::ResponseLevelChanged {
            jurisdiction: JurisdictionId::from("fukou"),
            previous,
            change: ResponseChange {
                level,
                at: NOW,
                by: "desk-1".into(),
                reason: "water rising".into(),
            },
        }
    }

    #[test]
    fn response_levels_change_and_keep_their_history() {
        use ResponseLevel::*;
        let d = dispatcher();
        let j = JurisdictionId::from("fukou");
        let g = given(&world())
            .when(&d, set(None))
            .then_error("illegal_transition")
            .when(&d, set(Some("IV")))
            .then(&[changed(None, Some(IV))])
            .when(&d, set(Some("II")))
            .then(&[changed(Some(IV), Some(II))])
            .when(&d, set(Some("II")))
            .then_error("illegal_transition")
            .when(&d, set(None))
            .then(&[changed(Some(II), None)]);
        assert_eq!(g.state().response[&j].len(), 3);
        assert_eq!(g.state().response_level(&j), None);
        assert!(I > IV);
    }

    fn forecast(peak_m: f64, peak_at: i64, source: &str) -> Value {
        json!({"type": "enter_gauge_forecast", "gauge_id": "G-XJ", "peak_m": peak_m,
               "peak_at": peak_at, "source": source})
    }

    fn forecast_entered(peak_m: f64, peak_at: i64, source: &str) -> Event {
        Event::GaugeForecastEntered {
            gauge_id: GaugeId::from("G-XJ"),
            forecast: crate::domain::hydrograph::Forecast {
                peak_m,
                peak_at,
                source: source.into(),
                entered_at: NOW,
                entered_by: "desk-1".into(),
            },
        }
    }

    #[test]
    fn a_dispatcher_enters_a_forecast_peak_and_the_next_one_replaces_it() {
        let d = dispatcher();
        let g = given(&world())
            .when(&d, forecast(44.2, NOW + 3_600_000, "市水文局"))
            .then(&[forecast_entered(44.2, NOW + 3_600_000, "市水文局")])
            .when(&d, forecast(44.6, NOW + 7_200_000, ""))
            .then(&[forecast_entered(44.6, NOW + 7_200_000, "")]);
        let f = g.state().gauges[&GaugeId::from("G-XJ")]
            .forecast
            .clone()
            .unwrap();
        assert_eq!((f.peak_m, f.peak_at), (44.6, NOW + 7_200_000));
    }

    #[test]
    fn a_forecast_needs_a_dispatcher_a_known_gauge_and_a_plausible_time() {
        let d = dispatcher();
        given(&world())
            .when(&field("T-07"), forecast(44.2, NOW, ""))
            .then_error("forbidden");
        given(&world())
            .when(&observer(), forecast(44.2, NOW, ""))
            .then_error("forbidden");
        given(&world())
            .when(
                &d,
                json!({"type": "enter_gauge_forecast", "gauge_id": "G-X", "peak_m": 44.0,
                       "peak_at": NOW}),
            )
            .then_error("not_found");
        let month = crate::domain::bounds::MAX_FORECAST_AHEAD_MS;
        given(&world())
            .when(&d, forecast(44.2, NOW + month + 1, ""))
            .then_error("invalid_value");
        given(&world())
            .when(&d, forecast(44.2, NOW + month, ""))
            .then_events(|e| assert_eq!(e.len(), 1));
        for bad in [forecast(1e300, NOW, ""), forecast(44.0, -1, "")] {
            given(&world()).when(&d, bad).then_error("invalid_value");
        }
        given(&world())
            .when(
                &d,
                json!({"type": "enter_gauge_forecast", "gauge_id": "G-XJ", "peak_m": 44.0}),
            )
            .then_error("missing_field");
    }

    #[test]
    fn every_reading_is_kept_in_time_order_and_late_ones_find_their_place() {
        let d = dispatcher();
        let g = given(&world())
            .when(&d, read(37.0, Some(10)))
            .then(&[recorded(37.0, 10)])
            .when(&d, read(37.4, Some(30)))
            .then(&[recorded(37.4, 30)])
            // Late: kept at its time, no alert, `last` stays the newest.
            .when(&d, read(37.2, Some(20)))
            .then(&[recorded(37.2, 20)])
            // Same time again: the resend replaces the kept reading.
            .when(&d, read(37.5, Some(30)))
            .then(&[recorded(37.5, 30)]);
        let kept: Vec<(i64, f64)> = g.state().gauge_readings[&GaugeId::from("G-XJ")]
            .iter()
            .map(|r| (r.time_ms, r.level_m))
            .collect();
        assert_eq!(kept, [(10, 37.0), (20, 37.2), (30, 37.5)]);
        assert_eq!(
            g.state().gauges[&GaugeId::from("G-XJ")].last,
            Some(Reading {
                level_m: 37.5,
                time_ms: 30
            })
        );
    }

    #[test]
    fn a_gauge_is_defined_with_its_record_level() {
        let defined = json!({"type": "define_gauge", "id": "G-ZZ", "name": "株洲", "river": "湘江",
                             "position": [113.13, 27.83], "datum": "吴淞",
                             "thresholds": {"guard_m": 38, "warning_m": 40, "guaranteed_m": 42.5},
                             "record": {"level_m": 44.58, "date": "1994", "station": "株洲"}});
        let g = given(&world())
            .when(&dispatcher(), defined)
            .then_events(|_| {});
        let record = g.state().gauges[&GaugeId::from("G-ZZ")]
            .record
            .clone()
            .unwrap();
        assert_eq!(
            (
                record.level_m,
                record.date.as_str(),
                record.station.as_str()
            ),
            (44.58, "1994", "株洲")
        );
        let bad = json!({"type": "define_gauge", "id": "G-ZZ", "name": "株洲",
                         "position": [113.13, 27.83], "datum": "吴淞",
                         "thresholds": {"guard_m": 38, "warning_m": 40, "guaranteed_m": 42.5},
                         "record": {"level_m": 44.58}});
        given(&world())
            .when(&dispatcher(), bad)
            .then_error("missing_field");
    }
}
