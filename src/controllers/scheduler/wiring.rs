//! Runs the scheduler against the API server: one controller for ClusterResourcePlacements and
//! one for ResourcePlacements, woken by placement spec changes and deletion (§7.1), policy
//! snapshot and binding changes of the placement, and member cluster changes that can alter a
//! decision (labels, taints, eligibility, deletion; then every placement is looked at).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::info;

use super::cycle::{BindingAction, BindingView, PlacementKey, PolicyInput, schedule};
use super::eligibility::eligibility;
use crate::api::cluster::MemberCluster;
use crate::api::labels::{
    IS_LATEST_SNAPSHOT, NUMBER_OF_CLUSTERS, PARENT_PLACEMENT, PLACEMENT_GENERATION, PREVIOUS_BINDING_STATE,
    SCHEDULER_BINDING_CLEANUP_FINALIZER, SCHEDULER_CLEANUP_FINALIZER, SELECTED_CLUSTER_COUNT,
};
use crate::api::placement::{
    BindingState, ClusterDecision, ClusterResourcePlacement, PlacementPolicy, ResourcePlacement,
    SchedulingPolicySnapshotStatus,
};
pub use crate::controllers::shared::Error;
use crate::controllers::shared::{
    FamilyContext, ok_if_missing, patch_params, placement_controller, record_failed_pass, retry_delay,
};
use crate::ops::metrics::Metrics;

/// Field manager of the scheduler's writes.
pub const FIELD_MANAGER: &str = "scheduler";
/// Safety-net resync.
const RESYNC: Duration = Duration::from_secs(5 * 60);
/// How many binding writes of one pass are in flight at once: a placement over thousands of
/// clusters is scheduled in waves, not one request after the other, while the client's QPS limit
/// still bounds the hub-wide rate.
const WRITE_WAVE: usize = 32;

/// What each scheduling pass carries: the family's handles and the member clusters' watch cache,
/// so that a pass reads the fleet from memory instead of listing it from the API server.
struct Context {
    base: FamilyContext,
    members: Store<MemberCluster>,
}

impl std::ops::Deref for Context {
    type Target = FamilyContext;

    fn deref(&self) -> &FamilyContext {
        &self.base
    }
}

/// Runs the scheduler for both placement kinds until `shutdown`.
pub async fn run_controllers(
    client: Client,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let cluster = controller::<ClusterResourcePlacement>(client.clone(), true, metrics.clone(), shutdown.clone());
    let namespaced = controller::<ResourcePlacement>(client, false, metrics, shutdown);
    futures::join!(cluster, namespaced);
}

async fn controller<K>(
    client: Client,
    cluster_scoped: bool,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let label = if cluster_scoped {
        "ClusterScheduler"
    } else {
        "Scheduler"
    };
    let (members, writer) = reflector::store::<MemberCluster>();
    let context = Arc::new(Context {
        base: FamilyContext::new(client.clone(), cluster_scoped, metrics, label),
        members,
    });
    let clusters = watcher(Api::<MemberCluster>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(crate::controllers::shared::drop_managed_fields)
        .reflect(writer)
        .touched_objects()
        .predicate_filter(scheduling_relevant, Default::default())
        .filter_map(|event| std::future::ready(event.ok().map(|_| ())));
    let children = [context.family.policy_snapshot(), context.family.binding()];
    let controller =
        placement_controller::<K, _>(&client, &children, predicates::generation).reconcile_all_on(clusters);
    let name = if cluster_scoped {
        "clusterscheduler"
    } else {
        "scheduler"
    };
    info!(controller = name, "starting");
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, context)
        .for_each(|_| std::future::ready(()))
        .await;
}

/// What about a member cluster can change a scheduling decision (§7.1). Eligibility is judged
/// now: a cluster that just joined wakes every placement.
fn scheduling_relevant(cluster: &MemberCluster) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    cluster.labels().hash(&mut hasher);
    serde_json::to_string(&cluster.spec.taints).ok().hash(&mut hasher);
    cluster.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    eligibility(cluster, Timestamp::now()).is_ok().hash(&mut hasher);
    if let Some(status) = &cluster.status {
        serde_json::to_string(&status.properties.as_ref().map(|p| p.keys().collect::<Vec<_>>()))
            .ok()
            .hash(&mut hasher);
        serde_json::to_string(&status.namespaces).ok().hash(&mut hasher);
        serde_json::to_string(
            &status
                .resource_usage
                .as_ref()
                .map(|u| (&u.capacity, &u.allocatable, &u.available)),
        )
        .ok()
        .hash(&mut hasher);
    }
    Some(hasher.finish())
}

