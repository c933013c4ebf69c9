//! Fault injection: the demo server misbehaves the way a real API server does when the network
//! or the server itself has trouble (see `docs/demo-faults.md` and `../shared/REAL-API.md`), so
//! the console's watchers can be tested against cuts, throttling, stalls and replacement.
//!
//! `palisade demo --serve-only --faults SPEC` applies a plan on a timer; tests call
//! `DemoServer::inject` directly.

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A connection cut: every open connection (watches included) is reset, and new
    /// connections are refused for the duration.
    Drop(Duration),
    /// The event history is compacted: open watches get an `ERROR` event with a 410 Expired
    /// Status and end; a watch from any earlier resourceVersion gets the same.
    Expire,
    /// The next N requests get 429 TooManyRequests with `Retry-After: 1`.
    Throttle(u32),
    /// The next N requests get 500 InternalError.
    Error(u32),
    /// Like `kill -STOP`: connections are accepted but nothing is answered and watch streams
    /// send nothing for the duration; then everything continues.
    Stall(Duration),
    /// The server is replaced by a new one whose resourceVersions restart lower (see `Restart`).
    Restart(Restart),
}

/// How a replacement goes, as a real API server's restart does: open watch streams stay open and
/// silent for `hang` before they close, the port refuses connections for `down`, and for
/// `forbidden` after it reopens every request gets 403 (authorization not loaded yet). The new
/// server holds the same objects, renumbered from resourceVersion 1, with its history
/// compacted: a watch from a version it has not reached stays silent, a list from one answers
/// 504 after about 3 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    pub hang: Duration,
    pub down: Duration,
    pub forbidden: Duration,
}

impl Default for Restart {
    fn default() -> Self {
        Restart {
            hang: Duration::from_secs(60),
            down: Duration::from_secs(1),
            forbidden: Duration::from_millis(300),
        }
    }
}

/// `--faults`: faults applied one per period, in order, round and round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultPlan {
    pub faults: Vec<Fault>,
    pub every: Duration,
}

impl FromStr for FaultPlan {
    type Err = String;

    /// `drop=1s,expire,throttle=3,error=2,stall=35s,restart=60s,every=20s`.
    fn from_str(text: &str) -> Result<FaultPlan, String> {
        let mut plan = FaultPlan {
            faults: Vec::new(),
            every: Duration::from_secs(10),
        };
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (item, None),
            };
            let duration = |default: Duration| value.map_or(Ok(default), parse_duration);
            let count = || match value {
                None => Ok(1),
                Some(v) => v.parse::<u32>().ok().filter(|n| *n > 0).ok_or(format!(
                    "`{item}`: expected a count of requests, e.g. {name}=3"
                )),
            };
            let fault = match name {
                "every" => {
                    plan.every = duration(plan.every)?;
                    if plan.every.is_zero() {
                        return Err("`every` must be longer than 0".into());
                    }
                    continue;
                }
                "drop" => Fault::Drop(duration(Duration::ZERO)?),
                "expire" if value.is_none() => Fault::Expire,
                "throttle" => Fault::Throttle(count()?),
                "error" => Fault::Error(count()?),
                "stall" => Fault::Stall(duration(Duration::from_secs(35))?),
                "restart" => Fault::Restart(Restart {
                    hang: duration(Restart::default().hang)?,
                    ..Restart::default()
                }),
                _ => {
                    return Err(format!(
                        "unknown fault `{item}`; known: drop[=DURATION], expire, throttle[=N], error[=N], stall[=DURATION], restart[=HANG], every=DURATION"
                    ));
                }
            };
            plan.faults.push(fault);
        }
        if plan.faults.is_empty() {
            return Err("no fault named; e.g. --faults drop=1s,stall=35s,restart,every=20s".into());
        }
        Ok(plan)
    }
}

/// `500ms`, `35s`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a duration such as 500ms, 35s or 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        _ => Err(format!(
            "`{text}`: expected a duration such as 500ms, 35s or 2m"
        )),
    }
}

/// What open connections and watch streams are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Calm,
    Drop,
    Expire,
    Restart { hang: Duration },
}

/// What a request gets instead of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Throttled,
    Failed,
    Forbidden,
}

#[derive(Debug, Default)]
struct Windows {
    throttle_left: u32,
    errors_left: u32,
    stalled_until: Option<Instant>,
    refused_until: Option<Instant>,
    forbidden_until: Option<Instant>,
}

