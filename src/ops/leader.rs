//! Leader election for `stagehand hub` over a `coordination.k8s.io` Lease (kube-lease-manager):
//! several replicas may run, only the one holding the Lease runs controllers.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Seconds a Lease stays valid after its holder last renewed it; a crashed leader is replaced
/// after at most this long (plus the candidates' retry interval).
pub const LEASE_DURATION_SECONDS: u64 = 15;
/// Seconds before expiry at which the holder renews.
pub const LEASE_GRACE_SECONDS: u64 = 5;

/// A running election: whether this replica leads, and the task that keeps the Lease.
pub struct Election {
    leading: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
}

impl Election {
    /// Joins the election for Lease `name` in `namespace` as `identity`.
    pub async fn join(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
    ) -> Result<Election, LeaseManagerError> {
        let manager = LeaseManagerBuilder::new(client, name)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(LEASE_DURATION_SECONDS)
            .with_grace(LEASE_GRACE_SECONDS)
            .with_field_manager(format!("stagehand-hub-{identity}"))
            .build()
            .await?;
        let (leading, task) = manager.watch().await;
        info!(lease = %format!("{namespace}/{name}"), %identity, "joined the leader election");
        Ok(Election { leading, task })
    }

    /// Completes once this replica holds the Lease.
    pub async fn acquired(&mut self) {
        while !*self.leading.borrow_and_update() {
            if self.leading.changed().await.is_err() {
                // The election task ended: never leading; wait for shutdown instead.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Completes if this replica loses the Lease (or the election task ends).
    pub async fn lost(&mut self) {
        loop {
            if !*self.leading.borrow_and_update() {
                return;
            }
            if self.leading.changed().await.is_err() {
                return;
            }
        }
    }

    /// Leaves the election, releasing the Lease if this replica holds it, so a standby takes over
    /// at once instead of after the Lease expires.
    pub async fn leave(self) {
        drop(self.leading);
        match tokio::time::timeout(Duration::from_secs(5), self.task).await {
            Ok(Ok(Ok(_))) => info!("left the leader election"),
            Ok(Ok(Err(error))) => warn!(%error, "releasing the lease failed"),
            Ok(Err(error)) => warn!(%error, "the leader election task failed"),
            Err(_) => warn!("releasing the lease timed out"),
        }
    }
}
