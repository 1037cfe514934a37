//! Runs a document's commands against a local fleet the way its reader would, and compares what
//! kubectl prints with what the document shows.
//!
//! The fleet is the one `make up` starts (`hack/fleet.sh up`), in a directory of its own. Every
//! command runs through `bash -c` with the fleet's kubeconfig (context `hub`), so heredocs,
//! `$(date ...)` and files such as `approval.json` behave as in the reader's shell.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::subset::{self, DocYaml};
use crate::table::Table;

/// How long a state the document shows may take to appear when nothing in it waits.
pub const SETTLE: Duration = Duration::from_secs(90);

/// The repository root (where `hack/` lives).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Which credentials `stagehand hub` runs with.
#[derive(Clone, Copy, Debug)]
pub enum HubRbac {
    /// The hub's admin kubeconfig, as `make up` does.
    Admin,
    /// Only the Helm chart's ServiceAccount token and RBAC (`FLEET_HUB_RBAC=chart`).
    Chart,
}

/// A hub and member1..3 with `stagehand hub` and three agents, started by `hack/fleet.sh up`
/// and removed (`down --purge`) when dropped.
pub struct Fleet {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

/// `n` consecutive free ports for the fleet called `name`. They come from below Linux's ephemeral
/// range (32768 and up), where the API servers' own ports and the other fleet's connections
/// are allocated, and each fleet name starts its search elsewhere, so two fleets started side by
/// side do not pick the same ports.
fn free_ports(name: &str, n: u16) -> u16 {
    let offset: u16 = name
        .bytes()
        .map(u16::from)
        .fold(0u16, |a, b| a.wrapping_mul(31).wrapping_add(b))
        % 500;
    (0..500u16)
        .map(|i| 20_000 + ((offset + i * 7) % 1_000) * 10)
        .find(|base| (*base..*base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .unwrap_or_else(|| panic!("no {n} consecutive free ports between 20000 and 30000"))
}

impl Fleet {
    /// Starts the fleet in `target/walkthroughs/<name>`.
    pub fn up(name: &str, rbac: HubRbac) -> Fleet {
        let dir = repo_root().join("target/walkthroughs").join(name);
        let env = vec![
            ("FLEET_DIR".to_string(), dir.display().to_string()),
            ("STAGEHAND_HUB_PORT".to_string(), free_ports(name, 4).to_string()),
            // The fleet's processes print errors, not backtraces, as they would for a user.
            ("RUST_BACKTRACE".to_string(), "0".to_string()),
            ("STAGEHAND_BIN".to_string(), env!("CARGO_BIN_EXE_stagehand").to_string()),
            (
                "FLEET_HUB_RBAC".to_string(),
                match rbac {
                    HubRbac::Admin => "admin",
                    HubRbac::Chart => "chart",
                }
                .to_string(),
            ),
        ];
        let fleet = Fleet { dir, env };
        // A previous run that was killed may have left this fleet behind.
        fleet.script(&["down", "--purge"]);
        let out = fleet.script(&["up"]);
        assert!(
            out.status.success(),
            "hack/fleet.sh up failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "[{name}] {}",
            String::from_utf8_lossy(&out.stdout)
                .trim_end()
                .replace('\n', &format!("\n[{name}] "))
        );
        fleet
    }

    fn script(&self, args: &[&str]) -> Output {
        Command::new(repo_root().join("hack/fleet.sh"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("running hack/fleet.sh")
    }

    /// The merged kubeconfig (contexts hub, member1, member2, member3; hub is current).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The last lines of the hub's and agents' logs, for a failure report.
    fn log_tails(&self) -> String {
        [
            "stagehand-hub.log",
            "stagehand-member1.log",
            "stagehand-member2.log",
            "stagehand-member3.log",
        ]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            format!(
                "--- {f} (last 15 lines)\n{}\n",
                lines[lines.len().saturating_sub(15)..].join("\n")
            )
        })
        .collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tails());
        }
        self.script(&["down", "--purge"]);
    }
}

/// One document being replayed.
pub struct Walkthrough {
    doc: &'static str,
    fleet: Fleet,
    /// The reader's working directory (files such as `approval.json` are written here).
    workdir: PathBuf,
    section: String,
    step: usize,
    started: Instant,
    /// PATH for the reader's shell (the plugin's directory first, once `plugin_on_path` ran).
    path: Option<String>,
}

impl Walkthrough {
    pub fn new(doc: &'static str, fleet: Fleet) -> Walkthrough {
        let workdir = fleet.dir.join("reader");
        std::fs::create_dir_all(&workdir).expect("reader's working directory");
        Walkthrough {
            doc,
            fleet,
            workdir,
            section: String::new(),
            step: 0,
            started: Instant::now(),
            path: None,
        }
    }

