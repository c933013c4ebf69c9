//! The command examples in README.md and docs/**/*.md that are marked as tested run against the
//! real binary and the demo cluster, so the docs cannot drift from the code (issue 7).
//!
//! A fenced block whose info string is `sh tested` is tested; a plain `sh` block is not (commands
//! that need a real cluster, run forever or open the console). Each line of a tested block (a line
//! ending in `\` continues on the next) runs through `bash -o pipefail -c` in its file's own
//! scratch directory, which mirrors the repository root (its top-level entries are symlinked in, so
//! `tests/fixtures/...` and `docs/examples/...` resolve while the files an example writes land in
//! the scratch directory). The environment: a temporary HOME and XDG dirs (per file),
//! `KUBECONFIG` naming a `palisade demo --serve-only` started for the test, and `PATH` with the
//! binary under test first; lines with `kubectl` skip when it is not installed (except under
//! `PALISADE_REQUIRE_TOOLS=1`).
//! A line succeeds when it exits 0, or with N when the line ends in the comment `# exit N`.
//! Blank and comment lines are skipped. Before running, `target/release/palisade` and
//! `cargo run --release --` become `palisade`, and `/tmp/` paths point into the scratch directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

/// How long one example line may run before it counts as hanging.
const LINE_DEADLINE: Duration = Duration::from_secs(60);

/// One command line of a tested block.
#[derive(Debug, Clone, PartialEq)]
struct Example {
    /// The line (1-based) in the Markdown file where the command starts.
    line: usize,
    /// The command as written (continuation lines joined with their `\`).
    command: String,
    /// The exit code the doc states (`# exit N`), 0 otherwise.
    expected_exit: i32,
}

/// Whether a fence's info string marks the block as tested: `sh tested` (or `bash tested`).
fn is_tested_fence(info: &str) -> bool {
    let mut words = info.split_whitespace();
    matches!(words.next(), Some("sh" | "bash")) && words.any(|w| w == "tested")
}

