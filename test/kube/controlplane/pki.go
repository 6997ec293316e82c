package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// runPKI writes a fresh certificate authority and every key pair the test
// control plane needs into dir: the API server's serving certificate (valid for
// 127.0.0.1 and the in-cluster names), client certificates for the admin, the
// controller manager, the scheduler and kwok, one expired admin certificate
// (to test how platformctl reports it), and the service-account signing key.
// Each run makes new keys, so no credential outlives the temp directory.
func runPKI(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kube-controlplane pki <dir>")
		return 2
	}
	if err := writePKI(args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "pki:", err)
		return 1
	}
	return 0
}

type pair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func writePKI(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	ca, err := issue(nil, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "platformctl-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	})
	if err != nil {
		return err
	}
	if err := save(dir, "ca", ca); err != nil {
		return err
	}
	leaf := func(name string, cn string, orgs []string, usage x509.ExtKeyUsage, notAfter time.Time) error {
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: cn, Organization: orgs},
			NotBefore:   now.Add(-2 * time.Hour),
			NotAfter:    notAfter,
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}
		}
		p, err := issue(ca, tmpl)
		if err != nil {
			return err
		}
		return save(dir, name, p)
	}
	week := now.Add(7 * 24 * time.Hour)
	steps := []error{
		leaf("apiserver", "kube-apiserver", nil, x509.ExtKeyUsageServerAuth, week),
		leaf("etcd", "etcd", nil, x509.ExtKeyUsageServerAuth, week),
		leaf("admin", "platformctl-admin", []string{"system:masters"}, x509.ExtKeyUsageClientAuth, week),
		leaf("controller-manager", "system:kube-controller-manager", nil, x509.ExtKeyUsageClientAuth, week),
		leaf("scheduler", "system:kube-scheduler", nil, x509.ExtKeyUsageClientAuth, week),
		leaf("kwok", "kwok", []string{"system:masters"}, x509.ExtKeyUsageClientAuth, week),
		leaf("expired", "platformctl-admin", []string{"system:masters"}, x509.ExtKeyUsageClientAuth, now.Add(-time.Hour)),
	}
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, "sa.key"), sa); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(sa.Public())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

// issue signs tmpl with the parent (or itself when parent is nil).
func issue(parent *pair, tmpl *x509.Certificate) (*pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	signer, signerCert := crypto.Signer(key), tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &pair{cert: cert, key: key}, nil
}

func save(dir, name string, p *pair) error {
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw})
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), crt, 0o600); err != nil {
		return err
	}
	return writeKey(filepath.Join(dir, name+".key"), p.key)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}
