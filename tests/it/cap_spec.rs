//! A CAP 1.2 message checked element by element against the OASIS specification (Common
//! Alerting Protocol Version 1.2, OASIS Standard, 1 July 2010, §3.2 and §3.3), in place of the
//! `CAP-v1.2.xsd` that could not be brought into the repository (see `docs/cap.md`).
//!
//! What is checked: the root `alert` in the CAP 1.2 namespace; the children of `alert`, `info`,
//! `eventCode`/`parameter`/`geocode`, `resource` and `area` in the order of the specification's
//! sequences, each as often as its cardinality allows, nothing unknown (but an XML signature at
//! the end of `alert`); simple elements without child elements; every enumerated value; the
//! rules of `identifier`, `sender` and `references` (no whitespace, commas, `<` or `&`;
//! `sender,identifier,sent` triples); every date-time in the form `2002-05-24T16:49:00-07:00`
//! with a valid date and no `Z` (UTC is `-00:00`); `language` as `xs:language`; polygons (at
//! least 4 `lat,lon` pairs, the first equal to the last, latitudes and longitudes in range) and
//! circles (`lat,lon radius`); `restriction` with `Restricted`, `addresses` with `Private`,
//! `references` with `Update`, `Cancel`, `Ack` and `Error`; `ceiling` only with `altitude`.
//!
//! Shared by `read::cap`'s unit tests and the integration tests (`#[path]`): it uses nothing but
//! `roxmltree` and std.

use roxmltree::{Document, Node};

pub const NS: &str = "urn:oasis:names:tc:emergency:cap:1.2";
const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const UNBOUNDED: usize = usize::MAX;

/// Every violation of the specification in `xml` (empty: none).
pub fn violations(xml: &str) -> Vec<String> {
    let doc = match Document::parse(xml) {
        Ok(d) => d,
        Err(e) => return vec![format!("not well-formed XML: {e}")],
    };
    let mut c = Checker { errors: Vec::new() };
    let root = doc.root_element();
    if root.tag_name().name() != "alert" || root.tag_name().namespace() != Some(NS) {
        c.error(format!(
            "the root is {{{:?}}}{}, not {{{NS}}}alert",
            root.tag_name().namespace(),
            root.tag_name().name()
        ));
        return c.errors;
    }
    c.alert(root);
    c.errors
}

/// Panics with every violation, and the message, when there is any.
#[track_caller]
pub fn assert_valid(xml: &str) {
    let v = violations(xml);
    assert!(v.is_empty(), "CAP 1.2 violations: {v:#?}\nin\n{xml}");
}

struct Checker {
    errors: Vec<String>,
}

