//! The crash and fault matrix (issue 19): the hub is killed with SIGKILL at many points of staged
//! runs, its API server restarted and cut off, and every run is judged from the members' side
//! (`fleetsim`'s record, or the objects on real members) by the invariants of
//! `stagehand::fleetsim::invariants`: every cluster got the run's index exactly once, nothing
//! stale, stages in order behind their gates, never more clusters applying than
//! `maxConcurrency`.
//!
//! `make test` runs a CI-sized matrix; `make chaos` (`STAGEHAND_CHAOS=full`) runs every point
//! over a larger fleet and prints the figures. docs/reliability.md says what is guaranteed.

mod bad_input;
mod by_hand;
mod faults;
mod hub_process;
mod matrix;
mod real;
mod silent_member;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use stagehand::fleetsim::invariants::Tally;

use crate::harness::TestCluster;
use crate::hub::KillOnDrop;

/// Starts `fleetsim` with `clusters` simulated members (MemberClusters created, heartbeat every
/// 30 s, 100–600 ms to apply), `extra` flags, recording to `record`.
pub fn spawn_simulated_fleet(hub: &TestCluster, clusters: usize, extra: &[&str], record: &Path) -> (Child, KillOnDrop) {
    let clusters = clusters.to_string();
    let record = record.to_str().expect("record path");
    let mut args = vec!["--clusters", &clusters, "--create-member-clusters"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "--latency",
        "100ms-600ms",
        "--heartbeat-period",
        "30",
        "--record",
        record,
    ]);
    crate::harness::spawn_fleetsim(hub, &args)
}

/// `stagehand member` as its own process (so that it can be killed), reaching the hub through
/// `hub_kubeconfig`, logging at debug level to [`agent_log`] of `member`.
pub fn spawn_agent(hub_kubeconfig: &Path, member: &TestCluster, name: &str) -> (Child, KillOnDrop) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(agent_log(member))
        .expect("agent log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args([
            "member",
            "--http-addr",
            &format!("127.0.0.1:{}", crate::hub::free_port()),
        ])
        .env("MEMBER_CLUSTER_NAME", name)
        .env("HUB_KUBECONFIG", hub_kubeconfig)
        .env("KUBECONFIG", &member.kubeconfig)
        // Debug for every crate but the transport's, so that a search of the log for a
        // secret covers what the Kubernetes client logs too.
        .env(
            "RUST_LOG",
            "debug,hyper=info,hyper_util=info,h2=info,tower=info,rustls=info",
        )
        .stdout(std::process::Stdio::from(log.try_clone().expect("log")))
        .stderr(std::process::Stdio::from(log))
        .spawn()
        .expect("starting stagehand member");
    let guard = KillOnDrop(child.id());
    (child, guard)
}

/// Where [`spawn_agent`] writes the log of `member`'s agent.
pub fn agent_log(member: &TestCluster) -> std::path::PathBuf {
    member.kubeconfig.parent().expect("dir").join("agent.log")
}

/// Creates ClusterStagedUpdateRun `name` of `placement` with `strategy`, in state `Run`, for
/// resource snapshot `index` (the latest when `None`).
pub fn apply_run(hub: &TestCluster, name: &str, placement: &str, strategy: &str, index: Option<&str>) {
    let mut spec = json!({"placementName": placement, "stagedRolloutStrategyName": strategy, "state": "Run"});
    if let Some(index) = index {
        spec["resourceSnapshotIndex"] = json!(index);
    }
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": name}, "spec": spec})
        .to_string(),
    );
}

