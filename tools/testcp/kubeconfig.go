package main

import (
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes an admin kubeconfig whose cluster, user and context are all named
// after the cluster, so that several of them merge into one file without clashes.
func writeKubeconfig(path, name, server string, pki clusterPKI) error {
	ca, err := os.ReadFile(pki.caCert())
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(pki.adminCert())
	if err != nil {
		return err
	}
	key, err := os.ReadFile(pki.adminKey())
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}

func clientFor(kubeconfig string) (*kubernetes.Clientset, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS = 100
	rc.Burst = 200
	return kubernetes.NewForConfig(rc)
}