/// The expected exit code from a trailing `# exit N` comment.
fn expected_exit(command: &str) -> i32 {
    command
        .rfind("# exit ")
        .and_then(|at| {
            let rest = &command[at + "# exit ".len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// The commands of the tested blocks of one Markdown text, in order.
fn tested_examples(markdown: &str) -> Vec<Example> {
    let mut examples = Vec::new();
    let mut fence: Option<bool> = None; // inside a fence: whether it is tested
    let mut pending: Option<(usize, String)> = None; // a command continued with `\`
    for (index, raw) in markdown.lines().enumerate() {
        let number = index + 1;
        let trimmed = raw.trim();
        // A fence opens with three or more backticks and an info string without backticks (as in
        // CommonMark; "```` ```sh ````" in prose is not one), and closes with backticks alone.
        let info = trimmed.trim_start_matches('`');
        let is_fence = trimmed.starts_with("```")
            && match fence {
                None => !info.contains('`'),
                Some(_) => info.is_empty(),
            };
        if is_fence {
            fence = match fence {
                None => Some(is_tested_fence(info)),
                Some(_) => {
                    assert!(
                        pending.is_none(),
                        "line {number}: a tested block ends inside a `\\` continuation"
                    );
                    None
                }
            };
            continue;
        }
        if fence != Some(true) {
            continue;
        }
        if let Some((start, mut command)) = pending.take() {
            command.push('\n');
            command.push_str(raw);
            if trimmed.ends_with('\\') {
                pending = Some((start, command));
            } else {
                examples.push(Example {
                    line: start,
                    expected_exit: expected_exit(&command),
                    command,
                });
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.ends_with('\\') {
            pending = Some((number, raw.to_string()));
        } else {
            examples.push(Example {
                line: number,
                command: raw.to_string(),
                expected_exit: expected_exit(raw),
            });
        }
    }
    examples
}

/// The command as it runs: the doc's build-tree spellings of the binary become `palisade`, and
/// `/tmp/` paths land in the scratch directory.
fn rewrite(command: &str, scratch: &Path) -> String {
    command
        .replace("cargo run --release --", "palisade")
        .replace("target/release/palisade", "palisade")
        .replace("/tmp/", &format!("{}/", scratch.display()))
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown file under docs/, sorted.
fn doc_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("docs directory readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    let mut docs = Vec::new();
    walk(&root.join("docs"), &mut docs);
    docs.sort();
    files.extend(docs);
    files
}

/// A scratch directory that looks like the repository root: every top-level entry symlinked.
fn scratch_repo(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for entry in std::fs::read_dir(repo_root()).expect("repo root readable") {
        let entry = entry.expect("directory entry");
        let file_name = entry.file_name();
        if file_name == "target" || file_name.to_string_lossy().starts_with('.') {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), dir.join(&file_name)).expect("symlink");
    }
    dir
}

struct Outcome {
    code: Option<i32>,
    output: String,
    timed_out: bool,
}

/// Runs one command line through bash with the test's environment.
fn run_line(command: &str, cwd: &Path, home: &Path, kubeconfig: &Path) -> Outcome {
    let bin_dir = support::binary().parent().expect("binary dir").to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Next to the scratch directory, not in it: an example listing its directory sees only its own.
    let out_file = cwd.with_extension("out");
    let out = std::fs::File::create(&out_file).expect("output file");
    let mut child = Command::new("bash")
        .args(["--noprofile", "--norc", "-o", "pipefail", "-c", command])
        .current_dir(cwd)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", home.join(".kube/cache"))
        .env("PATH", path)
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("output file"))
        .stderr(out)
        .spawn()
        .expect("bash runs");
    let start = Instant::now();
    let (code, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait on bash") {
            break (status.code(), false);
        }
        if start.elapsed() > LINE_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    Outcome {
        code,
        output,
        timed_out,
    }
}

/// Starts `palisade demo --serve-only` and waits for its kubeconfig.
fn start_demo(kubeconfig: &Path) -> support::KillOnDrop {
    let server = Command::new(support::BINARY)
        .args(["demo", "--serve-only", "--kubeconfig-out"])
        .arg(kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("palisade demo starts");
    let server = support::KillOnDrop(server);
    support::wait_until(
        "the demo kubeconfig to be written",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(kubeconfig)
                .ok()
                .filter(|t| t.contains("server:"))
        },
    );
    server
}

#[test]
fn tested_doc_examples_succeed() {
    let root = repo_root();
    let files: Vec<(PathBuf, Vec<Example>)> = doc_files()
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("doc readable");
            let examples = tested_examples(&text);
            (path, examples)
        })
        .filter(|(_, examples)| !examples.is_empty())
        .collect();
    let total: usize = files.iter().map(|(_, e)| e.len()).sum();
    // Guards against the marking silently disappearing (a renamed fence, a broken parser).
    assert!(
        total >= 10 && files.len() >= 4,
        "expected at least 10 tested command lines in at least 4 docs, found {total} in {}",
        files.len()
    );

    let needs_kubectl = files
        .iter()
        .flat_map(|(_, e)| e)
        .any(|e| e.command.split_whitespace().any(|w| w == "kubectl"));
    let kubectl = !needs_kubectl || support::tool_available("kubectl");

    let temp = tempfile::tempdir().expect("tempdir");
    let kubeconfig = temp.path().join("demo.kubeconfig");
    let _server = start_demo(&kubeconfig);

    let started = Instant::now();
    let mut failures = Vec::new();
    let mut ran = 0;
    for (index, (path, examples)) in files.iter().enumerate() {
        let doc = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let scratch = scratch_repo(temp.path(), &format!("doc{index}"));
        // Each doc gets its own HOME, so one doc's files cannot make another's pass or fail.
        let home = temp.path().join(format!("home{index}"));
        std::fs::create_dir_all(&home).expect("home");
        for example in examples {
            if !kubectl && example.command.split_whitespace().any(|w| w == "kubectl") {
                eprintln!("SKIPPED {doc}:{}: needs kubectl", example.line);
                continue;
            }
            let command = rewrite(&example.command, &scratch);
            let line_start = Instant::now();
            let outcome = run_line(&command, &scratch, &home, &kubeconfig);
            ran += 1;
            eprintln!(
                "{doc}:{}: exit {} in {:.2}s: {}",
                example.line,
                outcome
                    .code
                    .map_or_else(|| "none".to_string(), |c| c.to_string()),
                line_start.elapsed().as_secs_f64(),
                example.command.lines().next().unwrap_or_default()
            );
            if outcome.timed_out || outcome.code != Some(example.expected_exit) {
                let got = if outcome.timed_out {
                    format!("no exit within {LINE_DEADLINE:?}")
                } else {
                    outcome.code.map_or_else(
                        || "killed by a signal".to_string(),
                        |code| format!("exit {code}"),
                    )
                };
                failures.push(format!(
                    "{doc}:{}: expected exit {}, got {got}\n  $ {}\n{}",
                    example.line, example.expected_exit, command, outcome.output
                ));
            }
        }
    }
    eprintln!(
        "{ran} doc example lines from {} files in {:.1}s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} doc example(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn only_sh_tested_blocks_are_collected() {
    let markdown = "\
Intro

```sh
palisade record              # untested: runs forever
```

```sh tested
# a comment line

palisade analyze --manifests tests/fixtures/clean
palisade check --manifests x  # exit 1
palisade history a/b \\
  --journal j.sqlite          # exit 3
```

```
palisade not-in-a-sh-block
```

Prose naming the marker: ```` ```sh tested ```` is not a fence.

```sh tested
palisade config check
```
";
    let examples = tested_examples(markdown);
    assert_eq!(
        examples,
        vec![
            Example {
                line: 10,
                command: "palisade analyze --manifests tests/fixtures/clean".into(),
                expected_exit: 0,
            },
            Example {
                line: 11,
                command: "palisade check --manifests x  # exit 1".into(),
                expected_exit: 1,
            },
            Example {
                line: 12,
                command: "palisade history a/b \\\n  --journal j.sqlite          # exit 3".into(),
                expected_exit: 3,
            },
            Example {
                line: 23,
                command: "palisade config check".into(),
                expected_exit: 0,
            },
        ]
    );
    assert!(!is_tested_fence("sh"));
    assert!(!is_tested_fence("toml tested"));
    assert!(is_tested_fence("sh tested"));
    assert_eq!(
        rewrite(
            "target/release/palisade demo --kubeconfig-out /tmp/demo.kubeconfig",
            Path::new("/s")
        ),
        "palisade demo --kubeconfig-out /s/demo.kubeconfig"
    );
}
