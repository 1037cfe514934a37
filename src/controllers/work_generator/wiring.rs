//! Runs the work generator for ClusterResourceBindings and ResourceBindings, woken by binding
//! changes and by changes of the Works they own.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tracing::info;

use super::report::{OWNED, Outcome, report};
use super::works::{
    BindingRef, CLUSTER_OVERRIDE_HASH, DesiredWork, ExistingWork, OVERRIDE_HASH, SnapshotPart, desired, sync,
};
use crate::api::cluster::MemberCluster;
use crate::api::condition::Condition;
use crate::api::labels::{
    NUMBER_OF_RESOURCE_SNAPSHOTS, PARENT_PLACEMENT, PARENT_PLACEMENT_NAMESPACE, PARENT_RESOURCE_BINDING,
    PARENT_RESOURCE_SNAPSHOT_INDEX, PARENT_RESOURCE_SNAPSHOT_NAME, RESOURCE_INDEX, SUBINDEX_OF_RESOURCE_SNAPSHOT,
    WORK_CLEANUP_FINALIZER, member_namespace,
};
use crate::api::placement::{
    ApplyStrategy, ApplyStrategyType, BindingState, ClusterResourceBinding, ClusterResourceSnapshot, ResourceBinding,
    ResourceSnapshot, Work, WorkSpec, WorkloadTemplate,
};
use crate::conditions::find;
pub use crate::controllers::shared::Error;
use crate::controllers::shared::{OwnWrites, ok_if_missing, patch_params, record_failed_pass, retry_delay};
use crate::ops::metrics::Metrics;

/// Field manager of the work generator's writes.
pub const FIELD_MANAGER: &str = "work-generator";
/// How often a deleting binding checks that its Works are gone.
const DELETION_POLL: Duration = Duration::from_secs(5);

struct Context {
    client: Client,
    /// Every MemberCluster, from one watch shared by both binding kinds.
    members: Store<MemberCluster>,
    /// Every resource snapshot of this scope, from a watch.
    snapshots: Store<DynamicObject>,
    /// Every Work, from the watch that also wakes the bindings.
    works: Store<Work>,
    /// Names of the Works seen in each namespace (kept as the watch delivers them; a name whose
    /// Work is gone from `works` is skipped), so a pass reads its member's Works without a scan
    /// of the fleet's.
    work_names: Mutex<HashMap<String, BTreeSet<String>>>,
    binding: ApiResource,
    snapshot: ApiResource,
    cluster_scoped: bool,
    metrics: Arc<Metrics>,
    /// The binding versions this controller's own latest writes replaced (SD-19).
    own_writes: OwnWrites,
    /// Uids of the bindings this controller applied its finalizer to: a cache that does not show
    /// the finalizer yet must not make it apply it again.
    finalized: Mutex<HashSet<String>>,
}

impl Context {
    /// Whether the cached `binding` predates this controller's own last write of it.
    fn predates_own_write(&self, binding: &DynamicObject) -> bool {
        self.own_writes
            .predates(&binding_key(binding), binding.resource_version().as_deref())
    }

    /// Remembers that this controller wrote `binding` past the version it read.
    fn wrote(&self, binding: &DynamicObject) {
        self.own_writes
            .wrote(&binding_key(binding), binding.resource_version().into_iter().collect());
    }
}

fn binding_key(binding: &DynamicObject) -> String {
    format!("{}/{}", binding.namespace().unwrap_or_default(), binding.name_any())
}

