//! The expected outcomes of a scenario checked against the end of its run: figures of the
//! sitrep, fields of entities, alerts raised over the run.

use crate::domain::State;
use crate::domain::alerts::Alert;
use crate::scenario::{Check, Expectation, Subject};
use serde_json::Value;
use std::collections::HashMap;

/// One expected outcome and what the run gave.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    pub name: String,
    pub line: usize,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
}

/// Checks every expectation. `raised`: every alert raised over the run (the state keeps only
/// the open ones and the newest resolved); `refs`: the ids the scenario's refs were bound to.
pub fn evaluate(
    expectations: &[Expectation],
    state: &State,
    raised: &[Alert],
    refs: &HashMap<String, String>,
) -> Vec<Verdict> {
    let sitrep = crate::read::sitrep(state);
    expectations
        .iter()
        .map(|e| {
            let (passed, actual) = match &e.subject {
                Subject::Sitrep { path } => one(&e.check, lookup(&sitrep, path)),
                Subject::Entity { layer, id, path } => {
                    let id = match id.strip_prefix('$') {
                        Some(name) => refs.get(name).cloned().unwrap_or_default(),
                        None => id.clone(),
                    };
                    let view = crate::read::entity_view(state, *layer, &id);
                    match view {
                        Some(v) => one(&e.check, lookup(&v, path)),
                        None => (false, format!("{} {id} does not exist", layer.name())),
                    }
                }
                Subject::Every { layer, path } => {
                    let ids = crate::read::layer_ids(state, *layer);
                    let failing: Vec<String> = ids
                        .iter()
                        .filter_map(|id| {
                            let v = crate::read::entity_view(state, *layer, id)?;
                            let (ok, got) = one(&e.check, lookup(&v, path));
                            (!ok).then(|| format!("{id}: {got}"))
                        })
                        .collect();
                    if failing.is_empty() {
                        (true, format!("all {} pass", ids.len()))
                    } else {
                        let shown: Vec<&str> = failing.iter().take(5).map(String::as_str).collect();
                        let more = failing.len().saturating_sub(5);
                        let more = if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        };
                        (
                            false,
                            format!(
                                "{} of {} fail: {}{more}",
                                failing.len(),
                                ids.len(),
                                shown.join("; ")
                            ),
                        )
                    }
                }
                Subject::AlertsRaised { kind, subject } => {
                    let n = raised
                        .iter()
                        .filter(|a| {
                            <&str>::from(a.kind) == kind.as_str()
                                && subject.as_ref().is_none_or(|s| {
                                    &a.subject_id == s
                                        || a.asset
                                            .as_ref()
                                            .is_some_and(|x| x.asset_id.as_str() == s)
                                })
                        })
                        .count();
                    one(&e.check, Some(&Value::from(n)))
                }
            };
            Verdict {
                name: e.name.clone(),
                line: e.line,
                passed,
                expected: describe(&e.check),
                actual,
            }
        })
        .collect()
}

/// The value at a dotted path (`evacuation.evacuated`, `orders.0.remaining`); the whole value
/// for an empty path.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(value);
    }
    path.split('.').try_fold(value, |v, key| match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => a.get(key.parse::<usize>().ok()?),
        _ => None,
    })
}

fn one(check: &Check, value: Option<&Value>) -> (bool, String) {
    let Some(value) = value else {
        return (false, "missing".into());
    };
    let shown = value.to_string();
    let number = value.as_f64();
    let passed = match check {
        Check::Equals {
            value: want,
            tolerance,
        } => match (want.as_f64(), number) {
            (Some(w), Some(n)) => (n - w).abs() <= *tolerance,
            _ => want == value,
        },
        Check::AtLeast(lo) => number.is_some_and(|n| n >= *lo),
        Check::AtMost(hi) => number.is_some_and(|n| n <= *hi),
        Check::Between(lo, hi) => number.is_some_and(|n| (*lo..=*hi).contains(&n)),
        Check::OneOf(list) => list.contains(value),
    };
    (passed, shown)
}

fn describe(check: &Check) -> String {
    match check {
        Check::Equals { value, tolerance } if *tolerance > 0.0 => format!("{value} ± {tolerance}"),
        Check::Equals { value, .. } => value.to_string(),
        Check::AtLeast(lo) => format!("≥ {lo}"),
        Check::AtMost(hi) => format!("≤ {hi}"),
        Check::Between(lo, hi) => format!("{lo} to {hi}"),
        Check::OneOf(list) => {
            let items: Vec<String> = list.iter().map(Value::to_string).collect();
            format!("one of {}", items.join(", "))
        }
    }
}

/// Every alert raised in the log of `store` (for [`evaluate`]).
pub async fn alerts_raised(
    store: &dyn crate::store::Store,
) -> Result<Vec<Alert>, crate::store::StoreError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_after(after, 10_000).await?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = last.seq;
        for e in &page {
            if !e.body.contains("\"alert_raised\"") {
                continue;
            }
            if let crate::domain::events::Event::AlertRaised { alert } =
                crate::codec::decode_event(e)?.event
            {
                out.push(alert);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_compare_numbers_with_tolerance_and_values_exactly() {
        let v = json!({"a": {"b": [1, {"c": 7026}]}, "s": "eliminated"});
        assert_eq!(lookup(&v, "a.b.1.c"), Some(&json!(7026)));
        assert_eq!(lookup(&v, "a.x"), None);
        let eq = |value, tolerance| Check::Equals { value, tolerance };
        assert!(one(&eq(json!(7026), 0.0), lookup(&v, "a.b.1.c")).0);
        assert!(!one(&eq(json!(7000), 0.0), lookup(&v, "a.b.1.c")).0);
        assert!(one(&eq(json!(7000), 30.0), lookup(&v, "a.b.1.c")).0);
        assert!(one(&Check::AtLeast(900.0), Some(&json!(950))).0);
        assert!(!one(&Check::AtMost(900.0), Some(&json!(950))).0);
        assert!(
            one(
                &Check::OneOf(vec![json!("eliminated"), json!("false_alarm")]),
                lookup(&v, "s")
            )
            .0
        );
        assert_eq!(one(&Check::AtLeast(1.0), None), (false, "missing".into()));
    }
}
