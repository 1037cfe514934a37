//! Test harness: real control planes from `tools/testcp`, started once per test binary and
//! shared by its tests. Each test works in its own namespace or with its own name prefix.
//!
//! The clusters stop when this process ends, however it ends: each `testcp` runs with
//! `--exit-with-stdin` and we hold the other end of its stdin, which the kernel closes when we
//! exit (also after a panic or a signal).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// How long a control plane may take to answer `/readyz`.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// One running control plane.
pub struct TestCluster {
    pub name: String,
    pub kubeconfig: PathBuf,
    pub server: String,
    pub version: String,
    /// Held open for the life of the test binary; see the module doc.
    _lifeline: Mutex<ChildStdin>,
    _process: Mutex<Child>,
}

/// What a cluster runs besides the API server.
#[derive(Clone, Copy)]
pub enum Role {
    /// API server and controller subset (garbage collector, namespaces); all Stagehand CRDs installed.
    Hub,
    /// API server, controller subset and pod-readiness simulator; the AppliedWork CRD installed.
    Member,
}

/// The shared hub and member, started together on first use.
static SHARED: OnceLock<Vec<TestCluster>> = OnceLock::new();

fn shared() -> &'static [TestCluster] {
    SHARED.get_or_init(|| start_parallel(&[("hub", Role::Hub), ("member", Role::Member)]))
}

/// The shared hub (all Stagehand CRDs installed).
pub fn hub() -> &'static TestCluster {
    &shared()[0]
}

/// The shared member cluster (AppliedWork CRD installed).
pub fn member() -> &'static TestCluster {
    &shared()[1]
}

/// A hub of its own on which the staged update run controllers run in-process (started on first
/// use), so their reconciles never touch the objects other tests create on the shared hub.
pub fn run_hub() -> &'static TestCluster {
    static RUN_HUB: OnceLock<TestCluster> = OnceLock::new();
    RUN_HUB.get_or_init(|| {
        let cluster = start_installed("runhub", Role::Hub);
        start_run_controllers(&cluster);
        cluster
    })
}

/// A hub of its own on which the placement controllers run in-process with both snapshot
/// throttling windows at zero (started on first use).
pub fn placement_hub() -> &'static TestCluster {
    static HUB: OnceLock<TestCluster> = OnceLock::new();
    HUB.get_or_init(|| {
        let cluster = start_installed("pipehub", Role::Hub);
        run_in_process(&cluster, |client| async move {
            let options = stagehand::controllers::placement::controller::PlacementOptions::default();
            stagehand::controllers::run_hub_controllers(client, run_metrics(), options, std::future::pending())
                .await
                .expect("hub controllers");
        });
        println!("[harness] every hub controller running in-process against pipehub (throttling windows 0s)");
        cluster
    })
}

/// Runs `stagehand`'s update run controllers against `cluster` for the life of the test binary;
/// their log goes to `<run dir>/<cluster>/controllers.log`.
fn start_run_controllers(cluster: &TestCluster) {
    let log_path = run_dir().join(&cluster.name).join("controllers.log");
    let log = std::fs::File::create(&log_path).expect("creating the controller log");
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info,kube=warn")
        .with_ansi(false)
        .with_writer(Mutex::new(log))
        .try_init();
    run_in_process(cluster, |client| async move {
        stagehand::controllers::update_run::run_controllers(client, run_metrics(), std::future::pending()).await;
    });
    println!(
        "[harness] update run controllers running in-process against {}; log: {}",
        cluster.name,
        log_path.display()
    );
}

/// Runs `controllers` with a client for `cluster` on a thread and runtime of their own, so they
/// outlive every test's runtime.
fn run_in_process<F, Fut>(cluster: &TestCluster, controllers: F)
where
    F: FnOnce(Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let kubeconfig = cluster.kubeconfig.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("controller runtime");
        runtime.block_on(async move { controllers(client_for(&kubeconfig).await).await });
    });
}

/// Runs a `stagehand member` agent for member cluster `name` in-process, joined to `hub` and
/// applying to `member`, for the life of the test binary.
pub fn start_member_agent(hub: &TestCluster, member: &TestCluster, name: &str) {
    let (hub_config, member_config, name) = (hub.kubeconfig.clone(), member.kubeconfig.clone(), name.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("agent runtime");
        runtime.block_on(async move {
            let hub = client_for(&hub_config).await;
            let member = client_for(&member_config).await;
            stagehand::member::run_with(hub, member, name, "127.0.0.1:0", std::future::pending())
                .await
                .expect("member agent");
        });
    });
}

