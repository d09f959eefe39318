package config

import (
	"os"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.DefaultLang != "vi" || !c.Embedded() || c.SMSMaxSegments != 2 ||
		c.TelegramAPIURL != "https://api.telegram.org" || c.TwilioAPIURL != "https://api.twilio.com" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.TelegramEnabled() || c.SMSEnabled() {
		t.Fatal("no channel should be enabled without credentials")
	}
}

func TestStaffTiedToCommunes(t *testing.T) {
	c, err := Load(env(map[string]string{"STAFF_TELEGRAM_IDS": " 123:Vũ Phúc| Trần Lãm , 456 ,789:Kiến Xương"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.StaffTelegramIDs) != 3 || c.StaffTelegramIDs[1] != 456 {
		t.Errorf("ids %v", c.StaffTelegramIDs)
	}
	if got := c.StaffCommunes[123]; len(got) != 2 || got[0] != "Vũ Phúc" || got[1] != "Trần Lãm" {
		t.Errorf("123: %q", got)
	}
	if _, ok := c.StaffCommunes[456]; ok || len(c.StaffCommunes[789]) != 1 {
		t.Errorf("communes %v", c.StaffCommunes)
	}
	if c.CaseFirstResponseDays != 2 || c.CaseResolveDays != 10 || c.CaseRetentionDays != 1095 {
		t.Errorf("case defaults %d %d %d", c.CaseFirstResponseDays, c.CaseResolveDays, c.CaseRetentionDays)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	key := strings.Repeat("k", 32)
	cases := []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"DEFAULT_LANG": "fr"}, "DEFAULT_LANG"},
		{map[string]string{"REDIS_URL": "mysql://x", "LOOKUP_HASH_KEY": key}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://x:6379"}, "LOOKUP_HASH_KEY"},
		{map[string]string{"REDIS_URL": "redis://x:6379", "LOOKUP_HASH_KEY": "short"}, "LOOKUP_HASH_KEY"},
		{map[string]string{"TELEGRAM_TOKEN": "nocolon"}, "TELEGRAM_TOKEN"},
		{map[string]string{"TELEGRAM_TOKEN": "1:a", "TELEGRAM_WEBHOOK_URL": "http://insecure/x", "TELEGRAM_WEBHOOK_SECRET": "s"}, "TELEGRAM_WEBHOOK_URL"},
		{map[string]string{"TELEGRAM_TOKEN": "1:a", "TELEGRAM_WEBHOOK_URL": "https://x/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": "bad secret!"}, "TELEGRAM_WEBHOOK_SECRET"},
		{map[string]string{"STAFF_TELEGRAM_IDS": "12,abc"}, "STAFF_TELEGRAM_IDS"},
		{map[string]string{"TWILIO_ACCOUNT_SID": "XX1"}, "TWILIO_ACCOUNT_SID"},
		{map[string]string{"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "PUBLIC_BASE_URL": "https://x"}, "TWILIO_FROM"},
		{map[string]string{"SMS_MAX_SEGMENTS": "11"}, "SMS_MAX_SEGMENTS"},
		{map[string]string{"SMS_UNICODE": "maybe"}, "SMS_UNICODE"},
		{map[string]string{"STATE_TTL": "5s"}, "STATE_TTL"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{map[string]string{"STAFF_TELEGRAM_IDS": "12:"}, "STAFF_TELEGRAM_IDS"},
		{map[string]string{"STAFF_TELEGRAM_IDS": "x:Vũ Phúc"}, "STAFF_TELEGRAM_IDS"},
		{map[string]string{"CASE_FIRST_RESPONSE_DAYS": "0"}, "CASE_FIRST_RESPONSE_DAYS"},
		{map[string]string{"CASE_RESOLVE_DAYS": "1", "CASE_FIRST_RESPONSE_DAYS": "3"}, "CASE_RESOLVE_DAYS"},
		{map[string]string{"CASE_RETENTION_DAYS": "7"}, "CASE_RETENTION_DAYS"},
	}
	for _, c := range cases {
		_, err := Load(env(c.vars))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want error naming %s, got %v", c.vars, c.want, err)
		}
	}
}

func TestRedisOptions(t *testing.T) {
	o, err := RedisOptions("redis://:secret@h1:6379,h2,h3:7000")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Addrs) != 3 || o.Addrs[1] != "h2:6379" || o.Password != "secret" || o.MasterName != "" {
		t.Fatalf("cluster options: %+v", o)
	}
	o, err = RedisOptions("redis://s1:26379,s2:26379/2?master_name=mymaster")
	if err != nil || o.MasterName != "mymaster" || o.DB != 2 {
		t.Fatalf("sentinel options: %+v %v", o, err)
	}
	o, err = RedisOptions("rediss://user:pw@one:6380/1")
	if err != nil || o.TLSConfig == nil || o.Username != "user" || o.DB != 1 {
		t.Fatalf("tls options: %+v %v", o, err)
	}
	for _, bad := range []string{"redis://", "redis://h/x", "redis://a,b/1", "tcp://h"} {
		if _, err := RedisOptions(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

// The README's configuration table must list every variable the gateway reads.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(raw), "| `"+v.Name+"` |") {
			t.Errorf("README configuration table lacks %s", v.Name)
		}
	}
}
