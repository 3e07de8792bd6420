//! Happened-before over a run's messages (Lamport, "Time, Clocks, and the Ordering of Events in
//! a Distributed System", 1978): an event `a` happened before `b` when they are on one lane
//! (a node or a client) and `a` comes first, or `a` sends a message that `b` receives, or by
//! transitivity. The causal past of a set of starting events is everything that happened
//! before one of them.
//!
//! Events are named by their position in the trace (its line number), which orders the events
//! of one lane: within one simulated event the receipt is written before the sends it causes.
//! Because "on one lane and earlier" is part of the relation, the causal past of a lane is a
//! prefix of it: it is described by one *horizon* per lane, the last position of that lane in
//! the past, and a message is in the past exactly when its receipt is at or before its
//! receiver's horizon. The horizons grow from the starting events backwards along messages,
//! each receipt looked at once: O(M log M) for M messages.

/// A message between two lanes, reduced to what causality needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    pub from: usize,
    pub to: usize,
    /// Where the sender sent it.
    pub sent: u64,
    /// Where the receiver took it in; `None` when it never was (dropped, lost, still in flight).
    pub received: Option<u64>,
}

/// For each lane, the last position in the causal past of `start` (the starting events, one
/// optional position per lane), or `None` when nothing of that lane is in it. Lanes that `hops`
/// name beyond `start.len()` are ignored.
#[must_use]
pub fn horizons(start: &[Option<u64>], hops: &[Hop]) -> Vec<Option<u64>> {
    let lanes = start.len();
    let mut horizon = start.to_vec();
    // Per lane, the receipts sorted by position, and how many have been followed back.
    let mut receipts: Vec<Vec<(u64, usize)>> = vec![Vec::new(); lanes];
    for (i, h) in hops.iter().enumerate() {
        if let Some(at) = h.received {
            if h.to < lanes && h.from < lanes {
                receipts[h.to].push((at, i));
            }
        }
    }
    for r in &mut receipts {
        r.sort_unstable();
    }
    let mut followed = vec![0usize; lanes];
    let mut work: Vec<usize> = (0..lanes).filter(|l| horizon[*l].is_some()).collect();
    let mut queued = vec![false; lanes];
    for l in &work {
        queued[*l] = true;
    }
    // Each pass over a lane follows receipts it has not followed yet; a lane is queued again only
    // when its horizon grew, which one receipt can do once: at most `lanes + receipts` passes.
    while let Some(lane) = work.pop() {
        queued[lane] = false;
        let Some(h) = horizon[lane] else { continue };
        while let Some(&(at, i)) = receipts[lane].get(followed[lane]) {
            if at > h {
                break;
            }
            followed[lane] += 1;
            let hop = hops[i];
            if horizon[hop.from].is_none_or(|f| f < hop.sent) {
                horizon[hop.from] = Some(hop.sent);
                if !queued[hop.from] {
                    queued[hop.from] = true;
                    work.push(hop.from);
                }
            }
        }
    }
    horizon
}

/// Whether a message's receipt is in the causal past the horizons describe.
#[must_use]
pub fn received_in_past(hop: &Hop, horizon: &[Option<u64>]) -> bool {
    match (hop.received, horizon.get(hop.to).copied().flatten()) {
        (Some(at), Some(h)) => at <= h,
        _ => false,
    }
}

/// Whether a message's send is in the causal past (for messages lost on the way).
#[must_use]
pub fn sent_in_past(hop: &Hop, horizon: &[Option<u64>]) -> bool {
    horizon.get(hop.from).copied().flatten().is_some_and(|h| hop.sent <= h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(from: usize, to: usize, sent: u64, received: Option<u64>) -> Hop {
        Hop { from, to, sent, received }
    }

    #[test]
    fn the_past_of_an_event_follows_messages_back_through_every_hop() {
        // a(0) -> b(1) -> c(2): the receipt on c at 30 has both sends in its past.
        let hops = [hop(0, 1, 10, Some(15)), hop(1, 2, 20, Some(30))];
        let h = horizons(&[None, None, Some(30)], &hops);
        assert_eq!(h, vec![Some(10), Some(20), Some(30)]);
        assert!(hops.iter().all(|m| received_in_past(m, &h)));
    }

    #[test]
    fn a_message_received_after_the_event_is_not_in_its_past() {
        // b receives from a at 25, after b's send at 20 that c receives: not in c's past.
        let hops = [hop(0, 1, 22, Some(25)), hop(1, 2, 20, Some(30))];
        let h = horizons(&[None, None, Some(30)], &hops);
        assert_eq!(h, vec![None, Some(20), Some(30)]);
        assert!(!received_in_past(&hops[0], &h));
        assert!(received_in_past(&hops[1], &h));
    }

    #[test]
    fn a_message_sent_after_the_event_on_its_own_lane_is_not_in_the_past() {
        // c's own later send, and what it causes, are in the future.
        let hops = [hop(2, 0, 31, Some(40)), hop(0, 2, 41, Some(45))];
        let h = horizons(&[None, None, Some(30)], &hops);
        assert_eq!(h, vec![None, None, Some(30)]);
        assert!(!hops.iter().any(|m| received_in_past(m, &h) || sent_in_past(m, &h)));
    }

    #[test]
    fn a_lost_message_is_in_the_past_when_its_send_is() {
        let hops = [hop(0, 1, 5, None), hop(0, 2, 8, Some(12)), hop(0, 1, 13, None)];
        let h = horizons(&[None, None, Some(20)], &hops);
        assert!(sent_in_past(&hops[0], &h), "sent before a send the event saw");
        assert!(!sent_in_past(&hops[2], &h), "sent after it");
        assert!(!received_in_past(&hops[0], &h));
    }

    #[test]
    fn a_chain_that_comes_back_to_a_lane_raises_its_horizon_once_per_receipt() {
        // a -> b -> a -> b -> c: a's horizon is its later send, reached through b twice.
        let hops = [
            hop(0, 1, 1, Some(2)),
            hop(1, 0, 3, Some(4)),
            hop(0, 1, 5, Some(6)),
            hop(1, 2, 7, Some(8)),
            hop(0, 2, 9, Some(20)),
        ];
        let h = horizons(&[None, None, Some(10)], &hops);
        assert_eq!(h, vec![Some(5), Some(7), Some(10)]);
        let past: Vec<bool> = hops.iter().map(|m| received_in_past(m, &h)).collect();
        assert_eq!(past, vec![true, true, true, true, false]);
    }

    #[test]
    fn several_starting_events_give_the_union_of_their_pasts() {
        let hops = [hop(0, 1, 1, Some(2)), hop(2, 3, 3, Some(4))];
        let h = horizons(&[None, Some(2), None, Some(4)], &hops);
        assert_eq!(h, vec![Some(1), Some(2), Some(3), Some(4)]);
    }

    #[test]
    fn lanes_out_of_range_are_ignored_rather_than_trusted() {
        let hops = [hop(0, 9, 1, Some(2)), hop(9, 0, 1, Some(2))];
        assert_eq!(horizons(&[Some(5)], &hops), vec![Some(5)]);
    }
}
