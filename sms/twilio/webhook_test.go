package twilio

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/sms"
	"github.com/socialaid-vn/gateway/sms/smstest"
)

// TestTwilioPublishedSignature checks the channel against the example in Twilio's "Webhooks
// security" documentation (auth token 12345).
func TestTwilioPublishedSignature(t *testing.T) {
	form := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"},
	}
	const published = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	if got := smstest.Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form); got != published {
		t.Fatalf("test signer gives %s, Twilio published %s", got, published)
	}
	f := newFixture(t, func(c *Config) { c.AuthToken = "12345"; c.PublicBaseURL = "https://mycompany.com" })
	post := func(sig string) int {
		req := httptest.NewRequest(http.MethodPost, "/myapp.php?foo=1&bar=2", strings.NewReader(form.Encode()))
		req.Header.Set("X-Twilio-Signature", sig)
		rec := httptest.NewRecorder()
		f.inbound().ServeHTTP(rec, req)
		return rec.Code
	}
	// Accepted by the signature check; then refused as an SMS, because it is a voice payload.
	if code := post(published); code != http.StatusBadRequest {
		t.Errorf("published signature: status %d, want 400 (signature accepted, no MessageSid)", code)
	}
	if code := post("1/KCTR6DLpKmkAf8muzZqo1nDgQ="); code != http.StatusForbidden {
		t.Errorf("altered signature: status %d, want 403", code)
	}
	// Signed over the URL with its port (as Twilio sometimes does): the fast check refuses it,
	// twilio-go's validator accepts it.
	if code := post(smstest.Sign("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", form)); code != http.StatusBadRequest {
		t.Errorf("signature over the URL with its port: status %d, want 400 (accepted)", code)
	}
	if f.core.Count() != 0 {
		t.Error("core called for a non-SMS request")
	}
}

func TestInboundWebhook(t *testing.T) {
	f := newFixture(t, nil)
	h := f.inbound()
	valid := inboundForm("SM00000000000000000000000000000001", "+84912345667", "TT TB-2025-000123 4567")
	big := inboundForm("SM00000000000000000000000000000002", "+84912345667", strings.Repeat("a", MaxWebhookBody))
	cases := []struct {
		name   string
		req    func() *http.Request
		status int
		reply  string // expected <Message>, for 200
	}{
		{"valid keyword", func() *http.Request { return signedPost("/sms/twilio", valid) }, 200,
			"Da, y dinh: application_status. application_code=TB-2025-000123 id_last4=4567\nHD: Huong dan"},
		{"forged signature", func() *http.Request {
			req := signedPost("/sms/twilio", valid)
			req.Header.Set("X-Twilio-Signature", smstest.Sign("not-the-token", testBase+"/sms/twilio", valid))
			return req
		}, 403, ""},
		{"tampered body", func() *http.Request {
			req := signedPost("/sms/twilio", valid)
			tampered := inboundForm("SM00000000000000000000000000000001", "+84912345667", "HUY")
			return withBody(req, tampered.Encode())
		}, 403, ""},
		{"signed for another URL", func() *http.Request {
			req := signedPost("/sms/twilio/status", valid)
			req.URL.Path, req.RequestURI = "/sms/twilio", "/sms/twilio"
			return req
		}, 403, ""},
		{"no signature", func() *http.Request {
			req := signedPost("/sms/twilio", valid)
			req.Header.Del("X-Twilio-Signature")
			return req
		}, 403, ""},
		{"too large", func() *http.Request { return signedPost("/sms/twilio", big) }, 413, ""},
		{"missing From", func() *http.Request { return signedPost("/sms/twilio", without(valid, "From")) }, 400, ""},
		{"missing Body", func() *http.Request { return signedPost("/sms/twilio", without(valid, "Body")) }, 400, ""},
		{"missing MessageSid", func() *http.Request { return signedPost("/sms/twilio", without(valid, "MessageSid")) }, 400, ""},
		{"From not a phone", func() *http.Request {
			return signedPost("/sms/twilio", inboundForm("SM00000000000000000000000000000003", "VINAPHONE", "HD"))
		}, 400, ""},
		{"GET", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/sms/twilio", nil) }, 405, ""},
	}
	for _, tc := range cases {
		before := f.core.Count()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, tc.req())
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, rec.Code, tc.status, rec.Body)
			continue
		}
		if tc.status != 200 {
			if f.core.Count() != before {
				t.Errorf("%s: core called for a refused request", tc.name)
			}
			continue
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
		if got := smstest.TwiMLMessage(t, rec.Body.String()); got != tc.reply {
			t.Errorf("%s: reply %q, want %q", tc.name, got, tc.reply)
		}
	}
	in := f.core.Last()
	if in.Channel != gateway.SMS || in.SenderID != "+84912345667" || in.MessageID != "SM00000000000000000000000000000001" ||
		in.Intent != sms.IntentStatus || in.Text != "TT TB-2025-000123 4567" {
		t.Errorf("core got %+v", in)
	}
	// Logs: one line per inbound, masked phone, no body, no verification digits.
	logs := f.logs.String()
	for _, secret := range []string{"84912345667", "0912345667", "TB-2025-000123", "4567 "} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "+8491*****67") || !strings.Contains(logs, "intent=application_status") || !strings.Contains(logs, "segments=1") {
		t.Errorf("inbound log line missing fields:\n%s", logs)
	}
}

