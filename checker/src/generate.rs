//! Seeded generators of hard histories, for benchmarks and tests.
//!
//! A history is made by running a sequential model: every call gets an invocation time, a
//! linearization point inside its interval and a return time; the calls are applied to the model
//! in the order of their points, which gives each read its output. So a generated history is
//! linearizable by construction, unless a violation is planted. A call whose outcome is unknown
//! (a client timeout) takes effect or not (even odds), and its client moves on after the timeout.
//! The same arguments give the same history on every machine: the random numbers come from
//! splitmix64 seeded by the caller, never from the environment.

use crate::history::{KvCall, KvKind, RegisterCall, RegisterOp, Status};
use std::collections::BTreeMap;

/// splitmix64 (Steele, Lea & Flood 2014): small, fast and good enough for workloads.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `ppm` per million.
    fn chance(&mut self, ppm: u32) -> bool {
        self.below(1_000_000) < u64::from(ppm)
    }
}

/// What the generators share: clients, call count, fraction of unknown outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    pub seed: u64,
    pub clients: u32,
    pub calls: usize,
    /// Calls whose outcome is unknown, per million.
    pub unknown_ppm: u32,
    /// An unknown call takes effect (if it does) within this long of its invocation: a retry
    /// or a new leader may apply it long after the client gave up (the client waits 5,000 ns;
    /// a call takes 2-2,000 ns).
    pub unknown_effect_ns_max: u64,
}

/// Time from invocation to the linearization point, and from there to the return, is uniform
/// in `1..=LATENCY_NS_MAX`; a client waits `TIMEOUT_NS` before giving up on a call.
const LATENCY_NS_MAX: u64 = 1_000;
const TIMEOUT_NS: u64 = 5_000;
const THINK_NS_MAX: u64 = 200;

/// One call's timing as drawn: invocation, point, return (`None` = unknown), and whether an
/// unknown call took effect.
struct Timing {
    client: u32,
    call_ns: u64,
    point_ns: u64,
    return_ns: Option<u64>,
    takes_effect: bool,
}

/// Draws `w.calls` timings: each client calls, waits for the answer (or the timeout), thinks,
/// calls again. Returned in invocation order.
fn timings(rng: &mut Rng, w: &Workload) -> Vec<Timing> {
    let clients = w.clients.max(1);
    let mut next_free: Vec<u64> = (0..u64::from(clients)).map(|c| c * 7).collect();
    let mut out = Vec::with_capacity(w.calls);
    for _ in 0..w.calls {
        // The client free soonest calls next (ties: the lowest number).
        let (client, &start) = next_free.iter().enumerate().min_by_key(|&(c, &t)| (t, c)).unwrap_or((0, &0));
        let unknown = rng.chance(w.unknown_ppm);
        // An unknown call may take effect late: a retry or a new leader applies it after the
        // client gave up.
        let window = if unknown { w.unknown_effect_ns_max.max(1) } else { LATENCY_NS_MAX };
        let point_ns = start + 1 + rng.below(window);
        let (return_ns, takes_effect, free) = if unknown {
            (None, rng.chance(500_000), start + TIMEOUT_NS)
        } else {
            let ret = point_ns + 1 + rng.below(LATENCY_NS_MAX);
            (Some(ret), true, ret)
        };
        next_free[client] = free + 1 + rng.below(THINK_NS_MAX);
        out.push(Timing { client: client as u32, call_ns: start, point_ns, return_ns, takes_effect });
    }
    out
}

/// Indices of `timings` in the order their effects apply (point, then invocation order).
fn by_point(timings: &[Timing]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..timings.len()).collect();
    order.sort_by_key(|&i| (timings[i].point_ns, i));
    order
}

/// One hot key: every client gets, appends to and puts the same key (45% get, 45% append, 10%
/// put), values unique per call (`"c3.17;"`), as the simulator's clerks do.
pub fn hot_key_kv(w: &Workload) -> Vec<KvCall> {
    hot_key_kv_witnessed(w).0
}

