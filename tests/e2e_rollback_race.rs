//! End to end, issue 11 §1: a rollback's dry run held by a slow admission webhook (the demo's
//! `--admission-delay`) answers after the operator left that flow and started another. The late
//! answer must never arm the new screen: it is reported and audited, and enter on the new screen
//! with nothing typed writes nothing. The real binary in tmux, the real demo server, real kubectl.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use support::{BINARY, Tmux, tool_available, wait_until};

/// How long every write waits in the demo's admission: long enough for the test to leave a
/// flow and see the next one reach its review stage before the held request answers.
const ADMISSION: &str = "4s";
const START: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);
const POLICY: &str = "acme-web/allow-dns";
const CONFIRM_LABEL: &str = "type acme-web/allow-dns to confirm:";
const REASON_LABEL: &str = "reason (free text or ticket id):";
const DRY_RUNNING: &str = "dry run (dryRun=All)…";
const ARMED: &str = "enter: APPLY";

/// The console on a demo whose writes are held in admission, with its journal and audit.
struct Demo {
    tmux: Tmux,
    kubeconfig: PathBuf,
    audit: PathBuf,
}

impl Demo {
    fn start() -> Demo {
        let tmux = Tmux::start();
        let kubeconfig = tmux.home().join("demo.kubeconfig");
        let journal = tmux.home().join("journal.sqlite");
        tmux.type_line(&format!(
            "{BINARY} demo --admission-delay {ADMISSION} --kubeconfig-out {} --journal {}",
            kubeconfig.display(),
            journal.display()
        ));
        tmux.wait_for(&["netpol ● live"], START);
        wait_until("the demo kubeconfig", START, || {
            kubeconfig.exists().then_some(())
        });
        let audit = tmux.home().join("journal.audit.jsonl");
        Demo {
            tmux,
            kubeconfig,
            audit,
        }
    }

    fn kubectl(&self, args: &[&str]) -> String {
        support::kubectl(&self.kubeconfig, args)
    }

    /// The incident (as in e2e_rollback): DNS egress on the wrong port, so the journal holds
    /// revision 1 (port 53) and revision 2 (port 5353).
    fn break_dns(&self) {
        support::break_acme_dns(&self.kubeconfig);
        self.tmux.keys(&[":"]);
        self.tmux.type_line(&format!("history {POLICY}"));
        self.tmux.wait_for(&["r2", "r1", "kubectl-patch"], STEP);
        self.tmux.keys(&["j"]);
    }

    /// Opens a rollback flow from the history screen (`R`, `x`) and waits for its review stage
    /// with nothing typed.
    fn open_flow(&self, key: &str, kind: &str) -> String {
        self.tmux.keys(&[key]);
        let screen = self.tmux.wait_for(
            &[&format!("Rollback: {kind} {POLICY}"), CONFIRM_LABEL],
            STEP,
        );
        assert_eq!(field(&screen, CONFIRM_LABEL), Some((String::new(), true)));
        assert_eq!(field(&screen, REASON_LABEL), Some((String::new(), false)));
        assert!(!screen.contains(ARMED), "{screen}");
        screen
    }

    /// Types the confirmation and a reason and starts the dry run, which admission holds.
    fn confirm_and_dry_run(&self, reason: &str) {
        self.tmux.keys(&["-l", POLICY]);
        self.tmux.keys(&["Tab"]);
        self.tmux.keys(&["-l", reason]);
        self.tmux.keys(&["Enter"]);
        self.tmux.wait_for(&[DRY_RUNNING], STEP);
    }

    /// Esc on the rollback screen, back to the history screen. The next key waits for it: esc
    /// followed at once by `R` would reach the console as alt-R.
    fn leave(&self) {
        self.tmux.keys(&["Escape"]);
        wait_until("the history screen again", STEP, || {
            let screen = self.tmux.screen();
            (!screen.contains("Rollback: ") && screen.contains("kubectl-patch")).then_some(())
        });
    }

    fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("an audit line is JSON"))
            .collect()
    }

    /// Waits for an audit line with this outcome whose apply text contains `apply`.
    fn wait_for_audit(&self, outcome: &str, apply: &str) -> Value {
        wait_until(
            &format!("an audit line {outcome:?} with {apply:?}"),
            STEP,
            || {
                self.audit_lines().into_iter().find(|r| {
                    r["outcome"] == outcome && r["apply"].as_str().unwrap_or("").contains(apply)
                })
            },
        )
    }

    /// Waits until the held dry run of the left flow has answered: on the fixed console the
    /// status line says so; on a console with the race the new screen is armed instead. Returns
    /// the screen either way, so the assertion after it names what went wrong.
    fn wait_for_the_late_dry_run(&self) -> String {
        wait_until("the held dry run to answer", STEP, || {
            let screen = self.tmux.screen();
            (screen.contains("answered after the operator left it") || screen.contains(ARMED))
                .then_some(screen)
        })
    }

    /// Enter on a review stage with nothing typed; returns the screen once the key was handled
    /// (the focus moves on to the reason field, as an incomplete confirmation does).
    fn enter_with_nothing_typed(&self) -> String {
        self.tmux.keys(&["Enter"]);
        wait_until("enter handled on the review stage", STEP, || {
            let screen = self.tmux.screen();
            assert!(
                !screen.contains("applying, then waiting") && !screen.contains(DRY_RUNNING),
                "enter with nothing typed started a write:\n{screen}"
            );
            (field(&screen, REASON_LABEL) == Some((String::new(), true))).then_some(screen)
        })
    }

    fn egress_port(&self) -> String {
        self.kubectl(&[
            "-n",
            "acme-web",
            "get",
            "netpol",
            "allow-dns",
            "-o",
            "jsonpath={.spec.egress[0].ports[0].port}",
        ])
    }

    fn quit(&self) {
        self.tmux.keys(&["C-c"]);
        self.tmux.wait_for_prompt(STEP);
    }
}