fn error_policy<K: Resource<DynamicType = ()>>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    record_failed_pass(
        &ctx.metrics,
        ctx.label,
        "scheduling",
        &obj.meta().name.clone().unwrap_or_default(),
        error,
    );
    Action::requeue(retry_delay(error, Duration::from_secs(2)))
}

fn params() -> PatchParams {
    patch_params(FIELD_MANAGER)
}

async fn set_finalizers(
    api: &Api<DynamicObject>,
    obj: &DynamicObject,
    finalizers: Vec<String>,
) -> Result<(), kube::Error> {
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
    ok_if_missing(
        api.patch(&obj.name_any(), &params(), &Patch::Merge(&patch))
            .await
            .map(|_| ()),
    )
}

fn without(obj: &DynamicObject, finalizer: &str) -> Vec<String> {
    obj.finalizers().iter().filter(|f| *f != finalizer).cloned().collect()
}

async fn reconcile<K>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let name = obj.name_any();
    let ns = obj.namespace();
    let ns = ns.as_deref();
    let placements = ctx.api(&ctx.family.placement(), ns);
    let bindings_api = ctx.api(&ctx.family.binding(), ns);
    let parent = ListParams::default().labels(&format!("{PARENT_PLACEMENT}={name}"));
    // Read the placement afresh: the store copy may predate a finalizer another controller added.
    let Some(placement) = placements.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    let has_cleanup = placement.finalizers().iter().any(|f| f == SCHEDULER_CLEANUP_FINALIZER);

    if placement.metadata.deletion_timestamp.is_some() {
        if has_cleanup {
            for binding in bindings_api.list(&parent).await? {
                set_finalizers(
                    &bindings_api,
                    &binding,
                    without(&binding, SCHEDULER_BINDING_CLEANUP_FINALIZER),
                )
                .await?;
                if binding.metadata.deletion_timestamp.is_none() {
                    ok_if_missing(
                        bindings_api
                            .delete(&binding.name_any(), &DeleteParams::default())
                            .await
                            .map(|_| ()),
                    )?;
                }
            }
            set_finalizers(
                &placements,
                &placement,
                without(&placement, SCHEDULER_CLEANUP_FINALIZER),
            )
            .await?;
            info!(placement = %name, "placement deleted: its bindings are deleted");
        }
        return Ok(Action::await_change());
    }

    let policies = ctx.api(&ctx.family.policy_snapshot(), ns);
    let latest = policies
        .list(&ListParams::default().labels(&format!("{PARENT_PLACEMENT}={name},{IS_LATEST_SNAPSHOT}=true")))
        .await?
        .items;
    let [snapshot] = latest.as_slice() else {
        // None yet (its creation wakes us) or, briefly, two while the placement controller flips them.
        return Ok(Action::requeue(RESYNC));
    };
    if !has_cleanup {
        let mut finalizers = placement.finalizers().to_vec();
        finalizers.push(SCHEDULER_CLEANUP_FINALIZER.into());
        set_finalizers(&placements, &placement, finalizers).await?;
    }

    // A decision needs the whole fleet: wait for the first full list rather than decide on part.
    if ctx.members.wait_until_ready().await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let clusters = ctx.members.state();
    let bindings = bindings_api.list(&parent).await?.items;
    let views: Vec<BindingView> = bindings.iter().map(view).collect::<Result<_, _>>()?;
    let policy: Option<PlacementPolicy> = serde_json::from_value(snapshot.data["spec"]["policy"].clone())
        .ok()
        .flatten();
    let status: SchedulingPolicySnapshotStatus =
        serde_json::from_value(snapshot.data["status"].clone()).unwrap_or_default();
    let annotation = |key: &str| snapshot.annotations().get(key).and_then(|v| v.parse::<i64>().ok());
    let input = PolicyInput {
        name: &snapshot.name_any(),
        generation: snapshot.metadata.generation.unwrap_or_default(),
        placement_generation: annotation(PLACEMENT_GENERATION).unwrap_or_default(),
        number_of_clusters: annotation(NUMBER_OF_CLUSTERS).and_then(|n| usize::try_from(n).ok()),
        policy: policy.as_ref(),
        status: &status,
    };
    let key = PlacementKey {
        name: &name,
        namespace: ns,
    };
    let outcome = schedule(key, &input, &clusters, &views, Timestamp::now());

    let by_name: HashMap<String, &DynamicObject> = bindings.iter().map(|b| (b.name_any(), b)).collect();
    futures::stream::iter(outcome.actions.into_iter().map(Ok::<_, Error>))
        .try_for_each_concurrent(WRITE_WAVE, |action| {
            act(&ctx, &bindings_api, &by_name, &name, ns, input.name, action)
        })
        .await?;
    if let Some(status) = outcome.status {
        // SD-27: the count goes first, so that a run that sees the new decisions also sees how
        // many bindings they stand for.
        let count = outcome.selected_beyond_limit.map(|n| n.to_string());
        let mut version = snapshot.resource_version();
        if snapshot.annotations().get(SELECTED_CLUSTER_COUNT) != count.as_ref() {
            let patch =
                json!({"metadata": {"annotations": {SELECTED_CLUSTER_COUNT: count}, "resourceVersion": version}});
            version = policies
                .patch(&snapshot.name_any(), &params(), &Patch::Merge(&patch))
                .await?
                .resource_version();
        }
        let patch = json!({"metadata": {"resourceVersion": version}, "status": status});
        policies
            .patch_status(&snapshot.name_any(), &params(), &Patch::Merge(&patch))
            .await?;
    }
    ctx.metrics.count_reconcile(ctx.label, "success");
    Ok(Action::requeue(RESYNC))
}

