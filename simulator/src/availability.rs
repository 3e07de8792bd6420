//! How well a run served its clients: time without a leader, the longest stretch in which the
//! clients waited and nothing completed, and the latency of the operations that did.
//!
//! Definitions (the summary's figures, and what the timeline page shades):
//! - **no leader**: no node is up (neither crashed nor paused) and in the leader role. A
//!   deposed leader that has not heard of its successor still counts as a leader: it is what
//!   the node believes, which is what a client that reaches it meets. The run starts without
//!   one, so the first election counts.
//! - **unavailable**: some client operation is outstanding (called, not yet answered or given
//!   up on) and none completes `ok`. The longest unavailability is the longest such interval:
//!   the union of the outstanding periods, cut at every `ok` completion. An unknown operation
//!   is outstanding from its call until its client called again, its timeout passed, or the run
//!   ended, whichever came first (as the timeline draws it); a failed one until its refusal.
//! - **latency**: return minus call of the `ok` operations, as percentiles by nearest rank.
//!
//! The liveness probe is not a client operation and is left out. Leadership is followed during
//! the run in O(1) per role change, crash, pause, resume or restart ([`LeaderWatch`]); the rest
//! is computed once from the history at the end, in O(n log n).

use checker::{KvCall, Status};
use serde::Serialize;

/// Leaderless periods kept one by one for the page; beyond this they are still counted and
/// timed, just not listed.
pub const LEADERLESS_PERIODS_LISTED_MAX: usize = 10_000;

/// Follows whether some node is up and leading, from role changes and process faults.
#[derive(Clone, Debug)]
pub struct LeaderWatch {
    /// Bit `n`: node `n` is in the leader role.
    leading: u64,
    /// Bit `n`: node `n` is down or paused.
    stalled: u64,
    /// Since when no node has led, while none does.
    since: Option<u64>,
    total_ns: u64,
    longest_ns: u64,
    periods: u64,
    listed: Vec<(u64, u64)>,
}

impl Default for LeaderWatch {
    fn default() -> LeaderWatch {
        LeaderWatch::new()
    }
}

impl LeaderWatch {
    /// A cluster at time 0: nobody leads yet.
    #[must_use]
    pub fn new() -> LeaderWatch {
        LeaderWatch {
            leading: 0,
            stalled: 0,
            since: Some(0),
            total_ns: 0,
            longest_ns: 0,
            periods: 1,
            listed: Vec::new(),
        }
    }

    fn bit(node: u64) -> u64 {
        if node < 64 {
            1 << node
        } else {
            0
        }
    }

    /// Node `node` is, or is no longer, in the leader role.
    pub fn role(&mut self, now: u64, node: u64, leader: bool) {
        if leader {
            self.leading |= Self::bit(node);
        } else {
            self.leading &= !Self::bit(node);
        }
        self.update(now);
    }

    /// Node `node` crashed or paused (`true`), or restarted or resumed (`false`). A crash also
    /// ends its role: it comes back a follower.
    pub fn stall(&mut self, now: u64, node: u64, stalled: bool, crashed: bool) {
        if stalled {
            self.stalled |= Self::bit(node);
        } else {
            self.stalled &= !Self::bit(node);
        }
        if crashed {
            self.leading &= !Self::bit(node);
        }
        self.update(now);
    }

    fn update(&mut self, now: u64) {
        let led = self.leading & !self.stalled != 0;
        match (led, self.since) {
            (true, Some(start)) => {
                self.close(start, now);
                self.since = None;
            }
            (false, None) => {
                self.since = Some(now);
                self.periods += 1;
            }
            _ => {}
        }
    }

    fn close(&mut self, start: u64, end: u64) {
        let span = end.saturating_sub(start);
        self.total_ns = self.total_ns.saturating_add(span);
        self.longest_ns = self.longest_ns.max(span);
        if self.listed.len() < LEADERLESS_PERIODS_LISTED_MAX {
            self.listed.push((start, end.max(start)));
        }
    }

    /// The periods without a leader up to `end` (the one still open then ends there), with the
    /// figures: `(total, longest, count, periods listed)`.
    #[must_use]
    pub fn finish(&self, end: u64) -> (u64, u64, u64, Vec<(u64, u64)>) {
        let mut w = self.clone();
        if let Some(start) = w.since.take() {
            w.close(start, end);
        }
        if w.periods == 1 && w.total_ns == 0 && w.listed.iter().all(|p| p.0 == p.1) {
            w.listed.clear();
        }
        (w.total_ns, w.longest_ns, w.periods, w.listed)
    }
}

