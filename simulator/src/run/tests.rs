//! The checks of a run's final state, on worlds built by hand.

use checker::KvCall;

use super::final_state_violation;
use crate::config::SimConfig;
use crate::linearizability::AppliedCommands;
use crate::trace::Trace;
use crate::world::World;

/// A calm cluster driven until its clients' first commands are applied (at most 200,000
/// events), and the `(client, seq)` of the first one applied.
fn world_with_a_command_applied() -> (World<raft_core::RaftNode>, (u64, u64)) {
    let mut world = World::<raft_core::RaftNode>::new(SimConfig::calm(1), Trace::new(false, false));
    world.start(false);
    for _ in 0..200_000 {
        if let Some(&(client, seq, _)) = world.checks.applied_commands().first() {
            return (world, (client.0, seq));
        }
        let Some((time, event)) = world.queue.pop_until(u64::MAX) else { break };
        world.dispatch(time, event);
    }
    panic!("a calm cluster applied no command in 200,000 events");
}

#[test]
fn an_acknowledged_write_that_no_log_holds_is_reported_and_an_applied_one_is_not() {
    let (world, (client, seq)) = world_with_a_command_applied();
    let applied = AppliedCommands::of(&world);
    let check = |call: KvCall, seq: u64| final_state_violation(&world, &applied, &[call], &[seq], true);
    // The command the cluster applied, acknowledged as a put: nothing lost.
    assert!(check(KvCall::put(0, client, "k", "v", 10, 20), seq).is_none());
    // A put acknowledged under a seq the cluster never applied: lost.
    let lost = check(KvCall::put(0, client, "k", "v", 10, 20), seq + 1_000_000).expect("a lost write");
    assert_eq!(lost.invariant_name, "acknowledged-write-lost");
    assert!(lost.reason.contains(&format!("seq {}", seq + 1_000_000)), "{}", lost.reason);
    // Nothing to find for a read, or for a write whose outcome the client never learned.
    assert!(check(KvCall::get(0, client, "k", "", 10, 20), seq + 1_000_000).is_none());
    let unknown = KvCall {
        return_ns: None,
        status: checker::Status::Unknown,
        ..KvCall::put(0, client, "k", "v", 10, 20)
    };
    assert!(check(unknown, seq + 1_000_000).is_none());
}
