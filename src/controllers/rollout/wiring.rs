//! Runs the rollout controller for ClusterResourcePlacements and ResourcePlacements, woken by
//! placement spec changes, binding changes and new resource snapshots of the placement.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::predicates;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::info;

use super::plan::{RolloutAction, RolloutBinding, RolloutInput, plan};
use crate::api::condition::Condition;
use crate::api::labels::{IS_LATEST_SNAPSHOT, PARENT_PLACEMENT, PREVIOUS_BINDING_STATE};
use crate::api::placement::{
    ClusterResourcePlacement, ClusterResourcePlacementSpec, PlacementObject, PlacementType, ResourcePlacement,
    RolloutStrategyType,
};
pub use crate::controllers::shared::Error;
use crate::controllers::shared::{
    FamilyContext, ServedKind, exact_apply_strategy, ok_if_missing, patch_params, placement_controller,
    record_failed_pass, retry_delay,
};
use crate::ops::metrics::Metrics;

/// Field manager of the rollout controller's writes.
pub const FIELD_MANAGER: &str = "rollout-controller";
const STARTED_MESSAGE: &str = "Detected the new changes on the resources and started the rollout process";
const NOT_STARTED_MESSAGE: &str = "The resources cannot be updated to the latest because of the rollout strategy";

type Context = FamilyContext;

/// Runs the rollout controller for both placement kinds until `shutdown`.
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
    K: ServedKind + PlacementObject,
{
    let label = if cluster_scoped { "ClusterRollout" } else { "Rollout" };
    let context = Arc::new(Context::new(client, cluster_scoped, metrics, label));
    let children = [context.family.binding(), context.family.resource_snapshot()];
    let controller = placement_controller::<K, _>(&context.client, &children, predicates::generation);
    let name = if cluster_scoped {
        "clusterresourceplacement-rollout-controller"
    } else {
        "resourceplacement-rollout-controller"
    };
    info!(controller = name, "starting");
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, context)
        .for_each(|_| std::future::ready(()))
        .await;
}

fn error_policy<K: Resource<DynamicType = ()>>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    record_failed_pass(
        &ctx.metrics,
        ctx.label,
        "rollout pass",
        &obj.meta().name.clone().unwrap_or_default(),
        error,
    );
    Action::requeue(retry_delay(error, Duration::from_secs(2)))
}

fn params() -> PatchParams {
    patch_params(FIELD_MANAGER)
}

