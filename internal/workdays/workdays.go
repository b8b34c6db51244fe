// Package workdays is Vietnam's working-day calendar, the one every
// deadline counted in working days ("ngày làm việc") is computed with, and
// the one that moves the end of a period of calendar days off a day not
// worked (Civil Code 2015 Art. 148(5)). A working day is Monday to Friday,
// less the public holidays of the Labour Code 2019 (Art. 112) and the
// compensatory days off, plus the Saturdays worked, that the Government
// announces each year for public agencies. The table of those days is
// below, one entry per year, each naming its source; outside its years the
// calendar knows only weekends and the fixed solar holidays and says its
// answer is estimated.
package workdays

import (
	"time"
)

// year is one year's announced calendar for officials and public employees
// (cán bộ, công chức, viên chức), who work Monday to Friday.
type year struct {
	// off are the weekdays not worked: the holidays themselves, the days
	// off compensating a holiday on a weekend, and days swapped for a
	// Saturday worked. Month*100+day.
	off []int
	// worked are the Saturdays (or Sundays) worked in exchange for a
	// swapped day off.
	worked []int
}

// The public holidays of Art. 112(1) Labour Code 2019 (in force 1/1/2021):
// 1 January; Tết Nguyên đán, 5 days; Hùng Kings' day (10th of the 3rd
// lunar month); 30 April; 1 May; 2 September and the day before or after
// it. A holiday on a Saturday or Sunday gives a compensatory day off on the
// next working day (Art. 111(3)); the Prime Minister may swap a working day
// with a Saturday to join days off, announced by the ministry in charge of
// labour (MOLISA until 2025, then the Ministry of Home Affairs).
//
// The table covers 2021 (Law 70/2020 on international agreements in force
// 1/7/2021) through 2027. Sources, per year, the ministry's announcement of
// the holiday schedule for officials; entries marked [U] were not confirmed
// against a published announcement when this table was written and must be
// checked before they decide a dispute:
//
//	2021  MOLISA announcement for 2021 [U number]: Tết 10–16 Feb; Hùng Kings
//	      21 Apr; 30 Apr–3 May (1 May a Saturday); 2–3 Sep.
//	2022  MOLISA announcement for 2022 [U number]: 1 Jan a Saturday, off
//	      3 Jan; Tết 29 Jan–6 Feb; Hùng Kings 10 Apr a Sunday, off 11 Apr;
//	      30 Apr–3 May; 1–4 Sep.
//	2023  MOLISA announcement for 2023 [U number]: 31 Dec–2 Jan; Tết
//	      20–26 Jan; Hùng Kings 29 Apr with 30 Apr, 1 May: off 29 Apr–3 May,
//	      no swap; 1–4 Sep [U].
//	2024  MOLISA, Prime Minister's swap approved: 30 Dec–1 Jan; Tết
//	      8–14 Feb; Hùng Kings 18 Apr; 27 Apr–1 May, 29 Apr swapped with
//	      Saturday 4 May; 31 Aug–3 Sep.
//	2025  MOLISA (baochinhphu.vn, 4 Mar 2025): 1 Jan; Tết 25 Jan–2 Feb;
//	      Hùng Kings 5–7 Apr; 30 Apr–4 May, 2 May swapped with Saturday
//	      26 Apr; 30 Aug–2 Sep (Ministry of Home Affairs, vietnamnews.vn
//	      4 Aug 2025).
//	2026  Ministry of Home Affairs: 1–4 Jan, 2 Jan swapped with Saturday
//	      10 Jan (Government Office letter 12729/VPCP-KGVX, 25 Dec 2025,
//	      dantri.com.vn); Tết 14–22 Feb (Công an TP.HCM, "chốt phương án
//	      Tết Bính Ngọ 2026 nghỉ 9 ngày"); Hùng Kings 26 Apr a Sunday, off
//	      25–27 Apr; 30 Apr–3 May (VnExpress International); 29 Aug–2 Sep,
//	      2 Sep with 1 Sep and Monday 31 Aug swapped with Saturday 22 Aug
//	      (Ministry of Home Affairs, vietnamnews.vn 17 Oct 2025, with Tết).
//	2027  Not announced when written, derived from the Code [U]: 1 Jan;
//	      Tết (New Year 6 Feb) 4–10 Feb; Hùng Kings 16 Apr; 30 Apr, 1 May
//	      a Saturday so 3 May; 2–3 Sep.
//
// Vietnam Culture Day (24 November) was chosen by the Politburo as a paid
// day off, and Government Resolution 30/NQ-CP (2026) tasks amending
// Art. 112 to add it; it is not in the table because no amendment in force
// was found. Add it here, and only here, when one is.
var years = map[int]year{
	2021: {off: []int{101, 210, 211, 212, 215, 216, 421, 430, 503, 902, 903}},
	2022: {off: []int{103, 131, 201, 202, 203, 204, 411, 502, 503, 901, 902}},
	2023: {off: []int{102, 120, 123, 124, 125, 126, 501, 502, 503, 901, 904}},
	2024: {off: []int{101, 208, 209, 212, 213, 214, 418, 429, 430, 501, 902, 903}, worked: []int{504}},
	2025: {off: []int{101, 127, 128, 129, 130, 131, 407, 430, 501, 502, 901, 902}, worked: []int{426}},
	2026: {off: []int{101, 102, 216, 217, 218, 219, 220, 427, 430, 501, 831, 901, 902}, worked: []int{110, 822}},
	2027: {off: []int{101, 204, 205, 208, 209, 210, 416, 430, 503, 902, 903}},
}