func withBody(req *http.Request, body string) *http.Request {
	r := httptest.NewRequest(req.Method, req.RequestURI, strings.NewReader(body))
	r.Header = req.Header
	return r
}

func without(form url.Values, key string) url.Values {
	out := url.Values{}
	for k, v := range form {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// TestReplayedMessageSid: Twilio delivering the same message again gets the same answer and the
// core runs once.
func TestReplayedMessageSid(t *testing.T) {
	f := newFixture(t, nil)
	form := inboundForm("SM00000000000000000000000000000010", "+84912345667", "DK Vu Phuc")
	var replies []string
	for i := 0; i < 3; i++ {
		rec := httptest.NewRecorder()
		f.inbound().ServeHTTP(rec, signedPost("/sms/twilio", form))
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		replies = append(replies, smstest.TwiMLMessage(t, rec.Body.String()))
	}
	if f.core.Count() != 1 {
		t.Errorf("core ran %d times for one MessageSid", f.core.Count())
	}
	if replies[0] == "" || replies[1] != replies[0] || replies[2] != replies[0] {
		t.Errorf("replies differ: %q", replies)
	}
	// A different MessageSid is a new message.
	rec := httptest.NewRecorder()
	f.inbound().ServeHTTP(rec, signedPost("/sms/twilio", inboundForm("SM00000000000000000000000000000011", "+84912345667", "DK Vu Phuc")))
	if f.core.Count() != 2 {
		t.Errorf("new MessageSid not processed")
	}
}

// TestConcurrentDuplicate: a duplicate arriving while the first is still being answered waits for
// that answer instead of running the core again.
func TestConcurrentDuplicate(t *testing.T) {
	f := newFixture(t, nil)
	f.core.Gate = make(chan struct{})
	f.core.Entered = make(chan struct{}, 2)
	form := inboundForm("SM00000000000000000000000000000020", "+84912345667", "LICH")
	results := make([]string, 2)
	var wg sync.WaitGroup
	serve := func(i int) {
		defer wg.Done()
		rec := httptest.NewRecorder()
		f.inbound().ServeHTTP(rec, signedPost("/sms/twilio", form))
		results[i] = smstest.TwiMLMessage(t, rec.Body.String())
	}
	wg.Add(1)
	go serve(0)
	<-f.core.Entered // the first request holds the MessageSid
	wg.Add(1)
	go serve(1)
	close(f.core.Gate)
	wg.Wait()
	if f.core.Count() != 1 {
		t.Errorf("core ran %d times", f.core.Count())
	}
	if results[0] == "" || results[0] != results[1] {
		t.Errorf("results %q", results)
	}
}

func TestCoreFailureApologisesAndForgets(t *testing.T) {
	f := newFixture(t, nil)
	f.core.SetFail(errors.New("redis down"))
	form := inboundForm("SM00000000000000000000000000000030", "+84912345667", "HD")
	rec := httptest.NewRecorder()
	f.inbound().ServeHTTP(rec, signedPost("/sms/twilio", form))
	got := smstest.TwiMLMessage(t, rec.Body.String())
	if rec.Code != 200 || !strings.HasPrefix(got, "Xin loi Ong/Ba") || !sms.IsGSM(got) {
		t.Errorf("status %d reply %q", rec.Code, got)
	}
	f.core.SetFail(nil)
	rec = httptest.NewRecorder()
	f.inbound().ServeHTTP(rec, signedPost("/sms/twilio", form))
	if got := smstest.TwiMLMessage(t, rec.Body.String()); !strings.Contains(got, "help") || f.core.Count() != 2 {
		t.Errorf("retry after failure not processed: %q (core ran %d)", got, f.core.Count())
	}
}

func TestOptOutType(t *testing.T) {
	f := newFixture(t, nil)
	post := func(sid, body, optOut string) string {
		form := inboundForm(sid, "+84912345667", body)
		if optOut != "" {
			form.Set("OptOutType", optOut)
		}
		rec := httptest.NewRecorder()
		f.inbound().ServeHTTP(rec, signedPost("/sms/twilio", form))
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		return smstest.TwiMLMessage(t, rec.Body.String())
	}
	if got := post("SM00000000000000000000000000000040", "STOP", "STOP"); got != "" {
		t.Errorf("reply to Twilio-handled STOP: %q", got)
	}
	if f.optouts.Reason(testPhone) != "opted_out" || f.core.Count() != 0 {
		t.Errorf("STOP: reason %q, core ran %d", f.optouts.Reason(testPhone), f.core.Count())
	}
	if got := post("SM00000000000000000000000000000041", "START", "START"); got != "" || f.optouts.Reason(testPhone) != "" {
		t.Errorf("START: reply %q, still stopped %q", got, f.optouts.Reason(testPhone))
	}
	// Without Advanced Opt-Out, HUY is a keyword the core answers (with its confirmation).
	if got := post("SM00000000000000000000000000000042", "huy", ""); !strings.Contains(got, "unsubscribe") {
		t.Errorf("HUY reply %q", got)
	}
	if got := post("SM00000000000000000000000000000043", "HELP", "HELP"); !strings.Contains(got, "help") {
		t.Errorf("HELP reply %q", got)
	}
}

func TestStatusCallback(t *testing.T) {
	type call struct{ sid, status, code string }
	var mu sync.Mutex
	var calls []call
	f := newFixture(t, nil)
	ch, err := sms.New(sms.Config{Outbound: f.tw, OnStatus: func(sid, status, code string) {
		mu.Lock()
		calls = append(calls, call{sid, status, code})
		mu.Unlock()
	}}, f.rdb, f.core, f.optouts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ch = ch
	h := f.status()
	post := func(form url.Values) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedPost("/sms/twilio/status", form))
		return rec.Code
	}
	status := func(sid, st, code string) url.Values {
		v := url.Values{"MessageSid": {sid}, "MessageStatus": {st}, "SmsStatus": {st}, "To": {"+84912345667"},
			"From": {"+84900000001"}, "AccountSid": {testSID}, "ApiVersion": {"2010-04-01"}}
		if code != "" {
			v.Set("ErrorCode", code)
		}
		return v
	}
	ctx := context.Background()
	if code := post(status("SM1", "sent", "")); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if code := post(status("SM1", "delivered", "")); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	post(status("SM1", "sent", "")) // late callback: must not move it back
	d, err := f.ch.Delivery(ctx, "SM1")
	if err != nil || d.Status != "delivered" || d.ErrorCode != "" || d.Updated.IsZero() {
		t.Errorf("Delivery = %+v, %v", d, err)
	}
	if code := post(status("SM2", "undelivered", "21610")); code != http.StatusNoContent {
		t.Fatalf("status %d", code)
	}
	if d, _ := f.ch.Delivery(ctx, "SM2"); d.Status != "undelivered" || d.ErrorCode != "21610" {
		t.Errorf("Delivery SM2 = %+v", d)
	}
	if f.optouts.Reason(testPhone) != "opted_out" {
		t.Error("21610 in a status callback did not opt the number out")
	}
	if _, err := f.ch.Delivery(ctx, "SM404"); !errors.Is(err, sms.ErrNotFound) {
		t.Errorf("unknown sid: %v", err)
	}
	// Refused: forged, incomplete.
	forged := signedPost("/sms/twilio/status", status("SM3", "delivered", ""))
	forged.Header.Set("X-Twilio-Signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, forged)
	if rec.Code != 403 {
		t.Errorf("forged status: %d", rec.Code)
	}
	if _, err := f.ch.Delivery(ctx, "SM3"); !errors.Is(err, sms.ErrNotFound) {
		t.Error("forged status recorded")
	}
	if code := post(without(status("SM4", "delivered", ""), "MessageSid")); code != 400 {
		t.Errorf("missing MessageSid: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []call{{"SM1", "sent", ""}, {"SM1", "delivered", ""}, {"SM1", "sent", ""}, {"SM2", "undelivered", "21610"}}
	if len(calls) != len(want) {
		t.Fatalf("OnStatus calls %v", calls)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("OnStatus call %d = %v, want %v", i, calls[i], want[i])
		}
	}
}

// TestChatAndWebhookAgree: the same messages give the same text through Reply (gateway chat)
// and through a signed webhook.
func TestChatAndWebhookAgree(t *testing.T) {
	f := newFixture(t, nil)
	msgs := []string{"TT TB-2025-000123 4567", "lich vu phuc", "HS NKT", "DK Đông Hưng", "HUY", "HD", "khi nao nhan tien", ""}
	for i, m := range msgs {
		chat, err := f.ch.Reply(context.Background(), "0912345667", m, "")
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		sid := "SM" + strings.Repeat("0", 31) + string(rune('a'+i))
		f.inbound().ServeHTTP(rec, signedPost("/sms/twilio", inboundForm(sid, "+84912345667", m)))
		if got := smstest.TwiMLMessage(t, rec.Body.String()); got != chat {
			t.Errorf("%q: webhook %q, chat %q", m, got, chat)
		}
	}
}

func TestNewValidates(t *testing.T) {
	ok := Config{AccountSID: testSID, AuthToken: testToken, From: "+84900000001", PublicBaseURL: testBase}
	cases := map[string]func(*Config){
		"go together":    func(c *Config) { c.AuthToken = "" },
		"TWILIO_FROM or": func(c *Config) { c.From = "" },
		"PUBLIC_BASE":    func(c *Config) { c.PublicBaseURL = "" },
		"TWILIO_FROM:":   func(c *Config) { c.From = "hello!" },
		"TWILIO_API_URL": func(c *Config) { c.APIURL = "ftp://x" },
	}
	for want, edit := range cases {
		cfg := ok
		edit(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error with %q, got %v", want, err)
		}
	}
	for _, from := range []string{"+84900000001", "0900000001", "UBND Tinh", "SoLDTBXH"} {
		cfg := ok
		cfg.From = from
		if _, err := New(cfg); err != nil {
			t.Errorf("TWILIO_FROM %q: %v", from, err)
		}
	}
}
