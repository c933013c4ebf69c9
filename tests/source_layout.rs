//! Where things live in `src/`: every clap definition in `src/cli/`, and the libraries that the
//! commands use (`history/`, `rollback/`) free of the command line (issue 11, §2b).

use std::path::{Path, PathBuf};

/// The clap derives that define command-line arguments.
const CLAP_DERIVES: [&str; 4] = ["Args", "Subcommand", "Parser", "ValueEnum"];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("source directory readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The clap derives named in the `#[derive(...)]` attributes of `source`, with their line
/// numbers; an attribute may span lines, and a derive may be a path (`clap::ValueEnum`).
fn clap_derives(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut rest = source;
    let mut offset = 0;
    while let Some(start) = rest.find("derive(") {
        let inner = &rest[start + "derive(".len()..];
        let end = inner.find(')').unwrap_or(inner.len());
        let line = source[..offset + start].matches('\n').count() + 1;
        for name in inner[..end].split(',') {
            let last = name.trim().rsplit("::").next().unwrap_or_default();
            if CLAP_DERIVES.contains(&last) {
                found.push((line, last.to_string()));
            }
        }
        let consumed = start + "derive(".len() + end;
        offset += consumed;
        rest = &rest[consumed..];
    }
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(src_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn the_scanner_sees_derives_across_lines_and_paths() {
    let source = "#[derive(Debug, Args)]\nstruct A;\n#[derive(\n    Clone,\n    clap::ValueEnum,\n)]\nenum B {}\n#[derive(Debug, Default)]\nstruct ArgsLike;\n";
    assert_eq!(
        clap_derives(source),
        vec![(1, "Args".to_string()), (3, "ValueEnum".to_string())]
    );
}

#[test]
fn every_clap_definition_lives_in_src_cli() {
    let cli = src_dir().join("cli");
    let mut inside = 0;
    let mut outside = Vec::new();
    for file in rust_files(&src_dir()) {
        let source = std::fs::read_to_string(&file).expect("source file readable");
        let derives = clap_derives(&source);
        if file.starts_with(&cli) {
            inside += derives.len();
        } else {
            outside.extend(
                derives
                    .into_iter()
                    .map(|(line, name)| format!("{}:{line}: {name}", relative(&file))),
            );
        }
    }
    assert!(
        outside.is_empty(),
        "clap derives outside src/cli/ (move them there):\n{}",
        outside.join("\n")
    );
    // The parser, the subcommand enum and their argument structs: the scan is not blind.
    assert!(inside >= 10, "only {inside} clap derives found in src/cli/");
}

#[test]
fn history_and_rollback_are_libraries_without_the_command_line() {
    let mut offenders = Vec::new();
    for library in ["history", "rollback"] {
        for file in rust_files(&src_dir().join(library)) {
            let source = std::fs::read_to_string(&file).expect("source file readable");
            for (number, line) in source.lines().enumerate() {
                if ["crate::cli", "crate::commands", "clap::"]
                    .iter()
                    .any(|edge| line.contains(edge))
                {
                    offenders.push(format!(
                        "{}:{}: {}",
                        relative(&file),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the command line belongs in src/cli/ and src/commands/:\n{}",
        offenders.join("\n")
    );
}
