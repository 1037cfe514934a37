//! `fleetsim`: simulated member clusters for a KubeFleet-compatible hub (see `stagehand::fleetsim`).

use anyhow::Context;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = stagehand::fleetsim::Args::parse();
    stagehand::ops::telemetry::init(args.log_json);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(stagehand::fleetsim::run(args))?;
    Ok(())
}