/// The witness of a generated history (`check_kv_with_witness`): each call's rank in the order
/// the model applied them, `None` for calls that never took effect.
fn witness_of(timings: &[Timing]) -> Vec<Option<u64>> {
    let mut witness = vec![None; timings.len()];
    for (rank, i) in by_point(timings).into_iter().enumerate() {
        if timings[i].takes_effect {
            witness[i] = Some(rank as u64);
        }
    }
    witness
}

/// `hot_key_kv`, with the order in which the calls took effect, as a witness.
pub fn hot_key_kv_witnessed(w: &Workload) -> (Vec<KvCall>, Vec<Option<u64>>) {
    let mut rng = Rng(w.seed ^ 0x0068_6F74_5F6B_6579);
    let timings = timings(&mut rng, w);
    let mut calls: Vec<KvCall> = timings
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let roll = rng.below(100);
            let kind = if roll < 45 {
                KvKind::Get
            } else if roll < 90 {
                KvKind::Append
            } else {
                KvKind::Put
            };
            let value = if kind == KvKind::Get { String::new() } else { format!("c{}.{i};", t.client) };
            KvCall {
                id: i as u64,
                client: u64::from(t.client),
                kind,
                key: "hot".to_string(),
                value,
                output: None,
                status: if t.return_ns.is_some() { Status::Ok } else { Status::Unknown },
                call_ns: t.call_ns,
                return_ns: t.return_ns,
            }
        })
        .collect();
    let mut value = String::new();
    for i in by_point(&timings) {
        if !timings[i].takes_effect {
            continue;
        }
        let call = &mut calls[i];
        match call.kind {
            KvKind::Get => call.output = (call.status == Status::Ok).then(|| value.clone()),
            KvKind::Put => value.clone_from(&call.value),
            KvKind::Append => value.push_str(&call.value),
        }
    }
    (calls, witness_of(&timings))
}

/// Registers over `keys` keys (Jepsen's cas-register, one per key): each call picks a key at
/// random; 40% reads, 30% writes, 30% cas. Values are small (0..=4, as in Jepsen's tests), so
/// many calls write the same value; a cas expects the value its client last saw on the key
/// (or a random one), and returns false when the value differs.
///
/// With `plant_violation`, one extra client writes a value nobody else writes (99) to the
/// busiest key; a completed read of that key invoked after a later completed write returned
/// is then made to read 99. The writer of 99 returned before that write was invoked, which
/// returned before the read was invoked, so the history has no linearization.
pub fn registers(w: &Workload, keys: u32, plant_violation: bool) -> Vec<RegisterCall> {
    registers_witnessed(w, keys, plant_violation).0
}

