//! `placement.kubernetes-fleet.io/v1beta1`: placements, snapshots, bindings, works, staged
//! update strategies, runs and approval requests.

mod approval_request;
mod binding;
mod policy;
mod resource_placement;
mod rollout;
mod snapshot;
mod staged_update_run;
mod staged_update_strategy;
mod views;
mod work;

pub use approval_request::*;
pub use binding::*;
pub use policy::*;
pub use resource_placement::*;
pub use rollout::*;
pub use snapshot::*;
pub use staged_update_run::*;
pub use staged_update_strategy::*;
pub use views::*;
pub use work::*;
