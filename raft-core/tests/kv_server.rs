//! The KV service: client calls go through the log, retries apply once (thesis §6.3), and a server
//! that cannot vouch for a call says so (NotLeader: it did not take effect here; LostLeadership:
//! it may yet, retry with the same sequence number).

mod common;

use common::*;
use raft_core::{LogIndex, NodeId, Payload, Role};
use raft_kv::{ClientError, ClientReply, KvResult};

fn results(replies: &[ClientReply]) -> Vec<Result<KvResult, ClientError>> {
    replies.iter().map(|r| r.result.clone()).collect()
}

/// A three-server cluster led by n0, with its no-op committed everywhere.
fn led_by_n0() -> Servers {
    let mut cluster = Servers::new(3);
    cluster.elect(0);
    cluster.heartbeat(0);
    cluster
}

/// Sends a call to `id` and runs the cluster until it is committed and every server knows it.
fn call(cluster: &mut Servers, id: u32, client: u64, seq: u64, op: raft_kv::KvOp) {
    cluster.request(id, client, seq, op);
    cluster.deliver_all();
    cluster.heartbeat(id);
}

#[test]
fn a_duplicate_client_command_applies_once_and_both_answers_agree() {
    let mut cluster = led_by_n0();
    call(&mut cluster, 0, 1, 1, append_op("k", "x"));
    call(&mut cluster, 0, 1, 1, append_op("k", "x"));

    assert_eq!(results(&cluster.replies_to(0, 1)), vec![Ok(KvResult::Done), Ok(KvResult::Done)]);
    assert_eq!(cluster.node(0).log().last_index(), LogIndex(3), "the retry was logged a second time");
    for id in 0..3 {
        assert_eq!(cluster.value(id, "k"), "x", "n{id} applied it once");
    }
}

#[test]
fn a_retry_that_arrives_while_the_first_attempt_is_in_the_log_is_not_logged_again() {
    let mut cluster = led_by_n0();
    cluster.request(0, 1, 1, append_op("k", "x"));
    cluster.request(0, 1, 1, append_op("k", "x"));
    assert_eq!(cluster.node(0).log().last_index(), LogIndex(2));
    assert_eq!(cluster.host(0).pending_calls(), 1);

    cluster.deliver_all();
    assert_eq!(results(&cluster.replies_to(0, 1)), vec![Ok(KvResult::Done)], "one answer for one call");
    assert_eq!(cluster.value(0, "k"), "x");
}

#[test]
fn a_retried_get_returns_the_value_it_first_read() {
    let mut cluster = led_by_n0();
    call(&mut cluster, 0, 1, 1, append_op("k", "x"));
    call(&mut cluster, 0, 2, 1, get_op("k"));
    call(&mut cluster, 0, 1, 2, append_op("k", "y"));
    call(&mut cluster, 0, 2, 1, get_op("k"));

    let first_read = Ok(KvResult::Value("x".into()));
    assert_eq!(results(&cluster.replies_to(0, 2)), vec![first_read.clone(), first_read]);
    assert_eq!(cluster.value(0, "k"), "xy");
}

#[test]
fn a_get_goes_through_the_log() {
    let mut cluster = led_by_n0();
    call(&mut cluster, 0, 1, 1, append_op("k", "v"));
    let before = cluster.node(0).log().last_index();

    cluster.request(0, 2, 1, get_op("k"));
    assert!(cluster.replies_to(0, 2).is_empty(), "no answer before the read is committed");
    let entry = cluster.node(0).log().get(before.next()).cloned().expect("the read was logged");
    let Payload::Data(data) = entry.payload else { panic!("a no-op where the read should be") };
    assert_eq!(raft_kv::Command::decode(&data).expect("a command").op, get_op("k"));

    cluster.deliver_all();
    assert_eq!(results(&cluster.replies_to(0, 2)), vec![Ok(KvResult::Value("v".into()))]);
}

