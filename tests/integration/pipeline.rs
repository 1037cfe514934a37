//! The placement pipeline end to end on a hub of its own (`pipehub`) with every hub controller
//! in-process: member clusters joining and leaving, the scheduler's PickAll/PickN/PickFixed
//! decisions and bindings, the RollingUpdate rollout controller and placement status.
//!
//! No member agent runs here (that is the work delivery issue); [`Agent`] stands in for it by
//! writing, through kubectl, the InternalMemberCluster heartbeat the agent would write.
//! Clusters a test creates for itself carry a taint its placements tolerate, so placements of
//! other tests (which tolerate nothing) only ever pick the shared `member1..3`.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestCluster, cells, placement_hub, unique, wait_for};

const WAIT: Duration = Duration::from_secs(60);

/// Clusters whose agent stand-in reports Joined, and those that report having left.
struct Agent {
    joined: Mutex<BTreeSet<String>>,
}

fn agent() -> &'static Agent {
    static AGENT: OnceLock<Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_secs(30));
                let names: Vec<String> = agent().joined.lock().unwrap().iter().cloned().collect();
                for name in names {
                    heartbeat(placement_hub(), &name, true);
                }
            }
        });
        Agent {
            joined: Mutex::new(BTreeSet::new()),
        }
    })
}

/// Writes the member agent's report on the cluster's InternalMemberCluster.
pub fn heartbeat(hub: &TestCluster, name: &str, joined: bool) {
    let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap().to_string();
    let condition = |t: &str, status: bool| {
        json!({"type": t, "status": if status {"True"} else {"False"}, "reason": format!("InternalMemberCluster{t}"),
               "message": "", "lastTransitionTime": now, "observedGeneration": 1})
    };
    let status = json!({"status": {"agentStatus": [{
        "type": "MemberAgent",
        "conditions": [condition("Joined", joined), condition("Healthy", true)],
        "lastReceivedHeartbeat": now,
    }]}});
    hub.kubectl_ok(&[
        "patch",
        "internalmembercluster",
        name,
        "-n",
        &format!("fleet-member-{name}"),
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
}

/// Creates a MemberCluster, waits for its InternalMemberCluster and makes it join; the agent
/// stand-in keeps its heartbeat fresh.
fn join(hub: &TestCluster, name: &str, labels: &[(&str, &str)], taint: Option<&str>) {
    register_member(hub, name, labels, taint);
    agent().joined.lock().unwrap().insert(name.to_string());
}

/// Creates a MemberCluster, waits for its InternalMemberCluster and reports one heartbeat.
pub fn register_member(hub: &TestCluster, name: &str, labels: &[(&str, &str)], taint: Option<&str>) {
    let labels: serde_json::Map<String, Value> = labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let mut spec = json!({"identity": {"kind": "User", "name": format!("{name}-agent")}, "heartbeatPeriodSeconds": 30});
    if let Some(key) = taint {
        spec["taints"] = json!([{"key": "only", "value": key, "effect": "NoSchedule"}]);
    }
    let cluster = json!({
        "apiVersion": "cluster.kubernetes-fleet.io/v1beta1", "kind": "MemberCluster",
        "metadata": {"name": name, "labels": labels}, "spec": spec,
    });
    hub.apply(&cluster.to_string());
    wait_for(&format!("InternalMemberCluster {name}"), WAIT, || {
        hub.kubectl(&["get", "imc", name, "-n", &format!("fleet-member-{name}")])
            .status
            .success()
            .then_some(())
    });
    heartbeat(hub, name, true);
    wait_for(&format!("{name} Joined"), WAIT, || {
        let table = hub.kubectl_ok(&["get", "membercluster", name]);
        (cells(&table, name)[1] == "True").then_some(())
    });
}

/// The shared fleet of the seed documents: member1..3 with their labels, joined, untainted.
pub fn fleet() -> &'static TestCluster {
    static FLEET: OnceLock<()> = OnceLock::new();
    let hub = placement_hub();
    FLEET.get_or_init(|| {
        join(hub, "member1", &[("environment", "canary"), ("order", "2")], None);
        join(hub, "member2", &[("environment", "staging")], None);
        join(hub, "member3", &[("environment", "canary"), ("order", "1")], None);
    });
    hub
}

fn get_json(hub: &TestCluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&hub.kubectl_ok(&all)).expect("kubectl json")
}

