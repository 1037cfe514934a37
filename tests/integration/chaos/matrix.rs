//! The crash matrix over simulated members: three runs of one placement (a rollout, a second
//! index with a stop in the middle and a cluster leaving, a rollback), each with the hub killed
//! with SIGKILL at many points of its life, restarted, and the run continued to completion.
//!
//! The strategy has every kind of step a kill can land in: `canary` (2 at a time, then a
//! TimedWait), `staging` (an approval before and after, 25 % at a time), `prod` (50 % at a time),
//! and from the second run on a deletion stage. Kill points are crash points inside the hub
//! (`STAGEHAND_KILL_AT`, e.g. between a pass's binding writes and its status write) and moments
//! seen from outside (during the TimedWait, with an approval pending, right after approving, while
//! stopping). Every run is then checked from the members' side (`fleetsim --record`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stagehand::api::labels::{TARGET_UPDATE_RUN, TARGET_UPDATING_STAGE, TASK_TYPE};
use stagehand::fleetsim::invariants::{RunExpectation, StageExpectation, Tally, check};
use stagehand::fleetsim::record::{Entry, Step as RecordStep, read};
use stagehand::ops::failpoints::{
    PLACEMENT_AFTER_SNAPSHOT_CREATE, UPDATE_RUN_AFTER_ACTIONS, UPDATE_RUN_AFTER_APPROVAL_CREATE,
    UPDATE_RUN_AFTER_BINDING_DELETE, UPDATE_RUN_AFTER_BINDING_WRITE, UPDATE_RUN_AFTER_STATUS_WRITE,
    WORK_GENERATOR_AFTER_WORK_WRITE,
};

use super::hub_process::HubProcess;
use super::{
    Figure, apply_run, change_value, condition, full, get_json, now_ms, placement_bindings, poll, print_figures,
    spawn_simulated_fleet,
};
use crate::harness::{Role, TestCluster, joined_members, start_parallel, wait_for};
use crate::hub::KillOnDrop;
use crate::pipeline::placement;

const PLACEMENT: &str = "chaos";
const STRATEGY: &str = "chaos";
/// The canary stage's TimedWait.
const WAIT_MS: i64 = 3000;
const STEP_TIMEOUT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(200);
/// Approval requests of one run of this strategy: before and after `staging`.
const APPROVALS: usize = 2;

/// (stage, share of the fleet in percent, maxConcurrency).
const STAGES: [(&str, usize, &str); 3] = [("canary", 20, "2"), ("staging", 30, "25%"), ("prod", 50, "50%")];

/// What the run and its approvals look like at one poll.
pub struct View {
    pub run: Value,
    pub approvals: Vec<Value>,
}

impl View {
    fn status(&self) -> &Value {
        &self.run["status"]
    }

    fn pending_approvals(&self) -> Vec<&Value> {
        self.approvals
            .iter()
            .filter(|a| condition(&a["status"], "Approved").is_none())
            .collect()
    }

    fn stage(&self, i: usize) -> &Value {
        &self.status()["stagesStatus"][i]
    }

    fn succeeded_in_stage(&self, i: usize) -> usize {
        let stage = self.stage(i);
        if let Some(n) = stage["clusterSummary"]["succeeded"].as_u64() {
            return n as usize;
        }
        stage["clusters"].as_array().map_or(0, |cs| {
            cs.iter()
                .filter(|c| condition(c, "Succeeded").is_some_and(|(s, _)| s == "True"))
                .count()
        })
    }

    fn stage_done(&self, i: usize) -> bool {
        condition(self.stage(i), "Succeeded").is_some_and(|(s, _)| s == "True")
    }

    fn run_reason(&self, type_: &str) -> Option<(&str, &str)> {
        condition(self.status(), type_)
    }
}

