//! Display names in Chinese and English for every enumerated value a client sees, so clients and
//! exports need no table of their own. The wire value (`snake_case`, or `IV`…`I`) stays the
//! machine-readable part; these names are for people.
//!
//! Each table is an exhaustive `match`: a new variant does not compile until it is named.

use super::access::Role;
use super::alerts::{AlertKind, AlertState};
use super::casualties::CasualtyKind;
use super::corrections::CorrectionField;
use super::evacuation::{CellStatus, DepartureWay};
use super::events::Layer;
use super::incidents::{AssetKind, CommitmentState, Stage};
use super::materials::{MaterialItem, RequestState, ShipmentState};
use super::model::*;
use super::patrol::{PassHow, PointKind, WaterStage};
use serde::Serialize;

/// A value with its display names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Term {
    pub value: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

/// Chinese and English display names.
pub trait Named: Copy + Into<&'static str> + strum::VariantArray + 'static {
    /// The value set's name (`hazard_kind`, …).
    const SET: &'static str;
    fn names(self) -> (&'static str, &'static str);

    fn zh(self) -> &'static str {
        self.names().0
    }

    fn en(self) -> &'static str {
        self.names().1
    }

    fn terms() -> Vec<Term> {
        Self::VARIANTS
            .iter()
            .map(|v| {
                let (zh, en) = v.names();
                Term {
                    value: (*v).into(),
                    zh,
                    en,
                }
            })
            .collect()
    }
}

macro_rules! named {
    ($t:ty, $set:literal, { $($v:path => ($zh:literal, $en:literal)),* $(,)? }) => {
        impl Named for $t {
            const SET: &'static str = $set;
            fn names(self) -> (&'static str, &'static str) {
                match self {
                    $($v => ($zh, $en),)*
                }
            }
        }
    };
}

named!(HazardKind, "hazard_kind", {
    HazardKind::Piping => ("管涌", "piping"),
    HazardKind::Seepage => ("渗水", "seepage"),
    HazardKind::Leak => ("漏洞", "leak"),
    HazardKind::SlopeSlide => ("滑坡", "slope slide"),
    HazardKind::BankCollapse => ("崩岸", "bank collapse"),
    HazardKind::Sinkhole => ("跌窝", "sinkhole"),
    HazardKind::Crack => ("裂缝", "crack"),
    HazardKind::Overtopping => ("漫溢", "overtopping"),
    HazardKind::Breach => ("溃口", "breach"),
});

named!(Severity, "severity", {
    Severity::General => ("一般", "general"),
    Severity::Major => ("较大", "major"),
    Severity::Critical => ("重大", "critical"),
});

named!(HazardStatus, "hazard_status", {
    HazardStatus::Reported => ("已报告", "reported"),
    HazardStatus::Confirmed => ("已确认", "confirmed"),
    HazardStatus::BeingHandled => ("处置中", "being handled"),
    HazardStatus::Eliminated => ("已排除", "eliminated"),
    HazardStatus::FalseAlarm => ("误报", "false alarm"),
});

named!(TeamKind, "team_kind", {
    TeamKind::ArmedPolice => ("武警", "armed police"),
    TeamKind::ReserveForce => ("预备役", "reserve force"),
    TeamKind::Militia => ("民兵", "militia"),
    TeamKind::Cadres => ("干部", "cadres"),
    TeamKind::FireRescue => ("消防救援", "fire rescue"),
    TeamKind::Volunteers => ("志愿者", "volunteers"),
    TeamKind::GridWorkers => ("网格员", "grid workers"),
});

named!(Capability, "capability", {
    Capability::Boat => ("冲锋舟", "boat"),
    Capability::Pump => ("排涝泵", "pump"),
    Capability::Engineering => ("工程抢险", "engineering"),
    Capability::Medical => ("医疗", "medical"),
    Capability::Lighting => ("照明", "lighting"),
    Capability::Communications => ("通信", "communications"),
    Capability::Diving => ("潜水", "diving"),
    Capability::HeavyMachinery => ("大型机械", "heavy machinery"),
});

named!(TravelMode, "travel_mode", {
    TravelMode::Foot => ("步行", "on foot"),
    TravelMode::Vehicle => ("车辆", "vehicle"),
    TravelMode::Boat => ("船艇", "boat"),
});

named!(TeamStatus, "team_status", {
    TeamStatus::Available => ("待命", "available"),
    TeamStatus::Assigned => ("已派遣", "assigned"),
    TeamStatus::EnRoute => ("途中", "en route"),
    TeamStatus::OnScene => ("在现场", "on scene"),
    TeamStatus::OffDuty => ("休整", "off duty"),
});

