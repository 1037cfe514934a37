//! Replays the worked examples of a section of our own documentation: every `$` command of its
//! `console` blocks, in order, on a fleet of its own, comparing what kubectl prints with what the
//! document shows. The document is the test's only input, so an example that stops being true
//! fails here.
//!
//! In a `console` block, a line starting with `$ ` is a command (a heredoc runs until its `EOF`
//! line); the lines up to the next command are what it prints. A `kubectl get` whose output is a
//! table is compared as a table (`AGE` aside) and, like any `kubectl get`, re-run until it matches
//! (a reader re-runs it the same way); output that starts with `The ` or `Error from server` is a
//! refusal: the command must fail and print exactly that; `kubectl stagehand status` and `why` are
//! re-run until they print what is shown (blanks aside); any other output must match exactly.

use std::time::Duration;

use crate::runner::{SETTLE, Walkthrough};

/// How long a state may take to show when a TimedWait (up to a minute) comes first.
const AFTER_A_WAIT: Duration = Duration::from_secs(150);
use crate::table::Table;

/// One command of a `console` block and what it prints.
#[derive(Debug, PartialEq)]
pub struct Example {
    /// The `###` heading it is under.
    pub heading: String,
    /// The command, heredoc included.
    pub command: String,
    /// What it prints (may be empty).
    pub output: String,
}

/// The examples of the `## <section>` of `markdown` (up to the next `## ` heading).
pub fn examples(markdown: &str, section: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_section = false;
    let mut in_block = false;
    let mut heading = String::new();
    let mut current: Option<Example> = None;
    let mut heredoc = false;
    for line in markdown.lines() {
        if !in_block && line.starts_with("## ") {
            in_section = line.trim_start_matches("## ").starts_with(section);
            continue;
        }
        if !in_section {
            continue;
        }
        if !in_block && line.starts_with("### ") {
            heading = line.trim_start_matches("### ").to_string();
            continue;
        }
        if !in_block && line.trim() == "```console" {
            in_block = true;
            continue;
        }
        if !in_block {
            continue;
        }
        if heredoc {
            if let Some(example) = current.as_mut() {
                example.command.push('\n');
                example.command.push_str(line);
            }
            heredoc = line != "EOF";
            continue;
        }
        if line.trim() == "```" {
            in_block = false;
            out.extend(current.take());
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            out.extend(current.take());
            heredoc = command.contains("<< EOF");
            current = Some(Example {
                heading: heading.clone(),
                command: command.to_string(),
                output: String::new(),
            });
            continue;
        }
        if let Some(example) = current.as_mut() {
            if !example.output.is_empty() {
                example.output.push('\n');
            }
            example.output.push_str(line);
        }
    }
    out
}

/// Runs every example in order.
pub fn replay(w: &mut Walkthrough, examples: &[Example]) {
    let mut heading = "";
    for example in examples {
        if example.heading != heading {
            heading = &example.heading;
            w.section(heading);
        }
        let command = example.command.as_str();
        let output = example.output.trim();
        let is_get = command.starts_with("kubectl get ")
            || command.starts_with("kubectl --context ") && command.contains(" get ");
        let plugin_view =
            command.starts_with("kubectl stagehand status ") || command.starts_with("kubectl stagehand why ");
        if plugin_view {
            // What the plugin shows changes as the run goes on; a TimedWait may come first.
            w.prints_eventually_loosely(command, output, AFTER_A_WAIT);
        } else if output.starts_with("The ") || output.starts_with("Error from server") {
            w.run_fails(command, output);
        } else if is_get && output.starts_with("NAME ") {
            w.table(command, Table::doc(output), SETTLE);
        } else if is_get {
            w.prints_eventually(command, output, SETTLE);
        } else if output.is_empty() {
            w.run(command);
        } else {
            w.run_prints(command, output);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_heredocs_and_outputs_are_split_per_section() {
        let doc = "## Other\n```console\n$ kubectl get x\n```\n## Run control (SD-1)\n### First\n\ntext\n```console\n$ kubectl apply -f - << EOF\nkind: X\nEOF\nx/y created\n$ kubectl get csur a\nNAME   AGE\na      1s\n```\n### Second\n```console\n$ kubectl delete x y\n```\n## Next\n```console\n$ kubectl get z\n```\n";
        let got = examples(doc, "Run control");
        assert_eq!(
            got,
            [
                Example {
                    heading: "First".into(),
                    command: "kubectl apply -f - << EOF\nkind: X\nEOF".into(),
                    output: "x/y created".into(),
                },
                Example {
                    heading: "First".into(),
                    command: "kubectl get csur a".into(),
                    output: "NAME   AGE\na      1s".into(),
                },
                Example {
                    heading: "Second".into(),
                    command: "kubectl delete x y".into(),
                    output: String::new(),
                },
            ]
        );
    }
}