/// An element of a sequence: its name and how often it may stand there.
struct Slot(&'static str, usize, usize);

const ALERT: &[Slot] = &[
    Slot("identifier", 1, 1),
    Slot("sender", 1, 1),
    Slot("sent", 1, 1),
    Slot("status", 1, 1),
    Slot("msgType", 1, 1),
    Slot("source", 0, 1),
    Slot("scope", 1, 1),
    Slot("restriction", 0, 1),
    Slot("addresses", 0, 1),
    Slot("code", 0, UNBOUNDED),
    Slot("note", 0, 1),
    Slot("references", 0, 1),
    Slot("incidents", 0, 1),
    Slot("info", 0, UNBOUNDED),
];

const INFO: &[Slot] = &[
    Slot("language", 0, 1),
    Slot("category", 1, UNBOUNDED),
    Slot("event", 1, 1),
    Slot("responseType", 0, UNBOUNDED),
    Slot("urgency", 1, 1),
    Slot("severity", 1, 1),
    Slot("certainty", 1, 1),
    Slot("audience", 0, 1),
    Slot("eventCode", 0, UNBOUNDED),
    Slot("effective", 0, 1),
    Slot("onset", 0, 1),
    Slot("expires", 0, 1),
    Slot("senderName", 0, 1),
    Slot("headline", 0, 1),
    Slot("description", 0, 1),
    Slot("instruction", 0, 1),
    Slot("web", 0, 1),
    Slot("contact", 0, 1),
    Slot("parameter", 0, UNBOUNDED),
    Slot("resource", 0, UNBOUNDED),
    Slot("area", 0, UNBOUNDED),
];

const NAMED_VALUE: &[Slot] = &[Slot("valueName", 1, 1), Slot("value", 1, 1)];

const RESOURCE: &[Slot] = &[
    Slot("resourceDesc", 1, 1),
    Slot("mimeType", 1, 1),
    Slot("size", 0, 1),
    Slot("uri", 0, 1),
    Slot("derefUri", 0, 1),
    Slot("digest", 0, 1),
];

const AREA: &[Slot] = &[
    Slot("areaDesc", 1, 1),
    Slot("polygon", 0, UNBOUNDED),
    Slot("circle", 0, UNBOUNDED),
    Slot("geocode", 0, UNBOUNDED),
    Slot("altitude", 0, 1),
    Slot("ceiling", 0, 1),
];

const STATUS: &[&str] = &["Actual", "Exercise", "System", "Test", "Draft"];
const MSG_TYPE: &[&str] = &["Alert", "Update", "Cancel", "Ack", "Error"];
const SCOPE: &[&str] = &["Public", "Restricted", "Private"];
const CATEGORY: &[&str] = &[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
];
const RESPONSE_TYPE: &[&str] = &[
    "Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None",
];
const URGENCY: &[&str] = &["Immediate", "Expected", "Future", "Past", "Unknown"];
const SEVERITY: &[&str] = &["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
const CERTAINTY: &[&str] = &["Observed", "Likely", "Possible", "Unlikely", "Unknown"];

impl Checker {
    fn error(&mut self, e: String) {
        self.errors.push(e);
    }

    /// The element children of `node` checked against `slots` in order; returns them. Text
    /// between them must be whitespace (element-only content).
    fn sequence<'a, 'i>(
        &mut self,
        node: Node<'a, 'i>,
        slots: &[Slot],
        allow_signature_after: bool,
    ) -> Vec<Node<'a, 'i>> {
        let parent = node.tag_name().name();
        for t in node.children().filter(|n| n.is_text()) {
            if !t.text().unwrap_or("").trim().is_empty() {
                self.error(format!("<{parent}> has text between its elements"));
            }
        }
        let children: Vec<Node> = node.children().filter(|n| n.is_element()).collect();
        let mut i = 0;
        for Slot(name, min, max) in slots {
            let mut n = 0;
            while i < children.len()
                && children[i].tag_name().name() == *name
                && children[i].tag_name().namespace() == Some(NS)
            {
                n += 1;
                i += 1;
            }
            if n < *min {
                self.error(format!(
                    "<{parent}>: <{name}> is required here (found {n}, or out of order)"
                ));
            }
            if n > *max {
                self.error(format!(
                    "<{parent}>: <{name}> at most {max} times, found {n}"
                ));
            }
        }
        while allow_signature_after
            && i < children.len()
            && children[i].tag_name().namespace() == Some(XMLDSIG)
        {
            i += 1;
        }
        if let Some(extra) = children.get(i) {
            self.error(format!(
                "<{parent}>: unexpected <{}> (unknown, or out of the specification's order)",
                extra.tag_name().name()
            ));
        }
        children
    }

    /// The text of a simple element (no child elements), or `None` after reporting.
    fn simple<'a>(&mut self, node: Node<'a, '_>) -> &'a str {
        if node.children().any(|n| n.is_element()) {
            self.error(format!("<{}> must hold text only", node.tag_name().name()));
        }
        node.text().unwrap_or("")
    }

    fn one_of(&mut self, node: Node, values: &[&str]) {
        let text = self.simple(node);
        if !values.contains(&text) {
            self.error(format!(
                "<{}> is {text:?}; it must be one of {values:?}",
                node.tag_name().name()
            ));
        }
    }

    fn alert(&mut self, alert: Node) {
        let children = self.sequence(alert, ALERT, true);
        let get = |name: &str| {
            children
                .iter()
                .find(|n| n.tag_name().name() == name)
                .copied()
        };
        for name in ["identifier", "sender"] {
            if let Some(n) = get(name) {
                let text = self.simple(n);
                self.token(name, text);
            }
        }
        if let Some(n) = get("sent") {
            let text = self.simple(n);
            self.date_time("sent", text);
        }
        if let Some(n) = get("status") {
            self.one_of(n, STATUS);
        }
        if let Some(n) = get("msgType") {
            self.one_of(n, MSG_TYPE);
        }
        if let Some(n) = get("scope") {
            self.one_of(n, SCOPE);
        }
        for name in [
            "source",
            "restriction",
            "addresses",
            "code",
            "note",
            "incidents",
        ] {
            for n in children.iter().filter(|n| n.tag_name().name() == name) {
                self.simple(*n);
            }
        }
        let scope = get("scope").and_then(|n| n.text()).unwrap_or("");
        if scope == "Restricted" && get("restriction").is_none() {
            self.error("scope Restricted needs <restriction>".into());
        }
        if scope == "Private" && get("addresses").is_none() {
            self.error("scope Private needs <addresses>".into());
        }
        let msg_type = get("msgType").and_then(|n| n.text()).unwrap_or("");
        match get("references") {
            Some(n) => {
                let text = self.simple(n);
                self.references(text);
            }
            None if msg_type != "Alert" => {
                self.error(format!("msgType {msg_type} needs <references>"));
            }
            None => {}
        }
        for info in children.iter().filter(|n| n.tag_name().name() == "info") {
            self.info(*info);
        }
    }

    /// `identifier`, `sender`: no whitespace, commas, `<` or `&` (§3.2.1).
    fn token(&mut self, what: &str, text: &str) {
        if text.is_empty() {
            self.error(format!("<{what}> is empty"));
        }
        if text
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || c == '<' || c == '&')
        {
            self.error(format!(
                "<{what}> {text:?} holds whitespace, a comma, < or &"
            ));
        }
    }

    /// `sender,identifier,sent` triples separated by whitespace.
    fn references(&mut self, text: &str) {
        if text.trim().is_empty() {
            self.error("<references> is empty".into());
        }
        for triple in text.split_whitespace() {
            let parts: Vec<&str> = triple.split(',').collect();
            if parts.len() != 3 {
                self.error(format!(
                    "reference {triple:?} is not sender,identifier,sent"
                ));
                continue;
            }
            self.token("references sender", parts[0]);
            self.token("references identifier", parts[1]);
            self.date_time("references sent", parts[2]);
        }
    }

    /// `YYYY-MM-DDThh:mm:ss±hh:mm`, a real date and time, UTC as `-00:00` (§3.2.1 `sent`).
    fn date_time(&mut self, what: &str, text: &str) {
        if !is_cap_date_time(text) {
            self.error(format!(
                "<{what}> {text:?} is not a CAP date-time such as 2002-05-24T16:49:00-07:00"
            ));
        }
    }

    fn info(&mut self, info: Node) {
        let children = self.sequence(info, INFO, false);
        for n in &children {
            let name = n.tag_name().name();
            match name {
                "language" => {
                    let text = self.simple(*n);
                    if !is_language(text) {
                        self.error(format!("<language> {text:?} is not an xs:language"));
                    }
                }
                "category" => self.one_of(*n, CATEGORY),
                "responseType" => self.one_of(*n, RESPONSE_TYPE),
                "urgency" => self.one_of(*n, URGENCY),
                "severity" => self.one_of(*n, SEVERITY),
                "certainty" => self.one_of(*n, CERTAINTY),
                "effective" | "onset" | "expires" => {
                    let text = self.simple(*n);
                    self.date_time(name, text);
                }
                "eventCode" | "parameter" => self.named_value(*n),
                "resource" => {
                    for r in self.sequence(*n, RESOURCE, false) {
                        self.simple(r);
                    }
                }
                "area" => self.area(*n),
                "headline" => {
                    let text = self.simple(*n);
                    if text.chars().count() >= 160 {
                        self.error(format!(
                            "<headline> should be under 160 characters: {text:?}"
                        ));
                    }
                }
                _ => {
                    self.simple(*n);
                }
            }
        }
    }

    fn named_value(&mut self, node: Node) {
        for n in self.sequence(node, NAMED_VALUE, false) {
            self.simple(n);
        }
    }

    fn area(&mut self, area: Node) {
        let children = self.sequence(area, AREA, false);
        for n in &children {
            match n.tag_name().name() {
                "polygon" => {
                    let text = self.simple(*n);
                    self.polygon(text);
                }
                "circle" => {
                    let text = self.simple(*n);
                    self.circle(text);
                }
                "geocode" => self.named_value(*n),
                "altitude" | "ceiling" => {
                    let text = self.simple(*n);
                    if text.parse::<f64>().is_err() {
                        self.error(format!(
                            "<{}> {text:?} is not a number",
                            n.tag_name().name()
                        ));
                    }
                }
                _ => {
                    self.simple(*n);
                }
            }
        }
        let has = |name: &str| children.iter().any(|n| n.tag_name().name() == name);
        if has("ceiling") && !has("altitude") {
            self.error("<ceiling> needs <altitude>".into());
        }
    }

    /// At least 4 `lat,lon` pairs separated by whitespace, the first equal to the last (§3.2.4).
    fn polygon(&mut self, text: &str) {
        let pairs: Vec<&str> = text.split_whitespace().collect();
        if pairs.len() < 4 {
            self.error(format!(
                "<polygon> needs at least 4 pairs, has {}",
                pairs.len()
            ));
        }
        for pair in &pairs {
            if lat_lon(pair).is_none() {
                self.error(format!("<polygon> pair {pair:?} is not lat,lon in range"));
            }
        }
        if pairs.first().map(|p| lat_lon(p)) != pairs.last().map(|p| lat_lon(p)) {
            self.error("<polygon>: the first and last pairs differ".into());
        }
    }

    /// `lat,lon radius` with the radius in kilometres (§3.2.4).
    fn circle(&mut self, text: &str) {
        let ok = text.split_once(' ').is_some_and(|(centre, radius)| {
            lat_lon(centre).is_some() && radius.parse::<f64>().is_ok_and(|r| r >= 0.0)
        });
        if !ok {
            self.error(format!("<circle> {text:?} is not `lat,lon radius`"));
        }
    }
}

/// A WGS 84 `lat,lon` pair in range.
pub fn lat_lon(pair: &str) -> Option<(f64, f64)> {
    let (lat, lon) = pair.split_once(',')?;
    let (lat, lon): (f64, f64) = (lat.parse().ok()?, lon.parse().ok()?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// `YYYY-MM-DDThh:mm:ss±hh:mm` with a real date; `+00:00` refused (UTC is `-00:00`).
pub fn is_cap_date_time(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 25 {
        return false;
    }
    let digits = |from: usize, to: usize| -> Option<u32> {
        let s = text.get(from..to)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let seps = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (22, b':'),
    ];
    if seps.iter().any(|&(i, c)| b[i] != c) || !matches!(b[19], b'+' | b'-') {
        return false;
    }
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s), Some(oh), Some(om)) = (
        digits(0, 4),
        digits(5, 7),
        digits(8, 10),
        digits(11, 13),
        digits(14, 16),
        digits(17, 19),
        digits(20, 22),
        digits(23, 25),
    ) else {
        return false;
    };
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => return false,
    };
    let utc_as_plus = b[19] == b'+' && oh == 0 && om == 0;
    (1..=days).contains(&d) && h < 24 && mi < 60 && s < 60 && oh < 24 && om < 60 && !utc_as_plus
}

