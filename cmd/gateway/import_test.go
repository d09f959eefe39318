package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway/redisconn/redistest"
)

// importEnv is the configuration of an import into the test Redis, on an emptied database of its
// own (db, counted from the top so it never meets redistest.New's databases).
func importEnv(t *testing.T, db int) map[string]string {
	t.Helper()
	addr, real := redistest.Addr(t)
	if !real {
		t.Skip("import needs a REDIS_URL server: install redis-server (CI does, and redistest fails there without it)")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"REDIS_URL": fmt.Sprintf("redis://%s/%d", addr, db), "LOOKUP_HASH_KEY": strings.Repeat("k", 32)}
}

// Generated data imports cleanly; the same file again changes nothing.
func TestGenerateThenImportTwice(t *testing.T) {
	vars := importEnv(t, 4095)
	dir := t.TempDir()
	if code, _, errOut := runGateway(t, nil, "", "demo", "generate", "--applications", "300", "--out", dir, "--seed", "7"); code != 0 {
		t.Fatalf("demo generate: exit %d: %s", code, errOut)
	}
	apps := filepath.Join(dir, "applications.csv")
	runGateway(t, vars, "", "import", "schedules", filepath.Join(dir, "schedules.csv"))
	code, out, errOut := runGateway(t, vars, "", "import", "applications", apps)
	if code != 0 || !strings.Contains(out, "300 imported") {
		t.Fatalf("first import: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runGateway(t, vars, "", "import", "applications", apps)
	if code != 0 || !strings.Contains(out, "0 imported, 300 unchanged, 0 rejected") {
		t.Fatalf("second import: exit %d\n%s", code, out)
	}
}

// Bad rows are rejected with their line numbers and reasons; the others are imported; the exit
// status says something was rejected.
func TestImportRejectsBadRowsWithLineNumbers(t *testing.T) {
	vars := importEnv(t, 4094)
	csv := "code,full_name,birth_date,citizen_id,phone,commune,category,status,updated_at,monthly_amount,start_month,note\n" +
		"TX-2026-000001,Người Thử Một,1940-01-02,000000000001,0900000101,Vũ Phúc,elderly,received,2026-11-01T08:00:00+07:00,,,\n" +
		"TX-2026-000002,Người Thử Hai,1940-13-40,000000000002,0900000102,Vũ Phúc,elderly,received,2026-11-01T08:00:00+07:00,,,\n" +
		"TX-2026-000003,Người Thử Ba,1940-01-02,12345,0900000103,Vũ Phúc,elderly,received,2026-11-01T08:00:00+07:00,,,\n" +
		"TX-2026-000004,Người Thử Bốn,1940-01-02,000000000004,0900000104,Vũ Phúc,elderly,lost,2026-11-01T08:00:00+07:00,,,\n" +
		"TX-2026-000001,Người Thử Một,1940-01-02,000000000001,0900000101,Vũ Phúc,elderly,in_review,2026-11-02T08:00:00+07:00,,,\n" +
		"TX-2026-000006,Người Thử Sáu,1941-03-04,000000000006,0900000106,Kiến Xương,disability,paying,2026-11-01T08:00:00+07:00,750000,2026-10,\n"
	file := filepath.Join(t.TempDir(), "apps.csv")
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runGateway(t, vars, "", "import", "applications", file)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (rows rejected)\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"line 3", "line 4", "line 5", "line 6", "duplicate"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("rejections lack %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "line 2 ") || strings.Contains(errOut, "line 7") {
		t.Errorf("a good row was rejected:\n%s", errOut)
	}
	if !strings.Contains(out, "2 imported") || !strings.Contains(out, "4 rejected") {
		t.Errorf("summary: %s", out)
	}
	// Nothing personal in the messages.
	if strings.Contains(errOut+out, "Người Thử") || strings.Contains(errOut+out, "000000000004") {
		t.Errorf("import output shows a name or ID:\n%s%s", out, errOut)
	}
}

func TestImportRefusesWithoutRedisURL(t *testing.T) {
	code, _, errOut := runGateway(t, nil, "", "import", "applications", "x.csv")
	if code == 0 || !strings.Contains(errOut, "REDIS_URL") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
