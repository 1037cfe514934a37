//! The placement controllers (in-process, on a hub of their own) against a real API server:
//! resource and policy snapshots as both seed documents show them (SD-5, SD-9), and bad
//! selectors reported on the placement.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{TestCluster, cells, placement_hub, repo_root, unique, wait_for};
use crate::pipeline::fleet;

const WAIT: Duration = Duration::from_secs(60);

fn apply_example(hub: &TestCluster, file: &str) {
    let path = repo_root().join("examples").join(file);
    hub.kubectl_ok(&["apply", "-f", &path.display().to_string()]);
}

/// `kubectl get <kind> --show-labels` rows as (name, labels).
fn labelled(hub: &TestCluster, args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.push("--show-labels");
    let out = hub.kubectl_ok(&all);
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            Some((cells.first()?.to_string(), cells.last()?.to_string()))
        })
        .collect()
}

fn json(hub: &TestCluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&hub.kubectl_ok(&all)).expect("kubectl json")
}

#[test]
fn doc_a_snapshots_follow_the_config_map() {
    let hub = fleet();
    hub.kubectl_ok(&["create", "ns", "test-namespace"]);
    hub.kubectl_ok(&[
        "create",
        "cm",
        "test-cm",
        "--from-literal=key=value1",
        "-n",
        "test-namespace",
    ]);
    apply_example(hub, "kubefleet-howto/01-clusterresourceplacement.yaml");
    let first = "kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=example-placement,kubernetes-fleet.io/resource-index=0";
    wait_for("example-placement-0-snapshot", WAIT, || {
        labelled(hub, &["clusterresourcesnapshots"])
            .contains(&("example-placement-0-snapshot".to_string(), first.to_string()))
            .then_some(())
    });
    let crp = hub.kubectl_ok(&["get", "crp", "example-placement"]);
    println!("{crp}");
    assert_eq!(
        crp.lines().nth(1).and_then(|l| l.split_whitespace().nth(1)),
        Some("1"),
        "GEN 1"
    );

    // The document edits the ConfigMap with `kubectl edit`; a patch makes the same change.
    hub.kubectl_ok(&[
        "patch",
        "cm",
        "test-cm",
        "-n",
        "test-namespace",
        "--type=merge",
        "-p",
        r#"{"data":{"key":"value2"}}"#,
    ]);
    let second = "kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=example-placement,kubernetes-fleet.io/resource-index=1";
    wait_for("example-placement-1-snapshot", WAIT, || {
        let rows = labelled(hub, &["clusterresourcesnapshots"]);
        (rows.contains(&("example-placement-1-snapshot".to_string(), second.to_string()))
            && rows.contains(&(
                "example-placement-0-snapshot".to_string(),
                first.replace("=true", "=false"),
            )))
        .then_some(())
    });
    let yaml = hub.kubectl_ok(&[
        "get",
        "clusterresourcesnapshots",
        "example-placement-1-snapshot",
        "-o",
        "yaml",
    ]);
    assert!(
        yaml.starts_with("apiVersion: placement.kubernetes-fleet.io/v1\n"),
        "SD-9: {yaml}"
    );
    let snapshot = json(hub, &["clusterresourcesnapshots", "example-placement-1-snapshot"]);
    let resources = &snapshot["spec"]["selectedResources"];
    assert_eq!(
        resources[0],
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"labels": {"kubernetes.io/metadata.name": "test-namespace"}, "name": "test-namespace"},
            "spec": {"finalizers": ["kubernetes"]}})
    );
    assert_eq!(
        resources[1],
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"key": "value2"},
            "metadata": {"name": "test-cm", "namespace": "test-namespace"}})
    );
    assert_eq!(resources.as_array().map(Vec::len), Some(2));
    let owner = &snapshot["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["name"].as_str()),
        (Some("ClusterResourcePlacement"), Some("example-placement"))
    );
    assert_eq!(
        snapshot["metadata"]["annotations"]["kubernetes-fleet.io/number-of-resource-snapshots"],
        "1"
    );
    assert_eq!(
        snapshot["metadata"]["annotations"]["kubernetes-fleet.io/resource-hash"]
            .as_str()
            .map(str::len),
        Some(64)
    );

    // The policy snapshot and the placement status.
    let policy = json(hub, &["clusterschedulingpolicysnapshots", "example-placement-0"]);
    assert_eq!(policy["metadata"]["labels"]["kubernetes-fleet.io/policy-index"], "0");
    assert_eq!(
        policy["metadata"]["annotations"]["kubernetes-fleet.io/CRP-generation"],
        "1"
    );
    // Scheduled on member1..3 and no run yet: the status of §11.3, with nothing selected or
    // observed until a run binds the clusters to one index.
    let crp = wait_for("example-placement scheduled", WAIT, || {
        let crp = json(hub, &["crp", "example-placement"]);
        (crp["status"]["placementStatuses"].as_array().map(Vec::len) == Some(3)).then_some(crp)
    });
    assert_eq!(crp["status"]["selectedResources"], Value::Null, "{crp}");
    assert_eq!(crp["status"]["observedResourceIndex"], Value::Null, "{crp}");
    let finalizers = crp["metadata"]["finalizers"].to_string();
    assert!(finalizers.contains("kubernetes-fleet.io/crp-cleanup"), "{finalizers}");
    assert!(
        finalizers.contains("kubernetes-fleet.io/scheduler-cleanup"),
        "{finalizers}"
    );

    // A change to something that is never propagated (kubectl's last-applied annotation) wakes the
    // placement but makes no new snapshot.
    hub.kubectl_ok(&[
        "annotate",
        "cm",
        "test-cm",
        "-n",
        "test-namespace",
        "kubectl.kubernetes.io/last-applied-configuration={}",
    ]);
    std::thread::sleep(Duration::from_secs(3));
    let rows = labelled(hub, &["clusterresourcesnapshots"]);
    let count = rows.iter().filter(|(n, _)| n.starts_with("example-placement-")).count();
    assert_eq!(count, 2, "no snapshot for a change that is not propagated: {rows:?}");

    // Deleting the placement removes its snapshots.
    hub.kubectl_ok(&["delete", "crp", "example-placement", "--wait=true", "--timeout=60s"]);
    wait_for("snapshots gone", WAIT, || {
        let rows = labelled(hub, &["clusterresourcesnapshots"]);
        (!rows.iter().any(|(n, _)| n.starts_with("example-placement-"))).then_some(())
    });
}

