package stats_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/stats"
)

func TestReportAddsUpDaysAndCommunes(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, stats.Vietnam)
	r := stats.New(redistest.New(t), nil).WithClock(func() time.Time { return now })
	r.Add(ctx, "q:payment", "Vũ Phúc", 1)
	r.Add(ctx, "q:payment", "Vũ Phúc", 1)
	r.Add(ctx, "q:not_understood", "", 1)
	r.Add(ctx, "q:greeting", "", 1)
	r.Add(ctx, "status:verified", "Vũ Phúc", 1)
	r.Add(ctx, "cases_opened:complaint", "Vũ Phúc", 1)
	r.Add(ctx, "deliveries:broadcast:sent", "", 40)
	r.Observe(ctx, "case_first_response", "Vũ Phúc", 2*time.Hour)
	now = now.Add(24 * time.Hour) // the next day
	r.Add(ctx, "q:payment", "Kiến Xương", 1)
	r.Add(ctx, "cases_opened:handoff", "Kiến Xương", 1)
	r.Add(ctx, "optouts:blocked", "Kiến Xương", 1)
	r.Observe(ctx, "case_first_response", "Kiến Xương", 4*time.Hour)
	r.Observe(ctx, "case_first_response", "Kiến Xương", 9*time.Hour)
	now = now.Add(24 * time.Hour)
	r.Add(ctx, "q:payment", "Vũ Phúc", 5) // outside the period below

	rep, err := r.Report(ctx, time.Date(2026, 3, 2, 0, 0, 0, 0, stats.Vietnam), time.Date(2026, 3, 3, 0, 0, 0, 0, stats.Vietnam))
	if err != nil {
		t.Fatal(err)
	}
	tot := rep.Total
	if tot.Messages != 5 || tot.Questions["payment"] != 3 || tot.NotUnderstoodShare != 0.2 {
		t.Errorf("total questions %+v share %v", tot.Questions, tot.NotUnderstoodShare)
	}
	if tot.Cases.OpenedTotal != 2 || tot.Cases.Opened["handoff"] != 1 || tot.StatusChecks["verified"] != 1 || tot.OptOuts["blocked"] != 1 {
		t.Errorf("total cases %+v", tot)
	}
	if tot.Deliveries["broadcast"]["sent"] != 40 {
		t.Errorf("deliveries %v", tot.Deliveries)
	}
	if m := tot.Cases.MedianFirstResponseHours; m == nil || *m != 4 {
		t.Errorf("median of 2, 4, 9 hours = %v", m)
	}
	vp, kx, unk := rep.Communes["Vũ Phúc"], rep.Communes["Kiến Xương"], rep.Communes[stats.Unknown]
	if vp.Messages != 2 || kx.Messages != 1 || unk.Messages != 2 {
		t.Errorf("per commune: %d %d %d", vp.Messages, kx.Messages, unk.Messages)
	}
	if m := kx.Cases.MedianFirstResponseHours; m == nil || *m != 6.5 {
		t.Errorf("Kiến Xương median %v", m)
	}
	if len(vp.Deliveries) != 0 {
		t.Errorf("deliveries are counted in total only: %v", vp.Deliveries)
	}
	only := rep.Only([]string{"Kiến Xương"})
	if only.Total.Messages != 1 || len(only.Communes) != 1 {
		t.Errorf("only Kiến Xương: %+v", only)
	}
	if m := only.Total.Cases.MedianFirstResponseHours; m == nil || *m != 6.5 {
		t.Errorf("only Kiến Xương: total median %v, want 6.5 (its own cases)", m)
	}
	if m := rep.Only([]string{"Kiến Xương", "Vũ Phúc"}).Total.Cases.MedianFirstResponseHours; m == nil || *m != 4 {
		t.Errorf("two communes: total median %v, want 4 (of 2, 4, 9 together)", m)
	}

	// Day by day: the same figures, split.
	days, err := r.Days(ctx, time.Date(2026, 3, 2, 0, 0, 0, 0, stats.Vietnam), time.Date(2026, 3, 4, 0, 0, 0, 0, stats.Vietnam))
	if err != nil || len(days) != 3 {
		t.Fatalf("days: %d %v", len(days), err)
	}
	for i, want := range []struct {
		day     string
		payment int64
	}{{"2026-03-02", 2}, {"2026-03-03", 1}, {"2026-03-04", 5}} {
		if days[i].From != want.day || days[i].To != want.day || days[i].Total.Questions["payment"] != want.payment {
			t.Errorf("day %d: %s-%s payment %d, want %s %d", i, days[i].From, days[i].To, days[i].Total.Questions["payment"], want.day, want.payment)
		}
	}
	var b strings.Builder
	if err := rep.Write(&b); err != nil || !strings.Contains(b.String(), "questions payment") || !strings.Contains(b.String(), "commune not known") {
		t.Errorf("table:\n%s", b.String())
	}
	if _, err := r.Report(ctx, now, now.AddDate(0, 0, -1)); err == nil {
		t.Error("a period ending before it starts")
	}
}

func TestStatsAPI(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, stats.Vietnam)
	r := stats.New(redistest.New(t), nil).WithClock(func() time.Time { return now })
	r.Add(context.Background(), "q:payment", "Vũ Phúc", 3)
	h := r.APIHandler(func(req *http.Request) ([]string, error) {
		if req.Header.Get("Authorization") != "Bearer t" {
			return nil, errors.New("no")
		}
		return nil, nil
	})
	get := func(q, auth string) (int, map[string]any) {
		req := httptest.NewRequest("GET", "/api/stats"+q, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	if code, _ := get("", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	code, out := get("?from=2026-03-01&to=2026-03-02", "Bearer t")
	if code != 200 || out["total"].(map[string]any)["messages"].(float64) != 3 {
		t.Errorf("report: %d %v", code, out)
	}
	code, out = get("", "Bearer t") // the last 30 days
	if code != 200 || out["from"] != "2026-02-01" || out["to"] != "2026-03-02" {
		t.Errorf("default period: %d %v", code, out)
	}
	for _, q := range []string{"?from=2026-13-01", "?to=yesterday", "?from=2026-03-02&to=2026-03-01", "?from=2020-01-01&to=2026-01-01"} {
		if code, _ := get(q, "Bearer t"); code != 400 {
			t.Errorf("%s: %d", q, code)
		}
	}
}
