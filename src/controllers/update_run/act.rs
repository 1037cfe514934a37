//! Carries out a decision's actions, in order. Each is idempotent: creating something that exists
//! or deleting something already gone is success. Writes that depend on what was read carry its
//! `resourceVersion`, so a concurrent change makes them fail and the pass is retried.

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::decide::model::{Action, BindingTarget, Observed, RunView};
use super::kinds::{KindSet, field, generation};
use super::reasons::{APPROVAL_ACCEPTED, ROLLOUT_STARTED, msg, types};
use crate::api::condition::Condition;
use crate::api::labels::{
    IS_LATEST_UPDATE_RUN_APPROVAL, SNAPSHOT_REQUESTED_AT, STAGED_UPDATE_RUN_FINALIZER, TARGET_UPDATE_RUN,
    TARGET_UPDATING_STAGE, TASK_TYPE,
};
use crate::api::placement::ApprovalRequestStatus;
use crate::controllers::shared::{exact_apply_strategy, ok_if_missing};

/// Most bindings of one wave written at once.
const START_CONCURRENCY: usize = 16;

/// Field manager of every write (upstream's name, shared by both scopes: Q16).
pub const FIELD_MANAGER: &str = "cluster-staged-update-run-controller";

/// An action failed.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {source}")]
pub struct ActError {
    /// The action, in words.
    pub action: String,
    /// The API error.
    #[source]
    pub source: kube::Error,
}

/// What the actions wrote that the next pass must see.
#[derive(Debug, Default)]
pub struct Acted {
    /// The run's new `resourceVersion`, if an action changed the run object itself.
    pub run_version: Option<String>,
    /// Bindings pointed at the run's version, with the generation the write gave them (its
    /// `RolloutStarted` carries the same): a watch cache older than that is not read.
    pub started: Vec<(String, i64)>,
}

