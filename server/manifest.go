package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/provex/provex/federation"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// ownKeys returns the private key the node signs with under manifest m:
// the one whose public half m names for member. A key rotated into the key
// file while the node ran (provex keygen --rotate) is read from keyFile, and
// keys is updated. It fails when m does not list member, or names keys the
// node does not hold: a manifest the node cannot work with.
func ownKeys(m *federation.Manifest, member string, keys *federation.NodeKeys, keyFile string) (ed25519.PrivateKey, error) {
	self, ok := m.Member(member)
	if !ok {
		return nil, fmt.Errorf("member %q is not in the federation manifest (serial %d)", member, m.Serial)
	}
	key, ok := keys.SigningKeyFor(self.PublicKey)
	if (!ok || !keys.HasEncryptionKey(self.EncryptionKey)) && keyFile != "" {
		if fresh, err := federation.ReadKeyFile(keyFile); err == nil {
			*keys = fresh
			key, ok = keys.SigningKeyFor(self.PublicKey)
		}
	}
	switch {
	case !ok:
		return nil, fmt.Errorf("the node key does not match %s's public key in the federation manifest (serial %d); if the member's keys were rotated, the node's key file must hold the new ones (provex keygen --rotate)", member, m.Serial)
	case !keys.HasEncryptionKey(self.EncryptionKey):
		return nil, fmt.Errorf("none of the node's encryption keys matches %s's encryption_key in the federation manifest (serial %d)", member, m.Serial)
	}
	return key, nil
}

// keepsLogsVerifiable refuses a manifest under whose keys a log the node
// holds would no longer verify: one that lists a member without the key
// that signed the newest checkpoint held of its log (a removed member
// added back under new keys alone). Taken, it would make every node drop
// that log's checkpoints as forged and repair the range from peers, which
// could bring entries of another history in its place. A rotation keeps
// the old key among the member's previous keys, and the member signs its
// head with the new one at once; a manifest that then drops the old key
// is taken once that checkpoint has arrived. current is the manifest the
// node runs on (nil if none): when it lists the member under the key that
// signed that checkpoint, the node missed the rotation, and the refusal
// says to give it the rotation's manifest first; when it lists that key
// as retired, the new key's checkpoint has yet to come, and it says so.
func keepsLogsVerifiable(ctx context.Context, store storage.Store, current, m *federation.Manifest) error {
	for _, id := range m.MemberIDs() {
		cp, err := store.Checkpoint(ctx, id, math.MaxInt64)
		if err != nil {
			return err
		}
		if cp.Seq == 0 {
			continue
		}
		if keys, _ := m.SigningKeys(id); cp.Verify(keys...) {
			continue
		}
		refused := fmt.Sprintf("manifest serial %d lists %s without the key that signed the newest checkpoint of its log this node holds (%s/%d): its log would no longer verify", m.Serial, id, id, cp.Seq)
		var held federation.Member
		if current != nil {
			held, _ = current.Member(id)
		}
		switch {
		case held.ID == "":
		case cp.Verify(held.PublicKey):
			return fmt.Errorf("%s; this node's manifest (serial %d) lists %s under that key: the node missed a rotation of %s's key, and serial %d drops the old key. Give it the manifest of that rotation first (the one listing the old key among %s's previous_public_keys; provex manifest keeps each manifest it replaces beside the file, as manifest.serial-N.yaml), then this one",
				refused, current.Serial, id, id, m.Serial, id)
		case cp.Verify(held.PreviousPublicKeys...):
			return fmt.Errorf("%s; this node's manifest (serial %d) lists that key as %s's retired one: the checkpoint of its new key has not reached this node yet. It comes with the next pull from %s or a peer holding it, and the manifest is taken then",
				refused, current.Serial, id, id)
		}
		return fmt.Errorf("%s; bring a member back with its old key, or its new one with the old among its previous_public_keys (provex manifest add with its old entry, then provex manifest rotate)", refused)
	}
	return nil
}

// keepManifest is what a node, serving or restoring, does with a newer
// signed manifest before it takes effect: it refuses one naming keys of
// its own its key file lacks (it could not sign what peers accept) or
// under which a log it holds would no longer verify, and saves the others
// in its store, so that a restart keeps them.
//
// A manifest that gives the node a signing key its key file lacks also
// holds the node's writes until a restart: the federation replaced the key
// the node runs on (its data directory and key file are a backup from
// before a rotation, say). Its peers' checkpoints of its log, signed with
// the new key, verify with no key it knows, so it never learned it was
// behind them, and wrote on under seqs they hold other entries of, forking
// its log (an outside review). Such a manifest is signed by the federation
// key and newer (Accept checked both), unlike a checkpoint no known key
// verifies, which anyone could make up and which is only logged.
func keepManifest(ctx context.Context, cfg *Config, store *sqlstore.DB, current, m *federation.Manifest) error {
	if _, err := ownKeys(m, cfg.Member, &cfg.Keys, cfg.KeyFile); err != nil {
		if self, listed := m.Member(cfg.Member); listed {
			if _, holds := cfg.Keys.SigningKeyFor(self.PublicKey); !holds {
				store.HoldWrites(fmt.Sprintf("the federation manifest serial %d gives %s a signing key this node's key file does not hold: the node runs on a key the federation replaced "+
					"(its data directory and key file are from before a rotation of its key), and writing on could fork its log. Stop it, put its current key file in place "+
					"(the one provex keygen --rotate wrote, which holds its old keys too) and start it again: it then takes that manifest and gets back from its peers the entries it lacks", m.Serial, cfg.Member))
			}
		}
		return err
	}
	if err := keepsLogsVerifiable(ctx, store, current, m); err != nil {
		return err
	}
	return store.SaveManifest(ctx, m)
}

