//! Header, config warnings, sync status and the key hint bar.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::State;
use crate::app::screen::Screen;
use crate::app::state::{InputKind, SyncState};
use crate::app::update::key_context;
use crate::config::action::Action;
use crate::config::{Theme, Token};
use crate::model::ResourceKind;
use k8s_openapi::jiff::Timestamp;

/// ` Palisade │ tenants › matrix › acme → globex │ context demo`: the breadcrumb trail esc walks back.
pub fn header(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = vec![
        Span::styled(" Palisade ", theme.style(Token::Title)),
        Span::styled("│ ", theme.style(Token::Muted)),
    ];
    // The last few steps of the trail; older ones fold into an ellipsis.
    const TRAIL: usize = 3;
    if state.back.len() > TRAIL {
        spans.push(Span::styled("… › ", theme.style(Token::Muted)));
    }
    for screen in &state.back[state.back.len().saturating_sub(TRAIL)..] {
        spans.push(Span::styled(
            format!("{} › ", screen.title()),
            theme.style(Token::Muted),
        ));
    }
    spans.push(Span::styled(
        state.screen.title(),
        theme.style(Token::Accent),
    ));
    if !state.tree_filter.is_empty() && state.screen == crate::app::screen::Screen::Tenants {
        spans.push(Span::styled(
            format!(" /{}", state.tree_filter),
            theme.style(Token::Warn),
        ));
    }
    // What the matrix, findings and badges are computed from may lag while a kind is not live.
    if state.analysis.is_some()
        && let Some(partial) = state.partial()
    {
        spans.push(Span::styled(
            format!(" │ partial: {partial}"),
            theme.style(Token::Warn),
        ));
    }
    // Palisade and the dataplane disagree about some recent flows: worth a look on `:flows`.
    if state.flows.drift > 0 {
        spans.push(Span::styled(
            format!(
                " │ ⚑ drift: {} (:flows)",
                crate::app::denials::Denied::Flows(state.flows.drift).label()
            ),
            theme.style(Token::Error),
        ));
    }
    // Whose order of evaluation the matrix follows, and why (`CNI: Calico (calico-node agents)`).
    // Left out when no CNI was found (nothing of Cilium's or Calico's to say).
    if let Some(cni) = state
        .analysis
        .as_ref()
        .filter(|a| a.cni.source != crate::isolation::cni::CniSource::Nothing)
        .map(|a| a.cni.note())
    {
        spans.push(Span::styled(
            format!(" │ {}", cni.line()),
            theme.style(Token::Muted),
        ));
    }
    spans.push(Span::styled(" │ context ", theme.style(Token::Muted)));
    spans.push(Span::styled(
        state.context.clone(),
        theme.style(Token::Accent),
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The command line or filter being typed (with completions), or the last notice.
pub fn input_line(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let line = match &state.input {
        Some(input) => {
            let prompt = match input.kind {
                InputKind::Command => ":",
                InputKind::Filter => "/",
            };
            let mut spans = vec![
                Span::styled(format!("{prompt}{}", input.text), theme.style(Token::Text)),
                Span::styled("█", theme.style(Token::Accent)),
            ];
            if input.candidates.len() > 1 {
                spans.push(Span::styled(
                    format!("   {}", input.candidates.join("  ")),
                    theme.style(Token::Muted),
                ));
            }
            Line::from(spans)
        }
        None => Line::from(Span::styled(
            format!(" {}", state.notice.as_deref().unwrap_or_default()),
            theme.style(Token::Warn),
        )),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The status bar's warning line: first what the analysis cannot see (a tier kind forbidden
/// to the user, policy kinds Palisade does not evaluate), then config problems. Its own line,
/// so a narrow terminal does not cut it off behind the kinds' states.
pub fn warnings(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    // First: a GitOps owner a rollback suspended still does not reconcile, and someone must
    // resume it once the fix is in Git.
    let reminders = &state.journal.gitops_reminders;
    if let Some(first) = reminders.first() {
        let more = match reminders.len() {
            1 => String::new(),
            n => format!(" (+{} more: palisade gitops suspended)", n - 1),
        };
        spans.push(Span::styled(
            format!(" ⚑ {first}{more}"),
            theme.style(Token::Warn),
        ));
    }
    let coverage = state.coverage();
    for (i, line) in coverage.lines().into_iter().enumerate() {
        spans.push(Span::styled(
            if i == 0 { " ⚠ " } else { " │ " },
            theme.style(Token::Warn),
        ));
        let token = if i == 0 && !coverage.trustworthy() {
            Token::Error
        } else {
            Token::Warn
        };
        spans.push(Span::styled(line, theme.style(token)));
    }
    if let Some(first) = state.session.warnings.first() {
        let more = match state.session.warnings.len() {
            1 => String::new(),
            n => format!(" (+{} more; run `palisade config check`)", n - 1),
        };
        spans.push(Span::styled(
            format!(" ⚠ config: {first}{more}"),
            theme.style(Token::Warn),
        ));
    }
    if !spans.is_empty() {
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
    }
}

/// ` demo │ ns ● live │ pods ↻ reconnecting since 14:03:12Z │ netpol ● live │ pods: <error>`:
/// every kind's state (tier and Cilium kinds only when served), then the reason of the first
/// kind in trouble (errors are long, and one is enough to act on). When that does not fit, the
/// live tier kinds share a chip, and so do the live Cilium kinds (`anp banp cnp ● live │ ccnp
/// ciliumnp ● live`) and the live Calico kinds (`caliconp sgnp sknp snp tier gnp ● live`); the core kinds and a kind in any other state keep their own. What the analysis cannot see is on the status bar's
/// warning line, above it (`warnings`).
pub fn sync_bar(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut first_trouble: Option<(ResourceKind, &str)> = None;
    let mut chips: Vec<Chip> = Vec::new();
    for (kind, sync) in &state.sync {
        let (text, token) = match sync {
            SyncState::Live => ("● live".to_string(), Token::Ok),
            SyncState::Syncing => ("◌ syncing".to_string(), Token::Warn),
            SyncState::Reconnecting { since, error } => {
                first_trouble.get_or_insert((*kind, error));
                (
                    format!("↻ reconnecting since {}", clock(since)),
                    Token::Warn,
                )
            }
            SyncState::Stale { since, reason } => {
                first_trouble.get_or_insert((*kind, reason));
                (format!("✗ stale since {}", clock(since)), Token::Error)
            }
            // A forbidden tier or Cilium kind gets its plain sentence below; a core kind its
            // error.
            SyncState::Forbidden { error, .. } => {
                if !matches!(kind, ResourceKind::Tier(_) | ResourceKind::Native(_)) {
                    first_trouble.get_or_insert((*kind, error));
                }
                ("⊘ forbidden".to_string(), Token::Error)
            }
        };
        chips.push(Chip {
            names: vec![kind.short_name()],
            family: family(*kind),
            live: matches!(sync, SyncState::Live),
            text,
            token,
        });
    }
    let context = format!(" {} ", state.context);
    let trouble = first_trouble.map(|(kind, why)| format!("{}: {why}", kind.short_name()));
    if width(&context, &chips, trouble.as_deref()) > usize::from(area.width) {
        chips = grouped(chips);
    }
    let mut spans = vec![Span::styled(context, theme.style(Token::Accent))];
    for chip in chips {
        spans.push(Span::styled(" │ ", theme.style(Token::Muted)));
        spans.push(Span::styled(
            format!("{} ", chip.names.join(" ")),
            theme.style(Token::Text),
        ));
        spans.push(Span::styled(chip.text, theme.style(chip.token)));
    }
    if let Some(trouble) = trouble {
        spans.push(Span::styled(" │ ", theme.style(Token::Muted)));
        spans.push(Span::styled(trouble, theme.style(Token::Muted)));
    }
    let bar = Paragraph::new(Line::from(spans)).style(theme.style(Token::StatusBar));
    frame.render_widget(bar, area);
}

/// One kind's state on the status bar, or several live kinds of one family.
struct Chip {
    names: Vec<&'static str>,
    family: u8,
    live: bool,
    text: String,
    token: Token,
}

/// Tier kinds, Cilium kinds, Calico kinds: what may share a chip (0: never, the core kinds).
fn family(kind: ResourceKind) -> u8 {
    match kind {
        ResourceKind::Namespace | ResourceKind::Pod | ResourceKind::NetworkPolicy => 0,
        ResourceKind::Tier(_) => 1,
        ResourceKind::Native(kind) => match kind.family() {
            crate::model::NativeFamily::Cilium => 2,
            crate::model::NativeFamily::Calico => 3,
        },
    }
}

fn width(context: &str, chips: &[Chip], trouble: Option<&str>) -> usize {
    let chips: usize = chips
        .iter()
        .map(|c| 3 + c.names.join(" ").chars().count() + 1 + c.text.chars().count())
        .sum();
    context.chars().count() + chips + trouble.map_or(0, |t| 3 + t.chars().count())
}

/// The live kinds of each family in one chip, at the family's first place; the family's most
/// familiar name (`cnp`, `ciliumnp`, `gnp`) last, next to its state.
fn grouped(chips: Vec<Chip>) -> Vec<Chip> {
    let mut out: Vec<Chip> = Vec::new();
    for chip in chips {
        let shares = |c: &&mut Chip| c.live && chip.live && c.family == chip.family && c.family > 0;
        match out.iter_mut().find(shares) {
            Some(group) => group.names.extend(chip.names),
            None => out.push(chip),
        }
    }
    for chip in out.iter_mut().filter(|c| c.names.len() > 1) {
        chip.names
            .sort_by_key(|name| (["cnp", "ciliumnp", "gnp"].contains(name), name.to_string()));
    }
    out
}

/// Wall-clock time of day in UTC, as the timeline prints times.
fn clock(at: &Timestamp) -> String {
    at.strftime("%H:%M:%SZ").to_string()
}

/// Generated from the active keymap, so it is never out of date.
pub fn hints(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    const SHOWN: [Action; 13] = [
        Action::Help,
        Action::Quit,
        Action::Command,
        Action::Filter,
        Action::Open,
        // Only bound on `:flows`.
        Action::CycleVerdict,
        Action::Pause,
        Action::Toggle,
        Action::Sort,
        Action::NextPane,
        Action::Back,
        Action::ShowMatrix,
        // Only bound on the rollback screen.
        Action::SuspendGitOps,
    ];
    let context = key_context(state);
    let mut spans = vec![Span::raw(" ")];
    // The suspension's toggle only where one is offered.
    let offered = matches!(&state.screen, Screen::Rollback(r) if r.offered_suspension().is_some());
    for action in SHOWN {
        if action == Action::SuspendGitOps && !offered {
            continue;
        }
        let Some(key) = state
            .session
            .keymap
            .keys_for(context, action)
            .into_iter()
            .next()
        else {
            continue;
        };
        spans.push(Span::styled(key.to_string(), theme.style(Token::HintKey)));
        spans.push(Span::styled(
            format!(" {}  ", action.name()),
            theme.style(Token::Hint),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
