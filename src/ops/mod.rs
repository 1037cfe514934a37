//! Operating the process: logging and the health endpoint.

pub mod http;
pub mod leader;
pub mod metrics;
pub mod telemetry;
