//! Selected resources as they land in a snapshot's `spec.selectedResources` (§4.1–§4.2): which
//! objects are never propagated, how each is sanitised, the stable order and the content hash.

use std::cmp::Ordering;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Metadata fields the hub never propagates.
const DROPPED_METADATA: [&str; 8] = [
    "resourceVersion",
    "generation",
    "uid",
    "selfLink",
    "deletionTimestamp",
    "managedFields",
    "ownerReferences",
    "creationTimestamp",
];

/// Annotations the hub never propagates.
const DROPPED_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
];

/// Job labels the API server generates per cluster.
const JOB_GENERATED_LABELS: [&str; 2] = ["controller-uid", "batch.kubernetes.io/controller-uid"];

fn api_version(obj: &Value) -> &str {
    obj["apiVersion"].as_str().unwrap_or_default()
}

fn kind(obj: &Value) -> &str {
    obj["kind"].as_str().unwrap_or_default()
}

/// Objects that are never selected even when a selector matches them (§4.1 per-object skips).
/// `service_exists` tells whether a Service of the object's name exists in its namespace (an
/// Endpoints object of a Service is managed by the member's own control plane).
pub fn is_skipped(obj: &Value, service_exists: bool) -> bool {
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let owned = meta["ownerReferences"].as_array().is_some_and(|o| !o.is_empty());
    if !meta["deletionTimestamp"].is_null() {
        return true;
    }
    match (api_version(obj), kind(obj)) {
        ("apps/v1", "ReplicaSet" | "ControllerRevision") => owned,
        ("v1", "ConfigMap") => name == "kube-root-ca.crt",
        ("v1", "ServiceAccount") => name == "default",
        ("v1", "Secret") => obj["type"] == "kubernetes.io/service-account-token",
        ("v1", "Endpoints") => service_exists,
        ("discovery.k8s.io/v1", "EndpointSlice") => !meta["labels"]["endpointslice.kubernetes.io/managed-by"].is_null(),
        _ => false,
    }
}

