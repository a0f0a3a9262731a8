//! CAP 1.2 (OASIS Common Alerting Protocol) export of the committed state: evacuation orders,
//! response levels and gauge threshold alerts as CAP messages, and an Atom feed of the current
//! ones. Pure: the state and a [`CapContext`] in, text out; `docs/cap.md` has the mapping tables.
//!
//! **Threads.** Each subject is a thread of messages, derived from the history the state keeps:
//!
//! | subject | messages | identifier |
//! | --- | --- | --- |
//! | evacuation order `EV-3` | issued → `Alert`; lifted → `Cancel` | `<sender>.EV-3.1`, `<sender>.EV-3.2` |
//! | response level of jurisdiction `j` | the k-th change of `j`'s history: a level after none → `Alert`, a level after a level → `Update`, no level → `Cancel` | `<sender>.RL-<j>.<k>` |
//! | gauge threshold alert `AL-7` | raised → `Alert`; resolved → `Cancel` | `<sender>.AL-7.1`, `<sender>.AL-7.2` |
//!
//! An `Update` or `Cancel` references every earlier message of its thread (`sender,identifier,sent`,
//! space-separated). A message's `sent` is the time of its event, and its text depends only on
//! what that event fixed (an order's zone and people at risk, a change's level and reason), so a
//! message fetched again later is the same message. The state keeps no amendment of an issued
//! order, so an evacuation thread has no `Update`.
//!
//! **Times** are written in the district's time, Beijing time (`+08:00`), like the situation
//! report: `2019-07-04T23:00:00+08:00`, whole seconds, never `Z`.

use crate::domain::State;
use crate::domain::alerts::{Alert, AlertKind};
use crate::domain::geo::LonLat;
use crate::domain::model::*;
use crate::domain::vocabulary::Named;

/// The CAP namespace of version 1.2.
pub const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// Hours east of UTC of every time written: Beijing time, the district's.
pub const UTC_OFFSET_H: i64 = 8;
/// The longest headline written, in characters (CAP: "SHOULD be less than 160 characters").
pub const HEADLINE_MAX_CHARS: usize = 159;

/// What the messages need besides the state.
#[derive(Debug, Clone, Copy)]
pub struct CapContext<'a> {
    /// The CAP `sender`: no whitespace, commas, `<` or `&` (see [`sender_for`]). It prefixes
    /// every identifier, so a drill's space must pass a sender of its own.
    pub sender: &'a str,
    /// The district's id and display name, from the map, when it has a `district` layer.
    pub district: Option<(&'a str, &'a str)>,
    /// The state is a drill's: every message has status `Exercise` and says so.
    pub exercise: bool,
}

/// The CAP `sender` of a server: `crest`, or `crest-<district id>` with a map that names its
/// district (characters outside `A-Z a-z 0-9 - _` written as `~XX` per UTF-8 byte).
pub fn sender_for(district_id: Option<&str>) -> String {
    match district_id {
        Some(id) if !id.is_empty() => format!("crest-{}", encode(id)),
        _ => "crest".to_string(),
    }
}

/// An id as it stands in an identifier: `A-Z a-z 0-9 - _` as they are, every other UTF-8 byte
/// as `~XX`. Reversible, and free of what CAP forbids (whitespace, `,`, `<`, `&`) and of what a
/// URL path would need to escape.
fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("~{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
pub enum MsgType {
    Alert,
    Update,
    Cancel,
}

/// One earlier message, as `references` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub identifier: String,
    pub sent_ms: TimeMs,
}

/// One CAP message, ready to be written ([`Message::xml`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub identifier: String,
    pub sender: String,
    pub sent_ms: TimeMs,
    pub exercise: bool,
    pub msg_type: MsgType,
    /// Earlier messages of the thread, oldest first; empty for an `Alert`.
    pub references: Vec<Reference>,
    /// Chinese first, then English.
    pub infos: [Info; 2],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub language: &'static str,
    pub categories: &'static [&'static str],
    pub event: String,
    pub response_type: &'static str,
    pub urgency: &'static str,
    pub severity: &'static str,
    pub certainty: &'static str,
    pub effective_ms: Option<TimeMs>,
    pub sender_name: String,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub area: Area,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub desc: String,
    /// A closed ring as (lat, lon) pairs, at least 4, first == last.
    pub polygon: Option<Vec<(f64, f64)>>,
    /// Centre (lat, lon) and radius, km.
    pub circle: Option<(f64, f64, f64)>,
}

/// How urgent, severe and certain, in CAP's words.
#[derive(Debug, Clone, Copy)]
struct Grade {
    response_type: &'static str,
    urgency: &'static str,
    severity: &'static str,
    certainty: &'static str,
}

/// A message before its thread gives it an identifier and references.
struct Draft {
    msg_type: MsgType,
    sent_ms: TimeMs,
    categories: &'static [&'static str],
    grade: Grade,
    effective_ms: Option<TimeMs>,
    /// (zh, en) of event, headline, description, instruction, area description.
    event: (String, String),
    headline: (String, String),
    description: (String, String),
    instruction: (String, String),
    area_desc: (String, String),
    polygon: Option<Vec<(f64, f64)>>,
    circle: Option<(f64, f64, f64)>,
}

/// What a cancel says about the danger: it is over.
const ALL_CLEAR: Grade = Grade {
    response_type: "AllClear",
    urgency: "Past",
    severity: "Minor",
    certainty: "Observed",
};

/// Every message the state's history yields, thread by thread, each thread oldest first.
pub fn messages(state: &State, ctx: &CapContext<'_>) -> Vec<Message> {
    let mut out = Vec::new();
    for order in state.evacuations.values() {
        thread(ctx, order.id.as_str(), evacuation(state, order), &mut out);
    }
    for (jurisdiction, history) in &state.response {
        let key = format!("RL-{}", encode(jurisdiction.as_str()));
        for drafts in response_threads(state, ctx, jurisdiction.as_str(), history) {
            numbered_thread(ctx, &key, drafts, &mut out);
        }
    }
    for alert in state.alerts.values() {
        if alert.kind == AlertKind::GaugeThreshold {
            thread(ctx, alert.id.as_str(), gauge_alert(state, alert), &mut out);
        }
    }
    out
}

