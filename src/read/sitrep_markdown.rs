//! The situation report for people, as Markdown: in Chinese a 汛情快报, in English a flood
//! situation report. The figures are the committed state's, the same as the JSON sitrep's; every
//! enumerated value is named through `domain::vocabulary` (no table of names here).
//!
//! One function per topic ([`TOPICS`]), each returning its section or `None` when the topic has
//! nothing to say; the report numbers the sections it gets (casualties always: their zeros are
//! facts). To add one, write `fn topic(r: &Report) -> Option<Section>` and list it in `TOPICS`.

use crate::domain::State;
use crate::domain::alerts::AlertState;
use crate::domain::incidents::CommitmentState;
use crate::domain::model::*;
use crate::domain::patrol::WaterStage;
use crate::domain::vocabulary::{Lang, Named};
use std::collections::BTreeMap;
use std::fmt::Write;
use strum::VariantArray;

/// What the report is about: where, and the moment it describes.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// The district's name (the map's `district` layer), when known.
    pub district: Option<String>,
    /// The time the report describes, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The newest event folded into the state.
    pub seq: u64,
}

/// The report being written: the state, the language and the time.
pub struct Report<'a> {
    pub state: &'a State,
    pub lang: Lang,
    pub header: &'a Header,
}

/// One numbered section: its heading and its Markdown body.
pub struct Section {
    pub heading: String,
    pub body: String,
}

type Topic = fn(&Report<'_>) -> Option<Section>;

/// The sections, in the order a 汛情快报 gives them.
const TOPICS: &[Topic] = &[
    response_levels,
    water_levels,
    hazards,
    incidents,
    patrols,
    evacuation,
    casualties,
    shelters,
    materials,
    teams,
    alerts,
];

/// The whole report.
pub fn markdown(state: &State, header: &Header, lang: Lang) -> String {
    let r = Report {
        state,
        lang,
        header,
    };
    let mut out = title(&r);
    for (i, section) in TOPICS.iter().filter_map(|topic| topic(&r)).enumerate() {
        let number = match lang {
            Lang::Zh => format!("{}、", chinese_ordinal(i + 1)),
            Lang::En => format!("{}. ", i + 1),
        };
        let _ = write!(out, "\n## {number}{}\n\n{}", section.heading, section.body);
    }
    out
}

impl Report<'_> {
    fn t<'s>(&self, zh: &'s str, en: &'s str) -> &'s str {
        self.lang.pick(zh, en)
    }

    fn name<T: Named>(&self, value: T) -> &'static str {
        self.lang.name(value)
    }

    /// A time as people in the district read it: Beijing time (UTC+8).
    fn time(&self, ms: i64) -> String {
        let (y, mo, d, h, mi, _) = crate::clock::civil(ms, 8);
        match self.lang {
            Lang::Zh => format!("{y}年{mo}月{d}日 {h:02}:{mi:02}"),
            Lang::En => format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}"),
        }
    }

    /// A time of the same day as the report, shorter.
    fn clock(&self, ms: i64) -> String {
        let (_, mo, d, h, mi, _) = crate::clock::civil(ms, 8);
        let (_, at_mo, at_d, ..) = crate::clock::civil(self.header.at_ms, 8);
        if (mo, d) == (at_mo, at_d) {
            format!("{h:02}:{mi:02}")
        } else {
            match self.lang {
                Lang::Zh => format!("{mo}月{d}日 {h:02}:{mi:02}"),
                Lang::En => format!("{mo:02}-{d:02} {h:02}:{mi:02}"),
            }
        }
    }
}

/// `n` and the noun, singular or plural (English only).
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn chinese_ordinal(n: usize) -> String {
    const DIGITS: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        1..=9 => DIGITS[n].to_string(),
        10 => "十".to_string(),
        11..=19 => format!("十{}", DIGITS[n - 10]),
        _ => n.to_string(),
    }
}

