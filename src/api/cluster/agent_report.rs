//! What a member agent reports on its InternalMemberCluster (§13.3). The member agent and the
//! simulated members of `fleetsim` write the same conditions, so both take them from here.

use jiff::Timestamp;

use super::{AgentStatus, AgentType, InternalMemberCluster};
use crate::api::condition::Condition;
use crate::conditions::{Status, set};

impl InternalMemberCluster {
    /// The member agent's entry in `status.agentStatus`, if it reported.
    pub fn member_agent_status(&self) -> Option<&AgentStatus> {
        self.status
            .as_ref()
            .and_then(|s| s.agent_status.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == AgentType::MemberAgent))
    }
}

/// A heartbeat's conditions: `Joined=True`, and `Healthy` as the member's API server answered.
pub fn report_joined(conditions: &mut Option<Vec<Condition>>, healthy: bool, generation: i64, now: Timestamp) {
    set(
        conditions,
        "Joined",
        Status::True,
        "InternalMemberClusterJoined",
        "The member agent has joined the fleet",
        generation,
        now,
    );
    let (s, reason, message) = if healthy {
        (
            Status::True,
            "InternalMemberClusterHealthy",
            "The member cluster's API server is healthy",
        )
    } else {
        (
            Status::False,
            "InternalMemberClusterUnhealthy",
            "The member cluster's API server did not answer /readyz",
        )
    };
    set(conditions, "Healthy", s, reason, message, generation, now);
}

/// The condition of an agent that left: `Joined=False`.
pub fn report_left(conditions: &mut Option<Vec<Condition>>, generation: i64, now: Timestamp) {
    set(
        conditions,
        "Joined",
        Status::False,
        "InternalMemberClusterLeft",
        "The member agent has left the fleet",
        generation,
        now,
    );
}
