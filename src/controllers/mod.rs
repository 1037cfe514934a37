//! The hub's controllers.

use std::sync::Arc;

use kube::Client;

use crate::ops::metrics::Metrics;

pub mod compat;
pub mod member_cluster;
pub mod placement;
pub mod rollout;
pub mod scheduler;
pub mod shared;
pub mod tuning;
pub mod update_run;
pub mod work_generator;

/// Runs every hub controller until `shutdown`: member clusters, placements (snapshots and
/// status), the scheduler, the rollout controller, the work generator and staged update runs.
pub async fn run_hub_controllers(
    client: Client,
    metrics: Arc<Metrics>,
    options: placement::controller::PlacementOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + Clone + 'static,
) -> Result<(), kube::Error> {
    let placements = placement::controller::run_controllers(client.clone(), metrics.clone(), options, shutdown.clone());
    let members = member_cluster::wiring::run_controller(client.clone(), metrics.clone(), shutdown.clone());
    let scheduler = scheduler::wiring::run_controllers(client.clone(), metrics.clone(), shutdown.clone());
    let rollout = rollout::wiring::run_controllers(client.clone(), metrics.clone(), shutdown.clone());
    let works = work_generator::wiring::run_controllers(client.clone(), metrics.clone(), shutdown.clone());
    let runs = update_run::run_controllers(client, metrics, shutdown);
    let (placed, (), (), (), (), ()) = tokio::join!(placements, members, scheduler, rollout, works, runs);
    placed
}
