//! Run control with two real member clusters joined by real `stagehand member` agents and a real
//! `stagehand hub`: retry of the failed clusters (SD-31), skip of a stage and of a cluster, a skip
//! list naming an unknown cluster, Abort (SD-32), and the admission rules that reject retry on a
//! run that did not fail and resuming an aborted run.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Role, TestCluster, cells, join_with_agents, start_parallel, wait_for};
use crate::hub::{free_port, spawn_hub_with};

const WAIT: Duration = Duration::from_secs(120);
const PLACEMENT: &str = "rc-placement";
const NAMESPACE: &str = "rc-namespace";
/// (MemberCluster, `environment` label).
const MEMBERS: [(&str, &str); 2] = [("rc-first", "first"), ("rc-second", "second")];

fn get_json(hub: &TestCluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&hub.kubectl_ok(&all)).expect("kubectl JSON")
}

fn condition(conditions: &Value, type_: &str) -> Option<Value> {
    conditions
        .as_array()?
        .iter()
        .find(|c| c["type"] == json!(type_))
        .cloned()
}

fn run_condition(hub: &TestCluster, run: &str, type_: &str) -> Option<Value> {
    condition(&get_json(hub, &["csur", run])["status"]["conditions"], type_)
}

fn wait_ended(hub: &TestCluster, run: &str) -> Value {
    wait_for(&format!("run {run} ended"), WAIT, || {
        run_condition(hub, run, "Succeeded")
    })
}

fn cluster_entry(run: &Value, cluster: &str) -> Value {
    run["status"]["stagesStatus"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["clusters"].as_array().cloned().unwrap_or_default())
        .find(|c| c["clusterName"] == json!(cluster))
        .unwrap_or(Value::Null)
}

fn binding_of(hub: &TestCluster, cluster: &str) -> Value {
    let list = get_json(
        hub,
        &["crb", "-l", &format!("kubernetes-fleet.io/parent-CRP={PLACEMENT}")],
    );
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["spec"]["targetCluster"] == json!(cluster))
        .cloned()
        .unwrap_or(Value::Null)
}

fn cm_value(member: &TestCluster) -> Option<String> {
    let out = member.kubectl(&["get", "cm", "rc-cm", "-n", NAMESPACE, "-o", "jsonpath={.data.key}"]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn strategy(hub: &TestCluster, name: &str, spec: Value) {
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": name}, "spec": spec})
        .to_string(),
    );
}

fn run(hub: &TestCluster, name: &str, index: &str, strategy: &str, extra: Value) {
    let mut spec =
        json!({"placementName": PLACEMENT, "resourceSnapshotIndex": index, "stagedRolloutStrategyName": strategy});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": name}, "spec": spec})
        .to_string(),
    );
}

fn patch_run(hub: &TestCluster, run: &str, spec: Value) -> std::process::Output {
    hub.kubectl(&[
        "patch",
        "csur",
        run,
        "--type=merge",
        "-p",
        &json!({"spec": spec}).to_string(),
    ])
}

