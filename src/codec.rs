//! The codec: the one place where what the log stores is encoded and decoded — events and
//! snapshots. The engine (recovery, commits, snapshots) and the resume catch-up go through it;
//! nothing else reads or writes a stored body.
//!
//! # Format versions
//! Every stored event and snapshot carries the version of the format its body was written in
//! (the `format` column; rows from before the column existed are format 1). The codec writes
//! [`EVENT_FORMAT`] and [`SNAPSHOT_FORMAT`] and reads every version up to them: the current one
//! directly, an older one by passing its JSON through the upcasters from its version to the
//! current one, then decoding. A version this code does not know (a log written by a newer
//! Crest, or a damaged row) is [`StoreError::UnknownFormat`], naming the record and the version.
//!
//! # Adding a version
//! When the JSON of an event (or of the state) changes in a way older bodies do not decode into
//! (a field renamed or removed, a meaning changed — not a new optional field with a default,
//! which old bodies already decode into):
//! 1. bump [`EVENT_FORMAT`] (or [`SNAPSHOT_FORMAT`]);
//! 2. append to `EVENT_UPCASTERS` (or `SNAPSHOT_UPCASTERS`) a function that rewrites a body of
//!    the previous version into the new one, as `serde_json::Value` — the array's length is the
//!    format minus one, so the build fails until the upcaster is there;
//! 3. leave `tests/fixtures/golden-log/` alone: the golden-log test must keep passing, now through
//!    the new upcaster.
//!
//! Old rows are never rewritten; they are upcast each time they are read. Clients always receive
//! an event in the current format ([`DecodedEvent::json`]).

use crate::domain::{Event, State};
use crate::store::{Snapshot, StoreError, StoredEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::borrow::Cow;

/// The format events are written in.
pub const EVENT_FORMAT: u32 = 1;
/// The format snapshots are written in.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// Rewrites a body of one format version into the next version's, or says why it cannot.
pub type Upcaster = fn(Value) -> Result<Value, String>;

/// `EVENT_UPCASTERS[i]` rewrites an event body of format `i + 1` into format `i + 2`.
const EVENT_UPCASTERS: [Upcaster; EVENT_FORMAT as usize - 1] = [];
/// `SNAPSHOT_UPCASTERS[i]` rewrites a snapshot of format `i + 1` into format `i + 2`.
const SNAPSHOT_UPCASTERS: [Upcaster; SNAPSHOT_FORMAT as usize - 1] = [];

/// One kind of stored record and the versions of its format.
struct Format {
    /// What the record is called in errors: `event`, `snapshot`.
    record: &'static str,
    current: u32,
    /// `upcasters[i]` takes version `i + 1` to `i + 2`; `current - 1` of them.
    upcasters: &'static [Upcaster],
}

const EVENTS: Format = Format {
    record: "event",
    current: EVENT_FORMAT,
    upcasters: &EVENT_UPCASTERS,
};

const SNAPSHOTS: Format = Format {
    record: "snapshot",
    current: SNAPSHOT_FORMAT,
    upcasters: &SNAPSHOT_UPCASTERS,
};

impl Format {
    /// Decodes a body of version `format` of the record with sequence number `seq`.
    fn decode<T: DeserializeOwned>(
        &self,
        seq: u64,
        format: u32,
        body: &str,
    ) -> Result<T, StoreError> {
        let corrupt = |cause: String| {
            StoreError::Corrupt(format!("{} {seq} (format {format}): {cause}", self.record))
        };
        if format == self.current {
            return serde_json::from_str(body).map_err(|e| corrupt(e.to_string()));
        }
        if format == 0 || format > self.current {
            return Err(StoreError::UnknownFormat {
                record: self.record,
                seq,
                format,
                newest: self.current,
            });
        }
        let mut value: Value = serde_json::from_str(body).map_err(|e| corrupt(e.to_string()))?;
        for (from, upcast) in (format..).zip(&self.upcasters[format as usize - 1..]) {
            value = upcast(value)
                .map_err(|cause| corrupt(format!("upcasting from format {from}: {cause}")))?;
        }
        serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
    }
}

/// A stored event, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEvent<'a> {
    pub event: Event,
    /// The event's JSON in the current format, as clients receive it: the stored body itself
    /// when it is in the current format, else the upcast event encoded again.
    pub json: Cow<'a, str>,
}

/// The body of `event` as it is stored, in format [`EVENT_FORMAT`].
pub fn encode_event(event: &Event) -> String {
    serde_json::to_string(event).expect("events serialize")
}

/// Decodes a stored event of any known format.
pub fn decode_event(stored: &StoredEvent) -> Result<DecodedEvent<'_>, StoreError> {
    let event: Event = EVENTS.decode(stored.seq, stored.format, &stored.body)?;
    let json = if stored.format == EVENT_FORMAT {
        Cow::Borrowed(stored.body.as_str())
    } else {
        Cow::Owned(encode_event(&event))
    };
    Ok(DecodedEvent { event, json })
}

/// The snapshot of `state` at `seq`, in format [`SNAPSHOT_FORMAT`].
pub fn encode_snapshot(seq: u64, state: &State) -> Snapshot {
    Snapshot {
        seq,
        format: SNAPSHOT_FORMAT,
        state: serde_json::to_string(state).expect("states serialize"),
    }
}

