//! Which cluster and which run a command talks to: kubectl's `--kubeconfig`, `--context` and
//! `-n/--namespace` conventions, and the two scopes (a run named with `-n` is a `StagedUpdateRun`
//! in that namespace; without it, a `ClusterStagedUpdateRun`).

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::PluginError;

/// Connection flags shared by every command.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Connection {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace of a namespaced run (StagedUpdateRun) or placement (ResourcePlacement); without
    /// it, the cluster-scoped kinds are used.
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
}

/// The kinds of one scope.
#[derive(Clone, Debug)]
pub struct Kinds {
    /// Namespace, for the namespaced kinds.
    pub namespace: Option<String>,
    /// Run kind.
    pub run: ApiResource,
    /// Approval request kind.
    pub approval: ApiResource,
    /// Binding kind.
    pub binding: ApiResource,
    /// Resource snapshot kind.
    pub snapshot: ApiResource,
    /// Strategy kind.
    pub strategy: ApiResource,
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("placement.kubernetes-fleet.io", "v1beta1", kind),
        plural,
    )
}

impl Kinds {
    /// The kinds for `namespace` (namespaced) or none (cluster-scoped).
    pub fn of(namespace: Option<String>) -> Kinds {
        match namespace {
            Some(ns) => Kinds {
                namespace: Some(ns),
                run: resource("StagedUpdateRun", "stagedupdateruns"),
                approval: resource("ApprovalRequest", "approvalrequests"),
                binding: resource("ResourceBinding", "resourcebindings"),
                snapshot: resource("ResourceSnapshot", "resourcesnapshots"),
                strategy: resource("StagedUpdateStrategy", "stagedupdatestrategies"),
            },
            None => Kinds {
                namespace: None,
                run: resource("ClusterStagedUpdateRun", "clusterstagedupdateruns"),
                approval: resource("ClusterApprovalRequest", "clusterapprovalrequests"),
                binding: resource("ClusterResourceBinding", "clusterresourcebindings"),
                snapshot: resource("ClusterResourceSnapshot", "clusterresourcesnapshots"),
                strategy: resource("ClusterStagedUpdateStrategy", "clusterstagedupdatestrategies"),
            },
        }
    }

    /// The namespaced run kind, for listing every namespace's runs.
    pub fn namespaced_run() -> ApiResource {
        resource("StagedUpdateRun", "stagedupdateruns")
    }

    /// An API of kind `ar` in this scope.
    pub fn api(&self, client: &Client, ar: &ApiResource) -> Api<DynamicObject> {
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
            None => Api::all_with(client.clone(), ar),
        }
    }

    /// How a run is named in messages and commands: `-n NS RUN` or `RUN`.
    pub fn show(&self, name: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {name} in namespace {ns}", self.run.kind),
            None => format!("{} {name}", self.run.kind),
        }
    }

    /// The `-n NS ` part of a suggested command.
    pub fn ns_flag(&self) -> String {
        self.namespace
            .as_ref()
            .map(|ns| format!(" -n {ns}"))
            .unwrap_or_default()
    }
}

/// A client for the cluster the flags name.
pub async fn client(connection: &Connection) -> Result<Client, PluginError> {
    let options = KubeConfigOptions {
        context: connection.context.clone(),
        ..Default::default()
    };
    let kubeconfig = match &connection.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).map_err(|e| PluginError::Config(e.to_string()))?,
        None => Kubeconfig::read().map_err(|e| PluginError::Config(e.to_string()))?,
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| PluginError::Config(e.to_string()))?;
    Client::try_from(config).map_err(|e| PluginError::Config(e.to_string()))
}
