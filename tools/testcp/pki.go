package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// clusterPKI holds the paths of the generated credentials of one control plane.
type clusterPKI struct {
	dir string
}

func (p clusterPKI) path(name string) string { return filepath.Join(p.dir, name) }

func (p clusterPKI) caCert() string      { return p.path("ca.crt") }
func (p clusterPKI) caKey() string       { return p.path("ca.key") }
func (p clusterPKI) servingCert() string { return p.path("apiserver.crt") }
func (p clusterPKI) servingKey() string  { return p.path("apiserver.key") }
func (p clusterPKI) adminCert() string   { return p.path("admin.crt") }
func (p clusterPKI) adminKey() string    { return p.path("admin.key") }
func (p clusterPKI) saKey() string       { return p.path("sa.key") }
func (p clusterPKI) saPub() string       { return p.path("sa.pub") }

const certValidity = 10 * 365 * 24 * time.Hour

// loadOrCreatePKI generates a CA, a serving certificate for 127.0.0.1/localhost, an admin
// client certificate (group system:masters) and a service-account signing key, unless a
// previous start on the same directory already did.
func loadOrCreatePKI(dir string) (clusterPKI, error) {
	p := clusterPKI{dir: dir}
	if _, err := os.Stat(p.saPub()); err == nil {
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return p, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, err
	}
	caKey, err := newKey()
	if err != nil {
		return p, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "testcp-ca"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := sign(caTmpl, caTmpl, caKey, caKey)
	if err != nil {
		return p, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	if err := writeCertAndKey(p.caCert(), p.caKey(), caDER, caKey); err != nil {
		return p, err
	}

	servingKey, err := newKey()
	if err != nil {
		return p, err
	}
	servingDER, err := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, servingKey, caKey)
	if err != nil {
		return p, err
	}
	if err := writeCertAndKey(p.servingCert(), p.servingKey(), servingDER, servingKey); err != nil {
		return p, err
	}

	adminKey, err := newKey()
	if err != nil {
		return p, err
	}
	adminDER, err := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "testcp-admin", Organization: []string{"system:masters"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, adminKey, caKey)
	if err != nil {
		return p, err
	}
	if err := writeCertAndKey(p.adminCert(), p.adminKey(), adminDER, adminKey); err != nil {
		return p, err
	}

	saKey, err := newKey()
	if err != nil {
		return p, err
	}
	if err := writeKey(p.saKey(), saKey); err != nil {
		return p, err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return p, err
	}
	// Written last: its presence marks a complete set (see the check at the top).
	return p, os.WriteFile(p.saPub(), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func sign(tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, parentKey crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(certValidity)
	return x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
}

func writeCertAndKey(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeKey(keyPath, key)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}
