//! Why the domain refused a command. Each variant has a stable, machine-readable code, an English
//! message (`Display`) and a Chinese one ([`DomainError::zh`]) carrying the same ids and numbers.

use super::alerts::AlertState;
use super::incidents::{CommitmentState, Stage};
use super::model::{AssignmentState, EvacuationStatus, HazardStatus, ResponseLevel, TeamStatus};
use super::vocabulary::Named;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: String },
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: &'static str, id: String },
    #[error("{kind} {id} cannot go from {from} to {to}")]
    IllegalTransition {
        kind: &'static str,
        id: String,
        from: &'static str,
        to: &'static str,
    },
    #[error("hazard {0} escalation must raise the severity or turn it into a breach")]
    NotAnEscalation(String),
    #[error("team {team} is busy with {assignment}")]
    TeamBusy { team: String, assignment: String },
    #[error("team {0} is off duty")]
    TeamOffDuty(String),
    #[error("shelter {0} is closed")]
    ShelterClosed(String),
    #[error(
        "shelter {shelter} has {free} free places, {requested} requested; set allow_over_capacity to exceed capacity"
    )]
    OverCapacity {
        shelter: String,
        free: u32,
        requested: u32,
    },
    #[error("shelter {shelter} holds {occupancy} people, cannot check out {requested}")]
    OccupancyUnderflow {
        shelter: String,
        occupancy: u32,
        requested: u32,
    },
    #[error("shelter {shelter} has {stock} of {item}, cannot issue {requested}")]
    InsufficientStock {
        shelter: String,
        item: String,
        stock: f64,
        requested: f64,
    },
    #[error("{place} has {remaining} people left to move, {requested} reported")]
    OverPopulation {
        /// Where: an order and cell, a cell or village under the active orders, a trapped record.
        place: Bilingual,
        remaining: u32,
        requested: u32,
    },
    #[error("no active evacuation order covers {0}")]
    NoActiveOrder(Bilingual),
    #[error(
        "shelter {shelter} lies in the flood area of a breach of {levees} ({zones}) and is not on high ground; open it only with override_flood_risk and the reason"
    )]
    ShelterInFloodArea {
        shelter: String,
        zones: String,
        levees: String,
    },
    #[error(
        "shelter {shelter} holds {occupancy} people, more than a capacity of {capacity}; set allow_over_capacity to correct it anyway"
    )]
    CapacityBelowOccupancy {
        shelter: String,
        occupancy: u32,
        capacity: u32,
    },
    #[error("{0}")]
    Invalid(Bilingual),
    #[error("{0}")]
    Forbidden(Bilingual),
    #[error("depot {depot} has {stock} {item}, cannot issue {requested}")]
    DepotStockShort {
        depot: String,
        item: String,
        stock: u32,
        requested: u32,
    },
    #[error(
        "shipment {shipment} has {outstanding} {item} neither consumed nor returned, {requested} reported"
    )]
    ExceedsShipment {
        shipment: String,
        item: String,
        outstanding: u32,
        requested: u32,
    },
}

/// A message written in both languages where it is raised (the free-text refusals: a bound, a
/// rule, a right). `Display` is the English.
#[derive(Debug, Clone, PartialEq)]
pub struct Bilingual {
    pub en: String,
    pub zh: String,
}

impl Bilingual {
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Self {
        Bilingual {
            en: en.into(),
            zh: zh.into(),
        }
    }
}

impl std::fmt::Display for Bilingual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en)
    }
}

impl DomainError {
    /// The Chinese message: the same ids and numbers as the English one.
    pub fn zh(&self) -> String {
        use DomainError as E;
        match self {
            E::NotFound { kind, id } => format!("{}不存在", subject_zh(kind, id)),
            E::AlreadyExists { kind, id } => format!("{}已存在", subject_zh(kind, id)),
            E::IllegalTransition { kind, id, from, to } => format!(
                "{}不能从“{}”变为“{}”",
                subject_zh(kind, id),
                state_zh(kind, from),
                state_zh(kind, to)
            ),
            E::NotAnEscalation(id) => {
                format!("险情{id}的升级必须提高严重程度或转为溃口")
            }
            E::TeamBusy { team, assignment } => {
                format!("队伍{team}正在执行{assignment}")
            }
            E::TeamOffDuty(team) => format!("队伍{team}处于休整状态"),
            E::ShelterClosed(shelter) => format!("安置点{shelter}已关闭"),
            E::OverCapacity {
                shelter,
                free,
                requested,
            } => format!(
                "安置点{shelter}尚有{free}个空位，申请入住{requested}人；超出容量须设置 allow_over_capacity"
            ),
            E::OccupancyUnderflow {
                shelter,
                occupancy,
                requested,
            } => format!("安置点{shelter}现有{occupancy}人，不能离开{requested}人"),
            E::InsufficientStock {
                shelter,
                item,
                stock,
                requested,
            } => format!(
                "安置点{shelter}的{}库存为{stock}，不能发放{requested}",
                supply_item_zh(item)
            ),
            E::OverPopulation {
                place,
                remaining,
                requested,
            } => format!("{}尚有{remaining}人待转移，上报{requested}人", place.zh),
            E::NoActiveOrder(place) => format!("没有生效的转移令覆盖{}", place.zh),
            E::ShelterInFloodArea {
                shelter,
                zones,
                levees,
            } => format!(
                "安置点{shelter}位于{levees}溃口淹没区（{zones}）内且不在高地；确需开放须填写 override_flood_risk 说明理由"
            ),
            E::CapacityBelowOccupancy {
                shelter,
                occupancy,
                capacity,
            } => format!(
                "安置点{shelter}现有{occupancy}人，多于容量{capacity}；确需更正须设置 allow_over_capacity"
            ),
            E::DepotStockShort {
                depot,
                item,
                stock,
                requested,
            } => format!(
                "仓库{depot}的{}库存为{stock}，不能调出{requested}",
                material_zh(item)
            ),
            E::ExceedsShipment {
                shipment,
                item,
                outstanding,
                requested,
            } => format!(
                "调运单{shipment}尚有{}{outstanding}未消耗也未退回，上报{requested}",
                material_zh(item)
            ),
            E::Invalid(m) | E::Forbidden(m) => m.zh.clone(),
        }
    }
}

