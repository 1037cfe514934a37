//! The crash matrix on three real members (real API servers, real member agents): a rollout, a
//! second index and a rollback, with the hub killed 11 times. What each member saw is read on the
//! member itself: a watcher per member polls the placed ConfigMap and records when its value
//! changed, so the invariants are checked on what really landed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use stagehand::fleetsim::invariants::{RunExpectation, StageExpectation, Tally, check};
use stagehand::fleetsim::record::{Entry, Step as RecordStep};
use stagehand::ops::failpoints::{
    UPDATE_RUN_AFTER_ACTIONS, UPDATE_RUN_AFTER_BINDING_WRITE, UPDATE_RUN_AFTER_STATUS_WRITE,
};

use super::hub_process::HubProcess;
use super::matrix::{Driver, Step, approval_pending, first_cluster_done, in_timed_wait};
use super::{Figure, agent_log, apply_run, change_value, now_ms, print_figures, spawn_agent};
use crate::harness::{Role, TestCluster, register_agent_member, start_parallel, wait_for, wait_joined};

const PLACEMENT: &str = "realchaos";
const MEMBERS: [(&str, &str); 3] = [("member1", "canary"), ("member2", "prod"), ("member3", "prod")];

/// Records, per member, each change of the placed ConfigMap's value as the member shows it.
struct MemberWatch {
    entries: Arc<Mutex<Vec<Entry>>>,
    stop: Arc<AtomicBool>,
}

