//! Simulated members' side of delivery: one watch of every Work on the hub; each new Work
//! generation in a simulated member's namespace is reported Applied and Available (or the
//! injected failure) after the configured latency, and recorded.

use std::collections::HashMap;
use std::sync::Arc;

use futures::TryStreamExt;
use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::{Mutex, Semaphore};
use tracing::{debug, warn};

use super::Fleet;
use super::members::FIELD_MANAGER;
use super::record::{Entry, Recorder, Step};
use super::report::{Outcome, reports, work_status};
use crate::api::labels::{PARENT_PLACEMENT, PARENT_RESOURCE_SNAPSHOT_INDEX};
use crate::api::placement::Work;

/// Longest pause between two tries of a report.
const MOST_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// Shared by every report task.
struct Shared {
    client: Client,
    fleet: Arc<Fleet>,
    recorder: Recorder,
    writes: Semaphore,
    /// Work key → the generation being reported or reported.
    handled: Mutex<HashMap<String, i64>>,
    seed: u64,
}

/// Reports every Work of the simulated members until the process ends.
pub async fn run(client: Client, fleet: Arc<Fleet>, recorder: Recorder, concurrency: usize, seed: u64) {
    let shared = Arc::new(Shared {
        client: client.clone(),
        fleet,
        recorder,
        writes: Semaphore::new(concurrency.max(1)),
        handled: Mutex::default(),
        seed,
    });
    let stream = watcher(Api::<Work>::all(client), watcher::Config::default());
    futures::pin_mut!(stream);
    loop {
        match stream.try_next().await {
            Ok(Some(watcher::Event::Apply(work) | watcher::Event::InitApply(work))) => seen(&shared, work).await,
            Ok(Some(watcher::Event::Delete(work))) => removed(&shared, &work).await,
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(error) => {
                warn!(%error, "watching Works");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

fn key(work: &Work) -> String {
    format!("{}/{}", work.namespace().unwrap_or_default(), work.name_any())
}

fn entry(cluster: &str, work: &Work, step: Step, outcome: Option<Outcome>) -> Entry {
    let label = |k: &str| work.labels().get(k).cloned().unwrap_or_default();
    Entry {
        at_ms: Timestamp::now().as_millisecond(),
        cluster: cluster.to_string(),
        step,
        work: work.name_any(),
        placement: label(PARENT_PLACEMENT),
        index: label(PARENT_RESOURCE_SNAPSHOT_INDEX),
        generation: work.metadata.generation.unwrap_or_default(),
        outcome: outcome
            .and_then(|o| serde_json::to_value(o).ok())
            .and_then(|v| v.as_str().map(str::to_string)),
    }
}

async fn seen(shared: &Arc<Shared>, work: Work) {
    let Some(cluster) = shared.fleet.by_namespace(&work.namespace().unwrap_or_default()) else {
        return;
    };
    if cluster.silent || work.metadata.deletion_timestamp.is_some() {
        return;
    }
    let generation = work.metadata.generation.unwrap_or_default();
    let outcome = cluster.outcome;
    let key = key(&work);
    {
        let mut handled = shared.handled.lock().await;
        if handled.get(&key) == Some(&generation) {
            return;
        }
        handled.insert(key.clone(), generation);
    }
    if reports(work.status.as_ref(), generation, outcome) {
        // Reported before this simulator (re)started.
        return;
    }
    shared.recorder.record(entry(&cluster.name, &work, Step::Seen, None));
    let unit = unit_sample(shared.seed, &key, generation);
    let delay = shared.fleet.latency.sample(unit);
    let shared = shared.clone();
    let cluster = cluster.name.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let Ok(_permit) = shared.writes.acquire().await else {
            return;
        };
        let api = Api::<Work>::namespaced(shared.client.clone(), &work.namespace().unwrap_or_default());
        let mut attempt = 0u32;
        loop {
            let manifests = work.spec.workload.manifests.clone().unwrap_or_default();
            let status = work_status(work.status.as_ref(), &manifests, generation, outcome, Timestamp::now());
            let patch = json!({"status": status});
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            };
            match api.patch_status(&work.name_any(), &params, &Patch::Merge(&patch)).await {
                Ok(_) => {
                    shared
                        .recorder
                        .record(entry(&cluster, &work, Step::Reported, Some(outcome)));
                    return;
                }
                Err(kube::Error::Api(s)) if s.code == 404 => return,
                // A member agent keeps trying however long the hub is away (an API server
                // restarted or cut off): so does the simulated one, at most 5 s apart.
                Err(error) => {
                    attempt += 1;
                    if attempt == 8 {
                        warn!(work = %key, %error, "reporting a work keeps failing; still trying");
                    } else {
                        debug!(work = %key, %error, "reporting a work failed; retrying");
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200 << attempt.min(5)).min(MOST_RETRY)).await;
                }
            }
        }
    });
}

async fn removed(shared: &Arc<Shared>, work: &Work) {
    let Some(cluster) = shared.fleet.by_namespace(&work.namespace().unwrap_or_default()) else {
        return;
    };
    shared.handled.lock().await.remove(&key(work));
    shared.recorder.record(entry(&cluster.name, work, Step::Removed, None));
}

/// A reproducible sample in `[0, 1)` for one Work generation (splitmix64 of the seed and key),
/// so a scenario's latencies are the same on every run.
fn unit_sample(seed: u64, key: &str, generation: i64) -> f64 {
    let mut x = seed ^ (generation as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for byte in key.bytes() {
        x = (x ^ u64::from(byte)).wrapping_mul(0x1000_0000_01B3);
    }
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::unit_sample;

    #[test]
    fn samples_are_reproducible_and_spread_over_the_unit_interval() {
        assert_eq!(unit_sample(1, "a/b", 2), unit_sample(1, "a/b", 2));
        let samples: Vec<f64> = (0..1000).map(|i| unit_sample(7, &format!("ns/w{i}"), 1)).collect();
        assert!(samples.iter().all(|s| (0.0..1.0).contains(s)));
        let low = samples.iter().filter(|s| **s < 0.5).count();
        assert!((400..600).contains(&low), "{low} of 1000 below 0.5");
    }
}
