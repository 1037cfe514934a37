//! What `decide` reads (the observed world, as plain values) and what it returns.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::api::condition::Condition;
use crate::api::placement::{
    ApplyStrategy, ClusterResourceBindingSpec, ClusterStagedUpdateRunSpec, PlacementType, RolloutStrategyType,
    UpdateRunStatus, UpdateStrategySpec,
};
use crate::controllers::compat::Profile;

/// Which twin a run is: the cluster-scoped kinds or the namespaced ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// ClusterStagedUpdateRun, ClusterResourcePlacement, ClusterApprovalRequest, ...
    Cluster,
    /// StagedUpdateRun, ResourcePlacement, ApprovalRequest, ...
    Namespaced,
}

impl Scope {
    /// Kind of the run.
    pub fn run_kind(self) -> &'static str {
        match self {
            Scope::Cluster => "ClusterStagedUpdateRun",
            Scope::Namespaced => "StagedUpdateRun",
        }
    }

    /// Kind of its approval requests.
    pub fn approval_kind(self) -> &'static str {
        match self {
            Scope::Cluster => "ClusterApprovalRequest",
            Scope::Namespaced => "ApprovalRequest",
        }
    }
}

/// The run's spec: both kinds share one shape.
pub type UpdateRunSpec = ClusterStagedUpdateRunSpec;
/// A binding's spec: both kinds share one shape.
pub type BindingSpec = ClusterResourceBindingSpec;

/// The run being reconciled.
#[derive(Clone, Debug, PartialEq)]
pub struct RunView {
    /// Cluster or namespaced kinds.
    pub scope: Scope,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (namespaced runs only).
    pub namespace: Option<String>,
    /// `metadata.generation`.
    pub generation: i64,
    /// Deletion has started.
    pub deleting: bool,
    /// Carries the run finalizer.
    pub has_finalizer: bool,
    /// Spec.
    pub spec: UpdateRunSpec,
    /// Status as read.
    pub status: UpdateRunStatus,
}

impl RunView {
    /// `/name` or `namespace/name`, as messages print keys.
    pub fn key_of(&self, name: &str) -> String {
        format!("{}/{}", self.namespace.as_deref().unwrap_or(""), name)
    }
}

/// The placement a run drives.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacementView {
    /// Rollout strategy type (absent means RollingUpdate).
    pub strategy_type: RolloutStrategyType,
    /// Apply strategy with defaults filled in.
    pub apply_strategy: ApplyStrategy,
}

/// A scheduling policy snapshot labelled latest for the placement.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicySnapshotView {
    /// Name.
    pub name: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// Label `kubernetes-fleet.io/policy-index`.
    pub policy_index: Option<String>,
    /// Placement type of its policy (PickAll when absent).
    pub placement_type: PlacementType,
    /// Number of `clusterNames` (PickFixed).
    pub fixed_cluster_count: usize,
    /// Annotation `kubernetes-fleet.io/number-of-clusters` (PickN).
    pub number_of_clusters: Option<String>,
    /// Status conditions.
    pub conditions: Option<Vec<Condition>>,
    /// Clusters the scheduler's decisions select (`status.targetClusters`, at most 1000).
    pub selected_clusters: Vec<String>,
    /// How many clusters the policy selects when its decisions cannot list them all (SD-27).
    pub selected_cluster_count: Option<usize>,
}

/// A binding of the placement.
#[derive(Clone, Debug, PartialEq)]
pub struct BindingView {
    /// Name.
    pub name: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// Has a deletion timestamp.
    pub deleting: bool,
    /// `metadata.resourceVersion` as observed: the precondition of the run's write of the
    /// binding, so that the write needs no read first.
    pub resource_version: Option<String>,
    /// Spec.
    pub spec: BindingSpec,
    /// Status conditions.
    pub conditions: Option<Vec<Condition>>,
    /// How many resources `status.failedPlacements` names (the member could not apply them, or
    /// they are not available yet).
    pub failed_placements: usize,
}

/// A member cluster and its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberView {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A resource snapshot of the placement.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSnapshotView {
    /// Name.
    pub name: String,
    /// Label `kubernetes-fleet.io/resource-index`.
    pub index: Option<String>,
    /// Has a non-empty `kubernetes-fleet.io/resource-hash` annotation (master snapshot).
    pub is_master: bool,
    /// Its `next-resource-snapshot-candidate-detection-time`: a change the placement controller
    /// saw but has not snapshotted yet.
    pub pending_change: Option<String>,
}

