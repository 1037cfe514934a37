//! `kubectl stagehand`: see, approve, steer and explain a staged rollout from the terminal
//! (docs/kubectl-plugin.md). Its own room over `api` (the types): it reads and writes the hub's
//! objects through the API server like any user, and imports nothing from the hub's controllers.

mod commands;
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
  kubectl stagehand status example-run                 # stages, clusters and tasks of a run
  kubectl stagehand status example-run --watch         # redraw on change; exit 0 on success, 3 on failure
  kubectl stagehand why example-run                    # what blocks the run, and the command that unblocks it
  kubectl stagehand approve example-run canary --before
  kubectl stagehand stop example-run; kubectl stagehand resume example-run
  kubectl stagehand status web-app-rollout -n my-app-namespace   # a namespaced StagedUpdateRun";

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
        Command::Completion { .. } => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
