//! `stagehand hub`: the hub controller manager.
//!
//! Start-up: connect to the hub (kubeconfig or in-cluster), refuse to run unless every hub CRD is
//! installed and Established (as upstream's hub agent does), then report ready, join the leader
//! election (unless `--leader-elect=false`) and, while leading, run every hub controller until
//! SIGTERM or Ctrl-C. A replica that loses the Lease exits with an error, so it never writes
//! alongside the new leader.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use thiserror::Error;
use tracing::info;

use std::sync::Arc;

use futures::FutureExt;

use crate::api::all_crds;
use crate::cli::HubArgs;
use crate::controllers::placement::controller::PlacementOptions;
use crate::controllers::placement::snapshot_plan::Throttle;
use crate::ops::http::{Readiness, serve};
use crate::ops::leader::Election;
use crate::ops::metrics::Metrics;

/// Why the hub could not start.
#[derive(Debug, Error)]
pub enum HubError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot connect to the hub: {0}")]
    Connect(#[source] kube::Error),
    /// Listing CRDs failed.
    #[error("cannot list CustomResourceDefinitions on the hub: {0}")]
    ListCrds(#[source] kube::Error),
    /// CRDs are missing or not Established.
    #[error(
        "these CRDs are not installed or not Established on the hub: {0}; install them with `kubectl apply --server-side -f crds/` (or the Helm chart)"
    )]
    MissingCrds(String),
    /// API discovery of the hub failed.
    #[error("cannot discover the hub's API types: {0}")]
    Discovery(#[source] kube::Error),
    /// The leader election could not start.
    #[error("cannot join the leader election: {0}")]
    LeaderElection(#[source] kube_lease_manager::LeaseManagerError),
    /// Another replica took the Lease.
    #[error("lost the leader election Lease; exiting so that only the new leader writes")]
    LostLeadership,
    /// The health endpoint could not be served.
    #[error("cannot serve the health endpoint on {addr}: {source}")]
    Http {
        /// Address that was asked for.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// How long controllers may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// CRDs a hub needs (every CRD except AppliedWork, which lives on members).
fn hub_crd_names() -> Vec<String> {
    all_crds()
        .into_iter()
        .filter(|crd| crd.spec.names.kind != "AppliedWork")
        .filter_map(|crd| crd.metadata.name)
        .collect()
}

fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conds| conds.iter().any(|c| c.type_ == "Established" && c.status == "True"))
}

/// Checks that every hub CRD is installed and Established.
pub async fn check_crds(client: &Client) -> Result<(), HubError> {
    let installed = Api::<CustomResourceDefinition>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(HubError::ListCrds)?;
    let missing: Vec<String> = hub_crd_names()
        .into_iter()
        .filter(|name| {
            !installed
                .items
                .iter()
                .any(|crd| &crd.name_any() == name && is_established(crd))
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(HubError::MissingCrds(missing.join(", ")))
    }
}

/// Runs the hub until a shutdown signal.
pub async fn run(args: HubArgs) -> Result<(), HubError> {
    let metrics = Arc::new(Metrics::default());
    let limit = crate::ops::client::RateLimit {
        qps: args.hub_api_qps,
        burst: args.hub_api_burst,
    };
    let client = crate::ops::client::counted_default(metrics.clone(), limit)
        .await
        .map_err(HubError::Connect)?;
    check_crds(&client).await?;
    let readiness = Readiness::default();
    let shutdown = crate::ops::shutdown_signal().boxed().shared();
    let (addr, server) = serve(&args.http_addr, readiness.clone(), metrics.clone(), shutdown.clone())
        .await
        .map_err(|source| HubError::Http {
            addr: args.http_addr.clone(),
            source,
        })?;
    readiness.set_ready();
    info!(%addr, "hub ready: CRDs installed; serving /healthz, /readyz and /metrics");
    crate::controllers::tuning::set(crate::controllers::tuning::Tuning {
        concurrent_reconciles: args.concurrent_reconciles,
        run_status_inline_limit: args.run_status_inline_limit,
        placement_status_inline_limit: args.placement_status_inline_limit,
    });
    crate::controllers::compat::set(args.compat);
    // Crash points of the test suite's builds (none in release builds).
    let _failpoints = crate::ops::failpoints::setup();
    info!(compat = ?args.compat, "compatibility profile (SD-25)");
    let options = PlacementOptions {
        throttle: Throttle {
            collection: args.resource_changes_collection_duration,
            minimum_interval: args.resource_snapshot_creation_minimum_interval,
        },
    };
    let mut election = if args.leader_elect {
        let identity = args.leader_election_identity.clone().unwrap_or_else(default_identity);
        Some(
            Election::join(
                client.clone(),
                &args.leader_election_namespace,
                &args.leader_election_id,
                &identity,
            )
            .await
            .map_err(HubError::LeaderElection)?,
        )
    } else {
        None
    };
    let lead_and_run = async {
        if let Some(election) = election.as_mut() {
            info!("waiting to lead");
            tokio::select! {
                () = election.acquired() => info!("leading: starting the controllers"),
                () = shutdown.clone() => return Ok(()),
            }
        }
        let controllers = crate::controllers::run_hub_controllers(client, metrics, options, shutdown.clone());
        let lost = async {
            match election.as_mut() {
                Some(election) => election.lost().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            placed = controllers => placed.map_err(HubError::Discovery),
            () = lost => Err(HubError::LostLeadership),
        }
    };
    // Controllers finish their reconciles after a signal, but one whose watch had not delivered
    // its first list yet waits for it forever (kube-runtime); it must not keep the process alive.
    let bounded = async {
        tokio::select! {
            placed = lead_and_run => placed,
            _ = async { shutdown.clone().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                tracing::warn!(grace = ?SHUTDOWN_GRACE, "controllers did not stop in time; exiting");
                Ok(())
            }
        }
    };
    // Lost leadership ends the controllers: the process must end with them (and be restarted),
    // not keep serving /healthz with no controller running, which looked healthy and did nothing.
    let (placed, served) = {
        tokio::pin!(server);
        tokio::pin!(bounded);
        tokio::select! {
            placed = &mut bounded => match placed {
                Err(error) => (Err(error), None),
                Ok(()) => (Ok(()), Some((&mut server).await)),
            },
            served = &mut server => ((&mut bounded).await, Some(served)),
        }
    };
    if let Err(error) = &placed {
        tracing::error!(%error, "the controllers stopped; exiting");
    }
    if let Some(election) = election {
        election.leave().await;
    }
    placed?;
    if let Some(served) = served {
        served.map_err(|source| HubError::Http {
            addr: args.http_addr.clone(),
            source,
        })?;
    }
    info!("hub stopped");
    Ok(())
}

/// This replica's name in the election: the pod name when running in Kubernetes, else the host
/// name and process id. A container restarted in its pod keeps the name, finds the Lease its own
/// and leads again at once instead of waiting for it to expire (SD-37).
fn default_identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    })
}
