package workdays

import (
	"testing"
	"time"
)

// TestAddWorkingDaysOnRealDates counts opinion deadlines (7 working days)
// across the real holidays of the table.
func TestAddWorkingDaysOnRealDates(t *testing.T) {
	for _, c := range []struct {
		name      string
		from, due time.Time
	}{
		// Tết Bính Ngọ: off Saturday 14 to Sunday 22 Feb 2026.
		{"the Friday before Tết 2026", Date(2026, 2, 13), Date(2026, 3, 3)},
		// Tết Ất Tỵ: off 25 Jan to 2 Feb 2025.
		{"the Friday before Tết 2025", Date(2025, 1, 24), Date(2025, 2, 11)},
		// 30/4 and 1/5 2025 with 2 May swapped for Saturday 26 April,
		// which counts.
		{"over 30/4–1/5 2025", Date(2025, 4, 25), Date(2025, 5, 8)},
		// 2/9 2024 with 3/9: off Saturday 31 Aug to Tuesday 3 Sep.
		{"over 2/9 2024", Date(2024, 8, 30), Date(2024, 9, 12)},
		// Hùng Kings 2022 on a Sunday, compensated Monday 11 April.
		{"over Hùng Kings 2022", Date(2022, 4, 8), Date(2022, 4, 20)},
		// 2/9 2026 with 1 Sep, and Monday 31 Aug swapped for Saturday 22
		// Aug: off Saturday 29 Aug to Wednesday 2 Sep (Ministry of Home
		// Affairs, vietnamnews.vn 17 Oct 2025).
		{"over 2/9 2026", Date(2026, 8, 27), Date(2026, 9, 10)},
		{"over the Saturday worked in 2026", Date(2026, 8, 20), Date(2026, 8, 28)},
		{"an ordinary week", Date(2026, 11, 2), Date(2026, 11, 11)},
	} {
		due, est := AddWorkingDays(c.from, 7)
		if !due.Equal(c.due) || est {
			t.Errorf("%s: 7 working days after %s = %s (estimated %v), want %s", c.name,
				c.from.Format(time.DateOnly), due.Format(time.DateOnly), est, c.due.Format(time.DateOnly))
		}
	}
}

func TestIsWorkingDay(t *testing.T) {
	for _, c := range []struct {
		day     time.Time
		working bool
	}{
		{Date(2024, 5, 4), true},    // Saturday worked for Monday 29 April 2024
		{Date(2024, 4, 29), false},  // that Monday
		{Date(2025, 4, 26), true},   // Saturday worked for Friday 2 May 2025
		{Date(2025, 5, 2), false},   // that Friday
		{Date(2026, 2, 17), false},  // Tết 2026, first day of the lunar year
		{Date(2026, 2, 23), true},   // first working day after it
		{Date(2023, 5, 3), false},   // compensating 30/4 2023, a Sunday
		{Date(2022, 1, 3), false},   // compensating 1/1 2022, a Saturday
		{Date(2026, 8, 22), true},   // Saturday worked for Monday 31 August 2026
		{Date(2026, 8, 31), false},  // that Monday
		{Date(2026, 1, 10), true},   // Saturday worked for Friday 2 January 2026
		{Date(2026, 11, 24), true},  // Vietnam Culture Day: not a holiday in force
		{Date(2026, 11, 28), false}, // a Saturday
	} {
		w, est := IsWorkingDay(c.day)
		if w != c.working || est {
			t.Errorf("IsWorkingDay(%s) = %v (estimated %v), want %v", c.day.Format(time.DateOnly), w, est, c.working)
		}
	}
}

// TestTableIsConsistent: every day off in the table is a weekday of its
// year, every day worked a weekend day, and each year gives at least the 11
// holidays of Art. 112 as days off or weekends.
func TestTableIsConsistent(t *testing.T) {
	for y := FirstYear; y <= LastYear; y++ {
		yr, ok := years[y]
		if !ok {
			t.Fatalf("no table for %d", y)
		}
		for _, md := range yr.off {
			d := Date(y, time.Month(md/100), md%100)
			if d.Month() != time.Month(md/100) || d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
				t.Errorf("%d: day off %04d is not a weekday of the year", y, md)
			}
		}
		for _, md := range yr.worked {
			d := Date(y, time.Month(md/100), md%100)
			if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
				t.Errorf("%d: day worked %04d is not a weekend day", y, md)
			}
		}
		if n := len(yr.off) - len(yr.worked); n > 13 || n < 8 {
			t.Errorf("%d: %d weekdays off net of swaps, outside what Art. 112 gives", y, n)
		}
	}
}

func TestOutsideTheTableIsEstimated(t *testing.T) {
	due, est := AddWorkingDays(Date(2030, 4, 26), 7) // Friday; 30/4, 1/5 off
	if !est || !due.Equal(Date(2030, 5, 9)) {
		t.Errorf("2030: due %s estimated %v, want 2030-05-09 estimated", due.Format(time.DateOnly), est)
	}
	if _, est := AddWorkingDays(Date(2027, 12, 28), 7); !est {
		t.Error("a period running into 2028 is not reported estimated")
	}
}

