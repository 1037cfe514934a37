//! The two seed documents (`../shared/seeds/`) replayed end to end with kubectl against the local
//! fleet that `make up` starts: hub, member1..3 and their agents, `stagehand hub` running. Each
//! document gets a fleet of its own (they use the same object names), and the Azure one runs the
//! hub under exactly the Helm chart's RBAC.
//!
//! Every step prints its command and output; a failing step prints the step, the command, the
//! expected and the actual output. The documents' TimedWaits (1m, 30s) are not shortened.
//!
//! Our own worked examples (docs/staged-updates.md, "Run control") are replayed the same way,
//! read from the document itself.

mod azure_howto;
mod doc_examples;
mod fixes;
mod kubefleet_howto;
mod runner;
mod subset;
mod table;

use runner::{Fleet, HubRbac, Walkthrough};

#[test]
fn kubefleet_howto_roll_out_and_roll_back_in_stages() {
    let fleet = Fleet::up("kubefleet-howto", HubRbac::Admin);
    let mut w = Walkthrough::new("kubefleet-howto", fleet);
    kubefleet_howto::replay(&mut w);
}

#[test]
fn azure_howto_orchestrate_staged_rollouts_under_the_charts_rbac() {
    let fleet = Fleet::up("azure-howto", HubRbac::Chart);
    let mut w = Walkthrough::new("azure-howto", fleet);
    azure_howto::replay(&mut w);
    // Every right the hub used came from the chart; a missing one would be a stuck step and a
    // `forbidden` in the log.
    w.hub_log_has_no("forbidden");
}

#[test]
fn staged_updates_run_control_examples() {
    let examples = doc_examples::examples(include_str!("../../docs/staged-updates.md"), "Run control");
    assert!(
        examples.len() >= 50,
        "the Run control section of docs/staged-updates.md lost its examples: {}",
        examples.len()
    );
    let fleet = Fleet::up("run-control", HubRbac::Admin);
    let mut w = Walkthrough::new("run-control", fleet);
    doc_examples::replay(&mut w, &examples);
}

#[test]
fn readme_tour_with_the_kubectl_plugin() {
    let examples = doc_examples::examples(
        include_str!("../../README.md"),
        "The same tour with `kubectl stagehand`",
    );
    assert!(
        examples.len() >= 20,
        "the README's plugin tour lost its commands: {}",
        examples.len()
    );
    let fleet = Fleet::up("plugin-tour", HubRbac::Admin);
    let mut w = Walkthrough::new("plugin-tour", fleet);
    w.at_repo_root();
    w.plugin_on_path();
    doc_examples::replay(&mut w, &examples);
}
