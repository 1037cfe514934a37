//! Kube clients whose every API request is counted by verb and resource in the process's
//! metrics (`stagehand_hub_api_requests_total`), so an operator can see what a slow run costs
//! the API server, and optionally throttled to a request rate (`--hub-api-qps`/`--hub-api-burst`).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{Method, Request};
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config};
use tower::util::MapRequestLayer;
use tower::{Layer, Service};

use crate::ops::metrics::Metrics;

/// How many requests per second a client may send: a token bucket of `burst` tokens refilled at
/// `qps` a second, as client-go's `QPS`/`Burst`. `qps == 0` turns the limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub qps: u32,
    /// Requests that may go at once after a quiet period.
    pub burst: u32,
}

impl RateLimit {
    /// No limit.
    pub const OFF: RateLimit = RateLimit { qps: 0, burst: 0 };

    fn limiter(self) -> Option<Arc<DefaultDirectRateLimiter>> {
        let qps = NonZeroU32::new(self.qps)?;
        let burst = NonZeroU32::new(self.burst.max(self.qps)).unwrap_or(qps);
        Some(Arc::new(RateLimiter::direct(Quota::per_second(qps).allow_burst(burst))))
    }
}

/// A client for `config` that counts its requests in `metrics`, unthrottled.
pub fn counted(config: Config, metrics: Arc<Metrics>) -> Result<Client, kube::Error> {
    counted_and_limited(config, metrics, RateLimit::OFF)
}

/// A client for `config` that counts its requests in `metrics` and waits for `limit` before
/// sending each.
pub fn counted_and_limited(config: Config, metrics: Arc<Metrics>, limit: RateLimit) -> Result<Client, kube::Error> {
    let count = MapRequestLayer::new(move |request: Request<Body>| {
        let (verb, resource) = classify(request.method(), request.uri().path(), request.uri().query());
        metrics.count_api_request(verb, &resource, field_manager(request.uri().query()));
        request
    });
    let throttle = ThrottleLayer {
        limiter: limit.limiter(),
    };
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&count)
        .with_layer(&throttle)
        .build())
}

/// The client `KUBECONFIG`, `~/.kube/config` or the in-cluster service account gives, counted
/// and throttled to `limit`.
pub async fn counted_default(metrics: Arc<Metrics>, limit: RateLimit) -> Result<Client, kube::Error> {
    let config = Config::infer().await.map_err(kube::Error::InferConfig)?;
    counted_and_limited(config, metrics, limit)
}

/// Waits for a token of the shared bucket before each request (no bucket: passes through).
struct ThrottleLayer {
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = Throttled<S>;

    fn layer(&self, inner: S) -> Throttled<S> {
        Throttled {
            inner,
            limiter: self.limiter.clone(),
            waiting: None,
            permitted: false,
        }
    }
}

/// The service [`ThrottleLayer`] wraps: ready only once it holds a token for the next request.
struct Throttled<S> {
    inner: S,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    waiting: Option<BoxFuture<'static, ()>>,
    permitted: bool,
}

impl<S, B> Service<Request<B>> for Throttled<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        if let Some(limiter) = &self.limiter
            && !self.permitted
        {
            let waiting = self.waiting.get_or_insert_with(|| {
                let limiter = limiter.clone();
                Box::pin(async move { limiter.until_ready().await })
            });
            if waiting.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.waiting = None;
            self.permitted = true;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.permitted = false;
        self.inner.call(request)
    }
}

/// The `fieldManager` a write names (every Stagehand controller names its own), or "".
pub fn field_manager(query: Option<&str>) -> &str {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("fieldManager="))
        .unwrap_or_default()
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
    fn a_throttled_client_sends_its_burst_then_waits_for_tokens() {
        let layer = ThrottleLayer {
            limiter: RateLimit { qps: 1, burst: 2 }.limiter(),
        };
        let mut service = layer.layer(tower::service_fn(|_: Request<()>| async { Ok::<_, ()>(()) }));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..2 {
            assert!(service.poll_ready(&mut cx).is_ready(), "the burst is sent at once");
            drop(service.call(Request::new(())));
        }
        assert!(
            service.poll_ready(&mut cx).is_pending(),
            "the third request waits for a token"
        );
    }

    #[test]
    fn an_unlimited_client_never_waits() {
        let layer = ThrottleLayer {
            limiter: RateLimit::OFF.limiter(),
        };
        let mut service = layer.layer(tower::service_fn(|_: Request<()>| async { Ok::<_, ()>(()) }));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..10_000 {
            assert!(service.poll_ready(&mut cx).is_ready());
            drop(service.call(Request::new(())));
        }
    }

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
        assert_eq!(
            field_manager(Some("fieldManager=work-generator&force=true")),
            "work-generator"
        );
        assert_eq!(field_manager(Some("watch=true")), "");
    }
}
