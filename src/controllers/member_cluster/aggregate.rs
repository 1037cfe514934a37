//! The MemberCluster status the hub reports, from the InternalMemberCluster the agent writes
//! (§13.2 step 4).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::cluster::{AgentType, InternalMemberCluster, MemberCluster, MemberClusterStatus};
use crate::conditions::{Status, find, set};

/// Condition the hub sets once the member's namespace, RBAC and InternalMemberCluster exist.
pub const READY_TO_JOIN: &str = "ReadyToJoin";
/// Condition aggregated from the agents' `Joined`.
pub const JOINED: &str = "Joined";
/// The agents whose `Joined` the hub waits for (networking agents are not supported).
const EXPECTED_AGENTS: [AgentType; 1] = [AgentType::MemberAgent];
/// Conditions the hub owns; every other condition is copied from the InternalMemberCluster.
const HUB_CONDITIONS: [&str; 3] = [READY_TO_JOIN, JOINED, "Healthy"];

/// The MemberCluster status for `cluster` given its InternalMemberCluster (absent while it is
/// being created).
pub fn member_status(
    cluster: &MemberCluster,
    internal: Option<&InternalMemberCluster>,
    now: Timestamp,
) -> MemberClusterStatus {
    let generation = cluster.metadata.generation.unwrap_or_default();
    let old = cluster.status.clone().unwrap_or_default();
    let reported = internal.and_then(|i| i.status.clone()).unwrap_or_default();
    let mut conditions = old.conditions.clone();
    // Conditions copied from the agent replace the previous copies.
    if let Some(list) = conditions.as_mut() {
        list.retain(|c| HUB_CONDITIONS.contains(&c.type_.as_str()));
    }
    for copied in reported.conditions.iter().flatten() {
        conditions.get_or_insert_with(Vec::new).push(copied.clone());
    }
    let mut agents = reported.agent_status.clone();
    for agent in agents.iter_mut().flatten() {
        for condition in agent.conditions.iter_mut().flatten() {
            condition.observed_generation = Some(generation);
        }
    }
    let joined: Vec<Option<&str>> = EXPECTED_AGENTS
        .iter()
        .map(|t| {
            agents
                .iter()
                .flatten()
                .find(|a| a.type_ == *t)
                .and_then(|a| find(&a.conditions, JOINED))
                .map(|c| c.status.as_str())
        })
        .collect();
    let (status, reason, message) = if joined.iter().all(|j| *j == Some("True")) {
        (
            Status::True,
            "MemberClusterJoined",
            "All member agents have joined the fleet",
        )
    } else if joined.iter().all(|j| *j == Some("False")) {
        (
            Status::False,
            "MemberClusterLeft",
            "All member agents have left the fleet",
        )
    } else {
        (
            Status::Unknown,
            "MemberClusterJoinStateUnknown",
            "Waiting for the member agent to report that it joined the fleet",
        )
    };
    let ready = if status == Status::False {
        (
            Status::False,
            "MemberClusterNotReadyToJoin",
            "The member cluster is leaving the fleet",
        )
    } else {
        (
            Status::True,
            "MemberClusterReadyToJoin",
            "The member cluster's hub namespace, role and internal member cluster are in place",
        )
    };
    set(
        &mut conditions,
        READY_TO_JOIN,
        ready.0,
        ready.1,
        ready.2,
        generation,
        now,
    );
    set(&mut conditions, JOINED, status, reason, message, generation, now);
    MemberClusterStatus {
        conditions,
        properties: reported.properties,
        resource_usage: reported.resource_usage,
        namespaces: reported.namespaces,
        agent_status: agents,
    }
}

/// Whether the member agent has left (its `Joined` is False) or never reported at all: in both
/// cases nothing on the member waits for the hub namespace any more.
pub fn agent_gone(internal: &InternalMemberCluster) -> bool {
    match internal.member_agent_status() {
        None => true,
        Some(a) => find(&a.conditions, JOINED).is_some_and(|c| c.status == "False"),
    }
}

/// SD-26: how old the heartbeat copied onto a MemberCluster may grow before a heartbeat that
/// changed nothing else is copied again. Upstream copies every heartbeat, which doubles the
/// fleet's heartbeat writes (10,000 members at the default 60 s period: 167 more writes a
/// second). Eligibility allows 5 minutes (`scheduler::eligibility`), so a copy at most this old
/// plus one heartbeat period stays well inside it.
pub const HEARTBEAT_COPY_MAX_AGE_SECONDS: i64 = 120;

/// Whether `new` must be written over the MemberCluster's current status `old` (SD-26): always when
/// anything but the heartbeat and observation times changed, and otherwise only once the copied
/// heartbeat is [`HEARTBEAT_COPY_MAX_AGE_SECONDS`] old.
pub fn worth_writing(old: Option<&MemberClusterStatus>, new: &MemberClusterStatus, now: Timestamp) -> bool {
    let Some(old) = old else {
        return true;
    };
    if old == new {
        return false;
    }
    if without_times(old) != without_times(new) {
        return true;
    }
    let copied = old
        .agent_status
        .iter()
        .flatten()
        .filter_map(|a| a.last_received_heartbeat.as_ref())
        .map(|t| t.0)
        .min();
    copied.is_none_or(|beat| now.duration_since(beat).as_secs() >= HEARTBEAT_COPY_MAX_AGE_SECONDS)
}

