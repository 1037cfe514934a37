//! Command line of the `stagehand` binary.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Stagehand: staged rollouts to a fleet of member clusters (KubeFleet-compatible).
#[derive(Parser, Debug)]
#[command(name = "stagehand", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands of `stagehand`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write every CRD as YAML, one file per CRD, into a directory.
    Crdgen {
        /// Output directory.
        #[arg(long, default_value = "crds")]
        out: PathBuf,
    },
    /// Run the hub controller manager.
    Hub(HubArgs),
    /// Run the member agent on a member cluster.
    Member(MemberArgs),
}

/// Settings of `stagehand hub`. The hub is found through `KUBECONFIG` (or `~/.kube/config`, or
/// the in-cluster service account).
#[derive(clap::Args, Debug)]
pub struct HubArgs {
    /// Address of the health endpoint (`/healthz`, `/readyz`).
    #[arg(long, env = "STAGEHAND_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: String,
    /// Log one JSON object per line instead of text.
    #[arg(long, env = "STAGEHAND_LOG_JSON")]
    pub log_json: bool,
}

/// Settings of `stagehand member`, named as upstream's member agent environment.
#[derive(clap::Args, Debug)]
pub struct MemberArgs {
    /// This member cluster's name on the hub.
    #[arg(long, env = "MEMBER_CLUSTER_NAME")]
    pub member_cluster_name: String,
    /// Kubeconfig for the hub (until the upstream-style HUB_SERVER_URL credentials are supported).
    #[arg(long, env = "HUB_KUBECONFIG")]
    pub hub_kubeconfig: PathBuf,
}
