//! The `upstream` compatibility profile (SD-25) end to end, all real API servers: a hub of its
//! own running `stagehand hub --compat upstream` (the profile is per hub, so the shared
//! in-process hubs cannot carry it), and two member clusters joined by real `stagehand member`
//! agents. The KubeFleet how-to's flow (External placement, a staging stage with a TimedWait, a
//! canary stage with approvals before and after) behaves as upstream KubeFleet's code does. The
//! `documents` profile is what every other test and both seed walkthroughs run.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Role, TestCluster, cells, join_with_agents, start_parallel, wait_for};
use crate::hub::{KillOnDrop, free_port, spawn_hub_with};
use crate::pipeline::wait_run_succeeded;

const WAIT: Duration = Duration::from_secs(120);
const PLACEMENT: &str = "compat-placement";
const NAMESPACE: &str = "compat-namespace";
const RUN: &str = "compat-run";
/// (MemberCluster, `environment` label) of the two members, in the order of the clusters below.
const MEMBERS: [(&str, &str); 2] = [("compat-staging", "staging"), ("compat-canary", "canary")];

fn get_json(hub: &TestCluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&hub.kubectl_ok(&all)).expect("kubectl JSON")
}

/// Names of the placement's resource snapshots, sorted.
fn snapshots(hub: &TestCluster) -> Vec<String> {
    let out = hub.kubectl_ok(&[
        "get",
        "clusterresourcesnapshots",
        "-l",
        &format!("kubernetes-fleet.io/parent-CRP={PLACEMENT}"),
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
    ]);
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort();
    names
}

fn condition<'a>(conditions: &'a Value, type_: &str) -> &'a Value {
    conditions
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == json!(type_)))
        .unwrap_or_else(|| panic!("no {type_} condition in {conditions}"))
}

fn cm_value(member: &TestCluster) -> Option<String> {
    let out = member.kubectl(&["get", "cm", "test-cm", "-n", NAMESPACE, "-o", "jsonpath={.data.key}"]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `kubectl patch` of the placed ConfigMap's value on the hub.
fn edit_config_map(hub: &TestCluster, value: &str) {
    let patch = json!({"data": {"key": value}}).to_string();
    hub.kubectl_ok(&["patch", "cm", "test-cm", "-n", NAMESPACE, "--type=merge", "-p", &patch]);
}

/// Approves a ClusterApprovalRequest by name, as upstream's how-to does.
fn approve(hub: &TestCluster, name: &str) {
    wait_for(&format!("approval request {name}"), WAIT, || {
        hub.kubectl(&["get", "clusterapprovalrequest", name])
            .status
            .success()
            .then_some(())
    });
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let patch = json!({"status": {"conditions": [{"type": "Approved", "status": "True", "reason": "lgtm",
        "message": "lgtm", "lastTransitionTime": now, "observedGeneration": 1}]}});
    hub.kubectl_ok(&[
        "patch",
        "clusterapprovalrequest",
        name,
        "--type=merge",
        "--subresource=status",
        "-p",
        &patch.to_string(),
    ]);
}

fn placement_and_strategy(hub: &TestCluster) {
    hub.kubectl_ok(&["create", "ns", NAMESPACE]);
    hub.kubectl_ok(&["create", "cm", "test-cm", "--from-literal=key=value1", "-n", NAMESPACE]);
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterResourcePlacement",
            "metadata": {"name": PLACEMENT},
            "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": NAMESPACE}],
                     "policy": {"placementType": "PickAll"}, "strategy": {"type": "External"}}})
        .to_string(),
    );
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": PLACEMENT},
            "spec": {"stages": [
                {"name": "staging", "labelSelector": {"matchLabels": {"environment": "staging"}},
                 "afterStageTasks": [{"type": "TimedWait", "waitTime": "1s"}]},
                {"name": "canary", "labelSelector": {"matchLabels": {"environment": "canary"}},
                 "beforeStageTasks": [{"type": "Approval"}], "afterStageTasks": [{"type": "Approval"}]}]}})
        .to_string(),
    );
}

/// Every `Progressing` reason the run shows, as `kubectl get -w` streams it.
struct ProgressingWatch {
    child: std::process::Child,
    _guard: KillOnDrop,
}

