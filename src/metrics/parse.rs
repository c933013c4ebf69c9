//! Prometheus text exposition → owned samples grouped per metric family.
//!
//! `prometheus-parse` classifies `# HELP` / `# TYPE` lines. Sample lines are split here because
//! that crate splits label blocks on every comma and does not unescape values, which breaks on
//! values such as `reason="a, b"` or `\"`. Hostile input never panics: the whole payload is
//! bounded, and each bad line becomes a [`LineError`] while the rest still parses.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use prometheus_parse::{LineInfo, SampleType};

/// Bounds applied before and during parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole payload, in bytes; larger payloads are rejected outright.
    pub max_bytes: usize,
    /// One line, in bytes; longer lines become a per-line error.
    pub max_line_bytes: usize,
    /// Per-line errors kept; further ones are only counted.
    pub max_errors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // An agent with thousands of endpoints stays well under 16 MiB.
        Self {
            max_bytes: 16 << 20,
            max_line_bytes: 16 << 10,
            max_errors: 100,
        }
    }
}

/// Whole-payload failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("metrics payload is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
}

/// One line that could not be used (1-based line number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Declared type of a family (`# TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl From<SampleType> for MetricType {
    fn from(t: SampleType) -> Self {
        match t {
            SampleType::Counter => Self::Counter,
            SampleType::Gauge => Self::Gauge,
            SampleType::Histogram => Self::Histogram,
            SampleType::Summary => Self::Summary,
            SampleType::Untyped => Self::Untyped,
        }
    }
}

/// One series value. `name` keeps suffixes such as `_bucket`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Samples of one family, in first-seen order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Family {
    pub name: String,
    pub kind: Option<MetricType>,
    pub help: Option<String>,
    pub samples: Vec<Sample>,
}

/// Result of parsing one payload.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scrape {
    pub families: BTreeMap<String, Family>,
    pub errors: Vec<LineError>,
    /// Errors beyond `Limits::max_errors`, counted only.
    pub errors_dropped: usize,
    /// Series seen more than once; the last value wins.
    pub duplicates: usize,
}

impl Scrape {
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.get(name)
    }

    /// Samples of family `family` whose own name is exactly `name`.
    pub fn samples<'a>(&'a self, family: &str, name: &'a str) -> impl Iterator<Item = &'a Sample> {
        self.families
            .get(family)
            .into_iter()
            .flat_map(|f| f.samples.iter())
            .filter(move |s| s.name == name)
    }
}

/// Parse with [`Limits::default`].
pub fn parse(text: &str) -> Result<Scrape, ParseError> {
    parse_with_limits(text, Limits::default())
}

pub fn parse_with_limits(text: &str, limits: Limits) -> Result<Scrape, ParseError> {
    parse_with_hasher(text, limits, &RandomState::new())
}

/// Sentinel for the end of a collision chain in [`Building::next`].
const NO_SAMPLE: usize = usize::MAX;

/// A family being filled, with its duplicate-series index.
///
/// Series are found by a hash of (sample name, labels) computed on the borrowed sample, so
/// nothing is cloned to detect a duplicate. `heads` maps that hash to the most recent sample
/// having it, and `next[i]` links sample `i` to the previous sample with the same hash; a hit
/// is only a duplicate when name and labels compare equal.
struct Building {
    family: Family,
    heads: HashMap<u64, usize, BuildHasherDefault<PreHashed>>,
    next: Vec<usize>,
}

impl Building {
    /// Index of the sample with `name` and `labels`, given their `hash`.
    fn find(&self, hash: u64, name: &str, labels: &BTreeMap<String, String>) -> Option<usize> {
        let mut idx = self.heads.get(&hash).copied().unwrap_or(NO_SAMPLE);
        while idx != NO_SAMPLE {
            let s = &self.family.samples[idx];
            if s.name == name && s.labels == *labels {
                return Some(idx);
            }
            idx = self.next[idx];
        }
        None
    }

    fn push(&mut self, hash: u64, sample: Sample) {
        let idx = self.family.samples.len();
        self.family.samples.push(sample);
        self.next
            .push(self.heads.insert(hash, idx).unwrap_or(NO_SAMPLE));
    }
}

