//! The hub's MemberCluster controller (`placement-pipeline.md` §13.2, §13.4): gives each member
//! cluster its hub namespace `fleet-member-<name>`, the Role and RoleBinding its agent uses there
//! and its InternalMemberCluster, and reports the agent's heartbeat and join state on the
//! MemberCluster. On deletion it asks the agent to leave and then removes the namespace.
//!
//! `aggregate` computes the MemberCluster status (pure); `wiring` talks to the API server.

pub mod aggregate;
pub mod wiring;