async fn reconcile<K>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error>
where
    K: ServedKind + PlacementObject,
{
    if obj.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let spec: ClusterResourcePlacementSpec = obj.common_spec();
    let strategy = spec.strategy.clone().unwrap_or_default();
    // External placements are rolled out by staged update runs (§9.1).
    if strategy.type_ != RolloutStrategyType::RollingUpdate {
        return Ok(Action::await_change());
    }
    let name = obj.name_any();
    let ns = obj.namespace();
    let ns = ns.as_deref();
    let latest = ctx
        .api(&ctx.family.resource_snapshot(), ns)
        .list(&ListParams::default().labels(&format!("{PARENT_PLACEMENT}={name},{IS_LATEST_SNAPSHOT}=true")))
        .await?
        .items;
    let Some(latest) = latest.first() else {
        return Ok(Action::await_change());
    };
    let bindings_api = ctx.api(&ctx.family.binding(), ns);
    let objects = bindings_api
        .list(&ListParams::default().labels(&format!("{PARENT_PLACEMENT}={name}")))
        .await?
        .items;
    let bindings: Vec<RolloutBinding> = objects.iter().filter_map(view).collect();
    let policy = spec.policy.clone().unwrap_or_default();
    let target = match policy.placement_type {
        PlacementType::PickAll => None,
        PlacementType::PickN => {
            Some(usize::try_from(policy.number_of_clusters.unwrap_or_default()).unwrap_or_default())
        }
        PlacementType::PickFixed => Some(policy.cluster_names.as_ref().map_or(0, Vec::len)),
    };
    let apply_strategy = strategy.apply_strategy.clone().unwrap_or_default().defaulted();
    let latest_name = latest.name_any();
    let input = RolloutInput {
        config: strategy.rolling_update.clone().unwrap_or_default(),
        apply_strategy: apply_strategy.clone(),
        latest_snapshot: &latest_name,
        target,
        bindings: &bindings,
    };
    let now = Timestamp::now();
    let planned = plan(&input, now);
    let pushed = planned
        .actions
        .iter()
        .any(|a| matches!(a, RolloutAction::PushApplyStrategy { .. }));
    for action in planned.actions {
        match action {
            RolloutAction::PushApplyStrategy { binding } => {
                let patch = json!({"spec": {"applyStrategy": exact_apply_strategy(&apply_strategy)}});
                bindings_api.patch(&binding, &params(), &Patch::Merge(&patch)).await?;
            }
            RolloutAction::Bind { binding } => {
                let patch = json!({"spec": {
                    "state": "Bound", "resourceSnapshotName": latest_name,
                    "resourceOverrideSnapshots": null, "clusterResourceOverrideSnapshots": null,
                    "applyStrategy": exact_apply_strategy(&apply_strategy),
                }});
                let updated = bindings_api.patch(&binding, &params(), &Patch::Merge(&patch)).await?;
                mark(&bindings_api, &updated, true, now).await?;
                info!(placement = %name, %binding, snapshot = %latest_name, "rolling out");
            }
            RolloutAction::Delete { binding } => {
                ok_if_missing(bindings_api.delete(&binding, &DeleteParams::default()).await)?;
            }
            RolloutAction::MarkStarted { binding, started } => {
                if let Some(obj) = objects.iter().find(|b| b.name_any() == binding) {
                    mark(&bindings_api, obj, started, now).await?;
                }
            }
        }
    }
    ctx.metrics.count_reconcile(ctx.label, "success");
    if pushed {
        return Ok(Action::requeue(Duration::from_millis(100)));
    }
    Ok(planned.requeue_after.map_or_else(Action::await_change, Action::requeue))
}

/// Sets `RolloutStarted` for the binding's current generation.
async fn mark(api: &Api<DynamicObject>, binding: &DynamicObject, started: bool, now: Timestamp) -> Result<(), Error> {
    let mut conditions: Vec<Condition> =
        serde_json::from_value(binding.data["status"]["conditions"].clone()).unwrap_or_default();
    let (status, reason, message) = if started {
        ("True", "RolloutStarted", STARTED_MESSAGE)
    } else {
        ("False", "RolloutNotStartedYet", NOT_STARTED_MESSAGE)
    };
    let previous = conditions.iter().find(|c| c.type_ == "RolloutStarted").cloned();
    conditions.retain(|c| c.type_ != "RolloutStarted");
    let transition = match previous {
        Some(p) if p.status == status => p.last_transition_time,
        _ => Some(Time(now)),
    };
    conditions.push(Condition {
        type_: "RolloutStarted".into(),
        status: status.into(),
        observed_generation: binding.metadata.generation,
        last_transition_time: transition,
        reason: reason.into(),
        message: message.into(),
    });
    let patch = json!({
        "metadata": {"resourceVersion": binding.resource_version()},
        "status": {"conditions": conditions},
    });
    api.patch_status(&binding.name_any(), &params(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

fn view(binding: &DynamicObject) -> Option<RolloutBinding> {
    let spec = &binding.data["spec"];
    Some(RolloutBinding {
        name: binding.name_any(),
        generation: binding.metadata.generation.unwrap_or_default(),
        state: serde_json::from_value(spec["state"].clone()).ok()?,
        deleting: binding.metadata.deletion_timestamp.is_some(),
        cluster: spec["targetCluster"].as_str().unwrap_or_default().to_string(),
        snapshot: spec["resourceSnapshotName"].as_str().unwrap_or_default().to_string(),
        apply_strategy: serde_json::from_value(spec["applyStrategy"].clone()).ok(),
        previous_state: binding
            .annotations()
            .get(PREVIOUS_BINDING_STATE)
            .and_then(|s| serde_json::from_value(json!(s)).ok()),
        conditions: serde_json::from_value(binding.data["status"]["conditions"].clone()).ok(),
    })
}