named!(AssignmentState, "assignment_state", {
    AssignmentState::Proposed => ("待接受", "proposed"),
    AssignmentState::Accepted => ("已接受", "accepted"),
    AssignmentState::EnRoute => ("途中", "en route"),
    AssignmentState::OnScene => ("在现场", "on scene"),
    AssignmentState::Completed => ("已完成", "completed"),
    AssignmentState::Cancelled => ("已取消", "cancelled"),
});

named!(ResponseLevel, "response_level", {
    ResponseLevel::IV => ("Ⅳ级应急响应", "level IV response"),
    ResponseLevel::III => ("Ⅲ级应急响应", "level III response"),
    ResponseLevel::II => ("Ⅱ级应急响应", "level II response"),
    ResponseLevel::I => ("Ⅰ级应急响应", "level I response"),
});

named!(ThresholdKind, "threshold", {
    ThresholdKind::Guard => ("设防水位", "guard level"),
    ThresholdKind::Warning => ("警戒水位", "warning level"),
    ThresholdKind::Guaranteed => ("保证水位", "guaranteed level"),
});

named!(EvacuationStatus, "evacuation_status", {
    EvacuationStatus::Active => ("执行中", "active"),
    EvacuationStatus::Lifted => ("已解除", "lifted"),
});

named!(AlertKind, "alert_kind", {
    AlertKind::GaugeThreshold => ("水位超限", "gauge at a threshold"),
    AlertKind::PatrolGap => ("巡查超时", "patrol gap"),
    AlertKind::PatrolUnstaffed => ("巡查无人", "patrol section unstaffed"),
    AlertKind::AssetThreatened => ("险情威胁重要设施", "protected asset threatened"),
    AlertKind::ShelterNearlyFull => ("安置点将满", "shelter nearly full"),
    AlertKind::ShelterFull => ("安置点已满", "shelter full"),
    AlertKind::SupplyLow => ("物资不足一天", "supplies under a day"),
    AlertKind::TeamSilent => ("队伍失联", "team silent"),
    AlertKind::AssignmentNotAccepted => ("任务未接受", "assignment not accepted"),
    AlertKind::GridCellUnstaffed => ("网格无网格员", "grid cell without a worker"),
    AlertKind::DepotLowStock => ("防汛物资库存不足", "depot low on a material"),
});

named!(AlertState, "alert_state", {
    AlertState::Raised => ("待处理", "raised"),
    AlertState::Acknowledged => ("已确认", "acknowledged"),
    AlertState::Resolved => ("已解除", "resolved"),
});

named!(AssetKind, "asset_kind", {
    AssetKind::Railway => ("铁路", "railway"),
    AssetKind::Substation => ("变电站", "substation"),
    AssetKind::WaterWorks => ("水厂", "water works"),
    AssetKind::School => ("学校", "school"),
    AssetKind::Hospital => ("医院", "hospital"),
    AssetKind::Other => ("其他", "other"),
});

named!(Stage, "incident_stage", {
    Stage::ProtectEnds => ("裹头", "protect the ends"),
    Stage::Advance => ("进占", "advance"),
    Stage::Close => ("合龙", "closure"),
});

named!(CommitmentState, "commitment_state", {
    CommitmentState::Requested => ("请求增援", "requested"),
    CommitmentState::EnRoute => ("增援途中", "en route"),
    CommitmentState::OnScene => ("在现场", "on scene"),
    CommitmentState::Released => ("已撤离", "released"),
});

named!(WaterStage, "water_stage", {
    WaterStage::Normal => ("正常", "normal"),
    WaterStage::Guard => ("设防", "guard"),
    WaterStage::Warning => ("警戒", "warning"),
    WaterStage::Guaranteed => ("保证", "guaranteed"),
});

named!(PointKind, "patrol_point_kind", {
    PointKind::Regular => ("巡查点", "patrol point"),
    PointKind::Structure => ("穿堤建筑物", "structure through the levee"),
});

