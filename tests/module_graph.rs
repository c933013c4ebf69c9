//! The module graph stays layered (issue 11, §2b): no import circle inside `src/app/`, and nothing
//! below the console's core (the adapters, the engine, the libraries) imports `app/`. Read from
//! the sources' `use` paths, so a new circle fails here before review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The source without its unit-test module (tests may reach anywhere).
fn without_tests(source: &str) -> &str {
    source
        .find("#[cfg(test)]\nmod tests")
        .map_or(source, |at| &source[..at])
}

/// `app/`'s modules and the modules of `app/` each one names (`super::x`, `crate::app::x`).
fn app_graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("src/app")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "mod" || name == "testing" || name.ends_with("_tests") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let mut deps = BTreeSet::new();
        for prefix in ["super::", "crate::app::"] {
            for (at, _) in without_tests(&source).match_indices(prefix) {
                let rest = &source[at + prefix.len()..];
                let module: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !module.is_empty() && module != name {
                    deps.insert(module);
                }
            }
        }
        graph.insert(name, deps);
    }
    graph
}

/// A circle in the graph, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next)
                && let Some(found) = visit(next, graph, path, done)
            {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn app_has_no_import_circle() {
    let graph = app_graph(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(graph.len() > 10, "read the modules of src/app: {graph:?}");
    assert_eq!(circle(&graph), None, "an import circle inside src/app");
}

#[test]
fn the_circle_finder_finds_circles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(n, d)| (n.to_string(), d.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(circle(&graph).map(|c| c.len()), Some(4));
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn nothing_below_the_console_imports_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // The console's core and what drives or draws it may use app/; nothing else may.
    let above = ["app", "ui", "runtime", "main.rs", "lib.rs"];
    let mut files = Vec::new();
    sources(&src, &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|path| {
            let top = path
                .strip_prefix(&src)
                .unwrap()
                .components()
                .next()
                .unwrap();
            !above.contains(&top.as_os_str().to_string_lossy().as_ref())
        })
        .filter(|path| {
            let source = std::fs::read_to_string(path).unwrap();
            source.contains("crate::app::") || source.contains("crate::app;")
        })
        .map(|path| path.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(files.len() > 100, "read the sources");
    assert_eq!(
        offenders,
        Vec::<String>::new(),
        "modules below app/ that import it"
    );
}
