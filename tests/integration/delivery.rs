//! Work delivery end to end, all real API servers: the hub (`pipehub`, every hub controller
//! in-process) and a member cluster of its own (`agentmember`, with the controller subset and the
//! pod-readiness simulator) joined as MemberCluster `agent-a` by a real `stagehand member` agent.
//! The MemberCluster carries a taint that only these tests' placements tolerate.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Role, TestCluster, cells, placement_hub, start, start_member_agent, start_parallel, wait_for};
use crate::hub::{KillOnDrop, free_port, spawn_hub};
use crate::pipeline::{assert_available_at_generation_one, wait_run_succeeded};

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
    wait_run_succeeded(hub, run, WAIT);
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
    assert_available_at_generation_one(hub, &["crp", name], name, WAIT);

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
    assert_available_at_generation_one(hub, &["rp", "-n", ns], "web-app-placement", WAIT);
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
    // A resource that leaves the selection leaves the member: the Service is deleted on the hub.
    hub.kubectl_ok(&["delete", "service", "web-app", "-n", ns]);
    wait_for("the Service is removed from the member", WAIT, || {
        (!member
            .kubectl(&["get", "service", "web-app", "-n", ns])
            .status
            .success())
        .then_some(())
    });
    assert!(
        member
            .kubectl(&["get", "deployment", "web-app", "-n", ns])
            .status
            .success(),
        "the Deployment stays"
    );

    // A cluster that leaves the placement loses what was placed there: a policy that no longer
    // selects agent-a unschedules its binding, and the rollout removes it.
    hub.kubectl_ok(&[
        "patch",
        "rp",
        "web-app-placement",
        "-n",
        ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"policy":{"affinity":{"clusterAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"clusterSelectorTerms":[{"labelSelector":{"matchLabels":{"group":"nobody"}}}]}}}}}}"#,
    ]);
    wait_for("the Deployment is removed from the member", WAIT, || {
        (!member
            .kubectl(&["get", "deployment", "web-app", "-n", ns])
            .status
            .success())
        .then_some(())
    });
    wait_for("the binding is gone", WAIT, || {
        hub.kubectl_ok(&["get", "resourcebindings", "-n", ns, "-o", "name"])
            .trim()
            .is_empty()
            .then_some(())
    });
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

/// `stagehand member` as a process of its own, so it can be killed.
fn spawn_agent(hub: &TestCluster, member: &TestCluster, name: &str) -> (std::process::Child, KillOnDrop) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["member", "--http-addr", "127.0.0.1:0"])
        .env("MEMBER_CLUSTER_NAME", name)
        .env("HUB_KUBECONFIG", &hub.kubeconfig)
        .env("KUBECONFIG", &member.kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting stagehand member");
    let guard = KillOnDrop(child.id());
    (child, guard)
}

fn work_index(hub: &TestCluster, cluster: &str, work: &str) -> String {
    hub.kubectl_ok(&[
        "get",
        "work",
        work,
        "-n",
        &format!("fleet-member-{cluster}"),
        "-o",
        "jsonpath={.metadata.labels.kubernetes-fleet\\.io/parent-resource-snapshot-index}",
    ])
}

/// Kills the agent, then restarts the member API server, then the hub API server, each while a
/// change is on its way; every time the member converges to the hub's latest value and the
/// placement ends available, with no extra snapshot, Work or owner.
#[test]
fn agent_member_and_hub_restarts_in_the_middle_converge() {
    let began = std::time::Instant::now();
    let step = |what: &str| println!("[restarts] {:>5.1}s {what}", began.elapsed().as_secs_f64());
    let clusters = start_parallel(&[("rshub", Role::Hub), ("rsmember", Role::Member)]);
    let (hub, member) = (&clusters[0], &clusters[1]);
    let (mut hub_process, hub_guard) = spawn_hub(hub, free_port(), false);
    let name = "rs-a";
    hub.apply(
        &json!({"apiVersion": "cluster.kubernetes-fleet.io/v1beta1", "kind": "MemberCluster",
            "metadata": {"name": name}, "spec": {"identity": {"kind": "User", "name": "rs-a"}, "heartbeatPeriodSeconds": 10}})
        .to_string(),
    );
    let (mut agent, agent_guard) = spawn_agent(hub, member, name);
    wait_for("rs-a joined", WAIT, || {
        (cells(&hub.kubectl_ok(&["get", "membercluster", name]), name)[1] == "True").then_some(())
    });
    hub.kubectl_ok(&["create", "ns", "rs"]);
    hub.kubectl_ok(&["create", "cm", "cm", "--from-literal=key=v1", "-n", "rs"]);
    hub.apply(
        r#"{"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterResourcePlacement",
            "metadata": {"name": "rs"},
            "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": "rs"}]}}"#,
    );
    wait_for("v1 on the member", WAIT, || {
        (cm_value(member, "rs", "cm").as_deref() == Some("v1")).then_some(())
    });
    let set = |hub: &TestCluster, value: &str| {
        hub.kubectl_ok(&[
            "patch",
            "cm",
            "cm",
            "-n",
            "rs",
            "--type=merge",
            "-p",
            &json!({"data": {"key": value}}).to_string(),
        ]);
    };

    step("v1 placed");
    // 1. The agent is killed; the change reaches the Work meanwhile; a new agent applies it.
    agent.kill().expect("killing the agent");
    agent.wait().expect("reaping the agent");
    std::mem::forget(agent_guard);
    set(hub, "v2");
    wait_for("the Work carries index 1", WAIT, || {
        (work_index(hub, name, "rs-work") == "1").then_some(())
    });
    let (mut agent, agent_guard) = spawn_agent(hub, member, name);
    wait_for("v2 on the member", WAIT, || {
        (cm_value(member, "rs", "cm").as_deref() == Some("v2")).then_some(())
    });

    step("v2 placed by the restarted agent");
    // 2. The member API server restarts while the next change is on its way.
    assert!(member.stop().success());
    set(hub, "v3");
    wait_for("the Work carries index 2", WAIT, || {
        (work_index(hub, name, "rs-work") == "2").then_some(())
    });
    step("Work at index 2 while the member is down");
    let member = start("rsmember", Role::Member);
    step("member API server restarted");
    wait_for("v3 on the restarted member", WAIT, || {
        (cm_value(&member, "rs", "cm").as_deref() == Some("v3")).then_some(())
    });

    step("v3 on the restarted member");
    // 3. The hub API server restarts; the controllers and the agent reconnect.
    assert!(hub.stop().success());
    let hub = start("rshub", Role::Hub);
    step("hub API server restarted");
    set(&hub, "v4");
    wait_for("v4 on the member after the hub restart", WAIT, || {
        (cm_value(&member, "rs", "cm").as_deref() == Some("v4")).then_some(())
    });
    step("v4 on the member");
    assert_available_at_generation_one(&hub, &["crp", "rs"], "rs", WAIT);
    let snapshots = hub.kubectl_ok(&[
        "get",
        "clusterresourcesnapshots",
        "-l",
        "kubernetes-fleet.io/parent-CRP=rs",
        "-o",
        "name",
    ]);
    assert_eq!(
        snapshots.lines().count(),
        4,
        "one snapshot per change, none repeated: {snapshots}"
    );
    let works = hub.kubectl_ok(&["get", "works", "-n", &format!("fleet-member-{name}"), "-o", "name"]);
    assert_eq!(works.trim(), "work.placement.kubernetes-fleet.io/rs-work");
    let owners = member.kubectl_ok(&[
        "get",
        "cm",
        "cm",
        "-n",
        "rs",
        "-o",
        "jsonpath={.metadata.ownerReferences[*].name}",
    ]);
    assert_eq!(owners, "rs-work", "one owner, the AppliedWork");
    step("placement available, nothing duplicated");

    // Leaving: deleting the MemberCluster makes the agent report that it left, then the hub
    // removes the member's namespace. (Whether the ConfigMap stays depends on a race: this
    // RollingUpdate placement deletes the cluster's binding, and with it the Work, as soon as the
    // scheduler unschedules it.)
    hub.kubectl_ok(&["delete", "membercluster", name, "--wait=false"]);
    wait_for("the member cluster left and is gone", WAIT, || {
        let gone = !hub.kubectl(&["get", "membercluster", name]).status.success();
        let ns_gone = !hub
            .kubectl(&["get", "ns", &format!("fleet-member-{name}")])
            .status
            .success();
        (gone && ns_gone).then_some(())
    });
    step("left the fleet");

    agent.kill().expect("killing the agent");
    let _ = agent.wait();
    std::mem::forget(agent_guard);
    hub_process.kill().expect("killing stagehand hub");
    let _ = hub_process.wait();
    std::mem::forget(hub_guard);
}

