package server

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provex/provex/federation"
	"github.com/provex/provex/internal/testlog"
)

// TestExpiryIsLoggedWhileTheNodeRuns: a running node says in its log when
// its manifest comes within ExpiryWarning of its expiry, and when it is
// past its grace, as the state changes, without a restart.
func TestExpiryIsLoggedWhileTheNodeRuns(t *testing.T) {
	m, _, fedKey, err := federation.DevFederationKey([]string{"cao-bang", "mofa"}, []string{"localhost:1", "localhost:2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.Issued = time.Now().Add(-time.Hour).Truncate(time.Second)
	m.Expires = time.Now().Add(24 * time.Hour).Truncate(time.Second)
	if err := m.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	_, waitLog := watchingExpiry(t, m, 5*time.Millisecond)
	waitLog("level=WARN msg=\"the federation manifest (serial 1) expires at")
	// A node on a manifest past its grace (a newer one past it is no
	// longer taken from a node on a current one: federation.Accept).
	stale := *m
	stale.Serial = 2
	stale.Issued, stale.Expires = m.Issued.Add(-30*24*time.Hour), m.Issued.Add(-federation.ExpiryGrace-time.Hour)
	if err := stale.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	n, waitLog := watchingExpiry(t, &stale, 5*time.Millisecond)
	waitLog("level=ERROR msg=\"the federation manifest (serial 2) expired at")
	waitLog("sync has stopped")
	fresh := *m
	fresh.Serial = 3
	fresh.Expires = time.Now().AddDate(1, 0, 0).Truncate(time.Second)
	if err := fresh.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	if err := n.manifest.Offer(&fresh); err != nil {
		t.Fatal(err)
	}
	waitLog("msg=\"the federation manifest is current\" serial=3")
}

// TestExpiryIsLoggedAsSoonAsItComes: with the node looking only once an
// hour, a manifest taken within its warning window is warned of at once,
// and its expiry is logged when it comes; a node that looked once a minute
// warned of a manifest valid 40 s only after it had expired, or not at all
// (an outside review with six nodes).
func TestExpiryIsLoggedAsSoonAsItComes(t *testing.T) {
	m, _, fedKey, err := federation.DevFederationKey([]string{"cao-bang", "mofa"}, []string{"localhost:1", "localhost:2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.Expires = time.Now().Add(24 * time.Hour).Truncate(time.Second)
	if err := m.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	n, waitLog := watchingExpiry(t, m, time.Hour)
	// Its first look, after it has registered for changes.
	waitLog("the federation manifest (serial 1) expires at")
	offer := func(serial int, expires time.Time) {
		t.Helper()
		next := *m
		next.Serial, next.Expires = serial, expires
		if err := next.Sign(fedKey); err != nil {
			t.Fatal(err)
		}
		if err := n.manifest.Offer(&next); err != nil {
			t.Fatal(err)
		}
	}
	offer(2, time.Now().AddDate(1, 0, 0).Truncate(time.Second))
	waitLog("msg=\"the federation manifest is current\" serial=2")
	expires := time.Now().Add(3 * time.Second).Truncate(time.Millisecond)
	offer(3, expires)
	waitLog("the federation manifest (serial 3) expires at")
	if time.Now().After(expires) {
		t.Fatal("warned of only after the expiry")
	}
	waitLog("the federation manifest (serial 3) expired at")
}

// TestRefusedManifestFileIsOfferedAgain: a newer manifest in the node's
// file that the node refused (its save hook refuses the first offer, as
// keepsLogsVerifiable does until a new key's checkpoint has arrived) is
// offered again while the file stays as it is, and taken once it may be;
// one the node will never take (not signed with the federation key) is
// refused once, not again at every retry.
func TestRefusedManifestFileIsOfferedAgain(t *testing.T) {
	m, _, fedKey, err := federation.DevFederationKey([]string{"cao-bang", "mofa"}, []string{"localhost:1", "localhost:2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	next := *m
	next.Serial = 2
	if err := next.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	wasRetry, wasPoll := manifestRetryEvery, manifestPollInterval
	manifestRetryEvery, manifestPollInterval = 20*time.Millisecond, 2*time.Millisecond
	defer func() { manifestRetryEvery, manifestPollInterval = wasRetry, wasPoll }()
	var offers atomic.Int32
	var logs testlog.Buffer
	n := &Node{log: slog.New(slog.NewTextHandler(&logs, nil)), manifest: federation.NewLive(m, func(*federation.Manifest) error {
		if offers.Add(1) == 1 {
			return errors.New("not yet")
		}
		return nil
	})}
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// Written before the watch begins, as when the file changes between
	// the node's start and the watch's first look: it is still taken (it
	// was taken for the file the node started on, when the watch's first
	// look came after it, one CI run in many).
	if err := next.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	go func() { n.watchManifest(ctx, path); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for n.manifest.Load().Serial != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("serial 2 in the file not taken after its refusal (%d offers):\n%s", offers.Load(), logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "not yet") {
		t.Errorf("the refusal was not logged:\n%s", logs.String())
	}

	forged, honest := *m, *m
	forged.Serial, honest.Serial = 3, 3
	_, _, otherKey, _ := federation.DevFederationKey([]string{"cao-bang"}, []string{"localhost:1"}, time.Now())
	if err := forged.Sign(otherKey); err != nil {
		t.Fatal(err)
	}
	if err := forged.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	const forgedRefused = "refused the federation manifest in its file"
	deadline = time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), forgedRefused) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the forged manifest's refusal was not logged:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Fifteen retry periods: a node that offered it again would have
	// refused it as many times.
	time.Sleep(15 * manifestRetryEvery)
	if got := strings.Count(logs.String(), forgedRefused); got != 2 {
		t.Errorf("%d refusals logged, want 2 (serial 2 once, the forged serial 3 once):\n%s", got, logs.String())
	}
	if err := honest.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	if err := honest.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	for n.manifest.Load().Serial != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("serial 3, signed with the federation key, not taken after a forged one:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Another manifest signed with serial 3, from a second copy of the
	// master: kept out, and said, not taken for the one in use.
	other := honest
	other.Members = other.Members[:1]
	if err := other.Sign(fedKey); err != nil {
		t.Fatal(err)
	}
	if err := other.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	const sameSerial = "it has the serial of the one in use but other content"
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), sameSerial) {
		if time.Now().After(deadline) {
			t.Fatalf("another manifest of serial 3 was not told:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := n.manifest.Load(); len(got.Members) != 2 {
		t.Errorf("the node moved to the other manifest of serial 3: %v", got.MemberIDs())
	}
	// The one in use, written again, is not.
	if err := honest.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(15 * manifestPollInterval)
	if got := strings.Count(logs.String(), sameSerial); got != 1 {
		t.Errorf("%d lines about another manifest of serial 3, want 1:\n%s", got, logs.String())
	}
}

// watchingExpiry runs a node's watchExpiry on m, looking every interval,
// until the test ends, and returns the node and a wait for a line of its
// log holding a text.
func watchingExpiry(t *testing.T, m *federation.Manifest, interval time.Duration) (*Node, func(string)) {
	var logs testlog.Buffer
	n := &Node{manifest: federation.NewLive(m, nil), log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.watchExpiry(ctx, interval); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return n, func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no log line with %q in:\n%s", want, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
