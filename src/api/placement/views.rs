//! Read access shared by the twin kinds (cluster-scoped and namespaced), by reference: code that
//! serves both scopes reads a spec or status field without copying the object through JSON,
//! which at fleet scale (a status with one entry per cluster) is what costs the CPU.

use super::resource_placement::{
    ClusterResourcePlacement, ClusterResourcePlacementSpec, PlacementStatus, ResourcePlacement,
};
use super::staged_update_run::{ClusterStagedUpdateRun, ClusterStagedUpdateRunSpec, StagedUpdateRun, UpdateRunStatus};

/// A `ClusterResourcePlacement` or a `ResourcePlacement`.
pub trait PlacementObject {
    /// The spec in the cluster-scoped shape (a superset of the namespaced one's fields).
    fn common_spec(&self) -> ClusterResourcePlacementSpec;
    /// The status, if any.
    fn placement_status(&self) -> Option<&PlacementStatus>;
}

impl PlacementObject for ClusterResourcePlacement {
    fn common_spec(&self) -> ClusterResourcePlacementSpec {
        self.spec.clone()
    }

    fn placement_status(&self) -> Option<&PlacementStatus> {
        self.status.as_ref()
    }
}

impl PlacementObject for ResourcePlacement {
    fn common_spec(&self) -> ClusterResourcePlacementSpec {
        ClusterResourcePlacementSpec {
            resource_selectors: self.spec.resource_selectors.clone(),
            policy: self.spec.policy.clone(),
            strategy: self.spec.strategy.clone(),
            revision_history_limit: self.spec.revision_history_limit,
            status_reporting_scope: None,
        }
    }

    fn placement_status(&self) -> Option<&PlacementStatus> {
        self.status.as_ref()
    }
}

/// A `ClusterStagedUpdateRun` or a `StagedUpdateRun`.
pub trait UpdateRunObject {
    /// The placement the run rolls out.
    fn placement_name(&self) -> &str;
    /// The spec in the cluster-scoped shape (both kinds have the same fields).
    fn common_spec(&self) -> ClusterStagedUpdateRunSpec;
    /// The status, if any.
    fn run_status(&self) -> Option<&UpdateRunStatus>;
}

impl UpdateRunObject for ClusterStagedUpdateRun {
    fn placement_name(&self) -> &str {
        &self.spec.placement_name
    }

    fn common_spec(&self) -> ClusterStagedUpdateRunSpec {
        self.spec.clone()
    }

    fn run_status(&self) -> Option<&UpdateRunStatus> {
        self.status.as_ref()
    }
}

impl UpdateRunObject for StagedUpdateRun {
    fn placement_name(&self) -> &str {
        &self.spec.placement_name
    }

    fn common_spec(&self) -> ClusterStagedUpdateRunSpec {
        ClusterStagedUpdateRunSpec {
            placement_name: self.spec.placement_name.clone(),
            resource_snapshot_index: self.spec.resource_snapshot_index.clone(),
            staged_rollout_strategy_name: self.spec.staged_rollout_strategy_name.clone(),
            state: self.spec.state,
            retry_failed_clusters: self.spec.retry_failed_clusters,
            skip_clusters: self.spec.skip_clusters.clone(),
            skip_stages: self.spec.skip_stages.clone(),
        }
    }

    fn run_status(&self) -> Option<&UpdateRunStatus> {
        self.status.as_ref()
    }
}
