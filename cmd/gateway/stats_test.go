package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway/cases"
	"github.com/socialaid-vn/gateway/stats"
)

// `gateway stats` after a scripted SMS conversation gives exactly the script's counts, in total
// and per commune. (TB-2025-000123 is a demo application of Đông Hợp: after it is checked, the
// conversation's commune is Đông Hợp.)
func TestStatsCommandMatchesAScriptedConversation(t *testing.T) {
	vars := importEnv(t, 4093)
	if code, out, errOut := runGateway(t, vars, "", "import", "applications", "../../data/files/demo/applications.csv"); code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
	}
	script := []string{
		"xin chao",                        // greeting, commune not known yet
		"LICH Vu Phuc",                    // payment, Vũ Phúc
		"TT TB-2025-000123 4567",          // application_status, verified → Đông Hợp
		"TT TB-2025-000123 1111",          // application_status, failed
		"gia vang hom nay",                // out_of_scope
		"qwzx plmk vbnr",                  // not understood
		"KN tien thang 11 chua nhan duoc", // complaint: a case opened
		"PA",                              // the person's cases
		"HUY",                             // unsubscribe: an opt-out
	}
	chatTurns(t, vars, script, "--channel", "sms", "--from", "+84900000801")
	now := time.Now().In(stats.Vietnam)
	code, out, errOut := runGateway(t, vars, "", "stats", "--json",
		"--from", now.AddDate(0, 0, -1).Format(time.DateOnly), "--to", now.AddDate(0, 0, 1).Format(time.DateOnly))
	if code != 0 {
		t.Fatalf("stats: %d\n%s", code, errOut)
	}
	var rep stats.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stats --json: %v\n%s", err, out)
	}
	tot := rep.Total
	wantQ := map[string]int64{"greeting": 1, "payment": 1, "application_status": 2, "out_of_scope": 1,
		"not_understood": 1, "complaint": 1, "case_status": 1, "unsubscribe": 1}
	if tot.Messages != 9 || !maps.Equal(tot.Questions, wantQ) {
		t.Errorf("questions %v (%d messages), want %v", tot.Questions, tot.Messages, wantQ)
	}
	if share := tot.NotUnderstoodShare; share < 0.111 || share > 0.112 {
		t.Errorf("not-understood share %v, want 1/9", share)
	}
	if !maps.Equal(tot.StatusChecks, map[string]int64{"verified": 1, "failed": 1}) {
		t.Errorf("status checks %v", tot.StatusChecks)
	}
	if tot.Cases.OpenedTotal != 1 || tot.Cases.Opened["complaint"] != 1 || tot.Cases.Answered != 0 || tot.Cases.Closed != 0 {
		t.Errorf("cases %+v", tot.Cases)
	}
	if !maps.Equal(tot.OptOuts, map[string]int64{"unsubscribed": 1}) {
		t.Errorf("opt-outs %v", tot.OptOuts)
	}
	per := map[string]int64{}
	for c, f := range rep.Communes {
		per[c] = f.Messages
	}
	if !maps.Equal(per, map[string]int64{stats.Unknown: 1, "Vũ Phúc": 1, "Đông Hợp": 7}) {
		t.Errorf("messages per commune %v", per)
	}
	dh := rep.Communes["Đông Hợp"]
	if dh.StatusChecks["verified"] != 1 || dh.StatusChecks["failed"] != 1 || dh.Cases.OpenedTotal != 1 {
		t.Errorf("Đông Hợp %+v", dh)
	}
	// The table form says the same.
	_, table, _ := runGateway(t, vars, "", "stats")
	for _, want := range []string{"questions complaint", "status checks verified", "cases opened complaint", "Đông Hợp", "commune not known"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// No personal data in the figures.
	for _, secret := range []string{"+84900000801", "84900000801", "tien thang 11", "TB-2025-000123", "PA-"} {
		if strings.Contains(out+table, secret) {
			t.Errorf("the figures show %q", secret)
		}
	}
}

func TestCasesExportAndStatsNeedRedisURL(t *testing.T) {
	for _, args := range [][]string{{"stats"}, {"cases", "export", "x.jsonl"}} {
		code, _, errOut := runGateway(t, nil, "", args...)
		if code == 0 || !strings.Contains(errOut, "REDIS_URL") {
			t.Errorf("%v: exit %d %q", args, code, errOut)
		}
	}
	for _, args := range [][]string{{"cases"}, {"cases", "export"}, {"cases", "export", "--from", "yesterday", "x"}, {"stats", "--to", "x"}} {
		if code, _, _ := runGateway(t, nil, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// `gateway cases export FILE` writes every case with its timeline, one JSON object a line, to a
// file only its owner reads; a period leaves the others out.
func TestCasesExportCommand(t *testing.T) {
	vars := importEnv(t, 4092)
	chatTurns(t, vars, []string{"KN chua nhan tien thang 11", "KN nhan thieu tien thang 10"}, "--channel", "sms", "--from", "+84900000802")
	file := filepath.Join(t.TempDir(), "cases.jsonl")
	code, out, errOut := runGateway(t, vars, "", "cases", "export", file)
	if code != 0 || !strings.Contains(out, "2 cases exported") {
		t.Fatalf("export: %d %s %s", code, out, errOut)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), raw)
	}
	var c cases.Case
	if err := json.Unmarshal([]byte(lines[1]), &c); err != nil || c.Address != "+84900000802" || len(c.Timeline) != 1 || c.Text != "nhan thieu tien thang 10" {
		t.Errorf("exported case %+v %v", c, err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v", fi.Mode().Perm())
	}
	tomorrow := time.Now().In(stats.Vietnam).AddDate(0, 0, 1).Format(time.DateOnly)
	code, out, _ = runGateway(t, vars, "", "cases", "export", "--from", tomorrow, "-")
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("a period with no case: %d %q", code, out)
	}
}
