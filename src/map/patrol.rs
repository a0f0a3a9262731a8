//! Checks of the patrol sections (巡堤查险): each section is a stretch of a levee of the same map
//! with its patrol points, and together a levee's sections leave no stretch unwalked. The rules
//! are the domain's default [`PatrolRules`] (a section at most 1,000 m, adjacent sections
//! overlapping by at least 10 m, patrol points at most 300 m apart and from the section's ends),
//! checked here so that a broken file is refused naming the feature and the field.

use super::{Feature, Loader, MapError};
use crate::domain::chainage::Chainage;
use crate::domain::levee::Levee;
use crate::domain::patrol::PatrolRules;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

const LAYER: &str = "patrol_sections";
/// How far the drawn line's ends may lie from the levee at the section's chainages, metres.
const LINE_END_TOLERANCE_M: f64 = 100.0;
/// Rounding allowed where chainages must meet, as the domain allows it: a section's ends and
/// its levee's, metres.
const MEET_TOLERANCE_M: f64 = 1.0;
const POINT_KINDS: [&str; 2] = ["regular", "structure"];

/// `K12+300`, or the bare number when it is no chainage (negative).
fn k(m: f64) -> String {
    Chainage::from_metres(m).map_or_else(|| format!("{m} m"), |c| c.to_string())
}

/// A checked section: what the overlap check needs.
struct Section<'a> {
    feature: &'a Feature,
    from: f64,
    to: f64,
}

pub(super) fn check(
    loader: &Loader,
    sections: &[Feature],
    levees: &HashMap<String, Levee>,
) -> Result<(), MapError> {
    let rules = PatrolRules::default();
    // By levee id, so that of several broken levees the same one is reported every time.
    let mut by_levee: BTreeMap<&str, Vec<Section>> = BTreeMap::new();
    for f in sections {
        let err = |m: String| loader.ferr(LAYER, f, m);
        let levee_id = f
            .props
            .get("levee_id")
            .and_then(Value::as_str)
            .ok_or_else(|| err("field `properties.levee_id`: missing or not a string".into()))?;
        let levee = levees.get(levee_id).ok_or_else(|| {
            err(format!(
                "field `properties.levee_id`: unknown levee {levee_id:?} (not in levees.geojson)"
            ))
        })?;
        let number = |key: &str| {
            f.props
                .get(key)
                .and_then(Value::as_f64)
                .ok_or_else(|| err(format!("field `properties.{key}`: missing or not a number")))
        };
        let (from, to) = (number("from")?, number("to")?);
        let (start, end) = (levee.start_chainage_m(), levee.end_chainage_m());
        for (key, m) in [("from", from), ("to", to)] {
            if !(start - MEET_TOLERANCE_M..=end + MEET_TOLERANCE_M).contains(&m) {
                return Err(err(format!(
                    "field `properties.{key}`: {m} m is outside levee {levee_id} ({}–{})",
                    k(start),
                    k(end)
                )));
            }
        }
        if from >= to {
            return Err(err(format!(
                "field `properties.to`: {to} m is not beyond `from` ({from} m)"
            )));
        }
        if to - from > rules.max_section_m {
            return Err(err(format!(
                "field `properties.to`: the section is {:.1} m long ({}–{}); a section is at most {} m",
                to - from,
                k(from),
                k(to),
                rules.max_section_m
            )));
        }
        check_line(f, levee, from, to).map_err(err)?;
        check_points(f, from, to, &rules).map_err(err)?;
        by_levee.entry(levee_id).or_default().push(Section {
            feature: f,
            from,
            to,
        });
    }
    for (levee_id, mut list) in by_levee {
        check_coverage(loader, &levees[levee_id], &mut list, &rules)?;
    }
    Ok(())
}

/// The drawn line starts and ends at the levee's points at `from` and `to`.
fn check_line(f: &Feature, levee: &Levee, from: f64, to: f64) -> Result<(), String> {
    let line = f
        .shape
        .line()
        .expect("patrol sections are lines (checked when parsed)");
    let ends = [
        ("first", line[0], from, "from"),
        ("last", line[line.len() - 1], to, "to"),
    ];
    for (which, p, m, key) in ends {
        let on_levee = levee
            .point_at(m.clamp(levee.start_chainage_m(), levee.end_chainage_m()))
            .expect("clamped to the levee");
        let d = p.distance_m(on_levee);
        if d > LINE_END_TOLERANCE_M {
            return Err(format!(
                "field `geometry.coordinates`: the {which} position {p} is {d:.0} m from the levee at `{key}` ({}, {on_levee}); at most {LINE_END_TOLERANCE_M} m",
                k(m)
            ));
        }
    }
    Ok(())
}

