package main

import (
	"strings"
	"testing"
)

// `gateway staff` manages accounts in the configured Redis: add with a password from stdin,
// list, disable; bad input is refused with a reason.
func TestStaffCommand(t *testing.T) {
	vars := importEnv(t, 4090)
	code, out, errOut := runGateway(t, vars, "mat khau that dai\n", "staff", "add", "lan.nguyen", "--role", "officer", "--communes", "Vu Phuc, Trần Lãm")
	if code != 0 || !strings.Contains(out, "added lan.nguyen (officer; Vũ Phúc, Trần Lãm)") {
		t.Fatalf("staff add: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, bad := range [][]string{
		{"staff", "add", "lan.nguyen", "--role", "officer", "--communes", "Vũ Phúc"}, // exists
		{"staff", "add", "kim", "--role", "officer"},                                 // no commune
		{"staff", "add", "kim", "--role", "boss"},
		{"staff", "add", "kim", "--role", "viewer", "--communes", "Atlantis"},
	} {
		if code, _, errOut := runGateway(t, vars, "mat khau that dai\n", bad...); code == 0 || errOut == "" {
			t.Errorf("%v: exit %d, want a refusal with a reason", bad, code)
		}
	}
	if code, _, errOut := runGateway(t, vars, "short\n", "staff", "add", "kim", "--role", "viewer"); code == 0 || !strings.Contains(errOut, "at least 10") {
		t.Errorf("short password: exit %d %s", code, errOut)
	}
	if code, _, _ := runGateway(t, vars, "", "staff", "disable", "lan.nguyen"); code != 0 {
		t.Fatal("disable")
	}
	code, out, _ = runGateway(t, vars, "", "staff", "list")
	if code != 0 || !strings.Contains(out, "lan.nguyen") || !strings.Contains(out, "disabled") {
		t.Fatalf("staff list: %d\n%s", code, out)
	}
	if code, _, errOut := runGateway(t, nil, "", "staff", "list"); code == 0 || !strings.Contains(errOut, "REDIS_URL") {
		t.Fatalf("without REDIS_URL: %d %s", code, errOut)
	}
}
