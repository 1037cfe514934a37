//! Runs the MemberCluster controller against the API server.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use jiff::{Timestamp, ToSpan};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tracing::info;

use super::aggregate::{agent_gone, member_status, worth_writing};
use crate::api::cluster::{ClusterState, InternalMemberCluster, InternalMemberClusterSpec, MemberCluster};
use crate::api::labels::{
    IS_FLEET_RESOURCE, MEMBER_CLUSTER_FINALIZER, MEMBER_NAME, WORK_CLEANUP_FINALIZER, member_namespace,
};
use crate::api::placement::Work;
pub use crate::controllers::shared::Error;
use crate::controllers::shared::{ok_if_missing, patch_params, record_failed_pass, retry_delay};
use crate::ops::metrics::Metrics;

/// Field manager of this controller's writes.
pub const FIELD_MANAGER: &str = "membercluster-controller";
/// How long a leaving member's agent gets to clean up before the hub removes its namespace
/// anyway (upstream's `force-delete-wait-time` default), counted from the deletion request.
const FORCE_DELETE_WAIT_MINUTES: i64 = 15;
/// How often a deletion in progress is looked at.
const DELETION_POLL: Duration = Duration::from_secs(2);

struct Context {
    client: Client,
    metrics: Arc<Metrics>,
    /// Member clusters whose namespace and RBAC this process already applied, by name, with the
    /// uid and generation they were applied for: a heartbeat (a status change) need not apply
    /// them again.
    provisioned: Mutex<HashMap<String, (String, i64)>>,
    /// Every InternalMemberCluster, from the watch that also wakes their MemberClusters: a
    /// heartbeat is read from here, not fetched again.
    internal: Store<InternalMemberCluster>,
}

/// Runs the controller until `shutdown`.
pub async fn run_controller(
    client: Client,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (internal, internal_writer) = reflector::store::<InternalMemberCluster>();
    let internal_events = watcher(
        Api::<InternalMemberCluster>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(crate::controllers::shared::drop_managed_fields)
    .reflect(internal_writer)
    .touched_objects();
    let context = Arc::new(Context {
        client: client.clone(),
        metrics,
        provisioned: Mutex::default(),
        internal,
    });
    info!(controller = "membercluster-controller", "starting");
    // The controller's own status writes (one per heartbeat per member) must not wake it again:
    // it reacts to what the admin changes and to the agent's reports on the InternalMemberCluster.
    let (reader, writer) = reflector::store::<MemberCluster>();
    let clusters = watcher(Api::<MemberCluster>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(crate::controllers::shared::drop_managed_fields)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(admin_intent, Default::default());
    Controller::for_stream(clusters, reader)
        .with_config(crate::controllers::tuning::controller_config())
        .owns_stream(internal_events)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(|_| std::future::ready(()))
        .await;
}

/// What of a MemberCluster the admin (or a finalizer) changes: not its status.
fn admin_intent(cluster: &MemberCluster) -> Option<u64> {
    let mut hasher = std::hash::DefaultHasher::new();
    cluster.metadata.generation.hash(&mut hasher);
    cluster.labels().hash(&mut hasher);
    cluster.finalizers().hash(&mut hasher);
    cluster.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

fn error_policy(obj: Arc<MemberCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    record_failed_pass(
        &ctx.metrics,
        "MemberCluster",
        "member cluster reconcile",
        &obj.name_any(),
        error,
    );
    Action::requeue(retry_delay(error, Duration::from_secs(2)))
}

fn params() -> PatchParams {
    patch_params(FIELD_MANAGER)
}

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

async fn reconcile(cluster: Arc<MemberCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = cluster.name_any();
    let clusters = Api::<MemberCluster>::all(ctx.client.clone());
    if cluster.metadata.deletion_timestamp.is_some() {
        return leave(&cluster, &ctx).await;
    }
    let has_finalizer = cluster.finalizers().iter().any(|f| f == MEMBER_CLUSTER_FINALIZER);
    let namespace = member_namespace(&name);
    let stamp = (
        cluster.uid().unwrap_or_default(),
        cluster.metadata.generation.unwrap_or_default(),
    );
    let provisioned = ctx.provisioned.lock().ok().and_then(|p| p.get(&name).cloned()) == Some(stamp.clone());
    if !has_finalizer || cluster.labels().get(MEMBER_NAME) != Some(&name) {
        let mut finalizers = cluster.finalizers().to_vec();
        if !has_finalizer {
            finalizers.push(MEMBER_CLUSTER_FINALIZER.into());
        }
        let patch = json!({"metadata": {
            "finalizers": finalizers, "labels": {MEMBER_NAME: name}, "resourceVersion": cluster.resource_version(),
        }});
        clusters.patch(&name, &params(), &Patch::Merge(&patch)).await?;
    }
    let owner = json!({
        "apiVersion": "cluster.kubernetes-fleet.io/v1beta1", "kind": "MemberCluster", "name": name,
        "uid": cluster.uid(), "controller": true, "blockOwnerDeletion": true,
    });
    let namespaces = Api::<Namespace>::all(ctx.client.clone());
    let ns_object = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {IS_FLEET_RESOURCE: "true"}, "ownerReferences": [owner]},
    });
    if !provisioned {
        namespaces
            .patch(&namespace, &apply_params(), &Patch::Apply(&ns_object))
            .await?;
        apply_rbac(&ctx.client, &cluster, &namespace).await?;
        if let Ok(mut p) = ctx.provisioned.lock() {
            p.insert(name.clone(), stamp);
        }
    }

    let internal_api = Api::<InternalMemberCluster>::namespaced(ctx.client.clone(), &namespace);
    let heartbeat = cluster.spec.heartbeat_period_seconds.unwrap_or(60);
    let cached = ctx
        .internal
        .get(&ObjectRef::new(&name).within(&namespace))
        .map(|imc| InternalMemberCluster::clone(&imc));
    let observed = match cached {
        Some(imc) => Some(imc),
        None => internal_api.get_opt(&name).await?,
    };
    let internal = match observed {
        None => {
            let mut imc = InternalMemberCluster::new(
                &name,
                InternalMemberClusterSpec {
                    state: ClusterState::Join,
                    heartbeat_period_seconds: Some(heartbeat),
                },
            );
            imc.metadata.owner_references = Some(vec![serde_json::from_value(owner)?]);
            match internal_api.create(&PostParams::default(), &imc).await {
                Ok(created) => {
                    info!(member = %name, %namespace, "member cluster ready to join");
                    Some(created)
                }
                Err(kube::Error::Api(s)) if s.code == 409 => internal_api.get_opt(&name).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Some(imc) if imc.spec.state != ClusterState::Join || imc.spec.heartbeat_period_seconds != Some(heartbeat) => {
            let patch = json!({"spec": {"state": ClusterState::Join, "heartbeatPeriodSeconds": heartbeat}});
            Some(internal_api.patch(&name, &params(), &Patch::Merge(&patch)).await?)
        }
        Some(imc) => Some(imc),
    };
    let now = Timestamp::now();
    let status = member_status(&cluster, internal.as_ref(), now);
    if worth_writing(cluster.status.as_ref(), &status, now) {
        let patch = json!({"status": status});
        clusters.patch_status(&name, &params(), &Patch::Merge(&patch)).await?;
    }
    ctx.metrics.count_reconcile("MemberCluster", "success");
    Ok(Action::requeue(Duration::from_secs(
        u64::try_from(heartbeat).unwrap_or(60),
    )))
}

/// The Role and RoleBinding through which the member's identity reaches its namespace (§13.2).
async fn apply_rbac(client: &Client, cluster: &MemberCluster, namespace: &str) -> Result<(), Error> {
    let name = cluster.name_any();
    let role_name = format!("fleet-role-{name}");
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": role_name, "namespace": namespace},
        "rules": [
            {"apiGroups": ["cluster.kubernetes-fleet.io", "placement.kubernetes-fleet.io", "networking.fleet.azure.com"],
             "resources": ["*"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "update", "patch", "watch", "create"]},
        ],
    });
    Api::<Role>::namespaced(client.clone(), namespace)
        .patch(&role_name, &apply_params(), &Patch::Apply(&role))
        .await?;
    let mut subject = serde_json::to_value(&cluster.spec.identity)?;
    let kind = subject["kind"].as_str().unwrap_or_default().to_string();
    if (kind == "User" || kind == "Group") && subject["apiGroup"].as_str().unwrap_or_default().is_empty() {
        subject["apiGroup"] = json!("rbac.authorization.k8s.io");
    }
    let binding_name = format!("fleet-rolebinding-{name}");
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": binding_name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        "subjects": [subject],
    });
    Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .patch(&binding_name, &apply_params(), &Patch::Apply(&binding))
        .await?;
    Ok(())
}

