package lookup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/data"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/partition"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

var testNow = time.Date(2026, 11, 25, 10, 0, 0, 0, vnZone)

var testKey = []byte("test-key-0123456789abcdef0123456789abcdef")

func newStore(t testing.TB) (*Store, redis.UniversalClient) {
	t.Helper()
	rdb := redistest.New(t)
	communes, err := ReadCommunes(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(rdb, Options{HashKey: testKey, Communes: communes, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return s, rdb
}

func catalog(t testing.TB) *i18n.Catalog {
	t.Helper()
	cat, err := i18n.LoadCatalog(data.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

const header = "code,full_name,birth_date,citizen_id,phone,commune,category,status,updated_at,monthly_amount,start_month,note\n"

// row builds a CSV line for an application; only code, status, updated_at vary in most tests.
func row(code, status, updated string) string {
	return fmt.Sprintf("%s,Nguyễn Văn Thử,1950-03-04,000000121234,0900000111,Vũ Phúc,elderly,%s,%s,750000,2026-01,\n", code, status, updated)
}

func importCSV(t testing.TB, s *Store, body string) Summary {
	t.Helper()
	sum, err := s.ImportApplications(context.Background(), strings.NewReader(body), FormatCSV, nil)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return sum
}

func changes(t testing.TB, rdb redis.UniversalClient) []redis.XMessage {
	t.Helper()
	return streams(t, rdb, ChangesStream)
}

// streams reads one stream of every partition, the entries sorted by id.
func streams(t testing.TB, rdb redis.UniversalClient, name func(int) string) []redis.XMessage {
	t.Helper()
	var all []redis.XMessage
	for p := range partition.N {
		msgs, err := rdb.XRange(context.Background(), name(p), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, msgs...)
	}
	slices.SortStableFunc(all, func(a, b redis.XMessage) int {
		am, as, _ := strings.Cut(a.ID, "-")
		bm, bs, _ := strings.Cut(b.ID, "-")
		if c := cmp.Compare(len(am), len(bm)); c != 0 {
			return c
		}
		if c := strings.Compare(am, bm); c != 0 {
			return c
		}
		return cmp.Compare(len(as), len(bs))*2 + strings.Compare(as, bs)
	})
	return all
}

func TestNew(t *testing.T) {
	rdb := redistest.New(t)
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"valid", Options{HashKey: testKey, Communes: []string{"Vũ Phúc"}}, true},
		{"short key", Options{HashKey: []byte("short"), Communes: []string{"Vũ Phúc"}}, false},
		{"no communes", Options{HashKey: testKey}, false},
		{"communes equal once folded", Options{HashKey: testKey, Communes: []string{"Vũ Phúc", "Vu Phuc"}}, false},
	}
	for _, tt := range tests {
		_, err := New(rdb, tt.opts)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	tests := []struct{ in, key string }{
		{"TB-2025-000123", "TB2025000123"},
		{"tb-2025-000123", "TB2025000123"},
		{" tb.2025/000123 ", "TB2025000123"},
		{"ABC", ""},                                // too short
		{"----", ""},                               // no letters or digits
		{"TB 2025", ""},                            // space
		{"TB-2025-000123-4567890123456789012", ""}, // 33 characters
		{"HỒ-SƠ-1", ""},                            // not ASCII
	}
	for _, tt := range tests {
		key, ok := NormalizeCode(tt.in)
		if key != tt.key || ok != (tt.key != "") {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q", tt.in, key, ok, tt.key)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0912345678", "+84912345678"},
		{"+84912345678", "+84912345678"},
		{"84 912 345 678", "+84912345678"},
		{"0912.345.678", "+84912345678"},
		{"0327 123 456", "+84327123456"},
		{"02273000101", ""}, // landline
		{"091234567", ""},   // too short
		{"+14155550100", ""},
		{"09123456a8", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := NormalizePhone(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestMasking(t *testing.T) {
	names := map[string]string{
		"Nguyễn Văn An":      "Nguyễn V. A.",
		"Đặng Thị Ánh Tuyết": "Đặng T. Á. T.",
		"  Lê   đức  ":       "Lê Đ.",
		"Bùi":                "Bùi",
	}
	for in, want := range names {
		if got := MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
	ids := map[string]string{
		"sms:+84912345678":   "sms:+8491*****78",
		"telegram:123456789": "telegram:123****89",
		"terminal:ann":       "terminal:***",
	}
	for in, want := range ids {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestImportRejectsBadRowsAndKeepsTheRest(t *testing.T) {
	s, _ := newStore(t)
	body := header +
		row("TB-2025-000001", "received", "2026-03-01T08:00:00+07:00") + // line 2
		"TB-2025-000002,Trần Thị Mẫu,1950-02-30,000000121234,0900000112,Vũ Phúc,elderly,received,2026-03-01T08:00:00+07:00,,,\n" + // 3: bad date
		"TB-2025-000003,Trần Thị Mẫu,1950-02-03,00000012123,0900000113,Vũ Phúc,elderly,received,2026-03-01T08:00:00+07:00,,,\n" + // 4: short ID
		row("TB-2025-000004", "waiting", "2026-03-01T08:00:00+07:00") + // 5: unknown status
		row("tb.2025.000001", "paying", "2026-04-01T08:00:00+07:00") + // 6: duplicate of line 2
		"TB-2025-000005,Lê Văn Thử,1950-02-03,000000121234,0900000114,Hà Nội,elderly,received,2026-03-01T08:00:00+07:00,,,\n" + // 7: commune
		"TB-2025-000006,Lê Văn Thử,1950-02-03,000000121234,0900000114,vu phuc,elderly,received,2026-03-01T08:00:00+07:00,,,\n" + // 8: ok, commune folded
		"TB-2025-000007,Lê Văn Thử,1950-02-03\n" + // 9: too few fields
		"TB-2025-000008,Lê Văn Thử,1950-02-03,000000121234,012345,Vũ Phúc,elderly,received,2026-03-01T08:00:00+07:00,,,\n" + // 10: phone
		"TB-2025-000009,Lê Văn Thử,1950-02-03,000000121234,,Vũ Phúc,elderly,received,2031-03-01T08:00:00+07:00,,,\n" // 11: future version
	sum := importCSV(t, s, body)
	if sum.Imported != 2 || sum.Rejected != 8 || sum.Unchanged != 0 {
		t.Fatalf("summary = %+v", sum)
	}
	want := map[int]string{3: "birth_date", 4: "citizen_id", 5: "status", 6: "duplicate code, first on line 2",
		7: "commune", 9: "fields", 10: "phone", 11: "updated_at"}
	for _, e := range sum.Errors {
		w, ok := want[e.Line]
		if !ok || !strings.Contains(e.Reason, w) {
			t.Errorf("line %d rejected for %q, want a reason with %q", e.Line, e.Reason, w)
		}
		delete(want, e.Line)
		if strings.Contains(e.Reason, "000000121234") || strings.Contains(e.Reason, "00000012123") {
			t.Errorf("reason leaks the citizen ID: %q", e.Reason)
		}
	}
	if len(want) > 0 {
		t.Errorf("not rejected: %v", want)
	}
	ctx := context.Background()
	// The duplicate did not overwrite the first row, rejected rows were not written.
	app, err := s.Get(ctx, "TB-2025-000001")
	if err != nil || app.Status != "received" {
		t.Fatalf("first row: %+v, %v", app, err)
	}
	for _, code := range []string{"TB-2025-000002", "TB-2025-000003", "TB-2025-000004", "TB-2025-000009"} {
		if _, err := s.Get(ctx, code); !errors.Is(err, ErrNoMatch) {
			t.Errorf("%s stored despite rejection: %v", code, err)
		}
	}
	if app, _ := s.Get(ctx, "TB-2025-000006"); app == nil || app.Commune != "Vũ Phúc" {
		t.Errorf("commune not canonical: %+v", app)
	}
}

func TestImportHeaderErrors(t *testing.T) {
	s, _ := newStore(t)
	for name, body := range map[string]string{
		"empty":          "",
		"missing column": "code,full_name\n",
		"unknown column": strings.TrimSuffix(header, "\n") + ",extra\n",
	} {
		if _, err := s.ImportApplications(context.Background(), strings.NewReader(body), FormatCSV, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := s.ImportApplications(context.Background(), strings.NewReader(header), "xml", nil); err == nil {
		t.Error("unknown format accepted")
	}
	// A byte-order mark and another column order are fine.
	body := "\ufeffstatus,code,full_name,birth_date,citizen_id,phone,commune,category,updated_at,monthly_amount,start_month,note\n" +
		"paying,TB-1,Lê Văn Thử,1950-02-03,000000121234,,Vũ Phúc,elderly,2026-03-01T08:00:00Z,500000,2026-04,\n"
	if sum := importCSV(t, s, body); sum.Imported != 1 {
		t.Errorf("BOM/column order: %+v", sum)
	}
}

func TestVersioningAndChangeEvents(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	body := header + row("TB-2025-000001", "received", "2026-03-01T08:00:00+07:00") + row("TB-2025-000002", "in_review", "2026-03-01T08:00:00+07:00")
	if sum := importCSV(t, s, body); sum.Imported != 2 || sum.StatusChanges != 0 {
		t.Fatalf("first import: %+v", sum)
	}
	if n := len(changes(t, rdb)); n != 0 {
		t.Fatalf("first insert produced %d change events", n)
	}
	if sum := importCSV(t, s, body); sum.Imported != 0 || sum.Unchanged != 2 {
		t.Fatalf("re-import: %+v", sum)
	}
	steps := []struct {
		name, row     string
		result        string
		status        string
		events, total int
	}{
		{"newer, status changed", row("TB-2025-000001", "in_review", "2026-03-05T08:00:00+07:00"), ResultImported, "in_review", 1, 1},
		{"same again", row("TB-2025-000001", "in_review", "2026-03-05T08:00:00+07:00"), ResultUnchanged, "in_review", 0, 1},
		{"older version", row("TB-2025-000001", "paying", "2026-03-02T08:00:00+07:00"), ResultUnchanged, "in_review", 0, 1},
		{"equal version, other content", row("TB-2025-000001", "paying", "2026-03-05T01:00:00Z"), ResultUnchanged, "in_review", 0, 1},
		{"newer, same status", row("TB-2025-000001", "in_review", "2026-03-06T08:00:00.5+07:00"), ResultImported, "in_review", 0, 1},
		{"newer by a microsecond, approved", row("TB-2025-000001", "approved", "2026-03-06T08:00:00.500001+07:00"), ResultImported, "approved", 1, 2},
	}
	for _, st := range steps {
		sum := importCSV(t, s, header+st.row)
		got := ResultUnchanged
		if sum.Imported == 1 {
			got = ResultImported
		}
		if got != st.result || sum.StatusChanges != st.events {
			t.Errorf("%s: %+v", st.name, sum)
		}
		app, _ := s.Get(ctx, "TB-2025-000001")
		if app.Status != st.status {
			t.Errorf("%s: stored status %s, want %s", st.name, app.Status, st.status)
		}
		if n := len(changes(t, rdb)); n != st.total {
			t.Errorf("%s: %d events in total, want %d", st.name, n, st.total)
		}
	}
	ev := changes(t, rdb)[1].Values
	want := map[string]any{"code": "TB-2025-000001", "status": "approved", "prev_status": "in_review", "updated_at": "2026-03-06T08:00:00.500001+07:00"}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("event %s = %v, want %v", k, ev[k], v)
		}
	}
	if len(ev) != len(want) {
		t.Errorf("event has fields %v", ev)
	}
}

func TestImportJSONL(t *testing.T) {
	s, _ := newStore(t)
	body := `{"code":"TB-9","full_name":"Lê Văn Thử","birth_date":"1950-02-03","citizen_id":"000000121234","phone":"+84900000999","commune":"Vũ Phúc","category":"disability","status":"paying","updated_at":"2026-03-01T08:00:00+07:00","monthly_amount":1250000,"start_month":"2026-04","note":null}

{"code":"TB-10","unexpected":"x"}
not json
{"code":"TB-11","full_name":"Lê Văn Thử","birth_date":"1950-02-03","citizen_id":"000000121234","phone":"","commune":"Vũ Phúc","category":"disability","status":"paying","updated_at":"2026-03-01T08:00:00+07:00","monthly_amount":"","start_month":"","note":"ok"}`
	sum, err := s.ImportApplications(context.Background(), strings.NewReader(body), FormatJSONL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 2 || sum.Rejected != 2 {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Errors[0].Line != 3 || sum.Errors[0].Code != "TB-10" || !strings.Contains(sum.Errors[0].Reason, "unknown field") || sum.Errors[1].Line != 4 {
		t.Errorf("errors %+v", sum.Errors)
	}
	app, err := s.Verify(context.Background(), "sms:+84900000999", "tb-9", "1234")
	if err != nil || app.MonthlyAmount != 1250000 || app.StartMonth != "2026-04" {
		t.Errorf("verify: %+v, %v", app, err)
	}
}

func TestProgressIsReported(t *testing.T) {
	s, _ := newStore(t)
	var b strings.Builder
	b.WriteString(header)
	for i := range 3000 {
		b.WriteString(row(fmt.Sprintf("TB-P-%06d", i), "received", "2026-03-01T08:00:00+07:00"))
	}
	var last int
	calls := 0
	sum, err := s.ImportApplications(context.Background(), strings.NewReader(b.String()), FormatCSV, func(n int) {
		if n < last {
			t.Errorf("progress went back: %d after %d", n, last)
		}
		last = n
		calls++
	})
	if err != nil || sum.Imported != 3000 {
		t.Fatalf("%+v %v", sum, err)
	}
	if last != 3000 || calls < 2 {
		t.Errorf("progress: last %d, %d calls", last, calls)
	}
}

func TestImportStopsOnCancel(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.ImportApplications(ctx, strings.NewReader(header+row("TB-1234", "received", "2026-03-01T08:00:00+07:00")), FormatCSV, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestMemoryPerApplication(t *testing.T) {
	s, rdb := newStore(t)
	ctx := context.Background()
	if err := LoadDemo(ctx, s, data.Embedded()); err != nil {
		t.Fatal(err)
	}
	if !redistest.Real() {
		t.Log("miniredis: MEMORY USAGE is not meaningful; run with redis-server on PATH")
		return
	}
	// Record + its share of the phone index, over the 300 demo applications.
	var total int64
	keys, err := rdb.Keys(ctx, "lk{*}[ap]:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		n, err := rdb.MemoryUsage(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	per := total / 300
	t.Logf("memory per application (record + phone index): %d bytes", per)
	// 300 demo records leave most of the 16,384 phone buckets with one entry; at a province's
	// 112,000 (bench/import.sh) it is about 270 bytes.
	if per > 400 {
		t.Errorf("memory per application %d bytes, target ≤ 400 on the demo", per)
	}
}