// takeSavedManifest makes cfg's manifest the one the node saved when that
// is newer than the signed one given (the node took it through sync since
// the file was written), and returns the saved one (nil if none): the
// node's own keys, and the signatures its store checks when it opens, are
// those of the newest manifest, not of an older file.
func takeSavedManifest(ctx context.Context, cfg *Config) (*federation.Manifest, error) {
	if cfg.Manifest.Signature == nil {
		return nil, nil
	}
	stored, err := sqlstore.ReadSavedManifest(ctx, cfg.storeLocation())
	if err != nil {
		return nil, err
	}
	newest, err := federation.Newest(stored, cfg.Manifest)
	if err != nil {
		return nil, err
	}
	switch {
	case newest.Serial > cfg.Manifest.Serial:
		cfg.Logger.Info("using the newer federation manifest the node took through sync", "serial", newest.Serial, "given", cfg.Manifest.Serial)
	case newest != cfg.Manifest && !bytes.Equal(newest.Digest(), cfg.Manifest.Digest()):
		cfg.Logger.Error("using the federation manifest the node saved, not its file: the file has its serial but other content", "serial", newest.Serial, "do", federation.OneSerialAdvice(newest.Serial))
	}
	cfg.Manifest = newest
	return stored, nil
}

// checkTakenAtStart applies keepsLogsVerifiable to a manifest file newer
// than the one the node saved (stored, nil if none), which the node is
// about to take; a data directory without one (made elsewhere) has what
// its logs hold of other keys found as damage by its checks, and
// repaired from peers.
func checkTakenAtStart(ctx context.Context, store storage.Store, stored, given *federation.Manifest) error {
	if stored == nil || given.Serial <= stored.Serial {
		return nil
	}
	if err := keepsLogsVerifiable(ctx, store, stored, given); err != nil {
		return fmt.Errorf("%w; the node holds serial %d: start it on that one, or, if a member rotated its keys and a later manifest dropped the old one, on the manifest of that rotation first", err, stored.Serial)
	}
	return nil
}

// signHeadsWithNewKey signs the heads of the node's log and audit trail
// with key when a rotation was taken at start (the file names the node's
// new key), as one taken while it runs does (OnChange): until then a
// manifest that drops the old key would find them signed by a key it no
// longer lists. Only a head its checkpoint proves as it is, with a key the
// manifest lists for the node, is signed again: one rewritten on disk
// while the node was stopped must be found by its checks, not vouched for
// with the new key. (The audit trail's head was checked when the store
// opened, and its saved manifest by federation.Newest.)
func signHeadsWithNewKey(ctx context.Context, store *sqlstore.DB, m *federation.Manifest, member string, key ed25519.PrivateKey) error {
	head, err := store.Head(ctx)
	if err != nil || head.Seq == 0 {
		// Without a log of its own, the audit trail's head is signed with
		// the new key at its next commit, as before.
		return err
	}
	cp, err := store.Checkpoint(ctx, member, head.Seq)
	if err != nil {
		return err
	}
	keys, _ := m.SigningKeys(member)
	if cp.Seq != head.Seq || !bytes.Equal(cp.Hash, head.Hash) || cp.Verify(key.Public().(ed25519.PublicKey)) || !cp.Verify(keys...) {
		return nil
	}
	return store.UseKeys(ctx, key, nil)
}

// manifestPollInterval is how often the node looks at its manifest file
// for a newer one (a variable for tests).
var manifestPollInterval = time.Second

