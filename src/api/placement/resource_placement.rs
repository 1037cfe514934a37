//! `ClusterResourcePlacement` and `ResourcePlacement`: what to place, where, and how.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::policy::PlacementPolicy;
use super::rollout::RolloutStrategy;
use crate::api::condition::{Condition, conditions_schema};

twin_kinds! {
    attrs: {},
    kube: {
        status = "PlacementStatus",
    },
    fields: {
        /// The resources to place; a resource matching any selector is selected (1 to 100).
        #[schemars(length(min = 1, max = 100), extend("x-kubernetes-validations" = [
            {"rule": "self.all(x, !(has(x.name) && has(x.labelSelector)))", "message": "name and labelSelector are mutually exclusive in a resource selector"}
        ]))]
        pub resource_selectors: Vec<ResourceSelectorTerm>,
        /// Which member clusters to place on; absent means PickAll. Cannot be removed once set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub policy: Option<PlacementPolicy>,
        /// How changes roll out: RollingUpdate (default) or External (staged update runs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub strategy: Option<RolloutStrategy>,
        /// How many resource and policy snapshots to keep (1 to 1000, default 10).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 1, max = 1000), extend("default" = 10))]
        pub revision_history_limit: Option<i32>,
    },
    kinds: {
        /// Spec of a `ClusterResourcePlacement`: selects cluster-scoped resources (and whole
        /// namespaces) on the hub and places them on member clusters.
        #[schemars(extend("x-kubernetes-validations" = [
            {"rule": "!has(oldSelf.policy) || has(self.policy)", "message": "policy cannot be removed once set"},
            {"rule": "!has(oldSelf.statusReportingScope) || self.statusReportingScope == oldSelf.statusReportingScope", "message": "statusReportingScope is immutable"}
        ]))]
        ClusterResourcePlacementSpec [
            kind = "ClusterResourcePlacement",
            plural = "clusterresourceplacements",
            shortname = "crp",
            doc = "ClusterResourcePlacement selects cluster-scoped hub resources (and whole namespaces) and places them on member clusters.",
            printcolumn(name = "Gen", type_ = "string", json_path = ".metadata.generation"),
            printcolumn(name = "Type", type_ = "string", json_path = ".spec.policy.placementType", priority = 1),
            printcolumn(name = "Scheduled", type_ = "string", json_path = r#".status.conditions[?(@.type=="ClusterResourcePlacementScheduled")].status"#),
            printcolumn(name = "Scheduled-Gen", type_ = "string", json_path = r#".status.conditions[?(@.type=="ClusterResourcePlacementScheduled")].observedGeneration"#),
            printcolumn(name = "Work-Synchronized", type_ = "string", json_path = r#".status.conditions[?(@.type=="ClusterResourcePlacementWorkSynchronized")].status"#, priority = 1),
            printcolumn(name = "Work-Synchronized-Gen", type_ = "string", json_path = r#".status.conditions[?(@.type=="ClusterResourcePlacementWorkSynchronized")].observedGeneration"#, priority = 1),
            printcolumn(name = "Available", type_ = "string", json_path = r#".status.conditions[?(@.type=="ClusterResourcePlacementAvailable")].status"#),
            printcolumn(name = "Available-Gen", type_ = "string", json_path = r#".status.conditions[?(@.type=="ClusterResourcePlacementAvailable")].observedGeneration"#),
            printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
        ] {
            /// Who can read the placement status: `ClusterScopeOnly` (default) or `NamespaceAccessible`. Immutable.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(extend("default" = "ClusterScopeOnly"))]
            pub status_reporting_scope: Option<StatusReportingScope>,
        }
        /// Spec of a `ResourcePlacement`: selects namespaced resources of its own namespace and
        /// places them on member clusters.
        #[schemars(extend("x-kubernetes-validations" = [
            {"rule": "!has(oldSelf.policy) || has(self.policy)", "message": "policy cannot be removed once set"}
        ]))]
        ResourcePlacementSpec [
            kind = "ResourcePlacement",
            plural = "resourceplacements",
            namespaced,
            shortname = "rp",
            doc = "ResourcePlacement selects namespaced resources of its own namespace and places them on member clusters.",
            printcolumn(name = "Gen", type_ = "string", json_path = ".metadata.generation"),
            printcolumn(name = "Type", type_ = "string", json_path = ".spec.policy.placementType", priority = 1),
            printcolumn(name = "Scheduled", type_ = "string", json_path = r#".status.conditions[?(@.type=="ResourcePlacementScheduled")].status"#),
            printcolumn(name = "Scheduled-Gen", type_ = "string", json_path = r#".status.conditions[?(@.type=="ResourcePlacementScheduled")].observedGeneration"#),
            printcolumn(name = "Work-Synchronized", type_ = "string", json_path = r#".status.conditions[?(@.type=="ResourcePlacementWorkSynchronized")].status"#, priority = 1),
            printcolumn(name = "Work-Synchronized-Gen", type_ = "string", json_path = r#".status.conditions[?(@.type=="ResourcePlacementWorkSynchronized")].observedGeneration"#, priority = 1),
            printcolumn(name = "Available", type_ = "string", json_path = r#".status.conditions[?(@.type=="ResourcePlacementAvailable")].status"#),
            printcolumn(name = "Available-Gen", type_ = "string", json_path = r#".status.conditions[?(@.type=="ResourcePlacementAvailable")].observedGeneration"#),
            printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
        ] {}
    },
}

/// Who may read a ClusterResourcePlacement's status.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum StatusReportingScope {
    /// Only cluster-scoped readers of the placement.
    #[default]
    ClusterScopeOnly,
    /// Also readers of the selected namespace (through ClusterResourcePlacementStatus).
    NamespaceAccessible,
}

/// Selects hub resources by group, version, kind and name or labels (all ANDed).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSelectorTerm {
    /// API group; `""` for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Name of the one object to select; excludes `labelSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Label query over objects of this kind; excludes `name`. Neither selects every object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// For Namespaces: whether the namespace's contents are selected too (default NamespaceWithResources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "NamespaceWithResources"))]
    pub selection_scope: Option<SelectionScope>,
}

/// What selecting a Namespace selects.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum SelectionScope {
    /// Only the Namespace object.
    NamespaceOnly,
    /// The Namespace and everything in it.
    #[default]
    NamespaceWithResources,
    /// The Namespace and the resources other selectors select in it.
    NamespaceWithResourceSelectors,
}

/// Observed state of a placement (both kinds).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacementStatus {
    /// The resources the placement currently selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_resources: Option<Vec<ResourceIdentifier>>,
    /// Index of the resource snapshot the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_resource_index: Option<String>,
    /// One entry per scheduled cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_statuses: Option<Vec<PerClusterPlacementStatus>>,
    /// Placement conditions (`ClusterResourcePlacementScheduled`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Stagehand extension (SD-23): present only when the placement selects more clusters than
    /// the hub lists inline; `placementStatuses` then lists only the clusters with a condition
    /// that is not True (at most 100), and each binding carries its cluster's detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_summary: Option<PlacementClusterSummary>,
}

/// The clusters of a placement in numbers (SD-23).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlacementClusterSummary {
    /// Clusters the placement selects (and clusters it failed to schedule), as upstream would list.
    pub total: i32,
    /// Clusters whose every condition is True, left out of `placementStatuses`.
    pub done_unlisted: i32,
    /// Other clusters left out because the list is full.
    pub pending_unlisted: i32,
}

/// Identifies one placed resource.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIdentifier {
    /// API group; empty for core.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace; empty for cluster-scoped resources.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The envelope the resource came in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<EnvelopeIdentifier>,
}

