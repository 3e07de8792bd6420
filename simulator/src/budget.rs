//! The event budget: a run that handles far more events than a healthy run of its configuration
//! would is stuck (a livelock, a message storm), and ends with a verdict instead of a hang.
//!
//! The budget is deterministic: it counts events, never wall time, so the same seed spends it at
//! the same event on every machine. By default it grows with simulated time, at ten times the
//! rate a healthy cluster of the configuration needs (every node's ticks, a leader's heartbeats
//! and their answers both ways, the clients' retries), on top of a floor that covers start-up and
//! every operation the clients may issue:
//!
//! ```text
//! allowed(t) = floor + rate x t
//! floor      = 100,000 + (12 x nodes + 12) x operations
//! rate       = 10 x (1.5 x nodes / tick + 4 x (nodes - 1) / heartbeat + 4 x clients / request timeout)
//! ```
//!
//! A storm outgrows any linear budget within simulated seconds, and a livelock that stops time
//! spends the floor. `--max-events N` (`max_events` in a configuration) replaces the default by
//! a fixed budget of N events. Healthy runs stay below a tenth of their default budget (the
//! test `budget.rs` in `simulator/tests` checks seeds and every scenario file against it).
//!
//! When the budget is spent, the run goes on for a short diagnostic window (a tenth of the
//! budget, at most 20,000 events) that records what the cluster was busy with, and then ends
//! with verdict `liveness`, check `event-budget`, and that description as its reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::{SimConfig, NS_PER_SEC};
use crate::limits::grouped;

/// Events in the diagnostic window after the budget is spent, at most.
const DIAGNOSIS_EVENTS_MAX: u64 = 20_000;
/// Events allowed before any simulated time passes, besides the operations' share.
const FLOOR_EVENTS: u64 = 100_000;

/// How many events a run may handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// `floor + per_sec x simulated seconds`.
    Scaled { floor: u64, per_sec: u64 },
    /// A fixed number of events (`--max-events`).
    Fixed(u64),
}

impl Budget {
    /// The budget of a run of `config` in which the clients may issue `ops` operations in all
    /// (the configuration's own, plus what a scenario's schedule submits).
    #[must_use]
    pub fn of(config: &SimConfig, ops: u64) -> Budget {
        if let Some(max) = config.max_events {
            return Budget::Fixed(max);
        }
        let c = &config.cluster;
        let nodes = c.nodes as u64;
        let tick = c.tick_ns.max(1);
        let heartbeat = tick.saturating_mul(u64::from(c.heartbeat_ticks)).max(1);
        let ticks = nodes * 3 * NS_PER_SEC / 2 / tick;
        let heartbeats = 4 * nodes.saturating_sub(1) * NS_PER_SEC / heartbeat;
        let retries =
            4 * (config.workload.clients as u64) * NS_PER_SEC / config.workload.request_timeout_ns.max(1);
        let per_sec = 10 * (ticks + heartbeats + retries).max(1);
        let floor = FLOOR_EVENTS.saturating_add((12 * nodes + 12).saturating_mul(ops));
        Budget::Scaled { floor, per_sec }
    }

    /// Events allowed by simulated time `now_ns`.
    #[must_use]
    pub fn allowed(&self, now_ns: u64) -> u64 {
        match *self {
            Budget::Fixed(n) => n,
            Budget::Scaled { floor, per_sec } => {
                let grown = u128::from(per_sec) * u128::from(now_ns) / u128::from(NS_PER_SEC);
                floor.saturating_add(u64::try_from(grown).unwrap_or(u64::MAX))
            }
        }
    }

    /// The size of the diagnostic window once the budget is spent.
    #[must_use]
    pub fn diagnosis_events(&self, now_ns: u64) -> u64 {
        (self.allowed(now_ns) / 10).clamp(1, DIAGNOSIS_EVENTS_MAX)
    }

    /// The budget in words, for the reason of a run that spent it.
    #[must_use]
    pub fn describe(&self, now_ns: u64) -> String {
        match *self {
            Budget::Fixed(n) => format!("a fixed budget of {} events (--max-events)", grouped(n)),
            Budget::Scaled { floor, per_sec } => format!(
                "the default budget, {} events by then: {} plus {} per simulated second, 10x a healthy run's rate; \
                 --max-events sets another",
                grouped(self.allowed(now_ns)),
                grouped(floor),
                grouped(per_sec)
            ),
        }
    }
}

