//! Run control (SD-29, SD-32, SD-34) on the namespaced kinds: the same fields and rules as the
//! cluster-scoped ones (which `run_control/` covers with members), on a real API server with the
//! in-process controllers; the test plays the members by writing binding conditions.

use serde_json::json;

use super::fixture::{Fleet, NAMESPACED, cells, cond, condition, seed_members};
use crate::harness::{run_hub, test_namespace, unique, wait_for};

/// What the work generator writes when a member could not apply the resources.
fn fail_to_apply(fleet: &Fleet, cluster: &str) {
    let binding = fleet.binding_json(cluster);
    let generation = binding["metadata"]["generation"].as_i64().unwrap_or(1);
    let failed = condition("Applied", "False", "ManifestApplyFailed", generation);
    let mut conditions: Vec<serde_json::Value> =
        binding["status"]["conditions"].as_array().cloned().unwrap_or_default();
    conditions.retain(|c| c["type"] != "Applied");
    conditions.push(condition("Applied", "False", "NotAllWorkHaveBeenApplied", generation));
    fleet.patch_status(
        "ResourceBinding",
        &fleet.binding_name(cluster),
        json!({"status": {
            "conditions": conditions,
            "failedPlacements": [{"version": "v1", "kind": "ConfigMap", "name": "test-cm", "condition": failed}],
        }}),
    );
}

#[test]
fn namespaced_runs_take_budgets_skips_and_abort() {
    let hub = run_hub();
    let ns = test_namespace(hub, "surctl");
    let p = unique("ctl-placement");
    let fleet = Fleet::new(&NAMESPACED, Some(ns.clone()), &p, &seed_members(&p));
    fleet.strategy(
        "tolerant",
        json!([{"name": "all", "labelSelector": {}, "maxConcurrency": "100%", "maxFailures": 1}]),
    );
    fleet.run("run-budget", "tolerant", Some("1"), Some("Run"));
    let (m1, m2, m3) = (format!("{p}-member1"), format!("{p}-member2"), format!("{p}-member3"));
    wait_for("every binding bound", super::fixture::WAIT, || {
        [&m1, &m2, &m3]
            .iter()
            .all(|m| fleet.binding_json(m)["spec"]["state"] == "Bound")
            .then_some(())
    });
    fleet.make_available(&m1);
    fleet.make_available(&m2);
    fail_to_apply(&fleet, &m3);
    fleet.wait_run("run-budget", "succeeded with one failure", |r| {
        cond(&r["status"]["conditions"], "Succeeded") == Some(("True".into(), "UpdateRunSucceeded".into()))
    });
    let counts = fleet.kubectl(&["get", "sur", "run-budget", "-o", crate::run_control::COUNT_COLUMNS]);
    println!("{counts}");
    assert_eq!(cells(&counts, "run-budget")[1..], ["1", "0", "0"]);

    // Skip a stage, and abort a run waiting for an approval; neither can be undone.
    fleet.strategy(
        "gated",
        json!([
            {"name": "staging", "labelSelector": {"matchLabels": {"environment": "staging"}}},
            {"name": "canary", "labelSelector": {"matchLabels": {"environment": "canary"}},
             "beforeStageTasks": [{"type": "Approval"}]},
        ]),
    );
    fleet.apply(
        json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "StagedUpdateRun",
        "metadata": {"name": "run-skip"},
        "spec": {"placementName": p, "resourceSnapshotIndex": "0", "stagedRolloutStrategyName": "gated",
                 "skipStages": ["canary"]}}),
    );
    wait_for("staging bound to snapshot 0", super::fixture::WAIT, || {
        (fleet.binding_json(&m2)["spec"]["resourceSnapshotName"] == json!(format!("{p}-0-snapshot"))).then_some(())
    });
    fleet.make_available(&m2);
    let run = fleet.wait_run("run-skip", "succeeded without its canary stage", |r| {
        cond(&r["status"]["conditions"], "Succeeded") == Some(("True".into(), "UpdateRunSucceeded".into()))
    });
    assert_eq!(
        cond(&run["status"]["stagesStatus"][1]["conditions"], "Succeeded"),
        Some(("True".into(), "StageUpdatingSkippedByRequest".into()))
    );
    assert_eq!(run["status"]["clusterCounts"]["skipped"], 2);
    assert_eq!(
        fleet.binding_json(&m1)["spec"]["resourceSnapshotName"],
        json!(format!("{p}-1-snapshot")),
        "the skipped stage's clusters keep their version"
    );

    fleet.run("run-abort", "gated", Some("1"), Some("Run"));
    wait_for("staging bound to snapshot 1 again", super::fixture::WAIT, || {
        (fleet.binding_json(&m2)["spec"]["resourceSnapshotName"] == json!(format!("{p}-1-snapshot"))).then_some(())
    });
    fleet.make_available(&m2);
    fleet.wait_approval("run-abort-canary-before");
    fleet.set_state("run-abort", "Abort");
    fleet.wait_run("run-abort", "aborted", |r| {
        cond(&r["status"]["conditions"], "Succeeded") == Some(("False".into(), "UpdateRunAborted".into()))
    });
    let refused = hub.kubectl(&[
        "patch",
        "sur",
        "run-abort",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"state":"Run"}}"#,
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("an aborted run cannot be resumed"));
}
