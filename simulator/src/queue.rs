//! The event queue: one ordering of everything that happens, by (time, insertion sequence).
//!
//! Ties in time are broken by the order in which events were scheduled, never by addresses or
//! hash order, so the same inputs give the same order on every machine.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Something scheduled to happen. Kept small (message bodies live in the network's slab) so
/// that heap operations move little memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// One tick of a node's clock. `epoch` goes stale when the node crashes or pauses.
    Tick {
        node: u8,
        epoch: u32,
    },
    /// A packet arrives at its destination.
    Deliver {
        packet: u32,
    },
    /// The oldest write in flight on a node's disk becomes durable.
    FsyncDone {
        node: u8,
        epoch: u32,
    },
    /// A client's timer: time to issue an operation, or to give up waiting for an answer.
    ClientTimer {
        client: u16,
        token: u32,
    },
    /// A fault family's next move.
    Nemesis {
        family: Family,
        /// The partition family re-arms itself when it reacts to an election; older timers
        /// carry an older token and are ignored.
        token: u32,
    },
    /// A node crashes, if it is still in the incarnation `epoch` names.
    Crash {
        node: u8,
        epoch: u32,
    },
    /// A crashed node restarts; a paused node resumes.
    Restart {
        node: u8,
        epoch: u32,
    },
    Resume {
        node: u8,
        epoch: u32,
    },
    /// The next step of a scenario's fault schedule.
    ScheduleStep {
        step: u32,
    },
    /// The end of the fault phase.
    FaultPhaseEnd,
}

/// Sequence numbers stay far below this bit, which orders `push_late` events last in their time.
const LATE: u64 = 1 << 63;

/// The fault families of the random schedule, each with its own random stream.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Family {
    Partition,
    Crash,
    Pause,
    /// Membership changes and leadership transfers.
    Membership,
}

#[derive(Clone, Debug)]
struct Scheduled {
    /// `time << 64 | seq`: one comparison orders by time, then by insertion.
    key: u128,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so that the standard max-heap pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// A min-queue of events by (time, sequence).
#[derive(Clone, Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Scheduled>,
    next_seq: u64,
}

impl EventQueue {
    #[must_use]
    pub fn new() -> EventQueue {
        EventQueue { heap: BinaryHeap::with_capacity(1024), next_seq: 0 }
    }

    pub fn push(&mut self, time: u64, event: Event) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Scheduled { key: (u128::from(time) << 64) | u128::from(seq), event });
    }

    /// Like `push`, but after every event of the same time that `push` schedules: for a fault
    /// that happened in reaction to another event of that time (a replay puts it back there).
    pub fn push_late(&mut self, time: u64, event: Event) {
        let seq = self.next_seq | LATE;
        self.next_seq += 1;
        self.heap.push(Scheduled { key: (u128::from(time) << 64) | u128::from(seq), event });
    }

    /// The earliest event, if it is due at or before `until`.
    pub fn pop_until(&mut self, until: u64) -> Option<(u64, Event)> {
        if (self.heap.peek()?.key >> 64) as u64 > until {
            return None;
        }
        self.heap.pop().map(|s| ((s.key >> 64) as u64, s.event))
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// A vector with reusable slots, for packets in flight.
#[derive(Clone, Debug)]
pub struct Slab<T> {
    items: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { items: Vec::new(), free: Vec::new() }
    }
}

impl<T> Slab<T> {
    pub fn insert(&mut self, item: T) -> u32 {
        if let Some(slot) = self.free.pop() {
            self.items[slot as usize] = Some(item);
            slot
        } else {
            self.items.push(Some(item));
            (self.items.len() - 1) as u32
        }
    }

    /// Takes the item out of its slot.
    ///
    /// # Panics
    /// If the slot is empty: every scheduled delivery owns exactly one packet.
    pub fn remove(&mut self, slot: u32) -> T {
        let item = self.items[slot as usize].take().unwrap_or_else(|| panic!("packet slot {slot} is empty"));
        self.free.push(slot);
        item
    }

    #[must_use]
    pub fn get(&self, slot: u32) -> Option<&T> {
        self.items.get(slot as usize).and_then(Option::as_ref)
    }

    #[must_use]
    pub fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_in_time_order_and_ties_in_insertion_order() {
        let mut q = EventQueue::new();
        q.push(5, Event::Deliver { packet: 1 });
        q.push(3, Event::Deliver { packet: 2 });
        q.push(5, Event::Deliver { packet: 3 });
        q.push(3, Event::Deliver { packet: 4 });
        let order: Vec<u32> = std::iter::from_fn(|| q.pop_until(u64::MAX))
            .map(|(_, e)| match e {
                Event::Deliver { packet } => packet,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, vec![2, 4, 1, 3]);
    }

    #[test]
    fn pop_until_leaves_later_events_queued() {
        let mut q = EventQueue::new();
        q.push(10, Event::FaultPhaseEnd);
        assert_eq!(q.pop_until(9), None);
        assert_eq!(q.pop_until(10), Some((10, Event::FaultPhaseEnd)));
        assert!(q.is_empty());
    }

    #[test]
    fn slab_slots_are_reused_after_removal() {
        let mut s = Slab::default();
        let a = s.insert("a");
        let b = s.insert("b");
        assert_eq!(s.remove(a), "a");
        let c = s.insert("c");
        assert_eq!(c, a);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.live(), 2);
    }
}
