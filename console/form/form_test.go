package form

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/staff"
)

func parse(t *testing.T, vals url.Values) *Broadcast {
	t.Helper()
	r := httptest.NewRequest("POST", "/console/broadcasts", strings.NewReader(vals.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return ParseBroadcast(r)
}

func tr(key string, args ...string) string { return key }

func TestBroadcastFormValidates(t *testing.T) {
	zone := time.FixedZone("ICT", 7*3600)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, zone)
	communes := []string{"Vũ Phúc", "Trần Lãm"}
	channels := []gateway.Channel{gateway.SMS, gateway.Web}
	officer := &staff.Principal{Role: staff.Officer, Communes: []string{"Vũ Phúc"}}
	admin := &staff.Principal{Role: staff.Admin}
	cases := []struct {
		name  string
		p     *staff.Principal
		vals  url.Values
		field string // "" = valid
		msg   string
	}{
		{"valid, now", officer, url.Values{"text_vi": {"Chi trả ngày 10/12"}, "communes": {"Vũ Phúc"}, "channels": {"sms"}}, "", ""},
		{"no text", officer, url.Values{"communes": {"Vũ Phúc"}, "channels": {"sms"}}, "text_vi", "compose.err.text"},
		{"officer, no commune", officer, url.Values{"text_vi": {"x"}, "channels": {"sms"}}, "communes", "compose.err.communes"},
		{"officer, another commune", officer, url.Values{"text_vi": {"x"}, "communes": {"Trần Lãm"}, "channels": {"sms"}}, "communes", "compose.err.communes_forbidden"},
		{"admin, everyone", admin, url.Values{"text_vi": {"x"}, "channels": {"web"}}, "", ""},
		{"unknown commune", admin, url.Values{"text_vi": {"x"}, "communes": {"Atlantis"}, "channels": {"web"}}, "communes", "compose.err.unknown_commune"},
		{"channel not configured", admin, url.Values{"text_vi": {"x"}, "channels": {"telegram"}}, "channels", "compose.err.channels"},
		{"no channel", admin, url.Values{"text_vi": {"x"}}, "channels", "compose.err.channels"},
		{"later, past", admin, url.Values{"text_vi": {"x"}, "channels": {"web"}, "when": {"later"}, "date": {"2026-12-01"}, "time": {"08:00"}}, "when", "compose.err.past"},
		{"later, garbage", admin, url.Values{"text_vi": {"x"}, "channels": {"web"}, "when": {"later"}, "date": {"12/08/2026"}, "time": {"8h"}}, "when", "compose.err.date"},
		{"later, two years", admin, url.Values{"text_vi": {"x"}, "channels": {"web"}, "when": {"later"}, "date": {"2028-12-08"}, "time": {"07:30"}}, "when", "compose.err.far"},
		{"too long", admin, url.Values{"text_vi": {strings.Repeat("á", 4001)}, "channels": {"web"}}, "text_vi", "compose.err.too_long"},
	}
	for _, tc := range cases {
		f := parse(t, tc.vals)
		errs := f.Validate(tc.p, communes, channels, zone, now, tr)
		if tc.field == "" {
			if errs != nil {
				t.Errorf("%s: errors %v", tc.name, errs)
			}
			continue
		}
		if errs[tc.field] != tc.msg {
			t.Errorf("%s: errors %v, want %s: %s", tc.name, errs, tc.field, tc.msg)
		}
	}
	// A local time becomes RFC 3339 with the Vietnam offset.
	f := parse(t, url.Values{"text_vi": {"x"}, "text_en": {"y"}, "channels": {"web"}, "when": {"later"}, "date": {"2026-12-08"}, "time": {"07:30"}})
	if errs := f.Validate(admin, communes, channels, zone, now, tr); errs != nil {
		t.Fatal(errs)
	}
	req := f.Request("boss")
	if req.SendAt != "2026-12-08T07:30:00+07:00" || req.Text["en"] != "y" || req.By != "boss" {
		t.Fatalf("request %+v", req)
	}
}

func TestAccountAndPasswordForms(t *testing.T) {
	a := Account{Username: "Lan.Nguyen", Role: staff.Officer}
	if errs := a.Validate(tr); errs["communes"] == "" || a.Username != "lan.nguyen" {
		t.Fatalf("officer without communes: %v %q", errs, a.Username)
	}
	b := Account{Username: "có dấu", Role: staff.Viewer}
	if errs := b.Validate(tr); errs["username"] == "" {
		t.Fatal("a username with diacritics must be refused")
	}
	p := Password{New: "mot mat khau dai", Repeat: "mot mat khau khac"}
	if errs := p.Validate("lan", tr); errs["repeat"] == "" {
		t.Fatal("different repeats must be refused")
	}
	if errs := (Password{New: "short", Repeat: "short"}).Validate("lan", tr); errs["new"] == "" {
		t.Fatal("a short password must be refused")
	}
}
