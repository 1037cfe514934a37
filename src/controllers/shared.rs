//! Small pieces every hub controller (and the member agent) needs: one error type for a failed
//! pass, API handles for either scope, patch parameters, tolerant deletes, the mapping from a
//! child object's `parent-CRP` label to its placement, and exact apply-strategy patches.

use std::fmt::Debug;

use kube::api::{Api, ApiResource, DynamicObject, PatchParams};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, Predicate, WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::labels::PARENT_PLACEMENT;
use crate::api::placement::{
    ApplyStrategy, ClusterResourceBinding, ClusterResourcePlacement, ClusterResourceSnapshot,
    ClusterSchedulingPolicySnapshot, ResourceBinding, ResourcePlacement, ResourceSnapshot, SchedulingPolicySnapshot,
};
use crate::ops::metrics::Metrics;

/// What a generic controller needs of the kind it serves (either scope of a twin kind).
pub trait ServedKind:
    Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

impl<K> ServedKind for K where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

/// Why a reconcile pass failed; the controller retries it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// An object did not (de)serialise.
    #[error("parsing: {0}")]
    Parse(#[from] serde_json::Error),
}

impl Error {
    /// A 409 Conflict: another writer changed the object between this pass's read and its
    /// write. The retry reads the new version, so it is routine.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Api(kube::Error::Api(status)) if status.code == 409)
    }
}

/// A short class of what made a pass fail, for the error counter: `api_conflict`,
/// `api_not_found`, `api_<code>` for other API answers, `transport`, or `parse`.
pub fn error_reason(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if status.code == 409 => "api_conflict".into(),
        kube::Error::Api(status) if status.code == 404 => "api_not_found".into(),
        kube::Error::Api(status) => format!("api_{}", status.code),
        kube::Error::SerdeError(_) => "parse".into(),
        _ => "transport".into(),
    }
}

/// Records a failed pass that will be retried: counted by controller and reason
/// (`stagehand_reconcile_errors_total`), and logged once with the object, controller and cause;
/// a conflict at debug level (it is routine and would drown real problems), anything else as a
/// warning.
pub fn record_failed_pass(metrics: &Metrics, controller: &str, what: &str, object: &str, error: &Error) {
    let reason = match error {
        Error::Api(e) => error_reason(e),
        Error::Parse(_) => "parse".into(),
    };
    metrics.count_reconcile(controller, "error");
    metrics.count_reconcile_error(controller, &reason);
    if error.is_conflict() {
        tracing::debug!(object, controller, reason, %error, "{what} raced another writer; retrying");
    } else {
        tracing::warn!(object, controller, reason, %error, "{what} failed");
    }
}

/// How soon a failed pass runs again: a lost race (409 Conflict) at once, since the retry reads
/// what the other writer wrote, anything else after `otherwise`.
pub fn retry_delay(error: &Error, otherwise: std::time::Duration) -> std::time::Duration {
    if error.is_conflict() {
        std::time::Duration::from_millis(200)
    } else {
        otherwise
    }
}

/// A dynamic API handle: namespaced when `namespace` is given, else cluster-wide.
pub fn dynamic_api(client: &Client, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

/// Merge-patch parameters naming the writer.
pub fn patch_params(field_manager: &str) -> PatchParams {
    PatchParams {
        field_manager: Some(field_manager.into()),
        ..Default::default()
    }
}

/// Treats "not found" as done: the object is already gone.
pub fn ok_if_missing<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// The placement (from the store) that a snapshot, binding or Work belongs to, by its
/// `parent-CRP` label and namespace.
pub fn parent_placement<K: Resource<DynamicType = ()> + Clone>(
    store: &Store<K>,
    child: &DynamicObject,
) -> Vec<ObjectRef<K>> {
    let parent = child.labels().get(PARENT_PLACEMENT).cloned().unwrap_or_default();
    let ns = child.namespace();
    store
        .state()
        .into_iter()
        .filter(|p| p.name_any() == parent && p.namespace() == ns)
        .map(|p| ObjectRef::from_obj(&*p))
        .collect()
}

/// An apply strategy with every key present, so a merge patch replaces it exactly (absent keys
/// become null).
pub fn exact_apply_strategy(strategy: &ApplyStrategy) -> Value {
    let mut value = serde_json::to_value(strategy).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(map) = &mut value {
        for key in [
            "type",
            "comparisonOption",
            "whenToApply",
            "whenToTakeOver",
            "allowCoOwnership",
            "serverSideApplyConfig",
        ] {
            map.entry(key).or_insert(Value::Null);
        }
    }
    value
}

/// The placement family one controller instance serves: ClusterResourcePlacement with its
/// cluster-scoped snapshots and bindings, or ResourcePlacement with its namespaced ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// ClusterResourcePlacement (true) or ResourcePlacement (false).
    pub cluster_scoped: bool,
}

impl Family {
    fn pick(self, cluster: ApiResource, namespaced: ApiResource) -> ApiResource {
        if self.cluster_scoped { cluster } else { namespaced }
    }