/// Identifies an envelope object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeIdentifier {
    /// Envelope name.
    pub name: String,
    /// Envelope namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// `ClusterResourceEnvelope` or `ResourceEnvelope`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// Placement state on one member cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerClusterPlacementStatus {
    /// Member cluster name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    /// Resource index placed on this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_resource_index: Option<String>,
    /// ResourceOverride snapshots applied on this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicable_resource_overrides: Option<Vec<NamespacedName>>,
    /// ClusterResourceOverride snapshots applied on this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicable_cluster_resource_overrides: Option<Vec<String>>,
    /// Resources that failed to apply or become available (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub failed_placements: Option<Vec<FailedResourcePlacement>>,
    /// Resources that drifted on the member (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub drifted_placements: Option<Vec<DriftedResourcePlacement>>,
    /// Resources that differ from the hub (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub diffed_placements: Option<Vec<DiffedResourcePlacement>>,
    /// Per-cluster conditions (`Scheduled`, `RolloutStarted`, ..., `Available`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}

/// A name and namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedName {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
}

/// A resource that failed on a member, with the condition that says why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedResourcePlacement {
    /// The resource.
    #[serde(flatten)]
    pub resource: ResourceIdentifier,
    /// The failed condition.
    pub condition: Condition,
}

/// A resource whose member copy drifted from what was applied.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftedResourcePlacement {
    /// The resource.
    #[serde(flatten)]
    pub resource: ResourceIdentifier,
    /// When the drift was last checked.
    pub observation_time: Time,
    /// Generation of the member object that was checked.
    pub target_cluster_observed_generation: i64,
    /// When the drift was first seen.
    pub first_drifted_observed_time: Time,
    /// The drifted fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_drifts: Option<Vec<PatchDetail>>,
}

/// A resource whose member copy differs from the hub manifest (ReportDiff).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffedResourcePlacement {
    /// The resource.
    #[serde(flatten)]
    pub resource: ResourceIdentifier,
    /// When the diff was last checked.
    pub observation_time: Time,
    /// Generation of the member object that was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster_observed_generation: Option<i64>,
    /// When the diff was first seen.
    pub first_diffed_observed_time: Time,
    /// The differing fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_diffs: Option<Vec<PatchDetail>>,
}

/// One differing field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchDetail {
    /// JSON pointer of the field.
    pub path: String,
    /// Value on the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_in_member: Option<String>,
    /// Value in the hub manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_in_hub: Option<String>,
}
