//! `fleetsim`: simulated member clusters for sizing and testing a hub, as kwok simulates nodes.
//!
//! N simulated members join a real hub without member API servers: each keeps its
//! InternalMemberCluster joined with a heartbeat (`members`) and reports every Work of its
//! namespace applied and available at the Work's generation after a configurable latency, or
//! the failure injected for it (`works`, with the status shape in `report`). It writes only what
//! a member agent writes, through the public API, so it can sit in front of any
//! KubeFleet-compatible hub. What each member was asked to apply, and when, goes to a record
//! file (`record`) for tests that check ordering and concurrency from the members' side.
//!
//! The simulator uses the API types and ops helpers only; it shares no code with the hub or the
//! member agent.

pub mod invariants;
pub mod members;
pub mod plan;
pub mod record;
pub mod report;
pub mod works;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tracing::info;

use self::plan::{LabelSplit, LabelSpread, Latency, Selection, cluster_labels, cluster_name};
use self::record::Recorder;
use self::report::Outcome;
use crate::api::labels::member_namespace;

/// Simulated member clusters for a KubeFleet-compatible hub.
#[derive(Parser, Debug)]
#[command(
    name = "fleetsim",
    version,
    about,
    after_help = "Examples:\n  \
      fleetsim --clusters 1000 --create-member-clusters --split env=canary:20,staging:30,prod:50\n  \
      fleetsim --clusters 100 --latency 200ms-2s --fail-apply 5% --record /tmp/members.jsonl\n  \
      fleetsim --clusters 50 --never-available sim-00003 --no-heartbeat sim-00007"
)]
pub struct Args {
    /// Kubeconfig of the hub (default: KUBECONFIG, ~/.kube/config or in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Number of simulated member clusters.
    #[arg(long)]
    pub clusters: usize,
    /// Name prefix; cluster i is `<prefix><i>` with five digits (sim-00001, sim-00002, ...).
    #[arg(long, default_value = "sim-")]
    pub prefix: String,
    /// Create (or update) a MemberCluster for each simulated cluster first, with the labels below.
    #[arg(long)]
    pub create_member_clusters: bool,
    /// A label every created MemberCluster gets (KEY=VALUE; repeatable).
    #[arg(long = "label", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// A label whose values split the fleet by share, in name order (KEY=V1:P1,V2:P2,...;
    /// repeatable), e.g. env=canary:20,staging:30,prod:50.
    #[arg(long = "split", value_parser = LabelSplit::parse)]
    pub splits: Vec<LabelSplit>,
    /// A label whose values go round the fleet in name order (KEY=V1,V2,...; repeatable), e.g.
    /// group=g0,g1,g2 for placements that each select one group.
    #[arg(long = "spread", value_parser = LabelSpread::parse)]
    pub spreads: Vec<LabelSpread>,
    /// Heartbeat period of created MemberClusters, in seconds (1 to 600).
    #[arg(long, default_value_t = 60)]
    pub heartbeat_period: i32,
    /// Time from seeing a Work generation to reporting it: a Go duration (200ms) or a uniform
    /// range (100ms-2s).
    #[arg(long, default_value = "0s", value_parser = Latency::parse)]
    pub latency: Latency,
    /// Seed of the latency samples (the same seed gives the same latencies).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Clusters whose Works fail to apply: names (a,b) or a share (5%).
    #[arg(long, default_value = "", value_parser = Selection::parse)]
    pub fail_apply: Selection,
    /// Clusters whose Works apply but never become available: names or a share.
    #[arg(long, default_value = "", value_parser = Selection::parse)]
    pub never_available: Selection,
    /// Clusters that join once and then go silent (no heartbeat, no Work reports): names or a share.
    #[arg(long, default_value = "", value_parser = Selection::parse)]
    pub no_heartbeat: Selection,
    /// Append what each member was asked to apply, and when, to this file (JSON lines).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Most hub writes in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Log one JSON object per line instead of text.
    #[arg(long)]
    pub log_json: bool,
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// One simulated cluster.
#[derive(Clone, Debug)]
pub struct SimulatedCluster {
    /// Position in the fleet (0-based).
    pub index: usize,
    /// MemberCluster name.
    pub name: String,
    /// Labels of its MemberCluster (when the simulator creates it).
    pub labels: BTreeMap<String, String>,
    /// What it reports for every Work.
    pub outcome: Outcome,
    /// Whether it goes silent after joining.
    pub silent: bool,
}

/// The simulated fleet, fixed at start.
#[derive(Debug)]
pub struct Fleet {
    /// Every cluster, in index order.
    pub clusters: Vec<SimulatedCluster>,
    /// Apply latency.
    pub latency: Latency,
    by_name: HashMap<String, usize>,
    by_namespace: HashMap<String, usize>,
}

impl Fleet {
    /// The fleet `args` describe.
    pub fn from_args(args: &Args) -> Fleet {
        let total = args.clusters;
        let clusters: Vec<SimulatedCluster> = (0..total)
            .map(|index| {
                let name = cluster_name(&args.prefix, index);
                let outcome = if args.fail_apply.contains(&name, index) {
                    Outcome::ApplyFailed
                } else if args.never_available.contains(&name, index) {
                    Outcome::NotAvailable
                } else {
                    Outcome::Available
                };
                SimulatedCluster {
                    index,
                    labels: cluster_labels(&args.labels, &args.splits, &args.spreads, index, total),
                    silent: args.no_heartbeat.contains(&name, index),
                    outcome,
                    name,
                }
            })
            .collect();
        let by_name = clusters.iter().map(|c| (c.name.clone(), c.index)).collect();
        let by_namespace = clusters.iter().map(|c| (member_namespace(&c.name), c.index)).collect();
        Fleet {
            clusters,
            latency: args.latency,
            by_name,
            by_namespace,
        }
    }

