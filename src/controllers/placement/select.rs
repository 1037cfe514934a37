//! Resource selection for one placement (§4.2), reading the shared watch caches (and the hub
//! only for a selector that names a version other than the cached, preferred one).

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{Selector, SelectorExt};
use kube::{Client, ResourceExt};
use serde_json::Value;

use super::cache::ResourceCache;
use super::catalog::{Catalog, SelectableType};
use super::resources::{is_skipped, prepare};
use crate::api::placement::{ResourceIdentifier, ResourceSelectorTerm, SelectionScope};

/// Why selection failed.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// The selectors are wrong; the user must fix them.
    #[error("{0}")]
    Invalid(String),
    /// Reading the hub failed; retry.
    #[error("reading hub resources: {0}")]
    Api(#[from] kube::Error),
}

/// Reserved namespaces: never placed with their contents.
pub fn is_reserved_namespace(name: &str) -> bool {
    name == "default" || name.starts_with("kube-") || name.starts_with("fleet-")
}

fn api_for(client: &Client, t: &SelectableType, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) if t.namespaced => Api::namespaced_with(client.clone(), ns, &t.resource),
        _ => Api::all_with(client.clone(), &t.resource),
    }
}

fn label_selector(selector: &Option<LabelSelector>) -> Result<Option<Selector>, SelectError> {
    selector
        .as_ref()
        .map(|s| {
            Selector::try_from(s.clone()).map_err(|e| SelectError::Invalid(format!("invalid label selector: {e}")))
        })
        .transpose()
}

async fn fetch(
    client: &Client,
    cache: &ResourceCache,
    t: &SelectableType,
    namespace: Option<&str>,
    term: &ResourceSelectorTerm,
) -> Result<Vec<DynamicObject>, SelectError> {
    let selector = label_selector(&term.label_selector)?;
    let Some(store) = cache.store(t) else {
        let api = api_for(client, t, namespace);
        return match &term.name {
            Some(name) => Ok(api.get_opt(name).await?.into_iter().collect()),
            None => {
                let params = selector.map_or_else(ListParams::default, |s| ListParams::default().labels_from(&s));
                Ok(api.list(&params).await?.items)
            }
        };
    };
    Ok(store
        .state()
        .into_iter()
        .filter(|obj| !t.namespaced || obj.namespace().as_deref() == namespace)
        .filter(|obj| term.name.as_ref().is_none_or(|n| *n == obj.name_any()))
        .filter(|obj| term.name.is_some() || selector.as_ref().is_none_or(|s| s.matches(obj.labels())))
        .map(|obj| DynamicObject::clone(&obj))
        .collect())
}

fn to_value(t: &SelectableType, obj: DynamicObject) -> Value {
    let mut value = serde_json::to_value(&obj).unwrap_or(Value::Null);
    value["apiVersion"] = Value::String(t.resource.api_version.clone());
    value["kind"] = Value::String(t.resource.kind.clone());
    value
}

/// Selects, sanitises and sorts the resources of a placement. `namespace` is the
/// ResourcePlacement's namespace (`None` for a ClusterResourcePlacement).
pub async fn select(
    client: &Client,
    cache: &ResourceCache,
    catalog: &Catalog,
    namespace: Option<&str>,
    selectors: &[ResourceSelectorTerm],
) -> Result<Vec<Value>, SelectError> {
    let mut picked: Vec<Value> = Vec::new();
    for term in selectors {
        let describe = format!("{}/{}, Kind={}", term.group, term.version, term.kind);
        let t = catalog.resolve(&term.group, &term.version, &term.kind).ok_or_else(|| {
            SelectError::Invalid(format!(
                "the resource {describe} is not served by the hub or cannot be placed; check group, version and kind"
            ))
        })?;
        let is_namespace = term.group.is_empty() && term.kind == "Namespace";
        match (namespace, is_namespace, t.namespaced) {
            (Some(_), true, _) => {
                return Err(SelectError::Invalid(format!(
                    "a ResourcePlacement cannot select namespaces ({describe}); use a ClusterResourcePlacement"
                )));
            }
            (Some(_), false, false) => {
                return Err(SelectError::Invalid(format!(
                    "{describe} is cluster-scoped; a ResourcePlacement can only select resources in its own namespace"
                )));
            }
            (None, false, true) => {
                return Err(SelectError::Invalid(format!(
                    "{describe} is namespaced; a ClusterResourcePlacement selects cluster-scoped resources, or namespaces with their contents"
                )));
            }
            _ => {}
        }
        for obj in fetch(client, cache, &t, namespace, term).await? {
            if is_namespace {
                let name = obj.name_any();
                let scope = term.selection_scope.unwrap_or_default();
                if scope == SelectionScope::NamespaceWithResources {
                    if is_reserved_namespace(&name) {
                        return Err(SelectError::Invalid(format!(
                            "namespace {name} is reserved (default, kube-*, fleet-*) and cannot be placed with its resources"
                        )));
                    }
                    picked.extend(namespace_contents(cache, &name));
                }
            }
            let service_exists = endpoints_have_service(cache, &t, &obj);
            let value = to_value(&t, obj);
            if !is_skipped(&value, service_exists) {
                picked.push(value);
            }
        }
    }
    let mut seen = BTreeSet::new();
    for value in &picked {
        let id = identifier_key(value);
        if !seen.insert(id.clone()) {
            return Err(SelectError::Invalid(format!("found duplicate resource {id}")));
        }
    }
    Ok(prepare(picked))
}

fn namespace_contents(cache: &ResourceCache, namespace: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (t, store) in cache.namespaced() {
        for obj in store.state() {
            if obj.namespace().as_deref() != Some(namespace) {
                continue;
            }
            let service_exists = t.resource.group.is_empty()
                && t.resource.kind == "Endpoints"
                && service_exists(cache, namespace, &obj.name_any());
            let value = to_value(t, DynamicObject::clone(&obj));
            if !is_skipped(&value, service_exists) {
                out.push(value);
            }
        }
    }
    out
}

/// Whether an Endpoints object belongs to a Service (then it is not placed).
fn endpoints_have_service(cache: &ResourceCache, t: &SelectableType, obj: &DynamicObject) -> bool {
    t.resource.group.is_empty()
        && t.resource.kind == "Endpoints"
        && service_exists(cache, &obj.namespace().unwrap_or_default(), &obj.name_any())
}

fn service_exists(cache: &ResourceCache, namespace: &str, name: &str) -> bool {
    cache.namespaced().any(|(t, store)| {
        t.resource.group.is_empty()
            && t.resource.kind == "Service"
            && store
                .state()
                .iter()
                .any(|s| s.namespace().as_deref() == Some(namespace) && s.name_any() == name)
    })
}

fn identifier_key(value: &Value) -> String {
    format!(
        "{}/{} {}/{}",
        value["apiVersion"].as_str().unwrap_or_default(),
        value["kind"].as_str().unwrap_or_default(),
        value["metadata"]["namespace"].as_str().unwrap_or_default(),
        value["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// The identifier a placement's status lists for a selected object.
pub fn identifier(value: &Value) -> ResourceIdentifier {
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), api_version.to_string()),
    };
    ResourceIdentifier {
        group,
        version,
        kind: value["kind"].as_str().unwrap_or_default().to_string(),
        name: value["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        namespace: value["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
        envelope: None,
    }
}