    /// The placement kind.
    pub fn placement(self) -> ApiResource {
        self.pick(
            ApiResource::erase::<ClusterResourcePlacement>(&()),
            ApiResource::erase::<ResourcePlacement>(&()),
        )
    }

    /// The binding kind.
    pub fn binding(self) -> ApiResource {
        self.pick(
            ApiResource::erase::<ClusterResourceBinding>(&()),
            ApiResource::erase::<ResourceBinding>(&()),
        )
    }

    /// The resource snapshot kind.
    pub fn resource_snapshot(self) -> ApiResource {
        self.pick(
            ApiResource::erase::<ClusterResourceSnapshot>(&()),
            ApiResource::erase::<ResourceSnapshot>(&()),
        )
    }

    /// The scheduling policy snapshot kind.
    pub fn policy_snapshot(self) -> ApiResource {
        self.pick(
            ApiResource::erase::<ClusterSchedulingPolicySnapshot>(&()),
            ApiResource::erase::<SchedulingPolicySnapshot>(&()),
        )
    }
}

/// Per object (`namespace/name`), the `resourceVersion`s a controller's own latest write of it
/// replaced. A pass that reads one of them from a watch cache would decide from the object as it
/// was before that write and repeat it, so it waits for the watch to deliver the write (SD-19).
#[derive(Default)]
pub struct OwnWrites {
    replaced: std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>,
}

impl OwnWrites {
    /// Whether `version` of `key` predates this controller's own last write; forgets the entry
    /// once the cache is past it.
    pub fn predates(&self, key: &str, version: Option<&str>) -> bool {
        let Ok(mut replaced) = self.replaced.lock() else {
            return false;
        };
        let stale = match (replaced.get(key), version) {
            (Some(old), Some(version)) => old.iter().any(|v| v == version),
            _ => false,
        };
        if !stale {
            replaced.remove(key);
        }
        stale
    }

    /// Remembers that this controller wrote `key` past `versions`.
    pub fn wrote(&self, key: &str, versions: Vec<String>) {
        if let Ok(mut replaced) = self.replaced.lock() {
            replaced.insert(key.to_string(), versions);
        }
    }
}

/// Drops `managedFields` from an object before a watch cache keeps it: no controller reads them
/// from a cache, and they are a large part of every object several controllers write.
pub fn drop_managed_fields<K: Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}

/// A controller over placements of kind `K`, woken by the placement changes `predicate` lets
/// through and by changes of the `children` kinds, each mapped to its placement through the
/// `parent-CRP` label. `Controller::store` gives the placements' cache.
pub fn placement_controller<K, P>(client: &Client, children: &[ApiResource], predicate: P) -> Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static,
    P: Predicate<K> + Send + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let placements = watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(crate::controllers::shared::drop_managed_fields)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(predicate, Default::default());
    let mut controller =
        Controller::for_stream(placements, reader.clone()).with_config(crate::controllers::tuning::controller_config());
    for ar in children {
        let store = reader.clone();
        controller = controller.watches_with(
            Api::all_with(client.clone(), ar),
            ar.clone(),
            watcher::Config::default(),
            move |obj: DynamicObject| parent_placement(&store, &obj),
        );
    }
    controller
}

/// What a per-family controller (scheduler, rollout) carries into each reconcile.
pub struct FamilyContext {
    /// Hub client.
    pub client: Client,
    /// CRP or RP family.
    pub family: Family,
    /// Metrics registry.
    pub metrics: std::sync::Arc<crate::ops::metrics::Metrics>,
    /// Controller label in `stagehand_reconciliations_total`.
    pub label: &'static str,
}

impl FamilyContext {
    /// The context of a per-family controller of `client`'s hub.
    pub fn new(
        client: Client,
        cluster_scoped: bool,
        metrics: std::sync::Arc<crate::ops::metrics::Metrics>,
        label: &'static str,
    ) -> FamilyContext {
        FamilyContext {
            client,
            family: Family { cluster_scoped },
            metrics,
            label,
        }
    }

    /// How soon a failed pass runs again: a lost race (409 Conflict) at once, since the retry reads
    /// what the other writer wrote, anything else after `otherwise`.
    pub fn retry_delay(error: &Error, otherwise: std::time::Duration) -> std::time::Duration {
        if error.is_conflict() {
            std::time::Duration::from_millis(200)
        } else {
            otherwise
        }
    }

    /// A dynamic API handle on the hub.
    pub fn api(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        dynamic_api(&self.client, resource, namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::OwnWrites;

    #[test]
    fn a_cache_version_replaced_by_an_own_write_is_stale_until_the_cache_moves_past_it() {
        let own = OwnWrites::default();
        assert!(!own.predates("ns/a", Some("5")));
        own.wrote("ns/a", vec!["5".into(), "6".into()]);
        assert!(own.predates("ns/a", Some("5")));
        assert!(own.predates("ns/a", Some("6")));
        assert!(!own.predates("ns/b", Some("5")));
        // The cache shows the write: the entry is forgotten.
        assert!(!own.predates("ns/a", Some("7")));
        assert!(!own.predates("ns/a", Some("5")));
    }
}
