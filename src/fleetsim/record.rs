//! The simulator's log of what each member was asked to apply and when: one JSON object per line,
//! written as it happens, so a test (or a person sizing a hub) can check ordering and concurrency
//! from the members' side.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::warn;

/// What happened to one Work generation on one simulated member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// The member saw a Work generation it had not reported yet and started applying it.
    Seen,
    /// The member reported the outcome on the Work's status.
    Reported,
    /// The Work was deleted: what it carried leaves the member.
    Removed,
}

/// One line of the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Simulated member cluster.
    pub cluster: String,
    /// What happened.
    pub step: Step,
    /// Work name.
    pub work: String,
    /// Placement the Work belongs to (`kubernetes-fleet.io/parent-CRP`).
    pub placement: String,
    /// Resource snapshot index the Work carries (`kubernetes-fleet.io/parent-resource-snapshot-index`).
    pub index: String,
    /// Work generation.
    pub generation: i64,
    /// The reported outcome (`reported` lines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// Sends entries to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Recorder(Option<mpsc::UnboundedSender<Entry>>);

impl Recorder {
    /// A recorder that writes nothing.
    pub fn disabled() -> Recorder {
        Recorder(None)
    }

    /// A recorder appending to `path` (created or truncated) from a task of its own.
    pub fn to_file(path: &Path) -> std::io::Result<Recorder> {
        let file = std::fs::File::create(path)?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Entry>();
        let path = path.to_path_buf();
        tokio::spawn(async move {
            let mut out = std::io::BufWriter::new(file);
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while let Ok(next) = rx.try_recv() {
                    batch.push(next);
                }
                for entry in batch {
                    if let Ok(line) = serde_json::to_string(&entry) {
                        let _ = writeln!(out, "{line}");
                    }
                }
                // Readers follow the file while the simulator runs.
                if let Err(error) = out.flush() {
                    warn!(path = %path.display(), %error, "writing the record failed");
                }
            }
        });
        Ok(Recorder(Some(tx)))
    }

    /// Records `entry`.
    pub fn record(&self, entry: Entry) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(entry);
        }
    }
}

/// Reads a record file (lines that do not parse, such as a line cut by a crash, are left out).
pub fn read(path: &Path) -> std::io::Result<Vec<Entry>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}
