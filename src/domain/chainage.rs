//! Chainage (桩号): distance along a levee, written `K12+300` for 12,300 m.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A distance along a levee in metres, never negative.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Chainage(f64);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("chainage {0:?} is not of the form K12+300 or 12+300")]
pub struct ChainageParseError(pub String);

impl Chainage {
    pub fn from_metres(m: f64) -> Option<Self> {
        (m.is_finite() && m >= 0.0).then_some(Self(m))
    }

    pub fn metres(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Chainage {
    /// Whole metres: `K12+300`; the kilometre part has no padding, the metre part three digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.round() as u64;
        write!(f, "K{}+{:03}", total / 1000, total % 1000)
    }
}

impl FromStr for Chainage {
    type Err = ChainageParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ChainageParseError(s.to_string());
        let t = s.trim();
        let t = t.strip_prefix(['K', 'k']).unwrap_or(t);
        let (km, m) = t.split_once('+').ok_or_else(bad)?;
        if km.is_empty() || !km.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        // The metre part is at least "0" and below 1000; decimals are allowed (K0+012.5).
        let int_part = m.split('.').next().unwrap_or("");
        if int_part.is_empty()
            || int_part.len() > 3
            || !int_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let km: u64 = km.parse().map_err(|_| bad())?;
        let m: f64 = m.parse().map_err(|_| bad())?;
        if !(0.0..1000.0).contains(&m) {
            return Err(bad());
        }
        Chainage::from_metres(km as f64 * 1000.0 + m).ok_or_else(bad)
    }
}

impl Serialize for Chainage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Chainage {
    /// Accepts metres as a number or the text form.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Metres(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Metres(m) => Chainage::from_metres(m).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{}: chainage {m} is negative",
                    crate::domain::values::OUT_OF_BOUNDS
                ))
            }),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_and_parses() {
        let c: Chainage = "K12+300".parse().unwrap();
        assert_eq!(c.metres(), 12_300.0);
        assert_eq!(c.to_string(), "K12+300");
        assert_eq!("12+300".parse::<Chainage>().unwrap(), c);
        assert_eq!("k0+005".parse::<Chainage>().unwrap().to_string(), "K0+005");
        assert_eq!("K3+012.5".parse::<Chainage>().unwrap().metres(), 3_012.5);
        assert_eq!(Chainage::from_metres(999.6).unwrap().to_string(), "K1+000");
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "", "K", "K12", "K12+", "K+300", "K12+1000", "K-1+000", "K1+2a", "12300",
        ] {
            assert!(s.parse::<Chainage>().is_err(), "{s}");
        }
        assert!(Chainage::from_metres(-1.0).is_none());
        assert!(Chainage::from_metres(f64::NAN).is_none());
    }

    #[test]
    fn text_round_trip_whole_metres() {
        for m in [0u64, 1, 999, 1000, 12_300, 123_456] {
            let c = Chainage::from_metres(m as f64).unwrap();
            assert_eq!(c.to_string().parse::<Chainage>().unwrap(), c);
        }
    }
}
