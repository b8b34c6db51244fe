package server_test

import (
	"strings"
	"testing"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
	nationalv1 "github.com/provex/provex/gen/go/provex/national/v1"
	typev1 "github.com/provex/provex/gen/go/provex/type/v1"
	"github.com/provex/provex/resource"
)

// TestMoneySumsNeverMixCurrencies: trade reports in VND and USD summed by
// their money field give one total per currency, on gRPC and in the CSV;
// asking for the units (or the currency) of a money field, which would add
// 10^16 VND and 3,152,302,001 USD into one figure, is INVALID_ARGUMENT on
// sum, saying to sum the money field itself.
func TestMoneySumsNeverMixCurrencies(t *testing.T) {
	tn := startNode(t, "cao-bang")
	ctx := testCtx(t)
	for _, m := range []*typev1.Money{{CurrencyCode: "VND", Units: 1e16}, {CurrencyCode: "USD", Units: 3_152_302_001}} {
		_, err := tn.Create(ctx, tn.parent(), resource.TradeReports, "", "", &borderv1.TradeReport{
			PeriodKind: borderv1.TradeReport_PERIOD_KIND_YEAR, PeriodStart: date(2024, 1, 1), PeriodEnd: date(2024, 12, 31), ExportValue: m})
		mustf(t, err, "create a trade report of %v", m)
	}
	national := nationalv1.NewNationalServiceClient(tn.Conn())
	summarize := func(sum ...string) (*nationalv1.SummarizeResponse, error) {
		return national.Summarize(ctx, &nationalv1.SummarizeRequest{Collection: "trade-reports", GroupBy: []string{"province"}, Sum: sum})
	}

	resp, err := summarize("export_value")
	mustf(t, err, "sum export_value")
	got := map[string]int64{}
	for _, s := range resp.GetTotal().GetSums() {
		got[s.GetField()+" "+s.GetCurrencyCode()] = s.GetValue()
	}
	if want := map[string]int64{"export_value VND": 1e16, "export_value USD": 3_152_302_001}; len(got) != len(want) ||
		got["export_value VND"] != want["export_value VND"] || got["export_value USD"] != want["export_value USD"] {
		t.Errorf("sum export_value: totals %v, want %v", got, want)
	}

	for _, part := range []string{"export_value.units", "export_value.currency_code"} {
		_, err := summarize("vehicle_count", part)
		wantInvalid(t, err, "sum "+part, "sum[1]")
		if err == nil || !strings.Contains(err.Error(), "sum export_value, which totals per currency") {
			t.Errorf("sum %s: %v does not say to sum export_value", part, err)
		}
		resp, body := sendHTTP(t, tn, "GET", "/v1/national/trade-reports/summary.csv?group_by=province&sum="+part, nil, "")
		if resp.StatusCode != 400 || !strings.Contains(string(body), "sum export_value, which totals per currency") {
			t.Errorf("summary.csv sum=%s: HTTP %d %s, want 400 saying to sum export_value", part, resp.StatusCode, body)
		}
	}
	resp2, body := sendHTTP(t, tn, "GET", "/v1/national/trade-reports/summary.csv?group_by=province&sum=export_value", nil, "")
	if resp2.StatusCode != 200 || !strings.Contains(string(body), "10000000000000000") || !strings.Contains(string(body), "3152302001") {
		t.Errorf("summary.csv sum=export_value: HTTP %d\n%s\nwant each currency's total", resp2.StatusCode, body)
	}
}
