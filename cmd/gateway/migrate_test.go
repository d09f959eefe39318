package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/internal/logtest"
	"github.com/socialaid-vn/gateway/lookup"
	"github.com/socialaid-vn/gateway/redisconn"
)

// `gateway migrate` moves a read model and subscriptions of the single-tag layout, says what it
// moved, and finds nothing the second time.
func TestMigrateCommand(t *testing.T) {
	vars := importEnv(t, 4093)
	ctx := context.Background()
	opts, err := redis.ParseURL(vars["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	communes, err := lookup.ReadCommunes(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	store, err := lookup.New(rdb, lookup.Options{HashKey: []byte(vars["LOOKUP_HASH_KEY"]), Communes: communes})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := store.WriteLegacyApplication(ctx, map[string]string{
			"code": fmt.Sprintf("TM-2024-%06d", i), "full_name": "Lê Văn Thử", "birth_date": "1950-05-06",
			"citizen_id": fmt.Sprintf("00000014%04d", i), "phone": "0900000777", "commune": "Hưng Hà",
			"category": "disability", "status": "approved", "updated_at": "2025-09-01T08:00:00+07:00",
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := audience.WriteLegacy(ctx, rdb, audience.Subscriber{Channel: gateway.SMS, ID: "+84900000777", Commune: "Hưng Hà", Lang: "vi", Since: time.Now()}, "active", ""); err != nil {
		t.Fatal(err)
	}
	var logged logtest.Buffer
	a := &app{conn: &redisconn.Conn{Client: rdb}, log: slog.New(slog.NewTextHandler(&logged, nil))}
	a.warnLegacy(ctx)
	if !strings.Contains(logged.String(), "gateway migrate") {
		t.Errorf("no warning about data of the old layout: %q", logged.String())
	}
	code, out, errOut := runGateway(t, vars, "", "migrate")
	if code != 0 || !strings.Contains(out, "3 applications") || !strings.Contains(out, "1 subscriptions") || !strings.Contains(errOut, "migrate: read model") {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errOut)
	}
	apps, err := store.ByPhone(ctx, "telegram:1", "0900000777")
	if err != nil || len(apps) != 3 || apps[2].Code != "TM-2024-000002" || apps[0].Category != "disability" {
		t.Errorf("after migrate: %v %v", apps, err)
	}
	if app, err := store.Verify(ctx, "sms:+84911111111", "TM-2024-000001", "0001"); err != nil || app.Status != "approved" {
		t.Errorf("verify after migrate: %v %v", app, err)
	}
	if n, _, _ := audience.New(rdb).Count(ctx, audience.Filter{Communes: []string{"Hưng Hà"}}); n != 1 {
		t.Errorf("audience after migrate: %d", n)
	}
	code, out, _ = runGateway(t, vars, "", "migrate")
	if code != 0 || !strings.Contains(out, "nothing to migrate") {
		t.Errorf("second migrate: exit %d: %s", code, out)
	}
	var after logtest.Buffer
	a.log = slog.New(slog.NewTextHandler(&after, nil))
	a.warnLegacy(ctx)
	if after.String() != "" {
		t.Errorf("warning after the migration: %q", after.String())
	}
}
