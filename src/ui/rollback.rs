//! The rollback screen: plan, diff, blast radius, pre-flight, the typed confirmation and reason,
//! then the dry run, apply and verification results.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::panel;
use super::tenants::per_second;
use crate::app::State;
use crate::app::rollback::{Field, OwnerSuspension, Prepared, RollbackScreen, Stage};
use crate::config::action::{Action, KeyContext};
use crate::config::{Theme, Token};
use crate::rollback::LineKind;
use crate::rollback::suspend_audit;

pub fn render(
    state: &State,
    screen: &RollbackScreen,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    // Room for the suspension's toggle and the longer confirmation that names both writes.
    let confirm_rows = match screen.prepared.as_ref().and_then(|p| p.suspension.as_ref()) {
        Some(_) => 9,
        None => 7,
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Min(8), Constraint::Length(confirm_rows)]).areas(area);
    let [diff_area, facts_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let text = |s: String, token: Token| Line::from(Span::styled(s, theme.style(token)));
    let title = format!("Rollback: {} {}", screen.kind.name(), screen.policy);
    let Some(prepared) = &screen.prepared else {
        let line = match &screen.stage {
            Stage::Failed(why) => text(
                format!("cannot plan: {why}   (r: try again, esc: back)"),
                Token::Error,
            ),
            _ => text(
                "planning: journal, live object, blast radius, pre-flight…".into(),
                Token::Muted,
            ),
        };
        frame.render_widget(
            Paragraph::new(line)
                .wrap(Wrap { trim: true })
                .block(panel(&title, true, theme)),
            area,
        );
        return;
    };
    let diff = diff_lines(prepared, theme);
    // Never scrolled into an empty pane.
    let last_screenful = u16::try_from(diff.len())
        .unwrap_or(u16::MAX)
        .saturating_sub(diff_area.height.saturating_sub(2));
    frame.render_widget(
        Paragraph::new(diff)
            .scroll((screen.scroll.min(last_screenful), 0))
            .block(panel(
                &format!("{title} — diff (live → after)"),
                false,
                theme,
            )),
        diff_area,
    );
    frame.render_widget(
        Paragraph::new(facts(state, prepared, theme))
            .wrap(Wrap { trim: false })
            .block(panel("Blast radius and pre-flight", false, theme)),
        facts_area,
    );
    frame.render_widget(
        Paragraph::new(steps(state, screen, prepared, theme))
            .wrap(Wrap { trim: false })
            .block(panel("Confirm", true, theme)),
        bottom,
    );
}

fn diff_lines(prepared: &Prepared, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(
        prepared.plan.summary(),
        theme.style(Token::Title),
    ))];
    lines.extend(
        prepared
            .plan
            .notes
            .iter()
            .map(|n| Line::from(Span::styled(format!("note: {n}"), theme.style(Token::Warn)))),
    );
    if prepared.plan.diff.is_empty() {
        lines.push(Line::from(Span::styled(
            "no difference in the spec, labels or annotations",
            theme.style(Token::Muted),
        )));
    }
    lines.extend(prepared.plan.diff.lines.iter().map(|l| {
        let (mark, token) = match l.kind {
            LineKind::Added => ("+ ", Token::Closed),
            LineKind::Removed => ("- ", Token::Open),
            LineKind::Context => ("  ", Token::Text),
        };
        let style = theme.style(token);
        // Changed words: the line's style with the `diff_word` emphasis over it.
        let word = style.patch(theme.style(Token::DiffWord));
        let mut spans = vec![Span::styled(mark, style)];
        spans.extend(l.segments().into_iter().map(|(changed, piece)| {
            Span::styled(piece.to_string(), if changed { word } else { style })
        }));
        Line::from(spans)
    }));
    lines
}

fn facts(state: &State, prepared: &Prepared, theme: &Theme) -> Vec<Line<'static>> {
    let line = |s: String, token: Token| Line::from(Span::styled(s, theme.style(token)));
    let mut lines = Vec::new();
    match &prepared.blast {
        Ok(blast) if blast.is_empty() => lines.push(line(
            "no tenant or workload pair changes".into(),
            Token::Muted,
        )),
        Ok(blast) => {
            lines.push(line(
                format!(
                    "{} tenant pair(s), {} workload pair(s) change{}",
                    blast.tenant_pairs.len(),
                    blast.workload_pairs_total,
                    blast.selection()
                ),
                Token::Text,
            ));
            for pair in blast.tenant_pairs.iter().take(6) {
                let denied = state.telemetry.pair_rate(&pair.from, &pair.to);
                let now = if denied > 0.0 {
                    format!("  (denied now {})", per_second(denied))
                } else {
                    String::new()
                };
                lines.push(line(
                    format!(
                        "  {} → {}: {} ⇒ {}{now}",
                        pair.from, pair.to, pair.before, pair.after
                    ),
                    Token::Partial,
                ));
            }
            for invalid in &blast.invalid {
                lines.push(line(format!("  invalid: {invalid}"), Token::Error));
            }
        }
        Err(why) => lines.push(line(
            format!("blast radius unavailable: {why}"),
            Token::Warn,
        )),
    }
    lines.push(Line::from(""));
    let refused = prepared.preflight.refusal(false);
    for check in prepared.preflight.lines() {
        lines.push(line(check, Token::Text));
    }
    lines.push(line(format!("as: {}", prepared.actor), Token::Muted));
    if let Some(why) = refused {
        lines.push(line(format!("✗ {why}"), Token::Error));
    }
    lines
}

