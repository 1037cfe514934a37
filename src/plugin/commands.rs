//! The commands: read the run, decide what to print or write, talk to the API server.

use std::io::IsTerminal;

use futures::StreamExt;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::PluginError;
use super::render::{Output, render};
use super::report::{Phase, RunReport, report};
use super::target::Kinds;
use crate::api::placement::{ClusterStagedUpdateRunSpec, UpdateRunStatus};

/// The field manager of the plugin's writes.
const MANAGER: &str = "kubectl-stagehand";

/// A run as read.
pub struct Run {
    /// The object.
    pub object: DynamicObject,
    /// Its spec.
    pub spec: ClusterStagedUpdateRunSpec,
    /// Its status.
    pub status: UpdateRunStatus,
}

/// Reads run `name`, with a message that names it and its scope when it does not exist.
pub async fn get_run(client: &Client, kinds: &Kinds, name: &str) -> Result<Run, PluginError> {
    let api = kinds.api(client, &kinds.run);
    let object = api
        .get_opt(name)
        .await
        .map_err(PluginError::api)?
        .ok_or_else(|| PluginError::NotFound(format!("{} not found", kinds.show(name))))?;
    parse_run(object)
}

/// Reads a run object's spec and status.
pub fn parse_run(object: DynamicObject) -> Result<Run, PluginError> {
    let spec = serde_json::from_value(object.data["spec"].clone())
        .map_err(|e| PluginError::Invalid(format!("run {} has an unreadable spec: {e}", object.name_any())))?;
    let status = serde_json::from_value(object.data.get("status").cloned().unwrap_or(json!({})))
        .map_err(|e| PluginError::Invalid(format!("run {} has an unreadable status: {e}", object.name_any())))?;
    Ok(Run { object, spec, status })
}

fn run_report(kinds: &Kinds, run: &Run) -> RunReport {
    report(
        if kinds.namespace.is_some() {
            "StagedUpdateRun"
        } else {
            "ClusterStagedUpdateRun"
        },
        &run.object.name_any(),
        kinds.namespace.as_deref(),
        &run.spec,
        &run.status,
        jiff::Timestamp::now(),
    )
}

/// `status RUN [--watch]`: prints the run; with `watch`, again on every change of the run
/// until it ends. Returns the exit code.
pub async fn status(
    client: &Client,
    kinds: &Kinds,
    name: &str,
    output: Output,
    watch: bool,
) -> Result<u8, PluginError> {
    let color = std::io::stdout().is_terminal();
    let run = get_run(client, kinds, name).await?;
    let changes = index_changes(client, kinds, &run).await;
    let mut last = run_report(kinds, &run);
    last.changes = changes.clone();
    print!("{}", render(&last, output, color).map_err(PluginError::Invalid)?);
    if !watch || last.phase.is_final() {
        return Ok(outcome_code(watch, last.phase));
    }
    let api = kinds.api(client, &kinds.run);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = watcher(api, config).applied_objects().boxed();
    while let Some(event) = events.next().await {
        let object = event.map_err(|e| PluginError::Api(e.to_string()))?;
        let run = parse_run(object)?;
        let mut now = run_report(kinds, &run);
        now.changes = changes.clone();
        if now == last {
            continue;
        }
        if color && matches!(output, Output::Table | Output::Wide) {
            // Redraw in place on a terminal.
            print!("\x1b[2J\x1b[H");
        } else if matches!(output, Output::Table | Output::Wide) {
            println!("---");
        }
        print!("{}", render(&now, output, color).map_err(PluginError::Invalid)?);
        last = now;
        if last.phase.is_final() {
            break;
        }
    }
    Ok(outcome_code(true, last.phase))
}

/// What the run's resource snapshot index changes from the index before it; nothing when the
/// snapshots cannot be read (the status is still worth showing).
async fn index_changes(client: &Client, kinds: &Kinds, run: &Run) -> Vec<String> {
    let Some(index) = run
        .status
        .resource_snapshot_index_used
        .as_deref()
        .or(run.spec.resource_snapshot_index.as_deref())
        .and_then(|i| i.parse::<u64>().ok())
    else {
        return Vec::new();
    };
    let Ok(snapshots) = super::placement_commands::snapshot_history(client, kinds, &run.spec.placement_name).await
    else {
        return Vec::new();
    };
    super::history::rows(snapshots, &[])
        .into_iter()
        .find(|r| r.index == index)
        .map(|r| r.changes)
        .unwrap_or_default()
}

/// Exit code of `status --watch`: 0 when the run succeeded, 3 when it failed or was aborted.
fn outcome_code(watch: bool, phase: Phase) -> u8 {
    match (watch, phase) {
        (true, Phase::Failed | Phase::Aborted | Phase::InitializationFailed) => 3,
        _ => 0,
    }
}