impl ProgressingWatch {
    fn start(hub: &TestCluster) -> ProgressingWatch {
        let child = Command::new("kubectl")
            .args([
                "get",
                "csur",
                RUN,
                "-w",
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Progressing")].reason}{"\n"}"#,
            ])
            .env("KUBECONFIG", &hub.kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get -w");
        let guard = KillOnDrop(child.id());
        ProgressingWatch { child, _guard: guard }
    }

    fn reasons(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        let _ = self.child.wait();
        out.lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
    }
}

#[test]
fn sd25_the_upstream_profile_runs_the_kubefleet_flow_as_upstreams_code_does() {
    let clusters = start_parallel(&[
        ("compathub", Role::Hub),
        ("compatstaging", Role::Member),
        ("compatcanary", Role::Member),
    ]);
    let (hub, members) = (&clusters[0], &clusters[1..]);
    let (_hub_process, _hub_guard) = spawn_hub_with(hub, free_port(), &["--compat", "upstream"]);
    join_with_agents(hub, members, &MEMBERS);
    placement_and_strategy(hub);

    // Scheduled, bound, and yet no resource snapshot: upstream leaves that to the first run.
    wait_for("both clusters scheduled", WAIT, || {
        let table = hub.kubectl_ok(&["get", "crp", PLACEMENT]);
        (cells(&table, PLACEMENT)[2] == "True").then_some(())
    });
    wait_for("a binding per member", WAIT, || {
        let out = hub.kubectl_ok(&[
            "get",
            "crb",
            "-l",
            &format!("kubernetes-fleet.io/parent-CRP={PLACEMENT}"),
            "-o",
            "name",
        ]);
        (out.lines().count() == MEMBERS.len()).then_some(())
    });
    assert_eq!(
        snapshots(hub),
        Vec::<String>::new(),
        "no snapshot before a run asks for one"
    );
    let crp = get_json(hub, &["crp", PLACEMENT]);
    assert_eq!(crp["status"].get("observedResourceIndex"), None, "{}", crp["status"]);
    edit_config_map(hub, "value2");

    // A run without an index takes the resources as they are now: the first snapshot, index 0.
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": RUN},
            "spec": {"placementName": PLACEMENT, "stagedRolloutStrategyName": PLACEMENT, "state": "Initialize"}})
        .to_string(),
    );
    wait_for("the run initialized", WAIT, || {
        let table = hub.kubectl_ok(&["get", "csur", RUN]);
        (cells(&table, RUN)[4] == "True").then_some(())
    });
    assert_eq!(snapshots(hub), vec![format!("{PLACEMENT}-0-snapshot")]);
    let run = get_json(hub, &["csur", RUN]);
    assert_eq!(run["status"]["resourceSnapshotIndexUsed"], json!("0"));
    let initialized = condition(&run["status"]["conditions"], "Initialized");
    assert_eq!(initialized["reason"], json!("UpdateRunInitializedSuccessfully"));
    assert_eq!(initialized["message"], json!("The UpdateRun initialized successfully"));
    let canary = &run["status"]["stagesStatus"][1];
    assert_eq!(
        canary["beforeStageTaskStatus"][0]["approvalRequestName"],
        json!(format!("{RUN}-before-canary"))
    );
    assert_eq!(
        canary["afterStageTaskStatus"][0]["approvalRequestName"],
        json!(format!("{RUN}-after-canary"))
    );

    let watch = ProgressingWatch::start(hub);
    hub.kubectl_ok(&[
        "patch",
        "csur",
        RUN,
        "--type=merge",
        "-p",
        r#"{"spec":{"state":"Run"}}"#,
    ]);
    approve(hub, &format!("{RUN}-before-canary"));
    approve(hub, &format!("{RUN}-after-canary"));
    wait_run_succeeded(hub, RUN, WAIT);

    let reasons = watch.reasons();
    assert!(reasons.iter().any(|r| r == "UpdateRunProgressing"), "{reasons:?}");
    assert!(!reasons.iter().any(|r| r == "UpdateRunStarted"), "{reasons:?}");
    let run = get_json(hub, &["csur", RUN]);
    for (position, task) in [("before", "beforeStageTaskStatus"), ("after", "afterStageTaskStatus")] {
        let conditions = &run["status"]["stagesStatus"][1][task][0]["conditions"];
        assert_eq!(
            condition(conditions, "ApprovalRequestCreated")["reason"],
            json!("StageTaskApprovalRequestCreated"),
            "{position}"
        );
        assert_eq!(
            condition(conditions, "ApprovalRequestApproved")["reason"],
            json!("StageTaskApprovalRequestApproved"),
            "{position}"
        );
        assert_eq!(
            condition(conditions, "ApprovalRequestCreated")["message"],
            json!("ApprovalRequest object is created")
        );
    }
    for member in members {
        assert_eq!(
            cm_value(member).as_deref(),
            Some("value2"),
            "the members run what the run snapshotted"
        );
    }

    // A later edit on the hub keeps index 0 until a run asks again.
    edit_config_map(hub, "value3");
    wait_for("the change detected and held for a run", WAIT, || {
        let snapshot = get_json(hub, &["clusterresourcesnapshot", &format!("{PLACEMENT}-0-snapshot")]);
        snapshot["metadata"]["annotations"]
            .get("kubernetes-fleet.io/next-resource-snapshot-candidate-detection-time")
            .map(|_| ())
    });
    assert_eq!(snapshots(hub), vec![format!("{PLACEMENT}-0-snapshot")]);
    let crp = get_json(hub, &["crp", PLACEMENT]);
    assert_eq!(crp["status"]["observedResourceIndex"], json!("0"));
    for member in members {
        assert_eq!(cm_value(member).as_deref(), Some("value2"));
    }
}
