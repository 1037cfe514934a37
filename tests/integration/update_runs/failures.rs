//! Initialization failures, runs that fail mid-way, and the deletion stage.

use serde_json::json;

use super::fixture::{CLUSTER, Fleet, cond, has, message, seed_members};
use super::one_stage_no_tasks;
use crate::harness::{run_metrics, unique, wait_for};

/// Waits for `Initialized=False` with `reason` and returns its message.
fn init_outcome(fleet: &Fleet, run: &str, reason: &str) -> String {
    let status = fleet.wait_run(run, reason, |r| {
        cond(&r["status"]["conditions"], "Initialized") == Some(("False".into(), reason.into()))
    });
    message(&status["status"]["conditions"], "Initialized")
}

#[test]
fn each_initialization_failure_says_what_to_fix() {
    let p = unique("initfail");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    let strategy = format!("{p}-strategy");
    fleet.strategy(&strategy, one_stage_no_tasks());
    fleet.strategy(
        &format!("{p}-partial"),
        json!([{"name": "staging", "labelSelector": {"matchLabels": {"environment": "staging"}}}]),
    );
    fleet.strategy(
        &format!("{p}-overlap"),
        json!([{"name": "a", "labelSelector": {}}, {"name": "b", "labelSelector": {"matchLabels": {"environment": "canary"}}}]),
    );
    fleet.strategy(
        &format!("{p}-sorted"),
        json!([{"name": "all", "labelSelector": {}, "sortingLabelKey": "environment"}]),
    );
    let prefix = "cannot continue the updateRun: failed to validate the updateRun: failed to process the request due to a client error: ";
    let cases: Vec<(String, Option<&str>, String, String)> = vec![
        (
            format!("{p}-noplacement"),
            Some("1"),
            strategy.clone(),
            "parent placement not found".into(),
        ),
        (
            format!("{p}-nostrategy"),
            Some("1"),
            format!("{p}-missing"),
            format!("referenced updateStrategy not found: `/{p}-missing`"),
        ),
        (
            format!("{p}-badindex"),
            Some("-1"),
            strategy.clone(),
            "invalid resource snapshot index `-1` provided, expected an integer >= 0".into(),
        ),
        (
            format!("{p}-noindex"),
            Some("7"),
            strategy.clone(),
            format!("no resourceSnapshots with index `7` found for placement `/{p}`"),
        ),
        (
            format!("{p}-partial"),
            Some("1"),
            format!("{p}-partial"),
            format!("some clusters are not placed in any stage, total 2, showing up to 10: {p}-member1, {p}-member3"),
        ),
        (
            format!("{p}-overlap"),
            Some("1"),
            format!("{p}-overlap"),
            format!("cluster `{p}-member1` appears in more than one stages"),
        ),
        (
            format!("{p}-sorted"),
            Some("1"),
            format!("{p}-sorted"),
            format!("the sorting label `environment:canary` on cluster `{p}-member1` is not valid"),
        ),
    ];
    for (run, index, strategy, _) in &cases {
        if run.ends_with("-noplacement") {
            let mut spec = json!({"placementName": format!("{p}-absent"), "stagedRolloutStrategyName": strategy, "resourceSnapshotIndex": index});
            spec["state"] = json!("Run");
            fleet.apply(json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun", "metadata": {"name": run}, "spec": spec}));
        } else {
            fleet.run(run, strategy, *index, Some("Run"));
        }
    }
    for (run, _, _, expected) in &cases {
        let got = init_outcome(&fleet, run, "UpdateRunInitializedFailed");
        println!("[update_runs] {run}: {got}");
        assert!(got.starts_with(prefix), "{run}: {got}");
        assert!(
            got.contains(expected.as_str()),
            "{run}: expected {expected:?} in {got:?}"
        );
    }
    // Not External: a user error too.
    let rolling = unique("rolling");
    let other = Fleet::new(&CLUSTER, None, &rolling, &seed_members(&rolling));
    other.apply(json!({
        "apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterResourcePlacement",
        "metadata": {"name": format!("{rolling}-rolling")},
        "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": "x"}]},
    }));
    other.apply(json!({
        "apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
        "metadata": {"name": format!("{rolling}-run")},
        "spec": {"placementName": format!("{rolling}-rolling"), "stagedRolloutStrategyName": strategy, "resourceSnapshotIndex": "1"},
    }));
    let got = init_outcome(&other, &format!("{rolling}-run"), "UpdateRunInitializedFailed");
    assert!(
        got.contains("parent placement does not have an external rollout strategy, current strategy: RollingUpdate"),
        "{got}"
    );
}