/// The availability figures of a run (see the module's definitions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Availability {
    /// Time with no node up and leading, in all and the longest stretch, and how many stretches.
    pub leaderless_ns: u64,
    pub leaderless_longest_ns: u64,
    pub leaderless_periods: u64,
    /// The longest interval with some operation outstanding and none completing ok, and when it
    /// began (none when no operation was ever outstanding).
    pub unavailable_longest_ns: u64,
    pub unavailable_from_ns: Option<u64>,
    /// Latency of the ok operations, nearest rank; none without an ok operation.
    pub latency_ok_ns_p50: Option<u64>,
    pub latency_ok_ns_p99: Option<u64>,
    pub latency_ok_ns_max: Option<u64>,
    pub ops_ok: u64,
}

/// The figures on one line of the run's text summary.
#[must_use]
pub fn text(a: &Availability) -> String {
    let ms = crate::config::ms;
    let mut s = format!(
        "availability: no leader for {} in {} period(s) (longest {})",
        ms(a.leaderless_ns),
        a.leaderless_periods,
        ms(a.leaderless_longest_ns)
    );
    if let Some(from) = a.unavailable_from_ns {
        s += &format!(", longest unavailability {} from t={}", ms(a.unavailable_longest_ns), ms(from));
    }
    if let (Some(p50), Some(p99), Some(max)) = (a.latency_ok_ns_p50, a.latency_ok_ns_p99, a.latency_ok_ns_max)
    {
        s += &format!("; ok latency p50 {} p99 {} max {} ({} ops)", ms(p50), ms(p99), ms(max), a.ops_ok);
    }
    s
}

/// The `p`-th percentile (0 < p <= 100) of sorted values, by nearest rank.
#[must_use]
pub fn percentile(sorted: &[u64], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() as u64 * p.clamp(1, 100)).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

/// When an operation stopped being outstanding: its return, or for an unknown one the first of
/// its client's next call, its timeout and the end of the run.
fn outstanding_until(calls: &[&KvCall], i: usize, op_timeout_ns: Option<u64>, end_ns: u64) -> u64 {
    let c = calls[i];
    if c.status != Status::Unknown {
        if let Some(r) = c.return_ns {
            return r.max(c.call_ns);
        }
    }
    let next =
        calls[i + 1..].iter().find(|n| n.client == c.client && n.call_ns >= c.call_ns).map(|n| n.call_ns);
    let mut until = next.unwrap_or(end_ns).min(end_ns);
    if let Some(t) = op_timeout_ns {
        until = until.min(c.call_ns.saturating_add(t));
    }
    until.max(c.call_ns)
}

/// Computes the figures from the leadership watched during the run and the clients' history.
#[must_use]
pub fn figures(
    leaders: &LeaderWatch,
    history: &[KvCall],
    op_timeout_ns: Option<u64>,
    end_ns: u64,
) -> Availability {
    let (leaderless_ns, leaderless_longest_ns, leaderless_periods, _) = leaders.finish(end_ns);
    let mut calls: Vec<&KvCall> = history.iter().filter(|c| c.key != crate::client::PROBE_KEY).collect();
    calls.sort_by_key(|c| (c.call_ns, c.id));
    let mut latencies: Vec<u64> = calls
        .iter()
        .filter(|c| c.status == Status::Ok)
        .filter_map(|c| c.return_ns.map(|r| r.saturating_sub(c.call_ns)))
        .collect();
    latencies.sort_unstable();
    let (unavailable_longest_ns, unavailable_from_ns) = longest_unavailable(&calls, op_timeout_ns, end_ns);
    Availability {
        leaderless_ns,
        leaderless_longest_ns,
        leaderless_periods,
        unavailable_longest_ns,
        unavailable_from_ns,
        latency_ok_ns_p50: percentile(&latencies, 50),
        latency_ok_ns_p99: percentile(&latencies, 99),
        latency_ok_ns_max: latencies.last().copied(),
        ops_ok: latencies.len() as u64,
    }
}