/// A review field on the rollback screen: (what is typed, whether it has the focus).
fn field(screen: &str, label: &str) -> Option<(String, bool)> {
    let line = screen.lines().find(|l| l.contains(label))?;
    let rest = &line[line.find(label)? + label.len()..];
    let rest = rest.trim_end_matches(|c: char| c.is_whitespace() || "│┃║".contains(c));
    let focused = rest.ends_with('▏');
    Some((rest.trim_end_matches('▏').trim().to_string(), focused))
}

/// The late dry run and the abandonment are both audited, for the flow that was left.
fn assert_audited_late_dry_run(demo: &Demo) {
    let abandoned = demo.wait_for_audit("abandoned", "the server-side dry run was in flight");
    let late = demo.wait_for_audit("dry-run", "answered after the operator left it");
    assert_eq!(late["reason"], "INC-11 first try");
    assert!(
        late["dry_run"].as_str().unwrap_or("").contains("accepted"),
        "{late}"
    );
    assert_eq!(abandoned["reason"], late["reason"]);
    let lines = demo.audit_lines();
    assert!(
        lines.iter().all(|r| r["outcome"] != "done"),
        "nothing may have been applied: {lines:?}"
    );
}

fn tools() -> bool {
    tool_available("tmux") && tool_available("kubectl")
}

#[test]
fn a_late_dry_run_does_not_arm_the_next_revert() {
    if !tools() {
        return;
    }
    let demo = Demo::start();
    demo.break_dns();
    demo.open_flow("R", "revert");
    demo.confirm_and_dry_run("INC-11 first try");

    // Leave while admission holds the dry run, and start over.
    demo.leave();
    let fresh = demo.open_flow("R", "revert");
    assert!(
        !fresh.contains("answered after"),
        "the dry run answered before the new flow reached review; the admission delay \
         ({ADMISSION}) is too short for this machine:\n{fresh}"
    );

    let screen = demo.wait_for_the_late_dry_run();
    assert!(
        !screen.contains(ARMED) && !screen.contains("✓ dry run"),
        "the left flow's dry run armed the new screen:\n{screen}"
    );
    assert_eq!(field(&screen, CONFIRM_LABEL), Some((String::new(), true)));
    assert_eq!(field(&screen, REASON_LABEL), Some((String::new(), false)));
    assert_audited_late_dry_run(&demo);

    let after_enter = demo.enter_with_nothing_typed();
    assert!(
        after_enter.contains(&format!("type {POLICY} to confirm   tab: next field")),
        "{after_enter}"
    );
    assert_eq!(demo.egress_port(), "5353", "nothing was rolled back");
    assert!(demo.audit_lines().iter().all(|r| r["outcome"] != "done"));
    demo.quit();
}

#[test]
fn a_late_dry_run_does_not_arm_a_removal() {
    if !tools() {
        return;
    }
    let demo = Demo::start();
    demo.break_dns();
    demo.open_flow("R", "revert");
    demo.confirm_and_dry_run("INC-11 first try");

    demo.leave();
    let fresh = demo.open_flow("x", "remove");
    assert!(
        !fresh.contains("answered after"),
        "the dry run answered before the new flow reached review; the admission delay \
         ({ADMISSION}) is too short for this machine:\n{fresh}"
    );

    let screen = demo.wait_for_the_late_dry_run();
    assert!(
        !screen.contains(ARMED) && !screen.contains("✓ dry run"),
        "the left flow's dry run armed the removal:\n{screen}"
    );
    assert_audited_late_dry_run(&demo);

    demo.enter_with_nothing_typed();
    assert_eq!(
        demo.egress_port(),
        "5353",
        "the policy still exists, unchanged"
    );
    assert!(demo.audit_lines().iter().all(|r| r["outcome"] != "done"));
    demo.quit();
}

/// An apply already sent cannot be called back: leaving while admission holds it is audited as
/// abandoned, the apply finishes on the server and audits itself as done, and the status line
/// says so, while the next flow's screen stays at its review stage.
#[test]
fn an_apply_held_in_admission_finishes_without_arming_the_next_screen() {
    if !tools() {
        return;
    }
    let demo = Demo::start();
    demo.break_dns();
    demo.open_flow("R", "revert");
    demo.confirm_and_dry_run("INC-11 held apply");
    demo.tmux.wait_for(&["✓ dry run", ARMED], STEP);
    demo.tmux.keys(&["Enter"]);
    demo.tmux.wait_for(&["applying, then waiting"], STEP);

    demo.leave();
    let fresh = demo.open_flow("R", "revert");
    assert!(
        !fresh.contains("finished after"),
        "the apply finished before the new flow reached review; the admission delay \
         ({ADMISSION}) is too short for this machine:\n{fresh}"
    );

    let screen = demo
        .tmux
        .wait_for(&["finished after the operator left it: done"], STEP);
    assert!(!screen.contains(ARMED), "{screen}");
    assert_eq!(field(&screen, CONFIRM_LABEL), Some((String::new(), true)));
    assert_eq!(field(&screen, REASON_LABEL), Some((String::new(), false)));

    let done = demo.wait_for_audit("done", "written");
    let lines = demo.audit_lines();
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["abandoned", "done"], "{lines:?}");
    assert!(
        lines[0]["apply"]
            .as_str()
            .unwrap_or("")
            .contains("the apply was in flight"),
        "{}",
        lines[0]
    );
    assert_eq!(done["reason"], "INC-11 held apply");
    assert_eq!(demo.egress_port(), "53", "the held apply went through");
    demo.quit();
}