#[test]
fn transient_states_keep_initialization_pending_until_they_resolve() {
    let p = unique("pending");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    fleet.strategy(&format!("{p}-strategy"), one_stage_no_tasks());
    // The policy snapshot is not scheduled yet.
    fleet.patch_status(
        CLUSTER.policy_snapshot,
        &format!("{p}-0"),
        json!({"status": {"conditions": [super::fixture::condition("Scheduled", "False", "NotScheduled", 1)]}}),
    );
    let run = format!("{p}-run");
    fleet.run(&run, &format!("{p}-strategy"), Some("1"), Some("Run"));
    let got = init_outcome(&fleet, &run, "UpdateRunInitializationPending");
    assert!(
        got.contains(&format!("policy snapshot `/{p}-0` not fully scheduled yet")),
        "{got}"
    );
    fleet.policy_snapshot(0);
    fleet.wait_run(&run, "initialized once scheduled", |r| {
        has(&r["status"]["conditions"], "Initialized", "True")
    });
}

#[test]
fn cluster_leaving_the_selection_mid_run_fails_the_run() {
    let p = unique("leave");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    fleet.strategy(&format!("{p}-strategy"), super::doc_b_stages("1h"));
    let run = format!("{p}-run");
    fleet.run(&run, &format!("{p}-strategy"), Some("1"), Some("Run"));
    fleet.wait_run(&run, "started", |r| {
        has(&r["status"]["stagesStatus"][0]["conditions"], "Progressing", "True")
    });
    fleet.kubectl(&[
        "label",
        "membercluster",
        &format!("{p}-member1"),
        "environment=staging",
        "--overwrite",
    ]);
    let status = fleet.wait_run(&run, "failed", |r| {
        has(&r["status"]["conditions"], "Succeeded", "False")
    });
    let text = message(&status["status"]["conditions"], "Succeeded");
    assert!(
        text.contains("the number of clusters in index `0` stage has changed"),
        "{text}"
    );
    assert_eq!(
        cond(&status["status"]["conditions"], "Progressing"),
        Some(("False".into(), "UpdateRunFailed".into()))
    );
}

#[test]
fn two_runs_racing_on_one_placement_fail_the_older_as_preempted() {
    let p = unique("race");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    fleet.strategy(&format!("{p}-strategy"), one_stage_no_tasks());
    let older = format!("{p}-older");
    fleet.run(&older, &format!("{p}-strategy"), Some("1"), Some("Run"));
    let first = format!("{p}-member3");
    wait_for("older run binds the first cluster", super::fixture::WAIT, || {
        (fleet.binding_json(&first)["spec"]["resourceSnapshotName"] == format!("{p}-1-snapshot")).then_some(())
    });
    let newer = format!("{p}-newer");
    fleet.run(&newer, &format!("{p}-strategy"), Some("0"), Some("Run"));
    wait_for("newer run rebinds it", super::fixture::WAIT, || {
        (fleet.binding_json(&first)["spec"]["resourceSnapshotName"] == format!("{p}-0-snapshot")).then_some(())
    });
    // The older run notices on its next pass (the binding change wakes it).
    let status = fleet.wait_run(&older, "preempted", |r| {
        has(&r["status"]["conditions"], "Succeeded", "False")
    });
    let text = message(&status["status"]["conditions"], "Succeeded");
    assert!(
        text.contains("concurrent updateRun referencing the same placement"),
        "{text}"
    );
    let cluster = &status["status"]["stagesStatus"][0]["clusters"][0];
    assert_eq!(
        cond(&cluster["conditions"], "Succeeded"),
        Some(("False".into(), "ClusterUpdatingFailed".into()))
    );
    assert_eq!(
        cond(&status["status"]["stagesStatus"][0]["conditions"], "Succeeded"),
        Some(("False".into(), "StageUpdatingFailed".into()))
    );
    // The newer run is unaffected.
    let newer_status = fleet.run_json(&newer);
    assert!(!has(&newer_status["status"]["conditions"], "Succeeded", "False"));
}

#[test]
fn deletion_stage_removes_the_binding_of_a_cluster_that_left() {
    let p = unique("delstage");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    let gone = format!("{p}-member2");
    fleet.binding(&gone, "Unscheduled");
    fleet.strategy(
        &format!("{p}-strategy"),
        json!([{"name": "canary", "labelSelector": {"matchLabels": {"environment": "canary"}}, "sortingLabelKey": "order", "maxConcurrency": "100%"}]),
    );
    let run = format!("{p}-run");
    fleet.run(&run, &format!("{p}-strategy"), Some("1"), Some("Run"));
    let status = fleet.wait_run(&run, "initialized", |r| {
        has(&r["status"]["conditions"], "Initialized", "True")
    });
    assert_eq!(
        status["status"]["deletionStageStatus"]["clusters"][0]["clusterName"],
        gone.as_str()
    );
    for member in ["member3", "member1"] {
        let name = format!("{p}-{member}");
        wait_for("bound", super::fixture::WAIT, || {
            (fleet.binding_json(&name)["spec"]["state"] == "Bound").then_some(())
        });
        fleet.make_available(&name);
    }
    let status = fleet.wait_run(&run, "succeeded", |r| {
        has(&r["status"]["conditions"], "Succeeded", "True")
    });
    assert!(
        fleet.get(CLUSTER.binding, &fleet.binding_name(&gone)).is_none(),
        "the binding was deleted"
    );
    let deletion = &status["status"]["deletionStageStatus"];
    assert!(has(&deletion["clusters"][0]["conditions"], "Succeeded", "True"));
    assert_eq!(
        cond(&deletion["conditions"], "Succeeded"),
        Some(("True".into(), "StageUpdatingSucceeded".into()))
    );
}

