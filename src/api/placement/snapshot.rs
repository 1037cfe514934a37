//! Resource snapshots (what was selected, per index) and scheduling policy snapshots.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::binding::ClusterDecision;
use super::policy::PlacementPolicy;
use crate::api::condition::{Condition, conditions_schema};
use crate::api::schema::embedded_resource_list;

twin_kinds! {
    attrs: {},
    kube: {
        status = "SnapshotStatus",
        printcolumn(name = "Gen", type_ = "string", json_path = ".metadata.generation"),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    },
    fields: {
        /// The selected resources, sanitised, in selection order. Always present (`[]` when nothing is selected).
        #[schemars(schema_with = "embedded_resource_list")]
        pub selected_resources: Vec<serde_json::Value>,
    },
    kinds: {
        /// Spec of a `ClusterResourceSnapshot`: one index (or part of one) of a ClusterResourcePlacement's selected resources.
        ClusterResourceSnapshotSpec [
            kind = "ClusterResourceSnapshot",
            plural = "clusterresourcesnapshots",
            shortname = "crs",
            doc = "ClusterResourceSnapshot is an immutable copy of the resources a ClusterResourcePlacement selected, at one resource index."
        ] {}
        /// Spec of a `ResourceSnapshot`: one index (or part of one) of a ResourcePlacement's selected resources.
        ResourceSnapshotSpec [
            kind = "ResourceSnapshot",
            plural = "resourcesnapshots",
            namespaced,
            shortname = "rs",
            doc = "ResourceSnapshot is an immutable copy of the resources a ResourcePlacement selected, at one resource index."
        ] {}
    },
}

/// Status of a resource snapshot (unused by the controllers, kept for compatibility).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotStatus {
    /// Conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}

twin_kinds! {
    attrs: {},
    kube: {
        status = "SchedulingPolicySnapshotStatus",
        printcolumn(name = "Gen", type_ = "string", json_path = ".metadata.generation"),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    },
    fields: {
        /// Copy of the placement's policy; absent when the placement has none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub policy: Option<PlacementPolicy>,
        /// sha256 (hex, as bytes, base64 on the wire) of the policy without `numberOfClusters`.
        #[schemars(extend("format" = "byte"))]
        pub policy_hash: String,
    },
    kinds: {
        /// Spec of a `ClusterSchedulingPolicySnapshot`: one revision of a ClusterResourcePlacement's scheduling policy.
        ClusterSchedulingPolicySnapshotSpec [
            kind = "ClusterSchedulingPolicySnapshot",
            plural = "clusterschedulingpolicysnapshots",
            shortname = "csps",
            doc = "ClusterSchedulingPolicySnapshot is one revision of a ClusterResourcePlacement's scheduling policy and the scheduler's decisions for it."
        ] {}
        /// Spec of a `SchedulingPolicySnapshot`: one revision of a ResourcePlacement's scheduling policy.
        SchedulingPolicySnapshotSpec [
            kind = "SchedulingPolicySnapshot",
            plural = "schedulingpolicysnapshots",
            namespaced,
            shortname = "sps",
            doc = "SchedulingPolicySnapshot is one revision of a ResourcePlacement's scheduling policy and the scheduler's decisions for it."
        ] {}
    },
}

/// The scheduler's view of a policy snapshot.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingPolicySnapshotStatus {
    /// Placement generation the scheduler last acted on. Always present.
    #[serde(rename = "observedCRPGeneration", default)]
    pub observed_crp_generation: i64,
    /// Condition `Scheduled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// The scheduler's decision per cluster (at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1000))]
    pub target_clusters: Option<Vec<ClusterDecision>>,
}
