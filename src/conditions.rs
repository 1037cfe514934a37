//! Helpers over [`Condition`] lists with Kubernetes' upsert semantics (apimachinery's
//! `meta.SetStatusCondition`): `lastTransitionTime` moves only when `status` changes.
//!
//! Several timers read `lastTransitionTime` (TimedWait, stuck detection), so keeping it still on
//! reason-only changes is behaviour, not detail.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::condition::Condition;

/// `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known (for example while stopping).
    Unknown,
}

impl Status {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

/// The condition of that type, if any.
pub fn find<'a>(conditions: &'a Option<Vec<Condition>>, type_: &str) -> Option<&'a Condition> {
    conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// Whether the condition exists with that status and was set for `generation`.
pub fn is_status_for(conditions: &Option<Vec<Condition>>, type_: &str, status: Status, generation: i64) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == status.as_str() && c.observed_generation == Some(generation))
}

/// "True@generation": the condition is `True` and its `observedGeneration` equals `generation`.
pub fn is_true_for(conditions: &Option<Vec<Condition>>, type_: &str, generation: i64) -> bool {
    is_status_for(conditions, type_, Status::True, generation)
}

/// "False@generation".
pub fn is_false_for(conditions: &Option<Vec<Condition>>, type_: &str, generation: i64) -> bool {
    is_status_for(conditions, type_, Status::False, generation)
}

/// Upserts a condition. Returns whether anything changed.
pub fn set(
    conditions: &mut Option<Vec<Condition>>,
    type_: &str,
    status: Status,
    reason: &str,
    message: impl Into<String>,
    generation: i64,
    now: Timestamp,
) -> bool {
    let message = message.into();
    let list = conditions.get_or_insert_with(Vec::new);
    match list.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            let before = existing.clone();
            if existing.status != status.as_str() || existing.last_transition_time.is_none() {
                existing.status = status.as_str().to_string();
                existing.last_transition_time = Some(Time(now));
            }
            existing.reason = reason.to_string();
            existing.message = message;
            existing.observed_generation = Some(generation);
            *existing != before
        }
        None => {
            list.push(Condition {
                type_: type_.to_string(),
                status: status.as_str().to_string(),
                observed_generation: Some(generation),
                last_transition_time: Some(Time(now)),
                reason: reason.to_string(),
                message,
            });
            true
        }
    }
}

/// Removes a condition; returns whether it was there.
pub fn remove(conditions: &mut Option<Vec<Condition>>, type_: &str) -> bool {
    let Some(list) = conditions.as_mut() else { return false };
    let before = list.len();
    list.retain(|c| c.type_ != type_);
    before != list.len()
}

/// When the condition last changed status.
pub fn transition_time(conditions: &Option<Vec<Condition>>, type_: &str) -> Option<Timestamp> {
    find(conditions, type_)
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Sets `observedGeneration` of every condition in the list to `generation`.
pub fn stamp_generation(conditions: &mut Option<Vec<Condition>>, generation: i64) {
    for c in conditions.iter_mut().flatten() {
        c.observed_generation = Some(generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut conds = None;
        assert!(set(&mut conds, "Progressing", Status::True, "A", "a", 1, at(10)));
        assert!(set(&mut conds, "Progressing", Status::True, "B", "b", 1, at(20)));
        assert_eq!(transition_time(&conds, "Progressing"), Some(at(10)));
        assert!(set(&mut conds, "Progressing", Status::False, "C", "c", 1, at(30)));
        assert_eq!(transition_time(&conds, "Progressing"), Some(at(30)));
        assert!(!set(&mut conds, "Progressing", Status::False, "C", "c", 1, at(40)));
    }

    #[test]
    fn true_for_requires_the_current_generation() {
        let mut conds = None;
        set(&mut conds, "Available", Status::True, "R", "", 2, at(1));
        assert!(is_true_for(&conds, "Available", 2));
        assert!(!is_true_for(&conds, "Available", 3));
        assert!(!is_false_for(&conds, "Available", 2));
    }
}
