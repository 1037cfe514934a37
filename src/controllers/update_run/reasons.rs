//! Condition types, reasons and fixed messages of runs, stages, clusters, tasks, approval
//! requests and bindings, byte for byte as upstream KubeFleet writes them, except where SD-6 puts
//! the seed documents' strings first.

/// Condition types.
pub mod types {
    /// Run: initialization finished (or failed, or is pending).
    pub const INITIALIZED: &str = "Initialized";
    /// Run and stage: making progress.
    pub const PROGRESSING: &str = "Progressing";
    /// Run, stage and cluster: finished.
    pub const SUCCEEDED: &str = "Succeeded";
    /// Cluster: its update was started.
    pub const STARTED: &str = "Started";
    /// Task: the approval request exists.
    pub const APPROVAL_REQUEST_CREATED: &str = "ApprovalRequestCreated";
    /// Task: the approval request was approved and consumed.
    pub const APPROVAL_REQUEST_APPROVED: &str = "ApprovalRequestApproved";
    /// Task: the TimedWait is over.
    pub const WAIT_TIME_ELAPSED: &str = "WaitTimeElapsed";
    /// Approval request: written by a person.
    pub const APPROVED: &str = "Approved";
    /// Approval request: the controller consumed the approval.
    pub const APPROVAL_ACCEPTED: &str = "ApprovalAccepted";
    /// Binding: a run pointed it at a new version.
    pub const ROLLOUT_STARTED: &str = "RolloutStarted";
    /// Binding conditions written by the work pipeline.
    pub const OVERRIDDEN: &str = "Overridden";
    /// Binding: the Work objects are in sync.
    pub const WORK_SYNCHRONIZED: &str = "WorkSynchronized";
    /// Binding: the resources were applied on the member.
    pub const APPLIED: &str = "Applied";
    /// Binding: the resources are available on the member.
    pub const AVAILABLE: &str = "Available";
    /// Binding: a ReportDiff apply strategy reported its diff.
    pub const DIFF_REPORTED: &str = "DiffReported";
    /// Cluster (Stagehand extension, SD-28/SD-32): the run left the cluster out.
    pub const SKIPPED: &str = "Skipped";
    /// Run (Stagehand extension, SD-31/SD-32): whether the run control fields are acted on.
    pub const CONTROL_ACCEPTED: &str = "ControlAccepted";
}

/// Run reasons.
pub mod run {
    /// Initialized=True.
    pub const INITIALIZED: &str = "UpdateRunInitializedSuccessfully";
    /// Initialized=False, terminal.
    pub const INITIALIZE_FAILED: &str = "UpdateRunInitializedFailed";
    /// Initialized=False, retried (SD-12).
    pub const INITIALIZATION_PENDING: &str = "UpdateRunInitializationPending";
    /// Progressing=True while executing (SD-6: the document's reason).
    pub const STARTED: &str = "UpdateRunStarted";
    /// Progressing=True while executing, upstream's reason (SD-25 `upstream` profile).
    pub const PROGRESSING: &str = "UpdateRunProgressing";
    /// Progressing=False waiting for a task.
    pub const WAITING: &str = "UpdateRunWaiting";
    /// Progressing=False: a cluster takes too long.
    pub const STUCK: &str = "UpdateRunStuck";
    /// Progressing=Unknown while stopping.
    pub const STOPPING: &str = "UpdateRunStopping";
    /// Progressing=False once stopped.
    pub const STOPPED: &str = "UpdateRunStopped";
    /// Progressing=False and Succeeded=True.
    pub const SUCCEEDED: &str = "UpdateRunSucceeded";
    /// Progressing=False and Succeeded=False.
    pub const FAILED: &str = "UpdateRunFailed";
    /// Progressing=False and Succeeded=False: `state: Abort` (SD-32).
    pub const ABORTED: &str = "UpdateRunAborted";
    /// ControlAccepted=True: the skip lists and retry request are acted on (SD-31, SD-32).
    pub const CONTROL_ACCEPTED: &str = "UpdateRunControlAccepted";
    /// ControlAccepted=False: a skip list names something not in the run, or a retry cannot
    /// be carried out; nothing of the request is applied (SD-31, SD-32).
    pub const CONTROL_REJECTED: &str = "UpdateRunControlRejected";
}

