//! Fuzzy matching for `/` filters: the pattern's characters must appear in order
//! (case-insensitive); tighter matches score higher.

/// `Some(score)` when `pattern` matches `text`; higher is better. An empty pattern matches all.
pub fn score(pattern: &str, text: &str) -> Option<i64> {
    let mut score = 0i64;
    let mut last: Option<usize> = None;
    let mut chars = text
        .char_indices()
        .map(|(i, c)| (i, c.to_ascii_lowercase()));
    for want in pattern.chars().map(|c| c.to_ascii_lowercase()) {
        let (at, _) = chars.by_ref().find(|(_, c)| *c == want)?;
        score += match last {
            Some(prev) if at == prev + 1 => 10, // consecutive
            Some(prev) => -((at - prev) as i64).min(10),
            None => -(at as i64).min(20),
        };
        last = Some(at);
    }
    Some(score)
}

pub fn matches(pattern: &str, text: &str) -> bool {
    score(pattern, text).is_some()
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
}
