//! The placement controller for ClusterResourcePlacement and ResourcePlacement: selects the
//! resources, keeps the policy and resource snapshots current (for every rollout strategy, SD-5),
//! and reports `selectedResources`, `observedResourceIndex` and the `…Scheduled` condition.
//!
//! Woken by placement spec changes, policy snapshot and binding changes, and changes of any hub
//! object a placement could select (the shared watch caches of every selectable type, mapped to
//! placements through the placement store).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::predicates;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::info;

use super::cache::{Changed, ResourceCache};
use super::catalog::Catalog;
use super::policy_snapshot::{self, ExistingPolicy, PolicyPlan};
use super::resources::content_hash;
use super::select::{SelectError, identifier, select};
use super::snapshot_plan::{self, ExistingSnapshot, NewSnapshot, Selection, SnapshotPlan, Throttle, Trigger};
use super::status::{BindingReport, PolicyReport, StatusInput, aggregate};
use crate::api::labels::{
    IS_LATEST_SNAPSHOT, NEXT_RESOURCE_SNAPSHOT_CANDIDATE_DETECTION_TIME, NUMBER_OF_CLUSTERS, PARENT_PLACEMENT,
    PLACEMENT_CLEANUP_FINALIZER, POLICY_INDEX, RESOURCE_HASH, RESOURCE_INDEX, SNAPSHOT_REQUESTED_AT,
    SUBINDEX_OF_RESOURCE_SNAPSHOT, resource_snapshot_name,
};
use crate::api::placement::{
    ApplyStrategyType, ClusterResourcePlacement, ClusterResourcePlacementSpec, PlacementObject, PlacementPolicy,
    PlacementStatus, ResourceIdentifier, ResourcePlacement, RolloutStrategyType, SchedulingPolicySnapshotStatus,
};
use crate::conditions::{Status, find, set};
pub use crate::controllers::shared::Error;
use crate::controllers::shared::{
    Family, ServedKind, dynamic_api, ok_if_missing, patch_params, placement_controller, record_failed_pass, retry_delay,
};
use crate::ops::metrics::Metrics;

/// Field manager of the placement controller's writes.
pub const FIELD_MANAGER: &str = "placement-controller";
/// Safety-net resync.
const RESYNC: Duration = Duration::from_secs(30 * 60);

/// Options of the placement controller.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlacementOptions {
    /// Snapshot throttling windows (§5.1).
    pub throttle: Throttle,
}

struct Context {
    client: Client,
    catalog: Catalog,
    cache: ResourceCache,
    options: PlacementOptions,
    cluster_scoped: bool,
    metrics: Arc<Metrics>,
}

impl Context {
    fn kind(&self) -> &'static str {
        if self.cluster_scoped {
            "ClusterResourcePlacement"
        } else {
            "ResourcePlacement"
        }
    }

    fn family(&self) -> Family {
        Family {
            cluster_scoped: self.cluster_scoped,
        }
    }

    fn api(&self, ar: &ApiResource, ns: Option<&str>) -> Api<DynamicObject> {
        dynamic_api(&self.client, ar, ns)
    }

    fn resource_snapshots(&self, ns: Option<&str>) -> Api<DynamicObject> {
        self.api(&self.family().resource_snapshot(), ns)
    }

    fn policy_snapshots(&self, ns: Option<&str>) -> Api<DynamicObject> {
        self.api(&self.family().policy_snapshot(), ns)
    }

    fn bindings(&self, ns: Option<&str>) -> Api<DynamicObject> {
        self.api(&self.family().binding(), ns)
    }

    fn placements(&self, ns: Option<&str>) -> Api<DynamicObject> {
        self.api(&self.family().placement(), ns)
    }
}

