//! The Prometheus alerting rules in `docs/monitoring/`: promtool accepts them, their unit tests
//! pass, the unit tests fail when a threshold is altered, and every alert is documented and
//! tested both firing and not firing.
//!
//! The promtool tests skip with a message when promtool is not installed, and fail instead when
//! PALISADE_REQUIRE_TOOLS=1 (`.ci/test` installs it with the Debian `prometheus` package).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{run, tool_available};

const RULES: &str = "docs/monitoring/palisade-alerts.yaml";
const TESTS: &str = "docs/monitoring/tests";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The unit-test files, sorted.
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no unit tests in {}", dir.display());
    files
}

fn promtool(cwd: &Path, args: &[&str], files: &[PathBuf]) -> Output {
    run(Command::new("promtool")
        .current_dir(cwd)
        .args(args)
        .args(files))
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    palisade::yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

fn seq(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// All alerting rules (not recording rules) of the rules file.
fn alerts() -> Vec<Value> {
    let doc = load(&repo().join(RULES));
    seq(&doc["groups"])
        .iter()
        .flat_map(|g| seq(&g["rules"]).iter())
        .filter(|r| r.get("alert").is_some())
        .cloned()
        .collect()
}

#[test]
fn promtool_accepts_the_rules() {
    if !tool_available("promtool") {
        return;
    }
    let out = promtool(&repo(), &["check", "rules"], &[repo().join(RULES)]);
    assert!(
        out.status.success(),
        "promtool check rules failed:\n{}",
        output_text(&out)
    );
}

#[test]
fn rule_unit_tests_pass() {
    if !tool_available("promtool") {
        return;
    }
    let out = promtool(
        &repo(),
        &["test", "rules"],
        &test_files(&repo().join(TESTS)),
    );
    assert!(
        out.status.success(),
        "promtool test rules failed:\n{}",
        output_text(&out)
    );
}

/// Each change to a threshold must make the unit tests fail, naming the alert: the tests check
/// values, not only that the rules load. Widening changes catch the "not firing" cases.
#[test]
fn unit_tests_fail_when_a_threshold_is_altered() {
    if !tool_available("promtool") {
        return;
    }
    let original = std::fs::read_to_string(repo().join(RULES)).expect("rules file");
    let mutations = [
        (
            "namespace_pair:palisade_hubble_policy_drops:rate5m > 1\n",
            "namespace_pair:palisade_hubble_policy_drops:rate5m > 2.5\n",
            "PalisadeTenantPairPolicyDrops",
        ),
        (
            "namespace_pair:palisade_hubble_policy_drops:rate5m > 1\n",
            "namespace_pair:palisade_hubble_policy_drops:rate5m > 0.1\n",
            "PalisadeTenantPairPolicyDrops",
        ),
        (
            "> 5 * avg_over_time(node:palisade_policy_denied:rate5m",
            "> 20 * avg_over_time(node:palisade_policy_denied:rate5m",
            "PalisadeNodePolicyDropSpike",
        ),
        (
            "namespace:palisade_hubble_dns_failure_ratio:rate5m > 0.05\n",
            "namespace:palisade_hubble_dns_failure_ratio:rate5m > 0.2\n",
            "PalisadeTenantDnsErrors",
        ),
        (
            "[5m]))\n          ) > 1\n",
            "[5m]))\n          ) > 5\n",
            "PalisadeCiliumPolicyImplementationSlow",
        ),
    ];
    let tests = test_files(&repo().join(TESTS));
    for (from, to, alert) in mutations {
        assert_eq!(
            original.matches(from).count(),
            1,
            "the rules file no longer contains {from:?} exactly once; update this test"
        );
        // The unit tests name the rules as ../palisade-alerts.yaml: keep that layout.
        let dir = tempfile::tempdir().expect("temp dir");
        let copy_tests = dir.path().join("tests");
        std::fs::create_dir(&copy_tests).expect("tests dir");
        std::fs::write(
            dir.path().join("palisade-alerts.yaml"),
            original.replace(from, to),
        )
        .expect("altered rules");
        let copies: Vec<PathBuf> = tests
            .iter()
            .map(|t| {
                let copy = copy_tests.join(t.file_name().expect("file name"));
                std::fs::copy(t, &copy).expect("copy unit test");
                copy
            })
            .collect();
        let out = promtool(dir.path(), &["test", "rules"], &copies);
        let text = output_text(&out);
        assert!(
            !out.status.success(),
            "the unit tests still pass with {from:?} changed to {to:?}:\n{text}"
        );
        assert!(
            text.contains(&format!("alertname: {alert},")),
            "changing {from:?} to {to:?} should fail a test of {alert}:\n{text}"
        );
    }
}

#[test]
fn every_alert_has_severity_summary_description_and_a_runbook_that_exists() {
    let alerts = alerts();
    assert!(alerts.len() >= 10, "only {} alerts", alerts.len());
    for rule in &alerts {
        let name = rule["alert"].as_str().expect("alert name");
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("warning" | "critical")),
            "{name}: severity is {severity:?}"
        );
        let ann = &rule["annotations"];
        for key in ["summary", "description"] {
            let text = ann[key].as_str().unwrap_or_default();
            assert!(!text.trim().is_empty(), "{name}: no {key}");
        }
        let description = ann["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("{{ $labels.") || description.contains("{{ $value"),
            "{name}: the description is not templated"
        );
        let url = ann["runbook_url"].as_str().unwrap_or_default();
        let (file, anchor) = url
            .split_once('#')
            .unwrap_or_else(|| panic!("{name}: runbook_url {url:?} has no anchor"));
        let doc = std::fs::read_to_string(repo().join(file))
            .unwrap_or_else(|e| panic!("{name}: runbook {file} cannot be read: {e}"));
        let anchors: BTreeSet<String> = doc
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| slug(l.trim_start_matches('#')))
            .collect();
        assert!(
            anchors.contains(anchor),
            "{name}: {file} has no heading for #{anchor}"
        );
    }
}

/// Every alert is expected to fire somewhere in the unit tests, and expected not to fire
/// somewhere else.
#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for file in test_files(&repo().join(TESTS)) {
        let doc = load(&file);
        for test in seq(&doc["tests"]) {
            for case in seq(&test["alert_rule_test"]) {
                let name = case["alertname"].as_str().expect("alertname").to_string();
                if seq(&case["exp_alerts"]).is_empty() {
                    quiet.insert(name);
                } else {
                    firing.insert(name);
                }
            }
        }
    }
    for rule in alerts() {
        let name = rule["alert"].as_str().expect("alert name");
        assert!(firing.contains(name), "{name} is never tested firing");
        assert!(quiet.contains(name), "{name} is never tested not firing");
    }
}

/// GitHub's heading anchor: lower case, spaces to hyphens, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}