/// Registers each of `members` as MemberCluster `name` labelled `environment=<environment>` (heartbeat
/// every 15 s), starts its real agent, and waits until every one has joined.
pub fn join_with_agents(hub: &TestCluster, members: &[TestCluster], names: &[(&str, &str)]) {
    for (member, (name, environment)) in members.iter().zip(names) {
        register_agent_member(hub, name, environment, 15);
        start_member_agent(hub, member, name);
    }
    wait_joined(hub, names);
}

/// Creates MemberCluster `name` labelled `environment=<environment>`, identity the user `name`,
/// heartbeat every `heartbeat_seconds`, for an agent to join.
pub fn register_agent_member(hub: &TestCluster, name: &str, environment: &str, heartbeat_seconds: u64) {
    hub.apply(
        &serde_json::json!({"apiVersion": "cluster.kubernetes-fleet.io/v1beta1", "kind": "MemberCluster",
            "metadata": {"name": name, "labels": {"environment": environment}},
            "spec": {"identity": {"kind": "User", "name": name}, "heartbeatPeriodSeconds": heartbeat_seconds}})
        .to_string(),
    );
}

/// Waits until every MemberCluster in `names` shows JOINED True.
pub fn wait_joined(hub: &TestCluster, names: &[(&str, &str)]) {
    for (name, _) in names {
        wait_for(
            &format!("{name} joined through its agent"),
            Duration::from_secs(120),
            || {
                let table = hub.kubectl_ok(&["get", "membercluster", name]);
                (cells(&table, name)[1] == "True").then_some(())
            },
        );
    }
}

impl TestCluster {
    /// The cluster CA's base64 data, as the kubeconfig holds it.
    pub fn ca_data(&self) -> String {
        self.kubectl_ok(&[
            "config",
            "view",
            "--raw",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.certificate-authority-data}",
        ])
        .trim()
        .to_string()
    }

    /// A kubeconfig (written to `path`) holding a client certificate for user `user` signed by
    /// this cluster's CA, and nothing else: what `make up` gives each member agent (openssl, as
    /// hack/fleet.sh does).
    pub fn user_kubeconfig(&self, user: &str, path: &Path) {
        let pki = self.kubeconfig.parent().expect("data dir").join("pki");
        let dir = path.parent().expect("dir");
        let (key, csr, ext, crt) = (
            dir.join(format!("{user}.key")),
            dir.join(format!("{user}.csr")),
            dir.join(format!("{user}.ext")),
            dir.join(format!("{user}.crt")),
        );
        // rustls accepts only X.509 v3 client certificates: the extensions make it one.
        std::fs::write(
            &ext,
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
        )
        .expect("writing the extensions");
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl").args(args).output().expect("running openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let p = |p: &Path| p.to_str().expect("path").to_string();
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &p(&key),
        ]);
        openssl(&[
            "req",
            "-new",
            "-key",
            &p(&key),
            "-subj",
            &format!("/CN={user}"),
            "-out",
            &p(&csr),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p(&csr),
            "-CA",
            &p(&pki.join("ca.crt")),
            "-CAkey",
            &p(&pki.join("ca.key")),
            "-extfile",
            &p(&ext),
            "-set_serial",
            "0x1",
            "-days",
            "1",
            "-out",
            &p(&crt),
        ]);
        use base64::Engine;
        let b64 = |f: &Path| base64::engine::general_purpose::STANDARD.encode(std::fs::read(f).expect("reading"));
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "hub",
            "clusters": [{"name": "hub", "cluster": {"server": self.server, "certificate-authority-data": self.ca_data()}}],
            "users": [{"name": user, "user": {"client-certificate-data": b64(&crt), "client-key-data": b64(&key)}}],
            "contexts": [{"name": "hub", "context": {"cluster": "hub", "user": user}}],
        });
        std::fs::write(path, kubeconfig.to_string()).expect("writing a kubeconfig");
    }

    /// A kubeconfig (written to `path`) that holds nothing but `token` for user `user`.
    pub fn token_kubeconfig(&self, user: &str, token: &str, path: &Path) {
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "hub",
            "clusters": [{"name": "hub", "cluster": {"server": self.server, "certificate-authority-data": self.ca_data()}}],
            "users": [{"name": user, "user": {"token": token.trim()}}],
            "contexts": [{"name": "hub", "context": {"cluster": "hub", "user": user}}],
        });
        std::fs::write(path, kubeconfig.to_string()).expect("writing a kubeconfig");
    }
}

