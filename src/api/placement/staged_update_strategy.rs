//! `ClusterStagedUpdateStrategy` and `StagedUpdateStrategy`: stages of member clusters, and the
//! tasks that gate each stage.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

twin_kinds! {
    attrs: {},
    kube: {
    },
    fields: {
        /// The stages, executed in order (1 to 31). Stage names are unique (SD-7): the list is
        /// keyed by `name`, so the API server rejects a duplicate as `Duplicate value: ...{"name":"<stage>"}`.
        #[schemars(length(min = 1, max = 31), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
        pub stages: Vec<StageConfig>,
    },
    kinds: {
        /// Spec of a `ClusterStagedUpdateStrategy`: the stages a ClusterStagedUpdateRun rolls out through.
        ClusterStagedUpdateStrategySpec [
            kind = "ClusterStagedUpdateStrategy",
            plural = "clusterstagedupdatestrategies",
            shortname = "csus",
            doc = "ClusterStagedUpdateStrategy is a reusable list of stages of member clusters, with the tasks that gate each stage."
        ] {}
        /// Spec of a `StagedUpdateStrategy`: the stages a StagedUpdateRun of the same namespace rolls out through.
        StagedUpdateStrategySpec [
            kind = "StagedUpdateStrategy",
            plural = "stagedupdatestrategies",
            namespaced,
            shortname = "sus",
            doc = "StagedUpdateStrategy is a reusable list of stages of member clusters, with the tasks that gate each stage."
        ] {}
    },
}

/// A strategy's stages as a run copied them at initialization (`status.stagedUpdateStrategySnapshot`):
/// the same schema as a strategy's spec, validated by the same rules.
pub type UpdateStrategySpec = ClusterStagedUpdateStrategySpec;

/// One stage of a strategy.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageConfig {
    /// Stage name: a DNS label (lower-case letters, digits and '-', at most 63 characters), unique within the strategy.
    #[schemars(length(max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// Member clusters of this stage. Absent selects no cluster; `{}` selects every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub label_selector: Option<LabelSelector>,
    /// Cluster label whose integer value orders the stage's clusters (ascending, then by name;
    /// clusters without the label go last, SD-13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorting_label_key: Option<String>,
    /// Clusters updated at the same time: a number (at least 1) or a percentage of the stage's
    /// clusters (1% to 100%, rounded down, at least 1). Defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend(
        "default" = 1,
        "pattern" = "^(100|[1-9][0-9]?)%$",
        "x-kubernetes-validations" = [{"rule": "self == null || type(self) != int || self >= 1", "message": "maxConcurrency must be at least 1"}]
    ))]
    pub max_concurrency: Option<IntOrString>,
    /// Tasks after the stage's clusters are updated (at most 2, run in parallel): `TimedWait` (with `waitTime`) and/or `Approval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2), extend("x-kubernetes-validations" = [
        {"rule": "!self.exists(e, e.type == 'Approval' && has(e.waitTime))", "message": "AfterStageTaskType is Approval, waitTime is not allowed"},
        {"rule": "!self.exists(e, e.type == 'TimedWait' && !has(e.waitTime))", "message": "AfterStageTaskType is TimedWait, waitTime is required"}
    ]))]
    pub after_stage_tasks: Option<Vec<StageTask>>,
    /// Tasks before the stage starts (at most 1): only `Approval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1), extend("x-kubernetes-validations" = [
        {"rule": "!self.exists(e, e.type == 'Approval' && has(e.waitTime))", "message": "AfterStageTaskType is Approval, waitTime is not allowed"},
        {"rule": "!self.exists(e, e.type == 'TimedWait')", "message": "BeforeStageTaskType cannot be TimedWait"}
    ]))]
    pub before_stage_tasks: Option<Vec<StageTask>>,
}

/// Kind of a stage task.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default, JsonSchema)]
pub enum StageTaskType {
    /// Wait for `waitTime`.
    #[default]
    TimedWait,
    /// Wait for a person to approve an approval request.
    Approval,
}

/// A task that gates a stage.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageTask {
    /// `TimedWait` or `Approval`.
    #[serde(rename = "type")]
    pub type_: StageTaskType,
    /// How long a TimedWait waits, e.g. `30s`, `1m`, `1h30m` (units h, m, s; at least 1s, SD-10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^(?:(?:0|[1-9][0-9]*)(\.[0-9]+)?(?:s|m|h))+$"),
        extend("x-kubernetes-validations" = [{"rule": "duration(self) >= duration('1s')", "message": "waitTime must be at least 1s; sub-second waits are not supported"}])
    )]
    pub wait_time: Option<String>,
}
