//! The work generator (`placement-pipeline.md` §10): turns each Bound (or Unscheduled) binding
//! into the `Work` objects of its member's hub namespace, carrying the manifests of the resource
//! snapshot group the binding names, and reports the Works' progress back on the binding
//! (`Overridden`, `WorkSynchronized`, `Applied`, `Available`, `DiffReported`).
//!
//! `works` computes the desired Works and the writes to get there, `report` the binding's
//! conditions (both pure); `wiring` runs them against the API server.

pub mod report;
pub mod wiring;
pub mod works;
