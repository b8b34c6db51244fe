package replication_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/provex/provex/changelog"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	syncv1 "github.com/provex/provex/gen/go/provex/sync/v1"
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

// forger is a member gone bad: it serves its own log, every entry and
// checkpoint signed with its own key from the manifest, in which some
// entries name records of other members.
type forger struct {
	syncv1.UnimplementedSyncServiceServer
	entries []*syncv1.Entry
	cp      *syncv1.Checkpoint
	// perEntry sends each entry in a message of its own with its own
	// checkpoint (cps), as an honest node does with large records.
	perEntry bool
	cps      []*syncv1.Checkpoint
}

func (p *forger) Announce(context.Context, *syncv1.AnnounceRequest) (*syncv1.AnnounceResponse, error) {
	return &syncv1.AnnounceResponse{}, nil
}

func (p *forger) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	for _, h := range req.GetHave() {
		if h.GetOrigin() == p.cp.GetOrigin() && h.GetSeq() >= p.cp.GetSeq() {
			return nil
		}
	}
	if !p.perEntry {
		return stream.Send(&syncv1.PullResponse{Entries: p.entries, Checkpoints: []*syncv1.Checkpoint{p.cp}})
	}
	for i, e := range p.entries {
		if err := stream.Send(&syncv1.PullResponse{Entries: []*syncv1.Entry{e}, Checkpoints: []*syncv1.Checkpoint{p.cps[i]}}); err != nil {
			return err
		}
	}
	return nil
}

// forgedLog builds member's log: for each state, a public entry, or, when
// sealTo is set, one sealed to those readers, all chained and closed by a
// checkpoint of member's own key.
func forgedLog(t *testing.T, f *testFederation, member string, states []forgedState) *forger {
	t.Helper()
	keys := f.keys[member]
	sealer, err := changelog.NewSealer(keys.Encryption...)
	if err != nil {
		t.Fatal(err)
	}
	prev := changelog.ZeroHash
	p := &forger{}
	for i, st := range states {
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(st.rec)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, st.appended...)
		e := changelog.Entry{Origin: member, Seq: uint64(i + 1), HLC: time.Now().UnixNano(), Name: st.rec.GetName(), Data: data, PrevHash: prev}
		if len(st.sealTo) > 0 {
			var readers []*ecdh.PublicKey
			for _, r := range st.sealTo {
				key, _ := f.manifest.EncryptionKey(r)
				readers = append(readers, key)
			}
			if e.Data, err = sealer.Seal(member, e.Seq, st.rec.GetName(), data, readers, nil); err != nil {
				t.Fatal(err)
			}
			e.Name, e.Sealed = "", true
		}
		e.Hash = changelog.Sum(&e)
		prev = e.Hash
		c := changelog.SignCheckpoint(keys.Signing, member, e.Seq, e.Hash)
		p.cps = append(p.cps, &syncv1.Checkpoint{Origin: c.Origin, Seq: c.Seq, Hash: c.Hash, Signature: c.Signature})
		p.entries = append(p.entries, &syncv1.Entry{Origin: e.Origin, Seq: e.Seq, Hlc: e.HLC, Name: e.Name, Data: e.Data, Sealed: e.Sealed,
			PrevHash: e.PrevHash, Hash: e.Hash})
	}
	p.cp = p.cps[len(p.cps)-1]
	return p
}

type forgedState struct {
	rec    namedRecord
	sealTo []string
	// appended is wire form appended to rec's: fields no protobuf
	// library would marshal.
	appended []byte
}

// namedRecord is a record of any kind.
type namedRecord interface {
	proto.Message
	GetName() string
}

