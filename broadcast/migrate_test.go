package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
)

// writeLegacyBroadcast writes a broadcast as the single-tag layout did: "bc:{bc}:b:<id>" with its
// counters, the recipient marks in "bc:{bc}:r:<id>", and the entries still queued.
func writeLegacyBroadcast(t *testing.T, rdb redis.UniversalClient, id string, meta map[string]any, marks map[string]string, queued map[string]string) {
	t.Helper()
	ctx := context.Background()
	msg := func(text string) string {
		b, _ := json.Marshal(gateway.Reply{Text: text, Short: text, Intent: KindBroadcast})
		return string(b)
	}
	meta["msg:vi"], meta["msg:en"] = msg("vi:"+id), msg("en:"+id)
	meta["kind"], meta["lane"], meta["check"], meta["filter"], meta["created"] = KindBroadcast, laneBulk, checkSubscribed, "{}", "1700000000"
	pipe := rdb.Pipeline()
	pipe.HSet(ctx, LegacyPrefix+"b:"+id, meta)
	for f, m := range marks {
		pipe.HSet(ctx, LegacyPrefix+"r:"+id, f, m)
	}
	for f, lang := range queued {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: LegacyPrefix + "q:telegram:bulk", Values: []any{"b", id, "c", "telegram", "t", f, "l", lang}})
	}
	pipe.ZAdd(ctx, LegacyPrefix+"list", redis.Z{Score: 1700000000000, Member: id})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateFromSingleTag: broadcasts of the old layout → migrate (interrupted, resumed) → a
// broadcast half sent is finished, reaching only those it had not reached; a finished one keeps
// its report; one not yet expanded is expanded; migrating again changes nothing.
func TestMigrateFromSingleTag(t *testing.T) {
	f := newFixture(t, fastConfig())
	ctx := context.Background()
	f.subscribe(t, audience.Subscriber{Channel: gateway.Telegram, ID: "900", Commune: "Vũ Phúc"},
		audience.Subscriber{Channel: gateway.Telegram, ID: "901", Commune: "Vũ Phúc", Lang: "en"},
		audience.Subscriber{Channel: gateway.Telegram, ID: "4", Commune: "Hưng Hà", Lang: "en"},
		audience.Subscriber{Channel: gateway.Telegram, ID: "5", Commune: "Hưng Hà"})
	writeLegacyBroadcast(t, f.rdb, "b1", map[string]any{"status": StatusSending, "expanded": "1", "total": 5, "finished": 3, "sent": 3},
		map[string]string{"telegram:1": "s", "telegram:2": "s", "telegram:3": "s", "telegram:4": "q", "telegram:5": "c|dead-replica"},
		map[string]string{"4": "en", "5": "vi"})
	writeLegacyBroadcast(t, f.rdb, "b2", map[string]any{"status": StatusDone, "expanded": "1", "total": 2, "finished": 2, "sent": 1, "f:blocked": 1, "finished_at": "1700000100"},
		map[string]string{"telegram:6": "s", "telegram:7": "f"}, nil)
	writeLegacyBroadcast(t, f.rdb, "b3", map[string]any{"status": StatusSending, "total": 0, "finished": 0, "sent": 0}, nil, nil)
	f.rdb.HSet(ctx, LegacyPrefix+"b:b3", "filter", `{"Communes":["Vũ Phúc"]}`)
	f.rdb.Set(ctx, LegacyPrefix+"seq", 3, 0)
	f.rdb.Set(ctx, LegacyPrefix+"staff:42", `{"text":"draft"}`, time.Hour)

	stop := errors.New("interrupted")
	if _, err := f.svc.Migrate(ctx, func(int) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("interrupted: %v", err)
	}
	n, err := f.svc.Migrate(ctx, nil)
	if err != nil || n != 2 {
		t.Fatalf("resumed migration moved %d: %v", n, err)
	}
	if old, _ := f.rdb.Keys(ctx, LegacyPrefix+"*").Result(); len(old) != 0 {
		t.Errorf("old keys left: %v", old)
	}
	f.run(t)
	rep := f.waitStatus(t, "b1", StatusDone)
	if rep.Sent != 5 || rep.Total != 5 || rep.Pending != 0 {
		t.Errorf("b1 report %+v", rep)
	}
	rep3 := f.waitStatus(t, "b3", StatusDone)
	got := f.tg.deliveries()
	if len(got) != 4 || got["4"] != 1 || got["5"] != 1 || got["900"] != 1 || got["901"] != 1 {
		t.Errorf("deliveries after migration %v (only the recipients not reached, and b3's audience)", got)
	}
	for _, m := range f.tg.msgs {
		if m.To == "4" && m.Reply.Text != "en:b1" {
			t.Errorf("recipient 4 got %q, want its language kept", m.Reply.Text)
		}
	}
	if rep3.Sent != 2 {
		t.Errorf("b3 report %+v", rep3)
	}
	rep2, err := f.svc.Report(ctx, "b2")
	if err != nil || rep2.Status != StatusDone || rep2.Sent != 1 || rep2.Failed["blocked"] != 1 || rep2.Total != 2 {
		t.Errorf("b2 report %+v %v", rep2, err)
	}
	list, _, err := f.svc.List(ctx, time.Time{}, 10, nil)
	if err != nil || len(list) != 3 {
		t.Errorf("list after migration: %d %v", len(list), err)
	}
	if v := f.rdb.Get(ctx, f.svc.draftKey(42)).Val(); v == "" {
		t.Error("staff draft lost")
	}
	pv, err := f.svc.Create(ctx, Request{Text: map[string]string{"vi": "x"}})
	if err != nil || pv.ID != "b4" {
		t.Errorf("next id %v %v", pv, err)
	}
	if n, err := f.svc.Migrate(ctx, nil); n != 0 || err != nil {
		t.Errorf("second migration moved %d: %v", n, err)
	}
}