func TestLatestStart(t *testing.T) {
	// Requests from Friday 13 to Sunday 22 Feb 2026 are all due 3 March;
	// on 4 March they are late, one of Monday 23 Feb is not.
	if got := LatestStart(Date(2026, 3, 4), 7); !got.Equal(Date(2026, 2, 22)) {
		t.Errorf("LatestStart(2026-03-04, 7) = %s, want 2026-02-22", got.Format(time.DateOnly))
	}
	for d := Date(2026, 1, 1); d.Before(Date(2026, 12, 31)); d = d.AddDate(0, 0, 1) {
		s := LatestStart(d, 7)
		due, _ := AddWorkingDays(s, 7)
		next, _ := AddWorkingDays(s.AddDate(0, 0, 1), 7)
		if !due.Before(d) || next.Before(d) {
			t.Fatalf("LatestStart(%s) = %s: not the latest start already late", d.Format(time.DateOnly), s.Format(time.DateOnly))
		}
	}
}

// TestAddCalendarDaysEndsOnAWorkingDay counts reports' deadlines (15
// calendar days) whose last day is not worked, which move to the next
// working day (Civil Code 2015 Art. 148(5)).
func TestAddCalendarDaysEndsOnAWorkingDay(t *testing.T) {
	for _, c := range []struct {
		name      string
		from, due time.Time
		estimated bool
	}{
		{"an ordinary Tuesday", Date(2026, 3, 2), Date(2026, 3, 17), false},
		// The 15th day, 16 February 2026, is within Tết (off 14–22 Feb).
		{"into Tết 2026", Date(2026, 2, 1), Date(2026, 2, 23), false},
		{"the 15th day the Saturday Tết 2026 begins", Date(2026, 1, 30), Date(2026, 2, 23), false},
		{"the 15th day the Friday before Tết 2026", Date(2026, 1, 29), Date(2026, 2, 13), false},
		{"a Sunday", Date(2025, 3, 1), Date(2025, 3, 17), false},
		{"a Saturday", Date(2025, 2, 28), Date(2025, 3, 17), false},
		// 1 September 2026, within 29 Aug–2 Sep.
		{"into 2/9 2026", Date(2026, 8, 17), Date(2026, 9, 3), false},
		// Saturday 22 August 2026 is worked (for Monday 31 August).
		{"a Saturday worked", Date(2026, 8, 7), Date(2026, 8, 22), false},
		{"a Monday swapped for a Saturday", Date(2026, 8, 16), Date(2026, 9, 3), false},
		// Outside the table: Saturday 2 September 2028, then Sunday.
		{"2/9 2028, estimated", Date(2028, 8, 18), Date(2028, 9, 4), true},
		{"an ordinary day of 2028, estimated", Date(2028, 3, 1), Date(2028, 3, 16), true},
	} {
		due, est := AddCalendarDays(c.from, 15)
		if !due.Equal(c.due) || est != c.estimated {
			t.Errorf("%s: 15 days after %s end %s (estimated %v), want %s (estimated %v)", c.name,
				c.from.Format(time.DateOnly), due.Format(time.DateOnly), est, c.due.Format(time.DateOnly), c.estimated)
		}
	}
}

func TestLatestCalendarStart(t *testing.T) {
	// Signed from 30 January to 8 February 2026, reports are all due 23
	// February, after Tết: up to 23 February none is late, on 24 February
	// all are. One signed on 29 January was due Friday 13 February.
	for _, c := range []struct{ today, latest time.Time }{
		{Date(2026, 2, 17), Date(2026, 1, 29)},
		{Date(2026, 2, 23), Date(2026, 1, 29)},
		{Date(2026, 2, 24), Date(2026, 2, 8)},
		{Date(2026, 3, 18), Date(2026, 3, 2)},
	} {
		if got := LatestCalendarStart(c.today, 15); !got.Equal(c.latest) {
			t.Errorf("LatestCalendarStart(%s, 15) = %s, want %s", c.today.Format(time.DateOnly), got.Format(time.DateOnly), c.latest.Format(time.DateOnly))
		}
	}
	for d := Date(2025, 1, 1); d.Before(Date(2029, 1, 1)); d = d.AddDate(0, 0, 1) {
		s := LatestCalendarStart(d, 15)
		due, _ := AddCalendarDays(s, 15)
		next, _ := AddCalendarDays(s.AddDate(0, 0, 1), 15)
		if !due.Before(d) || next.Before(d) {
			t.Fatalf("LatestCalendarStart(%s) = %s: not the latest start already late", d.Format(time.DateOnly), s.Format(time.DateOnly))
		}
	}
}