/// `registers`, with the order in which the calls took effect, as a witness (with a planted
/// violation, the planted read is placed where it was before its output was changed).
pub fn registers_witnessed(
    w: &Workload,
    keys: u32,
    plant_violation: bool,
) -> (Vec<RegisterCall>, Vec<Option<u64>>) {
    const PLANTED: i64 = 99;
    let mut rng = Rng(w.seed ^ 0x7265_6769_7374_6572);
    let mut timings = timings(&mut rng, w);
    let keys = keys.max(1);
    let mut last_seen: BTreeMap<(u32, u32), i64> = BTreeMap::new();
    let mut calls: Vec<RegisterCall> = Vec::with_capacity(timings.len() + 1);
    for (i, t) in timings.iter().enumerate() {
        let key = rng.below(u64::from(keys)) as u32;
        let roll = rng.below(100);
        let op = if roll < 40 {
            RegisterOp::Read { output: None }
        } else if roll < 70 {
            RegisterOp::Write { value: rng.below(5) as i64 }
        } else {
            let from = match last_seen.get(&(t.client, key)) {
                Some(&v) if rng.chance(700_000) => v,
                _ => rng.below(5) as i64,
            };
            RegisterOp::Cas { from, to: rng.below(5) as i64, succeeded: None }
        };
        if let RegisterOp::Write { value } = op {
            last_seen.insert((t.client, key), value);
        }
        calls.push(RegisterCall {
            id: i as u64,
            client: u64::from(t.client),
            key: format!("r{key}"),
            op,
            status: if t.return_ns.is_some() { Status::Ok } else { Status::Unknown },
            call_ns: t.call_ns,
            return_ns: t.return_ns,
        });
    }
    let busiest = busiest_key(&calls);
    if plant_violation {
        // The extra client's write, a tenth of the way in, known and quick.
        let at = timings.get(timings.len() / 10).map_or(0, |t| t.call_ns);
        timings.push(Timing {
            client: w.clients,
            call_ns: at,
            point_ns: at + 1,
            return_ns: Some(at + 2),
            takes_effect: true,
        });
        calls.push(RegisterCall {
            id: calls.len() as u64,
            client: u64::from(w.clients),
            key: busiest.clone(),
            op: RegisterOp::Write { value: PLANTED },
            status: Status::Ok,
            call_ns: at,
            return_ns: Some(at + 2),
        });
    }
    let mut values: BTreeMap<&str, Option<i64>> = BTreeMap::new();
    let mut outputs: Vec<(usize, RegisterOp)> = Vec::new();
    for i in by_point(&timings) {
        if !timings[i].takes_effect {
            continue;
        }
        let call = &calls[i];
        let value = values.entry(call.key.as_str()).or_insert(None);
        let op = match call.op {
            RegisterOp::Read { .. } => RegisterOp::Read { output: Some(*value) },
            RegisterOp::Write { value: v } => {
                *value = Some(v);
                call.op
            }
            RegisterOp::Cas { from, to, .. } => {
                let swaps = *value == Some(from);
                if swaps {
                    *value = Some(to);
                }
                RegisterOp::Cas { from, to, succeeded: Some(swaps) }
            }
        };
        outputs.push((i, op));
    }
    for (i, op) in outputs {
        let call = &mut calls[i];
        // An unknown cas's outcome stays unknown; an unknown read saw nothing.
        if call.status == Status::Ok {
            call.op = op;
        }
    }
    if plant_violation {
        plant(&mut calls, &busiest, PLANTED);
    }
    (calls, witness_of(&timings))
}

/// The key with the most calls (the first in key order among equals).
fn busiest_key(calls: &[RegisterCall]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in calls {
        *counts.entry(c.key.as_str()).or_default() += 1;
    }
    counts
        .iter()
        .max_by_key(|&(k, n)| (*n, std::cmp::Reverse(*k)))
        .map_or(String::new(), |(k, _)| k.to_string())
}

/// Makes a completed read of `key` read `planted`, where a completed write (or swap) of the key
/// follows the planted write in real time and precedes the read.
fn plant(calls: &mut [RegisterCall], key: &str, planted: i64) {
    let Some(writer) = calls.iter().find(|c| c.key == key && c.op == RegisterOp::Write { value: planted })
    else {
        return;
    };
    let writer_ret = writer.return_ns.unwrap_or(u64::MAX);
    let overwritten_by = calls
        .iter()
        .filter(|c| c.key == key && c.status == Status::Ok && c.call_ns > writer_ret)
        .filter(|c| matches!(c.op, RegisterOp::Write { .. } | RegisterOp::Cas { succeeded: Some(true), .. }))
        .filter_map(|c| c.return_ns)
        .min();
    let Some(after) = overwritten_by else { return };
    let read = calls.iter_mut().find(|c| {
        c.key == key && c.status == Status::Ok && c.call_ns > after && matches!(c.op, RegisterOp::Read { .. })
    });
    if let Some(read) = read {
        read.op = RegisterOp::Read { output: Some(Some(planted)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_history_and_another_seed_another() {
        let w =
            Workload { seed: 7, clients: 4, calls: 200, unknown_ppm: 200_000, unknown_effect_ns_max: 20_000 };
        assert_eq!(hot_key_kv(&w), hot_key_kv(&w));
        assert_ne!(hot_key_kv(&w), hot_key_kv(&Workload { seed: 8, ..w }));
        assert_eq!(registers(&w, 3, true), registers(&w, 3, true));
    }

    #[test]
    fn the_planted_read_reads_the_planted_value() {
        let w =
            Workload { seed: 1, clients: 4, calls: 400, unknown_ppm: 300_000, unknown_effect_ns_max: 20_000 };
        let calls = registers(&w, 2, true);
        let planted = calls.iter().filter(|c| c.op == RegisterOp::Read { output: Some(Some(99)) }).count();
        assert_eq!(planted, 1);
    }
}
