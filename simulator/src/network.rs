//! The network between servers and clients.
//!
//! Fault model (what is injected, and what the cluster must survive):
//! - every message may be dropped, duplicated, or delayed; delays are uniform within a short
//!   window plus, with a configured probability, a long-tail hold of up to seconds, so messages
//!   are reordered freely, also across elections;
//! - links between servers can be cut in one or both directions (partitions); a cut link drops
//!   what is sent over it and what was already on its way when it arrives;
//! - client links are never cut (clients sit outside the cluster's network), but they lose,
//!   duplicate and delay messages like any other link;
//! - messages are never corrupted or forged: Raft assumes non-Byzantine failures;
//! - the network holds at most [`PACKETS_IN_FLIGHT_MAX`] messages at once, as a real one has
//!   finite queues: what is sent beyond that is dropped ("overflow"). A healthy cluster never
//!   comes near it; a message storm (a buggy retry loop) does, and the cap keeps the run's
//!   memory bounded until the event budget ends it.
//!
//! Safety must hold under any mix of the above. Liveness is only required after the network
//! heals and turns reliable.
//!
//! Every message handed to the network gets an id, the next number of a per-run counter; a
//! duplicate gets the number after and remembers which id it copies. Traces carry the ids so
//! that a delivery, a hold or a drop can be matched to its send (the messages page draws one
//! arrow per message from them). Ids follow from the order of sends, which the trace hash
//! already covers, so they are not hashed themselves.

use raft_host::Raft;
use raft_kv::{ClientReply, ClientRequest};
use rand::Rng;

use crate::config::{NetworkConfig, NODES_MAX};
use crate::queue::{Event, EventQueue, Slab};
use crate::rng::{between, chance, Stream};

/// The most messages the network holds at once (see the fault model above). At a few hundred
/// bytes each, a full network takes well under the 1 GiB a run may use.
pub const PACKETS_IN_FLIGHT_MAX: usize = 200_000;

/// An endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Addr {
    Node(u8),
    Client(u16),
}

/// What a packet carries: a message of the Raft implementation (`M`), or a client's call or
/// its answer.
#[derive(Clone, Debug)]
pub enum Payload<M> {
    Raft(M),
    Request(ClientRequest),
    Reply(ClientReply),
}

/// The ids of a message in flight: its own, and for a duplicate the id of the message it copies.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MsgIds {
    pub id: u64,
    pub copy_of: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Packet<M> {
    pub from: Addr,
    pub to: Addr,
    pub payload: Payload<M>,
}

impl<M> Payload<M> {
    /// An answer to a request: a vote, an append acknowledgement, or a reply to a client.
    #[must_use]
    pub fn is_reply<R: Raft<Message = M>>(&self) -> bool {
        match self {
            Payload::Raft(m) => R::inspect(m).kind.is_reply(),
            Payload::Request(_) => false,
            Payload::Reply(_) => true,
        }
    }
}

impl<M> Packet<M> {
    #[must_use]
    pub fn size_bytes<R: Raft<Message = M>>(&self) -> usize {
        match &self.payload {
            Payload::Raft(m) => R::inspect(m).bytes,
            Payload::Request(r) => 32 + r.op.key().len(),
            Payload::Reply(_) => 32,
        }
    }
}

/// Why a message did not arrive.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The network's random loss.
    Loss,
    /// The link was cut by a partition.
    Partition,
    /// The destination was down when the message arrived.
    Down,
    /// The network already held as many messages as it can.
    Overflow,
}

impl DropReason {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::Down => "down",
            DropReason::Overflow => "overflow",
        }
    }
}

/// What became of a message handed to the network.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Dropped(DropReason),
    /// Scheduled for delivery at `at`; `copy_at` when the network duplicated it; `long` when the
    /// first copy was held back by the long tail.
    Scheduled {
        at: u64,
        copy_at: Option<u64>,
        long: bool,
    },
}