/// The status without the times every heartbeat moves.
fn without_times(status: &MemberClusterStatus) -> MemberClusterStatus {
    let mut status = status.clone();
    for agent in status.agent_status.iter_mut().flatten() {
        agent.last_received_heartbeat = None;
    }
    if let Some(usage) = status.resource_usage.as_mut() {
        usage.observation_time = None;
    }
    for property in status.properties.iter_mut().flat_map(|p| p.values_mut()) {
        property.observation_time = Time(Timestamp::UNIX_EPOCH);
    }
    status
}

#[cfg(test)]
mod tests {
    use jiff::ToSpan;

    use super::*;
    use crate::api::cluster::{AgentStatus, ClusterState, InternalMemberClusterSpec, MemberClusterSpec};
    use crate::api::condition::Condition;

    fn now() -> Timestamp {
        "2026-03-01T10:00:00Z".parse().unwrap()
    }

    fn internal(joined: Option<&str>) -> InternalMemberCluster {
        let mut imc = InternalMemberCluster::new(
            "m",
            InternalMemberClusterSpec {
                state: ClusterState::Join,
                heartbeat_period_seconds: Some(60),
            },
        );
        imc.status = Some(MemberClusterStatus {
            conditions: Some(vec![Condition {
                type_: "ClusterPropertyCollectionSucceeded".into(),
                status: "True".into(),
                reason: "r".into(),
                ..Default::default()
            }]),
            agent_status: joined.map(|j| {
                vec![AgentStatus {
                    type_: AgentType::MemberAgent,
                    conditions: Some(vec![Condition {
                        type_: JOINED.into(),
                        status: j.into(),
                        reason: "r".into(),
                        observed_generation: Some(9),
                        ..Default::default()
                    }]),
                    last_received_heartbeat: Some(Time(now())),
                }]
            }),
            ..Default::default()
        });
        imc
    }

    fn cluster() -> MemberCluster {
        let mut mc = MemberCluster::new("m", MemberClusterSpec::default());
        mc.metadata.generation = Some(3);
        mc
    }

    fn condition(status: &MemberClusterStatus, t: &str) -> (String, String) {
        let c = find(&status.conditions, t).unwrap();
        (c.status.clone(), c.reason.clone())
    }

    #[test]
    fn joined_agent_makes_the_member_joined() {
        let status = member_status(&cluster(), Some(&internal(Some("True"))), now());
        assert_eq!(
            condition(&status, JOINED),
            ("True".into(), "MemberClusterJoined".into())
        );
        assert_eq!(
            condition(&status, READY_TO_JOIN),
            ("True".into(), "MemberClusterReadyToJoin".into())
        );
        assert_eq!(
            condition(&status, "ClusterPropertyCollectionSucceeded").0,
            "True",
            "agent conditions are copied"
        );
        let agent = &status.agent_status.unwrap()[0];
        assert_eq!(agent.conditions.as_ref().unwrap()[0].observed_generation, Some(3));
    }

    #[test]
    fn silent_agent_leaves_join_state_unknown() {
        let status = member_status(&cluster(), Some(&internal(None)), now());
        assert_eq!(
            condition(&status, JOINED),
            ("Unknown".into(), "MemberClusterJoinStateUnknown".into())
        );
        let status = member_status(&cluster(), None, now());
        assert_eq!(condition(&status, JOINED).0, "Unknown");
    }

    #[test]
    fn left_agent_makes_the_member_left_and_not_ready() {
        let status = member_status(&cluster(), Some(&internal(Some("False"))), now());
        assert_eq!(condition(&status, JOINED), ("False".into(), "MemberClusterLeft".into()));
        assert_eq!(
            condition(&status, READY_TO_JOIN),
            ("False".into(), "MemberClusterNotReadyToJoin".into())
        );
        assert!(agent_gone(&internal(Some("False"))));
        assert!(agent_gone(&internal(None)));
        assert!(!agent_gone(&internal(Some("True"))));
    }

    fn beat(status: &mut MemberClusterStatus, at: Timestamp) {
        for agent in status.agent_status.iter_mut().flatten() {
            agent.last_received_heartbeat = Some(Time(at));
        }
        if let Some(usage) = status.resource_usage.as_mut() {
            usage.observation_time = Some(Time(at));
        }
    }

    #[test]
    fn sd26_a_heartbeat_that_changes_nothing_else_is_copied_only_once_the_copy_is_two_minutes_old() {
        let cluster = cluster();
        let mut old = member_status(&cluster, Some(&internal(Some("True"))), now());
        old.resource_usage = Some(Default::default());
        beat(&mut old, now());
        let mut new = old.clone();
        assert!(!worth_writing(Some(&old), &new, now()), "nothing changed");
        beat(&mut new, now() + 60.seconds());
        assert!(!worth_writing(Some(&old), &new, now() + 60.seconds()));
        beat(&mut new, now() + 120.seconds());
        assert!(worth_writing(Some(&old), &new, now() + 120.seconds()));
        assert!(worth_writing(None, &new, now()), "a first status is always written");
    }

    #[test]
    fn sd26_any_change_besides_the_times_is_copied_at_once() {
        let cluster = cluster();
        let mut old = member_status(&cluster, Some(&internal(Some("True"))), now());
        beat(&mut old, now());
        let mut new = member_status(&cluster, Some(&internal(Some("False"))), now());
        beat(&mut new, now() + 10.seconds());
        assert!(worth_writing(Some(&old), &new, now() + 10.seconds()));
    }
}