/// Runs the CRP and RP controllers until `shutdown`.
pub async fn run_controllers(
    client: Client,
    metrics: Arc<Metrics>,
    options: PlacementOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + Clone + 'static,
) -> Result<(), kube::Error> {
    // A controller started after shutdown would wait for its store forever.
    let catalog = tokio::select! {
        catalog = Catalog::discover(&client) => catalog?,
        _ = shutdown.clone() => return Ok(()),
    };
    info!(
        types = catalog.watched().len(),
        "placement controllers watch these hub types for changes"
    );
    let (cache, mut changes) = ResourceCache::start(&client, &catalog, 2);
    // Selecting from a cache still filling would snapshot a partial selection.
    tokio::select! {
        () = cache.ready() => {}
        _ = shutdown.clone() => return Ok(()),
    }
    let namespaced_changes = changes.pop().expect("two subscribers");
    let cluster_changes = changes.pop().expect("two subscribers");
    let cluster = controller::<ClusterResourcePlacement>(
        client.clone(),
        catalog.clone(),
        cache.clone(),
        cluster_changes,
        options,
        true,
        metrics.clone(),
        shutdown.clone(),
    );
    let namespaced = controller::<ResourcePlacement>(
        client,
        catalog,
        cache,
        namespaced_changes,
        options,
        false,
        metrics,
        shutdown,
    );
    futures::join!(cluster, namespaced);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn controller<K>(
    client: Client,
    catalog: Catalog,
    cache: ResourceCache,
    changes: futures::channel::mpsc::UnboundedReceiver<Changed>,
    options: PlacementOptions,
    cluster_scoped: bool,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    K: ServedKind + PlacementObject,
{
    let context = Arc::new(Context {
        client: client.clone(),
        catalog,
        cache,
        options,
        cluster_scoped,
        metrics,
    });
    let family = context.family();
    // Annotations too: an update run asks for a snapshot through one (SD-11).
    let wake_on = kube::runtime::Predicate::combine(
        predicates::generation as fn(&K) -> Option<u64>,
        predicates::annotations as fn(&K) -> Option<u64>,
    );
    let mut controller = placement_controller::<K, _>(&client, &[family.policy_snapshot(), family.binding()], wake_on);
    let store = controller.store();
    let affected_placements =
        changes.flat_map(move |changed| futures::stream::iter(affected(&store, cluster_scoped, &changed)));
    controller = controller
        .reconcile_on(affected_placements)
        .reconcile_on(deleted_snapshots::<K>(&client, family.resource_snapshot()));
    let name = if cluster_scoped {
        "clusterresourceplacement-controller"
    } else {
        "resourceplacement-controller"
    };
    info!(controller = name, "starting");
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, context)
        .for_each(|_| std::future::ready(()))
        .await;
}

/// Placements a changed hub object may concern (§11.4). Over-approximates: label selectors are
/// not evaluated here; a placement whose content did not change reuses its snapshot.
fn affected<K: Resource<DynamicType = ()> + PlacementObject + Clone>(
    store: &Store<K>,
    cluster_scoped: bool,
    changed: &Changed,
) -> Vec<ObjectRef<K>> {
    let is_namespace = changed.group.is_empty() && changed.kind == "Namespace";
    store
        .state()
        .into_iter()
        .filter(|p| {
            let spec = p.common_spec();
            spec.resource_selectors.iter().any(|s| {
                let named = |n: &str| s.name.as_deref().is_none_or(|want| want == n);
                if cluster_scoped {
                    let ns_selector = s.group.is_empty() && s.kind == "Namespace";
                    match (changed.namespaced, &changed.namespace) {
                        (true, Some(ns)) => ns_selector && named(ns),
                        _ => {
                            (is_namespace && ns_selector && named(&changed.name))
                                || (s.group == changed.group && s.kind == changed.kind && named(&changed.name))
                        }
                    }
                } else {
                    changed.namespaced
                        && p.namespace() == changed.namespace
                        && s.group == changed.group
                        && s.kind == changed.kind
                        && named(&changed.name)
                }
            })
        })
        .map(|p| ObjectRef::from_obj(&*p))
        .collect()
}

fn error_policy<K: Resource<DynamicType = ()>>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    let name = obj.meta().name.clone().unwrap_or_default();
    record_failed_pass(&ctx.metrics, ctx.kind(), "placement reconcile", &name, error);
    Action::requeue(retry_delay(error, Duration::from_secs(5)))
}

fn owner_reference(ctx: &Context, name: &str, uid: &str) -> Value {
    json!([{
        "apiVersion": "placement.kubernetes-fleet.io/v1beta1", "kind": ctx.kind(),
        "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true,
    }])
}

fn params() -> PatchParams {
    patch_params(FIELD_MANAGER)
}

