//! Work delivery end to end, all real API servers: the hub (`pipehub`, every hub controller
//! in-process) and a member cluster of its own (`agentmember`, with the controller subset and the
//! pod-readiness simulator) joined as MemberCluster `agent-a` by a real `stagehand member` agent.
//! The MemberCluster carries a taint that only these tests' placements tolerate.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Role, TestCluster, cells, placement_hub, start_member_agent, start_parallel, wait_for};

const WAIT: Duration = Duration::from_secs(90);
const MEMBER: &str = "agent-a";

/// The hub and the member, with the agent joined.
fn fleet() -> (&'static TestCluster, &'static TestCluster) {
    static MEMBER_CLUSTER: OnceLock<Vec<TestCluster>> = OnceLock::new();
    let hub = placement_hub();
    let member = &MEMBER_CLUSTER.get_or_init(|| {
        let member = start_parallel(&[("agentmember", Role::Member)]);
        hub.apply(
            &json!({"apiVersion": "cluster.kubernetes-fleet.io/v1beta1", "kind": "MemberCluster",
                "metadata": {"name": MEMBER, "labels": {"group": "agent"}},
                "spec": {"identity": {"kind": "User", "name": "agent-a"}, "heartbeatPeriodSeconds": 15,
                         "taints": [{"key": "only", "value": "agent", "effect": "NoSchedule"}]}})
            .to_string(),
        );
        start_member_agent(hub, &member[0], MEMBER);
        wait_for("agent-a joined through its agent", WAIT, || {
            let table = hub.kubectl_ok(&["get", "membercluster", MEMBER]);
            (cells(&table, MEMBER)[1] == "True").then_some(())
        });
        println!("{}", hub.kubectl_ok(&["get", "membercluster", MEMBER]));
        member
    })[0];
    (hub, member)
}

fn tolerating(policy: Value) -> Value {
    let mut policy = policy;
    policy["tolerations"] = json!([{"key": "only", "operator": "Equal", "value": "agent", "effect": "NoSchedule"}]);
    policy["affinity"] = json!({"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "clusterSelectorTerms": [{"labelSelector": {"matchLabels": {"group": "agent"}}}]}}});
    policy
}

fn cm_value(member: &TestCluster, ns: &str, name: &str) -> Option<String> {
    let out = member.kubectl(&["get", "cm", name, "-n", ns, "-o", "jsonpath={.data.key}"]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn run(hub: &TestCluster, placement: &str, run: &str, index: &str) {
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": run},
            "spec": {"placementName": placement, "resourceSnapshotIndex": index, "stagedRolloutStrategyName": placement, "state": "Run"}})
        .to_string(),
    );
    wait_for(&format!("run {run} succeeded"), WAIT, || {
        let table = hub.kubectl_ok(&["get", "csur", run]);
        (cells(&table, run)[6] == "True").then_some(())
    });
}

#[test]
fn a_config_map_lands_changes_and_rolls_back_on_the_member_and_leaves_with_the_placement() {
    let (hub, member) = fleet();
    let name = "delivery";
    hub.kubectl_ok(&["create", "ns", name]);
    hub.kubectl_ok(&["create", "cm", "test-cm", "--from-literal=key=value1", "-n", name]);
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterResourcePlacement",
            "metadata": {"name": name},
            "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": name}],
                     "policy": tolerating(json!({"placementType": "PickAll"})), "strategy": {"type": "External"}}})
        .to_string(),
    );
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": name},
            "spec": {"stages": [{"name": "agents", "labelSelector": {"matchLabels": {"group": "agent"}}}]}})
        .to_string(),
    );
    wait_for("a binding to agent-a", WAIT, || {
        hub.kubectl_ok(&[
            "get",
            "crb",
            "-l",
            &format!("kubernetes-fleet.io/parent-CRP={name}"),
            "-o",
            "name",
        ])
        .lines()
        .count()
        .eq(&1)
        .then_some(())
    });
    assert_eq!(
        cm_value(member, name, "test-cm"),
        None,
        "External: nothing lands before a run"
    );

    run(hub, name, "delivery-run-0", "0");
    assert_eq!(cm_value(member, name, "test-cm").as_deref(), Some("value1"));
    let owners = member.kubectl_ok(&[
        "get",
        "cm",
        "test-cm",
        "-n",
        name,
        "-o",
        "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
    ]);
    assert_eq!(owners, format!("AppliedWork/{name}-work"));

    hub.kubectl_ok(&[
        "patch",
        "cm",
        "test-cm",
        "-n",
        name,
        "--type=merge",
        "-p",
        r#"{"data":{"key":"value2"}}"#,
    ]);
    wait_for("snapshot 1", WAIT, || {
        hub.kubectl(&["get", "clusterresourcesnapshot", &format!("{name}-1-snapshot")])
            .status
            .success()
            .then_some(())
    });
    run(hub, name, "delivery-run-1", "1");
    assert_eq!(cm_value(member, name, "test-cm").as_deref(), Some("value2"));

    run(hub, name, "delivery-run-2", "0");
    assert_eq!(
        cm_value(member, name, "test-cm").as_deref(),
        Some("value1"),
        "rolled back"
    );
    let row = wait_for("kubectl get crp: True 1 True 1", WAIT, || {
        let table = hub.kubectl_ok(&["get", "crp", name]);
        let row = cells(&table, name);
        (row[4] == "True").then_some((table, row))
    });
    println!("{}", row.0);
    assert_eq!(&row.1[1..6], ["1", "True", "1", "True", "1"]);

    hub.kubectl_ok(&["delete", "crp", name, "--timeout=90s"]);
    wait_for("the namespace and ConfigMap are gone from the member", WAIT, || {
        (!member.kubectl(&["get", "ns", name]).status.success()).then_some(())
    });
    assert!(
        member
            .kubectl_ok(&["get", "appliedworks", "-o", "name"])
            .lines()
            .all(|l| !l.ends_with(&format!("/{name}-work"))),
        "the AppliedWork is gone"
    );
}

