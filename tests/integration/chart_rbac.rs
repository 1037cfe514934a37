//! The hub runs under exactly the RBAC its Helm chart renders: the chart's ServiceAccount, Role
//! and ClusterRole are applied to a hub of its own, `stagehand hub` runs with that
//! ServiceAccount's token, and a member joins and gets a placement through a staged run with an
//! approval. Any right the chart forgot shows up as a stuck step and a `forbidden` in the log.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Role, cells, repo_root, start_parallel, wait_for};
use crate::hub::{KillOnDrop, free_port};
use crate::pipeline::{assert_available_at_generation_one, one_stage_strategy, placement, wait_run_succeeded};

const WAIT: Duration = Duration::from_secs(90);

/// The chart's ServiceAccount and RBAC objects, rendered by `hack/helm.py rbac` (the same
/// rendering `FLEET_HUB_RBAC=chart` applies; the Python tools are installed on first use).
fn rendered_rbac(namespace: &str) -> Vec<Value> {
    let python = Command::new(repo_root().join("hack/python-tools.sh"))
        .output()
        .expect("hack/python-tools.sh");
    assert!(python.status.success(), "{}", String::from_utf8_lossy(&python.stderr));
    let python = String::from_utf8_lossy(&python.stdout).trim().to_string();
    let out = Command::new(&python)
        .arg(repo_root().join("hack/helm.py"))
        .args(["rbac", namespace])
        .output()
        .expect("hack/helm.py rbac");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_saphyr::from_multiple::<Value>(&String::from_utf8_lossy(&out.stdout)).expect("rendered YAML")
}

#[test]
fn the_hub_works_under_exactly_the_charts_rbac() {
    let clusters = start_parallel(&[("rbachub", Role::Hub), ("rbacmember", Role::Member)]);
    let (hub, member) = (&clusters[0], &clusters[1]);
    let ns = "fleet-system";
    hub.kubectl_ok(&["create", "ns", ns]);
    let rbac = rendered_rbac(ns);
    assert_eq!(rbac.len(), 5, "{rbac:?}");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": rbac});
    hub.apply(&list.to_string());

    // A kubeconfig with nothing but the chart ServiceAccount's token.
    let token = hub.kubectl_ok(&["create", "token", "stagehand-hub", "-n", ns, "--duration=1h"]);
    let dir = std::env::temp_dir().join(format!("stagehand-chart-rbac-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config_path = dir.join("kubeconfig");
    hub.token_kubeconfig("stagehand-hub", &token, &config_path);
    let log_path = dir.join("hub.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args([
            "hub",
            "--http-addr",
            &format!("127.0.0.1:{}", free_port()),
            "--resource-snapshot-creation-minimum-interval",
            "0s",
            "--resource-changes-collection-duration",
            "0s",
        ])
        .env("KUBECONFIG", &config_path)
        .env("POD_NAMESPACE", ns)
        .env("POD_NAME", "chart-rbac")
        .stdout(std::fs::File::create(&log_path).expect("log file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("starting stagehand hub");
    let guard = KillOnDrop(child.id());

    // A member with a real agent joins: the hub creates its namespace, Role and RoleBinding.
    hub.apply(
        &json!({"apiVersion": "cluster.kubernetes-fleet.io/v1beta1", "kind": "MemberCluster",
            "metadata": {"name": "rbac-a", "labels": {"stage": "all"}},
            "spec": {"identity": {"kind": "User", "name": "rbac-a"}, "heartbeatPeriodSeconds": 15}})
        .to_string(),
    );
    let mut agent = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["member", "--http-addr", "127.0.0.1:0"])
        .env("MEMBER_CLUSTER_NAME", "rbac-a")
        .env("HUB_KUBECONFIG", &hub.kubeconfig)
        .env("KUBECONFIG", &member.kubeconfig)
        .stdout(std::fs::File::create(dir.join("agent.log")).expect("agent log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("starting stagehand member");
    let agent_guard = KillOnDrop(agent.id());
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    wait_for("rbac-a joined under the chart's RBAC", WAIT, || {
        let joined = cells(&hub.kubectl_ok(&["get", "membercluster", "rbac-a"]), "rbac-a")[1] == "True";
        assert!(
            !log().contains("forbidden"),
            "the hub was refused something:\n{}",
            log()
        );
        joined.then_some(())
    });

    // A placement rolled out by a staged run with an approval.
    placement(
        hub,
        "rbac",
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    one_stage_strategy(hub, "rbac", "all", ("stage", "all"), json!([{"type": "Approval"}]));
    wait_for("a binding", WAIT, || {
        (!hub.kubectl_ok(&["get", "crb", "-o", "name"]).trim().is_empty()).then_some(())
    });
    hub.apply(
        r#"{"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": "rbac-run"},
            "spec": {"placementName": "rbac", "resourceSnapshotIndex": "0", "stagedRolloutStrategyName": "rbac", "state": "Run"}}"#,
    );
    // Only an after-stage approval: it is named `<run>-<stage>` (SD-2).
    wait_for("the after-stage approval request", WAIT, || {
        hub.kubectl(&["get", "clusterapprovalrequest", "rbac-run-all"])
            .status
            .success()
            .then_some(())
    });
    hub.kubectl_ok(&[
        "patch",
        "clusterapprovalrequest",
        "rbac-run-all",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Approved","status":"True","reason":"approved","message":"approved"}]}}"#,
    ]);
    wait_run_succeeded(hub, "rbac-run", WAIT);
    let value = member.kubectl_ok(&["get", "cm", "cm", "-n", "rbac", "-o", "jsonpath={.data.key}"]);
    assert_eq!(value, "value1");
    assert_available_at_generation_one(hub, &["crp", "rbac"], "rbac", WAIT);
    let holder = hub.kubectl_ok(&[
        "get",
        "lease",
        "stagehand-hub",
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert_eq!(holder, "chart-rbac", "the Lease lives in the release namespace");
    assert!(
        !log().contains("forbidden"),
        "the hub was refused something:\n{}",
        log()
    );

    agent.kill().expect("killing the agent");
    let _ = agent.wait();
    std::mem::forget(agent_guard);
    child.kill().expect("killing stagehand hub");
    let _ = child.wait();
    std::mem::forget(guard);
}