/// Stage reasons.
pub mod stage {
    /// A cluster of the stage was started.
    pub const STARTED: &str = "StageUpdatingStarted";
    /// Waiting for before- or after-stage tasks.
    pub const WAITING: &str = "StageUpdatingWaiting";
    /// Stop requested with clusters in flight.
    pub const STOPPING: &str = "StageUpdatingStopping";
    /// Stop completed.
    pub const STOPPED: &str = "StageUpdatingStopped";
    /// The stage is done.
    pub const SUCCEEDED: &str = "StageUpdatingSucceeded";
    /// The run aborted while working on the stage.
    pub const FAILED: &str = "StageUpdatingFailed";
    /// The stage has no clusters.
    pub const SKIPPED: &str = "StageUpdatingSkippedNoClusters";
    /// The stage is named in `spec.skipStages` (SD-32).
    pub const SKIPPED_BY_REQUEST: &str = "StageUpdatingSkippedByRequest";
    /// More clusters failed than the stage's `maxFailures` allows (SD-29).
    pub const FAILURE_BUDGET_EXCEEDED: &str = "StageUpdatingFailureBudgetExceeded";
    /// The run was aborted while working on the stage (SD-32).
    pub const ABORTED: &str = "StageUpdatingAborted";
}

/// Cluster reasons.
pub mod cluster {
    /// Started=True.
    pub const STARTED: &str = "ClusterUpdatingStarted";
    /// Succeeded=True.
    pub const SUCCEEDED: &str = "ClusterUpdatingSucceeded";
    /// Succeeded=False (preempted, or a failure counted against `maxFailures`, SD-29).
    pub const FAILED: &str = "ClusterUpdatingFailed";
    /// Succeeded=False: not available within the stage's `progressDeadline` (SD-30).
    pub const DEADLINE_EXCEEDED: &str = "ClusterUpdatingDeadlineExceeded";
    /// Skipped=True: named in `spec.skipClusters` or its stage in `spec.skipStages` (SD-32).
    pub const SKIPPED_BY_REQUEST: &str = "ClusterUpdatingSkippedByRequest";
    /// Started=False: a retry cleared the cluster's failure; it starts again (SD-31).
    pub const RETRYING: &str = "ClusterUpdatingRetrying";
    /// Skipped=True: left the placement's selection during a `Freeze` run (SD-28).
    pub const SKIPPED_DEPARTED: &str = "ClusterUpdatingSkippedDeparted";
}

/// Stage task reasons (SD-6: the documents' position-specific approval reasons).
pub mod task {
    /// Before-stage approval request created.
    pub const BEFORE_APPROVAL_CREATED: &str = "BeforeStageTaskApprovalRequestCreated";
    /// Before-stage approval consumed.
    pub const BEFORE_APPROVAL_APPROVED: &str = "BeforeStageTaskApprovalRequestApproved";
    /// After-stage approval request created.
    pub const AFTER_APPROVAL_CREATED: &str = "AfterStageTaskApprovalRequestCreated";
    /// After-stage approval consumed.
    pub const AFTER_APPROVAL_APPROVED: &str = "AfterStageTaskApprovalRequestApproved";
    /// Approval request created, upstream's reason for both positions (SD-25 `upstream`).
    pub const APPROVAL_CREATED: &str = "StageTaskApprovalRequestCreated";
    /// Approval consumed, upstream's reason for both positions (SD-25 `upstream`).
    pub const APPROVAL_APPROVED: &str = "StageTaskApprovalRequestApproved";
    /// TimedWait over.
    pub const WAIT_TIME_ELAPSED: &str = "AfterStageTaskWaitTimeElapsed";
    /// TimedWait still running (SD-16).
    pub const WAIT_TIME_PENDING: &str = "AfterStageTaskWaitTimePending";
}

/// Approval request reason written by the controller.
pub const APPROVAL_ACCEPTED: &str = "ApprovalRequestApprovalAccepted";
/// Binding reason written by the controller.
pub const ROLLOUT_STARTED: &str = "RolloutStarted";

/// Binding reasons that mean "still working", not "failed" (§3.9.3).
pub const IN_PROGRESS_BINDING_REASONS: [&str; 4] = [
    "OverriddenPending",
    "WorkNotSynchronizedYet",
    "ApplyPending",
    "ResourceNotAvailableYet",
];

