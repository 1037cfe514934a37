//! `ClusterStagedUpdateRun` and `StagedUpdateRun`: one rollout of one resource snapshot index of
//! a placement, stage by stage.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resource_placement::NamespacedName;
use super::rollout::ApplyStrategy;
use super::staged_update_strategy::{StageTaskType, UpdateStrategySpec};
use crate::api::condition::{Condition, conditions_schema};

/// What the user wants a run to do.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum UpdateRunState {
    /// Compute the stages, but do not start.
    Initialize,
    /// Execute, or resume. The default when `state` is absent (SD-1).
    #[default]
    Run,
    /// Stop starting new work; resume later with `Run`.
    Stop,
    /// Stagehand extension (SD-32): end the run for good, at once. Clusters updating are left as
    /// they are (nothing is rolled back); the run cannot be resumed.
    Abort,
}

twin_kinds! {
    attrs: {
        #[schemars(extend("x-kubernetes-validations" = [
            {"rule": "!(has(oldSelf.state) && oldSelf.state == 'Initialize' && self.state == 'Stop')", "message": "invalid state transition: cannot transition from Initialize to Stop"},
            {"rule": "!(has(oldSelf.state) && oldSelf.state == 'Run' && self.state == 'Initialize')", "message": "invalid state transition: cannot transition from Run to Initialize"},
            {"rule": "!(has(oldSelf.state) && oldSelf.state == 'Stop' && self.state == 'Initialize')", "message": "invalid state transition: cannot transition from Stop to Initialize"},
            {"rule": "!(has(oldSelf.state) && oldSelf.state == 'Abort' && self.state != 'Abort')", "message": "invalid state transition: an aborted run cannot be resumed; create a new run"},
            {"rule": "!has(oldSelf.retryFailedClusters) || has(self.retryFailedClusters)", "message": "retryFailedClusters cannot be removed"},
            {"rule": "(has(self.resourceSnapshotIndex) ? self.resourceSnapshotIndex : '') == (has(oldSelf.resourceSnapshotIndex) ? oldSelf.resourceSnapshotIndex : '')", "message": "resourceSnapshotIndex is immutable"}
        ]))]
    },
    kube: {
        status = "UpdateRunStatus",
        printcolumn(name = "Placement", type_ = "string", json_path = ".spec.placementName"),
        printcolumn(name = "Resource-Snapshot-Index", type_ = "string", json_path = ".status.resourceSnapshotIndexUsed"),
        printcolumn(name = "Policy-Snapshot-Index", type_ = "string", json_path = ".status.policySnapshotIndexUsed"),
        printcolumn(name = "Initialized", type_ = "string", json_path = r#".status.conditions[?(@.type=="Initialized")].status"#),
        printcolumn(name = "Progressing", type_ = "string", json_path = r#".status.conditions[?(@.type=="Progressing")].status"#),
        printcolumn(name = "Succeeded", type_ = "string", json_path = r#".status.conditions[?(@.type=="Succeeded")].status"#),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
        printcolumn(name = "Strategy", type_ = "string", json_path = ".spec.stagedRolloutStrategyName", priority = 1),
        validation = kube::core::Rule::new("size(self.metadata.name) < 64").message("metadata.name max length is 63"),
        validation = kube::core::Rule::new("!has(self.spec.retryFailedClusters) || (has(oldSelf.spec.retryFailedClusters) && oldSelf.spec.retryFailedClusters == self.spec.retryFailedClusters) || (has(oldSelf.status) && has(oldSelf.status.conditions) && oldSelf.status.conditions.exists(c, c.type == 'Succeeded' && c.status == 'False' && c.reason == 'UpdateRunFailed'))").message("spec.retryFailedClusters can be raised only on a run that failed (Succeeded=False, reason UpdateRunFailed)"),
    },
    fields: {
        /// Placement to roll out (same namespace for a StagedUpdateRun). Immutable.
        #[schemars(length(max = 255), extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "placementName is immutable"}]))]
        pub placement_name: String,
        /// Resource snapshot index to roll out; absent or empty means the latest (SD-11).
        /// Cannot be added, removed or changed after creation (SD-14).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "resourceSnapshotIndex is immutable"}]))]
        pub resource_snapshot_index: Option<String>,
        /// Strategy (same scope and namespace) whose stages the run follows. Immutable.
        #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "stagedRolloutStrategyName is immutable"}]))]
        pub staged_rollout_strategy_name: String,
        /// `Initialize`, `Run` (default, SD-1), `Stop` or `Abort` (SD-32).
        #[serde(default)]
        #[schemars(extend("default" = "Run"))]
        pub state: UpdateRunState,
        /// Stagehand extension (SD-31): raise by one to retry the clusters that failed the run,
        /// with the same resource snapshot; the run goes on from the stage that failed. Allowed
        /// only while the run has failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 1), extend("x-kubernetes-validations" = [{"rule": "self >= oldSelf", "message": "retryFailedClusters can only be raised"}]))]
        pub retry_failed_clusters: Option<i32>,
        /// Stagehand extension (SD-32): member clusters the run leaves out from now on. A cluster
        /// not started yet is skipped; one updating is no longer waited for. Names must be
        /// clusters of the run's stages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = 1000), extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "maxLength": 63}))]
        pub skip_clusters: Option<Vec<String>>,
        /// Stagehand extension (SD-32): stages the run skips: their clusters not started yet are
        /// skipped and their tasks are not waited for. Names must be stages of the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(max = 32), extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "maxLength": 63}))]
        pub skip_stages: Option<Vec<String>>,
    },
    kinds: {
        /// Spec of a `ClusterStagedUpdateRun`: roll one resource snapshot of a ClusterResourcePlacement out, stage by stage.
        ClusterStagedUpdateRunSpec [
            kind = "ClusterStagedUpdateRun",
            plural = "clusterstagedupdateruns",
            shortname = "csur",
            doc = "ClusterStagedUpdateRun rolls one resource snapshot of a ClusterResourcePlacement out to member clusters stage by stage."
        ] {}
        /// Spec of a `StagedUpdateRun`: roll one resource snapshot of a ResourcePlacement out, stage by stage.
        StagedUpdateRunSpec [
            kind = "StagedUpdateRun",
            plural = "stagedupdateruns",
            namespaced,
            shortname = "sur",
            doc = "StagedUpdateRun rolls one resource snapshot of a ResourcePlacement out to member clusters stage by stage."
        ] {}
    },
}

/// Observed state of a run (both kinds); written only by the controller.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRunStatus {
    /// Policy index of the placement's latest scheduling policy snapshot at initialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_snapshot_index_used: Option<String>,
    /// Number of clusters the policy asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_observed_cluster_count: Option<i32>,
    /// Resource snapshot index actually rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_snapshot_index_used: Option<String>,
    /// The placement's apply strategy with defaults, copied at initialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_strategy: Option<ApplyStrategy>,
    /// The strategy's stages, copied at initialization (durations in Go form, SD-10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged_update_strategy_snapshot: Option<UpdateStrategySpec>,
    /// One entry per stage, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages_status: Option<Vec<StageUpdatingStatus>>,
    /// The final stage that removes clusters no longer selected (`kubernetes-fleet.io/deleteStage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_stage_status: Option<StageUpdatingStatus>,
    /// `Initialized`, `Progressing`, `Succeeded`, and `ControlAccepted` when the run uses
    /// `skipClusters`, `skipStages` or `retryFailedClusters` (SD-32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Stagehand extension (SD-34): the run's failed, skipped and excluded clusters in numbers.
    /// Present once one of them is not zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_counts: Option<ClusterCounts>,
    /// Stagehand extension (SD-33): picked clusters that no stage selects, left out of the run
    /// (`unmatchedClusters: Skip`), or newcomers that match no stage (SD-28); at most 100 names,
    /// `clusterCounts.excluded` counts them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmatched_clusters: Option<Vec<String>>,
    /// Stagehand extension (SD-31): the last `spec.retryFailedClusters` the run acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_retry_failed_clusters: Option<i32>,
}

/// Failed, skipped and excluded clusters in numbers (SD-34).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCounts {
    /// Clusters whose update failed (tolerated within a stage's `maxFailures`, or the run's failure).
    #[serde(default)]
    pub failed: i32,
    /// Clusters the run skipped (`skipClusters`, `skipStages`, or departed under `Freeze`).
    #[serde(default)]
    pub skipped: i32,
    /// Clusters picked by the placement that the run leaves out (newcomers under `Freeze`,
    /// unmatched clusters under `unmatchedClusters: Skip`).
    #[serde(default)]
    pub excluded: i32,
}

