//! `kubectl stagehand` invoked through kubectl, as a user would: the real plugin binary on PATH
//! as `kubectl-stagehand`, against the run hub (real API server, in-process controllers); the
//! test plays the members by writing binding conditions (`update_runs::fixture`).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{TestCluster, unique, wait_for};
use crate::update_runs::doc_a_stages;
use crate::update_runs::fixture::{CLUSTER, Fleet, WAIT, seed_members};

/// A directory holding `kubectl-stagehand` (a link to the built binary), for PATH.
fn plugin_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stagehand-plugin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("plugin dir");
    let link = dir.join("kubectl-stagehand");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kubectl-stagehand"), &link).expect("linking the plugin");
    }
    dir
}

/// `kubectl stagehand <args>` with the hub's kubeconfig, the plugin found on PATH.
fn stagehand(hub: &TestCluster, args: &[&str]) -> Output {
    let path = format!(
        "{}:{}",
        plugin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("kubectl")
        .arg("stagehand")
        .args(args)
        .env("PATH", path)
        .env("KUBECONFIG", &hub.kubeconfig)
        .output()
        .expect("running kubectl stagehand");
    println!(
        "$ kubectl stagehand {}\n{}{}(exit {:?})",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code()
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// Waits until `kubectl stagehand why RUN` says `needle`; returns the sentence.
fn why_says(hub: &TestCluster, run: &str, needle: &str) -> String {
    wait_for(&format!("why {run} says {needle:?}"), WAIT, || {
        let out = stagehand(hub, &["why", run]);
        (out.status.success() && stdout(&out).contains(needle)).then(|| stdout(&out))
    })
}

/// A placement of the seed members (prefixed `p`), a strategy of `stages` and run `<p>-run` in `state`.
fn fleet_with_run(p: &str, stages: Value, state: &str) -> (Fleet, String) {
    let fleet = Fleet::new(&CLUSTER, None, p, &seed_members(p));
    let strategy = format!("{p}-strategy");
    fleet.strategy(&strategy, stages);
    let run = format!("{p}-run");
    fleet.run(&run, &strategy, Some("1"), Some(state));
    (fleet, run)
}

#[test]
fn status_why_and_approve_drive_doc_as_flow_through_kubectl() {
    let p = unique("plugin");
    let (fleet, run) = fleet_with_run(&p, doc_a_stages("20s"), "Run");
    let hub = fleet.hub;
    let (m1, m2, m3) = (format!("{p}-member1"), format!("{p}-member2"), format!("{p}-member3"));

    // Staging's cluster updates; `why` names it.
    why_says(
        hub,
        &run,
        &format!("waits for {m2} in stage staging to become available"),
    );
    let status = stagehand(hub, &["status", &run]);
    assert!(status.status.success());
    let text = stdout(&status);
    assert!(
        text.contains("STAGE") && text.contains(&format!("{m2} updating")),
        "{text}"
    );

    // The TimedWait: `why` says how long.
    fleet.make_available(&m2);
    let sentence = why_says(hub, &run, "s more: the TimedWait after stage staging ends then.");
    let seconds: i64 = sentence
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    assert!((0..=20).contains(&seconds), "{sentence}");

    // The before-stage approval: refusals first, then the approval.
    let sentence = why_says(hub, &run, "before-stage approval of stage canary");
    assert!(
        sentence.ends_with(&format!("kubectl stagehand approve {run} canary --before")),
        "{sentence}"
    );
    let wrong = stagehand(hub, &["approve", &run, "prod"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert_eq!(
        stderr(&wrong),
        format!("error: ClusterStagedUpdateRun {run} has no stage prod; its stages are: staging, canary")
    );
    let nothing = stagehand(hub, &["approve", &run, "canary", "--after"]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(
        stderr(&nothing).starts_with("error: nothing to approve"),
        "{}",
        stderr(&nothing)
    );
    let approved = stagehand(hub, &["approve", &run, "canary", "--before"]);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert_eq!(
        stdout(&approved),
        format!("approved ClusterApprovalRequest {run}-canary-before (stage canary, before-stage)")
    );
    let request = fleet
        .get("ClusterApprovalRequest", &format!("{run}-canary-before"))
        .expect("request");
    let condition = request["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Approved").cloned())
        .unwrap_or(Value::Null);
    assert_eq!(condition["status"], "True");
    assert_eq!(condition["observedGeneration"], request["metadata"]["generation"]);
    assert!(condition["lastTransitionTime"].is_string());

    // Canary, its after-stage approval, and `status --watch` until the run succeeds.
    wait_for("canary started", WAIT, || {
        (fleet.binding_json(&m3)["spec"]["state"] == "Bound").then_some(())
    });
    fleet.make_available(&m3);
    fleet.make_available(&m1);
    why_says(hub, &run, "after-stage approval of stage canary");
    assert!(stagehand(hub, &["approve", &run]).status.success());
    let watched = stagehand(hub, &["status", &run, "--watch"]);
    assert_eq!(watched.status.code(), Some(0), "{}", stderr(&watched));
    assert!(
        stdout(&watched).contains("Succeeded: 3 succeeded"),
        "{}",
        stdout(&watched)
    );

    // `-o json` is the documented report.
    let json: Value = serde_json::from_str(&stdout(&stagehand(hub, &["status", &run, "-o", "json"]))).expect("JSON");
    assert_eq!(json["phase"], "Succeeded");
    assert_eq!(json["summary"]["succeeded"], 3);
    assert_eq!(json["stages"][1]["name"], "canary");
    assert_eq!(json["stages"][1]["clusters"][0]["name"], m3.as_str());
    assert_eq!(
        json["stages"][1]["tasks"][0]["approvalRequest"],
        format!("{run}-canary-before")
    );
    assert_eq!(
        stdout(&stagehand(hub, &["why", &run])),
        format!("Nothing blocks {run}: it succeeded.")
    );
}

#[test]
fn stop_resume_abort_and_errors_are_one_line_with_an_exit_code() {
    let p = unique("plugin-steer");
    let (fleet, run) = fleet_with_run(&p, doc_a_stages("20s"), "Run");
    let hub = fleet.hub;

    assert!(stagehand(hub, &["stop", &run]).status.success());
    why_says(
        hub,
        &run,
        &format!("{run} is stopped. Resume it: kubectl stagehand resume {run}"),
    );
    assert!(stagehand(hub, &["resume", &run]).status.success());
    assert!(stagehand(hub, &["abort", &run]).status.success());
    why_says(hub, &run, "was aborted and cannot go on");
    let watched = stagehand(hub, &["status", &run, "--watch"]);
    assert_eq!(watched.status.code(), Some(3), "an aborted run exits 3");
    let resumed = stagehand(hub, &["resume", &run]);
    assert_eq!(resumed.status.code(), Some(1));
    assert!(
        stderr(&resumed).contains("an aborted run cannot be resumed"),
        "{}",
        stderr(&resumed)
    );
    assert_eq!(stderr(&resumed).lines().count(), 1);

    let missing = stagehand(hub, &["status", "no-such-run"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stderr(&missing), "error: ClusterStagedUpdateRun no-such-run not found");
    let namespaced = stagehand(hub, &["status", "no-such-run", "-n", "default"]);
    assert_eq!(
        stderr(&namespaced),
        "error: StagedUpdateRun no-such-run in namespace default not found"
    );

    // A server nobody listens on.
    let dead = std::env::temp_dir().join(format!("{p}-dead.kubeconfig"));
    let kubeconfig = std::fs::read_to_string(&hub.kubeconfig).expect("kubeconfig");
    std::fs::write(&dead, kubeconfig.replace(&hub.server, "https://127.0.0.1:1")).expect("dead kubeconfig");
    let unreachable = stagehand(
        hub,
        &["status", &run, "--kubeconfig", dead.to_str().unwrap_or_default()],
    );
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(
        stderr(&unreachable).starts_with("error: cannot reach the API server"),
        "{}",
        stderr(&unreachable)
    );
    assert_eq!(stderr(&unreachable).lines().count(), 1);
}

/// Plays each member in turn: once its binding points at `snapshot`, its resources are available.
fn members_apply(fleet: &Fleet, members: &[&String], snapshot: &str) {
    for m in members {
        wait_for(&format!("{m} bound to {snapshot}"), WAIT, || {
            let b = fleet.binding_json(m);
            (b["spec"]["state"] == "Bound" && b["spec"]["resourceSnapshotName"] == snapshot).then_some(())
        });
        fleet.make_available(m);
    }
}

#[test]
fn plan_run_rollback_and_history_through_kubectl() {
    let p = unique("plugin-plan");
    let fleet = Fleet::new(&CLUSTER, None, &p, &seed_members(&p));
    let hub = fleet.hub;
    let strategy = format!("{p}-strategy");
    fleet.strategy(&strategy, crate::update_runs::one_stage_no_tasks());
    let (m1, m2, m3) = (format!("{p}-member1"), format!("{p}-member2"), format!("{p}-member3"));

    let plan = stagehand(hub, &["plan", &p, "--strategy", &strategy]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert_eq!(
        stdout(&plan),
        format!(
            "Plan of a run of placement {p} with strategy {strategy}, resource snapshot index 1:\n1. stage all\n   batch 1: {m3}\n   batch 2: {m1}\n   batch 3: {m2}\nEstimate: 90 s"
        )
    );
    let missing = stagehand(hub, &["plan", &p, "--strategy", &strategy, "--index", "7"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        format!("error: placement {p} has no resource snapshot 7; it has 0, 1")
    );

    let run = format!("{p}-run");
    let created = stagehand(hub, &["run", &p, "--strategy", &strategy, "--name", &run]);
    assert_eq!(
        stdout(&created),
        format!(
            "ClusterStagedUpdateRun {run} created: rolling out resource snapshot 1 of placement {p} with strategy {strategy}"
        )
    );
    members_apply(&fleet, &[&m3, &m1, &m2], &format!("{p}-1-snapshot"));
    assert_eq!(stagehand(hub, &["status", &run, "--watch"]).status.code(), Some(0));

    let back = format!("{p}-back");
    let rollback = stagehand(
        hub,
        &["rollback", &p, "--to", "0", "--strategy", &strategy, "--name", &back],
    );
    assert!(rollback.status.success(), "{}", stderr(&rollback));
    members_apply(&fleet, &[&m3, &m1, &m2], &format!("{p}-0-snapshot"));
    assert_eq!(stagehand(hub, &["status", &back, "--watch"]).status.code(), Some(0));

    let history: Value = serde_json::from_str(&stdout(&stagehand(hub, &["history", &p, "-o", "json"]))).expect("JSON");
    assert_eq!(history[0]["index"], 0);
    assert_eq!(
        history[0]["changes"],
        serde_json::json!(["+ ConfigMap test-namespace/test-cm"])
    );
    assert_eq!(
        history[0]["runs"],
        serde_json::json!([format!("{back} (Succeeded: {m3}, {m1}, {m2})")])
    );
    assert_eq!(
        history[1]["changes"],
        serde_json::json!(["~ ConfigMap test-namespace/test-cm"])
    );
    assert_eq!(
        history[1]["runs"],
        serde_json::json!([format!("{run} (Succeeded: {m3}, {m1}, {m2})")])
    );
    let table = stdout(&stagehand(hub, &["history", &p]));
    assert!(table.starts_with("INDEX"), "{table}");
}

#[test]
fn a_read_only_user_sees_the_run_and_is_refused_in_one_line() {
    let p = unique("plugin-ro");
    let (fleet, run) = fleet_with_run(&p, crate::update_runs::one_stage_no_tasks(), "Initialize");
    let hub = fleet.hub;

    // A ServiceAccount that may only read Fleet's placement objects.
    let ns = crate::harness::test_namespace(hub, "plugin-ro");
    hub.kubectl_ok(&["create", "serviceaccount", "reader", "-n", &ns]);
    hub.kubectl_ok(&[
        "create",
        "clusterrole",
        &format!("{p}-reader"),
        "--verb=get,list,watch",
        "--resource=clusterstagedupdateruns.placement.kubernetes-fleet.io,clusterresourcebindings.placement.kubernetes-fleet.io",
    ]);
    hub.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        &format!("{p}-reader"),
        &format!("--clusterrole={p}-reader"),
        &format!("--serviceaccount={ns}:reader"),
    ]);
    let token = hub.kubectl_ok(&["create", "token", "reader", "-n", &ns, "--duration=1h"]);
    let path = std::env::temp_dir().join(format!("{p}-reader.kubeconfig"));
    hub.token_kubeconfig("reader", &token, &path);
    let path = path.to_str().unwrap_or_default();

    let seen = stagehand(hub, &["status", &run, "--kubeconfig", path]);
    assert!(seen.status.success(), "{}", stderr(&seen));
    let refused = stagehand(hub, &["stop", &run, "--kubeconfig", path]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(stderr(&refused).lines().count(), 1, "{}", stderr(&refused));
    assert!(
        stderr(&refused).starts_with("error: forbidden: ") && stderr(&refused).contains("cannot patch resource"),
        "{}",
        stderr(&refused)
    );
}

/// What the work generator writes when a member could not apply the resources.
fn fail_to_apply(fleet: &Fleet, cluster: &str, message: &str) {
    let binding = fleet.binding_json(cluster);
    let generation = binding["metadata"]["generation"].as_i64().unwrap_or(1);
    let mut failed = crate::update_runs::fixture::condition("Applied", "False", "ManifestApplyFailed", generation);
    failed["message"] = serde_json::json!(message);
    let mut conditions: Vec<Value> = binding["status"]["conditions"].as_array().cloned().unwrap_or_default();
    conditions.retain(|c| c["type"] != "Applied");
    conditions.push(crate::update_runs::fixture::condition(
        "Applied",
        "False",
        "NotAllWorkHaveBeenApplied",
        generation,
    ));
    fleet.patch_status(
        fleet.kinds.binding,
        &fleet.binding_name(cluster),
        serde_json::json!({"status": {"conditions": conditions,
            "failedPlacements": [{"version": "v1", "kind": "ConfigMap", "name": "test-cm", "condition": failed}]}}),
    );
}

#[test]
fn namespaced_runs_work_with_n_and_a_and_why_names_what_blocks_them() {
    let hub = crate::harness::run_hub();
    let ns = crate::harness::test_namespace(hub, "plugin-ns");
    let p = unique("plugin-ns");
    let fleet = Fleet::new(
        &crate::update_runs::fixture::NAMESPACED,
        Some(ns.clone()),
        &p,
        &seed_members(&p),
    );
    let strategy = format!("{p}-strategy");
    fleet.strategy(&strategy, doc_a_stages("5s"));
    let run = format!("{p}-run");
    fleet.run(&run, &strategy, Some("1"), Some("Run"));
    let m2 = format!("{p}-member2");

    // A cluster whose member cannot apply: `why` names it and what its Work reports.
    wait_for("staging bound", WAIT, || {
        (fleet.binding_json(&m2)["spec"]["state"] == "Bound").then_some(())
    });
    fail_to_apply(&fleet, &m2, "the object exists and is not managed by Fleet");
    let out = wait_for("why names the failing cluster", WAIT, || {
        let out = stagehand(hub, &["why", &run, "-n", &ns]);
        stdout(&out).contains("which is not available").then(|| stdout(&out))
    });
    assert_eq!(
        out,
        format!(
            "{run} waits for cluster {m2} in stage staging, which is not available: ConfigMap test-cm reports: the object exists and is not managed by Fleet. Fix it on {m2}, or skip it: kubectl stagehand skip {run} --cluster {m2} -n {ns}"
        )
    );
    fleet.make_available(&m2);
    let approve_hint = format!("kubectl stagehand approve {run} canary --before -n {ns}");
    why_says_in(hub, &run, &ns, &approve_hint);
    let approved = stagehand(hub, &["approve", &run, "-n", &ns]);
    assert_eq!(
        stdout(&approved),
        format!("approved ApprovalRequest {run}-canary-before (stage canary, before-stage)")
    );

    // `list -A` shows it with its namespace.
    let list = stdout(&stagehand(hub, &["list", "-A"]));
    assert!(list.starts_with("NAMESPACE"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.contains(&ns) && l.contains(&run) && l.contains(&p)),
        "{list}"
    );

    // A run whose strategy does not exist: `why` gives the initialization's message.
    let broken = format!("{p}-broken");
    fleet.run(&broken, "no-such-strategy", Some("1"), Some("Run"));
    why_says_in(
        hub,
        &broken,
        &ns,
        &format!(
            "{broken} could not initialize: cannot continue the updateRun: failed to validate the updateRun: failed to process the request due to a client error: referenced updateStrategy not found: `{ns}/no-such-strategy`. Fix it and create a new run."
        ),
    );
}

/// `why_says` for a namespaced run.
fn why_says_in(hub: &TestCluster, run: &str, ns: &str, needle: &str) -> String {
    wait_for(&format!("why {run} says {needle:?}"), WAIT, || {
        let out = stagehand(hub, &["why", run, "-n", ns]);
        (out.status.success() && stdout(&out).contains(needle)).then(|| stdout(&out))
    })
}