/// The current message of every thread (its latest), newest first (ties by identifier): what
/// the feed lists. A cancelled thread stays listed with its `Cancel`, so that a reader learns of
/// it, for as long as the state keeps the subject (resolved alerts: the newest 1,000).
pub fn current(state: &State, ctx: &CapContext<'_>) -> Vec<Message> {
    let all = messages(state, ctx);
    let mut latest: Vec<Message> = Vec::new();
    for (i, m) in all.iter().enumerate() {
        let next_is_same_thread = all
            .get(i + 1)
            .is_some_and(|n| n.references.iter().any(|r| r.identifier == m.identifier));
        if !next_is_same_thread {
            latest.push(m.clone());
        }
    }
    latest.sort_by(|a, b| {
        b.sent_ms
            .cmp(&a.sent_ms)
            .then_with(|| a.identifier.cmp(&b.identifier))
    });
    latest
}

/// The message with this identifier, current or superseded, if the state still yields it.
pub fn message(state: &State, ctx: &CapContext<'_>, identifier: &str) -> Option<Message> {
    // Every identifier starts with the sender: anything else is unknown without building.
    identifier.strip_prefix(ctx.sender)?.strip_prefix('.')?;
    messages(state, ctx)
        .into_iter()
        .find(|m| m.identifier == identifier)
}

/// A thread whose messages are numbered from 1.
fn thread(ctx: &CapContext<'_>, key: &str, drafts: Vec<Draft>, out: &mut Vec<Message>) {
    let numbered: Vec<(usize, Draft)> = drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| (i + 1, d))
        .collect();
    numbered_thread(ctx, key, numbered, out);
}

/// A thread of drafts with their numbers: `<sender>.<key>.<number>` identifies each.
fn numbered_thread(
    ctx: &CapContext<'_>,
    key: &str,
    drafts: Vec<(usize, Draft)>,
    out: &mut Vec<Message>,
) {
    let mut earlier: Vec<Reference> = Vec::new();
    for (n, d) in drafts {
        let identifier = format!("{}.{key}.{n}", ctx.sender);
        let references = if d.msg_type == MsgType::Alert {
            Vec::new()
        } else {
            earlier.clone()
        };
        earlier.push(Reference {
            identifier: identifier.clone(),
            sent_ms: d.sent_ms,
        });
        out.push(finish(ctx, identifier, references, d));
    }
}

fn finish(
    ctx: &CapContext<'_>,
    identifier: String,
    references: Vec<Reference>,
    d: Draft,
) -> Message {
    let (name_zh, name_en) = sender_names(ctx);
    let (drill_zh, drill_en) = if ctx.exercise {
        ("【演练】", "EXERCISE: ")
    } else {
        ("", "")
    };
    let info = |language: &'static str, zh: bool| {
        let pick = |pair: &(String, String)| {
            if zh { pair.0.clone() } else { pair.1.clone() }
        };
        let prefix = if zh { drill_zh } else { drill_en };
        Info {
            language,
            categories: d.categories,
            event: pick(&d.event),
            response_type: d.grade.response_type,
            urgency: d.grade.urgency,
            severity: d.grade.severity,
            certainty: d.grade.certainty,
            effective_ms: d.effective_ms,
            sender_name: if zh { name_zh.clone() } else { name_en.clone() },
            headline: truncate(
                &format!("{prefix}{}", pick(&d.headline)),
                HEADLINE_MAX_CHARS,
            ),
            description: pick(&d.description),
            instruction: pick(&d.instruction),
            area: Area {
                desc: pick(&d.area_desc),
                polygon: d.polygon.clone(),
                circle: d.circle,
            },
        }
    };
    Message {
        identifier,
        sender: ctx.sender.to_string(),
        sent_ms: d.sent_ms,
        exercise: ctx.exercise,
        msg_type: d.msg_type,
        references,
        infos: [info("zh-CN", true), info("en-US", false)],
    }
}

fn sender_names(ctx: &CapContext<'_>) -> (String, String) {
    match ctx.district {
        Some((_, name)) => (
            format!("{name}防汛指挥部"),
            format!("Flood-control command of {name}"),
        ),
        None => (
            "防汛指挥部".to_string(),
            "Flood-control command".to_string(),
        ),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut t: String = text.chars().take(max - 1).collect();
    t.push('…');
    t
}

// ---------------------------------------------------------------- evacuation orders

fn evacuation(state: &State, o: &EvacuationOrder) -> Vec<Draft> {
    // An order lifted by an event logged before lifts carried their time has no time for its
    // `Cancel`; rather than an `Alert` that would stand for ever, it has no messages.
    let lifted_at = match o.status {
        EvacuationStatus::Active => None,
        EvacuationStatus::Lifted => match o.lifted_at {
            Some(at) => Some(at),
            None => return Vec::new(),
        },
    };
    let villages = villages(state, o);
    let shelters: Vec<&str> = o
        .target_shelters
        .iter()
        .map(|id| {
            state
                .shelters
                .get(id)
                .map_or(id.as_str(), |s| s.name.as_str())
        })
        .collect();
    let polygon = cap_polygon(&o.zone);
    let event = ("转移令".to_string(), "Evacuation order".to_string());
    let area_desc = (o.name.clone(), o.name.clone());
    let in_villages = |zh: bool| {
        if villages.is_empty() {
            String::new()
        } else if zh {
            format!("，涉及{}", villages.join("、"))
        } else {
            format!(", in {}", villages.join(", "))
        }
    };
    let issued = Draft {
        msg_type: MsgType::Alert,
        sent_ms: o.issued_at,
        categories: &["Safety"],
        grade: Grade {
            response_type: "Evacuate",
            urgency: "Immediate",
            severity: "Severe",
            certainty: "Likely",
        },
        effective_ms: Some(o.issued_at),
        event: event.clone(),
        headline: (
            format!("转移令：{}", o.name),
            format!("Evacuation order: {}", o.name),
        ),
        description: (
            format!(
                "转移令{}（{}）：转移区内需转移{}人{}。",
                o.id,
                o.name,
                o.population,
                in_villages(true)
            ),
            format!(
                "Evacuation order {} ({}): {} people are to leave the zone{}.",
                o.id,
                o.name,
                o.population,
                in_villages(false)
            ),
        ),
        instruction: if shelters.is_empty() {
            (
                "请转移区内人员立即撤离到安全地带，听从网格员和现场工作人员指挥。".to_string(),
                "Everyone in the zone must leave for safe ground now; follow the grid workers and the staff on site.".to_string(),
            )
        } else {
            (
                format!(
                    "请转移区内人员立即撤离，前往安置点：{}。听从网格员和现场工作人员指挥。",
                    shelters.join("、")
                ),
                format!(
                    "Everyone in the zone must leave now for the shelters: {}. Follow the grid workers and the staff on site.",
                    shelters.join(", ")
                ),
            )
        },
        area_desc: area_desc.clone(),
        polygon: polygon.clone(),
        circle: None,
    };
    let mut drafts = vec![issued];
    if let Some(at) = lifted_at {
        drafts.push(Draft {
            msg_type: MsgType::Cancel,
            sent_ms: at,
            categories: &["Safety"],
            grade: ALL_CLEAR,
            effective_ms: Some(at),
            event,
            headline: (
                format!("解除转移令：{}", o.name),
                format!("Evacuation order lifted: {}", o.name),
            ),
            description: (
                format!(
                    "转移令{}（{}）{}。",
                    o.id,
                    o.name,
                    EvacuationStatus::Lifted.zh()
                ),
                format!(
                    "Evacuation order {} ({}) is {}.",
                    o.id,
                    o.name,
                    EvacuationStatus::Lifted.en()
                ),
            ),
            instruction: (
                "转移令已解除；返回前请听从当地政府和村（社区）的通知。".to_string(),
                "The order is lifted; wait for the local government's notice before going back."
                    .to_string(),
            ),
            area_desc,
            polygon,
            circle: None,
        });
    }
    drafts
}

/// The villages an order's cells lie in, in the order of its cells, each once; at most 20 named.
fn villages(state: &State, o: &EvacuationOrder) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in &o.cells {
        let Some(cell) = state.grid_cells.get(&c.cell_id) else {
            continue;
        };
        let name = if cell.village_name.is_empty() {
            &cell.village
        } else {
            &cell.village_name
        };
        if !name.is_empty() && !names.contains(name) {
            names.push(name.clone());
        }
    }
    if names.len() > 20 {
        names.truncate(20);
        names.push("…".to_string());
    }
    names
}

