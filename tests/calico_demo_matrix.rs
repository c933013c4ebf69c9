//! The Calico flavour of the demo, analysed headless: the matrix its seed should give by
//! Calico's documented order (tiers by order; in a tier, policies by order; the first Allow or
//! Deny decides, Pass goes to the next tier; Kubernetes NetworkPolicies sit at order 1000 in
//! the default tier; staged policies are not enforced), against the same cluster under Cilium.

mod support;

use std::path::Path;
use std::process::Command;

use support::{BINARY, run, serve_only};

/// `palisade analyze -o matrix`, as (from, to) → level word.
fn matrix(kubeconfig: &Path) -> (String, Vec<(String, String, String)>) {
    let out = run(Command::new(BINARY)
        .args(["analyze", "-o", "matrix"])
        .env("KUBECONFIG", kubeconfig));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines().skip_while(|l| !l.starts_with("from \\ to"));
    let header: Vec<String> = lines
        .next()
        .expect("a matrix header")
        .split_whitespace()
        .skip(3)
        .map(str::to_string)
        .collect();
    let mut cells = Vec::new();
    for line in lines.take_while(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        // `acme ■ closed ◧ partial ...`: a symbol and a word per column.
        for (i, to) in header.iter().enumerate() {
            cells.push((
                words[0].to_string(),
                to.clone(),
                words[2 + 2 * i].to_string(),
            ));
        }
    }
    (text, cells)
}

fn level<'a>(cells: &'a [(String, String, String)], from: &str, to: &str) -> &'a str {
    cells
        .iter()
        .find(|(f, t, _)| f == from && t == to)
        .map(|(_, _, l)| l.as_str())
        .unwrap_or_else(|| panic!("no cell {from} → {to}"))
}

#[test]
fn the_calico_seed_decides_in_calicos_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_calico, kubeconfig) = serve_only(dir.path(), "demo.kubeconfig", &["--cni", "calico"]);
    let (text, calico) = matrix(&kubeconfig);
    assert!(text.starts_with("CNI: Calico"), "{text}");

    let cilium_dir = tempfile::tempdir().unwrap();
    let (_cilium, cilium_kc) = serve_only(cilium_dir.path(), "demo.kubeconfig", &[]);
    let (_, cilium) = matrix(&cilium_kc);

    // The security tier (order 100) denies umbrella's namespaces before the default tier's
    // NetworkPolicies that let them in (misconfiguration 3 is partial under Cilium).
    assert_eq!(level(&cilium, "umbrella", "globex"), "partial", "{text}");
    assert_eq!(level(&calico, "umbrella", "globex"), "closed", "{text}");
    // ...and before the kube-admin tier (1000) whose Accept opens initech under Cilium.
    assert_eq!(level(&cilium, "umbrella", "initech"), "partial");
    assert_eq!(level(&calico, "umbrella", "initech"), "closed", "{text}");
    // A namespaced Calico policy's Deny (order 100) comes before globex's own NetworkPolicies
    // (order 1000) in the default tier: globex → globex loses postgres.
    assert_eq!(level(&calico, "globex", "globex"), "partial", "{text}");
    // The typo'd selector (app == 'paymnet') selects nothing: acme stays open inside.
    assert_eq!(level(&calico, "acme", "acme"), "open", "{text}");
    // Cilium's storefront-to-world is not enforced by Calico.
    assert_eq!(level(&cilium, "acme", "ext-out"), "partial");
    assert_eq!(level(&calico, "acme", "ext-out"), "closed", "{text}");
    // The staged quarantine of umbrella's egress is not enforced...
    assert_eq!(level(&calico, "umbrella", "ext-out"), "open", "{text}");

    // ...and `check` says what it would close; the typo is a finding.
    let out = run(Command::new(BINARY)
        .args(["check", "--fail-on", "error"])
        .env("KUBECONFIG", &kubeconfig));
    let check = String::from_utf8_lossy(&out.stdout);
    assert!(
        check.contains("PAL094") && check.contains("staged: would deny umbrella → outside"),
        "{check}"
    );
    assert!(
        check.contains("PAL091 caliconp/acme-api/deny-web-to-payments"),
        "{check}"
    );
}
