//! Terminal output of `status`: a table (comfy-table; colours only on a terminal), or the report
//! as JSON or YAML.

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

use super::report::{ClusterState, RunReport, TaskReport};

/// How `status` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Output {
    /// Stages, clusters and tasks as a table.
    #[default]
    Table,
    /// The table with each cluster's failure or skip reason.
    Wide,
    /// The report as JSON (stable; docs/kubectl-plugin.md lists the fields).
    Json,
    /// The report as YAML.
    Yaml,
}

/// A table without borders, columns as wide as their content (kubectl's look).
pub fn plain_table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header);
    table
}

fn cluster_text(c: &super::report::ClusterReport, wide: bool) -> String {
    let state = match c.state {
        ClusterState::Waiting => "waiting",
        ClusterState::Updating => "updating",
        ClusterState::Succeeded => "succeeded",
        ClusterState::Failed => "failed",
        ClusterState::Skipped => "skipped",
    };
    match (&c.detail, wide) {
        (Some(detail), true) => format!("{} {state}: {detail}", c.name),
        _ => format!("{} {state}", c.name),
    }
}

fn task_text(t: &TaskReport) -> String {
    let what = match (t.type_, t.state) {
        ("Approval", "pending") => format!("approval pending: {}", t.approval_request.as_deref().unwrap_or("?")),
        ("Approval", state) => format!("approval {state}"),
        ("TimedWait", "pending") => format!("wait, {}s left", t.seconds_left.unwrap_or(0)),
        ("TimedWait", state) => format!("wait {state}"),
        (other, state) => format!("{other} {state}"),
    };
    format!("{}: {what}", t.position)
}

fn state_color(state: &str) -> Color {
    match state {
        "succeeded" => Color::Green,
        "failed" | "aborted" => Color::Red,
        "waiting" | "stopped" | "skipped" => Color::Yellow,
        _ => Color::Blue,
    }
}

/// The report as text in the chosen format; `color` on a terminal.
pub fn render(report: &RunReport, output: Output, color: bool) -> Result<String, String> {
    match output {
        Output::Json => serde_json::to_string_pretty(report).map_err(|e| e.to_string()),
        Output::Yaml => serde_saphyr::to_string(report).map_err(|e| e.to_string()),
        Output::Table | Output::Wide => Ok(table(report, output == Output::Wide, color)),
    }
}

fn table(report: &RunReport, wide: bool, color: bool) -> String {
    let mut out = format!(
        "{} {}{}: placement {}, strategy {}, resource snapshot index {}\n",
        report.kind,
        report.name,
        report
            .namespace
            .as_ref()
            .map(|ns| format!(" (namespace {ns})"))
            .unwrap_or_default(),
        report.placement,
        report.strategy,
        report.resource_snapshot_index.as_deref().unwrap_or("-"),
    );
    if !report.changes.is_empty() {
        out.push_str(&format!("Changes in this index: {}\n", report.changes.join(", ")));
    }
    let mut table = plain_table(["STAGE", "STATE", "CLUSTERS", "TASKS"]);
    if !color {
        table.force_no_tty();
    }
    for stage in &report.stages {
        let mut clusters: Vec<String> = stage.clusters.iter().map(|c| cluster_text(c, wide)).collect();
        if let Some(n) = stage.unlisted_clusters.filter(|n| *n > 0) {
            clusters.push(format!("(+{n} not listed)"));
        }
        let tasks: Vec<String> = stage.tasks.iter().map(task_text).collect();
        table.add_row(vec![
            Cell::new(&stage.name),
            Cell::new(stage.state).fg(state_color(stage.state)),
            Cell::new(if clusters.is_empty() {
                "-".to_string()
            } else {
                clusters.join("\n")
            }),
            Cell::new(if tasks.is_empty() {
                "-".to_string()
            } else {
                tasks.join("\n")
            }),
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    let s = &report.summary;
    out.push_str(&format!(
        "{:?}: {} succeeded, {} updating, {} waiting, {} failed, {} skipped",
        report.phase, s.succeeded, s.updating, s.waiting, s.failed, s.skipped
    ));
    if !report.message.is_empty() {
        out.push_str(&format!("\n{}", report.message));
    }
    out.push('\n');
    out
}