/// `part` of `whole` in percent with one decimal, or a dash when `whole` is 0.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "—".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// A table: a header row and rows of cells. A `|` in a cell (free text) is escaped.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |c: &str| c.replace('|', "\\|");
    let mut out = format!("| {} |\n", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header.iter().map(|_| " --- |").collect::<String>()
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

fn title(r: &Report<'_>) -> String {
    let h = r.header;
    let district = h.district.as_deref().unwrap_or("");
    let mut out = match &r.state.exercise {
        // A drill's report can never be taken for the real one.
        Some(e) => match r.lang {
            Lang::Zh => format!(
                "**【演练 EXERCISE】本报告为演练“{}”的内容，非实际汛情。**\n\n",
                e.title
            ),
            Lang::En => format!(
                "**[EXERCISE] This report belongs to the drill \"{}\", not to a real flood.**\n\n",
                e.title
            ),
        },
        None => String::new(),
    };
    out.push_str(&title_line(r, district));
    out
}

fn title_line(r: &Report<'_>, district: &str) -> String {
    let h = r.header;
    match r.lang {
        Lang::Zh => format!(
            "# {district}汛情快报\n\n截至{}（北京时间），事件日志第 {} 号。\n",
            r.time(h.at_ms),
            h.seq
        ),
        Lang::En => {
            let of = if district.is_empty() {
                String::new()
            } else {
                format!(": {district}")
            };
            format!(
                "# Flood situation report{of}\n\nAs of {} Beijing time (UTC+8), event log seq {}.\n",
                r.time(h.at_ms),
                h.seq
            )
        }
    }
}

/// The response level in force in each jurisdiction, and since when.
fn response_levels(r: &Report<'_>) -> Option<Section> {
    let mut body = String::new();
    for (jurisdiction, history) in &r.state.response {
        let Some(change) = history.last() else {
            continue;
        };
        let level = match change.level {
            Some(level) => r.name(level).to_string(),
            None => r.t("应急响应已解除", "response lifted").to_string(),
        };
        let reason = if change.reason.is_empty() {
            String::new()
        } else {
            format!("{}{}", r.t("，原因：", "; reason: "), change.reason)
        };
        let _ = writeln!(
            body,
            "- {jurisdiction}{}{level}{}{}{reason}{}",
            r.t("：", ": "),
            r.t("（自", " (since "),
            r.clock(change.at),
            r.t("）", ")")
        );
    }
    if body.is_empty() {
        body = format!(
            "{}\n",
            r.t("未启动应急响应。", "No response level in force.")
        );
    }
    Some(Section {
        heading: r.t("应急响应", "Response levels").into(),
        body,
    })
}

/// The stage of a level against a gauge's thresholds.
fn stage(level: f64, t: &Thresholds) -> WaterStage {
    if level >= t.guaranteed_m {
        WaterStage::Guaranteed
    } else if level >= t.warning_m {
        WaterStage::Warning
    } else if level >= t.guard_m {
        WaterStage::Guard
    } else {
        WaterStage::Normal
    }
}

/// Each gauge's last reading against its 警戒 (warning) and 保证 (guaranteed) levels.
fn water_levels(r: &Report<'_>) -> Option<Section> {
    if r.state.gauges.is_empty() {
        return None;
    }
    let signed = |d: f64| format!("{:+.2}", d).replace('-', "−");
    let rows: Vec<Vec<String>> = r
        .state
        .gauges
        .values()
        .map(|g| {
            let t = &g.thresholds;
            let (level, at, warning, guaranteed, stage) = match g.last {
                Some(reading) => (
                    format!("{:.2}", reading.level_m),
                    r.clock(reading.time_ms),
                    signed(reading.level_m - t.warning_m),
                    signed(reading.level_m - t.guaranteed_m),
                    r.name(stage(reading.level_m, t)).to_string(),
                ),
                None => {
                    let none = r.t("无读数", "no reading").to_string();
                    (none, "—".into(), "—".into(), "—".into(), "—".into())
                }
            };
            let rise = super::gauges::figures(r.state, g)
                .rate_of_rise_m_per_h
                .map_or("—".to_string(), |m| format!("{m:+.2}").replace('-', "−"));
            vec![
                format!("{}{}{}{}", g.name, r.t("（", " ("), g.id, r.t("）", ")")),
                g.river.clone(),
                level,
                at,
                rise,
                format!("{:.2}", t.warning_m),
                warning,
                format!("{:.2}", t.guaranteed_m),
                guaranteed,
                stage,
            ]
        })
        .collect();
    let header = match r.lang {
        Lang::Zh => [
            "水位站",
            "河流",
            "水位（米）",
            "时间",
            "涨率（米/时）",
            "警戒水位",
            "超警戒",
            "保证水位",
            "超保证",
            "状态",
        ],
        Lang::En => [
            "gauge",
            "river",
            "level (m)",
            "time",
            "rise (m/h)",
            "warning level",
            "above warning",
            "guaranteed level",
            "above guaranteed",
            "stage",
        ],
    };
    let datums: Vec<&str> = {
        let mut d: Vec<&str> = r.state.gauges.values().map(|g| g.datum.as_str()).collect();
        d.sort_unstable();
        d.dedup();
        d
    };
    let note = match r.lang {
        Lang::Zh => format!("水位基面：{}。\n", datums.join("、")),
        Lang::En => format!("Levels above the {} datum.\n", datums.join(", ")),
    };
    let mut lines = String::new();
    for g in r.state.gauges.values() {
        if let Some(f) = &g.forecast {
            let source = if f.source.is_empty() {
                "—"
            } else {
                &f.source
            };
            let _ = writeln!(
                lines,
                "{}",
                match r.lang {
                    Lang::Zh => format!(
                        "- {}：预报洪峰水位 {:.2} 米，出现时间 {}（{}）",
                        g.name,
                        f.peak_m,
                        r.time(f.peak_at),
                        source
                    ),
                    Lang::En => format!(
                        "- {}: forecast crest {:.2} m at {} ({})",
                        g.name,
                        f.peak_m,
                        r.time(f.peak_at),
                        source
                    ),
                }
            );
        }
        if let (Some(rec), Some(last)) = (&g.record, g.last) {
            let d = last.level_m - rec.level_m;
            let _ = writeln!(
                lines,
                "{}",
                match r.lang {
                    Lang::Zh => format!(
                        "- {}：历史最高水位 {:.2} 米（{}，{}），现水位{} {:.2} 米",
                        g.name,
                        rec.level_m,
                        rec.date,
                        rec.station,
                        if d >= 0.0 { "高出" } else { "低于" },
                        d.abs()
                    ),
                    Lang::En => format!(
                        "- {}: record level {:.2} m ({}, {}); now {:.2} m {}",
                        g.name,
                        rec.level_m,
                        rec.date,
                        rec.station,
                        d.abs(),
                        if d >= 0.0 { "above it" } else { "below it" }
                    ),
                }
            );
        }
    }
    if !lines.is_empty() {
        lines.push('\n');
    }
    Some(Section {
        heading: r.t("水情", "Water levels").into(),
        body: format!("{}\n{lines}{note}", table(&header, &rows)),
    })
}

/// Hazards by kind and status, and the ones still open.
fn hazards(r: &Report<'_>) -> Option<Section> {
    let hazards = &r.state.hazards;
    if hazards.is_empty() {
        return Some(Section {
            heading: r.t("险情", "Hazards").into(),
            body: format!("{}\n", r.t("未发现险情。", "No hazards reported.")),
        });
    }
    let count = |s: HazardStatus| hazards.values().filter(|h| h.status == s).count();
    let open = hazards.values().filter(|h| !h.status.is_closed()).count();
    let mut body = match r.lang {
        Lang::Zh => format!(
            "累计发现险情 {} 处，已排除 {} 处，尚未排除 {} 处。\n\n",
            hazards.len(),
            count(HazardStatus::Eliminated),
            open
        ),
        Lang::En => format!(
            "{} found, {} eliminated, {} still open.\n\n",
            plural(hazards.len(), "hazard", "hazards"),
            count(HazardStatus::Eliminated),
            open
        ),
    };
    let mut by_kind: BTreeMap<usize, (HazardKind, BTreeMap<usize, u32>)> = BTreeMap::new();
    let position = |k: HazardKind| HazardKind::VARIANTS.iter().position(|v| *v == k);
    let status_at = |s: HazardStatus| HazardStatus::VARIANTS.iter().position(|v| *v == s);
    for h in hazards.values() {
        let (Some(k), Some(s)) = (position(h.kind), status_at(h.status)) else {
            continue;
        };
        *by_kind
            .entry(k)
            .or_insert((h.kind, BTreeMap::new()))
            .1
            .entry(s)
            .or_default() += 1;
    }
    let mut header = vec![r.t("险情类别", "kind")];
    header.extend(HazardStatus::VARIANTS.iter().map(|s| r.name(*s)));
    header.push(r.t("合计", "total"));
    let rows: Vec<Vec<String>> = by_kind
        .values()
        .map(|(kind, counts)| {
            let mut row = vec![r.name(*kind).to_string()];
            row.extend(
                (0..HazardStatus::VARIANTS.len())
                    .map(|s| counts.get(&s).copied().unwrap_or(0).to_string()),
            );
            row.push(counts.values().sum::<u32>().to_string());
            row
        })
        .collect();
    body.push_str(&table(&header, &rows));
    let open: Vec<&Hazard> = hazards.values().filter(|h| !h.status.is_closed()).collect();
    if !open.is_empty() {
        let _ = writeln!(body, "\n{}\n", r.t("尚未排除的险情：", "Open hazards:"));
        for h in open {
            let place = match &h.levee {
                Some(at) => format!("{} {} {}", at.levee_id, at.chainage, r.name(at.side)),
                None => format!("{:.4}, {:.4}", h.position.lon(), h.position.lat()),
            };
            let _ = writeln!(
                body,
                "- {} {}{}{}{}{}{}{}{}",
                h.id,
                r.name(h.kind),
                r.t("（", " ("),
                r.name(h.severity),
                r.t("），", "), "),
                place,
                r.t("，", ", "),
                r.name(h.status),
                if h.description.is_empty() {
                    String::new()
                } else {
                    format!("{}{}", r.t("：", ": "), h.description)
                }
            );
        }
    }
    Some(Section {
        heading: r.t("险情", "Hazards").into(),
        body,
    })
}

/// Open incidents (breaches and other major hazards under a command post): people on scene.
fn incidents(r: &Report<'_>) -> Option<Section> {
    let open: Vec<_> = r.state.incidents.values().filter(|i| i.is_open()).collect();
    if open.is_empty() {
        return None;
    }
    let mut body = String::new();
    let total: u64 = open.iter().map(|i| i.headcount_on_scene()).sum();
    let _ = writeln!(
        body,
        "{}\n",
        match r.lang {
            Lang::Zh => format!("现场指挥 {} 处，在现场抢险 {} 人。", open.len(), total),
            Lang::En => format!(
                "{} under a command post, {} people on scene.",
                plural(open.len(), "incident", "incidents"),
                total
            ),
        }
    );
    for i in open {
        let on_scene = i
            .teams
            .values()
            .filter(|c| c.state == CommitmentState::OnScene)
            .count();
        let coming = i
            .teams
            .values()
            .filter(|c| {
                matches!(
                    c.state,
                    CommitmentState::Requested | CommitmentState::EnRoute
                )
            })
            .count();
        let hazard = r.state.hazards.get(&i.hazard_id);
        let kind = hazard.map_or("", |h| r.name(h.kind));
        let stage = i.stage().map_or_else(
            || r.t("未开始", "not started").to_string(),
            |s| r.name(s).to_string(),
        );
        // The name the watch gives a breach's incident is English; say it in the report's.
        let name = if i.name == format!("breach {}", i.hazard_id) && r.lang == Lang::Zh {
            format!("{}溃口抢险", i.hazard_id)
        } else {
            i.name.clone()
        };
        let post = i.post.as_ref().map_or(String::new(), |p| match r.lang {
            Lang::Zh => format!("；现场指挥部：{}，指挥长：{}", p.name, p.commander),
            Lang::En => format!("; command post: {}, commander: {}", p.name, p.commander),
        });
        let line = match r.lang {
            Lang::Zh => format!(
                "- {}（{}，{}{}）：在现场 {} 人（{} 支队伍），增援途中 {} 支；进展：{}{post}",
                name,
                i.id,
                kind,
                i.hazard_id,
                i.headcount_on_scene(),
                on_scene,
                coming,
                stage
            ),
            Lang::En => format!(
                "- {} ({}, {} {}): {} people on scene ({}), {} coming; stage: {}{post}",
                name,
                i.id,
                kind,
                i.hazard_id,
                i.headcount_on_scene(),
                plural(on_scene, "team", "teams"),
                plural(coming, "team", "teams"),
                stage
            ),
        };
        let _ = writeln!(body, "{line}");
    }
    Some(Section {
        heading: r.t("重大险情现场", "Incidents").into(),
        body,
    })
}

/// Patrol sections, where patrols are required now, and the gaps.
fn patrols(r: &Report<'_>) -> Option<Section> {
    let s = r.state;
    if s.patrol_sections.is_empty() {
        return None;
    }
    let required = s
        .patrol_sections
        .values()
        .filter(|p| p.interval_min.is_some())
        .count();
    let gaps = super::patrols::gaps(s, r.header.at_ms);
    let kind = |k: &str| gaps.iter().filter(|g| g["kind"] == k).count();
    let (overdue, unstaffed) = (kind("overdue"), kind("unstaffed"));
    let body = match r.lang {
        Lang::Zh => format!(
            "巡查责任段 {} 段，现需巡查 {} 段；巡查超时 {} 处，无人值守 {} 段。\n",
            s.patrol_sections.len(),
            required,
            overdue,
            unstaffed
        ),
        Lang::En => format!(
            "{}, {} where patrols are required now; {} overdue, {} unstaffed.\n",
            plural(s.patrol_sections.len(), "patrol section", "patrol sections"),
            required,
            plural(overdue, "stretch", "stretches"),
            plural(unstaffed, "section", "sections")
        ),
    };
    Some(Section {
        heading: r.t("巡堤查险", "Levee patrols").into(),
        body,
    })
}

/// Evacuation orders: people to move, people moved, where to.
fn evacuation(r: &Report<'_>) -> Option<Section> {
    let s = r.state;
    if s.evacuations.is_empty() && s.rescued_outside_orders == 0 {
        return None;
    }
    let e = super::people::evacuation(s, None);
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let t = &e["total"];
    let (at_risk, evacuated, remaining) =
        (n(&t["at_risk"]), n(&t["evacuated"]), n(&t["remaining"]));
    let (shelter, relatives, rescued) =
        (n(&t["shelter"]), n(&t["self_arranged"]), n(&t["rescued"]));
    let active = n(&e["orders_active"]);
    let mut body = match r.lang {
        Lang::Zh => format!(
            "转移令 {} 道（{} 道执行中），应转移 {} 人，已转移 {} 人（{}），尚未转移 {} 人。已转移人员中：安置点安置 {} 人，投亲靠友 {} 人，救援转移 {} 人。\n\n",
            s.evacuations.len(),
            active,
            at_risk,
            evacuated,
            percent(evacuated, at_risk),
            remaining,
            shelter,
            relatives,
            rescued
        ),
        Lang::En => format!(
            "{} ({} active): {} people to move, {} moved ({}), {} still in the zones. Of those moved: {} into shelters, {} with relatives or friends, {} rescued.\n\n",
            plural(s.evacuations.len(), "evacuation order", "evacuation orders"),
            active,
            at_risk,
            evacuated,
            percent(evacuated, at_risk),
            remaining,
            shelter,
            relatives,
            rescued
        ),
    };
    if n(&e["rescued_outside_orders"]) > 0 {
        let _ = write!(
            body,
            "{}",
            match r.lang {
                Lang::Zh => format!(
                    "（救援转移中 {} 人被困地点不在转移区内。）\n\n",
                    n(&e["rescued_outside_orders"])
                ),
                Lang::En => format!(
                    "({} of the rescued were trapped outside every evacuation zone.)\n\n",
                    n(&e["rescued_outside_orders"])
                ),
            }
        );
    }
    let shown = |id: &serde_json::Value, name: &serde_json::Value| {
        let (id, name) = (id.as_str().unwrap_or(""), name.as_str().unwrap_or(""));
        match (id, name) {
            ("", "") => "—".to_string(),
            (id, "") => id.to_string(),
            (_, name) => name.to_string(),
        }
    };
    let village_rows: Vec<Vec<String>> = e["by_village"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let t = &v["tally"];
            let town = s
                .grid_cells
                .values()
                .find(|c| Some(c.town.as_str()) == v["town"].as_str())
                .map(|c| {
                    if c.town_name.is_empty() {
                        c.town.clone()
                    } else {
                        c.town_name.clone()
                    }
                })
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "—".to_string());
            vec![
                town,
                shown(&v["village"], &v["name"]),
                n(&t["at_risk"]).to_string(),
                n(&t["evacuated"]).to_string(),
                n(&t["shelter"]).to_string(),
                n(&t["self_arranged"]).to_string(),
                n(&t["rescued"]).to_string(),
                n(&t["remaining"]).to_string(),
            ]
        })
        .collect();
    if !village_rows.is_empty() {
        let header = match r.lang {
            Lang::Zh => [
                "镇",
                "村（社区）",
                "应转移",
                "已转移",
                "安置点",
                "投亲靠友",
                "救援",
                "未转移",
            ],
            Lang::En => [
                "town",
                "village",
                "to move",
                "moved",
                "shelters",
                "relatives",
                "rescued",
                "remaining",
            ],
        };
        let _ = writeln!(body, "{}", table(&header, &village_rows));
    }
    let vulnerable = e["vulnerable_remaining"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !vulnerable.is_empty() {
        let _ = writeln!(
            body,
            "{}",
            r.t(
                "尚未转移的重点人员（独居老人、残疾人、孕妇、无人监护儿童）：",
                "Vulnerable people still in the zones (elderly living alone, disabled, pregnant, children without guardians):"
            )
        );
        for v in &vulnerable {
            let k = &v["remaining"];
            let _ = writeln!(
                body,
                "- {}（{}）：{} / {} / {} / {}",
                shown(&v["village"], &v["village_name"]),
                v["cell_id"].as_str().unwrap_or(""),
                n(&k["elderly_alone"]),
                n(&k["disabled"]),
                n(&k["pregnant"]),
                n(&k["unaccompanied_children"])
            );
        }
        body.push('\n');
    }
    let mut orders: Vec<&EvacuationOrder> = s.evacuations.values().collect();
    orders.sort_by_key(|o| (o.id.as_str().len(), o.id.as_str()));
    for o in orders {
        let targets: Vec<String> = o
            .target_shelters
            .iter()
            .map(|id| {
                s.shelters
                    .get(id)
                    .map_or(id.to_string(), |sh| sh.name.clone())
            })
            .collect();
        let targets = if targets.is_empty() {
            "—".to_string()
        } else {
            targets.join(r.t("、", ", "))
        };
        let line = match r.lang {
            Lang::Zh => format!(
                "- {}（{}，{}）：{} 人中已转移 {} 人；安置去向：{}",
                o.name,
                o.id,
                r.name(o.status),
                o.population,
                o.evacuated,
                targets
            ),
            Lang::En => format!(
                "- {} ({}, {}): {} of {} people moved; to: {}",
                o.name,
                o.id,
                r.name(o.status),
                o.evacuated,
                o.population,
                targets
            ),
        };
        let _ = writeln!(body, "{line}");
    }
    Some(Section {
        heading: r.t("人员转移", "Evacuation").into(),
        body,
    })
}