/// A kube client from a kubeconfig file.
async fn client_for(kubeconfig: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("reading kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    Client::try_from(config).expect("kube client")
}

/// The metrics registry of the in-process controllers.
pub fn run_metrics() -> std::sync::Arc<stagehand::ops::metrics::Metrics> {
    static METRICS: OnceLock<std::sync::Arc<stagehand::ops::metrics::Metrics>> = OnceLock::new();
    METRICS.get_or_init(Default::default).clone()
}

/// Starts several clusters at once and waits for all of them; returns them in order.
pub fn start_parallel(names_and_roles: &[(&str, Role)]) -> Vec<TestCluster> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = names_and_roles
            .iter()
            .map(|&(name, role)| scope.spawn(move || start_installed(name, role)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("cluster start panicked"))
            .collect()
    })
}

fn start_installed(name: &str, role: Role) -> TestCluster {
    let cluster = start(name, role);
    cluster.install_crds(role);
    cluster
}

/// Root of this repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of the `testcp` binary: `$STAGEHAND_TESTCP`, or built (once, cached) by `hack/testcp-build.sh`.
fn testcp_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Ok(path) = std::env::var("STAGEHAND_TESTCP") {
                return PathBuf::from(path);
            }
            let out = Command::new("bash")
                .arg(repo_root().join("hack/testcp-build.sh"))
                .stderr(Stdio::inherit())
                .output()
                .expect("running hack/testcp-build.sh");
            assert!(out.status.success(), "hack/testcp-build.sh failed");
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}

/// Directory for this test binary's clusters; directories of earlier runs whose process is gone are removed.
fn run_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = repo_root().join("target/testcp-it");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let pid = entry.file_name().to_string_lossy().to_string();
                if !Path::new("/proc").join(&pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).expect("creating the test run directory");
        dir
    })
    .clone()
}

/// Starts one control plane and waits for its READY line.
pub fn start(name: &str, role: Role) -> TestCluster {
    let data_dir = run_dir().join(name);
    std::fs::create_dir_all(&data_dir).expect("creating the cluster directory");
    let log = std::fs::File::create(data_dir.join("testcp.log")).expect("creating the cluster log");
    let mut cmd = Command::new(testcp_binary());
    cmd.arg("--name")
        .arg(name)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--exit-with-stdin");
    cmd.arg("--controllers");
    if let Role::Member = role {
        cmd.arg("--simulate-pods");
    }
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("starting testcp");
    let stdin = child.stdin.take().expect("testcp stdin");
    let stdout = child.stdout.take().expect("testcp stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("READY ") {
                let _ = tx.send(line);
            }
        }
    });
    let ready = match rx.recv_timeout(START_TIMEOUT) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            panic!(
                "testcp {name} did not become ready; see {}",
                data_dir.join("testcp.log").display()
            );
        }
    };
    let field = |key: &str| {
        ready
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap_or_default()
            .to_string()
    };
    let cluster = TestCluster {
        name: name.to_string(),
        kubeconfig: PathBuf::from(field("kubeconfig")),
        server: field("server"),
        version: field("version"),
        _lifeline: Mutex::new(stdin),
        _process: Mutex::new(child),
    };
    println!(
        "[harness] cluster {name}: kube-apiserver {} at {} ready in {:.1}s",
        cluster.version,
        cluster.server,
        started.elapsed().as_secs_f64()
    );
    cluster
}

impl TestCluster {
    /// Stops the control plane with SIGTERM and waits for it to exit; returns its exit status.
    pub fn stop(&self) -> std::process::ExitStatus {
        let mut child = self._process.lock().expect("process lock");
        let pid = child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        child.wait().expect("waiting for testcp")
    }