/// (name, state, target cluster, policy snapshot, resource snapshot) of a CRP's bindings.
pub fn bindings(hub: &TestCluster, placement: &str) -> Vec<(String, String, String, String, String)> {
    let list = get_json(
        hub,
        &["crb", "-l", &format!("kubernetes-fleet.io/parent-CRP={placement}")],
    );
    let mut rows: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let s = |k: &str| b["spec"][k].as_str().unwrap_or_default().to_string();
            (
                b["metadata"]["name"].as_str().unwrap().to_string(),
                s("state"),
                s("targetCluster"),
                s("schedulingPolicySnapshotName"),
                s("resourceSnapshotName"),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.2.cmp(&b.2));
    rows
}

/// Targets of the bindings in `state`.
fn targets(hub: &TestCluster, placement: &str, state: &str) -> Vec<String> {
    bindings(hub, placement)
        .into_iter()
        .filter(|b| b.1 == state)
        .map(|b| b.2)
        .collect()
}

fn crp_cells(hub: &TestCluster, name: &str) -> Vec<String> {
    let table = hub.kubectl_ok(&["get", "crp", name]);
    cells(&table, name)
}

/// A CRP `name` of namespace `name` (created with ConfigMap `cm`, `key=value1`) with `policy` and
/// `strategy`.
pub fn placement(hub: &TestCluster, name: &str, policy: Value, strategy: Value) {
    hub.kubectl_ok(&["create", "ns", name]);
    hub.kubectl_ok(&["create", "cm", "cm", "--from-literal=key=value1", "-n", name]);
    let crp = json!({
        "apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterResourcePlacement",
        "metadata": {"name": name},
        "spec": {
            "resourceSelectors": [{"group": "", "version": "v1", "kind": "Namespace", "name": name}],
            "policy": policy, "strategy": strategy,
        },
    });
    hub.apply(&crp.to_string());
}

/// Waits (up to `timeout`) until `kubectl get <get>` shows placement `name` AVAILABLE True, prints
/// the table, and checks the row reads `1 True 1 True 1` (GEN through AVAILABLE-GEN).
pub fn assert_available_at_generation_one(hub: &TestCluster, get: &[&str], name: &str, timeout: Duration) {
    let args: Vec<&str> = std::iter::once("get").chain(get.iter().copied()).collect();
    let (table, row) = wait_for(&format!("kubectl {}: AVAILABLE True", args.join(" ")), timeout, || {
        let table = hub.kubectl_ok(&args);
        let row = cells(&table, name);
        (row[4] == "True").then_some((table, row))
    });
    println!("{table}");
    assert_eq!(&row[1..6], ["1", "True", "1", "True", "1"]);
}

/// Waits (up to `timeout`) until `kubectl get csur <run>` shows SUCCEEDED True.
pub fn wait_run_succeeded(hub: &TestCluster, run: &str, timeout: Duration) {
    wait_for(&format!("run {run} succeeded"), timeout, || {
        let table = hub.kubectl_ok(&["get", "csur", run]);
        (cells(&table, run)[6] == "True").then_some(())
    });
}

/// A ClusterStagedUpdateStrategy `name` of one stage `stage`, selecting the clusters labelled
/// `label` and ending with `after_stage_tasks`.
pub fn one_stage_strategy(hub: &TestCluster, name: &str, stage: &str, label: (&str, &str), after_stage_tasks: Value) {
    let (key, value) = label;
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": name},
            "spec": {"stages": [{"name": stage, "labelSelector": {"matchLabels": {key: value}},
                                 "afterStageTasks": after_stage_tasks}]}})
        .to_string(),
    );
}

fn tolerate(key: &str) -> Value {
    json!([{"key": "only", "operator": "Equal", "value": key, "effect": "NoSchedule"}])
}

