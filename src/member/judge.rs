//! Pure rules of the work applier (`placement-pipeline.md` §12): apply order, what is sent to the
//! member, availability per kind, and the Work's conditions.

use jiff::Timestamp;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api::condition::Condition;
use crate::api::placement::ManifestCondition;
use crate::conditions::{Status, set};

/// Annotation with the hash of the manifest last applied.
pub const SPEC_HASH: &str = "kubernetes-fleet.io/spec-hash";
/// Annotation with the manifest last applied (ClientSideApply).
pub const LAST_APPLIED: &str = "kubernetes-fleet.io/last-applied-configuration";
/// Largest `last-applied-configuration` kept; beyond it the annotation is left empty.
const MAX_LAST_APPLIED: usize = 256 * 1024 - 1024;

/// Apply wave of a resource (plural name): namespaces first, webhooks last.
pub fn wave(plural: &str) -> u8 {
    match plural {
        "namespaces" | "priorityclasses" => 0,
        "networkpolicies"
        | "resourcequotas"
        | "limitranges"
        | "podsecuritypolicies"
        | "poddisruptionbudgets"
        | "serviceaccounts"
        | "secrets"
        | "configmaps"
        | "storageclasses"
        | "persistentvolumes"
        | "persistentvolumeclaims"
        | "customresourcedefinitions"
        | "ingressclasses" => 1,
        "clusterroles" | "roles" => 2,
        "clusterrolebindings" | "rolebindings" => 3,
        "services"
        | "daemonsets"
        | "pods"
        | "replicationcontrollers"
        | "replicasets"
        | "deployments"
        | "horizontalpodautoscalers"
        | "statefulsets"
        | "jobs"
        | "cronjobs"
        | "ingresses" => 4,
        "apiservices" | "validatingwebhookconfigurations" | "mutatingwebhookconfigurations" => 5,
        _ => 6,
    }
}

/// The manifest as it is sent to the member: server-set and fleet fields removed, `spec-hash`
/// and `last-applied-configuration` set.
pub fn prepare(manifest: &Value) -> Value {
    let mut object = manifest.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "ownerReferences",
            "managedFields",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
            "selfLink",
            "uid",
        ] {
            meta.remove(key);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for key in [
                SPEC_HASH,
                LAST_APPLIED,
                "kubectl.kubernetes.io/last-applied-configuration",
                "deployment.kubernetes.io/revision",
            ] {
                annotations.remove(key);
            }
        }
    }
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    let hash = hex::encode(Sha256::digest(serde_json::to_vec(&object).unwrap_or_default()));
    let last_applied = serde_json::to_string(&object).unwrap_or_default();
    let last_applied = if last_applied.len() > MAX_LAST_APPLIED {
        String::new()
    } else {
        last_applied
    };
    let meta = object
        .as_object_mut()
        .map(|m| m.entry("metadata").or_insert_with(|| Value::Object(Default::default())));
    if let Some(Value::Object(meta)) = meta {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(annotations) = annotations {
            annotations.insert(SPEC_HASH.into(), Value::String(hash));
            annotations.insert(LAST_APPLIED.into(), Value::String(last_applied));
        }
    }
    object
}

/// Whether an applied object is available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Ready to serve.
    Available,
    /// Not yet.
    NotYet,
    /// Its kind has no availability rule; counted as available.
    NotTrackable,
}

fn int(value: &Value, path: &[&str]) -> i64 {
    path.iter().fold(value, |v, k| &v[*k]).as_i64().unwrap_or_default()
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    path.iter().fold(value, |v, k| &v[*k]).as_str().unwrap_or_default()
}

fn condition_true(object: &Value, t: &str) -> bool {
    object["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
}

/// Upstream's availability rules for the live member object of a manifest (§12.1 step 8).
pub fn availability(group: &str, plural: &str, live: &Value) -> Availability {
    let current = int(live, &["status", "observedGeneration"]) == int(live, &["metadata", "generation"]);
    let yes = |ok: bool| {
        if ok {
            Availability::Available
        } else {
            Availability::NotYet
        }
    };
    match (group, plural) {
        ("apps", "deployments") => {
            let wanted = live["spec"]["replicas"].as_i64().unwrap_or(1);
            yes(current
                && int(live, &["status", "availableReplicas"]) == wanted
                && int(live, &["status", "updatedReplicas"]) == wanted
                && int(live, &["status", "unavailableReplicas"]) == 0)
        }
        ("apps", "statefulsets") => {
            let wanted = live["spec"]["replicas"].as_i64().unwrap_or(1);
            yes(current
                && int(live, &["status", "availableReplicas"]) == wanted
                && int(live, &["status", "currentReplicas"]) == int(live, &["status", "updatedReplicas"])
                && text(live, &["status", "currentRevision"]) == text(live, &["status", "updateRevision"]))
        }
        ("apps", "daemonsets") => yes(current
            && int(live, &["status", "numberAvailable"]) == int(live, &["status", "desiredNumberScheduled"])
            && int(live, &["status", "currentNumberScheduled"]) == int(live, &["status", "updatedNumberScheduled"])),
        ("", "services") => match text(live, &["spec", "type"]) {
            "ExternalName" => Availability::NotTrackable,
            "LoadBalancer" => {
                let ingress = &live["status"]["loadBalancer"]["ingress"][0];
                yes(!text(ingress, &["ip"]).is_empty() || !text(ingress, &["hostname"]).is_empty())
            }
            _ => yes(!live["spec"]["clusterIPs"][0].as_str().unwrap_or_default().is_empty()),
        },
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            yes(condition_true(live, "Established") && condition_true(live, "NamesAccepted"))
        }
        ("policy", "poddisruptionbudgets") => yes(current),
        ("", "namespaces" | "secrets" | "configmaps" | "serviceaccounts" | "limitranges" | "resourcequotas")
        | ("rbac.authorization.k8s.io", "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings")
        | ("networking.k8s.io", "networkpolicies" | "ingressclasses")
        | ("storage.k8s.io", "csidrivers" | "csinodes" | "storageclasses" | "csistoragecapacities")
        | ("apps", "controllerrevisions")
        | ("scheduling.k8s.io", "priorityclasses") => Availability::Available,
        _ => Availability::NotTrackable,
    }
}

