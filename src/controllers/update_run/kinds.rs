//! The kinds a run touches, per scope, as dynamic API handles, and parsing of those objects into
//! the plain views `decide` reads. Both scopes share field shapes, so one parser serves both.

use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::ObjectMeta;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use super::decide::model::Scope;
use crate::api::placement::{
    ApprovalRequest, ClusterApprovalRequest, ClusterResourceBinding, ClusterResourcePlacement, ClusterResourceSnapshot,
    ClusterSchedulingPolicySnapshot, ClusterStagedUpdateRun, ClusterStagedUpdateStrategy, ResourceBinding,
    ResourcePlacement, ResourceSnapshot, SchedulingPolicySnapshot, StagedUpdateRun, StagedUpdateStrategy,
};

/// API resources of one scope's kinds.
#[derive(Clone, Debug)]
pub struct KindSet {
    /// Cluster or namespaced.
    pub scope: Scope,
    /// The run kind.
    pub run: ApiResource,
    /// Placement kind.
    pub placement: ApiResource,
    /// Binding kind.
    pub binding: ApiResource,
    /// Scheduling policy snapshot kind.
    pub policy_snapshot: ApiResource,
    /// Resource snapshot kind.
    pub resource_snapshot: ApiResource,
    /// Strategy kind.
    pub strategy: ApiResource,
    /// Approval request kind.
    pub approval: ApiResource,
}

fn erase<K: Resource<DynamicType = ()>>() -> ApiResource {
    ApiResource::erase::<K>(&())
}

impl KindSet {
    /// The kinds of a scope.
    pub fn of(scope: Scope) -> Self {
        match scope {
            Scope::Cluster => KindSet {
                scope,
                run: erase::<ClusterStagedUpdateRun>(),
                placement: erase::<ClusterResourcePlacement>(),
                binding: erase::<ClusterResourceBinding>(),
                policy_snapshot: erase::<ClusterSchedulingPolicySnapshot>(),
                resource_snapshot: erase::<ClusterResourceSnapshot>(),
                strategy: erase::<ClusterStagedUpdateStrategy>(),
                approval: erase::<ClusterApprovalRequest>(),
            },
            Scope::Namespaced => KindSet {
                scope,
                run: erase::<StagedUpdateRun>(),
                placement: erase::<ResourcePlacement>(),
                binding: erase::<ResourceBinding>(),
                policy_snapshot: erase::<SchedulingPolicySnapshot>(),
                resource_snapshot: erase::<ResourceSnapshot>(),
                strategy: erase::<StagedUpdateStrategy>(),
                approval: erase::<ApprovalRequest>(),
            },
        }
    }

    /// A handle for `resource` in the run's namespace (or cluster-wide).
    pub fn api(&self, client: &Client, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
            None => Api::all_with(client.clone(), resource),
        }
    }
}

/// Reads `field` (`spec`, `status`) of a dynamic object; absent or null gives the default.
pub fn field<T: DeserializeOwned + Default>(obj: &DynamicObject, name: &str) -> Result<T, serde_json::Error> {
    match obj.data.get(name) {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value.clone()),
    }
}

/// `metadata.generation`, 0 when absent.
pub fn generation(meta: &ObjectMeta) -> i64 {
    meta.generation.unwrap_or_default()
}