/// Counters of what the network did, for the run's summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetworkStats {
    pub sent: u64,
    pub bytes: u64,
    /// Of those, messages between servers (Raft RPCs and their answers) and their bytes.
    pub raft_sent: u64,
    pub raft_bytes: u64,
    pub delivered: u64,
    pub dropped_loss: u64,
    pub dropped_partition: u64,
    pub dropped_down: u64,
    #[serde(default)]
    pub dropped_overflow: u64,
    pub duplicated: u64,
    pub delayed_long: u64,
}

/// A set of cut directed links between servers: `blocked[from]` has bit `to` set.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Cuts {
    pub blocked: [u32; NODES_MAX],
}

impl Cuts {
    #[must_use]
    pub fn none() -> Cuts {
        Cuts::default()
    }

    pub fn cut(&mut self, from: usize, to: usize) {
        self.blocked[from] |= 1 << to;
    }

    /// Cuts every link between the two groups, both ways.
    pub fn separate(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.cut(x, y);
                self.cut(y, x);
            }
        }
    }

    #[must_use]
    pub fn is_cut(&self, from: usize, to: usize) -> bool {
        self.blocked[from] & (1 << to) != 0
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.blocked.iter().all(|b| *b == 0)
    }

    /// The cut links as `from->to` pairs, for traces and timelines.
    #[must_use]
    pub fn links(&self, nodes: usize) -> Vec<(usize, usize)> {
        let mut links = Vec::new();
        for from in 0..nodes {
            for to in 0..nodes {
                if self.is_cut(from, to) {
                    links.push((from, to));
                }
            }
        }
        links
    }
}

/// The simulated network.
pub struct Network<R: Raft> {
    pub config: NetworkConfig,
    rng: Stream,
    cuts: Cuts,
    packets: Slab<(Packet<R::Message>, MsgIds)>,
    pub stats: NetworkStats,
    /// The id the next message gets.
    next_id: u64,
    /// The ids the last `send` gave: the message's, and its duplicate's if there was one.
    last_sent: (u64, Option<u64>),
}

/// Written out because a derive would ask `R: Clone`; only its messages need to be.
impl<R: Raft> Clone for Network<R> {
    fn clone(&self) -> Self {
        Network {
            config: self.config.clone(),
            rng: self.rng.clone(),
            cuts: self.cuts,
            packets: self.packets.clone(),
            stats: self.stats.clone(),
            next_id: self.next_id,
            last_sent: self.last_sent,
        }
    }
}

impl<R: Raft> Network<R> {
    #[must_use]
    pub fn new(config: NetworkConfig, rng: Stream) -> Network<R> {
        Network {
            config,
            rng,
            cuts: Cuts::none(),
            packets: Slab::default(),
            stats: NetworkStats::default(),
            next_id: 0,
            last_sent: (0, None),
        }
    }

    /// Draws from `rng` from now on (a branch of the run forks here).
    pub fn reseed(&mut self, rng: Stream) {
        self.rng = rng;
    }

