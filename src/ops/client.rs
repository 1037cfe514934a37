//! Kube clients whose every API request is counted by verb and resource in the process's
//! metrics (`stagehand_hub_api_requests_total`), so an operator can see what a slow run costs
//! the API server.

use std::sync::Arc;

use http::{Method, Request};
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config};
use tower::util::MapRequestLayer;

use crate::ops::metrics::Metrics;

/// A client for `config` that counts its requests in `metrics`.
pub fn counted(config: Config, metrics: Arc<Metrics>) -> Result<Client, kube::Error> {
    let count = MapRequestLayer::new(move |request: Request<Body>| {
        let (verb, resource) = classify(request.method(), request.uri().path(), request.uri().query());
        metrics.count_api_request(verb, &resource);
        request
    });
    Ok(ClientBuilder::try_from(config)?.with_layer(&count).build())
}

/// The client `KUBECONFIG`, `~/.kube/config` or the in-cluster service account gives, counted.
pub async fn counted_default(metrics: Arc<Metrics>) -> Result<Client, kube::Error> {
    let config = Config::infer().await.map_err(kube::Error::InferConfig)?;
    counted(config, metrics)
}

/// The Kubernetes verb and the resource (with its subresource, `works/status`) of a request.
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> (&'static str, String) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return (verb_of(method, query, false), "non-resource".into()),
    };
    let rest = match rest {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let (resource, named) = match rest {
        [] => ("discovery".to_string(), false),
        [resource] => (resource.to_string(), false),
        [resource, _name] => (resource.to_string(), true),
        [resource, _name, sub, ..] => (format!("{resource}/{sub}"), true),
    };
    (verb_of(method, query, named), resource)
}

fn verb_of(method: &Method, query: Option<&str>, named: bool) -> &'static str {
    let watching = query.is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    match *method {
        Method::GET if watching => "watch",
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_verb_and_resource() {
        let c = |m: Method, p: &str, q: Option<&str>| {
            let (verb, resource) = classify(&m, p, q);
            format!("{verb} {resource}")
        };
        assert_eq!(
            c(
                Method::GET,
                "/apis/placement.kubernetes-fleet.io/v1beta1/clusterresourcebindings",
                Some("watch=true&resourceVersion=5")
            ),
            "watch clusterresourcebindings"
        );
        assert_eq!(
            c(
                Method::PATCH,
                "/apis/placement.kubernetes-fleet.io/v1beta1/namespaces/fleet-member-a/works/w/status",
                None
            ),
            "patch works/status"
        );
        assert_eq!(
            c(Method::GET, "/api/v1/namespaces/default/configmaps", None),
            "list configmaps"
        );
        assert_eq!(c(Method::GET, "/api/v1/namespaces/default", None), "get namespaces");
        assert_eq!(c(Method::POST, "/api/v1/namespaces", None), "create namespaces");
        assert_eq!(
            c(
                Method::GET,
                "/apis/cluster.kubernetes-fleet.io/v1beta1/memberclusters/m1",
                None
            ),
            "get memberclusters"
        );
        assert_eq!(c(Method::GET, "/version", None), "list non-resource");
    }
}
