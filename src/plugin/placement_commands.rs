//! The commands about a placement: `plan`, `run`, `rollback`, `history`.

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject, ListParams, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::PluginError;
use super::commands::{Run, parse_run};
use super::history::{RunOf, Snapshot, rows};
use super::plan::{plan, text};
use super::report::{ClusterState, report};
use super::target::Kinds;
use crate::api::cluster::MemberCluster;
use crate::api::labels::{IS_LATEST_SNAPSHOT, PARENT_PLACEMENT, RESOURCE_HASH, RESOURCE_INDEX};
use crate::api::placement::UpdateStrategySpec;

fn by_placement(placement: &str) -> ListParams {
    ListParams::default().labels(&format!("{PARENT_PLACEMENT}={placement}"))
}

/// The resource snapshots of the placement, master ones, by index.
async fn snapshots(client: &Client, kinds: &Kinds, placement: &str) -> Result<Vec<DynamicObject>, PluginError> {
    let api = kinds.api(client, &kinds.snapshot);
    let list = api.list(&by_placement(placement)).await.map_err(PluginError::api)?;
    Ok(list.items)
}

fn index_of(snapshot: &DynamicObject) -> Option<u64> {
    snapshot.labels().get(RESOURCE_INDEX)?.parse().ok()
}

/// The index to roll out: the one asked for, which must exist, or the latest.
async fn resolve_index(
    client: &Client,
    kinds: &Kinds,
    placement: &str,
    asked: Option<u64>,
) -> Result<u64, PluginError> {
    let all = snapshots(client, kinds, placement).await?;
    let mut indexes: Vec<u64> = all.iter().filter_map(index_of).collect();
    indexes.sort_unstable();
    indexes.dedup();
    match asked {
        Some(i) if indexes.contains(&i) => Ok(i),
        Some(i) => Err(PluginError::Refused(format!(
            "placement {placement} has no resource snapshot {i}; it has {}",
            if indexes.is_empty() {
                "none yet".to_string()
            } else {
                indexes.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            }
        ))),
        None => all
            .iter()
            .find(|s| s.labels().get(IS_LATEST_SNAPSHOT).map(String::as_str) == Some("true"))
            .and_then(index_of)
            .ok_or_else(|| PluginError::Refused(format!("placement {placement} has no resource snapshot yet"))),
    }
}

/// `plan PLACEMENT --strategy S [--index N]`.
pub async fn plan_run(
    client: &Client,
    kinds: &Kinds,
    placement: &str,
    strategy: &str,
    index: Option<u64>,
    cluster_seconds: u64,
    json_output: bool,
) -> Result<u8, PluginError> {
    let index = resolve_index(client, kinds, placement, index).await?;
    let strategy_object = kinds
        .api(client, &kinds.strategy)
        .get_opt(strategy)
        .await
        .map_err(PluginError::api)?
        .ok_or_else(|| PluginError::NotFound(format!("{} {strategy} not found", kinds.strategy.kind)))?;
    let spec: UpdateStrategySpec = serde_json::from_value(strategy_object.data["spec"].clone())
        .map_err(|e| PluginError::Invalid(format!("strategy {strategy}: {e}")))?;
    let bindings = kinds
        .api(client, &kinds.binding)
        .list(&by_placement(placement))
        .await
        .map_err(PluginError::api)?;
    let members = Api::<MemberCluster>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(PluginError::api)?;
    let labels: BTreeMap<String, BTreeMap<String, String>> = members
        .items
        .into_iter()
        .map(|m| (m.name_any(), m.labels().clone()))
        .collect();
    let picked: BTreeMap<String, BTreeMap<String, String>> = bindings
        .items
        .iter()
        .filter(|b| b.data["spec"]["state"] != "Unscheduled")
        .filter_map(|b| b.data["spec"]["targetCluster"].as_str())
        .map(|c| (c.to_string(), labels.get(c).cloned().unwrap_or_default()))
        .collect();
    let planned = plan(&spec, &picked, cluster_seconds).map_err(PluginError::Invalid)?;
    if json_output {
        println!(
            "{}",
            serde_json::to_string_pretty(&planned).map_err(|e| PluginError::Invalid(e.to_string()))?
        );
    } else {
        print!("{}", text(&planned, placement, strategy, &index.to_string()));
    }
    Ok(0)
}

