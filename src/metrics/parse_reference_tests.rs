//! The parser against a reference: the straightforward version it replaced, which keyed a
//! `HashMap` on a clone of each sample's (family, name, labels). Both must produce the same
//! [`Scrape`] on random payloads full of repeated series, reordered labels, escapes, late
//! `# TYPE` lines and bad lines — also when every series hash collides.

use std::hash::{BuildHasherDefault, DefaultHasher, Hasher};

use proptest::prelude::*;

use super::*;

/// The parser before the hashed duplicate index, kept verbatim as the reference.
mod reference {
    use std::collections::{BTreeMap, HashMap};

    use prometheus_parse::LineInfo;

    use super::super::{Family, Limits, LineError, MetricType, ParseError, Sample, Scrape};

    pub(super) fn parse_with_limits(text: &str, limits: Limits) -> Result<Scrape, ParseError> {
        if text.len() > limits.max_bytes {
            return Err(ParseError::TooLarge {
                size: text.len(),
                limit: limits.max_bytes,
            });
        }
        let mut out = Scrape::default();
        let mut types: HashMap<String, MetricType> = HashMap::new();
        let mut help: HashMap<String, String> = HashMap::new();
        // (family, sample name, labels) → index into that family's samples.
        let mut seen: HashMap<(String, String, BTreeMap<String, String>), usize> = HashMap::new();

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
            let family_name = family_of(&sample.name, &types);
            let family = out
                .families
                .entry(family_name.clone())
                .or_insert_with(|| Family {
                    name: family_name.clone(),
                    kind: types.get(&family_name).copied(),
                    help: help.get(&family_name).cloned(),
                    samples: Vec::new(),
                });
            let key = (family_name, sample.name.clone(), sample.labels.clone());
            match seen.get(&key) {
                Some(&idx) => {
                    out.duplicates += 1;
                    family.samples[idx].value = sample.value;
                }
                None => {
                    seen.insert(key, family.samples.len());
                    family.samples.push(sample);
                }
            }
        }
        Ok(out)
    }

    /// `x_bucket`/`x_sum`/`x_count` (and `x_created`) belong to family `x` when `x` is declared as
    /// a histogram or summary; anything else is its own family.
    fn family_of(name: &str, types: &HashMap<String, MetricType>) -> String {
        for suffix in ["_bucket", "_sum", "_count", "_created"] {
            if let Some(base) = name.strip_suffix(suffix)
                && matches!(
                    types.get(base),
                    Some(MetricType::Histogram | MetricType::Summary)
                )
            {
                return base.to_string();
            }
        }
        name.to_string()
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
            let mut value = String::new();
            let mut chars = s.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("unterminated label value".into()),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => return Err("unterminated escape in label value".into()),
                    },
                    Some((_, c)) => value.push(c),
                }
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

    /// Go-style floats plus the exposition spellings of NaN and infinities.
    fn parse_value(s: &str) -> Option<f64> {
        // Exporters are written in Go, whose ParseFloat takes these spellings case-insensitively.
        match s.to_ascii_lowercase().as_str() {
            "nan" => Some(f64::NAN),
            "+inf" | "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => s.parse().ok(),
            _ => None,
        }
    }
}

/// Hashes into `N` values only, so most distinct series share a hash.
#[derive(Default)]
struct Weak<const N: u64>(DefaultHasher);

impl<const N: u64> Hasher for Weak<N> {
    fn finish(&self) -> u64 {
        self.0.finish() % N
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }
}

/// `Scrape` holds NaN values, which `PartialEq` never matches; `Debug` shows them.
fn same(a: &Result<Scrape, ParseError>, b: &Result<Scrape, ParseError>) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

