package testbed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCA is a private certificate authority made for one test, and the
// server certificate it signed for 127.0.0.1 and localhost.
type TestCA struct {
	CAFile   string // the CA's certificate, PEM: what s3_ca_file names
	CertFile string // the server's certificate, PEM
	KeyFile  string // the server's private key, PEM (PKCS #8)
	Pool     *x509.CertPool
}

// NewTestCA writes a fresh CA and a server certificate into dir: ca.crt,
// public.crt and private.key (the names MinIO's --certs-dir wants).
func NewTestCA(t testing.TB, dir string) *TestCA {
	t.Helper()
	caKey, caCert := newCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "mysqlbackup test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, nil)
	srvKey, srvCert := newCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, caCert, caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	ca := &TestCA{CAFile: filepath.Join(dir, "ca.crt"), CertFile: filepath.Join(dir, "public.crt"), KeyFile: filepath.Join(dir, "private.key"), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(caCert)
	writePEM(t, ca.CAFile, "CERTIFICATE", caCert.Raw)
	writePEM(t, ca.CertFile, "CERTIFICATE", srvCert.Raw)
	writePEM(t, ca.KeyFile, "PRIVATE KEY", keyDER)
	return ca
}

// newCert makes a key and a certificate of tmpl valid for a day, signed by
// parent (nil: self-signed).
func newCert(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// healthClient is the client that asks the server whether it is up.
func (m *MinIO) healthClient() *http.Client {
	c := &http.Client{Timeout: 2 * time.Second}
	if m.CA != nil {
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: m.CA.Pool}}
	}
	return c
}
