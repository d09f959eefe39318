package knowledge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/knowledge"
)

var ict = time.FixedZone("ICT", 7*3600)

func at(y int, m time.Month, d, hh, mm int) time.Time { return time.Date(y, m, d, hh, mm, 0, 0, ict) }

func TestWorkingDays(t *testing.T) {
	b := load(t)
	cases := []struct {
		day  time.Time
		work bool
		why  string
	}{
		{at(2026, 1, 5, 9, 0), true, "an ordinary Monday"},
		{at(2026, 1, 3, 9, 0), false, "a Saturday"},
		{at(2026, 1, 4, 9, 0), false, "a Sunday"},
		{at(2026, 1, 1, 9, 0), false, "New Year's Day"},
		{at(2026, 1, 2, 9, 0), false, "the Friday swapped for Saturday 10 January"},
		{at(2026, 1, 10, 9, 0), true, "the Saturday worked instead"},
		{at(2026, 2, 18, 9, 0), false, "Tết"},
		{at(2026, 4, 27, 9, 0), false, "the compensatory day for Hung Kings' Day on a Sunday"},
		{at(2026, 9, 2, 9, 0), false, "National Day"},
		// Vietnam time decides: 23:30 UTC on Sunday is already Monday morning in Hanoi.
		{time.Date(2026, 1, 4, 23, 30, 0, 0, time.UTC), true, "Monday in Vietnam"},
	}
	for _, c := range cases {
		if got := b.WorkingDay(c.day); got != c.work {
			t.Errorf("%s (%s): WorkingDay = %v", c.day.Format(time.DateTime), c.why, got)
		}
	}
	if name, ok := b.Holiday(at(2026, 2, 17, 8, 0), "vi"); !ok || name != "Tết Nguyên đán" {
		t.Errorf("Holiday = %q %v", name, ok)
	}
	if name, _ := b.Holiday(at(2026, 2, 17, 8, 0), "en"); !strings.Contains(name, "Lunar New Year") {
		t.Errorf("Holiday en = %q", name)
	}
}

func TestOfficeHours(t *testing.T) {
	b := load(t)
	// Vũ Phúc: "T2-T6 7:30-11:30, 13:30-17:00; T7 7:30-11:30"; Kiến Xương opens at 7:00, no Saturday.
	open := []struct {
		commune string
		t       time.Time
		want    bool
	}{
		{"Vũ Phúc", at(2026, 1, 5, 7, 29), false},
		{"Vũ Phúc", at(2026, 1, 5, 7, 30), true},
		{"Vũ Phúc", at(2026, 1, 5, 12, 0), false}, // lunch
		{"Vũ Phúc", at(2026, 1, 5, 16, 59), true},
		{"Vũ Phúc", at(2026, 1, 5, 17, 0), false},
		{"Vũ Phúc", at(2026, 1, 17, 9, 0), true},     // Saturday morning
		{"Kiến Xương", at(2026, 1, 17, 9, 0), false}, // no Saturday hours
		{"Kiến Xương", at(2026, 1, 5, 7, 0), true},
		{"Vũ Phúc", at(2026, 2, 18, 9, 0), false},   // Tết
		{"Kiến Xương", at(2026, 1, 10, 9, 0), true}, // working Saturday: weekday hours
		{"", at(2026, 1, 5, 9, 0), true},            // unknown commune: the usual hours
	}
	for _, c := range open {
		if got := b.OfficeOpen(c.commune, c.t); got != c.want {
			t.Errorf("OfficeOpen(%s, %s) = %v", c.commune, c.t.Format("Mon 2006-01-02 15:04"), got)
		}
	}
	next := []struct {
		commune string
		from    time.Time
		want    time.Time
	}{
		{"Vũ Phúc", at(2026, 1, 5, 12, 0), at(2026, 1, 5, 13, 30)},     // after lunch
		{"Vũ Phúc", at(2026, 1, 16, 18, 0), at(2026, 1, 17, 7, 30)},    // Friday evening → Saturday
		{"Kiến Xương", at(2026, 1, 16, 18, 0), at(2026, 1, 19, 7, 0)},  // → Monday
		{"Kiến Xương", at(2026, 2, 13, 17, 30), at(2026, 2, 23, 7, 0)}, // across Tết
		{"Vũ Phúc", at(2026, 1, 5, 9, 0), at(2026, 1, 5, 9, 0)},        // open now
		{"Trần Lãm", at(2025, 12, 31, 20, 0), at(2026, 1, 5, 7, 30)},   // New Year and the swapped Friday
	}
	for _, c := range next {
		if got := b.NextOfficeOpen(c.commune, c.from); !got.Equal(c.want) {
			t.Errorf("NextOfficeOpen(%s, %s) = %s, want %s", c.commune, c.from.Format("Mon 01-02 15:04"),
				got.In(ict).Format("Mon 01-02 15:04"), c.want.Format("Mon 01-02 15:04"))
		}
	}
}

func TestCalendarFilesAreValidated(t *testing.T) {
	head := "date,kind,name,name_en\n"
	communes := shipped(t, "communes.csv")
	cases := []struct{ name, file, content, want string }{
		{"bad date", "holidays.csv", head + "2026-02-30,holiday,a,b\n", "knowledge/holidays.csv:2: bad date"},
		{"twice", "holidays.csv", head + "2026-01-01,holiday,a,b\n2026-01-01,holiday,a,b\n", "knowledge/holidays.csv:3: 2026-01-01 is already on line 2"},
		{"workday on a weekday", "holidays.csv", head + "2026-01-05,workday,a,b\n", "knowledge/holidays.csv:2: 2026-01-05 is a Monday"},
		{"kind", "holidays.csv", head + "2026-01-05,nghi,a,b\n", `kind must be holiday or workday, not "nghi"`},
		{"no name", "holidays.csv", head + "2026-01-05,holiday,,b\n", "knowledge/holidays.csv:2: empty name"},
		{"bad hours", "communes.csv", communes + `Thử Nghiệm,xa,Hưng Yên,o,a,1,"T2-T6 7:30-25:00",x` + "\n", "knowledge/communes.csv:20: Thử Nghiệm: hours"},
		{"bad day", "communes.csv", communes + `Thử Nghiệm,xa,Hưng Yên,o,a,1,"Thu 2 7:30-11:00",x` + "\n", `unknown day "Thu"`},
	}
	for _, c := range cases {
		_, err := knowledge.Load(withFiles(t, map[string]string{c.file: c.content}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want an error containing %q, got %v", c.name, c.want, err)
		}
	}
}

// A calendar that does not reach past the longest deadline, or lacks a Tết within it, is said
// so at start-up: the shipped file has no Tết for 2027 yet (not announced when it was written).
func TestCalendarWarningWhenHolidaysRunOut(t *testing.T) {
	kb := load(t)
	if w := kb.CalendarWarning(time.Date(2026, 6, 1, 9, 0, 0, 0, ict)); w != "" {
		t.Errorf("June 2026: %q", w)
	}
	w := kb.CalendarWarning(time.Date(2026, 12, 2, 9, 0, 0, 0, ict))
	if !strings.Contains(w, "no Tết Nguyên đán") || !strings.Contains(w, "2027") {
		t.Errorf("December 2026 (Tết 2027 within 100 days, not listed): %q", w)
	}
	end := kb.CalendarEnds()
	w = kb.CalendarWarning(end.AddDate(0, -1, 0))
	if !strings.Contains(w, "nothing after "+end.Format(time.DateOnly)) {
		t.Errorf("a month before its last date: %q", w)
	}
}