    /// Hands a packet to the network, which decides its fate and schedules its arrival.
    pub fn send(&mut self, now: u64, packet: Packet<R::Message>, queue: &mut EventQueue) -> Sent {
        let size = packet.size_bytes::<R>() as u64;
        let id = self.take_id();
        self.last_sent = (id, None);
        self.stats.sent += 1;
        self.stats.bytes += size;
        if matches!(packet.payload, Payload::Raft(_)) {
            self.stats.raft_sent += 1;
            self.stats.raft_bytes += size;
        }
        if self.link_cut(packet.from, packet.to) {
            self.stats.dropped_partition += 1;
            return Sent::Dropped(DropReason::Partition);
        }
        if self.packets.live() >= PACKETS_IN_FLIGHT_MAX {
            self.stats.dropped_overflow += 1;
            return Sent::Dropped(DropReason::Overflow);
        }
        if chance(&mut self.rng, self.config.drop_ppm) {
            self.stats.dropped_loss += 1;
            return Sent::Dropped(DropReason::Loss);
        }
        let is_reply = packet.payload.is_reply::<R>();
        let (at, long) = self.arrival(now, is_reply);
        let copy_at = if chance(&mut self.rng, self.config.duplicate_ppm) {
            self.stats.duplicated += 1;
            let (copy_at, _) = self.arrival(now, is_reply);
            let copy_id = self.take_id();
            self.last_sent.1 = Some(copy_id);
            let slot = self.packets.insert((packet.clone(), MsgIds { id: copy_id, copy_of: Some(id) }));
            queue.push(copy_at, Event::Deliver { packet: slot });
            Some(copy_at)
        } else {
            None
        };
        let slot = self.packets.insert((packet, MsgIds { id, copy_of: None }));
        queue.push(at, Event::Deliver { packet: slot });
        Sent::Scheduled { at, copy_at, long }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The ids the last [`Network::send`] gave: the message's, and its duplicate's if any.
    #[must_use]
    pub fn last_sent_ids(&self) -> (u64, Option<u64>) {
        self.last_sent
    }

    /// The ids of the message in a slot, for tracing its arrival before it is taken.
    #[must_use]
    pub fn ids(&self, slot: u32) -> Option<MsgIds> {
        self.packets.get(slot).map(|(_, ids)| *ids)
    }

    fn arrival(&mut self, now: u64, is_reply: bool) -> (u64, bool) {
        let mut delay = between(&mut self.rng, self.config.delay_ns_min, self.config.delay_ns_max);
        let eligible = is_reply || !self.config.long_delay_replies_only;
        let long = eligible && chance(&mut self.rng, self.config.long_delay_ppm);
        if long {
            self.stats.delayed_long += 1;
            delay += self.rng.gen_range(self.config.long_delay_ns_min..=self.config.long_delay_ns_max);
        }
        (now + delay, long)
    }

    /// Takes an arriving packet out of the network. `Err` when a cut on its link drops it on
    /// arrival: a partition also loses what was already on the wire.
    #[allow(clippy::type_complexity)]
    pub fn arrive(&mut self, slot: u32) -> Result<Packet<R::Message>, (Packet<R::Message>, DropReason)> {
        let (packet, _) = self.packets.remove(slot);
        if self.link_cut(packet.from, packet.to) {
            self.stats.dropped_partition += 1;
            return Err((packet, DropReason::Partition));
        }
        Ok(packet)
    }

    /// Records a packet that arrived at a node that was down.
    pub fn count_down_drop(&mut self) {
        self.stats.dropped_down += 1;
    }

    pub fn count_delivered(&mut self) {
        self.stats.delivered += 1;
    }

    #[must_use]
    pub fn link_cut(&self, from: Addr, to: Addr) -> bool {
        match (from, to) {
            (Addr::Node(a), Addr::Node(b)) => self.cuts.is_cut(a as usize, b as usize),
            _ => false,
        }
    }

    pub fn set_cuts(&mut self, cuts: Cuts) {
        self.cuts = cuts;
    }

    #[must_use]
    pub fn cuts(&self) -> &Cuts {
        &self.cuts
    }

    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.packets.live()
    }

