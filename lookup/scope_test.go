package lookup

import (
	"context"
	"strings"
	"testing"
)

// An import made for an officer writes only the rows of the officer's communes; the others are
// rejected with their line and the reason, and nothing of them is written.
func TestImportRestrictedToCommunes(t *testing.T) {
	s, _ := newStore(t)
	body := header + row("TB-2026-000001", "received", "2026-01-02T08:00:00+07:00") +
		strings.Replace(row("TB-2026-000002", "received", "2026-01-02T08:00:00+07:00"), "Vũ Phúc", "Trần Lãm", 1)
	var results []RowResult
	sum, err := s.ImportApplicationsWith(context.Background(), strings.NewReader(body), FormatCSV, ImportOptions{
		Allow: func(c string) bool { return c == "Vũ Phúc" },
		Each:  func(r RowResult) { results = append(results, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 1 || sum.Rejected != 1 || len(sum.Errors) != 1 || sum.Errors[0].Line != 3 ||
		!strings.Contains(sum.Errors[0].Reason, "not one of your communes") || len(results) != 2 {
		t.Fatalf("summary %+v results %+v", sum, results)
	}
	if app, _ := s.Get(context.Background(), "TB-2026-000002"); app != nil {
		t.Fatal("the refused row was written")
	}
	sch := "commune,date,start_time,end_time,place,method\nTrần Lãm,2026-12-20,08:00,11:00,Nhà văn hóa,cash\n"
	sum, err = s.ImportSchedulesWith(context.Background(), strings.NewReader(sch), FormatCSV, ImportOptions{Allow: func(c string) bool { return c == "Vũ Phúc" }})
	if err != nil || sum.Rejected != 1 || sum.Imported != 0 {
		t.Fatalf("schedules: %+v %v", sum, err)
	}
}