// fixedHolidays are the solar holidays of Art. 112, the fallback outside
// the table (without their compensatory days, which depend on the year's
// announcement).
var fixedHolidays = []int{101, 430, 501, 902}

// FirstYear and LastYear bound the years the table announces.
const (
	FirstYear = 2021
	LastYear  = 2027
)

// VietnamOffset is Vietnam's offset from UTC in seconds, and Vietnam its
// time zone: the one a day is reckoned in (a deadline passes at midnight in
// Hà Nội, a summary's year, quarter and month of a timestamp are Vietnam's),
// whatever the server's zone. Vietnam has kept UTC+7 without daylight
// saving since 13 June 1975, so a fixed offset is exact for every time
// since; an earlier time is reckoned at UTC+7 too (Asia/Ho_Chi_Minh has +8
// or +9 in parts of 1943-1975), one rule for every time a record may hold.
const VietnamOffset = 7 * 60 * 60

var Vietnam = time.FixedZone("ICT", VietnamOffset)

// Day returns the civil day of t in t's location, as a UTC midnight: the
// form every function here takes and returns.
func Day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Date returns the civil day y-m-d as a UTC midnight.
func Date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// IsWorkingDay reports whether public agencies work on day d, and whether
// the answer is estimated (d's year is outside the table).
func IsWorkingDay(d time.Time) (working, estimated bool) {
	d = Day(d)
	md := int(d.Month())*100 + d.Day()
	y, ok := years[d.Year()]
	if !ok {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return false, true
		}
		for _, h := range fixedHolidays {
			if h == md {
				return false, true
			}
		}
		return true, true
	}
	for _, w := range y.worked {
		if w == md {
			return true, false
		}
	}
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false, false
	}
	for _, o := range y.off {
		if o == md {
			return false, false
		}
	}
	return true, false
}

// AddWorkingDays returns the n-th working day after from (from itself not
// counted, as a period "from the day of receipt" runs under Civil Code 2015
// Art. 147), and whether any day counted lay outside the table. n < 1
// returns from.
func AddWorkingDays(from time.Time, n int) (due time.Time, estimated bool) {
	due = Day(from)
	for n > 0 {
		due = due.AddDate(0, 0, 1)
		w, e := IsWorkingDay(due)
		estimated = estimated || e
		if w {
			n--
		}
	}
	return due, estimated
}

// AddCalendarDays returns the day a period of n calendar days after from
// ends (from itself not counted, Civil Code 2015 Art. 147): the n-th day,
// or, when that day is not a working day, the next working day (Art.
// 148(5): a period whose last day is a weekend day or a holiday ends at the
// end of the next working day). It also reports whether any day looked at
// lay outside the table.
func AddCalendarDays(from time.Time, n int) (due time.Time, estimated bool) {
	due = Day(from).AddDate(0, 0, n)
	for {
		w, e := IsWorkingDay(due)
		estimated = estimated || e
		if w {
			return due, estimated
		}
		due = due.AddDate(0, 0, 1)
	}
}

// LatestStart returns the latest day whose deadline of n working days
// (AddWorkingDays) falls before today: a period started on it or earlier
// has run out by today. It is how a view turns "overdue today" into a
// range of start dates an index can serve.
func LatestStart(today time.Time, n int) time.Time {
	return latestStart(today, func(start time.Time) time.Time {
		due, _ := AddWorkingDays(start, n)
		return due
	})
}

// LatestCalendarStart is LatestStart for a period of n calendar days
// (AddCalendarDays).
func LatestCalendarStart(today time.Time, n int) time.Time {
	return latestStart(today, func(start time.Time) time.Time {
		due, _ := AddCalendarDays(start, n)
		return due
	})
}

// latestStart walks back from the day before today to the first start
// whose due date is before today; due never moves back as the start moves
// forward, so every earlier start has run out too.
func latestStart(today time.Time, due func(start time.Time) time.Time) time.Time {
	today = Day(today)
	d := today.AddDate(0, 0, -1)
	for !due(d).Before(today) {
		d = d.AddDate(0, 0, -1)
	}
	return d
}
