//! Checking a witness: a candidate linearization given by whoever produced the history.
//!
//! The simulator knows the order in which the cluster applied each command (its log index) and
//! when a read served without the log was served. Sorting a key's placed calls by that order key
//! gives a candidate linearization, which is verified against the history alone in O(n log n):
//! every placed call gets a point inside its interval, the points nondecreasing in the candidate
//! order (`p = max(previous point, invocation)`, which must not pass the return; equal times are
//! concurrent, as everywhere in the checker), and replaying the calls in that order through the
//! sequential model gives every read what it read. Every completed call must be placed; a failed
//! call must not be (it did not happen); a call whose outcome is unknown may be placed (it took
//! effect there) or not (it never did). A sequence that passes is a linearization of the key,
//! so the key is linearizable: the witness is never trusted, only checked.
//!
//! When the check fails, the longest verified prefix may still help: if it ends at a quiescent
//! cut (see `verify`), only the calls after it need a search, from the prefix's final value.

use crate::history::Status;
use crate::model::Model;

/// What the witness says about one key.
pub(crate) enum Verified {
    /// The witness is a linearization of the key.
    Valid,
    /// The witness holds up to a cut: if `window` (member indices) linearizes from `value`,
    /// the key is linearizable.
    Cut { window: Vec<u32>, value: Vec<u8> },
    /// Nothing usable.
    Invalid,
}

/// Verifies the witness on the part `members` (dropped calls excluded). `failed_placed` says
/// whether some failed call of this key was placed (which makes the witness wrong).
///
/// The cut. Let `c_1..c_m` be the placed calls in witness order, `c_1..c_K` the longest prefix
/// that verifies with points `p_1 <= ... <= p_K`. A prefix `c_1..c_k` is a quiescent cut when
/// some time `T` separates it from the rest: every completed call of the prefix returned, and
/// the prefix's points are, before `T`, and every completed call not in it was invoked after
/// `T` (no completed call spans `T`; unknown calls not in the prefix may, as they never
/// return). The latest such `k` is taken. (Only invocations after `p_k` matter for the proof
/// below; asking for quiescence keeps the prefix to calls the witness cannot have misordered
/// with the window.) Then, for any linearization `W` of the
/// other calls (all of them but `c_1..c_k`, unknown ones included, which may take effect or
/// not) starting from the value the prefix leaves, `c_1..c_k W` is a linearization of the key:
/// the prefix is a legal sequence ending in that value, `W` is legal from it, and real-time
/// order holds across the two, since a call `b` of `W` that must precede a prefix call `a`
/// would have returned before `a` was invoked, i.e. before `p_k`; but a completed `b` was
/// invoked after `p_k`, and an unknown `b` never returns. So if `W` exists the key is
/// linearizable; if not, nothing is known (the prefix was one choice among many), and the
/// caller searches the whole key.
pub(crate) fn verify<'a, M: Model<'a>>(
    model: &M,
    calls: &'a [M::Call],
    members: &[u32],
    witness: &[Option<u64>],
    failed_placed: bool,
) -> Verified {
    let known = |i: u32| M::status(&calls[i as usize]) == Status::Ok;
    let mut placed: Vec<(u64, u32)> =
        members.iter().filter_map(|&i| witness.get(i as usize).copied().flatten().map(|k| (k, i))).collect();
    placed.sort_unstable();
    let mut value = Vec::new();
    model.initial_value(&mut value);
    let mut points: Vec<u64> = Vec::with_capacity(placed.len());
    let mut point = 0u64;
    for &(_, i) in &placed {
        let call = &calls[i as usize];
        let p = point.max(M::call_ns(call));
        if known(i) && M::return_ns(call).is_some_and(|r| p > r) {
            break;
        }
        if M::apply(call, &mut value).is_err() {
            break;
        }
        point = p;
        points.push(p);
    }
    let verified = points.len();
    let unplaced_known_min = members
        .iter()
        .filter(|&&i| known(i) && witness.get(i as usize).copied().flatten().is_none())
        .map(|&i| M::call_ns(&calls[i as usize]))
        .min();
    if verified == placed.len() && unplaced_known_min.is_none() && !failed_placed {
        return Verified::Valid;
    }
    // suffix_min[k]: the earliest invocation of a completed call among placed[k..].
    let mut suffix_min = vec![u64::MAX; placed.len() + 1];
    for k in (0..placed.len()).rev() {
        let (_, i) = placed[k];
        let here = if known(i) { M::call_ns(&calls[i as usize]) } else { u64::MAX };
        suffix_min[k] = suffix_min[k + 1].min(here);
    }
    // prefix_max[k]: the latest point or return among placed[..k].
    let mut prefix_max = vec![0u64; verified + 1];
    for k in 0..verified {
        let (_, i) = placed[k];
        let ret = M::return_ns(&calls[i as usize]).filter(|_| known(i)).unwrap_or(0);
        prefix_max[k + 1] = prefix_max[k].max(points[k]).max(ret);
    }
    let outside = |k: usize| suffix_min[k].min(unplaced_known_min.unwrap_or(u64::MAX));
    let Some(k) = (1..=verified).rev().find(|&k| outside(k) > prefix_max[k]) else {
        return Verified::Invalid;
    };
    model.initial_value(&mut value);
    let mut in_prefix: Vec<u32> = Vec::with_capacity(k);
    for &(_, i) in &placed[..k] {
        // Verified above: this cannot fail.
        let _ = M::apply(&calls[i as usize], &mut value);
        in_prefix.push(i);
    }
    in_prefix.sort_unstable();
    let window = members.iter().copied().filter(|i| in_prefix.binary_search(i).is_err()).collect();
    Verified::Cut { window, value }
}