/// The documented install path for a real member: `deploy/member/` applies to a member cluster,
/// and an agent configured as upstream's (hub URL, a token file of the MemberCluster's
/// ServiceAccount identity, the hub's CA) joins and places with nothing but the rights the hub
/// gives that identity in its own namespace.
#[test]
fn an_agent_with_only_its_identitys_token_joins_and_places() {
    let hub = placement_hub();
    let member = crate::harness::member();
    let manifests = crate::harness::repo_root().join("deploy/member");
    let applied = member.kubectl_ok(&["apply", "-f", &manifests.display().to_string()]);
    assert!(
        applied.contains("deployment.apps/stagehand-member created")
            || applied.contains("deployment.apps/stagehand-member unchanged"),
        "{applied}"
    );

    let name = "token-agent";
    hub.kubectl_ok(&["create", "serviceaccount", name, "-n", "default"]);
    hub.apply(
        &json!({"apiVersion": "cluster.kubernetes-fleet.io/v1beta1", "kind": "MemberCluster",
            "metadata": {"name": name, "labels": {"group": "token"}},
            "spec": {"identity": {"kind": "ServiceAccount", "name": name, "namespace": "default"}, "heartbeatPeriodSeconds": 15,
                     "taints": [{"key": "only", "value": "token", "effect": "NoSchedule"}]}})
        .to_string(),
    );
    let dir = std::env::temp_dir().join(format!("stagehand-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("credential dir");
    let token = hub.kubectl_ok(&["create", "token", name, "-n", "default", "--duration=1h"]);
    std::fs::write(dir.join("token"), token.trim()).expect("token file");
    let ca = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, hub.ca_data()).expect("CA data");
    std::fs::write(dir.join("ca.crt"), ca).expect("CA file");

    let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["member", "--http-addr", "127.0.0.1:0"])
        .env("MEMBER_CLUSTER_NAME", name)
        .env("HUB_SERVER_URL", &hub.server)
        .env("CONFIG_PATH", dir.join("token"))
        .env("HUB_CERTIFICATE_AUTHORITY", dir.join("ca.crt"))
        .env("KUBECONFIG", &member.kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting stagehand member");
    let guard = KillOnDrop(agent.id());
    wait_for("the token agent joined", WAIT, || {
        (cells(&hub.kubectl_ok(&["get", "membercluster", name]), name)[1] == "True").then_some(())
    });
    hub.kubectl_ok(&["create", "ns", "token-ns"]);
    hub.kubectl_ok(&["create", "cm", "cm", "--from-literal=key=token", "-n", "token-ns"]);
    let mut policy = tolerating(json!({"placementType": "PickAll"}));
    policy["tolerations"][0]["value"] = json!("token");
    policy["affinity"]["clusterAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["clusterSelectorTerms"]
        [0]["labelSelector"]["matchLabels"]["group"] = json!("token");
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterResourcePlacement",
            "metadata": {"name": "token"},
            "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": "token-ns"}], "policy": policy}})
        .to_string(),
    );
    wait_for("placed through the token agent", WAIT, || {
        (cm_value(member, "token-ns", "cm").as_deref() == Some("token")).then_some(())
    });
    assert_available_at_generation_one(hub, &["crp", "token"], "token", WAIT);
    agent.kill().expect("killing the agent");
    let _ = agent.wait();
    std::mem::forget(guard);
    hub.kubectl_ok(&["delete", "crp", "token", "--wait=false"]);
}
