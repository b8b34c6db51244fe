package replication

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	"github.com/provex/provex/storage"
)

func entryToProto(e *changelog.Entry) *syncv1.Entry {
	return &syncv1.Entry{
		Origin: e.Origin, Seq: e.Seq, Hlc: e.HLC, Name: e.Name, Data: e.Data, Sealed: e.Sealed, PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

func entryFromProto(p *syncv1.Entry) changelog.Entry {
	e := changelog.Entry{
		Origin: p.GetOrigin(), Seq: p.GetSeq(), HLC: p.GetHlc(), Name: p.GetName(), Data: p.GetData(), Sealed: p.GetSealed(),
		PrevHash: p.GetPrevHash(), Hash: p.GetHash(),
	}
	if e.Data == nil {
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

func rangeToProto(r changelog.Range) *syncv1.Range {
	return &syncv1.Range{Origin: r.Origin, First: r.First, Last: r.Last}
}

func damageToProto(d storage.Damage) *syncv1.Damage {
	return &syncv1.Damage{Range: rangeToProto(d.Range), FoundTime: timestampOrNil(d.Found), Problem: d.Problem}
}

func timestampOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func sizeOf(m proto.Message) int { return proto.Size(m) }
