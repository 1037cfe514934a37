//! `kubectl stagehand`: see, approve, steer and explain a staged rollout from the terminal
//! (docs/kubectl-plugin.md). Its own room over `api` (the types): it reads and writes the hub's
//! objects through the API server like any user, and imports nothing from the hub's controllers.

mod commands;
mod history;
mod placement_commands;
mod plan;
mod render;
pub mod report;
mod target;
mod why;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use serde_json::json;

use render::Output;
use target::{Connection, Kinds};

/// Why a command could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The kubeconfig or context cannot be used.
    #[error("{0}")]
    Config(String),
    /// The API server refused or could not be reached.
    #[error("{0}")]
    Api(String),
    /// The named object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request makes no sense for the run as it is.
    #[error("{0}")]
    Refused(String),
    /// An object could not be read.
    #[error("{0}")]
    Invalid(String),
}

impl PluginError {
    /// One line that says what the API server answered.
    pub fn api(error: kube::Error) -> PluginError {
        match error {
            kube::Error::Api(status) if status.code == 403 => {
                PluginError::Api(format!("forbidden: {}", status.message))
            }
            kube::Error::Api(status) => PluginError::Api(status.message),
            other => PluginError::Api(format!("cannot reach the API server: {other}")),
        }
    }
}

const EXAMPLES: &str = "Examples:
  kubectl stagehand plan example-placement --strategy example-strategy   # what a run would do
  kubectl stagehand run example-placement --strategy example-strategy --name example-run
  kubectl stagehand rollback example-placement --to 0 --strategy example-strategy
  kubectl stagehand history example-placement          # indexes, what changed, which run rolled each out
  kubectl stagehand status example-run                 # stages, clusters and tasks of a run
  kubectl stagehand status example-run --watch         # redraw on change; exit 0 on success, 3 on failure
  kubectl stagehand why example-run                    # what blocks the run, and the command that unblocks it
  kubectl stagehand approve example-run canary --before
  kubectl stagehand stop example-run; kubectl stagehand resume example-run
  kubectl stagehand status web-app-rollout -n my-app-namespace   # a namespaced StagedUpdateRun
  kubectl stagehand list -A                            # every namespace's StagedUpdateRuns and their phase";

