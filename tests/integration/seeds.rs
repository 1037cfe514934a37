//! Every manifest of both seed documents (copied unchanged into `examples/`) applies to a real
//! API server, and `kubectl get` prints the headers the documents show (SD-3, SD-4, SD-9).
//! The controllers are not part of this test: objects a controller would create (snapshots,
//! approval requests) are created here by hand with the documents' names.

use std::path::PathBuf;

use crate::harness::{TestCluster, hub, repo_root};

const PLACEMENT_HEADER: &str = "NAME GEN SCHEDULED SCHEDULED-GEN AVAILABLE AVAILABLE-GEN AGE";
const RUN_HEADER: &str =
    "NAME PLACEMENT RESOURCE-SNAPSHOT-INDEX POLICY-SNAPSHOT-INDEX INITIALIZED PROGRESSING SUCCEEDED AGE";
const RUN_WIDE_HEADER: &str =
    "NAME PLACEMENT RESOURCE-SNAPSHOT-INDEX POLICY-SNAPSHOT-INDEX INITIALIZED PROGRESSING SUCCEEDED AGE STRATEGY";
const APPROVAL_HEADER: &str = "NAME UPDATE-RUN STAGE APPROVED APPROVALACCEPTED AGE";
const SNAPSHOT_HEADER: &str = "NAME GEN AGE LABELS";

