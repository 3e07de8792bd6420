//! Loading and validating scenario files.

use super::*;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, "test.json")
}

#[test]
fn a_small_scenario_loads_with_its_defaults_and_patches() {
    let s = parse(
        r#"{"name": "x", "description": "d",
            "config": {"cluster": {"nodes": 3}, "network": "unreliable", "workload": {"think_ns_max": "5ms"}},
            "schedule": [{"when": "leader", "do": "crash", "node": "leader", "save_as": "old"},
                         {"after": "1s", "do": "restart", "node": "$old"},
                         {"repeat": 3, "steps": [{"do": "mark", "name": "m"}, {"after": {"min": "1ms", "max": "2ms"}, "expect": {"since": "m", "messages_at_most": 10}}]}]}"#,
    )
    .expect("valid");
    assert_eq!(s.seeds, 100);
    assert_eq!(s.steps.len(), 2 + 3 * 2);
    assert!(s.steps[4].label.contains("round 2/3"), "{}", s.steps[4].label);
    let c = s.config(9).expect("config");
    assert_eq!(c.seed, 9);
    assert_eq!(c.cluster.nodes, 3);
    assert_eq!(c.network.drop_ppm, 100_000);
    assert_eq!(c.workload.think_ns_max, 5_000_000);
    assert!(!s.fixed_duration);
}