/// Keys of `Building::heads` are already hashes: use them as they are.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// [`parse_with_limits`] with the series hash made by `hasher` (tests pass a weak one to force
/// collisions).
fn parse_with_hasher<S: BuildHasher>(
    text: &str,
    limits: Limits,
    hasher: &S,
) -> Result<Scrape, ParseError> {
    if text.len() > limits.max_bytes {
        return Err(ParseError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    let mut out = Scrape::default();
    let mut types: HashMap<String, MetricType> = HashMap::new();
    let mut help: HashMap<String, String> = HashMap::new();
    let mut building: Vec<Building> = Vec::new();
    let mut family_index: HashMap<String, usize> = HashMap::new();
    // Sample name of the previous sample line and its family (index into `building`); exporters
    // write a family's series together, so this skips most family lookups.
    let mut last_name = String::new();
    let mut last_family: Option<usize> = None;

    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let fail = |out: &mut Scrape, message: String| {
            if out.errors.len() < limits.max_errors {
                out.errors.push(LineError {
                    line: line_no,
                    message,
                });
            } else {
                out.errors_dropped += 1;
            }
        };
        if raw.len() > limits.max_line_bytes {
            fail(
                &mut out,
                format!(
                    "line is {} bytes, over the {}-byte limit",
                    raw.len(),
                    limits.max_line_bytes
                ),
            );
            continue;
        }
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            match LineInfo::parse(line) {
                LineInfo::Doc { metric_name, doc } => {
                    help.insert(metric_name.to_string(), doc.to_string());
                }
                LineInfo::Type {
                    metric_name,
                    metric_alias,
                    sample_type,
                } => {
                    // The crate renames histograms to `<name>_bucket`; the alias is the family.
                    let family = metric_alias.unwrap_or(metric_name);
                    types.insert(family, sample_type.into());
                    // A type can move `x_bucket` and friends into family `x` from here on.
                    last_family = None;
                }
                _ => {} // other comments are allowed by the format
            }
            continue;
        }
        let sample = match parse_sample_line(line) {
            Ok(s) => s,
            Err(message) => {
                fail(&mut out, message);
                continue;
            }
        };
        let fi = match last_family {
            Some(fi) if last_name == sample.name => fi,
            _ => {
                let family_name = family_of(&sample.name, &types);
                let fi = match family_index.get(family_name) {
                    Some(&fi) => fi,
                    None => {
                        building.push(Building {
                            family: Family {
                                name: family_name.to_string(),
                                kind: types.get(family_name).copied(),
                                help: help.get(family_name).cloned(),
                                samples: Vec::new(),
                            },
                            heads: HashMap::default(),
                            next: Vec::new(),
                        });
                        family_index.insert(family_name.to_string(), building.len() - 1);
                        building.len() - 1
                    }
                };
                last_name.clear();
                last_name.push_str(&sample.name);
                last_family = Some(fi);
                fi
            }
        };
        let b = &mut building[fi];
        let hash = hasher.hash_one((sample.name.as_str(), &sample.labels));
        match b.find(hash, &sample.name, &sample.labels) {
            Some(idx) => {
                out.duplicates += 1;
                b.family.samples[idx].value = sample.value;
            }
            None => b.push(hash, sample),
        }
    }
    out.families = building
        .into_iter()
        .map(|b| {
            let mut family = b.family;
            family.samples.shrink_to_fit();
            (family.name.clone(), family)
        })
        .collect();
    Ok(out)
}

/// `x_bucket`/`x_sum`/`x_count` (and `x_created`) belong to family `x` when `x` is declared as
/// a histogram or summary; anything else is its own family.
fn family_of<'a>(name: &'a str, types: &HashMap<String, MetricType>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count", "_created"] {
        if let Some(base) = name.strip_suffix(suffix)
            && matches!(
                types.get(base),
                Some(MetricType::Histogram | MetricType::Summary)
            )
        {
            return base;
        }
    }
    name
}

fn parse_sample_line(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("line does not start with a metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remaining) = parse_labels(after)?;
        labels = parsed;
        rest = remaining;
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("{name}: missing value"))?;
    let value = parse_value(value).ok_or_else(|| format!("{name}: bad value {value:?}"))?;
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return Err(format!("{name}: bad timestamp {ts:?}"));
    }
    if fields.next().is_some() {
        return Err(format!("{name}: trailing text after value"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `k="v",...}` and returns the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s.find('=').ok_or("label without '='")?;
        let key = s[..eq].trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad label name {key:?}"));
        }
        s = s[eq + 1..].trim_start();
        s = s.strip_prefix('"').ok_or("label value not quoted")?;
        // Most values have no escapes: copy them in one go.
        let (value, end) = match s.bytes().position(|b| b == b'"' || b == b'\\') {
            Some(end) if s.as_bytes()[end] == b'"' => (s[..end].to_string(), end),
            _ => unescape_label_value(s)?,
        };
        labels.insert(key.to_string(), value);
        s = s[end + 1..].trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err("expected ',' or '}' after label value".into());
        }
    }
}

/// Reads a label value after its opening quote, undoing escapes (`\n` is a newline, `\c` is `c`);
/// returns it and the byte offset of its closing quote.
fn unescape_label_value(s: &str) -> Result<(String, usize), String> {
    let mut value = String::with_capacity(s.len().min(64));
    let mut chars = s.char_indices();
    loop {
        match chars.next() {
            None => return Err("unterminated label value".into()),
            Some((i, '"')) => return Ok((value, i)),
            Some((_, '\\')) => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, c)) => value.push(c),
                None => return Err("unterminated escape in label value".into()),
            },
            Some((_, c)) => value.push(c),
        }
    }
}

