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
    /// Address of the HTTP endpoint (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "STAGEHAND_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: String,
    /// Least time between two resource snapshots of one placement (Go duration, 0s..5m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub resource_snapshot_creation_minimum_interval: std::time::Duration,
    /// How long resource changes are collected after the first one before a snapshot is taken
    /// (Go duration, 0s..1m).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub resource_changes_collection_duration: std::time::Duration,
    /// Run controllers only while holding the leader election Lease (`--leader-elect=false` for
    /// a single replica that should not use a Lease).
    #[arg(long, env = "STAGEHAND_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Namespace of the leader election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub leader_election_namespace: String,
    /// Name of the leader election Lease.
    #[arg(long, default_value = "stagehand-hub")]
    pub leader_election_id: String,
    /// This replica's identity in the election (default: `POD_NAME`, else host name and pid).
    #[arg(long)]
    pub leader_election_identity: Option<String>,
    /// Log one JSON object per line instead of text.
    #[arg(long, env = "STAGEHAND_LOG_JSON")]
    pub log_json: bool,
    /// Requests per second the hub's client may send to its API server, sustained (0: no
    /// limit). Upstream's hub agent: `--hub-api-qps`, 250.
    #[arg(long, default_value_t = 250)]
    pub hub_api_qps: u32,
    /// Requests the hub's client may send at once after a quiet period. Upstream: 1000.
    #[arg(long, default_value_t = 1000)]
    pub hub_api_burst: u32,
    /// Reconciles each hub controller runs at once (0: no bound).
    #[arg(long, default_value_t = crate::controllers::tuning::DEFAULT_CONCURRENT_RECONCILES)]
    pub concurrent_reconciles: u16,
    /// Staged update runs over more clusters than this keep a compact status: counts per stage
    /// and only the clusters updating or failed listed (SD-22). Runs up to it have upstream's
    /// shape.
    #[arg(long, default_value_t = crate::controllers::update_run::decide::compact::DEFAULT_INLINE_LIMIT)]
    pub run_status_inline_limit: usize,
    /// Placements over more clusters than this keep a compact status: counts, and only the
    /// clusters with a condition that is not True listed (SD-23). Placements up to it have
    /// upstream's shape.
    #[arg(long, default_value_t = crate::controllers::tuning::DEFAULT_PLACEMENT_INLINE_LIMIT)]
    pub placement_status_inline_limit: usize,
    /// Compatibility profile (SD-25, docs/compatibility.md): `documents` follows the KubeFleet
    /// and Azure how-to documents where they differ from upstream KubeFleet's code (approval
    /// request names, condition reasons, resource snapshots of External placements); `upstream`
    /// follows upstream's code, for automation written against a running KubeFleet hub.
    #[arg(long, value_enum, default_value_t = crate::controllers::compat::Profile::Documents)]
    pub compat: crate::controllers::compat::Profile,
}

/// Settings of `stagehand member`, named as upstream's member agent environment. The member
/// cluster is found through `KUBECONFIG` (or the in-cluster service account).
#[derive(clap::Args, Debug)]
pub struct MemberArgs {
    /// This member cluster's name on the hub.
    #[arg(long, env = "MEMBER_CLUSTER_NAME")]
    pub member_cluster_name: String,
    /// Kubeconfig for the hub (instead of the three settings below).
    #[arg(long, env = "HUB_KUBECONFIG")]
    pub hub_kubeconfig: Option<PathBuf>,
    /// URL of the hub's API server.
    #[arg(long, env = "HUB_SERVER_URL")]
    pub hub_server_url: Option<String>,
    /// File holding the bearer token of the agent's hub identity.
    #[arg(long, env = "CONFIG_PATH")]
    pub config_path: Option<PathBuf>,
    /// PEM file of the hub's certificate authority.
    #[arg(long, env = "HUB_CERTIFICATE_AUTHORITY")]
    pub hub_certificate_authority: Option<PathBuf>,
    /// Address of the HTTP endpoint (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "STAGEHAND_HTTP_ADDR", default_value = "0.0.0.0:8091")]
    pub http_addr: String,
    /// Log one JSON object per line instead of text.
    #[arg(long, env = "STAGEHAND_LOG_JSON")]
    pub log_json: bool,
}

/// Parses a Go-format duration (`30s`, `1m30s`, `0s`).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let parsed: kube::core::Duration = text.parse().map_err(|e| format!("invalid duration {text:?}: {e}"))?;
    Ok(parsed.into())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};
    use crate::controllers::compat::Profile;

    #[test]
    fn hub_help_documents_the_compatibility_profile() {
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("hub")
            .expect("hub subcommand")
            .render_long_help()
            .to_string();
        assert!(help.contains("--compat <COMPAT>"), "{help}");
        assert!(help.contains("documents") && help.contains("upstream"), "{help}");
        assert!(help.contains("[default: documents]"), "{help}");
    }

    #[test]
    fn compat_defaults_to_documents_and_accepts_upstream() {
        let parse = |extra: &[&str]| {
            let args = ["stagehand", "hub"].iter().chain(extra).copied();
            match Cli::try_parse_from(args).expect("parses").command {
                Command::Hub(args) => args.compat,
                other => panic!("not hub: {other:?}"),
            }
        };
        assert_eq!(parse(&[]), Profile::Documents);
        assert_eq!(parse(&["--compat", "upstream"]), Profile::Upstream);
        assert!(Cli::try_parse_from(["stagehand", "hub", "--compat", "kubefleet"]).is_err());
    }
}