/// Decodes a snapshot of any known format.
pub fn decode_snapshot(snapshot: &Snapshot) -> Result<State, StoreError> {
    SNAPSHOTS.decode(snapshot.seq, snapshot.format, &snapshot.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::Event;
    use serde::Deserialize;
    use serde_json::json;

    fn stored(seq: u64, format: u32, body: &str) -> StoredEvent {
        StoredEvent {
            seq,
            time_ms: 1,
            command_id: "c".into(),
            actor: "desk".into(),
            format,
            body: body.into(),
        }
    }

    fn duty(on: bool) -> Event {
        Event::TeamDutyChanged {
            team_id: "T-07".into(),
            on_duty: on,
        }
    }

    #[test]
    fn an_event_in_the_current_format_decodes_and_clients_get_its_stored_text() {
        let body = encode_event(&duty(false));
        assert_eq!(
            body,
            r#"{"type":"team_duty_changed","team_id":"T-07","on_duty":false}"#
        );
        let e = stored(4, EVENT_FORMAT, &body);
        let decoded = decode_event(&e).unwrap();
        assert_eq!(decoded.event, duty(false));
        assert!(matches!(decoded.json, Cow::Borrowed(text) if text == body));
    }

    #[test]
    fn a_format_this_code_does_not_know_is_an_error_naming_record_and_version() {
        let body = encode_event(&duty(true));
        for format in [0, EVENT_FORMAT + 1, u32::MAX] {
            let err = decode_event(&stored(17, format, &body)).unwrap_err();
            assert!(
                matches!(err, StoreError::UnknownFormat { record: "event", seq: 17, format: f, newest: EVENT_FORMAT } if f == format),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains("event 17") && text.contains(&format!("format {format}")),
                "{text}"
            );
        }
        let snapshot = Snapshot {
            seq: 9,
            format: SNAPSHOT_FORMAT + 1,
            state: "{}".into(),
        };
        let text = decode_snapshot(&snapshot).unwrap_err().to_string();
        assert!(text.contains("snapshot 9 is in format 2"), "{text}");
    }

    #[test]
    fn a_body_that_does_not_decode_is_corrupt_naming_the_record() {
        let err = decode_event(&stored(5, 1, r#"{"type":"no_such_event"}"#)).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.starts_with("event 5 (format 1)")),
            "{err:?}"
        );
        let garbage = Snapshot {
            seq: 3,
            format: 1,
            state: "not json".into(),
        };
        assert!(
            matches!(decode_snapshot(&garbage), Err(StoreError::Corrupt(m)) if m.starts_with("snapshot 3"))
        );
    }

    #[test]
    fn a_snapshot_round_trips() {
        let mut state = State::default();
        state.apply(&Event::TeamRegistered {
            team: serde_json::from_value(json!({
                "id": "T-1", "name": "一队", "kind": "militia", "headcount": 3, "capabilities": ["pump"],
                "travel_mode": "foot", "on_duty": true,
                "fix": {"position": [113.1, 27.6], "time_ms": 5, "accuracy_m": 0.1}
            }))
            .unwrap(),
        });
        state.next_hazard = 4;
        let snapshot = encode_snapshot(12, &state);
        assert_eq!((snapshot.seq, snapshot.format), (12, SNAPSHOT_FORMAT));
        assert_eq!(decode_snapshot(&snapshot).unwrap(), state);
    }

    /// How a future version 2 reads version 1: the chain of upcasters, one step at a time, then
    /// the current type. Shown on a format of three versions.
    #[test]
    fn an_older_format_is_upcast_one_version_at_a_time() {
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Reading {
            level_cm: i64,
            gauge: String,
        }
        // 1 → 2: `level_m` (metres) became `level_cm`.
        fn v1_to_v2(mut v: Value) -> Result<Value, String> {
            let m = v["level_m"].as_f64().ok_or("no level_m")?;
            let o = v.as_object_mut().ok_or("not an object")?;
            o.remove("level_m");
            o.insert("level_cm".into(), json!((m * 100.0).round() as i64));
            Ok(v)
        }
        // 2 → 3: `station` was renamed `gauge`.
        fn v2_to_v3(mut v: Value) -> Result<Value, String> {
            let o = v.as_object_mut().ok_or("not an object")?;
            let station = o.remove("station").ok_or("no station")?;
            o.insert("gauge".into(), station);
            Ok(v)
        }
        const UPCASTERS: [Upcaster; 2] = [v1_to_v2, v2_to_v3];
        let readings = Format {
            record: "reading",
            current: 3,
            upcasters: &UPCASTERS,
        };
        let want = Reading {
            level_cm: 4031,
            gauge: "G-XJ".into(),
        };
        let v1 = r#"{"level_m":40.31,"station":"G-XJ"}"#;
        let v2 = r#"{"level_cm":4031,"station":"G-XJ"}"#;
        let v3 = r#"{"level_cm":4031,"gauge":"G-XJ"}"#;
        assert_eq!(readings.decode::<Reading>(1, 1, v1).unwrap(), want);
        assert_eq!(readings.decode::<Reading>(2, 2, v2).unwrap(), want);
        assert_eq!(readings.decode::<Reading>(3, 3, v3).unwrap(), want);
        // A body that does not fit its claimed version fails in the upcaster that needs it.
        let err = readings
            .decode::<Reading>(4, 1, v2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("reading 4 (format 1): upcasting from format 1: no level_m"),
            "{err}"
        );
        assert!(matches!(
            readings.decode::<Reading>(5, 4, v3),
            Err(StoreError::UnknownFormat {
                format: 4,
                newest: 3,
                ..
            })
        ));
    }

    #[test]
    fn the_upcaster_chains_match_the_format_versions() {
        assert_eq!(EVENTS.upcasters.len() as u32, EVENT_FORMAT - 1);
        assert_eq!(SNAPSHOTS.upcasters.len() as u32, SNAPSHOT_FORMAT - 1);
    }
}
