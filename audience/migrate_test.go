package audience

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

// TestMigrateFromSingleTag: subscriptions of the old layout → migrate (interrupted, resumed) →
// counted, scanned, stopped and unsubscribed as before; migrating again changes nothing.
func TestMigrateFromSingleTag(t *testing.T) {
	rdb := redistest.New(t)
	s := New(rdb)
	ctx := context.Background()
	since := time.Unix(1700000000, 0)
	const n = 1500
	for i := range n {
		sub := Subscriber{Channel: gateway.Telegram, ID: fmt.Sprint(1000 + i), Commune: "Vũ Phúc", Lang: "vi", Category: "elderly", Since: since}
		if i%2 == 1 {
			sub = Subscriber{Channel: gateway.SMS, ID: fmt.Sprintf("+8491200%04d", i), Commune: "Trần Lãm", Lang: "en", Since: since}
		}
		state, reason := stateActive, ""
		switch i {
		case 3:
			state, reason = stateStopped, ReasonOptedOut
		case 5:
			state, reason = stateUnsubscribed, ReasonUnsubscribed
		}
		if err := WriteLegacy(ctx, rdb, sub, state, reason); err != nil {
			t.Fatal(err)
		}
	}
	// Someone subscribed again in the new layout before the migration: the newer record stands.
	if err := s.Subscribe(ctx, Subscriber{Channel: gateway.Telegram, ID: "1000", Commune: "Hưng Hà"}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("interrupted")
	if _, err := s.Migrate(ctx, func(int) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("interrupted: %v", err)
	}
	if left, _ := rdb.Keys(ctx, LegacyPrefix+"sub:*").Result(); len(left) == 0 {
		t.Fatal("the test needs an interruption half-way")
	}
	if _, err := s.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	total, per, err := s.Count(ctx, Filter{})
	if err != nil || total != n-2 || per[gateway.SMS] != n/2-2 {
		t.Errorf("count after migration %d %v %v", total, per, err)
	}
	if total, _, _ := s.Count(ctx, Filter{Communes: []string{"Hung Ha"}}); total != 1 {
		t.Errorf("the newer subscription was replaced: %d in Hưng Hà", total)
	}
	if st, _ := s.Status(ctx, gateway.SMS, "+84912000003"); st != ReasonOptedOut {
		t.Errorf("status of the opted-out %q", st)
	}
	if st, _ := s.Status(ctx, gateway.SMS, "+84912000005"); st != ReasonUnsubscribed {
		t.Errorf("status of the unsubscribed %q", st)
	}
	sub, _ := s.Get(ctx, gateway.Telegram, "1002")
	if sub == nil || !sub.Since.Equal(since) || sub.Category != "elderly" {
		t.Errorf("migrated subscription %+v", sub)
	}
	if ex, _ := s.Excluded(ctx, Filter{}); ex[ReasonOptedOut] != 1 || ex[ReasonUnsubscribed] != 1 {
		t.Errorf("excluded %v", ex)
	}
	if old, _ := rdb.Keys(ctx, LegacyPrefix+"*").Result(); len(old) != 0 {
		t.Errorf("old keys left: %d", len(old))
	}
	if again, err := s.Migrate(ctx, nil); again != 0 || err != nil {
		t.Errorf("second migration moved %d, %v", again, err)
	}
}
