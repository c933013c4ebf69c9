//! Paging and scrolling stop where the content stops, and a page is what is visible (the tour's
//! panel hides the bottom of the body).

use super::msg::Msg;
use super::state::{Focus, State};
use super::testing::{analysed, press, rendered, type_text};
use super::update::update;

const WIDTH: u16 = 100;
const HEIGHT: u16 = 30;

/// One frame as the runtime draws it: the screen, then the scroll limits it measured.
fn frame(s: &mut State) -> String {
    let (width, height) = s.session.terminal_size;
    let out = rendered(s, width, height);
    let (config, _) = crate::config::Config::load(None, false);
    let limits = crate::ui::scroll_limits(s, &config.theme);
    update(s, Msg::ScrollLimits(limits));
    out
}

fn sized() -> State {
    sized_to(HEIGHT)
}

fn sized_to(height: u16) -> State {
    let mut s = analysed();
    update(
        &mut s,
        Msg::Resize {
            width: WIDTH,
            height,
        },
    );
    s
}

fn start_tour(s: &mut State) {
    press(s, ":");
    type_text(s, "tour");
    press(s, "enter");
    assert!(s.session.tour.step().is_some());
}

#[test]
fn with_the_tour_running_a_page_is_the_rows_above_its_panel() {
    let mut s = sized();
    press(&mut s, "?");
    frame(&mut s);
    press(&mut s, "pagedown");
    let whole_page = s.help.unwrap();
    assert_eq!(whole_page, HEIGHT - 6, "no tour: the body's rows");

    let mut s = sized();
    start_tour(&mut s);
    press(&mut s, "?");
    frame(&mut s);
    press(&mut s, "pagedown");
    assert_eq!(
        s.help.unwrap(),
        HEIGHT - 6 - 8,
        "the tour's 8-row panel hides the rest: a page skipped rows never shown"
    );
}

#[test]
fn help_stops_at_its_last_screenful_so_k_after_g_moves_at_once() {
    let mut s = sized();
    press(&mut s, "?");
    frame(&mut s);
    press(&mut s, "G");
    let bottom = frame(&mut s);
    for _ in 0..5 {
        press(&mut s, "pagedown");
    }
    assert_eq!(frame(&mut s), bottom, "nothing past the end");
    press(&mut s, "k");
    assert_ne!(frame(&mut s), bottom, "one line up shows at once");
}

#[test]
fn the_detail_pane_stops_at_its_last_screenful() {
    // acme's summary is longer than the pane of a 14-row terminal.
    let mut s = sized_to(14);
    s.focus = Focus::Detail;
    frame(&mut s);
    let top = frame(&mut s);
    for _ in 0..10 {
        press(&mut s, "pagedown");
    }
    let bottom = frame(&mut s);
    assert_ne!(
        top, bottom,
        "the summary scrolls: {} {:?}",
        s.detail_scroll, s.session.scroll_limits
    );
    assert!(
        s.detail_scroll < 100,
        "the offset stops with the content: {}",
        s.detail_scroll
    );
    press(&mut s, "pageup");
    assert_ne!(frame(&mut s), bottom, "page-up moves at once");
}

/// Explain wraps long lines: the end stays reachable (it was not, when the limit counted text
/// lines) and `k` after `G` moves at once.
#[test]
fn an_explanation_scrolls_to_its_last_wrapped_row_and_no_further() {
    use super::screen::{ExplainScreen, Screen};
    let mut s = sized();
    let long = "word ".repeat(60);
    let text: String = (0..40).map(|i| format!("line {i} {long}\n")).collect();
    s.screen = Screen::Explain(ExplainScreen {
        title: "long".into(),
        text: format!("{text}the last line\n"),
        scroll: 0,
    });
    frame(&mut s);
    press(&mut s, "G");
    let bottom = frame(&mut s);
    assert!(bottom.contains("the last line"), "{bottom}");
    for _ in 0..5 {
        press(&mut s, "pagedown");
    }
    assert_eq!(frame(&mut s), bottom, "nothing past the end");
    press(&mut s, "k");
    assert!(
        !frame(&mut s).contains("the last line"),
        "one row up shows at once"
    );
}