/// Progress of one stage.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageUpdatingStatus {
    /// Stage name.
    pub stage_name: String,
    /// The stage's clusters in execution order (always present, `[]` when empty).
    #[serde(default)]
    pub clusters: Vec<ClusterUpdatingStatus>,
    /// Status of the before-stage task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1))]
    pub before_stage_task_status: Option<Vec<StageTaskStatus>>,
    /// Status of the after-stage tasks, in strategy order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2))]
    pub after_stage_task_status: Option<Vec<StageTaskStatus>>,
    /// When the stage started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the stage ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    /// `Progressing`, `Succeeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
    /// Stagehand extension (SD-22): the stage's clusters in numbers. Present only on a run with
    /// more clusters than the hub lists inline; `clusters` then holds only the clusters updating
    /// or failed (at most 100), and each binding carries its cluster's detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_summary: Option<StageClusterSummary>,
    /// Stagehand extension (SD-34): the stage's failed, skipped and excluded clusters in numbers.
    /// Present once one of them is not zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_counts: Option<ClusterCounts>,
    /// Stagehand extension (SD-28): clusters that joined the placement's selection during the
    /// run and match this stage, left for the next run; at most 100 names,
    /// `clusterCounts.excluded` counts them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_clusters: Option<Vec<String>>,
}

/// The clusters of one stage in numbers (SD-22).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageClusterSummary {
    /// Clusters in the stage when the run was initialized.
    pub total: i32,
    /// Clusters whose update succeeded (for the deletion stage: whose binding is gone).
    pub succeeded: i32,
    /// Clusters started and not finished.
    pub updating: i32,
    /// Started clusters left out of `clusters` because the list is full.
    pub unlisted: i32,
    /// SHA-256 (first 16 hex digits) of the stage's cluster names in execution order, one per
    /// line; a pass that computes another value finds the fleet changed, as upstream does from the
    /// full list.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub clusters_digest: String,
}

/// Progress of one cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterUpdatingStatus {
    /// Member cluster name.
    pub cluster_name: String,
    /// ResourceOverride snapshots that apply to the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_override_snapshots: Option<Vec<NamespacedName>>,
    /// ClusterResourceOverride snapshots that apply to the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_resource_override_snapshots: Option<Vec<String>>,
    /// `Started`, `Succeeded`, and `Skipped` for a cluster the run skipped (SD-32, SD-28).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}

/// Progress of one stage task.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageTaskStatus {
    /// `TimedWait` or `Approval`.
    #[serde(rename = "type")]
    pub type_: StageTaskType,
    /// For Approval: the approval request to approve (SD-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_request_name: Option<String>,
    /// `ApprovalRequestCreated`, `ApprovalRequestApproved`, `WaitTimeElapsed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}