/// The Work's `Applied` and `Available` from its manifest conditions (§12.2), for Work
/// generation `generation`.
pub fn work_conditions(
    old: &Option<Vec<Condition>>,
    manifests: &[ManifestCondition],
    generation: i64,
    now: Timestamp,
) -> Vec<Condition> {
    let mut conditions = old.clone();
    let is = |m: &ManifestCondition, t: &str| m.conditions.iter().any(|c| c.type_ == t && c.status == "True");
    let total = manifests.len();
    let applied = manifests.iter().filter(|m| is(m, "Applied")).count();
    if applied == total {
        set(
            &mut conditions,
            "Applied",
            Status::True,
            "AllManifestsApplied",
            "All the specified manifests have been applied",
            generation,
            now,
        );
        let available = manifests.iter().filter(|m| is(m, "Available")).count();
        let untrackable = manifests.iter().any(|m| {
            m.conditions
                .iter()
                .any(|c| c.type_ == "Available" && c.reason == "NotTrackable")
        });
        let (s, reason, message) = if available < total {
            (
                Status::False,
                "SomeManifestsAreNotAvailable",
                format!("Some manifests are not available ({available} of {total} manifests are available)"),
            )
        } else if untrackable {
            (
                Status::True,
                "WorkNotTrackable",
                "Some of the manifests' availability cannot be tracked".to_string(),
            )
        } else {
            (
                Status::True,
                "AllManifestsAvailable",
                "All the specified manifests are available".to_string(),
            )
        };
        set(&mut conditions, "Available", s, reason, message, generation, now);
    } else {
        set(
            &mut conditions,
            "Applied",
            Status::False,
            "SomeManifestsAreNotApplied",
            format!("Failed to apply all manifests ({applied} of {total} manifests are applied)"),
            generation,
            now,
        );
        crate::conditions::remove(&mut conditions, "Available");
    }
    conditions.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn namespaces_come_before_config_and_workloads() {
        let mut plurals = ["deployments", "configmaps", "namespaces", "widgets", "roles"];
        plurals.sort_by_key(|p| wave(p));
        assert_eq!(plurals, ["namespaces", "configmaps", "roles", "deployments", "widgets"]);
    }

    #[test]
    fn prepared_manifests_carry_the_hash_and_no_server_fields() {
        let manifest = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "resourceVersion": "5", "uid": "u", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"key": "value1"}, "status": {}});
        let prepared = prepare(&manifest);
        let annotations = prepared["metadata"]["annotations"].as_object().unwrap();
        assert_eq!(annotations[SPEC_HASH].as_str().unwrap().len(), 64);
        assert!(annotations[LAST_APPLIED].as_str().unwrap().contains("value1"));
        assert!(!annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
        assert!(prepared["metadata"].get("uid").is_none() && prepared.get("status").is_none());
        assert_eq!(prepare(&manifest), prepared, "the hash is stable");
    }

    #[test]
    fn deployments_are_available_once_every_replica_is() {
        let mut d = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "availableReplicas": 1, "updatedReplicas": 2}});
        assert_eq!(availability("apps", "deployments", &d), Availability::NotYet);
        d["status"]["availableReplicas"] = json!(2);
        assert_eq!(availability("apps", "deployments", &d), Availability::Available);
        d["metadata"]["generation"] = json!(3);
        assert_eq!(availability("apps", "deployments", &d), Availability::NotYet);
    }

    #[test]
    fn services_need_a_cluster_ip_and_data_kinds_are_available_at_once() {
        let pending = json!({"spec": {"type": "ClusterIP"}});
        assert_eq!(availability("", "services", &pending), Availability::NotYet);
        let ready = json!({"spec": {"type": "ClusterIP", "clusterIPs": ["10.0.0.1"]}});
        assert_eq!(availability("", "services", &ready), Availability::Available);
        assert_eq!(availability("", "configmaps", &json!({})), Availability::Available);
        assert_eq!(availability("batch", "jobs", &json!({})), Availability::NotTrackable);
    }

    #[test]
    fn an_empty_work_is_applied_and_available() {
        let now: Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
        let conditions = work_conditions(&None, &[], 1, now);
        let summary: Vec<(&str, &str)> = conditions
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        assert_eq!(summary, [("Applied", "True"), ("Available", "True")]);
    }
}