impl MemberWatch {
    fn start(members: &[TestCluster]) -> MemberWatch {
        let entries = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        for (member, (name, _)) in members.iter().zip(MEMBERS) {
            let (entries, stop) = (entries.clone(), stop.clone());
            let kubeconfig = member.kubeconfig.clone();
            std::thread::spawn(move || {
                let mut last = String::new();
                while !stop.load(Ordering::Relaxed) {
                    let value = super::value_at(&kubeconfig, PLACEMENT);
                    if !value.is_empty() && value != last {
                        let at_ms = now_ms();
                        let index = value
                            .trim_start_matches("value")
                            .parse::<i64>()
                            .map(|v| v - 1)
                            .unwrap_or(-1);
                        let entry = |step| Entry {
                            at_ms,
                            cluster: name.to_string(),
                            step,
                            work: String::new(),
                            placement: PLACEMENT.into(),
                            index: index.to_string(),
                            generation: 0,
                            outcome: None,
                        };
                        // Landing is both the start and the end of the change, seen from here.
                        let mut all = entries.lock().expect("entries");
                        all.push(entry(RecordStep::Seen));
                        all.push(entry(RecordStep::Reported));
                        last = value;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        MemberWatch { entries, stop }
    }

    fn entries(&self) -> Vec<Entry> {
        self.entries.lock().expect("entries").clone()
    }
}

impl Drop for MemberWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn strategy(hub: &TestCluster) {
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
        "metadata": {"name": PLACEMENT}, "spec": {"stages": [
            {"name": "canary", "labelSelector": {"matchLabels": {"environment": "canary"}},
             "afterStageTasks": [{"type": "TimedWait", "waitTime": "3s"}]},
            {"name": "prod", "maxConcurrency": 1, "labelSelector": {"matchLabels": {"environment": "prod"}},
             "beforeStageTasks": [{"type": "Approval"}]},
        ]}})
        .to_string(),
    );
}

fn expectation(
    run: &str,
    index: &str,
    window: (i64, i64),
    driver_approved: &BTreeMap<(String, String), i64>,
    entries: &[Entry],
) -> RunExpectation {
    let canary_end = entries
        .iter()
        .filter(|e| e.cluster == "member1" && e.index == index && e.at_ms >= window.0)
        .map(|e| e.at_ms)
        .max();
    let prod_gate = [
        driver_approved
            .get(&("prod".to_string(), "beforeStage".to_string()))
            .copied(),
        canary_end.map(|t| t + 3000 - 1000),
    ]
    .into_iter()
    .flatten()
    .max();
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    RunExpectation {
        run: run.into(),
        placement: PLACEMENT.into(),
        index: index.into(),
        stages: vec![
            StageExpectation {
                name: "canary".into(),
                clusters: set(&["member1"]),
                max_concurrency: 1,
                gate_ms: None,
            },
            StageExpectation {
                name: "prod".into(),
                clusters: set(&["member2", "member3"]),
                max_concurrency: 1,
                gate_ms: prod_gate,
            },
        ],
        deleted: BTreeSet::new(),
        from_ms: window.0,
        to_ms: window.1,
        stopped: vec![],
    }
}

/// The selected Secret reached every member, and its value (plain or base64) is nowhere in the
/// hub's log (debug level, over all 14 hub processes) nor in any member agent's (debug level).
fn secrets_never_logged(hub: &HubProcess, members: &[TestCluster], value: &str) {
    use base64::Engine;
    for member in members {
        let out = member.kubectl_quiet(&[
            "get",
            "secret",
            "token",
            "-n",
            PLACEMENT,
            "-o",
            "jsonpath={.data.password}",
        ]);
        assert!(out.status.success(), "the Secret reached {}", member.name);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
    let logs = std::iter::once(("the hub".to_string(), hub.log_path().clone()))
        .chain(members.iter().map(|m| (format!("{}'s agent", m.name), agent_log(m))));
    for (who, path) in logs {
        let log = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!log.is_empty(), "{who} logged nothing: {}", path.display());
        assert!(!log.contains(value), "{who} logged the Secret's value");
        assert!(!log.contains(&encoded), "{who} logged the Secret's value in base64");
    }
}

/// The hub kubeconfig of member `name`'s agent: its own client certificate, nothing else.
fn member_credential(hub: &TestCluster, name: &str) -> std::path::PathBuf {
    let path = hub.kubeconfig.parent().expect("dir").join(format!("{name}.kubeconfig"));
    if !path.exists() {
        hub.user_kubeconfig(name, &path);
    }
    path
}

/// A member's identity (the MemberCluster's `spec.identity`, here the user named after it) can
/// work in its own hub namespace and nowhere else. Asked with member1's own credential, the one
/// its agent ran with: `kubectl auth can-i` (the API server's authorizer) and real reads.
fn member_identities_reach_only_their_own_namespace(hub: &TestCluster) {
    let credential = member_credential(hub, "member1");
    let as_member1 = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&credential)
            .args(args)
            .output()
            .expect("kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (_, who, _) = as_member1(&["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    assert_eq!(who, "member1", "the credential is member1's");
    let (ok, _, err) = as_member1(&["get", "works", "-n", "fleet-member-member1"]);
    assert!(ok, "member1 reads its own Works: {err}");
    for ns in ["fleet-member-member2", PLACEMENT] {
        let (ok, _, err) = as_member1(&["get", "works,secrets", "-n", ns]);
        assert!(!ok && err.contains("Forbidden"), "member1 read {ns}: {err}");
    }
    let can = |args: &[&str]| {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        as_member1(&all).1
    };
    let allowed = [
        [
            "update",
            "works.placement.kubernetes-fleet.io/status",
            "-n",
            "fleet-member-member1",
        ],
        [
            "get",
            "internalmemberclusters.cluster.kubernetes-fleet.io",
            "-n",
            "fleet-member-member1",
        ],
    ];
    let denied: [&[&str]; 7] = [
        &[
            "get",
            "works.placement.kubernetes-fleet.io",
            "-n",
            "fleet-member-member2",
        ],
        &[
            "update",
            "internalmemberclusters.cluster.kubernetes-fleet.io/status",
            "-n",
            "fleet-member-member3",
        ],
        &["get", "secrets", "-n", "fleet-member-member1"],
        &["list", "clusterresourceplacements.placement.kubernetes-fleet.io"],
        &["create", "clusterstagedupdateruns.placement.kubernetes-fleet.io"],
        &["patch", "memberclusters.cluster.kubernetes-fleet.io"],
        &["get", "secrets", "-n", PLACEMENT],
    ];
    for args in allowed {
        assert_eq!(can(&args), "yes", "member1 may {args:?}");
    }
    for args in denied {
        assert_eq!(can(args), "no", "member1 may not {args:?}");
    }
}

#[test]
fn three_real_members_take_a_rollout_a_new_index_and_a_rollback_through_eleven_hub_kills() {
    let started = std::time::Instant::now();
    let clusters = start_parallel(&[
        ("realchaoshub", Role::Hub),
        ("realchaos1", Role::Member),
        ("realchaos2", Role::Member),
        ("realchaos3", Role::Member),
    ]);
    let (cluster, members) = (&clusters[0], &clusters[1..]);
    let mut hub = HubProcess::new(cluster, "real-chaos-hub", &[]);
    hub.start(None);
    // Agents as processes under their own identity (a client certificate for the user their
    // MemberCluster names), logging at debug level so that their logs can be searched too.
    let mut agents = Vec::new();
    for (member, (name, environment)) in members.iter().zip(MEMBERS) {
        register_agent_member(cluster, name, environment, 15);
        agents.push(spawn_agent(&member_credential(cluster, name), member, name));
    }
    wait_joined(cluster, &MEMBERS);
    let watch = MemberWatch::start(members);
    strategy(cluster);
    // A Secret rides along with the ConfigMap: its value must never show in the hub's log.
    let secret_value = format!("s3cr3t-{}", now_ms());
    cluster.kubectl_ok(&["create", "ns", PLACEMENT]);
    cluster.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "token",
        "-n",
        PLACEMENT,
        &format!("--from-literal=password={secret_value}"),
    ]);
    cluster.kubectl_ok(&["create", "cm", "cm", "--from-literal=key=value1", "-n", PLACEMENT]);
    cluster.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterResourcePlacement",
            "metadata": {"name": PLACEMENT},
            "spec": {"resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": PLACEMENT}],
                     "policy": {"placementType": "PickAll"}, "strategy": {"type": "External"}}})
        .to_string(),
    );
    let runs: [(&str, &str, Vec<Step>); 3] = [
        (
            "0",
            "",
            vec![
                Step::Crash(UPDATE_RUN_AFTER_STATUS_WRITE, 1),
                Step::KillWhen("after the canary finished", first_cluster_done),
                Step::KillWhen("during the TimedWait", in_timed_wait),
                Step::ApproveThenKill,
                Step::Crash(UPDATE_RUN_AFTER_BINDING_WRITE, 1),
            ],
        ),
        (
            "1",
            "value2",
            vec![
                Step::Crash(UPDATE_RUN_AFTER_ACTIONS, 1),
                Step::KillWhen("with the approval pending", approval_pending),
                Step::ApproveThenKill,
                Step::Crash(UPDATE_RUN_AFTER_BINDING_WRITE, 2),
            ],
        ),
        (
            "0",
            "",
            vec![Step::Crash(UPDATE_RUN_AFTER_BINDING_WRITE, 1), Step::ApproveThenKill],
        ),
    ];
    let mut tally = Tally::default();
    let mut points = 0;
    for (n, (index, change, script)) in runs.iter().enumerate() {
        if !change.is_empty() {
            change_value(cluster, PLACEMENT, change);
        }
        let snapshot = format!("{PLACEMENT}-{index}-snapshot");
        wait_for(&snapshot, Duration::from_secs(120), || {
            cluster
                .kubectl_quiet(&["get", "clusterresourcesnapshot", &snapshot])
                .status
                .success()
                .then_some(())
        });
        let run = format!("{PLACEMENT}-run-{n}");
        hub.sigkill();
        let from = now_ms();
        let mut driver = Driver::new(cluster, &mut hub, &run, 1);
        driver.restart(script);
        apply_run(cluster, &run, PLACEMENT, PLACEMENT, Some(index));
        driver.drive(script);
        // The members' watchers look every 100 ms.
        std::thread::sleep(Duration::from_millis(500));
        let to = now_ms();
        points += driver.points;
        let entries = watch.entries();
        let violations = check(
            &entries,
            &expectation(&run, index, (from, to), &driver.approved, &entries),
        );
        println!(
            "[chaos] {run} (index {index}): {} kill points, {violations}",
            driver.points
        );
        assert!(violations.is_empty(), "run {run}: {violations}");
        tally.add(&violations);
    }
    // Every member saw exactly 0, 1, 0 in that order: nothing applied twice, nothing skipped.
    let entries = watch.entries();
    for (member, _) in MEMBERS {
        let seen: Vec<&str> = entries
            .iter()
            .filter(|e| e.cluster == member && e.step == RecordStep::Seen)
            .map(|e| e.index.as_str())
            .collect();
        assert_eq!(seen, ["0", "1", "0"], "{member} saw these indexes in order");
    }
    secrets_never_logged(&hub, members, &secret_value);
    member_identities_reach_only_their_own_namespace(cluster);
    print_figures(
        "Crash matrix: 3 real members (member agents applying to real API servers)",
        &[Figure::from_tally(
            "rollout, new index, rollback",
            points,
            &tally,
            started.elapsed(),
        )],
    );
}
