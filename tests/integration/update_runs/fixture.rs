//! A placement with everything a run needs, created on the run hub with kubectl: member
//! clusters with the seed labels, the External placement, a scheduled policy snapshot, resource
//! snapshots 0 and 1 (1 latest) and one Scheduled binding per member. The test then plays the
//! member side by flipping binding `Available` conditions.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestCluster, run_hub, wait_for};

/// How long a test waits for the controller to reach a state.
pub const WAIT: Duration = Duration::from_secs(60);

/// Kind names of one scope.
pub struct Kinds {
    pub placement: &'static str,
    pub policy_snapshot: &'static str,
    pub resource_snapshot: &'static str,
    pub binding: &'static str,
    pub strategy: &'static str,
    pub run: &'static str,
    pub approval: &'static str,
}

pub const CLUSTER: Kinds = Kinds {
    placement: "ClusterResourcePlacement",
    policy_snapshot: "ClusterSchedulingPolicySnapshot",
    resource_snapshot: "ClusterResourceSnapshot",
    binding: "ClusterResourceBinding",
    strategy: "ClusterStagedUpdateStrategy",
    run: "ClusterStagedUpdateRun",
    approval: "ClusterApprovalRequest",
};

pub const NAMESPACED: Kinds = Kinds {
    placement: "ResourcePlacement",
    policy_snapshot: "SchedulingPolicySnapshot",
    resource_snapshot: "ResourceSnapshot",
    binding: "ResourceBinding",
    strategy: "StagedUpdateStrategy",
    run: "StagedUpdateRun",
    approval: "ApprovalRequest",
};

/// The seed documents' member labels: member1 canary/order=2, member2 staging, member3 canary/order=1.
pub fn seed_members(prefix: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let name = |n: &str| {
        if prefix.is_empty() {
            n.to_string()
        } else {
            format!("{prefix}-{n}")
        }
    };
    vec![
        (name("member1"), vec![("environment", "canary"), ("order", "2")]),
        (name("member2"), vec![("environment", "staging")]),
        (name("member3"), vec![("environment", "canary"), ("order", "1")]),
    ]
}

/// One placement's world on the run hub.
pub struct Fleet {
    pub hub: &'static TestCluster,
    pub kinds: &'static Kinds,
    pub namespace: Option<String>,
    pub placement: String,
    pub members: Vec<String>,
}

fn meta(name: &str, namespace: &Option<String>) -> Value {
    match namespace {
        Some(ns) => json!({"name": name, "namespace": ns}),
        None => json!({"name": name}),
    }
}

impl Fleet {
    /// Creates the placement's world with the given members (name, labels).
    pub fn new(
        kinds: &'static Kinds,
        namespace: Option<String>,
        placement: &str,
        members: &[(String, Vec<(&str, &str)>)],
    ) -> Fleet {
        let fleet = Fleet {
            hub: run_hub(),
            kinds,
            namespace,
            placement: placement.to_string(),
            members: members.iter().map(|(n, _)| n.clone()).collect(),
        };
        for (name, labels) in members {
            let labels: serde_json::Map<String, Value> =
                labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            fleet.apply(json!({
                "apiVersion": "cluster.kubernetes-fleet.io/v1beta1",
                "kind": "MemberCluster",
                "metadata": {"name": name, "labels": labels},
                "spec": {"identity": {"kind": "User", "name": "fleet-member-agent", "apiGroup": "rbac.authorization.k8s.io"}},
            }));
        }
        let selector = match fleet.namespace {
            Some(_) => json!({"group": "", "version": "v1", "kind": "ConfigMap", "name": "test-cm"}),
            None => json!({"group": "", "version": "v1", "kind": "Namespace", "name": "test-namespace"}),
        };
        fleet.apply(json!({
            "apiVersion": "placement.kubernetes-fleet.io/v1beta1",
            "kind": kinds.placement,
            "metadata": meta(placement, &fleet.namespace),
            "spec": {"resourceSelectors": [selector], "policy": {"placementType": "PickAll"}, "strategy": {"type": "External"}},
        }));
        fleet.policy_snapshot(0);
        fleet.resource_snapshot(0, "value1", false);
        fleet.resource_snapshot(1, "value2", true);
        for member in fleet.members.clone() {
            fleet.binding(&member, "Scheduled");
        }
        fleet
    }

