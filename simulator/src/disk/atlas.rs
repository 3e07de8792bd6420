//! The recoverability budget (after TigerBeetle's fault atlas): the storage faults never
//! damage more than the protocol can survive, so that every failure the harness reports within
//! the budget is a real bug.
//!
//! What raft-core's recovery rules survive (see its `recovery` module): a node whose disk lost
//! log entries or a snapshot keeps its term and vote (the superblock's copies) and is fenced
//! (no vote, no campaign) until a leader of a later term repairs it. That is safe while the
//! fenced nodes are a minority: every election still needs a majority of unfenced voters, and
//! every committed entry is held by one of them. So, within the budget:
//! - a node's disk is damaged only while, counting it, at most `(v - 1) / 2` nodes are damaged
//!   and not yet repaired (a damaged node counts from the damage until it writes its fence down),
//!   with `v` the fewest voters of any configuration a running node holds (all `n` nodes while
//!   the membership never changed); the membership operations keep to the same bound, removing
//!   no voter while that would leave the damaged nodes too many for the smaller configuration;
//! - at most one fault hits a disk per crash, and it never destroys every superblock copy (bit
//!   rot takes one copy, recovery rewrites them all; a wipe spares the superblock).
//!
//! Beyond the budget (`--storage-faults beyond-budget`) any number of nodes may be damaged at
//! once and a wipe takes the superblock too. Such runs may lose acknowledged data by design: a
//! failing one is reported as "unrecoverable by design", with what was destroyed.

use serde::{Deserialize, Serialize};

use crate::config::StorageFault;

/// Whether faults respect the budget.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    WithinBudget,
    BeyondBudget,
}

/// The budget's bookkeeping, one entry per node.
#[derive(Clone, Debug, Default)]
pub struct Atlas {
    pub mode: Mode,
    /// Damaged and not yet repaired (or not yet restarted to find out).
    damaged: Vec<bool>,
    /// What the faults destroyed, in order (for the beyond-budget report).
    pub destroyed: Vec<String>,
}

impl Atlas {
    #[must_use]
    pub fn new(nodes: usize, mode: Mode) -> Atlas {
        Atlas { mode, damaged: vec![false; nodes], destroyed: Vec::new() }
    }

    /// Whether node `n`'s disk may take a fault now, with `voters` the fewest voters of any
    /// configuration that may decide (all the nodes while the membership never changed).
    #[must_use]
    pub fn allows(&self, n: u8, voters: usize) -> bool {
        let tolerated = (voters.min(self.damaged.len()).saturating_sub(1)) / 2;
        let others = self.damaged.iter().enumerate().filter(|(m, d)| **d && *m != usize::from(n)).count();
        self.mode == Mode::BeyondBudget || others < tolerated
    }

    /// Whether the world damaged node `n`'s disk since it was last repaired.
    #[must_use]
    pub fn is_damaged(&self, n: u8) -> bool {
        self.damaged.get(usize::from(n)).copied().unwrap_or(false)
    }

    pub fn damage(&mut self, n: u8, fault: StorageFault, what: String) {
        self.damaged[usize::from(n)] = true;
        self.destroyed.push(format!("n{n} {}: {what}", fault.name()));
    }

    /// Node `n` is whole again: repaired by a leader, or its restart found nothing lost.
    pub fn repaired(&mut self, n: u8) {
        self.damaged[usize::from(n)] = false;
    }

    /// How many nodes are damaged now.
    #[must_use]
    pub fn damaged_now(&self) -> usize {
        self.damaged.iter().filter(|d| **d).count()
    }
}

/// What the storage faults did in a run, and what recovery did about them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStats {
    pub bit_rot: u64,
    pub latent_sector_errors: u64,
    pub misdirected_writes: u64,
    pub lost_writes: u64,
    pub wipes: u64,
    /// Wipes that took the superblock too (beyond the budget only).
    pub superblocks_wiped: u64,
    pub fsync_failures: u64,
    /// Faults the budget held back (their node, or too many others, were damaged).
    pub held_back_by_budget: u64,
    /// Restarts whose recovery found damage and fenced the node.
    pub damaged_restarts: u64,
    /// Log entries those restarts could not keep.
    pub entries_dropped: u64,
    /// Superblock copies found damaged (and outvoted by the others).
    pub superblock_copies_bad: u64,
    /// Restarts that found no superblock copy (term and vote lost).
    pub superblocks_lost: u64,
    /// Fences lifted by a leader's repair.
    pub fences_lifted: u64,
    /// The most nodes damaged at once.
    pub damaged_at_once_max: u64,
}

impl StorageStats {
    /// Adds another run's figures (the most damaged at once is a maximum).
    pub fn add(&mut self, o: &StorageStats) {
        self.bit_rot += o.bit_rot;
        self.latent_sector_errors += o.latent_sector_errors;
        self.misdirected_writes += o.misdirected_writes;
        self.lost_writes += o.lost_writes;
        self.wipes += o.wipes;
        self.superblocks_wiped += o.superblocks_wiped;
        self.fsync_failures += o.fsync_failures;
        self.held_back_by_budget += o.held_back_by_budget;
        self.damaged_restarts += o.damaged_restarts;
        self.entries_dropped += o.entries_dropped;
        self.superblock_copies_bad += o.superblock_copies_bad;
        self.superblocks_lost += o.superblocks_lost;
        self.fences_lifted += o.fences_lifted;
        self.damaged_at_once_max = self.damaged_at_once_max.max(o.damaged_at_once_max);
    }

    /// One line for a summary.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!(
            "storage: {} bit rot, {} latent sector errors, {} misdirected writes, {} lost writes, {} wipes ({} with the superblock), {} fsync failures, {} held back by the budget; recovery: {} damaged restarts fenced, {} entries dropped and repaired from peers, {} superblock copies outvoted, {} superblocks lost, {} fences lifted, at most {} nodes damaged at once",
            self.bit_rot,
            self.latent_sector_errors,
            self.misdirected_writes,
            self.lost_writes,
            self.wipes,
            self.superblocks_wiped,
            self.fsync_failures,
            self.held_back_by_budget,
            self.damaged_restarts,
            self.entries_dropped,
            self.superblock_copies_bad,
            self.superblocks_lost,
            self.fences_lifted,
            self.damaged_at_once_max
        )
    }

    /// Faults injected, of every kind.
    #[must_use]
    pub fn injected(&self) -> u64 {
        self.bit_rot + self.latent_sector_errors + self.misdirected_writes + self.lost_writes + self.wipes
    }
}
