use super::*;

fn load(text: &str) -> (Vec<AgentRule>, Vec<ConfigError>) {
    rules_from(Some(&SourceFile::new(
        "/home/me/.config/palisade/agents.toml",
        text,
    )))
}

fn rule_of(rules: &[AgentRule], cni: Cni) -> &AgentRule {
    rules.iter().find(|r| r.cni == cni).expect("rule present")
}

#[test]
fn built_in_rules_match_the_documented_defaults() {
    let rules = default_rules();
    let cilium = rule_of(&rules, Cni::Cilium);
    assert_eq!(
        (cilium.port, cilium.path.as_str(), cilium.scheme),
        (9962, "/metrics", Scheme::Http)
    );
    assert_eq!(
        cilium.selector.get("k8s-app").map(String::as_str),
        Some("cilium")
    );
    assert_eq!(rule_of(&rules, Cni::Hubble).port, 9965);
    assert_eq!(rule_of(&rules, Cni::Calico).port, 9091);
    let antrea = rule_of(&rules, Cni::Antrea);
    assert_eq!((antrea.port, antrea.scheme), (10350, Scheme::Https));
    assert_eq!(antrea.selector.len(), 2);
    assert!(rules.iter().all(|r| r.namespace.is_none()));
    assert_eq!(rules_from(None), (default_rules(), vec![]));
}

#[test]
fn overrides_apply_key_by_key() {
    let (rules, errors) = load(
        "[calico]\nnamespace = \"calico-system\"\nport = 9092\nscheme = \"https\"\njob = \"felix\"\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let calico = rule_of(&rules, Cni::Calico);
    assert_eq!(calico.namespace.as_deref(), Some("calico-system"));
    assert_eq!(
        (calico.port, calico.scheme, calico.job.as_str()),
        (9092, Scheme::Https, "felix")
    );
    assert_eq!(
        calico.path, "/metrics",
        "keys not given keep the built-in value"
    );
    assert_eq!(rule_of(&rules, Cni::Cilium), &default_rules()[0]);
}

#[test]
fn errors_name_file_line_and_key_and_keep_the_default() {
    let (rules, errors) = load(
        "[cilium]\nport = 70000\npath = \"metrics\"\n[weave]\nport = 1\n[antrea]\nscheme = \"ftp\"\ncolour = \"red\"\n[hubble.selector]\n",
    );
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 6, "{text:#?}");
    assert_eq!(
        text[0],
        "/home/me/.config/palisade/agents.toml:2: `cilium.port`: expected a port number from 1 to 65535"
    );
    assert!(
        text[1].starts_with(
            "/home/me/.config/palisade/agents.toml:3: `cilium.path`: `metrics` is not a URL path"
        ),
        "{}",
        text[1]
    );
    assert!(
        text[2]
            .contains(":4: `weave`: unknown CNI; expected one of cilium, hubble, calico, antrea"),
        "{}",
        text[2]
    );
    assert!(
        text[3].contains(":7: `antrea.scheme`: unknown scheme `ftp`"),
        "{}",
        text[3]
    );
    assert!(
        text[4].contains(":8: `antrea.colour`: unknown setting `colour`"),
        "{}",
        text[4]
    );
    assert!(
        text[5].contains("`hubble.selector`: an empty selector would match every pod"),
        "{}",
        text[5]
    );
    // Broken entries keep the built-in values.
    assert_eq!(rule_of(&rules, Cni::Cilium), &default_rules()[0]);
    assert_eq!(rule_of(&rules, Cni::Antrea).scheme, Scheme::Https);
}

#[test]
fn wrong_types_and_syntax_errors_are_located() {
    let (_, errors) = load("cilium = 3\n[calico]\nport = \"9091\"\nenabled = \"no\"\n");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 3, "{text:#?}");
    assert!(
        text[0].contains(":1: `cilium`: expected a table of settings"),
        "{}",
        text[0]
    );
    assert!(
        text[1].contains(":3: `calico.port`: expected a port number"),
        "{}",
        text[1]
    );
    assert!(
        text[2].contains(":4: `calico.enabled`: expected true or false"),
        "{}",
        text[2]
    );

    let (rules, errors) = load("[cilium\nport = 1\n");
    assert_eq!(
        rules,
        default_rules(),
        "a file with a syntax error is ignored whole"
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, Some(1));
}

#[test]
fn disabled_cnis_are_not_looked_for() {
    let (rules, errors) = load("[hubble]\nenabled = false\n[antrea]\nenabled = true\n");
    assert!(errors.is_empty(), "{errors:?}");
    let cnis: Vec<Cni> = rules.iter().map(|r| r.cni).collect();
    assert_eq!(cnis, vec![Cni::Cilium, Cni::Calico, Cni::Antrea]);
}

#[test]
fn the_user_file_is_read_from_the_config_dir() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(load_rules(Some(dir.path())), (default_rules(), vec![]));
    std::fs::write(dir.path().join(AGENTS_FILE), "[cilium]\nport = 19962\n").unwrap();
    let (rules, errors) = load_rules(Some(dir.path()));
    assert!(errors.is_empty());
    assert_eq!(rule_of(&rules, Cni::Cilium).port, 19962);
    assert_eq!(load_rules(None).0, default_rules());
}

#[test]
fn metrics_urls_parse_and_reject_clearly() {
    assert_eq!(
        parse_metrics_url("calico=http://10.0.0.5:9091/metrics"),
        Ok((Cni::Calico, "http://10.0.0.5:9091/metrics".to_string()))
    );
    assert!(
        parse_metrics_url("http://x")
            .unwrap_err()
            .contains("expected CNI=URL")
    );
    assert!(
        parse_metrics_url("weave=http://x")
            .unwrap_err()
            .contains("unknown CNI `weave`")
    );
    let err = parse_metrics_url("cilium=ftp://user:secret@host/x").unwrap_err();
    assert!(err.contains("expected an http:// or https:// URL"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    assert!(parse_metrics_url("cilium=/metrics").is_err());
}