/// A zone as a CAP polygon: (lat, lon) pairs — CAP's order, the reverse of Crest's lon/lat —
/// closed; `None` for a ring of fewer than three distinct vertices.
pub fn cap_polygon(ring: &[LonLat]) -> Option<Vec<(f64, f64)>> {
    let mut pairs: Vec<(f64, f64)> = ring.iter().map(|p| (p.lat(), p.lon())).collect();
    if pairs.first() != pairs.last() {
        let first = pairs[0];
        pairs.push(first);
    }
    (pairs.len() >= 4).then_some(pairs)
}

// ---------------------------------------------------------------- response levels

/// A jurisdiction's history split into threads: a thread starts with a level set after none
/// and ends with the response lifted. Each draft is numbered by its change's place in the
/// history, from 1.
fn response_threads(
    state: &State,
    ctx: &CapContext<'_>,
    jurisdiction: &str,
    history: &[ResponseChange],
) -> Vec<Vec<(usize, Draft)>> {
    let place = jurisdiction_name(state, ctx, jurisdiction);
    let mut threads: Vec<Vec<(usize, Draft)>> = Vec::new();
    let mut previous: Option<ResponseLevel> = None;
    for (i, change) in history.iter().enumerate() {
        let draft = match (previous, change.level) {
            (_, Some(level)) => response_draft(&place, previous, level, change),
            (Some(was), None) => response_cancel(&place, was, change),
            // Lifting a level that was never set (the decider refuses it): nothing to cancel.
            (None, None) => continue,
        };
        if draft.msg_type == MsgType::Alert {
            threads.push(Vec::new());
        }
        if let Some(t) = threads.last_mut() {
            t.push((i + 1, draft));
        }
        previous = change.level;
    }
    threads
}

/// The display name of a jurisdiction: the district's (its id, any case), a town's (from the
/// grid cells that name it), or the id itself.
fn jurisdiction_name(state: &State, ctx: &CapContext<'_>, jurisdiction: &str) -> String {
    if let Some((id, name)) = ctx.district
        && id.eq_ignore_ascii_case(jurisdiction)
    {
        return name.to_string();
    }
    state
        .grid_cells
        .values()
        .find(|c| c.town == jurisdiction && !c.town_name.is_empty())
        .map_or_else(|| jurisdiction.to_string(), |c| c.town_name.clone())
}

/// CAP's severity of a response level: IV minor … I extreme.
fn level_grade(level: ResponseLevel) -> Grade {
    let severity = match level {
        ResponseLevel::IV => "Minor",
        ResponseLevel::III => "Moderate",
        ResponseLevel::II => "Severe",
        ResponseLevel::I => "Extreme",
    };
    Grade {
        response_type: "Prepare",
        urgency: "Expected",
        severity,
        certainty: "Likely",
    }
}

fn reason_texts(change: &ResponseChange) -> (String, String) {
    if change.reason.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("原因：{}", change.reason),
            format!("Reason: {}", change.reason),
        )
    }
}

fn response_event() -> (String, String) {
    (
        "防汛应急响应".to_string(),
        "Flood emergency response".to_string(),
    )
}

fn response_draft(
    place: &str,
    previous: Option<ResponseLevel>,
    level: ResponseLevel,
    change: &ResponseChange,
) -> Draft {
    let (reason_zh, reason_en) = reason_texts(change);
    let (msg_type, headline, what) = match previous {
        None => (
            MsgType::Alert,
            (
                format!("{place}启动防汛{}", level.zh()),
                format!("{place}: flood {} declared", level.en()),
            ),
            (
                format!("{place}启动防汛{}。", level.zh()),
                format!("{place} declared a flood {}.", level.en()),
            ),
        ),
        Some(was) => {
            let (zh, en) = if level > was {
                ("提升", "raised")
            } else {
                ("调整", "lowered")
            };
            (
                MsgType::Update,
                (
                    format!("{place}防汛应急响应{zh}为{}", level.zh()),
                    format!("{place}: flood response {en} to {}", level.en()),
                ),
                (
                    format!("{place}防汛应急响应由{}{zh}为{}。", was.zh(), level.zh()),
                    format!(
                        "{place} {en} its flood response from {} to {}.",
                        was.en(),
                        level.en()
                    ),
                ),
            )
        }
    };
    Draft {
        msg_type,
        sent_ms: change.at,
        categories: &["Met", "Safety"],
        grade: level_grade(level),
        effective_ms: Some(change.at),
        event: response_event(),
        headline,
        description: (
            format!("{}{reason_zh}", what.0),
            join_sentences(&what.1, &reason_en),
        ),
        instruction: (
            "请关注汛情，服从防汛指挥部统一指挥。".to_string(),
            "Follow the flood situation and the flood-control command's instructions.".to_string(),
        ),
        area_desc: (place.to_string(), place.to_string()),
        polygon: None,
        circle: None,
    }
}

