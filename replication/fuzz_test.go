package replication

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
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