/// The server's fault state, shared by the accept loop, the request handler and watch streams.
pub struct Faults {
    windows: Mutex<Windows>,
    /// Bumped with every signal, so each receiver sees each signal once.
    signal: watch::Sender<(u64, Signal)>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            windows: Mutex::new(Windows::default()),
            signal: watch::channel((0, Signal::Calm)).0,
        }
    }
}

impl Faults {
    fn windows(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signals sent from now on (not the ones before).
    pub fn subscribe(&self) -> watch::Receiver<(u64, Signal)> {
        self.signal.subscribe()
    }

    fn send(&self, signal: Signal) {
        self.signal.send_modify(|(seq, current)| {
            *seq += 1;
            *current = signal;
        });
    }

    /// Starts a fault's windows and signals; the store part (compaction, renumbering) is the
    /// caller's.
    pub fn start(&self, fault: Fault) {
        let now = Instant::now();
        {
            let mut w = self.windows();
            match fault {
                Fault::Drop(down) => w.refused_until = Some(now + down),
                Fault::Throttle(n) => w.throttle_left += n,
                Fault::Error(n) => w.errors_left += n,
                Fault::Stall(d) => w.stalled_until = Some(now + d),
                Fault::Restart(r) => {
                    w.refused_until = Some(now + r.down);
                    w.forbidden_until = Some(now + r.down + r.forbidden);
                }
                Fault::Expire => {}
            }
        }
        match fault {
            Fault::Drop(_) => self.send(Signal::Drop),
            Fault::Expire => self.send(Signal::Expire),
            Fault::Restart(r) => self.send(Signal::Restart { hang: r.hang }),
            _ => {}
        }
    }

    /// New connections are dropped at once while this holds.
    pub fn refusing(&self) -> bool {
        self.windows()
            .refused_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// Waits out a stall (returns at once when there is none).
    pub async fn unstalled(&self) {
        loop {
            let until = self.windows().stalled_until;
            match until {
                Some(until) if Instant::now() < until => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// Whether this request is refused, counting it against throttle and error budgets.
    pub fn refusal(&self) -> Option<Refusal> {
        let mut w = self.windows();
        if w.forbidden_until
            .is_some_and(|until| Instant::now() < until)
        {
            return Some(Refusal::Forbidden);
        }
        if w.throttle_left > 0 {
            w.throttle_left -= 1;
            return Some(Refusal::Throttled);
        }
        if w.errors_left > 0 {
            w.errors_left -= 1;
            return Some(Refusal::Failed);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reads_every_fault_and_its_period() {
        let plan: FaultPlan = "drop=1s, expire,throttle=3,error,stall=500ms,restart=2s,every=20s"
            .parse()
            .unwrap();
        assert_eq!(plan.every, Duration::from_secs(20));
        assert_eq!(
            plan.faults,
            [
                Fault::Drop(Duration::from_secs(1)),
                Fault::Expire,
                Fault::Throttle(3),
                Fault::Error(1),
                Fault::Stall(Duration::from_millis(500)),
                Fault::Restart(Restart {
                    hang: Duration::from_secs(2),
                    ..Restart::default()
                }),
            ]
        );
    }

    #[test]
    fn bad_plans_say_what_is_wrong() {
        for (spec, needle) in [
            ("", "no fault named"),
            ("every=5s", "no fault named"),
            ("explode", "unknown fault `explode`"),
            ("stall=10", "expected a duration"),
            ("throttle=0", "expected a count"),
            ("drop,every=0s", "longer than 0"),
        ] {
            let err = spec.parse::<FaultPlan>().unwrap_err();
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }

    #[test]
    fn budgets_count_down_and_forbidden_comes_first() {
        let faults = Faults::default();
        faults.start(Fault::Throttle(1));
        faults.start(Fault::Error(1));
        assert_eq!(faults.refusal(), Some(Refusal::Throttled));
        assert_eq!(faults.refusal(), Some(Refusal::Failed));
        assert_eq!(faults.refusal(), None);
        faults.start(Fault::Restart(Restart {
            hang: Duration::ZERO,
            down: Duration::ZERO,
            forbidden: Duration::from_secs(60),
        }));
        assert_eq!(faults.refusal(), Some(Refusal::Forbidden));
        assert!(!faults.refusing());
    }
}
