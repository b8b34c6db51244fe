package national

import (
	"strings"
	"testing"

	"github.com/provex/provex/resource"
)

// TestListParametersNameOneFieldAnEntry: a comma-separated entry of
// group_by, sum or count_distinct (as summary.csv takes them) is refused
// saying to repeat the parameter, and names the entry as given (the
// refusal of "province,signed_date.year" once quoted "province,signed_date").
func TestListParametersNameOneFieldAnEntry(t *testing.T) {
	k := resource.Agreements
	_, err := parseDims(k, []string{"province,signed_date.year"})
	if err == nil || !strings.Contains(err.Error(), `"province,signed_date.year"`) || !strings.Contains(err.Error(), "group_by=a&group_by=b") {
		t.Errorf("group_by of two: %v", err)
	}
	_, _, err = parseSums(resource.Projects, []string{"registered_capital,disbursed_capital"})
	if err == nil || !strings.Contains(err.Error(), "sum=a&sum=b") {
		t.Errorf("sum of two: %v", err)
	}
	_, err = parseDistinct(resource.Projects, []string{"organizations,country"})
	if err == nil || !strings.Contains(err.Error(), "count_distinct=a&count_distinct=b") {
		t.Errorf("count_distinct of two: %v", err)
	}
	if _, err := parseDims(k, []string{"nope.year"}); err == nil || !strings.Contains(err.Error(), `"nope.year"`) {
		t.Errorf("an unknown dimension with its bucket: %v", err)
	}
	if _, err := parseDims(k, []string{"province", "signed_date.year"}); err != nil {
		t.Errorf("two dimensions, one an entry: %v", err)
	}
}
