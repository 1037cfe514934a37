//! The CI-sized fleet scenario (issue: fleet scale): 50 simulated members (`fleetsim`, the binary
//! users run) joined to a real hub running `stagehand hub`, one External placement over all of
//! them and a 3-stage strategy (20/30/50 %, `maxConcurrency: 50%`). Asserts correctness only,
//! from the members' side as the simulator recorded it: every run succeeds, every cluster got
//! each index exactly once, stages ran in order, and no stage had more clusters applying at once
//! than `maxConcurrency` allows. Timings belong to `make bench`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use serde_json::json;
use stagehand::fleetsim::record::{Entry, Step, read};

use crate::harness::{Role, TestCluster, start_parallel, wait_for};
use crate::hub::{KillOnDrop, free_port, spawn_hub_with};
use crate::pipeline::{placement, wait_run_succeeded};

const CLUSTERS: usize = 50;
/// (stage, share of the fleet in percent), in the strategy's order.
const STAGES: [(&str, usize); 3] = [("one", 20), ("two", 30), ("three", 50)];

fn spawn_fleetsim(hub: &TestCluster, record: &Path) -> (Child, KillOnDrop) {
    let split = format!("sim-stage={}", STAGES.map(|(s, p)| format!("{s}:{p}")).join(","));
    let clusters = CLUSTERS.to_string();
    let record = record.to_str().expect("record path");
    crate::harness::spawn_fleetsim(
        hub,
        &[
            "--clusters",
            &clusters,
            "--create-member-clusters",
            "--split",
            &split,
            "--latency",
            "50ms-400ms",
            "--heartbeat-period",
            "30",
            "--record",
            record,
        ],
    )
}

fn strategy(hub: &TestCluster) {
    let stages: Vec<_> = STAGES
        .iter()
        .map(|(stage, _)| json!({"name": stage, "maxConcurrency": "50%", "labelSelector": {"matchLabels": {"sim-stage": stage}}}))
        .collect();
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": "sim-three-stages"}, "spec": {"stages": stages}})
        .to_string(),
    );
}

fn run(hub: &TestCluster, name: &str, index: &str) {
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": name},
            "spec": {"placementName": "sim-placement", "resourceSnapshotIndex": index,
                     "stagedRolloutStrategyName": "sim-three-stages", "state": "Run"}})
        .to_string(),
    );
}

/// The stage of every simulated cluster, as the hub's MemberCluster labels say.
fn stage_of_clusters(hub: &TestCluster) -> BTreeMap<String, String> {
    let out = hub.kubectl_ok(&[
        "get",
        "memberclusters",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name}{" "}{.metadata.labels.sim-stage}{"\n"}{end}"#,
    ]);
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(c, s)| (c.to_string(), s.to_string()))
        .collect()
}

/// Checks one run's record (the entries for `index` between `from_ms` and now).
fn check_run(entries: &[Entry], stages: &BTreeMap<String, String>, index: &str, from_ms: i64) {
    let mine: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.placement == "sim-placement" && e.index == index && e.at_ms >= from_ms)
        .collect();
    // Every cluster was asked to apply the index exactly once, and reported it.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for e in mine.iter().filter(|e| e.step == Step::Seen) {
        *seen.entry(&e.cluster).or_default() += 1;
    }
    assert_eq!(seen.len(), CLUSTERS, "clusters that got index {index}: {seen:?}");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "clusters that got index {index} more than once: {twice:?}"
    );
    let reported: BTreeSet<&str> = mine
        .iter()
        .filter(|e| e.step == Step::Reported)
        .map(|e| e.cluster.as_str())
        .collect();
    assert_eq!(reported.len(), CLUSTERS, "every cluster reported index {index}");

    let mut previous_end = i64::MIN;
    for (stage, share) in STAGES {
        let in_stage = |e: &&&Entry| stages.get(&e.cluster).map(String::as_str) == Some(stage);
        let events: Vec<&&Entry> = mine.iter().filter(in_stage).collect();
        let size = CLUSTERS * share / 100;
        let first_seen = events
            .iter()
            .filter(|e| e.step == Step::Seen)
            .map(|e| e.at_ms)
            .min()
            .unwrap();
        let last_reported = events
            .iter()
            .filter(|e| e.step == Step::Reported)
            .map(|e| e.at_ms)
            .max()
            .unwrap();
        assert!(
            first_seen >= previous_end,
            "stage {stage} started at {first_seen} before the previous stage finished at {previous_end}"
        );
        previous_end = last_reported;
        // maxConcurrency 50 % of the stage, rounded down, at least 1.
        let allowed = (size * 50 / 100).max(1);
        let mut timeline: Vec<(i64, i32)> = events
            .iter()
            .filter(|e| e.step != Step::Removed)
            .map(|e| (e.at_ms, if e.step == Step::Seen { 1 } else { -1 }))
            .collect();
        // At one instant, count a report before a new start (the hub starts the next cluster after it).
        timeline.sort();
        let (mut now, mut most) = (0, 0);
        for (_, delta) in timeline {
            now += delta;
            most = most.max(now);
        }
        println!(
            "[fleet] index {index} stage {stage}: {size} clusters, at most {most} applying at once (allowed {allowed})"
        );
        assert!(
            most as usize <= allowed,
            "stage {stage}: {most} clusters applying at once, maxConcurrency allows {allowed}"
        );
        assert!(most >= 1);
    }
}

