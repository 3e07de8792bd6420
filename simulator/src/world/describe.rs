//! A world described in words: every node's process, role, term, vote, indexes, log, store and
//! disk, and the network's cuts, for `raftsim replay --until` and for reading a stopped run.

use std::fmt::Write as _;

use raft_host::{wal, DurableState, LogIndex, Raft, Term};

use super::{Process, World};

/// Every node's process, role, term, vote, indexes, log and disk, one block per node.
impl<R: Raft> World<R> {
    /// Every node's process, role, term, vote, indexes, log, store and disk, one block a node,
    /// then the network.
    #[must_use]
    pub fn describe(&self) -> String {
        describe(self)
    }
}

fn describe<R: Raft>(world: &World<R>) -> String {
    let mut s = String::new();
    for (n, slot) in world.nodes.iter().enumerate() {
        let process = match slot.process {
            Process::Up(_) => "up",
            Process::Paused(_) => "paused",
            Process::Down => "down",
        };
        let _ = write!(s, "n{n} [{process}, incarnation {}]", slot.incarnation);
        if let Some(server) = slot.server() {
            let r = server.node();
            let v = r.view();
            let _ = write!(
                s,
                " {:?} {} vote {} leader {} commit {} applied {} durable {} last {}",
                v.role,
                v.term,
                v.vote.map_or("-".into(), |v| v.to_string()),
                v.leader.map_or("-".into(), |v| v.to_string()),
                v.commit,
                v.applied,
                v.durable.map_or("-".into(), |d| d.to_string()),
                v.last_index
            );
            let first = v.first_index();
            let terms: Vec<Term> =
                (first.0..=v.last_index.0).filter_map(|i| r.term_at(LogIndex(i))).collect();
            if let Some(meta) = v.snapshot {
                let _ = write!(s, "\n    snapshot through {meta}");
            }
            let _ = write!(s, "\n    log terms: {}", runs(first, &terms));
            let _ = write!(
                s,
                "\n    store: {} keys, digest {:016x}",
                server.store().data().len(),
                server.store().digest()
            );
        }
        let disk = &slot.disk;
        let _ = write!(
            s,
            "\n    disk: {} durable bytes, {} writes in flight",
            disk.durable_bytes(),
            disk.writes_in_flight()
        );
        let snapshot = disk.snapshot_file().and_then(|f| wal::decode_snapshot(f).ok());
        let base = DurableState { snapshot, ..DurableState::default() };
        match wal::recover_from(base, 0, disk.durable()) {
            Ok(rec) => {
                let terms: Vec<Term> = rec.state.entries.iter().map(|e| e.term).collect();
                let _ = write!(
                    s,
                    ", holds term {} vote {}, snapshot through {} and {} entries ({})",
                    rec.state.term,
                    rec.state.vote.map_or("-".into(), |v| v.to_string()),
                    rec.state.snapshot_index(),
                    rec.state.entries.len(),
                    runs(rec.state.compacted_through.next(), &terms)
                );
            }
            Err(e) => {
                let _ = write!(s, ", unreadable: {e}");
            }
        }
        s.push('\n');
    }
    let links = world.network.cuts().links(world.nodes.len());
    let _ = write!(
        s,
        "network: {} cut links{}; {} messages in flight",
        links.len(),
        if links.is_empty() {
            String::new()
        } else {
            format!(" ({})", links.iter().map(|(a, b)| format!("{a}>{b}")).collect::<Vec<_>>().join(" "))
        },
        world.network.in_flight()
    );
    s
}

/// A log's terms as runs, its first entry at `first`: `i1-i4 t1, i5-i9 t3`.
fn runs(first: LogIndex, terms: &[Term]) -> String {
    if terms.is_empty() {
        return "empty".into();
    }
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..=terms.len() {
        if i == terms.len() || terms[i] != terms[start] {
            let (a, b) = (first.plus(start as u64), first.plus(i as u64 - 1));
            parts.push(if a == b {
                format!("{a} {}", terms[start])
            } else {
                format!("{a}-{b} {}", terms[start])
            });
            start = i;
        }
    }
    parts.join(", ")
}