    /// The cluster of that name.
    pub fn by_name(&self, name: &str) -> Option<&SimulatedCluster> {
        self.by_name.get(name).map(|i| &self.clusters[*i])
    }

    /// The cluster whose hub namespace (`fleet-member-<name>`) that is.
    pub fn by_namespace(&self, namespace: &str) -> Option<&SimulatedCluster> {
        self.by_namespace.get(namespace).map(|i| &self.clusters[*i])
    }
}

/// Why the simulator could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The kubeconfig could not be read.
    #[error("reading the kubeconfig: {0}")]
    Config(String),
    /// A hub call failed.
    #[error("hub: {0}")]
    Hub(#[from] kube::Error),
    /// The record file could not be created.
    #[error("creating the record file: {0}")]
    Record(#[from] std::io::Error),
}

/// Runs the simulated fleet until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> Result<(), SimError> {
    let client = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| SimError::Config(e.to_string()))?;
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| SimError::Config(e.to_string()))?;
            Client::try_from(config)?
        }
        None => Client::try_default().await?,
    };
    let fleet = Arc::new(Fleet::from_args(&args));
    if args.create_member_clusters {
        members::create_member_clusters(&client, &fleet, args.heartbeat_period, args.concurrency).await?;
    }
    let recorder = match &args.record {
        Some(path) => Recorder::to_file(path)?,
        None => Recorder::disabled(),
    };
    info!(clusters = fleet.clusters.len(), latency = ?fleet.latency, "simulated members running");
    // A line for scripts and tests that wait for the fleet.
    println!("READY clusters={}", fleet.clusters.len());
    let joining = members::run(client.clone(), fleet.clone(), args.concurrency);
    let working = works::run(client, fleet, recorder, args.concurrency, args.seed);
    tokio::select! {
        _ = async { tokio::join!(joining, working) } => {}
        () = crate::ops::shutdown_signal() => info!("stopping"),
    }
    Ok(())
}
