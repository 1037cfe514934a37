package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// newAPIServerCommand prepares kube-apiserver to run in this process. Building the command
// installs the process's only SIGTERM/SIGINT handler; cmd.Context() ends on the first signal
// and a second signal exits at once.
func newAPIServerCommand(dir string, pki clusterPKI, ports clusterPorts) *cobra.Command {
	cmd := app.NewAPIServerCommand()
	cmd.SetArgs([]string{
		"--etcd-servers=" + etcdURL(ports),
		"--etcd-prefix=/registry",
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports.APIServer),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + pki.servingCert(),
		"--tls-private-key-file=" + pki.servingKey(),
		"--client-ca-file=" + pki.caCert(),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki.saPub(),
		"--service-account-signing-key-file=" + pki.saKey(),
		"--service-cluster-ip-range=10.96.0.0/16",
		// No kubelets or nodes here: the kubernetes Service's endpoints would point at a
		// loopback address the API rejects.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--event-ttl=15m",
	})
	return cmd
}
