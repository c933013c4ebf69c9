//! Each operator as Calico's selector reference describes it, the documented precedence
//! example, and errors that say where.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(pairs: &[(&str, &str)], text: &str) -> bool {
    let labels = labels(pairs);
    parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .matches(Subject {
            labels: &labels,
            namespaced: true,
        })
}

#[test]
fn all_and_an_empty_selector_match_everything_and_not_all_matches_nothing() {
    assert!(pod(&[], "all()"));
    assert!(pod(&[("a", "b")], ""));
    assert!(pod(&[("a", "b")], "   "));
    assert!(!pod(&[("a", "b")], "!all()"));
}

#[test]
fn global_matches_only_resources_without_a_namespace() {
    let none = Labels::new();
    let global = parse("global()").unwrap();
    assert!(!global.matches(Subject {
        labels: &none,
        namespaced: true
    }));
    assert!(global.matches(Subject {
        labels: &none,
        namespaced: false
    }));
}

#[test]
fn equality_needs_the_label_and_inequality_also_matches_without_it() {
    assert!(pod(&[("role", "db")], "role == 'db'"));
    assert!(pod(&[("role", "db")], "role == \"db\""));
    assert!(!pod(&[("role", "web")], "role == 'db'"));
    assert!(!pod(&[], "role == 'db'"));
    assert!(pod(&[("role", "web")], "role != 'db'"));
    assert!(
        pod(&[], "role != 'db'"),
        "!= matches a resource without the label"
    );
    assert!(!pod(&[("role", "db")], "role != 'db'"));
}

#[test]
fn has_and_not_has() {
    assert!(pod(&[("k", "")], "has(k)"), "any value, the empty one too");
    assert!(!pod(&[], "has(k)"));
    assert!(pod(&[], "!has(k)"));
    assert!(!pod(&[("k", "v")], "! has(k)"));
}

#[test]
fn sets_and_their_negation_which_also_matches_without_the_label() {
    assert!(pod(&[("env", "qa")], "env in { 'prod', 'qa' }"));
    assert!(!pod(&[("env", "dev")], "env in {'prod','qa'}"));
    assert!(!pod(&[], "env in {'prod'}"));
    assert!(pod(&[("env", "dev")], "env not in {'prod', 'qa'}"));
    assert!(pod(&[], "env not in {'prod'}"));
    assert!(!pod(&[("env", "prod")], "env not in {'prod'}"));
    assert!(!pod(&[("env", "prod")], "env in {}"));
}

#[test]
fn substring_operators_need_the_label() {
    assert!(pod(&[("app", "storefront-web")], "app contains 'front'"));
    assert!(pod(&[("app", "storefront-web")], "app starts with 'store'"));
    assert!(pod(&[("app", "storefront-web")], "app ends with '-web'"));
    assert!(!pod(&[("app", "storefront-web")], "app ends with 'store'"));
    assert!(
        !pod(&[], "app contains ''"),
        "without the label nothing is contained"
    );
}

#[test]
fn keys_with_a_prefix_and_keys_named_like_keywords() {
    assert!(pod(
        &[("projectcalico.org/name", "acme-web")],
        "projectcalico.org/name == 'acme-web'"
    ));
    assert!(
        pod(&[("all", "x")], "all == 'x'"),
        "a key called all is a key"
    );
    assert!(pod(&[("in", "x")], "has(in)"));
}

#[test]
fn negation_binds_tighter_than_and_which_binds_tighter_than_or() {
    // The reference's example: `! has(my-label) || my-label starts with 'prod' && role in
    // {'frontend','business'}` reads as `(!has(my-label)) || ((… starts with 'prod') && (…))`.
    let text = "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}";
    assert!(pod(&[], text), "no my-label");
    assert!(pod(&[("my-label", "prod-1"), ("role", "business")], text));
    assert!(!pod(&[("my-label", "prod-1"), ("role", "db")], text));
    assert!(!pod(&[("my-label", "dev"), ("role", "frontend")], text));
    // Parentheses change it.
    assert!(pod(&[], "!(has(a) || has(b))"));
    assert!(!pod(&[("a", "1")], "!(has(a) || has(b))"));
    assert!(pod(&[("b", "1")], "has(a) && has(c) || has(b)"));
    assert!(!pod(&[("b", "1")], "has(a) && (has(c) || has(b))"));
}

#[test]
fn errors_say_where_and_what() {
    let err = |text: &str| parse(text).expect_err(text);
    assert_eq!(err("role = 'db'").at, 5);
    assert!(err("role == db").message.contains("quoted string"));
    assert!(err("role == 'db").message.contains("not closed"));
    assert!(
        err("has(a) has(b)")
            .message
            .contains("after a complete selector")
    );
    assert!(err("env in {'a' 'b'}").message.contains("`,` or `}`"));
    assert!(err("(has(a)").message.contains("expected `)`"));
    assert!(err("any()").message.contains("unknown function"));
    assert!(err("role").message.contains("after `role`"));
    assert!(err("has(a) &&").message.contains("at the end"));
    assert_eq!(
        err("a == 'b' ; ").to_string(),
        "at character 10: unexpected character `;`"
    );
}
