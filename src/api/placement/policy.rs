//! Scheduling policy of a placement: which member clusters it picks.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// RE2 pattern of a Kubernetes qualified name (a label or taint key), for CEL `matches` (SD-40).
macro_rules! qualified_name_pattern {
    () => {
        "^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
    };
}

/// RE2 pattern of a Kubernetes label value, for CEL `matches` (SD-40).
macro_rules! label_value_pattern {
    () => {
        "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
    };
}

/// What a key that is not a qualified name is told.
const QUALIFIED_NAME_HINT: &str = "must be a qualified name such as example.com/my-key (letters, digits, '-', '_', '.', at most 63 characters after an optional DNS prefix and '/')";

/// How a placement picks member clusters.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum PlacementType {
    /// Every joined member cluster that passes the filters.
    #[default]
    PickAll,
    /// The N best clusters.
    PickN,
    /// Exactly the clusters named in `clusterNames`.
    PickFixed,
}

/// Which member clusters a placement selects (`PlacementPolicy`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(self.placementType == 'PickFixed' && (has(self.affinity) || has(self.numberOfClusters) || has(self.topologySpreadConstraints) || has(self.tolerations)))",
     "message": "affinity, numberOfClusters, topologySpreadConstraints, and tolerations cannot be set when placementType is PickFixed"},
    {"rule": "!(self.placementType == 'PickAll' && (has(self.clusterNames) || has(self.numberOfClusters) || has(self.topologySpreadConstraints)))",
     "message": "clusterNames, numberOfClusters, and topologySpreadConstraints cannot be set when placementType is PickAll"},
    {"rule": "!(self.placementType == 'PickN' && (has(self.clusterNames) || !has(self.numberOfClusters)))",
     "message": "clusterNames cannot be set and numberOfClusters must be set when placementType is PickN"}
]))]
pub struct PlacementPolicy {
    /// How clusters are picked: PickAll (default), PickN or PickFixed. Immutable.
    #[serde(default)]
    #[schemars(extend("default" = "PickAll", "x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "placement type is immutable"}]))]
    pub placement_type: PlacementType,
    /// Names of the member clusters to place on; PickFixed only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(max = 63)), extend("x-kubernetes-validations" = [
        {"rule": "self.all(n, n.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))", "message": "each cluster name must be a member cluster name: at most 63 lower-case letters, digits, '-' or '.', starting and ending with a letter or digit"},
        {"rule": "self.all(n, self.exists_one(m, m == n))", "message": "cluster names must be unique for policy type PickFixed"}
    ]))]
    pub cluster_names: Option<Vec<String>>,
    /// How many clusters to pick; PickN only (required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub number_of_clusters: Option<i32>,
    /// Cluster affinity terms; not for PickFixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// How picked clusters spread across topology domains; PickN only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    /// Taints of member clusters this placement tolerates; not for PickFixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), extend("x-kubernetes-validations" = [
        {"rule": "self.all(t, self.exists_one(u, u == t))", "message": "tolerations must be unique"}
    ]))]
    pub tolerations: Option<Vec<Toleration>>,
}

/// Scheduling constraints of a placement.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    /// Constraints on the member clusters' labels and properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_affinity: Option<ClusterAffinity>,
}

/// Required and preferred cluster selection.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAffinity {
    /// Clusters that do not match are never picked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_during_scheduling_ignored_during_execution: Option<ClusterSelector>,
    /// Clusters that match score higher (PickN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_during_scheduling_ignored_during_execution: Option<Vec<PreferredClusterSelector>>,
}

/// ORed cluster selector terms.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSelector {
    /// The terms; a cluster matching any of them is selected.
    #[schemars(length(max = 10))]
    pub cluster_selector_terms: Vec<ClusterSelectorTerm>,
}

/// A weighted preference.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferredClusterSelector {
    /// Weight added to the score of matching clusters, -100..100.
    #[schemars(range(min = -100, max = 100))]
    pub weight: i32,
    /// The clusters this preference applies to.
    pub preference: ClusterSelectorTerm,
}

