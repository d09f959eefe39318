package knowledge

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// The working calendar: public holidays and swapped days (holidays.csv), and each commune's
// office hours (the hours column of communes.csv). Case deadlines count working days with it, and
// a request for a person is a live hand-off only while the commune's office is open.

// dayKind is what holidays.csv says of one date.
type dayKind struct {
	workday    bool // a weekend day offices work (làm bù); otherwise a day off
	name, enNm string
}

// span is a stretch of opening time, in minutes after midnight.
type span struct{ from, to int }

// week is a weekly opening schedule, indexed by time.Weekday.
type week [7][]span

// defaultHours is the schedule of a commune whose hours column is empty: the usual opening hours
// of a commune's one-stop desk, Monday to Friday.
const defaultHours = "T2-T6 7:30-11:30, 13:30-17:00"

func (b *Base) loadHolidays(fsys fs.FS) error {
	const file = "holidays.csv"
	rows, err := readCSV(fsys, file, []string{"date", "kind", "name", "name_en"}, nil)
	if err != nil {
		return err
	}
	b.days = map[string]dayKind{}
	lines := map[string]int{}
	for _, r := range rows {
		d, err := parseDate(r.get("date"))
		if err != nil {
			return lineError(file, r.line, "%v", err)
		}
		key := d.Format(time.DateOnly)
		if prev, dup := lines[key]; dup {
			return lineError(file, r.line, "%s is already on line %d", key, prev)
		}
		k := dayKind{name: r.get("name"), enNm: r.get("name_en")}
		if err := requireFields(map[string]string{"name": k.name, "name_en": k.enNm}); err != nil {
			return lineError(file, r.line, "%v", err)
		}
		switch r.get("kind") {
		case "holiday":
		case "workday":
			if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
				return lineError(file, r.line, "%s is a %s: only a Saturday or Sunday can be a workday (làm bù)", key, wd)
			}
			k.workday = true
		default:
			return lineError(file, r.line, "kind must be holiday or workday, not %q", r.get("kind"))
		}
		lines[key] = r.line
		b.days[key] = k
	}
	return nil
}

// CalendarEnds is the last date holidays.csv lists (zero when it lists none): past it, case
// deadlines count only weekends as days off, Tết and swapped days included as working days.
func (b *Base) CalendarEnds() time.Time {
	var last string
	for k := range b.days {
		if k > last {
			last = k
		}
	}
	t, _ := time.ParseInLocation(time.DateOnly, last, vietnam)
	return t
}

// calendarHorizon is how far ahead holidays.csv should reach: the longest case deadline
// (CASE_RESOLVE_DAYS is at most 60 working days) with some margin.
const calendarHorizon = 100 * 24 * time.Hour

// CalendarWarning is a warning for the start-up log when holidays.csv does not cover the next
// calendarHorizon: it lists nothing that far, or a Tết that falls within it (the first day of
// the lunar year is always between 21 January and 20 February) is missing — Tết is announced
// each year, so the file cannot list it in advance. "" when the calendar is complete.
func (b *Base) CalendarWarning(now time.Time) string {
	now = now.In(vietnam)
	horizon := now.Add(calendarHorizon)
	const fix = ": case deadlines would count those days as working days; add next year's holidays (Tết, Giỗ Tổ, swapped days) when the Government announces them"
	end := b.CalendarEnds()
	if end.IsZero() || !end.After(horizon) {
		last := "no date"
		if !end.IsZero() {
			last = "nothing after " + end.Format(time.DateOnly)
		}
		return "knowledge/holidays.csv lists " + last + fix
	}
	for y := now.Year(); y <= horizon.Year(); y++ {
		tetFrom := time.Date(y, time.January, 21, 0, 0, 0, 0, vietnam)
		tetTo := time.Date(y, time.February, 20, 0, 0, 0, 0, vietnam)
		if horizon.Before(tetFrom) || now.After(tetTo) {
			continue
		}
		listed := false
		for k, d := range b.days {
			if strings.HasPrefix(k, strconv.Itoa(y)+"-") && strings.Contains(d.enNm, "Lunar New Year") {
				listed = true
				break
			}
		}
		if !listed {
			return fmt.Sprintf("knowledge/holidays.csv has no Tết Nguyên đán (name_en \"Lunar New Year\") for %d%s", y, fix)
		}
	}
	return ""
}

