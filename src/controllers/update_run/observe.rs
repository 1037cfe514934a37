//! Reads everything one pass decides from. Bindings and member clusters come from watch caches
//! (at fleet scale, listing them on every pass is what loads the API server); everything else is
//! read from the API server. A stale cache could make a just-started cluster look preempted, so a
//! pass whose binding cache has not yet seen the run's own latest binding writes waits for it
//! (`Caches::written`, SD-18).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use jiff::Timestamp;
use kube::api::{DynamicObject, ListParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};

use super::decide::model::{
    ApprovalView, BindingSpec, BindingView, MemberView, Observed, PlacementView, PolicySnapshotView,
    ResourceSnapshotView, RunView,
};
use super::kinds::{KindSet, field, generation};
use super::reasons::types;
use crate::api::cluster::MemberCluster;
use crate::api::labels::{
    IS_LATEST_SNAPSHOT, NEXT_RESOURCE_SNAPSHOT_CANDIDATE_DETECTION_TIME, NUMBER_OF_CLUSTERS, PARENT_PLACEMENT,
    POLICY_INDEX, RESOURCE_HASH, RESOURCE_INDEX, SELECTED_CLUSTER_COUNT, is_label_value,
};
use crate::api::placement::{
    ApprovalRequestStatus, ClusterApprovalRequestSpec, ClusterResourcePlacementSpec,
    ClusterSchedulingPolicySnapshotSpec, ResourceBindingStatus, SchedulingPolicySnapshotStatus, UpdateStrategySpec,
};
use crate::conditions::is_true_for;