/// Label and property conditions a cluster must meet (ANDed).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSelectorTerm {
    /// Label query over member clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Conditions on reported cluster properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_selector: Option<PropertySelector>,
    /// Sorts clusters by a property (preferred terms only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_sorter: Option<PropertySorter>,
}

/// ANDed property requirements.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropertySelector {
    /// The requirements.
    pub match_expressions: Vec<PropertySelectorRequirement>,
}

/// One requirement on a cluster property.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropertySelectorRequirement {
    /// Property name, e.g. `kubernetes-fleet.io/node-count`.
    pub name: String,
    /// Comparison operator.
    pub operator: PropertySelectorOperator,
    /// Values to compare with.
    pub values: Vec<String>,
}

/// Comparison between a property value and the requirement's values.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum PropertySelectorOperator {
    /// Greater than.
    #[default]
    Gt,
    /// Greater than or equal.
    Ge,
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

/// Orders clusters by a property value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropertySorter {
    /// Property name.
    pub name: String,
    /// `Descending` or `Ascending`.
    pub sort_order: PropertySortOrder,
}

/// Direction of a property sort.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum PropertySortOrder {
    /// Larger values score higher.
    #[default]
    Descending,
    /// Smaller values score higher.
    Ascending,
}

/// How picked clusters spread over a topology key (PickN).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    /// Largest allowed difference in picked clusters between two domains (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 1))]
    pub max_skew: Option<i32>,
    /// Cluster label whose values form the domains.
    pub topology_key: String,
    /// What to do when the constraint cannot be met (default DoNotSchedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "DoNotSchedule"))]
    pub when_unsatisfiable: Option<UnsatisfiableConstraintAction>,
}

/// Action when a topology spread constraint cannot be met.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum UnsatisfiableConstraintAction {
    /// Do not pick clusters that would break the constraint.
    #[default]
    DoNotSchedule,
    /// Prefer clusters that keep the constraint.
    ScheduleAnyway,
}

/// A taint a placement tolerates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
// SD-40: upstream's webhook checks of a toleration, as CRD rules.
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(has(self.operator) && self.operator == 'Exists' && has(self.value) && self.value != '')", "message": "value must be empty when operator is Exists"},
    {"rule": "(has(self.operator) && self.operator == 'Exists') || (has(self.key) && self.key != '')", "message": "toleration key cannot be empty when operator is Equal"}
]))]
pub struct Toleration {
    /// Taint key; empty with operator Exists matches every taint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 317), extend("x-kubernetes-validations" = [
        {"rule": concat!("self == '' || self.matches('", qualified_name_pattern!(), "')"), "message": format!("toleration key {QUALIFIED_NAME_HINT}")}
    ]))]
    pub key: Option<String>,
    /// `Equal` (default) or `Exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Equal"))]
    pub operator: Option<TolerationOperator>,
    /// Taint value for operator Equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63), extend("x-kubernetes-validations" = [
        {"rule": concat!("self.matches('", label_value_pattern!(), "')"), "message": "toleration value must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"}
    ]))]
    pub value: Option<String>,
    /// Taint effect; only `NoSchedule` exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
}

/// Operator of a toleration.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum TolerationOperator {
    /// Key and value must match.
    #[default]
    Equal,
    /// Key must exist.
    Exists,
}

/// Effect of a member cluster taint.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum TaintEffect {
    /// New placements do not pick the cluster unless they tolerate the taint.
    #[default]
    NoSchedule,
}

/// A member cluster taint (`MemberCluster.spec.taints`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// Taint key (a qualified name).
    #[schemars(length(max = 317), extend("x-kubernetes-validations" = [
        {"rule": concat!("self.matches('", qualified_name_pattern!(), "')"), "message": format!("taint key {QUALIFIED_NAME_HINT}")}
    ]))]
    pub key: String,
    /// Taint value (a label value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63), extend("x-kubernetes-validations" = [
        {"rule": concat!("self.matches('", label_value_pattern!(), "')"), "message": "taint value must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"}
    ]))]
    pub value: Option<String>,
    /// Taint effect.
    pub effect: TaintEffect,
}
