//! The seed documents' flows and the behaviours around them.

use std::time::{Duration, Instant};

use super::fixture::{CLUSTER, Fleet, NAMESPACED, cells, cond, has, seed_members};
use super::{doc_a_stages, doc_b_stages, one_stage_no_tasks};
use crate::harness::{run_hub, test_namespace, unique, wait_for};

fn stage(run: &serde_json::Value, i: usize) -> &serde_json::Value {
    &run["status"]["stagesStatus"][i]
}

fn bound_to(fleet: &Fleet, cluster: &str, snapshot: &str) -> bool {
    let b = fleet.binding_json(cluster);
    b["spec"]["state"] == "Bound" && b["spec"]["resourceSnapshotName"] == snapshot
}

#[test]
fn doc_a_cluster_scoped_flow_with_approvals_and_rollback() {
    let fleet = Fleet::new(&CLUSTER, None, "example-placement", &seed_members(""));
    fleet.strategy("example-strategy", doc_a_stages("5s"));
    fleet.run("example-run", "example-strategy", Some("1"), Some("Initialize"));

    // Initialize: stages computed, nothing rolled out.
    let run = fleet.wait_run("example-run", "initialized", |r| {
        has(&r["status"]["conditions"], "Initialized", "True")
    });
    assert_eq!(
        super::fixture::message(&run["status"]["conditions"], "Initialized"),
        "ClusterStagedUpdateRun initialized successfully"
    );
    assert_eq!(stage(&run, 0)["clusters"][0]["clusterName"], "member2");
    assert_eq!(stage(&run, 1)["clusters"][0]["clusterName"], "member3");
    assert_eq!(stage(&run, 1)["clusters"][1]["clusterName"], "member1");
    assert_eq!(
        stage(&run, 1)["beforeStageTaskStatus"][0]["approvalRequestName"],
        "example-run-canary-before"
    );
    assert_eq!(
        stage(&run, 1)["afterStageTaskStatus"][0]["approvalRequestName"],
        "example-run-canary-after"
    );
    assert_eq!(
        run["status"]["stagedUpdateStrategySnapshot"]["stages"][0]["afterStageTasks"][0]["waitTime"],
        "5s"
    );
    assert_eq!(run["status"]["deletionStageStatus"]["clusters"], serde_json::json!([]));
    assert_eq!(
        run["metadata"]["finalizers"][0],
        "kubernetes-fleet.io/stagedupdaterun-finalizer"
    );
    assert_eq!(fleet.binding_json("member2")["spec"]["state"], "Scheduled");
    let table = fleet.kubectl(&["get", "csur", "example-run"]);
    assert_eq!(
        cells(&table, "example-run")[1..7],
        ["example-placement", "1", "0", "True", "", ""]
    );

    // Run: staging's member2 is bound to snapshot 1.
    fleet.set_state("example-run", "Run");
    wait_for("member2 bound to snapshot 1", super::fixture::WAIT, || {
        bound_to(&fleet, "member2", "example-placement-1-snapshot").then_some(())
    });
    let table = fleet.kubectl(&["get", "csur", "example-run"]);
    assert_eq!(
        cells(&table, "example-run")[1..7],
        ["example-placement", "1", "0", "True", "True", ""]
    );
    let rollout = fleet.binding_json("member2");
    assert!(has(&rollout["status"]["conditions"], "RolloutStarted", "True"));

    // member2 Available → TimedWait → canary waits for its before-stage approval.
    fleet.make_available("member2");
    fleet.wait_run("example-run", "staging waits for its TimedWait", |r| {
        cond(&stage(r, 0)["conditions"], "Progressing") == Some(("False".into(), "StageUpdatingWaiting".into()))
    });
    fleet.wait_approval("example-run-canary-before");
    let run = fleet.wait_run("example-run", "staging succeeded", |r| {
        has(&stage(r, 0)["conditions"], "Succeeded", "True")
    });
    assert!(has(
        &stage(&run, 0)["afterStageTaskStatus"][0]["conditions"],
        "WaitTimeElapsed",
        "True"
    ));
    let table = fleet.kubectl(&["get", "clusterapprovalrequest"]);
    assert_eq!(
        cells(&table, "example-run-canary-before")[1..5],
        ["example-run", "canary", "", ""]
    );
    let run = fleet.wait_run("example-run", "waiting for the before-stage approval", |r| {
        cond(&r["status"]["conditions"], "Progressing") == Some(("False".into(), "UpdateRunWaiting".into()))
    });
    assert_eq!(
        cond(
            &stage(&run, 1)["beforeStageTaskStatus"][0]["conditions"],
            "ApprovalRequestCreated"
        ),
        Some(("True".into(), "BeforeStageTaskApprovalRequestCreated".into()))
    );
    assert_eq!(fleet.binding_json("member3")["spec"]["state"], "Scheduled");

    // Doc A's short approval patch; maxConcurrency 2 starts member3 and member1 together.
    fleet.approve("example-run-canary-before");
    wait_for("member3 and member1 bound", super::fixture::WAIT, || {
        (bound_to(&fleet, "member3", "example-placement-1-snapshot")
            && bound_to(&fleet, "member1", "example-placement-1-snapshot"))
        .then_some(())
    });
    let approval = fleet
        .get("clusterapprovalrequest", "example-run-canary-before")
        .expect("approval");
    assert!(has(&approval["status"]["conditions"], "ApprovalAccepted", "True"));
    assert!(
        approval["status"]["conditions"][0]["lastTransitionTime"].is_string(),
        "SD-8: filled in"
    );

    fleet.make_available("member3");
    fleet.make_available("member1");
    fleet.wait_approval("example-run-canary-after");
    let table = fleet.kubectl(&["get", "clusterapprovalrequest"]);
    assert_eq!(
        cells(&table, "example-run-canary-after")[1..5],
        ["example-run", "canary", "", ""]
    );
    fleet.approve("example-run-canary-after");
    let run = fleet.wait_run("example-run", "succeeded", |r| {
        has(&r["status"]["conditions"], "Succeeded", "True")
    });
    assert_eq!(
        cond(&run["status"]["conditions"], "Progressing"),
        Some(("False".into(), "UpdateRunSucceeded".into()))
    );
    let table = fleet.kubectl(&["get", "clusterapprovalrequest"]);
    for name in ["example-run-canary-before", "example-run-canary-after"] {
        assert_eq!(cells(&table, name)[1..5], ["example-run", "canary", "True", "True"]);
    }
    let table = fleet.kubectl(&["get", "csur", "example-run"]);
    assert_eq!(
        cells(&table, "example-run")[1..7],
        ["example-placement", "1", "0", "True", "False", "True"]
    );

    // Rollback: a new run with index "0" points every binding back at snapshot 0.
    fleet.strategy("rollback-strategy", one_stage_no_tasks());
    fleet.run("example-run-2", "rollback-strategy", Some("0"), Some("Run"));
    for member in ["member3", "member1", "member2"] {
        wait_for(&format!("{member} rolled back"), super::fixture::WAIT, || {
            bound_to(&fleet, member, "example-placement-0-snapshot").then_some(())
        });
        fleet.make_available(member);
    }
    fleet.wait_run("example-run-2", "rollback succeeded", |r| {
        has(&r["status"]["conditions"], "Succeeded", "True")
    });

    // Every transition was published as an Event on the run.
    let events = fleet.hub.kubectl_ok(&[
        "get",
        "events",
        "-n",
        "default",
        "--field-selector",
        "involvedObject.name=example-run",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    for reason in [
        "Initialized",
        "StageStarted",
        "StageWaiting",
        "ApprovalRequested",
        "ApprovalAccepted",
        "StageSucceeded",
        "Succeeded",
    ] {
        assert!(events.contains(reason), "no {reason} event in: {events}");
    }

    // Deleting a run removes its approval requests (finalizer).
    fleet.kubectl(&["delete", "csur", "example-run", "--wait=true", "--timeout=60s"]);
    assert!(
        fleet
            .get("clusterapprovalrequest", "example-run-canary-before")
            .is_none()
    );
    assert!(
        fleet
            .get("clusterapprovalrequest", "example-run-canary-after")
            .is_none()
    );
}

#[test]
fn doc_b_run_without_state_executes_and_names_the_after_approval_run_stage() {
    let p = unique("docb");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    fleet.strategy(&format!("{p}-strategy"), doc_b_stages("2s"));
    let run = format!("{p}-run");
    fleet.run(&run, &format!("{p}-strategy"), Some("1"), None);
    let staging = format!("{p}-member2");
    wait_for("staging bound", super::fixture::WAIT, || {
        bound_to(&fleet, &staging, &format!("{p}-1-snapshot")).then_some(())
    });
    fleet.make_available(&staging);
    // No before-stage approval: canary starts right after the TimedWait, one cluster at a time.
    let first = format!("{p}-member3");
    wait_for("canary member3 bound", super::fixture::WAIT, || {
        bound_to(&fleet, &first, &format!("{p}-1-snapshot")).then_some(())
    });
    assert_eq!(
        fleet.binding_json(&format!("{p}-member1"))["spec"]["state"],
        "Scheduled"
    );
    fleet.make_available(&first);
    let second = format!("{p}-member1");
    wait_for("canary member1 bound", super::fixture::WAIT, || {
        bound_to(&fleet, &second, &format!("{p}-1-snapshot")).then_some(())
    });
    fleet.make_available(&second);
    let approval = format!("{run}-canary");
    fleet.wait_approval(&approval);
    let status = fleet.wait_run(&run, "after-stage approval requested", |r| {
        cond(
            &stage(r, 1)["afterStageTaskStatus"][0]["conditions"],
            "ApprovalRequestCreated",
        )
        .is_some()
    });
    assert_eq!(
        cond(
            &stage(&status, 1)["afterStageTaskStatus"][0]["conditions"],
            "ApprovalRequestCreated"
        ),
        Some(("True".into(), "AfterStageTaskApprovalRequestCreated".into()))
    );
    fleet.approve(&approval);
    let status = fleet.wait_run(&run, "succeeded", |r| {
        has(&r["status"]["conditions"], "Succeeded", "True")
    });
    assert_eq!(status["spec"]["state"], "Run", "SD-1: absent state means Run");
    let staging_stage = stage(&status, 0);
    assert_eq!(
        cond(&staging_stage["conditions"], "Progressing"),
        Some(("False".into(), "StageUpdatingSucceeded".into()))
    );
}

#[test]
fn run_without_index_uses_the_latest_snapshot() {
    let p = unique("latest");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    fleet.strategy(&format!("{p}-strategy"), one_stage_no_tasks());
    let run = format!("{p}-run");
    fleet.run(&run, &format!("{p}-strategy"), None, Some("Run"));
    let status = fleet.wait_run(&run, "initialized", |r| {
        has(&r["status"]["conditions"], "Initialized", "True")
    });
    assert_eq!(status["status"]["resourceSnapshotIndexUsed"], "1");
    let used = fleet.kubectl(&[
        "get",
        "csur",
        &run,
        "-o",
        "jsonpath={.status.resourceSnapshotIndexUsed}",
    ]);
    assert_eq!(used, "1");
    wait_for(
        "first cluster bound to the latest snapshot",
        super::fixture::WAIT,
        || bound_to(&fleet, &format!("{p}-member3"), &format!("{p}-1-snapshot")).then_some(()),
    );
}

#[test]
fn progress_follows_binding_availability_within_seconds() {
    let p = unique("latency");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    fleet.strategy(&format!("{p}-strategy"), one_stage_no_tasks());
    let run = format!("{p}-run");
    fleet.run(&run, &format!("{p}-strategy"), Some("1"), Some("Run"));
    let snapshot = format!("{p}-1-snapshot");
    // Sorted by `order`: member3 (1), member1 (2), then member2 (no label, SD-13).
    let order = [format!("{p}-member3"), format!("{p}-member1"), format!("{p}-member2")];
    wait_for("first cluster bound", super::fixture::WAIT, || {
        bound_to(&fleet, &order[0], &snapshot).then_some(())
    });
    for pair in order.windows(2) {
        fleet.make_available(&pair[0]);
        let started = Instant::now();
        wait_for("next cluster bound", Duration::from_secs(10), || {
            bound_to(&fleet, &pair[1], &snapshot).then_some(())
        });
        let latency = started.elapsed();
        println!(
            "[update_runs] {} Available -> {} bound in {:.2}s",
            pair[0],
            pair[1],
            latency.as_secs_f64()
        );
        assert!(latency < Duration::from_secs(10), "progress took {latency:?}");
    }
}

#[test]
fn stop_and_resume_mid_stage_and_during_a_timed_wait() {
    let p = unique("stop");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    fleet.strategy(
        &format!("{p}-strategy"),
        serde_json::json!([
            {"name": "staging", "labelSelector": {"matchLabels": {"environment": "staging"}},
             "afterStageTasks": [{"type": "TimedWait", "waitTime": "20s"}]},
            {"name": "canary", "labelSelector": {"matchLabels": {"environment": "canary"}}, "sortingLabelKey": "order"},
        ]),
    );
    let run = format!("{p}-run");
    let snapshot = format!("{p}-1-snapshot");
    fleet.run(&run, &format!("{p}-strategy"), Some("1"), Some("Run"));
    let staging = format!("{p}-member2");
    wait_for("staging bound", super::fixture::WAIT, || {
        bound_to(&fleet, &staging, &snapshot).then_some(())
    });

    // Stop while member2 updates: Stopping until it settles, then Stopped.
    fleet.set_state(&run, "Stop");
    fleet.wait_run(&run, "stopping", |r| {
        cond(&r["status"]["conditions"], "Progressing") == Some(("Unknown".into(), "UpdateRunStopping".into()))
    });
    fleet.make_available(&staging);
    fleet.wait_run(&run, "stopped", |r| {
        cond(&r["status"]["conditions"], "Progressing") == Some(("False".into(), "UpdateRunStopped".into()))
    });
    let table = fleet.kubectl(&["get", "csur", &run]);
    assert_eq!(cells(&table, &run)[4..7], ["True", "False", ""]);

    // Resume: the TimedWait starts; stop in the middle of it, wait, resume: it keeps the time left.
    fleet.set_state(&run, "Run");
    fleet.wait_run(&run, "timed wait running", |r| {
        cond(&stage(r, 0)["afterStageTaskStatus"][0]["conditions"], "WaitTimeElapsed").is_some()
    });
    std::thread::sleep(Duration::from_secs(8));
    fleet.set_state(&run, "Stop");
    fleet.wait_run(&run, "stopped during the wait", |r| {
        cond(&r["status"]["conditions"], "Progressing") == Some(("False".into(), "UpdateRunStopped".into()))
    });
    std::thread::sleep(Duration::from_secs(25));
    let status = fleet.run_json(&run);
    assert!(
        !has(&stage(&status, 0)["conditions"], "Succeeded", "True"),
        "no progress while stopped"
    );
    fleet.set_state(&run, "Run");
    let resumed = Instant::now();
    fleet.wait_run(&run, "staging done after the rest of the wait", |r| {
        has(&stage(r, 0)["conditions"], "Succeeded", "True")
    });
    let rest = resumed.elapsed();
    println!(
        "[update_runs] TimedWait 20s: 8s before the stop, {:.1}s after resuming",
        rest.as_secs_f64()
    );
    assert!(
        rest >= Duration::from_secs(8),
        "the wait resumed with its time left, not from zero or done: {rest:?}"
    );
    assert!(
        rest < Duration::from_secs(19),
        "the time waited before the stop counted: {rest:?}"
    );
    wait_for("canary starts", super::fixture::WAIT, || {
        bound_to(&fleet, &format!("{p}-member3"), &snapshot).then_some(())
    });
}

#[test]
fn namespaced_run_with_hyphenated_stage_names() {
    let hub = run_hub();
    let ns = test_namespace(hub, "sur");
    let p = unique("web-app-placement");
    let fleet = Fleet::new(&NAMESPACED, Some(ns.clone()), &p, &seed_members(&p));
    fleet.strategy(
        "web-app-strategy",
        serde_json::json!([
            {"name": "dev-clusters", "labelSelector": {"matchLabels": {"environment": "staging"}}},
            {"name": "prod-clusters", "labelSelector": {"matchLabels": {"environment": "canary"}}, "sortingLabelKey": "order",
             "beforeStageTasks": [{"type": "Approval"}], "afterStageTasks": [{"type": "Approval"}]},
        ]),
    );
    let run = "web-app-rollout-v1-21";
    fleet.run(run, "web-app-strategy", Some("1"), Some("Run"));
    let dev = format!("{p}-member2");
    wait_for("dev bound", super::fixture::WAIT, || {
        bound_to(&fleet, &dev, &format!("{p}-1-snapshot")).then_some(())
    });
    fleet.make_available(&dev);
    let before = format!("{run}-prod-clusters-before");
    fleet.wait_approval(&before);
    let table = fleet.kubectl(&["get", "areq"]);
    assert_eq!(cells(&table, &before)[1..5], [run, "prod-clusters", "", ""]);
    fleet.approve(&before);
    for member in ["member3", "member1"] {
        let name = format!("{p}-{member}");
        wait_for(&format!("{member} bound"), super::fixture::WAIT, || {
            bound_to(&fleet, &name, &format!("{p}-1-snapshot")).then_some(())
        });
        fleet.make_available(&name);
    }
    let after = format!("{run}-prod-clusters-after");
    fleet.wait_approval(&after);
    fleet.approve(&after);
    let status = fleet.wait_run(run, "succeeded", |r| {
        has(&r["status"]["conditions"], "Succeeded", "True")
    });
    assert_eq!(
        super::fixture::message(&status["status"]["conditions"], "Initialized"),
        "StagedUpdateRun initialized successfully"
    );
    let table = fleet.kubectl(&["get", "sur", run]);
    assert_eq!(
        cells(&table, run)[1..7],
        [p.as_str(), "1", "0", "True", "False", "True"]
    );
    let table = fleet.kubectl(&["get", "areq"]);
    assert_eq!(cells(&table, &before)[1..5], [run, "prod-clusters", "True", "True"]);
    assert_eq!(cells(&table, &after)[1..5], [run, "prod-clusters", "True", "True"]);
}