#[test]
fn errors_name_the_file_the_field_and_what_was_expected() {
    let e = parse(r#"{"name": "x", "description": "d", "colour": 1}"#).unwrap_err();
    assert!(e.to_string().starts_with("test.json: "), "{e}");
    assert!(e.message.contains("colour"), "{e}");
    let e = parse(r#"{"name": "x", "description": "d", "config": {"cluster": {"nodez": 3}}}"#).unwrap_err();
    assert_eq!(e.location, "config.cluster.nodez");
    assert!(e.message.contains("expected one of"), "{e}");
    let e = parse(r#"{"name": "x", "description": "d", "schedule": [{"do": "crash"}]}"#).unwrap_err();
    assert_eq!(e.location, "schedule[0]");
    let e =
        parse(r#"{"name": "x", "description": "d", "schedule": [{"do": "crash", "node": 9}]}"#).unwrap_err();
    assert!(e.message.contains("node 9 does not exist"), "{e}");
    let e = parse(r#"{"name": "x", "description": "d", "schedule": [{"do": "explode"}]}"#).unwrap_err();
    assert!(e.location.starts_with("schedule[0]"), "{e:?}");
    let e = parse(r#"{"name": "x", "description": "d", "schedule": [{"do": "restart", "node": "$nobody"}]}"#)
        .unwrap_err();
    assert!(e.message.contains("nothing saved"), "{e}");
    let e =
        parse(r#"{"name": "x", "description": "d", "config": {"cluster": {"nodes": "five"}}}"#).unwrap_err();
    assert!(e.location.contains("cluster.nodes"), "{e:?}");
    let e = parse("{\"name\": \"x\",\n \"description\": }").unwrap_err();
    assert!(e.location.starts_with("line 2"), "{e:?}");
    let e = parse(r#"{"name": "x", "description": "d", "config": {"workload": {"think_ns_max": "soon"}}}"#)
        .unwrap_err();
    assert_eq!(e.location, "config.workload.think_ns_max");
}

#[test]
fn percentages_and_presets_translate_to_the_configuration() {
    assert_eq!(parse_percent("10%"), Ok(100_000));
    assert_eq!(parse_percent("0.5%"), Ok(5_000));
    assert_eq!(parse_percent("66.6667%"), Ok(666_667));
    assert!(parse_percent("150%").is_err());
    assert!(parse_percent("10").is_err());
    assert!(network_patch(&Value::String("lossy".into())).is_err());
    assert!(network_patch(&serde_json::json!({"drop_pm": 3})).is_err());
}

#[test]
fn durations_and_percentages_are_read_in_qualified_fields_too() {
    let s = parse(
        r#"{"name": "x", "description": "d",
            "config": {"network": {"delay_ns_max": "3ms", "long_delay_ppm": "25%"}, "cluster": {"drift_ppm_max": "1%"}},
            "schedule": [{"do": "network", "network": {"long_delay_ns_min": "200ms", "long_delay_ns_max": "2s"}}]}"#,
    )
    .expect("valid");
    let c = s.config(1).expect("config");
    assert_eq!(c.network.delay_ns_max, 3_000_000);
    assert_eq!(c.network.long_delay_ppm, 250_000);
    assert_eq!(c.cluster.drift_ppm_max, 10_000);
    // A network step with a value of the wrong type fails the load, not the run.
    let e = parse(
        r#"{"name": "x", "description": "d", "schedule": [{"do": "network", "network": {"drop_ppm": "lots"}}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.location, "schedule[0].network", "{e}");
    let e = parse(
        r#"{"name": "x", "description": "d", "schedule": [{"do": "network", "network": {"drop_ppm": [1]}}]}"#,
    )
    .unwrap_err();
    assert!(e.message.contains("drop_ppm"), "{e}");
}

#[test]
fn conditions_skips_and_picks_load_as_written() {
    let s = parse(
        r#"{"name": "x", "description": "d", "config": {"cluster": {"nodes": 5}},
            "schedule": [
              {"when": {"applied-on": 3}, "within": "2s"},
              {"if": "leader", "chance": "50%", "do": "crash", "node": "leader", "save_as": "l"},
              {"unless_connected_at_least": 3, "do": "connect", "node": "random"},
              {"if": "issued", "do": "submit", "ops": 1},
              {"do": "pick", "node": {"random": 2, "except": ["$l"]}, "save_as": "two"},
              {"do": "isolate", "node": {"except": ["$l", "$two"]}},
              {"do": "partition", "groups": [["$l", "$two"], {"except": ["$l", "$two"]}]},
              {"do": "mark", "name": "m"},
              {"expect": {"no_commit_for": "1s", "on": ["$two"], "no_leader_on": {"from": "all", "except": [0]}}},
              {"expect": {"since": "m", "committed_at_least": 1, "committed_at_most": 2}}
            ]}"#,
    )
    .expect("valid");
    assert_eq!(s.steps[0].when, Some(Condition::AppliedOn(3)));
    assert_eq!(s.steps[0].within_ns, 2_000_000_000);
    assert_eq!(s.steps[1].if_, Some(Condition::Leader));
    assert_eq!(s.steps[1].chance, Some(500_000));
    assert_eq!(s.steps[2].unless_connected_at_least, Some(3));
    assert_eq!(s.steps[3].if_, Some(Condition::Issued));
    let two = NodeSpec::Named("$two".into());
    assert_eq!(
        s.steps[4].node,
        Some(NodeSpec::Pick(Pick {
            random: Some(2),
            from: None,
            except: vec![NodeSpec::Named("$l".into())]
        }))
    );
    assert_eq!(s.steps[6].groups.as_ref().map(Vec::len), Some(2));
    assert_eq!(s.steps[8].expect.on, Some(NodeSpec::Union(vec![two])));
    assert_eq!(s.steps[9].expect.committed_at_most, Some(2));
}

#[test]
fn mistakes_in_the_new_fields_are_named() {
    let bad = |schedule: &str| {
        let text = format!(
            r#"{{"name": "x", "description": "d", "config": {{"cluster": {{"nodes": 3}}}}, "schedule": {schedule}}}"#
        );
        parse(&text).unwrap_err()
    };
    let e = bad(r#"[{"when": {"applied-on": 4}}]"#);
    assert_eq!(e.location, "schedule[0].when", "{e}");
    let e = bad(r#"[{"when": {"applied": 2}}]"#);
    assert!(e.location.starts_with("schedule[0].when"), "{e}");
    let e = bad(r#"[{"chance": "150%", "do": "heal"}]"#);
    assert!(e.location.starts_with("schedule[0].chance"), "{e}");
    let e = bad(r#"[{"do": "crash", "node": {"randon": 1}}]"#);
    assert!(e.message.contains("randon"), "{e}");
    let e = bad(r#"[{"do": "crash", "node": {}}]"#);
    assert!(e.message.contains("at least one of"), "{e}");
    let e = bad(r#"[{"do": "crash", "node": {"random": 4}}]"#);
    assert_eq!(e.location, "schedule[0].node", "{e}");
    let e = bad(r#"[{"do": "crash", "node": {"random": 1, "except": ["$nobody"]}}]"#);
    assert!(e.message.contains("nothing saved"), "{e}");
    let e = bad(r#"[{"do": "crash", "node": ["$a", 7]}]"#);
    assert!(e.message.contains("$a") || e.message.contains("node 7"), "{e}");
    let e = bad(r#"[{"do": "pick", "node": "leader"}]"#);
    assert!(e.message.contains("save_as"), "{e}");
    let e = bad(r#"[{"do": "heal", "save_as": "x"}]"#);
    assert_eq!(e.location, "schedule[0].save_as", "{e}");
    let e = bad(r#"[{"expect": {"on": [0]}}]"#);
    assert_eq!(e.location, "schedule[0].expect.on", "{e}");
    let e = bad(r#"[{"do": "partition", "groups": [[0, 1, 2]]}]"#);
    assert_eq!(e.location, "schedule[0].groups", "{e}");
    let e = bad(r#"[{"unless_connected_at_least": 9, "do": "heal"}]"#);
    assert_eq!(e.location, "schedule[0].unless_connected_at_least", "{e}");
    let e = bad(r#"[{"repeat": 2, "if": "leader", "steps": [{"do": "heal"}]}]"#);
    assert!(e.message.contains("skipped"), "{e}");
    // A put replaces the appends before it, so the appends check needs a workload of none.
    let e = bad(r#"[{"expect": {"appends_intact": true}}]"#);
    assert_eq!(e.location, "schedule[0].expect.appends_intact", "{e}");
}

/// Runs a scenario's schedule to its end (without the liveness phase) and hands back the
/// world and what failed.
fn run_schedule(text: &str, seed: u64) -> (crate::world::World<raft_core::RaftNode>, Vec<String>) {
    let scenario = parse(text).expect("valid");
    let config = scenario.config(seed).expect("config");
    let mut world = crate::world::World::new(config, crate::trace::Trace::new(false, false));
    world.start(true);
    let mut script = crate::script::Script::new(&scenario, seed);
    script.start(&mut world);
    while !script.done() {
        let Some((time, event)) = world.queue.pop_until(u64::MAX) else { break };
        match event {
            crate::queue::Event::ScheduleStep { step } => {
                world.now = time;
                script.on_event(&mut world, step);
            }
            other => world.dispatch(time, other),
        }
    }
    let failures = script.failures().to_vec();
    (world, failures)
}

#[test]
fn an_isolated_node_stays_cut_off_when_a_neighbour_reconnects() {
    let (world, failures) = run_schedule(
        r#"{"name": "x", "description": "d", "config": {"cluster": {"nodes": 3}, "workload": {"clients": 0, "ops": 0}},
            "schedule": [{"do": "isolate", "node": 0}, {"do": "isolate", "node": 1}, {"do": "connect", "node": 1}]}"#,
        1,
    );
    assert_eq!(failures, Vec::<String>::new());
    let cuts = world.network.cuts();
    assert!(cuts.is_cut(0, 1) && cuts.is_cut(1, 0), "0 is still isolated, from 1 as well");
    assert!(cuts.is_cut(0, 2) && cuts.is_cut(2, 0));
    assert!(!cuts.is_cut(1, 2) && !cuts.is_cut(2, 1), "1 is back with 2");
}

#[test]
fn a_skipped_step_saves_no_nodes_so_steps_acting_on_them_do_nothing() {
    let (world, failures) = run_schedule(
        r#"{"name": "x", "description": "d", "config": {"cluster": {"nodes": 3}, "workload": {"clients": 0, "ops": 0}},
            "schedule": [{"do": "isolate", "node": "all", "save_as": "cut"},
                         {"chance": 0, "do": "pick", "node": "all", "save_as": "cut"},
                         {"do": "connect", "node": "$cut"},
                         {"if": "leader", "do": "crash", "node": "leader"}]}"#,
        2,
    );
    assert_eq!(failures, Vec::<String>::new());
    assert!(world.network.cuts().is_cut(0, 1), "the connect step connected nobody");
    assert!(world.nodes.iter().all(|n| n.is_up()), "no leader, so no crash");
}

#[test]
fn an_agreement_waits_until_the_servers_applied_the_command() {
    let (world, failures) = run_schedule(
        r#"{"name": "x", "description": "d", "config": {"cluster": {"nodes": 3}, "workload": {"clients": 2, "ops": 0}},
            "schedule": [{"when": "leader", "within": "5s"},
                         {"do": "mark", "name": "m"},
                         {"do": "submit", "ops": 2},
                         {"when": "idle"},
                         {"when": {"applied-on": 3}, "expect": {"since": "m", "committed_at_least": 2, "committed_at_most": 2, "ops_ok_at_least": 2, "applied_on_all": true}}]}"#,
        3,
    );
    assert_eq!(failures, Vec::<String>::new());
    let committed = world.checks.committed_len() as u64;
    assert!(committed >= 3, "a no-op and two commands");
    for n in &world.nodes {
        assert!(n.server().is_some_and(|s| s.node().applied_index().0 >= committed));
    }
}

#[test]
fn a_step_that_cannot_happen_fails_with_its_label() {
    let (_, failures) = run_schedule(
        r#"{"name": "x", "description": "d", "config": {"cluster": {"nodes": 3}, "workload": {"clients": 1, "ops": 0}},
            "schedule": [{"when": "leader", "within": "5s"},
                         {"expect": {"leader": false, "no_leader_on": "all", "committed_at_least": 1}},
                         {"do": "submit", "ops": 1, "expect": {"no_commit_for": "500ms", "on": "leader"}}]}"#,
        4,
    );
    assert_eq!(failures.len(), 4, "{failures:?}");
    assert!(failures[0].starts_with("schedule[1]: expected no leader"), "{failures:?}");
    assert!(failures[1].starts_with("schedule[1]: expected no leader among"), "{failures:?}");
    assert!(failures[2].starts_with("schedule[1]: expected at least 1 client commands"), "{failures:?}");
    assert!(
        failures[3].starts_with("schedule[2]: n") && failures[3].contains("expected nothing new"),
        "{failures:?}"
    );
}