/// The longest interval inside the union of outstanding periods that no ok completion cuts.
/// `calls` are sorted by call time.
fn longest_unavailable(calls: &[&KvCall], op_timeout_ns: Option<u64>, end_ns: u64) -> (u64, Option<u64>) {
    let mut spans: Vec<(u64, u64)> = (0..calls.len())
        .map(|i| (calls[i].call_ns, outstanding_until(calls, i, op_timeout_ns, end_ns)))
        .collect();
    spans.sort_unstable();
    let mut oks: Vec<u64> =
        calls.iter().filter(|c| c.status == Status::Ok).filter_map(|c| c.return_ns).collect();
    oks.sort_unstable();
    let mut best = (0u64, None);
    let mut consider = |from: u64, to: u64| {
        if to > from && (best.1.is_none() || to - from > best.0) {
            best = (to - from, Some(from));
        }
    };
    // Merge the outstanding periods into busy stretches, then cut each at the ok completions
    // inside it.
    let mut i = 0;
    while i < spans.len() {
        let (start, mut end) = spans[i];
        i += 1;
        while i < spans.len() && spans[i].0 <= end {
            end = end.max(spans[i].1);
            i += 1;
        }
        let mut from = start;
        let first = oks.partition_point(|t| *t <= start);
        for &t in oks[first..].iter().take_while(|t| **t < end) {
            consider(from, t);
            from = t;
        }
        consider(from, end);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::KvCall;

    #[test]
    fn a_run_starts_without_a_leader_until_the_first_election() {
        let mut w = LeaderWatch::new();
        w.role(300, 2, true);
        let (total, longest, periods, listed) = w.finish(1000);
        assert_eq!((total, longest, periods), (300, 300, 1));
        assert_eq!(listed, vec![(0, 300)]);
    }

    #[test]
    fn a_crashed_or_paused_leader_leaves_the_cluster_without_one() {
        let mut w = LeaderWatch::new();
        w.role(100, 0, true);
        w.stall(200, 0, true, false); // paused: still the leader role, but not serving
        w.stall(250, 0, false, false); // resumed: leads again
        w.stall(400, 0, true, true); // crashed
        w.stall(450, 0, false, false); // restarted as a follower: still no leader
        w.role(600, 1, true);
        let (total, longest, periods, listed) = w.finish(1000);
        assert_eq!(listed, vec![(0, 100), (200, 250), (400, 600)]);
        assert_eq!((total, longest, periods), (100 + 50 + 200, 200, 3));
    }

    #[test]
    fn two_leaders_at_once_count_as_a_leader_until_both_are_gone() {
        let mut w = LeaderWatch::new();
        w.role(10, 0, true);
        w.role(20, 1, true);
        w.role(30, 0, false);
        w.role(40, 1, false);
        w.role(90, 2, true);
        let (total, _, periods, listed) = w.finish(100);
        assert_eq!(listed, vec![(0, 10), (40, 90)]);
        assert_eq!((total, periods), (60, 2));
    }

    #[test]
    fn a_period_still_open_at_the_end_ends_with_the_run() {
        let mut w = LeaderWatch::new();
        w.role(10, 0, true);
        w.role(50, 0, false);
        let (total, longest, periods, _) = w.finish(80);
        assert_eq!((total, longest, periods), (40, 30, 2));
    }

    #[test]
    fn percentiles_are_by_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 99), Some(99));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
    }

    #[test]
    fn the_longest_unavailability_is_cut_by_ok_completions_only() {
        // c0: ok 0..100, then a call at 150 that fails at 900; c1: ok 200..300.
        // Outstanding: 0..100, 150..900 with an ok at 300 inside: the longest piece is 300..900.
        let h = vec![
            KvCall::put(0, 0, "k", "a", 0, 100),
            KvCall { status: Status::Failed, ..KvCall::put(1, 0, "k", "b", 150, 900) },
            KvCall::get(2, 1, "k", "a", 200, 300),
        ];
        let a = figures(&LeaderWatch::new(), &h, None, 1000);
        assert_eq!((a.unavailable_longest_ns, a.unavailable_from_ns), (600, Some(300)));
        assert_eq!(a.ops_ok, 2);
        assert_eq!((a.latency_ok_ns_p50, a.latency_ok_ns_max), (Some(100), Some(100)));
    }

    #[test]
    fn an_unknown_operation_waits_until_its_client_calls_again_or_its_timeout() {
        // c0 calls at 0 and never hears back; it calls again at 400 (ok at 450): it waited
        // from 0 to 450 with nothing completing.
        let h = vec![KvCall::put(0, 0, "k", "a", 0, 0).unknown(), KvCall::put(1, 0, "k", "b", 400, 450)];
        let a = figures(&LeaderWatch::new(), &h, None, 1000);
        assert_eq!((a.unavailable_longest_ns, a.unavailable_from_ns), (450, Some(0)));
        // With a 250 timeout it gave up at 250.
        let a = figures(&LeaderWatch::new(), &h, Some(250), 1000);
        assert_eq!((a.unavailable_longest_ns, a.unavailable_from_ns), (250, Some(0)));
    }

    #[test]
    fn idle_clients_are_not_unavailability_and_the_probe_does_not_count() {
        let h = vec![
            KvCall::put(0, 0, "k", "a", 0, 10),
            KvCall::put(1, 0, "k", "b", 500, 520),
            KvCall::put(2, 9, crate::client::PROBE_KEY, "p", 600, 5000),
        ];
        let a = figures(&LeaderWatch::new(), &h, None, 6000);
        assert_eq!(a.unavailable_longest_ns, 20);
        assert_eq!(a.latency_ok_ns_max, Some(20));
        assert_eq!(a.ops_ok, 2);
        assert_eq!(
            figures(&LeaderWatch::new(), &[], None, 10),
            Availability {
                leaderless_ns: 10,
                leaderless_longest_ns: 10,
                leaderless_periods: 1,
                ..Availability::default()
            }
        );
    }
}
