//! `stagehand member`: the member agent (`placement-pipeline.md` §12, §13.3). One runs per member
//! cluster. It joins the fleet through its InternalMemberCluster on the hub (`join`) and applies
//! the Works of its hub namespace to the member cluster (`applier`, with the pure rules in
//! `judge`).

pub mod applier;
pub mod join;
pub mod judge;

use std::sync::Arc;

use futures::FutureExt;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;
use tracing::info;

use crate::cli::MemberArgs;
use crate::ops::http::{Readiness, serve};
use crate::ops::metrics::Metrics;

/// Why the agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// The hub connection settings are incomplete or unreadable.
    #[error("hub connection: {0}")]
    HubConfig(String),
    /// A client could not be built.
    #[error("connecting: {0}")]
    Connect(#[from] kube::Error),
    /// The HTTP endpoint could not start.
    #[error("serving HTTP on {addr}: {source}")]
    Http {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// A client for the hub, from a kubeconfig (`HUB_KUBECONFIG`) or, as upstream's agent is
/// configured, from `HUB_SERVER_URL`, a token file (`CONFIG_PATH`) and a CA file
/// (`HUB_CERTIFICATE_AUTHORITY`).
async fn hub_client(args: &MemberArgs) -> Result<Client, MemberError> {
    let kubeconfig = match (&args.hub_kubeconfig, &args.hub_server_url) {
        (Some(path), _) => Kubeconfig::read_from(path).map_err(|e| MemberError::HubConfig(e.to_string()))?,
        (None, Some(url)) => {
            let token = args.config_path.as_ref().ok_or_else(|| {
                MemberError::HubConfig("HUB_SERVER_URL needs CONFIG_PATH, the file holding the agent's token".into())
            })?;
            let mut cluster = json!({"server": url});
            if let Some(ca) = &args.hub_certificate_authority {
                cluster["certificate-authority"] = json!(ca);
            }
            serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Config", "current-context": "hub",
                "clusters": [{"name": "hub", "cluster": cluster}],
                "users": [{"name": "agent", "user": {"tokenFile": token}}],
                "contexts": [{"name": "hub", "context": {"cluster": "hub", "user": "agent"}}],
            }))
            .map_err(|e| MemberError::HubConfig(e.to_string()))?
        }
        (None, None) => {
            return Err(MemberError::HubConfig(
                "set HUB_KUBECONFIG, or HUB_SERVER_URL with CONFIG_PATH (and HUB_CERTIFICATE_AUTHORITY)".into(),
            ));
        }
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| MemberError::HubConfig(e.to_string()))?;
    Ok(Client::try_from(config)?)
}

/// Runs the agent until SIGTERM or Ctrl-C. The member cluster is found through `KUBECONFIG` (or
/// the in-cluster service account).
pub async fn run(args: MemberArgs) -> Result<(), MemberError> {
    let hub = hub_client(&args).await?;
    let member = Client::try_default().await?;
    let shutdown = crate::ops::shutdown_signal().boxed().shared();
    run_with(hub, member, args.member_cluster_name.clone(), &args.http_addr, shutdown).await
}

/// Runs the agent with ready clients until `shutdown`.
pub async fn run_with(
    hub: Client,
    member: Client,
    name: String,
    http_addr: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + Clone + 'static,
) -> Result<(), MemberError> {
    let readiness = Readiness::default();
    let (addr, server) = serve(
        http_addr,
        readiness.clone(),
        Arc::new(Metrics::default()),
        shutdown.clone(),
    )
    .await
    .map_err(|source| MemberError::Http {
        addr: http_addr.to_string(),
        source,
    })?;
    readiness.set_ready();
    info!(member = %name, %addr, "member agent running; serving /healthz and /readyz");
    let joined = join::Joined::default();
    let joining = join::run(
        hub.clone(),
        member.clone(),
        name.clone(),
        joined.clone(),
        shutdown.clone(),
    );
    let applying = applier::run(hub, member, &name, joined, shutdown);
    let (_, _, served) = tokio::join!(joining, applying, server);
    served.map_err(|source| MemberError::Http {
        addr: http_addr.to_string(),
        source,
    })?;
    info!(member = %name, "member agent stopped");
    Ok(())
}
