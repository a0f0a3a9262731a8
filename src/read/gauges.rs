//! Gauges over time as clients read them: a gauge's figures (its level against 警戒 and 保证 and
//! the record, the rate of rise), the hydrograph of a time window (the `hydrograph` query and
//! `GET /api/v1/gauges/{id}/hydrograph`), the gauges of the sitrep, and the audit trail of
//! reference-data corrections (the `corrections` query).
//!
//! Differences of levels are rounded to the millimetre, rates to the millimetre per hour: the
//! readings are centimetres, and a client should not see `-0.13000000000000256`.

use crate::domain::State;
use crate::domain::corrections::CorrectionField;
use crate::domain::hydrograph::{self, Forecast, RecordLevel};
use crate::domain::model::*;
use crate::domain::patrol::WaterStage;
use crate::protocol::{ErrorCode, WireError};
use serde::Serialize;
use serde_json::{Value, json};

fn mm(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// What a gauge's view, its hydrograph and the sitrep derive from its readings, at its last one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    /// Metres above 警戒 (negative: below), `null` before the first reading.
    pub above_warning_m: Option<f64>,
    /// Metres above 保证 (negative: below).
    pub above_guaranteed_m: Option<f64>,
    /// Metres above the record level (negative: below); `null` without a record.
    pub above_record_m: Option<f64>,
    /// Metres per hour over the last hour of readings (see [`hydrograph::rate_of_rise`]).
    pub rate_of_rise_m_per_h: Option<f64>,
}

pub fn figures(state: &State, g: &Gauge) -> Figures {
    let level = g.last.map(|r| r.level_m);
    let above = |t: f64| level.map(|l| mm(l - t));
    Figures {
        above_warning_m: above(g.thresholds.warning_m),
        above_guaranteed_m: above(g.thresholds.guaranteed_m),
        above_record_m: g.record.as_ref().and_then(|r| above(r.level_m)),
        rate_of_rise_m_per_h: state
            .gauge_readings
            .get(&g.id)
            .and_then(|kept| hydrograph::rate_of_rise(kept, None))
            .map(|r| mm(r.m_per_h)),
    }
}

/// A gauge as clients see it: its record plus its figures.
#[derive(Serialize)]
pub struct GaugeView<'a> {
    #[serde(flatten)]
    gauge: &'a Gauge,
    #[serde(flatten)]
    figures: Figures,
}

pub fn view<'a>(state: &'a State, g: &'a Gauge) -> GaugeView<'a> {
    GaugeView {
        gauge: g,
        figures: figures(state, g),
    }
}

#[derive(Serialize)]
struct TimeAbove {
    guard: i64,
    warning: i64,
    guaranteed: i64,
}

#[derive(Serialize)]
struct Hydrograph<'a> {
    seq: u64,
    gauge_id: &'a str,
    name: &'a str,
    river: &'a str,
    datum: &'a str,
    from_ms: Option<TimeMs>,
    until_ms: Option<TimeMs>,
    thresholds: Thresholds,
    readings: Vec<&'a Reading>,
    /// The highest reading in the window (the first, if several are as high).
    peak: Option<&'a Reading>,
    rate_of_rise: Option<hydrograph::Rise>,
    time_above_ms: TimeAbove,
    last: Option<Reading>,
    #[serde(flatten)]
    figures: Figures,
    forecast: Option<&'a Forecast>,
    record: Option<&'a RecordLevel>,
}

/// The hydrograph of `gauge_id` within `[from, until]` (either end open when absent), at `seq`.
pub fn hydrograph(
    state: &State,
    seq: u64,
    gauge_id: &str,
    from: Option<TimeMs>,
    until: Option<TimeMs>,
) -> Result<Value, WireError> {
    let g = state.gauges.get(gauge_id).ok_or_else(|| {
        WireError::new(
            ErrorCode::NotFound,
            format!("gauge {gauge_id} does not exist"),
            format!("水位站{gauge_id}不存在"),
        )
    })?;
    if let (Some(f), Some(u)) = (from, until)
        && f > u
    {
        return Err(WireError::new(
            ErrorCode::InvalidValue,
            format!("from_ms {f} is after until_ms {u}"),
            format!("from_ms {f} 晚于 until_ms {u}"),
        ));
    }
    let empty = std::collections::VecDeque::new();
    let kept = state.gauge_readings.get(&g.id).unwrap_or(&empty);
    let readings: Vec<&Reading> = hydrograph::window(kept, from, until).collect();
    let peak = readings
        .iter()
        .copied()
        .reduce(|a, b| if b.level_m > a.level_m { b } else { a });
    let above = |t: f64| hydrograph::time_above(kept, from, until, t).round() as i64;
    let rate_of_rise = hydrograph::rate_of_rise(kept, until).map(|r| hydrograph::Rise {
        m_per_h: mm(r.m_per_h),
        ..r
    });
    let answer = Hydrograph {
        seq,
        gauge_id: g.id.as_str(),
        name: &g.name,
        river: &g.river,
        datum: &g.datum,
        from_ms: from,
        until_ms: until,
        thresholds: g.thresholds,
        readings,
        peak,
        rate_of_rise,
        time_above_ms: TimeAbove {
            guard: above(g.thresholds.guard_m),
            warning: above(g.thresholds.warning_m),
            guaranteed: above(g.thresholds.guaranteed_m),
        },
        last: g.last,
        figures: figures(state, g),
        forecast: g.forecast.as_ref(),
        record: g.record.as_ref(),
    };
    Ok(serde_json::to_value(answer).expect("a hydrograph serializes"))
}

#[derive(Serialize)]
struct SitrepGauge<'a> {
    id: &'a str,
    name: &'a str,
    river: &'a str,
    datum: &'a str,
    level_m: Option<f64>,
    time_ms: Option<TimeMs>,
    stage: Option<WaterStage>,
    thresholds: Thresholds,
    #[serde(flatten)]
    figures: Figures,
    forecast: Option<&'a Forecast>,
    record: Option<&'a RecordLevel>,
}

/// The sitrep's water levels: every gauge, by id, with its level, stage and figures.
pub fn sitrep(state: &State) -> Value {
    let gauges: Vec<SitrepGauge<'_>> = state
        .gauges
        .values()
        .map(|g| SitrepGauge {
            id: g.id.as_str(),
            name: &g.name,
            river: &g.river,
            datum: &g.datum,
            level_m: g.last.map(|r| r.level_m),
            time_ms: g.last.map(|r| r.time_ms),
            stage: g.last.map(|r| WaterStage::of(r.level_m, &g.thresholds)),
            thresholds: g.thresholds,
            figures: figures(state, g),
            forecast: g.forecast.as_ref(),
            record: g.record.as_ref(),
        })
        .collect();
    serde_json::to_value(gauges).expect("gauges serialize")
}

/// The corrections kept, newest first, optionally of one entity and one field, at most `limit`.
pub fn corrections(
    state: &State,
    seq: u64,
    subject_id: Option<&str>,
    field: Option<CorrectionField>,
    limit: usize,
) -> Value {
    let list: Vec<&crate::domain::corrections::Correction> = state
        .corrections
        .iter()
        .rev()
        .filter(|c| subject_id.is_none_or(|id| c.change.subject().1 == id))
        .filter(|c| field.is_none_or(|f| c.change.field() == f))
        .take(limit)
        .collect();
    json!({
        "seq": seq,
        "corrections": list,
        "kept": crate::domain::corrections::CORRECTIONS_KEPT,
    })
}