fn require_group(key: &str) -> Value {
    json!({"clusterAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "clusterSelectorTerms": [{"labelSelector": {"matchLabels": {"group": key}}}]}}})
}

#[test]
fn member_cluster_gets_its_namespace_role_and_internal_member_cluster_then_leaves() {
    let hub = placement_hub();
    let name = unique("mc-life");
    let ns = format!("fleet-member-{name}");
    join(hub, &name, &[], Some("mc-life"));
    let mc = get_json(hub, &["membercluster", &name]);
    assert_eq!(mc["metadata"]["labels"]["kubernetes-fleet.io/member-name"], json!(name));
    assert!(
        mc["metadata"]["finalizers"]
            .to_string()
            .contains("kubernetes-fleet.io/membercluster-finalizer")
    );
    let namespace = get_json(hub, &["ns", &ns]);
    assert_eq!(
        namespace["metadata"]["labels"]["kubernetes-fleet.io/is-fleet-resource"],
        json!("true")
    );
    let binding = get_json(hub, &["rolebinding", &format!("fleet-rolebinding-{name}"), "-n", &ns]);
    assert_eq!(
        binding["subjects"][0],
        json!({"kind": "User", "name": format!("{name}-agent"), "apiGroup": "rbac.authorization.k8s.io"})
    );
    assert_eq!(binding["roleRef"]["name"], json!(format!("fleet-role-{name}")));
    let as_agent = format!("--as={name}-agent");
    for (verb, resource) in [
        ("create", "works.placement.kubernetes-fleet.io"),
        ("update", "internalmemberclusters.cluster.kubernetes-fleet.io/status"),
        ("create", "events"),
    ] {
        let out = hub.kubectl(&["auth", "can-i", verb, resource, "-n", &ns, &as_agent]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "yes",
            "agent may {verb} {resource}"
        );
    }
    let out = hub.kubectl(&[
        "auth",
        "can-i",
        "create",
        "works.placement.kubernetes-fleet.io",
        "-n",
        "default",
        &as_agent,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no",
        "the agent's rights end at its namespace"
    );
    let imc = get_json(hub, &["imc", &name, "-n", &ns]);
    assert_eq!(imc["spec"]["state"], json!("Join"));
    let table = hub.kubectl_ok(&["get", "memberclusters", &name]);
    println!("{table}");
    assert!(table.starts_with("NAME"), "{table}");
    assert_eq!(cells(&table, &name)[1], "True", "JOINED");
    let reasons = mc_conditions(hub, &name);
    assert!(
        reasons.contains(&("ReadyToJoin".into(), "True".into(), "MemberClusterReadyToJoin".into())),
        "{reasons:?}"
    );

    // Leaving: the hub asks the agent to leave and waits for it before removing the namespace.
    hub.kubectl_ok(&["delete", "membercluster", &name, "--wait=false"]);
    wait_for("InternalMemberCluster state Leave", WAIT, || {
        (get_json(hub, &["imc", &name, "-n", &ns])["spec"]["state"] == json!("Leave")).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        hub.kubectl(&["get", "ns", &ns]).status.success(),
        "the namespace stays while the agent is still joined"
    );
    agent().joined.lock().unwrap().remove(&name);
    heartbeat(hub, &name, false);
    wait_for("member cluster and namespace gone", WAIT, || {
        let mc_gone = !hub.kubectl(&["get", "membercluster", &name]).status.success();
        let ns_gone = !hub.kubectl(&["get", "ns", &ns]).status.success();
        (mc_gone && ns_gone).then_some(())
    });
}

fn mc_conditions(hub: &TestCluster, name: &str) -> Vec<(String, String, String)> {
    get_json(hub, &["membercluster", name])["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("type"), s("status"), s("reason"))
        })
        .collect()
}

#[test]
fn pick_all_schedules_every_joined_cluster_and_deleting_the_placement_cleans_up() {
    let hub = fleet();
    let name = unique("pickall");
    placement(
        hub,
        &name,
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    wait_for("three Scheduled bindings", WAIT, || {
        (targets(hub, &name, "Scheduled") == ["member1", "member2", "member3"]).then_some(())
    });
    for (binding, _, cluster, policy, snapshot) in bindings(hub, &name) {
        assert!(binding.starts_with(&format!("{name}-{cluster}-")), "{binding}");
        assert_eq!(policy, format!("{name}-0"));
        assert_eq!(snapshot, "", "External: nothing binds until a run does");
    }
    let row = wait_for("kubectl get crp: SCHEDULED True", WAIT, || {
        let row = crp_cells(hub, &name);
        (row[2] == "True").then_some(row)
    });
    println!("{}", hub.kubectl_ok(&["get", "crp", &name]));
    assert_eq!(
        &row[1..5],
        ["1", "True", "1", ""],
        "GEN, SCHEDULED, SCHEDULED-GEN, AVAILABLE"
    );
    let status = &get_json(hub, &["crp", &name])["status"];
    let scheduled = condition(status, "ClusterResourcePlacementScheduled");
    assert_eq!(scheduled["reason"], json!("SchedulingPolicyFulfilled"));
    assert_eq!(
        scheduled["message"],
        json!("found all cluster needed as specified by the scheduling policy, found 3 cluster(s)")
    );
    assert_eq!(
        condition(status, "ClusterResourcePlacementRolloutStarted")["reason"],
        json!("RolloutControlledByExternalController")
    );
    assert_eq!(status["placementStatuses"].as_array().unwrap().len(), 3);
    assert!(status.get("observedResourceIndex").is_none(), "{status}");
    let policy = get_json(hub, &["csps", &format!("{name}-0")]);
    assert_eq!(policy["status"]["observedCRPGeneration"], json!(1));
    let selected = policy["status"]["targetClusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["selected"] == json!(true))
        .count();
    assert_eq!(selected, 3, "other tests' tainted clusters are listed as not selected");

    hub.kubectl_ok(&["delete", "crp", &name, "--timeout=60s"]);
    assert!(bindings(hub, &name).is_empty(), "bindings deleted with the placement");
    let label = format!("kubernetes-fleet.io/parent-CRP={name}");
    for kind in ["clusterresourcesnapshots", "clusterschedulingpolicysnapshots"] {
        wait_for(&format!("{kind} deleted"), WAIT, || {
            hub.kubectl_ok(&["get", kind, "-l", &label, "-o", "name"])
                .trim()
                .is_empty()
                .then_some(())
        });
    }
}

fn condition<'a>(status: &'a Value, t: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["type"] == json!(t)))
        .unwrap_or_else(|| panic!("no {t} in {status}"))
}

#[test]
fn pick_n_picks_by_affinity_then_name_and_reschedules_when_the_policy_changes() {
    let hub = placement_hub();
    let key = unique("pickn");
    for i in 1..=4 {
        let mut labels = vec![("group", key.as_str())];
        if i == 1 {
            labels.push(("tier", "gold"));
        }
        join(hub, &format!("{key}-{i}"), &labels, Some(&key));
    }
    let name = format!("{key}-crp");
    let policy = json!({"placementType": "PickN", "numberOfClusters": 2, "tolerations": tolerate(&key), "affinity": require_group(&key)});
    placement(hub, &name, policy, json!({"type": "External"}));
    // Equal scores: ties go to the larger names.
    let picked = [format!("{key}-3"), format!("{key}-4")];
    wait_for("PickN 2 by name", WAIT, || {
        (targets(hub, &name, "Scheduled") == picked).then_some(())
    });

    // Only numberOfClusters changes: same policy snapshot, one more cluster.
    hub.kubectl_ok(&[
        "patch",
        "crp",
        &name,
        "--type=merge",
        "-p",
        r#"{"spec":{"policy":{"numberOfClusters":3}}}"#,
    ]);
    let three = [format!("{key}-2"), format!("{key}-3"), format!("{key}-4")];
    wait_for("PickN 3", WAIT, || {
        (targets(hub, &name, "Scheduled") == three).then_some(())
    });
    let label = format!("kubernetes-fleet.io/parent-CRP={name}");
    assert_eq!(
        hub.kubectl_ok(&["get", "csps", "-l", &label, "-o", "name"])
            .lines()
            .count(),
        1
    );

    // A preference changes the policy: a new policy snapshot, and the gold cluster wins.
    let preferred = json!({"spec": {"policy": {"numberOfClusters": 2, "affinity": {"clusterAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"clusterSelectorTerms": [{"labelSelector": {"matchLabels": {"group": key}}}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10, "preference": {"labelSelector": {"matchLabels": {"tier": "gold"}}}}],
    }}}}});
    hub.kubectl_ok(&["patch", "crp", &name, "--type=merge", "-p", &preferred.to_string()]);
    let gold = [format!("{key}-1"), format!("{key}-4")];
    wait_for("rescheduled by preference", WAIT, || {
        let scheduled = targets(hub, &name, "Scheduled");
        let on_new_policy = bindings(hub, &name)
            .iter()
            .filter(|b| b.1 == "Scheduled")
            .all(|b| b.3 == format!("{name}-1"));
        (scheduled == gold && on_new_policy).then_some(())
    });
    assert_eq!(
        targets(hub, &name, "Unscheduled"),
        [format!("{key}-2"), format!("{key}-3")],
        "dropped clusters are unscheduled, not deleted (External)"
    );
    let policies = hub.kubectl_ok(&["get", "csps", "-l", &label, "--show-labels"]);
    println!("{policies}");
    assert!(policies.contains(&format!("{name}-1 ")), "{policies}");
    let decisions = get_json(hub, &["csps", &format!("{name}-1")])["status"]["targetClusters"].clone();
    let first = decisions
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["clusterName"] == json!(format!("{key}-1")))
        .unwrap();
    assert_eq!(first["clusterScore"]["affinityScore"], json!(10));
    hub.kubectl_ok(&["delete", "crp", &name, "--wait=false"]);
}

