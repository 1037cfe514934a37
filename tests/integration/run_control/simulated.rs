//! Run control against a real hub API server running `stagehand hub`, with 60 simulated members
//! (`fleetsim`, failure injection by name): failure budgets (SD-29), progress deadlines (SD-30),
//! frozen membership (SD-28), the unmatched-cluster policy (SD-33), and what users see of them:
//! the `-o wide` numbers, Events and metrics (SD-34).
//!
//! The fleet, by `group` label (fleetsim `--split`, in name order):
//! - `a` sim-00001..10: sim-00003 and sim-00007 fail to apply;
//! - `b` sim-00011..20: sim-00012, sim-00015 and sim-00018 fail to apply;
//! - `c` sim-00021..25: sim-00022 never becomes available;
//! - `d` sim-00026..30: healthy (join / leave during a run);
//! - `e` sim-00031..55: healthy, matched by no stage;
//! - `f` sim-00056..60: not placed.

use std::process::Child;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Role, TestCluster, cells, start_parallel, wait_for};
use crate::hub::{KillOnDrop, free_port, http_get, spawn_hub_with};
use crate::pipeline::{placement, register_member, wait_run_succeeded};

const WAIT: Duration = Duration::from_secs(120);
const CLUSTERS: usize = 60;

fn spawn_fleetsim(hub: &TestCluster) -> (Child, KillOnDrop) {
    let clusters = CLUSTERS.to_string();
    crate::harness::spawn_fleetsim(
        hub,
        &[
            "--clusters",
            &clusters,
            "--create-member-clusters",
            "--split",
            "group=a:16,b:17,c:8,d:9,e:41,f:9",
            "--fail-apply",
            "sim-00003,sim-00007,sim-00012,sim-00015,sim-00018",
            "--never-available",
            "sim-00022",
            "--latency",
            "50ms-300ms",
            "--heartbeat-period",
            "30",
        ],
    )
}

fn get_json(hub: &TestCluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&hub.kubectl_ok(&all)).expect("kubectl JSON")
}

fn group_placement(hub: &TestCluster, name: &str, group: &str) {
    let affinity = json!({"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "clusterSelectorTerms": [{"labelSelector": {"matchLabels": {"group": group}}}]}}});
    placement(
        hub,
        name,
        json!({"placementType": "PickAll", "affinity": affinity}),
        json!({"type": "External"}),
    );
}

fn strategy(hub: &TestCluster, name: &str, spec: Value) {
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": name}, "spec": spec})
        .to_string(),
    );
}

fn run(hub: &TestCluster, name: &str, placement: &str, strategy: &str) {
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": name},
            "spec": {"placementName": placement, "resourceSnapshotIndex": "0", "stagedRolloutStrategyName": strategy}})
        .to_string(),
    );
}

/// Waits until the run succeeded; a failure ends the wait with the run's message.
fn expect_success(hub: &TestCluster, name: &str, timeout: Duration) {
    let ended = wait_for(&format!("run {name} ended"), timeout, || {
        let run = get_json(hub, &["csur", name]);
        condition(&run["status"]["conditions"], "Succeeded").cloned()
    });
    assert_eq!(ended["status"], "True", "run {name}: {ended}");
    wait_run_succeeded(hub, name, WAIT);
}

/// The run's `Succeeded` condition once it has one.
fn wait_ended(hub: &TestCluster, name: &str) -> Value {
    wait_for(&format!("run {name} ended"), WAIT, || {
        let run = get_json(hub, &["csur", name]);
        condition(&run["status"]["conditions"], "Succeeded").cloned()
    })
}

fn condition<'a>(conditions: &'a Value, type_: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == json!(type_))
}

/// Every cluster entry of the run's stages, by name.
fn cluster_entries(run: &Value) -> Vec<(String, Value)> {
    run["status"]["stagesStatus"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["clusters"].as_array().cloned().unwrap_or_default())
        .map(|c| (c["clusterName"].as_str().unwrap_or_default().to_string(), c))
        .collect()
}

fn cluster_condition(run: &Value, cluster: &str, type_: &str) -> Option<Value> {
    cluster_entries(run)
        .into_iter()
        .find(|(name, _)| name == cluster)
        .and_then(|(_, c)| condition(&c["conditions"], type_).cloned())
}

fn event_reasons(hub: &TestCluster, run: &str) -> Vec<String> {
    let out = hub.kubectl_ok(&[
        "get",
        "events",
        "-A",
        "--field-selector",
        &format!("involvedObject.name={run}"),
        "-o",
        "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}",
    ]);
    out.lines().map(str::to_string).collect()
}

fn seconds(value: &Value) -> i64 {
    value
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(0, |t| t.as_second())
}

