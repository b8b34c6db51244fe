package twinning

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	"github.com/provex/provex/internal/validation"
	"github.com/provex/provex/resource"
	"github.com/provex/provex/services/collection"
	"github.com/provex/provex/storage"
	"github.com/provex/provex/storage/sqlstore"
)

// TestStoredAnswerBreakingARuleCanBeCorrected: the ministry's opinion
// stored before the rule on what it names (here a partnership, not an
// agreement) is told, on an update that leaves it, to correct the field;
// the correction is taken, though an answer's record cannot otherwise
// change (it was refused: an outside review).
func TestStoredAnswerBreakingARuleCanBeCorrected(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "provex.db"), resource.Ministry, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := validation.New(resource.FieldRules())
	if err != nil {
		t.Fatal(err)
	}
	s := New(&collection.Node{Store: db, Member: resource.Ministry, Validator: v})
	name := "provinces/mofa/agreement-opinions/old"
	stored := &twinningv1.AgreementOpinion{Name: name, Agreement: "provinces/lang-son/partnerships/x", Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE, OpinionDate: day(2025, 9, 1)}
	if _, err := db.Write(ctx, storage.Write{Kind: resource.AgreementOpinions, Name: name, Mutate: func(proto.Message, storage.Stamp) (proto.Message, error) { return stored, nil }}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateAgreementOpinion(ctx, &twinningv1.UpdateAgreementOpinionRequest{AgreementOpinion: &twinningv1.AgreementOpinion{Name: name, Summary: "s"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}}})
	if err == nil || !strings.Contains(err.Error(), "agreement_opinion.agreement") {
		t.Fatalf("an update leaving the stored value that breaks a rule: %v", err)
	}
	if _, err := s.UpdateAgreementOpinion(ctx, &twinningv1.UpdateAgreementOpinionRequest{AgreementOpinion: &twinningv1.AgreementOpinion{Name: name, Summary: "s", Agreement: "provinces/lang-son/agreements/x"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary", "agreement"}}}); err != nil {
		t.Errorf("the correction the error asks for: %v", err)
	}
}