#[test]
fn pick_fixed_binds_the_named_clusters_and_reports_unknown_names() {
    let hub = placement_hub();
    let key = unique("fixed");
    let present = format!("{key}-a");
    join(hub, &present, &[], Some(&key));
    let name = format!("{key}-crp");
    let policy = json!({"placementType": "PickFixed", "clusterNames": [present, "no-such-cluster"]});
    placement(hub, &name, policy, json!({"type": "External"}));
    wait_for("binding to the named cluster", WAIT, || {
        (targets(hub, &name, "Scheduled") == [present.clone()]).then_some(())
    });
    let row = wait_for("SCHEDULED False", WAIT, || {
        let row = crp_cells(hub, &name);
        (row[2] == "False").then_some(row)
    });
    println!("{}", hub.kubectl_ok(&["get", "crp", &name]));
    assert_eq!(row[3], "1");
    let status = get_json(hub, &["crp", &name])["status"].clone();
    let scheduled = condition(&status, "ClusterResourcePlacementScheduled");
    assert_eq!(scheduled["reason"], json!("SchedulingPolicyUnfulfilled"));
    let failed: Vec<&Value> = status["placementStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("clusterName").is_none())
        .collect();
    assert_eq!(failed.len(), 1, "{status}");
    assert_eq!(failed[0]["conditions"][0]["reason"], json!("ScheduleFailed"));
    assert_eq!(
        failed[0]["conditions"][0]["message"],
        json!("Specified cluster \"no-such-cluster\" is not found")
    );
    hub.kubectl_ok(&["delete", "crp", &name, "--wait=false"]);
}

/// Plays the member agent for the Works of a placement: a Work whose `Applied`/`Available` are
/// missing or stale gets both True for its current generation, as the agent reports once it
/// applied the manifests and found them available. The work generator carries that to the
/// bindings.
pub fn make_works_available(hub: &TestCluster, placement: &str) {
    let list = get_json(
        hub,
        &[
            "works",
            "-A",
            "-l",
            &format!("kubernetes-fleet.io/parent-CRP={placement}"),
        ],
    );
    for w in list["items"].as_array().unwrap() {
        let generation = w["metadata"]["generation"].as_i64().unwrap();
        let fresh = w["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == json!("Available") && c["observedGeneration"] == json!(generation))
        });
        if fresh {
            continue;
        }
        let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap().to_string();
        let condition = |t: &str, reason: &str| json!({"type": t, "status": "True", "reason": reason, "message": "", "observedGeneration": generation, "lastTransitionTime": now});
        let patch = json!({"status": {"conditions": [condition("Applied", "WorkAppliedCompleted"), condition("Available", "AllManifestsAvailable")]}});
        let _ = hub.kubectl(&[
            "patch",
            "work",
            w["metadata"]["name"].as_str().unwrap(),
            "-n",
            w["metadata"]["namespace"].as_str().unwrap(),
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ]);
    }
}

