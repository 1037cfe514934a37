//! `ClusterStagedUpdateStrategy` and `StagedUpdateStrategy`: stages of member clusters, and the
//! tasks that gate each stage.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

twin_kinds! {
    attrs: {
        #[schemars(extend("x-kubernetes-validations" = [
            {"rule": "!has(self.unmatchedClusters) || self.unmatchedClusters != 'FinalStage' || !self.stages.exists(s, s.name == 'unmatched-clusters')", "message": "unmatchedClusters: FinalStage adds a stage named unmatched-clusters; rename the strategy's stage of that name"}
        ]))]
    },
    kube: {
    },
    fields: {
        /// The stages, executed in order (1 to 31). Stage names are unique (SD-7): the list is
        /// keyed by `name`, so the API server rejects a duplicate as `Duplicate value: ...{"name":"<stage>"}`.
        #[schemars(length(min = 1, max = 31), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
        pub stages: Vec<StageConfig>,
        /// Stagehand extension (SD-28): what a run does when a cluster joins or leaves the
        /// placement's selection while it runs. `Fail` (the default, upstream's behaviour) fails
        /// the run; `Freeze` keeps the clusters the run started with: a newcomer is left for the
        /// next run and listed as excluded, a departed cluster not yet updated is skipped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub membership_changes: Option<MembershipChanges>,
        /// Stagehand extension (SD-33): what a run does with picked clusters that no stage
        /// selects. `Fail` (the default, upstream's behaviour) fails initialization naming them;
        /// `Skip` leaves them out (listed in `status.unmatchedClusters`); `FinalStage` updates them
        /// one at a time in a last stage named `unmatched-clusters`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub unmatched_clusters: Option<UnmatchedClusters>,
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
    /// Stagehand extension (SD-29): how many of the stage's clusters may fail while the run
    /// goes on: a number (0 or more) or a percentage of the stage's clusters (rounded down).
    /// When set, a cluster whose binding reports a failure is failed at once instead of being
    /// waited for; more failures than the budget fail the stage and the run. Absent: no failure
    /// is tolerated and failures are retried (upstream's behaviour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend(
        "pattern" = "^(100|[1-9]?[0-9])%$",
        "x-kubernetes-validations" = [{"rule": "type(self) != int || self >= 0", "message": "maxFailures must be 0 or more, or a percentage such as 20%"}]
    ))]
    pub max_failures: Option<IntOrString>,
    /// Stagehand extension (SD-30): how long each cluster of the stage has, from the start of
    /// its update, to become available, e.g. `30s` or `10m` (units h, m, s; 1s to 24h). A
    /// cluster past its deadline fails, which counts against `maxFailures`. Absent: no deadline
    /// (upstream only reports a run stuck after 5 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^(?:(?:0|[1-9][0-9]*)(\.[0-9]+)?(?:s|m|h))+$"),
        extend("x-kubernetes-validations" = [{"rule": "duration(self) >= duration('1s') && duration(self) <= duration('24h')", "message": "progressDeadline must be between 1s and 24h, such as 30s or 10m"}])
    )]
    pub progress_deadline: Option<String>,
}

/// What a run does when its fleet changes while it runs (SD-28).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum MembershipChanges {
    /// The run fails (upstream's behaviour).
    #[default]
    Fail,
    /// The run keeps the clusters it started with; newcomers are excluded, departed clusters skipped.
    Freeze,
}

/// What a run does with picked clusters that no stage selects (SD-33).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum UnmatchedClusters {
    /// Initialization fails, naming the clusters (upstream's behaviour).
    #[default]
    Fail,
    /// The clusters are left out of the run.
    Skip,
    /// The clusters are updated, one at a time, in a last stage named `unmatched-clusters`.
    FinalStage,
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
