package cases_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/stats"
)

// Every operation of cases (and of the figures) works unchanged on a Redis Cluster: a cluster
// refuses any command or script whose keys span slots, and nothing here does.
func TestOnRedisCluster(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.NewCluster(t)
	// The test server is a real cluster: it refuses keys of two slots in one command.
	if err := rdb.Do(ctx, "MSET", "a", "1", "b", "2").Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MSET over two slots: %v, want CROSSSLOT", err)
	}
	f := newFixture(t, at(2026, 3, 2, 9, 0)) // for the shared calendar and catalog
	rec := stats.New(rdb, nil).WithClock(f.clock.Now)
	svc := cases.New(rdb, shared.kb, shared.cat, f.out, rec, cases.Config{Now: f.clock.Now, Staff: staff}, nil)
	c, err := svc.OpenForCitizen(ctx, cases.NewCase{Kind: cases.Handoff, Channel: gateway.SMS, Address: "+84900000001", Commune: "Vũ Phúc", Text: "gặp cán bộ", Live: true})
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error {
			_, err := svc.AddMessage(ctx, gateway.SMS, "+84900000001", c.Code, "chưa nhận tiền")
			return err
		},
		func() error { _, err := svc.Note(ctx, cases.Admin, c.Code, "gọi lại"); return err },
		func() error { _, err := svc.Assign(ctx, cases.Admin, c.Code, "telegram:101"); return err },
		func() error { _, err := svc.Reply(ctx, cases.Admin, c.Code, "Dạ, cán bộ đây ạ."); return err },
		func() error {
			f.out.set("pa-"+c.Code+"-5", cases.Delivery{State: cases.DeliverySent})
			_, err := svc.CollectDeliveries(ctx)
			return err
		},
		func() error { _, err := svc.Leave(ctx, gateway.SMS, "+84900000001"); return err },
		func() error { _, err := svc.List(ctx, cases.Admin, cases.Filter{Status: cases.Answered}); return err },
		func() error {
			f.clock.Set(at(2026, 3, 30, 9, 0))
			_, err := svc.RemindOverdue(ctx)
			return err
		},
		func() error { _, err := svc.List(ctx, cases.Admin, cases.Filter{Overdue: true}); return err },
		func() error { _, err := svc.Close(ctx, cases.Admin, c.Code, "xong"); return err },
		func() error { _, err := svc.Reopen(ctx, cases.Admin, c.Code); return err },
		func() error { _, err := svc.Lookup(ctx, gateway.SMS, "+84900000001", c.Code); return err },
		func() error { _, err := svc.Mine(ctx, gateway.SMS, "+84900000001", 3); return err },
		func() error { _, err := svc.Counts(ctx); return err },
		func() error { _, err := svc.Export(ctx, &bytes.Buffer{}, time.Time{}, time.Time{}); return err },
		func() error { _, err := rec.Report(ctx, at(2026, 3, 1, 0, 0), at(2026, 3, 31, 0, 0)); return err },
		func() error {
			f.clock.Set(at(2030, 1, 1, 9, 0))
			n, err := svc.Purge(ctx)
			if err == nil && n != 1 {
				t.Errorf("purged %d", n)
			}
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d on a cluster: %v", i+1, err)
		}
	}
	rep, _ := rec.Report(ctx, at(2026, 3, 1, 0, 0), at(2026, 3, 31, 0, 0))
	if rep.Total.Cases.OpenedTotal != 1 || rep.Total.Cases.Closed != 1 || rep.Total.Cases.Overdue != 1 {
		t.Errorf("figures on the cluster: %+v", rep.Total.Cases)
	}
}
