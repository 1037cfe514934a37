//! The hub API types a placement can select (§4.1): the preferred version of every group, kinds
//! that support list and watch, minus the types the hub never propagates.

use kube::Client;
use kube::api::ApiResource;
use kube::discovery::{Discovery, Scope as ApiScope, verbs};

/// Groups never propagated.
const BLOCKED_GROUPS: [&str; 5] = [
    "cluster.kubernetes-fleet.io",
    "placement.kubernetes-fleet.io",
    "events.k8s.io",
    "coordination.k8s.io",
    "metrics.k8s.io",
];

/// Core kinds never propagated.
const BLOCKED_CORE_KINDS: [&str; 2] = ["Pod", "Node"];

/// One selectable type.
#[derive(Clone, Debug)]
pub struct SelectableType {
    /// The resource (group, version, kind, plural).
    pub resource: ApiResource,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

/// Every selectable type of the hub.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    types: Vec<SelectableType>,
    /// All versions served per (group, kind), to tell "unknown kind" from "version not served".
    served: Vec<(ApiResource, bool)>,
}

impl Catalog {
    /// Discovers the hub's types.
    pub async fn discover(client: &Client) -> Result<Catalog, kube::Error> {
        let discovery = Discovery::new(client.clone()).run().await?;
        let mut catalog = Catalog::default();
        for group in discovery.groups() {
            if BLOCKED_GROUPS.contains(&group.name()) {
                continue;
            }
            for version in group.versions() {
                for (resource, caps) in group.versioned_resources(version) {
                    catalog.served.push((resource, caps.scope == ApiScope::Namespaced));
                }
            }
            for (resource, caps) in group.recommended_resources() {
                let blocked = resource.group.is_empty() && BLOCKED_CORE_KINDS.contains(&resource.kind.as_str());
                if blocked || !caps.supports_operation(verbs::LIST) || !caps.supports_operation(verbs::WATCH) {
                    continue;
                }
                catalog.types.push(SelectableType {
                    resource,
                    namespaced: caps.scope == ApiScope::Namespaced,
                });
            }
        }
        Ok(catalog)
    }

    /// The preferred-version types watched for changes.
    pub fn watched(&self) -> &[SelectableType] {
        &self.types
    }

    /// The type a selector names (any served version), if the hub serves it and may propagate it.
    pub fn resolve(&self, group: &str, version: &str, kind: &str) -> Option<SelectableType> {
        let blocked = BLOCKED_GROUPS.contains(&group) || (group.is_empty() && BLOCKED_CORE_KINDS.contains(&kind));
        if blocked {
            return None;
        }
        self.served
            .iter()
            .find(|(r, _)| r.group == group && r.version == version && r.kind == kind)
            .map(|(resource, namespaced)| SelectableType {
                resource: resource.clone(),
                namespaced: *namespaced,
            })
    }

    /// Namespaced types to list when a whole namespace is selected.
    pub fn namespaced_types(&self) -> impl Iterator<Item = &SelectableType> {
        self.types.iter().filter(|t| t.namespaced)
    }
}
