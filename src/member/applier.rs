//! The work applier (`placement-pipeline.md` §12.1, §12.5): applies the manifests of the Works in
//! the member's hub namespace to the member cluster, owned by an AppliedWork, reports per
//! manifest and per Work whether they are applied and available, removes what left a Work, and
//! on Work deletion lets the member's garbage collector remove what the Work placed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams, Preconditions,
};
use kube::discovery::{Scope, pinned_kind};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::{info, warn};

use super::join::Joined;
use super::judge::{Availability, availability, prepare, wave, work_conditions};
use crate::api::condition::Condition;
use crate::api::labels::{WORK_CLEANUP_FINALIZER, member_namespace};
use crate::api::placement::{
    AppliedResourceMeta, AppliedWork, AppliedWorkSpec, AppliedWorkStatus, ApplyStrategy, ApplyStrategyType,
    ManifestCondition, WhenToTakeOver, Work, WorkResourceIdentifier, WorkStatus,
};
use crate::conditions::{Status, find, set};
pub use crate::controllers::shared::Error;
use crate::controllers::shared::{ok_if_missing, patch_params};

/// Field manager of everything the agent applies on the member (upstream's name).
pub const FIELD_MANAGER: &str = "work-api-agent";
/// Field managers whose fields the agent may take over by force.
const OWN_MANAGERS: [&str; 2] = [FIELD_MANAGER, "before-first-apply"];
/// Look again this soon while something is not applied or not available yet.
const PROGRESS_POLL: Duration = Duration::from_secs(3);
/// Re-apply and re-check a settled Work this often.
const SETTLED_POLL: Duration = Duration::from_secs(60);

struct Context {
    hub: Client,
    member: Client,
    namespace: String,
    joined: Joined,
    /// apiVersion/kind → resource and whether it is namespaced.
    kinds: Mutex<HashMap<String, (ApiResource, bool)>>,
}