/// One step of a run's script.
#[derive(Clone, Copy)]
pub enum Step {
    /// The hub kills itself at this crash point, the given pass of its process.
    Crash(&'static str, u32),
    /// The test kills the hub with SIGKILL once the view shows this.
    KillWhen(&'static str, fn(&View) -> bool),
    /// The test approves the next pending approval request and kills the hub at once.
    ApproveThenKill,
    /// The test sets the run's `spec.state`.
    State(&'static str),
    /// The test waits (no kill) until the view shows this.
    Await(&'static str, fn(&View) -> bool),
}

impl Step {
    fn is_kill(&self) -> bool {
        matches!(self, Step::Crash(..) | Step::KillWhen(..) | Step::ApproveThenKill)
    }

    fn describe(&self) -> String {
        match self {
            Step::Crash(point, pass) => format!("crash point {point} (pass {pass})"),
            Step::KillWhen(what, _) => format!("SIGKILL {what}"),
            Step::ApproveThenKill => "SIGKILL right after an approval".into(),
            Step::State(state) => format!("state {state}"),
            Step::Await(what, _) => format!("wait: {what}"),
        }
    }
}

/// Every canary cluster succeeded and the stage is not done: its TimedWait runs.
pub fn in_timed_wait(v: &View) -> bool {
    let size = v.stage(0)["clusters"].as_array().map_or(0, Vec::len);
    size > 0 && v.succeeded_in_stage(0) == size && !v.stage_done(0)
}

pub fn first_cluster_done(v: &View) -> bool {
    v.succeeded_in_stage(0) >= 1
}

pub fn approval_pending(v: &View) -> bool {
    !v.pending_approvals().is_empty()
}

fn prod_half_done(v: &View) -> bool {
    let total = v.stage(2)["clusters"].as_array().map_or(0, Vec::len);
    total > 0 && v.succeeded_in_stage(2) * 2 >= total
}

fn stopping_or_stopped(v: &View) -> bool {
    v.run_reason("Progressing")
        .is_some_and(|(_, r)| r == "UpdateRunStopping" || r == "UpdateRunStopped")
}

fn stopped(v: &View) -> bool {
    v.run_reason("Progressing")
        .is_some_and(|(_, r)| r == "UpdateRunStopped")
}

/// The three runs' scripts. `make test` runs every point too: on 30 clusters that takes a few
/// minutes; `make chaos` runs them over a larger fleet.
fn scripts() -> Vec<(&'static str, Vec<Step>)> {
    vec![
        (
            "rollout",
            vec![
                Step::Crash(UPDATE_RUN_AFTER_STATUS_WRITE, 1),
                Step::Crash(UPDATE_RUN_AFTER_BINDING_WRITE, 1),
                Step::KillWhen("after the first cluster finished", first_cluster_done),
                Step::KillWhen("during the TimedWait", in_timed_wait),
                Step::Crash(UPDATE_RUN_AFTER_APPROVAL_CREATE, 1),
                Step::KillWhen("with an approval pending", approval_pending),
                Step::ApproveThenKill,
                Step::Crash(WORK_GENERATOR_AFTER_WORK_WRITE, 3),
                Step::Crash(UPDATE_RUN_AFTER_ACTIONS, 2),
                Step::ApproveThenKill,
                Step::Crash(UPDATE_RUN_AFTER_BINDING_WRITE, 4),
                Step::KillWhen("with half of prod done", prod_half_done),
            ],
        ),
        (
            "second index, stop and resume, deletion stage",
            vec![
                Step::Crash(UPDATE_RUN_AFTER_STATUS_WRITE, 2),
                Step::KillWhen("after the first cluster finished", first_cluster_done),
                Step::State("Stop"),
                Step::KillWhen("while stopping", stopping_or_stopped),
                Step::Await("stopped", stopped),
                Step::KillWhen("while stopped", stopped),
                Step::State("Run"),
                Step::Crash(UPDATE_RUN_AFTER_ACTIONS, 1),
                Step::ApproveThenKill,
                Step::Crash(UPDATE_RUN_AFTER_STATUS_WRITE, 6),
                Step::Crash(UPDATE_RUN_AFTER_BINDING_DELETE, 1),
            ],
        ),
        (
            "rollback to index 0",
            vec![
                Step::Crash(UPDATE_RUN_AFTER_BINDING_WRITE, 2),
                Step::KillWhen("during the TimedWait", in_timed_wait),
                Step::ApproveThenKill,
                Step::Crash(UPDATE_RUN_AFTER_STATUS_WRITE, 8),
                Step::Crash(UPDATE_RUN_AFTER_BINDING_DELETE, 1),
            ],
        ),
    ]
}

fn spawn_fleetsim(hub: &TestCluster, clusters: usize, record: &Path) -> (Child, KillOnDrop) {
    let split = format!("chaos-stage={}", STAGES.map(|(s, p, _)| format!("{s}:{p}")).join(","));
    spawn_simulated_fleet(hub, clusters, &["--split", &split, "--label", "chaos-keep=yes"], record)
}

fn strategy(hub: &TestCluster) {
    let approval = json!([{"type": "Approval"}]);
    let stages: Vec<Value> = STAGES
        .iter()
        .map(|(name, _, max)| {
            let mut stage = json!({"name": name, "labelSelector": {"matchLabels": {"chaos-stage": name}},
                "maxConcurrency": max.parse::<i64>().map_or(json!(max), |n| json!(n))});
            match *name {
                "canary" => stage["afterStageTasks"] = json!([{"type": "TimedWait", "waitTime": "3s"}]),
                "staging" => {
                    stage["beforeStageTasks"] = approval.clone();
                    stage["afterStageTasks"] = approval.clone();
                }
                _ => {}
            }
            stage
        })
        .collect();
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": STRATEGY}, "spec": {"stages": stages}})
        .to_string(),
    );
}

/// Stage → its clusters, from the MemberClusters' labels (what the run should pick, worked out
/// without the hub), and the clusters that left the placement.
fn fleet_by_labels(hub: &TestCluster) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let list = get_json(hub, &["memberclusters"]).expect("member clusters");
    let mut stages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut left = BTreeSet::new();
    for mc in list["items"].as_array().into_iter().flatten() {
        let name = mc["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let labels = &mc["metadata"]["labels"];
        if labels["chaos-keep"] != "yes" {
            left.insert(name);
            continue;
        }
        if let Some(stage) = labels["chaos-stage"].as_str() {
            stages.entry(stage.to_string()).or_default().insert(name);
        }
    }
    (stages, left)
}

fn allowed(max: &str, size: usize) -> usize {
    match max.strip_suffix('%') {
        Some(pct) => (size * pct.parse::<usize>().expect("percent") / 100).max(1),
        None => max.parse::<usize>().expect("number").min(size.max(1)),
    }
}

/// Drives one run through its script, keeping the hub alive between kills.
pub struct Driver<'a> {
    pub cluster: &'a TestCluster,
    pub hub: &'a mut HubProcess,
    pub run: String,
    /// Approval requests the run will ask for.
    pub approvals: usize,
    /// (stage, beforeStage|afterStage) → when the test approved it.
    pub approved: BTreeMap<(String, String), i64>,
    pub stopped: Vec<(i64, i64)>,
    pub stopped_since: Option<i64>,
    pub points: usize,
}

impl<'a> Driver<'a> {
    /// A driver for run `run` that will ask for `approvals` approvals.
    pub fn new(cluster: &'a TestCluster, hub: &'a mut HubProcess, run: &str, approvals: usize) -> Driver<'a> {
        Driver {
            cluster,
            hub,
            run: run.to_string(),
            approvals,
            approved: BTreeMap::new(),
            stopped: Vec::new(),
            stopped_since: None,
            points: 0,
        }
    }

    fn view(&self) -> Option<View> {
        let run = get_json(self.cluster, &["csur", &self.run])?;
        let approvals = get_json(
            self.cluster,
            &[
                "clusterapprovalrequests",
                "-l",
                &format!("{TARGET_UPDATE_RUN}={}", self.run),
            ],
        )?;
        Some(View {
            run,
            approvals: approvals["items"].as_array().cloned().unwrap_or_default(),
        })
    }

    fn approve(&mut self, approval: &Value) {
        let name = approval["metadata"]["name"].as_str().unwrap_or_default();
        let labels = &approval["metadata"]["labels"];
        let key = (
            labels[TARGET_UPDATING_STAGE].as_str().unwrap_or_default().to_string(),
            labels[TASK_TYPE].as_str().unwrap_or_default().to_string(),
        );
        let at = now_ms();
        if super::approve(self.cluster, name) {
            self.approved.entry(key).or_insert(at);
        }
    }

    /// Approves every approval request the view shows pending.
    fn approve_all(&mut self, view: &View) {
        for approval in view.pending_approvals() {
            self.approve(approval);
        }
    }

    /// Restarts the hub after a kill, armed with the next crash point of the script, if the
    /// next kill is one.
    pub fn restart(&mut self, rest: &[Step]) {
        let arm = rest.iter().find(|s| s.is_kill()).and_then(|s| match s {
            Step::Crash(point, pass) => Some(format!("{point}:{pass}")),
            _ => None,
        });
        self.hub.start(arm.as_deref());
    }

    /// A hub that exited with no kill asked for (it lost its Lease) is restarted, as its pod
    /// would be; the exit is counted.
    fn restart_if_exited(&mut self, rest: &[Step]) {
        if self.hub.exited() {
            self.hub.note_exit();
            self.restart(rest);
        }
    }

    fn fail_if_run_failed(&self, view: &View) {
        if let Some(("False", _)) = view.run_reason("Succeeded") {
            panic!(
                "run {} failed after the kills: {}",
                self.run,
                serde_json::to_string_pretty(view.status()).unwrap_or_default()
            );
        }
    }

    /// Prints what a failed step needs for a diagnosis: the run as the API server has it.
    fn dump(&self) {
        if let Some(view) = self.view() {
            println!(
                "[chaos] {} now: {}",
                self.run,
                serde_json::to_string_pretty(&view.run).unwrap_or_default()
            );
            println!(
                "[chaos] approvals: {}",
                serde_json::to_string(&view.approvals).unwrap_or_default()
            );
        }
        println!("[chaos] hub log: {}", self.hub.log_path().display());
    }

    fn note_stop(&mut self, view: &View) {
        if self.stopped_since.is_none() && stopped(view) {
            self.stopped_since = Some(now_ms());
        }
    }

    /// Whether a step may approve what is pending: not while a later step still has to approve
    /// (and kill right after) every approval left.
    fn may_approve(&self, rest: &[Step]) -> bool {
        let reserved = rest.iter().filter(|s| matches!(s, Step::ApproveThenKill)).count();
        reserved < self.approvals.saturating_sub(self.approved.len())
    }

    pub fn drive(&mut self, script: &[Step]) {
        for (i, step) in script.iter().enumerate() {
            let rest = &script[i + 1..];
            let may_approve = self.may_approve(rest);
            println!("[chaos] {}: {}", self.run, step.describe());
            match *step {
                Step::State(state) => {
                    if state == "Run"
                        && let Some(from) = self.stopped_since.take()
                    {
                        self.stopped.push((from, now_ms()));
                    }
                    let patch = format!(r#"{{"spec":{{"state":"{state}"}}}}"#);
                    let out = self
                        .cluster
                        .kubectl_quiet(&["patch", "csur", &self.run, "--type=merge", "-p", &patch]);
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                    continue;
                }
                Step::Crash(..) => {
                    let started = Instant::now();
                    let crashed = poll(STEP_TIMEOUT, POLL, || {
                        if self.hub.exited() {
                            if self.hub.note_exit() {
                                return Some(());
                            }
                            let armed = self.hub.armed();
                            self.hub.start(armed.as_deref());
                        }
                        let view = self.view()?;
                        self.fail_if_run_failed(&view);
                        assert!(
                            view.run_reason("Succeeded").is_none(),
                            "run {} finished before {} was reached; see {}",
                            self.run,
                            step.describe(),
                            self.hub.log_path().display()
                        );
                        if may_approve {
                            self.approve_all(&view);
                        }
                        None
                    });
                    if crashed.is_none() {
                        self.dump();
                        panic!("{} not reached in {:?}", step.describe(), started.elapsed());
                    }
                }
                Step::KillWhen(what, predicate) | Step::Await(what, predicate) => {
                    let seen = poll(STEP_TIMEOUT, POLL, || {
                        self.restart_if_exited(&script[i..]);
                        let view = self.view()?;
                        self.fail_if_run_failed(&view);
                        self.note_stop(&view);
                        if predicate(&view) {
                            return Some(());
                        }
                        assert!(
                            view.run_reason("Succeeded").is_none(),
                            "run {} finished before {what}",
                            self.run
                        );
                        if may_approve {
                            self.approve_all(&view);
                        }
                        None
                    });
                    if seen.is_none() {
                        self.dump();
                        panic!("run {}: never saw {what}", self.run);
                    }
                    if matches!(step, Step::Await(..)) {
                        continue;
                    }
                    self.hub.sigkill();
                }
                Step::ApproveThenKill => {
                    let done = poll(STEP_TIMEOUT, POLL, || {
                        self.restart_if_exited(&script[i..]);
                        let view = self.view()?;
                        self.fail_if_run_failed(&view);
                        let pending = view.pending_approvals().first().map(|a| (*a).clone());
                        pending.map(|approval| self.approve(&approval))
                    });
                    if done.is_none() {
                        self.dump();
                        panic!("run {}: no approval to approve", self.run);
                    }
                    self.hub.sigkill();
                }
            }
            self.points += 1;
            self.restart(rest);
        }
        let done = poll(STEP_TIMEOUT, POLL, || {
            self.restart_if_exited(&[]);
            let view = self.view()?;
            self.fail_if_run_failed(&view);
            self.approve_all(&view);
            (view.run_reason("Succeeded") == Some(("True", "UpdateRunSucceeded"))).then_some(())
        });
        if done.is_none() {
            self.dump();
            panic!("run {} did not succeed", self.run);
        }
    }
}

/// The expectation for a run from the labels, the approvals the test gave and the record.
fn expectation(
    driver: &Driver,
    index: &str,
    window: (i64, i64),
    stages: &BTreeMap<String, BTreeSet<String>>,
    deleted: BTreeSet<String>,
    entries: &[Entry],
) -> RunExpectation {
    let (run, driver_approved, stopped) = (&driver.run, &driver.approved, driver.stopped.clone());
    let approved =
        |stage: &str, position: &str| driver_approved.get(&(stage.to_string(), position.to_string())).copied();
    // The canary's TimedWait starts when the hub sees its last cluster available, after the last
    // report; status times are whole seconds, so allow one.
    let canary_end = entries
        .iter()
        .filter(|e| e.placement == PLACEMENT && e.index == index && e.step == RecordStep::Reported)
        .filter(|e| e.at_ms >= window.0 && stages["canary"].contains(&e.cluster))
        .map(|e| e.at_ms)
        .max();
    let gates = [
        None,
        [
            approved("staging", "beforeStage"),
            canary_end.map(|t| t + WAIT_MS - 1000),
        ]
        .into_iter()
        .flatten()
        .max(),
        approved("staging", "afterStage"),
    ];
    RunExpectation {
        run: run.to_string(),
        placement: PLACEMENT.into(),
        index: index.into(),
        stages: STAGES
            .iter()
            .zip(gates)
            .map(|((name, _, max), gate_ms)| StageExpectation {
                name: name.to_string(),
                clusters: stages[*name].clone(),
                max_concurrency: allowed(max, stages[*name].len()),
                gate_ms,
            })
            .collect(),
        deleted,
        from_ms: window.0,
        to_ms: window.1,
        stopped,
    }
}

/// Changes the placement's resources with the hub armed to die right after creating the new
/// snapshot (before the old one lost `is-latest-snapshot`), restarts it, and checks the labels
/// end right: one latest snapshot, the new index.
fn new_index_through_a_crash(cluster: &TestCluster, hub: &mut HubProcess, value: &str, index: &str) -> usize {
    hub.sigkill();
    hub.start(Some(&format!("{PLACEMENT_AFTER_SNAPSHOT_CREATE}:1")));
    change_value(cluster, PLACEMENT, value);
    hub.wait_for_crash(STEP_TIMEOUT);
    hub.start(None);
    let snapshot = format!("{PLACEMENT}-{index}-snapshot");
    wait_for(&format!("{snapshot} is the only latest snapshot"), STEP_TIMEOUT, || {
        let list = get_json(
            cluster,
            &[
                "clusterresourcesnapshots",
                "-l",
                &format!("kubernetes-fleet.io/parent-CRP={PLACEMENT},kubernetes-fleet.io/is-latest-snapshot=true"),
            ],
        )?;
        let names: Vec<&str> = list["items"]
            .as_array()?
            .iter()
            .filter_map(|s| s["metadata"]["name"].as_str())
            .collect();
        (names == [snapshot.as_str()]).then_some(())
    });
    1
}

/// The matrix itself: ≥ 20 kill points over three runs, every run checked from the members'
/// side. The figures go to stdout (`make chaos` shows them).
#[test]
fn the_hub_killed_at_every_point_of_three_runs_finishes_each_correctly() {
    let started = Instant::now();
    let clusters = if full() { 200 } else { 30 };
    let cluster = &start_parallel(&[("chaoshub", Role::Hub)])[0];
    let record = cluster.kubeconfig.parent().expect("dir").join("fleetsim.jsonl");
    let (_sim, _sim_guard) = spawn_fleetsim(cluster, clusters, &record);
    let mut hub = HubProcess::new(cluster, "chaos-hub", &[]);
    hub.start(None);
    wait_for("the simulated members joined", Duration::from_secs(180), || {
        (joined_members(cluster) == clusters).then_some(())
    });
    strategy(cluster);
    placement(
        cluster,
        PLACEMENT,
        json!({"placementType": "PickAll", "affinity": {"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "clusterSelectorTerms": [{"labelSelector": {"matchLabels": {"chaos-keep": "yes"}}}]}}}}),
        json!({"type": "External"}),
    );
    wait_for("snapshot 0", STEP_TIMEOUT, || {
        cluster
            .kubectl_quiet(&["get", "clusterresourcesnapshot", &format!("{PLACEMENT}-0-snapshot")])
            .status
            .success()
            .then_some(())
    });

    let mut tally = Tally::default();
    let mut points = 0;
    let mut previous_left: BTreeSet<String> = BTreeSet::new();
    for (n, (title, script)) in scripts().into_iter().enumerate() {
        let index = match n {
            0 => "0".to_string(),
            1 => {
                points += new_index_through_a_crash(cluster, &mut hub, "value2", "1");
                "1".to_string()
            }
            _ => "0".to_string(),
        };
        if n > 0 {
            // A prod cluster leaves the placement before the run: its Works go in the deletion stage.
            let leaving = format!("sim-{:05}", clusters - n);
            let out = cluster.kubectl_quiet(&["label", "membercluster", &leaving, "chaos-keep=no", "--overwrite"]);
            assert!(out.status.success());
            // The affinity is IgnoredDuringExecution: the label alone keeps the cluster. A policy
            // change (a value no cluster has, so the same clusters match) has the scheduler look again.
            let policy = json!({"spec": {"policy": {"placementType": "PickAll", "affinity": {"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "clusterSelectorTerms": [{"labelSelector": {"matchExpressions": [{"key": "chaos-keep", "operator": "In", "values": ["yes", format!("policy-{n}")]}]}}]}}}}}});
            let out = cluster.kubectl_quiet(&["patch", "crp", PLACEMENT, "--type=merge", "-p", &policy.to_string()]);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            wait_for(&format!("{leaving} unscheduled"), STEP_TIMEOUT, || {
                placement_bindings(cluster, PLACEMENT)
                    .iter()
                    .any(|b| b["spec"]["targetCluster"] == leaving.as_str() && b["spec"]["state"] == "Unscheduled")
                    .then_some(())
            });
        }
        let (stages, left) = fleet_by_labels(cluster);
        let deleted: BTreeSet<String> = left.difference(&previous_left).cloned().collect();
        previous_left = left;
        let run = format!("chaos-run-{n}");
        // The first kill of a script may be a crash point: restart the hub armed for it.
        hub.sigkill();
        let from = now_ms();
        let mut driver = Driver::new(cluster, &mut hub, &run, APPROVALS);
        driver.restart(&script);
        apply_run(cluster, &run, PLACEMENT, STRATEGY, Some(&index));
        driver.drive(&script);
        let to = now_ms();
        points += driver.points;
        // The record is written as it happens; give the last lines a moment.
        std::thread::sleep(Duration::from_millis(500));
        let entries = read(&record).expect("the record");
        let expected = expectation(&driver, &index, (from, to), &stages, deleted, &entries);
        let violations = check(&entries, &expected);
        println!("[chaos] {run} ({title}): {} kill points, {violations}", driver.points);
        assert!(violations.is_empty(), "run {run} ({title}): {violations}");
        tally.add(&violations);
    }
    println!(
        "{}",
        cluster
            .kubectl_quiet(&["get", "csur"])
            .stdout
            .iter()
            .map(|b| *b as char)
            .collect::<String>()
    );
    print_figures(
        &format!(
            "Crash matrix: {clusters} simulated members, hub killed with SIGKILL ({} hub processes, {} exits nobody asked for)",
            hub.starts, hub.unexpected_exits
        ),
        &[Figure::from_tally(
            "three runs (rollout, stop/resume + deletion, rollback)",
            points,
            &tally,
            started.elapsed(),
        )],
    );
    assert!(points >= 20, "only {points} kill points were tried");
    assert_eq!(tally.correct, tally.runs);
}