const NAMES: &[&str] = &[
    "m",
    "m_bucket",
    "m_sum",
    "m_count",
    "m_created",
    "h",
    "h_bucket",
    "h_count",
    "s_sum",
    "x:y_total",
];
const TYPES: &[&str] = &[
    "# TYPE m histogram",
    "# TYPE m counter",
    "# TYPE h summary",
    "# TYPE s histogram",
    "# HELP m some help",
    "# HELP h other help",
    "# a comment",
];
const KEYS: &[&str] = &["a", "b", "le", "quantile"];
const VALUES: &[&str] = &[
    "",
    "1",
    "2",
    "a, b",
    "say \\\"hi\\\"",
    "x\\ny",
    "back\\\\slash",
    "q\\zq",
    "é",
    "+Inf",
];
const NUMBERS: &[&str] = &[
    "1",
    "2.5",
    "-3",
    "1e3",
    "NaN",
    "+Inf",
    "-inf",
    "0 1700000000000",
];
const JUNK: &[&str] = &[
    "",
    "   ",
    "{x=\"1\"} 2",
    "m{a=\"1\" 3",
    "m{a=1} 3",
    "m notanumber",
    "m",
    "m 1 2 3",
    "m{a=\"x} 1",
    "9bad 1",
    "m{a=\"\\",
];

fn sample_line() -> impl Strategy<Value = String> {
    (
        0..NAMES.len(),
        prop::collection::vec((0..KEYS.len(), 0..VALUES.len()), 0..4),
        0..NUMBERS.len(),
        any::<bool>(),
    )
        .prop_map(|(name, labels, number, spaced)| {
            let sep = if spaced { ", " } else { "," };
            let labels: Vec<String> = labels
                .into_iter()
                .map(|(k, v)| format!("{}=\"{}\"", KEYS[k], VALUES[v]))
                .collect();
            let block = if labels.is_empty() && !spaced {
                String::new()
            } else {
                format!("{{{}}}", labels.join(sep))
            };
            format!("{}{block} {}", NAMES[name], NUMBERS[number])
        })
}

fn payload() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        6 => sample_line(),
        1 => (0..TYPES.len()).prop_map(|i| TYPES[i].to_string()),
        1 => (0..JUNK.len()).prop_map(|i| JUNK[i].to_string()),
    ];
    prop::collection::vec(line, 0..60).prop_map(|lines| lines.join("\n"))
}

fn limits() -> impl Strategy<Value = Limits> {
    (1usize..4, 20usize..200).prop_map(|(max_errors, max_line_bytes)| Limits {
        max_bytes: 16 << 20,
        max_line_bytes,
        max_errors,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn agrees_with_reference(text in payload(), limits in limits()) {
        let expected = reference::parse_with_limits(&text, limits);
        let got = parse_with_limits(&text, limits);
        prop_assert!(same(&got, &expected), "{text}\n{got:#?}\n{expected:#?}");
    }

    #[test]
    fn agrees_with_reference_when_hashes_collide(text in payload(), limits in limits()) {
        let expected = reference::parse_with_limits(&text, limits);
        for got in [
            parse_with_hasher(&text, limits, &BuildHasherDefault::<Weak<1>>::default()),
            parse_with_hasher(&text, limits, &BuildHasherDefault::<Weak<3>>::default()),
        ] {
            prop_assert!(same(&got, &expected), "{text}\n{got:#?}\n{expected:#?}");
        }
    }
}

#[test]
fn colliding_distinct_series_stay_apart() {
    let text = "m{a=\"1\"} 1\nm{a=\"2\"} 2\nm{b=\"1\"} 3\nm{a=\"2\"} 4\nm 5\nm{a=\"1\"} 6\n";
    let s = parse_with_hasher(
        text,
        Limits::default(),
        &BuildHasherDefault::<Weak<1>>::default(),
    )
    .unwrap();
    assert_eq!(s.duplicates, 2);
    let values: Vec<f64> = s
        .family("m")
        .unwrap()
        .samples
        .iter()
        .map(|s| s.value)
        .collect();
    assert_eq!(values, [6.0, 4.0, 3.0, 5.0]);
}

#[test]
fn late_type_line_moves_later_samples_only() {
    // `m_bucket` before `# TYPE m histogram` is its own family; after it, family `m`. The same
    // series in two families is not a duplicate.
    let text =
        "m_bucket{le=\"1\"} 1\n# TYPE m histogram\nm_bucket{le=\"1\"} 2\nm_bucket{le=\"1\"} 3\n";
    let s = parse(text).unwrap();
    assert_eq!(s.duplicates, 1);
    assert_eq!(s.family("m_bucket").unwrap().samples[0].value, 1.0);
    assert_eq!(s.family("m").unwrap().samples[0].value, 3.0);
    assert!(same(
        &Ok(s),
        &reference::parse_with_limits(text, Limits::default())
    ));
}
