//! SD-38: a member that goes silent in the middle of a run. Its agent is killed for longer than
//! the heartbeat period, then its API server is frozen for as long. The run keeps the cluster,
//! waits for it without failing, sends it nothing else, and finishes once the member is back.

use std::time::Duration;

use serde_json::json;

use super::hub_process::HubProcess;
use super::{apply_run, change_value, condition, get_json, spawn_agent};
use crate::harness::{Role, TestCluster, register_agent_member, start_parallel, wait_for, wait_joined};

const PLACEMENT: &str = "quiet";
/// The MemberClusters' heartbeat period; each outage lasts longer.
const HEARTBEAT_SECONDS: u64 = 10;

fn value_on(member: &TestCluster) -> String {
    super::value_at(&member.kubeconfig, PLACEMENT)
}

fn succeeded(hub: &TestCluster, name: &str) -> Option<String> {
    let run = get_json(hub, &["csur", name])?;
    condition(&run["status"], "Succeeded").map(|(s, _)| s.to_string())
}

/// The run is neither failed nor finished, and `prod`'s one cluster has started but not
/// succeeded: it waits for the member.
fn assert_waiting_for_member2(hub: &TestCluster, name: &str) {
    let run = get_json(hub, &["csur", name]).expect("run");
    let status = &run["status"];
    assert!(condition(status, "Succeeded").is_none(), "the run ended: {status}");
    let member2 = &status["stagesStatus"][1]["clusters"][0];
    assert_eq!(member2["clusterName"], "member2");
    assert_eq!(
        condition(member2, "Started"),
        Some(("True", "ClusterUpdatingStarted")),
        "{member2}"
    );
    assert!(condition(member2, "Succeeded").is_none(), "{member2}");
}

#[test]
fn a_run_waits_for_a_silent_member_and_finishes_when_it_is_back() {
    let clusters = start_parallel(&[
        ("quiethub", Role::Hub),
        ("quiet1", Role::Member),
        ("quiet2", Role::Member),
    ]);
    let (hub, members) = (&clusters[0], &clusters[1..]);
    let mut process = HubProcess::new(hub, "quiet-hub", &[]);
    process.start(None);
    const MEMBERS: [(&str, &str); 2] = [("member1", "canary"), ("member2", "prod")];
    let mut agents = Vec::new();
    for (member, (name, environment)) in members.iter().zip(MEMBERS) {
        register_agent_member(hub, name, environment, HEARTBEAT_SECONDS);
        agents.push(Some(spawn_agent(&hub.kubeconfig, member, name)));
    }
    wait_joined(hub, &MEMBERS);
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": PLACEMENT}, "spec": {"stages": [
                {"name": "canary", "labelSelector": {"matchLabels": {"environment": "canary"}}},
                {"name": "prod", "labelSelector": {"matchLabels": {"environment": "prod"}}}]}})
        .to_string(),
    );
    crate::pipeline::placement(
        hub,
        PLACEMENT,
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    wait_for("snapshot 0", Duration::from_secs(60), || {
        get_json(hub, &["clusterresourcesnapshot", &format!("{PLACEMENT}-0-snapshot")])
    });
    apply_run(hub, "quiet-0", PLACEMENT, PLACEMENT, Some("0"));
    wait_for("quiet-0 succeeded", Duration::from_secs(120), || {
        (succeeded(hub, "quiet-0")? == "True").then_some(())
    });

    // Outage 1: member2's agent is killed, and stays dead longer than the heartbeat period.
    change_value(hub, PLACEMENT, "value2");
    wait_for("snapshot 1", Duration::from_secs(60), || {
        get_json(hub, &["clusterresourcesnapshot", &format!("{PLACEMENT}-1-snapshot")])
    });
    if let Some((mut agent, guard)) = agents[1].take() {
        let _ = agent.kill();
        let _ = agent.wait();
        std::mem::forget(guard);
    }
    apply_run(hub, "quiet-1", PLACEMENT, PLACEMENT, Some("1"));
    wait_for("member1 has value2", Duration::from_secs(60), || {
        (value_on(&members[0]) == "value2").then_some(())
    });
    std::thread::sleep(Duration::from_secs(2 * HEARTBEAT_SECONDS));
    assert_waiting_for_member2(hub, "quiet-1");
    assert_eq!(value_on(&members[1]), "value1", "member2 changed with its agent dead");
    println!(
        "[chaos] member2's agent dead for {}s: the run waits for it",
        2 * HEARTBEAT_SECONDS
    );

    // Outage 2: the agent is back but member2's API server is frozen as long.
    agents[1] = Some(spawn_agent(&hub.kubeconfig, &members[1], "member2"));
    members[1].signal("STOP");
    std::thread::sleep(Duration::from_secs(2 * HEARTBEAT_SECONDS));
    assert_waiting_for_member2(hub, "quiet-1");
    println!(
        "[chaos] member2's API server frozen for {}s: the run still waits",
        2 * HEARTBEAT_SECONDS
    );
    members[1].signal("CONT");

    wait_for(
        "quiet-1 succeeded once member2 is back",
        Duration::from_secs(120),
        || {
            let s = succeeded(hub, "quiet-1")?;
            assert_ne!(s, "False", "the run failed");
            (s == "True").then_some(())
        },
    );
    assert_eq!(value_on(&members[1]), "value2");
    assert_eq!(value_on(&members[0]), "value2");
}
