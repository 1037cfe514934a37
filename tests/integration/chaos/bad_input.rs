//! SD-35 on a real hub with no member cluster yet: inputs upstream admits but no waiting can fix
//! fail the run at once, with a message naming what to fix, instead of "waiting for the
//! scheduler" for ever; a good run on the same hub still waits.

use std::time::Duration;

use serde_json::{Value, json};

use super::hub_process::HubProcess;
use super::{apply_run, get_json, run_condition};
use crate::harness::{Role, TestCluster, start_parallel, wait_for};
use crate::pipeline::placement;

fn strategy(hub: &TestCluster, name: &str, stage: Value) {
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": name}, "spec": {"stages": [stage]}})
        .to_string(),
    );
}

/// The run's `Initialized` condition once it has one: (status, reason, message).
fn initialized(hub: &TestCluster, name: &str) -> (String, String, String) {
    wait_for(&format!("{name} has Initialized"), Duration::from_secs(60), || {
        run_condition(hub, name, "Initialized")
    })
}

#[test]
fn on_a_hub_with_no_members_the_first_real_problem_fails_the_run_naming_the_field() {
    let hub = &start_parallel(&[("badinputhub", Role::Hub)])[0];
    let mut process = HubProcess::new(hub, "bad-input-hub", &[]);
    process.start(None);
    placement(
        hub,
        "good",
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    placement(
        hub,
        "fixed",
        json!({"placementType": "PickFixed"}),
        json!({"type": "External"}),
    );
    strategy(hub, "good", json!({"name": "all", "labelSelector": {}}));
    strategy(
        hub,
        "sometimes",
        json!({"name": "odd", "labelSelector": {"matchExpressions": [{"key": "env", "operator": "Sometimes", "values": ["x"]}]}}),
    );
    strategy(
        hub,
        "spaced",
        json!({"name": "sorted", "labelSelector": {}, "sortingLabelKey": "my order"}),
    );
    strategy(
        hub,
        "twice",
        json!({"name": "gated", "labelSelector": {}, "afterStageTasks": [{"type": "Approval"}, {"type": "Approval"}]}),
    );
    // SD-41: a placement whose affinity selector does not parse says so on its Scheduled condition.
    placement(
        hub,
        "badaffinity",
        json!({"placementType": "PickAll", "affinity": {"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "clusterSelectorTerms": [{"labelSelector": {"matchExpressions": [{"key": "env", "operator": "Sometimes", "values": ["x"]}]}}]}}}}),
        json!({"type": "External"}),
    );
    wait_for("snapshot 0 of good", Duration::from_secs(60), || {
        get_json(hub, &["clusterresourcesnapshot", "good-0-snapshot"])
    });

    let cases: [(&str, &str, &str, Option<&str>, &str); 9] = [
        (
            "bad-two-approvals",
            "good",
            "twice",
            None,
            "afterStageTasks cannot have two tasks of the same type: Approval",
        ),
        (
            "bad-strategy",
            "good",
            "nope",
            Some("0"),
            "referenced updateStrategy not found: `/nope`",
        ),
        (
            "bad-index-abc",
            "good",
            "good",
            Some("abc"),
            "invalid resource snapshot index `abc` provided, expected an integer >= 0 in spec.resourceSnapshotIndex",
        ),
        (
            "bad-index-minus",
            "good",
            "good",
            Some("-1"),
            "invalid resource snapshot index `-1` provided",
        ),
        (
            "bad-index-99",
            "good",
            "good",
            Some("99"),
            "no resourceSnapshots with index `99` found for placement `/good`",
        ),
        ("bad-placement-name", "", "good", None, "spec.placementName is empty"),
        (
            "bad-selector",
            "good",
            "sometimes",
            None,
            "the stage label selector is invalid, updateStrategy: `/sometimes`, stage: odd",
        ),
        (
            "bad-sorting-key",
            "good",
            "spaced",
            None,
            "sortingLabelKey `my order` is not a valid label key",
        ),
        (
            "bad-pick-fixed",
            "fixed",
            "good",
            None,
            "is PickFixed with no spec.policy.clusterNames",
        ),
    ];
    for (name, placement, strategy, index, _) in cases {
        apply_run(hub, name, placement, strategy, index);
    }
    apply_run(hub, "good-run", "good", "good", None);
    for (name, _, _, _, expected) in cases {
        let (status, reason, message) = initialized(hub, name);
        println!("[bad input] {name}: {status} {reason}: {message}");
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("False", "UpdateRunInitializedFailed"),
            "{name}: {message}"
        );
        assert!(message.contains(expected), "{name}: {message}");
        assert!(!message.contains("waiting for the scheduler"), "{name}: {message}");
    }
    let scheduled = wait_for(
        "badaffinity says why it schedules nothing",
        Duration::from_secs(60),
        || {
            let crp = get_json(hub, &["crp", "badaffinity"])?;
            let c = crp["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "ClusterResourcePlacementScheduled" && c["status"] == "False")?
                .clone();
            Some(c["message"].as_str()?.to_string())
        },
    );
    println!("[bad input] badaffinity: {scheduled}");
    assert!(
        scheduled.contains("spec.policy.affinity.clusterAffinity.requiredDuringSchedulingIgnoredDuringExecution.clusterSelectorTerms[0].labelSelector is invalid"),
        "{scheduled}"
    );
    // Nothing is wrong with this one: it waits for clusters to join, and says so.
    let (status, reason, message) = initialized(hub, "good-run");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "UpdateRunInitializationPending"),
        "{message}"
    );
    assert!(
        message.contains("no scheduled or to-be-deleted bindings found"),
        "{message}"
    );
}

/// A namespaced run reaches only its own namespace: a StagedUpdateRun in `team-b` naming the
/// ResourcePlacement `app` of `team-a` finds no placement, fails, and leaves `team-a` untouched.
#[test]
fn a_namespaced_run_cannot_reach_a_placement_in_another_namespace() {
    let hub = &start_parallel(&[("crossnshub", Role::Hub)])[0];
    let mut process = HubProcess::new(hub, "cross-ns-hub", &[]);
    process.start(None);
    for ns in ["team-a", "team-b"] {
        hub.kubectl_ok(&["create", "ns", ns]);
    }
    hub.kubectl_ok(&[
        "create",
        "cm",
        "app-config",
        "--from-literal=key=value1",
        "-n",
        "team-a",
    ]);
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ResourcePlacement",
            "metadata": {"name": "app", "namespace": "team-a"},
            "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "ConfigMap", "name": "app-config"}],
                     "policy": {"placementType": "PickAll"}, "strategy": {"type": "External"}}})
        .to_string(),
    );
    wait_for("snapshot 0 of team-a/app", Duration::from_secs(60), || {
        get_json(hub, &["resourcesnapshot", "app-0-snapshot", "-n", "team-a"])
    });
    let before = get_json(hub, &["resourceplacement", "app", "-n", "team-a"]).expect("placement");
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "StagedUpdateStrategy",
            "metadata": {"name": "s", "namespace": "team-b"}, "spec": {"stages": [{"name": "all", "labelSelector": {}}]}})
        .to_string(),
    );
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "StagedUpdateRun",
            "metadata": {"name": "reach", "namespace": "team-b"},
            "spec": {"placementName": "app", "resourceSnapshotIndex": "0", "stagedRolloutStrategyName": "s", "state": "Run"}})
        .to_string(),
    );
    let message = wait_for("the run fails", Duration::from_secs(60), || {
        let run = get_json(hub, &["sur", "reach", "-n", "team-b"])?;
        let c = run["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| {
                c["type"] == "Initialized" && c["status"] == "False" && c["reason"] == "UpdateRunInitializedFailed"
            })?
            .clone();
        Some(c["message"].as_str()?.to_string())
    });
    assert!(message.contains("parent placement not found"), "{message}");
    std::thread::sleep(Duration::from_secs(2));
    let after = get_json(hub, &["resourceplacement", "app", "-n", "team-a"]).expect("placement");
    assert_eq!(
        before["metadata"]["annotations"], after["metadata"]["annotations"],
        "team-a's placement was touched"
    );
    assert_eq!(before["spec"], after["spec"]);
    let approvals = get_json(hub, &["approvalrequests", "-n", "team-a"]).expect("approvals");
    assert_eq!(approvals["items"].as_array().map(Vec::len), Some(0));
}
