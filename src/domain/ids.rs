//! Identifiers. Each kind of entity has its own id type so that a team id can never be passed where
//! a shelter id is expected.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Checks an id: 1..=64 bytes, no whitespace or control characters.
pub fn validate_id(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!(
            "{}: id must not be empty",
            crate::domain::values::OUT_OF_BOUNDS
        ));
    }
    if s.len() > MAX_ID_LEN {
        return Err(format!(
            "{}: id is longer than {MAX_ID_LEN} bytes",
            crate::domain::values::OUT_OF_BOUNDS
        ));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("id must not contain whitespace or control characters".into());
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            /// For ids made by Crest itself and for tests; wire input goes through `Deserialize`.
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                validate_id(&s).map_err(serde::de::Error::custom)?;
                Ok(Self(s))
            }
        }
    };
}

id_type!(/// A levee (堤防) or levee segment.
    LeveeId);
id_type!(/// A hazard (险情), assigned by Crest: `HZ-1`, `HZ-2`, …
    HazardId);
id_type!(/// A rescue or patrol team (队伍).
    TeamId);
id_type!(/// An assignment, assigned by Crest: `AS-1`, …
    AssignmentId);
id_type!(/// An evacuation shelter (安置点).
    ShelterId);
id_type!(/// A water-level gauge (水位站).
    GaugeId);
id_type!(/// An evacuation order, assigned by Crest: `EV-1`, …
    EvacuationId);
id_type!(/// A management grid cell (网格).
    GridCellId);
id_type!(/// A jurisdiction that holds a response level (the district, a town).
    JurisdictionId);
id_type!(/// A patrol section (巡查责任段) of a levee.
    PatrolSectionId);
id_type!(/// A fixed patrol point of a section.
    PatrolPointId);
id_type!(/// An alert, assigned by Crest: `AL-1`, …
    AlertId);
id_type!(/// A protected asset (the railway, a substation, a school …).
    AssetId);
id_type!(/// A grid worker (网格员), e.g. `GW-017`.
    GridWorkerId);
id_type!(/// A record of people dead, missing, injured or trapped, assigned by Crest: `CA-1`, …
    CasualtyId);
id_type!(/// A flood-materials depot (防汛物资仓库).
    DepotId);
id_type!(/// A shipment of flood materials from a depot, assigned by Crest: `MS-1`, …
    ShipmentId);
id_type!(/// A request for flood materials from the field, assigned by Crest: `MR-1`, …
    MaterialRequestId);
id_type!(/// An incident (a breach or large hazard with its front command post), assigned by Crest:
    /// `IN-1`, …
    IncidentId);
id_type!(/// The area a breach of one levee would flood (溃口淹没区), e.g. `FZ-XJ-E-NZ`.
    FloodZoneId);
id_type!(/// A correction of reference data (its audit record), assigned by Crest: `CR-1`, …
    CorrectionId);
id_type!(/// An entry of the duty log, assigned by Crest: `NT-1`, …
    NoteId);
id_type!(/// A cue for a drill's trainees, named by the scenario: `CUE-7`, `evacuate-nanzhou` …
    CueId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_on_the_wire() {
        assert!(serde_json::from_str::<TeamId>("\"T-07\"").is_ok());
        assert!(serde_json::from_str::<TeamId>("\"\"").is_err());
        assert!(serde_json::from_str::<TeamId>("\"a b\"").is_err());
        let long = format!("\"{}\"", "x".repeat(65));
        assert!(serde_json::from_str::<TeamId>(&long).is_err());
        assert!(serde_json::from_str::<TeamId>("7").is_err());
    }
}