#[test]
fn a_follower_answers_not_leader_and_names_the_leader() {
    let mut cluster = led_by_n0();
    cluster.request(1, 1, 1, append_op("k", "x"));
    let replies = cluster.replies_to(1, 1);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].from, NodeId(1));
    assert_eq!(replies[0].result, Err(ClientError::NotLeader { hint: Some(NodeId(0)) }));
    assert_eq!(cluster.node(1).log().last_index(), LogIndex(1), "nothing was logged");
}

#[test]
fn a_server_that_knows_no_leader_answers_not_leader_without_a_hint() {
    let mut cluster = Servers::new(3);
    cluster.request(2, 1, 1, get_op("k"));
    assert_eq!(results(&cluster.replies_to(2, 1)), vec![Err(ClientError::NotLeader { hint: None })]);
}

#[test]
fn a_leader_deposed_by_a_newer_leader_answers_lost_leadership_for_its_pending_calls() {
    let mut cluster = led_by_n0();
    cluster.isolate(0);
    cluster.request(0, 1, 1, append_op("k", "x"));
    cluster.request(0, 2, 1, append_op("k", "y"));
    assert_eq!(cluster.host(0).pending_calls(), 2);
    cluster.elect(1);
    cluster.heal();
    cluster.heartbeat(1);

    let lost = Err(ClientError::LostLeadership { hint: Some(NodeId(1)) });
    assert_eq!(results(&cluster.replies_to(0, 1)), vec![lost.clone()]);
    assert_eq!(results(&cluster.replies_to(0, 2)), vec![lost]);
    assert_eq!(cluster.host(0).pending_calls(), 0);
    assert_eq!(cluster.value(0, "k"), "", "the calls were overwritten, never applied");

    call(&mut cluster, 1, 1, 1, append_op("k", "x"));
    assert_eq!(results(&cluster.replies_to(1, 1)), vec![Ok(KvResult::Done)], "the retry takes effect");
}

#[test]
fn a_leader_deposed_by_check_quorum_answers_lost_leadership_without_a_hint() {
    let mut cluster = led_by_n0();
    cluster.isolate(0);
    cluster.request(0, 1, 1, append_op("k", "x"));
    cluster.tick_until(200, |c| c.node(0).role() != Role::Leader);
    assert_eq!(results(&cluster.replies_to(0, 1)), vec![Err(ClientError::LostLeadership { hint: None })]);
}

#[test]
fn a_retry_after_lost_leadership_applies_once_when_the_first_attempt_survived() {
    let mut cluster = led_by_n0();
    cluster.request(0, 1, 1, append_op("k", "x"));
    cluster.deliver_where(|m| m.to == NodeId(1));
    cluster.isolate(0);
    cluster.deliver_all();
    assert_eq!(cluster.node(1).log().last_index(), LogIndex(2), "n1 holds the first attempt");
    assert_eq!(cluster.node(0).commit_index(), LogIndex(1), "n0 never learned it was replicated");

    cluster.elect(1);
    cluster.heal();
    cluster.heartbeat(1);
    assert_eq!(
        results(&cluster.replies_to(0, 1)),
        vec![Err(ClientError::LostLeadership { hint: Some(NodeId(1)) })]
    );

    call(&mut cluster, 1, 1, 1, append_op("k", "x"));
    assert_eq!(results(&cluster.replies_to(1, 1)), vec![Ok(KvResult::Done)]);
    for id in 0..3 {
        assert_eq!(cluster.value(id, "k"), "x", "n{id}: the first attempt applied, the retry did not");
    }
}

#[test]
fn a_restarted_server_rebuilds_its_store_once_it_learns_what_is_committed() {
    let mut cluster = led_by_n0();
    call(&mut cluster, 0, 1, 1, append_op("k", "x"));
    call(&mut cluster, 0, 1, 2, append_op("k", "y"));
    cluster.crash(2);
    cluster.restart(2);
    assert_eq!(cluster.value(2, "k"), "", "the store is not persisted, only the log");

    cluster.heartbeat(0);
    assert_eq!(cluster.value(2, "k"), "xy");
    assert_eq!(cluster.host(2).store().digest(), cluster.host(0).store().digest());
}