#[test]
fn doc_a_resource_placement_snapshots_the_deployment_and_service() {
    let hub = fleet();
    hub.kubectl_ok(&["create", "ns", "my-app-namespace"]);
    hub.kubectl_ok(&[
        "create",
        "deployment",
        "web-app",
        "--image=nginx:1.20",
        "--port=80",
        "-n",
        "my-app-namespace",
    ]);
    hub.kubectl_ok(&[
        "expose",
        "deployment",
        "web-app",
        "--port=80",
        "--target-port=80",
        "-n",
        "my-app-namespace",
    ]);
    apply_example(hub, "kubefleet-howto/06-resourceplacement.yaml");
    let first = "kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=web-app-placement,kubernetes-fleet.io/resource-index=0";
    wait_for("web-app-placement-0-snapshot", WAIT, || {
        labelled(hub, &["resourcesnapshots", "-n", "my-app-namespace"])
            .contains(&("web-app-placement-0-snapshot".to_string(), first.to_string()))
            .then_some(())
    });
    let snapshot = json(
        hub,
        &[
            "resourcesnapshots",
            "web-app-placement-0-snapshot",
            "-n",
            "my-app-namespace",
        ],
    );
    let kinds: Vec<&str> = snapshot["spec"]["selectedResources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["Service", "Deployment"]);
    assert!(
        snapshot["spec"]["selectedResources"][0]["spec"]["clusterIP"].is_null(),
        "clusterIP is not propagated"
    );
    // The document's `web-app=` container name does not exist; `kubectl create deployment` names it `nginx`.
    hub.kubectl_ok(&[
        "set",
        "image",
        "deployment/web-app",
        "nginx=nginx:1.21",
        "-n",
        "my-app-namespace",
    ]);
    wait_for("web-app-placement-1-snapshot", WAIT, || {
        labelled(hub, &["resourcesnapshots", "-n", "my-app-namespace"])
            .iter()
            .any(|(n, l)| n == "web-app-placement-1-snapshot" && l.contains("is-latest-snapshot=true"))
            .then_some(())
    });
    let snapshot = json(
        hub,
        &[
            "resourcesnapshots",
            "web-app-placement-1-snapshot",
            "-n",
            "my-app-namespace",
        ],
    );
    assert_eq!(
        snapshot["spec"]["selectedResources"][1]["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.21"
    );

    // Scheduled on member1..3 as ResourceBindings in the RP's namespace; no run yet, so
    // `kubectl get rp` shows the documents' row before the first run.
    wait_for("three ResourceBindings", WAIT, || {
        let names = hub.kubectl_ok(&[
            "get",
            "resourcebindings",
            "-n",
            "my-app-namespace",
            "-l",
            "kubernetes-fleet.io/parent-CRP=web-app-placement",
            "-o",
            "name",
        ]);
        (names.lines().count() == 3).then_some(())
    });
    let row = wait_for("kubectl get rp: SCHEDULED True", WAIT, || {
        let table = hub.kubectl_ok(&["get", "rp", "-n", "my-app-namespace"]);
        let row = cells(&table, "web-app-placement");
        (row[2] == "True").then_some((table, row))
    });
    println!("{}", row.0);
    assert_eq!(
        &row.1[1..6],
        ["1", "True", "1", "", ""],
        "GEN SCHEDULED SCHEDULED-GEN AVAILABLE AVAILABLE-GEN"
    );
}

#[test]
fn bad_selectors_are_reported_on_the_placement() {
    let hub = placement_hub();
    let ns = unique("badsel");
    hub.kubectl_ok(&["create", "ns", &ns]);
    let cases = [
        (
            "rp-namespace",
            r#"{"group": "", "version": "v1", "kind": "Namespace", "name": "x"}"#,
            "a ResourcePlacement cannot select namespaces",
        ),
        (
            "rp-cluster-scoped",
            r#"{"group": "rbac.authorization.k8s.io", "version": "v1", "kind": "ClusterRole", "name": "x"}"#,
            "is cluster-scoped; a ResourcePlacement can only select resources in its own namespace",
        ),
        (
            "rp-unknown",
            r#"{"group": "example.com", "version": "v1", "kind": "Widget", "name": "x"}"#,
            "example.com/v1, Kind=Widget is not served by the hub",
        ),
    ];
    for (name, selector, _) in &cases {
        hub.apply(&format!(
            r#"{{"apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": "ResourcePlacement",
               "metadata": {{"name": "{name}", "namespace": "{ns}"}},
               "spec": {{"resourceSelectors": [{selector}], "strategy": {{"type": "External"}}}}}}"#
        ));
    }
    for (name, _, expected) in &cases {
        let message = wait_for(&format!("{name} reports its selector"), WAIT, || {
            let rp = json(hub, &["rp", name, "-n", &ns]);
            let conditions = rp["status"]["conditions"].as_array().cloned().unwrap_or_default();
            conditions
                .iter()
                .find(|c| c["type"] == "ResourcePlacementScheduled" && c["reason"] == "InvalidResourceSelectors")
                .and_then(|c| c["message"].as_str().map(str::to_string))
        });
        println!("[placements] {name}: {message}");
        assert!(message.starts_with("The resource selectors are invalid: "), "{message}");
        assert!(message.contains(expected), "{message}");
    }
}