/// Fixed messages.
pub mod msg {
    /// Progressing=True while executing.
    pub const RUN_PROGRESSING: &str = "The update run is making progress";
    /// Succeeded=False after `state: Abort` (SD-32).
    pub const RUN_ABORTED_BY_REQUEST: &str = "The update run was aborted by spec.state: Abort; clusters are left as they were, and the run cannot be resumed";
    /// Stage Progressing=False after `state: Abort` (SD-32).
    pub const STAGE_ABORTED_BY_REQUEST: &str = "The update run was aborted while working on this stage";
    /// Stage skipped by `spec.skipStages` (SD-32).
    pub const STAGE_SKIPPED_BY_REQUEST: &str = "Stage skipped: it is named in spec.skipStages";
    /// Cluster skipped by `spec.skipClusters` (SD-32).
    pub const CLUSTER_SKIPPED_BY_NAME: &str = "Cluster skipped: it is named in spec.skipClusters";
    /// Cluster skipped by `spec.skipStages` (SD-32).
    pub const CLUSTER_SKIPPED_BY_STAGE: &str = "Cluster skipped: its stage is named in spec.skipStages";
    /// Cluster skipped because it left the selection under `Freeze` (SD-28).
    pub const CLUSTER_DEPARTED: &str =
        "Cluster skipped: it left the placement's selection during the run (membershipChanges: Freeze)";
    /// Started=False after a retry cleared the failure (SD-31).
    pub const CLUSTER_RETRY_PENDING: &str = "Cluster failed; spec.retryFailedClusters asks to start it again";
    /// Started=True for a retried cluster (SD-31).
    pub const CLUSTER_RETRIED: &str = "Cluster update started again by spec.retryFailedClusters";
    /// ControlAccepted=True (SD-31, SD-32).
    pub const CONTROL_ACCEPTED: &str = "The run's skip lists and retry request are applied";
    /// Run stopping.
    pub const RUN_STOPPING: &str = "The update run is the process of stopping, waiting for all the updating/deleting clusters to finish updating before completing the stop process";
    /// Run stopped.
    pub const RUN_STOPPED: &str = "The update run has been stopped";
    /// Run Progressing=False on success.
    pub const RUN_COMPLETED: &str = "All stages are completed";
    /// Run Succeeded=True.
    pub const RUN_SUCCEEDED: &str = "All stages are completed successfully";
    /// Run Progressing=False on failure.
    pub const RUN_ABORTED: &str = "The stages are aborted due to a non-recoverable error";
    /// Stage started.
    pub const STAGE_STARTED: &str = "Clusters in the stage started updating";
    /// Stage waiting for its before-stage approval.
    pub const STAGE_WAITING_BEFORE: &str = "Not all before-stage tasks are completed, waiting for approval";
    /// Stage waiting for its after-stage tasks.
    pub const STAGE_WAITING_AFTER: &str =
        "All clusters in the stage are updated, waiting for after-stage tasks to complete";
    /// Stage stopping.
    pub const STAGE_STOPPING: &str =
        "Waiting for all the updating clusters to finish updating before completing the stop process";
    /// Stage stopped.
    pub const STAGE_STOPPED: &str =
        "All the updating clusters have finished updating, the stage is now stopped, waiting to be resumed";
    /// Stage Progressing=False when done.
    pub const STAGE_DONE: &str = "All clusters in the stage are updated and after-stage tasks are completed";
    /// Stage Succeeded=True.
    pub const STAGE_SUCCEEDED: &str = "Stage update completed successfully";
    /// Stage aborted.
    pub const STAGE_ABORTED: &str = "Stage update aborted due to a non-recoverable error";
    /// Stage skipped.
    pub const STAGE_SKIPPED: &str = "Stage skipped because it has no clusters";
    /// Cluster started.
    pub const CLUSTER_STARTED: &str = "Cluster update started";
    /// Cluster succeeded.
    pub const CLUSTER_SUCCEEDED: &str = "Cluster update completed successfully";
    /// TimedWait over.
    pub const WAIT_TIME_ELAPSED: &str = "Wait time elapsed";
    /// Approval consumed (task).
    pub const APPROVAL_APPROVED: &str = "ApprovalRequest object is approved";
    /// Approval request accepted (written on the request).
    pub const APPROVAL_ACCEPTED: &str = "The approval request has been approved and cannot be reverted";
}