/// Casualties: every figure, zero included (a zero is a recorded fact), and when they were last
/// confirmed.
fn casualties(r: &Report<'_>) -> Option<Section> {
    let s = r.state;
    let f = crate::domain::casualties::CasualtyFigures::of(s.casualties.values());
    let mut body = match r.lang {
        Lang::Zh => format!(
            "死亡 {} 人，失踪 {} 人，受伤 {} 人，被困 {} 人（已救出 {} 人）。",
            f.dead, f.missing, f.injured, f.trapped, f.rescued
        ),
        Lang::En => format!(
            "Dead {}, missing {}, injured {}, trapped {} ({} rescued).",
            f.dead, f.missing, f.injured, f.trapped, f.rescued
        ),
    };
    let confirmed = match &s.casualties_confirmed {
        Some(c) if c.figures == f => match r.lang {
            Lang::Zh => format!("以上数字经{}于{}核实。", c.by, r.clock(c.at)),
            Lang::En => format!(" Confirmed by {} at {}.", c.by, r.clock(c.at)),
        },
        Some(c) => match r.lang {
            Lang::Zh => format!("数字在{}核实后已有变化，待重新核实。", r.clock(c.at)),
            Lang::En => format!(
                " The figures changed since they were confirmed at {}; not confirmed again yet.",
                r.clock(c.at)
            ),
        },
        None => r.t("数字尚未经核实。", " Not confirmed yet.").to_string(),
    };
    body.push_str(&confirmed);
    body.push('\n');
    let uncounted = uncounted_rescues(s);
    if uncounted > 0 {
        let _ = writeln!(
            body,
            "{}",
            match r.lang {
                Lang::Zh => format!(
                    "\n（已救出人员中 {uncounted} 人未计入转移人数：其所在网格已无未转移人员，系他处已计入，请核对。）"
                ),
                Lang::En => format!(
                    "\n({uncounted} of the rescued are not counted as evacuated: their cell had nobody left to move, so they were counted another way already; please check.)"
                ),
            }
        );
    }
    let mut records: Vec<&crate::domain::casualties::CasualtyRecord> =
        s.casualties.values().filter(|c| c.count > 0).collect();
    records.sort_by_key(|c| (c.recorded_at, c.id.as_str().len(), c.id.as_str()));
    if !records.is_empty() {
        body.push('\n');
    }
    for c in records {
        let place = if c.place.is_empty() { "—" } else { &c.place };
        let line = match r.lang {
            Lang::Zh => format!(
                "- {}（{}）：{} {} 人{}，{}；来源：{}",
                c.id,
                r.clock(c.occurred_at),
                r.name(c.kind),
                c.count,
                if c.kind == crate::domain::casualties::CasualtyKind::Trapped {
                    format!("（已救出 {} 人）", c.rescued)
                } else {
                    String::new()
                },
                place,
                c.source
            ),
            Lang::En => format!(
                "- {} ({}): {} {}{}, {}; source: {}",
                c.id,
                r.clock(c.occurred_at),
                r.name(c.kind),
                c.count,
                if c.kind == crate::domain::casualties::CasualtyKind::Trapped {
                    format!(" ({} rescued)", c.rescued)
                } else {
                    String::new()
                },
                place,
                c.source
            ),
        };
        let _ = writeln!(body, "{line}");
    }
    Some(Section {
        heading: r.t("人员伤亡", "Casualties").into(),
        body,
    })
}