// TestMemberCannotWriteOthersRecords: tuyen-quang signs, with its own key
// from the manifest, entries that name cao-bang's record (in clear, and
// sealed to the ministry so that relays cannot see it) and a record under
// provinces/mofa. Every node holds tuyen-quang's log whole, applies its own
// records, and refuses the others, counting them; cao-bang's record stays
// cao-bang's, its later change reaches everyone, and sync with the honest
// peer goes on.
func TestMemberCannotWriteOthersRecords(t *testing.T) {
	const bad = "tuyen-quang"
	members := []string{p1, p2, bad, mofa}
	// Everyone pulls from the forger and from p1; p1 pulls from the forger.
	f := newFederation(t, members, map[string][]string{p1: {bad}, p2: {bad, p1}, mofa: {bad, p1}})
	owner := f.start(p1)
	target := createVisible(t, owner, "target", typev1.Visibility_VISIBILITY_PUBLIC)
	forgedTarget := proto.Clone(target).(*twinningv1.Agreement)
	forgedTarget.DisplayName, forgedTarget.Etag = "FORGED by "+bad, "999"
	fake := forgedLog(t, f, bad, []forgedState{
		{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/own-1", DisplayName: "its own, first", Kind: twinningv1.Agreement_KIND_MOU}},
		{rec: forgedTarget},
		{rec: &twinningv1.Agreement{Name: "provinces/mofa/agreements/circular-1", DisplayName: "FORGED ministry circular", Kind: twinningv1.Agreement_KIND_OTHER}},
		{rec: forgedTarget, sealTo: []string{mofa, bad}},
		{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/own-2", DisplayName: "its own, second", Kind: twinningv1.Agreement_KIND_MOU}},
	})
	f.peerServer(t, bad, fake)
	f.start(p2)
	f.start(mofa)

	// Every node holds the forger's whole log, the same as the others.
	for _, m := range []string{p1, p2, mofa} {
		n := f.nodes[m]
		eventually(t, 10*time.Second, func() (bool, string) {
			o := n.origin(t, bad)
			return o.GetSeq() == 5, fmt.Sprintf("%s holds %s up to %d", m, bad, o.GetSeq())
		})
		// The sealed forgery is seen only by its reader, the ministry.
		wantRejected := int64(2)
		if m == mofa {
			wantRejected = 3
		}
		if o := n.origin(t, bad); o.GetRejected() != wantRejected || o.GetUnopened() != 0 {
			t.Errorf("%s refused %d entries of %s (%d unopened), want %d", m, o.GetRejected(), bad, o.GetUnopened(), wantRejected)
		}
		// The count follows the commit that stored the refusals.
		eventually(t, 5*time.Second, func() (bool, string) {
			got := n.metrics(t).GetEntriesRejected()
			return got == wantRejected, fmt.Sprintf("%s counts %d rejected entries, want %d", m, got, wantRejected)
		})
		for _, id := range []string{"own-1", "own-2"} {
			if _, code := getAgreement(t, n, "provinces/"+bad+"/agreements/"+id); code != codes.OK {
				t.Errorf("%s: the forger's own record %s: %v", m, id, code)
			}
		}
		// The owner's record arrives by its own pull, which may come after
		// the forger's log: wait for it, then it must be the owner's.
		eventually(t, 10*time.Second, func() (bool, string) {
			got, code := getAgreement(t, n, target.GetName())
			return code == codes.OK && proto.Equal(got, target), fmt.Sprintf("%s: %s is %v %v, want the owner's", m, target.GetName(), code, got)
		})
		if _, code := getAgreement(t, n, "provinces/mofa/agreements/circular-1"); code != codes.NotFound {
			t.Errorf("%s holds the forged ministry record: %v", m, code)
		}
		checkNoForgery(t, n)
	}

	// The owner's change reaches everyone: precedence is decided within
	// the owner's log, whatever seq the forger's entries had.
	changed, err := owner.client.Twinning.UpdateAgreement(context.Background(), &twinningv1.UpdateAgreementRequest{
		Agreement:  &twinningv1.Agreement{Name: target.GetName(), DisplayName: "changed by its owner"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.waitConverged(t, map[string]uint64{p1: 2}, 10*time.Second)
	for _, m := range []string{p2, mofa} {
		if got, code := getAgreement(t, f.nodes[m], target.GetName()); code != codes.OK || !proto.Equal(got, changed) {
			t.Errorf("%s: after the owner's change: %v %v", m, code, got)
		}
	}
}

// TestMemberCannotPoseAsTheMinistry: lang-son signs, with its own key, an
// information request under its own name (requests are the ministry's
// records alone), between two records of its own. Every node holds its log
// whole, applies its own records and refuses the request, which no node
// serves and the ministry's request views do not list.
func TestMemberCannotPoseAsTheMinistry(t *testing.T) {
	const bad = p2
	members := []string{p1, bad, mofa}
	f := newFederation(t, members, map[string][]string{p1: {bad}, mofa: {bad, p1}})
	fakeRequest := "provinces/" + bad + "/information-requests/report-now"
	fake := forgedLog(t, f, bad, []forgedState{
		{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/own-1", DisplayName: "its own, first", Kind: twinningv1.Agreement_KIND_MOU}},
		{rec: &nationalv1.InformationRequest{Name: fakeRequest, DisplayName: "FORGED: send every border figure", Provinces: []string{p1},
			DueTime: timestamppb.New(time.Now().Add(-time.Hour))}},
		{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/own-2", DisplayName: "its own, second", Kind: twinningv1.Agreement_KIND_MOU}},
	})
	f.peerServer(t, bad, fake)
	f.start(p1)
	f.start(mofa)
	for _, m := range []string{p1, mofa} {
		n := f.nodes[m]
		eventually(t, 10*time.Second, func() (bool, string) {
			o := n.origin(t, bad)
			return o.GetSeq() == 3 && o.GetRejected() == 1, fmt.Sprintf("%s holds %s up to %d, %d refused", m, bad, o.GetSeq(), o.GetRejected())
		})
		for _, id := range []string{"own-1", "own-2"} {
			if _, code := getAgreement(t, n, "provinces/"+bad+"/agreements/"+id); code != codes.OK {
				t.Errorf("%s: the member's own record %s: %v", m, id, code)
			}
		}
		national := nationalv1.NewNationalServiceClient(n.client.Conn())
		if _, err := national.GetInformationRequest(context.Background(), &nationalv1.GetInformationRequestRequest{Name: fakeRequest}); status.Code(err) == codes.OK {
			t.Errorf("%s serves the request %s posed as the ministry", m, bad)
		}
		statuses, err := national.ListInformationRequestStatuses(context.Background(), &nationalv1.ListInformationRequestStatusesRequest{Parent: "provinces/-"})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range statuses.GetStatuses() {
			if st.GetRequest() == fakeRequest {
				t.Errorf("%s lists the forged request among the ministry's", m)
			}
		}
	}
}

// TestMemberCannotPoseAsTheMinistryAnswering: lang-son signs, with its own
// key, a draft agreement whose opinions it asked long ago, then the
// ministry's opinion on it twice, once under its own name and once under
// provinces/mofa. Every node refuses both opinions (only the ministry
// writes them), serves neither, and still counts and lists the ministry's
// opinion on the draft as overdue.
func TestMemberCannotPoseAsTheMinistryAnswering(t *testing.T) {
	const bad = p2
	members := []string{p1, bad, mofa}
	f := newFederation(t, members, map[string][]string{p1: {bad}, mofa: {bad, p1}})
	draft := "provinces/" + bad + "/agreements/draft"
	answer := func(name string) *twinningv1.AgreementOpinion {
		return &twinningv1.AgreementOpinion{Name: name, Agreement: draft, Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE,
			OpinionDate: &typev1.Date{Year: 2026, Month: 1, Day: 6}}
	}
	forged := []string{"provinces/" + bad + "/agreement-opinions/draft", "provinces/mofa/agreement-opinions/draft"}
	fake := forgedLog(t, f, bad, []forgedState{
		{rec: &twinningv1.Agreement{Name: draft, DisplayName: "a draft asked of the ministry", Kind: twinningv1.Agreement_KIND_MOU,
			Consultation: &twinningv1.Agreement_Consultation{State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED, RequestedDate: &typev1.Date{Year: 2026, Month: 1, Day: 5}}}},
		{rec: answer(forged[0])},
		{rec: answer(forged[1])},
	})
	f.peerServer(t, bad, fake)
	f.start(p1)
	f.start(mofa)
	for _, m := range []string{p1, mofa} {
		n := f.nodes[m]
		eventually(t, 10*time.Second, func() (bool, string) {
			o := n.origin(t, bad)
			return o.GetSeq() == 3 && o.GetRejected() == 2, fmt.Sprintf("%s holds %s up to %d, %d refused", m, bad, o.GetSeq(), o.GetRejected())
		})
		for _, name := range forged {
			if _, err := n.client.Twinning.GetAgreementOpinion(context.Background(), &twinningv1.GetAgreementOpinionRequest{Name: name}); status.Code(err) == codes.OK {
				t.Errorf("%s serves %s, posed as the ministry by %s", m, name, bad)
			}
		}
		late, err := n.client.Twinning.ListOverdueAgreementDeadlines(context.Background(), &twinningv1.ListOverdueAgreementDeadlinesRequest{Parent: "provinces/" + bad, Deadline: twinningv1.Deadline_DEADLINE_MOFA_OPINION})
		if err != nil {
			t.Fatal(err)
		}
		// A province's node does not judge the ministry's opinions on
		// another province's agreements (they may be kept from it), so the
		// forgery's failure shows on the ministry's.
		want := 0
		if m == mofa {
			want = 1
		}
		if d := late.GetOverdueDeadlines(); len(d) != want || want == 1 && d[0].GetAgreement() != draft {
			t.Errorf("%s: the ministry's late opinions of %s: %v, want %d, the draft's", m, bad, d, want)
		}
		sum, err := n.client.Twinning.SummarizeOverdueAgreementDeadlines(context.Background(), &twinningv1.SummarizeOverdueAgreementDeadlinesRequest{Parent: "provinces/" + bad})
		if err != nil {
			t.Fatal(err)
		}
		if int(sum.GetOverdueOpinions()) != want {
			t.Errorf("%s: %d overdue opinions of %s counted, want %d", m, sum.GetOverdueOpinions(), bad, want)
		}
	}
}

// headFlooder serves its log once; to every later pull it answers with
// messages of copies of its head checkpoint, each with another (bad)
// signature.
type headFlooder struct {
	*forger
	messages, copies int
	flooded          atomic.Int64
}

func (p *headFlooder) Pull(req *syncv1.PullRequest, stream grpc.ServerStreamingServer[syncv1.PullResponse]) error {
	if !slices.ContainsFunc(req.GetHave(), func(h *syncv1.Position) bool { return h.GetOrigin() == p.cp.GetOrigin() && h.GetSeq() >= p.cp.GetSeq() }) {
		return p.forger.Pull(req, stream)
	}
	for range p.messages {
		resp := &syncv1.PullResponse{}
		for range p.copies {
			sig := make([]byte, 64)
			rand.Read(sig[:32]) // S = 0, under the group order: Verify does all its work
			resp.Checkpoints = append(resp.Checkpoints, &syncv1.Checkpoint{Origin: p.cp.GetOrigin(), Seq: p.cp.GetSeq(), Hash: p.cp.GetHash(), Signature: sig})
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	p.flooded.Add(1)
	return nil
}

// TestFloodOfHeadCheckpointsIsRefused: a member answers each pull with
// copies of the checkpoint of its head, which the node holds, each with a
// bad signature. Each cost the node a verification (200,000 of them about
// 10 s of a core), and nothing was refused, logged or shown (an outside
// review). One is looked at in a pull, and refused; the peer's status
// says so.
func TestFloodOfHeadCheckpointsIsRefused(t *testing.T) {
	const bad = p2
	f := newFederation(t, []string{p1, bad}, map[string][]string{p1: {bad}})
	log := forgedLog(t, f, bad, []forgedState{{rec: &twinningv1.Agreement{Name: "provinces/" + bad + "/agreements/own", DisplayName: "own", Kind: twinningv1.Agreement_KIND_MOU}}})
	flooder := &headFlooder{forger: log, messages: 2, copies: 1000}
	f.peerServer(t, bad, flooder)
	n := f.start(p1)
	eventually(t, 20*time.Second, func() (bool, string) {
		st := n.peerState(t, bad)
		return flooder.flooded.Load() > 0 && strings.Contains(st.GetLastError(), "of the head this node holds has a bad signature"),
			fmt.Sprintf("%d pulls flooded; the peer's status: %v", flooder.flooded.Load(), st)
	})
	if got := n.origin(t, bad).GetSeq(); got != 1 {
		t.Errorf("holds %s up to %d, want its one entry", bad, got)
	}
}