/// An approval request.
#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalView {
    /// `metadata.generation`.
    pub generation: i64,
    /// `spec.parentStageRollout`.
    pub parent_stage_rollout: String,
    /// `spec.targetStage`.
    pub target_stage: String,
    /// Status conditions.
    pub conditions: Option<Vec<Condition>>,
}

/// Everything one pass decides from. `now` is read once, by `observe`.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The time of this pass.
    pub now: Timestamp,
    /// The run.
    pub run: RunView,
    /// The placement, if it exists.
    pub placement: Option<PlacementView>,
    /// Policy snapshots labelled latest for the placement.
    pub policy_snapshots: Vec<PolicySnapshotView>,
    /// Bindings of the placement, sorted by name.
    pub bindings: Vec<BindingView>,
    /// All member clusters.
    pub members: Vec<MemberView>,
    /// The strategy's spec, when the run still initializes: `Some(None)` when it does not exist.
    pub strategy: Option<Option<UpdateStrategySpec>>,
    /// Resource snapshots with the run's index, or the latest ones when the run has none.
    pub resource_snapshots: Vec<ResourceSnapshotView>,
    /// Approval requests by name (those the run could own).
    pub approvals: BTreeMap<String, ApprovalView>,
    /// Runs over more clusters than this keep a compact status (SD-22).
    pub inline_limit: usize,
    /// The hub's compatibility profile (SD-25).
    pub profile: Profile,
}

/// Before- or after-stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskPosition {
    /// `beforeStage`.
    Before,
    /// `afterStage`.
    After,
}

impl TaskPosition {
    /// Value of the `kubernetes-fleet.io/taskType` label.
    pub fn label(self) -> &'static str {
        match self {
            TaskPosition::Before => "beforeStage",
            TaskPosition::After => "afterStage",
        }
    }
}

/// What a binding must be changed to when a run starts its cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct BindingTarget {
    /// Master resource snapshot name.
    pub resource_snapshot_name: String,
    /// Apply strategy recorded by the run.
    pub apply_strategy: ApplyStrategy,
}

/// One side effect `act` carries out, in order. Each is idempotent.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Add the run finalizer.
    AddFinalizer,
    /// Create an approval request (an existing one is fine).
    CreateApproval {
        /// Object name.
        name: String,
        /// Stage it gates.
        stage: String,
        /// Before or after the stage.
        position: TaskPosition,
    },
    /// Write `ApprovalAccepted=True` on an approved request.
    AcceptApproval {
        /// Object name.
        name: String,
    },
    /// Point a binding at the run's version (`Bound`) and reset its `RolloutStarted` condition.
    StartBinding {
        /// Binding name.
        binding: String,
        /// New spec values; `None` when the spec is already right and only the state or
        /// condition needs writing.
        target: Option<BindingTarget>,
        /// `RolloutStarted` message.
        message: String,
    },
    /// Delete a binding of a cluster that left the placement.
    DeleteBinding {
        /// Binding name.
        binding: String,
    },
    /// Delete every approval request labelled for this run.
    DeleteApprovals,
    /// Ask the placement controller to snapshot its pending change now (SD-11).
    RequestSnapshot,
    /// Remove the run finalizer.
    RemoveFinalizer,
}

/// When to look again.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Only when something the run watches changes.
    AwaitChange,
    /// After this long (0 = at once), or earlier on a watched change.
    After(Duration),
    /// Waiting for members or a transient error: look again with back-off; the status is still
    /// written. `at_latest` bounds the back-off when a timer (a progress deadline) falls due
    /// sooner, so waiting never postpones a deadline.
    Retry { why: String, at_latest: Option<Duration> },
}

impl Next {
    /// Wait with back-off and no timer of its own.
    pub fn retry(why: String) -> Self {
        Next::Retry { why, at_latest: None }
    }
}

/// The result of one pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write (written only when it differs from the one read).
    pub status: UpdateRunStatus,
    /// Side effects, in order.
    pub actions: Vec<Action>,
    /// When to look again.
    pub next: Next,
}