/// People rescued but not counted as evacuated (the sum of `people_rescued.uncounted`): everyone
/// brought out, less the rescues the departures counted.
fn uncounted_rescues(s: &State) -> u64 {
    let rescued: u64 = s.casualties.values().map(|c| u64::from(c.rescued)).sum();
    let counted: u64 = s
        .evacuations
        .values()
        .map(|o| u64::from(o.departures.rescued))
        .sum::<u64>()
        + s.rescued_outside_orders;
    rescued.saturating_sub(counted)
}

/// Flood materials: per item, in the depots now, sent out, used up, still out; depots low.
fn materials(r: &Report<'_>) -> Option<Section> {
    let s = r.state;
    if s.materials.depots.is_empty() {
        return None;
    }
    let m = serde_json::to_value(super::materials::figures(s)).unwrap_or_default();
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let rows: Vec<Vec<String>> = crate::domain::materials::MaterialItem::VARIANTS
        .iter()
        .map(|item| {
            let f = &m["items"][<&str>::from(*item)];
            vec![
                r.name(*item).to_string(),
                n(&f["in_stock"]).to_string(),
                n(&f["issued"]).to_string(),
                n(&f["consumed"]).to_string(),
                n(&f["out"]).to_string(),
            ]
        })
        .collect();
    let header = match r.lang {
        Lang::Zh => ["物资", "库存", "已调出", "已消耗", "在途及现场"],
        Lang::En => ["item", "in stock", "issued", "consumed", "out"],
    };
    let mut body = match r.lang {
        Lang::Zh => format!("防汛物资仓库 {} 个。\n\n", s.materials.depots.len()),
        Lang::En => format!(
            "{}.\n\n",
            plural(s.materials.depots.len(), "depot", "depots")
        ),
    };
    body.push_str(&table(&header, &rows));
    let low = m["low_stock"].as_array().cloned().unwrap_or_default();
    if !low.is_empty() {
        let _ = writeln!(body, "\n{}", r.t("库存不足：", "Low stock:"));
        for l in &low {
            let depot = l["depot_id"].as_str().unwrap_or("");
            let name = s
                .materials
                .depots
                .get(depot)
                .map_or(depot, |d| d.name.as_str());
            let item =
                serde_json::from_value::<crate::domain::materials::MaterialItem>(l["item"].clone())
                    .map_or("?", |i| r.name(i));
            let line = match r.lang {
                Lang::Zh => format!(
                    "- {name}：{item} {}（警戒库存 {}）",
                    n(&l["stock"]),
                    n(&l["low_stock"])
                ),
                Lang::En => format!(
                    "- {name}: {item} {} (low below {})",
                    n(&l["stock"]),
                    n(&l["low_stock"])
                ),
            };
            let _ = writeln!(body, "{line}");
        }
    }
    Some(Section {
        heading: r.t("防汛物资", "Flood materials").into(),
        body,
    })
}