    fn say(&self, text: &str) {
        let t = self.started.elapsed().as_secs_f64();
        for line in text.lines() {
            println!("[{} {t:6.1}s] {line}", self.doc);
        }
    }

    /// Starts a section of the document (its heading).
    pub fn section(&mut self, heading: &str) {
        self.section = heading.to_string();
        self.say(&format!("== {heading}"));
    }

    /// Something the reader should know about this step (a fix, a wait that really happens).
    pub fn note(&self, text: &str) {
        self.say(&format!("note: {text}"));
    }

    fn sh(&self, command: &str) -> Output {
        let mut bash = Command::new("bash");
        bash.arg("-c")
            .arg(command)
            .current_dir(&self.workdir)
            .env("KUBECONFIG", self.fleet.kubeconfig());
        if let Some(path) = &self.path {
            bash.env("PATH", path);
        }
        bash.output().expect("running bash")
    }

    /// The reader works in the repository (paths such as `examples/...` resolve).
    pub fn at_repo_root(&mut self) {
        self.workdir = repo_root();
    }

    /// `kubectl stagehand` works: the built plugin is first on the reader's PATH.
    pub fn plugin_on_path(&mut self) {
        let dir = self.fleet.dir.join("plugin-bin");
        std::fs::create_dir_all(&dir).expect("plugin dir");
        let link = dir.join("kubectl-stagehand");
        if !link.exists() {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kubectl-stagehand"), &link).expect("linking the plugin");
        }
        self.path = Some(format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        ));
    }

    fn fail(&self, command: &str, expected: &str, actual: &str, why: &str) -> ! {
        panic!(
            "\nwalkthrough {}, step {} ({}):\n$ {command}\n--- expected:\n{expected}\n--- actual:\n{actual}\n--- {why}\n",
            self.doc, self.step, self.section
        );
    }

    fn begin(&mut self, command: &str) {
        self.step += 1;
        self.say(&format!("step {}: $ {command}", self.step));
    }

