//! Checks of the flood-materials depots (防汛物资仓库): each names its town, which exists, and
//! stands inside it and inside the district. Their stock and low-stock levels (whole units of
//! known items, each item once) are checked when the feature becomes its `define_depot` command.

use super::{Feature, Loader, MapError, zone_of};
use std::collections::HashMap;

const LAYER: &str = "depots";

pub(super) fn check(
    loader: &Loader,
    features: &HashMap<&'static str, Vec<Feature>>,
) -> Result<(), MapError> {
    let towns: HashMap<&str, &Feature> = features
        .get("towns")
        .into_iter()
        .flatten()
        .map(|f| (f.id.as_str(), f))
        .collect();
    let district = features.get("district").and_then(|d| d.first());
    for f in features.get(LAYER).into_iter().flatten() {
        let err = |m: String| loader.ferr(LAYER, f, m);
        let p = f
            .shape
            .point()
            .expect("depots are points (checked when parsed)");
        let Some(town) = super::prop_str(f, "town") else {
            return Err(err("field `properties.town`: missing".into()));
        };
        let Some(t) = towns.get(town) else {
            return Err(err(format!("field `properties.town`: unknown town {town}")));
        };
        if !zone_of(t).contains(p) {
            return Err(err(format!(
                "field `geometry.coordinates`: {p} is not inside its town {town}"
            )));
        }
        if let Some(d) = district
            && !zone_of(d).contains(p)
        {
            return Err(err(format!(
                "field `geometry.coordinates`: {p} is outside the district"
            )));
        }
    }
    Ok(())
}
