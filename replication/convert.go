package replication

import (
	"google.golang.org/protobuf/proto"

	"github.com/provex/provex/changelog"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
)

func entryToProto(e *changelog.Entry) *syncv1.Entry {
	return &syncv1.Entry{
		Origin: e.Origin, Seq: e.Seq, Hlc: e.HLC, Name: e.Name, Data: e.Data, DataHash: e.DataHash,
		Visibility: e.Visibility, VisibleTo: e.VisibleTo, PrevHash: e.PrevHash, Hash: e.Hash, Redacted: e.Data == nil,
	}
}

func entryFromProto(p *syncv1.Entry) changelog.Entry {
	e := changelog.Entry{
		Origin: p.GetOrigin(), Seq: p.GetSeq(), HLC: p.GetHlc(), Name: p.GetName(), Data: p.GetData(), DataHash: p.GetDataHash(),
		Visibility: p.GetVisibility(), VisibleTo: p.GetVisibleTo(), PrevHash: p.GetPrevHash(), Hash: p.GetHash(),
	}
	if p.GetRedacted() {
		e.Data = nil
	} else if e.Data == nil {
		// An empty record state is still data, not a redaction.
		e.Data = []byte{}
	}
	return e
}

func checkpointToProto(c changelog.Checkpoint) *syncv1.Checkpoint {
	return &syncv1.Checkpoint{Origin: c.Origin, Seq: c.Seq, Hash: c.Hash, Signature: c.Signature}
}

func checkpointFromProto(p *syncv1.Checkpoint) changelog.Checkpoint {
	return changelog.Checkpoint{Origin: p.GetOrigin(), Seq: p.GetSeq(), Hash: p.GetHash(), Signature: p.GetSignature()}
}

func sizeOf(m proto.Message) int { return proto.Size(m) }