// watchManifest takes a newer signed manifest written to path while the
// node runs: it is checked like one from a peer (signed by the federation
// key the node trusts, a higher serial), takes effect, and is passed on to
// the peers. Until ctx ends.
func (n *Node) watchManifest(ctx context.Context, path string) {
	// The first look reads the file whatever it holds: one changed between
	// the node's start, which read it, and this watch's first look was
	// otherwise taken for the one read (a test found it, one run in a
	// loaded CI). A file older than the manifest the node uses is said
	// only when it changes.
	var last os.FileInfo
	first := true
	// retry is when to offer a newer manifest the file holds again, once
	// refused: one that drops a retired key is taken once the new key's
	// checkpoint has arrived (keepsLogsVerifiable). Zero: not again.
	var retry time.Time
	ticker := time.NewTicker(manifestPollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		fi, err := os.Stat(path)
		unchanged := err == nil && last != nil && fi.ModTime().Equal(last.ModTime()) && fi.Size() == last.Size()
		if err != nil || unchanged && (retry.IsZero() || time.Now().Before(retry)) {
			continue
		}
		last, retry = fi, time.Time{}
		m, err := federation.LoadManifest(path)
		if err == nil {
			err = n.manifest.Offer(m)
		}
		switch {
		case err == nil:
			n.log.Info("took the newer federation manifest from its file", "file", path, "serial", m.Serial)
		case errors.Is(err, federation.ErrNotNewer) && m.Serial == n.manifest.Load().Serial && !bytes.Equal(m.Digest(), n.manifest.Load().Digest()):
			// Two manifests signed with one serial: the node keeps the one
			// it uses, and neither ever wins by serial.
			n.log.Error("refused the federation manifest in its file: it has the serial of the one in use but other content", "file", path, "serial", m.Serial, "do", federation.OneSerialAdvice(m.Serial))
		case errors.Is(err, federation.ErrNotNewer) && (first || m.Serial == n.manifest.Load().Serial):
			// The file holds the manifest the node already uses, or, at
			// the first look, one it took a newer one than from a peer.
		default:
			// An older serial is refused too, and said: someone gave the
			// node a manifest it will never take. So is a forged one, once
			// while the file stays as it is; only one the node did not keep
			// (its logs' checkpoints not yet of the keys it lists) is
			// offered again.
			n.log.Warn("refused the federation manifest in its file", "file", path, "err", err)
			if errors.Is(err, federation.ErrNotKept) {
				retry = time.Now().Add(manifestRetryEvery)
			}
		}
		first = false
	}
}

// manifestRetryEvery is how often a node offers itself again a newer
// manifest file it refused, while the file stays as it is (a variable for
// tests).
var manifestRetryEvery = 30 * time.Second

// expiryLogEvery is how often a node repeats its warning about a manifest
// near or past its expiry; a change of state is logged at once.
const expiryLogEvery = 24 * time.Hour

// watchExpiry logs where the manifest stands against its expiry
// (federation.ExpiryWarning, ExpiryGrace) when that changes, and again daily
// while it is not fresh, until ctx ends. It looks again every interval, as
// soon as the manifest changes, and when the next of those times comes: a
// manifest taken from a peer already within its warning window was warned
// of only at the next interval, by when a short-lived one had expired (an
// outside review: 1 of 6 nodes warned of a manifest valid 40 s).
func (n *Node) watchExpiry(ctx context.Context, interval time.Duration) {
	changed := make(chan struct{}, 1)
	n.manifest.OnChange(func(*federation.Manifest) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	last, lastLogged := federation.Fresh, time.Time{}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		m := n.manifest.Load()
		now := time.Now()
		f, msg := m.Freshness(now)
		if f != last || f != federation.Fresh && now.Sub(lastLogged) >= expiryLogEvery {
			switch f {
			case federation.Fresh:
				n.log.Info("the federation manifest is current", "serial", m.Serial, "expires", m.Expires)
			case federation.Stale:
				n.log.Error(msg, "serial", m.Serial, "expires", m.Expires)
			default:
				n.log.Warn(msg, "serial", m.Serial, "expires", m.Expires)
			}
			last, lastLogged = f, now
		}
		wait := interval
		if !m.Expires.IsZero() {
			for _, at := range []time.Time{m.Expires.Add(-federation.ExpiryWarning), m.Expires, m.Expires.Add(federation.ExpiryGrace)} {
				if d := at.Sub(now); d > 0 && d < wait {
					// Just past it, so that Freshness (After) finds it crossed.
					wait = d + time.Millisecond
				}
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-timer.C:
		}
	}
}

// caRoots returns the federation CA pool of the manifest in effect, parsed
// once per manifest: mutual TLS takes a new CA without a restart.
func caRoots(live *federation.Live) func() *x509.CertPool {
	var (
		mu   sync.Mutex
		from *federation.Manifest
		pool *x509.CertPool
	)
	return func() *x509.CertPool {
		mu.Lock()
		defer mu.Unlock()
		if m := live.Load(); m != from {
			from = m
			pool, _ = m.CAPool() // nil, trusting nothing, for a manifest without a CA
		}
		return pool
	}
}

// OfferManifest gives the node a newer signed manifest, as its file or a
// peer would: it takes effect only if the federation key the node trusts
// signed it and its serial is higher (federation.ErrNotNewer otherwise),
// and then travels to the peers.
func (n *Node) OfferManifest(m *federation.Manifest) error { return n.manifest.Offer(m) }

// Manifest is the manifest the node uses now.
func (n *Node) Manifest() *federation.Manifest { return n.manifest.Load() }
