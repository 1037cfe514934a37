//! SD-39: objects changed by hand under a run, on a real hub with simulated members. A strategy
//! edited mid-run, a pending approval request deleted, a finished cluster's binding deleted, the
//! run's status edited, its latest resource snapshot deleted and a rollback's older one deleted:
//! each is handled as docs/reliability.md says, and nothing already rolled out is lost or
//! silently changed. The stuck rollback is then aborted and a run with extreme but valid values
//! (maxConcurrency 2147483647, 400 selector terms) brings every cluster back to the latest index.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::hub_process::HubProcess;
use super::{apply_run, change_value, get_json, placement_bindings, run_condition, spawn_simulated_fleet};
use crate::harness::{Role, TestCluster, joined_members, start_parallel, wait_for};
use crate::pipeline::placement;

const PLACEMENT: &str = "byhand";
const CLUSTERS: usize = 6;
const WAIT: Duration = Duration::from_secs(120);

/// Cluster → the resource snapshot index of its Work on the hub (what its member applies).
fn works_by_cluster(hub: &TestCluster) -> BTreeMap<String, String> {
    let list = get_json(
        hub,
        &[
            "works",
            "-A",
            "-l",
            &format!("kubernetes-fleet.io/parent-CRP={PLACEMENT}"),
        ],
    )
    .unwrap_or_default();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|w| w["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|w| {
            let ns = w["metadata"]["namespace"].as_str()?;
            let index = w["metadata"]["labels"]["kubernetes-fleet.io/parent-resource-snapshot-index"].as_str()?;
            Some((ns.trim_start_matches("fleet-member-").to_string(), index.to_string()))
        })
        .collect()
}

fn wait_succeeded(hub: &TestCluster, run: &str) {
    wait_for(&format!("{run} succeeded"), WAIT, || {
        let (status, _, message) = run_condition(hub, run, "Succeeded")?;
        assert_eq!(status, "True", "{run} failed: {message}");
        Some(())
    });
}

fn approval(hub: &TestCluster, name: &str) -> Option<Value> {
    get_json(hub, &["clusterapprovalrequest", name])
}

fn approve(hub: &TestCluster, name: &str) {
    assert!(super::approve(hub, name), "approving {name}");
}

fn binding_of(hub: &TestCluster, cluster: &str) -> Option<Value> {
    placement_bindings(hub, PLACEMENT)
        .into_iter()
        .find(|b| b["spec"]["targetCluster"] == cluster && b["metadata"]["deletionTimestamp"].is_null())
}

fn new_index(hub: &TestCluster, value: &str, index: &str) {
    change_value(hub, PLACEMENT, value);
    wait_for(&format!("snapshot {index}"), WAIT, || {
        get_json(
            hub,
            &["clusterresourcesnapshot", &format!("{PLACEMENT}-{index}-snapshot")],
        )
    });
}