#[test]
fn a_deployment_and_service_become_available_on_the_member() {
    let (hub, member) = fleet();
    let ns = "web-ns";
    hub.kubectl_ok(&["create", "ns", ns]);
    hub.kubectl_ok(&[
        "create",
        "deployment",
        "web-app",
        "--image=nginx:1.20",
        "--port=80",
        "-n",
        ns,
    ]);
    hub.kubectl_ok(&[
        "expose",
        "deployment",
        "web-app",
        "--port=80",
        "--target-port=80",
        "-n",
        ns,
    ]);
    // A ResourcePlacement cannot place its own namespace (the documents' precondition).
    member.kubectl_ok(&["create", "ns", ns]);
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ResourcePlacement",
            "metadata": {"name": "web-app-placement", "namespace": ns},
            "spec": {"resourceSelectors": [
                        {"group": "apps", "version": "v1", "kind": "Deployment", "name": "web-app"},
                        {"group": "", "version": "v1", "kind": "Service", "name": "web-app"}],
                     "policy": tolerating(json!({"placementType": "PickAll"}))}})
        .to_string(),
    );
    let row = wait_for("kubectl get rp: AVAILABLE True", WAIT, || {
        let table = hub.kubectl_ok(&["get", "rp", "-n", ns]);
        let row = cells(&table, "web-app-placement");
        (row[4] == "True").then_some((table, row))
    });
    println!("{}", row.0);
    assert_eq!(&row.1[1..6], ["1", "True", "1", "True", "1"]);
    let ready = member.kubectl_ok(&[
        "get",
        "deployment",
        "web-app",
        "-n",
        ns,
        "-o",
        "jsonpath={.status.availableReplicas}",
    ]);
    assert_eq!(ready, "1", "the member's controllers rolled the Deployment out");
    let ip = member.kubectl_ok(&[
        "get",
        "service",
        "web-app",
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    assert!(!ip.is_empty(), "the Service got a cluster IP on the member");
    let work = hub.kubectl_ok(&["get", "work", "-n", &format!("fleet-member-{MEMBER}"), "-o", "name"]);
    assert!(
        work.contains(&format!(
            "work.placement.kubernetes-fleet.io/{ns}.web-app-placement-work"
        )),
        "{work}"
    );
    hub.kubectl_ok(&["delete", "rp", "web-app-placement", "-n", ns, "--wait=false"]);
}

#[test]
fn rejected_and_unowned_manifests_are_reported_and_nothing_is_overwritten() {
    let (hub, member) = fleet();
    // The member rejects a ConfigMap in a namespace it does not have.
    let missing = "nons-ns";
    hub.kubectl_ok(&["create", "ns", missing]);
    hub.kubectl_ok(&["create", "cm", "lonely", "--from-literal=key=hub", "-n", missing]);
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ResourcePlacement",
            "metadata": {"name": "lonely", "namespace": missing},
            "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "ConfigMap", "name": "lonely"}],
                     "policy": tolerating(json!({"placementType": "PickAll"}))}})
        .to_string(),
    );
    let failed = wait_for("the member's error on the placement", WAIT, || {
        let rp: Value =
            serde_json::from_str(&hub.kubectl_ok(&["get", "rp", "lonely", "-n", missing, "-o", "json"])).unwrap();
        let failed = rp["status"]["placementStatuses"][0]["failedPlacements"][0].clone();
        (!failed.is_null()).then_some(failed)
    });
    println!("{failed}");
    assert_eq!(failed["condition"]["reason"], json!("ManifestApplyFailed"));
    assert!(
        failed["condition"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("namespaces \"{missing}\" not found")),
        "{failed}"
    );
    let table = hub.kubectl_ok(&["get", "rp", "-n", missing]);
    println!("{table}");

    // An object the agent did not create is left alone when the strategy says never take over.
    let ns = "owned-ns";
    member.kubectl_ok(&["create", "ns", ns]);
    member.kubectl_ok(&["create", "cm", "mine", "--from-literal=key=member", "-n", ns]);
    hub.kubectl_ok(&["create", "ns", ns]);
    hub.kubectl_ok(&["create", "cm", "mine", "--from-literal=key=hub", "-n", ns]);
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ResourcePlacement",
            "metadata": {"name": "mine", "namespace": ns},
            "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "ConfigMap", "name": "mine"}],
                     "policy": tolerating(json!({"placementType": "PickAll"})),
                     "strategy": {"applyStrategy": {"whenToTakeOver": "Never"}}}})
        .to_string(),
    );
    let failed = wait_for("NotTakenOver on the placement", WAIT, || {
        let rp: Value = serde_json::from_str(&hub.kubectl_ok(&["get", "rp", "mine", "-n", ns, "-o", "json"])).unwrap();
        let failed = rp["status"]["placementStatuses"][0]["failedPlacements"][0].clone();
        (!failed.is_null()).then_some(failed)
    });
    assert_eq!(failed["condition"]["reason"], json!("NotTakenOver"), "{failed}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        cm_value(member, ns, "mine").as_deref(),
        Some("member"),
        "not overwritten"
    );
    hub.kubectl_ok(&["delete", "rp", "mine", "-n", ns, "--timeout=60s"]);
    assert_eq!(
        cm_value(member, ns, "mine").as_deref(),
        Some("member"),
        "not deleted with the placement"
    );
    hub.kubectl_ok(&["delete", "rp", "lonely", "-n", missing, "--wait=false"]);
}
