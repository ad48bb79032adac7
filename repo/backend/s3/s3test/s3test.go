// Package s3test starts S3 servers for tests: gofakes3 in-process (fast,
// plain http only) and a real versitygw process on a random port, over
// http or https with a certificate made for the test.
//
// versitygw is found on PATH (CI installs it into .tools/bin, see
// .ci/install-tools). Without it tests skip, except under CI=true, where
// its absence means the CI setup is broken and the test fails.
package s3test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	s3be "github.com/orgsnap/orgsnap/repo/backend/s3"
)

// Server is a running S3 server with one bucket.
type Server struct {
	// Config reaches the bucket; set Prefix to partition it.
	Config s3be.Config
	// DataDir is where versitygw keeps the bucket's objects as plain files
	// (empty for gofakes3), so a test can damage one.
	DataDir  string
	prefixes atomic.Int64
}

// NewBackend opens the server's bucket under a fresh prefix: an empty
// backend for each call.
func (s *Server) NewBackend(t testing.TB) *s3be.Backend {
	t.Helper()
	cfg := s.Config
	cfg.Prefix = fmt.Sprintf("t%d", s.prefixes.Add(1))
	b, err := s3be.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Fake starts gofakes3 in this process.
func Fake(t testing.TB) *Server {
	t.Helper()
	ts := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(ts.Close)
	s := &Server{Config: s3be.Config{
		Bucket: "orgsnap-test", Endpoint: ts.URL, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "fake", SecretAccessKey: "fakefakefake",
	}}
	s.createBucket(t)
	return s
}

// VersityPath returns the versitygw binary, skipping the test (or failing
// it under CI=true) when there is none.
func VersityPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("versitygw")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("versitygw is not on PATH under CI=true: .ci/install-tools should have installed it into .tools/bin")
	}
	t.Skip("versitygw not on PATH: install it with `GOBIN=$PWD/.tools/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0` and put .tools/bin on PATH")
	return ""
}

// Versity starts a versitygw process with the posix backend in a temporary
// directory, on a random port; with useTLS it serves https with a
// certificate for 127.0.0.1 made here, which only Config.HTTPClient trusts.
// The process is stopped when the test ends.
func Versity(t testing.TB, useTLS bool) *Server {
	t.Helper()
	bin := VersityPath(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	access, secret := randHex(8), randHex(20)
	args := []string{"--access", access, "--secret", secret, "--port", fmt.Sprintf("127.0.0.1:%d", port),
		"--health", "/health", "--quiet"}
	scheme := "http"
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if useTLS {
		certFile, keyFile, pool := selfSigned(t, dir)
		args = append(args, "--cert", certFile, "--key", keyFile)
		client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
		scheme = "https"
	}
	args = append(args, "posix", data)
	cmd := exec.Command(bin, args...)
	logFile, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	fail := func(format string, args ...any) {
		t.Helper()
		log, _ := os.ReadFile(logFile.Name())
		t.Fatalf(format+"\nversitygw output:\n%s", append(args, log)...)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	endpoint := fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			fail("versitygw exited at start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			fail("versitygw did not answer on %s/health within 20s: %v", endpoint, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := &Server{DataDir: data, Config: s3be.Config{
		Bucket: "orgsnap-test", Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: access, SecretAccessKey: secret, HTTPClient: client,
	}}
	s.createBucket(t)
	return s
}

func (s *Server) createBucket(t testing.TB) {
	t.Helper()
	b, err := s3be.Open(context.Background(), s.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s.Config.Bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "orgsnap test S3"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
