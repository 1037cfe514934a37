//! `Work` (hub, per member namespace) and `AppliedWork` (member): manifests delivered to a member
//! cluster and what the member agent did with them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resource_placement::PatchDetail;
use super::rollout::{ApplyStrategy, ReportBackStrategy};
use crate::api::condition::{Condition, conditions_schema};
use crate::api::schema::{embedded_resource_list, free_form_object};

/// Spec of a `Work`: the manifests one binding delivers to one member cluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "placement.kubernetes-fleet.io",
    version = "v1beta1",
    kind = "Work",
    plural = "works",
    namespaced,
    category = "fleet",
    category = "fleet-placement",
    status = "WorkStatus",
    doc = "Work carries the manifests one binding delivers to one member cluster; it lives in the member's hub namespace."
)]
#[serde(rename_all = "camelCase")]
pub struct WorkSpec {
    /// The manifests.
    pub workload: WorkloadTemplate,
    /// How the member agent applies them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_strategy: Option<ApplyStrategy>,
    /// Whether member status is reported back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_back_strategy: Option<ReportBackStrategy>,
}

/// The manifests of a Work.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadTemplate {
    /// Kubernetes objects to apply on the member, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "embedded_resource_list")]
    pub manifests: Option<Vec<serde_json::Value>>,
}

/// What the member agent reports about a Work.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkStatus {
    /// `Applied`, `Available`, `DiffReported`. Always present (`[]` when empty).
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// One entry per manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_conditions: Option<Vec<ManifestCondition>>,
}

/// Identifies one manifest of a Work and the member object it maps to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkResourceIdentifier {
    /// Position of the manifest in the Work.
    pub ordinal: i32,
    /// API group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// API version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Resource (plural).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// Status of one manifest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestCondition {
    /// The manifest.
    pub identifier: WorkResourceIdentifier,
    /// `Applied`, `Available`, `DiffReported`.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Drifts found on the member object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_details: Option<DriftDetails>,
    /// Differences from the hub manifest (ReportDiff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_details: Option<DiffDetails>,
    /// Status of the member object, reported back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_reported_status: Option<BackReportedStatus>,
}

/// Drifts of one member object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftDetails {
    /// When the object was last checked.
    pub observation_time: Time,
    /// Generation of the checked member object.
    pub observed_in_member_cluster_generation: i64,
    /// When a drift was first seen.
    pub first_drifted_observed_time: Time,
    /// The drifted fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_drifts: Option<Vec<PatchDetail>>,
}

/// Differences of one member object from the hub manifest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffDetails {
    /// When the object was last checked.
    pub observation_time: Time,
    /// Generation of the checked member object, if it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_in_member_cluster_generation: Option<i64>,
    /// When a difference was first seen.
    pub first_diffed_observed_time: Time,
    /// The differing fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_diffs: Option<Vec<PatchDetail>>,
}

/// Status copied back from a member object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackReportedStatus {
    /// The member object's status, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub observed_status: Option<serde_json::Value>,
    /// When it was copied.
    pub observation_time: Time,
}

/// Spec of an `AppliedWork` (member cluster): the anchor that owns everything applied for one Work.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[kube(
    group = "placement.kubernetes-fleet.io",
    version = "v1beta1",
    kind = "AppliedWork",
    plural = "appliedworks",
    category = "fleet",
    category = "fleet-placement",
    status = "AppliedWorkStatus",
    doc = "AppliedWork lives on a member cluster and owns every object applied for one hub Work; deleting it removes them."
)]
#[serde(rename_all = "camelCase")]
pub struct AppliedWorkSpec {
    /// Name of the hub Work.
    pub work_name: String,
    /// Namespace of the hub Work.
    pub work_namespace: String,
}

/// What has been applied for a Work.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliedWorkStatus {
    /// Every applied object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_resources: Option<Vec<AppliedResourceMeta>>,
}

/// An object the agent applied.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliedResourceMeta {
    /// The manifest it came from.
    #[serde(flatten)]
    pub identifier: WorkResourceIdentifier,
    /// The member object's UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}