fn response_cancel(place: &str, was: ResponseLevel, change: &ResponseChange) -> Draft {
    let (reason_zh, reason_en) = reason_texts(change);
    Draft {
        msg_type: MsgType::Cancel,
        sent_ms: change.at,
        categories: &["Met", "Safety"],
        grade: ALL_CLEAR,
        effective_ms: Some(change.at),
        event: response_event(),
        headline: (
            format!("{place}终止防汛应急响应"),
            format!("{place}: flood response ended"),
        ),
        description: (
            format!("{place}终止防汛{}。{reason_zh}", was.zh()),
            join_sentences(
                &format!("{place} ended its flood {}.", was.en()),
                &reason_en,
            ),
        ),
        instruction: (
            "应急响应已终止，请继续关注当地通知。".to_string(),
            "The response has ended; keep following local notices.".to_string(),
        ),
        area_desc: (place.to_string(), place.to_string()),
        polygon: None,
        circle: None,
    }
}

fn join_sentences(a: &str, b: &str) -> String {
    if b.is_empty() {
        a.to_string()
    } else {
        format!("{a} {b}")
    }
}

// ---------------------------------------------------------------- gauge threshold alerts

/// CAP's grading of a threshold: guard (设防) minor, warning (警戒) moderate, guaranteed (保证)
/// severe.
fn threshold_grade(kind: ThresholdKind) -> Grade {
    match kind {
        ThresholdKind::Guard => Grade {
            response_type: "Monitor",
            urgency: "Expected",
            severity: "Minor",
            certainty: "Observed",
        },
        ThresholdKind::Warning => Grade {
            response_type: "Prepare",
            urgency: "Expected",
            severity: "Moderate",
            certainty: "Observed",
        },
        ThresholdKind::Guaranteed => Grade {
            response_type: "Prepare",
            urgency: "Immediate",
            severity: "Severe",
            certainty: "Observed",
        },
    }
}

/// The smallest radius of a gauge's circle, km.
pub const GAUGE_CIRCLE_MIN_KM: f64 = 1.0;

fn gauge_alert(state: &State, alert: &Alert) -> Vec<Draft> {
    let (Some(gauge), Ok(kind)) = (
        state.gauges.get(alert.subject_id.as_str()),
        alert.qualifier.parse::<ThresholdKind>(),
    ) else {
        return Vec::new();
    };
    let threshold_m = gauge
        .thresholds
        .iter()
        .into_iter()
        .find(|(k, _)| *k == kind)
        .map_or(0.0, |(_, m)| m);
    let levees: Vec<&str> = gauge
        .levee_ids
        .iter()
        .filter_map(|id| state.levees.get(id))
        .map(|l| l.spec().name.as_str())
        .collect();
    let circle = Some((
        gauge.position.lat(),
        gauge.position.lon(),
        gauge_radius_km(state, gauge),
    ));
    let area_desc = if levees.is_empty() {
        (
            format!("{}（{}）", gauge.name, gauge.river),
            format!("{} ({})", gauge.name, gauge.river),
        )
    } else {
        (
            format!(
                "{}（{}）及其所辖堤防：{}",
                gauge.name,
                gauge.river,
                levees.join("、")
            ),
            format!(
                "{} ({}) and the levees it governs: {}",
                gauge.name,
                gauge.river,
                levees.join(", ")
            ),
        )
    };
    let event = (
        AlertKind::GaugeThreshold.zh().to_string(),
        "River gauge at a threshold".to_string(),
    );
    let (instruction_zh, instruction_en) = match kind {
        ThresholdKind::Guard => (
            "堤防进入设防状态，开始巡堤查险；沿江群众请注意防范。",
            "The levees are on guard and patrols have started; people along the river, take care.",
        ),
        ThresholdKind::Warning => (
            "水位超过警戒水位；请沿江群众远离堤防和河道，做好转移准备。",
            "The water is above the warning level; keep away from the levees and the river and be ready to leave.",
        ),
        ThresholdKind::Guaranteed => (
            "水位超过保证水位，堤防随时可能出险；请服从指挥，随时准备转移。",
            "The water is above the guaranteed level and a levee may fail at any time; follow instructions and be ready to leave at once.",
        ),
    };
    let raised = Draft {
        msg_type: MsgType::Alert,
        sent_ms: alert.raised_at,
        categories: &["Met"],
        grade: threshold_grade(kind),
        effective_ms: Some(alert.raised_at),
        event: event.clone(),
        headline: (
            format!("{}水位达到{}", gauge.name, kind.zh()),
            format!("{} at its {}", gauge.name, kind.en()),
        ),
        description: (
            format!(
                "{}（{}）水位达到或超过{}{:.2}米（{}高程）。",
                gauge.name,
                gauge.river,
                kind.zh(),
                threshold_m,
                gauge.datum
            ),
            format!(
                "{} ({}) is at or above its {} of {:.2} m ({} datum): {}.",
                gauge.name,
                gauge.river,
                kind.en(),
                threshold_m,
                gauge.datum,
                alert.message
            ),
        ),
        instruction: (instruction_zh.to_string(), instruction_en.to_string()),
        area_desc: area_desc.clone(),
        polygon: None,
        circle,
    };
    let mut drafts = vec![raised];
    if let Some(at) = alert.resolved_at {
        drafts.push(Draft {
            msg_type: MsgType::Cancel,
            sent_ms: at,
            categories: &["Met"],
            grade: ALL_CLEAR,
            effective_ms: Some(at),
            event,
            headline: (
                format!("{}水位回落至{}以下", gauge.name, kind.zh()),
                format!("{} back below its {}", gauge.name, kind.en()),
            ),
            description: (
                format!(
                    "{}（{}）水位已回落至{}{:.2}米以下。",
                    gauge.name,
                    gauge.river,
                    kind.zh(),
                    threshold_m
                ),
                format!(
                    "{} ({}) is back below its {} of {:.2} m.",
                    gauge.name,
                    gauge.river,
                    kind.en(),
                    threshold_m
                ),
            ),
            instruction: (
                "请继续关注水情通报。".to_string(),
                "Keep following the water-level reports.".to_string(),
            ),
            area_desc,
            polygon: None,
            circle,
        });
    }
    drafts
}

