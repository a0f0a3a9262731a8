//! Values a client sends, parsed when a command is deserialized: free text, counts, quantities,
//! levels and the like. Each type holds only values within its documented bound (see
//! [`super::bounds`] and `docs/protocol.md`, "Bounds"), so the decider never sees an unchecked
//! value. On the wire they are plain JSON strings and numbers.
//!
//! The error rule, the same for every type here: a value of the right JSON type outside its bound
//! (a negative count, a count above the maximum, a stock of 1e308, a 3,000-byte name) is refused
//! with a message that starts with [`OUT_OF_BOUNDS`], which the protocol layer answers with
//! `invalid_value`. A value of the wrong JSON type (a string where a count is expected, a fraction
//! where a whole number is expected) is serde's ordinary type error: `invalid_field`.
//!
//! Limits that depend on the state (a shelter's occupancy after a check-in, a stock after a
//! delivery, a device time against the server's clock) are checked by the decider with
//! [`super::bounds`].

use super::bounds::{
    DAILY_RATION, LEVEL_M, MAX_ACCURACY_M, MAX_BUFFER_M, MAX_CHAINAGE_M, MAX_COUNT,
    MAX_INTERVAL_MIN, MAX_ITEM, MAX_MATERIAL, MAX_QUANTITY, MAX_QUERY_LIMIT, MAX_SNAP_TOLERANCE_M,
    MAX_TEXT, MIN_TIME_MS,
};
use super::geo::LonLat;
use super::model::TimeMs;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Deref, RangeInclusive};

/// Marker that starts the message of every refusal in this module. The protocol layer answers a
/// deserialization error whose message starts with it with `invalid_value`.
pub const OUT_OF_BOUNDS: &str = "value out of bounds";

/// Why a value was refused; its message starts with [`OUT_OF_BOUNDS`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{OUT_OF_BOUNDS}: {0}")]
pub struct OutOfBounds(String);