#[test]
fn retry_skips_and_abort_with_real_members() {
    let clusters = start_parallel(&[
        ("rchub", Role::Hub),
        ("rcfirst", Role::Member),
        ("rcsecond", Role::Member),
    ]);
    let (hub, first, second) = (&clusters[0], &clusters[1], &clusters[2]);
    let (_hub_process, _hub_guard) = spawn_hub_with(hub, free_port(), &[]);
    join_with_agents(hub, &clusters[1..], &MEMBERS);

    // rc-first already has the namespace and ConfigMap, not managed by Fleet; the placement
    // never takes over, so applying there fails until someone removes them.
    first.kubectl_ok(&["create", "ns", NAMESPACE]);
    first.kubectl_ok(&[
        "create",
        "cm",
        "rc-cm",
        "--from-literal=key=member-owned",
        "-n",
        NAMESPACE,
    ]);
    hub.kubectl_ok(&["create", "ns", NAMESPACE]);
    hub.kubectl_ok(&["create", "cm", "rc-cm", "--from-literal=key=value1", "-n", NAMESPACE]);
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterResourcePlacement",
            "metadata": {"name": PLACEMENT},
            "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": NAMESPACE}],
                     "policy": {"placementType": "PickAll"},
                     "strategy": {"type": "External", "applyStrategy": {"whenToTakeOver": "Never"}}}})
        .to_string(),
    );
    strategy(
        hub,
        "rc-all",
        json!({"stages": [{"name": "all", "labelSelector": {}, "maxConcurrency": "100%", "maxFailures": 0}]}),
    );
    strategy(
        hub,
        "rc-two",
        json!({"stages": [
            {"name": "first", "labelSelector": {"matchLabels": {"environment": "first"}}},
            {"name": "second", "labelSelector": {"matchLabels": {"environment": "second"}},
             "beforeStageTasks": [{"type": "Approval"}]}]}),
    );
    wait_for("snapshot 0 and both bindings", WAIT, || {
        let snapshot = hub.kubectl(&["get", "clusterresourcesnapshot", &format!("{PLACEMENT}-0-snapshot")]);
        let bound = MEMBERS.iter().all(|(m, _)| !binding_of(hub, m).is_null());
        (snapshot.status.success() && bound).then_some(())
    });

    // 1. A budget of 0: rc-first cannot apply, the run fails; rc-second got the resources.
    run(hub, "rc-run-1", "0", "rc-all", json!({}));
    let failed = wait_ended(hub, "rc-run-1");
    assert_eq!(failed["status"], "False", "{failed}");
    assert!(
        failed["message"].as_str().unwrap_or_default().contains("rc-first"),
        "{failed}"
    );
    assert_eq!(cm_value(second).as_deref(), Some("value1"));
    assert_eq!(cm_value(first).as_deref(), Some("member-owned"));
    let before = get_json(hub, &["csur", "rc-run-1"]);
    let second_entry = cluster_entry(&before, "rc-second");
    let second_binding = binding_of(hub, "rc-second");

    // The cause is removed on the member; the retry re-applies the same snapshot to rc-first only.
    first.kubectl_ok(&["delete", "ns", NAMESPACE, "--wait=true"]);
    let retry = patch_run(hub, "rc-run-1", json!({"retryFailedClusters": 1}));
    assert!(retry.status.success(), "{}", String::from_utf8_lossy(&retry.stderr));
    let ended = wait_ended(hub, "rc-run-1");
    assert_eq!(ended["status"], "True", "{ended}");
    wait_for("rc-first has the hub's ConfigMap", WAIT, || {
        (cm_value(first).as_deref() == Some("value1")).then_some(())
    });
    let after = get_json(hub, &["csur", "rc-run-1"]);
    let retried = cluster_entry(&after, "rc-first");
    assert_eq!(
        condition(&retried["conditions"], "Started").map(|c| c["message"].clone()),
        Some(json!("Cluster update started again by spec.retryFailedClusters"))
    );
    // rc-second: the same binding spec and generation, the same conditions' times.
    let second_after = binding_of(hub, "rc-second");
    assert_eq!(second_after["spec"], second_binding["spec"]);
    assert_eq!(
        second_after["metadata"]["generation"],
        second_binding["metadata"]["generation"]
    );
    let times = |entry: &Value| -> Vec<Value> {
        entry["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| json!([c["type"], c["lastTransitionTime"]]))
            .collect()
    };
    // (rc-second may have been still updating when the run failed; it finished since.)
    let kept = times(&cluster_entry(&after, "rc-second"));
    for before in times(&second_entry) {
        assert!(kept.contains(&before), "rc-second's {before} changed: {kept:?}");
    }
    // A run that did not fail takes no retry: the API server says why.
    let refused = patch_run(hub, "rc-run-1", json!({"retryFailedClusters": 2}));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("spec.retryFailedClusters can be raised only on a run that failed"),
        "{stderr}"
    );

    // 2. A new version; a run that skips stage `second`, one that skips cluster rc-second, and
    //    one whose skip list names a cluster the run does not have.
    hub.kubectl_ok(&[
        "patch",
        "cm",
        "rc-cm",
        "-n",
        NAMESPACE,
        "--type=merge",
        "-p",
        r#"{"data":{"key":"value2"}}"#,
    ]);
    wait_for("snapshot 1", WAIT, || {
        hub.kubectl(&["get", "clusterresourcesnapshot", &format!("{PLACEMENT}-1-snapshot")])
            .status
            .success()
            .then_some(())
    });
    run(hub, "rc-run-2", "1", "rc-two", json!({"skipStages": ["second"]}));
    assert_eq!(wait_ended(hub, "rc-run-2")["status"], "True");
    let skipped_stage = get_json(hub, &["csur", "rc-run-2"]);
    assert_eq!(
        condition(&skipped_stage["status"]["stagesStatus"][1]["conditions"], "Succeeded").map(|c| c["reason"].clone()),
        Some(json!("StageUpdatingSkippedByRequest"))
    );
    assert_eq!(cm_value(first).as_deref(), Some("value2"));
    assert_eq!(
        cm_value(second).as_deref(),
        Some("value1"),
        "the skipped stage kept its version"
    );

    run(hub, "rc-run-3", "1", "rc-all", json!({"skipClusters": ["rc-second"]}));
    assert_eq!(wait_ended(hub, "rc-run-3")["status"], "True");
    let skipped = cluster_entry(&get_json(hub, &["csur", "rc-run-3"]), "rc-second");
    assert_eq!(
        condition(&skipped["conditions"], "Skipped").map(|c| c["reason"].clone()),
        Some(json!("ClusterUpdatingSkippedByRequest"))
    );
    assert_eq!(cm_value(second).as_deref(), Some("value1"));
    let counts = hub.kubectl_ok(&["get", "csur", "rc-run-3", "-o", super::COUNT_COLUMNS]);
    println!("{counts}");
    assert_eq!(cells(&counts, "rc-run-3")[1..], ["0", "1", "0"]);

    run(hub, "rc-run-4", "1", "rc-all", json!({"skipClusters": ["rc-nope"]}));
    let rejected = wait_for("rc-run-4 rejects its skip list", WAIT, || {
        run_condition(hub, "rc-run-4", "ControlAccepted")
    });
    assert_eq!(rejected["status"], "False");
    assert!(
        rejected["message"].as_str().unwrap_or_default().contains("rc-nope"),
        "{rejected}"
    );
    assert_eq!(wait_ended(hub, "rc-run-4")["status"], "True");
    wait_for(
        "rc-second updated by the run whose skip list was rejected",
        WAIT,
        || (cm_value(second).as_deref() == Some("value2")).then_some(()),
    );

    // 3. Abort: a rollback to index 0 waiting for its approval ends at once and cannot resume.
    run(hub, "rc-run-5", "0", "rc-two", json!({}));
    wait_for("rc-run-5 waits for approval", WAIT, || {
        hub.kubectl(&["get", "clusterapprovalrequest", "rc-run-5-second-before"])
            .status
            .success()
            .then_some(())
    });
    let abort = patch_run(hub, "rc-run-5", json!({"state": "Abort"}));
    assert!(abort.status.success(), "{}", String::from_utf8_lossy(&abort.stderr));
    let aborted = wait_ended(hub, "rc-run-5");
    assert_eq!(
        (aborted["status"].as_str(), aborted["reason"].as_str()),
        (Some("False"), Some("UpdateRunAborted"))
    );
    assert_eq!(
        cm_value(first).as_deref(),
        Some("value1"),
        "the first stage's rollback stays"
    );
    assert_eq!(
        cm_value(second).as_deref(),
        Some("value2"),
        "nothing more is rolled back"
    );
    let resume = patch_run(hub, "rc-run-5", json!({"state": "Run"}));
    assert!(!resume.status.success());
    let stderr = String::from_utf8_lossy(&resume.stderr);
    assert!(stderr.contains("an aborted run cannot be resumed"), "{stderr}");
}
