//! The compatibility profile (SD-25): whether the hub follows the seed documents where they and
//! upstream KubeFleet's code disagree (`documents`, the default) or upstream's code
//! (`upstream`). Chosen once per hub with `stagehand hub --compat` (chart value `compat`); every
//! divergence it switches is one method here, so the list in `docs/compatibility.md` and the code
//! cannot drift apart silently.

use std::sync::OnceLock;

use crate::controllers::update_run::decide::model::TaskPosition as Position;
use crate::controllers::update_run::reasons::{run, task};

/// Which behaviour a hub follows where the seed documents and upstream's code differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// The seed documents' behaviour (SD-2, SD-5, SD-6, SD-16).
    #[default]
    Documents,
    /// Upstream KubeFleet's current code, for automation and tests written against it.
    Upstream,
}

impl Profile {
    /// Name of a stage's approval request. SD-2 (documents): `<run>-<stage>-before`, and
    /// `<run>-<stage>-after` or `<run>-<stage>` after the stage. Upstream:
    /// `<run>-before-<stage>` / `<run>-after-<stage>`.
    pub fn approval_request_name(
        self,
        run: &str,
        stage: &str,
        position: Position,
        has_before_approval: bool,
    ) -> String {
        match (self, position) {
            (Profile::Upstream, Position::Before) => format!("{run}-before-{stage}"),
            (Profile::Upstream, Position::After) => format!("{run}-after-{stage}"),
            (Profile::Documents, Position::Before) => format!("{run}-{stage}-before"),
            (Profile::Documents, Position::After) if has_before_approval => format!("{run}-{stage}-after"),
            (Profile::Documents, Position::After) => format!("{run}-{stage}"),
        }
    }

    /// Reason of a run's `Progressing=True` while it executes (SD-6: the documents show
    /// `UpdateRunStarted`; upstream writes `UpdateRunProgressing`).
    pub fn run_progressing_reason(self) -> &'static str {
        match self {
            Profile::Documents => run::STARTED,
            Profile::Upstream => run::PROGRESSING,
        }
    }

    /// Message of a run's `Initialized=True` (SD-6: the documents name the kind).
    pub fn initialized_message(self, kind: &str) -> String {
        match self {
            Profile::Documents => format!("{kind} initialized successfully"),
            Profile::Upstream => "The UpdateRun initialized successfully".to_string(),
        }
    }

    /// Reasons of an approval task's `ApprovalRequestCreated` and `ApprovalRequestApproved`
    /// (SD-6: the documents' reasons name the position; upstream's do not).
    pub fn approval_task_reasons(self, position: Position) -> (&'static str, &'static str) {
        match (self, position) {
            (Profile::Documents, Position::Before) => (task::BEFORE_APPROVAL_CREATED, task::BEFORE_APPROVAL_APPROVED),
            (Profile::Documents, Position::After) => (task::AFTER_APPROVAL_CREATED, task::AFTER_APPROVAL_APPROVED),
            (Profile::Upstream, _) => (task::APPROVAL_CREATED, task::APPROVAL_APPROVED),
        }
    }

    /// Message of an approval task's `ApprovalRequestCreated` (SD-6: the documents name the
    /// approval kind).
    pub fn approval_created_message(self, approval_kind: &str) -> String {
        match self {
            Profile::Documents => format!("{approval_kind} is created"),
            Profile::Upstream => "ApprovalRequest object is created".to_string(),
        }
    }

    /// Whether a cluster without the stage's `sortingLabelKey` label sorts after the labelled ones
    /// (SD-13) instead of failing initialization as upstream does.
    pub fn missing_sorting_label_sorts_last(self) -> bool {
        self == Profile::Documents
    }

    /// Whether an `External` placement gets resource snapshots only when a staged update run asks
    /// for one (upstream), instead of at once and on every change like any placement (SD-5).
    pub fn external_snapshots_on_request(self) -> bool {
        self == Profile::Upstream
    }
}

static PROFILE: OnceLock<Profile> = OnceLock::new();

/// Sets the hub's profile; the first call wins (the hub calls it once, at start-up).
pub fn set(profile: Profile) {
    let _ = PROFILE.set(profile);
}

/// The hub's profile, `documents` when none was set.
pub fn get() -> Profile {
    PROFILE.get().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{Position, Profile};

    #[test]
    fn approval_names_follow_sd2_in_documents_and_upstreams_format_in_upstream() {
        let d = Profile::Documents;
        assert_eq!(
            d.approval_request_name("r", "canary", Position::Before, true),
            "r-canary-before"
        );
        assert_eq!(
            d.approval_request_name("r", "canary", Position::After, true),
            "r-canary-after"
        );
        assert_eq!(
            d.approval_request_name("r", "canary", Position::After, false),
            "r-canary"
        );
        let u = Profile::Upstream;
        assert_eq!(
            u.approval_request_name("r", "canary", Position::Before, true),
            "r-before-canary"
        );
        assert_eq!(
            u.approval_request_name("r", "canary", Position::After, true),
            "r-after-canary"
        );
        assert_eq!(
            u.approval_request_name("r", "canary", Position::After, false),
            "r-after-canary"
        );
    }

    #[test]
    fn upstream_reasons_do_not_name_the_task_position() {
        assert_eq!(
            Profile::Upstream.approval_task_reasons(Position::Before),
            Profile::Upstream.approval_task_reasons(Position::After)
        );
        assert_ne!(
            Profile::Documents.approval_task_reasons(Position::Before),
            Profile::Documents.approval_task_reasons(Position::After)
        );
        assert_eq!(Profile::Upstream.run_progressing_reason(), "UpdateRunProgressing");
        assert_eq!(Profile::Documents.run_progressing_reason(), "UpdateRunStarted");
    }
}
