//! Run control (issue 17) against real API servers: simulated members with injected failures
//! (`simulated`) and real members joined by real agents (`real`).

mod real;
mod simulated;
