package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
)

// clusterPorts are the loopback ports of one control plane. They are chosen once and kept in
// the data directory so that a restart on the same directory keeps its address.
type clusterPorts struct {
	APIServer  int `json:"apiServer"`
	EtcdClient int `json:"etcdClient"`
	EtcdPeer   int `json:"etcdPeer"`
}

func (p clusterPorts) apiServerURL() string {
	return fmt.Sprintf("https://127.0.0.1:%d", p.APIServer)
}

func loadOrPickPorts(path string) (clusterPorts, error) {
	var p clusterPorts
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &p); err != nil {
			return p, fmt.Errorf("%s: %w", path, err)
		}
		return p, nil
	case !errors.Is(err, os.ErrNotExist):
		return p, err
	}
	free, err := freePorts(3)
	if err != nil {
		return p, err
	}
	p = clusterPorts{APIServer: free[0], EtcdClient: free[1], EtcdPeer: free[2]}
	data, err = json.Marshal(p)
	if err != nil {
		return p, err
	}
	return p, os.WriteFile(path, data, 0o600)
}

// freePorts asks the kernel for n distinct free loopback ports. All listeners are held open
// until every port is known, so the same port is never handed out twice in one call.
func freePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