    /// Stops the control plane and starts it again on the same directory: same address,
    /// credentials and data (etcd keeps everything), as an API server restart in place.
    pub fn restart(&self, role: Role) {
        self.stop();
        let fresh = start(&self.name, role);
        let TestCluster {
            _lifeline, _process, ..
        } = fresh;
        *self._lifeline.lock().expect("lifeline lock") = _lifeline.into_inner().expect("lifeline");
        *self._process.lock().expect("process lock") = _process.into_inner().expect("process");
    }

    /// Sends `signal` (STOP, CONT) to the control plane's process: STOP freezes the API server
    /// and etcd, as a partition would for every client.
    pub fn signal(&self, signal: &str) {
        let pid = self._process.lock().expect("process lock").id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -{signal} {pid} failed");
    }

    /// kubectl without the echo of [`TestCluster::kubectl`], for checks polled several times a
    /// second.
    pub fn kubectl_quiet(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("running kubectl")
    }

    /// Runs kubectl against this cluster as a user would, printing the command and its output.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with_stdin(args, None)
    }

    /// Like [`TestCluster::kubectl`], feeding `stdin` to the command.
    pub fn kubectl_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        println!("[{}] $ kubectl {}", self.name, args.join(" "));
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running kubectl");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("kubectl stdin")
                .write_all(input.as_bytes())
                .expect("writing kubectl stdin");
        }
        let out = child.wait_with_output().expect("waiting for kubectl");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Runs kubectl and returns its stdout, panicking with its stderr when it fails.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Applies `yaml` with `kubectl apply -f -` and returns stdout, panicking on failure.
    pub fn apply(&self, yaml: &str) -> String {
        let out = self.kubectl_with_stdin(&["apply", "-f", "-"], Some(yaml));
        assert!(
            out.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A kube client for this cluster, for the test's own runtime.
    pub async fn client(&self) -> Client {
        client_for(&self.kubeconfig).await
    }

    /// Installs the CRDs this role needs from `crds/` (the shipped files) and waits until they are Established.
    fn install_crds(&self, role: Role) {
        let crds = repo_root().join("crds");
        let target = match role {
            Role::Hub => crds.display().to_string(),
            Role::Member => crds
                .join("appliedworks.placement.kubernetes-fleet.io.yaml")
                .display()
                .to_string(),
        };
        self.kubectl_ok(&["apply", "--server-side", "-f", &target]);
        self.kubectl_ok(&["wait", "--for=condition=Established", "crd", "--all", "--timeout=120s"]);
    }
}

/// A name no other test of this run uses: `<prefix>-<n>`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Creates a namespace of its own for a test on `cluster` and returns its name.
pub fn test_namespace(cluster: &TestCluster, prefix: &str) -> String {
    let ns = unique(prefix);
    cluster.kubectl_ok(&["create", "namespace", &ns]);
    cluster.kubectl_ok(&["label", "namespace", &ns, "stagehand.test/owned=true"]);
    ns
}

/// Starts the `fleetsim` binary against `hub` with `args`; it is killed when the guard drops.
pub fn spawn_fleetsim(hub: &TestCluster, args: &[&str]) -> (Child, crate::hub::KillOnDrop) {
    let child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .arg("--kubeconfig")
        .arg(&hub.kubeconfig)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting fleetsim");
    let guard = crate::hub::KillOnDrop(child.id());
    (child, guard)
}

/// How many of `hub`'s MemberClusters say `Joined=True`.
pub fn joined_members(hub: &TestCluster) -> usize {
    let out = hub.kubectl_quiet(&[
        "get",
        "memberclusters",
        "-o",
        r#"jsonpath={range .items[*]}{.status.conditions[?(@.type=="Joined")].status}{"\n"}{end}"#,
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| *l == "True")
        .count()
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Splits a table line into cells by the header's column starts, so blank cells stay blank.
pub fn cells(table: &str, name: &str) -> Vec<String> {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let starts: Vec<usize> = header
        .char_indices()
        .filter(|(i, c)| !c.is_whitespace() && (*i == 0 || header.as_bytes()[i - 1] == b' '))
        .map(|(i, _)| i)
        .collect();
    let line = lines
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{table}"));
    starts
        .iter()
        .enumerate()
        .map(|(k, &start)| {
            let end = starts.get(k + 1).copied().unwrap_or(line.len()).min(line.len());
            line.get(start.min(line.len())..end)
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect()
}