/// Runs the work generator for both binding kinds until `shutdown`.
pub async fn run_controllers(
    client: Client,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let (members, writer) = reflector::store::<MemberCluster>();
    let member_watch = watcher(Api::<MemberCluster>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(crate::controllers::shared::drop_managed_fields)
        .reflect(writer)
        .for_each(|_| std::future::ready(()));
    let cluster = controller(client.clone(), true, members.clone(), metrics.clone(), shutdown.clone());
    let namespaced = controller(client, false, members, metrics, shutdown.clone());
    // The member watch ends with the controllers.
    tokio::select! {
        _ = async { futures::join!(cluster, namespaced) } => {}
        () = member_watch => {}
    }
}

async fn controller(
    client: Client,
    cluster_scoped: bool,
    members: Store<MemberCluster>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (binding, snapshot) = if cluster_scoped {
        (
            ApiResource::erase::<ClusterResourceBinding>(&()),
            ApiResource::erase::<ClusterResourceSnapshot>(&()),
        )
    } else {
        (
            ApiResource::erase::<ResourceBinding>(&()),
            ApiResource::erase::<ResourceSnapshot>(&()),
        )
    };
    let writer = reflector::store::Writer::<DynamicObject>::new(snapshot.clone());
    let snapshots = writer.as_reader();
    let snapshot_watch = watcher(
        Api::<DynamicObject>::all_with(client.clone(), &snapshot),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(crate::controllers::shared::drop_managed_fields)
    .reflect(writer)
    .for_each(|_| std::future::ready(()));
    let (works, work_writer) = reflector::store::<Work>();
    let context = Arc::new(Context {
        client: client.clone(),
        members,
        snapshots,
        works,
        work_names: Mutex::default(),
        binding: binding.clone(),
        snapshot,
        cluster_scoped,
        metrics,
        own_writes: OwnWrites::default(),
        finalized: Mutex::default(),
    });
    let owner = binding.clone();
    let index = context.clone();
    let work_events = watcher(Api::<Work>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(crate::controllers::shared::drop_managed_fields)
        .reflect(work_writer)
        .touched_objects()
        .inspect_ok(move |work: &Work| {
            if let (Some(ns), Ok(mut names)) = (work.namespace(), index.work_names.lock()) {
                names.entry(ns).or_default().insert(work.name_any());
            }
        });
    let name = if cluster_scoped {
        "clusterresourcebinding-work-generator"
    } else {
        "resourcebinding-work-generator"
    };
    info!(controller = name, "starting");
    let controller = Controller::new_with(
        Api::<DynamicObject>::all_with(client.clone(), &binding),
        watcher::Config::default(),
        binding,
    )
    .with_config(crate::controllers::tuning::controller_config())
    .watches_stream(work_events, move |work: Work| {
        let binding = work.labels().get(PARENT_RESOURCE_BINDING).cloned()?;
        let ns = work.labels().get(PARENT_PLACEMENT_NAMESPACE).cloned();
        if ns.is_some() == cluster_scoped {
            return None;
        }
        let reference = ObjectRef::new_with(&binding, owner.clone());
        Some(match ns {
            Some(ns) => reference.within(&ns),
            None => reference,
        })
    })
    .graceful_shutdown_on(shutdown)
    .run(reconcile, error_policy, context)
    .for_each(|_| std::future::ready(()));
    tokio::select! {
        () = controller => {}
        () = snapshot_watch => {}
    }
}

fn error_policy(obj: Arc<DynamicObject>, error: &Error, ctx: Arc<Context>) -> Action {
    record_failed_pass(&ctx.metrics, "WorkGenerator", "work generation", &obj.name_any(), error);
    Action::requeue(retry_delay(error, Duration::from_secs(2)))
}

fn params() -> PatchParams {
    patch_params(FIELD_MANAGER)
}

async fn reconcile(binding: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = binding.name_any();
    let ns = binding.namespace();
    let bindings = match &ns {
        Some(ns) => Api::<DynamicObject>::namespaced_with(ctx.client.clone(), ns, &ctx.binding),
        None => Api::<DynamicObject>::all_with(ctx.client.clone(), &ctx.binding),
    };
    let spec = &binding.data["spec"];
    let target = spec["targetCluster"].as_str().unwrap_or_default().to_string();
    let works = Api::<Work>::namespaced(ctx.client.clone(), &member_namespace(&target));
    let mut selector = format!("{PARENT_RESOURCE_BINDING}={name}");
    if let Some(ns) = &ns {
        selector.push_str(&format!(",{PARENT_PLACEMENT_NAMESPACE}={ns}"));
    }
    let owned = ListParams::default().labels(&selector);
    let has_finalizer = binding.finalizers().iter().any(|f| f == WORK_CLEANUP_FINALIZER);

    if binding.metadata.deletion_timestamp.is_some() {
        if !has_finalizer {
            return Ok(Action::await_change());
        }
        let remaining = works.list(&owned).await?.items;
        for work in remaining.iter().filter(|w| w.metadata.deletion_timestamp.is_none()) {
            ok_if_missing(works.delete(&work.name_any(), &DeleteParams::default()).await)?;
        }
        if remaining.is_empty() {
            let finalizers: Vec<&String> = binding
                .finalizers()
                .iter()
                .filter(|f| *f != WORK_CLEANUP_FINALIZER)
                .collect();
            let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": binding.resource_version()}});
            ok_if_missing(bindings.patch(&name, &params(), &Patch::Merge(&patch)).await)?;
            if let Ok(mut finalized) = ctx.finalized.lock() {
                finalized.remove(&binding.uid().unwrap_or_default());
            }
            return Ok(Action::await_change());
        }
        return Ok(Action::requeue(DELETION_POLL));
    }
    if ctx.predates_own_write(&binding) {
        return Ok(Action::await_change());
    }
    let state: BindingState = serde_json::from_value(spec["state"].clone())?;
    if state == BindingState::Scheduled {
        return Ok(Action::await_change());
    }
    if !member_exists(&ctx, &target).await? {
        return Ok(Action::await_change());
    }
    let uid = binding.uid().unwrap_or_default();
    let applied_before = ctx.finalized.lock().is_ok_and(|f| f.contains(&uid));
    if !has_finalizer && !applied_before {
        // Server-side apply of our one finalizer (a set): no race with the run writing the
        // binding at the same moment.
        let mut body = json!({
            "apiVersion": ctx.binding.api_version, "kind": ctx.binding.kind,
            "metadata": {"name": name, "finalizers": [WORK_CLEANUP_FINALIZER]},
        });
        if let Some(ns) = &ns {
            body["metadata"]["namespace"] = json!(ns);
        }
        bindings
            .patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body))
            .await?;
        ctx.wrote(&binding);
        if let Ok(mut finalized) = ctx.finalized.lock() {
            finalized.insert(uid.clone());
        }
        // Go on with this pass: waiting for the cache to show the finalizer would, under load,
        // apply it again and again.
    }
    let generation = binding.metadata.generation.unwrap_or_default();
    let conditions: Option<Vec<Condition>> = serde_json::from_value(binding.data["status"]["conditions"].clone()).ok();
    let rollout_decided = find(&conditions, "RolloutStarted")
        .is_some_and(|c| c.observed_generation == Some(generation) && c.status != "Unknown");
    if state == BindingState::Bound && !rollout_decided {
        // The rollout controller or the update run sets RolloutStarted right after the spec; that
        // status write wakes this binding again.
        return Ok(Action::await_change());
    }

    let placement = binding.labels().get(PARENT_PLACEMENT).cloned().unwrap_or_default();
    let snapshot_name = spec["resourceSnapshotName"].as_str().unwrap_or_default().to_string();
    let apply_strategy: Option<ApplyStrategy> = serde_json::from_value(spec["applyStrategy"].clone()).ok();
    let existing_works = cached_works(&ctx, &member_namespace(&target), &name, ns.as_deref());
    let (sync_error, changed, wrote, retry) = match load_group(&ctx, ns.as_deref(), &placement, &snapshot_name).await? {
        Group::Complete(index, parts) => {
            let binding_ref = BindingRef {
                name: &name,
                placement: &placement,
                namespace: ns.as_deref(),
                snapshot: &snapshot_name,
                index,
                apply_strategy: apply_strategy.as_ref(),
            };
            let existing: Vec<ExistingWork> = existing_works.iter().map(existing_work).collect();
            let plan = sync(desired(&binding_ref, &parts), &existing, apply_strategy.as_ref());
            let changed = plan.changes_works();
            // What the server answered to each write is the Work as it now is; only a create
            // that found the Work already there leaves its current state unknown.
            let mut written: BTreeMap<String, Option<Work>> = BTreeMap::new();
            for work in plan.create {
                let obj = work_object(&work, &member_namespace(&target), apply_strategy.as_ref());
                match works.create(&PostParams::default(), &obj).await {
                    Ok(created) => {
                        fail::fail_point!(crate::ops::failpoints::WORK_GENERATOR_AFTER_WORK_WRITE);
                        info!(binding = %name, work = %work.name, cluster = %target, "work created");
                        written.insert(work.name.clone(), Some(created));
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        written.insert(work.name.clone(), None);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            for work in plan.update {
                let patch = json!({
                    "metadata": {"labels": work.labels, "annotations": work.annotations},
                    "spec": {"workload": {"manifests": work.manifests}, "applyStrategy": apply_strategy},
                });
                let updated = works.patch(&work.name, &params(), &Patch::Merge(&patch)).await?;
                fail::fail_point!(crate::ops::failpoints::WORK_GENERATOR_AFTER_WORK_WRITE);
                info!(binding = %name, work = %work.name, cluster = %target, "work updated");
                written.insert(work.name.clone(), Some(updated));
            }
            for work in plan.restrategize {
                let patch = json!({"spec": {"applyStrategy": apply_strategy}});
                let updated = works.patch(&work, &params(), &Patch::Merge(&patch)).await?;
                written.insert(work, Some(updated));
            }
            let mut deleted = Vec::new();
            for work in plan.delete {
                ok_if_missing(works.delete(&work, &DeleteParams::default()).await)?;
                deleted.push(work);
            }
            let wrote = if written.is_empty() && deleted.is_empty() {
                Wrote::Nothing
            } else if written.values().any(Option::is_none) {
                Wrote::Unknown
            } else {
                Wrote::Known { written, deleted }
            };
            (None, changed, wrote, false)
        }
        Group::Incomplete => (None, false, Wrote::Nothing, true),
        Group::Missing => {
            let synced = !existing_works.is_empty()
                && existing_works
                    .iter()
                    .all(|w| w.annotations().get(PARENT_RESOURCE_SNAPSHOT_NAME) == Some(&snapshot_name));
            let error = (!synced)
                .then(|| format!("resource snapshot {snapshot_name:?} of placement {placement:?} is not found"));
            (error, false, Wrote::Nothing, true)
        }
    };
    let current = match wrote {
        Wrote::Nothing => existing_works,
        Wrote::Known { written, deleted } => {
            let mut current: BTreeMap<String, Work> = existing_works
                .into_iter()
                .filter(|w| !deleted.contains(&w.name_any()))
                .map(|w| (w.name_any(), w))
                .collect();
            current.extend(written.into_iter().filter_map(|(name, work)| Some((name, work?))));
            current.into_values().collect()
        }
        Wrote::Unknown => works.list(&owned).await?.items,
    };
    let report_diff = apply_strategy
        .as_ref()
        .is_some_and(|a| a.type_ == Some(ApplyStrategyType::ReportDiff));
    let outcome = Outcome {
        generation,
        report_diff,
        sync_error,
        changed,
        works: &current,
    };
    let new = report(&conditions, &outcome, Timestamp::now());
    let old_failed = binding.data["status"]["failedPlacements"].clone();
    let new_failed = serde_json::to_value(&new.failed)?;
    if new.conditions != conditions || old_failed != new_failed {
        let ours = |list: &Option<Vec<Condition>>| -> Vec<Condition> {
            list.iter()
                .flatten()
                .filter(|c| OWNED.contains(&c.type_.as_str()))
                .cloned()
                .collect()
        };
        let after = ours(&new.conditions);
        // Bindings whose status this controller once wrote with merge patches (earlier versions
        // did) keep that path: server-side apply removes only what it applied itself.
        let merged_before = binding.metadata.managed_fields.iter().flatten().any(|m| {
            m.manager.as_deref() == Some(FIELD_MANAGER)
                && m.operation.as_deref() == Some("Update")
                && m.subresource.as_deref() == Some("status")
        });
        if merged_before
            || binding.data["status"]["driftedPlacements"].is_array()
            || binding.data["status"]["diffedPlacements"].is_array()
        {
            let patch = json!({
                "metadata": {"resourceVersion": binding.resource_version()},
                "status": {"conditions": new.conditions, "failedPlacements": new_failed,
                           "driftedPlacements": null, "diffedPlacements": null},
            });
            bindings.patch_status(&name, &params(), &Patch::Merge(&patch)).await?;
            ctx.wrote(&binding);
        } else {
            // Server-side apply of only the conditions this controller owns (the list is keyed by
            // type): no read-modify-write race with the run or rollout controller writing
            // RolloutStarted on the same binding, so no conflict to retry (SD-18).
            let mut status = json!({"conditions": after});
            if !new_failed.is_null() {
                status["failedPlacements"] = new_failed;
            }
            let mut body = json!({
                "apiVersion": ctx.binding.api_version, "kind": ctx.binding.kind,
                "metadata": {"name": name},
                "status": status,
            });
            if let Some(ns) = &ns {
                body["metadata"]["namespace"] = json!(ns);
            }
            let apply = PatchParams::apply(FIELD_MANAGER).force();
            bindings.patch_status(&name, &apply, &Patch::Apply(&body)).await?;
            ctx.wrote(&binding);
        }
    }
    ctx.metrics.count_reconcile("WorkGenerator", "success");
    Ok(if retry {
        Action::requeue(Duration::from_secs(5))
    } else {
        Action::await_change()
    })
}

/// What a pass wrote to the binding's Works.
enum Wrote {
    /// No Work was written.
    Nothing,
    /// The server's answer to every write, by Work name, and the Works deleted.
    Known {
        written: BTreeMap<String, Option<Work>>,
        deleted: Vec<String>,
    },
    /// A write's result is unknown (the Work existed already): the Works must be listed.
    Unknown,
}

/// The binding's Works from the watch cache. A cache that lags this controller's own writes
/// makes it write again (idempotent), and after any write the pass goes on with the Works the
/// server answered (listing them only when a create found a Work already there);
/// availability is judged per Work at its own generation, so a lagging cache never reports more
/// than happened.
fn cached_works(ctx: &Context, namespace: &str, binding: &str, placement_namespace: Option<&str>) -> Vec<Work> {
    let names: Vec<String> = ctx
        .work_names
        .lock()
        .ok()
        .and_then(|n| n.get(namespace).map(|s| s.iter().cloned().collect()))
        .unwrap_or_default();
    names
        .iter()
        .filter_map(|name| ctx.works.get(&ObjectRef::new(name).within(namespace)))
        .filter(|w| {
            w.labels().get(PARENT_RESOURCE_BINDING).map(String::as_str) == Some(binding)
                && w.labels().get(PARENT_PLACEMENT_NAMESPACE).map(String::as_str) == placement_namespace
        })
        .map(|w| (*w).clone())
        .collect()
}

/// Whether the member cluster exists: from the watch cache, or (not there yet) from the API server.
async fn member_exists(ctx: &Context, name: &str) -> Result<bool, Error> {
    if ctx.members.get(&ObjectRef::new(name)).is_some() {
        return Ok(true);
    }
    Ok(Api::<MemberCluster>::all(ctx.client.clone())
        .get_opt(name)
        .await?
        .is_some())
}

enum Group {
    Complete(u64, Vec<SnapshotPart>),
    Incomplete,
    Missing,
}

/// The snapshot group the binding names, master first: from the watch cache when it holds the
/// whole group, else from the API server (a snapshot created a moment ago).
async fn load_group(ctx: &Context, ns: Option<&str>, placement: &str, master: &str) -> Result<Group, Error> {
    let reference = |name: &str| {
        let r = ObjectRef::new_with(name, ctx.snapshot.clone());
        match ns {
            Some(ns) if !ctx.cluster_scoped => r.within(ns),
            _ => r,
        }
    };
    if let Some(head) = ctx.snapshots.get(&reference(master)) {
        let cached = |index: u64| {
            ctx.snapshots
                .state()
                .into_iter()
                .filter(|s| {
                    s.namespace().as_deref() == ns.filter(|_| !ctx.cluster_scoped)
                        && s.labels().get(PARENT_PLACEMENT).map(String::as_str) == Some(placement)
                        && s.labels().get(RESOURCE_INDEX) == Some(&index.to_string())
                })
                .collect::<Vec<_>>()
        };
        if let Group::Complete(index, parts) =
            group_of(&head, |index| cached(index).iter().map(|s| (**s).clone()).collect())
        {
            return Ok(Group::Complete(index, parts));
        }
    }
    let api = match ns {
        Some(ns) if !ctx.cluster_scoped => Api::<DynamicObject>::namespaced_with(ctx.client.clone(), ns, &ctx.snapshot),
        _ => Api::<DynamicObject>::all_with(ctx.client.clone(), &ctx.snapshot),
    };
    let Some(head) = api.get_opt(master).await? else {
        return Ok(Group::Missing);
    };
    let Some(index) = head.labels().get(RESOURCE_INDEX).and_then(|i| i.parse::<u64>().ok()) else {
        return Ok(Group::Missing);
    };
    let members = api
        .list(&ListParams::default().labels(&format!("{PARENT_PLACEMENT}={placement},{RESOURCE_INDEX}={index}")))
        .await?
        .items;
    Ok(group_of(&head, |_| members.clone()))
}

/// The group of `head` from its members (`members_of(index)`): complete when every part named
/// by the head's count is there.
fn group_of(head: &DynamicObject, members_of: impl FnOnce(u64) -> Vec<DynamicObject>) -> Group {
    let Some(index) = head.labels().get(RESOURCE_INDEX).and_then(|i| i.parse::<u64>().ok()) else {
        return Group::Missing;
    };
    let size: usize = head
        .annotations()
        .get(NUMBER_OF_RESOURCE_SNAPSHOTS)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let members = members_of(index);
    let mut parts: Vec<SnapshotPart> = members
        .iter()
        .map(|s| SnapshotPart {
            subindex: s
                .annotations()
                .get(SUBINDEX_OF_RESOURCE_SNAPSHOT)
                .and_then(|i| i.parse().ok()),
            manifests: s.data["spec"]["selectedResources"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    if parts.len() < size {
        return Group::Incomplete;
    }
    parts.sort_by_key(|p| p.subindex.map_or(-1, |i| i as i64));
    Group::Complete(index, parts)
}

fn existing_work(work: &Work) -> ExistingWork {
    ExistingWork {
        name: work.name_any(),
        index: work.labels().get(PARENT_RESOURCE_SNAPSHOT_INDEX).cloned(),
        override_hashes: (
            work.annotations().get(OVERRIDE_HASH).cloned(),
            work.annotations().get(CLUSTER_OVERRIDE_HASH).cloned(),
        ),
        apply_strategy: work.spec.apply_strategy.clone(),
    }
}

fn work_object(work: &DesiredWork, namespace: &str, apply_strategy: Option<&ApplyStrategy>) -> Work {
    let mut obj = Work::new(
        &work.name,
        WorkSpec {
            workload: WorkloadTemplate {
                manifests: Some(work.manifests.clone()),
            },
            apply_strategy: apply_strategy.cloned(),
            report_back_strategy: None,
        },
    );
    obj.metadata.namespace = Some(namespace.to_string());
    obj.metadata.labels = Some(work.labels.clone());
    obj.metadata.annotations = Some(work.annotations.clone());
    obj
}
