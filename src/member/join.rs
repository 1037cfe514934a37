//! The member agent's side of joining (`placement-pipeline.md` §13.3): reads its
//! InternalMemberCluster on the hub, and while asked to join reports a heartbeat, the member API
//! server's health, the node count and node resources; when asked to leave it stops applying,
//! releases its Works and reports that it left.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use crate::api::cluster::{
    AgentStatus, AgentType, ClusterState, InternalMemberCluster, PropertyValue, ResourceUsage, report_joined,
    report_left,
};
use crate::api::labels::{WORK_CLEANUP_FINALIZER, member_namespace};
use crate::api::placement::Work;
use crate::conditions::find;
use crate::controllers::scheduler::filters::quantity;
use crate::controllers::shared::patch_params;

/// Field manager of the agent's hub writes.
pub const FIELD_MANAGER: &str = "member-agent";
/// How often the InternalMemberCluster is read (a heartbeat is written once per period).
const POLL: Duration = Duration::from_secs(2);

/// Whether the agent has joined: the work applier only works while it has.
#[derive(Clone, Debug, Default)]
pub struct Joined(Arc<AtomicBool>);

impl Joined {
    /// Whether the agent is joined now.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, value: bool) {
        self.0.store(value, Ordering::Release);
    }
}

/// Runs the join loop until `shutdown`.
pub async fn run(
    hub: Client,
    member: Client,
    name: String,
    joined: Joined,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let namespace = member_namespace(&name);
    let internal = Api::<InternalMemberCluster>::namespaced(hub.clone(), &namespace);
    let mut last_beat: Option<Timestamp> = None;
    tokio::pin!(shutdown);
    loop {
        match internal.get_opt(&name).await {
            Ok(Some(imc)) => {
                let result = match imc.spec.state {
                    ClusterState::Join => {
                        let period = i64::from(imc.spec.heartbeat_period_seconds.unwrap_or(60));
                        let due =
                            last_beat.is_none_or(|t| Timestamp::now() >= t + jiff::SignedDuration::from_secs(period));
                        if due || !joined.get() {
                            let beat = heartbeat(&internal, &member, &imc).await;
                            if beat.is_ok() {
                                if !joined.get() {
                                    info!(member = %name, "joined the fleet");
                                }
                                joined.set(true);
                                last_beat = Some(Timestamp::now());
                            }
                            beat
                        } else {
                            Ok(())
                        }
                    }
                    ClusterState::Leave => {
                        let was_joined = joined.get();
                        joined.set(false);
                        last_beat = None;
                        let result = leave(&hub, &internal, &imc, &namespace).await;
                        if was_joined && result.is_ok() {
                            info!(member = %name, "left the fleet");
                        }
                        result
                    }
                };
                if let Err(error) = result {
                    warn!(member = %name, %error, "reporting to the hub failed");
                }
            }
            Ok(None) => {}
            Err(error) => warn!(member = %name, %error, "reading the InternalMemberCluster failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = &mut shutdown => return,
        }
    }
}

async fn heartbeat(
    internal: &Api<InternalMemberCluster>,
    member: &Client,
    imc: &InternalMemberCluster,
) -> Result<(), kube::Error> {
    let now = Timestamp::now();
    let generation = imc.metadata.generation.unwrap_or_default();
    let healthy = member
        .request_text(http::Request::get("/readyz").body(Vec::new()).expect("a valid request"))
        .await
        .is_ok();
    let mut conditions = imc.member_agent_status().and_then(|a| a.conditions.clone());
    report_joined(&mut conditions, healthy, generation, now);
    let agent = AgentStatus {
        type_: AgentType::MemberAgent,
        conditions,
        last_received_heartbeat: Some(Time(now)),
    };
    let nodes = Api::<Node>::all(member.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let (capacity, allocatable) = node_resources(&nodes);
    let properties = BTreeMap::from([(
        "kubernetes-fleet.io/node-count".to_string(),
        PropertyValue {
            value: nodes.len().to_string(),
            observation_time: Time(now),
        },
    )]);
    let usage = ResourceUsage {
        capacity: Some(capacity),
        available: Some(allocatable.clone()),
        allocatable: Some(allocatable),
        observation_time: Some(Time(now)),
    };
    let patch = json!({"status": {"agentStatus": [agent], "properties": properties, "resourceUsage": usage}});
    internal
        .patch_status(&imc.name_any(), &params(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Sums of the nodes' CPU and memory capacity and allocatable.
fn node_resources(nodes: &[Node]) -> (BTreeMap<String, Quantity>, BTreeMap<String, Quantity>) {
    let sum = |pick: fn(&Node) -> Option<&BTreeMap<String, Quantity>>, resource: &str| -> f64 {
        nodes
            .iter()
            .filter_map(|n| pick(n).and_then(|m| m.get(resource)).and_then(|q| quantity(&q.0)))
            .sum()
    };
    let totals = |pick: fn(&Node) -> Option<&BTreeMap<String, Quantity>>| {
        BTreeMap::from([
            (
                "cpu".to_string(),
                Quantity(format!("{}m", (sum(pick, "cpu") * 1000.0).round() as i64)),
            ),
            (
                "memory".to_string(),
                Quantity(format!("{}", sum(pick, "memory").round() as i64)),
            ),
        ])
    };
    (
        totals(|n| n.status.as_ref().and_then(|s| s.capacity.as_ref())),
        totals(|n| n.status.as_ref().and_then(|s| s.allocatable.as_ref())),
    )
}

/// Leaving: the Works are released (their `work-cleanup` finalizer removed, member objects left in
/// place) and the agent reports `Joined=False`.
async fn leave(
    hub: &Client,
    internal: &Api<InternalMemberCluster>,
    imc: &InternalMemberCluster,
    namespace: &str,
) -> Result<(), kube::Error> {
    let works = Api::<Work>::namespaced(hub.clone(), namespace);
    for work in works.list(&ListParams::default()).await? {
        if work.finalizers().iter().any(|f| f == WORK_CLEANUP_FINALIZER) {
            let finalizers: Vec<&String> = work
                .finalizers()
                .iter()
                .filter(|f| *f != WORK_CLEANUP_FINALIZER)
                .collect();
            let patch = json!({"metadata": {"finalizers": finalizers}});
            works.patch(&work.name_any(), &params(), &Patch::Merge(&patch)).await?;
        }
    }
    let old = imc.member_agent_status();
    if old.is_some_and(|a| find(&a.conditions, "Joined").is_some_and(|c| c.status == "False")) {
        return Ok(());
    }
    let mut conditions = old.and_then(|a| a.conditions.clone());
    let now = Timestamp::now();
    report_left(&mut conditions, imc.metadata.generation.unwrap_or_default(), now);
    let agent = AgentStatus {
        type_: AgentType::MemberAgent,
        conditions,
        last_received_heartbeat: Some(Time(now)),
    };
    let patch = json!({"status": {"agentStatus": [agent]}});
    internal
        .patch_status(&imc.name_any(), &params(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

fn params() -> PatchParams {
    patch_params(FIELD_MANAGER)
}
