//! Stories more than one test file tells, with and without planted bugs.

use raft_core::{BugSet, Role};

use super::*;

/// Figure 8, by hand. n0 led term 2 and wrote entry 2 only to itself; n2 led term 3 and wrote a
/// different entry 2 only to itself. n0 now wins term 4 with n1's vote, and with one entry per
/// AppendEntries it copies its old entry 2 to n1 before its own no-op of term 4. The story stops
/// when n1 has acknowledged entry 2: a majority holds an entry of term 2.
pub fn figure_8(bugs: BugSet) -> Nodes {
    let mut cluster: Nodes = cluster(3)
        .bugs(bugs)
        .tolerate_violations()
        .configure(|c| c.append_entries_max = 1)
        .disk(0, durable(3, None, &[1, 2]))
        .disk(1, durable(3, None, &[1]))
        .disk(2, durable(3, None, &[1, 3]))
        .build();
    cluster.campaign(0);
    cluster.deliver_until(|c| c.node(0).role() == Role::Leader);
    cluster.partition(&[&[0, 1], &[2]]);
    cluster.deliver_until(|c| {
        c.delivered.last().is_some_and(|m| m.to_string() == "n1->n0 t4 append_resp ok match=i2")
    });
    assert_eq!(cluster.log_terms(0), vec![1, 2, 4]);
    assert_eq!(cluster.log_terms(1), vec![1, 2]);
    cluster
}
