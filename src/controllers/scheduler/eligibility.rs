//! Whether a member cluster may receive new placements (`placement-pipeline.md` §7.3).

use jiff::{Timestamp, ToSpan};

use crate::api::cluster::{AgentType, MemberCluster};
use crate::conditions::find;

/// How old a heartbeat or an unhealthy condition may be before the cluster stops counting.
const STALE_AFTER_MINUTES: i64 = 5;

/// `Ok` when the cluster is eligible, otherwise upstream's reason (used as decision text).
pub fn eligibility(cluster: &MemberCluster, now: Timestamp) -> Result<(), String> {
    if cluster.metadata.deletion_timestamp.is_some() {
        return Err("cluster has left the fleet".into());
    }
    let agent = cluster
        .status
        .as_ref()
        .and_then(|s| s.agent_status.as_ref())
        .and_then(|agents| agents.iter().find(|a| a.type_ == AgentType::MemberAgent))
        .ok_or_else(|| "cluster is not connected to the fleet: member agent not online yet".to_string())?;
    let stale = now - STALE_AFTER_MINUTES.minutes();
    match &agent.last_received_heartbeat {
        Some(beat) if beat.0 >= stale => {}
        Some(beat) => {
            return Err(format!(
                "cluster is not connected to the fleet: no recent heartbeat signals (last received {:.2} minutes ago)",
                minutes_since(beat.0, now)
            ));
        }
        None => return Err("cluster is not connected to the fleet: member agent not online yet".into()),
    }
    if find(&agent.conditions, "Joined").is_none_or(|c| c.status != "True") {
        return Err("cluster is not connected to the fleet: member agent not joined yet".into());
    }
    let Some(healthy) = find(&agent.conditions, "Healthy") else {
        return Err(
            "cluster is not connected to the fleet: health condition from member agent is not available".into(),
        );
    };
    if healthy.status != "True" {
        let since = healthy.last_transition_time.as_ref().map(|t| t.0).unwrap_or(now);
        if since < stale {
            return Err(format!(
                "cluster is not connected to the fleet: unhealthy for a prolonged period of time (last transitioned {:.2} minutes ago)",
                minutes_since(since, now)
            ));
        }
    }
    Ok(())
}

fn minutes_since(then: Timestamp, now: Timestamp) -> f64 {
    now.duration_since(then).as_secs_f64() / 60.0
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::cluster::{AgentStatus, MemberClusterStatus};
    use crate::api::condition::Condition;

    fn cluster(beat_minutes_ago: Option<i64>, joined: &str, healthy: Option<(&str, i64)>) -> MemberCluster {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let mut conditions = vec![Condition {
            type_: "Joined".into(),
            status: joined.into(),
            reason: "r".into(),
            ..Default::default()
        }];
        if let Some((status, minutes)) = healthy {
            conditions.push(Condition {
                type_: "Healthy".into(),
                status: status.into(),
                reason: "r".into(),
                last_transition_time: Some(Time(now - minutes.minutes())),
                ..Default::default()
            });
        }
        let mut mc = MemberCluster::new("m", Default::default());
        mc.status = Some(MemberClusterStatus {
            agent_status: beat_minutes_ago.map(|m| {
                vec![AgentStatus {
                    type_: AgentType::MemberAgent,
                    conditions: Some(conditions),
                    last_received_heartbeat: Some(Time(now - m.minutes())),
                }]
            }),
            ..Default::default()
        });
        mc
    }

    fn at_noon(mc: &MemberCluster) -> Result<(), String> {
        eligibility(mc, "2026-01-01T12:00:00Z".parse().unwrap())
    }

    #[test]
    fn joined_healthy_cluster_with_fresh_heartbeat_is_eligible() {
        assert_eq!(at_noon(&cluster(Some(1), "True", Some(("True", 60)))), Ok(()));
    }

    #[test]
    fn each_ineligibility_has_upstreams_reason() {
        assert_eq!(
            at_noon(&cluster(None, "True", None)).unwrap_err(),
            "cluster is not connected to the fleet: member agent not online yet"
        );
        assert_eq!(
            at_noon(&cluster(Some(6), "True", Some(("True", 60)))).unwrap_err(),
            "cluster is not connected to the fleet: no recent heartbeat signals (last received 6.00 minutes ago)"
        );
        assert_eq!(
            at_noon(&cluster(Some(1), "False", Some(("True", 60)))).unwrap_err(),
            "cluster is not connected to the fleet: member agent not joined yet"
        );
        assert_eq!(
            at_noon(&cluster(Some(1), "True", None)).unwrap_err(),
            "cluster is not connected to the fleet: health condition from member agent is not available"
        );
        assert_eq!(
            at_noon(&cluster(Some(1), "True", Some(("False", 10)))).unwrap_err(),
            "cluster is not connected to the fleet: unhealthy for a prolonged period of time (last transitioned 10.00 minutes ago)"
        );
    }

    #[test]
    fn briefly_unhealthy_cluster_stays_eligible() {
        assert_eq!(at_noon(&cluster(Some(1), "True", Some(("False", 2)))), Ok(()));
    }
}