#[test]
fn deleted_run_leaves_no_metric_series() {
    let p = unique("metrics");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    fleet.strategy(&format!("{p}-strategy"), one_stage_no_tasks());
    let run = format!("{p}-run");
    fleet.run(&run, &format!("{p}-strategy"), Some("1"), Some("Initialize"));
    fleet.wait_run(&run, "initialized", |r| {
        has(&r["status"]["conditions"], "Initialized", "True")
    });
    let series = format!("name=\"{run}\"");
    wait_for("status metric emitted", super::fixture::WAIT, || {
        let text = run_metrics().encode();
        text.lines()
            .any(|l| {
                l.starts_with("fleet_workload_update_run_status_last_timestamp_seconds")
                    && l.contains(&series)
                    && l.contains("condition=\"Initialized\"")
                    && l.contains("state=\"Initialize\"")
            })
            .then_some(())
    });
    fleet.kubectl(&["delete", "csur", &run, "--wait=true", "--timeout=60s"]);
    wait_for("series removed", super::fixture::WAIT, || {
        (!run_metrics().encode().contains(&series)).then_some(())
    });
}

#[test]
fn snapshot_and_binding_problems_give_their_initialization_messages() {
    let p = unique("snapfail");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    fleet.strategy(&format!("{p}-strategy"), one_stage_no_tasks());
    let strategy = format!("{p}-strategy");

    // A master snapshot without its hash annotation is no master.
    fleet.kubectl(&[
        "annotate",
        CLUSTER.resource_snapshot,
        &format!("{p}-0-snapshot"),
        "kubernetes-fleet.io/resource-hash-",
    ]);
    fleet.run(&format!("{p}-nomaster"), &strategy, Some("0"), Some("Run"));
    let got = init_outcome(&fleet, &format!("{p}-nomaster"), "UpdateRunInitializedFailed");
    assert!(
        got.contains(&format!("no master resourceSnapshot found for placement /{p}")),
        "{got}"
    );

    // A policy snapshot without its index label is an internal error.
    fleet.kubectl(&[
        "label",
        CLUSTER.policy_snapshot,
        &format!("{p}-0"),
        "kubernetes-fleet.io/policy-index-",
    ]);
    fleet.run(&format!("{p}-noindexlabel"), &strategy, Some("1"), Some("Run"));
    let got = init_outcome(&fleet, &format!("{p}-noindexlabel"), "UpdateRunInitializedFailed");
    assert!(got.contains("does not have a policy index label"), "{got}");
    assert!(
        got.contains("unexpected behavior which cannot be handled by the controller"),
        "{got}"
    );

    // No latest policy snapshot, then no bindings: pending, and it says what it waits for.
    fleet.kubectl(&["delete", CLUSTER.policy_snapshot, &format!("{p}-0")]);
    fleet.run(&format!("{p}-nopolicy"), &strategy, Some("1"), Some("Run"));
    let got = init_outcome(&fleet, &format!("{p}-nopolicy"), "UpdateRunInitializationPending");
    assert!(
        got.contains(&format!("no latest policy snapshot found for placement /{p}")),
        "{got}"
    );
    for member in &fleet.members {
        fleet.kubectl(&["delete", CLUSTER.binding, &fleet.binding_name(member)]);
    }
    fleet.policy_snapshot(0);
    let status = fleet.wait_run(&format!("{p}-nopolicy"), "waiting for bindings", |r| {
        message(&r["status"]["conditions"], "Initialized").contains("no scheduled or to-be-deleted bindings found")
    });
    assert_eq!(
        cond(&status["status"]["conditions"], "Initialized"),
        Some(("False".into(), "UpdateRunInitializationPending".into()))
    );
    // Events say the same where `kubectl describe` shows them.
    let events = fleet.hub.kubectl_ok(&[
        "get",
        "events",
        "-n",
        "default",
        "--field-selector",
        &format!("involvedObject.name={p}-nopolicy"),
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    assert!(events.contains("InitializationPending"), "{events}");
}
