//! Fuzzy matching for `/` filters, by `nucleo-matcher` (fzf's scoring, as helix and television
//! use it): the pattern's characters must appear in order, case-insensitive, accents folded
//! (`cafe` finds `café`). The whole pattern is one needle, spaces included, as before: no fzf
//! operators, so a `!` or `^` in a name is just a character.
//!
//! Positions are grapheme indices (what the terminal draws as one character), which the view
//! uses to emphasise the matched characters.

use std::cell::RefCell;

use nucleo_matcher::pattern::{Atom, AtomKind, CaseMatching, Normalization};
use nucleo_matcher::{Config, Matcher, Utf32Str};

thread_local! {
    // A matcher holds scratch buffers of ~100 KB: one per thread, reused by every filter.
    static MATCHER: RefCell<Matcher> = RefCell::new(Matcher::new(Config::DEFAULT));
}

fn atom(pattern: &str) -> Atom {
    Atom::new(
        pattern,
        CaseMatching::Ignore,
        Normalization::Smart,
        AtomKind::Fuzzy,
        false,
    )
}

/// `Some(score)` when `pattern` matches `text`; higher is better. An empty pattern matches all.
pub fn score(pattern: &str, text: &str) -> Option<u16> {
    if pattern.is_empty() {
        return Some(0);
    }
    let mut buf = Vec::new();
    MATCHER.with(|m| atom(pattern).score(Utf32Str::new(text, &mut buf), &mut m.borrow_mut()))
}

pub fn matches(pattern: &str, text: &str) -> bool {
    score(pattern, text).is_some()
}

/// The grapheme positions of `text` that `pattern` matched, ascending; empty when it does not
/// match or the pattern is empty.
pub fn indices(pattern: &str, text: &str) -> Vec<usize> {
    if pattern.is_empty() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    let mut found = Vec::new();
    let matched = MATCHER.with(|m| {
        atom(pattern).indices(
            Utf32Str::new(text, &mut buf),
            &mut m.borrow_mut(),
            &mut found,
        )
    });
    if matched.is_none() {
        return Vec::new();
    }
    let mut out: Vec<usize> = found.into_iter().map(|i| i as usize).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The matched positions of `pattern` in `parts` joined by `sep` (what a row's filter matches),
/// given back per part, each relative to its part: a row's columns show the parts apart.
pub fn part_indices(pattern: &str, parts: &[&str], sep: &str) -> Vec<Vec<usize>> {
    use unicode_segmentation::UnicodeSegmentation;
    let all = indices(pattern, &parts.join(sep));
    let sep_len = sep.graphemes(true).count();
    let mut out = Vec::with_capacity(parts.len());
    let mut start = 0;
    for part in parts {
        let len = part.graphemes(true).count();
        out.push(
            all.iter()
                .filter(|&&i| i >= start && i < start + len)
                .map(|i| i - start)
                .collect(),
        );
        start += len + sep_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsequence_case_insensitive() {
        assert!(matches("aweb", "acme-web"));
        assert!(matches("ACME", "acme-web"));
        assert!(matches("", "anything"));
        assert!(!matches("bew", "acme-web"));
    }

    #[test]
    fn contiguous_and_early_matches_rank_higher() {
        assert!(score("web", "acme-web").unwrap() > score("web", "w-e-b").unwrap());
        assert!(score("acme", "acme-web").unwrap() > score("acme", "x-acme-web").unwrap());
    }

    #[test]
    fn word_starts_rank_above_scattered_letters() {
        // fzf's bonus for a match at the start of a word (after `-`, `/`).
        assert!(score("aw", "acme-web").unwrap() > score("aw", "xaxxw").unwrap());
    }

    #[test]
    fn accents_fold_and_unicode_counts_graphemes() {
        assert!(matches("cafe", "café-api"));
        assert_eq!(indices("fé", "café"), vec![2, 3]);
        assert_eq!(indices("api", "café-api"), vec![5, 6, 7]);
    }

    #[test]
    fn indices_point_at_the_matched_characters() {
        assert_eq!(indices("web", "acme-web"), vec![5, 6, 7]);
        assert_eq!(indices("", "acme-web"), Vec::<usize>::new());
        assert_eq!(indices("zz", "acme-web"), Vec::<usize>::new());
    }

    #[test]
    fn part_indices_split_a_joined_match_per_part() {
        assert_eq!(
            part_indices("acmeweb", &["acme", "web"], "/"),
            vec![vec![0, 1, 2, 3], vec![0, 1, 2]]
        );
        assert_eq!(
            part_indices("e/w", &["acme", "web"], "/"),
            vec![vec![3], vec![0]],
            "the separator itself is matched, drawn by nobody"
        );
    }

    #[test]
    fn fzf_operators_are_plain_characters() {
        assert!(matches("!web", "a!-web"));
        assert!(!matches("!web", "acme-web"));
    }
}
