package cases

import "time"

// Calendar is the working calendar (package knowledge: holidays.csv and the communes' office
// hours).
type Calendar interface {
	// WorkingDay reports whether the day t falls on, in Vietnam time, is a working day.
	WorkingDay(t time.Time) bool
	// OfficeOpen reports whether the commune's office is open at t.
	OfficeOpen(commune string, t time.Time) bool
	// NextOfficeOpen is when the commune's office next opens at or after t (zero if not within
	// weeks).
	NextOfficeOpen(commune string, t time.Time) time.Time
}

// Vietnam is the time zone of deadlines and case codes (UTC+7, no daylight saving).
var Vietnam = time.FixedZone("ICT", 7*3600)

// dayStart is midnight, Vietnam time, of the day t falls on.
func dayStart(t time.Time) time.Time {
	t = t.In(Vietnam)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, Vietnam)
}

// DueAfter returns the deadline of n working days from t: the end (23:59:59, Vietnam time) of the
// n-th working day after the day of t. The day of t itself never counts, so a case opened on a
// Friday afternoon with n = 2 is due by the end of Tuesday, and one opened on Saturday too;
// weekends and the holidays of the calendar are skipped. n below 1 counts as 1.
func DueAfter(cal Calendar, t time.Time, n int) time.Time {
	n = max(n, 1)
	d := dayStart(t)
	for counted := 0; counted < n; {
		d = d.AddDate(0, 0, 1)
		if cal.WorkingDay(d.Add(12 * time.Hour)) {
			counted++
		}
		if d.Sub(dayStart(t)) > 400*24*time.Hour { // a calendar with no working day at all
			break
		}
	}
	return d.AddDate(0, 0, 1).Add(-time.Second)
}