/// The Work of a CRP on a cluster: (uid, index label, the ConfigMap's `key`).
fn work_on(hub: &TestCluster, placement: &str, cluster: &str) -> (String, String, String) {
    let w = get_json(
        hub,
        &[
            "work",
            &format!("{placement}-work"),
            "-n",
            &format!("fleet-member-{cluster}"),
        ],
    );
    let cm = w["spec"]["workload"]["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == json!("ConfigMap"))
        .cloned()
        .unwrap_or_default();
    (
        w["metadata"]["uid"].as_str().unwrap().to_string(),
        w["metadata"]["labels"]["kubernetes-fleet.io/parent-resource-snapshot-index"]
            .as_str()
            .unwrap()
            .to_string(),
        cm["data"]["key"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn rolling_update_placement_binds_its_clusters_and_rolls_forward_by_itself() {
    let hub = placement_hub();
    let key = unique("roll");
    let clusters = [format!("{key}-1"), format!("{key}-2")];
    for c in &clusters {
        join(hub, c, &[("group", &key)], Some(&key));
    }
    let name = format!("{key}-crp");
    let policy = json!({"tolerations": tolerate(&key), "affinity": require_group(&key)});
    placement(
        hub,
        &name,
        policy,
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
    );
    let first = format!("{name}-0-snapshot");
    wait_for("both clusters bound to snapshot 0", WAIT, || {
        let rows = bindings(hub, &name);
        (rows.len() == 2 && rows.iter().all(|b| b.1 == "Bound" && b.4 == first)).then_some(())
    });
    let list = get_json(hub, &["crb", "-l", &format!("kubernetes-fleet.io/parent-CRP={name}")]);
    for b in list["items"].as_array().unwrap() {
        let started = b["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == json!("RolloutStarted"))
            .unwrap();
        assert_eq!(started["status"], json!("True"));
        assert_eq!(started["observedGeneration"], b["metadata"]["generation"]);
        assert_eq!(b["spec"]["applyStrategy"]["type"], json!("ClientSideApply"));
    }
    // The work generator wrote each cluster's Work with the snapshot's manifests.
    wait_for("a Work per cluster", WAIT, || {
        let works: Vec<_> = clusters
            .iter()
            .map(|c| {
                hub.kubectl(&[
                    "get",
                    "work",
                    &format!("{name}-work"),
                    "-n",
                    &format!("fleet-member-{c}"),
                ])
            })
            .collect();
        works.iter().all(|o| o.status.success()).then_some(())
    });
    let before: Vec<_> = clusters.iter().map(|c| work_on(hub, &name, c)).collect();
    for (_, index, key) in &before {
        assert_eq!((index.as_str(), key.as_str()), ("0", "value1"));
    }
    let row = wait_for("AVAILABLE True once the clusters are", WAIT, || {
        make_works_available(hub, &name);
        let row = crp_cells(hub, &name);
        (row[4] == "True").then_some(row)
    });
    println!("{}", hub.kubectl_ok(&["get", "crp", &name]));
    assert_eq!(&row[1..6], ["1", "True", "1", "True", "1"]);

    hub.kubectl_ok(&[
        "patch",
        "cm",
        "cm",
        "-n",
        &name,
        "--type=merge",
        "-p",
        r#"{"data":{"key":"value2"}}"#,
    ]);
    let second = format!("{name}-1-snapshot");
    wait_for("one cluster moved to snapshot 1", WAIT, || {
        (bindings(hub, &name).iter().filter(|b| b.4 == second).count() == 1).then_some(())
    });
    // Until the moved cluster is available again, maxUnavailable 1 holds the other back.
    std::thread::sleep(Duration::from_secs(3));
    let rows = bindings(hub, &name);
    assert_eq!(rows.iter().filter(|b| b.4 == second).count(), 1, "{rows:?}");
    let held = rows.iter().find(|b| b.4 == first).unwrap();
    let held = get_json(hub, &["crb", &held.0]);
    let started = held["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == json!("RolloutStarted"))
        .unwrap()
        .clone();
    assert_eq!(
        (&started["status"], &started["reason"]),
        (&json!("False"), &json!("RolloutNotStartedYet"))
    );
    wait_for("the other cluster follows once the first is available", WAIT, || {
        make_works_available(hub, &name);
        (bindings(hub, &name).iter().filter(|b| b.4 == second).count() == 2).then_some(())
    });
    // The same Work objects now carry snapshot 1.
    wait_for("Works updated in place", WAIT, || {
        let after: Vec<_> = clusters.iter().map(|c| work_on(hub, &name, c)).collect();
        let same = after.iter().zip(&before).all(|(a, b)| a.0 == b.0);
        assert!(
            same,
            "Works are updated in place, not replaced: {before:?} -> {after:?}"
        );
        after
            .iter()
            .all(|(_, index, key)| index == "1" && key == "value2")
            .then_some(())
    });
    let binding = get_json(hub, &["crb", &bindings(hub, &name)[0].0]);
    let reasons: Vec<String> = binding["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}={}:{}",
                c["type"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        reasons.contains(&"WorkSynchronized=True:AllWorkSynced".to_string()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"Overridden=True:NoOverrideSpecified".to_string()),
        "{reasons:?}"
    );

    // Deleting the placement deletes the bindings, and with them the Works.
    hub.kubectl_ok(&["delete", "crp", &name, "--timeout=60s"]);
    wait_for("bindings and Works gone", WAIT, || {
        let works = hub.kubectl_ok(&[
            "get",
            "works",
            "-A",
            "-l",
            &format!("kubernetes-fleet.io/parent-CRP={name}"),
            "-o",
            "name",
        ]);
        (bindings(hub, &name).is_empty() && works.trim().is_empty()).then_some(())
    });
}

#[test]
fn deleting_a_member_cluster_unschedules_its_bindings() {
    let hub = placement_hub();
    let key = unique("leave");
    let (stays, leaves) = (format!("{key}-a"), format!("{key}-b"));
    for c in [&stays, &leaves] {
        join(hub, c, &[("group", &key)], Some(&key));
    }
    let name = format!("{key}-crp");
    let policy = json!({"tolerations": tolerate(&key), "affinity": require_group(&key)});
    placement(hub, &name, policy, json!({"type": "External"}));
    wait_for("two bindings", WAIT, || {
        (targets(hub, &name, "Scheduled") == [stays.clone(), leaves.clone()]).then_some(())
    });
    hub.kubectl_ok(&["delete", "membercluster", &leaves, "--wait=false"]);
    wait_for("the leaving cluster's binding is Unscheduled", WAIT, || {
        (targets(hub, &name, "Unscheduled") == [leaves.clone()]).then_some(())
    });
    let list = get_json(hub, &["crb", "-l", &format!("kubernetes-fleet.io/parent-CRP={name}")]);
    let unscheduled = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["spec"]["targetCluster"] == json!(leaves))
        .unwrap();
    assert_eq!(
        unscheduled["metadata"]["annotations"]["kubernetes-fleet.io/previous-binding-state"],
        json!("Scheduled")
    );
    assert_eq!(targets(hub, &name, "Scheduled"), std::slice::from_ref(&stays));
    agent().joined.lock().unwrap().remove(&leaves);
    heartbeat(hub, &leaves, false);
    wait_for("member cluster gone", WAIT, || {
        (!hub.kubectl(&["get", "membercluster", &leaves]).status.success()).then_some(())
    });
    hub.kubectl_ok(&["delete", "crp", &name, "--wait=false"]);
}

#[test]
fn a_staged_run_rolls_an_external_placement_out_and_the_placement_becomes_available() {
    let hub = fleet();
    let name = unique("staged");
    placement(
        hub,
        &name,
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    wait_for("three bindings", WAIT, || {
        (targets(hub, &name, "Scheduled").len() == 3).then_some(())
    });
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": name},
            "spec": {"stages": [{"name": "all", "labelSelector": {"matchExpressions": [{"key": "environment", "operator": "Exists"}]}}]}})
        .to_string(),
    );
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateRun",
            "metadata": {"name": format!("{name}-run")},
            "spec": {"placementName": name, "resourceSnapshotIndex": "0", "stagedRolloutStrategyName": name, "state": "Run"}})
        .to_string(),
    );
    let run = format!("{name}-run");
    wait_for("the run succeeded", Duration::from_secs(90), || {
        make_works_available(hub, &name);
        let table = hub.kubectl_ok(&["get", "csur", &run]);
        (cells(&table, &run)[6] == "True").then_some(())
    });
    for cluster in ["member1", "member2", "member3"] {
        let (_, index, key) = work_on(hub, &name, cluster);
        assert_eq!((index.as_str(), key.as_str()), ("0", "value1"), "{cluster}");
    }
    assert_available_at_generation_one(hub, &["crp", &name], &name, WAIT);
    let status = &get_json(hub, &["crp", &name])["status"];
    assert_eq!(status["observedResourceIndex"], json!("0"));
    assert_eq!(status["selectedResources"][1]["kind"], json!("ConfigMap"));
    hub.kubectl_ok(&["delete", "crp", &name, "--wait=false"]);
}