#[test]
fn budgets_deadlines_frozen_membership_and_unmatched_clusters_on_sixty_simulated_members() {
    let hub = &start_parallel(&[("ctlhub", Role::Hub)])[0];
    let (_sim, _sim_guard) = spawn_fleetsim(hub);
    let port = free_port();
    let (_hub, _hub_guard) = spawn_hub_with(hub, port, &[]);
    wait_for("60 simulated members joined", WAIT, || {
        let out = hub.kubectl_ok(&[
            "get",
            "memberclusters",
            "-o",
            r#"jsonpath={range .items[*]}{.status.conditions[?(@.type=="Joined")].status}{"\n"}{end}"#,
        ]);
        (out.lines().filter(|l| *l == "True").count() == CLUSTERS).then_some(())
    });
    for (name, group) in [
        ("ctl-a", "a"),
        ("ctl-b", "b"),
        ("ctl-c", "c"),
        ("ctl-d", "d"),
        ("ctl-e", "e"),
    ] {
        group_placement(hub, name, group);
    }
    let all = json!({});
    strategy(
        hub,
        "budget-20",
        json!({"stages": [{"name": "all", "labelSelector": all, "maxConcurrency": "100%", "maxFailures": "20%"}]}),
    );
    strategy(
        hub,
        "deadline-30s",
        json!({"stages": [{"name": "all", "labelSelector": all, "maxConcurrency": "100%", "progressDeadline": "30s"}]}),
    );
    let index = "fleetsim.stagehand.io/index";
    strategy(
        hub,
        "frozen",
        json!({"membershipChanges": "Freeze", "stages": [
            {"name": "first", "labelSelector": {"matchExpressions": [{"key": index, "operator": "In", "values": ["26", "27"]}]}},
            {"name": "second", "maxConcurrency": "100%", "beforeStageTasks": [{"type": "Approval"}],
             "labelSelector": {"matchLabels": {"group": "d"}, "matchExpressions": [{"key": index, "operator": "NotIn", "values": ["26", "27"]}]}}]}),
    );
    let nothing = json!({"matchLabels": {"group": "nothing"}});
    for (name, policy) in [
        ("unmatched-fail", None),
        ("unmatched-skip", Some("Skip")),
        ("unmatched-final", Some("FinalStage")),
    ] {
        let mut spec = json!({"stages": [{"name": "none", "labelSelector": nothing}]});
        if let Some(policy) = policy {
            spec["unmatchedClusters"] = json!(policy);
        }
        strategy(hub, name, spec);
    }
    for placement in ["ctl-a", "ctl-b", "ctl-c", "ctl-d", "ctl-e"] {
        let snapshot = format!("{placement}-0-snapshot");
        wait_for(&format!("snapshot {snapshot}"), WAIT, || {
            hub.kubectl(&["get", "clusterresourcesnapshot", &snapshot])
                .status
                .success()
                .then_some(())
        });
    }

    // 1. Two of ten fail within a 20 % budget; three of ten exceed it; one never available with
    //    a 30 s deadline. Side by side.
    run(hub, "run-a", "ctl-a", "budget-20");
    run(hub, "run-b", "ctl-b", "budget-20");
    run(hub, "run-c", "ctl-c", "deadline-30s");
    run(hub, "run-d", "ctl-d", "frozen");
    run(hub, "run-e-fail", "ctl-e", "unmatched-fail");

    expect_success(hub, "run-a", WAIT);
    let run_a = get_json(hub, &["csur", "run-a"]);
    assert_eq!(
        run_a["status"]["clusterCounts"],
        json!({"failed": 2, "skipped": 0, "excluded": 0})
    );
    for failed in ["sim-00003", "sim-00007"] {
        let c = cluster_condition(&run_a, failed, "Succeeded").expect("failed cluster condition");
        assert_eq!(
            (c["status"].as_str(), c["reason"].as_str()),
            (Some("False"), Some("ClusterUpdatingFailed"))
        );
    }
    // The columns are upstream's, `-o wide` too (SD-3); the numbers are in the status, and a
    // custom-columns view shows them.
    let table = hub.kubectl_ok(&["get", "csur", "run-a", "-o", "wide"]);
    println!("{table}");
    assert_eq!(
        table
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>(),
        [
            "NAME",
            "PLACEMENT",
            "RESOURCE-SNAPSHOT-INDEX",
            "POLICY-SNAPSHOT-INDEX",
            "INITIALIZED",
            "PROGRESSING",
            "SUCCEEDED",
            "AGE",
            "STRATEGY"
        ]
    );
    let counts = hub.kubectl_ok(&["get", "csur", "run-a", "-o", super::COUNT_COLUMNS]);
    println!("{counts}");
    assert_eq!(cells(&counts, "run-a"), ["run-a", "2", "0", "0"]);
    let metrics = http_get(port, "/metrics").unwrap_or_default();
    assert!(
        metrics.contains(r#"stagehand_update_run_clusters{namespace="",name="run-a",outcome="failed"} 2"#),
        "metrics: {}",
        metrics
            .lines()
            .filter(|l| l.contains("update_run_clusters"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let reasons = event_reasons(hub, "run-a");
    println!("[run-control] Events of run-a: {reasons:?}");
    assert_eq!(
        reasons.iter().filter(|r| *r == "ClusterFailed").count(),
        2,
        "{reasons:?}"
    );

    let failed_b = wait_ended(hub, "run-b");
    assert_eq!(failed_b["status"], "False");
    let message = failed_b["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("3 of the 10 clusters in stage `all` failed")
            && message.contains("maxFailures 20% (2 of 10 clusters)")
            && message.contains("sim-00012, sim-00015, sim-00018"),
        "{message}"
    );
    let run_b = get_json(hub, &["csur", "run-b"]);
    let stage_b = condition(&run_b["status"]["stagesStatus"][0]["conditions"], "Succeeded").cloned();
    assert_eq!(
        stage_b.map(|c| c["reason"].clone()),
        Some(json!("StageUpdatingFailureBudgetExceeded"))
    );

    let failed_c = wait_ended(hub, "run-c");
    assert_eq!(failed_c["status"], "False");
    let run_c = get_json(hub, &["csur", "run-c"]);
    let started = cluster_condition(&run_c, "sim-00022", "Started").expect("started");
    let deadline = cluster_condition(&run_c, "sim-00022", "Succeeded").expect("failed");
    assert_eq!(deadline["reason"], "ClusterUpdatingDeadlineExceeded");
    let after = seconds(&deadline["lastTransitionTime"]) - seconds(&started["lastTransitionTime"]);
    println!("[run-control] sim-00022 failed {after} s after its update started (deadline 30 s)");
    assert!((30..=36).contains(&after), "failed {after} s after the start");

    // 2. Frozen membership: while run-d waits for its approval, sim-00030 leaves and a new
    //    member joins group d.
    wait_for("run-d waits for the approval of stage second", WAIT, || {
        hub.kubectl(&["get", "clusterapprovalrequest", "run-d-second-before"])
            .status
            .success()
            .then_some(())
    });
    hub.kubectl_ok(&["delete", "membercluster", "sim-00030", "--wait=false"]);
    register_member(hub, "joiner-d", &[("group", "d")], None);
    wait_for("the newcomer scheduled and the leaver unscheduled", WAIT, || {
        let bindings = get_json(hub, &["crb", "-l", "kubernetes-fleet.io/parent-CRP=ctl-d"]);
        let state = |cluster: &str| {
            bindings["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|b| b["spec"]["targetCluster"] == json!(cluster))
                .map(|b| b["spec"]["state"].as_str().unwrap_or_default().to_string())
        };
        let left = state("sim-00030").is_none_or(|s| s == "Unscheduled");
        (state("joiner-d").is_some() && left).then_some(())
    });
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let approve = json!({"status": {"conditions": [{"type": "Approved", "status": "True", "reason": "lgtm",
        "message": "lgtm", "lastTransitionTime": now, "observedGeneration": 1}]}});
    hub.kubectl_ok(&[
        "patch",
        "clusterapprovalrequest",
        "run-d-second-before",
        "--subresource=status",
        "--type=merge",
        "-p",
        &approve.to_string(),
    ]);
    expect_success(hub, "run-d", WAIT);
    let run_d = get_json(hub, &["csur", "run-d"]);
    let skipped = cluster_condition(&run_d, "sim-00030", "Skipped").expect("the leaver is skipped");
    assert_eq!(skipped["reason"], "ClusterUpdatingSkippedDeparted");
    assert_eq!(
        run_d["status"]["stagesStatus"][1]["excludedClusters"],
        json!(["joiner-d"])
    );
    assert_eq!(
        run_d["status"]["clusterCounts"],
        json!({"failed": 0, "skipped": 1, "excluded": 1})
    );
    assert!(event_reasons(hub, "run-d").contains(&"ClustersExcluded".to_string()));

    // 3. 25 picked clusters match no stage: the error names them all; Skip leaves them out;
    //    FinalStage updates them in a last stage.
    let init = wait_for("run-e-fail initialized or not", WAIT, || {
        let run = get_json(hub, &["csur", "run-e-fail"]);
        condition(&run["status"]["conditions"], "Initialized")
            .filter(|c| c["reason"] == "UpdateRunInitializedFailed")
            .cloned()
    });
    let message = init["message"].as_str().unwrap_or_default();
    for i in 31..=55 {
        assert!(message.contains(&format!("sim-{i:05}")), "{message}");
    }
    assert!(message.contains("total 25"), "{message}");
    run(hub, "run-e-skip", "ctl-e", "unmatched-skip");
    expect_success(hub, "run-e-skip", WAIT);
    let run_e = get_json(hub, &["csur", "run-e-skip"]);
    assert_eq!(run_e["status"]["clusterCounts"]["excluded"], 25);
    assert_eq!(run_e["status"]["unmatchedClusters"].as_array().map(Vec::len), Some(25));
    run(hub, "run-e-final", "ctl-e", "unmatched-final");
    expect_success(hub, "run-e-final", Duration::from_secs(180));
    let run_e = get_json(hub, &["csur", "run-e-final"]);
    let last = &run_e["status"]["stagesStatus"][1];
    assert_eq!(last["stageName"], "unmatched-clusters");
    assert_eq!(last["clusters"].as_array().map(Vec::len), Some(25));
}