/// Runs the applier for the Works of `fleet-member-<name>` until `shutdown`.
pub async fn run(
    hub: Client,
    member: Client,
    name: &str,
    joined: Joined,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let namespace = member_namespace(name);
    let context = Arc::new(Context {
        hub: hub.clone(),
        member,
        namespace: namespace.clone(),
        joined,
        kinds: Mutex::new(HashMap::new()),
    });
    info!(%namespace, "work applier starting");
    Controller::new(Api::<Work>::namespaced(hub, &namespace), watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(|_| std::future::ready(()))
        .await;
}

fn error_policy(work: Arc<Work>, error: &Error, _: Arc<Context>) -> Action {
    warn!(work = %work.name_any(), %error, "applying a work failed");
    Action::requeue(Duration::from_secs(5))
}

fn hub_params() -> PatchParams {
    patch_params(FIELD_MANAGER)
}

async fn reconcile(work: Arc<Work>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !ctx.joined.get() {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let name = work.name_any();
    let works = Api::<Work>::namespaced(ctx.hub.clone(), &ctx.namespace);
    let applied_works = Api::<AppliedWork>::all(ctx.member.clone());
    let has_finalizer = work.finalizers().iter().any(|f| f == WORK_CLEANUP_FINALIZER);
    if work.metadata.deletion_timestamp.is_some() {
        if !has_finalizer {
            return Ok(Action::await_change());
        }
        // Foreground deletion: the member's garbage collector removes every object the
        // AppliedWork solely owns before the AppliedWork itself goes.
        if applied_works.get_opt(&name).await?.is_some() {
            ok_if_missing(applied_works.delete(&name, &DeleteParams::foreground()).await)?;
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        let finalizers: Vec<&String> = work
            .finalizers()
            .iter()
            .filter(|f| *f != WORK_CLEANUP_FINALIZER)
            .collect();
        let patch = json!({"metadata": {"finalizers": finalizers}});
        ok_if_missing(works.patch(&name, &hub_params(), &Patch::Merge(&patch)).await)?;
        info!(work = %name, "work deleted: what it placed is removed");
        return Ok(Action::await_change());
    }
    if !has_finalizer {
        let mut finalizers = work.finalizers().to_vec();
        finalizers.push(WORK_CLEANUP_FINALIZER.into());
        let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": work.resource_version()}});
        works.patch(&name, &hub_params(), &Patch::Merge(&patch)).await?;
    }
    let applied_work = ensure_applied_work(&applied_works, &name, &ctx.namespace).await?;
    let owner = OwnerReference {
        api_version: "placement.kubernetes-fleet.io/v1beta1".into(),
        kind: "AppliedWork".into(),
        name: name.clone(),
        uid: applied_work.uid().unwrap_or_default(),
        block_owner_deletion: Some(true),
        controller: None,
    };
    let strategy = work.spec.apply_strategy.clone().unwrap_or_default().defaulted();
    let manifests = work.spec.workload.manifests.clone().unwrap_or_default();
    let generation = work.metadata.generation.unwrap_or_default();
    let old_status = work.status.clone().unwrap_or_default();
    let now = Timestamp::now();

    // Resolve every manifest first: the identifier list is also what tells left-overs apart.
    let mut plans = Vec::new();
    for (ordinal, manifest) in manifests.iter().enumerate() {
        plans.push(resolve(&ctx, ordinal, manifest).await);
    }
    let mut seen = Vec::new();
    for plan in &mut plans {
        if let Ok((id, _, _)) = plan {
            let key = (id.group.clone(), id.kind.clone(), id.namespace.clone(), id.name.clone());
            if seen.contains(&key) {
                *plan = Err((
                    id.clone(),
                    "Duplicated",
                    format!("the manifest duplicates an earlier one ({} {})", id.kind, id.name),
                ));
            } else {
                seen.push(key);
            }
        }
    }
    let current_ids: Vec<&WorkResourceIdentifier> = plans
        .iter()
        .map(|p| match p {
            Ok((id, _, _)) | Err((id, _, _)) => id,
        })
        .collect();
    for old in old_status.manifest_conditions.iter().flatten() {
        let gone = !current_ids.iter().any(|id| same_object(id, &old.identifier));
        if gone && !old.identifier.resource.is_empty() {
            remove_left_over(&ctx, &old.identifier, &owner).await?;
        }
    }

    let mut order: Vec<usize> = (0..plans.len()).collect();
    order.sort_by_key(|i| match &plans[*i] {
        Ok((id, _, _)) => (wave(&id.resource), *i),
        Err(_) => (0, *i),
    });
    let mut results: Vec<Option<ManifestCondition>> = vec![None; plans.len()];
    let mut applied_resources = Vec::new();
    for i in order {
        let previous = old_status
            .manifest_conditions
            .iter()
            .flatten()
            .find(|m| plans[i].as_ref().map_or_else(|(id, _, _)| id, |(id, _, _)| id) == &m.identifier)
            .map(|m| Some(m.conditions.clone()))
            .unwrap_or(None);
        let condition = match &plans[i] {
            Err((id, reason, message)) => failed(id.clone(), previous, reason, message, now),
            Ok((id, resource, namespaced)) => {
                let api = object_api(&ctx.member, resource, *namespaced, &id.namespace);
                match apply(&api, &manifests[i], id, &owner, &strategy).await {
                    Err((reason, message)) => failed(id.clone(), previous, reason, &message, now),
                    Ok(live) => {
                        applied_resources.push(AppliedResourceMeta {
                            identifier: id.clone(),
                            uid: live.uid(),
                        });
                        succeeded(id.clone(), previous, &live, now)
                    }
                }
            }
        };
        results[i] = Some(condition);
    }
    let manifest_conditions: Vec<ManifestCondition> = results.into_iter().flatten().collect();
    let conditions = work_conditions(
        &Some(old_status.conditions.clone()),
        &manifest_conditions,
        generation,
        now,
    );
    let status = WorkStatus {
        conditions,
        manifest_conditions: Some(manifest_conditions),
    };
    if work.status.as_ref() != Some(&status) {
        let patch = json!({"status": status});
        works.patch_status(&name, &hub_params(), &Patch::Merge(&patch)).await?;
    }
    let applied_status = AppliedWorkStatus {
        applied_resources: Some(applied_resources),
    };
    if applied_work.status.as_ref() != Some(&applied_status) {
        let patch = json!({"status": applied_status});
        ok_if_missing(
            applied_works
                .patch_status(&name, &hub_params(), &Patch::Merge(&patch))
                .await,
        )?;
    }
    let settled = find(&Some(status.conditions), "Available").is_some_and(|c| c.status == "True");
    Ok(Action::requeue(if settled { SETTLED_POLL } else { PROGRESS_POLL }))
}

async fn ensure_applied_work(api: &Api<AppliedWork>, name: &str, namespace: &str) -> Result<AppliedWork, Error> {
    if let Some(existing) = api.get_opt(name).await? {
        return Ok(existing);
    }
    let applied = AppliedWork::new(
        name,
        AppliedWorkSpec {
            work_name: name.into(),
            work_namespace: namespace.into(),
        },
    );
    match api.create(&PostParams::default(), &applied).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(api.get(name).await?),
        Err(e) => Err(e.into()),
    }
}

type Resolved = Result<(WorkResourceIdentifier, ApiResource, bool), (WorkResourceIdentifier, &'static str, String)>;

/// The identifier and API resource of a manifest, or why it cannot be applied.
async fn resolve(ctx: &Context, ordinal: usize, manifest: &Value) -> Resolved {
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let mut id = WorkResourceIdentifier {
        ordinal: i32::try_from(ordinal).unwrap_or(i32::MAX),
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        resource: String::new(),
        namespace: manifest["metadata"]["namespace"].as_str().unwrap_or_default().into(),
        name: manifest["metadata"]["name"].as_str().unwrap_or_default().into(),
    };
    if kind.is_empty() || version.is_empty() {
        return Err((id, "DecodingErred", "the manifest has no apiVersion or kind".into()));
    }
    if id.name.is_empty() {
        let reason = if manifest["metadata"]["generateName"].is_string() {
            "FoundGenerateName"
        } else {
            "DecodingErred"
        };
        return Err((id, reason, "the manifest has no metadata.name".into()));
    }
    let key = format!("{api_version}/{kind}");
    let cached = ctx.kinds.lock().expect("kind cache").get(&key).cloned();
    let (resource, namespaced) = match cached {
        Some(found) => found,
        None => match pinned_kind(&ctx.member, &GroupVersionKind::gvk(group, version, kind)).await {
            Ok((resource, caps)) => {
                let found = (resource, caps.scope == Scope::Namespaced);
                ctx.kinds.lock().expect("kind cache").insert(key, found.clone());
                found
            }
            Err(e) => {
                return Err((
                    id,
                    "DecodingErred",
                    format!("the member cluster does not serve {api_version}, Kind={kind}: {e}"),
                ));
            }
        },
    };
    id.resource = resource.plural.clone();
    Ok((id, resource, namespaced))
}

fn object_api(client: &Client, resource: &ApiResource, namespaced: bool, namespace: &str) -> Api<DynamicObject> {
    if namespaced {
        Api::namespaced_with(client.clone(), namespace, resource)
    } else {
        Api::all_with(client.clone(), resource)
    }
}

fn same_object(a: &WorkResourceIdentifier, b: &WorkResourceIdentifier) -> bool {
    a.group == b.group && a.kind == b.kind && a.namespace == b.namespace && a.name == b.name
}

/// Takes over (when allowed) and applies one manifest; returns the live object.
async fn apply(
    api: &Api<DynamicObject>,
    manifest: &Value,
    id: &WorkResourceIdentifier,
    owner: &OwnerReference,
    strategy: &ApplyStrategy,
) -> Result<DynamicObject, (&'static str, String)> {
    let message = |e: &dyn std::fmt::Display| format!("Failed to apply the manifest (error: {e})");
    let live = api
        .get_opt(&id.name)
        .await
        .map_err(|e| ("FailedToFindObjInMemberCluster", message(&e)))?;
    let mut force = strategy.type_ == Some(ApplyStrategyType::ClientSideApply)
        || strategy
            .server_side_apply_config
            .as_ref()
            .and_then(|c| c.force)
            .unwrap_or(false);
    if let Some(live) = &live {
        let owners = live.owner_references();
        if !owners.iter().any(|o| o.uid == owner.uid) {
            if strategy.when_to_take_over == Some(WhenToTakeOver::Never) {
                return Err((
                    "NotTakenOver",
                    message(
                        &"the object already exists on the member cluster and is not managed by Fleet; the apply strategy's whenToTakeOver is Never",
                    ),
                ));
            }
            if let Some(other) = owners.iter().find(|o| o.kind == "AppliedWork") {
                return Err((
                    "FailedToTakeOver",
                    message(&format!(
                        "the object is already placed by another Work ({})",
                        other.name
                    )),
                ));
            }
            if !owners.is_empty() && strategy.allow_co_ownership != Some(true) {
                return Err((
                    "FailedToTakeOver",
                    message(&"the object is already owned by some other sources(s) and co-ownership is disallowed"),
                ));
            }
        } else if owners.len() > 1 && strategy.allow_co_ownership != Some(true) {
            return Err((
                "ManifestApplyFailed",
                message(&"the object is co-owned by other sources and co-ownership is disallowed"),
            ));
        }
        let managers = live.managed_fields();
        force |= !managers.is_empty()
            && managers
                .iter()
                .all(|m| m.manager.as_deref().is_some_and(|n| OWN_MANAGERS.contains(&n)));
    }
    let mut object = prepare(manifest);
    object["metadata"]["ownerReferences"] = serde_json::to_value([owner]).unwrap_or(Value::Null);
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = force;
    api.patch(&id.name, &params, &Patch::Apply(&object))
        .await
        .map_err(|e| ("ManifestApplyFailed", message(&api_message(&e))))
}

fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// A manifest that left the Work: its object goes, or only loses our owner reference when it has
/// other owners.
async fn remove_left_over(ctx: &Context, id: &WorkResourceIdentifier, owner: &OwnerReference) -> Result<(), Error> {
    let resource = ApiResource {
        group: id.group.clone(),
        version: id.version.clone(),
        api_version: if id.group.is_empty() {
            id.version.clone()
        } else {
            format!("{}/{}", id.group, id.version)
        },
        kind: id.kind.clone(),
        plural: id.resource.clone(),
    };
    let api = object_api(&ctx.member, &resource, !id.namespace.is_empty(), &id.namespace);
    let Some(live) = api.get_opt(&id.name).await? else {
        return Ok(());
    };
    let owners = live.owner_references();
    if !owners.iter().any(|o| o.uid == owner.uid) {
        return Ok(());
    }
    if owners.len() > 1 {
        let rest: Vec<&OwnerReference> = owners.iter().filter(|o| o.uid != owner.uid).collect();
        let patch = json!({"metadata": {"ownerReferences": rest, "resourceVersion": live.resource_version()}});
        api.patch(&id.name, &hub_params(), &Patch::Merge(&patch)).await?;
    } else {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: live.uid(),
                resource_version: None,
            }),
            ..Default::default()
        };
        ok_if_missing(api.delete(&id.name, &params).await)?;
        info!(kind = %id.kind, name = %id.name, "removed an object that left its work");
    }
    Ok(())
}