/// `xs:language`: `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`.
fn is_language(text: &str) -> bool {
    let mut parts = text.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphanumeric()))
}

/// The checker refuses what the specification refuses: each broken variant of a valid message
/// is caught. Run from the integration tests and the unit tests alike.
pub fn self_test() {
    let valid = r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>x.EV-1.2</identifier>
  <sender>crest</sender>
  <sent>2019-07-04T23:00:00+08:00</sent>
  <status>Actual</status>
  <msgType>Cancel</msgType>
  <scope>Public</scope>
  <references>crest,x.EV-1.1,2019-07-04T22:00:00+08:00</references>
  <info>
    <language>zh-CN</language>
    <category>Safety</category>
    <event>e</event>
    <urgency>Past</urgency>
    <severity>Minor</severity>
    <certainty>Observed</certainty>
    <headline>h</headline>
    <area>
      <areaDesc>a</areaDesc>
      <polygon>27.0,113.0 27.0,113.1 27.1,113.1 27.0,113.0</polygon>
      <circle>27.7,113.14 3.2</circle>
    </area>
  </info>
</alert>"#;
    assert!(violations(valid).is_empty(), "{:?}", violations(valid));
    let broken = [
        (
            "<sent>2019-07-04T23:00:00+08:00</sent>",
            "<sent>2019-07-04T15:00:00Z</sent>",
        ),
        (
            "<sent>2019-07-04T23:00:00+08:00</sent>",
            "<sent>2019-07-04T15:00:00+00:00</sent>",
        ),
        (
            "<sent>2019-07-04T23:00:00+08:00</sent>",
            "<sent>2019-02-30T23:00:00+08:00</sent>",
        ),
        (
            "<sent>2019-07-04T23:00:00+08:00</sent>",
            "<sent>2019-07-04T23:00:00.5+08:00</sent>",
        ),
        ("<status>Actual</status>", "<status>Drill</status>"),
        (
            "<identifier>x.EV-1.2</identifier>",
            "<identifier>x,EV-1.2</identifier>",
        ),
        (
            "<identifier>x.EV-1.2</identifier>\n  <sender>crest</sender>",
            "<sender>crest</sender>\n  <identifier>x.EV-1.2</identifier>",
        ),
        (
            "  <references>crest,x.EV-1.1,2019-07-04T22:00:00+08:00</references>\n",
            "",
        ),
        ("crest,x.EV-1.1,2019", "crest,x.EV-1.1;2019"),
        ("<category>Safety</category>", "<category>Flood</category>"),
        ("<category>Safety</category>\n", ""),
        (
            "<urgency>Past</urgency>\n    <severity>Minor</severity>",
            "<severity>Minor</severity>\n    <urgency>Past</urgency>",
        ),
        (
            "<certainty>Observed</certainty>",
            "<certainty>Very Likely</certainty>",
        ),
        ("<language>zh-CN</language>", "<language>zh_CN</language>"),
        (" 27.0,113.0</polygon>", " 27.0,113.2</polygon>"),
        (
            "27.0,113.0 27.0,113.1 27.1,113.1 27.0,113.0",
            "27.0,113.0 27.0,113.1 27.0,113.0",
        ),
        ("27.0,113.0 27.0,113.1", "113.0,27.0 113.1,27.0"),
        (
            "<circle>27.7,113.14 3.2</circle>",
            "<circle>27.7,113.14</circle>",
        ),
        (
            "<areaDesc>a</areaDesc>",
            "<areaDesc>a</areaDesc><ceiling>3</ceiling>",
        ),
        ("<headline>h</headline>", "<headline>h</headline><unknown/>"),
        (
            "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">",
            "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.1\">",
        ),
        ("<scope>Public</scope>", "<scope>Private</scope>"),
        ("<event>e</event>", "<event><b>e</b></event>"),
    ];
    for (from, to) in broken {
        assert!(valid.contains(from), "{from}");
        let xml = valid.replacen(from, to, 1);
        assert!(
            !violations(&xml).is_empty(),
            "the checker let through {to:?} in place of {from:?}"
        );
    }
}