    /// Runs a command that must succeed; returns what it printed.
    pub fn run(&mut self, command: &str) -> String {
        self.begin(command);
        let out = self.sh(command);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            self.fail(
                command,
                "exit status 0",
                &format!("{stdout}{stderr}"),
                &format!("the command failed ({})", out.status),
            );
        }
        self.say(stdout.trim_end());
        stdout
    }

    /// Runs a command that must succeed and print exactly `expected` (surrounding blanks aside).
    pub fn run_prints(&mut self, command: &str, expected: &str) {
        let stdout = self.run(command);
        if stdout.trim() != expected.trim() {
            self.fail(command, expected, &stdout, "the output differs");
        }
    }

    /// Runs a command that must be refused and print exactly `expected` (an API server's
    /// rejection, as kubectl prints it on standard error).
    pub fn run_fails(&mut self, command: &str, expected: &str) {
        self.begin(command);
        let out = self.sh(command);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            self.fail(command, expected, &printed, "the command was accepted");
        }
        if printed.trim() != expected.trim() {
            self.fail(command, expected, &printed, "the refusal differs");
        }
        self.say(printed.trim_end());
    }

    /// Polls `command` until its output satisfies `check` (which says how it differs), for at
    /// most `within`; the reader would re-run it the same way.
    fn poll(
        &mut self,
        command: &str,
        expected: &str,
        within: Duration,
        mut check: impl FnMut(&str) -> Option<String>,
    ) -> String {
        self.begin(command);
        let start = Instant::now();
        loop {
            let out = self.sh(command);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let why = if out.status.success() {
                check(&stdout)
            } else {
                Some(format!(
                    "the command failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            };
            match why {
                None => {
                    self.say(stdout.trim_end());
                    if start.elapsed() > Duration::from_secs(5) {
                        self.say(&format!("(as shown after {:.1}s)", start.elapsed().as_secs_f64()));
                    }
                    return stdout;
                }
                Some(why) if start.elapsed() > within => self.fail(
                    command,
                    expected,
                    &stdout,
                    &format!("still differs after {within:?}: {why}"),
                ),
                Some(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }

    /// Runs a `kubectl get` until it prints `expected` (columns, rows and cells; AGE aside).
    pub fn table(&mut self, command: &str, expected: Table, within: Duration) {
        for adjustment in &expected.adjustments {
            self.note(&format!("expected table adjusted: {adjustment}"));
        }
        let rendered = expected.to_string();
        self.poll(command, &rendered, within, |out| match Table::parse(out) {
            Ok(actual) => expected.difference(&actual),
            Err(e) => Some(e),
        });
    }

    /// Runs a command printing YAML until the object shows every field of `expected` (see
    /// [`subset`]).
    pub fn object(&mut self, command: &str, expected: DocYaml, within: Duration) {
        for adjustment in &expected.adjustments {
            self.note(&format!("expected YAML adjusted: {adjustment}"));
        }
        let want = subset::yaml(&expected.text);
        self.poll(command, &expected.text, within, |out| {
            match serde_saphyr::from_str::<serde_json::Value>(out) {
                Ok(actual) => subset::difference(&want, &actual),
                Err(e) => Some(format!("not YAML: {e}")),
            }
        });
    }

    /// Runs a command until it prints exactly `expected` (for jsonpath checks).
    pub fn prints_eventually(&mut self, command: &str, expected: &str, within: Duration) {
        self.poll(command, expected, within, |out| {
            (out.trim() != expected).then(|| format!("printed {:?}", out.trim()))
        });
    }

    /// Runs a command until it prints `expected`, line by line with runs of blanks counted as one
    /// (the plugin's tables pad their cells).
    pub fn prints_eventually_loosely(&mut self, command: &str, expected: &str, within: Duration) {
        let squeeze = |text: &str| -> Vec<String> {
            text.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty())
                .collect()
        };
        let want = squeeze(expected);
        self.poll(command, expected, within, |out| {
            let got = squeeze(out);
            (got != want).then(|| format!("printed {got:?}"))
        });
    }

    /// The kubectl command a reader uses to look at a member cluster.
    pub fn on_member(member: &str, args: &str) -> String {
        format!("kubectl --context {member} {args}")
    }

    /// Checks a value on each of `members`.
    pub fn members_print(&mut self, members: &[&str], args: &str, expected: &str, within: Duration) {
        for m in members {
            self.prints_eventually(&Self::on_member(m, args), expected, within);
        }
    }

    /// Fails when the hub's log mentions `needle` (e.g. `forbidden` under the chart's RBAC).
    pub fn hub_log_has_no(&self, needle: &str) {
        let log = std::fs::read_to_string(self.fleet.dir.join("stagehand-hub.log")).unwrap_or_default();
        let hits: Vec<&str> = log.lines().filter(|l| l.contains(needle)).take(5).collect();
        assert!(
            hits.is_empty(),
            "the hub's log mentions {needle:?}:\n{}",
            hits.join("\n")
        );
        self.say(&format!("the hub's log never mentions {needle:?}"));
    }
}