/// The radius of a gauge's circle: far enough to cover every vertex of the levees it governs
/// (their patrols follow this gauge), rounded up to 0.1 km, at least [`GAUGE_CIRCLE_MIN_KM`].
fn gauge_radius_km(state: &State, gauge: &Gauge) -> f64 {
    let farthest_m = gauge
        .levee_ids
        .iter()
        .filter_map(|id| state.levees.get(id))
        .flat_map(|l| l.line().iter())
        .map(|p| gauge.position.distance_m(*p))
        .fold(0.0_f64, f64::max);
    ((farthest_m / 100.0).ceil() / 10.0).max(GAUGE_CIRCLE_MIN_KM)
}

// ---------------------------------------------------------------- writing

/// A time as CAP writes it: `2019-07-04T23:00:00+08:00` (Beijing time, whole seconds).
pub fn cap_time(ms: TimeMs) -> String {
    let (y, mo, d, h, mi, s) = crate::clock::civil(ms, UTC_OFFSET_H);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+{UTC_OFFSET_H:02}:00")
}

impl Message {
    /// `sender,identifier,sent`: how a later message references this one.
    pub fn reference(&self) -> String {
        format!(
            "{},{},{}",
            self.sender,
            self.identifier,
            cap_time(self.sent_ms)
        )
    }

    /// The CAP 1.2 XML document.
    pub fn xml(&self) -> String {
        let mut x = Xml::new();
        x.open("alert", &[("xmlns", CAP_NAMESPACE)]);
        x.leaf("identifier", &self.identifier);
        x.leaf("sender", &self.sender);
        x.leaf("sent", &cap_time(self.sent_ms));
        x.leaf("status", if self.exercise { "Exercise" } else { "Actual" });
        x.leaf("msgType", self.msg_type.into());
        x.leaf("scope", "Public");
        if self.exercise {
            x.leaf(
                "note",
                "演练：本消息为防汛演练的一部分，不是真实警报。Exercise: this message is part of a flood drill, not a real alert.",
            );
        }
        if !self.references.is_empty() {
            let refs: Vec<String> = self
                .references
                .iter()
                .map(|r| format!("{},{},{}", self.sender, r.identifier, cap_time(r.sent_ms)))
                .collect();
            x.leaf("references", &refs.join(" "));
        }
        for info in &self.infos {
            info.write(&mut x);
        }
        x.close("alert");
        x.finish()
    }
}

impl Info {
    fn write(&self, x: &mut Xml) {
        x.open("info", &[]);
        x.leaf("language", self.language);
        for c in self.categories {
            x.leaf("category", c);
        }
        x.leaf("event", &self.event);
        x.leaf("responseType", self.response_type);
        x.leaf("urgency", self.urgency);
        x.leaf("severity", self.severity);
        x.leaf("certainty", self.certainty);
        if let Some(at) = self.effective_ms {
            x.leaf("effective", &cap_time(at));
        }
        x.leaf("senderName", &self.sender_name);
        x.leaf("headline", &self.headline);
        if !self.description.is_empty() {
            x.leaf("description", &self.description);
        }
        if !self.instruction.is_empty() {
            x.leaf("instruction", &self.instruction);
        }
        x.open("area", &[]);
        x.leaf("areaDesc", &self.area.desc);
        if let Some(ring) = &self.area.polygon {
            let pairs: Vec<String> = ring
                .iter()
                .map(|(lat, lon)| format!("{lat},{lon}"))
                .collect();
            x.leaf("polygon", &pairs.join(" "));
        }
        if let Some((lat, lon, km)) = self.area.circle {
            x.leaf("circle", &format!("{lat},{lon} {km}"));
        }
        x.close("area");
        x.close("info");
    }
}

/// The Atom 1.0 feed (RFC 4287) of the current messages, newest first, each entry linking to its
/// message at `<base>/<identifier>`.
pub fn atom_feed(state: &State, ctx: &CapContext<'_>, base: &str) -> String {
    let current = current(state, ctx);
    let (name_zh, name_en) = sender_names(ctx);
    let updated = current.iter().map(|m| m.sent_ms).max().unwrap_or(0);
    let mut x = Xml::new();
    x.open(
        "feed",
        &[
            ("xmlns", "http://www.w3.org/2005/Atom"),
            ("xml:lang", "zh-CN"),
        ],
    );
    x.leaf("id", &format!("urn:crest:cap:{}", ctx.sender));
    let drill = if ctx.exercise { "【演练】" } else { "" };
    x.leaf(
        "title",
        &format!("{drill}{name_zh} CAP 预警 / CAP alerts of the {name_en}"),
    );
    x.leaf("updated", &cap_time(updated));
    x.open("author", &[]);
    x.leaf("name", &name_zh);
    x.close("author");
    x.empty("link", &[("rel", "self"), ("href", base)]);
    for m in &current {
        let href = format!("{base}/{}", m.identifier);
        x.open("entry", &[]);
        x.leaf(
            "id",
            &format!("urn:crest:cap:{}:{}", ctx.sender, m.identifier),
        );
        x.leaf(
            "title",
            &format!("{} / {}", m.infos[0].headline, m.infos[1].headline),
        );
        x.leaf("updated", &cap_time(m.sent_ms));
        x.empty("category", &[("term", m.msg_type.into())]);
        x.leaf("summary", &m.infos[1].description);
        x.empty(
            "link",
            &[
                ("rel", "alternate"),
                ("type", "application/cap+xml"),
                ("href", &href),
            ],
        );
        x.close("entry");
    }
    x.close("feed");
    x.finish()
}