impl OutOfBounds {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

// ---------------------------------------------------------------- text

/// Free text (a name, a description, a reason, a note, a unit, a town …): at most
/// [`MAX_TEXT`] bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    pub fn new(s: impl Into<String>) -> Result<Self, OutOfBounds> {
        let s = s.into();
        if s.len() > MAX_TEXT {
            return Err(OutOfBounds::new(format!(
                "text of {} bytes is longer than {MAX_TEXT} bytes",
                s.len()
            )));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The name of a supply item (`water`, `instant_noodles`, …): 1 to [`MAX_ITEM`] bytes. The
/// Chinese name of a standard item is the same item (`蚊香` is `mosquito_coils`; see
/// [`super::vocabulary::SUPPLY_ITEMS`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Item(String);

impl Item {
    pub fn new(s: impl Into<String>) -> Result<Self, OutOfBounds> {
        let s = s.into();
        if s.is_empty() || s.len() > MAX_ITEM {
            return Err(OutOfBounds::new(format!(
                "a supply item name must be 1 to {MAX_ITEM} bytes, not {}",
                s.len()
            )));
        }
        let standard = super::vocabulary::SUPPLY_ITEMS
            .iter()
            .find(|t| t.zh == s)
            .map(|t| t.value.to_string());
        Ok(Self(standard.unwrap_or(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! text_like {
    ($($name:ident),*) => {$(
        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(t: $name) -> String {
                t.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = OutOfBounds;
            fn try_from(s: &str) -> Result<Self, OutOfBounds> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(de::Error::custom)
            }
        }
    )*};
}

text_like!(Text, Item);

// ---------------------------------------------------------------- whole numbers

/// Reads a JSON number that must be a whole number: integers as they are, and floats only when
/// they have no fractional part (`5.0`, `1e3`, or an integer too large for 64 bits). A fraction
/// or a non-number is a type error.
#[derive(Clone, Copy)]
enum Whole {
    Neg(i64),
    Pos(u64),
    /// A whole float outside the 64-bit range: beyond every bound.
    Huge(f64),
}

struct WholeVisitor(&'static str);

impl Visitor<'_> for WholeVisitor {
    type Value = Whole;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Whole, E> {
        Ok(u64::try_from(v).map_or(Whole::Neg(v), Whole::Pos))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Whole, E> {
        Ok(Whole::Pos(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Whole, E> {
        if !v.is_finite() || v.fract() != 0.0 {
            return Err(E::invalid_type(Unexpected::Float(v), &self));
        }
        // Exact for every whole float inside the u64/i64 ranges; beyond them it is out of bounds.
        const U64_END: f64 = 18_446_744_073_709_551_616.0; // 2^64
        const I64_MIN: f64 = -9_223_372_036_854_775_808.0; // -2^63
        Ok(if (0.0..U64_END).contains(&v) {
            Whole::Pos(v as u64)
        } else if (I64_MIN..0.0).contains(&v) {
            Whole::Neg(v as i64)
        } else {
            Whole::Huge(v)
        })
    }
}

impl fmt::Display for Whole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Whole::Neg(v) => write!(f, "{v}"),
            Whole::Pos(v) => write!(f, "{v}"),
            Whole::Huge(v) => write!(f, "{v}"),
        }
    }
}

fn whole<'de, D: Deserializer<'de>>(d: D, expecting: &'static str) -> Result<Whole, D::Error> {
    d.deserialize_any(WholeVisitor(expecting))
}

/// A number of people (a head count, a capacity, a population, households, a check-in): a whole
/// number from 0 to [`MAX_COUNT`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Count(u32);

/// A number of people that must be at least one (a team's head count, a check-in or check-out,
/// evacuation progress): a whole number from 1 to [`MAX_COUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PositiveCount(u32);

/// A protected asset's priority: 1 (highest) to 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Priority(u32);

/// A patrol interval, minutes: 1 to [`MAX_INTERVAL_MIN`] (a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Minutes(u32);

/// How many results a nearest query asks for: 1 to [`MAX_QUERY_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct QueryLimit(u32);

impl Default for QueryLimit {
    fn default() -> Self {
        QueryLimit(5)
    }
}

impl QueryLimit {
    pub fn as_usize(self) -> usize {
        self.0 as usize
    }
}

macro_rules! count_type {
    ($name:ident, $min:expr, $what:literal) => {
        count_type!($name, $min, MAX_COUNT, $what);
    };
    ($name:ident, $min:expr, $max:expr, $what:literal) => {
        impl $name {
            pub const MIN: u32 = $min;
            pub const MAX: u32 = $max;

            pub fn new(n: u32) -> Result<Self, OutOfBounds> {
                Self::from_whole(Whole::Pos(u64::from(n)))
            }

            pub fn is_zero(&self) -> bool {
                self.0 == 0
            }

            pub fn get(self) -> u32 {
                self.0
            }

            fn from_whole(w: Whole) -> Result<Self, OutOfBounds> {
                match w {
                    Whole::Pos(v) if (u64::from(Self::MIN)..=u64::from(Self::MAX)).contains(&v) => {
                        Ok(Self(v as u32))
                    }
                    _ => Err(OutOfBounds::new(format!(
                        "{} {w} is outside {} to {}",
                        $what,
                        Self::MIN,
                        Self::MAX
                    ))),
                }
            }
        }

        impl From<$name> for u32 {
            fn from(c: $name) -> u32 {
                c.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let w = whole(d, concat!($what, ", a whole number"))?;
                Self::from_whole(w).map_err(de::Error::custom)
            }
        }
    };
}

count_type!(Count, 0, "a count");
count_type!(PositiveCount, 1, "a count");
count_type!(QueryLimit, 1, MAX_QUERY_LIMIT, "a limit");
count_type!(Minutes, 1, MAX_INTERVAL_MIN, "an interval in minutes");
count_type!(Priority, 1, 3, "a priority");

/// Flood materials in stock, or a low-stock level: whole units of the item (pieces, m², m³ …)
/// from 0 to [`MAX_MATERIAL`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MaterialStock(u32);

/// Flood materials that move (issued, delivered, consumed, returned, requested, restocked):
/// whole units of the item from 1 to [`MAX_MATERIAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MaterialQuantity(u32);

count_type!(MaterialStock, 0, MAX_MATERIAL, "a stock of material");
count_type!(MaterialQuantity, 1, MAX_MATERIAL, "a quantity of material");

/// A sequence number of the log (a subscription's `resume_from`): a whole number from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Seq(u64);

impl Seq {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Seq {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match whole(d, "a sequence number, a whole number")? {
            Whole::Pos(v) => Ok(Self(v)),
            w => Err(de::Error::custom(OutOfBounds::new(format!(
                "sequence number {w} is outside 0 to {}",
                u64::MAX
            )))),
        }
    }
}

/// A device's clock reading, milliseconds since the Unix epoch: a whole number, not before the
/// epoch. How far ahead of the server's clock it may be depends on the server's clock, so the
/// decider checks that ([`super::bounds::check_device_time`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeviceTime(TimeMs);

impl DeviceTime {
    pub fn new(t: TimeMs) -> Result<Self, OutOfBounds> {
        if t < MIN_TIME_MS {
            return Err(OutOfBounds::new(format!(
                "time {t} is before the Unix epoch"
            )));
        }
        Ok(Self(t))
    }

    pub fn get(self) -> TimeMs {
        self.0
    }
}

impl<'de> Deserialize<'de> for DeviceTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match whole(
            d,
            "a time in milliseconds since the Unix epoch, a whole number",
        )? {
            Whole::Pos(v) => match i64::try_from(v) {
                Ok(t) => Ok(Self(t)),
                Err(_) => Err(de::Error::custom(OutOfBounds::new(format!(
                    "time {v} is too large"
                )))),
            },
            Whole::Neg(v) => Self::new(v).map_err(de::Error::custom),
            Whole::Huge(v) => Err(de::Error::custom(OutOfBounds::new(format!(
                "time {v} is outside the range of times"
            )))),
        }
    }
}

// ---------------------------------------------------------------- real numbers

macro_rules! bounded_f64 {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name(f64);

        impl $name {
            pub fn new(v: f64) -> Result<Self, OutOfBounds> {
                let check: fn(f64) -> Result<(), String> = $check;
                check(v).map_err(|bound| OutOfBounds::new(format!("{} {v} {bound}", $what)))?;
                Ok(Self(v))
            }

            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl From<$name> for f64 {
            fn from(v: $name) -> f64 {
                v.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::new(f64::deserialize(d)?).map_err(de::Error::custom)
            }
        }
    };
}

fn within(range: RangeInclusive<f64>) -> impl Fn(f64) -> Result<(), String> {
    move |v| {
        if v.is_finite() && range.contains(&v) {
            Ok(())
        } else {
            Err(format!("is outside {} to {}", range.start(), range.end()))
        }
    }
}

bounded_f64!(
    /// A supply stock or a delivered or issued quantity: 0 to [`MAX_QUANTITY`].
    Quantity, "a quantity", |v| within(0.0..=MAX_QUANTITY)(v)
);

bounded_f64!(
    /// A daily ration per sheltered person: 0 (not consumed) or within [`DAILY_RATION`], so days of
    /// supply left stay finite.
    Ration, "a daily ration", |v| {
        if v == 0.0 {
            return Ok(());
        }
        within(DAILY_RATION)(v).map_err(|_| {
            format!("is neither 0 nor from {} to {}", DAILY_RATION.start(), DAILY_RATION.end())
        })
    }
);

bounded_f64!(
    /// Accuracy of a position fix, metres: 0 to [`MAX_ACCURACY_M`].
    Accuracy, "an accuracy", |v| within(0.0..=MAX_ACCURACY_M)(v)
);

bounded_f64!(
    /// A water level, threshold or elevation, metres above the gauge's datum: within [`LEVEL_M`].
    Level, "a level", |v| within(LEVEL_M)(v)
);

bounded_f64!(
    /// The chainage of a levee's first vertex, metres: 0 to [`MAX_CHAINAGE_M`].
    ChainageOrigin, "a chainage origin", |v| within(0.0..=MAX_CHAINAGE_M)(v)
);

bounded_f64!(
    /// How far from a levee a `snap_to_levee` query looks, metres: 0 to [`MAX_SNAP_TOLERANCE_M`].
    SnapTolerance, "a tolerance", |v| within(0.0..=MAX_SNAP_TOLERANCE_M)(v)
);

impl SnapTolerance {
    /// The tolerance when a query does not name one: 200 m.
    pub fn standard() -> Self {
        SnapTolerance(200.0)
    }
}

bounded_f64!(
    /// A protected asset's buffer, metres: 0 to [`MAX_BUFFER_M`].
    BufferM, "a buffer", |v| within(0.0..=MAX_BUFFER_M)(v)
);

bounded_f64!(
    /// A distance in a watch rule, metres: 0 to 10,000.
    RuleMetres, "a distance", |v| within(0.0..=10_000.0)(v)
);

bounded_f64!(
    /// A percentage: 1 to 100.
    Percent, "a percentage", |v| within(1.0..=100.0)(v)
);

bounded_f64!(
    /// A number of days in a watch rule: 0 to 30.
    RuleDays, "a number of days", |v| within(0.0..=30.0)(v)
);

bounded_f64!(
    /// A walking pace, metres per second: 0.1 to 20.
    Pace, "a pace", |v| within(0.1..=20.0)(v)
);

// ---------------------------------------------------------------- rings

/// A polygon ring: at least four positions, the first equal to the last.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Ring(Vec<LonLat>);

impl Ring {
    pub fn new(points: Vec<LonLat>) -> Result<Self, OutOfBounds> {
        if points.len() < 4 || points.first() != points.last() {
            return Err(OutOfBounds::new(format!(
                "a ring must be closed (first position equal to the last) and have at least 4 positions, not {}",
                points.len()
            )));
        }
        Ok(Self(points))
    }

    pub fn points(&self) -> &[LonLat] {
        &self.0
    }
}

impl From<Ring> for Vec<LonLat> {
    fn from(r: Ring) -> Self {
        r.0
    }
}

impl<'de> Deserialize<'de> for Ring {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(Vec::<LonLat>::deserialize(d)?).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use std::fmt::Debug;

    /// How the protocol layer would answer: `invalid_value` for a bound, `invalid_field` for a type.
    fn refusal<T: DeserializeOwned + Debug>(json: &str) -> &'static str {
        let e = serde_json::from_str::<T>(json).expect_err(json).to_string();
        if e.starts_with(OUT_OF_BOUNDS) {
            "invalid_value"
        } else {
            "invalid_field"
        }
    }

    fn parses<T: DeserializeOwned + Serialize>(json: &str) -> String {
        let v: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn counts_are_whole_numbers_within_their_bound() {
        assert_eq!(parses::<Count>("0"), "0");
        assert_eq!(parses::<Count>("10000000"), "10000000");
        assert_eq!(
            parses::<Count>("5.0"),
            "5",
            "a whole float is a whole number"
        );
        assert_eq!(parses::<Count>("1e3"), "1000");
        for bad in [
            "-1",
            "-3",
            "10000001",
            "4294967295",
            "4294967296",
            "18446744073709551615",
            "99999999999999999999999",
            "-99999999999999999999999",
            "1e300",
            "-1.0",
        ] {
            assert_eq!(refusal::<Count>(bad), "invalid_value", "{bad}");
        }
        for bad in ["2.5", "0.1", "-0.5", "\"many\"", "null", "true", "[1]"] {
            assert_eq!(refusal::<Count>(bad), "invalid_field", "{bad}");
        }
        assert_eq!(parses::<PositiveCount>("1"), "1");
        assert_eq!(refusal::<PositiveCount>("0"), "invalid_value");
        assert_eq!(refusal::<PositiveCount>("-3"), "invalid_value");
        assert!(Count::new(MAX_COUNT).is_ok());
        assert!(Count::new(MAX_COUNT + 1).is_err());
        assert!(Count::new(u32::MAX).is_err());
        assert!(PositiveCount::new(0).is_err());
    }

    #[test]
    fn counts_parse_inside_an_internally_tagged_command() {
        // Commands are buffered by serde before the variant is known; the rule must hold there too.
        let e = serde_json::from_str::<super::super::Command>(
            r#"{"type":"check_in","shelter_id":"S-1","count":-3}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with(OUT_OF_BOUNDS), "{e}");
        let e = serde_json::from_str::<super::super::Command>(
            r#"{"type":"check_in","shelter_id":"S-1","count":2.5}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("invalid type"), "{e}");
    }

    #[test]
    fn quantities_levels_and_rations_have_ranges() {
        for bad in [
            f64::MAX,
            1.7e308,
            -1.0,
            f64::INFINITY,
            f64::NAN,
            MAX_QUANTITY * 2.0,
        ] {
            assert!(Quantity::new(bad).is_err(), "{bad}");
        }
        assert!(Quantity::new(0.0).is_ok());
        assert!(Quantity::new(f64::MIN_POSITIVE).is_ok());
        assert!(Ration::new(0.0).is_ok());
        assert!(Ration::new(5e-324).is_err(), "subnormal ration");
        assert!(Ration::new(3.0).is_ok());
        assert!(Level::new(41.2).is_ok());
        assert!(Level::new(-1e308).is_err());
        assert!(Level::new(f64::INFINITY).is_err());
        assert!(Accuracy::new(1e6).is_err());
        assert!(Accuracy::new(f64::MAX).is_err());
        assert!(ChainageOrigin::new(12_300.0).is_ok());
        assert!(ChainageOrigin::new(1e300).is_err());
        assert_eq!(refusal::<Quantity>("1.7e308"), "invalid_value");
        assert_eq!(refusal::<Quantity>("-2"), "invalid_value");
        assert_eq!(refusal::<Quantity>("\"2\""), "invalid_field");
        assert_eq!(parses::<Quantity>("2"), "2.0");
        assert_eq!(parses::<Level>("-0.5"), "-0.5");
    }

    #[test]
    fn text_has_a_length_limit_in_bytes() {
        let at_limit = format!("\"{}\"", "x".repeat(MAX_TEXT));
        assert_eq!(parses::<Text>(&at_limit), at_limit);
        // 667 three-byte characters are 2,001 bytes.
        assert_eq!(
            refusal::<Text>(&format!("\"{}\"", "水".repeat(667))),
            "invalid_value"
        );
        assert_eq!(refusal::<Text>("7"), "invalid_field");
        assert_eq!(refusal::<Item>("\"\""), "invalid_value");
        assert_eq!(
            refusal::<Item>(&format!("\"{}\"", "x".repeat(MAX_ITEM + 1))),
            "invalid_value"
        );
        assert_eq!(parses::<Item>("\"water\""), "\"water\"");
    }

    #[test]
    fn device_times_are_whole_and_not_before_the_epoch() {
        assert_eq!(parses::<DeviceTime>("0"), "0");
        assert_eq!(
            parses::<DeviceTime>("9223372036854775807"),
            "9223372036854775807"
        );
        for bad in ["-1", "9223372036854775808", "1e30", "-1e30"] {
            assert_eq!(refusal::<DeviceTime>(bad), "invalid_value", "{bad}");
        }
        for bad in ["1.5", "\"now\""] {
            assert_eq!(refusal::<DeviceTime>(bad), "invalid_field", "{bad}");
        }
    }

    #[test]
    fn rings_are_closed() {
        assert!(parses::<Ring>("[[113,27],[113.1,27],[113.1,27.1],[113,27]]").starts_with('['));
        assert_eq!(
            refusal::<Ring>("[[113,27],[113.1,27],[113.1,27.1],[113,27.1]]"),
            "invalid_value"
        );
        assert_eq!(
            refusal::<Ring>("[[113,27],[113.1,27],[113,27]]"),
            "invalid_value"
        );
    }
}
