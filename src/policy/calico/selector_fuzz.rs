//! Fuzzing the selector parser: random bytes, random text over the language's alphabet, and
//! grammar-aware mutations of valid selectors (characters inserted, deleted or replaced, and
//! pieces of two selectors spliced). `parse` must never panic, every selector it accepts must
//! print (`Display`) to text that parses back to the same tree, and evaluating it must not
//! panic either. A short run is a normal test; the long run is ignored by default:
//!
//! `PALISADE_FUZZ_SECONDS=600 cargo test --release --lib -- --ignored fuzz`

use std::time::{Duration, Instant};

use super::*;

/// xorshift64*: deterministic per seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEYS: [&str; 7] = [
    "app",
    "projectcalico.org/namespace",
    "pcns.team",
    "in",
    "not",
    "has",
    "a-b_c.d/e",
];
const VALUES: [&str; 6] = ["web", "", "it's", "say \"hi\"", "ünï", "a b"];
const PIECES: [&str; 22] = [
    "all()",
    "global()",
    "has(",
    ")",
    "(",
    "==",
    "!=",
    "!",
    "&&",
    "||",
    " in ",
    " not in ",
    "{",
    "}",
    ",",
    "'",
    "\"",
    " contains ",
    " starts with ",
    " ends with ",
    "app",
    " ",
];

fn values(rng: &mut Rng) -> Vec<String> {
    (0..rng.below(3))
        .map(|_| rng.pick(&VALUES).to_string())
        .collect()
}

/// A random valid selector tree.
fn tree(rng: &mut Rng, depth: usize) -> Selector {
    let key = rng.pick(&KEYS).to_string();
    let value = rng.pick(&VALUES).to_string();
    let leaf = depth == 0 || rng.below(3) == 0;
    let choice = if leaf {
        rng.below(10)
    } else {
        10 + rng.below(3)
    };
    match choice {
        0 => Selector::All,
        1 => Selector::Global,
        2 => Selector::Has(key),
        3 => Selector::Equals(key, value),
        4 => Selector::NotEquals(key, value),
        5 => Selector::In(key, values(rng)),
        6 => Selector::NotIn(key, values(rng)),
        7 => Selector::Contains(key, value),
        8 => Selector::StartsWith(key, value),
        9 => Selector::EndsWith(key, value),
        10 => Selector::Not(Box::new(tree(rng, depth - 1))),
        11 => Selector::And(
            Box::new(tree(rng, depth - 1)),
            Box::new(tree(rng, depth - 1)),
        ),
        _ => Selector::Or(
            Box::new(tree(rng, depth - 1)),
            Box::new(tree(rng, depth - 1)),
        ),
    }
}

fn char_at_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// One mutation of a valid selector's text.
fn mutate(rng: &mut Rng, text: &str, other: &str) -> String {
    let at = char_at_boundary(text, rng.below(text.len() + 1));
    match rng.below(5) {
        0 => format!("{}{}{}", &text[..at], rng.pick(&PIECES), &text[at..]),
        1 => {
            let end = char_at_boundary(text, at + rng.below(4));
            format!("{}{}", &text[..at], &text[end.max(at)..])
        }
        2 => {
            let end = char_at_boundary(text, at + 1 + rng.below(3));
            format!(
                "{}{}{}",
                &text[..at],
                rng.pick(&PIECES),
                &text[end.max(at)..]
            )
        }
        3 => {
            let cut = char_at_boundary(other, rng.below(other.len() + 1));
            format!("{}{}", &text[..at], &other[cut..])
        }
        _ => {
            let byte = (rng.next() & 0x7f) as u8 as char;
            format!("{}{byte}{}", &text[..at], &text[at..])
        }
    }
}

fn random_text(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => {
            let bytes: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        1 => (0..rng.below(12))
            .map(|_| *rng.pick(&PIECES))
            .collect::<Vec<_>>()
            .join(""),
        _ => (0..rng.below(30))
            .map(|_| *rng.pick(&['a', '=', '!', '(', ')', '\'', '{', '}', ',', ' ', '&', '|']))
            .collect(),
    }
}

/// Parses `text` (must not panic); an accepted selector must print and parse back to itself
/// and evaluate without panicking. Returns whether it was accepted.
fn check(text: &str) -> bool {
    let parsed = std::panic::catch_unwind(|| parse(text))
        .unwrap_or_else(|_| panic!("parse panicked on {text:?}"));
    let Ok(selector) = parsed else {
        return false;
    };
    let printed = selector.to_string();
    assert_eq!(
        parse(&printed).as_ref(),
        Ok(&selector),
        "{text:?} printed as {printed:?} does not parse back"
    );
    let labels: Labels = [("app", "web"), ("in", "it's")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let _ = selector.matches(Subject {
        labels: &labels,
        namespaced: true,
    });
    true
}

/// Runs until `limit` inputs or `deadline`: (inputs, accepted).
fn run(seed: u64, limit: usize, deadline: Duration) -> (usize, usize) {
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let (mut inputs, mut accepted) = (0, 0);
    while inputs < limit && start.elapsed() < deadline {
        let a = tree(&mut rng, 4);
        let b = tree(&mut rng, 3);
        let text = a.to_string();
        assert_eq!(parse(&text), Ok(a.clone()), "{text:?}");
        let mut mutated = text.clone();
        for _ in 0..1 + rng.below(3) {
            mutated = mutate(&mut rng, &mutated, &b.to_string());
        }
        for input in [mutated, random_text(&mut rng)] {
            inputs += 1;
            accepted += usize::from(check(&input));
        }
    }
    (inputs, accepted)
}

#[test]
fn fuzz_selector_parser_briefly() {
    let (inputs, accepted) = run(0x5eed, 20_000, Duration::from_secs(60));
    assert_eq!(inputs, 20_000);
    // Mutations keep some inputs valid: the round trip is exercised, not only the errors.
    assert!(accepted > 1000, "{accepted} of {inputs} accepted");
}

#[test]
#[ignore = "long run: PALISADE_FUZZ_SECONDS (default 600) of fuzzing"]
fn fuzz_selector_parser_for_a_while() {
    let seconds = std::env::var("PALISADE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let (inputs, accepted) = run(seed, usize::MAX, Duration::from_secs(seconds));
    println!(
        "selector fuzz: seed {seed:#x}, {seconds} s, {inputs} inputs, {accepted} accepted, no panic"
    );
}
