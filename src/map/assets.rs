//! Checks of the protected assets (the railway, substations, water works, schools, hospitals):
//! a priority and a buffer within their bounds, and a chainage only where there is a line to
//! measure it on. The geometry types (Point or LineString) are checked when the layer is parsed.

use super::{Feature, Loader, MapError, Shape};
use serde_json::Value;

const LAYER: &str = "protected_assets";
/// The distance around an asset within which a hazard threatens it, metres.
const BUFFER_M: std::ops::RangeInclusive<f64> = 0.0..=5_000.0;
/// 1 is the highest priority.
const PRIORITY: std::ops::RangeInclusive<u64> = 1..=3;

pub(super) fn check(loader: &Loader, assets: &[Feature]) -> Result<(), MapError> {
    for f in assets {
        let err = |m: String| loader.ferr(LAYER, f, m);
        let buffer = f.props.get("buffer_m");
        if !buffer
            .and_then(Value::as_f64)
            .is_some_and(|b| BUFFER_M.contains(&b))
        {
            return Err(err(format!(
                "field `properties.buffer_m`: {}; expected {} to {} metres",
                buffer.unwrap_or(&Value::Null),
                BUFFER_M.start(),
                BUFFER_M.end()
            )));
        }
        let priority = f.props.get("priority");
        if !priority
            .and_then(Value::as_u64)
            .is_some_and(|p| PRIORITY.contains(&p))
        {
            return Err(err(format!(
                "field `properties.priority`: {}; expected an integer from {} (highest) to {}",
                priority.unwrap_or(&Value::Null),
                PRIORITY.start(),
                PRIORITY.end()
            )));
        }
        if f.props.contains_key("chainage_origin_m") && !matches!(f.shape, Shape::Line(_)) {
            return Err(err(
                "field `properties.chainage_origin_m`: only a LineString asset has a chainage; this one is a Point"
                    .into(),
            ));
        }
    }
    Ok(())
}