/// Sets the placed ConfigMap `cm` in namespace `placement` to `value`: the change that makes the
/// next resource snapshot of the tests' placements.
pub fn change_value(hub: &TestCluster, placement: &str, value: &str) {
    let patch = json!({"data": {"key": value}}).to_string();
    let out = hub.kubectl_quiet(&["patch", "cm", "cm", "-n", placement, "--type=merge", "-p", &patch]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Approves ClusterApprovalRequest `name` as a person would (`kubectl patch --subresource=status`);
/// whether the API server took it.
pub fn approve(hub: &TestCluster, name: &str) -> bool {
    let patch = r#"{"status":{"conditions":[{"type":"Approved","status":"True","reason":"chaos","message":"approved by a chaos test"}]}}"#;
    hub.kubectl_quiet(&[
        "patch",
        "clusterapprovalrequest",
        name,
        "--type=merge",
        "--subresource=status",
        "-p",
        patch,
    ])
    .status
    .success()
}

/// The bindings of ClusterResourcePlacement `placement`.
pub fn placement_bindings(hub: &TestCluster, placement: &str) -> Vec<Value> {
    let selector = format!("kubernetes-fleet.io/parent-CRP={placement}");
    get_json(hub, &["clusterresourcebindings", "-l", &selector])
        .and_then(|list| list["items"].as_array().cloned())
        .unwrap_or_default()
}

/// Whether this is `make chaos` (every point, the larger fleet) rather than `make test`.
pub fn full() -> bool {
    std::env::var("STAGEHAND_CHAOS").is_ok_and(|v| v == "full")
}

/// `kubectl get ... -o json`, or `None` when it failed (the API server may be down on purpose).
pub fn get_json(cluster: &TestCluster, args: &[&str]) -> Option<Value> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json", "--request-timeout=5s"]);
    let out = cluster.kubectl_quiet(&all);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

/// The status of condition `type_` of an object's status, if present.
pub fn condition<'a>(status: &'a Value, type_: &str) -> Option<(&'a str, &'a str)> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| (c["status"].as_str().unwrap_or(""), c["reason"].as_str().unwrap_or("")))
}

/// Condition `type_` of ClusterStagedUpdateRun `run`: (status, reason, message).
pub fn run_condition(hub: &TestCluster, run: &str, type_: &str) -> Option<(String, String, String)> {
    let run = get_json(hub, &["csur", run])?;
    let c = run["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?;
    let text = |field: &str| c[field].as_str().unwrap_or("").to_string();
    Some((text("status"), text("reason"), c["message"].as_str()?.to_string()))
}

/// Milliseconds since the epoch, on the clock the simulator's record uses.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// One line of the figures table.
pub struct Figure {
    pub scenario: String,
    pub points: usize,
    pub runs: usize,
    pub correct: usize,
    pub twice: usize,
    pub skipped: usize,
    pub stale: usize,
    pub order: usize,
    pub concurrency: usize,
    pub took: Duration,
}

impl Figure {
    /// A row for `scenario` from the runs' tally.
    pub fn from_tally(scenario: impl Into<String>, points: usize, tally: &Tally, took: Duration) -> Figure {
        Figure {
            scenario: scenario.into(),
            points,
            runs: tally.runs,
            correct: tally.correct,
            twice: tally.updated_twice,
            skipped: tally.skipped,
            stale: tally.stale,
            order: tally.out_of_order + tally.while_stopped,
            concurrency: tally.over_concurrency,
            took,
        }
    }
}

/// The placed ConfigMap's `key` on the member `kubeconfig` reaches (`""` when it is not
/// there, or the member does not answer).
pub fn value_at(kubeconfig: &Path, namespace: &str) -> String {
    Command::new("kubectl")
        .args([
            "get",
            "cm",
            "cm",
            "-n",
            namespace,
            "--ignore-not-found",
            "-o",
            "jsonpath={.data.key}",
        ])
        .env("KUBECONFIG", kubeconfig)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Prints the figures as a table (the `make chaos` output).
pub fn print_figures(title: &str, rows: &[Figure]) {
    println!("\n{title}");
    println!(
        "| scenario | kill/fault points | runs | runs correct | updated twice | skipped | stale index | out of order | over maxConcurrency | took |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} s |",
            r.scenario,
            r.points,
            r.runs,
            r.correct,
            r.twice,
            r.skipped,
            r.stale,
            r.order,
            r.concurrency,
            r.took.as_secs_f64()
        );
    }
}

/// Polls `check` every `every` until it returns a value or `timeout` passes.
pub fn poll<T>(timeout: Duration, every: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(every);
    }
}