/// §13.4: ask the agent to leave, then remove the hub namespace, then let the MemberCluster go.
async fn leave(cluster: &MemberCluster, ctx: &Context) -> Result<Action, Error> {
    let name = cluster.name_any();
    if let Ok(mut p) = ctx.provisioned.lock() {
        p.remove(&name);
    }
    let namespace = member_namespace(&name);
    let namespaces = Api::<Namespace>::all(ctx.client.clone());
    match namespaces.get_opt(&namespace).await? {
        None => {
            if cluster.finalizers().iter().any(|f| f == MEMBER_CLUSTER_FINALIZER) {
                let finalizers: Vec<&String> = cluster
                    .finalizers()
                    .iter()
                    .filter(|f| *f != MEMBER_CLUSTER_FINALIZER)
                    .collect();
                let patch =
                    json!({"metadata": {"finalizers": finalizers, "resourceVersion": cluster.resource_version()}});
                ok_if_missing(
                    Api::<MemberCluster>::all(ctx.client.clone())
                        .patch(&name, &params(), &Patch::Merge(&patch))
                        .await,
                )?;
                info!(member = %name, "member cluster left the fleet");
            }
            return Ok(Action::await_change());
        }
        Some(ns) if ns.metadata.deletion_timestamp.is_some() => return Ok(Action::requeue(DELETION_POLL)),
        Some(_) => {}
    }
    let internal_api = Api::<InternalMemberCluster>::namespaced(ctx.client.clone(), &namespace);
    let internal = internal_api.get_opt(&name).await?;
    if let Some(imc) = &internal
        && imc.spec.state != ClusterState::Leave
    {
        let patch = json!({"spec": {"state": ClusterState::Leave}});
        internal_api.patch(&name, &params(), &Patch::Merge(&patch)).await?;
        info!(member = %name, "member cluster is leaving: agent asked to leave");
    }
    let requested = cluster
        .metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_else(Timestamp::now);
    let waited_enough = Timestamp::now() >= requested + FORCE_DELETE_WAIT_MINUTES.minutes();
    if internal.as_ref().is_none_or(agent_gone) || waited_enough {
        let works = Api::<Work>::namespaced(ctx.client.clone(), &namespace);
        for work in works.list(&ListParams::default()).await? {
            if work.finalizers().iter().any(|f| f == WORK_CLEANUP_FINALIZER) {
                let patch = json!({"metadata": {"finalizers": null}});
                ok_if_missing(works.patch(&work.name_any(), &params(), &Patch::Merge(&patch)).await)?;
            }
        }
        ok_if_missing(namespaces.delete(&namespace, &DeleteParams::default()).await)?;
    }
    Ok(Action::requeue(DELETION_POLL))
}