fn view(binding: &DynamicObject) -> Result<BindingView, serde_json::Error> {
    let spec = &binding.data["spec"];
    let state: BindingState = serde_json::from_value(spec["state"].clone())?;
    let decision: ClusterDecision = serde_json::from_value(spec["clusterDecision"].clone()).unwrap_or_default();
    Ok(BindingView {
        name: binding.name_any(),
        state,
        target: spec["targetCluster"].as_str().unwrap_or_default().to_string(),
        policy_snapshot: spec["schedulingPolicySnapshotName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        deleting: binding.metadata.deletion_timestamp.is_some(),
        has_finalizer: binding
            .finalizers()
            .iter()
            .any(|f| f == SCHEDULER_BINDING_CLEANUP_FINALIZER),
        previous_state: binding
            .annotations()
            .get(PREVIOUS_BINDING_STATE)
            .and_then(|s| serde_json::from_value(json!(s)).ok()),
        decision,
    })
}

/// `bindings`: the placement's bindings as this pass read them, by name.
async fn act(
    ctx: &Context,
    api: &Api<DynamicObject>,
    bindings: &HashMap<String, &DynamicObject>,
    placement: &str,
    ns: Option<&str>,
    policy_snapshot: &str,
    action: BindingAction,
) -> Result<(), Error> {
    let resource_version = |name: &str| bindings.get(name).and_then(|b| b.resource_version());
    match action {
        BindingAction::Create {
            name,
            cluster,
            decision,
        } => {
            let ar = ctx.family.binding();
            let mut obj = DynamicObject::new(&name, &ar);
            obj.metadata.namespace = ns.map(str::to_string);
            obj.metadata.labels = Some([(PARENT_PLACEMENT.to_string(), placement.to_string())].into());
            obj.metadata.finalizers = Some(vec![SCHEDULER_BINDING_CLEANUP_FINALIZER.into()]);
            obj.data = json!({"spec": {
                "state": BindingState::Scheduled,
                "resourceSnapshotName": "",
                "schedulingPolicySnapshotName": policy_snapshot,
                "targetCluster": cluster,
                "clusterDecision": decision,
            }});
            match api.create(&PostParams::default(), &obj).await {
                Ok(_) => info!(%placement, %cluster, binding = %name, "scheduled"),
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        BindingAction::Repoint {
            binding,
            state,
            decision,
        } => {
            let patch = json!({
                "metadata": {"resourceVersion": resource_version(&binding), "annotations": {PREVIOUS_BINDING_STATE: null}},
                "spec": {"state": state, "schedulingPolicySnapshotName": policy_snapshot, "clusterDecision": decision},
            });
            api.patch(&binding, &params(), &Patch::Merge(&patch)).await?;
        }
        BindingAction::Unschedule { binding, previous } => {
            let patch = json!({
                "metadata": {"resourceVersion": resource_version(&binding), "annotations": {PREVIOUS_BINDING_STATE: previous}},
                "spec": {"state": BindingState::Unscheduled},
            });
            api.patch(&binding, &params(), &Patch::Merge(&patch)).await?;
            info!(%placement, %binding, "unscheduled");
        }
        BindingAction::DropFinalizer { binding } => {
            if let Some(obj) = bindings.get(&binding) {
                set_finalizers(api, obj, without(obj, SCHEDULER_BINDING_CLEANUP_FINALIZER)).await?;
            }
        }
    }
    Ok(())
}
