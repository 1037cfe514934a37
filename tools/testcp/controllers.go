package main

import (
	kcm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

// controllerSubset is what member clusters need: Deployments roll out (with the pod
// simulator), namespaces are emptied and deleted, owner references are garbage-collected.
const controllerSubset = "deployment-controller,replicaset-controller,serviceaccount-controller," +
	"serviceaccount-token-controller,namespace-controller,garbage-collector-controller"

// runControllerManager runs the kube-controller-manager subset in this process. It does not
// stop on its own; the process exit ends it.
func runControllerManager(kubeconfig string, pki clusterPKI) error {
	cmd := kcm.NewControllerManagerCommand()
	cmd.SetArgs([]string{
		"--kubeconfig=" + kubeconfig,
		"--controllers=" + controllerSubset,
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file=" + pki.saKey(),
		"--root-ca-file=" + pki.caCert(),
		"--concurrent-gc-syncs=5",
	})
	return cmd.Execute()
}
