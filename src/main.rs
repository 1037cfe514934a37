use std::fs;

use anyhow::Context;
use clap::Parser;
use stagehand::api::{all_crds, crd_file_name, crd_yaml};
use stagehand::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crdgen { out } => {
            fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for crd in all_crds() {
                let path = out.join(crd_file_name(&crd));
                fs::write(&path, crd_yaml(&crd)?).with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Hub(args) => {
            stagehand::ops::telemetry::init(args.log_json);
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(stagehand::hub::run(args))?;
            Ok(())
        }
        Command::Member(args) => {
            stagehand::ops::telemetry::init(args.log_json);
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(stagehand::member::run(args))?;
            Ok(())
        }
    }
}