/// What an error is about, in Chinese: the entity kind as the decider names it and its id.
fn subject_zh(kind: &str, id: &str) -> String {
    match kind {
        "incident of hazard" => format!("险情{id}的现场指挥"),
        "commitment of team" => format!("队伍{id}的增援"),
        "response level of" => format!("{id}的应急响应"),
        kind => format!("{}{id}", entity_zh(kind)),
    }
}

/// The Chinese name of an entity kind as the decider names it (`"patrol section"`); an unknown
/// kind is shown as it is.
pub fn entity_zh(kind: &str) -> &str {
    match kind {
        "hazard" => "险情",
        "team" => "队伍",
        "assignment" => "任务",
        "shelter" => "安置点",
        "gauge" => "水位站",
        "levee" => "堤防",
        "grid cell" => "网格",
        "evacuation" => "转移令",
        "patrol section" => "巡查责任段",
        "patrol point" => "巡查点",
        "protected asset" => "重要设施",
        "incident" => "现场指挥",
        "supply item" => "物资",
        "alert" => "告警",
        "casualty record" => "伤亡记录",
        "depot" => "物资仓库",
        "shipment" => "物资调运单",
        "material request" => "物资申请",
        "cue" => "演练提示",
        "exercise" => "演练",
        "flood zone" => "溃口淹没区",
        "correction" => "更正记录",
        other => other,
    }
}

/// The Chinese name of a state in a transition of `kind`, from the vocabulary where the state is
/// an enumerated value there.
fn state_zh(kind: &str, value: &'static str) -> &'static str {
    fn find<T: Named>(value: &str) -> Option<&'static str> {
        T::VARIANTS
            .iter()
            .find(|v| Into::<&'static str>::into(**v) == value)
            .map(|v| v.zh())
    }
    let named = match kind {
        "hazard" => find::<HazardStatus>(value),
        "assignment" => find::<AssignmentState>(value),
        "team" => find::<TeamStatus>(value),
        "evacuation" => find::<EvacuationStatus>(value),
        "incident" => find::<Stage>(value),
        "commitment of team" => find::<CommitmentState>(value),
        "response level of" => find::<ResponseLevel>(value),
        "alert" => find::<AlertState>(value),
        _ => None,
    };
    named.unwrap_or(match value {
        "open" => "开放",
        "closed" => "关闭",
        "on_duty" => "在岗",
        "off_duty" => "休整",
        "none" => "无",
        "changed" => "变更",
        "escalated" => "升级",
        other => other,
    })
}

/// A flood material's Chinese name (its wire name otherwise).
fn material_zh(item: &str) -> &str {
    use super::materials::MaterialItem;
    use strum::VariantArray;
    MaterialItem::VARIANTS
        .iter()
        .find(|m| Into::<&'static str>::into(**m) == item)
        .map_or(item, |m| m.zh())
}

/// A standard supply item's Chinese name; another item as it was named.
fn supply_item_zh(item: &str) -> &str {
    super::vocabulary::SUPPLY_ITEMS
        .iter()
        .find(|t| t.value == item)
        .map_or(item, |t| t.zh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chinese_message_carries_the_same_ids_and_numbers() {
        let e = DomainError::OverCapacity {
            shelter: "SH-3".into(),
            free: 12,
            requested: 40,
        };
        assert_eq!(
            e.zh(),
            "安置点SH-3尚有12个空位，申请入住40人；超出容量须设置 allow_over_capacity"
        );
        let e = DomainError::IllegalTransition {
            kind: "hazard",
            id: "HZ-1".into(),
            from: "eliminated",
            to: "confirmed",
        };
        assert_eq!(e.zh(), "险情HZ-1不能从“已排除”变为“已确认”");
        assert_eq!(
            e.to_string(),
            "hazard HZ-1 cannot go from eliminated to confirmed"
        );
        let e = DomainError::InsufficientStock {
            shelter: "SH-1".into(),
            item: "mosquito_coils".into(),
            stock: 2.0,
            requested: 5.0,
        };
        assert_eq!(e.zh(), "安置点SH-1的蚊香库存为2，不能发放5");
        let e = DomainError::Invalid(Bilingual::new(
            "a shift starts at most 7 days ahead",
            "班次最多提前7天安排",
        ));
        assert_eq!(
            (e.to_string().as_str(), e.zh().as_str()),
            ("a shift starts at most 7 days ahead", "班次最多提前7天安排")
        );
    }

    #[test]
    fn every_entity_kind_the_decider_names_has_a_chinese_name() {
        for kind in [
            "hazard",
            "team",
            "assignment",
            "shelter",
            "gauge",
            "levee",
            "grid cell",
            "evacuation",
            "patrol section",
            "patrol point",
            "protected asset",
            "incident",
            "supply item",
            "alert",
            "incident of hazard",
            "commitment of team",
            "response level of",
        ] {
            assert!(!subject_zh(kind, "X-1").is_ascii(), "{kind}");
        }
    }
}