/// Runs the actions in order.
pub async fn act(client: &Client, kinds: &KindSet, obs: &Observed, actions: &[Action]) -> Result<Acted, ActError> {
    let run = &obs.run;
    let ns = run.namespace.as_deref();
    let mut run_version = None;
    let mut started = Vec::new();
    let mut index = 0;
    while index < actions.len() {
        let action = &actions[index];
        let wrap = |source| ActError {
            action: format!("{action:?}"),
            source,
        };
        index += 1;
        match action {
            Action::AddFinalizer | Action::RemoveFinalizer => {
                let add = matches!(action, Action::AddFinalizer);
                run_version = set_finalizer(client, kinds, run, add, run_version.clone())
                    .await
                    .map_err(wrap)?;
            }
            Action::CreateApproval { name, stage, position } => {
                let api = kinds.api(client, &kinds.approval, ns);
                let mut obj = DynamicObject::new(name, &kinds.approval);
                obj.metadata.namespace = run.namespace.clone();
                obj.metadata.labels = Some(
                    [
                        (TARGET_UPDATE_RUN.to_string(), run.name.clone()),
                        (TARGET_UPDATING_STAGE.to_string(), stage.clone()),
                        (TASK_TYPE.to_string(), position.label().to_string()),
                        (IS_LATEST_UPDATE_RUN_APPROVAL.to_string(), "true".to_string()),
                    ]
                    .into(),
                );
                obj.data = json!({"spec": {"parentStageRollout": run.name, "targetStage": stage}});
                match api.create(&PostParams::default(), &obj).await {
                    Ok(_) => fail::fail_point!(crate::ops::failpoints::UPDATE_RUN_AFTER_APPROVAL_CREATE),
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(e) => return Err(wrap(e)),
                }
            }
            Action::AcceptApproval { name } => accept_approval(client, kinds, ns, name, obs.now).await.map_err(wrap)?,
            Action::StartBinding { .. } => {
                // A wave of clusters starts together: the bindings are independent, so they are
                // written side by side (a few at a time) instead of one round trip after another.
                let mut wave = vec![action];
                while let Some(next @ Action::StartBinding { .. }) = actions.get(index) {
                    wave.push(next);
                    index += 1;
                }
                let writes: Vec<_> = wave
                    .into_iter()
                    .map(|action| start_one(client, kinds, obs, action))
                    .collect();
                let results: Vec<Result<(String, i64), ActError>> = futures::stream::iter(writes)
                    .buffer_unordered(START_CONCURRENCY)
                    .collect()
                    .await;
                for result in results {
                    started.push(result?);
                }
            }
            Action::DeleteBinding { binding } => {
                let api = kinds.api(client, &kinds.binding, ns);
                ok_if_missing(api.delete(binding, &DeleteParams::default()).await).map_err(wrap)?;
                fail::fail_point!(crate::ops::failpoints::UPDATE_RUN_AFTER_BINDING_DELETE);
            }
            Action::RequestSnapshot => {
                let api = kinds.api(client, &kinds.placement, ns);
                let at = obs.now.round(jiff::Unit::Second).unwrap_or(obs.now).to_string();
                let patch = json!({"metadata": {"annotations": {SNAPSHOT_REQUESTED_AT: at}}});
                match api
                    .patch(&run.spec.placement_name, &merge_params(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(wrap(e)),
                }
            }
            Action::DeleteApprovals => {
                let api = kinds.api(client, &kinds.approval, ns);
                let labelled = ListParams::default().labels(&format!("{TARGET_UPDATE_RUN}={}", run.name));
                for approval in api.list(&labelled).await.map_err(wrap)? {
                    ok_if_missing(api.delete(&approval.name_any(), &DeleteParams::default()).await).map_err(wrap)?;
                }
            }
        }
    }
    Ok(Acted { run_version, started })
}

/// One `StartBinding` of a wave.
async fn start_one(
    client: &Client,
    kinds: &KindSet,
    obs: &Observed,
    action: &Action,
) -> Result<(String, i64), ActError> {
    let Action::StartBinding {
        binding,
        target,
        message,
    } = action
    else {
        unreachable!("a wave holds StartBinding actions only");
    };
    let observed_version = obs
        .bindings
        .iter()
        .find(|b| &b.name == binding)
        .and_then(|b| b.resource_version.clone());
    let start = StartBinding {
        name: binding,
        observed_version,
        target: target.as_ref(),
        message,
    };
    let written = start_binding(client, kinds, obs.run.namespace.as_deref(), &start, obs.now).await;
    if written.is_ok() {
        fail::fail_point!(crate::ops::failpoints::UPDATE_RUN_AFTER_BINDING_WRITE);
    }
    written
        .map(|generation| (binding.clone(), generation))
        .map_err(|source| ActError {
            action: format!("{action:?}"),
            source,
        })
}

async fn set_finalizer(
    client: &Client,
    kinds: &KindSet,
    run: &RunView,
    add: bool,
    version: Option<String>,
) -> Result<Option<String>, kube::Error> {
    let api = kinds.api(client, &kinds.run, run.namespace.as_deref());
    let current = api.get(&run.name).await?;
    let mut finalizers = current.finalizers().to_vec();
    let present = finalizers.iter().any(|f| f == STAGED_UPDATE_RUN_FINALIZER);
    match (add, present) {
        (true, false) => finalizers.push(STAGED_UPDATE_RUN_FINALIZER.to_string()),
        (false, true) => finalizers.retain(|f| f != STAGED_UPDATE_RUN_FINALIZER),
        _ => return Ok(version),
    }
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": current.resource_version()}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api.patch(&run.name, &params, &Patch::Merge(&patch)).await {
        Ok(updated) => Ok(updated.resource_version()),
        // The run is gone once its last finalizer is removed.
        Err(kube::Error::Api(s)) if s.code == 404 && !add => Ok(None),
        Err(e) => Err(e),
    }
}

