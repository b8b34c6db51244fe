package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/provex/provex/client/cli"
	"github.com/provex/provex/pki"
)

func runCATest(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = caCommand.Run(context.Background(), &cli.Env{Stdout: &o, Stderr: &e}, args)
	return o.String(), e.String(), err
}

func TestCAInitAndIssue(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	out, errOut, err := runCATest(t, "init", "--dir", caDir, "--validity", "87600h")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, filepath.Join(caDir, "ca.pem")) || !strings.Contains(errOut, "manifest") {
		t.Errorf("init said:\n%s", errOut)
	}
	if !strings.HasPrefix(out, "ca: |\n  -----BEGIN CERTIFICATE-----\n") {
		t.Errorf("init printed:\n%s", out)
	}
	ca, err := pki.LoadCA(caDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCATest(t, "init", "--dir", caDir); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second init: %v", err)
	}

	nodeDir := filepath.Join(t.TempDir(), "cao-bang")
	out, errOut, err = runCATest(t, "issue", "--member", "cao-bang", "--ca-dir", caDir, "--out", nodeDir, "--host", "cao-bang.example, 10.0.0.5", "--validity", "720h")
	if err != nil {
		t.Fatal(err)
	}
	// 30 days fit well inside the CA's ten years.
	if strings.Contains(errOut, "expires with the CA") {
		t.Errorf("issue of 720h under a CA of ten years says:\n%s", errOut)
	}
	if _, errOut, err := runCATest(t, "issue", "--member", "nghe-an", "--ca-dir", caDir, "--out", filepath.Join(t.TempDir(), "nghe-an"), "--validity", "876000h"); err != nil || !strings.Contains(errOut, "expires with the CA") {
		t.Errorf("issue of a hundred years under a CA of ten: %v, said:\n%s", err, errOut)
	}
	for _, want := range []string{"member:  cao-bang\n", "serial:  ", "expires: ", "hosts:   cao-bang.example,10.0.0.5\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("issue output lacks %q:\n%s", want, out)
		}
	}
	cert, err := pki.LoadNodeCert(nodeDir)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := pki.MemberOf(cert.Leaf); err != nil || m != "cao-bang" {
		t.Fatalf("member = %q, %v", m, err)
	}
	roots, err := pki.CertPool(ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "cao-bang.example", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("issued certificate does not verify: %v", err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(nodeDir, pki.NodeKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("tls.key mode %o", fi.Mode().Perm())
		}
	}

	// Renewing the same member is fine; replacing another's needs --force.
	if _, _, err := runCATest(t, "issue", "--member", "cao-bang", "--ca-dir", caDir, "--out", nodeDir); err != nil {
		t.Fatalf("renewal: %v", err)
	}
	if _, _, err := runCATest(t, "issue", "--member", "nghe-an", "--ca-dir", caDir, "--out", nodeDir); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("replacing another member's certificate: %v", err)
	}
	if _, _, err := runCATest(t, "issue", "--member", "nghe-an", "--ca-dir", caDir, "--out", nodeDir, "--force"); err != nil {
		t.Fatal(err)
	}
	if c, _ := pki.LoadNodeCert(nodeDir); c.Leaf == nil || c.Leaf.Subject.CommonName != "nghe-an" {
		t.Fatal("--force did not replace the certificate")
	}
}

func TestRunCA(t *testing.T) {
	dir := t.TempDir()
	// runCA prints to the process's stdout; silence it.
	stdout, stderr := os.Stdout, os.Stderr
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout, os.Stderr = devnull, devnull
	err = runCA([]string{"init", "--dir", dir})
	os.Stdout, os.Stderr = stdout, stderr
	devnull.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.LoadCA(dir); err != nil {
		t.Fatal(err)
	}
}

func TestCAUsageErrors(t *testing.T) {
	caDir := t.TempDir()
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"init", "--bogus"},
		{"init", "extra"},
		{"init", "--validity", "-1h"},
		{"init", "--validity", "ten years"},
		{"issue", "--ca-dir", caDir},
		{"issue", "--member", "Cao-Bang", "--ca-dir", caDir},
		{"issue", "--member", "atlantis", "--ca-dir", caDir},
		{"issue", "--member", "cao-bang", "--validity", "0s", "--ca-dir", caDir},
	} {
		_, _, err := runCATest(t, args...)
		var ue *cli.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ca %q: %v, want a usage error", args, err)
		}
	}
	// A validity under an hour made a certificate expired, or soon, when
	// printed (an outside review).
	for _, args := range [][]string{
		{"init", "--dir", caDir, "--validity", "1ns"},
		{"init", "--dir", caDir, "--validity", "59m59s"},
		{"issue", "--member", "cao-bang", "--validity", "1ns", "--ca-dir", caDir},
	} {
		_, _, err := runCATest(t, args...)
		var ue *cli.UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "must be at least 1h0m0s") {
			t.Errorf("ca %q: %v, want a usage error saying at least 1h0m0s", args, err)
		}
	}
	if entries, _ := os.ReadDir(caDir); len(entries) != 0 {
		t.Errorf("a refused validity left files: %v", entries)
	}
	// Not usage errors, but errors: no CA there, bad host.
	if _, _, err := runCATest(t, "issue", "--member", "cao-bang", "--ca-dir", caDir, "--out", t.TempDir()); err == nil {
		t.Error("issue without a CA succeeded")
	}
	if _, _, err := runCATest(t, "init", "--dir", caDir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCATest(t, "issue", "--member", "cao-bang", "--ca-dir", caDir, "--out", t.TempDir(), "--host", "https://x"); err == nil {
		t.Error("issue with a URL as host succeeded")
	}
}