/// Sanitises one object for a snapshot (§4.2 step 5).
pub fn sanitize(mut obj: Value) -> Value {
    if let Some(map) = obj.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for field in DROPPED_METADATA {
            meta.remove(field);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for key in DROPPED_ANNOTATIONS {
                annotations.remove(key);
            }
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    match (api_version(&obj).to_string().as_str(), kind(&obj).to_string().as_str()) {
        ("v1", "Service") => sanitize_service(&mut obj),
        ("batch/v1", "Job") => sanitize_job(&mut obj),
        _ => {}
    }
    obj
}

fn sanitize_service(obj: &mut Value) {
    let Some(spec) = obj["spec"].as_object_mut() else {
        return;
    };
    if spec.get("clusterIP").and_then(Value::as_str) != Some("None") {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    spec.remove("healthCheckNodePort");
    for port in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(port) = port.as_object_mut() {
            port.remove("nodePort");
        }
    }
}

fn sanitize_job(obj: &mut Value) {
    if obj["spec"]["manualSelector"] == json!(true) {
        return;
    }
    for path in ["/spec/selector/matchLabels", "/spec/template/metadata/labels"] {
        if let Some(labels) = obj.pointer_mut(path).and_then(Value::as_object_mut) {
            for key in JOB_GENERATED_LABELS {
                labels.remove(key);
            }
        }
    }
    if let Some(meta) = obj
        .pointer_mut("/spec/template/metadata")
        .and_then(Value::as_object_mut)
    {
        meta.remove("creationTimestamp");
    }
}

/// Apply order of kinds (§4.2 step 4): dependencies first, so members can apply in order.
const KIND_RANK: [&str; 32] = [
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn namespaced_name(obj: &Value) -> String {
    format!(
        "{}/{}",
        obj["metadata"]["namespace"].as_str().unwrap_or_default(),
        obj["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// The stable order of selected resources; changing it would churn snapshots.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    let rank = |o: &Value| KIND_RANK.iter().position(|k| *k == kind(o));
    match (rank(a), rank(b)) {
        (Some(x), Some(y)) => x
            .cmp(&y)
            .then_with(|| api_version(a).cmp(api_version(b)))
            .then_with(|| namespaced_name(a).cmp(&namespaced_name(b))),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => format!("{}, Kind={}", api_version(a), kind(a))
            .cmp(&format!("{}, Kind={}", api_version(b), kind(b)))
            .then_with(|| namespaced_name(a).cmp(&namespaced_name(b))),
    }
}

/// Sanitises and sorts a selection.
pub fn prepare(objects: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = objects.into_iter().map(sanitize).collect();
    out.sort_by(compare);
    out
}

/// sha256 (lowercase hex) of `{"selectedResources": [...]}`; keys are serialised in sorted order,
/// so equal content always hashes equally.
pub fn content_hash(resources: &[Value]) -> String {
    let body = serde_json::to_vec(&json!({ "selectedResources": resources })).unwrap_or_default();
    hex::encode(Sha256::digest(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_drops_server_fields_and_keeps_the_spec() {
        let ns = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {
                "name": "test-namespace", "uid": "u", "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"kubernetes.io/metadata.name": "test-namespace"},
                "managedFields": [{}],
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        assert_eq!(
            sanitize(ns),
            json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "test-namespace", "labels": {"kubernetes.io/metadata.name": "test-namespace"}},
                "spec": {"finalizers": ["kubernetes"]},
            })
        );
    }

    #[test]
    fn services_lose_cluster_ips_and_node_ports_unless_headless() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-app"},
            "spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "ports": [{"port": 80, "nodePort": 30080}]}});
        assert_eq!(sanitize(svc)["spec"], json!({"ports": [{"port": 80}]}));
        let headless = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "h"},
            "spec": {"clusterIP": "None", "clusterIPs": ["None"]}});
        assert_eq!(sanitize(headless)["spec"]["clusterIP"], "None");
    }

    #[test]
    fn jobs_lose_generated_selector_labels() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"selector": {"matchLabels": {"controller-uid": "x", "app": "a"}},
                     "template": {"metadata": {"creationTimestamp": null, "labels": {"batch.kubernetes.io/controller-uid": "x", "app": "a"}}}}});
        let out = sanitize(job);
        assert_eq!(out["spec"]["selector"]["matchLabels"], json!({"app": "a"}));
        assert_eq!(out["spec"]["template"]["metadata"], json!({"labels": {"app": "a"}}));
    }

    #[test]
    fn generated_objects_are_skipped() {
        let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        assert!(is_skipped(&cm("kube-root-ca.crt"), false));
        assert!(!is_skipped(&cm("test-cm"), false));
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
        assert!(is_skipped(&sa, false));
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r", "ownerReferences": [{"name": "d"}]}});
        assert!(is_skipped(&rs, false));
        let ep = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web-app"}});
        assert!(is_skipped(&ep, true));
        assert!(!is_skipped(&ep, false));
        let deleting =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "deletionTimestamp": "t"}});
        assert!(is_skipped(&deleting, false));
    }

    #[test]
    fn order_puts_namespaces_before_config_maps_and_services_before_deployments() {
        let obj = |v: &str, k: &str, ns: &str, n: &str| json!({"apiVersion": v, "kind": k, "metadata": {"name": n, "namespace": ns}});
        let sorted = prepare(vec![
            obj("apps/v1", "Deployment", "my-app-namespace", "web-app"),
            obj("example.com/v1", "Widget", "a", "w"),
            obj("v1", "ConfigMap", "test-namespace", "test-cm"),
            obj("v1", "Service", "my-app-namespace", "web-app"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "test-namespace"}}),
        ]);
        let kinds: Vec<&str> = sorted.iter().map(kind).collect();
        assert_eq!(kinds, vec!["Namespace", "ConfigMap", "Service", "Deployment", "Widget"]);
    }

    #[test]
    fn hash_depends_on_content_only() {
        let a = vec![json!({"kind": "ConfigMap", "data": {"key": "value1"}, "apiVersion": "v1"})];
        let b = vec![json!({"apiVersion": "v1", "data": {"key": "value1"}, "kind": "ConfigMap"})];
        let c = vec![json!({"apiVersion": "v1", "data": {"key": "value2"}, "kind": "ConfigMap"})];
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
        assert_eq!(content_hash(&a).len(), 64);
    }
}
