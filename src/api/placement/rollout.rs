//! How a placement's resources roll out, and how member agents apply them.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Rollout strategy type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum RolloutStrategyType {
    /// The hub rolls out by itself, a few clusters at a time.
    #[default]
    RollingUpdate,
    /// Staged update runs (or another external tool) roll out.
    External,
}

/// How changes to the selected resources reach the member clusters.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(has(oldSelf.type) && oldSelf.type == 'External' && self.type != 'External')",
     "message": "cannot change rollout strategy type from 'External' to other types"}
]))]
pub struct RolloutStrategy {
    /// `RollingUpdate` (default) or `External`.
    #[serde(default, rename = "type")]
    #[schemars(extend("default" = "RollingUpdate"))]
    pub type_: RolloutStrategyType,
    /// Parameters of a rolling update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateConfig>,
    /// How the member agent applies the resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_strategy: Option<ApplyStrategy>,
    /// What happens to placed resources when the placement is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_strategy: Option<DeleteStrategy>,
    /// Whether and where member status is reported back to the hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_back_strategy: Option<ReportBackStrategy>,
}

/// Parameters of a rolling update.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateConfig {
    /// Clusters that may be unavailable during the rollout, a number or a percentage (default 25%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "25%", "pattern" = "^((100|[0-9]{1,2})%|[0-9]+)$", "x-kubernetes-validations" = [
        {"rule": "type(self) == string || self >= 0", "message": "maxUnavailable must be greater than or equal to 0"}
    ]))]
    pub max_unavailable: Option<IntOrString>,
    /// Clusters that may be placed on above the target, a number or a percentage (default 25%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "25%", "pattern" = "^((100|[0-9]{1,2})%|[0-9]+)$", "x-kubernetes-validations" = [
        {"rule": "type(self) == string || self >= 0", "message": "maxSurge must be greater than or equal to 0"}
    ]))]
    pub max_surge: Option<IntOrString>,
    /// Seconds a cluster whose availability cannot be tracked counts as unavailable (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 60))]
    pub unavailable_period_seconds: Option<i32>,
}

/// How the member agent applies manifests.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyStrategy {
    /// `ClientSideApply` (default), `ServerSideApply` or `ReportDiff`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ClientSideApply"))]
    pub type_: Option<ApplyStrategyType>,
    /// `PartialComparison` (default) or `FullComparison`, for drift and diff detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "PartialComparison"))]
    pub comparison_option: Option<ComparisonOption>,
    /// `Always` (default) or `IfNotDrifted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Always"))]
    pub when_to_apply: Option<WhenToApply>,
    /// `Always` (default), `IfNoDiff` or `Never`: whether existing objects on a member are taken over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Always"))]
    pub when_to_take_over: Option<WhenToTakeOver>,
    /// Whether placed objects may also be owned by something else on the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_co_ownership: Option<bool>,
    /// Server-side apply options (type ServerSideApply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply_config: Option<ServerSideApplyConfig>,
}

impl ApplyStrategy {
    /// The strategy with upstream's defaults filled in, as controllers read it.
    pub fn defaulted(&self) -> ApplyStrategy {
        let type_ = self.type_.unwrap_or_default();
        ApplyStrategy {
            type_: Some(type_),
            comparison_option: Some(self.comparison_option.unwrap_or_default()),
            when_to_apply: Some(self.when_to_apply.unwrap_or_default()),
            when_to_take_over: Some(self.when_to_take_over.unwrap_or_default()),
            allow_co_ownership: self.allow_co_ownership,
            server_side_apply_config: match (type_, &self.server_side_apply_config) {
                (ApplyStrategyType::ServerSideApply, None) => Some(ServerSideApplyConfig { force: Some(false) }),
                (_, other) => other.clone(),
            },
        }
    }
}

/// How manifests are applied.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ApplyStrategyType {
    /// Three-way merge with a last-applied annotation.
    #[default]
    ClientSideApply,
    /// Kubernetes server-side apply.
    ServerSideApply,
    /// Never apply; only report differences.
    ReportDiff,
}

/// What is compared when looking for drifts and diffs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ComparisonOption {
    /// Only fields the hub manifest sets.
    #[default]
    PartialComparison,
    /// Every field.
    FullComparison,
}

/// When the agent applies.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum WhenToApply {
    /// Always, overwriting drifts.
    #[default]
    Always,
    /// Only while the member object has not drifted.
    IfNotDrifted,
}

/// When the agent takes over an existing object it did not create.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum WhenToTakeOver {
    /// Always.
    #[default]
    Always,
    /// Only when it already matches the hub manifest.
    IfNoDiff,
    /// Never.
    Never,
}

/// Server-side apply options.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerSideApplyConfig {
    /// Force conflicting field ownership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

/// What happens to placed resources when the placement goes away.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteStrategy {
    /// `Delete` (default) or `Abandon`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Delete"))]
    pub propagation_policy: Option<DeletePropagationPolicy>,
}

/// Deletion propagation of placed resources.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletePropagationPolicy {
    /// Delete them from the members.
    #[default]
    Delete,
    /// Leave them on the members.
    Abandon,
}

/// Whether member status is reported back.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!(self.type == 'Mirror' && !has(self.destination))", "message": "when reportBackStrategy.type is 'Mirror', a destination must be specified"}
]))]
pub struct ReportBackStrategy {
    /// `Disabled` (default) or `Mirror`.
    #[serde(default, rename = "type")]
    #[schemars(extend("default" = "Disabled"))]
    pub type_: ReportBackStrategyType,
    /// Where mirrored status goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<ReportBackDestination>,
}

/// Report-back mode.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ReportBackStrategyType {
    /// No report back.
    #[default]
    Disabled,
    /// Mirror member status to the hub.
    Mirror,
}

/// Report-back destination.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ReportBackDestination {
    /// The hub's original resource.
    #[default]
    OriginalResource,
    /// The Work object.
    WorkAPI,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_apply_strategy_fields_get_upstream_defaults() {
        let defaulted = ApplyStrategy::default().defaulted();
        assert_eq!(defaulted.type_, Some(ApplyStrategyType::ClientSideApply));
        assert_eq!(defaulted.comparison_option, Some(ComparisonOption::PartialComparison));
        assert_eq!(defaulted.when_to_apply, Some(WhenToApply::Always));
        assert_eq!(defaulted.when_to_take_over, Some(WhenToTakeOver::Always));
        assert_eq!(defaulted.server_side_apply_config, None);
    }

    #[test]
    fn server_side_apply_defaults_force_to_false_and_keeps_given_values() {
        let given = ApplyStrategy {
            type_: Some(ApplyStrategyType::ServerSideApply),
            when_to_take_over: Some(WhenToTakeOver::Never),
            ..Default::default()
        };
        let defaulted = given.defaulted();
        assert_eq!(
            defaulted.server_side_apply_config,
            Some(ServerSideApplyConfig { force: Some(false) })
        );
        assert_eq!(defaulted.when_to_take_over, Some(WhenToTakeOver::Never));
        assert_eq!(defaulted.defaulted(), defaulted, "defaulting is idempotent");
    }
}