named!(Layer, "layer", {
    Layer::Levees => ("堤防", "levees"),
    Layer::Hazards => ("险情", "hazards"),
    Layer::Teams => ("队伍", "teams"),
    Layer::Assignments => ("任务", "assignments"),
    Layer::Shelters => ("安置点", "shelters"),
    Layer::Gauges => ("水位站", "gauges"),
    Layer::Response => ("应急响应", "response levels"),
    Layer::Evacuations => ("转移令", "evacuation orders"),
    Layer::GridCells => ("网格", "grid cells"),
    Layer::PatrolSections => ("巡查责任段", "patrol sections"),
    Layer::Alerts => ("告警", "alerts"),
    Layer::ProtectedAssets => ("重要设施", "protected assets"),
    Layer::Incidents => ("现场指挥", "incidents"),
    Layer::Casualties => ("人员伤亡", "casualties"),
    Layer::Depots => ("防汛物资仓库", "materials depots"),
    Layer::Shipments => ("物资调运", "materials shipments"),
    Layer::MaterialRequests => ("物资申请", "materials requests"),
    Layer::FloodZones => ("溃口淹没区", "flood zones"),
    Layer::Journal => ("值班记录", "duty log"),
});

named!(CasualtyKind, "casualty_kind", {
    CasualtyKind::Dead => ("死亡", "dead"),
    CasualtyKind::Missing => ("失踪", "missing"),
    CasualtyKind::Injured => ("受伤", "injured"),
    CasualtyKind::Trapped => ("被困", "trapped"),
});

named!(DepartureWay, "departure_way", {
    DepartureWay::Shelter => ("安置点安置", "into a shelter"),
    DepartureWay::SelfArranged => ("投亲靠友", "with relatives or friends"),
    DepartureWay::Rescued => ("救援转移", "rescued"),
});

named!(CellStatus, "cell_status", {
    CellStatus::Notified => ("已通知", "notified"),
    CellStatus::Evacuating => ("转移中", "evacuating"),
    CellStatus::Clear => ("已清空", "clear"),
});

named!(Role, "role", {
    Role::Dispatcher => ("指挥调度", "dispatcher"),
    Role::Field => ("现场队伍", "field team"),
    Role::Observer => ("观察员", "observer"),
    Role::GridWorker => ("网格员", "grid worker"),
});

named!(MaterialItem, "material_item", {
    MaterialItem::Sandbags => ("编织袋", "sandbags"),
    MaterialItem::Geotextile => ("土工布", "geotextile"),
    MaterialItem::LifeJackets => ("救生衣", "life jackets"),
    MaterialItem::RescueBoats => ("冲锋舟", "rescue boats"),
    MaterialItem::Pumps => ("抽水泵", "pumps"),
    MaterialItem::Stones => ("块石", "stones"),
    MaterialItem::Lights => ("照明灯", "lights"),
});

named!(ShipmentState, "shipment_state", {
    ShipmentState::Issued => ("已出库", "issued"),
    ShipmentState::Delivered => ("已送达", "delivered"),
});

named!(RequestState, "material_request_state", {
    RequestState::Requested => ("待审批", "requested"),
    RequestState::Approved => ("已批准", "approved"),
    RequestState::Declined => ("已拒绝", "declined"),
    RequestState::Fulfilled => ("已送达", "fulfilled"),
});

named!(CorrectionField, "correction_field", {
    CorrectionField::ShelterCapacity => ("安置点容量", "shelter capacity"),
    CorrectionField::GaugeThresholds => ("水位站特征水位", "gauge thresholds"),
    CorrectionField::TeamRoster => ("队伍名册与人数", "team roster and headcount"),
    CorrectionField::AssetBuffer => ("重要设施防护范围", "protected asset buffer"),
});

// ---------------------------------------------------------------- the situation report (issue 9 §6)

named!(super::levee::BankSide, "bank_side", {
    super::levee::BankSide::Riverside => ("临水侧", "riverside"),
    super::levee::BankSide::Landside => ("背水侧", "landside"),
});

/// The language of a text Crest writes for people (the situation report).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// `zh` or `en`, whichever is this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The display name of `value` in this language.
    pub fn name<T: Named>(self, value: T) -> &'static str {
        match self {
            Lang::Zh => value.zh(),
            Lang::En => value.en(),
        }
    }
}

named!(Lang, "lang", {
    Lang::Zh => ("中文", "Chinese"),
    Lang::En => ("英文", "English"),
});

/// How the situation report is written: the figures as JSON, or a report for people.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SitrepFormat {
    #[default]
    Json,
    Markdown,
}

named!(SitrepFormat, "sitrep_format", {
    SitrepFormat::Json => ("数据（JSON）", "data (JSON)"),
    SitrepFormat::Markdown => ("快报（Markdown）", "report (Markdown)"),
});

named!(Direction, "direction", {
    Direction::Rising => ("上涨", "rising"),
    Direction::Falling => ("回落", "falling"),
});