    /// `kubectl apply` of one object; placement-side kinds get the fleet's namespace.
    pub fn apply(&self, mut object: Value) {
        let cluster_scoped = object["kind"] == "MemberCluster";
        if let (Some(ns), false) = (&self.namespace, cluster_scoped) {
            object["metadata"]["namespace"] = json!(ns);
        }
        self.hub.apply(&object.to_string());
    }

    fn ns_args(&self) -> Vec<String> {
        self.namespace
            .iter()
            .flat_map(|ns| ["-n".to_string(), ns.clone()])
            .collect()
    }

    /// kubectl with the fleet's namespace appended.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(self.ns_args());
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        self.hub.kubectl_ok(&refs)
    }

    /// An object as JSON, or `None` when it does not exist.
    pub fn get(&self, kind: &str, name: &str) -> Option<Value> {
        let mut args = vec![
            "get".to_string(),
            kind.to_string(),
            name.to_string(),
            "-o".into(),
            "json".into(),
        ];
        args.extend(self.ns_args());
        args.push("--ignore-not-found".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.hub.kubectl_ok(&refs);
        if out.trim().is_empty() {
            None
        } else {
            serde_json::from_str(&out).ok()
        }
    }

    /// Merge-patches an object's status.
    pub fn patch_status(&self, kind: &str, name: &str, patch: Value) {
        self.kubectl(&[
            "patch",
            kind,
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ]);
    }

    /// The placement's policy snapshot `index`, labelled latest and marked Scheduled.
    pub fn policy_snapshot(&self, index: u32) {
        let name = format!("{}-{index}", self.placement);
        self.apply(json!({
            "apiVersion": "placement.kubernetes-fleet.io/v1beta1",
            "kind": self.kinds.policy_snapshot,
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes-fleet.io/parent-CRP": self.placement,
                    "kubernetes-fleet.io/is-latest-snapshot": "true",
                    "kubernetes-fleet.io/policy-index": index.to_string(),
                },
            },
            "spec": {"policy": {"placementType": "PickAll"}, "policyHash": "aGFzaA=="},
        }));
        self.patch_status(
            self.kinds.policy_snapshot,
            &name,
            json!({"status": {"observedCRPGeneration": 1, "conditions": [condition("Scheduled", "True", "Scheduled", 1)]}}),
        );
    }

    /// Resource snapshot group `index` with one ConfigMap whose `key` is `value`.
    pub fn resource_snapshot(&self, index: u32, value: &str, latest: bool) {
        self.apply(json!({
            "apiVersion": "placement.kubernetes-fleet.io/v1beta1",
            "kind": self.kinds.resource_snapshot,
            "metadata": {
                "name": format!("{}-{index}-snapshot", self.placement),
                "labels": {
                    "kubernetes-fleet.io/parent-CRP": self.placement,
                    "kubernetes-fleet.io/is-latest-snapshot": latest.to_string(),
                    "kubernetes-fleet.io/resource-index": index.to_string(),
                },
                "annotations": {
                    "kubernetes-fleet.io/resource-hash": format!("hash-{value}"),
                    "kubernetes-fleet.io/number-of-resource-snapshots": "1",
                },
            },
            "spec": {"selectedResources": [{
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "test-cm", "namespace": "test-namespace"},
                "data": {"key": value},
            }]},
        }));
    }

    pub fn binding_name(&self, cluster: &str) -> String {
        format!("{}-{cluster}", self.placement)
    }

    /// The binding of `cluster` for policy snapshot 0 in `state`.
    pub fn binding(&self, cluster: &str, state: &str) {
        self.apply(json!({
            "apiVersion": "placement.kubernetes-fleet.io/v1beta1",
            "kind": self.kinds.binding,
            "metadata": {
                "name": self.binding_name(cluster),
                "labels": {"kubernetes-fleet.io/parent-CRP": self.placement},
            },
            "spec": {
                "state": state,
                "schedulingPolicySnapshotName": format!("{}-0", self.placement),
                "targetCluster": cluster,
                "clusterDecision": {"clusterName": cluster, "selected": true, "reason": "picked by the test"},
            },
        }));
    }

    pub fn binding_json(&self, cluster: &str) -> Value {
        self.get(self.kinds.binding, &self.binding_name(cluster))
            .expect("binding exists")
    }

    /// Plays the member side: the binding's resources are Available for its current generation.
    pub fn make_available(&self, cluster: &str) {
        let binding = self.binding_json(cluster);
        let generation = binding["metadata"]["generation"].as_i64().unwrap_or(1);
        let mut conditions: Vec<Value> = binding["status"]["conditions"].as_array().cloned().unwrap_or_default();
        conditions.retain(|c| c["type"] != "Available");
        conditions.push(condition("Available", "True", "AllWorkAreAvailable", generation));
        self.patch_status(
            self.kinds.binding,
            &self.binding_name(cluster),
            json!({"status": {"conditions": conditions}}),
        );
    }

    /// Creates a strategy from its `stages` JSON.
    pub fn strategy(&self, name: &str, stages: Value) {
        self.apply(json!({
            "apiVersion": "placement.kubernetes-fleet.io/v1beta1",
            "kind": self.kinds.strategy,
            "metadata": meta(name, &self.namespace),
            "spec": {"stages": stages},
        }));
    }

    /// Creates a run; `index` and `state` are left out when `None`.
    pub fn run(&self, name: &str, strategy: &str, index: Option<&str>, state: Option<&str>) {
        let mut spec = json!({"placementName": self.placement, "stagedRolloutStrategyName": strategy});
        if let Some(index) = index {
            spec["resourceSnapshotIndex"] = json!(index);
        }
        if let Some(state) = state {
            spec["state"] = json!(state);
        }
        self.apply(json!({
            "apiVersion": "placement.kubernetes-fleet.io/v1beta1",
            "kind": self.kinds.run,
            "metadata": meta(name, &self.namespace),
            "spec": spec,
        }));
    }

    /// The KubeFleet document's `kubectl patch csur <run> --type='merge' -p '{"spec":{"state":...}}'`.
    pub fn set_state(&self, run: &str, state: &str) {
        let patch = format!(r#"{{"spec":{{"state":"{state}"}}}}"#);
        self.kubectl(&["patch", self.kinds.run, run, "--type=merge", "-p", &patch]);
    }

    /// Doc A's short approval patch: no lastTransitionTime, no observedGeneration (SD-8).
    pub fn approve(&self, approval: &str) {
        let patch = r#"{"status":{"conditions":[{"type":"Approved","status":"True","reason":"approved","message":"approved by the test"}]}}"#;
        self.kubectl(&[
            "patch",
            self.kinds.approval,
            approval,
            "--type=merge",
            "--subresource=status",
            "-p",
            patch,
        ]);
    }

    pub fn run_json(&self, run: &str) -> Value {
        self.get(self.kinds.run, run).expect("run exists")
    }

    /// Waits until `check` holds on the run; prints the run's status when it times out.
    pub fn wait_run(&self, run: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let full = format!("run {run}: {what}");
        let mut last = Value::Null;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(&full, WAIT, || {
                let value = self.get(self.kinds.run, run)?;
                last = value.clone();
                check(&value).then_some(value)
            })
        }));
        match result {
            Ok(value) => value,
            Err(panic) => {
                eprintln!(
                    "last status of {run}:\n{}",
                    serde_json::to_string_pretty(&last["status"]).unwrap_or_default()
                );
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Waits until the approval request exists.
    pub fn wait_approval(&self, name: &str) -> Value {
        wait_for(&format!("approval request {name}"), WAIT, || {
            self.get(self.kinds.approval, name)
        })
    }
}

/// A condition as JSON.
pub fn condition(type_: &str, status: &str, reason: &str, generation: i64) -> Value {
    json!({
        "type": type_, "status": status, "reason": reason, "message": "",
        "observedGeneration": generation,
        "lastTransitionTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}

/// `(status, reason)` of a condition in a JSON conditions list.
pub fn cond(conditions: &Value, type_: &str) -> Option<(String, String)> {
    conditions.as_array()?.iter().find(|c| c["type"] == type_).map(|c| {
        (
            c["status"].as_str().unwrap_or_default().to_string(),
            c["reason"].as_str().unwrap_or_default().to_string(),
        )
    })
}

/// Whether the condition has that status.
pub fn has(conditions: &Value, type_: &str, status: &str) -> bool {
    cond(conditions, type_).is_some_and(|(s, _)| s == status)
}

/// The message of a condition.
pub fn message(conditions: &Value, type_: &str) -> String {
    conditions
        .as_array()
        .and_then(|list| list.iter().find(|c| c["type"] == type_))
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

pub use crate::harness::cells;
