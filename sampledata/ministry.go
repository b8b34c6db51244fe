package sampledata

import (
	"time"

	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The ministry's request for the border economy over the 2020–2025 term,
// due at the end of August 2025: Cao Bằng has answered it (caoBangAnswer),
// Tuyên Quang has not, so it is overdue.
const borderEconomyRequest = "provinces/mofa/information-requests/border-economy-2020-2025"

func buildMinistry(g *gen) {
	g.add(InformationRequests, "border-economy-2020-2025", &nationalv1.InformationRequest{
		DisplayName: "Border economy over the 2020–2025 term",
		Collection:  TradeReports,
		Question:    "Budget revenue from border trade over the term, and its share of the province's budget revenue.",
		Provinces:   []string{"cao-bang", "tuyen-quang"},
		DueTime:     timestamppb.New(time.Date(2025, 8, 29, 17, 0, 0, 0, vnZone)),
		Visibility:  typev1.Visibility_VISIBILITY_PUBLIC,
	})
	mofaOpinion(g)
}

// caoBangAnswer is Cao Bằng's response to the ministry's request.
func caoBangAnswer(g *gen) {
	g.add(InformationResponses, "border-economy-2020-2025", &nationalv1.InformationResponse{
		Request:    borderEconomyRequest,
		Answer:     "About 6,900 billion VND over the term, +249% on 2016–2020, about 46% of the province's budget revenue.",
		Records:    []string{g.name(TradeReports, "border-economy-2020-2025")},
		Visibility: typev1.Visibility_VISIBILITY_PUBLIC,
	})
}