#[test]
fn objects_changed_by_hand_under_a_run_are_handled_and_nothing_rolled_out_is_lost() {
    let hub = &start_parallel(&[("byhandhub", Role::Hub)])[0];
    let record = hub.kubeconfig.parent().expect("dir").join("fleetsim.jsonl");
    let (_sim, _sim_guard) = spawn_simulated_fleet(hub, CLUSTERS, &["--split", "byhand=first:50,second:50"], &record);
    let mut process = HubProcess::new(hub, "byhand-hub", &[]);
    process.start(None);
    wait_for("the simulated members joined", WAIT, || {
        (joined_members(hub) == CLUSTERS).then_some(())
    });
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": PLACEMENT}, "spec": {"stages": [
                {"name": "first", "labelSelector": {"matchLabels": {"byhand": "first"}}, "maxConcurrency": "100%"},
                {"name": "second", "labelSelector": {"matchLabels": {"byhand": "second"}}, "maxConcurrency": "100%",
                 "beforeStageTasks": [{"type": "Approval"}]}]}})
        .to_string(),
    );
    placement(
        hub,
        PLACEMENT,
        json!({"placementType": "PickAll"}),
        json!({"type": "External"}),
    );
    wait_for("snapshot 0", WAIT, || {
        get_json(hub, &["clusterresourcesnapshot", &format!("{PLACEMENT}-0-snapshot")])
    });

    // Run 0 waits for the approval of stage `second`.
    apply_run(hub, "byhand-0", PLACEMENT, PLACEMENT, Some("0"));
    let request = "byhand-0-second-before";
    let first_uid = wait_for("the approval request of stage second", WAIT, || {
        approval(hub, request)?["metadata"]["uid"].as_str().map(String::from)
    });
    // Only stage `first` has Works while the run waits before stage `second`.
    let works = works_by_cluster(hub);
    assert_eq!(works.values().filter(|i| *i == "0").count(), CLUSTERS / 2, "{works:?}");

    // 1. The strategy is edited mid-run: the run keeps the copy it took at initialization.
    let snapshot_before =
        get_json(hub, &["csur", "byhand-0"]).expect("run")["status"]["stagedUpdateStrategySnapshot"].clone();
    hub.kubectl_ok(&[
        "patch",
        "csus",
        PLACEMENT,
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/stages/1/maxConcurrency","value":1},{"op":"add","path":"/spec/stages/-","value":{"name":"third","labelSelector":{"matchLabels":{"byhand":"third"}}}}]"#,
    ]);

    // 2. The pending approval request is deleted: the run asks again, under the same name.
    hub.kubectl_ok(&["delete", "clusterapprovalrequest", request]);
    let second_uid = wait_for("the approval request re-created", WAIT, || {
        let uid = approval(hub, request)?["metadata"]["uid"].as_str().map(String::from)?;
        (uid != first_uid).then_some(uid)
    });
    println!("[by-hand] the deleted approval request was re-created: {first_uid} -> {second_uid}");

    // 3. A finished cluster's binding is deleted: its Works go with it, the scheduler creates a
    //    fresh binding, and the run gives the cluster its snapshot back (SD-39).
    let first_cluster = works.keys().next().cloned().expect("a cluster of stage first");
    let old_binding = binding_of(hub, &first_cluster).expect("binding")["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    hub.kubectl_ok(&["delete", "clusterresourcebinding", &old_binding]);
    let restored = wait_for(&format!("{first_cluster} restored"), WAIT, || {
        let binding = binding_of(hub, &first_cluster)?;
        let name = binding["metadata"]["name"].as_str()?.to_string();
        (name != old_binding
            && binding["spec"]["state"] == "Bound"
            && binding["spec"]["resourceSnapshotName"] == format!("{PLACEMENT}-0-snapshot")
            && works_by_cluster(hub).get(&first_cluster).map(String::as_str) == Some("0"))
        .then_some(name)
    });
    println!("[by-hand] {first_cluster}'s binding deleted by hand: re-created as {restored} and restored to index 0");

    approve(hub, request);
    wait_succeeded(hub, "byhand-0");
    let run = get_json(hub, &["csur", "byhand-0"]).expect("run");
    assert_eq!(
        run["status"]["stagedUpdateStrategySnapshot"], snapshot_before,
        "the strategy edit reached the run"
    );
    assert_eq!(run["status"]["stagesStatus"].as_array().map(Vec::len), Some(2));
    let works = works_by_cluster(hub);
    assert_eq!(works.len(), CLUSTERS, "{works:?}");
    assert!(works.values().all(|i| i == "0"), "{works:?}");

    // 4. Run 1's status is edited while it waits: the run fails naming the change and touches
    //    nothing after that, even once its approval is given.
    new_index(hub, "value2", "1");
    apply_run(hub, "byhand-1", PLACEMENT, PLACEMENT, Some("1"));
    wait_for("run 1's approval request", WAIT, || {
        approval(hub, "byhand-1-second-before")
    });
    let before = works_by_cluster(hub);
    hub.kubectl_ok(&[
        "patch",
        "csur",
        "byhand-1",
        "--type=json",
        "--subresource=status",
        "-p",
        r#"[{"op":"replace","path":"/status/stagesStatus/0/stageName","value":"renamed"}]"#,
    ]);
    let (status, reason, message) = wait_for("run 1 ends", WAIT, || run_condition(hub, "byhand-1", "Succeeded"));
    assert_eq!((status.as_str(), reason.as_str()), ("False", "UpdateRunFailed"));
    assert!(
        message.contains("index `0` stage name in the updateRun has changed, new: first, existing: renamed"),
        "{message}"
    );
    approve(hub, "byhand-1-second-before");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        works_by_cluster(hub),
        before,
        "an edited status changed what members have"
    );

    // 5. Run 2's resource snapshot is deleted while it waits: the Works already delivered stay,
    //    the placement controller takes the snapshot again under the same index, and the run
    //    finishes with it.
    apply_run(hub, "byhand-2", PLACEMENT, PLACEMENT, Some("1"));
    wait_for("run 2's approval request", WAIT, || {
        approval(hub, "byhand-2-second-before")
    });
    let before = works_by_cluster(hub);
    let snapshot = format!("{PLACEMENT}-1-snapshot");
    let old_uid = get_json(hub, &["clusterresourcesnapshot", &snapshot]).expect("snapshot")["metadata"]["uid"].clone();
    hub.kubectl_ok(&["delete", "clusterresourcesnapshot", &snapshot]);
    assert_eq!(works_by_cluster(hub), before, "a deleted snapshot removed Works");
    wait_for("snapshot 1 taken again", WAIT, || {
        let again = get_json(hub, &["clusterresourcesnapshot", &snapshot])?;
        (again["metadata"]["uid"] != old_uid
            && again["metadata"]["labels"]["kubernetes-fleet.io/is-latest-snapshot"] == "true")
            .then_some(())
    });
    assert_eq!(
        works_by_cluster(hub),
        before,
        "Works changed while the snapshot was away"
    );
    approve(hub, "byhand-2-second-before");
    wait_succeeded(hub, "byhand-2");
    let works = works_by_cluster(hub);
    assert_eq!(works.len(), CLUSTERS, "{works:?}");
    assert!(works.values().all(|i| i == "1"), "{works:?}");

    // 6. A rollback's older snapshot is deleted mid-run: it is not taken again (index 1 is the
    //    latest). Clusters started after that keep what they have, their bindings say why, and
    //    the run waits rather than reporting success.
    apply_run(hub, "byhand-3", PLACEMENT, PLACEMENT, Some("0"));
    wait_for("run 3's approval request", WAIT, || {
        approval(hub, "byhand-3-second-before")
    });
    let before = works_by_cluster(hub);
    assert_eq!(
        before.values().filter(|i| *i == "0").count(),
        CLUSTERS / 2,
        "{before:?}"
    );
    hub.kubectl_ok(&["delete", "clusterresourcesnapshot", &format!("{PLACEMENT}-0-snapshot")]);
    approve(hub, "byhand-3-second-before");
    let second = before
        .iter()
        .find(|(_, index)| *index == "1")
        .map(|(c, _)| c.clone())
        .expect("a cluster of stage second");
    let why = wait_for(&format!("{second}'s binding says why"), WAIT, || {
        let binding = binding_of(hub, &second)?;
        binding["status"]["conditions"]
            .as_array()?
            .iter()
            .filter(|c| c["status"] == "False")
            .find_map(|c| {
                c["message"]
                    .as_str()
                    .filter(|m| m.contains("is not found"))
                    .map(String::from)
            })
    });
    println!("[by-hand] rollback snapshot deleted mid-run: {second}'s binding says: {why}");
    assert!(why.contains(&format!("{PLACEMENT}-0-snapshot")), "{why}");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(works_by_cluster(hub), before, "Works changed without their snapshot");
    assert!(
        run_condition(hub, "byhand-3", "Succeeded").is_none(),
        "the run ended without its snapshot"
    );
    assert!(
        get_json(hub, &["clusterresourcesnapshot", &format!("{PLACEMENT}-0-snapshot")]).is_none(),
        "an older snapshot was taken again"
    );

    // 7. The way out, with extreme but valid values: run 3 is aborted and a new run of index 1
    //    uses a strategy with maxConcurrency 2147483647 and 400 selector terms. It finishes and
    //    every cluster has index 1 again.
    hub.kubectl_ok(&[
        "patch",
        "csur",
        "byhand-3",
        "--type=merge",
        "-p",
        r#"{"spec":{"state":"Abort"}}"#,
    ]);
    let terms: Vec<Value> = (0..400)
        .map(|i| json!({"key": "byhand", "operator": "NotIn", "values": [format!("never-{i}")]}))
        .collect();
    hub.apply(
        &json!({"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ClusterStagedUpdateStrategy",
            "metadata": {"name": "byhand-wide"}, "spec": {"stages": [
                {"name": "first", "labelSelector": {"matchLabels": {"byhand": "first"}, "matchExpressions": terms},
                 "maxConcurrency": i32::MAX},
                {"name": "second", "labelSelector": {"matchLabels": {"byhand": "second"}}, "maxConcurrency": "100%"}]}})
        .to_string(),
    );
    apply_run(hub, "byhand-4", PLACEMENT, "byhand-wide", Some("1"));
    wait_succeeded(hub, "byhand-4");
    let works = works_by_cluster(hub);
    assert_eq!(works.len(), CLUSTERS, "{works:?}");
    assert!(works.values().all(|i| i == "1"), "{works:?}");

    assert!(!process.exited(), "the hub process ended");
}