fn steps(
    state: &State,
    screen: &RollbackScreen,
    prepared: &Prepared,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let style = |token: Token| theme.style(token);
    let field = |label: &str, value: &str, active: bool| -> Line<'static> {
        let cursor = if active { "▏" } else { "" };
        let label_style: Style = if active {
            style(Token::Accent)
        } else {
            style(Token::Muted)
        };
        Line::from(vec![
            Span::styled(
                format!("{label:<w$}", w = label.len().max(33) + 1),
                label_style,
            ),
            Span::styled(format!("{value}{cursor}"), style(Token::Text)),
        ])
    };
    let owner = prepared.plan.owner.as_ref().map(|o| {
        let mark = if screen.acknowledge_owner {
            "[x]"
        } else {
            "[ ]"
        };
        Line::from(Span::styled(
            format!(
                "{mark} ctrl-a: I know {} will reconcile this back",
                o.describe()
            ),
            style(if screen.acknowledge_owner {
                Token::Warn
            } else {
                Token::Error
            }),
        ))
    });
    let suspend_key = state
        .session
        .keymap
        .keys_for(KeyContext::Rollback, Action::SuspendGitOps)
        .into_iter()
        .next()
        .map_or_else(|| "unbound".to_string(), |k| k.to_string());
    let suspension = match &prepared.suspension {
        Some(OwnerSuspension::Offered { suspension, access }) => {
            let mark = if screen.suspend_owner { "[x]" } else { "[ ]" };
            Some(Line::from(Span::styled(
                format!(
                    "{mark} {suspend_key}: also {} first (patch {})",
                    suspension.summary,
                    suspend_audit::access_text(access)
                ),
                style(if screen.suspend_owner {
                    Token::Accent
                } else {
                    Token::Muted
                }),
            )))
        }
        Some(OwnerSuspension::Unavailable(why)) => Some(Line::from(Span::styled(
            format!("gitops suspension: {why}"),
            style(Token::Muted),
        ))),
        None => None,
    };
    let chosen = screen
        .offered_suspension()
        .filter(|_| screen.suspend_owner)
        .map(|s| s.summary.clone());
    let mut lines = Vec::new();
    match &screen.stage {
        Stage::Review => {
            lines.push(field(
                &screen.confirmation_prompt(),
                &screen.confirmation,
                screen.field == Field::Confirmation,
            ));
            lines.push(field(
                "reason (free text or ticket id):",
                &screen.reason,
                screen.field == Field::Reason,
            ));
            if !screen.suspend_owner {
                lines.extend(owner);
            }
            lines.extend(suspension);
            let hint = match screen.blocker() {
                Some(missing) => {
                    format!("{missing}   tab: next field   esc: leave, nothing written")
                }
                None => "enter: server-side dry run (nothing is written yet)   esc: leave".into(),
            };
            lines.push(Line::from(Span::styled(hint, style(Token::Hint))));
        }
        Stage::DryRunning(attempt) => {
            let both = match &attempt.suspension {
                Some(step) => format!(
                    " of both writes: 1. {} 2. the rollback of {}",
                    step.suspension.summary, screen.policy
                ),
                None => String::new(),
            };
            lines.push(Line::from(Span::styled(
                format!("dry run (dryRun=All){both}…"),
                style(Token::Muted),
            )))
        }
        Stage::Confirmed { attempt, passed } => {
            if let Some(step) = &attempt.suspension {
                lines.push(Line::from(Span::styled(
                    format!(
                        "✓ dry run 1. {}: {}",
                        step.suspension.summary,
                        step.dry_run.as_deref().unwrap_or("passed")
                    ),
                    style(Token::Closed),
                )));
            }
            let number = if attempt.suspension.is_some() {
                " 2. the rollback"
            } else {
                ""
            };
            lines.push(Line::from(Span::styled(
                format!("✓ dry run{number}: {}", passed.summary()),
                style(Token::Closed),
            )));
            let what = match &chosen {
                Some(summary) => format!("BOTH writes (1. {summary} 2. the rollback)"),
                None => "to the cluster".to_string(),
            };
            lines.push(Line::from(Span::styled(
                format!(
                    "enter: APPLY {what} (precondition: resourceVersion {})   esc: leave (audited as a dry run)",
                    prepared.plan.live_resource_version().unwrap_or("absent")
                ),
                style(Token::Warn),
            )));
        }
        Stage::Suspending { attempt, .. } => lines.push(Line::from(Span::styled(
            format!(
                "{}… (the rollback is applied once it is suspended)",
                attempt
                    .suspension
                    .as_ref()
                    .map_or("suspending the GitOps owner", |s| s
                        .suspension
                        .summary
                        .as_str())
            ),
            style(Token::Muted),
        ))),
        Stage::Applying(_) => lines.push(Line::from(Span::styled(
            "applying, then waiting for the watch to show it…",
            style(Token::Muted),
        ))),
        Stage::Done { outcome, detail } => {
            let token = if outcome == "done" {
                Token::Closed
            } else {
                Token::Error
            };
            lines.push(Line::from(Span::styled(
                format!("{outcome}: {detail}"),
                style(token),
            )));
            lines.push(Line::from(Span::styled(
                "the blast radius above shows what the agents deny on those pairs now   r: plan again   esc: back",
                style(Token::Hint),
            )));
        }
        Stage::Preparing | Stage::Failed(_) => {}
    }
    lines
}
