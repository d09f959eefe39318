package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runGateway runs a subcommand in-process with the given environment and stdin.
func runGateway(t *testing.T, vars map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &environ{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return vars[k] },
	}
	code = run(context.Background(), env, args)
	return code, out.String(), errb.String()
}

func TestHelpListsSubcommands(t *testing.T) {
	code, out, _ := runGateway(t, nil, "", "help")
	if code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, c := range []string{"serve", "chat", "import", "nlu", "demo", "broadcast"} {
		if !strings.Contains(out, "  "+c+" ") {
			t.Errorf("help does not list %q:\n%s", c, out)
		}
	}
	code, out, _ = runGateway(t, nil, "", "help", "config")
	if code != 0 || !strings.Contains(out, "REDIS_URL") || !strings.Contains(out, "TELEGRAM_WEBHOOK_SECRET") {
		t.Fatalf("help config: %d\n%s", code, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, errOut := runGateway(t, nil, "", "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestInvalidConfigurationNamesTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"DEFAULT_LANG":            {"DEFAULT_LANG": "fr"},
		"REDIS_URL":               {"REDIS_URL": "http://nope", "LOOKUP_HASH_KEY": strings.Repeat("k", 32)},
		"LOOKUP_HASH_KEY":         {"REDIS_URL": "redis://127.0.0.1:1"},
		"TELEGRAM_WEBHOOK_SECRET": {"TELEGRAM_TOKEN": "1:x", "TELEGRAM_WEBHOOK_URL": "https://example.org/telegram/webhook"},
		"SMS_MAX_SEGMENTS":        {"SMS_MAX_SEGMENTS": "zero"},
		"PUBLIC_BASE_URL":         {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+1555"},
		"STAFF_TELEGRAM_IDS":      {"STAFF_TELEGRAM_IDS": "123:Atlantis"},
		"CASE_RESOLVE_DAYS":       {"CASE_RESOLVE_DAYS": "ten"},
	}
	for name, vars := range cases {
		for _, cmd := range []string{"serve", "chat"} {
			code, _, errOut := runGateway(t, vars, "", cmd)
			if code == 0 || !strings.Contains(errOut, name) {
				t.Errorf("%s with bad %s: exit %d, stderr %q", cmd, name, code, errOut)
			}
		}
	}
}
