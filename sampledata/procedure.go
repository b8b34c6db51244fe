package sampledata

import (
	twinningv1 "github.com/provex/provex/gen/go/provex/twinning/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
)

// The agreement procedure of Law 70/2020 in the sample data: Tuyên Quang
// asked MOFA and the Ministry of Public Security for their opinions on a
// draft MoU with Phongsaly on 8 September 2025, and both answered (MOFA by
// its own record, mofaOpinion); it signed a cooperation programme with
// Anseong on 26 September 2025 and has not reported it, so its report has
// been overdue since 12 October 2025.
const (
	procedureDraft    = "phongsaly-mou-2025"
	procedureUnreport = "anseong-2026"
)

// tuyenQuangProcedure adds Tuyên Quang's two agreements in procedure.
func tuyenQuangProcedure(g *gen) {
	tq := local(typev1.LocalLevel_LOCAL_LEVEL_PROVINCE, "Tuyên Quang province")
	g.add(Agreements, procedureDraft, &twinningv1.Agreement{
		DisplayName: "Draft memorandum of understanding on border trade and tourism with Phongsaly, 2026–2030",
		Kind:        twinningv1.Agreement_KIND_MOU, State: twinningv1.Agreement_STATE_DRAFT, Signatory: tq,
		ForeignParties: []*typev1.ForeignParty{party("Phongsaly province", "LA", "province")}, PartnerCountries: []string{"LA"},
		Consultation: &twinningv1.Agreement_Consultation{
			State: twinningv1.Agreement_CONSULTATION_STATE_REQUESTED, RequestedDate: date(2025, 9, 8),
			AgencyOpinions: []*twinningv1.Agreement_AgencyOpinion{{
				Agency: "Ministry of Public Security", OpinionDate: date(2025, 9, 15),
				Position: twinningv1.OpinionPosition_OPINION_POSITION_AGREE, Summary: "No objection.",
			}},
		},
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
	g.add(Agreements, procedureUnreport, &twinningv1.Agreement{
		DisplayName: "Cooperation programme between Tuyên Quang and Anseong city, 2026–2028",
		Kind:        twinningv1.Agreement_KIND_COOPERATION_PROGRAMME, State: twinningv1.Agreement_STATE_SIGNED, Signatory: tq,
		ForeignParties: []*typev1.ForeignParty{party("Anseong city", "KR", "city")}, PartnerCountries: []string{"KR"},
		SignedDate: date(2025, 9, 26), SignedPlace: "Anseong",
		Consultation: &twinningv1.Agreement_Consultation{
			State: twinningv1.Agreement_CONSULTATION_STATE_OPINION_RECEIVED, RequestedDate: date(2025, 8, 4), OpinionDate: date(2025, 8, 12),
			Opinion: "The Ministry of Foreign Affairs agrees to the signing.",
		},
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
}

// mofaOpinion is the ministry's answer to Tuyên Quang's request, within
// its 7 working days (due 17 September 2025).
func mofaOpinion(g *gen) {
	g.add(AgreementOpinions, procedureDraft, &twinningv1.AgreementOpinion{
		Agreement:   "provinces/tuyen-quang/agreements/" + procedureDraft,
		Position:    twinningv1.OpinionPosition_OPINION_POSITION_AGREE_WITH_COMMENTS,
		OpinionDate: date(2025, 9, 16),
		Summary:     "The Ministry agrees to the signing; article 4 should name the border gates concerned.",
		Visibility:  typev1.Visibility_VISIBILITY_PUBLIC,
	})
}