/// Shelters: open ones, capacity, occupancy, and how long their supplies last.
fn shelters(r: &Report<'_>) -> Option<Section> {
    let s = r.state;
    if s.shelters.is_empty() {
        return None;
    }
    let open: Vec<&Shelter> = s.shelters.values().filter(|sh| sh.open).collect();
    let capacity: u64 = open.iter().map(|sh| u64::from(sh.capacity)).sum();
    let occupancy: u64 = s.shelters.values().map(|sh| u64::from(sh.occupancy)).sum();
    let mut body = match r.lang {
        Lang::Zh => format!(
            "开放安置点 {} 个，可容纳 {} 人，现安置 {} 人（{}）。\n\n",
            open.len(),
            capacity,
            occupancy,
            percent(occupancy, capacity)
        ),
        Lang::En => format!(
            "{} open for {} people, {} sheltered ({}).\n\n",
            plural(open.len(), "shelter", "shelters"),
            capacity,
            occupancy,
            percent(occupancy, capacity)
        ),
    };
    let rows: Vec<Vec<String>> = s
        .shelters
        .values()
        .filter(|sh| sh.open || sh.occupancy > 0)
        .map(|sh| {
            vec![
                format!("{}{}{}{}", sh.name, r.t("（", " ("), sh.id, r.t("）", ")")),
                if sh.town.is_empty() {
                    "—".into()
                } else {
                    sh.town.clone()
                },
                sh.capacity.to_string(),
                sh.occupancy.to_string(),
                percent(u64::from(sh.occupancy), u64::from(sh.capacity)),
                sh.days_of_supply_left()
                    .map_or("—".into(), |d| format!("{d:.1}")),
                if sh.open {
                    r.t("开放", "open").into()
                } else {
                    r.t("关闭", "closed").into()
                },
            ]
        })
        .collect();
    let header = match r.lang {
        Lang::Zh => [
            "安置点",
            "乡镇",
            "容量",
            "在住",
            "占用率",
            "物资可用天数",
            "状态",
        ],
        Lang::En => [
            "shelter",
            "town",
            "capacity",
            "sheltered",
            "occupancy",
            "days of supplies",
            "state",
        ],
    };
    body.push_str(&table(&header, &rows));
    // Open shelters that a breach now floods: the command must move people out of them.
    let breached = s.breached_levees();
    if !breached.is_empty() {
        let flooded: Vec<String> = s
            .shelters
            .values()
            .filter(|sh| sh.open && s.shelter_flood_safety(sh).in_breach_flood_area)
            .map(|sh| format!("{}{}{}{}", sh.name, r.t("（", " ("), sh.id, r.t("）", ")")))
            .collect();
        let levees: Vec<String> = breached
            .iter()
            .map(|l| match s.levees.get(*l) {
                Some(levee) if !levee.spec().name.is_empty() => {
                    format!(
                        "{}{}{}{}",
                        levee.spec().name,
                        r.t("（", " ("),
                        l,
                        r.t("）", ")")
                    )
                }
                _ => l.to_string(),
            })
            .collect();
        let _ = write!(
            body,
            "\n{}",
            match (r.lang, flooded.is_empty()) {
                (Lang::Zh, true) => format!(
                    "溃口堤防：{}；开放的安置点均不在其淹没区内。\n",
                    levees.join("、")
                ),
                (Lang::Zh, false) => format!(
                    "溃口堤防：{}；位于其淹没区内的开放安置点：{}。\n",
                    levees.join("、"),
                    flooded.join("、")
                ),
                (Lang::En, true) => format!(
                    "Breached levees: {}; no open shelter lies in their flood areas.\n",
                    levees.join(", ")
                ),
                (Lang::En, false) => format!(
                    "Breached levees: {}; open shelters in their flood areas: {}.\n",
                    levees.join(", "),
                    flooded.join(", ")
                ),
            }
        );
    }
    Some(Section {
        heading: r.t("安置点", "Shelters").into(),
        body,
    })
}