/// The first line of kubectl's table output, with runs of spaces folded.
fn header(table: &str) -> String {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The row of `name` in kubectl's table output, split into cells.
fn row(table: &str, name: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|cells| cells.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{table}"))
}

fn example(doc: &str, file: &str) -> PathBuf {
    repo_root().join("examples").join(doc).join(file)
}

fn apply_example(hub: &TestCluster, doc: &str, file: &str) {
    let path = example(doc, file);
    hub.kubectl_ok(&["apply", "-f", &path.display().to_string()]);
}

fn create_approval_request(hub: &TestCluster, kind: &str, name: &str, namespace: Option<&str>, run: &str, stage: &str) {
    let ns = namespace.map(|n| format!("\n  namespace: {n}")).unwrap_or_default();
    hub.apply(&format!(
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: {kind}\nmetadata:\n  name: {name}{ns}\nspec:\n  parentStageRollout: {run}\n  targetStage: {stage}\n"
    ));
}

/// `$(date -u +%Y-%m-%dT%H:%M:%SZ)`, as the documents' approval commands write it.
fn utc_now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The KubeFleet document's `kubectl patch csur <run> --type='merge' -p '{"spec":{"state":...}}'`.
fn set_run_state(hub: &TestCluster, run: &str, state: &str) {
    let patch = format!(r#"{{"spec":{{"state":"{state}"}}}}"#);
    hub.kubectl_ok(&["patch", "csur", run, "--type=merge", "-p", &patch]);
}

/// The approval command of the KubeFleet document; its inline patch is given as one argument
/// (the document's unquoted `-p {"status":...}` only works in some shells, see docs/walkthroughs.md).
fn approve_as_doc_a(hub: &TestCluster, name: &str, message: &str) {
    let now = utc_now();
    let patch = format!(
        r#"{{"status":{{"conditions":[{{"type":"Approved","status":"True","reason":"lgtm","message":"{message}","lastTransitionTime":"{now}","observedGeneration":1}}]}}}}"#
    );
    let out = hub.kubectl_ok(&[
        "patch",
        "clusterapprovalrequests",
        name,
        "--type=merge",
        "-p",
        &patch,
        "--subresource=status",
    ]);
    assert_eq!(
        out.trim(),
        format!("clusterapprovalrequest.placement.kubernetes-fleet.io/{name} patched")
    );
}

fn kubefleet_howto(hub: &TestCluster) {
    const DOC: &str = "kubefleet-howto";
    hub.kubectl_ok(&["create", "ns", "test-namespace"]);
    hub.kubectl_ok(&[
        "create",
        "cm",
        "test-cm",
        "--from-literal=key=value1",
        "-n",
        "test-namespace",
    ]);
    apply_example(hub, DOC, "01-clusterresourceplacement.yaml");
    let crp = hub.kubectl_ok(&["get", "crp", "example-placement"]);
    assert_eq!(header(&crp), PLACEMENT_HEADER);
    assert_eq!(row(&crp, "example-placement")[1], "1");

    // The snapshot the placement controller creates, with the document's name and labels.
    hub.apply(
        "apiVersion: placement.kubernetes-fleet.io/v1beta1\nkind: ClusterResourceSnapshot\nmetadata:\n  name: example-placement-1-snapshot\n  labels:\n    kubernetes-fleet.io/is-latest-snapshot: \"true\"\n    kubernetes-fleet.io/parent-CRP: example-placement\n    kubernetes-fleet.io/resource-index: \"1\"\nspec:\n  selectedResources:\n  - apiVersion: v1\n    kind: Namespace\n    metadata:\n      labels:\n        kubernetes.io/metadata.name: test-namespace\n      name: test-namespace\n    spec:\n      finalizers:\n      - kubernetes\n  - apiVersion: v1\n    data:\n      key: value2\n    kind: ConfigMap\n    metadata:\n      name: test-cm\n      namespace: test-namespace\n",
    );
    let snapshots = hub.kubectl_ok(&["get", "clusterresourcesnapshots", "--show-labels"]);
    assert_eq!(header(&snapshots), SNAPSHOT_HEADER);
    let cells = row(&snapshots, "example-placement-1-snapshot");
    assert_eq!(cells[1], "1");
    assert_eq!(
        cells[3],
        "kubernetes-fleet.io/is-latest-snapshot=true,kubernetes-fleet.io/parent-CRP=example-placement,kubernetes-fleet.io/resource-index=1"
    );
    let yaml = hub.kubectl_ok(&[
        "get",
        "clusterresourcesnapshots",
        "example-placement-1-snapshot",
        "-o",
        "yaml",
    ]);
    assert!(
        yaml.starts_with("apiVersion: placement.kubernetes-fleet.io/v1\n"),
        "{yaml}"
    );
    assert!(yaml.contains("      key: value2\n"), "{yaml}");

    apply_example(hub, DOC, "02-clusterstagedupdatestrategy.yaml");
    apply_example(hub, DOC, "03-clusterstagedupdaterun.yaml");
    hub.kubectl_ok(&["get", "csur", "example-run", "-o", "yaml"]);
    set_run_state(hub, "example-run", "Run");
    let runs = hub.kubectl_ok(&["get", "csur", "example-run"]);
    assert_eq!(header(&runs), RUN_HEADER);
    // RESOURCE-SNAPSHOT-INDEX shows status.resourceSnapshotIndexUsed (SD-11), which only the
    // controller writes; the walkthrough tests check it.
    assert_eq!(row(&runs, "example-run")[1], "example-placement");
    assert_eq!(
        header(&hub.kubectl_ok(&["get", "csur", "example-run", "-o", "wide"])),
        RUN_WIDE_HEADER
    );
    let yaml = hub.kubectl_ok(&["get", "csur", "example-run", "-o", "yaml"]);
    assert!(
        yaml.starts_with("apiVersion: placement.kubernetes-fleet.io/v1beta1\n"),
        "{yaml}"
    );

    create_approval_request(
        hub,
        "ClusterApprovalRequest",
        "example-run-canary-before",
        None,
        "example-run",
        "canary",
    );
    let approvals = hub.kubectl_ok(&["get", "clusterapprovalrequest"]);
    assert_eq!(header(&approvals), APPROVAL_HEADER);
    assert_eq!(
        row(&approvals, "example-run-canary-before")[1..3],
        ["example-run", "canary"]
    );
    approve_as_doc_a(hub, "example-run-canary-before", "approved to start canary");
    create_approval_request(
        hub,
        "ClusterApprovalRequest",
        "example-run-canary-after",
        None,
        "example-run",
        "canary",
    );
    // The document's patch file has no outer braces; it parses as YAML.
    let approval_file = std::env::temp_dir().join(format!("approval-{}.json", std::process::id()));
    let now = utc_now();
    std::fs::write(
        &approval_file,
        format!(
            "\"status\": {{\n    \"conditions\": [\n        {{\n            \"lastTransitionTime\": \"{now}\",\n            \"message\": \"approved\",\n            \"observedGeneration\": 1,\n            \"reason\": \"approved\",\n            \"status\": \"True\",\n            \"type\": \"Approved\"\n        }}\n    ]\n}}\n"
        ),
    )
    .expect("writing approval.json");
    hub.kubectl_ok(&[
        "patch",
        "clusterapprovalrequests",
        "example-run-canary-after",
        "--type=merge",
        "--subresource=status",
        "--patch-file",
        &approval_file.display().to_string(),
    ]);
    let approvals = hub.kubectl_ok(&["get", "clusterapprovalrequest"]);
    assert_eq!(row(&approvals, "example-run-canary-after")[3], "True");
    assert_eq!(row(&approvals, "example-run-canary-before")[3], "True");

    apply_example(hub, DOC, "04-clusterstagedupdaterun-latest.yaml");
    set_run_state(hub, "example-run", "Stop");
    set_run_state(hub, "example-run", "Run");
    apply_example(hub, DOC, "05-clusterstagedupdaterun-rollback.yaml");

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
    apply_example(hub, DOC, "06-resourceplacement.yaml");
    assert_eq!(
        header(&hub.kubectl_ok(&["get", "rp", "web-app-placement", "-n", "my-app-namespace"])),
        PLACEMENT_HEADER
    );
    hub.kubectl_ok(&[
        "get",
        "resourceplacement",
        "web-app-placement",
        "-n",
        "my-app-namespace",
    ]);
    apply_example(hub, DOC, "07-stagedupdatestrategy.yaml");
    apply_example(hub, DOC, "08-stagedupdaterun.yaml");
    assert_eq!(
        header(&hub.kubectl_ok(&["get", "sur", "web-app-rollout-v1-21", "-n", "my-app-namespace"])),
        RUN_HEADER
    );
    hub.kubectl_ok(&["describe", "sur", "web-app-rollout-v1-21", "-n", "my-app-namespace"]);
    create_approval_request(
        hub,
        "ApprovalRequest",
        "web-app-rollout-v1-21-prod-clusters-before",
        Some("my-app-namespace"),
        "web-app-rollout-v1-21",
        "prod-clusters",
    );
    let approvals = hub.kubectl_ok(&["get", "approvalrequests", "-n", "my-app-namespace"]);
    assert_eq!(header(&approvals), APPROVAL_HEADER);
    // The document's namespaced approval, as written: no lastTransitionTime, no observedGeneration (SD-8).
    hub.kubectl_ok(&[
        "patch",
        "approvalrequests",
        "web-app-rollout-v1-21-prod-clusters-before",
        "-n",
        "my-app-namespace",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Approved","status":"True","reason":"approved","message":"approved to start prod"}]}}"#,
        "--subresource=status",
    ]);
    apply_example(hub, DOC, "09-stagedupdaterun-rollback.yaml");

    // Clean up what the next document reuses by name (no controllers run here, so nothing has finalizers).
    hub.kubectl_ok(&["delete", "csur,careq,csus,crp,crs", "--all"]);
    hub.kubectl_ok(&["delete", "sur,areq,sus,rp", "--all", "-n", "my-app-namespace"]);
}

fn azure_fleet_howto(hub: &TestCluster) {
    const DOC: &str = "azure-fleet-howto";
    apply_example(hub, DOC, "01-clusterresourceplacement.yaml");
    assert_eq!(
        header(&hub.kubectl_ok(&["get", "crp", "example-placement"])),
        PLACEMENT_HEADER
    );
    apply_example(hub, DOC, "02-clusterstagedupdatestrategy.yaml");
    apply_example(hub, DOC, "03-clusterstagedupdaterun.yaml");
    // Created without `state`: it runs (SD-1).
    assert_eq!(
        hub.kubectl_ok(&["get", "csur", "example-run", "-o", "jsonpath={.spec.state}"]),
        "Run"
    );
    create_approval_request(
        hub,
        "ClusterApprovalRequest",
        "example-run-canary",
        None,
        "example-run",
        "canary",
    );
    hub.kubectl_ok(&[
        "patch",
        "clusterapprovalrequests",
        "example-run-canary",
        "--type=merge",
        "--subresource=status",
        "--patch-file",
        &example(DOC, "approval.json").display().to_string(),
    ]);
    let approvals = hub.kubectl_ok(&["get", "clusterapprovalrequest"]);
    assert_eq!(header(&approvals), APPROVAL_HEADER);
    assert_eq!(
        row(&approvals, "example-run-canary")[1..4],
        ["example-run", "canary", "True"]
    );
    apply_example(hub, DOC, "04-clusterstagedupdaterun-rollback.yaml");
    assert_eq!(header(&hub.kubectl_ok(&["get", "csur"])), RUN_HEADER);

    apply_example(hub, DOC, "05-resourceplacement.yaml");
    apply_example(hub, DOC, "06-stagedupdatestrategy.yaml");
    apply_example(hub, DOC, "07-stagedupdaterun.yaml");
    apply_example(hub, DOC, "08-stagedupdaterun-rollback.yaml");
    assert_eq!(
        header(&hub.kubectl_ok(&["get", "sur", "-n", "my-app-namespace"])),
        RUN_HEADER
    );
    hub.kubectl_ok(&["delete", "csur,careq,csus,crp", "--all"]);
    hub.kubectl_ok(&["delete", "sur,areq,sus,rp", "--all", "-n", "my-app-namespace"]);
}

/// Both documents share object names, so they run one after the other in a single test.
#[test]
fn seed_document_manifests_apply_and_print_the_documented_headers() {
    let hub = hub();
    kubefleet_howto(hub);
    azure_fleet_howto(hub);
}