/// Go-style floats plus the exposition spellings of NaN and infinities.
pub(crate) fn parse_value(s: &str) -> Option<f64> {
    // Exporters are written in Go, whose ParseFloat takes these spellings case-insensitively.
    let is = |spelling: &str| s.eq_ignore_ascii_case(spelling);
    if is("nan") {
        Some(f64::NAN)
    } else if is("+inf") || is("inf") {
        Some(f64::INFINITY)
    } else if is("-inf") {
        Some(f64::NEG_INFINITY)
    } else if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) {
        s.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"# HELP cilium_drop_count_total Total dropped packets
# TYPE cilium_drop_count_total counter
cilium_drop_count_total{direction="INGRESS",reason="Policy denied"} 42
cilium_drop_count_total{direction="EGRESS",reason="Stale or unroutable IP"} 3
# TYPE cilium_policy_implementation_delay histogram
cilium_policy_implementation_delay_bucket{source="k8s",le="0.1"} 1
cilium_policy_implementation_delay_bucket{source="k8s",le="+Inf"} 4
cilium_policy_implementation_delay_sum{source="k8s"} 2.5
cilium_policy_implementation_delay_count{source="k8s"} 4
"#;

    #[test]
    fn groups_families_and_types() {
        let s = parse(FIXTURE).unwrap();
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        let drops = s.family("cilium_drop_count_total").unwrap();
        assert_eq!(drops.kind, Some(MetricType::Counter));
        assert_eq!(drops.help.as_deref(), Some("Total dropped packets"));
        assert_eq!(drops.samples[0].label("reason"), Some("Policy denied"));
        assert_eq!(drops.samples[0].value, 42.0);
        let h = s.family("cilium_policy_implementation_delay").unwrap();
        assert_eq!(h.kind, Some(MetricType::Histogram));
        assert_eq!(h.samples.len(), 4);
        assert_eq!(
            s.samples(
                "cilium_policy_implementation_delay",
                "cilium_policy_implementation_delay_bucket"
            )
            .count(),
            2
        );
    }

    #[test]
    fn special_values() {
        let s = parse("a NaN\nb +Inf\nc -Inf\nd 1e3 1700000000000\n").unwrap();
        assert!(s.errors.is_empty());
        assert!(s.family("a").unwrap().samples[0].value.is_nan());
        assert_eq!(s.family("b").unwrap().samples[0].value, f64::INFINITY);
        assert_eq!(s.family("c").unwrap().samples[0].value, f64::NEG_INFINITY);
        assert_eq!(s.family("d").unwrap().samples[0].value, 1000.0);
    }

    #[test]
    fn escaped_and_comma_label_values() {
        let s = parse(r#"m{reason="a, b",q="say \"hi\"\n"} 1"#).unwrap();
        let m = &s.family("m").unwrap().samples[0];
        assert_eq!(m.label("reason"), Some("a, b"));
        assert_eq!(m.label("q"), Some("say \"hi\"\n"));
    }

    #[test]
    fn duplicates_keep_last() {
        let s = parse("m{a=\"1\"} 1\nm{a=\"1\"} 5\nm{a=\"2\"} 7\n").unwrap();
        assert_eq!(s.duplicates, 1);
        let f = s.family("m").unwrap();
        assert_eq!(f.samples.len(), 2);
        assert_eq!(f.samples[0].value, 5.0);
    }

    #[test]
    fn malformed_lines_are_collected_not_fatal() {
        let text = "good 1\n{x=\"1\"} 2\nm{a=\"1\" 3\nm{a=1} 3\nm notanumber\nm\nm 1 2 3\nm{a=\"x} 1\n9bad 1\nok 2\n";
        let s = parse(text).unwrap();
        assert_eq!(s.errors.len(), 8, "{:?}", s.errors);
        assert_eq!(s.errors[0].line, 2);
        assert!(s.family("good").is_some() && s.family("ok").is_some());
    }

    #[test]
    fn size_and_line_limits() {
        let limits = Limits {
            max_bytes: 64,
            max_line_bytes: 16,
            max_errors: 1,
        };
        let big = "x".repeat(65);
        assert_eq!(
            parse_with_limits(&big, limits),
            Err(ParseError::TooLarge {
                size: 65,
                limit: 64
            })
        );
        let s = parse_with_limits(
            "short 1\nlong_metric_name_here 1\nanother_long_line 2\n",
            limits,
        )
        .unwrap();
        assert_eq!(s.errors.len(), 1);
        assert_eq!(s.errors_dropped, 1);
        assert!(s.errors[0].message.contains("limit"));
        assert!(s.family("short").is_some());
    }

    #[test]
    fn never_panics_on_junk() {
        for junk in [
            "{",
            "}",
            "m{",
            "m{=\"\"}",
            "m{a=\"\\",
            "# TYPE",
            "# TYPE x histogram\nx_bucket{le=\"q\"} 1",
            "\u{0}\u{1}",
            "m{a=\"é\"} 1",
        ] {
            let _ = parse(junk).unwrap();
        }
    }
}

#[cfg(test)]
#[path = "parse_reference_tests.rs"]
mod reference_tests;
