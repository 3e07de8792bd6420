//! Storage faults in the world: damage to a crashed node's disk (one fault module of `disk/`
//! each), failed fsyncs, the recoverability budget (`disk::atlas`), and what a restart on a
//! damaged disk means for the checks.

use raft_host::Raft;
use rand::Rng;

use super::World;
use crate::config::StorageFault;
use crate::coverage::Point;
use crate::disk::{lost, misdirect, rot, sector, wipe};
use crate::queue::Event;
use crate::rng::{self, between};

impl<R: Raft> World<R> {
    /// After a crash in the fault phase: with the configured probability, and if the budget
    /// allows, the node's disk takes one fault while it is down.
    pub(super) fn maybe_damage_disk(&mut self, n: u8) {
        let Some(k) = &self.config.faults.storage else { return };
        if !self.faults_on || k.damage_ppm == 0 || k.kinds.is_empty() {
            return;
        }
        let r = &mut self.nemesis.storage;
        let fault = k.kinds[r.gen_range(0..k.kinds.len())];
        if !rng::chance(r, k.damage_ppm) {
            return;
        }
        if !self.atlas.allows(n, self.fewest_voters())
            || self.atlas.is_damaged(n) && self.atlas.mode == crate::disk::atlas::Mode::WithinBudget
        {
            self.storage.held_back_by_budget += 1;
            return;
        }
        self.damage_disk(n, fault);
    }

    /// A scenario's `damage-disk`: damages node `n`'s disk if the budget allows (crashing it
    /// first if it is up); a fault the budget forbids is counted as held back.
    pub fn damage_disk_within_budget(&mut self, n: u8, fault: StorageFault) -> bool {
        let within = self.atlas.mode == crate::disk::atlas::Mode::WithinBudget;
        if !self.atlas.allows(n, self.fewest_voters()) || (within && self.atlas.is_damaged(n)) {
            self.storage.held_back_by_budget += 1;
            if self.nodes[n as usize].server().is_some() {
                self.crash(n);
            }
            return false;
        }
        self.damage_disk(n, fault)
    }

    /// Damages node `n`'s disk with `fault` (crashing the node first if it is up, so that its
    /// restart finds the damage). Says whether the fault found something to damage.
    pub fn damage_disk(&mut self, n: u8, fault: StorageFault) -> bool {
        if self.nodes[n as usize].server().is_some() {
            self.crash(n);
        }
        let beyond = self.atlas.mode == crate::disk::atlas::Mode::BeyondBudget;
        let slot = &mut self.nodes[n as usize];
        let r = &mut self.nemesis.storage;
        let what = match fault {
            StorageFault::BitRot => rot::flip(&mut slot.disk, r).map(|hit| match hit {
                rot::Rot::Log { offset } => format!("a bit of the log at byte {offset}"),
                rot::Rot::Snapshot { offset } => format!("a bit of the snapshot file at byte {offset}"),
                rot::Rot::Superblock { copy } => format!("a bit of superblock copy {copy}"),
            }),
            StorageFault::LatentSectorError => sector::fail_sector(&mut slot.disk, r)
                .map(|start| format!("the log sector at byte {start} became unreadable")),
            StorageFault::MisdirectedWrite => misdirect::misdirect_last(&mut slot.disk, r)
                .map(|(meant, landed)| format!("the write meant for byte {meant} landed at byte {landed}")),
            StorageFault::LostWrite => lost::lose_last(&mut slot.disk)
                .map(|at| format!("the acknowledged write at byte {at} was lost")),
            StorageFault::Wipe => {
                wipe::wipe(&mut slot.disk, beyond);
                Some(if beyond {
                    "the whole disk, superblock too".into()
                } else {
                    "the log and snapshot".into()
                })
            }
        };
        let Some(what) = what else { return false };
        self.trace.mix(&[self.now, 19, u64::from(n), fault as u64]);
        if self.trace.detailed() {
            self.trace.line(
                self.now,
                "disk_fault",
                format_args!("\"node\":{n},\"fault\":\"{}\",\"what\":\"{what}\"", fault.name()),
            );
        }
        self.atlas.damage(n, fault, what);
        self.storage.damaged_at_once_max =
            self.storage.damaged_at_once_max.max(self.atlas.damaged_now() as u64);
        self.sometimes(Point::DiskDamaged);
        true
    }

    /// Whether the fsync completing now fails (then the host stops the node: see `disk::fsync`).
    pub(super) fn fsync_fails(&mut self) -> bool {
        let Some(k) = &self.config.faults.storage else { return false };
        self.faults_on && crate::disk::fsync::fails(&mut self.nemesis.storage, k.fsync_failure_ppm)
    }

    /// An fsync of node `n` failed: the host stops the node and restarts it later from its disk.
    pub(super) fn on_fsync_failure(&mut self, n: u8) {
        self.storage.fsync_failures += 1;
        self.sometimes(Point::FsyncFailed);
        self.trace.mix(&[self.now, 20, u64::from(n)]);
        if self.trace.detailed() {
            self.trace.line(self.now, "fsync_failed", format_args!("\"node\":{n}"));
        }
        // The crash and the restart are not recorded as faults: an exported run draws the
        // failure again from the same stream, and they follow from it.
        let recorded = self.realized.as_ref().map(Vec::len);
        self.crash(n);
        if let (Some(list), Some(len)) = (&mut self.realized, recorded) {
            list.truncate(len);
        }
        self.restart_after_fsync_failure[n as usize] = true;
        // Down for 10 ms to two election timeouts (from the cluster's timing alone, so that an
        // exported run, whose random crash family is off, draws the same).
        let c = &self.config.cluster;
        let (lo, hi) = (10_000_000, 2 * u64::from(c.election_ticks_max) * c.tick_ns);
        let down = between(&mut self.nemesis.storage, lo, hi.max(lo));
        let epoch = self.nodes[n as usize].epoch;
        self.queue.push(self.now + down, Event::Restart { node: n, epoch });
    }

    /// After a write of node `n` became durable: once its superblock holds no fence, a node the
    /// world damaged is repaired (a lifted fence that a crash loses does not count).
    pub(super) fn note_durable_fence(&mut self, n: u8) {
        let restarted = self.nodes[n as usize].server().is_some();
        if restarted
            && self.atlas.is_damaged(n)
            && self.nodes[n as usize].disk.durable_fence() == raft_host::storage::Fence::None
        {
            self.atlas.repaired(n);
            self.storage.fences_lifted += 1;
            self.sometimes(Point::FenceLifted);
        }
    }

    /// The storage figures of the run: the fault modules' counters of every disk, and the
    /// world's own.
    #[must_use]
    pub fn storage_stats(&self) -> crate::disk::atlas::StorageStats {
        let mut s = self.storage.clone();
        for slot in &self.nodes {
            let d = &slot.disk.stats;
            s.bit_rot += d.bit_rot;
            s.latent_sector_errors += d.latent_sector_errors;
            s.misdirected_writes += d.misdirected_writes;
            s.lost_writes += d.lost_writes;
            s.wipes += d.wipes;
            s.superblocks_wiped += d.superblocks_wiped;
        }
        s
    }
}
