//! Simulated members' side of joining: MemberClusters created on request, and for each simulated
//! cluster the heartbeat a member agent writes on its InternalMemberCluster (`Joined`,
//! `Healthy`, node count and resources), from one watch of every InternalMemberCluster and one
//! timer, however many clusters there are.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use k8s_openapi::api::rbac::v1::Subject;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::Fleet;
use crate::api::cluster::{
    AgentStatus, AgentType, ClusterState, InternalMemberCluster, MemberCluster, MemberClusterSpec, PropertyValue,
    ResourceUsage, report_joined, report_left,
};

/// Field manager of the simulator's writes (the member agent's, so hub-side views match).
pub const FIELD_MANAGER: &str = "member-agent";

fn params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// Creates (or updates) a MemberCluster for every simulated cluster, `concurrency` at a time.
pub async fn create_member_clusters(
    client: &Client,
    fleet: &Fleet,
    heartbeat_seconds: i32,
    concurrency: usize,
) -> Result<(), kube::Error> {
    let api = Api::<MemberCluster>::all(client.clone());
    let apply = PatchParams::apply("fleetsim").force();
    futures::stream::iter(fleet.clusters.iter())
        .map(|cluster| {
            let api = api.clone();
            let apply = apply.clone();
            async move {
                let mut object = MemberCluster::new(
                    &cluster.name,
                    MemberClusterSpec {
                        identity: Subject {
                            api_group: Some("rbac.authorization.k8s.io".into()),
                            kind: "User".into(),
                            name: cluster.name.clone(),
                            namespace: None,
                        },
                        heartbeat_period_seconds: Some(heartbeat_seconds),
                        ..Default::default()
                    },
                );
                object.metadata.labels = Some(cluster.labels.clone());
                api.patch(&cluster.name, &apply, &Patch::Apply(&object))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    info!(clusters = fleet.clusters.len(), "member clusters created");
    Ok(())
}

/// What the simulator knows of one cluster's InternalMemberCluster.
#[derive(Default)]
struct Mailbox {
    imc: Option<InternalMemberCluster>,
    last_beat: Option<Timestamp>,
    left: bool,
}

/// Keeps every simulated cluster joined until the process ends: heartbeats every period while
/// the hub says `Join` (not for clusters told to go silent after their first), `Joined=False`
/// once it says `Leave`.
pub async fn run(client: Client, fleet: Arc<Fleet>, concurrency: usize) {
    let boxes: Arc<Mutex<HashMap<String, Mailbox>>> = Arc::default();
    let watch = {
        let boxes = boxes.clone();
        let fleet = fleet.clone();
        let client = client.clone();
        async move {
            let stream = watcher(Api::<InternalMemberCluster>::all(client), watcher::Config::default())
                .default_backoff()
                .applied_objects();
            futures::pin_mut!(stream);
            loop {
                match stream.try_next().await {
                    Ok(Some(imc)) => {
                        let name = imc.name_any();
                        if fleet.by_name(&name).is_some() {
                            boxes.lock().await.entry(name).or_default().imc = Some(imc);
                        }
                    }
                    Ok(None) => return,
                    Err(error) => warn!(%error, "watching InternalMemberClusters"),
                }
            }
        }
    };
    let beat = async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = Timestamp::now();
            let due: Vec<(InternalMemberCluster, bool)> = {
                let boxes = boxes.lock().await;
                boxes
                    .iter()
                    .filter_map(|(name, mailbox)| {
                        let imc = mailbox.imc.as_ref()?;
                        let cluster = fleet.by_name(name)?;
                        match imc.spec.state {
                            ClusterState::Leave => (!mailbox.left).then(|| (imc.clone(), false)),
                            ClusterState::Join => {
                                let period = i64::from(imc.spec.heartbeat_period_seconds.unwrap_or(60));
                                let due = match mailbox.last_beat {
                                    None => true,
                                    Some(_) if cluster.silent => false,
                                    Some(last) => now >= last + jiff::SignedDuration::from_secs(period),
                                };
                                due.then(|| (imc.clone(), true))
                            }
                        }
                    })
                    .collect()
            };
            let results: Vec<(String, bool, bool)> = futures::stream::iter(due)
                .map(|(imc, join)| {
                    let client = client.clone();
                    let fleet = fleet.clone();
                    async move {
                        let name = imc.name_any();
                        let result = report(&client, &imc, join, fleet.by_name(&name).map_or(0, |c| c.index)).await;
                        if let Err(error) = &result {
                            warn!(cluster = %name, %error, "heartbeat failed");
                        }
                        (name, join, result.is_ok())
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            let mut boxes = boxes.lock().await;
            for (name, join, ok) in results {
                let Some(mailbox) = boxes.get_mut(&name) else { continue };
                if !ok {
                    continue;
                }
                if join {
                    if mailbox.last_beat.is_none() {
                        info!(cluster = %name, "joined the fleet");
                    }
                    // Spread the fleet's heartbeats over the period instead of beating all at once.
                    let period = mailbox
                        .imc
                        .as_ref()
                        .and_then(|i| i.spec.heartbeat_period_seconds)
                        .unwrap_or(60) as i64;
                    let first = mailbox.last_beat.is_none();
                    let offset = match (first, fleet.by_name(&name)) {
                        (true, Some(c)) => -(period * 1000 * (c.index as i64 % 100) / 100),
                        _ => 0,
                    };
                    mailbox.last_beat = Some(now + jiff::SignedDuration::from_millis(offset));
                    mailbox.left = false;
                } else {
                    info!(cluster = %name, "left the fleet");
                    mailbox.left = true;
                    mailbox.last_beat = None;
                }
            }
        }
    };
    tokio::join!(watch, beat);
}

/// Writes one heartbeat (`join`) or the `Joined=False` of a cluster that left.
async fn report(client: &Client, imc: &InternalMemberCluster, join: bool, index: usize) -> Result<(), kube::Error> {
    let now = Timestamp::now();
    let generation = imc.metadata.generation.unwrap_or_default();
    let mut conditions = imc.member_agent_status().and_then(|a| a.conditions.clone());
    if join {
        report_joined(&mut conditions, true, generation, now);
    } else {
        report_left(&mut conditions, generation, now);
    }
    let agent = AgentStatus {
        type_: AgentType::MemberAgent,
        conditions,
        last_received_heartbeat: Some(Time(now)),
    };
    let patch = if join {
        // A few node-count sizes so property selectors and sorters have something to work on.
        let nodes = 3 + (index % 5);
        let properties = BTreeMap::from([(
            "kubernetes-fleet.io/node-count".to_string(),
            PropertyValue {
                value: nodes.to_string(),
                observation_time: Time(now),
            },
        )]);
        let resources = |cpu: usize, memory_gi: usize| {
            BTreeMap::from([
                ("cpu".to_string(), Quantity(format!("{cpu}"))),
                ("memory".to_string(), Quantity(format!("{memory_gi}Gi"))),
            ])
        };
        let usage = ResourceUsage {
            capacity: Some(resources(nodes * 4, nodes * 16)),
            allocatable: Some(resources(nodes * 4 - 1, nodes * 15)),
            available: Some(resources(nodes * 2, nodes * 8)),
            observation_time: Some(Time(now)),
        };
        json!({"status": {"agentStatus": [agent], "properties": properties, "resourceUsage": usage}})
    } else {
        json!({"status": {"agentStatus": [agent]}})
    };
    let namespace = imc.namespace().unwrap_or_default();
    Api::<InternalMemberCluster>::namespaced(client.clone(), &namespace)
        .patch_status(&imc.name_any(), &params(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
