//! `kubectl stagehand`: the kubectl plugin (kubectl finds `kubectl-stagehand` on PATH).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    stagehand::plugin::main()
}