async fn reconcile<K>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error>
where
    K: ServedKind + PlacementObject,
{
    let name = obj.name_any();
    let ns = obj.namespace();
    let ns = ns.as_deref();
    let generation = obj.meta().generation.unwrap_or_default();
    let uid = obj.meta().uid.clone().unwrap_or_default();
    let parent = ListParams::default().labels(&format!("{PARENT_PLACEMENT}={name}"));
    let placements = ctx.placements(ns);
    let has_finalizer = obj.finalizers().iter().any(|f| f == PLACEMENT_CLEANUP_FINALIZER);

    if obj.meta().deletion_timestamp.is_some() {
        for api in [ctx.resource_snapshots(ns), ctx.policy_snapshots(ns)] {
            for snapshot in api.list(&parent).await? {
                ok_if_missing(api.delete(&snapshot.name_any(), &DeleteParams::default()).await)?;
            }
        }
        if has_finalizer {
            let finalizers: Vec<String> = obj
                .finalizers()
                .iter()
                .filter(|f| *f != PLACEMENT_CLEANUP_FINALIZER)
                .cloned()
                .collect();
            let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
            ok_if_missing(placements.patch(&name, &params(), &Patch::Merge(&patch)).await)?;
        }
        return Ok(Action::await_change());
    }
    if !has_finalizer {
        let mut finalizers = obj.finalizers().to_vec();
        finalizers.push(PLACEMENT_CLEANUP_FINALIZER.into());
        let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": obj.resource_version()}});
        placements.patch(&name, &params(), &Patch::Merge(&patch)).await?;
    }
    let spec: ClusterResourcePlacementSpec = obj.common_spec();
    let old_status: PlacementStatus = obj.placement_status().cloned().unwrap_or_default();
    let mut status = old_status.clone();
    let scheduled_type = format!("{}Scheduled", ctx.kind());
    let now = Timestamp::now();

    let resources = match select(&ctx.client, &ctx.cache, &ctx.catalog, ns, &spec.resource_selectors).await {
        Ok(resources) => resources,
        Err(SelectError::Invalid(message)) => {
            set(
                &mut status.conditions,
                &scheduled_type,
                Status::False,
                "InvalidResourceSelectors",
                format!("The resource selectors are invalid: {message}"),
                generation,
                now,
            );
            write_status(&placements, &name, &old_status, &status).await?;
            return Ok(Action::requeue(RESYNC));
        }
        Err(SelectError::Api(e)) => return Err(e.into()),
    };
    let history = usize::try_from(spec.revision_history_limit.unwrap_or(10)).unwrap_or(10);
    let owner = owner_reference(&ctx, &name, &uid);
    let latest_policy = ensure_policy_snapshot(&ctx, ns, &name, generation, &spec, history, &owner).await?;

    let hash = content_hash(&resources);
    let snapshot_objects = ctx.resource_snapshots(ns).list(&parent).await?.items;
    let existing = existing_snapshots(&snapshot_objects);
    let selection = Selection {
        placement: &name,
        resources: &resources,
        hash: &hash,
        envelopes: 0,
    };
    let external = spec
        .strategy
        .as_ref()
        .is_some_and(|s| s.type_ == RolloutStrategyType::External);
    let trigger = trigger(&ctx, &*obj, &existing, external);
    let snapshot_plan = snapshot_plan::plan(&selection, &existing, now, trigger, history);
    let (index, next) = act_snapshots(&ctx, ns, snapshot_plan, &owner).await?;
    let latest_snapshot = index.map(|index| (resource_snapshot_name(&name, index), index));

    scheduled_condition(&mut status, &scheduled_type, latest_policy.as_ref(), generation, now);
    let bindings = ctx.bindings(ns).list(&parent).await?.items;
    let reports: Vec<BindingReport> = bindings.iter().filter_map(binding_report).collect();
    let input = StatusInput {
        kind: ctx.kind(),
        generation,
        external,
        report_diff: spec
            .strategy
            .as_ref()
            .and_then(|s| s.apply_strategy.as_ref())
            .is_some_and(|a| a.type_ == Some(ApplyStrategyType::ReportDiff)),
        selection: resources.iter().map(identifier).collect(),
        latest_snapshot: latest_snapshot.clone(),
        snapshot_index: existing
            .iter()
            .map(|s| (s.name.clone(), s.index))
            .chain(latest_snapshot)
            .collect(),
        group_resources: group_resources(&snapshot_objects),
        policy: latest_policy.as_ref().map(policy_report),
        bindings: &reports,
        inline_limit: crate::controllers::tuning::get().placement_status_inline_limit,
    };
    aggregate(&mut status, &input, now);
    write_status(&placements, &name, &old_status, &status).await?;
    ctx.metrics.count_reconcile(ctx.kind(), "success");
    Ok(next.map_or_else(|| Action::requeue(RESYNC), Action::requeue))
}

