//! Runs the two run controllers: watches (SD-17), the reconcile pass, back-off and recording.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PostParams};
use kube::runtime::controller::Action as ControllerAction;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, predicates, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

use super::act::{ActError, FIELD_MANAGER, act};
use super::decide::decide;
use super::decide::model::{Next, Observed, RunView, Scope, UpdateRunSpec};
use super::kinds::{KindSet, field, generation};
use super::observe::{ObserveError, observe};
use super::reasons::types;
use super::report::{approval_latencies, failure_type, finished_stage_durations, status_metric_condition, transitions};
use super::{CLUSTER_CONTROLLER, NAMESPACED_CONTROLLER};
use crate::api::cluster::MemberCluster;
use crate::api::labels::{PARENT_PLACEMENT, STAGED_UPDATE_RUN_FINALIZER};
use crate::api::placement::{ClusterStagedUpdateRun, StagedUpdateRun, UpdateRunStatus};
use crate::conditions::{is_false_for, is_true_for};
use crate::ops::metrics::{ApprovalLabels, Metrics, RunLabels, RunStatusLabels};

/// Why a pass failed; every variant is retried with back-off.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the world failed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// An action failed.
    #[error(transparent)]
    Act(#[from] ActError),
    /// Writing the status failed.
    #[error("writing the run status: {0}")]
    Record(#[source] kube::Error),
    /// The run object did not parse.
    #[error("parsing the run: {0}")]
    Parse(#[from] serde_json::Error),
    /// A transient condition the decision reported (status was written).
    #[error("{0}")]
    Retry(String),
}

impl Error {
    /// A 409 Conflict on an action or the status write: another writer changed the object since
    /// this pass read it (every write carries the `resourceVersion` it read). Routine; the retry
    /// reads the new version.
    fn is_conflict(&self) -> bool {
        let api = match self {
            Error::Act(ActError { source, .. }) | Error::Record(source) => source,
            _ => return false,
        };
        matches!(api, kube::Error::Api(status) if status.code == 409)
    }

    fn label(&self) -> &'static str {
        match self {
            Error::Observe(_) => "observe_error",
            Error::Act(_) => "act_error",
            Error::Record(_) => "record_error",
            Error::Parse(_) => "parse_error",
            Error::Retry(_) => "retry",
        }
    }
}

/// Shared by every pass of one controller.
pub struct Context {
    client: Client,
    kinds: KindSet,
    controller: &'static str,
    metrics: Arc<Metrics>,
    recorder: Recorder,
    failures: Mutex<HashMap<String, u32>>,
}

/// Runs both run controllers until `shutdown` completes.
pub async fn run_controllers(
    client: Client,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let cluster =
        controller::<ClusterStagedUpdateRun>(client.clone(), metrics.clone(), Scope::Cluster, shutdown.clone());
    let namespaced = controller::<StagedUpdateRun>(client, metrics, Scope::Namespaced, shutdown);
    futures::join!(cluster, namespaced);
}

async fn controller<K>(
    client: Client,
    metrics: Arc<Metrics>,
    scope: Scope,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let kinds = KindSet::of(scope);
    let name = match scope {
        Scope::Cluster => CLUSTER_CONTROLLER,
        Scope::Namespaced => NAMESPACED_CONTROLLER,
    };
    let (reader, writer) = reflector::store::<K>();
    // Our own status writes do not change the generation, so they do not wake the run again.
    let runs = watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(predicates::generation, Default::default());
    let all = |ar| kinds.api(&client, ar, None);
    let cfg = watcher::Config::default;
    let by_placement = |store: Store<K>| {
        move |obj: DynamicObject| {
            let placement = obj
                .labels()
                .get(PARENT_PLACEMENT)
                .cloned()
                .unwrap_or_else(|| obj.name_any());
            runs_of_placement(&store, obj.namespace(), &placement)
        }
    };
    let placement_store = reader.clone();
    let approval_store = reader.clone();
    let member_store = reader.clone();
    let reporter = Reporter {
        controller: name.into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let context = Arc::new(Context {
        client: client.clone(),
        kinds: kinds.clone(),
        controller: name,
        metrics,
        recorder: Recorder::new(client.clone(), reporter),
        failures: Mutex::default(),
    });
    info!(controller = name, "starting");
    Controller::for_stream(runs, reader.clone())
        .watches_with(
            all(&kinds.placement),
            kinds.placement.clone(),
            cfg(),
            move |obj: DynamicObject| runs_of_placement(&placement_store, obj.namespace(), &obj.name_any()),
        )
        .watches_with(
            all(&kinds.binding),
            kinds.binding.clone(),
            cfg(),
            by_placement(reader.clone()),
        )
        .watches_with(
            all(&kinds.policy_snapshot),
            kinds.policy_snapshot.clone(),
            cfg(),
            by_placement(reader.clone()),
        )
        .watches_with(
            all(&kinds.approval),
            kinds.approval.clone(),
            cfg(),
            move |obj: DynamicObject| {
                let parent = obj
                    .data
                    .pointer("/spec/parentStageRollout")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                approval_store
                    .state()
                    .into_iter()
                    .filter(|run| run.name_any() == parent && run.namespace() == obj.namespace())
                    .map(|run| ObjectRef::from_obj(&*run))
                    .collect::<Vec<_>>()
            },
        )
        .watches(Api::<MemberCluster>::all(client.clone()), cfg(), move |_member| {
            member_store
                .state()
                .into_iter()
                .filter(|run| is_active(&**run))
                .map(|run| ObjectRef::from_obj(&*run))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, context)
        .for_each(|_| std::future::ready(()))
        .await;
    info!(controller = name, "stopped");
}

/// Runs (not finished) that drive the named placement.
fn runs_of_placement<K>(store: &Store<K>, namespace: Option<String>, placement: &str) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + 'static,
{
    store
        .state()
        .into_iter()
        .filter(|run| run.namespace() == namespace && is_active(&**run))
        .filter(|run| {
            serde_json::to_value(&**run)
                .ok()
                .and_then(|v| {
                    v.pointer("/spec/placementName")
                        .and_then(|p| p.as_str().map(str::to_string))
                })
                .is_some_and(|p| p == placement)
        })
        .map(|run| ObjectRef::from_obj(&*run))
        .collect()
}

/// Whether a run may still act: not finished, not failed.
fn is_active<K: Serialize>(run: &K) -> bool {
    let Ok(value) = serde_json::to_value(run) else {
        return true;
    };
    let status: UpdateRunStatus = value
        .get("status")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    let generation = value
        .pointer("/metadata/generation")
        .and_then(|g| g.as_i64())
        .unwrap_or_default();
    !(is_true_for(&status.conditions, types::SUCCEEDED, generation)
        || is_false_for(&status.conditions, types::SUCCEEDED, generation))
}

fn run_view<K: Resource + Serialize>(obj: &K, scope: Scope) -> Result<(RunView, serde_json::Value), serde_json::Error> {
    let value = serde_json::to_value(obj)?;
    let dynamic: DynamicObject = serde_json::from_value(value.clone())?;
    let spec: UpdateRunSpec = field(&dynamic, "spec")?;
    let status: UpdateRunStatus = field(&dynamic, "status")?;
    let meta = obj.meta();
    Ok((
        RunView {
            scope,
            name: meta.name.clone().unwrap_or_default(),
            namespace: meta.namespace.clone(),
            generation: generation(meta),
            deleting: meta.deletion_timestamp.is_some(),
            has_finalizer: meta
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == STAGED_UPDATE_RUN_FINALIZER),
            spec,
            status,
        },
        value,
    ))
}

async fn reconcile<K>(obj: Arc<K>, ctx: Arc<Context>) -> Result<ControllerAction, Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let (run, raw) = run_view(&*obj, ctx.kinds.scope)?;
    let observed = observe(&ctx.client, &ctx.kinds, run).await?;
    let decision = decide(&observed);
    let run_version = act(&ctx.client, &ctx.kinds, &observed, &decision.actions).await?;
    if observed.run.deleting {
        ctx.metrics.forget_run(&run_labels(&observed));
        return Ok(ControllerAction::await_change());
    }
    record(&ctx, &*obj, raw, &observed, &decision.status, run_version).await?;
    ctx.failures.lock().map(|mut f| f.remove(&key(&observed))).ok();
    ctx.metrics.count_reconcile(ctx.controller, "success");
    match decision.next {
        Next::AwaitChange => Ok(ControllerAction::await_change()),
        Next::After(delay) => Ok(ControllerAction::requeue(delay)),
        Next::Retry(message) => Err(Error::Retry(message)),
    }
}

fn key(observed: &Observed) -> String {
    observed.run.key_of(&observed.run.name)
}

fn run_labels(observed: &Observed) -> RunLabels {
    RunLabels {
        namespace: observed.run.namespace.clone().unwrap_or_default(),
        name: observed.run.name.clone(),
    }
}

/// Writes the status (only when it changed), publishes Events and emits metrics.
async fn record<K>(
    ctx: &Context,
    obj: &K,
    mut raw: serde_json::Value,
    observed: &Observed,
    status: &UpdateRunStatus,
    run_version: Option<String>,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>,
{
    let old = &observed.run.status;
    if status != old {
        raw["status"] = serde_json::to_value(status)?;
        if let Some(version) = run_version {
            raw["metadata"]["resourceVersion"] = serde_json::Value::String(version);
        }
        let api = ctx
            .kinds
            .api(&ctx.client, &ctx.kinds.run, observed.run.namespace.as_deref());
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        let updated: DynamicObject = serde_json::from_value(raw)?;
        api.replace_status(&observed.run.name, &params, &updated)
            .await
            .map_err(Error::Record)?;
        for note in transitions(ctx.kinds.scope, old, status) {
            info!(run = %key(observed), reason = note.reason, message = %note.message, "transition");
            let event = Event {
                type_: if note.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: note.reason.into(),
                note: Some(note.message.chars().take(1000).collect()),
                action: "Reconcile".into(),
                secondary: None,
            };
            if let Err(err) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
                warn!(run = %key(observed), %err, "cannot publish event");
            }
        }
    }
    let labels = run_labels(observed);
    let generation = observed.run.generation;
    let condition = status_metric_condition(status, generation);
    if let Some(c) = condition {
        let state = serde_json::to_value(observed.run.spec.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        ctx.metrics.set_run_status(
            RunStatusLabels {
                namespace: labels.namespace.clone(),
                name: labels.name.clone(),
                state,
                condition: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                failureType: failure_type(Some(c)).into(),
            },
            observed.now.as_millisecond() as f64 / 1000.0,
        );
    }
    for (task, seconds) in approval_latencies(old, status) {
        ctx.metrics.observe_approval(
            ApprovalLabels {
                namespace: labels.namespace.clone(),
                name: labels.name.clone(),
                taskType: task.into(),
            },
            seconds,
        );
    }
    for seconds in finished_stage_durations(old, status, observed.now) {
        ctx.metrics.observe_stage(labels.clone(), seconds);
    }
    Ok(())
}

/// Per-run exponential back-off: 0.5 s doubling, at most 5 minutes; reset by a clean pass.
fn error_policy<K>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> ControllerAction
where
    K: Resource<DynamicType = ()>,
{
    let key = format!(
        "{}/{}",
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default()
    );
    let failures = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(key.clone()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    ctx.metrics.count_reconcile(ctx.controller, error.label());
    let delay = Duration::from_millis(500u64.saturating_mul(1u64 << failures.min(10))).min(Duration::from_secs(300));
    if error.is_conflict() {
        debug!(run = %key, %error, retry_in = ?delay, "pass raced another writer; retrying");
    } else {
        warn!(run = %key, %error, retry_in = ?delay, "reconcile failed");
    }
    ControllerAction::requeue(delay)
}
