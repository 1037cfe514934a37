//! Bindings: the hub's per-cluster record of what a placement should have there.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resource_placement::{
    DiffedResourcePlacement, DriftedResourcePlacement, FailedResourcePlacement, NamespacedName,
};
use super::rollout::ApplyStrategy;
use crate::api::condition::{Condition, conditions_schema};

/// Lifecycle state of a binding.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum BindingState {
    /// Picked by the scheduler; nothing placed yet.
    #[default]
    Scheduled,
    /// Resources are placed on the cluster.
    Bound,
    /// No longer picked; waits for removal.
    Unscheduled,
}

twin_kinds! {
    attrs: {},
    kube: {
        status = "ResourceBindingStatus",
        printcolumn(name = "WorkSynchronized", type_ = "string", json_path = r#".status.conditions[?(@.type=="WorkSynchronized")].status"#),
        printcolumn(name = "ResourcesApplied", type_ = "string", json_path = r#".status.conditions[?(@.type=="Applied")].status"#),
        printcolumn(name = "ResourceAvailable", type_ = "string", json_path = r#".status.conditions[?(@.type=="Available")].status"#, priority = 1),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    },
    fields: {
        /// `Scheduled`, `Bound` or `Unscheduled`.
        pub state: BindingState,
        /// Master resource snapshot to place; empty until the binding is first bound.
        #[serde(default)]
        pub resource_snapshot_name: String,
        /// ResourceOverride snapshots to apply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resource_override_snapshots: Option<Vec<NamespacedName>>,
        /// ClusterResourceOverride snapshots to apply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cluster_resource_override_snapshots: Option<Vec<String>>,
        /// Policy snapshot that scheduled this binding.
        pub scheduling_policy_snapshot_name: String,
        /// Member cluster name.
        pub target_cluster: String,
        /// The scheduler's decision for the cluster.
        pub cluster_decision: ClusterDecision,
        /// How the member agent applies the resources.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub apply_strategy: Option<ApplyStrategy>,
    },
    kinds: {
        /// Spec of a `ClusterResourceBinding`: what a ClusterResourcePlacement places on one member cluster.
        ClusterResourceBindingSpec [
            kind = "ClusterResourceBinding",
            plural = "clusterresourcebindings",
            shortname = "crb",
            doc = "ClusterResourceBinding records what a ClusterResourcePlacement places on one member cluster."
        ] {}
        /// Spec of a `ResourceBinding`: what a ResourcePlacement places on one member cluster.
        ResourceBindingSpec [
            kind = "ResourceBinding",
            plural = "resourcebindings",
            namespaced,
            shortname = "rb",
            doc = "ResourceBinding records what a ResourcePlacement places on one member cluster."
        ] {}
    },
}

/// The scheduler's decision about one cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDecision {
    /// Member cluster name.
    pub cluster_name: String,
    /// Whether the cluster was picked.
    pub selected: bool,
    /// Scores that ranked the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_score: Option<ClusterScore>,
    /// Why the cluster was or was not picked.
    pub reason: String,
}

/// Scores of a cluster in one scheduling cycle.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterScore {
    /// Sum of matching preferred affinity weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_score: Option<i32>,
    /// Topology spread score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_score: Option<i32>,
}

/// Observed state of a binding.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceBindingStatus {
    /// Resources that failed (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub failed_placements: Option<Vec<FailedResourcePlacement>>,
    /// Resources that drifted (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub drifted_placements: Option<Vec<DriftedResourcePlacement>>,
    /// Resources that differ from the hub (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub diffed_placements: Option<Vec<DiffedResourcePlacement>>,
    /// `RolloutStarted`, `Overridden`, `WorkSynchronized`, `Applied`, `Available`, `DiffReported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}