/// SD-39: a resource snapshot deleted by hand wakes its placement, which takes the latest one
/// again (under the same index when it was the highest) so that a run of that index can finish.
/// The placement controller writes snapshots but does not otherwise watch them; a metadata-only
/// watch of deletions keeps that cheap.
fn deleted_snapshots<K: ServedKind + PlacementObject>(
    client: &Client,
    snapshots: ApiResource,
) -> impl futures::Stream<Item = ObjectRef<K>> + Send + 'static {
    use kube::core::PartialObjectMeta;
    use kube::runtime::{WatchStreamExt, watcher};
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client.clone(), &snapshots);
    watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(|event| {
            let deleted = match event {
                Ok(watcher::Event::Delete(meta)) => meta.labels().get(PARENT_PLACEMENT).map(|parent| {
                    let placement = ObjectRef::<K>::new(parent);
                    match meta.namespace() {
                        Some(ns) => placement.within(&ns),
                        None => placement,
                    }
                }),
                _ => None,
            };
            std::future::ready(deleted)
        })
}

/// When this pass may take a snapshot. An `External` placement with the `upstream` profile waits
/// for a run to ask (SD-25). Otherwise the throttling windows apply: none when a staged update
/// run asked for the change already detected to be snapshotted now (SD-11), the configured ones
/// otherwise.
fn trigger<K: Resource>(ctx: &Context, placement: &K, existing: &[ExistingSnapshot], external: bool) -> Trigger {
    let requested: Option<Timestamp> = placement
        .meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(SNAPSHOT_REQUESTED_AT))
        .and_then(|t| t.parse().ok());
    let detected = existing.iter().filter(|s| s.is_latest).find_map(|s| s.change_detected);
    let asked_for_change = matches!((requested, detected), (Some(r), Some(d)) if r >= d);
    if external && crate::controllers::compat::get().external_snapshots_on_request() {
        let asked = asked_for_change || (requested.is_some() && existing.is_empty());
        return Trigger::RunRequest { asked };
    }
    if asked_for_change {
        info!(placement = %placement.meta().name.clone().unwrap_or_default(), "snapshotting now for an update run (SD-11)");
        Trigger::Windows(Throttle::default())
    } else {
        Trigger::Windows(ctx.options.throttle)
    }
}

fn binding_report(binding: &DynamicObject) -> Option<BindingReport> {
    Some(BindingReport {
        generation: binding.metadata.generation.unwrap_or_default(),
        deleting: binding.metadata.deletion_timestamp.is_some(),
        spec: serde_json::from_value(binding.data["spec"].clone()).ok()?,
        status: serde_json::from_value(binding.data["status"].clone()).unwrap_or_default(),
    })
}

/// Identifiers of the resources of every snapshot group, by index, master first then sub-indexes.
fn group_resources(snapshots: &[DynamicObject]) -> BTreeMap<u64, Vec<ResourceIdentifier>> {
    let mut groups: BTreeMap<u64, Vec<(i64, Vec<ResourceIdentifier>)>> = BTreeMap::new();
    for snapshot in snapshots {
        let Some(index) = snapshot.labels().get(RESOURCE_INDEX).and_then(|i| i.parse().ok()) else {
            continue;
        };
        let sub = snapshot
            .annotations()
            .get(SUBINDEX_OF_RESOURCE_SNAPSHOT)
            .and_then(|i| i.parse().ok())
            .unwrap_or(-1);
        let ids = snapshot.data["spec"]["selectedResources"]
            .as_array()
            .map(|items| items.iter().map(identifier).collect())
            .unwrap_or_default();
        groups.entry(index).or_default().push((sub, ids));
    }
    groups
        .into_iter()
        .map(|(index, mut parts)| {
            parts.sort_by_key(|(sub, _)| *sub);
            (index, parts.into_iter().flat_map(|(_, ids)| ids).collect())
        })
        .collect()
}

fn policy_report(snapshot: &DynamicObject) -> PolicyReport {
    let status: SchedulingPolicySnapshotStatus =
        serde_json::from_value(snapshot.data["status"].clone()).unwrap_or_default();
    let policy: Option<PlacementPolicy> = serde_json::from_value(snapshot.data["spec"]["policy"].clone())
        .ok()
        .flatten();
    PolicyReport {
        name: snapshot.name_any(),
        decisions: status.target_clusters.unwrap_or_default(),
        placement_type: policy.as_ref().map(|p| p.placement_type).unwrap_or_default(),
        number_of_clusters: snapshot
            .annotations()
            .get(NUMBER_OF_CLUSTERS)
            .and_then(|n| n.parse().ok())
            .unwrap_or_default(),
        cluster_names: policy
            .as_ref()
            .and_then(|p| p.cluster_names.as_ref())
            .map_or(0, Vec::len),
    }
}