named!(PassHow, "pass_how", {
    PassHow::Walked => ("巡查经过", "walked over"),
    PassHow::CheckedIn => ("签到", "checked in"),
});

/// The standard shelter supply items (items are free text; these are the ones the map stocks).
pub const SUPPLY_ITEMS: [Term; 5] = [
    Term {
        value: "water",
        zh: "饮用水",
        en: "drinking water",
    },
    Term {
        value: "instant_noodles",
        zh: "方便面",
        en: "instant noodles",
    },
    Term {
        value: "bread",
        zh: "面包",
        en: "bread",
    },
    Term {
        value: "milk",
        zh: "牛奶",
        en: "milk",
    },
    Term {
        value: "mosquito_coils",
        zh: "蚊香",
        en: "mosquito coils",
    },
];

/// Every value set, by name: what `GET /api/v1/vocabulary` and the `vocabulary` query answer.
pub fn vocabulary() -> std::collections::BTreeMap<&'static str, Vec<Term>> {
    fn set<T: Named>() -> (&'static str, Vec<Term>) {
        (T::SET, T::terms())
    }
    [
        set::<HazardKind>(),
        set::<Severity>(),
        set::<HazardStatus>(),
        set::<TeamKind>(),
        set::<Capability>(),
        set::<TravelMode>(),
        set::<TeamStatus>(),
        set::<AssignmentState>(),
        set::<ResponseLevel>(),
        set::<ThresholdKind>(),
        set::<EvacuationStatus>(),
        set::<AlertKind>(),
        set::<AlertState>(),
        set::<AssetKind>(),
        set::<Stage>(),
        set::<CommitmentState>(),
        set::<WaterStage>(),
        set::<PointKind>(),
        set::<Layer>(),
        set::<Direction>(),
        set::<PassHow>(),
        set::<CasualtyKind>(),
        set::<DepartureWay>(),
        set::<CellStatus>(),
        set::<Role>(),
        ("supply_item", SUPPLY_ITEMS.to_vec()),
        set::<MaterialItem>(),
        set::<ShipmentState>(),
        set::<RequestState>(),
        set::<CorrectionField>(),
        set::<super::levee::BankSide>(),
        set::<Lang>(),
        set::<SitrepFormat>(),
    ]
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_has_both_names_and_its_wire_value() {
        let v = vocabulary();
        assert_eq!(v.len(), 33);
        for (set, terms) in &v {
            assert!(!terms.is_empty(), "{set}");
            for t in terms {
                assert!(!t.zh.is_empty() && !t.en.is_empty(), "{set}: {t:?}");
                assert!(!t.zh.is_ascii(), "{set}: {} has no Chinese name", t.value);
            }
        }
        // The value is the wire value: it parses back (serde) to the variant.
        let breach: HazardKind =
            serde_json::from_value(serde_json::json!(v["hazard_kind"][8].value)).unwrap();
        assert_eq!(
            (breach, v["hazard_kind"][8].zh),
            (HazardKind::Breach, "溃口")
        );
        assert_eq!(ResponseLevel::I.zh(), "Ⅰ级应急响应");
        assert_eq!(v["layer"].len(), Layer::ALL.len());
    }

    /// Every enumerated value of the domain (an enum with `strum::VariantArray`, the derive every
    /// wire enum has) is a set of the vocabulary: a new enum without names fails here, a new
    /// variant of a listed enum does not compile unnamed.
    #[test]
    fn every_enumerated_value_of_the_domain_is_in_the_vocabulary() {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    rust_files(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        let me = std::fs::read_to_string(root.join("vocabulary.rs")).unwrap();
        let mut enums = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            // The code, not its tests.
            let text = text.split("#[cfg(test)]").next().unwrap();
            // The derive's last entry: `strum::VariantArray,` then `)]`, or `strum::VariantArray)]`.
            for (i, _) in text.match_indices("strum::VariantArray") {
                let rest = &text[i + "strum::VariantArray".len()..];
                let closes = rest.trim_start_matches(',').trim_start().starts_with(")]");
                let Some(at) = rest.find("pub enum ").filter(|at| closes && *at < 400) else {
                    continue;
                };
                let name = rest[at + 9..]
                    .split(|c: char| !c.is_alphanumeric())
                    .next()
                    .unwrap();
                enums.push(name.to_string());
            }
        }
        assert!(enums.len() >= 30, "{enums:?}");
        for name in enums {
            assert!(
                me.contains(&format!("set::<{name}>()")) || me.contains(&format!("::{name}>()")),
                "{name} has no set in the vocabulary"
            );
        }
    }
}