/// Teams and people by status.
fn teams(r: &Report<'_>) -> Option<Section> {
    let s = r.state;
    if s.teams.is_empty() {
        return None;
    }
    let mut by_status: BTreeMap<usize, (u32, u64)> = BTreeMap::new();
    for t in s.teams.values() {
        let status = s.team_status(t);
        let at = TeamStatus::VARIANTS
            .iter()
            .position(|v| *v == status)
            .unwrap_or(0);
        let e = by_status.entry(at).or_default();
        e.0 += 1;
        e.1 += u64::from(t.headcount);
    }
    let people: u64 = by_status.values().map(|(_, p)| p).sum();
    let rows: Vec<Vec<String>> = by_status
        .iter()
        .map(|(at, (n, p))| {
            vec![
                r.name(TeamStatus::VARIANTS[*at]).to_string(),
                n.to_string(),
                p.to_string(),
            ]
        })
        .collect();
    let header = [
        r.t("状态", "status"),
        r.t("队伍", "teams"),
        r.t("人数", "people"),
    ];
    let lead = match r.lang {
        Lang::Zh => format!("抢险队伍 {} 支，共 {} 人。\n\n", s.teams.len(), people),
        Lang::En => format!(
            "{}, {} people.\n\n",
            plural(s.teams.len(), "team", "teams"),
            people
        ),
    };
    Some(Section {
        heading: r.t("抢险力量", "Teams").into(),
        body: format!("{lead}{}", table(&header, &rows)),
    })
}

/// Open alerts by kind and state.
fn alerts(r: &Report<'_>) -> Option<Section> {
    let mut open: Vec<_> = r.state.alerts.values().filter(|a| a.is_open()).collect();
    // In the order they were raised: by number (AL-10 after AL-9).
    open.sort_by_key(|a| (a.id.as_str().len(), a.id.as_str()));
    if open.is_empty() {
        return Some(Section {
            heading: r.t("告警", "Alerts").into(),
            body: format!("{}\n", r.t("无未解除的告警。", "No open alerts.")),
        });
    }
    let count = |s: AlertState| open.iter().filter(|a| a.state == s).count();
    let mut body = match r.lang {
        Lang::Zh => format!(
            "未解除告警 {} 条：{} {} 条，{} {} 条。\n\n",
            open.len(),
            r.name(AlertState::Raised),
            count(AlertState::Raised),
            r.name(AlertState::Acknowledged),
            count(AlertState::Acknowledged)
        ),
        Lang::En => format!(
            "{}: {} {}, {} {}.\n\n",
            plural(open.len(), "open alert", "open alerts"),
            count(AlertState::Raised),
            r.name(AlertState::Raised),
            count(AlertState::Acknowledged),
            r.name(AlertState::Acknowledged)
        ),
    };
    for a in open {
        let qualifier = if a.qualifier.is_empty() {
            String::new()
        } else {
            format!(" {}", qualifier(r, &a.qualifier))
        };
        let _ = writeln!(
            body,
            "- {}{}{}{qualifier}{}{}{}{}",
            r.name(a.kind),
            r.t("：", ": "),
            a.subject_id,
            r.t("（", " ("),
            r.name(a.state),
            r.t("，", ", "),
            match r.lang {
                Lang::Zh => format!("{}发出）", r.clock(a.raised_at)),
                Lang::En => format!("since {})", r.clock(a.raised_at)),
            }
        );
    }
    Some(Section {
        heading: r.t("告警", "Alerts").into(),
        body,
    })
}