/// `…Scheduled` from the latest policy snapshot (§11.2 step 2).
fn scheduled_condition(
    status: &mut PlacementStatus,
    type_: &str,
    snapshot: Option<&DynamicObject>,
    generation: i64,
    now: Timestamp,
) {
    let snapshot_status: SchedulingPolicySnapshotStatus = snapshot
        .and_then(|s| s.data.get("status").cloned())
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    let snapshot_gen = snapshot.and_then(|s| s.metadata.generation).unwrap_or_default();
    let scheduled = find(&snapshot_status.conditions, "Scheduled")
        .filter(|c| c.observed_generation.unwrap_or_default() >= snapshot_gen && c.status != "Unknown")
        .filter(|_| snapshot_status.observed_crp_generation >= generation);
    match scheduled {
        Some(c) => {
            let s = if c.status == "True" {
                Status::True
            } else {
                Status::False
            };
            set(
                &mut status.conditions,
                type_,
                s,
                &c.reason,
                c.message.clone(),
                generation,
                now,
            );
        }
        None => {
            set(
                &mut status.conditions,
                type_,
                Status::Unknown,
                "SchedulePending",
                "Scheduling has not completed",
                generation,
                now,
            );
        }
    }
}

async fn write_status(
    api: &Api<DynamicObject>,
    name: &str,
    old: &PlacementStatus,
    new: &PlacementStatus,
) -> Result<(), Error> {
    if old == new {
        return Ok(());
    }
    let mut status = serde_json::to_value(new)?;
    // A merge patch keeps keys it does not mention: clear the ones this status leaves out.
    if let Value::Object(map) = &mut status {
        for key in [
            "selectedResources",
            "observedResourceIndex",
            "placementStatuses",
            "conditions",
        ] {
            map.entry(key).or_insert(Value::Null);
        }
    }
    let patch = json!({"status": status});
    api.patch_status(name, &params(), &Patch::Merge(&patch)).await?;
    Ok(())
}

fn annotation_time(obj: &DynamicObject, key: &str) -> Option<Timestamp> {
    obj.annotations().get(key).and_then(|t| t.parse().ok())
}

fn existing_snapshots(all: &[DynamicObject]) -> Vec<ExistingSnapshot> {
    all.iter()
        .filter_map(|s| {
            Some(ExistingSnapshot {
                index: s.labels().get(RESOURCE_INDEX)?.parse().ok()?,
                is_latest: s.labels().get(IS_LATEST_SNAPSHOT).is_some_and(|v| v == "true"),
                hash: s.annotations().get(RESOURCE_HASH).cloned(),
                created: s
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .unwrap_or(Timestamp::UNIX_EPOCH),
                change_detected: annotation_time(s, NEXT_RESOURCE_SNAPSHOT_CANDIDATE_DETECTION_TIME),
                name: s.name_any(),
            })
        })
        .collect()
}

async fn label(api: &Api<DynamicObject>, name: &str, key: &str, value: &str) -> Result<(), Error> {
    let patch = json!({"metadata": {"labels": {key: value}}});
    api.patch(name, &params(), &Patch::Merge(&patch)).await?;
    Ok(())
}

