// Command testcp runs one real Kubernetes control plane in a single process, for Stagehand's
// tests, demos and benchmarks: embedded etcd, kube-apiserver, optionally a subset of
// kube-controller-manager and a pod-readiness simulator. It listens on 127.0.0.1 only.
//
// One cluster per process: kube-apiserver installs a process-wide signal handler, so a second
// API server in the same process is not possible.
//
// Usage:
//
//	testcp --name hub --data-dir /tmp/fleet/hub [--controllers] [--simulate-pods]
//
// When /readyz answers it prints exactly one line to stdout:
//
//	READY kubeconfig=<path> server=https://127.0.0.1:<port> name=<name> version=<git version>
//
// and keeps running until SIGTERM or SIGINT. Certificates and the chosen ports are kept in the
// data directory and reused by a later start on the same directory, so a restarted cluster
// keeps its address, its credentials and its etcd data.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"
)

type options struct {
	name         string
	dataDir      string
	controllers  bool
	simulatePods bool
	verbosity    int
	stdinLife    bool
}

func main() {
	var o options
	flag.StringVar(&o.name, "name", "cluster", "cluster name: kubeconfig cluster, user and context name")
	flag.StringVar(&o.dataDir, "data-dir", "", "directory for etcd data, certificates and the kubeconfig (required)")
	flag.BoolVar(&o.controllers, "controllers", false, "run the kube-controller-manager subset (deployment, replicaset, serviceaccount, serviceaccount-token, namespace, garbage collector)")
	flag.BoolVar(&o.simulatePods, "simulate-pods", false, "mark pending pods Running and Ready (no kubelet here)")
	flag.IntVar(&o.verbosity, "v", 0, "log verbosity of the embedded components (stderr)")
	flag.BoolVar(&o.stdinLife, "exit-with-stdin", false, "shut down when standard input closes (the parent that holds the pipe exited, even by a crash)")
	flag.Parse()
	if o.dataDir == "" {
		fmt.Fprintln(os.Stderr, "testcp: --data-dir is required")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "testcp: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	dir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Two in-process components (API server and controller manager) each apply the logging
	// configuration; the default refuses the second call.
	logsapi.ReapplyHandling = logsapi.ReapplyHandlingIgnoreUnchanged
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("v", fmt.Sprint(o.verbosity))

	ports, err := loadOrPickPorts(filepath.Join(dir, "ports.json"))
	if err != nil {
		return fmt.Errorf("ports: %w", err)
	}
	pki, err := loadOrCreatePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}

	etcd, err := startEtcd(filepath.Join(dir, "etcd"), ports)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()

	apiServer := newAPIServerCommand(dir, pki, ports)
	ctx := apiServer.Context()
	if o.stdinLife {
		go shutDownWhenStdinCloses()
	}
	apiDone := make(chan error, 1)
	go func() { apiDone <- apiServer.ExecuteContext(ctx) }()

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, o.name, ports.apiServerURL(), pki); err != nil {
		return err
	}
	version, err := waitReady(ctx, kubeconfig, apiDone, 3*time.Minute)
	if err != nil {
		return fmt.Errorf("kube-apiserver did not become ready: %w", err)
	}
	if o.controllers {
		go func() {
			if err := runControllerManager(kubeconfig, pki); err != nil {
				klog.ErrorS(err, "kube-controller-manager stopped")
			}
		}()
	}
	if o.simulatePods {
		go func() {
			if err := simulatePodReadiness(ctx, kubeconfig); err != nil {
				klog.ErrorS(err, "pod readiness simulator stopped")
			}
		}()
	}
	fmt.Printf("READY kubeconfig=%s server=%s name=%s version=%s pid=%d\n",
		kubeconfig, ports.apiServerURL(), o.name, version, os.Getpid())

	select {
	case err := <-apiDone:
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("kube-apiserver: %w", err)
		}
	case <-ctx.Done():
		// Give the API server its graceful shutdown, but do not hang forever on it.
		select {
		case <-apiDone:
		case <-time.After(20 * time.Second):
		}
	}
	return nil
}

// shutDownWhenStdinCloses sends this process SIGTERM once standard input reaches EOF, so the
// API server's own signal handling performs the graceful shutdown.
func shutDownWhenStdinCloses() {
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
}

// waitReady polls /readyz with the admin credential until it answers ok and returns the
// server's git version.
func waitReady(ctx context.Context, kubeconfig string, apiDone <-chan error, timeout time.Duration) (string, error) {
	client, err := clientFor(kubeconfig)
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case err := <-apiDone:
			return "", fmt.Errorf("kube-apiserver exited: %v", err)
		case <-ctx.Done():
			return "", ctx.Err()
		default:
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			v, err := client.Discovery().ServerVersion()
			if err != nil {
				return "", err
			}
			return v.GitVersion, nil
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("timed out after %s: %v", timeout, lastErr)
}
