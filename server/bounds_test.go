package server_test

import (
	"testing"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	investmentv1 "github.com/provex/provex/gen/go/provex/investment/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
)

// TestNumberBounds checks that counts and money at their documented bounds
// are stored and one past them is INVALID_ARGUMENT naming each field (the
// issue's 9e18 VND trade report among them), so no valid figure comes near
// int64's end.
func TestNumberBounds(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	report := func(units, vehicles, passengers int64) *borderv1.TradeReport {
		return &borderv1.TradeReport{
			PeriodKind: borderv1.TradeReport_PERIOD_KIND_YEAR, PeriodStart: date(2023, 1, 1), PeriodEnd: date(2023, 12, 31),
			ExportValue: &typev1.Money{CurrencyCode: "VND", Units: units}, ImportValue: &typev1.Money{CurrencyCode: "VND", Units: 9e18},
			BudgetRevenue: &typev1.Money{CurrencyCode: "VND", Units: units}, VehicleCount: vehicles, PassengerCount: passengers,
		}
	}
	_, err := tn.Create(ctx, tn.parent(), resource.TradeReports, "", "", report(1e16+1, 1e9+1, 1e10+1))
	wantInvalid(t, err, "trade report past the bounds", "trade_report.export_value.units", "trade_report.import_value.units",
		"trade_report.budget_revenue.units", "trade_report.vehicle_count", "trade_report.passenger_count")
	ok := report(1e16, 1e9, 1e10)
	ok.ImportValue.Units = 1e16
	if _, err := tn.Create(ctx, tn.parent(), resource.TradeReports, "", "", ok); err != nil {
		t.Fatalf("trade report at the bounds: %v", err)
	}

	event := &investmentv1.PromotionEvent{DisplayName: "Investment conference", Kind: investmentv1.PromotionEvent_KIND_CONFERENCE, StartDate: date(2024, 3, 1),
		AttendeeCount: 1_000_001, LeadCount: 100_001, AgreementsSigned: 100_001, CommittedCapital: &typev1.Money{CurrencyCode: "USD", Units: 1e16 + 1}}
	_, err = tn.Create(ctx, tn.parent(), resource.PromotionEvents, "", "", event)
	wantInvalid(t, err, "promotion event past the bounds", "promotion_event.attendee_count", "promotion_event.lead_count",
		"promotion_event.agreements_signed", "promotion_event.committed_capital.units")
	event.AttendeeCount, event.LeadCount, event.AgreementsSigned, event.CommittedCapital.Units = 1_000_000, 100_000, 100_000, 1e16
	if _, err := tn.Create(ctx, tn.parent(), resource.PromotionEvents, "", "", event); err != nil {
		t.Fatalf("promotion event at the bounds: %v", err)
	}
	lead := &investmentv1.InvestorLead{Investor: "Foxconn", ExpectedCapital: &typev1.Money{CurrencyCode: "USD", Units: 1e16 + 1}}
	_, err = tn.Create(ctx, tn.parent(), resource.InvestorLeads, "", "", lead)
	wantInvalid(t, err, "investor lead past the bound", "investor_lead.expected_capital.units")
	project := &investmentv1.Project{DisplayName: "Solar farm", Kind: investmentv1.Project_KIND_FDI,
		RegisteredCapital: &typev1.Money{CurrencyCode: "USD", Units: 1e16 + 1}, DisbursedCapital: &typev1.Money{CurrencyCode: "USD", Units: -1}}
	_, err = tn.Create(ctx, tn.parent(), resource.Projects, "", "", project)
	wantInvalid(t, err, "project past the bounds", "project.registered_capital.units", "project.disbursed_capital.units")
}
