package kannel

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/internal/logtest"
	"github.com/socialaid-vn/gateway/redisconn/redistest"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/sms/smstest"
)

const (
	testSecret = "s3cret-0123456789abcdef"
	testPhone  = "+84912345678"
)

// sendsms is a fake of Kannel's sendsms interface: it records each request's parameters and
// answers with the next scripted answer (202 "0: Accepted for delivery" once the script is used up).
type sendsms struct {
	URL    string
	mu     sync.Mutex
	reqs   []url.Values
	script []func(w http.ResponseWriter)
}

func newSendSMS(t *testing.T, script ...func(w http.ResponseWriter)) *sendsms {
	f := &sendsms{script: script}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, r.URL.Query())
		var step func(http.ResponseWriter)
		if n < len(f.script) {
			step = f.script[n]
		}
		f.mu.Unlock()
		if step == nil {
			step = answer(202, "0: Accepted for delivery")
		}
		step(w)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL + "/cgi-bin/sendsms"
	return f
}

func (f *sendsms) requests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.reqs...)
}

// answer replies as Kannel's smsbox does: text/html, the status line as the body.
func answer(status int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

type fixture struct {
	ch      *sms.Channel
	kn      *Transport
	core    *smstest.Core
	optouts *smstest.OptOuts
	logs    *logtest.Buffer
	log     *slog.Logger
}

func newFixture(t *testing.T, sendsmsURL string, edit func(*Config)) *fixture {
	t.Helper()
	cfg := Config{SendSMSURL: sendsmsURL, Username: "gateway", Password: "pw&=1", From: "8079", Secret: testSecret,
		DLRURL: "http://127.0.0.1:8080/sms/kannel/dlr", Timeout: 2 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	kn, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{kn: kn, core: &smstest.Core{}, optouts: smstest.NewOptOuts(), logs: &logtest.Buffer{}}
	f.log = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.ch, err = sms.New(sms.Config{Outbound: kn, MPS: 1000, Retry: sms.Retry{Backoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond}},
		redistest.New(t), f.core, f.optouts, []string{"Vũ Phúc"}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) serve(method, target string, body string, hdr map[string]string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux := http.NewServeMux()
	mux.Handle("/sms/kannel", f.kn.MOHandler(f.ch, f.log))
	mux.Handle("/sms/kannel/dlr", f.kn.DLRHandler(f.ch, f.log))
	mux.ServeHTTP(rec, req)
	return rec
}

// The query strings below are what Kannel 1.4.5's smsbox sends for the sample get-url
// (deploy/kannel/kannel.conf), captured from the real thing.
const (
	moGSM  = "/sms/kannel?secret=" + testSecret + "&id=786c4ef1-b0a9-4ed8-a569-c0c2a4a96c91&from=%2B84912345678&to=8079&text=TT+TB-2025-000123+4567&coding=0&charset=UTF-8&smsc=fake"
	moUCS2 = "/sms/kannel?secret=" + testSecret + "&id=3463ef7e-c54e-4d4d-9047-2ff7480c5b36&from=%2B84912345678&to=8079&text=%00h%1E%D3%00+%00s%01%A1%00+%00g%1E%D3%00m%00+%00n%00h%1E%EF%00n%00g%00+%00g%00%EC&coding=2&charset=UTF-16BE&smsc=fake"
)

func TestMO(t *testing.T) {
	kannel := newSendSMS(t)
	f := newFixture(t, kannel.URL, nil)
	cases := []struct {
		name   string
		method string
		target string
		body   string
		hdr    map[string]string
		status int
		text   string // what the core got
	}{
		{"GSM-7 keyword", "GET", moGSM, "", nil, 200, "TT TB-2025-000123 4567"},
		{"UCS-2 Vietnamese", "GET", moUCS2, "", nil, 200, "hồ sơ gồm những gì"},
		{"post-url: text in the body", "POST", "/sms/kannel?secret=" + testSecret + "&id=p1&from=%2B84912345678&to=8079",
			"\x00D\x00K\x00 \x00V\x01\xb0\x00 \x00P\x00h\x00\xfa\x00c", map[string]string{"Content-Type": `text/plain; charset="UTF-16BE"`, "X-Kannel-Coding": "2"}, 200, "DK Vư Phúc"},
		{"post-url: UTF-8 body, sender in X-Kannel-From", "POST", "/sms/kannel?secret=" + testSecret + "&id=p2",
			"lịch chi trả", map[string]string{"Content-Type": `text/plain; charset="UTF-8"`, "X-Kannel-From": "+84912345678", "X-Kannel-Coding": "0"}, 200, "lịch chi trả"},
		{"alt-charset latin-1", "GET", "/sms/kannel?secret=" + testSecret + "&id=l1&from=0912345678&text=caf%E9&coding=0&charset=ISO-8859-1", "", nil, 200, "café"},
		{"invalid UTF-8 kept, not lost", "GET", "/sms/kannel?secret=" + testSecret + "&id=u1&from=0912345678&text=HD%FF&coding=0&charset=UTF-8", "", nil, 200, "HD\uFFFD"},
		{"8-bit data acknowledged, not answered", "GET", "/sms/kannel?secret=" + testSecret + "&id=b1&from=0912345678&text=%01%02&coding=1&charset=8-BIT", "", nil, 200, ""},
		{"wrong secret", "GET", strings.Replace(moGSM, testSecret, testSecret+"x", 1), "", nil, 403, ""},
		{"no secret", "GET", "/sms/kannel?id=n1&from=0912345678&text=HD", "", nil, 403, ""},
		{"missing id", "GET", "/sms/kannel?secret=" + testSecret + "&from=0912345678&text=HD", "", nil, 400, ""},
		{"missing from", "GET", "/sms/kannel?secret=" + testSecret + "&id=x1&text=HD", "", nil, 400, ""},
		{"from not a phone", "GET", "/sms/kannel?secret=" + testSecret + "&id=x2&from=VINAPHONE&text=HD", "", nil, 400, ""},
		{"bad coding", "GET", "/sms/kannel?secret=" + testSecret + "&id=x3&from=0912345678&text=HD&coding=7", "", nil, 400, ""},
		{"unknown charset", "GET", "/sms/kannel?secret=" + testSecret + "&id=x4&from=0912345678&text=HD&charset=klingon", "", nil, 400, ""},
		{"PUT", "PUT", moGSM, "", nil, 405, ""},
		{"too large", "POST", "/sms/kannel?secret=" + testSecret + "&id=big&from=0912345678", strings.Repeat("a", MaxBody+1), nil, 413, ""},
	}
	for _, tc := range cases {
		before := f.core.Count()
		rec := f.serve(tc.method, tc.target, tc.body, tc.hdr)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, rec.Code, tc.status, rec.Body)
			continue
		}
		if tc.text == "" {
			if f.core.Count() != before {
				t.Errorf("%s: core called", tc.name)
			}
			continue
		}
		if rec.Body.Len() != 0 {
			t.Errorf("%s: body %q, want empty (max-messages = 0)", tc.name, rec.Body)
		}
		if got := f.core.Last().Text; got != tc.text {
			t.Errorf("%s: core got %q, want %q", tc.name, got, tc.text)
		}
	}
	// Every answered message was answered through sendsms, once.
	reqs := kannel.requests()
	if len(reqs) != 6 {
		t.Fatalf("%d sendsms calls, want 6", len(reqs))
	}
	first := reqs[0]
	want := map[string]string{
		"username": "gateway", "password": "pw&=1", "from": "8079", "to": testPhone, "coding": "0", "charset": "UTF-8", "dlr-mask": "31",
		"text": "Da, y dinh: application_status. application_code=TB-2025-000123 id_last4=4567\nHD: Huong dan",
	}
	for k, v := range want {
		if first.Get(k) != v {
			t.Errorf("sendsms %s = %q, want %q", k, first.Get(k), v)
		}
	}
	dlr, err := url.Parse(first.Get("dlr-url"))
	if err != nil || dlr.Host != "127.0.0.1:8080" || dlr.Path != "/sms/kannel/dlr" || !strings.HasPrefix(dlr.RawQuery, "secret="+testSecret+"&id=K") ||
		!strings.Contains(dlr.RawQuery, "&type=%d&reply=%A&") {
		t.Errorf("dlr-url %q", first.Get("dlr-url"))
	}
	// The same MO id again: nothing more is sent, the core does not run again.
	calls := f.core.Count()
	if rec := f.serve("GET", moUCS2, "", nil); rec.Code != 200 || len(kannel.requests()) != 6 || f.core.Count() != calls {
		t.Errorf("repeated MO id: status %d, %d sendsms calls, core ran %d more", rec.Code, len(kannel.requests()), f.core.Count()-calls)
	}
	// Logs: no phone number, no text, no secret.
	logs := f.logs.String()
	for _, secret := range []string{"84912345678", "0912345678", "TB-2025-000123", testSecret, "pw&=1"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestMOUnicodeReply(t *testing.T) {
	kannel := newSendSMS(t)
	f := newFixture(t, kannel.URL, nil)
	ch, err := sms.New(sms.Config{Outbound: f.kn, Unicode: true}, redistest.New(t), f.core, f.optouts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ch = ch
	if rec := f.serve("GET", moGSM, "", nil); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	q := kannel.requests()[0]
	if q.Get("coding") != "2" || q.Get("charset") != "UTF-8" || !strings.HasPrefix(q.Get("text"), "Dạ, ý định") {
		t.Errorf("SMS_UNICODE reply: coding %q charset %q text %q", q.Get("coding"), q.Get("charset"), q.Get("text"))
	}
}

// TestMORetriedWhenKannelRefusesTheReply: the reply could not be handed to Kannel, so the MO is
// answered 503 (Kannel delivers it again); the redelivery sends the remembered reply.
func TestMORetriedWhenKannelRefusesTheReply(t *testing.T) {
	busy := answer(503, "Temporal failure, try again later.")
	kannel := newSendSMS(t, busy, busy, busy)
	f := newFixture(t, kannel.URL, nil)
	if rec := f.serve("GET", moGSM, "", nil); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if rec := f.serve("GET", moGSM, "", nil); rec.Code != 200 {
		t.Fatalf("redelivery: status %d", rec.Code)
	}
	if f.core.Count() != 1 || len(kannel.requests()) != 4 {
		t.Errorf("core ran %d times, %d sendsms calls", f.core.Count(), len(kannel.requests()))
	}
}

func TestAllowFrom(t *testing.T) {
	f := newFixture(t, newSendSMS(t).URL, func(c *Config) {
		c.AllowFrom = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	req := func(remote string) int {
		r := httptest.NewRequest("GET", moGSM, nil)
		r.RemoteAddr = remote
		rec := httptest.NewRecorder()
		f.kn.MOHandler(f.ch, nil).ServeHTTP(rec, r)
		return rec.Code
	}
	if code := req("192.0.2.1:4000"); code != 403 {
		t.Errorf("outside KANNEL_ALLOW_FROM: %d", code)
	}
	if code := req("10.1.2.3:4000"); code != 200 {
		t.Errorf("inside KANNEL_ALLOW_FROM: %d", code)
	}
	if code := req("[::1]:4000"); code != 200 {
		t.Errorf("IPv6 loopback: %d", code)
	}
}

func TestDLR(t *testing.T) {
	kannel := newSendSMS(t)
	f := newFixture(t, kannel.URL, nil)
	ctx := context.Background()
	id, err := f.ch.SendMessage(ctx, gateway.Outbound{Channel: gateway.SMS, To: testPhone, Reply: gateway.Reply{Text: "Thông báo"}, Key: "bc:1"})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := f.ch.Delivery(ctx, id); d.Status != "accepted" || d.Key != "bc:1" {
		t.Errorf("after sendsms: %+v", d)
	}
	// Kannel fills the dlr-url we gave it; these are its reports for the fake SMSC and SMPP.
	dlr := func(typ, reply string) string {
		u, _ := url.Parse(kannel.requests()[0].Get("dlr-url"))
		s := strings.NewReplacer("%d", typ, "%A", url.QueryEscape(reply), "%i", "carrier", "%T", "1764644000").Replace(u.RequestURI())
		return s
	}
	for _, step := range []struct {
		typ, reply, status, code string
	}{
		{"8", "ACK/", "sent", ""},
		{"4", "id:0012 sub:001 dlvrd:000 submit date:2512020900 done date:2512020901 stat:ENROUTE err:000 text:", "buffered", ""},
		{"1", "id:0012 sub:001 dlvrd:001 submit date:2512020900 done date:2512020905 stat:DELIVRD err:000 text:", "delivered", ""},
		{"8", "ACK/", "delivered", ""}, // late: never backwards
	} {
		if rec := f.serve("GET", dlr(step.typ, step.reply), "", nil); rec.Code != 200 {
			t.Fatalf("dlr %s: %d %s", step.typ, rec.Code, rec.Body)
		}
		if d, _ := f.ch.Delivery(ctx, id); d.Status != step.status || d.ErrorCode != step.code {
			t.Errorf("after report %s: %+v, want %s", step.typ, d, step.status)
		}
	}
	// Failures carry the SMPP error.
	id2, _ := f.ch.SendMessage(ctx, gateway.Outbound{Channel: gateway.SMS, To: testPhone, Reply: gateway.Reply{Text: "x"}})
	u2, _ := url.Parse(kannel.requests()[1].Get("dlr-url"))
	rep := strings.NewReplacer("%d", "16", "%A", url.QueryEscape("NACK/0x0000000b/Invalid Destination Address"), "%i", "carrier", "%T", "1").Replace(u2.RequestURI())
	if rec := f.serve("GET", rep, "", nil); rec.Code != 200 {
		t.Fatal(rec.Code)
	}
	if d, _ := f.ch.Delivery(ctx, id2); d.Status != "failed" || d.ErrorCode != "0x0000000b" {
		t.Errorf("NACK: %+v", d)
	}
	// Refused: forged, incomplete, unknown type; nothing recorded.
	forged := strings.Replace(dlr("2", "stat:UNDELIV err:001"), testSecret, "guess-0123456789abcdef", 1)
	if rec := f.serve("GET", forged, "", nil); rec.Code != 403 {
		t.Errorf("forged report: %d", rec.Code)
	}
	if d, _ := f.ch.Delivery(ctx, id); d.Status != "delivered" {
		t.Errorf("forged report recorded: %+v", d)
	}
	for _, bad := range []string{
		"/sms/kannel/dlr?secret=" + testSecret + "&type=1",
		"/sms/kannel/dlr?secret=" + testSecret + "&id=K1&type=3",
		"/sms/kannel/dlr?secret=" + testSecret + "&id=K1&type=%25d",
	} {
		if rec := f.serve("GET", bad, "", nil); rec.Code != 400 {
			t.Errorf("%s: %d", bad, rec.Code)
		}
	}
}

func TestSubmit(t *testing.T) {
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/cgi-bin/sendsms"
	}()
	hang := func(w http.ResponseWriter) { time.Sleep(400 * time.Millisecond) }
	cases := []struct {
		name   string
		url    string
		script []func(http.ResponseWriter)
		kind   gateway.SendErrorKind // 0 = accepted
		status string
		reason string
		calls  int
	}{
		{name: "accepted", script: nil, status: "accepted", calls: 1},
		{name: "queued for later delivery is an acceptance, not retried", script: []func(http.ResponseWriter){answer(202, "3: Queued for later delivery")}, status: "queued", calls: 1},
		{name: "temporary failure retried", script: []func(http.ResponseWriter){answer(503, "Temporal failure, try again later.")}, status: "accepted", calls: 2},
		{name: "sending failed retried", script: []func(http.ResponseWriter){answer(500, "Sending failed.")}, status: "accepted", calls: 2},
		{name: "503 three times gives up", script: []func(http.ResponseWriter){answer(503, "x"), answer(503, "x"), answer(503, "x")},
			kind: gateway.Retryable, reason: "provider_error", calls: 3},
		{name: "bad credentials", script: []func(http.ResponseWriter){answer(403, "Authorization failed for sendsms")}, kind: gateway.Final, reason: "unauthorized", calls: 1},
		{name: "not routable", script: []func(http.ResponseWriter){answer(403, "Not routable. Do not try again.")}, kind: gateway.Final, reason: "not_routable", calls: 1},
		{name: "rejected", script: []func(http.ResponseWriter){answer(400, "Number(s) has/have been denied by white- and/or black-lists.")}, kind: gateway.Final, reason: "rejected", calls: 1},
		{name: "a strange success answer is in doubt", script: []func(http.ResponseWriter){answer(202, "OK maybe")}, kind: gateway.Unknown, reason: "bad_response", calls: 1},
		{name: "timeout after writing is in doubt", script: []func(http.ResponseWriter){hang}, kind: gateway.Unknown, reason: "timeout", calls: 1},
		{name: "connection refused retried, then given back", url: refused, kind: gateway.Retryable, reason: "connection"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kannel := newSendSMS(t, tc.script...)
			u := kannel.URL
			if tc.url != "" {
				u = tc.url
			}
			f := newFixture(t, u, func(c *Config) { c.Timeout = 200 * time.Millisecond })
			id, err := f.ch.SendMessage(context.Background(), gateway.Outbound{Channel: gateway.SMS, To: "0912345678", Reply: gateway.Reply{Text: "Nhắc lịch"}})
			if n := len(kannel.requests()); n != tc.calls {
				t.Errorf("%d sendsms calls, want %d", n, tc.calls)
			}
			if tc.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if d, _ := f.ch.Delivery(context.Background(), id); d.Status != tc.status {
					t.Errorf("status %q, want %q", d.Status, tc.status)
				}
				return
			}
			se := gateway.SendErrorOf(err)
			if se == nil || se.Kind != tc.kind || se.Reason != tc.reason {
				t.Fatalf("err %v, want %s %s", err, tc.kind, tc.reason)
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	ok := Config{SendSMSURL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "u", Password: "p", From: "8079", Secret: testSecret, DLRURL: "http://127.0.0.1:8080/sms/kannel/dlr"}
	for want, edit := range map[string]func(*Config){
		"KANNEL_MO_SECRET":   func(c *Config) { c.Secret = "short" },
		"KANNEL_SENDSMS_URL": func(c *Config) { c.SendSMSURL = "127.0.0.1:13013" },
		"KANNEL_USERNAME":    func(c *Config) { c.Username = "" },
		"KANNEL_FROM":        func(c *Config) { c.From = "" },
		"KANNEL_DLR_URL":     func(c *Config) { c.DLRURL = "http://x/dlr?y=1" },
	} {
		cfg := ok
		edit(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error naming %s, got %v", want, err)
		}
	}
	in, err := New(Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Submit(context.Background(), sms.Message{To: testPhone, Text: "x"}); gateway.SendErrorOf(err).Reason != "not_configured" {
		t.Errorf("inbound-only Submit: %v", err)
	}
}
