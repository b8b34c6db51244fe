package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeMetricsAddr: serve takes metrics_addr from its config file and
// --metrics-addr over it, serves /metrics there without a token, and not
// on the HTTP listener.
func TestServeMetricsAddr(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "node.yaml")
	// Port 1 cannot be bound by a test: serve would fail if the flag did
	// not override the file.
	if err := os.WriteFile(config, []byte("metrics_addr: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, bin, "serve", "--config", config, "--member", "cao-bang", "--data", filepath.Join(dir, "data"), "--dev",
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	metricsAddr := ""
	p.mu.Lock()
	for _, l := range p.logs {
		var line struct{ Msg, Metrics string }
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "node serving" {
			metricsAddr = line.Metrics
		}
	}
	p.mu.Unlock()
	if metricsAddr == "" || strings.HasSuffix(metricsAddr, ":1") {
		t.Fatalf("the node serves its metrics at %q", metricsAddr)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "provex_audit_chain_length") {
		t.Errorf("GET /metrics on --metrics-addr without a token: HTTP %d\n%.300s", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + p.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the HTTP listener with --metrics-addr: HTTP %d, want 404", resp.StatusCode)
	}
}

// TestServeConfigTypoIsNamed: a misspelt key in serve's config file stops
// it with the key, the one it was probably meant to be, and the file, in
// the file's own terms.
func TestServeConfigTypoIsNamed(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "node.yaml")
	if err := os.WriteFile(config, []byte("metrics_adr: 127.0.0.1:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, bin, "", "", "serve", "--config", config, "--member", "cao-bang", "--data", filepath.Join(dir, "data"), "--dev")
	want := "provex: config " + config + `: line 1: unknown field "metrics_adr" (did you mean metrics_addr?)`
	if code != 1 || strings.TrimSpace(stderr) != want {
		t.Errorf("serve with a misspelt config key: exit %d, %q; want %q", code, stderr, want)
	}
}
