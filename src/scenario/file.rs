//! The fields of a scenario file as serde reads them (`docs/scenarios.md` describes each).
//! Unknown fields are mistakes: a misspelt key must not be silently ignored in a drill.

use super::Problem;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Doc {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub map: String,
    pub start: String,
    #[serde(default)]
    pub time_zone: Option<String>,
    pub duration: String,
    #[serde(default)]
    pub tick_every: Option<String>,
    #[serde(default)]
    pub roster: Roster,
    #[serde(default, rename = "inject")]
    pub injects: Vec<Spanned<Inject>>,
    #[serde(default, rename = "expect")]
    pub expects: Vec<Spanned<Expect>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Teams registered at the start: `register_team` commands without their `type`.
    #[serde(default)]
    pub teams: Vec<Spanned<toml::Table>>,
    /// Teams on duty at the start.
    #[serde(default)]
    pub on_duty: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    pub at: String,
    /// Who sends it: `dispatcher` (default), `field:<team>`, `grid_worker:<id>`.
    #[serde(default, rename = "as")]
    pub actor: Option<String>,
    /// Remember the id the command creates under this name (`$name` in later injects).
    #[serde(default, rename = "ref")]
    pub name: Option<String>,
    /// The error code the command is expected to be refused with.
    #[serde(default)]
    pub refused: Option<String>,
    #[serde(default)]
    pub command: Option<toml::Table>,
    #[serde(default)]
    pub note: Option<Note>,
    #[serde(default)]
    pub cue: Option<Cue>,
    #[serde(default)]
    pub readings: Option<Readings>,
    #[serde(default)]
    pub patrol: Option<Patrol>,
    #[serde(default, rename = "move")]
    pub movement: Option<Move>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub text: String,
    #[serde(default)]
    pub text_en: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cue {
    pub id: String,
    /// Whom it is for: `dispatcher`, `field:<team>`, … (shown to them).
    #[serde(default = "dispatcher")]
    pub to: String,
    pub text: String,
    #[serde(default)]
    pub text_en: String,
    /// How long the trainees have: a duration (`30m`).
    pub deadline: String,
    /// The event type that answers it, and fields it must carry.
    pub expect_event: String,
    #[serde(default)]
    pub expect_fields: toml::Table,
    /// What a simulated trainee does when no person answers (headless replays, `crest demo`).
    #[serde(default)]
    pub response: Option<toml::Table>,
    #[serde(default)]
    pub respond_after: Option<String>,
    #[serde(default)]
    pub respond_as: Option<String>,
    /// Remember the id the response creates under this name.
    #[serde(default, rename = "response_ref")]
    pub response_name: Option<String>,
}

fn dispatcher() -> String {
    "dispatcher".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readings {
    pub gauge: String,
    /// A reading this often, from the inject's `at` until `until`.
    pub every: String,
    pub until: String,
    /// `[time, level]` pairs: the water level (metres) at those relative times; readings in
    /// between are interpolated linearly, to the centimetre.
    pub levels: Vec<(String, f64)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patrol {
    pub team: String,
    pub levee: String,
    /// The stretch walked back and forth, chainages in metres.
    pub from_m: f64,
    pub to_m: f64,
    pub until: String,
    #[serde(default = "walking")]
    pub speed_kmh: f64,
    /// A position fix this often.
    #[serde(default)]
    pub fix_every: Option<String>,
}

fn walking() -> f64 {
    4.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Move {
    pub team: String,
    /// `[lon, lat]` points from where the team is going, in order; the last is where it stops.
    pub route: Vec<[f64; 2]>,
    #[serde(default = "driving")]
    pub speed_kmh: f64,
    #[serde(default)]
    pub fix_every: Option<String>,
}

fn driving() -> f64 {
    30.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub name: String,
    #[serde(default)]
    pub sitrep: Option<String>,
    /// `layer:id`, e.g. `incidents:$breach`.
    #[serde(default)]
    pub entity: Option<String>,
    /// A layer: every entity of it must pass.
    #[serde(default)]
    pub every: Option<String>,
    /// An alert kind: the count of those raised over the run is checked.
    #[serde(default)]
    pub alerts_raised: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    /// The field of the entity (dotted path) for `entity` and `every`.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub equals: Option<toml::Value>,
    #[serde(default)]
    pub tolerance: Option<f64>,
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default)]
    pub at_most: Option<f64>,
    #[serde(default)]
    pub one_of: Option<Vec<toml::Value>>,
}

/// A file read into its fields, with its text for line numbers.
pub struct Parsed {
    pub doc: Doc,
    text: String,
    /// The byte offset where each line starts: a line is found by a binary search, not by
    /// counting from the start (a generated file has thousands of injects).
    line_starts: Vec<usize>,
}

impl Parsed {
    /// The 1-based line of a byte offset.
    pub fn line_at(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    /// The line of the field a problem names, looked for from the line of its inject (or
    /// table) to the next table header: `inject[3].command.severity` is the line of
    /// `severity = …` there. The table's own line when the field is not written out (missing, or
    /// inside an inline table on one line).
    pub fn line_of_field(&self, from_line: usize, field: &str) -> usize {
        let key = field
            .rsplit('.')
            .next()
            .unwrap_or("")
            .split('[')
            .next()
            .unwrap_or("");
        if key.is_empty() {
            return from_line;
        }
        let lines = self
            .text
            .lines()
            .enumerate()
            .skip(from_line.saturating_sub(1));
        for (i, l) in lines.take(200) {
            let t = l.trim_start();
            if i + 1 > from_line && t.starts_with("[[") {
                break;
            }
            if let Some(rest) = t.strip_prefix(key)
                && rest.trim_start().starts_with('=')
            {
                return i + 1;
            }
        }
        from_line
    }

    /// The line of a top-level key (`map = …`), or 1.
    pub fn line_of_key(&self, key: &str) -> usize {
        self.text
            .lines()
            .position(|l| {
                l.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with('='))
            })
            .map_or(1, |i| i + 1)
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Reads the file's fields. A mistake of syntax or of a field (missing, unknown, wrong type) is
/// reported with its line and the path of the field.
pub fn parse(text: &str) -> Result<Parsed, Vec<Problem>> {
    let de = toml::Deserializer::parse(text).map_err(|e| vec![problem(text, "", &e)])?;
    match serde_path_to_error::deserialize::<_, Doc>(de) {
        Ok(doc) => Ok(Parsed {
            doc,
            text: text.to_string(),
            line_starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        }),
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            Err(vec![problem(text, &path, e.inner())])
        }
    }
}

fn problem(text: &str, path: &str, e: &toml::de::Error) -> Problem {
    Problem {
        line: e.span().map(|s| line_at(text, s.start)),
        // `Spanned` shows in serde's path as a private field: not the writer's business.
        field: path.replace(".$__serde_spanned_private_value", ""),
        message: e.message().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_by_offset() {
        let parsed =
            parse("title = \"t\"\nmap = \"m\"\nstart = \"s\"\nduration = \"1d\"\n").unwrap();
        for (offset, line) in [(0, 1), (11, 1), (12, 2), (22, 3), (40, 4)] {
            assert_eq!(parsed.line_at(offset), line, "{offset}");
            assert_eq!(line_at(&parsed.text, offset), line, "{offset}");
        }
        assert_eq!(parsed.line_of_key("duration"), 4);
    }

    #[test]
    fn a_mistake_is_reported_with_its_line_and_field() {
        let text = "title = \"t\"\nmap = \"m\"\nstart = \"2019-07-06T00:00:00+08:00\"\nduration = \"7d\"\n\n[[inject]]\nat = \"+0d01:00\"\n\n[[inject]]\nat = \"+0d02:00\"\nnote = { text = \"rain\", colour = \"red\" }\n";
        let Err(problems) = parse(text) else {
            panic!("accepted")
        };
        let p = &problems[0];
        assert_eq!(p.line, Some(11), "{p}");
        assert!(p.field.starts_with("inject[1].note"), "{p}");
        assert!(p.message.contains("colour"), "{p}");

        let Err(problems) = parse("title = \"t\"\nmap = \n") else {
            panic!("accepted")
        };
        assert_eq!(problems[0].line, Some(2), "{}", problems[0]);

        let Err(problems) = parse("title = \"t\"\nmap = \"m\"\nstart = \"x\"\n") else {
            panic!("accepted")
        };
        assert!(problems[0].message.contains("duration"), "{}", problems[0]);
    }
}