    /// The packet in a slot, for tracing a delivery before it is taken.
    #[must_use]
    pub fn peek(&self, slot: u32) -> Option<&Packet<R::Message>> {
        self.packets.get(slot).map(|(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use raft_core::{Body, Message, NodeId, RaftNode, Term};

    type Network = super::Network<RaftNode>;

    fn packet(from: u8, to: u8) -> Packet<Message> {
        let m = Message {
            from: NodeId(u32::from(from)),
            to: NodeId(u32::from(to)),
            term: Term(1),
            body: Body::RequestVoteResponse { granted: true },
        };
        Packet { from: Addr::Node(from), to: Addr::Node(to), payload: Payload::Raft(m) }
    }

    #[test]
    fn a_cut_link_drops_in_its_direction_only() {
        let mut net = Network::new(SimConfig::calm(1).network, crate::rng::stream(1, "network"));
        let mut q = EventQueue::new();
        let mut cuts = Cuts::none();
        cuts.cut(0, 1);
        net.set_cuts(cuts);
        assert_eq!(net.send(0, packet(0, 1), &mut q), Sent::Dropped(DropReason::Partition));
        assert!(matches!(net.send(0, packet(1, 0), &mut q), Sent::Scheduled { .. }));
        assert!(!net.link_cut(Addr::Client(0), Addr::Node(1)));
    }

    #[test]
    fn a_full_network_drops_what_is_sent_until_something_arrives() {
        let mut config = SimConfig::calm(1).network;
        config.duplicate_ppm = 0;
        let mut net = Network::new(config, crate::rng::stream(1, "network"));
        let mut q = EventQueue::new();
        for _ in 0..PACKETS_IN_FLIGHT_MAX {
            assert!(matches!(net.send(0, packet(0, 1), &mut q), Sent::Scheduled { .. }));
        }
        assert_eq!(net.send(0, packet(0, 1), &mut q), Sent::Dropped(DropReason::Overflow));
        assert_eq!(net.stats.dropped_overflow, 1);
        let Some((_, Event::Deliver { packet: slot })) = q.pop_until(u64::MAX) else { panic!("no delivery") };
        assert!(net.arrive(slot).is_ok());
        assert!(matches!(net.send(0, packet(0, 1), &mut q), Sent::Scheduled { .. }), "room again");
    }

    #[test]
    fn a_partition_also_drops_what_was_already_on_the_wire() {
        let mut net = Network::new(SimConfig::calm(1).network, crate::rng::stream(1, "network"));
        let mut q = EventQueue::new();
        net.send(0, packet(0, 1), &mut q);
        let mut cuts = Cuts::none();
        cuts.separate(&[0], &[1]);
        net.set_cuts(cuts);
        let Some((_, Event::Deliver { packet: slot })) = q.pop_until(u64::MAX) else { panic!("no delivery") };
        assert!(matches!(net.arrive(slot), Err((_, DropReason::Partition))));
    }

    #[test]
    fn loss_and_duplication_happen_at_about_their_configured_rates() {
        let mut config = SimConfig::calm(1).network;
        config.drop_ppm = 100_000;
        config.duplicate_ppm = 50_000;
        let mut net = Network::new(config, crate::rng::stream(3, "network"));
        let mut q = EventQueue::new();
        for _ in 0..10_000 {
            net.send(0, packet(0, 1), &mut q);
        }
        let s = &net.stats;
        assert!((800..1200).contains(&s.dropped_loss), "{} dropped", s.dropped_loss);
        assert!((350..550).contains(&s.duplicated), "{} duplicated", s.duplicated);
        assert_eq!(q.len() as u64, 10_000 - s.dropped_loss + s.duplicated);
    }

    #[test]
    fn every_message_gets_its_own_id_and_a_duplicate_names_the_one_it_copies() {
        let mut config = SimConfig::calm(1).network;
        config.duplicate_ppm = 1_000_000;
        let mut net = Network::new(config, crate::rng::stream(3, "network"));
        let mut q = EventQueue::new();
        net.send(0, packet(0, 1), &mut q);
        assert_eq!(net.last_sent_ids(), (0, Some(1)));
        net.send(0, packet(1, 0), &mut q);
        assert_eq!(net.last_sent_ids(), (2, Some(3)));
        let mut seen = Vec::new();
        while let Some((_, Event::Deliver { packet: slot })) = q.pop_until(u64::MAX) {
            seen.push(net.ids(slot).expect("a packet in flight has ids"));
            let _ = net.arrive(slot);
        }
        seen.sort_by_key(|i| i.id);
        assert_eq!(
            seen,
            vec![
                MsgIds { id: 0, copy_of: None },
                MsgIds { id: 1, copy_of: Some(0) },
                MsgIds { id: 2, copy_of: None },
                MsgIds { id: 3, copy_of: Some(2) },
            ]
        );
    }
}
