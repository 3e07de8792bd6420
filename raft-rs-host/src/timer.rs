//! raft-rs's election timeout, drawn from the seed instead of `thread_rng`.
//!
//! raft-rs draws a new randomized election timeout in `[min_election_tick, max_election_tick)`
//! from `rand::thread_rng()` every time it resets (in `become_follower`, `become_candidate` and
//! `become_leader`), and reads it only when a tick asks whether the timeout passed. The adapter
//! lets raft-rs draw and then, before the next tick can read it, overwrites the draw with one of
//! its own from a ChaCha stream seeded by [`raft_host::Setup::seed`], through raft-rs's
//! `set_randomized_election_timeout` (public, if meant for tests). So the timing is raft-rs's
//! (a fresh timeout on each reset, within the configured range) and the values are the seed's.
//!
//! A reset is recognised after each call into raft-rs by what every reset changes: the term
//! moved, or the role became follower, candidate or leader from another role (raft-rs 0.7
//! resets on no other path; becoming a pre-candidate does not reset). Then the timer draws the
//! next value of its stream. Whatever raft-rs did, after every call its timeout is set back to
//! the timer's current value: so even a reset the timer did not recognise leaves no
//! `thread_rng` value in place (it keeps the previous value instead of a fresh one), and the
//! stream advances only on those signals, which are the same on every run. Determinism rests
//! on nothing else.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use raft::{Raft, StateRole, Storage};

pub struct ElectionTimer {
    rng: ChaCha8Rng,
    min: usize,
    max: usize,
    /// The term and role after the last call, and the timeout last set.
    seen: Option<(u64, StateRole)>,
    set: usize,
}

impl ElectionTimer {
    /// Timeouts in `[min, max)` ticks, drawn from `seed`.
    pub fn new(seed: u64, min: usize, max: usize) -> ElectionTimer {
        assert!(min < max, "an empty range of election timeouts [{min}, {max})");
        ElectionTimer { rng: ChaCha8Rng::seed_from_u64(seed), min, max, seen: None, set: 0 }
    }

    /// After any call into raft-rs: draws a fresh timeout if it reset its timer, and puts the
    /// timer's value in place of whatever raft-rs drew.
    pub fn after<S: Storage>(&mut self, raft: &mut Raft<S>) {
        let now = (raft.term, raft.state);
        let reset = match self.seen {
            None => true,
            Some((term, role)) => term != now.0 || (role != now.1 && now.1 != StateRole::PreCandidate),
        };
        self.seen = Some(now);
        if reset {
            self.set = self.rng.gen_range(self.min..self.max);
        }
        if raft.randomized_election_timeout() != self.set {
            raft.set_randomized_election_timeout(self.set);
        }
    }
}
