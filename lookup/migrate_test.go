package lookup

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/partition"
)

// writeLegacy writes applications as the single-tag layout did: the packed record with a decimal
// version, the E.164 phone, the category's name, the whole verifier and ID hash, under
// "{lookup:changes}:a:<CODE>", and the phone index as one string per phone.
func writeLegacy(t *testing.T, s *Store, rdb redis.UniversalClient, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		err := s.WriteLegacyApplication(ctx, map[string]string{
			"code": fmt.Sprintf("TB-2024-%06d", i), "full_name": "Trần Thị Mẫu", "birth_date": "1948-01-02",
			"citizen_id": fmt.Sprintf("00000013%04d", i), "phone": fmt.Sprintf("09000%05d", i%1000), "commune": "Vũ Phúc",
			"category": "elderly", "status": "paying", "updated_at": "2025-06-01T08:00:00+07:00", "monthly_amount": "540000",
			"start_month": "2025-07", "note": "",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pipe := rdb.Pipeline()
	pipe.HSet(ctx, LegacyTag+":w:TB2024000007", "telegram:42", "en")
	pipe.PExpire(ctx, LegacyTag+":w:TB2024000007", WatchTTL)
	pipe.Set(ctx, LegacyTag+":fc:TB2024000009", "3", LockWindow)
	pipe.SAdd(ctx, LegacyTag+":shapes", "TB#10")
	sc, err := s.parseSchedule(map[string]string{"commune": "Vũ Phúc", "date": "2026-12-10", "start_time": "07:30", "end_time": "11:00", "place": "Nhà văn hóa thôn Đông", "method": "cash"})
	if err != nil {
		t.Fatal(err)
	}
	pipe.ZAdd(ctx, LegacyTag+":s:vu_phuc", redis.Z{Score: float64(sc.Start.Unix()), Member: sc.member()})
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: LegacyChanges, ID: "1-1", Values: []any{"code", "TB-2024-000001", "status", "paying", "prev_status", "approved", "updated_at", "x"}})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// The notifier had taken the first change; the second waits.
	if err := rdb.XGroupCreate(ctx, LegacyChanges, "notify", "1-1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: LegacyChanges, ID: "2-1", Values: []any{"code", "TB-2024-000002", "status", "paying", "prev_status", "approved", "updated_at", "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateFromSingleTag: the old layout → migrate (interrupted, then resumed) → everything
// readable in the partitioned layout; migrating again changes nothing.
func TestMigrateFromSingleTag(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	const n = 2500
	writeLegacy(t, s, rdb, n)

	stop := errors.New("interrupted")
	calls := 0
	_, err := s.Migrate(ctx, func(m Migrated) error {
		calls++
		return stop // interrupted after the first batch
	})
	if !errors.Is(err, stop) {
		t.Fatalf("interrupted migration: %v", err)
	}
	left, _ := rdb.Keys(ctx, LegacyTag+":a:*").Result()
	if len(left) == 0 || len(left) == n {
		t.Fatalf("%d of %d old records left after one batch: the test needs an interruption half-way", len(left), n)
	}
	var progress []Migrated
	done, err := s.Migrate(ctx, func(m Migrated) error {
		progress = append(progress, Migrated{"applications": m["applications"]})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if done["applications"] != len(left) || len(progress) == 0 {
		t.Errorf("resumed migration moved %v (%d left), progress %v", done, len(left), progress)
	}
	if done["status_changes"] != 1 || done["watchers"] != 1 || done["schedules"] != 1 {
		t.Errorf("resumed migration moved %v", done)
	}

	// Everything readable.
	for _, i := range []int{0, 7, 1234, n - 1} {
		app, err := s.Verify(ctx, "sms:+84911111111", fmt.Sprintf("TB-2024-%06d", i), fmt.Sprintf("%04d", i))
		if err != nil || app.Status != "paying" || app.Category != "elderly" || app.MonthlyAmount != 540000 {
			t.Errorf("verify %d after migration: %+v, %v", i, app, err)
		}
	}
	apps, err := s.ByPhone(ctx, "telegram:1", "0900000007")
	if err != nil || len(apps) != 3 || apps[0].Code != "TB-2024-000007" {
		t.Errorf("by phone: %d apps %v", len(apps), err)
	}
	ws, err := s.Watchers(ctx, "TB-2024-000007")
	if err != nil || len(ws) != 1 || ws[0] != (Watcher{Channel: gateway.Telegram, ChatID: "42", Lang: "en"}) {
		t.Errorf("watchers: %v %v", ws, err)
	}
	if ttl := rdb.PTTL(ctx, watchKey("TB2024000007")).Val(); ttl < WatchTTL-time.Hour {
		t.Errorf("watchers TTL %v", ttl)
	}
	next, err := s.NextPayment(ctx, "vu phuc", testNow)
	if err != nil || next == nil || next.Place != "Nhà văn hóa thôn Đông" {
		t.Errorf("next payment: %+v %v", next, err)
	}
	if shapes, _ := s.CodeShapes(ctx); fmt.Sprint(shapes) != "[TB#10]" {
		t.Errorf("shapes %v", shapes)
	}
	if v := rdb.Get(ctx, failCodeKey("TB2024000009")).Val(); v != "3" {
		t.Errorf("code failures %q", v)
	}
	ch := changes(t, rdb)
	if len(ch) != 1 || ch[0].Values["code"] != "TB-2024-000002" {
		t.Errorf("changes waiting for the notifier: %v", ch)
	}
	// The change moved is delivered to the notify group.
	p := partition.Of("TB2024000002")
	res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "notify", Consumer: "t", Streams: []string{ChangesStream(p), ">"}, Block: -1}).Result()
	if err != nil || len(res) != 1 || len(res[0].Messages) != 1 {
		t.Errorf("notify group reads %v %v", res, err)
	}
	old, _ := rdb.Keys(ctx, "*lookup:changes*").Result()
	if len(old) != 0 {
		t.Errorf("old keys left: %v", old)
	}
	// A record imported again after migration is versioned against the migrated one.
	sum := importCSV(t, s, header+fmt.Sprintf("TB-2024-000005,Trần Thị Mẫu,1948-01-02,000000130005,0900000005,Vũ Phúc,elderly,paying,2025-06-01T08:00:00+07:00,540000,2025-07,\n"))
	if sum.Unchanged != 1 {
		t.Errorf("re-import of a migrated record: %+v", sum)
	}

	again, err := s.Migrate(ctx, nil)
	if err != nil || len(again) != 0 {
		t.Errorf("second migration: %v %v", again, err)
	}
}