/// What tells two alerts of one kind on one subject apart, named: a threshold or a standard
/// supply item through the vocabulary, anything else (an asset's id) as it is.
fn qualifier(r: &Report<'_>, q: &str) -> String {
    if let Some(t) = ThresholdKind::VARIANTS
        .iter()
        .find(|t| Into::<&'static str>::into(**t) == q)
    {
        return r.name(*t).to_string();
    }
    if let Some(m) = crate::domain::materials::MaterialItem::VARIANTS
        .iter()
        .find(|m| Into::<&'static str>::into(**m) == q)
    {
        return r.name(*m).to_string();
    }
    crate::domain::vocabulary::SUPPLY_ITEMS
        .iter()
        .find(|t| t.value == q)
        .map_or_else(|| q.to_string(), |t| r.lang.pick(t.zh, t.en).to_string())
}

/// The situation report as the `sitrep` query, `GET /api/v1/sitrep` and `crest sitrep --json`
/// give it: `{seq, at_ms, sitrep}` (the figures) for JSON, `{seq, at_ms, format, lang, markdown}`
/// for Markdown.
pub fn report(
    state: &State,
    header: &Header,
    format: crate::domain::vocabulary::SitrepFormat,
    lang: Lang,
) -> serde_json::Value {
    use crate::domain::vocabulary::SitrepFormat;
    match format {
        SitrepFormat::Json => serde_json::json!({
            "seq": header.seq,
            "at_ms": header.at_ms,
            "sitrep": super::sitrep(state),
        }),
        SitrepFormat::Markdown => serde_json::json!({
            "seq": header.seq,
            "at_ms": header.at_ms,
            "format": format,
            "lang": lang,
            "markdown": markdown(state, header, lang),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, Command, Context, Event};
    use crate::spatial::LeveeIndex;
    use serde_json::json;
    use std::path::Path;

    /// 2026-07-15 06:00 Beijing time: the scenario's first minute.
    fn t0() -> i64 {
        crate::clock::from_civil((2026, 7, 14, 22, 0, 0))
    }

    const MINUTE: i64 = 60_000;

    /// The test map (tests/fixtures/small-map) and a morning of a flood on it, decided and
    /// watched as the engine does, on a fixed clock: readings over 警戒, a response level, three
    /// hazards (one eliminated, one a breach with its incident and teams on scene), an evacuation
    /// and its check-ins. Returns the state and its seq.
    fn a_flood_morning() -> (State, u64) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small-map");
        let map = crate::map::load(&dir).expect("the test map loads");
        let mut commands: Vec<(i64, Command)> = map
            .commands
            .into_iter()
            .map(|c| (t0(), c.command))
            .collect();
        let script = [
            (
                5,
                json!({"type": "record_reading", "gauge_id": "G-XJ-LK", "level_m": 40.62}),
            ),
            (
                5,
                json!({"type": "record_reading", "gauge_id": "G-HJ-01", "level_m": 38.1}),
            ),
            (
                10,
                json!({"type": "set_response_level", "jurisdiction": "fukou", "level": "III", "reason": "湘江涪口站超警戒"}),
            ),
            (
                20,
                json!({"type": "report_hazard", "kind": "piping", "severity": "major", "position": [113.0933, 27.6301], "description": "背水坡脚管涌，直径约10厘米"}),
            ),
            (25, json!({"type": "confirm_hazard", "hazard_id": "HZ-1"})),
            (
                30,
                json!({"type": "start_hazard_handling", "hazard_id": "HZ-1"}),
            ),
            (
                35,
                json!({"type": "report_hazard", "kind": "seepage", "severity": "general", "position": [113.092, 27.625]}),
            ),
            (40, json!({"type": "confirm_hazard", "hazard_id": "HZ-2"})),
            (
                70,
                json!({"type": "eliminate_hazard", "hazard_id": "HZ-2", "reason": "导渗沟已开挖"}),
            ),
            (
                45,
                json!({"type": "report_hazard", "kind": "breach", "severity": "critical", "position": [113.094, 27.645], "description": "将军村溃口"}),
            ),
            (
                50,
                json!({"type": "commit_team", "incident_id": "IN-1", "team_id": "T-01", "state": "on_scene"}),
            ),
            (
                55,
                json!({"type": "commit_team", "incident_id": "IN-1", "team_id": "T-11", "state": "en_route"}),
            ),
            (
                60,
                json!({"type": "advance_incident_stage", "incident_id": "IN-1", "stage": "protect_ends"}),
            ),
            (
                62,
                json!({"type": "set_command_post", "incident_id": "IN-1", "post": {"position": [113.1, 27.646], "name": "将军村抢险指挥部", "commander": "张建国"}}),
            ),
            (
                65,
                json!({"type": "issue_evacuation_order", "name": "将军村", "zone": [[113.095, 27.63], [113.12, 27.63], [113.12, 27.655], [113.095, 27.655], [113.095, 27.63]], "target_shelters": ["S-NZ-01"]}),
            ),
            (
                70,
                json!({"type": "enter_gauge_forecast", "gauge_id": "G-XJ-LK", "peak_m": 41.3, "peak_at": t0() + 600 * MINUTE, "source": "株洲市水文局"}),
            ),
            (
                80,
                json!({"type": "record_casualty", "kind": "trapped", "count": 3, "position": [113.11, 27.64], "place": "将军村三组 屋顶", "source": "网格员 李"}),
            ),
            (
                90,
                json!({"type": "record_self_evacuation", "cell_id": "NZ-JJ-01", "count": 260, "note": "投亲靠友"}),
            ),
            (
                95,
                json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 540, "from_cell": "NZ-JJ-01"}),
            ),
            (
                100,
                json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 3, "shelter_id": "S-NZ-01"}),
            ),
            (
                110,
                json!({"type": "confirm_casualties", "note": "各镇均已上报"}),
            ),
            (
                20,
                json!({"type": "define_depot", "id": "D-NZ", "name": "南洲镇防汛物资仓库", "position": [113.12, 27.64],
                       "stock": {"sandbags": 20000, "geotextile": 3000, "life_jackets": 200, "rescue_boats": 4},
                       "low_stock": {"sandbags": 15000, "rescue_boats": 2}}),
            ),
            (
                66,
                json!({"type": "issue_materials", "depot_id": "D-NZ", "site": {"kind": "incident", "incident_id": "IN-1"},
                       "items": {"sandbags": 8000, "geotextile": 1200, "rescue_boats": 3}}),
            ),
            (
                85,
                json!({"type": "deliver_materials", "shipment_id": "MS-1"}),
            ),
            (
                105,
                json!({"type": "consume_materials", "shipment_id": "MS-1", "items": {"sandbags": 5000, "geotextile": 800}}),
            ),
        ];
        let mut script: Vec<(i64, Command)> = script
            .into_iter()
            .map(|(minute, c)| {
                let cmd = serde_json::from_value(c.clone()).unwrap_or_else(|e| panic!("{c}: {e}"));
                (t0() + minute * MINUTE, cmd)
            })
            .collect();
        script.sort_by_key(|(at, _)| *at);
        commands.extend(script);
        let mut state = State::default();
        let mut seq = 0;
        let actor = Actor::system();
        for (now_ms, cmd) in &commands {
            let mut levees = LeveeIndex::default();
            for l in state.levees.values() {
                levees.insert(l.clone());
            }
            let ctx = Context {
                now_ms: *now_ms,
                actor: &actor,
                snapper: &levees,
            };
            let events: Vec<Event> = state
                .handle(cmd, &ctx)
                .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
            seq += events.len() as u64;
        }
        seq += state.tick(t0() + 120 * MINUTE).len() as u64;
        (state, seq)
    }

    fn header(seq: u64) -> Header {
        Header {
            district: Some("涪口区".into()),
            at_ms: t0() + 120 * MINUTE,
            seq,
        }
    }

    /// Compares `text` with the golden file `name` in tests/fixtures/sitrep, or writes it there
    /// when `CREST_BLESS=1` (then review the diff and commit it).
    fn golden(name: &str, text: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sitrep")
            .join(name);
        if std::env::var_os("CREST_BLESS").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; write it with CREST_BLESS=1 cargo test --lib sitrep_markdown",
                path.display()
            )
        });
        assert!(
            want == text,
            "the report differs from {} (if the change is meant, regenerate it with CREST_BLESS=1 cargo test --lib sitrep_markdown and review the diff):\n{text}",
            path.display()
        );
    }

    #[test]
    fn the_chinese_report_of_a_flood_morning_is_the_golden_one() {
        let (state, seq) = a_flood_morning();
        golden("small-map-zh.md", &markdown(&state, &header(seq), Lang::Zh));
    }

    #[test]
    fn the_english_report_of_a_flood_morning_is_the_golden_one() {
        let (state, seq) = a_flood_morning();
        golden("small-map-en.md", &markdown(&state, &header(seq), Lang::En));
    }

    #[test]
    fn every_name_in_the_report_comes_from_the_vocabulary() {
        let (state, seq) = a_flood_morning();
        let zh = markdown(&state, &header(seq), Lang::Zh);
        for name in [
            HazardKind::Breach.zh(),
            HazardStatus::BeingHandled.zh(),
            Severity::Major.zh(),
            ResponseLevel::III.zh(),
            WaterStage::Warning.zh(),
            crate::domain::incidents::Stage::ProtectEnds.zh(),
            TeamStatus::Available.zh(),
            crate::domain::levee::BankSide::Landside.zh(),
        ] {
            assert!(zh.contains(name), "{name} missing:\n{zh}");
        }
        // Nothing of the English report is left in the Chinese one, and the other way round.
        let en = markdown(&state, &header(seq), Lang::En);
        assert!(!zh.contains("hazard") && !en.contains("险情"), "{zh}\n{en}");
    }

    #[test]
    fn an_empty_log_is_reported_without_invented_figures() {
        let zh = markdown(&State::default(), &Header::default(), Lang::Zh);
        assert!(
            zh.starts_with("# 汛情快报\n\n截至1970年1月1日 08:00（北京时间），事件日志第 0 号。"),
            "{zh}"
        );
        assert!(zh.contains("## 一、应急响应\n\n未启动应急响应。"), "{zh}");
        assert!(zh.contains("## 二、险情\n\n未发现险情。"), "{zh}");
        assert!(!zh.contains("安置点") && !zh.contains("转移"), "{zh}");
        // Casualties are always reported: zero is a fact, and whether it was confirmed is said.
        assert!(
            zh.contains("## 三、人员伤亡\n\n死亡 0 人，失踪 0 人，受伤 0 人，被困 0 人（已救出 0 人）。数字尚未经核实。"),
            "{zh}"
        );
    }

    #[test]
    fn the_json_report_is_the_sitrep_and_the_markdown_one_names_its_language() {
        let (state, seq) = a_flood_morning();
        let h = header(seq);
        let json = report(
            &state,
            &h,
            crate::domain::vocabulary::SitrepFormat::Json,
            Lang::En,
        );
        assert_eq!(json["sitrep"], super::super::sitrep(&state));
        assert_eq!(
            (json["seq"].as_u64(), json["at_ms"].as_i64()),
            (Some(seq), Some(h.at_ms))
        );
        let md = report(
            &state,
            &h,
            crate::domain::vocabulary::SitrepFormat::Markdown,
            Lang::En,
        );
        assert_eq!(
            (md["format"].as_str(), md["lang"].as_str()),
            (Some("markdown"), Some("en"))
        );
        assert_eq!(md["markdown"], markdown(&state, &h, Lang::En));
    }
}