async fn create_snapshot(
    api: &Api<DynamicObject>,
    ar: &ApiResource,
    snapshot: NewSnapshot,
    ns: Option<&str>,
    owner: &Value,
) -> Result<(), Error> {
    let mut obj = DynamicObject::new(&snapshot.name, ar);
    obj.metadata.namespace = ns.map(str::to_string);
    obj.metadata.labels = Some(snapshot.labels);
    obj.metadata.annotations = Some(snapshot.annotations);
    obj.metadata.owner_references = serde_json::from_value(owner.clone())?;
    obj.data = json!({"spec": {"selectedResources": snapshot.resources}});
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => {
            fail::fail_point!(crate::ops::failpoints::PLACEMENT_AFTER_SNAPSHOT_CREATE);
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Carries out a snapshot plan; returns the index in use and when to look again.
async fn act_snapshots(
    ctx: &Context,
    ns: Option<&str>,
    plan: SnapshotPlan,
    owner: &Value,
) -> Result<(Option<u64>, Option<Duration>), Error> {
    let api = ctx.resource_snapshots(ns);
    let ar = ctx.family().resource_snapshot();
    match plan {
        SnapshotPlan::None => Ok((None, None)),
        SnapshotPlan::Current {
            index,
            relabel,
            missing,
            unstamp,
        } => {
            if let Some(master) = relabel {
                label(&api, &master, IS_LATEST_SNAPSHOT, "true").await?;
            }
            if let Some(master) = unstamp {
                let patch =
                    json!({"metadata": {"annotations": {NEXT_RESOURCE_SNAPSHOT_CANDIDATE_DETECTION_TIME: null}}});
                api.patch(&master, &params(), &Patch::Merge(&patch)).await?;
            }
            for snapshot in missing {
                create_snapshot(&api, &ar, snapshot, ns, owner).await?;
            }
            Ok((Some(index), None))
        }
        SnapshotPlan::Hold {
            index,
            stamp,
            retry_after,
        } => {
            if let Some((master, at)) = stamp {
                let patch = json!({"metadata": {"annotations": {NEXT_RESOURCE_SNAPSHOT_CANDIDATE_DETECTION_TIME: at.round(jiff::Unit::Second).unwrap_or(at).to_string()}}});
                api.patch(&master, &params(), &Patch::Merge(&patch)).await?;
            }
            Ok((Some(index), Some(retry_after.max(Duration::from_millis(200)))))
        }
        SnapshotPlan::Create {
            index,
            unmark,
            delete,
            create,
        } => {
            if let Some(old) = unmark {
                label(&api, &old, IS_LATEST_SNAPSHOT, "false").await?;
            }
            for name in delete {
                ok_if_missing(api.delete(&name, &DeleteParams::default()).await)?;
            }
            for snapshot in create {
                create_snapshot(&api, &ar, snapshot, ns, owner).await?;
            }
            info!(placement_owner = %owner[0]["name"], index, "created resource snapshot");
            Ok((Some(index), None))
        }
    }
}

/// Keeps the policy snapshots current; returns the latest one.
async fn ensure_policy_snapshot(
    ctx: &Context,
    ns: Option<&str>,
    placement: &str,
    generation: i64,
    spec: &ClusterResourcePlacementSpec,
    history: usize,
    owner: &Value,
) -> Result<Option<DynamicObject>, Error> {
    let api = ctx.policy_snapshots(ns);
    let all = api
        .list(&ListParams::default().labels(&format!("{PARENT_PLACEMENT}={placement}")))
        .await?
        .items;
    let existing: Vec<ExistingPolicy> = all
        .iter()
        .filter_map(|s| {
            Some(ExistingPolicy {
                name: s.name_any(),
                index: s.labels().get(POLICY_INDEX)?.parse().ok()?,
                is_latest: s.labels().get(IS_LATEST_SNAPSHOT).is_some_and(|v| v == "true"),
                hash: s.data["spec"]["policyHash"].as_str().unwrap_or_default().to_string(),
                labels: s.labels().clone(),
                annotations: s.annotations().clone(),
            })
        })
        .collect();
    match policy_snapshot::plan(placement, generation, spec.policy.as_ref(), &existing, history) {
        PolicyPlan::Current {
            name,
            labels,
            annotations,
            changed,
        } => {
            if changed {
                let patch = json!({"metadata": {"labels": labels, "annotations": annotations}});
                return Ok(Some(api.patch(&name, &params(), &Patch::Merge(&patch)).await?));
            }
            Ok(all.into_iter().find(|s| s.name_any() == name))
        }
        PolicyPlan::Create {
            name,
            labels,
            annotations,
            hash,
            unmark,
            delete,
        } => {
            if let Some(old) = unmark {
                label(&api, &old, IS_LATEST_SNAPSHOT, "false").await?;
            }
            for old in delete {
                ok_if_missing(api.delete(&old, &DeleteParams::default()).await)?;
            }
            let ar = ctx.family().policy_snapshot();
            let mut obj = DynamicObject::new(&name, &ar);
            obj.metadata.namespace = ns.map(str::to_string);
            obj.metadata.labels = Some(labels);
            obj.metadata.annotations = Some(annotations.into_iter().collect::<BTreeMap<_, _>>());
            obj.metadata.owner_references = serde_json::from_value(owner.clone())?;
            obj.data = json!({"spec": {"policy": spec.policy, "policyHash": hash}});
            match api.create(&PostParams::default(), &obj).await {
                Ok(created) => Ok(Some(created)),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(api.get_opt(&name).await?),
                Err(e) => Err(e.into()),
            }
        }
    }
}
