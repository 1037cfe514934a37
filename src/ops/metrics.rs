//! Prometheus metrics: upstream KubeFleet's update-run series (same names and labels, §6.2) and
//! Stagehand's reconcile counters, in one `prometheus-client` registry served on `/metrics`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of `fleet_workload_update_run_status_last_timestamp_seconds`.
#[allow(non_snake_case, reason = "label names are upstream's")]
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunStatusLabels {
    /// Run namespace (empty for cluster-scoped runs).
    pub namespace: String,
    /// Run name.
    pub name: String,
    /// `spec.state` at emission.
    pub state: String,
    /// Condition type.
    pub condition: String,
    /// Condition status.
    pub status: String,
    /// Condition reason.
    pub reason: String,
    /// `none`, `user_error` or `internal_error`.
    pub failureType: String,
}

/// Labels of the approval latency histogram.
#[allow(non_snake_case, reason = "label names are upstream's")]
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApprovalLabels {
    /// Run namespace.
    pub namespace: String,
    /// Run name.
    pub name: String,
    /// `beforeStage` or `afterStage`.
    pub taskType: String,
}

/// Labels of the stage duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    /// Run namespace.
    pub namespace: String,
    /// Run name.
    pub name: String,
}

/// Labels of `stagehand_update_run_clusters` (SD-34).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunClusterLabels {
    /// Run namespace (empty for cluster-scoped runs).
    pub namespace: String,
    /// Run name.
    pub name: String,
    /// `failed`, `skipped` or `excluded`.
    pub outcome: String,
}

/// Labels of the reconcile counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// Controller name.
    pub controller: String,
    /// `success` or the error class.
    pub result: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn approval_histogram() -> Histogram {
    Histogram::new([60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0])
}

fn stage_histogram() -> Histogram {
    Histogram::new([15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0])
}

/// Labels of the API request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiRequestLabels {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, ...
    pub verb: String,
    /// Resource, with its subresource (`works/status`).
    pub resource: String,
    /// The writer's field manager (which controller wrote); empty for reads.
    pub manager: String,
}

/// Labels of the reconcile error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileErrorLabels {
    /// Controller.
    pub controller: String,
    /// What went wrong, as a short class (`api_conflict`, `api_not_found`, `api_5xx`, ...).
    pub reason: String,
}

/// Every metric the hub exports.
pub struct Metrics {
    registry: Registry,
    run_status: Family<RunStatusLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    approval_latency: HistogramFamily<ApprovalLabels>,
    stage_duration: HistogramFamily<RunLabels>,
    reconciles: Family<ReconcileLabels, Counter>,
    api_requests: Family<ApiRequestLabels, Counter>,
    reconcile_errors: Family<ReconcileErrorLabels, Counter>,
    run_clusters: Family<RunClusterLabels, Gauge>,
    /// Status series emitted per run, so deleting a run removes them all.
    series: Mutex<HashMap<RunLabels, HashSet<RunStatusLabels>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let run_status = Family::default();
        registry.register(
            "fleet_workload_update_run_status_last_timestamp_seconds",
            "Last update timestamp of update run status in seconds",
            run_status.clone(),
        );
        let approval_latency: HistogramFamily<ApprovalLabels> = Family::new_with_constructor(approval_histogram);
        registry.register(
            "fleet_workload_update_run_approval_request_latency_seconds",
            "The latency from approval request creation to user approval in seconds",
            approval_latency.clone(),
        );
        let stage_duration: HistogramFamily<RunLabels> = Family::new_with_constructor(stage_histogram);
        registry.register(
            "fleet_workload_update_run_stage_cluster_updating_duration_seconds",
            "The duration the stage of an update run in seconds without stage tasks execution time",
            stage_duration.clone(),
        );
        let reconciles = Family::default();
        registry.register(
            "stagehand_reconciliations",
            "Reconcile passes by controller and result",
            reconciles.clone(),
        );
        let api_requests = Family::default();
        registry.register(
            "stagehand_hub_api_requests",
            "API server requests of this process by verb and resource",
            api_requests.clone(),
        );
        let reconcile_errors = Family::default();
        registry.register(
            "stagehand_reconcile_errors",
            "Failed reconcile passes by controller and reason",
            reconcile_errors.clone(),
        );
        let run_clusters = Family::default();
        registry.register(
            "stagehand_update_run_clusters",
            "Clusters of an update run that failed, were skipped or were excluded (SD-34)",
            run_clusters.clone(),
        );
        Metrics {
            registry,
            run_clusters,
            api_requests,
            reconcile_errors,
            run_status,
            approval_latency,
            stage_duration,
            reconciles,
            series: Mutex::default(),
        }
    }
}

impl Metrics {
    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Sets a run status series to `timestamp` (Unix seconds).
    pub fn set_run_status(&self, labels: RunStatusLabels, timestamp: f64) {
        self.run_status.get_or_create(&labels).set(timestamp);
        let run = RunLabels {
            namespace: labels.namespace.clone(),
            name: labels.name.clone(),
        };
        if let Ok(mut series) = self.series.lock() {
            series.entry(run).or_default().insert(labels);
        }
    }

    /// Observes an approval latency.
    pub fn observe_approval(&self, labels: ApprovalLabels, seconds: f64) {
        self.approval_latency.get_or_create(&labels).observe(seconds);
    }

    /// Observes a stage's cluster-updating duration.
    pub fn observe_stage(&self, labels: RunLabels, seconds: f64) {
        self.stage_duration.get_or_create(&labels).observe(seconds);
    }

    /// Counts a reconcile pass.
    pub fn count_reconcile(&self, controller: &str, result: &str) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                controller: controller.into(),
                result: result.into(),
            })
            .inc();
    }

    /// Counts one API request.
    pub fn count_api_request(&self, verb: &str, resource: &str, manager: &str) {
        self.api_requests
            .get_or_create(&ApiRequestLabels {
                verb: verb.into(),
                resource: resource.into(),
                manager: manager.into(),
            })
            .inc();
    }

    /// Counts one failed reconcile pass by its reason.
    pub fn count_reconcile_error(&self, controller: &str, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ReconcileErrorLabels {
                controller: controller.into(),
                reason: reason.into(),
            })
            .inc();
    }

    /// Sets a run's failed / skipped / excluded cluster numbers (SD-34).
    pub fn set_run_clusters(&self, run: &RunLabels, failed: i64, skipped: i64, excluded: i64) {
        for (outcome, value) in [("failed", failed), ("skipped", skipped), ("excluded", excluded)] {
            self.run_clusters
                .get_or_create(&RunClusterLabels {
                    namespace: run.namespace.clone(),
                    name: run.name.clone(),
                    outcome: outcome.into(),
                })
                .set(value);
        }
    }

    /// Removes every series of a deleted run.
    pub fn forget_run(&self, run: &RunLabels) {
        let emitted = self
            .series
            .lock()
            .ok()
            .and_then(|mut s| s.remove(run))
            .unwrap_or_default();
        for labels in emitted {
            self.run_status.remove(&labels);
        }
        for task in ["beforeStage", "afterStage"] {
            self.approval_latency.remove(&ApprovalLabels {
                namespace: run.namespace.clone(),
                name: run.name.clone(),
                taskType: task.into(),
            });
        }
        self.stage_duration.remove(run);
        for outcome in ["failed", "skipped", "excluded"] {
            self.run_clusters.remove(&RunClusterLabels {
                namespace: run.namespace.clone(),
                name: run.name.clone(),
                outcome: outcome.into(),
            });
        }
    }
}