/// A pending approval of a run.
#[derive(Debug, PartialEq)]
pub struct Pending {
    /// Stage name.
    pub stage: String,
    /// `before` or `after`.
    pub position: &'static str,
    /// The approval request's name.
    pub request: String,
}

/// The approvals the run waits for now, optionally of one stage and position.
pub fn pending_approvals(report: &RunReport, stage: Option<&str>, position: Option<&str>) -> Vec<Pending> {
    report
        .stages
        .iter()
        .filter(|s| stage.is_none_or(|name| s.name == name))
        .flat_map(|s| {
            s.tasks
                .iter()
                .filter(|t| t.type_ == "Approval" && t.state == "pending")
                .filter(|t| position.is_none_or(|p| t.position == p))
                .filter_map(|t| {
                    Some(Pending {
                        stage: s.name.clone(),
                        position: t.position,
                        request: t.approval_request.clone()?,
                    })
                })
        })
        .collect()
}

/// `approve RUN [STAGE] [--before|--after] [-m MESSAGE]`.
pub async fn approve(
    client: &Client,
    kinds: &Kinds,
    name: &str,
    stage: Option<&str>,
    position: Option<&str>,
    message: &str,
) -> Result<u8, PluginError> {
    let run = get_run(client, kinds, name).await?;
    let report = run_report(kinds, &run);
    if let Some(stage) = stage
        && !report.stages.iter().any(|s| s.name == stage)
    {
        let names: Vec<&str> = report
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| *n != crate::api::labels::DELETE_STAGE_NAME)
            .collect();
        return Err(PluginError::Refused(format!(
            "{} has no stage {stage}; its stages are: {}",
            kinds.show(name),
            names.join(", ")
        )));
    }
    let pending = pending_approvals(&report, stage, position);
    let Some(first) = pending.first() else {
        return Err(PluginError::Refused(format!(
            "nothing to approve: {} waits for no approval{} now ({:?})",
            kinds.show(name),
            stage.map(|s| format!(" in stage {s}")).unwrap_or_default(),
            report.phase
        )));
    };
    let api = kinds.api(client, &kinds.approval);
    let request = api.get(&first.request).await.map_err(PluginError::api)?;
    let mut conditions: Vec<Value> = request.data["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    conditions.retain(|c| c["type"] != "Approved");
    conditions.push(json!({
        "type": "Approved",
        "status": "True",
        "reason": "ApprovedWithKubectlStagehand",
        "message": message,
        "observedGeneration": request.metadata.generation.unwrap_or(1),
        "lastTransitionTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }));
    let patch = json!({"status": {"conditions": conditions}});
    api.patch_status(&first.request, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(PluginError::api)?;
    println!(
        "approved {} {} (stage {}, {}-stage)",
        kinds.approval.kind, first.request, first.stage, first.position
    );
    Ok(0)
}

/// Merge-patches the run's spec and says what it did.
pub async fn patch_spec(
    client: &Client,
    kinds: &Kinds,
    name: &str,
    spec: Value,
    done: &str,
) -> Result<u8, PluginError> {
    get_run(client, kinds, name).await?;
    let api = kinds.api(client, &kinds.run);
    let params = PatchParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    api.patch(name, &params, &Patch::Merge(&json!({"spec": spec})))
        .await
        .map_err(PluginError::api)?;
    println!("{}: {done}", kinds.show(name));
    Ok(0)
}

/// `retry RUN`: raises `retryFailedClusters` by one (SD-31).
pub async fn retry(client: &Client, kinds: &Kinds, name: &str) -> Result<u8, PluginError> {
    let run = get_run(client, kinds, name).await?;
    let next = run.spec.retry_failed_clusters.unwrap_or(0) + 1;
    patch_spec(
        client,
        kinds,
        name,
        json!({"retryFailedClusters": next}),
        &format!("retrying its failed clusters (retryFailedClusters {next})"),
    )
    .await
}

/// `skip RUN (--cluster C | --stage S)...`: adds to the skip lists (SD-32).
pub async fn skip(
    client: &Client,
    kinds: &Kinds,
    name: &str,
    clusters: &[String],
    stages: &[String],
) -> Result<u8, PluginError> {
    let run = get_run(client, kinds, name).await?;
    let merged = |have: &Option<Vec<String>>, add: &[String]| -> Vec<String> {
        let mut all: Vec<String> = have.clone().unwrap_or_default();
        for a in add {
            if !all.contains(a) {
                all.push(a.clone());
            }
        }
        all
    };
    let mut spec = serde_json::Map::new();
    if !clusters.is_empty() {
        spec.insert("skipClusters".into(), json!(merged(&run.spec.skip_clusters, clusters)));
    }
    if !stages.is_empty() {
        spec.insert("skipStages".into(), json!(merged(&run.spec.skip_stages, stages)));
    }
    let what: Vec<String> = clusters
        .iter()
        .map(|c| format!("cluster {c}"))
        .chain(stages.iter().map(|s| format!("stage {s}")))
        .collect();
    patch_spec(
        client,
        kinds,
        name,
        Value::Object(spec),
        &format!("skipping {}", what.join(", ")),
    )
    .await
}

/// The binding message that says why an updating cluster is not available yet.
async fn cluster_problem(client: &Client, kinds: &Kinds, placement: &str, cluster: &str) -> Option<String> {
    let api = kinds.api(client, &kinds.binding);
    let list = api
        .list(&ListParams::default().labels(&format!("kubernetes-fleet.io/parent-CRP={placement}")))
        .await
        .ok()?;
    let binding = list
        .items
        .into_iter()
        .find(|b| b.data["spec"]["targetCluster"] == json!(cluster))?;
    let status = &binding.data["status"];
    if let Some(failed) = status["failedPlacements"].as_array().and_then(|f| f.first()) {
        return Some(format!(
            "{} {} reports: {}",
            failed["kind"].as_str().unwrap_or("resource"),
            failed["name"].as_str().unwrap_or(""),
            failed["condition"]["message"].as_str().unwrap_or("")
        ));
    }
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["status"] == "False")
        .map(|c| {
            format!(
                "{}: {}",
                c["type"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            )
        })
}

/// `why RUN`: the one thing that blocks the run now, and the command that unblocks it.
pub async fn why(client: &Client, kinds: &Kinds, name: &str) -> Result<u8, PluginError> {
    let run = get_run(client, kinds, name).await?;
    let report = run_report(kinds, &run);
    let mut problems = Vec::new();
    for stage in &report.stages {
        for c in stage
            .clusters
            .iter()
            .filter(|c| c.state == super::report::ClusterState::Updating)
        {
            if let Some(problem) = cluster_problem(client, kinds, &report.placement, &c.name).await {
                problems.push((c.name.clone(), problem));
            }
        }
    }
    println!("{}", super::why::sentence(&report, &kinds.ns_flag(), &problems));
    Ok(0)
}

/// One line of `list`.
#[derive(serde::Serialize)]
struct Listed {
    namespace: Option<String>,
    name: String,
    placement: String,
    index: Option<String>,
    phase: Phase,
    succeeded: usize,
    clusters: usize,
}

/// `list [-A]`: runs and their phase.
pub async fn list(client: &Client, kinds: &Kinds, all_namespaces: bool, json_output: bool) -> Result<u8, PluginError> {
    let api = if all_namespaces {
        kube::Api::<DynamicObject>::all_with(client.clone(), &Kinds::namespaced_run())
    } else {
        kinds.api(client, &kinds.run)
    };
    let runs = api.list(&ListParams::default()).await.map_err(PluginError::api)?;
    let mut rows = Vec::new();
    for object in runs.items {
        let namespace = object.namespace();
        let run = parse_run(object)?;
        let r = report(
            "",
            &run.object.name_any(),
            namespace.as_deref(),
            &run.spec,
            &run.status,
            jiff::Timestamp::now(),
        );
        let s = &r.summary;
        rows.push(Listed {
            namespace,
            name: r.name.clone(),
            placement: r.placement.clone(),
            index: r.resource_snapshot_index.clone(),
            phase: r.phase,
            succeeded: s.succeeded,
            clusters: s.succeeded + s.updating + s.waiting + s.failed + s.skipped,
        });
    }
    if json_output {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| PluginError::Invalid(e.to_string()))?
        );
        return Ok(0);
    }
    let namespaced = all_namespaces || kinds.namespace.is_some();
    let mut table = if namespaced {
        super::render::plain_table(["NAMESPACE", "NAME", "PLACEMENT", "INDEX", "PHASE", "CLUSTERS DONE"])
    } else {
        super::render::plain_table(["NAME", "PLACEMENT", "INDEX", "PHASE", "CLUSTERS DONE"])
    };
    for row in rows {
        let mut cells = vec![
            row.name,
            row.placement,
            row.index.unwrap_or_else(|| "-".into()),
            format!("{:?}", row.phase),
            format!("{}/{}", row.succeeded, row.clusters),
        ];
        if namespaced {
            cells.insert(0, row.namespace.unwrap_or_default());
        }
        table.add_row(cells);
    }
    println!("{table}");
    Ok(0)
}
