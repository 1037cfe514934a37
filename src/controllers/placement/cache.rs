//! One watch and one in-memory store per selectable hub type (§4.1, §11.4), shared by the
//! ClusterResourcePlacement and ResourcePlacement controllers: selection reads the stores instead
//! of listing the hub on every reconcile, and every change is announced to each controller so it
//! can wake the placements the change concerns.

use std::collections::HashMap;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::{StreamExt, TryStreamExt, future};
use kube::api::{Api, DynamicObject};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tracing::info;

use super::catalog::{Catalog, SelectableType};

/// A hub object that was created, changed or deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Whether the kind is namespaced.
    pub namespaced: bool,
    /// Namespace of a namespaced object.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// Namespaces whose objects are never propagated nor cached (SD-24).
pub fn is_skipped_namespace(namespace: &str) -> bool {
    namespace.starts_with("fleet-") || namespace.starts_with("kube-")
}

fn in_skipped_namespace(event: &watcher::Event<DynamicObject>) -> bool {
    match event {
        watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) | watcher::Event::Delete(obj) => {
            obj.metadata.namespace.as_deref().is_some_and(is_skipped_namespace)
        }
        watcher::Event::Init | watcher::Event::InitDone => false,
    }
}

/// The stores of every selectable type, by (group, kind), at the type's preferred version.
#[derive(Clone, Default)]
pub struct ResourceCache {
    stores: HashMap<(String, String), (SelectableType, Store<DynamicObject>)>,
}

impl ResourceCache {
    /// Starts one watch per selectable type on the current runtime and returns the cache and,
    /// for each of `subscribers`, the stream of changes.
    pub fn start(
        client: &Client,
        catalog: &Catalog,
        subscribers: usize,
    ) -> (ResourceCache, Vec<UnboundedReceiver<Changed>>) {
        let (senders, receivers): (Vec<UnboundedSender<Changed>>, Vec<UnboundedReceiver<Changed>>) =
            (0..subscribers).map(|_| unbounded()).unzip();
        let mut cache = ResourceCache::default();
        for t in catalog.watched() {
            let writer = reflector::store::Writer::new(t.resource.clone());
            let reader = writer.as_reader();
            let api = Api::<DynamicObject>::all_with(client.clone(), &t.resource);
            let senders = senders.clone();
            let (group, kind, namespaced) = (t.resource.group.clone(), t.resource.kind.clone(), t.namespaced);
            let changes = watcher(api, watcher::Config::default())
                .default_backoff()
                // SD-24: objects in `fleet-*` and `kube-*` namespaces are never propagated
                // (upstream skips them too); at fleet scale they are most of the hub's objects
                // (each member's namespace holds its Role, RoleBinding, ServiceAccount and CA
                // ConfigMap), so they are not kept.
                .try_filter(|event| future::ready(!in_skipped_namespace(event)))
                .modify(crate::controllers::shared::drop_managed_fields)
                .reflect(writer)
                .touched_objects()
                .for_each(move |event| {
                    if let Ok(obj) = event {
                        let changed = Changed {
                            group: group.clone(),
                            kind: kind.clone(),
                            namespaced,
                            namespace: obj.namespace(),
                            name: obj.name_any(),
                        };
                        for sender in &senders {
                            let _ = sender.unbounded_send(changed.clone());
                        }
                    }
                    future::ready(())
                });
            tokio::spawn(changes);
            cache
                .stores
                .insert((t.resource.group.clone(), t.resource.kind.clone()), (t.clone(), reader));
        }
        (cache, receivers)
    }

    /// Waits until every store holds its first complete list.
    pub async fn ready(&self) {
        for (_, store) in self.stores.values() {
            let _ = store.wait_until_ready().await;
        }
        info!(types = self.stores.len(), "hub resource caches are filled");
    }

    /// The store of a type when it is cached at exactly `version`.
    pub fn store(&self, t: &SelectableType) -> Option<&Store<DynamicObject>> {
        self.stores
            .get(&(t.resource.group.clone(), t.resource.kind.clone()))
            .filter(|(cached, _)| cached.resource.version == t.resource.version)
            .map(|(_, store)| store)
    }

    /// Every cached namespaced type with its store.
    pub fn namespaced(&self) -> impl Iterator<Item = (&SelectableType, &Store<DynamicObject>)> {
        self.stores.values().filter(|(t, _)| t.namespaced).map(|(t, s)| (t, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_namespace(ns: Option<&str>) -> watcher::Event<DynamicObject> {
        let mut obj = DynamicObject::new(
            "x",
            &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
        );
        obj.metadata.namespace = ns.map(String::from);
        watcher::Event::Apply(obj)
    }

    #[test]
    fn objects_in_fleet_and_kube_namespaces_are_not_cached() {
        // SD-24.
        assert!(in_skipped_namespace(&in_namespace(Some("fleet-member-a"))));
        assert!(in_skipped_namespace(&in_namespace(Some("kube-system"))));
        assert!(!in_skipped_namespace(&in_namespace(Some("default"))));
        assert!(!in_skipped_namespace(&in_namespace(Some("fleetwide"))));
        assert!(!in_skipped_namespace(&in_namespace(None)));
        assert!(!in_skipped_namespace(&watcher::Event::InitDone));
    }
}
