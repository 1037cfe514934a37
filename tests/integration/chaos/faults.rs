//! Faults other than a hub crash, over simulated members, each run judged from the members'
//! record: the hub's API server restarted in the middle of a run, the hub process stopped for
//! 30 s (SIGSTOP), the API server frozen for 30 s (every client cut off), and a leader handover
//! with 20 runs in flight.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stagehand::fleetsim::invariants::{RunExpectation, StageExpectation, Tally, Violations, check};
use stagehand::fleetsim::record::read;

use super::hub_process::HubProcess;
use super::{Figure, apply_run, condition, full, get_json, now_ms, poll, print_figures, spawn_simulated_fleet};
use crate::harness::{Role, TestCluster, joined_members, start_parallel, wait_for};
use crate::hub::KillOnDrop;
use crate::pipeline::placement;

const WAIT: Duration = Duration::from_secs(240);

/// Two stages by the `fault-stage` label: `first` (2 at a time, then a 5 s TimedWait) and
/// `second` (50 % at a time).
fn strategy(hub: &TestCluster, name: &str) {
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
        "metadata": {"name": name}, "spec": {"stages": [
            {"name": "first", "maxConcurrency": 2, "labelSelector": {"matchLabels": {"fault-stage": "first"}},
             "afterStageTasks": [{"type": "TimedWait", "waitTime": "5s"}]},
            {"name": "second", "maxConcurrency": "50%", "labelSelector": {"matchLabels": {"fault-stage": "second"}}},
        ]}})
        .to_string(),
    );
}

fn stages_by_label(hub: &TestCluster) -> BTreeMap<String, BTreeSet<String>> {
    let list = poll(WAIT, Duration::from_secs(1), || get_json(hub, &["memberclusters"])).expect("member clusters");
    let mut stages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for mc in list["items"].as_array().into_iter().flatten() {
        if let Some(stage) = mc["metadata"]["labels"]["fault-stage"].as_str() {
            let name = mc["metadata"]["name"].as_str().unwrap_or_default().to_string();
            stages.entry(stage.to_string()).or_default().insert(name);
        }
    }
    stages
}

fn expectation(
    run: &str,
    placement: &str,
    stages: &BTreeMap<String, BTreeSet<String>>,
    window: (i64, i64),
) -> RunExpectation {
    let first = stages["first"].len();
    let second = stages["second"].len();
    RunExpectation {
        run: run.into(),
        placement: placement.into(),
        index: "0".into(),
        stages: vec![
            StageExpectation {
                name: "first".into(),
                clusters: stages["first"].clone(),
                max_concurrency: 2.min(first),
                gate_ms: None,
            },
            StageExpectation {
                name: "second".into(),
                clusters: stages["second"].clone(),
                max_concurrency: (second / 2).max(1),
                gate_ms: None,
            },
        ],
        deleted: BTreeSet::new(),
        from_ms: window.0,
        to_ms: window.1,
        stopped: vec![],
    }
}