/// The moment a run spent its budget, and what the cluster did in the diagnostic window after.
#[derive(Clone, Debug)]
pub struct Overrun {
    /// Events handled and simulated time when the budget ran out.
    pub event: u64,
    pub time_ns: u64,
    pub budget: String,
    /// The diagnostic window ends after this event.
    pub window_end: u64,
    /// Messages sent in the window, by (kind, from, to).
    pub sends: BTreeMap<(&'static str, String, String), u64>,
    pub dropped: u64,
    /// Each node's commit index and term when the window began (None: down).
    pub start: Vec<Option<(u64, u64)>>,
}

impl Overrun {
    #[must_use]
    pub fn new(event: u64, time_ns: u64, budget: &Budget, start: Vec<Option<(u64, u64)>>) -> Overrun {
        Overrun {
            event,
            time_ns,
            budget: budget.describe(time_ns),
            window_end: event.saturating_add(budget.diagnosis_events(time_ns)),
            sends: BTreeMap::new(),
            dropped: 0,
            start,
        }
    }

    /// A message sent during the window.
    pub fn note_send(&mut self, kind: &'static str, from: String, to: String) {
        *self.sends.entry((kind, from, to)).or_default() += 1;
    }

    /// The reason of the verdict: when the budget ran out, and what the cluster was busy with.
    #[must_use]
    pub fn reason(
        &self,
        end_event: u64,
        end_time_ns: u64,
        end: &[Option<(u64, u64)>],
        in_flight: usize,
    ) -> String {
        let mut s = format!(
            "spent its event budget: {} events by t={} ({}); ",
            grouped(self.event),
            crate::config::ms(self.time_ns),
            self.budget
        );
        let window = end_event.saturating_sub(self.event);
        let _ = write!(
            s,
            "in the next {} events (t={}..{}) ",
            grouped(window),
            crate::config::ms(self.time_ns),
            crate::config::ms(end_time_ns)
        );
        let total: u64 = self.sends.values().sum();
        if total == 0 {
            s.push_str("no message was sent");
        } else {
            let mut top: Vec<(&(&str, String, String), &u64)> = self.sends.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let parts: Vec<String> = top
                .iter()
                .take(4)
                .map(|((kind, from, to), n)| {
                    format!("{kind} {from}->{to} {} ({}%)", grouped(**n), **n * 100 / total)
                })
                .collect();
            let _ =
                write!(s, "the cluster sent {} messages, most of them {}", grouped(total), parts.join(", "));
        }
        let mut moved = Vec::new();
        let mut stuck = Vec::new();
        for (n, (a, b)) in self.start.iter().zip(end).enumerate() {
            match (a, b) {
                (Some((c0, _)), Some((c1, t1))) if c1 > c0 => moved.push(format!("n{n} i{c0}->i{c1} t{t1}")),
                (_, Some((c1, t1))) => stuck.push(format!("n{n} i{c1} t{t1}")),
                (_, None) => stuck.push(format!("n{n} down")),
            }
        }
        let terms_moved = self.start.iter().zip(end).any(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => b.1 != a.1,
            _ => false,
        });
        let _ = write!(
            s,
            "; the commit index moved on {} of {} nodes{}{}; terms {}; {} messages in flight",
            moved.len(),
            end.len(),
            if moved.is_empty() { String::new() } else { format!(" ({})", moved.join(", ")) },
            if stuck.is_empty() { String::new() } else { format!(", not on {}", stuck.join(", ")) },
            if terms_moved { "changed" } else { "stayed" },
            grouped(in_flight as u64)
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_grows_with_simulated_time_and_a_fixed_one_does_not() {
        let config = SimConfig::calm(1);
        let b = Budget::of(&config, 1000);
        assert!(b.allowed(10 * NS_PER_SEC) > b.allowed(NS_PER_SEC));
        assert!(b.allowed(0) >= FLOOR_EVENTS);
        let mut fixed = config.clone();
        fixed.max_events = Some(500);
        let f = Budget::of(&fixed, 1000);
        assert_eq!(f.allowed(0), 500);
        assert_eq!(f.allowed(u64::MAX), 500);
        assert_eq!(f.diagnosis_events(0), 50);
        assert!(b.allowed(u64::MAX) > b.allowed(3_600 * NS_PER_SEC), "no wrapping at the end of time");
    }

    #[test]
    fn the_reason_says_what_dominated_and_whether_commits_moved() {
        let b = Budget::Fixed(1000);
        let mut o = Overrun::new(1000, 5_000_000, &b, vec![Some((7, 2)), Some((7, 2)), None]);
        for _ in 0..90 {
            o.note_send("append", "n0".into(), "n1".into());
        }
        for _ in 0..10 {
            o.note_send("append_resp", "n1".into(), "n0".into());
        }
        let r = o.reason(1100, 6_000_000, &[Some((7, 2)), Some((7, 2)), None], 42);
        assert!(r.contains("append n0->n1 90 (90%)"), "{r}");
        assert!(r.contains("moved on 0 of 3 nodes, not on n0 i7 t2") && r.contains("n2 down"), "{r}");
        assert!(r.contains("42 messages in flight"), "{r}");
    }
}