/// `run` and `rollback`: creates a run of `index` (or the latest) with the strategy.
pub async fn create_run(
    client: &Client,
    kinds: &Kinds,
    placement: &str,
    strategy: &str,
    index: Option<u64>,
    name: Option<&str>,
) -> Result<u8, PluginError> {
    let index = resolve_index(client, kinds, placement, index).await?;
    let metadata = ObjectMeta {
        name: name.map(str::to_string),
        generate_name: name.is_none().then(|| format!("{placement}-{index}-")),
        namespace: kinds.namespace.clone(),
        ..Default::default()
    };
    let mut object = DynamicObject::new("", &kinds.run).within(kinds.namespace.as_deref().unwrap_or_default());
    object.metadata = metadata;
    object.data = json!({"spec": {
        "placementName": placement,
        "resourceSnapshotIndex": index.to_string(),
        "stagedRolloutStrategyName": strategy,
        "state": "Run",
    }});
    let created = kinds
        .api(client, &kinds.run)
        .create(&PostParams::default(), &object)
        .await
        .map_err(PluginError::api)?;
    println!(
        "{} created: rolling out resource snapshot {index} of placement {placement} with strategy {strategy}",
        kinds.show(&created.name_any())
    );
    Ok(0)
}

/// The placement's resource snapshot indexes with their creation time and selected resources.
pub async fn snapshot_history(client: &Client, kinds: &Kinds, placement: &str) -> Result<Vec<Snapshot>, PluginError> {
    let all = snapshots(client, kinds, placement).await?;
    let mut by_index: BTreeMap<u64, Snapshot> = BTreeMap::new();
    for s in &all {
        let Some(index) = index_of(s) else { continue };
        let entry = by_index.entry(index).or_insert_with(|| Snapshot {
            index,
            created: String::new(),
            resources: Vec::new(),
        });
        if s.annotations().contains_key(RESOURCE_HASH) {
            entry.created = s
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default();
        }
        entry.resources.extend(
            s.data["spec"]["selectedResources"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    Ok(by_index.into_values().collect())
}

/// `history PLACEMENT`.
pub async fn history(client: &Client, kinds: &Kinds, placement: &str, json_output: bool) -> Result<u8, PluginError> {
    let by_index = snapshot_history(client, kinds, placement).await?;
    if by_index.is_empty() {
        return Err(PluginError::NotFound(format!(
            "placement {placement} has no resource snapshots"
        )));
    }
    let runs = kinds
        .api(client, &kinds.run)
        .list(&ListParams::default())
        .await
        .map_err(PluginError::api)?;
    let runs_of: Vec<RunOf> = runs
        .items
        .into_iter()
        .filter(|r| r.data["spec"]["placementName"] == json!(placement))
        .filter_map(|r| parse_run(r).ok())
        .map(|run: Run| {
            let r = report(
                "",
                &run.object.name_any(),
                None,
                &run.spec,
                &run.status,
                jiff::Timestamp::now(),
            );
            RunOf {
                name: r.name.clone(),
                index: run
                    .status
                    .resource_snapshot_index_used
                    .as_deref()
                    .and_then(|i| i.parse().ok()),
                phase: format!("{:?}", r.phase),
                clusters: r
                    .stages
                    .iter()
                    .flat_map(|s| s.clusters.iter())
                    .filter(|c| c.state == ClusterState::Succeeded)
                    .map(|c| c.name.clone())
                    .collect(),
            }
        })
        .collect();
    let rows = rows(by_index, &runs_of);
    if json_output {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| PluginError::Invalid(e.to_string()))?
        );
        return Ok(0);
    }
    let mut table = super::render::plain_table(["INDEX", "CREATED", "CHANGES", "RUNS"]);
    for row in rows {
        table.add_row(vec![
            row.index.to_string(),
            row.created,
            if row.changes.is_empty() {
                "-".into()
            } else {
                row.changes.join("\n")
            },
            if row.runs.is_empty() {
                "-".into()
            } else {
                row.runs.join("\n")
            },
        ]);
    }
    println!("{table}");
    Ok(0)
}
