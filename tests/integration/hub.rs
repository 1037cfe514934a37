//! `stagehand hub` start-up against real API servers: it refuses to run without its CRDs, and
//! reports ready on a hub that has them. The binary runs its controllers, so the ready test uses a
//! hub of its own: on the shared hub it would put finalizers on other tests' runs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::harness::{Role, TestCluster, member, start_parallel, wait_for};
use crate::pipeline::{bindings, make_works_available, one_stage_strategy, placement, register_member};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Kills the process if the test panics before it stopped it.
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", &self.0.to_string()]).status();
    }
}

#[test]
fn hub_refuses_to_start_without_its_crds() {
    let out = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["hub", "--http-addr", &format!("127.0.0.1:{}", free_port())])
        .env("KUBECONFIG", &member().kubeconfig)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running stagehand hub");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "stagehand hub started on a cluster without the CRDs"
    );
    assert!(
        stderr.contains("clusterstagedupdateruns.placement.kubernetes-fleet.io"),
        "{stderr}"
    );
    assert!(stderr.contains("kubectl apply --server-side -f crds/"), "{stderr}");
}

#[test]
fn hub_reports_ready_when_its_crds_are_established_and_stops_on_sigterm() {
    let own = start_parallel(&[("binhub", Role::Hub)]);
    let port = free_port();
    let (mut child, guard) = spawn_stagehand_hub(&own[0], port, &[]);
    let ready = wait_for("/readyz", Duration::from_secs(30), || {
        http_get(port, "/readyz").filter(|r| r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200"))
    });
    assert!(ready.ends_with("ok"), "{ready}");
    assert!(http_get(port, "/healthz").is_some_and(|r| r.ends_with("ok")));
    let metrics = http_get(port, "/metrics").unwrap_or_default();
    assert!(
        metrics.contains("application/openmetrics-text") && metrics.trim_end().ends_with("# EOF"),
        "{metrics}"
    );
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = child.wait().expect("waiting for stagehand hub");
    std::mem::forget(guard);
    assert!(status.success(), "stagehand hub did not stop cleanly: {status}");
}

/// Starts `stagehand hub` against `cluster` with `extra` arguments.
fn spawn_stagehand_hub(cluster: &TestCluster, port: u16, extra: &[&str]) -> (std::process::Child, KillOnDrop) {
    // The hub logs to stdout; keep it next to the cluster's files so a failed test can be read.
    let log_path = cluster
        .kubeconfig
        .parent()
        .expect("cluster directory")
        .join(format!("hub-{port}.log"));
    let log = std::fs::File::create(&log_path).expect("creating the hub log");
    let child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["hub", "--http-addr", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .env("RUST_LOG", "info,stagehand=debug")
        .stdout(log.try_clone().expect("hub log handle"))
        .stderr(log)
        .spawn()
        .expect("starting stagehand hub");
    let guard = KillOnDrop(child.id());
    (child, guard)
}

/// Both snapshot windows at zero.
const NO_WINDOWS: [&str; 4] = [
    "--resource-snapshot-creation-minimum-interval",
    "0s",
    "--resource-changes-collection-duration",
    "0s",
];

/// Starts `stagehand hub` against `cluster` with both snapshot windows at zero and `extra` flags.
pub fn spawn_hub_with(cluster: &TestCluster, port: u16, extra: &[&str]) -> (std::process::Child, KillOnDrop) {
    let flags: Vec<&str> = NO_WINDOWS.iter().chain(extra).copied().collect();
    spawn_stagehand_hub(cluster, port, &flags)
}

/// Starts `stagehand hub` against `cluster` with both snapshot windows at zero, or at their
/// defaults (15 s and 30 s) when `default_windows`.
pub fn spawn_hub(cluster: &TestCluster, port: u16, default_windows: bool) -> (std::process::Child, KillOnDrop) {
    spawn_stagehand_hub(cluster, port, if default_windows { &[] } else { &NO_WINDOWS })
}

/// (kind, name, uid) of every snapshot and binding of a placement.
fn pipeline_objects(hub: &TestCluster, placement: &str) -> Vec<(String, String, String)> {
    let label = format!("kubernetes-fleet.io/parent-CRP={placement}");
    let out = hub.kubectl_ok(&[
        "get",
        "clusterresourcesnapshots,clusterschedulingpolicysnapshots,clusterresourcebindings",
        "-l",
        &label,
        "-o",
        "jsonpath={range .items[*]}{.kind} {.metadata.name} {.metadata.uid}{\"\\n\"}{end}",
    ]);
    let mut rows: Vec<(String, String, String)> = out
        .lines()
        .filter_map(|l| {
            let mut cells = l.split_whitespace().map(str::to_string);
            Some((cells.next()?, cells.next()?, cells.next()?))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_hub_restart_keeps_every_snapshot_and_binding_and_skips_no_index() {
    let own = start_parallel(&[("restarthub", Role::Hub)]);
    let hub = &own[0];
    let port = free_port();
    let (mut first, guard) = spawn_hub(hub, port, false);
    for name in ["member1", "member2"] {
        register_member(hub, name, &[], None);
    }
    placement(
        hub,
        "restart",
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    let before = wait_for(
        "snapshot 0, policy snapshot 0 and two bindings",
        Duration::from_secs(60),
        || {
            let rows = pipeline_objects(hub, "restart");
            (rows.len() == 4 && bindings(hub, "restart").len() == 2).then_some(rows)
        },
    );

    // Crash the hub, change the selected resources while it is down, start it again.
    first.kill().expect("killing stagehand hub");
    first.wait().expect("reaping stagehand hub");
    std::mem::forget(guard);
    hub.kubectl_ok(&[
        "patch",
        "cm",
        "cm",
        "-n",
        "restart",
        "--type=merge",
        "-p",
        r#"{"data":{"key":"value2"}}"#,
    ]);
    let (mut second, guard) = spawn_hub(hub, port, false);
    wait_for("snapshot 1 after the restart", Duration::from_secs(60), || {
        hub.kubectl(&["get", "clusterresourcesnapshot", "restart-1-snapshot"])
            .status
            .success()
            .then_some(())
    });
    // Give the restarted controllers time to do anything they would wrongly redo.
    std::thread::sleep(Duration::from_secs(5));
    let after = pipeline_objects(hub, "restart");
    let new: Vec<_> = after.iter().filter(|r| !before.contains(r)).collect();
    let lost: Vec<_> = before.iter().filter(|r| !after.contains(r)).collect();
    assert!(lost.is_empty(), "objects replaced or lost across the restart: {lost:?}");
    assert_eq!(new.len(), 1, "only the new snapshot is new: {new:?}");
    assert_eq!(new[0].1, "restart-1-snapshot");
    let latest = hub.kubectl_ok(&[
        "get",
        "clusterresourcesnapshots",
        "-l",
        "kubernetes-fleet.io/parent-CRP=restart,kubernetes-fleet.io/is-latest-snapshot=true",
        "-o",
        "name",
    ]);
    assert_eq!(
        latest.trim(),
        "clusterresourcesnapshot.placement.kubernetes-fleet.io/restart-1-snapshot"
    );
    second.kill().expect("killing stagehand hub");
    let _ = second.wait();
    std::mem::forget(guard);
}

fn creation(hub: &TestCluster, snapshot: &str) -> jiff::Timestamp {
    hub.kubectl_ok(&[
        "get",
        "clusterresourcesnapshot",
        snapshot,
        "-o",
        "jsonpath={.metadata.creationTimestamp}",
    ])
    .trim()
    .parse()
    .expect("creationTimestamp")
}

/// SD-11: a run without an index rolls out the resources as they are when it starts, even while
/// the snapshot throttling windows (here the defaults, 15 s and 30 s) would still hold the
/// change back.
#[test]
fn a_run_without_index_has_a_held_back_change_snapshotted_first() {
    let own = start_parallel(&[("sd11hub", Role::Hub)]);
    let hub = &own[0];
    let (mut child, guard) = spawn_hub(hub, free_port(), true);
    register_member(hub, "member1", &[("environment", "canary")], None);
    placement(
        hub,
        "sd11",
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    one_stage_strategy(hub, "sd11", "all", ("environment", "canary"), json!([]));
    wait_for("snapshot 0 and a binding", Duration::from_secs(60), || {
        (hub.kubectl(&["get", "clusterresourcesnapshot", "sd11-0-snapshot"])
            .status
            .success()
            && bindings(hub, "sd11").len() == 1)
            .then_some(())
    });
    let first = creation(hub, "sd11-0-snapshot");
    hub.kubectl_ok(&[
        "patch",
        "cm",
        "cm",
        "-n",
        "sd11",
        "--type=merge",
        "-p",
        r#"{"data":{"key":"value2"}}"#,
    ]);
    wait_for("the change is detected and held back", Duration::from_secs(30), || {
        let stamp = hub.kubectl_ok(&[
            "get",
            "clusterresourcesnapshot",
            "sd11-0-snapshot",
            "-o",
            "jsonpath={.metadata.annotations.kubernetes-fleet\\.io/next-resource-snapshot-candidate-detection-time}",
        ]);
        (!stamp.trim().is_empty()).then_some(())
    });
    hub.apply(
        r#"{"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": "sd11-run"},
            "spec": {"placementName": "sd11", "stagedRolloutStrategyName": "sd11", "state": "Initialize"}}"#,
    );
    let used = wait_for("the run initialized", Duration::from_secs(60), || {
        let used = hub.kubectl_ok(&[
            "get",
            "csur",
            "sd11-run",
            "-o",
            "jsonpath={.status.resourceSnapshotIndexUsed}",
        ]);
        (!used.trim().is_empty()).then(|| used.trim().to_string())
    });
    assert_eq!(used, "1", "the run uses the change made before it started");
    let second = creation(hub, "sd11-1-snapshot");
    let held_until = first + jiff::SignedDuration::from_secs(30);
    assert!(
        second < held_until,
        "snapshot 1 at {second} came before the 30 s minimum interval ended ({held_until}): the run asked for it"
    );
    child.kill().expect("killing stagehand hub");
    let _ = child.wait();
    std::mem::forget(guard);
}

/// A `stagehand hub` replica with its own identity in the leader election.
fn spawn_replica(cluster: &TestCluster, port: u16, identity: &str) -> (std::process::Child, KillOnDrop) {
    let mut extra = vec!["--leader-election-identity", identity];
    extra.extend(NO_WINDOWS);
    spawn_stagehand_hub(cluster, port, &extra)
}

fn lease_holder(hub: &TestCluster) -> String {
    let out = hub.kubectl(&[
        "get",
        "lease",
        "stagehand-hub",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// How many reconciliations a replica's `/metrics` reports in total.
fn reconciliations(port: u16) -> u64 {
    http_get(port, "/metrics")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("stagehand_reconciliations_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Two replicas: only the Lease holder reconciles; killing it hands over within 30 seconds and a
/// staged run in the middle of a TimedWait completes under the new leader.
#[test]
fn a_standby_replica_takes_over_within_30_seconds_and_finishes_the_run() {
    let own = start_parallel(&[("lehub", Role::Hub)]);
    let hub = &own[0];
    let (port_a, port_b) = (free_port(), free_port());
    let (mut first, first_guard) = spawn_replica(hub, port_a, "replica-a");
    wait_for("replica-a leads", Duration::from_secs(30), || {
        (lease_holder(hub) == "replica-a").then_some(())
    });
    let (mut second, second_guard) = spawn_replica(hub, port_b, "replica-b");
    register_member(hub, "le-a", &[("stage", "all")], None);
    placement(
        hub,
        "le",
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    one_stage_strategy(
        hub,
        "le",
        "all",
        ("stage", "all"),
        json!([{"type": "TimedWait", "waitTime": "20s"}]),
    );
    wait_for("a binding", Duration::from_secs(60), || {
        (bindings(hub, "le").len() == 1).then_some(())
    });
    hub.apply(
        r#"{"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": "le-run"},
            "spec": {"placementName": "le", "resourceSnapshotIndex": "0", "stagedRolloutStrategyName": "le", "state": "Run"}}"#,
    );
    let waiting =
        r#"jsonpath={.status.stagesStatus[0].afterStageTaskStatus[0].conditions[?(@.type=="WaitTimeElapsed")].status}"#;
    wait_for("the run is in its TimedWait", Duration::from_secs(60), || {
        make_works_available(hub, "le");
        (hub.kubectl_ok(&["get", "csur", "le-run", "-o", waiting]) == "False").then_some(())
    });
    assert!(reconciliations(port_a) > 0, "the leader reconciles");
    assert_eq!(reconciliations(port_b), 0, "the standby writes nothing");

    first.kill().expect("killing the leader");
    first.wait().expect("reaping the leader");
    std::mem::forget(first_guard);
    let killed = std::time::Instant::now();
    wait_for("replica-b leads", Duration::from_secs(45), || {
        (lease_holder(hub) == "replica-b").then_some(())
    });
    let handover = killed.elapsed();
    println!("[leader] replica-b took over {handover:?} after replica-a was killed");
    assert!(handover < Duration::from_secs(30), "handover took {handover:?}");
    wait_for("the run succeeds under the new leader", Duration::from_secs(60), || {
        let succeeded = r#"jsonpath={.status.conditions[?(@.type=="Succeeded")].status}"#;
        (hub.kubectl_ok(&["get", "csur", "le-run", "-o", succeeded]) == "True").then_some(())
    });
    assert!(reconciliations(port_b) > 0, "the new leader reconciles");
    second.kill().expect("killing stagehand hub");
    let _ = second.wait();
    std::mem::forget(second_guard);
}
