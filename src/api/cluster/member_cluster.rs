//! `MemberCluster` (hub, written by the fleet admin) and `InternalMemberCluster` (hub, the
//! member agent's mailbox in `fleet-member-<name>`).

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::Subject;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::condition::{Condition, conditions_schema};
use crate::api::placement::Taint;
use crate::api::schema::quantity_map;

/// Spec of a `MemberCluster`: a cluster that joins the fleet.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "cluster.kubernetes-fleet.io",
    version = "v1beta1",
    kind = "MemberCluster",
    plural = "memberclusters",
    shortname = "cluster",
    category = "fleet",
    category = "fleet-cluster",
    status = "MemberClusterStatus",
    doc = "MemberCluster is a cluster that joins the fleet; its labels select it into placements and stages.",
    printcolumn(name = "Joined", type_ = "string", json_path = r#".status.conditions[?(@.type=="Joined")].status"#),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Member-Agent-Last-Seen", type_ = "date", json_path = r#".status.agentStatus[?(@.type=="MemberAgent")].lastReceivedHeartbeat"#),
    printcolumn(name = "Node-Count", type_ = "string", json_path = r".status.properties.kubernetes-fleet\.io/node-count.value"),
    printcolumn(name = "Available-CPU", type_ = "string", json_path = ".status.resourceUsage.available.cpu"),
    printcolumn(name = "Available-Memory", type_ = "string", json_path = ".status.resourceUsage.available.memory"),
    printcolumn(name = "Allocatable-CPU", type_ = "string", json_path = ".status.resourceUsage.allocatable.cpu", priority = 1),
    printcolumn(name = "Allocatable-Memory", type_ = "string", json_path = ".status.resourceUsage.allocatable.memory", priority = 1),
    validation = kube::core::Rule::new("size(self.metadata.name) < 64").message("metadata.name max length is 63")
)]
#[serde(rename_all = "camelCase")]
pub struct MemberClusterSpec {
    /// The identity the member agent uses on the hub (User, Group or ServiceAccount).
    pub identity: Subject,
    /// How often the member agent reports, in seconds (1 to 600, default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600), extend("default" = 60))]
    pub heartbeat_period_seconds: Option<i32>,
    /// Taints that keep placements off this cluster unless they tolerate them (at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), extend("x-kubernetes-validations" = [
        {"rule": "self.all(t, self.exists_one(u, u == t))", "message": "taints must be unique"}
    ]))]
    pub taints: Option<Vec<Taint>>,
    /// How a deletion of this cluster is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_options: Option<DeleteOptions>,
}

/// Deletion options of a member cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    /// `Strict` (default) or `Skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Strict"))]
    pub validation_mode: Option<DeleteValidationMode>,
}

/// Whether deleting a member cluster is validated.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeleteValidationMode {
    /// Validate.
    #[default]
    Strict,
    /// Do not validate.
    Skip,
}

/// Observed state of a member cluster: on an InternalMemberCluster as the member agent reports
/// it, on a MemberCluster as the hub copies it from there (plus the hub's own conditions).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberClusterStatus {
    /// Cluster-level conditions: on a MemberCluster `ReadyToJoin`, `Joined` and those copied from
    /// the InternalMemberCluster; on an InternalMemberCluster, the member agent's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Properties the agent reports, by name (e.g. `kubernetes-fleet.io/node-count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, PropertyValue>>,
    /// Resource totals of the cluster's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_usage: Option<ResourceUsage>,
    /// Namespaces on the member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<BTreeMap<String, String>>,
    /// One entry per agent on the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_status: Option<Vec<AgentStatus>>,
}

/// A reported cluster property.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropertyValue {
    /// Value.
    pub value: String,
    /// When it was observed.
    pub observation_time: Time,
}

/// Resource totals of a member cluster's nodes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceUsage {
    /// Total capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantity_map")]
    pub capacity: Option<BTreeMap<String, Quantity>>,
    /// Total allocatable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantity_map")]
    pub allocatable: Option<BTreeMap<String, Quantity>>,
    /// Allocatable minus requests of running pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "quantity_map")]
    pub available: Option<BTreeMap<String, Quantity>>,
    /// When it was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation_time: Option<Time>,
}

/// Kind of member-side agent.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum AgentType {
    /// The member agent (work applier and heartbeat).
    #[default]
    MemberAgent,
    /// Multi-cluster service agent.
    MultiClusterServiceAgent,
    /// Service export/import agent.
    ServiceExportImportAgent,
}

/// State of one member-side agent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatus {
    /// Agent kind.
    #[serde(rename = "type")]
    pub type_: AgentType,
    /// `Joined`, `Healthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Last heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_received_heartbeat: Option<Time>,
}

/// Whether a member should be in the fleet.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ClusterState {
    /// Join (or stay).
    #[default]
    Join,
    /// Leave.
    Leave,
}

/// Spec of an `InternalMemberCluster`: the hub's instructions to one member agent.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "cluster.kubernetes-fleet.io",
    version = "v1beta1",
    kind = "InternalMemberCluster",
    plural = "internalmemberclusters",
    namespaced,
    shortname = "imc",
    category = "fleet",
    category = "fleet-cluster",
    status = "MemberClusterStatus",
    doc = "InternalMemberCluster carries the hub's instructions to one member agent and the agent's reports back.",
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct InternalMemberClusterSpec {
    /// `Join` or `Leave`.
    pub state: ClusterState,
    /// How often the agent reports, in seconds (1 to 600, default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600), extend("default" = 60))]
    pub heartbeat_period_seconds: Option<i32>,
}