/// Patrol points: at least two, ids unique in the section, a known kind, strictly in order of
/// chainage within the section, at most 300 m apart and from the section's ends.
fn check_points(f: &Feature, from: f64, to: f64, rules: &PatrolRules) -> Result<(), String> {
    let spacing = rules.max_point_spacing_m;
    let points = f
        .props
        .get("points")
        .and_then(Value::as_array)
        .filter(|p| p.len() >= 2)
        .ok_or("field `properties.points`: missing, not an array, or fewer than 2 points")?;
    let mut ids = HashSet::new();
    let mut previous: Option<f64> = None;
    for (i, p) in points.iter().enumerate() {
        let field = |key: &str| format!("field `properties.points[{i}].{key}`");
        let id = p
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{}: missing or not a string", field("id")))?;
        if !ids.insert(id) {
            return Err(format!("{}: duplicate point id {id}", field("id")));
        }
        let kind = p.get("kind").and_then(Value::as_str).unwrap_or_default();
        if !POINT_KINDS.contains(&kind) {
            return Err(format!(
                "{}: {}; expected one of {POINT_KINDS:?}",
                field("kind"),
                p.get("kind").unwrap_or(&Value::Null)
            ));
        }
        let c = p
            .get("chainage")
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("{}: missing or not a number", field("chainage")))?;
        if !(from..=to).contains(&c) {
            return Err(format!(
                "{}: {c} m is outside the section ({from}–{to} m)",
                field("chainage")
            ));
        }
        match previous {
            None if c - from > spacing => {
                return Err(format!(
                    "{}: {c} m is {:.1} m after the section's start ({from} m); patrol points are at most {spacing} m apart and from the section's ends",
                    field("chainage"),
                    c - from
                ));
            }
            Some(prev) if c <= prev => {
                return Err(format!(
                    "{}: {c} m is not after the previous point ({prev} m); points go in order of chainage",
                    field("chainage")
                ));
            }
            Some(prev) if c - prev > spacing => {
                return Err(format!(
                    "{}: {c} m is {:.1} m after the previous point ({prev} m); patrol points are at most {spacing} m apart",
                    field("chainage"),
                    c - prev
                ));
            }
            _ => {}
        }
        previous = Some(c);
    }
    let last = previous.expect("at least two points");
    if to - last > spacing {
        return Err(format!(
            "field `properties.points[{}].chainage`: {last} m is {:.1} m before the section's end ({to} m); patrol points are at most {spacing} m apart and from the section's ends",
            points.len() - 1,
            to - last
        ));
    }
    Ok(())
}

/// A levee's sections, in order along it, cover it from end to end, each overlapping the
/// stretch before it by at least 10 m.
fn check_coverage(
    loader: &Loader,
    levee: &Levee,
    list: &mut [Section],
    rules: &PatrolRules,
) -> Result<(), MapError> {
    let min_overlap = rules.min_overlap_m;
    list.sort_by(|a, b| a.from.total_cmp(&b.from).then(a.to.total_cmp(&b.to)));
    let first = &list[0];
    if first.from - levee.start_chainage_m() > MEET_TOLERANCE_M {
        return Err(loader.ferr(
            LAYER,
            first.feature,
            format!(
                "field `properties.from`: the first section of levee {} starts at {}, but the levee at {}: {}–{} is in no section",
                levee.id(),
                k(first.from),
                k(levee.start_chainage_m()),
                k(levee.start_chainage_m()),
                k(first.from)
            ),
        ));
    }
    // The section that reaches furthest so far; the next one must start 10 m before its end.
    let mut reach = first;
    for s in &list[1..] {
        let overlap = reach.to - s.from;
        if overlap < min_overlap {
            let what = if overlap < 0.0 {
                format!("a gap of {:.1} m", -overlap)
            } else {
                format!("an overlap of only {overlap:.1} m")
            };
            return Err(loader.ferr(
                LAYER,
                s.feature,
                format!(
                    "field `properties.from`: {} ({} m) leaves {what} after section {} of levee {} (ending at {} m); adjacent sections overlap by at least {min_overlap} m",
                    k(s.from),
                    s.from,
                    reach.feature.id,
                    levee.id(),
                    reach.to
                ),
            ));
        }
        if s.to > reach.to {
            reach = s;
        }
    }
    if levee.end_chainage_m() - reach.to > MEET_TOLERANCE_M {
        return Err(loader.ferr(
            LAYER,
            reach.feature,
            format!(
                "field `properties.to`: the sections of levee {} end at {}, but the levee at {}: {}–{} is in no section",
                levee.id(),
                k(reach.to),
                k(levee.end_chainage_m()),
                k(reach.to),
                k(levee.end_chainage_m())
            ),
        ));
    }
    Ok(())
}