fn failed(
    identifier: WorkResourceIdentifier,
    previous: Option<Vec<Condition>>,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> ManifestCondition {
    let mut conditions = previous;
    set(&mut conditions, "Applied", Status::False, reason, message, 0, now);
    crate::conditions::remove(&mut conditions, "Available");
    manifest_condition(identifier, conditions)
}

fn succeeded(
    identifier: WorkResourceIdentifier,
    previous: Option<Vec<Condition>>,
    live: &DynamicObject,
    now: Timestamp,
) -> ManifestCondition {
    let generation = live.meta().generation.unwrap_or_default();
    let mut conditions = previous;
    set(
        &mut conditions,
        "Applied",
        Status::True,
        "Applied",
        "Manifest has been applied successfully",
        generation,
        now,
    );
    let value = serde_json::to_value(live).unwrap_or(Value::Null);
    let (s, reason, message) = match availability(&identifier.group, &identifier.resource, &value) {
        Availability::Available => (Status::True, "Available", "Manifest is available"),
        Availability::NotTrackable => (Status::True, "NotTrackable", "Manifest's availability is not trackable"),
        Availability::NotYet => (
            Status::False,
            "ManifestNotAvailableYet",
            "Manifest is not available yet",
        ),
    };
    set(&mut conditions, "Available", s, reason, message, generation, now);
    manifest_condition(identifier, conditions)
}

fn manifest_condition(identifier: WorkResourceIdentifier, conditions: Option<Vec<Condition>>) -> ManifestCondition {
    ManifestCondition {
        identifier,
        conditions: conditions.unwrap_or_default(),
        drift_details: None,
        diff_details: None,
        back_reported_status: None,
    }
}