/// Waits for the `clusters` simulated members to join, then makes the strategy and the placement
/// `name` (PickAll, External) and waits for its snapshot 0; returns each stage's clusters.
fn joined_fleet_with_placement(
    cluster: &TestCluster,
    clusters: usize,
    name: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    wait_for("the simulated members joined", WAIT, || {
        (joined_members(cluster) == clusters).then_some(())
    });
    strategy(cluster, name);
    placement(
        cluster,
        name,
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    wait_for("snapshot 0", WAIT, || {
        get_json(cluster, &["clusterresourcesnapshot", &format!("{name}-0-snapshot")])
    });
    stages_by_label(cluster)
}

/// A hub of its own named `name` with `clusters` simulated members split by `split`
/// (`fault-stage=...`), recording to `fleetsim.jsonl` next to its files.
fn simulated_hub(name: &str, clusters: usize, split: &str) -> (TestCluster, PathBuf, (Child, KillOnDrop)) {
    let cluster = start_parallel(&[(name, Role::Hub)]).pop().expect("the hub");
    let record = cluster.kubeconfig.parent().expect("dir").join("fleetsim.jsonl");
    let sim = spawn_simulated_fleet(&cluster, clusters, &["--split", split], &record);
    (cluster, record, sim)
}

/// Checks one run on the record, asserting it had no violation.
fn judge(
    record: &Path,
    run: &str,
    placement: &str,
    stages: &BTreeMap<String, BTreeSet<String>>,
    window: (i64, i64),
) -> Violations {
    let violations = check(
        &read(record).expect("record"),
        &expectation(run, placement, stages, window),
    );
    assert!(violations.is_empty(), "{run}: {violations}");
    violations
}

/// Prints one scenario's figures.
fn print_one(title: String, scenario: &str, points: usize, violations: &Violations, took: Duration) {
    let mut tally = Tally::default();
    tally.add(violations);
    print_figures(&title, &[Figure::from_tally(scenario, points, &tally, took)]);
}

fn run_status(hub: &TestCluster, run: &str) -> Option<Value> {
    get_json(hub, &["csur", run]).map(|r| r["status"].clone())
}

fn succeeded_in(status: &Value, stage: usize) -> usize {
    status["stagesStatus"][stage]["clusters"].as_array().map_or(0, |cs| {
        cs.iter()
            .filter(|c| condition(c, "Succeeded").is_some_and(|(s, _)| s == "True"))
            .count()
    })
}

/// Waits until `check` holds on the run's status, restarting the hub whenever it exited (a hub
/// cut off from its API server longer than its Lease exits so that no two leaders write; its pod
/// would be restarted). Returns how many restarts that took.
fn supervise(
    hub: &mut HubProcess,
    cluster: &TestCluster,
    run: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> usize {
    let mut restarts = 0;
    let seen = poll(WAIT, Duration::from_millis(250), || {
        if hub.exited() {
            restarts += 1;
            hub.start(None);
        }
        let status = run_status(cluster, run)?;
        assert!(
            condition(&status, "Succeeded").is_none_or(|(s, _)| s == "True"),
            "run {run} failed: {status}"
        );
        check(&status).then_some(())
    });
    assert!(
        seen.is_some(),
        "run {run}: never saw {what}; see {}",
        hub.log_path().display()
    );
    restarts
}

fn succeeded(status: &Value) -> bool {
    condition(status, "Succeeded").is_some_and(|(s, _)| s == "True")
}

#[test]
fn a_run_survives_its_api_server_restarted_and_then_frozen_for_30_seconds() {
    let started = Instant::now();
    let clusters = 20;
    let (cluster, record, _sim) = simulated_hub("faulthub", clusters, "fault-stage=first:40,second:60");
    let cluster = &cluster;
    let mut hub = HubProcess::new(cluster, "fault-hub", &[]);
    hub.start(None);
    let stages = joined_fleet_with_placement(cluster, clusters, "faults");
    let from = now_ms();
    apply_run(cluster, "faults-run", "faults", "faults", Some("0"));

    supervise(&mut hub, cluster, "faults-run", "a first-stage cluster done", |s| {
        succeeded_in(s, 0) >= 1
    });
    println!("[chaos] restarting the hub's API server in the middle of stage `first`");
    cluster.restart(Role::Hub);
    let mut restarts = supervise(&mut hub, cluster, "faults-run", "stage `first` in its TimedWait", |s| {
        succeeded_in(s, 0) == s["stagesStatus"][0]["clusters"].as_array().map_or(usize::MAX, Vec::len)
    });
    println!("[chaos] stopping the hub process (SIGSTOP) for 30 s during the TimedWait");
    hub.signal("STOP");
    std::thread::sleep(Duration::from_secs(30));
    hub.signal("CONT");
    restarts += supervise(&mut hub, cluster, "faults-run", "a second-stage cluster done", |s| {
        succeeded_in(s, 1) >= 1
    });
    println!("[chaos] freezing the hub's API server (SIGSTOP) for 30 s in the middle of stage `second`");
    cluster.signal("STOP");
    std::thread::sleep(Duration::from_secs(30));
    cluster.signal("CONT");
    restarts += supervise(&mut hub, cluster, "faults-run", "the run succeeded", succeeded);
    let to = now_ms();
    std::thread::sleep(Duration::from_millis(500));
    let violations = judge(&record, "faults-run", "faults", &stages, (from, to));
    println!("[chaos] faults-run: hub restarted {restarts} time(s) after it exited on its own; {violations}");
    print_one(
        format!("Faults: {clusters} simulated members"),
        "API server restarted; hub stopped 30 s; API server frozen 30 s",
        3,
        &violations,
        started.elapsed(),
    );
}

/// 20 runs (one per placement, every placement over the whole simulated fleet) in flight when the
/// leader is killed; the standby takes over and every run ends correctly.
#[test]
fn a_leader_handover_with_20_runs_in_flight_ends_every_run_correctly() {
    let started = Instant::now();
    let clusters = if full() { 60 } else { 12 };
    let runs = 20;
    let (cluster, record, _sim) = simulated_hub("handoverhub", clusters, "fault-stage=first:50,second:50");
    let cluster = &cluster;
    let mut leader = HubProcess::new(cluster, "replica-a", &[]);
    leader.start(None);
    wait_for("the simulated members joined", WAIT, || {
        (joined_members(cluster) == clusters).then_some(())
    });
    let mut standby = HubProcess::new(cluster, "replica-b", &[]);
    standby.start(None);
    strategy(cluster, "handover");
    let names: Vec<String> = (0..runs).map(|i| format!("handover-{i:02}")).collect();
    for name in &names {
        placement(
            cluster,
            name,
            json!({"placementType": "PickAll"}),
            json!({"type": "External"}),
        );
    }
    for name in &names {
        wait_for(&format!("{name} snapshot 0"), WAIT, || {
            get_json(cluster, &["clusterresourcesnapshot", &format!("{name}-0-snapshot")])
        });
    }
    let stages = stages_by_label(cluster);
    let from = now_ms();
    for name in &names {
        apply_run(cluster, name, name, "handover", Some("0"));
    }
    // Every run has started and none has finished: kill the leader.
    wait_for("every run in flight", WAIT, || {
        names
            .iter()
            .all(|n| run_status(cluster, n).is_some_and(|s| succeeded_in(&s, 0) >= 1))
            .then_some(())
    });
    let in_flight = names
        .iter()
        .filter(|n| run_status(cluster, n).is_some_and(|s| !succeeded(&s)))
        .count();
    println!("[chaos] killing the leader with {in_flight} runs in flight");
    leader.sigkill();
    for name in &names {
        let seen = poll(WAIT, Duration::from_millis(500), || {
            run_status(cluster, name).filter(succeeded)
        });
        assert!(seen.is_some(), "run {name} did not succeed after the handover");
    }
    let to = now_ms();
    std::thread::sleep(Duration::from_millis(500));
    let entries = read(&record).expect("record");
    let mut tally = Tally::default();
    for name in &names {
        let violations = check(&entries, &expectation(name, name, &stages, (from, to)));
        assert!(violations.is_empty(), "run {name}: {violations}");
        tally.add(&violations);
    }
    assert!(in_flight >= 15, "only {in_flight} runs were in flight at the kill");
    print_figures(
        &format!("Leader handover: {clusters} simulated members, {runs} placements"),
        &[Figure::from_tally(
            format!("leader killed with {in_flight} runs in flight"),
            1,
            &tally,
            started.elapsed(),
        )],
    );
}

/// Two hub replicas started with `--leader-elect=false` on one hub (a misconfiguration) race on
/// the same run. Every write carries the `resourceVersion` it was decided from, so the loser of
/// each race retries from the winner's result: the run must still give every cluster its index
/// once, in stage order, within `maxConcurrency`.
#[test]
fn two_replicas_without_leader_election_never_double_apply() {
    let started = Instant::now();
    let clusters = 20;
    let (cluster, record, _sim) = simulated_hub("twinhub", clusters, "fault-stage=first:40,second:60");
    let cluster = &cluster;
    let mut a = HubProcess::new(cluster, "twin-a", &["--leader-elect=false"]);
    let mut b = HubProcess::new(cluster, "twin-b", &["--leader-elect=false"]);
    a.start(None);
    b.start(None);
    let stages = joined_fleet_with_placement(cluster, clusters, "twins");
    let from = now_ms();
    apply_run(cluster, "twins-run", "twins", "twins", Some("0"));
    let done = poll(WAIT, Duration::from_millis(500), || {
        assert!(!a.exited() && !b.exited(), "a replica exited");
        run_status(cluster, "twins-run").filter(succeeded)
    });
    assert!(done.is_some(), "the run did not succeed with two replicas racing");
    let to = now_ms();
    std::thread::sleep(Duration::from_millis(500));
    let violations = judge(&record, "twins-run", "twins", &stages, (from, to));
    println!("[chaos] two replicas without leader election: {violations}");
    print_one(
        format!("Two replicas without leader election: {clusters} simulated members"),
        "both replicas reconcile the same run",
        0,
        &violations,
        started.elapsed(),
    );
}
