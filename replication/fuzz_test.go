package replication

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	"github.com/provex/provex/federation"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
)

// FuzzPullResponse feeds arbitrary bytes to what a node does first with a
// peer's Pull message: decode it, turn its entries and checkpoints into
// change-log values, and verify them. Nothing may panic; an entry that
// verifies must hash to its own Hash and survive the trip back to the wire.
func FuzzPullResponse(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	e := changelog.Entry{Origin: "cao-bang", Seq: 1, HLC: 42, Name: "provinces/cao-bang/agreements/a", Data: []byte("state"),
		PrevHash: changelog.ZeroHash}
	e.Hash = changelog.Sum(&e)
	cp := changelog.SignCheckpoint(priv, e.Origin, e.Seq, e.Hash)
	good, _ := proto.Marshal(&syncv1.PullResponse{Entries: []*syncv1.Entry{entryToProto(&e)}, Checkpoints: []*syncv1.Checkpoint{checkpointToProto(cp)}})
	f.Add(good)
	sealed := changelog.Entry{Origin: "cao-bang", Seq: 2, HLC: 43, Data: []byte("envelope"), Sealed: true, PrevHash: e.Hash}
	sealed.Hash = changelog.Sum(&sealed)
	withRepair, _ := proto.Marshal(&syncv1.PullResponse{Entries: []*syncv1.Entry{entryToProto(&sealed)},
		Repair: &syncv1.Repair{Entries: []*syncv1.Entry{entryToProto(&e)}, Checkpoint: checkpointToProto(cp)}})
	f.Add(withRepair)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp syncv1.PullResponse
		if proto.Unmarshal(data, &resp) != nil {
			return
		}
		for _, list := range [][]*syncv1.Entry{resp.GetEntries(), resp.GetRepair().GetEntries()} {
			for _, pe := range list {
				entry := entryFromProto(pe)
				if !changelog.Verify(&entry) {
					continue
				}
				if !bytes.Equal(changelog.Sum(&entry), entry.Hash) {
					t.Fatalf("entry %s/%d verifies but does not hash to its Hash", entry.Origin, entry.Seq)
				}
				back := entryFromProto(entryToProto(&entry))
				if !changelog.Verify(&back) || !bytes.Equal(back.Hash, entry.Hash) || back.Sealed != entry.Sealed || !bytes.Equal(back.Data, entry.Data) {
					t.Fatalf("entry %s/%d changed on its way back to the wire", entry.Origin, entry.Seq)
				}
			}
		}
		for _, pc := range append(resp.GetCheckpoints(), resp.GetRepair().GetCheckpoint()) {
			c := checkpointFromProto(pc)
			if c.Verify(pub) && (c.Origin != cp.Origin || c.Seq != cp.Seq || !bytes.Equal(c.Hash, cp.Hash)) {
				t.Fatalf("a checkpoint the key never signed verifies: %+v", c)
			}
		}
	})
}

// FuzzReceive drives what a node does with a peer's message after
// decoding it, with entries and checkpoints signed by the origin's own
// key, current or retired: a member chooses every number in them, and no
// choice of seqs (of the entries, of the checkpoint, of where the node's
// copy ends) may panic. A checkpoint at seq 2^63+1 once did, and every node
// pulling it fell.
func FuzzReceive(f *testing.F) {
	m, current, retired := rotatedFederation(f)
	e := &Engine{cfg: Config{Member: "cao-bang", Manifest: federation.NewLive(m, nil), Store: &keepingStore{}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), peers: map[string]*peer{}}
	f.Add(uint64(1), uint8(3), uint64(1), uint64(3), uint8(2), false, false)
	f.Add(uint64(1), uint8(1), uint64(1), uint64(1<<63+1), uint8(0), false, false)
	f.Add(uint64(5), uint8(4), uint64(2), uint64(6), uint8(1), true, false)
	f.Add(uint64(1<<64-2), uint8(3), uint64(1<<64-2), uint64(1<<64-1), uint8(1), false, true)
	f.Fuzz(func(t *testing.T, first uint64, n uint8, next, cpSeq uint64, cpOf uint8, signedRetired, scanning bool) {
		p := &peer{member: "tuyen-quang"}
		ap := newApplier(e, p) // not run: a run it is handed waits in its queue
		resp := &syncv1.PullResponse{}
		prev := changelog.ZeroHash
		var hashes [][]byte
		for i := range uint64(n % 16) {
			entry := changelog.Entry{Origin: "tuyen-quang", Seq: first + i, Data: []byte("state"), PrevHash: prev}
			entry.Hash = changelog.Sum(&entry)
			prev, hashes = entry.Hash, append(hashes, entry.Hash)
			resp.Entries = append(resp.Entries, entryToProto(&entry))
		}
		hash := changelog.ZeroHash
		if int(cpOf) < len(hashes) {
			hash = hashes[cpOf]
		}
		key := current.Signing
		if signedRetired {
			key = retired
		}
		resp.Checkpoints = append(resp.Checkpoints, checkpointToProto(changelog.SignCheckpoint(key, "tuyen-quang", cpSeq, hash)))
		run := &originRun{next: next, prev: changelog.ZeroHash, scanning: scanning}
		st := &pullState{runs: map[string]*originRun{"tuyen-quang": run}, requested: map[repairStart]bool{}, heads: map[string]uint64{}}
		e.receive(context.Background(), p, st, resp, ap) // an error is a refusal; a panic fails
	})
}