/// A small XML writer: elements indented by two spaces, text and attribute values escaped.
struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn new() -> Xml {
        Xml {
            out: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".to_string(),
            depth: 0,
        }
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v);
            self.out.push('"');
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, attrs);
        self.out.push_str("/>\n");
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.start(name, &[]);
        self.out.push('>');
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Escapes text for element content and attribute values: the five predefined entities, a
/// carriage return as `&#13;` (a parser would turn a literal one into a line feed), and every
/// character XML 1.0 does not allow at all (controls other than tab, line feed and carriage
/// return; U+FFFE, U+FFFF) replaced by U+FFFD.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
#[path = "../../tests/it/cap_spec.rs"]
mod cap_spec;

#[cfg(test)]
mod tests {
    use super::cap_spec::{assert_valid, lat_lon};
    use super::*;
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::spec::*;
    use serde_json::json;

    /// 2019-07-04 at `h:m` Beijing time, in milliseconds.
    fn at(day: u32, h: u32, m: u32) -> TimeMs {
        crate::clock::from_civil((2019, 7, day, h, m, 0)) - UTC_OFFSET_H * 3_600_000
    }

    fn ctx(exercise: bool) -> CapContext<'static> {
        CapContext {
            sender: "crest-FUKOU",
            district: Some(("FUKOU", "涪口区")),
            exercise,
        }
    }

    fn cell(id: &str, x: f64, population: u32, village: &str) -> Event {
        Event::GridCellDefined {
            cell: GridCell {
                id: GridCellId::from(id),
                name: id.into(),
                ring: [
                    [x, 27.0],
                    [x + 0.01, 27.0],
                    [x + 0.01, 27.01],
                    [x, 27.01],
                    [x, 27.0],
                ]
                .iter()
                .map(|[a, b]| p(*a, *b))
                .collect(),
                population,
                households: population / 3,
                grid_worker: "网格员".into(),
                town: "NZ".into(),
                village: village.into(),
                town_name: "南洲镇".into(),
                village_name: String::new(),
                grid_worker_id: None,
                vulnerable: Vulnerable::default(),
            },
        }
    }

    fn world_with_people() -> Vec<Event> {
        let mut w = world();
        w.push(cell("GC-A", 113.00, 1000, "将军村"));
        w.push(cell("GC-B", 113.01, 400, "石门村"));
        w
    }

    /// The zone over GC-A and half of GC-B, lon/lat as Crest has it, not closed.
    fn zone() -> serde_json::Value {
        json!([
            [113.0, 27.0],
            [113.015, 27.0],
            [113.015, 27.01],
            [113.0, 27.01],
            [113.0, 27.0]
        ])
    }

    /// Evacuation order EV-1 issued on the 4th at 23:00 and lifted on the 6th at 23:10.
    fn evacuation_state(name: &str) -> State {
        let d = dispatcher();
        given(&world_with_people())
            .when_at(
                at(4, 23, 0),
                &d,
                json!({"type": "issue_evacuation_order", "name": name, "zone": zone(),
                       "target_shelters": ["S-1"]}),
            )
            .then_events(|_| {})
            .when_at(
                at(6, 23, 10),
                &d,
                json!({"type": "lift_evacuation_order", "evacuation_id": "EV-1"}),
            )
            .then_events(|_| {})
            .state()
            .clone()
    }

    fn xml_of(m: &Message) -> String {
        let xml = m.xml();
        assert_valid(&xml);
        xml
    }

    fn text_of<'a>(doc: &'a roxmltree::Document<'_>, name: &str) -> Vec<&'a str> {
        doc.descendants()
            .filter(|n| n.tag_name().name() == name)
            .map(|n| n.text().unwrap_or(""))
            .collect()
    }

    #[test]
    fn the_checker_refuses_what_the_specification_refuses() {
        super::cap_spec::self_test();
    }

    #[test]
    fn times_are_beijing_time_in_whole_seconds() {
        assert_eq!(cap_time(at(4, 23, 0)), "2019-07-04T23:00:00+08:00");
        assert_eq!(cap_time(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(cap_time(at(4, 23, 0) + 999), "2019-07-04T23:00:00+08:00");
        assert_eq!(cap_time(at(4, 16, 30)), "2019-07-04T16:30:00+08:00");
    }

    #[test]
    fn an_evacuation_order_is_an_alert_and_its_lifting_a_cancel_that_references_it() {
        let s = evacuation_state("将军村");
        let all = messages(&s, &ctx(false));
        assert_eq!(all.len(), 2);
        let (alert, cancel) = (&all[0], &all[1]);
        assert_eq!(alert.identifier, "crest-FUKOU.EV-1.1");
        assert_eq!(alert.msg_type, MsgType::Alert);
        assert!(alert.references.is_empty());
        assert_eq!(cancel.identifier, "crest-FUKOU.EV-1.2");
        assert_eq!(cancel.msg_type, MsgType::Cancel);

        let doc_xml = xml_of(alert);
        let doc = roxmltree::Document::parse(&doc_xml).unwrap();
        assert_eq!(text_of(&doc, "sent"), ["2019-07-04T23:00:00+08:00"]);
        assert_eq!(text_of(&doc, "status"), ["Actual"]);
        assert_eq!(text_of(&doc, "msgType"), ["Alert"]);
        assert_eq!(text_of(&doc, "language"), ["zh-CN", "en-US"]);
        assert_eq!(text_of(&doc, "responseType"), ["Evacuate", "Evacuate"]);
        assert_eq!(text_of(&doc, "references"), Vec::<&str>::new());
        assert_eq!(text_of(&doc, "areaDesc"), ["将军村", "将军村"]);
        let description = text_of(&doc, "description");
        assert!(description[0].contains("将军村、石门村"), "{description:?}");
        assert!(text_of(&doc, "instruction")[0].contains("南洲中学"));

        let cancel_xml = xml_of(cancel);
        let doc = roxmltree::Document::parse(&cancel_xml).unwrap();
        assert_eq!(text_of(&doc, "msgType"), ["Cancel"]);
        assert_eq!(text_of(&doc, "sent"), ["2019-07-06T23:10:00+08:00"]);
        assert_eq!(
            text_of(&doc, "references"),
            ["crest-FUKOU,crest-FUKOU.EV-1.1,2019-07-04T23:00:00+08:00"]
        );
        assert_eq!(alert.reference(), text_of(&doc, "references")[0]);
        assert_eq!(text_of(&doc, "responseType"), ["AllClear", "AllClear"]);

        // The feed lists the thread's latest message only; both can be fetched.
        let now = current(&s, &ctx(false));
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].identifier, cancel.identifier);
        assert_eq!(
            message(&s, &ctx(false), "crest-FUKOU.EV-1.1").as_ref(),
            Some(alert)
        );
        assert_eq!(message(&s, &ctx(false), "crest-FUKOU.EV-1.3"), None);
        assert_eq!(message(&s, &ctx(false), "other.EV-1.1"), None);
    }

    #[test]
    fn an_active_order_is_current_with_its_alert_and_an_order_lifted_without_a_time_has_none() {
        let d = dispatcher();
        let g = given(&world_with_people())
            .when_at(
                at(4, 23, 0),
                &d,
                json!({"type": "issue_evacuation_order", "name": "将军村", "zone": zone(),
                       "target_shelters": []}),
            )
            .then_events(|_| {});
        let now = current(g.state(), &ctx(false));
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].msg_type, MsgType::Alert);
        assert_valid(&now[0].xml());
        // A lift logged before lifts carried their time.
        let old = g.and(&[Event::EvacuationLifted {
            evacuation_id: EvacuationId::from("EV-1"),
            at: None,
        }]);
        assert!(messages(old.state(), &ctx(false)).is_empty());
    }

    #[test]
    fn polygons_are_lat_lon_closed_and_at_least_four_pairs() {
        let s = evacuation_state("将军村");
        let xml = messages(&s, &ctx(false))[0].xml();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let polygon = text_of(&doc, "polygon")[0];
        assert_eq!(
            polygon, "27,113 27,113.015 27.01,113.015 27.01,113 27,113",
            "CAP is lat,lon"
        );
        let pairs: Vec<(f64, f64)> = polygon.split(' ').map(|p| lat_lon(p).unwrap()).collect();
        assert_eq!(pairs.first(), pairs.last());
        // A ring left open is closed; fewer than three distinct vertices make no polygon.
        let open = [p(113.0, 27.0), p(113.1, 27.0), p(113.1, 27.1)];
        assert_eq!(
            cap_polygon(&open).unwrap(),
            [(27.0, 113.0), (27.0, 113.1), (27.1, 113.1), (27.0, 113.0)]
        );
        assert_eq!(cap_polygon(&[p(113.0, 27.0), p(113.1, 27.0)]), None);
    }

    #[test]
    fn response_changes_form_threads_of_alert_updates_and_cancel() {
        let d = dispatcher();
        let set = |level: Option<&str>, reason: &str| {
            json!({"type": "set_response_level", "jurisdiction": "fukou", "level": level,
                   "reason": reason})
        };
        let s = given(&world())
            .when_at(at(1, 20, 0), &d, set(Some("IV"), "强降雨"))
            .then_events(|_| {})
            .when_at(at(3, 8, 0), &d, set(Some("II"), "超保证"))
            .then_events(|_| {})
            .when_at(at(6, 12, 0), &d, set(Some("III"), "水位回落"))
            .then_events(|_| {})
            .when_at(at(8, 9, 0), &d, set(None, "汛情解除"))
            .then_events(|_| {})
            .when_at(at(20, 9, 0), &d, set(Some("IV"), "再次降雨"))
            .then_events(|_| {})
            .state()
            .clone();
        let all = messages(&s, &ctx(false));
        let kinds: Vec<(&str, MsgType, usize)> = all
            .iter()
            .map(|m| (m.identifier.as_str(), m.msg_type, m.references.len()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("crest-FUKOU.RL-fukou.1", MsgType::Alert, 0),
                ("crest-FUKOU.RL-fukou.2", MsgType::Update, 1),
                ("crest-FUKOU.RL-fukou.3", MsgType::Update, 2),
                ("crest-FUKOU.RL-fukou.4", MsgType::Cancel, 3),
                ("crest-FUKOU.RL-fukou.5", MsgType::Alert, 0),
            ]
        );
        for m in &all {
            assert_valid(&m.xml());
        }
        let update = all[1].xml();
        let doc = roxmltree::Document::parse(&update).unwrap();
        assert_eq!(
            text_of(&doc, "references"),
            ["crest-FUKOU,crest-FUKOU.RL-fukou.1,2019-07-01T20:00:00+08:00"]
        );
        assert_eq!(text_of(&doc, "severity"), ["Severe", "Severe"], "level II");
        assert!(text_of(&doc, "headline")[0].contains("提升为Ⅱ级应急响应"));
        assert!(text_of(&doc, "description")[1].contains("Reason: 超保证"));
        let cancel = all[3].xml();
        let doc = roxmltree::Document::parse(&cancel).unwrap();
        assert_eq!(
            text_of(&doc, "references")[0].split(' ').count(),
            3,
            "a cancel references the whole thread"
        );
        // Current: the cancel of the first thread and the alert of the second, newest first.
        let now: Vec<String> = current(&s, &ctx(false))
            .into_iter()
            .map(|m| m.identifier)
            .collect();
        assert_eq!(now, ["crest-FUKOU.RL-fukou.5", "crest-FUKOU.RL-fukou.4"]);
    }

    #[test]
    fn a_district_jurisdiction_is_named_and_any_other_id_is_encoded_in_identifiers() {
        let d = dispatcher();
        let s = given(&world_with_people())
            .when_at(
                at(1, 20, 0),
                &d,
                json!({"type": "set_response_level", "jurisdiction": "FUKOU", "level": "IV"}),
            )
            .then_events(|_| {})
            .when_at(
                at(1, 21, 0),
                &d,
                json!({"type": "set_response_level", "jurisdiction": "NZ", "level": "III"}),
            )
            .then_events(|_| {})
            .when_at(
                at(1, 22, 0),
                &d,
                json!({"type": "set_response_level", "jurisdiction": "镇,<&.", "level": "IV"}),
            )
            .then_events(|_| {})
            .state()
            .clone();
        let all = messages(&s, &ctx(false));
        let ids: Vec<&str> = all.iter().map(|m| m.identifier.as_str()).collect();
        assert_eq!(
            ids,
            [
                "crest-FUKOU.RL-FUKOU.1",
                "crest-FUKOU.RL-NZ.1",
                "crest-FUKOU.RL-~E9~95~87~2C~3C~26~2E.1"
            ]
        );
        let areas: Vec<&str> = all.iter().map(|m| m.infos[0].area.desc.as_str()).collect();
        assert_eq!(areas, ["涪口区", "南洲镇", "镇,<&."]);
        for m in &all {
            assert_valid(&m.xml());
        }
        assert_eq!(sender_for(Some("FUKOU")), "crest-FUKOU");
        assert_eq!(sender_for(Some("涪 口")), "crest-~E6~B6~AA~20~E5~8F~A3");
        assert_eq!(sender_for(None), "crest");
    }

    #[test]
    fn a_gauge_threshold_alert_is_an_alert_and_its_resolution_a_cancel() {
        let d = dispatcher();
        let read =
            |level: f64| json!({"type": "record_reading", "gauge_id": "G-XJ", "level_m": level});
        let raised = given(&world())
            .when_at(at(2, 6, 0), &d, read(40.3))
            .then_events(|_| {});
        let s = raised.state().clone();
        let all = messages(&s, &ctx(false));
        // Guard (38 m) and warning (40 m) are reached: two alerts, each its own thread.
        let alerts: Vec<(&str, &str)> = all
            .iter()
            .map(|m| (m.identifier.as_str(), m.infos[1].severity))
            .collect();
        assert_eq!(
            alerts,
            [
                ("crest-FUKOU.AL-1.1", "Minor"),
                ("crest-FUKOU.AL-2.1", "Moderate")
            ]
        );
        let xml = xml_of(&all[1]);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(text_of(&doc, "category"), ["Met", "Met"]);
        assert_eq!(text_of(&doc, "headline")[0], "涪口水位达到警戒水位");
        // The circle is around the gauge (lat,lon) and reaches the farthest vertex of XJ-E1
        // (113.10, 27.60): about 11.7 km.
        let circle = text_of(&doc, "circle")[0];
        let (centre, radius) = circle.split_once(' ').unwrap();
        assert_eq!(centre, "27.709,113.14");
        let far = p(113.14, 27.709).distance_m(p(113.10, 27.60)) / 1000.0;
        let r: f64 = radius.parse().unwrap();
        assert!(r >= far && r < far + 0.1, "{r} for {far}");

        let s = raised
            .when_at(at(5, 6, 0), &d, read(39.0))
            .then_events(|_| {})
            .state()
            .clone();
        let all = messages(&s, &ctx(false));
        let ids: Vec<(&str, MsgType)> = all
            .iter()
            .map(|m| (m.identifier.as_str(), m.msg_type))
            .collect();
        assert_eq!(
            ids,
            [
                ("crest-FUKOU.AL-1.1", MsgType::Alert),
                ("crest-FUKOU.AL-2.1", MsgType::Alert),
                ("crest-FUKOU.AL-2.2", MsgType::Cancel),
            ]
        );
        let xml = xml_of(&all[2]);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(
            text_of(&doc, "references"),
            ["crest-FUKOU,crest-FUKOU.AL-2.1,2019-07-02T06:00:00+08:00"]
        );
        assert_eq!(text_of(&doc, "sent"), ["2019-07-05T06:00:00+08:00"]);
    }

    #[test]
    fn a_drill_s_messages_are_exercises_and_say_so() {
        let s = evacuation_state("将军村");
        for m in messages(&s, &ctx(true)) {
            let xml = xml_of(&m);
            let doc = roxmltree::Document::parse(&xml).unwrap();
            assert_eq!(text_of(&doc, "status"), ["Exercise"]);
            assert_eq!(text_of(&doc, "note").len(), 1);
            assert!(text_of(&doc, "headline")[0].starts_with("【演练】"));
            assert!(text_of(&doc, "headline")[1].starts_with("EXERCISE: "));
        }
        for m in messages(&s, &ctx(false)) {
            let xml = m.xml();
            assert!(xml.contains("<status>Actual</status>"));
            assert!(!xml.contains("<note>"));
        }
        let feed = atom_feed(&s, &ctx(true), "/api/v1/cap");
        assert!(feed.contains("【演练】"));
    }

    #[test]
    fn text_with_markup_characters_round_trips() {
        let name = "A<&\"'>B\r\nC\tD\u{1}E";
        let s = evacuation_state(name);
        for m in messages(&s, &ctx(false)) {
            let xml = xml_of(&m);
            let doc = roxmltree::Document::parse(&xml).unwrap();
            assert_eq!(
                text_of(&doc, "areaDesc"),
                ["A<&\"'>B\r\nC\tD\u{FFFD}E"; 2],
                "XML 1.0 cannot carry U+0001: it becomes U+FFFD"
            );
        }
        let mut out = String::new();
        escape_into(&mut out, "<&>\"'\r");
        assert_eq!(out, "&lt;&amp;&gt;&quot;&apos;&#13;");
    }

    #[test]
    fn the_feed_lists_the_current_messages_newest_first_with_links() {
        let d = dispatcher();
        let s = given(&world_with_people())
            .when_at(
                at(4, 23, 0),
                &d,
                json!({"type": "issue_evacuation_order", "name": "将军村", "zone": zone(),
                       "target_shelters": ["S-1"]}),
            )
            .then_events(|_| {})
            .when_at(
                at(5, 1, 0),
                &d,
                json!({"type": "set_response_level", "jurisdiction": "FUKOU", "level": "II"}),
            )
            .then_events(|_| {})
            .state()
            .clone();
        let feed = atom_feed(&s, &ctx(false), "/api/v1/cap");
        let doc = roxmltree::Document::parse(&feed).unwrap();
        let root = doc.root_element();
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2005/Atom")
        );
        assert_eq!(text_of(&doc, "updated")[0], "2019-07-05T01:00:00+08:00");
        let links: Vec<&str> = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "link" && n.attribute("rel") == Some("alternate"))
            .map(|n| n.attribute("href").unwrap())
            .collect();
        assert_eq!(
            links,
            [
                "/api/v1/cap/crest-FUKOU.RL-FUKOU.1",
                "/api/v1/cap/crest-FUKOU.EV-1.1"
            ]
        );
        let empty = atom_feed(&State::default(), &ctx(false), "/api/v1/cap");
        let doc = roxmltree::Document::parse(&empty).unwrap();
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("entry"))
                .count(),
            0
        );
    }
}