/// Why observing failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// An API call failed.
    #[error("reading {what}: {source}")]
    Api {
        /// What was being read.
        what: &'static str,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The watch cache has not caught up with a binding this run wrote; the watch event that
    /// brings it wakes the run again.
    #[error("waiting for the watch cache to show binding {0} as written")]
    Stale(String),
    /// A watch cache's writer is gone (the controller is shutting down).
    #[error("the {0} watch cache is closed")]
    CacheClosed(&'static str),
    /// An object did not parse.
    #[error("parsing {what}: {source}")]
    Parse {
        /// What was being parsed.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

fn api_err(what: &'static str) -> impl FnOnce(kube::Error) -> ObserveError {
    move |source| ObserveError::Api { what, source }
}

fn parse_err(obj: &DynamicObject) -> impl FnOnce(serde_json::Error) -> ObserveError + '_ {
    move |source| ObserveError::Parse {
        what: obj.name_any(),
        source,
    }
}

/// Watch caches the observation reads instead of listing the hub.
pub struct Caches {
    /// Bindings of the run's scope.
    pub bindings: Store<DynamicObject>,
    /// Member clusters.
    pub members: Store<MemberCluster>,
    /// Bindings (`namespace/name`) the runs started, with the generation written.
    pub written: Mutex<HashMap<String, i64>>,
}

impl Caches {
    /// Waits for both caches' first full list. A new leader's (or restarted hub's) first pass
    /// would otherwise see an empty binding cache and judge every cluster of a running run to
    /// have left its selection, failing the run.
    pub async fn ready(&self) -> Result<(), ObserveError> {
        let both = async {
            self.bindings
                .wait_until_ready()
                .await
                .map_err(|_| ObserveError::CacheClosed("binding"))?;
            self.members
                .wait_until_ready()
                .await
                .map_err(|_| ObserveError::CacheClosed("member cluster"))
        };
        tokio::pin!(both);
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(10), &mut both).await {
                Ok(result) => return result,
                Err(_) => tracing::warn!(
                    "the binding and member cluster caches have no first list after 10 s; runs wait for them"
                ),
            }
        }
    }

    /// Remembers bindings a pass pointed at a run's version.
    pub fn remember(&self, namespace: Option<&str>, started: &[(String, i64)]) {
        if let Ok(mut written) = self.written.lock() {
            for (name, generation) in started {
                written.insert(format!("{}/{name}", namespace.unwrap_or_default()), *generation);
            }
        }
    }

    /// Whether the cached binding shows at least what this process last wrote on it (its spec
    /// generation and the `RolloutStarted` for it); forgets the write once it does.
    fn caught_up(&self, binding: &DynamicObject) -> bool {
        let key = format!("{}/{}", binding.namespace().unwrap_or_default(), binding.name_any());
        let Ok(mut written) = self.written.lock() else {
            return true;
        };
        let Some(&expected) = written.get(&key) else {
            return true;
        };
        let rollout_started = binding.data["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == types::ROLLOUT_STARTED))
            .and_then(|c| c["observedGeneration"].as_i64())
            .unwrap_or_default();
        let seen = generation(&binding.metadata) >= expected && rollout_started >= expected;
        if seen {
            written.remove(&key);
        }
        seen
    }
}

/// Reads the world around `run`.
pub async fn observe(
    client: &Client,
    kinds: &KindSet,
    caches: &Caches,
    run: RunView,
) -> Result<Observed, ObserveError> {
    caches.ready().await?;
    let now = Timestamp::now();
    let mut observed = Observed {
        now,
        run,
        placement: None,
        policy_snapshots: Vec::new(),
        bindings: Vec::new(),
        members: Vec::new(),
        strategy: None,
        resource_snapshots: Vec::new(),
        approvals: BTreeMap::new(),
        inline_limit: crate::controllers::tuning::get().run_status_inline_limit,
        profile: crate::controllers::compat::get(),
    };
    if observed.run.deleting {
        return Ok(observed);
    }
    let ns = observed.run.namespace.clone();
    let ns = ns.as_deref();
    let placement_name = observed.run.spec.placement_name.clone();
    let parent = format!("{PARENT_PLACEMENT}={placement_name}");

    for obj in caches.bindings.state() {
        if obj.namespace().as_deref() != ns || obj.labels().get(PARENT_PLACEMENT) != Some(&placement_name) {
            continue;
        }
        if !caches.caught_up(&obj) {
            return Err(ObserveError::Stale(obj.name_any()));
        }
        let spec: BindingSpec = field(&obj, "spec").map_err(parse_err(&obj))?;
        let status: ResourceBindingStatus = field(&obj, "status").map_err(parse_err(&obj))?;
        observed.bindings.push(BindingView {
            name: obj.name_any(),
            generation: generation(&obj.metadata),
            deleting: obj.metadata.deletion_timestamp.is_some(),
            resource_version: obj.resource_version(),
            spec,
            conditions: status.conditions,
            failed_placements: status.failed_placements.map_or(0, |f| f.len()),
        });
    }
    observed.bindings.sort_by(|a, b| a.name.cmp(&b.name));

    let placement_api = kinds.api(client, &kinds.placement, ns);
    if !placement_name.is_empty()
        && let Some(obj) = placement_api
            .get_opt(&placement_name)
            .await
            .map_err(api_err("placement"))?
    {
        let spec: ClusterResourcePlacementSpec = field(&obj, "spec").map_err(parse_err(&obj))?;
        let strategy = spec.strategy.unwrap_or_default();
        observed.placement = Some(PlacementView {
            strategy_type: strategy.type_,
            apply_strategy: strategy.apply_strategy.unwrap_or_default().defaulted(),
        });
    }

    let latest = ListParams::default().labels(&format!("{parent},{IS_LATEST_SNAPSHOT}=true"));
    let policies = kinds.api(client, &kinds.policy_snapshot, ns);
    for obj in policies.list(&latest).await.map_err(api_err("policy snapshots"))? {
        observed.policy_snapshots.push(policy_view(&obj)?);
    }

    // Stages are computed over the placement's clusters only, so only their members are read.
    for binding in &observed.bindings {
        let name = &binding.spec.target_cluster;
        if let Some(m) = caches.members.get(&ObjectRef::new(name)) {
            observed.members.push(MemberView {
                name: name.clone(),
                labels: m.labels().clone(),
            });
        }
    }
    observed.members.dedup_by(|a, b| a.name == b.name);
    observed.members.sort_by(|a, b| a.name.cmp(&b.name));

    let generation = observed.run.generation;
    if !is_true_for(&observed.run.status.conditions, types::INITIALIZED, generation) {
        observe_for_initialization(client, kinds, &mut observed, &parent).await?;
    }
    observe_approvals(client, kinds, &mut observed).await?;
    Ok(observed)
}

fn policy_view(obj: &DynamicObject) -> Result<PolicySnapshotView, ObserveError> {
    let spec: ClusterSchedulingPolicySnapshotSpec = field(obj, "spec").map_err(parse_err(obj))?;
    let status: SchedulingPolicySnapshotStatus = field(obj, "status").map_err(parse_err(obj))?;
    let policy = spec.policy.unwrap_or_default();
    Ok(PolicySnapshotView {
        name: obj.name_any(),
        generation: generation(&obj.metadata),
        policy_index: obj.labels().get(POLICY_INDEX).cloned(),
        placement_type: policy.placement_type,
        fixed_cluster_count: policy.cluster_names.map(|c| c.len()).unwrap_or_default(),
        number_of_clusters: obj.annotations().get(NUMBER_OF_CLUSTERS).cloned(),
        selected_cluster_count: obj
            .annotations()
            .get(SELECTED_CLUSTER_COUNT)
            .and_then(|n| n.parse().ok()),
        conditions: status.conditions,
        selected_clusters: status
            .target_clusters
            .into_iter()
            .flatten()
            .filter(|d| d.selected)
            .map(|d| d.cluster_name)
            .collect(),
    })
}

/// The strategy and the resource snapshots are read only until the run is initialized.
async fn observe_for_initialization(
    client: &Client,
    kinds: &KindSet,
    observed: &mut Observed,
    parent: &str,
) -> Result<(), ObserveError> {
    let ns = observed.run.namespace.clone();
    let ns = ns.as_deref();
    let strategy_name = observed.run.spec.staged_rollout_strategy_name.clone();
    let strategies = kinds.api(client, &kinds.strategy, ns);
    let strategy = match strategy_name.is_empty() {
        true => None,
        false => strategies.get_opt(&strategy_name).await.map_err(api_err("strategy"))?,
    };
    observed.strategy = Some(match strategy {
        Some(obj) => Some(field::<UpdateStrategySpec>(&obj, "spec").map_err(parse_err(&obj))?),
        None => None,
    });
    let selector = match observed
        .run
        .spec
        .resource_snapshot_index
        .as_deref()
        .filter(|i| !i.is_empty())
    {
        // A label selector can only carry label-value characters; anything else matches nothing.
        Some(index) if is_label_value(index) => format!("{parent},{RESOURCE_INDEX}={index}"),
        Some(_) => return Ok(()),
        None => format!("{parent},{IS_LATEST_SNAPSHOT}=true"),
    };
    let snapshots = kinds.api(client, &kinds.resource_snapshot, ns);
    for obj in snapshots
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(api_err("resource snapshots"))?
    {
        observed.resource_snapshots.push(ResourceSnapshotView {
            name: obj.name_any(),
            index: obj.labels().get(RESOURCE_INDEX).cloned(),
            is_master: obj.annotations().get(RESOURCE_HASH).is_some_and(|h| !h.is_empty()),
            pending_change: obj
                .annotations()
                .get(NEXT_RESOURCE_SNAPSHOT_CANDIDATE_DETECTION_TIME)
                .cloned(),
        });
    }
    Ok(())
}

/// Approval requests the run may own: those named after it.
async fn observe_approvals(client: &Client, kinds: &KindSet, observed: &mut Observed) -> Result<(), ObserveError> {
    let ns = observed.run.namespace.clone();
    let approvals = kinds.api(client, &kinds.approval, ns.as_deref());
    let prefix = format!("{}-", observed.run.name);
    for obj in approvals
        .list(&ListParams::default())
        .await
        .map_err(api_err("approval requests"))?
    {
        let name = obj.name_any();
        if !name.starts_with(&prefix) {
            continue;
        }
        let spec: ClusterApprovalRequestSpec = field(&obj, "spec").map_err(parse_err(&obj))?;
        let status: ApprovalRequestStatus = field(&obj, "status").map_err(parse_err(&obj))?;
        observed.approvals.insert(
            name,
            ApprovalView {
                generation: generation(&obj.metadata),
                parent_stage_rollout: spec.parent_stage_rollout,
                target_stage: spec.target_stage,
                conditions: status.conditions,
            },
        );
    }
    Ok(())
}
