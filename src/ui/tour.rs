//! The guided tour's overlay: a panel under the screen with "Tour N/M: title", the explanation
//! and the instruction, and the step's region outlined in the `tour_highlight` style. Pure.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::app::State;
use crate::app::layout::{ScreenAreas, tenants_split};
use crate::app::screen::Screen;
use crate::app::tour::Region;
use crate::config::{Theme, Token};

/// Draws the panel and outlines the step's region.
pub fn render(
    state: &State,
    theme: &Theme,
    frame: &mut Frame,
    areas: &ScreenAreas,
    body: Rect,
    panel: Rect,
) {
    let (Some(step), Some((explain, instruction))) =
        (state.session.tour.step(), state.session.tour.panel_text())
    else {
        return;
    };
    let highlight = theme.style(Token::TourHighlight);
    let region = match step.highlight {
        Region::Tree if state.screen == Screen::Tenants => tenants_split(body)[0],
        Region::Detail if state.screen == Screen::Tenants => tenants_split(body)[1],
        Region::CommandLine => areas.hints,
        Region::Status => areas.status,
        Region::Whole => frame.area(),
        _ => body,
    };
    outline(frame, region, highlight);
    let title = format!(
        " Tour {}/{}: {} ",
        state.session.tour.current + 1,
        state.session.tour.steps.len(),
        step.title
    );
    let text = vec![
        Line::from(Span::styled(explain, theme.style(Token::Text))),
        Line::from(vec![
            Span::styled("→ ", highlight),
            Span::styled(instruction, theme.style(Token::Accent)),
        ]),
    ];
    frame.render_widget(Clear, panel);
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_type(BorderType::Rounded)
                .border_style(highlight)
                .title(Line::from(Span::styled(title, theme.style(Token::Title))))
                .title_bottom(Line::from(Span::styled(
                    " :tour off leaves · :tour resumes ",
                    theme.style(Token::Muted),
                ))),
        ),
        panel,
    );
}

/// Restyles the region's edge (its panel's border, titles kept) so it stands out; a one-row
/// region is restyled whole.
fn outline(frame: &mut Frame, region: Rect, style: Style) {
    let buffer = frame.buffer_mut();
    let area = region.intersection(buffer.area);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let edge = area.height < 3
                || y == area.top()
                || y + 1 == area.bottom()
                || x == area.left()
                || x + 1 == area.right();
            if edge && let Some(cell) = buffer.cell_mut(Position::new(x, y)) {
                cell.set_style(style);
            }
        }
    }
}