/// Waits for snapshot `index` of the placement, starts run `sim-run-<index>` for it and waits until
/// it succeeded; returns when it started (ms since the epoch).
fn run_when_snapshotted(hub: &TestCluster, index: &str) -> i64 {
    let snapshot = format!("sim-placement-{index}-snapshot");
    wait_for(&format!("snapshot {index}"), Duration::from_secs(60), || {
        let out = hub.kubectl_ok(&[
            "get",
            "clusterresourcesnapshots",
            "--ignore-not-found",
            &snapshot,
            "-o",
            "name",
        ]);
        (!out.trim().is_empty()).then_some(())
    });
    let start = jiff::Timestamp::now().as_millisecond();
    let name = format!("sim-run-{index}");
    run(hub, &name, index);
    wait_run_succeeded(hub, &name, Duration::from_secs(180));
    start
}

fn record_path(hub: &TestCluster) -> PathBuf {
    hub.kubeconfig
        .parent()
        .expect("cluster directory")
        .join("fleetsim.jsonl")
}

#[test]
fn fifty_simulated_members_take_two_runs_in_stage_order_within_max_concurrency() {
    let hub = &start_parallel(&[("simhub", Role::Hub)])[0];
    let record = record_path(hub);
    let (_sim, _sim_guard) = spawn_fleetsim(hub, &record);
    // SD-22/SD-23: runs and placements over more than 20 clusters keep a compact status, so this
    // fleet of 50 shows both.
    let (_hub, _hub_guard) = spawn_hub_with(
        hub,
        free_port(),
        &[
            "--run-status-inline-limit",
            "20",
            "--placement-status-inline-limit",
            "20",
        ],
    );
    wait_for("50 simulated members joined", Duration::from_secs(120), || {
        (crate::harness::joined_members(hub) == CLUSTERS).then_some(())
    });
    let stages = stage_of_clusters(hub);
    assert_eq!(stages.len(), CLUSTERS);

    strategy(hub);
    placement(
        hub,
        "sim-placement",
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    let start = run_when_snapshotted(hub, "0");
    check_run(&read(&record).expect("the record"), &stages, "0", start);

    hub.kubectl_ok(&[
        "patch",
        "cm",
        "cm",
        "-n",
        "sim-placement",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"key":"value2"}}"#,
    ]);
    let start = run_when_snapshotted(hub, "1");
    let entries = read(&record).expect("the record");
    check_run(&entries, &stages, "1", start);
    // The second run applied nothing but its index.
    let others: Vec<_> = entries
        .iter()
        .filter(|e| e.at_ms >= start && e.step == Step::Seen && e.index != "1")
        .collect();
    assert!(
        others.is_empty(),
        "the run for index 1 applied other indexes: {others:?}"
    );
    let table = hub.kubectl_ok(&["get", "csur"]);
    println!("{table}");
    for index in ["0", "1"] {
        check_compact_status(hub, &format!("sim-run-{index}"), &stages);
    }
    check_compact_placement(hub);
}

/// SD-23: once every cluster is done, the placement lists none and counts all 50; its columns
/// say what upstream's would.
fn check_compact_placement(hub: &TestCluster) {
    wait_for("the placement available on index 1", Duration::from_secs(60), || {
        let out = hub.kubectl_ok(&["get", "crp", "sim-placement", "-o", "json"]);
        let crp: serde_json::Value = serde_json::from_str(&out).expect("placement JSON");
        let summary = &crp["status"]["clusterSummary"];
        let listed = crp["status"]["placementStatuses"].as_array().map_or(0, Vec::len);
        (summary["total"].as_i64() == Some(CLUSTERS as i64)
            && summary["doneUnlisted"].as_i64() == Some(CLUSTERS as i64)
            && listed == 0
            && crp["status"]["observedResourceIndex"].as_str() == Some("1"))
        .then_some(out.len())
    });
    let columns = hub.kubectl_ok(&[
        "get",
        "crp",
        "sim-placement",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"ClusterResourcePlacementAvailable\")].status} {.status.conditions[?(@.type==\"ClusterResourcePlacementAvailable\")].message}",
    ]);
    assert_eq!(
        columns,
        format!("True The selected resources in {CLUSTERS} cluster(s) are available now")
    );
    println!("{}", hub.kubectl_ok(&["get", "crp", "sim-placement"]));
}

/// SD-22: a finished compact run lists no cluster and counts every one of each stage as succeeded.
fn check_compact_status(hub: &TestCluster, run: &str, stages: &BTreeMap<String, String>) {
    let out = hub.kubectl_ok(&["get", "csur", run, "-o", "json"]);
    let status: serde_json::Value = serde_json::from_str(&out).expect("run JSON");
    let stage_statuses = status["status"]["stagesStatus"].as_array().expect("stagesStatus");
    assert_eq!(stage_statuses.len(), STAGES.len());
    for (stage, (name, _)) in stage_statuses.iter().zip(STAGES) {
        let expected = stages.values().filter(|s| s.as_str() == name).count() as i64;
        let summary = &stage["clusterSummary"];
        assert_eq!(
            summary["total"].as_i64(),
            Some(expected),
            "{run} stage {name}: {summary}"
        );
        assert_eq!(
            summary["succeeded"].as_i64(),
            Some(expected),
            "{run} stage {name}: {summary}"
        );
        assert_eq!(summary["updating"].as_i64(), Some(0));
        assert_eq!(
            stage["clusters"].as_array().map(Vec::len),
            Some(0),
            "{run} stage {name} lists clusters"
        );
        assert_eq!(summary["clustersDigest"].as_str().map(str::len), Some(16));
    }
    println!("[fleet] {run}: compact status of {} bytes", out.len());
}