fn merge_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// Writes `ApprovalAccepted=True` next to the person's `Approved` condition, filling in a missing
/// `lastTransitionTime` on it (SD-8).
async fn accept_approval(
    client: &Client,
    kinds: &KindSet,
    ns: Option<&str>,
    name: &str,
    now: Timestamp,
) -> Result<(), kube::Error> {
    let api = kinds.api(client, &kinds.approval, ns);
    let current = api.get(name).await?;
    let status: ApprovalRequestStatus = field(&current, "status").unwrap_or_default();
    let mut conditions: Vec<Condition> = status.conditions.unwrap_or_default();
    for c in conditions.iter_mut().filter(|c| c.type_ == types::APPROVED) {
        c.last_transition_time.get_or_insert(Time(now));
    }
    conditions.retain(|c| c.type_ != types::APPROVAL_ACCEPTED);
    conditions.push(Condition {
        type_: types::APPROVAL_ACCEPTED.into(),
        status: "True".into(),
        observed_generation: Some(generation(&current.metadata)),
        last_transition_time: Some(Time(now)),
        reason: APPROVAL_ACCEPTED.into(),
        message: msg::APPROVAL_ACCEPTED.into(),
    });
    let patch = json!({
        "metadata": {"resourceVersion": current.resource_version()},
        "status": {"conditions": conditions},
    });
    api.patch_status(name, &merge_params(), &Patch::Merge(&patch)).await?;
    Ok(())
}

/// One binding a run starts.
struct StartBinding<'a> {
    name: &'a str,
    /// The version the run decided from (its cache); `None` reads the binding first.
    observed_version: Option<String>,
    target: Option<&'a BindingTarget>,
    message: &'a str,
}

/// Points a binding at the run's version (`Bound`, snapshot, no overrides, apply strategy), then
/// replaces its `RolloutStarted` condition with a fresh one for the new generation.
///
/// The spec write is conditional on the version the run decided from, so a binding that changed
/// since (the scheduler unscheduled it, another run took it) is not overwritten: the write fails
/// with a conflict and the run decides again (SD-18).
async fn start_binding(
    client: &Client,
    kinds: &KindSet,
    ns: Option<&str>,
    start: &StartBinding<'_>,
    now: Timestamp,
) -> Result<i64, kube::Error> {
    let StartBinding {
        name, target, message, ..
    } = *start;
    let api = kinds.api(client, &kinds.binding, ns);
    let version = match &start.observed_version {
        Some(version) => Some(version.clone()),
        None => api.get(name).await?.resource_version(),
    };
    let mut spec = json!({"state": "Bound"});
    if let Some(target) = target {
        spec["resourceSnapshotName"] = json!(target.resource_snapshot_name);
        spec["resourceOverrideSnapshots"] = Value::Null;
        spec["clusterResourceOverrideSnapshots"] = Value::Null;
        spec["applyStrategy"] = exact_apply_strategy(&target.apply_strategy);
    }
    let patch = json!({"metadata": {"resourceVersion": version}, "spec": spec});
    let updated = api.patch(name, &merge_params(), &Patch::Merge(&patch)).await?;
    let generation = generation(&updated.metadata);
    // Server-side apply of the one condition this controller owns (the list is keyed by type):
    // the work generator reports on the same binding at the same time, and neither has to read,
    // modify and write the other's conditions, so neither loses a race (SD-18).
    let mut body = json!({
        "apiVersion": kinds.binding.api_version, "kind": kinds.binding.kind,
        "metadata": {"name": name},
        "status": {"conditions": [Condition {
            type_: types::ROLLOUT_STARTED.into(),
            status: "True".into(),
            observed_generation: Some(generation),
            last_transition_time: Some(Time(now)),
            reason: ROLLOUT_STARTED.into(),
            message: message.into(),
        }]},
    });
    if let Some(ns) = ns {
        body["metadata"]["namespace"] = json!(ns);
    }
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(name, &apply, &Patch::Apply(&body)).await?;
    Ok(generation)
}