/// See, approve, steer and explain Stagehand / KubeFleet staged update runs.
#[derive(Parser, Debug)]
#[command(name = "kubectl-stagehand", bin_name = "kubectl stagehand", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
enum Command {
    /// List runs with their phase: cluster-scoped ones, those of `-n NAMESPACE`, or with `-A`
    /// the namespaced runs of every namespace.
    List {
        /// Every namespace's StagedUpdateRuns.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// `table` (default) or `json`.
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Show a run: its stages in order with their clusters and tasks, and a summary line.
    Status {
        /// The run.
        run: String,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
        /// Print again on every change of the run (a watch, not a poll) until it ends; the exit
        /// code is then 0 when it succeeded and 3 when it failed or was aborted.
        #[arg(short = 'w', long)]
        watch: bool,
    },
    /// Approve the approval request the run waits for now.
    Approve {
        /// The run.
        run: String,
        /// Only this stage's approval.
        stage: Option<String>,
        /// Only a before-stage approval.
        #[arg(long, conflicts_with = "after")]
        before: bool,
        /// Only an after-stage approval.
        #[arg(long)]
        after: bool,
        /// The approval's message.
        #[arg(short = 'm', long, default_value = "approved with kubectl stagehand")]
        message: String,
    },
    /// Say in one sentence what blocks the run now, and the command that unblocks it.
    Why {
        /// The run.
        run: String,
    },
    /// Stop a run: nothing new starts; clusters in flight settle (`spec.state: Stop`).
    Stop {
        /// The run.
        run: String,
    },
    /// Start or resume a run (`spec.state: Run`).
    Resume {
        /// The run.
        run: String,
    },
    /// End a run for good (`spec.state: Abort`, SD-32); it cannot be resumed.
    Abort {
        /// The run.
        run: String,
    },
    /// Retry the clusters that failed the run, with the same resource snapshot (SD-31).
    Retry {
        /// The run.
        run: String,
    },
    /// Leave clusters or stages out of the run from now on (SD-32).
    Skip {
        /// The run.
        run: String,
        /// A member cluster to skip (repeatable).
        #[arg(long = "cluster", value_name = "CLUSTER")]
        clusters: Vec<String>,
        /// A stage to skip (repeatable).
        #[arg(long = "stage", value_name = "STAGE")]
        stages: Vec<String>,
    },
    /// Show what a run of the placement would do, without creating it: stages and clusters in
    /// order with their batches, tasks, waits and an estimate; clusters that match no stage.
    Plan {
        /// The placement.
        placement: String,
        /// The strategy.
        #[arg(long)]
        strategy: String,
        /// The resource snapshot index (default: the latest).
        #[arg(long)]
        index: Option<u64>,
        /// Seconds one cluster's update is assumed to take, for the estimate.
        #[arg(long, default_value_t = 30)]
        cluster_seconds: u64,
        /// `table` (default) or `json`.
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Start a run of the placement (the latest resource snapshot, or `--index`).
    Run {
        /// The placement.
        placement: String,
        /// The strategy.
        #[arg(long)]
        strategy: String,
        /// The resource snapshot index (default: the latest).
        #[arg(long)]
        index: Option<u64>,
        /// The run's name (default: `<placement>-<index>-<random>`).
        #[arg(long)]
        name: Option<String>,
    },
    /// Roll the placement back: a run of an older resource snapshot index.
    Rollback {
        /// The placement.
        placement: String,
        /// The index to go back to.
        #[arg(long)]
        to: u64,
        /// The strategy.
        #[arg(long)]
        strategy: String,
        /// The run's name (default: `<placement>-<index>-<random>`).
        #[arg(long)]
        name: Option<String>,
    },
    /// The placement's resource snapshot indexes, what changed between them, and which runs
    /// rolled each out where.
    History {
        /// The placement.
        placement: String,
        /// `table` (default) or `json`.
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Print a shell completion script (bash, zsh, fish, ...).
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Runs the plugin with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<u8, PluginError> {
    if let Command::Completion { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "kubectl-stagehand", &mut std::io::stdout());
        return Ok(0);
    }
    let client = target::client(&cli.connection).await?;
    let kinds = Kinds::of(cli.connection.namespace.clone());
    let (c, k) = (&client, &kinds);
    match cli.command {
        Command::Status { run, output, watch } => commands::status(c, k, &run, output, watch).await,
        Command::List { all_namespaces, output } => {
            commands::list(c, k, all_namespaces, matches!(output, Output::Json | Output::Yaml)).await
        }
        Command::Approve {
            run,
            stage,
            before,
            after,
            message,
        } => {
            let position = match (before, after) {
                (true, _) => Some("before"),
                (_, true) => Some("after"),
                _ => None,
            };
            commands::approve(c, k, &run, stage.as_deref(), position, &message).await
        }
        Command::Why { run } => commands::why(c, k, &run).await,
        Command::Stop { run } => commands::patch_spec(c, k, &run, json!({"state": "Stop"}), "stopping").await,
        Command::Resume { run } => commands::patch_spec(c, k, &run, json!({"state": "Run"}), "running").await,
        Command::Abort { run } => commands::patch_spec(c, k, &run, json!({"state": "Abort"}), "aborted").await,
        Command::Retry { run } => commands::retry(c, k, &run).await,
        Command::Skip { run, clusters, stages } => {
            if clusters.is_empty() && stages.is_empty() {
                return Err(PluginError::Refused(
                    "name at least one --cluster or --stage to skip".into(),
                ));
            }
            commands::skip(c, k, &run, &clusters, &stages).await
        }
        Command::Plan {
            placement,
            strategy,
            index,
            cluster_seconds,
            output,
        } => {
            let json = matches!(output, Output::Json | Output::Yaml);
            placement_commands::plan_run(c, k, &placement, &strategy, index, cluster_seconds, json).await
        }
        Command::Run {
            placement,
            strategy,
            index,
            name,
        } => placement_commands::create_run(c, k, &placement, &strategy, index, name.as_deref()).await,
        Command::Rollback {
            placement,
            to,
            strategy,
            name,
        } => placement_commands::create_run(c, k, &placement, &strategy, Some(to), name.as_deref()).await,
        Command::History { placement, output } => {
            placement_commands::history(c, k, &placement, matches!(output, Output::Json | Output::Yaml)).await
        }
        Command::Completion { .. } => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bash_completion_script_names_the_commands() {
        let mut out = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "kubectl-stagehand",
            &mut out,
        );
        let script = String::from_utf8_lossy(&out);
        for command in ["status", "approve", "why", "plan", "rollback", "history"] {
            assert!(script.contains(command), "{command} missing from the completion script");
        }
    }

    #[test]
    fn the_cli_is_consistent_and_its_help_has_examples() {
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("kubectl stagehand approve example-run canary --before"),
            "{help}"
        );
    }
}
