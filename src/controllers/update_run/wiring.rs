//! Runs the two run controllers: watches (SD-17), the reconcile pass, back-off and recording.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DynamicObject, PostParams};
use kube::runtime::controller::Action as ControllerAction;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, predicates, watcher};
use kube::{Client, Resource, ResourceExt};
use tracing::{debug, info, warn};

use super::act::{ActError, FIELD_MANAGER, act};
use super::decide::decide;
use super::decide::model::{Next, Observed, RunView, Scope};
use super::kinds::{KindSet, generation};
use super::observe::{Caches, ObserveError, observe};
use super::reasons::types;
use super::report::{approval_latencies, failure_type, finished_stage_durations, status_metric_condition, transitions};
use super::{CLUSTER_CONTROLLER, NAMESPACED_CONTROLLER};
use crate::api::cluster::MemberCluster;
use crate::api::labels::{PARENT_PLACEMENT, STAGED_UPDATE_RUN_FINALIZER};
use crate::api::placement::{ClusterStagedUpdateRun, StagedUpdateRun, UpdateRunObject, UpdateRunStatus};
use crate::conditions::{is_false_for, is_true_for};
use crate::controllers::shared::{OwnWrites, ServedKind, error_reason};
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
}

impl Error {
    /// A 409 Conflict on an action or the status write: another writer changed the object since
    /// this pass read it (every write carries the `resourceVersion` it read). Routine; the retry
    /// reads the new version.
    fn is_conflict(&self) -> bool {
        let api = match self {
            Error::Observe(ObserveError::Stale(_)) => return true,
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
    /// Runs waiting for something outside the hub: how many passes in a row, and the last
    /// message logged at info (SD-36).
    waits: Mutex<HashMap<String, (u32, String)>>,
    caches: Caches,
    /// The run versions this controller's own latest writes replaced.
    own_writes: OwnWrites,
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
    K: ServedKind + UpdateRunObject,
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
        .modify(crate::controllers::shared::drop_managed_fields)
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
    // Runs read only the members' names and labels: heartbeats and other status writes (one a
    // period per member) must not wake every active run.
    let (member_cache, member_writer) = reflector::store::<MemberCluster>();
    let members = watcher(Api::<MemberCluster>::all(client.clone()), cfg())
        .default_backoff()
        .modify(crate::controllers::shared::drop_managed_fields)
        .reflect(member_writer)
        .touched_objects()
        .predicate_filter(member_identity, Default::default());
    let binding_writer = reflector::store::Writer::<DynamicObject>::new(kinds.binding.clone());
    let binding_cache = binding_writer.as_reader();
    let bindings = watcher(all(&kinds.binding), cfg())
        .default_backoff()
        .modify(crate::controllers::shared::drop_managed_fields)
        .reflect(binding_writer)
        .touched_objects();
    let context = Arc::new(Context {
        client: client.clone(),
        kinds: kinds.clone(),
        controller: name,
        metrics,
        recorder: Recorder::new(client.clone(), reporter),
        failures: Mutex::default(),
        waits: Mutex::default(),
        own_writes: OwnWrites::default(),
        caches: Caches {
            bindings: binding_cache,
            members: member_cache,
            written: Mutex::default(),
        },
    });

    info!(controller = name, "starting");
    Controller::for_stream(runs, reader.clone())
        .with_config(crate::controllers::tuning::controller_config())
        .watches_with(
            all(&kinds.placement),
            kinds.placement.clone(),
            cfg(),
            move |obj: DynamicObject| runs_of_placement(&placement_store, obj.namespace(), &obj.name_any()),
        )
        .watches_stream_with(bindings, by_placement(reader.clone()), kinds.binding.clone())
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
        .watches_stream(members, move |_member| {
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

/// What of a member cluster a run reads: its labels, and whether it is going away.
fn member_identity(member: &MemberCluster) -> Option<u64> {
    let mut hasher = std::hash::DefaultHasher::new();
    member.labels().hash(&mut hasher);
    member.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

/// Runs (not finished) that drive the named placement.
fn runs_of_placement<K>(store: &Store<K>, namespace: Option<String>, placement: &str) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + UpdateRunObject + Clone + 'static,
{
    store
        .state()
        .into_iter()
        .filter(|run| run.namespace() == namespace && run.placement_name() == placement && is_active(&**run))
        .map(|run| ObjectRef::from_obj(&*run))
        .collect()
}

/// Whether a run may still act: not finished, not failed.
fn is_active<K: Resource + UpdateRunObject>(run: &K) -> bool {
    let generation = run.meta().generation.unwrap_or_default();
    let Some(status) = run.run_status() else {
        return true;
    };
    !(is_true_for(&status.conditions, types::SUCCEEDED, generation)
        || is_false_for(&status.conditions, types::SUCCEEDED, generation))
}

fn run_view<K: Resource + UpdateRunObject>(obj: &K, scope: Scope) -> RunView {
    let meta = obj.meta();
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
        spec: obj.common_spec(),
        status: obj.run_status().cloned().unwrap_or_default(),
    }
}

async fn reconcile<K>(obj: Arc<K>, ctx: Arc<Context>) -> Result<ControllerAction, Error>
where
    K: ServedKind + UpdateRunObject,
{
    let run_key = format!(
        "{}/{}",
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default()
    );
    if ctx
        .own_writes
        .predates(&run_key, obj.meta().resource_version.as_deref())
    {
        // The run's cache entry is older than this controller's own last write of it: deciding
        // from it would repeat that pass. The write's watch event updates the cache in a moment
        // (status writes do not wake the run, so look again shortly). SD-19.
        return Ok(ControllerAction::requeue(STALE_RETRY));
    }
    let run = run_view(&*obj, ctx.kinds.scope);
    let observed = observe(&ctx.client, &ctx.kinds, &ctx.caches, run).await?;
    let decision = decide(&observed);
    let acted = act(&ctx.client, &ctx.kinds, &observed, &decision.actions).await?;
    if !decision.actions.is_empty() {
        fail::fail_point!(crate::ops::failpoints::UPDATE_RUN_AFTER_ACTIONS);
    }
    ctx.caches.remember(observed.run.namespace.as_deref(), &acted.started);
    let run_version = acted.run_version;
    if observed.run.deleting {
        ctx.metrics.forget_run(&run_labels(&observed));
        ctx.waits.lock().map(|mut w| w.remove(&key(&observed))).ok();
        return Ok(ControllerAction::await_change());
    }
    let before = [obj.meta().resource_version.clone(), run_version.clone()];
    let written = record(&ctx, &*obj, &observed, &decision.status, run_version).await?;
    if let Some(new_version) = written {
        ctx.own_writes.wrote(
            &run_key,
            before.into_iter().flatten().filter(|v| *v != new_version).collect(),
        );
    }
    ctx.failures.lock().map(|mut f| f.remove(&key(&observed))).ok();
    if let Next::Retry { why, at_latest } = decision.next {
        return Ok(waiting(&ctx, &key(&observed), why, at_latest));
    }
    ctx.waits.lock().map(|mut w| w.remove(&key(&observed))).ok();
    ctx.metrics.count_reconcile(ctx.controller, "success");
    match decision.next {
        Next::AwaitChange | Next::Retry { .. } => Ok(ControllerAction::await_change()),
        Next::After(delay) => Ok(ControllerAction::requeue(delay)),
    }
}

/// Longest pause between two looks at a waiting run; a change of its bindings wakes it sooner.
const MOST_WAIT: Duration = Duration::from_secs(30);

/// SD-36: a run that waits for members (a binding reporting a failure the member agent may still
/// mend, bindings not yet observed) is counted as `waiting`, not as a reconcile error. It is
/// logged at info when it starts waiting, and at debug while what it waits for changes (at fleet
/// scale that is every pass). Upstream returns an error from the reconcile, which logs it every
/// retry. The next look comes after 1 s, doubling to 30 s, and never after `at_latest` (a
/// progress deadline of a cluster in the stage must be judged on time while it waits).
fn waiting(ctx: &Context, run: &str, message: String, at_latest: Option<Duration>) -> ControllerAction {
    ctx.metrics.count_reconcile(ctx.controller, "waiting");
    let passes = ctx
        .waits
        .lock()
        .map(|mut waits| {
            let entry = waits.entry(run.to_string()).or_insert((0, String::new()));
            entry.0 = entry.0.saturating_add(1);
            if entry.0 == 1 {
                info!(run, controller = ctx.controller, waiting_for = %message, "run waiting");
            } else if entry.1 != message {
                debug!(run, controller = ctx.controller, waiting_for = %message, "run still waiting");
            }
            entry.1 = message;
            entry.0
        })
        .unwrap_or(1);
    let backoff = Duration::from_secs(1u64 << passes.saturating_sub(1).min(5)).min(MOST_WAIT);
    ControllerAction::requeue(at_latest.map_or(backoff, |due| backoff.min(due)))
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
    observed: &Observed,
    status: &UpdateRunStatus,
    run_version: Option<String>,
) -> Result<Option<String>, Error>
where
    K: Resource<DynamicType = ()>,
{
    let old = &observed.run.status;
    let mut written = None;
    if status != old {
        // Only what replace_status needs: the status and the version it replaces.
        let mut raw = serde_json::json!({
            "apiVersion": ctx.kinds.run.api_version,
            "kind": ctx.kinds.run.kind,
            "metadata": {
                "name": observed.run.name,
                "namespace": observed.run.namespace,
                "resourceVersion": obj.meta().resource_version,
            },
        });
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
        let replaced = api
            .replace_status(&observed.run.name, &params, &updated)
            .await
            .map_err(Error::Record)?;
        written = replaced.metadata.resource_version;
        fail::fail_point!(crate::ops::failpoints::UPDATE_RUN_AFTER_STATUS_WRITE);
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
                secondary: note.cluster.map(|name| ObjectReference {
                    api_version: Some("cluster.kubernetes-fleet.io/v1beta1".into()),
                    kind: Some("MemberCluster".into()),
                    name: Some(name),
                    ..Default::default()
                }),
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
    // SD-34: series exist only for runs with failed, skipped or excluded clusters.
    if status.cluster_counts.is_some() || old.cluster_counts.is_some() {
        let c = status.cluster_counts.clone().unwrap_or_default();
        ctx.metrics
            .set_run_clusters(&labels, c.failed.into(), c.skipped.into(), c.excluded.into());
    }
    Ok(written)
}

/// How soon a pass that lost a race (409 Conflict) runs again: at once, with what the winner wrote.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);
/// How soon a pass whose caches lag this controller's own writes looks again (the watch events
/// that bring the writes usually wake it first).
const STALE_RETRY: Duration = Duration::from_secs(1);

/// Per-run exponential back-off: 0.5 s doubling, at most 30 s; reset by a clean pass. A lost
/// race is retried at once and does not grow the back-off: at fleet scale other writers (the
/// work generator reporting on bindings) touch the same objects all the time. The cap is short
/// (SD-36): an API server away for a minute fails ten passes in a row, and with a 5-minute cap
/// the run then sat idle for minutes after the server came back.
fn error_policy<K>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> ControllerAction
where
    K: Resource<DynamicType = ()>,
{
    let key = format!(
        "{}/{}",
        obj.meta().namespace.clone().unwrap_or_default(),
        obj.meta().name.clone().unwrap_or_default()
    );
    let failures = if error.is_conflict() {
        0
    } else {
        ctx.failures
            .lock()
            .map(|mut f| {
                let n = f.entry(key.clone()).or_insert(0);
                *n = n.saturating_add(1);
                *n
            })
            .unwrap_or(1)
    };
    ctx.metrics.count_reconcile(ctx.controller, error.label());
    let reason = match error {
        Error::Act(ActError { source, .. })
        | Error::Record(source)
        | Error::Observe(ObserveError::Api { source, .. }) => error_reason(source),
        other => other.label().to_string(),
    };
    ctx.metrics.count_reconcile_error(ctx.controller, &reason);
    let delay = if matches!(error, Error::Observe(ObserveError::Stale(_))) {
        STALE_RETRY
    } else if error.is_conflict() {
        CONFLICT_RETRY
    } else {
        Duration::from_millis(500u64.saturating_mul(1u64 << failures.min(10))).min(MOST_WAIT)
    };
    if error.is_conflict() {
        debug!(run = %key, controller = ctx.controller, reason, %error, retry_in = ?delay, "pass raced another writer; retrying");
    } else {
        warn!(run = %key, controller = ctx.controller, reason, %error, retry_in = ?delay, "reconcile failed");
    }
    ControllerAction::requeue(delay)
}