// parseHours reads an opening-hours text such as "T2-T6 7:30-11:30, 13:30-17:00; T7 7:30-11:30":
// parts separated by ";", each a day or days (T2 … T7, CN; ranges "T2-T6", lists "T2,T4") then
// one or more times "H:MM-H:MM" separated by commas ("7h30" is read as 7:30 too).
func parseHours(s string) (week, error) {
	var w week
	if strings.TrimSpace(s) == "" {
		s = defaultHours
	}
	bad := func(format string, a ...any) (week, error) {
		return week{}, fmt.Errorf("hours %q: %s (write e.g. %q)", s, fmt.Sprintf(format, a...), defaultHours+"; T7 7:30-11:30")
	}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		daysText, timesText, ok := strings.Cut(part, " ")
		if !ok {
			return bad("%q has days but no times", part)
		}
		var days []time.Weekday
		for _, d := range strings.Split(daysText, ",") {
			from, to, isRange := strings.Cut(strings.TrimSpace(d), "-")
			a, ok1 := weekday(from)
			b := a
			ok2 := true
			if isRange {
				b, ok2 = weekday(to)
			}
			if !ok1 || !ok2 {
				return bad("unknown day %q (T2 … T7, CN)", d)
			}
			// T2 (Monday) … CN (Sunday): walk forward, Sunday last.
			for i, n := int(order(a)), int(order(b)); i <= n; i++ {
				days = append(days, time.Weekday((i+1)%7))
			}
			if order(a) > order(b) {
				return bad("day range %q goes backwards", d)
			}
		}
		for _, t := range strings.Split(timesText, ",") {
			from, to, ok := strings.Cut(strings.TrimSpace(t), "-")
			f, okF := clock(from)
			e, okE := clock(to)
			if !ok || !okF || !okE || f >= e {
				return bad("bad times %q", strings.TrimSpace(t))
			}
			for _, d := range days {
				w[d] = append(w[d], span{f, e})
			}
		}
	}
	return w, nil
}

// weekday reads T2 … T7 and CN (any case).
func weekday(s string) (time.Weekday, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "CN" {
		return time.Sunday, true
	}
	if len(s) == 2 && s[0] == 'T' && s[1] >= '2' && s[1] <= '7' {
		return time.Weekday(s[1] - '1'), true
	}
	return 0, false
}

// order puts Monday first and Sunday last.
func order(d time.Weekday) int { return (int(d) + 6) % 7 }

// clock reads "7:30", "07:30", "7h30" or "7h" as minutes after midnight.
func clock(s string) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	h, m, found := strings.Cut(strings.Replace(s, "h", ":", 1), ":")
	if !found {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm := 0
	var err2 error
	if m != "" {
		mm, err2 = strconv.Atoi(m)
	}
	if err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, false
	}
	return hh*60 + mm, true
}

// WorkingDay reports whether the day t falls on (Vietnam time) is a working day for offices:
// Monday to Friday unless holidays.csv makes it a holiday, or a weekend day it lists as a workday.
func (b *Base) WorkingDay(t time.Time) bool {
	d := dayOf(t)
	if k, ok := b.days[d.Format(time.DateOnly)]; ok {
		return k.workday
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// Holiday returns the name (in lang) of the holiday t falls on, if holidays.csv lists one.
func (b *Base) Holiday(t time.Time, lang string) (string, bool) {
	k, ok := b.days[dayOf(t).Format(time.DateOnly)]
	if !ok || k.workday {
		return "", false
	}
	if normLang(lang) == "en" {
		return k.enNm, true
	}
	return k.name, true
}

// schedule is the opening hours of the day t falls on at the commune's office (the default
// hours for an unknown commune): none on a holiday; Monday's on a weekend workday.
func (b *Base) schedule(commune string, t time.Time) []span {
	w := b.defaultWeek
	if i, ok := b.communeIndex(commune); ok && commune != "" {
		w = b.weeks[i]
	}
	d := dayOf(t)
	if k, ok := b.days[d.Format(time.DateOnly)]; ok {
		if !k.workday {
			return nil
		}
		return w[time.Monday]
	}
	return w[d.Weekday()]
}

// OfficeOpen reports whether the commune's office is open at t (Vietnam time), by its hours in
// communes.csv and the holidays of holidays.csv.
func (b *Base) OfficeOpen(commune string, t time.Time) bool {
	local := t.In(vietnam)
	m := local.Hour()*60 + local.Minute()
	for _, s := range b.schedule(commune, t) {
		if m >= s.from && m < s.to {
			return true
		}
	}
	return false
}

// NextOfficeOpen returns when the commune's office next opens at or after t: t itself when it is
// open, else the start of its next opening hours within the coming 60 days (zero if none).
func (b *Base) NextOfficeOpen(commune string, t time.Time) time.Time {
	if b.OfficeOpen(commune, t) {
		return t
	}
	local := t.In(vietnam)
	m := local.Hour()*60 + local.Minute()
	day := dayOf(t)
	for i := 0; i < 60; i++ {
		d := day.AddDate(0, 0, i)
		for _, s := range b.schedule(commune, d) {
			if i > 0 || s.from > m {
				return d.Add(time.Duration(s.from) * time.Minute)
			}
		}
	}
	return time.Time{}
}
